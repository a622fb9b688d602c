/*
 * gguf.c - validating GGUF reader (see gguf.h).
 *
 * The header is walked twice with the same bounds-checked cursor: the first
 * pass validates every length and measures the names, the second copies
 * keys and tensor names into one allocation. Nothing is allocated from a
 * count the file claims before that count has been checked against the
 * bytes that remain (each key/value needs at least 13 bytes, each tensor
 * info 24), so a lying header cannot make us allocate or loop beyond what
 * the file could possibly contain. Values stay in the mapping and are
 * decoded by the typed getters. GGUF is little-endian like the hosts iris
 * runs on; big-endian files show up as an unknown version.
 */
#include "clip/gguf.h"

#include "clip/loader.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian files in place"
#endif

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DEPTH 3 /* arrays of arrays of arrays */

static const struct {
    uint32_t id;
    const char *name;
    uint32_t block; /* elements per block */
    uint32_t size;  /* bytes per block */
} ggml_types[] = {
    {GGML_F32, "f32", 1, 4},      {GGML_F16, "f16", 1, 2},    {GGML_Q4_0, "q4_0", 32, 18},
    {GGML_Q4_1, "q4_1", 32, 20},  {GGML_Q5_0, "q5_0", 32, 22}, {GGML_Q5_1, "q5_1", 32, 24},
    {GGML_Q8_0, "q8_0", 32, 34},  {GGML_Q8_1, "q8_1", 32, 36}, {GGML_I8, "i8", 1, 1},
    {GGML_I16, "i16", 1, 2},      {GGML_I32, "i32", 1, 4},    {GGML_I64, "i64", 1, 8},
    {GGML_F64, "f64", 1, 8},      {GGML_BF16, "bf16", 1, 2},
};

static const uint8_t scalar_size[] = {
    [GGUF_U8] = 1,  [GGUF_I8] = 1,  [GGUF_U16] = 2,  [GGUF_I16] = 2, [GGUF_U32] = 4,
    [GGUF_I32] = 4, [GGUF_F32] = 4, [GGUF_BOOL] = 1, [GGUF_U64] = 8, [GGUF_I64] = 8,
    [GGUF_F64] = 8,
};

typedef struct cursor {
    const unsigned char *base, *p, *end;
    const char *path;
} cursor;

static int truncated(const cursor *c, const char *what)
{
    return iris_fail(IRIS_EFORMAT, "%s: truncated or corrupt at byte %zu (%s)", c->path,
                     (size_t)(c->p - c->base), what);
}

static int take(cursor *c, uint64_t n, const char *what, const unsigned char **at)
{
    if ((uint64_t)(c->end - c->p) < n) return truncated(c, what);
    if (at) *at = c->p;
    c->p += n;
    return IRIS_OK;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what)
{
    const unsigned char *at = NULL;
    int rc = take(c, 4, what, &at);
    if (!rc) memcpy(v, at, 4);
    return rc;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what)
{
    const unsigned char *at = NULL;
    int rc = take(c, 8, what, &at);
    if (!rc) memcpy(v, at, 8);
    return rc;
}

static int rd_str(cursor *c, const unsigned char **s, uint64_t *len, const char *what)
{
    int rc = rd_u64(c, len, what);
    return rc ? rc : take(c, *len, what, s);
}

static int is_scalar(uint32_t t) { return t < sizeof scalar_size && scalar_size[t]; }

