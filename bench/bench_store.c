/*
 * bench_store.c - store throughput: item inserts (text + FTS row + 512-d
 * f32 vector) in batches, BM25 query latency, and a full vector walk.
 *
 *   make bench && build/bench/bench_store [N_ITEMS] [DIR]
 *
 * Synthetic text: 60 words per item drawn from a 5000-word vocabulary with
 * a Zipf(1) distribution (seeded), so common and rare terms behave like
 * real text. Queries pick words from the middle of the frequency range.
 */
#include "store/store.h"

#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORDS 60
#define DIM 512
#define BATCH 256

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Process CPU seconds: the machine is shared, wall time includes waiting. */
static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int on_vec(void *user, int64_t item, int64_t content, int modality, const float *v, int dim)
{
    (void)item, (void)content, (void)modality;
    double *sum = user;
    for (int k = 0; k < dim; k++) *sum += v[k];
    return 0;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, iris_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    const char *dir = argc > 2 ? argv[2] : "/tmp/iris_bench_store";
    char path[512];
    if (synth_start(dir, path, sizeof path)) return 1;
    store *st;
    if (store_open(path, NULL, &st)) return fail("open");
    int64_t mid;
    if (store_model_ensure(st, "bench", "bench", DIM, NULL, &mid)) return fail("model");
    float *vec = malloc(DIM * sizeof *vec);
    char text[WORDS * 12], w[16];
    double t0 = now(), c0 = cpu();
    for (int i = 0; i < n; i++) {
        if (i % BATCH == 0 && store_begin(st)) return fail("begin");
        char p[64], sha[65];
        snprintf(p, sizeof p, "/bench/file%07d.txt", i);
        snprintf(sha, sizeof sha, "%064x", i);
        store_put f = {p, 1000, i, sha, STORE_KIND_TEXT};
        store_put_result r;
        if (store_file_put(st, &f, &r)) return fail("put");
        text[0] = '\0';
        for (int k = 0; k < WORDS; k++) {
            word(zipf_word(), w);
            strcat(text, w);
            strcat(text, " ");
        }
        for (int k = 0; k < DIM; k++) vec[k] = (float)((double)rand() / RAND_MAX) - 0.5f;
        store_item it = {STORE_TEXT_CHUNK, 0, 0, 0, {0}, 0, (int64_t)strlen(text), text};
        if (store_item_add(st, r.content.id, &it, mid, vec, DIM, NULL)) return fail("add");
        if (store_content_done(st, r.content.id)) return fail("done");
        if ((i % BATCH == BATCH - 1 || i == n - 1) && store_commit(st)) return fail("commit");
    }
    double t_ins = now() - t0, c_ins = cpu() - c0;
    store_stats s;
    store_get_stats(st, &s);
    printf("items %d: insert %.2f s wall, %.2f s CPU = %.0f items/s by CPU (file + item + 512-d "
           "vector + FTS, batches of %d); db %.1f MiB\n",
           n, t_ins, c_ins, n / c_ins, BATCH, s.db_bytes / 1048576.0);
    /* Query latency: 50 two-word OR queries and 50 one-word queries. */
    for (int terms = 1; terms <= 2; terms++) {
        double tq = 0;
        int hits_total = 0;
        for (int q = 0; q < 50; q++) {
            char query[64] = "", a[16];
            for (int t = 0; t < terms; t++) {
                word(100 + (q * 37 + t * 11) % 900, a);
                strcat(query, a);
                strcat(query, " ");
            }
            store_hit *h;
            int nh;
            double q0 = cpu();
            if (store_fts_search(st, query, NULL, &h, &nh)) return fail("search");
            tq += cpu() - q0;
            hits_total += nh;
            store_hits_free(h, nh);
        }
        printf("bm25 %d-term query (top 50, snippets): %.2f ms CPU mean over 50 queries (%d hits)\n",
               terms, tq / 50 * 1e3, hits_total);
    }
    double sum = 0, tv = cpu();
    if (store_vectors_each(st, mid, on_vec, &sum)) return fail("vectors");
    tv = cpu() - tv;
    printf("vector walk: %.3f s CPU for %d vectors = %.0f vectors/s (checksum %.3f)\n", tv, n,
           n / tv, sum);
    store_close(st);
    free(vec);
    return 0;
}
