/*
 * ask_sources.c - from search hits to the numbered sources of a prompt.
 *
 * Each hit's item is read back in full (search results carry snippets, the
 * model needs whole chunks). Items of an image file (the image itself, its
 * caption, its OCR text) merge into one image source at the best rank any
 * of them reached, so a photo found through its caption is still sent as
 * a photo, and never twice. All store reads happen in one section under
 * the db lock; files are read afterwards, outside it.
 *
 * Pixels are sent only if they are what was indexed: an image file's bytes
 * are read and their SHA-256 compared with the indexed content's (a file
 * edited since indexing would show the model a picture the caption and the
 * ranking do not describe); a mismatch or an unreadable file makes the
 * source text (caption and OCR). Only as many images as may be attached
 * are read.
 */
#include "rag/ask.h"

#include "search/db.h"
#include "util/error.h"
#include "util/fs.h"

#include <stdlib.h>
#include <string.h>

#define MAX_IMAGE_FILE (64u << 20) /* biggest image file read for attaching */
#define FIGURE_SIDE 1024
#define FIGURE_BYTES (1u << 20)

static int src_modality(int item_modality)
{
    switch (item_modality) {
    case IRIS_MOD_IMAGE: return IRIS_SRC_IMAGE;
    case IRIS_MOD_PDF_TEXT: return IRIS_SRC_PDF_PAGE;
    case IRIS_MOD_PDF_FIGURE: return IRIS_SRC_PDF_FIGURE;
    case IRIS_MOD_OCR: return IRIS_SRC_OCR;
    case IRIS_MOD_CAPTION: return IRIS_SRC_CAPTION;
    default: return IRIS_SRC_TEXT;
    }
}

static int is_image_file_item(const store_item_info *it)
{
    return it->kind == STORE_KIND_IMAGE &&
           (it->modality == STORE_IMAGE || it->modality == STORE_CAPTION ||
            it->modality == STORE_OCR_TEXT);
}

/* Text of the content's item of a modality, NULL if none (*rc set on
 * errors other than "none"). */
static char *content_text(store *st, int64_t cid, int modality, int *rc)
{
    int64_t id;
    char *text = NULL;
    int r = store_content_item(st, cid, modality, &id, &text);
    if (r && r != IRIS_ENOTFOUND) *rc = r;
    return text;
}

/* Fills s from item it (the caller holds the db lock). */
static int fill(store *st, store_item_info *it, const iris_hit *h, ask_source *s)
{
    memset(s, 0, sizeof *s);
    s->content_id = it->content_id;
    memcpy(s->sha256, it->sha256, sizeof s->sha256);
    s->rs.score = h->score;
    s->rs.page = it->page;
    s->path = it->path, it->path = NULL;
    int rc = IRIS_OK;
    if (is_image_file_item(it)) {
        s->modality = IRIS_MOD_IMAGE;
        s->item_id = it->id;
        int64_t image_id;
        int r = store_content_item(st, it->content_id, STORE_IMAGE, &image_id, NULL);
        if (!r) s->item_id = image_id;
        else if (r != IRIS_ENOTFOUND) rc = r;
        s->caption = content_text(st, it->content_id, STORE_CAPTION, &rc);
        s->ocr = content_text(st, it->content_id, STORE_OCR_TEXT, &rc);
    } else {
        s->modality = it->modality;
        s->item_id = it->id;
        s->text = it->text, it->text = NULL;
    }
    s->rs.id = s->item_id;
    s->rs.modality = src_modality(s->modality);
    s->rs.path = s->path;
    s->rs.text = s->text;
    s->rs.caption = s->caption;
    s->rs.ocr = s->ocr;
    s->rs.no_pixels = 1; /* until ask_load_pixels has verified bytes */
    return rc;
}

static int merged(const ask_sources *out, const store_item_info *it)
{
    if (!is_image_file_item(it)) return 0;
    for (int i = 0; i < out->n; i++)
        if (out->v[i].content_id == it->content_id && out->v[i].modality == IRIS_MOD_IMAGE)
            return 1;
    return 0;
}

static int gather_locked(iris_db *db, const iris_results *r, int k, ask_sources *out)
{
    for (int i = 0; i < r->n && out->n < k; i++) {
        store_item_info it;
        int rc = store_item_get(db->st, r->hits[i].item_id, &it);
        if (rc == IRIS_ENOTFOUND) continue; /* removed since the search */
        if (rc) return rc;
        if (!merged(out, &it)) {
            rc = fill(db->st, &it, &r->hits[i], &out->v[out->n]);
            out->n++; /* counted even on failure, so it is freed */
        }
        store_item_info_free(&it);
        if (rc) return rc;
    }
    return IRIS_OK;
}

/* An image file's bytes, if they are still the indexed content. */
static int verified_file(ask_source *s)
{
    char *data = NULL, hex[65];
    size_t len = 0;
    if (!s->path || iris_read_file(s->path, MAX_IMAGE_FILE, &data, &len) ||
        iris_sha256_hex(data, len, hex) || strcmp(hex, s->sha256)) {
        free(data);
        return 0;
    }
    s->image = (unsigned char *)data; /* any format: the prompt fits it */
    s->image_len = len;
    return 1;
}

/* A PDF figure cut from its page and fitted as JPEG. */
static int figure_pixels(iris_db *db, ask_source *s)
{
    iris_image img = {0};
    if (iris_item_image(db, s->item_id, NULL, &img)) return 0;
    int rc = iris_rag_image_fit_pixels(&img, FIGURE_SIDE, FIGURE_BYTES, &s->image,
                                       &s->image_len);
    iris_image_free(&img);
    return rc == IRIS_OK;
}

void ask_load_pixels(iris_db *db, ask_sources *out, int max_images)
{
    int loaded = 0;
    for (int i = 0; i < out->n && loaded < max_images; i++) {
        ask_source *s = &out->v[i];
        int ok = s->modality == IRIS_MOD_IMAGE        ? verified_file(s)
                 : s->modality == IRIS_MOD_PDF_FIGURE ? figure_pixels(db, s)
                                                      : 0;
        if (!ok) continue;
        s->rs.image = s->image;
        s->rs.image_len = s->image_len;
        s->rs.no_pixels = 0;
        loaded++;
    }
}

int ask_gather(iris_db *db, const iris_results *r, int k, ask_sources *out)
{
    memset(out, 0, sizeof *out);
    int n = r->n < k ? r->n : k;
    if (n <= 0) return IRIS_OK;
    if (!(out->v = calloc((size_t)n, sizeof *out->v)))
        return iris_fail(IRIS_ENOMEM, "no memory for %d sources", n);
    db_lock(db);
    int rc = gather_locked(db, r, n, out);
    db_unlock(db);
    if (rc) ask_sources_free(out);
    return rc;
}

void ask_sources_free(ask_sources *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        ask_source *x = &s->v[i];
        free(x->path), free(x->text), free(x->caption), free(x->ocr), free(x->image);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}
