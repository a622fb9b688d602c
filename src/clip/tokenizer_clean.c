/*
 * tokenizer_clean.c - CLIP's reference text cleanup on code points (see
 * tokenizer_clean.h).
 *
 * Unicode character properties (categories, bidi classes, combining classes,
 * case mappings, canonical and compatibility decompositions) come from
 * utf8proc. The few tables that are not character properties (HTML entity
 * names, ftfy's ligature and control-character lists, Windows-1252 for C1
 * controls) are generated from the reference's own Python modules into
 * tokenizer_tables.inc by tools/reference/gen_tokenizer_tables.py.
 *
 * Steps work buffer to buffer (a step may grow or shrink the text) and are
 * linear in their input, so repeated ftfy rounds stay cheap; the only
 * sorting (canonical ordering of combining marks) is a counting sort, so a
 * hostile run of a million combining marks costs no more than a million
 * letters.
 */
#include "clip/tokenizer_clean.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct clip_str_pair {
    const char *name, *value;
} clip_str_pair;
typedef struct clip_cp_range {
    int32_t lo, hi;
} clip_cp_range;
typedef struct clip_cp_str {
    int32_t cp;
    const char *value;
} clip_cp_str;

#include "clip/tokenizer_tables.inc"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ buffers */

int tk_reserve(tk_buf *b, size_t need)
{
    if (need <= b->cap) return IRIS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    int32_t *v = realloc(b->v, cap * sizeof *v);
    if (!v) return iris_fail(IRIS_ENOMEM, "tokenizer: no memory for %zu characters", need);
    b->v = v;
    b->cap = cap;
    return IRIS_OK;
}

void tk_buf_free(tk_buf *b)
{
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

static int push(tk_buf *b, int32_t c)
{
    if (b->n == b->cap && tk_reserve(b, b->n + 1)) return IRIS_ENOMEM;
    b->v[b->n++] = c;
    return IRIS_OK;
}

static int push_cps(tk_buf *b, const int32_t *c, size_t n)
{
    if (tk_reserve(b, b->n + n)) return IRIS_ENOMEM;
    if (n) memcpy(b->v + b->n, c, n * sizeof *c);
    b->n += n;
    return IRIS_OK;
}

/* Appends a NUL-terminated UTF-8 string from the generated tables. */
static int push_utf8(tk_buf *b, const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (*p) {
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate(p, -1, &c);
        if (n <= 0) return iris_fail(IRIS_EINTERNAL, "tokenizer: bad UTF-8 in a built-in table");
        if (push(b, c)) return IRIS_ENOMEM;
        p += n;
    }
    return IRIS_OK;
}

static int in_ranges(const clip_cp_range *r, size_t n, int32_t c)
{
    for (size_t i = 0; i < n; i++)
        if (c >= r[i].lo && c <= r[i].hi) return 1;
    return 0;
}

/* A code point the reference's unicodedata (Unicode 14.0) does not know but
 * its regex module does (see tokenizer_tables.inc); NULL for all others. */
static const struct late_range *late(int32_t c)
{
    size_t lo = 0, hi = N_OF(late_assigned);
    if (c < late_assigned[0].lo) return NULL;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < late_assigned[mid].lo) hi = mid;
        else if (c > late_assigned[mid].hi) lo = mid + 1;
        else return &late_assigned[mid];
    }
    return NULL;
}

/* The general category as the reference's unicodedata sees it. */
static utf8proc_category_t category14(int32_t c)
{
    return late(c) ? UTF8PROC_CATEGORY_CN : utf8proc_category(c);
}

/* ------------------------------------------------------ HTML entities */

