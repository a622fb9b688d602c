/*
 * ocr.c - Tesseract OCR (see ocr.h).
 *
 * The image goes to Tesseract as a Leptonica PIX: grayscale, inverted if
 * it is mostly dark, background-normalised (Leptonica), with its
 * resolution declared so Tesseract does not guess (and print) one. A
 * layout pass measures the median text line height; the image is then
 * rescaled by Leptonica (area-averaging down, linear up) so lines are near
 * the target height, and recognised. Words come from the result
 * iterator with their boxes (mapped back to input pixels), confidences and
 * line/paragraph/block starts, which drive how the text is assembled.
 * Tesseract's diagnostic output goes to /dev/null (debug_file) so nothing
 * reaches the user's terminal.
 */
#include "media/ocr.h"

#include "text/utf8.h"
#include "util/buf.h"
#include "util/error.h"

#include <leptonica/allheaders.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <tesseract/capi.h>

#define DEFAULT_LANGS "eng+chi_sim"

struct ocr_engine {
    TessBaseAPI *api;
    char langs[128];
};

/* ------------------------------------------------------------- engines */

/* The tessdata folder: explicit, $TESSDATA_PREFIX, or where Debian's
 * packages put it. */
static const char *tessdata_dir(const char *datapath)
{
    static const char *const known[] = {"/usr/share/tesseract-ocr/5/tessdata",
                                        "/usr/share/tesseract-ocr/4.00/tessdata",
                                        "/usr/share/tessdata"};
    if (datapath) return datapath;
    const char *env = getenv("TESSDATA_PREFIX");
    if (env && *env) return env;
    struct stat st;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (stat(known[k], &st) == 0 && S_ISDIR(st.st_mode)) return known[k];
    return known[0];
}

/* Every language of "a+b+c" must have dir/<lang>.traineddata. */
static int check_languages(const char *langs, const char *dir)
{
    const char *p = langs;
    while (*p) {
        size_t n = strcspn(p, "+");
        char file[512];
        struct stat st;
        snprintf(file, sizeof file, "%s/%.*s.traineddata", dir, (int)n, p);
        if (n == 0 || n > 64 || stat(file, &st) != 0) {
            char pkg[80];
            snprintf(pkg, sizeof pkg, "tesseract-ocr-%.*s", (int)n, p);
            for (char *c = pkg; *c; c++)
                if (*c == '_') *c = '-';
            return iris_fail(IRIS_ENOTFOUND, "OCR language data %s not found (install %s)", file,
                             pkg);
        }
        p += n + (p[n] == '+');
    }
    return IRIS_OK;
}

/* Leptonica reports through a process-wide severity level; its warnings
 * (e.g. "no bg found" on a blank image) would reach the user's terminal. */
/* From libgomp, Tesseract's OpenMP runtime. Declared here because clang
 * ships no omp.h on Debian; it is standard OpenMP C API. */
void omp_set_max_active_levels(int levels);

/* Once per process: silence Leptonica, and keep Tesseract single-threaded.
 * Its LSTM runs `parallel for num_threads(4)` per text line, which on a
 * 2-core machine is 3-4x slower than one thread (measured: test_ocr 8.2 s
 * vs 3.8 s wall); iris parallelises across images instead. The explicit
 * num_threads clause ignores omp_set_num_threads(), and OMP_THREAD_LIMIT is
 * read only at process start, but zero active levels makes every parallel
 * region run on its encountering thread, and can be set at any time. No
 * other library iris links uses OpenMP (OpenBLAS is the pthreads build). */
static void once_per_process(void)
{
    setMsgSeverity(L_SEVERITY_NONE);
    omp_set_max_active_levels(0);
}

int ocr_engine_new(const char *languages, const char *datapath, ocr_engine **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, once_per_process);
    *out = NULL;
    const char *langs = languages && *languages ? languages : DEFAULT_LANGS;
    if (strlen(langs) >= sizeof((ocr_engine *)0)->langs)
        return iris_fail(IRIS_EARG, "OCR languages '%s' too long", langs);
    const char *dir = tessdata_dir(datapath);
    int rc = check_languages(langs, dir);
    if (rc) return rc;
    ocr_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->api = TessBaseAPICreate())) {
        free(e);
        return iris_fail(IRIS_ENOMEM, "no memory for an OCR engine");
    }
    snprintf(e->langs, sizeof e->langs, "%s", langs);
    TessBaseAPISetVariable(e->api, "debug_file", "/dev/null");
    if (TessBaseAPIInit3(e->api, dir, langs) != 0) {
        ocr_engine_free(e);
        return iris_fail(IRIS_EFORMAT, "Tesseract could not load '%s' from %s", langs, dir);
    }
    *out = e;
    return IRIS_OK;
}

