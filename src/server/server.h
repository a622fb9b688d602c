/*
 * server.h - iris serve: the REST API and web UI over one iris_db, on
 * libmicrohttpd (thread pool, epoll) with cJSON. docs/server.md is the
 * user's guide; the API is specified in docs/openapi.json, which the
 * server embeds and serves at /api/openapi.json.
 *
 * Files:
 *   server.c     lifecycle: configuration, binding, the index opened in the
 *                background (503 until ready), signals, graceful drain
 *   request.c    one HTTP exchange: bodies (raw, JSON, multipart) with
 *                limits, auth, host check, CORS, security headers, errors
 *   routes.c     the route table and dispatch (also `iris serve --routes`)
 *   api_search.c search by text (GET/POST), by image upload, similar items
 *   api_items.c  item details, thumbnails, original files
 *   api_index.c  health, status, map, classify, the OpenAPI document
 *   api_ask.c    answers with citations (iris_ask), whole or streamed
 *   defer.c      replies made on threads of their own (suspended
 *                connections), streamed as Server-Sent Events
 *   assets.c     the web UI and the OpenAPI file, embedded at build time
 *
 * Everything goes through include/iris.h; nothing here knows SQL or CLIP.
 * Handlers fill a `reply` and never touch libmicrohttpd themselves.
 */
#ifndef IRIS_SERVER_H
#define IRIS_SERVER_H

#include "iris.h"
#include "util/buf.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct serve_config {
    const char *db_path;     /* NULL: IRIS_DEFAULT_DB */
    const char *model;       /* NULL: the index's */
    const char *host;        /* "127.0.0.1" */
    int port;                /* 8080; 0 = any free port (printed) */
    const char *api_key;     /* required for a non-loopback host */
    const char *cors_origin; /* NULL: CORS off */
    int threads;             /* worker threads; 0 = one per core (>= 2) */
    int timeout_s;           /* idle connection timeout */
    int drain_s;             /* how long in-flight requests get at shutdown */
    size_t max_upload;       /* bytes of an uploaded image */
    uint64_t max_pixels;     /* decoded pixels of an uploaded image */
    int quiet;               /* no access log */
    const char *llm_config;  /* configuration file for answers; NULL: the default */
} serve_config;

/* Runs until SIGTERM or SIGINT; returns the process exit status. */
int serve_run(const serve_config *cfg);
/* Prints "METHOD PATH" for every route (for the OpenAPI sync test). */
void serve_print_routes(void);

/* ----------------------------------------------------- shared state */

enum { STATE_OPENING = 0, STATE_READY = 1, STATE_FAILED = 2, STATE_STOPPING = 3 };

typedef struct map_state {
    pthread_mutex_t build;   /* one computation at a time */
    pthread_rwlock_t lock;   /* guards `map` and `json` */
    iris_map *map;           /* NULL until first built */
    char *json;              /* rendered for the default sample size */
} map_state;

typedef struct server {
    const serve_config *cfg;
    iris_db *db;             /* valid once state == READY */
    atomic_int state;
    atomic_int active;       /* requests begun and not yet completed */
    char open_error[512];
    char model_error[512];   /* the index opened but its model did not */
    map_state map;
    double started;          /* monotonic seconds */
    unsigned char key_hash[32]; /* SHA-256 of the API key */
    int has_key;
    int open_cors;           /* cfg->cors_origin is "*" */
    atomic_int deferred_running; /* threads of deferred replies (defer.c) */
    atomic_int deferred_cancel;  /* set at shutdown: deferred work stops */
} server;

/* ------------------------------------------------------- requests */

enum { BODY_NONE = 0, BODY_JSON = 1, BODY_UPLOAD = 2 };

#define FORM_FIELDS 8

typedef struct form_field {
    char name[32];
    iris_buf value;
} form_field;

typedef struct request {
    struct MHD_Connection *conn;
    const char *method, *url;
    const struct route *route;
    int64_t id;              /* the {id} of the path, if any */
    double t0;
    int body_kind;           /* what the route accepts */
    int multipart;
    struct MHD_PostProcessor *pp;
    iris_buf body;           /* raw body (JSON, or an image) */
    form_field fields[FORM_FIELDS]; /* multipart fields; "image" is the upload */
    int n_fields;
    size_t limit;            /* body bytes allowed */
    int too_large, bad_form;
    int counted;             /* in server.active */
    int deferred;            /* its reply is made by a thread of its own */
} request;

typedef struct deferred deferred;

/* What a handler produces. */
typedef struct reply {
    int status;
    const char *type;        /* Content-Type (static string) */
    char *body;              /* malloc'ed; or */
    size_t len;
    int fd;                  /* >= 0: send this file (len bytes) and close it */
    char disposition[400];   /* Content-Disposition, or "" */
    char extra_csp[200];     /* a CSP for this reply, or "" */
    int cache_seconds;       /* > 0: private, max-age; < 0: no-cache; 0: no-store */
    int persistent;          /* body is static memory: not freed */
    char etag[24];           /* ETag header, or "" */
    deferred *stream;        /* send this stream's events (defer.c) */
} reply;

/* Errors as {"error": {"code": ..., "message": ...}}. code is a short
 * machine-readable word ("bad_request", "not_found", ...). */
