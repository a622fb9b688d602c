/*
 * caption_index.c - iris_caption_images(): a captioning run over indexed
 * images, from plan to stored, searchable caption items.
 *
 *   scope    store_caption_targets: the done images under the given paths
 *            (as given and as resolved, so either way of naming a file
 *            matches how it was indexed), with their caption facts;
 *   need     images with no caption item (with recaption: none from this
 *            model and prompt). Any existing caption counts, so a run of
 *            the cheap model never overwrites a stronger model's captions;
 *   model    chosen by how many images need one (caption_policy.c), then
 *            the cache is read for that model: cached captions become
 *            items without a request, the rest are described;
 *   plan     counts, time and cost estimate, shown (confirm) before any
 *            request; per-run limits trim it;
 *   run      cached ones first (free), then one request per image. Each
 *            caption is cached and swapped in as an item (vector from
 *            CLIP's text tower, FTS row) in one transaction, committed at
 *            once: a run killed half-way keeps what it paid for, and the
 *            next run finds those images done.
 *
 * The db lock is held only around store work, never during a request or
 * an embedding, so searches go on while captions arrive (and the vector
 * cache picks the new items up through the generation counter).
 */
#include "rag/caption.h"

#include "search/db.h"
#include "text/utf8.h"
#include "util/error.h"
#include "util/fs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_IMAGE_FILE (256u << 20) /* bigger files are not sent to a model */
#define MAX_FAILS_IN_A_ROW 3

typedef struct run_ctx {
    iris_db *db;
    const iris_caption_opts *o;
    iris_caption_report *rep;
    const iris_llm_config *model;
    char prompt_hash[65];
    store_caption_target *t;
    int n;
    const iris_model *clip; /* for caption embeddings */
    int64_t model_row;
    int handled, total;
} run_ctx;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int needs(const run_ctx *c, const store_caption_target *t)
{
    return c->o->recaption ? !t->current : !t->has_item;
}

/* ------------------------------------------------------------- scope */

/* Each path as given, plus its resolved form when that differs. */
static int make_roots(const iris_caption_opts *o, char ***roots, int *n)
{
    *roots = NULL;
    *n = 0;
    if (!o->n_paths) return IRIS_OK;
    char **r = calloc(2 * (size_t)o->n_paths, sizeof *r);
    if (!r) return iris_fail(IRIS_ENOMEM, "no memory");
    int k = 0, rc = IRIS_OK;
    for (int i = 0; !rc && i < o->n_paths; i++) {
        if (!o->paths[i] || !*o->paths[i]) rc = iris_fail(IRIS_EARG, "caption: empty path");
        else if (!(r[k++] = strdup(o->paths[i]))) rc = iris_fail(IRIS_ENOMEM, "no memory");
        char real[PATH_MAX];
        if (!rc && realpath(o->paths[i], real) && strcmp(real, o->paths[i]) &&
            !(r[k++] = strdup(real)))
            rc = iris_fail(IRIS_ENOMEM, "no memory");
    }
    *roots = r;
    *n = k;
    return rc;
}

static void free_roots(char **roots, int n)
{
    for (int i = 0; i < n; i++) free(roots[i]);
    free(roots);
}

static int load_targets(run_ctx *c, const char *model, char **roots, int n_roots)
{
    store_caption_targets_free(c->t, c->n);
    c->t = NULL;
    c->n = 0;
    db_lock(c->db);
    int rc = store_caption_targets(c->db->st, model, c->prompt_hash, (const char *const *)roots,
                                   n_roots, &c->t, &c->n);
    db_unlock(c->db);
    return rc;
}

/* ------------------------------------------------------------- plan */

