/*
 * iris.h - the one public C API of iris, a cross-modal search and
 * multimodal RAG engine built on CLIP.
 *
 * Contract (in the spirit of sqlite3.h):
 *  - Handles are opaque. Every handle has one owner, who frees it with the
 *    matching *_free / *_close call (NULL is always accepted).
 *  - Every call that can fail returns an int status: IRIS_OK (0) or one of
 *    the IRIS_E* codes below. Nothing aborts the caller's process.
 *  - iris_errmsg() explains the most recent failure *on the calling thread*
 *    (like errno, it is thread-local, so concurrent callers never see each
 *    other's messages). Messages name the offending file or value.
 *  - There is no other global state: two models or two stores opened in one
 *    process are fully independent.
 *  - A loaded iris_model is read-only after load: any number of threads may
 *    encode with one model at the same time.
 *
 * Sections: errors, images, models + encoding. Later sections (store,
 * search, serve, ask) are added by their modules below the marker lines.
 */
#ifndef IRIS_H
#define IRIS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IRIS_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

enum {
    IRIS_OK = 0,
    IRIS_EARG = 1,         /* invalid argument (NULL, out of range, ...) */
    IRIS_EIO = 2,          /* file or system I/O failed */
    IRIS_ENOMEM = 3,       /* allocation failed */
    IRIS_EFORMAT = 4,      /* input is corrupt, truncated or malformed */
    IRIS_EUNSUPPORTED = 5, /* valid input we do not handle (dtype, codec) */
    IRIS_ELIMIT = 6,       /* a safety limit was hit (pixels, size, count) */
    IRIS_ENOTFOUND = 7,    /* no such file, item, model or key */
    IRIS_EDB = 8,          /* the store (SQLite) failed */
    IRIS_EMODEL = 9,       /* model mismatch (store built with another) */
    IRIS_ENET = 10,        /* network failure (offline, refused, DNS) */
    IRIS_ETIMEOUT = 11,    /* an operation ran past its time limit */
    IRIS_EHTTP = 12,       /* a remote endpoint answered with an error */
    IRIS_ECANCELLED = 13,  /* cancelled by the caller or a signal */
    IRIS_EINTERNAL = 14    /* a bug: please report with the message */
};

/* Message for the most recent failing call on this thread ("" if none). */
const char *iris_errmsg(void);
/* Short, static name for a status code ("format error", ...). */
const char *iris_strerror(int status);
const char *iris_version(void);

/* ---------------------------------------------------------------- images */

/* 8-bit RGB pixels, row-major, stride = 3 * width. Owned by the struct's
 * creator; release with iris_image_free(). */
typedef struct iris_image {
    int width;
    int height;
    unsigned char *rgb;
} iris_image;

typedef struct iris_decode_opts {
    /* Refuse images with more pixels than this before decoding
     * (decompression-bomb guard). 0 = default (IRIS_DEFAULT_MAX_PIXELS). */
    uint64_t max_pixels;
    /* If > 0, decoders that can (JPEG DCT scaling) decode at the smallest
     * scale whose shorter side is still >= min_side. 0 = full size. */
    int min_side;
    /* Apply EXIF orientation (default on; 1 = on, 0 = on, -1 = off). */
    int exif_orientation;
} iris_decode_opts;

#define IRIS_DEFAULT_MAX_PIXELS (178956970ULL) /* same cap as Pillow */

/* Decode JPEG, PNG, WebP, GIF (first frame), BMP or TIFF. opts may be NULL. */
int iris_image_load(const char *path, const iris_decode_opts *opts, iris_image *out);
int iris_image_decode(const void *data, size_t size, const iris_decode_opts *opts,
                      iris_image *out);
void iris_image_free(iris_image *img);
/* The MIME type of image data from its magic bytes ("image/jpeg",
 * "image/png", ...: the formats above), or NULL for anything else. */
const char *iris_image_mime(const void *data, size_t n);

/* Resizes to exactly width x height (Pillow's antialiased bicubic, the
 * filter of CLIP preprocessing). out is allocated; free it. */
int iris_image_resize(const iris_image *img, int width, int height, iris_image *out);
/* Scales down (never up) so the longer side is at most max_side, keeping
 * the aspect ratio; a copy when it already fits. */
int iris_image_fit(const iris_image *img, int max_side, iris_image *out);
/* Encodes as baseline JPEG (quality 1..100) into a malloc'ed buffer. */
int iris_image_encode_jpeg(const iris_image *img, int quality, unsigned char **out,
                           size_t *size);

/* ---------------------------------------------------------------- models */

typedef struct iris_model iris_model;

