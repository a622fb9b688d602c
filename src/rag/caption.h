/*
 * caption.h - VLM captions that give images words: what to ask, which model
 * to ask, how much a run may spend, and how results are keyed for the cache.
 *
 * The prompt is tuned for retrieval, not for prose: the main objects with
 * colours and counts, every piece of visible text copied verbatim in its own
 * language and script, the setting and the kind of picture (photo,
 * screenshot, chart, scan), and, when the visible text is not English, the
 * key subjects named in that language too. Those words then reach BM25 and
 * CLIP's text tower, which is how in-image text and non-English
 * descriptions that CLIP alone misses become findable.
 *
 * Policy: the [vlm] model (cheap, typically local) by default; the
 * [vlm_strong] model when one is configured and the run has at most
 * strong_max_images images left to caption. Per-run limits on count, time
 * and cost stop a run cleanly between images; a plan with a cost and time
 * estimate is shown before the first request.
 *
 * Cache key: SHA-256 over the image's content hash, the model name and the
 * prompt's hash, so a caption is reused for the same bytes anywhere (moved,
 * renamed, duplicated files) and recomputed only when the model or the
 * prompt changes (any edit of the prompt text changes its hash).
 *
 * The store (src/store/store.h) keeps the cache keyed by the same triple:
 * store_caption_get / store_caption_put(sha256, model, prompt_hash) with
 * iris_caption_prompt_hash(); iris_caption_cache_key() is that identity as
 * one string (for JSON output and logs). What the engine still needs from
 * the store for `iris caption` (phase 2): adding a STORE_CAPTION item to a
 * content that is already done (store_item_add takes pending contents
 * only), indexed by FTS5 and embedded with CLIP's text tower in the same
 * transaction as the cache row, and listing a scope's images that lack a
 * caption for (model, prompt_hash). The run is then: plan -> for each
 * image: cache get, else caption (check / add on the run meter) and put.
 */
#ifndef IRIS_RAG_CAPTION_H
#define IRIS_RAG_CAPTION_H

#include "net/llm.h"
#include "util/config.h"

#include <stddef.h>

#define IRIS_CAPTION_MAX_BYTES 2000 /* a caption longer than this is cut */

/* The retrieval-tuned prompt (static text). */
const char *iris_caption_prompt(void);
/* SHA-256 hex of the prompt text: stored beside each caption. */
int iris_caption_prompt_hash(char hex[65]);
/* The cache key for an image's content hash, a model and a prompt. */
int iris_caption_cache_key(const char *content_sha256, const char *model, const char *prompt,
                           char key[65]);

/* A one-image request: the prompt text then the image. The struct owns
 * nothing: image bytes stay the caller's. */
typedef struct iris_caption_request {
    iris_llm_part parts[2];
    iris_llm_message message;
    iris_llm_request request;
} iris_caption_request;

/* Fails with IRIS_EARG if the bytes are empty, IRIS_EUNSUPPORTED if they
 * are not JPEG or PNG (converting others is the media module's job). */
int iris_caption_request_init(iris_caption_request *r, const unsigned char *image, size_t len,
                              int max_tokens);

/* Tidies a model's reply into a caption (malloc'ed): drops <think> blocks,
 * preambles ("Here is a description...:", "Caption:"), Markdown emphasis
 * and extra blank lines, and caps it at IRIS_CAPTION_MAX_BYTES on a
 * character boundary. An empty result fails with IRIS_EFORMAT. */
int iris_caption_clean(const char *reply, size_t len, char **out);

typedef struct iris_caption_result {
    char *text;              /* the cleaned caption (malloc'ed) */
    double seconds;          /* wall time of the request */
    int prompt_tokens;       /* as reported, or estimated when not (-1 never) */
    int completion_tokens;
    double cost;             /* from the model's prices; 0 for local models */
} iris_caption_result;

/* Captions one image with cfg (no cache involved). An image that is not
 * JPEG or PNG, or is over 1 MiB, is first fitted to 1024 pixels and 1 MiB
 * of JPEG (iris_rag_image_fit). */
int iris_caption_image(const iris_llm_config *cfg, const unsigned char *image, size_t len,
                       iris_caption_result *out);
void iris_caption_result_free(iris_caption_result *r);

/* ------------------------------------------------------------ policy */

typedef struct iris_caption_policy {
    iris_llm_config cheap;    /* [vlm] */
    iris_llm_config strong;   /* [vlm_strong], starting from [vlm] */
    int has_strong;           /* strong names another model or endpoint */
    int strong_max_images;    /* use strong for runs up to this size; default 50 */
    int max_images;           /* per run; 0 = no limit */
    double max_seconds;       /* per run; 0 = no limit */
    double max_cost;          /* per run, in the prices' currency; 0 = no limit */
} iris_caption_policy;

/* [vlm], [vlm_strong] and [caption] (strong_max_images, max_images,
 * max_seconds, max_cost) from file (may be NULL), then IRIS_VLM_*,
 * IRIS_VLM_STRONG_* and IRIS_CAPTION_* variables. */
int iris_caption_policy_load(iris_caption_policy *p, const iris_config *file);

typedef struct iris_caption_plan {
    const iris_llm_config *model; /* the chosen model (points into the policy) */
    int n_images;                 /* in scope */
    int n_cached;                 /* already captioned for this model + prompt */
    int n_todo;                   /* to caption in this run (after max_images) */
    int n_deferred;               /* left for a later run by max_images */
    double est_seconds;           /* -1 when the model's speed is unknown */
    double est_cost;              /* 0 for a free (local) model */
    char why[160];                /* why this model */
} iris_caption_plan;

/* Chooses the model and estimates the run. Fails with IRIS_EARG if no VLM
 * is configured (the message says how to configure one). */
int iris_caption_plan_make(const iris_caption_policy *p, int n_images, int n_cached,
                           iris_caption_plan *plan);
/* The two halves of iris_caption_plan_make, for a caller whose count of
 * cached images depends on the model (the cache is keyed by it): the model
 * for a set of n_todo images (why it was chosen into why; NULL with
 * IRIS_EARG if none is configured), then the plan with that model. */
const iris_llm_config *iris_caption_choose(const iris_caption_policy *p, int n_todo, char *why,
                                           size_t cap);
int iris_caption_plan_for(const iris_caption_policy *p, const iris_llm_config *model,
                          const char *why, int n_images, int n_cached, iris_caption_plan *plan);
/* The plan as one or two lines for the user, e.g. "Captioning 12 of 40
 * images (28 cached) with gpt-4o-mini at https://api.openai.com: about
 * 30 s, about 0.0200 in model fees. Small set: the stronger model." */
void iris_caption_plan_describe(const iris_caption_plan *plan, char *buf, size_t cap);

/* A run's meter: call iris_caption_run_check() before each image (it fails
 * with IRIS_ELIMIT, message naming the limit, once one is reached) and
 * iris_caption_run_add() after it. */
typedef struct iris_caption_run {
    const iris_caption_policy *policy;
    const iris_caption_plan *plan;
    double started;  /* monotonic seconds */
    int done;
    double cost;     /* spent so far */
    double busy_s;   /* summed request times */
} iris_caption_run;

void iris_caption_run_start(iris_caption_run *run, const iris_caption_policy *p,
                            const iris_caption_plan *plan);
int iris_caption_run_check(const iris_caption_run *run);
void iris_caption_run_add(iris_caption_run *run, const iris_caption_result *r);
/* Seconds left by the measured pace (or the plan's estimate before the
 * first image); -1 if unknown. */
double iris_caption_run_eta(const iris_caption_run *run);

#endif
