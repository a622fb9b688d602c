/*
 * bmp.h - builds an uncompressed 24-bit BMP in memory for tests: a smooth
 * gradient (R = 255 x / w, G = 255 y / h, B = 128) whose pixel values are
 * known by construction, in a format chat endpoints do not take directly.
 */
#ifndef IRIS_TEST_BMP_H
#define IRIS_TEST_BMP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void bmp_put32_(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

/* The expected pixel at (x, y). */
static inline void bmp_gradient_at(int x, int y, int w, int h, unsigned char rgb[3])
{
    rgb[0] = (unsigned char)(255 * x / w);
    rgb[1] = (unsigned char)(255 * y / h);
    rgb[2] = 128;
}

static inline unsigned char *bmp_gradient(int w, int h, size_t *len)
{
    size_t stride = ((size_t)w * 3 + 3) & ~(size_t)3, size = 54 + stride * (size_t)h;
    unsigned char *b = calloc(1, size);
    if (!b) return NULL;
    b[0] = 'B', b[1] = 'M';
    bmp_put32_(b + 2, (uint32_t)size);
    bmp_put32_(b + 10, 54);
    bmp_put32_(b + 14, 40);
    bmp_put32_(b + 18, (uint32_t)w);
    bmp_put32_(b + 22, (uint32_t)h); /* positive: rows stored bottom-up */
    b[26] = 1, b[28] = 24;
    bmp_put32_(b + 34, (uint32_t)(stride * (size_t)h));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char rgb[3], *p = b + 54 + (size_t)(h - 1 - y) * stride + (size_t)x * 3;
            bmp_gradient_at(x, y, w, h, rgb);
            p[0] = rgb[2], p[1] = rgb[1], p[2] = rgb[0]; /* BGR */
        }
    *len = size;
    return b;
}

#endif
