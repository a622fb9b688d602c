/*
 * buf.h - a growable byte buffer, always NUL-terminated, with an optional
 * size limit: the one used for HTTP bodies, streamed answers, prompts,
 * query strings, page text and decoded files.
 *
 *     iris_buf b = {0};
 *     if (iris_buf_add(&b, data, n, limit)) ...   // IRIS_ELIMIT / IRIS_ENOMEM
 *     ... b.p[0..b.len) ...
 *     free(b.p);                                  // or iris_buf_take / iris_buf_free
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
/* Makes room for `more` bytes past len (and the NUL), for callers that
 * write into b->p + b->len directly and then advance len. */
int iris_buf_reserve(iris_buf *b, size_t more);
/* Hands the string over (never NULL on success: "" for an empty buffer)
 * and resets b; on failure b is freed. */
int iris_buf_take(iris_buf *b, char **out, size_t *len);
void iris_buf_free(iris_buf *b);

#endif