static int make_plan(run_ctx *c, const iris_caption_policy *p, char **roots, int n_roots,
                     iris_caption_plan *plan)
{
    char why[sizeof plan->why];
    if (!iris_caption_choose(p, 0, why, sizeof why)) return IRIS_EARG; /* none configured */
    const iris_llm_config *first = iris_llm_configured(&p->cheap) ? &p->cheap : &p->strong;
    int rc = load_targets(c, first->model, roots, n_roots);
    if (rc) return rc;
    int need = 0;
    for (int i = 0; i < c->n; i++) need += needs(c, &c->t[i]);
    c->model = iris_caption_choose(p, need, why, sizeof why);
    if (!c->model) return IRIS_EARG;
    if (c->model != first && (rc = load_targets(c, c->model->model, roots, n_roots))) return rc;
    iris_caption_report *r = c->rep;
    r->n_images = c->n;
    for (int i = 0; i < c->n; i++) {
        if (!needs(c, &c->t[i])) r->n_have++;
        else if (c->t[i].cached) r->n_reuse++;
    }
    int todo = c->n - r->n_have - r->n_reuse;
    rc = iris_caption_plan_for(p, c->model, why, c->n, c->n - todo, plan);
    if (rc) return rc;
    snprintf(r->model, sizeof r->model, "%s", c->model->model);
    iris_caption_plan_describe(plan, r->plan, sizeof r->plan);
    r->n_todo = plan->n_todo;
    r->n_deferred = plan->n_deferred;
    r->est_seconds = plan->est_seconds;
    r->est_cost = plan->est_cost;
    return IRIS_OK;
}

/* -------------------------------------------------------------- store */

/* Caches (unless from the cache) and swaps in caption as t's item, its
 * vector from CLIP's text tower, all in one transaction. */
static int store_caption(run_ctx *c, const store_caption_target *t, const char *caption,
                         int from_cache)
{
    int dim = iris_model_dim(c->clip);
    float *vec = malloc((size_t)dim * sizeof *vec);
    if (!vec) return iris_fail(IRIS_ENOMEM, "no memory");
    int rc = iris_encode_texts(c->clip, &caption, 1, vec);
    if (!rc) {
        store *st = c->db->st;
        db_lock(c->db);
        rc = store_begin(st);
        if (!rc && !from_cache) rc = store_caption_put(st, t->sha256, c->model->model,
                                                       c->prompt_hash, caption);
        if (!rc) rc = store_caption_item_set(st, t->content_id, caption, c->model_row, vec, dim,
                                             NULL);
        if (!rc) rc = store_commit(st);
        else store_rollback(st);
        db_unlock(c->db);
    }
    free(vec);
    return rc;
}

static void report_event(run_ctx *c, const store_caption_target *t, const char *caption, int rc,
                         int cached, double eta)
{
    c->handled++;
    if (!c->o->progress) return;
    iris_caption_event ev = {.path = t->path, .caption = caption, .status = rc,
                             .error = rc ? iris_errmsg() : NULL, .cached = cached,
                             .done = c->handled, .total = c->total, .eta_seconds = eta};
    c->o->progress(&ev, c->o->user);
}

static int reuse_cached(run_ctx *c, const store_caption_target *t)
{
    char *caption = NULL;
    db_lock(c->db);
    int rc = store_caption_get(c->db->st, t->sha256, c->model->model, c->prompt_hash, &caption);
    db_unlock(c->db);
    if (!rc) rc = store_caption(c, t, caption, 1);
    if (!rc) c->rep->n_reused++;
    else c->rep->n_failed++;
    report_event(c, t, rc ? NULL : caption, rc, 1, -1);
    free(caption);
    return rc;
}

/* ------------------------------------------------------------ describe */

