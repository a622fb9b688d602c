/* iris_caption_images() and `iris caption` on a small index
 * (ask_fixtures.h) with the scripted server as the vision model: images
 * become findable by words only their captions hold (English and Chinese,
 * keyword and hybrid search), a second run makes no request, the cache is
 * keyed by model, the strong model for small sets, per-run limits, faults
 * that skip an image or end the run without touching the index, changed
 * files, dry runs, confirmation, and the command line. */
#include "ask_fixtures.h"
#include "llm_server.h"

#include <cJSON.h>

#define ZH "\xe6\x96\x91\xe9\xa9\xac\xe7\x8b\xac\xe8\xa7\x92\xe5\x85\xbd" /* 斑马独角兽 */

static void use_vlm(const char *model)
{
    setenv("IRIS_VLM_URL", llm_server_url(), 1);
    setenv("IRIS_VLM_MODEL", model, 1);
    setenv("IRIS_VLM_RETRIES", "0", 1);
}

static int n_hits(iris_db *db, const char *text, int mode, char *top_path, int *top_modality)
{
    iris_query q = {.text = text, .mode = mode, .k = 10};
    iris_results *r;
    CHECK_OK(iris_search(db, &q, &r));
    int n = r->n;
    if (n && top_path) snprintf(top_path, 256, "%s", r->hits[0].path);
    if (n && top_modality) *top_modality = r->hits[0].modality;
    iris_results_free(r);
    return n;
}

static int64_t caption_items(iris_db *db)
{
    iris_stats s;
    CHECK_OK(iris_db_stats(db, &s));
    return s.items_by_modality[IRIS_MOD_CAPTION];
}

/* Runs a caption pass with default options plus these. */
static int caption(iris_db *db, iris_caption_opts o, iris_caption_report *r)
{
    return iris_caption_images(db, &o, r);
}

/* ------------------------------------------------------- searchable */

static void test_captions_make_images_findable_once(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_db *db = axf_open();
    use_vlm("vlm-test");
    /* Before: no item holds these words. */
    CHECK_EQ_INT(n_hits(db, "zebracorn", IRIS_MODE_KEYWORD, NULL, NULL), 0);
    CHECK_EQ_INT(n_hits(db, ZH, IRIS_MODE_KEYWORD, NULL, NULL), 0);
    int64_t items = axf_items(db);
    /* Images go in path order: disc.png, then panel.jpg, each sent as is. */
    llm_server_script("{'steps': ["
                      "{'expect': {'model': 'vlm-test', 'stream': false, 'roles': ['user'], "
                      "'images': ['%s'], 'text_contains': ['Describe this image', "
                      "'visible text']}, 'reply': {'text': 'Caption: " ZH " on a blue disc.'}},"
                      "{'expect': {'images': ['%s']}, 'reply': {'text': 'A zebracorn sticker "
                      "on a red card. Text: RESET.'}}]}",
                      axf_path("disc.png"), axf_path("panel.jpg"));
    iris_caption_report r;
    CHECK_OK(caption(db, (iris_caption_opts){0}, &r));
    llm_server_verify();
    CHECK_MSG(strstr(r.plan, "Captioning 2 of 2 images (0 cached) with vlm-test"), "%s", r.plan);
    CHECK(!strcmp(r.model, "vlm-test"));
    CHECK(r.n_images == 2 && r.n_todo == 2 && r.n_described == 2 && r.n_failed == 0);
    CHECK(!r.stopped[0]);
    CHECK_EQ_INT(axf_items(db), items + 2);
    CHECK_EQ_INT(caption_items(db), 2);
    /* After: found by keyword and by hybrid search, in English and Chinese,
     * and the hit is the image's caption item. */
    char top[256];
    int mod = 0;
    CHECK_EQ_INT(n_hits(db, "zebracorn", IRIS_MODE_KEYWORD, top, &mod), 1);
    CHECK(!strcmp(top, axf_path("panel.jpg")) && mod == IRIS_MOD_CAPTION);
    CHECK(n_hits(db, "zebracorn sticker", IRIS_MODE_HYBRID, top, &mod) >= 1);
    CHECK(!strcmp(top, axf_path("panel.jpg")) && mod == IRIS_MOD_CAPTION);
    CHECK_EQ_INT(n_hits(db, ZH, IRIS_MODE_KEYWORD, top, &mod), 1);
    CHECK(!strcmp(top, axf_path("disc.png")));
    CHECK(n_hits(db, ZH, IRIS_MODE_HYBRID, top, NULL) >= 1);
    CHECK(!strcmp(top, axf_path("disc.png")));
    /* The caption was cleaned ("Caption:" dropped) and embedded with the text tower. */
    iris_query q = {.text = "zebracorn", .mode = IRIS_MODE_KEYWORD};
    iris_results *res;
    CHECK_OK(iris_search(db, &q, &res));
    iris_item it;
    CHECK_OK(iris_item_get(db, res->hits[0].item_id, &it));
    CHECK(!strcmp(it.text, "A zebracorn sticker on a red card. Text: RESET."));
    const iris_model *m;
    CHECK_OK(iris_db_model(db, &m));
    float want[64], got[64];
    const char *text = it.text;
    CHECK_OK(iris_encode_texts(m, &text, 1, want));
    db_lock(db);
    int rc = store_vector_get(db->st, it.id, axf_model_row, got, iris_model_dim(m));
    db_unlock(db);
    CHECK_OK(rc);
    for (int i = 0; i < iris_model_dim(m); i++) CHECK_NEAR(got[i], want[i], 1e-6);
    iris_item_clear(&it);
    iris_results_free(res);

    /* A second run asks nothing: every image has its caption. */
    llm_server_script("{'steps': []}");
    CHECK_OK(caption(db, (iris_caption_opts){0}, &r));
    CHECK(r.n_have == 2 && r.n_described == 0 && r.n_reused == 0);
    CHECK_OK(caption(db, (iris_caption_opts){.recaption = 1}, &r)); /* same model and prompt */
    CHECK(r.n_have == 2 && r.n_described == 0);
    llm_server_verify();
    /* Another model with recaption replaces them; switching back takes the
     * first model's captions from the cache, again without a request. */
    use_vlm("other-vlm");
    llm_server_script("{'steps': [{'expect': {'model': 'other-vlm'}, 'reply': {'text': 'disc'}}, "
                      "{'expect': {'model': 'other-vlm'}, 'reply': {'text': 'card'}}]}");
    CHECK_OK(caption(db, (iris_caption_opts){.recaption = 1}, &r));
    CHECK_EQ_INT(r.n_described, 2);
    CHECK_EQ_INT(n_hits(db, "zebracorn", IRIS_MODE_KEYWORD, NULL, NULL), 0);
    use_vlm("vlm-test");
    llm_server_script("{'steps': []}");
    CHECK_OK(caption(db, (iris_caption_opts){.recaption = 1}, &r));
    CHECK(r.n_reuse == 2 && r.n_reused == 2 && r.n_described == 0);
    llm_server_verify();
    CHECK_EQ_INT(n_hits(db, "zebracorn", IRIS_MODE_KEYWORD, NULL, NULL), 1);
    CHECK_EQ_INT(caption_items(db), 2);
    CHECK(axf_integrity_ok());
    axf_close(db);
}

