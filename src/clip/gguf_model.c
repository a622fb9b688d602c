/*
 * gguf_model.c - clip.cpp GGUF files (the monatis/clip.cpp layout, e.g. the
 * CLIP-ViT-B-32-laion2B-s34B-b79K_ggml-model-{f32,f16,q8_0}.gguf family).
 *
 * Keys and tensor names are those clip.cpp's models/convert_hf_to_gguf.py
 * writes and clip.cpp's loader reads (see docs/models.md):
 *   clip.has_text_encoder, clip.has_vision_encoder, clip.use_gelu,
 *   clip.{text,vision}.{embedding_length, feed_forward_length, block_count,
 *   attention.head_count, attention.layer_norm_epsilon, projection_dim},
 *   clip.text.context_length, clip.vision.{image_size, patch_size,
 *   image_mean, image_std}, tokenizer.ggml.tokens, general.name;
 *   tensors t.* / v.* with blk.N.{attn_q,attn_k,attn_v,attn_out,ln1,ln2,
 *   ffn_down (= fc1), ffn_up (= fc2)}, projections under their HF names.
 * clip.cpp drops logit_scale; tools/convert_hf_to_gguf.py keeps it as
 * "clip.logit_scale" (the stored parameter, before exp), and files without
 * it get 100, the clamped value every released OpenAI/LAION CLIP ends at.
 * Preprocessing: clip.cpp resizes to image_size, so shortest side = crop =
 * image_size. The vocabulary comes from tokenizer.ggml.tokens; its merges
 * are rebuilt from the token order (merges.c).
 */
#include "clip/gguf.h"
#include "clip/loader.h"
#include "clip/merges.h"
#include "clip/tokenizer.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LOGIT_SCALE 100.0f

/* A required key that is absent makes the file malformed, not "not found". */
static int required(int rc) { return rc == IRIS_ENOTFOUND ? IRIS_EFORMAT : rc; }

static int get_int(const gguf_file *f, const char *key, int *out)
{
    uint32_t v;
    int rc = required(gguf_get_u32(f, key, &v));
    if (rc) return rc;
    if (v > INT32_MAX) return iris_fail(IRIS_EFORMAT, "%s: key '%s' = %u is too large", f->path, key, v);
    *out = (int)v;
    return IRIS_OK;
}

static int read_tower(const gguf_file *f, const char *which, clip_tower_config *t, int *proj)
{
    char key[96];
    int rc;
#define TOWER_KEY(name, dst)                                      \
    snprintf(key, sizeof key, "clip.%s.%s", which, name);         \
    if ((rc = get_int(f, key, dst))) return rc;
    TOWER_KEY("embedding_length", &t->width)
    TOWER_KEY("feed_forward_length", &t->mlp)
    TOWER_KEY("block_count", &t->layers)
    TOWER_KEY("attention.head_count", &t->heads)
    TOWER_KEY("projection_dim", proj)
#undef TOWER_KEY
    snprintf(key, sizeof key, "clip.%s.attention.layer_norm_epsilon", which);
    return required(gguf_get_f32(f, key, &t->ln_eps));
}

static int read_config(const gguf_file *f, clip_config *c)
{
    int text, vision, gelu, tproj, vproj;
    int rc = gguf_get_bool(f, "clip.has_text_encoder", &text);
    if (!rc) rc = gguf_get_bool(f, "clip.has_vision_encoder", &vision);
    if (!rc) rc = gguf_get_bool(f, "clip.use_gelu", &gelu);
    if ((rc = required(rc))) return rc;
    if (!text || !vision)
        return iris_fail(IRIS_EUNSUPPORTED, "%s is a %s-only CLIP model; iris needs both towers",
                         f->path, text ? "text" : "vision");
    if ((rc = read_tower(f, "text", &c->text, &tproj))) return rc;
    if ((rc = read_tower(f, "vision", &c->vision, &vproj))) return rc;
    if (tproj != vproj)
        return iris_fail(IRIS_EFORMAT, "%s: text projection_dim %d differs from vision %d",
                         f->path, tproj, vproj);
    c->proj_dim = tproj;
    c->text.act = c->vision.act = gelu ? CLIP_ACT_GELU : CLIP_ACT_QUICK_GELU;
    if ((rc = get_int(f, "clip.text.context_length", &c->context_length))) return rc;
    if ((rc = get_int(f, "clip.vision.image_size", &c->image_size))) return rc;
    if ((rc = get_int(f, "clip.vision.patch_size", &c->patch_size))) return rc;
    c->num_channels = 3;
    float raw = logf(DEFAULT_LOGIT_SCALE);
    rc = gguf_get_f32(f, "clip.logit_scale", &raw);
    if (rc && rc != IRIS_ENOTFOUND) return rc;
    if (!isfinite(raw) || raw > 80.0f)
        return iris_fail(IRIS_EFORMAT, "%s: clip.logit_scale = %g is not a usable value", f->path,
                         (double)raw);
    c->logit_scale = expf(raw);
    return IRIS_OK;
}

