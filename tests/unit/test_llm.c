/* Chat protocols against the scripted loopback server (tests/py/llm_server.py):
 * request shapes for OpenAI and Ollama, streaming reassembly, retries,
 * bounded timeouts, hostile replies, and that the API key never shows. */
#include "iris.h"
#include "llm_server.h"
#include "net/llm.h"
#include "test.h"

#include <cJSON.h>
#include <stdlib.h>
#include <time.h>

#define KEY "sk-test-SECRET-0123456789"

static void need_server(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py (python3 missing?)");
}

static void config(iris_llm_config *c, int protocol)
{
    llm_server_config(c, "llm", protocol == IRIS_LLM_OLLAMA ? "llava:7b" : "gpt-test", protocol);
    c->timeout_s = 10;
    c->idle_timeout_s = 5;
    c->max_retries = 3;
    c->backoff_s = 0.02;
    setenv("IRIS_LLM_API_KEY", KEY, 1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A system + user conversation; with_images adds the two fixture images. */
typedef struct convo {
    iris_llm_part sys[1], user[4];
    iris_llm_message msgs[2];
    iris_llm_request req;
    unsigned char *jpg, *png;
} convo;

static void convo_init(convo *c, int with_images, int stream)
{
    memset(c, 0, sizeof *c);
    size_t jn = 0, pn = 0;
    c->sys[0].text = "Answer from the sources.";
    c->user[0].text = "[1] photo of a red square\n";
    int n = 1;
    if (with_images) {
        c->jpg = (unsigned char *)test_read_file("tests/fixtures/rag/red.jpg", &jn);
        c->png = (unsigned char *)test_read_file("tests/fixtures/rag/blue.png", &pn);
        CHECK(c->jpg && c->png);
        c->user[n++] = (iris_llm_part){.image = c->jpg, .image_len = jn, .mime = "image/jpeg"};
        c->user[n++] = (iris_llm_part){.text = "[2] a blue disc\n"};
        c->user[n++] = (iris_llm_part){.image = c->png, .image_len = pn, .mime = "image/png"};
    }
    c->msgs[0] = (iris_llm_message){"system", c->sys, 1};
    c->msgs[1] = (iris_llm_message){"user", c->user, n};
    c->req = (iris_llm_request){.messages = c->msgs, .n_messages = 2, .stream = stream,
                                .max_tokens = 200};
}

static void convo_free(convo *c)
{
    free(c->jpg);
    free(c->png);
}

typedef struct collector {
    char text[8192];
    size_t len;
    int pieces;
    int stop_after; /* cancel after this many pieces (0 = never) */
} collector;

static int collect(const char *text, size_t n, void *user)
{
    collector *c = user;
    if (c->len + n < sizeof c->text) {
        memcpy(c->text + c->len, text, n);
        c->len += n;
        c->text[c->len] = '\0';
    }
    c->pieces++;
    return c->stop_after && c->pieces >= c->stop_after;
}

/* ------------------------------------------------------------ shapes */

static void test_openai_request_json_shape(void)
{
    iris_llm_config cfg;
    iris_llm_config_defaults(&cfg, "llm");
    snprintf(cfg.model, sizeof cfg.model, "m");
    cfg.temperature = 0.25;
    convo c;
    convo_init(&c, 1, 1);
    char *json;
    CHECK_OK(iris_llm_request_json(&cfg, &c.req, &json, NULL));
    cJSON *root = cJSON_Parse(json);
    CHECK(root);
    CHECK(!strcmp(cJSON_GetObjectItem(root, "model")->valuestring, "m"));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(root, "stream")));
    CHECK_EQ_INT(cJSON_GetObjectItem(root, "max_tokens")->valueint, 200);
    CHECK_NEAR(cJSON_GetObjectItem(root, "temperature")->valuedouble, 0.25, 1e-12);
    cJSON *msgs = cJSON_GetObjectItem(root, "messages");
    CHECK_EQ_INT(cJSON_GetArraySize(msgs), 2);
    /* Text-only message: a plain string. With images: parts in order. */
    CHECK(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "content")));
    cJSON *parts = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content");
    CHECK_EQ_INT(cJSON_GetArraySize(parts), 4);
    const char *types[] = {"text", "image_url", "text", "image_url"};
    for (int i = 0; i < 4; i++)
        CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(parts, i), "type")->valuestring,
                      types[i]));
    const char *url = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(parts, 1),
                                                              "image_url"), "url")->valuestring;
    CHECK(!strncmp(url, "data:image/jpeg;base64,/9j/", 27)); /* FF D8 FF in base64 */
    cJSON_Delete(root);
    free(json);
    convo_free(&c);
}

