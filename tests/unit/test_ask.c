/* iris_ask() end to end on a small index (ask_fixtures.h) and the scripted
 * chat server: sources in search order with images merged, citations
 * mapped to files and pages, images native (bytes compared by the server)
 * or as captions and OCR text, both protocols, the extractive answer, the
 * token budget, faults (429, 500, malformed JSON, cut-off streams,
 * timeouts) that never touch the index, cancellation, bad input, the JSON
 * format, and the `iris ask` command line. */
#include "ask_fixtures.h"
#include "llm_server.h"
#include "rag/prompt.h"

#include <cJSON.h>

#define QUESTION "How do I reset the printer?"
#define KEY "SECRET-KEY-4711"

typedef struct collected {
    char text[8192];
    int pieces;
    int stop_after; /* cancel after this many pieces (0 = never) */
} collected;

static int collect(const char *text, size_t len, void *user)
{
    collected *c = user;
    strncat(c->text, text, len < sizeof c->text - strlen(c->text) - 1 ? len
                                                                    : sizeof c->text - strlen(c->text) - 1);
    c->pieces++;
    return c->stop_after && c->pieces >= c->stop_after;
}

static void use_server(const char *model, const char *protocol, int vision)
{
    setenv("IRIS_LLM_URL", llm_server_url(), 1);
    setenv("IRIS_LLM_MODEL", model, 1);
    setenv("IRIS_LLM_PROTOCOL", protocol, 1);
    setenv("IRIS_LLM_VISION", vision ? "1" : "0", 1);
    setenv("IRIS_LLM_BACKOFF", "0.01", 1);
}

/* The paths iris_ask should number, from the same search: the items of
 * one image file merge into one source. */
static int is_image_path(const char *p)
{
    return strstr(p, ".jpg") || strstr(p, ".png");
}

static int expected_paths(iris_db *db, const char *question, int mode, char paths[][256], int max)
{
    iris_query q = {.text = question, .mode = mode, .k = 3 * max};
    iris_results *r;
    CHECK_OK(iris_search(db, &q, &r));
    int n = 0;
    for (int i = 0; i < r->n && n < max; i++) {
        int dup = 0;
        for (int j = 0; j < n && is_image_path(r->hits[i].path); j++)
            dup |= !strcmp(paths[j], r->hits[i].path);
        if (!dup) snprintf(paths[n++], 256, "%s", r->hits[i].path);
    }
    iris_results_free(r);
    return n;
}

static int number_of(char paths[][256], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(paths[i], axf_path(name))) return i + 1;
    return 0;
}

/* "'a', 'b'" of the image paths among paths, for a server script. */
static void image_list(char paths[][256], int n, const char *skip, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!is_image_path(paths[i]) || (skip && strstr(paths[i], skip))) continue;
        if (strlen(out) + strlen(paths[i]) + 5 >= cap) abort();
        strcat(strcat(strcat(strcat(out, out[0] ? ", '" : "'"), paths[i]), "'"), "");
    }
}

static int64_t content_of(iris_db *db, const char *name)
{
    store_file f;
    db_lock(db);
    int rc = store_file_get(db->st, axf_path(name), &f);
    db_unlock(db);
    CHECK_OK(rc);
    return f.content_id;
}

/* ----------------------------------------------------------- extractive */

static void test_extractive_without_model(void)
{
    iris_db *db = axf_open();
    collected c = {0};
    iris_answer *a = NULL;
    iris_ask_opts o = {.mode = IRIS_MODE_KEYWORD};
    CHECK_OK(iris_ask(db, QUESTION, &o, collect, &c, &a));
    CHECK(a->extractive && a->complete && !a->model[0]);
    CHECK_EQ_INT(c.pieces, 1);
    CHECK(!strcmp(c.text, a->text));
    CHECK_MSG(strstr(a->text, "No language model is configured") &&
              strstr(a->text, "IRIS_LLM_URL"), "%s", a->text);
    char want[8][256];
    int n = expected_paths(db, QUESTION, IRIS_MODE_KEYWORD, want, 8);
    CHECK_EQ_INT(a->n_sources, n);
    for (int i = 0; i < n; i++) {
        CHECK(!strcmp(a->sources[i].path, want[i]));
        CHECK_EQ_INT(a->sources[i].number, i + 1);
        CHECK_EQ_INT(a->sources[i].sent, 0);
        CHECK_MSG(a->sources[i].cited == 1, "%.900s", a->text);
    }
    /* [1] is the best keyword match, quoted where the question's words are. */
    CHECK(!strcmp(a->sources[0].path, axf_path("manual.txt")));
    CHECK(strstr(a->text, "[1] ") && strstr(a->text, "hold the red button"));
    CHECK_EQ_INT(a->n_cited, a->n_sources);
    CHECK_EQ_INT(a->n_invalid, 0);
    iris_answer_free(a);
    /* Nothing matches: still an answer, not an error. */
    CHECK_OK(iris_ask(db, "zzzqqq", &o, NULL, NULL, &a));
    CHECK(a->extractive && a->n_sources == 0 && strstr(a->text, "No indexed passage"));
    iris_answer_free(a);
    axf_close(db);
}

