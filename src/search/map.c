/*
 * map.c - the 2D map of an index: every item vector projected on the
 * first two principal axes of all of them (PCA).
 *
 * Why PCA and not t-SNE/UMAP: the map exists to show a newcomer that
 * images and texts live in one space, and the strongest picture of that is
 * a query landing among its results. PCA is a linear projection, so a new
 * query vector lands exactly where it belongs (two dot products), and
 * distances along the plane mean the same everywhere. Non-linear methods
 * draw prettier clusters but can only place a new point approximately, and
 * cost minutes on 100K points where this costs about a second.
 *
 * How: pass 1 streams the vectors (their own read-only store connection,
 * so searches never wait) through chunks of CHUNK rows, shifted by the
 * first vector to keep the sums small, and accumulates the Gram matrix
 * with BLAS ssyrk into a double-precision covariance; the top two
 * eigenvectors come from subspace iteration with Rayleigh-Ritz on a block
 * of BLOCK vectors (converges at the rate lambda_(BLOCK+1) / lambda_2,
 * a handful of O(dim^2) steps; the dim x dim problem is tiny next to the
 * pass over the data). Pass 2 projects every vector. The index generation
 * is read before and after; if an indexer committed meanwhile, it starts
 * over (at most a few times), so a map never mixes two states.
 *
 * Cache: <index>.map holds the projection and every point, tagged with
 * the index's generation, its model id and the identity of the database
 * file (inode and birth time: a new index at the same path starts its
 * generation at 0 again), plus a checksum. Anything that does not match
 * means recompute; a cache that cannot be written only costs time.
 * Signs are fixed (each axis's largest component is positive) so a map
 * does not flip when recomputed.
 */
#include "search/db.h"

#include "util/error.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 1024
#define BLOCK 8
#define MAX_ITER 1000
#define MAX_TRIES 4
#define MAP_MAGIC "IRISMAP1"
#define CHANGED (-1000) /* a walk saw more vectors than the first: start over */

/* -------------------------------------------------------- eigen solver */

/* Cyclic Jacobi on the symmetric b x b matrix h (destroyed): w gets the
 * eigenvalues, v (row-major, columns = eigenvectors), sorted descending. */
static void jacobi(double *h, int b, double *w, double *v)
{
    for (int i = 0; i < b * b; i++) v[i] = i % (b + 1) == 0;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, all = 0;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++) {
                all += h[i * b + j] * h[i * b + j];
                if (i != j) off += h[i * b + j] * h[i * b + j];
            }
        if (off <= 1e-30 * all || off == 0) break;
        for (int p = 0; p < b; p++)
            for (int q = p + 1; q < b; q++) {
                double hpq = h[p * b + q];
                if (hpq == 0) continue;
                double theta = (h[q * b + q] - h[p * b + p]) / (2 * hpq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < b; k++) { /* h = J^T h J, columns then rows */
                    double hkp = h[k * b + p], hkq = h[k * b + q];
                    h[k * b + p] = c * hkp - s * hkq;
                    h[k * b + q] = s * hkp + c * hkq;
                }
                for (int k = 0; k < b; k++) {
                    double hpk = h[p * b + k], hqk = h[q * b + k];
                    h[p * b + k] = c * hpk - s * hqk;
                    h[q * b + k] = s * hpk + c * hqk;
                }
                for (int k = 0; k < b; k++) {
                    double vkp = v[k * b + p], vkq = v[k * b + q];
                    v[k * b + p] = c * vkp - s * vkq;
                    v[k * b + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < b; i++) w[i] = h[i * b + i];
    for (int i = 0; i < b; i++) { /* selection sort, descending, columns along */
        int best = i;
        for (int j = i + 1; j < b; j++)
            if (w[j] > w[best]) best = j;
        if (best == i) continue;
        double t = w[i];
        w[i] = w[best];
        w[best] = t;
        for (int k = 0; k < b; k++) {
            t = v[k * b + i];
            v[k * b + i] = v[k * b + best];
            v[k * b + best] = t;
        }
    }
}

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Orthonormalises the b columns of q (dim x b, row-major) by modified
 * Gram-Schmidt, twice; a column that vanishes (rank-deficient input) is
 * replaced by a fresh pseudo-random one. */
static void orthonormalise(double *q, int dim, int b, unsigned *seed)
{
    for (int j = 0; j < b; j++) {
        for (int attempt = 0; attempt < 4; attempt++) {
            for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < j; i++) {
                    double d = 0;
                    for (int k = 0; k < dim; k++) d += q[k * b + i] * q[k * b + j];
                    for (int k = 0; k < dim; k++) q[k * b + j] -= d * q[k * b + i];
                }
            double nrm = 0;
            for (int k = 0; k < dim; k++) nrm += q[k * b + j] * q[k * b + j];
            nrm = sqrt(nrm);
            if (nrm > 1e-150) {
                for (int k = 0; k < dim; k++) q[k * b + j] /= nrm;
                break;
            }
            for (int k = 0; k < dim; k++) q[k * b + j] = (next_rand(seed) & 0xFFFF) / 32768.0 - 1;
        }
    }
}

