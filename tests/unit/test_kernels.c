/*
 * test_kernels.c - the CLIP kernels against their scalar reference, and the
 * scalar reference against plain double-precision arithmetic or published
 * values. Every fast path this CPU has (AVX2, AVX-512) is checked on shapes
 * with ragged edges in every dimension and on every weight dtype.
 */
#include "test.h"

#include "clip/kernels.h"
#include "util/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* ------------------------------------------------------------ helpers */

static uint32_t rng_state = 12345;
static float frand(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 23) - 1.0f;
}

static void fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = frand() * scale;
}

/* f32 -> f16, round to nearest even (normal range is all the tests use). */
static uint16_t to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int exp = (int)((x >> 23) & 0xFF) - 127 + 15;
    uint32_t mant = x & 0x7FFFFFu;
    if (exp <= 0) return (uint16_t)sign; /* flush tiny values: not used here */
    uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)h;
}

static uint16_t to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    x += 0x7FFFu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* Builds an [rows, cols] tensor of dtype t holding (approximately) v. */
static clip_tensor make_tensor(const float *v, int rows, int cols, clip_dtype t, void **mem)
{
    int64_t n = (int64_t)rows * cols;
    size_t bytes = clip_dtype_bytes(t, n);
    unsigned char *d = malloc(bytes ? bytes : 1);
    for (int64_t i = 0; t != CLIP_Q8_0 && i < n; i++) {
        if (t == CLIP_F32) memcpy(d + 4 * i, &v[i], 4);
        else {
            uint16_t h = t == CLIP_F16 ? to_f16(v[i]) : to_bf16(v[i]);
            memcpy(d + 2 * i, &h, 2);
        }
    }
    for (int64_t b = 0; t == CLIP_Q8_0 && b < n / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[b * 32 + j]));
        uint16_t dh = to_f16(amax / 127.0f);
        float dv = clip_f16_to_f32(dh);
        memcpy(d + 34 * b, &dh, 2);
        for (int j = 0; j < 32; j++)
            ((int8_t *)d)[34 * b + 2 + j] = (int8_t)(dv > 0 ? lrintf(v[b * 32 + j] / dv) : 0);
    }
    *mem = d;
    clip_tensor ten = {d, t, 2, {rows, cols, 0, 0}, bytes, NULL};
    if (rows == 1) ten = (clip_tensor){d, t, 1, {cols, 0, 0, 0}, bytes, NULL};
    return ten;
}

static const clip_isa fast_isas[] = {CLIP_ISA_AVX2, CLIP_ISA_AVX512};
#define N_FAST (int)(sizeof fast_isas / sizeof fast_isas[0])

/* ------------------------------------------------------------ dtypes */