/* Skips one value of type t; arrays report their element type and count. */
static int skip_value(cursor *c, uint32_t t, int depth, const char *key, uint32_t *arr_type,
                      uint64_t *count)
{
    const unsigned char *s = NULL;
    uint64_t len, n;
    uint32_t et;
    if (is_scalar(t)) return take(c, scalar_size[t], key, NULL);
    if (t == GGUF_STRING) return rd_str(c, &s, &len, key);
    if (t != GGUF_ARRAY)
        return iris_fail(IRIS_EFORMAT, "%s: key '%s' has unknown value type %u", c->path, key, t);
    if (depth >= GGUF_MAX_DEPTH)
        return iris_fail(IRIS_EFORMAT, "%s: key '%s' nests arrays too deeply", c->path, key);
    int rc = rd_u32(c, &et, key);
    if (!rc) rc = rd_u64(c, &n, key);
    if (rc) return rc;
    if (arr_type) *arr_type = et, *count = n;
    uint64_t left = (uint64_t)(c->end - c->p);
    if (is_scalar(et)) return n > left / scalar_size[et] ? truncated(c, key)
                                                         : take(c, n * scalar_size[et], key, NULL);
    if (n > left / 8) return truncated(c, key); /* every element needs >= 8 bytes */
    for (uint64_t i = 0; i < n && !rc; i++) rc = skip_value(c, et, depth + 1, key, NULL, NULL);
    return rc;
}

/* Copies a name into the arena (pass 2) or only counts it (pass 1). */
static const char *keep_name(gguf_file *f, size_t *used, const unsigned char *s, uint64_t len)
{
    char *dst = f->names ? f->names + *used : NULL;
    if (dst) {
        memcpy(dst, s, (size_t)len);
        dst[len] = '\0';
    }
    *used += (size_t)len + 1;
    return dst;
}

static int parse_kvs(gguf_file *f, cursor *c, uint64_t n_kv, size_t *used)
{
    for (uint64_t i = 0; i < n_kv; i++) {
        const unsigned char *s = NULL;
        uint64_t len;
        gguf_kv kv = {0};
        int rc = rd_str(c, &s, &len, "key");
        if (!rc) rc = rd_u32(c, &kv.type, "value type");
        if (rc) return rc;
        char key[96];
        snprintf(key, sizeof key, "%.*s", (int)(len < 80 ? len : 80), (const char *)s);
        const unsigned char *val = c->p;
        if ((rc = skip_value(c, kv.type, 0, key, &kv.arr_type, &kv.n))) return rc;
        kv.val = kv.type == GGUF_ARRAY ? val + 12 : val;
        kv.key = keep_name(f, used, s, len);
        if (f->kv) f->kv[i] = kv;
    }
    return IRIS_OK;
}

static int type_index(uint32_t t)
{
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].id == t) return (int)i;
    return -1;
}

/* Dimensions (reversed to PyTorch order) and byte size of one tensor. */
static int tensor_shape(const cursor *c, gguf_tensor *t, const char *name, uint32_t nd,
                        const uint64_t *dims, uint32_t type)
{
    int ti = type_index(type);
    if (ti < 0)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: tensor '%s' has unknown ggml type %u", c->path,
                         name, type);
    uint64_t nelem = 1;
    for (uint32_t d = 0; d < nd; d++)
        if (dims[d] > (uint64_t)INT64_MAX || __builtin_mul_overflow(nelem, dims[d], &nelem) ||
            nelem > (uint64_t)INT64_MAX)
            return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' has an overflowing shape", c->path,
                             name);
    if (dims[0] % ggml_types[ti].block)
        return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' (%s): %llu is not a multiple of %u",
                         c->path, name, ggml_types[ti].name, (unsigned long long)dims[0],
                         ggml_types[ti].block);
    uint64_t nbytes;
    if (__builtin_mul_overflow(nelem / ggml_types[ti].block, (uint64_t)ggml_types[ti].size,
                               &nbytes) || nbytes > SIZE_MAX)
        return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' is too large", c->path, name);
    t->type = type;
    t->type_name = ggml_types[ti].name;
    t->ndim = (int)nd;
    for (uint32_t d = 0; d < nd; d++) t->ne[nd - 1 - d] = (int64_t)dims[d];
    t->nbytes = (size_t)nbytes;
    return IRIS_OK;
}

