/*
 * llm_server.h - runs tests/py/llm_server.py (a scripted OpenAI / Ollama
 * chat server on loopback) as a child process for C tests.
 *
 *     if (!llm_server_start()) SKIP("python3 is not available");
 *     llm_server_script("{'steps': [{'reply': {'text': 'hi'}}]}");
 *     ... point an iris_llm_config at llm_server_url() and chat ...
 *     llm_server_verify();   // fails the test with the server's complaints
 *
 * Scripts are JSON written with single quotes for readability in C source;
 * they are turned into double quotes before sending (so texts in scripts
 * must not need an apostrophe). The child's stdin is a pipe: when the test
 * binary exits, however it exits, the server sees EOF and quits.
 */
#ifndef IRIS_TEST_LLM_SERVER_H
#define IRIS_TEST_LLM_SERVER_H

#include "net/http.h"
#include "net/llm.h"
#include "test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t llm_srv_pid;
static int llm_srv_port, llm_srv_stdin = -1;

static inline const char *llm_server_python(void)
{
    return access(".venv/bin/python", X_OK) == 0 ? ".venv/bin/python" : "python3";
}

/* Starts the server once per binary; returns 0 if it cannot run. */
static int llm_server_start(void)
{
    if (llm_srv_port) return 1;
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return 0;
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        const char *py = llm_server_python();
        execlp(py, py, "tests/py/llm_server.py", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char line[64] = "";
    FILE *f = fdopen(out[0], "r");
    if (!f || !fgets(line, sizeof line, f) || sscanf(line, "PORT %d", &llm_srv_port) != 1) {
        if (f) fclose(f);
        close(in[1]);
        waitpid(pid, NULL, 0);
        llm_srv_port = 0;
        return 0;
    }
    fclose(f);
    llm_srv_pid = pid;
    llm_srv_stdin = in[1];
    return 1;
}

static void llm_server_stop(void)
{
    if (!llm_srv_pid) return;
    close(llm_srv_stdin);
    waitpid(llm_srv_pid, NULL, 0);
    llm_srv_pid = 0;
    llm_srv_port = 0;
}

/* "http://127.0.0.1:PORT" (static buffer). */
static const char *llm_server_url(void)
{
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", llm_srv_port);
    return url;
}

/* A configuration for role that talks to the test server. */
static inline void llm_server_config(iris_llm_config *c, const char *role, const char *model,
                              int protocol)
{
    iris_llm_config_defaults(c, role);
    snprintf(c->url, sizeof c->url, "%s", llm_server_url());
    snprintf(c->model, sizeof c->model, "%s", model);
    c->protocol = protocol;
}

static int llm_server_call_(const char *method, const char *path, const char *body,
                            iris_http_response *resp)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", llm_server_url(), path);
    iris_http_request req = {.method = method, .url = url, .body = body,
                             .body_len = body ? strlen(body) : 0,
                             .content_type = "application/json"};
    iris_http_opts o;
    iris_http_opts_init(&o);
    o.timeout_ms = 10000;
    o.max_retries = 0;
    return iris_http_perform(&req, &o, resp);
}

/* Queues the next steps (single-quoted JSON, see above). */
#define llm_server_script(...)                                                 \
    do {                                                                       \
        char s_[16384];                                                        \
        snprintf(s_, sizeof s_, __VA_ARGS__);                                  \
        for (char *p_ = s_; *p_; p_++)                                         \
            if (*p_ == '\'') *p_ = '"';                                        \
        iris_http_response r_;                                                 \
        int rc_ = llm_server_call_("POST", "/_script", s_, &r_);               \
        iris_http_response_free(&r_);                                          \
        CHECK_MSG(rc_ == 0, "scripting the server: %s", iris_errmsg());        \
    } while (0)

/* Fails the test if the server saw a request of the wrong shape, or
 * scripted steps were left unused. */
#define llm_server_verify()                                                    \
    do {                                                                       \
        iris_http_response r_;                                                 \
        int rc_ = llm_server_call_("GET", "/_verify", NULL, &r_);              \
        int ok_ = rc_ == 0 && r_.body && strstr(r_.body, "\"ok\": true");      \
        char vm_[900];                                                         \
        snprintf(vm_, sizeof vm_, "%s", r_.body ? r_.body : iris_errmsg());      \
        iris_http_response_free(&r_);                                          \
        CHECK_MSG(ok_, "server found: %s", vm_);                                \
    } while (0)

#endif
