/*
 * vision.c - the CLIP vision tower, as transformers' CLIPVisionModel +
 * visual_projection compute it:
 *
 *   patches  the image cut into P x P tiles, each flattened (c, y, x) to
 *            match the conv kernel [width, C, P, P], so the stride-P conv
 *            (no bias) is one GEMM over all patches of the chunk
 *   tokens   [class embedding, patch 0, patch 1, ...] + position embeddings
 *   pre_layrnorm, the encoder layers (transformer.c), post_layernorm of the
 *   class token, visual_projection, L2 normalisation.
 *
 * Images are encoded in chunks (at most CLIP_MAX_CHUNK, and within the
 * activation budget), so memory is bounded whatever the batch size.
 */
#include "clip/forward.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct vision_shape {
    int S, P, C, grid, n_patch, T, W, K; /* K = C * P * P */
} vision_shape;

static vision_shape shape_of(const clip_config *c)
{
    vision_shape s = {c->image_size, c->patch_size, c->num_channels, 0, 0, 0, c->vision.width, 0};
    if (s.P > 0) s.grid = s.S / s.P;
    s.n_patch = s.grid * s.grid;
    s.T = s.n_patch + 1;
    s.K = s.C * s.P * s.P;
    return s;
}

/* Patch rows [n * n_patch, K] (stride ld) from n images [C, S, S]. */
static void im2col(const vision_shape *s, const float *pixels, int n, float *rows, int ld)
{
    for (int i = 0; i < n; i++) {
        const float *img = pixels + (size_t)i * s->C * s->S * s->S;
        for (int p = 0; p < s->n_patch; p++) {
            float *r = rows + ((size_t)i * s->n_patch + p) * ld;
            int y0 = (p / s->grid) * s->P, x0 = (p % s->grid) * s->P;
            for (int c = 0; c < s->C; c++)
                for (int y = 0; y < s->P; y++) {
                    const float *src = img + ((size_t)c * s->S + y0 + y) * s->S + x0;
                    memcpy(r + ((size_t)c * s->P + y) * s->P, src, sizeof(float) * s->P);
                }
        }
    }
}

/* h = [class; patches] + positions for n images; patches are [n*n_patch, W]
 * rows in `patch`, pos holds the class token then the T position rows. */
static void assemble_tokens(const vision_shape *s, const float *patch, const float *cls,
                            const float *pos, int n, float *h)
{
    size_t W = (size_t)s->W;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < s->T; t++) {
            float *dst = h + ((size_t)i * s->T + t) * W;
            const float *src = t ? patch + ((size_t)i * s->n_patch + t - 1) * W : cls;
            for (size_t j = 0; j < W; j++) dst[j] = src[j] + pos[(size_t)t * W + j];
        }
}

static void encode_chunk(const iris_model *m, const clip_kctx *k, const vision_shape *s,
                         clip_acts *a, const float *pixels, int n, const float *cls,
                         const float *pos, const int *start, const int *len, float *out)
{
    const clip_vision_weights *v = &m->vision;
    int M = n * s->T, W = s->W;
    clip_prof_start(k);
    im2col(s, pixels, n, a->big, a->big_ld);
    clip_linear patch = {a->big, a->big_ld, &v->patch_w, NULL, a->a, W, n * s->n_patch, W, s->K,
                         CLIP_EPI_STORE};
    clip_linear_run(k, &patch, 1);
    clip_prof_mark(k, CLIP_ST_PATCH, 2.0 * n * s->n_patch * W * s->K);
    assemble_tokens(s, a->a, cls, pos, n, a->h);
    clip_prof_mark(k, CLIP_ST_EMBED, 0);
    clip_layernorm(k, a->h, W, a->h, W, M, W, &v->pre_ln_w, &v->pre_ln_b, m->cfg.vision.ln_eps);
    clip_prof_mark(k, CLIP_ST_NORM, 0);
    clip_transformer(k, &m->cfg.vision, v->layers, a, M, start, len, n, 0);
    /* the class token of image i is row i * T */
    clip_pool_project(k, &m->cfg.vision, a->h, s->T * W, n, &v->post_ln_w, &v->post_ln_b,
                      &v->proj, m->cfg.proj_dim, a->a, out);
}

int clip_vision_encode(const iris_model *m, const clip_run *run, const float *pixels, int n,
                       float *out)
{
    if (!m || n < 0 || (n > 0 && (!pixels || !out)))
        return iris_fail(IRIS_EARG, "encode pixels: invalid arguments (n = %d)", n);
    if (n == 0) return IRIS_OK;
    int rc;
    vision_shape s = shape_of(&m->cfg);
    int chunk = clip_rows_budget(run, &m->cfg.vision, s.K) / s.T;
    chunk = chunk < 1 ? 1 : chunk > CLIP_MAX_CHUNK ? CLIP_MAX_CHUNK : chunk;
    chunk = chunk > n ? n : chunk;

    clip_exec e;
    clip_acts a;
    const clip_tower_config *tc = &m->cfg.vision;
    int max_k = s.K > tc->mlp ? s.K : tc->mlp; /* patch embedding, fc2 */
    if ((rc = clip_exec_init(&e, run, s.T, chunk * s.T, max_k > tc->width ? max_k : tc->width)))
        return rc;
    if ((rc = clip_acts_init(&a, &m->cfg.vision, chunk * s.T, s.K))) {
        clip_exec_free(&e);
        return rc;
    }
    float *tables = malloc(sizeof(float) * (size_t)(s.T + 1) * s.W);
    int *seq = malloc(sizeof(int) * 2 * (size_t)chunk);
    if (!tables || !seq) {
        rc = iris_fail(IRIS_ENOMEM, "out of memory for the vision embeddings");
        goto done;
    }
    clip_tensor_read_f32(&m->vision.class_emb, 0, s.W, tables);
    clip_tensor_read_f32(&m->vision.pos_emb, 0, (int64_t)s.T * s.W, tables + s.W);
    for (int i = 0; i < chunk; i++) seq[i] = i * s.T, seq[chunk + i] = s.T;

    size_t img = (size_t)s.C * s.S * s.S;
    for (int i0 = 0; i0 < n; i0 += chunk) {
        int nb = n - i0 < chunk ? n - i0 : chunk;
        encode_chunk(m, &e.k, &s, &a, pixels + i0 * img, nb, tables, tables + s.W, seq,
                     seq + chunk, out + (size_t)i0 * m->cfg.proj_dim);
    }
done:
    free(tables);
    free(seq);
    clip_acts_free(&a);
    clip_exec_free(&e);
    return rc;
}
