/*
 * http.c - libcurl client with timeouts, retries and streaming (see http.h).
 *
 * One easy handle per call, reused across its retries. A fresh handle per
 * call gives up connection reuse between calls, which costs one TCP (and
 * TLS) handshake per chat request: small next to a model's answer time,
 * and it keeps calls independent of each other and of threads.
 *
 * The write callback does the routing: it learns the status and content
 * type from the first piece of the body, then either streams (2xx with
 * on_chunk), buffers (up to max_body) or keeps the first 64 KiB of an error
 * body. Any status a callback wants to return is parked in the transfer
 * state and the callback returns 0, which makes curl stop with
 * CURLE_WRITE_ERROR; the parked status is then what the caller gets.
 */
#include "net/http.h"

#include "util/buf.h"
#include "util/error.h"

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ERROR_BODY_CAP (64u * 1024)
#define EXCERPT_CHARS 300
#define SLEEP_SLICE_MS 50

void iris_http_opts_init(iris_http_opts *o)
{
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 300000;
    o->idle_timeout_s = 60;
    o->max_retries = 3;
    o->backoff_ms = 500;
    o->backoff_max_ms = 30000;
    o->max_body = 16u << 20;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* --------------------------------------------------------------- helpers */

void iris_http_redact(char *s, size_t cap, const char *secret)
{
    static const char mark[] = "[redacted]";
    size_t k = secret ? strlen(secret) : 0;
    if (!k || !s) return;
    char *p = s;
    while ((p = strstr(p, secret))) {
        size_t tail = strlen(p + k), m = sizeof mark - 1;
        size_t room = cap - (size_t)(p - s) - 1; /* bytes available from p on */
        if (m > room) m = room;
        if (tail > room - m) tail = room - m;
        memmove(p + m, p + k, tail);
        memcpy(p, mark, m);
        p[m + tail] = '\0';
        p += m;
    }
}

void iris_http_safe_url(const char *url, char *buf, size_t cap)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < host + auth_len; p++)
        if (*p == '@') at = p;
    const char *auth = at ? at + 1 : host;
    const char *path = host + auth_len;
    size_t path_len = strcspn(path, "?#");
    snprintf(buf, cap, "%.*s%.*s%.*s", (int)(host - url), url,
             (int)(host + auth_len - auth), auth, (int)path_len, path);
}

void iris_http_excerpt(const char *body, size_t len, const char *secret, char *buf, size_t cap,
                       size_t max_chars)
{
    if (!cap) return;
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = body ? (unsigned char)body[i] : ' ';
        buf[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    buf[n] = '\0';
    iris_http_redact(buf, cap, secret);
    n = strlen(buf);
    if (n > max_chars) {
        n = max_chars;
        while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80) n--; /* UTF-8 boundary */
        snprintf(buf + n, cap - n, "...");
    }
}

/* ------------------------------------------------------- transfer state */

typedef struct transfer {
    const iris_http_request *req;
    const iris_http_opts *opts;
    iris_http_response *resp;
    const char *what;    /* "POST http://host/path" for messages */
    CURL *curl;
    iris_buf body;       /* handed to resp->body at the end */
    long retry_after_ms; /* from the last reply's Retry-After, -1 if none */
    int routed;          /* first piece seen: status and type known */
    int streaming;       /* this attempt's body goes to on_chunk */
    int parked;          /* status a callback asked to return */
    curl_off_t seen_bytes; /* body bytes so far, and when the last came */
    double last_byte_s;
} transfer;

static void route(transfer *t)
{
    char *ct = NULL;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->resp->status);
    curl_easy_getinfo(t->curl, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(t->resp->content_type, sizeof t->resp->content_type, "%s", ct ? ct : "");
    long s = t->resp->status;
    t->streaming = t->req->on_chunk && s >= 200 && s < 300;
    t->routed = 1;
    if (t->streaming && t->req->on_start)
        t->parked = t->req->on_start(s, t->resp->content_type, t->req->user);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    if (!t->routed) route(t);
    if (t->parked) return 0;
    if (t->streaming) {
        t->parked = t->req->on_chunk(data, n, t->req->user);
        t->resp->streamed += n;
        return t->parked ? 0 : n;
    }
    int ok2xx = t->resp->status >= 200 && t->resp->status < 300;
    int rc = iris_buf_add(&t->body, data, n, ok2xx ? t->opts->max_body : ERROR_BODY_CAP);
    if (rc == IRIS_ELIMIT && !ok2xx) return n; /* error body: the first part says enough */
    if (rc == IRIS_ELIMIT)
        rc = iris_fail(IRIS_ELIMIT, "%s: reply larger than the %zu-byte limit", t->what,
                       t->opts->max_body);
    t->parked = rc;
    return rc ? 0 : n;
}