static void test_dtype_conversion(void)
{
    CHECK(clip_f16_to_f32(0x3C00) == 1.0f);
    CHECK(clip_f16_to_f32(0xC000) == -2.0f);
    CHECK(clip_f16_to_f32(0x7BFF) == 65504.0f);
    CHECK(clip_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    CHECK(clip_f16_to_f32(0x8000) == 0.0f && signbit(clip_f16_to_f32(0x8000)));
    CHECK(isinf(clip_f16_to_f32(0x7C00)));
    CHECK(isnan(clip_f16_to_f32(0x7E00)));
    CHECK(clip_bf16_to_f32(0x3F80) == 1.0f);
    CHECK(clip_bf16_to_f32(0xC0A0) == -5.0f);
    /* q8_0 block: scale 0.5 (f16 0x3800), values 0..31 shifted by -16 */
    unsigned char blk[34] = {0x00, 0x38};
    for (int j = 0; j < 32; j++) blk[2 + j] = (unsigned char)(int8_t)(j - 16);
    clip_tensor t = {blk, CLIP_Q8_0, 1, {32}, 34, NULL};
    float out[32];
    clip_tensor_read_f32(&t, 0, 32, out);
    for (int j = 0; j < 32; j++) CHECK(out[j] == 0.5f * (float)(j - 16));
    CHECK_EQ_INT(clip_dtype_bytes(CLIP_Q8_0, 64), 68);
    CHECK_EQ_INT(clip_dtype_bytes(CLIP_BF16, 3), 6);
}

/* ------------------------------------------------------------ linear */

typedef struct lin_case {
    int M, N, K;
} lin_case;

static const lin_case lin_cases[] = {
    {1, 1, 32},  {3, 5, 32},    {7, 33, 64},  {8, 32, 256}, {9, 45, 96},
    {50, 130, 320}, {17, 257, 544}, {64, 64, 32}, {2, 200, 800},
};

/* Runs one linear on isa (with a pool of `threads`) into y. */
static void run_linear(clip_isa isa, int threads, clip_linear lin)
{
    iris_pool *pool = NULL;
    if (threads > 1) CHECK_OK(iris_pool_create(threads, &pool));
    clip_kctx k;
    CHECK_OK(clip_kctx_init(&k, pool, isa, 0));
    clip_linear_run(&k, &lin, 1);
    clip_kctx_free(&k);
    iris_pool_free(pool);
}

/* Double-precision linear from the dequantized weights. */
static double ref_linear_elem(const float *x, const float *wd, const float *bd, int K, int m,
                              int n)
{
    double acc = bd ? bd[n] : 0.0;
    for (int k = 0; k < K; k++) acc += (double)x[m * K + k] * wd[(size_t)n * K + k];
    return acc;
}

/* Every fast path this CPU has, 1 and 3 threads, against the reference yr
 * (lin.y is redirected to yf, reset from y0 first). */
static void check_fast_paths(clip_linear lin, const float *yr, const float *y0, float *yf,
                             clip_dtype dt, const char *layout)
{
    int ldy = lin.ldy;
    for (int i = 0; i < N_FAST; i++) {
        if (!clip_isa_supported(fast_isas[i])) continue;
        for (int threads = 1; threads <= 3; threads += 2) {
            memcpy(yf, y0, sizeof(float) * lin.M * ldy);
            lin.y = yf;
            run_linear(fast_isas[i], threads, lin);
            for (int m = 0; m < lin.M; m++) {
                for (int n = 0; n < ldy; n++) {
                    float r = yr[m * ldy + n], f = yf[m * ldy + n];
                    if (n >= lin.N) CHECK(f == y0[m * ldy + n]); /* padding untouched */
                    else
                        CHECK_MSG(fabsf(f - r) <= 2e-5f * (1 + fabsf(r)),
                                  "%s %s x%d dtype %d epi %d M%d N%d K%d at (%d,%d): %g vs %g",
                                  clip_isa_name(fast_isas[i]), layout, threads, dt, lin.epi,
                                  lin.M, lin.N, lin.K, m, n, f, r);
                }
            }
        }
    }
}

static void check_linear_case(lin_case c, clip_dtype dt, clip_epilogue epi, int with_bias)
{
    int ldy = c.N + 3;
    float *x = malloc(sizeof(float) * c.M * c.K), *w = malloc(sizeof(float) * c.N * c.K);
    float *b = malloc(sizeof(float) * c.N), *y0 = malloc(sizeof(float) * c.M * ldy);
    float *wd = malloc(sizeof(float) * c.N * c.K), *bd = malloc(sizeof(float) * c.N);
    float *yr = malloc(sizeof(float) * c.M * ldy), *yf = malloc(sizeof(float) * c.M * ldy);
    fill(x, (size_t)c.M * c.K, 1.0f);
    fill(w, (size_t)c.N * c.K, 1.0f / sqrtf((float)c.K));
    fill(b, c.N, 0.5f);
    fill(y0, (size_t)c.M * ldy, 1.0f);
    void *wm, *bm;
    clip_tensor wt = make_tensor(w, c.N, c.K, dt, &wm);
    wt.ndim = 2, wt.ne[0] = c.N, wt.ne[1] = c.K; /* a weight stays [N, K] when N is 1 */
    clip_tensor bt = make_tensor(b, 1, c.N, dt == CLIP_Q8_0 ? CLIP_F32 : dt, &bm);
    clip_tensor_read_f32(&wt, 0, (int64_t)c.N * c.K, wd);
    clip_tensor_read_f32(&bt, 0, c.N, bd);
    clip_linear lin = {x, c.K, &wt, with_bias ? &bt : NULL, yr, ldy, c.M, c.N, c.K, epi};

    /* scalar reference against double precision */
    memcpy(yr, y0, sizeof(float) * c.M * ldy);
    run_linear(CLIP_ISA_SCALAR, 1, lin);
    for (int m = 0; m < c.M; m++)
        for (int n = 0; n < c.N; n++) {
            double r = ref_linear_elem(x, wd, with_bias ? bd : NULL, c.K, m, n);
            if (epi == CLIP_EPI_ADD) r += y0[m * ldy + n];
            if (epi == CLIP_EPI_QUICK_GELU) r = r / (1.0 + exp(-1.702 * r));
            if (epi == CLIP_EPI_GELU) r = 0.5 * r * (1.0 + erf(r / sqrt(2.0)));
            CHECK_MSG(fabs(yr[m * ldy + n] - r) <= 2e-5 * (1 + fabs(r)),
                      "dtype %d epi %d M%d N%d K%d at (%d,%d): %g vs %g", dt, epi, c.M, c.N, c.K,
                      m, n, yr[m * ldy + n], r);
        }
    /* every fast path, single- and multi-threaded, against the reference:
     * from the stored rows, then from column panels */
    check_fast_paths(lin, yr, y0, yf, dt, "rows");
    void *panels = malloc(clip_panels_bytes(&wt));
    clip_panels_fill(&wt, panels);
    wt.panels = panels;
    check_fast_paths(lin, yr, y0, yf, dt, "panels");
    wt.panels = NULL;
    free(panels);
    free(wm), free(bm), free(x), free(w), free(b), free(y0), free(wd), free(bd), free(yr),
        free(yf);
}

static void test_linear_all_dtypes_and_epilogues(void)
{
    for (size_t c = 0; c < sizeof lin_cases / sizeof lin_cases[0]; c++)
        for (int dt = CLIP_F32; dt <= CLIP_Q8_0; dt++)
            for (int epi = CLIP_EPI_STORE; epi <= CLIP_EPI_GELU; epi++)
                check_linear_case(lin_cases[c], (clip_dtype)dt, (clip_epilogue)epi, epi != 1);
    /* odd K (not a q8_0 shape) through f32/f16/bf16; K % 32 == 16 takes the
     * small-M kernel's tail steps */
    lin_case odd[] = {{5, 19, 3}, {13, 31, 37}, {33, 40, 588}, {8, 7, 48}, {4, 10, 528}};
    for (int c = 0; c < 5; c++)
        for (int dt = CLIP_F32; dt <= CLIP_BF16; dt++)
            check_linear_case(odd[c], (clip_dtype)dt, CLIP_EPI_ADD, 1);
}

/* Threads change which worker computes a block, never the arithmetic. */
static void test_linear_threads_bitwise_identical(void)
{
    int M = 100, N = 300, K = 384;
    float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
    float *y1 = malloc(sizeof(float) * M * N), *y4 = malloc(sizeof(float) * M * N);
    fill(x, (size_t)M * K, 1), fill(w, (size_t)N * K, 0.05f);
    void *wm;
    clip_tensor wt = make_tensor(w, N, K, CLIP_F16, &wm);
    clip_isa isa = clip_isa_best();
    clip_linear lin = {x, K, &wt, NULL, y1, N, M, N, K, CLIP_EPI_GELU};
    run_linear(isa, 1, lin);
    lin.y = y4;
    run_linear(isa, 4, lin);
    CHECK(memcmp(y1, y4, sizeof(float) * M * N) == 0);
    free(wm), free(x), free(w), free(y1), free(y4);
}

/* The panel kernel for few rows accumulates exactly like the GEMM: a text
 * query gets the same bits whether it is encoded alone or in a batch, and
 * panels change nothing but speed. */
static void test_panels_match_gemm_bitwise(void)
{
    clip_isa isa = clip_isa_best();
    if (isa == CLIP_ISA_SCALAR) SKIP("no SIMD path on this CPU");
    int N = 200, K = 544, rows[] = {1, 8, 20};
    for (int dt = CLIP_F32; dt <= CLIP_Q8_0; dt++)
        for (int r = 0; r < 3; r++) {
            int M = rows[r];
            float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
            float *b = malloc(sizeof(float) * N), *y[3];
            fill(x, (size_t)M * K, 1), fill(w, (size_t)N * K, 0.05f), fill(b, N, 0.5f);
            void *wm, *bm;
            clip_tensor wt = make_tensor(w, N, K, (clip_dtype)dt, &wm);
            clip_tensor bt = make_tensor(b, 1, N, CLIP_F32, &bm);
            void *panels = malloc(clip_panels_bytes(&wt));
            clip_panels_fill(&wt, panels);
            for (int v = 0; v < 3; v++) { /* small-M on panels, GEMM on panels, GEMM on rows */
                y[v] = malloc(sizeof(float) * M * N);
                wt.panels = v < 2 ? panels : NULL;
                if (v > 0) setenv("IRIS_DOT_ROWS", "0", 1);
                clip_linear lin = {x, K, &wt, &bt, y[v], N, M, N, K, CLIP_EPI_QUICK_GELU};
                run_linear(isa, 1, lin);
                unsetenv("IRIS_DOT_ROWS");
            }
            CHECK_MSG(!memcmp(y[0], y[1], sizeof(float) * M * N), "dtype %d M%d: panels", dt, M);
            CHECK_MSG(!memcmp(y[1], y[2], sizeof(float) * M * N), "dtype %d M%d: gemm", dt, M);
            for (int v = 0; v < 3; v++) free(y[v]);
            free(panels), free(wm), free(bm), free(x), free(w), free(b);
        }
}

/* bf16 compute on AMX: each output against double precision from the
 * bf16-rounded x and W (the products the tile unit multiplies exactly), all
 * epilogues, ragged M (not whole blocks of 32), N (not whole tiles of 16)
 * and K (not whole tiles of 32), every dtype, 1 and 3 threads. The tile
 * unit sums in f32 in its own order: the bound is relative to the sum of
 * |products| (measured worst: see the printed line). */
static void test_amx_bf16_against_reference(void)
{
    if (!clip_amx_available()) SKIP("no AMX-BF16 here (or the OS refused the tile state)");
    lin_case cases[] = {{25, 5, 32}, {33, 40, 96}, {64, 130, 544}, {100, 257, 768}, {40, 33, 3072}};
    double worst = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int dt = CLIP_F32; dt <= CLIP_Q8_0; dt++)
            for (int epi = CLIP_EPI_STORE; epi <= CLIP_EPI_GELU; epi++)
                for (int threads = 1; threads <= 3; threads += 2) {
                    lin_case L = cases[c];
                    if (dt == CLIP_Q8_0 && L.K % 32) continue;
                    int ldy = L.N + 3;
                    float *x = malloc(sizeof(float) * L.M * L.K), *w = malloc(sizeof(float) * L.N * L.K);
                    float *b = malloc(sizeof(float) * L.N), *y0 = malloc(sizeof(float) * L.M * ldy);
                    float *y = malloc(sizeof(float) * L.M * ldy), *wd = malloc(sizeof(float) * L.N * L.K);
                    fill(x, (size_t)L.M * L.K, 1), fill(w, (size_t)L.N * L.K, 1 / sqrtf((float)L.K));
                    fill(b, L.N, 0.5f), fill(y0, (size_t)L.M * ldy, 1);
                    void *wm, *bm;
                    clip_tensor wt = make_tensor(w, L.N, L.K, (clip_dtype)dt, &wm);
                    clip_tensor bt = make_tensor(b, 1, L.N, CLIP_F32, &bm);
                    clip_tensor_read_f32(&wt, 0, (int64_t)L.N * L.K, wd);
                    memcpy(y, y0, sizeof(float) * L.M * ldy);
                    iris_pool *pool = NULL;
                    if (threads > 1) CHECK_OK(iris_pool_create(threads, &pool));
                    clip_kctx k;
                    CHECK_OK(clip_kctx_init(&k, pool, CLIP_ISA_AVX512, clip_amx_work_floats(L.K)));
                    k.bf16 = 1;
                    k.bf16_x_elems = (size_t)(L.M + 31) / 32 * 32 * ((L.K + 31) / 32 * 32);
                    k.bf16_x = malloc(k.bf16_x_elems * 2);
                    clip_linear lin = {x, L.K, &wt, epi == CLIP_EPI_ADD ? NULL : &bt, y, ldy,
                                       L.M, L.N, L.K, (clip_epilogue)epi};
                    clip_linear_run(&k, &lin, 1);
                    for (int m = 0; m < L.M; m++)
                        for (int n = 0; n < ldy; n++) {
                            if (n >= L.N) {
                                CHECK(y[m * ldy + n] == y0[m * ldy + n]);
                                continue;
                            }
                            double r = epi == CLIP_EPI_ADD ? y0[m * ldy + n] : b[n], mag = fabs(r);
                            for (int kk = 0; kk < L.K; kk++) {
                                double p = (double)clip_bf16_to_f32(to_bf16(x[m * L.K + kk])) *
                                           clip_bf16_to_f32(to_bf16(wd[(size_t)n * L.K + kk]));
                                r += p, mag += fabs(p);
                            }
                            if (epi == CLIP_EPI_QUICK_GELU) r = r / (1.0 + exp(-1.702 * r));
                            if (epi == CLIP_EPI_GELU) r = 0.5 * r * (1.0 + erf(r / sqrt(2.0)));
                            double err = fabs(y[m * ldy + n] - r) / (1 + mag);
                            worst = err > worst ? err : worst;
                            CHECK_MSG(err <= 1e-6, "dtype %d epi %d M%d N%d K%d x%d at (%d,%d): "
                                      "%g vs %g", dt, epi, L.M, L.N, L.K, threads, m, n,
                                      y[m * ldy + n], r);
                        }
                    free(k.bf16_x);
                    clip_kctx_free(&k);
                    iris_pool_free(pool);
                    free(wm), free(bm), free(x), free(w), free(b), free(y0), free(y), free(wd);
                }
    printf("# amx bf16: worst |error| / (1 + sum |products|) = %.3g\n", worst);
}

