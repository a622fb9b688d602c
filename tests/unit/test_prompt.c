/* Prompt building for `iris ask`: numbered sources, native vs text images,
 * image caps and the fit hook, budget trimming by rank, citations mapped
 * back to sources (also through the scripted server), the extractive
 * answer, and the token estimate. */
#include "bmp.h"
#include "iris.h"
#include "llm_server.h"
#include "rag/prompt.h"
#include "test.h"

#include <stdlib.h>

#define RED "tests/fixtures/rag/red.jpg"
#define BLUE "tests/fixtures/rag/blue.png"

/* The whole user message as one string (text parts only). */
static char *user_text(const iris_rag_prompt *p)
{
    static char buf[65536];
    buf[0] = '\0';
    const iris_llm_message *m = &p->messages[1];
    for (int i = 0; i < m->n_parts; i++)
        if (m->parts[i].text) strncat(buf, m->parts[i].text, sizeof buf - strlen(buf) - 1);
    return buf;
}

static int count_images(const iris_rag_prompt *p)
{
    int n = 0;
    for (int i = 0; i < p->messages[1].n_parts; i++) n += p->messages[1].parts[i].text == NULL;
    return n;
}

static void opts_big(iris_rag_prompt_opts *o, int mode)
{
    iris_rag_prompt_opts_init(o, NULL);
    o->image_mode = mode;
    o->context_tokens = 100000;
}

static void test_numbered_sources_native_images(void)
{
    iris_rag_source src[] = {
        {.id = 11, .modality = IRIS_SRC_PDF_PAGE, .path = "docs/manual.pdf", .page = 3,
         .text = "Press the red button to reset the printer."},
        {.id = 12, .modality = IRIS_SRC_IMAGE, .path = RED, .ocr = "RESET"},
        {.id = 13, .modality = IRIS_SRC_TEXT, .path = "notes.md", .text = "Unrelated note."},
    };
    iris_rag_prompt_opts o;
    opts_big(&o, IRIS_RAG_IMAGES_NATIVE);
    iris_rag_prompt p;
    CHECK_OK(iris_rag_build_prompt("How do I reset the printer?", src, 3, &o, &p));
    CHECK_EQ_INT(p.n_sources, 3);
    CHECK_EQ_INT(p.n_images, 1);
    CHECK_EQ_INT(p.n_dropped, 0);
    for (int k = 0; k < 3; k++) CHECK_EQ_INT(p.source_index[k], k);
    CHECK_EQ_INT(p.source_as[1], IRIS_RAG_AS_IMAGE);
    CHECK(!strcmp(p.messages[0].role, "system") && !strcmp(p.messages[1].role, "user"));
    const char *rules = p.messages[0].parts[0].text;
    CHECK(strstr(rules, "[1]") && strstr(rules, "do not contain the answer") &&
          strstr(rules, "attached image 1"));
    const char *t = user_text(&p);
    const char *a = strstr(t, "[1] pdf page: docs/manual.pdf, page 3\nPress the red button");
    const char *b = strstr(t, "[2] image: " RED " (attached image 1)\n");
    const char *c = strstr(t, "Text in the image: RESET");
    const char *d = strstr(t, "[3] text: notes.md\nUnrelated note.");
    const char *q = strstr(t, "Question: How do I reset the printer?\n");
    CHECK_MSG(a && b && c && d && q && a < b && b < c && c < d && d < q, "%s", t);
    /* Parts: text up to the image's line, the image, then the rest. */
    CHECK_EQ_INT(p.messages[1].n_parts, 3);
    const iris_llm_part *img = &p.messages[1].parts[1];
    size_t n = 0;
    char *want = test_read_file(RED, &n);
    CHECK(img->image_len == n && !memcmp(img->image, want, n) && !strcmp(img->mime, "image/jpeg"));
    free(want);
    iris_rag_prompt_free(&p);
}

