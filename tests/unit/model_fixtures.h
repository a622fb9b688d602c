/*
 * model_fixtures.h - helpers shared by the model-loader tests: scratch
 * folders, copies of the committed tiny models with one file replaced, and
 * reading tensor elements of any storage type as float.
 *
 * Fixtures live in tests/fixtures/models (tools/reference/make_test_models.py
 * and tools/convert_hf_to_gguf.py write them).
 */
#ifndef IRIS_TEST_MODEL_FIXTURES_H
#define IRIS_TEST_MODEL_FIXTURES_H

#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clip/model.h"

#define TINY_HF "tests/fixtures/models/tiny-hf"
#define TINY_HF_F16 "tests/fixtures/models/tiny-hf-f16"

static const char *const tiny_files[] = {"config.json", "preprocessor_config.json",
                                         "model.safetensors", "vocab.json", "merges.txt"};

/* A fresh scratch folder (mkdtemp, malloc'ed path); fx_drop removes it
 * and frees the path. */
static inline char *fx_tmpdir(void)
{
    char *path = strdup("/tmp/iris-model-test-XXXXXX");
    if (path && !mkdtemp(path)) {
        free(path);
        path = NULL;
    }
    return path;
}

static inline int fx_rm_entry(const char *p, const struct stat *s, int flag, struct FTW *f)
{
    (void)s, (void)flag, (void)f;
    return remove(p);
}

/* Removes a folder and everything in it. */
static inline void fx_rmtree(const char *dir)
{
    if (dir) nftw(dir, fx_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes a folder made by fx_tmpdir and frees its path. */
static inline void fx_drop(char *dir)
{
    fx_rmtree(dir);
    free(dir);
}

static inline int fx_write(const char *dir, const char *name, const void *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* Copies every file of the tiny model from src into dir except `skip`. */
static inline int fx_copy_model(const char *src, const char *dir, const char *skip)
{
    for (size_t i = 0; i < sizeof tiny_files / sizeof tiny_files[0]; i++) {
        if (skip && !strcmp(skip, tiny_files[i])) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", src, tiny_files[i]);
        size_t len;
        char *buf = test_read_file(p, &len);
        if (!buf) return -1;
        int rc = fx_write(dir, tiny_files[i], buf, len);
        free(buf);
        if (rc) return rc;
    }
    return 0;
}

static inline float fx_half(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15), e = (h >> 10) & 31, m = h & 1023;
    float v = e == 31 ? (m ? NAN : INFINITY)
                      : ldexpf((float)(e ? (m | 1024) : m), (e ? (int)e : 1) - 25);
    return sign ? -v : v;
}

/* Element i (row-major, PyTorch order) of t as float. */
static inline float fx_elem(const clip_tensor *t, int64_t i)
{
    const unsigned char *p = t->data;
    uint16_t h;
    uint32_t bits;
    float f;
    switch (t->type) {
    case CLIP_F32: memcpy(&f, p + 4 * i, 4); return f;
    case CLIP_F16: memcpy(&h, p + 2 * i, 2); return fx_half(h);
    case CLIP_BF16:
        memcpy(&h, p + 2 * i, 2);
        bits = (uint32_t)h << 16;
        memcpy(&f, &bits, 4);
        return f;
    case CLIP_Q8_0: {
        const unsigned char *b = p + (i / CLIP_Q8_0_BLOCK) * 34;
        memcpy(&h, b, 2);
        return fx_half(h) * (float)(int8_t)b[2 + i % CLIP_Q8_0_BLOCK];
    }
    }
    return NAN;
}

static inline double fx_sum(const clip_tensor *t)
{
    double s = 0;
    for (int64_t i = 0, n = clip_tensor_nelem(t); i < n; i++) s += fx_elem(t, i);
    return s;
}

#endif
