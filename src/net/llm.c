/*
 * llm.c - request bodies and answer parsing for the two chat protocols
 * (see llm.h); the wire work is http.c's.
 *
 * Reading an answer is one small state machine for both protocols: bytes
 * are cut into lines (capped, so a server cannot make one line eat memory),
 * lines become events (SSE: "data:" lines up to a blank line; NDJSON: one
 * JSON object a line), and an event's text goes to deliver(), which appends
 * it to the answer (capped) and hands it to the caller. A server that
 * ignores "stream" and answers with one JSON document is read whole, so a
 * streaming caller still gets its answer. An answer is complete only when
 * the protocol says so ([DONE] or a finish_reason; done:true): a stream that
 * just stops is reported as cut off, with the partial answer kept.
 */
#include "net/llm.h"

#include "util/base64.h"
#include "util/buf.h"
#include "util/error.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE_BYTES (1u << 20)

/* ------------------------------------------------------- request body */

const char *iris_llm_image_mime(const unsigned char *d, size_t n)
{
    if (d && n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return "image/jpeg";
    if (d && n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
    return NULL;
}

/* "data:<mime>;base64,<data>" (with_prefix) or just the base64 text. */
static char *image_b64(const iris_llm_part *p, int with_prefix)
{
    char prefix[96] = "";
    if (with_prefix) snprintf(prefix, sizeof prefix, "data:%s;base64,", p->mime);
    size_t k = strlen(prefix);
    char *s = malloc(k + iris_base64_len(p->image_len) + 1);
    if (!s) return NULL;
    memcpy(s, prefix, k);
    iris_base64_encode(p->image, p->image_len, s + k);
    return s;
}

/* All text parts of m joined as written (malloc'ed). */
static char *joined_text(const iris_llm_message *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n_parts; i++)
        if (m->parts[i].text) n += strlen(m->parts[i].text);
    char *s = malloc(n + 1), *o = s;
    if (!s) return NULL;
    for (int i = 0; i < m->n_parts; i++)
        if (m->parts[i].text) o = stpcpy(o, m->parts[i].text);
    *o = '\0';
    return s;
}

static int message_has_images(const iris_llm_message *m)
{
    for (int i = 0; i < m->n_parts; i++)
        if (!m->parts[i].text) return 1;
    return 0;
}

/* Adds s to obj under key, taking ownership of s (cJSON copies it). */
static int add_owned_string(cJSON *obj, const char *key, char *s)
{
    int ok = s && cJSON_AddStringToObject(obj, key, s);
    free(s);
    return ok;
}

static int openai_part(cJSON *content, const iris_llm_part *p)
{
    cJSON *part = cJSON_CreateObject();
    if (!part || !cJSON_AddItemToArray(content, part)) return cJSON_Delete(part), 0;
    if (p->text)
        return cJSON_AddStringToObject(part, "type", "text") &&
               cJSON_AddStringToObject(part, "text", p->text);
    cJSON *url = cJSON_CreateObject();
    if (!url || !cJSON_AddItemToObject(part, "image_url", url)) return cJSON_Delete(url), 0;
    return cJSON_AddStringToObject(part, "type", "image_url") &&
           add_owned_string(url, "url", image_b64(p, 1));
}

static int openai_message(cJSON *msg, const iris_llm_message *m)
{
    if (!message_has_images(m)) return add_owned_string(msg, "content", joined_text(m));
    cJSON *content = cJSON_AddArrayToObject(msg, "content");
    for (int i = 0; content && i < m->n_parts; i++)
        if (!openai_part(content, &m->parts[i])) return 0;
    return content != NULL;
}

static int ollama_message(cJSON *msg, const iris_llm_message *m)
{
    if (!add_owned_string(msg, "content", joined_text(m))) return 0;
    if (!message_has_images(m)) return 1;
    cJSON *images = cJSON_AddArrayToObject(msg, "images");
    for (int i = 0; images && i < m->n_parts; i++) {
        if (m->parts[i].text) continue;
        char *b64 = image_b64(&m->parts[i], 0);
        cJSON *s = b64 ? cJSON_CreateString(b64) : NULL;
        free(b64);
        if (!s || !cJSON_AddItemToArray(images, s)) return cJSON_Delete(s), 0;
    }
    return images != NULL;
}

static int check_request(const iris_llm_request *req)
{
    if (!req || !req->messages || req->n_messages < 1)
        return iris_fail(IRIS_EARG, "chat request has no messages");
    for (int i = 0; i < req->n_messages; i++) {
        const iris_llm_message *m = &req->messages[i];
        if (!m->role || (m->n_parts && !m->parts) || m->n_parts < 0)
            return iris_fail(IRIS_EARG, "chat message %d has no role or bad parts", i);
        for (int j = 0; j < m->n_parts; j++) {
            const iris_llm_part *p = &m->parts[j];
            if (!p->text && (!p->image || !p->image_len || !p->mime || strncmp(p->mime, "image/", 6)))
                return iris_fail(IRIS_EARG, "chat message %d part %d: image without bytes or "
                                            "an image/* type", i, j);
        }
    }
    return IRIS_OK;
}

static int add_options(cJSON *root, const iris_llm_config *cfg, const iris_llm_request *req)
{
    int max_tokens = req->max_tokens > 0 ? req->max_tokens : cfg->max_tokens;
    if (cfg->protocol == IRIS_LLM_OPENAI) {
        return cJSON_AddNumberToObject(root, "max_tokens", max_tokens) &&
               (cfg->temperature < 0 ||
                cJSON_AddNumberToObject(root, "temperature", cfg->temperature));
    }
    /* Ollama silently truncates a prompt to its default window unless
     * num_ctx says how large the window is. */
    cJSON *opt = cJSON_AddObjectToObject(root, "options");
    return opt && cJSON_AddNumberToObject(opt, "num_ctx", cfg->context_tokens) &&
           cJSON_AddNumberToObject(opt, "num_predict", max_tokens) &&
           (cfg->temperature < 0 || cJSON_AddNumberToObject(opt, "temperature", cfg->temperature));
}

int iris_llm_request_json(const iris_llm_config *cfg, const iris_llm_request *req, char **json,
                          size_t *len)
{
    *json = NULL;
    int rc = check_request(req);
    if (rc) return rc;
    cJSON *root = cJSON_CreateObject();
    int ok = root && cJSON_AddStringToObject(root, "model", cfg->model);
    cJSON *msgs = ok ? cJSON_AddArrayToObject(root, "messages") : NULL;
    ok = msgs != NULL;
    for (int i = 0; ok && i < req->n_messages; i++) {
        cJSON *msg = cJSON_CreateObject();
        ok = msg && cJSON_AddItemToArray(msgs, msg) &&
             cJSON_AddStringToObject(msg, "role", req->messages[i].role);
        if (!ok) cJSON_Delete(msg);
        else if (cfg->protocol == IRIS_LLM_OLLAMA) ok = ollama_message(msg, &req->messages[i]);
        else ok = openai_message(msg, &req->messages[i]);
    }
    ok = ok && cJSON_AddBoolToObject(root, "stream", req->stream != 0) &&
         add_options(root, cfg, req);
    *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!*json) return iris_fail(IRIS_ENOMEM, "no memory to build the chat request");
    if (len) *len = strlen(*json);
    return IRIS_OK;
}

