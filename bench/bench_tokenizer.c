/*
 * bench_tokenizer.c - CLIP tokenizer speed: typical search queries (ns per
 * query, single thread) and hostile inputs (ms per call), in thread CPU
 * time. Run from the repository root: build/bench/bench_tokenizer [iterations]
 * Results are recorded in docs/tokenizer.md.
 */
#include "clip/tokenizer.h"
#include "iris.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Thread CPU time: the machine is shared, so wall time overstates. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *const queries[] = {
    "a photo of a cat", "red car parked on a street at night", "login page error message",
    "two cups of coffee on a wooden table", "screenshot of a settings menu",
    "diagram of the CLIP architecture", "a dog playing in the snow", "sunset over the mountains"};

static char *repeat(const char *unit, size_t total, size_t *len)
{
    size_t u = strlen(unit), n = total / u * u;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i += u) memcpy(s + i, unit, u);
    s[n] = '\0';
    *len = n;
    return s;
}

static void hostile(const clip_tokenizer *tok, const char *name, const char *unit, size_t total)
{
    size_t len;
    char *s = repeat(unit, total, &len);
    int32_t ids[77];
    int n;
    double t0 = now();
    clip_tokenize_n(tok, s, len, 77, ids, 77, &n);
    printf("  %-34s %8.2f ms  (%d ids)\n", name, (now() - t0) * 1e3, n);
    free(s);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 200000;
    clip_tokenizer *tok;
    double t0 = now();
    if (clip_tokenizer_load_hf("models/tiny-clip/vocab.json", "models/tiny-clip/merges.txt", &tok)) {
        fprintf(stderr, "%s\n", iris_errmsg());
        return 1;
    }
    printf("load vocab.json + merges.txt: %.1f ms\n", (now() - t0) * 1e3);
    int32_t ids[77];
    int n, total = 0;
    const int nq = sizeof queries / sizeof *queries;
    t0 = now();
    for (int i = 0; i < iters; i++) {
        clip_tokenize(tok, queries[i % nq], 77, ids, 77, &n);
        total += n;
    }
    double dt = now() - t0;
    printf("typical queries: %.0f ns per query (%.1f ids each, %d calls)\n", dt / iters * 1e9,
           (double)total / iters, iters);
    if (argc > 2) return 0; /* queries only (for profiling) */
    printf("hostile inputs:\n");
    hostile(tok, "10 MB of words", "a photo of a cat ", 10u << 20);
    hostile(tok, "10 MB of spaces", " ", 10u << 20);
    hostile(tok, "1 MB single word", "a", 1u << 20);
    hostile(tok, "1M emoji, no spaces", "\xF0\x9F\x98\x80", 4u << 20);
    hostile(tok, "1M emoji, spaced", "\xF0\x9F\x98\x80 ", 5u << 20);
    hostile(tok, "1M combining marks", "\xCC\x81", 2u << 20);
    hostile(tok, "1M nested &amp;", "&amp;", 5u << 20);
    hostile(tok, "10 MB removed control chars", "\x01", 10u << 20);
    clip_tokenizer_free(tok);
    return 0;
}
