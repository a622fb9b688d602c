/*
 * markdown.c - Markdown syntax stripping with an offset map (markdown.h).
 *
 * Works line by line: block syntax is recognised at the start of a line
 * (fences, headings, quotes, list markers, rules, table separators,
 * reference definitions), inline syntax within it (links, images,
 * emphasis, code spans, HTML tags, escapes). Every output byte records the
 * source offset it came from, so chunk offsets point into the original
 * file even though the indexed text has no markup.
 */
#include "text/markdown.h"

#include "util/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct md_out {
    char *p;
    uint32_t *map;
    size_t len, cap;
    int failed;
} md_out;

static void emit(md_out *o, char c, size_t src)
{
    if (o->failed) return;
    if (o->len + 2 > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        char *p = realloc(o->p, cap);
        uint32_t *m = p ? realloc(o->map, cap * sizeof *m) : NULL;
        if (p) o->p = p;
        if (!m) {
            o->failed = 1;
            return;
        }
        o->map = m;
        o->cap = cap;
    }
    o->p[o->len] = c;
    o->map[o->len++] = (uint32_t)src;
}

static void emit_span(md_out *o, const char *s, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++) emit(o, s[i], i);
}

/* A blank line before a heading, unless the output already ends in one. */
static void blank_line(md_out *o, size_t src)
{
    if (o->len == 0) return;
    int nl = 0;
    for (size_t i = o->len; i > 0 && nl < 2 && o->p[i - 1] == '\n'; i--) nl++;
    while (nl++ < 2) emit(o, '\n', src);
}

static size_t skip_spaces(const char *s, size_t i, size_t end)
{
    while (i < end && (s[i] == ' ' || s[i] == '\t')) i++;
    return i;
}

/* ``` or ~~~ (3+) after up to 3 spaces. */
static int is_fence(const char *s, size_t a, size_t end)
{
    size_t i = skip_spaces(s, a, end);
    if (i - a > 3 || i + 3 > end || (s[i] != '`' && s[i] != '~')) return 0;
    return s[i + 1] == s[i] && s[i + 2] == s[i];
}

/* A line of only - * _ = (3+, spaces allowed: rules, setext underlines)
 * or only | - : (a table rule). */
static int is_rule(const char *s, size_t a, size_t end)
{
    size_t marks = 0, dashes = 0, pipes = 0, other = 0;
    for (size_t i = a; i < end; i++) {
        char c = s[i];
        if (c == '-' || c == '*' || c == '_' || c == '=') marks++, dashes += c == '-';
        else if (c == '|' || c == ':') pipes++;
        else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') other++;
    }
    if (other) return 0;
    return (marks >= 3 && !pipes) || (pipes && dashes >= 3);
}

/* "[label]: target" reference definitions. */
static int is_ref_def(const char *s, size_t a, size_t end)
{
    size_t i = skip_spaces(s, a, end);
    if (i >= end || s[i] != '[') return 0;
    const char *close = memchr(s + i, ']', end - i);
    return close && (size_t)(close - s) + 1 < end && close[1] == ':';
}

/* Start of the line's text after quotes, list markers and heading marks;
 * *heading is set for ATX headings. */
static size_t block_prefix(const char *s, size_t i, size_t end, int *heading)
{
    *heading = 0;
    for (;;) {
        size_t j = skip_spaces(s, i, end);
        if (j < end && s[j] == '>') {
            i = j + 1;
            continue;
        }
        i = j;
        break;
    }
    size_t j = i;
    while (j < end && s[j] == '#' && j - i < 6) j++;
    if (j > i && (j == end || s[j] == ' ' || s[j] == '\t' || s[j] == '\n')) {
        *heading = 1;
        return skip_spaces(s, j, end);
    }
    if (i + 1 < end && (s[i] == '-' || s[i] == '*' || s[i] == '+') && s[i + 1] == ' ')
        i = skip_spaces(s, i + 1, end);
    else {
        j = i;
        while (j < end && j - i < 9 && isdigit((unsigned char)s[j])) j++;
        if (j > i && j + 1 < end && (s[j] == '.' || s[j] == ')') && s[j + 1] == ' ')
            i = skip_spaces(s, j + 1, end);
    }
    if (i + 3 < end && s[i] == '[' && (s[i + 1] == ' ' || s[i + 1] == 'x' || s[i + 1] == 'X') &&
        s[i + 2] == ']' && s[i + 3] == ' ')
        i += 4; /* task list box */
    return i;
}

