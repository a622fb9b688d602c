/*
 * image_fit.c - makes an image small enough to send to a model: decode
 * (any format the media module reads, EXIF orientation applied), downscale
 * so the longer side is at most max_side (Pillow-exact bicubic from
 * src/media), and encode as baseline JPEG until it fits max_bytes.
 *
 * Encoding starts at quality 85, steps down to 55, then shrinks the image by
 * a quarter and starts again: for photos that order keeps detail a model
 * can use (text in the image) better than crushing the quality first. JPEG
 * decoding uses DCT scaling (min_side = max_side / 2) so a 24-megapixel
 * photo is not decoded at full size only to be thrown away.
 *
 * libjpeg reports errors by calling error_exit, which by default exits the
 * process; here it longjmps back so a failure is a status, as everywhere.
 */
#include "rag/prompt.h"

#include "media/preprocess.h"
#include "util/error.h"

#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#define FIT_MIN_SIDE 64 /* smaller than this is of no use to a model */

typedef struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
} jpeg_fail;

static void on_jpeg_error(j_common_ptr cinfo)
{
    longjmp(((jpeg_fail *)cinfo->err)->jmp, 1);
}

/* Encodes w x h RGB as JPEG into a malloc'ed buffer. */
static int encode_jpeg(const uint8_t *rgb, int w, int h, int quality, unsigned char **out,
                       size_t *out_len)
{
    struct jpeg_compress_struct c;
    memset(&c, 0, sizeof c);
    jpeg_fail fail;
    unsigned char *mem = NULL;
    unsigned long mem_len = 0;
    c.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = on_jpeg_error;
    if (setjmp(fail.jmp)) {
        jpeg_destroy_compress(&c);
        free(mem);
        return iris_fail(IRIS_ENOMEM, "JPEG encoding of a %dx%d image failed", w, h);
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &mem_len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * 3 * (size_t)w);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = mem;
    *out_len = mem_len;
    return IRIS_OK;
}

/* The image scaled so its longer side is at most side (never enlarged). */
static int scaled(const iris_image *img, int side, iris_image *out)
{
    int w = img->width, h = img->height, longer = w > h ? w : h;
    if (longer > side) {
        w = (int)((long long)w * side / longer);
        h = (int)((long long)h * side / longer);
        if (w < 1) w = 1;
        if (h < 1) h = 1;
    }
    out->width = w, out->height = h;
    out->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!out->rgb) return iris_fail(IRIS_ENOMEM, "no memory to scale an image to %dx%d", w, h);
    if (w == img->width && h == img->height) {
        memcpy(out->rgb, img->rgb, (size_t)w * (size_t)h * 3);
        return IRIS_OK;
    }
    int rc = media_resize_bicubic(img->rgb, img->width, img->height, out->rgb, w, h);
    if (rc) free(out->rgb);
    return rc;
}

/* Downscales and encodes img until the JPEG fits (see the file comment). */
static int fit_pixels(const iris_image *img, int max_side, size_t max_bytes, unsigned char **out,
                      size_t *out_len)
{
    int rc = IRIS_OK;
    for (int side = max_side, quality = 85; !rc; ) {
        iris_image small = {0};
        rc = scaled(img, side, &small);
        if (!rc) rc = encode_jpeg(small.rgb, small.width, small.height, quality, out, out_len);
        free(small.rgb);
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
