/*
 * index.c - the iris_ann object: configuration, adding, deleting, updating,
 * compaction, and the automatic switch from exact search to HNSW.
 *
 * An add runs in steps that keep readers safe without holding them up:
 *   1. draw levels and, under the write lock, reserve room (the only moment
 *      storage may move);
 *   2. write the rows past the published count, where no reader looks;
 *   3. tombstone the rows of updated ids, then publish the new count (or,
 *      while the int8 calibration still follows the data, recalibrate and
 *      publish under the write lock);
 *   4. link the rows into the graph on n_threads threads. Searches scan the
 *      not-yet-linked rows exactly meanwhile (search.c), so nothing goes
 *      missing.
 * Compaction builds a complete new core from the live rows while readers
 * use the old one, then swaps the pointer under the write lock.
 */
#include "index/core.h"
#include "index/hnsw.h"

#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void iris_ann_config_default(iris_ann_config *cfg, int dim)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dim = dim;
    cfg->storage = IRIS_ANN_F32;
    cfg->mode = IRIS_ANN_AUTO;
    cfg->hnsw_threshold = 20000;
    cfg->M = 16;
    cfg->ef_construction = 200;
    cfg->ef_search = 64;
    cfg->rescore = 0;
    cfg->n_threads = 0;
    cfg->seed = 42;
}

int ann_config_check(const iris_ann_config *cfg)
{
    if (cfg->dim < 1 || cfg->dim > ANN_MAX_DIM)
        return iris_fail(IRIS_EARG, "index: dim %d out of range 1..%d", cfg->dim, ANN_MAX_DIM);
    if (cfg->storage != IRIS_ANN_F32 && cfg->storage != IRIS_ANN_F16)
        return iris_fail(IRIS_EARG, "index: unknown storage %d", cfg->storage);
    if (cfg->mode < IRIS_ANN_AUTO || cfg->mode > IRIS_ANN_HNSW)
        return iris_fail(IRIS_EARG, "index: unknown mode %d", cfg->mode);
    if (cfg->M < 2 || cfg->M > ANN_MAX_M)
        return iris_fail(IRIS_EARG, "index: M = %d out of range 2..%d", cfg->M, ANN_MAX_M);
    if (cfg->ef_construction < 1 || cfg->ef_construction > 100000 || cfg->ef_search < 1 ||
        cfg->ef_search > 100000 || cfg->rescore < 0 || cfg->hnsw_threshold < 0)
        return iris_fail(IRIS_EARG, "index: ef_construction %d / ef_search %d / rescore %d / "
                                    "threshold %d out of range", cfg->ef_construction,
                         cfg->ef_search, cfg->rescore, cfg->hnsw_threshold);
    return 0;
}

int ann_wrap(const iris_ann_config *cfg, ann_core *core, iris_ann **out)
{
    iris_ann *a = calloc(1, sizeof *a);
    if (!a) return iris_fail(IRIS_ENOMEM, "index: out of memory");
    a->cfg = *cfg;
    a->core = core;
    a->k = ann_kernels_best();
    a->rng = cfg->seed;
    pthread_mutex_init(&a->writer, NULL);
    pthread_rwlockattr_t at;
    pthread_rwlockattr_init(&at);
    /* Without this a steady stream of searches could starve an add. */
    pthread_rwlockattr_setkind_np(&at, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&a->rw, &at);
    pthread_rwlockattr_destroy(&at);
    *out = a;
    return 0;
}

int iris_ann_create(const iris_ann_config *cfg, iris_ann **out)
{
    if (!cfg || !out) return iris_fail(IRIS_EARG, "iris_ann_create: NULL argument");
    *out = NULL;
    int rc = ann_config_check(cfg);
    ann_core *c = NULL;
    if (!rc) rc = ann_core_new(cfg, &c);
    if (rc) return rc;
    c->graph = cfg->mode == IRIS_ANN_HNSW;
    rc = ann_wrap(cfg, c, out);
    if (rc) ann_core_free(c);
    return rc;
}

