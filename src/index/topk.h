/*
 * topk.h - binary heaps of (similarity, row) candidates (internal).
 *
 * ann_heap_min keeps the best `cap` seen so far with the worst on top, which
 * is what both a top-k scan and the HNSW result set need; ann_heap_max pops
 * the most promising candidate first for the graph walk. Ties break on the
 * row so every order is total and results are deterministic.
 */
#ifndef IRIS_INDEX_TOPK_H
#define IRIS_INDEX_TOPK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct ann_cand {
    float sim;
    uint32_t row;
} ann_cand;

/* a is better than b: higher similarity, then lower row. */
static inline int ann_better(ann_cand a, ann_cand b)
{
    return a.sim > b.sim || (a.sim == b.sim && a.row < b.row);
}

typedef struct ann_heap {
    ann_cand *v;
    size_t n, cap;
} ann_heap;

/* Min-heap (worst on top) of at most cap entries. */
static inline void ann_heap_sift_down_min(ann_cand *v, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l < n && ann_better(v[w], v[l])) w = l;
        if (l + 1 < n && ann_better(v[w], v[l + 1])) w = l + 1;
        if (w == i) return;
        ann_cand t = v[i];
        v[i] = v[w];
        v[w] = t;
        i = w;
    }
}

/* Offers c to a bounded min-heap; returns 1 if it was kept. */
static inline int ann_heap_offer(ann_heap *h, ann_cand c)
{
    if (h->n < h->cap) {
        size_t i = h->n++;
        while (i && ann_better(h->v[(i - 1) / 2], c)) {
            h->v[i] = h->v[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h->v[i] = c;
        return 1;
    }
    if (!h->cap || !ann_better(c, h->v[0])) return 0;
    h->v[0] = c;
    ann_heap_sift_down_min(h->v, h->n, 0);
    return 1;
}

/* Worst kept similarity, or -inf while not full. */
static inline float ann_heap_floor(const ann_heap *h)
{
    return h->n < h->cap ? -INFINITY : h->v[0].sim;
}

static inline int ann_cand_cmp(const void *a, const void *b)
{
    ann_cand x = *(const ann_cand *)a, y = *(const ann_cand *)b;
    return ann_better(x, y) ? -1 : ann_better(y, x) ? 1 : 0;
}

/* Sorts best first (destroys the heap order). */
static inline void ann_heap_sort(ann_heap *h) { qsort(h->v, h->n, sizeof *h->v, ann_cand_cmp); }

/* Max-heap (best on top), unbounded, growing. Returns -1 on allocation failure. */
static inline int ann_maxheap_push(ann_heap *h, ann_cand c)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        ann_cand *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i && ann_better(c, h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = c;
    return 0;
}

static inline ann_cand ann_maxheap_pop(ann_heap *h)
{
    ann_cand top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t l = 2 * i + 1, w = l;
        if (l >= n) break;
        if (l + 1 < n && ann_better(h->v[l + 1], h->v[l])) w = l + 1;
        if (!ann_better(h->v[w], last)) break;
        h->v[i] = h->v[w];
        i = w;
    }
    if (n) h->v[i] = last;
    return top;
}

#endif
