/*
 * lookup.c - read-only questions the search engine asks the store that the
 * ingestion side never needs: has anything changed (the generation
 * counter, checked before every query to keep an in-memory vector cache
 * fresh), where did the model come from (its recorded info JSON), which
 * contents does a path filter keep, what snippet marks the query's terms
 * in an item the keyword lane did not return, and which items exist (for
 * keeping a vector index in step without reading every vector).
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

/* Makes room for one more element in a growing array. */
static int room_for(void **arr, int n, int *cap, size_t size)
{
    if (n < *cap) return IRIS_OK;
    int c = *cap ? 2 * *cap : 256;
    void *grown = realloc(*arr, (size_t)c * size);
    if (!grown) return iris_fail(IRIS_ENOMEM, "no memory for %d rows", c);
    *arr = grown;
    *cap = c;
    return IRIS_OK;
}

/* Ends a listing: reports a failed step, finalises, frees on failure. */
static int end_listing(store *st, sqlite3_stmt *s, int rc, int status, const char *what,
                       void **arr, int *n)
{
    if (!status && rc != SQLITE_DONE) status = store_sqlerr(st, rc, what);
    sqlite3_finalize(s);
    if (status) {
        free(*arr);
        *arr = NULL;
        *n = 0;
    }
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
    while (!status && (rc = sqlite3_step(s)) == SQLITE_ROW)
        if (!(status = room_for((void **)ids, *n, &cap, sizeof **ids)))
            (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    return end_listing(st, s, rc, status, "filtering paths", (void **)ids, n);
}

int store_fts_snippet(store *st, const char *query, int64_t item_id, const store_fts_opts *opts,
                      char **snippet)
{
    *snippet = NULL;
    store_fts_opts o = opts ? *opts : (store_fts_opts){0};
    char *expr;
    int rc = store_fts_build_query(query, 0, &expr);
    if (rc || !*expr) {
        free(expr);
        return rc ? rc : iris_fail(IRIS_ENOTFOUND, "no searchable term");
    }
    sqlite3_stmt *s;
    rc = sqlite3_prepare_v2(st->db,
                            "SELECT snippet(fts, -1, ?2, ?3, '…', ?4) FROM fts"
                            " WHERE fts MATCH ?1 AND rowid = ?5",
                            -1, &s, NULL);
    if (rc != SQLITE_OK) {
        free(expr);
        return store_sqlerr(st, rc, "preparing a snippet");
    }
    sqlite3_bind_text(s, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, o.hl_open ? o.hl_open : "[", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, o.hl_close ? o.hl_close : "]", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, o.snippet_tokens > 0 && o.snippet_tokens < 64 ? o.snippet_tokens : 16);
    sqlite3_bind_int64(s, 5, item_id);
    int status = IRIS_OK;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (!(*snippet = strdup(t ? t : ""))) status = iris_fail(IRIS_ENOMEM, "no memory");
    } else if (rc == SQLITE_DONE) {
        status = iris_fail(IRIS_ENOTFOUND, "item %lld does not match", (long long)item_id);
    } else {
        status = store_sqlerr(st, rc, "making a snippet");
    }
    sqlite3_finalize(s);
    free(expr);
    return status;
}

int store_items_list(store *st, store_litem **items, int *n)
{
    *items = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT i.id, i.content_id, i.modality, i.seq, c.sha256"
                                " FROM items i JOIN contents c ON c.id = i.content_id"
                                " WHERE c.state = 1 ORDER BY i.id",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) return store_sqlerr(st, rc, "listing items");
    int cap = 0, status = IRIS_OK;
    while (!status && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((status = room_for((void **)items, *n, &cap, sizeof **items))) break;
        store_litem *it = &(*items)[(*n)++];
        it->id = sqlite3_column_int64(s, 0);
        it->content_id = sqlite3_column_int64(s, 1);
        it->modality = sqlite3_column_int(s, 2);
        /* The content's hash and the item's place in it say what the item
         * is: an id SQLite reused for another item gets another key. */
        const char *sha = (const char *)sqlite3_column_text(s, 4);
        uint64_t key = 0;
        for (int k = 0; sha && k < 16 && sha[k]; k++)
            key = key << 4 | (uint64_t)(sha[k] <= '9' ? sha[k] - '0' : (sha[k] | 32) - 'a' + 10);
        it->key = key ^ ((uint64_t)sqlite3_column_int64(s, 3) * 0x9E3779B97F4A7C15ull);
    }
    return end_listing(st, s, rc, status, "listing items", (void **)items, n);
}
