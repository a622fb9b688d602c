/*
 * model.c - the format-independent half of model loading: one table of
 * CLIP weights (with their Hugging Face and clip.cpp GGUF names and the
 * shape the config implies), binding, config limits, the model id, and the
 * public iris_model_* entry points.
 *
 * Both loaders go through clip_bind_weights, so "which tensor goes where"
 * and "what shape must it have" are written once. Every tensor's shape is
 * checked against the config before the model is handed out: the forward
 * pass may trust cfg to describe every buffer it reads.
 *
 * Model id: SHA-256 over a canonical text of the config (every field that
 * changes an embedding, preprocessing included) followed by, for each
 * weight in table order, its canonical (HF) name, dtype, shape and three
 * 64-byte samples of its bytes (start, middle, end). Sampling keeps the id
 * cheap (about three pages touched per tensor, so loading stays a matter of
 * milliseconds) while any retraining or fine-tune changes it. The id does
 * not depend on the container: the same tensors in the same storage types
 * give the same id from safetensors or GGUF.
 */
#include "clip/model.h"

#include "clip/kernels.h"
#include "clip/loader.h"
#include "clip/registry.h"
#include "clip/tokenizer.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threadpool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int64_t clip_tensor_nelem(const clip_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->ne[i];
    return n;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *ne)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)ne[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

int clip_tensor_expect(const clip_tensor *t, const char *name, int ndim, const int64_t *ne)
{
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->ne[i] == ne[i];
    if (ok) return IRIS_OK;
    char got[96], want[96];
    shape_str(got, sizeof got, t->ndim, t->ne);
    shape_str(want, sizeof want, ndim, ne);
    return iris_fail(IRIS_EFORMAT, "tensor '%s' has shape %s but the config implies %s", name,
                     got, want);
}

size_t clip_dtype_align(clip_dtype t) { return t == CLIP_F32 ? 4 : 2; }

const char *clip_dtype_name(clip_dtype t)
{
    switch (t) {
    case CLIP_F32: return "f32";
    case CLIP_F16: return "f16";
    case CLIP_BF16: return "bf16";
    case CLIP_Q8_0: return "q8_0";
    }
    return "?";
}

/* ------------------------------------------------------------ the table */

typedef enum shape_kind {
    SH_W,      /* [width] */
    SH_WW,     /* [width, width] */
    SH_MW,     /* [mlp, width] */
    SH_M,      /* [mlp] */
    SH_WM,     /* [width, mlp] */
    SH_TOK,    /* [vocab, text width] */
    SH_TPOS,   /* [context, text width] */
    SH_PATCH,  /* [vision width, channels, patch, patch] */
    SH_VPOS,   /* [patches + 1, vision width] */
    SH_PROJ,   /* [proj, width] */
} shape_kind;

typedef struct weight_def {
    size_t off; /* offset of the clip_tensor in iris_model or clip_layer */
    int vision; /* 1: vision tower, 0: text tower */
    shape_kind shape;
    const char *name[2]; /* CLIP_NAMES_HF, CLIP_NAMES_GGUF */
} weight_def;

#define MODEL_SLOT(field) offsetof(iris_model, field)
static const weight_def global_defs[] = {
    {MODEL_SLOT(text.tok_emb), 0, SH_TOK,
     {"text_model.embeddings.token_embedding.weight", "t.token_embd.weight"}},
    {MODEL_SLOT(text.pos_emb), 0, SH_TPOS,
     {"text_model.embeddings.position_embedding.weight", "t.position_embd.weight"}},
    {MODEL_SLOT(text.final_ln_w), 0, SH_W, {"text_model.final_layer_norm.weight", "t.post_ln.weight"}},
    {MODEL_SLOT(text.final_ln_b), 0, SH_W, {"text_model.final_layer_norm.bias", "t.post_ln.bias"}},
    {MODEL_SLOT(text.proj), 0, SH_PROJ, {"text_projection.weight", "text_projection.weight"}},
    {MODEL_SLOT(vision.patch_w), 1, SH_PATCH,
     {"vision_model.embeddings.patch_embedding.weight", "v.patch_embd.weight"}},
    {MODEL_SLOT(vision.class_emb), 1, SH_W,
     {"vision_model.embeddings.class_embedding", "v.class_embd"}},
    {MODEL_SLOT(vision.pos_emb), 1, SH_VPOS,
     {"vision_model.embeddings.position_embedding.weight", "v.position_embd.weight"}},
    {MODEL_SLOT(vision.pre_ln_w), 1, SH_W, {"vision_model.pre_layrnorm.weight", "v.pre_ln.weight"}},
    {MODEL_SLOT(vision.pre_ln_b), 1, SH_W, {"vision_model.pre_layrnorm.bias", "v.pre_ln.bias"}},
    {MODEL_SLOT(vision.post_ln_w), 1, SH_W, {"vision_model.post_layernorm.weight", "v.post_ln.weight"}},
    {MODEL_SLOT(vision.post_ln_b), 1, SH_W, {"vision_model.post_layernorm.bias", "v.post_ln.bias"}},
    {MODEL_SLOT(vision.proj), 1, SH_PROJ, {"visual_projection.weight", "visual_projection.weight"}},
};

/* Layer suffixes. clip.cpp calls fc1 "ffn_down" and fc2 "ffn_up". */
#define LAYER_SLOT(field) offsetof(clip_layer, field)
static const weight_def layer_defs[] = {
    {LAYER_SLOT(ln1_w), 0, SH_W, {"layer_norm1.weight", "ln1.weight"}},
    {LAYER_SLOT(ln1_b), 0, SH_W, {"layer_norm1.bias", "ln1.bias"}},
    {LAYER_SLOT(q_w), 0, SH_WW, {"self_attn.q_proj.weight", "attn_q.weight"}},
    {LAYER_SLOT(q_b), 0, SH_W, {"self_attn.q_proj.bias", "attn_q.bias"}},
    {LAYER_SLOT(k_w), 0, SH_WW, {"self_attn.k_proj.weight", "attn_k.weight"}},
    {LAYER_SLOT(k_b), 0, SH_W, {"self_attn.k_proj.bias", "attn_k.bias"}},
    {LAYER_SLOT(v_w), 0, SH_WW, {"self_attn.v_proj.weight", "attn_v.weight"}},
    {LAYER_SLOT(v_b), 0, SH_W, {"self_attn.v_proj.bias", "attn_v.bias"}},
    {LAYER_SLOT(o_w), 0, SH_WW, {"self_attn.out_proj.weight", "attn_out.weight"}},
    {LAYER_SLOT(o_b), 0, SH_W, {"self_attn.out_proj.bias", "attn_out.bias"}},
    {LAYER_SLOT(ln2_w), 0, SH_W, {"layer_norm2.weight", "ln2.weight"}},
    {LAYER_SLOT(ln2_b), 0, SH_W, {"layer_norm2.bias", "ln2.bias"}},
    {LAYER_SLOT(fc1_w), 0, SH_MW, {"mlp.fc1.weight", "ffn_down.weight"}},
    {LAYER_SLOT(fc1_b), 0, SH_M, {"mlp.fc1.bias", "ffn_down.bias"}},
    {LAYER_SLOT(fc2_w), 0, SH_WM, {"mlp.fc2.weight", "ffn_up.weight"}},
    {LAYER_SLOT(fc2_b), 0, SH_W, {"mlp.fc2.bias", "ffn_up.bias"}},
};

#define N_GLOBAL (sizeof global_defs / sizeof global_defs[0])
#define N_LAYER (sizeof layer_defs / sizeof layer_defs[0])

/* One weight of a concrete model: its names, slot and expected shape. */
typedef struct weight_ref {
    char name[2][96];
    clip_tensor *slot;
    int ndim;
    int64_t ne[CLIP_MAX_DIMS];
} weight_ref;

static int shape_of(const clip_config *c, int vision, shape_kind k, int64_t *ne)
{
    const clip_tower_config *t = vision ? &c->vision : &c->text;
    int64_t grid = c->patch_size ? c->image_size / c->patch_size : 0;
    switch (k) {
    case SH_W: ne[0] = t->width; return 1;
    case SH_WW: ne[0] = ne[1] = t->width; return 2;
    case SH_MW: ne[0] = t->mlp, ne[1] = t->width; return 2;
    case SH_M: ne[0] = t->mlp; return 1;
    case SH_WM: ne[0] = t->width, ne[1] = t->mlp; return 2;
    case SH_TOK: ne[0] = c->vocab_size, ne[1] = t->width; return 2;
    case SH_TPOS: ne[0] = c->context_length, ne[1] = t->width; return 2;
    case SH_PATCH:
        ne[0] = t->width, ne[1] = c->num_channels, ne[2] = ne[3] = c->patch_size;
        return 4;
    case SH_VPOS: ne[0] = grid * grid + 1, ne[1] = t->width; return 2;
    case SH_PROJ: ne[0] = c->proj_dim, ne[1] = t->width; return 2;
    }
    return 0;
}

static void ref_from(weight_ref *r, const weight_def *d, int vision, const clip_config *c,
                     clip_tensor *slot, const char *hf_prefix, const char *gguf_prefix, int layer)
{
    if (layer < 0) {
        snprintf(r->name[0], sizeof r->name[0], "%s", d->name[0]);
        snprintf(r->name[1], sizeof r->name[1], "%s", d->name[1]);
    } else {
        snprintf(r->name[0], sizeof r->name[0], "%s.encoder.layers.%d.%s", hf_prefix, layer,
                 d->name[0]);
        snprintf(r->name[1], sizeof r->name[1], "%s.blk.%d.%s", gguf_prefix, layer, d->name[1]);
    }
    r->slot = slot;
    r->ndim = shape_of(c, vision, d->shape, r->ne);
}

/* Every weight of m in canonical order: globals, vision layers, text layers.
 * Allocates the layer arrays when needed. */
static int weight_list(iris_model *m, weight_ref **out, int *n_out)
{
    const clip_config *c = &m->cfg;
    if (!m->vision.layers) m->vision.layers = calloc((size_t)c->vision.layers, sizeof(clip_layer));
    if (!m->text.layers) m->text.layers = calloc((size_t)c->text.layers, sizeof(clip_layer));
    size_t n = N_GLOBAL + N_LAYER * ((size_t)c->vision.layers + (size_t)c->text.layers);
    weight_ref *w = calloc(n, sizeof *w);
    if (!w || !m->vision.layers || !m->text.layers) {
        free(w);
        return iris_fail(IRIS_ENOMEM, "no memory for the weight table");
    }
    int k = 0;
    for (size_t i = 0; i < N_GLOBAL; i++)
        ref_from(&w[k++], &global_defs[i], global_defs[i].vision, c,
                 (clip_tensor *)((char *)m + global_defs[i].off), NULL, NULL, -1);
    for (int v = 1; v >= 0; v--) {
        clip_layer *layers = v ? m->vision.layers : m->text.layers;
        int nl = v ? c->vision.layers : c->text.layers;
        for (int l = 0; l < nl; l++)
            for (size_t i = 0; i < N_LAYER; i++)
                ref_from(&w[k++], &layer_defs[i], v, c,
                         (clip_tensor *)((char *)&layers[l] + layer_defs[i].off),
                         v ? "vision_model" : "text_model", v ? "v" : "t", l);
    }
    *out = w;
    *n_out = k;
    return IRIS_OK;
}

const clip_tensor *clip_model_tensor(const iris_model *m, const char *hf_name)
{
    weight_ref *w = NULL;
    int n = 0;
    const clip_tensor *found = NULL;
    if (weight_list((iris_model *)m, &w, &n)) return NULL;
    for (int i = 0; i < n && !found; i++)
        if (!strcmp(w[i].name[CLIP_NAMES_HF], hf_name)) found = w[i].slot;
    free(w);
    return found;
}

static int cmp_span(const void *a, const void *b)
{
    const clip_span *x = a, *y = b;
    return x->data < y->data ? -1 : x->data != y->data;
}

int clip_check_overlaps(clip_span *s, int n, const char *path)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (s[i].nbytes) s[m++] = s[i];
    qsort(s, (size_t)m, sizeof *s, cmp_span);
    for (int i = 1; i < m; i++)
        if (s[i - 1].data + s[i - 1].nbytes > s[i].data)
            return iris_fail(IRIS_EFORMAT, "%s: tensors '%s' and '%s' overlap", path,
                             s[i - 1].name, s[i].name);
    return IRIS_OK;
}

