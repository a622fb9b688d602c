/*
 * sweep.c - what an indexing scan needs before it prunes (store.h, "scans"):
 * the files under a root that the scan has not seen, so that a path that
 * disappeared can be told apart from one that moved (its content turned up
 * under a new path), and keeping the files under a folder that could not be
 * read this time, so that a transient permission problem never deletes
 * what was indexed.
 *
 * "Under a root" is the rule of store_prune_unseen(): the path itself, or
 * a path that continues it with '/' (a bytewise range, so /a/b never
 * covers /a/bc). Statements are prepared per call: both run once per scan.
 */
#include "store/internal.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* Binds ?1 / ?2 (the range of paths strictly below root) and ?3 (root
 * itself, without trailing slashes). lo and hi must hold strlen(root) + 2. */
static void bind_under(sqlite3_stmt *s, const char *root, char *lo, char *hi)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') n--;
    if (n == 1 && root[0] == '/') n = 0;
    memcpy(lo, root, n), memcpy(hi, root, n);
    lo[n] = '/', hi[n] = '0'; /* '0' sorts right after '/' */
    lo[n + 1] = hi[n + 1] = '\0';
    sqlite3_bind_text(s, 1, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hi, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, root, (int)n, SQLITE_STATIC);
}

#define UNDER "(path = ?3 OR (path >= ?1 AND path < ?2))"

int store_unseen_each(store *st, const char *root, store_unseen_fn fn, void *user)
{
    if (!root || !*root) return iris_fail(IRIS_EARG, "store_unseen_each: empty root");
    size_t n = strlen(root) + 2;
    char *lo = malloc(n), *hi = malloc(n);
    sqlite3_stmt *s = NULL;
    int rc = lo && hi ? IRIS_OK : iris_fail(IRIS_ENOMEM, "no memory");
    if (!rc) {
        int r = sqlite3_prepare_v2(st->db,
                                   "SELECT path, ifnull(content_id, 0) FROM files"
                                   " WHERE seen_scan < ?4 AND " UNDER " ORDER BY path",
                                   -1, &s, NULL);
        rc = r == SQLITE_OK ? IRIS_OK : store_sqlerr(st, r, "listing unseen files");
    }
    if (!rc) {
        bind_under(s, root, lo, hi);
        sqlite3_bind_int64(s, 4, st->scan);
        int r;
        while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW)
            rc = fn(user, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
        if (!rc && r != SQLITE_DONE) rc = store_sqlerr(st, r, "listing unseen files");
    }
    sqlite3_finalize(s);
    free(lo), free(hi);
    return rc;
}

int store_keep_under(store *st, const char *root, int64_t *kept)
{
    if (kept) *kept = 0;
    if (!root || !*root) return iris_fail(IRIS_EARG, "store_keep_under: empty root");
    size_t n = strlen(root) + 2;
    char *lo = malloc(n), *hi = malloc(n);
    if (!lo || !hi) {
        free(lo), free(hi);
        return iris_fail(IRIS_ENOMEM, "no memory");
    }
    int rc = store_op_begin(st);
    sqlite3_stmt *s = NULL;
    if (!rc) {
        int r = sqlite3_prepare_v2(st->db, "UPDATE files SET seen_scan = ?4 WHERE " UNDER, -1, &s,
                                   NULL);
        rc = r == SQLITE_OK ? IRIS_OK : store_sqlerr(st, r, "keeping files");
        if (!rc) {
            bind_under(s, root, lo, hi);
            sqlite3_bind_int64(s, 4, st->scan);
            rc = store_step_done(st, s, "keeping files");
            if (!rc && kept) *kept = sqlite3_changes(st->db);
        }
        sqlite3_finalize(s);
        rc = store_op_end(st, rc);
    }
    free(lo), free(hi);
    return rc;
}
