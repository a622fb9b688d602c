/* File helpers: read with caps, mapping, SHA-256 against published vectors. */
#include "iris.h"
#include "test.h"
#include "util/fs.h"

#include <unistd.h>

static const char *tmp_file(const char *content, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/iris_test_fs_%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(content, 1, n, f);
    fclose(f);
    return path;
}

static void test_sha256_published_vectors(void)
{
    /* FIPS 180-2 examples. */
    char hex[65];
    CHECK_OK(iris_sha256_hex("abc", 3, hex));
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK_OK(iris_sha256_hex("", 0, hex));
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    const char *p = tmp_file("abc", 3);
    CHECK_OK(iris_sha256_file(p, hex));
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    unlink(p);
}

static void test_read_file_caps_and_errors(void)
{
    const char *p = tmp_file("hello", 5);
    char *buf;
    size_t n;
    CHECK_OK(iris_read_file(p, 0, &buf, &n));
    CHECK_EQ_INT(n, 5);
    CHECK(!strcmp(buf, "hello"));
    free(buf);
    CHECK_EQ_INT(iris_read_file(p, 4, &buf, &n), IRIS_ELIMIT);
    CHECK(strstr(iris_errmsg(), p) != NULL);
    unlink(p);
    CHECK_EQ_INT(iris_read_file("/nonexistent/x", 0, &buf, &n), IRIS_ENOTFOUND);
    CHECK_EQ_INT(iris_read_file("/tmp", 0, &buf, &n), IRIS_EIO);
}

static void test_map_file(void)
{
    const char *p = tmp_file("mapped!", 7);
    iris_mapping m;
    CHECK_OK(iris_map_file(p, &m));
    CHECK_EQ_INT(m.size, 7);
    CHECK(!memcmp(m.data, "mapped!", 7));
    iris_unmap_file(&m);
    CHECK(m.data == NULL);
    p = tmp_file("", 0);
    CHECK_OK(iris_map_file(p, &m));
    CHECK(m.data == NULL && m.size == 0);
    unlink(p);
    CHECK_EQ_INT(iris_map_file("/nonexistent/x", &m), IRIS_ENOTFOUND);
}

int main(void)
{
    RUN(test_sha256_published_vectors);
    RUN(test_read_file_caps_and_errors);
    RUN(test_map_file);
    return test_summary();
}
