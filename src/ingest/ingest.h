/*
 * ingest.h - what the files of the indexing engine share.
 *
 * The shape of a run (index.c drives it):
 *
 *   walk (walk.c)       roots -> list of files with size and mtime
 *   classify (index.c)  each file against the store: unchanged ones are
 *                       only marked seen; the rest become jobs
 *   decode (decode.c,   worker threads take jobs: hash the bytes, decide
 *   pdf.c)              whether the content must be decoded at all (known
 *                       content = a move or a copy), decode, preprocess,
 *                       chunk, OCR; each file becomes one or more units
 *                       (a PDF: one per page) pushed into a bounded queue
 *   encode (index.c)    the calling thread pops units, encodes their images
 *                       and texts in batches through CLIP
 *   commit (commit.c)   ... and writes each batch in one transaction:
 *                       file rows, items with vectors, progress, "done"
 *
 * A unit is the atom of crash safety: its items, and the content's
 * progress counter after it, commit together, so a killed run leaves whole
 * units only and the next run resumes at the first missing one. Units of
 * one content are produced by one worker, in order.
 *
 * Only the calling thread touches the store for writing and calls the
 * user's callbacks; workers read the store (content lookups) under the
 * db lock and report through the units they push.
 */
#ifndef IRIS_INGEST_INGEST_H
#define IRIS_INGEST_INGEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "iris.h"
#include "search/db.h"
#include "store/store.h"
#include "util/error.h"

/* How a job's file relates to the index before this run. */
typedef enum job_state {
    JOB_NEW,     /* path unknown */
    JOB_CHANGED, /* size or mtime differ: hash again */
    JOB_RESUME,  /* unchanged, but its content was left pending by a killed run */
} job_state;

/* One file that needs reading. Owned by the run; workers fill the middle
 * part, the committer the rest. */
typedef struct job {
    const char *path;
    int64_t size, mtime_ns;
    int text_kind;   /* walk_text_kind() */
    job_state state;
    char sha256[65]; /* known for JOB_RESUME, else computed by the worker */
    int64_t old_content_id; /* what the path held (0 if new) */
    int kind;        /* store_kind, decided by the worker */
    /* committer's view */
    int64_t content_id; /* after the file row is written */
    int put;          /* the file row was written this run */
    int outcome;      /* OUT_*, decided when the file row is written */
    int failed;       /* the file was skipped after some units were written */
    int drop_items;   /* another writer completed the content meanwhile */
    int skip_counted; /* the skip is in the summary already */
} job;

enum { OUT_NONE, OUT_ADDED, OUT_UPDATED, OUT_UNCHANGED, OUT_SKIPPED };

/* How an item gets its vector. */
typedef enum vec_kind {
    VEC_NONE = 0,
    VEC_PIXELS,  /* a preprocessed image tensor, through the vision tower */
    VEC_TEXT,    /* text windows through the text tower, combined (textvec.h) */
} vec_kind;

typedef struct unit_item {
    store_item it;       /* it.text points at text */
    char *text;
    vec_kind vk;
    float *pixels;       /* 3 x crop x crop */
    char **windows;      /* VEC_TEXT: the texts to encode */
    int n_windows;
    float *vec;          /* filled by the encoder */
} unit_item;

/* A message for the log callback, attached to the unit that caused it. */
typedef struct unit_note {
    int what, reason;
    char *msg;
} unit_note;

typedef struct unit {
    job *job;
    int first;           /* write the file row before the items */
    int last;            /* the content is complete after this unit */
    int link;            /* no items: the content is known (move, copy, touch) */
    int fail_status;     /* IRIS_E*: the file cannot be indexed; fail_msg says why */
    char *fail_msg;
    int transient;       /* the failure may pass (I/O): keep what the index has */
    int vanished;        /* the file is gone: leave it to pruning */
    int empty;           /* zero bytes */
    int ignore;          /* not a kind iris indexes */
    int64_t progress;    /* the content's progress after this unit */
    char *title;         /* PDF title (first unit) */
    unit_item *items;
    int n_items, cap_items;
    unit_note *notes;
    int n_notes;
    int64_t pages;       /* PDF pages this unit covers */
    int64_t pages_failed;
    int ocr_runs;
    size_t bytes;        /* memory held, for the queue's budget */
    struct unit *next;   /* queue link */
} unit;

void unit_free(unit *u);
/* A new item slot (zeroed, char offsets -1) or NULL without memory. */
unit_item *unit_add_item(unit *u);
int unit_note_add(unit *u, int what, int reason, const char *fmt, ...) IRIS_PRINTF(4, 5);

/* ------------------------------------------------------------- queue */

