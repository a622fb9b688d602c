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
 *
 * The first call also copies the tower's matrices into column panels
 * (kernels.h) in huge-page memory, once per model: a query's cost is
 * streaming ~76 MB of f16 weights through 8 rows of x, and panels make that
 * one sequential stream per 16 columns, with no 4 KiB page walks (costly
 * under virtualisation). IRIS_TEXT_PANELS=0 skips them (benchmarks).
 */
#include "clip/forward.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int clip_text_pool_index(const clip_config *c, const int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == c->eos_id) return i;
    return 0; /* no end token: position 0, as transformers' argmax of all-false */
}

/* The text tower's matrices, in a fixed order. */
static int text_matrices(iris_model *m, clip_tensor **out)
{
    int n = 0;
    for (int l = 0; l < m->cfg.text.layers; l++) {
        clip_layer *L = &m->text.layers[l];
        clip_tensor *mats[] = {&L->q_w, &L->k_w, &L->v_w, &L->o_w, &L->fc1_w, &L->fc2_w};
        for (int i = 0; i < 6; i++) out[n++] = mats[i];
    }
    out[n++] = &m->text.proj;
    return n;
}

/* After packing, the kernels read a matrix's stored rows no more (only the
 * scalar reference would): their pages leave this process's RSS, so it holds
 * one copy of the tower. Only inside the file mapping - an owned copy
 * (model.c: align_tensor) would lose its contents. */
static void release_rows(const iris_model *m, const clip_tensor *t)
{
    uintptr_t lo = (uintptr_t)t->data, hi = lo + t->nbytes, base = (uintptr_t)m->map;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (!m->map || lo < base || hi > base + m->map_size) return;
    lo = (lo + page - 1) & ~(page - 1);
    hi &= ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static void build_panels(iris_model *m)
{
    const char *env = getenv("IRIS_TEXT_PANELS");
    if (env && !strcmp(env, "0")) return;
    clip_tensor **mats = malloc(sizeof *mats * (6 * (size_t)m->cfg.text.layers + 1));
    if (!mats) return;
    int n = text_matrices(m, mats);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (clip_panels_bytes(mats[i]) + 63) & ~(size_t)63;
    void *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem != MAP_FAILED) {
        madvise(mem, total, MADV_HUGEPAGE); /* advice: fine if refused */
        char *at = mem;
        for (int i = 0; i < n; i++) {
            clip_panels_fill(mats[i], at);
            mats[i]->panels = at;
            release_rows(m, mats[i]);
            at += (clip_panels_bytes(mats[i]) + 63) & ~(size_t)63;
        }
        m->text_panels = mem;
        m->text_panels_bytes = total;
    } /* out of memory: the kernels read the stored rows, only slower */
    free(mats);
}

/* Makes the panels on the first call; later calls only check a flag. The
 * model is otherwise read-only: this cache is built once, under a lock, and
 * published before any kernel reads it. */
static void ensure_panels(const iris_model *cm)
{
    iris_model *m = (iris_model *)cm;
    if (atomic_load_explicit(&m->text_panels_done, memory_order_acquire)) return;
    pthread_mutex_lock(&m->panel_lock);
    if (!atomic_load_explicit(&m->text_panels_done, memory_order_relaxed)) {
        build_panels(m);
        atomic_store_explicit(&m->text_panels_done, 1, memory_order_release);
    }
    pthread_mutex_unlock(&m->panel_lock);
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
    clip_prof_start(k);
    embed_tokens(m, ids, start, len, n, a->h, a->a);
    clip_prof_mark(k, CLIP_ST_EMBED, 0);
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
    ensure_panels(m);

    /* rows per chunk: the budget, never less than one full context */
    int budget = clip_rows_budget(run, &m->cfg.text, 0), longest = 0;
    budget = budget < m->cfg.context_length ? m->cfg.context_length : budget;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        total += len[i];
        longest = len[i] > longest ? len[i] : longest;
    }
    int rows = total < budget ? (int)total : budget;
    if ((rc = clip_exec_init(&e, run, longest, 0, 0)) || /* text: f32 (memory-bound, panels) */
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
