// ann_bench.cpp - iris vector search side by side with hnswlib and FAISS.
//
// One binary, one library per process, so each run's RSS is its own:
//   ann_bench gen   --kind random|clustered --n N --nq Q --dim D --dir DIR
//       writes DIR/base.f32, DIR/query.f32 and DIR/gt.u32 (exact top-100 by
//       iris's exact f32 scan, checked against a double-precision scan on a
//       sample of queries)
//   ann_bench build --lib L --dir DIR --threads T [--M 16 --efc 200] --index FILE
//   ann_bench query --lib L --dir DIR --index FILE --efs 10,20,40 [--k 10] [--drop-cache 1]
//   ann_bench scan  --lib L --dir DIR --threads T [--k 10] [--rescore N]
//   ann_bench bw    --mib M --threads T
//       read bandwidth of 1..T threads streaming disjoint parts of one
//       M MiB buffer: the ceiling of an exact scan (one pass per query)
// L: iris, iris-f16, hnswlib, faiss-hnsw, faiss-hnsw-sq8 (build/query);
//    (iris queries take --rescore N: candidates rescored, 0 = the index's rule);
//    iris-f32, iris-int8, iris-bin, faiss-flat, faiss-sq8 (scan).
// Every command prints one JSON object per result line; bench/ann_bench.py
// drives the runs, writes the tables and the plot.
//
// The harness is C++ only because hnswlib is a C++ header library; the
// product code it measures is the C11 library.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/index_io.h>
#include <hnswlib/hnswlib.h>
#include <immintrin.h>
#include <omp.h>

extern "C" {
#include "iris.h"
#include "index/index.h"
#include "../tests/unit/ann_data.h"
}

using Clock = std::chrono::steady_clock;
static double since(Clock::time_point t)
{
    return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] static void die(const std::string &m)
{
    fprintf(stderr, "ann_bench: %s\n", m.c_str());
    exit(1);
}

// CPU seconds: of this process (all threads) or of the calling thread. Under
// the shared machine's load, wall time includes waiting for a core; CPU time
// does not, so ratios are taken on CPU time (BENCHMARKS.md says which).
static double cpu_s(bool thread_only = false)
{
    struct timespec ts;
    clock_gettime(thread_only ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double status_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') v = atof(line + n + 1) / 1024.0;
    if (f) fclose(f);
    return v;
}

static double file_mb(const std::string &p)
{
    struct stat st;
    return stat(p.c_str(), &st) ? 0 : st.st_size / 1048576.0;
}

struct Args {
    std::map<std::string, std::string> kv;
    std::string get(const std::string &k, const std::string &d = "") const
    {
        auto it = kv.find(k);
        return it == kv.end() ? d : it->second;
    }
    int i(const std::string &k, int d) const { return atoi(get(k, std::to_string(d)).c_str()); }
};

struct Data {
    int dim = 0;
    size_t n = 0, nq = 0;
    const float *base = nullptr; // mapped
    std::vector<float> query;
    std::vector<uint32_t> gt; // nq x 100
};

static const int GT_K = 100;

static void write_file(const std::string &p, const void *d, size_t bytes)
{
    FILE *f = fopen(p.c_str(), "wb");
    if (!f || fwrite(d, 1, bytes, f) != bytes) die("cannot write " + p);
    fclose(f);
}

static std::vector<char> read_file(const std::string &p)
{
    FILE *f = fopen(p.c_str(), "rb");
    if (!f) die("cannot read " + p);
    std::vector<char> b;
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + k);
    fclose(f);
    return b;
}