/* ------------------------------------------------------------ row kernels */

static void test_activations_against_reference(void)
{
    /* published values: GELU(1) = Phi(1); quick_gelu(1) = 1 / (1 + e^-1.702) */
    float v[2] = {1.0f, 1.0f};
    clip_activation(CLIP_ISA_SCALAR, v, 1, CLIP_EPI_GELU);
    clip_activation(CLIP_ISA_SCALAR, v + 1, 1, CLIP_EPI_QUICK_GELU);
    CHECK_NEAR(v[0], 0.8413447460685429, 1e-7);
    CHECK_NEAR(v[1], 1.0 / (1.0 + exp(-1.702)), 1e-7);
    enum { N = 2003 };
    static float x[N], r[N], f[N];
    for (int i = 0; i < N; i++) x[i] = -12.0f + 24.0f * (float)i / N;
    x[0] = -100.0f, x[1] = 100.0f, x[2] = 0.0f;
    for (int epi = CLIP_EPI_QUICK_GELU; epi <= CLIP_EPI_GELU; epi++) {
        memcpy(r, x, sizeof x);
        clip_activation(CLIP_ISA_SCALAR, r, N, (clip_epilogue)epi);
        for (int i = 0; i < N_FAST; i++) {
            if (!clip_isa_supported(fast_isas[i])) continue;
            memcpy(f, x, sizeof x);
            clip_activation(fast_isas[i], f, N, (clip_epilogue)epi);
            for (int j = 0; j < N; j++)
                CHECK_MSG(fabsf(f[j] - r[j]) <= 1e-6f * (1 + fabsf(r[j])), "%s epi %d x=%g: %g vs %g",
                          clip_isa_name(fast_isas[i]), epi, x[j], f[j], r[j]);
        }
    }
}

