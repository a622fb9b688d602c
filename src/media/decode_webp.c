/*
 * decode_webp.c - WebP through libwebp; animations through libwebpdemux.
 *
 * Pillow decodes every WebP with WebPAnimDecoder (non-premultiplied RGBA)
 * and convert("RGB") drops alpha. For a still image that is a plain
 * WebPDecode() with default options, so we decode those straight into the
 * RGB result (no RGBA canvas). For an animation the first frame is
 * composed by WebPAnimDecoder on a canvas cleared to transparent black,
 * as Pillow's is; we copy its RGB.
 *
 * The canvas size comes from WebPGetFeatures() and passes the pixel limit
 * before the decoder allocates anything. EXIF / XMP chunks (for the
 * orientation) are read with WebPDemux, as Pillow reads them.
 */
#include "media/image.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

static const char *status_text(VP8StatusCode st)
{
    switch (st) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "file is truncated";
    default: return "decoding failed";
    }
}

static int webp_fail(const media_ctx *ctx, VP8StatusCode st)
{
    int rc = st == VP8_STATUS_OUT_OF_MEMORY           ? IRIS_ENOMEM
             : st == VP8_STATUS_UNSUPPORTED_FEATURE ? IRIS_EUNSUPPORTED
                                                    : IRIS_EFORMAT;
    return iris_fail(rc, "%s: bad WebP: %s", ctx->name, status_text(st));
}

static int decode_still(const media_ctx *ctx, const uint8_t *data, size_t size, iris_image *img)
{
    WebPDecoderConfig cfg;
    if (!WebPInitDecoderConfig(&cfg))
        return iris_fail(IRIS_EINTERNAL, "%s: libwebp version mismatch", ctx->name);
    cfg.output.colorspace = MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = img->rgb;
    cfg.output.u.RGBA.stride = img->width * 3;
    cfg.output.u.RGBA.size = (size_t)img->width * (size_t)img->height * 3;
    VP8StatusCode st = WebPDecode(data, size, &cfg);
    WebPFreeDecBuffer(&cfg.output);
    return st == VP8_STATUS_OK ? IRIS_OK : webp_fail(ctx, st);
}

static int decode_first_frame(const media_ctx *ctx, const uint8_t *data, size_t size,
                              iris_image *img)
{
    WebPAnimDecoderOptions opts;
    if (!WebPAnimDecoderOptionsInit(&opts))
        return iris_fail(IRIS_EINTERNAL, "%s: libwebp version mismatch", ctx->name);
    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;
    WebPData wd = {data, size};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opts);
    if (!dec) return iris_fail(IRIS_EFORMAT, "%s: bad animated WebP", ctx->name);
    WebPAnimInfo info;
    uint8_t *canvas = NULL;
    int ts, rc = IRIS_OK;
    if (!WebPAnimDecoderGetInfo(dec, &info) || info.canvas_width != (uint32_t)img->width ||
        info.canvas_height != (uint32_t)img->height || !WebPAnimDecoderGetNext(dec, &canvas, &ts))
        rc = iris_fail(IRIS_EFORMAT, "%s: bad animated WebP: cannot decode frame 1", ctx->name);
    for (size_t i = 0; !rc && i < (size_t)img->width * (size_t)img->height; i++)
        memcpy(img->rgb + 3 * i, canvas + 4 * i, 3);
    WebPAnimDecoderDelete(dec);
    return rc;
}

/* EXIF chunk's orientation, else the XMP chunk's (Pillow's order). */
static int webp_orientation(const uint8_t *data, size_t size)
{
    WebPData wd = {data, size};
    WebPDemuxer *demux = WebPDemux(&wd);
    if (!demux) return -1;
    WebPChunkIterator it;
    int o = -1;
    if (WebPDemuxGetChunk(demux, "EXIF", 1, &it)) {
        o = media_exif_orientation(it.chunk.bytes, it.chunk.size);
        WebPDemuxReleaseChunkIterator(&it);
    }
    if (o < 0 && WebPDemuxGetChunk(demux, "XMP ", 1, &it)) {
        o = media_xmp_orientation(it.chunk.bytes, it.chunk.size);
        WebPDemuxReleaseChunkIterator(&it);
    }
    WebPDemuxDelete(demux);
    return o;
}

int media_decode_webp(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out)
{
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(data, size, &f);
    if (st != VP8_STATUS_OK) return webp_fail(ctx, st);
    iris_image img = {0};
    int rc = media_image_alloc(ctx, (uint64_t)f.width, (uint64_t)f.height, &img);
    if (!rc)
        rc = f.has_animation ? decode_first_frame(ctx, data, size, &img)
                             : decode_still(ctx, data, size, &img);
    if (rc) {
        iris_image_free(&img);
        return rc;
    }
    ctx->orientation = webp_orientation(data, size);
    *out = img;
    return IRIS_OK;
}
