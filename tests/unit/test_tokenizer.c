/* CLIP tokenizer: every golden case identical to the reference (open_clip's
 * SimpleTokenizer with ftfy; tools/reference/tokenizer_goldens.py), the published
 * "Hello World!" ids, truncation, hostile and huge inputs, bad vocabulary files,
 * BPE semantics on tiny hand-built vocabularies, concurrent use. */
#include "clip/tokenizer.h"
#include "iris.h"
#include "test.h"
#include "text/utf8.h"
#include "util/fs.h"

#include <pthread.h>
#include <unistd.h>

#define VOCAB "models/tiny-clip/vocab.json"
#define MERGES "models/tiny-clip/merges.txt"
#define GOLDENS "tests/fixtures/tokenizer/goldens.tsv"
#define CTX 77

static clip_tokenizer *clip_tok(void)
{
    static clip_tokenizer *tok;
    if (!tok && clip_tokenizer_load_hf(VOCAB, MERGES, &tok))
        TEST_FAIL_("cannot load %s: %s", VOCAB, iris_errmsg());
    return tok;
}

/* Tokenizes len bytes with context ctx into ids (capacity 4096). */
static int tok_n(const char *s, size_t len, int ctx, int32_t *ids)
{
    int n = -1;
    CHECK_OK(clip_tokenize_n(clip_tok(), s, len, ctx, ids, 4096, &n));
    return n;
}

static void check_framed(const int32_t *ids, int n, int ctx)
{
    CHECK(n >= 2 && n <= ctx);
    CHECK_EQ_INT(ids[0], 49406);
    CHECK_EQ_INT(ids[n - 1], 49407);
    for (int i = 1; i < n - 1; i++) CHECK(ids[i] >= 0 && ids[i] < 49408);
}

static void test_hello_world_published(void)
{
    int32_t ids[CTX];
    int n;
    CHECK_OK(clip_tokenize(clip_tok(), "Hello World!", CTX, ids, CTX, &n));
    const int32_t want[] = {49406, 3306, 1002, 256, 49407};
    CHECK_EQ_INT(n, 5);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(ids[i], want[i]);
    CHECK_EQ_INT(clip_tokenizer_vocab_size(clip_tok()), 49408);
    CHECK_EQ_INT(clip_tokenizer_start_id(clip_tok()), 49406);
    CHECK_EQ_INT(clip_tokenizer_end_id(clip_tok()), 49407);
}

/* ------------------------------------------------------------- goldens */

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

/* Expands "HEX[*COUNT],HEX..." into a malloc'ed buffer. */
static char *expand_input(const char *spec, size_t *len)
{
    size_t cap = 0, n = 0;
    char *out = NULL;
    for (const char *p = spec; *p && *p != '\t';) {
        const char *h = p;
        while (*p && *p != '*' && *p != ',' && *p != '\t') p++;
        size_t nb = (size_t)(p - h) / 2, count = 1;
        if (*p == '*') count = strtoul(p + 1, (char **)&p, 10);
        if (n + nb * count + 1 > cap) {
            cap = 2 * (n + nb * count + 1);
            out = realloc(out, cap);
        }
        for (size_t k = 0; k < count; k++)
            for (size_t i = 0; i < nb; i++)
                out[n++] = (char)(hexval(h[2 * i]) * 16 + hexval(h[2 * i + 1]));
        if (*p == ',') p++;
    }
    if (!out) out = calloc(1, 1);
    *len = n;
    return out;
}

static int parse_ids(const char *s, int32_t *ids, int cap)
{
    int n = 0;
    while (*s && *s != '\t' && *s != '\n' && n < cap) {
        ids[n++] = (int32_t)strtol(s, (char **)&s, 10);
        while (*s == ' ') s++;
    }
    return n;
}

static const char *field(const char *line, int k)
{
    while (k-- > 0 && (line = strchr(line, '\t'))) line++;
    return line;
}

