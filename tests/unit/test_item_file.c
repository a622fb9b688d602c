/*
 * test_item_file.c - an item's source file opened for serving, its stored
 * vector, and its cached thumbnail.
 *
 * Files are written by the test, so their bytes, sizes and types are known
 * by construction. Hostile cases: the indexed file replaced by a symlink
 * (to a secret outside the index), by a folder or a FIFO, edited, or
 * deleted; unknown items; text items asked for a thumbnail; sizes out of
 * range. None may serve anything.
 */
#include "index_fixture.h"

#include <fcntl.h>
#include <unistd.h>

static char *path_in(const char *name)
{
    static char buf[4][512];
    static int turn;
    char *p = buf[turn++ % 4];
    snprintf(p, 512, "%s/%s", ix_dir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* A w x h JPEG whose pixels are a formula of x and y. */
static void write_jpeg(const char *path, int w, int h)
{
    iris_image img = {w, h, malloc((size_t)w * h * 3)};
    for (int i = 0; i < w * h; i++) {
        img.rgb[i * 3] = (unsigned char)(i % w * 255 / w);
        img.rgb[i * 3 + 1] = (unsigned char)(i / w * 255 / h);
        img.rgb[i * 3 + 2] = 60;
    }
    unsigned char *jpg;
    size_t n;
    CHECK_OK(iris_image_encode_jpeg(&img, 90, &jpg, &n));
    write_bytes(path, jpg, n);
    free(jpg);
    iris_image_free(&img);
}

static void expect_file(iris_db *db, int64_t id, const char *mime, const char *name,
                        const void *bytes, size_t n)
{
    iris_item_file f;
    CHECK_OK(iris_item_open(db, id, &f));
    CHECK_MSG(!strcmp(f.mime, mime), "%s: %s", name, f.mime);
    CHECK(!strcmp(f.name, name));
    CHECK_EQ_INT(f.size, (int64_t)n);
    char *got = malloc(n + 1);
    CHECK_EQ_INT(pread(f.fd, got, n + 1, 0), (long long)n);
    CHECK(!memcmp(got, bytes, n));
    free(got);
    iris_item_file_close(&f);
    CHECK_EQ_INT(f.fd, -1);
}

static void test_open_by_type(void)
{
    iris_db *db = ix_open();
    float v[IX_DIM] = {1};
    write_jpeg(path_in("photo.jpg"), 40, 30);
    char *jpg;
    size_t jn;
    CHECK_OK(iris_read_file(path_in("photo.jpg"), 0, &jpg, &jn));
    int64_t img = ix_add(db, path_in("photo.jpg"), IRIS_MOD_IMAGE, NULL, v);
    expect_file(db, img, "image/jpeg", "photo.jpg", jpg, jn);
    free(jpg);

    static const struct {
        const char *name, *bytes;
        size_t n;
        int modality;
        const char *mime;
    } files[] = {
        {"notes.md", "caf\xc3\xa9 na\xc3\xafve \xe5\x9b\xbe\n", 17, IRIS_MOD_TEXT,
         "text/plain; charset=utf-8"},
        {"old.txt", "caf\xe9 na\xefve\n", 11, IRIS_MOD_TEXT, "text/plain; charset=windows-1252"},
        {"wide.txt", "\xff\xfeh\0i\0", 6, IRIS_MOD_TEXT, "text/plain; charset=utf-16"},
        {"manual.pdf", "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 15, IRIS_MOD_PDF_TEXT, "application/pdf"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        write_bytes(path_in(files[i].name), files[i].bytes, files[i].n);
        int64_t id = ix_add(db, path_in(files[i].name), files[i].modality, files[i].name, v);
        expect_file(db, id, files[i].mime, files[i].name, files[i].bytes, files[i].n);
    }
    ix_close(db);
}

static void test_refuses_what_changed(void)
{
    iris_db *db = ix_open();
    float v[IX_DIM] = {1};
    static const char secret[] = "root:x:0:0\n";
    write_bytes(path_in("secret"), secret, sizeof secret - 1); /* not indexed */
    const char *names[] = {"link.txt", "dir.txt", "fifo.txt", "edited.txt", "gone.txt"};
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char text[32];
        int n = snprintf(text, sizeof text, "hello %d\n", i);
        write_bytes(path_in(names[i]), text, n);
        ids[i] = ix_add(db, path_in(names[i]), IRIS_MOD_TEXT, names[i], v);
    }
    iris_item_file f;
    CHECK(unlink(path_in("link.txt")) == 0 && symlink(path_in("secret"), path_in("link.txt")) == 0);
    CHECK_FAILS(iris_item_open(db, ids[0], &f), IRIS_ENOTFOUND, "symbolic link");
    CHECK_EQ_INT(f.fd, -1);
    CHECK(unlink(path_in("dir.txt")) == 0 && mkdir(path_in("dir.txt"), 0755) == 0);
    CHECK_FAILS(iris_item_open(db, ids[1], &f), IRIS_ENOTFOUND, "not a regular file");
    CHECK(unlink(path_in("fifo.txt")) == 0 && mkfifo(path_in("fifo.txt"), 0644) == 0);
    CHECK_FAILS(iris_item_open(db, ids[2], &f), IRIS_ENOTFOUND, "not a regular file");
    write_bytes(path_in("edited.txt"), "hello, world\n", 13);
    CHECK_FAILS(iris_item_open(db, ids[3], &f), IRIS_ENOTFOUND, "changed since it was indexed");
    CHECK(unlink(path_in("gone.txt")) == 0);
    CHECK_FAILS(iris_item_open(db, ids[4], &f), IRIS_ENOTFOUND, "gone.txt");
    CHECK_FAILS(iris_item_open(db, 987654, &f), IRIS_ENOTFOUND, "987654");
    CHECK_FAILS(iris_item_open(db, -1, &f), IRIS_ENOTFOUND, "");
    CHECK_FAILS(iris_item_open(NULL, 1, &f), IRIS_EARG, "db is NULL");
    CHECK_FAILS(iris_item_open(db, 1, NULL), IRIS_EARG, "out is NULL");
    ix_close(db);
}

static void test_vector(void)
{
    iris_db *db = ix_open();
    float v[IX_DIM], got[IX_DIM];
    for (int k = 0; k < IX_DIM; k++) v[k] = (float)(k - 7) / 10;
    int64_t id = ix_add(db, "/nowhere/v.png", IRIS_MOD_IMAGE, NULL, v);
    CHECK_OK(iris_item_vector(db, id, got, IX_DIM));
    CHECK(!memcmp(v, got, sizeof v));
    CHECK_FAILS(iris_item_vector(db, id, got, IX_DIM + 1), IRIS_EARG, "");
    CHECK_EQ_INT(iris_item_vector(db, id + 100, got, IX_DIM), IRIS_ENOTFOUND);
    CHECK_FAILS(iris_item_vector(db, id, NULL, IX_DIM), IRIS_EARG, "bad arguments");
    ix_close(db);
}

static void test_thumbnail(void)
{
    iris_db *db = ix_open();
    float v[IX_DIM] = {1};
    write_jpeg(path_in("big.jpg"), 300, 200);
    int64_t id = ix_add(db, path_in("big.jpg"), IRIS_MOD_IMAGE, NULL, v);
    unsigned char *a, *b;
    size_t na, nb;
    CHECK_OK(iris_item_thumbnail(db, id, 64, &a, &na));
    iris_image t;
    CHECK_OK(iris_image_decode(a, na, NULL, &t));
    CHECK_EQ_INT(t.width, 64);
    CHECK_EQ_INT(t.height, 43);
    /* the middle pixel is the formula's value there, within JPEG's error */
    const unsigned char *mid = t.rgb + (21 * 64 + 32) * 3;
    CHECK_MSG(abs(mid[0] - 128) < 12 && abs(mid[1] - 127) < 12 && abs(mid[2] - 60) < 12,
              "%d %d %d", mid[0], mid[1], mid[2]);
    iris_image_free(&t);

    /* cached: the same bytes come back even once the source is gone */
    CHECK(unlink(path_in("big.jpg")) == 0);
    CHECK_OK(iris_item_thumbnail(db, id, 64, &b, &nb));
    CHECK(na == nb && !memcmp(a, b, na));
    free(a);
    free(b);
    CHECK_EQ_INT(iris_item_thumbnail(db, id, 128, &a, &na), IRIS_ENOTFOUND); /* not cached */
    CHECK(a == NULL && na == 0);
    char dir[800];
    snprintf(dir, sizeof dir, "%s/thumbs", ix_dir);
    struct stat sb;
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));

    int64_t text = ix_add(db, "/nowhere/t.txt", IRIS_MOD_TEXT, "words", v);
    CHECK_FAILS(iris_item_thumbnail(db, text, 64, &a, &na), IRIS_EFORMAT, "not an image");
    CHECK_FAILS(iris_item_thumbnail(db, id, 16, &a, &na), IRIS_EARG, "16");
    CHECK_FAILS(iris_item_thumbnail(db, id, 4096, &a, &na), IRIS_EARG, "4096");
    CHECK_EQ_INT(iris_item_thumbnail(db, 424242, 64, &a, &na), IRIS_ENOTFOUND);
    CHECK_FAILS(iris_item_thumbnail(db, id, 64, NULL, &na), IRIS_EARG, "out is NULL");
    ix_close(db);
}

int main(void)
{
    RUN(test_open_by_type);
    RUN(test_refuses_what_changed);
    RUN(test_vector);
    RUN(test_thumbnail);
    return test_summary();
}
