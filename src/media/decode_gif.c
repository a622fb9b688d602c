/*
 * decode_gif.c - the first frame of a GIF through giflib, as Pillow shows it.
 *
 * We walk the records ourselves (DGifGetRecordType / DGifGetLine) instead of
 * DGifSlurp(), which would decode every frame of an animation into memory
 * only for us to keep the first. What Pillow does with frame 0, replicated:
 *  - the canvas is the logical screen, enlarged if the frame reaches past
 *    it; pixels outside the frame take the transparent index of the
 *    frame's graphic control extension when it has one, else index 0;
 *  - colours come from the local colour table, else the global one; if
 *    that table is the grey ramp (entry i = (i, i, i)) or there is none,
 *    Pillow uses mode "L" and the index itself is the grey level;
 *    otherwise an index past the table's end is black;
 *  - transparency does not change colours (convert("RGB") drops it).
 * Memory: the RGB canvas plus one line of indices.
 */
#include "media/image.h"

#include "util/error.h"

#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

typedef struct gif_src {
    const uint8_t *data;
    size_t size, pos;
} gif_src;

static int read_mem(GifFileType *gif, GifByteType *dst, int n)
{
    gif_src *s = gif->UserData;
    size_t left = s->size - s->pos, m = n < 0 ? 0 : (size_t)n;
    if (m > left) m = left;
    memcpy(dst, s->data + s->pos, m);
    s->pos += m;
    return (int)m;
}

static int gif_error(const media_ctx *ctx, int code)
{
    const char *why = GifErrorString(code);
    return iris_fail(code == D_GIF_ERR_NOT_ENOUGH_MEM ? IRIS_ENOMEM : IRIS_EFORMAT,
                     "%s: bad GIF: %s", ctx->name, why ? why : "unknown error");
}

/* The colour of each index, as Pillow's P or L mode gives it. */
static void build_table(const ColorMapObject *map, media_palette *t)
{
    int grey = 1;
    for (int i = 0; map && i < map->ColorCount && i < 256; i++) {
        const GifColorType *c = &map->Colors[i];
        if (c->Red != i || c->Green != i || c->Blue != i) grey = 0;
    }
    memset(t, 0, sizeof *t);
    for (int i = 0; i < 256; i++) {
        if (grey) {
            t->rgb[i][0] = t->rgb[i][1] = t->rgb[i][2] = (uint8_t)i;
        } else if (i < map->ColorCount) {
            t->rgb[i][0] = map->Colors[i].Red;
            t->rgb[i][1] = map->Colors[i].Green;
            t->rgb[i][2] = map->Colors[i].Blue;
        }
    }
}

/* Skips extensions up to the first image descriptor, remembering the
 * transparent index of graphic control extensions (-1 if none). */
static int find_first_image(const media_ctx *ctx, GifFileType *gif, int *transparent)
{
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) return gif_error(ctx, gif->Error);
        if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) == GIF_ERROR) return gif_error(ctx, gif->Error);
            return IRIS_OK;
        }
        if (type == TERMINATE_RECORD_TYPE)
            return iris_fail(IRIS_EFORMAT, "%s: GIF has no image", ctx->name);
        if (type != EXTENSION_RECORD_TYPE) continue;
        int code;
        GifByteType *block;
        if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) return gif_error(ctx, gif->Error);
        if (code == GRAPHICS_EXT_FUNC_CODE && block && block[0] >= 4 && (block[1] & 1))
            *transparent = block[4];
        while (block)
            if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) return gif_error(ctx, gif->Error);
    }
}

static int read_frame(const media_ctx *ctx, GifFileType *gif, const media_palette *t,
                      iris_image *img)
{
    const GifImageDesc *d = &gif->Image;
    GifPixelType *line = malloc((size_t)d->Width);
    if (!line) return iris_fail(IRIS_ENOMEM, "%s: no memory for a GIF line", ctx->name);
    static const int start[] = {0, 4, 2, 1}, step[] = {8, 8, 4, 2};
    int passes = d->Interlace ? 4 : 1, rc = IRIS_OK;
    for (int p = 0; p < passes && !rc; p++) {
        int y0 = d->Interlace ? start[p] : 0, dy = d->Interlace ? step[p] : 1;
        for (int y = y0; y < d->Height; y += dy) {
            if (DGifGetLine(gif, line, d->Width) == GIF_ERROR) {
                rc = gif_error(ctx, gif->Error);
                break;
            }
            uint8_t *dst = img->rgb + (((size_t)(d->Top + y) * img->width) + d->Left) * 3;
            for (int x = 0; x < d->Width; x++) memcpy(dst + 3 * x, t->rgb[line[x]], 3);
        }
    }
    free(line);
    return rc;
}

static int decode(media_ctx *ctx, GifFileType *gif, iris_image *out)
{
    int transparent = -1;
    int rc = find_first_image(ctx, gif, &transparent);
    if (rc) return rc;
    const GifImageDesc *d = &gif->Image;
    if (d->Left < 0 || d->Top < 0 || d->Width <= 0 || d->Height <= 0)
        return iris_fail(IRIS_EFORMAT, "%s: GIF frame has no pixels", ctx->name);
    uint64_t w = (uint64_t)d->Left + (uint64_t)d->Width, h = (uint64_t)d->Top + (uint64_t)d->Height;
    if (w < (uint64_t)gif->SWidth) w = (uint64_t)gif->SWidth;
    if (h < (uint64_t)gif->SHeight) h = (uint64_t)gif->SHeight;
    media_palette table;
    build_table(d->ColorMap ? d->ColorMap : gif->SColorMap, &table);
    if ((rc = media_image_alloc(ctx, w, h, out))) return rc;
    const uint8_t *fill = table.rgb[transparent >= 0 ? transparent : 0];
    for (size_t i = 0; i < (size_t)w * h; i++) memcpy(out->rgb + 3 * i, fill, 3);
    return read_frame(ctx, gif, &table, out);
}

int media_decode_gif(media_ctx *ctx, const uint8_t *data, size_t size, iris_image *out)
{
    gif_src src = {data, size, 0};
    int err = 0;
    GifFileType *gif = DGifOpen(&src, read_mem, &err);
    if (!gif) return gif_error(ctx, err);
    iris_image img = {0};
    int rc = decode(ctx, gif, &img);
    DGifCloseFile(gif, &err);
    if (rc) iris_image_free(&img);
    else *out = img;
    return rc;
}