static void test_ollama_request_json_shape(void)
{
    iris_llm_config cfg;
    iris_llm_config_defaults(&cfg, "vlm");
    cfg.protocol = IRIS_LLM_OLLAMA;
    snprintf(cfg.model, sizeof cfg.model, "llava");
    cfg.context_tokens = 4096;
    convo c;
    convo_init(&c, 1, 0);
    char *json;
    CHECK_OK(iris_llm_request_json(&cfg, &c.req, &json, NULL));
    cJSON *root = cJSON_Parse(json);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(root, "stream")));
    cJSON *opt = cJSON_GetObjectItem(root, "options");
    CHECK_EQ_INT(cJSON_GetObjectItem(opt, "num_ctx")->valueint, 4096);
    CHECK_EQ_INT(cJSON_GetObjectItem(opt, "num_predict")->valueint, 200);
    CHECK(!cJSON_GetObjectItem(opt, "temperature")); /* server default */
    cJSON *user = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "messages"), 1);
    CHECK(!strcmp(cJSON_GetObjectItem(user, "content")->valuestring,
                  "[1] photo of a red square\n[2] a blue disc\n"));
    cJSON *images = cJSON_GetObjectItem(user, "images");
    CHECK_EQ_INT(cJSON_GetArraySize(images), 2);
    CHECK(!strncmp(cJSON_GetArrayItem(images, 0)->valuestring, "/9j/", 4));
    CHECK(!strncmp(cJSON_GetArrayItem(images, 1)->valuestring, "iVBORw0KGgo", 11)); /* PNG */
    cJSON_Delete(root);
    free(json);
    convo_free(&c);
}

static void test_request_rejects_bad_parts(void)
{
    iris_llm_config cfg;
    iris_llm_config_defaults(&cfg, "llm");
    iris_llm_part bad = {.image = (const unsigned char *)"x", .image_len = 1, .mime = "text/html"};
    iris_llm_message m = {"user", &bad, 1};
    iris_llm_request req = {.messages = &m, .n_messages = 1};
    char *json;
    CHECK_EQ_INT(iris_llm_request_json(&cfg, &req, &json, NULL), IRIS_EARG);
    req.n_messages = 0;
    CHECK_EQ_INT(iris_llm_request_json(&cfg, &req, &json, NULL), IRIS_EARG);
}

/* ------------------------------------------------- against the server */

/* One test's client side: configuration, conversation, collected pieces
 * and the last reply. fx_chat() frees the previous reply first. */
static struct {
    iris_llm_config cfg;
    convo c;
    collector col;
    iris_llm_reply r;
} fx;

static void fx_begin(int protocol, int images, int stream)
{
    need_server();
    memset(&fx, 0, sizeof fx);
    config(&fx.cfg, protocol);
    convo_init(&fx.c, images, stream);
}

static int fx_chat(void)
{
    iris_llm_reply_free(&fx.r);
    int stop_after = fx.col.stop_after;
    memset(&fx.col, 0, sizeof fx.col);
    fx.col.stop_after = stop_after;
    return iris_llm_chat(&fx.cfg, &fx.c.req, collect, NULL, &fx.col, &fx.r);
}

static void fx_end(void)
{
    iris_llm_reply_free(&fx.r);
    convo_free(&fx.c);
    llm_server_verify();
}

static void test_openai_nonstream_roundtrip(void)
{
    fx_begin(IRIS_LLM_OPENAI, 0, 0);
    llm_server_script("{'steps': [{'expect': {'protocol': 'openai', 'model': 'gpt-test', "
                      "'stream': false, 'auth': 'Bearer " KEY "', 'roles': ['system', 'user'], "
                      "'max_tokens': 200, 'images': [], 'text_contains': ['red square']}, "
                      "'reply': {'text': 'A red square [1].', 'prompt_tokens': 42, "
                      "'completion_tokens': 5}}]}");
    CHECK_OK(fx_chat());
    CHECK(!strcmp(fx.r.text, "A red square [1]."));
    CHECK(!strcmp(fx.col.text, fx.r.text)); /* non-streaming: one delivery */
    CHECK_EQ_INT(fx.col.pieces, 1);
    CHECK_EQ_INT(fx.r.prompt_tokens, 42);
    CHECK_EQ_INT(fx.r.completion_tokens, 5);
    CHECK(!strcmp(fx.r.finish_reason, "stop"));
    fx_end();
}