/* ---------------------------------------------------- policy, limits */

static void test_strong_model_for_small_sets_and_limits(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_db *db = axf_open();
    use_vlm("cheap");
    setenv("IRIS_VLM_STRONG_MODEL", "strong", 1);
    setenv("IRIS_CAPTION_STRONG_MAX_IMAGES", "1", 1);
    /* Two images need captions: more than 1, the cheap model; a dry run. */
    iris_caption_report r;
    CHECK_OK(caption(db, (iris_caption_opts){.dry_run = 1}, &r));
    CHECK(!strcmp(r.model, "cheap") && strstr(r.plan, "large set"));
    CHECK(r.n_todo == 2 && r.n_described == 0 && caption_items(db) == 0);
    /* One image in scope: the strong model. */
    const char *one[] = {axf_path("panel.jpg")};
    llm_server_script("{'steps': [{'expect': {'model': 'strong', 'images': ['%s']}, "
                      "'reply': {'text': 'strong words'}}]}", axf_path("panel.jpg"));
    CHECK_OK(caption(db, (iris_caption_opts){.paths = one, .n_paths = 1}, &r));
    llm_server_verify();
    CHECK(!strcmp(r.model, "strong") && r.n_images == 1 && r.n_described == 1);
    unsetenv("IRIS_VLM_STRONG_MODEL");
    /* A per-run limit: one image now, the next on the next run. */
    axf_copy("tests/fixtures/rag/red.jpg", "red2.jpg");
    FILE *f = fopen(axf_path("red2.jpg"), "ab"); /* other bytes, same picture */
    fputs("extra", f);
    fclose(f);
    store_item img = {.modality = STORE_IMAGE, .char_start = -1, .char_end = -1};
    axf_add(db, "red2.jpg", STORE_KIND_IMAGE, &img, 1);
    setenv("IRIS_CAPTION_MAX_IMAGES", "1", 1);
    llm_server_script("{'steps': [{'expect': {'images': ['%s']}, 'reply': {'text': 'a'}}]}",
                      axf_path("disc.png"));
    CHECK_OK(caption(db, (iris_caption_opts){0}, &r));
    CHECK(r.n_images == 3 && r.n_have == 1 && r.n_todo == 1 && r.n_deferred == 1);
    CHECK(r.n_described == 1 && strstr(r.plan, "1 left for a later run"));
    CHECK_MSG(strstr(r.stopped, "planned"), "%s", r.stopped);
    llm_server_script("{'steps': [{'expect': {'images': ['%s']}, 'reply': {'text': 'b'}}]}",
                      axf_path("red2.jpg"));
    CHECK_OK(caption(db, (iris_caption_opts){0}, &r));
    CHECK(r.n_have == 2 && r.n_described == 1 && !r.stopped[0]);
    llm_server_verify();
    CHECK_EQ_INT(caption_items(db), 3);
    axf_close(db);
}

