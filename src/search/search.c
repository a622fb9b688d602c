/*
 * search.c - iris_search(): one query through two lanes, fused.
 *
 *   vector lane   the query's CLIP embedding (text tower for text, vision
 *                 tower for images, the stored vector for `similar`)
 *                 against the item vectors: cosine through the vector
 *                 index (exact below its size threshold, HNSW above;
 *                 vcache.c);
 *   keyword lane  BM25 over the item text and file names (the store's
 *                 FTS5, injection-safe query building in src/store/fts.c);
 *   fusion        Reciprocal Rank Fusion (fuse.c).
 *
 * Filters (type, path glob, excluded query file) run inside each lane
 * before its top `depth` candidates are cut, never after fusion, so a
 * selective filter cannot silently shorten the list. A minimum score is a
 * threshold on what the results are ordered by, so applying it to the
 * sorted list is a clean cut.
 *
 * Locking (db.h): store work happens in two short sections under the db
 * lock (planning: model, cache refresh, exclusions, filters; dressing:
 * keyword lane and item details). Decoding and encoding the query and the
 * vector scan run outside it, so concurrent queries overlap where the
 * time goes.
 */
#include "search/db.h"
#include "search/fuse.h"
#include "search/vcache.h"

#include "text/utf8.h"
#include "util/error.h"
#include "util/fs.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_K 10
#define DEFAULT_RRF_K 60
#define MIN_DEPTH 100
#define MAX_K 10000
#define MAX_QUERY_BYTES 16384
#define MAX_EXCLUDE 4
#define HEAD_BYTES 200 /* snippet of an item the keyword lane did not find */

/* Everything resolved about a query before the lanes run. */
typedef struct plan {
    const iris_query *q;
    int mode;            /* effective: no text means vector only */
    int k, depth;
    double rrf_k;
    int vector_lane, keyword_lane;
    const iris_model *model; /* for encoding text / images */
    int64_t model_row;   /* 0: nothing indexed, no vectors */
    int dim;
    float *qvec;         /* [dim] the query embedding */
    vfilter vf;
    int64_t exclude[MAX_EXCLUDE];
    int64_t *contents;   /* path glob -> content ids */
    iris_image image;    /* decoded query file */
    char sha256[65];     /* of the query file */
    char real[PATH_MAX]; /* its resolved path */
} plan;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------- checking */

static int check_text(const char *text)
{
    size_t n = strlen(text), at = 0;
    if (n > MAX_QUERY_BYTES)
        return iris_fail(IRIS_ELIMIT, "query text is %zu bytes; the limit is %d", n,
                         MAX_QUERY_BYTES);
    if (!utf8_valid(text, n)) return iris_fail(IRIS_EARG, "query text is not valid UTF-8");
    while (at < n)
        if (!utf8_is_space(utf8_next(text, n, &at))) return IRIS_OK;
    return iris_fail(IRIS_EARG, "empty query: give some text, an image or an item");
}

static int check_query(const iris_query *q, plan *p)
{
    int sources = !!(q->text || q->vector) + !!q->image_path + !!q->image + !!q->item_id;
    if (sources != 1)
        return iris_fail(IRIS_EARG, "a query needs exactly one of text, image, item or vector "
                                    "(got %d)", sources);
    if (q->mode < IRIS_MODE_HYBRID || q->mode > IRIS_MODE_KEYWORD)
        return iris_fail(IRIS_EARG, "unknown search mode %d", q->mode);
    if (q->k < 0 || q->k > MAX_K || q->depth < 0 || q->depth > MAX_K)
        return iris_fail(IRIS_EARG, "k and depth must be between 1 and %d (k %d, depth %d)",
                         MAX_K, q->k, q->depth);
    if (q->rrf_k < 0) return iris_fail(IRIS_EARG, "rrf_k must be positive (got %d)", q->rrf_k);
    if (q->has_min_score && isnan(q->min_score)) return iris_fail(IRIS_EARG, "min_score is NaN");
    if (q->item_id < 0) return iris_fail(IRIS_EARG, "no item %lld", (long long)q->item_id);
    int rc = q->text ? check_text(q->text) : IRIS_OK;
    if (rc) return rc;
    if (!q->text && q->mode == IRIS_MODE_KEYWORD)
        return iris_fail(IRIS_EARG, "keyword search needs text: an image, item or vector "
                                    "query runs in vector or hybrid mode");
    p->q = q;
    p->mode = q->text ? q->mode : IRIS_MODE_VECTOR;
    p->k = q->k ? q->k : DEFAULT_K;
    p->depth = q->depth ? q->depth : (p->k > MIN_DEPTH ? p->k : MIN_DEPTH);
    if (p->depth < p->k) p->depth = p->k;
    p->rrf_k = q->rrf_k ? q->rrf_k : DEFAULT_RRF_K;
    p->vector_lane = p->mode != IRIS_MODE_KEYWORD;
    p->keyword_lane = p->mode != IRIS_MODE_VECTOR;
    return IRIS_OK;
}

