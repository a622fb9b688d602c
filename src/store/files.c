/*
 * files.c - files, contents, scans and pruning: the bookkeeping that makes
 * indexing incremental and keyed by content.
 *
 * A file row points at the content it holds (content_id) and, while a
 * changed file's new content is still pending, also at the content it held
 * before (prev_content_id) so searches keep finding the old items until
 * the new ones are complete. "Releasing" a content after a file stops
 * pointing at it either refreshes the file names searchable with its items
 * (other files still hold it) or deletes it with its items (none do).
 */
#include "store/internal.h"

#include "text/utf8.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int is_sha256(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* Columns: id, sha256, kind, state, progress, next_seq. */
#define CONTENT_COLS                                                                   \
    "c.id, c.sha256, c.kind, c.state, c.progress,"                                     \
    " (SELECT ifnull(max(seq), -1) + 1 FROM items WHERE content_id = c.id)"

static void read_content(sqlite3_stmt *s, int col, store_content *c)
{
    c->id = sqlite3_column_int64(s, col);
    store_col_copy(s, col + 1, c->sha256, sizeof c->sha256);
    c->kind = sqlite3_column_int(s, col + 2);
    c->state = sqlite3_column_int(s, col + 3);
    c->progress = sqlite3_column_int64(s, col + 4);
    c->next_seq = sqlite3_column_int64(s, col + 5);
}

int store_content_get(store *st, const char *sha256, store_content *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = store_stmt(st, S_CONTENT_GET,
                                 "SELECT " CONTENT_COLS " FROM contents c WHERE c.sha256 = ?1");
    if (!s) return IRIS_EDB;
    store_bind_text(s, 1, sha256);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) read_content(s, 0, out);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return IRIS_OK;
    if (rc == SQLITE_DONE) return iris_fail(IRIS_ENOTFOUND, "no content %.12s in the index", sha256);
    return store_sqlerr(st, rc, "looking up a content");
}

int store_file_get(store *st, const char *path, store_file *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = store_stmt(st, S_FILE_GET,
                                 "SELECT f.id, f.size, f.mtime_ns, f.sha256, f.kind, f.status,"
                                 " f.reason, ifnull(f.content_id, 0), " CONTENT_COLS
                                 " FROM files f LEFT JOIN contents c ON c.id = f.content_id"
                                 " WHERE f.path = ?1");
    if (!s) return IRIS_EDB;
    store_bind_text(s, 1, path);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->size = sqlite3_column_int64(s, 1);
        out->mtime_ns = sqlite3_column_int64(s, 2);
        store_col_copy(s, 3, out->sha256, sizeof out->sha256);
        out->kind = sqlite3_column_int(s, 4);
        out->status = sqlite3_column_int(s, 5);
        store_col_copy(s, 6, out->reason, sizeof out->reason);
        out->content_id = sqlite3_column_int64(s, 7);
        if (out->content_id) read_content(s, 8, &out->content);
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return IRIS_OK;
    if (rc == SQLITE_DONE) return iris_fail(IRIS_ENOTFOUND, "%s is not in the index", path);
    return store_sqlerr(st, rc, "looking up a file");
}

/* ------------------------------------------------------------- names */

/* Appends the base name of path, or a whole title, as valid UTF-8 to the
 * newline-separated list in buf unless it is there already. */