typedef struct iris_model_opts {
    int n_threads; /* threads per encode call; 0 = all cores */
    int bf16;      /* 1: image encoding multiplies in bf16 on the CPU's AMX tiles where it
                      has them (Intel Xeon since Sapphire Rapids; f32 elsewhere, and for
                      text): faster, within the bound in docs/engine.md of the f32 result */
} iris_model_opts;

typedef struct iris_model_info {
    char format[16];      /* "hf-safetensors" or "gguf" */
    char dtype[16];       /* weight storage: "f32", "f16", "bf16", "q8_0", "mixed" */
    char id[65];          /* stable hex id of config + weights (for stores) */
    char name[128];       /* model name when known, else the path's base name */
    int image_size, patch_size;
    int vision_width, vision_layers, vision_heads, vision_mlp;
    int text_width, text_layers, text_heads, text_mlp;
    int vocab_size, context_length;
    int projection_dim;
    char hidden_act[16];  /* "quick_gelu" or "gelu" */
    int bos_token_id, eos_token_id;
    float logit_scale;    /* exp() of the stored parameter, as used for logits */
    float image_mean[3], image_std[3];
    int resize_shortest;  /* preprocessing: shortest side resized to this */
    int crop_size;        /* then centre-cropped to crop_size x crop_size */
} iris_model_info;

/* Load a Hugging Face CLIP directory (config.json, model.safetensors,
 * vocab.json, merges.txt, preprocessor_config.json) or a clip.cpp GGUF
 * file. Weights are memory-mapped. opts may be NULL. */
int iris_model_load(const char *path, const iris_model_opts *opts, iris_model **out);
void iris_model_free(iris_model *model);
int iris_model_get_info(const iris_model *model, iris_model_info *info);
int iris_model_dim(const iris_model *model); /* projection dim, e.g. 512 */

/* CLIP tokenizer: writes at most max_ids ids (start and end tokens included,
 * truncated to the context length keeping the end token); *n_ids receives
 * the count. */
int iris_tokenize(const iris_model *model, const char *text, int32_t *ids, int max_ids,
                  int *n_ids);

/* Encoders. out receives n rows of iris_model_dim() floats, L2-normalised. */
int iris_encode_texts(const iris_model *model, const char *const *texts, int n, float *out);
int iris_encode_images(const iris_model *model, const iris_image *images, int n, float *out);
/* Preprocess one image into the model's input tensor: 3 x crop x crop floats
 * (channel-major), resized, cropped, rescaled and normalised. */
int iris_preprocess(const iris_model *model, const iris_image *image, float *out);
/* Encode already-preprocessed pixel tensors (n x 3 x crop x crop). */
int iris_encode_pixels(const iris_model *model, const float *pixels, int n, float *out);

/* Models iris can download (`iris model fetch`). Each file is pinned to one
 * commit of a Hugging Face repository; sha256 is its published checksum, or
 * NULL where none could be found (then only the size is checked). */
typedef struct iris_known_file {
    const char *name;     /* in the repository and in the install folder */
    uint64_t size;        /* bytes */
    const char *sha256;   /* lowercase hex, or NULL */
    const char *revision; /* commit for this file; NULL: the model's */
} iris_known_file;

typedef struct iris_known_model {
    const char *name;        /* "clip-vit-base-patch32" */
    const char *description;
    const char *repo;        /* "openai/clip-vit-base-patch32" */
    const char *revision;
    const char *model_file;  /* GGUF: the file that is the model; NULL: the folder is */
    const iris_known_file *files;
    int n_files;
} iris_known_model;

/* The i-th known model (from 0), NULL past the end. */
const iris_known_model *iris_model_known(int i);
/* Where known model `name` is installed, or would be: its folder (or the
 * GGUF file inside it) under $IRIS_CACHE/models, else
 * $XDG_CACHE_HOME/iris/models, else ~/.cache/iris/models. */
int iris_model_path(const char *name, char *path, size_t cap);
/* 1 if every file of known model `name` is in place, else 0. */
int iris_model_installed(const char *name);

/* Called while fetching: bytes of `file` so far; on the file's last call
 * sha256 is the digest of what was installed (else NULL). */
typedef void (*iris_fetch_progress)(const char *file, uint64_t done, uint64_t total,
                                    const char *sha256, void *user);
/* Downloads known model `name` into its install folder: each file through
 * FILE.part, resumed after an interruption, checked (size, published
 * SHA-256) and renamed into place; files already there and intact are kept.
 * $HF_ENDPOINT replaces https://huggingface.co (a mirror). Offline it fails
 * within seconds with IRIS_ENET and says how to install weights by hand.
 * progress may be NULL. */
int iris_model_fetch(const char *name, iris_fetch_progress progress, void *user);
/* The model to use when none is given: $IRIS_MODEL (a path or a known
 * name), else the first installed known model. */