static void test_openai_stream_with_images(void)
{
    fx_begin(IRIS_LLM_OPENAI, 1, 1);
    const char *answer = "The first image shows a red square [1]; the second a disc [2]. Both ok.";
    llm_server_script("{'steps': [{'expect': {'stream': true, 'images': "
                      "['tests/fixtures/rag/red.jpg', 'tests/fixtures/rag/blue.png']}, "
                      "'reply': {'text': '%s', 'chunks': 7}}]}", answer);
    CHECK_OK(fx_chat());
    CHECK(!strcmp(fx.r.text, answer));
    CHECK(!strcmp(fx.col.text, answer));
    CHECK_EQ_INT(fx.col.pieces, 7);
    CHECK(!strcmp(fx.r.finish_reason, "stop"));
    fx_end();
}

static void test_ollama_stream_and_whole(void)
{
    fx_begin(IRIS_LLM_OLLAMA, 1, 1);
    fx.cfg.context_tokens = 16384;
    unsetenv("IRIS_LLM_API_KEY");
    llm_server_script("{'steps': ["
                      "{'expect': {'protocol': 'ollama', 'model': 'llava:7b', 'stream': true, "
                      "'num_ctx': 16384, 'auth': null, 'images': "
                      "['tests/fixtures/rag/red.jpg', 'tests/fixtures/rag/blue.png']}, "
                      "'reply': {'text': 'Zwei Bilder [1][2], \\u00e4\\u4e2d\\u6587.', "
                      "'chunks': 5, 'prompt_tokens': 300, 'completion_tokens': 9}},"
                      "{'expect': {'stream': false}, 'reply': {'text': 'whole'}}]}");
    CHECK_OK(fx_chat());
    CHECK(!strcmp(fx.r.text, "Zwei Bilder [1][2], \xc3\xa4\xe4\xb8\xad\xe6\x96\x87."));
    CHECK(!strcmp(fx.col.text, fx.r.text));
    CHECK_EQ_INT(fx.r.prompt_tokens, 300);
    CHECK_EQ_INT(fx.r.completion_tokens, 9);
    fx.c.req.stream = 0;
    CHECK_OK(fx_chat());
    CHECK(!strcmp(fx.r.text, "whole"));
    fx_end();
}

static void test_retry_429_then_success_honours_retry_after(void)
{
    fx_begin(IRIS_LLM_OPENAI, 0, 1);
    llm_server_script("{'steps': [{'fault': 'status', 'status': 429, 'retry_after': 1, "
                      "'message': 'slow down'}, {'reply': {'text': 'fine'}}]}");
    double t0 = now_s();
    CHECK_OK(fx_chat());
    double dt = now_s() - t0;
    CHECK(!strcmp(fx.r.text, "fine"));
    CHECK_EQ_INT(fx.r.attempts, 2);
    CHECK_MSG(dt >= 0.95, "retried after %.2f s although Retry-After said 1 s", dt);
    fx_end();
}

static void test_retry_5xx_and_reset_then_success(void)
{
    fx_begin(IRIS_LLM_OLLAMA, 0, 0);
    llm_server_script("{'steps': [{'fault': 'status', 'status': 503}, {'fault': 'reset'}, "
                      "{'fault': 'status', 'status': 502}, {'reply': {'text': 'third time'}}]}");
    CHECK_OK(fx_chat());
    CHECK(!strcmp(fx.r.text, "third time"));
    /* Four server steps; curl itself re-sends once when a kept-alive
     * connection turns out dead, so three or four attempts of ours. */
    CHECK(fx.r.attempts == 3 || fx.r.attempts == 4);
    fx_end();
}

static void test_persistent_500_is_ehttp_without_key(void)
{
    fx_begin(IRIS_LLM_OPENAI, 0, 0);
    fx.cfg.max_retries = 1;
    /* The server echoes the Authorization header, as some proxies do. */
    llm_server_script("{'steps': [{'fault': 'status', 'status': 500, 'message': 'boom {auth}'}, "
                      "{'fault': 'status', 'status': 500, 'message': 'boom {auth}'}]}");
    CHECK_FAILS(fx_chat(), IRIS_EHTTP, "HTTP 500: boom Bearer [redacted] (after 2 attempts)");
    CHECK(strstr(iris_errmsg(), "gpt-test"));
    CHECK(!strstr(iris_errmsg(), KEY) && !strstr(iris_errmsg(), "SECRET"));
    CHECK_EQ_INT(fx.r.attempts, 2);
    fx_end();
}

