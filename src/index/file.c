/*
 * file.c - the index file: atomic save, mapped open, verification.
 *
 * Layout (little endian): a 4096-byte header, then seven sections, each
 * starting on a 4096-byte boundary so every column can be mapped in place:
 *   structure: META (24 B/row), LINK0 ((2M + 1) x u32/row), UPPER (arena of
 *              64K-word chunks), CALMID (dpad floats)
 *   data:      CODE (dpad int8/row), BITS (dpad/8 B/row), VEC (f32 or f16/row)
 * The header records the format version, the configuration, counts, the
 * graph's entry point, the caller's fingerprint, and each section's offset,
 * length and CRC-32C; its own CRC-32C closes it.
 *
 * Opening checks the header, the sizes (a short file is "truncated"), the
 * fingerprint and dim, the structure sections' checksums and then walks the
 * structure (every link in range and pointing at a row of high enough
 * level, counts within M, arena offsets inside the arena): a file with a
 * forged checksum still cannot make a search read out of bounds. Data
 * sections are checksummed too unless the caller opts out for a large file.
 * Checksums are computed with pread, not through the mapping, so verifying
 * does not make the whole file resident.
 */
#include "index/core.h"
#include "index/crc32c.h"
#include "index/file.h"

#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE ANN_FILE_PAGE
#define FORMAT_VERSION ANN_FILE_VERSION
#define VERIFY_AUTO_MAX ((uint64_t)256 << 20)

static const char MAGIC[8] = {'I', 'R', 'I', 'S', 'A', 'N', 'N', 0};

const char *iris_ann_why(int why)
{
    static const char *const names[] = {"ok", "missing", "corrupt", "truncated",
                                        "version", "stale", "dim mismatch", "unreadable"};
    return why >= 0 && why <= IRIS_ANN_IOERR ? names[why] : "unknown";
}

/* ------------------------------------------------------------------ saving */

typedef struct writer {
    int fd;
    uint64_t pos;
    uint32_t crc;
    const char *path;
} writer;

static int put(writer *w, const void *p, size_t n)
{
    w->crc = ann_crc32c(w->crc, p, n);
    const char *b = p;
    while (n) {
        ssize_t k = write(w->fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return iris_fail(IRIS_EIO, "cannot write %s: %s", w->path, strerror(errno));
        b += k;
        n -= (size_t)k;
        w->pos += (uint64_t)k;
    }
    return 0;
}

static int pad_to_page(writer *w)
{
    static const char zero[PAGE];
    size_t n = (size_t)((PAGE - w->pos % PAGE) % PAGE);
    uint32_t crc = w->crc; /* padding is outside every section */
    int rc = n ? put(w, zero, n) : 0;
    w->crc = crc;
    return rc;
}

static int put_col(writer *w, const ann_col *c, size_t rows)
{
    int rc = 0;
    for (size_t i = 0; !rc && i * ANN_CHUNK_ROWS < rows; i++) {
        size_t n = rows - i * ANN_CHUNK_ROWS;
        rc = put(w, c->chunk[i], (n < ANN_CHUNK_ROWS ? n : ANN_CHUNK_ROWS) * c->stride);
    }
    return rc;
}

static int put_arena(writer *w, const ann_arena *a)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < a->n_chunks; i++)
        rc = put(w, a->chunk[i], (i + 1 == a->n_chunks ? a->used : ANN_ARENA_WORDS) * 4);
    return rc;
}

static int put_section(writer *w, file_header *h, int s, const ann_core *c)
{
    int rc = pad_to_page(w);
    if (rc) return rc;
    h->sec[s].off = w->pos;
    w->crc = 0;
    switch (s) {
    case SEC_META: rc = put_col(w, &c->meta, c->rows); break;
    case SEC_LINK0: rc = put_col(w, &c->link0, c->rows); break;
    case SEC_UPPER: rc = put_arena(w, &c->upper); break;
    case SEC_CALMID: rc = put(w, c->cal.mid, (size_t)c->dpad * sizeof(float)); break;
    case SEC_CODE: rc = put_col(w, &c->code, c->rows); break;
    case SEC_BITS: rc = put_col(w, &c->bits, c->rows); break;
    default: rc = put_col(w, &c->vec, c->rows); break;
    }
    h->sec[s].bytes = w->pos - h->sec[s].off;
    h->sec[s].crc = w->crc;
    return rc;
}

