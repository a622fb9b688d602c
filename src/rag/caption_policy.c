/*
 * caption_policy.c - which VLM captions a run, what the run may spend, and
 * the estimate shown before it starts (see caption.h).
 *
 * Estimates come from the model's configuration (image_tokens, prices,
 * seconds_per_request): iris cannot know a remote model's speed in advance,
 * so without seconds_per_request the plan says the time is unknown and the
 * run's ETA switches to the measured pace after the first image.
 */
#include "rag/caption.h"

#include "rag/prompt.h"
#include "util/error.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EST_CAPTION_TOKENS 160 /* a 120-word caption */

typedef struct limit_field {
    const char *key, *env;
    size_t off;
    double lo, hi;
    int integer;
} limit_field;

static const limit_field limit_fields[] = {
    {"strong_max_images", "IRIS_CAPTION_STRONG_MAX_IMAGES",
     offsetof(iris_caption_policy, strong_max_images), 0, 1e9, 1},
    {"max_images", "IRIS_CAPTION_MAX_IMAGES", offsetof(iris_caption_policy, max_images), 0, 1e9, 1},
    {"max_seconds", "IRIS_CAPTION_MAX_SECONDS", offsetof(iris_caption_policy, max_seconds), 0,
     1e9, 0},
    {"max_cost", "IRIS_CAPTION_MAX_COST", offsetof(iris_caption_policy, max_cost), 0, 1e9, 0},
};
#define N_LIMITS (sizeof limit_fields / sizeof limit_fields[0])

static int set_limit(iris_caption_policy *p, const limit_field *f, const char *value,
                     const char *where)
{
    double v;
    int rc = iris_config_number(value, where, f->lo, f->hi, f->integer, &v);
    if (rc) return rc;
    if (f->integer) *(int *)((char *)p + f->off) = (int)v;
    else *(double *)((char *)p + f->off) = v;
    return IRIS_OK;
}

static int load_limits(iris_caption_policy *p, const iris_config *file)
{
    const char *key, *value;
    int pos = 0, line;
    while (iris_config_next(file, "caption", &pos, &key, &value, &line)) {
        char where[600];
        snprintf(where, sizeof where, "%s:%d: [caption] %s", iris_config_origin(file), line, key);
        size_t i = 0;
        while (i < N_LIMITS && strcmp(limit_fields[i].key, key)) i++;
        if (i == N_LIMITS) return iris_fail(IRIS_EARG, "%s: unknown setting (see docs/rag.md)", where);
        int rc = set_limit(p, &limit_fields[i], value, where);
        if (rc) return rc;
    }
    for (size_t i = 0; i < N_LIMITS; i++) {
        const char *v = getenv(limit_fields[i].env);
        int rc = v && *v ? set_limit(p, &limit_fields[i], v, limit_fields[i].env) : IRIS_OK;
        if (rc) return rc;
    }
    return IRIS_OK;
}

int iris_caption_policy_load(iris_caption_policy *p, const iris_config *file)
{
    memset(p, 0, sizeof *p);
    p->strong_max_images = 50;
    int rc = iris_llm_config_load(&p->cheap, "vlm", file, NULL);
    if (!rc) rc = iris_llm_config_load(&p->strong, "vlm_strong", file, &p->cheap);
    if (!rc) rc = load_limits(p, file);
    p->has_strong = !rc && iris_llm_configured(&p->strong) &&
                    (strcmp(p->strong.model, p->cheap.model) || strcmp(p->strong.url, p->cheap.url));
    return rc;
}

/* ------------------------------------------------------------- plans */

static double cost_per_image(const iris_llm_config *m)
{
    int in = m->image_tokens + iris_rag_estimate_tokens(iris_caption_prompt(),
                                                        strlen(iris_caption_prompt()));
    return (in * m->price_in + EST_CAPTION_TOKENS * m->price_out) / 1e6;
}

const iris_llm_config *iris_caption_choose(const iris_caption_policy *p, int n_todo, char *why,
                                           size_t cap)
{
    int cheap = iris_llm_configured(&p->cheap);
    if (p->has_strong && (!cheap || n_todo <= p->strong_max_images)) {
        snprintf(why, cap,
                 cheap ? "small set (%d <= %d images): the stronger model"
                       : "only the stronger model is configured (%d images, limit %d)",
                 n_todo, p->strong_max_images);
        return &p->strong;
    }
    if (!cheap) {
        iris_fail(IRIS_EARG, "no captioning model configured: set IRIS_VLM_URL and "
                             "IRIS_VLM_MODEL (or [vlm] url and model in the configuration "
                             "file; see docs/rag.md)");
        return NULL;
    }
    snprintf(why, cap, p->has_strong
                 ? "large set (%d > %d images): the default model"
                 : "the configured model (%d images; no stronger model set, limit %d)",
             n_todo, p->strong_max_images);
    return &p->cheap;
}

