/* Text decoding (UTF-8/16, Windows-1252, binary), UTF-8 strictness,
 * Markdown stripping with offsets, and chunk windows on texts whose
 * sentence, paragraph and token structure is known by construction. */
#include "iris.h"
#include "test.h"
#include "text/chunk.h"
#include "text/markdown.h"
#include "text/utf8.h"

/* ------------------------------------------------------------ UTF-8 */

static void test_utf8_decoder_is_strict(void)
{
    static const struct {
        const char *s;
        uint32_t cp;
        size_t len;
    } cases[] = {
        {"A", 'A', 1},
        {"\xc3\xa9", 0xE9, 2},
        {"\xe4\xb8\xad", 0x4E2D, 3},
        {"\xf0\x9f\x98\x80", 0x1F600, 4},
        {"\xc0\x80", UTF8_REPLACEMENT, 1},         /* overlong NUL */
        {"\xe0\x80\xaf", UTF8_REPLACEMENT, 1},     /* overlong '/' */
        {"\xed\xa0\x80", UTF8_REPLACEMENT, 1},     /* surrogate */
        {"\xf4\x90\x80\x80", UTF8_REPLACEMENT, 1}, /* above U+10FFFF */
        {"\xe4\xb8", UTF8_REPLACEMENT, 1},         /* truncated */
        {"\x80", UTF8_REPLACEMENT, 1},             /* stray continuation */
        {"\xff", UTF8_REPLACEMENT, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t i = 0, n = strlen(cases[k].s);
        uint32_t cp = utf8_next(cases[k].s, n, &i);
        CHECK_MSG(cp == cases[k].cp && i == cases[k].len, "case %zu: U+%X len %zu", k, cp, i);
    }
    CHECK(utf8_valid("h\xc3\xa9 \xef\xbf\xbd", 7));
    CHECK(!utf8_valid("h\xe9", 2));
    char *out;
    size_t n;
    CHECK_OK(utf8_sanitize("a\xffz\xe4\xb8", 5, &out, &n));
    CHECK(!strcmp(out, "a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd"));
    CHECK(utf8_valid(out, n));
    free(out);
    CHECK(utf8_is_cjk(0x4E2D) && utf8_is_cjk(0x30AB) && utf8_is_cjk(0x20000));
    CHECK(!utf8_is_cjk(0xAC00) && !utf8_is_cjk('a') && !utf8_is_cjk(0x3002));
}

static void check_decode(const char *raw, size_t n, const char *want, text_encoding enc)
{
    char *out;
    size_t len;
    text_encoding got;
    CHECK_OK(text_decode(raw, n, "t", &out, &len, &got));
    CHECK_MSG(len == strlen(want) && !strcmp(out, want), "got '%s' want '%s'", out, want);
    CHECK_MSG(got == enc, "encoding %s, want %s", text_encoding_name(got), text_encoding_name(enc));
    free(out);
}

/* Literal bytes (NULs included) without counting them by hand. */
#define DECODE(lit, want, enc) check_decode(lit, sizeof(lit) - 1, want, enc)

static void test_text_decode_encodings(void)
{
    DECODE("", "", TEXT_UTF8);
    DECODE("plain", "plain", TEXT_UTF8);
    DECODE("\xef\xbb\xbfh\xc3\xa9", "h\xc3\xa9", TEXT_UTF8_BOM);
    /* UTF-16 with BOMs: "hé中" and a surrogate pair (U+1F600). */
    DECODE("\xff\xfeh\0\xe9\0\x2d\x4e\x3d\xd8\x00\xde",
           "h\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", TEXT_UTF16LE);
    DECODE("\xfe\xff\0h\0\xe9\x4e\x2d", "h\xc3\xa9\xe4\xb8\xad", TEXT_UTF16BE);
    /* Lone surrogate -> U+FFFD; odd trailing byte dropped. */
    DECODE("\xff\xfe\x00\xd8x\0!", "\xef\xbf\xbdx", TEXT_UTF16LE);
    /* BOM-less UTF-16 recognised from its NUL pattern. */
    DECODE("h\0e\0l\0l\0o\0 \0w\0o\0r\0l\0d\0", "hello world", TEXT_UTF16LE);
    DECODE("\0h\0e\0l\0l\0o", "hello", TEXT_UTF16BE);
    /* Not UTF-8: Windows-1252 (Latin-1 letters, curly quotes, euro). */
    DECODE("caf\xe9 \x93quoted\x94 \x80",
           "caf\xc3\xa9 \xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac", TEXT_CP1252);
    /* Declared UTF-8 with a bad byte is repaired, not reinterpreted. */
    DECODE("\xef\xbb\xbf" "a\xe9", "a\xef\xbf\xbd", TEXT_UTF8_BOM);
    char *out;
    size_t len;
    CHECK_EQ_INT(text_decode("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0", 18, "x.png", &out, &len, NULL),
                 IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "x.png") && strstr(iris_errmsg(), "binary"));
    CHECK_EQ_INT(text_decode("\xff\xfe" "a\0\0\0b\0", 8, "nul16", &out, &len, NULL), IRIS_EFORMAT);
}

