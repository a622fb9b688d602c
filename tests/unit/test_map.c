/*
 * test_map.c - the 2D map (PCA of the index's vectors) and its cache.
 *
 * Expected values are known by construction. Vectors are built as
 * c + S D R^T: S holds columns of a Sylvester-Hadamard matrix (entries
 * +-1, zero mean, mutually orthogonal), D distinct scales, R a random
 * orthonormal basis. The covariance is then exactly R D^2 R^T, so the
 * map's axes must be R's first two columns (up to the sign convention),
 * its variances the two largest d^2, the mean c, and every point's x
 * coordinate +-d1 exactly. A second case puts the top eigenvalues close
 * together (1% apart) to exercise convergence.
 *
 * The cache: a second call reads it; a write to the index makes the map
 * stale and the next call recomputes; damaged, truncated and foreign cache
 * files (another index's) are ignored, never trusted.
 */
#include "index_fixture.h"

#define N 32 /* samples: rows of the 32 x 32 Hadamard matrix */

static int hadamard(int i, int j) { return __builtin_popcount(i & j) % 2 ? -1 : 1; }

static unsigned seed = 777;
static double frand(void)
{
    seed = seed * 1103515245u + 12345u;
    return ((seed >> 8) & 0xFFFF) / 32768.0 - 1.0;
}

/* r: IX_DIM x IX_DIM, columns orthonormal (Gram-Schmidt of random). */
static void random_basis(double r[IX_DIM][IX_DIM])
{
    for (int j = 0; j < IX_DIM; j++) {
        for (int k = 0; k < IX_DIM; k++) r[k][j] = frand();
        for (int i = 0; i < j; i++) {
            double d = 0;
            for (int k = 0; k < IX_DIM; k++) d += r[k][i] * r[k][j];
            for (int k = 0; k < IX_DIM; k++) r[k][j] -= d * r[k][i];
        }
        double n = 0;
        for (int k = 0; k < IX_DIM; k++) n += r[k][j] * r[k][j];
        for (int k = 0; k < IX_DIM; k++) r[k][j] /= sqrt(n);
    }
}

typedef struct design {
    double r[IX_DIM][IX_DIM], d[IX_DIM], c[IX_DIM];
    int64_t ids[N];
} design;

/* Adds N items c + sum_j d_j S[i][j+1] R[:, j]; d0 > d1 > d2 > the rest. */
static void fill(iris_db *db, design *x, double d0, double d1, double d2)
{
    random_basis(x->r);
    for (int j = 0; j < IX_DIM; j++) x->d[j] = j == 0 ? d0 : j == 1 ? d1 : j == 2 ? d2 : 0.5 - 0.01 * j;
    for (int k = 0; k < IX_DIM; k++) x->c[k] = 0.2 * frand();
    for (int i = 0; i < N; i++) {
        float v[IX_DIM];
        for (int k = 0; k < IX_DIM; k++) {
            double s = x->c[k];
            for (int j = 0; j < IX_DIM; j++) s += x->d[j] * hadamard(i, j + 1) * x->r[k][j];
            v[k] = (float)s;
        }
        char path[64];
        snprintf(path, sizeof path, "/nowhere/item%02d.png", i);
        x->ids[i] = ix_add(db, path, i % 3 ? IRIS_MOD_IMAGE : IRIS_MOD_TEXT, NULL, v);
    }
}

/* The map's axis a equals +-R[:, a] (the sign is the map's convention). */
static void check_axis(const iris_map *m, const design *x, int a)
{
    double dot = 0;
    for (int k = 0; k < IX_DIM; k++) dot += m->axes[a * IX_DIM + k] * x->r[k][a];
    CHECK_NEAR(fabs(dot), 1.0, 1e-5);
    int big = 0;
    for (int k = 1; k < IX_DIM; k++)
        if (fabs(m->axes[a * IX_DIM + k]) > fabs(m->axes[a * IX_DIM + big])) big = k;
    CHECK(m->axes[a * IX_DIM + big] > 0);
}

