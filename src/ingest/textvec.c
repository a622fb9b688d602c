/*
 * textvec.c - CLIP-sized windows of a long text and their combination
 * (see textvec.h).
 *
 * Windows are cut at "pieces": runs of non-space characters, except that
 * each CJK character is a piece of its own (Chinese has no spaces, and a
 * single run of 500 characters would otherwise be one unsplittable piece).
 * How many pieces fit is found by binary search with the model's own
 * tokenizer, which stops after the context length, so each probe costs at
 * most one context of BPE work: about log2(pieces) probes per window.
 * A window keeps the text's own spacing between its pieces.
 */
#include "ingest/textvec.h"

#include "text/utf8.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct piece {
    size_t start, end;
} piece;

/* Splits text into pieces (malloc'ed). */
static int split_pieces(const char *text, size_t len, piece **out, int *n)
{
    *out = NULL, *n = 0;
    size_t cap = len / 2 + 2;
    piece *p = malloc(cap * sizeof *p);
    if (!p) return iris_fail(IRIS_ENOMEM, "no memory to split a text");
    int k = 0, open = 0;
    for (size_t i = 0; i < len;) {
        size_t at = i;
        uint32_t cp = utf8_next(text, len, &i);
        if (utf8_is_space(cp)) {
            open = 0;
        } else if (utf8_is_cjk(cp)) {
            p[k++] = (piece){at, i};
            open = 0;
        } else if (open) {
            p[k - 1].end = i;
        } else {
            p[k++] = (piece){at, i};
            open = 1;
        }
    }
    *out = p;
    *n = k;
    return IRIS_OK;
}

/* Token count of text[a..b) capped at the context (start/end included). */
static int count_tokens(const iris_model *m, const char *text, size_t a, size_t b, int32_t *ids,
                        int ctx, int *n_ids)
{
    char *s = malloc(b - a + 1);
    if (!s) return iris_fail(IRIS_ENOMEM, "no memory to tokenize");
    memcpy(s, text + a, b - a);
    s[b - a] = '\0';
    int rc = iris_tokenize(m, s, ids, ctx, n_ids);
    free(s);
    return rc;
}

/* The largest k >= 1 such that pieces [i, i + k) fit in ctx - 1 tokens
 * (a single piece too long for a window still makes a window). */
static int fit_pieces(const iris_model *m, const char *text, const piece *p, int i, int n,
                      int32_t *ids, int ctx, int *k_out)
{
    int lo = 1, hi = n - i; /* lo fits (by convention), answer in [lo, hi] */
    int rc, got;
    if ((rc = count_tokens(m, text, p[i].start, p[n - 1].end, ids, ctx, &got))) return rc;
    if (got < ctx) {
        *k_out = hi;
        return IRIS_OK;
    }
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if ((rc = count_tokens(m, text, p[i].start, p[i + mid - 1].end, ids, ctx, &got))) return rc;
        if (got < ctx) lo = mid;
        else hi = mid - 1;
    }
    *k_out = lo;
    return IRIS_OK;
}

static char *dup_range(const char *text, size_t a, size_t b)
{
    char *s = malloc(b - a + 1);
    if (s) {
        memcpy(s, text + a, b - a);
        s[b - a] = '\0';
    }
    return s;
}

int textvec_windows(const iris_model *m, const char *text, size_t len, int mode, int max_windows,
                    char ***out, int *n)
{
    *out = NULL, *n = 0;
    iris_model_info in;
    int rc = iris_model_get_info(m, &in);
    if (rc) return rc;
    if (max_windows < 1) max_windows = 1;
    piece *p = NULL;
    int np = 0;
    if (mode == TEXTVEC_MEAN && (rc = split_pieces(text, len, &p, &np))) return rc;
    int cap = mode == TEXTVEC_MEAN && np > 0 ? (np < max_windows ? np : max_windows) : 1;
    char **w = calloc((size_t)cap, sizeof *w);
    int32_t *ids = malloc(sizeof *ids * (size_t)in.context_length);
    if (!w || !ids) rc = iris_fail(IRIS_ENOMEM, "no memory for text windows");
    int k = 0;
    if (!rc && (mode != TEXTVEC_MEAN || np == 0)) {
        if (!(w[k++] = dup_range(text, 0, len))) rc = iris_fail(IRIS_ENOMEM, "no memory");
    }
    for (int i = 0; !rc && i < np && k < cap;) {
        int take;
        if ((rc = fit_pieces(m, text, p, i, np, ids, in.context_length, &take))) break;
        if (!(w[k++] = dup_range(text, p[i].start, p[i + take - 1].end)))
            rc = iris_fail(IRIS_ENOMEM, "no memory");
        i += take;
    }
    free(p);
    free(ids);
    if (rc) {
        textvec_windows_free(w, k);
        return rc;
    }
    *out = w;
    *n = k;
    return IRIS_OK;
}

void textvec_windows_free(char **w, int n)
{
    for (int i = 0; w && i < n; i++) free(w[i]);
    free(w);
}

void textvec_combine(const float *vecs, int n, int dim, float *out)
{
    double *acc = calloc((size_t)dim, sizeof *acc), norm = 0;
    if (!acc) { /* keep the first window's vector rather than fail */
        memcpy(out, vecs, sizeof *out * (size_t)dim);
        return;
    }
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) acc[d] += vecs[(size_t)i * dim + d];
    for (int d = 0; d < dim; d++) norm += acc[d] * acc[d];
    norm = norm > 0 ? 1.0 / sqrt(norm) : 0;
    for (int d = 0; d < dim; d++) out[d] = (float)(acc[d] * norm);
    free(acc);
}