static void test_text_mode_uses_captions_and_ocr(void)
{
    iris_rag_source src[] = {
        {.modality = IRIS_SRC_IMAGE, .path = RED, .caption = "A red card with a white square.",
         .ocr = "STOP"},
        {.modality = IRIS_SRC_PDF_FIGURE, .path = "a.pdf", .page = 2},
    };
    iris_rag_prompt_opts o;
    opts_big(&o, IRIS_RAG_IMAGES_TEXT);
    iris_rag_prompt p;
    CHECK_OK(iris_rag_build_prompt("what does the sign say", src, 2, &o, &p));
    CHECK_EQ_INT(p.n_images, 0);
    CHECK_EQ_INT(count_images(&p), 0);
    const char *t = user_text(&p);
    CHECK_MSG(strstr(t, "[1] image: " RED "\nCaption: A red card with a white square.\n"
                        "Text in the image: STOP\n"), "%s", t);
    CHECK(strstr(t, "[2] pdf figure: a.pdf, page 2\n(no description available)"));
    CHECK(!strstr(p.messages[0].parts[0].text, "attached image"));
    iris_rag_prompt_free(&p);
}

static int fit_calls, fit_side;
static size_t fit_max;

/* A stand-in for the media module's fitter: returns a tiny "JPEG". */
static int fake_fit(const unsigned char *in, size_t n, int side, size_t max_bytes,
                    unsigned char **out, size_t *out_len, void *user)
{
    (void)in, (void)n, (void)user;
    fit_calls++, fit_side = side, fit_max = max_bytes;
    *out = malloc(40);
    memset(*out, 0x11, 40);
    (*out)[0] = 0xFF, (*out)[1] = 0xD8, (*out)[2] = 0xFF;
    *out_len = 40;
    return IRIS_OK;
}

static void test_image_caps_count_size_format(void)
{
    static const unsigned char gif[] = "GIF89a\x01\x00\x01\x00";
    iris_rag_source src[7];
    for (int i = 0; i < 6; i++)
        src[i] = (iris_rag_source){.modality = IRIS_SRC_IMAGE, .path = i % 2 ? BLUE : RED,
                                   .caption = "cap"};
    src[6] = (iris_rag_source){.modality = IRIS_SRC_IMAGE, .path = "x.gif", .image = gif,
                               .image_len = sizeof gif - 1, .caption = "gif"};
    iris_rag_prompt_opts o;
    opts_big(&o, IRIS_RAG_IMAGES_NATIVE);
    CHECK(o.image_fit == iris_rag_image_fit); /* the default */
    o.image_fit = NULL;
    o.max_images = 2;
    iris_rag_prompt p;
    CHECK_OK(iris_rag_build_prompt("q", src, 7, &o, &p));
    CHECK_EQ_INT(p.n_images, 2);
    CHECK_EQ_INT(count_images(&p), 2);
    CHECK_EQ_INT(p.source_as[0], IRIS_RAG_AS_IMAGE);
    CHECK_EQ_INT(p.source_as[1], IRIS_RAG_AS_IMAGE);
    for (int k = 2; k < 7; k++) CHECK_EQ_INT(p.source_as[k], IRIS_RAG_AS_TEXT);
    CHECK(strstr(user_text(&p), "[3] image: " RED "\nCaption: cap"));
    iris_rag_prompt_free(&p);
    /* Over the byte cap (red.jpg is 780 bytes), or GIF: text without a
     * fitter, the fitter's output with one. */
    o.max_images = 10;
    o.max_image_bytes = 200;
    CHECK_OK(iris_rag_build_prompt("q", src, 7, &o, &p));
    CHECK_EQ_INT(p.source_as[0], IRIS_RAG_AS_TEXT);
    CHECK_EQ_INT(p.source_as[1], IRIS_RAG_AS_IMAGE); /* blue.png is 143 bytes */
    CHECK_EQ_INT(p.source_as[6], IRIS_RAG_AS_TEXT);
    iris_rag_prompt_free(&p);
    o.image_fit = fake_fit;
    fit_calls = 0;
    CHECK_OK(iris_rag_build_prompt("q", src, 7, &o, &p));
    CHECK_EQ_INT(fit_calls, 4); /* three red.jpg, one GIF */
    CHECK_EQ_INT(fit_side, 1024);
    CHECK_EQ_INT(fit_max, 200);
    CHECK_EQ_INT(p.n_images, 7);
    const iris_llm_part *first = &p.messages[1].parts[1];
    CHECK(first->image_len == 40 && first->image[0] == 0xFF && first->image[3] == 0x11);
    iris_rag_prompt_free(&p);
}

