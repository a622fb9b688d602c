/*
 * items.c - items, their vectors and FTS rows: adding, reading back and
 * walking all vectors for the vector index.
 *
 * An item, its vector and its FTS row are written in one savepoint, so a
 * reader or a crash never sees an item without its text index entry or a
 * vector without its item. Deletes cascade from contents (foreign keys)
 * and a trigger removes FTS rows.
 */
#include "store/internal.h"

#include "text/utf8.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static int check_item(store *st, const store_item *it, const float *vec, int dim)
{
    if (!it || it->modality < 1 || it->modality >= STORE_N_MODALITIES)
        return iris_fail(IRIS_EARG, "%s: item with bad modality %d", st->path,
                         it ? it->modality : -1);
    if (vec && dim <= 0) return iris_fail(IRIS_EARG, "%s: vector with dim %d", st->path, dim);
    return IRIS_OK;
}

static void bind_item(sqlite3_stmt *s, int64_t cid, const store_item *it, const char *text)
{
    sqlite3_bind_int64(s, 1, cid);
    sqlite3_bind_int(s, 2, it->modality);
    sqlite3_bind_int64(s, 3, it->seq);
    sqlite3_bind_int(s, 4, it->page);
    for (int k = 0; it->has_bbox && k < 4; k++) sqlite3_bind_double(s, 5 + k, it->bbox[k]);
    if (it->char_start >= 0 && it->char_end >= it->char_start) {
        sqlite3_bind_int64(s, 9, it->char_start);
        sqlite3_bind_int64(s, 10, it->char_end);
    }
    if (text) sqlite3_bind_text(s, 11, text, -1, SQLITE_STATIC);
}

static int insert_rows(store *st, int64_t cid, const store_item *it, const char *text,
                       int64_t model_id, const float *vec, int dim, int64_t *item_id)
{
    sqlite3_stmt *s = store_stmt(st, S_ITEM_INSERT,
                                 "INSERT INTO items(content_id, modality, seq, page, x0, y0, x1, y1,"
                                 " char_start, char_end, text)"
                                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!s) return IRIS_EDB;
    bind_item(s, cid, it, text);
    int rc = store_step_done(st, s, "adding an item");
    if (rc) return rc;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    if (vec) {
        s = store_stmt(st, S_VEC_INSERT,
                       "INSERT INTO vectors(item_id, model_id, dim, data) VALUES(?1, ?2, ?3, ?4)");
        if (!s) return IRIS_EDB;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, model_id);
        sqlite3_bind_int(s, 3, dim);
        sqlite3_bind_blob(s, 4, vec, dim * (int)sizeof(float), SQLITE_STATIC);
        if ((rc = store_step_done(st, s, "adding a vector"))) return rc;
    }
    const char *names;
    if ((rc = store_content_names(st, cid, &names))) return rc;
    s = store_stmt(st, S_FTS_INSERT, "INSERT INTO fts(rowid, text, name) VALUES(?1, ?2, ?3)");
    if (!s) return IRIS_EDB;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, text ? text : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, names, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st, s, "indexing an item's text"))) return rc;
    *item_id = id;
    return IRIS_OK;
}

int store_item_add(store *st, int64_t content_id, const store_item *it, int64_t model_id,
                   const float *vec, int dim, int64_t *item_id)
{
    int rc = check_item(st, it, vec, dim);
    if (rc) return rc;
    /* Text is stored as valid UTF-8 whatever the extractor produced. */
    char *fixed = NULL;
    const char *text = it->text;
    if (text && !utf8_valid(text, strlen(text))) {
        if (utf8_sanitize(text, strlen(text), &fixed, NULL)) return IRIS_ENOMEM;
        text = fixed;
    }
    int64_t id = 0;
    if (!(rc = store_op_begin(st))) {
        rc = insert_rows(st, content_id, it, text, model_id, vec, dim, &id);
        if (!rc) st->dirty = 1;
        rc = store_op_end(st, rc);
    }
    free(fixed);
    if (!rc && item_id) *item_id = id;
    return rc;
}

