/*
 * test_search_db.c - the iris_db handle: opening and creating indexes,
 * missing and corrupt files, which model an index uses (explicit, recorded,
 * $IRIS_MODEL, config file), the compute setting ($IRIS_COMPUTE, [model]
 * compute), the model-mismatch refusal, statistics and the --type parser.
 */
#include "test.h"

#include "clip/model.h"
#include "iris.h"
#include "model_fixtures.h"
#include "search/db.h"
#include "util/fs.h"

#include <unistd.h>

static char dir[64];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void fresh(void)
{
    if (dir[0]) fx_rmtree(dir);
    snprintf(dir, sizeof dir, "/tmp/iris-search-db-XXXXXX");
    if (!mkdtemp(dir)) abort();
    unsetenv("IRIS_MODEL");
    setenv("IRIS_CONFIG", tpath("no-config.toml"), 1);
    fx_write(dir, "no-config.toml", "", 0);
}

static iris_db *open_db(const char *path, const char *model, int readonly)
{
    iris_db *db = NULL;
    iris_db_opts o = {.model = model, .readonly = readonly};
    CHECK_OK(iris_db_open(path, &o, &db));
    return db;
}

static void model_id(const char *path, char id[65])
{
    iris_model *m;
    iris_model_info in;
    CHECK_OK(iris_model_load(path, NULL, &m));
    iris_model_get_info(m, &in);
    memcpy(id, in.id, 65);
    iris_model_free(m);
}

static void test_open_creates_folder_and_readonly_needs_index(void)
{
    fresh();
    iris_db *db = NULL;
    iris_db_opts ro = {.readonly = 1};
    CHECK_FAILS(iris_db_open(tpath("a/b/index.db"), &ro, &db), IRIS_ENOTFOUND, "no index at");
    CHECK(db == NULL);
    CHECK(!test_path_exists(tpath("a")));
    db = open_db(tpath("a/b/index.db"), NULL, 0);
    CHECK(test_path_exists(tpath("a/b/index.db")));
    CHECK(!strcmp(iris_db_path(db), tpath("a/b/index.db")));
    iris_stats s;
    CHECK_OK(iris_db_stats(db, &s));
    CHECK_EQ_INT(s.items, 0);
    CHECK_EQ_INT(s.has_model, 0);
    CHECK_EQ_INT(s.schema_version, 1);
    iris_db_close(db);
    db = open_db(tpath("a/b/index.db"), NULL, 1);
    CHECK_FAILS(iris_db_record_model(db), IRIS_EARG, "read-only");
    iris_db_close(db);
    iris_db_close(NULL);
}

static void test_default_path_is_under_cwd(void)
{
    fresh();
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd));
    CHECK(chdir(dir) == 0);
    iris_db *db = NULL;
    int rc = iris_db_open(NULL, NULL, &db);
    int made = test_path_exists(".iris/index.db");
    iris_db_close(db);
    CHECK(chdir(cwd) == 0);
    CHECK_OK(rc);
    CHECK(made);
}

static void test_bad_files(void)
{
    fresh();
    iris_db *db = NULL;
    fx_write(dir, "garbage.db", "this is not a database at all, just text\n", 41);
    CHECK_FAILS(iris_db_open(tpath("garbage.db"), NULL, &db), IRIS_EFORMAT, "not an iris index");
    /* A real index, truncated in the middle of its pages. */
    db = open_db(tpath("t.db"), NULL, 0);
    iris_db_close(db);
    size_t len;
    char *bytes = test_read_file(tpath("t.db"), &len);
    CHECK(bytes && len > 4096);
    memset(bytes + 100, 0xA5, len - 200); /* header kept, pages trashed */
    fx_write(dir, "corrupt.db", bytes, len);
    free(bytes);
    int rc = iris_db_open(tpath("corrupt.db"), NULL, &db);
    CHECK(rc == IRIS_EFORMAT || rc == IRIS_EDB);
    CHECK(db == NULL);
    CHECK_FAILS(iris_db_open(dir, NULL, &db), IRIS_EIO, dir); /* a folder */
    CHECK_FAILS(iris_db_open(tpath("x"), NULL, NULL), IRIS_EARG, "NULL");
}