/* The file's bytes, if they are still the content that was indexed. */
static int read_indexed(const store_caption_target *t, char **data, size_t *len)
{
    int rc = iris_read_file(t->path, MAX_IMAGE_FILE, data, len);
    if (rc) return rc;
    char hex[65];
    rc = iris_sha256_hex(*data, *len, hex);
    if (!rc && strcmp(hex, t->sha256))
        rc = iris_fail(IRIS_ENOTFOUND, "%s changed since it was indexed; re-index it first",
                       t->path);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

/* One request; *caption is the cleaned, valid UTF-8 text. */
static int describe(run_ctx *c, const store_caption_target *t, iris_caption_result *res,
                    char **caption)
{
    char *data = NULL;
    size_t len = 0;
    *caption = NULL;
    memset(res, 0, sizeof *res);
    int rc = read_indexed(t, &data, &len);
    if (rc) return rc; /* the message names the file */
    rc = iris_caption_image(c->model, (const unsigned char *)data, len, res);
    free(data);
    if (!rc) rc = utf8_sanitize(res->text, strlen(res->text), caption, NULL);
    return rc ? iris_fail_wrap(rc, "%s", t->path) : IRIS_OK;
}

static int describe_all(run_ctx *c, const iris_caption_policy *p, const iris_caption_plan *plan)
{
    iris_caption_run run;
    iris_caption_run_start(&run, p, plan);
    int fails = 0, rc = IRIS_OK;
    for (int i = 0; i < c->n && fails < MAX_FAILS_IN_A_ROW; i++) {
        const store_caption_target *t = &c->t[i];
        if (!needs(c, t) || t->cached) continue;
        if (iris_caption_run_check(&run)) {
            if (run.done < plan->n_todo || plan->n_deferred)
                snprintf(c->rep->stopped, sizeof c->rep->stopped, "%s", iris_errmsg());
            return IRIS_OK;
        }
        if (c->o->cancel && c->o->cancel(c->o->user))
            return iris_fail(IRIS_ECANCELLED, "captioning cancelled after %d images", run.done);
        iris_caption_result res;
        char *caption = NULL;
        rc = describe(c, t, &res, &caption);
        if (!rc) {
            iris_caption_run_add(&run, &res);
            c->rep->cost = run.cost;
            rc = store_caption(c, t, caption, 0);
        }
        iris_caption_result_free(&res);
        if (!rc) c->rep->n_described++;
        else c->rep->n_failed++;
        fails = rc ? fails + 1 : 0;
        report_event(c, t, rc ? NULL : caption, rc, 0, iris_caption_run_eta(&run));
        free(caption);
    }
    if (fails >= MAX_FAILS_IN_A_ROW)
        snprintf(c->rep->stopped, sizeof c->rep->stopped,
                 "stopped after %d failures in a row; the last: %s", fails, iris_errmsg());
    return fails >= MAX_FAILS_IN_A_ROW ? rc : IRIS_OK;
}

/* ---------------------------------------------------------------- run */

static int prepare_clip(run_ctx *c)
{
    db_lock(c->db);
    int rc = c->db->readonly ? iris_fail(IRIS_EARG, "%s: opened read-only; captions need to "
                                                    "write", c->db->path)
                             : db_record_model_locked(c->db, &c->clip, &c->model_row);
    db_unlock(c->db);
    return rc;
}

static int run_all(run_ctx *c, const iris_caption_policy *p, const iris_caption_plan *plan)
{
    c->total = c->rep->n_reuse + c->rep->n_todo;
    if (!c->total) return IRIS_OK;
    int rc = prepare_clip(c);
    for (int i = 0; !rc && i < c->n; i++) {
        if (!needs(c, &c->t[i]) || !c->t[i].cached) continue;
        if (c->o->cancel && c->o->cancel(c->o->user))
            return iris_fail(IRIS_ECANCELLED, "captioning cancelled");
        int r = reuse_cached(c, &c->t[i]);
        if (r == IRIS_ENOMEM || r == IRIS_EDB || r == IRIS_EIO) rc = r; /* the store, not the image */
    }
    return rc ? rc : describe_all(c, p, plan);
}

int iris_caption_images(iris_db *db, const iris_caption_opts *opts, iris_caption_report *report)
{
    if (!report) return iris_fail(IRIS_EARG, "iris_caption_images: report is NULL");
    memset(report, 0, sizeof *report);
    if (!db) return iris_fail(IRIS_EARG, "iris_caption_images: db is NULL");
    iris_caption_opts none = {0};
    const iris_caption_opts *o = opts ? opts : &none;
    if (o->n_paths < 0 || (o->n_paths && !o->paths))
        return iris_fail(IRIS_EARG, "iris_caption_images: bad path list");
    double t0 = mono_s();
    iris_config *file = NULL;
    iris_caption_policy p;
    run_ctx c = {.db = db, .o = o, .rep = report};
    char **roots = NULL;
    int n_roots = 0;
    iris_caption_plan plan;
    int rc = iris_config_load(o->config, &file);
    if (!rc) rc = iris_caption_policy_load(&p, file);
    if (!rc) rc = iris_caption_prompt_hash(c.prompt_hash);
    if (!rc) rc = make_roots(o, &roots, &n_roots);
    if (!rc) rc = make_plan(&c, &p, roots, n_roots, &plan);
    if (!rc && !o->dry_run && o->confirm && !o->confirm(report, o->user))
        rc = iris_fail(IRIS_ECANCELLED, "captioning not confirmed; nothing was sent");
    if (!rc && !o->dry_run) rc = run_all(&c, &p, &plan);
    report->seconds = mono_s() - t0;
    store_caption_targets_free(c.t, c.n);
    free_roots(roots, n_roots);
    iris_config_free(file);
    return rc;
}
