/*
 * index.c - iris_index_paths(): one indexing run, from the roots given to
 * the summary (ingest.h shows the stages; docs/indexing.md the behaviour).
 *
 * Threads: the calling thread walks, classifies, encodes and commits;
 * `jobs` decoding threads hash, decode, preprocess and chunk. Decoding
 * thus overlaps encoding, and the bounded queue between them keeps memory
 * flat. The model's own thread count (iris_db_opts.n_threads) parallelises
 * each encode call. On 2 cores the default is 1 decoding thread next to a
 * 2-thread encoder: CLIP dominates, decoding (with JPEG DCT scaling) is
 * far cheaper and fills the encoder's waits.
 *
 * Pruning happens only after a complete run: a cancelled or failed run
 * has not seen every file, so it must not delete any.
 */
#include "ingest/ingest.h"

#include "ingest/textvec.h"
#include "ingest/walk.h"
#include "util/error.h"
#include "util/threadpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_BATCH 16
#define TEXT_BATCH_FACTOR 4        /* text windows per batch = 4 x image batch */
#define CLASSIFY_TX 1000           /* files classified per transaction */
#define QUEUE_BYTES ((size_t)256 << 20)
#define POLL_MS 100                /* how often a waiting encoder checks cancel */
#define INGEST_TEXTVEC TEXTVEC_MEAN /* docs/indexing.md: measured choice */

typedef struct run {
    iris_db *db;
    iris_index_opts o;
    iris_index_summary *sum;
    const iris_model *model;
    iris_model_info info;
    committer c;
    char **roots;          /* resolved, existing, not nested */
    int n_roots;
    walk_list files;
    job *jobs;
    size_t n_jobs;
    double t0;
    int keep_failed;       /* store_keep_under failed: do not prune */
    char *used;            /* prune: which links explained a vanished path */
} run;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int cancelled(const run *r) { return r->o.cancel && *r->o.cancel; }

static void progress(run *r, int phase)
{
    if (!r->o.progress) return;
    iris_index_progress p = {
        .phase = phase,
        .files_found = (int64_t)r->files.n,
        .files_done = r->c.files_done,
        .files_todo = (int64_t)r->n_jobs,
        .todo_done = r->c.todo_done,
        .items_added = r->sum->items_added,
        .pages_done = r->sum->pdf_pages,
        .elapsed_s = now_s() - r->t0,
        .path = r->c.last_path,
    };
    r->o.progress(&p, r->o.user);
}

static void skip_path(run *r, int reason, const char *path, const char *msg)
{
    r->sum->skipped++;
    r->sum->skipped_by[reason]++;
    ingest_log(&r->c, IRIS_LOG_SKIP, reason, path, msg);
}

/* ------------------------------------------------------------- roots */

static int is_under(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1) return 1; /* "/" */
    return !strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Resolves the roots; missing ones are skipped, nested ones dropped (the
 * outer root covers them). */
static int resolve_roots(run *r, const char *const *paths, int n)
{
    if (!(r->roots = calloc((size_t)n, sizeof *r->roots)))
        return iris_fail(IRIS_ENOMEM, "no memory");
    int k = 0, missing = 0;
    for (int i = 0; i < n; i++) {
        char *abs;
        int rc = walk_resolve(paths[i], &abs);
        if (rc) return rc;
        struct stat sb;
        if (stat(abs, &sb) != 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "no such file or folder (%s)", paths[i]);
            skip_path(r, IRIS_SKIP_UNREADABLE, abs, msg);
            free(abs);
            missing++;
            continue;
        }
        r->roots[k++] = abs;
    }
    qsort(r->roots, (size_t)k, sizeof *r->roots, cmp_str);
    int m = 0;
    for (int i = 0; i < k; i++) {
        if (m && is_under(r->roots[i], r->roots[m - 1])) free(r->roots[i]);
        else r->roots[m++] = r->roots[i];
    }
    r->n_roots = m;
    if (m == 0 && missing)
        return iris_fail(IRIS_ENOTFOUND, "nothing to index: %s", missing > 1 ? "no path given exists"
                                                                           : "the path does not exist");
    return IRIS_OK;
}

