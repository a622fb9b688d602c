/*
 * loader.h - what the model loaders share (model.c implements it): the
 * table of CLIP weights with their Hugging Face and clip.cpp GGUF names,
 * binding those weights into an iris_model with shape checks against the
 * config, config sanity limits, and the two format entry points.
 *
 * A loader parses its container, fills m->cfg, then calls clip_bind_weights
 * with a callback that finds a tensor by the container's own name. Binding
 * checks every shape against the config (so a width-768 config over
 * width-512 tensors is refused before the forward pass can read out of
 * bounds) and copies a tensor only when the container left it misaligned
 * for its element type.
 */
#ifndef IRIS_CLIP_LOADER_H
#define IRIS_CLIP_LOADER_H

#include "clip/model.h"

typedef enum clip_naming {
    CLIP_NAMES_HF = 0,   /* text_model.encoder.layers.0.self_attn.q_proj.weight */
    CLIP_NAMES_GGUF = 1, /* t.blk.0.attn_q.weight (monatis/clip.cpp) */
} clip_naming;

/* Finds tensor `name` in the container. Returns IRIS_OK and fills *out,
 * IRIS_ENOTFOUND when absent (no message needed), or another error with a
 * message (unsupported dtype, ...). */
typedef int (*clip_find_fn)(void *src, const char *name, clip_tensor *out);

/* Binds every weight of m (cfg must be filled and checked). Errors name
 * `path` and the tensor. */
int clip_bind_weights(iris_model *m, clip_naming naming, clip_find_fn find, void *src,
                      const char *path);

/* Range checks on a parsed config (positive sizes, heads dividing width,
 * sane limits); errors name `path` and the key. */
int clip_config_check(const clip_config *c, const char *path);
/* The same for the preprocessing fields (crop must equal the image size). */
int clip_preprocess_check(const clip_config *c, const char *path);

/* Fills m->info (and the model id) once weights and tokenizer are bound. */
int clip_fill_info(iris_model *m, const char *format, const char *name);

/* Hands buf to the model, which frees it in iris_model_free (buf is freed
 * at once if that fails). */
int clip_model_keep(iris_model *m, void *buf);

/* Format entry points (hf.c, gguf.c): fill an zeroed model from a Hugging
 * Face directory or a clip.cpp GGUF file. */
int clip_load_hf(iris_model *m, const char *dir);
int clip_load_gguf(iris_model *m, const char *path);

/* A tensor's bytes inside a container, for the overlap check. */
typedef struct clip_span {
    const char *data;
    size_t nbytes;
    const char *name;
} clip_span;

/* Fails with IRIS_EFORMAT naming `path` and both tensors if any two
 * non-empty spans overlap. Sorts s. */
int clip_check_overlaps(clip_span *s, int n, const char *path);

/* The bound weight with this Hugging Face name (tests, debugging), or NULL. */
const clip_tensor *clip_model_tensor(const iris_model *m, const char *hf_name);

/* Element alignment a kernel may assume for a dtype (bytes). */
size_t clip_dtype_align(clip_dtype t);
const char *clip_dtype_name(clip_dtype t);

#endif
