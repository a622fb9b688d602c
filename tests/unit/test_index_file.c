/* Index file: save/open round trip (search results identical), changes after
 * a mapped open, and every kind of bad file: missing, empty, truncated,
 * garbage, one flipped byte anywhere, wrong version, wrong dim, stale
 * fingerprint, and a forged file whose checksums are valid but whose links
 * point outside the index. */
#include "iris.h"
#include "test.h"
#include "ann_data.h"
#include "index/crc32c.h"
#include "index/file.h"
#include "index/index.h"

#include <unistd.h>

#define N 300
#define DIM 64

static char path[128], bad_path[140];

static iris_ann *build(float *v, uint64_t *ids, int mode)
{
    ann_data_fill(v, N, DIM, 8, 0.05, 7);
    iris_ann_attr at[N];
    for (int i = 0; i < N; i++) {
        ids[i] = 5000 + (uint64_t)i;
        at[i] = (iris_ann_attr){(uint8_t)(i % 3), (uint32_t)i};
    }
    iris_ann_config cfg;
    iris_ann_config_default(&cfg, DIM);
    cfg.mode = mode;
    cfg.M = 8;
    cfg.n_threads = 1;
    iris_ann *a = NULL;
    if (iris_ann_create(&cfg, &a) || iris_ann_add(a, N, ids, v, at)) return NULL;
    uint64_t gone[3] = {5000, 5001, 5002};
    if (iris_ann_delete(a, 3, gone, NULL)) return NULL;
    iris_ann_set_fingerprint(a, 0xfeedULL);
    return a;
}

/* Same hits (ids and scores) for a few queries and every method. */
static int same_answers(iris_ann *x, iris_ann *y, const float *q)
{
    int methods[] = {IRIS_ANN_AUTO, IRIS_ANN_EXACT, IRIS_ANN_EXACT_INT8, IRIS_ANN_EXACT_BINARY};
    for (int m = 0; m < 4; m++)
        for (int i = 0; i < 5; i++) {
            iris_ann_hit hx[10], hy[10];
            int nx, ny;
            iris_ann_search_opts o = {.method = methods[m]};
            if (iris_ann_search(x, q + i * DIM, 10, &o, hx, &nx) ||
                iris_ann_search(y, q + i * DIM, 10, &o, hy, &ny) || nx != ny)
                return 0;
            for (int j = 0; j < nx; j++)
                if (hx[j].id != hy[j].id || hx[j].score != hy[j].score) return 0;
        }
    return 1;
}

static int open_why(const char *p, const iris_ann_open_opts *o, int *rc)
{
    iris_ann *a = NULL;
    int why = -1;
    *rc = iris_ann_open(p, o, &a, &why);
    iris_ann_free(a);
    return why;
}

