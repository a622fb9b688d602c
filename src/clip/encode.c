/*
 * encode.c - the public encoders of iris.h: texts (tokenised, then the
 * text tower) and pixel tensors (the vision tower).
 *
 * Each call builds its own thread pool and scratch from the model's thread
 * count and frees them before returning: the model is never written, so any
 * number of threads may encode with one model at once. Texts are tokenised
 * and encoded TEXT_CHUNK at a time, so the id buffers stay small however
 * many texts a caller passes.
 */
#include "clip/forward.h"

#include "util/error.h"

#include <stdlib.h>

#define TEXT_CHUNK 256

int iris_encode_pixels(const iris_model *m, const float *pixels, int n, float *out)
{
    if (!m) return iris_fail(IRIS_EARG, "iris_encode_pixels: model is NULL");
    clip_run run = clip_run_default(m);
    return clip_vision_encode(m, &run, pixels, n, out);
}

int iris_encode_texts(const iris_model *m, const char *const *texts, int n, float *out)
{
    if (!m || n < 0 || (n > 0 && (!texts || !out)))
        return iris_fail(IRIS_EARG, "iris_encode_texts: invalid arguments (n = %d)", n);
    int ctx = m->cfg.context_length, chunk = n < TEXT_CHUNK ? n : TEXT_CHUNK;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)chunk * ctx + 1);
    const int32_t **rows = malloc(sizeof *rows * (size_t)chunk + 1);
    int *lens = malloc(sizeof(int) * (size_t)chunk + 1);
    int rc = IRIS_OK;
    if (!ids || !rows || !lens) rc = iris_fail(IRIS_ENOMEM, "out of memory for %d texts", chunk);
    clip_run run = clip_run_default(m);
    for (int i0 = 0; !rc && i0 < n; i0 += chunk) {
        int nb = n - i0 < chunk ? n - i0 : chunk;
        for (int i = 0; !rc && i < nb; i++) {
            rows[i] = ids + (size_t)i * ctx;
            if (!texts[i0 + i])
                rc = iris_fail(IRIS_EARG, "iris_encode_texts: text %d is NULL", i0 + i);
            else if ((rc = iris_tokenize(m, texts[i0 + i], ids + (size_t)i * ctx, ctx, &lens[i])))
                rc = iris_fail_wrap(rc, "text %d", i0 + i);
        }
        if (!rc) rc = clip_text_encode(m, &run, rows, lens, nb, out + (size_t)i0 * m->cfg.proj_dim);
    }
    free(ids);
    free(rows);
    free(lens);
    return rc;
}
