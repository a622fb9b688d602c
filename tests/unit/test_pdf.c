/* PDF extraction on PDFs generated here (text, columns, Chinese, figures in
 * several colour spaces, a scanned page, encryption, 1200 pages, corrupt
 * and truncated files) and on the real manuals in ../shared/data/pdfs. */
#include "iris.h"
#include "media/pdf.h"
#include "pdf_fixtures.h"
#include "test.h"

#include <pthread.h>
#include <unistd.h>

static char dir[128];

static const char *fx(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* ------------------------------------------------------------ fixtures */

static void draw_text_doc(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)user;
    fz_font *helv = fz_new_base14_font(ctx, "Helvetica");
    fz_font *cjk = page == 2 ? fz_new_cjk_font(ctx, FZ_ADOBE_GB) : NULL;
    if (page == 0) {
        fx_text(ctx, dev, helv, 20, 72, 100, "Alpha Heading");
        fx_text(ctx, dev, helv, 12, 72, 140, "The quick brown fox jumps over the lazy dog.");
        fx_text(ctx, dev, helv, 12, 72, 154, "An exam-");
        fx_text(ctx, dev, helv, 12, 72, 168, "ple of hyphenation, not a self-");
        fx_text(ctx, dev, helv, 12, 72, 182, "Contained word.");
    } else if (page == 1) {
        /* Right column first in the content stream, title last. */
        const char *right[] = {"RIGHTCOL one", "RIGHTCOL two", "RIGHTCOL three"};
        const char *left[] = {"LEFTCOL one", "LEFTCOL two", "LEFTCOL three"};
        for (int k = 0; k < 3; k++) fx_text(ctx, dev, helv, 12, 330, 150 + 14 * k, right[k]);
        for (int k = 0; k < 3; k++) fx_text(ctx, dev, helv, 12, 72, 150 + 14 * k, left[k]);
        fx_text(ctx, dev, helv, 18, 72, 100, "Columns Title");
    } else {
        fx_text(ctx, dev, cjk, 16, 72, 100, "中文测试页面：北京欢迎你");
        fx_text(ctx, dev, helv, 12, 72, 140, "mixed English line");
    }
    fz_drop_font(ctx, helv);
    fz_drop_font(ctx, cjk);
}

static void px_halves(unsigned char *p, int x, int y, void *u)
{
    (void)y, (void)u;
    p[0] = x < 100 ? 255 : 0, p[1] = 0, p[2] = x < 100 ? 0 : 255;
}
static void px_gray(unsigned char *p, int x, int y, void *u) { (void)u, p[0] = (unsigned char)(x + y); }
static void px_cyan(unsigned char *p, int x, int y, void *u)
{
    (void)x, (void)y, (void)u;
    p[0] = 255, p[1] = p[2] = p[3] = 0;
}
static void px_green(unsigned char *p, int x, int y, void *u)
{
    (void)x, (void)y, (void)u;
    p[0] = 0, p[1] = 255, p[2] = 0;
}
static void px_half_mask(unsigned char *p, int x, int y, void *u)
{
    (void)y, (void)u;
    p[0] = x < 50 ? 0 : 255;
}

