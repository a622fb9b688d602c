/*
 * cite.c - finds the [n] citations in an answer and maps them to sources
 * (see prompt.h for the accepted forms).
 *
 * A hand-written scanner rather than a regex: the grammar is tiny, and the
 * scanner can insist that a bracket holds nothing but numbers, separators
 * and an optional "source" word, so "[x]", "[1st]" or a Markdown checkbox
 * are not taken for citations. Numbers are parsed with a digit cap, so a
 * hostile answer ("[99999999999999]", "[1-2000000000]") cannot overflow or
 * make the parser expand a huge range.
 */
#include "rag/prompt.h"

#include "util/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DIGITS 6

typedef struct ivec {
    int *v;
    int n, cap;
} ivec;

static int ivec_push(ivec *a, int x)
{
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        int *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) return iris_fail(IRIS_ENOMEM, "no memory for citations");
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return IRIS_OK;
}

static int ivec_has(const ivec *a, int x)
{
    for (int i = 0; i < a->n; i++)
        if (a->v[i] == x) return 1;
    return 0;
}

/* Opening and closing brackets: ASCII, 【】 and ［］ (UTF-8). */
static size_t open_len(const char *s)
{
    if (*s == '[') return 1;
    if (!strncmp(s, "\xe3\x80\x90", 3) || !strncmp(s, "\xef\xbc\xbb", 3)) return 3;
    return 0;
}

static size_t close_len(const char *s)
{
    if (*s == ']') return 1;
    if (!strncmp(s, "\xe3\x80\x91", 3) || !strncmp(s, "\xef\xbc\xbd", 3)) return 3;
    return 0;
}

/* A dash between range ends: -, en dash, em dash. */
static size_t dash_len(const char *s)
{
    if (*s == '-') return 1;
    if (!strncmp(s, "\xe2\x80\x93", 3) || !strncmp(s, "\xe2\x80\x94", 3)) return 3;
    return 0;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ') s++;
    return s;
}

/* Parses a number; one longer than MAX_DIGITS is beyond any source count
 * and comes back as 1000000 (reported as invalid, never expanded). */
static const char *number(const char *s, int *out)
{
    if (!isdigit((unsigned char)*s)) return NULL;
    long v = 0;
    int digits = 0;
    for (; isdigit((unsigned char)*s); s++, digits++)
        if (digits < MAX_DIGITS) v = v * 10 + (*s - '0');
    *out = digits > MAX_DIGITS ? 1000000 : (int)v;
    return s;
}

typedef struct range {
    int lo, hi;
} range;

/* Parses the inside of one bracket starting at s; on success returns the
 * position of the closing bracket and fills ranges. */
static const char *bracket_body(const char *s, range *ranges, int *n_ranges, int cap)
{
    s = skip_spaces(s);
    if (!strncasecmp(s, "sources", 7)) s = skip_spaces(s + 7);
    else if (!strncasecmp(s, "source", 6)) s = skip_spaces(s + 6);
    *n_ranges = 0;
    for (;;) {
        range r;
        if (!(s = number(s, &r.lo))) return NULL;
        r.hi = r.lo;
        const char *t = skip_spaces(s);
        size_t d = dash_len(t);
        if (d) {
            if (!(s = number(skip_spaces(t + d), &r.hi))) return NULL;
            t = skip_spaces(s);
        }
        if (*n_ranges == cap) return NULL; /* a list this long is not a citation */
        ranges[(*n_ranges)++] = r;
        if (*t == ',' || *t == ';') {
            s = skip_spaces(t + 1);
            continue;
        }
        return close_len(t) ? t : NULL;
    }
}

/* Records one range: valid numbers into out, out-of-range ends into bad. */
static int add_range(ivec *nums, ivec *cited, ivec *bad, range r, int n_sources)
{
    if (r.hi < r.lo) {
        int t = r.lo;
        r.lo = r.hi;
        r.hi = t;
    }
    int rc = IRIS_OK;
    if ((r.lo < 1 || r.lo > n_sources) && !ivec_has(bad, r.lo)) rc = ivec_push(bad, r.lo);
    if (!rc && r.hi != r.lo && (r.hi < 1 || r.hi > n_sources) && !ivec_has(bad, r.hi))
        rc = ivec_push(bad, r.hi);
    int lo = r.lo < 1 ? 1 : r.lo, hi = r.hi > n_sources ? n_sources : r.hi;
    for (int k = lo; !rc && k <= hi; k++) {
        rc = ivec_push(nums, k);
        if (!rc && !ivec_has(cited, k)) rc = ivec_push(cited, k);
    }
    return rc;
}

static int add_span(iris_rag_citations *c, size_t off, size_t len, int first, int count)
{
    if (c->n_spans % 16 == 0) {
        iris_rag_cite_span *s = realloc(c->spans, (size_t)(c->n_spans + 16) * sizeof *s);
        if (!s) return iris_fail(IRIS_ENOMEM, "no memory for citations");
        c->spans = s;
    }
    c->spans[c->n_spans++] = (iris_rag_cite_span){off, len, first, count};
    return IRIS_OK;
}

int iris_rag_parse_citations(const char *answer, int n_sources, iris_rag_citations *out)
{
    memset(out, 0, sizeof *out);
    if (!answer) return iris_fail(IRIS_EARG, "no answer to parse citations from");
    ivec nums = {0}, cited = {0}, bad = {0};
    int rc = IRIS_OK;
    for (const char *s = answer; *s && !rc;) {
        size_t o = open_len(s);
        range ranges[32];
        int n_ranges;
        const char *end = o ? bracket_body(s + o, ranges, &n_ranges, 32) : NULL;
        if (!end) {
            s += o ? o : 1;
            continue;
        }
        int first = nums.n;
        for (int i = 0; i < n_ranges && !rc; i++)
            rc = add_range(&nums, &cited, &bad, ranges[i], n_sources);
        end += close_len(end);
        if (!rc) rc = add_span(out, (size_t)(s - answer), (size_t)(end - s), first, nums.n - first);
        s = end;
    }
    out->numbers = nums.v, out->n_numbers = nums.n;
    out->cited = cited.v, out->n_cited = cited.n;
    out->invalid = bad.v, out->n_invalid = bad.n;
    if (rc) iris_rag_citations_free(out);
    return rc;
}

void iris_rag_citations_free(iris_rag_citations *c)
{
    if (!c) return;
    free(c->spans);
    free(c->numbers);
    free(c->cited);
    free(c->invalid);
    memset(c, 0, sizeof *c);
}