/* ------------------------------------------------------ answer parsing */

enum { MODE_SSE, MODE_NDJSON, MODE_WHOLE };

typedef struct chat {
    const iris_llm_config *cfg;
    iris_llm_reply *reply;
    iris_llm_delta_fn on_delta;
    iris_http_cancel_fn cancel;
    void *user; /* the caller's, for on_delta and cancel */
    const char *secret;
    char what[900]; /* "llm model 'x' at http://host/path" */
    int mode;
    iris_buf answer, line, data, whole;
    int done;
    long events;
    int cb_rc; /* status a callback of ours stopped the transfer with */
} chat;

static int deliver(chat *c, const char *text, size_t n)
{
    if (!n) return IRIS_OK;
    int rc = iris_buf_add(&c->answer, text, n, c->cfg->max_reply_bytes);
    if (rc == IRIS_ELIMIT)
        return iris_fail(rc, "%s: answer longer than the %zu-byte limit (max_reply_bytes)",
                         c->what, c->cfg->max_reply_bytes);
    if (rc) return rc;
    if (c->on_delta && c->on_delta(text, n, c->user))
        return iris_fail(IRIS_ECANCELLED, "%s: answer cancelled by the caller", c->what);
    return IRIS_OK;
}

/* The message of an error object or string, if json carries one. */
static const char *error_message(const cJSON *json)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");
    if (cJSON_IsString(e)) return e->valuestring;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (cJSON_IsString(m)) return m->valuestring;
    if (e) return "unspecified error";
    return NULL;
}

