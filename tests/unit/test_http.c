/* The HTTP client: message hygiene (safe URLs, redaction, excerpts), the
 * retry policy's edges (Retry-After too long or as a date, cancel while
 * waiting), body caps, and that a failed stream is never fed to the caller. */
#include "iris.h"
#include "llm_server.h"
#include "net/http.h"
#include "test.h"

#include <time.h>

#define BODY "{\"model\": \"m\", \"messages\": [], \"stream\": false}"

static void need_server(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py (python3 missing?)");
}

static void test_safe_url(void)
{
    static const char *cases[][2] = {
        {"https://user:pw@api.example.com:8443/v1/chat?key=sk-1#frag",
         "https://api.example.com:8443/v1/chat"},
        {"http://h", "http://h"},
        {"http://h?x=1", "http://h"},
        {"http://a@b@h/p", "http://h/p"},
        {"h:80/path", "h:80/path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[128];
        iris_http_safe_url(cases[i][0], buf, sizeof buf);
        CHECK_MSG(!strcmp(buf, cases[i][1]), "%s -> %s", cases[i][0], buf);
    }
}

static void test_redact_and_excerpt(void)
{
    char s[64] = "key=SECRET and SECRET again";
    iris_http_redact(s, sizeof s, "SECRET");
    CHECK(!strcmp(s, "key=[redacted] and [redacted] again"));
    char tight[12] = "abSECRETcd";
    iris_http_redact(tight, sizeof tight, "SECRET"); /* no room: truncated, never overflows */
    CHECK(!strstr(tight, "SECRET") && strlen(tight) < sizeof tight);
    char same[16] = "unchanged";
    iris_http_redact(same, sizeof same, "");
    CHECK(!strcmp(same, "unchanged"));
    /* Control characters go, the cut lands on a UTF-8 boundary, and the key
     * is removed before the cut so no prefix of it survives. */
    const char body[] = "line1\nline2\t\xe4\xb8\xad\xe6\x96\x87 tail";
    char ex[64];
    iris_http_excerpt(body, sizeof body - 1, NULL, ex, sizeof ex, 15);
    CHECK_MSG(!strcmp(ex, "line1 line2 \xe4\xb8\xad..."), "%s", ex);
    iris_http_excerpt(body, sizeof body - 1, NULL, ex, sizeof ex, 14); /* mid-character */
    CHECK_MSG(!strcmp(ex, "line1 line2 ..."), "%s", ex);
    const char leak[] = "Incorrect API key provided: sk-abcdefghijklmnop";
    iris_http_excerpt(leak, sizeof leak - 1, "sk-abcdefghijklmnop", ex, sizeof ex, 32);
    CHECK_MSG(!strstr(ex, "sk-abc"), "%s", ex);
}

static int post(const char *url_path, const char *key, iris_http_chunk_fn on_chunk,
                iris_http_cancel_fn cancel, void *user, const iris_http_opts *o,
                iris_http_response *resp)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", llm_server_url(), url_path);
    iris_http_request req = {.method = "POST", .url = url, .body = BODY,
                             .body_len = strlen(BODY), .content_type = "application/json",
                             .api_key = key, .on_chunk = on_chunk, .cancel = cancel,
                             .user = user};
    return iris_http_perform(&req, o, resp);
}

static void fast_opts(iris_http_opts *o)
{
    iris_http_opts_init(o);
    o->timeout_ms = 10000;
    o->backoff_ms = 20;
    o->backoff_max_ms = 5000;
}

static void test_retry_after_beyond_limit_gives_up_at_once(void)
{
    need_server();
    iris_http_opts o;
    fast_opts(&o);
    /* Seconds, then an HTTP date far in the future: both over the 5 s cap. */
    llm_server_script("{'steps': [{'fault': 'status', 'status': 429, 'retry_after': 3600}, "
                      "{'fault': 'status', 'status': 503, "
                      "'retry_after': 'Fri, 31 Dec 2099 23:59:59 GMT'}]}");
    iris_http_response r;
    CHECK_EQ_INT(post("/v1/chat/completions", NULL, NULL, NULL, NULL, &o, &r), IRIS_EHTTP);
    CHECK_MSG(strstr(iris_errmsg(), "asks to wait 3600 s"), "%s", iris_errmsg());
    CHECK_EQ_INT(r.attempts, 1);
    iris_http_response_free(&r);
    CHECK_EQ_INT(post("/v1/chat/completions", NULL, NULL, NULL, NULL, &o, &r), IRIS_EHTTP);
    CHECK_MSG(strstr(iris_errmsg(), "asks to wait"), "%s", iris_errmsg());
    CHECK_EQ_INT(r.status, 503);
    iris_http_response_free(&r);
    llm_server_verify();
}

