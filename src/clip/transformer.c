/*
 * transformer.c - what the two CLIP towers share: the pre-norm encoder
 * layer stack, pooling + projection, per-call scratch and the shape checks.
 *
 * One layer, on packed rows h [M, width]:
 *     a   = LN1(h)
 *     qkv = a [Wq; Wk; Wv]^T + b         (three GEMMs in one parallel loop)
 *     a   = attention(qkv)               (per sequence and head)
 *     h  += a Wo^T + bo                  (residual fused into the GEMM)
 *     a   = LN2(h)
 *     big = act(a W1^T + b1)             (activation fused into the GEMM)
 *     h  += big W2^T + b2
 * Three buffers suffice (h, a, big) because q|k|v is dead once attention has
 * run, so the MLP's hidden layer reuses its space.
 */
#include "clip/forward.h"

#include "util/error.h"
#include "util/threadpool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ scratch */

clip_run clip_run_default(const iris_model *m)
{
    return (clip_run){m->n_threads, clip_isa_best(), 0, m->pool, NULL, m->bf16};
}

int clip_exec_init(clip_exec *e, const clip_run *run, int max_seq, int bf16_rows, int bf16_max_k)
{
    memset(e, 0, sizeof *e);
    int threads = run->n_threads > 0 ? run->n_threads : iris_cpu_count();
    e->pool = run->pool;
    if (!e->pool && threads > 1) {
        int rc = iris_pool_create(threads, &e->owned);
        if (rc) return rc;
        e->pool = e->owned;
    }
    int bf16 = run->bf16 && bf16_rows > 0 && run->isa == CLIP_ISA_AVX512 && clip_amx_available();
    size_t extra = clip_attention_work_floats(max_seq), amx = bf16 ? clip_amx_work_floats(bf16_max_k) : 0;
    int rc = clip_kctx_init(&e->k, e->pool, run->isa, extra > amx ? extra : amx);
    if (!rc && bf16) { /* room for one linear's x in bf16, whole blocks of 32 rows */
        size_t n = ((size_t)bf16_rows + 31) / 32 * 32 * (((size_t)bf16_max_k + 31) / 32 * 32);
        e->k.bf16_x = aligned_alloc(64, (n * 2 + 63) / 64 * 64);
        if (!e->k.bf16_x) rc = iris_fail(IRIS_ENOMEM, "out of memory for %zu MiB of bf16 rows", n >> 19);
        e->k.bf16_x_elems = n;
    }
    if (rc) clip_exec_free(e);
    e->k.prof = run->prof;
    e->k.bf16 = bf16;
    return rc;
}

void clip_exec_free(clip_exec *e)
{
    free(e->k.bf16_x);
    e->k.bf16_x = NULL;
    clip_kctx_free(&e->k);
    iris_pool_free(e->owned);
    e->pool = e->owned = NULL;
}

static int big_cols(const clip_tower_config *t, int extra_cols)
{
    int c = 3 * t->width;
    c = t->mlp > c ? t->mlp : c;
    return extra_cols > c ? extra_cols : c;
}

int clip_rows_budget(const clip_run *run, const clip_tower_config *t, int extra_cols)
{
    size_t per_row = sizeof(float) * (2 * (size_t)t->width + (size_t)big_cols(t, extra_cols));
    size_t rows = (run->chunk_bytes ? run->chunk_bytes : CLIP_CHUNK_BYTES) / per_row;
    return rows > CLIP_CHUNK_ROWS ? CLIP_CHUNK_ROWS : (int)rows;
}

int clip_acts_init(clip_acts *s, const clip_tower_config *t, int rows, int extra_cols)
{
    memset(s, 0, sizeof *s);
    s->big_ld = big_cols(t, extra_cols);
    size_t w = (size_t)rows * t->width, b = (size_t)rows * s->big_ld;
    s->h = malloc(sizeof(float) * w);
    s->a = malloc(sizeof(float) * w);
    s->big = malloc(sizeof(float) * b);
    if (!s->h || !s->a || !s->big) {
        clip_acts_free(s);
        return iris_fail(IRIS_ENOMEM, "out of memory for activations of %d rows (%zu MiB)", rows,
                         sizeof(float) * (2 * w + b) >> 20);
    }
    return IRIS_OK;
}

