/*
 * decode_png.c - PNG through libpng, converted to RGB the way Pillow does.
 *
 * Pillow opens a PNG in a mode that follows its header and Hugging Face
 * then calls Image.convert("RGB"). What that means per layout (each one is
 * checked against Pillow by tests/py/test_preprocess_reference.py):
 *   grey 1/2/4/8-bit  -> value scaled to 8 bits (x 0xFF, 0x55, 0x11, 1),
 *                        replicated to R = G = B;
 *   grey 16-bit       -> mode "I;16": Pillow CLIPS to 255 (v > 255 -> 255),
 *                        it does not scale, so most 16-bit grey photos come
 *                        out white; we do the same, on purpose;
 *   grey+alpha, RGB, RGBA, 16-bit -> the high byte of each 16-bit sample
 *                        (libpng's strip_16, Pillow's ";16B" unpackers);
 *   alpha             -> dropped, never composited (RGB under transparent
 *                        pixels is kept as stored);
 *   palette           -> palette colours; tRNS is ignored; an index past
 *                        the palette's end is black, as in Pillow and libpng;
 *   gamma, iCCP, sRGB -> ignored (Pillow applies no colour management).
 *
 * Memory: non-interlaced images are read one row at a time straight into
 * the RGB result; interlaced ones need the whole image in libpng's layout
 * first (at most 4 bytes a pixel beside the 3 of the result).
 *
 * Errors: libpng's error callback longjmps back to the setjmp in png_run()
 * (or png_run_end()); all state that outlives a jump is in a png_job owned
 * by the caller. Benign errors (a palette index past the end, a bad iCCP
 * profile) are warnings, as Pillow also decodes such files. Chunks after
 * the image (eXIf can be there) are read in a second guarded step whose
 * failure keeps the complete image, like Pillow.
 */
#include "media/image.h"

#include "util/error.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { L_GRAY8, L_GRAY16, L_GA8, L_RGB8, L_RGBA8, L_PAL8 };

typedef struct png_job {
    media_ctx *ctx;
    const uint8_t *data;
    size_t size, pos;
    png_structp png;
    png_infop info;
    int status;     /* failure already reported with iris_fail() */
    char msg[256];  /* libpng's message after a jump */
    int layout;
    media_palette pal;
    uint8_t *native;   /* one row, or the whole interlaced image */
    png_bytep *rows;   /* row pointers into native (interlaced only) */
    iris_image img;
} png_job;

static void on_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void read_mem(png_structp png, png_bytep dst, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->size - job->pos) png_error(png, "file is truncated");
    memcpy(dst, job->data + job->pos, n);
    job->pos += n;
}

static void convert_row(const png_job *job, const uint8_t *in, uint8_t *out)
{
    int w = job->img.width;
    for (int x = 0; x < w; x++, out += 3) {
        switch (job->layout) {
        case L_GRAY8: out[0] = out[1] = out[2] = in[x]; break;
        case L_GRAY16: {
            unsigned v = (unsigned)in[2 * x] << 8 | in[2 * x + 1];
            out[0] = out[1] = out[2] = (uint8_t)(v > 255 ? 255 : v);
            break;
        }
        case L_GA8: out[0] = out[1] = out[2] = in[2 * x]; break;
        case L_RGB8: memcpy(out, in + 3 * x, 3); break;
        case L_RGBA8: memcpy(out, in + 4 * x, 3); break;
        default: memcpy(out, job->pal.rgb[in[x]], 3); break;
        }
    }
}

/* Asks libpng for 8-bit samples (16-bit grey excepted, see above), one
 * palette index per byte, no tRNS expansion; returns the row layout. */
