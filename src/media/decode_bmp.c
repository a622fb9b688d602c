/*
 * decode_bmp.c - a small, careful BMP parser that reads what Pillow reads.
 *
 * Why our own: no well-kept Debian library decodes BMP the way the
 * reference does. Leptonica's reader refuses RLE-compressed files and
 * expands 16-bit pixels differently from Pillow; the other candidates
 * (ImageMagick, SDL_image) are large dependencies for a 200-line format.
 * BMP is simple enough to parse with every offset and size checked
 * against the buffer, and the tests compare each layout with Pillow.
 *
 * What is read (as Pillow's BmpImagePlugin): OS/2 1.x and Windows 3 to 5
 * headers (12, 40, 52, 56, 64, 108, 124 bytes); 1, 4, 8-bit palettes
 * (entries past the table are black); 16, 24, 32-bit pixels, raw or with
 * BI_BITFIELDS masks (a channel of n bits becomes v * 255 / (2^n - 1),
 * truncated, which is Pillow's 5-5-5 / 5-6-5 unpacking); alpha is
 * dropped; RLE8 and RLE4 exactly as Pillow's Python RLE decoder (runs
 * clipped at the row end, deltas and end-of-line filling with index 0).
 * Differences, on purpose: bit-field layouts Pillow refuses are decoded by
 * their masks, and an RLE stream that ends early (Pillow: "not enough image
 * data") leaves the rest at index 0. Rows are bottom-up unless the height
 * is negative.
 */
#include "media/image.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

enum { BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3 };

typedef struct bmp_info {
    uint32_t width, height;
    int top_down;
    int bits, compression;
    uint32_t colors;      /* palette entries in the file */
    int pal_entry;        /* 3 (OS/2) or 4 bytes a palette entry */
    uint32_t mask[3];     /* R, G, B for 16/24/32-bit pixels */
    size_t pal_at, pixels_at;
} bmp_info;

static uint32_t u16le(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t u32le(const uint8_t *p) { return u16le(p) | u16le(p + 2) << 16; }

static int bad(const media_ctx *ctx, const char *why)
{
    return iris_fail(IRIS_EFORMAT, "%s: bad BMP: %s", ctx->name, why);
}

static void default_masks(bmp_info *b)
{
    uint32_t m16[3] = {0x7C00, 0x3E0, 0x1F}, m32[3] = {0xFF0000, 0xFF00, 0xFF};
    memcpy(b->mask, b->bits == 16 ? m16 : m32, sizeof b->mask);
}

/* Reads BI_BITFIELDS masks: inside V2+ headers, after a 40-byte one. */
static int read_masks(const media_ctx *ctx, const uint8_t *p, size_t n, uint32_t hsize,
                      bmp_info *b)
{
    size_t at = hsize >= 52 ? 14 + 40 : 14 + (size_t)hsize;
    if (at + 12 > n) return bad(ctx, "file is truncated in the colour masks");
    for (int i = 0; i < 3; i++) b->mask[i] = u32le(p + at + 4 * (size_t)i);
    if (hsize < 52) b->pal_at = at + 12;
    if (!b->mask[0] && !b->mask[1] && !b->mask[2]) default_masks(b);
    return IRIS_OK;
}

static int parse_header(const media_ctx *ctx, const uint8_t *p, size_t n, bmp_info *b)
{
    if (n < 18) return bad(ctx, "file is truncated in the header");
    uint32_t hsize = u32le(p + 14), offset = u32le(p + 10);
    if (hsize != 12 && hsize != 40 && hsize != 52 && hsize != 56 && hsize != 64 && hsize != 108 &&
        hsize != 124)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: BMP header of %u bytes is not supported",
                         ctx->name, (unsigned)hsize);
    if (14 + (size_t)hsize > n) return bad(ctx, "file is truncated in the header");
    const uint8_t *h = p + 18;
    memset(b, 0, sizeof *b);
    b->pal_at = 14 + hsize;
    if (hsize == 12) {
        b->width = u16le(h), b->height = u16le(h + 2), b->bits = (int)u16le(h + 6);
        b->pal_entry = 3;
    } else {
        b->width = u32le(h);
        b->top_down = h[7] == 0xFF; /* negative height, as Pillow tests it */
        b->height = b->top_down ? (uint32_t)(0u - u32le(h + 4)) : u32le(h + 4);
        b->bits = (int)u16le(h + 10), b->compression = (int)u32le(h + 12);
        b->colors = u32le(h + 28);
        b->pal_entry = 4;
    }
    if (b->bits != 1 && b->bits != 4 && b->bits != 8 && b->bits != 16 && b->bits != 24 &&
        b->bits != 32)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: BMP with %d bits a pixel is not supported",
                         ctx->name, b->bits);
    if (!b->colors) b->colors = b->bits <= 8 ? 1u << b->bits : 0;
    default_masks(b);
    if (b->compression == BI_BITFIELDS && b->bits >= 16) {
        int rc = read_masks(ctx, p, n, hsize, b);
        if (rc) return rc;
    } else if (!(b->compression == BI_RGB ||
                 (b->compression == BI_RLE8 && b->bits == 8) ||
                 (b->compression == BI_RLE4 && b->bits == 4))) {
        return iris_fail(IRIS_EUNSUPPORTED, "%s: BMP compression %d with %d bits is not supported",
                         ctx->name, b->compression, b->bits);
    }
    if (b->bits <= 8 && b->colors > 65536) return bad(ctx, "palette has over 65536 colours");
    size_t pal_bytes = b->bits <= 8 ? (size_t)b->pal_entry * b->colors : 0;
    /* Pillow's fix for files whose offset points at the palette. */
    if (offset == 14 + hsize && b->bits <= 8) offset += (uint32_t)pal_bytes;
    b->pixels_at = offset ? offset : b->pal_at + pal_bytes;
    return IRIS_OK;
}

