/*
 * http.h - the HTTP client iris uses to talk to LLM and VLM endpoints.
 *
 * One call, iris_http_perform(), does a GET or POST through libcurl with the
 * policies a chat client needs and nothing more:
 *
 *  - Time limits: connect, whole transfer, and idle (once the reply's body
 *    has begun, no new byte for idle_timeout_s aborts: a stream that stalls
 *    mid-answer). Before the first byte only the whole-transfer limit
 *    applies, since a model may compute for minutes before it answers; that
 *    limit also stops a server that dribbles a byte now and then.
 *  - Retries with exponential backoff and jitter on 429, 5xx (not 501/505)
 *    and on a connection reset or empty reply, honouring Retry-After (in
 *    seconds or as an HTTP date). A retry only happens while nothing has been
 *    delivered to the caller, so a stream is never repeated. Timeouts are not
 *    retried: the limits above then bound the call.
 *  - Buffered mode collects the body (capped at max_body). Streaming mode
 *    hands each piece of a 2xx body to on_chunk as it arrives; a non-2xx body
 *    is still buffered, for the error message.
 *  - Cancelling: on_chunk / on_start return a non-zero status to stop the
 *    transfer, and that status is what iris_http_perform returns. The
 *    optional cancel() poll is asked during the transfer and between retries.
 *
 * Secrets: the API key is passed in by the caller (who reads it from the
 * environment) and is only ever put in the Authorization header. Messages
 * show the method and the URL without user info or query string, and any
 * text taken from a server's reply is passed through iris_http_redact() so
 * that a server echoing the key does not put it in a log.
 *
 * Only http and https are allowed, redirects are not followed (a redirect is
 * reported so the user can fix the URL; following one could carry the key
 * to another host), and no global state is kept beyond curl's own one-time
 * initialisation. Any number of threads may call this at once.
 */
#ifndef IRIS_NET_HTTP_H
#define IRIS_NET_HTTP_H

#include <stddef.h>

typedef struct iris_http_opts {
    long connect_timeout_ms; /* default 10 000 */
    long timeout_ms;         /* whole transfer, each attempt; default 300 000 */
    long idle_timeout_s;     /* no byte for this long mid-reply aborts; default 60 */
    int max_retries;         /* retries after the first attempt; default 3 */
    long backoff_ms;         /* first retry waits about this long; default 500 */
    long backoff_max_ms;     /* longest wait, and the most Retry-After honoured;
                              * default 30 000 */
    size_t max_body;         /* buffered body cap; default 16 MiB */
} iris_http_opts;

/* Fills opts with the defaults above. */
void iris_http_opts_init(iris_http_opts *opts);

/* Called once per attempt, when the headers of a 2xx reply are in and before
 * its first chunk. Return non-zero (an IRIS_E* status) to stop. */
typedef int (*iris_http_start_fn)(long status, const char *content_type, void *user);
/* Called with each piece of a 2xx body in streaming mode. */
typedef int (*iris_http_chunk_fn)(const char *data, size_t len, void *user);
/* Polled during the transfer and while waiting to retry; non-zero cancels. */
typedef int (*iris_http_cancel_fn)(void *user);

typedef struct iris_http_request {
    const char *method;       /* "GET" or "POST" */
    const char *url;
    const char *body;         /* POST body (not copied), body_len bytes */
    size_t body_len;
    const char *content_type; /* of the body, e.g. "application/json" */
    const char *accept;       /* Accept header, or NULL */
    const char *api_key;      /* "Authorization: Bearer <key>" when non-empty */
    iris_http_start_fn on_start;
    iris_http_chunk_fn on_chunk; /* set: streaming mode */
    iris_http_cancel_fn cancel;
    void *user;
} iris_http_request;

typedef struct iris_http_response {
    long status;            /* HTTP status of the last attempt (0: none) */
    char content_type[128]; /* of the last reply, "" if none */
    char *body;             /* buffered body, NUL-terminated (streaming: the
                             * body of a non-2xx reply only); may be NULL */
    size_t body_len;
    size_t streamed;        /* bytes handed to on_chunk */
    int attempts;
} iris_http_response;

/* Performs the request. IRIS_OK means a 2xx reply was received whole.
 * Failures: IRIS_EHTTP (a non-2xx reply after retries: resp keeps its status
 * and body, so the caller can explain it better), IRIS_ETIMEOUT, IRIS_ENET
 * (refused, DNS, reset), IRIS_ELIMIT (body over max_body), IRIS_ECANCELLED,
 * or whatever status a callback returned. opts may be NULL (defaults).
 * resp must be released with iris_http_response_free() in every case. */
int iris_http_perform(const iris_http_request *req, const iris_http_opts *opts,
                      iris_http_response *resp);
void iris_http_response_free(iris_http_response *resp);

/* Replaces every occurrence of secret (if non-empty) in s by "[redacted]",
 * in place, truncating if needed; s has room for cap bytes. */
void iris_http_redact(char *s, size_t cap, const char *secret);

/* Writes "scheme://host[:port]/path" of url into buf: the URL as it may be
 * shown in messages (no user info, no query string, no fragment). */
void iris_http_safe_url(const char *url, char *buf, size_t cap);

/* A printable excerpt of a server's reply for an error message: control
 * characters replaced, at most max_chars bytes (ending on a UTF-8
 * boundary), secret redacted. */
void iris_http_excerpt(const char *body, size_t len, const char *secret, char *buf,
                       size_t cap, size_t max_chars);

#endif
