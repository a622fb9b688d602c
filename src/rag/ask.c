/*
 * ask.c - iris_ask(): retrieve, build the prompt, ask the model, map the
 * citations back.
 *
 *   retrieve   iris_search (hybrid by default) for a few times k hits, so
 *              that an image found through several of its items (pixels,
 *              caption, OCR text) still leaves k distinct sources;
 *   sources    ask_sources.c: whole passages, images with their caption
 *              and OCR text, image bytes checked against the index;
 *   prompt     rag/prompt.c: numbered sources trimmed to the model's
 *              window by rank, images natively or as text;
 *   model      net/llm.c: streamed to the caller's callback as it arrives;
 *   citations  rag/cite.c: [n] mapped to sources, the rest reported.
 *
 * Configuration is read on every call (a small file): a server picks up a
 * changed [llm] section without a restart, and a broken file fails before
 * any search. No model configured is not an error: the answer is then the
 * extractive one (rag/extract.c) with its configuration hint. No source at
 * all is not sent to a model either: there is nothing to ground an answer.
 *
 * The answer owns everything the caller sees (paths, passages) through the
 * ask_sources it keeps, so it stays valid after the index changes.
 */
#include "rag/ask.h"

#include "net/llm.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_K 8
#define MAX_K 100
#define HITS_PER_SOURCE 3 /* an image may come back as image, caption and OCR hits */
#define DEFAULT_MAX_IMAGES 4

static const char NOTHING_FOUND[] =
    "No indexed passage or image matches the question, so there is nothing to answer from.\n";

typedef struct answer_impl {
    iris_answer pub; /* first: iris_answer_free casts back */
    ask_sources srcs;
} answer_impl;

/* The caller's callbacks and the time spent fitting images. */
typedef struct call_ctx {
    iris_ask_delta_fn on_delta;
    int (*cancel)(void *user);
    void *user;
    double fit_ms;
} call_ctx;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int relay_delta(const char *text, size_t len, void *user)
{
    call_ctx *c = user;
    return c->on_delta ? c->on_delta(text, len, c->user) : 0;
}

static int relay_cancel(void *user)
{
    call_ctx *c = user;
    return c->cancel ? c->cancel(c->user) : 0;
}

static int timed_fit(const unsigned char *in, size_t in_len, int side, size_t cap,
                     unsigned char **out, size_t *out_len, void *user)
{
    call_ctx *c = user;
    double t0 = now_ms();
    int rc = iris_rag_image_fit(in, in_len, side, cap, out, out_len, NULL);
    c->fit_ms += now_ms() - t0;
    return rc;
}

/* ------------------------------------------------------------- options */

static int resolve_opts(const iris_ask_opts *in, iris_ask_opts *o)
{
    *o = in ? *in : (iris_ask_opts){0};
    if (o->k < 0 || o->k > MAX_K)
        return iris_fail(IRIS_EARG, "ask: k must be between 1 and %d, not %d", MAX_K, o->k);
    if (o->images < IRIS_ASK_IMAGES_AUTO || o->images > IRIS_ASK_IMAGES_TEXT)
        return iris_fail(IRIS_EARG, "ask: unknown image mode %d", o->images);
    if (o->max_images < 0) return iris_fail(IRIS_EARG, "ask: max_images %d", o->max_images);
    if (!o->k) o->k = DEFAULT_K;
    if (!o->max_images) o->max_images = DEFAULT_MAX_IMAGES;
    return IRIS_OK;
}

static int load_llm_config(const char *path, iris_llm_config *cfg)
{
    iris_config *file = NULL;
    int rc = iris_config_load(path, &file);
    if (!rc) rc = iris_llm_config_load(cfg, "llm", file, NULL);
    iris_config_free(file);
    return rc;
}

int iris_ask_model(const char *config, char *model, size_t cap)
{
    if (!model || !cap) return iris_fail(IRIS_EARG, "iris_ask_model: no room for the name");
    model[0] = 0;
    iris_llm_config cfg;
    int rc = load_llm_config(config, &cfg);
    if (!rc && iris_llm_configured(&cfg)) snprintf(model, cap, "%s", cfg.model);
    return rc;
}

/* ------------------------------------------------------------ retrieval */