static int remote_error(chat *c, const char *msg)
{
    char safe[512];
    iris_http_excerpt(msg, strlen(msg), c->secret, safe, sizeof safe, 300);
    return iris_fail(IRIS_EHTTP, "%s: the server reported an error: %s", c->what, safe);
}

static void take_int(const cJSON *obj, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 2e9) *out = (int)v->valuedouble;
}

static void take_str(const cJSON *obj, const char *key, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsString(v)) snprintf(out, cap, "%s", v->valuestring);
}

/* One OpenAI chunk (streaming: choices[0].delta) or whole reply
 * (choices[0].message). */
static int openai_event(chat *c, const cJSON *json)
{
    const char *err = error_message(json);
    if (err) return remote_error(c, err);
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(json, "usage");
    take_int(usage, "prompt_tokens", &c->reply->prompt_tokens);
    take_int(usage, "completion_tokens", &c->reply->completion_tokens);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(json, "choices");
    if (!cJSON_IsArray(choices)) {
        if (usage) return IRIS_OK; /* a usage-only chunk */
        return iris_fail(IRIS_EFORMAT, "%s: reply has no 'choices'", c->what);
    }
    const cJSON *choice = cJSON_GetArrayItem(choices, 0);
    if (!choice) return IRIS_OK;
    take_str(choice, "finish_reason", c->reply->finish_reason, sizeof c->reply->finish_reason);
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    if (!body) body = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(body, "content");
    if (!cJSON_IsString(content)) return IRIS_OK; /* role-only or null content */
    return deliver(c, content->valuestring, strlen(content->valuestring));
}