void reply_error(reply *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An IRIS_E* failure mapped to its HTTP status, with iris_errmsg(). */
void reply_iris_error(reply *r, int rc);
/* Takes ownership of o (deleted here). */
void reply_json(reply *r, int status, cJSON *o);
void reply_bytes(reply *r, int status, const char *type, char *body, size_t len);

/* Query-string and form values; a request header. */
const char *req_arg(request *q, const char *name);
const char *req_header(request *q, const char *name);
/* A whole number in [lo, hi] from the query string or the form: 1 if
 * present and valid, 0 if absent (v untouched), -1 (reply filled) if bad. */
int req_int(request *q, reply *r, const char *name, long lo, long hi, int *v);
/* Collects every occurrence of name (repeated or comma-joined) into a
 * modality mask; -1 (reply filled) on an unknown type. */
int req_types(request *q, reply *r, const char *name, unsigned *mask);
/* The multipart field name, or NULL. */
const iris_buf *req_field(request *q, const char *name);
/* The body parsed as a JSON object; NULL (reply filled) if it is not. */
cJSON *req_json(request *q, reply *r);
/* The members keys of a JSON body become fields that req_arg() and the
 * like read, as if sent in the query string: strings as they are, arrays
 * of strings joined by commas, anything else as its JSON text. */
void req_fields_from_json(request *q, const cJSON *body, const char *const *keys, int n_keys);

/* The request's life (request.c), called by the access handler. */
int req_begin(server *s, request *q, reply *r, char *allow, size_t allow_cap);
int req_body_data(server *s, request *q, const char *data, size_t n);
int req_body_end(server *s, request *q, reply *r);
int req_send(server *s, request *q, reply *r, const char *allow);
void req_free(request *q);

/* --------------------------------------------------- deferred replies */

/* Work that takes long runs on a thread of its own while its connection
 * is suspended (defer.c): fn(s, d, arg) ends the exchange with one whole
 * reply, or with Server-Sent Events that stream until fn returns. */
typedef void (*defer_fn)(server *s, deferred *d, void *arg);

/* In a handler: starts fn; 0, or -1 with r filled (503: too many at
 * once). arg is freed with free_arg (may be NULL) when no longer needed. */
int defer_start(server *s, request *q, reply *r, defer_fn fn, void *arg,
                void (*free_arg)(void *));
/* From fn: the whole reply (r's body is freed); ignored once streaming. */
void defer_reply(deferred *d, reply *r);
/* From fn: one event ("event: NAME", "data: DATA"; data is one line). The
 * first one starts a 200 text/event-stream reply. Non-zero once the
 * client is gone. */
int defer_event(deferred *d, const char *event, const char *data);
/* Non-zero once the client went away or the server is stopping. */
int defer_cancelled(deferred *d);
/* At shutdown: cancels every deferred reply and waits for its thread. */
void defer_wait_all(server *s);
/* The streamed response for req_send (a struct MHD_Response *). */
void *defer_response(deferred *d);

/* ---------------------------------------------------------- routes */

typedef void (*handler_fn)(server *s, request *q, reply *r);

enum { ROUTE_PUBLIC = 1, ROUTE_NEEDS_INDEX = 2 };

typedef struct route {
    const char *method;
    const char *pattern;     /* "/api/items/{id}/file" */
    handler_fn fn;
    int flags;
    int body;                /* BODY_* */
} route;

/* The route for method + url: 0 found (*id set for {id}), 404 no such path,
 * 405 path known but not for this method (allow gets "GET, POST"). */
int route_find(const char *method, const char *url, const route **out, int64_t *id,
               char *allow, size_t allow_cap);

/* Handlers. */
void api_health(server *s, request *q, reply *r);
void api_status(server *s, request *q, reply *r);
void api_openapi(server *s, request *q, reply *r);
void api_map(server *s, request *q, reply *r);
void api_classify(server *s, request *q, reply *r);
void api_search_get(server *s, request *q, reply *r);
void api_search_post(server *s, request *q, reply *r);
void api_search_image(server *s, request *q, reply *r);
void api_similar(server *s, request *q, reply *r);
void api_item(server *s, request *q, reply *r);
void api_thumbnail(server *s, request *q, reply *r);
void api_file(server *s, request *q, reply *r);
void api_asset(server *s, request *q, reply *r);
void api_ask_get(server *s, request *q, reply *r);
void api_ask_post(server *s, request *q, reply *r);

/* Shared by the handlers. */
/* item_id, modality, path, name, page, bbox, thumbnail and file URLs. */
void item_common_json(cJSON *o, int64_t id, int modality, const char *path, int page,
                      int has_bbox, const float *bbox);
/* The uploaded image (multipart "image" field or raw body), or NULL with
 * the reply filled; embed_upload decodes and embeds it (vec malloc'ed). */
const iris_buf *upload_of(request *q, reply *r);
float *embed_upload(server *s, request *q, reply *r, int *dim);

/* The map (api_index.c). map_refresh builds it, or rebuilds it if the
 * index changed; map_annotate adds "map": {generation, query: [x, y]}
 * to a search reply (query from vec, null without one) and "map": [x, y]
 * (or null) to each of its results; map_annotate_item the same to one
 * item's details. Without a map they add null. */
int map_refresh(server *s);
void map_annotate(server *s, cJSON *reply_obj, const float *vec, int dim);
void map_annotate_item(server *s, cJSON *item_obj, int64_t item_id);

/* ---------------------------------------------------------- assets */

typedef struct asset {
    const char *path;        /* URL path, "/app.js" */
    const char *type;
    const unsigned char *data;
    size_t size;
} asset;

/* The embedded file for a URL path ("/" is /index.html), or NULL. */
const asset *asset_find(const char *path);
/* The i-th embedded web file (from 0), NULL past the end. */
const asset *asset_at(int i);
/* The OpenAPI document. */
const asset *asset_openapi(void);

double serve_now(void); /* monotonic seconds */

#endif
