/*
 * lookup.c - read-only questions the search engine asks the store that the
 * ingestion side never needs: has anything changed (the generation
 * counter, checked before every query to keep an in-memory vector cache
 * fresh), where did the model come from (its recorded info JSON), and
 * which contents does a path filter keep.
 *
 * These run per query, so each is one indexed SELECT; statements are
 * prepared per call (a few microseconds) rather than cached, which keeps
 * this file independent of the statement table in internal.h.
 */
#include "store/internal.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int store_generation(store *st, int64_t *gen)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'generation'", -1,
                                &s, NULL);
    if (rc != SQLITE_OK) return store_sqlerr(st, rc, "reading the generation");
    rc = sqlite3_step(s);
    *gen = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? IRIS_OK
                                                 : store_sqlerr(st, rc, "reading the generation");
}

int store_model_info_json(store *st, char **json)
{
    *json = NULL;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT info FROM models ORDER BY id LIMIT 1", -1, &s,
                                NULL);
    if (rc != SQLITE_OK) return store_sqlerr(st, rc, "reading the model");
    int status = IRIS_OK;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (t && !(*json = strdup(t))) status = iris_fail(IRIS_ENOMEM, "no memory");
    } else if (rc == SQLITE_DONE) {
        status = iris_fail(IRIS_ENOTFOUND, "%s: no model recorded yet", st->path);
    } else {
        status = store_sqlerr(st, rc, "reading the model");
    }
    sqlite3_finalize(s);
    return status;
}

int store_contents_glob(store *st, const char *glob, int64_t **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *s;
    /* Same rule as the keyword lane's filter in fts.c: a content matches
     * when a file holding it (or still showing it while its new content is
     * pending) has a matching path. */
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT DISTINCT c.id FROM contents c JOIN files f"
                                " ON f.content_id = c.id OR f.prev_content_id = c.id"
                                " WHERE c.state = 1 AND f.path GLOB ?1 ORDER BY c.id",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) return store_sqlerr(st, rc, "filtering paths");
    sqlite3_bind_text(s, 1, glob, -1, SQLITE_STATIC);
    int cap = 0, status = IRIS_OK;
    while (!status && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            int64_t *grown = realloc(*ids, (size_t)cap * sizeof *grown);
            if (!grown) {
                status = iris_fail(IRIS_ENOMEM, "no memory for a path filter");
                break;
            }
            *ids = grown;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    if (!status && rc != SQLITE_DONE) status = store_sqlerr(st, rc, "filtering paths");
    sqlite3_finalize(s);
    if (status) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return status;
}
