/*
 * fs.h - small file helpers every module needs: read a whole file with a
 * size cap, map a file read-only, hash bytes or a file (SHA-256).
 *
 * All report failures through iris_fail() with the path in the message.
 */
#ifndef IRIS_UTIL_FS_H
#define IRIS_UTIL_FS_H

#include <stddef.h>
#include <stdint.h>

/* Reads all of path into a malloc'ed, NUL-terminated buffer (the NUL is not
 * counted in *len). Fails with IRIS_ELIMIT if the file exceeds max_bytes
 * (0 = no cap), IRIS_ENOTFOUND if absent, IRIS_EIO otherwise. */
int iris_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* Read-only mapping of a whole file. An empty file maps to data == NULL,
 * size == 0 (callers decide whether that is an error). */
typedef struct iris_mapping {
    const void *data;
    size_t size;
} iris_mapping;

int iris_map_file(const char *path, iris_mapping *out);
void iris_unmap_file(iris_mapping *m);

/* SHA-256 as 64 lowercase hex chars + NUL. */
typedef struct iris_sha256_ctx iris_sha256_ctx;
int iris_sha256_begin(iris_sha256_ctx **ctx);
int iris_sha256_update(iris_sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest and frees ctx. */
int iris_sha256_end(iris_sha256_ctx *ctx, char hex[65]);
int iris_sha256_hex(const void *data, size_t len, char hex[65]);
int iris_sha256_file(const char *path, char hex[65]);

#endif
