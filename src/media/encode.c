/*
 * encode.c - the way back out of the media module: resize a decoded image
 * and encode it as JPEG (thumbnails for the web UI, images sent to models).
 *
 * Resizing is the Pillow-exact antialiased bicubic of preprocess.c, so a
 * thumbnail looks like what CLIP saw. Fitting keeps the aspect ratio and
 * never enlarges: a 100 x 50 image asked to fit 256 comes back unchanged.
 *
 * JPEG goes through libjpeg(-turbo) into memory (jpeg_mem_dest), baseline,
 * 4:2:0, optimised Huffman tables (a few per cent smaller for a little
 * more time, and thumbnails are encoded once and cached). libjpeg reports
 * errors by calling error_exit, which by default exits the process; here it
 * longjmps back so a failure is a status like everywhere else.
 */
#include "media/preprocess.h"

#include "util/error.h"

#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

static int check_image(const iris_image *img, const char *fn)
{
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return iris_fail(IRIS_EARG, "%s: no image (NULL or empty)", fn);
    return IRIS_OK;
}

int iris_image_resize(const iris_image *img, int width, int height, iris_image *out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_image_resize: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = check_image(img, "iris_image_resize");
    if (rc) return rc;
    if (width <= 0 || height <= 0 || width > 65535 || height > 65535)
        return iris_fail(IRIS_EARG, "iris_image_resize: %d x %d is not a valid size", width,
                         height);
    out->rgb = malloc((size_t)width * height * 3);
    if (!out->rgb) return iris_fail(IRIS_ENOMEM, "iris_image_resize: %d x %d", width, height);
    rc = media_resize_bicubic(img->rgb, img->width, img->height, out->rgb, width, height);
    if (rc) {
        iris_image_free(out);
        return rc;
    }
    out->width = width;
    out->height = height;
    return IRIS_OK;
}

int iris_image_fit(const iris_image *img, int max_side, iris_image *out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_image_fit: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = check_image(img, "iris_image_fit");
    if (rc) return rc;
    if (max_side <= 0) return iris_fail(IRIS_EARG, "iris_image_fit: max_side %d", max_side);
    int w = img->width, h = img->height;
    if (w > max_side || h > max_side) {
        /* The longer side becomes max_side; the other is rounded and kept
         * at least one pixel for extreme aspect ratios. */
        double s = (double)max_side / (w >= h ? w : h);
        int nw = w >= h ? max_side : (int)(w * s + 0.5);
        int nh = w >= h ? (int)(h * s + 0.5) : max_side;
        w = nw < 1 ? 1 : nw;
        h = nh < 1 ? 1 : nh;
        return iris_image_resize(img, w, h, out);
    }
    size_t n = (size_t)w * h * 3;
    out->rgb = malloc(n);
    if (!out->rgb) return iris_fail(IRIS_ENOMEM, "iris_image_fit: %d x %d", w, h);
    memcpy(out->rgb, img->rgb, n);
    out->width = w;
    out->height = h;
    return IRIS_OK;
}

typedef struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
} jpeg_fail;

static void on_jpeg_error(j_common_ptr cinfo)
{
    longjmp(((jpeg_fail *)cinfo->err)->jmp, 1);
}

int iris_image_encode_jpeg(const iris_image *img, int quality, unsigned char **out, size_t *size)
{
    if (!out || !size) return iris_fail(IRIS_EARG, "iris_image_encode_jpeg: out is NULL");
    *out = NULL;
    *size = 0;
    int rc = check_image(img, "iris_image_encode_jpeg");
    if (rc) return rc;
    if (quality < 1 || quality > 100)
        return iris_fail(IRIS_EARG, "iris_image_encode_jpeg: quality %d is not 1..100", quality);
    if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
        return iris_fail(IRIS_ELIMIT, "iris_image_encode_jpeg: %d x %d is over JPEG's %d",
                         img->width, img->height, (int)JPEG_MAX_DIMENSION);
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
        return iris_fail(IRIS_ENOMEM, "JPEG encoding of a %d x %d image failed", img->width,
                         img->height);
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &mem_len);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    c.optimize_coding = TRUE;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->rgb + (size_t)c.next_scanline * img->width * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = mem;
    *size = mem_len;
    return IRIS_OK;
}
