/*
 * tokenizer_clean.h - the text cleanup of CLIP's reference tokenizer (open_clip's
 * SimpleTokenizer with ftfy installed), on code point buffers. Internal to
 * the tokenizer (tokenizer.c drives it; see that file and docs/tokenizer.md for
 * how the steps fit together and which ftfy repairs are not replicated).
 *
 * Every step reproduces one Python function exactly (modulo the differences in
 * docs/tokenizer.md), so each can be reasoned about against its reference:
 *   tk_ftfy_fix        ftfy.fix_text on one piece of one ftfy segment
 *   tk_html_unescape   html.unescape
 *   tk_is_space        str.isspace
 *   tk_lower           str.lower (full mapping, Final_Sigma)
 *   tk_class           which part of CLIP's pre-tokenizer regex a character
 *                      can belong to
 */
#ifndef IRIS_CLIP_TOKENIZER_CLEAN_H
#define IRIS_CLIP_TOKENIZER_CLEAN_H

#include <stddef.h>
#include <stdint.h>

/* A growable code point buffer; the owner frees v. */
typedef struct tk_buf {
    int32_t *v;
    size_t n, cap;
} tk_buf;

/* Ensures room for `need` code points (IRIS_ENOMEM on failure). */
int tk_reserve(tk_buf *b, size_t need);
void tk_buf_free(tk_buf *b);

/* ftfy stops repeating its fixes when the text stops changing; we also stop
 * after this many rounds (one round removes one level of nested escaping
 * such as "&amp;amp;", so real text needs 2 or 3). See docs/tokenizer.md. */
#define TK_FTFY_MAX_ROUNDS 16

/* ftfy.fix_text's default fixes (all but fix_encoding) applied to b in
 * place until nothing changes. html: ftfy's unescape_html is active (it is
 * turned off by a '<' in the segment). s1, s2: scratch buffers. */
int tk_ftfy_fix(tk_buf *b, tk_buf *s1, tk_buf *s2, int html);

/* Python's html.unescape(in[0..n)) appended to out (out->n is reset). */
int tk_html_unescape(const int32_t *in, size_t n, tk_buf *out);

/* Python's str.isspace() for one character. */
int tk_is_space(int32_t c);

/* Python's str.lower() of in[0..n), which holds no whitespace: appended to
 * out (out->n is reset). */
int tk_lower(const int32_t *in, size_t n, tk_buf *out);

/* Character classes of the pre-tokenizer regex
 *   <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * compiled with regex.IGNORECASE. TK_NONE: matched by no alternative (only
 * U+0345, which case-folds to a letter, so IGNORECASE drops it from the
 * negated class while [\p{L}] still does not contain it). */
enum { TK_LETTER, TK_NUMBER, TK_OTHER, TK_NONE };
int tk_class(int32_t c);

#endif