void ocr_engine_free(ocr_engine *e)
{
    if (!e) return;
    if (e->api) {
        TessBaseAPIEnd(e->api);
        TessBaseAPIDelete(e->api);
    }
    free(e);
}

/* ------------------------------------------------------------ the image */

/* 8-bit luminance (Rec. 601 weights), inverted when the image is mostly
 * dark (dark-mode screenshots: light text on a dark background). */
static PIX *gray_from_rgb(const iris_image *img)
{
    PIX *pix = pixCreate(img->width, img->height, 8);
    if (!pix) return NULL;
    l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    uint64_t sum = 0;
    for (int y = 0; y < img->height; y++) {
        const unsigned char *s = img->rgb + (size_t)y * img->width * 3;
        l_uint32 *line = data + (size_t)y * wpl;
        for (int x = 0; x < img->width; x++, s += 3) {
            unsigned v = (299u * s[0] + 587u * s[1] + 114u * s[2] + 500) / 1000;
            SET_DATA_BYTE(line, x, v);
            sum += v;
        }
    }
    if (sum < (uint64_t)img->width * img->height * 100) pixInvert(pix, pix);
    return pix;
}

/* Grayscale with the background flattened to an even light level, so
 * uneven lighting (photographed or scanned pages, vignetting) does not
 * wipe out the darker side when Tesseract binarises. Images under 64 px
 * a side (Leptonica's map needs 5 tiles of 10 px) are used as they are. */
static PIX *prepare(const iris_image *img)
{
    PIX *gray = gray_from_rgb(img);
    if (!gray) return NULL;
    PIX *norm = img->width >= 64 && img->height >= 64 ? pixBackgroundNormSimple(gray, NULL, NULL)
                                                       : NULL;
    if (!norm) return gray;
    pixDestroy(&gray);
    return norm;
}

static ocr_opts defaults(const ocr_opts *opts)
{
    ocr_opts o = opts ? *opts : (ocr_opts){0};
    if (o.min_conf == 0) o.min_conf = 60;
    if (o.dpi <= 0) o.dpi = o.layout == OCR_SPARSE ? 96 : 300;
    if (o.text_height == 0) o.text_height = 40;
    if (!o.max_pixels) o.max_pixels = 40000000;
    if (o.timeout_ms <= 0) o.timeout_ms = 20000;
    return o;
}

static int check_image(const iris_image *img, const ocr_opts *o)
{
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return iris_fail(IRIS_EARG, "OCR: empty image");
    if ((uint64_t)img->width * img->height > o->max_pixels)
        return iris_fail(IRIS_ELIMIT, "OCR: %d x %d image is over the %llu-pixel limit",
                         img->width, img->height, (unsigned long long)o->max_pixels);
    return IRIS_OK;
}