/* Position just after the ']' matching s[i] == '[' on this line, or 0. */
static size_t match_bracket(const char *s, size_t i, size_t end, char open, char close)
{
    int depth = 0;
    for (size_t j = i; j < end; j++) {
        if (s[j] == '\\') {
            j++;
            continue;
        }
        if (s[j] == open) depth++;
        if (s[j] == close && --depth == 0) return j + 1;
    }
    return 0;
}

static int is_word(char c) { return isalnum((unsigned char)c) || (unsigned char)c >= 0x80; }

static void inline_text(md_out *o, const char *s, size_t a, size_t end);

/* [text](url), ![alt](url), [text][ref]: emits the text; returns the
 * position after the construct or 0 if s[i] does not start one. */
static size_t link(md_out *o, const char *s, size_t i, size_t end)
{
    size_t t = s[i] == '!' ? i + 1 : i;
    if (t >= end || s[t] != '[') return 0;
    size_t close = match_bracket(s, t, end, '[', ']');
    if (!close || close >= end || (s[close] != '(' && s[close] != '[')) return 0;
    size_t after = s[close] == '(' ? match_bracket(s, close, end, '(', ')')
                                   : match_bracket(s, close, end, '[', ']');
    if (!after) return 0;
    inline_text(o, s, t + 1, close - 1);
    return after;
}

/* An HTML tag (<a ...>, </p>, <br/>) or an autolink (<http://...>). */
static size_t angle(md_out *o, const char *s, size_t i, size_t end)
{
    if (i + 1 >= end || !(isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/')) return 0;
    const char *gt = memchr(s + i, '>', end - i);
    if (!gt) return 0;
    size_t stop = (size_t)(gt - s);
    const char *colon = memchr(s + i, ':', stop - i);
    if (colon && !memchr(s + i, ' ', stop - i)) emit_span(o, s, i + 1, stop); /* autolink */
    return stop + 1;
}

static void inline_text(md_out *o, const char *s, size_t a, size_t end)
{
    for (size_t i = a; i < end;) {
        char c = s[i];
        size_t next = 0;
        if (c == '\\' && i + 1 < end && ispunct((unsigned char)s[i + 1])) {
            emit(o, s[i + 1], i + 1);
            i += 2;
            continue;
        }
        if (c == '[' || (c == '!' && i + 1 < end && s[i + 1] == '[')) next = link(o, s, i, end);
        else if (c == '<') next = angle(o, s, i, end);
        if (next) {
            i = next;
            continue;
        }
        int boundary = i == a || !is_word(s[i - 1]) || i + 1 >= end || !is_word(s[i + 1]);
        if (c == '*' || c == '`' || (c == '~' && i + 1 < end && s[i + 1] == '~') ||
            (c == '_' && boundary)) {
            i += c == '~' ? 2 : 1;
            continue;
        }
        emit(o, c == '|' ? ' ' : c, i);
        i++;
    }
}

int md_strip(const char *src, size_t n, char **out, size_t *out_len, uint32_t **map)
{
    *out = NULL;
    *map = NULL;
    if (n >= UINT32_MAX) return iris_fail(IRIS_ELIMIT, "Markdown text over 4 GiB");
    md_out o = {0};
    int fenced = 0;
    for (size_t a = 0; a < n;) {
        const char *nl = memchr(src + a, '\n', n - a);
        size_t end = nl ? (size_t)(nl - src) + 1 : n; /* line includes its newline */
        if (is_fence(src, a, end)) {
            fenced = !fenced;
            emit(&o, '\n', a);
        } else if (fenced) {
            emit_span(&o, src, a, end);
        } else if (is_rule(src, a, end) || is_ref_def(src, a, end)) {
            emit(&o, '\n', a);
        } else {
            int heading;
            size_t t = block_prefix(src, a, end, &heading);
            size_t stop = end;
            if (heading) { /* drop closing #s of "## Title ##" */
                blank_line(&o, a);
                while (stop > t && (src[stop - 1] == '\n' || src[stop - 1] == '\r' ||
                                    src[stop - 1] == ' ' || src[stop - 1] == '#'))
                    stop--;
            }
            inline_text(&o, src, t, stop);
            if (heading) emit(&o, '\n', stop);
        }
        a = end;
    }
    emit(&o, '\0', n);
    if (o.failed) {
        free(o.p);
        free(o.map);
        return iris_fail(IRIS_ENOMEM, "no memory to strip %zu bytes of Markdown", n);
    }
    o.len--; /* the NUL maps the end */
    *out = o.p;
    *map = o.map;
    *out_len = o.len;
    return IRIS_OK;
}
