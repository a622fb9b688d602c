/* Index kernels: every SIMD level against the scalar reference; half-float
 * conversion against IEEE 754 values and the F16C instruction; CRC-32C
 * against its published check value. */
#include "iris.h"
#include "test.h"
#include "ann_data.h"
#include "index/crc32c.h"
#include "index/kernels.h"

static const size_t LENS[] = {1, 7, 16, 31, 64, 100, 128, 255, 512, 768, 1000};
#define NLENS (sizeof LENS / sizeof LENS[0])

static void fill(float *v, size_t n, uint64_t seed)
{
    ann_rng r = {seed};
    for (size_t i = 0; i < n; i++) v[i] = (float)ann_rng_gauss(&r);
}

static void test_float_kernels_match_scalar(void)
{
    const ann_kernels *ref = ann_kernels_at(ANN_SIMD_SCALAR);
    CHECK(ref != NULL);
    float a[1000], b[1000];
    uint16_t h[1000];
    fill(a, 1000, 1);
    fill(b, 1000, 2);
    ref->f32_to_f16(b, h, 1000);
    for (int lv = ANN_SIMD_AVX2; lv <= ANN_SIMD_AVX512; lv++) {
        const ann_kernels *k = ann_kernels_at(lv);
        if (!k) continue;
        for (size_t i = 0; i < NLENS; i++) {
            size_t n = LENS[i];
            double tol = 1e-5 * sqrt((double)n) * 4;
            CHECK_NEAR(k->dot_f32(a, b, n), ref->dot_f32(a, b, n), tol);
            CHECK_NEAR(k->dot_f16(a, h, n), ref->dot_f16(a, h, n), tol);
        }
    }
}

static void test_int_kernels_exact(void)
{
    const ann_kernels *ref = ann_kernels_at(ANN_SIMD_SCALAR);
    int8_t a[1000], b[1000];
    uint64_t x[40], y[40];
    ann_rng r = {3};
    for (int i = 0; i < 1000; i++) {
        a[i] = (int8_t)(ann_rng_next(&r) % 255 - 127); /* full code range [-127, 127] */
        b[i] = (int8_t)(ann_rng_next(&r) % 255 - 127);
    }
    for (int i = 0; i < 40; i++) {
        x[i] = ann_rng_next(&r);
        y[i] = ann_rng_next(&r);
    }
    /* Extremes: the VNNI path's +128 trick must not overflow or lose sign. */
    int8_t lo[512], hi[512];
    memset(lo, -127, sizeof lo);
    memset(hi, 127, sizeof hi);
    CHECK_EQ_INT(ref->dot_i8(lo, hi, 512), -127 * 127 * 512);
    for (int lv = ANN_SIMD_AVX2; lv <= ANN_SIMD_AVX512; lv++) {
        const ann_kernels *k = ann_kernels_at(lv);
        if (!k) continue;
        for (size_t i = 0; i < NLENS; i++)
            CHECK_EQ_INT(k->dot_i8(a, b, LENS[i]), ref->dot_i8(a, b, LENS[i]));
        CHECK_EQ_INT(k->dot_i8(lo, hi, 512), -127 * 127 * 512);
        CHECK_EQ_INT(k->dot_i8(lo, lo, 512), 127 * 127 * 512);
        for (size_t nw = 1; nw <= 40; nw++) CHECK_EQ_INT(k->hamming(x, y, nw), ref->hamming(x, y, nw));
    }
}

/* The scan's many-rows kernel: every level, any row count (the AVX-512
 * one takes rows four at a time), any length (tails), the code extremes,
 * all equal to one scalar dot product per row. */
