/*
 * store.h - the index database: one SQLite file per index (default
 * ./.iris/index.db) holding files, their contents, items (images, text
 * chunks, PDF pages and figures, OCR text, captions), CLIP vectors, a BM25
 * full-text index and the caption cache. docs/store.md has the schema and
 * the reasoning; the short version:
 *
 *  - Content is the key. A file row (path, size, mtime, SHA-256) points at
 *    a content row (one per distinct SHA-256); items belong to contents.
 *    A renamed, moved or copied file points at the content that is already
 *    there, so nothing is decoded, encoded or duplicated. A content with no
 *    file left is deleted with its items, vectors and FTS rows.
 *  - A content is "pending" while its items are being added (a 1000-page
 *    PDF spans many batches; `progress` says how far it got, so a killed
 *    run resumes) and "done" once complete. Readers (BM25, vector
 *    iteration) see only done contents. When a file changes, its old
 *    content stays visible until the new one is done, then both switch in
 *    one transaction: a changed file replaces its items atomically.
 *  - Durability: WAL journal, synchronous=NORMAL, every write inside a
 *    transaction. A process killed at any moment leaves the last committed
 *    state; an OS crash or power cut may lose the last commits, never
 *    consistency (and re-indexing redoes them).
 *  - Concurrency: one writer and any number of readers, in any processes.
 *    A store handle is one SQLite connection: use it from one thread at a
 *    time and open one handle per thread. Writers serialise on BEGIN
 *    IMMEDIATE with a busy timeout.
 *
 * Every function returns IRIS_OK or an IRIS_E* code with iris_errmsg()
 * naming the database file. Mutating calls made outside store_begin() /
 * store_commit() run in their own transaction; inside one they are atomic
 * units (savepoints) of the caller's transaction.
 */
#ifndef IRIS_STORE_STORE_H
#define IRIS_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "iris.h"

#define STORE_DEFAULT_PATH ".iris/index.db"
#define STORE_SCHEMA_VERSION 1

typedef struct store store;

typedef struct store_opts {
    int readonly;        /* never write or create; fails if absent */
    int busy_timeout_ms; /* wait for a writer's lock; 0 = 5000, < 0 = none */
    /* Cap on the database size in pages (4 KiB); writes past it fail like a
     * full disk. 0 = no cap. Used as a quota and to test disk-full paths. */
    int64_t max_pages;
} store_opts;

/* Opens (creating it and missing parent folders unless readonly) the index
 * at path. Refuses: a file that is not SQLite (IRIS_EFORMAT), a SQLite file
 * that is not an iris index (IRIS_EFORMAT), a schema newer than this build
 * (IRIS_EUNSUPPORTED). Older schemas are migrated. opts may be NULL. */
int store_open(const char *path, const store_opts *opts, store **out);
void store_close(store *st);
const char *store_path(const store *st);

/* Explicit transaction around a batch. begin takes the write lock (waits
 * up to the busy timeout). Nested begin is an error. */
int store_begin(store *st);
int store_commit(store *st);
int store_rollback(store *st); /* safe to call when no transaction is open */

/* ----------------------------------------------------------------- kinds */

typedef enum store_kind {
    STORE_KIND_OTHER = 0,
    STORE_KIND_IMAGE = 1,
    STORE_KIND_PDF = 2,
    STORE_KIND_TEXT = 3, /* plain text and Markdown */
} store_kind;

typedef enum store_modality {
    STORE_IMAGE = 1,      /* a photo / image file */
    STORE_TEXT_CHUNK = 2, /* a chunk of a text or Markdown file */
    STORE_PDF_TEXT = 3,   /* a chunk of a PDF page's text layer */
    STORE_PDF_FIGURE = 4, /* a raster figure embedded in a PDF page */
    STORE_OCR_TEXT = 5,   /* text recognised in an image or a scanned page */
    STORE_CAPTION = 6,    /* a VLM caption of an image */
} store_modality;
#define STORE_N_MODALITIES 7 /* modality values are 1..6 */
#define STORE_ALL_MODALITIES 0x7Eu