/* z = c q: c is dim x dim (full, row-major), q and z dim x b. */
static void mul(const double *c, const double *q, double *z, int dim, int b)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, b, dim, 1.0, c, dim, q, b, 0.0, z,
                b);
}

/* The top two eigenpairs of the symmetric covariance c (dim x dim): axes
 * receives two unit vectors (row-major), lambda their eigenvalues. */
static int top2(const double *c, int dim, double *axes, double lambda[2])
{
    int b = dim < BLOCK ? dim : BLOCK;
    double *q = malloc(sizeof(double) * dim * b), *z = malloc(sizeof(double) * dim * b);
    double h[BLOCK * BLOCK], v[BLOCK * BLOCK], w[BLOCK], scale = 0;
    if (!q || !z) {
        free(q);
        free(z);
        return iris_fail(IRIS_ENOMEM, "no memory for the map's eigenvectors (dim %d)", dim);
    }
    for (int i = 0; i < dim; i++) scale = fmax(scale, c[(size_t)i * dim + i]);
    unsigned seed = 12345;
    for (int i = 0; i < dim * b; i++) q[i] = (next_rand(&seed) & 0xFFFF) / 32768.0 - 1;
    orthonormalise(q, dim, b, &seed);
    for (int iter = 0; iter < MAX_ITER; iter++) {
        mul(c, q, z, dim, b);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b, b, dim, 1.0, q, b, z, b, 0.0, h, b);
        for (int i = 0; i < b; i++) /* symmetrise rounding */
            for (int j = 0; j < i; j++) h[i * b + j] = h[j * b + i] = (h[i * b + j] + h[j * b + i]) / 2;
        jacobi(h, b, w, v);
        /* Ritz vectors Q v and C Q v = Z v; residual of the top two. */
        double res = 0;
        for (int k = 0; k < dim; k++) {
            double qv[BLOCK], zv[BLOCK];
            for (int j = 0; j < b; j++) {
                qv[j] = zv[j] = 0;
                for (int i = 0; i < b; i++) {
                    qv[j] += q[k * b + i] * v[i * b + j];
                    zv[j] += z[k * b + i] * v[i * b + j];
                }
            }
            for (int j = 0; j < b && j < 2; j++) res = fmax(res, fabs(zv[j] - w[j] * qv[j]));
            for (int j = 0; j < b; j++) {
                q[k * b + j] = qv[j];
                z[k * b + j] = zv[j];
            }
        }
        if (res <= 1e-12 * scale || scale == 0 || iter == MAX_ITER - 1) break;
        memcpy(q, z, sizeof(double) * dim * b); /* next subspace: C times the Ritz basis */
        orthonormalise(q, dim, b, &seed);
    }
    for (int a = 0; a < 2; a++) {
        lambda[a] = a < b ? fmax(w[a], 0) : 0;
        for (int k = 0; k < dim; k++) axes[a * dim + k] = a < b ? q[k * b + a] : 0;
    }
    free(q);
    free(z);
    return IRIS_OK;
}

/* ---------------------------------------------------------- computing */

typedef struct pass {
    int dim;
    int64_t n;
    float *shift;     /* the first vector */
    float *chunk;     /* [CHUNK][dim] shifted rows */
    int rows;
    float *gram;      /* [dim][dim] one chunk's Gram matrix (upper) */
    double *cov;      /* [dim][dim] accumulated (upper) */
    double *sum;      /* [dim] */
    iris_map *map;    /* pass 2 target */
    double *dmean, *daxes;
} pass;

static void flush(pass *p)
{
    if (!p->rows) return;
    int d = p->dim;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, p->rows, 1.0f, p->chunk, d, 0.0f,
                p->gram, d);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) p->cov[(size_t)i * d + j] += p->gram[(size_t)i * d + j];
    p->rows = 0;
}

