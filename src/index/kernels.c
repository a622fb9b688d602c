/*
 * kernels.c - scalar, AVX2 and AVX-512 versions of the vector-search kernels
 * (see kernels.h), and the run-time choice between them.
 *
 * int8: codes are signed, in [-127, 127]. AVX-512 VNNI only multiplies
 * unsigned by signed bytes (vpdpbusd), so a is flipped to a + 128 (xor 0x80)
 * and the excess 128 * sum(b) is computed by a second vpdpbusd with a vector
 * of 128s and subtracted; the result is exact. AVX2 widens to int16 and uses
 * vpmaddwd, also exact. So every level returns bit-identical int8 results;
 * float kernels differ only by summation order.
 */
#include "index/kernels.h"

#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ half floats */

float ann_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf / nan */
    } else if (exp) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (!man) {
        bits = sign;
    } else { /* subnormal: normalise */
        exp = 113;
        while (!(man & 0x400)) { man <<= 1; exp--; }
        bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ann_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) /* inf, or nan kept quiet with its top payload bits */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) { /* subnormal or zero: shift the implicit bit in, then round */
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; /* may carry into inf: right */
    return (uint16_t)(sign | h);
}

/* ----------------------------------------------------------------- scalar */

static float dot_f32_scalar(const float *a, const float *b, size_t n)
{
    float s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) s[j] += a[i + j] * b[i + j];
    for (; i < n; i++) s[0] += a[i] * b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static float dot_f16_scalar(const float *a, const uint16_t *b, size_t n)
{
    float s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * ann_f16_to_f32(b[i]);
    return s;
}

static int32_t dot_i8_scalar(const int8_t *a, const int8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static void dot_i8_rows_scalar(const int8_t *q, const int8_t *const *rows, size_t n_rows, size_t n,
                               int32_t *out)
{
    for (size_t i = 0; i < n_rows; i++) out[i] = dot_i8_scalar(q, rows[i], n);
}

static uint32_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

static uint32_t hamming_scalar(const uint64_t *a, const uint64_t *b, size_t nw)
{
    uint32_t d = 0;
    for (size_t i = 0; i < nw; i++) d += popcount64(a[i] ^ b[i]);
    return d;
}

static void f32_to_f16_scalar(const float *in, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = ann_f32_to_f16(in[i]);
}

/* ------------------------------------------------------------------- AVX2 */

#define AVX2 __attribute__((target("avx2,fma,f16c,popcnt")))

AVX2 static float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static float dot_f32_avx2(const float *a, const float *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

AVX2 static float dot_f16_avx2(const float *a, const uint16_t *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8)));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), b0, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), b1, s1);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * ann_f16_to_f32(b[i]);
    return s;
}

AVX2 static int32_t dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    int32_t r = _mm_cvtsi128_si32(s);
    for (; i < n; i++) r += (int32_t)a[i] * b[i];
    return r;
}

AVX2 static void dot_i8_rows_avx2(const int8_t *q, const int8_t *const *rows, size_t n_rows,
                                  size_t n, int32_t *out)
{
    for (size_t i = 0; i < n_rows; i++) out[i] = dot_i8_avx2(q, rows[i], n);
}

AVX2 static uint32_t hamming_popcnt(const uint64_t *a, const uint64_t *b, size_t nw)
{
    uint64_t d = 0;
    for (size_t i = 0; i < nw; i++) d += (uint64_t)_mm_popcnt_u64(a[i] ^ b[i]);
    return (uint32_t)d;
}

AVX2 static void f32_to_f16_avx2(const float *in, uint16_t *out, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) out[i] = ann_f32_to_f16(in[i]);
}

/* ---------------------------------------------------------------- AVX-512 */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

AVX512 static float dot_f32_avx512(const float *a, const float *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

AVX512 static float dot_f16_avx512(const float *a, const uint16_t *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 b0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(b + i)));
        __m512 b1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(b + i + 16)));
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), b0, s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), b1, s1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * ann_f16_to_f32(b[i]);
    return s;
}

AVX512 static int32_t dot_i8_avx512(const int8_t *a, const int8_t *b, size_t n)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i acc = _mm512_setzero_si512(), excess = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i x = _mm512_xor_si512(_mm512_loadu_si512(a + i), flip); /* a + 128, unsigned */
        __m512i y = _mm512_loadu_si512(b + i);
        acc = _mm512_dpbusd_epi32(acc, x, y);
        excess = _mm512_dpbusd_epi32(excess, flip, y); /* 128 * b */
    }
    int32_t r = _mm512_reduce_add_epi32(_mm512_sub_epi32(acc, excess));
    for (; i < n; i++) r += (int32_t)a[i] * b[i];
    return r;
}

