/*
 * idmap.c - see idmap.h. The hash is the splitmix64 finaliser: item ids are
 * often sequential rowids, which a plain mask would cluster.
 */
#include "index/idmap.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY UINT32_MAX

static size_t slot_of(uint64_t id, size_t cap)
{
    id ^= id >> 30;
    id *= 0xbf58476d1ce4e5b9ull;
    id ^= id >> 27;
    id *= 0x94d049bb133111ebull;
    id ^= id >> 31;
    return (size_t)id & (cap - 1);
}

uint32_t ann_idmap_get(const ann_idmap *m, uint64_t id)
{
    if (!m->cap) return EMPTY;
    for (size_t i = slot_of(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == EMPTY) return EMPTY;
        if (m->keys[i] == id) return m->vals[i];
    }
}

static int grow(ann_idmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = malloc(cap * sizeof *keys);
    uint32_t *vals = malloc(cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return iris_fail(IRIS_ENOMEM, "index id map: cannot grow to %zu slots", cap);
    }
    memset(vals, 0xff, cap * sizeof *vals);
    for (size_t j = 0; j < m->cap; j++) {
        if (m->vals[j] == EMPTY) continue;
        size_t i = slot_of(m->keys[j], cap);
        while (vals[i] != EMPTY) i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int ann_idmap_put(ann_idmap *m, uint64_t id, uint32_t row, uint32_t *old)
{
    if (2 * (m->n + 1) > m->cap) {
        int rc = grow(m);
        if (rc) return rc;
    }
    size_t i = slot_of(id, m->cap);
    while (m->vals[i] != EMPTY && m->keys[i] != id) i = (i + 1) & (m->cap - 1);
    *old = m->vals[i];
    if (m->vals[i] == EMPTY) m->n++;
    m->keys[i] = id;
    m->vals[i] = row;
    return 0;
}

uint32_t ann_idmap_del(ann_idmap *m, uint64_t id)
{
    if (!m->cap) return EMPTY;
    size_t mask = m->cap - 1, i = slot_of(id, m->cap);
    while (m->vals[i] != EMPTY && m->keys[i] != id) i = (i + 1) & mask;
    uint32_t row = m->vals[i];
    if (row == EMPTY) return EMPTY;
    /* Backward shift: pull later members of the probe run into the hole. */
    for (size_t j = (i + 1) & mask; m->vals[j] != EMPTY; j = (j + 1) & mask) {
        size_t home = slot_of(m->keys[j], m->cap);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->vals[i] = EMPTY;
    m->n--;
    return row;
}

void ann_idmap_free(ann_idmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