/* ------------------------------------------------------- with a model */

static void test_native_images_and_citations_openai(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_db *db = axf_open();
    use_server("vision-model", "openai", 1);
    char want[8][256], images[1024];
    int n = expected_paths(db, QUESTION, IRIS_MODE_HYBRID, want, 8);
    CHECK_EQ_INT(n, 6); /* 7 items; the panel photo's two merge */
    image_list(want, n, NULL, images, sizeof images);
    int manual = number_of(want, n, "manual.txt"), panel = number_of(want, n, "panel.jpg");
    CHECK(manual && panel);
    llm_server_script("{'steps': [{'expect': {'protocol': 'openai', 'model': 'vision-model', "
                      "'stream': true, 'roles': ['system', 'user'], 'images': [%s], "
                      "'text_contains': ['Question: " QUESTION "', '(attached image 1)', "
                      "'Text in the image: RESET lamp', 'hold the red button']}, "
                      "'reply': {'text': 'Hold the red button [%d]. The panel lamp blinks "
                      "[%d][9].', 'chunks': 4, 'prompt_tokens': 900, 'completion_tokens': 12}}]}",
                      images, manual, panel);
    collected c = {0};
    iris_answer *a = NULL;
    CHECK_OK(iris_ask(db, QUESTION, NULL, collect, &c, &a));
    llm_server_verify();
    CHECK(!a->extractive && a->complete && !strcmp(a->model, "vision-model"));
    CHECK_EQ_INT(c.pieces, 4);
    CHECK(!strcmp(c.text, a->text));
    CHECK_EQ_INT(a->n_sources, n);
    for (int i = 0; i < n; i++) {
        CHECK(!strcmp(a->sources[i].path, want[i]));
        CHECK_EQ_INT(a->sources[i].sent, is_image_path(want[i]) ? IRIS_SENT_IMAGE : IRIS_SENT_TEXT);
    }
    CHECK_EQ_INT(a->images_sent, 2);
    CHECK(a->n_cited == 2 && a->cited[0] == manual && a->cited[1] == panel);
    CHECK(a->n_invalid == 1 && a->invalid[0] == 9);
    const iris_ask_source *ps = &a->sources[panel - 1];
    CHECK_EQ_INT(ps->cited, 1);
    CHECK_EQ_INT(ps->modality, IRIS_MOD_IMAGE);
    CHECK(!strcmp(ps->text, "RESET lamp"));
    iris_item it; /* the photo's own item, whichever of its items matched */
    CHECK_OK(iris_item_get(db, ps->item_id, &it));
    CHECK_EQ_INT(it.modality, IRIS_MOD_IMAGE);
    iris_item_clear(&it);
    CHECK(a->sources[manual - 1].cited == 1 && strstr(a->sources[manual - 1].text, "red button"));
    CHECK_EQ_INT(a->prompt_tokens, -1); /* OpenAI streams report no usage */
    CHECK(a->est_prompt_tokens > 2 * 768); /* two images at 768 tokens each */
    CHECK(a->total_ms >= a->llm_ms && a->llm_ms > 0);
    iris_answer_free(a);
    axf_close(db);
}

