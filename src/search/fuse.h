/*
 * fuse.h - Reciprocal Rank Fusion (Cormack, Clarke and Buettcher, SIGIR
 * 2009): each lane contributes 1 / (k + rank) for every item it returned
 * (rank 1-based), and an item's fused score is the sum over lanes. Only
 * ranks matter, so a cosine and a BM25 score never need to share a scale;
 * k (60 by default, the paper's value) damps the weight of the first few
 * ranks so that an item both lanes rank moderately well beats one that a
 * single lane ranks first.
 *
 * Ties (equal sums, e.g. rank 3 in one lane only vs rank 3 in the other)
 * go to the item with the better best rank, then to the smaller item id,
 * so output is deterministic.
 */
#ifndef IRIS_SEARCH_FUSE_H
#define IRIS_SEARCH_FUSE_H

#include <stdint.h>

#define FUSE_MAX_LANES 2

typedef struct fuse_lane {
    const int64_t *ids; /* item ids, best first; ids are distinct */
    const double *scores; /* each id's lane score (reported, not used) */
    int n;
} fuse_lane;

typedef struct fused {
    int64_t item_id;
    double score;                     /* sum of 1 / (k + rank) */
    int rank[FUSE_MAX_LANES];         /* 1-based; 0 = not in that lane */
    double lane_score[FUSE_MAX_LANES];/* 0 when absent */
} fused;

/* Fuses n_lanes (<= FUSE_MAX_LANES) ranked lists; *out (malloc'ed, best
 * first) receives every distinct id. k must be > 0. */
int fuse_rrf(const fuse_lane *lanes, int n_lanes, double k, fused **out, int *n_out);

#endif
