/*
 * caption.c - caption prompt, cache key, reply cleaning and the one-image
 * request (see caption.h). The run policy lives in caption_policy.c.
 */
#include "rag/caption.h"

#include "rag/prompt.h"
#include "util/error.h"
#include "util/fs.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CAPTION_MAX_TOKENS 300
#define CAPTION_IMAGE_SIDE 1024          /* what VLMs resize to anyway */
#define CAPTION_IMAGE_BYTES (1u << 20)

static const char PROMPT[] =
    "Describe this image for a search index. Write plain sentences, no preamble, no "
    "Markdown, at most 120 words, covering:\n"
    "1. The main subjects and objects, with their colours, counts and what they are doing.\n"
    "2. All visible text, copied exactly as written, in its own language and script (signs, "
    "labels, captions, screen text, handwriting).\n"
    "3. The setting (place, indoors or outdoors, time of day) and the kind of image: photo, "
    "screenshot, chart, diagram, scanned document, drawing.\n"
    "If the visible text is not in English, also name the main subjects in that language.";

const char *iris_caption_prompt(void) { return PROMPT; }

int iris_caption_prompt_hash(char hex[65]) { return iris_sha256_hex(PROMPT, strlen(PROMPT), hex); }

int iris_caption_cache_key(const char *content_sha256, const char *model, const char *prompt,
                           char key[65])
{
    if (!content_sha256 || strlen(content_sha256) != 64 || !model || !*model || !prompt)
        return iris_fail(IRIS_EARG, "caption cache key needs a SHA-256, a model and a prompt");
    char prompt_hash[65];
    int rc = iris_sha256_hex(prompt, strlen(prompt), prompt_hash);
    iris_sha256_ctx *ctx;
    if (!rc) rc = iris_sha256_begin(&ctx);
    if (rc) return rc;
    /* NUL-separated fields: no two different triples hash the same input. */
    static const char tag[] = "iris-caption-v1";
    iris_sha256_update(ctx, tag, sizeof tag);
    iris_sha256_update(ctx, content_sha256, 65);
    iris_sha256_update(ctx, model, strlen(model) + 1);
    iris_sha256_update(ctx, prompt_hash, 65);
    return iris_sha256_end(ctx, key);
}

int iris_caption_request_init(iris_caption_request *r, const unsigned char *image, size_t len,
                              int max_tokens)
{
    memset(r, 0, sizeof *r);
    if (!image || !len) return iris_fail(IRIS_EARG, "caption: no image bytes");
    const char *mime = iris_llm_image_mime(image, len);
    if (!mime)
        return iris_fail(IRIS_EUNSUPPORTED, "caption: only JPEG and PNG are sent to a model "
                                            "(convert the image first)");
    r->parts[0] = (iris_llm_part){.text = PROMPT};
    r->parts[1] = (iris_llm_part){.image = image, .image_len = len, .mime = mime};
    r->message = (iris_llm_message){"user", r->parts, 2};
    r->request = (iris_llm_request){.messages = &r->message, .n_messages = 1,
                                    .max_tokens = max_tokens > 0 ? max_tokens : CAPTION_MAX_TOKENS};
    return IRIS_OK;
}

/* ----------------------------------------------------------- cleaning */

/* Removes every <think>...</think> block (an unclosed one runs to the end). */
static size_t drop_think(char *s, size_t n)
{
    char *open;
    while ((open = strstr(s, "<think>"))) {
        char *close = strstr(open, "</think>");
        char *after = close ? close + 8 : s + n;
        memmove(open, after, (size_t)(s + n - after) + 1);
        n -= (size_t)(after - open);
    }
    return n;
}

/* Drops a leading label ("Caption:") or a short first line that only
 * announces the answer ("Here is a description of the image:"). */