/* ------------------------------------------------------------- walk */

static void walk_event_cb(void *user, walk_event ev, int reason, const char *path, const char *msg)
{
    run *r = user;
    if (ev == WALK_SKIP) {
        skip_path(r, reason, path, msg);
    } else if (ev == WALK_KEEP) {
        db_lock(r->db);
        if (store_keep_under(r->db->st, path, NULL)) r->keep_failed = 1;
        db_unlock(r->db);
    } else if (r->o.verbose) {
        ingest_log(&r->c, IRIS_LOG_INFO, 0, path, msg);
    }
}

static int walk_all(run *r)
{
    char *db_abs = NULL;
    int rc = walk_resolve(iris_db_path(r->db), &db_abs);
    if (rc) return rc;
    size_t n = strlen(db_abs) + 16;
    char *ex[4] = {db_abs, malloc(n), malloc(n), malloc(n)};
    static const char *const suffix[3] = {"-wal", "-shm", "-journal"};
    for (int i = 0; i < 3; i++)
        if (ex[i + 1]) snprintf(ex[i + 1], n, "%s%s", db_abs, suffix[i]);
    struct stat sb;
    int have = stat(db_abs, &sb) == 0;
    walk_opts wo = {.hidden = r->o.hidden, .exclude = (const char *const *)ex, .n_exclude = 4,
                    .exclude_dev = have ? sb.st_dev : 0, .exclude_ino = have ? sb.st_ino : 0,
                    .cancel = r->o.cancel, .event = walk_event_cb, .user = r};
    for (int i = 0; !rc && i < r->n_roots; i++) {
        rc = walk_root(r->roots[i], &wo, &r->files);
        progress(r, 0);
    }
    for (int i = 0; i < 4; i++) free(ex[i]);
    return rc;
}

/* --------------------------------------------------------- classify */

/* One file against the index: unchanged files are marked seen (and
 * counted), the others become jobs. Caller holds the lock and a
 * transaction. */
static int classify_one(run *r, const walk_file *f)
{
    store_file sf;
    int rc = store_file_get(r->db->st, f->path, &sf);
    if (rc && rc != IRIS_ENOTFOUND) return rc;
    job *j = &r->jobs[r->n_jobs];
    memset(j, 0, sizeof *j);
    j->path = f->path;
    j->size = f->size;
    j->mtime_ns = f->mtime_ns;
    j->text_kind = f->text_kind;
    if (rc == IRIS_ENOTFOUND) {
        j->state = JOB_NEW;
        r->n_jobs++;
        return IRIS_OK;
    }
    j->old_content_id = sf.content_id;
    int same = sf.size == f->size && sf.mtime_ns == f->mtime_ns;
    if (same && sf.status == STORE_FILE_SKIPPED) {
        r->c.files_done++;
        const char *msg;
        int why = ingest_skip_parse(sf.reason, &msg);
        skip_path(r, why, f->path, msg);
        return store_file_touch(r->db->st, sf.id);
    }
    if (same && sf.content_id && sf.content.state == STORE_DONE) {
        r->c.files_done++;
        r->sum->unchanged++;
        return store_file_touch(r->db->st, sf.id);
    }
    j->state = same && sf.content_id ? JOB_RESUME : JOB_CHANGED;
    if (j->state == JOB_RESUME) memcpy(j->sha256, sf.sha256, sizeof j->sha256);
    j->kind = sf.kind;
    r->n_jobs++;
    return IRIS_OK;
}

static int classify_all(run *r)
{
    if (r->files.n && !(r->jobs = calloc(r->files.n, sizeof *r->jobs)))
        return iris_fail(IRIS_ENOMEM, "no memory for %zu jobs", r->files.n);
    int rc = IRIS_OK;
    for (size_t i = 0; !rc && i < r->files.n; i += CLASSIFY_TX) {
        if (cancelled(r)) return iris_fail(IRIS_ECANCELLED, "indexing cancelled");
        size_t end = i + CLASSIFY_TX < r->files.n ? i + CLASSIFY_TX : r->files.n;
        db_lock(r->db);
        rc = store_begin(r->db->st);
        for (size_t k = i; !rc && k < end; k++) rc = classify_one(r, &r->files.v[k]);
        if (!rc) rc = store_commit(r->db->st);
        if (rc) store_rollback(r->db->st);
        db_unlock(r->db);
    }
    return rc;
}