int clip_model_keep(iris_model *m, void *buf)
{
    void **grown = realloc(m->owned, ((size_t)m->n_owned + 1) * sizeof *grown);
    if (!grown) {
        free(buf);
        return iris_fail(IRIS_ENOMEM, "no memory to keep a model buffer");
    }
    m->owned = grown;
    m->owned[m->n_owned++] = buf;
    return IRIS_OK;
}

/* A container may leave a tensor misaligned for its element type (the
 * safetensors header length is arbitrary): such tensors get an aligned copy
 * so kernels may read them as typed arrays. */
static int align_tensor(iris_model *m, clip_tensor *t, const char *name)
{
    if ((uintptr_t)t->data % clip_dtype_align(t->type) == 0) return IRIS_OK;
    void *copy = aligned_alloc(64, (t->nbytes + 63) / 64 * 64);
    if (!copy) return iris_fail(IRIS_ENOMEM, "no memory to align tensor '%s'", name);
    memcpy(copy, t->data, t->nbytes);
    t->data = copy;
    return clip_model_keep(m, copy);
}

int clip_bind_weights(iris_model *m, clip_naming naming, clip_find_fn find, void *src,
                      const char *path)
{
    weight_ref *w = NULL;
    int n = 0, rc = weight_list(m, &w, &n);
    for (int i = 0; !rc && i < n; i++) {
        const char *name = w[i].name[naming];
        rc = find(src, name, w[i].slot);
        if (rc == IRIS_ENOTFOUND)
            rc = iris_fail(IRIS_EFORMAT, "%s: tensor '%s' is missing", path, name);
        else if (rc)
            rc = iris_fail_wrap(rc, "%s", path);
        else if ((rc = clip_tensor_expect(w[i].slot, name, w[i].ndim, w[i].ne)))
            rc = iris_fail_wrap(rc, "%s", path);
        else if (w[i].slot->type == CLIP_Q8_0 && w[i].ndim < 2)
            rc = iris_fail(IRIS_EUNSUPPORTED, "%s: 1-D tensor '%s' is q8_0", path, name);
        else
            rc = align_tensor(m, w[i].slot, name);
    }
    free(w);
    return rc;
}