static int parse_tensor_info(gguf_file *f, cursor *c, uint64_t i, size_t *used)
{
    const unsigned char *s = NULL;
    uint64_t len, dims[4];
    uint32_t nd, type;
    int rc = rd_str(c, &s, &len, "tensor name");
    if (!rc) rc = rd_u32(c, &nd, "tensor dimensions");
    if (rc) return rc;
    char name[96];
    snprintf(name, sizeof name, "%.*s", (int)(len < 80 ? len : 80), (const char *)s);
    if (nd < 1 || nd > 4)
        return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' has %u dimensions", c->path, name, nd);
    for (uint32_t d = 0; d < nd && !rc; d++) rc = rd_u64(c, &dims[d], name);
    if (!rc) rc = rd_u32(c, &type, name);
    gguf_tensor t = {0};
    if (!rc) rc = rd_u64(c, &t.offset, name);
    if (!rc) rc = tensor_shape(c, &t, name, nd, dims, type);
    if (rc) return rc;
    t.name = keep_name(f, used, s, len);
    if (f->tensors) f->tensors[i] = t;
    return IRIS_OK;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const gguf_kv *)a)->key, ((const gguf_kv *)b)->key);
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const gguf_tensor *)a)->name, ((const gguf_tensor *)b)->name);
}

static int check_unique(gguf_file *f)
{
    qsort(f->kv, (size_t)f->n_kv, sizeof *f->kv, cmp_kv);
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_tensor);
    for (int i = 1; i < f->n_kv; i++)
        if (!strcmp(f->kv[i].key, f->kv[i - 1].key))
            return iris_fail(IRIS_EFORMAT, "%s: key '%s' appears twice", f->path, f->kv[i].key);
    for (int i = 1; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, f->tensors[i - 1].name))
            return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' appears twice", f->path,
                             f->tensors[i].name);
    return IRIS_OK;
}

static int read_alignment(gguf_file *f)
{
    const gguf_kv *kv = gguf_find(f, "general.alignment");
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (!kv) return IRIS_OK;
    uint32_t a;
    if (kv->type != GGUF_U32) return iris_fail(IRIS_EFORMAT, "%s: general.alignment is not a u32", f->path);
    memcpy(&a, kv->val, 4);
    if (!a || (a & (a - 1)))
        return iris_fail(IRIS_EFORMAT, "%s: general.alignment %u is not a power of two", f->path, a);
    f->alignment = a;
    return IRIS_OK;
}

/* Places every tensor in the data section; no overlaps. */
static int place_tensors(gguf_file *f, size_t header_end)
{
    size_t data_off = (header_end + f->alignment - 1) / f->alignment * f->alignment;
    if (data_off > f->map.size)
        return iris_fail(IRIS_EFORMAT, "%s: truncated before the tensor data", f->path);
    size_t data_len = f->map.size - data_off;
    const unsigned char *data = (const unsigned char *)f->map.data + data_off;
    for (int i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment)
            return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' offset %llu is not %zu-aligned",
                             f->path, t->name, (unsigned long long)t->offset, f->alignment);
        if (t->offset > data_len || t->nbytes > data_len - t->offset)
            return iris_fail(IRIS_EFORMAT,
                             "%s: tensor '%s' (%zu bytes at offset %llu) runs past the end of "
                             "the file",
                             f->path, t->name, t->nbytes, (unsigned long long)t->offset);
        t->data = data + t->offset;
    }
    clip_span *spans = malloc(((size_t)f->n_tensors + 1) * sizeof *spans);
    if (!spans) return iris_fail(IRIS_ENOMEM, "no memory to check %s", f->path);
    for (int i = 0; i < f->n_tensors; i++)
        spans[i] = (clip_span){f->tensors[i].data, f->tensors[i].nbytes, f->tensors[i].name};
    int rc = clip_check_overlaps(spans, f->n_tensors, f->path);
    free(spans);
    return rc;
}

/* One walk over the header; pass 2 fills the arrays pass 1 sized. */
static int walk(gguf_file *f, cursor *c, uint64_t n_kv, uint64_t n_t, size_t *used)
{
    int rc = parse_kvs(f, c, n_kv, used);
    for (uint64_t i = 0; i < n_t && !rc; i++) rc = parse_tensor_info(f, c, i, used);
    return rc;
}

