/*
 * safetensors.c - validating safetensors reader (see safetensors.h).
 *
 * The header is parsed with cJSON (a few hundred entries for a CLIP model,
 * well under a millisecond); tensor bytes are never touched here, so opening
 * a 600 MB checkpoint costs one mmap plus the header parse. Every number in
 * the header is treated as hostile: integers are checked to be exact,
 * non-negative and bounded before use, byte sizes are computed with overflow
 * checks, and the data_offsets must describe exactly nelem * dtype-size
 * bytes inside the data section without overlapping another tensor.
 * Tensors are sorted by name for binary-search lookup, which also exposes
 * duplicate names (possible in raw JSON) as an error.
 */
#include "clip/safetensors.h"

#include "clip/loader.h"
#include "util/error.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
    int supported;
    clip_dtype type;
} st_dtypes[] = {
    {"F32", 4, 1, CLIP_F32},   {"F16", 2, 1, CLIP_F16},    {"BF16", 2, 1, CLIP_BF16},
    {"F64", 8, 0, CLIP_F32},   {"I64", 8, 0, CLIP_F32},    {"U64", 8, 0, CLIP_F32},
    {"I32", 4, 0, CLIP_F32},   {"U32", 4, 0, CLIP_F32},    {"I16", 2, 0, CLIP_F32},
    {"U16", 2, 0, CLIP_F32},   {"I8", 1, 0, CLIP_F32},     {"U8", 1, 0, CLIP_F32},
    {"BOOL", 1, 0, CLIP_F32},  {"F8_E4M3", 1, 0, CLIP_F32}, {"F8_E5M2", 1, 0, CLIP_F32},
};

#define JSON_MAX_EXACT 9007199254740992.0 /* 2^53: larger doubles are not exact integers */

/* A JSON number that is an exact integer in [0, max]. */
static int json_uint(const cJSON *j, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= JSON_MAX_EXACT) || d != (double)(uint64_t)d) return 0;
    if ((uint64_t)d > max) return 0;
    *out = (uint64_t)d;
    return 1;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int parse_dtype(const st_file *f, const char *name, const cJSON *j, st_tensor *t,
                       size_t *esize)
{
    if (!cJSON_IsString(j))
        return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' has no dtype string", f->path, name);
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (!strcmp(j->valuestring, st_dtypes[i].name)) {
            snprintf(t->dtype, sizeof t->dtype, "%s", st_dtypes[i].name);
            t->supported = st_dtypes[i].supported;
            t->type = st_dtypes[i].type;
            *esize = st_dtypes[i].size;
            return IRIS_OK;
        }
    }
    return iris_fail(IRIS_EUNSUPPORTED, "%s: tensor '%s' has unknown dtype '%.32s'", f->path,
                     name, j->valuestring);
}

/* Shape and element count; the byte size must not overflow size_t. */
static int parse_shape(const st_file *f, const char *name, const cJSON *j, size_t esize,
                       st_tensor *t)
{
    if (!cJSON_IsArray(j))
        return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' has no shape array", f->path, name);
    int nd = cJSON_GetArraySize(j);
    if (nd > ST_MAX_DIMS)
        return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' has %d dimensions (max %d)", f->path,
                         name, nd, ST_MAX_DIMS);
    size_t bytes = esize;
    int i = 0;
    for (const cJSON *d = j->child; d; d = d->next, i++) {
        uint64_t v;
        if (!json_uint(d, (uint64_t)INT64_MAX, &v))
            return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' has an invalid dimension %d",
                             f->path, name, i);
        t->ne[i] = (int64_t)v;
        if (v > SIZE_MAX || __builtin_mul_overflow(bytes, (size_t)v, &bytes))
            return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' shape overflows the byte size",
                             f->path, name);
    }
    t->ndim = nd;
    t->nbytes = bytes;
    return IRIS_OK;
}

static int parse_offsets(const st_file *f, const char *name, const cJSON *j, size_t data_len,
                         size_t *begin, st_tensor *t)
{
    uint64_t b, e;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 || !json_uint(j->child, data_len, &b) ||
        !json_uint(j->child->next, data_len, &e) || e < b)
        return iris_fail(IRIS_EFORMAT,
                         "%s: tensor '%s' has data_offsets outside the %zu-byte data section",
                         f->path, name, data_len);
    if (e - b != t->nbytes)
        return iris_fail(IRIS_EFORMAT,
                         "%s: tensor '%s' (%s) needs %zu bytes but data_offsets span %llu",
                         f->path, name, t->dtype, t->nbytes, (unsigned long long)(e - b));
    *begin = (size_t)b;
    return IRIS_OK;
}

