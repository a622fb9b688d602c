/*
 * hnsw.c - graph construction and search (see hnsw.h).
 *
 * Parallel construction: each thread takes the next row and links it. Link
 * lists are read by everybody without locks through __atomic loads (a list
 * being rewritten may be seen half old, half new: every entry is still a
 * valid, fully published row, which is all a search needs). Writers of one
 * list are serialised by a striped mutex, and no thread ever holds two
 * stripes, so there is no lock order to get wrong. The new row's own lists
 * are merged with links other threads may already have added to it, so no
 * edge is lost.
 *
 * The visited set is a small open-addressing hash set per search rather
 * than a bitmap over all rows: it stays in L1/L2 and costs nothing per row
 * of the index, so memory per concurrent search is independent of size.
 */
#include "index/hnsw.h"

#include "util/error.h"

#include <math.h>
#include <string.h>

#define STRIPES 4096

static inline uint32_t ld(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void st(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

int hnsw_draw_level(uint64_t *rng, int M)
{
    /* xorshift64*: cheap, seeded, reproducible across platforms. */
    uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    double u = (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
    int level = (int)(-log(1.0 - u) / log((double)M));
    return level < ANN_MAX_LEVEL ? level : ANN_MAX_LEVEL;
}

/* ------------------------------------------------------------ visited set */

typedef struct seen_set {
    uint32_t *slot; /* row + 1; 0 = empty */
    size_t cap, n;
} seen_set;

static size_t seen_hash(uint32_t row, size_t cap) { return (size_t)(row * 2654435761u) & (cap - 1); }

static int seen_grow(seen_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 4096;
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i]) continue;
        size_t j = seen_hash(s->slot[i] - 1, cap);
        while (slot[j]) j = (j + 1) & (cap - 1);
        slot[j] = s->slot[i];
    }
    free(s->slot);
    s->slot = slot;
    s->cap = cap;
    return 0;
}

/* 1 if row was new, 0 if seen before, -1 out of memory. */
static int seen_add(seen_set *s, uint32_t row)
{
    if (2 * (s->n + 1) > s->cap && seen_grow(s)) return -1;
    size_t j = seen_hash(row, s->cap);
    while (s->slot[j]) {
        if (s->slot[j] == row + 1) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slot[j] = row + 1;
    s->n++;
    return 1;
}

/* ------------------------------------------------------------ beam search */

typedef struct walk {
    seen_set seen;
    ann_heap cand; /* max-heap: frontier */
    ann_heap res;  /* bounded min-heap: best admitted so far */
    size_t res_room;
    uint32_t nb[2 * ANN_MAX_M];
} walk;

static void walk_free(walk *w)
{
    free(w->seen.slot);
    free(w->cand.v);
    free(w->res.v);
}

static int walk_reset(walk *w, int ef)
{
    if (w->seen.n) memset(w->seen.slot, 0, w->seen.cap * sizeof *w->seen.slot);
    w->seen.n = 0;
    w->cand.n = 0;
    w->res.n = 0;
    if ((size_t)ef > w->res_room) {
        ann_cand *v = realloc(w->res.v, (size_t)ef * sizeof *v);
        if (!v) return -1;
        w->res.v = v;
        w->res_room = (size_t)ef;
    }
    w->res.cap = (size_t)ef;
    return 0;
}

static int max_links(const ann_core *c, int level) { return level ? c->M : c->M0; }

static void prefetch_row(const ann_core *c, uint32_t row)
{
    const char *p = (const char *)ann_code_at(c, row);
    for (int off = 0; off < c->dpad; off += 64) __builtin_prefetch(p + off, 0, 1);
}

/* Greedy walk through levels from_level .. to_level + 1 (exclusive). */
static uint32_t greedy(const ann_core *c, const ann_kernels *k, const ann_query *q, uint32_t cur,
                       float *cur_sim, int from_level, int to_level)
{
    for (int l = from_level; l > to_level; l--) {
        for (int changed = 1; changed;) {
            changed = 0;
            const uint32_t *links = ann_links(c, cur, l);
            uint32_t n = ld(links);
            if (n > (uint32_t)c->M) n = (uint32_t)c->M;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t nb = ld(links + 1 + i);
                float s = ann_sim8(c, k, q, nb);
                if (s > *cur_sim) {
                    *cur_sim = s;
                    cur = nb;
                    changed = 1;
                }
            }
        }
    }
    return cur;
}

