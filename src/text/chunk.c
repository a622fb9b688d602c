/*
 * chunk.c - overlapping, boundary-aware text windows (see chunk.h).
 *
 * Two passes: tokenize once into (start, end, boundary-before) triples,
 * then slide a window over the array. Memory is 12 bytes per token plus
 * the chunk copies; callers cap file sizes before getting here. Because
 * windows are cut between tokens and tokens never split a UTF-8 sequence,
 * every chunk is as valid as its input.
 */
#include "text/chunk.h"

#include "text/markdown.h"
#include "text/utf8.h"
#include "util/error.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Boundary strength before a token. */
enum { BRK_NONE = 0, BRK_WEAK = 1, BRK_SENTENCE = 2, BRK_PARAGRAPH = 3 };

typedef struct tok {
    uint32_t start, end;
    uint8_t brk;
} tok;

typedef struct tok_list {
    tok *v;
    size_t n, cap;
} tok_list;

static int is_punct(uint32_t cp)
{
    if (cp < 0x80) return ispunct((int)cp);
    return (cp >= 0xA1 && cp <= 0xBF) || (cp >= 0x2010 && cp <= 0x205E) ||
           (cp >= 0x3000 && cp <= 0x303F && !utf8_is_cjk(cp)) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
           (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
           (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65);
}

static int is_closer(uint32_t cp)
{
    return cp == '"' || cp == '\'' || cp == ')' || cp == ']' || cp == 0x201D || cp == 0x2019 ||
           cp == 0x300D || cp == 0x300F || cp == 0xFF09;
}

static int is_clause(uint32_t cp)
{
    return cp == ',' || cp == ';' || cp == ':' || cp == 0xFF0C || cp == 0x3001 || cp == 0xFF1B ||
           cp == 0xFF1A;
}

/* The code point ending at s[end) (end > start), stepping over trailing
 * closing quotes and brackets. */
static uint32_t last_cp(const char *s, size_t start, size_t end)
{
    while (end > start) {
        size_t b = end - 1;
        while (b > start && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        size_t i = b;
        uint32_t cp = utf8_next(s, end, &i);
        if (!is_closer(cp)) return cp;
        end = b;
    }
    return 0;
}

/* Boundary before a token that starts after a gap (bytes between the
 * previous token and this one) holding `newlines` line breaks. */
static uint8_t boundary(const char *s, const tok *prev, size_t gap, int newlines, int next_cjk)
{
    if (newlines >= 2) return BRK_PARAGRAPH;
    uint32_t cp = last_cp(s, prev->start, prev->end);
    /* "3.14", "e.g.x": an ASCII full stop ends a sentence only before a
     * space or a CJK character; the full-width forms always do. */
    if (utf8_is_sentence_end(cp) && (cp >= 0x80 || gap > 0 || next_cjk)) return BRK_SENTENCE;
    if (newlines == 1 || is_clause(cp)) return BRK_WEAK;
    return BRK_NONE;
}

static int push_tok(tok_list *l, size_t start, size_t end, uint8_t brk)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        tok *v = realloc(l->v, cap * sizeof *v);
        if (!v) return iris_fail(IRIS_ENOMEM, "no memory for %zu tokens", cap);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (tok){(uint32_t)start, (uint32_t)end, brk};
    return IRIS_OK;
}

/* End of the non-space, non-CJK run at i; *word says whether it holds a
 * letter or digit (else it is punctuation only). */
static size_t run_end(const char *s, size_t n, size_t i, int *word)
{
    *word = 0;
    while (i < n) {
        size_t at = i;
        uint32_t cp = utf8_next(s, n, &i);
        if (utf8_is_space(cp) || utf8_is_cjk(cp)) return at;
        if (!is_punct(cp)) *word = 1;
    }
    return n;
}

static int tokenize(const char *s, size_t n, tok_list *out)
{
    size_t i = 0;
    int newlines = 0, rc = IRIS_OK;
    while (!rc && i < n) {
        size_t at = i;
        uint32_t cp = utf8_next(s, n, &i);
        if (utf8_is_space(cp)) {
            if (cp == '\n' || cp == 0x2029) newlines++;
            continue;
        }
        int word = 1, cjk = utf8_is_cjk(cp);
        size_t end = cjk ? i : run_end(s, n, at, &word);
        tok *prev = out->n ? &out->v[out->n - 1] : NULL;
        if (!word && prev && prev->end == at) {
            prev->end = (uint32_t)end; /* punctuation sticks to its word */
        } else if (word) {
            uint8_t brk = prev ? boundary(s, prev, at - prev->end, newlines, cjk) : BRK_NONE;
            rc = push_tok(out, at, end, brk);
            newlines = 0;
        }
        i = end;
    }
    return rc;
}

int chunk_count_tokens(const char *text, size_t len)
{
    tok_list l = {0};
    int rc = tokenize(text, len, &l);
    free(l.v);
    return rc ? -1 : (int)l.n;
}

/* The window end for a window starting at s: the strongest boundary in
 * (s + min, s + max], the latest one on ties. */
static size_t window_end(const tok_list *t, size_t s, size_t min, size_t max)
{
    if (s + max >= t->n) return t->n;
    size_t best = s + max;
    uint8_t strength = t->v[best].brk;
    for (size_t p = s + max; p > s + min; p--)
        if (t->v[p].brk > strength) best = p, strength = t->v[p].brk;
    return best;
}

/* The next window's start: overlap tokens back from e, moved forward to the
 * first sentence start within the overlap. */
static size_t next_start(const tok_list *t, size_t e, size_t overlap)
{
    size_t ns = e - overlap;
    for (size_t p = ns; p < e; p++)
        if (t->v[p].brk >= BRK_SENTENCE) return p;
    return ns;
}

static int add_chunk(chunk_list *out, int *cap, const char *clean, const uint32_t *map,
                     const tok_list *t, size_t s, size_t e)
{
    if (out->n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        text_chunk *v = realloc(out->v, (size_t)c * sizeof *v);
        if (!v) return iris_fail(IRIS_ENOMEM, "no memory for chunks");
        out->v = v;
        *cap = c;
    }
    size_t a = t->v[s].start, b = t->v[e - 1].end;
    char *text = malloc(b - a + 1);
    if (!text) return iris_fail(IRIS_ENOMEM, "no memory for a %zu-byte chunk", b - a);
    memcpy(text, clean + a, b - a);
    text[b - a] = '\0';
    text_chunk *c = &out->v[out->n++];
    c->text = text;
    c->start = map ? map[a] : a;
    c->end = map ? map[b - 1] + 1 : b;
    c->n_tokens = (int)(e - s);
    return IRIS_OK;
}

int chunk_text(const char *text, size_t len, const chunk_opts *opts, chunk_list *out)
{
    out->v = NULL;
    out->n = 0;
    if (len >= UINT32_MAX) return iris_fail(IRIS_ELIMIT, "text of %zu bytes is over 4 GiB", len);
    chunk_opts o = opts ? *opts : (chunk_opts){0};
    size_t max = o.max_tokens > 0 ? (size_t)o.max_tokens : 512;
    size_t min = o.min_tokens > 0 ? (size_t)o.min_tokens : 256;
    if (min >= max) min = max / 2;
    size_t overlap = o.overlap < 0 ? 0 : o.overlap == 0 ? 50 : (size_t)o.overlap;
    if (overlap > min) overlap = min;
    char *clean = NULL;
    uint32_t *map = NULL;
    const char *src = text;
    size_t n = len;
    int rc = IRIS_OK;
    if (o.markdown) {
        rc = md_strip(text, len, &clean, &n, &map);
        src = clean;
    }
    tok_list t = {0};
    if (!rc) rc = tokenize(src, n, &t);
    int cap = 0;
    for (size_t s = 0; !rc && s < t.n;) {
        size_t e = window_end(&t, s, min, max);
        rc = add_chunk(out, &cap, src, map, &t, s, e);
        s = e >= t.n ? t.n : next_start(&t, e, overlap);
    }
    free(t.v);
    free(clean);
    free(map);
    if (rc) chunk_list_free(out);
    return rc;
}

void chunk_list_free(chunk_list *list)
{
    if (!list) return;
    for (int k = 0; k < list->n; k++) free(list->v[k].text);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}
