/*
 * search.c - query planning, filters, exact scans and rescoring.
 *
 * Every method ends the same way: the candidates it found are rescored with
 * the full-precision vectors and the best k returned, so scores are always
 * exact dot products whatever the first stage was.
 *
 * Filters never make a result list silently short. The planner estimates
 * how many rows the filter admits (exactly for an id list, by sampling 1024
 * rows otherwise). Few admitted rows (<= max(2048, rows / 100)) are scanned
 * exactly, which is both cheaper and correct; otherwise the graph walk
 * counts only admitted rows toward its beam, so it widens by itself, and a
 * walk that still comes back with fewer than k hits (or hits its visit
 * budget) is redone as an exact scan.
 *
 * Rows added while the graph is being extended (rows >= graph_done) are not
 * reachable through links yet; a graph search scans them exactly, so a row
 * is findable from the moment iris_ann_add() published it.
 */
#include "index/core.h"
#include "index/hnsw.h"
#include "index/topk.h"

#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SCAN_FULL, SCAN_INT8, SCAN_BITS };

#define SCAN_BLOCK 256
#define PARALLEL_MIN_ROWS 32768

/* ----------------------------------------------------------------- filter */

typedef struct filt {
    const iris_ann_filter *f;
    uint64_t *tags;    /* hash set of tag + 1 (0 = empty) */
    size_t tag_cap;
    uint8_t *rowbits;  /* rows admitted by f->ids */
    size_t rowbits_n;
    uint32_t *id_rows; /* live rows of f->ids, ascending */
    size_t n_id_rows;
} filt;

static size_t tag_slot(uint32_t tag, size_t cap) { return (size_t)(tag * 2654435761u) & (cap - 1); }

static int tags_has(const filt *fl, uint32_t tag)
{
    for (size_t i = tag_slot(tag, fl->tag_cap); fl->tags[i]; i = (i + 1) & (fl->tag_cap - 1))
        if (fl->tags[i] == (uint64_t)tag + 1) return 1;
    return 0;
}

