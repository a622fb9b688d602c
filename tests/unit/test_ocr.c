/* OCR on images rendered here with known words (English, Chinese, a
 * screen-sized line, a document page) through MuPDF's built-in fonts;
 * blank, noisy, tiny, huge and empty images; engine reuse and threads. */
#include "iris.h"
#include "media/ocr.h"
#include "media/pdf.h"
#include "pdf_fixtures.h"
#include "test.h"

#include <pthread.h>
#include <unistd.h>

enum { FX_HELLO, FX_CHINESE, FX_SCREEN, FX_DOC, FX_N };

/* Page size (points) of each fixture; what is drawn is in draw(). */
static const float page_size[FX_N][2] = {{360, 100}, {300, 100}, {400, 50}, {300, 120}};
static char dir[128];
static ocr_engine *engine; /* eng + chi_sim, reused by every test on this thread */

static void draw(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)page;
    int which = *(const int *)user;
    fz_font *helv = fz_new_base14_font(ctx, "Helvetica");
    fz_font *cjk = which == FX_CHINESE ? fz_new_cjk_font(ctx, FZ_ADOBE_GB) : NULL;
    if (which == FX_HELLO) fx_text(ctx, dev, helv, 28, 20, 60, "HELLO OCR WORLD");
    if (which == FX_CHINESE) fx_text(ctx, dev, cjk, 36, 20, 65, "你好世界北京");
    if (which == FX_SCREEN) fx_text(ctx, dev, helv, 9, 10, 30, "Settings Network Proxy Bluetooth");
    if (which == FX_DOC) {
        fx_text(ctx, dev, helv, 14, 20, 60, "The quick brown fox jumps");
        fx_text(ctx, dev, helv, 14, 20, 80, "over the lazy dog.");
    }
    fz_drop_font(ctx, helv);
    fz_drop_font(ctx, cjk);
}

/* Renders fixture `which` at dpi (writing its PDF first). */
static void render(int which, float dpi, iris_image *out)
{
    char file[192];
    snprintf(file, sizeof file, "%s/fx%d.pdf", dir, which);
    if (access(file, F_OK) != 0 &&
        fx_write_pdf(file, NULL, NULL, 1, page_size[which][0], page_size[which][1], draw, &which))
        TEST_FAIL_("cannot write %s", file);
    pdfdoc *d;
    if (pdfdoc_open(file, NULL, &d) || pdfdoc_render(d, 0, dpi, 0, out, NULL))
        TEST_FAIL_("render %s: %s", file, iris_errmsg());
    pdfdoc_close(d);
}

static const ocr_word *find_word(const ocr_result *r, const char *w)
{
    for (int k = 0; k < r->n_words; k++)
        if (!strcmp(r->words[k].text, w)) return &r->words[k];
    return NULL;
}

static void test_english_words_and_boxes(void)
{
    iris_image im;
    render(FX_HELLO, 150, &im); /* 750 x 208 px */
    ocr_result r;
    CHECK_OK(ocr_image(engine, &im, NULL, &r));
    CHECK_MSG(!strcmp(r.text, "HELLO OCR WORLD"), "'%s'", r.text);
    CHECK_EQ_INT(r.n_words, 3);
    /* "HELLO" is drawn at x = 20 pt on the baseline y = 60 pt in 28 pt
     * Helvetica, whose AFM gives H a left bearing of 79/1000 em and a cap
     * height of 718/1000 em: ink from x = 22.2 pt, y = 39.9 pt to 60 pt,
     * i.e. x0 = 46.3, y0 = 83.1, y1 = 125 px at 150 dpi. */
    const ocr_word *w = find_word(&r, "HELLO");
    CHECK(w != NULL);
    CHECK_MSG(abs(w->box[0] - 46) <= 2 && abs(w->box[1] - 83) <= 2 && abs(w->box[3] - 125) <= 2,
              "box %d %d %d %d", w->box[0], w->box[1], w->box[2], w->box[3]);
    CHECK(w->conf > 80 && r.mean_conf > 80);
    ocr_result_free(&r);
    free(im.rgb);
}

static void test_chinese(void)
{
    iris_image im;
    render(FX_CHINESE, 150, &im);
    ocr_result r;
    CHECK_OK(ocr_image(engine, &im, NULL, &r));
    CHECK_MSG(strstr(r.text, "你好世界北京") != NULL, "'%s'", r.text); /* no spaces inserted */
    ocr_result_free(&r);
    free(im.rgb);
}