static int ollama_event(chat *c, const cJSON *json)
{
    const char *err = error_message(json);
    if (err) return remote_error(c, err);
    if (!cJSON_IsObject(json)) return iris_fail(IRIS_EFORMAT, "%s: reply is not an object", c->what);
    const cJSON *done = cJSON_GetObjectItemCaseSensitive(json, "done");
    if (cJSON_IsTrue(done)) {
        c->done = 1;
        take_str(json, "done_reason", c->reply->finish_reason, sizeof c->reply->finish_reason);
        take_int(json, "prompt_eval_count", &c->reply->prompt_tokens);
        take_int(json, "eval_count", &c->reply->completion_tokens);
    }
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(json, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (cJSON_IsString(content)) return deliver(c, content->valuestring, strlen(content->valuestring));
    if (!cJSON_IsTrue(done))
        return iris_fail(IRIS_EFORMAT, "%s: reply has no message.content", c->what);
    return IRIS_OK;
}

static int json_event(chat *c, const char *text, size_t n)
{
    c->events++;
    cJSON *json = cJSON_ParseWithLength(text, n);
    if (!json) {
        char ex[160];
        iris_http_excerpt(text, n, c->secret, ex, sizeof ex, 100);
        return iris_fail(IRIS_EFORMAT, "%s: malformed JSON in reply (event %ld): %s", c->what,
                         c->events, ex);
    }
    int rc = c->cfg->protocol == IRIS_LLM_OLLAMA ? ollama_event(c, json) : openai_event(c, json);
    cJSON_Delete(json);
    return rc;
}

static int sse_dispatch(chat *c)
{
    if (!c->data.len) return IRIS_OK;
    int rc = IRIS_OK;
    if (!strcmp(c->data.p, "[DONE]")) c->done = 1;
    else if (!c->done) rc = json_event(c, c->data.p, c->data.len);
    c->data.len = 0;
    return rc;
}

/* One SSE line: a field, a comment (":..."), or a blank line ending an event. */
static int sse_line(chat *c, const char *s, size_t n)
{
    if (!n) return sse_dispatch(c);
    if (n < 5 || memcmp(s, "data:", 5)) return IRIS_OK; /* event:, id:, retry:, comments */
    s += 5, n -= 5;
    if (n && *s == ' ') s++, n--;
    int rc = c->data.len ? iris_buf_add(&c->data, "\n", 1, MAX_LINE_BYTES) : IRIS_OK;
    if (!rc) rc = iris_buf_add(&c->data, s, n, MAX_LINE_BYTES);
    if (rc == IRIS_ELIMIT)
        return iris_fail(rc, "%s: stream event longer than %u bytes", c->what, MAX_LINE_BYTES);
    return rc;
}

static int handle_line(chat *c, const char *s, size_t n)
{
    if (n && s[n - 1] == '\r') n--;
    if (c->mode == MODE_SSE) return sse_line(c, s, n);
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    return n ? json_event(c, s, n) : IRIS_OK;
}

/* Cuts bytes into lines; the unfinished tail waits in c->line. */
static int feed_lines(chat *c, const char *data, size_t len)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        int rc = iris_buf_add(&c->line, data, n, MAX_LINE_BYTES);
        if (rc == IRIS_ELIMIT)
            return iris_fail(rc, "%s: stream line longer than %u bytes", c->what, MAX_LINE_BYTES);
        if (rc) return rc;
        if (!nl) break;
        rc = handle_line(c, c->line.p, c->line.len);
        c->line.len = 0;
        if (rc) return rc;
        data += n + 1, len -= n + 1;
    }
    return IRIS_OK;
}

static int start_mode(chat *c, const char *ct)
{
    int ollama = c->cfg->protocol == IRIS_LLM_OLLAMA;
    if (strstr(ct, "text/event-stream") && !ollama) c->mode = MODE_SSE;
    else if (strstr(ct, "ndjson") || strstr(ct, "jsonl")) c->mode = MODE_NDJSON;
    else if (strstr(ct, "json")) c->mode = MODE_WHOLE;
    else if (!*ct) c->mode = ollama ? MODE_NDJSON : MODE_SSE;
    else
        return iris_fail(IRIS_EFORMAT, "%s: unexpected content type '%.100s' (is this the API "
                                       "address of a %s server?)",
                         c->what, ct, ollama ? "Ollama" : "OpenAI-compatible");
    return IRIS_OK;
}

static int take_chunk(chat *c, const char *data, size_t len)
{
    if (c->mode != MODE_WHOLE) return feed_lines(c, data, len);
    int rc = iris_buf_add(&c->whole, data, len, 4 * c->cfg->max_reply_bytes);
    if (rc == IRIS_ELIMIT)
        return iris_fail(rc, "%s: reply larger than %zu bytes", c->what, 4 * c->cfg->max_reply_bytes);
    return rc;
}

static int on_start(long status, const char *ct, void *user)
{
    chat *c = user;
    return c->cb_rc = start_mode(c, ct);
}

static int on_chunk(const char *data, size_t len, void *user)
{
    chat *c = user;
    return c->cb_rc = take_chunk(c, data, len);
}

/* A complete JSON document: one reply object (or, from an Ollama server
 * that labels its NDJSON stream as JSON, several lines). */