static void fill_header(const iris_ann *a, const ann_core *c, file_header *h)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, MAGIC, 8);
    h->version = FORMAT_VERSION;
    h->header_bytes = sizeof *h;
    h->endian = 0x01020304;
    h->dim = (uint32_t)c->dim;
    h->dpad = (uint32_t)c->dpad;
    h->storage = (uint32_t)c->storage;
    h->mode = (uint32_t)a->cfg.mode;
    h->M = (uint32_t)c->M;
    h->ef_construction = (uint32_t)a->cfg.ef_construction;
    h->ef_search = (uint32_t)ann_knob(&a->cfg.ef_search);
    h->rescore = (uint32_t)ann_knob(&a->cfg.rescore);
    h->hnsw_threshold = (uint32_t)a->cfg.hnsw_threshold;
    h->graph = (uint32_t)c->graph;
    h->n_sections = NSEC;
    h->seed = a->cfg.seed;
    h->rng = a->rng;
    h->fingerprint = __atomic_load_n(&a->fingerprint, __ATOMIC_RELAXED);
    h->rows = c->rows;
    h->live = c->live;
    h->deleted = c->deleted;
    h->entry = c->entry;
    for (int m = 0; m < 32; m++) h->live_mod[m] = c->live_mod[m];
    h->cal_samples = c->cal.samples;
    h->cal_scale = c->cal.scale;
    h->cal_mid_sq = c->cal.mid_sq;
    h->arena_chunks = c->upper.n_chunks;
    h->arena_used = c->upper.used;
}

static int sync_dir(const char *path)
{
    char *dup = strdup(path);
    if (!dup) return iris_fail(IRIS_ENOMEM, "out of memory");
    int fd = open(dirname(dup), O_RDONLY | O_DIRECTORY);
    free(dup);
    if (fd < 0) return 0; /* best effort: the rename itself is done */
    fsync(fd);
    close(fd);
    return 0;
}

