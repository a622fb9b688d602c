/*
 * utf8.h - the UTF-8 helpers the chunker, the store's FTS tokenizer and
 * the OCR/PDF text assembly share: decode one code point, classify CJK,
 * repair invalid bytes, and turn the bytes of a text file (UTF-8 with or
 * without BOM, UTF-16 with BOM or recognisably without, Windows-1252 /
 * Latin-1) into clean UTF-8.
 *
 * Decoding is strict (no overlongs, no surrogates, nothing above
 * U+10FFFF); an invalid byte decodes as U+FFFD and consumes exactly one
 * byte, so every loop over arbitrary bytes makes progress and never reads
 * past the end.
 */
#ifndef IRIS_TEXT_UTF8_H
#define IRIS_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xFFFDu

/* Decodes the code point at s[*i] (i < n) and advances *i past it. */
uint32_t utf8_next(const char *s, size_t n, size_t *i);
/* The same, but an invalid sequence consumes its "maximal subpart" (the
 * longest prefix of a well-formed sequence, at least one byte; Unicode
 * 3.9), exactly as Python's bytes.decode("utf-8", "replace"): b"\xe2\x82"
 * is one U+FFFD, not two. The CLIP tokenizer must read bytes that way. */
uint32_t utf8_next_subpart(const char *s, size_t n, size_t *i);
/* Writes cp as UTF-8 into out (room for 4 bytes); returns the byte count. */
int utf8_put(uint32_t cp, char *out);
/* 1 if s[0..n) is valid UTF-8. */
int utf8_valid(const char *s, size_t n);

/* CJK scripts written without spaces between words: Han ideographs (all
 * blocks incl. extensions and compatibility), Hiragana, Katakana, Bopomofo.
 * Hangul is not here: Korean separates words with spaces. */
int utf8_is_cjk(uint32_t cp);
/* Sentence-ending punctuation: . ! ? and their CJK / full-width forms. */
int utf8_is_sentence_end(uint32_t cp);
/* Unicode white space (ASCII, NBSP, ideographic space, the U+2000 block). */
int utf8_is_space(uint32_t cp);

/* Copy of s[0..n) with each invalid byte replaced by U+FFFD; malloc'ed,
 * NUL-terminated, *out_len excludes the NUL. */
int utf8_sanitize(const char *s, size_t n, char **out, size_t *out_len);

/* How text_decode() read the bytes. */
typedef enum text_encoding {
    TEXT_UTF8 = 0,
    TEXT_UTF8_BOM,
    TEXT_UTF16LE,
    TEXT_UTF16BE,
    TEXT_CP1252, /* Windows-1252, a superset of printable Latin-1 */
} text_encoding;

const char *text_encoding_name(text_encoding e);

/* Turns the raw bytes of a text file into UTF-8 (malloc'ed, NUL-terminated,
 * BOM removed, NUL bytes rejected). Order of decisions: a BOM wins; then
 * UTF-16 without BOM if NUL bytes sit in alternating positions; then valid
 * UTF-8 as is; anything else is decoded as Windows-1252 (no byte sequence is
 * invalid there, so legacy Latin-1 files never fail). A file with NUL bytes
 * that is not UTF-16 is binary: IRIS_EFORMAT naming `what` (a path). */
int text_decode(const void *raw, size_t n, const char *what, char **out, size_t *out_len,
                text_encoding *enc);

#endif
