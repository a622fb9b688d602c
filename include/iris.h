/*
 * iris.h - the one public C API of iris, a cross-modal search and
 * multimodal RAG engine built on CLIP.
 *
 * Contract (in the spirit of sqlite3.h):
 *  - Handles are opaque. Every handle has one owner, who frees it with the
 *    matching *_free / *_close call (NULL is always accepted).
 *  - Every call that can fail returns an int status: IRIS_OK (0) or one of
 *    the IRIS_E* codes below. Nothing aborts the caller's process.
 *  - iris_errmsg() explains the most recent failure *on the calling thread*
 *    (like errno, it is thread-local, so concurrent callers never see each
 *    other's messages). Messages name the offending file or value.
 *  - There is no other global state: two models or two stores opened in one
 *    process are fully independent.
 *  - A loaded iris_model is read-only after load: any number of threads may
 *    encode with one model at the same time.
 *
 * Sections: errors, images, models + encoding. Later sections (store,
 * search, serve, ask) are added by their modules below the marker lines.
 */
#ifndef IRIS_H
#define IRIS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IRIS_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

enum {
    IRIS_OK = 0,
    IRIS_EARG = 1,         /* invalid argument (NULL, out of range, ...) */
    IRIS_EIO = 2,          /* file or system I/O failed */
    IRIS_ENOMEM = 3,       /* allocation failed */
    IRIS_EFORMAT = 4,      /* input is corrupt, truncated or malformed */
    IRIS_EUNSUPPORTED = 5, /* valid input we do not handle (dtype, codec) */
    IRIS_ELIMIT = 6,       /* a safety limit was hit (pixels, size, count) */
    IRIS_ENOTFOUND = 7,    /* no such file, item, model or key */
    IRIS_EDB = 8,          /* the store (SQLite) failed */
    IRIS_EMODEL = 9,       /* model mismatch (store built with another) */
    IRIS_ENET = 10,        /* network failure (offline, refused, DNS) */
    IRIS_ETIMEOUT = 11,    /* an operation ran past its time limit */
    IRIS_EHTTP = 12,       /* a remote endpoint answered with an error */
    IRIS_ECANCELLED = 13,  /* cancelled by the caller or a signal */
    IRIS_EINTERNAL = 14    /* a bug: please report with the message */
};

/* Message for the most recent failing call on this thread ("" if none). */
const char *iris_errmsg(void);
/* Short, static name for a status code ("format error", ...). */
const char *iris_strerror(int status);
const char *iris_version(void);

/* ---------------------------------------------------------------- images */

/* 8-bit RGB pixels, row-major, stride = 3 * width. Owned by the struct's
 * creator; release with iris_image_free(). */
typedef struct iris_image {
    int width;
    int height;
    unsigned char *rgb;
} iris_image;

typedef struct iris_decode_opts {
    /* Refuse images with more pixels than this before decoding
     * (decompression-bomb guard). 0 = default (IRIS_DEFAULT_MAX_PIXELS). */
    uint64_t max_pixels;
    /* If > 0, decoders that can (JPEG DCT scaling) decode at the smallest
     * scale whose shorter side is still >= min_side. 0 = full size. */
    int min_side;
    /* Apply EXIF orientation (default on; 1 = on, 0 = on, -1 = off). */
    int exif_orientation;
} iris_decode_opts;

#define IRIS_DEFAULT_MAX_PIXELS (178956970ULL) /* same cap as Pillow */

/* Decode JPEG, PNG, WebP, GIF (first frame), BMP or TIFF. opts may be NULL. */
int iris_image_load(const char *path, const iris_decode_opts *opts, iris_image *out);
int iris_image_decode(const void *data, size_t size, const iris_decode_opts *opts,
                      iris_image *out);
void iris_image_free(iris_image *img);

/* ---------------------------------------------------------------- models */

typedef struct iris_model iris_model;

typedef struct iris_model_opts {
    int n_threads; /* threads per encode call; 0 = all cores */
} iris_model_opts;