/* ----------------------------------------------------------- encode */

/* Computes the vectors of every item of the batch: images through the
 * vision tower, text windows through the text tower, in one call each. */
static int encode_batch(run *r, unit **b, int n)
{
    int dim = r->c.dim, n_img = 0, n_win = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < b[i]->n_items; k++) {
            unit_item *it = &b[i]->items[k];
            if (it->vk == VEC_PIXELS) n_img++;
            if (it->vk == VEC_TEXT) n_win += it->n_windows;
        }
    size_t px = 3 * (size_t)r->info.crop_size * r->info.crop_size;
    float *pix = n_img ? malloc(sizeof *pix * px * (size_t)n_img) : NULL;
    float *ivec = n_img ? malloc(sizeof *ivec * (size_t)dim * n_img) : NULL;
    const char **win = n_win ? malloc(sizeof *win * (size_t)n_win) : NULL;
    float *wvec = n_win ? malloc(sizeof *wvec * (size_t)dim * n_win) : NULL;
    int rc = (n_img && (!pix || !ivec)) || (n_win && (!win || !wvec))
                 ? iris_fail(IRIS_ENOMEM, "no memory for a batch of %d images, %d texts", n_img,
                             n_win)
                 : IRIS_OK;
    int ki = 0, kw = 0;
    for (int i = 0; !rc && i < n; i++)
        for (int k = 0; k < b[i]->n_items; k++) {
            unit_item *it = &b[i]->items[k];
            if (it->vk == VEC_PIXELS) memcpy(pix + px * ki++, it->pixels, sizeof *pix * px);
            for (int w = 0; it->vk == VEC_TEXT && w < it->n_windows; w++) win[kw++] = it->windows[w];
        }
    if (!rc && n_img) rc = iris_encode_pixels(r->model, pix, n_img, ivec);
    if (!rc && n_win) rc = iris_encode_texts(r->model, win, n_win, wvec);
    ki = kw = 0;
    for (int i = 0; !rc && i < n; i++)
        for (int k = 0; !rc && k < b[i]->n_items; k++) {
            unit_item *it = &b[i]->items[k];
            if (it->vk == VEC_NONE) continue;
            if (!(it->vec = malloc(sizeof *it->vec * (size_t)dim))) {
                rc = iris_fail(IRIS_ENOMEM, "no memory");
            } else if (it->vk == VEC_PIXELS) {
                memcpy(it->vec, ivec + (size_t)dim * ki++, sizeof *it->vec * (size_t)dim);
            } else {
                textvec_combine(wvec + (size_t)dim * kw, it->n_windows, dim, it->vec);
                kw += it->n_windows;
            }
        }
    if (!rc) {
        r->sum->images_encoded += n_img;
        r->sum->texts_encoded += n_win;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < b[i]->n_items; k++) r->sum->items_encoded += b[i]->items[k].vec != NULL;
    }
    free(pix), free(ivec), free(win), free(wvec);
    return rc;
}

/* Takes units for one batch: waits for the first, then takes what is
 * ready up to the batch size. 0 units and *finished = 1 at the end. */
static int gather(run *r, unit_queue *q, unit **b, int cap, int *n, int *finished)
{
    *n = 0, *finished = 0;
    int img = 0, win = 0, batch = r->o.batch;
    double t0 = now_s();
    while (*n < cap && img < batch && win < TEXT_BATCH_FACTOR * batch) {
        unit *u;
        int got = queue_pop(q, *n ? 0 : POLL_MS, &u);
        if (got < 0) *finished = 1;
        if (got <= 0) {
            if (*n || *finished) break;
            if (cancelled(r)) break;
            continue;
        }
        b[(*n)++] = u;
        for (int k = 0; k < u->n_items; k++) {
            img += u->items[k].vk == VEC_PIXELS;
            win += u->items[k].vk == VEC_TEXT ? u->items[k].n_windows : 0;
        }
    }
    r->sum->wait_s += now_s() - t0;
    return cancelled(r) && !*n ? iris_fail(IRIS_ECANCELLED, "indexing cancelled") : IRIS_OK;
}