/* The scan's kernel. Here the row is the unsigned operand: its codes are
 * flipped (code + 128) and the excess 128 * sum(q) is the same for every
 * row, so each 64 bytes of a row cost one load, one xor and one vpdpbusd.
 * Four rows share each load of the query; their four accumulator chains
 * overlap the instruction's latency. */
AVX512 static void dot_i8_rows_avx512(const int8_t *q, const int8_t *const *rows, size_t n_rows,
                                    size_t n, int32_t *out)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    size_t nv = n / 64 * 64, i = 0;
    __m512i qs = _mm512_setzero_si512();
    for (size_t d = 0; d < nv; d += 64) qs = _mm512_dpbusd_epi32(qs, flip, _mm512_loadu_si512(q + d));
    int32_t excess = _mm512_reduce_add_epi32(qs); /* 128 * sum(q[0 .. nv)) */
    for (; i + 4 <= n_rows; i += 4) {
        const int8_t *r0 = rows[i], *r1 = rows[i + 1], *r2 = rows[i + 2], *r3 = rows[i + 3];
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t d = 0; d < nv; d += 64) {
            __m512i qv = _mm512_loadu_si512(q + d);
            a0 = _mm512_dpbusd_epi32(a0, _mm512_xor_si512(_mm512_loadu_si512(r0 + d), flip), qv);
            a1 = _mm512_dpbusd_epi32(a1, _mm512_xor_si512(_mm512_loadu_si512(r1 + d), flip), qv);
            a2 = _mm512_dpbusd_epi32(a2, _mm512_xor_si512(_mm512_loadu_si512(r2 + d), flip), qv);
            a3 = _mm512_dpbusd_epi32(a3, _mm512_xor_si512(_mm512_loadu_si512(r3 + d), flip), qv);
        }
        out[i] = _mm512_reduce_add_epi32(a0) - excess;
        out[i + 1] = _mm512_reduce_add_epi32(a1) - excess;
        out[i + 2] = _mm512_reduce_add_epi32(a2) - excess;
        out[i + 3] = _mm512_reduce_add_epi32(a3) - excess;
        for (size_t d = nv; d < n; d++)
            for (int j = 0; j < 4; j++) out[i + j] += (int32_t)q[d] * rows[i + j][d];
    }
    for (; i < n_rows; i++) out[i] = dot_i8_avx512(q, rows[i], n);
}

__attribute__((target("avx512f,avx512vpopcntdq,popcnt")))
static uint32_t hamming_avx512(const uint64_t *a, const uint64_t *b, size_t nw)
{
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= nw; i += 8) {
        __m512i x = _mm512_xor_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    uint64_t d = (uint64_t)_mm512_reduce_add_epi64(acc);
    for (; i < nw; i++) d += (uint64_t)_mm_popcnt_u64(a[i] ^ b[i]);
    return (uint32_t)d;
}

/* --------------------------------------------------------------- dispatch */

static ann_kernels levels[3] = {
    {ANN_SIMD_SCALAR, "scalar", dot_f32_scalar, dot_f16_scalar, dot_i8_scalar, dot_i8_rows_scalar,
     hamming_scalar, f32_to_f16_scalar},
    {ANN_SIMD_AVX2, "avx2", dot_f32_avx2, dot_f16_avx2, dot_i8_avx2, dot_i8_rows_avx2,
     hamming_popcnt, f32_to_f16_avx2},
    {ANN_SIMD_AVX512, "avx512", dot_f32_avx512, dot_f16_avx512, dot_i8_avx512, dot_i8_rows_avx512,
     hamming_popcnt, f32_to_f16_avx2},
};
static int cpu_level, best_level;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

static void detect(void)
{
    __builtin_cpu_init();
    int lv = ANN_SIMD_SCALAR;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("popcnt") && has_f16c()) {
        lv = ANN_SIMD_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
            lv = ANN_SIMD_AVX512;
    }
    if (lv == ANN_SIMD_AVX512 && __builtin_cpu_supports("avx512vpopcntdq"))
        levels[ANN_SIMD_AVX512].hamming = hamming_avx512;
    cpu_level = best_level = lv;
    const char *cap = getenv("IRIS_SIMD");
    if (cap && !strcmp(cap, "scalar")) best_level = ANN_SIMD_SCALAR;
    else if (cap && !strcmp(cap, "avx2") && lv > ANN_SIMD_AVX2) best_level = ANN_SIMD_AVX2;
}

const ann_kernels *ann_kernels_best(void)
{
    pthread_once(&once, detect);
    return &levels[best_level];
}

const ann_kernels *ann_kernels_at(int level)
{
    pthread_once(&once, detect);
    if (level < 0 || level > cpu_level) return NULL;
    return &levels[level];
}
