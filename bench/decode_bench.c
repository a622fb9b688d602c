/*
 * decode_bench.c - time to decode an image and preprocess it for CLIP
 * (benchmark, not a test). bench/decode_bench.py runs it beside Pillow and
 * Hugging Face in one run and prints the ratios; see BENCHMARKS.md.
 *
 *     build/bench/decode_bench [--repeat N] [--min-side M] [--size S] [--crop C] FILE...
 *
 * Each file is read into memory first (no disk in the timings), then
 * decoded with iris_image_decode (min_side M: JPEG DCT scaling, 0 = full
 * size) and preprocessed with media_preprocess (shortest side S, crop C,
 * CLIP's mean/std), N times. Prints, per file, the decoded size and the
 * median thread CPU time of each step (on a shared machine wall time
 * includes waiting for a core; CPU time does not), then a TOTAL line with
 * the sums of the medians in milliseconds.
 */
#include "iris.h"
#include "media/preprocess.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = len > 0 ? malloc((size_t)len) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = buf ? (size_t)len : 0;
    return buf;
}

typedef struct config {
    int repeat, min_side, size, crop;
} config;

/* Times one file; adds the medians to totals. Returns 0 or an iris status. */
static int bench_file(const config *cfg, const char *path, double totals[2])
{
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    size_t n;
    char *data = read_all(path, &n);
    if (!data) {
        fprintf(stderr, "decode_bench: cannot read %s\n", path);
        return IRIS_EIO;
    }
    float *out = malloc(sizeof *out * 3 * (size_t)cfg->crop * (size_t)cfg->crop);
    double *dec = malloc(sizeof *dec * (size_t)cfg->repeat);
    double *pre = malloc(sizeof *pre * (size_t)cfg->repeat);
    iris_decode_opts opts = {.min_side = cfg->min_side};
    iris_image img = {0};
    int rc = IRIS_OK;
    for (int r = 0; r < cfg->repeat && rc == IRIS_OK; r++) {
        iris_image_free(&img);
        double t0 = cpu_ms();
        rc = iris_image_decode(data, n, &opts, &img);
        double t1 = cpu_ms();
        if (rc == IRIS_OK)
            rc = media_preprocess(&img, cfg->size, cfg->crop, 1.0 / 255, mean, std, out);
        dec[r] = t1 - t0;
        pre[r] = cpu_ms() - t1;
    }
    if (rc == IRIS_OK) {
        double d = median(dec, cfg->repeat), p = median(pre, cfg->repeat);
        printf("%s %dx%d decode %.2f ms preprocess %.2f ms\n", path, img.width, img.height, d, p);
        totals[0] += d;
        totals[1] += p;
    } else {
        fprintf(stderr, "decode_bench: %s\n", iris_errmsg());
    }
    iris_image_free(&img);
    free(data);
    free(out);
    free(dec);
    free(pre);
    return rc;
}

int main(int argc, char **argv)
{
    config cfg = {.repeat = 5, .min_side = 0, .size = 224, .crop = 224};
    int i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--repeat")) cfg.repeat = v;
        else if (!strcmp(argv[i], "--min-side")) cfg.min_side = v;
        else if (!strcmp(argv[i], "--size")) cfg.size = v;
        else if (!strcmp(argv[i], "--crop")) cfg.crop = v;
        else break;
    }
    if (i >= argc || cfg.repeat < 1 || cfg.size < 1 || cfg.crop < 1) {
        fprintf(stderr, "usage: decode_bench [--repeat N] [--min-side M] [--size S] [--crop C] "
                        "FILE...\n");
        return 2;
    }
    double totals[2] = {0, 0};
    for (; i < argc; i++)
        if (bench_file(&cfg, argv[i], totals)) return 1;
    printf("TOTAL %.3f %.3f\n", totals[0], totals[1]);
    return 0;
}
