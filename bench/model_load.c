/*
 * model_load.c - how long iris_model_load takes and how much memory a
 * loaded model holds (benchmark, not a test).
 *
 *     build/bench/model_load MODEL [runs]
 *
 * Loads MODEL `runs` times (default 20) and prints the fastest and median
 * wall time and CPU time (on a shared machine the wall time includes waiting
 * for a core; the CPU time does not), then the process RSS right after a
 * load and after reading every weight once (what a first encode does: the
 * mapped pages become resident).
 * Weights are memory-mapped, so the first run after a cold cache measures
 * the disk; the later runs measure the loader.
 */
#include "clip/loader.h"
#include "iris.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_ms(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads one byte per page of every weight (the forward pass reads them all). */
static unsigned touch_all(const iris_model *m)
{
    static const char *const names[] = {"text_model.embeddings.token_embedding.weight",
                                        "vision_model.embeddings.patch_embedding.weight"};
    unsigned sum = 0;
    const unsigned char *lo = m->map, *hi = lo + m->map_size;
    for (const unsigned char *p = lo; p < hi; p += 4096) sum += *p;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        sum += clip_model_tensor(m, names[i]) != NULL;
    return sum;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [runs]\n", argv[0]);
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 20;
    if (runs < 1) runs = 1;
    double *t = calloc((size_t)runs, sizeof *t), *cpu = calloc((size_t)runs, sizeof *cpu);
    long rss0 = rss_kb(), rss_loaded = 0;
    iris_model *m = NULL;
    for (int i = 0; i < runs; i++) {
        double t0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (iris_model_load(argv[1], NULL, &m)) {
            fprintf(stderr, "load failed: %s\n", iris_errmsg());
            return 1;
        }
        t[i] = clock_ms(CLOCK_MONOTONIC) - t0;
        cpu[i] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        rss_loaded = rss_kb();
        if (i + 1 < runs) iris_model_free(m);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
    iris_model_info in;
    iris_model_get_info(m, &in);
    unsigned s = touch_all(m);
    printf("model %s (%s, %s), %d loads: wall min %.2f ms, median %.2f ms; CPU min %.2f ms, "
           "median %.2f ms\n",
           argv[1], in.format, in.dtype, runs, t[0], t[runs / 2], cpu[0], cpu[runs / 2]);
    printf("RSS: %.1f MB before, %.1f MB after load, %.1f MB with every weight paged in "
           "(checksum %u)\n",
           rss0 / 1024.0, rss_loaded / 1024.0, rss_kb() / 1024.0, s & 1);
    iris_model_free(m);
    free(t), free(cpu);
    return 0;
}
