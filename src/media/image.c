/*
 * image.c - the front door of image decoding: iris_image_load/decode/free.
 *
 * The format is decided by magic bytes, never by the file name: a PNG saved
 * as "photo.jpg" decodes as the PNG it is. Each format has its own decoder
 * (decode_*.c) built on the well-kept Debian library for it; this file owns
 * what they share:
 *  - the decompression-bomb guard (media_check_size): width * height is
 *    checked against max_pixels from the header, before any pixel buffer
 *    exists, with Pillow's default cap (IRIS_DEFAULT_MAX_PIXELS);
 *  - EXIF orientation. Pillow reads the orientation from EXIF (JPEG APP1,
 *    PNG eXIf, WebP EXIF, TIFF's own IFD) and falls back to XMP's
 *    tiff:Orientation; PIL.ImageOps.exif_transpose then flips / rotates.
 *    We read the same sources with a small bounds-checked parser (one tag
 *    of one IFD: libexif would parse maker notes and every IFD to get it)
 *    and apply the same transposition. Hugging Face's processor does not
 *    do this itself, but users expect upright photos, so it is on by
 *    default (iris_decode_opts.exif_orientation = -1 turns it off).
 */
#include "media/image.h"

#include "util/error.h"
#include "util/fs.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- limits */

int media_check_size(const media_ctx *ctx, uint64_t w, uint64_t h)
{
    if (w == 0 || h == 0)
        return iris_fail(IRIS_EFORMAT, "%s: image has no pixels (%llu x %llu)", ctx->name,
                         (unsigned long long)w, (unsigned long long)h);
    /* Sides up to 2^32 cannot overflow the product in 64 bits. */
    if (w > UINT32_MAX || h > UINT32_MAX || w * h > ctx->max_pixels)
        return iris_fail(IRIS_ELIMIT,
                         "%s: %llu x %llu pixels is over the limit of %llu "
                         "(decompression-bomb guard)",
                         ctx->name, (unsigned long long)w, (unsigned long long)h,
                         (unsigned long long)ctx->max_pixels);
    if (w > INT_MAX / 4 || h > INT_MAX / 4)
        return iris_fail(IRIS_ELIMIT, "%s: side of %llu pixels is too long", ctx->name,
                         (unsigned long long)(w > h ? w : h));
    return IRIS_OK;
}

int media_image_alloc(const media_ctx *ctx, uint64_t w, uint64_t h, iris_image *out)
{
    int rc = media_check_size(ctx, w, h);
    if (rc) return rc;
    size_t bytes = (size_t)w * (size_t)h * 3;
    out->rgb = malloc(bytes);
    if (!out->rgb)
        return iris_fail(IRIS_ENOMEM, "%s: no memory for %llu x %llu RGB pixels", ctx->name,
                         (unsigned long long)w, (unsigned long long)h);
    out->width = (int)w;
    out->height = (int)h;
    return IRIS_OK;
}

void media_cmyk_to_rgb(const uint8_t *cmyk, int invert, uint8_t *rgb, size_t n)
{
    const int flip = invert ? 255 : 0;
    for (size_t i = 0; i < n; i++, cmyk += 4, rgb += 3) {
        int nk = 255 - (cmyk[3] ^ flip);
        for (int c = 0; c < 3; c++) {
            int t = (cmyk[c] ^ flip) * nk + 128;
            rgb[c] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
        }
    }
}

/* ----------------------------------------------------------- orientation */

static uint32_t rd16(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? rd16(p, 1) | rd16(p + 2, 1) << 16 : rd16(p, 0) << 16 | rd16(p + 2, 0);
}

int media_exif_orientation(const uint8_t *p, size_t n)
{
    if (n >= 6 && !memcmp(p, "Exif\0\0", 6)) p += 6, n -= 6;
    if (n < 8) return -1;
    int le;
    if (p[0] == 'I' && p[1] == 'I') le = 1;
    else if (p[0] == 'M' && p[1] == 'M') le = 0;
    else return -1;
    uint32_t ifd = rd32(p + 4, le);
    if (rd16(p + 2, le) != 42 || ifd > n - 2) return -1;
    uint32_t count = rd16(p + ifd, le);
    long o = -1;
    /* Like Pillow: read entries until the data ends; the last tag wins. */
    for (uint32_t i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + 12 * (size_t)i;
        if (e + 12 > n) break;
        if (rd16(p + e, le) != 274 || rd32(p + e + 4, le) != 1) continue;
        uint32_t type = rd16(p + e + 2, le);
        if (type == 3) o = rd16(p + e + 8, le);
        else if (type == 4) o = rd32(p + e + 8, le);
        else if (type == 1) o = p[e + 8];
    }
    return o > 9 ? 9 : (int)o; /* 9: present, but no transposition */
}

