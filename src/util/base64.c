/*
 * base64.c - RFC 4648 base64 with padding (see base64.h).
 *
 * A plain table-driven coder: images sent to a model are at most a few
 * MiB, so encoding runs at memory speed next to the network and the model;
 * no SIMD path is warranted.
 */
#include "util/base64.h"

#include "util/error.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t iris_base64_len(size_t n) { return (n + 2) / 3 * 4; }

void iris_base64_encode(const void *data, size_t n, char *out)
{
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int iris_base64_decode(const char *text, size_t len, unsigned char *out, size_t *out_len)
{
    *out_len = 0;
    if (len % 4) return iris_fail(IRIS_EFORMAT, "base64 length %zu is not a multiple of 4", len);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int pad = (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=');
        if (pad && i + 4 != len) return iris_fail(IRIS_EFORMAT, "base64 padding inside the data");
        int s[4];
        for (int k = 0; k < 4 - pad; k++)
            if ((s[k] = sextet(text[i + k])) < 0)
                return iris_fail(IRIS_EFORMAT, "bad base64 character at offset %zu", i + k);
        for (int k = 4 - pad; k < 4; k++) s[k] = 0;
        unsigned v = (unsigned)s[0] << 18 | (unsigned)s[1] << 12 | (unsigned)s[2] << 6 | s[3];
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2) out[o++] = (unsigned char)(v >> 8);
        if (pad < 1) out[o++] = (unsigned char)v;
    }
    *out_len = o;
    return IRIS_OK;
}
