/*
 * kernels.h - the numeric kernels of the CLIP forward pass.
 *
 * Everything the transformer needs, and nothing else: linear layers
 * (y = x W^T + b with W in f32, f16, bf16 or q8_0), layer norm, the two
 * activations, softmax and multi-head attention, plus L2 normalisation.
 *
 * Each kernel has a plain scalar reference (CLIP_ISA_SCALAR) and fast paths
 * for AVX2+FMA+F16C and AVX-512, chosen at run time (one binary runs on any
 * x86-64; other CPUs use the scalar code). tests/unit/test_kernels.c checks
 * every fast path against the reference.
 *
 * Kernels that take a clip_kctx run their work in parallel on its pool and
 * use its per-worker scratch, so a forward pass allocates once per call and
 * any number of calls may run at once on one read-only model.
 */
#ifndef IRIS_CLIP_KERNELS_H
#define IRIS_CLIP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "clip/model.h"
#include "util/threadpool.h"

typedef enum clip_isa {
    CLIP_ISA_SCALAR = 0,
    CLIP_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
    CLIP_ISA_AVX512 = 2, /* AVX-512F */
} clip_isa;

/* Best ISA of this CPU, lowered by the environment variable IRIS_ISA
 * ("scalar", "avx2", "avx512") when set: a knob for tests and benchmarks. */
clip_isa clip_isa_best(void);
int clip_isa_supported(clip_isa isa);
const char *clip_isa_name(clip_isa isa);

/* Execution context of one encode call. */
struct clip_prof;

typedef struct clip_kctx {
    iris_pool *pool;     /* NULL: everything on the calling thread */
    clip_isa isa;
    float *work;         /* per-worker scratch, work_floats each */
    size_t work_floats;
    struct clip_prof *prof; /* NULL, or where the forward pass times its stages */
    int bf16;            /* linears of many rows multiply in bf16 on AMX (set only
                            where clip_amx_available(); work sized for it) */
    uint16_t *bf16_x;    /* with bf16: a linear's x converted, bf16_x_elems of room */
    size_t bf16_x_elems;
} clip_kctx;

/* bf16 compute: the CPU has AMX-BF16 (and AVX-512 BF16) and the OS granted
 * this process the tile state (Linux 5.16+). Asked once per process. */
int clip_amx_available(void);
/* Scratch floats per worker for bf16 linears with K up to max_k. */
size_t clip_amx_work_floats(int max_k);

/* Scratch a worker needs beyond the GEMM packing buffer for attention over
 * sequences of up to max_seq tokens. */
size_t clip_attention_work_floats(int max_seq);

/* Allocates per-worker scratch of at least extra_floats (plus what the GEMM
 * needs) for every worker of pool. */
int clip_kctx_init(clip_kctx *k, iris_pool *pool, clip_isa isa, size_t extra_floats);
void clip_kctx_free(clip_kctx *k);

/* Epilogue of a linear layer: what happens to r = x W^T + b. */
typedef enum clip_epilogue {
    CLIP_EPI_STORE = 0,      /* y = r */
    CLIP_EPI_ADD = 1,        /* y += r (residual connection) */
    CLIP_EPI_QUICK_GELU = 2, /* y = r * sigmoid(1.702 r) */
    CLIP_EPI_GELU = 3,       /* y = r * Phi(r), exact erf form */
} clip_epilogue;

/* One linear layer y[M, N] (op)= x[M, K] W[N, K]^T + b[N]. Row strides are
 * in floats. W may have more than two dims (a conv kernel): it is read as
 * [N, K] and must hold exactly N * K elements; q8_0 needs K % 32 == 0. */
typedef struct clip_linear {
    const float *x;
    int ldx;
    const clip_tensor *w;
    const clip_tensor *b; /* NULL or data == NULL: no bias */
    float *y;
    int ldy;
    int M, N, K;
    clip_epilogue epi;
} clip_linear;

/* Runs n independent linear layers as one parallel loop (q, k and v
 * projections share one). Shapes are the caller's to get right: the model
 * loader has checked every tensor against the config. */
void clip_linear_run(const clip_kctx *k, const clip_linear *lin, int n);
/* Layer norm of M rows of width n (eps as in the config). g and b are [n]
 * tensors of any dtype. x and y may be the same buffer. */
void clip_layernorm(const clip_kctx *k, const float *x, int ldx, float *y, int ldy, int M, int n,
                    const clip_tensor *g, const clip_tensor *b, float eps);

/* Multi-head self-attention over packed sequences. Row r of qkv holds the
 * token's query, key and value: [q (heads*dim) | k | v], stride ld. out gets
 * the heads' outputs side by side ([heads*dim] per row, stride ldo). The
 * sequences are rows [start[s], start[s] + len[s]); causal masks the future.
 * Scratch per worker: clip_attention_work_floats(max len). */
typedef struct clip_attention_args {
    const float *qkv;
    int ld;
    float *out;
    int ldo;
    const int *start, *len;
    int n_seq;
    int heads, head_dim;
    int causal;
} clip_attention_args;
void clip_attention(const clip_kctx *k, const clip_attention_args *a);

/* Single-row kernels, exposed for tests: softmax of scale * x in place;
 * an activation applied to n values in place (epi 2 or 3). */
void clip_softmax_row(clip_isa isa, float *x, int n, float scale);
void clip_activation(clip_isa isa, float *x, int n, clip_epilogue epi);

/* x /= ||x||_2 (a zero vector stays zero). */
void clip_l2_normalize(float *x, int n);

/* Column panels: a weight [N][K] stored again as ceil(N / 16) panels of 16
 * output columns, each [K][16] in the weight's own type (q8_0: per block of
 * 32 k, the 16 columns' f16 scales, then [32][16] int8), zeros past N.
 * Small-M linears then read one vector per k and column group, from one
 * sequential stream per panel, and keep outputs in vector lanes (no
 * horizontal sums); the GEMM packer copies panels without transposing.
 * The text tower gets them (text.c); kernels use them when present. */
#define CLIP_PANEL 16
/* Bytes of w's panels (w 2-D, or read as [ne[0]][rest]; q8_0 needs K % 32 == 0). */
size_t clip_panels_bytes(const clip_tensor *w);
/* Writes w's panels to dst (clip_panels_bytes(w) bytes). */
void clip_panels_fill(const clip_tensor *w, void *dst);

/* Element conversion: n elements of t starting at element `first`, to f32.
 * For q8_0 any range works (blocks are located per element). */
void clip_tensor_read_f32(const clip_tensor *t, int64_t first, int64_t n, float *dst);
/* Bytes of n elements of a dtype (n a multiple of 32 for q8_0). */
size_t clip_dtype_bytes(clip_dtype type, int64_t n);
float clip_f16_to_f32(uint16_t h);
float clip_bf16_to_f32(uint16_t h);

#endif
