/*
 * fs.c - file helpers (see fs.h). SHA-256 comes from OpenSSL's libcrypto
 * (already present as libcurl's TLS backend) rather than a hand-written
 * implementation: it uses the CPU's SHA extensions where present.
 */
#include "util/fs.h"

#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_error(const char *path)
{
    int e = errno;
    return iris_fail(e == ENOENT ? IRIS_ENOTFOUND : IRIS_EIO, "cannot open %s: %s", path,
                     strerror(e));
}

int iris_read_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return open_error(path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return iris_fail(IRIS_EIO, "%s is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (max_bytes && size > max_bytes) {
        close(fd);
        return iris_fail(IRIS_ELIMIT, "%s is %zu bytes, over the %zu-byte limit", path, size,
                         max_bytes);
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return iris_fail(IRIS_ENOMEM, "no memory to read %s (%zu bytes)", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* file shrank under us: keep what we read */
        got += (size_t)r;
    }
    int err = errno;
    close(fd);
    if (got < size && got == 0 && size > 0) {
        free(buf);
        return iris_fail(IRIS_EIO, "cannot read %s: %s", path, strerror(err));
    }
    buf[got] = '\0';
    *out = buf;
    if (len) *len = got;
    return IRIS_OK;
}

int iris_map_file(const char *path, iris_mapping *out)
{
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return open_error(path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return iris_fail(IRIS_EIO, "%s is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return IRIS_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) return iris_fail(IRIS_EIO, "cannot map %s: %s", path, strerror(err));
    out->data = p;
    out->size = (size_t)st.st_size;
    return IRIS_OK;
}

void iris_unmap_file(iris_mapping *m)
{
    if (m && m->data) munmap((void *)m->data, m->size);
    if (m) {
        m->data = NULL;
        m->size = 0;
    }
}

struct iris_sha256_ctx {
    EVP_MD_CTX *md;
};

int iris_sha256_begin(iris_sha256_ctx **ctx)
{
    *ctx = calloc(1, sizeof **ctx);
    if (!*ctx) return iris_fail(IRIS_ENOMEM, "no memory for a SHA-256 context");
    (*ctx)->md = EVP_MD_CTX_new();
    if (!(*ctx)->md || EVP_DigestInit_ex((*ctx)->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free((*ctx)->md);
        free(*ctx);
        *ctx = NULL;
        return iris_fail(IRIS_EINTERNAL, "SHA-256 initialisation failed");
    }
    return IRIS_OK;
}

int iris_sha256_update(iris_sha256_ctx *ctx, const void *data, size_t len)
{
    if (len && EVP_DigestUpdate(ctx->md, data, len) != 1)
        return iris_fail(IRIS_EINTERNAL, "SHA-256 update failed");
    return IRIS_OK;
}

int iris_sha256_end(iris_sha256_ctx *ctx, char hex[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex(ctx->md, d, &n) == 1 && n == 32;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
    if (!ok) return iris_fail(IRIS_EINTERNAL, "SHA-256 finalisation failed");
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return IRIS_OK;
}

int iris_sha256_hex(const void *data, size_t len, char hex[65])
{
    iris_sha256_ctx *c;
    int rc = iris_sha256_begin(&c);
    if (rc) return rc;
    if ((rc = iris_sha256_update(c, data, len))) {
        char tmp[65];
        iris_sha256_end(c, tmp);
        return rc;
    }
    return iris_sha256_end(c, hex);
}

int iris_sha256_file(const char *path, char hex[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return open_error(path);
    iris_sha256_ctx *c;
    int rc = iris_sha256_begin(&c);
    if (rc) {
        close(fd);
        return rc;
    }
    static const size_t chunk = 1 << 20;
    unsigned char *buf = malloc(chunk);
    if (!buf) rc = iris_fail(IRIS_ENOMEM, "no memory to hash %s", path);
    while (!rc) {
        ssize_t r = read(fd, buf, chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = iris_fail(IRIS_EIO, "cannot read %s: %s", path, strerror(errno));
        if (r <= 0) break;
        rc = iris_sha256_update(c, buf, (size_t)r);
    }
    free(buf);
    close(fd);
    char tmp[65];
    if (rc) {
        iris_sha256_end(c, tmp);
        return rc;
    }
    return iris_sha256_end(c, hex);
}