static int is_ascii_digit(int32_t c) { return c >= '0' && c <= '9'; }
static int is_ascii_alnum(int32_t c)
{
    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int hex_value(int32_t c)
{
    if (is_ascii_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Binary search of a name table sorted by bytes; name[0..len) is ASCII. */
static const char *lookup(const clip_str_pair *t, size_t n, const char *name, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(t[mid].name, name, len);
        if (c == 0) c = t[mid].name[len] ? 1 : 0;
        if (c == 0) return t[mid].value;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* The code points c[0..len) as an ASCII string, if they all are ASCII. */
static int ascii_name(const int32_t *c, size_t len, char *out, size_t cap)
{
    if (len >= cap) return 0;
    for (size_t i = 0; i < len; i++) {
        if (c[i] <= 0 || c[i] > 0x7F) return 0;
        out[i] = (char)c[i];
    }
    out[len] = '\0';
    return 1;
}

/* Python's html._replace_charref for a number (num < 0: more than any code
 * point). Appends the replacement; returns IRIS_OK or IRIS_ENOMEM. */
static int push_charref(tk_buf *b, int64_t num)
{
    if (num == 0x00) return push(b, 0xFFFD);
    if (num == 0x0D) return push(b, '\r');
    if (num >= 0x80 && num <= 0x9F) return push(b, c1_to_cp1252[num - 0x80]);
    if (num < 0 || num > 0x10FFFF || (num >= 0xD800 && num <= 0xDFFF)) return push(b, 0xFFFD);
    if (in_ranges(html_invalid_ranges, N_OF(html_invalid_ranges), (int32_t)num)) return IRIS_OK;
    return push(b, (int32_t)num);
}

/* Parses digits c[0..n) in base 10 or 16, saturating to -1 above U+10FFFF. */
static int64_t parse_number(const int32_t *c, size_t n, int base)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * base + (base == 16 ? hex_value(c[i]) : c[i] - '0');
        if (v > 0x10FFFF) return -1;
    }
    return v;
}

/* A numeric reference "&#123;" / "&#x1F;" at in[i] ('&'), in Python's
 * html.unescape syntax: digits then an optional ';'. Returns the length
 * matched (0: none) and the value in *num. */
static size_t match_numeric(const int32_t *in, size_t n, size_t i, int64_t *num)
{
    size_t j = i + 2;
    if (j >= n || in[i + 1] != '#') return 0;
    int base = 10;
    if ((in[j] == 'x' || in[j] == 'X') && j + 1 < n && hex_value(in[j + 1]) >= 0) {
        base = 16;
        j++;
    } else if (!is_ascii_digit(in[j])) {
        return 0;
    }
    size_t k = j;
    while (k < n && (base == 16 ? hex_value(in[k]) >= 0 : is_ascii_digit(in[k]))) k++;
    *num = parse_number(in + j, k - j, base);
    if (k < n && in[k] == ';') k++;
    return k - i;
}

/* html.unescape's named-reference characters: [^\t\n\f <&#;]. */
static int is_name_char(int32_t c)
{
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' &&
           c != '#' && c != ';';
}

/* A named reference at in[i] ('&'): "&" [^\t\n\f <&#;]{1,32} ";"? with
 * html.unescape's longest-prefix fallback for legacy names without ';'.
 * Returns the length consumed (0: no match). */
static int unescape_named(const int32_t *in, size_t n, size_t i, tk_buf *out)
{
    size_t j = i + 1, k = j;
    while (k < n && k - j < 32 && is_name_char(in[k])) k++;
    if (k == j) return 0;
    size_t end = (k < n && in[k] == ';') ? k + 1 : k, len = end - j;
    char name[40];
    const char *v = NULL;
    if (ascii_name(in + j, len, name, sizeof name))
        v = lookup(html5_entities, N_OF(html5_entities), name, len);
    size_t x = len;
    if (!v) {
        size_t alnum = 0; /* names are ASCII letters and digits (+ ';') */
        while (alnum < len && is_ascii_alnum(in[j + alnum])) alnum++;
        for (x = alnum < len - 1 ? alnum : len - 1; x >= 2; x--) {
            ascii_name(in + j, x, name, sizeof name);
            if ((v = lookup(html5_entities, N_OF(html5_entities), name, x))) break;
        }
    }
    int rc = v ? push_utf8(out, v) || push_cps(out, in + j + x, len - x)
               : push_cps(out, in + i, end - i);
    return rc ? -1 : (int)(end - i);
}

int tk_html_unescape(const int32_t *in, size_t n, tk_buf *out)
{
    out->n = 0;
    if (tk_reserve(out, n)) return IRIS_ENOMEM;
    for (size_t i = 0; i < n;) {
        if (in[i] != '&') {
            if (push(out, in[i++])) return IRIS_ENOMEM;
            continue;
        }
        int64_t num;
        size_t m = match_numeric(in, n, i, &num);
        if (m) {
            if (push_charref(out, num)) return IRIS_ENOMEM;
            i += m;
            continue;
        }
        int r = (i + 1 < n && in[i + 1] == '#') ? 0 : unescape_named(in, n, i, out);
        if (r < 0) return IRIS_ENOMEM;
        if (r == 0 && push(out, in[i])) return IRIS_ENOMEM;
        i += r ? (size_t)r : 1;
    }
    return IRIS_OK;
}

/* ------------------------------------------------------ ftfy.fix_text */

/* ftfy's numeric entity "&#...;" (the part between "&#" and ";" is 1..24 ASCII
 * letters/digits): decoded with html.unescape only when that consumes it
 * whole and the result has no ';'. Returns 1 if decoded, 0 if kept. */
static int ftfy_numeric(const int32_t *run, size_t len, tk_buf *out)
{
    int base = 10;
    size_t start = 0;
    if ((run[0] == 'x' || run[0] == 'X') && len >= 2) {
        base = 16;
        start = 1;
    }
    for (size_t i = start; i < len; i++)
        if (base == 16 ? hex_value(run[i]) < 0 : !is_ascii_digit(run[i])) return 0;
    int64_t num = parse_number(run + start, len - start, base);
    if (num == ';') return 0;
    return push_charref(out, num) ? -1 : 1;
}

/* ftfy.fixes.unescape_html: "&#?[0-9A-Za-z]{1,24};" replaced when it names an
 * HTML5 entity (with its ';'), one of ftfy's all-caps entities, or a number. */
static int ftfy_unescape(const int32_t *in, size_t n, tk_buf *out)
{
    out->n = 0;
    if (tk_reserve(out, n)) return IRIS_ENOMEM;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, k = j;
        int hash = in[i] == '&' && j < n && in[j] == '#';
        for (k = j += (size_t)hash; in[i] == '&' && k < n && k - j <= 24 && is_ascii_alnum(in[k]);) k++;
        if (in[i] != '&' || k == j || k - j > 24 || k >= n || in[k] != ';') {
            if (push(out, in[i++])) return IRIS_ENOMEM;
            continue;
        }
        int done;
        if (hash) {
            done = ftfy_numeric(in + j, k - j, out);
        } else {
            char name[32];
            ascii_name(in + j, k + 1 - j, name, sizeof name);
            const char *v = lookup(html5_entities, N_OF(html5_entities), name, k + 1 - j);
            if (!v) v = lookup(ftfy_upper_entities, N_OF(ftfy_upper_entities), name, k + 1 - j);
            done = v ? (push_utf8(out, v) ? -1 : 1) : 0;
        }
        if (done < 0 || (!done && push_cps(out, in + i, k + 1 - i))) return IRIS_ENOMEM;
        i = k + 1;
    }
    return IRIS_OK;
}

/* fix_character_width then uncurl_quotes for one character. */
static int width_and_quotes(int32_t c, tk_buf *out)
{
    utf8proc_int32_t d[8];
    utf8proc_ssize_t nd = 1;
    d[0] = c;
    if (c == 0x3000) {
        d[0] = ' ';
    } else if (c >= 0xFF01 && c <= 0xFFEF) { /* NFKC of the halfwidth/fullwidth form */
        nd = utf8proc_decompose_char(c, d, 8, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, NULL);
        if (nd < 1 || nd > 8) nd = 1, d[0] = c;
        nd = utf8proc_normalize_utf32(d, nd, UTF8PROC_COMPOSE | UTF8PROC_STABLE);
    }
    for (utf8proc_ssize_t i = 0; i < nd; i++) {
        int32_t x = d[i];
        if (in_ranges(ftfy_single_quotes, N_OF(ftfy_single_quotes), x)) x = '\'';
        else if (in_ranges(ftfy_double_quotes, N_OF(ftfy_double_quotes), x)) x = '"';
        if (push(out, x)) return IRIS_ENOMEM;
    }
    return IRIS_OK;
}

/* The character-by-character fixes, in ftfy's order: fix_c1_controls,
 * fix_latin_ligatures, fix_character_width, uncurl_quotes. */
static int ftfy_charmap(const int32_t *in, size_t n, tk_buf *out)
{
    out->n = 0;
    if (tk_reserve(out, n)) return IRIS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int32_t c = in[i];
        if (c >= 0x80 && c <= 0x9F) c = c1_to_cp1252[c - 0x80];
        const char *lig = NULL;
        for (size_t k = 0; c >= 0x132 && c <= 0xFB06 && k < N_OF(ftfy_ligatures); k++)
            if (ftfy_ligatures[k].cp == c) lig = ftfy_ligatures[k].value;
        if (!lig) {
            if (width_and_quotes(c, out)) return IRIS_ENOMEM;
            continue;
        }
        for (const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)lig; *p;) {
            utf8proc_int32_t x;
            p += utf8proc_iterate(p, -1, &x);
            if (width_and_quotes(x, out)) return IRIS_ENOMEM;
        }
    }
    return IRIS_OK;
}