/* Parses Retry-After (delta seconds or an HTTP date) from header lines. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && !strncasecmp(line, name, sizeof name - 1)) {
        char v[128];
        size_t m = n - (sizeof name - 1);
        if (m >= sizeof v) m = sizeof v - 1;
        memcpy(v, line + sizeof name - 1, m);
        v[m] = '\0';
        char *end;
        long secs = strtol(v, &end, 10);
        if (end != v && secs >= 0 && strspn(end, " \t\r\n") == strlen(end)) {
            t->retry_after_ms = secs > LONG_MAX / 1000 ? LONG_MAX : secs * 1000;
        } else {
            time_t when = curl_getdate(v + strspn(v, " \t"), NULL);
            if (when > 0) t->retry_after_ms = when > time(NULL) ? (when - time(NULL)) * 1000 : 0;
        }
    }
    return n;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Polls cancel and runs the idle timer: once the reply's body has begun,
 * no new byte for idle_timeout_s ends the transfer. Before the first byte
 * only the total limit applies, because a model may think for minutes
 * before it sends anything (a long prompt, a non-streamed answer). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)ultotal, (void)ulnow;
    transfer *t = ud;
    if (t->req->cancel && t->req->cancel(t->req->user)) {
        t->parked = iris_fail(IRIS_ECANCELLED, "%s: cancelled", t->what);
        return 1;
    }
    double now = mono_s();
    if (dlnow != t->seen_bytes) {
        t->seen_bytes = dlnow;
        t->last_byte_s = now;
    } else if (dlnow > 0 && now - t->last_byte_s >= (double)t->opts->idle_timeout_s) {
        t->parked = iris_fail(IRIS_ETIMEOUT, "%s: timed out: no data for %ld s in the middle "
                                             "of the reply (idle limit)",
                              t->what, t->opts->idle_timeout_s);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------- policies */

static int retryable_status(long s)
{
    return s == 429 || s == 408 || (s >= 500 && s <= 599 && s != 501 && s != 505);
}