static void test_text_mode_ollama_uses_captions(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_db *db = axf_open();
    use_server("llama3.2", "ollama", 1);
    int64_t panel_cid = content_of(db, "panel.jpg");
    db_lock(db);
    int rc = store_caption_item_set(db->st, panel_cid,
                                    "a red card with a white square", 0, NULL, 0, NULL);
    db_unlock(db);
    CHECK_OK(rc);
    char want[8][256];
    int n = expected_paths(db, "white square card", IRIS_MODE_KEYWORD, want, 8);
    int panel = number_of(want, n, "panel.jpg");
    CHECK_EQ_INT(panel, 1);
    llm_server_script("{'steps': [{'expect': {'protocol': 'ollama', 'model': 'llama3.2', "
                      "'stream': false, 'num_ctx': 8192, 'images': [], 'text_contains': "
                      "['[1] image: %s\\nCaption: a red card with a white square\\n"
                      "Text in the image: RESET lamp'], 'text_excludes': ['attached image']}, "
                      "'reply': {'text': 'A white square on red [1].', 'prompt_tokens': 321, "
                      "'completion_tokens': 7}}]}",
                      axf_path("panel.jpg"));
    iris_ask_opts o = {.mode = IRIS_MODE_KEYWORD, .images = IRIS_ASK_IMAGES_TEXT, .no_stream = 1};
    iris_answer *a = NULL;
    CHECK_OK(iris_ask(db, "white square card", &o, NULL, NULL, &a));
    llm_server_verify();
    CHECK_EQ_INT(a->images_sent, 0);
    CHECK_EQ_INT(a->sources[0].sent, IRIS_SENT_TEXT);
    CHECK(!strcmp(a->sources[0].text, "a red card with a white square"));
    CHECK(a->n_cited == 1 && a->cited[0] == 1);
    CHECK(a->prompt_tokens == 321 && a->completion_tokens == 7);
    /* Auto mode with a text-only model: the same, no image sent. */
    setenv("IRIS_LLM_VISION", "0", 1);
    llm_server_script("{'steps': [{'expect': {'images': []}, 'reply': {'text': 'ok [1]'}}]}");
    iris_answer_free(a);
    o.images = IRIS_ASK_IMAGES_AUTO;
    CHECK_OK(iris_ask(db, "white square card", &o, NULL, NULL, &a));
    llm_server_verify();
    iris_answer_free(a);
    axf_close(db);
}

/* ------------------------------------------------------------- faults */

typedef struct fault_case {
    const char *script;
    int status;
    const char *partial; /* what must have arrived, or NULL */
} fault_case;