/* fix_line_breaks, remove_terminal_escapes, remove_control_chars, in place
 * (each only shortens the text). */
static void ftfy_line_breaks(tk_buf *b)
{
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        int32_t c = b->v[i];
        if (c == '\r' && i + 1 < b->n && b->v[i + 1] == '\n') continue; /* "\r\n" -> "\n" */
        if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) c = '\n';
        b->v[w++] = c;
    }
    b->n = w;
}

static void ftfy_terminal_escapes(tk_buf *b)
{
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i] == 0x1B && i + 1 < b->n && b->v[i + 1] == '[') { /* \033\[[\d;]*[a-zA-Z] */
            size_t k = i + 2;
            while (k < b->n && (b->v[k] == ';' || category14(b->v[k]) == UTF8PROC_CATEGORY_ND))
                k++;
            int32_t e = k < b->n ? b->v[k] : 0;
            if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
                i = k;
                continue;
            }
        }
        b->v[w++] = b->v[i];
    }
    b->n = w;
}

static void ftfy_control_chars(tk_buf *b)
{
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!in_ranges(ftfy_control_ranges, N_OF(ftfy_control_ranges), b->v[i])) b->v[w++] = b->v[i];
    b->n = w;
}

static int ccc(int32_t c) { return utf8proc_get_property(c)->combining_class; }

