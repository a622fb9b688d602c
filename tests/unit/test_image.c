/*
 * test_image.c - image decoding against Pillow, and hostile input.
 *
 * Expected pixels come from the reference: tests/fixtures/images/decode.txt
 * holds, for every fixture, the SHA-256 of Pillow's Image.convert("RGB")
 * and of ImageOps.exif_transpose(...).convert("RGB") (written by
 * tools/reference/make_image_fixtures.py). A fixture decodes correctly
 * when its hash matches exactly: iris reproduces Pillow's pixels bit for
 * bit in every format and mode covered. Files marked ERROR must fail with
 * that IRIS_E* code and a message naming the file.
 *
 * Hostile input: every fixture is also decoded truncated at many offsets
 * and with bytes overwritten at random (fixed seed); each attempt must
 * either succeed with a well-formed image or fail cleanly with a message.
 * Under ASan/UBSan (make asan) that also proves no leak or bad access.
 */
#include "iris.h"
#include "media/image.h"
#include "test.h"
#include "util/fs.h"

#include <pthread.h>
#include <unistd.h>

#define FIXTURES "tests/fixtures/images/"
#define MAX_FIXTURES 256

typedef struct fixture {
    char name[96];
    int error; /* expected IRIS_E* code, or 0 */
    int w, h, ow, oh;
    char sha[65], osha[65];
} fixture;

static fixture fixtures[MAX_FIXTURES];
static int n_fixtures;

static int code_of(const char *s)
{
    if (!strcmp(s, "LIMIT")) return IRIS_ELIMIT;
    if (!strcmp(s, "FORMAT")) return IRIS_EFORMAT;
    if (!strcmp(s, "UNSUPPORTED")) return IRIS_EUNSUPPORTED;
    return -1;
}

static void load_manifest(void)
{
    if (n_fixtures) return;
    FILE *f = fopen(FIXTURES "decode.txt", "r");
    CHECK_MSG(f != NULL, "cannot open " FIXTURES "decode.txt");
    char line[512];
    while (n_fixtures < MAX_FIXTURES && fgets(line, sizeof line, f)) {
        fixture *x = &fixtures[n_fixtures];
        char word[32];
        memset(x, 0, sizeof *x);
        if (sscanf(line, "%95s %31s", x->name, word) != 2) continue;
        if (!strcmp(word, "ERROR")) {
            char code[32];
            if (sscanf(line, "%*s %*s %31s", code) == 1) x->error = code_of(code);
        } else if (sscanf(line, "%*s %d %d %64s %d %d %64s", &x->w, &x->h, x->sha, &x->ow, &x->oh,
                          x->osha) != 6) {
            continue;
        }
        n_fixtures++;
    }
    fclose(f);
    CHECK(n_fixtures > 50);
}

static void image_sha(const iris_image *img, char hex[65])
{
    CHECK_OK(iris_sha256_hex(img->rgb, (size_t)img->width * img->height * 3, hex));
}

static void check_decodes_as(const fixture *x, int orient)
{
    char path[256], hex[65];
    snprintf(path, sizeof path, FIXTURES "%.95s", x->name);
    iris_decode_opts opts = {.exif_orientation = orient ? 1 : -1};
    iris_image img;
    CHECK_OK(iris_image_load(path, &opts, &img));
    int w = orient ? x->ow : x->w, h = orient ? x->oh : x->h;
    const char *want = orient ? x->osha : x->sha;
    image_sha(&img, hex);
    int same = img.width == w && img.height == h && !strcmp(hex, want);
    int gw = img.width, gh = img.height;
    iris_image_free(&img);
    CHECK_MSG(same, "%.95s (%s): got %dx%d %.12s, Pillow %dx%d %.12s", x->name,
              orient ? "exif_transpose" : "raw", gw, gh, hex, w, h, want);
}

/* Every fixture, as Hugging Face sees it and upright. */
static void test_fixtures_match_pillow(void)
{
    load_manifest();
    int n = 0;
    for (int i = 0; i < n_fixtures; i++) {
        if (fixtures[i].error) continue;
        check_decodes_as(&fixtures[i], 0);
        check_decodes_as(&fixtures[i], 1);
        n++;
    }
    CHECK(n > 90);
}

static void test_hostile_fixtures_fail_cleanly(void)
{
    load_manifest();
    for (int i = 0; i < n_fixtures; i++) {
        const fixture *x = &fixtures[i];
        if (!x->error) continue;
        char path[256];
        snprintf(path, sizeof path, FIXTURES "%.95s", x->name);
        iris_image img = {1, 1, (unsigned char *)path};
        int rc = iris_image_load(path, NULL, &img);
        CHECK_MSG(rc == x->error, "%.95s: got %d (%s), want %d", x->name, rc, iris_errmsg(), x->error);
        CHECK_MSG(strstr(iris_errmsg(), path) != NULL, "%.95s: message lacks the path: %s", x->name,
                  iris_errmsg());
        CHECK(img.rgb == NULL && img.width == 0 && img.height == 0);
    }
}

