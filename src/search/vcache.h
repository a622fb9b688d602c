/*
 * vcache.h - the vector lane's exact search: every CLIP vector of the
 * index held in one contiguous matrix, scanned with BLAS per query.
 *
 * The store is the source of truth; the cache is a copy tagged with the
 * store's generation counter, which every commit that changes items bumps
 * (in any process). Before each query the engine compares generations and
 * reloads on a change, so results never lag the index. A reload reads all
 * vectors (100K x 512 floats: ~200 MB, a fraction of a second); the
 * vector index of issue 4 (src/index/) replaces this with incremental
 * updates and HNSW above a size threshold.
 *
 * Filters (modality set, path-matched content set, excluded contents and
 * item, minimum cosine) are applied while selecting the top candidates, so
 * a selective filter still yields up to `depth` hits when that many items
 * pass it: nothing is filtered after the cut.
 *
 * Locking: a read-write lock; refresh takes it for writing (callers also
 * hold the db lock, which guards the store), scans for reading, so scans
 * run in parallel.
 */
#ifndef IRIS_SEARCH_VCACHE_H
#define IRIS_SEARCH_VCACHE_H

#include <stdint.h>

#include "store/store.h"

typedef struct vcache vcache;

int vcache_create(vcache **out);
void vcache_free(vcache *vc);

/* Reloads the vectors of model_row if the store's generation moved since
 * the last load (or the model differs). Caller holds the db lock. */
int vcache_refresh(vcache *vc, store *st, int64_t model_row);

typedef struct vfilter {
    unsigned modalities;          /* bit set; 0 = all */
    const int64_t *contents;      /* keep only these (ascending); NULL = all */
    int n_contents;
    const int64_t *exclude;       /* drop these contents (any order) */
    int n_exclude;
    int64_t exclude_item;         /* drop this item; 0 = none */
    int has_min;                  /* drop cosines below min */
    float min;
} vfilter;

typedef struct vhit {
    int64_t item_id;
    int modality;
    float score; /* cosine: the query and the vectors are unit length */
} vhit;

/* The best (up to) depth items for the query, best first (ties by item id);
 * *hits is malloc'ed. IRIS_EARG if dim is not the cached vectors' dim. */
int vcache_search(vcache *vc, const float *query, int dim, const vfilter *f, int depth,
                  vhit **hits, int *n_hits);

/* The number of vectors cached (for stats and tests). */
int vcache_count(vcache *vc);

#endif
