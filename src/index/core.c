/*
 * core.c - chunked column storage, the upper-level arena, row encoding and
 * the int8 calibration (see core.h for the layout and its reasons).
 *
 * Calibration: the int8 code of x is round((x - mid) / scale) clamped to
 * [-127, 127], with mid the per-dimension mean and one scale for all
 * dimensions (the largest deviation seen). One shared scale keeps codes
 * comparable with each other, so node-to-node similarity during graph
 * construction is a plain integer dot product:
 *     <x, y> ~ mid_sq + scale * (bias_x + bias_y) + scale^2 * <cx, cy>.
 * While the index is small the calibration follows the data: it is redone
 * whenever the row count doubles, until ANN_CALIB_FREEZE rows, which costs
 * O(1) amortised per row. Compaction recalibrates over all live rows.
 */
#include "index/core.h"

#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---------------------------------------------------------------- columns */

void ann_col_init(ann_col *c, size_t stride)
{
    memset(c, 0, sizeof *c);
    c->stride = stride;
}

static int table_room(unsigned char ***chunk, unsigned char **owned, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) ncap *= 2;
    unsigned char **nc = realloc(*chunk, ncap * sizeof *nc);
    if (!nc) return iris_fail(IRIS_ENOMEM, "index: cannot grow a chunk table to %zu", ncap);
    *chunk = nc;
    unsigned char *no = realloc(*owned, ncap);
    if (!no) return iris_fail(IRIS_ENOMEM, "index: cannot grow a chunk table to %zu", ncap);
    *owned = no;
    *cap = ncap;
    return 0;
}

/* Gives the last chunk room for `rows` rows, moving it to the heap if mapped. */
static int grow_last(ann_col *c, size_t rows)
{
    size_t i = c->n_chunks - 1;
    if (c->owned[i]) {
        unsigned char *p = realloc(c->chunk[i], rows * c->stride);
        if (!p) return iris_fail(IRIS_ENOMEM, "index: cannot grow a column chunk");
        c->chunk[i] = p;
    } else {
        unsigned char *p = malloc(rows * c->stride);
        if (!p) return iris_fail(IRIS_ENOMEM, "index: cannot copy a mapped chunk");
        memcpy(p, c->chunk[i], c->last_cap * c->stride);
        c->chunk[i] = p;
        c->owned[i] = 1;
    }
    c->last_cap = rows;
    return 0;
}

int ann_col_reserve(ann_col *c, size_t rows)
{
    size_t have = c->n_chunks ? (c->n_chunks - 1) * ANN_CHUNK_ROWS + c->last_cap : 0;
    if (rows <= have) return 0;
    if (c->n_chunks && c->last_cap < ANN_CHUNK_ROWS) {
        size_t want = rows - (c->n_chunks - 1) * ANN_CHUNK_ROWS, cap = c->last_cap * 2;
        if (cap < want) cap = want;
        if (cap > ANN_CHUNK_ROWS) cap = ANN_CHUNK_ROWS;
        int rc = grow_last(c, cap);
        if (rc) return rc;
        have = (c->n_chunks - 1) * ANN_CHUNK_ROWS + cap;
    }
    size_t need = (rows + ANN_CHUNK_ROWS - 1) / ANN_CHUNK_ROWS;
    int rc = table_room(&c->chunk, &c->owned, &c->cap_chunks, need);
    if (rc) return rc;
    while (have < rows) {
        size_t cap = 64;
        while (cap < rows - have && cap < ANN_CHUNK_ROWS) cap *= 2;
        unsigned char *p = malloc(cap * c->stride);
        if (!p) return iris_fail(IRIS_ENOMEM, "index: cannot allocate %zu rows", cap);
        c->chunk[c->n_chunks] = p;
        c->owned[c->n_chunks++] = 1;
        c->last_cap = cap;
        have += cap;
    }
    return 0;
}

void ann_col_free(ann_col *c)
{
    for (size_t i = 0; i < c->n_chunks; i++)
        if (c->owned[i]) free(c->chunk[i]);
    free(c->chunk);
    free(c->owned);
    ann_col_init(c, c->stride);
}

size_t ann_col_owned_bytes(const ann_col *c)
{
    size_t b = 0;
    for (size_t i = 0; i < c->n_chunks; i++)
        if (c->owned[i]) b += (i + 1 == c->n_chunks ? c->last_cap : ANN_CHUNK_ROWS) * c->stride;
    return b;
}

