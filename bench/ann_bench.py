#!/usr/bin/env python3
"""Drives build/bench/ann_bench: iris vs hnswlib vs FAISS, same data, same threads.

    bench/ann_bench.py run --n 100000 --kind clustered [--libs iris,hnswlib,faiss-hnsw]
        [--faiss-python /tmp/annbench-venv/bin/python]   # FAISS from PyPI, not Debian
    bench/ann_bench.py run ... --libs iris --keep              # keep the index file, then
    bench/ann_bench.py run ... --libs iris --reuse --rescore 64 --run-efs 256,512
        # query the kept index again, rescoring 64 candidates instead of the default rule
    bench/ann_bench.py report            # tables (markdown) + latency-vs-recall PNG
        [--only random-1000000 --png bench/ann_random_1m.png]   # some data sets, another PNG

Each `run` appends JSON lines to bench/out/results.jsonl (one process per
library, run one after another, so RSS numbers are each library's own).
Data sets live in bench/out/<kind>-<n>/ and are generated once.
Long runs: use `nice -n 10`, as BENCHMARKS.md records.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
BIN = os.path.join(ROOT, "build", "bench", "ann_bench")
RESULTS = os.path.join(OUT, "results.jsonl")
EFS = {"iris": "16,32,64,128,256,512", "iris-f16": "16,32,64,128,256,512", "hnswlib": "16,32,64,128,256,512",
       "faiss-hnsw": "16,32,64,128,256,512", "faiss-hnsw-sq8": "16,32,64,128,256,512"}


COLORS = {"iris": "tab:blue", "iris-f16": "tab:cyan", "hnswlib": "tab:orange",
          "faiss-hnsw": "tab:green", "faiss-hnsw-sq8": "tab:olive"}  # the same in every panel


def in_cgroup(limit_mb):
    """A memory cgroup (v1) capped at limit_mb, page cache included; the child
    joins it before exec. Needs root; used by `memcap` only."""
    cg = f"/sys/fs/cgroup/memory/iris_annbench_{os.getpid()}"
    os.makedirs(cg, exist_ok=True)
    with open(os.path.join(cg, "memory.limit_in_bytes"), "w") as f:
        f.write(str(limit_mb << 20))

    def join():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    return cg, join


def sh(args, tag, limit_mb=0):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    print("+", " ".join(args), flush=True)
    cg, join = in_cgroup(limit_mb) if limit_mb else (None, None)
    p = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, preexec_fn=join)
    if cg:
        with open(os.path.join(cg, "memory.max_usage_in_bytes")) as f:
            tag = dict(tag, cgroup_peak_mb=int(f.read()) >> 20)
        os.rmdir(cg)
    if p.returncode:
        sys.exit(f"{args[1]} failed: {p.stderr}")
    with open(RESULTS, "a") as f:
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                rec = json.loads(line)
                rec.update(tag)
                f.write(json.dumps(rec) + "\n")
                print("  ", line, flush=True)


def tool(a, lib, cmd):
    """The command line that runs lib: ann_bench, or ann_bench_faiss.py under --faiss-python
    for FAISS (the PyPI build; ann_bench links Debian's)."""
    if a.faiss_python and "faiss" in lib:
        return [a.faiss_python, os.path.join(ROOT, "bench", "ann_bench_faiss.py"), cmd]
    return [BIN, cmd]


def run(a):
    os.makedirs(OUT, exist_ok=True)
    d = os.path.join(OUT, f"{a.kind}-{a.n}")
    tag = {"data": f"{a.kind}-{a.n}", "threads": a.threads}
    if not os.path.exists(os.path.join(d, "meta.txt")):
        os.makedirs(d, exist_ok=True)
        sh([BIN, "gen", "--kind", a.kind, "--n", str(a.n), "--nq", str(a.nq), "--dim", str(a.dim),
            "--dir", d, "--threads", str(a.threads)], tag)
    for lib in a.libs.split(","):
        if lib.startswith("scan:"):
            sh(tool(a, lib, "scan") + ["--lib", lib[5:], "--dir", d, "--threads", str(a.threads)], tag)
            continue
        idx = os.path.join(d, f"{lib}.idx")
        if not (a.reuse and os.path.exists(idx)):
            sh(tool(a, lib, "build") + ["--lib", lib, "--dir", d, "--threads", str(a.threads), "--M",
                                        str(a.M), "--efc", str(a.efc), "--index", idx], tag)
        extra = ["--rescore", str(a.rescore)] if a.rescore and lib.startswith("iris") else []
        sh(tool(a, lib, "query") + ["--lib", lib, "--dir", d, "--index", idx,
                                    "--efs", a.run_efs or EFS[lib]] + extra, tag)
        if not (a.keep or a.reuse):
            os.remove(idx)


def memcap(a):
    """Queries a saved index inside a memory cgroup, starting with its file
    evicted from the page cache, so every resident page is charged."""
    d = os.path.join(OUT, f"{a.kind}-{a.n}")
    tag = {"data": f"{a.kind}-{a.n}", "threads": a.threads, "memcap_mb": a.limit_mb}
    for lib in a.libs.split(","):
        sh([BIN, "query", "--lib", lib, "--dir", d, "--index", os.path.join(d, f"{lib}.idx"),
            "--efs", a.efs, "--drop-cache", "1"], tag, a.limit_mb)


def load():
    with open(RESULTS) as f:
        return [json.loads(l) for l in f if l.strip()]


def best_at(rows, target):
    """Fastest setting reaching recall >= target, else the most accurate one."""
    ok = [r for r in rows if r["recall"] >= target]
    return min(ok, key=lambda r: r["p50_ms"]) if ok else max(rows, key=lambda r: r["recall"])


def latest_run(rs, lib):
    """The last build of lib and the query pass that followed it: the first
    record of each ef with the default rescoring rule (later --reuse passes
    are experiments, reported apart)."""
    build, queries = None, {}
    for r in rs:
        if r.get("lib") != lib:
            continue
        if r["cmd"] == "build":
            build, queries = r, {}
        elif r["cmd"] == "query" and not r.get("rescore"):
            queries.setdefault(r["ef"], r)
    return build, list(queries.values())


def fmt(r, key, spec):
    return format(r[key], spec) if key in r else "-"


def report(a):
    recs = load()
    if a.only:
        recs = [r for r in recs if r["data"] in a.only.split(",")]
    datas = sorted({r["data"] for r in recs}, key=lambda s: (int(s.split("-")[1]), s))
    lines = []
    for data in datas:
        rs = [r for r in recs if r["data"] == data and "memcap_mb" not in r]
        lines.append(f"\n#### {data} (512-d, k=10, {rs[0]['threads']} threads for build and scans, "
                     "queries on 1 thread)\n")
        lines.append("| library | build s (CPU s) | build peak RSS MB | file MB | ef | recall@10 | "
                     "p50 ms (CPU) | p99 ms (CPU) | query RSS MB (anon + file) |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for lib in ["iris", "iris-f16", "hnswlib", "faiss-hnsw", "faiss-hnsw-sq8"]:
            b, q = latest_run(rs, lib)
            if not b or not q:
                continue
            shown = set()
            for target in (0.90, 0.95, 0.99, 0.999):
                r = best_at(q, target)
                if r["ef"] in shown:
                    continue
                shown.add(r["ef"])
                lines.append(f"| {lib} | {b['build_s']:.1f} ({fmt(b, 'build_cpu_s', '.1f')}) | "
                             f"{b['peak_rss_mb']:.0f} | {b['file_mb']:.0f} | {r['ef']} | "
                             f"{r['recall']:.3f} | {r['p50_ms']:.3f} ({fmt(r, 'p50_cpu_ms', '.3f')}) | "
                             f"{r['p99_ms']:.3f} ({fmt(r, 'p99_cpu_ms', '.3f')}) | {r['rss_mb']:.0f} "
                             f"({r['rss_anon_mb']:.0f} + {r['rss_file_mb']:.0f}) |")
        scans = list({r["lib"]: r for r in rs if r["cmd"] == "scan"}.values())  # latest of each
        if scans:
            lines.append("\n| exact scan | recall@10 | p50 ms | p99 ms | CPU ms / query | peak RSS MB |")
            lines.append("|---|---|---|---|---|---|")
            for r in scans:
                lines.append(f"| {r['lib']} | {r['recall']:.3f} | {r['p50_ms']:.2f} | "
                             f"{r['p99_ms']:.2f} | {fmt(r, 'p50_cpu_ms', '.2f')} | {r['peak_rss_mb']:.0f} |")
    caps = [r for r in recs if "memcap_mb" in r]
    if caps:
        lines.append("\n#### Under a memory cap (cgroup, page cache included, file evicted first)\n")
        lines.append("| data | library | cap MB | cgroup peak MB | ef | recall@10 | p50 ms (CPU) | p99 ms (CPU) |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in caps:
            lines.append(f"| {r['data']} | {r['lib']} | {r['memcap_mb']} | {r.get('cgroup_peak_mb', '-')} | "
                         f"{r['ef']} | {r['recall']:.3f} | {r['p50_ms']:.3f} ({fmt(r, 'p50_cpu_ms', '.3f')}) | "
                         f"{r['p99_ms']:.3f} ({fmt(r, 'p99_cpu_ms', '.3f')}) |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(OUT, "report.md"), "w") as f:
        f.write(text)
    plot(recs, datas, a.png or os.path.join(ROOT, "bench", "ann_recall_latency.png"))


def plot(recs, datas, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    datas = [d for d in datas if any(r["data"] == d and r["cmd"] == "query" for r in recs)]
    cols = min(3, len(datas))
    rows = (len(datas) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
    for ax in axes.flat[len(datas):]:
        ax.axis("off")
    for ax, data in zip(axes.flat, datas):
        for lib, style in [("iris", "o-"), ("iris-f16", "o-."), ("hnswlib", "s--"), ("faiss-hnsw", "^:"),
                           ("faiss-hnsw-sq8", "v:")]:
            _, q = latest_run([r for r in recs if r["data"] == data and "memcap_mb" not in r], lib)
            q = sorted(q, key=lambda r: r["ef"])
            if q:  # p50 wall time: single-threaded queries, ~CPU time at the median
                ax.plot([r["recall"] for r in q], [r["p50_ms"] for r in q], style, label=lib,
                        color=COLORS[lib])
        ax.set_title(data)
        ax.set_xlabel("recall@10")
        ax.set_ylabel("p50 latency, ms (1 thread)")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("wrote", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "report", "memcap"])
    ap.add_argument("--limit-mb", type=int, default=1200)
    ap.add_argument("--efs", default="64,64,128,256")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--kind", default="clustered")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--libs", default="iris,hnswlib,faiss-hnsw,faiss-hnsw-sq8,"
                                      "scan:iris-int8,scan:iris-f32,scan:iris-bin,scan:faiss-sq8,scan:faiss-flat")
    ap.add_argument("--keep", action="store_true", help="keep the index files")
    ap.add_argument("--only", help="report: these data sets only (e.g. random-1000000)")
    ap.add_argument("--png", help="report: the plot's path (default bench/ann_recall_latency.png)")
    ap.add_argument("--reuse", action="store_true", help="query a kept index file instead of "
                                                         "building it again (and keep it)")
    ap.add_argument("--rescore", type=int, default=0, help="iris: candidates rescored in full "
                                                           "precision (0 = the index's rule)")
    ap.add_argument("--run-efs", dest="run_efs", help="ef values for `run` queries "
                                                      "(default: 16,32,...,512)")
    ap.add_argument("--faiss-python", help="run FAISS from PyPI with this interpreter "
                                           "(bench/ann_bench_faiss.py) instead of Debian's")
    a = ap.parse_args()
    {"run": run, "report": report, "memcap": memcap}[a.cmd](a)


if __name__ == "__main__":
    main()
