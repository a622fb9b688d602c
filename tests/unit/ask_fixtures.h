/*
 * ask_fixtures.h - a small index for the ask and caption tests, built
 * through the store API with real embeddings from the tiny test CLIP (the
 * ingestion engine is not needed): a text manual, a PDF's page texts, two
 * photos (copies of the committed rag fixtures) with OCR text. Every file
 * exists on disk with the content hash recorded, as indexing would leave
 * it, so image bytes can be verified and sent.
 *
 *     iris_db *db = axf_open();       // fresh folder, index, model
 *     ... axf_path("panel.jpg") ...
 *     axf_close(db);                  // and remove the folder
 *
 * Tests point IRIS_CONFIG at an empty file so no user configuration leaks
 * in, and set IRIS_LLM_* / IRIS_VLM_* themselves.
 */
#ifndef IRIS_TEST_ASK_FIXTURES_H
#define IRIS_TEST_ASK_FIXTURES_H

#include "test.h" /* first: the fixture headers use it */

#include "iris.h"
#include "model_fixtures.h"
#include "search/db.h"
#include "util/fs.h"

#include <libgen.h>
#include <sqlite3.h>
#include <sys/wait.h>

static char axf_dir[64];
static int64_t axf_model_row;

static inline const char *axf_path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", axf_dir, name);
    return buf[k];
}

static inline void axf_copy(const char *from, const char *name)
{
    size_t n;
    char *data = test_read_file(from, &n);
    if (!data || fx_write(axf_dir, name, data, n)) abort();
    free(data);
}

static inline void axf_clear_env(void)
{
    static const char *const prefixes[] = {"IRIS_LLM_", "IRIS_VLM_", "IRIS_CAPTION_"};
    extern char **environ;
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e && !again; e++)
            for (size_t p = 0; p < 3; p++)
                if (!strncmp(*e, prefixes[p], strlen(prefixes[p]))) {
                    char name[128];
                    snprintf(name, sizeof name, "%.*s", (int)(strcspn(*e, "=")), *e);
                    unsetenv(name);
                    again = 1;
                    break;
                }
    }
    setenv("IRIS_CONFIG", axf_path("config.toml"), 1);
}

/* Records a file holding items (one vector each, from texts or the image
 * file); the content is done. Returns the content id. */
static inline int64_t axf_add(iris_db *db, const char *name, int kind, const store_item *items,
                              int n)
{
    const iris_model *m;
    CHECK_OK(iris_db_model(db, &m));
    const char *path = axf_path(name);
    char sha[65];
    CHECK_OK(iris_sha256_file(path, sha));
    store_put p = {path, 1, 1, sha, kind};
    store_put_result r;
    db_lock(db);
    int rc = store_file_put(db->st, &p, &r);
    db_unlock(db);
    CHECK_OK(rc);
    for (int i = 0; i < n; i++) {
        float v[64];
        CHECK(iris_model_dim(m) <= 64);
        if (items[i].modality == STORE_IMAGE) {
            iris_image img;
            CHECK_OK(iris_image_load(path, NULL, &img));
            CHECK_OK(iris_encode_images(m, &img, 1, v));
            iris_image_free(&img);
        } else {
            CHECK_OK(iris_encode_texts(m, &items[i].text, 1, v));
        }
        db_lock(db);
        rc = store_item_add(db->st, r.content.id, &items[i], axf_model_row, v, iris_model_dim(m),
                            NULL);
        db_unlock(db);
        CHECK_OK(rc);
    }
    db_lock(db);
    rc = store_content_done(db->st, r.content.id);
    db_unlock(db);
    CHECK_OK(rc);
    return r.content.id;
}

static const char AXF_MANUAL[] =
    "To reset the printer, hold the red button for five seconds until the lamp blinks.";
static const char AXF_PAPER[] = "The printer takes A4 and Letter paper in the lower tray.";
static const char AXF_TONER[] = "Replace the toner cartridge by opening the front panel.";
static const char AXF_JAM[] = "A paper jam is cleared through the rear door.";

