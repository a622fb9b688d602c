/*
 * encode.c - the public encoders of iris.h: texts (tokenised, then the
 * text tower), images (preprocessed by the media module exactly as the
 * reference processor does, then the vision tower) and pixel tensors.
 *
 * Each call runs on the model's thread pool (made at load) with scratch of
 * its own, freed before it returns: the model is never written, so any
 * number of threads may encode with one model at once. Inputs are handled
 * in chunks (TEXT_CHUNK texts, CLIP_MAX_CHUNK images), so the token and
 * pixel buffers stay small however many inputs a caller passes.
 */
#include "clip/forward.h"

#include "media/preprocess.h"
#include "util/error.h"

#include <stdlib.h>

#define TEXT_CHUNK 256

int iris_preprocess(const iris_model *m, const iris_image *image, float *out)
{
    if (!m || !image || !out) return iris_fail(IRIS_EARG, "iris_preprocess: NULL argument");
    const clip_config *c = &m->cfg;
    return media_preprocess(image, c->resize_shortest, c->crop_size, c->rescale, c->image_mean,
                            c->image_std, out);
}

typedef struct prep_job {
    const iris_model *m;
    const iris_image *images;
    float *pixels;
    size_t stride;
    int *rc;
} prep_job;

static void prep_task(void *ctx, int i, int worker)
{
    (void)worker;
    const prep_job *j = ctx;
    j->rc[i] = iris_preprocess(j->m, &j->images[i], j->pixels + (size_t)i * j->stride);
}

int iris_encode_images(const iris_model *m, const iris_image *images, int n, float *out)
{
    if (!m || n < 0 || (n > 0 && (!images || !out)))
        return iris_fail(IRIS_EARG, "iris_encode_images: invalid arguments (n = %d)", n);
    if (n == 0) return IRIS_OK;
    clip_run run = clip_run_default(m);
    int rc = IRIS_OK;
    int chunk = n < CLIP_MAX_CHUNK ? n : CLIP_MAX_CHUNK;
    size_t stride = 3 * (size_t)m->cfg.image_size * m->cfg.image_size;
    float *pixels = malloc(sizeof(float) * stride * chunk);
    int *status = malloc(sizeof(int) * chunk);
    if (!pixels || !status) rc = iris_fail(IRIS_ENOMEM, "out of memory for %d images", chunk);
    for (int i0 = 0; !rc && i0 < n; i0 += chunk) {
        int nb = n - i0 < chunk ? n - i0 : chunk;
        prep_job job = {m, images + i0, pixels, stride, status};
        iris_pool_run(run.pool, nb, prep_task, &job);
        /* a worker's message stays on its thread: redo the first failure here */
        for (int i = 0; !rc && i < nb; i++)
            if (status[i])
                rc = iris_fail_wrap(iris_preprocess(m, &images[i0 + i], pixels), "image %d", i0 + i);
        if (!rc) rc = clip_vision_encode(m, &run, pixels, nb, out + (size_t)i0 * m->cfg.proj_dim);
    }
    free(pixels);
    free(status);
    return rc;
}

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
