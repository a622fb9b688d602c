/*
 * core.h - the in-memory layout shared by the index's files (internal).
 *
 * Storage is by column: one row per stored vector, in insertion order, and a
 * column per kind of data (attributes, full vector, int8 code, sign bits,
 * level-0 links). Each column is a table of fixed-size chunks of 4096 rows.
 * Chunks either live on the heap or point straight into the mapped index
 * file, so opening a file costs no copy, appending never moves existing rows,
 * and the pages nobody touches (most full-precision vectors, once a graph
 * search only rescores a few) never become resident. The file is mapped
 * MAP_PRIVATE and writable: an in-place change (a tombstone, a new link)
 * copies just that page, never the file.
 *
 * Upper graph levels (about 1 row in M) live in an arena of 64K-word chunks,
 * addressed by word offset from the row's attributes.
 *
 * Concurrency (one writer, many readers): data a reader may see is never
 * changed except through __atomic loads and stores (links, row flags, row
 * count, entry point); rows are fully written before the row count or any
 * link publishes them (release/acquire). Growing a chunk table or swapping
 * the whole core takes the index's rwlock for writing; readers hold it for
 * reading during a search.
 */
#ifndef IRIS_INDEX_CORE_H
#define IRIS_INDEX_CORE_H

#include "index/idmap.h"
#include "index/index.h"
#include "index/kernels.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define ANN_CHUNK_SHIFT 12
#define ANN_CHUNK_ROWS ((size_t)1 << ANN_CHUNK_SHIFT)
#define ANN_ARENA_WORDS ((size_t)1 << 16)
#define ANN_MAX_LEVEL 16
#define ANN_MAX_M 64
#define ANN_MAX_DIM 16384
#define ANN_NONE UINT32_MAX
#define ANN_NO_ENTRY UINT64_MAX
#define ANN_ROW_DELETED 1u
#define ANN_CALIB_FREEZE 65536 /* rows after which the int8 ranges stop following the data */

/* Per-row attributes; this is also the file layout (24 bytes, little endian). */
typedef struct ann_meta {
    uint64_t id;
    uint32_t tag;
    uint32_t upper; /* arena word offset of levels 1..level (if level > 0) */
    float bias;     /* sum_d mid[d] * code[d], for node-to-node int8 similarity */
    uint8_t modality;
    uint8_t level;
    uint8_t flags;  /* ANN_ROW_DELETED; atomic access only */
    uint8_t pad;
} ann_meta;

typedef struct ann_col {
    size_t stride;           /* bytes per row */
    unsigned char **chunk;   /* chunk c holds rows [c * 4096, (c + 1) * 4096) */
    unsigned char *owned;    /* per chunk: 1 = malloc'ed, 0 = inside the mapping */
    size_t n_chunks, cap_chunks;
    size_t last_cap;         /* rows the last chunk has room for */
} ann_col;

typedef struct ann_arena {
    uint32_t **chunk;
    unsigned char *owned;
    size_t n_chunks, cap_chunks;
    size_t used;             /* words used in the last chunk */
    size_t last_cap;         /* words the last chunk has room for */
} ann_arena;

/* int8 calibration: x[d] ~ mid[d] + scale * code[d], code in [-127, 127]. */
typedef struct ann_calib {
    float *mid;        /* dpad entries (zero past dim) */
    float scale;
    float mid_sq;      /* sum mid[d]^2 */
    uint64_t samples;  /* rows it was computed from */
} ann_calib;

typedef struct ann_core {
    int dim, dpad, storage;   /* dpad: dim rounded up to 64 */
    int M, M0;                /* links per upper level / at level 0 */
    size_t bits_words;        /* uint64 words of sign bits per row */
    ann_col meta, vec, code, bits, link0;
    ann_arena upper;
    ann_calib cal;
    size_t rows;              /* published rows (atomic) */
    size_t graph_done;        /* rows [0, graph_done) are linked (atomic) */
    uint64_t entry;           /* (level << 32) | row, or ANN_NO_ENTRY (atomic) */
    int graph;                /* 1 when the graph is maintained (atomic) */
    size_t live, deleted;     /* writer-maintained counts (atomic) */
    size_t live_mod[32];      /* live rows per modality (atomic) */
    ann_idmap map;            /* id -> row of live rows; built on first need */
    int map_built;
    pthread_mutex_t map_lock;
    void *map_base;           /* file mapping the mapped chunks point into */
    size_t map_size;
} ann_core;

struct iris_ann {
    iris_ann_config cfg;
    const ann_kernels *k;
    ann_core *core;
    pthread_mutex_t writer;   /* serialises add / delete / compact / save */
    pthread_rwlock_t rw;      /* read: searches; write: storage growth, swaps */
    uint64_t rng;             /* level draws (writer only) */
    uint64_t fingerprint;
};