static inline iris_db *axf_open(void)
{
    if (axf_dir[0]) fx_rmtree(axf_dir); /* left by a test that failed */
    snprintf(axf_dir, sizeof axf_dir, "/tmp/iris-ask-XXXXXX");
    if (!mkdtemp(axf_dir)) abort();
    if (fx_write(axf_dir, "config.toml", "", 0)) abort();
    axf_clear_env();
    iris_db *db = NULL;
    iris_db_opts o = {.model = TINY_HF};
    CHECK_OK(iris_db_open(axf_path("index.db"), &o, &db));
    const iris_model *m;
    db_lock(db);
    int rc = db_record_model_locked(db, &m, &axf_model_row);
    db_unlock(db);
    CHECK_OK(rc);
    if (fx_write(axf_dir, "manual.txt", AXF_MANUAL, sizeof AXF_MANUAL - 1)) abort();
    store_item manual[] = {{.modality = STORE_TEXT_CHUNK, .seq = 0, .char_start = 0,
                            .char_end = sizeof AXF_MANUAL - 1, .text = AXF_MANUAL},
                           {.modality = STORE_TEXT_CHUNK, .seq = 1, .char_start = 0,
                            .char_end = 10, .text = AXF_PAPER}};
    axf_add(db, "manual.txt", STORE_KIND_TEXT, manual, 2);
    if (fx_write(axf_dir, "guide.pdf", "%PDF-1.4 stand-in", 17)) abort();
    store_item guide[] = {{.modality = STORE_PDF_TEXT, .seq = 0, .page = 3, .char_start = 0,
                           .char_end = 5, .text = AXF_TONER},
                          {.modality = STORE_PDF_TEXT, .seq = 1, .page = 7, .char_start = 0,
                           .char_end = 5, .text = AXF_JAM}};
    axf_add(db, "guide.pdf", STORE_KIND_PDF, guide, 2);
    axf_copy("tests/fixtures/rag/red.jpg", "panel.jpg");
    store_item panel[] = {{.modality = STORE_IMAGE, .seq = 0, .char_start = -1, .char_end = -1},
                          {.modality = STORE_OCR_TEXT, .seq = 1, .char_start = -1,
                           .char_end = -1, .text = "RESET lamp"}};
    axf_add(db, "panel.jpg", STORE_KIND_IMAGE, panel, 2);
    axf_copy("tests/fixtures/rag/blue.png", "disc.png");
    store_item disc[] = {{.modality = STORE_IMAGE, .seq = 0, .char_start = -1, .char_end = -1}};
    axf_add(db, "disc.png", STORE_KIND_IMAGE, disc, 1);
    return db;
}

/* PRAGMA integrity_check of the index file, from a separate connection. */
static inline int axf_integrity_ok(void)
{
    sqlite3 *s = NULL;
    sqlite3_stmt *q = NULL;
    int ok = sqlite3_open_v2(axf_path("index.db"), &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(s, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK &&
             sqlite3_step(q) == SQLITE_ROW &&
             !strcmp((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(s);
    return ok;
}

static inline int64_t axf_items(iris_db *db)
{
    iris_stats s;
    CHECK_OK(iris_db_stats(db, &s));
    return s.items;
}

/* The iris binary beside the test binaries (build/tests/x -> build/iris). */
static char axf_iris_bin[512];

static inline void axf_find_cli(const char *argv0)
{
    char *self = strdup(argv0);
    snprintf(axf_iris_bin, sizeof axf_iris_bin, "%s/../iris", self ? dirname(self) : ".");
    free(self);
}

/* Runs `iris CMD --db INDEX ARGS` (stdin from /dev/null, stderr joined to
 * stdout into out); returns its exit status. */
static inline int axf_run_cli(const char *cmd, const char *args, char *out, size_t cap)
{
    char line[2048];
    snprintf(line, sizeof line, "%s %s --db %s %s 2>&1 < /dev/null", axf_iris_bin, cmd,
             axf_path("index.db"), args);
    FILE *p = popen(line, "r");
    CHECK(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void axf_close(iris_db *db)
{
    iris_db_close(db);
    fx_rmtree(axf_dir);
    axf_dir[0] = '\0';
}

#endif
