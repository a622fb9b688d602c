/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of the index file format.
 *
 * SSE4.2 has an instruction for it (~8 GB/s here), so checking a large index
 * costs little; a table-driven version serves CPUs without it and is tested
 * against the instruction. Check value: crc32c("123456789") = 0xE3069283.
 */
#ifndef IRIS_INDEX_CRC32C_H
#define IRIS_INDEX_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over len bytes; start with crc = 0. */
uint32_t ann_crc32c(uint32_t crc, const void *data, size_t len);
/* The table-driven version, exported for the test. */
uint32_t ann_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
