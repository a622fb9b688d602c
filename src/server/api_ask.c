/*
 * api_ask.c - answers with citations: GET /api/ask?q=... and POST /api/ask
 * with the same fields as JSON, over iris_ask() (src/rag, docs/rag.md).
 *
 * An answer waits for a language model, seconds to minutes, so it runs on
 * a thread of its own (defer.c) and never holds up a worker. Two forms:
 *
 *   whole     (default) one JSON reply, iris_answer_json()'s format: the
 *             answer, its numbered sources (item id, file, page) and the
 *             citations mapped to them;
 *   streamed  (`stream=1`, or `Accept: text/event-stream`) Server-Sent
 *             Events: `delta` events ({"text": "..."}) as the model writes,
 *             then one `answer` event with the whole JSON, or an `error`
 *             event ({"error": ..., "answer": ... or null}) if the model
 *             failed midway.
 *
 * A failure before anything was streamed is an ordinary error reply with
 * its status (400 bad arguments, 502 the model failed, 504 it timed out,
 * 503 the server is stopping); when retrieval had succeeded it carries the
 * sources and what arrived of the answer as "answer". Without a model
 * configured the answer is extractive (the best passages, cited), as with
 * `iris ask`; /api/status says whether a model is configured.
 *
 * A delta that ends inside a UTF-8 sequence keeps the incomplete bytes for
 * the next one, so every event is valid JSON text. A client that goes away
 * cancels the model's request at its next delta.
 */
#include "server/server.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_K 100
#define MAX_QUESTION (16u << 10)

typedef struct ask_job {
    char *question;
    char *path;
    iris_ask_opts o;
    int stream;
    int streamed;   /* a delta went out: errors are events from then on */
    deferred *d;
    char held[4];   /* an incomplete UTF-8 sequence ending the last delta */
    size_t n_held;
} ask_job;

static void job_free(void *arg)
{
    ask_job *j = arg;
    free(j->question);
    free(j->path);
    free(j);
}

/* ------------------------------------------------------------- streaming */

/* Length of s[0..n) without an incomplete UTF-8 sequence at its end. */
static size_t whole_utf8(const char *s, size_t n)
{
    size_t i = n, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--, back++;
    if (i == 0) return n;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return need > back + 1 ? i - 1 : n;
}

static int send_delta(ask_job *j, const char *text, size_t len)
{
    char *t = malloc(j->n_held + len + 1);
    if (!t) return 1;
    memcpy(t, j->held, j->n_held);
    memcpy(t + j->n_held, text, len);
    size_t n = j->n_held + len, keep = whole_utf8(t, n);
    j->n_held = n - keep < sizeof j->held ? n - keep : 0;
    memcpy(j->held, t + keep, j->n_held);
    t[keep] = 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "text", t);
    char *js = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(t);
    int stop = !js || defer_event(j->d, "delta", js);
    free(js);
    j->streamed = 1;
    return stop;
}

static int on_delta(const char *text, size_t len, void *user)
{
    ask_job *j = user;
    if (j->stream && len && send_delta(j, text, len)) return 1;
    return defer_cancelled(j->d);
}

static int on_cancel(void *user)
{
    return defer_cancelled(((ask_job *)user)->d);
}

/* ---------------------------------------------------------------- replies */

/* The error reply for rc, with the answer so far (json, or null). */
static void error_reply(reply *r, int rc, const char *json)
{
    reply_iris_error(r, rc);
    cJSON *o = cJSON_Parse(r->body);
    if (!o) return;
    cJSON *a = json ? cJSON_Parse(json) : NULL;
    cJSON_AddItemToObject(o, "answer", a ? a : cJSON_CreateNull());
    free(r->body);
    r->body = NULL;
    reply_json(r, r->status, o);
}

