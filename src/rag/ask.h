/*
 * ask.h - what the two halves of iris_ask() share: sources gathered from
 * search hits (ask_sources.c) and the answer built from them (ask.c).
 *
 * A source is what the model sees as one numbered entry. Search ranks
 * items, but an image may match through any of its items (its pixels, its
 * caption, its OCR text): those merge into one image source at the rank of
 * the best of them, carrying the caption and OCR text for text-only models.
 */
#ifndef IRIS_RAG_ASK_H
#define IRIS_RAG_ASK_H

#include "iris.h"
#include "rag/prompt.h"

typedef struct ask_source {
    iris_rag_source rs;  /* for the prompt builder; points at the strings below */
    int64_t item_id;     /* reported: an image's own item, else the hit's */
    int modality;        /* IRIS_MOD_* reported */
    int64_t content_id;  /* merges an image's items */
    char sha256[65];     /* of the file content */
    char *path, *text, *caption, *ocr;
    unsigned char *image; /* verified file bytes, or a PDF figure as JPEG */
    size_t image_len;
} ask_source;

typedef struct ask_sources {
    ask_source *v;
    int n;
} ask_sources;

/* The first k sources from results (best first), read under the db lock.
 * Image sources start with no_pixels set. */
int ask_gather(iris_db *db, const iris_results *r, int k, ask_sources *out);
/* For sources that will be attached natively: reads image files whose bytes
 * still hash to the indexed content and cuts PDF figures from their pages,
 * up to max_images of them; the others stay text (no_pixels). */
void ask_load_pixels(iris_db *db, ask_sources *s, int max_images);
void ask_sources_free(ask_sources *s);

#endif