static void draw_figures_doc(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)user;
    fz_font *helv = fz_new_base14_font(ctx, "Helvetica");
    fx_text(ctx, dev, helv, 12, 72, 40, page ? "No figures here" : "Figure page");
    fz_drop_font(ctx, helv);
    if (page) return;
    fz_image *a = fx_image(ctx, fz_device_rgb(ctx), 200, 100, px_halves, NULL, NULL);
    fz_image *icon = fx_image(ctx, fz_device_rgb(ctx), 16, 16, px_halves, NULL, NULL);
    fz_image *gray = fx_image(ctx, fz_device_gray(ctx), 100, 100, px_gray, NULL, NULL);
    fz_image *cmyk = fx_image(ctx, fz_device_cmyk(ctx), 80, 80, px_cyan, NULL, NULL);
    fz_image *mask = fx_image(ctx, fz_device_gray(ctx), 100, 100, px_half_mask, NULL, NULL);
    fz_image *masked = fx_image(ctx, fz_device_rgb(ctx), 100, 100, px_green, NULL, mask);
    fx_draw_image(ctx, dev, a, 100, 150, 300, 250);
    fx_draw_image(ctx, dev, icon, 50, 50, 66, 66);   /* too few pixels */
    fx_draw_image(ctx, dev, a, 100, 150, 300, 250);  /* same again: reported once */
    fx_draw_image(ctx, dev, a, 400, 50, 410, 60);    /* drawn too small */
    fx_draw_image(ctx, dev, gray, 100, 300, 200, 400);
    fx_draw_image(ctx, dev, cmyk, 300, 300, 380, 380);
    fx_draw_image(ctx, dev, masked, 100, 450, 200, 550);
    fz_drop_image(ctx, a), fz_drop_image(ctx, icon), fz_drop_image(ctx, gray);
    fz_drop_image(ctx, cmyk), fz_drop_image(ctx, masked), fz_drop_image(ctx, mask);
}

static void draw_big_doc(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)user;
    char line[64];
    snprintf(line, sizeof line, "Big document page %d", page + 1);
    fz_font *helv = fz_new_base14_font(ctx, "Helvetica");
    fx_text(ctx, dev, helv, 12, 72, 72, line);
    fz_drop_font(ctx, helv);
}

static iris_image scan_source;

