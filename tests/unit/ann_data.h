/*
 * ann_data.h - seeded vector sets shared by the index tests and
 * bench/ann_bench, so a recall threshold in a test is the number the
 * benchmark measured on exactly the same data.
 *
 *   random:    unit vectors uniform on the sphere (the hardest case for a
 *              graph index: no structure, neighbours barely closer than
 *              strangers);
 *   clustered: a Gaussian mixture, normalise(centre + sigma * noise), with
 *              `clusters` random unit centres (like embeddings of a photo
 *              collection: many near-duplicates and themes).
 * Queries are drawn from the same distribution with another seed. The
 * generator is splitmix64 + Box-Muller in double precision, identical in C
 * and C++ and on every platform.
 */
#ifndef IRIS_TEST_ANN_DATA_H
#define IRIS_TEST_ANN_DATA_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct ann_rng {
    uint64_t s;
} ann_rng;

static inline uint64_t ann_rng_next(ann_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double ann_rng_uniform(ann_rng *r) /* (0, 1) */
{
    return ((double)(ann_rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static inline double ann_rng_gauss(ann_rng *r)
{
    double u = ann_rng_uniform(r), v = ann_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static inline void ann_normalise(float *v, int dim)
{
    double s = 0;
    for (int d = 0; d < dim; d++) s += (double)v[d] * v[d];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int d = 0; d < dim; d++) v[d] *= inv;
}

/* n unit vectors; clusters == 0 means uniform random. sigma is the noise
 * per dimension relative to a unit centre. */
static inline void ann_data_fill(float *out, size_t n, int dim, int clusters, double sigma,
                                 uint64_t seed)
{
    ann_rng r = {seed};
    float *centres = NULL;
    if (clusters > 0) {
        ann_rng cr = {0xc0ffee ^ (uint64_t)clusters}; /* centres fixed per cluster count */
        centres = (float *)malloc((size_t)clusters * (size_t)dim * sizeof(float));
        for (size_t i = 0; i < (size_t)clusters * (size_t)dim; i++) centres[i] = (float)ann_rng_gauss(&cr);
        for (int c = 0; c < clusters; c++) ann_normalise(centres + (size_t)c * (size_t)dim, dim);
    }
    for (size_t i = 0; i < n; i++) {
        float *v = out + i * (size_t)dim;
        if (centres) {
            const float *c = centres + (ann_rng_next(&r) % (uint64_t)clusters) * (size_t)dim;
            for (int d = 0; d < dim; d++) v[d] = c[d] + (float)(sigma * ann_rng_gauss(&r));
        } else {
            for (int d = 0; d < dim; d++) v[d] = (float)ann_rng_gauss(&r);
        }
        ann_normalise(v, dim);
    }
    free(centres);
}

/* Reference top-k by brute force in double precision over rows whose
 * admit[] is non-zero (admit NULL = all): out_rows receives row numbers,
 * best first; returns how many (min(k, admitted)). */
static inline int ann_data_topk(const float *base, size_t n, int dim, const float *q, int k,
                                const unsigned char *admit, uint32_t *out_rows, double *out_sims)
{
    int m = 0;
    for (size_t r = 0; r < n; r++) {
        if (admit && !admit[r]) continue;
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)q[d] * base[r * (size_t)dim + d];
        int i = m < k ? m++ : k;
        if (i == k && !(s > out_sims[k - 1])) continue;
        if (i == k) i = k - 1;
        while (i > 0 && s > out_sims[i - 1]) {
            out_sims[i] = out_sims[i - 1];
            out_rows[i] = out_rows[i - 1];
            i--;
        }
        out_sims[i] = s;
        out_rows[i] = (uint32_t)r;
    }
    return m;
}

#endif