/* ------------------------------------------------------------- config */

static int check_int(int v, int lo, int hi, const char *key, const char *path)
{
    if (v >= lo && v <= hi) return IRIS_OK;
    return iris_fail(IRIS_EFORMAT, "%s: %s = %d is outside [%d, %d]", path, key, v, lo, hi);
}

static int check_tower(const clip_tower_config *t, const char *which, const char *path)
{
    char key[64];
    int rc;
#define TOWER_INT(field, lo, hi, name)                                                        \
    snprintf(key, sizeof key, "%s.%s", which, name);                                          \
    if ((rc = check_int(t->field, lo, hi, key, path))) return rc;
    TOWER_INT(width, 1, 16384, "hidden_size")
    TOWER_INT(layers, 1, 256, "num_hidden_layers")
    TOWER_INT(heads, 1, 1024, "num_attention_heads")
    TOWER_INT(mlp, 1, 65536, "intermediate_size")
#undef TOWER_INT
    if (t->width % t->heads)
        return iris_fail(IRIS_EFORMAT, "%s: %s.hidden_size %d is not a multiple of %d heads",
                         path, which, t->width, t->heads);
    if (!(t->ln_eps > 0 && t->ln_eps < 1))
        return iris_fail(IRIS_EFORMAT, "%s: %s.layer_norm_eps = %g is not in (0, 1)", path,
                         which, (double)t->ln_eps);
    return IRIS_OK;
}