static void test_model_recorded_then_mismatch_refused(void)
{
    fresh();
    iris_db *db = open_db(tpath("i.db"), TINY_HF, 0);
    const iris_model *m;
    CHECK_OK(iris_db_model(db, &m));
    CHECK_OK(iris_db_record_model(db));
    CHECK_OK(iris_db_record_model(db)); /* idempotent */
    iris_stats s;
    CHECK_OK(iris_db_stats(db, &s));
    char id[65];
    model_id(TINY_HF, id);
    CHECK(s.has_model && !strcmp(s.model_id, id));
    CHECK_EQ_INT(s.model_dim, 24);
    iris_db_close(db);

    /* Another model: refused at open, naming both and the way out. */
    db = NULL;
    iris_db_opts o = {.model = TINY_HF_F16};
    CHECK_FAILS(iris_db_open(tpath("i.db"), &o, &db), IRIS_EMODEL, "index built with tiny-hf");
    CHECK_MSG(strstr(iris_errmsg(), "you asked for " TINY_HF_F16) &&
                  strstr(iris_errmsg(), "re-index with --model " TINY_HF_F16 " or drop --model"),
              "%s", iris_errmsg());
    CHECK(db == NULL);

    /* No --model: the recorded one is found again, even with IRIS_MODEL
     * pointing elsewhere. */
    setenv("IRIS_MODEL", TINY_HF_F16, 1);
    db = open_db(tpath("i.db"), NULL, 1);
    CHECK_OK(iris_db_model(db, &m));
    iris_model_info in;
    iris_model_get_info(m, &in);
    CHECK(!strcmp(in.id, id));
    iris_db_close(db);

    /* The same model at another path is the same model. */
    char abs[4096];
    CHECK(realpath(TINY_HF, abs));
    CHECK(symlink(abs, tpath("same-model")) == 0);
    db = open_db(tpath("i.db"), tpath("same-model"), 1);
    iris_db_close(db);
}

static void test_recorded_model_changed_on_disk(void)
{
    fresh();
    CHECK(mkdir(tpath("model"), 0755) == 0);
    CHECK(fx_copy_model(TINY_HF, tpath("model"), NULL) == 0);
    iris_db *db = open_db(tpath("i.db"), tpath("model"), 0);
    CHECK_OK(iris_db_record_model(db));
    iris_db_close(db);

    /* The folder now holds other weights: no silent garbage. */
    CHECK(fx_copy_model(TINY_HF_F16, tpath("model"), NULL) == 0);
    db = open_db(tpath("i.db"), NULL, 1);
    const iris_model *m;
    CHECK_FAILS(iris_db_model(db, &m), IRIS_EMODEL, "changed since indexing");
    iris_db_close(db);

    /* Gone altogether: says which model the index wants. */
    fx_rmtree(tpath("model"));
    db = open_db(tpath("i.db"), NULL, 1);
    CHECK_FAILS(iris_db_model(db, &m), IRIS_ENOTFOUND, "index built with model, which cannot be loaded");
    CHECK_MSG(strstr(iris_errmsg(), "--model"), "%s", iris_errmsg());
    iris_stats s; /* stats never need the model */
    CHECK_OK(iris_db_stats(db, &s));
    CHECK(s.has_model);
    iris_db_close(db);
}

static void test_default_model_for_a_fresh_index(void)
{
    fresh();
    char id[65], id16[65];
    model_id(TINY_HF, id);
    model_id(TINY_HF_F16, id16);
    const iris_model *m;
    iris_model_info in;

    setenv("IRIS_MODEL", TINY_HF_F16, 1);
    iris_db *db = open_db(tpath("env.db"), NULL, 0);
    CHECK_OK(iris_db_model(db, &m));
    iris_model_get_info(m, &in);
    CHECK(!strcmp(in.id, id16));
    iris_db_close(db);

    unsetenv("IRIS_MODEL");
    char cfg[600];
    int n = snprintf(cfg, sizeof cfg, "[model]\nname = \"%s\"\n", TINY_HF);
    fx_write(dir, "config.toml", cfg, (size_t)n);
    setenv("IRIS_CONFIG", tpath("config.toml"), 1);
    db = open_db(tpath("cfg.db"), NULL, 0);
    CHECK_OK(iris_db_model(db, &m));
    iris_model_get_info(m, &in);
    CHECK(!strcmp(in.id, id));
    iris_db_close(db);

    fx_write(dir, "config.toml", "[model\n", 7); /* a broken config is reported */
    db = open_db(tpath("bad.db"), NULL, 0);
    CHECK_FAILS(iris_db_model(db, &m), IRIS_EFORMAT, "config.toml");
    iris_db_close(db);
}

/* bf16 compute is asked for by $IRIS_COMPUTE or the config's [model]
 * compute; anything but f32/bf16 is refused naming where it came from. */
