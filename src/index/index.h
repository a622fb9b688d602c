/*
 * index.h - vector search for iris: exact SIMD scans, HNSW, int8 and binary
 * quantization with full-precision rescoring, filters, and a memory-mapped,
 * checksummed file. A core module: it knows vectors, 64-bit item ids and a
 * few attributes per item, nothing of SQLite or CLIP.
 *
 * Scores are dot products (cosine for the unit-normalised CLIP vectors the
 * engine stores); higher is better; hits come sorted by descending score.
 *
 * How the engine uses it
 * ----------------------
 *  1. Location: the index lives beside the store, iris_ann_path() turns
 *     "index.db" into "index.db.ann".
 *  2. Start-up: iris_ann_open(path, &opts, &ann, &why) with opts.dim set to
 *     the model's dim and opts.fingerprint to the store's current
 *     fingerprint. On IRIS_OK the file is mapped (no rebuild, only the small
 *     structural sections are read). On any failure `why` says what is wrong
 *     (IRIS_ANN_MISSING, _CORRUPT, _TRUNCATED, _VERSION, _STALE, _MISMATCH);
 *     the engine then logs it, creates a fresh index (iris_ann_create) and
 *     re-adds every vector from the store, then saves. That is also what
 *     `iris index --rebuild-ann` does, unconditionally.
 *  3. Fingerprint: a 64-bit value the engine derives from the store, e.g. a
 *     hash of (model id, number of vectors, largest vector rowid, a change
 *     counter bumped by every delete/update). Set it with
 *     iris_ann_set_fingerprint() right before iris_ann_save(), after the
 *     store transaction that it describes has committed. A crash between the
 *     commit and the save leaves an older fingerprint in the file, so the
 *     next open reports IRIS_ANN_STALE and the engine rebuilds.
 *  4. Ingestion: after each committed batch, iris_ann_add() the batch's
 *     (item id, vector, attributes); an id already present is updated in
 *     place of the old vector. iris_ann_delete() for pruned items. Save at
 *     the end of the run (and, for long runs, every few thousand items).
 *  5. Maintenance: when iris_ann_stats() shows deleted > live / 5, call
 *     iris_ann_compact() before saving (it rebuilds the graph and the int8
 *     calibration from the live items; readers keep working meanwhile).
 *  6. Search: iris_ann_search() with k and optional iris_ann_search_opts.
 *     Modality filters map to the per-item modality code; path-prefix and
 *     file-set filters are resolved by the engine, either to an allowed
 *     item-id list (opts.filter->ids) or, cheaper, to allowed tags when the
 *     engine stores the source file's rowid as the item's tag. A filtered
 *     search never silently returns fewer hits than exist: a selective
 *     filter is answered by an exact scan of the admitted items.
 *
 * Methods: below cfg.hnsw_threshold live items (default 20000) a search is
 * an exact full-precision scan; at the threshold the graph is built once (in
 * parallel) and kept up to date by every later add. IRIS_ANN_EXACT /
 * IRIS_ANN_HNSW in the config force one behaviour; the search options can
 * ask for a particular method per query (exact, int8 scan, binary scan).
 *
 * Threads: one iris_ann may be searched by any number of threads while one
 * thread adds, deletes, compacts or saves (writers are serialised by an
 * internal mutex). Readers never wait for graph inserts; they pause only for
 * the rare moments when storage grows or is swapped. Items become visible to
 * every search method as soon as iris_ann_add() has stored them.
 *
 * Errors follow the house rule: IRIS_OK or an IRIS_E* code with a message in
 * iris_errmsg() (see src/util/error.h).
 */
#ifndef IRIS_INDEX_INDEX_H
#define IRIS_INDEX_INDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iris_ann iris_ann;

/* Full-precision storage of the vectors (used for exact scans and rescoring). */
enum { IRIS_ANN_F32 = 0, IRIS_ANN_F16 = 1 };