static void test_unreadable_images_fall_back(void)
{
    iris_rag_source src[] = {
        {.modality = IRIS_SRC_IMAGE, .path = "/nonexistent/x.jpg", .caption = "lost"},
        {.modality = IRIS_SRC_IMAGE, .path = "tests/fixtures/rag/README.md"}, /* not an image */
        {.modality = IRIS_SRC_IMAGE, .path = NULL},
    };
    iris_rag_prompt_opts o;
    opts_big(&o, IRIS_RAG_IMAGES_NATIVE);
    iris_rag_prompt p;
    CHECK_OK(iris_rag_build_prompt("q", src, 3, &o, &p));
    CHECK_EQ_INT(p.n_images, 0);
    CHECK_EQ_INT(p.n_sources, 3);
    CHECK(strstr(user_text(&p), "[3] image: (unknown file)\n(no description available)"));
    iris_rag_prompt_free(&p);
}

static void test_image_fit_downscales_and_reencodes(void)
{
    size_t n;
    unsigned char *bmp = bmp_gradient(1600, 1200, &n), *jpg;
    CHECK(bmp);
    size_t jn;
    CHECK_OK(iris_rag_image_fit(bmp, n, 512, 100000, &jpg, &jn, NULL));
    CHECK(jn <= 100000 && iris_llm_image_mime(jpg, jn) && !strcmp(iris_llm_image_mime(jpg, jn), "image/jpeg"));
    iris_image img;
    CHECK_OK(iris_image_decode(jpg, jn, NULL, &img));
    CHECK_EQ_INT(img.width, 512);
    CHECK_EQ_INT(img.height, 384);
    /* The picture survives: sample points match the gradient (JPEG and
     * resampling error stay within a few levels on a smooth ramp). */
    for (int i = 0; i < 9; i++) {
        int x = 40 + (i % 3) * 200, y = 40 + (i / 3) * 150;
        unsigned char want[3];
        bmp_gradient_at(x * 1600 / 512, y * 1200 / 384, 1600, 1200, want);
        const unsigned char *got = img.rgb + ((size_t)y * 512 + (size_t)x) * 3;
        for (int ch = 0; ch < 3; ch++)
            CHECK_MSG(abs(got[ch] - want[ch]) <= 8, "(%d,%d) ch %d: %d vs %d", x, y, ch,
                      got[ch], want[ch]);
    }
    iris_image_free(&img);
    free(jpg);
    /* Never enlarged; a tight byte cap shrinks further; hopeless caps and
     * non-images fail cleanly. */
    CHECK_OK(iris_rag_image_fit(bmp, n, 4096, 30000, &jpg, &jn, NULL));
    CHECK_OK(iris_image_decode(jpg, jn, NULL, &img));
    CHECK(jn <= 30000 && img.width <= 1600 && img.width * 3 == img.height * 4);
    iris_image_free(&img);
    free(jpg);
    CHECK_FAILS(iris_rag_image_fit(bmp, n, 512, 100, &jpg, &jn, NULL), IRIS_ELIMIT, "100 bytes");
    CHECK(jpg == NULL && jn == 0);
    CHECK_EQ_INT(iris_rag_image_fit((const unsigned char *)"not an image", 12, 512, 1000, &jpg,
                                    &jn, NULL), IRIS_EFORMAT);
    CHECK_EQ_INT(iris_rag_image_fit(bmp, n, 8, 1000, &jpg, &jn, NULL), IRIS_EARG);
    /* Through the prompt: a BMP source is attached as JPEG. */
    iris_rag_source src = {.modality = IRIS_SRC_IMAGE, .path = "big.bmp", .image = bmp,
                           .image_len = n};
    iris_rag_prompt_opts o;
    opts_big(&o, IRIS_RAG_IMAGES_NATIVE);
    iris_rag_prompt p;
    CHECK_OK(iris_rag_build_prompt("q", &src, 1, &o, &p));
    CHECK_EQ_INT(p.n_images, 1);
    const iris_llm_part *part = &p.messages[1].parts[1];
    CHECK(!strcmp(part->mime, "image/jpeg") && part->image_len <= o.max_image_bytes);
    iris_rag_prompt_free(&p);
    free(bmp);
}