void iris_ann_free(iris_ann *a)
{
    if (!a) return;
    ann_core_free(a->core);
    pthread_rwlock_destroy(&a->rw);
    pthread_mutex_destroy(&a->writer);
    free(a);
}

int iris_ann_path(const char *store_path, char *buf, size_t cap)
{
    if (!store_path || !buf) return iris_fail(IRIS_EARG, "iris_ann_path: NULL argument");
    int n = snprintf(buf, cap, "%s.ann", store_path);
    if (n < 0 || (size_t)n >= cap)
        return iris_fail(IRIS_ELIMIT, "iris_ann_path: path too long: %s", store_path);
    return 0;
}

/* ------------------------------------------------------------------ adding */

static int check_add(const iris_ann *a, size_t n, const uint64_t *ids, const float *v,
                     const iris_ann_attr *attrs)
{
    if (!a || (n && (!ids || !v))) return iris_fail(IRIS_EARG, "iris_ann_add: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (attrs && attrs[i].modality > 31)
            return iris_fail(IRIS_EARG, "iris_ann_add: item %llu: modality %d > 31",
                             (unsigned long long)ids[i], attrs[i].modality);
        const float *x = v + i * (size_t)a->cfg.dim;
        for (int d = 0; d < a->cfg.dim; d++)
            if (!isfinite(x[d]))
                return iris_fail(IRIS_EARG, "iris_ann_add: item %llu: value %d is not finite",
                                 (unsigned long long)ids[i], d);
    }
    return 0;
}

/* Step 3: map ids to their new rows, tombstoning the rows they replace. */
static int register_rows(ann_core *c, size_t row0, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&c->map_lock);
    for (size_t i = 0; i < n && !rc; i++) {
        ann_meta *m = ann_meta_at(c, row0 + i);
        __atomic_fetch_add(&c->live, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&c->live_mod[m->modality], 1, __ATOMIC_RELAXED);
        uint32_t old;
        rc = ann_idmap_put(&c->map, m->id, (uint32_t)(row0 + i), &old);
        if (!rc && old != ANN_NONE) ann_core_kill_row(c, old);
    }
    pthread_mutex_unlock(&c->map_lock);
    return rc;
}

/* Steps 1-3 for rows taken from vecs; returns the first new row in *row0. */
static int append_rows(iris_ann *a, ann_core *c, size_t n, const uint64_t *ids, const float *vecs,
                       const iris_ann_attr *attrs, size_t *row0)
{
    if (n > (size_t)UINT32_MAX - 1 - c->rows)
        return iris_fail(IRIS_ELIMIT, "index: more than 2^32 - 1 rows");
    int *level = malloc(n * sizeof *level + 1);
    if (!level) return iris_fail(IRIS_ENOMEM, "index: out of memory");
    size_t words = 0;
    for (size_t i = 0; i < n; i++) {
        level[i] = hnsw_draw_level(&a->rng, c->M);
        words += (size_t)level[i] * (size_t)(c->M + 1);
    }
    pthread_rwlock_wrlock(&a->rw);
    int rc = ann_core_reserve(c, n, words);
    pthread_rwlock_unlock(&a->rw);
    *row0 = c->rows;
    for (size_t i = 0; i < n && !rc; i++)
        rc = ann_core_put_row(c, a->k, *row0 + i, ids[i], vecs + i * (size_t)c->dim,
                              attrs ? &attrs[i] : NULL, level[i]);
    free(level);
    if (!rc) rc = register_rows(c, *row0, n);
    if (rc) return rc;
    size_t rows = *row0 + n;
    if (c->cal.samples < ANN_CALIB_FREEZE && rows >= 2 * c->cal.samples) {
        pthread_rwlock_wrlock(&a->rw);
        c->rows = rows;
        rc = ann_core_calibrate(c, a->k, ANN_CALIB_FREEZE);
        pthread_rwlock_unlock(&a->rw);
    } else {
        __atomic_store_n(&c->rows, rows, __ATOMIC_RELEASE);
    }
    return rc;
}