static void test_softmax_against_reference(void)
{
    float big[2] = {1000.0f, 1001.0f}; /* no overflow: shifted by the max */
    clip_softmax_row(clip_isa_best(), big, 2, 1.0f);
    CHECK_NEAR(big[0], 1.0 / (1.0 + exp(1.0)), 1e-6);
    CHECK_NEAR(big[1], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    int lens[] = {1, 7, 16, 50, 77, 197, 258};
    for (int l = 0; l < 7; l++) {
        int n = lens[l];
        float x[258], r[258], f[258];
        fill(x, n, 8.0f);
        memcpy(r, x, sizeof(float) * n);
        clip_softmax_row(CLIP_ISA_SCALAR, r, n, 0.125f);
        double sum = 0;
        for (int j = 0; j < n; j++) sum += r[j];
        CHECK_NEAR(sum, 1.0, 1e-5);
        for (int i = 0; i < N_FAST; i++) {
            if (!clip_isa_supported(fast_isas[i])) continue;
            memcpy(f, x, sizeof(float) * n);
            clip_softmax_row(fast_isas[i], f, n, 0.125f);
            for (int j = 0; j < n; j++) CHECK_NEAR(f[j], r[j], 1e-6 * (1 + r[j]));
        }
    }
}

static void test_layernorm_against_reference(void)
{
    float x[4] = {1, 2, 3, 4}, g[4] = {1, 1, 1, 1}, b[4] = {0, 0, 0, 0}, y[4];
    clip_tensor gt = {g, CLIP_F32, 1, {4}, 16, NULL}, bt = {b, CLIP_F32, 1, {4}, 16, NULL};
    clip_kctx k;
    CHECK_OK(clip_kctx_init(&k, NULL, CLIP_ISA_SCALAR, 0));
    clip_layernorm(&k, x, 4, y, 4, 1, 4, &gt, &bt, 1e-5f);
    for (int i = 0; i < 4; i++) CHECK_NEAR(y[i], (x[i] - 2.5) / sqrt(1.25 + 1e-5), 1e-6);
    clip_kctx_free(&k);

    int widths[] = {5, 32, 48, 768, 1029};
    for (int wi = 0; wi < 5; wi++) {
        int n = widths[wi], M = 7;
        float *xs = malloc(sizeof(float) * M * n), *r = malloc(sizeof(float) * M * n);
        float *f = malloc(sizeof(float) * M * n), *gv = malloc(sizeof(float) * n);
        float *bv = malloc(sizeof(float) * n);
        fill(xs, (size_t)M * n, 3.0f), fill(gv, n, 1.0f), fill(bv, n, 1.0f);
        for (int i = 0; i < M * n; i++) xs[i] += 5.0f; /* a large mean */
        void *gm, *bm;
        clip_tensor g16 = make_tensor(gv, 1, n, CLIP_BF16, &gm);
        clip_tensor b16 = make_tensor(bv, 1, n, CLIP_F16, &bm);
        CHECK_OK(clip_kctx_init(&k, NULL, CLIP_ISA_SCALAR, 0));
        clip_layernorm(&k, xs, n, r, n, M, n, &g16, &b16, 1e-5f);
        clip_kctx_free(&k);
        for (int i = 0; i < N_FAST; i++) {
            if (!clip_isa_supported(fast_isas[i])) continue;
            iris_pool *pool;
            CHECK_OK(iris_pool_create(2, &pool));
            CHECK_OK(clip_kctx_init(&k, pool, fast_isas[i], 0));
            memcpy(f, xs, sizeof(float) * M * n);
            clip_layernorm(&k, f, n, f, n, M, n, &g16, &b16, 1e-5f); /* in place */
            clip_kctx_free(&k);
            iris_pool_free(pool);
            for (int j = 0; j < M * n; j++) CHECK_NEAR(f[j], r[j], 2e-5 * (1 + fabsf(r[j])));
        }
        free(xs), free(r), free(f), free(gv), free(bv), free(gm), free(bm);
    }
}

/* ------------------------------------------------------------ attention */

/* Naive double-precision attention of one head of one sequence. */
static void naive_attention(const float *qkv, int ld, int T, int heads, int d, int h, int causal,
                            double *out /* [T][d] */)
{
    int W = heads * d;
    double *s = malloc(sizeof(double) * T);
    for (int t = 0; t < T; t++) {
        int n = causal ? t + 1 : T;
        double mx = -1e300, sum = 0;
        for (int u = 0; u < n; u++) {
            double acc = 0;
            for (int j = 0; j < d; j++)
                acc += (double)qkv[t * ld + h * d + j] * qkv[u * ld + W + h * d + j];
            s[u] = acc / sqrt((double)d);
            mx = s[u] > mx ? s[u] : mx;
        }
        for (int u = 0; u < n; u++) sum += s[u] = exp(s[u] - mx);
        for (int j = 0; j < d; j++) {
            double acc = 0;
            for (int u = 0; u < n; u++) acc += s[u] / sum * qkv[u * ld + 2 * W + h * d + j];
            out[t * d + j] = acc;
        }
    }
    free(s);
}

static void test_attention_against_naive(void)
{
    int heads = 3, d = 20, W = heads * d, ld = 3 * W + 5;
    int start[] = {0, 17, 18, 68}, len[] = {17, 1, 50, 9}, rows = 77;
    float *qkv = malloc(sizeof(float) * rows * ld), *out = malloc(sizeof(float) * rows * W);
    fill(qkv, (size_t)rows * ld, 2.0f);
    double *ref = malloc(sizeof(double) * 50 * d);
    for (int causal = 0; causal <= 1; causal++)
        for (int isa = CLIP_ISA_SCALAR; isa <= CLIP_ISA_AVX512; isa++) {
            if (!clip_isa_supported((clip_isa)isa)) continue;
            iris_pool *pool;
            CHECK_OK(iris_pool_create(2, &pool));
            clip_kctx k;
            CHECK_OK(clip_kctx_init(&k, pool, (clip_isa)isa, clip_attention_work_floats(50)));
            clip_attention_args a = {qkv, ld, out, W, start, len, 4, heads, d, causal};
            clip_attention(&k, &a);
            clip_kctx_free(&k);
            iris_pool_free(pool);
            for (int s = 0; s < 4; s++)
                for (int h = 0; h < heads; h++) {
                    naive_attention(qkv + (size_t)start[s] * ld, ld, len[s], heads, d, h, causal,
                                    ref);
                    for (int t = 0; t < len[s]; t++)
                        for (int j = 0; j < d; j++)
                            CHECK_MSG(fabs(out[(start[s] + t) * W + h * d + j] - ref[t * d + j]) <=
                                          1e-5,
                                      "%s causal %d seq %d head %d (%d,%d)",
                                      clip_isa_name((clip_isa)isa), causal, s, h, t, j);
                }
        }
    free(qkv), free(out), free(ref);
}

static void test_l2_normalize(void)
{
    float v[2] = {3, 4}, z[3] = {0, 0, 0};
    clip_l2_normalize(v, 2);
    CHECK_NEAR(v[0], 0.6, 1e-7);
    CHECK_NEAR(v[1], 0.8, 1e-7);
    clip_l2_normalize(z, 3);
    CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0);
}

