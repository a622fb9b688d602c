/*
 * decode_jpeg.c - JPEG through libjpeg-turbo, with DCT-domain downscaling.
 *
 * Matching Pillow: Pillow's JPEG decoder keeps libjpeg's defaults (accurate
 * integer IDCT, fancy upsampling, block smoothing), so do we; with the same
 * settings libjpeg-turbo 2.1 (Debian) and Pillow's bundled 3.x give the same
 * pixels. Three components decode to RGB, one to grey (expanded to RGB by
 * libjpeg), four (CMYK / YCCK) to CMYK, which Pillow always treats as Adobe
 * (inverted) CMYK and converts with its own formula, replicated below.
 * Warnings about corrupt entropy data are tolerated as Pillow does; a
 * premature end of file is an error, as Pillow refuses truncated JPEGs.
 *
 * DCT scaling: with ctx->min_side > 0 the IDCT outputs 1/8, 1/4 or 1/2 of
 * the size, the smallest whose shorter side is still >= min_side, so a 12 MP
 * photo costs a fraction of a full decode and arrives near the size CLIP
 * wants. These are the scales of Pillow's Image.draft(), which decodes
 * identically; libjpeg's 3/8, 5/8, ... scales were measured further from
 * the full-size reference after preprocessing (docs/images.md), so they are
 * not used.
 *
 * Error handling: libjpeg reports fatal errors through error_exit, which
 * must not return; we longjmp back to jpeg_run(). Everything that must be
 * freed after the jump lives in a jpeg_job owned by the caller of
 * jpeg_run(), so no local changed after setjmp() is read after longjmp().
 * Hostile progressive files with thousands of scans are cut off by a
 * progress monitor (libjpeg-turbo's own advice for untrusted input).
 */
#include "media/image.h"

#include "util/error.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#define JPEG_MAX_SCANS 1000

typedef struct jpeg_job {
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr err;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    int created;
    int status;                /* set when the failure is already reported */
    int too_many_scans;
    char msg[JMSG_LENGTH_MAX]; /* libjpeg's message after a jump */
    unsigned char *row;        /* CMYK row buffer */
    iris_image img;
} jpeg_job;

static void on_error_exit(j_common_ptr ci)
{
    jpeg_job *job = (jpeg_job *)ci->client_data;
    ci->err->format_message(ci, job->msg);
    longjmp(job->jump, 1);
}

static void on_message(j_common_ptr ci, int level)
{
    if (level == -1 && ci->err->msg_code == JWRN_JPEG_EOF) on_error_exit(ci);
}

static void on_progress(j_common_ptr ci)
{
    jpeg_job *job = (jpeg_job *)ci->client_data;
    if (((j_decompress_ptr)ci)->input_scan_number > JPEG_MAX_SCANS) {
        job->too_many_scans = 1;
        longjmp(job->jump, 1);
    }
}

/* Smallest of 1/8, 1/4, 1/2, 1 whose shorter output side is >= min_side. */
static void pick_scale(j_decompress_ptr ci, int min_side)
{
    if (min_side <= 0) return;
    for (unsigned m = 1; m <= 8; m *= 2) {
        ci->scale_num = m;
        ci->scale_denom = 8;
        jpeg_calc_output_dimensions(ci);
        JDIMENSION s = ci->output_width < ci->output_height ? ci->output_width : ci->output_height;
        if (s >= (JDIMENSION)min_side) return;
    }
}

/* Orientation as Pillow finds it: the first APP1 "Exif" segment's tag,
 * else XMP's tiff:Orientation (the last XMP segment, as Pillow keeps it). */
static int find_orientation(j_decompress_ptr ci)
{
    static const char xmp_ns[] = "http://ns.adobe.com/xap/1.0/";
    int exif = -1, xmp = -1, seen_exif = 0;
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1) continue;
        if (!seen_exif && m->data_length >= 6 && !memcmp(m->data, "Exif\0\0", 6)) {
            seen_exif = 1;
            exif = media_exif_orientation(m->data, m->data_length);
        } else if (m->data_length >= sizeof xmp_ns && !memcmp(m->data, xmp_ns, sizeof xmp_ns)) {
            xmp = media_xmp_orientation(m->data + sizeof xmp_ns, m->data_length - sizeof xmp_ns);
        }
    }
    return exif >= 0 ? exif : xmp;
}

