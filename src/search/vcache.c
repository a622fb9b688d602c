/*
 * vcache.c - the vector lane's index, kept in step with the store (design
 * in vcache.h).
 *
 * The mirror is the list of items the view was last synced with (sorted
 * ids, their keys, whether the index holds a vector for them); syncing is
 * a merge of that list with the store's current one. Each index item
 * carries its modality and its content id (as the tag), which is all the
 * filters need, so a search never touches the store.
 */
#include "search/vcache.h"

#include "index/index.h"
#include "util/config.h"
#include "util/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ADD_BATCH 1024
#define COMPACT_FRACTION 5 /* compact when deleted > live / 5 */

struct vcache {
    pthread_rwlock_t rw;
    char *ann_path;
    iris_ann *ann;        /* NULL until first synced */
    int64_t generation;
    int64_t model_row;
    int dim;
    int dirty;            /* changed since last written */
    store_litem *mirror;  /* [n] what the index was synced with, by id */
    unsigned char *has_vec; /* [n] the index holds a vector for it */
    int n;
    /* The saved file as this view last knew it (mapped, written, or found
     * stale): when another process replaces it, the view tries it. */
    struct stat seen;
    int seen_valid;
    int method;           /* search method from [index] mode: IRIS_ANN_AUTO or _EXACT_INT8 */
};

int vcache_create(const char *ann_path, vcache **out)
{
    vcache *vc = calloc(1, sizeof *vc);
    if (!vc || (ann_path && !(vc->ann_path = strdup(ann_path)))) {
        free(vc);
        return iris_fail(IRIS_ENOMEM, "no memory for the vector index");
    }
    pthread_rwlock_init(&vc->rw, NULL);
    *out = vc;
    return IRIS_OK;
}

static void drop(vcache *vc)
{
    iris_ann_free(vc->ann);
    free(vc->mirror);
    free(vc->has_vec);
    vc->ann = NULL;
    vc->mirror = NULL;
    vc->has_vec = NULL;
    vc->n = 0;
    vc->dirty = 0;
}

void vcache_free(vcache *vc)
{
    if (!vc) return;
    drop(vc);
    pthread_rwlock_destroy(&vc->rw);
    free(vc->ann_path);
    free(vc);
}

/* FNV-1a over the model id and the generation: a saved index is valid
 * exactly when both match the store's. */
static uint64_t fingerprint(const char *model_key, int64_t generation)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = model_key; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    for (int k = 0; k < 8; k++) h = (h ^ (uint64_t)((generation >> (8 * k)) & 0xff)) * 0x100000001b3ull;
    return h;
}

/* Whether two stats name the same file contents: a save writes a new file
 * and renames it over the old one, so the inode changes with every save. */
static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Records the saved file's identity as of now (before it is opened, so a
 * replacement that lands in between is tried again next time). */
static void note_file(vcache *vc)
{
    vc->seen_valid = vc->ann_path && stat(vc->ann_path, &vc->seen) == 0;
}