/* Ten 100-token text sources ("word " x 80 = 400 ASCII characters). */
static void ten_sources(iris_rag_source *src, char bodies[10][420], char paths[10][24])
{
    for (int i = 0; i < 10; i++) {
        bodies[i][0] = '\0';
        for (int w = 0; w < 80; w++) strcat(bodies[i], "word ");
        snprintf(paths[i], 24, "doc%d.txt", i % 100);
        src[i] = (iris_rag_source){.modality = IRIS_SRC_TEXT, .path = paths[i], .text = bodies[i]};
    }
}

static int text_tokens(const iris_rag_prompt *p)
{
    int n = 0;
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < p->messages[m].n_parts; i++)
            if (p->messages[m].parts[i].text)
                n += iris_rag_estimate_tokens(p->messages[m].parts[i].text,
                                              strlen(p->messages[m].parts[i].text));
    return n;
}

static void test_budget_trims_by_rank(void)
{
    iris_rag_source src[10];
    char bodies[10][420], paths[10][24];
    ten_sources(src, bodies, paths);
    iris_rag_prompt_opts o;
    opts_big(&o, IRIS_RAG_IMAGES_TEXT);
    o.answer_tokens = 500;
    iris_rag_prompt p;
    CHECK_OK(iris_rag_build_prompt("q", src, 10, &o, &p));
    CHECK_EQ_INT(p.n_sources, 10);
    int all = p.est_tokens;
    /* The accounting never undercounts what is really sent, and overcounts
     * only by the framing allowance and per-piece rounding. */
    int sent = text_tokens(&p);
    CHECK_MSG(sent <= all && all - sent <= 16 + 2 * 10, "estimated %d, counted %d", all, sent);
    iris_rag_prompt_free(&p);
    /* 350 tokens short: the last three or four go, the one at the edge may be
     * cut, and what stays is the best-ranked prefix. */
    o.context_tokens = all + o.answer_tokens - 350;
    CHECK_OK(iris_rag_build_prompt("q", src, 10, &o, &p));
    CHECK_MSG(p.n_sources >= 6 && p.n_sources <= 7, "kept %d", p.n_sources);
    CHECK_EQ_INT(p.n_dropped, 10 - p.n_sources);
    for (int k = 0; k < p.n_sources; k++) CHECK_EQ_INT(p.source_index[k], k);
    CHECK(p.est_tokens <= o.context_tokens - o.answer_tokens);
    CHECK(text_tokens(&p) <= o.context_tokens - o.answer_tokens);
    const char *t = user_text(&p);
    char last[32];
    snprintf(last, sizeof last, "[%d] text: doc%d.txt", p.n_sources, p.n_sources - 1);
    CHECK(strstr(t, last));
    snprintf(last, sizeof last, "doc%d.txt", p.n_sources);
    CHECK(!strstr(t, last));
    if (p.source_as[p.n_sources - 1] == IRIS_RAG_AS_TRUNCATED) CHECK(strstr(t, "word ...\n"));
    iris_rag_prompt_free(&p);
    /* No room for any source: the question still goes, with no sources. */
    o.context_tokens = all + o.answer_tokens - 10 * 104;
    CHECK_OK(iris_rag_build_prompt("q", src, 10, &o, &p));
    CHECK(p.n_sources <= 1);
    iris_rag_prompt_free(&p);
    o.context_tokens = 600; /* less than the answer reserve plus the rules */
    CHECK_FAILS(iris_rag_build_prompt("q", src, 10, &o, &p), IRIS_ELIMIT, "does not fit");
}