static void read_rows(jpeg_job *job)
{
    j_decompress_ptr ci = &job->ci;
    size_t stride = (size_t)job->img.width * 3;
    while (ci->output_scanline < ci->output_height) {
        unsigned char *dst = job->img.rgb + (size_t)ci->output_scanline * stride;
        if (job->row) {
            jpeg_read_scanlines(ci, &job->row, 1);
            media_cmyk_to_rgb(job->row, 1, dst, (size_t)job->img.width);
        } else {
            jpeg_read_scanlines(ci, &dst, 1);
        }
    }
}

/* Returns 0, or non-zero after a libjpeg error (job->msg) or a failure
 * already reported (job->status). */
static int jpeg_run(media_ctx *ctx, jpeg_job *job, const uint8_t *data, size_t size)
{
    j_decompress_ptr ci = &job->ci;
    if (setjmp(job->jump)) return 1;
    jpeg_create_decompress(ci);
    job->created = 1;
    ci->progress = &job->progress;
    jpeg_mem_src(ci, data, (unsigned long)size);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(ci, TRUE);

    if ((job->status = media_check_size(ctx, ci->image_width, ci->image_height))) return 1;
    switch (ci->jpeg_color_space) {
    case JCS_CMYK:
    case JCS_YCCK: ci->out_color_space = JCS_CMYK; break;
    case JCS_GRAYSCALE:
    case JCS_RGB:
    case JCS_YCbCr: ci->out_color_space = JCS_RGB; break;
    default:
        job->status = iris_fail(IRIS_EUNSUPPORTED, "%s: JPEG with %d components in an unknown "
                                "colour space", ctx->name, ci->num_components);
        return 1;
    }
    pick_scale(ci, ctx->min_side);
    ctx->orientation = find_orientation(ci);
    jpeg_start_decompress(ci);
    if ((job->status = media_image_alloc(ctx, ci->output_width, ci->output_height, &job->img)))
        return 1;
    if (ci->out_color_space == JCS_CMYK && !(job->row = malloc((size_t)ci->output_width * 4))) {
        job->status = iris_fail(IRIS_ENOMEM, "%s: no memory for a JPEG row", ctx->name);
        return 1;
    }
    read_rows(job);
    jpeg_finish_decompress(ci);
    return 0;
}

static int report(const media_ctx *ctx, const jpeg_job *job)
{
    if (job->status) return job->status;
    if (job->too_many_scans)
        return iris_fail(IRIS_ELIMIT, "%s: JPEG has more than %d progressive scans", ctx->name,
                         JPEG_MAX_SCANS);
    int code = job->err.msg_code;
    int rc = code == JERR_BAD_PRECISION || code == JERR_CONVERSION_NOTIMPL ||
                     code == JERR_NOT_COMPILED
                 ? IRIS_EUNSUPPORTED
             : code == JERR_OUT_OF_MEMORY ? IRIS_ENOMEM
                                          : IRIS_EFORMAT;
    return iris_fail(rc, "%s: bad JPEG: %s", ctx->name, job->msg);
}

int media_decode_jpeg(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out)
{
    jpeg_job *job = calloc(1, sizeof *job);
    if (!job) return iris_fail(IRIS_ENOMEM, "%s: no memory for a JPEG decoder", ctx->name);
    job->ci.client_data = job; /* kept by jpeg_create_decompress() */
    job->ci.err = jpeg_std_error(&job->err);
    job->err.error_exit = on_error_exit;
    job->err.emit_message = on_message;
    job->progress.progress_monitor = on_progress;
    int rc = jpeg_run(ctx, job, data, size) ? report(ctx, job) : IRIS_OK;
    if (job->created) jpeg_destroy_decompress(&job->ci);
    free(job->row);
    if (rc) iris_image_free(&job->img);
    else *out = job->img;
    free(job);
    return rc;
}
