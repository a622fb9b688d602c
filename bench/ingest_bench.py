#!/usr/bin/env python3
"""Ingest benchmark: `iris index` over 1,000 real photos and over a 1,000+-page PDF, then the
same command again over the unchanged tree. Reports files/s, the time split (decode summed
over the decoding threads, encode, store, waiting), peak RSS and the re-run time.

  make && make bench
  bench/make_photos.py --out /tmp/iris-bench/photos --n 1000        # once
  nice bench/ingest_bench.py --model models/full/b32 --photos /tmp/iris-bench/photos \\
        --pdf ../shared/data/pdfs/octave.pdf [--jobs N] [--threads N] [--encode-rounds R]
        [--bf16]

--encode-rounds R (photos only) measures pure encode throughput side by side: before
each `iris index` of the photos, build/bench/clip_bench encodes random pixels with the
same model, threads and batch size (16, iris index's default) for about as long, R times
alternating; the table gets encode images/s and ingest / encode. --bf16 runs both with
bf16 compute (IRIS_COMPUTE=bf16, clip_bench --bf16 1).

The model should be the full-size ViT-B/32 for realistic encode cost (random weights cost
the same as trained ones: tools/reference/make_goldens.py --weights-only b32 writes it) and
the tiny CLIP (models/tiny-clip) for a second row where decoding dominates. Each case runs
in a fresh scratch index; nothing is written into the repository.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IRIS = os.path.join(ROOT, "build", "iris")


def run(args, tree, db):
    """One `iris index`; its own rusage through wait4 (CPU time, peak RSS)."""
    t0 = time.monotonic()
    p = subprocess.Popen([IRIS, "index", "--db", db, "--json", "--quiet", *args, tree],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    p.returncode = code
    if code not in (0, 3):
        sys.exit(f"iris index failed ({code}): {out}")
    s = json.loads(out)
    s["wall"] = wall
    s["cpu"] = ru.ru_utime + ru.ru_stime
    s["maxrss_mb"] = ru.ru_maxrss / 1024  # kB on Linux
    return s


def encode_rate(model, threads, bf16, seconds):
    """Images/s (wall) of the vision tower alone at iris index's batch size."""
    out = subprocess.run([os.path.join(ROOT, "build", "bench", "clip_bench"), model,
                          "--threads", str(threads), "--batches", "16", "--text-lens", "",
                          "--seconds", str(seconds), *(["--bf16", "1"] if bf16 else [])],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if '"images"' in l][0]["per_s"]


def row(name, s, unit):
    n = s["files_found"] if unit == "files" else s["pdf_pages"]
    rate = n / s["wall"] if s["wall"] else 0
    return (f"| {name} | {n} {unit} | {s['wall']:.1f} | {rate:.2f} {unit}/s | "
            f"{s['decode_s']:.1f} | {s['encode_s']:.1f} | {s['store_s']:.2f} | {s['wait_s']:.1f} | "
            f"{s['images_encoded']} / {s['texts_encoded']} | {s['cpu']:.0f} / {s['decode_cpu_s']:.0f} | {s['maxrss_mb']:.0f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, action="append", help="repeat for several rows")
    ap.add_argument("--photos")
    ap.add_argument("--pdf")
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--json", help="write all results here too")
    ap.add_argument("--encode-rounds", type=int, default=0)
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    if a.bf16:
        os.environ["IRIS_COMPUTE"] = "bf16"
    extra = []
    if a.jobs:
        extra += ["--jobs", str(a.jobs)]
    if a.threads:
        extra += ["--threads", str(a.threads)]
    print("| case | input | wall s | rate | decode s | encode s | store s | encoder waited s |"
          " images / text windows encoded | CPU s: all / decoding threads | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for model in a.model:
        name = os.path.basename(model.rstrip("/"))
        for what, tree, unit in (("photos", a.photos, "files"), ("pdf", a.pdf, "pages")):
            if not tree:
                continue
            with tempfile.TemporaryDirectory(prefix="iris-ingest-bench-") as tmp:
                db = os.path.join(tmp, "index.db")
                first = run(["--model", model, *extra], tree, db)
                again = run(extra, tree, db)
            print(row(f"{name}, {what}", first, unit), flush=True)
            print(f"| {name}, {what}, re-run unchanged | {again['files_found']} files | "
                  f"{again['wall']:.2f} | | {again['decode_s']:.2f} | {again['encode_s']:.2f} | "
                  f"{again['store_s']:.2f} | | {again['images_encoded']} / {again['texts_encoded']} |"
                  f" {again['cpu']:.2f} | {again['maxrss_mb']:.0f} |", flush=True)
            results.append({"model": model, "case": what, "first": first, "again": again})
    if a.encode_rounds and a.photos:
        print(encode_side_by_side(a, extra))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def encode_side_by_side(a, extra):
    """Alternating rounds: pure encode, then iris index of the photos; medians."""
    threads = a.threads or os.cpu_count()
    lines = ["", "| model | compute | encode images/s | iris index files/s | ingest / encode |"
             " decode CPU s / encode s (ingest) |", "|---|---|---|---|---|---|"]
    for model in a.model:
        enc, ing, split = [], [], []
        for _ in range(a.encode_rounds):
            with tempfile.TemporaryDirectory(prefix="iris-ingest-bench-") as tmp:
                s = run(["--model", model, *extra], a.photos, os.path.join(tmp, "index.db"))
            enc.append(encode_rate(model, threads, a.bf16, max(1.0, s["wall"] / 2)))
            ing.append(s["files_found"] / s["wall"])
            split.append(f"{s['decode_cpu_s']:.0f} / {s['encode_s']:.0f}")
        ratios = sorted(i / e for i, e in zip(ing, enc))
        lines.append(f"| {os.path.basename(model.rstrip('/'))} | {'bf16' if a.bf16 else 'f32'} | "
                     f"{statistics.median(enc):.1f} | {statistics.median(ing):.1f} | "
                     f"{statistics.median(ratios):.2f} | {', '.join(split)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
