/*
 * gguf.h - a validating reader for GGUF v2/v3 files (the ggml container
 * clip.cpp writes): magic, version, tensor and key/value counts, typed
 * metadata (all 13 value types, arrays, arrays of arrays), the tensor info
 * table, and the aligned data section.
 *
 * gguf_open() maps the file and checks everything before a value or tensor
 * can be read: every length against the bytes left, counts against what the
 * file could hold, keys and tensor names unique, general.alignment a power
 * of two, each tensor's offset aligned and its bytes (from the ggml type's
 * block size) inside the data section without overlap. Dimensions are
 * reversed on the way in: ne[] is in PyTorch order like clip_tensor.
 */
#ifndef IRIS_CLIP_GGUF_H
#define IRIS_CLIP_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/fs.h"

enum gguf_vtype {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5,
    GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10,
    GGUF_I64 = 11, GGUF_F64 = 12,
};

/* ggml tensor types iris knows the layout of. */
enum ggml_type_id {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6, GGML_Q5_1 = 7,
    GGML_Q8_0 = 8, GGML_Q8_1 = 9, GGML_I8 = 24, GGML_I16 = 25, GGML_I32 = 26, GGML_I64 = 27,
    GGML_F64 = 28, GGML_BF16 = 30,
};

typedef struct gguf_kv {
    const char *key;
    uint32_t type;             /* enum gguf_vtype */
    uint32_t arr_type;         /* element type when type == GGUF_ARRAY */
    uint64_t n;                /* element count when type == GGUF_ARRAY */
    const unsigned char *val;  /* the encoded value (array: its first element) */
} gguf_kv;

typedef struct gguf_tensor {
    const char *name;
    uint32_t type;             /* enum ggml_type_id */
    const char *type_name;     /* "f32", "q8_0", ... */
    int ndim;
    int64_t ne[4];             /* PyTorch order (reversed from the file) */
    uint64_t offset;           /* from the start of the data section */
    const void *data;
    size_t nbytes;
} gguf_tensor;

typedef struct gguf_file {
    char *path;
    iris_mapping map;
    uint32_t version;
    size_t alignment;
    gguf_kv *kv;
    int n_kv;
    gguf_tensor *tensors;
    int n_tensors;
    char *names;               /* storage for keys and tensor names */
} gguf_file;

int gguf_open(const char *path, gguf_file *out);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters. IRIS_ENOTFOUND (with a message) when the key is absent,
 * IRIS_EFORMAT when it has another type or does not fit. Integers accept
 * any integer type whose value fits; floats accept f32 and f64. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
int gguf_get_f32(const gguf_file *f, const char *key, float *out);
int gguf_get_bool(const gguf_file *f, const char *key, int *out);
/* Copies a string value (NUL-terminated, truncated to cap). */
int gguf_get_str(const gguf_file *f, const char *key, char *buf, size_t cap);
/* Exactly n numbers (f32 or f64 array). */
int gguf_get_floats(const gguf_file *f, const char *key, float *out, int n);
/* A string array as NUL-terminated copies: *strs is one allocation
 * (pointers then characters) the caller frees. */
int gguf_get_strings(const gguf_file *f, const char *key, char ***strs, int *n);

#endif