static int parse_whole(chat *c, const char *body, size_t len, const char *ct)
{
    if (*ct && !strstr(ct, "json"))
        return iris_fail(IRIS_EFORMAT, "%s: expected JSON, got content type '%.100s'", c->what, ct);
    cJSON *json = cJSON_ParseWithLength(body ? body : "", len);
    if (!json && c->cfg->protocol == IRIS_LLM_OLLAMA && body) {
        c->mode = MODE_NDJSON;
        int rc = feed_lines(c, body, len);
        return rc ? rc : handle_line(c, c->line.p ? c->line.p : "", c->line.len);
    }
    if (!json) return json_event(c, body ? body : "", len); /* reports the bad JSON */
    c->events++;
    int rc = c->cfg->protocol == IRIS_LLM_OLLAMA ? ollama_event(c, json) : openai_event(c, json);
    if (c->cfg->protocol == IRIS_LLM_OPENAI) c->done = 1;
    cJSON_Delete(json);
    return rc;
}

/* After the transfer: flush what is pending and check the answer ended. */
static int finish_stream(chat *c)
{
    int rc = c->line.len ? handle_line(c, c->line.p, c->line.len) : IRIS_OK;
    if (!rc && c->mode == MODE_SSE) rc = sse_dispatch(c);
    if (rc) return rc;
    int ended = c->done || (c->cfg->protocol == IRIS_LLM_OPENAI && c->reply->finish_reason[0]);
    if (!ended)
        return iris_fail(IRIS_ENET, "%s: the stream was cut off before the answer ended "
                                    "(%zu bytes of answer arrived, no %s)",
                         c->what, c->answer.len,
                         c->cfg->protocol == IRIS_LLM_OLLAMA ? "done:true" : "[DONE]");
    return IRIS_OK;
}

/* Rewrites an EHTTP failure with the server's own message and a hint. */
static int explain_http_error(chat *c, const iris_http_response *r, int has_images)
{
    char detail[512] = "", hint[256] = "";
    cJSON *json = r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
    const char *msg = json ? error_message(json) : NULL;
    if (!msg && json) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
        if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(json, "detail");
        if (cJSON_IsString(m)) msg = m->valuestring;
    }
    if (msg) iris_http_excerpt(msg, strlen(msg), c->secret, detail, sizeof detail, 300);
    else iris_http_excerpt(r->body, r->body_len, c->secret, detail, sizeof detail, 300);
    cJSON_Delete(json);
    char prefix[32];
    iris_llm_env_prefix(c->cfg->role, prefix, sizeof prefix);
    if (r->status == 401 || r->status == 403)
        snprintf(hint, sizeof hint, "; check the API key in %s%s", c->cfg->api_key_env,
                 c->secret ? "" : " (not set)");
    else if (r->status == 404)
        snprintf(hint, sizeof hint, "; check %s_URL and %s_MODEL", prefix, prefix);
    else if (r->status == 413)
        snprintf(hint, sizeof hint, "; the request is too large: send fewer or smaller images");
    else if (r->status == 400 && has_images)
        snprintf(hint, sizeof hint, "; if the model cannot read images, set %s_VISION=0", prefix);
    else if (r->status == 429 || r->status >= 500)
        snprintf(hint, sizeof hint, " (after %d attempts)", r->attempts);
    return iris_fail(IRIS_EHTTP, "%s: HTTP %ld%s%s%s", c->what, r->status, detail[0] ? ": " : "",
                     detail, hint);
}

static void http_opts_for(const iris_llm_config *cfg, iris_http_opts *o)
{
    iris_http_opts_init(o);
    o->connect_timeout_ms = (long)(cfg->connect_timeout_s * 1000);
    o->timeout_ms = (long)(cfg->timeout_s * 1000);
    o->idle_timeout_s = (long)ceil(cfg->idle_timeout_s);
    o->max_retries = cfg->max_retries;
    o->backoff_ms = (long)(cfg->backoff_s * 1000);
    o->max_body = 4 * cfg->max_reply_bytes;
}