static void run_ask(server *s, deferred *d, void *arg)
{
    ask_job *j = arg;
    j->d = d;
    iris_answer *a = NULL;
    int rc = iris_ask(s->db, j->question, &j->o, on_delta, j, &a);
    if (rc == IRIS_ECANCELLED && atomic_load(&s->deferred_cancel))
        iris_fail(rc, "the server is stopping: the answer was cancelled");
    char *json = NULL;
    if (a && iris_answer_json(a, j->question, &json)) json = NULL;
    if (!rc && !json) rc = iris_fail(IRIS_ENOMEM, "no memory for the answer");
    iris_answer_free(a);
    reply r = {.fd = -1};
    if (!rc && j->stream) {
        defer_event(d, "answer", json);
    } else if (!rc) {
        reply_bytes(&r, 200, "application/json", json, strlen(json));
        json = NULL;
        defer_reply(d, &r);
    } else {
        error_reply(&r, rc, json);
        if (j->streamed) defer_event(d, "error", r.body ? r.body : "{}");
        defer_reply(d, &r); /* ignored once streaming; frees the body */
    }
    free(json);
}

/* -------------------------------------------------------------- handlers */

static int parse_flag(const char *v, int *out)
{
    if (!strcmp(v, "1") || !strcmp(v, "true")) *out = 1;
    else if (!strcmp(v, "0") || !strcmp(v, "false")) *out = 0;
    else return -1;
    return 0;
}

/* The options besides the question; 0, or -1 with the reply filled. */
static int ask_options(request *q, reply *r, ask_job *j)
{
    const char *mode = req_arg(q, "mode"), *images = req_arg(q, "images");
    const char *path = req_arg(q, "path"), *stream = req_arg(q, "stream");
    if (req_int(q, r, "k", 1, MAX_K, &j->o.k) < 0) return -1;
    if (req_int(q, r, "max_images", 1, 16, &j->o.max_images) < 0) return -1;
    if (req_types(q, r, "type", &j->o.modalities) < 0) return -1;
    if (mode && *mode && iris_mode_parse(mode, &j->o.mode)) {
        reply_error(r, 400, NULL, "mode must be hybrid, vector or keyword, not '%.40s'", mode);
        return -1;
    }
    if (images && *images) {
        if (!strcmp(images, "native")) j->o.images = IRIS_ASK_IMAGES_NATIVE;
        else if (!strcmp(images, "text")) j->o.images = IRIS_ASK_IMAGES_TEXT;
        else if (strcmp(images, "auto")) {
            reply_error(r, 400, NULL, "images must be auto, native or text, not '%.40s'", images);
            return -1;
        }
    }
    const char *accept = req_header(q, "Accept");
    j->stream = accept && strstr(accept, "text/event-stream");
    if (stream && *stream && parse_flag(stream, &j->stream)) {
        reply_error(r, 400, NULL, "stream must be true or false, not '%.40s'", stream);
        return -1;
    }
    if (path && *path && !(j->o.path_glob = j->path = strdup(path))) {
        reply_error(r, 500, NULL, "out of memory");
        return -1;
    }
    return 0;
}

static void ask(server *s, request *q, reply *r, const char *question)
{
    if (!question || !*question) {
        reply_error(r, 400, NULL, "q (the question) is missing or empty");
        return;
    }
    if (strlen(question) > MAX_QUESTION) {
        reply_error(r, 413, NULL, "the question is longer than %u bytes", MAX_QUESTION);
        return;
    }
    char model[256]; /* a broken configuration is the server's fault, not the request's */
    if (iris_ask_model(s->cfg->llm_config, model, sizeof model)) {
        reply_error(r, 500, NULL, "the server's configuration for answers: %s", iris_errmsg());
        return;
    }
    ask_job *j = calloc(1, sizeof *j);
    if (!j || !(j->question = strdup(question))) {
        reply_error(r, 500, NULL, "out of memory");
        free(j);
        return;
    }
    j->o.config = s->cfg->llm_config;
    j->o.cancel = on_cancel;
    if (ask_options(q, r, j)) job_free(j);
    else defer_start(s, q, r, run_ask, j, job_free);
}

void api_ask_get(server *s, request *q, reply *r)
{
    ask(s, q, r, req_arg(q, "q"));
}

void api_ask_post(server *s, request *q, reply *r)
{
    cJSON *body = req_json(q, r);
    if (!body) return;
    static const char *const keys[] = {"k", "mode", "type", "path", "images", "max_images",
                                       "stream"};
    req_fields_from_json(q, body, keys, (int)(sizeof keys / sizeof keys[0]));
    cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "q");
    if (text && !cJSON_IsString(text)) reply_error(r, 400, NULL, "q must be a string");
    else ask(s, q, r, text ? text->valuestring : NULL);
    cJSON_Delete(body);
}
