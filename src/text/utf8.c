/*
 * utf8.c - UTF-8 decoding, classification and text-file decoding (see
 * utf8.h). Hand-written rather than pulled from utf8proc because what is
 * needed is tiny (a strict decoder, a few range tables, UTF-16 and
 * Windows-1252 to UTF-8) and sits in hot loops (the FTS tokenizer runs on
 * every indexed byte); Unicode normalisation and case folding are left to
 * SQLite's unicode61 tokenizer.
 */
#include "text/utf8.h"

#include "util/buf.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* Decodes the code point at s[*i]. An invalid sequence gives U+FFFD and
 * advances one byte (strict) or its maximal subpart (subpart != 0). */
static uint32_t decode(const char *s, size_t n, size_t *i, int subpart)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = n - *i;
    unsigned char b = p[0];
    if (b < 0x80) {
        *i += 1;
        return b;
    }
    /* Second-byte bounds per lead byte exclude overlongs, surrogates and
     * code points above U+10FFFF (RFC 3629, table 3-7 of Unicode). */
    unsigned char lo = 0x80, hi = 0xBF;
    int len;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3, cp = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4, cp = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        *i += 1;
        return UTF8_REPLACEMENT;
    }
    for (int k = 1; k < len; k++) {
        if ((size_t)k >= left || p[k] < lo || p[k] > hi) {
            *i += subpart ? (size_t)k : 1;
            return UTF8_REPLACEMENT;
        }
        cp = (cp << 6) | (p[k] & 0x3F);
        lo = 0x80, hi = 0xBF;
    }
    *i += (size_t)len;
    return cp;
}

uint32_t utf8_next(const char *s, size_t n, size_t *i) { return decode(s, n, i, 0); }

uint32_t utf8_next_subpart(const char *s, size_t n, size_t *i) { return decode(s, n, i, 1); }

int utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = UTF8_REPLACEMENT;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t at = i;
        if (utf8_next(s, n, &i) == UTF8_REPLACEMENT) {
            /* U+FFFD itself is valid: it is three bytes EF BF BD. */
            if (i - at != 3) return 0;
        }
    }
    return 1;
}

int utf8_is_cjk(uint32_t cp)
{
    static const uint32_t ranges[][2] = {
        {0x2E80, 0x2FDF},   /* CJK radicals, Kangxi radicals */
        {0x3005, 0x3007},   /* iteration mark, closing mark, ideographic zero */
        {0x3021, 0x3029},   /* Hangzhou numerals */
        {0x3038, 0x303B},
        {0x3040, 0x30FF},   /* Hiragana, Katakana */
        {0x3100, 0x312F},   /* Bopomofo */
        {0x31A0, 0x31BF},
        {0x31F0, 0x31FF},   /* Katakana phonetic extensions */
        {0x3400, 0x4DBF},   /* extension A */
        {0x4E00, 0x9FFF},   /* unified ideographs */
        {0xF900, 0xFAFF},   /* compatibility ideographs */
        {0xFF66, 0xFF9F},   /* half-width Katakana */
        {0x20000, 0x3134F}, /* extensions B-G */
    };
    if (cp < 0x2E80) return 0;
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++)
        if (cp >= ranges[k][0] && cp <= ranges[k][1]) return 1;
    return 0;
}

int utf8_is_sentence_end(uint32_t cp)
{
    return cp == '.' || cp == '!' || cp == '?' || cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F ||
           cp == 0xFF0E || cp == 0xFF61;
}

int utf8_is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

int utf8_sanitize(const char *s, size_t n, char **out, size_t *out_len)
{
    iris_buf o = {0};
    /* Replacement grows a byte to three at most. */
    if (iris_buf_reserve(&o, 3 * n)) return IRIS_ENOMEM;
    size_t i = 0;
    while (i < n) {
        size_t at = i;
        uint32_t cp = utf8_next(s, n, &i);
        if (cp == UTF8_REPLACEMENT && i - at == 1) {
            o.len += (size_t)utf8_put(cp, o.p + o.len);
        } else {
            memcpy(o.p + o.len, s + at, i - at);
            o.len += i - at;
        }
    }
    return iris_buf_take(&o, out, out_len);
}

/* ----------------------------------------------------- text-file decode */