static int retryable_curl(CURLcode c)
{
    return c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_GOT_NOTHING ||
           c == CURLE_PARTIAL_FILE || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

/* Backoff before retry number `retry` (1-based): base * 2^(retry-1),
 * capped, with "equal jitter" (half fixed, half random) so that many
 * clients told to wait at once do not come back at once. */
static long backoff_ms(const iris_http_opts *o, int retry, uint64_t *rng)
{
    long d = o->backoff_ms;
    for (int i = 1; i < retry && d < o->backoff_max_ms; i++) d *= 2;
    if (d > o->backoff_max_ms) d = o->backoff_max_ms;
    *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17; /* xorshift64 */
    return d / 2 + (long)(*rng % (uint64_t)(d / 2 + 1));
}

/* Sleeps ms in slices, polling cancel. Returns IRIS_ECANCELLED if asked. */
static int wait_ms(const iris_http_request *req, long ms)
{
    while (ms > 0) {
        if (req->cancel && req->cancel(req->user)) return IRIS_ECANCELLED;
        long step = ms < SLEEP_SLICE_MS ? ms : SLEEP_SLICE_MS;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return IRIS_OK;
}

/* --------------------------------------------------------------- errors */

static int curl_failure(const transfer *t, CURLcode c, const char *errbuf)
{
    const char *what = t->what;
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(c);
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return iris_fail(IRIS_ETIMEOUT, "%s: timed out (%s)", what, detail);
    case CURLE_COULDNT_CONNECT:
        return iris_fail(IRIS_ENET, "%s: cannot connect (%s); is the server running?", what,
                         detail);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return iris_fail(IRIS_ENET, "%s: unknown host (%s)", what, detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return iris_fail(IRIS_EARG, "%s: bad URL (%s); use http:// or https://", what, detail);
    case CURLE_OUT_OF_MEMORY:
        return iris_fail(IRIS_ENOMEM, "%s: out of memory", what);
    default:
        if (retryable_curl(c) && t->resp->streamed)
            return iris_fail(IRIS_ENET, "%s: connection lost after %zu bytes (%s)", what,
                             t->resp->streamed, detail);
        return iris_fail(IRIS_ENET, "%s: %s", what, detail);
    }
}

static int http_failure(const transfer *t, const char *why)
{
    const char *what = t->what;
    const iris_http_response *r = t->resp;
    char excerpt[EXCERPT_CHARS + 64];
    iris_http_excerpt(r->body, r->body_len, t->req->api_key, excerpt, sizeof excerpt,
                      EXCERPT_CHARS);
    if (r->status >= 300 && r->status < 400) {
        char *loc = NULL, safe[512] = "?";
        curl_easy_getinfo(t->curl, CURLINFO_REDIRECT_URL, &loc);
        if (loc) iris_http_safe_url(loc, safe, sizeof safe);
        return iris_fail(IRIS_EHTTP, "%s: HTTP %ld redirects to %s; configure that URL instead",
                         what, r->status, safe);
    }
    return iris_fail(IRIS_EHTTP, "%s: HTTP %ld%s%s%s", what, r->status, why,
                     excerpt[0] ? ": " : "", excerpt);
}

/* --------------------------------------------------------------- perform */

static int setup(transfer *t, struct curl_slist **headers, char *errbuf)
{
    const iris_http_request *req = t->req;
    const iris_http_opts *o = t->opts;
    CURL *c = t->curl;
    char line[256];
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    if (req->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        h = curl_slist_append(h, line);
    }
    if (req->accept) {
        snprintf(line, sizeof line, "Accept: %s", req->accept);
        h = curl_slist_append(h, line);
    }
    if (req->api_key && req->api_key[0]) {
        size_t n = strlen(req->api_key) + 32;
        char *auth = malloc(n);
        if (auth) {
            snprintf(auth, n, "Authorization: Bearer %s", req->api_key);
            h = curl_slist_append(h, auth);
            memset(auth, 0, n);
            free(auth);
        }
    }
    *headers = h;
    if (!h) return iris_fail(IRIS_ENOMEM, "no memory for HTTP headers");
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "iris/" IRIS_VERSION);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (!strcmp(req->method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    return IRIS_OK;
}

/* Frees the header list, wiping the Authorization line first. */
static void free_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (!strncmp(p->data, "Authorization:", 14)) memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(h);
}

static void reset_attempt(transfer *t)
{
    iris_http_response *r = t->resp;
    t->body.len = 0;
    if (t->body.p) t->body.p[0] = '\0';
    r->status = 0;
    r->content_type[0] = '\0';
    t->routed = t->streaming = t->parked = 0;
    t->retry_after_ms = -1;
    t->seen_bytes = 0;
}

/* Runs attempts until one succeeds, fails for good, or retries run out. */
static int attempts_loop(transfer *t, char *errbuf)
{
    uint64_t rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)t ^ 0x9E3779B97F4A7C15ull;
    for (int retry = 0;; retry++) {
        reset_attempt(t);
        errbuf[0] = '\0';
        t->resp->attempts++;
        CURLcode c = curl_easy_perform(t->curl);
        t->resp->body = t->body.p;
        t->resp->body_len = t->body.len;
        if (c == CURLE_OK && !t->routed) route(t); /* empty body */
        if (t->parked) return t->parked;
        if (c == CURLE_OK && t->resp->status >= 200 && t->resp->status < 300) return IRIS_OK;
        int again = c == CURLE_OK ? retryable_status(t->resp->status)
                                  : retryable_curl(c) && !t->resp->streamed;
        if (!again || retry >= t->opts->max_retries)
            return c == CURLE_OK ? http_failure(t, retry ? " (after retries)" : "")
                                 : curl_failure(t, c, errbuf);
        long wait = backoff_ms(t->opts, retry + 1, &rng);
        if (t->retry_after_ms > t->opts->backoff_max_ms) {
            char why[96];
            snprintf(why, sizeof why, " (the server asks to wait %ld s, more than the %ld s limit)",
                     t->retry_after_ms / 1000, t->opts->backoff_max_ms / 1000);
            return http_failure(t, why);
        }
        if (t->retry_after_ms > wait) wait = t->retry_after_ms;
        int rc = wait_ms(t->req, wait);
        if (rc) return iris_fail(rc, "%s: cancelled while waiting to retry", t->what);
    }
}

int iris_http_perform(const iris_http_request *req, const iris_http_opts *opts,
                      iris_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    if (!req || !req->url || !req->method ||
        (strcmp(req->method, "GET") && strcmp(req->method, "POST")))
        return iris_fail(IRIS_EARG, "HTTP request needs a URL and method GET or POST");
    iris_http_opts defaults;
    if (!opts) {
        iris_http_opts_init(&defaults);
        opts = &defaults;
    }
    char what[600], safe[512];
    iris_http_safe_url(req->url, safe, sizeof safe);
    snprintf(what, sizeof what, "%s %s", req->method, safe);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return iris_fail(IRIS_ENET, "%s: libcurl failed to start", what);
    transfer t = {.req = req, .opts = opts, .resp = resp, .what = what};
    t.curl = curl_easy_init();
    if (!t.curl) return iris_fail(IRIS_ENOMEM, "%s: cannot create a libcurl handle", what);
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    int rc = setup(&t, &headers, errbuf);
    if (!rc) rc = attempts_loop(&t, errbuf);
    curl_easy_cleanup(t.curl);
    free_headers(headers);
    return rc;
}

void iris_http_response_free(iris_http_response *resp)
{
    if (!resp) return;
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}