static int parse(gguf_file *f)
{
    cursor c = {f->map.data, f->map.data, (const unsigned char *)f->map.data + f->map.size,
                f->path};
    uint32_t magic = 0;
    uint64_t n_t, n_kv;
    if (f->map.size < 4 || memcmp(f->map.data, "GGUF", 4))
        return iris_fail(IRIS_EFORMAT, "%s is not a GGUF file (bad magic)", f->path);
    int rc = rd_u32(&c, &magic, "magic");
    if (!rc) rc = rd_u32(&c, &f->version, "version");
    if (rc) return rc;
    if (f->version < 2 || f->version > 3)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: GGUF version %u (iris reads versions 2 and 3)",
                         f->path, f->version);
    if ((rc = rd_u64(&c, &n_t, "tensor count")) || (rc = rd_u64(&c, &n_kv, "key count")))
        return rc;
    uint64_t left = (uint64_t)(c.end - c.p);
    if (n_kv > left / 13 || n_t > left / 24)
        return iris_fail(IRIS_EFORMAT, "%s: %llu keys and %llu tensors cannot fit in the file",
                         f->path, (unsigned long long)n_kv, (unsigned long long)n_t);
    cursor start = c;
    size_t used = 0;
    if (!(rc = walk(f, &c, n_kv, n_t, &used))) {
        f->kv = calloc(n_kv + 1, sizeof *f->kv);
        f->tensors = calloc(n_t + 1, sizeof *f->tensors);
        f->names = malloc(used + 1);
        if (!f->kv || !f->tensors || !f->names) rc = iris_fail(IRIS_ENOMEM, "no memory for %s", f->path);
    }
    if (!rc) {
        c = start, used = 0;
        f->n_kv = (int)n_kv, f->n_tensors = (int)n_t;
        rc = walk(f, &c, n_kv, n_t, &used);
    }
    if (!rc) rc = check_unique(f);
    if (!rc) rc = read_alignment(f);
    if (!rc) rc = place_tensors(f, (size_t)(c.p - c.base));
    return rc;
}

int gguf_open(const char *path, gguf_file *out)
{
    memset(out, 0, sizeof *out);
    out->path = strdup(path);
    if (!out->path) return iris_fail(IRIS_ENOMEM, "no memory to open %s", path);
    int rc = iris_map_file(path, &out->map);
    if (!rc) rc = parse(out);
    if (rc) gguf_close(out);
    return rc;
}

void gguf_close(gguf_file *f)
{
    if (!f) return;
    iris_unmap_file(&f->map);
    free(f->kv);
    free(f->tensors);
    free(f->names);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- lookup */

const gguf_kv *gguf_find(const gguf_file *f, const char *key)
{
    gguf_kv k = {.key = key};
    return f->kv ? bsearch(&k, f->kv, (size_t)f->n_kv, sizeof k, cmp_kv) : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    gguf_tensor k = {.name = name};
    return f->tensors ? bsearch(&k, f->tensors, (size_t)f->n_tensors, sizeof k, cmp_tensor)
                      : NULL;
}

static int lookup(const gguf_file *f, const char *key, const gguf_kv **kv)
{
    *kv = gguf_find(f, key);
    if (!*kv) return iris_fail(IRIS_ENOTFOUND, "%s: key '%s' is missing", f->path, key);
    return IRIS_OK;
}

static int wrong_type(const gguf_file *f, const char *key, const char *want)
{
    return iris_fail(IRIS_EFORMAT, "%s: key '%s' is not %s", f->path, key, want);
}

/* An integer value of any width as int64 (u64 values above INT64_MAX fail). */
static int int_value(uint32_t t, const unsigned char *p, int64_t *v)
{
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            uint64_t u64; int64_t i64; } x;
    if (!is_scalar(t) || t == GGUF_F32 || t == GGUF_F64 || t == GGUF_BOOL) return 0;
    memcpy(&x, p, scalar_size[t]);
    switch (t) {
    case GGUF_U8: *v = x.u8; break;
    case GGUF_I8: *v = x.i8; break;
    case GGUF_U16: *v = x.u16; break;
    case GGUF_I16: *v = x.i16; break;
    case GGUF_U32: *v = x.u32; break;
    case GGUF_I32: *v = x.i32; break;
    case GGUF_I64: *v = x.i64; break;
    default:
        if (x.u64 > (uint64_t)INT64_MAX) return 0;
        *v = (int64_t)x.u64;
    }
    return 1;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    const gguf_kv *kv;
    int64_t v;
    int rc = lookup(f, key, &kv);
    if (rc) return rc;
    if (!int_value(kv->type, kv->val, &v) || v < 0 || v > UINT32_MAX)
        return wrong_type(f, key, "an unsigned 32-bit integer");
    *out = (uint32_t)v;
    return IRIS_OK;
}

