/*
 * kernels_avx512.c - the SIMD kernels (kernels_simd.inc) for AVX-512F:
 * 16 lanes, a 12 x 32 micro-kernel (24 accumulators, leaving room for the
 * B loads and the broadcast); and the bf16 GEMM on AMX tiles. Compiled with
 * target attributes, never with global -m flags: kernels.c calls it only
 * where the CPU has AVX-512F (and AMX-BF16 granted by the OS for the latter).
 */
#include "clip/kernels_simd.h"

#ifdef CLIP_HAVE_X86

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx512f,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,fma,f16c")
#endif

typedef __m512 V;
#define VL 16
#define MR 12
#define DOT_MR 8 /* small-M kernel: 8 x 3 accumulators, 3 W vectors, 1 x vector: */
#define DOT_NR 3 /* an 8-token query in one pass over the weights */
#define PAN_MR 8 /* panel kernel: 8 rows x 3 panels = 24 accumulators, 3 W vectors */
#define PAN_NP 3

static inline __mmask16 lane_mask(int n) { return n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1); }

#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VLOADN(p, n) _mm512_maskz_loadu_ps(lane_mask(n), (p))
#define VSTOREN(p, v, n) _mm512_mask_storeu_ps((p), lane_mask(n), (v))
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VMAX _mm512_max_ps
#define VMIN _mm512_min_ps
#define VUNPACKLO _mm512_unpacklo_ps
#define VUNPACKHI _mm512_unpackhi_ps
#define VSHUFFLE _mm512_shuffle_ps
#define VFMA _mm512_fmadd_ps
#define VHSUM _mm512_reduce_add_ps
#define VHMAX _mm512_reduce_max_ps
#define VROUND(x) _mm512_roundscale_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2I(x)                                                                              \
    _mm512_castsi512_ps(_mm512_slli_epi32(                                                     \
        _mm512_add_epi32(_mm512_cvtps_epi32(x), _mm512_set1_epi32(127)), 23))
#define VABS(x) _mm512_castsi512_ps(_mm512_and_epi32(_mm512_castps_si512(x), \
                                                     _mm512_set1_epi32(0x7FFFFFFF)))
#define VCOPYSIGN(m, s)                                                                        \
    _mm512_castsi512_ps(_mm512_or_epi32(                                                       \
        _mm512_castps_si512(VABS(m)),                                                          \
        _mm512_and_epi32(_mm512_castps_si512(s), _mm512_set1_epi32((int)0x80000000u))))
#define VLOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define VLOAD_BF16(p)                                                                          \
    _mm512_castsi512_ps(_mm512_slli_epi32(                                                     \
        _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
#define VLOAD_I8(p)                                                                            \
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))

/* In-register transpose of a 16 x 16 tile in four shuffle rounds. */
static inline void transpose_block(V r[16])
{
    V t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* u[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j */
    for (int j = 0; j < 4; j++) {
        V v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        V w0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        V v1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        V w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_f32x4(v0, v1, 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(v0, v1, 0xDD);
        r[4 + j] = _mm512_shuffle_f32x4(w0, w1, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(w0, w1, 0xDD);
    }
}

/* The cross-lane end of hsum16 (kernels_simd.inc): u[i]'s 128-bit lane L
 * holds partial sums of a[4i .. 4i+3]; out[i] gets a[i]'s total. */
static inline void hsum_lanes(const V u[4], float out[16])
{
    V w0 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x44), _mm512_shuffle_f32x4(u[0], u[1], 0xEE));
    V w1 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x44), _mm512_shuffle_f32x4(u[2], u[3], 0xEE));
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_shuffle_f32x4(w0, w1, 0x88),
                                        _mm512_shuffle_f32x4(w0, w1, 0xDD)));
}

#define SIMD_OPS clip_ops_avx512
#include "clip/kernels_simd.inc"

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* The AMX code below also needs the tile and bf16 conversion extensions. */
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512bf16,fma,f16c,amx-tile,amx-bf16"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512bf16,fma,f16c,amx-tile,amx-bf16")
#endif

/* ------------------------------------------------------------ AMX (bf16) */

/* The bf16 GEMM on AMX tiles, for models run with bf16 compute
 * (iris_model_opts.bf16): x and W are rounded to bf16 (round to nearest
 * even), products of bf16 pairs are exact in f32 and summed in f32 by the
 * tile unit. x is converted once per linear (clip_amx_convert_rows, all
 * column tasks read it). A task's columns (at most 128) are packed once
 * into the tile unit's B layout, [k / 2][16 columns][2]: one 1 KiB tile per
 * 32 k and 16 columns, 16 W rows x 32 k converted and put through the same
 * 16 x 16 (32-bit) transpose as the f32 packer. Rows go 32 at a time: 2 x 2
 * output tiles (32 x 32) accumulate over all of K in the tile registers,
 * then go through a small f32 buffer to the epilogue (bias, residual,
 * activation), which writes y. */

typedef struct amx_tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_tilecfg;

size_t clip_amx_work_bytes(int K)
{
    size_t kp = ((size_t)K + 31) / 32 * 32;
    return 128 * kp * 2 + 32 * 32 * 4 + 64;
}

