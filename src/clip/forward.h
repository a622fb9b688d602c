/*
 * forward.h - the CLIP forward pass over a loaded model (internal).
 *
 * vision.c and text.c turn inputs into each tower's token rows and pool
 * them; transformer.c runs the layer stack both towers share; encode.c holds
 * the public iris_encode_* entry points. Everything here reads the model
 * and writes only per-call memory, so calls may run concurrently. It
 * trusts the loader's contract (model.c): every tensor has the shape the
 * config implies and the config is within sane limits.
 *
 * Rows of a batch are packed: the sequences of all inputs of a chunk are
 * stacked into one [rows, width] matrix, so every linear layer is one GEMM
 * over the whole chunk, and only attention looks at sequence boundaries.
 */
#ifndef IRIS_CLIP_FORWARD_H
#define IRIS_CLIP_FORWARD_H

#include <stdint.h>

#include "clip/kernels.h"
#include "clip/model.h"

/* Activation memory per call is kept under this many bytes by encoding
 * large batches in chunks. */
#define CLIP_CHUNK_BYTES ((size_t)96 << 20)
#define CLIP_MAX_CHUNK 32 /* images per chunk at most: bigger gains nothing */
/* Token rows per chunk at most: every GEMM streams its input once per
 * 128-column block, so rows past a few MiB of activations cost memory
 * traffic (ViT-B/16 at 27 images a chunk: 12% more CPU per image). */
#define CLIP_CHUNK_ROWS 2048

/* Stages of the forward pass, as a profile sees them (benchmarks). */
typedef enum clip_stage {
    CLIP_ST_PATCH,  /* im2col + the patch-embedding GEMM */
    CLIP_ST_EMBED,  /* class/position embeddings (text: token + position) */
    CLIP_ST_NORM,   /* layer norms (pre, LN1, LN2) */
    CLIP_ST_QKV,    /* the q, k, v projections */
    CLIP_ST_ATTN,   /* scores, softmax, weighted values */
    CLIP_ST_OUT,    /* the attention output projection (+ residual) */
    CLIP_ST_FC1,    /* fc1 + its activation (fused) */
    CLIP_ST_FC2,    /* fc2 (+ residual) */
    CLIP_ST_POOL,   /* final norm, projection, L2 normalisation */
    CLIP_ST_COUNT
} clip_stage;

/* Process CPU seconds and floating-point operations (multiply-adds count
 * two) per stage, summed over calls. Timing is process CPU time, so a
 * one-thread profile is exact and immune to waiting for a core. */
typedef struct clip_prof {
    double sec[CLIP_ST_COUNT], flop[CLIP_ST_COUNT];
    double last; /* the previous mark */
} clip_prof;
extern const char *const clip_stage_names[CLIP_ST_COUNT];
/* Starts the clock of a profile (no-op without one). */
void clip_prof_start(const clip_kctx *k);
/* Charges the time since the previous mark, and flop, to stage s. */
void clip_prof_mark(const clip_kctx *k, clip_stage s, double flop);

/* How to run one call. */
typedef struct clip_run {
    int n_threads;      /* 0 = all cores */
    clip_isa isa;
    size_t chunk_bytes; /* activation budget; 0 = CLIP_CHUNK_BYTES */
    iris_pool *pool;    /* a caller's pool to use instead of making one, or NULL */
    clip_prof *prof;    /* NULL, or a profile to add this call's stages to */
    int bf16;           /* image linears in bf16 on AMX where available (model opts) */
} clip_run;

/* The model's thread count and this CPU's best ISA. */
clip_run clip_run_default(const iris_model *m);

/* Per-call execution state: thread pool and kernel scratch. */
typedef struct clip_exec {
    iris_pool *pool, *owned; /* owned: the pool this call made, if any */
    clip_kctx k;
} clip_exec;
/* bf16_rows, bf16_max_k: the most rows and the largest K of the tower's
 * linears when run->bf16 may apply (they size the AMX buffers); 0 rows to
 * compute everything in f32. */
int clip_exec_init(clip_exec *e, const clip_run *run, int max_seq, int bf16_rows, int bf16_max_k);
void clip_exec_free(clip_exec *e);

/* Activation buffers of one chunk of `rows` token rows. */
typedef struct clip_acts {
    float *h;   /* [rows, width]   the residual stream */
    float *a;   /* [rows, width]   layer-norm output, then attention output */
    float *big; /* [rows, big_ld]  q|k|v, then the MLP hidden layer */
    int big_ld;
} clip_acts;
/* big_ld = max(3 * width, mlp, extra_cols). */
int clip_acts_init(clip_acts *s, const clip_tower_config *t, int rows, int extra_cols);
void clip_acts_free(clip_acts *s);
/* Token rows per chunk that fit run's memory budget. */
int clip_rows_budget(const clip_run *run, const clip_tower_config *t, int extra_cols);

/* The encoder layers over M packed rows (sequences [start[i], +len[i])). */
void clip_transformer(const clip_kctx *k, const clip_tower_config *t, const clip_layer *layers,
                      clip_acts *s, int M, const int *start, const int *len, int n_seq, int causal);

/* out[i] = normalize(proj(LN(rows[i]))): n rows of width (stride ld),
 * proj [proj_dim, width]; tmp holds n * width floats. */
void clip_pool_project(const clip_kctx *k, const clip_tower_config *t, const float *rows,
                       int ld, int n, const clip_tensor *ln_w, const clip_tensor *ln_b,
                       const clip_tensor *proj, int proj_dim, float *tmp, float *out);

/* Vision tower: n pixel tensors [channels, size, size] -> n x proj_dim. */
int clip_vision_encode(const iris_model *m, const clip_run *run, const float *pixels, int n,
                       float *out);

/* Text tower from token ids. Each sequence is pooled at its first end token
 * (cfg.eos_id), as transformers does; a sequence without one pools at
 * position 0. (For legacy configs, eos_token_id == 2 in config.json,
 * transformers pools at the largest id instead, which is the same position
 * whenever the sequence holds an end token - always, for tokenizer output;
 * the loader resolves the marker to the real end id.) Each sequence is cut
 * after its pooling position: by causality the rest cannot change the
 * output, so it is never computed. */
int clip_text_pool_index(const clip_config *c, const int32_t *ids, int n);
int clip_text_encode(const iris_model *m, const clip_run *run, const int32_t *const *ids,
                     const int *lens, int n, float *out);

#endif
