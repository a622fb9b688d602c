/*
 * request.c - one HTTP exchange, from headers to the queued reply.
 *
 * Order of checks on a request's first call (headers read, body not yet):
 * route (404/405), shutdown (503), auth (401), host (403), readiness
 * (503), then the body's type and declared size (415/413). Every refusal
 * here is queued before the body is read, so libmicrohttpd discards the
 * body and closes the connection: a 1 GB upload to a wrong URL costs
 * nothing.
 *
 * Bodies: application/json (<= JSON_LIMIT), multipart/form-data (parsed
 * by libmicrohttpd's post processor; the "image" field may be up to the
 * upload limit, other fields FIELD_LIMIT), or a raw image (image/... or
 * application/octet-stream). A body without Content-Length that grows past
 * its limit is drained up to twice the limit and answered 413; past that
 * the connection is dropped. Bodies must arrive within 4 x the idle
 * timeout, so a client trickling a byte at a time cannot pin a connection.
 *
 * Auth: with an API key, every /api/ route but health and the OpenAPI
 * document needs "Authorization: Bearer KEY". The presented token is
 * hashed (SHA-256) and compared with the key's hash in constant time, so
 * neither its bytes nor its length leak through timing.
 * Without a key (loopback only) the Host header must name a loopback
 * address: that stops DNS rebinding, where a web page's own host name is
 * re-pointed at 127.0.0.1 to read the API from a browser.
 */
#include "server/server.h"

#include "util/error.h"
#include "util/fs.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define JSON_LIMIT (256u << 10)
#define FIELD_LIMIT (64u << 10)
#define PP_BUFFER (32u << 10)

double serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- replies */

static const char *code_word(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "too_large";
    case 415: return "unsupported_media_type";
    case 422: return "unprocessable";
    case 502: return "bad_gateway";
    case 503: return "unavailable";
    case 504: return "timeout";
    default: return status >= 500 ? "internal" : "error";
    }
}

void reply_json(reply *r, int status, cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) {
        r->status = 500;
        r->type = "application/json";
        r->body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
        r->len = r->body ? strlen(r->body) : 0;
        return;
    }
    r->status = status;
    r->type = "application/json";
    r->body = s;
    r->len = strlen(s);
}

void reply_error(reply *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(r->body);
    r->body = NULL;
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code ? code : code_word(status));
    cJSON_AddStringToObject(e, "message", msg);
    reply_json(r, status, o);
}

void reply_iris_error(reply *r, int rc)
{
    int status;
    switch (rc) {
    case IRIS_EARG: status = 400; break;
    case IRIS_ENOTFOUND: status = 404; break;
    case IRIS_EFORMAT: status = 422; break;
    case IRIS_EUNSUPPORTED: status = 415; break;
    case IRIS_ELIMIT: status = 413; break;
    case IRIS_EMODEL: status = 409; break;
    case IRIS_ENET: case IRIS_EHTTP: status = 502; break;
    case IRIS_ETIMEOUT: status = 504; break;
    case IRIS_ECANCELLED: status = 503; break;
    default: status = 500;
    }
    const char *m = iris_errmsg();
    reply_error(r, status, NULL, "%s", m[0] ? m : iris_strerror(rc));
}

void reply_bytes(reply *r, int status, const char *type, char *body, size_t len)
{
    r->status = status;
    r->type = type;
    r->body = body;
    r->len = len;
}

/* ------------------------------------------------------------- arguments */

const iris_buf *req_field(request *q, const char *name)
{
    for (int i = 0; i < q->n_fields; i++)
        if (!strcmp(q->fields[i].name, name)) return &q->fields[i].value;
    return NULL;
}

const char *req_arg(request *q, const char *name)
{
    const char *v = MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v) return v;
    const iris_buf *f = req_field(q, name);
    return f ? (f->p ? f->p : "") : NULL;
}

int req_int(request *q, reply *r, const char *name, long lo, long hi, int *v)
{
    const char *s = req_arg(q, name);
    if (!s) return 0;
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < lo || x > hi) {
        reply_error(r, 400, NULL, "%s must be a whole number from %ld to %ld, not '%.40s'", name,
                    lo, hi, s);
        return -1;
    }
    *v = (int)x;
    return 1;
}

