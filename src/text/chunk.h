/*
 * chunk.h - cutting text into overlapping windows for indexing.
 *
 * A "token" here is a cheap, script-aware word count, not a CLIP token:
 * a maximal run of non-space characters, except that every CJK character
 * (utf8_is_cjk) is a token by itself, and a run of punctuation alone
 * (". , ; 。 ，" and the like) adds nothing but sticks to the token before
 * it. One English word is ~1.3 CLIP BPE tokens, one Chinese character
 * ~1-2; the count only sizes windows, and CLIP reads just the first 77
 * BPE tokens of whatever it is given anyway.
 *
 * Windows hold at most max_tokens tokens and end at the strongest
 * boundary found after min_tokens: a paragraph or heading break, else a
 * sentence end (. ! ? 。！？ and full-width forms), else a line break or
 * clause mark, else wherever the limit falls. The next window starts
 * `overlap` tokens before the end, moved forward to a sentence start if
 * one lies within the overlap. Offsets are byte offsets into the source
 * (through the Markdown map when markdown is set).
 */
#ifndef IRIS_TEXT_CHUNK_H
#define IRIS_TEXT_CHUNK_H

#include <stddef.h>

typedef struct chunk_opts {
    int max_tokens; /* 0 = 512 */
    int min_tokens; /* 0 = 256 (clamped below max_tokens) */
    int overlap;    /* 0 = 50; < 0 = none (clamped below min_tokens) */
    int markdown;   /* strip Markdown syntax before chunking */
} chunk_opts;

typedef struct text_chunk {
    char *text;        /* malloc'ed, NUL-terminated UTF-8 */
    size_t start, end; /* byte range in the source text */
    int n_tokens;
} text_chunk;

typedef struct chunk_list {
    text_chunk *v;
    int n;
} chunk_list;

/* Chunks text[0..len) (UTF-8; invalid bytes are treated as letters and
 * copied through). Empty or all-space text gives zero chunks. opts may be
 * NULL. */
int chunk_text(const char *text, size_t len, const chunk_opts *opts, chunk_list *out);
void chunk_list_free(chunk_list *list);

/* The token count chunk_text() uses, for callers sizing things. */
int chunk_count_tokens(const char *text, size_t len);

#endif
