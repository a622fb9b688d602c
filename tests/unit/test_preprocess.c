/*
 * test_preprocess.c - CLIP preprocessing against Hugging Face's goldens.
 *
 * tests/fixtures/images/preprocess.txt (tools/reference/make_image_fixtures.py)
 * holds the SHA-256 of CLIPImageProcessor's float32 pixel_values for
 * synthetic images that pattern() below regenerates bit for bit (noise and
 * hard-edged gradients; 1x1, 1xN, very wide, odd sizes, exactly 224,
 * smaller than the crop, crop sizes 224, 336 and tiny ones) and for the
 * decode fixtures. The hash matching means the whole tensor is identical
 * to the reference, down to the last bit. The Python test
 * (tests/py/test_preprocess_reference.py) checks the same live, on real
 * photos too; this one runs the code under ASan/UBSan.
 */
#include "iris.h"
#include "media/preprocess.h"
#include "test.h"
#include "util/fs.h"

#define GOLDENS "tests/fixtures/images/preprocess.txt"

static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* The generator's pattern(): 0 = integer hash noise, 1 = gradients with a
 * hard-edged inverted square in the middle third. */
static unsigned char *pattern(int w, int h, int kind)
{
    unsigned char *p = malloc((size_t)w * h * 3);
    uint64_t mw = w > 1 ? (uint64_t)w - 1 : 1, mh = h > 1 ? (uint64_t)h - 1 : 1;
    for (uint64_t y = 0; y < (uint64_t)h; y++)
        for (uint64_t x = 0; x < (uint64_t)w; x++)
            for (uint64_t c = 0; c < 3; c++) {
                uint64_t v;
                if (kind == 0) {
                    v = (x * 73856093u) ^ (y * 19349663u) ^ (c * 83492791u + 12345u);
                    v = ((v & 0xFFFFFFFFu) * 2654435761u) & 0xFFFFFFFFu;
                    v >>= 24;
                } else {
                    v = (x * 255 / mw * (c + 1) + y * 255 / mh * (3 - c)) / 4;
                    int inside = x * 3 >= (uint64_t)w && x * 3 < 2 * (uint64_t)w &&
                                 y * 3 >= (uint64_t)h && y * 3 < 2 * (uint64_t)h;
                    if (inside) v = 255 - v;
                }
                p[(y * (uint64_t)w + x) * 3 + c] = (unsigned char)(v & 255);
            }
    return p;
}

static void tensor_sha(const iris_image *img, int size, int crop, char hex[65])
{
    size_t n = (size_t)3 * crop * crop;
    float *out = malloc(n * sizeof *out);
    CHECK_OK(media_preprocess(img, size, crop, 1.0 / 255, clip_mean, clip_std, out));
    CHECK_OK(iris_sha256_hex(out, n * sizeof *out, hex));
    free(out);
}

/* Runs one golden line; returns 1 if it was a synthetic case. */
static int check_golden(const char *line)
{
    char name[160], src[96], want[65], hex[65];
    int w, h, size, crop;
    if (sscanf(line, "%159s %d %d %95s %d %d %64s", name, &w, &h, src, &size, &crop, want) != 7)
        return 0;
    iris_image img = {0};
    int synthetic = !strcmp(src, "0") || !strcmp(src, "1");
    if (synthetic) {
        img.width = w, img.height = h, img.rgb = pattern(w, h, src[0] - '0');
    } else {
        char path[160];
        snprintf(path, sizeof path, "tests/fixtures/images/%s", src);
        CHECK_OK(iris_image_load(path, NULL, &img));
        CHECK_MSG(img.width == w && img.height == h, "%s: decoded %dx%d", name, img.width,
                  img.height);
    }
    tensor_sha(&img, size, crop, hex);
    iris_image_free(&img);
    CHECK_MSG(!strcmp(hex, want), "%s: tensor %.12s differs from the reference's %.12s", name, hex,
              want);
    return synthetic;
}

static void test_goldens(void)
{
    size_t len;
    char *text = test_read_file(GOLDENS, &len);
    CHECK_MSG(text != NULL, "cannot read " GOLDENS);
    int n = 0, synthetic = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), n++)
        synthetic += check_golden(line);
    free(text);
    CHECK(synthetic >= 30 && n > 150);
}