/* Runs every case of a goldens file; returns the number of cases. */
static int run_goldens(const char *path, int *by_tag)
{
    char *text;
    size_t len;
    CHECK_OK(iris_read_file(path, 0, &text, &len));
    int cases = 0, bad = 0;
    char first_bad[512] = "";
    for (char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (*line == '#' || *line == '\n') continue;
        size_t in_len;
        char *in = expand_input(field(line, 2), &in_len);
        const char *exp = field(line, 4);
        if (exp[0] == '=') exp = field(line, 3);
        int32_t want[CTX], got[4096];
        int nw = parse_ids(exp, want, CTX), ng = tok_n(in, in_len, CTX, got);
        int same = nw == ng && !memcmp(want, got, (size_t)nw * sizeof *got);
        if (!same && !bad++)
            snprintf(first_bad, sizeof first_bad, "%.200s: got %d ids, first %d", field(line, 2), ng,
                     ng ? got[ng > 1 ? 1 : 0] : -1);
        if (strchr("=MCR", line[0])) by_tag[strchr("=MCR", line[0]) - "=MCR"]++;
        cases++;
        free(in);
    }
    free(text);
    CHECK_MSG(bad == 0, "%d of %d cases differ; first: %s", bad, cases, first_bad);
    return cases;
}

static void test_goldens_identical(void)
{
    int tags[4] = {0};
    int n = run_goldens(GOLDENS, tags);
    CHECK(n >= 2000);
    printf("# %d golden cases as expected: %d identical to the reference, documented differences: "
           "%d mojibake, %d round cap, %d run cut\n", n, tags[0], tags[1], tags[2], tags[3]);
    const char *extra = getenv("IRIS_TOKENIZER_GOLDENS"); /* e.g. the all-code-points file */
    if (extra && *extra) printf("# %s: %d cases as expected\n", extra, run_goldens(extra, tags));
}

/* ---------------------------------------------------------- truncation */

static void test_truncation_keeps_end_token(void)
{
    char text[4000] = "";
    for (int i = 0; i < 150; i++) strcat(text, i % 2 ? "cat " : "photo ");
    int32_t full[4096], cut[4096];
    int nf = tok_n(text, strlen(text), 1000, full);
    CHECK_EQ_INT(nf, 152);
    int n = tok_n(text, strlen(text), CTX, cut);
    CHECK_EQ_INT(n, CTX);
    check_framed(cut, n, CTX);
    CHECK(!memcmp(cut, full, 76 * sizeof *cut)); /* start + first 75 ids, then the end token */
    CHECK_EQ_INT(tok_n(text, strlen(text), 2, cut), 2);
    CHECK_EQ_INT(cut[0], 49406);
    CHECK_EQ_INT(cut[1], 49407);
    CHECK_EQ_INT(tok_n(text, strlen(text), 3, cut), 3);
    CHECK_EQ_INT(cut[1], full[1]);
    /* max_ids smaller than the result: the first max_ids ids are written */
    int k;
    CHECK_OK(clip_tokenize(clip_tok(), text, CTX, cut, 10, &k));
    CHECK_EQ_INT(k, 10);
    CHECK(!memcmp(cut, full, 10 * sizeof *cut));
    CHECK_EQ_INT(clip_tokenize(clip_tok(), text, 1, cut, 10, &k), IRIS_EARG);
    CHECK_EQ_INT(clip_tokenize(clip_tok(), text, CTX, NULL, 10, &k), IRIS_EARG);
    CHECK_EQ_INT(clip_tokenize(NULL, text, CTX, cut, 10, &k), IRIS_EARG);
    CHECK_EQ_INT(clip_tokenize(clip_tok(), NULL, CTX, cut, 10, &k), IRIS_OK); /* NULL = empty */
    CHECK_EQ_INT(k, 2);
}

/* ------------------------------------------------------ hostile inputs */

/* NUL: clip_tokenize stops at it (C string); clip_tokenize_n reads on and,
 * like the reference (ftfy removes U+0000), drops it. */
static void test_nul_bytes(void)
{
    int32_t a[4096], b[4096];
    int na = tok_n("red\0car", 7, CTX, a), nb = tok_n("redcar", 6, CTX, b);
    CHECK_EQ_INT(na, nb);
    CHECK(!memcmp(a, b, (size_t)na * sizeof *a));
    int n;
    CHECK_OK(clip_tokenize(clip_tok(), "red\0car", CTX, a, CTX, &n));
    CHECK_EQ_INT(n, tok_n("red", 3, CTX, b));
    CHECK(!memcmp(a, b, (size_t)n * sizeof *a));
}