static int admit_row(const void *ctx, const ann_core *c, uint32_t row)
{
    const filt *fl = ctx;
    const ann_meta *m = ann_meta_at(c, row);
    if (__atomic_load_n(&m->flags, __ATOMIC_ACQUIRE) & ANN_ROW_DELETED) return 0;
    const iris_ann_filter *f = fl->f;
    if (!f) return 1;
    if (f->modalities && !((f->modalities >> (m->modality & 31)) & 1)) return 0;
    if (f->ids && (row >= fl->rowbits_n || !((fl->rowbits[row >> 3] >> (row & 7)) & 1))) return 0;
    if (f->tags && !tags_has(fl, m->tag)) return 0;
    if (f->accept) {
        iris_ann_attr a = {m->modality, m->tag};
        if (!f->accept(m->id, &a, f->ctx)) return 0;
    }
    return 1;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int filt_ids(filt *fl, ann_core *c, size_t rows)
{
    const iris_ann_filter *f = fl->f;
    int rc = ann_core_map_ready(c);
    if (rc) return rc;
    fl->rowbits_n = rows;
    fl->rowbits = calloc(rows / 8 + 1, 1);
    fl->id_rows = malloc((f->n_ids + 1) * sizeof *fl->id_rows);
    if (!fl->rowbits || !fl->id_rows) return iris_fail(IRIS_ENOMEM, "index: out of memory");
    pthread_mutex_lock(&c->map_lock);
    for (size_t i = 0; i < f->n_ids; i++) {
        uint32_t r = ann_idmap_get(&c->map, f->ids[i]);
        if (r == ANN_NONE || r >= rows || ((fl->rowbits[r >> 3] >> (r & 7)) & 1)) continue;
        fl->rowbits[r >> 3] |= (uint8_t)(1u << (r & 7));
        fl->id_rows[fl->n_id_rows++] = r;
    }
    pthread_mutex_unlock(&c->map_lock);
    qsort(fl->id_rows, fl->n_id_rows, sizeof *fl->id_rows, u32_cmp);
    return 0;
}

static int filt_init(filt *fl, const iris_ann_filter *f, ann_core *c, size_t rows)
{
    memset(fl, 0, sizeof *fl);
    fl->f = f;
    if (!f) return 0;
    if (f->tags) {
        size_t cap = 16;
        while (cap < 2 * f->n_tags + 2) cap *= 2;
        fl->tags = calloc(cap, sizeof *fl->tags);
        if (!fl->tags) return iris_fail(IRIS_ENOMEM, "index: out of memory");
        fl->tag_cap = cap;
        for (size_t i = 0; i < f->n_tags; i++) {
            size_t j = tag_slot(f->tags[i], cap);
            while (fl->tags[j] && fl->tags[j] != (uint64_t)f->tags[i] + 1) j = (j + 1) & (cap - 1);
            fl->tags[j] = (uint64_t)f->tags[i] + 1;
        }
    }
    return f->ids ? filt_ids(fl, c, rows) : 0;
}

static void filt_free(filt *fl)
{
    free(fl->tags);
    free(fl->rowbits);
    free(fl->id_rows);
}

/* Admitted rows: counted for an id list, estimated from a sample otherwise. */
static size_t filt_estimate(const filt *fl, const ann_core *c, size_t rows)
{
    size_t live = __atomic_load_n(&c->live, __ATOMIC_RELAXED);
    if (!fl->f) return live;
    const iris_ann_filter *f = fl->f;
    if (f->ids) {
        size_t n = 0;
        for (size_t i = 0; i < fl->n_id_rows; i++) n += admit_row(fl, c, fl->id_rows[i]) != 0;
        return n;
    }
    if (f->modalities && !f->tags && !f->accept) {
        size_t n = 0;
        for (int m = 0; m < 32; m++)
            if ((f->modalities >> m) & 1) n += __atomic_load_n(&c->live_mod[m], __ATOMIC_RELAXED);
        return n;
    }
    size_t samples = rows < 1024 ? rows : 1024, hit = 0;
    for (size_t i = 0; i < samples; i++) hit += admit_row(fl, c, (uint32_t)(i * rows / samples)) != 0;
    return samples ? (size_t)((double)hit / (double)samples * (double)rows + 0.5) : 0;
}

/* ------------------------------------------------------------ exact scans */

typedef struct scan {
    const ann_core *c;
    const ann_kernels *k;
    int kind;
    const ann_query *q;
    int nq;
    const filt *fl;
    const uint32_t *list; /* rows to scan, or NULL for [0, end) */
    size_t end;           /* rows (or list length) */
    size_t keep;          /* heap size per query */
    ann_heap *heaps;      /* [thread][query] */
    ann_cand *store;
    size_t next;          /* next block (atomic) */
} scan;

/* Similarities of one query with n rows into sim[] (one kernel per kind, so
 * the loop carries no per-row dispatch). */
static void scan_block(const scan *s, const ann_query *q, const uint32_t *rows,
                       const int8_t *const *codes, size_t n, float *sim)
{
    const ann_core *c = s->c;
    const ann_kernels *k = s->k;
    size_t dp = (size_t)c->dpad;
    if (s->kind == SCAN_INT8) {
        int32_t dot[SCAN_BLOCK];
        k->dot_i8_rows(q->q8, codes, n, dp, dot);
        for (size_t i = 0; i < n; i++) sim[i] = q->bias + q->s8 * (float)dot[i];
    } else if (s->kind == SCAN_BITS) {
        for (size_t i = 0; i < n; i++)
            sim[i] = -(float)k->hamming(q->bits, ann_col_at(&c->bits, rows[i]), c->bits_words);
    } else {
        for (size_t i = 0; i < n; i++) sim[i] = ann_core_sim_full(c, k, q->f, rows[i]);
    }
}

static void scan_worker(void *arg, int t)
{
    scan *s = arg;
    ann_heap *h = s->heaps + (size_t)t * (size_t)s->nq;
    uint32_t rows[SCAN_BLOCK];
    const int8_t *codes[SCAN_BLOCK]; /* int8 scans: the rows' codes */
    float sim[SCAN_BLOCK];
    /* Without a filter or tombstones every row is admitted: skip the
     * attribute column altogether (a concurrent delete may then miss this
     * search, as if the search had come first). */
    int all = !s->fl->f && !s->list && !__atomic_load_n(&s->c->deleted, __ATOMIC_RELAXED);
    for (;;) {
        size_t b = __atomic_fetch_add(&s->next, SCAN_BLOCK, __ATOMIC_RELAXED);
        if (b >= s->end) break;
        size_t e = b + SCAN_BLOCK < s->end ? b + SCAN_BLOCK : s->end, n = 0;
        for (size_t i = b; i < e; i++) {
            uint32_t r = s->list ? s->list[i] : (uint32_t)i;
            if (all || admit_row(s->fl, s->c, r)) rows[n++] = r;
        }
        if (s->kind == SCAN_INT8)
            for (size_t i = 0; i < n; i++) codes[i] = ann_code_at(s->c, rows[i]);
        for (int qi = 0; qi < s->nq; qi++) {
            scan_block(s, &s->q[qi], rows, codes, n, sim);
            float floor = ann_heap_floor(&h[qi]);
            for (size_t i = 0; i < n; i++)
                if (sim[i] >= floor && ann_heap_offer(&h[qi], (ann_cand){sim[i], rows[i]}))
                    floor = ann_heap_floor(&h[qi]);
        }
    }
}

/* Runs the scan and leaves each query's best `keep`, best first, in
 * out[qi * keep ...] with counts in n_out. */
static int scan_run(scan *s, int n_threads, ann_cand *out, size_t *n_out)
{
    if (s->end < PARALLEL_MIN_ROWS) n_threads = 1;
    size_t nh = (size_t)n_threads * (size_t)s->nq;
    s->heaps = calloc(nh, sizeof *s->heaps);
    s->store = malloc(nh * s->keep * sizeof *s->store);
    if (!s->heaps || !s->store) {
        free(s->heaps);
        free(s->store);
        return iris_fail(IRIS_ENOMEM, "index: out of memory for a scan");
    }
    for (size_t i = 0; i < nh; i++) s->heaps[i] = (ann_heap){s->store + i * s->keep, 0, s->keep};
    s->next = 0;
    ann_parallel(n_threads, scan_worker, s);
    for (int qi = 0; qi < s->nq; qi++) {
        ann_heap *h = &s->heaps[qi];
        for (int t = 1; t < n_threads; t++) {
            ann_heap *o = &s->heaps[(size_t)t * (size_t)s->nq + (size_t)qi];
            for (size_t i = 0; i < o->n; i++) ann_heap_offer(h, o->v[i]);
        }
        ann_heap_sort(h);
        memcpy(out + (size_t)qi * s->keep, h->v, h->n * sizeof *out);
        n_out[qi] = h->n;
    }
    free(s->heaps);
    free(s->store);
    return 0;
}

/* --------------------------------------------------------------- rescoring */

/* Rescores cand[0..n) in full precision and writes the best k as hits. */
static int rescore(const ann_core *c, const ann_kernels *k, const ann_query *q, ann_cand *cand,
                   size_t n, int kk, iris_ann_hit *hits)
{
    ann_heap h = {cand, 0, (size_t)kk};
    for (size_t i = 0; i < n; i++) {
        ann_cand x = {ann_core_sim_full(c, k, q->f, cand[i].row), cand[i].row};
        if (isnan(x.sim)) continue;
        ann_heap_offer(&h, x); /* h.n <= i: writes stay behind the reads */
    }
    ann_heap_sort(&h);
    for (size_t i = 0; i < h.n; i++) hits[i] = (iris_ann_hit){ann_meta_at(c, h.v[i].row)->id, h.v[i].sim};
    return (int)h.n;
}

/* ---------------------------------------------------------------- planning */

typedef struct plan {
    int method;   /* resolved IRIS_ANN_* method */
    int ef, rescore, k;
    size_t est;   /* admitted rows (estimate) */
    size_t rows;  /* rows when the search started */
    int n_threads;
} plan;

static int scan_kind(int method)
{
    return method == IRIS_ANN_EXACT_INT8 ? SCAN_INT8 : method == IRIS_ANN_EXACT_BINARY ? SCAN_BITS
                                                                                        : SCAN_FULL;
}

static size_t first_stage_keep(const plan *p)
{
    size_t keep = (size_t)p->rescore;
    if (p->method == IRIS_ANN_EXACT_BINARY && keep < (size_t)p->k * 16) keep = (size_t)p->k * 16;
    if (keep < (size_t)p->k) keep = (size_t)p->k;
    return p->method == IRIS_ANN_EXACT ? (size_t)p->k : keep;
}

/* Exact scan (any first stage) of nq queries; hits is nq x k. */
static int exact_search(iris_ann *a, const ann_core *c, const ann_query *q, int nq, const plan *p,
                        const filt *fl, iris_ann_hit *hits, int *n_hits)
{
    scan s = {.c = c, .k = a->k, .kind = scan_kind(p->method), .q = q, .nq = nq, .fl = fl,
              .keep = first_stage_keep(p)};
    if (fl->f && fl->f->ids) {
        s.list = fl->id_rows;
        s.end = fl->n_id_rows;
    } else {
        s.end = p->rows;
    }
    ann_cand *cand = malloc((size_t)nq * s.keep * sizeof *cand + 1);
    size_t *nc = malloc((size_t)nq * sizeof *nc + 1);
    int rc = cand && nc ? scan_run(&s, p->n_threads, cand, nc)
                        : iris_fail(IRIS_ENOMEM, "index: out of memory");
    for (int qi = 0; !rc && qi < nq; qi++)
        n_hits[qi] = rescore(c, a->k, &q[qi], cand + (size_t)qi * s.keep, nc[qi], p->k,
                             hits + (size_t)qi * (size_t)p->k);
    free(cand);
    free(nc);
    return rc;
}

/* Graph search of one query, plus the not-yet-linked tail, then rescoring.
 * Sets *short_list when fewer than k hits came back. */
static int graph_search(iris_ann *a, const ann_core *c, const ann_query *q, const plan *p,
                        const filt *fl, iris_ann_hit *hits, int *n_hits, iris_ann_search_info *info)
{
    size_t done = __atomic_load_n(&c->graph_done, __ATOMIC_ACQUIRE);
    size_t tail = p->rows > done ? p->rows - done : 0;
    size_t room = (size_t)p->ef + (tail < (size_t)p->k ? tail : (size_t)p->k);
    ann_cand *cand = malloc(room * sizeof *cand);
    if (!cand) return iris_fail(IRIS_ENOMEM, "index: out of memory");
    ann_admit adm = {admit_row, fl};
    size_t n = 0, visited = 0;
    size_t budget = fl->f ? (size_t)p->ef * (size_t)c->M0 * 64 + p->rows / 8 : 0;
    int exhausted = 0;
    int rc = hnsw_search(c, a->k, q, p->ef, &adm, budget, cand, &n, &visited, &exhausted);
    if (!rc && n > (size_t)p->rescore && p->rescore >= p->k) n = (size_t)p->rescore;
    if (!rc && tail) { /* rows not linked yet: best k of them by full similarity */
        ann_heap h = {cand + n, 0, room - n};
        for (size_t r = done; r < p->rows; r++)
            if (admit_row(fl, c, (uint32_t)r))
                ann_heap_offer(&h, (ann_cand){ann_core_sim_full(c, a->k, q->f, r), (uint32_t)r});
        n += h.n;
    }
    if (!rc) *n_hits = rescore(c, a->k, q, cand, n, p->k, hits);
    free(cand);
    if (info) info->visited = visited;
    if (!rc && exhausted) *n_hits = -1; /* ask the caller for the exact scan */
    return rc;
}

static void plan_make(iris_ann *a, const ann_core *c, const iris_ann_search_opts *o, int k,
                      const filt *fl, plan *p)
{
    p->k = k;
    p->rows = ann_rows(c);
    p->ef = o && o->ef > 0 ? o->ef : ann_knob(&a->cfg.ef_search);
    if (p->ef < k) p->ef = k;
    p->rescore = o && o->rescore > 0 ? o->rescore : ann_knob(&a->cfg.rescore);
    /* Auto: the best 4k by the first stage. int8 codes order candidates almost
     * exactly (BENCHMARKS.md: at 1M the true top 10 were within int8's top 16
     * on clustered data, top 20 on random), so rescoring the whole beam bought
     * no recall and cost up to a fifth of the query time at ef 512. */
    if (p->rescore <= 0) p->rescore = 4 * k;
    p->n_threads = ann_threads(ann_knob(&a->cfg.n_threads));
    p->est = filt_estimate(fl, c, p->rows);
    int m = o ? o->method : IRIS_ANN_AUTO;
    int graph = __atomic_load_n(&c->graph, __ATOMIC_ACQUIRE);
    if (m == IRIS_ANN_AUTO) m = graph ? IRIS_ANN_HNSW : IRIS_ANN_EXACT;
    if (m == IRIS_ANN_HNSW && !graph) m = IRIS_ANN_EXACT_INT8;
    size_t small = p->rows / 100 > 2048 ? p->rows / 100 : 2048;
    if (m == IRIS_ANN_HNSW && fl->f && p->est <= small) m = IRIS_ANN_EXACT;
    p->method = m;
}

/* One query, planned; falls back to an exact scan if the graph came up short. */
static int search_planned(iris_ann *a, const ann_core *c, const ann_query *q, plan *p,
                          const filt *fl, iris_ann_hit *hits, int *n_hits, iris_ann_search_info *info)
{
    int rc;
    if (p->method == IRIS_ANN_HNSW) {
        rc = graph_search(a, c, q, p, fl, hits, n_hits, info);
        if (rc || (*n_hits >= p->k)) return rc;
        if (info) info->fell_back = 1;
        p->method = IRIS_ANN_EXACT;
    }
    if (info) info->method = p->method;
    return exact_search(a, c, q, 1, p, fl, hits, n_hits);
}

/* -------------------------------------------------------------- public API */

static int check_query(const iris_ann *a, const float *v, int nq, int k, const iris_ann_hit *hits,
                       const int *n_hits)
{
    if (!a || !v || !hits || !n_hits || nq < 0)
        return iris_fail(IRIS_EARG, "iris_ann_search: NULL argument");
    if (k < 1 || k > 1000000) return iris_fail(IRIS_EARG, "iris_ann_search: k = %d out of range", k);
    for (size_t i = 0; i < (size_t)nq * (size_t)a->cfg.dim; i++)
        if (!isfinite(v[i]))
            return iris_fail(IRIS_EARG, "iris_ann_search: query value %zu is not finite", i);
    return 0;
}

int iris_ann_search(iris_ann *a, const float *query, int k, const iris_ann_search_opts *opts,
                    iris_ann_hit *hits, int *n_hits)
{
    int rc = check_query(a, query, 1, k, hits, n_hits);
    if (rc) return rc;
    *n_hits = 0;
    iris_ann_search_info *info = opts ? opts->info : NULL;
    if (info) memset(info, 0, sizeof *info);
    pthread_rwlock_rdlock(&a->rw);
    ann_core *c = a->core;
    ann_query q = {0};
    filt fl;
    rc = filt_init(&fl, opts ? opts->filter : NULL, c, ann_rows(c));
    if (!rc) rc = ann_query_init(c, query, &q);
    if (!rc) {
        plan p;
        plan_make(a, c, opts, k, &fl, &p);
        if (info) {
            info->method = p.method;
            info->admitted_est = p.est;
        }
        rc = search_planned(a, c, &q, &p, &fl, hits, n_hits, info);
    }
    ann_query_free(&q);
    filt_free(&fl);
    pthread_rwlock_unlock(&a->rw);
    return rc;
}

typedef struct batch {
    iris_ann *a;
    const ann_core *c;
    const ann_query *q;
    const plan *p;
    const filt *fl;
    iris_ann_hit *hits;
    int *n_hits;
    int nq;
    int next, rc; /* atomic */
} batch;

static void batch_worker(void *arg, int t)
{
    (void)t;
    batch *b = arg;
    for (;;) {
        int i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->nq) break;
        plan p = *b->p;
        p.n_threads = 1;
        int rc = search_planned(b->a, b->c, &b->q[i], &p, b->fl, b->hits + (size_t)i * (size_t)p.k,
                                &b->n_hits[i], NULL);
        if (rc) __atomic_store_n(&b->rc, rc, __ATOMIC_RELAXED);
    }
}

