#!/usr/bin/env python3
"""Writes the image fixtures and goldens of iris's decode and preprocess tests.

    .venv/bin/python tools/reference/make_image_fixtures.py [--out tests/fixtures/images]

Everything is generated (no photos are copied): small images in every format
and mode iris decodes, written by Pillow where Pillow can write them and by
the small hand-made writers below where it cannot (2/4/16-bit PNG, Adam7
interlace, RLE and bit-field BMPs, 16-bit TIFF, GIF frames with offsets),
plus hostile files (absurd sizes). The expected values all come from the
reference, never from iris:

  decode.txt      one line a fixture:  file w h sha256(RGB) ow oh sha256(RGB')
                  RGB  = Image.open(f).convert("RGB")          (Hugging Face's view)
                  RGB' = ImageOps.exif_transpose(Image.open(f)).convert("RGB")
                  or:  file ERROR CODE   for files that must fail with IRIS_E<CODE>
  preprocess.txt  one line a case: name w h pattern size crop sha256(float32 tensor)
                  the tensor is CLIPImageProcessor's pixel_values for a synthetic
                  image that tests/unit/test_preprocess.c regenerates bit for bit
                  (see pattern() below), or for a fixture file (pattern = file).

Re-running it rewrites the same bytes (fixed seeds, deterministic writers).
"""
import argparse
import hashlib
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# --------------------------------------------------------------- content