/* Invalid UTF-8 reads as Python's decode("utf-8", "replace"): one U+FFFD
 * per maximal subpart (Unicode 3.9, table 3-8's examples). */
static void test_utf8_maximal_subparts(void)
{
    static const struct {
        const char *s;
        int n_fffd; /* U+FFFDs before the final 'z' */
    } cases[] = {
        {"\xe2\x82z", 1},           /* truncated 3-byte sequence: one */
        {"\xf0\x9f\x98z", 1},       /* truncated 4-byte sequence: one */
        {"\xf0\x80\x80z", 3},       /* overlong: lead, then two stray continuations */
        {"\xed\xa0\x80z", 3},       /* surrogate */
        {"\xf4\x90\x80\x80z", 4},   /* above U+10FFFF */
        {"\xc0\xafz", 2},           /* C0 never starts a sequence */
        {"\xe1\x80\xe2\xf0\x91\x92\xf1\xbfz", 4}, /* the Unicode standard's example */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const char *s = cases[k].s;
        size_t n = strlen(s), i = 0;
        int fffd = 0;
        uint32_t cp;
        while ((cp = utf8_next_subpart(s, n, &i)) == UTF8_REPLACEMENT) fffd++;
        CHECK_MSG(cp == 'z' && i == n && fffd == cases[k].n_fffd, "case %zu: %d U+FFFD", k, fffd);
    }
}

/* Random bytes (fixed seed): always well-framed ids, never a crash. */
static void test_random_bytes_never_crash(void)
{
    unsigned s = 12345;
    char buf[300];
    int32_t ids[4096];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = (s = s * 1103515245u + 12345u) >> 16 & 255;
        for (size_t i = 0; i < len; i++) buf[i] = (char)((s = s * 1103515245u + 12345u) >> 16);
        check_framed(ids, tok_n(buf, len, CTX, ids), CTX);
    }
}

static char *repeat(const char *unit, size_t total, size_t *len)
{
    size_t u = strlen(unit), n = total / u * u;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i += u) memcpy(s + i, unit, u);
    s[n] = '\0';
    *len = n;
    return s;
}

/* Huge inputs stay bounded: only the first runs are read. The results are
 * known by construction: a prefix ending at a space gives the same ids. */
static void test_huge_inputs(void)
{
    int32_t big[4096], small[4096];
    size_t len;
    char *s = repeat("a photo of a cat on the table ", 10u << 20, &len); /* 10 MB */
    int n = tok_n(s, len, CTX, big);
    CHECK_EQ_INT(n, CTX);
    CHECK_EQ_INT(tok_n(s, 600, CTX, small), CTX); /* 600 bytes end at a space */
    CHECK(!memcmp(big, small, CTX * sizeof *big));
    free(s);

    s = repeat(" ", 10u << 20, &len); /* 10 MB of spaces: nothing but start + end */
    CHECK_EQ_INT(tok_n(s, len, CTX, big), 2);
    free(s);

    /* One 1 MB word: cut after CLIP_TOKENIZER_MAX_RUN characters, so it gives
     * what its first MAX_RUN characters give (docs/tokenizer.md). */
    s = repeat("a", 1u << 20, &len);
    n = tok_n(s, len, CTX, big);
    check_framed(big, n, CTX);
    CHECK_EQ_INT(n, CTX);
    CHECK_EQ_INT(tok_n(s, CLIP_TOKENIZER_MAX_RUN, CTX, small), CTX);
    CHECK(!memcmp(big, small, CTX * sizeof *big));
    free(s);

    s = repeat("\xF0\x9F\x98\x80", 4u << 20, &len); /* 1M emoji, no spaces */
    CHECK_EQ_INT(tok_n(s, len, CTX, big), CTX);
    CHECK_EQ_INT(tok_n(s, 4 * CLIP_TOKENIZER_MAX_RUN, CTX, small), CTX);
    CHECK(!memcmp(big, small, CTX * sizeof *big));
    free(s);

    s = repeat("\xF0\x9F\x98\x80 ", 5u << 20, &len); /* 1M emoji with spaces */
    CHECK_EQ_INT(tok_n(s, len, CTX, big), CTX);
    free(s);

    s = repeat("\xCC\x81", 2u << 20, &len); /* 1M combining marks */
    check_framed(big, tok_n(s, len, CTX, big), CTX);
    free(s);

    s = repeat("&amp;", 5u << 20, &len); /* 1M entities, nested when unescaped */
    check_framed(big, tok_n(s, len, CTX, big), CTX);
    free(s);
    s = repeat("\x01", 10u << 20, &len); /* 10 MB that cleanup removes entirely */
    CHECK_EQ_INT(tok_n(s, len, CTX, big), 2);
    free(s);
}