/* ------------------------------------------------------------- planning */

/* The query file: decoded, hashed and resolved before taking the lock. */
static int read_query_file(plan *p)
{
    const char *path = p->q->image_path;
    if (!realpath(path, p->real))
        return iris_fail(IRIS_ENOTFOUND, "query image %s: cannot resolve the path", path);
    int rc = iris_sha256_file(p->real, p->sha256);
    if (!rc) rc = iris_image_load(p->real, NULL, &p->image);
    return rc;
}

static void exclude_content(plan *p, int64_t cid)
{
    for (int i = 0; i < p->vf.n_exclude; i++)
        if (p->exclude[i] == cid) return;
    if (cid && p->vf.n_exclude < MAX_EXCLUDE) p->exclude[p->vf.n_exclude++] = cid;
}

/* The query file's contents: what its resolved path (and the path as
 * given) holds in the index, and any content with its bytes. */
static int exclude_query_file(iris_db *db, plan *p)
{
    const char *paths[2] = {p->real, p->q->image_path};
    for (int i = 0; i < 2; i++) {
        store_file f;
        int rc = store_file_get(db->st, paths[i], &f);
        if (rc && rc != IRIS_ENOTFOUND) return rc;
        if (!rc) exclude_content(p, f.content_id);
    }
    store_content c;
    int rc = store_content_get(db->st, p->sha256, &c);
    if (!rc) exclude_content(p, c.id);
    return rc == IRIS_ENOTFOUND ? IRIS_OK : rc;
}

static int query_item_vector(iris_db *db, plan *p)
{
    store_item_info it;
    int rc = store_item_get(db->st, p->q->item_id, &it);
    if (rc) return rc;
    p->vf.exclude_item = it.id;
    if (!p->q->keep_source) exclude_content(p, it.content_id);
    store_item_info_free(&it);
    rc = store_vector_get(db->st, p->q->item_id, p->model_row, p->qvec, p->dim);
    if (rc == IRIS_ENOTFOUND)
        return iris_fail(IRIS_ENOTFOUND, "item %lld has no vector to compare",
                         (long long)p->q->item_id);
    return rc;
}

static int plan_vector_lane(iris_db *db, plan *p)
{
    store_model rec;
    int rc = store_model_get(db->st, &rec);
    if (rc == IRIS_ENOTFOUND && p->q->item_id)
        return iris_fail(IRIS_ENOTFOUND, "%s: no item %lld (the index is empty)", db->path,
                         (long long)p->q->item_id);
    if (rc == IRIS_ENOTFOUND) return IRIS_OK; /* nothing indexed: an empty lane */
    if (rc) return rc;
    p->model_row = rec.id;
    p->dim = rec.dim;
    if (p->q->vector && p->q->dim != rec.dim)
        return iris_fail(IRIS_EARG, "query vector has %d dims; the index's model has %d",
                         p->q->dim, rec.dim);
    if (!(p->qvec = calloc((size_t)p->dim, sizeof *p->qvec)))
        return iris_fail(IRIS_ENOMEM, "no memory");
    if (!p->q->vector && !p->q->item_id) rc = db_model_locked(db, &p->model); /* to encode */
    if (!rc && p->q->image_path) rc = exclude_query_file(db, p);
    if (!rc && p->q->item_id) rc = query_item_vector(db, p);
    if (!rc) rc = vcache_sync(db->vc, db->st, &rec, 0, 0);
    return rc;
}

static int plan_locked(iris_db *db, plan *p)
{
    const iris_query *q = p->q;
    p->vf.modalities = q->modalities;
    p->vf.exclude = p->exclude;
    if (q->has_min_score && p->mode == IRIS_MODE_VECTOR) {
        p->vf.has_min = 1;
        p->vf.min = (float)q->min_score;
    }
    int rc = p->vector_lane ? plan_vector_lane(db, p) : IRIS_OK;
    if (!rc && p->model_row && q->path_glob) {
        rc = store_contents_glob(db->st, q->path_glob, &p->contents, &p->vf.n_contents);
        /* An empty list still filters: the glob matched nothing. */
        static const int64_t none = 0;
        p->vf.contents = p->contents ? p->contents : &none;
    }
    return rc;
}