static void check_design(const iris_map *m, const design *x)
{
    CHECK_EQ_INT(m->n, N);
    CHECK_EQ_INT(m->dim, IX_DIM);
    CHECK_NEAR(m->variance[0], x->d[0] * x->d[0], 1e-4);
    CHECK_NEAR(m->variance[1], x->d[1] * x->d[1], 1e-4);
    double total = 0;
    for (int j = 0; j < IX_DIM; j++) total += x->d[j] * x->d[j];
    CHECK_NEAR(m->total_variance, total, 1e-4);
    for (int k = 0; k < IX_DIM; k++) CHECK_NEAR(m->mean[k], x->c[k], 1e-5);
    check_axis(m, x, 0);
    check_axis(m, x, 1);
    for (int i = 0; i < N; i++) {
        const iris_map_point *p = iris_map_find(m, x->ids[i]);
        CHECK(p != NULL);
        CHECK_EQ_INT(p->modality, i % 3 ? IRIS_MOD_IMAGE : IRIS_MOD_TEXT);
        CHECK_NEAR(fabs(p->x), x->d[0], 1e-4);
        CHECK_NEAR(fabs(p->y), x->d[1], 1e-4);
    }
}

static void test_axes_known_by_construction(void)
{
    iris_db *db = ix_open();
    design x;
    fill(db, &x, 3.0, 2.0, 0.6);
    iris_map *m;
    CHECK_OK(iris_map_get(db, &m));
    CHECK_EQ_INT(m->from_cache, 0);
    check_design(m, &x);
    iris_map_free(m);
    ix_close(db);
}

static void test_close_eigenvalues(void)
{
    iris_db *db = ix_open();
    design x;
    fill(db, &x, 1.0, 0.995, 0.99);
    iris_map *m;
    CHECK_OK(iris_map_get(db, &m));
    check_design(m, &x);
    iris_map_free(m);
    ix_close(db);
}

static void test_projection_matches_points(void)
{
    iris_db *db = ix_open();
    design x;
    fill(db, &x, 2.5, 1.5, 0.6);
    iris_map *m;
    CHECK_OK(iris_map_get(db, &m));
    for (int i = 0; i < N; i++) {
        float v[IX_DIM], xy[2];
        CHECK_OK(iris_item_vector(db, x.ids[i], v, IX_DIM));
        CHECK_OK(iris_map_project(m, v, IX_DIM, xy));
        const iris_map_point *p = iris_map_find(m, x.ids[i]);
        CHECK_NEAR(xy[0], p->x, 1e-5);
        CHECK_NEAR(xy[1], p->y, 1e-5);
    }
    float v[IX_DIM] = {0}, xy[2];
    CHECK_FAILS(iris_map_project(m, v, IX_DIM - 1, xy), IRIS_EARG, "23 values");
    CHECK(iris_map_find(m, 999999) == NULL);
    CHECK(iris_map_find(m, 0) == NULL);
    iris_map_free(m);
    ix_close(db);
}

static void flip_byte(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    fseek(f, off, off < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ 0x5A, f);
    fclose(f);
}