/* --------------------------------------------- tiny hand-built vocabularies */

/* CLIP's byte alphabet: byte b as a UTF-8 string. */
static void byte_char(int b, char out[3])
{
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    int cp = b;
    if (!printable) {
        int k = 0;
        for (int i = 0; i < b; i++)
            k += !((i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE));
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = '\0';
    }
}

/* 512 byte tokens, extra tokens, then the two specials. */
typedef struct mini_vocab {
    char *tok[600];
    int n;
} mini_vocab;

static void mini_init(mini_vocab *v, const char *const *extra)
{
    v->n = 0;
    for (int eow = 0; eow < 2; eow++)
        for (int b = 0; b < 256; b++) {
            char c[3], s[8];
            byte_char(b, c);
            snprintf(s, sizeof s, "%s%s", c, eow ? "</w>" : "");
            v->tok[v->n++] = strdup(s);
        }
    for (; extra && *extra; extra++) v->tok[v->n++] = strdup(*extra);
    v->tok[v->n++] = strdup("<|startoftext|>");
    v->tok[v->n++] = strdup("<|endoftext|>");
}

static void mini_free(mini_vocab *v)
{
    for (int i = 0; i < v->n; i++) free(v->tok[i]);
}

static int mini_id(const mini_vocab *v, const char *s)
{
    for (int i = 0; i < v->n; i++)
        if (!strcmp(v->tok[i], s)) return i;
    return -1;
}

/* Tokenizes text with a vocabulary of bytes + extra tokens + merges and
 * compares with the expected token strings. */
static void check_mini(const char *const *extra, const char *const *merges, int n_merges,
                       const char *text, const char *const *want)
{
    mini_vocab v;
    mini_init(&v, extra);
    clip_tokenizer *t;
    CHECK_OK(clip_tokenizer_create((const char *const *)v.tok, v.n, merges, n_merges, &t));
    int32_t ids[64];
    int n;
    CHECK_OK(clip_tokenize(t, text, CTX, ids, 64, &n));
    int k = 0;
    for (; want[k]; k++) {
        CHECK_MSG(k + 1 < n - 1, "too few ids for %s", text);
        CHECK_MSG(ids[k + 1] == mini_id(&v, want[k]), "%s: id %d is '%s', want '%s'", text, k,
                  ids[k + 1] < v.n ? v.tok[ids[k + 1]] : "?", want[k]);
    }
    CHECK_EQ_INT(n, k + 2);
    clip_tokenizer_free(t);
    mini_free(&v);
}

/* The reference's BPE loop, by construction on tiny vocabularies: merge all
 * occurrences of the best pair left to right, then look again. */
static void test_bpe_semantics(void)
{
    const char *ex1[] = {"aa", "aaa</w>", NULL}, *m1[] = {"a a"};
    check_mini(ex1, m1, 1, "aaa", (const char *[]){"aa", "a</w>", NULL});
    check_mini(ex1, m1, 1, "aaaa", (const char *[]){"aa", "a", "a</w>", NULL});
    /* A pair ranked better than the pass that creates it waits until that pass
     * has merged every occurrence: "ab a" must not eat the second "a b". */
    const char *ex2[] = {"ab", "aba", NULL}, *m2[] = {"ab a", "a b"};
    check_mini(ex2, m2, 2, "ababx", (const char *[]){"ab", "ab", "x</w>", NULL});
    /* A repeated rule takes its later rank: "b c</w>" (rank 3) now loses to "a b" (rank 1). */
    const char *ex3[] = {"ab", "abc</w>", "bc</w>", NULL};
    const char *m3[] = {"b c</w>", "a b", "ab c</w>", "b c</w>"};
    check_mini(ex3, m3, 4, "abc", (const char *[]){"abc</w>", NULL});
    /* Special tokens: only the exact lower-case text is special. */
    check_mini(NULL, NULL, 0, "x<START_OF_TEXT>", (const char *[]){"x</w>", "<|startoftext|>", NULL});
}