static Data load(const std::string &dir, bool need_base)
{
    Data d;
    FILE *f = fopen((dir + "/meta.txt").c_str(), "r");
    if (!f || fscanf(f, "%d %zu %zu", &d.dim, &d.n, &d.nq) != 3) die("bad " + dir + "/meta.txt");
    fclose(f);
    if (need_base) {
        int fd = open((dir + "/base.f32").c_str(), O_RDONLY);
        size_t bytes = d.n * d.dim * sizeof(float);
        void *m = fd < 0 ? MAP_FAILED : mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) die("cannot map base.f32");
        close(fd);
        d.base = (const float *)m;
    }
    auto q = read_file(dir + "/query.f32");
    d.query.assign((const float *)q.data(), (const float *)(q.data() + q.size()));
    auto g = read_file(dir + "/gt.u32");
    d.gt.assign((const uint32_t *)g.data(), (const uint32_t *)(g.data() + g.size()));
    return d;
}

static std::vector<uint64_t> seq_ids(size_t n)
{
    std::vector<uint64_t> ids(n);
    for (size_t i = 0; i < n; i++) ids[i] = i;
    return ids;
}

// ------------------------------------------------------------------- gen

static void cmd_gen(const Args &a)
{
    std::string dir = a.get("dir"), kind = a.get("kind", "clustered");
    int dim = a.i("dim", 512), nq = a.i("nq", 1000), threads = a.i("threads", 2);
    size_t n = (size_t)atoll(a.get("n", "100000").c_str());
    int clusters = kind == "random" ? 0 : a.i("clusters", 1000);
    double sigma = atof(a.get("sigma", "0.05").c_str());
    std::vector<float> base(n * dim), q((size_t)nq * dim);
    ann_data_fill(base.data(), n, dim, clusters, sigma, 1);
    ann_data_fill(q.data(), nq, dim, clusters, sigma, 2);
    write_file(dir + "/base.f32", base.data(), base.size() * 4);
    write_file(dir + "/query.f32", q.data(), q.size() * 4);
    // Ground truth: iris's exact f32 scan, spot-checked in double precision.
    iris_ann_config cfg;
    iris_ann_config_default(&cfg, dim);
    cfg.mode = IRIS_ANN_EXACT;
    cfg.n_threads = threads;
    iris_ann *ix;
    if (iris_ann_create(&cfg, &ix)) die(iris_errmsg());
    auto ids = seq_ids(n);
    if (iris_ann_add(ix, n, ids.data(), base.data(), nullptr)) die(iris_errmsg());
    std::vector<iris_ann_hit> hits((size_t)nq * GT_K);
    std::vector<int> nh(nq);
    iris_ann_search_opts o = {};
    o.method = IRIS_ANN_EXACT;
    if (iris_ann_search_batch(ix, q.data(), nq, GT_K, &o, hits.data(), nh.data())) die(iris_errmsg());
    std::vector<uint32_t> gt((size_t)nq * GT_K);
    for (size_t i = 0; i < gt.size(); i++) gt[i] = (uint32_t)hits[i].id;
    for (int qi = 0; qi < nq; qi += std::max(1, nq / 10)) { // spot check
        std::vector<std::pair<double, uint32_t>> s(n);
        for (size_t r = 0; r < n; r++) {
            double acc = 0;
            for (int d = 0; d < dim; d++) acc += (double)q[(size_t)qi * dim + d] * base[r * dim + d];
            s[r] = {-acc, (uint32_t)r};
        }
        std::partial_sort(s.begin(), s.begin() + 10, s.end());
        for (int j = 0; j < 10; j++)
            if (fabs(-s[j].first - hits[(size_t)qi * GT_K + j].score) > 1e-5)
                die("ground truth disagrees with the double-precision scan");
    }
    iris_ann_free(ix);
    write_file(dir + "/gt.u32", gt.data(), gt.size() * 4);
    FILE *f = fopen((dir + "/meta.txt").c_str(), "w");
    fprintf(f, "%d %zu %d\n", dim, n, nq);
    fclose(f);
    printf("{\"cmd\":\"gen\",\"kind\":\"%s\",\"n\":%zu,\"dim\":%d,\"nq\":%d}\n", kind.c_str(), n, dim, nq);
}

// ----------------------------------------------------------------- build