int clip_config_check(const clip_config *c, const char *path)
{
    int rc;
    if ((rc = check_tower(&c->vision, "vision_config", path))) return rc;
    if ((rc = check_tower(&c->text, "text_config", path))) return rc;
    if ((rc = check_int(c->image_size, 1, 4096, "vision_config.image_size", path))) return rc;
    if ((rc = check_int(c->patch_size, 1, c->image_size, "vision_config.patch_size", path)))
        return rc;
    if (c->image_size % c->patch_size)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: image_size %d is not a multiple of patch_size %d",
                         path, c->image_size, c->patch_size);
    int grid = c->image_size / c->patch_size;
    if (grid > 64)
        return iris_fail(IRIS_ELIMIT, "%s: %d x %d patches is over the 64 x 64 limit", path,
                         grid, grid);
    if (c->num_channels != 3)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: num_channels = %d (iris feeds RGB images)",
                         path, c->num_channels);
    if ((rc = check_int(c->vocab_size, 1, 1 << 20, "text_config.vocab_size", path))) return rc;
    if ((rc = check_int(c->context_length, 2, 4096, "text_config.max_position_embeddings", path)))
        return rc;
    if ((rc = check_int(c->proj_dim, 1, 16384, "projection_dim", path))) return rc;
    if ((rc = check_int(c->bos_id, 0, c->vocab_size - 1, "bos_token_id", path))) return rc;
    if ((rc = check_int(c->eos_id, 0, c->vocab_size - 1, "eos_token_id", path))) return rc;
    if (!isfinite(c->logit_scale) || c->logit_scale <= 0)
        return iris_fail(IRIS_EFORMAT, "%s: logit_scale = %g is not a positive finite number",
                         path, (double)c->logit_scale);
    return IRIS_OK;
}

