#!/usr/bin/env python3
"""iris against the transformers reference, side by side on the same weights.

    tools/bench_reference.py [--models b32,b16] [--dtypes f32,f16,q8_0] [--threads 2]
                             [--batches 1,32] [--text-lens 8,20]
                             [--cpu] [--seconds 3] [--rounds 3] [--json OUT]
                             [--baseline OTHER_CLIP_BENCH]

For each model (the random ViT-B/32 and ViT-B/16 weights of tools/reference/make_goldens.py,
regenerated into models/full/ when absent) the engines take turns, --rounds times (iris in
each weight dtype, then transformers), on identical inputs:
images/s per batch size (--batches, default 1 and 32; a dtype ending in "+amx", e.g.
f32+amx, runs iris with bf16 compute on AMX tiles) and text queries/s per query length
(--text-lens, default 8 and 20 tokens; either list may be empty); q8_0 is the clip.cpp GGUF
file of the same weights (transformers runs the f32 folder there). iris runs in its own
process (build/bench/clip_bench, which also reports load time and RSS); transformers runs
here, with torch.set_num_threads(--threads), in float32 on the f32 folder (CPU inference
in transformers is f32; it would upcast f16 weights to the same computation). Each figure
is a median over repetitions; each ratio is the median over rounds of iris / transformers
measured back to back, which keeps a shared machine's load out of the comparison as far
as it can be. --baseline runs a second clip_bench binary (say, built from an older commit)
in every round as well, for before/after ratios from the same run. --cpu rates both by process CPU time instead of wall time: with
--threads 1 that is each engine's own cost, undistorted by other processes holding the
cores (with more threads it would count spin-waiting). Prints Markdown for BENCHMARKS.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIGHTS = os.path.join(ROOT, "models", "full")
BENCH = os.path.join(ROOT, "build", "bench", "clip_bench")


def model_paths(name, dtype):
    """(what iris loads, what transformers loads): q8_0 is a GGUF file, which transformers
    cannot run, so its side runs the f32 folder. A "+amx" suffix (f32+amx) is the same
    weights with bf16 compute (clip_bench --bf16 1)."""
    dtype = dtype.removesuffix("+amx")
    base = os.path.join(WEIGHTS, name)
    iris_path = base + "-q8_0.gguf" if dtype == "q8_0" else base + ("" if dtype == "f32" else "-" + dtype)
    if not os.path.exists(iris_path) or not os.path.exists(base):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "reference", "make_goldens.py"),
                        "--weights-only", name], check=True)
    return iris_path, base if dtype == "q8_0" else iris_path


def run_iris(path, threads, seconds, cpu, batches, text_lens, bench=BENCH, bf16=False):
    out = subprocess.run([bench, path, "--threads", str(threads), "--seconds", str(seconds),
                          *(["--bf16", "1"] if bf16 else []),
                          "--batches", ",".join(map(str, batches)),
                          "--text-lens", ",".join(map(str, text_lens))],
                         check=True, capture_output=True, text=True).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    res = dict(head=rows[0])
    for r in rows[1:]:
        key = f"img{r['batch']}" if r["bench"] == "images" else f"txt{r['tokens']}"
        res[key] = r["per_cpu_s" if cpu else "per_s"]
        res["peak_rss_mib"] = r["peak_rss_mib"]
    return res


def median_time(fn, seconds, cpu):
    clock = time.process_time if cpu else time.perf_counter
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < seconds and len(times) < 200):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def text_ids(vocab, n):
    """The ids clip_bench encodes: start, (1000 + 7919 i) mod eos, end."""
    bos, eos = vocab - 2, vocab - 1
    return [bos] + [(1000 + i * 7919) % eos for i in range(1, n - 1)] + [eos]


def run_torch(model, seconds, cpu, batches, text_lens):
    import torch
    res = {}
    size = model.config.vision_config.image_size
    g = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for b in batches:
            px = torch.randn(b, 3, size, size, generator=g)
            res[f"img{b}"] = b / median_time(lambda: model.get_image_features(pixel_values=px),
                                             seconds, cpu)
        for n in text_lens:
            ids = torch.tensor([text_ids(model.config.text_config.vocab_size, n)])
            res[f"txt{n}"] = 1 / median_time(lambda: model.get_text_features(input_ids=ids),
                                             seconds, cpu)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="b32,b16")
    ap.add_argument("--dtypes", default="f32,f16,q8_0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,32", help="image batch sizes ('' for none)")
    ap.add_argument("--text-lens", default="8,20", help="query lengths in tokens ('' for none)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", action="store_true", help="rate by process CPU time")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--baseline", help="another clip_bench binary to run in every round")
    args = ap.parse_args()
    if not os.path.exists(BENCH):
        sys.exit(f"{BENCH} missing: run `make bench` first")
    import torch
    from transformers import CLIPModel
    torch.set_num_threads(args.threads)

    ints = lambda v: [int(x) for x in v.split(",") if x]
    batches, text_lens = ints(args.batches), ints(args.text_lens)
    keys = [f"img{b}" for b in batches] + [f"txt{n}" for n in text_lens]
    dtypes = args.dtypes.split(",")
    results = []
    for name in args.models.split(","):
        paths = {d: model_paths(name, d)[0] for d in dtypes}
        t0 = time.perf_counter()
        model = CLIPModel.from_pretrained(os.path.join(WEIGHTS, name), dtype=torch.float32).eval()
        torch_load_ms = (time.perf_counter() - t0) * 1e3
        rounds = []
        for r in range(args.rounds):
            c = {d: run_iris(paths[d], args.threads, args.seconds, args.cpu, batches, text_lens,
                             bf16=d.endswith("+amx")) for d in dtypes}
            b = {d: run_iris(paths[d], args.threads, args.seconds, args.cpu, batches, text_lens,
                             args.baseline) for d in dtypes} if args.baseline else None
            t = run_torch(model, args.seconds, args.cpu, batches, text_lens)
            rounds.append((c, t, b))
            print(f"{name} round {r + 1}: transformers {[round(t[k], 2) for k in keys]} iris "
                  + " ".join(f"{d} {[round(c[d][k], 2) for k in keys]}" for d in dtypes),
                  file=sys.stderr)
        for d in dtypes:
            med = lambda get: {k: statistics.median(get(rd, k) for rd in rounds) for k in keys}
            results.append(dict(
                model=name, dtype=d, head=rounds[0][0][d]["head"],
                peak_rss_mib=max(rd[0][d]["peak_rss_mib"] for rd in rounds),
                torch_load_ms=torch_load_ms,
                iris=med(lambda rd, k: rd[0][d][k]), torch=med(lambda rd, k: rd[1][k]),
                ratio=med(lambda rd, k: rd[0][d][k] / rd[1][k])))
            if args.baseline:
                results[-1].update(base=med(lambda rd, k: rd[2][d][k]),
                                   speedup=med(lambda rd, k: rd[0][d][k] / rd[2][d][k]))
        del model
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print_table(results, keys, args)


def print_table(results, keys, args):
    def name(k):
        return f"images/s, batch {k[3:]}" if k.startswith("img") else f"queries/s, {k[3:]} tokens"

    def fmt(k, v):  # a query rate also as its median latency
        return f"{v:.1f}" if k.startswith("img") else f"{v:.1f} ({1e3 / v:.2f} ms)"

    print(f"\n{args.threads} thread(s), {'CPU' if args.cpu else 'wall'} time, {args.rounds} "
          f"alternating rounds, medians; ISA {results[0]['head']['isa']}\n")
    base = "base" in results[0]
    print("| model | weights | measure | iris | transformers | ratio |"
          + (" baseline | iris / baseline |" if base else ""))
    print("|---|---|---|---:|---:|---:|" + ("---:|---:|" if base else ""))
    for r in results:
        for k in keys:
            print(f"| {r['model']} | {r['dtype']} | {name(k)} | {fmt(k, r['iris'][k])} | "
                  f"{fmt(k, r['torch'][k])} | {r['ratio'][k]:.2f}x |"
                  + (f" {fmt(k, r['base'][k])} | {r['speedup'][k]:.2f}x |" if base else ""))
    print("\n| model | weights | iris load | iris peak RSS | transformers load |")
    print("|---|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['model']} | {r['dtype']} | {r['head']['load_ms']:.1f} ms | "
              f"{r['peak_rss_mib']:.0f} MiB | {r['torch_load_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