void clip_acts_free(clip_acts *s)
{
    free(s->h);
    free(s->a);
    free(s->big);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------ profile */

const char *const clip_stage_names[CLIP_ST_COUNT] = {
    "patch embedding", "embeddings", "layer norms", "q/k/v projections", "attention",
    "output projection", "fc1 + activation", "fc2", "pool + projection"};

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void clip_prof_start(const clip_kctx *k)
{
    if (k->prof) k->prof->last = cpu_now();
}

void clip_prof_mark(const clip_kctx *k, clip_stage s, double flop)
{
    if (!k->prof) return;
    double t = cpu_now();
    k->prof->sec[s] += t - k->prof->last;
    k->prof->flop[s] += flop;
    k->prof->last = t;
}

/* ------------------------------------------------------------ layers */

static void attention_block(const clip_kctx *k, const clip_tower_config *t, const clip_layer *l,
                            clip_acts *s, int M, const int *start, const int *len, int n_seq,
                            int causal)
{
    int W = t->width, ld = s->big_ld;
    clip_layernorm(k, s->h, W, s->a, W, M, W, &l->ln1_w, &l->ln1_b, t->ln_eps);
    clip_prof_mark(k, CLIP_ST_NORM, 0);
    clip_linear qkv[3] = {
        {s->a, W, &l->q_w, &l->q_b, s->big, ld, M, W, W, CLIP_EPI_STORE},
        {s->a, W, &l->k_w, &l->k_b, s->big + W, ld, M, W, W, CLIP_EPI_STORE},
        {s->a, W, &l->v_w, &l->v_b, s->big + 2 * W, ld, M, W, W, CLIP_EPI_STORE},
    };
    clip_linear_run(k, qkv, 3);
    clip_prof_mark(k, CLIP_ST_QKV, 6.0 * M * W * W);
    clip_attention_args args = {s->big, ld, s->a, W, start, len, n_seq,
                                t->heads, W / t->heads, causal};
    clip_attention(k, &args);
    double attn = 0; /* Q K^T and P V over every head: 4 T^2 W per sequence */
    for (int i = 0; i < n_seq; i++) attn += 4.0 * len[i] * len[i] * W;
    clip_prof_mark(k, CLIP_ST_ATTN, attn);
    clip_linear o = {s->a, W, &l->o_w, &l->o_b, s->h, W, M, W, W, CLIP_EPI_ADD};
    clip_linear_run(k, &o, 1);
    clip_prof_mark(k, CLIP_ST_OUT, 2.0 * M * W * W);
}

static void mlp_block(const clip_kctx *k, const clip_tower_config *t, const clip_layer *l,
                      clip_acts *s, int M)
{
    int W = t->width, F = t->mlp, ld = s->big_ld;
    clip_layernorm(k, s->h, W, s->a, W, M, W, &l->ln2_w, &l->ln2_b, t->ln_eps);
    clip_prof_mark(k, CLIP_ST_NORM, 0);
    clip_epilogue act = t->act == CLIP_ACT_GELU ? CLIP_EPI_GELU : CLIP_EPI_QUICK_GELU;
    clip_linear fc1 = {s->a, W, &l->fc1_w, &l->fc1_b, s->big, ld, M, F, W, act};
    clip_linear_run(k, &fc1, 1);
    clip_prof_mark(k, CLIP_ST_FC1, 2.0 * M * W * F);
    clip_linear fc2 = {s->big, ld, &l->fc2_w, &l->fc2_b, s->h, W, M, W, F, CLIP_EPI_ADD};
    clip_linear_run(k, &fc2, 1);
    clip_prof_mark(k, CLIP_ST_FC2, 2.0 * M * W * F);
}

void clip_transformer(const clip_kctx *k, const clip_tower_config *t, const clip_layer *layers,
                      clip_acts *s, int M, const int *start, const int *len, int n_seq, int causal)
{
    for (int i = 0; i < t->layers; i++) {
        attention_block(k, t, &layers[i], s, M, start, len, n_seq, causal);
        mlp_block(k, t, &layers[i], s, M);
    }
}

void clip_pool_project(const clip_kctx *k, const clip_tower_config *t, const float *rows,
                       int ld, int n, const clip_tensor *ln_w, const clip_tensor *ln_b,
                       const clip_tensor *proj, int proj_dim, float *tmp, float *out)
{
    int W = t->width;
    clip_layernorm(k, rows, ld, tmp, W, n, W, ln_w, ln_b, t->ln_eps);
    clip_linear p = {tmp, W, proj, NULL, out, proj_dim, n, proj_dim, W, CLIP_EPI_STORE};
    clip_linear_run(k, &p, 1);
    for (int i = 0; i < n; i++) clip_l2_normalize(out + (size_t)i * proj_dim, proj_dim);
    clip_prof_mark(k, CLIP_ST_POOL, 2.0 * n * W * proj_dim);
}
