/*
 * clip_bench.c - speed of the C CLIP encoders on one model: load time,
 * images/s per batch size, text queries/s per query length, RSS.
 *
 *   build/bench/clip_bench MODEL [--threads N] [--batches 1,32]
 *                          [--text-lens 8,20] [--seconds S] [--profile 1] [--bf16 1]
 *
 * --profile 1 adds, after each measurement, where its process CPU time went:
 * one JSON line per stage of the forward pass (forward.h: clip_stage) with
 * milliseconds and GFLOP per image (or query) and the GFLOP/s achieved,
 * summed over every timed call. Use it with --threads 1: CPU time is then
 * exactly the work, and GFLOP/s compare directly with peak_bench's per-core
 * peak. (The marks cost a clock read each, ~1% of a text query.)
 * --bf16 1 loads the model with iris_model_opts.bf16 (image linears in bf16
 * on AMX where present); the first line says whether AMX was available.
 *
 * Prints one JSON object per line, so tools/bench_reference.py can run it
 * side by side with the transformers reference on the same weights (that
 * script is the way to produce the BENCHMARKS.md tables). Inputs are
 * random: pixels N(0, 1) and token ids below the end token, ending in it,
 * encoded through the same path iris_encode_texts uses after tokenising.
 * Each figure is the median over repetitions (at least 3, and at least
 * --seconds of work), which is robust to a shared machine's noise; both
 * wall time and process CPU time are reported (with one thread, CPU time
 * is what a call costs even while other processes hold the cores).
 */
#include "clip/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

/* VmRSS and VmHWM of this process in MiB. */
static void rss_mib(double *rss, double *peak)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *rss = *peak = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6)) *rss = atof(line + 6) / 1024.0;
        if (!strncmp(line, "VmHWM:", 6)) *peak = atof(line + 6) / 1024.0;
    }
    if (f) fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef int (*bench_fn)(void *ctx);

/* Median wall and CPU seconds per call of fn: one warm-up call, then at
 * least 3 calls and `seconds` of work (at most 200 calls). *calls gets the
 * number of calls made, the warm-up included (a profile counts them all). */