/* Step 4: link new rows, or build the graph when AUTO crosses the threshold. */
static int link_rows(iris_ann *a, ann_core *c, size_t row0)
{
    int threads = ann_threads(ann_knob(&a->cfg.n_threads));
    if (__atomic_load_n(&c->graph, __ATOMIC_ACQUIRE))
        return hnsw_insert(c, a->k, row0, c->rows, a->cfg.ef_construction, threads);
    if (a->cfg.mode != IRIS_ANN_AUTO || c->live < (size_t)a->cfg.hnsw_threshold) return 0;
    int rc = hnsw_insert(c, a->k, 0, c->rows, a->cfg.ef_construction, threads);
    if (!rc) __atomic_store_n(&c->graph, 1, __ATOMIC_RELEASE);
    return rc;
}

int iris_ann_add(iris_ann *a, size_t n, const uint64_t *ids, const float *vectors,
                 const iris_ann_attr *attrs)
{
    int rc = check_add(a, n, ids, vectors, attrs);
    if (rc || !n) return rc;
    pthread_mutex_lock(&a->writer);
    ann_core *c = a->core;
    size_t row0 = 0;
    rc = ann_core_map_ready(c);
    if (!rc) rc = append_rows(a, c, n, ids, vectors, attrs, &row0);
    if (!rc) rc = link_rows(a, c, row0);
    pthread_mutex_unlock(&a->writer);
    return rc;
}

int iris_ann_delete(iris_ann *a, size_t n, const uint64_t *ids, size_t *n_deleted)
{
    if (!a || (n && !ids)) return iris_fail(IRIS_EARG, "iris_ann_delete: NULL argument");
    size_t del = 0;
    pthread_mutex_lock(&a->writer);
    ann_core *c = a->core;
    int rc = ann_core_map_ready(c);
    for (size_t i = 0; i < n && !rc; i++) {
        pthread_mutex_lock(&c->map_lock);
        uint32_t row = ann_idmap_del(&c->map, ids[i]);
        pthread_mutex_unlock(&c->map_lock);
        if (row == ANN_NONE) continue;
        ann_core_kill_row(c, row);
        del++;
    }
    pthread_mutex_unlock(&a->writer);
    if (n_deleted) *n_deleted = del;
    return rc;
}

/* -------------------------------------------------------------- compaction */

static int copy_live(iris_ann *a, const ann_core *old, ann_core *c)
{
    float *v = malloc((size_t)old->dpad * sizeof *v);
    uint64_t *ids = malloc(ANN_CHUNK_ROWS * sizeof *ids);
    float *vecs = malloc(ANN_CHUNK_ROWS * (size_t)old->dim * sizeof *vecs);
    iris_ann_attr *attrs = malloc(ANN_CHUNK_ROWS * sizeof *attrs);
    int rc = v && ids && vecs && attrs ? 0 : iris_fail(IRIS_ENOMEM, "index: out of memory");
    /* In batches, so the temporary copy stays small. */
    for (size_t r = 0; r < old->rows && !rc;) {
        size_t n = 0;
        for (; r < old->rows && n < ANN_CHUNK_ROWS; r++) {
            if (ann_row_deleted(old, r)) continue;
            const ann_meta *m = ann_meta_at(old, r);
            ann_core_vector(old, r, v);
            memcpy(vecs + n * (size_t)old->dim, v, (size_t)old->dim * sizeof *v);
            ids[n] = m->id;
            attrs[n++] = (iris_ann_attr){m->modality, m->tag};
        }
        size_t row0;
        rc = append_rows(a, c, n, ids, vecs, attrs, &row0);
    }
    free(v);
    free(ids);
    free(vecs);
    free(attrs);
    return rc;
}