/* ------------------------------------------------------------------ arena */

/* Room for `words` more words without moving the chunk table (write lock). */
static int arena_reserve(ann_arena *a, size_t words)
{
    if (a->n_chunks && !a->owned[a->n_chunks - 1]) { /* mapped tail: copy to heap */
        uint32_t *p = malloc(ANN_ARENA_WORDS * sizeof *p);
        if (!p) return iris_fail(IRIS_ENOMEM, "index: cannot copy the upper-level arena");
        memcpy(p, a->chunk[a->n_chunks - 1], a->used * sizeof *p);
        a->chunk[a->n_chunks - 1] = p;
        a->owned[a->n_chunks - 1] = 1;
        a->last_cap = ANN_ARENA_WORDS;
    }
    size_t block = (size_t)ANN_MAX_LEVEL * (ANN_MAX_M + 1);
    size_t need = a->n_chunks + 1 + words / (ANN_ARENA_WORDS - block);
    return table_room((unsigned char ***)&a->chunk, &a->owned, &a->cap_chunks, need);
}

int ann_arena_alloc(ann_arena *a, size_t words, uint32_t *off)
{
    if (!a->n_chunks || a->used + words > a->last_cap) {
        if (a->n_chunks >= a->cap_chunks)
            return iris_fail(IRIS_EINTERNAL, "index: upper arena used without reserve");
        uint32_t *p = malloc(ANN_ARENA_WORDS * sizeof *p);
        if (!p) return iris_fail(IRIS_ENOMEM, "index: cannot grow the upper-level arena");
        a->chunk[a->n_chunks] = p;
        a->owned[a->n_chunks++] = 1;
        a->used = 0;
        a->last_cap = ANN_ARENA_WORDS;
    }
    *off = (uint32_t)((a->n_chunks - 1) * ANN_ARENA_WORDS + a->used);
    a->used += words;
    return 0;
}

