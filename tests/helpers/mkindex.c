/*
 * mkindex.c - builds a small index for the server's end-to-end tests
 * until `iris index` (issue 3) lands: every file named on the command
 * line becomes one item, encoded with the given model.
 *
 *     mkindex DB MODEL FILE...
 *
 * Images (by their magic bytes) become image items with the vision
 * tower's embedding; anything else is read as UTF-8 text and becomes one
 * text item (its first 2000 bytes) with the text tower's embedding. Files
 * are recorded with their real size, mtime and SHA-256, exactly what the
 * ingestion pipeline records, so serving their originals works.
 */
#include "iris.h"
#include "search/db.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TEXT_BYTES 2000

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "mkindex: %s %s: %s\n", what, path, iris_errmsg());
    return 1;
}

static int add_file(iris_db *db, const iris_model *m, int64_t model_row, const char *path)
{
    char sha[65], *data;
    size_t n;
    struct stat sb;
    if (stat(path, &sb) || iris_sha256_file(path, sha) || iris_read_file(path, 0, &data, &n))
        return fail("cannot read", path);
    int dim = iris_model_dim(m), image = iris_image_mime(data, n) != NULL, rc;
    float *vec = malloc(sizeof(float) * dim);
    store_item it = {.modality = image ? STORE_IMAGE : STORE_TEXT_CHUNK, .char_start = -1,
                     .char_end = -1};
    if (image) {
        iris_image img;
        rc = iris_image_decode(data, n, NULL, &img);
        if (!rc) rc = iris_encode_images(m, &img, 1, vec);
        iris_image_free(&img);
    } else {
        if (n > TEXT_BYTES) data[n = TEXT_BYTES] = 0;
        it.text = data;
        it.char_start = 0;
        it.char_end = (int64_t)n;
        rc = iris_encode_texts(m, (const char *const *)&data, 1, vec);
    }
    store_put p = {path, sb.st_size, (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec,
                   sha, image ? STORE_KIND_IMAGE : STORE_KIND_TEXT};
    store_put_result res;
    int64_t id;
    if (!rc) rc = store_file_put(db->st, &p, &res);
    if (!rc && res.new_content) rc = store_item_add(db->st, res.content.id, &it, model_row, vec, dim, &id);
    if (!rc && res.new_content) rc = store_content_done(db->st, res.content.id);
    free(vec);
    free(data);
    return rc ? fail("cannot index", path) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mkindex DB MODEL FILE...\n");
        return 2;
    }
    iris_db *db;
    iris_db_opts o = {.model = argv[2]};
    const iris_model *m;
    int64_t row;
    if (iris_db_open(argv[1], &o, &db)) return fail("cannot open", argv[1]);
    db_lock(db);
    int rc = db_record_model_locked(db, &m, &row);
    db_unlock(db);
    if (rc) return fail("cannot record the model in", argv[1]);
    for (int i = 3; i < argc && !rc; i++) rc = add_file(db, m, row, argv[i]);
    iris_db_close(db);
    return rc;
}