static int append_name(char **buf, size_t *len, const char *path, int is_title)
{
    const char *base = is_title ? NULL : strrchr(path, '/');
    base = base ? base + 1 : path;
    char *clean;
    size_t n;
    if (utf8_sanitize(base, strlen(base), &clean, &n)) return IRIS_ENOMEM;
    int dup = 0;
    for (char *p = *buf; p && !dup && (p = strstr(p, clean)); p += n)
        dup = (p == *buf || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0');
    int rc = IRIS_OK;
    if (!dup) {
        char *grown = realloc(*buf, *len + n + 2);
        if (!grown) {
            rc = iris_fail(IRIS_ENOMEM, "no memory for file names");
        } else {
            *buf = grown;
            if (*len) grown[(*len)++] = '\n';
            memcpy(grown + *len, clean, n + 1);
            *len += n;
        }
    }
    free(clean);
    return rc;
}

int store_content_names(store *st, int64_t content_id, const char **names)
{
    if (st->names_cid == content_id && st->names) {
        *names = st->names;
        return IRIS_OK;
    }
    sqlite3_stmt *s = store_stmt(st, S_CONTENT_NAMES,
                                 "SELECT path, 0 FROM files"
                                 " WHERE content_id = ?1 OR prev_content_id = ?1"
                                 " UNION ALL SELECT title, 1 FROM contents"
                                 " WHERE id = ?1 AND title IS NOT NULL");
    if (!s) return IRIS_EDB;
    sqlite3_bind_int64(s, 1, content_id);
    char *buf = NULL;
    size_t len = 0;
    int rc, status = IRIS_OK;
    while (!status && (rc = sqlite3_step(s)) == SQLITE_ROW)
        status = append_name(&buf, &len, (const char *)sqlite3_column_text(s, 0),
                             sqlite3_column_int(s, 1));
    if (!status && rc != SQLITE_DONE) status = store_sqlerr(st, rc, "reading file names");
    sqlite3_reset(s);
    if (!status && !buf && !(buf = strdup(""))) status = iris_fail(IRIS_ENOMEM, "no memory");
    if (status) {
        free(buf);
        return status;
    }
    free(st->names);
    st->names = buf;
    st->names_cid = content_id;
    *names = buf;
    return IRIS_OK;
}

int store_refresh_names(store *st, int64_t content_id)
{
    st->names_cid = 0;
    const char *names;
    int rc = store_content_names(st, content_id, &names);
    if (rc) return rc;
    sqlite3_stmt *s = store_stmt(st, S_FTS_SET_NAME,
                                 "UPDATE fts SET name = ?1"
                                 " WHERE rowid IN (SELECT id FROM items WHERE content_id = ?2)");
    if (!s) return IRIS_EDB;
    sqlite3_bind_text(s, 1, names, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, content_id);
    return store_step_done(st, s, "updating searchable file names");
}

/* ------------------------------------------------------ releasing */

/* Deletes the content if no file points at it any more, else refreshes
 * its searchable names. */
static int release_content(store *st, int64_t cid)
{
    if (!cid) return IRIS_OK;
    sqlite3_stmt *s = store_stmt(st, S_CONTENT_USED,
                                 "SELECT EXISTS(SELECT 1 FROM files WHERE content_id = ?1)"
                                 " OR EXISTS(SELECT 1 FROM files WHERE prev_content_id = ?1)");
    if (!s) return IRIS_EDB;
    sqlite3_bind_int64(s, 1, cid);
    int rc = sqlite3_step(s);
    int used = rc == SQLITE_ROW && sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) return store_sqlerr(st, rc, "checking a content's files");
    if (used) return store_refresh_names(st, cid);
    s = store_stmt(st, S_CONTENT_DELETE, "DELETE FROM contents WHERE id = ?1");
    if (!s) return IRIS_EDB;
    sqlite3_bind_int64(s, 1, cid);
    st->dirty = 1;
    if (st->names_cid == cid) st->names_cid = 0;
    return store_step_done(st, s, "deleting a content and its items");
}

/* ------------------------------------------------------------- put */

static int content_create(store *st, const store_put *f, store_content *c)
{
    sqlite3_stmt *s = store_stmt(st, S_CONTENT_INSERT,
                                 "INSERT INTO contents(sha256, size, kind, updated_at)"
                                 " VALUES(?1, ?2, ?3, ?4)");
    if (!s) return IRIS_EDB;
    sqlite3_bind_text(s, 1, f->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, f->size);
    sqlite3_bind_int(s, 3, f->kind);
    sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
    int rc = store_step_done(st, s, "adding a content");
    if (rc) return rc;
    memset(c, 0, sizeof *c);
    c->id = sqlite3_last_insert_rowid(st->db);
    memcpy(c->sha256, f->sha256, 65);
    c->kind = f->kind;
    return IRIS_OK;
}

/* The file row for path: its id and the contents it points at (0s if the
 * path is new). */
static int file_row(store *st, const char *path, int64_t *id, int64_t *cid, int64_t *prev)
{
    *id = *cid = *prev = 0;
    sqlite3_stmt *s = store_stmt(st, S_FILE_ROW,
                                 "SELECT id, ifnull(content_id, 0), ifnull(prev_content_id, 0)"
                                 " FROM files WHERE path = ?1");
    if (!s) return IRIS_EDB;
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        *cid = sqlite3_column_int64(s, 1);
        *prev = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? IRIS_OK : store_sqlerr(st, rc, "finding a file");
}