const char *store_kind_name(int kind);
const char *store_modality_name(int modality);
/* Parses a modality name ("image", "text", "pdf_text", ...); 0 if unknown. */
int store_modality_parse(const char *name);

/* ---------------------------------------------------------------- models */

/* The CLIP model an index was built with. key is iris_model_info.id. */
typedef struct store_model {
    int64_t id;
    char key[65];
    char name[128];
    int dim;
} store_model;

/* Records the model if the index has none; returns its row id. If the
 * index was built with another model: IRIS_EMODEL naming both. */
int store_model_ensure(store *st, const char *key, const char *name, int dim,
                       const char *info_json, int64_t *model_id);
/* The index's model, or IRIS_ENOTFOUND for a fresh index. */
int store_model_get(store *st, store_model *out);

/* ------------------------------------------------------- files, contents */

typedef enum store_content_state { STORE_PENDING = 0, STORE_DONE = 1 } store_content_state;

typedef struct store_content {
    int64_t id;
    char sha256[65];
    int kind;
    int state;        /* store_content_state */
    int64_t progress; /* units (PDF pages) already stored, for resuming */
    int64_t next_seq; /* 1 + the largest item seq stored so far */
} store_content;

typedef enum store_file_status { STORE_FILE_OK = 0, STORE_FILE_SKIPPED = 1 } store_file_status;

typedef struct store_file {
    int64_t id;
    int64_t size;
    int64_t mtime_ns;
    char sha256[65]; /* "" if never hashed (unreadable) */
    int kind;
    int status;        /* store_file_status */
    char reason[256];  /* why it was skipped */
    int64_t content_id; /* 0 if skipped */
    store_content content; /* valid when content_id != 0 */
} store_file;

/* Looks a path up: IRIS_OK with *out filled, or IRIS_ENOTFOUND. */
int store_file_get(store *st, const char *path, store_file *out);
/* Looks a content up by SHA-256: IRIS_OK or IRIS_ENOTFOUND. */
int store_content_get(store *st, const char *sha256, store_content *out);

typedef struct store_put {
    const char *path;
    int64_t size, mtime_ns;
    const char *sha256; /* 64 lowercase hex */
    int kind;
} store_put;

/* What store_file_put found. */
typedef struct store_put_result {
    int64_t file_id;
    int new_path;        /* the path was not in the index */
    int new_content;     /* the content was not in the index: encode it all */
    int content_changed; /* the path had other content before */
    store_content content; /* state/progress tell what is left to encode */
} store_put_result;

/* Records that path now holds the given content (marks it seen in the
 * current scan). Content already done: nothing to encode (a move, copy or
 * touch). Pending: encode from content.progress, then store_content_done. */
int store_file_put(store *st, const store_put *f, store_put_result *res);
/* Records a file that could not be indexed, with a reason; any content the
 * path had is released. sha256 may be NULL. */
int store_file_skip(store *st, const store_put *f, const char *reason, int64_t *file_id);
/* Marks an unchanged file as seen in the current scan. */
int store_file_touch(store *st, int64_t file_id);

/* Starts a scan (a walk over roots); files put, skipped or touched from now
 * on are marked seen. */
int store_scan_begin(store *st, int64_t *scan_id);
/* Removes files under roots (each a file or a folder path, no trailing
 * slash needed) not seen since store_scan_begin, then contents no file
 * uses. *removed (may be NULL) receives the number of file rows removed. */
int store_prune_unseen(store *st, const char *const *roots, int n_roots, int64_t *removed);
/* Removes the file at path, or every file under the folder path. */
int store_remove(store *st, const char *path, int64_t *removed);

/* Files under root (the rule of store_prune_unseen) not seen since
 * store_scan_begin, in path order: fn(user, path, content_id or 0) for
 * each; fn returning non-zero stops the walk with that value. An indexer
 * calls this before pruning to tell moved files from deleted ones. */
