/*
 * kernels_simd.h - the interface between kernels.c (drivers, threading,
 * scalar reference) and the per-ISA SIMD code (kernels_avx2.c,
 * kernels_avx512.c, both instantiated from kernels_simd.inc).
 *
 * A SIMD backend supplies a GEMM micro-kernel with its panel packer and the
 * row kernels; kernels.c owns the loops around them. Keeping the interface
 * this small is what lets one template serve both vector widths.
 */
#ifndef IRIS_CLIP_KERNELS_SIMD_H
#define IRIS_CLIP_KERNELS_SIMD_H

#include <stdint.h>

#include "clip/kernels.h"

/* The B operand of a GEMM C = A B, read panel by panel. */
typedef struct clip_bsrc {
    const void *data;
    clip_dtype type;
    int64_t ld; /* elements between consecutive stored rows */
    int kn;     /* 0: stored [N][K] (weights, keys); 1: stored [K][N] (values, f32) */
    const void *panels; /* NULL, or the weight's column panels (kn 0, ld = K) */
} clip_bsrc;

/* How the micro-kernel starts its accumulators. */
enum {
    CLIP_UKR_ROW = 0,       /* acc = row (bias or zeros), broadcast down */
    CLIP_UKR_C = 1,         /* acc = C (continue a previous K block) */
    CLIP_UKR_C_PLUS_ROW = 2 /* acc = C + row (residual plus bias) */
};

typedef struct clip_simd_ops {
    int nr; /* panel width: columns per micro-kernel call */
    int mr; /* most rows per micro-kernel call */
    /* dst[kc][nr] = B[k0 .. k0+kc) x [n0 .. n0+ncols), converted to f32;
     * columns past ncols are zero. */
    void (*pack)(const clip_bsrc *b, int n0, int ncols, int k0, int kc, float *dst);
    /* C[mr][ncols] (stride ldc) = init + A[mr][kc] (stride lda) * Bp[kc][nr] */
    void (*ukr)(int mr, int kc, const float *a, int lda, const float *bp, float *c, int ldc,
                int ncols, const float *row, int mode);
    /* The small-M GEMM: C[m0, m1) x [n0, n0 + ncols) = epilogue(bias + A B^T)
     * without packing; B stored [N][K], K % (nr / 2) == 0. */
    void (*dot)(const clip_bsrc *b, int K, const float *a, int lda, const float *bias,
                float *c, int ldc, int n0, int ncols, int m0, int m1, clip_epilogue epi);
    /* The same from b's column panels (n0 % CLIP_PANEL == 0, bias NULL or
     * padded to whole panels); accumulates like the GEMM, so the results
     * are bit-identical to it. */
    void (*panel_dot)(const clip_bsrc *b, int K, const float *a, int lda, const float *bias,
                      float *c, int ldc, int n0, int ncols, int m0, int m1, clip_epilogue epi);
    void (*activation)(float *x, int n, clip_epilogue epi);
    void (*softmax)(float *x, int n, float scale);
    void (*layernorm)(const float *x, float *y, int n, const float *g, const float *b, float eps);
} clip_simd_ops;

#if defined(__x86_64__) || defined(__i386__)
#define CLIP_HAVE_X86 1
extern const clip_simd_ops clip_ops_avx2;
extern const clip_simd_ops clip_ops_avx512;

/* The bf16 GEMM on AMX tiles (kernels_avx512.c), only where
 * clip_amx_available(). x is first converted once per linear:
 * clip_amx_convert_rows writes rows [m0, m1) of xa, [rows][K rounded up to
 * 32] bf16, zero past K and for rows >= M (xa holds whole blocks of 32
 * rows). clip_amx_gemm then has the contract of a linear task (y[m0, m1) x
 * [n0, n0 + ncols), ncols <= 128, m0 % 32 == 0, bias indexed from n0) on B
 * stored [N][K] rows (not panels); work: clip_amx_work_bytes(K) bytes. */
size_t clip_amx_work_bytes(int K);
void clip_amx_convert_rows(const float *x, int ldx, int M, int K, int m0, int m1, uint16_t *xa);
void clip_amx_gemm(const clip_bsrc *b, int K, const uint16_t *xa, const float *bias, float *y,
                   int ldy, int n0, int ncols, int m0, int m1, clip_epilogue epi, void *work);
#endif

/* Element i of a stored row-major matrix as f32 (any dtype). */
float clip_read1(const void *data, clip_dtype type, int64_t i);

/* Scalar reference row kernels, also the backends' tail handling. */
float clip_quick_gelu_ref(float x);
float clip_gelu_ref(float x);

#endif