int clip_preprocess_check(const clip_config *c, const char *path)
{
    int rc;
    if ((rc = check_int(c->resize_shortest, 1, 16384, "size.shortest_edge", path))) return rc;
    if (c->crop_size != c->image_size)
        return iris_fail(IRIS_EFORMAT, "%s: crop_size %d differs from the model's image_size %d",
                         path, c->crop_size, c->image_size);
    for (int i = 0; i < 3; i++)
        if (!isfinite(c->image_mean[i]) || !isfinite(c->image_std[i]) || c->image_std[i] <= 0)
            return iris_fail(IRIS_EFORMAT, "%s: image_mean/image_std[%d] = %g/%g is invalid",
                             path, i, (double)c->image_mean[i], (double)c->image_std[i]);
    if (!(c->rescale > 0) || !isfinite(c->rescale))
        return iris_fail(IRIS_EFORMAT, "%s: rescale_factor = %g is invalid", path,
                         (double)c->rescale);
    return IRIS_OK;
}

/* --------------------------------------------------------- info and id */

static int hash_config(iris_sha256_ctx *h, const clip_config *c)
{
    char buf[1024];
    int n = snprintf(
        buf, sizeof buf,
        "iris-model-id/1\nvision %d %d %d %d %.9g %d\ntext %d %d %d %d %.9g %d\n"
        "image %d patch %d channels %d vocab %d context %d bos %d eos %d proj %d scale %.9g\n"
        "pre %d %d %.9g mean %.9g %.9g %.9g std %.9g %.9g %.9g\n",
        c->vision.width, c->vision.layers, c->vision.heads, c->vision.mlp,
        (double)c->vision.ln_eps, (int)c->vision.act, c->text.width, c->text.layers,
        c->text.heads, c->text.mlp, (double)c->text.ln_eps, (int)c->text.act, c->image_size,
        c->patch_size, c->num_channels, c->vocab_size, c->context_length, c->bos_id, c->eos_id,
        c->proj_dim, (double)c->logit_scale, c->resize_shortest, c->crop_size,
        (double)c->rescale, (double)c->image_mean[0], (double)c->image_mean[1],
        (double)c->image_mean[2], (double)c->image_std[0], (double)c->image_std[1],
        (double)c->image_std[2]);
    return iris_sha256_update(h, buf, (size_t)n);
}

static int hash_tensor(iris_sha256_ctx *h, const weight_ref *w)
{
    const clip_tensor *t = w->slot;
    char head[256], shape[96];
    shape_str(shape, sizeof shape, t->ndim, t->ne);
    int n = snprintf(head, sizeof head, "%s %s %s\n", w->name[0], clip_dtype_name(t->type), shape);
    int rc = iris_sha256_update(h, head, (size_t)n);
    const unsigned char *p = t->data;
    enum { SAMPLE = 64 };
    if (rc || !p) return rc;
    if (t->nbytes <= 3 * SAMPLE) return iris_sha256_update(h, p, t->nbytes);
    size_t at[3] = {0, t->nbytes / 2 - SAMPLE / 2, t->nbytes - SAMPLE};
    for (int i = 0; i < 3 && !rc; i++) rc = iris_sha256_update(h, p + at[i], SAMPLE);
    return rc;
}

