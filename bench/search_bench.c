/*
 * search_bench.c - query latency of iris_search at a given index size,
 * split into its phases: query embedding (CLIP text tower), vector lane
 * (exact cosine scan), keyword lane (BM25), fusion, and the rest (item
 * details and snippets for the top k).
 *
 *   make bench && build/bench/search_bench MODEL [N_ITEMS] [N_QUERIES] [DIR]
 *
 * MODEL must be ViT-B/32-shaped for realistic numbers (512-d; e.g. the
 * seeded random models tests/py/test_reference_full.py writes to
 * models/full/b32): embedding time depends on the shape, not the weights.
 *
 * The index is synthetic, written through the store API: N items, half
 * text chunks of 60 words drawn from a 5000-word Zipf(1) vocabulary, half
 * images (no text), each with a random unit 512-d vector, one file each.
 * Queries are two words from the middle of the frequency range. Phases
 * are wall time; `cpu` is the process CPU time of the whole query. The
 * first query builds the vector index (HNSW above 20K items) and saves
 * it; the handle is then reopened, as a new process would, and the
 * percentiles come from that handle, which maps the saved file.
 */
#include "search/db.h"
#include "search/vcache.h"
#include "synth.h"
#include "timing.h"
#include "util/fs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORDS 60
#define BATCH 1000

static int fail(const char *what)
{
    fprintf(stderr, "search_bench: %s: %s\n", what, iris_errmsg());
    return 1;
}

static int add_item(iris_db *db, int i, int64_t row, int dim, float *vec)
{
    char path[64], sha[65], text[WORDS * 12] = "", w[16];
    int is_text = i % 2 == 0;
    snprintf(path, sizeof path, "/bench/%s/%07d.%s", is_text ? "docs" : "photos", i,
             is_text ? "txt" : "jpg");
    for (int k = 0; is_text && k < WORDS; k++) {
        word(zipf_word(), w);
        strcat(strcat(text, k ? " " : ""), w);
    }
    char key[80];
    snprintf(key, sizeof key, "item %d", i);
    iris_sha256_hex(key, strlen(key), sha);
    store_put p = {path, 1000, 1, sha, is_text ? STORE_KIND_TEXT : STORE_KIND_IMAGE};
    store_put_result r;
    store_item it = {.modality = is_text ? STORE_TEXT_CHUNK : STORE_IMAGE,
                     .text = is_text ? text : NULL, .char_start = -1, .char_end = -1};
    random_unit(vec, dim);
    int rc = store_file_put(db->st, &p, &r);
    if (!rc) rc = store_item_add(db->st, r.content.id, &it, row, vec, dim, NULL);
    if (!rc) rc = store_content_done(db->st, r.content.id);
    return rc;
}

static int build(iris_db *db, int n)
{
    const iris_model *m;
    int64_t row;
    db_lock(db);
    int rc = db_record_model_locked(db, &m, &row), dim = m ? iris_model_dim(m) : 0;
    float *vec = malloc((size_t)(dim ? dim : 1) * sizeof *vec);
    for (int i = 0; !rc && i < n; i++) {
        if (i % BATCH == 0) rc = store_begin(db->st);
        if (!rc) rc = add_item(db, i, row, dim, vec);
        if (!rc && (i % BATCH == BATCH - 1 || i == n - 1)) rc = store_commit(db->st);
    }
    db_unlock(db);
    free(vec);
    return rc;
}

enum { EMBED, VECTOR, KEYWORD, FUSE, REST, TOTAL, CPU, N_PHASES };
static const char *const phase_names[N_PHASES] = {"embed", "vector", "keyword", "fuse",
                                                  "details", "total", "cpu"};

static int run_mode(iris_db *db, int mode, int n_queries)
{
    double *t[N_PHASES];
    for (int p = 0; p < N_PHASES; p++) t[p] = calloc((size_t)n_queries, sizeof(double));
    srand(7);
    for (int i = 0; i < n_queries; i++) {
        char a[16], b[16], q[40];
        word(50 + rand() % 500, a);
        word(50 + rand() % 500, b);
        snprintf(q, sizeof q, "%s %s", a, b);
        iris_query query = {.text = q, .mode = mode, .k = 10};
        iris_results *r;
        double c0 = cpu_ms();
        if (iris_search(db, &query, &r)) return fail("search");
        t[CPU][i] = cpu_ms() - c0;
        t[EMBED][i] = r->embed_ms;
        t[VECTOR][i] = r->vector_ms;
        t[KEYWORD][i] = r->keyword_ms;
        t[FUSE][i] = r->fuse_ms;
        t[TOTAL][i] = r->total_ms;
        t[REST][i] = r->total_ms - r->embed_ms - r->vector_ms - r->keyword_ms - r->fuse_ms;
        iris_results_free(r);
    }
    printf("%-8s", iris_mode_name(mode));
    for (int p = 0; p < N_PHASES; p++)
        printf("  %s %.2f/%.2f", phase_names[p], pct(t[p], n_queries, 0.5),
               pct(t[p], n_queries, 0.95));
    printf("   (ms, p50/p95)\n");
    for (int p = 0; p < N_PHASES; p++) free(t[p]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: search_bench MODEL [N_ITEMS] [N_QUERIES] [DIR]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 10000, nq = argc > 3 ? atoi(argv[3]) : 50;
    const char *dir = argc > 4 ? argv[4] : "/tmp/iris_search_bench";
    char path[512];
    if (synth_start(dir, path, sizeof path)) return 1;
    iris_db *db;
    iris_db_opts o = {.model = argv[1]};
    if (iris_db_open(path, &o, &db)) return fail("open");
    double t0 = now_ms();
    if (build(db, n)) return fail("build");
    double t1 = now_ms();
    iris_query warm = {.text = "warm up", .k = 10};
    iris_results *r;
    double c0 = cpu_ms();
    if (iris_search(db, &warm, &r)) return fail("first search");
    double build_ms = r->total_ms, build_cpu = cpu_ms() - c0;
    iris_results_free(r);
    /* A new process: the saved vector index is mapped, not rebuilt. */
    iris_db_close(db);
    iris_db_opts ro = {.model = argv[1], .readonly = 1};
    if (iris_db_open(path, &ro, &db)) return fail("reopen");
    double t2 = now_ms();
    if (iris_search(db, &warm, &r)) return fail("first search after reopen");
    printf("items %d, store filled in %.1f s; first query builds the vector index: %.0f ms "
           "(%.0f ms CPU); first query of a new handle (index file mapped): %.0f ms\n",
           n, (t1 - t0) / 1e3, build_ms, build_cpu, now_ms() - t2);
    int graph = 0, n_vec = vcache_count(db->vc, &graph);
    printf("vector index: %d vectors, %s\n", n_vec, graph ? "HNSW" : "exact scan");
    iris_results_free(r);
    for (int mode = IRIS_MODE_HYBRID; mode <= IRIS_MODE_KEYWORD; mode++)
        if (run_mode(db, mode, nq)) return 1;
    iris_db_close(db);
    return 0;
}