/* ----------------------------------------------------- bad files */

static const char *tmp_path(const char *name)
{
    static char p[2][128];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "/tmp/iris_test_tok_%d_%s", (int)getpid(), name);
    return p[k];
}

static const char *write_tmp(const char *name, const char *content, size_t len)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    fwrite(content, 1, len, f);
    fclose(f);
    return p;
}

/* s with the first `from` replaced by `to` (malloc'ed). */
static char *replace1(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    size_t n = strlen(s), a = (size_t)(at - s), f = strlen(from), t = strlen(to);
    char *out = malloc(n - f + t + 1);
    memcpy(out, s, a);
    memcpy(out + a, to, t);
    memcpy(out + a + t, at + f, n - a - f + 1);
    return out;
}

/* A valid vocab.json for the mini vocabulary, with an optional tail entry. */
static char *mini_json(const char *tail)
{
    mini_vocab v;
    mini_init(&v, (const char *[]){"ab", NULL});
    size_t cap = 64 * 1024, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "{");
    for (int i = 0; i < v.n; i++) {
        const char *t = v.tok[i];
        n += (size_t)snprintf(s + n, cap - n, "%s\"", i ? ", " : "");
        for (; *t; t++) n += (size_t)snprintf(s + n, cap - n, *t == '"' || *t == '\\' ? "\\%c" : "%c", *t);
        n += (size_t)snprintf(s + n, cap - n, "\": %d", i);
    }
    snprintf(s + n, cap - n, "%s}", tail ? tail : "");
    mini_free(&v);
    return s;
}

static int load_n(const char *vocab_content, const char *merges_content, size_t merges_len)
{
    const char *v = write_tmp("vocab.json", vocab_content, strlen(vocab_content));
    const char *m = write_tmp("merges.txt", merges_content, merges_len);
    clip_tokenizer *t = NULL;
    int rc = clip_tokenizer_load_hf(v, m, &t);
    clip_tokenizer_free(t);
    unlink(v);
    unlink(m);
    return rc;
}

static int load(const char *vocab_content, const char *merges_content)
{
    return load_n(vocab_content, merges_content, strlen(merges_content));
}

#define CHECK_LOAD(vocab, merges, status, words)                                              \
    do {                                                                                     \
        CHECK_EQ_INT(load(vocab, merges), status);                                           \
        CHECK_MSG(strstr(iris_errmsg(), words) != NULL, "message '%s' lacks '%s'", iris_errmsg(), \
                  words);                                                                    \
    } while (0)