static void load_palette(const bmp_info *b, const uint8_t *p, size_t n, media_palette *pal)
{
    memset(pal, 0, sizeof *pal);
    for (uint32_t i = 0; i < b->colors && i < 256; i++) {
        size_t at = b->pal_at + (size_t)i * (size_t)b->pal_entry;
        if (at + 3 > n) break;
        pal->rgb[i][0] = p[at + 2], pal->rgb[i][1] = p[at + 1], pal->rgb[i][2] = p[at];
    }
}

static uint8_t channel(uint32_t px, uint32_t mask)
{
    if (!mask) return 0;
    int shift = __builtin_ctz(mask);
    uint64_t max = mask >> shift;
    return (uint8_t)(((uint64_t)((px & mask) >> shift) * 255) / max);
}

static void convert_row(const bmp_info *b, const media_palette *pal, const uint8_t *in,
                        uint8_t *out, int w)
{
    for (int x = 0; x < w; x++, out += 3) {
        if (b->bits <= 8) {
            int idx = b->bits == 8 ? in[x]
                      : b->bits == 4 ? (in[x / 2] >> (x % 2 ? 0 : 4)) & 15
                                     : (in[x / 8] >> (7 - x % 8)) & 1;
            memcpy(out, pal->rgb[idx], 3);
            continue;
        }
        const uint8_t *q = in + (size_t)x * (size_t)(b->bits / 8);
        uint32_t px = b->bits == 16 ? u16le(q) : b->bits == 24 ? u16le(q) | (uint32_t)q[2] << 16
                                                               : u32le(q);
        for (int c = 0; c < 3; c++) out[c] = channel(px, b->mask[c]);
    }
}

/* Pillow's BmpRleDecoder, step for step, into idx (w * h indices in file
 * row order). Returns 0 if the data ran out before the image was complete
 * or an end-of-bitmap code (then the rest is index 0). */
