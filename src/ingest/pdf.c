/*
 * pdf.c - a PDF into units, one per page, streamed: a page is extracted,
 * turned into items and pushed before the next is read, so a 1000-page
 * manual needs the memory of a few pages (the queue's bound stops the
 * worker while the encoder catches up), and a killed run resumes at the
 * first page whose unit was not committed (the content's progress).
 *
 * Per page: the text layer in chunks (PDF_TEXT items, each with its page
 * and the union box of the text blocks it overlaps), raster figures above
 * the size minimum (PDF_FIGURE items with page and box, encoded as
 * images), and for a page with (almost) no text layer - a scan - a render
 * at OCR_DPI fed to OCR (OCR items) unless it is blank. A page that cannot be read is a
 * warning; a document none of whose pages could be read is skipped.
 */
#include "ingest/ingest.h"

#include "media/ocr.h"
#include "media/pdf.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_MAX_CHARS 10 /* a page with fewer non-space characters is OCR'd */
#define OCR_DPI 300
#define BLANK_DPI 36 /* enough to see any line of text as grey pixels */

static void chunk_boxes(unit *u, int from, const pdfdoc_page *pg)
{
    for (int i = from; i < u->n_items; i++) {
        store_item *it = &u->items[i].it;
        for (int b = 0; b < pg->n_blocks; b++) {
            const pdfdoc_block *bl = &pg->blocks[b];
            if ((int64_t)bl->end <= it->char_start || (int64_t)bl->start >= it->char_end) continue;
            if (!it->has_bbox) {
                memcpy(it->bbox, bl->bbox, sizeof it->bbox);
                it->has_bbox = 1;
                continue;
            }
            for (int k = 0; k < 2; k++) {
                if (bl->bbox[k] < it->bbox[k]) it->bbox[k] = bl->bbox[k];
                if (bl->bbox[k + 2] > it->bbox[k + 2]) it->bbox[k + 2] = bl->bbox[k + 2];
            }
        }
    }
}

static int figure_items(worker *w, unit *u, const pdfdoc_page *pg, int64_t *seq)
{
    for (int f = 0; f < pg->n_figures; f++) {
        unit_item *it = unit_add_item(u);
        if (!it) return iris_fail(IRIS_ENOMEM, "no memory");
        it->it.modality = STORE_PDF_FIGURE;
        it->it.seq = (*seq)++;
        it->it.page = pg->index + 1;
        it->it.has_bbox = 1;
        memcpy(it->it.bbox, pg->figures[f].bbox, sizeof it->it.bbox);
        it->vk = VEC_PIXELS;
        int rc = worker_pixels(w, &pg->figures[f].image, &it->pixels);
        if (rc) return rc;
    }
    return IRIS_OK;
}

/* 1 if the page renders to (almost) pure white at a low resolution:
 * nothing to read, and OCR (about a second a page) would be wasted. Blank
 * pages are common in manuals (octave.pdf has 24). */
static int blank_page(pdfdoc *d, int index)
{
    iris_image img = {0};
    if (pdfdoc_render(d, index, BLANK_DPI, 0, &img, NULL)) return 0;
    size_t n = (size_t)img.width * img.height * 3, dark = 0;
    for (size_t i = 0; i < n; i++) dark += img.rgb[i] < 200;
    iris_image_free(&img);
    return dark == 0;
}

static int ocr_page(worker *w, unit *u, pdfdoc *d, int index, int64_t *seq)
{
    if (blank_page(d, index)) return IRIS_OK;
    iris_image img = {0};
    int rc = pdfdoc_render(d, index, OCR_DPI, 0, &img, NULL);
    if (rc) {
        unit_note_add(u, IRIS_LOG_WARN, 0, "page %d: cannot render for OCR: %s", index + 1,
                      iris_errmsg());
        return IRIS_OK;
    }
    rc = worker_ocr(w, u, &img, OCR_PAGE, index + 1, seq);
    iris_image_free(&img);
    return rc;
}

/* Fills u with the items of page index. A page that cannot be read
 * becomes a warning (pages_failed); only out-of-memory and cancellation
 * fail. */
static int page_unit(worker *w, pdfdoc *d, int index, unit *u, int64_t *seq)
{
    const iris_index_opts *o = w->dc->opts;
    pdfdoc_page_opts po = {.figures = o->pdf_figures >= 0};
    pdfdoc_page pg;
    int rc = pdfdoc_page_extract(d, index, &po, &pg);
    u->pages = 1;
    if (rc == IRIS_ENOMEM || rc == IRIS_ECANCELLED) return rc;
    if (rc) {
        u->pages_failed = 1;
        unit_note_add(u, IRIS_LOG_WARN, 0, "page %d skipped: %s", index + 1, iris_errmsg());
        return IRIS_OK;
    }
    int from = u->n_items;
    rc = worker_text_items(w, u, pg.text, pg.text_len, 0, STORE_PDF_TEXT, index + 1, seq);
    if (!rc) chunk_boxes(u, from, &pg);
    if (!rc) rc = figure_items(w, u, &pg, seq);
    if (!rc && pg.n_figures_failed)
        unit_note_add(u, IRIS_LOG_WARN, 0, "page %d: %d image(s) could not be decoded", index + 1,
                      pg.n_figures_failed);
    if (!rc && pg.n_chars < SCAN_MAX_CHARS && o->pdf_ocr >= 0) rc = ocr_page(w, u, d, index, seq);
    pdfdoc_page_free(&pg);
    return rc;
}

static int push_failure(worker *w, job *j, int first, int rc)
{
    unit *u = calloc(1, sizeof *u);
    if (!u) return IRIS_ENOMEM;
    u->job = j;
    u->first = first;
    u->last = 1;
    u->fail_status = rc;
    u->fail_msg = strdup(iris_errmsg());
    return worker_push(w, u);
}

int decode_pdf(worker *w, job *j, int64_t progress, int64_t seq)
{
    pdfdoc *d;
    int rc = pdfdoc_open(j->path, NULL, &d);
    if (rc) return push_failure(w, j, 1, rc);
    int n = pdfdoc_page_count(d), failed = 0, first = 1;
    if (n > 0 && progress >= n) progress = n - 1; /* redo the last page: it marks the end */
    for (int p = (int)progress; !rc && p < n; p++) {
        if (w->dc->stop) {
            rc = iris_fail(IRIS_ECANCELLED, "indexing stopped");
            break;
        }
        unit *u = calloc(1, sizeof *u);
        if (!u) {
            rc = iris_fail(IRIS_ENOMEM, "no memory");
            break;
        }
        u->job = j;
        u->first = first;
        u->last = p == n - 1;
        u->progress = p + 1;
        if (first && !(u->title = strdup(pdfdoc_title(d)))) rc = iris_fail(IRIS_ENOMEM, "no memory");
        if (!rc) rc = page_unit(w, d, p, u, &seq);
        failed += (int)u->pages_failed;
        if (!rc && u->last && progress == 0 && failed == n) {
            unit_free(u);
            rc = iris_fail(IRIS_EFORMAT, "%s: none of its %d pages could be read", j->path, n);
            break;
        }
        if (rc) {
            unit_free(u);
            break;
        }
        rc = worker_push(w, u);
        first = 0;
    }
    if (n == 0 && !rc) rc = iris_fail(IRIS_EFORMAT, "%s: no pages", j->path);
    pdfdoc_close(d);
    if (rc && rc != IRIS_ECANCELLED) return push_failure(w, j, first, rc);
    return rc;
}