static int by_value(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Lays the current image out and returns its median text line height
 * (0 when no line is found). */
static int median_line_height(TessBaseAPI *api)
{
    TessPageIterator *it = TessBaseAPIAnalyseLayout(api);
    if (!it) return 0;
    enum { MAX_LINES = 2048 };
    static _Thread_local int h[MAX_LINES];
    int n = 0;
    do {
        int x0, y0, x1, y1;
        if (TessPageIteratorBoundingBox(it, RIL_TEXTLINE, &x0, &y0, &x1, &y1) && y1 > y0)
            h[n++] = y1 - y0;
    } while (n < MAX_LINES && TessPageIteratorNext(it, RIL_TEXTLINE));
    TessPageIteratorDelete(it);
    if (!n) return 0;
    qsort(h, (size_t)n, sizeof *h, by_value);
    return h[n / 2];
}

/* Puts pix (scaled by s from the input) into Tesseract, for measuring
 * (sparse segmentation: finds lines whatever the page layout, where the
 * automatic one splits very large CJK characters into lines of their own)
 * or for recognition in the caller's layout. */
static void set_image(TessBaseAPI *api, PIX *pix, const ocr_opts *o, float s, int measuring)
{
    TessBaseAPISetPageSegMode(api, measuring || o->layout == OCR_SPARSE ? PSM_SPARSE_TEXT : PSM_AUTO);
    TessBaseAPISetImage2(api, pix);
    TessBaseAPISetSourceResolution(api, (int)(o->dpi * s + 0.5f));
}

/* The scale bringing text lines near the target height: measured on the
 * image, or on a 2x copy when small text went unseen; 1 when close
 * enough; never past max_pixels. */
static float choose_scale(TessBaseAPI *api, PIX *pix, const iris_image *img, const ocr_opts *o)
{
    if (o->text_height < 0) return 1;
    float base = 1;
    int h = median_line_height(api);
    if (!h && (uint64_t)img->width * img->height * 4 <= o->max_pixels) {
        PIX *big = pixScale(pix, 2, 2);
        if (big) {
            set_image(api, big, o, 2, 1);
            h = median_line_height(api);
            pixDestroy(&big);
            base = 2;
        }
    }
    if (!h) return 1;
    float s = (float)o->text_height * base / (float)h; /* h was measured at base */
    if (s > 0.75f && s < 1.5f) s = 1;
    if (s > 4) s = 4;
    if (s < 0.25f) s = 0.25f;
    double px = (double)img->width * img->height * s * s;
    if (px > (double)o->max_pixels) s = (float)sqrt((double)o->max_pixels / ((double)img->width * img->height));
    return s;
}

/* ------------------------------------------------------------- results */

/* First / last code point of a UTF-8 string (0 if empty). */
static uint32_t first_cp(const char *s)
{
    size_t i = 0, n = strlen(s);
    return n ? utf8_next(s, n, &i) : 0;
}

static uint32_t last_cp(const char *s)
{
    size_t n = strlen(s), b = n;
    while (b > 0 && ((unsigned char)s[b - 1] & 0xC0) == 0x80) b--;
    if (b > 0) b--;
    size_t i = b;
    return n ? utf8_next(s, n, &i) : 0;
}

/* Letters, digits and CJK characters in a word (punctuation not counted). */
static int n_word_chars(const char *s)
{
    size_t n = strlen(s), i = 0;
    int k = 0;
    while (i < n) {
        uint32_t cp = utf8_next(s, n, &i);
        k += cp < 0x80 ? ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9')
                       : (utf8_is_cjk(cp) || (cp >= 0xC0 && cp < 0x2000));
    }
    return k;
}

static int push_word(ocr_result *r, int *cap, const char *text, float conf, const int box[4],
                     int line, int para)
{
    if (r->n_words == *cap) {
        int c = *cap ? 2 * *cap : 64;
        ocr_word *w = realloc(r->words, (size_t)c * sizeof *w);
        if (!w) return iris_fail(IRIS_ENOMEM, "no memory for OCR words");
        r->words = w;
        *cap = c;
    }
    char *copy = strdup(text);
    if (!copy) return iris_fail(IRIS_ENOMEM, "no memory for OCR words");
    r->words[r->n_words++] = (ocr_word){copy, {box[0], box[1], box[2], box[3]}, conf, line, para};
    return IRIS_OK;
}

/* Walks Tesseract's words, keeping those that pass the confidence and
 * letter filters; boxes are divided by r->scale. */
static int gather(TessBaseAPI *api, const ocr_opts *o, ocr_result *r)
{
    TessResultIterator *it = TessBaseAPIGetIterator(api);
    if (!it) return IRIS_OK; /* nothing recognised */
    TessPageIterator *pit = TessResultIteratorGetPageIterator(it);
    int rc = IRIS_OK, cap = 0, line = -1, para = -1;
    do {
        if (TessPageIteratorIsAtBeginningOf(pit, RIL_BLOCK) ||
            TessPageIteratorIsAtBeginningOf(pit, RIL_PARA))
            para++;
        if (TessPageIteratorIsAtBeginningOf(pit, RIL_TEXTLINE)) line++;
        char *word = TessResultIteratorGetUTF8Text(it, RIL_WORD);
        float conf = TessResultIteratorConfidence(it, RIL_WORD);
        int b[4] = {0};
        TessPageIteratorBoundingBox(pit, RIL_WORD, &b[0], &b[1], &b[2], &b[3]);
        for (int k = 0; k < 4; k++) b[k] = (int)(b[k] / r->scale + 0.5f);
        if (!word || !n_word_chars(word) || (o->min_conf >= 0 && conf < o->min_conf))
            r->n_dropped += word != NULL;
        else
            rc = push_word(r, &cap, word, conf, b, line < 0 ? 0 : line, para < 0 ? 0 : para);
        TessDeleteText(word);
    } while (!rc && TessResultIteratorNext(it, RIL_WORD));
    TessResultIteratorDelete(it);
    return rc;
}

/* What Tesseract imagines in photos and textures (measured on gravel,
 * grass, brick and portrait photos): lines holding one fragment of one or
 * two characters ("NS", "i!", a lone "用") read at 60-85, amid many
 * rejected words. So: a line of one word with at most two letters is
 * dropped below 90; and when fewer than one word in ten survived the
 * confidence filter (and at least 20 were rejected), the image is texture
 * and the survivors need 85. */
#define SURE_CONF 90
#define NOISY_CONF 85

static void drop_noise(ocr_result *r)
{
    int noisy = r->n_dropped >= 20 && r->n_words * 10 < r->n_words + r->n_dropped;
    int out = 0;
    for (int k = 0; k < r->n_words; k++) {
        ocr_word *w = &r->words[k];
        int alone = (k == 0 || r->words[k - 1].line != w->line) &&
                    (k + 1 == r->n_words || r->words[k + 1].line != w->line);
        if ((alone && w->conf < SURE_CONF && n_word_chars(w->text) <= 2) ||
            (noisy && w->conf < NOISY_CONF)) {
            free(w->text);
            r->n_dropped++;
        } else {
            r->words[out++] = *w;
        }
    }
    r->n_words = out;
}

/* The text: a blank line between paragraphs, a newline between lines, no
 * space between two CJK characters, else one space. */
static int assemble(ocr_result *r)
{
    iris_buf b = {0};
    int rc = IRIS_OK;
    double conf = 0;
    for (int k = 0; k < r->n_words && !rc; k++) {
        const ocr_word *w = &r->words[k], *p = k ? w - 1 : NULL;
        const char *sep = !p                    ? ""
                          : p->para != w->para  ? "\n\n"
                          : p->line != w->line  ? "\n"
                          : utf8_is_cjk(last_cp(p->text)) && utf8_is_cjk(first_cp(w->text)) ? ""
                                                                                            : " ";
        rc = iris_buf_str(&b, sep);
        if (!rc) rc = iris_buf_str(&b, w->text);
        conf += w->conf;
    }
    r->mean_conf = r->n_words ? (float)(conf / r->n_words) : 0;
    if (rc) {
        iris_buf_free(&b);
        return rc;
    }
    return iris_buf_take(&b, &r->text, &r->text_len);
}

static bool cancelled(void *flag, int words)
{
    (void)words;
    return flag && *(volatile const int *)flag;
}

/* Recognition under the deadline and the caller's cancel flag; what was
 * read before either stops it is kept (out->timed_out says so). */
static int recognize(TessBaseAPI *api, PIX *pix, const ocr_opts *o, ocr_result *out,
                     const iris_image *img)
{
    ETEXT_DESC *monitor = TessMonitorCreate();
    if (!monitor) return iris_fail(IRIS_ENOMEM, "OCR: no memory");
    TessMonitorSetDeadlineMSecs(monitor, o->timeout_ms);
    TessMonitorSetCancelFunc(monitor, cancelled);
    TessMonitorSetCancelThis(monitor, (void *)o->cancel);
    set_image(api, pix, o, out->scale, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int failed = TessBaseAPIRecognize(api, monitor) != 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    TessMonitorDelete(monitor);
    if (o->cancel && *o->cancel) return iris_fail(IRIS_ECANCELLED, "OCR cancelled");
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    out->timed_out = ms >= o->timeout_ms;
    if (failed && !out->timed_out)
        return iris_fail(IRIS_EFORMAT, "OCR: Tesseract failed on a %d x %d image", img->width,
                         img->height);
    return IRIS_OK;
}

int ocr_image(ocr_engine *e, const iris_image *img, const ocr_opts *opts, ocr_result *out)
{
    memset(out, 0, sizeof *out);
    if (!e) return iris_fail(IRIS_EARG, "OCR: no engine");
    ocr_opts o = defaults(opts);
    int rc = check_image(img, &o);
    if (rc) return rc;
    PIX *pix = prepare(img), *scaled = NULL;
    if (!pix) return iris_fail(IRIS_ENOMEM, "OCR: no memory for a %d x %d image", img->width, img->height);
    set_image(e->api, pix, &o, 1, 1);
    out->scale = choose_scale(e->api, pix, img, &o);
    if (out->scale != 1) {
        scaled = pixScale(pix, out->scale, out->scale);
        if (!scaled) rc = iris_fail(IRIS_ENOMEM, "OCR: no memory to rescale a %d x %d image",
                                    img->width, img->height);
    }
    if (!rc) rc = recognize(e->api, scaled ? scaled : pix, &o, out, img);
    if (!rc) rc = gather(e->api, &o, out);
    if (!rc) drop_noise(out);
    if (!rc) rc = assemble(out);
    TessBaseAPIClear(e->api);
    pixDestroy(&scaled);
    pixDestroy(&pix);
    if (rc) ocr_result_free(out);
    return rc;
}

void ocr_result_free(ocr_result *r)
{
    if (!r) return;
    for (int k = 0; k < r->n_words; k++) free(r->words[k].text);
    free(r->words);
    free(r->text);
    memset(r, 0, sizeof *r);
}