int iris_model_default(char *path, size_t cap);

/* ===================================================== store (issue 3) === */

/* An index: one SQLite store (files, items, CLIP vectors, BM25 text) plus
 * the CLIP model it was built with. docs/search.md describes it all.
 *
 * Threads: one iris_db may be used by any number of threads at once (the
 * REST server shares one): store access is serialised inside, while query
 * encoding and the vector scan run in parallel. */
typedef struct iris_db iris_db;

#define IRIS_DEFAULT_DB ".iris/index.db"

typedef struct iris_db_opts {
    /* CLIP model: a Hugging Face folder, a GGUF file or a known name
     * (iris model list). NULL: the model the index was built with; for an
     * index without one, $IRIS_MODEL, else `name` (or `path`) in the
     * config file's [model] section, else the first installed known model.
     * A model other than the index's fails with IRIS_EMODEL. */
    const char *model;
    int n_threads; /* threads per encode call; 0 = all cores */
    int readonly;  /* never write; the index must exist (IRIS_ENOTFOUND) */
} iris_db_opts;

/* Opens the index at path (NULL = IRIS_DEFAULT_DB under the current
 * folder), creating it and its folder unless readonly. The model is loaded
 * on first use (keyword search and stats never load it), except that an
 * explicit opts->model is loaded and checked against the index at once.
 * opts may be NULL. */
int iris_db_open(const char *path, const iris_db_opts *opts, iris_db **out);
void iris_db_close(iris_db *db);
const char *iris_db_path(const iris_db *db);

/* The index's model, loaded on first call and owned by db. Fails with
 * IRIS_EMODEL if it differs from the one the index was built with, with
 * IRIS_ENOTFOUND if none can be found (the message says how to get one). */
int iris_db_model(iris_db *db, const iris_model **model);

/* Records the model in the index if it has none yet (the first index run
 * does this); a no-op when it is already recorded. */
int iris_db_record_model(iris_db *db);

/* Item kinds ("modalities"); values are stable (they are stored). */
enum {
    IRIS_MOD_IMAGE = 1,      /* an image file */
    IRIS_MOD_TEXT = 2,       /* a chunk of a text or Markdown file */
    IRIS_MOD_PDF_TEXT = 3,   /* a chunk of a PDF page's text */
    IRIS_MOD_PDF_FIGURE = 4, /* an image embedded in a PDF page */
    IRIS_MOD_OCR = 5,        /* text recognised in an image or scanned page */
    IRIS_MOD_CAPTION = 6     /* a VLM caption of an image */
};
#define IRIS_N_MODS 7 /* values are 1..6; arrays indexed by modality */

/* "image", "text", "pdf_text", "pdf_figure", "ocr", "caption" ("?"). */
const char *iris_modality_name(int modality);
/* Parses a comma-separated list of modality names and aliases into a bit
 * set (bit 1 << modality), OR-ed into *mask. Aliases: "pdf" = pdf_text +
 * pdf_figure, "figure" = pdf_figure, "visual" = image + pdf_figure. An
 * unknown name fails with IRIS_EARG naming it and the valid ones. */
int iris_modality_mask(const char *list, unsigned *mask);

typedef struct iris_stats {
    int64_t files;         /* file paths known, skipped ones included */
    int64_t files_skipped; /* files that could not be indexed */
    int64_t contents;      /* distinct file contents */
    int64_t contents_pending; /* still being indexed */
    int64_t items, items_by_modality[IRIS_N_MODS];
    int64_t vectors;
    int64_t db_bytes;      /* database + write-ahead log */
    int schema_version;
    int has_model;         /* 0 for an index nothing was indexed into yet */
    char model_name[128];
    char model_id[65];     /* iris_model_info.id of the index's model */
    int model_dim;
} iris_stats;

int iris_db_stats(iris_db *db, iris_stats *out);

/* Brings the vector index ("index.db.ann" beside the store: exact search
 * below a size threshold, HNSW above) up to date with the store and saves
 * it; rebuild = 1 builds it afresh from the stored vectors (`iris index
 * --rebuild-ann`). Searches keep it current on their own; calling this at
 * the end of an index run lets the next process map the saved file
 * instead of rebuilding it, and calling it before the run too (rebuild =
 * 0) loads the saved file first, so the run's changes are applied to it
 * rather than rebuilding it from every stored vector. Deletes become
 * tombstones, compacted away before a save once they pass a fifth of the
 * live items. A no-op for an index nothing was indexed into. */
int iris_db_ann_sync(iris_db *db, int rebuild);

/* ------------------------------------------------ indexing (ingest) --- */