void clip_amx_convert_rows(const float *x, int ldx, int M, int K, int m0, int m1, uint16_t *xa)
{
    int kp = (K + 31) / 32 * 32;
    for (int m = m0; m < m1; m++) {
        uint16_t *d = xa + (size_t)m * kp;
        const float *s = x + (size_t)(m < M ? m : 0) * ldx;
        for (int k = 0; k < kp; k += 32) {
            int n = m < M ? K - k : 0;
            V lo = VLOADN(s + k, n < 0 ? 0 : n), hi = VLOADN(s + k + 16, n < 16 ? 0 : n - 16);
            _mm512_storeu_si512(d + k, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

/* 16 rows (x 32 k) as one B tile: pairs of k in each 32-bit lane. */
static ALWAYS_INLINE void amx_pack_tile(const clip_dtype t, const char *const row[16],
                                        int rows, int64_t k, int kv, uint16_t *dst)
{
    V r[16];
    for (int j = 0; j < 16; j++) {
        V lo = VZERO(), hi = VZERO();
        if (j < rows && kv >= 32) {
            lo = load_at(t, row[j], k);
            hi = load_at(t, row[j], k + 16);
        } else if (j < rows) { /* the last, partial 32 k: element by element */
            float tmp[32] = {0};
            for (int i = 0; i < kv; i++) tmp[i] = clip_read1(row[j], t, k + i);
            lo = VLOAD(tmp);
            hi = VLOAD(tmp + 16);
        }
        r[j] = _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
    transpose_block(r);
    for (int j = 0; j < 16; j++) VSTORE((float *)(void *)(dst + 32 * j), r[j]);
}

static ALWAYS_INLINE void amx_pack_t(const clip_dtype t, const clip_bsrc *b, int K, int n0,
                                     int ncols, uint16_t *bp)
{
    int kt = (K + 31) / 32;
    for (int nt = 0; nt * 16 < ncols; nt++) {
        const char *row[16];
        int rows = ncols - nt * 16 < 16 ? ncols - nt * 16 : 16;
        for (int j = 0; j < 16; j++) row[j] = row_at(b, n0 + nt * 16 + (j < rows ? j : 0));
        for (int kb = 0; kb < kt; kb++) {
            int kv = K - kb * 32 < 32 ? K - kb * 32 : 32;
            amx_pack_tile(t, row, rows, (int64_t)kb * 32, kv, bp + ((size_t)nt * kt + kb) * 512);
        }
    }
}

/* y (rows x cols, at most 32 x 32) = epilogue(c + bias). */
static void amx_epilogue(const float *c, const float *bias, float *y, int ldy, int rows,
                         int cols, clip_epilogue epi)
{
    for (int i = 0; i < rows; i++)
        for (int v = 0; v * VL < cols; v++) {
            int n = cols - v * VL < VL ? cols - v * VL : VL;
            float *d = y + (size_t)i * ldy + v * VL;
            V r = VLOAD(c + i * 32 + v * VL);
            if (bias) r = VADD(r, VLOADN(bias + v * VL, n));
            if (epi == CLIP_EPI_ADD) r = VADD(VLOADN(d, n), r);
            else if (epi != CLIP_EPI_STORE) r = vact(r, epi);
            VSTOREN(d, r, n);
        }
}

void clip_amx_gemm(const clip_bsrc *b, int K, const uint16_t *xa, const float *bias, float *y,
                   int ldy, int n0, int ncols, int m0, int m1, clip_epilogue epi, void *work)
{
    int kp = (K + 31) / 32 * 32, kt = kp / 32;
    uint16_t *bp = (uint16_t *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    float *cbuf = (float *)(void *)(bp + (size_t)128 * kp);
    DTYPE_DISPATCH(b->type, amx_pack_t(t, b, K, n0, ncols, bp))

    amx_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) cfg.rows[i] = 16, cfg.colsb[i] = 64;
    _tile_loadconfig(&cfg);
    for (int m = m0; m < m1; m += 32) { /* xa holds whole blocks of 32 rows */
        int rows = m1 - m < 32 ? m1 - m : 32;
        const uint16_t *a = xa + (size_t)m * kp;
        for (int c = 0; c < ncols; c += 32) {
            const uint16_t *b0 = bp + (size_t)(c / 16) * kt * 512;
            const uint16_t *b1 = c + 16 < ncols ? b0 + (size_t)kt * 512 : b0;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int kb = 0; kb < kt; kb++) {
                _tile_loadd(4, a + kb * 32, kp * 2);
                _tile_loadd(5, a + (size_t)16 * kp + kb * 32, kp * 2);
                _tile_loadd(6, b0 + (size_t)kb * 512, 64);
                _tile_loadd(7, b1 + (size_t)kb * 512, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            _tile_stored(0, cbuf, 128);
            _tile_stored(1, cbuf + 16, 128);
            _tile_stored(2, cbuf + 16 * 32, 128);
            _tile_stored(3, cbuf + 16 * 32 + 16, 128);
            amx_epilogue(cbuf, bias ? bias + c : NULL, y + (size_t)m * ldy + n0 + c, ldy, rows,
                         ncols - c < 32 ? ncols - c : 32, epi);
        }
    }
    _tile_release();
}

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* CLIP_HAVE_X86 */