static void test_bad_arguments(void)
{
    iris_rag_source src = {.modality = 99, .path = "x"};
    iris_rag_prompt_opts o;
    opts_big(&o, IRIS_RAG_IMAGES_TEXT);
    iris_rag_prompt p;
    CHECK_FAILS(iris_rag_build_prompt("q", &src, 1, &o, &p), IRIS_EARG, "modality 99");
    CHECK_FAILS(iris_rag_build_prompt("", NULL, 0, &o, &p), IRIS_EARG, "empty question");
    CHECK_FAILS(iris_rag_build_prompt("q", NULL, 2, &o, &p), IRIS_EARG, "source list");
    CHECK_OK(iris_rag_build_prompt("q", NULL, 0, &o, &p));
    CHECK(strstr(user_text(&p), "Sources: none were found."));
    iris_rag_prompt_free(&p);
    iris_rag_source empty = {.modality = IRIS_SRC_TEXT}; /* no path, no text */
    CHECK_OK(iris_rag_build_prompt("q", &empty, 1, &o, &p));
    CHECK(strstr(user_text(&p), "[1] text: (unknown file)\n"));
    iris_rag_prompt_free(&p);
}

static void test_token_estimate(void)
{
    CHECK_EQ_INT(iris_rag_estimate_tokens("", 0), 0);
    CHECK_EQ_INT(iris_rag_estimate_tokens("abcd", 4), 1);
    CHECK_EQ_INT(iris_rag_estimate_tokens("abcde", 5), 2);
    const char *zh = "\xe7\xba\xa2\xe8\x89\xb2\xe7\x9a\x84\xe7\x8c\xab"; /* 红色的猫: 4 */
    CHECK_EQ_INT(iris_rag_estimate_tokens(zh, strlen(zh)), 4);
    const char *de = "\xc3\xa4\xc3\xb6"; /* äö: two other non-ASCII = 1 */
    CHECK_EQ_INT(iris_rag_estimate_tokens(de, strlen(de)), 1);
    const char bad[] = "\xff\xfe\xe7"; /* invalid or cut UTF-8: counted, never over-read */
    CHECK_EQ_INT(iris_rag_estimate_tokens(bad, 3), 2);
}

/* ---------------------------------------------------------- citations */

static void test_citation_forms(void)
{
    const char *a = "A [1] and [2, 3] or [4-5] plus [1][3], \xe3\x80\x90" "2\xe3\x80\x91, "
                    "[source 3], [6], [0], [x], [1st], [2\xe2\x80\x93" "3] and [ 5 ; 1 ].";
    iris_rag_citations c;
    CHECK_OK(iris_rag_parse_citations(a, 5, &c));
    int cited[] = {1, 2, 3, 4, 5};
    CHECK_EQ_INT(c.n_cited, 5);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(c.cited[i], cited[i]);
    CHECK_EQ_INT(c.n_invalid, 2);
    CHECK(c.invalid[0] == 6 && c.invalid[1] == 0);
    CHECK_EQ_INT(c.n_spans, 11); /* [x] and [1st] are not citations */
    /* Spans point at the brackets. */
    CHECK(!strncmp(a + c.spans[1].offset, "[2, 3]", c.spans[1].length));
    CHECK_EQ_INT(c.spans[2].count, 2); /* [4-5] */
    CHECK_EQ_INT(c.numbers[c.spans[2].first + 1], 5);
    CHECK(!strncmp(a + c.spans[5].offset, "\xe3\x80\x90" "2\xe3\x80\x91", c.spans[5].length));
    CHECK_EQ_INT(c.spans[7].count, 0); /* [6]: a citation, but of nothing valid */
    iris_rag_citations_free(&c);
}

