/*
 * npy.h - reads the NumPy .npy files the reference goldens are stored in
 * (tools/reference/make_goldens.py): version 1/2 headers, little-endian
 * float32 or float16, C order. Enough for goldens, no more.
 */
#ifndef IRIS_TEST_NPY_H
#define IRIS_TEST_NPY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip/kernels.h"

typedef struct npy_array {
    int ndim;
    int64_t shape[8];
    int64_t n;   /* element count */
    float *f;    /* the data (float16 converted) */
} npy_array;

static inline void npy_free(npy_array *a)
{
    free(a->f);
    memset(a, 0, sizeof *a);
}

/* Returns 0 on success, -1 (with a message on stderr) otherwise. */
static inline int npy_load(const char *path, npy_array *a)
{
    memset(a, 0, sizeof *a);
    size_t len = 0;
    unsigned char *buf = (unsigned char *)test_read_file(path, &len);
    if (!buf || len < 12 || memcmp(buf, "\x93NUMPY", 6)) {
        fprintf(stderr, "npy: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    size_t hlen = buf[6] == 1 ? (size_t)(buf[8] | buf[9] << 8) : (size_t)(buf[8] | buf[9] << 8 | buf[10] << 16);
    size_t off = (buf[6] == 1 ? 10 : 12) + hlen;
    if (off > len) {
        fprintf(stderr, "npy: %s is truncated\n", path);
        free(buf);
        return -1;
    }
    char header[1024] = {0};
    memcpy(header, buf + off - hlen, hlen < sizeof header - 1 ? hlen : sizeof header - 1);
    const char *descr = strstr(header, "'descr': '"), *shape = strstr(header, "'shape': (");
    if (!descr || !shape || strstr(header, "'fortran_order': True")) {
        fprintf(stderr, "npy: unsupported header in %s\n", path);
        free(buf);
        return -1;
    }
    descr += 10;
    a->n = 1;
    for (const char *p = shape + 10; *p && *p != ')' && a->ndim < 8;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) break;
        a->shape[a->ndim++] = v;
        a->n *= v;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    int size = descr[2] - '0';
    if (size < 1 || off + (size_t)a->n * size > len) {
        fprintf(stderr, "npy: %s is truncated\n", path);
        free(buf);
        return -1;
    }
    if (descr[0] != '<' || descr[1] != 'f' || (size != 2 && size != 4)) {
        fprintf(stderr, "npy: %s holds %.3s, not float16/float32\n", path, descr);
        free(buf);
        return -1;
    }
    const unsigned char *d = buf + off;
    a->f = malloc(sizeof(float) * (a->n ? a->n : 1));
    for (int64_t k = 0; k < a->n; k++) {
        if (size == 4) memcpy(&a->f[k], d + 4 * k, 4);
        else a->f[k] = clip_f16_to_f32((uint16_t)(d[2 * k] | d[2 * k + 1] << 8));
    }
    free(buf);
    return 0;
}

#endif
