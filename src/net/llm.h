/*
 * llm.h - chat clients for language and vision models: the OpenAI-compatible
 * protocol (OpenAI, vLLM, llama.cpp server, LM Studio, Ollama's /v1) and
 * Ollama's native /api/chat.
 *
 * A request is a list of messages, each a list of parts (text, or an encoded
 * image). The OpenAI protocol sends parts in order as content parts, images
 * as "data:<mime>;base64,..." URLs (a message with only text is sent as a
 * plain string, which text-only servers accept). Ollama's protocol has one
 * content string per message plus an "images" array of base64 strings: text
 * parts are joined as written and images go, in order, into that array, so a
 * prompt that wants to refer to an image should say which one it is
 * ("attached image 2"). See docs/rag.md for the exact bodies.
 *
 * Streaming (SSE for OpenAI, NDJSON for Ollama) hands each piece of the
 * answer to a callback as it arrives, and the whole answer is also returned.
 * Servers are not trusted: malformed JSON, a cut-off stream (no [DONE] /
 * done:true), a wrong content type, an answer over max_reply_bytes or a
 * stalled connection each end with a clear error; the partial answer so far
 * stays in the reply for the caller to show.
 *
 * Configuration comes from the [<role>] section of the configuration file
 * (util/config.h) overlaid by environment variables IRIS_<ROLE>_*, where role
 * is "llm" (answers), "vlm" (captions) or "vlm_strong" (the stronger caption
 * model, which starts from the "vlm" settings). The API key is read from an
 * environment variable at request time only (IRIS_<ROLE>_API_KEY unless
 * api_key_env names another); a key in the file is refused, and the key
 * never appears in a message.
 */
#ifndef IRIS_NET_LLM_H
#define IRIS_NET_LLM_H

#include "net/http.h"
#include "util/config.h"

#include <stddef.h>

enum { IRIS_LLM_OPENAI = 0, IRIS_LLM_OLLAMA = 1 };

typedef struct iris_llm_config {
    char role[16];            /* "llm", "vlm", "vlm_strong" */
    char url[512];            /* base URL ("" = not configured) */
    char model[256];          /* "" = not configured */
    int protocol;             /* IRIS_LLM_OPENAI or IRIS_LLM_OLLAMA */
    char api_key_env[64];     /* variable that holds the key */
    double timeout_s;         /* whole request; default 300 */
    double connect_timeout_s; /* default 10 */
    double idle_timeout_s;    /* no byte for this long aborts; default 60 */
    int max_retries;          /* default 3 */
    double backoff_s;         /* first retry waits about this long; default 0.5 */
    int context_tokens;       /* the model's window; default 8192 */
    int max_tokens;           /* answer length asked for; default 1024 */
    double temperature;       /* < 0: the server's default (the default) */
    int vision;               /* accepts images: default 0 for llm, 1 for vlm */
    int image_tokens;         /* what one image costs in the window; default 768 */
    double price_in;          /* price per million input tokens (estimates); 0 */
    double price_out;         /* price per million output tokens; 0 */
    double seconds_per_request; /* typical time of one request, for estimates;
                                 * 0 = unknown */
    size_t max_reply_bytes;   /* answer cap; default 1 MiB */
} iris_llm_config;

/* Defaults for role (see above); no file, no environment. */
void iris_llm_config_defaults(iris_llm_config *cfg, const char *role);
/* Defaults (or *inherit when given), then the [role] section of file (may be
 * NULL), then IRIS_<ROLE>_* variables. Unknown keys and bad values fail with
 * IRIS_EARG naming the file and line or the variable. */
int iris_llm_config_load(iris_llm_config *cfg, const char *role, const iris_config *file,
                         const iris_llm_config *inherit);
/* 1 when a URL and a model are set. */
int iris_llm_configured(const iris_llm_config *cfg);
/* The full endpoint: base + /v1/chat/completions or /api/chat (a base that
 * already ends in /v1, /api or the full path is completed, not doubled). */
void iris_llm_endpoint(const iris_llm_config *cfg, char *buf, size_t cap);
/* "IRIS_LLM" for role "llm": the prefix of the role's variables. */
void iris_llm_env_prefix(const char *role, char *buf, size_t cap);

typedef struct iris_llm_part {
    const char *text;           /* a text part; NULL for an image part */
    const unsigned char *image; /* encoded image bytes */
    size_t image_len;
    const char *mime;           /* "image/jpeg", "image/png", ... */
} iris_llm_part;

typedef struct iris_llm_message {
    const char *role; /* "system", "user" or "assistant" */
    const iris_llm_part *parts;
    int n_parts;
} iris_llm_message;

typedef struct iris_llm_request {
    const iris_llm_message *messages;
    int n_messages;
    int stream;     /* ask for a streamed answer */
    int max_tokens; /* 0: cfg->max_tokens */
} iris_llm_request;

/* Receives each piece of a streamed answer (UTF-8, not NUL-terminated).
 * Return non-zero to stop: the chat then ends with IRIS_ECANCELLED. */
typedef int (*iris_llm_delta_fn)(const char *text, size_t len, void *user);

typedef struct iris_llm_reply {
    char *text;                  /* the answer (or what arrived of it); NUL-terminated */
    size_t len;
    char finish_reason[32];      /* "stop", "length", ... or "" */
    int prompt_tokens;           /* as reported by the server, -1 if not */
    int completion_tokens;
    int attempts;                /* HTTP attempts made */
    long http_status;
} iris_llm_reply;

/* "image/jpeg" or "image/png" when data is one of those, else NULL: the
 * two encodings every supported endpoint accepts (others are converted by
 * the caller first). */
const char *iris_llm_image_mime(const unsigned char *data, size_t len);

/* The JSON body for req under cfg's protocol (malloc'ed, NUL-terminated). */
int iris_llm_request_json(const iris_llm_config *cfg, const iris_llm_request *req,
                          char **json, size_t *len);

/* Sends req and reads the answer. on_delta (may be NULL) gets streamed
 * pieces; in non-streaming mode it gets the whole answer once. cancel (may be
 * NULL) is polled. The reply must be freed with iris_llm_reply_free() in
 * every case. */
int iris_llm_chat(const iris_llm_config *cfg, const iris_llm_request *req,
                  iris_llm_delta_fn on_delta, iris_http_cancel_fn cancel, void *user,
                  iris_llm_reply *reply);
void iris_llm_reply_free(iris_llm_reply *reply);

#endif
