/*
 * kernels.h - the arithmetic inner loops of vector search, behind one table.
 *
 * Four kernels do all the work of the index: float dot products over f32 and
 * f16 rows, an exact int8 x int8 dot product (int32 result; also over a list
 * of rows, for the exact scan) and a Hamming distance over packed sign bits. Each has a scalar reference and, where the
 * CPU has them, AVX2 (+FMA, F16C) and AVX-512 (F/BW/VL + VNNI, VPOPCNTDQ)
 * versions compiled with target attributes, so one binary runs everywhere and
 * picks the best level at run time (__builtin_cpu_supports). The scalar
 * versions stay in the build and the tests compare every level against them.
 *
 * IRIS_SIMD=scalar|avx2|avx512 in the environment caps the level (read once),
 * which is how benchmarks and tests exercise the slower paths on a fast CPU.
 *
 * Any length works; the index pads rows to multiples of 64 elements so the
 * vector loops never run their scalar tails in practice.
 */
#ifndef IRIS_INDEX_KERNELS_H
#define IRIS_INDEX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum { ANN_SIMD_SCALAR = 0, ANN_SIMD_AVX2 = 1, ANN_SIMD_AVX512 = 2 };

typedef struct ann_kernels {
    int level;        /* ANN_SIMD_* */
    const char *name; /* "scalar", "avx2", "avx512" */
    float (*dot_f32)(const float *a, const float *b, size_t n);
    float (*dot_f16)(const float *a, const uint16_t *b, size_t n);
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
    /* out[i] = dot_i8(q, rows[i], n) for n_rows rows: the exact int8 scan's
     * loop in one call, so the query stays in L1 and several rows are in
     * flight at once. */
    void (*dot_i8_rows)(const int8_t *q, const int8_t *const *rows, size_t n_rows, size_t n,
                        int32_t *out);
    uint32_t (*hamming)(const uint64_t *a, const uint64_t *b, size_t nwords);
    void (*f32_to_f16)(const float *in, uint16_t *out, size_t n);
} ann_kernels;

/* Best level this CPU supports, capped by IRIS_SIMD. Never NULL. */
const ann_kernels *ann_kernels_best(void);
/* A given level, or NULL when the CPU lacks it (tests iterate over these). */
const ann_kernels *ann_kernels_at(int level);

/* IEEE half <-> single, round to nearest even (the F16C convention). */
float ann_f16_to_f32(uint16_t h);
uint16_t ann_f32_to_f16(float f);

#endif