static int any_images(const iris_llm_request *req)
{
    for (int i = 0; i < req->n_messages; i++)
        if (message_has_images(&req->messages[i])) return 1;
    return 0;
}

/* The HTTP layer's user pointer is the chat: pass the caller's on. */
static int chat_cancel(void *ud)
{
    chat *c = ud;
    return c->cancel(c->user);
}

static int run_chat(chat *c, const iris_llm_request *req)
{
    char url[600], *body = NULL;
    size_t body_len = 0;
    iris_llm_endpoint(c->cfg, url, sizeof url);
    int rc = iris_llm_request_json(c->cfg, req, &body, &body_len);
    if (rc) return rc;
    iris_http_opts opts;
    http_opts_for(c->cfg, &opts);
    iris_http_request hr = {
        .method = "POST", .url = url, .body = body, .body_len = body_len,
        .content_type = "application/json",
        .accept = req->stream ? (c->cfg->protocol == IRIS_LLM_OLLAMA ? "application/x-ndjson"
                                                                      : "text/event-stream")
                              : "application/json",
        .api_key = c->secret, .cancel = c->cancel ? chat_cancel : NULL, .user = c,
        .on_start = req->stream ? on_start : NULL, .on_chunk = req->stream ? on_chunk : NULL,
    };
    iris_http_response resp;
    rc = iris_http_perform(&hr, &opts, &resp);
    free(body);
    c->reply->attempts = resp.attempts;
    c->reply->http_status = resp.status;
    if (rc && rc == c->cb_rc)
        ; /* stopped by our own parsing: its message says why */
    else if (rc == IRIS_EHTTP) rc = explain_http_error(c, &resp, any_images(req));
    else if (rc) /* http.c's message names the URL, not the model */
        rc = iris_fail_wrap(rc, "%s model '%s'", c->cfg->role, c->cfg->model);
    else if (!rc && !req->stream) rc = parse_whole(c, resp.body, resp.body_len, resp.content_type);
    else if (!rc && c->mode == MODE_WHOLE) rc = parse_whole(c, c->whole.p, c->whole.len, "");
    else if (!rc) rc = finish_stream(c);
    iris_http_response_free(&resp);
    return rc;
}

int iris_llm_chat(const iris_llm_config *cfg, const iris_llm_request *req,
                  iris_llm_delta_fn on_delta, iris_http_cancel_fn cancel, void *user,
                  iris_llm_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    reply->prompt_tokens = reply->completion_tokens = -1;
    if (!cfg || !iris_llm_configured(cfg)) {
        char prefix[32];
        iris_llm_env_prefix(cfg ? cfg->role : "llm", prefix, sizeof prefix);
        return iris_fail(IRIS_EARG, "no %s endpoint configured (set %s_URL and %s_MODEL)",
                         cfg ? cfg->role : "llm", prefix, prefix);
    }
    chat c = {.cfg = cfg, .reply = reply, .on_delta = on_delta, .cancel = cancel, .user = user};
    const char *key = cfg->api_key_env[0] ? getenv(cfg->api_key_env) : NULL;
    c.secret = key && *key ? key : NULL;
    char url[600], safe[600];
    iris_llm_endpoint(cfg, url, sizeof url);
    iris_http_safe_url(url, safe, sizeof safe);
    snprintf(c.what, sizeof c.what, "%s model '%.200s' at %s", cfg->role, cfg->model, safe);
    int rc = run_chat(&c, req);
    reply->text = c.answer.p ? c.answer.p : calloc(1, 1);
    reply->len = c.answer.len;
    free(c.line.p);
    free(c.data.p);
    free(c.whole.p);
    if (!reply->text) return iris_fail(IRIS_ENOMEM, "no memory for the answer");
    return rc;
}

void iris_llm_reply_free(iris_llm_reply *reply)
{
    if (!reply) return;
    free(reply->text);
    reply->text = NULL;
    reply->len = 0;
}
