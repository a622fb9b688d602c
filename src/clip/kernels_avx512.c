/*
 * kernels_avx512.c - the SIMD kernels (kernels_simd.inc) for AVX-512F:
 * 16 lanes, an 8 x 32 micro-kernel (16 accumulators, leaving room for the
 * B loads and the broadcast). Compiled with target attributes, never with
 * global -m flags: kernels.c calls it only where the CPU has AVX-512F.
 */
#include "clip/kernels_simd.h"

#ifdef CLIP_HAVE_X86

#include <immintrin.h>
#include <math.h>
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

#endif /* CLIP_HAVE_X86 */