/* Inserts or updates the file row for f with status / reason, pointing at
 * content cid (0 = none) with previous content prev (0 = none). */
static int file_write(store *st, const store_put *f, int64_t *id, int status, const char *reason,
                      int64_t cid, int64_t prev)
{
    sqlite3_stmt *s = *id ? store_stmt(st, S_FILE_UPDATE,
                                       "UPDATE files SET size = ?2, mtime_ns = ?3, sha256 = ?4,"
                                       " kind = ?5, status = ?6, reason = ?7, content_id = ?8,"
                                       " prev_content_id = ?9, seen_scan = ?10 WHERE id = ?1")
                          : store_stmt(st, S_FILE_INSERT,
                                       "INSERT INTO files(path, size, mtime_ns, sha256, kind,"
                                       " status, reason, content_id, prev_content_id, seen_scan)"
                                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!s) return IRIS_EDB;
    if (*id)
        sqlite3_bind_int64(s, 1, *id);
    else
        sqlite3_bind_text(s, 1, f->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, f->size);
    sqlite3_bind_int64(s, 3, f->mtime_ns);
    store_bind_text(s, 4, f->sha256);
    sqlite3_bind_int(s, 5, f->kind);
    sqlite3_bind_int(s, 6, status);
    store_bind_text(s, 7, reason);
    if (cid) sqlite3_bind_int64(s, 8, cid); /* unbound = NULL */
    if (prev) sqlite3_bind_int64(s, 9, prev);
    sqlite3_bind_int64(s, 10, st->scan);
    int rc = store_step_done(st, s, "writing a file row");
    if (!rc && !*id) *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int check_put(const store_put *f, int need_sha)
{
    if (!f || !f->path || !*f->path) return iris_fail(IRIS_EARG, "store: file without a path");
    if ((need_sha || f->sha256) && !is_sha256(f->sha256))
        return iris_fail(IRIS_EARG, "store: %s: bad SHA-256 '%s'", f->path,
                         f->sha256 ? f->sha256 : "(null)");
    return IRIS_OK;
}

/* The linking step of store_file_put, inside its transaction. */
static int put_locked(store *st, const store_put *f, store_put_result *r)
{
    int rc = store_content_get(st, f->sha256, &r->content);
    if (rc == IRIS_ENOTFOUND) {
        r->new_content = 1;
        rc = content_create(st, f, &r->content);
    }
    int64_t id, old, old_prev;
    if (!rc) rc = file_row(st, f->path, &id, &old, &old_prev);
    if (rc) return rc;
    int64_t b = r->content.id, prev = 0;
    r->new_path = id == 0;
    r->content_changed = id && old != b;
    if (!r->content_changed) {
        prev = old_prev; /* same content (touch, or resuming a pending one) */
    } else if (r->content.state == STORE_PENDING) {
        /* Keep showing what the path held until the new content is done. */
        int old_done = 0;
        if (old) {
            sqlite3_stmt *s = store_stmt(st, S_CONTENT_IS_DONE,
                                         "SELECT state FROM contents WHERE id = ?1");
            if (!s) return IRIS_EDB;
            sqlite3_bind_int64(s, 1, old);
            old_done = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == STORE_DONE;
            sqlite3_reset(s);
        }
        prev = old_done ? old : old_prev;
    }
    r->file_id = id;
    rc = file_write(st, f, &r->file_id, STORE_FILE_OK, NULL, b, prev);
    if (!rc && (r->new_path || r->content_changed)) rc = store_refresh_names(st, b);
    if (!rc && old && old != b && old != prev) rc = release_content(st, old);
    if (!rc && old_prev && old_prev != prev) rc = release_content(st, old_prev);
    return rc;
}

int store_file_put(store *st, const store_put *f, store_put_result *res)
{
    memset(res, 0, sizeof *res);
    int rc = check_put(f, 1);
    if (rc) return rc;
    if ((rc = store_op_begin(st))) return rc;
    rc = put_locked(st, f, res);
    return store_op_end(st, rc);
}

int store_file_skip(store *st, const store_put *f, const char *reason, int64_t *file_id)
{
    int rc = check_put(f, 0);
    if (rc) return rc;
    if ((rc = store_op_begin(st))) return rc;
    int64_t id, old, old_prev;
    rc = file_row(st, f->path, &id, &old, &old_prev);
    if (!rc) rc = file_write(st, f, &id, STORE_FILE_SKIPPED, reason ? reason : "skipped", 0, 0);
    if (!rc) rc = release_content(st, old);
    if (!rc && old_prev != old) rc = release_content(st, old_prev);
    rc = store_op_end(st, rc);
    if (!rc && file_id) *file_id = id;
    return rc;
}

int store_file_touch(store *st, int64_t file_id)
{
    int rc = store_op_begin(st);
    if (rc) return rc;
    sqlite3_stmt *s = store_stmt(st, S_FILE_TOUCH, "UPDATE files SET seen_scan = ?2 WHERE id = ?1");
    rc = IRIS_EDB;
    if (s) {
        sqlite3_bind_int64(s, 1, file_id);
        sqlite3_bind_int64(s, 2, st->scan);
        rc = store_step_done(st, s, "marking a file seen");
        if (!rc && sqlite3_changes(st->db) == 0)
            rc = iris_fail(IRIS_ENOTFOUND, "%s: no file with id %lld", st->path,
                           (long long)file_id);
    }
    return store_op_end(st, rc);
}

/* ------------------------------------------------------ content state */

static int content_update(store *st, stmt_id id, const char *sql, int64_t cid, int64_t value,
                          const char *text)
{
    int rc = store_op_begin(st);
    if (rc) return rc;
    sqlite3_stmt *s = store_stmt(st, id, sql);
    rc = IRIS_EDB;
    if (s) {
        sqlite3_bind_int64(s, 1, cid);
        if (text)
            sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(s, 2, value);
        sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
        rc = store_step_done(st, s, "updating a content");
        if (!rc && sqlite3_changes(st->db) == 0)
            rc = iris_fail(IRIS_ENOTFOUND, "%s: no content with id %lld", st->path, (long long)cid);
    }
    if (!rc && text) rc = store_refresh_names(st, cid);
    return store_op_end(st, rc);
}

int store_content_set_title(store *st, int64_t content_id, const char *title)
{
    char *clean;
    if (utf8_sanitize(title ? title : "", title ? strlen(title) : 0, &clean, NULL))
        return IRIS_ENOMEM;
    int rc = content_update(st, S_CONTENT_TITLE,
                            "UPDATE contents SET title = nullif(?2, ''), updated_at = ?3"
                            " WHERE id = ?1",
                            content_id, 0, clean);
    free(clean);
    return rc;
}

int store_content_progress(store *st, int64_t content_id, int64_t progress)
{
    return content_update(st, S_CONTENT_PROGRESS,
                          "UPDATE contents SET progress = ?2, updated_at = ?3 WHERE id = ?1",
                          content_id, progress, NULL);
}

/* Growable list of content ids. */
typedef struct id_list {
    int64_t *v;
    size_t n, cap;
} id_list;

static int id_push(id_list *l, int64_t id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        int64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) return iris_fail(IRIS_ENOMEM, "no memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = id;
    return IRIS_OK;
}

int store_content_done(store *st, int64_t content_id)
{
    int rc = store_op_begin(st);
    if (rc) return rc;
    rc = content_update(st, S_CONTENT_STATE,
                        "UPDATE contents SET state = 1, progress = max(progress, ?2),"
                        " updated_at = ?3 WHERE id = ?1",
                        content_id, 0, NULL);
    /* Files that showed their previous content until now switch over. */
    id_list prevs = {0};
    sqlite3_stmt *s = rc ? NULL
                         : store_stmt(st, S_CONTENT_PREVS,
                                      "SELECT DISTINCT prev_content_id FROM files"
                                      " WHERE content_id = ?1 AND prev_content_id IS NOT NULL");
    if (!rc && !s) rc = IRIS_EDB;
    if (s) {
        sqlite3_bind_int64(s, 1, content_id);
        int r;
        while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) rc = id_push(&prevs, sqlite3_column_int64(s, 0));
        if (!rc && r != SQLITE_DONE) rc = store_sqlerr(st, r, "finding replaced contents");
        sqlite3_reset(s);
    }
    if (!rc && prevs.n) {
        s = store_stmt(st, S_FILE_CLEAR_PREV,
                       "UPDATE files SET prev_content_id = NULL WHERE content_id = ?1");
        rc = IRIS_EDB;
        if (s) {
            sqlite3_bind_int64(s, 1, content_id);
            rc = store_step_done(st, s, "switching files to new content");
        }
    }
    for (size_t k = 0; !rc && k < prevs.n; k++) rc = release_content(st, prevs.v[k]);
    free(prevs.v);
    if (!rc) st->dirty = 1;
    return store_op_end(st, rc);
}

