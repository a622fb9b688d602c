/*
 * captions.c - VLM captions as searchable items of images that are already
 * indexed: which images of a scope still need one, and swapping a caption
 * item in.
 *
 * A caption arrives long after its image was indexed (captioning is a
 * separate, slow, possibly paid pass), so unlike every other item it is
 * added to a content that is done. It gets the next seq after the
 * content's last item, its vector and FTS row in the same savepoint as
 * store_item_add writes them, and replaces any caption item the content
 * had: one caption item per image, the one from the model and prompt of
 * the latest run.
 *
 * The cache table (store.c) is keyed by (content SHA-256, model, prompt
 * hash) and outlives contents, so what an image needs is read from both:
 * whether it has a caption item at all, whether the cache holds one for
 * (model, prompt), and whether that cached text is its item. A renamed or
 * re-added content, another model's caption in place or a run killed
 * between caching and the item all show up as "cached, not current": the
 * item is made from the cache without asking any model. No schema change
 * was needed.
 *
 * These statements run once per caption run or per image, far from any
 * hot path, so they are prepared per call (as in lookup.c).
 */
#include "store/internal.h"

#include "util/buf.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROOTS 8000 /* 3 SQL variables each, under SQLite's 32766 */

static const char TARGETS_SQL[] =
    "SELECT c.id, c.sha256, min(f.path),"
    " EXISTS(SELECT 1 FROM items i WHERE i.content_id = c.id AND i.modality = 6),"
    " k.caption IS NOT NULL,"
    " k.caption IS NOT NULL"
    "  AND (SELECT count(*) FROM items i WHERE i.content_id = c.id AND i.modality = 6) = 1"
    "  AND EXISTS(SELECT 1 FROM items i WHERE i.content_id = c.id AND i.modality = 6"
    "             AND i.text = k.caption)"
    " FROM contents c JOIN files f ON f.content_id = c.id"
    " LEFT JOIN captions k ON k.sha256 = c.sha256 AND k.model = ?1 AND k.prompt_hash = ?2"
    " WHERE c.state = 1 AND c.kind = 1 AND f.status = 0";

/* " AND (root clause OR ...)" with three variables a root from ?3 on:
 * the path itself, or a path in [root + "/", root + "0") ('0' sorts right
 * after '/'), the bytewise rule store_remove uses. */
static int roots_clause(iris_buf *sql, int n_roots)
{
    int rc = n_roots ? iris_buf_str(sql, " AND (") : IRIS_OK;
    for (int k = 0; !rc && k < n_roots; k++) {
        char one[96];
        snprintf(one, sizeof one, "%s(f.path = ?%d OR (f.path >= ?%d AND f.path < ?%d))",
                 k ? " OR " : "", 3 + 3 * k, 4 + 3 * k, 5 + 3 * k);
        rc = iris_buf_str(sql, one);
    }
    if (!rc && n_roots) rc = iris_buf_str(sql, ")");
    if (!rc) rc = iris_buf_str(sql, " GROUP BY c.id ORDER BY 3");
    return rc ? iris_fail(IRIS_ENOMEM, "no memory") : IRIS_OK;
}

static int bind_root(sqlite3_stmt *s, int k, const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') n--;
    if (n == 1 && root[0] == '/') n = 0; /* "/": everything */
    char *lo = malloc(n + 2), *hi = malloc(n + 2);
    if (!lo || !hi) {
        free(lo), free(hi);
        return iris_fail(IRIS_ENOMEM, "no memory");
    }
    memcpy(lo, root, n), memcpy(hi, root, n);
    lo[n] = '/', hi[n] = '0';
    lo[n + 1] = hi[n + 1] = '\0';
    sqlite3_bind_text(s, 3 + 3 * k, root, (int)n, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4 + 3 * k, lo, -1, free);
    sqlite3_bind_text(s, 5 + 3 * k, hi, -1, free);
    return IRIS_OK;
}

static int push_target(sqlite3_stmt *s, store_caption_target **v, int *n, int *cap)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 64;
        store_caption_target *g = realloc(*v, (size_t)c * sizeof *g);
        if (!g) return iris_fail(IRIS_ENOMEM, "no memory for the images to caption");
        *v = g, *cap = c;
    }
    store_caption_target *t = &(*v)[*n];
    t->content_id = sqlite3_column_int64(s, 0);
    store_col_copy(s, 1, t->sha256, sizeof t->sha256);
    const char *path = (const char *)sqlite3_column_text(s, 2);
    t->has_item = sqlite3_column_int(s, 3);
    t->cached = sqlite3_column_int(s, 4);
    t->current = sqlite3_column_int(s, 5);
    if (!(t->path = strdup(path ? path : "")))
        return iris_fail(IRIS_ENOMEM, "no memory for the images to caption");
    (*n)++;
    return IRIS_OK;
}