int iris_ann_compact(iris_ann *a)
{
    if (!a) return iris_fail(IRIS_EARG, "iris_ann_compact: NULL argument");
    pthread_mutex_lock(&a->writer);
    ann_core *old = a->core, *c = NULL;
    int rc = ann_core_new(&a->cfg, &c);
    if (!rc) {
        c->map_built = 1;
        rc = copy_live(a, old, c);
    }
    if (!rc && c->cal.samples < c->rows) rc = ann_core_calibrate(c, a->k, ANN_CALIB_FREEZE);
    int graph = old->graph || a->cfg.mode == IRIS_ANN_HNSW ||
                (a->cfg.mode == IRIS_ANN_AUTO && c->live >= (size_t)a->cfg.hnsw_threshold);
    if (!rc && graph) {
        rc = hnsw_insert(c, a->k, 0, c->rows, a->cfg.ef_construction,
                         ann_threads(ann_knob(&a->cfg.n_threads)));
        c->graph = 1;
    }
    if (!rc) {
        pthread_rwlock_wrlock(&a->rw);
        a->core = c;
        pthread_rwlock_unlock(&a->rw);
        ann_core_free(old);
    } else {
        ann_core_free(c);
    }
    pthread_mutex_unlock(&a->writer);
    return rc;
}

/* ------------------------------------------------------------- inspection */

int iris_ann_get(iris_ann *a, uint64_t id, float *vector, iris_ann_attr *attr)
{
    if (!a) return iris_fail(IRIS_EARG, "iris_ann_get: NULL argument");
    pthread_rwlock_rdlock(&a->rw);
    ann_core *c = a->core;
    int rc = ann_core_map_ready(c);
    uint32_t row = ANN_NONE;
    if (!rc) {
        pthread_mutex_lock(&c->map_lock);
        row = ann_idmap_get(&c->map, id);
        pthread_mutex_unlock(&c->map_lock);
    }
    if (!rc && (row == ANN_NONE || ann_row_deleted(c, row)))
        rc = iris_fail(IRIS_ENOTFOUND, "index: no item %llu", (unsigned long long)id);
    if (!rc && vector) {
        float *v = malloc((size_t)c->dpad * sizeof *v);
        if (!v) {
            rc = iris_fail(IRIS_ENOMEM, "index: out of memory");
        } else {
            ann_core_vector(c, row, v);
            memcpy(vector, v, (size_t)c->dim * sizeof *v);
        }
        free(v);
    }
    if (!rc && attr) {
        const ann_meta *m = ann_meta_at(c, row);
        *attr = (iris_ann_attr){m->modality, m->tag};
    }
    pthread_rwlock_unlock(&a->rw);
    return rc;
}

int iris_ann_stats_get(iris_ann *a, iris_ann_stats *st)
{
    if (!a || !st) return iris_fail(IRIS_EARG, "iris_ann_stats_get: NULL argument");
    pthread_rwlock_rdlock(&a->rw);
    const ann_core *c = a->core;
    uint64_t e = __atomic_load_n(&c->entry, __ATOMIC_ACQUIRE);
    *st = (iris_ann_stats){
        .dim = c->dim, .storage = c->storage, .mode = a->cfg.mode,
        .rows = ann_rows(c),
        .live = __atomic_load_n(&c->live, __ATOMIC_RELAXED),
        .deleted = __atomic_load_n(&c->deleted, __ATOMIC_RELAXED),
        .graph = __atomic_load_n(&c->graph, __ATOMIC_ACQUIRE),
        .max_level = e == ANN_NO_ENTRY ? 0 : (int)(e >> 32),
        .memory_bytes = ann_core_heap_bytes(c),
        .mapped_bytes = c->map_size,
        .fingerprint = __atomic_load_n(&a->fingerprint, __ATOMIC_RELAXED),
        .simd = a->k->name,
    };
    pthread_rwlock_unlock(&a->rw);
    return 0;
}

void iris_ann_set_fingerprint(iris_ann *a, uint64_t fingerprint)
{
    if (!a) return;
    /* Atomic: stats readers may look at it while a save is pending. */
    __atomic_store_n(&a->fingerprint, fingerprint, __ATOMIC_RELAXED);
}

void iris_ann_set_search(iris_ann *a, int ef_search, int rescore, int n_threads)
{
    if (!a) return;
    if (ef_search > 0) __atomic_store_n(&a->cfg.ef_search, ef_search, __ATOMIC_RELAXED);
    if (rescore > 0) __atomic_store_n(&a->cfg.rescore, rescore, __ATOMIC_RELAXED);
    if (n_threads > 0) __atomic_store_n(&a->cfg.n_threads, n_threads, __ATOMIC_RELAXED);
}