static void test_isa_choice(void)
{
    clip_isa best = clip_isa_best();
    CHECK(clip_isa_supported(best));
    CHECK(clip_isa_supported(CLIP_ISA_SCALAR));
    setenv("IRIS_ISA", "scalar", 1);
    CHECK_EQ_INT(clip_isa_best(), CLIP_ISA_SCALAR);
    setenv("IRIS_ISA", "nonsense", 1);
    CHECK_EQ_INT(clip_isa_best(), best);
    unsetenv("IRIS_ISA");
    printf("# best ISA here: %s\n", clip_isa_name(best));
}

/* ------------------------------------------------------------ thread pool */

typedef struct count_ctx {
    atomic_int hits[1000];
    atomic_int bad_worker;
    int threads;
} count_ctx;

static void count_task(void *ctx, int t, int worker)
{
    count_ctx *c = ctx;
    atomic_fetch_add(&c->hits[t], 1);
    if (worker < 0 || worker >= c->threads) atomic_store(&c->bad_worker, 1);
}

static void *pool_hammer(void *arg)
{
    iris_pool *pool = arg;
    static _Thread_local count_ctx c;
    for (int round = 0; round < 200; round++) {
        memset(&c, 0, sizeof c);
        c.threads = iris_pool_threads(pool);
        iris_pool_run(pool, 1000, count_task, &c);
        for (int t = 0; t < 1000; t++)
            if (atomic_load(&c.hits[t]) != 1 || atomic_load(&c.bad_worker)) return (void *)1;
    }
    return NULL;
}