int store_caption_targets(store *st, const char *model, const char *prompt_hash,
                          const char *const *roots, int n_roots, store_caption_target **out,
                          int *n)
{
    *out = NULL;
    *n = 0;
    if (!model || !*model || !prompt_hash || n_roots < 0 || (n_roots && !roots))
        return iris_fail(IRIS_EARG, "store_caption_targets: missing model, prompt or roots");
    if (n_roots > MAX_ROOTS)
        return iris_fail(IRIS_ELIMIT, "%d paths to caption at once; the limit is %d", n_roots,
                         MAX_ROOTS);
    for (int k = 0; k < n_roots; k++)
        if (!roots[k] || !*roots[k]) return iris_fail(IRIS_EARG, "store_caption_targets: empty path");
    iris_buf sql = {0};
    int rc = iris_buf_str(&sql, TARGETS_SQL) ? iris_fail(IRIS_ENOMEM, "no memory")
                                             : roots_clause(&sql, n_roots);
    sqlite3_stmt *s = NULL;
    if (!rc && (rc = sqlite3_prepare_v2(st->db, sql.p, -1, &s, NULL)) != SQLITE_OK)
        rc = store_sqlerr(st, rc, "listing images to caption");
    free(sql.p);
    if (!rc) {
        sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, prompt_hash, -1, SQLITE_STATIC);
    }
    for (int k = 0; !rc && k < n_roots; k++) rc = bind_root(s, k, roots[k]);
    int cap = 0, r = SQLITE_DONE;
    while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) rc = push_target(s, out, n, &cap);
    if (!rc && r != SQLITE_DONE) rc = store_sqlerr(st, r, "listing images to caption");
    sqlite3_finalize(s);
    if (rc) {
        store_caption_targets_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void store_caption_targets_free(store_caption_target *t, int n)
{
    for (int i = 0; t && i < n; i++) free(t[i].path);
    free(t);
}

/* Runs sql with ?1 = content id; its single row (if any) gives *a, *b. */
static int content_query(store *st, const char *sql, int64_t cid, int64_t *a, int64_t *b,
                         int *found)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) return store_sqlerr(st, rc, "preparing a caption update");
    sqlite3_bind_int64(s, 1, cid);
    rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        if (a) *a = sqlite3_column_int64(s, 0);
        if (b) *b = sqlite3_column_int64(s, 1);
    }
    int status = rc == SQLITE_ROW || rc == SQLITE_DONE ? IRIS_OK
                                                       : store_sqlerr(st, rc, "updating a caption");
    sqlite3_finalize(s);
    return status;
}

static int swap_caption(store *st, int64_t cid, const char *text, int64_t model_id,
                        const float *vec, int dim, int64_t *item_id)
{
    int64_t state = 0, last_seq = 0;
    int found;
    int rc = content_query(st,
                           "SELECT state, (SELECT ifnull(max(seq), 0) FROM items"
                           " WHERE content_id = ?1) FROM contents WHERE id = ?1",
                           cid, &state, &last_seq, &found);
    if (!rc && !found)
        return iris_fail(IRIS_ENOTFOUND, "%s: no content %lld to caption", st->path, (long long)cid);
    if (!rc && state != STORE_DONE)
        return iris_fail(IRIS_EARG, "%s: content %lld is still being indexed; caption it "
                                    "once it is done", st->path, (long long)cid);
    if (!rc)
        rc = content_query(st, "DELETE FROM items WHERE content_id = ?1 AND modality = 6", cid,
                           NULL, NULL, &found);
    store_item it = {.modality = STORE_CAPTION, .seq = last_seq + 1, .char_start = -1,
                     .char_end = -1, .text = text};
    if (!rc) rc = store_item_add(st, cid, &it, model_id, vec, dim, item_id);
    return rc;
}

int store_caption_item_set(store *st, int64_t content_id, const char *text, int64_t model_id,
                           const float *vec, int dim, int64_t *item_id)
{
    if (!text || !*text) return iris_fail(IRIS_EARG, "%s: empty caption", st->path);
    int64_t id = 0;
    int rc = store_op_begin(st);
    if (rc) return rc;
    rc = swap_caption(st, content_id, text, model_id, vec, dim, &id);
    rc = store_op_end(st, rc);
    if (!rc && item_id) *item_id = id;
    return rc;
}

int store_content_item(store *st, int64_t content_id, int modality, int64_t *item_id,
                       char **text)
{
    if (text) *text = NULL;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT id, text FROM items WHERE content_id = ?1 AND modality = ?2"
                                " ORDER BY seq LIMIT 1",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) return store_sqlerr(st, rc, "reading an item");
    sqlite3_bind_int64(s, 1, content_id);
    sqlite3_bind_int(s, 2, modality);
    rc = sqlite3_step(s);
    int status = IRIS_OK;
    if (rc == SQLITE_ROW) {
        *item_id = sqlite3_column_int64(s, 0);
        const char *t = (const char *)sqlite3_column_text(s, 1);
        if (text && t && !(*text = strdup(t))) status = iris_fail(IRIS_ENOMEM, "no memory");
    } else if (rc == SQLITE_DONE) {
        status = iris_fail(IRIS_ENOTFOUND, "%s: content %lld has no %s item", st->path,
                           (long long)content_id, store_modality_name(modality));
    } else {
        status = store_sqlerr(st, rc, "reading an item");
    }
    sqlite3_finalize(s);
    return status;
}