static void test_retry_after_past_date_retries(void)
{
    need_server();
    iris_http_opts o;
    fast_opts(&o);
    llm_server_script("{'steps': [{'fault': 'status', 'status': 429, "
                      "'retry_after': 'Wed, 21 Oct 2015 07:28:00 GMT'}, {'reply': {'text': 'x'}}]}");
    iris_http_response r;
    CHECK_OK(post("/v1/chat/completions", NULL, NULL, NULL, NULL, &o, &r));
    CHECK_EQ_INT(r.attempts, 2);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "\"content\": \"x\""));
    iris_http_response_free(&r);
    llm_server_verify();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cancel_now(void *user)
{
    (void)user;
    return 1;
}

/* Cancels one second after *start: by then the first attempt has long been
 * answered and the client sits in its 5 s backoff wait. */
static int cancel_later(void *user) { return now_s() - *(double *)user > 1.0; }

static int never_called(const char *d, size_t n, void *user)
{
    (void)d, (void)n;
    ++*(int *)user;
    return 0;
}

static void test_cancel_during_transfer_and_backoff(void)
{
    need_server();
    iris_http_opts o;
    fast_opts(&o);
    o.backoff_ms = 5000;
    llm_server_script("{'steps': [{'fault': 'hang', 'delay': 3}]}");
    iris_http_response r;
    CHECK_EQ_INT(post("/v1/chat/completions", NULL, NULL, cancel_now, NULL, &o, &r),
                 IRIS_ECANCELLED);
    CHECK_MSG(strstr(iris_errmsg(), "cancelled"), "%s", iris_errmsg());
    iris_http_response_free(&r);
    llm_server_script("{'steps': [{'fault': 'status', 'status': 500}]}");
    double t0 = now_s();
    CHECK_EQ_INT(post("/v1/chat/completions", NULL, NULL, cancel_later, &t0, &o, &r),
                 IRIS_ECANCELLED);
    double dt = now_s() - t0;
    CHECK_MSG(strstr(iris_errmsg(), "while waiting to retry"), "%s", iris_errmsg());
    CHECK_EQ_INT(r.attempts, 1);
    CHECK_MSG(dt < 4, "cancel took %.1f s to act during a 5 s wait", dt);
    iris_http_response_free(&r);
    llm_server_verify();
}

static void test_stream_error_body_is_buffered_not_streamed(void)
{
    need_server();
    iris_http_opts o;
    fast_opts(&o);
    llm_server_script("{'steps': [{'fault': 'status', 'status': 400, 'message': 'bad image'}]}");
    int chunks = 0;
    iris_http_response r;
    CHECK_EQ_INT(post("/v1/chat/completions", "k", never_called, NULL, &chunks, &o, &r),
                 IRIS_EHTTP);
    CHECK_EQ_INT(chunks, 0);
    CHECK_EQ_INT(r.streamed, 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(r.body && strstr(r.body, "bad image"));
    CHECK_EQ_INT(r.attempts, 1); /* 400 is final */
    iris_http_response_free(&r);
    llm_server_verify();
}

static void test_body_cap_and_get(void)
{
    need_server();
    iris_http_opts o;
    fast_opts(&o);
    o.max_body = 100;
    llm_server_script("{'steps': [{'reply': {'text': '%0200d'}}]}", 0);
    iris_http_response r;
    CHECK_EQ_INT(post("/v1/chat/completions", NULL, NULL, NULL, NULL, &o, &r), IRIS_ELIMIT);
    CHECK_MSG(strstr(iris_errmsg(), "100-byte limit"), "%s", iris_errmsg());
    iris_http_response_free(&r);
    llm_server_verify(); /* a GET through the same client */
    char url[128];
    snprintf(url, sizeof url, "%s/_verify", llm_server_url());
    iris_http_request get = {.method = "GET", .url = url};
    CHECK_OK(iris_http_perform(&get, NULL, &r));
    CHECK(!strcmp(r.content_type, "application/json"));
    iris_http_response_free(&r);
    iris_http_request del = {.method = "DELETE", .url = url};
    CHECK_EQ_INT(iris_http_perform(&del, NULL, &r), IRIS_EARG);
    iris_http_response_free(&r);
    iris_http_request file = {.method = "GET", .url = "file:///etc/passwd"};
    CHECK_EQ_INT(iris_http_perform(&file, NULL, &r), IRIS_EARG);
    iris_http_response_free(&r);
}

int main(void)
{
    RUN(test_safe_url);
    RUN(test_redact_and_excerpt);
    RUN(test_retry_after_beyond_limit_gives_up_at_once);
    RUN(test_retry_after_past_date_retries);
    RUN(test_cancel_during_transfer_and_backoff);
    RUN(test_stream_error_body_is_buffered_not_streamed);
    RUN(test_body_cap_and_get);
    llm_server_stop();
    return test_summary();
}
