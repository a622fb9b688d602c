/*
 * image.h - internal interface between the image front door (image.c: magic
 * sniffing, limits, EXIF orientation, the public iris_image_* calls) and
 * the per-format decoders (decode_*.c).
 *
 * Every decoder takes the whole encoded file in memory and produces 8-bit
 * RGB exactly as the reference pipeline sees it: Pillow's Image.open()
 * followed by Image.convert("RGB") (what Hugging Face's CLIPImageProcessor
 * does). docs/images.md lists, per format and mode, what that means.
 *
 * Decoders never allocate pixels before the header's size has passed
 * media_check_size(), and report failures with iris_fail() naming ctx->name
 * (the file path, or "image data" for in-memory input).
 */
#ifndef IRIS_MEDIA_IMAGE_H
#define IRIS_MEDIA_IMAGE_H

#include "iris.h"

#include <stddef.h>
#include <stdint.h>

typedef struct media_ctx {
    const char *name;    /* for messages: path or "image data" */
    uint64_t max_pixels; /* decompression-bomb limit (already defaulted) */
    int min_side;        /* JPEG DCT scaling target, 0 = full size */
    int orientation;     /* out: EXIF orientation 1..8 as Pillow reads it */
} media_ctx;

typedef int (*media_decoder)(media_ctx *ctx, const uint8_t *data, size_t size,
                             iris_image *out);

int media_decode_jpeg(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out);
int media_decode_png(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out);
int media_decode_gif(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out);
int media_decode_webp(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out);
int media_decode_bmp(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out);
int media_decode_tiff(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out);

/* Fails with IRIS_EFORMAT for an empty size and IRIS_ELIMIT when w * h is
 * over ctx->max_pixels or a side would not fit an int row stride. */
int media_check_size(const media_ctx *ctx, uint64_t w, uint64_t h);
/* media_check_size() and then allocates out->rgb (uninitialised). */
int media_image_alloc(const media_ctx *ctx, uint64_t w, uint64_t h, iris_image *out);

/* A palette as Pillow keeps one: 256 RGB entries, those the file does not
 * define are black (Pillow maps out-of-range indices to (0, 0, 0)). */
typedef struct media_palette {
    uint8_t rgb[256][3];
} media_palette;

/* Pillow's CMYK -> RGB for n pixels (4 bytes each): k' = 255 - k, then
 * k' - c * k' / 255 with Pillow's rounded MULDIV255. invert: the stored
 * bytes are inverted first (Adobe JPEGs, Pillow's "CMYK;I"). */
void media_cmyk_to_rgb(const uint8_t *cmyk, int invert, uint8_t *rgb, size_t n);

/* Orientation tag (274) from an EXIF block: a TIFF structure, optionally
 * behind an "Exif\0\0" prefix. Returns the tag's value from the first IFD
 * (any value: only 2..8 transform), or -1 when absent or unreadable.
 * Bounds-checked against n. */
int media_exif_orientation(const uint8_t *p, size_t n);
/* Pillow's XMP fallback, used when EXIF has no orientation: the digit of
 * the first 'tiff:Orientation="D' or 'tiff:Orientation>D', else -1. */
int media_xmp_orientation(const uint8_t *p, size_t n);

/* Rotates / flips img in place (reallocating for the transposing cases) as
 * PIL.ImageOps.exif_transpose does for EXIF orientation o; values other
 * than 2..8 leave the image as it is. */
int media_apply_orientation(const media_ctx *ctx, iris_image *img, int o);

/* For callers that sort files by their bytes (the indexer): the format
 * name ("jpeg", "png", "gif", "webp", "bmp", "tiff") of data that starts
 * like an image iris decodes, else NULL; and the name of an image format
 * recognised but not decoded ("HEIF/HEIC", "AVIF", ...), else NULL. */
const char *media_image_format(const uint8_t *p, size_t n);
const char *media_image_unsupported(const uint8_t *p, size_t n);

#endif