static void test_auth_and_not_found_hints(void)
{
    fx_begin(IRIS_LLM_OPENAI, 0, 0);
    llm_server_script("{'steps': [{'fault': 'status', 'status': 401, "
                      "'message': 'Incorrect API key provided: {auth}'}, "
                      "{'fault': 'status', 'status': 404, 'message': 'model not found'}]}");
    CHECK_FAILS(fx_chat(), IRIS_EHTTP, "check the API key in IRIS_LLM_API_KEY");
    CHECK(!strstr(iris_errmsg(), KEY));
    CHECK_EQ_INT(fx.r.attempts, 1); /* 401 is not retried */
    CHECK_FAILS(fx_chat(), IRIS_EHTTP, "model not found; check IRIS_LLM_URL and IRIS_LLM_MODEL");
    fx_end();
}

static void test_malformed_json(void)
{
    for (int protocol = 0; protocol < 2; protocol++) {
        fx_begin(protocol, 0, 0);
        llm_server_script("{'steps': [{'fault': 'malformed'}, {'fault': 'malformed', "
                          "'reply': {'text': 'partial answer', 'chunks': 2}}]}");
        CHECK_FAILS(fx_chat(), IRIS_EFORMAT, "malformed JSON");
        fx.c.req.stream = 1;
        CHECK_FAILS(fx_chat(), IRIS_EFORMAT, "malformed JSON in reply (event ");
        CHECK(!strcmp(fx.r.text, "partial")); /* what arrived before the bad event */
        fx_end();
    }
}

static void test_cut_off_streams(void)
{
    for (int protocol = 0; protocol < 2; protocol++) {
        fx_begin(protocol, 0, 1);
        llm_server_script("{'steps': [{'fault': 'cut', 'reply': {'text': 'aaaabbbbccccdddd', "
                          "'chunks': 4}}, {'fault': 'cut_chunked', 'reply': {'text': "
                          "'aaaabbbbccccdddd', 'chunks': 4}}]}");
        /* Connection closed cleanly but the protocol's end never came. */
        CHECK_FAILS(fx_chat(), IRIS_ENET, "cut off");
        CHECK(!strcmp(fx.r.text, "aaaabbbb"));
        /* Chunked encoding broken off: an error at the HTTP level, no retry
         * (the caller has already shown part of the answer). */
        CHECK_FAILS(fx_chat(), IRIS_ENET, "connection lost after");
        CHECK_EQ_INT(fx.r.attempts, 1);
        CHECK(!strcmp(fx.r.text, "aaaabbbb"));
        fx_end();
    }
}

static void test_timeouts_are_bounded(void)
{
    fx_begin(IRIS_LLM_OPENAI, 0, 1);
    fx.cfg.idle_timeout_s = 1;
    fx.cfg.timeout_s = 30;
    llm_server_script("{'steps': [{'fault': 'stall', 'delay': 20, 'reply': {'text': 'abcdef'}}, "
                      "{'fault': 'hang', 'delay': 20}]}");
    double t0 = now_s();
    CHECK_FAILS(fx_chat(), IRIS_ETIMEOUT, "no data for 1 s");
    double stall = now_s() - t0;
    fx.cfg.idle_timeout_s = 30;
    fx.cfg.timeout_s = 1; /* the whole-request limit */
    t0 = now_s();
    CHECK_FAILS(fx_chat(), IRIS_ETIMEOUT, "timed out");
    double hang = now_s() - t0;
    /* Bounds, not speed: each limit ends the call long before the server's
     * 20 s silence would, and timeouts are not retried. */
    CHECK_MSG(stall < 8 && hang < 8, "stall %.1f s, hang %.1f s", stall, hang);
    fx_end();
}

static void test_slow_stream_completes(void)
{
    fx_begin(IRIS_LLM_OLLAMA, 0, 1);
    fx.cfg.idle_timeout_s = 2;
    llm_server_script("{'steps': [{'fault': 'slow', 'delay': 0.3, 'reply': "
                      "{'text': 'one two three four', 'chunks': 4}}]}");
    CHECK_OK(fx_chat());
    CHECK(!strcmp(fx.col.text, "one two three four"));
    CHECK_EQ_INT(fx.col.pieces, 4);
    fx_end();
}

static void test_wrong_content_type_and_giant_reply(void)
{
    fx_begin(IRIS_LLM_OPENAI, 0, 0);
    fx.cfg.max_reply_bytes = 64 * 1024;
    llm_server_script("{'steps': [{'fault': 'html'}, {'fault': 'html'}, "
                      "{'fault': 'giant', 'size': 4194304}]}");
    CHECK_FAILS(fx_chat(), IRIS_EFORMAT, "text/html");
    fx.c.req.stream = 1;
    CHECK_FAILS(fx_chat(), IRIS_EFORMAT, "text/html");
    CHECK_FAILS(fx_chat(), IRIS_ELIMIT, "65536-byte limit");
    CHECK(fx.r.len <= 64 * 1024);
    fx_end();
}

