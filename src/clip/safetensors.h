/*
 * safetensors.h - a validating reader for the safetensors format (the
 * Hugging Face weight file): 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets}}, then the raw tensor bytes.
 *
 * st_open() maps the file and checks every entry before anything can read
 * tensor data: known dtype, shape products without overflow, byte size equal
 * to nelem * dtype size, offsets inside the data section, no two tensors
 * overlapping, no duplicate names. After a successful open, every tensor's
 * `data .. data + nbytes` lies inside the mapping.
 */
#ifndef IRIS_CLIP_SAFETENSORS_H
#define IRIS_CLIP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clip/model.h"
#include "util/fs.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* the reference library's own cap */

typedef struct st_tensor {
    const char *name;
    char dtype[12];        /* as written in the header: "F32", "I64", ... */
    int supported;         /* 1 when dtype is F32, F16 or BF16 */
    clip_dtype type;       /* valid when supported */
    int ndim;              /* 0 for a scalar */
    int64_t ne[ST_MAX_DIMS];
    const void *data;      /* inside the mapping */
    size_t nbytes;
} st_tensor;

typedef struct st_file {
    char *path;
    iris_mapping map;
    st_tensor *tensors; /* sorted by name */
    int n;
    char *names;        /* storage for the tensor names */
} st_file;

/* Maps and validates path. On failure nothing stays open and the message
 * names the file and the offending entry. */
int st_open(const char *path, st_file *out);
/* The tensor called name, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);
void st_close(st_file *f);

#endif