/* ---------------------------------------------------------- Markdown */

static void test_markdown_stripping(void)
{
    const char *md = "---\ntitle: Notes\n---\n"
                     "# Heading One #\n"
                     "Some **bold** and _italic_ text with `code` and snake_case.\n"
                     "* item [link text](http://x.y/z) and ![alt words](img.png)\n"
                     "1. first <b>tag</b> <https://a.b/c>\n"
                     "> quoted \\*star\\*\n"
                     "\n"
                     "```c\n"
                     "int main(void);\n"
                     "```\n"
                     "| a | b |\n"
                     "|---|:-:|\n"
                     "| 1 | 2 |\n"
                     "[ref]: http://example.com\n"
                     "Setext\n"
                     "======\n"
                     "- [x] done task\n";
    const char *want = "\n"
                       "title: Notes\n"
                       "\n"
                       "Heading One\n"
                       "Some bold and italic text with code and snake_case.\n"
                       "item link text and alt words\n"
                       "first tag https://a.b/c\n"
                       "quoted *star*\n"
                       "\n"
                       "\n"
                       "int main(void);\n"
                       "\n"
                       "  a   b  \n"
                       "\n"
                       "  1   2  \n"
                       "\n"
                       "Setext\n"
                       "\n"
                       "done task\n";
    char *out;
    size_t n;
    uint32_t *map;
    CHECK_OK(md_strip(md, strlen(md), &out, &n, &map));
    CHECK_MSG(!strcmp(out, want), "got:\n%s", out);
    /* Every output byte maps to the same byte in the source (except the
     * inserted newlines and the pipes turned into spaces). */
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(out[i] == md[map[i]] || out[i] == '\n' || (out[i] == ' ' && md[map[i]] == '|'),
                  "byte %zu '%c' maps to '%c'", i, out[i], md[map[i]]);
    CHECK_EQ_INT(map[n], strlen(md));
    free(out);
    free(map);
}

/* ------------------------------------------------------------ chunks */

/* A text of n_sent sentences of 10 words each ("sK wJ"), a paragraph
 * break every para sentences (0 = never). */
static char *make_text(int n_sent, int para)
{
    size_t cap = (size_t)n_sent * 100 + 16, len = 0;
    char *t = malloc(cap);
    for (int s = 0; s < n_sent; s++) {
        for (int w = 0; w < 10; w++)
            len += (size_t)snprintf(t + len, cap - len, "%ss%dw%d%s", w ? " " : "", s, w,
                                    w == 9 ? "." : "");
        len += (size_t)snprintf(t + len, cap - len, "%s",
                                para && (s + 1) % para == 0 ? "\n\n" : " ");
    }
    return t;
}

/* Index of the first word of chunk c among the sentence-word tokens. */
static int word_index(const char *chunk_text_)
{
    int s, w;
    if (sscanf(chunk_text_, "s%dw%d", &s, &w) != 2) return -1;
    return s * 10 + w;
}