static void test_citation_hostile(void)
{
    iris_rag_citations c;
    CHECK_OK(iris_rag_parse_citations("[99999999999999] [1-2000000000] [3-1] [1, 2", 3, &c));
    CHECK_EQ_INT(c.n_cited, 3);
    CHECK_EQ_INT(c.n_invalid, 1); /* the too-long numbers, reported once */
    CHECK_EQ_INT(c.invalid[0], 1000000);
    CHECK_EQ_INT(c.n_spans, 3);   /* the unclosed one is not a citation */
    CHECK_EQ_INT(c.spans[1].count, 3);
    iris_rag_citations_free(&c);
    char big[400] = "[";
    for (int i = 0; i < 40; i++) strcat(big, "1,");
    strcat(big, "1]");
    CHECK_OK(iris_rag_parse_citations(big, 3, &c));
    CHECK_EQ_INT(c.n_spans, 0);
    iris_rag_citations_free(&c);
    CHECK_OK(iris_rag_parse_citations("", 0, &c));
    CHECK_EQ_INT(c.n_spans, 0);
    iris_rag_citations_free(&c);
    CHECK_EQ_INT(iris_rag_parse_citations(NULL, 1, &c), IRIS_EARG);
}

/* The whole loop through the server: prompt -> request -> answer ->
 * citations -> the right files and pages. */
static void test_citations_map_to_sources_through_server(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_rag_source src[] = {
        {.modality = IRIS_SRC_TEXT, .path = "a.md", .text = "Cats sleep 16 hours."},
        {.modality = IRIS_SRC_IMAGE, .path = BLUE, .caption = "a blue disc"},
        {.modality = IRIS_SRC_PDF_PAGE, .path = "zoo.pdf", .page = 7, .text = "Lions sleep 20."},
    };
    for (int protocol = 0; protocol < 2; protocol++) {
        iris_llm_config cfg;
        llm_server_config(&cfg, "llm", "vision-model", protocol);
        cfg.vision = 1;
        iris_rag_prompt_opts o;
        iris_rag_prompt_opts_init(&o, &cfg);
        iris_rag_prompt p;
        CHECK_OK(iris_rag_build_prompt("Which animal sleeps most?", src, 3, &o, &p));
        llm_server_script("{'steps': [{'expect': {'images': ['" BLUE "'], 'roles': "
                          "['system', 'user'], 'text_contains': ['[3] pdf page: zoo.pdf, page 7', "
                          "'Question: Which animal sleeps most?']}, 'reply': {'text': "
                          "'Lions sleep 20 hours [3], cats 16 [1]. [4]'}}]}");
        p.request.stream = 1;
        iris_llm_reply r;
        CHECK_OK(iris_llm_chat(&cfg, &p.request, NULL, NULL, NULL, &r));
        iris_rag_citations c;
        CHECK_OK(iris_rag_parse_citations(r.text, p.n_sources, &c));
        CHECK_EQ_INT(c.n_cited, 2);
        const iris_rag_source *first = &src[p.source_index[c.cited[0] - 1]];
        const iris_rag_source *second = &src[p.source_index[c.cited[1] - 1]];
        CHECK(!strcmp(first->path, "zoo.pdf") && first->page == 7);
        CHECK(!strcmp(second->path, "a.md"));
        CHECK(c.n_invalid == 1 && c.invalid[0] == 4);
        iris_rag_citations_free(&c);
        iris_llm_reply_free(&r);
        iris_rag_prompt_free(&p);
        llm_server_verify();
    }
}

/* --------------------------------------------------------- extractive */