typedef struct types_ctx {
    const char *name;
    unsigned mask;
    int bad;
} types_ctx;

static enum MHD_Result collect_type(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    types_ctx *t = cls;
    if (key && value && !strcmp(key, t->name) && *value && iris_modality_mask(value, &t->mask))
        t->bad = 1;
    return t->bad ? MHD_NO : MHD_YES;
}

int req_types(request *q, reply *r, const char *name, unsigned *mask)
{
    types_ctx t = {name, 0, 0};
    MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, collect_type, &t);
    const iris_buf *f = req_field(q, name);
    if (!t.bad && f && f->p && *f->p && iris_modality_mask(f->p, &t.mask)) t.bad = 1;
    if (t.bad) {
        reply_error(r, 400, NULL, "%s", iris_errmsg());
        return -1;
    }
    *mask |= t.mask;
    return 0;
}

cJSON *req_json(request *q, reply *r)
{
    if (!q->body.len) {
        reply_error(r, 400, NULL, "the request has no body; send a JSON object");
        return NULL;
    }
    if (memchr(q->body.p, 0, q->body.len)) {
        reply_error(r, 400, NULL, "the JSON body contains a NUL byte");
        return NULL;
    }
    const char *end = NULL; /* the length counts the buffer's NUL, which must end the JSON */
    cJSON *o = cJSON_ParseWithLengthOpts(q->body.p, q->body.len + 1, &end, 1);
    if (!o || !cJSON_IsObject(o)) {
        size_t at = end && end >= q->body.p ? (size_t)(end - q->body.p) : 0;
        reply_error(r, 400, NULL, o ? "the body must be a JSON object"
                                    : "malformed JSON near byte %zu", at);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void req_fields_from_json(request *q, const cJSON *body, const char *const *keys, int n_keys)
{
    for (int i = 0; i < n_keys && q->n_fields < FORM_FIELDS; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(body, keys[i]);
        if (!v || cJSON_IsNull(v)) continue;
        char *txt = NULL;
        if (cJSON_IsString(v)) {
            txt = strdup(v->valuestring);
        } else if (cJSON_IsArray(v)) { /* ["image", "text"] -> "image,text" */
            iris_buf b = {0};
            cJSON *e;
            cJSON_ArrayForEach(e, v) {
                if (b.len) iris_buf_str(&b, ",");
                iris_buf_str(&b, cJSON_IsString(e) ? e->valuestring : "?");
            }
            txt = b.p ? b.p : strdup("");
        } else {
            txt = cJSON_PrintUnformatted(v);
        }
        form_field *f = &q->fields[q->n_fields++];
        snprintf(f->name, sizeof f->name, "%s", keys[i]);
        iris_buf_str(&f->value, txt ? txt : "");
        free(txt);
    }
}

/* ------------------------------------------------------------------ auth */

const char *req_header(request *q, const char *name)
{
    return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

static int header_is(request *q, const char *name, const char *prefix)
{
    const char *v = req_header(q, name);
    return v && !strncasecmp(v, prefix, strlen(prefix));
}

static int authorised(server *s, request *q)
{
    if (!s->has_key || (q->route && q->route->flags & ROUTE_PUBLIC)) return 1;
    const char *v = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization");
    if (!v || strncasecmp(v, "Bearer ", 7)) return 0;
    char hex[65];
    if (iris_sha256_hex(v + 7, strlen(v + 7), hex)) return 0;
    unsigned char diff = 0;
    for (int i = 0; i < 32; i++) {
        unsigned b;
        sscanf(hex + 2 * i, "%2x", &b);
        diff |= (unsigned char)b ^ s->key_hash[i];
    }
    return diff == 0;
}

/* Host header names a loopback address (any port), or is absent. */
static int host_ok(server *s, request *q)
{
    if (s->has_key) return 1;
    const char *h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Host");
    if (!h) return 1;
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (!strncasecmp(h, names[i], n) && (h[n] == 0 || h[n] == ':')) return 1;
    }
    return 0;
}

/* --------------------------------------------------------------- sending */

static void add_common_headers(server *s, request *q, struct MHD_Response *resp, const reply *r)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (r->extra_csp[0]) MHD_add_response_header(resp, "Content-Security-Policy", r->extra_csp);
    else MHD_add_response_header(resp, "Content-Security-Policy",
                                 "default-src 'none'; frame-ancestors 'none'");
    if (r->disposition[0]) MHD_add_response_header(resp, "Content-Disposition", r->disposition);
    if (r->type) MHD_add_response_header(resp, "Content-Type", r->type);
    char cache[64];
    if (r->cache_seconds > 0) snprintf(cache, sizeof cache, "private, max-age=%d", r->cache_seconds);
    else snprintf(cache, sizeof cache, "%s", r->cache_seconds < 0 ? "no-cache" : "no-store");
    MHD_add_response_header(resp, "Cache-Control", cache);
    const char *origin = s->cfg->cors_origin;
    const char *sent = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Origin");
    if (origin && sent && (s->open_cors || !strcmp(sent, origin))) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->open_cors ? "*" : origin);
        MHD_add_response_header(resp, "Vary", "Origin");
    } else if (!origin) {
        MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    }
    if (r->status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"iris\"");
    if (r->status == 503) MHD_add_response_header(resp, "Retry-After", "1");
}

