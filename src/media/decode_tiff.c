/*
 * decode_tiff.c - the first page of a TIFF through libtiff's RGBA interface.
 *
 * TIFFRGBAImage turns every photometric / bit depth / compression libtiff
 * knows into 8-bit RGBA. Where its conversion differs from Pillow's we
 * supply our own "put" routine (tiffio.h invites this) for the layouts
 * photos actually use:
 *  - 8-bit RGB with unassociated alpha: libtiff premultiplies; Pillow keeps
 *    the stored RGB and convert("RGB") drops alpha -> we copy RGB;
 *  - 16-bit RGB(A): libtiff rounds v * 255 / 65535; Pillow keeps the high
 *    byte -> we take v >> 8;
 *  - 16-bit grey (min-is-black): libtiff scales; Pillow opens "I;16" and
 *    convert("RGB") clips to 255 (as for 16-bit PNG) -> we clip.
 *  - 8-bit CMYK: libtiff truncates k * c / 255 where Pillow rounds -> we
 *    use Pillow's formula (media_cmyk_to_rgb).
 * Palette (16-bit colormap >> 8), 1-bit, 8-bit grey, grey+alpha, YCbCr and
 * JPEG-in-TIFF go through libtiff's routines, which agree with Pillow.
 *
 * Pixels come out in stored order (req_orientation = the file's own), then
 * the Orientation tag is applied as PIL.ImageOps.exif_transpose does it.
 * Unlike other formats this happens even with exif_orientation off: Pillow's
 * TIFF loader itself transposes on load, so that is what Hugging Face sees.
 *
 * The image is read in bands of whole strips (or tile rows), so the RGBA
 * raster never holds more than ~64 rows beside the RGB result. Errors and
 * warnings go to per-handle callbacks (libtiff >= 4.5), so nothing global
 * is touched; libtiff's single allocations are capped in proportion to the
 * pixel limit.
 */
#include "media/image.h"

#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

typedef struct tiff_src {
    const uint8_t *data;
    size_t size;
    uint64_t pos;
    char msg[256];
} tiff_src;

static tmsize_t t_read(thandle_t h, void *buf, tmsize_t n)
{
    tiff_src *s = h;
    if (n <= 0 || s->pos >= s->size) return 0;
    size_t m = (size_t)n < s->size - s->pos ? (size_t)n : s->size - (size_t)s->pos;
    memcpy(buf, s->data + s->pos, m);
    s->pos += m;
    return (tmsize_t)m;
}

static tmsize_t t_write(thandle_t h, void *buf, tmsize_t n)
{
    (void)h, (void)buf, (void)n;
    return -1;
}

static toff_t t_seek(thandle_t h, toff_t off, int whence)
{
    tiff_src *s = h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : 0;
    if (off > UINT64_MAX - base) return (toff_t)-1;
    return s->pos = base + off;
}

static int t_close(thandle_t h) { return (void)h, 0; }
static toff_t t_size(thandle_t h) { return ((tiff_src *)h)->size; }

static int t_map(thandle_t h, void **base, toff_t *size)
{
    tiff_src *s = h;
    *base = (void *)s->data;
    *size = s->size;
    return 1;
}

static void t_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)module;
    tiff_src *s = user;
    if (!s->msg[0]) vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1;
}

#define PACK(r, g, b) ((uint32_t)(r) | (uint32_t)(g) << 8 | (uint32_t)(b) << 16 | 0xFF000000u)

static unsigned sample16(const unsigned char *pp, int i)
{
    uint16_t v; /* memcpy: a strip mapped from the file may be unaligned */
    memcpy(&v, pp + 2 * i, 2);
    return v;
}

/* One pixel the way Pillow converts it, for the layouts pick_put() takes
 * (samples in native byte order, as libtiff hands them over). */
static uint32_t pillow_pixel(const TIFFRGBAImage *img, const unsigned char *pp)
{
    if (img->photometric == PHOTOMETRIC_SEPARATED) {
        uint8_t rgb[3];
        media_cmyk_to_rgb(pp, 0, rgb, 1);
        return PACK(rgb[0], rgb[1], rgb[2]);
    }
    if (img->photometric == PHOTOMETRIC_MINISBLACK) {
        unsigned v = sample16(pp, 0) > 255 ? 255 : sample16(pp, 0);
        return PACK(v, v, v);
    }
    if (img->bitspersample == 16)
        return PACK(sample16(pp, 0) >> 8, sample16(pp, 1) >> 8, sample16(pp, 2) >> 8);
    return PACK(pp[0], pp[1], pp[2]);
}

/* A put routine in libtiff's contract: h rows of w pixels into cp, then
 * skip toskew raster pixels and fromskew source pixels. */