static void test_int8_rows_kernel_exact(void)
{
    enum { ROWS = 11, LEN = 1000 };
    static int8_t q[LEN], data[ROWS][LEN];
    ann_rng r = {4};
    for (int i = 0; i < LEN; i++) q[i] = (int8_t)(ann_rng_next(&r) % 255 - 127);
    for (int j = 0; j < ROWS; j++)
        for (int i = 0; i < LEN; i++)
            data[j][i] = (int8_t)(j == 0 ? 127 : j == 1 ? -127 : (int)(ann_rng_next(&r) % 255) - 127);
    const int8_t *rows[ROWS];
    for (int j = 0; j < ROWS; j++) rows[j] = data[(j * 7) % ROWS]; /* any order, repeats fine */
    const ann_kernels *ref = ann_kernels_at(ANN_SIMD_SCALAR);
    for (int lv = ANN_SIMD_SCALAR; lv <= ANN_SIMD_AVX512; lv++) {
        const ann_kernels *k = ann_kernels_at(lv);
        if (!k) continue;
        for (size_t li = 0; li < NLENS; li++)
            for (size_t n = 0; n <= ROWS; n++) {
                int32_t out[ROWS + 1];
                out[n] = 12345; /* nothing past n_rows is written */
                k->dot_i8_rows(q, rows, n, LENS[li], out);
                for (size_t j = 0; j < n; j++)
                    CHECK_EQ_INT(out[j], ref->dot_i8(q, rows[j], LENS[li]));
                CHECK_EQ_INT(out[n], 12345);
            }
        int8_t lo[512], hi[512];
        memset(lo, -127, sizeof lo);
        memset(hi, 127, sizeof hi);
        const int8_t *his[5] = {hi, hi, hi, hi, hi}, *los[5] = {lo, lo, lo, lo, lo};
        int32_t out[5];
        k->dot_i8_rows(lo, his, 5, 512, out);
        for (int j = 0; j < 5; j++) CHECK_EQ_INT(out[j], -127 * 127 * 512);
        k->dot_i8_rows(lo, los, 5, 512, out);
        for (int j = 0; j < 5; j++) CHECK_EQ_INT(out[j], 127 * 127 * 512);
    }
    uint64_t ones = ~0ull, zero = 0;
    CHECK_EQ_INT(ref->hamming(&ones, &zero, 1), 64);
}

static void test_f16_ieee_values(void)
{
    /* IEEE 754 binary16 encodings. */
    CHECK(ann_f16_to_f32(0x3c00) == 1.0f);
    CHECK(ann_f16_to_f32(0xc000) == -2.0f);
    CHECK(ann_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(ann_f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    CHECK(ann_f16_to_f32(0x0400) == ldexpf(1.0f, -14)); /* smallest normal */
    CHECK(isinf(ann_f16_to_f32(0x7c00)) && isnan(ann_f16_to_f32(0x7e00)));
    CHECK_EQ_INT(ann_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(ann_f32_to_f16(65520.0f), 0x7c00);  /* rounds up to inf */
    CHECK_EQ_INT(ann_f32_to_f16(65519.0f), 0x7bff);
    CHECK_EQ_INT(ann_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00); /* tie to even */
    CHECK_EQ_INT(ann_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);       /* tie to even: 0 */
    CHECK_EQ_INT(ann_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    /* Every finite half survives a round trip exactly. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        CHECK_EQ_INT(ann_f32_to_f16(ann_f16_to_f32((uint16_t)h)), h);
    }
}

static void test_f16_matches_f16c(void)
{
    const ann_kernels *k = ann_kernels_at(ANN_SIMD_AVX2), *ref = ann_kernels_at(ANN_SIMD_SCALAR);
    if (!k) SKIP("CPU has no F16C");
    float v[4096];
    uint16_t a[4096], b[4096];
    ann_rng r = {9};
    for (int round = 0; round < 64; round++) {
        for (int i = 0; i < 4096; i++) { /* all exponents, including sub/overflow */
            uint32_t bits = (uint32_t)ann_rng_next(&r);
            if (round % 2) bits = (bits & 0x807fffffu) | ((uint32_t)(100 + i % 50) << 23);
            memcpy(&v[i], &bits, 4);
            if (isnan(v[i])) v[i] = 0;
        }
        k->f32_to_f16(v, a, 4096);
        ref->f32_to_f16(v, b, 4096);
        for (int i = 0; i < 4096; i++) CHECK_MSG(a[i] == b[i], "%.9g: %04x vs %04x", v[i], a[i], b[i]);
    }
}

static void test_crc32c_check_value(void)
{
    CHECK_EQ_INT(ann_crc32c(0, "123456789", 9), 0xe3069283u);
    CHECK_EQ_INT(ann_crc32c_sw(0, "123456789", 9), 0xe3069283u);
    CHECK_EQ_INT(ann_crc32c(0, "", 0), 0);
    unsigned char buf[3000];
    ann_rng r = {5};
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)ann_rng_next(&r);
    for (size_t n = 0; n < sizeof buf; n += 97) {
        CHECK_EQ_INT(ann_crc32c(0, buf, n), ann_crc32c_sw(0, buf, n));
        /* Continuation equals one pass. */
        CHECK_EQ_INT(ann_crc32c(ann_crc32c(0, buf, n / 3), buf + n / 3, n - n / 3), ann_crc32c(0, buf, n));
    }
}

int main(void)
{
    printf("# kernels: best level here is %s\n", ann_kernels_best()->name);
    RUN(test_float_kernels_match_scalar);
    RUN(test_int_kernels_exact);
    RUN(test_int8_rows_kernel_exact);
    RUN(test_f16_ieee_values);
    RUN(test_f16_matches_f16c);
    RUN(test_crc32c_check_value);
    return test_summary();
}
