/*
 * ocr.c - OCR inside the decoding threads: each thread creates its own
 * Tesseract engine the first time it needs one (about a second: a run
 * with no OCR work never pays it) and reuses it for every image and
 * scanned page it meets. Recognised text is chunked like any other text
 * and becomes OCR items: searchable by BM25 and, through CLIP's text
 * tower, by meaning.
 *
 * OCR trouble never costs the file: an engine that cannot be created
 * (language data missing) is reported once per run and the files are
 * indexed without OCR; a failed or timed-out recognition is a warning.
 */
#include "ingest/ingest.h"

#include "media/ocr.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static int engine(worker *w, unit *u)
{
    if (w->ocr || w->ocr_tried) return w->ocr != NULL;
    w->ocr_tried = 1;
    int rc = ocr_engine_new(NULL, NULL, &w->ocr);
    if (!rc) return 1;
    decode_ctx *dc = w->dc;
    pthread_mutex_lock(&dc->lock);
    int first = !dc->ocr_failed;
    dc->ocr_failed = 1;
    pthread_mutex_unlock(&dc->lock);
    if (first) unit_note_add(u, IRIS_LOG_WARN, 0, "OCR is unavailable, indexing without it: %s",
                             iris_errmsg());
    return 0;
}

int worker_ocr(worker *w, unit *u, const iris_image *img, int layout, int page, int64_t *seq)
{
    if (!engine(w, u)) return IRIS_OK;
    ocr_opts oo = {.layout = layout, .cancel = &w->dc->stop};
    ocr_result res;
    int rc = ocr_image(w->ocr, img, &oo, &res);
    u->ocr_runs++;
    if (rc == IRIS_ECANCELLED) return rc;
    char where[32] = "";
    if (page) snprintf(where, sizeof where, "page %d: ", page);
    if (rc) {
        unit_note_add(u, IRIS_LOG_WARN, 0, "%sOCR failed: %s", where, iris_errmsg());
        return IRIS_OK;
    }
    if (res.timed_out)
        unit_note_add(u, IRIS_LOG_WARN, 0, "%sOCR ran out of time; its text is partial", where);
    if (res.text_len)
        rc = worker_text_items(w, u, res.text, res.text_len, 0, STORE_OCR_TEXT, page, seq);
    ocr_result_free(&res);
    return rc;
}

void worker_done(worker *w)
{
    ocr_engine_free(w->ocr);
    w->ocr = NULL;
}
