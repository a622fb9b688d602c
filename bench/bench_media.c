/*
 * bench_media.c - PDF extraction and OCR throughput.
 *
 *   make bench && OMP_THREAD_LIMIT=1 build/bench/bench_media PDF [OCR_PAGES]
 *
 * Reports, for every page of PDF: text extraction (pages/s), text plus
 * figures (decoded to <= 1024 px), and MuPDF's peak memory; then renders
 * OCR_PAGES pages (default 3, spread over the document) at 300 dpi and
 * OCRs them with one eng+chi_sim engine (s/page, after engine start-up,
 * which is reported apart), with the OCR's word recall against the page's
 * own text layer (the ground truth for a rendered page: lower-cased words
 * of 3+ letters or digits). Times are process CPU seconds and wall
 * seconds: the machine is shared, so wall time includes waiting for a core.
 */
#include "media/ocr.h"
#include "media/pdf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct clocks {
    double wall, cpu;
} clocks;

static clocks now(void)
{
    struct timespec w, c;
    clock_gettime(CLOCK_MONOTONIC, &w);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
    return (clocks){w.tv_sec + w.tv_nsec * 1e-9, c.tv_sec + c.tv_nsec * 1e-9};
}

static clocks since(clocks a)
{
    clocks b = now();
    return (clocks){b.wall - a.wall, b.cpu - a.cpu};
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_media: %s: %s\n", what, iris_errmsg());
    return 1;
}

#define MAX_WORDS 20000
static char words_a[MAX_WORDS][32], words_b[MAX_WORDS][32];

/* Lower-cased ASCII words of 3+ letters/digits (longer ones truncated). */
static int split_words(const char *t, char w[][32])
{
    int n = 0;
    for (const char *p = t; *p && n < MAX_WORDS;) {
        while (*p && !isalnum((unsigned char)*p)) p++;
        int k = 0;
        for (; isalnum((unsigned char)*p); p++)
            if (k < 31) w[n][k++] = (char)tolower((unsigned char)*p);
        w[n][k] = '\0';
        n += k >= 3;
    }
    return n;
}

/* Share of the text layer's words that the OCR text contains. */
static double recall(const char *truth, const char *ocr, int *n_truth)
{
    int na = split_words(truth, words_a), nb = split_words(ocr, words_b), hit = 0;
    for (int a = 0; a < na; a++)
        for (int b = 0; b < nb; b++)
            if (!strcmp(words_a[a], words_b[b])) {
                hit++;
                break;
            }
    *n_truth = na;
    return na ? (double)hit / na : 1;
}

/* Extracts every page; returns the number of figures found. */
static int pass(pdfdoc *d, int figures, clocks *t, size_t *chars)
{
    int n = pdfdoc_page_count(d), figs = 0;
    pdfdoc_page_opts o = {.figures = figures};
    clocks t0 = now();
    for (int p = 0; p < n; p++) {
        pdfdoc_page pg;
        if (pdfdoc_page_extract(d, p, &o, &pg)) continue;
        figs += pg.n_figures;
        *chars += pg.text_len;
        pdfdoc_page_free(&pg);
    }
    *t = since(t0);
    return figs;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_media PDF [OCR_PAGES]\n");
        return 2;
    }
    int ocr_pages = argc > 2 ? atoi(argv[2]) : 3;
    pdfdoc *d;
    if (pdfdoc_open(argv[1], NULL, &d)) return fail("open");
    int n = pdfdoc_page_count(d);
    size_t chars = 0, peak;
    clocks t;
    pass(d, 0, &t, &chars);
    printf("%s: %d pages, %zu bytes of text\n", argv[1], n, chars);
    printf("text only:      %.2f s wall, %.2f s CPU = %.0f pages/s (CPU)\n", t.wall, t.cpu, n / t.cpu);
    int figs = pass(d, 1, &t, &chars);
    pdfdoc_memory(d, NULL, &peak);
    printf("text + figures: %.2f s wall, %.2f s CPU = %.0f pages/s (CPU), %d figures; MuPDF peak %.1f MiB\n",
           t.wall, t.cpu, n / t.cpu, figs, peak / 1048576.0);
    if (ocr_pages > 0) {
        ocr_engine *e;
        clocks t0 = now();
        if (ocr_engine_new(NULL, NULL, &e)) return fail("ocr engine");
        t = since(t0);
        printf("OCR engine start (eng+chi_sim): %.2f s wall, %.2f s CPU\n", t.wall, t.cpu);
        for (int k = 0; k < ocr_pages; k++) {
            int p = (int)((k + 0.5) * n / ocr_pages);
            iris_image im;
            t0 = now();
            if (pdfdoc_render(d, p, 300, 0, &im, NULL)) return fail("render");
            clocks tr = since(t0);
            ocr_result r;
            t0 = now();
            if (ocr_image(e, &im, &(ocr_opts){.layout = OCR_PAGE, .dpi = 300}, &r)) return fail("ocr");
            t = since(t0);
            pdfdoc_page pg;
            if (pdfdoc_page_extract(d, p, NULL, &pg)) return fail("page text");
            int n_truth;
            double rec = recall(pg.text, r.text, &n_truth);
            printf("page %d: render 300 dpi %dx%d %.2f s CPU; OCR %.2f s wall, %.2f s CPU, %d words, "
                   "mean conf %.0f, recall %.1f%% of %d text-layer words\n",
                   p + 1, im.width, im.height, tr.cpu, t.wall, t.cpu, r.n_words, r.mean_conf,
                   100 * rec, n_truth);
            pdfdoc_page_free(&pg);
            ocr_result_free(&r);
            free(im.rgb);
        }
        ocr_engine_free(e);
    }
    pdfdoc_close(d);
    return 0;
}