static void test_bad_vocab_and_merges(void)
{
    char *good = mini_json(NULL);
    const char *merges = "#version: 0.2\na b\n";
    CHECK_OK(load(good, merges));
    CHECK_OK(load(good, "#version: 0.2\na b\n\n\n")); /* trailing blank lines */

    clip_tokenizer *t;
    CHECK_EQ_INT(clip_tokenizer_load_hf("/nonexistent/vocab.json", MERGES, &t), IRIS_ENOTFOUND);
    CHECK(strstr(iris_errmsg(), "/nonexistent/vocab.json"));
    CHECK_EQ_INT(clip_tokenizer_load_hf(VOCAB, "/nonexistent/merges.txt", &t), IRIS_ENOTFOUND);
    CHECK(t == NULL);

    char *trunc = strdup(good);
    trunc[strlen(trunc) / 2] = '\0';
    CHECK_LOAD(trunc, merges, IRIS_EFORMAT, "not a JSON object");
    free(trunc);
    CHECK_LOAD("", merges, IRIS_EFORMAT, "not a JSON object");
    CHECK_LOAD("[1, 2]", merges, IRIS_EFORMAT, "not a JSON object");
    CHECK_LOAD("{}", merges, IRIS_EFORMAT, "0 tokens");

    char *bad;
    CHECK_LOAD(bad = mini_json(", \"zz\": \"7\""), merges, IRIS_EFORMAT, "'zz' has an id that is not a number");
    free(bad);
    CHECK_LOAD(bad = mini_json(", \"zz\": 1.5"), merges, IRIS_EFORMAT, "'zz' has id 1.5, not an integer in 0..515");
    free(bad);
    CHECK_LOAD(bad = mini_json(", \"zz\": -1"), merges, IRIS_EFORMAT, "has id -1");
    free(bad);
    CHECK_LOAD(bad = mini_json(", \"zz\": 5"), merges, IRIS_EFORMAT, "both have id 5");
    free(bad);
    CHECK_LOAD(bad = mini_json(", \"ab\": 515"), merges, IRIS_EFORMAT, "duplicates token 512");
    free(bad);

    CHECK_LOAD(bad = replace1(good, "\"q\": ", "\"\\u20ac\": "), merges, IRIS_EFORMAT,
               "no token for byte 0x71"); /* 'q' renamed to a character outside the alphabet */
    free(bad);
    CHECK_LOAD(bad = replace1(good, "\"<|endoftext|>\"", "\"<|end|>\""), merges, IRIS_EFORMAT,
               "no <|endoftext|> token");
    free(bad);

    CHECK_LOAD(good, "", IRIS_EFORMAT, "'#version' header");
    CHECK_LOAD(good, "a b\n", IRIS_EFORMAT, "'#version' header");
    CHECK_LOAD(good, "#version: 0.2\nab\n", IRIS_EFORMAT, "is not 'left right'");
    CHECK_LOAD(good, "#version: 0.2\na b c\n", IRIS_EFORMAT, "is not 'left right'");
    CHECK_LOAD(good, "#version: 0.2\na b\n\nb c\n", IRIS_EFORMAT, "line 3 is blank");
    CHECK_LOAD(good, "#version: 0.2\nb c\n", IRIS_EFORMAT, "token 'bc' is not in the vocabulary");
    CHECK_LOAD(good, "#version: 0.2\na \xE2\x82\xAC\n", IRIS_EFORMAT, "token '\xE2\x82\xAC' is not");
    CHECK_LOAD(good, "#version: 0.2\nab c\n", IRIS_EFORMAT, "token 'abc' is not");
    CHECK_EQ_INT(load_n(good, "#version: 0.2\na b\0\n", 18), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "NUL byte"));
    free(good);

    const char *no_start[] = {"a"};
    CHECK_EQ_INT(clip_tokenizer_create(no_start, 1, NULL, 0, &t), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "<|startoftext|>"));
    CHECK_EQ_INT(clip_tokenizer_create(NULL, 1, NULL, 0, &t), IRIS_EARG);
    CHECK_EQ_INT(clip_tokenizer_create(no_start, 1, NULL, -1, &t), IRIS_EARG);
}

/* ---------------------------------------------------------- threads */

static const char *const thread_texts[] = {
    "a photo of a cat", "Ünïcödé & entities &amp; more", "日本語のテキスト", "😀 emoji 🇫🇷",
    "ΟΔΟΣ Σ", "it's THE \u2019quoted\u2019 ﬁle"};

static void *thread_main(void *arg)
{
    int *ok = arg;
    for (int iter = 0; iter < 300; iter++) {
        int k = iter % 6, n1, n2;
        int32_t a[CTX], b[CTX];
        if (clip_tokenize(clip_tok(), thread_texts[k], CTX, a, CTX, &n1) ||
            clip_tokenize(clip_tok(), thread_texts[(k + 1) % 6], CTX, b, CTX, &n2) ||
            clip_tokenize(clip_tok(), thread_texts[k], CTX, b, CTX, &n2) || n1 != n2 ||
            memcmp(a, b, (size_t)n1 * sizeof *a))
            *ok = 0;
    }
    return NULL;
}

static void test_concurrent_use(void)
{
    clip_tok();
    pthread_t th[4];
    int ok[4] = {1, 1, 1, 1};
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&th[i], NULL, thread_main, &ok[i]) == 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) CHECK(ok[i]);
}

int main(void)
{
    RUN(test_hello_world_published);
    RUN(test_goldens_identical);
    RUN(test_truncation_keeps_end_token);
    RUN(test_nul_bytes);
    RUN(test_utf8_maximal_subparts);
    RUN(test_random_bytes_never_crash);
    RUN(test_huge_inputs);
    RUN(test_bpe_semantics);
    RUN(test_bad_vocab_and_merges);
    RUN(test_concurrent_use);
    clip_tokenizer_free(clip_tok());
    return test_summary();
}