/* Index modes (config) and search methods (per query). */
enum {
    IRIS_ANN_AUTO = 0,        /* config: exact below hnsw_threshold, HNSW above */
    IRIS_ANN_EXACT = 1,       /* full-precision scan (f32 or f16 storage); exact */
    IRIS_ANN_HNSW = 2,        /* graph search with int8 distances, then rescoring */
    IRIS_ANN_EXACT_INT8 = 3,  /* search only: int8 scan, rescore the best candidates */
    IRIS_ANN_EXACT_BINARY = 4 /* search only: Hamming scan of sign bits, rescore */
};

typedef struct iris_ann_config {
    int dim;             /* vector length (the model's projection dim); required */
    int storage;         /* IRIS_ANN_F32 (default) or IRIS_ANN_F16 */
    int mode;            /* IRIS_ANN_AUTO (default), IRIS_ANN_EXACT or IRIS_ANN_HNSW */
    int hnsw_threshold;  /* AUTO: live items at which the graph is built (20000) */
    int M;               /* graph degree (16; level 0 keeps 2*M links) */
    int ef_construction; /* build beam width (200) */
    int ef_search;       /* default search beam width (64; see docs/index.md) */
    int rescore;         /* candidates rescored in full precision (0 = auto) */
    int n_threads;       /* threads for bulk inserts and exact scans; 0 = all cores */
    uint64_t seed;       /* graph level draws; same seed + 1 thread = same graph */
} iris_ann_config;

/* Fills cfg with the defaults for vectors of length dim. */
void iris_ann_config_default(iris_ann_config *cfg, int dim);

/* Item attributes, usable by filters. */
typedef struct iris_ann_attr {
    uint8_t modality; /* engine's modality code, 0..31 */
    uint32_t tag;     /* engine-defined, e.g. the source file's rowid */
} iris_ann_attr;

typedef struct iris_ann_filter {
    uint32_t modalities;  /* bit m admits modality m; 0 admits all */
    const uint64_t *ids;  /* non-NULL: admit only these ids (n_ids may be 0) */
    size_t n_ids;
    const uint32_t *tags; /* non-NULL: admit only items whose tag is listed */
    size_t n_tags;
    /* Optional predicate, called on candidates that passed the rest; return
     * non-zero to admit. Called from the searching thread; must be cheap
     * and thread-safe if searches run concurrently. */
    int (*accept)(uint64_t id, const iris_ann_attr *attr, void *ctx);
    void *ctx;
} iris_ann_filter;

/* What a search did (for logs, tests and tuning). */
typedef struct iris_ann_search_info {
    int method;          /* method actually used (IRIS_ANN_EXACT, ...) */
    int fell_back;       /* 1 if a graph search was short and redone exactly */
    size_t admitted_est; /* estimated items admitted by the filter */
    size_t visited;      /* graph nodes whose distance was computed */
} iris_ann_search_info;

typedef struct iris_ann_search_opts {
    int method;                    /* IRIS_ANN_AUTO (default) or a forced method */
    int ef;                        /* graph beam width; 0 = config ef_search */
    int rescore;                   /* candidates rescored; 0 = config rescore */
    const iris_ann_filter *filter; /* NULL = no filter */
    iris_ann_search_info *info;    /* optional out (single searches only) */
} iris_ann_search_opts;

typedef struct iris_ann_hit {
    uint64_t id;
    float score;
} iris_ann_hit;

typedef struct iris_ann_stats {
    int dim, storage, mode;
    size_t rows;         /* stored rows, deleted ones included */
    size_t live;         /* searchable items */
    size_t deleted;      /* tombstones awaiting iris_ann_compact() */
    int graph;           /* 1 once the HNSW graph exists */
    int max_level;       /* graph height */
    size_t memory_bytes; /* heap bytes owned (mapped file pages excluded) */
    size_t mapped_bytes; /* bytes of the mapped file */
    uint64_t fingerprint;
    const char *simd;    /* kernel level in use: "scalar", "avx2", "avx512" */
} iris_ann_stats;