static void test_screen_text_sparse_and_upscaled(void)
{
    iris_image im;
    render(FX_SCREEN, 96, &im); /* 9 pt at 96 dpi: 12 px text, like a screenshot */
    ocr_result r;
    ocr_opts sparse = {.layout = OCR_SPARSE};
    CHECK_OK(ocr_image(engine, &im, &sparse, &r));
    for (const char *w = "Settings\0Network\0Proxy\0Bluetooth\0"; *w; w += strlen(w) + 1)
        CHECK_MSG(find_word(&r, w) != NULL, "%s missing in '%s'", w, r.text);
    /* Lines of ~12 px were enlarged for Tesseract; boxes still come back
     * in input pixels. */
    CHECK_MSG(r.scale > 2, "scale %g", r.scale);
    const ocr_word *s = find_word(&r, "Settings");
    CHECK(s && s->box[0] >= 10 && s->box[0] <= 18 && s->box[2] < im.width);
    ocr_result_free(&r);
    free(im.rgb);
}

static void test_dark_mode_screenshot(void)
{
    iris_image im;
    render(FX_SCREEN, 96, &im);
    for (size_t k = 0; k < (size_t)im.width * im.height * 3; k++) im.rgb[k] = (unsigned char)(255 - im.rgb[k]);
    ocr_result r;
    CHECK_OK(ocr_image(engine, &im, &(ocr_opts){.layout = OCR_SPARSE}, &r));
    CHECK_MSG(find_word(&r, "Network") && find_word(&r, "Bluetooth"), "'%s'", r.text);
    ocr_result_free(&r);
    free(im.rgb);
}

static void test_document_page_lines(void)
{
    iris_image im;
    render(FX_DOC, 200, &im);
    ocr_result r;
    CHECK_OK(ocr_image(engine, &im, &(ocr_opts){.layout = OCR_PAGE, .dpi = 200}, &r));
    CHECK_MSG(strstr(r.text, "The quick brown fox jumps\nover the lazy dog.") != NULL, "'%s'",
              r.text);
    const ocr_word *q = find_word(&r, "quick"), *o = find_word(&r, "over");
    CHECK(q && o && q->line == 0 && o->line == 1);
    /* "over" starts at x = 20 pt = 56 px at 200 dpi, baseline 80 pt = 222 px. */
    CHECK_MSG(abs(o->box[0] - 56) <= 4 && abs(o->box[3] - 222) <= 4, "box %d %d %d %d",
              o->box[0], o->box[1], o->box[2], o->box[3]);
    ocr_result_free(&r);
    free(im.rgb);
}

static void test_no_text_images(void)
{
    iris_image blank = {200, 100, malloc(200 * 100 * 3)};
    memset(blank.rgb, 255, 200 * 100 * 3);
    ocr_result r;
    CHECK_OK(ocr_image(engine, &blank, NULL, &r));
    CHECK_EQ_INT(r.n_words, 0);
    CHECK(r.text && r.text[0] == '\0');
    ocr_result_free(&r);
    /* Seeded noise: whatever Tesseract reads in it is filtered out. */
    unsigned s = 12345;
    for (int k = 0; k < 200 * 100 * 3; k++) blank.rgb[k] = (unsigned char)((s = s * 1103515245 + 12345) >> 16);
    CHECK_OK(ocr_image(engine, &blank, &(ocr_opts){.layout = OCR_SPARSE}, &r));
    CHECK_MSG(r.n_words == 0, "%d words: '%s'", r.n_words, r.text);
    CHECK(!r.timed_out);
    ocr_result_free(&r);
    free(blank.rgb);
    unsigned char px[3] = {0, 0, 0};
    iris_image tiny = {1, 1, px};
    CHECK_OK(ocr_image(engine, &tiny, NULL, &r));
    CHECK_EQ_INT(r.n_words, 0);
    ocr_result_free(&r);
}

static void test_deadline_and_cancel(void)
{
    iris_image im;
    render(FX_DOC, 200, &im);
    ocr_result r;
    volatile int stop = 1;
    CHECK_EQ_INT(ocr_image(engine, &im, &(ocr_opts){.cancel = &stop}, &r), IRIS_ECANCELLED);
    /* A 1 ms deadline: whatever was read is returned, flagged partial. */
    CHECK_OK(ocr_image(engine, &im, &(ocr_opts){.timeout_ms = 1}, &r));
    CHECK(r.timed_out);
    ocr_result_free(&r);
    free(im.rgb);
}

