/*
 * text.c - the CLIP text tower, as transformers' CLIPTextModel +
 * text_projection compute it: token + position embeddings, the encoder
 * layers under a causal mask (transformer.c), final_layer_norm at the
 * pooling position, text_projection, L2 normalisation.
 *
 * Only the real tokens are computed, and only up to the pooling position:
 * with a causal mask, row p depends on rows 0..p alone, so padding (or
 * anything after the end token) cannot change the result. A typical query
 * is a handful of tokens, so this, not padding to 77, sets the query cost.
 *
 * Sequences of different lengths are packed back to back into one matrix;
 * large batches are split into chunks within the activation budget.
 */
#include "clip/forward.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int clip_text_pool_index(const clip_config *c, const int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == c->eos_id) return i;
    return 0; /* no end token: position 0, as transformers' argmax of all-false */
}

/* h rows = token embedding + position embedding, for each packed sequence. */
static void embed_tokens(const iris_model *m, const int32_t *const *ids, const int *start,
                         const int *len, int n, float *h, float *tmp)
{
    int W = m->cfg.text.width;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < len[i]; p++) {
            float *row = h + (size_t)(start[i] + p) * W;
            clip_tensor_read_f32(&m->text.tok_emb, (int64_t)ids[i][p] * W, W, row);
            clip_tensor_read_f32(&m->text.pos_emb, (int64_t)p * W, W, tmp);
            for (int j = 0; j < W; j++) row[j] += tmp[j];
        }
}

static void encode_chunk(const iris_model *m, const clip_kctx *k, clip_acts *a,
                         const int32_t *const *ids, const int *len, int n, int *start,
                         float *out)
{
    int W = m->cfg.text.width, M = 0;
    for (int i = 0; i < n; i++) start[i] = M, M += len[i];
    embed_tokens(m, ids, start, len, n, a->h, a->a);
    clip_transformer(k, &m->cfg.text, m->text.layers, a, M, start, len, n, 1);
    for (int i = 0; i < n; i++) /* the pooled row is the last one computed */
        memcpy(a->big + (size_t)i * W, a->h + (size_t)(start[i] + len[i] - 1) * W,
               sizeof(float) * W);
    clip_pool_project(k, &m->cfg.text, a->big, W, n, &m->text.final_ln_w, &m->text.final_ln_b,
                      &m->text.proj, m->cfg.proj_dim, a->a, out);
}

/* Validates ids and computes each sequence's run length (pool index + 1). */
static int run_lengths(const iris_model *m, const int32_t *const *ids, const int *lens, int n,
                       int *run)
{
    const clip_config *c = &m->cfg;
    for (int i = 0; i < n; i++) {
        if (!ids[i] || lens[i] < 1 || lens[i] > c->context_length)
            return iris_fail(IRIS_EARG, "text %d: %d tokens (need 1 to %d)", i, lens[i],
                             c->context_length);
        for (int p = 0; p < lens[i]; p++)
            if (ids[i][p] < 0 || ids[i][p] >= c->vocab_size)
                return iris_fail(IRIS_EARG, "text %d: token id %d at position %d is outside "
                                 "the vocabulary (0..%d)", i, (int)ids[i][p], p,
                                 c->vocab_size - 1);
        run[i] = clip_text_pool_index(c, ids[i], lens[i]) + 1;
    }
    return IRIS_OK;
}

int clip_text_encode(const iris_model *m, const clip_run *run, const int32_t *const *ids,
                     const int *lens, int n, float *out)
{
    if (!m || n < 0 || (n > 0 && (!ids || !lens || !out)))
        return iris_fail(IRIS_EARG, "encode texts: invalid arguments (n = %d)", n);
    if (n == 0) return IRIS_OK;
    int rc;
    int *len = malloc(sizeof(int) * 2 * (size_t)n), *start = len + n;
    if (!len) return iris_fail(IRIS_ENOMEM, "out of memory for %d texts", n);
    clip_exec e = {0};
    clip_acts a = {0};
    if ((rc = run_lengths(m, ids, lens, n, len))) goto done;

    /* rows per chunk: the budget, never less than one full context */
    int budget = clip_rows_budget(run, &m->cfg.text, 0), longest = 0;
    budget = budget < m->cfg.context_length ? m->cfg.context_length : budget;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        total += len[i];
        longest = len[i] > longest ? len[i] : longest;
    }
    int rows = total < budget ? (int)total : budget;
    if ((rc = clip_exec_init(&e, run, longest)) ||
        (rc = clip_acts_init(&a, &m->cfg.text, rows, 0)))
        goto done;
    for (int i0 = 0; i0 < n;) {
        int nb = 0, used = 0;
        while (i0 + nb < n && used + len[i0 + nb] <= rows) used += len[i0 + nb++];
        encode_chunk(m, &e.k, &a, ids + i0, len + i0, nb, start, out + (size_t)i0 * m->cfg.proj_dim);
        i0 += nb;
    }
done:
    clip_acts_free(&a);
    clip_exec_free(&e);
    free(len);
    return rc;
}