int iris_ann_search_batch(iris_ann *a, const float *queries, int nq, int k,
                          const iris_ann_search_opts *opts, iris_ann_hit *hits, int *n_hits)
{
    int rc = check_query(a, queries, nq, k, hits, n_hits);
    if (rc || nq == 0) return rc;
    pthread_rwlock_rdlock(&a->rw);
    ann_core *c = a->core;
    ann_query *q = calloc((size_t)nq, sizeof *q);
    filt fl;
    rc = filt_init(&fl, opts ? opts->filter : NULL, c, ann_rows(c));
    if (!q && !rc) rc = iris_fail(IRIS_ENOMEM, "index: out of memory");
    for (int i = 0; !rc && i < nq; i++) rc = ann_query_init(c, queries + (size_t)i * (size_t)a->cfg.dim, &q[i]);
    if (!rc) {
        plan p;
        plan_make(a, c, opts, k, &fl, &p);
        if (p.method == IRIS_ANN_HNSW) {
            batch b = {a, c, q, &p, &fl, hits, n_hits, nq, 0, 0};
            ann_parallel(nq < p.n_threads ? nq : p.n_threads, batch_worker, &b);
            rc = b.rc;
        } else {
            rc = exact_search(a, c, q, nq, &p, &fl, hits, n_hits);
        }
    }
    for (int i = 0; q && i < nq; i++) ann_query_free(&q[i]);
    free(q);
    filt_free(&fl);
    pthread_rwlock_unlock(&a->rw);
    return rc;
}
