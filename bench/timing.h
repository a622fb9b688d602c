/*
 * timing.h - what the query benchmarks share: wall and process CPU clocks
 * (on a shared machine wall time includes waiting for a core, CPU time
 * does not), percentiles, and random unit vectors (seeded through rand()).
 */
#ifndef IRIS_BENCH_TIMING_H
#define IRIS_BENCH_TIMING_H

#include <math.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The p-quantile (0..1) of v[0..n), nearest rank; sorts v. */
static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)ceil(p * n) - 1;
    return v[i < 0 ? 0 : i];
}

static void random_unit(float *v, int dim)
{
    double s = 0;
    for (int k = 0; k < dim; k++) {
        v[k] = (float)((double)rand() / RAND_MAX - 0.5);
        s += (double)v[k] * v[k];
    }
    for (int k = 0; k < dim; k++) v[k] = (float)(v[k] / sqrt(s));
}

#endif
