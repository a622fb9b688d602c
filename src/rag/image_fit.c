/*
 * image_fit.c - makes an image small enough to send to a model: decode
 * (any format the media module reads, EXIF orientation applied), downscale
 * so the longer side is at most max_side and encode as baseline JPEG
 * (media's iris_image_fit and iris_image_encode_jpeg: Pillow-exact bicubic,
 * libjpeg into memory) until it fits max_bytes.
 *
 * Encoding starts at quality 85, steps down to 55, then shrinks the image by
 * a quarter and starts again: for photos that order keeps detail a model
 * can use (text in the image) better than crushing the quality first. JPEG
 * decoding uses DCT scaling (min_side = max_side / 2) so a 24-megapixel
 * photo is not decoded at full size only to be thrown away.
 */
#include "rag/prompt.h"

#include "util/error.h"

#include <stdlib.h>

#define FIT_MIN_SIDE 64 /* smaller than this is of no use to a model */

/* Downscales and encodes img until the JPEG fits (see the file comment). */
static int fit_pixels(const iris_image *img, int max_side, size_t max_bytes, unsigned char **out,
                      size_t *out_len)
{
    int rc = IRIS_OK;
    for (int side = max_side, quality = 85; !rc; ) {
        iris_image small = {0};
        rc = iris_image_fit(img, side, &small);
        if (!rc) rc = iris_image_encode_jpeg(&small, quality, out, out_len);
        iris_image_free(&small);
        if (rc || *out_len <= max_bytes) break;
        free(*out);
        *out = NULL;
        if (quality > 55) {
            quality -= 15;
        } else if (side * 3 / 4 >= FIT_MIN_SIDE) {
            side = side * 3 / 4;
            quality = 85;
        } else {
            rc = iris_fail(IRIS_ELIMIT, "image fit: no JPEG of this image fits %zu bytes",
                           max_bytes);
        }
    }
    if (rc) {
        free(*out);
        *out = NULL;
        *out_len = 0;
    }
    return rc;
}

static int check_fit_args(int max_side, size_t max_bytes)
{
    if (max_side < FIT_MIN_SIDE || !max_bytes)
        return iris_fail(IRIS_EARG, "image fit: max side %d or byte cap %zu too small", max_side,
                         max_bytes);
    return IRIS_OK;
}

int iris_rag_image_fit_pixels(const iris_image *img, int max_side, size_t max_bytes,
                              unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int rc = check_fit_args(max_side, max_bytes);
    if (!rc && (!img || !img->rgb || img->width <= 0 || img->height <= 0))
        rc = iris_fail(IRIS_EARG, "image fit: no pixels");
    return rc ? rc : fit_pixels(img, max_side, max_bytes, out, out_len);
}

int iris_rag_image_fit(const unsigned char *in, size_t in_len, int max_side, size_t max_bytes,
                       unsigned char **out, size_t *out_len, void *user)
{
    *out = NULL;
    *out_len = 0;
    int rc = check_fit_args(max_side, max_bytes);
    if (rc) return rc;
    iris_image img = {0};
    iris_decode_opts d = {.min_side = max_side / 2};
    rc = iris_image_decode(in, in_len, &d, &img);
    if (rc) return rc;
    rc = fit_pixels(&img, max_side, max_bytes, out, out_len);
    iris_image_free(&img);
    return rc;
}