/* Why a file or folder was not indexed (iris_index_summary.skipped_by). */
enum {
    IRIS_SKIP_UNREADABLE = 0, /* permission, I/O error, vanished, broken link */
    IRIS_SKIP_SPECIAL = 1,    /* not a regular file (FIFO, socket, device) */
    IRIS_SKIP_LOOP = 2,       /* a symbolic link leading back into the walk */
    IRIS_SKIP_EMPTY = 3,      /* zero bytes */
    IRIS_SKIP_CORRUPT = 4,    /* corrupt or truncated (IRIS_EFORMAT) */
    IRIS_SKIP_UNSUPPORTED = 5,/* encrypted PDF, HEIC, binary "text" ... */
    IRIS_SKIP_TOO_LARGE = 6,  /* over a limit: pixels, bytes, memory */
    IRIS_SKIP_OTHER = 7       /* any other failure (the message says) */
};
#define IRIS_N_SKIP 8
/* "unreadable", "special", "loop", "empty", "corrupt", "unsupported",
 * "too-large", "other". */
const char *iris_skip_name(int reason);

/* What happened to the file, for the log callback. */
enum {
    IRIS_LOG_SKIP = 0,   /* not indexed; reason is an IRIS_SKIP_* */
    IRIS_LOG_WARN = 1,   /* indexed, but part of it failed (a PDF page) */
    IRIS_LOG_INFO = 2    /* indexed / unchanged / moved / removed (verbose) */
};

typedef struct iris_index_progress {
    int phase;            /* 0 walking, 1 indexing, 2 pruning, 3 done */
    int64_t files_found;  /* files the walk found so far (final once phase > 0) */
    int64_t files_done;   /* of those, finished (whatever the outcome) */
    int64_t files_todo;   /* files that need decoding (changed or new) */
    int64_t todo_done;    /* of those, finished */
    int64_t items_added;
    int64_t pages_done;   /* PDF pages extracted so far */
    double elapsed_s;
    const char *path;     /* the file last finished, raw bytes (may be NULL) */
} iris_index_progress;

typedef struct iris_index_opts {
    int ocr;              /* 1: OCR image files too (photos, screenshots) */
    int pdf_ocr;          /* text-less PDF pages rendered and OCR'd: 0 = on, -1 = off */
    int pdf_figures;      /* raster figures of PDFs embedded as images: 0 = on, -1 = off */
    int hidden;           /* 1: walk hidden files and folders (names starting with .) */
    int jobs;             /* decoding threads; 0 = half the cores (at least 1) */
    int batch;            /* images per encode batch; 0 = 16 */
    uint64_t max_pixels;  /* image pixel cap; 0 = IRIS_DEFAULT_MAX_PIXELS */
    int64_t max_text_bytes; /* text files larger than this are skipped; 0 = 64 MiB */
    int no_prune;         /* 1: keep index entries of files gone from the roots */
    /* Called on the calling thread, after each committed batch and at each
     * phase change. */
    void (*progress)(const iris_index_progress *p, void *user);
    /* Called on the calling thread for each file skipped or warned about
     * (and, with verbose, each file indexed); path is raw bytes. */
    void (*log)(int what, int reason, const char *path, const char *message, void *user);
    void *user;
    int verbose;
    /* Set non-zero (from a signal handler or another thread) to stop: the
     * batch being encoded is dropped, what was committed stays, the call
     * returns IRIS_ECANCELLED and the next run resumes. */
    const volatile int *cancel;
} iris_index_opts;

typedef struct iris_index_summary {
    /* Files, by outcome (each file found counts once). */
    int64_t files_found;
    int64_t added;        /* new paths */
    int64_t updated;      /* known paths whose content changed */
    int64_t moved;        /* new paths holding the content of a path that vanished */
    int64_t unchanged;    /* same size and mtime, or same SHA-256 */
    int64_t skipped;      /* could not be indexed (sum of skipped_by) */
    int64_t skipped_by[IRIS_N_SKIP];
    int64_t ignored;      /* not an image, PDF, text or Markdown file */
    int64_t removed;      /* index entries of files gone from the roots */
    /* Work done: a run over an unchanged tree has all of these at 0. */
    int64_t files_hashed;
    int64_t files_decoded;   /* images, PDFs and texts opened for content */
    int64_t items_encoded;   /* items whose vector was computed */
    int64_t images_encoded;  /* through the vision tower */
    int64_t texts_encoded;   /* text windows through the text tower */
    int64_t items_added;
    int64_t pdf_pages;       /* PDF pages extracted */
    int64_t pages_failed;    /* PDF pages that could not be read (logged) */
    int64_t ocr_runs;        /* images or pages OCR'd */
    int64_t bytes_read;
    /* Time, seconds: wall clock of the whole call and of its phases; decode
     * is summed over the decoding threads (so it may exceed total). */
    double total_s, walk_s, decode_s, encode_s, store_s, wait_s;
    double decode_cpu_s;     /* CPU time of the decoding threads (the rest of the
                                process's CPU time is mostly encoding) */
    int jobs;                /* decoding threads used */
} iris_index_summary;

