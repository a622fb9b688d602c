/*
 * vcache.c - exact cosine search over an in-memory copy of the index's
 * vectors (design and locking in vcache.h).
 *
 * Scoring is one BLAS sgemv over the whole matrix (memory bound: the
 * matrix is read once per query), then one pass that applies the filters
 * and keeps the best `depth` in a bounded min-heap. Scoring everything
 * before filtering costs the same as scoring only what passes for all but
 * the most selective filters, and keeps the kernel branch-free.
 */
#include "search/vcache.h"

#include "util/error.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct vcache {
    pthread_rwlock_t rw;
    int loaded;
    int64_t generation, model_row;
    int n, cap, dim;
    float *vecs;       /* n x dim, row-major */
    int64_t *item;     /* [n] item ids, ascending */
    int64_t *content;  /* [n] content ids */
    unsigned char *mod;/* [n] modalities */
};

int vcache_create(vcache **out)
{
    vcache *vc = calloc(1, sizeof *vc);
    if (!vc) return iris_fail(IRIS_ENOMEM, "no memory for the vector cache");
    pthread_rwlock_init(&vc->rw, NULL);
    *out = vc;
    return IRIS_OK;
}

static void drop(vcache *vc)
{
    free(vc->vecs);
    free(vc->item);
    free(vc->content);
    free(vc->mod);
    vc->vecs = NULL;
    vc->item = vc->content = NULL;
    vc->mod = NULL;
    vc->n = vc->cap = vc->dim = 0;
    vc->loaded = 0;
}

void vcache_free(vcache *vc)
{
    if (!vc) return;
    drop(vc);
    pthread_rwlock_destroy(&vc->rw);
    free(vc);
}

static int grow(vcache *vc, int dim)
{
    int cap = vc->cap ? 2 * vc->cap : 1024;
    float *v = realloc(vc->vecs, (size_t)cap * (size_t)dim * sizeof *v);
    if (v) vc->vecs = v;
    int64_t *it = realloc(vc->item, (size_t)cap * sizeof *it);
    if (it) vc->item = it;
    int64_t *ct = realloc(vc->content, (size_t)cap * sizeof *ct);
    if (ct) vc->content = ct;
    unsigned char *md = realloc(vc->mod, (size_t)cap);
    if (md) vc->mod = md;
    if (!v || !it || !ct || !md)
        return iris_fail(IRIS_ENOMEM, "no memory to cache %d vectors of %d floats", cap, dim);
    vc->cap = cap;
    return IRIS_OK;
}

static int add_one(void *user, int64_t item_id, int64_t content_id, int modality,
                   const float *vec, int dim)
{
    vcache *vc = user;
    if (vc->n && dim != vc->dim)
        return iris_fail(IRIS_EFORMAT, "item %lld has a %d-d vector, others %d-d",
                         (long long)item_id, dim, vc->dim);
    vc->dim = dim;
    if (vc->n == vc->cap) {
        int rc = grow(vc, dim);
        if (rc) return rc;
    }
    memcpy(vc->vecs + (size_t)vc->n * (size_t)dim, vec, (size_t)dim * sizeof *vec);
    vc->item[vc->n] = item_id;
    vc->content[vc->n] = content_id;
    vc->mod[vc->n] = (unsigned char)modality;
    vc->n++;
    return 0;
}

int vcache_refresh(vcache *vc, store *st, int64_t model_row)
{
    int64_t gen;
    int rc = store_generation(st, &gen);
    if (rc) return rc;
    pthread_rwlock_wrlock(&vc->rw);
    if (!vc->loaded || vc->generation != gen || vc->model_row != model_row) {
        drop(vc);
        rc = store_vectors_each(st, model_row, add_one, vc);
        if (rc) {
            drop(vc);
        } else {
            vc->loaded = 1;
            vc->generation = gen;
            vc->model_row = model_row;
        }
    }
    pthread_rwlock_unlock(&vc->rw);
    return rc;
}

int vcache_count(vcache *vc)
{
    pthread_rwlock_rdlock(&vc->rw);
    int n = vc->n;
    pthread_rwlock_unlock(&vc->rw);
    return n;
}

/* ------------------------------------------------------------------ scan */

static int has_id(const int64_t *sorted, int n, int64_t id)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (sorted[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && sorted[lo] == id;
}

static int passes(const vcache *vc, int i, float score, const vfilter *f)
{
    if (f->modalities && !((f->modalities >> vc->mod[i]) & 1u)) return 0;
    if (f->has_min && !(score >= f->min)) return 0;
    if (f->exclude_item && vc->item[i] == f->exclude_item) return 0;
    for (int k = 0; k < f->n_exclude; k++)
        if (vc->content[i] == f->exclude[k]) return 0;
    return !f->contents || has_id(f->contents, f->n_contents, vc->content[i]);
}

/* a ranks below b: lower score, or equal score and larger item id. */
static int worse(const vhit *a, const vhit *b)
{
    return a->score < b->score || (a->score == b->score && a->item_id > b->item_id);
}

/* Min-heap on `worse`: h[0] is the weakest kept hit. */
static void sift_down(vhit *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m])) m = l;
        if (r < n && worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        vhit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_offer(vhit *h, int *n, int cap, vhit x)
{
    if (*n < cap) { /* sift up */
        int i = (*n)++;
        h[i] = x;
        while (i > 0 && worse(&h[i], &h[(i - 1) / 2])) {
            vhit t = h[i];
            h[i] = h[(i - 1) / 2];
            h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (worse(&h[0], &x)) {
        h[0] = x;
        sift_down(h, *n, 0);
    }
}

static int by_rank(const void *a, const void *b)
{
    const vhit *x = a, *y = b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

static int select_top(const vcache *vc, const float *scores, const vfilter *f, int depth,
                      vhit **hits, int *n_hits)
{
    vhit *h = malloc((size_t)(depth < vc->n ? depth : vc->n) * sizeof *h + 1);
    if (!h) return iris_fail(IRIS_ENOMEM, "no memory for %d candidates", depth);
    int n = 0;
    for (int i = 0; i < vc->n; i++)
        if (passes(vc, i, scores[i], f))
            heap_offer(h, &n, depth, (vhit){vc->item[i], vc->mod[i], scores[i]});
    qsort(h, (size_t)n, sizeof *h, by_rank);
    *hits = h;
    *n_hits = n;
    return IRIS_OK;
}

int vcache_search(vcache *vc, const float *query, int dim, const vfilter *f, int depth,
                  vhit **hits, int *n_hits)
{
    *hits = NULL;
    *n_hits = 0;
    if (depth <= 0) return IRIS_OK;
    pthread_rwlock_rdlock(&vc->rw);
    int rc = IRIS_OK;
    float *scores = NULL;
    if (vc->n && dim != vc->dim)
        rc = iris_fail(IRIS_EARG, "query vector has %d dims, the index's vectors %d", dim,
                       vc->dim);
    else if (vc->n && !(scores = malloc((size_t)vc->n * sizeof *scores)))
        rc = iris_fail(IRIS_ENOMEM, "no memory to score %d vectors", vc->n);
    if (!rc && vc->n) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, vc->n, dim, 1.0f, vc->vecs, dim, query, 1,
                    0.0f, scores, 1);
        rc = select_top(vc, scores, f, depth, hits, n_hits);
    }
    pthread_rwlock_unlock(&vc->rw);
    free(scores);
    return rc;
}