static void test_faults_never_touch_the_index(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_db *db = axf_open();
    use_server("m", "openai", 0);
    setenv("IRIS_LLM_RETRIES", "1", 1);
    setenv("IRIS_LLM_TIMEOUT", "1", 1);
    int64_t items = axf_items(db);
    const fault_case cases[] = {
        {"{'steps': [{'fault': 'status', 'status': 429, 'message': 'slow down'}, "
         "{'reply': {'text': 'fine [1]'}}]}", IRIS_OK, "fine [1]"},
        {"{'steps': [{'fault': 'status', 'status': 500}, {'fault': 'status', 'status': 500}]}",
         IRIS_EHTTP, NULL},
        {"{'steps': [{'fault': 'malformed', 'reply': {'text': 'abc def', 'chunks': 2}}]}",
         IRIS_EFORMAT, NULL},
        {"{'steps': [{'fault': 'cut', 'reply': {'text': 'first half [1] second half', "
         "'chunks': 4}}]}", IRIS_ENET, "first "},
        {"{'steps': [{'fault': 'cut_chunked', 'reply': {'text': 'aaaa bbbb cccc dddd', "
         "'chunks': 4}}]}", IRIS_ENET, "aaaa "},
        {"{'steps': [{'fault': 'hang', 'delay': 3}]}", IRIS_ETIMEOUT, NULL},
        {"{'steps': [{'fault': 'html'}]}", IRIS_EFORMAT, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llm_server_script("%s", cases[i].script);
        iris_answer *a = NULL;
        collected c = {0};
        int rc = iris_ask(db, QUESTION, NULL, collect, &c, &a);
        CHECK_MSG(rc == cases[i].status, "case %zu: %d (%s)", i, rc, iris_errmsg());
        CHECK_MSG(a != NULL, "case %zu: no answer", i);
        CHECK(a->n_sources > 0 && a->complete == (rc == IRIS_OK));
        if (cases[i].partial) CHECK_MSG(strstr(a->text, cases[i].partial), "case %zu: %s", i, a->text);
        CHECK(!strcmp(c.text, a->text)); /* the caller saw exactly what is returned */
        iris_answer_free(a);
        llm_server_verify();
        CHECK_MSG(axf_integrity_ok(), "case %zu: integrity_check failed", i);
        CHECK_EQ_INT(axf_items(db), items);
    }
    /* Nobody listening: a network error, with the sources kept. */
    setenv("IRIS_LLM_URL", "http://127.0.0.1:9", 1);
    iris_answer *a = NULL;
    CHECK_FAILS(iris_ask(db, QUESTION, NULL, NULL, NULL, &a), IRIS_ENET, "127.0.0.1:9");
    CHECK(a && a->n_sources > 0 && !a->complete);
    iris_answer_free(a);
    CHECK(axf_integrity_ok());
    axf_close(db);
}

/* ------------------------------------------------- budget and images */

static void test_budget_and_changed_images(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_db *db = axf_open();
    use_server("m", "openai", 1);
    /* The photo changed since indexing: its pixels are no longer what was
     * found, so it goes as text; the other image is still attached. */
    axf_copy("tests/fixtures/rag/blue.png", "panel.jpg");
    char want[8][256], images[1024];
    int n = expected_paths(db, QUESTION, IRIS_MODE_HYBRID, want, 8);
    image_list(want, n, "panel.jpg", images, sizeof images);
    llm_server_script("{'steps': [{'expect': {'images': [%s], 'text_contains': ['Text in the "
                      "image: RESET lamp']}, 'reply': {'text': 'ok'}}]}", images);
    iris_answer *a = NULL;
    CHECK_OK(iris_ask(db, QUESTION, NULL, NULL, NULL, &a));
    llm_server_verify();
    CHECK_EQ_INT(a->images_sent, 1);
    CHECK_EQ_INT(a->sources[number_of(want, n, "panel.jpg") - 1].sent, IRIS_SENT_TEXT);
    iris_answer_free(a);
    /* Smaller and smaller windows: what is sent is always the best-ranked
     * prefix of the sources, within the window less the answer's reserve. */
    setenv("IRIS_LLM_MAX_TOKENS", "200", 1);
    setenv("IRIS_LLM_VISION", "0", 1);
    int saw_drop = 0, context = 700;
    for (;; context -= 20) {
        CHECK(context >= 256);
        char v[16];
        snprintf(v, sizeof v, "%d", context);
        setenv("IRIS_LLM_CONTEXT", v, 1);
        llm_server_script("{'steps': [{'expect': {'max_tokens': 200}, 'reply': {'text': 'ok'}}]}");
        int rc = iris_ask(db, QUESTION, &(iris_ask_opts){.mode = IRIS_MODE_KEYWORD}, NULL, NULL, &a);
        if (rc == IRIS_ELIMIT) break;
        CHECK_OK(rc);
        llm_server_verify();
        CHECK(a->est_prompt_tokens <= context - 200);
        if (a->n_sources) CHECK(!strcmp(a->sources[0].path, axf_path("manual.txt")));
        saw_drop |= a->n_dropped > 0 && a->n_sources >= 1;
        iris_answer_free(a);
    }
    CHECK(saw_drop);
    CHECK_MSG(strstr(iris_errmsg(), "window"), "%s", iris_errmsg());
    llm_server_script("{'steps': []}");
    /* The window too small for the question alone: a clear error, no request. */
    CHECK_FAILS(iris_ask(db, QUESTION, NULL, NULL, NULL, &a), IRIS_ELIMIT, "window");
    CHECK(a == NULL);
    llm_server_verify();
    axf_close(db);
}

/* ------------------------------------------------- bad input, cancel */

static int cancel_now(void *user)
{
    (void)user;
    return 1;
}

static void test_bad_input_and_cancel(void)
{
    iris_db *db = axf_open();
    iris_answer *a = (iris_answer *)1;
    CHECK_FAILS(iris_ask(db, "", NULL, NULL, NULL, &a), IRIS_EARG, "empty question");
    CHECK(a == NULL);
    CHECK_EQ_INT(iris_ask(NULL, "q", NULL, NULL, NULL, &a), IRIS_EARG);
    CHECK_EQ_INT(iris_ask(db, "q", NULL, NULL, NULL, NULL), IRIS_EARG);
    CHECK_FAILS(iris_ask(db, "q", &(iris_ask_opts){.k = 101}, NULL, NULL, &a), IRIS_EARG, "k must");
    CHECK_FAILS(iris_ask(db, "q", &(iris_ask_opts){.images = 9}, NULL, NULL, &a), IRIS_EARG,
                "image mode");
    CHECK_EQ_INT(iris_ask(db, "q", &(iris_ask_opts){.mode = 7}, NULL, NULL, &a), IRIS_EARG);
    char *big = malloc(20001);
    memset(big, 'a', 20000);
    big[20000] = '\0';
    CHECK_EQ_INT(iris_ask(db, big, NULL, NULL, NULL, &a), IRIS_ELIMIT);
    free(big);
    CHECK_EQ_INT(iris_ask(db, "bad \xff utf-8", NULL, NULL, NULL, &a), IRIS_EARG);
    CHECK(a == NULL);
    /* A key in the configuration file is refused, and not echoed. */
    if (fx_write(axf_dir, "config.toml", "[llm]\napi_key = sk-NOT-HERE\n", 28)) abort();
    CHECK_EQ_INT(iris_ask(db, "q", NULL, NULL, NULL, &a), IRIS_EARG);
    CHECK(!strstr(iris_errmsg(), "sk-NOT-HERE") && strstr(iris_errmsg(), "config.toml"));
    CHECK_FAILS(iris_ask(db, "q", &(iris_ask_opts){.config = "/nonexistent/iris.toml"}, NULL,
                         NULL, &a), IRIS_ENOTFOUND, "/nonexistent/iris.toml");
    if (fx_write(axf_dir, "config.toml", "", 0)) abort();
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    use_server("m", "openai", 0);
    /* The caller stops the stream after its first piece. */
    llm_server_script("{'steps': [{'reply': {'text': 'one two three four', 'chunks': 4}}]}");
    collected c = {.stop_after = 1};
    CHECK_EQ_INT(iris_ask(db, QUESTION, NULL, collect, &c, &a), IRIS_ECANCELLED);
    CHECK(a && !a->complete && c.pieces == 1 && !strcmp(a->text, c.text));
    iris_answer_free(a);
    /* The cancel poll stops a stalled model within its polling period. */
    llm_server_script("{'steps': [{'fault': 'stall', 'delay': 2, 'reply': {'text': 'x y'}}]}");
    CHECK_EQ_INT(iris_ask(db, QUESTION, &(iris_ask_opts){.cancel = cancel_now}, NULL, NULL, &a),
                 IRIS_ECANCELLED);
    iris_answer_free(a);
    axf_close(db);
}

/* --------------------------------------------------------------- JSON */

static void test_json_format(void)
{
    iris_db *db = axf_open();
    iris_answer *a = NULL;
    CHECK_OK(iris_ask(db, QUESTION, &(iris_ask_opts){.mode = IRIS_MODE_KEYWORD}, NULL, NULL, &a));
    char *json;
    CHECK_OK(iris_answer_json(a, QUESTION, &json));
    cJSON *o = cJSON_Parse(json);
    CHECK(o);
    CHECK(!strcmp(cJSON_GetObjectItem(o, "question")->valuestring, QUESTION));
    CHECK(!strcmp(cJSON_GetObjectItem(o, "answer")->valuestring, a->text));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "extractive")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "complete")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "model")));
    cJSON *srcs = cJSON_GetObjectItem(o, "sources");
    CHECK_EQ_INT(cJSON_GetArraySize(srcs), a->n_sources);
    int saw_pdf = 0;
    for (int i = 0; i < a->n_sources; i++) {
        cJSON *s = cJSON_GetArrayItem(srcs, i);
        CHECK_EQ_INT(cJSON_GetObjectItem(s, "number")->valueint, i + 1);
        CHECK(!strcmp(cJSON_GetObjectItem(s, "path")->valuestring, a->sources[i].path));
        CHECK(!strcmp(cJSON_GetObjectItem(s, "modality")->valuestring,
                      iris_modality_name(a->sources[i].modality)));
        cJSON *page = cJSON_GetObjectItem(s, "page");
        if (a->sources[i].page) {
            CHECK_EQ_INT(page->valueint, a->sources[i].page);
            saw_pdf = 1;
        } else {
            CHECK(cJSON_IsNull(page));
        }
    }
    CHECK(saw_pdf);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "citations")), a->n_cited);
    CHECK(cJSON_IsArray(cJSON_GetObjectItem(o, "invalid_citations"))); /* [] when none */
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "invalid_citations")), 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "usage"), "prompt_tokens")));
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "timing_ms"), "total")->valuedouble > 0);
    cJSON_Delete(o);
    free(json);
    CHECK_EQ_INT(iris_answer_json(NULL, NULL, &json), IRIS_EARG);
    iris_answer_free(a);
    iris_answer_free(NULL);
    axf_close(db);
}