static int retrieve(iris_db *db, const char *question, const iris_ask_opts *o, int native,
                    answer_impl *a)
{
    iris_query q = {.text = question, .mode = o->mode, .k = o->k * HITS_PER_SOURCE,
                    .modalities = o->modalities, .path_glob = o->path_glob};
    iris_results *r = NULL;
    int rc = iris_search(db, &q, &r);
    if (rc) return rc;
    a->pub.embed_ms = r->embed_ms;
    a->pub.vector_ms = r->vector_ms;
    a->pub.keyword_ms = r->keyword_ms;
    a->pub.fuse_ms = r->fuse_ms;
    double t0 = now_ms();
    rc = ask_gather(db, r, o->k, &a->srcs);
    iris_results_free(r);
    double t1 = now_ms();
    if (!rc && native) ask_load_pixels(db, &a->srcs, o->max_images);
    a->pub.sources_ms = t1 - t0;
    a->pub.images_ms = now_ms() - t1;
    return rc;
}

/* The public source list: the first n gathered sources. */
static int publish_sources(answer_impl *a, int n, const int *sent_as)
{
    if (!n) return IRIS_OK;
    a->pub.sources = calloc((size_t)n, sizeof *a->pub.sources);
    if (!a->pub.sources) return iris_fail(IRIS_ENOMEM, "no memory for the answer");
    static const int sent_map[] = {[IRIS_RAG_AS_TEXT] = IRIS_SENT_TEXT,
                                   [IRIS_RAG_AS_IMAGE] = IRIS_SENT_IMAGE,
                                   [IRIS_RAG_AS_TRUNCATED] = IRIS_SENT_TRUNCATED};
    for (int i = 0; i < n; i++) {
        const ask_source *s = &a->srcs.v[i];
        a->pub.sources[i] = (iris_ask_source){
            .number = i + 1, .item_id = s->item_id, .modality = s->modality, .path = s->path,
            .page = s->rs.page, .score = s->rs.score,
            .text = s->text ? s->text : s->caption ? s->caption : s->ocr,
            .sent = sent_as ? sent_map[sent_as[i]] : 0};
    }
    a->pub.n_sources = n;
    return IRIS_OK;
}

static int copy_ints(const int *v, int n, int **out)
{
    *out = NULL;
    if (!n) return IRIS_OK;
    if (!(*out = malloc((size_t)n * sizeof **out))) return iris_fail(IRIS_ENOMEM, "no memory");
    memcpy(*out, v, (size_t)n * sizeof **out);
    return IRIS_OK;
}

/* Citations of the answer text against the published sources. */
static int map_citations(answer_impl *a)
{
    iris_rag_citations c;
    int rc = iris_rag_parse_citations(a->pub.text ? a->pub.text : "", a->pub.n_sources, &c);
    if (rc) return rc;
    for (int i = 0; i < c.n_numbers; i++) a->pub.sources[c.numbers[i] - 1].cited++;
    rc = copy_ints(c.cited, c.n_cited, &a->pub.cited);
    if (!rc) rc = copy_ints(c.invalid, c.n_invalid, &a->pub.invalid);
    if (!rc) {
        a->pub.n_cited = c.n_cited;
        a->pub.n_invalid = c.n_invalid;
    }
    iris_rag_citations_free(&c);
    return rc;
}

/* -------------------------------------------------------------- answers */

/* Without a model: the best passages, cited, and the configuration hint;
 * with a model but no source: a plain statement. Delivered in one piece. */
static int answer_locally(const char *question, int configured, call_ctx *ctx, answer_impl *a)
{
    int n = a->srcs.n, rc;
    iris_rag_source *rs = n ? malloc((size_t)n * sizeof *rs) : NULL;
    if (n && !rs) return iris_fail(IRIS_ENOMEM, "no memory for the answer");
    for (int i = 0; i < n; i++) rs[i] = a->srcs.v[i].rs;
    if (configured) rc = (a->pub.text = strdup(NOTHING_FOUND)) ? IRIS_OK
                                                               : iris_fail(IRIS_ENOMEM, "no memory");
    else rc = iris_rag_extractive(question, rs, n, n, &a->pub.text);
    free(rs);
    a->pub.extractive = !configured;
    a->pub.complete = 1;
    a->pub.prompt_tokens = a->pub.completion_tokens = -1;
    if (!rc) rc = publish_sources(a, n, NULL);
    if (!rc) rc = map_citations(a);
    if (!rc && ctx->on_delta && ctx->on_delta(a->pub.text, strlen(a->pub.text), ctx->user))
        rc = iris_fail(IRIS_ECANCELLED, "ask: cancelled");
    return rc;
}