template <class F> static void parallel_for(size_t n, int threads, F fn)
{
    std::vector<std::thread> th;
    std::atomic<size_t> next(0);
    for (int t = 0; t < threads; t++)
        th.emplace_back([&] {
            for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
        });
    for (auto &x : th) x.join();
}

static void cmd_build(const Args &a)
{
    std::string lib = a.get("lib"), out = a.get("index");
    Data d = load(a.get("dir"), true);
    int threads = a.i("threads", 2), M = a.i("M", 16), efc = a.i("efc", 200);
    auto t0 = Clock::now();
    double c0 = cpu_s();
    if (lib == "iris" || lib == "iris-f16") {
        iris_ann_config cfg;
        iris_ann_config_default(&cfg, d.dim);
        cfg.mode = IRIS_ANN_HNSW;
        if (lib == "iris-f16") cfg.storage = IRIS_ANN_F16;
        cfg.M = M;
        cfg.ef_construction = efc;
        cfg.n_threads = threads;
        iris_ann *ix;
        if (iris_ann_create(&cfg, &ix)) die(iris_errmsg());
        auto ids = seq_ids(d.n);
        // Batches like an ingestion run would send them.
        for (size_t i = 0; i < d.n; i += 10000) {
            size_t m = std::min<size_t>(10000, d.n - i);
            if (iris_ann_add(ix, m, ids.data() + i, d.base + i * d.dim, nullptr)) die(iris_errmsg());
        }
        double bs = since(t0), bc = cpu_s() - c0;
        if (iris_ann_save(ix, out.c_str())) die(iris_errmsg());
        printf("{\"cmd\":\"build\",\"lib\":\"%s\",\"build_s\":%.2f,\"build_cpu_s\":%.2f,\"save_s\":%.2f,",
               lib.c_str(), bs, bc, since(t0) - bs);
        iris_ann_free(ix);
    } else if (lib == "hnswlib") {
        hnswlib::InnerProductSpace space(d.dim);
        auto *h = new hnswlib::HierarchicalNSW<float>(&space, d.n, M, efc, 42);
        h->addPoint(d.base, 0);
        parallel_for(d.n - 1, threads, [&](size_t i) { h->addPoint(d.base + (i + 1) * d.dim, i + 1); });
        double bs = since(t0), bc = cpu_s() - c0;
        h->saveIndex(out);
        printf("{\"cmd\":\"build\",\"lib\":\"%s\",\"build_s\":%.2f,\"build_cpu_s\":%.2f,\"save_s\":%.2f,",
               lib.c_str(), bs, bc, since(t0) - bs);
        delete h;
    } else if (lib == "faiss-hnsw" || lib == "faiss-hnsw-sq8") {
        omp_set_num_threads(threads);
        faiss::IndexHNSW *ix;
        if (lib == "faiss-hnsw") ix = new faiss::IndexHNSWFlat(d.dim, M, faiss::METRIC_INNER_PRODUCT);
        else ix = new faiss::IndexHNSWSQ(d.dim, faiss::ScalarQuantizer::QT_8bit, M, faiss::METRIC_INNER_PRODUCT);
        ix->hnsw.efConstruction = efc;
        if (!ix->is_trained) ix->train(std::min<size_t>(d.n, 100000), d.base);
        ix->add(d.n, d.base);
        double bs = since(t0), bc = cpu_s() - c0;
        faiss::write_index(ix, out.c_str());
        printf("{\"cmd\":\"build\",\"lib\":\"%s\",\"build_s\":%.2f,\"build_cpu_s\":%.2f,\"save_s\":%.2f,",
               lib.c_str(), bs, bc, since(t0) - bs);
        delete ix;
    } else {
        die("unknown lib " + lib);
    }
    printf("\"threads\":%d,\"M\":%d,\"efc\":%d,\"n\":%zu,\"peak_rss_mb\":%.0f,\"file_mb\":%.1f}\n",
           threads, M, efc, d.n, status_mb("VmHWM"), file_mb(out));
}

// ----------------------------------------------------------------- query