static void test_bad_input(void)
{
    ocr_result r;
    iris_image none = {0, 0, NULL};
    CHECK_EQ_INT(ocr_image(engine, &none, NULL, &r), IRIS_EARG);
    CHECK_EQ_INT(ocr_image(engine, NULL, NULL, &r), IRIS_EARG);
    CHECK_EQ_INT(ocr_image(NULL, &none, NULL, &r), IRIS_EARG);
    unsigned char px[3] = {0};
    iris_image huge = {100000, 100000, px}; /* refused before touching pixels */
    CHECK_EQ_INT(ocr_image(engine, &huge, NULL, &r), IRIS_ELIMIT);
    ocr_engine *e;
    CHECK_EQ_INT(ocr_engine_new("eng+klingon", NULL, &e), IRIS_ENOTFOUND);
    CHECK(strstr(iris_errmsg(), "klingon.traineddata") && strstr(iris_errmsg(), "tesseract-ocr-klingon"));
    CHECK_EQ_INT(ocr_engine_new("eng", "/nonexistent", &e), IRIS_ENOTFOUND);
}

/* A real photographed page with uneven lighting (scikit-image's page.png,
 * decoded here with MuPDF); the words are read off the image itself. */
static void test_real_scanned_page(void)
{
    const char *file = TEST_SHARED "/images/skimage/page.png";
    if (!test_path_exists(file)) SKIP("../shared/data is absent");
    fz_context *ctx = fz_new_context(NULL, NULL, FZ_STORE_DEFAULT);
    fz_image *img = fz_new_image_from_file(ctx, file);
    fz_pixmap *g = fz_get_pixmap_from_image(ctx, img, NULL, NULL, NULL, NULL);
    fz_pixmap *p = fz_convert_pixmap(ctx, g, fz_device_rgb(ctx), NULL, NULL, fz_default_color_params, 0);
    iris_image im = {p->w, p->h, malloc((size_t)p->w * p->h * 3)};
    for (int y = 0; y < p->h; y++) memcpy(im.rgb + (size_t)y * p->w * 3, p->samples + y * p->stride, (size_t)p->w * 3);
    fz_drop_pixmap(ctx, p), fz_drop_pixmap(ctx, g), fz_drop_image(ctx, img), fz_drop_context(ctx);
    ocr_result r;
    CHECK_OK(ocr_image(engine, &im, NULL, &r));
    CHECK_MSG(strstr(r.text, "Region-based segmentation") &&
                  strstr(r.text, "Let us first determine markers of the coins") &&
                  strstr(r.text, "either object or background"),
              "'%s'", r.text);
    ocr_result_free(&r);
    free(im.rgb);
}

typedef struct worker {
    iris_image im;
    char text[256];
    int rc;
} worker;

static void *ocr_thread(void *p)
{
    worker *w = p;
    ocr_engine *e;
    if ((w->rc = ocr_engine_new("eng", NULL, &e))) return NULL;
    for (int k = 0; k < 2 && !w->rc; k++) { /* reuse: same answer twice */
        ocr_result r;
        if ((w->rc = ocr_image(e, &w->im, NULL, &r))) break;
        if (k && strcmp(w->text, r.text)) w->rc = -1;
        snprintf(w->text, sizeof w->text, "%s", r.text);
        ocr_result_free(&r);
    }
    ocr_engine_free(e);
    return NULL;
}

static void test_engines_in_threads(void)
{
    worker w[2] = {{{0}, "", 0}, {{0}, "", 0}};
    render(FX_HELLO, 150, &w[0].im);
    render(FX_DOC, 150, &w[1].im);
    pthread_t th[2];
    for (int k = 0; k < 2; k++) CHECK(pthread_create(&th[k], NULL, ocr_thread, &w[k]) == 0);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    CHECK_EQ_INT(w[0].rc, 0);
    CHECK_EQ_INT(w[1].rc, 0);
    CHECK(!strcmp(w[0].text, "HELLO OCR WORLD"));
    CHECK_MSG(strstr(w[1].text, "quick brown fox") != NULL, "'%s'", w[1].text);
    free(w[0].im.rgb);
    free(w[1].im.rgb);
}

int main(int argc, char **argv)
{
    snprintf(dir, sizeof dir, "/tmp/iris_test_ocr_%d", (int)getpid());
    mkdir(dir, 0755);
    if (ocr_engine_new(NULL, NULL, &engine)) {
        printf("not ok - ocr_engine_new: %s\n", iris_errmsg());
        return 1;
    }
    RUN(test_english_words_and_boxes);
    RUN(test_chinese);
    RUN(test_screen_text_sparse_and_upscaled);
    RUN(test_dark_mode_screenshot);
    RUN(test_document_page_lines);
    RUN(test_no_text_images);
    RUN(test_deadline_and_cancel);
    RUN(test_bad_input);
    RUN(test_engines_in_threads);
    RUN(test_real_scanned_page);
    ocr_engine_free(engine);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