static int set_transforms(png_structp png, png_infop info)
{
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (depth == 16 && type != PNG_COLOR_TYPE_GRAY) png_set_strip_16(png);
    if (depth < 8 && type == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
    if (depth < 8 && type == PNG_COLOR_TYPE_PALETTE) png_set_packing(png);
    switch (type) {
    case PNG_COLOR_TYPE_GRAY: return depth == 16 ? L_GRAY16 : L_GRAY8;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return L_GA8;
    case PNG_COLOR_TYPE_RGB: return L_RGB8;
    case PNG_COLOR_TYPE_RGB_ALPHA: return L_RGBA8;
    default: return L_PAL8;
    }
}

static void load_palette(png_job *job)
{
    png_colorp pal;
    int n = 0;
    memset(&job->pal, 0, sizeof job->pal);
    if (!png_get_PLTE(job->png, job->info, &pal, &n)) return;
    for (int i = 0; i < n && i < 256; i++) {
        job->pal.rgb[i][0] = pal[i].red;
        job->pal.rgb[i][1] = pal[i].green;
        job->pal.rgb[i][2] = pal[i].blue;
    }
}

static int read_pixels(png_job *job, int passes)
{
    size_t rowbytes = png_get_rowbytes(job->png, job->info), stride = (size_t)job->img.width * 3;
    int h = job->img.height;
    if (passes == 1) {
        if (!(job->native = malloc(rowbytes)))
            return job->status = iris_fail(IRIS_ENOMEM, "%s: no memory for a PNG row", job->ctx->name);
        for (int y = 0; y < h; y++) {
            png_read_row(job->png, job->native, NULL);
            convert_row(job, job->native, job->img.rgb + (size_t)y * stride);
        }
        return IRIS_OK;
    }
    job->native = malloc(rowbytes * (size_t)h);
    job->rows = malloc(sizeof *job->rows * (size_t)h);
    if (!job->native || !job->rows)
        return job->status = iris_fail(IRIS_ENOMEM, "%s: no memory for an interlaced PNG",
                                       job->ctx->name);
    for (int y = 0; y < h; y++) job->rows[y] = job->native + (size_t)y * rowbytes;
    png_read_image(job->png, job->rows);
    for (int y = 0; y < h; y++) convert_row(job, job->rows[y], job->img.rgb + (size_t)y * stride);
    return IRIS_OK;
}

static int png_run(png_job *job)
{
    if (setjmp(png_jmpbuf(job->png))) return IRIS_EFORMAT;
    png_set_read_fn(job->png, job, read_mem);
    png_set_benign_errors(job->png, 1);
    /* Our pixel limit is the guard; libpng's default 1e6 sides would not be. */
    png_set_user_limits(job->png, 0x7fffffffU, 0x7fffffffU);
    png_read_info(job->png, job->info);
    png_uint_32 w = png_get_image_width(job->png, job->info);
    png_uint_32 h = png_get_image_height(job->png, job->info);
    if ((job->status = media_check_size(job->ctx, w, h))) return job->status;
    job->layout = set_transforms(job->png, job->info);
    int passes = png_set_interlace_handling(job->png);
    png_read_update_info(job->png, job->info);
    load_palette(job);
    if ((job->status = media_image_alloc(job->ctx, w, h, &job->img))) return job->status;
    return read_pixels(job, passes);
}

/* Decodes Pillow's "Raw profile type exif" text (ImageMagick): three header
 * lines, then hex digits. Returns the orientation or -1. */
static int raw_profile_orientation(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    for (int nl = 0; nl < 3 && p < end; p++)
        if (*p == '\n') nl++;
    uint8_t *buf = malloc((size_t)(end - p) / 2 + 1);
    if (!buf) return -1;
    size_t n = 0;
    int hi = -1;
    for (; p < end; p++) {
        int c = (unsigned char)*p, v;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c >= '0' && c <= '9') v = c - '0';
        else if ((c | 32) >= 'a' && (c | 32) <= 'f') v = (c | 32) - 'a' + 10;
        else break;
        if (hi < 0) hi = v;
        else buf[n++] = (uint8_t)(hi << 4 | v), hi = -1;
    }
    int o = media_exif_orientation(buf, n);
    free(buf);
    return o;
}

/* Pillow's order: the eXIf chunk, else "Raw profile type exif"; XMP
 * (iTXt "XML:com.adobe.xmp") when neither has an orientation tag. */
static int png_orientation(png_structp png, png_infop info)
{
    png_bytep exif;
    png_uint_32 n = 0;
    png_textp text;
    int nt = 0, o = -1, xmp = -1, have_exif = png_get_eXIf_1(png, info, &n, &exif) != 0;
    if (have_exif) o = media_exif_orientation(exif, n);
    png_get_text(png, info, &text, &nt);
    for (int i = 0; i < nt; i++) {
        size_t len = text[i].compression > 0 ? text[i].itxt_length : text[i].text_length;
        if (!have_exif && o < 0 && !strcmp(text[i].key, "Raw profile type exif"))
            o = raw_profile_orientation(text[i].text, len);
        else if (!strcmp(text[i].key, "XML:com.adobe.xmp") && xmp < 0)
            xmp = media_xmp_orientation((const uint8_t *)text[i].text, len);
    }
    return o >= 0 ? o : xmp;
}

static void png_run_end(png_job *job)
{
    if (setjmp(png_jmpbuf(job->png))) return;
    png_read_end(job->png, job->info);
}

int media_decode_png(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out)
{
    png_job *job = calloc(1, sizeof *job);
    if (!job) return iris_fail(IRIS_ENOMEM, "%s: no memory for a PNG decoder", ctx->name);
    job->ctx = ctx, job->data = data, job->size = size;
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    job->info = job->png ? png_create_info_struct(job->png) : NULL;
    int rc;
    if (!job->info) {
        rc = iris_fail(IRIS_ENOMEM, "%s: no memory for a PNG decoder", ctx->name);
    } else if ((rc = png_run(job)) != IRIS_OK) {
        if (!job->status) iris_fail(rc, "%s: bad PNG: %s", ctx->name, job->msg);
    } else {
        png_run_end(job);
        ctx->orientation = png_orientation(job->png, job->info);
    }
    png_destroy_read_struct(&job->png, job->info ? &job->info : NULL, NULL);
    free(job->native);
    free(job->rows);
    if (rc) iris_image_free(&job->img);
    else *out = job->img;
    free(job);
    return rc;
}
