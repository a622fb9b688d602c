/*
 * ask_bench.c - latency of `iris ask` up to the model, split into phases:
 * query embedding (CLIP text tower), vector lane, keyword lane, fusion,
 * reading the sources back, image bytes (read, SHA-256 check against the
 * index, fitting to 1 MiB / 1024 px), prompt building, and the request
 * (JSON with base64 images, then a refused connection: the model itself is
 * left out by pointing IRIS_LLM_URL at a closed port).
 *
 *   make bench && build/bench/ask_bench MODEL [N_ITEMS] [N_QUERIES] [PHOTOS] [DIR]
 *
 * MODEL should be ViT-B/32-shaped (512-d; e.g. models/full/b32 written by
 * tests/py/test_reference_full.py): embedding time depends on the shape.
 * PHOTOS is a folder of real JPEGs (default ../shared/data/images/
 * mate-nature: 13 camera photos of 80 KB to 1.2 MB, two over the 1 MiB
 * cap, which get re-encoded).
 *
 * The index is synthetic, through the store API: N items, half text
 * chunks of 200 Zipf words (bench/synth.h), half images with no file,
 * random unit vectors; plus the photos, indexed for real (content hash of
 * the file) with an OCR item holding the word "snapshot". Queries are two
 * mid-frequency words and "snapshot", so the keyword lane ranks photos
 * high and a vision prompt carries up to 4 of them: the expensive case.
 * The same queries also run with no model configured (extractive answer).
 */
#include "search/db.h"
#include "synth.h"
#include "timing.h"
#include "util/fs.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORDS 200
#define BATCH 1000
#define MAX_PHOTOS 64

static int fail(const char *what)
{
    fprintf(stderr, "ask_bench: %s: %s\n", what, iris_errmsg());
    return 1;
}

/* One file with its items; sha NULL: a synthetic content. */
static int add_file(iris_db *db, const char *path, const char *sha_in, int kind,
                    const store_item *items, int n, int64_t row, int dim, float *vec)
{
    char sha[65];
    if (sha_in) snprintf(sha, sizeof sha, "%s", sha_in);
    else iris_sha256_hex(path, strlen(path), sha);
    store_put p = {path, 1000, 1, sha, kind};
    store_put_result r;
    int rc = store_file_put(db->st, &p, &r);
    for (int i = 0; !rc && i < n; i++) {
        random_unit(vec, dim);
        rc = store_item_add(db->st, r.content.id, &items[i], row, vec, dim, NULL);
    }
    if (!rc) rc = store_content_done(db->st, r.content.id);
    return rc;
}

static int add_synthetic(iris_db *db, int i, int64_t row, int dim, float *vec)
{
    static char text[WORDS * 12];
    char path[64], w[16];
    int is_text = i % 2 == 0;
    snprintf(path, sizeof path, "/bench/%s/%07d.%s", is_text ? "docs" : "photos", i,
             is_text ? "txt" : "jpg");
    text[0] = '\0';
    for (int k = 0; is_text && k < WORDS; k++) {
        word(zipf_word(), w);
        strcat(strcat(text, k ? " " : ""), w);
    }
    store_item it = {.modality = is_text ? STORE_TEXT_CHUNK : STORE_IMAGE,
                     .text = is_text ? text : NULL, .char_start = -1, .char_end = -1};
    return add_file(db, path, NULL, is_text ? STORE_KIND_TEXT : STORE_KIND_IMAGE, &it, 1, row,
                    dim, vec);
}

static int add_photos(iris_db *db, const char *dir, int64_t row, int dim, float *vec, int *n)
{
    DIR *d = opendir(dir);
    if (!d) return fprintf(stderr, "ask_bench: no photo folder %s\n", dir), 1;
    struct dirent *e;
    int rc = IRIS_OK;
    *n = 0;
    while (!rc && *n < MAX_PHOTOS && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".jpg")) continue;
        char path[1024], sha[65];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((rc = iris_sha256_file(path, sha))) break;
        store_item items[] = {{.modality = STORE_IMAGE, .char_start = -1, .char_end = -1},
                              {.modality = STORE_OCR_TEXT, .seq = 1, .char_start = -1,
                               .char_end = -1, .text = "snapshot"}};
        rc = add_file(db, path, sha, STORE_KIND_IMAGE, items, 2, row, dim, vec);
        (*n)++;
    }
    closedir(d);
    return rc;
}