int media_xmp_orientation(const uint8_t *p, size_t n)
{
    static const char key[] = "tiff:Orientation";
    const size_t k = sizeof key - 1;
    for (size_t i = 0; n >= k + 2 && i <= n - k - 2; i++) {
        if (memcmp(p + i, key, k)) continue;
        const uint8_t *v = p + i + k;
        if (v[0] == '>' && v[1] >= '0' && v[1] <= '9') return v[1] - '0';
        if (i + k + 3 <= n && v[0] == '=' && v[1] == '"' && v[2] >= '0' && v[2] <= '9')
            return v[2] - '0';
    }
    return -1;
}

/* Where output pixel (x, y) comes from, for the transposing orientations
 * 5..8 (output is h x w). Pillow: 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE,
 * 8 ROTATE_90. */
static size_t transposed_src(int o, int w, int h, int x, int y)
{
    int sx, sy;
    switch (o) {
    case 5: sx = y, sy = x; break;
    case 6: sx = y, sy = h - 1 - x; break;
    case 7: sx = w - 1 - y, sy = h - 1 - x; break;
    default: sx = w - 1 - y, sy = x; break;
    }
    return ((size_t)sy * (size_t)w + (size_t)sx) * 3;
}

static void flip_rows(iris_image *img)
{
    size_t stride = (size_t)img->width * 3;
    unsigned char tmp[3 * 256];
    for (int y = 0; y < img->height / 2; y++) {
        unsigned char *a = img->rgb + (size_t)y * stride;
        unsigned char *b = img->rgb + (size_t)(img->height - 1 - y) * stride;
        for (size_t off = 0; off < stride; off += sizeof tmp) {
            size_t m = stride - off < sizeof tmp ? stride - off : sizeof tmp;
            memcpy(tmp, a + off, m);
            memcpy(a + off, b + off, m);
            memcpy(b + off, tmp, m);
        }
    }
}

static void mirror_columns(iris_image *img)
{
    for (int y = 0; y < img->height; y++) {
        unsigned char *row = img->rgb + (size_t)y * img->width * 3;
        for (int x = 0; x < img->width / 2; x++) {
            unsigned char *a = row + 3 * (size_t)x, *b = row + 3 * (size_t)(img->width - 1 - x);
            for (int c = 0; c < 3; c++) {
                unsigned char t = a[c];
                a[c] = b[c];
                b[c] = t;
            }
        }
    }
}

int media_apply_orientation(const media_ctx *ctx, iris_image *img, int o)
{
    if (o == 2 || o == 3) mirror_columns(img);
    if (o == 3 || o == 4) flip_rows(img);
    if (o < 5 || o > 8) return IRIS_OK;
    int w = img->width, h = img->height;
    unsigned char *dst = malloc((size_t)w * (size_t)h * 3);
    if (!dst) return iris_fail(IRIS_ENOMEM, "%s: no memory to rotate %d x %d", ctx->name, w, h);
    unsigned char *d = dst;
    for (int y = 0; y < w; y++)
        for (int x = 0; x < h; x++, d += 3) memcpy(d, img->rgb + transposed_src(o, w, h, x, y), 3);
    free(img->rgb);
    img->rgb = dst;
    img->width = h;
    img->height = w;
    return IRIS_OK;
}

/* ------------------------------------------------------------- dispatch */

static media_decoder sniff(const uint8_t *p, size_t n)
{
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return media_decode_jpeg;
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return media_decode_png;
    if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) return media_decode_gif;
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) return media_decode_webp;
    if (n >= 2 && p[0] == 'B' && p[1] == 'M') return media_decode_bmp;
    if (n >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4) || !memcmp(p, "II+\0", 4) ||
                   !memcmp(p, "MM\0+", 4)))
        return media_decode_tiff;
    return NULL;
}