static int rle_decode(const bmp_info *b, const uint8_t *p, size_t n, uint8_t *idx)
{
    const size_t w = b->width, total = w * b->height;
    size_t pos = b->pixels_at, len = 0, x = 0;
    const int rle4 = b->compression == BI_RLE4;
    int ended = 0;
    while (len < total) {
        if (pos + 2 > n) return 0;
        unsigned count = p[pos], byte = p[pos + 1];
        pos += 2;
        if (count) {
            size_t run = x + count > w ? (w > x ? w - x : 0) : count;
            if (run > total - len) run = total - len;
            for (size_t i = 0; i < run; i++)
                idx[len++] = rle4 ? (uint8_t)(i % 2 ? byte & 15 : byte >> 4) : (uint8_t)byte;
            x += run;
        } else if (byte == 0) { /* end of line */
            while (len % w) idx[len++] = 0;
            x = 0;
        } else if (byte == 1) { /* end of bitmap */
            ended = 1;
            break;
        } else if (byte == 2) { /* delta */
            if (pos + 2 > n) return 0;
            size_t skip = p[pos] + (size_t)p[pos + 1] * w;
            pos += 2;
            if (skip > total - len) skip = total - len;
            memset(idx + len, 0, skip);
            len += skip;
            x = len % w;
        } else { /* absolute run of `byte` pixels */
            size_t count_px = byte < total - len ? byte : total - len;
            size_t nbytes = rle4 ? (count_px + 1) / 2 : count_px, got = n - pos < nbytes ? n - pos : nbytes;
            for (size_t i = 0; i < (rle4 ? got * 2 : got) && i < count_px; i++)
                idx[len++] = rle4 ? (uint8_t)(i % 2 ? p[pos + i / 2] & 15 : p[pos + i / 2] >> 4)
                                  : p[pos + i];
            pos += got;
            if (got < nbytes) return 0;
            if (len == total) break;
            x += byte;
            pos += pos % 2; /* word alignment, by file offset as Pillow */
        }
    }
    memset(idx + len, 0, total - len);
    return len == total || ended;
}

static int decode_pixels(const media_ctx *ctx, const bmp_info *b, const uint8_t *p, size_t n,
                         iris_image *img)
{
    media_palette pal;
    load_palette(b, p, n, &pal);
    const int w = img->width, h = img->height;
    if (b->compression == BI_RLE8 || b->compression == BI_RLE4) {
        uint8_t *idx = malloc((size_t)w * (size_t)h);
        if (!idx) return iris_fail(IRIS_ENOMEM, "%s: no memory for RLE pixels", ctx->name);
        if (!rle_decode(b, p, n, idx)) {
            free(idx);
            return bad(ctx, "RLE data is truncated");
        }
        for (int y = 0; y < h; y++) {
            const uint8_t *src = idx + (size_t)(b->top_down ? y : h - 1 - y) * w;
            uint8_t *dst = img->rgb + (size_t)y * w * 3;
            for (int x = 0; x < w; x++) memcpy(dst + 3 * x, pal.rgb[src[x]], 3);
        }
        free(idx);
        return IRIS_OK;
    }
    size_t stride = (((size_t)w * (size_t)b->bits + 31) >> 3) & ~(size_t)3;
    if (b->pixels_at > n || stride * (size_t)h > n - b->pixels_at)
        return bad(ctx, "pixel data is truncated");
    for (int y = 0; y < h; y++) {
        const uint8_t *row = p + b->pixels_at + (size_t)(b->top_down ? y : h - 1 - y) * stride;
        convert_row(b, &pal, row, img->rgb + (size_t)y * w * 3, w);
    }
    return IRIS_OK;
}

int media_decode_bmp(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out)
{
    bmp_info b;
    int rc = parse_header(ctx, data, size, &b);
    if (rc) return rc;
    iris_image img = {0};
    if ((rc = media_image_alloc(ctx, b.width, b.height, &img))) return rc;
    if ((rc = decode_pixels(ctx, &b, data, size, &img))) iris_image_free(&img);
    else *out = img;
    return rc;
}
