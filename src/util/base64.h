/*
 * base64.h - standard base64 (RFC 4648, with padding), as chat APIs want
 * images and as data: URLs carry them.
 */
#ifndef IRIS_UTIL_BASE64_H
#define IRIS_UTIL_BASE64_H

#include <stddef.h>

/* Encoded length of n bytes, without the NUL. */
size_t iris_base64_len(size_t n);
/* Writes iris_base64_len(n) characters and a NUL into out. */
void iris_base64_encode(const void *data, size_t n, char *out);
/* Decodes len characters (whitespace not allowed, padding required) into
 * out, which has room for len / 4 * 3 bytes. Fails with IRIS_EFORMAT. */
int iris_base64_decode(const char *text, size_t len, unsigned char *out, size_t *out_len);

#endif
