/*
 * decode.c - the decoding threads: from a file to units (see ingest.h).
 *
 * Per file: open without blocking (a FIFO that appeared since the walk
 * must not hang the run), check it is still a regular file, sniff its
 * first bytes, hash it, and only then decide whether it needs decoding at
 * all: a content that is already done in the index, or that another job
 * of this run is decoding (two copies of one file), becomes a "link" unit
 * with no items. Otherwise this job claims the content and decodes it,
 * resuming after what a killed run committed (progress / next_seq).
 *
 * Everything that goes wrong with one file becomes a failed unit that the
 * committer records as a skip; the thread carries on with the next file.
 */
#include "ingest/ingest.h"

#include "ingest/textvec.h"
#include "text/chunk.h"
#include "text/utf8.h"
#include "util/error.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNIFF_BYTES 4096
#define TEXT_UNIT_CHUNKS 32 /* chunks of a text file per unit */
#define MAX_WINDOWS 16      /* CLIP windows per chunk (textvec.h) */

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

/* --------------------------------------------------------- claims */

/* SHA-256s of the contents jobs of this run decode (open addressing). */
typedef struct claim_set {
    char (*slot)[65];
    size_t cap, n;
} claim_set;

static size_t sha_hash(const char *sha)
{
    size_t h = 0;
    for (int i = 0; i < 16; i++) h = h * 16 + (size_t)(sha[i] <= '9' ? sha[i] - '0' : sha[i] - 'a' + 10);
    return h;
}

/* 1 if sha was newly claimed, 0 if it was claimed already, < 0 on error. */
static int claim(decode_ctx *dc, const char *sha)
{
    pthread_mutex_lock(&dc->lock);
    claim_set *s = dc->claims;
    int r = 1;
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        char(*slot)[65] = calloc(cap, sizeof *slot);
        if (!slot) r = -1;
        for (size_t i = 0; slot && i < s->cap; i++) {
            if (!s->slot[i][0]) continue;
            size_t j = sha_hash(s->slot[i]) & (cap - 1);
            while (slot[j][0]) j = (j + 1) & (cap - 1);
            memcpy(slot[j], s->slot[i], 65);
        }
        if (slot) free(s->slot), s->slot = slot, s->cap = cap;
    }
    if (r > 0) {
        size_t j = sha_hash(sha) & (s->cap - 1);
        for (; s->slot[j][0] && r; j = (j + 1) & (s->cap - 1))
            if (!strcmp(s->slot[j], sha)) r = 0;
        if (r) memcpy(s->slot[j], sha, 65), s->n++;
    }
    pthread_mutex_unlock(&dc->lock);
    return r;
}

int ingest_claims_new(decode_ctx *dc)
{
    return (dc->claims = calloc(1, sizeof *dc->claims)) ? IRIS_OK
                                                        : iris_fail(IRIS_ENOMEM, "no memory");
}

void ingest_claims_free(decode_ctx *dc)
{
    if (dc->claims) free(dc->claims->slot);
    free(dc->claims);
    dc->claims = NULL;
}

/* ---------------------------------------------------------- helpers */

static unit *new_unit(job *j)
{
    unit *u = calloc(1, sizeof *u);
    if (u) u->job = j;
    return u;
}

int worker_push(worker *w, unit *u)
{
    if (!u) return iris_fail(IRIS_ENOMEM, "no memory for a unit");
    for (int i = 0; i < u->n_items; i++) {
        const unit_item *it = &u->items[i];
        u->bytes += sizeof *it + (it->text ? strlen(it->text) : 0);
        if (it->pixels) u->bytes += sizeof(float) * 3 * (size_t)w->dc->info.crop_size * w->dc->info.crop_size;
    }
    double t0 = now_s();
    int rc = queue_push(w->dc->q, u);
    w->waited += now_s() - t0;
    return rc;
}

/* Turns u into the record of a failure: rc and the thread's message. */
static void fail_unit(unit *u, int rc)
{
    for (int i = 0; i < u->n_items; i++) {
        unit_item *it = &u->items[i];
        free(it->text), free(it->pixels), free(it->vec);
        textvec_windows_free(it->windows, it->n_windows);
    }
    u->n_items = 0;
    u->fail_status = rc ? rc : IRIS_EINTERNAL;
    free(u->fail_msg);
    const char *m = iris_errmsg();
    u->fail_msg = strdup(m && *m ? m : iris_strerror(rc));
}

static int fail_errno(unit *u, const char *path, int err, const char *what)
{
    u->transient = err != ENOENT && err != ENOTDIR && err != ELOOP;
    u->vanished = err == ENOENT || err == ENOTDIR;
    fail_unit(u, iris_fail(IRIS_EIO, "%s: cannot %s: %s", path, what, strerror(err)));
    return IRIS_OK;
}

int worker_pixels(worker *w, const iris_image *img, float **out)
{
    size_t n = 3 * (size_t)w->dc->info.crop_size * w->dc->info.crop_size;
    if (!(*out = malloc(n * sizeof **out))) return iris_fail(IRIS_ENOMEM, "no memory for pixels");
    int rc = iris_preprocess(w->dc->model, img, *out);
    if (rc) free(*out), *out = NULL;
    return rc;
}