static void test_stream_fallbacks_and_error_events(void)
{
    for (int protocol = 0; protocol < 2; protocol++) {
        fx_begin(protocol, 0, 1);
        llm_server_script("{'steps': [{'fault': 'json_for_stream', 'reply': {'text': 'whole'}}, "
                          "{'fault': 'error_event', 'message': 'out of memory', "
                          "'reply': {'text': 'abcdef', 'chunks': 3}}]}");
        /* The server ignored "stream": the answer still arrives. */
        CHECK_OK(fx_chat());
        CHECK(!strcmp(fx.col.text, "whole"));
        CHECK_FAILS(fx_chat(), IRIS_EHTTP, "reported an error: out of memory");
        CHECK(!strcmp(fx.r.text, "ab"));
        fx_end();
    }
}

static void test_cancel_from_delta_callback(void)
{
    fx_begin(IRIS_LLM_OPENAI, 0, 1);
    llm_server_script("{'steps': [{'fault': 'slow', 'delay': 0.05, "
                      "'reply': {'text': 'aaaabbbbccccdddd', 'chunks': 4}}]}");
    fx.col.stop_after = 2;
    CHECK_FAILS(fx_chat(), IRIS_ECANCELLED, "cancelled by the caller");
    CHECK_EQ_INT(fx.col.pieces, 2);
    CHECK(!strcmp(fx.r.text, "aaaabbbb"));
    fx_end();
}

/* The cancel poll gets the caller's user pointer (the one on_delta gets);
 * it cancels once the request has had time to reach the server. */
static double cancel_t0;

static int cancel_when_told(void *user)
{
    collector *c = user;
    return c->stop_after == -1 && now_s() - cancel_t0 > 0.3;
}

static void test_cancel_poll_gets_callers_pointer(void)
{
    fx_begin(IRIS_LLM_OPENAI, 0, 1);
    llm_server_script("{'steps': [{'fault': 'stall', 'delay': 2, 'reply': {'text': 'a b'}}]}");
    iris_llm_reply_free(&fx.r);
    memset(&fx.col, 0, sizeof fx.col);
    fx.col.stop_after = -1;
    cancel_t0 = now_s();
    CHECK_FAILS(iris_llm_chat(&fx.cfg, &fx.c.req, NULL, cancel_when_told, &fx.col, &fx.r),
                IRIS_ECANCELLED, "cancelled");
    fx.col.stop_after = 0;
    fx_end();
}

static void test_refused_connection_and_unconfigured(void)
{
    iris_llm_config cfg;
    iris_llm_config_defaults(&cfg, "llm");
    convo c;
    convo_init(&c, 0, 0);
    iris_llm_reply r;
    CHECK_FAILS(iris_llm_chat(&cfg, &c.req, NULL, NULL, NULL, &r), IRIS_EARG, "IRIS_LLM_URL");
    iris_llm_reply_free(&r);
    /* Port 1 on loopback: nothing listens there. */
    snprintf(cfg.url, sizeof cfg.url, "http://user:pw@127.0.0.1:1/base");
    snprintf(cfg.model, sizeof cfg.model, "m");
    CHECK_FAILS(iris_llm_chat(&cfg, &c.req, NULL, NULL, NULL, &r), IRIS_ENET,
                "cannot connect");
    CHECK(strstr(iris_errmsg(), "http://127.0.0.1:1/base") && !strstr(iris_errmsg(), "pw"));
    iris_llm_reply_free(&r);
    convo_free(&c);
}

int main(void)
{
    RUN(test_openai_request_json_shape);
    RUN(test_ollama_request_json_shape);
    RUN(test_request_rejects_bad_parts);
    RUN(test_openai_nonstream_roundtrip);
    RUN(test_openai_stream_with_images);
    RUN(test_ollama_stream_and_whole);
    RUN(test_retry_429_then_success_honours_retry_after);
    RUN(test_retry_5xx_and_reset_then_success);
    RUN(test_persistent_500_is_ehttp_without_key);
    RUN(test_auth_and_not_found_hints);
    RUN(test_malformed_json);
    RUN(test_cut_off_streams);
    RUN(test_timeouts_are_bounded);
    RUN(test_slow_stream_completes);
    RUN(test_wrong_content_type_and_giant_reply);
    RUN(test_stream_fallbacks_and_error_events);
    RUN(test_cancel_from_delta_callback);
    RUN(test_cancel_poll_gets_callers_pointer);
    RUN(test_refused_connection_and_unconfigured);
    llm_server_stop();
    return test_summary();
}