static int read_preprocessing(const gguf_file *f, clip_config *c)
{
    c->resize_shortest = c->crop_size = c->image_size;
    c->rescale = 1.0 / 255.0;
    int rc = gguf_get_floats(f, "clip.vision.image_mean", c->image_mean, 3);
    if (!rc) rc = gguf_get_floats(f, "clip.vision.image_std", c->image_std, 3);
    return rc ? required(rc) : clip_preprocess_check(c, f->path);
}

/* tokenizer.ggml.tokens -> the tokenizer (merges rebuilt from the token
 * order), the vocabulary size and the special ids. */
static int read_vocab(const gguf_file *f, iris_model *m)
{
    char **tokens;
    int n, rc = required(gguf_get_strings(f, "tokenizer.ggml.tokens", &tokens, &n));
    if (rc) return rc;
    char **merges = NULL;
    int n_merges = 0;
    rc = clip_merges_from_vocab((const char *const *)tokens, n, f->path, &merges, &n_merges);
    if (!rc && (rc = clip_tokenizer_create((const char *const *)tokens, n,
                                           (const char *const *)merges, n_merges, &m->tok)))
        iris_fail_wrap(rc, "%s: tokenizer.ggml.tokens", f->path);
    if (!rc) {
        m->cfg.vocab_size = n;
        m->cfg.bos_id = clip_tokenizer_start_id(m->tok);
        m->cfg.eos_id = m->cfg.pad_id = clip_tokenizer_end_id(m->tok);
    }
    free(merges);
    free(tokens);
    return rc;
}

static int gguf_find_cb(void *src, const char *name, clip_tensor *out)
{
    const gguf_tensor *t = gguf_find_tensor(src, name);
    if (!t) return IRIS_ENOTFOUND;
    switch (t->type) {
    case GGML_F32: out->type = CLIP_F32; break;
    case GGML_F16: out->type = CLIP_F16; break;
    case GGML_BF16: out->type = CLIP_BF16; break;
    case GGML_Q8_0: out->type = CLIP_Q8_0; break;
    default:
        return iris_fail(IRIS_EUNSUPPORTED,
                         "tensor '%s' is %s (iris reads f32, f16, bf16 and q8_0)", name,
                         t->type_name);
    }
    out->data = t->data;
    out->ndim = t->ndim;
    memset(out->ne, 0, sizeof out->ne);
    memcpy(out->ne, t->ne, (size_t)t->ndim * sizeof t->ne[0]);
    out->nbytes = t->nbytes;
    return IRIS_OK;
}

static void file_name(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, cap, "%s", slash ? slash + 1 : path);
}

int clip_load_gguf(iris_model *m, const char *path)
{
    gguf_file f;
    int rc = gguf_open(path, &f);
    if (rc) return rc;
    m->map = (void *)f.map.data;
    m->map_size = f.map.size;
    f.map.data = NULL; /* the model owns the mapping from here */
    rc = read_config(&f, &m->cfg);
    if (!rc) rc = read_preprocessing(&f, &m->cfg);
    if (!rc) rc = read_vocab(&f, m);
    if (!rc) rc = clip_config_check(&m->cfg, path);
    if (!rc) rc = clip_bind_weights(m, CLIP_NAMES_GGUF, gguf_find_cb, &f, path);
    char name[128];
    if (!rc && gguf_get_str(&f, "general.name", name, sizeof name)) file_name(path, name, sizeof name);
    if (!rc) rc = clip_fill_info(m, "gguf", name);
    gguf_close(&f);
    return rc;
}