/* Why iris_ann_open() failed (IRIS_ANN_OK on success). */
enum {
    IRIS_ANN_OK = 0,
    IRIS_ANN_MISSING = 1,   /* no file: first run */
    IRIS_ANN_CORRUPT = 2,   /* bad magic, checksum or structure */
    IRIS_ANN_TRUNCATED = 3, /* shorter than its header says */
    IRIS_ANN_VERSION = 4,   /* written by another format version */
    IRIS_ANN_STALE = 5,     /* fingerprint differs from the store's */
    IRIS_ANN_MISMATCH = 6,  /* dim differs from the model's */
    IRIS_ANN_IOERR = 7      /* could not be read */
};
/* Short name of an IRIS_ANN_* reason ("stale", ...). */
const char *iris_ann_why(int why);

enum {
    IRIS_ANN_VERIFY_AUTO = 0,      /* everything when the file is <= 256 MiB, else structure */
    IRIS_ANN_VERIFY_FULL = 1,      /* checksum every section (reads the whole file) */
    IRIS_ANN_VERIFY_STRUCTURE = 2  /* header, ids, attributes, graph; vectors unchecked */
};

typedef struct iris_ann_open_opts {
    int dim;              /* expected dim; 0 = accept the file's */
    int check_fingerprint;/* 1: compare with fingerprint below */
    uint64_t fingerprint;
    int verify;           /* IRIS_ANN_VERIFY_* */
    int n_threads;        /* run-time override; 0 = all cores */
    int ef_search;        /* run-time override; 0 = the file's */
} iris_ann_open_opts;

int iris_ann_create(const iris_ann_config *cfg, iris_ann **out);
/* Maps an index file. why (may be NULL) receives an IRIS_ANN_* reason. */
int iris_ann_open(const char *path, const iris_ann_open_opts *opts, iris_ann **out, int *why);
/* Writes the index atomically: temp file, fsync, rename, fsync of the folder. */
int iris_ann_save(iris_ann *ann, const char *path);
void iris_ann_free(iris_ann *ann);

/* Writes "<store_path>.ann" into buf (cap bytes). */
int iris_ann_path(const char *store_path, char *buf, size_t cap);

/* Adds n items (vectors: n x dim floats, finite). An id already present is
 * updated: its old vector is deleted. attrs may be NULL (all zero). */
int iris_ann_add(iris_ann *ann, size_t n, const uint64_t *ids, const float *vectors,
                 const iris_ann_attr *attrs);
/* Deletes ids; *n_deleted (may be NULL) counts those that were present. */
int iris_ann_delete(iris_ann *ann, size_t n, const uint64_t *ids, size_t *n_deleted);
/* Rebuilds storage, int8 calibration and graph from the live items. */
int iris_ann_compact(iris_ann *ann);

/* Top-k search. hits has room for k; *n_hits receives the count, which is
 * min(k, admitted items) unless the method is approximate. opts may be NULL. */
int iris_ann_search(iris_ann *ann, const float *query, int k, const iris_ann_search_opts *opts,
                    iris_ann_hit *hits, int *n_hits);
/* nq queries (nq x dim floats); hits is nq x k, n_hits has nq entries. Exact
 * scans share each pass over memory between queries; graph searches run in
 * parallel on n_threads. opts->info is ignored. */
int iris_ann_search_batch(iris_ann *ann, const float *queries, int nq, int k,
                          const iris_ann_search_opts *opts, iris_ann_hit *hits, int *n_hits);

/* Copies the stored vector (dim floats) and attributes of id (either may be
 * NULL). IRIS_ENOTFOUND if absent or deleted. */
int iris_ann_get(iris_ann *ann, uint64_t id, float *vector, iris_ann_attr *attr);
int iris_ann_stats_get(iris_ann *ann, iris_ann_stats *st);
void iris_ann_set_fingerprint(iris_ann *ann, uint64_t fingerprint);
/* Run-time knobs (not structural): 0 keeps the current value. */
void iris_ann_set_search(iris_ann *ann, int ef_search, int rescore, int n_threads);

#ifdef __cplusplus
}
#endif
#endif
