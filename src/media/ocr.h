/*
 * ocr.h - text in images through Tesseract 5 (C API): words with boxes and
 * confidences, and the recognised text assembled for indexing.
 *
 * Engines are expensive to create (~1 s to load eng + chi_sim) and not
 * thread-safe: create one per worker thread and reuse it for every image.
 * Different engines in different threads run concurrently.
 *
 * Layouts: OCR_PAGE for scanned or rendered document pages (Tesseract's
 * automatic page segmentation: columns, paragraphs, reading order);
 * OCR_SPARSE for screenshots, photos and diagrams (find as much text as
 * possible in no particular order).
 *
 * Scale: recognition is reliable in a band of text sizes only (measured
 * here: Chinese fails once characters pass ~60 px, small screen text
 * under ~12 px loses letters), so the image is first laid out, the median
 * text line height measured, and the image rescaled so lines are about
 * text_height pixels (40 by default) before recognition. Boxes are mapped
 * back to the input's pixels.
 *
 * Filtering: words below min_conf (Tesseract's 0-100 confidence) and words
 * with no letter, digit or CJK character (specks read as "|", "~", "-")
 * are dropped; so is what Tesseract imagines in photos and textures
 * (lone one- or two-character fragments below 90; on images where nearly
 * every word was rejected, anything below 85). See drop_noise() in ocr.c. Text joins words with spaces, except between CJK characters;
 * lines end with '\n', blocks and paragraphs with a blank line.
 */
#ifndef IRIS_MEDIA_OCR_H
#define IRIS_MEDIA_OCR_H

#include <stddef.h>

#include "iris.h"

typedef struct ocr_engine ocr_engine;

/* languages: Tesseract names joined by '+' (NULL = "eng+chi_sim");
 * datapath: the tessdata folder (NULL = $TESSDATA_PREFIX, else Debian's).
 * A missing language is IRIS_ENOTFOUND naming the file and the package. */
int ocr_engine_new(const char *languages, const char *datapath, ocr_engine **out);
void ocr_engine_free(ocr_engine *e);

typedef enum ocr_layout { OCR_PAGE = 0, OCR_SPARSE = 1 } ocr_layout;

typedef struct ocr_opts {
    int layout;      /* ocr_layout */
    float min_conf;  /* 0 = 60; < 0 keeps every word */
    int dpi;         /* resolution of the image; 0 = 300 (page) or 96 (sparse) */
    int text_height; /* target line height in px; 0 = 40; < 0 = never rescale */
    uint64_t max_pixels; /* refuse larger images, cap rescaling; 0 = 40 M */
    int timeout_ms;  /* stop recognising after this long; 0 = 20000 */
    const volatile int *cancel; /* non-zero stops at once: IRIS_ECANCELLED */
} ocr_opts;

typedef struct ocr_word {
    char *text;    /* UTF-8 */
    int box[4];    /* x0 y0 x1 y1 in the input image's pixels */
    float conf;    /* 0-100 */
    int line;      /* line number in reading order, from 0 */
    int para;      /* paragraph (or block) number, from 0 */
} ocr_word;

typedef struct ocr_result {
    char *text;       /* assembled from the kept words */
    size_t text_len;
    ocr_word *words;
    int n_words;
    int n_dropped;    /* words filtered out */
    float mean_conf;  /* over kept words; 0 if none */
    float scale;      /* the rescaling used for recognition */
    int timed_out;    /* the deadline cut recognition short: text is partial */
} ocr_result;

int ocr_image(ocr_engine *e, const iris_image *img, const ocr_opts *opts, ocr_result *out);
void ocr_result_free(ocr_result *r);

#endif