static void draw_scan_doc(fz_context *ctx, fz_device *dev, int page, void *user)
{
    (void)page, (void)user;
    fz_image *img = fx_image_from_rgb(ctx, scan_source.rgb, scan_source.width, scan_source.height);
    fx_draw_image(ctx, dev, img, 0, 0, 612, 792);
    fz_drop_image(ctx, img);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static int make_fixtures(void)
{
    snprintf(dir, sizeof dir, "/tmp/iris_test_pdf_%d", (int)getpid());
    mkdir(dir, 0755);
    if (fx_write_pdf(fx("text.pdf"), NULL, "Iris Fixture Title", 3, 612, 792, draw_text_doc, NULL) ||
        fx_write_pdf(fx("figures.pdf"), NULL, NULL, 2, 612, 792, draw_figures_doc, NULL) ||
        fx_write_pdf(fx("big.pdf"), NULL, NULL, 1200, 300, 200, draw_big_doc, NULL) ||
        fx_write_pdf(fx("user_pw.pdf"), "encrypt=aes-256,user-password=secret,owner-password=own",
                     NULL, 3, 612, 792, draw_text_doc, NULL) ||
        fx_write_pdf(fx("owner_pw.pdf"), "encrypt=aes-128,owner-password=own", NULL, 3, 612, 792,
                     draw_text_doc, NULL))
        return -1;
    /* A scan: page 1 of text.pdf rendered at 100 dpi, as an image. */
    pdfdoc *d;
    if (pdfdoc_open(fx("text.pdf"), NULL, &d) || pdfdoc_render(d, 0, 100, 0, &scan_source, NULL))
        return -1;
    pdfdoc_close(d);
    int rc = fx_write_pdf(fx("scan.pdf"), NULL, NULL, 1, 612, 792, draw_scan_doc, NULL);
    free(scan_source.rgb);
    return rc;
}

/* -------------------------------------------------------------- helpers */

static pdfdoc *open_ok(const char *path)
{
    pdfdoc *d = NULL;
    if (pdfdoc_open(path, NULL, &d)) TEST_FAIL_("open %s: %s", path, iris_errmsg());
    return d;
}

static char *page_text(pdfdoc *d, int page)
{
    pdfdoc_page p;
    if (pdfdoc_page_extract(d, page, NULL, &p)) TEST_FAIL_("page %d: %s", page, iris_errmsg());
    char *t = p.text;
    p.text = NULL;
    pdfdoc_page_free(&p);
    return t;
}

static const unsigned char *pixel(const iris_image *im, int x, int y)
{
    return im->rgb + ((size_t)y * im->width + x) * 3;
}

/* ---------------------------------------------------------------- tests */

static void test_text_pages_title_and_hyphens(void)
{
    pdfdoc *d = open_ok(fx("text.pdf"));
    CHECK_EQ_INT(pdfdoc_page_count(d), 3);
    CHECK(!strcmp(pdfdoc_title(d), "Iris Fixture Title"));
    pdfdoc_page p;
    CHECK_OK(pdfdoc_page_extract(d, 0, NULL, &p));
    CHECK_MSG(strstr(p.text, "Alpha Heading") != NULL, "%s", p.text);
    CHECK(strstr(p.text, "The quick brown fox jumps over the lazy dog.") != NULL);
    CHECK_MSG(strstr(p.text, "An example of hyphenation") != NULL, "%s", p.text);
    CHECK(strstr(p.text, "self-\nContained") != NULL); /* capital: a real hyphen */
    CHECK(p.width == 612 && p.height == 792);
    CHECK(p.n_chars > 60);
    CHECK(p.n_blocks >= 1);
    /* Block boxes hold their text: the heading's box is near y = 100. */
    int found = 0;
    for (int k = 0; k < p.n_blocks; k++) {
        CHECK(p.blocks[k].end <= p.text_len && p.blocks[k].start <= p.blocks[k].end);
        if (!strncmp(p.text + p.blocks[k].start, "Alpha Heading", 13)) {
            found = 1;
            CHECK(p.blocks[k].bbox[1] > 75 && p.blocks[k].bbox[3] < 110);
            CHECK(p.blocks[k].bbox[0] >= 71 && p.blocks[k].bbox[0] < 74);
        }
    }
    CHECK(found);
    pdfdoc_page_free(&p);
    CHECK_EQ_INT(pdfdoc_page_extract(d, 3, NULL, &p), IRIS_EARG);
    CHECK_EQ_INT(pdfdoc_page_extract(d, -1, NULL, &p), IRIS_EARG);
    pdfdoc_close(d);
}

static void test_reading_order_columns(void)
{
    pdfdoc *d = open_ok(fx("text.pdf"));
    char *t = page_text(d, 1);
    const char *title = strstr(t, "Columns Title"), *l1 = strstr(t, "LEFTCOL one"),
               *l3 = strstr(t, "LEFTCOL three"), *r1 = strstr(t, "RIGHTCOL one"),
               *r3 = strstr(t, "RIGHTCOL three");
    CHECK_MSG(title && l1 && l3 && r1 && r3, "%s", t);
    CHECK_MSG(title < l1 && l1 < l3 && l3 < r1 && r1 < r3, "order wrong:\n%s", t);
    free(t);
    pdfdoc_close(d);
}

static void test_chinese_text(void)
{
    pdfdoc *d = open_ok(fx("text.pdf"));
    char *t = page_text(d, 2);
    CHECK_MSG(strstr(t, "中文测试页面") && strstr(t, "北京欢迎你"), "%s", t);
    CHECK(strstr(t, "mixed English line") != NULL);
    free(t);
    pdfdoc_close(d);
}

static void test_figures_colour_spaces_and_masks(void)
{
    pdfdoc *d = open_ok(fx("figures.pdf"));
    pdfdoc_page p;
    pdfdoc_page_opts o = {.figures = 1};
    CHECK_OK(pdfdoc_page_extract(d, 0, &o, &p));
    CHECK_EQ_INT(p.n_figures_failed, 0);
    CHECK_EQ_INT(p.n_figures, 4);
    static const float boxes[4][4] = {
        {100, 150, 300, 250}, {100, 300, 200, 400}, {300, 300, 380, 380}, {100, 450, 200, 550}};
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < 4; c++)
            CHECK_NEAR(p.figures[k].bbox[c], boxes[k][c], 0.5);
    /* RGB halves: red left, blue right. */
    const iris_image *a = &p.figures[0].image;
    CHECK(a->width == 200 && a->height == 100);
    CHECK(p.figures[0].src_width == 200 && p.figures[0].src_height == 100);
    CHECK(pixel(a, 50, 50)[0] == 255 && pixel(a, 50, 50)[2] == 0);
    CHECK(pixel(a, 150, 50)[0] == 0 && pixel(a, 150, 50)[2] == 255);
    /* Gray ramp: equal channels, value x + y. */
    const unsigned char *g = pixel(&p.figures[1].image, 30, 40);
    CHECK(g[0] == g[1] && g[1] == g[2] && abs(g[0] - 70) <= 2);
    /* CMYK cyan becomes a blue-green. */
    const unsigned char *cy = pixel(&p.figures[2].image, 40, 40);
    CHECK_MSG(cy[1] > cy[0] + 100 && cy[2] > cy[0] + 100, "cyan -> %d %d %d", cy[0], cy[1], cy[2]);
    /* Soft mask: transparent half over white, opaque half green. */
    const unsigned char *l = pixel(&p.figures[3].image, 20, 50), *r = pixel(&p.figures[3].image, 80, 50);
    CHECK_MSG(l[0] >= 250 && l[1] >= 250 && l[2] >= 250, "left %d %d %d", l[0], l[1], l[2]);
    CHECK(r[0] < 10 && r[1] > 245 && r[2] < 10);
    pdfdoc_page_free(&p);
    /* Subsampled decoding honours max_figure_side (MuPDF halves by powers
     * of two, never below the request) on a fresh document (a cached full
     * decode would be reused). */
    pdfdoc_close(d);
    d = open_ok(fx("figures.pdf"));
    o.max_figure_side = 50;
    CHECK_OK(pdfdoc_page_extract(d, 0, &o, &p));
    CHECK_MSG(p.figures[0].image.width >= 50 && p.figures[0].image.width <= 100, "%d", p.figures[0].image.width);
    CHECK_EQ_INT(p.figures[0].src_width, 200);
    pdfdoc_page_free(&p);
    /* Lower thresholds bring back the icon and the tiny placement. */
    o = (pdfdoc_page_opts){.figures = 1, .min_figure_px = 8, .min_figure_pt = 5};
    CHECK_OK(pdfdoc_page_extract(d, 0, &o, &p));
    CHECK_EQ_INT(p.n_figures, 6);
    pdfdoc_page_free(&p);
    CHECK_OK(pdfdoc_page_extract(d, 1, &(pdfdoc_page_opts){.figures = 1}, &p));
    CHECK_EQ_INT(p.n_figures, 0);
    pdfdoc_page_free(&p);
    pdfdoc_close(d);
}