static void test_threadpool_runs_every_task_once(void)
{
    iris_pool *bad;
    CHECK_EQ_INT(iris_pool_create(-1, &bad), IRIS_EARG);
    CHECK(bad == NULL);
    CHECK_EQ_INT(iris_pool_threads(NULL), 1);
    CHECK(pool_hammer(NULL) == NULL); /* NULL pool: inline */
    for (int n = 0; n <= 4; n++) {
        iris_pool *pool;
        CHECK_OK(iris_pool_create(n, &pool));
        CHECK_EQ_INT(iris_pool_threads(pool), n ? n : iris_cpu_count());
        CHECK(pool_hammer(pool) == NULL);
        iris_pool_run(pool, 0, count_task, NULL); /* nothing to do */
        iris_pool_free(pool);
    }
    iris_pool_free(NULL);
}

static void test_threadpool_shared_by_concurrent_callers(void)
{
    iris_pool *pool;
    CHECK_OK(iris_pool_create(3, &pool));
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, pool_hammer, pool);
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        ok &= r == NULL;
    }
    iris_pool_free(pool);
    CHECK(ok);
}

int main(void)
{
    RUN(test_isa_choice);
    RUN(test_dtype_conversion);
    RUN(test_linear_all_dtypes_and_epilogues);
    RUN(test_linear_threads_bitwise_identical);
    RUN(test_panels_match_gemm_bitwise);
    RUN(test_amx_bf16_against_reference);
    RUN(test_activations_against_reference);
    RUN(test_softmax_against_reference);
    RUN(test_layernorm_against_reference);
    RUN(test_attention_against_naive);
    RUN(test_l2_normalize);
    RUN(test_threadpool_runs_every_task_once);
    RUN(test_threadpool_shared_by_concurrent_callers);
    return test_summary();
}