static int find(const store_litem *m, int n, int64_t id)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (m[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && m[lo].id == id ? lo : -1;
}

static int set_mirror(vcache *vc, store_litem *items, int n)
{
    unsigned char *has = calloc((size_t)(n ? n : 1), 1);
    if (!has) {
        free(items);
        return iris_fail(IRIS_ENOMEM, "no memory for %d items", n);
    }
    for (int i = 0; i < n; i++)
        if (items[i].content_id > UINT32_MAX) {
            long long id = (long long)items[i].content_id;
            free(items);
            free(has);
            return iris_fail(IRIS_EUNSUPPORTED, "content id %lld is beyond 32 bits", id);
        }
    free(vc->mirror);
    free(vc->has_vec);
    vc->mirror = items;
    vc->has_vec = has;
    vc->n = n;
    return IRIS_OK;
}

/* ----------------------------------------------------------- batched adds */

typedef struct adder {
    vcache *vc;
    uint64_t ids[ADD_BATCH];
    iris_ann_attr attrs[ADD_BATCH];
    float *vecs; /* ADD_BATCH x dim */
    int n;
} adder;

static int adder_flush(adder *a)
{
    int rc = a->n ? iris_ann_add(a->vc->ann, (size_t)a->n, a->ids, a->vecs, a->attrs) : IRIS_OK;
    a->n = 0;
    return rc;
}

static int adder_push(adder *a, int64_t id, int64_t content, int modality, const float *vec)
{
    vcache *vc = a->vc;
    a->ids[a->n] = (uint64_t)id;
    a->attrs[a->n] = (iris_ann_attr){(uint8_t)modality, (uint32_t)content};
    memcpy(a->vecs + (size_t)a->n * vc->dim, vec, (size_t)vc->dim * sizeof *vec);
    int at = find(vc->mirror, vc->n, id);
    if (at >= 0) vc->has_vec[at] = 1;
    return ++a->n == ADD_BATCH ? adder_flush(a) : IRIS_OK;
}

static int on_vector(void *user, int64_t item_id, int64_t content_id, int modality,
                     const float *vec, int dim)
{
    adder *a = user;
    if (dim != a->vc->dim)
        return iris_fail(IRIS_EFORMAT, "item %lld has a %d-d vector, the model %d-d",
                         (long long)item_id, dim, a->vc->dim);
    return adder_push(a, item_id, content_id, modality, vec);
}

/* ---------------------------------------------------------------- syncing */

/* A whole number for key in [index], within [lo, hi]; absent keeps *v. */
static int config_int(const iris_config *c, const char *key, int lo, int hi, int *v)
{
    const char *s = iris_config_get(c, "index", key);
    if (!s) return IRIS_OK;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return iris_fail(IRIS_EFORMAT, "%s: [index] %s = %s: want a number from %d to %d",
                         iris_config_origin(c), key, s, lo, hi);
    *v = (int)x;
    return IRIS_OK;
}

/* The index's build settings: defaults, then the config file's [index]
 * section (mode = auto|exact|hnsw|int8, storage = f32|f16, hnsw_threshold,
 * M, ef_construction, ef_search). *method is the search method the mode
 * asks for: int8 builds no graph and scans the int8 codes. */
static int ann_config(int dim, iris_ann_config *cfg, int *method)
{
    iris_ann_config_default(cfg, dim);
    iris_config *c = NULL;
    int rc = iris_config_load(NULL, &c);
    const char *mode = rc ? NULL : iris_config_get(c, "index", "mode");
    const char *storage = rc ? NULL : iris_config_get(c, "index", "storage");
    if (mode && strcmp(mode, "auto") && strcmp(mode, "exact") && strcmp(mode, "hnsw") &&
        strcmp(mode, "int8"))
        rc = iris_fail(IRIS_EFORMAT, "%s: [index] mode = %s: want auto, exact, hnsw or int8",
                       iris_config_origin(c), mode);
    if (!rc && storage && strcmp(storage, "f32") && strcmp(storage, "f16"))
        rc = iris_fail(IRIS_EFORMAT, "%s: [index] storage = %s: want f32 or f16",
                       iris_config_origin(c), storage);
    int int8 = mode && !strcmp(mode, "int8");
    if (!rc && mode)
        cfg->mode = !strcmp(mode, "exact") || int8 ? IRIS_ANN_EXACT
                    : !strcmp(mode, "hnsw")        ? IRIS_ANN_HNSW
                                                   : IRIS_ANN_AUTO;
    *method = !rc && int8 ? IRIS_ANN_EXACT_INT8 : IRIS_ANN_AUTO;
    if (!rc && storage) cfg->storage = !strcmp(storage, "f16") ? IRIS_ANN_F16 : IRIS_ANN_F32;
    if (!rc) rc = config_int(c, "hnsw_threshold", 0, 1 << 30, &cfg->hnsw_threshold);
    if (!rc) rc = config_int(c, "M", 2, 256, &cfg->M);
    if (!rc) rc = config_int(c, "ef_construction", 1, 100000, &cfg->ef_construction);
    if (!rc) rc = config_int(c, "ef_search", 1, 100000, &cfg->ef_search);
    iris_config_free(c);
    return rc;
}

/* Every vector from the store into a fresh index. */
static int full_build(vcache *vc, store *st, adder *a)
{
    iris_ann_config cfg;
    int rc = ann_config(vc->dim, &cfg, &vc->method);
    if (!rc) rc = iris_ann_create(&cfg, &vc->ann);
    store_litem *items = NULL;
    int n = 0;
    if (!rc) rc = store_items_list(st, &items, &n);
    if (!rc) rc = set_mirror(vc, items, n);
    if (!rc) rc = store_vectors_each(st, vc->model_row, on_vector, a);
    if (!rc) rc = adder_flush(a);
    vc->dirty = 1;
    return rc;
}

/* The saved file, if it describes the store at generation gen for model
 * rec: it becomes the view (mapped, so nothing is rebuilt), replacing the
 * current one only once it has opened and checked. Returns 1 if adopted. */
static int adopt_saved(vcache *vc, store *st, const store_model *rec, int64_t gen)
{
    /* The search beam is a run-time knob: the config's, not the file's. */
    iris_ann_config cfg;
    int method;
    if (!vc->ann_path || ann_config(rec->dim, &cfg, &method)) return 0; /* the build reports it */
    note_file(vc);
    iris_ann_open_opts o = {.dim = rec->dim, .check_fingerprint = 1, .ef_search = cfg.ef_search,
                            .fingerprint = fingerprint(rec->key, gen)};
    int why;
    iris_ann *ann;
    if (iris_ann_open(vc->ann_path, &o, &ann, &why) != IRIS_OK) return 0;
    store_litem *items = NULL;
    int n = 0;
    unsigned char *has = NULL;
    int ok = store_items_list(st, &items, &n) == IRIS_OK && (has = calloc((size_t)(n ? n : 1), 1));
    for (int i = 0; ok && i < n; i++) {
        iris_ann_attr attr;
        ok = items[i].content_id <= UINT32_MAX;
        has[i] = ok && iris_ann_get(ann, (uint64_t)items[i].id, NULL, &attr) == IRIS_OK &&
                 attr.tag == (uint32_t)items[i].content_id;
    }
    if (!ok) {
        iris_ann_free(ann);
        free(items);
        free(has);
        return 0;
    }
    drop(vc);
    vc->ann = ann;
    vc->mirror = items;
    vc->has_vec = has;
    vc->n = n;
    vc->model_row = rec->id;
    vc->dim = rec->dim;
    vc->generation = gen;
    vc->method = method;
    return 1;
}

/* Deletes what left the store or changed identity; returns how many of the
 * store's items are new to the index in *n_new. */
static int apply_removals(vcache *vc, const store_litem *s, int ns, int *n_new)
{
    uint64_t *del = malloc((size_t)(vc->n ? vc->n : 1) * sizeof *del);
    if (!del) return iris_fail(IRIS_ENOMEM, "no memory");
    size_t nd = 0;
    for (int i = 0; i < vc->n; i++) {
        int at = find(s, ns, vc->mirror[i].id);
        if (vc->has_vec[i] && (at < 0 || s[at].key != vc->mirror[i].key))
            del[nd++] = (uint64_t)vc->mirror[i].id;
    }
    *n_new = 0;
    for (int j = 0; j < ns; j++) {
        int at = find(vc->mirror, vc->n, s[j].id);
        *n_new += at < 0 || vc->mirror[at].key != s[j].key;
    }
    int rc = nd ? iris_ann_delete(vc->ann, nd, del, NULL) : IRIS_OK;
    if (nd) vc->dirty = 1;
    free(del);
    return rc;
}

/* The store's item list against the mirror: deletes, then adds the new
 * items' vectors (read one by one: a few per batch of `iris index`). */
static int incremental(vcache *vc, store *st, adder *a)
{
    store_litem *s = NULL;
    int ns = 0, n_new = 0;
    int rc = store_items_list(st, &s, &ns);
    if (!rc) rc = apply_removals(vc, s, ns, &n_new);
    if (rc) {
        free(s);
        return rc;
    }
    store_litem *old = vc->mirror;
    unsigned char *old_has = vc->has_vec;
    int n_old = vc->n;
    vc->mirror = NULL, vc->has_vec = NULL; /* set_mirror must not free them yet */
    rc = set_mirror(vc, s, ns);
    float *v = malloc((size_t)vc->dim * sizeof *v);
    if (!rc && !v) rc = iris_fail(IRIS_ENOMEM, "no memory");
    for (int j = 0; !rc && j < ns; j++) {
        int at = find(old, n_old, s[j].id);
        if (at >= 0 && old[at].key == s[j].key) {
            vc->has_vec[j] = old_has[at];
            continue;
        }
        int r = store_vector_get(st, s[j].id, vc->model_row, v, vc->dim);
        if (r == IRIS_OK) rc = adder_push(a, s[j].id, s[j].content_id, s[j].modality, v);
        else if (r != IRIS_ENOTFOUND) rc = r; /* an item without a vector is fine */
        vc->dirty = 1;
    }
    if (!rc) rc = adder_flush(a);
    free(v);
    free(old);
    free(old_has);
    return rc;
}

static int sync_locked(vcache *vc, store *st, const store_model *rec, int64_t gen, int rebuild)
{
    int fresh = rebuild || !vc->ann || vc->model_row != rec->id || vc->dim != rec->dim;
    if (fresh) drop(vc);
    vc->model_row = rec->id;
    vc->dim = rec->dim;
    vc->generation = gen;
    if (fresh && !rebuild && adopt_saved(vc, st, rec, gen)) return IRIS_OK;
    adder a = {.vc = vc, .vecs = malloc((size_t)ADD_BATCH * (size_t)vc->dim * sizeof(float))};
    int rc = a.vecs ? IRIS_OK : iris_fail(IRIS_ENOMEM, "no memory");
    if (!rc) rc = fresh ? full_build(vc, st, &a) : incremental(vc, st, &a);
    free(a.vecs);
    if (rc) drop(vc); /* half-synced: start over next time */
    return rc;
}

/* Deleted items stay in the index as tombstones: they still route graph
 * searches but are never returned, and they cost memory, file size and
 * graph quality. Once they outnumber a fifth of the live items, the index
 * is rebuilt from its live rows (iris_ann_compact) before it is written. */
static int compact_if_due(vcache *vc)
{
    iris_ann_stats s;
    int rc = iris_ann_stats_get(vc->ann, &s);
    if (!rc && s.deleted && s.deleted > s.live / COMPACT_FRACTION) rc = iris_ann_compact(vc->ann);
    return rc;
}

static int save_locked(vcache *vc, const store_model *rec)
{
    if (!vc->ann || !vc->ann_path || !vc->dirty) return IRIS_OK;
    int rc = compact_if_due(vc);
    if (rc) return rc;
    iris_ann_set_fingerprint(vc->ann, fingerprint(rec->key, vc->generation));
    rc = iris_ann_save(vc->ann, vc->ann_path);
    if (!rc) vc->dirty = 0;
    if (!rc) note_file(vc); /* our own file: nothing to adopt */
    return rc;
}

int vcache_sync(vcache *vc, store *st, const store_model *rec, int rebuild, int save)
{
    int64_t gen;
    int rc = store_generation(st, &gen);
    if (rc) return rc;
    pthread_rwlock_wrlock(&vc->rw);
    /* Another process replaced the saved file (an `iris index` run ends by
     * writing it, compacted once deletes pile up): a file that describes
     * the store as it is now takes the place of this view, so a long-lived
     * process (iris serve) does not keep other processes' deletes as
     * tombstones, or their additions in its heap, until it restarts. One
     * stat per query; the file is opened only when it changed. */
    int adopted = 0;
    struct stat now;
    if (!rebuild && vc->ann && vc->ann_path && vc->model_row == rec->id &&
        stat(vc->ann_path, &now) == 0 && !(vc->seen_valid && same_file(&now, &vc->seen)))
        adopted = adopt_saved(vc, st, rec, gen);
    int stale = !adopted && (rebuild || !vc->ann || vc->generation != gen || vc->model_row != rec->id);
    int was_built = vc->ann != NULL;
    if (stale) rc = sync_locked(vc, st, rec, gen, rebuild);
    /* A full build is saved so the next process maps it instead; a view
     * kept current batch by batch is saved when asked (end of a run). A
     * store in a read-only place simply keeps its view in memory. */
    if (!rc && (save || (stale && !was_built && vc->dirty))) {
        int r = save_locked(vc, rec);
        if (r && save) rc = r;
    }
    pthread_rwlock_unlock(&vc->rw);
    return rc;
}

/* ------------------------------------------------------------------ search */

/* The exclusions (the query's own file and item). */
static int accept(uint64_t id, const iris_ann_attr *attr, void *ctx)
{
    const vfilter *f = ctx;
    if (f->exclude_item && (int64_t)id == f->exclude_item) return 0;
    for (int k = 0; k < f->n_exclude; k++)
        if (attr->tag == (uint32_t)f->exclude[k]) return 0;
    return 1;
}

/* f as an index filter: modalities, contents as tags, exclusions as a
 * predicate; NULL when nothing is filtered (the index's fastest path). */
static const iris_ann_filter *make_filter(const vfilter *f, iris_ann_filter *out, uint32_t **tags)
{
    *tags = NULL;
    memset(out, 0, sizeof *out);
    out->modalities = f->modalities;
    if (f->contents) {
        *tags = malloc((size_t)(f->n_contents ? f->n_contents : 1) * sizeof **tags);
        if (!*tags) return NULL;
        for (int i = 0; i < f->n_contents; i++) (*tags)[i] = (uint32_t)f->contents[i];
        out->tags = *tags;
        out->n_tags = (size_t)f->n_contents;
    }
    if (f->exclude_item || f->n_exclude) {
        out->accept = accept;
        out->ctx = (void *)f;
    }
    return out->modalities || out->tags || out->accept ? out : NULL;
}

int vcache_search(vcache *vc, const float *query, int dim, const vfilter *f, int depth,
                  vhit **hits, int *n_hits)
{
    *hits = NULL;
    *n_hits = 0;
    if (depth <= 0) return IRIS_OK;
    iris_ann_hit *h = malloc((size_t)depth * sizeof *h);
    iris_ann_filter filter;
    uint32_t *tags;
    iris_ann_search_opts o = {.filter = make_filter(f, &filter, &tags)};
    if (!h || (f->contents && !tags)) {
        free(h);
        return iris_fail(IRIS_ENOMEM, "no memory for %d candidates", depth);
    }
    int n = 0, rc = IRIS_OK;
    pthread_rwlock_rdlock(&vc->rw);
    o.method = vc->method;
    if (vc->ann && dim != vc->dim)
        rc = iris_fail(IRIS_EARG, "query vector has %d dims, the index's vectors %d", dim, vc->dim);
    else if (vc->ann)
        rc = iris_ann_search(vc->ann, query, depth, &o, h, &n);
    pthread_rwlock_unlock(&vc->rw);
    vhit *out = rc ? NULL : malloc((size_t)(n ? n : 1) * sizeof *out);
    if (!rc && !out) rc = iris_fail(IRIS_ENOMEM, "no memory");
    int m = 0;
    for (int i = 0; !rc && i < n; i++) {
        if (f->has_min && !(h[i].score >= f->min)) break; /* sorted: a cut */
        out[m++] = (vhit){(int64_t)h[i].id, h[i].score};
    }
    free(h);
    free(tags);
    if (rc) return rc;
    *hits = out;
    *n_hits = m;
    return IRIS_OK;
}

static iris_ann_stats view_stats(vcache *vc)
{
    iris_ann_stats s = {0};
    pthread_rwlock_rdlock(&vc->rw);
    if (vc->ann) iris_ann_stats_get(vc->ann, &s);
    pthread_rwlock_unlock(&vc->rw);
    return s;
}

int vcache_count(vcache *vc, int *graph)
{
    iris_ann_stats s = view_stats(vc);
    if (graph) *graph = s.graph;
    return (int)s.live;
}

int vcache_method(vcache *vc)
{
    pthread_rwlock_rdlock(&vc->rw);
    int m = vc->method;
    pthread_rwlock_unlock(&vc->rw);
    return m;
}

int vcache_deleted(vcache *vc) { return (int)view_stats(vc).deleted; }
