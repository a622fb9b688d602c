/*
 * buf.c - growable NUL-terminated byte buffer (see buf.h).
 */
#include "util/buf.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int iris_buf_reserve(iris_buf *b, size_t more)
{
    if (more > (size_t)-1 / 2 - b->len) return iris_fail(IRIS_ENOMEM, "buffer size overflow");
    if (b->len + more + 1 <= b->cap) return IRIS_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return iris_fail(IRIS_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->p = p;
    b->cap = cap;
    return IRIS_OK;
}

int iris_buf_add(iris_buf *b, const void *data, size_t n, size_t limit)
{
    if (limit && b->len + n > limit) return IRIS_ELIMIT;
    int rc = iris_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return IRIS_OK;
}

int iris_buf_str(iris_buf *b, const char *s) { return iris_buf_add(b, s, strlen(s), 0); }

int iris_buf_take(iris_buf *b, char **out, size_t *len)
{
    int rc = iris_buf_reserve(b, 0);
    if (rc) {
        iris_buf_free(b);
        return rc;
    }
    b->p[b->len] = '\0';
    *out = b->p;
    if (len) *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return IRIS_OK;
}

void iris_buf_free(iris_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
