/*
 * test_image_encode.c - the way out of the media module: MIME sniffing,
 * resizing and fitting, JPEG encoding.
 *
 * Expected values are known by construction: fitted sizes follow from the
 * aspect ratio; a smooth gradient survives resize + JPEG within a few
 * levels at every sampled pixel (its value is a formula of x and y); a
 * constant colour stays that colour; the fixtures' file names say their
 * format. Bad input: NULL and empty images, sizes out of range, qualities
 * out of range, junk bytes.
 */
#include "iris.h"
#include "test.h"
#include "util/fs.h"

#include <dirent.h>

#define FIXTURES "tests/fixtures/images/"

static void test_mime_of_fixtures(void)
{
    static const struct { const char *prefix, *mime; } kinds[] = {
        {"bmp_", "image/bmp"},   {"gif_", "image/gif"},   {"jpeg_", "image/jpeg"},
        {"png_", "image/png"},   {"tiff_", "image/tiff"}, {"webp_", "image/webp"},
    };
    DIR *d = opendir(FIXTURES);
    CHECK(d != NULL);
    int seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            if (strncmp(e->d_name, kinds[k].prefix, strlen(kinds[k].prefix))) continue;
            char path[512], *data;
            size_t n;
            snprintf(path, sizeof path, FIXTURES "%s", e->d_name);
            CHECK_OK(iris_read_file(path, 0, &data, &n));
            const char *m = iris_image_mime(data, n);
            free(data);
            CHECK_MSG(m && !strcmp(m, kinds[k].mime), "%s: %s", e->d_name, m ? m : "NULL");
            seen++;
        }
    }
    closedir(d);
    CHECK(seen >= 50);
}

static void test_mime_of_junk(void)
{
    CHECK(iris_image_mime(NULL, 10) == NULL);
    CHECK(iris_image_mime("", 0) == NULL);
    CHECK(iris_image_mime("%PDF-1.7\n", 9) == NULL);
    CHECK(iris_image_mime("hello world", 11) == NULL);
    CHECK(iris_image_mime("\xFF\xD8", 2) == NULL); /* too short to be sure */
    CHECK(!strcmp(iris_image_mime("\xFF\xD8\xFF", 3), "image/jpeg"));
}

/* w x h RGB where every channel is a smooth function of x and y. */
static iris_image gradient(int w, int h)
{
    iris_image img = {w, h, malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = img.rgb + ((size_t)y * w + x) * 3;
            p[0] = (unsigned char)(255.0 * x / (w - 1));
            p[1] = (unsigned char)(255.0 * y / (h - 1));
            p[2] = 128;
        }
    return img;
}

static void test_fit_sizes(void)
{
    static const int cases[][5] = {
        /* w, h, max_side -> w, h */
        {1000, 500, 256, 256, 128}, {500, 1000, 256, 128, 256}, {100, 50, 256, 100, 50},
        {256, 256, 256, 256, 256},  {3000, 2, 256, 256, 1},     {2, 3000, 256, 1, 256},
        {641, 480, 320, 320, 240},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        iris_image src = gradient(cases[i][0], cases[i][1]), out;
        CHECK_OK(iris_image_fit(&src, cases[i][2], &out));
        CHECK_EQ_INT(out.width, cases[i][3]);
        CHECK_EQ_INT(out.height, cases[i][4]);
        if (out.width == src.width && out.height == src.height)
            CHECK(!memcmp(out.rgb, src.rgb, (size_t)src.width * src.height * 3));
        iris_image_free(&out);
        iris_image_free(&src);
    }
}

static void test_resize_constant_stays_constant(void)
{
    iris_image src = {37, 23, malloc(37 * 23 * 3)}, out;
    for (int i = 0; i < 37 * 23; i++) memcpy(src.rgb + i * 3, "\x10\x80\xF0", 3);
    CHECK_OK(iris_image_resize(&src, 11, 70, &out));
    CHECK_EQ_INT(out.width, 11);
    CHECK_EQ_INT(out.height, 70);
    for (int i = 0; i < 11 * 70; i++) CHECK(!memcmp(out.rgb + i * 3, "\x10\x80\xF0", 3));
    iris_image_free(&out);
    iris_image_free(&src);
}