static int accumulate(void *user, int64_t item_id, int64_t content_id, int modality,
                      const float *vec, int dim)
{
    pass *p = user;
    if (dim != p->dim) return IRIS_EFORMAT;
    if (p->n == 0) memcpy(p->shift, vec, sizeof(float) * dim);
    float *row = p->chunk + (size_t)p->rows * dim;
    for (int k = 0; k < dim; k++) {
        row[k] = vec[k] - p->shift[k];
        p->sum[k] += row[k];
    }
    p->n++;
    if (++p->rows == CHUNK) flush(p);
    return 0;
}

static int project_one(void *user, int64_t item_id, int64_t content_id, int modality,
                       const float *vec, int dim)
{
    pass *p = user;
    iris_map *m = p->map;
    if (dim != p->dim || m->n >= p->n) return CHANGED;
    double x = 0, y = 0;
    for (int k = 0; k < dim; k++) {
        double c = vec[k] - p->dmean[k];
        x += c * p->daxes[k];
        y += c * p->daxes[dim + k];
    }
    m->points[m->n++] = (iris_map_point){item_id, modality, (float)x, (float)y};
    return 0;
}

static void pass_free(pass *p)
{
    free(p->shift);
    free(p->chunk);
    free(p->gram);
    free(p->cov);
    free(p->sum);
    free(p->dmean);
    free(p->daxes);
}

static int pass_init(pass *p, int dim)
{
    memset(p, 0, sizeof *p);
    p->dim = dim;
    size_t dd = (size_t)dim * dim;
    p->shift = calloc(dim, sizeof(float));
    p->chunk = malloc(sizeof(float) * CHUNK * dim);
    p->gram = malloc(sizeof(float) * dd);
    p->cov = calloc(dd, sizeof(double));
    p->sum = calloc(dim, sizeof(double));
    p->dmean = calloc(dim, sizeof(double));
    p->daxes = calloc(2 * (size_t)dim, sizeof(double));
    if (p->shift && p->chunk && p->gram && p->cov && p->sum && p->dmean && p->daxes)
        return IRIS_OK;
    pass_free(p);
    return iris_fail(IRIS_ENOMEM, "no memory for the map (dim %d)", dim);
}

/* Each axis's largest component made positive: a stable orientation. */
static void fix_sign(double *axis, int dim)
{
    int big = 0;
    for (int k = 1; k < dim; k++)
        if (fabs(axis[k]) > fabs(axis[big])) big = k;
    if (axis[big] < 0)
        for (int k = 0; k < dim; k++) axis[k] = -axis[k];
}

/* Covariance from the accumulated sums, then its top two axes. */
static int solve(pass *p, iris_map *m)
{
    int d = p->dim;
    double n = (double)p->n;
    for (int i = 0; i < d; i++) {
        p->dmean[i] = p->sum[i] / n; /* still shifted */
        for (int j = i; j < d; j++) {
            double v = p->cov[(size_t)i * d + j] / n - (p->sum[i] / n) * (p->sum[j] / n);
            p->cov[(size_t)i * d + j] = p->cov[(size_t)j * d + i] = v;
        }
    }
    m->total_variance = 0;
    for (int i = 0; i < d; i++) {
        m->total_variance += fmax(p->cov[(size_t)i * d + i], 0);
        p->dmean[i] += p->shift[i];
        m->mean[i] = (float)p->dmean[i];
    }
    int rc = top2(p->cov, d, p->daxes, m->variance);
    if (rc) return rc;
    for (int a = 0; a < 2; a++) {
        fix_sign(p->daxes + (size_t)a * d, d);
        for (int k = 0; k < d; k++) m->axes[a * d + k] = (float)p->daxes[(size_t)a * d + k];
    }
    return IRIS_OK;
}

/* One attempt over the store connection st; CHANGED if an indexer
 * committed in between (generation moved or the second walk saw more). */
static int compute_once(store *st, int64_t model_row, int dim, iris_map *m)
{
    int64_t gen_before, gen_after;
    pass p;
    int rc = store_generation(st, &gen_before);
    if (!rc) rc = pass_init(&p, dim);
    if (rc) return rc;
    rc = store_vectors_each(st, model_row, accumulate, &p);
    flush(&p);
    if (!rc && p.n > 0) {
        m->points = calloc((size_t)p.n, sizeof *m->points);
        m->mean = calloc(dim, sizeof(float));
        m->axes = calloc(2 * (size_t)dim, sizeof(float));
        if (!m->points || !m->mean || !m->axes)
            rc = iris_fail(IRIS_ENOMEM, "no memory for %lld map points", (long long)p.n);
        if (!rc) rc = solve(&p, m);
        p.map = m;
        if (!rc) rc = store_vectors_each(st, model_row, project_one, &p);
        if (!rc && m->n != p.n) rc = CHANGED;
    }
    if (!rc) rc = store_generation(st, &gen_after);
    if (!rc && gen_after != gen_before) rc = CHANGED;
    m->generation = gen_before;
    m->dim = dim;
    pass_free(&p);
    return rc;
}

