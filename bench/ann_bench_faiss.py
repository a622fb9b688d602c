#!/usr/bin/env python3
"""FAISS from PyPI (faiss-cpu) in the shape of build/bench/ann_bench's commands and JSON lines,
so bench/ann_bench.py can run it beside iris and hnswlib on the same files.

Debian's libfaiss (what ann_bench links) is a generic x86-64 build: no AVX2 or AVX-512 in its
distance loops, which made it 10-25x slower than hnswlib to build. The faiss-cpu wheels pick
AVX2 / AVX-512 kernels at run time (faiss.get_compile_options() lists them), the FAISS a user
would pip-install. It lives in its own virtual environment, never the project's:

    python3 -m venv /tmp/annbench-venv && /tmp/annbench-venv/bin/pip install faiss-cpu numpy
    /tmp/annbench-venv/bin/python bench/ann_bench_faiss.py build --lib faiss-hnsw --dir D \\
        --threads 2 --M 16 --efc 200 --index D/faiss-hnsw.idx
    /tmp/annbench-venv/bin/python bench/ann_bench_faiss.py query --lib faiss-hnsw --dir D \\
        --index D/faiss-hnsw.idx --efs 16,32,64
    /tmp/annbench-venv/bin/python bench/ann_bench_faiss.py scan --lib faiss-sq8 --dir D --threads 2

Measured as ann_bench measures: build wall and process CPU time, peak RSS (VmHWM) and file
size; queries one at a time on one thread (50 warm-up queries per ef), wall and thread CPU
time per query, recall@10 against gt.u32. A query through Python costs a few microseconds
more than a C++ call; RSS includes the interpreter and numpy (~30 MB).
"""
import argparse
import json
import os
import time

import faiss
import numpy as np

GT_K = 100


def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def load(d, need_base):
    dim, n, nq = (int(x) for x in open(os.path.join(d, "meta.txt")).read().split())
    base = np.memmap(os.path.join(d, "base.f32"), np.float32, "r", shape=(n, dim)) if need_base else None
    query = np.fromfile(os.path.join(d, "query.f32"), np.float32).reshape(nq, dim)
    gt = np.fromfile(os.path.join(d, "gt.u32"), np.uint32).reshape(nq, GT_K)
    return dim, n, base, query, gt


def recall(res, gt, k):
    return float(np.mean([len(set(r) & set(g[:k])) / k for r, g in zip(res, gt)]))


def build(a):
    dim, n, base, _, _ = load(a.dir, True)
    faiss.omp_set_num_threads(a.threads)
    t0, c0 = time.perf_counter(), time.process_time()
    if a.lib == "faiss-hnsw":
        ix = faiss.IndexHNSWFlat(dim, a.M, faiss.METRIC_INNER_PRODUCT)
    else:
        ix = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, a.M, faiss.METRIC_INNER_PRODUCT)
    ix.hnsw.efConstruction = a.efc
    if not ix.is_trained:
        ix.train(np.ascontiguousarray(base[:min(n, 100000)]))
    for i in range(0, n, 100000):  # in slices: the memmap is never copied whole
        ix.add(np.ascontiguousarray(base[i:i + 100000]))
    bs, bc = time.perf_counter() - t0, time.process_time() - c0
    faiss.write_index(ix, a.index)
    print(json.dumps({"cmd": "build", "lib": a.lib, "build_s": round(bs, 2), "build_cpu_s": round(bc, 2),
                      "save_s": round(time.perf_counter() - t0 - bs, 2), "threads": a.threads, "M": a.M,
                      "efc": a.efc, "n": n, "peak_rss_mb": round(status_mb("VmHWM")),
                      "file_mb": round(os.path.getsize(a.index) / 1048576, 1),
                      "faiss": faiss.__version__}), flush=True)


def timed(search, queries, k):
    """Results, wall ms and thread-CPU ms of one query at a time."""
    res, lat, cpu = [], [], []
    for q in queries:
        t, c = time.perf_counter(), time.thread_time()
        _, ids = search(q[None, :], k)
        cpu.append((time.thread_time() - c) * 1e3)
        lat.append((time.perf_counter() - t) * 1e3)
        res.append(ids[0])
    return res, np.array(lat), np.array(cpu)


def query(a):
    _, _, _, queries, gt = load(a.dir, False)
    faiss.omp_set_num_threads(1)
    t0 = time.perf_counter()
    ix = faiss.read_index(a.index)
    load_s = time.perf_counter() - t0
    for ef in (int(x) for x in a.efs.split(",")):
        ix.hnsw.efSearch = ef
        timed(ix.search, queries[:50], a.k)  # warm-up
        res, lat, cpu = timed(ix.search, queries, a.k)
        print(json.dumps({"cmd": "query", "lib": a.lib, "ef": ef, "k": a.k, "recall": recall(res, gt, a.k),
                          "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
                          "p50_cpu_ms": float(np.percentile(cpu, 50)),
                          "p99_cpu_ms": float(np.percentile(cpu, 99)), "load_s": load_s,
                          "rss_mb": round(status_mb("VmRSS")), "rss_anon_mb": round(status_mb("RssAnon")),
                          "rss_file_mb": round(status_mb("RssFile"))}), flush=True)


def scan(a):
    dim, n, base, queries, gt = load(a.dir, True)
    queries = queries[:a.nq]
    faiss.omp_set_num_threads(a.threads)
    t0 = time.perf_counter()
    if a.lib == "faiss-flat":
        ix = faiss.IndexFlatIP(dim)
    else:
        ix = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        ix.train(np.ascontiguousarray(base[:min(n, 100000)]))
    for i in range(0, n, 100000):
        ix.add(np.ascontiguousarray(base[i:i + 100000]))
    load_s = time.perf_counter() - t0
    res, lat, cpu = [], [], []
    for q in queries:  # process CPU time: the scan runs on a.threads threads
        t, c = time.perf_counter(), time.process_time()
        _, ids = ix.search(q[None, :], a.k)
        cpu.append((time.process_time() - c) * 1e3)
        lat.append((time.perf_counter() - t) * 1e3)
        res.append(ids[0])
    print(json.dumps({"cmd": "scan", "lib": a.lib, "load_s": round(load_s, 2), "threads": a.threads,
                      "k": a.k, "nq": len(queries), "recall": recall(res, gt, a.k),
                      "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
                      "p50_cpu_ms": float(np.percentile(cpu, 50)),
                      "peak_rss_mb": round(status_mb("VmHWM"))}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["build", "query", "scan"])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--index")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--efs", default="16,32,64,128,256,512")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--nq", type=int, default=100)
    a = ap.parse_args()
    {"build": build, "query": query, "scan": scan}[a.cmd](a)


if __name__ == "__main__":
    main()