static void test_scanned_page(void)
{
    pdfdoc *d = open_ok(fx("scan.pdf"));
    pdfdoc_page p;
    CHECK_OK(pdfdoc_page_extract(d, 0, &(pdfdoc_page_opts){.figures = 1}, &p));
    CHECK_EQ_INT(p.n_chars, 0); /* no text layer: a candidate for OCR */
    CHECK_EQ_INT(p.n_figures, 1);
    CHECK_NEAR(p.figures[0].bbox[2] - p.figures[0].bbox[0], 612, 0.5);
    CHECK_EQ_INT(p.figures[0].src_width, 850);
    pdfdoc_page_free(&p);
    pdfdoc_close(d);
}

static void test_render(void)
{
    pdfdoc *d = open_ok(fx("text.pdf"));
    iris_image im;
    float dpi;
    CHECK_OK(pdfdoc_render(d, 0, 72, 0, &im, &dpi));
    CHECK(im.width == 612 && im.height == 792 && dpi == 72);
    CHECK(pixel(&im, 5, 5)[0] == 255 && pixel(&im, 5, 5)[1] == 255); /* white paper */
    int dark = 0;                                                     /* ink of the heading */
    for (int y = 80; y < 102; y++)
        for (int x = 72; x < 250; x++) dark += pixel(&im, x, y)[0] < 128;
    CHECK(dark > 200);
    free(im.rgb);
    CHECK_OK(pdfdoc_render(d, 0, 144, 0, &im, NULL));
    CHECK(im.width == 1224 && im.height == 1584);
    free(im.rgb);
    /* A pixel budget lowers the resolution. */
    CHECK_OK(pdfdoc_render(d, 0, 600, 1000000, &im, &dpi));
    /* 612 x 792 pt at 1e6 px: sqrt(1e6 / 484704) * 72 = 103.4 dpi */
    CHECK_MSG((uint64_t)im.width * im.height <= 1000000 && dpi < 104 && dpi > 102, "%d x %d at %g", im.width, im.height, dpi);
    free(im.rgb);
    CHECK_EQ_INT(pdfdoc_render(d, 0, 0, 0, &im, NULL), IRIS_EARG);
    CHECK_EQ_INT(pdfdoc_render(d, 9, 72, 0, &im, NULL), IRIS_EARG);
    pdfdoc_close(d);
}

