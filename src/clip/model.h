/*
 * model.h - the in-memory CLIP model shared by the loaders (safetensors.c,
 * gguf.c, hf.c), the tokenizer and the forward pass (vision.c, text.c).
 *
 * Loaders fill a clip_config and point clip_tensor views into the
 * memory-mapped file; nothing is copied unless a format forces it (then the
 * loader owns the copy in `owned`). The forward pass reads tensors through
 * the kernels, which understand every clip_dtype, so f16/bf16/q8_0 weights
 * stay in their storage type.
 *
 * Shapes use PyTorch order: ne[0] is the outermost dimension, so a Linear
 * weight is ne = {out_features, in_features} exactly as in the HF
 * checkpoint. (GGUF lists dimensions innermost first; gguf.c reverses them.)
 */
#ifndef IRIS_CLIP_MODEL_H
#define IRIS_CLIP_MODEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "iris.h"

typedef enum clip_dtype {
    CLIP_F32 = 0,
    CLIP_F16 = 1,
    CLIP_BF16 = 2,
    CLIP_Q8_0 = 3, /* GGML q8_0: blocks of 32 along the innermost dim, each
                      an f16 scale followed by 32 int8 values (34 bytes) */
} clip_dtype;

#define CLIP_Q8_0_BLOCK 32
#define CLIP_MAX_DIMS 4

typedef struct clip_tensor {
    const void *data; /* NULL when absent (optional tensors only) */
    clip_dtype type;
    int ndim;
    int64_t ne[CLIP_MAX_DIMS]; /* PyTorch order */
    size_t nbytes;
    const void *panels; /* NULL, or the same matrix in column panels (kernels.h) */
} clip_tensor;

typedef enum clip_act {
    CLIP_ACT_QUICK_GELU = 0, /* x * sigmoid(1.702 x), OpenAI checkpoints */
    CLIP_ACT_GELU = 1,       /* exact erf GELU (LAION HF checkpoints) */
} clip_act;

typedef struct clip_tower_config {
    int width;  /* hidden_size */
    int layers; /* num_hidden_layers */
    int heads;  /* num_attention_heads */
    int mlp;    /* intermediate_size */
    float ln_eps;
    clip_act act;
} clip_tower_config;

typedef struct clip_config {
    clip_tower_config vision, text;
    int image_size, patch_size, num_channels;
    int vocab_size;
    int context_length; /* text max_position_embeddings, 77 for CLIP */
    int bos_id, eos_id, pad_id;
    int proj_dim;
    float logit_scale; /* already exp()'ed */
    /* preprocessing (preprocessor_config.json or defaults) */
    int resize_shortest, crop_size;
    double rescale; /* 1/255, a double as in transformers: a float would shift pixels by an ulp */
    float image_mean[3], image_std[3];
} clip_config;

typedef struct clip_layer {
    clip_tensor ln1_w, ln1_b;         /* [width] */
    clip_tensor q_w, k_w, v_w, o_w;   /* [width, width] */
    clip_tensor q_b, k_b, v_b, o_b;   /* [width] */
    clip_tensor ln2_w, ln2_b;         /* [width] */
    clip_tensor fc1_w, fc1_b;         /* [mlp, width], [mlp] */
    clip_tensor fc2_w, fc2_b;         /* [width, mlp], [width] */
} clip_layer;

typedef struct clip_vision_weights {
    clip_tensor patch_w;    /* [width, channels, patch, patch], no bias */
    clip_tensor class_emb;  /* [width] */
    clip_tensor pos_emb;    /* [n_patches + 1, width] */
    clip_tensor pre_ln_w, pre_ln_b;   /* [width] ("pre_layrnorm" in HF) */
    clip_tensor post_ln_w, post_ln_b; /* [width] */
    clip_tensor proj;       /* [proj_dim, width] (visual_projection) */
    clip_layer *layers;     /* vision.layers entries */
} clip_vision_weights;

typedef struct clip_text_weights {
    clip_tensor tok_emb;    /* [vocab, width] */
    clip_tensor pos_emb;    /* [context_length, width] */
    clip_tensor final_ln_w, final_ln_b; /* [width] */
    clip_tensor proj;       /* [proj_dim, width] (text_projection) */
    clip_layer *layers;     /* text.layers entries */
} clip_text_weights;

struct clip_tokenizer;

/* Definition of the public opaque iris_model. */
struct iris_model {
    clip_config cfg;
    clip_vision_weights vision;
    clip_text_weights text;
    struct clip_tokenizer *tok;
    iris_model_info info; /* filled by the loader, returned by get_info */
    int n_threads;
    int bf16; /* iris_model_opts.bf16 */
    /* n_threads workers (NULL for 1), made at load and shared by every
     * encode call: starting threads per call cost ~2 ms on a busy machine,
     * more than a text query's whole forward pass. Concurrent calls take
     * turns per parallel loop (threadpool.h); results do not change. */
    struct iris_pool *pool;
    /* The text tower's matrices in column panels (kernels.h), made by the
     * first text encode call (text.c) under panel_lock; text_panels_done
     * is set (release) once the tensors' `panels` are final. */
    pthread_mutex_t panel_lock;
    atomic_int text_panels_done;
    void *text_panels;
    size_t text_panels_bytes;
    /* resources to release: mappings and owned buffers */
    void *map;
    size_t map_size;
    void **owned;
    int n_owned;
};

/* Number of elements of a tensor. */
int64_t clip_tensor_nelem(const clip_tensor *t);
/* Checks t has exactly the given shape (ndim entries); on mismatch records
 * an IRIS_EFORMAT message naming `name` and both shapes. */
int clip_tensor_expect(const clip_tensor *t, const char *name, int ndim, const int64_t *ne);

#endif