/* Moves chunks [from, to) of cl into u as text items (windows ready). */
static int chunk_items(worker *w, unit *u, chunk_list *cl, int from, int to, int modality,
                       int page, int64_t *seq)
{
    for (int i = from; i < to; i++) {
        unit_item *it = unit_add_item(u);
        if (!it) return iris_fail(IRIS_ENOMEM, "no memory for text items");
        it->text = cl->v[i].text;
        cl->v[i].text = NULL;
        it->it = (store_item){.modality = modality, .seq = (*seq)++, .page = page,
                              .char_start = (int64_t)cl->v[i].start,
                              .char_end = (int64_t)cl->v[i].end, .text = it->text};
        it->vk = VEC_TEXT;
        int rc = textvec_windows(w->dc->model, it->text, strlen(it->text), w->dc->text_windows,
                                 MAX_WINDOWS, &it->windows, &it->n_windows);
        if (rc) return rc;
    }
    return IRIS_OK;
}

int worker_text_items(worker *w, unit *u, const char *text, size_t len, int markdown,
                      int modality, int page, int64_t *seq)
{
    chunk_opts co = {.markdown = markdown};
    chunk_list cl = {0};
    int rc = chunk_text(text, len, &co, &cl);
    if (!rc) rc = chunk_items(w, u, &cl, 0, cl.n, modality, page, seq);
    chunk_list_free(&cl);
    return rc;
}

/* ------------------------------------------------------------ kinds */

static int decode_image(worker *w, job *j, unit *u, int64_t seq)
{
    const iris_index_opts *o = w->dc->opts;
    iris_decode_opts d = {.max_pixels = o->max_pixels, .min_side = o->ocr ? 0 : w->dc->min_side};
    iris_image img = {0};
    int rc = iris_image_load(j->path, &d, &img);
    unit_item *it = rc ? NULL : unit_add_item(u);
    if (!rc && !it) rc = iris_fail(IRIS_ENOMEM, "no memory");
    if (!rc) {
        it->it.modality = STORE_IMAGE;
        it->it.seq = seq++;
        it->vk = VEC_PIXELS;
        rc = worker_pixels(w, &img, &it->pixels);
    }
    if (!rc && o->ocr) rc = worker_ocr(w, u, &img, 1, 0, &seq);
    iris_image_free(&img);
    return rc;
}

/* A text file: chunks in units of TEXT_UNIT_CHUNKS, from chunk `progress`. */
static int decode_text(worker *w, job *j, const void *raw, size_t n, int64_t progress,
                       int64_t seq)
{
    char *text = NULL;
    size_t len = 0;
    int rc = text_decode(raw, n, j->path, &text, &len, NULL);
    if (rc == IRIS_EFORMAT) /* binary bytes under a text name: not damaged, just not text */
        rc = iris_fail_wrap(IRIS_EUNSUPPORTED, "not a text file");
    chunk_opts co = {.markdown = j->text_kind == 2};
    chunk_list cl = {0};
    if (!rc) rc = chunk_text(text, len, &co, &cl);
    unit *u = NULL;
    int i = progress < cl.n ? (int)progress : cl.n, first = 1;
    do { /* an empty text still gets one (empty) unit: it completes the content */
        if (rc || w->dc->stop) break;
        if (!(u = new_unit(j))) {
            rc = iris_fail(IRIS_ENOMEM, "no memory");
            break;
        }
        int end = i + TEXT_UNIT_CHUNKS < cl.n ? i + TEXT_UNIT_CHUNKS : cl.n;
        u->first = first;
        u->last = end == cl.n;
        u->progress = end;
        if ((rc = chunk_items(w, u, &cl, i, end, STORE_TEXT_CHUNK, 0, &seq))) break;
        i = end;
        first = 0;
        rc = worker_push(w, u);
        u = NULL;
    } while (!rc && i < cl.n);
    chunk_list_free(&cl);
    free(text);
    if (rc && rc != IRIS_ECANCELLED) {
        if (!u && !(u = new_unit(j))) return rc;
        fail_unit(u, rc);
        return worker_push(w, u);
    }
    unit_free(u);
    return rc;
}

/* ------------------------------------------------------------- jobs */

/* Hashes the mapped bytes unless the job already knows its SHA-256. */
static int hash_job(worker *w, job *j, const void *data, size_t n)
{
    if (j->state == JOB_RESUME && j->sha256[0]) return IRIS_OK;
    int rc = iris_sha256_hex(data, n, j->sha256);
    pthread_mutex_lock(&w->dc->lock);
    w->dc->files_hashed++;
    w->dc->bytes_read += (int64_t)n;
    pthread_mutex_unlock(&w->dc->lock);
    return rc;
}

/* Decides what this job does with its content: 0 = link to what is
 * there (or what another job decodes), 1 = decode from *progress /
 * *next_seq. */