static void map_clear(iris_map *m)
{
    free(m->points);
    free(m->mean);
    free(m->axes);
    memset(m, 0, sizeof *m);
}

/* -------------------------------------------------------------- cache */

typedef struct cache_head {
    char magic[8];
    uint32_t record_size; /* sizeof(iris_map_point): layout check */
    int32_t dim;
    int64_t generation;
    uint64_t ino;
    int64_t btime_ns;
    char model_key[72];
    int64_t n;
    double variance[2], total_variance;
    uint64_t checksum; /* FNV-1a of everything after the header */
} cache_head;

typedef struct db_ident {
    uint64_t ino;
    int64_t btime_ns; /* 0 where the file system does not keep it */
} db_ident;

static int ident_of(const char *path, db_ident *id)
{
    struct statx sx;
    if (statx(AT_FDCWD, path, 0, STATX_INO | STATX_BTIME, &sx) != 0)
        return iris_fail(IRIS_EIO, "cannot stat %s: %s", path, strerror(errno));
    id->ino = sx.stx_ino;
    id->btime_ns = sx.stx_mask & STATX_BTIME
                       ? (int64_t)sx.stx_btime.tv_sec * 1000000000 + sx.stx_btime.tv_nsec
                       : 0;
    return IRIS_OK;
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static uint64_t payload_sum(const iris_map *m)
{
    uint64_t h = fnv(14695981039346656037ull, m->mean, sizeof(float) * m->dim);
    h = fnv(h, m->axes, sizeof(float) * 2 * m->dim);
    return fnv(h, m->points, sizeof *m->points * (size_t)m->n);
}

static void cache_path(const iris_db *db, char *path, size_t cap)
{
    snprintf(path, cap, "%s.map", db->path);
}

static void head_fill(cache_head *h, const iris_map *m, const db_ident *id, const char *key)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, MAP_MAGIC, 8);
    h->record_size = sizeof(iris_map_point);
    h->dim = m->dim;
    h->generation = m->generation;
    h->ino = id->ino;
    h->btime_ns = id->btime_ns;
    snprintf(h->model_key, sizeof h->model_key, "%s", key);
    h->n = m->n;
    memcpy(h->variance, m->variance, sizeof h->variance);
    h->total_variance = m->total_variance;
    h->checksum = payload_sum(m);
}

static int write_all(int fd, const void *p, size_t n)
{
    return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}