/* -------------------------------------------------- scans and pruning */

int store_scan_begin(store *st, int64_t *scan_id)
{
    int rc = store_op_begin(st);
    if (rc) return rc;
    sqlite3_stmt *s = store_stmt(st, S_META_SET,
                                 "UPDATE meta SET value = value + 1 WHERE key = ?1"
                                 " RETURNING value");
    rc = IRIS_EDB;
    if (s) {
        sqlite3_bind_text(s, 1, "scan", -1, SQLITE_STATIC);
        int r = sqlite3_step(s);
        int64_t v = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        rc = r == SQLITE_ROW ? store_step_done(st, s, "starting a scan")
                             : store_sqlerr(st, r, "starting a scan");
        if (!rc) st->scan = v;
    }
    rc = store_op_end(st, rc);
    if (!rc && scan_id) *scan_id = st->scan;
    return rc;
}

/* Deletes the files selected by sql (columns: id, content_id,
 * prev_content_id; parameters ?1 = lo bound, ?2 = hi bound, ?3 = exact
 * path, ?4 = scan) and releases their contents. */
static int delete_files(store *st, const char *sql, const char *path, int64_t scan,
                        int64_t *removed)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    if (n == 1 && path[0] == '/') n = 0; /* "/": everything below the root */
    char *lo = malloc(n + 2), *hi = malloc(n + 2);
    id_list files = {0}, contents = {0};
    int rc = lo && hi ? IRIS_OK : iris_fail(IRIS_ENOMEM, "no memory");
    sqlite3_stmt *s = NULL;
    if (!rc) {
        memcpy(lo, path, n), memcpy(hi, path, n);
        lo[n] = '/', hi[n] = '0'; /* '0' sorts right after '/' */
        lo[n + 1] = hi[n + 1] = '\0';
        rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
        rc = rc == SQLITE_OK ? IRIS_OK : store_sqlerr(st, rc, "selecting files to remove");
    }
    if (!rc) {
        sqlite3_bind_text(s, 1, lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, hi, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, path, (int)n, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, scan);
        int r;
        while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
            rc = id_push(&files, sqlite3_column_int64(s, 0));
            for (int k = 1; !rc && k <= 2; k++)
                if (sqlite3_column_int64(s, k)) rc = id_push(&contents, sqlite3_column_int64(s, k));
        }
        if (!rc && r != SQLITE_DONE) rc = store_sqlerr(st, r, "selecting files to remove");
    }
    sqlite3_finalize(s);
    for (size_t k = 0; !rc && k < files.n; k++) {
        s = store_stmt(st, S_FILE_DELETE, "DELETE FROM files WHERE id = ?1");
        if (!s) rc = IRIS_EDB;
        if (s) sqlite3_bind_int64(s, 1, files.v[k]);
        if (s) rc = store_step_done(st, s, "removing a file");
    }
    for (size_t k = 0; !rc && k < contents.n; k++) rc = release_content(st, contents.v[k]);
    if (!rc && removed) *removed += (int64_t)files.n;
    free(lo), free(hi), free(files.v), free(contents.v);
    return rc;
}

#define UNDER_ROOT "(path = ?3 OR (path >= ?1 AND path < ?2))"

int store_prune_unseen(store *st, const char *const *roots, int n_roots, int64_t *removed)
{
    if (removed) *removed = 0;
    int rc = store_op_begin(st);
    if (rc) return rc;
    for (int k = 0; !rc && k < n_roots; k++) {
        if (!roots[k] || !*roots[k]) rc = iris_fail(IRIS_EARG, "store_prune_unseen: empty root");
        else
            rc = delete_files(st,
                              "SELECT id, content_id, prev_content_id FROM files"
                              " WHERE seen_scan < ?4 AND " UNDER_ROOT,
                              roots[k], st->scan, removed);
    }
    return store_op_end(st, rc);
}

int store_remove(store *st, const char *path, int64_t *removed)
{
    if (removed) *removed = 0;
    if (!path || !*path) return iris_fail(IRIS_EARG, "store_remove: empty path");
    int rc = store_op_begin(st);
    if (rc) return rc;
    rc = delete_files(st, "SELECT id, content_id, prev_content_id FROM files WHERE " UNDER_ROOT,
                      path, 0, removed);
    return store_op_end(st, rc);
}