static void test_encryption(void)
{
    pdfdoc *d;
    CHECK_EQ_INT(pdfdoc_open(fx("user_pw.pdf"), NULL, &d), IRIS_EUNSUPPORTED);
    CHECK(strstr(iris_errmsg(), "encrypted") && strstr(iris_errmsg(), "user_pw.pdf"));
    /* Owner-password-only encryption opens with the empty user password. */
    d = open_ok(fx("owner_pw.pdf"));
    char *t = page_text(d, 0);
    CHECK(strstr(t, "Alpha Heading") != NULL);
    free(t);
    pdfdoc_close(d);
}

static void test_bad_files(void)
{
    pdfdoc *d;
    CHECK_EQ_INT(pdfdoc_open(fx("absent.pdf"), NULL, &d), IRIS_ENOTFOUND);
    CHECK_EQ_INT(pdfdoc_open(dir, NULL, &d), IRIS_EIO);
    write_file(fx("empty.pdf"), "", 0);
    CHECK_EQ_INT(pdfdoc_open(fx("empty.pdf"), NULL, &d), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "empty"));
    write_file(fx("text.txt"), "hello, this is not a PDF at all\n", 32);
    CHECK_EQ_INT(pdfdoc_open(fx("text.txt"), NULL, &d), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "text.txt"));
    unsigned char junk[4000];
    memcpy(junk, "%PDF-1.4\n", 9);
    for (int k = 9; k < (int)sizeof junk; k++) junk[k] = (unsigned char)(k * 2654435761u >> 13);
    write_file(fx("junk.pdf"), junk, sizeof junk);
    CHECK_EQ_INT(pdfdoc_open(fx("junk.pdf"), NULL, &d), IRIS_EFORMAT);
    /* Truncated files: MuPDF repairs what it can; every outcome is either
     * a clean error or pages that extract. */
    size_t n;
    char *whole = test_read_file(fx("figures.pdf"), &n);
    CHECK(whole != NULL);
    for (int cut = 1; cut < 10; cut++) {
        write_file(fx("cut.pdf"), whole, n * (size_t)cut / 10);
        int rc = pdfdoc_open(fx("cut.pdf"), NULL, &d);
        CHECK_MSG(rc == IRIS_OK || rc == IRIS_EFORMAT, "cut %d: %d %s", cut, rc, iris_errmsg());
        for (int p = 0; rc == IRIS_OK && p < pdfdoc_page_count(d); p++) {
            pdfdoc_page pg;
            int r = pdfdoc_page_extract(d, p, &(pdfdoc_page_opts){.figures = 1}, &pg);
            CHECK(r == IRIS_OK || r == IRIS_EFORMAT);
            pdfdoc_page_free(&pg);
            iris_image im;
            r = pdfdoc_render(d, p, 20, 0, &im, NULL);
            CHECK(r == IRIS_OK || r == IRIS_EFORMAT);
            if (!r) free(im.rgb);
        }
        pdfdoc_close(d);
    }
    free(whole);
    /* Past the memory cap: a clean IRIS_ELIMIT, then the document still
     * works within it. */
    pdfdoc_opts capped = {.max_bytes = 8u << 20};
    d = open_ok(fx("text.pdf"));
    pdfdoc_close(d);
    CHECK_OK(pdfdoc_open(fx("text.pdf"), &capped, &d));
    iris_image im;
    CHECK_EQ_INT(pdfdoc_render(d, 0, 300, 0, &im, NULL), IRIS_ELIMIT); /* 25 MB of pixels */
    CHECK_MSG(strstr(iris_errmsg(), "memory cap") != NULL, "%s", iris_errmsg());
    CHECK_OK(pdfdoc_render(d, 0, 72, 0, &im, NULL));
    free(im.rgb);
    pdfdoc_close(d);
}