/* Indexes files and folders (recursively): images (JPEG, PNG, WebP, GIF,
 * BMP, TIFF; found by their bytes), PDFs (page text in chunks, figures,
 * OCR of scanned pages), plain text and Markdown (.txt .md ...). Files
 * whose size and mtime are unchanged are not read again; content is keyed
 * by SHA-256, so a moved or copied file reuses what is stored; files gone
 * from these roots are removed from the index. Every batch commits
 * atomically, so a run that is killed loses nothing committed and the next
 * run continues where it stopped. Records the model on the first run.
 * summary (may be NULL) is filled even when the call fails. Returns IRIS_OK
 * also when some files were skipped (summary->skipped says how many).
 * docs/indexing.md has the details. opts may be NULL. */
int iris_index_paths(iris_db *db, const char *const *paths, int n, const iris_index_opts *opts,
                     iris_index_summary *summary);

/* Removes a file, or every file under a folder, from the index (their
 * items go with them unless another file holds the same content). The
 * path is resolved like iris_index_paths() resolves roots; files need not
 * exist any more. *removed (may be NULL) receives the number of files. */
int iris_remove_path(iris_db *db, const char *path, int64_t *removed);

/* ==================================================== search (issue 3) === */

typedef enum iris_search_mode {
    IRIS_MODE_HYBRID = 0,  /* vector + keyword lanes fused by RRF (default) */
    IRIS_MODE_VECTOR = 1,  /* CLIP cosine only */
    IRIS_MODE_KEYWORD = 2  /* BM25 only */
} iris_search_mode;

const char *iris_mode_name(int mode); /* "hybrid", "vector", "keyword" */
int iris_mode_parse(const char *name, int *mode);

/* A query. Zero-initialise, set exactly one source (text, image_path,
 * image, item_id or vector; text may come with its vector) and options. */
typedef struct iris_query {
    const char *text;        /* text -> images and texts (both lanes) */
    const char *image_path;  /* image file -> similar items; the file itself
                                (by resolved path and by content hash) is
                                excluded from the results */
    const iris_image *image; /* decoded image -> similar items */
    int64_t item_id;         /* an indexed item -> similar items (itself and,
                                unless keep_source, its file excluded) */
    const float *vector;     /* a vector in the index model's space (it is
                                normalised); alone it is a query of its own,
                                with text it stands in for the text's
                                embedding (the text then feeds BM25 only) */
    int dim;                 /* its length (must be the model's) */

    int mode;                /* iris_search_mode; image, item and vector
                                queries have no text: vector lane only */
    int k;                   /* results wanted; 0 = 10 */
    unsigned modalities;     /* bit set (1 << IRIS_MOD_*); 0 = all */
    const char *path_glob;   /* keep items of files whose path matches this
                                (SQLite GLOB: * ? [...], case-sensitive) */
    int has_min_score;       /* drop results whose score is below min_score */
    double min_score;
    int rrf_k;               /* RRF constant; 0 = 60 */
    int depth;               /* candidates taken from each lane; 0 = max(k, 100) */
    int keep_source;         /* image/item queries: keep other items of the
                                query's own file (the item itself stays out) */
    const char *hl_open;     /* snippet markers around matched terms; */
    const char *hl_close;    /* NULL = "[" and "]" */
} iris_query;

/* One result. Lanes: rank 1 is a lane's best; rank 0 means the item was not
 * among that lane's candidates (its score is then 0 and meaningless). */
typedef struct iris_hit {
    int64_t item_id;
    int modality;            /* IRIS_MOD_* */
    double score;            /* what results are ordered by: hybrid: the RRF
                                score sum 1/(rrf_k + rank) over lanes;
                                vector: cosine; keyword: BM25 (higher is better) */
    int vector_rank;
    double vector_score;     /* cosine similarity */
    int keyword_rank;
    double keyword_score;    /* BM25 (-bm25() of SQLite FTS5) */
    const char *path;        /* a file holding the item */
    int page;                /* 1-based PDF page, 0 = none */
    int has_bbox;
    float bbox[4];           /* x0 y0 x1 y1: PDF points from the top-left, or pixels */
    const char *snippet;     /* text around the matched terms, each wrapped in
                                the markers; the text's start for items the
                                keyword lane did not find; "" for images */
} iris_hit;

