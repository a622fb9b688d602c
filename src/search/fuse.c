/*
 * fuse.c - Reciprocal Rank Fusion (see fuse.h).
 *
 * Lanes are short (a few hundred candidates), so ids are merged by sorting
 * all (id, lane, rank) entries by id and folding equal ids, then sorting by
 * score: O(n log n) with no hash table.
 */
#include "search/fuse.h"

#include "iris.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static int by_id(const void *a, const void *b)
{
    const fused *x = a, *y = b;
    return (x->item_id > y->item_id) - (x->item_id < y->item_id);
}

static int best_rank(const fused *f)
{
    int best = 0;
    for (int l = 0; l < FUSE_MAX_LANES; l++)
        if (f->rank[l] && (!best || f->rank[l] < best)) best = f->rank[l];
    return best;
}

static int by_score(const void *a, const void *b)
{
    const fused *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    int rx = best_rank(x), ry = best_rank(y);
    if (rx != ry) return rx > ry ? 1 : -1;
    return by_id(a, b);
}

int fuse_rrf(const fuse_lane *lanes, int n_lanes, double k, fused **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n_lanes < 0 || n_lanes > FUSE_MAX_LANES || !(k > 0))
        return iris_fail(IRIS_EARG, "fuse_rrf: %d lanes, k = %g", n_lanes, k);
    size_t total = 0;
    for (int l = 0; l < n_lanes; l++) total += (size_t)(lanes[l].n > 0 ? lanes[l].n : 0);
    fused *all = calloc(total ? total : 1, sizeof *all);
    if (!all) return iris_fail(IRIS_ENOMEM, "no memory to fuse %zu candidates", total);
    size_t n = 0;
    for (int l = 0; l < n_lanes; l++)
        for (int r = 0; r < lanes[l].n; r++, n++) {
            all[n].item_id = lanes[l].ids[r];
            all[n].rank[l] = r + 1;
            all[n].lane_score[l] = lanes[l].scores ? lanes[l].scores[r] : 0;
        }
    qsort(all, n, sizeof *all, by_id);
    size_t m = 0; /* fold entries of equal ids into all[m] */
    for (size_t i = 0; i < n; i++) {
        if (m && all[m - 1].item_id == all[i].item_id) {
            for (int l = 0; l < FUSE_MAX_LANES; l++)
                if (all[i].rank[l]) {
                    all[m - 1].rank[l] = all[i].rank[l];
                    all[m - 1].lane_score[l] = all[i].lane_score[l];
                }
        } else {
            all[m++] = all[i];
        }
    }
    for (size_t i = 0; i < m; i++) {
        all[i].score = 0;
        for (int l = 0; l < FUSE_MAX_LANES; l++)
            if (all[i].rank[l]) all[i].score += 1.0 / (k + all[i].rank[l]);
    }
    qsort(all, m, sizeof *all, by_score);
    *out = all;
    *n_out = (int)m;
    return IRIS_OK;
}