static void test_cache(void)
{
    iris_db *db = ix_open();
    design x;
    fill(db, &x, 3.0, 2.0, 0.6);
    iris_map *a, *b;
    CHECK_OK(iris_map_get(db, &a));
    CHECK_OK(iris_map_get(db, &b));
    CHECK_EQ_INT(b->from_cache, 1);
    CHECK_EQ_INT(b->n, a->n);
    CHECK(!memcmp(a->points, b->points, sizeof *a->points * a->n));
    CHECK(!memcmp(a->axes, b->axes, sizeof(float) * 2 * IX_DIM));
    int current;
    CHECK_OK(iris_map_current(db, b, &current));
    CHECK_EQ_INT(current, 1);
    iris_map_free(b);

    char cache[300];
    snprintf(cache, sizeof cache, "%s.map", iris_db_path(db));
    flip_byte(cache, -3); /* inside a point: checksum mismatch */
    CHECK_OK(iris_map_get(db, &b));
    CHECK_EQ_INT(b->from_cache, 0);
    CHECK(!memcmp(a->points, b->points, sizeof *a->points * a->n));
    iris_map_free(b);
    CHECK(truncate(cache, 100) == 0);
    CHECK_OK(iris_map_get(db, &b));
    CHECK_EQ_INT(b->from_cache, 0);
    iris_map_free(b);
    flip_byte(cache, 0); /* bad magic */
    CHECK_OK(iris_map_get(db, &b));
    CHECK_EQ_INT(b->from_cache, 0);
    iris_map_free(b);

    float v[IX_DIM] = {1};
    int64_t id = ix_add(db, "/nowhere/new.png", IRIS_MOD_IMAGE, NULL, v);
    CHECK_OK(iris_map_current(db, a, &current));
    CHECK_EQ_INT(current, 0);
    CHECK_OK(iris_map_get(db, &b));
    CHECK_EQ_INT(b->from_cache, 0);
    CHECK_EQ_INT(b->n, N + 1);
    CHECK(iris_map_find(b, id) != NULL);
    CHECK(b->generation > a->generation);
    int64_t old_gen = b->generation;
    iris_map_free(b);
    iris_map_free(a);

    /* Another index's cache, copied into place, is not trusted even where
     * the generation, model and point count are the same. */
    char saved[300], *data;
    size_t n;
    CHECK_OK(iris_read_file(cache, 0, &data, &n));
    snprintf(saved, sizeof saved, "%s", cache);
    ix_close(db);
    db = ix_open();
    fill(db, &x, 3.0, 2.0, 0.6);
    ix_add(db, "/nowhere/new.png", IRIS_MOD_IMAGE, NULL, v); /* same generation */
    snprintf(cache, sizeof cache, "%s.map", iris_db_path(db));
    FILE *f = fopen(cache, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    fclose(f);
    free(data);
    CHECK_OK(iris_map_get(db, &b));
    CHECK_EQ_INT(b->generation, old_gen);
    CHECK_EQ_INT(b->from_cache, 0);
    iris_map_free(b);
    ix_close(db);
}

static void test_empty_and_bad_arguments(void)
{
    iris_db *db = ix_open();
    iris_map *m;
    CHECK_OK(iris_map_get(db, &m));
    CHECK_EQ_INT(m->n, 0);
    float v[IX_DIM] = {0}, xy[2];
    CHECK_FAILS(iris_map_project(m, v, IX_DIM, xy), IRIS_EARG, "map");
    iris_map_free(m);
    ix_add(db, "/nowhere/only.txt", IRIS_MOD_TEXT, "only", v); /* one point: no spread */
    CHECK_OK(iris_map_get(db, &m));
    CHECK_EQ_INT(m->n, 1);
    CHECK_NEAR(m->points[0].x, 0, 1e-6);
    CHECK_NEAR(m->points[0].y, 0, 1e-6);
    CHECK_NEAR(m->total_variance, 0, 1e-12);
    iris_map_free(m);
    CHECK_FAILS(iris_map_get(NULL, &m), IRIS_EARG, "db is NULL");
    CHECK_FAILS(iris_map_get(db, NULL), IRIS_EARG, "out is NULL");
    int current;
    CHECK_FAILS(iris_map_current(db, NULL, &current), IRIS_EARG, "NULL");
    iris_map_free(NULL);
    ix_close(db);
}

int main(void)
{
    RUN(test_axes_known_by_construction);
    RUN(test_close_eigenvalues);
    RUN(test_projection_matches_points);
    RUN(test_cache);
    RUN(test_empty_and_bad_arguments);
    return test_summary();
}