/* Best effort: a cache that cannot be written only costs a recompute. */
static void cache_write(const iris_db *db, const iris_map *m, const db_ident *id, const char *key)
{
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    cache_path(db, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return;
    cache_head h;
    head_fill(&h, m, id, key);
    int bad = write_all(fd, &h, sizeof h) || write_all(fd, m->mean, sizeof(float) * m->dim) ||
              write_all(fd, m->axes, sizeof(float) * 2 * m->dim) ||
              write_all(fd, m->points, sizeof *m->points * (size_t)m->n);
    bad = close(fd) != 0 || bad;
    if (bad || rename(tmp, path) != 0) unlink(tmp);
}

static int read_exact(int fd, void *p, size_t n)
{
    return read(fd, p, n) == (ssize_t)n ? 0 : -1;
}

/* The cached map if it describes this index at generation gen: 1 (m
 * filled), else 0 (m untouched). Any damage reads as "no cache". */
static int cache_read(const iris_db *db, int64_t gen, const db_ident *id, const char *key,
                      iris_map *m)
{
    char path[PATH_MAX];
    cache_path(db, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    cache_head h;
    struct stat sb;
    int ok = !read_exact(fd, &h, sizeof h) && !memcmp(h.magic, MAP_MAGIC, 8) &&
             h.record_size == sizeof(iris_map_point) && h.generation == gen && h.ino == id->ino &&
             h.btime_ns == id->btime_ns && !strncmp(h.model_key, key, sizeof h.model_key) &&
             h.dim > 0 && h.dim <= 65536 && h.n > 0 && h.n <= INT_MAX && !fstat(fd, &sb) &&
             (uint64_t)sb.st_size == sizeof h + sizeof(float) * 3 * (uint64_t)h.dim +
                                         sizeof(iris_map_point) * (uint64_t)h.n;
    iris_map c = {.generation = gen, .dim = h.dim, .n = (int)h.n};
    if (ok) {
        c.mean = malloc(sizeof(float) * h.dim);
        c.axes = malloc(sizeof(float) * 2 * h.dim);
        c.points = malloc(sizeof *c.points * (size_t)h.n);
        ok = c.mean && c.axes && c.points && !read_exact(fd, c.mean, sizeof(float) * h.dim) &&
             !read_exact(fd, c.axes, sizeof(float) * 2 * h.dim) &&
             !read_exact(fd, c.points, sizeof *c.points * (size_t)h.n) &&
             payload_sum(&c) == h.checksum;
    }
    close(fd);
    if (!ok) {
        map_clear(&c);
        return 0;
    }
    memcpy(c.variance, h.variance, sizeof c.variance);
    c.total_variance = h.total_variance;
    c.from_cache = 1;
    *m = c;
    return 1;
}

/* ------------------------------------------------------------- public */

/* What identifies the index's current state: generation, model, file. */
static int index_state(iris_db *db, int64_t *gen, store_model *model)
{
    db_lock(db);
    int rc = store_generation(db->st, gen);
    if (!rc) rc = store_model_get(db->st, model);
    db_unlock(db);
    return rc;
}

static int compute(iris_db *db, const store_model *model, iris_map *m)
{
    store *st;
    store_opts so = {.readonly = 1};
    int rc = store_open(db->path, &so, &st);
    for (int t = 0; !rc && t < MAX_TRIES; t++) {
        map_clear(m);
        rc = compute_once(st, model->id, model->dim, m);
        if (rc != CHANGED) break;
        rc = t + 1 < MAX_TRIES ? IRIS_OK : iris_fail(IRIS_EDB, "%s kept changing while its map "
                                                     "was computed; try again", db->path);
    }
    store_close(st);
    return rc;
}

int iris_map_get(iris_db *db, iris_map **out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_map_get: out is NULL");
    *out = NULL;
    if (!db) return iris_fail(IRIS_EARG, "iris_map_get: db is NULL");
    iris_map *m = calloc(1, sizeof *m);
    if (!m) return iris_fail(IRIS_ENOMEM, "no memory for a map");
    int64_t gen;
    store_model model;
    db_ident id;
    int rc = index_state(db, &gen, &model);
    if (rc == IRIS_ENOTFOUND) { /* nothing indexed yet: an empty map */
        iris_clear_error();
        m->generation = gen;
        *out = m;
        return IRIS_OK;
    }
    if (!rc) rc = ident_of(db->path, &id);
    if (!rc && !cache_read(db, gen, &id, model.key, m)) {
        rc = compute(db, &model, m);
        if (!rc && m->n > 0) cache_write(db, m, &id, model.key);
    }
    if (rc) {
        iris_map_free(m);
        return rc;
    }
    *out = m;
    return IRIS_OK;
}

int iris_map_current(iris_db *db, const iris_map *map, int *current)
{
    if (!db || !map || !current) return iris_fail(IRIS_EARG, "iris_map_current: NULL argument");
    int64_t gen;
    db_lock(db);
    int rc = store_generation(db->st, &gen);
    db_unlock(db);
    *current = !rc && gen == map->generation;
    return rc;
}

int iris_map_project(const iris_map *map, const float *vec, int dim, float xy[2])
{
    if (!map || !vec || !xy) return iris_fail(IRIS_EARG, "iris_map_project: NULL argument");
    if (!map->mean || dim != map->dim)
        return iris_fail(IRIS_EARG, "iris_map_project: vector of %d values for a map of %d", dim,
                         map->dim);
    double x = 0, y = 0;
    for (int k = 0; k < dim; k++) {
        double c = (double)vec[k] - map->mean[k];
        x += c * map->axes[k];
        y += c * map->axes[dim + k];
    }
    xy[0] = (float)x;
    xy[1] = (float)y;
    return IRIS_OK;
}

const iris_map_point *iris_map_find(const iris_map *map, int64_t item_id)
{
    int lo = 0, hi = map ? map->n : 0;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (map->points[mid].item_id < item_id) lo = mid + 1;
        else hi = mid;
    }
    return map && lo < map->n && map->points[lo].item_id == item_id ? &map->points[lo] : NULL;
}

void iris_map_free(iris_map *map)
{
    if (!map) return;
    map_clear(map);
    free(map);
}