static void put_pillow(TIFFRGBAImage *img, uint32_t *cp, uint32_t x, uint32_t y, uint32_t w,
                       uint32_t h, int32_t fromskew, int32_t toskew, unsigned char *pp)
{
    (void)x, (void)y;
    const size_t step = (size_t)img->samplesperpixel * (img->bitspersample / 8);
    for (; h > 0; h--, cp += toskew, pp += (ptrdiff_t)fromskew * (ptrdiff_t)step)
        for (uint32_t i = 0; i < w; i++, pp += step) *cp++ = pillow_pixel(img, pp);
}

static void pick_put(TIFFRGBAImage *img)
{
    if (!img->isContig) return;
    int bps = img->bitspersample, spp = img->samplesperpixel, ph = img->photometric;
    if ((ph == PHOTOMETRIC_RGB && spp >= 3 &&
         ((bps == 8 && img->alpha == EXTRASAMPLE_UNASSALPHA) || bps == 16)) ||
        (ph == PHOTOMETRIC_MINISBLACK && bps == 16 && spp == 1) ||
        (ph == PHOTOMETRIC_SEPARATED && bps == 8 && spp >= 4))
        img->put.contig = put_pillow;
}

/* Rows decoded per TIFFRGBAImageGet() call: whole strips or tile rows,
 * about 64 rows, so the RGBA raster stays a band and not an image. */
static uint32_t band_rows(TIFF *tif, uint32_t h)
{
    uint32_t unit = 0;
    if (TIFFIsTiled(tif)) TIFFGetField(tif, TIFFTAG_TILELENGTH, &unit);
    else TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &unit);
    if (unit == 0 || unit > h) unit = h;
    uint32_t band = unit * ((64 + unit - 1) / unit);
    return band < h ? band : h;
}

static void band_to_rgb(const uint32_t *raster, size_t n, uint8_t *rgb)
{
    for (size_t i = 0; i < n; i++, rgb += 3) {
        rgb[0] = (uint8_t)TIFFGetR(raster[i]);
        rgb[1] = (uint8_t)TIFFGetG(raster[i]);
        rgb[2] = (uint8_t)TIFFGetB(raster[i]);
    }
}

static int read_raster(media_ctx *ctx, TIFF *tif, tiff_src *src, iris_image *out)
{
    uint32_t w = 0, h = 0;
    uint16_t orient = ORIENTATION_TOPLEFT;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orient);
    int rc = media_check_size(ctx, w, h);
    if (rc) return rc;
    char emsg[1024] = "";
    TIFFRGBAImage img;
    if (!TIFFRGBAImageOK(tif, emsg) || !TIFFRGBAImageBegin(&img, tif, 1, emsg))
        return iris_fail(IRIS_EUNSUPPORTED, "%s: TIFF not supported: %s", ctx->name,
                         src->msg[0] ? src->msg : emsg);
    img.req_orientation = orient;
    pick_put(&img);
    uint32_t band = band_rows(tif, h);
    uint32_t *raster = malloc((size_t)w * band * 4);
    if (!raster || (rc = media_image_alloc(ctx, w, h, out))) {
        free(raster);
        TIFFRGBAImageEnd(&img);
        return rc ? rc : iris_fail(IRIS_ENOMEM, "%s: no memory for %u x %u pixels", ctx->name, w, band);
    }
    int ok = 1;
    for (uint32_t row = 0; ok && row < h; row += band) {
        uint32_t n = h - row < band ? h - row : band;
        img.row_offset = (int)row;
        ok = TIFFRGBAImageGet(&img, raster, w, n) && !src->msg[0];
        if (ok) band_to_rgb(raster, (size_t)w * n, out->rgb + (size_t)row * w * 3);
    }
    TIFFRGBAImageEnd(&img);
    free(raster);
    rc = ok ? media_apply_orientation(ctx, out, orient)
            : iris_fail(IRIS_EFORMAT, "%s: bad TIFF: %s", ctx->name,
                        src->msg[0] ? src->msg : "cannot read the pixels");
    if (rc) iris_image_free(out);
    return rc;
}

int media_decode_tiff(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out)
{
    tiff_src src = {.data = data, .size = size};
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return iris_fail(IRIS_ENOMEM, "%s: no memory for a TIFF decoder", ctx->name);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &src);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &src);
    /* Strip buffers hold at most 8 bytes a pixel (16-bit RGBA). */
    uint64_t cap = ctx->max_pixels < (1ULL << 56) ? ctx->max_pixels * 8 + (64u << 20) : 1ULL << 59;
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)cap);
    TIFF *tif = TIFFClientOpenExt(ctx->name, "r", &src, t_read, t_write, t_seek, t_close, t_size,
                                  t_map, t_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif)
        return iris_fail(IRIS_EFORMAT, "%s: bad TIFF: %s", ctx->name,
                         src.msg[0] ? src.msg : "cannot read the header");
    iris_image img = {0};
    int rc = read_raster(ctx, tif, &src, &img);
    TIFFClose(tif);
    if (!rc) *out = img;
    return rc;
}