static int nfc_segment(const int32_t *in, size_t n, tk_buf *out, tk_buf *scratch);

/* Canonical ordering of one run of non-starters v[0..n): a stable sort by
 * combining class; counting sort for long runs keeps hostile input linear. */
static int sort_marks(int32_t *v, size_t n, tk_buf *scratch)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            int32_t x = v[i];
            size_t j = i;
            for (; j > 0 && ccc(v[j - 1]) > ccc(x); j--) v[j] = v[j - 1];
            v[j] = x;
        }
        return IRIS_OK;
    }
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++) start[ccc(v[i]) + 1]++;
    for (int k = 1; k <= 256; k++) start[k] += start[k - 1];
    if (tk_reserve(scratch, n)) return IRIS_ENOMEM;
    for (size_t i = 0; i < n; i++) scratch->v[start[ccc(v[i])]++] = v[i];
    memcpy(v, scratch->v, n * sizeof *v);
    return IRIS_OK;
}

/* unicodedata.normalize("NFC"). Characters Unicode 14.0 does not know are
 * starters that compose with nothing there, so they split the text into
 * independently normalised segments (utf8proc may know some as marks). */
static int nfc(const int32_t *in, size_t n, tk_buf *out, tk_buf *scratch)
{
    out->n = 0;
    size_t i = 0;
    while (i < n && in[i] < 0x300) i++;
    if (i == n) return push_cps(out, in, n); /* text below U+0300 is always NFC */
    for (i = 0; i < n;) {
        size_t j = i;
        while (j < n && !late(in[j])) j++;
        if (nfc_segment(in + i, j - i, out, scratch) || (j < n && push(out, in[j])))
            return IRIS_ENOMEM;
        i = j + 1;
    }
    return IRIS_OK;
}

/* Canonical decomposition, canonical ordering, then utf8proc's canonical
 * composition, appended to out. */
static int nfc_segment(const int32_t *in, size_t n, tk_buf *out, tk_buf *scratch)
{
    size_t start = out->n;
    for (size_t i = 0; i < n; i++) {
        utf8proc_int32_t d[32];
        utf8proc_ssize_t k = utf8proc_decompose_char(in[i], d, 32, UTF8PROC_COMPOSE | UTF8PROC_STABLE, NULL);
        if (k < 1 || k > 32) k = 1, d[0] = in[i];
        if (push_cps(out, d, (size_t)k)) return IRIS_ENOMEM;
    }
    for (size_t s = start; s < out->n;) {
        size_t e = s;
        while (e < out->n && ccc(out->v[e])) e++;
        if (e - s > 1 && sort_marks(out->v + s, e - s, scratch)) return IRIS_ENOMEM;
        s = e > s ? e : s + 1;
    }
    out->n = start + (size_t)utf8proc_normalize_utf32(out->v + start, (utf8proc_ssize_t)(out->n - start),
                                                      UTF8PROC_COMPOSE | UTF8PROC_STABLE);
    return IRIS_OK;
}

/* Text no ftfy fix can change: printable ASCII (without '&' while entities
 * are decoded), tab, line feed, form feed. Most queries take this path. */
static int ftfy_inert(const tk_buf *b, int html)
{
    for (size_t i = 0; i < b->n; i++) {
        int32_t c = b->v[i];
        if (c > 0x7E || (c < 0x20 && c != '\t' && c != '\n' && c != '\f') || (c == '&' && html))
            return 0;
    }
    return 1;
}

static void swap_buf(tk_buf *a, tk_buf *b)
{
    tk_buf t = *a;
    *a = *b;
    *b = t;
}

