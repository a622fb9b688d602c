/*
 * peak_bench.c - what this machine can do at most, per core: arithmetic
 * throughput of the vector instructions the CLIP kernels could use, and
 * memory read bandwidth. These are the denominators of "fraction of peak"
 * in BENCHMARKS.md.
 *
 *     build/bench/peak_bench [--threads N] [--mib 256]
 *
 * Arithmetic: a loop of independent accumulator chains (16, or 12 where
 * only 16 registers exist, AVX2; either is more than latency x throughput
 * of any unit here), rated by the running
 * thread's CPU time, so time spent descheduled on a shared machine does not
 * count. Each instruction kind runs only where CPUID reports it:
 *   f32 FMA   AVX2 (8 lanes) and AVX-512 (16 lanes): 2 flops per lane
 *   bf16 dot  AVX512_BF16 vdpbf16ps: 32 bf16 products summed into 16 f32
 *   int8 dot  AVX512_VNNI vpdpbusd: 64 u8 x s8 products into 16 i32
 * With --threads N the same loop runs on N threads at once; the figure is
 * per thread (it stays flat when cores are really separate and free).
 *
 * Memory: the read bandwidth of one thread streaming a buffer of --mib MiB
 * (larger than the last-level cache reported by sysconf, when known, so it
 * measures DRAM) and of 2 MiB (L2), as GB/s of wall time, best of 5 passes.
 *
 * Prints the CPU's model, the relevant CPUID flags, then one JSON object
 * per measurement.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define CHAINS 16
#define CHAINS_AVX2 12 /* + the two operands: 14 of the 16 ymm registers */
#define ITERS 20000000L

/* Each kernel runs ITERS rounds of CHAINS independent instructions and
 * returns a value derived from the accumulators, so nothing is elided. */
__attribute__((target("avx2,fma"))) static float fma_avx2(void)
{
    __m256 acc[CHAINS_AVX2], a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS_AVX2; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < ITERS * CHAINS / CHAINS_AVX2; it++) /* as many FMAs as the rest */
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS_AVX2; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < CHAINS_AVX2; i++) s += _mm256_cvtss_f32(acc[i]);
    return s;
}

__attribute__((target("avx512f"))) static float fma_avx512(void)
{
    __m512 acc[CHAINS], a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++)
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < CHAINS; i++) s += _mm512_reduce_add_ps(acc[i]);
    return s;
}

__attribute__((target("avx512f,avx512bf16"))) static float dot_bf16(void)
{
    __m512 acc[CHAINS];
    __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++)
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < CHAINS; i++) s += _mm512_reduce_add_ps(acc[i]);
    return s;
}

__attribute__((target("avx512f,avx512vnni"))) static float dot_vnni(void)
{
    __m512i acc[CHAINS], a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_epi32(i);
    for (long it = 0; it < ITERS; it++)
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < CHAINS; i++) s += (float)_mm512_reduce_add_epi32(acc[i]);
    return s;
}

typedef struct kernel {
    const char *name, *cpu_flag, *unit;
    double ops_per_instr; /* flops (or int ops) per instruction: 2 per product */
    float (*fn)(void);
} kernel;

static const kernel KERNELS[] = {
    {"f32 FMA, AVX2 (ymm)", "avx2", "GFLOP/s", 2 * 8, fma_avx2},
    {"f32 FMA, AVX-512 (zmm)", "avx512f", "GFLOP/s", 2 * 16, fma_avx512},
    {"bf16 dot, vdpbf16ps (zmm)", "avx512bf16", "GFLOP/s", 2 * 32, dot_bf16},
    {"int8 dot, vpdpbusd (zmm)", "avx512vnni", "GOP/s", 2 * 64, dot_vnni},
};

typedef struct run_arg {
    const kernel *k;
    double seconds; /* thread CPU time */
    float sink;
} run_arg;

static void *run_kernel(void *p)
{
    run_arg *a = p;
    double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    a->sink = a->k->fn();
    a->seconds = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    return NULL;
}

