/*
 * ask_json.c - an answer as JSON: the one format of `iris ask --json` and
 * of the server's answer endpoint (docs/rag.md describes it).
 */
#include "rag/ask.h"

#include "util/error.h"

#include <cJSON.h>
#include <stdlib.h>

static const char *sent_name(int sent)
{
    switch (sent) {
    case IRIS_SENT_TEXT: return "text";
    case IRIS_SENT_IMAGE: return "image";
    case IRIS_SENT_TRUNCATED: return "truncated";
    default: return NULL;
    }
}

static cJSON *source_json(const iris_ask_source *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "number", s->number);
    cJSON_AddNumberToObject(o, "item_id", (double)s->item_id);
    cJSON_AddStringToObject(o, "modality", iris_modality_name(s->modality));
    cJSON_AddStringToObject(o, "path", s->path ? s->path : "");
    if (s->page) cJSON_AddNumberToObject(o, "page", s->page);
    else cJSON_AddNullToObject(o, "page");
    cJSON_AddNumberToObject(o, "score", s->score);
    const char *sent = sent_name(s->sent);
    if (sent) cJSON_AddStringToObject(o, "sent", sent);
    else cJSON_AddNullToObject(o, "sent");
    cJSON_AddNumberToObject(o, "cited", s->cited);
    if (s->text) cJSON_AddStringToObject(o, "text", s->text);
    else cJSON_AddNullToObject(o, "text");
    return o;
}

/* cJSON_CreateIntArray gives NULL (and the key goes missing) for none. */
static cJSON *int_array(const int *v, int n)
{
    return n ? cJSON_CreateIntArray(v, n) : cJSON_CreateArray();
}

static void add_timing(cJSON *o, const iris_answer *a)
{
    cJSON *t = cJSON_AddObjectToObject(o, "timing_ms");
    const struct { const char *name; double v; } parts[] = {
        {"embed", a->embed_ms},     {"vector", a->vector_ms},   {"keyword", a->keyword_ms},
        {"fuse", a->fuse_ms},       {"sources", a->sources_ms}, {"images", a->images_ms},
        {"prompt", a->prompt_ms},   {"llm", a->llm_ms},         {"total", a->total_ms}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        cJSON_AddNumberToObject(t, parts[i].name, parts[i].v);
}

static cJSON *answer_json(const iris_answer *a, const char *question)
{
    cJSON *o = cJSON_CreateObject();
    if (question) cJSON_AddStringToObject(o, "question", question);
    cJSON_AddStringToObject(o, "answer", a->text ? a->text : "");
    cJSON_AddBoolToObject(o, "complete", a->complete);
    cJSON_AddBoolToObject(o, "extractive", a->extractive);
    if (a->model[0]) cJSON_AddStringToObject(o, "model", a->model);
    else cJSON_AddNullToObject(o, "model");
    cJSON *arr = cJSON_AddArrayToObject(o, "sources");
    for (int i = 0; i < a->n_sources; i++) cJSON_AddItemToArray(arr, source_json(&a->sources[i]));
    cJSON_AddItemToObject(o, "citations", int_array(a->cited, a->n_cited));
    cJSON_AddItemToObject(o, "invalid_citations", int_array(a->invalid, a->n_invalid));
    cJSON_AddNumberToObject(o, "dropped", a->n_dropped);
    cJSON_AddNumberToObject(o, "images_sent", a->images_sent);
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "estimated_prompt_tokens", a->est_prompt_tokens);
    if (a->prompt_tokens >= 0) cJSON_AddNumberToObject(u, "prompt_tokens", a->prompt_tokens);
    else cJSON_AddNullToObject(u, "prompt_tokens");
    if (a->completion_tokens >= 0)
        cJSON_AddNumberToObject(u, "completion_tokens", a->completion_tokens);
    else cJSON_AddNullToObject(u, "completion_tokens");
    cJSON_AddStringToObject(o, "finish_reason", a->finish_reason);
    add_timing(o, a);
    return o;
}

int iris_answer_json(const iris_answer *a, const char *question, char **json)
{
    if (!json) return iris_fail(IRIS_EARG, "iris_answer_json: json is NULL");
    *json = NULL;
    if (!a) return iris_fail(IRIS_EARG, "iris_answer_json: no answer");
    cJSON *o = answer_json(a, question);
    *json = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *json ? IRIS_OK : iris_fail(IRIS_ENOMEM, "no memory for the answer's JSON");
}
