#!/usr/bin/env python3
"""Makes N distinct multi-megapixel JPEG photos for the ingest benchmark (bench/ingest_bench.py).

Sources: the real photos in ../shared/data/images (the 13 mate-nature JPEGs of 1.3-4.9 MP and
skimage's two large JPEGs). Each output is a seeded random crop (75-100% of each side) of one
source, maybe mirrored or turned, brightness and contrast nudged, saved at JPEG quality 70-95
with 4:2:0 or 4:4:4 chroma, one in five progressive. So every file has distinct bytes and
content (no two hash alike; the index cannot deduplicate them) while staying a real photo
of realistic size. Output goes to a scratch folder, never into the repository.

  bench/make_photos.py --out /tmp/iris-bench/photos --n 1000 [--seed 1]
"""
import argparse
import os
import random
import sys

from PIL import Image, ImageEnhance

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                      "images")


def sources():
    out = []
    d = os.path.join(SHARED, "mate-nature")
    out += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".jpg")]
    out += [os.path.join(SHARED, "skimage", f) for f in ("retina.jpg", "hubble_deep_field.jpg")]
    return [p for p in out if os.path.exists(p)]


def one(src, rng, path):
    with Image.open(src) as im:
        im = im.convert("RGB")
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.75, 1)), int(h * rng.uniform(0.75, 1))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        im = im.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.15:
        im = im.transpose(Image.Transpose.ROTATE_90)
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.85, 1.15))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.85, 1.15))
    im.save(path, "JPEG", quality=rng.randint(70, 95), subsampling=rng.choice([0, 2]),
            progressive=rng.random() < 0.2, optimize=False)
    return im.size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    src = sources()
    if not src:
        print("../shared/data/images is absent: no source photos", file=sys.stderr)
        return 1
    os.makedirs(a.out, exist_ok=True)
    mp = 0.0
    for i in range(a.n):
        rng = random.Random(a.seed * 1000003 + i)
        path = os.path.join(a.out, f"photo_{i:05d}.jpg")
        if not os.path.exists(path):
            w, h = one(src[i % len(src)], rng, path)
        else:
            with Image.open(path) as im:
                w, h = im.size
        mp += w * h / 1e6
    print(f"{a.n} photos in {a.out}, mean {mp / a.n:.2f} MP", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
