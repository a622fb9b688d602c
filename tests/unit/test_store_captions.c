/* Captions as items (src/store/captions.c): which images of a scope need a
 * caption for a (model, prompt), swapping a caption item into a done
 * content (vector, BM25 row with the file names, generation), states after
 * renames and model changes, scopes by path, and bad input. */
#include "iris.h"
#include "store/internal.h"
#include "test.h"
#include "util/fs.h"

#include <unistd.h>

#define PH "0000000000000000000000000000000000000000000000000000000000000001"

static char tmpdir[256];

static store *open_fresh(void)
{
    char cmd[600];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iris_test_stcap_%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmpdir, tmpdir);
    if (system(cmd) != 0) abort();
    char path[600];
    snprintf(path, sizeof path, "%s/index.db", tmpdir);
    store *st = NULL;
    if (store_open(path, NULL, &st)) abort();
    return st;
}

static int64_t model_row(store *st)
{
    int64_t id;
    if (store_model_ensure(st, "k", "tiny", 2, NULL, &id)) abort();
    return id;
}

/* Indexes path as an image with content `content` (done); returns its content id. */
static int64_t add_image(store *st, const char *path, const char *content, int64_t mid)
{
    char sha[65];
    iris_sha256_hex(content, strlen(content), sha);
    store_put f = {path, 10, 1, sha, STORE_KIND_IMAGE};
    store_put_result r;
    CHECK_OK(store_file_put(st, &f, &r));
    if (r.new_content) {
        store_item it = {.modality = STORE_IMAGE, .char_start = -1, .char_end = -1};
        float v[2] = {1, 0};
        CHECK_OK(store_item_add(st, r.content.id, &it, mid, v, 2, NULL));
        CHECK_OK(store_content_done(st, r.content.id));
    }
    return r.content.id;
}

static int n_fts(store *st, const char *q)
{
    store_hit *h;
    int n;
    CHECK_OK(store_fts_search(st, q, NULL, &h, &n));
    store_hits_free(h, n);
    return n;
}

static int64_t scalar(store *st, const char *sql)
{
    sqlite3_stmt *s;
    int64_t v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static const store_caption_target *find(const store_caption_target *t, int n, const char *path)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].path, path)) return &t[i];
    return NULL;
}

static void test_states_follow_cache_and_items(void)
{
    store *st = open_fresh();
    int64_t mid = model_row(st);
    int64_t a = add_image(st, "/p/a.jpg", "A", mid);
    add_image(st, "/p/b.jpg", "B", mid);
    store_caption_target *t;
    int n;
    CHECK_OK(store_caption_targets(st, "vlm", PH, NULL, 0, &t, &n));
    CHECK_EQ_INT(n, 2);
    CHECK(!strcmp(t[0].path, "/p/a.jpg") && t[0].content_id == a);
    CHECK(!t[0].has_item && !t[0].cached && !t[0].current);
    CHECK(!t[1].has_item && !t[1].cached && !t[1].current);
    char sha_a[65];
    snprintf(sha_a, sizeof sha_a, "%s", t[0].sha256);
    store_caption_targets_free(t, n);

    /* Cached only; then the item from it: current. */
    CHECK_OK(store_caption_put(st, sha_a, "vlm", PH, "a zebracorn on a red card"));
    CHECK_OK(store_caption_targets(st, "vlm", PH, NULL, 0, &t, &n));
    const store_caption_target *ta = find(t, n, "/p/a.jpg");
    CHECK(!ta->has_item && ta->cached && !ta->current);
    store_caption_targets_free(t, n);
    int64_t gen0 = 0, gen1 = 0, item;
    CHECK_OK(store_generation(st, &gen0));
    float v[2] = {0, 1};
    CHECK_OK(store_caption_item_set(st, a, "a zebracorn on a red card", mid, v, 2, &item));
    CHECK_OK(store_generation(st, &gen1));
    CHECK(gen1 > gen0);
    CHECK_OK(store_caption_targets(st, "vlm", PH, NULL, 0, &t, &n));
    ta = find(t, n, "/p/a.jpg");
    CHECK(ta->has_item && ta->cached && ta->current);
    CHECK(!find(t, n, "/p/b.jpg")->has_item);
    store_caption_targets_free(t, n);

    /* The item: caption modality, after the image item, vector, text found by BM25
     * together with the file name column. */
    store_item_info info;
    CHECK_OK(store_item_get(st, item, &info));
    CHECK_EQ_INT(info.modality, STORE_CAPTION);
    CHECK_EQ_INT(info.seq, 1);
    CHECK(!strcmp(info.text, "a zebracorn on a red card"));
    CHECK(!strcmp(info.path, "/p/a.jpg"));
    store_item_info_free(&info);
    float got[2];
    CHECK_OK(store_vector_get(st, item, mid, got, 2));
    CHECK(got[0] == 0 && got[1] == 1);
    CHECK_EQ_INT(n_fts(st, "zebracorn"), 1);

    /* Another model: nothing cached for it, though the image has an item. */
    CHECK_OK(store_caption_targets(st, "other", PH, NULL, 0, &t, &n));
    ta = find(t, n, "/p/a.jpg");
    CHECK(ta->has_item && !ta->cached && !ta->current);
    store_caption_targets_free(t, n);
    /* Its caption replaces the item: one caption item, old text gone from BM25,
     * the first model's caption cached but no longer current. */
    CHECK_OK(store_caption_put(st, sha_a, "other", PH, "ein Einhorn"));
    CHECK_OK(store_caption_item_set(st, a, "ein Einhorn", mid, NULL, 0, &item));
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items WHERE modality = 6"), 1);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM vectors"), 2); /* two images; no caption vector */
    CHECK_EQ_INT(n_fts(st, "zebracorn"), 0);
    CHECK_EQ_INT(n_fts(st, "Einhorn"), 1);
    CHECK_OK(store_caption_targets(st, "vlm", PH, NULL, 0, &t, &n));
    ta = find(t, n, "/p/a.jpg");
    CHECK(ta->has_item && ta->cached && !ta->current);
    store_caption_targets_free(t, n);
    store_close(st);
}