void ann_arena_free(ann_arena *a)
{
    for (size_t i = 0; i < a->n_chunks; i++)
        if (a->owned[i]) free(a->chunk[i]);
    free(a->chunk);
    free(a->owned);
    memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------------- core */

int ann_core_new(const iris_ann_config *cfg, ann_core **out)
{
    ann_core *c = calloc(1, sizeof *c);
    if (!c) return iris_fail(IRIS_ENOMEM, "index: out of memory");
    c->dim = cfg->dim;
    c->dpad = (cfg->dim + 63) / 64 * 64;
    c->storage = cfg->storage;
    c->M = cfg->M;
    c->M0 = 2 * cfg->M;
    c->bits_words = (size_t)c->dpad / 64;
    c->entry = ANN_NO_ENTRY;
    ann_col_init(&c->meta, sizeof(ann_meta));
    ann_col_init(&c->vec, (size_t)c->dpad * (cfg->storage == IRIS_ANN_F16 ? 2 : 4));
    ann_col_init(&c->code, (size_t)c->dpad);
    ann_col_init(&c->bits, c->bits_words * 8);
    ann_col_init(&c->link0, (size_t)(c->M0 + 1) * 4);
    pthread_mutex_init(&c->map_lock, NULL);
    c->cal.mid = calloc((size_t)c->dpad, sizeof(float));
    if (!c->cal.mid) {
        ann_core_free(c);
        return iris_fail(IRIS_ENOMEM, "index: out of memory");
    }
    c->cal.scale = 1.0f / 127; /* until data arrives: covers [-1, 1] */
    *out = c;
    return 0;
}

void ann_core_free(ann_core *c)
{
    if (!c) return;
    ann_col_free(&c->meta);
    ann_col_free(&c->vec);
    ann_col_free(&c->code);
    ann_col_free(&c->bits);
    ann_col_free(&c->link0);
    ann_arena_free(&c->upper);
    ann_idmap_free(&c->map);
    pthread_mutex_destroy(&c->map_lock);
    if (c->map_base) munmap(c->map_base, c->map_size);
    free(c->cal.mid);
    free(c);
}

int ann_core_reserve(ann_core *c, size_t rows, size_t upper_words)
{
    size_t want = c->rows + rows;
    int rc;
    if ((rc = ann_col_reserve(&c->meta, want)) || (rc = ann_col_reserve(&c->vec, want)) ||
        (rc = ann_col_reserve(&c->code, want)) || (rc = ann_col_reserve(&c->bits, want)) ||
        (rc = ann_col_reserve(&c->link0, want)))
        return rc;
    return arena_reserve(&c->upper, upper_words);
}

/* Codes, sign bits and bias of one dpad-padded vector. */
static void encode(const ann_calib *cal, int dpad, const float *x, int8_t *code, uint64_t *bits,
                   float *bias)
{
    float inv = 1.0f / cal->scale, b = 0;
    memset(bits, 0, (size_t)dpad / 8);
    for (int d = 0; d < dpad; d++) {
        float r = x[d] - cal->mid[d], v = nearbyintf(r * inv);
        if (v > 127) v = 127;
        if (v < -127) v = -127;
        code[d] = (int8_t)v;
        b += cal->mid[d] * v;
        if (r > 0) bits[d / 64] |= 1ull << (d % 64);
    }
    *bias = b;
}

void ann_core_vector(const ann_core *c, size_t row, float *out)
{
    const void *v = ann_col_at(&c->vec, row);
    if (c->storage == IRIS_ANN_F16)
        for (int d = 0; d < c->dpad; d++) out[d] = ann_f16_to_f32(((const uint16_t *)v)[d]);
    else
        memcpy(out, v, (size_t)c->dpad * sizeof(float));
}

float ann_core_sim_full(const ann_core *c, const ann_kernels *k, const float *q, size_t row)
{
    const void *v = ann_col_at(&c->vec, row);
    return c->storage == IRIS_ANN_F16 ? k->dot_f16(q, v, (size_t)c->dpad)
                                      : k->dot_f32(q, v, (size_t)c->dpad);
}

static void encode_row(ann_core *c, size_t row, float *tmp)
{
    ann_core_vector(c, row, tmp);
    encode(&c->cal, c->dpad, tmp, (int8_t *)ann_col_at(&c->code, row),
           (uint64_t *)ann_col_at(&c->bits, row), &ann_meta_at(c, row)->bias);
}

int ann_core_put_row(ann_core *c, const ann_kernels *k, size_t row, uint64_t id,
                     const float *vec, const iris_ann_attr *attr, int level)
{
    float *x = calloc((size_t)c->dpad, sizeof *x);
    if (!x) return iris_fail(IRIS_ENOMEM, "index: out of memory");
    memcpy(x, vec, (size_t)c->dim * sizeof *x);
    void *v = ann_col_at(&c->vec, row);
    if (c->storage == IRIS_ANN_F16) k->f32_to_f16(x, v, (size_t)c->dpad);
    else memcpy(v, x, (size_t)c->dpad * sizeof *x);
    ann_meta *m = ann_meta_at(c, row);
    memset(m, 0, sizeof *m);
    m->id = id;
    m->tag = attr ? attr->tag : 0;
    m->modality = attr ? attr->modality : 0;
    m->level = (uint8_t)level;
    int rc = 0;
    if (level > 0) {
        size_t words = (size_t)level * (size_t)(c->M + 1);
        rc = ann_arena_alloc(&c->upper, words, &m->upper);
        if (!rc) memset(ann_arena_at(&c->upper, m->upper), 0, words * 4);
    }
    ann_links0(c, row)[0] = 0;
    encode_row(c, row, x);
    free(x);
    return rc;
}

/* Per-dimension mean over rows (strided sample), and the largest deviation. */
int ann_core_calibrate(ann_core *c, const ann_kernels *k, size_t sample)
{
    (void)k;
    size_t n = c->rows, step = n > sample && sample ? n / sample : 1, used = 0;
    int dp = c->dpad;
    double *sum = calloc((size_t)dp, sizeof *sum);
    float *x = malloc((size_t)dp * sizeof *x);
    if (!sum || !x) {
        free(sum);
        free(x);
        return iris_fail(IRIS_ENOMEM, "index: out of memory");
    }
    for (size_t r = 0; r < n; r += step, used++) {
        ann_core_vector(c, r, x);
        for (int d = 0; d < dp; d++) sum[d] += x[d];
    }
    float maxdev = 0, msq = 0;
    for (int d = 0; d < dp; d++) {
        c->cal.mid[d] = used && d < c->dim ? (float)(sum[d] / (double)used) : 0.0f;
        msq += c->cal.mid[d] * c->cal.mid[d];
    }
    for (size_t r = 0; r < n; r += step) {
        ann_core_vector(c, r, x);
        for (int d = 0; d < c->dim; d++) {
            float dev = fabsf(x[d] - c->cal.mid[d]);
            if (dev > maxdev) maxdev = dev;
        }
    }
    c->cal.scale = maxdev > 0 ? maxdev / 127 : 1.0f / 127;
    c->cal.mid_sq = msq;
    c->cal.samples = used;
    for (size_t r = 0; r < n; r++) encode_row(c, r, x);
    free(sum);
    free(x);
    return 0;
}

void ann_core_kill_row(ann_core *c, size_t row)
{
    ann_meta *m = ann_meta_at(c, row);
    if (__atomic_fetch_or(&m->flags, ANN_ROW_DELETED, __ATOMIC_RELEASE) & ANN_ROW_DELETED) return;
    __atomic_fetch_sub(&c->live, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&c->deleted, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&c->live_mod[m->modality & 31], 1, __ATOMIC_RELAXED);
}

int ann_core_map_ready(ann_core *c)
{
    int rc = 0;
    pthread_mutex_lock(&c->map_lock);
    if (!c->map_built) {
        size_t n = ann_rows(c);
        uint32_t old;
        for (size_t r = 0; r < n && !rc; r++)
            if (!ann_row_deleted(c, r)) rc = ann_idmap_put(&c->map, ann_meta_at(c, r)->id, (uint32_t)r, &old);
        c->map_built = !rc;
    }
    pthread_mutex_unlock(&c->map_lock);
    return rc;
}

size_t ann_core_heap_bytes(const ann_core *c)
{
    size_t b = ann_col_owned_bytes(&c->meta) + ann_col_owned_bytes(&c->vec) +
               ann_col_owned_bytes(&c->code) + ann_col_owned_bytes(&c->bits) +
               ann_col_owned_bytes(&c->link0);
    for (size_t i = 0; i < c->upper.n_chunks; i++)
        if (c->upper.owned[i]) b += ANN_ARENA_WORDS * 4;
    return b + c->map.cap * 12;
}

/* ---------------------------------------------------------------- queries */

int ann_query_init(const ann_core *c, const float *vec, ann_query *q)
{
    size_t dp = (size_t)c->dpad;
    char *mem = calloc(1, dp * 4 + dp + c->bits_words * 8);
    if (!mem) return iris_fail(IRIS_ENOMEM, "index: out of memory");
    q->f = (float *)mem;
    q->bits = (uint64_t *)(mem + dp * 4);
    q->q8 = (int8_t *)(mem + dp * 4 + c->bits_words * 8);
    memcpy(q->f, vec, (size_t)c->dim * sizeof(float));
    float mx = 0, bias = 0;
    for (size_t d = 0; d < dp; d++) {
        float a = fabsf(q->f[d]);
        if (a > mx) mx = a;
        bias += q->f[d] * c->cal.mid[d];
        if (q->f[d] > 0) q->bits[d / 64] |= 1ull << (d % 64);
    }
    float t = mx > 0 ? mx / 127 : 1;
    for (size_t d = 0; d < dp; d++) q->q8[d] = (int8_t)nearbyintf(q->f[d] / t);
    q->s8 = c->cal.scale * t;
    q->bias = bias;
    return 0;
}

void ann_query_free(ann_query *q)
{
    free(q->f);
    memset(q, 0, sizeof *q);
}

/* --------------------------------------------------------------- threads */

int ann_threads(int configured)
{
    if (configured > 0) return configured > 64 ? 64 : configured;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

typedef struct par_arg {
    void (*fn)(void *, int);
    void *arg;
    int t;
} par_arg;

static void *par_main(void *p)
{
    par_arg *a = p;
    a->fn(a->arg, a->t);
    return NULL;
}

int ann_parallel(int n_threads, void (*fn)(void *arg, int t), void *arg)
{
    pthread_t th[64];
    par_arg args[64];
    int started = 0;
    for (int t = 1; t < n_threads && t < 64; t++) {
        args[t] = (par_arg){fn, arg, t};
        if (pthread_create(&th[t], NULL, par_main, &args[t])) break;
        started = t;
    }
    fn(arg, 0);
    for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
    return started + 1;
}