struct Searcher {
    virtual ~Searcher() {}
    virtual void set_ef(int ef) = 0;
    virtual void search(const float *q, int k, uint32_t *out) = 0;
};

struct IrisSearcher : Searcher {
    iris_ann *ix = nullptr;
    int ef = 0, method = IRIS_ANN_HNSW, rescore = 0;
    std::vector<iris_ann_hit> hits;
    IrisSearcher(const std::string &p, int rescore_) : rescore(rescore_)
    {
        int why;
        iris_ann_open_opts o = {};
        o.n_threads = 1;
        if (iris_ann_open(p.c_str(), &o, &ix, &why)) die(iris_errmsg());
    }
    ~IrisSearcher() { iris_ann_free(ix); }
    void set_ef(int e) override { ef = e; }
    void search(const float *q, int k, uint32_t *out) override
    {
        hits.resize(k);
        iris_ann_search_opts o = {};
        o.method = method;
        o.ef = ef;
        o.rescore = rescore;
        int n;
        if (iris_ann_search(ix, q, k, &o, hits.data(), &n)) die(iris_errmsg());
        for (int i = 0; i < k; i++) out[i] = i < n ? (uint32_t)hits[i].id : UINT32_MAX;
    }
};

struct HnswlibSearcher : Searcher {
    hnswlib::InnerProductSpace space;
    hnswlib::HierarchicalNSW<float> *h;
    HnswlibSearcher(const std::string &p, int dim) : space(dim)
    {
        h = new hnswlib::HierarchicalNSW<float>(&space, p);
    }
    ~HnswlibSearcher() { delete h; }
    void set_ef(int ef) override { h->setEf(ef); }
    void search(const float *q, int k, uint32_t *out) override
    {
        auto r = h->searchKnn(q, k);
        for (int i = k - 1; i >= 0; i--) {
            out[i] = r.empty() ? UINT32_MAX : (uint32_t)r.top().second;
            if (!r.empty()) r.pop();
        }
    }
};

struct FaissSearcher : Searcher {
    faiss::Index *ix;
    std::vector<float> D;
    std::vector<faiss::Index::idx_t> I;
    FaissSearcher(const std::string &p) { ix = faiss::read_index(p.c_str()); }
    ~FaissSearcher() { delete ix; }
    void set_ef(int ef) override { dynamic_cast<faiss::IndexHNSW *>(ix)->hnsw.efSearch = ef; }
    void search(const float *q, int k, uint32_t *out) override
    {
        D.resize(k);
        I.resize(k);
        ix->search(1, q, k, D.data(), I.data());
        for (int i = 0; i < k; i++) out[i] = I[i] < 0 ? UINT32_MAX : (uint32_t)I[i];
    }
};

static double recall(const Data &d, const std::vector<uint32_t> &res, int k)
{
    size_t hit = 0;
    for (size_t q = 0; q < d.nq; q++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                if (res[q * k + i] == d.gt[q * GT_K + j]) {
                    hit++;
                    break;
                }
    return (double)hit / (double)(d.nq * k);
}

static double pct(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, (size_t)(p * v.size()))];
}

