/*
 * llm_config.c - where an LLM / VLM endpoint's settings come from (see
 * llm.h): defaults, then the configuration file's [role] section, then
 * IRIS_<ROLE>_* environment variables.
 *
 * One table lists every setting once, with its file key, its variable, its
 * type and its bounds, so the file and the environment cannot drift apart
 * and docs/rag.md can be checked against a single place. Values are strict:
 * "12s" is not a number, an unknown key is an error (a typo would otherwise
 * silently leave a default in force).
 */
#include "net/llm.h"

#include "util/error.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_STR, F_INT, F_DBL, F_BOOL, F_SIZE, F_PROTO } field_type;

typedef struct field {
    const char *key;  /* in the file */
    const char *env;  /* IRIS_<ROLE>_<env>, NULL: file only */
    field_type type;
    size_t off, size; /* where in iris_llm_config */
    double lo, hi;    /* bounds for numbers */
} field;

#define FIELD(k, e, t, m, lo, hi) \
    {k, e, t, offsetof(iris_llm_config, m), sizeof(((iris_llm_config *)0)->m), lo, hi}

static const field fields[] = {
    FIELD("url", "URL", F_STR, url, 0, 0),
    FIELD("model", "MODEL", F_STR, model, 0, 0),
    FIELD("protocol", "PROTOCOL", F_PROTO, protocol, 0, 0),
    FIELD("api_key_env", NULL, F_STR, api_key_env, 0, 0),
    FIELD("timeout", "TIMEOUT", F_DBL, timeout_s, 0.001, 86400),
    FIELD("connect_timeout", "CONNECT_TIMEOUT", F_DBL, connect_timeout_s, 0.001, 3600),
    FIELD("idle_timeout", "IDLE_TIMEOUT", F_DBL, idle_timeout_s, 1, 86400),
    FIELD("retries", "RETRIES", F_INT, max_retries, 0, 20),
    FIELD("backoff", "BACKOFF", F_DBL, backoff_s, 0.001, 600),
    FIELD("context", "CONTEXT", F_INT, context_tokens, 256, 100000000),
    FIELD("max_tokens", "MAX_TOKENS", F_INT, max_tokens, 1, 10000000),
    FIELD("temperature", "TEMPERATURE", F_DBL, temperature, -1, 10),
    FIELD("vision", "VISION", F_BOOL, vision, 0, 0),
    FIELD("image_tokens", "IMAGE_TOKENS", F_INT, image_tokens, 1, 1000000),
    FIELD("price_in", "PRICE_IN", F_DBL, price_in, 0, 1e6),
    FIELD("price_out", "PRICE_OUT", F_DBL, price_out, 0, 1e6),
    FIELD("seconds_per_request", "SECONDS_PER_REQUEST", F_DBL, seconds_per_request, 0, 86400),
    FIELD("max_reply_bytes", "MAX_REPLY_BYTES", F_SIZE, max_reply_bytes, 1024, 1e9),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

void iris_llm_env_prefix(const char *role, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "IRIS_%s", role);
    for (size_t i = 5; i < n && i < cap; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
}

void iris_llm_config_defaults(iris_llm_config *c, const char *role)
{
    memset(c, 0, sizeof *c);
    snprintf(c->role, sizeof c->role, "%s", role);
    char prefix[32];
    iris_llm_env_prefix(role, prefix, sizeof prefix);
    snprintf(c->api_key_env, sizeof c->api_key_env, "%s_API_KEY", prefix);
    c->protocol = IRIS_LLM_OPENAI;
    c->timeout_s = 300;
    c->connect_timeout_s = 10;
    c->idle_timeout_s = 60;
    c->max_retries = 3;
    c->backoff_s = 0.5;
    c->context_tokens = 8192;
    c->max_tokens = 1024;
    c->temperature = -1;
    c->vision = strcmp(role, "llm") != 0;
    c->image_tokens = 768;
    c->max_reply_bytes = 1u << 20;
}

int iris_llm_configured(const iris_llm_config *c) { return c->url[0] && c->model[0]; }

/* Parses value for f into the config; where names the source for messages
 * ("file.toml:3" or "IRIS_LLM_TIMEOUT"). */
static int set_field(iris_llm_config *c, const field *f, const char *value, const char *where)
{
    char *dst = (char *)c + f->off;
    if (f->type == F_STR) {
        if (strlen(value) >= f->size)
            return iris_fail(IRIS_EARG, "%s: value longer than %zu characters", where, f->size - 1);
        memcpy(dst, value, strlen(value) + 1);
        return IRIS_OK;
    }
    if (f->type == F_PROTO) {
        if (!strcmp(value, "openai")) *(int *)dst = IRIS_LLM_OPENAI;
        else if (!strcmp(value, "ollama")) *(int *)dst = IRIS_LLM_OLLAMA;
        else return iris_fail(IRIS_EARG, "%s: protocol '%s' (use openai or ollama)", where, value);
        return IRIS_OK;
    }
    if (f->type == F_BOOL) {
        int on = !strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes");
        int off = !strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no");
        if (!on && !off) return iris_fail(IRIS_EARG, "%s: '%s' is not true or false", where, value);
        *(int *)dst = on;
        return IRIS_OK;
    }
    double v;
    int rc = iris_config_number(value, where, f->lo, f->hi, f->type != F_DBL, &v);
    if (rc) return rc;
    if (f->type == F_DBL) *(double *)dst = v;
    else if (f->type == F_INT) *(int *)dst = (int)v;
    else *(size_t *)dst = (size_t)v;
    return IRIS_OK;
}

static const field *find_field(const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (!strcmp(fields[i].key, key)) return &fields[i];
    return NULL;
}

static int load_file_section(iris_llm_config *c, const iris_config *file, const char *prefix)
{
    const char *key, *value;
    int pos = 0, line;
    while (iris_config_next(file, c->role, &pos, &key, &value, &line)) {
        char where[600];
        snprintf(where, sizeof where, "%s:%d: [%s] %s", iris_config_origin(file), line, c->role,
                 key);
        if (!strcmp(key, "api_key"))
            return iris_fail(IRIS_EARG,
                             "%s: API keys are never read from files; set the environment "
                             "variable %s_API_KEY (or name another with api_key_env)",
                             where, prefix);
        const field *f = find_field(key);
        if (!f) return iris_fail(IRIS_EARG, "%s: unknown setting (see docs/rag.md)", where);
        int rc = set_field(c, f, value, where);
        if (rc) return rc;
    }
    return IRIS_OK;
}

static int load_env(iris_llm_config *c, const char *prefix)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (!fields[i].env) continue;
        char name[96];
        snprintf(name, sizeof name, "%s_%s", prefix, fields[i].env);
        const char *value = getenv(name);
        if (!value || !*value) continue;
        int rc = set_field(c, &fields[i], value, name);
        if (rc) return rc;
    }
    /* A role's own key variable wins over an inherited one. */
    char key_var[96];
    snprintf(key_var, sizeof key_var, "%s_API_KEY", prefix);
    if (getenv(key_var) && strlen(key_var) < sizeof c->api_key_env)
        memcpy(c->api_key_env, key_var, strlen(key_var) + 1);
    return IRIS_OK;
}