/* Python's int(size * long / short), worked by hand. */
static void test_resize_dims(void)
{
    static const int cases[][5] = {
        {640, 480, 224, 298, 224}, {480, 640, 224, 224, 298}, {1, 1, 224, 224, 224},
        {4000, 3, 224, 298666, 224}, {1500, 3, 224, 112000, 224}, {224, 224, 224, 224, 224}, {3, 7, 5, 5, 11},
        {1000, 999, 336, 336, 336}, {999, 1000, 336, 336, 336}, {1001, 1000, 1000, 1001, 1000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int w, h;
        media_resize_dims(cases[i][0], cases[i][1], cases[i][2], &w, &h);
        CHECK_MSG(w == cases[i][3] && h == cases[i][4], "%dx%d -> %d: %dx%d", cases[i][0],
                  cases[i][1], cases[i][2], w, h);
    }
}

/* Weights sum to one: a flat image stays flat at every scale, and the
 * same size is an exact copy. Known by construction. */
static void test_resize_properties(void)
{
    static const int sizes[][4] = {{37, 29, 224, 300}, {640, 480, 13, 7}, {5, 5, 5, 5},
                                   {1, 1, 9, 4}, {300, 2, 3, 300}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int sw = sizes[i][0], sh = sizes[i][1], dw = sizes[i][2], dh = sizes[i][3];
        unsigned char *src = malloc((size_t)sw * sh * 3), *dst = malloc((size_t)dw * dh * 3);
        for (size_t k = 0; k < (size_t)sw * sh; k++) src[3 * k] = 0, src[3 * k + 1] = 77, src[3 * k + 2] = 255;
        CHECK_OK(media_resize_bicubic(src, sw, sh, dst, dw, dh));
        int flat = 1;
        for (size_t k = 0; k < (size_t)dw * dh; k++)
            flat &= dst[3 * k] == 0 && dst[3 * k + 1] == 77 && dst[3 * k + 2] == 255;
        free(src);
        free(dst);
        CHECK_MSG(flat, "%dx%d -> %dx%d is not flat", sw, sh, dw, dh);
    }
    unsigned char *p = pattern(31, 17, 0), *q = malloc(31 * 17 * 3);
    CHECK_OK(media_resize_bicubic(p, 31, 17, q, 31, 17));
    CHECK(!memcmp(p, q, 31 * 17 * 3));
    free(p);
    free(q);
}

/* The AVX2 passes against the scalar reference, on noise: row counts that
 * are not multiples of 8, widths that are not multiples of 32 bytes,
 * downscales up to 40x, upscales, one axis unchanged. */
static void test_simd_matches_scalar(void)
{
    static const int sizes[][4] = {
        {640, 480, 298, 224}, {2000, 9, 50, 3}, {13, 1000, 7, 25}, {301, 203, 300, 17},
        {33, 47, 170, 211}, {8, 8, 8, 9}, {1, 40, 1, 7}, {97, 1, 31, 1}, {1000, 999, 25, 24},
        {11, 17, 11, 300}, {123, 77, 61, 77},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int sw = sizes[i][0], sh = sizes[i][1], dw = sizes[i][2], dh = sizes[i][3];
        unsigned char *src = pattern(sw, sh, (int)i % 2);
        unsigned char *a = malloc((size_t)dw * dh * 3), *b = malloc((size_t)dw * dh * 3);
        CHECK_OK(media_resize_bicubic(src, sw, sh, a, dw, dh));
        CHECK_OK(media_resize_bicubic_scalar(src, sw, sh, b, dw, dh));
        int same = !memcmp(a, b, (size_t)dw * dh * 3);
        free(src);
        free(a);
        free(b);
        CHECK_MSG(same, "%dx%d -> %dx%d: SIMD and scalar differ", sw, sh, dw, dh);
    }
}

static void test_bad_arguments(void)
{
    unsigned char px[3] = {1, 2, 3};
    iris_image img = {1, 1, px};
    float out[3 * 4 * 4];
    const float zero[3] = {1, 0, 1};
    CHECK_EQ_INT(media_preprocess(NULL, 4, 4, 1.0 / 255, clip_mean, clip_std, out), IRIS_EARG);
    CHECK_EQ_INT(media_preprocess(&img, 0, 4, 1.0 / 255, clip_mean, clip_std, out), IRIS_EARG);
    CHECK_EQ_INT(media_preprocess(&img, 4, 0, 1.0 / 255, clip_mean, clip_std, out), IRIS_EARG);
    CHECK_EQ_INT(media_preprocess(&img, 4, 4, 1.0 / 255, clip_mean, zero, out), IRIS_EARG);
    CHECK_EQ_INT(media_preprocess(&img, 4, 4, 1.0 / 255, NULL, clip_std, out), IRIS_EARG);
    iris_image none = {0, 0, NULL};
    CHECK_EQ_INT(media_preprocess(&none, 4, 4, 1.0 / 255, clip_mean, clip_std, out), IRIS_EARG);
    CHECK_EQ_INT(media_resize_bicubic(px, 1, 1, NULL, 2, 2), IRIS_EARG);
    CHECK_EQ_INT(media_resize_bicubic(px, 1, 1, px, 0, 2), IRIS_EARG);
    CHECK_OK(media_preprocess(&img, 4, 4, 1.0 / 255, clip_mean, clip_std, out));
    /* 1x1 -> 4x4: every pixel is the one source pixel, normalised. */
    CHECK_NEAR(out[0], ((float)(1 / 255.0) - clip_mean[0]) / clip_std[0], 0);
    CHECK_NEAR(out[16 + 5], ((float)(2 / 255.0) - clip_mean[1]) / clip_std[1], 0);
}

int main(void)
{
    RUN(test_goldens);
    RUN(test_resize_dims);
    RUN(test_resize_properties);
    RUN(test_simd_matches_scalar);
    RUN(test_bad_arguments);
    return test_summary();
}
