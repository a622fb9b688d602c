/*
 * file.h - the index file's header layout (internal; see file.c for the
 * format). Exposed so the tests can forge files with valid checksums and
 * check that the structural validation, not just the CRC, rejects them.
 */
#ifndef IRIS_INDEX_FILE_H
#define IRIS_INDEX_FILE_H

#include "index/core.h"

#include <stdint.h>

#define ANN_FILE_PAGE 4096
#define ANN_FILE_VERSION 1u

enum { SEC_META, SEC_LINK0, SEC_UPPER, SEC_CALMID, SEC_CODE, SEC_BITS, SEC_VEC, NSEC };
#define N_STRUCTURE 4 /* sections checked on every open */

typedef struct file_sec {
    uint64_t off, bytes;
    uint32_t crc, pad;
} file_sec;

typedef struct file_header {
    char magic[8]; /* "IRISANN\0" */
    uint32_t version, header_bytes;
    uint32_t endian, dim, dpad, storage;
    uint32_t mode, M, ef_construction, ef_search;
    uint32_t rescore, hnsw_threshold, graph, n_sections;
    uint64_t seed, rng, fingerprint;
    uint64_t rows, live, deleted, entry;
    uint64_t live_mod[32];
    uint64_t cal_samples;
    float cal_scale, cal_mid_sq;
    uint64_t arena_chunks, arena_used;
    file_sec sec[NSEC];
    uint32_t pad;
    uint32_t crc; /* CRC-32C of the bytes above */
} file_header;

_Static_assert(sizeof(file_header) == 584, "file header layout");
_Static_assert(sizeof(ann_meta) == 24, "row layout");

#endif
