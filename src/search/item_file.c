/*
 * item_file.c - what a front end needs to show an item beyond its
 * details: its source file (opened safely), its stored vector, and a JPEG
 * thumbnail cached on disk.
 *
 * Opening a source file for a user (the REST server's "original file") is
 * where a path could be abused, so nothing here takes a path: the path
 * comes from the index, and the file is opened with O_NOFOLLOW (a symlink
 * planted where an indexed file was is refused), must be a regular file,
 * and must still have the size and mtime the index recorded (the rule
 * incremental indexing uses). Those checks run on the opened descriptor
 * (fstat), not on the path, so the file cannot be swapped in between.
 * Folders above the file may be symlinks: indexed roots often are.
 *
 * Thumbnails: the item's pixels (iris_item_image, decoded with JPEG DCT
 * scaling to about the size needed), fitted to max_side, encoded as JPEG.
 * They are cached under <index folder>/thumbs/ by content hash, item
 * sequence and size; content never changes under its hash, so a cached
 * thumbnail is never stale. Files are written to a temporary name and
 * renamed, so concurrent requests and crashes never leave a torn file. A
 * cache that cannot be written (read-only folder) only costs the encoding
 * again next time.
 */
#include "search/db.h"

#include "text/utf8.h"
#include "util/error.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THUMB_QUALITY 82
#define THUMB_MAX_BYTES (4u << 20)
#define SNIFF_BYTES 4096

/* ------------------------------------------------------------ source file */

/* Content type of an indexed file from its kind and first bytes. */
static void sniff_mime(int kind, const unsigned char *head, size_t n, char *mime, size_t cap)
{
    const char *m = iris_image_mime(head, n);
    if (!m && n >= 5 && !memcmp(head, "%PDF-", 5)) m = "application/pdf";
    if (!m && kind == STORE_KIND_TEXT) {
        if (n >= 2 && ((head[0] == 0xFF && head[1] == 0xFE) || (head[0] == 0xFE && head[1] == 0xFF)))
            m = "text/plain; charset=utf-16";
        else {
            /* A multi-byte character may be cut at the end of the sample. */
            size_t k = n;
            while (k > 0 && n - k < 3 && (head[k - 1] & 0xC0) == 0x80) k--;
            if (k > 0 && head[k - 1] >= 0xC0) k--;
            m = utf8_valid((const char *)head, k) ? "text/plain; charset=utf-8"
                                                  : "text/plain; charset=windows-1252";
        }
    }
    snprintf(mime, cap, "%s", m ? m : "application/octet-stream");
}

