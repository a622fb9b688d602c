/*
 * synth.h - synthetic text for the benchmarks: words from a 5000-word
 * vocabulary drawn with a Zipf(1) distribution (seeded through rand()), so
 * common and rare terms behave like real text.
 */
#ifndef IRIS_BENCH_SYNTH_H
#define IRIS_BENCH_SYNTH_H

#include <stdio.h>
#include <stdlib.h>

#define VOCAB 5000

static double cdf[VOCAB];

static void zipf_init(void)
{
    for (int k = 0; k < VOCAB; k++) cdf[k] = (k ? cdf[k - 1] : 0) + 1.0 / (k + 1);
}

/* A word rank in [0, VOCAB), rank r drawn with weight 1/(r+1). */
static int zipf_word(void)
{
    double u = (double)rand() / RAND_MAX * cdf[VOCAB - 1];
    int lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The spelling of word rank w (at most 8 bytes + NUL). */
static void word(int w, char *out) { sprintf(out, "w%x%c", w * 2654435761u % 0xfffff, 'a' + w % 26); }

/* Starts a run: removes dir, writes dir/index.db to path, seeds the word
 * stream (rand() from 42). 0, or -1 when dir could not be removed. */
static int synth_start(const char *dir, char *path, size_t size)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return -1;
    snprintf(path, size, "%s/index.db", dir);
    zipf_init();
    srand(42);
    return 0;
}

#endif
