/*
 * vcache.h - the vector lane's view of the index's CLIP vectors: a vector
 * index from src/index (exact SIMD scan below its size threshold, HNSW
 * with int8 distances and full-precision rescoring above), kept in step
 * with the store and persisted beside it ("index.db.ann").
 *
 * The store is the source of truth. The view is tagged with the store's
 * generation counter, which every commit that changes items bumps (in any
 * process); before each query the engine compares generations and, on a
 * change, brings the view up to date:
 *
 *  - first use in a process: the saved file is mapped (no rebuild) when
 *    its fingerprint (model id + generation) matches the store; otherwise
 *    every vector is read from the store, the index is built and saved;
 *  - later changes: the item list is read (ids, contents, modalities, not
 *    vectors: ~40 ms per 100K items) and diffed against a mirror of what
 *    the index holds; only new items' vectors are read and added, removed
 *    items are deleted. An id SQLite reused for another item is caught by
 *    its key (content hash + position).
 *
 * The file is saved after a full build and by vcache_sync(save = 1)
 * (`iris index` ends with it through iris_db_ann_sync). A process that
 * cannot write next to the store keeps its view in memory. Deletes are
 * tombstones in the index; a save compacts it first when they outnumber
 * a fifth of the live items. A long-lived process (iris serve) checks the
 * file's identity before each query (one stat): when another process has
 * replaced it with one that describes the store as it is now, that file
 * becomes the view, so the writer's compaction reaches the server without
 * a restart.
 *
 * Filters (modality set, path-matched contents, excluded contents and
 * item) are passed into the index search, which plans for them (an exact
 * scan of the admitted items when they are few), so a selective filter
 * still yields up to `depth` hits when that many items pass: nothing is
 * filtered after the cut.
 *
 * Locking: a read-write lock; refresh takes it for writing (callers also
 * hold the db lock, which guards the store), searches for reading.
 */
#ifndef IRIS_SEARCH_VCACHE_H
#define IRIS_SEARCH_VCACHE_H

#include <stdint.h>

#include "store/store.h"

typedef struct vcache vcache;

/* ann_path: where the index file lives (NULL: never persisted). */
int vcache_create(const char *ann_path, vcache **out);
void vcache_free(vcache *vc);

/* Brings the view up to date with the store for model rec (see above);
 * rebuild = 1 discards it and builds afresh; save = 1 writes the file when
 * the view changed since it was last written. Caller holds the db lock. */
int vcache_sync(vcache *vc, store *st, const store_model *rec, int rebuild, int save);

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
    float score; /* cosine: the query and the vectors are unit length */
} vhit;

/* The best (up to) depth items for the query, best first; *hits is
 * malloc'ed. IRIS_EARG if dim is not the indexed vectors' dim. */
int vcache_search(vcache *vc, const float *query, int dim, const vfilter *f, int depth,
                  vhit **hits, int *n_hits);

/* Vectors in the view, and whether the graph (HNSW) is built. */
int vcache_count(vcache *vc, int *graph);

/* Deleted items the view still holds as tombstones. */
int vcache_deleted(vcache *vc);

/* The search method [index] mode asks for: IRIS_ANN_AUTO, or
 * IRIS_ANN_EXACT_INT8 for mode = int8. */
int vcache_method(vcache *vc);

#endif