static void test_round_trip(void)
{
    float v[N * DIM], q[5 * DIM];
    uint64_t ids[N];
    ann_data_fill(q, 5, DIM, 8, 0.05, 8);
    for (int mode = IRIS_ANN_EXACT; mode <= IRIS_ANN_HNSW; mode++) {
        iris_ann *a = build(v, ids, mode), *b = NULL;
        CHECK(a);
        CHECK_OK(iris_ann_save(a, path));
        int why;
        iris_ann_open_opts o = {.dim = DIM, .check_fingerprint = 1, .fingerprint = 0xfeed,
                                .verify = IRIS_ANN_VERIFY_FULL};
        CHECK_OK(iris_ann_open(path, &o, &b, &why));
        CHECK_EQ_INT(why, IRIS_ANN_OK);
        iris_ann_stats sa, sb;
        CHECK_OK(iris_ann_stats_get(a, &sa));
        CHECK_OK(iris_ann_stats_get(b, &sb));
        CHECK(sa.rows == sb.rows && sa.live == sb.live && sa.graph == sb.graph);
        CHECK(sb.mapped_bytes > 0 && sb.fingerprint == 0xfeed);
        CHECK(same_answers(a, b, q));
        /* Changing a mapped index: add, update, delete in both, then compare. */
        uint64_t nid[2] = {9000, 5010};
        iris_ann_attr at[2] = {{1, 1}, {2, 2}};
        CHECK_OK(iris_ann_add(a, 2, nid, q, at));
        CHECK_OK(iris_ann_add(b, 2, nid, q, at));
        CHECK_OK(iris_ann_delete(a, 1, &ids[100], NULL));
        CHECK_OK(iris_ann_delete(b, 1, &ids[100], NULL));
        CHECK(same_answers(a, b, q));
        /* Save over the very file b is mapped from, reopen, compare again. */
        CHECK_OK(iris_ann_save(b, path));
        iris_ann *c = NULL;
        CHECK_OK(iris_ann_open(path, &o, &c, &why));
        CHECK(same_answers(a, c, q));
        CHECK_OK(iris_ann_compact(c));
        CHECK(same_answers(a, c, q) || mode == IRIS_ANN_HNSW); /* a new graph may differ */
        iris_ann_free(a);
        iris_ann_free(b);
        iris_ann_free(c);
    }
    CHECK(access(path, F_OK) == 0);
    char tmp[200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d-0", path, (int)getpid());
    CHECK(access(tmp, F_OK) != 0); /* no temp file left behind */
}

static unsigned char *saved(size_t *len)
{
    float v[N * DIM];
    uint64_t ids[N];
    iris_ann *a = build(v, ids, IRIS_ANN_HNSW);
    if (!a || iris_ann_save(a, path)) return NULL;
    iris_ann_free(a);
    return (unsigned char *)test_read_file(path, len);
}

static void write_bad(const unsigned char *d, size_t n)
{
    FILE *f = fopen(bad_path, "wb");
    if (f) {
        fwrite(d, 1, n, f);
        fclose(f);
    }
}

static void test_missing_empty_truncated(void)
{
    int rc;
    iris_ann_open_opts o = {.verify = IRIS_ANN_VERIFY_FULL};
    CHECK_EQ_INT(open_why("/nonexistent/x.ann", &o, &rc), IRIS_ANN_MISSING);
    CHECK_EQ_INT(rc, IRIS_ENOTFOUND);
    size_t len;
    unsigned char *d = saved(&len);
    CHECK(d && len > 8 * ANN_FILE_PAGE);
    size_t cuts[] = {0, 1, 100, ANN_FILE_PAGE, ANN_FILE_PAGE + 1, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bad(d, cuts[i]);
        CHECK_MSG(open_why(bad_path, &o, &rc) == IRIS_ANN_TRUNCATED, "cut at %zu", cuts[i]);
        CHECK_EQ_INT(rc, IRIS_EFORMAT);
        CHECK(strstr(iris_errmsg(), bad_path));
    }
    /* Garbage of a plausible size. */
    ann_rng r = {1};
    unsigned char *g = malloc(len);
    for (size_t i = 0; i < len; i++) g[i] = (unsigned char)ann_rng_next(&r);
    write_bad(g, len);
    CHECK_EQ_INT(open_why(bad_path, &o, &rc), IRIS_ANN_CORRUPT);
    free(g);
    free(d);
}

static void test_every_flipped_byte_is_caught(void)
{
    size_t len;
    unsigned char *d = saved(&len);
    CHECK(d);
    iris_ann_open_opts full = {.verify = IRIS_ANN_VERIFY_FULL};
    int rc;
    /* Header bytes covered by its CRC, then the first and a middle byte of
     * every page: page starts past the header always lie inside a section. */
    size_t spots[] = {9, 20, 100, 300, 500, 583};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        d[spots[i]] ^= 0x10;
        write_bad(d, len);
        int why = open_why(bad_path, &full, &rc);
        CHECK_MSG(why == IRIS_ANN_CORRUPT || why == IRIS_ANN_VERSION, "byte %zu: %d", spots[i], why);
        d[spots[i]] ^= 0x10;
    }
    int structural = 0;
    for (size_t p = ANN_FILE_PAGE; p < len; p += ANN_FILE_PAGE) {
        d[p] ^= 0x01;
        write_bad(d, len);
        CHECK_MSG(open_why(bad_path, &full, &rc) == IRIS_ANN_CORRUPT, "page at %zu", p);
        /* Structure-only verification still catches the structure sections. */
        iris_ann_open_opts quick = {.verify = IRIS_ANN_VERIFY_STRUCTURE};
        structural += open_why(bad_path, &quick, &rc) == IRIS_ANN_CORRUPT;
        d[p] ^= 0x01;
    }
    CHECK(structural >= 3);
    write_bad(d, len);
    CHECK_EQ_INT(open_why(bad_path, &full, &rc), IRIS_ANN_OK);
    free(d);
}