static void test_scopes_renames_and_duplicates(void)
{
    store *st = open_fresh();
    int64_t mid = model_row(st);
    add_image(st, "/p/x/1.jpg", "one", mid);
    add_image(st, "/p/x/sub/2.png", "two", mid);
    add_image(st, "/p/xy/3.jpg", "three", mid);
    add_image(st, "/q/copy.jpg", "one", mid); /* same content as /p/x/1.jpg */
    /* A text file is never a caption target. */
    char sha[65];
    iris_sha256_hex("text", 4, sha);
    store_put tf = {"/p/x/notes.txt", 4, 1, sha, STORE_KIND_TEXT};
    store_put_result r;
    CHECK_OK(store_file_put(st, &tf, &r));
    CHECK_OK(store_content_done(st, r.content.id));
    /* A pending image is not one either. */
    iris_sha256_hex("pending", 7, sha);
    store_put pf = {"/p/x/pending.jpg", 7, 1, sha, STORE_KIND_IMAGE};
    CHECK_OK(store_file_put(st, &pf, &r));

    store_caption_target *t;
    int n;
    CHECK_OK(store_caption_targets(st, "m", PH, NULL, 0, &t, &n));
    CHECK_EQ_INT(n, 3); /* three distinct image contents, each once */
    store_caption_targets_free(t, n);
    const char *x[] = {"/p/x/"};
    CHECK_OK(store_caption_targets(st, "m", PH, x, 1, &t, &n));
    CHECK_EQ_INT(n, 2); /* not /p/xy */
    CHECK(!strcmp(t[0].path, "/p/x/1.jpg") && !strcmp(t[1].path, "/p/x/sub/2.png"));
    store_caption_targets_free(t, n);
    const char *two[] = {"/p/xy/3.jpg", "/q"};
    CHECK_OK(store_caption_targets(st, "m", PH, two, 2, &t, &n));
    CHECK_EQ_INT(n, 2);
    CHECK(find(t, n, "/p/xy/3.jpg") && find(t, n, "/q/copy.jpg"));
    store_caption_targets_free(t, n);
    const char *none[] = {"/nowhere"};
    CHECK_OK(store_caption_targets(st, "m", PH, none, 1, &t, &n));
    CHECK_EQ_INT(n, 0);
    store_caption_targets_free(t, n);

    /* A renamed file keeps its content, so its caption stays current. */
    CHECK_OK(store_caption_targets(st, "m", PH, x, 1, &t, &n));
    CHECK_OK(store_caption_put(st, t[0].sha256, "m", PH, "first"));
    CHECK_OK(store_caption_item_set(st, t[0].content_id, "first", mid, NULL, 0, NULL));
    store_caption_targets_free(t, n);
    char sha1[65];
    iris_sha256_hex("one", 3, sha1);
    store_put mv = {"/p/moved.jpg", 10, 1, sha1, STORE_KIND_IMAGE};
    CHECK_OK(store_file_put(st, &mv, &r));
    CHECK(!r.new_content);
    CHECK_OK(store_remove(st, "/p/x/1.jpg", NULL));
    const char *moved[] = {"/p/moved.jpg"};
    CHECK_OK(store_caption_targets(st, "m", PH, moved, 1, &t, &n));
    CHECK_EQ_INT(n, 1);
    CHECK(t[0].has_item && t[0].current);
    store_caption_targets_free(t, n);
    /* Removing every file of the content drops its caption item, not its cache row. */
    CHECK_OK(store_remove(st, "/p/moved.jpg", NULL));
    CHECK_OK(store_remove(st, "/q", NULL));
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items WHERE modality = 6"), 0);
    char *cached;
    CHECK_OK(store_caption_get(st, sha1, "m", PH, &cached));
    free(cached);
    store_close(st);
}

