/*
 * pdf.h - reading PDFs through MuPDF: page count and title, per-page text
 * in reading order with block boxes, embedded raster figures decoded to
 * RGB with their boxes, and page rendering (for OCR and thumbnails).
 *
 * Threads: a pdfdoc owns its own fz_context (MuPDF's allocator, resource
 * store and exception stack), created without locks and never shared, so
 * different threads may each open their own pdfdoc at the same time; one
 * pdfdoc must be used by one thread at a time.
 *
 * Memory: pages are loaded, extracted and dropped one at a time, and the
 * parsed-object cache is trimmed back after every page, so a 1000+ page
 * document streams in bounded memory. Every byte MuPDF allocates is
 * counted (pdfdoc_memory) and capped (pdfdoc_opts.max_bytes): a hostile
 * file fails with IRIS_ELIMIT instead of exhausting the machine.
 *
 * Errors never escape as MuPDF exceptions: every call catches them and
 * returns IRIS_EFORMAT (corrupt or truncated file, broken page),
 * IRIS_EUNSUPPORTED (encrypted, password needed), IRIS_ELIMIT,
 * IRIS_ENOMEM or IRIS_ENOTFOUND, with a message naming the file and page.
 * MuPDF's own warnings are silenced (they would go to stderr).
 *
 * Coordinates: PDF points (1/72 inch) from the page's top-left corner,
 * y downwards. Page numbers in this API are 0-based.
 */
#ifndef IRIS_MEDIA_PDF_H
#define IRIS_MEDIA_PDF_H

#include <stddef.h>
#include <stdint.h>

#include "iris.h"

typedef struct pdfdoc pdfdoc;

typedef struct pdfdoc_opts {
    size_t max_bytes; /* cap on MuPDF's memory for this document; 0 = 1 GiB */
    size_t cache_bytes; /* MuPDF resource cache (fonts, images); 0 = 64 MiB */
} pdfdoc_opts;

/* Opens path (opts may be NULL). Encrypted files are tried with the empty
 * password (permission-only encryption opens fine); if a real password is
 * needed: IRIS_EUNSUPPORTED "... is encrypted (password required)". */
int pdfdoc_open(const char *path, const pdfdoc_opts *opts, pdfdoc **out);
void pdfdoc_close(pdfdoc *d);
int pdfdoc_page_count(const pdfdoc *d);
/* The document title from its metadata ("" if none), valid UTF-8. */
const char *pdfdoc_title(const pdfdoc *d);
/* Bytes MuPDF holds now and at most so far for this document. */
void pdfdoc_memory(const pdfdoc *d, size_t *current, size_t *peak);

/* A text block: a paragraph-like run of lines, as bytes of the page text. */
typedef struct pdfdoc_block {
    size_t start, end;
    float bbox[4]; /* x0 y0 x1 y1 */
} pdfdoc_block;

typedef struct pdfdoc_figure {
    iris_image image;    /* RGB (rgb malloc'ed; pdfdoc_page_free frees it) */
    float bbox[4];       /* where it is drawn on the page */
    int src_width;       /* the embedded image's own pixel size */
    int src_height;
} pdfdoc_figure;

typedef struct pdfdoc_page_opts {
    int figures;         /* extract raster figures */
    int min_figure_px;   /* skip images whose shorter side has fewer pixels; 0 = 64 */
    float min_figure_pt; /* ... or is drawn smaller than this (points); 0 = 24 */
    int max_figure_side; /* decode subsampled to about this longer side; 0 = 1024 */
    int max_figures;     /* per page; 0 = 32 */
} pdfdoc_page_opts;

typedef struct pdfdoc_page {
    int index;            /* 0-based */
    float width, height;  /* points */
    char *text;           /* reading order; blocks separated by a blank line */
    size_t text_len;
    int n_chars;          /* non-space characters: near 0 means a scan (OCR it) */
    pdfdoc_block *blocks;
    int n_blocks;
    pdfdoc_figure *figures;
    int n_figures;
    int n_figures_failed; /* images that could not be decoded (skipped) */
} pdfdoc_page;

/* Extracts page index (opts may be NULL: text only). */
int pdfdoc_page_extract(pdfdoc *d, int index, const pdfdoc_page_opts *opts, pdfdoc_page *out);
void pdfdoc_page_free(pdfdoc_page *p);

/* Renders page index to RGB on white at dpi, lowering the resolution if
 * the image would exceed max_pixels (0 = 40 M); *used_dpi (may be NULL)
 * receives the resolution used. out->rgb is malloc'ed (iris_image_free). */
int pdfdoc_render(pdfdoc *d, int index, float dpi, uint64_t max_pixels, iris_image *out,
                  float *used_dpi);

#endif