static void test_chunks_respect_limits_and_sentences(void)
{
    char *text = make_text(300, 7); /* 3000 tokens */
    chunk_list l;
    CHECK_OK(chunk_text(text, strlen(text), NULL, &l));
    CHECK(l.n >= 6 && l.n <= 15);
    int covered = 0;
    for (int k = 0; k < l.n; k++) {
        text_chunk *c = &l.v[k];
        CHECK(c->n_tokens <= 512);
        CHECK(k == l.n - 1 || c->n_tokens > 256);
        CHECK(c->n_tokens == chunk_count_tokens(c->text, strlen(c->text)));
        CHECK(!strncmp(text + c->start, c->text, c->end - c->start) && c->text[c->end - c->start] == 0);
        /* Starts at a sentence start, ends at a sentence end. */
        CHECK_EQ_INT(word_index(c->text) % 10, 0);
        CHECK(c->text[strlen(c->text) - 1] == '.');
        int first = word_index(c->text);
        if (k) {
            int overlap = covered - first;
            CHECK_MSG(overlap >= 1 && overlap <= 50, "chunk %d overlap %d", k, overlap);
        } else {
            CHECK_EQ_INT(first, 0);
        }
        covered = first + c->n_tokens;
    }
    CHECK_EQ_INT(covered, 3000);
    chunk_list_free(&l);
    free(text);
}

static void test_chunks_prefer_paragraph_breaks(void)
{
    /* 30 sentences per paragraph: paragraph breaks at 300, 600, ...; the
     * first window may end anywhere in (256, 512] and must pick 300. */
    char *text = make_text(90, 30);
    chunk_list l;
    CHECK_OK(chunk_text(text, strlen(text), NULL, &l));
    CHECK(l.n >= 3);
    CHECK_EQ_INT(l.v[0].n_tokens, 300);
    CHECK(!strcmp(l.v[0].text + strlen(l.v[0].text) - 6, "s29w9."));
    chunk_list_free(&l);
    free(text);
}

static void test_chunks_without_boundaries(void)
{
    /* 1000 words, no punctuation, no newlines: hard cuts at 512 with a
     * 50-token overlap, exactly. */
    size_t cap = 8000, len = 0;
    char *text = malloc(cap);
    for (int w = 0; w < 1000; w++) len += (size_t)snprintf(text + len, cap - len, "w%d ", w);
    chunk_list l;
    chunk_opts o = {0};
    CHECK_OK(chunk_text(text, len, &o, &l));
    CHECK_EQ_INT(l.n, 3);
    CHECK_EQ_INT(l.v[0].n_tokens, 512);
    CHECK(!strncmp(l.v[1].text, "w462 ", 5));
    CHECK(!strncmp(l.v[2].text, "w924 ", 5));
    CHECK_EQ_INT(l.v[2].n_tokens, 76);
    chunk_list_free(&l);
    /* Custom sizes; overlap off. */
    o = (chunk_opts){.max_tokens = 100, .min_tokens = 80, .overlap = -1};
    CHECK_OK(chunk_text(text, len, &o, &l));
    CHECK_EQ_INT(l.n, 10);
    CHECK(!strncmp(l.v[1].text, "w100 ", 5));
    chunk_list_free(&l);
    free(text);
}