/* ------------------------------------------------------------ the CLI */

static void test_cli(void)
{
    if (!test_path_exists(axf_iris_bin)) SKIP("%s is not built", axf_iris_bin);
    iris_db *db = axf_open();
    static char out[65536];
    /* No model: the extractive answer, then the sources; exit 0. */
    CHECK_EQ_INT(axf_run_cli("ask", "--mode keyword 'How do I reset the printer?'", out, sizeof out), 0);
    CHECK_MSG(strstr(out, "No language model is configured") && strstr(out, "\nSources:\n"),
              "%.900s", out);
    char line[512];
    snprintf(line, sizeof line, "  [1] %s (text)\n", axf_path("manual.txt"));
    CHECK_MSG(strstr(out, line), "%.900s", out);
    snprintf(line, sizeof line, "%s, page 3 (pdf_text)\n", axf_path("guide.pdf"));
    CHECK_MSG(strstr(out, line), "%.900s", out);
    /* Usage errors: exit 2. */
    CHECK_EQ_INT(axf_run_cli("ask", "", out, sizeof out), 2);
    CHECK_EQ_INT(axf_run_cli("ask", "--images sideways q", out, sizeof out), 2);
    CHECK_EQ_INT(axf_run_cli("ask", "-k 0 q", out, sizeof out), 2);
    CHECK_EQ_INT(axf_run_cli("ask", "--type nonsense q", out, sizeof out), 2);
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    use_server("cli-model", "openai", 0);
    setenv("IRIS_LLM_API_KEY", KEY, 1);
    /* --json: the answer, sources and citations in one object. */
    llm_server_script("{'steps': [{'expect': {'auth': 'Bearer " KEY "', 'stream': true}, "
                      "'reply': {'text': 'Hold it [1] [5].', 'chunks': 3}}]}");
    int rc = axf_run_cli("ask", "--json --mode keyword -k 3 How do I reset the printer", out,
                         sizeof out);
    CHECK_MSG(rc == 0, "%.900s", out);
    llm_server_verify();
    cJSON *o = cJSON_Parse(out);
    CHECK_MSG(o, "%.900s", out);
    CHECK(!strcmp(cJSON_GetObjectItem(o, "answer")->valuestring, "Hold it [1] [5]."));
    CHECK(!strcmp(cJSON_GetObjectItem(o, "model")->valuestring, "cli-model"));
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "sources")), 3);
    CHECK_EQ_INT(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "invalid_citations"), 0)->valueint, 5);
    cJSON_Delete(o);
    /* Streamed: the answer as it came, then the sources and a note on [5]. */
    llm_server_script("{'steps': [{'reply': {'text': 'Hold it [1] [5].', 'chunks': 3}}]}");
    CHECK_EQ_INT(axf_run_cli("ask", "--mode keyword -k 3 How do I reset the printer", out, sizeof out), 0);
    CHECK_MSG(!strncmp(out, "Hold it [1] [5].\n", 17) && strstr(out, "\nSources:\n  [1] ") &&
              strstr(out, "cites [5], which is not among the 3 sources"), "%.900s", out);
    /* Terminal control sequences from the model are printed escaped. */
    llm_server_script("{'steps': [{'reply': {'text': 'red \\u001b[2J alert'}}]}");
    CHECK_EQ_INT(axf_run_cli("ask", "--mode keyword -k 1 printer", out, sizeof out), 0);
    CHECK_MSG(strstr(out, "red \\x1b[2J alert") && !strchr(out, 0x1b), "%.900s", out);
    /* A refused key: exit 1, the server's words, never the key. */
    llm_server_script("{'steps': [{'fault': 'status', 'status': 401, 'message': 'bad key "
                      "{auth}'}]}");
    CHECK_EQ_INT(axf_run_cli("ask", "--mode keyword q printer", out, sizeof out), 1);
    CHECK_MSG(strstr(out, "401") && !strstr(out, KEY), "%.900s", out);
    unsetenv("IRIS_LLM_API_KEY");
    llm_server_verify();
    axf_close(db);
}

int main(int argc, char **argv)
{
    axf_find_cli(argv[0]);
    RUN(test_extractive_without_model);
    RUN(test_native_images_and_citations_openai);
    RUN(test_text_mode_ollama_uses_captions);
    RUN(test_faults_never_touch_the_index);
    RUN(test_budget_and_changed_images);
    RUN(test_bad_input_and_cancel);
    RUN(test_json_format);
    RUN(test_cli);
    llm_server_stop();
    return test_summary();
}