const char *iris_image_mime(const void *data, size_t n)
{
    media_decoder d = data ? sniff(data, n) : NULL;
    return d == media_decode_jpeg   ? "image/jpeg"
           : d == media_decode_png  ? "image/png"
           : d == media_decode_gif  ? "image/gif"
           : d == media_decode_webp ? "image/webp"
           : d == media_decode_bmp  ? "image/bmp"
           : d == media_decode_tiff ? "image/tiff"
                                    : NULL;
}

/* Names a few image formats we know but do not decode, for a clearer error. */
static const char *known_unsupported(const uint8_t *p, size_t n)
{
    if (n >= 12 && !memcmp(p + 4, "ftyp", 4)) {
        if (!memcmp(p + 8, "avif", 4) || !memcmp(p + 8, "avis", 4)) return "AVIF";
        if (!memcmp(p + 8, "heic", 4) || !memcmp(p + 8, "heix", 4) || !memcmp(p + 8, "mif1", 4))
            return "HEIF/HEIC";
    }
    if (n >= 12 && !memcmp(p, "\0\0\0\x0cjP  ", 8)) return "JPEG 2000";
    if (n >= 2 && p[0] == 0xFF && p[1] == 0x0A) return "JPEG XL";
    if (n >= 12 && !memcmp(p, "\0\0\0\x0cJXL ", 8)) return "JPEG XL";
    if (n >= 4 && !memcmp(p, "8BPS", 4)) return "Photoshop (PSD)";
    return NULL;
}

const char *media_image_format(const uint8_t *p, size_t n)
{
    media_decoder d = sniff(p, n);
    return d == media_decode_jpeg ? "jpeg" : d == media_decode_png ? "png"
         : d == media_decode_gif  ? "gif"  : d == media_decode_webp ? "webp"
         : d == media_decode_bmp  ? "bmp"  : d == media_decode_tiff ? "tiff" : NULL;
}

const char *media_image_unsupported(const uint8_t *p, size_t n) { return known_unsupported(p, n); }

static int decode(const uint8_t *p, size_t n, const iris_decode_opts *opts, const char *name,
                  iris_image *out)
{
    if (opts && opts->min_side < 0)
        return iris_fail(IRIS_EARG, "%s: min_side must be >= 0 (got %d)", name, opts->min_side);
    media_ctx ctx = {
        .name = name,
        .max_pixels = opts && opts->max_pixels ? opts->max_pixels : IRIS_DEFAULT_MAX_PIXELS,
        .min_side = opts ? opts->min_side : 0,
    };
    if (n == 0) return iris_fail(IRIS_EFORMAT, "%s: empty file, not an image", name);
    media_decoder dec = sniff(p, n);
    if (!dec) {
        const char *what = known_unsupported(p, n);
        if (what) return iris_fail(IRIS_EUNSUPPORTED, "%s: %s images are not supported", name, what);
        return iris_fail(IRIS_EFORMAT,
                         "%s: not a JPEG, PNG, GIF, WebP, BMP or TIFF image "
                         "(starts with %02x %02x %02x %02x)",
                         name, p[0], n > 1 ? p[1] : 0, n > 2 ? p[2] : 0, n > 3 ? p[3] : 0);
    }
    int rc = dec(&ctx, p, n, out);
    if (rc == IRIS_OK && !(opts && opts->exif_orientation < 0))
        rc = media_apply_orientation(&ctx, out, ctx.orientation);
    if (rc) iris_image_free(out);
    return rc;
}

int iris_image_decode(const void *data, size_t size, const iris_decode_opts *opts,
                      iris_image *out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_image_decode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return iris_fail(IRIS_EARG, "iris_image_decode: data is NULL");
    return decode(data, size, opts, "image data", out);
}

int iris_image_load(const char *path, const iris_decode_opts *opts, iris_image *out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_image_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return iris_fail(IRIS_EARG, "iris_image_load: path is NULL");
    iris_mapping map;
    int rc = iris_map_file(path, &map);
    if (rc) return rc;
    rc = decode(map.data, map.size, opts, path, out);
    iris_unmap_file(&map);
    return rc;
}

void iris_image_free(iris_image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}