/* ------------------------------------------------------------ faults */

static void add_variant(iris_db *db, const char *name, const char *extra)
{
    axf_copy("tests/fixtures/rag/red.jpg", name);
    FILE *f = fopen(axf_path(name), "ab");
    fputs(extra, f);
    fclose(f);
    store_item img = {.modality = STORE_IMAGE, .char_start = -1, .char_end = -1};
    axf_add(db, name, STORE_KIND_IMAGE, &img, 1);
}

static void test_faults_skip_images_and_keep_the_index(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_db *db = axf_open();
    use_vlm("m");
    setenv("IRIS_VLM_TIMEOUT", "1", 1);
    add_variant(db, "v1.jpg", "1");
    add_variant(db, "v2.jpg", "2");
    int64_t items = axf_items(db);
    /* disc.png, panel.jpg, v1.jpg, v2.jpg: a 500, an empty caption, malformed JSON in
     * between successes; each failure skips its image only. */
    llm_server_script("{'steps': [{'fault': 'status', 'status': 500, 'message': 'boom'}, "
                      "{'reply': {'text': 'panel words'}}, {'reply': {'text': '   '}}, "
                      "{'fault': 'malformed', 'reply': {'text': 'x'}}]}");
    iris_caption_report r;
    CHECK_OK(caption(db, (iris_caption_opts){0}, &r));
    llm_server_verify();
    CHECK(r.n_described == 1 && r.n_failed == 3);
    CHECK_EQ_INT(axf_items(db), items + 1);
    CHECK(axf_integrity_ok());
    /* A changed file is never sent; a hang times out; three failures in a row
     * (a dead endpoint) end the run with the last one's status. */
    axf_copy("tests/fixtures/rag/blue.png", "v1.jpg");
    llm_server_script("{'steps': [{'fault': 'hang', 'delay': 3}, {'fault': 'reset'}]}");
    CHECK_EQ_INT(caption(db, (iris_caption_opts){0}, &r), IRIS_ENET);
    llm_server_verify();
    CHECK_EQ_INT(r.n_failed, 3);
    CHECK_MSG(strstr(r.stopped, "3 failures in a row"), "%s", r.stopped);
    CHECK_EQ_INT(axf_items(db), items + 1);
    CHECK(axf_integrity_ok());
    /* The endpoint back: the images still without a caption get one. */
    llm_server_script("{'steps': [{'reply': {'text': 'disc words'}}, "
                      "{'reply': {'text': 'v2 words'}}]}");
    CHECK_OK(caption(db, (iris_caption_opts){0}, &r));
    llm_server_verify();
    CHECK(r.n_described == 2 && r.n_failed == 1); /* v1.jpg still changed */
    CHECK_EQ_INT(axf_items(db), items + 3);
    axf_close(db);
}

/* ---------------------------------------------- dry run, confirm, bad */

static int say_no(const iris_caption_report *r, void *user)
{
    *(int *)user = r->n_todo;
    return 0;
}

static int cancel_now(void *user)
{
    (void)user;
    return 1;
}