static int parse_entry(const st_file *f, const cJSON *e, const unsigned char *data,
                       size_t data_len, st_tensor *t)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return iris_fail(IRIS_EFORMAT, "%s: header entry '%s' is not an object", f->path, name);
    size_t esize = 0, begin = 0;
    int rc = parse_dtype(f, name, cJSON_GetObjectItemCaseSensitive(e, "dtype"), t, &esize);
    if (!rc) rc = parse_shape(f, name, cJSON_GetObjectItemCaseSensitive(e, "shape"), esize, t);
    if (!rc)
        rc = parse_offsets(f, name, cJSON_GetObjectItemCaseSensitive(e, "data_offsets"),
                           data_len, &begin, t);
    if (!rc) t->data = data + begin;
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* Duplicate names and overlapping byte ranges. */
static int check_layout(st_file *f)
{
    qsort(f->tensors, (size_t)f->n, sizeof *f->tensors, cmp_name);
    for (int i = 1; i < f->n; i++)
        if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name))
            return iris_fail(IRIS_EFORMAT, "%s: tensor '%s' appears twice", f->path,
                             f->tensors[i].name);
    clip_span *spans = malloc(((size_t)f->n + 1) * sizeof *spans);
    if (!spans) return iris_fail(IRIS_ENOMEM, "no memory to check %s", f->path);
    for (int i = 0; i < f->n; i++)
        spans[i] = (clip_span){f->tensors[i].data, f->tensors[i].nbytes, f->tensors[i].name};
    int rc = clip_check_overlaps(spans, f->n, f->path);
    free(spans);
    return rc;
}

static int parse_header(st_file *f, const cJSON *root, const unsigned char *data,
                        size_t data_len)
{
    if (!cJSON_IsObject(root))
        return iris_fail(IRIS_EFORMAT, "%s: the header is not a JSON object", f->path);
    size_t names_len = 0;
    int n = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        names_len += strlen(e->string) + 1;
        n++;
    }
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    f->names = malloc(names_len + 1);
    if (!f->tensors || !f->names) return iris_fail(IRIS_ENOMEM, "no memory for %s", f->path);
    char *p = f->names;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        st_tensor *t = &f->tensors[f->n++];
        size_t len = strlen(e->string) + 1;
        t->name = memcpy(p, e->string, len);
        p += len;
        int rc = parse_entry(f, e, data, data_len, t);
        if (rc) return rc;
    }
    return check_layout(f);
}

static int open_mapped(st_file *f)
{
    const unsigned char *base = f->map.data;
    size_t size = f->map.size;
    if (size < 8)
        return iris_fail(IRIS_EFORMAT, "%s: %zu bytes is too short for a safetensors file",
                         f->path, size);
    uint64_t hlen = le64(base);
    if (hlen > size - 8)
        return iris_fail(IRIS_EFORMAT,
                         "%s: header length %llu runs past the end of the file (%zu bytes): "
                         "truncated or not a safetensors file",
                         f->path, (unsigned long long)hlen, size);
    if (hlen > ST_MAX_HEADER)
        return iris_fail(IRIS_ELIMIT, "%s: header of %llu bytes is over the %u-byte limit",
                         f->path, (unsigned long long)hlen, ST_MAX_HEADER);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)base + 8, (size_t)hlen, &end, 0);
    if (!root)
        return iris_fail(IRIS_EFORMAT, "%s: the header is not valid JSON (near byte %zu)",
                         f->path, end ? (size_t)(end - (const char *)base) : (size_t)8);
    /* The writer pads the header with spaces; anything else is garbage. */
    for (const char *q = end; q < (const char *)base + 8 + hlen; q++) {
        if (*q != ' ' && *q != '\n' && *q != '\t' && *q != '\r' && *q != '\0') {
            cJSON_Delete(root);
            return iris_fail(IRIS_EFORMAT, "%s: trailing bytes after the JSON header",
                             f->path);
        }
    }
    int rc = parse_header(f, root, base + 8 + hlen, size - 8 - (size_t)hlen);
    cJSON_Delete(root);
    return rc;
}

int st_open(const char *path, st_file *out)
{
    memset(out, 0, sizeof *out);
    out->path = strdup(path);
    if (!out->path) return iris_fail(IRIS_ENOMEM, "no memory to open %s", path);
    int rc = iris_map_file(path, &out->map);
    if (!rc) rc = open_mapped(out);
    if (rc) st_close(out);
    return rc;
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    st_tensor key = {.name = name};
    return bsearch(&key, f->tensors, (size_t)f->n, sizeof key, cmp_name);
}

void st_close(st_file *f)
{
    if (!f) return;
    iris_unmap_file(&f->map);
    free(f->tensors);
    free(f->names);
    free(f->path);
    memset(f, 0, sizeof *f);
}
