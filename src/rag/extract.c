/*
 * extract.c - the answer `iris ask` gives when no language model is
 * configured: the best passage of each top source, cited as [n].
 *
 * "Best passage" is the sentence sharing the most distinct words with the
 * question, extended by the sentences after it up to PASSAGE_BYTES. Words
 * are ASCII letter/digit runs compared without case (minus a few stopwords),
 * other words as written, and CJK text, which has no spaces, as character
 * bigrams. This is deliberately simple: the sources already come ranked by
 * hybrid search, so the passage only has to show *where* in a chunk the
 * answer is likely to be, and it must work for any language without a model.
 */
#include "rag/prompt.h"

#include "util/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSAGE_BYTES 320
#define MAX_TERMS 48
#define TERM_CAP 64

static const char HINT[] =
    "To get a written answer with citations, configure a model: set IRIS_LLM_URL and "
    "IRIS_LLM_MODEL (see docs/rag.md).\n";

typedef struct terms {
    char t[MAX_TERMS][TERM_CAP];
    int n;
} terms;

static int is_stopword(const char *w)
{
    static const char *const stop[] = {"the", "and", "for", "are", "was", "what", "which", "who",
                                       "how", "does", "did", "with", "from", "this", "that",
                                       "is", "in", "of", "to", "on", "an", "at", "by", "or",
                                       "do", "it", "be", "as", "can", "where", "when", "why"};
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (!strcmp(w, stop[i])) return 1;
    return 0;
}

static void add_term(terms *ts, const char *s, size_t n)
{
    if (ts->n == MAX_TERMS || n == 0 || n >= TERM_CAP) return;
    memcpy(ts->t[ts->n], s, n);
    ts->t[ts->n][n] = '\0';
    for (int i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i], ts->t[ts->n])) return;
    ts->n++;
}

static size_t utf8_len(unsigned char c) { return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1; }

/* CJK ideographs, kana, hangul: scripts written without spaces. */
static int is_cjk(const unsigned char *s)
{
    if (utf8_len(s[0]) != 3) return utf8_len(s[0]) == 4;
    unsigned cp = (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
    return (cp >= 0x3040 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF);
}

/* Splits the question into search terms (see the file comment). */
static void question_terms(const char *q, terms *ts)
{
    const unsigned char *s = (const unsigned char *)q;
    ts->n = 0;
    while (*s) {
        if (isalnum(*s)) {
            char w[TERM_CAP];
            size_t n = 0;
            for (; isalnum(*s); s++)
                if (n < TERM_CAP - 1) w[n++] = (char)tolower(*s);
            w[n] = '\0';
            if (n >= 2 && !is_stopword(w)) add_term(ts, w, n);
        } else if (*s >= 0x80 && is_cjk(s)) {
            const unsigned char *a = s, *b = s + utf8_len(*s);
            if (!*b || !is_cjk(b)) add_term(ts, (const char *)a, (size_t)(b - a)); /* lone */
            else add_term(ts, (const char *)a, (size_t)(b + utf8_len(*b) - a));
            s = b;
        } else if (*s >= 0x80) {
            const unsigned char *a = s;
            while (*s >= 0x80 && !is_cjk(s)) s += utf8_len(*s);
            add_term(ts, (const char *)a, (size_t)(s - a));
        } else {
            s++;
        }
    }
}

/* Whether [s, s+n) contains term, ASCII letters compared without case. */
static int contains(const char *s, size_t n, const char *term)
{
    size_t k = strlen(term);
    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && tolower((unsigned char)s[i + j]) == (unsigned char)term[j]) j++;
        if (j == k) return 1;
    }
    return 0;
}

/* Length of the sentence starting at s (through its end mark). */
static size_t sentence_len(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') return i + 1;
        if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && (i + 1 == n || s[i + 1] == ' '))
            return i + 1;
        if (i + 3 <= n && (!memcmp(s + i, "\xe3\x80\x82", 3) || !memcmp(s + i, "\xef\xbc\x81", 3) ||
                           !memcmp(s + i, "\xef\xbc\x9f", 3)))
            return i + 3; /* 。！？ */
    }
    return n;
}

/* Start of the sentence with most question terms (the first on ties). */
static size_t best_sentence(const char *text, size_t n, const terms *ts)
{
    size_t best = 0, at = 0;
    int best_score = 0;
    while (at < n) {
        size_t len = sentence_len(text + at, n - at);
        int score = 0;
        for (int i = 0; i < ts->n; i++) score += contains(text + at, len, ts->t[i]);
        if (score > best_score) best_score = score, best = at;
        at += len;
    }
    return best;
}

/* Appends text[from..] as one line: whitespace runs become one space, cut
 * at a character boundary after at most PASSAGE_BYTES. */
static void put_passage(FILE *f, const char *text, size_t n, size_t from)
{
    while (from < n && isspace((unsigned char)text[from])) from++;
    size_t end = n - from > PASSAGE_BYTES ? from + PASSAGE_BYTES : n;
    while (end < n && end > from && ((unsigned char)text[end] & 0xC0) == 0x80) end--;
    int space = 0;
    fputs(from ? "\"..." : "\"", f);
    for (size_t i = from; i < end; i++) {
        if (isspace((unsigned char)text[i])) {
            space = 1;
            continue;
        }
        if (space) fputc(' ', f);
        space = 0;
        fputc(text[i], f);
    }
    fputs(end < n ? "...\"" : "\"", f);
}

static void put_source(FILE *f, int k, const iris_rag_source *s, const terms *ts)
{
    fprintf(f, "[%d] %s", k, s->path ? s->path : "(unknown file)");
    if (s->page > 0) fprintf(f, ", page %d", s->page);
    int image = s->modality == IRIS_SRC_IMAGE || s->modality == IRIS_SRC_PDF_FIGURE;
    fprintf(f, " (%s)", iris_rag_modality_name(s->modality));
    const char *text = image ? (s->caption && *s->caption ? s->caption : s->ocr) : s->text;
    if (text && *text) {
        size_t n = strlen(text);
        fputs(": ", f);
        put_passage(f, text, n, image ? 0 : best_sentence(text, n, ts));
    }
    fputc('\n', f);
}

int iris_rag_extractive(const char *question, const iris_rag_source *src, int n_src,
                        int max_items, char **out)
{
    *out = NULL;
    if (!question || n_src < 0 || (n_src && !src) || max_items < 0)
        return iris_fail(IRIS_EARG, "ask: bad arguments for the extractive answer");
    terms ts;
    question_terms(question, &ts);
    size_t size = 0;
    FILE *f = open_memstream(out, &size);
    if (!f) return iris_fail(IRIS_ENOMEM, "no memory for the answer");
    int n = n_src < max_items ? n_src : max_items;
    if (n == 0) fputs("No indexed passage or image matches the question.\n\n", f);
    else fputs("No language model is configured, so here are the best matching passages "
               "instead of a written answer:\n\n", f);
    for (int i = 0; i < n; i++) put_source(f, i + 1, &src[i], &ts);
    fprintf(f, "%s%s", n ? "\n" : "", HINT);
    if (fclose(f) || !*out) {
        free(*out);
        *out = NULL;
        return iris_fail(IRIS_ENOMEM, "no memory for the answer");
    }
    return IRIS_OK;
}