typedef struct iris_model_info {
    char format[16];      /* "hf-safetensors" or "gguf" */
    char dtype[16];       /* weight storage: "f32", "f16", "bf16", "q8_0", "mixed" */
    char id[65];          /* stable hex id of config + weights (for stores) */
    char name[128];       /* model name when known, else the path's base name */
    int image_size, patch_size;
    int vision_width, vision_layers, vision_heads, vision_mlp;
    int text_width, text_layers, text_heads, text_mlp;
    int vocab_size, context_length;
    int projection_dim;
    char hidden_act[16];  /* "quick_gelu" or "gelu" */
    int bos_token_id, eos_token_id;
    float logit_scale;    /* exp() of the stored parameter, as used for logits */
    float image_mean[3], image_std[3];
    int resize_shortest;  /* preprocessing: shortest side resized to this */
    int crop_size;        /* then centre-cropped to crop_size x crop_size */
} iris_model_info;

/* Load a Hugging Face CLIP directory (config.json, model.safetensors,
 * vocab.json, merges.txt, preprocessor_config.json) or a clip.cpp GGUF
 * file. Weights are memory-mapped. opts may be NULL. */
int iris_model_load(const char *path, const iris_model_opts *opts, iris_model **out);
void iris_model_free(iris_model *model);
int iris_model_get_info(const iris_model *model, iris_model_info *info);
int iris_model_dim(const iris_model *model); /* projection dim, e.g. 512 */

/* CLIP tokenizer: writes at most max_ids ids (start and end tokens included,
 * truncated to the context length keeping the end token); *n_ids receives
 * the count. */
int iris_tokenize(const iris_model *model, const char *text, int32_t *ids, int max_ids,
                  int *n_ids);

/* Encoders. out receives n rows of iris_model_dim() floats, L2-normalised. */
int iris_encode_texts(const iris_model *model, const char *const *texts, int n, float *out);
int iris_encode_images(const iris_model *model, const iris_image *images, int n, float *out);
/* Preprocess one image into the model's input tensor: 3 x crop x crop floats
 * (channel-major), resized, cropped, rescaled and normalised. */
int iris_preprocess(const iris_model *model, const iris_image *image, float *out);
/* Encode already-preprocessed pixel tensors (n x 3 x crop x crop). */
int iris_encode_pixels(const iris_model *model, const float *pixels, int n, float *out);

/* Models iris can download (`iris model fetch`). Each file is pinned to one
 * commit of a Hugging Face repository; sha256 is its published checksum, or
 * NULL where none could be found (then only the size is checked). */
typedef struct iris_known_file {
    const char *name;     /* in the repository and in the install folder */
    uint64_t size;        /* bytes */
    const char *sha256;   /* lowercase hex, or NULL */
    const char *revision; /* commit for this file; NULL: the model's */
} iris_known_file;

typedef struct iris_known_model {
    const char *name;        /* "clip-vit-base-patch32" */
    const char *description;
    const char *repo;        /* "openai/clip-vit-base-patch32" */
    const char *revision;
    const char *model_file;  /* GGUF: the file that is the model; NULL: the folder is */
    const iris_known_file *files;
    int n_files;
} iris_known_model;

/* The i-th known model (from 0), NULL past the end. */
const iris_known_model *iris_model_known(int i);
/* Where known model `name` is installed, or would be: its folder (or the
 * GGUF file inside it) under $IRIS_CACHE/models, else
 * $XDG_CACHE_HOME/iris/models, else ~/.cache/iris/models. */
int iris_model_path(const char *name, char *path, size_t cap);
/* 1 if every file of known model `name` is in place, else 0. */
int iris_model_installed(const char *name);

/* Called while fetching: bytes of `file` so far; on the file's last call
 * sha256 is the digest of what was installed (else NULL). */
typedef void (*iris_fetch_progress)(const char *file, uint64_t done, uint64_t total,
                                    const char *sha256, void *user);
/* Downloads known model `name` into its install folder: each file through
 * FILE.part, resumed after an interruption, checked (size, published
 * SHA-256) and renamed into place; files already there and intact are kept.
 * $HF_ENDPOINT replaces https://huggingface.co (a mirror). Offline it fails
 * within seconds with IRIS_ENET and says how to install weights by hand.
 * progress may be NULL. */
int iris_model_fetch(const char *name, iris_fetch_progress progress, void *user);
/* The model to use when none is given: $IRIS_MODEL (a path or a known
 * name), else the first installed known model. */
int iris_model_default(char *path, size_t cap);

/* ===================================================== store (issue 3) === */

/* ==================================================== search (issue 3) === */

/* ===================================================== serve (issue 5) === */

/* ======================================================= ask (issue 6) === */

#ifdef __cplusplus
}
#endif
#endif /* IRIS_H */
