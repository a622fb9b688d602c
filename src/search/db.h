/*
 * db.h - the iris_db handle behind the public store/search API, shared by
 * the engines (src/search, src/ingest, src/rag): one store connection, the
 * CLIP model it was built with, and the search engine's in-memory state.
 *
 * Locking: `lock` serialises every use of `st` (one SQLite connection may
 * serve one thread at a time) and the lazy model load. Engines call
 * db_lock()/db_unlock() around their store work and never hold the lock
 * while encoding: the model is read-only once loaded, so any number of
 * threads encode at once. The vector cache has a lock of its own
 * (vcache.h) so that scans run in parallel too.
 *
 * Model rules (iris_db_opts.model in iris.h): the model is resolved when
 * first needed, checked against the one recorded in the index (its id is
 * a hash of config + weights, so the same model found at another path is
 * accepted) and recorded by db_record_model() on the first index run.
 */
#ifndef IRIS_SEARCH_DB_H
#define IRIS_SEARCH_DB_H

#include <pthread.h>
#include <stdint.h>

#include "iris.h"
#include "store/store.h"

struct vcache;

struct iris_db {
    char *path;             /* the index file */
    store *st;              /* guarded by lock */
    pthread_mutex_t lock;
    int readonly;
    int n_threads;
    char *model_arg;        /* iris_db_opts.model as given, or NULL */
    iris_model *model;      /* NULL until first needed */
    char model_ref[4096];   /* a known name, or the model's absolute path */
    int64_t model_row;      /* the store's id for the model once recorded */
    struct vcache *vc;      /* search's vector cache (vcache.h) */
};

void db_lock(iris_db *db);
void db_unlock(iris_db *db);

/* iris_db_model() for a caller that holds the lock. */
int db_model_locked(iris_db *db, const iris_model **model);
/* Loads the model if needed and records it in the index unless already
 * there; *model_row receives the store's model id (for store_item_add).
 * Caller holds the lock; the index must be writable. */
int db_record_model_locked(iris_db *db, const iris_model **model, int64_t *model_row);
/* The recorded model's store id, or IRIS_ENOTFOUND for an index nothing
 * was indexed into. Caller holds the lock. */
int db_model_row_locked(iris_db *db, int64_t *model_row);

#endif