int iris_llm_config_load(iris_llm_config *c, const char *role, const iris_config *file,
                         const iris_llm_config *inherit)
{
    if (!role || !*role || strlen(role) >= sizeof c->role)
        return iris_fail(IRIS_EARG, "LLM configuration needs a role name");
    if (inherit) {
        *c = *inherit;
        snprintf(c->role, sizeof c->role, "%s", role);
    } else {
        iris_llm_config_defaults(c, role);
    }
    char prefix[32];
    iris_llm_env_prefix(role, prefix, sizeof prefix);
    int rc = load_file_section(c, file, prefix);
    if (!rc) rc = load_env(c, prefix);
    return rc;
}

/* True if s ends with suffix (ignoring one trailing slash on s). */
static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

void iris_llm_endpoint(const iris_llm_config *c, char *buf, size_t cap)
{
    size_t n = strlen(c->url);
    while (n && c->url[n - 1] == '/') n--;
    const char *full = c->protocol == IRIS_LLM_OLLAMA ? "/api/chat" : "/v1/chat/completions";
    const char *tail = full;
    if (ends_with(c->url, n, full)) tail = "";
    else if (c->protocol == IRIS_LLM_OLLAMA && ends_with(c->url, n, "/api")) tail = "/chat";
    else if (c->protocol == IRIS_LLM_OPENAI && ends_with(c->url, n, "/v1"))
        tail = "/chat/completions";
    snprintf(buf, cap, "%.*s%s", (int)n, c->url, tail);
}