typedef int (*store_unseen_fn)(void *user, const char *path, int64_t content_id);
int store_unseen_each(store *st, const char *root, store_unseen_fn fn, void *user);
/* Marks every file under root as seen in the current scan (a folder that
 * could not be read this time keeps what it held). *kept may be NULL. */
int store_keep_under(store *st, const char *root, int64_t *kept);

/* Metadata title of a content (PDF title); searchable with the file names. */
int store_content_set_title(store *st, int64_t content_id, const char *title);
/* Records resume progress (e.g. pages stored) of a pending content. */
int store_content_progress(store *st, int64_t content_id, int64_t progress);
/* Marks a content complete: it becomes visible and replaces what the files
 * pointing at it held before. */
int store_content_done(store *st, int64_t content_id);

/* ----------------------------------------------------------------- items */

typedef struct store_item {
    int modality;       /* store_modality */
    int64_t seq;        /* unique within the content, ascending */
    int page;           /* 1-based PDF page, 0 = none */
    int has_bbox;
    float bbox[4];      /* x0 y0 x1 y1: PDF points from the top-left, or pixels */
    int64_t char_start; /* byte offsets into the source's decoded UTF-8 text */
    int64_t char_end;   /* (page text for PDFs); -1 when not text */
    const char *text;   /* may be NULL (images) */
} store_item;

/* Adds an item to a pending content, with its vector (vec may be NULL) and
 * its FTS row (text + file names). A second item with the same seq in the
 * same content is refused (IRIS_EDB): there are never duplicates. */
int store_item_add(store *st, int64_t content_id, const store_item *it, int64_t model_id,
                   const float *vec, int dim, int64_t *item_id);

/* An item with where it came from. text and path are malloc'ed. */
typedef struct store_item_info {
    int64_t id, content_id, seq;
    int modality, page, has_bbox;
    float bbox[4];
    int64_t char_start, char_end;
    char *text;  /* NULL if none */
    char *path;  /* a file holding the content (first by id) */
    char sha256[65];
    int kind;
} store_item_info;

int store_item_get(store *st, int64_t item_id, store_item_info *out);
void store_item_info_free(store_item_info *info);

/* Copies one vector (dim floats). IRIS_ENOTFOUND if the item has none for
 * this model, IRIS_EARG if dim differs. */
int store_vector_get(store *st, int64_t item_id, int64_t model_id, float *out, int dim);

/* Calls fn for every vector of model_id whose content is done, in item id
 * order; vec is valid only during the call. fn returning non-zero stops
 * the walk (and that value is returned). */
typedef int (*store_vector_fn)(void *user, int64_t item_id, int64_t content_id, int modality,
                               const float *vec, int dim);
int store_vectors_each(store *st, int64_t model_id, store_vector_fn fn, void *user);

/* ------------------------------------------------------------ BM25 (FTS5) */

typedef struct store_fts_opts {
    int limit;             /* max hits; 0 = 50 */
    unsigned modalities;   /* bit (1 << modality); 0 = all */
    const char *path_glob; /* keep hits whose file path matches (GLOB); NULL = all */
    int all_terms;         /* 1 = every term must match; 0 = any (ranked by BM25) */
    const char *hl_open;   /* snippet markers around matched terms; NULL = "[" */
    const char *hl_close;  /* NULL = "]" */
    int snippet_tokens;    /* snippet length in tokens; 0 = 16 */
} store_fts_opts;

typedef struct store_hit {
    int64_t item_id;
    double score;  /* -bm25(): higher is better */
    char *snippet; /* text around the matches, terms wrapped in the markers */
} store_hit;

/* BM25 search. User text never reaches FTS5 syntax: it is split into terms
 * (double-quoted runs stay one phrase), each quoted; CJK runs longer than
 * two characters become overlapping bigrams. Hits ordered best first. */
int store_fts_search(store *st, const char *query, const store_fts_opts *opts, store_hit **hits,
                     int *n_hits);
void store_hits_free(store_hit *hits, int n_hits);
/* The FTS5 expression store_fts_search() would run (malloc'ed); "" when the
 * query has no searchable term. Exposed for tests and --explain. */