static int cpu_has(const char *flag)
{
    if (!strcmp(flag, "avx2")) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!strcmp(flag, "avx512f")) return __builtin_cpu_supports("avx512f");
    /* the rest by name from /proc/cpuinfo (older compilers lack the names) */
    char line[8192], want[64];
    snprintf(want, sizeof want, " %s", !strcmp(flag, "avx512bf16") ? "avx512_bf16"
                                       : !strcmp(flag, "avx512vnni") ? "avx512_vnni" : flag);
    FILE *f = fopen("/proc/cpuinfo", "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            char *p = strstr(line, want);
            found = p && (p[strlen(want)] == ' ' || p[strlen(want)] == '\n');
            break;
        }
    if (f) fclose(f);
    return found;
}

static void print_cpu(void)
{
    static const char *flags[] = {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                                  "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
                                  "amx_tile", "amx_bf16", "amx_int8"};
    char line[8192], model[256] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    printf("{\"cpu\": \"");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10) && model[0] == '?') {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = 0;
        }
        if (!strncmp(line, "flags", 5)) {
            printf("%s\", \"flags\": [", model);
            for (size_t i = 0, n = 0; i < sizeof flags / sizeof *flags; i++) {
                char want[64];
                snprintf(want, sizeof want, " %s", flags[i]);
                char *p = strstr(line, want);
                if (p && (p[strlen(want)] == ' ' || p[strlen(want)] == '\n'))
                    printf("%s\"%s\"", n++ ? ", " : "", flags[i]);
            }
            printf("]}\n");
            break;
        }
    }
    if (f) fclose(f);
}

/* Wall-time GB/s of one thread summing a buffer of `bytes`, best of 5. */
__attribute__((target("avx512f"))) static double read_gbs(const float *buf, size_t bytes,
                                                          float *sink)
{
    double best = 0;
    size_t n = bytes / sizeof(float);
    for (int pass = 0; pass < 6; pass++) {
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        double t0 = clock_s(CLOCK_MONOTONIC);
        for (size_t i = 0; i + 64 <= n; i += 64) {
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(buf + i));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(buf + i + 16));
            s2 = _mm512_add_ps(s2, _mm512_loadu_ps(buf + i + 32));
            s3 = _mm512_add_ps(s3, _mm512_loadu_ps(buf + i + 48));
        }
        double t = clock_s(CLOCK_MONOTONIC) - t0;
        *sink += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
        if (pass > 0 && bytes / t / 1e9 > best) best = bytes / t / 1e9; /* pass 0 warms */
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads = 1;
    size_t mib = 1024;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mib")) mib = (size_t)atol(argv[i + 1]);
    }
    threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    print_cpu();
    for (size_t k = 0; k < sizeof KERNELS / sizeof *KERNELS; k++) {
        const kernel *kn = &KERNELS[k];
        if (!cpu_has(kn->cpu_flag)) {
            printf("{\"kernel\": \"%s\", \"skipped\": \"no %s\"}\n", kn->name, kn->cpu_flag);
            continue;
        }
        pthread_t th[64];
        run_arg args[64];
        double wall0 = clock_s(CLOCK_MONOTONIC), per = 0, sink = 0;
        for (int t = 0; t < threads; t++) {
            args[t] = (run_arg){kn, 0, 0};
            pthread_create(&th[t], NULL, run_kernel, &args[t]);
        }
        for (int t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            per += (double)ITERS * CHAINS * kn->ops_per_instr / args[t].seconds / 1e9 / threads;
            sink += args[t].sink;
        }
        double wall = clock_s(CLOCK_MONOTONIC) - wall0;
        printf("{\"kernel\": \"%s\", \"threads\": %d, \"per_thread_%s\": %.1f, "
               "\"instr_per_ns\": %.3f, \"total_wall_%s\": %.1f, \"sink\": %g}\n",
               kn->name, threads, kn->unit, per, per / kn->ops_per_instr, kn->unit,
               (double)ITERS * CHAINS * kn->ops_per_instr * threads / wall / 1e9, sink);
        fflush(stdout);
    }
    if (!__builtin_cpu_supports("avx512f")) return 0;
    size_t sizes[2] = {(size_t)2 << 20, mib << 20};
    for (int s = 0; s < 2; s++) {
        float *buf = aligned_alloc(64, sizes[s]), sink = 0;
        if (!buf) return 1;
        memset(buf, 0, sizes[s]);
        printf("{\"memory\": \"read\", \"mib\": %zu, \"GB_per_s\": %.1f, \"sink\": %g}\n",
               sizes[s] >> 20, read_gbs(buf, sizes[s], &sink), sink);
        free(buf);
    }
    return 0;
}