/* Decodes data; either a well-formed image or a clean failure. Returns rc. */
static int decode_checked(const void *data, size_t n, const char *what, size_t at)
{
    iris_image img;
    int rc = iris_image_decode(data, n, NULL, &img);
    if (rc == IRIS_OK) {
        CHECK_MSG(img.rgb && img.width > 0 && img.height > 0, "%s @%zu: empty image", what, at);
        iris_image_free(&img);
    } else {
        CHECK_MSG(rc > 0 && rc <= IRIS_EINTERNAL && rc != IRIS_EINTERNAL, "%s @%zu: rc %d", what, at,
                  rc);
        CHECK_MSG(img.rgb == NULL && iris_errmsg()[0], "%s @%zu: no message", what, at);
    }
    return rc;
}

static unsigned char *read_fixture(const fixture *x, size_t *n)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%.95s", x->name);
    unsigned char *data = (unsigned char *)test_read_file(path, n);
    CHECK_MSG(data != NULL, "cannot read %s", path);
    return data;
}

/* Truncated at every offset of the first 48 bytes and at 40 more spread
 * over the file. Cutting a file to half its size must always fail: no
 * fixture keeps its (first) image in the first half. */
static void test_truncated_everywhere(void)
{
    load_manifest();
    for (int i = 0; i < n_fixtures; i++) {
        if (fixtures[i].error) continue;
        size_t n;
        unsigned char *data = read_fixture(&fixtures[i], &n);
        for (size_t k = 0; k < 88; k++) {
            size_t at = k < 48 ? k : (n * (k - 47)) / 41;
            if (at >= n) continue;
            unsigned char *copy = malloc(at + 1); /* exact size: ASan sees overreads */
            memcpy(copy, data, at);
            int rc = decode_checked(at ? copy : NULL, at, fixtures[i].name, at);
            free(copy);
            if (at <= n / 2)
                CHECK_MSG(rc != IRIS_OK, "%.95s cut to %zu of %zu bytes decoded", fixtures[i].name, at, n);
        }
        free(data);
    }
}

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

/* Bytes overwritten at random (fixed seed): never a crash. */
static void test_corrupted_bytes(void)
{
    load_manifest();
    uint32_t seed = 2024;
    for (int i = 0; i < n_fixtures; i++) {
        if (fixtures[i].error) continue;
        size_t n;
        unsigned char *data = read_fixture(&fixtures[i], &n);
        for (int t = 0; t < 24; t++) {
            unsigned char *copy = malloc(n);
            memcpy(copy, data, n);
            int flips = 1 + (int)(lcg(&seed) >> 28) % 4;
            for (int f = 0; f < flips; f++) {
                size_t at = (lcg(&seed) >> 8) % n;
                if (t % 2 && n > 16) at = 8 + at % (n / 4); /* headers: the risky part */
                copy[at] = (unsigned char)(lcg(&seed) >> 24);
            }
            decode_checked(copy, n, fixtures[i].name, (size_t)t);
            free(copy);
        }
        free(data);
    }
}

static void test_empty_missing_and_bad_arguments(void)
{
    iris_image img;
    char path[] = "/tmp/iris_test_empty_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ_INT(iris_image_load(path, NULL, &img), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), path) != NULL);
    unlink(path);
    CHECK_EQ_INT(iris_image_load("tests/fixtures/images/no-such-file.png", NULL, &img),
                 IRIS_ENOTFOUND);
    CHECK(strstr(iris_errmsg(), "no-such-file.png") != NULL);
    CHECK_EQ_INT(iris_image_load("tests/fixtures/images", NULL, &img), IRIS_EIO);
    CHECK_EQ_INT(iris_image_decode("", 0, NULL, &img), IRIS_EFORMAT);
    CHECK_EQ_INT(iris_image_decode(NULL, 5, NULL, &img), IRIS_EARG);
    CHECK_EQ_INT(iris_image_decode("abc", 3, NULL, NULL), IRIS_EARG);
    CHECK_EQ_INT(iris_image_load(NULL, NULL, &img), IRIS_EARG);
    iris_decode_opts bad = {.min_side = -1};
    CHECK_EQ_INT(iris_image_load(FIXTURES "png_rgb8.png", &bad, &img), IRIS_EARG);
    iris_image_free(NULL);
}

/* The pixel limit is checked against the header, before decoding. */
static void test_max_pixels(void)
{
    iris_image img;
    iris_decode_opts opts = {.max_pixels = 203 * 151 - 1};
    static const char *const files[] = {"jpeg_large_odd.jpg"};
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", files[0]);
    CHECK_EQ_INT(iris_image_load(path, &opts, &img), IRIS_ELIMIT);
    CHECK(strstr(iris_errmsg(), "203 x 151") != NULL);
    opts.max_pixels = 203 * 151;
    CHECK_OK(iris_image_load(path, &opts, &img));
    CHECK_EQ_INT(img.width, 203);
    iris_image_free(&img);
    /* Every other format too: 37 x 29 fixtures under a 1000-pixel cap. */
    static const char *const small[] = {"png_rgb8.png", "gif_static.gif", "webp_lossy.webp",
                                        "bmp_24.bmp", "tiff_rgb_lzw.tif", "webp_animated.webp",
                                        "bmp_rle8.bmp", "png_interlaced_rgb.png"};
    opts.max_pixels = 1000;
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        snprintf(path, sizeof path, FIXTURES "%s", small[i]);
        CHECK_MSG(iris_image_load(path, &opts, &img) == IRIS_ELIMIT, "%s", small[i]);
    }
}