static void test_content_text_and_bad_input(void)
{
    store *st = open_fresh();
    int64_t mid = model_row(st);
    int64_t a = add_image(st, "/a.jpg", "A", mid);
    char *text;
    int64_t id, cap_id;
    CHECK_FAILS(store_content_item(st, a, STORE_OCR_TEXT, &id, &text), IRIS_ENOTFOUND, "no ocr");
    CHECK_OK(store_content_item(st, a, STORE_IMAGE, &id, &text));
    CHECK(id > 0 && !text); /* an image item has no text */
    CHECK_OK(store_caption_item_set(st, a, "caption text", mid, NULL, 0, &cap_id));
    CHECK_OK(store_content_item(st, a, STORE_CAPTION, &id, &text));
    CHECK(id == cap_id && !strcmp(text, "caption text"));
    free(text);
    CHECK_OK(store_content_item(st, a, STORE_CAPTION, &id, NULL));

    CHECK_FAILS(store_caption_item_set(st, a, "", mid, NULL, 0, NULL), IRIS_EARG, "empty");
    CHECK_FAILS(store_caption_item_set(st, 999, "x", mid, NULL, 0, NULL), IRIS_ENOTFOUND,
                "no content 999");
    float v[2] = {1, 0};
    CHECK_EQ_INT(store_caption_item_set(st, a, "x", mid, v, 0, NULL), IRIS_EARG);
    /* A pending content is refused, and a failed swap leaves the old item. */
    char sha[65];
    iris_sha256_hex("p", 1, sha);
    store_put pf = {"/p.jpg", 1, 1, sha, STORE_KIND_IMAGE};
    store_put_result r;
    CHECK_OK(store_file_put(st, &pf, &r));
    CHECK_FAILS(store_caption_item_set(st, r.content.id, "x", mid, NULL, 0, NULL), IRIS_EARG,
                "still being indexed");
    CHECK_OK(store_content_item(st, a, STORE_CAPTION, &id, &text));
    CHECK(!strcmp(text, "caption text"));
    free(text);
    /* Hostile text: invalid UTF-8 is stored sanitised; SQL and FTS syntax are text. */
    CHECK_OK(store_caption_item_set(st, a, "bad \xff\xfe bytes'); DROP TABLE items; -- NEAR(", mid,
                                    NULL, 0, NULL));
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items"), 2);
    CHECK_EQ_INT(n_fts(st, "DROP"), 1);
    store_caption_target *t;
    int n;
    CHECK_EQ_INT(store_caption_targets(st, "", PH, NULL, 0, &t, &n), IRIS_EARG);
    const char *empty[] = {""};
    CHECK_EQ_INT(store_caption_targets(st, "m", PH, empty, 1, &t, &n), IRIS_EARG);
    const char *quote[] = {"/it's \"odd\" %_*"};
    CHECK_OK(store_caption_targets(st, "m", PH, quote, 1, &t, &n));
    CHECK_EQ_INT(n, 0);
    store_caption_targets_free(t, n);
    /* Inside a caller's transaction the swap is a savepoint: rolled back with it. */
    CHECK_OK(store_begin(st));
    CHECK_OK(store_caption_item_set(st, a, "rolled back", mid, NULL, 0, NULL));
    CHECK_OK(store_rollback(st));
    CHECK_EQ_INT(n_fts(st, "rolled"), 0);
    CHECK_EQ_INT(scalar(st, "SELECT count(*) FROM items WHERE modality = 6"), 1);
    store_close(st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) abort();
}

int main(void)
{
    RUN(test_states_follow_cache_and_items);
    RUN(test_scopes_renames_and_duplicates);
    RUN(test_content_text_and_bad_input);
    return test_summary();
}
