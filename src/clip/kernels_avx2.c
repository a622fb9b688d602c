/*
 * kernels_avx2.c - the SIMD kernels (kernels_simd.inc) for AVX2 + FMA +
 * F16C: 8 lanes, a 6 x 16 micro-kernel (12 accumulators of the 16 ymm
 * registers). Compiled with target attributes, never with global -m flags:
 * kernels.c calls it only where the CPU has these extensions.
 */
#include "clip/kernels_simd.h"

#ifdef CLIP_HAVE_X86

#include <immintrin.h>
#include <math.h>
#include <string.h>

#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

typedef __m256 V;
#define VL 8
#define MR 6
#define DOT_MR 4 /* small-M kernel: 4 x 2 accumulators, 2 W vectors, 1 x vector */
#define DOT_NR 2
#define PAN_MR 4 /* panel kernel: 4 rows x 1 panel (2 vectors) = 8 accumulators */
#define PAN_NP 1

static inline __m256i lane_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VLOADN(p, n) ((n) >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps((p), lane_mask(n)))
#define VSTOREN(p, v, n)                                                                       \
    do {                                                                                       \
        if ((n) >= 8) _mm256_storeu_ps((p), (v));                                              \
        else _mm256_maskstore_ps((p), lane_mask(n), (v));                                      \
    } while (0)
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VMAX _mm256_max_ps
#define VMIN _mm256_min_ps
#define VUNPACKLO _mm256_unpacklo_ps
#define VUNPACKHI _mm256_unpackhi_ps
#define VSHUFFLE _mm256_shuffle_ps
#define VFMA _mm256_fmadd_ps
#define VHSUM hsum
#define VHMAX hmax
#define VROUND(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2I(x)                                                                              \
    _mm256_castsi256_ps(_mm256_slli_epi32(                                                     \
        _mm256_add_epi32(_mm256_cvtps_epi32(x), _mm256_set1_epi32(127)), 23))
#define VABS(x) _mm256_and_ps((x), _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)))
#define VCOPYSIGN(m, s)                                                                        \
    _mm256_or_ps(VABS(m), _mm256_and_ps((s), _mm256_set1_ps(-0.0f)))
#define VLOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define VLOAD_BF16(p)                                                                          \
    _mm256_castsi256_ps(_mm256_slli_epi32(                                                     \
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define VLOAD_I8(p)                                                                            \
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))

/* In-register transpose of an 8 x 8 tile in three shuffle rounds. */
static inline void transpose_block(V r[8])
{
    V t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* u[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j */
    for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
        r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
    }
}

/* The cross-lane end of hsum16 (kernels_simd.inc): u[i]'s 128-bit lane L
 * holds partial sums of a[4i .. 4i+3]; out[i] gets a[i]'s total. */
static inline void hsum_lanes(const V u[4], float out[16])
{
    for (int i = 0; i < 2; i++)
        _mm256_storeu_ps(out + 8 * i,
                         _mm256_add_ps(_mm256_permute2f128_ps(u[2 * i], u[2 * i + 1], 0x20),
                                       _mm256_permute2f128_ps(u[2 * i], u[2 * i + 1], 0x31)));
}

#define SIMD_OPS clip_ops_avx2
#include "clip/kernels_simd.inc"

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* CLIP_HAVE_X86 */