static void test_chunks_cjk(void)
{
    /* 100 Chinese sentences of 19 characters + "。" (no spaces at all). */
    const char *sent = "\xe5\x8c\x97\xe4\xba\xac\xe6\x98\xaf\xe4\xb8\xad\xe5\x9b\xbd\xe7\x9a\x84"
                       "\xe9\xa6\x96\xe9\x83\xbd\xe4\xb9\x9f\xe6\x98\xaf\xe4\xb8\x80\xe5\xba\xa7"
                       "\xe5\x8e\x86\xe5\x8f\xb2\xe5\x90\x8d\xe5\x9f\x8e\xe5\x92\x8c\xe6\x96\x87"
                       "\xe5\x8c\x96\xe4\xb8\xad\xe5\xbf\x83\xe3\x80\x82";
    /* 北京是中国的首都也是一座历史名城和文化中心。 */
    int per = chunk_count_tokens(sent, strlen(sent));
    CHECK_EQ_INT(per, (int)strlen(sent) / 3 - 1); /* 3-byte characters, 。 sticks */
    size_t sl = strlen(sent);
    char *text = malloc(sl * 100 + 1);
    for (int k = 0; k < 100; k++) memcpy(text + k * sl, sent, sl);
    text[sl * 100] = '\0';
    chunk_list l;
    CHECK_OK(chunk_text(text, sl * 100, NULL, &l));
    CHECK(l.n >= 4);
    for (int k = 0; k < l.n; k++) {
        const char *t = l.v[k].text;
        size_t n = strlen(t);
        CHECK(utf8_valid(t, n));
        CHECK(l.v[k].n_tokens <= 512 && l.v[k].n_tokens % per == 0); /* whole sentences */
        CHECK(n >= 3 && !strcmp(t + n - 3, "\xe3\x80\x82"));         /* ends with 。 */
        CHECK(l.v[k].start % sl == 0);
    }
    chunk_list_free(&l);
    free(text);
    CHECK_EQ_INT(chunk_count_tokens("iPhone\xe6\x89\x8b\xe6\x9c\xba\xe5\xa3\xb3, ok .", 20), 5);
}

static void test_chunks_markdown_offsets(void)
{
    const char *md = "# Title\n\nSome **bold** text.\n";
    chunk_list l;
    chunk_opts o = {.markdown = 1};
    CHECK_OK(chunk_text(md, strlen(md), &o, &l));
    CHECK_EQ_INT(l.n, 1);
    CHECK(!strcmp(l.v[0].text, "Title\n\nSome bold text."));
    CHECK_EQ_INT(l.v[0].start, 2);
    CHECK_EQ_INT(l.v[0].end, strlen(md) - 1);
    CHECK_EQ_INT(l.v[0].n_tokens, 4);
    chunk_list_free(&l);
}

static void test_chunks_empty_and_hostile(void)
{
    chunk_list l;
    CHECK_OK(chunk_text("", 0, NULL, &l));
    CHECK_EQ_INT(l.n, 0);
    CHECK_OK(chunk_text(" \n\t\n  ", 6, NULL, &l));
    CHECK_EQ_INT(l.n, 0);
    CHECK_OK(chunk_text("... --- !!!", 11, NULL, &l));
    CHECK_EQ_INT(l.n, 0);
    /* Invalid UTF-8 is carried through as letters, never split. */
    const char *bad = "ab\xff\xfe cd\xe4\xb8 e";
    CHECK_OK(chunk_text(bad, strlen(bad), NULL, &l));
    CHECK_EQ_INT(l.n, 1);
    CHECK(!strcmp(l.v[0].text, bad));
    chunk_list_free(&l);
    /* A 2 MiB single "word": one token, one chunk, copied whole. */
    size_t n = 2u << 20;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    CHECK_OK(chunk_text(big, n, NULL, &l));
    CHECK(l.n == 1 && l.v[0].n_tokens == 1 && strlen(l.v[0].text) == n);
    chunk_list_free(&l);
    free(big);
    /* Markdown that is all syntax. */
    chunk_opts o = {.markdown = 1};
    CHECK_OK(chunk_text("***\n---\n```\n```\n", 16, &o, &l));
    CHECK_EQ_INT(l.n, 0);
}

int main(void)
{
    RUN(test_utf8_decoder_is_strict);
    RUN(test_text_decode_encodings);
    RUN(test_markdown_stripping);
    RUN(test_chunks_respect_limits_and_sentences);
    RUN(test_chunks_prefer_paragraph_breaks);
    RUN(test_chunks_without_boundaries);
    RUN(test_chunks_cjk);
    RUN(test_chunks_markdown_offsets);
    RUN(test_chunks_empty_and_hostile);
    return test_summary();
}