static int build_prompt(const char *question, const iris_llm_config *cfg, const iris_ask_opts *o,
                        call_ctx *ctx, answer_impl *a, iris_rag_prompt *p)
{
    iris_rag_prompt_opts po;
    iris_rag_prompt_opts_init(&po, cfg);
    if (o->images != IRIS_ASK_IMAGES_AUTO)
        po.image_mode = o->images == IRIS_ASK_IMAGES_NATIVE ? IRIS_RAG_IMAGES_NATIVE
                                                            : IRIS_RAG_IMAGES_TEXT;
    po.max_images = o->max_images;
    po.image_fit = timed_fit;
    po.image_fit_user = ctx;
    int n = a->srcs.n;
    iris_rag_source *rs = malloc((size_t)n * sizeof *rs);
    if (!rs) return iris_fail(IRIS_ENOMEM, "no memory for the prompt");
    for (int i = 0; i < n; i++) rs[i] = a->srcs.v[i].rs;
    double t0 = now_ms();
    int rc = iris_rag_build_prompt(question, rs, n, &po, p);
    a->pub.prompt_ms = now_ms() - t0 - ctx->fit_ms; /* fitting is counted with the images */
    a->pub.images_ms += ctx->fit_ms;
    free(rs);
    return rc;
}

static int answer_with_model(const char *question, const iris_llm_config *cfg,
                             const iris_ask_opts *o, call_ctx *ctx, answer_impl *a)
{
    iris_rag_prompt p;
    int rc = build_prompt(question, cfg, o, ctx, a, &p);
    if (rc) return rc;
    snprintf(a->pub.model, sizeof a->pub.model, "%s", cfg->model);
    a->pub.n_dropped = p.n_dropped;
    a->pub.images_sent = p.n_images;
    a->pub.est_prompt_tokens = p.est_tokens;
    /* the prompt numbers a prefix of the sources, in order */
    rc = publish_sources(a, p.n_sources, p.source_as);
    p.request.stream = !o->no_stream;
    iris_llm_reply reply;
    double t0 = now_ms();
    int chat_rc = rc ? rc : iris_llm_chat(cfg, &p.request, relay_delta, relay_cancel, ctx, &reply);
    a->pub.llm_ms = now_ms() - t0;
    if (!rc) {
        a->pub.text = reply.text; /* what arrived, even when the call failed */
        reply.text = NULL;
        a->pub.complete = chat_rc == IRIS_OK;
        a->pub.prompt_tokens = reply.prompt_tokens;
        a->pub.completion_tokens = reply.completion_tokens;
        snprintf(a->pub.finish_reason, sizeof a->pub.finish_reason, "%s", reply.finish_reason);
        iris_llm_reply_free(&reply);
        if (!a->pub.text && !(a->pub.text = strdup(""))) rc = iris_fail(IRIS_ENOMEM, "no memory");
        int cite_rc = rc ? rc : map_citations(a);
        rc = chat_rc ? chat_rc : cite_rc;
    }
    iris_rag_prompt_free(&p);
    return rc;
}

/* ---------------------------------------------------------------- entry */

int iris_ask(iris_db *db, const char *question, const iris_ask_opts *opts,
             iris_ask_delta_fn on_delta, void *user, iris_answer **out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_ask: out is NULL");
    *out = NULL;
    if (!db || !question || !*question) return iris_fail(IRIS_EARG, "ask: empty question");
    double t0 = now_ms();
    iris_ask_opts o;
    iris_llm_config cfg;
    int rc = resolve_opts(opts, &o);
    if (!rc) rc = load_llm_config(o.config, &cfg);
    if (rc) return rc;
    answer_impl *a = calloc(1, sizeof *a);
    if (!a) return iris_fail(IRIS_ENOMEM, "no memory for the answer");
    int configured = iris_llm_configured(&cfg);
    int native = configured && (o.images == IRIS_ASK_IMAGES_NATIVE ||
                                (o.images == IRIS_ASK_IMAGES_AUTO && cfg.vision));
    call_ctx ctx = {.on_delta = on_delta, .cancel = o.cancel, .user = user};
    rc = retrieve(db, question, &o, native, a);
    if (!rc) {
        if (configured && a->srcs.n) rc = answer_with_model(question, &cfg, &o, &ctx, a);
        else rc = answer_locally(question, configured, &ctx, a);
    }
    a->pub.total_ms = now_ms() - t0;
    if (rc && !a->pub.text) { /* failed before any answer: nothing to return */
        iris_answer_free(&a->pub);
        return rc;
    }
    *out = &a->pub;
    return rc;
}

void iris_answer_free(iris_answer *answer)
{
    if (!answer) return;
    answer_impl *a = (answer_impl *)answer;
    free(a->pub.text);
    free(a->pub.sources);
    free(a->pub.cited);
    free(a->pub.invalid);
    ask_sources_free(&a->srcs);
    free(a);
}