int store_item_get(store *st, int64_t item_id, store_item_info *o)
{
    memset(o, 0, sizeof *o);
    sqlite3_stmt *s = store_stmt(
        st, S_ITEM_GET,
        "SELECT i.id, i.content_id, i.seq, i.modality, i.page, i.x0, i.y0, i.x1, i.y1,"
        " ifnull(i.char_start, -1), ifnull(i.char_end, -1), i.text, c.sha256, c.kind,"
        " ifnull((SELECT path FROM files WHERE content_id = c.id ORDER BY id LIMIT 1),"
        "        (SELECT path FROM files WHERE prev_content_id = c.id ORDER BY id LIMIT 1))"
        " FROM items i JOIN contents c ON c.id = i.content_id WHERE i.id = ?1");
    if (!s) return IRIS_EDB;
    sqlite3_bind_int64(s, 1, item_id);
    int rc = sqlite3_step(s), status = IRIS_OK;
    if (rc == SQLITE_ROW) {
        o->id = sqlite3_column_int64(s, 0);
        o->content_id = sqlite3_column_int64(s, 1);
        o->seq = sqlite3_column_int64(s, 2);
        o->modality = sqlite3_column_int(s, 3);
        o->page = sqlite3_column_int(s, 4);
        o->has_bbox = sqlite3_column_type(s, 5) != SQLITE_NULL;
        for (int k = 0; k < 4; k++) o->bbox[k] = (float)sqlite3_column_double(s, 5 + k);
        o->char_start = sqlite3_column_int64(s, 9);
        o->char_end = sqlite3_column_int64(s, 10);
        const char *text = (const char *)sqlite3_column_text(s, 11);
        const char *path = (const char *)sqlite3_column_text(s, 14);
        store_col_copy(s, 12, o->sha256, sizeof o->sha256);
        o->kind = sqlite3_column_int(s, 13);
        if ((text && !(o->text = strdup(text))) || (path && !(o->path = strdup(path))))
            status = iris_fail(IRIS_ENOMEM, "no memory");
    } else if (rc == SQLITE_DONE) {
        status = iris_fail(IRIS_ENOTFOUND, "%s: no item %lld", st->path, (long long)item_id);
    } else {
        status = store_sqlerr(st, rc, "reading an item");
    }
    sqlite3_reset(s);
    if (status) store_item_info_free(o);
    return status;
}

void store_item_info_free(store_item_info *info)
{
    if (!info) return;
    free(info->text);
    free(info->path);
    info->text = info->path = NULL;
}

int store_vector_get(store *st, int64_t item_id, int64_t model_id, float *out, int dim)
{
    sqlite3_stmt *s = store_stmt(st, S_VEC_GET,
                                 "SELECT dim, data FROM vectors WHERE item_id = ?1 AND model_id = ?2");
    if (!s) return IRIS_EDB;
    sqlite3_bind_int64(s, 1, item_id);
    sqlite3_bind_int64(s, 2, model_id);
    int rc = sqlite3_step(s), status = IRIS_OK;
    if (rc == SQLITE_ROW) {
        int d = sqlite3_column_int(s, 0);
        const void *blob = sqlite3_column_blob(s, 1);
        if (d != dim || sqlite3_column_bytes(s, 1) != d * (int)sizeof(float))
            status = iris_fail(IRIS_EARG, "%s: item %lld has a %d-d vector, not %d-d", st->path,
                               (long long)item_id, d, dim);
        else
            memcpy(out, blob, (size_t)d * sizeof(float));
    } else if (rc == SQLITE_DONE) {
        status = iris_fail(IRIS_ENOTFOUND, "%s: item %lld has no vector for model %lld",
                           st->path, (long long)item_id, (long long)model_id);
    } else {
        status = store_sqlerr(st, rc, "reading a vector");
    }
    sqlite3_reset(s);
    return status;
}

int store_vectors_each(store *st, int64_t model_id, store_vector_fn fn, void *user)
{
    sqlite3_stmt *s = store_stmt(st, S_VEC_EACH,
                                 "SELECT v.item_id, i.content_id, i.modality, v.dim, v.data"
                                 " FROM vectors v JOIN items i ON i.id = v.item_id"
                                 " JOIN contents c ON c.id = i.content_id"
                                 " WHERE v.model_id = ?1 AND c.state = 1 ORDER BY v.item_id");
    if (!s) return IRIS_EDB;
    sqlite3_bind_int64(s, 1, model_id);
    int rc, stop = 0;
    float *aligned = NULL;
    int cap = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int dim = sqlite3_column_int(s, 3);
        const void *blob = sqlite3_column_blob(s, 4);
        if (sqlite3_column_bytes(s, 4) != dim * (int)sizeof(float)) continue; /* CHECKed */
        /* SQLite's blob pointer carries no alignment promise: copy. */
        if (dim > cap) {
            float *grown = realloc(aligned, (size_t)dim * sizeof *grown);
            if (!grown) {
                stop = iris_fail(IRIS_ENOMEM, "no memory for a %d-d vector", dim);
                break;
            }
            aligned = grown;
            cap = dim;
        }
        memcpy(aligned, blob, (size_t)dim * sizeof(float));
        stop = fn(user, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                  sqlite3_column_int(s, 2), aligned, dim);
    }
    int status = stop ? stop : rc == SQLITE_DONE ? IRIS_OK : store_sqlerr(st, rc, "reading vectors");
    sqlite3_reset(s);
    free(aligned);
    return status;
}