static int encode_loop(run *r, unit_queue *q)
{
    enum { CAP = 256 };
    unit *b[CAP];
    int rc = IRIS_OK, n, finished = 0;
    while (!rc && !finished) {
        if ((rc = gather(r, q, b, CAP, &n, &finished)) || !n) break;
        double t0 = now_s();
        rc = cancelled(r) ? iris_fail(IRIS_ECANCELLED, "indexing cancelled") : encode_batch(r, b, n);
        double t1 = now_s();
        if (!rc) rc = commit_units(&r->c, b, n);
        r->sum->encode_s += t1 - t0;
        r->sum->store_s += now_s() - t1;
        for (int i = 0; i < n; i++) unit_free(b[i]);
        if (!rc) progress(r, 1);
    }
    return rc;
}

static int default_jobs(void)
{
    int n = iris_cpu_count() / 2;
    return n < 1 ? 1 : n > 8 ? 8 : n;
}

/* Runs the decoding threads and the encoder until every job is done. */
static int pipeline(run *r)
{
    if (!r->n_jobs) return IRIS_OK;
    int n_workers = r->o.jobs > 0 ? r->o.jobs : default_jobs();
    if ((size_t)n_workers > r->n_jobs) n_workers = (int)r->n_jobs;
    r->sum->jobs = n_workers;
    unit_queue q;
    queue_init(&q, 4 * r->o.batch, QUEUE_BYTES, n_workers);
    decode_ctx dc = {.db = r->db, .model = r->model, .info = r->info, .opts = &r->o,
                     .jobs = r->jobs, .n_jobs = r->n_jobs, .q = &q,
                     .min_side = 2 * r->info.resize_shortest, .text_windows = INGEST_TEXTVEC};
    pthread_mutex_init(&dc.lock, NULL);
    pthread_t *th = calloc((size_t)n_workers, sizeof *th);
    int rc = th ? ingest_claims_new(&dc) : iris_fail(IRIS_ENOMEM, "no memory");
    int started = 0;
    for (; !rc && started < n_workers; started++)
        if (pthread_create(&th[started], NULL, decode_worker, &dc))
            rc = iris_fail(IRIS_EINTERNAL, "cannot start a decoding thread");
    for (int i = started; i < n_workers; i++) queue_producer_done(&q);
    if (!rc) rc = encode_loop(r, &q);
    if (rc) {
        pthread_mutex_lock(&dc.lock);
        dc.stop = 1;
        pthread_mutex_unlock(&dc.lock);
        queue_close(&q);
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    r->sum->decode_s += dc.decode_s;
    r->sum->decode_cpu_s += dc.decode_cpu_s;
    r->sum->files_hashed += dc.files_hashed;
    r->sum->files_decoded += dc.files_decoded;
    r->sum->bytes_read += dc.bytes_read;
    ingest_claims_free(&dc);
    queue_destroy(&q);
    pthread_mutex_destroy(&dc.lock);
    free(th);
    return rc;
}

/* ------------------------------------------------------------ prune */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* An unseen file whose content a new path linked to: a move. Each link
 * explains one vanished path. */
static int unseen_cb(void *user, const char *path, int64_t cid)
{
    run *r = user;
    committer *c = &r->c;
    size_t lo = 0, hi = c->n_linked;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->linked[mid] < cid) lo = mid + 1;
        else hi = mid;
    }
    while (lo < c->n_linked && c->linked[lo] == cid && r->used[lo]) lo++;
    if (cid && lo < c->n_linked && c->linked[lo] == cid) {
        r->used[lo] = 1;
        r->sum->moved++;
        r->sum->added--;
        if (r->o.verbose) ingest_log(c, IRIS_LOG_INFO, 0, path, "moved (content kept)");
    } else if (r->o.verbose) {
        ingest_log(c, IRIS_LOG_INFO, 0, path, "removed (gone from the folder)");
    }
    return 0;
}