/* Beam search of one level from ep; fills w->res. -1 on out of memory. */
static int layer(const ann_core *c, const ann_kernels *k, const ann_query *q, ann_cand ep, int level,
                 int ef, const ann_admit *admit, size_t max_visit, walk *w, size_t *visited,
                 int *exhausted)
{
    if (walk_reset(w, ef) || seen_add(&w->seen, ep.row) < 0 || ann_maxheap_push(&w->cand, ep))
        return -1;
    if (!admit || admit->fn(admit->ctx, c, ep.row)) ann_heap_offer(&w->res, ep);
    int mmax = max_links(c, level);
    while (w->cand.n) {
        ann_cand cur = ann_maxheap_pop(&w->cand);
        if (cur.sim < ann_heap_floor(&w->res)) break;
        const uint32_t *links = ann_links(c, cur.row, level);
        uint32_t n = ld(links), m = 0;
        if (n > (uint32_t)mmax) n = (uint32_t)mmax;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t nb = ld(links + 1 + i);
            int fresh = seen_add(&w->seen, nb);
            if (fresh < 0) return -1;
            if (fresh) {
                w->nb[m++] = nb;
                __builtin_prefetch(ann_code_at(c, nb), 0, 1);
            }
        }
        for (uint32_t i = 0; i < m; i++) {
            if (i + 1 < m) prefetch_row(c, w->nb[i + 1]);
            ann_cand x = {ann_sim8(c, k, q, w->nb[i]), w->nb[i]};
            if (x.sim <= ann_heap_floor(&w->res)) continue;
            if (ann_maxheap_push(&w->cand, x)) return -1;
            if (!admit || admit->fn(admit->ctx, c, x.row)) ann_heap_offer(&w->res, x);
        }
        *visited += m;
        if (max_visit && *visited >= max_visit) {
            *exhausted = 1;
            break;
        }
    }
    ann_heap_sort(&w->res);
    return 0;
}

int hnsw_search(const ann_core *c, const ann_kernels *k, const ann_query *q, int ef,
                const ann_admit *admit, size_t max_visit, ann_cand *out, size_t *n_out,
                size_t *visited, int *exhausted)
{
    *n_out = 0;
    *visited = 0;
    *exhausted = 0;
    uint64_t e = __atomic_load_n(&c->entry, __ATOMIC_ACQUIRE);
    if (e == ANN_NO_ENTRY) return 0;
    ann_cand ep = {0, (uint32_t)e};
    ep.sim = ann_sim8(c, k, q, ep.row);
    ep.row = greedy(c, k, q, ep.row, &ep.sim, (int)(e >> 32), 0);
    walk w = {0};
    int rc = layer(c, k, q, ep, 0, ef, admit, max_visit, &w, visited, exhausted);
    if (!rc) {
        memcpy(out, w.res.v, w.res.n * sizeof *out);
        *n_out = w.res.n;
    }
    walk_free(&w);
    return rc ? iris_fail(IRIS_ENOMEM, "index: out of memory in graph search") : 0;
}

/* ----------------------------------------------------------- construction */

typedef struct build {
    ann_core *c;
    const ann_kernels *k;
    int ef;
    size_t next, end; /* next row to link (atomic) */
    int failed;       /* atomic */
    pthread_mutex_t entry_lock;
    pthread_mutex_t stripe[STRIPES];
} build;

/* Keeps candidates (best first, similarity to the base row) that are closer
 * to the base than to every kept one: the diversity heuristic. */
static size_t diverse(const ann_core *c, const ann_kernels *k, const ann_cand *cand, size_t n,
                      size_t keep, uint32_t *out)
{
    float bias[2 * ANN_MAX_M + 1];
    size_t m = 0;
    for (size_t i = 0; i < n && m < keep; i++) {
        float bi = ann_meta_at(c, cand[i].row)->bias;
        int good = 1;
        for (size_t j = 0; j < m && good; j++)
            good = ann_sim_rows(c, k, cand[i].row, bi, out[j], bias[j]) <= cand[i].sim;
        if (good) {
            bias[m] = bi;
            out[m++] = cand[i].row;
        }
    }
    return m;
}

/* Rewrites row's list at level from up to M0 + 1 rows, pruning if needed. */
static void write_links(const ann_core *c, const ann_kernels *k, uint32_t row, int level,
                        const uint32_t *rows, size_t n)
{
    uint32_t *links = ann_links(c, row, level);
    size_t mmax = (size_t)max_links(c, level);
    uint32_t keep[2 * ANN_MAX_M + 1];
    if (n > mmax) {
        ann_cand cand[4 * ANN_MAX_M + 2];
        float b = ann_meta_at(c, row)->bias;
        for (size_t i = 0; i < n; i++)
            cand[i] = (ann_cand){ann_sim_rows(c, k, row, b, rows[i], ann_meta_at(c, rows[i])->bias),
                                 rows[i]};
        qsort(cand, n, sizeof *cand, ann_cand_cmp);
        n = diverse(c, k, cand, n, mmax, keep);
        rows = keep;
    }
    for (size_t i = 0; i < n; i++) st(links + 1 + i, rows[i]);
    st(links, (uint32_t)n);
}