static void test_confirm_cancel_and_bad_input(void)
{
    iris_db *db = axf_open();
    iris_caption_report r;
    /* No vision model: a clear error saying how to configure one. */
    CHECK_FAILS(caption(db, (iris_caption_opts){0}, &r), IRIS_EARG, "IRIS_VLM_URL");
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    use_vlm("m");
    llm_server_script("{'steps': []}");
    int seen = -1;
    CHECK_FAILS(caption(db, (iris_caption_opts){.confirm = say_no, .user = &seen}, &r),
                IRIS_ECANCELLED, "not confirmed");
    CHECK_EQ_INT(seen, 2);
    CHECK_EQ_INT(iris_caption_images(db, &(iris_caption_opts){.cancel = cancel_now}, &r),
                 IRIS_ECANCELLED);
    llm_server_verify();
    CHECK_EQ_INT(caption_items(db), 0);
    /* Scopes that hold no image: nothing to do, no request. */
    const char *none[] = {axf_path("manual.txt"), "/no/such/folder"};
    CHECK_OK(caption(db, (iris_caption_opts){.paths = none, .n_paths = 2}, &r));
    CHECK(r.n_images == 0 && r.n_todo == 0);
    const char *empty[] = {""};
    CHECK_EQ_INT(caption(db, (iris_caption_opts){.paths = empty, .n_paths = 1}, &r), IRIS_EARG);
    CHECK_EQ_INT(caption(db, (iris_caption_opts){.n_paths = 1}, &r), IRIS_EARG);
    CHECK_EQ_INT(iris_caption_images(NULL, NULL, &r), IRIS_EARG);
    CHECK_EQ_INT(iris_caption_images(db, NULL, NULL), IRIS_EARG);
    setenv("IRIS_CAPTION_MAX_COST", "lots", 1);
    CHECK_FAILS(caption(db, (iris_caption_opts){0}, &r), IRIS_EARG, "IRIS_CAPTION_MAX_COST");
    unsetenv("IRIS_CAPTION_MAX_COST");
    /* A read-only index can plan but not caption. */
    char path[256];
    snprintf(path, sizeof path, "%s", axf_path("index.db"));
    iris_db *ro;
    CHECK_OK(iris_db_open(path, &(iris_db_opts){.readonly = 1}, &ro));
    CHECK_OK(iris_caption_images(ro, &(iris_caption_opts){.dry_run = 1}, &r));
    CHECK_FAILS(iris_caption_images(ro, NULL, &r), IRIS_EARG, "read-only");
    iris_db_close(ro);
    axf_close(db);
}

/* ------------------------------------------------------------ the CLI */

static void test_cli(void)
{
    if (!test_path_exists(axf_iris_bin)) SKIP("%s is not built", axf_iris_bin);
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    iris_db *db = axf_open();
    iris_db_close(db); /* the CLI writes; no second writer open here */
    static char out[16384];
    CHECK_EQ_INT(axf_run_cli("caption", "--bogus", out, sizeof out), 2);
    CHECK_EQ_INT(axf_run_cli("caption", "", out, sizeof out), 1); /* no model configured */
    CHECK_MSG(strstr(out, "IRIS_VLM_URL"), "%.900s", out);
    use_vlm("cli-vlm");
    /* A paid model, not on a terminal, without --yes: refused before any request. */
    setenv("IRIS_VLM_PRICE_IN", "5", 1);
    llm_server_script("{'steps': []}");
    CHECK_EQ_INT(axf_run_cli("caption", "all", out, sizeof out), 1);
    CHECK_MSG(strstr(out, "Captioning 2 of 2 images") && strstr(out, "--yes"), "%.900s", out);
    CHECK_EQ_INT(axf_run_cli("caption", "--dry-run", out, sizeof out), 0);
    CHECK_MSG(strstr(out, "in model fees"), "%.900s", out);
    llm_server_verify();
    /* --yes: the run, one line an image, a summary; a failure makes it partial (3). */
    llm_server_script("{'steps': [{'reply': {'text': 'a blue disc'}}, {'fault': 'status', "
                      "'status': 400, 'message': 'no'}]}");
    CHECK_EQ_INT(axf_run_cli("caption", "--yes", out, sizeof out), 3);
    char line[512];
    snprintf(line, sizeof line, "[1/2] %s: a blue disc\n", axf_path("disc.png"));
    CHECK_MSG(strstr(out, line) && strstr(out, "failed: ") &&
              strstr(out, "Described 1 image, 0 from the cache, 1 failed"), "%.900s", out);
    llm_server_script("{'steps': [{'reply': {'text': 'a red card'}}]}");
    CHECK_EQ_INT(axf_run_cli("caption", "--yes --json", out, sizeof out), 0);
    llm_server_verify();
    cJSON *o = cJSON_Parse(strrchr(out, '{'));
    CHECK_MSG(o, "%.900s", out);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
    CHECK_EQ_INT(cJSON_GetObjectItem(o, "described")->valueint, 1);
    CHECK_EQ_INT(cJSON_GetObjectItem(o, "have")->valueint, 1);
    cJSON_Delete(o);
    unsetenv("IRIS_VLM_PRICE_IN");
    fx_rmtree(axf_dir);
    axf_dir[0] = '\0';
}

int main(int argc, char **argv)
{
    axf_find_cli(argv[0]);
    RUN(test_captions_make_images_findable_once);
    RUN(test_strong_model_for_small_sets_and_limits);
    RUN(test_faults_skip_images_and_keep_the_index);
    RUN(test_confirm_cancel_and_bad_input);
    RUN(test_cli);
    llm_server_stop();
    return test_summary();
}