static int build(iris_db *db, int n, const char *photos, int *n_photos)
{
    const iris_model *m;
    int64_t row;
    db_lock(db);
    int rc = db_record_model_locked(db, &m, &row), dim = m ? iris_model_dim(m) : 1;
    float *vec = malloc((size_t)dim * sizeof *vec);
    for (int i = 0; !rc && i < n; i++) {
        if (i % BATCH == 0) rc = store_begin(db->st);
        if (!rc) rc = add_synthetic(db, i, row, dim, vec);
        if (!rc && (i % BATCH == BATCH - 1 || i == n - 1)) rc = store_commit(db->st);
    }
    if (!rc) rc = add_photos(db, photos, row, dim, vec, n_photos);
    db_unlock(db);
    free(vec);
    return rc;
}

/* ---------------------------------------------------------------- runs */

enum { EMBED, VECTOR, KEYWORD, FUSE, SOURCES, IMAGES, PROMPT, REQUEST, TOTAL, CPU, N_PHASES };
static const char *const names[N_PHASES] = {"embed", "vector", "keyword", "fuse", "sources",
                                            "images", "prompt", "request", "total", "cpu"};

static int run(iris_db *db, int n_queries, int with_model)
{
    if (with_model) {
        setenv("IRIS_LLM_URL", "http://127.0.0.1:9", 1); /* closed: refused at once */
        setenv("IRIS_LLM_MODEL", "bench", 1);
        setenv("IRIS_LLM_VISION", "1", 1);
        setenv("IRIS_LLM_CONTEXT", "32768", 1);
        setenv("IRIS_LLM_RETRIES", "0", 1);
    } else {
        unsetenv("IRIS_LLM_URL");
    }
    double *t[N_PHASES];
    for (int p = 0; p < N_PHASES; p++) t[p] = calloc((size_t)n_queries, sizeof(double));
    double images = 0, tokens = 0;
    srand(7);
    for (int i = 0; i < n_queries; i++) {
        char a[16], b[16], q[64];
        word(50 + rand() % 500, a);
        word(50 + rand() % 500, b);
        snprintf(q, sizeof q, "%s %s snapshot", a, b);
        iris_answer *ans = NULL;
        double c0 = cpu_ms();
        int rc = iris_ask(db, q, NULL, NULL, NULL, &ans);
        t[CPU][i] = cpu_ms() - c0;
        if (rc && !(with_model && rc == IRIS_ENET)) return fail("ask");
        double v[] = {ans->embed_ms, ans->vector_ms, ans->keyword_ms, ans->fuse_ms,
                      ans->sources_ms, ans->images_ms, ans->prompt_ms, ans->llm_ms, ans->total_ms};
        for (int p = 0; p < CPU; p++) t[p][i] = v[p];
        images += ans->images_sent;
        tokens += ans->est_prompt_tokens;
        iris_answer_free(ans);
    }
    printf("%s: %.1f images attached, %.0f prompt tokens (estimated) on average\n",
           with_model ? "vision model (request refused)" : "no model (extractive)",
           images / n_queries, tokens / n_queries);
    for (int p = 0; p < N_PHASES; p++)
        printf("  %-8s %8.2f %8.2f\n", names[p], pct(t[p], n_queries, 0.5),
               pct(t[p], n_queries, 0.95));
    printf("  (ms: p50, p95)\n");
    for (int p = 0; p < N_PHASES; p++) free(t[p]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ask_bench MODEL [N_ITEMS] [N_QUERIES] [PHOTOS] [DIR]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 10000, nq = argc > 3 ? atoi(argv[3]) : 30;
    const char *photos = argc > 4 ? argv[4] : "../shared/data/images/mate-nature";
    const char *dir = argc > 5 ? argv[5] : "/tmp/iris_ask_bench";
    char path[512], conf[600], cmd[1300];
    if (synth_start(dir, path, sizeof path)) return 1;
    snprintf(conf, sizeof conf, "%s/config.toml", dir); /* empty: no language model */
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && : > '%s'", dir, conf);
    if (system(cmd) != 0) return 1;
    setenv("IRIS_CONFIG", conf, 1);
    iris_db *db;
    iris_db_opts o = {.model = argv[1]};
    if (iris_db_open(path, &o, &db)) return fail("open");
    double t0 = now_ms();
    int n_photos = 0;
    if (build(db, n, photos, &n_photos)) return fail("build");
    printf("items %d + %d photos, build %.1f s\n", n, n_photos, (now_ms() - t0) / 1e3);
    iris_answer *warm; /* loads the vector cache */
    if (iris_ask(db, "warm up", NULL, NULL, NULL, &warm)) return fail("first ask");
    iris_answer_free(warm);
    int rc = run(db, nq, 0) || run(db, nq, 1);
    iris_db_close(db);
    return rc;
}