static int open_checked(const store_file *rec, const char *path, iris_item_file *out)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return iris_fail(IRIS_ENOTFOUND, "%s is now a symbolic link; not served", path);
        return iris_fail(e == ENOENT ? IRIS_ENOTFOUND : IRIS_EIO, "cannot open %s: %s", path,
                         strerror(e));
    }
    struct stat sb;
    int rc = IRIS_OK;
    if (fstat(fd, &sb) != 0)
        rc = iris_fail(IRIS_EIO, "cannot stat %s: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        rc = iris_fail(IRIS_ENOTFOUND, "%s is not a regular file; not served", path);
    else if (sb.st_size != rec->size ||
             (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec != rec->mtime_ns)
        rc = iris_fail(IRIS_ENOTFOUND, "%s changed since it was indexed; re-index it", path);
    if (rc) {
        close(fd);
        return rc;
    }
    out->fd = fd;
    out->size = sb.st_size;
    out->mtime_ns = rec->mtime_ns;
    return IRIS_OK;
}

int iris_item_open(iris_db *db, int64_t item_id, iris_item_file *out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_item_open: out is NULL");
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (!db) return iris_fail(IRIS_EARG, "iris_item_open: db is NULL");
    store_item_info it;
    store_file rec;
    db_lock(db);
    int rc = store_item_get(db->st, item_id, &it);
    if (!rc && !it.path)
        rc = iris_fail(IRIS_ENOTFOUND, "item %lld has no file left", (long long)item_id);
    if (!rc) rc = store_file_get(db->st, it.path, &rec);
    db_unlock(db);
    if (!rc) rc = open_checked(&rec, it.path, out);
    if (!rc) {
        unsigned char head[SNIFF_BYTES];
        ssize_t n = pread(out->fd, head, sizeof head, 0);
        sniff_mime(rec.kind, head, n > 0 ? (size_t)n : 0, out->mime, sizeof out->mime);
        const char *slash = strrchr(it.path, '/');
        snprintf(out->name, sizeof out->name, "%s", slash ? slash + 1 : it.path);
    }
    store_item_info_free(&it);
    return rc;
}

void iris_item_file_close(iris_item_file *f)
{
    if (f && f->fd >= 0) close(f->fd);
    if (f) f->fd = -1;
}

/* ----------------------------------------------------------------- vector */

int iris_item_vector(iris_db *db, int64_t item_id, float *out, int dim)
{
    if (!db || !out || dim <= 0) return iris_fail(IRIS_EARG, "iris_item_vector: bad arguments");
    int64_t row;
    db_lock(db);
    int rc = db_model_row_locked(db, &row);
    if (!rc) rc = store_vector_get(db->st, item_id, row, out, dim);
    db_unlock(db);
    return rc;
}

/* -------------------------------------------------------------- thumbnail */

/* <folder of the index>/thumbs/ab/<sha>-<seq>-<side>.jpg */
static int thumb_path(const iris_db *db, const store_item_info *it, int side, char *path,
                      size_t cap)
{
    const char *slash = strrchr(db->path, '/');
    int dir_len = slash ? (int)(slash - db->path) : 1;
    const char *dir = slash ? db->path : ".";
    int n = snprintf(path, cap, "%.*s/thumbs/%.2s/%s-%lld-%d.jpg", dir_len, dir, it->sha256,
                     it->sha256, (long long)it->seq, side);
    return n > 0 && (size_t)n < cap ? IRIS_OK : iris_fail(IRIS_ELIMIT, "index path too long");
}

/* Creates the parent folders of path (best effort: failures show at write). */
static void make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
}

/* Writes via a temporary file and rename; failures are ignored (the cache
 * is an optimisation, the caller has the bytes). */
static void cache_store(char *path, const unsigned char *data, size_t n)
{
    make_parents(path);
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return;
    int ok = write(fd, data, n) == (ssize_t)n;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

static int make_thumb(iris_db *db, int64_t item_id, int side, unsigned char **jpeg, size_t *size)
{
    iris_decode_opts o = {.min_side = side};
    iris_image full, small;
    int rc = iris_item_image(db, item_id, &o, &full);
    if (rc) return rc;
    rc = iris_image_fit(&full, side, &small);
    iris_image_free(&full);
    if (!rc) rc = iris_image_encode_jpeg(&small, THUMB_QUALITY, jpeg, size);
    iris_image_free(&small);
    return rc;
}

int iris_item_thumbnail(iris_db *db, int64_t item_id, int max_side, unsigned char **jpeg,
                        size_t *size)
{
    if (!jpeg || !size) return iris_fail(IRIS_EARG, "iris_item_thumbnail: out is NULL");
    *jpeg = NULL;
    *size = 0;
    if (!db) return iris_fail(IRIS_EARG, "iris_item_thumbnail: db is NULL");
    if (max_side < IRIS_THUMB_MIN || max_side > IRIS_THUMB_MAX)
        return iris_fail(IRIS_EARG, "thumbnail size %d is not within %d..%d", max_side,
                         IRIS_THUMB_MIN, IRIS_THUMB_MAX);
    store_item_info it;
    db_lock(db);
    int rc = store_item_get(db->st, item_id, &it);
    db_unlock(db);
    if (rc) return rc;
    char path[PATH_MAX];
    rc = thumb_path(db, &it, max_side, path, sizeof path);
    store_item_info_free(&it);
    if (rc) return rc;
    char *cached;
    size_t n;
    if (iris_read_file(path, THUMB_MAX_BYTES, &cached, &n) == IRIS_OK && n > 0) {
        *jpeg = (unsigned char *)cached;
        *size = n;
        return IRIS_OK;
    }
    iris_clear_error();
    rc = make_thumb(db, item_id, max_side, jpeg, size);
    if (!rc) cache_store(path, *jpeg, *size);
    return rc;
}