static int model_id(iris_model *m, char hex[65])
{
    weight_ref *w;
    int n, rc = weight_list(m, &w, &n);
    if (rc) return rc;
    iris_sha256_ctx *h;
    if ((rc = iris_sha256_begin(&h))) {
        free(w);
        return rc;
    }
    rc = hash_config(h, &m->cfg);
    for (int i = 0; i < n && !rc; i++) rc = hash_tensor(h, &w[i]);
    free(w);
    char tmp[65];
    if (rc) {
        iris_sha256_end(h, tmp);
        return rc;
    }
    return iris_sha256_end(h, hex);
}

/* The storage type of the big matrices, or "mixed". */
static const char *weights_dtype(const iris_model *m)
{
    const clip_tensor *first = &m->vision.layers[0].q_w;
    for (int v = 0; v < 2; v++) {
        const clip_layer *ls = v ? m->vision.layers : m->text.layers;
        int nl = v ? m->cfg.vision.layers : m->cfg.text.layers;
        for (int l = 0; l < nl; l++) {
            const clip_tensor *mats[] = {&ls[l].q_w, &ls[l].k_w, &ls[l].v_w,
                                         &ls[l].o_w, &ls[l].fc1_w, &ls[l].fc2_w};
            for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
                if (mats[i]->type != first->type) return "mixed";
        }
    }
    return clip_dtype_name(first->type);
}

static void fill_tower(const clip_tower_config *t, int *w, int *l, int *h, int *mlp)
{
    *w = t->width, *l = t->layers, *h = t->heads, *mlp = t->mlp;
}

int clip_fill_info(iris_model *m, const char *format, const char *name)
{
    const clip_config *c = &m->cfg;
    iris_model_info *in = &m->info;
    memset(in, 0, sizeof *in);
    snprintf(in->format, sizeof in->format, "%s", format);
    snprintf(in->dtype, sizeof in->dtype, "%s", weights_dtype(m));
    snprintf(in->name, sizeof in->name, "%s", name);
    in->image_size = c->image_size, in->patch_size = c->patch_size;
    fill_tower(&c->vision, &in->vision_width, &in->vision_layers, &in->vision_heads,
               &in->vision_mlp);
    fill_tower(&c->text, &in->text_width, &in->text_layers, &in->text_heads, &in->text_mlp);
    in->vocab_size = c->vocab_size, in->context_length = c->context_length;
    in->projection_dim = c->proj_dim;
    snprintf(in->hidden_act, sizeof in->hidden_act, "%s",
             c->vision.act == CLIP_ACT_GELU ? "gelu" : "quick_gelu");
    in->bos_token_id = c->bos_id, in->eos_token_id = c->eos_id;
    in->logit_scale = c->logit_scale;
    memcpy(in->image_mean, c->image_mean, sizeof in->image_mean);
    memcpy(in->image_std, c->image_std, sizeof in->image_std);
    in->resize_shortest = c->resize_shortest, in->crop_size = c->crop_size;
    return model_id(m, in->id);
}

/* ----------------------------------------------------------- public API */

/* A known model's name stands for its install location once fetched. */
static int resolve_path(const char *path, char *buf, size_t cap, const char **out)
{
    struct stat st;
    *out = path;
    if (stat(path, &st) == 0) return IRIS_OK;
    if (!clip_registry_find(path))
        return iris_fail(IRIS_ENOTFOUND, "no model at %s (not a file, directory or known model name)",
                         path);
    int rc = iris_model_path(path, buf, cap);
    if (rc) return rc;
    if (!iris_model_installed(path))
        return iris_fail(IRIS_ENOTFOUND,
                         "model %s is not installed (or not completely) in %s: run 'iris model "
                         "fetch %s' or pass --model DIR",
                         path, buf, path);
    *out = buf;
    return IRIS_OK;
}