typedef struct iris_results {
    int n;
    iris_hit *hits;          /* best first */
    int mode;                /* the mode that ran (see iris_query.mode) */
    int rrf_k;
    int vector_candidates;   /* items each lane returned before fusion */
    int keyword_candidates;
    /* Where the time went, milliseconds (wall clock). */
    double embed_ms, vector_ms, keyword_ms, fuse_ms, total_ms;
    /* The query's embedding (unit length; e.g. to place the query on a map
     * of the index), NULL when the vector lane did not run. */
    float *query_vector;
    int dim;
} iris_results;

int iris_search(iris_db *db, const iris_query *query, iris_results **out);
void iris_results_free(iris_results *results);

/* An item with where it came from. */
typedef struct iris_item {
    int64_t id;
    int modality;
    int page, has_bbox;
    float bbox[4];
    int64_t char_start, char_end; /* byte offsets into the source text; -1 if none */
    char *text;                   /* NULL for images */
    char *path;                   /* a file holding the item */
    char sha256[65];              /* the file content's SHA-256 */
} iris_item;

int iris_item_get(iris_db *db, int64_t item_id, iris_item *out);
void iris_item_clear(iris_item *item);
/* The item's pixels, decoded from its source file: an image file, or a
 * PDF figure (IRIS_EUNSUPPORTED until the PDF module lands). Fails with
 * IRIS_EFORMAT for text items. opts as for iris_image_load(). */
int iris_item_image(iris_db *db, int64_t item_id, const iris_decode_opts *opts,
                    iris_image *out);

/* Zero-shot classification: each label becomes prompts through templates
 * ("{}" is replaced by the label), the prompts' text embeddings are averaged
 * and renormalised per label, and each image's probabilities are the
 * softmax of logit_scale * cosine over the labels. */
typedef struct iris_classify_opts {
    const char *const *templates; /* NULL: iris_default_templates */
    int n_templates;
} iris_classify_opts;

/* The 7 templates CLIP's ImageNet prompt-engineering notebook selected for
 * its ensemble ("itap of a {}.", ...), plus the plain "a photo of a {}." */
extern const char *const iris_default_templates[];
extern const int iris_n_default_templates;

/* Label embeddings (n_labels x dim, unit length). opts may be NULL. */
int iris_label_embeddings(const iris_model *model, const char *const *labels, int n_labels,
                          const iris_classify_opts *opts, float *out);
/* probs: n_images x n_labels, each row summing to 1. */
int iris_classify_images(const iris_model *model, const char *const *labels, int n_labels,
                         const iris_image *images, int n_images,
                         const iris_classify_opts *opts, float *probs);
/* The same for image embeddings already computed (n x dim, unit length). */
int iris_classify_vectors(const iris_model *model, const char *const *labels, int n_labels,
                          const float *vectors, int n, const iris_classify_opts *opts,
                          float *probs);

/* ===================================================== serve (issue 5) === */

/* What a front end (the REST server, a binding) needs to show items beyond
 * iris_item_get(): the source file, the stored vector, a thumbnail, and a
 * 2D map of the index. docs/server.md describes how iris serve uses them. */

/* An item's source file, opened for reading. */
typedef struct iris_item_file {
    int fd;            /* read-only descriptor; iris_item_file_close() */
    int64_t size;      /* bytes */
    int64_t mtime_ns;  /* as recorded by the index */
    char mime[64];     /* from the content: "image/jpeg", "application/pdf",
                          "text/plain; charset=utf-8", ... */
    char name[256];    /* the file's base name */
} iris_item_file;

/* Opens the file item_id came from. The path comes from the index only; a
 * symlink in its place is refused, it must be a regular file, and its size
 * and mtime must still be those the index recorded (else IRIS_ENOTFOUND
 * saying why), all checked on the opened descriptor. */
int iris_item_open(iris_db *db, int64_t item_id, iris_item_file *out);
void iris_item_file_close(iris_item_file *f);

/* The item's stored CLIP vector: dim floats (the index model's dim). */
int iris_item_vector(iris_db *db, int64_t item_id, float *out, int dim);

#define IRIS_THUMB_MIN 32
#define IRIS_THUMB_MAX 1024
/* A JPEG of an image item scaled down to at most max_side pixels on its
 * longer side (IRIS_THUMB_MIN..IRIS_THUMB_MAX); *jpeg is malloc'ed. Made
 * once and cached under <index folder>/thumbs/ by content hash and size.
 * Text items fail with IRIS_EFORMAT, like iris_item_image(). */
int iris_item_thumbnail(iris_db *db, int64_t item_id, int max_side, unsigned char **jpeg,
                        size_t *size);

/* The 2D map: every item vector projected on the index's first two
 * principal axes (PCA). A query vector projects exactly onto the same
 * plane (iris_map_project), so it can be drawn among the items. */
typedef struct iris_map_point {
    int64_t item_id;
    int modality;
    float x, y;
} iris_map_point;