/* Bounded FIFO of units between the decoding threads and the encoder:
 * push blocks while the queue holds max_units or max_bytes (a unit larger
 * than the budget still passes when the queue is empty). */
typedef struct unit_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    unit *head, *tail;
    int n, max_units;
    size_t bytes, max_bytes;
    int producers;       /* workers still running */
    int closed;          /* consumer gave up: pushes fail */
} unit_queue;

void queue_init(unit_queue *q, int max_units, size_t max_bytes, int producers);
void queue_destroy(unit_queue *q);
/* IRIS_ECANCELLED (and u freed) if the queue was closed. */
int queue_push(unit_queue *q, unit *u);
/* Waits up to timeout_ms (0 = not at all) for a unit: 1 with *out set,
 * 0 when none came in time, -1 when every producer is done and the
 * queue is empty. */
int queue_pop(unit_queue *q, int timeout_ms, unit **out);
void queue_producer_done(unit_queue *q);
void queue_close(unit_queue *q);

/* ----------------------------------------------------------- workers */

struct ocr_engine;

/* State shared by the decoding threads. */
typedef struct decode_ctx {
    iris_db *db;
    const iris_model *model;
    iris_model_info info;
    const iris_index_opts *opts;
    job *jobs;
    size_t n_jobs;
    size_t next_job;         /* claimed under lock */
    pthread_mutex_t lock;    /* next_job, claims */
    struct claim_set *claims;/* contents a job of this run decodes */
    unit_queue *q;
    volatile int stop;       /* the run is over (cancelled or failed) */
    int min_side;            /* JPEG DCT scaling target */
    int text_windows;        /* textvec.h mode */
    /* totals added by the workers (under lock) */
    double decode_s, decode_cpu_s;
    int64_t files_hashed, files_decoded, bytes_read;
    int ocr_failed;          /* OCR engine unavailable: warned once */
    char ocr_error[256];
} decode_ctx;

/* Body of a decoding thread: takes jobs until none is left. */
void *decode_worker(void *ctx);

/* Per-thread state of a decoding worker. */
typedef struct worker {
    decode_ctx *dc;
    struct ocr_engine *ocr; /* created on first need */
    int ocr_tried;
    double waited;          /* seconds blocked on a full queue */
} worker;

/* Releases what a worker created (its OCR engine). */
void worker_done(worker *w);
int ingest_claims_new(decode_ctx *dc);
void ingest_claims_free(decode_ctx *dc);

/* Pushes u (NULL-safe); IRIS_ECANCELLED when the run stopped. */
int worker_push(worker *w, unit *u);
/* OCR of img into a new OCR item of u (text chunked, windows ready),
 * page 0 for images. layout: ocr_layout. Failures become notes. */
int worker_ocr(worker *w, unit *u, const iris_image *img, int layout, int page, int64_t *seq);
/* Adds text items of one modality for text[0..len) to u: chunked,
 * windows computed; seq advanced. */
int worker_text_items(worker *w, unit *u, const char *text, size_t len, int markdown,
                      int modality, int page, int64_t *seq);
/* The preprocessed tensor for an image item. */
int worker_pixels(worker *w, const iris_image *img, float **out);

/* PDF: one unit per page from job progress on (pdf.c). */
int decode_pdf(worker *w, job *j, int64_t progress, int64_t next_seq);

/* ----------------------------------------------------------- commits */

/* The writing side of a run (the calling thread only). */
typedef struct committer {
    iris_db *db;
    int64_t model_row;
    int dim;
    const iris_index_opts *opts;
    iris_index_summary *sum;
    int64_t files_done, todo_done; /* for progress */
    const char *last_path;
    /* contents that a new path linked to (they were done before): a path
     * of the same content vanishing from the roots makes it a move */
    int64_t *linked;
    size_t n_linked, cap_linked;
} committer;

/* Writes the units in one transaction (the db lock is taken inside); on
 * failure nothing of the batch stays. Then logs what they carry. */
int commit_units(committer *c, unit **units, int n);
/* Logs to the caller's callback (a no-op without one). */
void ingest_log(const committer *c, int what, int reason, const char *path, const char *msg);
/* Skip reasons are stored as "corrupt: message"; this reads one back
 * (IRIS_SKIP_OTHER and the whole text if it has no known prefix). */
int ingest_skip_parse(const char *stored, const char **msg);

/* ------------------------------------------------------------- kinds */

/* The store kind of a file from its first bytes and its name's text
 * kind; STORE_KIND_OTHER if iris does not index it. *unsupported is set
 * to a format name for images it recognises but cannot decode. */
int ingest_sniff(const uint8_t *p, size_t n, int text_kind, const char **unsupported);

/* IRIS_SKIP_* for a failure status. */
int ingest_skip_reason(int status);

#endif