/* One round of ftfy's fix_and_explain loop: b -> b, s1 and s2 scratch. */
static int ftfy_round(tk_buf *b, tk_buf *s1, tk_buf *s2, int html)
{
    if (html) {
        if (ftfy_unescape(b->v, b->n, s1)) return IRIS_ENOMEM;
        swap_buf(b, s1);
    }
    if (ftfy_charmap(b->v, b->n, s1)) return IRIS_ENOMEM;
    swap_buf(b, s1);
    ftfy_line_breaks(b);
    ftfy_terminal_escapes(b);
    ftfy_control_chars(b);
    if (nfc(b->v, b->n, s1, s2)) return IRIS_ENOMEM;
    swap_buf(b, s1);
    return IRIS_OK;
}

int tk_ftfy_fix(tk_buf *b, tk_buf *s1, tk_buf *s2, int html)
{
    if (ftfy_inert(b, html)) return IRIS_OK;
    tk_buf prev = {0};
    int rc = IRIS_OK;
    for (int round = 0; round < TK_FTFY_MAX_ROUNDS && rc == IRIS_OK; round++) {
        prev.n = 0;
        if ((rc = push_cps(&prev, b->v, b->n)) || (rc = ftfy_round(b, s1, s2, html))) break;
        if (prev.n == b->n && (b->n == 0 || !memcmp(prev.v, b->v, b->n * sizeof *b->v))) break;
    }
    tk_buf_free(&prev);
    return rc;
}

/* ---------------------------------------------- str.isspace, str.lower */

int tk_is_space(int32_t c)
{
    if (c < 0x80) return (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x20);
    const utf8proc_property_t *p = utf8proc_get_property(c);
    return p->bidi_class == UTF8PROC_BIDI_CLASS_WS || p->bidi_class == UTF8PROC_BIDI_CLASS_B ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_S || p->category == UTF8PROC_CATEGORY_ZS;
}

/* Unicode's Case_Ignorable: Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter,
 * MidNumLet or Single_Quote (UAX #29; utf8proc has no word-break data, so
 * those 17 characters are listed). */
static int case_ignorable(int32_t c)
{
    if (late(c)) return 0;
    static const int32_t word_break[] = {0x0027, 0x002E, 0x003A, 0x00B7, 0x0387, 0x055F,
                                         0x05F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13,
                                         0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
        return 1;
    default:
        break;
    }
    for (size_t i = 0; i < N_OF(word_break); i++)
        if (word_break[i] == c) return 1;
    return 0;
}

/* Unicode's Cased: a cased letter category or a case mapping (which covers
 * circled letters and Roman numerals), plus the few Other_Lowercase /
 * Other_Uppercase characters with neither (cased_extra). */
static int cased(int32_t c)
{
    if (late(c)) return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           utf8proc_tolower(c) != c || utf8proc_toupper(c) != c ||
           in_ranges(cased_extra, N_OF(cased_extra), c);
}

/* CPython's Final_Sigma test for the capital sigma at s[i]:
 * \p{cased} \p{case-ignorable}* SIGMA !( \p{case-ignorable}* \p{cased} ). */
static int final_sigma(const int32_t *s, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && case_ignorable(s[j - 1])) j--;
    if (j == 0 || !cased(s[j - 1])) return 0;
    for (j = i + 1; j < n && case_ignorable(s[j]);) j++;
    return j == n || !cased(s[j]);
}

int tk_lower(const int32_t *in, size_t n, tk_buf *out)
{
    out->n = 0;
    if (tk_reserve(out, n + 1)) return IRIS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int32_t c = in[i];
        if (c < 0x80) {
            c = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        } else if (c == 0x130) { /* the one unconditional multi-character lower case */
            if (push(out, 'i')) return IRIS_ENOMEM;
            c = 0x307;
        } else if (c == 0x3A3) {
            c = final_sigma(in, n, i) ? 0x3C2 : 0x3C3;
        } else if (!late(c)) {
            c = utf8proc_tolower(c);
        }
        if (push(out, c)) return IRIS_ENOMEM;
    }
    return IRIS_OK;
}

/* ------------------------------------------------- pre-tokenizer classes */

int tk_class(int32_t c)
{
    if (c < 0x80) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return TK_LETTER;
        return is_ascii_digit(c) ? TK_NUMBER : TK_OTHER;
    }
    if (c == 0x345) return TK_NONE;
    const struct late_range *l = late(c);
    if (l) return l->cls == 0 ? TK_LETTER : l->cls == 1 ? TK_NUMBER : TK_OTHER;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return TK_LETTER;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return TK_NUMBER;
    default:
        return TK_OTHER;
    }
}