const char *text_encoding_name(text_encoding e)
{
    switch (e) {
    case TEXT_UTF8: return "utf-8";
    case TEXT_UTF8_BOM: return "utf-8 (BOM)";
    case TEXT_UTF16LE: return "utf-16le";
    case TEXT_UTF16BE: return "utf-16be";
    case TEXT_CP1252: return "windows-1252";
    }
    return "?";
}

static int decode_utf16(const unsigned char *p, size_t n, int big_endian, const char *what,
                        iris_buf *o)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = big_endian ? (uint32_t)(p[i] << 8 | p[i + 1]) : (uint32_t)(p[i + 1] << 8 | p[i]);
        if (u >= 0xD800 && u <= 0xDBFF && i + 3 < n) {
            uint32_t v = big_endian ? (uint32_t)(p[i + 2] << 8 | p[i + 3])
                                    : (uint32_t)(p[i + 3] << 8 | p[i + 2]);
            if (v >= 0xDC00 && v <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
                i += 2;
            }
        }
        if (u == 0) return iris_fail(IRIS_EFORMAT, "%s: NUL character in UTF-16 text", what);
        o->len += (size_t)utf8_put(u, o->p + o->len); /* lone surrogates become U+FFFD */
    }
    return IRIS_OK;
}

static int decode_cp1252(const unsigned char *p, size_t n, iris_buf *o)
{
    /* 0x80-0x9F of Windows-1252; the five unassigned bytes keep their
     * Latin-1 (C1 control) meaning. */
    static const uint16_t c1[32] = {
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    };
    if (iris_buf_reserve(o, n * 3)) return IRIS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = p[i] >= 0x80 && p[i] < 0xA0 ? c1[p[i] - 0x80] : p[i];
        o->len += (size_t)utf8_put(cp, o->p + o->len);
    }
    return IRIS_OK;
}

/* Guesses BOM-less UTF-16 from where NUL bytes sit in the first 4 KiB:
 * returns 1 for LE, 2 for BE, 0 for no NULs, -1 for binary. */
static int sniff_nuls(const unsigned char *p, size_t n)
{
    size_t m = n < 4096 ? n : 4096, even = 0, odd = 0;
    for (size_t i = 0; i < m; i++)
        if (!p[i]) *(i & 1 ? &odd : &even) += 1;
    if (!even && !odd) return memchr(p, 0, n) ? -1 : 0;
    size_t pairs = m / 2 ? m / 2 : 1;
    if (odd * 10 >= pairs * 3 && even * 20 < pairs) return 1;
    if (even * 10 >= pairs * 3 && odd * 20 < pairs) return 2;
    return -1;
}

int text_decode(const void *raw, size_t n, const char *what, char **out, size_t *out_len,
                text_encoding *enc)
{
    const unsigned char *p = raw;
    iris_buf o = {0};
    text_encoding e = TEXT_UTF8;
    int rc = IRIS_OK;
    *out = NULL;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        e = TEXT_UTF8_BOM;
        p += 3, n -= 3;
    } else if (n >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF))) {
        e = p[0] == 0xFF ? TEXT_UTF16LE : TEXT_UTF16BE;
        p += 2, n -= 2;
    } else {
        int s = sniff_nuls(p, n);
        if (s < 0) return iris_fail(IRIS_EFORMAT, "%s: binary data (NUL bytes), not text", what);
        if (s > 0) e = s == 1 ? TEXT_UTF16LE : TEXT_UTF16BE;
    }
    if (e == TEXT_UTF16LE || e == TEXT_UTF16BE) {
        rc = iris_buf_reserve(&o, 2 * n); /* 2 bytes -> at most 3, 4 -> 4 */
        if (!rc) rc = decode_utf16(p, n, e == TEXT_UTF16BE, what, &o);
    } else if (memchr(p, 0, n)) {
        rc = iris_fail(IRIS_EFORMAT, "%s: binary data (NUL bytes), not text", what);
    } else if (utf8_valid((const char *)p, n)) {
        rc = iris_buf_add(&o, p, n, 0);
    } else if (e == TEXT_UTF8_BOM) {
        /* Declared UTF-8 with a few bad bytes: repair rather than guess. */
        if (enc) *enc = e;
        return utf8_sanitize((const char *)p, n, out, out_len);
    } else {
        e = TEXT_CP1252;
        rc = decode_cp1252(p, n, &o);
    }
    if (rc) {
        iris_buf_free(&o);
        return rc;
    }
    if (enc) *enc = e;
    return iris_buf_take(&o, out, out_len);
}