static void cmd_query(const Args &a)
{
    std::string lib = a.get("lib"), path = a.get("index");
    Data d = load(a.get("dir"), false);
    int k = a.i("k", 10);
    omp_set_num_threads(1);
    if (a.i("drop-cache", 0)) { // start cold: evict this file's pages from the page cache
        int fd = open(path.c_str(), O_RDONLY);
        if (fd < 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)) die("cannot drop the cache of " + path);
        close(fd);
    }
    auto t0 = Clock::now();
    Searcher *s;
    int rescore = a.i("rescore", 0);
    if (lib.rfind("iris", 0) == 0) s = new IrisSearcher(path, rescore);
    else if (lib == "hnswlib") s = new HnswlibSearcher(path, d.dim);
    else s = new FaissSearcher(path);
    double load_s = since(t0);
    std::vector<int> efs;
    std::string efs_arg = a.get("efs", "10,20,40,80");
    for (const char *p = efs_arg.c_str(); *p;) {
        efs.push_back(atoi(p));
        while (*p && *p != ',') p++;
        if (*p) p++;
    }
    std::vector<uint32_t> res(d.nq * k);
    for (int ef : efs) {
        s->set_ef(ef);
        for (size_t q = 0; q < std::min<size_t>(d.nq, 50); q++) // warm-up
            s->search(d.query.data() + q * d.dim, k, res.data());
        std::vector<double> lat(d.nq), cpu(d.nq);
        for (size_t q = 0; q < d.nq; q++) {
            auto t = Clock::now();
            double c = cpu_s(true);
            s->search(d.query.data() + q * d.dim, k, res.data() + q * k);
            cpu[q] = (cpu_s(true) - c) * 1e3;
            lat[q] = since(t) * 1e3;
        }
        printf("{\"cmd\":\"query\",\"lib\":\"%s\",\"ef\":%d,\"rescore\":%d,\"k\":%d,\"recall\":%.4f,\"p50_ms\":%.3f,"
               "\"p99_ms\":%.3f,\"p50_cpu_ms\":%.3f,\"p99_cpu_ms\":%.3f,\"load_s\":%.3f,\"rss_mb\":%.0f,"
               "\"rss_anon_mb\":%.0f,\"rss_file_mb\":%.0f}\n",
               lib.c_str(), ef, rescore, k, recall(d, res, k), pct(lat, 0.5), pct(lat, 0.99), pct(cpu, 0.5),
               pct(cpu, 0.99), load_s,
               status_mb("VmRSS"), status_mb("RssAnon"), status_mb("RssFile"));
        fflush(stdout);
    }
    delete s;
}

// ------------------------------------------------------------------ scan

static void cmd_scan(const Args &a)
{
    std::string lib = a.get("lib");
    Data d = load(a.get("dir"), true);
    int k = a.i("k", 10), threads = a.i("threads", 2), nq = std::min<int>(a.i("nq", 100), d.nq);
    std::vector<uint32_t> res((size_t)d.nq * k, UINT32_MAX);
    std::vector<double> lat(nq), cpu(nq);
    auto t0 = Clock::now();
    if (lib.rfind("iris", 0) == 0) {
        iris_ann_config cfg;
        iris_ann_config_default(&cfg, d.dim);
        cfg.mode = IRIS_ANN_EXACT;
        cfg.n_threads = threads;
        iris_ann *ix;
        if (iris_ann_create(&cfg, &ix)) die(iris_errmsg());
        auto ids = seq_ids(d.n);
        if (iris_ann_add(ix, d.n, ids.data(), d.base, nullptr)) die(iris_errmsg());
        double bs = since(t0);
        iris_ann_search_opts o = {};
        o.method = lib == "iris-int8" ? IRIS_ANN_EXACT_INT8 : lib == "iris-bin" ? IRIS_ANN_EXACT_BINARY : IRIS_ANN_EXACT;
        o.rescore = a.i("rescore", 0);
        std::vector<iris_ann_hit> h(k);
        for (int q = 0; q < nq; q++) {
            auto t = Clock::now();
            double c = cpu_s();
            int n;
            if (iris_ann_search(ix, d.query.data() + (size_t)q * d.dim, k, &o, h.data(), &n)) die(iris_errmsg());
            cpu[q] = (cpu_s() - c) * 1e3;
            lat[q] = since(t) * 1e3;
            for (int i = 0; i < n; i++) res[(size_t)q * k + i] = (uint32_t)h[i].id;
        }
        printf("{\"cmd\":\"scan\",\"lib\":\"%s\",\"rescore\":%d,\"load_s\":%.2f,", lib.c_str(), o.rescore, bs);
        iris_ann_free(ix);
    } else {
        omp_set_num_threads(threads);
        faiss::Index *ix;
        if (lib == "faiss-flat") ix = new faiss::IndexFlatIP(d.dim);
        else ix = new faiss::IndexScalarQuantizer(d.dim, faiss::ScalarQuantizer::QT_8bit, faiss::METRIC_INNER_PRODUCT);
        if (!ix->is_trained) ix->train(std::min<size_t>(d.n, 100000), d.base);
        ix->add(d.n, d.base);
        double bs = since(t0);
        std::vector<float> D(k);
        std::vector<faiss::Index::idx_t> I(k);
        for (int q = 0; q < nq; q++) {
            auto t = Clock::now();
            double c = cpu_s();
            ix->search(1, d.query.data() + (size_t)q * d.dim, k, D.data(), I.data());
            cpu[q] = (cpu_s() - c) * 1e3;
            lat[q] = since(t) * 1e3;
            for (int i = 0; i < k; i++) res[(size_t)q * k + i] = (uint32_t)I[i];
        }
        printf("{\"cmd\":\"scan\",\"lib\":\"%s\",\"load_s\":%.2f,", lib.c_str(), bs);
        delete ix;
    }
    Data dq = d;
    dq.nq = nq;
    printf("\"threads\":%d,\"k\":%d,\"nq\":%d,\"recall\":%.4f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"p50_cpu_ms\":%.3f,\"peak_rss_mb\":%.0f}\n", threads, k, nq, recall(dq, res, k), pct(lat, 0.5),
           pct(lat, 0.99), pct(cpu, 0.5), status_mb("VmHWM"));
}