int store_fts_build_query(const char *query, int all_terms, char **out);

/* --------------------------------------------------------- caption cache */

/* Looks up a cached caption (malloc'ed) or IRIS_ENOTFOUND. */
int store_caption_get(store *st, const char *sha256, const char *model, const char *prompt_hash,
                      char **caption);
int store_caption_put(store *st, const char *sha256, const char *model, const char *prompt_hash,
                      const char *caption);

/* ------------------------------------ captions as items (captions.c) */

/* An indexed image and its captions, as facts for one (model, prompt_hash):
 * the caption engine decides from them what a run does. */
typedef struct store_caption_target {
    int64_t content_id;
    char sha256[65];
    char *path;   /* a file holding it (the first by path; malloc'ed) */
    int has_item; /* it has a caption item (from any model or prompt) */
    int cached;   /* the cache holds a caption for (sha256, model, prompt_hash) */
    int current;  /* ... and that caption is its only caption item */
} store_caption_target;

/* The done image contents held by a file at or under one of roots (file
 * or folder paths, compared bytewise like store_remove; n_roots = 0: every
 * image), each once, ordered by path, with the facts above for (model,
 * prompt_hash). *out is malloc'ed; free with store_caption_targets_free. */
int store_caption_targets(store *st, const char *model, const char *prompt_hash,
                          const char *const *roots, int n_roots, store_caption_target **out,
                          int *n);
void store_caption_targets_free(store_caption_target *t, int n);

/* Makes text the caption item (STORE_CAPTION) of a done content: any
 * caption item it had goes (with its vector and FTS row) and the new one
 * is added after the content's last item, with vec for model_id (NULL:
 * none) and its FTS row, in one atomic unit that moves the generation. */
int store_caption_item_set(store *st, int64_t content_id, const char *text, int64_t model_id,
                           const float *vec, int dim, int64_t *item_id);

/* A content's first item of a modality (by seq): its id and, when text is
 * not NULL, its text (malloc'ed; NULL if it has none). IRIS_ENOTFOUND if
 * there is no such item. Finds an image's own item, OCR text or caption. */
int store_content_item(store *st, int64_t content_id, int modality, int64_t *item_id,
                       char **text);

/* ----------------------------------------------------------------- stats */

typedef struct store_stats {
    int64_t files, files_skipped;
    int64_t contents, contents_pending;
    int64_t items, items_by_modality[STORE_N_MODALITIES];
    int64_t vectors;
    int64_t db_bytes;   /* main file + WAL */
    int64_t generation; /* bumped by every commit that changes items */
    int schema_version;
} store_stats;

int store_get_stats(store *st, store_stats *out);

/* ------------------------------------------- lookups for search (lookup.c) */

/* The generation counter (see store_stats): cheap enough to read before
 * every query to tell whether a cached view of the vectors is stale. */
int store_generation(store *st, int64_t *gen);
/* The info JSON recorded with the index's model (malloc'ed; NULL if none
 * was recorded), or IRIS_ENOTFOUND for a fresh index. */
int store_model_info_json(store *st, char **json);
/* Ids (ascending, malloc'ed) of the done contents held by a file whose
 * path matches glob (SQLite GLOB), the rule store_fts_search applies. */
int store_contents_glob(store *st, const char *glob, int64_t **ids, int *n);
/* The snippet store_fts_search would give item_id for query (malloc'ed;
 * uses opts' markers and length), or IRIS_ENOTFOUND if it does not match. */
int store_fts_snippet(store *st, const char *query, int64_t item_id, const store_fts_opts *opts,
                      char **snippet);

/* An item as a vector index mirrors it: key changes when the id is reused
 * for other content (SQLite may reuse the largest ids after deletes). */
typedef struct store_litem {
    int64_t id, content_id;
    int modality;
    uint64_t key;
} store_litem;
/* Every item of a done content, ascending ids (malloc'ed). Reads only the
 * items and contents tables: ~40 ms per 100K items. */
int store_items_list(store *st, store_litem **items, int *n);

#endif
