/*
 * item.c - one item's details, and its pixels for thumbnails.
 *
 * Pixels are decoded from the source file on demand (the store keeps no
 * image bytes): an image item is its file; a PDF figure would be cut from
 * its page, which needs the PDF module (not here yet, so it is refused
 * clearly). A source file that changed since indexing (size or mtime
 * differ from the index's record, the rule incremental indexing uses) is
 * refused too, rather than showing a picture that is not the one found.
 */
#include "search/db.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int iris_item_get(iris_db *db, int64_t item_id, iris_item *out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_item_get: out is NULL");
    memset(out, 0, sizeof *out);
    if (!db) return iris_fail(IRIS_EARG, "iris_item_get: db is NULL");
    store_item_info it;
    db_lock(db);
    int rc = store_item_get(db->st, item_id, &it);
    db_unlock(db);
    if (rc) return rc;
    out->id = it.id;
    out->modality = it.modality;
    out->page = it.page;
    out->has_bbox = it.has_bbox;
    memcpy(out->bbox, it.bbox, sizeof out->bbox);
    out->char_start = it.char_start;
    out->char_end = it.char_end;
    out->text = it.text;
    out->path = it.path;
    memcpy(out->sha256, it.sha256, sizeof out->sha256);
    return IRIS_OK;
}

void iris_item_clear(iris_item *item)
{
    if (!item) return;
    free(item->text);
    free(item->path);
    memset(item, 0, sizeof *item);
}

static int check_unchanged(iris_db *db, const char *path)
{
    store_file f;
    db_lock(db);
    int rc = store_file_get(db->st, path, &f);
    db_unlock(db);
    if (rc) return rc;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return iris_fail(IRIS_ENOTFOUND, "%s is gone since it was indexed", path);
    int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    if (sb.st_size != f.size || mtime_ns != f.mtime_ns)
        return iris_fail(IRIS_ENOTFOUND, "%s changed since it was indexed; re-index it", path);
    return IRIS_OK;
}

int iris_item_image(iris_db *db, int64_t item_id, const iris_decode_opts *opts, iris_image *out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_item_image: out is NULL");
    memset(out, 0, sizeof *out);
    iris_item it;
    int rc = iris_item_get(db, item_id, &it);
    if (rc) return rc;
    if (it.modality == IRIS_MOD_PDF_FIGURE)
        rc = iris_fail(IRIS_EUNSUPPORTED, "item %lld is a figure in %s (page %d): cutting "
                                          "figures from PDFs is not supported yet",
                       (long long)item_id, it.path ? it.path : "?", it.page);
    else if (it.modality != IRIS_MOD_IMAGE)
        rc = iris_fail(IRIS_EFORMAT, "item %lld is %s, not an image", (long long)item_id,
                       iris_modality_name(it.modality));
    else if (!it.path)
        rc = iris_fail(IRIS_ENOTFOUND, "item %lld has no file left", (long long)item_id);
    if (!rc) rc = check_unchanged(db, it.path);
    if (!rc) rc = iris_image_load(it.path, opts, out);
    iris_item_clear(&it);
    return rc;
}