/* libjpeg scales to ceil(size * M / 8); the smallest M in 1, 2, 4, 8
 * whose shorter side is >= min_side is used. 203 x 151: 26 x 19 at 1/8,
 * 51 x 38 at 1/4, 102 x 76 at 1/2. */
static void test_jpeg_dct_scaling(void)
{
    static const struct { int min_side, w, h; } cases[] = {
        {1, 26, 19}, {19, 26, 19}, {20, 51, 38}, {38, 51, 38}, {39, 102, 76},
        {76, 102, 76}, {77, 203, 151}, {151, 203, 151}, {152, 203, 151}, {10000, 203, 151},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        iris_decode_opts opts = {.min_side = cases[i].min_side};
        iris_image img;
        CHECK_OK(iris_image_load(FIXTURES "jpeg_large_odd.jpg", &opts, &img));
        int w = img.width, h = img.height;
        iris_image_free(&img);
        CHECK_MSG(w == cases[i].w && h == cases[i].h, "min_side %d: %dx%d, want %dx%d",
                  cases[i].min_side, w, h, cases[i].w, cases[i].h);
    }
    /* Other formats ignore it; orientation still applies after scaling. */
    iris_decode_opts opts = {.min_side = 5};
    iris_image img;
    CHECK_OK(iris_image_load(FIXTURES "png_rgb8.png", &opts, &img));
    CHECK(img.width == 37 && img.height == 29);
    iris_image_free(&img);
    CHECK_OK(iris_image_load(FIXTURES "jpeg_orientation6.jpg", &opts, &img));
    CHECK(img.width == 8 && img.height == 10);
    iris_image_free(&img);
}

/* The EXIF parser on hand-made blocks: by construction. */
static void test_exif_parser(void)
{
    static const unsigned char le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0,
                                       0x0f, 0x01, 2, 0, 4, 0, 0, 0, 'a', 'b', 'c', 0,
                                       0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0};
    CHECK_EQ_INT(media_exif_orientation(le, sizeof le), 6);
    unsigned char be[] = "Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x08\0\0";
    CHECK_EQ_INT(media_exif_orientation(be, sizeof be - 1), 8);
    for (size_t n = 0; n < sizeof le; n++) /* truncated: absent, never a read past n */
        CHECK_EQ_INT(media_exif_orientation(le, n), -1);
    unsigned char loop[] = {'I', 'I', 42, 0, 0xf0, 0xff, 0xff, 0xff};
    CHECK_EQ_INT(media_exif_orientation(loop, sizeof loop), -1);
    static const char x1[] = "<rdf tiff:Orientation=\"3\"/>", x2[] = "<tiff:Orientation>7<",
                      x3[] = "tiff:Orientation=\"", x4[] = "tiff:Orientation";
    CHECK_EQ_INT(media_xmp_orientation((const uint8_t *)x1, strlen(x1)), 3);
    CHECK_EQ_INT(media_xmp_orientation((const uint8_t *)x2, strlen(x2)), 7);
    CHECK_EQ_INT(media_xmp_orientation((const uint8_t *)x3, strlen(x3)), -1);
    CHECK_EQ_INT(media_xmp_orientation((const uint8_t *)x4, strlen(x4)), -1);
}

/* No global state: two threads decoding every fixture get the same bytes. */
static void *decode_all(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < n_fixtures; i++) {
        if (fixtures[i].error) continue;
        char path[256], hex[65];
        snprintf(path, sizeof path, FIXTURES "%.95s", fixtures[i].name);
        iris_image img;
        if (iris_image_load(path, NULL, &img) != IRIS_OK) {
            (*bad)++;
            continue;
        }
        iris_sha256_hex(img.rgb, (size_t)img.width * img.height * 3, hex);
        if (strcmp(hex, fixtures[i].osha)) (*bad)++;
        iris_image_free(&img);
    }
    return NULL;
}

static void test_threads(void)
{
    load_manifest();
    pthread_t t[2];
    int bad[2] = {0, 0};
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, decode_all, &bad[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECK_EQ_INT(bad[0] + bad[1], 0);
}

int main(void)
{
    RUN(test_fixtures_match_pillow);
    RUN(test_hostile_fixtures_fail_cleanly);
    RUN(test_truncated_everywhere);
    RUN(test_corrupted_bytes);
    RUN(test_empty_missing_and_bad_arguments);
    RUN(test_max_pixels);
    RUN(test_jpeg_dct_scaling);
    RUN(test_exif_parser);
    RUN(test_threads);
    return test_summary();
}