static int median_time(bench_fn fn, void *ctx, double seconds, double *wall, double *cpu,
                       int *calls)
{
    double t[200], c[200];
    int n = 0;
    if (fn(ctx)) return -1;
    for (double start = now(); n < 200 && (n < 3 || now() - start < seconds); n++) {
        double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (fn(ctx)) return -1;
        t[n] = now() - t0;
        c[n] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    qsort(c, (size_t)n, sizeof c[0], cmp_double);
    *wall = t[n / 2];
    *cpu = c[n / 2];
    *calls = n + 1;
    return 0;
}

typedef struct image_job {
    const iris_model *m;
    const clip_run *run;
    const float *pixels;
    float *out;
    int n;
} image_job;

static int run_images(void *ctx)
{
    image_job *j = ctx;
    return clip_vision_encode(j->m, j->run, j->pixels, j->n, j->out);
}

typedef struct text_job {
    const iris_model *m;
    const clip_run *run;
    const int32_t *ids;
    int len;
    float *out;
} text_job;

static int run_text(void *ctx)
{
    text_job *j = ctx;
    return clip_text_encode(j->m, j->run, &j->ids, &j->len, 1, j->out);
}

/* One line per stage of prof (per item: divided by items). */
static void print_profile(const char *what, const clip_prof *prof, double items)
{
    double total = 0;
    for (int i = 0; i < CLIP_ST_COUNT; i++) total += prof->sec[i];
    for (int i = 0; i < CLIP_ST_COUNT; i++) {
        if (prof->sec[i] <= 0) continue;
        printf("{\"profile\": \"%s\", \"stage\": \"%s\", \"ms_per_item\": %.4f, "
               "\"share\": %.4f, \"gflop_per_item\": %.5f, \"gflop_per_s\": %.1f}\n",
               what, clip_stage_names[i], prof->sec[i] * 1e3 / items, prof->sec[i] / total,
               prof->flop[i] / 1e9 / items, prof->flop[i] / 1e9 / prof->sec[i]);
    }
}

static unsigned rng = 1;
static float gauss(void) /* approximately N(0, 1): a sum of 12 uniforms */
{
    float s = 0;
    for (int i = 0; i < 12; i++) {
        rng = rng * 1664525u + 1013904223u;
        s += (float)(rng >> 8) / (float)(1u << 24);
    }
    return s - 6.0f;
}

static int fail(iris_model *m)
{
    fprintf(stderr, "clip_bench: %s\n", iris_errmsg());
    iris_model_free(m);
    return 1;
}

static int parse_list(const char *s, int *out, int cap)
{
    int n = 0;
    while (s && *s && n < cap) {
        out[n++] = atoi(s);
        s = strchr(s, ',');
        if (s) s++;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s MODEL [--threads N] [--batches 1,32] [--text-lens 8,20] "
                        "[--seconds S]\n", argv[0]);
        return 2;
    }
    int threads = 2, batches[8] = {1, 32}, n_batches = 2, lens[8] = {8, 20}, n_lens = 2;
    double seconds = 3.0;
    int profile = 0, bf16 = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batches")) n_batches = parse_list(argv[i + 1], batches, 8);
        else if (!strcmp(argv[i], "--text-lens")) n_lens = parse_list(argv[i + 1], lens, 8);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--profile")) profile = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--bf16")) bf16 = atoi(argv[i + 1]);
    }
    double t0 = now();
    iris_model *m = NULL;
    iris_model_opts opts = {.n_threads = threads, .bf16 = bf16};
    if (iris_model_load(argv[1], &opts, &m)) {
        fprintf(stderr, "clip_bench: %s\n", iris_errmsg());
        return 1;
    }
    double load_ms = (now() - t0) * 1e3, rss, peak;
    rss_mib(&rss, &peak);
    iris_model_info info;
    iris_model_get_info(m, &info);
    printf("{\"model\": \"%s\", \"dtype\": \"%s\", \"format\": \"%s\", \"isa\": \"%s\", "
           "\"threads\": %d, \"bf16\": %d, \"amx\": %d, \"load_ms\": %.2f, "
           "\"rss_after_load_mib\": %.1f}\n",
           argv[1], info.dtype, info.format, clip_isa_name(clip_isa_best()), threads, bf16,
           clip_amx_available(), load_ms, rss);

    clip_run run = clip_run_default(m); /* the model's pool of `threads` workers */
    clip_prof prof;
    run.prof = profile ? &prof : NULL;
    int P = m->cfg.proj_dim, S = m->cfg.image_size, most = 1;
    for (int b = 0; b < n_batches; b++) most = batches[b] > most ? batches[b] : most;
    size_t img = 3 * (size_t)S * S;
    float *pixels = malloc(sizeof(float) * img * most), *out = malloc(sizeof(float) * P * most);
    for (size_t i = 0; i < img * most; i++) pixels[i] = gauss();
    for (int b = 0; b < n_batches; b++) {
        image_job j = {m, &run, pixels, out, batches[b]};
        double t, c;
        int calls;
        memset(&prof, 0, sizeof prof);
        if (median_time(run_images, &j, seconds, &t, &c, &calls)) return fail(m);
        rss_mib(&rss, &peak);
        printf("{\"bench\": \"images\", \"batch\": %d, \"seconds\": %.5f, \"per_s\": %.2f, "
               "\"per_cpu_s\": %.2f, \"peak_rss_mib\": %.1f}\n",
               batches[b], t, batches[b] / t, batches[b] / c, peak);
        if (profile) print_profile("images", &prof, (double)calls * batches[b]);
        fflush(stdout);
    }
    int32_t ids[4096];
    for (int l = 0; l < n_lens; l++) {
        int len = lens[l] < 2 ? 2 : lens[l] > m->cfg.context_length ? m->cfg.context_length : lens[l];
        ids[0] = m->cfg.bos_id;
        for (int i = 1; i < len - 1; i++) ids[i] = (int32_t)((1000 + i * 7919) % m->cfg.eos_id);
        ids[len - 1] = m->cfg.eos_id;
        text_job j = {m, &run, ids, len, out};
        double t, c;
        int calls;
        memset(&prof, 0, sizeof prof);
        if (median_time(run_text, &j, seconds, &t, &c, &calls)) return fail(m);
        rss_mib(&rss, &peak);
        printf("{\"bench\": \"text\", \"tokens\": %d, \"seconds\": %.6f, \"per_s\": %.2f, "
               "\"per_cpu_s\": %.2f, \"peak_rss_mib\": %.1f}\n", len, t, 1.0 / t, 1.0 / c, peak);
        if (profile) print_profile("text", &prof, calls);
        fflush(stdout);
    }
    free(pixels);
    free(out);
    iris_model_free(m);
    return 0;
}