static int decide(worker *w, job *j, int *decode, int64_t *progress, int64_t *next_seq)
{
    store_content c;
    db_lock(w->dc->db);
    int rc = store_content_get(w->dc->db->st, j->sha256, &c);
    db_unlock(w->dc->db);
    *decode = 0, *progress = *next_seq = 0;
    if (rc && rc != IRIS_ENOTFOUND) return rc;
    if (rc == IRIS_OK && c.state == STORE_DONE) return IRIS_OK;
    int r = claim(w->dc, j->sha256);
    if (r < 0) return iris_fail(IRIS_ENOMEM, "no memory");
    if (r == 0) return IRIS_OK;
    *decode = 1;
    if (rc == IRIS_OK) *progress = c.progress, *next_seq = c.next_seq;
    return IRIS_OK;
}

/* Opens the job's file; fills *map or records the failure in u. */
static int open_job(job *j, unit *u, const iris_index_opts *o, void **map, size_t *n,
                    uint8_t *head, size_t *head_n)
{
    *map = NULL, *n = 0, *head_n = 0;
    int fd = open(j->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail_errno(u, j->path, errno, "open");
    struct stat sb;
    int rc = IRIS_OK;
    if (fstat(fd, &sb) != 0) {
        rc = fail_errno(u, j->path, errno, "stat");
    } else if (!S_ISREG(sb.st_mode)) {
        fail_unit(u, iris_fail(IRIS_EIO, "%s: not a regular file any more", j->path));
    } else if (sb.st_size == 0) {
        fail_unit(u, iris_fail(IRIS_EFORMAT, "%s: empty file", j->path));
        u->empty = 1;
    } else {
        j->size = (int64_t)sb.st_size;
        j->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        ssize_t got = pread(fd, head, SNIFF_BYTES, 0);
        if (got < 0) return close(fd), fail_errno(u, j->path, errno, "read");
        *head_n = (size_t)got;
        int64_t cap = o->max_text_bytes > 0 ? o->max_text_bytes : (int64_t)64 << 20;
        if (j->text_kind && sb.st_size > cap && !ingest_sniff(head, *head_n, 0, &(const char *){0}))
            fail_unit(u, iris_fail(IRIS_ELIMIT, "%s: text file of %lld bytes, over the %lld-byte "
                                                "limit", j->path, (long long)sb.st_size,
                                   (long long)cap));
        else if ((*map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
            *map = NULL, rc = fail_errno(u, j->path, errno, "map");
        else
            *n = (size_t)sb.st_size;
    }
    close(fd);
    return rc;
}

static int run_job(worker *w, job *j)
{
    decode_ctx *dc = w->dc;
    unit *u = new_unit(j);
    if (!u) return iris_fail(IRIS_ENOMEM, "no memory");
    u->first = u->last = 1;
    uint8_t head[SNIFF_BYTES];
    void *map;
    size_t n, head_n;
    int rc = open_job(j, u, dc->opts, &map, &n, head, &head_n), dec = 0;
    if (rc || u->fail_status) goto out;
    const char *unsupported;
    j->kind = ingest_sniff(head, head_n, j->text_kind, &unsupported);
    if (j->kind == STORE_KIND_OTHER) {
        u->ignore = 1;
        goto out;
    }
    if (unsupported) {
        fail_unit(u, iris_fail(IRIS_EUNSUPPORTED, "%s: %s images are not supported", j->path,
                               unsupported));
        goto out;
    }
    int64_t progress, next_seq;
    if ((rc = hash_job(w, j, map, n)) || (rc = decide(w, j, &dec, &progress, &next_seq))) {
        fail_unit(u, rc);
        goto out;
    }
    if (!dec) {
        u->link = 1;
        goto out;
    }
    pthread_mutex_lock(&dc->lock);
    dc->files_decoded++;
    pthread_mutex_unlock(&dc->lock);
    if (j->kind == STORE_KIND_IMAGE) {
        if ((rc = decode_image(w, j, u, next_seq))) fail_unit(u, rc);
        u->progress = 1;
    } else {
        unit_free(u);
        u = NULL;
        rc = j->kind == STORE_KIND_TEXT ? decode_text(w, j, map, n, progress, next_seq)
                                        : decode_pdf(w, j, progress, next_seq);
    }
out:
    if (map) munmap(map, n);
    if (u) rc = worker_push(w, u);
    return rc;
}

void *decode_worker(void *arg)
{
    worker w = {.dc = arg};
    decode_ctx *dc = w.dc;
    for (;;) {
        pthread_mutex_lock(&dc->lock);
        job *j = !dc->stop && dc->next_job < dc->n_jobs ? &dc->jobs[dc->next_job++] : NULL;
        pthread_mutex_unlock(&dc->lock);
        if (!j) break;
        double t0 = now_s(), w0 = w.waited, c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        int rc = run_job(&w, j);
        double cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        pthread_mutex_lock(&dc->lock);
        dc->decode_s += now_s() - t0 - (w.waited - w0);
        dc->decode_cpu_s += cpu;
        if (rc == IRIS_ECANCELLED) dc->stop = 1;
        pthread_mutex_unlock(&dc->lock);
    }
    worker_done(&w);
    queue_producer_done(dc->q);
    return NULL;
}