int req_send(server *s, request *q, reply *r, const char *allow)
{
    struct MHD_Response *resp;
    if (r->stream) {
        resp = defer_response(r->stream);
    } else if (r->fd >= 0) {
        resp = MHD_create_response_from_fd64(r->len, r->fd);
        if (!resp) close(r->fd);
        r->fd = -1;
    } else {
        int owned = r->body && !r->persistent;
        resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"",
                                               owned ? MHD_RESPMEM_MUST_FREE
                                                     : MHD_RESPMEM_PERSISTENT);
        if (resp && owned) r->body = NULL;
    }
    if (!resp) return MHD_NO;
    add_common_headers(s, q, resp, r);
    if (r->etag[0]) MHD_add_response_header(resp, "ETag", r->etag);
    if (allow) MHD_add_response_header(resp, "Allow", allow);
    if (allow && r->status == 204) { /* CORS preflight */
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    if (atomic_load(&s->state) == STATE_STOPPING)
        MHD_add_response_header(resp, "Connection", "close");
    int rc = MHD_queue_response(q->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    if (!s->cfg->quiet)
        fprintf(stderr, "%s %s %d %.1f ms\n", q->method, q->url, r->status,
                (serve_now() - q->t0) * 1e3);
    return rc;
}

/* ------------------------------------------------------------------ body */

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *filename, const char *content_type,
                                const char *transfer_encoding, const char *data, uint64_t off,
                                size_t size)
{
    request *q = cls;
    if (!key) return MHD_YES;
    form_field *f = NULL;
    for (int i = 0; i < q->n_fields && !f; i++)
        if (!strcmp(q->fields[i].name, key)) f = &q->fields[i];
    if (!f) {
        if (q->n_fields == FORM_FIELDS || strlen(key) >= sizeof f->name) {
            q->bad_form = 1;
            return MHD_YES;
        }
        f = &q->fields[q->n_fields++];
        snprintf(f->name, sizeof f->name, "%s", key);
    }
    size_t limit = !strcmp(key, "image") ? q->limit : FIELD_LIMIT;
    if (size && iris_buf_add(&f->value, data, size, limit)) q->too_large = 1;
    if (!f->value.p) iris_buf_add(&f->value, "", 0, 0); /* present, even if empty */
    return MHD_YES;
}

/* Content-Type of the body against what the route takes: 0 fine, else
 * the reply is filled. */