// Sums 64-byte lines of [p, p + bytes) with four independent chains.
static long long sum_lines(const char *p, size_t bytes)
{
    __m512i s0 = _mm512_set1_epi64(0), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 256 <= bytes; i += 256) {
        s0 = _mm512_add_epi64(s0, _mm512_load_si512(p + i));
        s1 = _mm512_add_epi64(s1, _mm512_load_si512(p + i + 64));
        s2 = _mm512_add_epi64(s2, _mm512_load_si512(p + i + 128));
        s3 = _mm512_add_epi64(s3, _mm512_load_si512(p + i + 192));
    }
    long long lane[8], sum = 0;
    _mm512_storeu_si512(lane, _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)));
    for (long long v : lane) sum += v;
    return sum;
}

static void cmd_bw(const Args &a)
{
    size_t bytes = (size_t)a.i("mib", 1024) << 20;
    int max_t = a.i("threads", 2);
    char *buf = (char *)aligned_alloc(4096, bytes);
    if (!buf) die("out of memory");
    memset(buf, 1, bytes); // touch every page before timing
    long long sink = 0;
    for (int t = 1; t <= max_t; t++) {
        double best = 0;
        for (int pass = 0; pass < 6; pass++) { // pass 0 warms up
            std::vector<long long> part(t);
            std::vector<std::thread> th;
            size_t slice = bytes / t / 256 * 256;
            auto t0 = Clock::now();
            for (int i = 0; i < t; i++)
                th.emplace_back([&, i] { part[i] = sum_lines(buf + i * slice, slice); });
            for (auto &x : th) x.join();
            double s = since(t0);
            for (long long v : part) sink += v;
            if (pass && slice * t / s / 1e9 > best) best = slice * t / s / 1e9;
        }
        printf("{\"cmd\":\"bw\",\"threads\":%d,\"mib\":%zu,\"GB_per_s\":%.1f,\"sink\":%lld}\n", t,
               bytes >> 20, best, sink);
        fflush(stdout);
    }
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc < 2) die("usage: ann_bench gen|build|query|scan|bw --key value ...");
    Args a;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strncmp(argv[i], "--", 2)) die(std::string("bad argument ") + argv[i]);
        a.kv[argv[i] + 2] = argv[i + 1];
    }
    std::string cmd = argv[1];
    if (cmd == "gen") cmd_gen(a);
    else if (cmd == "build") cmd_build(a);
    else if (cmd == "query") cmd_query(a);
    else if (cmd == "scan") cmd_scan(a);
    else if (cmd == "bw") cmd_bw(a);
    else die("unknown command " + cmd);
    return 0;
}
