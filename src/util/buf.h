/*
 * buf.h - a growable byte buffer, always NUL-terminated, with an optional
 * size limit: the one used for HTTP bodies, streamed answers and prompts.
 *
 *     iris_buf b = {0};
 *     if (iris_buf_add(&b, data, n, limit)) ...   // IRIS_ELIMIT / IRIS_ENOMEM
 *     ... b.p[0..b.len) ...
 *     free(b.p);
 *
 * Growth doubles, so appending byte by byte stays linear.
 */
#ifndef IRIS_UTIL_BUF_H
#define IRIS_UTIL_BUF_H

#include <stddef.h>

typedef struct iris_buf {
    char *p;    /* NULL until the first append */
    size_t len; /* bytes held, not counting the NUL */
    size_t cap; /* bytes allocated */
} iris_buf;

/* Appends n bytes. Past limit bytes in all (0 = none) it appends nothing and
 * returns IRIS_ELIMIT *without* a message (the caller knows what the limit
 * means); IRIS_ENOMEM comes with one. */
int iris_buf_add(iris_buf *b, const void *data, size_t n, size_t limit);
int iris_buf_str(iris_buf *b, const char *s);

#endif