/* The query embedding, for text and image queries (outside the lock). */
static int embed_query(plan *p)
{
    const iris_query *q = p->q;
    if (q->vector) {
        double norm = 0;
        for (int i = 0; i < p->dim; i++) norm += (double)q->vector[i] * q->vector[i];
        if (!(norm > 0) || !isfinite(norm))
            return iris_fail(IRIS_EARG, "query vector is zero or not finite");
        for (int i = 0; i < p->dim; i++) p->qvec[i] = (float)(q->vector[i] / sqrt(norm));
        return IRIS_OK;
    }
    if (q->text) return iris_encode_texts(p->model, &q->text, 1, p->qvec);
    if (q->image_path || q->image)
        return iris_encode_images(p->model, q->image ? q->image : &p->image, 1, p->qvec);
    return IRIS_OK; /* item queries read the stored vector */
}

static void plan_free(plan *p)
{
    free(p->qvec);
    free(p->contents);
    iris_image_free(&p->image);
}

/* ---------------------------------------------------------------- lanes */

typedef struct lanes {
    int64_t *ids[FUSE_MAX_LANES];
    double *scores[FUSE_MAX_LANES];
    int n[FUSE_MAX_LANES];
    store_hit *kw; /* keyword hits, for their snippets */
    int n_kw;
} lanes;

enum { LANE_VECTOR = 0, LANE_KEYWORD = 1 };

static int lane_alloc(lanes *L, int lane, int n)
{
    L->ids[lane] = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    L->scores[lane] = malloc((size_t)(n ? n : 1) * sizeof(double));
    if (!L->ids[lane] || !L->scores[lane]) return iris_fail(IRIS_ENOMEM, "no memory");
    L->n[lane] = n;
    return IRIS_OK;
}

static int run_vector_lane(iris_db *db, plan *p, lanes *L)
{
    if (!p->vector_lane || !p->model_row) return lane_alloc(L, LANE_VECTOR, 0);
    vhit *h;
    int n, rc = vcache_search(db->vc, p->qvec, p->dim, &p->vf, p->depth, &h, &n);
    if (!rc) rc = lane_alloc(L, LANE_VECTOR, n);
    for (int i = 0; !rc && i < n; i++) {
        L->ids[LANE_VECTOR][i] = h[i].item_id;
        L->scores[LANE_VECTOR][i] = h[i].score;
    }
    free(rc ? NULL : h);
    return rc;
}

/* Caller holds the db lock. */
static int run_keyword_lane(iris_db *db, plan *p, lanes *L)
{
    if (!p->keyword_lane) return lane_alloc(L, LANE_KEYWORD, 0);
    const iris_query *q = p->q;
    store_fts_opts o = {.limit = p->depth, .modalities = q->modalities, .path_glob = q->path_glob,
                        .hl_open = q->hl_open, .hl_close = q->hl_close};
    int rc = store_fts_search(db->st, q->text, &o, &L->kw, &L->n_kw);
    if (rc) return rc;
    /* Hits come sorted, so a minimum score is a cut. */
    int n = 0;
    if ((rc = lane_alloc(L, LANE_KEYWORD, L->n_kw))) return rc;
    for (int i = 0; i < L->n_kw; i++) {
        if (q->has_min_score && p->mode == IRIS_MODE_KEYWORD && L->kw[i].score < q->min_score)
            break;
        L->ids[LANE_KEYWORD][n] = L->kw[i].item_id;
        L->scores[LANE_KEYWORD][n++] = L->kw[i].score;
    }
    L->n[LANE_KEYWORD] = n;
    return IRIS_OK;
}

static void lanes_free(lanes *L)
{
    for (int l = 0; l < FUSE_MAX_LANES; l++) {
        free(L->ids[l]);
        free(L->scores[l]);
    }
    store_hits_free(L->kw, L->n_kw);
}

/* ------------------------------------------------------------- results */