static void test_compute_setting(void)
{
    fresh();
    const char *envs[] = {"bf16", "f32", NULL};
    for (int i = 0; i < 3; i++) {
        if (envs[i]) setenv("IRIS_COMPUTE", envs[i], 1);
        else unsetenv("IRIS_COMPUTE");
        iris_db *db = open_db(tpath("c.db"), TINY_HF, 0);
        const iris_model *m;
        CHECK_OK(iris_db_model(db, &m));
        CHECK_EQ_INT(m->bf16, i == 0);
        iris_db_close(db);
    }
    const char *bf16 = "[model]\ncompute = \"bf16\"\n", *int4 = "[model]\ncompute = \"int4\"\n";
    fx_write(dir, "config.toml", bf16, strlen(bf16));
    setenv("IRIS_CONFIG", tpath("config.toml"), 1);
    iris_db *db = open_db(tpath("c.db"), TINY_HF, 0);
    const iris_model *m;
    CHECK_OK(iris_db_model(db, &m));
    CHECK_EQ_INT(m->bf16, 1);
    iris_db_close(db);

    fx_write(dir, "config.toml", int4, strlen(int4));
    iris_db_opts o = {.model = TINY_HF};
    db = NULL;
    CHECK_FAILS(iris_db_open(tpath("c.db"), &o, &db), IRIS_EARG,
                "config.toml: compute \"int4\" is neither");
    CHECK(db == NULL);
    setenv("IRIS_COMPUTE", "fp8", 1);
    CHECK_FAILS(iris_db_open(tpath("c.db"), &o, &db), IRIS_EARG, "IRIS_COMPUTE: compute \"fp8\"");
    CHECK(db == NULL);
    unsetenv("IRIS_COMPUTE");
    /* an unreadable config leaves f32 without failing an explicit model */
    fx_write(dir, "config.toml", "[model\n", 7);
    db = open_db(tpath("c.db"), TINY_HF, 0);
    CHECK_OK(iris_db_model(db, &m));
    CHECK_EQ_INT(m->bf16, 0);
    iris_db_close(db);
}

static void test_stats_count_items_by_modality(void)
{
    fresh();
    iris_db *db = open_db(tpath("s.db"), TINY_HF, 0);
    const iris_model *m;
    int64_t row;
    db_lock(db);
    CHECK_OK(db_record_model_locked(db, &m, &row));
    db_unlock(db);
    store_put_result r;
    char sha[65];
    iris_sha256_hex("x", 1, sha);
    store_put p = {"/photos/x.png", 1, 1, sha, STORE_KIND_IMAGE};
    CHECK_OK(store_file_put(db->st, &p, &r));
    float v[24] = {1};
    store_item img = {.modality = STORE_IMAGE, .seq = 0, .char_start = -1, .char_end = -1};
    store_item ocr = {.modality = STORE_OCR_TEXT, .seq = 1, .text = "EXIT"};
    CHECK_OK(store_item_add(db->st, r.content.id, &img, row, v, 24, NULL));
    CHECK_OK(store_item_add(db->st, r.content.id, &ocr, row, v, 24, NULL));
    CHECK_OK(store_content_done(db->st, r.content.id));
    iris_stats s;
    CHECK_OK(iris_db_stats(db, &s));
    CHECK_EQ_INT(s.files, 1);
    CHECK_EQ_INT(s.items, 2);
    CHECK_EQ_INT(s.vectors, 2);
    CHECK_EQ_INT(s.items_by_modality[IRIS_MOD_IMAGE], 1);
    CHECK_EQ_INT(s.items_by_modality[IRIS_MOD_OCR], 1);
    CHECK(s.db_bytes > 0);
    iris_db_close(db);
}

static void test_modality_names_and_masks(void)
{
    for (int m = 1; m < IRIS_N_MODS; m++) {
        unsigned mask = 0;
        CHECK_OK(iris_modality_mask(iris_modality_name(m), &mask));
        CHECK_EQ_INT(mask, 1u << m);
    }
    unsigned mask = 0;
    CHECK_OK(iris_modality_mask(" image , pdf", &mask));
    CHECK_EQ_INT(mask, (1u << IRIS_MOD_IMAGE) | (1u << IRIS_MOD_PDF_TEXT) |
                           (1u << IRIS_MOD_PDF_FIGURE));
    CHECK_OK(iris_modality_mask("ocr", &mask)); /* OR-ed in: repeatable flags */
    CHECK(mask & (1u << IRIS_MOD_OCR) && mask & (1u << IRIS_MOD_IMAGE));
    const char *bad[] = {"", ",", "image,", "Image", "video", "image,,text",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mask = 0;
        CHECK_FAILS(iris_modality_mask(bad[i], &mask), IRIS_EARG, "unknown type");
    }
    CHECK_FAILS(iris_modality_mask(NULL, &mask), IRIS_EARG, "NULL");
    CHECK(!strcmp(iris_modality_name(0), "?") && !strcmp(iris_modality_name(99), "?"));
    int mode = -1;
    CHECK_OK(iris_mode_parse("keyword", &mode));
    CHECK_EQ_INT(mode, IRIS_MODE_KEYWORD);
    CHECK_FAILS(iris_mode_parse("fuzzy", &mode), IRIS_EARG, "unknown mode 'fuzzy'");
    CHECK(!strcmp(iris_mode_name(IRIS_MODE_HYBRID), "hybrid"));
}

int main(void)
{
    RUN(test_open_creates_folder_and_readonly_needs_index);
    RUN(test_default_path_is_under_cwd);
    RUN(test_bad_files);
    RUN(test_model_recorded_then_mismatch_refused);
    RUN(test_recorded_model_changed_on_disk);
    RUN(test_default_model_for_a_fresh_index);
    RUN(test_compute_setting);
    RUN(test_stats_count_items_by_modality);
    RUN(test_modality_names_and_masks);
    if (dir[0]) fx_rmtree(dir);
    return test_summary();
}