static void test_thousand_pages_stream_in_bounded_memory(void)
{
    pdfdoc *d = open_ok(fx("big.pdf"));
    CHECK_EQ_INT(pdfdoc_page_count(d), 1200);
    size_t after10 = 0, cur, peak;
    for (int p = 0; p < 1200; p++) {
        char *t = page_text(d, p), want[64];
        snprintf(want, sizeof want, "Big document page %d", p + 1);
        CHECK_MSG(strstr(t, want) != NULL, "page %d: %s", p + 1, t);
        free(t);
        if (p == 9) pdfdoc_memory(d, &after10, NULL);
    }
    pdfdoc_memory(d, &cur, &peak);
    CHECK_MSG(cur <= after10 + (1 << 20), "memory grew from %zu to %zu", after10, cur);
    CHECK_MSG(peak < (32u << 20), "peak %zu", peak);
    pdfdoc_close(d);
}

typedef struct thread_arg {
    const char *path;
    char *texts[3];
    int errors;
} thread_arg;

static void *extract_all(void *p)
{
    thread_arg *a = p;
    for (int round = 0; round < 10; round++) {
        pdfdoc *d;
        if (pdfdoc_open(a->path, NULL, &d)) {
            a->errors++;
            continue;
        }
        for (int k = 0; k < pdfdoc_page_count(d) && k < 3; k++) {
            pdfdoc_page pg;
            if (pdfdoc_page_extract(d, k, &(pdfdoc_page_opts){.figures = 1}, &pg)) {
                a->errors++;
                continue;
            }
            if (!a->texts[k]) a->texts[k] = strdup(pg.text);
            else if (strcmp(a->texts[k], pg.text)) a->errors++;
            pdfdoc_page_free(&pg);
        }
        pdfdoc_close(d);
    }
    return NULL;
}

static void test_threads_have_their_own_contexts(void)
{
    thread_arg a[4] = {{fx("text.pdf"), {0}, 0}, {fx("text.pdf"), {0}, 0},
                       {fx("figures.pdf"), {0}, 0}, {fx("figures.pdf"), {0}, 0}};
    pthread_t th[4];
    for (int k = 0; k < 4; k++) CHECK(pthread_create(&th[k], NULL, extract_all, &a[k]) == 0);
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 4; k++) CHECK_EQ_INT(a[k].errors, 0);
    for (int p = 0; p < 3; p++) CHECK(!strcmp(a[0].texts[p], a[1].texts[p]));
    for (int k = 0; k < 4; k++)
        for (int p = 0; p < 3; p++) free(a[k].texts[p]);
}

/* ------------------------------------------------ real PDFs (shared data) */

#define SHARED_PDF(name) TEST_SHARED "/pdfs/" name

static void test_real_dotguide(void)
{
    if (!test_path_exists(SHARED_PDF("graphviz_dotguide.pdf"))) SKIP("../shared/data is absent");
    pdfdoc *d = open_ok(SHARED_PDF("graphviz_dotguide.pdf"));
    CHECK_EQ_INT(pdfdoc_page_count(d), 40);
    /* Page 1 as it reads when rendered: title, authors, date, and lines
     * hyphenated "pro-/gram" and "struc-/tures". */
    char *t = page_text(d, 0);
    CHECK(strstr(t, "Drawing graphs with dot") && strstr(t, "Emden R. Gansner"));
    CHECK(strstr(t, "January 5, 2015") && strstr(t, "command line program"));
    CHECK(strstr(t, "data structures") && strstr(t, "stream-oriented"));
    free(t);
    t = page_text(d, 39);
    CHECK(strstr(t, "dot User") && strstr(t, "40"));
    free(t);
    pdfdoc_close(d);
}