static char *head_of(const char *text)
{
    size_t n = strlen(text), cut = n <= HEAD_BYTES ? n : HEAD_BYTES;
    while (cut < n && cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--;
    char *s = malloc(cut + 4);
    if (!s) return NULL;
    memcpy(s, text, cut);
    strcpy(s + cut, cut < n ? "…" : "");
    return s;
}

/* A keyword-lane snippet if the lane found the item, else one made for it
 * (the query terms marked where they occur), else the start of its text. */
static char *snippet_for(iris_db *db, const plan *p, const lanes *L, const fused *f,
                         const store_item_info *it)
{
    for (int i = 0; f->rank[LANE_KEYWORD] && i < L->n_kw; i++)
        if (L->kw[i].item_id == f->item_id) return strdup(L->kw[i].snippet);
    if (!it->text) return strdup("");
    char *s = NULL;
    if (p->q->text) {
        store_fts_opts o = {.hl_open = p->q->hl_open, .hl_close = p->q->hl_close};
        if (store_fts_snippet(db->st, p->q->text, f->item_id, &o, &s) == IRIS_OK) return s;
    }
    return head_of(it->text);
}

static int dress(iris_db *db, const plan *p, const lanes *L, const fused *f, iris_hit *h)
{
    store_item_info it;
    int rc = store_item_get(db->st, f->item_id, &it);
    if (rc) return rc; /* ENOTFOUND: removed since the lanes ran */
    h->item_id = f->item_id;
    h->modality = it.modality;
    h->vector_rank = f->rank[LANE_VECTOR];
    h->vector_score = f->lane_score[LANE_VECTOR];
    h->keyword_rank = f->rank[LANE_KEYWORD];
    h->keyword_score = f->lane_score[LANE_KEYWORD];
    h->score = p->mode == IRIS_MODE_HYBRID ? f->score
               : p->mode == IRIS_MODE_VECTOR ? h->vector_score : h->keyword_score;
    h->page = it.page;
    h->has_bbox = it.has_bbox;
    memcpy(h->bbox, it.bbox, sizeof h->bbox);
    h->path = it.path ? it.path : strdup("");
    it.path = NULL;
    h->snippet = snippet_for(db, p, L, f, &it);
    store_item_info_free(&it);
    if (!h->path || !h->snippet) return iris_fail(IRIS_ENOMEM, "no memory for results");
    return IRIS_OK;
}

/* Top k of the fused list, with details; caller holds the db lock. */
static int collect(iris_db *db, const plan *p, const lanes *L, const fused *f, int n_f,
                   iris_results *r)
{
    if (!(r->hits = calloc((size_t)p->k, sizeof *r->hits)))
        return iris_fail(IRIS_ENOMEM, "no memory for results");
    for (int i = 0; i < n_f && r->n < p->k; i++) {
        if (p->q->has_min_score && p->mode == IRIS_MODE_HYBRID && f[i].score < p->q->min_score)
            break;
        int rc = dress(db, p, L, &f[i], &r->hits[r->n]);
        if (rc == IRIS_ENOTFOUND) continue;
        r->n++; /* counted even on failure, so its strings are freed */
        if (rc) return rc;
    }
    return IRIS_OK;
}

void iris_results_free(iris_results *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        free((char *)r->hits[i].path);
        free((char *)r->hits[i].snippet);
    }
    free(r->hits);
    free(r->query_vector);
    free(r);
}

/* ------------------------------------------------------------ iris_search */

static int run(iris_db *db, plan *p, iris_results *r)
{
    double t0 = now_ms();
    int rc = p->q->image_path ? read_query_file(p) : IRIS_OK;
    if (rc) return rc;
    double decode_ms = now_ms() - t0;
    db_lock(db);
    rc = plan_locked(db, p);
    db_unlock(db);
    double t1 = now_ms();
    if (!rc && p->qvec) rc = embed_query(p);
    double t2 = now_ms();
    lanes L = {0};
    if (!rc) rc = run_vector_lane(db, p, &L);
    double t3 = now_ms();
    fused *f = NULL;
    int n_f = 0;
    db_lock(db);
    if (!rc) rc = run_keyword_lane(db, p, &L);
    double t4 = now_ms();
    if (!rc) {
        fuse_lane fl[2] = {{L.ids[0], L.scores[0], L.n[0]}, {L.ids[1], L.scores[1], L.n[1]}};
        rc = fuse_rrf(fl, 2, p->rrf_k, &f, &n_f);
    }
    double t5 = now_ms();
    if (!rc) rc = collect(db, p, &L, f, n_f, r);
    db_unlock(db);
    r->vector_candidates = L.n[LANE_VECTOR];
    r->keyword_candidates = L.n[LANE_KEYWORD];
    r->embed_ms = decode_ms + (t2 - t1); /* decoding the query file counts as embedding */
    r->vector_ms = t3 - t2;
    r->keyword_ms = t4 - t3;
    r->fuse_ms = t5 - t4;
    r->total_ms = now_ms() - t0;
    if (!rc && p->qvec && p->model_row) { /* handed over to the results */
        r->query_vector = p->qvec;
        r->dim = p->dim;
        p->qvec = NULL;
    }
    free(f);
    lanes_free(&L);
    return rc;
}

int iris_search(iris_db *db, const iris_query *q, iris_results **out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_search: out is NULL");
    *out = NULL;
    if (!db || !q) return iris_fail(IRIS_EARG, "iris_search: NULL argument");
    plan p = {0};
    int rc = check_query(q, &p);
    if (rc) return rc;
    iris_results *r = calloc(1, sizeof *r);
    if (!r) return iris_fail(IRIS_ENOMEM, "no memory for results");
    r->mode = p.mode;
    r->rrf_k = (int)p.rrf_k;
    rc = run(db, &p, r);
    plan_free(&p);
    if (rc) {
        iris_results_free(r);
        return rc;
    }
    *out = r;
    return IRIS_OK;
}