static void test_jpeg_roundtrip(void)
{
    iris_image src = gradient(640, 400), small, back;
    CHECK_OK(iris_image_fit(&src, 256, &small));
    unsigned char *jpg;
    size_t n;
    CHECK_OK(iris_image_encode_jpeg(&small, 90, &jpg, &n));
    CHECK(n > 200 && n < 256 * 160 * 3);
    CHECK(!strcmp(iris_image_mime(jpg, n), "image/jpeg"));
    CHECK_OK(iris_image_decode(jpg, n, NULL, &back));
    CHECK_EQ_INT(back.width, 256);
    CHECK_EQ_INT(back.height, 160);
    /* Every pixel against the formula at the thumbnail's own scale. */
    double worst = 0, sum = 0;
    for (int y = 0; y < 160; y++)
        for (int x = 0; x < 256; x++) {
            const unsigned char *p = back.rgb + ((size_t)y * 256 + x) * 3;
            double ex = 255.0 * ((x + 0.5) * 640 / 256 - 0.5) / 639;
            double ey = 255.0 * ((y + 0.5) * 400 / 160 - 0.5) / 399;
            double e[3] = {ex, ey, 128};
            for (int c = 0; c < 3; c++) {
                double d = fabs(p[c] - e[c]);
                worst = d > worst ? d : worst;
                sum += d;
            }
        }
    CHECK_MSG(sum / (256 * 160 * 3) < 2.5, "mean error %.2f", sum / (256 * 160 * 3));
    CHECK_MSG(worst < 16, "worst error %.0f", worst);
    free(jpg);
    iris_image_free(&back);
    iris_image_free(&small);
    iris_image_free(&src);
}

static void test_bad_arguments(void)
{
    iris_image src = gradient(8, 8), out, none = {0};
    unsigned char *jpg = (unsigned char *)"x";
    size_t n = 1;
    CHECK_FAILS(iris_image_encode_jpeg(&src, 0, &jpg, &n), IRIS_EARG, "quality 0");
    CHECK(jpg == NULL && n == 0);
    CHECK_FAILS(iris_image_encode_jpeg(&src, 101, &jpg, &n), IRIS_EARG, "quality 101");
    CHECK_FAILS(iris_image_encode_jpeg(&none, 80, &jpg, &n), IRIS_EARG, "no image");
    CHECK_FAILS(iris_image_encode_jpeg(NULL, 80, &jpg, &n), IRIS_EARG, "no image");
    CHECK_FAILS(iris_image_encode_jpeg(&src, 80, NULL, &n), IRIS_EARG, "out is NULL");
    CHECK_FAILS(iris_image_resize(&src, 0, 5, &out), IRIS_EARG, "0 x 5");
    CHECK(out.rgb == NULL);
    CHECK_FAILS(iris_image_resize(&src, 5, 70000, &out), IRIS_EARG, "5 x 70000");
    CHECK_FAILS(iris_image_resize(&none, 5, 5, &out), IRIS_EARG, "no image");
    CHECK_FAILS(iris_image_fit(&src, 0, &out), IRIS_EARG, "max_side 0");
    CHECK_FAILS(iris_image_fit(NULL, 10, &out), IRIS_EARG, "no image");
    CHECK_FAILS(iris_image_fit(&src, 10, NULL), IRIS_EARG, "out is NULL");
    iris_image_free(&src);
}

int main(void)
{
    RUN(test_mime_of_fixtures);
    RUN(test_mime_of_junk);
    RUN(test_fit_sizes);
    RUN(test_resize_constant_stays_constant);
    RUN(test_jpeg_roundtrip);
    RUN(test_bad_arguments);
    return test_summary();
}