int iris_caption_plan_for(const iris_caption_policy *p, const iris_llm_config *m,
                          const char *why, int n_images, int n_cached, iris_caption_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    snprintf(plan->why, sizeof plan->why, "%s", why ? why : "");
    if (!m || n_images < 0 || n_cached < 0 || n_cached > n_images)
        return iris_fail(IRIS_EARG, "caption plan: %d cached of %d images", n_cached, n_images);
    int left = n_images - n_cached, todo = left;
    if (p->max_images > 0 && todo > p->max_images) todo = p->max_images;
    double unit_cost = cost_per_image(m);
    if (p->max_cost > 0 && unit_cost > 0 && todo > p->max_cost / unit_cost)
        todo = (int)floor(p->max_cost / unit_cost);
    if (p->max_seconds > 0 && m->seconds_per_request > 0 &&
        todo > p->max_seconds / m->seconds_per_request)
        todo = (int)floor(p->max_seconds / m->seconds_per_request);
    plan->model = m;
    plan->n_images = n_images;
    plan->n_cached = n_cached;
    plan->n_todo = todo;
    plan->n_deferred = left - todo;
    plan->est_cost = todo * unit_cost;
    plan->est_seconds = m->seconds_per_request > 0 ? todo * m->seconds_per_request : -1;
    return IRIS_OK;
}

int iris_caption_plan_make(const iris_caption_policy *p, int n_images, int n_cached,
                           iris_caption_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    if (n_images < 0 || n_cached < 0 || n_cached > n_images)
        return iris_fail(IRIS_EARG, "caption plan: %d cached of %d images", n_cached, n_images);
    char why[sizeof plan->why];
    const iris_llm_config *m = iris_caption_choose(p, n_images - n_cached, why, sizeof why);
    return m ? iris_caption_plan_for(p, m, why, n_images, n_cached, plan) : IRIS_EARG;
}

void iris_caption_plan_describe(const iris_caption_plan *plan, char *buf, size_t cap)
{
    char safe[512], when[64], fee[64] = "", later[96] = "";
    iris_http_safe_url(plan->model->url, safe, sizeof safe);
    if (plan->est_seconds < 0) snprintf(when, sizeof when, "time unknown until the first image");
    else snprintf(when, sizeof when, "about %.0f s", plan->est_seconds);
    if (plan->est_cost > 0) snprintf(fee, sizeof fee, ", about %.4f in model fees", plan->est_cost);
    if (plan->n_deferred > 0)
        snprintf(later, sizeof later, " %d left for a later run by the per-run limits.",
                 plan->n_deferred);
    snprintf(buf, cap, "Captioning %d of %d images (%d cached) with %s at %s: %s%s.%s (%s)",
             plan->n_todo, plan->n_images, plan->n_cached, plan->model->model, safe, when, fee,
             later, plan->why);
}

/* --------------------------------------------------------------- runs */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void iris_caption_run_start(iris_caption_run *run, const iris_caption_policy *p,
                            const iris_caption_plan *plan)
{
    memset(run, 0, sizeof *run);
    run->policy = p;
    run->plan = plan;
    run->started = mono_s();
}

int iris_caption_run_check(const iris_caption_run *run)
{
    const iris_caption_policy *p = run->policy;
    if (run->done >= run->plan->n_todo)
        return iris_fail(IRIS_ELIMIT, "captioned the %d images planned for this run",
                         run->plan->n_todo);
    double elapsed = mono_s() - run->started;
    if (p->max_seconds > 0 && elapsed >= p->max_seconds)
        return iris_fail(IRIS_ELIMIT, "stopped after %.0f s: the per-run time limit "
                                      "(max_seconds = %g)", elapsed, p->max_seconds);
    double next = run->done ? run->cost / run->done : cost_per_image(run->plan->model);
    if (p->max_cost > 0 && run->cost + next > p->max_cost)
        return iris_fail(IRIS_ELIMIT, "stopped at %.4f spent: the next image would pass the "
                                      "per-run cost limit (max_cost = %g)", run->cost, p->max_cost);
    return IRIS_OK;
}

void iris_caption_run_add(iris_caption_run *run, const iris_caption_result *r)
{
    run->done++;
    run->cost += r->cost;
    run->busy_s += r->seconds;
}

double iris_caption_run_eta(const iris_caption_run *run)
{
    int left = run->plan->n_todo - run->done;
    if (left <= 0) return 0;
    if (run->done) return left * run->busy_s / run->done;
    double spr = run->plan->model->seconds_per_request;
    return spr > 0 ? left * spr : -1;
}