/* Column and arena storage (core.c). */
static inline void *ann_col_at(const ann_col *c, size_t row)
{
    return c->chunk[row >> ANN_CHUNK_SHIFT] + (row & (ANN_CHUNK_ROWS - 1)) * c->stride;
}
static inline ann_meta *ann_meta_at(const ann_core *c, size_t row)
{
    return (ann_meta *)ann_col_at(&c->meta, row);
}
static inline const int8_t *ann_code_at(const ann_core *c, size_t row)
{
    return (const int8_t *)ann_col_at(&c->code, row);
}
static inline uint32_t *ann_links0(const ann_core *c, size_t row)
{
    return (uint32_t *)ann_col_at(&c->link0, row);
}
static inline uint32_t *ann_arena_at(const ann_arena *a, uint32_t off)
{
    return a->chunk[off / ANN_ARENA_WORDS] + off % ANN_ARENA_WORDS;
}
/* Links of row at level (count first, then up to M or M0 rows). */
static inline uint32_t *ann_links(const ann_core *c, size_t row, int level)
{
    if (level == 0) return ann_links0(c, row);
    const ann_meta *m = ann_meta_at(c, row);
    return ann_arena_at(&c->upper, m->upper + (uint32_t)(level - 1) * (uint32_t)(c->M + 1));
}
static inline int ann_row_deleted(const ann_core *c, size_t row)
{
    return __atomic_load_n(&ann_meta_at(c, row)->flags, __ATOMIC_ACQUIRE) & ANN_ROW_DELETED;
}
static inline size_t ann_rows(const ann_core *c) { return __atomic_load_n(&c->rows, __ATOMIC_ACQUIRE); }

void ann_col_init(ann_col *c, size_t stride);
int ann_col_reserve(ann_col *c, size_t rows);
void ann_col_free(ann_col *c);
size_t ann_col_owned_bytes(const ann_col *c);
int ann_arena_alloc(ann_arena *a, size_t words, uint32_t *off);
void ann_arena_free(ann_arena *a);

/* Core lifecycle (core.c). */
int ann_core_new(const iris_ann_config *cfg, ann_core **out);
void ann_core_free(ann_core *c);
/* Makes room for `rows` more rows and `upper_words` more arena words without
 * moving anything later; the caller holds the write lock if readers exist. */
int ann_core_reserve(ann_core *c, size_t rows, size_t upper_words);
/* Writes row `row` (not yet published): vector, attributes, codes, level. */
int ann_core_put_row(ann_core *c, const ann_kernels *k, size_t row, uint64_t id,
                     const float *vec, const iris_ann_attr *attr, int level);
/* The full vector of row as dpad floats. */
void ann_core_vector(const ann_core *c, size_t row, float *out);
/* Full-precision similarity of a dpad-padded query with row. */
float ann_core_sim_full(const ann_core *c, const ann_kernels *k, const float *q, size_t row);
/* Recomputes the int8 calibration from up to `sample` rows, re-encodes all. */
int ann_core_calibrate(ann_core *c, const ann_kernels *k, size_t sample);
/* Marks row deleted and updates counts (writer). */
void ann_core_kill_row(ann_core *c, size_t row);
/* Builds the id map if it does not exist yet (takes map_lock). */
int ann_core_map_ready(ann_core *c);
size_t ann_core_heap_bytes(const ann_core *c);

/* A query prepared for every scan: padded floats, int8 codes and sign bits.
 * int8 similarity with a row is bias + s8 * <q8, code(row)>. */
typedef struct ann_query {
    float *f;       /* dpad floats, zero-padded */
    int8_t *q8;     /* dpad codes, scaled by max |q| */
    uint64_t *bits; /* sign bits of q */
    float s8, bias;
} ann_query;

int ann_query_init(const ann_core *c, const float *vec, ann_query *q);
void ann_query_free(ann_query *q);
static inline float ann_sim8(const ann_core *c, const ann_kernels *k, const ann_query *q,
                             size_t row)
{
    return q->bias + q->s8 * (float)k->dot_i8(q->q8, ann_code_at(c, row), (size_t)c->dpad);
}
/* int8 similarity of two stored rows (graph construction). */
static inline float ann_sim_rows(const ann_core *c, const ann_kernels *k, size_t a, float bias_a,
                                 size_t b, float bias_b)
{
    float s = c->cal.scale;
    return c->cal.mid_sq + s * (bias_a + bias_b) +
           s * s * (float)k->dot_i8(ann_code_at(c, a), ann_code_at(c, b), (size_t)c->dpad);
}

/* index.c, shared with file.c */
int ann_config_check(const iris_ann_config *cfg);
int ann_wrap(const iris_ann_config *cfg, ann_core *core, iris_ann **out);
/* Run-time knobs may change under running searches (iris_ann_set_search). */
static inline int ann_knob(const int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/* Parallel for: fn(arg, t) on n_threads threads (t = 0 on the caller's). */
int ann_parallel(int n_threads, void (*fn)(void *arg, int t), void *arg);
int ann_threads(int configured);

#endif