static float float_at(uint32_t t, const unsigned char *p)
{
    float f;
    double d;
    if (t == GGUF_F32) {
        memcpy(&f, p, 4);
        return f;
    }
    memcpy(&d, p, 8);
    return (float)d;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    const gguf_kv *kv;
    int rc = lookup(f, key, &kv);
    if (rc) return rc;
    if (kv->type != GGUF_F32 && kv->type != GGUF_F64) return wrong_type(f, key, "a float");
    *out = float_at(kv->type, kv->val);
    return IRIS_OK;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out)
{
    const gguf_kv *kv;
    int rc = lookup(f, key, &kv);
    if (rc) return rc;
    if (kv->type != GGUF_BOOL) return wrong_type(f, key, "a bool");
    *out = kv->val[0] != 0;
    return IRIS_OK;
}

int gguf_get_str(const gguf_file *f, const char *key, char *buf, size_t cap)
{
    const gguf_kv *kv;
    int rc = lookup(f, key, &kv);
    if (rc) return rc;
    if (kv->type != GGUF_STRING) return wrong_type(f, key, "a string");
    uint64_t len;
    memcpy(&len, kv->val, 8);
    if (cap) snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), (const char *)kv->val + 8);
    return IRIS_OK;
}

int gguf_get_floats(const gguf_file *f, const char *key, float *out, int n)
{
    const gguf_kv *kv;
    int rc = lookup(f, key, &kv);
    if (rc) return rc;
    if (kv->type != GGUF_ARRAY || (kv->arr_type != GGUF_F32 && kv->arr_type != GGUF_F64) ||
        kv->n != (uint64_t)n)
        return iris_fail(IRIS_EFORMAT, "%s: key '%s' is not an array of %d floats", f->path, key,
                         n);
    for (int i = 0; i < n; i++) out[i] = float_at(kv->arr_type, kv->val + (size_t)i * scalar_size[kv->arr_type]);
    return IRIS_OK;
}

int gguf_get_strings(const gguf_file *f, const char *key, char ***strs, int *n)
{
    const gguf_kv *kv;
    *strs = NULL;
    int rc = lookup(f, key, &kv);
    if (rc) return rc;
    if (kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || kv->n > INT32_MAX)
        return wrong_type(f, key, "an array of strings");
    size_t chars = 0;
    const unsigned char *p = kv->val;
    for (uint64_t i = 0; i < kv->n; i++) { /* lengths were checked by gguf_open */
        uint64_t len;
        memcpy(&len, p, 8);
        chars += (size_t)len + 1;
        p += 8 + len;
    }
    char **out = malloc((size_t)kv->n * sizeof *out + chars + 1);
    if (!out) return iris_fail(IRIS_ENOMEM, "no memory for %s in %s", key, f->path);
    char *dst = (char *)(out + kv->n);
    p = kv->val;
    for (uint64_t i = 0; i < kv->n; i++) {
        uint64_t len;
        memcpy(&len, p, 8);
        out[i] = memcpy(dst, p + 8, (size_t)len);
        dst[len] = '\0';
        dst += len + 1;
        p += 8 + len;
    }
    *strs = out;
    *n = (int)kv->n;
    return IRIS_OK;
}