static char *drop_preamble(char *s)
{
    static const char *const labels[] = {"caption:", "description:", "image description:"};
    while (isspace((unsigned char)*s)) s++;
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (!strncasecmp(s, labels[i], strlen(labels[i]))) return s + strlen(labels[i]);
    char *nl = strchr(s, '\n');
    if (nl && nl - s < 100 && nl > s && nl[-1] == ':') return nl + 1;
    return s;
}

/* Copies s without Markdown emphasis, with at most one blank line in a
 * row and trimmed ends, into out (room for strlen(s) + 1). */
static size_t tidy(const char *s, char *out)
{
    size_t o = 0;
    int newlines = 0;
    for (; *s; s++) {
        if ((*s == '*' || *s == '_') && (s[1] == *s)) { s++; continue; }
        if (*s == '#' && (o == 0 || out[o - 1] == '\n')) continue;
        if (*s == '\r') continue;
        if (*s == '\n' && (o == 0 || ++newlines > 2)) continue;
        if (*s != '\n') newlines = 0;
        out[o++] = *s;
    }
    while (o && isspace((unsigned char)out[o - 1])) o--;
    out[o] = '\0';
    return o;
}

int iris_caption_clean(const char *reply, size_t len, char **out)
{
    *out = NULL;
    char *buf = malloc(len + 1), *res = malloc(len + 1);
    if (!buf || !res) {
        free(buf);
        free(res);
        return iris_fail(IRIS_ENOMEM, "no memory for a caption");
    }
    memcpy(buf, reply ? reply : "", len);
    buf[len] = '\0';
    drop_think(buf, strlen(buf));
    size_t n = tidy(drop_preamble(buf), res);
    free(buf);
    while (n && isspace((unsigned char)res[0])) memmove(res, res + 1, n--);
    if (n > IRIS_CAPTION_MAX_BYTES) {
        n = IRIS_CAPTION_MAX_BYTES;
        while (n && ((unsigned char)res[n] & 0xC0) == 0x80) n--;
        res[n] = '\0';
    }
    if (!n) {
        free(res);
        return iris_fail(IRIS_EFORMAT, "the model returned an empty caption");
    }
    *out = res;
    return IRIS_OK;
}

/* ------------------------------------------------------------ request */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int iris_caption_image(const iris_llm_config *cfg, const unsigned char *image, size_t len,
                       iris_caption_result *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *fitted = NULL;
    int rc = IRIS_OK;
    if (image && len && (!iris_llm_image_mime(image, len) || len > CAPTION_IMAGE_BYTES)) {
        rc = iris_rag_image_fit(image, len, CAPTION_IMAGE_SIDE, CAPTION_IMAGE_BYTES, &fitted,
                                &len, NULL);
        if (rc) return iris_fail_wrap(rc, "caption");
        image = fitted;
    }
    iris_caption_request req;
    rc = iris_caption_request_init(&req, image, len, 0);
    if (rc) {
        free(fitted);
        return rc;
    }
    double t0 = mono_s();
    iris_llm_reply reply;
    rc = iris_llm_chat(cfg, &req.request, NULL, NULL, NULL, &reply);
    out->seconds = mono_s() - t0;
    if (!rc) rc = iris_caption_clean(reply.text, reply.len, &out->text);
    if (!rc) {
        out->prompt_tokens = reply.prompt_tokens >= 0
                                 ? reply.prompt_tokens
                                 : cfg->image_tokens + iris_rag_estimate_tokens(PROMPT, strlen(PROMPT));
        out->completion_tokens = reply.completion_tokens >= 0
                                     ? reply.completion_tokens
                                     : iris_rag_estimate_tokens(reply.text, reply.len);
        out->cost = (out->prompt_tokens * cfg->price_in + out->completion_tokens * cfg->price_out) / 1e6;
    }
    iris_llm_reply_free(&reply);
    free(fitted);
    return rc;
}

void iris_caption_result_free(iris_caption_result *r)
{
    if (!r) return;
    free(r->text);
    r->text = NULL;
}