static int prune(run *r)
{
    if (r->o.no_prune || r->keep_failed || !r->n_roots) return IRIS_OK;
    committer *c = &r->c;
    if (c->n_linked) qsort(c->linked, c->n_linked, sizeof *c->linked, cmp_i64);
    if (c->n_linked && !(r->used = calloc(c->n_linked, 1))) return iris_fail(IRIS_ENOMEM, "no memory");
    db_lock(r->db);
    int rc = IRIS_OK;
    for (int i = 0; !rc && i < r->n_roots; i++)
        rc = store_unseen_each(r->db->st, r->roots[i], unseen_cb, r);
    int64_t removed = 0;
    if (!rc) rc = store_prune_unseen(r->db->st, (const char *const *)r->roots, r->n_roots, &removed);
    db_unlock(r->db);
    if (!rc) r->sum->removed = removed - r->sum->moved;
    return rc;
}

/* ------------------------------------------------------------- run */

static int start(run *r)
{
    int64_t model_row;
    db_lock(r->db);
    int rc = db_record_model_locked(r->db, &r->model, &model_row);
    if (!rc) rc = store_scan_begin(r->db->st, NULL);
    db_unlock(r->db);
    if (rc) return rc;
    iris_model_get_info(r->model, &r->info);
    r->c.model_row = model_row;
    r->c.dim = r->info.projection_dim;
    return IRIS_OK;
}

static void finish(run *r)
{
    for (int i = 0; i < r->n_roots; i++) free(r->roots[i]);
    free(r->roots);
    free(r->jobs);
    free(r->used);
    free(r->c.linked);
    walk_list_free(&r->files);
}

int iris_index_paths(iris_db *db, const char *const *paths, int n, const iris_index_opts *opts,
                     iris_index_summary *summary)
{
    iris_index_summary local;
    iris_index_summary *sum = summary ? summary : &local;
    memset(sum, 0, sizeof *sum);
    if (!db || !paths || n < 1) return iris_fail(IRIS_EARG, "iris_index_paths: no index or no paths");
    for (int i = 0; i < n; i++)
        if (!paths[i] || !*paths[i]) return iris_fail(IRIS_EARG, "iris_index_paths: empty path");
    if (db->readonly) return iris_fail(IRIS_EARG, "%s: opened read-only", iris_db_path(db));
    run r = {.db = db, .sum = sum, .t0 = now_s()};
    if (opts) r.o = *opts;
    if (r.o.batch <= 0) r.o.batch = DEFAULT_BATCH;
    r.c = (committer){.db = db, .opts = &r.o, .sum = sum};
    int rc = start(&r);
    if (!rc) rc = resolve_roots(&r, paths, n);
    double tw = now_s();
    if (!rc) rc = walk_all(&r);
    sum->files_found = (int64_t)r.files.n;
    if (!rc) rc = classify_all(&r);
    sum->walk_s = now_s() - tw;
    if (!rc) progress(&r, 1);
    if (!rc) rc = pipeline(&r);
    if (!rc) progress(&r, 2);
    if (!rc) rc = prune(&r);
    sum->total_s = now_s() - r.t0;
    if (!rc) progress(&r, 3);
    finish(&r);
    return rc;
}

int iris_remove_path(iris_db *db, const char *path, int64_t *removed)
{
    if (removed) *removed = 0;
    if (!db || !path || !*path) return iris_fail(IRIS_EARG, "iris_remove_path: no index or no path");
    if (db->readonly) return iris_fail(IRIS_EARG, "%s: opened read-only", iris_db_path(db));
    char *abs;
    int rc = walk_resolve(path, &abs);
    if (rc) return rc;
    int64_t n = 0;
    db_lock(db);
    rc = store_remove(db->st, abs, &n);
    db_unlock(db);
    if (!rc && n == 0) rc = iris_fail(IRIS_ENOTFOUND, "%s: nothing indexed there", abs);
    free(abs);
    if (!rc && removed) *removed = n;
    return rc;
}