typedef struct iris_map {
    int64_t generation;     /* the index state it describes */
    int dim;
    int n;                  /* points, one per item vector, by item id */
    iris_map_point *points;
    float *mean;            /* [dim] the vectors' mean */
    float *axes;            /* [2 * dim] unit principal axes, row-major */
    double variance[2];     /* the vectors' variance along each axis */
    double total_variance;  /* ... and in all (trace of the covariance) */
    int from_cache;         /* 1 when read from the cache file */
} iris_map;

/* The map of the index: read from the cache file next to it (<index>.map)
 * when that still describes the index, else computed (two passes over the
 * vectors, on a connection of its own: searches go on meanwhile) and
 * cached. An index without vectors gives n = 0. */
int iris_map_get(iris_db *db, iris_map **out);
/* *current = 1 if nothing changed in the index since map was made. */
int iris_map_current(iris_db *db, const iris_map *map, int *current);
/* xy = the projection of vec (dim floats) onto the map's plane. */
int iris_map_project(const iris_map *map, const float *vec, int dim, float xy[2]);
/* The point of item_id, or NULL if it has none. */
const iris_map_point *iris_map_find(const iris_map *map, int64_t item_id);
void iris_map_free(iris_map *map);

/* ======================================================= ask (issue 6) === */

/* Answers a question from the index, citing its sources: hybrid retrieval
 * of the best passages and images, a prompt with numbered sources sent to
 * the [llm] model (config file and IRIS_LLM_* variables; docs/rag.md), the
 * answer streamed, its [n] citations mapped back to files and pages. With
 * no model configured the answer is extractive (the best passages, cited)
 * followed by one line on how to configure one: never an error. */

enum {
    IRIS_ASK_IMAGES_AUTO = 0,   /* natively if [llm] vision is set, else as text */
    IRIS_ASK_IMAGES_NATIVE = 1, /* attach image sources (count and size capped) */
    IRIS_ASK_IMAGES_TEXT = 2    /* their captions and OCR text stand in for them */
};

typedef struct iris_ask_opts {
    int k;                  /* sources retrieved; 0 = 8 */
    int mode;               /* iris_search_mode (hybrid by default) */
    unsigned modalities;    /* as iris_query.modalities; 0 = all */
    const char *path_glob;  /* as iris_query.path_glob */
    int images;             /* IRIS_ASK_IMAGES_* */
    int max_images;         /* images attached natively; 0 = 4 */
    int no_stream;          /* ask for a whole reply (one delta at the end) */
    const char *config;     /* configuration file; NULL = the default one */
    /* Polled while the model answers; non-zero stops it (IRIS_ECANCELLED). */
    int (*cancel)(void *user);
} iris_ask_opts;

/* Receives the answer piece by piece as it arrives (UTF-8, not
 * NUL-terminated); returning non-zero stops the call (IRIS_ECANCELLED). */
typedef int (*iris_ask_delta_fn)(const char *text, size_t len, void *user);

/* How a source reached the model. */
enum { IRIS_SENT_TEXT = 1, IRIS_SENT_IMAGE = 2, IRIS_SENT_TRUNCATED = 3 };

typedef struct iris_ask_source {
    int number;        /* cited as [number]; sources are numbered from 1 in rank order */
    int64_t item_id;   /* for an image: its image item, whichever of its items
                          (image, caption, OCR text) matched */
    int modality;      /* IRIS_MOD_* */
    const char *path;
    int page;          /* 1-based PDF page, 0 = none */
    double score;      /* the retrieval score */
    const char *text;  /* the passage; for an image its caption, else its
                          OCR text; NULL if none */
    int sent;          /* IRIS_SENT_*; 0 for an extractive answer */
    int cited;         /* times the answer cites it */
} iris_ask_source;

typedef struct iris_answer {
    char *text;             /* the answer (what arrived of it, if it broke off) */
    int extractive;         /* 1: no model configured; text quotes the sources
                               and ends with a line on configuring one */
    int complete;           /* 0: the model's answer broke off (see the status) */
    char model[256];        /* the model that answered; "" when extractive */
    int n_sources;
    iris_ask_source *sources;
    int n_cited;            /* distinct source numbers cited, in order of first */
    int *cited;             /* citation */
    int n_invalid;          /* numbers cited that name no source (never mapped) */
    int *invalid;
    int n_dropped;          /* retrieved sources the token budget left out */
    int images_sent;        /* images attached natively */
    int est_prompt_tokens;  /* the prompt's estimated size, images included */
    int prompt_tokens;      /* as the server reported; -1 if not */
    int completion_tokens;
    char finish_reason[32]; /* "stop", "length", ... or "" */
    /* Where the time went, milliseconds: query embedding, vector and keyword
     * lanes, fusion (iris_results), reading the sources back, image bytes
     * (reading, checking against the index, fitting to the size caps), the
     * rest of building the prompt, the model call (the request's JSON and
     * base64 included), everything. */
    double embed_ms, vector_ms, keyword_ms, fuse_ms, sources_ms, prompt_ms, images_ms,
        llm_ms, total_ms;
} iris_answer;