/* 1-D tensors (biases, layer-norm parameters, the class embedding) stored
 * as f16/bf16 get an f32 copy once the id is computed: they are tiny (a few
 * hundred KiB per model) and read by every encode call, so converting them
 * there would be per-call work for nothing. The widening is exact. */
static int widen_vectors(iris_model *m)
{
    weight_ref *w = NULL;
    int n, rc = weight_list(m, &w, &n);
    for (int i = 0; !rc && i < n; i++) {
        clip_tensor *t = w[i].slot;
        if (t->ndim != 1 || !t->data || t->type == CLIP_F32) continue;
        float *f = aligned_alloc(64, (size_t)(t->ne[0] + 15) / 16 * 64);
        if (!f) {
            rc = iris_fail(IRIS_ENOMEM, "no memory to widen tensor '%s'", w[i].name[0]);
            break;
        }
        clip_tensor_read_f32(t, 0, t->ne[0], f);
        if ((rc = clip_model_keep(m, f))) break;
        *t = (clip_tensor){f, CLIP_F32, 1, {t->ne[0]}, sizeof(float) * (size_t)t->ne[0], NULL};
    }
    free(w);
    return rc;
}

static int load_any(iris_model *m, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return iris_fail(IRIS_ENOTFOUND, "no model at %s", path);
    if (S_ISDIR(st.st_mode)) return clip_load_hf(m, path);
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return iris_fail(IRIS_EIO, "cannot open %s", path);
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && !memcmp(magic, "GGUF", 4)) return clip_load_gguf(m, path);
    size_t len = strlen(path);
    if (len > 12 && !strcmp(path + len - 12, ".safetensors")) {
        /* A weights file stands for the Hugging Face folder holding it. */
        char *dir = strdup(path);
        if (!dir) return iris_fail(IRIS_ENOMEM, "no memory");
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        int rc = clip_load_hf(m, slash ? dir : ".");
        free(dir);
        return rc;
    }
    return iris_fail(IRIS_EFORMAT,
                     "%s is neither a Hugging Face CLIP folder, a .safetensors file in one, "
                     "nor a GGUF file",
                     path);
}

int iris_model_load(const char *path, const iris_model_opts *opts, iris_model **out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_model_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return iris_fail(IRIS_EARG, "iris_model_load: no path");
    char buf[4096];
    const char *where;
    int rc = resolve_path(path, buf, sizeof buf, &where);
    if (rc) return rc;
    iris_model *m = calloc(1, sizeof *m);
    if (!m) return iris_fail(IRIS_ENOMEM, "no memory for a model");
    pthread_mutex_init(&m->panel_lock, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    m->n_threads = opts && opts->n_threads > 0 ? opts->n_threads : (cores > 0 ? (int)cores : 1);
    m->bf16 = opts && opts->bf16;
    if ((rc = load_any(m, where)) || (rc = widen_vectors(m)) ||
        (m->n_threads > 1 && (rc = iris_pool_create(m->n_threads, &m->pool)))) {
        iris_model_free(m);
        return rc;
    }
    *out = m;
    return IRIS_OK;
}

void iris_model_free(iris_model *m)
{
    if (!m) return;
    iris_pool_free(m->pool);
    if (m->text_panels) munmap(m->text_panels, m->text_panels_bytes);
    pthread_mutex_destroy(&m->panel_lock);
    clip_tokenizer_free(m->tok);
    free(m->vision.layers);
    free(m->text.layers);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    iris_mapping map = {m->map, m->map_size};
    iris_unmap_file(&map);
    free(m);
}

int iris_model_get_info(const iris_model *m, iris_model_info *info)
{
    if (!m || !info) return iris_fail(IRIS_EARG, "iris_model_get_info: NULL argument");
    *info = m->info;
    return IRIS_OK;
}

int iris_model_dim(const iris_model *m) { return m ? m->cfg.proj_dim : 0; }

int iris_tokenize(const iris_model *m, const char *text, int32_t *ids, int max_ids, int *n_ids)
{
    if (!m || !text || !n_ids || (max_ids > 0 && !ids))
        return iris_fail(IRIS_EARG, "iris_tokenize: NULL argument");
    return clip_tokenize(m->tok, text, m->cfg.context_length, ids, max_ids, n_ids);
}