def pattern(w, h, kind):
    """Synthetic RGB image, reproduced exactly by tests/unit/test_preprocess.c.

    kind 0: integer hash noise (worst case for a resampler);
    kind 1: smooth gradients with a hard-edged square (edges ring with bicubic).
    """
    y, x = np.mgrid[0:h, 0:w].astype(np.uint64)
    out = np.zeros((h, w, 3), np.uint8)
    for c in range(3):
        if kind == 0:
            v = (x * 73856093) ^ (y * 19349663) ^ np.uint64(c * 83492791 + 12345)
            v = ((v & 0xFFFFFFFF) * 2654435761) & 0xFFFFFFFF
            out[..., c] = (v >> 24).astype(np.uint8)
        else:
            v = (x * 255 // max(w - 1, 1) * (c + 1) + y * 255 // max(h - 1, 1) * (3 - c)) // 4
            inside = (x * 3 >= w) & (x * 3 < 2 * w) & (y * 3 >= h) & (y * 3 < 2 * h)
            v = np.where(inside, 255 - v, v)
            out[..., c] = (v & 255).astype(np.uint8)
    return out


def photo(w, h, seed=1):
    """A small photo-like RGB image: gradients, a disc, mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = 120 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)
    g = 255.0 * x / max(w - 1, 1)
    b = 255.0 * y / max(h - 1, 1)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.3) ** 2
    img = np.stack([r, g, b], -1)
    img[disc] = [250, 40, 30]
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def random_cmyk(w, h):
    """CMYK with every ink used, black included (convert("CMYK") leaves K = 0)."""
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "CMYK")


# --------------------------------------------------------------- writers


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(vals, depth):
    """Packs samples (already flattened per row) at depth bits, MSB first."""
    if depth == 8:
        return bytes(int(v) for v in vals)
    if depth == 16:
        return b"".join(struct.pack(">H", int(v)) for v in vals)
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(vals), per):
        byte = 0
        for j in range(per):
            v = int(vals[i + j]) if i + j < len(vals) else 0
            byte |= v << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def make_png(samples, ctype, depth, plte=None, trns=None, interlace=False, extra=b"", after=b""):
    """samples: (h, w, channels) integer array of raw sample values."""
    h, w = samples.shape[:2]
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\0" + pack_row(row.reshape(-1), depth)
    s = b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlace)))
    s += extra
    if plte is not None:
        s += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        s += png_chunk(b"tRNS", trns)
    s += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    return s + after + png_chunk(b"IEND", b"")


def exif_block(orientation, big_endian=False):
    e = Image.Exif()
    e[274] = orientation
    data = e.tobytes()  # starts with "Exif\0\0"
    if big_endian:  # hand-made MM block with one entry
        data = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01" + struct.pack(">HHIHH", 274, 3, 1, orientation, 0) + b"\0\0\0\0"
    return data


def xmp_packet(orientation, attribute=True):
    tag = (f'tiff:Orientation="{orientation}"' if attribute
           else f"<tiff:Orientation>{orientation}</tiff:Orientation>")
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
            '02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
            + (tag if attribute else ">" + tag) + "</rdf:Description></rdf:RDF></x:xmpmeta>").encode()


def bmp_file(info_header, pixel_bytes, palette=b"", masks=b""):
    offset = 14 + len(info_header) + len(masks) + len(palette)
    size = offset + len(pixel_bytes)
    return b"BM" + struct.pack("<IHHI", size, 0, 0, offset) + info_header + masks + palette + pixel_bytes


def bmp_info(w, h, bits, compression=0, colors=0, size=40, masks=None):
    hdr = struct.pack("<IiiHHIIiiII", size, w, h, 1, bits, compression, 0, 2835, 2835, colors, 0)
    if size > 40:
        m = list(masks or [0, 0, 0, 0]) + [0] * 4
        hdr += struct.pack("<IIII", *m[:4])
        hdr += b"\0" * (size - len(hdr))
    return hdr


def bmp_rows(rows_bytes):
    """Bottom-up rows, each padded to 4 bytes."""
    out = b""
    for r in reversed(rows_bytes):
        out += r + b"\0" * (-len(r) % 4)
    return out


def tiff_file(w, h, spp, bps, photometric, data, extra_tags=()):
    """Minimal little-endian, uncompressed, single-strip TIFF."""
    tags = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, spp, None), (259, 3, 1, 1),
            (262, 3, 1, photometric), (273, 4, 1, None), (277, 3, 1, spp), (278, 4, 1, h),
            (279, 4, 1, len(data)), (284, 3, 1, 1)] + list(extra_tags)
    tags.sort()
    n = len(tags)
    ifd_size = 2 + 12 * n + 4
    bps_at = 8 + ifd_size
    data_at = bps_at + 2 * spp
    out = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", n)
    for tag, typ, count, value in tags:
        if tag == 258:
            value = bps if spp == 1 else bps_at
            if spp <= 2:
                out += struct.pack("<HHIHH", tag, typ, count, bps, bps if spp == 2 else 0)
                continue
        if tag == 273:
            value = data_at
        if typ == 3 and count == 1:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += b"\0\0\0\0"
    out += struct.pack("<" + "H" * spp, *([bps] * spp))
    return out + data


def lzw_gif_data(indices, min_code_size):
    """Uncompressed-style LZW: a clear code before the table would grow."""
    clear, eoi = 1 << min_code_size, (1 << min_code_size) + 1
    width = min_code_size + 1
    codes = [clear]
    run = 0
    for v in indices:
        if run == (1 << min_code_size) - 2:
            codes.append(clear)
            run = 0
        codes.append(int(v))
        run += 1
    codes.append(eoi)
    bits = 0
    nbits = 0
    out = bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 255)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 255)
    blocks = bytearray([min_code_size])
    for i in range(0, len(out), 255):
        chunk = out[i:i + 255]
        blocks += bytes([len(chunk)]) + chunk
    return bytes(blocks + b"\0")


def gif_file(sw, sh, frame, left, top, global_pal=None, local_pal=None, transparent=None,
             min_code_size=None, trailer=b";"):
    fh, fw = frame.shape
    s = b"GIF89a" + struct.pack("<HH", sw, sh)
    if global_pal is not None:
        bits = (len(global_pal) // 3 - 1).bit_length()
        s += bytes([0x80 | (bits - 1), 0, 0]) + bytes(global_pal)
    else:
        s += b"\0\0\0"
    if transparent is not None:
        s += b"\x21\xf9\x04\x01\0\0" + bytes([transparent]) + b"\0"
    flags = 0
    if local_pal is not None:
        bits = (len(local_pal) // 3 - 1).bit_length()
        flags = 0x80 | (bits - 1)
    s += b"," + struct.pack("<HHHHB", left, top, fw, fh, flags)
    if local_pal is not None:
        s += bytes(local_pal)
    mcs = min_code_size or max(2, int(frame.max()).bit_length())
    return s + lzw_gif_data(frame.reshape(-1), mcs) + trailer


# --------------------------------------------------------------- fixtures


def pil_save(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def jpeg_fixtures(base):
    rgb = Image.fromarray(base)
    f = {
        "jpeg_420.jpg": pil_save(rgb, "JPEG", quality=90, subsampling=2),
        "jpeg_422.jpg": pil_save(rgb, "JPEG", quality=90, subsampling=1),
        "jpeg_444.jpg": pil_save(rgb, "JPEG", quality=90, subsampling=0),
        "jpeg_progressive.jpg": pil_save(rgb, "JPEG", quality=85, progressive=True),
        "jpeg_optimized_restart.jpg": pil_save(rgb, "JPEG", quality=80, optimize=True,
                                               restart_marker_blocks=2),
        "jpeg_grey.jpg": pil_save(rgb.convert("L"), "JPEG", quality=90),
        "jpeg_cmyk.jpg": pil_save(rgb.convert("CMYK"), "JPEG", quality=90),
        "jpeg_cmyk_random.jpg": pil_save(random_cmyk(37, 29), "JPEG", quality=95),
        "jpeg_xmp_orientation6.jpg": pil_save(rgb, "JPEG", quality=90, xmp=xmp_packet(6)),
        "jpeg_exif_mm_orientation3.jpg": pil_save(rgb, "JPEG", quality=90,
                                                  exif=exif_block(3, big_endian=True)),
        "jpeg_exif_orientation9.jpg": pil_save(rgb, "JPEG", quality=90, exif=exif_block(9)),
    }
    for o in range(1, 9):
        f[f"jpeg_orientation{o}.jpg"] = pil_save(rgb, "JPEG", quality=90, exif=exif_block(o))
    return f


def png_fixtures(base):
    grey = (base.astype(np.uint32) @ np.array([299, 587, 114]) // 1000).astype(np.uint16)
    h, w = grey.shape
    alpha = ((np.arange(w)[None, :] * 7 + np.arange(h)[:, None] * 3) % 256).astype(np.uint16)
    wide16 = grey.astype(np.uint32) * 257 - (np.arange(w)[None, :] % 3)
    idx = ((base[..., 0] // 64) * 4 + base[..., 1] // 64).astype(np.uint8)  # 0..15
    pal16 = bytes(v for i in range(16) for v in (i * 16, 255 - i * 16, (i * 37) % 256))
    f = {}
    for depth in (1, 2, 4, 8):
        f[f"png_grey{depth}.png"] = make_png((grey >> (8 - depth))[..., None], 0, depth)
    f["png_grey16.png"] = make_png((grey.astype(np.uint32) * 3)[..., None], 0, 16)
    f["png_grey16_full.png"] = make_png(wide16[..., None], 0, 16)
    f["png_grey_trns.png"] = make_png(grey[..., None], 0, 8, trns=b"\0\x80")
    f["png_grey_alpha8.png"] = make_png(np.stack([grey, alpha], -1), 4, 8)
    f["png_grey_alpha16.png"] = make_png(np.stack([wide16, alpha * 257], -1), 4, 16)
    f["png_rgb8.png"] = pil_save(Image.fromarray(base), "PNG")
    f["png_rgb16.png"] = make_png(np.minimum(base.astype(np.uint32) * 257 + 100, 65535), 2, 16)
    f["png_rgb_trns.png"] = make_png(base, 2, 8, trns=struct.pack(">HHH", 10, 20, 30))
    rgba = np.concatenate([base, alpha[..., None].astype(np.uint8)], -1)
    rgba[0, :4, 3] = 0  # transparent pixels keep their colour
    f["png_rgba8.png"] = pil_save(Image.fromarray(rgba, "RGBA"), "PNG")
    f["png_rgba16.png"] = make_png(np.concatenate([np.minimum(base.astype(np.uint32) * 257 + 77, 65535),
                                                   (alpha * 257)[..., None]], -1), 6, 16)
    for depth in (1, 2, 4, 8):
        n = 1 << depth
        f[f"png_palette{depth}.png"] = make_png((idx.astype(np.uint32) % n)[..., None], 3, depth,
                                                plte=pal16[:3 * min(n, 16)] + bytes(3 * max(0, min(n, 256) - 16)))
    f["png_palette_trns.png"] = make_png(idx[..., None], 3, 8, plte=pal16, trns=bytes([0, 128, 255]))
    f["png_palette_out_of_range.png"] = make_png(idx[..., None], 3, 8, plte=pal16[:3 * 5])
    f["png_interlaced_rgb.png"] = make_png(base, 2, 8, interlace=True)
    f["png_interlaced_grey2.png"] = make_png((grey >> 6)[..., None], 0, 2, interlace=True)
    f["png_interlaced_rgba16.png"] = make_png(np.concatenate([base.astype(np.uint32) * 257,
                                                              (alpha * 257)[..., None]], -1), 6, 16,
                                              interlace=True)
    f["png_interlaced_palette4.png"] = make_png(idx[..., None], 3, 4, plte=pal16, interlace=True)
    f["png_exif_orientation6.png"] = make_png(base, 2, 8, extra=png_chunk(b"eXIf", exif_block(6)[6:]))
    f["png_exif_after_idat_orientation8.png"] = make_png(
        base, 2, 8, after=png_chunk(b"eXIf", exif_block(8)[6:]))
    itxt = b"XML:com.adobe.xmp\0\0\0\0\0" + xmp_packet(5, attribute=False)
    f["png_xmp_orientation5.png"] = make_png(base, 2, 8, extra=png_chunk(b"iTXt", itxt))
    raw = exif_block(7)
    text = f"\nexif\n{len(raw):8d}\n".encode() + raw.hex().encode() + b"\n"
    f["png_raw_profile_orientation7.png"] = make_png(
        base, 2, 8, extra=png_chunk(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(text)))
    # PNG saved as .jpg: the format is decided by magic bytes.
    f["png_named_as.jpg"] = f["png_rgb8.png"]
    return f


def webp_fixtures(base):
    rgb = Image.fromarray(base)
    alpha = ((np.arange(base.shape[1])[None, :] * 9) % 256).astype(np.uint8)
    rgba = Image.fromarray(np.concatenate([base, np.broadcast_to(alpha, base.shape[:2])[..., None]], -1), "RGBA")
    frame2 = Image.fromarray(255 - base)
    return {
        "webp_lossy.webp": pil_save(rgb, "WEBP", quality=80, method=4),
        "webp_lossless.webp": pil_save(rgb, "WEBP", lossless=True),
        "webp_lossy_alpha.webp": pil_save(rgba, "WEBP", quality=80, method=4),
        "webp_lossless_alpha.webp": pil_save(rgba, "WEBP", lossless=True, exact=True),
        "webp_animated.webp": pil_save(rgb, "WEBP", save_all=True, append_images=[frame2],
                                       duration=100, lossless=True),
        "webp_orientation6.webp": pil_save(rgb, "WEBP", quality=80, exif=exif_block(6)),
    }


def gif_fixtures(base):
    rgb = Image.fromarray(base)
    p = rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = p.getpalette()[:64 * 3]
    frame = np.array(p)
    h, w = frame.shape
    grey_ramp = bytes(v for i in range(16) for v in (i, i, i))
    f = {
        "gif_static.gif": pil_save(p, "GIF", interlace=False),
        "gif_interlaced.gif": pil_save(p, "GIF", interlace=True),
        "gif_transparent.gif": pil_save(p, "GIF", transparency=3),
        "gif_animated.gif": pil_save(p, "GIF", save_all=True,
                                     append_images=[rgb.transpose(Image.Transpose.ROTATE_180).quantize(16)]),
        "gif_offset_frame.gif": gif_file(w + 9, h + 5, frame, 6, 3, global_pal=pal),
        "gif_offset_transparent.gif": gif_file(w + 9, h + 5, frame, 6, 3, global_pal=pal, transparent=5),
        "gif_frame_past_screen.gif": gif_file(w // 2, h // 2, frame, 2, 1, global_pal=pal),
        "gif_local_palette.gif": gif_file(w, h, frame, 0, 0, global_pal=pal[::-1] + pal[:0],
                                          local_pal=pal),
        "gif_grey_ramp.gif": gif_file(w, h, frame % 16, 0, 0, global_pal=grey_ramp),
        "gif_grey_ramp_out_of_range.gif": gif_file(w, h, (frame % 8) * 4, 0, 0,
                                                   global_pal=grey_ramp[:3 * 4], min_code_size=5),
        "gif_no_palette.gif": gif_file(w, h, frame, 0, 0),
        "gif_out_of_range.gif": gif_file(w, h, frame, 0, 0, global_pal=pal[:3 * 8], min_code_size=6),
        "gif_no_trailer.gif": gif_file(w, h, frame, 0, 0, global_pal=pal, trailer=b""),
    }
    return f


def rle_encode_row(indices, rle4):
    """A mix of encoded runs and absolute runs, as encoders produce."""
    out = bytearray()
    i, n = 0, len(indices)
    while i < n:
        j = i
        while j < n and indices[j] == indices[i] and j - i < 255:
            j += 1
        if j - i >= 3 or n - i < 3:
            v = indices[i]
            out += bytes([j - i, (v << 4 | v) if rle4 else v])
            i = j
        else:
            k = min(n, i + 9)
            run = indices[i:k]
            if rle4:
                packed = bytearray()
                for a in range(0, len(run), 2):
                    hi = run[a]
                    lo = run[a + 1] if a + 1 < len(run) else 0
                    packed.append(hi << 4 | lo)
                body = bytes(packed)
            else:
                body = bytes(run)
            out += bytes([0, len(run)]) + body + (b"\0" if len(body) % 2 else b"")
            i = k
    return bytes(out)


def bmp_fixtures(base):
    h, w = base.shape[:2]
    rgb = Image.fromarray(base)
    idx8 = np.array(rgb.quantize(colors=200, dither=Image.Dither.NONE))
    pal8 = rgb.quantize(colors=200, dither=Image.Dither.NONE).getpalette()[:600]
    bgrx = bytes(v for i in range(200) for v in (pal8[3 * i + 2], pal8[3 * i + 1], pal8[3 * i], 0))
    idx4 = (idx8 % 16).astype(np.uint8)
    pal4 = bgrx[:64]
    f = {
        "bmp_24.bmp": pil_save(rgb, "BMP"),
        "bmp_8_palette.bmp": pil_save(rgb.quantize(colors=200, dither=Image.Dither.NONE), "BMP"),
        "bmp_8_grey.bmp": pil_save(rgb.convert("L"), "BMP"),
        "bmp_1.bmp": pil_save(rgb.convert("1"), "BMP"),
        "bmp_32_bgra.bmp": pil_save(rgb.convert("RGBA"), "BMP"),
    }
    rows4 = [pack_row(r, 4) for r in idx4]
    f["bmp_4_palette.bmp"] = bmp_file(bmp_info(w, h, 4, colors=16), bmp_rows(rows4), palette=pal4)
    f["bmp_1_palette_colour.bmp"] = bmp_file(
        bmp_info(w, h, 1, colors=2), bmp_rows([pack_row(r % 2, 1) for r in idx4]),
        palette=bytes([200, 10, 30, 0, 5, 250, 90, 0]))
    f["bmp_8_out_of_range.bmp"] = bmp_file(bmp_info(w, h, 8, colors=7),
                                           bmp_rows([bytes(r) for r in idx8]), palette=bgrx[:28])
    b16 = base.astype(np.uint32) >> 3
    p555 = (b16[..., 0] << 10) | (b16[..., 1] << 5) | b16[..., 2]
    f["bmp_16_555.bmp"] = bmp_file(bmp_info(w, h, 16), bmp_rows([struct.pack("<%dH" % w, *r) for r in p555]))
    p565 = (b16[..., 0] << 11) | ((base[..., 1].astype(np.uint32) >> 2) << 5) | b16[..., 2]
    f["bmp_16_565_bitfields.bmp"] = bmp_file(
        bmp_info(w, h, 16, compression=3), bmp_rows([struct.pack("<%dH" % w, *r) for r in p565]),
        masks=struct.pack("<III", 0xF800, 0x7E0, 0x1F))
    argb = [bytes(v for px in r for v in (px[2], px[1], px[0], 128)) for r in base]
    f["bmp_32_v5_alpha_bitfields.bmp"] = bmp_file(
        bmp_info(w, h, 32, compression=3, size=124, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)),
        bmp_rows(argb))
    rgba_order = [bytes(v for px in r for v in (px[0], px[1], px[2], 9)) for r in base]
    f["bmp_32_v4_rgba_bitfields.bmp"] = bmp_file(
        bmp_info(w, h, 32, compression=3, size=108, masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000)),
        bmp_rows(rgba_order))
    bgr_rows = [bytes(v for px in r for v in (px[2], px[1], px[0])) for r in base]
    top_down = b"".join(r + b"\0" * (-len(r) % 4) for r in bgr_rows)
    f["bmp_24_top_down.bmp"] = bmp_file(bmp_info(w, -h, 24), top_down)
    core = struct.pack("<IHHHH", 12, w, h, 1, 24)
    f["bmp_os2_core_24.bmp"] = bmp_file(core, bmp_rows(bgr_rows))
    rle8 = b"".join(rle_encode_row(list(r), False) + b"\0\0" for r in reversed(idx8)) + b"\0\1"
    f["bmp_rle8.bmp"] = bmp_file(bmp_info(w, h, 8, compression=1, colors=200), rle8, palette=bgrx)
    rle4 = b"".join(rle_encode_row(list(r), True) + b"\0\0" for r in reversed(idx4)) + b"\0\1"
    f["bmp_rle4.bmp"] = bmp_file(bmp_info(w, h, 4, compression=2, colors=16), rle4, palette=pal4)
    # Delta escape: skip 3 right and 2 up from the start, then end the bitmap.
    rle_delta = bytes([4, 1, 0, 2, 3, 2, 5, 2, 0, 0, 2, 7]) + b"\0\1"
    f["bmp_rle8_delta.bmp"] = bmp_file(bmp_info(w, h, 8, compression=1, colors=200), rle_delta,
                                       palette=bgrx)
    # Pillow refuses a bitmap ended early ("not enough image data"); iris leaves
    # the pixels not written at index 0. The expected image, by construction:
    idx = np.zeros(w * h, np.uint8)
    idx[0:4] = 1
    at = 4 + 3 + 2 * w
    idx[at:at + 5] = 2
    nxt = (at + 5 + w - 1) // w * w
    idx[nxt:nxt + 2] = 7
    pal = np.array(pal8, np.uint8).reshape(-1, 3)
    BY_CONSTRUCTION["bmp_rle8_delta.bmp"] = pal[idx.reshape(h, w)[::-1]]
    return f


# Fixtures whose expected pixels are built by hand (Pillow cannot decode them).
BY_CONSTRUCTION = {}


def tiff_fixtures(base):
    rgb = Image.fromarray(base)
    h, w = base.shape[:2]
    alpha = ((np.arange(w)[None, :] * 11) % 256).astype(np.uint8)
    rgba = Image.fromarray(np.concatenate([base, np.broadcast_to(alpha, (h, w))[..., None]], -1), "RGBA")
    grey16 = (base[..., 0].astype(np.uint16) * 3 + base[..., 2] // 2).astype("<u2")
    f = {
        "tiff_rgb_raw.tif": pil_save(rgb, "TIFF"),
        "tiff_rgb_lzw.tif": pil_save(rgb, "TIFF", compression="tiff_lzw"),
        "tiff_rgb_deflate.tif": pil_save(rgb, "TIFF", compression="tiff_adobe_deflate"),
        "tiff_rgb_packbits.tif": pil_save(rgb, "TIFF", compression="packbits"),
        "tiff_grey.tif": pil_save(rgb.convert("L"), "TIFF", compression="tiff_lzw"),
        "tiff_palette.tif": pil_save(rgb.quantize(colors=50), "TIFF"),
        "tiff_rgba.tif": pil_save(rgba, "TIFF", compression="tiff_lzw"),
        "tiff_orientation6.tif": pil_save(rgb, "TIFF", tiffinfo={274: 6}),
        "tiff_grey16.tif": tiff_file(w, h, 1, 16, 1, grey16.tobytes()),
        "tiff_cmyk.tif": pil_save(random_cmyk(w, h), "TIFF", compression="tiff_lzw"),
        "tiff_jpeg_ycbcr.tif": pil_save(rgb, "TIFF", compression="jpeg"),
        "tiff_bilevel_g4.tif": pil_save(rgb.convert("1"), "TIFF", compression="group4"),
        "tiff_grey_alpha.tif": pil_save(rgb.convert("LA"), "TIFF"),
        # 150 rows in 3-row strips: iris reads it in several bands.
        "tiff_strips_orientation7.tif": pil_save(Image.fromarray(photo(40, 150, seed=4)), "TIFF",
                                                 compression="tiff_lzw", tiffinfo={278: 3, 274: 7}),
        "tiff_rgb16.tif": tiff_file(w, h, 3, 16, 2,
                                    np.minimum(base.astype(np.uint32) * 257 + 99, 65535).astype("<u2").tobytes()),
    }
    return f


def hostile_fixtures(base):
    """Files that must be refused, with the IRIS_E* code expected."""
    f = {}
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    f["hostile_bomb.png"] = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
                             + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""), "LIMIT")
    good_jpg = pil_save(Image.fromarray(base), "JPEG", quality=50)
    jpg = bytearray(good_jpg)
    sof = jpg.find(b"\xff\xc0")
    jpg[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    f["hostile_bomb.jpg"] = (bytes(jpg), "LIMIT")
    f["hostile_bomb.gif"] = (gif_file(65535, 65535, np.zeros((2, 2), np.uint8), 0, 0,
                                      global_pal=bytes(12)), "LIMIT")
    f["hostile_bomb.bmp"] = (bmp_file(bmp_info(100000, 100000, 24), b"\0" * 64), "LIMIT")
    webp = bytearray(webp_fixtures(base)["webp_animated.webp"])  # canvas-only size
    vp8x = webp.find(b"VP8X")
    webp[vp8x + 12:vp8x + 18] = struct.pack("<I", 16383)[:3] + struct.pack("<I", 16383)[:3]
    f["hostile_bomb.webp"] = (bytes(webp), "LIMIT")
    f["hostile_bomb.tif"] = (tiff_file(100000, 100000, 3, 8, 2, b"\0" * 64), "LIMIT")
    f["hostile_zero_width.png"] = (make_png(np.zeros((3, 0, 3), np.uint8), 2, 8), "FORMAT")
    f["hostile_text.jpg"] = (b"this is not an image at all\n", "FORMAT")
    f["hostile_truncated.jpg"] = (good_jpg[: len(good_jpg) // 2], "FORMAT")
    f["hostile_truncated.png"] = (png_fixtures(base)["png_rgb16.png"][:300], "FORMAT")
    f["hostile_bad_crc.png"] = (png_fixtures(base)["png_rgb8.png"][:29] + b"\0\0\0\0"
                                + png_fixtures(base)["png_rgb8.png"][33:], "FORMAT")
    f["hostile_heic.heic"] = (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(40), "UNSUPPORTED")
    f["hostile_bmp_rle_truncated.bmp"] = (bmp_fixtures(base)["bmp_rle8.bmp"][:400], "FORMAT")
    return f


# --------------------------------------------------------------- goldens


def sha(b):
    return hashlib.sha256(b).hexdigest()


def decode_line(name, data):
    if name in BY_CONSTRUCTION:
        rgb = np.ascontiguousarray(BY_CONSTRUCTION[name])
        d = f"{rgb.shape[1]} {rgb.shape[0]} {sha(rgb.tobytes())}"
        return f"{name} {d} {d}"
    im = Image.open(io.BytesIO(data))
    rgb = np.ascontiguousarray(np.array(im.convert("RGB")))
    ot = np.ascontiguousarray(np.array(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")))
    return (f"{name} {rgb.shape[1]} {rgb.shape[0]} {sha(rgb.tobytes())} "
            f"{ot.shape[1]} {ot.shape[0]} {sha(ot.tobytes())}")


def processor(size, crop):
    from transformers import CLIPImageProcessor
    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": crop, "width": crop})


def reference_pixels(rgb, size, crop):
    """CLIPImageProcessor's tensor for an RGB uint8 array. input_data_format is
    given because HF guesses channels-first for images 1 or 3 pixels high."""
    out = processor(size, crop)(images=rgb, return_tensors="np", input_data_format="channels_last")
    return np.ascontiguousarray(out["pixel_values"][0], dtype=np.float32)


SYNTHETIC = [  # w, h, pattern, size, crop
    (1, 1, 0, 224, 224), (1, 7, 0, 224, 224), (7, 1, 1, 224, 224), (1, 500, 1, 224, 224),
    (500, 1, 0, 224, 224), (2, 2, 0, 224, 224), (3, 3, 1, 224, 224), (5, 3, 0, 224, 224),
    (224, 224, 0, 224, 224), (224, 300, 1, 224, 224), (300, 224, 0, 224, 224),
    (225, 224, 1, 224, 224), (223, 224, 0, 224, 224), (224, 223, 1, 224, 224),
    (640, 480, 0, 224, 224), (640, 480, 1, 224, 224), (481, 321, 1, 224, 224),
    (1000, 30, 0, 224, 224), (30, 1000, 1, 224, 224), (1500, 3, 0, 224, 224),
    (100, 100, 1, 224, 224), (50, 80, 0, 224, 224), (1500, 1001, 1, 224, 224),
    (640, 480, 1, 336, 336), (123, 457, 0, 336, 336), (1, 1, 1, 336, 336), (999, 333, 0, 336, 336),
    (64, 48, 0, 8, 8), (9, 13, 1, 8, 5), (64, 48, 1, 6, 8), (5, 4, 0, 6, 9), (640, 480, 0, 7, 7),
    (31, 17, 1, 224, 256), (300, 200, 0, 16, 16),
]


def preprocess_lines(files):
    lines = []
    for w, h, kind, size, crop in SYNTHETIC:
        px = reference_pixels(pattern(w, h, kind), size, crop)
        lines.append(f"synthetic_{w}x{h}_p{kind}_{size}_{crop} {w} {h} {kind} {size} {crop} {sha(px.tobytes())}")
    for name in sorted(files):
        data = files[name]
        if isinstance(data, tuple) or name in BY_CONSTRUCTION:
            continue
        im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        for size, crop in ((224, 224), (12, 10)):
            px = reference_pixels(np.array(im), size, crop)
            lines.append(f"file_{name}_{size}_{crop} {im.width} {im.height} {name} {size} {crop} "
                         f"{sha(px.tobytes())}")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "images"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    base = photo(37, 29)
    files = {}
    for make in (jpeg_fixtures, png_fixtures, webp_fixtures, gif_fixtures, bmp_fixtures,
                 tiff_fixtures, hostile_fixtures):
        files.update(make(base))
    files["jpeg_large_odd.jpg"] = pil_save(Image.fromarray(photo(203, 151, seed=2)), "JPEG", quality=92)
    decode = []
    for name in sorted(files):
        data = files[name]
        if isinstance(data, tuple):
            data, code = data
            decode.append(f"{name} ERROR {code}")
        else:
            decode.append(decode_line(name, data))
        with open(os.path.join(a.out, name), "wb") as fh:
            fh.write(data)
    with open(os.path.join(a.out, "decode.txt"), "w") as fh:
        fh.write("\n".join(decode) + "\n")
    with open(os.path.join(a.out, "preprocess.txt"), "w") as fh:
        fh.write("\n".join(preprocess_lines(files)) + "\n")
    total = sum(len(v[0] if isinstance(v, tuple) else v) for v in files.values())
    print(f"{len(files)} fixtures, {total} bytes, in {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