static void reseal(unsigned char *d, int sec)
{
    file_header *h = (file_header *)d;
    h->sec[sec].crc = ann_crc32c(0, d + h->sec[sec].off, h->sec[sec].bytes);
    h->crc = ann_crc32c(0, h, offsetof(file_header, crc));
}

static void test_version_dim_stale_forged(void)
{
    size_t len;
    unsigned char *d = saved(&len);
    CHECK(d);
    int rc;
    file_header *h = (file_header *)d;
    iris_ann_open_opts o = {.dim = DIM, .check_fingerprint = 1, .fingerprint = 0xfeed};
    write_bad(d, len);
    CHECK_EQ_INT(open_why(bad_path, &o, &rc), IRIS_ANN_OK);
    o.fingerprint = 0xbeef;
    CHECK_EQ_INT(open_why(bad_path, &o, &rc), IRIS_ANN_STALE);
    CHECK(strstr(iris_errmsg(), "stale"));
    o.fingerprint = 0xfeed;
    o.dim = 512;
    CHECK_EQ_INT(open_why(bad_path, &o, &rc), IRIS_ANN_MISMATCH);
    CHECK_EQ_INT(rc, IRIS_EMODEL);
    o.dim = DIM;
    h->version = 2;
    reseal(d, SEC_META);
    write_bad(d, len);
    CHECK_EQ_INT(open_why(bad_path, &o, &rc), IRIS_ANN_VERSION);
    CHECK_EQ_INT(rc, IRIS_EUNSUPPORTED);
    h->version = ANN_FILE_VERSION;
    /* Forged: a link far outside the index, checksums recomputed. */
    uint32_t *links = (uint32_t *)(d + h->sec[SEC_LINK0].off);
    uint32_t saved_link = links[1];
    links[0] = links[0] ? links[0] : 1;
    links[1] = 0x7fffffff;
    reseal(d, SEC_LINK0);
    write_bad(d, len);
    CHECK_EQ_INT(open_why(bad_path, &o, &rc), IRIS_ANN_CORRUPT);
    CHECK(strstr(iris_errmsg(), "links"));
    links[1] = saved_link;
    /* Forged: a row claiming a level above the file's arena. */
    ann_meta *m = (ann_meta *)(d + h->sec[SEC_META].off);
    m[4].level = 9;
    reseal(d, SEC_META);
    write_bad(d, len);
    CHECK_EQ_INT(open_why(bad_path, &o, &rc), IRIS_ANN_CORRUPT);
    free(d);
}

static void test_save_failure_keeps_old_file(void)
{
    float v[N * DIM];
    uint64_t ids[N];
    iris_ann *a = build(v, ids, IRIS_ANN_EXACT);
    CHECK(a);
    CHECK(iris_ann_save(a, "/nonexistent-dir/x.ann") == IRIS_EIO);
    CHECK(strstr(iris_errmsg(), "/nonexistent-dir/x.ann"));
    iris_ann_free(a);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/iris_test_index_%d.ann", (int)getpid());
    snprintf(bad_path, sizeof bad_path, "%s.bad", path);
    RUN(test_round_trip);
    RUN(test_missing_empty_truncated);
    RUN(test_every_flipped_byte_is_caught);
    RUN(test_version_dim_stale_forged);
    RUN(test_save_failure_keeps_old_file);
    unlink(path);
    unlink(bad_path);
    return test_summary();
}
