/*
 * buf.c - growable NUL-terminated byte buffer (see buf.h).
 */
#include "util/buf.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int iris_buf_add(iris_buf *b, const void *data, size_t n, size_t limit)
{
    if (limit && b->len + n > limit) return IRIS_ELIMIT;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return iris_fail(IRIS_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return IRIS_OK;
}

int iris_buf_str(iris_buf *b, const char *s) { return iris_buf_add(b, s, strlen(s), 0); }