/* Answers question. on_delta (may be NULL) gets the answer as it arrives
 * (an extractive answer in one piece). opts may be NULL. When retrieval
 * succeeded but the model failed (unreachable, HTTP error, timeout, a
 * stream cut off), the status says why and *out still holds the sources
 * and whatever part of the answer arrived (complete = 0): free *out
 * whenever it is non-NULL. */
int iris_ask(iris_db *db, const char *question, const iris_ask_opts *opts,
             iris_ask_delta_fn on_delta, void *user, iris_answer **out);
void iris_answer_free(iris_answer *answer);
/* The model iris_ask would send a question to, from the configuration as
 * iris_ask reads it (config: the file, NULL = the default one): its name
 * in model, or "" when none is configured (answers are then extractive).
 * A broken configuration is an error, as it would be for iris_ask. */
int iris_ask_model(const char *config, char *model, size_t cap);
/* The answer as one JSON object (malloc'ed; free()), the format of
 * `iris ask --json` and the server (docs/rag.md); question may be NULL. */
int iris_answer_json(const iris_answer *answer, const char *question, char **json);

/* ------------------------------------------------------------ captions */

/* Describes indexed images with a vision model ([vlm], or [vlm_strong] for
 * small sets; IRIS_VLM_* variables; docs/rag.md) and stores each caption
 * as a caption item of its image: BM25-indexed and embedded with CLIP's
 * text tower, so that text in images and descriptions in any language
 * become searchable. Captions are cached by (content SHA-256, model,
 * prompt): an image is never described twice by the same model and
 * prompt, wherever its file moves. */

typedef struct iris_caption_report {
    /* The plan, known before the first request. */
    char model[256];      /* the model that describes */
    char plan[512];       /* the plan in words: counts, model, time, cost, why */
    int n_images;         /* images in scope */
    int n_have;           /* already with a caption (left alone) */
    int n_reuse;          /* without one, but cached for this model: no request */
    int n_todo;           /* to describe in this run */
    int n_deferred;       /* left for a later run by the per-run limits */
    double est_seconds;   /* -1: unknown until the first image */
    double est_cost;      /* in the prices' currency; 0 for a free model */
    /* The run. */
    int n_described;      /* described by the model and stored */
    int n_reused;         /* stored from the cache */
    int n_failed;         /* could not be described (see the progress events) */
    double seconds;       /* wall time of the run */
    double cost;          /* spent, by the model's prices */
    char stopped[256];    /* why the run ended before its plan, "" if it did not */
} iris_caption_report;

typedef struct iris_caption_event {
    const char *path;     /* the image */
    const char *caption;  /* NULL if it failed */
    int status;           /* IRIS_OK, or why it failed */
    const char *error;    /* the failure's message, or NULL */
    int cached;           /* taken from the cache, without a request */
    int done, total;      /* images handled so far, of this run's */
    double eta_seconds;   /* for the rest; -1 unknown */
} iris_caption_event;

typedef struct iris_caption_opts {
    const char *const *paths; /* files or folders; n_paths = 0: every image */
    int n_paths;
    int recaption;        /* also replace captions made by other models or prompts */
    int dry_run;          /* plan only: no request, nothing written */
    const char *config;   /* configuration file; NULL = the default one */
    /* Called with the plan before the first request; returning 0 stops the
     * run there (IRIS_ECANCELLED). NULL: go ahead. */
    int (*confirm)(const iris_caption_report *plan, void *user);
    /* Called after each image. May be NULL. */
    void (*progress)(const iris_caption_event *event, void *user);
    /* Polled between images; non-zero stops the run (IRIS_ECANCELLED). */
    int (*cancel)(void *user);
    void *user;
} iris_caption_opts;

/* Captions the images in scope that have none (see recaption). An image
 * that fails (unreadable, changed since indexing, refused by the model) is
 * reported and skipped; three failures in a row end the run with the last
 * one's status (an endpoint that is down). Per-run limits end it cleanly
 * (status IRIS_OK, report->stopped says which). Every caption is committed
 * as soon as it arrives: an interrupted run loses nothing it paid for.
 * report is filled as far as the run got, whatever the status. */
int iris_caption_images(iris_db *db, const iris_caption_opts *opts, iris_caption_report *report);

#ifdef __cplusplus
}
#endif
#endif /* IRIS_H */