/* Adds `add` (n rows) to row's list at level, merging with what is there. */
static void link_into(build *b, uint32_t row, int level, const uint32_t *add, size_t n)
{
    const ann_core *c = b->c;
    pthread_mutex_t *mu = &b->stripe[row % STRIPES];
    pthread_mutex_lock(mu);
    uint32_t *links = ann_links(c, row, level);
    uint32_t all[4 * ANN_MAX_M + 2];
    size_t m = ld(links);
    for (size_t i = 0; i < m; i++) all[i] = ld(links + 1 + i);
    size_t before = m;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m && all[j] != add[i]) j++;
        if (j == m && add[i] != row) all[m++] = add[i];
    }
    size_t mmax = (size_t)max_links(c, level);
    if (m > before && m <= mmax) { /* room: append, publish the count last */
        for (size_t i = before; i < m; i++) st(links + 1 + i, all[i]);
        st(links, (uint32_t)m);
    } else if (m > before) {
        write_links(c, b->k, row, level, all, m);
    }
    pthread_mutex_unlock(mu);
}

static int link_row(build *b, walk *w, ann_query *q, uint32_t r)
{
    ann_core *c = b->c;
    const ann_kernels *k = b->k;
    int L = ann_meta_at(c, r)->level;
    uint64_t e = __atomic_load_n(&c->entry, __ATOMIC_ACQUIRE);
    if (e == ANN_NO_ENTRY) {
        pthread_mutex_lock(&b->entry_lock);
        e = __atomic_load_n(&c->entry, __ATOMIC_ACQUIRE);
        if (e == ANN_NO_ENTRY)
            __atomic_store_n(&c->entry, ((uint64_t)L << 32) | r, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&b->entry_lock);
        if (e == ANN_NO_ENTRY) return 0;
    }
    int top = (int)(e >> 32);
    ann_cand ep = {ann_sim8(c, k, q, (uint32_t)e), (uint32_t)e};
    ep.row = greedy(c, k, q, ep.row, &ep.sim, top, L);
    size_t visited = 0;
    int exhausted = 0;
    for (int l = L < top ? L : top; l >= 0; l--) {
        if (layer(c, k, q, ep, l, b->ef, NULL, 0, w, &visited, &exhausted)) return -1;
        ann_cand *res = w->res.v;
        size_t n = w->res.n, j = 0;
        for (size_t i = 0; i < n; i++) /* r may already be reachable: drop it */
            if (res[i].row != r) res[j++] = res[i];
        uint32_t sel[2 * ANN_MAX_M];
        size_t ns = diverse(c, k, res, j, (size_t)c->M, sel);
        link_into(b, r, l, sel, ns);
        for (size_t i = 0; i < ns; i++) link_into(b, sel[i], l, &r, 1);
        if (j) ep = res[0];
    }
    if (L > top) {
        pthread_mutex_lock(&b->entry_lock);
        e = __atomic_load_n(&c->entry, __ATOMIC_ACQUIRE);
        if (L > (int)(e >> 32))
            __atomic_store_n(&c->entry, ((uint64_t)L << 32) | r, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&b->entry_lock);
    }
    return 0;
}

static void build_worker(void *arg, int t)
{
    (void)t;
    build *b = arg;
    walk w = {0};
    float *vec = malloc((size_t)b->c->dpad * sizeof *vec);
    if (!vec) __atomic_store_n(&b->failed, 1, __ATOMIC_RELAXED);
    while (vec && !__atomic_load_n(&b->failed, __ATOMIC_RELAXED)) {
        size_t r = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (r >= b->end) break;
        ann_query q = {0};
        ann_core_vector(b->c, r, vec);
        if (ann_query_init(b->c, vec, &q) || link_row(b, &w, &q, (uint32_t)r))
            __atomic_store_n(&b->failed, 1, __ATOMIC_RELAXED);
        ann_query_free(&q);
    }
    free(vec);
    walk_free(&w);
}

int hnsw_insert(ann_core *c, const ann_kernels *k, size_t from, size_t to, int ef_construction,
                int n_threads)
{
    if (from >= to) return 0;
    build *b = calloc(1, sizeof *b);
    if (!b) return iris_fail(IRIS_ENOMEM, "index: out of memory");
    *b = (build){.c = c, .k = k, .ef = ef_construction, .next = from, .end = to};
    pthread_mutex_init(&b->entry_lock, NULL);
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&b->stripe[i], NULL);
    if ((size_t)n_threads > to - from) n_threads = (int)(to - from);
    ann_parallel(n_threads, build_worker, b);
    int failed = b->failed;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&b->stripe[i]);
    pthread_mutex_destroy(&b->entry_lock);
    free(b);
    if (failed) return iris_fail(IRIS_ENOMEM, "index: out of memory while linking the graph");
    __atomic_store_n(&c->graph_done, to, __ATOMIC_RELEASE);
    return 0;
}
