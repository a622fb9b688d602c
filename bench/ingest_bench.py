#!/usr/bin/env python3
"""Ingest benchmark: `iris index` over 1,000 real photos and over a 1,000+-page PDF, then the
same command again over the unchanged tree. Reports files/s, the time split (decode summed
over the decoding threads, encode, store, waiting), peak RSS and the re-run time.

  make && make bench
  bench/make_photos.py --out /tmp/iris-bench/photos --n 1000        # once
  nice bench/ingest_bench.py --model models/full/b32 --photos /tmp/iris-bench/photos \\
        --pdf ../shared/data/pdfs/octave.pdf [--jobs N] [--threads N]

The model should be the full-size ViT-B/32 for realistic encode cost (random weights cost
the same as trained ones: tools/reference/make_goldens.py --weights-only b32 writes it) and
the tiny CLIP (models/tiny-clip) for a second row where decoding dominates. Each case runs
in a fresh scratch index; nothing is written into the repository.
"""
import argparse
import json
import os
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
    a = ap.parse_args()
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
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
