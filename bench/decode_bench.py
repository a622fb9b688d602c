#!/usr/bin/env python3
"""Decode + CLIP preprocessing: iris beside Pillow and Hugging Face, in one run.

    make bench && .venv/bin/python bench/decode_bench.py [--rounds 3] [FILE...]

Default files: the multi-megapixel JPEGs of ../shared/data/images/mate-nature
(IRIS_SHARED_DATA overrides ../shared/data). Every variant gets the same bytes
from memory and produces a 3 x 224 x 224 float32 tensor:

  iris full         iris_image_decode at full size + media_preprocess
  iris dct224/448   JPEG DCT scaling to a shorter side >= 224 / 448, same preprocessing
  PIL full          Image.open + convert("RGB"), resize (BICUBIC, shortest 224),
                    centre crop and normalise in numpy (what the processor computes)
  PIL draft224/448  the same after Image.draft("RGB", (224, 224)) / (448, 448):
                    Pillow's own DCT scaling, at the same scales iris picks
  HF processor      Image.open + CLIPImageProcessor (the reference pipeline as used)

Times are thread CPU time (the machine is shared; wall time includes waiting for
a core), summed over the files; each variant runs `rounds` times, interleaved
with the others, and the median round counts. Ratios are against iris at the
same decode scale.
"""
import argparse
import glob
import io
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bench", "decode_bench")
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def iris_round(files, min_side):
    out = subprocess.run([BIN, "--repeat", "1", "--min-side", str(min_side), *files],
                         capture_output=True, text=True, check=True).stdout
    dec, pre = map(float, out.strip().splitlines()[-1].split()[1:])
    return dec, pre


def pil_preprocess(im, size=224, crop=224):
    w, h = im.size
    short, long_ = min(w, h), max(w, h)
    new_long = int(size * long_ / short)
    im = im.resize((size, new_long) if w <= h else (new_long, size), Image.Resampling.BICUBIC)
    a = np.asarray(im)
    top, left = (a.shape[0] - crop) // 2, (a.shape[1] - crop) // 2
    a = a[top:top + crop, left:left + crop].astype(np.float64) * (1 / 255)
    return ((a.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)


def pil_round(blobs, draft):
    dec = pre = 0.0
    for data in blobs:
        t0 = time.thread_time()
        im = Image.open(io.BytesIO(data))
        if draft:
            im.draft("RGB", (draft, draft))
        im = im.convert("RGB")
        t1 = time.thread_time()
        pil_preprocess(im)
        dec += t1 - t0
        pre += time.thread_time() - t1
    return dec * 1e3, pre * 1e3


def hf_round(blobs, proc):
    t0 = time.thread_time()
    for data in blobs:
        proc(images=Image.open(io.BytesIO(data)), return_tensors="np")
    return (time.thread_time() - t0) * 1e3, 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    shared = os.environ.get("IRIS_SHARED_DATA") or os.path.join(ROOT, "..", "shared", "data")
    files = a.files or sorted(glob.glob(os.path.join(shared, "images", "mate-nature", "*.jpg")))
    if not files:
        sys.exit("no JPEGs: ../shared/data/images/mate-nature is absent (set IRIS_SHARED_DATA)")
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} is missing: run make bench")
    blobs = [open(f, "rb").read() for f in files]
    from transformers import CLIPImageProcessor
    proc = CLIPImageProcessor()
    variants = {
        "iris full": lambda: iris_round(files, 0),
        "iris dct224": lambda: iris_round(files, 224),
        "iris dct448": lambda: iris_round(files, 448),
        "PIL full": lambda: pil_round(blobs, 0),
        "PIL draft224": lambda: pil_round(blobs, 224),
        "PIL draft448": lambda: pil_round(blobs, 448),
        "HF processor": lambda: hf_round(blobs, proc),
    }
    runs = {k: [] for k in variants}
    for _ in range(a.rounds):
        for name, fn in variants.items():
            runs[name].append(fn())
    n = len(files)
    mpix = sum(Image.open(f).size[0] * Image.open(f).size[1] for f in files) / n / 1e6
    print(f"{n} JPEGs, mean {mpix:.1f} MP; ms per image (thread CPU time), median of {a.rounds} rounds")
    print(f"{'variant':<14} {'decode':>8} {'preproc':>8} {'total':>8}   vs iris")
    totals = {}
    for name, rs in runs.items():
        best = sorted(rs, key=sum)[len(rs) // 2]
        dec, pre = best[0] / n, best[1] / n
        totals[name] = dec + pre
        base = {"PIL full": "iris full", "PIL draft224": "iris dct224", "PIL draft448": "iris dct448",
                "HF processor": "iris full"}.get(name)
        ratio = f"{totals[name] / totals[base]:.2f}x iris{base[4:]}" if base else ""
        pre_s = f"{pre:8.2f}" if name != "HF processor" else f"{'-':>8}"
        print(f"{name:<14} {dec:8.2f} {pre_s} {dec + pre:8.2f}   {ratio}")
    print(f"HF processor / iris dct224: {totals['HF processor'] / totals['iris dct224']:.1f}x")


if __name__ == "__main__":
    main()
