/*
 * crc32c.c - CRC-32C with the SSE4.2 instruction and a table fallback.
 *
 * One table, byte at a time: the fallback only runs on CPUs older than 2008,
 * so it favours being obviously right over speed.
 */
#include "index/crc32c.h"

#include <immintrin.h>
#include <pthread.h>
#include <string.h>

static uint32_t table[256];
static int hw;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
        table[i] = c;
    }
    __builtin_cpu_init();
    hw = __builtin_cpu_supports("sse4.2");
}

uint32_t ann_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&once, init);
    const unsigned char *p = data;
    crc = ~crc;
    while (len--) crc = (crc >> 8) ^ table[(crc ^ *p++) & 0xff];
    return ~crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t c = ~crc;
    for (; len >= 8; len -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

uint32_t ann_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&once, init);
    return hw ? crc32c_hw(crc, data, len) : ann_crc32c_sw(crc, data, len);
}