static void test_extractive_answer(void)
{
    iris_rag_source src[] = {
        {.modality = IRIS_SRC_PDF_PAGE, .path = "manual.pdf", .page = 12,
         .text = "Chapter 4. Maintenance.\nClean the tray weekly. To reset the printer, hold "
                 "the red button for five seconds. The light blinks twice."},
        {.modality = IRIS_SRC_IMAGE, .path = "photos/button.jpg",
         .caption = "A red button on a grey printer panel."},
        {.modality = IRIS_SRC_TEXT, .path = "c.txt", .text = "third"},
    };
    char *out;
    CHECK_OK(iris_rag_extractive("How do I reset the printer?", src, 3, 2, &out));
    CHECK_MSG(strstr(out, "No language model is configured"), "%s", out);
    CHECK_MSG(strstr(out, "[1] manual.pdf, page 12 (pdf page): \"...To reset the printer, hold "
                          "the red button for five seconds. The light blinks twice.\"\n"), "%s", out);
    CHECK(strstr(out, "[2] photos/button.jpg (image): \"A red button on a grey printer panel.\""));
    CHECK(!strstr(out, "[3]")); /* max_items */
    CHECK(strstr(out, "IRIS_LLM_URL") && strstr(out, "IRIS_LLM_MODEL"));
    iris_rag_citations c;
    CHECK_OK(iris_rag_parse_citations(out, 2, &c));
    CHECK(c.n_cited == 2 && c.n_invalid == 0);
    iris_rag_citations_free(&c);
    free(out);
    CHECK_OK(iris_rag_extractive("anything", NULL, 0, 5, &out));
    CHECK(strstr(out, "No indexed passage") && strstr(out, "IRIS_LLM_URL"));
    free(out);
}

static void test_extractive_cjk_and_long(void)
{
    /* 今天天气很好。红色的猫在沙发上睡觉。 / question: 红色的猫在哪里 */
    iris_rag_source src = {.modality = IRIS_SRC_TEXT, .path = "zh.txt",
                           .text = "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa4\xa9\xe6\xb0\x94\xe5\xbe\x88"
                                   "\xe5\xa5\xbd\xe3\x80\x82\xe7\xba\xa2\xe8\x89\xb2\xe7\x9a\x84"
                                   "\xe7\x8c\xab\xe5\x9c\xa8\xe6\xb2\x99\xe5\x8f\x91\xe4\xb8\x8a"
                                   "\xe7\x9d\xa1\xe8\xa7\x89\xe3\x80\x82"};
    char *out;
    CHECK_OK(iris_rag_extractive("\xe7\xba\xa2\xe8\x89\xb2\xe7\x9a\x84\xe7\x8c\xab\xe5\x9c\xa8"
                                 "\xe5\x93\xaa\xe9\x87\x8c", &src, 1, 3, &out));
    CHECK_MSG(strstr(out, "(text): \"...\xe7\xba\xa2\xe8\x89\xb2\xe7\x9a\x84\xe7\x8c\xab"), "%s", out);
    free(out);
    /* A long chunk is cut on a character boundary. */
    char big[4000] = "";
    for (int i = 0; i < 300; i++) strcat(big, "\xe7\x8c\xab"); /* 猫 x300 */
    src.text = big;
    CHECK_OK(iris_rag_extractive("\xe7\x8c\xab", &src, 1, 3, &out));
    const char *q = strstr(out, ": \"") + 3, *e = strstr(q, "...\"");
    CHECK(e && (e - q) % 3 == 0 && e - q <= 320);
    free(out);
}

int main(void)
{
    RUN(test_numbered_sources_native_images);
    RUN(test_text_mode_uses_captions_and_ocr);
    RUN(test_image_caps_count_size_format);
    RUN(test_unreadable_images_fall_back);
    RUN(test_image_fit_downscales_and_reencodes);
    RUN(test_budget_trims_by_rank);
    RUN(test_bad_arguments);
    RUN(test_token_estimate);
    RUN(test_citation_forms);
    RUN(test_citation_hostile);
    RUN(test_citations_map_to_sources_through_server);
    RUN(test_extractive_answer);
    RUN(test_extractive_cjk_and_long);
    llm_server_stop();
    return test_summary();
}