static int write_all(iris_ann *a, writer *w)
{
    const ann_core *c = a->core;
    file_header h;
    fill_header(a, c, &h);
    static const char zero[PAGE];
    int rc = put(w, zero, PAGE);
    for (int s = 0; !rc && s < NSEC; s++) rc = put_section(w, &h, s, c);
    h.crc = ann_crc32c(0, &h, offsetof(file_header, crc));
    if (!rc && pwrite(w->fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        rc = iris_fail(IRIS_EIO, "cannot write %s: %s", w->path, strerror(errno));
    if (!rc && fsync(w->fd))
        rc = iris_fail(IRIS_EIO, "cannot sync %s: %s", w->path, strerror(errno));
    return rc;
}

int iris_ann_save(iris_ann *a, const char *path)
{
    if (!a || !path) return iris_fail(IRIS_EARG, "iris_ann_save: NULL argument");
    static unsigned counter;
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp-%d-%u", path, (int)getpid(),
                     __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    if (n < 0 || (size_t)n >= sizeof tmp) return iris_fail(IRIS_ELIMIT, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return iris_fail(IRIS_EIO, "cannot create %s: %s", tmp, strerror(errno));
    writer w = {fd, 0, 0, tmp};
    pthread_mutex_lock(&a->writer);
    int rc = write_all(a, &w);
    pthread_mutex_unlock(&a->writer);
    if (close(fd) && !rc) rc = iris_fail(IRIS_EIO, "cannot close %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path))
        rc = iris_fail(IRIS_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc) unlink(tmp);
    else rc = sync_dir(path);
    return rc;
}

/* ----------------------------------------------------------------- opening */

typedef struct opener {
    const char *path;
    int fd;
    uint64_t size;
    file_header h;
    int why;
} opener;

static int bad(opener *o, int why, const char *what)
{
    o->why = why;
    return iris_fail(why == IRIS_ANN_VERSION ? IRIS_EUNSUPPORTED
                     : why == IRIS_ANN_IOERR ? IRIS_EIO : IRIS_EFORMAT,
                     "index file %s is %s: %s", o->path, iris_ann_why(why), what);
}

/* Expected byte length of each section, from the header's counts. */
static uint64_t section_bytes(const file_header *h, int s)
{
    uint64_t rows = h->rows, dp = h->dpad;
    switch (s) {
    case SEC_META: return rows * sizeof(ann_meta);
    case SEC_LINK0: return rows * (2 * (uint64_t)h->M + 1) * 4;
    case SEC_UPPER: return h->arena_chunks ? ((h->arena_chunks - 1) * ANN_ARENA_WORDS + h->arena_used) * 4 : 0;
    case SEC_CALMID: return dp * 4;
    case SEC_CODE: return rows * dp;
    case SEC_BITS: return rows * dp / 8;
    default: return rows * dp * (h->storage == IRIS_ANN_F16 ? 2 : 4);
    }
}

static int check_header(opener *o, const iris_ann_open_opts *opts)
{
    file_header *h = &o->h;
    if (memcmp(h->magic, MAGIC, 8)) return bad(o, IRIS_ANN_CORRUPT, "not an iris index (bad magic)");
    if (h->version != FORMAT_VERSION || h->header_bytes != sizeof *h || h->endian != 0x01020304)
        return bad(o, IRIS_ANN_VERSION, "format version differs");
    if (ann_crc32c(0, h, offsetof(file_header, crc)) != h->crc)
        return bad(o, IRIS_ANN_CORRUPT, "header checksum mismatch");
    iris_ann_config cfg = {(int)h->dim, (int)h->storage, (int)h->mode, (int)h->hnsw_threshold,
                           (int)h->M, (int)h->ef_construction, (int)h->ef_search, (int)h->rescore,
                           0, h->seed};
    if (ann_config_check(&cfg) || h->dpad != (h->dim + 63) / 64 * 64 || h->n_sections != NSEC ||
        h->rows >= UINT32_MAX || h->live + h->deleted != h->rows || h->graph > 1 ||
        h->arena_used > ANN_ARENA_WORDS || (h->arena_chunks == 0) != (h->arena_used == 0) ||
        h->arena_chunks > ((uint64_t)UINT32_MAX / ANN_ARENA_WORDS))
        return bad(o, IRIS_ANN_CORRUPT, "header values out of range");
    for (int s = 0; s < NSEC; s++) {
        const file_sec *sec = &h->sec[s];
        if (sec->bytes != section_bytes(h, s) || sec->off % PAGE || sec->off < PAGE ||
            sec->off > UINT64_MAX / 2 || sec->bytes > UINT64_MAX / 4)
            return bad(o, IRIS_ANN_CORRUPT, "section table inconsistent");
        if (sec->off + sec->bytes > o->size) return bad(o, IRIS_ANN_TRUNCATED, "file is shorter than its sections");
    }
    if (opts && opts->dim && (uint32_t)opts->dim != h->dim) {
        o->why = IRIS_ANN_MISMATCH;
        return iris_fail(IRIS_EMODEL, "index file %s has dim %u, the model has %d", o->path,
                         h->dim, opts->dim);
    }
    if (opts && opts->check_fingerprint && opts->fingerprint != h->fingerprint) {
        o->why = IRIS_ANN_STALE;
        return iris_fail(IRIS_EFORMAT, "index file %s is stale (fingerprint %016llx, store %016llx)",
                         o->path, (unsigned long long)h->fingerprint,
                         (unsigned long long)opts->fingerprint);
    }
    return 0;
}

static int check_crc(opener *o, int s, char *buf, size_t cap)
{
    uint32_t crc = 0;
    for (uint64_t done = 0, n = o->h.sec[s].bytes; done < n;) {
        size_t want = n - done < cap ? (size_t)(n - done) : cap;
        ssize_t k = pread(o->fd, buf, want, (off_t)(o->h.sec[s].off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            o->why = IRIS_ANN_IOERR;
            return iris_fail(IRIS_EIO, "cannot read %s: %s", o->path, k ? strerror(errno) : "end of file");
        }
        crc = ann_crc32c(crc, buf, (size_t)k);
        done += (uint64_t)k;
    }
    if (crc != o->h.sec[s].crc) {
        static const char *const names[NSEC] = {"attributes", "links", "upper links", "calibration",
                                               "int8 codes", "sign bits", "vectors"};
        char what[64];
        snprintf(what, sizeof what, "%s checksum mismatch", names[s]);
        return bad(o, IRIS_ANN_CORRUPT, what);
    }
    return 0;
}

static int check_sums(opener *o, int verify)
{
    if (verify == IRIS_ANN_VERIFY_AUTO)
        verify = o->size <= VERIFY_AUTO_MAX ? IRIS_ANN_VERIFY_FULL : IRIS_ANN_VERIFY_STRUCTURE;
    int last = verify == IRIS_ANN_VERIFY_FULL ? NSEC : N_STRUCTURE;
    size_t cap = (size_t)1 << 20;
    char *buf = malloc(cap);
    if (!buf) return iris_fail(IRIS_ENOMEM, "out of memory");
    int rc = 0;
    for (int s = 0; s < last && !rc; s++) rc = check_crc(o, s, buf, cap);
    free(buf);
    return rc;
}

static void attach_col(ann_col *c, unsigned char *base, size_t rows)
{
    c->n_chunks = c->cap_chunks = (rows + ANN_CHUNK_ROWS - 1) / ANN_CHUNK_ROWS;
    for (size_t i = 0; i < c->n_chunks; i++) {
        c->chunk[i] = base + i * ANN_CHUNK_ROWS * c->stride;
        c->owned[i] = 0;
    }
    c->last_cap = rows - (c->n_chunks ? (c->n_chunks - 1) * ANN_CHUNK_ROWS : 0);
}

static int attach(ann_core *c, const file_header *h, unsigned char *base)
{
    ann_col *cols[] = {&c->meta, &c->link0, &c->code, &c->bits, &c->vec};
    int secs[] = {SEC_META, SEC_LINK0, SEC_CODE, SEC_BITS, SEC_VEC};
    size_t nch = (h->rows + ANN_CHUNK_ROWS - 1) / ANN_CHUNK_ROWS;
    for (int i = 0; i < 5; i++) {
        cols[i]->chunk = malloc((nch + 1) * sizeof *cols[i]->chunk);
        cols[i]->owned = malloc(nch + 1);
        if (!cols[i]->chunk || !cols[i]->owned) return iris_fail(IRIS_ENOMEM, "out of memory");
        attach_col(cols[i], base + h->sec[secs[i]].off, h->rows);
    }
    ann_arena *a = &c->upper;
    a->chunk = malloc((h->arena_chunks + 1) * sizeof *a->chunk);
    a->owned = malloc(h->arena_chunks + 1);
    if (!a->chunk || !a->owned) return iris_fail(IRIS_ENOMEM, "out of memory");
    a->n_chunks = a->cap_chunks = h->arena_chunks;
    for (size_t i = 0; i < a->n_chunks; i++) {
        a->chunk[i] = (uint32_t *)(base + h->sec[SEC_UPPER].off) + i * ANN_ARENA_WORDS;
        a->owned[i] = 0;
    }
    a->used = a->last_cap = h->arena_used;
    memcpy(c->cal.mid, base + h->sec[SEC_CALMID].off, (size_t)c->dpad * sizeof(float));
    c->cal.scale = h->cal_scale;
    c->cal.mid_sq = h->cal_mid_sq;
    c->cal.samples = h->cal_samples;
    c->rows = h->rows;
    c->live = h->live;
    c->deleted = h->deleted;
    c->entry = h->entry;
    c->graph = (int)h->graph;
    c->graph_done = h->graph ? h->rows : 0;
    for (int m = 0; m < 32; m++) c->live_mod[m] = h->live_mod[m];
    return 0;
}

/* Every link of row at level l must name a row whose level is >= l. */
static int check_links(const ann_core *c, size_t row, int level)
{
    const uint32_t *links = ann_links(c, row, level);
    if (links[0] > (uint32_t)(level ? c->M : c->M0)) return 0;
    for (uint32_t i = 0; i < links[0]; i++)
        if (links[1 + i] >= c->rows || ann_meta_at(c, links[1 + i])->level < level) return 0;
    return 1;
}

static int check_structure(opener *o, const ann_core *c)
{
    const file_header *h = &o->h;
    uint64_t arena_words = h->sec[SEC_UPPER].bytes / 4, live = 0, mod[32] = {0};
    for (size_t r = 0; r < c->rows; r++) {
        const ann_meta *m = ann_meta_at(c, r);
        if (m->level > ANN_MAX_LEVEL || m->modality > 31 || m->flags > ANN_ROW_DELETED)
            return bad(o, IRIS_ANN_CORRUPT, "row attributes out of range");
        uint64_t words = (uint64_t)m->level * (uint64_t)(c->M + 1);
        if (m->level && (m->upper + words > arena_words ||
                         m->upper % ANN_ARENA_WORDS + words > ANN_ARENA_WORDS))
            return bad(o, IRIS_ANN_CORRUPT, "upper-level links outside the arena");
        if (!(m->flags & ANN_ROW_DELETED)) {
            live++;
            mod[m->modality]++;
        }
        for (int l = 0; l <= m->level; l++)
            if (!check_links(c, r, l) || (!c->graph && ann_links(c, r, l)[0]))
                return bad(o, IRIS_ANN_CORRUPT, "graph links out of range");
    }
    for (int m = 0; m < 32; m++)
        if (mod[m] != h->live_mod[m]) return bad(o, IRIS_ANN_CORRUPT, "modality counts differ");
    if (live != h->live) return bad(o, IRIS_ANN_CORRUPT, "live count differs");
    uint64_t e = h->entry;
    if (e != ANN_NO_ENTRY && ((uint32_t)e >= c->rows || ann_meta_at(c, (uint32_t)e)->level != e >> 32))
        return bad(o, IRIS_ANN_CORRUPT, "graph entry point out of range");
    if (c->graph && c->rows && e == ANN_NO_ENTRY) return bad(o, IRIS_ANN_CORRUPT, "graph has no entry point");
    return 0;
}

static int open_mapped(opener *o, const iris_ann_open_opts *opts, iris_ann **out)
{
    const file_header *h = &o->h;
    iris_ann_config cfg = {(int)h->dim, (int)h->storage, (int)h->mode, (int)h->hnsw_threshold,
                           (int)h->M, (int)h->ef_construction, (int)h->ef_search, (int)h->rescore,
                           opts ? opts->n_threads : 0, h->seed};
    if (opts && opts->ef_search > 0) cfg.ef_search = opts->ef_search;
    void *base = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, o->fd, 0);
    if (base == MAP_FAILED) {
        o->why = IRIS_ANN_IOERR;
        return iris_fail(IRIS_EIO, "cannot map %s: %s", o->path, strerror(errno));
    }
    ann_core *c = NULL;
    int rc = ann_core_new(&cfg, &c);
    if (rc) {
        munmap(base, o->size);
        return rc;
    }
    c->map_base = base;
    c->map_size = o->size;
    /* Rescoring reads a few scattered vectors: read-ahead around each would
     * fill memory with vectors nobody asked for when the file is cold. */
    size_t vec_start = (size_t)h->sec[SEC_VEC].off & ~(size_t)(PAGE - 1);
    if (h->sec[SEC_VEC].bytes)
        madvise((char *)base + vec_start, (size_t)h->sec[SEC_VEC].bytes, MADV_RANDOM);
    rc = attach(c, h, base);
    if (!rc) rc = check_structure(o, c);
    if (!rc) rc = ann_wrap(&cfg, c, out);
    if (rc) {
        ann_core_free(c);
        return rc;
    }
    (*out)->rng = h->rng;
    (*out)->fingerprint = h->fingerprint;
    return 0;
}

int iris_ann_open(const char *path, const iris_ann_open_opts *opts, iris_ann **out, int *why)
{
    opener o = {.path = path, .fd = -1, .why = IRIS_ANN_OK};
    int rc = 0;
    if (why) *why = IRIS_ANN_IOERR;
    if (!path || !out) return iris_fail(IRIS_EARG, "iris_ann_open: NULL argument");
    *out = NULL;
    o.fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (o.fd < 0) {
        o.why = errno == ENOENT ? IRIS_ANN_MISSING : IRIS_ANN_IOERR;
        rc = iris_fail(errno == ENOENT ? IRIS_ENOTFOUND : IRIS_EIO, "cannot open index file %s: %s",
                       path, strerror(errno));
    } else if (fstat(o.fd, &st)) {
        o.why = IRIS_ANN_IOERR;
        rc = iris_fail(IRIS_EIO, "cannot stat %s: %s", path, strerror(errno));
    } else {
        o.size = (uint64_t)st.st_size;
        if (o.size < PAGE) rc = bad(&o, IRIS_ANN_TRUNCATED, "shorter than a header");
        else if (pread(o.fd, &o.h, sizeof o.h, 0) != (ssize_t)sizeof o.h)
            rc = bad(&o, IRIS_ANN_IOERR, "cannot read the header");
        if (!rc) rc = check_header(&o, opts);
        if (!rc) rc = check_sums(&o, opts ? opts->verify : IRIS_ANN_VERIFY_AUTO);
        if (!rc) rc = open_mapped(&o, opts, out);
    }
    if (o.fd >= 0) close(o.fd);
    if (why) *why = o.why;
    return rc;
}
