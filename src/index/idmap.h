/*
 * idmap.h - item id (uint64) -> row (uint32) hash map for the index.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones, so long runs of add/delete never degrade it); load <= 1/2.
 * Not thread-safe: the core guards it with its map_lock.
 */
#ifndef IRIS_INDEX_IDMAP_H
#define IRIS_INDEX_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ann_idmap {
    uint64_t *keys;
    uint32_t *vals; /* UINT32_MAX marks an empty slot */
    size_t cap, n;  /* cap is a power of two (or 0) */
} ann_idmap;

/* Row of id, or UINT32_MAX. */
uint32_t ann_idmap_get(const ann_idmap *m, uint64_t id);
/* Sets id -> row; *old receives the previous row or UINT32_MAX. */
int ann_idmap_put(ann_idmap *m, uint64_t id, uint32_t row, uint32_t *old);
/* Removes id; returns its row or UINT32_MAX. */
uint32_t ann_idmap_del(ann_idmap *m, uint64_t id);
void ann_idmap_free(ann_idmap *m);

#endif
