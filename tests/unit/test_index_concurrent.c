/* Index concurrency: three reader threads search (graph, exact, int8, with
 * and without filters) while the main thread adds, updates, deletes,
 * compacts and saves. Readers check every answer is well formed: only ids
 * that were added, no id deleted before the search began, scores sorted,
 * a full list whenever enough items exist. Meant to run under ASan too. */
#include "iris.h"
#include "test.h"
#include "ann_data.h"
#include "index/index.h"

#include <pthread.h>
#include <unistd.h>

#define DIM 48
#define TOTAL 6000
#define FIRST 1500
#define BATCH 250
#define K 10

static float *vecs;
static iris_ann *ann;
static int published;     /* items [0, published) were added (atomic) */
static int deleted_below; /* items [0, deleted_below) with id % 5 == 0 are deleted (atomic) */
static int stop, failures, searches;
static char failure[512];

static void fail(const char *what, int detail)
{
    if (__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED) == 0)
        snprintf(failure, sizeof failure, "%s (%d)", what, detail);
}

static void *reader(void *arg)
{
    int t = (int)(intptr_t)arg, methods[] = {IRIS_ANN_AUTO, IRIS_ANN_EXACT, IRIS_ANN_EXACT_INT8};
    ann_rng r = {(uint64_t)t + 100};
    iris_ann_hit hits[K];
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        int seen = __atomic_load_n(&published, __ATOMIC_ACQUIRE);
        int dead = __atomic_load_n(&deleted_below, __ATOMIC_ACQUIRE);
        int qi = (int)(ann_rng_next(&r) % (uint64_t)seen), n = -1;
        iris_ann_filter f = {.modalities = 1u << 1};
        iris_ann_search_opts o = {.method = methods[qi % 3], .filter = qi % 2 ? &f : NULL};
        if (iris_ann_search(ann, vecs + (size_t)qi * DIM, K, &o, hits, &n)) {
            fail(iris_errmsg(), qi);
            break;
        }
        if (n != K) fail("short result list", n);
        for (int j = 0; j < n; j++) {
            uint64_t id = hits[j].id;
            if (id >= TOTAL) fail("unknown id", (int)id);
            else if (id % 5 == 0 && (int)id < dead) fail("deleted id returned", (int)id);
            if (o.filter && id % 2 != 1) fail("filter ignored", (int)id);
            if (j && hits[j].score > hits[j - 1].score) fail("unsorted", j);
        }
        __atomic_fetch_add(&searches, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_readers_during_writes(void)
{
    vecs = malloc((size_t)TOTAL * DIM * sizeof *vecs);
    ann_data_fill(vecs, TOTAL, DIM, 30, 0.05, 77);
    uint64_t *ids = malloc(TOTAL * sizeof *ids);
    iris_ann_attr *at = malloc(TOTAL * sizeof *at);
    for (int i = 0; i < TOTAL; i++) {
        ids[i] = (uint64_t)i;
        at[i] = (iris_ann_attr){(uint8_t)(i % 2), 0}; /* odd ids: modality 1 */
    }
    iris_ann_config cfg;
    iris_ann_config_default(&cfg, DIM);
    cfg.hnsw_threshold = 3000; /* the switch to a graph happens under the readers */
    cfg.n_threads = 2;
    CHECK_OK(iris_ann_create(&cfg, &ann));
    CHECK_OK(iris_ann_add(ann, FIRST, ids, vecs, at));
    published = FIRST;
    pthread_t th[3];
    for (int t = 0; t < 3; t++) pthread_create(&th[t], NULL, reader, (void *)(intptr_t)t);
    char path[64];
    snprintf(path, sizeof path, "/tmp/iris_test_conc_%d.ann", (int)getpid());
    for (int i = FIRST; i < TOTAL; i += BATCH) {
        CHECK_OK(iris_ann_add(ann, BATCH, ids + i, vecs + (size_t)i * DIM, at + i));
        __atomic_store_n(&published, i + BATCH, __ATOMIC_RELEASE);
        /* Update old items (never deleted ones) with their own vectors. */
        for (int u = i - FIRST + 1; u < i - FIRST + 50; u += 5)
            CHECK_OK(iris_ann_add(ann, 4, ids + u, vecs + (size_t)u * DIM, at + u));
        /* Delete multiples of 5 below i / 2. */
        uint64_t del[BATCH];
        int nd = 0;
        for (int d = __atomic_load_n(&deleted_below, __ATOMIC_RELAXED); d < i / 2; d++)
            if (d % 5 == 0 && nd < BATCH) del[nd++] = (uint64_t)d;
        CHECK_OK(iris_ann_delete(ann, (size_t)nd, del, NULL));
        if (nd) __atomic_store_n(&deleted_below, (int)del[nd - 1] + 1, __ATOMIC_RELEASE);
        if (i == FIRST + 8 * BATCH) CHECK_OK(iris_ann_compact(ann));
        if (i == FIRST + 12 * BATCH) CHECK_OK(iris_ann_save(ann, path));
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    printf("# %d searches ran during the writes\n", searches);
    CHECK_MSG(failures == 0, "%d failures, first: %s", failures, failure);
    CHECK(searches > 0);
    /* Afterwards every live item finds itself. */
    int self = 0, live = 0;
    for (int i = 0; i < TOTAL; i += 7) {
        if (i % 5 == 0 && i < deleted_below) continue;
        iris_ann_hit h[1];
        int n;
        CHECK_OK(iris_ann_search(ann, vecs + (size_t)i * DIM, 1, NULL, h, &n));
        live++;
        self += n == 1 && h[0].id == (uint64_t)i;
    }
    CHECK_MSG(self >= live * 99 / 100, "%d of %d find themselves", self, live);
    iris_ann_free(ann);
    unlink(path);
    free(vecs);
    free(ids);
    free(at);
}

int main(void)
{
    RUN(test_readers_during_writes);
    return test_summary();
}
