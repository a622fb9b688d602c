/*
 * hnsw.h - the HNSW graph over a core's rows (internal).
 *
 * Hierarchical Navigable Small World graph (Malkov & Yashunin, 2016): each
 * row gets a random level; every level is a proximity graph whose links are
 * chosen by the neighbour-diversity heuristic; a search descends greedily
 * through the sparse upper levels and runs a beam search of width ef on
 * level 0. All distances here are int8 similarities (ann_sim8 for a query,
 * ann_sim_rows between stored rows): a quarter of the memory traffic of
 * float32; the caller rescores the survivors in full precision.
 */
#ifndef IRIS_INDEX_HNSW_H
#define IRIS_INDEX_HNSW_H

#include "index/core.h"
#include "index/topk.h"

/* Which rows a search may return (construction admits every row). */
typedef struct ann_admit {
    int (*fn)(const void *ctx, const ann_core *c, uint32_t row);
    const void *ctx;
} ann_admit;

/* Draws a level for a new row from the geometric distribution 1/ln(M). */
int hnsw_draw_level(uint64_t *rng, int M);

/* Links rows [from, to) into the graph on n_threads threads. */
int hnsw_insert(ann_core *c, const ann_kernels *k, size_t from, size_t to, int ef_construction,
                int n_threads);

/* Beam search for q: up to ef admitted rows, best first, into out (room for
 * ef). Stops early after max_visit distance computations (0 = no cap) and
 * then sets *exhausted. */
int hnsw_search(const ann_core *c, const ann_kernels *k, const ann_query *q, int ef,
                const ann_admit *admit, size_t max_visit, ann_cand *out, size_t *n_out,
                size_t *visited, int *exhausted);

#endif
