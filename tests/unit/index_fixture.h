/*
 * index_fixture.h - a scratch index filled through the store API, for the
 * tests of what sits on top of search (map, item files, thumbnails): one
 * file per item, any vector, known by construction.
 *
 *     iris_db *db = ix_open();            // fresh folder + index, tiny model recorded
 *     int64_t id = ix_add(db, "/x/a.png", IRIS_MOD_IMAGE, NULL, vec);
 *     ...
 *     ix_close(db);                       // closes and removes the folder
 */
#ifndef IRIS_TEST_INDEX_FIXTURE_H
#define IRIS_TEST_INDEX_FIXTURE_H

#include "test.h"

#include "iris.h"
#include "model_fixtures.h"
#include "search/db.h"
#include "util/fs.h"

#include <sys/stat.h>

#define IX_DIM 24 /* the tiny fixture model's projection */

static char *ix_dir;
static int64_t ix_model_row;

static iris_db *ix_open(void)
{
    ix_dir = strdup("/tmp/iris-index-XXXXXX");
    CHECK(ix_dir && mkdtemp(ix_dir));
    char path[256];
    snprintf(path, sizeof path, "%s/index.db", ix_dir);
    iris_db *db = NULL;
    iris_db_opts o = {.model = TINY_HF};
    CHECK_OK(iris_db_open(path, &o, &db));
    const iris_model *m;
    db_lock(db);
    CHECK_OK(db_record_model_locked(db, &m, &ix_model_row));
    db_unlock(db);
    return db;
}

static void ix_close(iris_db *db)
{
    iris_db_close(db);
    fx_rmtree(ix_dir);
    free(ix_dir);
    ix_dir = NULL;
}

/* One file holding one item, recorded with the file's real size and mtime
 * when it exists (so iris_item_open accepts it); returns the item id. */
static int64_t ix_add(iris_db *db, const char *path, int modality, const char *text,
                      const float *vec)
{
    char sha[65], key[600];
    snprintf(key, sizeof key, "%s\n%s", path, text ? text : "");
    struct stat sb;
    int64_t size = 10, mtime = 1;
    if (stat(path, &sb) == 0) {
        size = sb.st_size;
        mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        CHECK_OK(iris_sha256_file(path, sha));
    } else {
        CHECK_OK(iris_sha256_hex(key, strlen(key), sha));
    }
    int kind = modality == IRIS_MOD_IMAGE ? STORE_KIND_IMAGE
               : modality == IRIS_MOD_PDF_TEXT ? STORE_KIND_PDF : STORE_KIND_TEXT;
    store_put p = {path, size, mtime, sha, kind};
    store_put_result r;
    /* single-threaded tests: no db_lock (a failed CHECK would leave it held) */
    CHECK_OK(store_file_put(db->st, &p, &r));
    store_item it = {.modality = modality, .text = text, .char_start = -1, .char_end = -1};
    int64_t id;
    CHECK_OK(store_item_add(db->st, r.content.id, &it, ix_model_row, vec, vec ? IX_DIM : 0, &id));
    CHECK_OK(store_content_done(db->st, r.content.id));
    return id;
}

#endif