static void test_real_smyrna_figures(void)
{
    if (!test_path_exists(SHARED_PDF("graphviz_smyrna.pdf"))) SKIP("../shared/data is absent");
    /* Its raw objects hold 21 image XObjects with 20 soft masks: 12
     * screenshots of 202-950 px (the 900x722 one placed on pages 5 and 9)
     * and 9 icons of 32x32 px, below the default minimum. */
    pdfdoc *d = open_ok(SHARED_PDF("graphviz_smyrna.pdf"));
    CHECK_EQ_INT(pdfdoc_page_count(d), 25);
    int total = 0, on5 = 0, failed = 0;
    pdfdoc_page_opts o = {.figures = 1, .max_figure_side = 128};
    for (int p = 0; p < 25; p++) {
        pdfdoc_page pg;
        CHECK_OK(pdfdoc_page_extract(d, p, &o, &pg));
        total += pg.n_figures;
        failed += pg.n_figures_failed;
        if (p == 4) on5 = pg.n_figures && pg.figures[0].src_width == 900;
        pdfdoc_page_free(&pg);
    }
    CHECK_EQ_INT(total, 13);
    CHECK_EQ_INT(failed, 0);
    CHECK(on5);
    pdfdoc_close(d);
}

static void test_real_cad_has_no_false_figures(void)
{
    if (!test_path_exists(SHARED_PDF("CAD.pdf"))) SKIP("../shared/data is absent");
    /* Its only raster is a Type 3 font glyph (an image mask): not a figure. */
    pdfdoc *d = open_ok(SHARED_PDF("CAD.pdf"));
    CHECK_EQ_INT(pdfdoc_page_count(d), 7);
    for (int p = 0; p < 7; p++) {
        pdfdoc_page pg;
        CHECK_OK(pdfdoc_page_extract(d, p, &(pdfdoc_page_opts){.figures = 1, .min_figure_px = 1, .min_figure_pt = 0.1f}, &pg));
        CHECK_EQ_INT(pg.n_figures, 0);
        pdfdoc_page_free(&pg);
    }
    pdfdoc_close(d);
}

static void test_real_octave_sampled(void)
{
    if (!test_path_exists(SHARED_PDF("octave.pdf"))) SKIP("../shared/data is absent");
    pdfdoc *d = open_ok(SHARED_PDF("octave.pdf"));
    CHECK_EQ_INT(pdfdoc_page_count(d), 1158);
    /* Page 500 (printed 484) as rendered: uitoolbar properties, and "par-/
     * ent" joined. */
    char *t = page_text(d, 499);
    CHECK(strstr(t, "uitoolbar") && strstr(t, "pickableparts") && strstr(t, "484"));
    CHECK_MSG(strstr(t, "its parent") != NULL, "%s", t);
    free(t);
    size_t after = 0, cur, peak;
    for (int p = 0; p < 1158; p += 23) {
        pdfdoc_page pg;
        CHECK_OK(pdfdoc_page_extract(d, p, &(pdfdoc_page_opts){.figures = 1, .max_figure_side = 64}, &pg));
        pdfdoc_page_free(&pg);
        if (p == 23) pdfdoc_memory(d, &after, NULL);
    }
    pdfdoc_memory(d, &cur, &peak);
    CHECK_MSG(peak < (64u << 20), "peak %zu", peak);
    CHECK_MSG(cur < after + (8u << 20), "memory grew from %zu to %zu", after, cur);
    pdfdoc_close(d);
}

int main(void)
{
    if (make_fixtures()) {
        printf("not ok - make_fixtures: %s\n", iris_errmsg());
        return 1;
    }
    RUN(test_text_pages_title_and_hyphens);
    RUN(test_reading_order_columns);
    RUN(test_chinese_text);
    RUN(test_figures_colour_spaces_and_masks);
    RUN(test_scanned_page);
    RUN(test_render);
    RUN(test_encryption);
    RUN(test_bad_files);
    RUN(test_thousand_pages_stream_in_bounded_memory);
    RUN(test_threads_have_their_own_contexts);
    RUN(test_real_dotguide);
    RUN(test_real_smyrna_figures);
    RUN(test_real_cad_has_no_false_figures);
    RUN(test_real_octave_sampled);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