static int body_begin(server *s, request *q, reply *r)
{
    const char *type = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Type");
    const char *len = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Length");
    int chunked = header_is(q, "Transfer-Encoding", "chunked");
    int has_body = chunked || (len && strtoull(len, NULL, 10) > 0);
    q->limit = FIELD_LIMIT;
    if (!has_body) return 0;
    int accepts = q->route ? q->route->body : BODY_NONE;
    if (accepts & BODY_JSON && type && !strncasecmp(type, "application/json", 16)) {
        q->limit = JSON_LIMIT;
    } else if (accepts & BODY_UPLOAD && type && !strncasecmp(type, "multipart/form-data", 19)) {
        q->multipart = 1;
        q->limit = s->cfg->max_upload;
        q->pp = MHD_create_post_processor(q->conn, PP_BUFFER, on_field, q);
        if (!q->pp) {
            reply_error(r, 400, NULL, "multipart/form-data without a usable boundary");
            return -1;
        }
    } else if (accepts & BODY_UPLOAD && type &&
               (!strncasecmp(type, "image/", 6) || !strncasecmp(type, "application/octet-stream", 24))) {
        q->limit = s->cfg->max_upload;
    } else if (accepts != BODY_NONE) {
        reply_error(r, 415, NULL, "%s %s does not take a body of type '%.60s' (it takes %s)",
                    q->method, q->url, type ? type : "(none)",
                    accepts == BODY_JSON ? "application/json"
                    : accepts == BODY_UPLOAD ? "multipart/form-data or an image"
                                             : "application/json, multipart/form-data or an image");
        return -1;
    }
    /* A multipart body carries its boundaries and headers besides the image. */
    size_t allowed = q->multipart ? q->limit + FIELD_LIMIT : q->limit;
    if (len && strtoull(len, NULL, 10) > allowed) {
        reply_error(r, 413, NULL, "the body is %s bytes; the limit is %zu", len, allowed);
        return -1;
    }
    return 0;
}

/* Takes one piece of the body. Returns 0 to go on, -1 to drop the
 * connection (far past the limit, or past the body deadline). */
int req_body_data(server *s, request *q, const char *data, size_t n)
{
    if (serve_now() - q->t0 > 4.0 * s->cfg->timeout_s) return -1;
    if (q->too_large) return (q->body.len += n) > 2 * q->limit + FIELD_LIMIT ? -1 : 0;
    if (q->pp) {
        if (MHD_post_process(q->pp, data, n) != MHD_YES) q->bad_form = 1;
    } else if (iris_buf_add(&q->body, data, n, q->limit)) {
        q->too_large = 1;
        free(q->body.p);
        memset(&q->body, 0, sizeof q->body);
        q->body.len = n;
    }
    return 0;
}

/* The checks of a request's first call; 0 to go on reading, else the
 * reply is filled (and allow may be set for 405). */
int req_begin(server *s, request *q, reply *r, char *allow, size_t allow_cap)
{
    int found = route_find(q->method, q->url, &q->route, &q->id, allow, allow_cap);
    int state = atomic_load(&s->state);
    if (found == 405 && !strcmp(q->method, "OPTIONS") && s->cfg->cors_origin) {
        r->status = 204; /* CORS preflight: add_common_headers adds the origin */
        return -1;
    }
    if (found == 404) reply_error(r, 404, NULL, "no such resource: %.200s", q->url);
    else if (found == 405) reply_error(r, 405, NULL, "%s is not allowed on %.200s (allowed: %s)",
                                       q->method, q->url, allow);
    else if (state == STATE_STOPPING) reply_error(r, 503, NULL, "the server is shutting down");
    else if (!authorised(s, q)) reply_error(r, 401, NULL, "missing or wrong API key "
                                                          "(send Authorization: Bearer KEY)");
    else if (!host_ok(s, q)) reply_error(r, 403, NULL, "Host header not allowed: this server "
                                                       "answers loopback names only");
    else if (q->route->flags & ROUTE_NEEDS_INDEX && state != STATE_READY)
        reply_error(r, 503, NULL, "%s", state == STATE_FAILED ? s->open_error
                                                              : "the index is being opened");
    else return body_begin(s, q, r);
    return -1;
}

/* The form's own problems, found once the body is complete. */
int req_body_end(server *s, request *q, reply *r)
{
    if (q->too_large) {
        reply_error(r, 413, NULL, "the body is larger than the limit of %zu bytes", q->limit);
        return -1;
    }
    if (q->bad_form) {
        reply_error(r, 400, NULL, "malformed multipart/form-data (or more than %d fields)",
                    FORM_FIELDS);
        return -1;
    }
    return 0;
}

void req_free(request *q)
{
    if (q->pp) MHD_destroy_post_processor(q->pp);
    free(q->body.p);
    for (int i = 0; i < q->n_fields; i++) free(q->fields[i].value.p);
    free(q);
}
