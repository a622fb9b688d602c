/*
 * hf.c - Hugging Face CLIP folders: config.json, preprocessor_config.json,
 * model.safetensors, vocab.json + merges.txt.
 *
 * config.json is read the way transformers reads a CLIPConfig: tower keys
 * under text_config / vision_config (the legacy *_config_dict spellings
 * override them, as transformers does), and every absent key takes the
 * CLIPConfig default, so a minimal config loads like it does in Python.
 * Keys that are present must be well-typed and in range; the message names
 * the file and the key.
 *
 * Two reference quirks are resolved here so the forward pass need not know
 * them: eos_token_id == 2 is transformers' legacy marker (OpenAI's configs
 * say 2 and pool at the highest token id, which for CLIP tokenisation is the
 * end token), so cfg.eos_id becomes the tokenizer's end id; and a missing
 * logit_scale tensor falls back to exp(logit_scale_init_value), as
 * transformers initialises a missing parameter.
 */
#include "clip/loader.h"
#include "clip/safetensors.h"
#include "clip/tokenizer.h"
#include "util/error.h"
#include "util/fs.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_MAX_BYTES (1u << 20)
#define LEGACY_EOS_ID 2

/* A JSON object to read keys from, with its file for messages. */
typedef struct json_src {
    const cJSON *obj[2]; /* searched in order; NULL entries are skipped */
    const char *path;
    const char *section; /* "text_config", "" for top level */
} json_src;

static const cJSON *src_get(const json_src *s, const char *key)
{
    for (int i = 0; i < 2; i++) {
        const cJSON *v = s->obj[i] ? cJSON_GetObjectItemCaseSensitive(s->obj[i], key) : NULL;
        if (v && !cJSON_IsNull(v)) return v;
    }
    return NULL;
}

static int bad_key(const json_src *s, const char *key, const char *what)
{
    return iris_fail(IRIS_EFORMAT, "%s: %s%s%s must be %s", s->path, s->section,
                     s->section[0] ? "." : "", key, what);
}

static int get_int(const json_src *s, const char *key, int def, int *out)
{
    const cJSON *v = src_get(s, key);
    if (!v) {
        *out = def;
        return IRIS_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= -2147483647.0 && d <= 2147483647.0) || d != (double)(int)d)
        return bad_key(s, key, "an integer");
    *out = (int)d;
    return IRIS_OK;
}

static int get_double(const json_src *s, const char *key, double def, double *out)
{
    const cJSON *v = src_get(s, key);
    if (!v) {
        *out = def;
        return IRIS_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return bad_key(s, key, "a number");
    *out = v->valuedouble;
    return IRIS_OK;
}

static int get_float(const json_src *s, const char *key, float def, float *out)
{
    double d = def;
    int rc = get_double(s, key, def, &d);
    if (!rc) *out = (float)d;
    return rc;
}

static int get_bool(const json_src *s, const char *key, int def, int *out)
{
    const cJSON *v = src_get(s, key);
    if (!v) {
        *out = def;
        return IRIS_OK;
    }
    if (!cJSON_IsBool(v)) return bad_key(s, key, "true or false");
    *out = cJSON_IsTrue(v);
    return IRIS_OK;
}

static int get_act(const json_src *s, clip_act *out)
{
    const cJSON *v = src_get(s, "hidden_act");
    const char *a = v ? (cJSON_IsString(v) ? v->valuestring : NULL) : "quick_gelu";
    if (!a) return bad_key(s, "hidden_act", "a string");
    if (!strcmp(a, "quick_gelu")) *out = CLIP_ACT_QUICK_GELU;
    else if (!strcmp(a, "gelu")) *out = CLIP_ACT_GELU;
    else
        return iris_fail(IRIS_EUNSUPPORTED, "%s: %s.hidden_act '%.40s' (iris runs quick_gelu and gelu)",
                         s->path, s->section, a);
    return IRIS_OK;
}

/* A tower's sub-config: legacy "<x>_config_dict" wins over "<x>_config". */
static json_src tower_src(const cJSON *root, const char *which, const char *path)
{
    char dict[32], cfg[32];
    snprintf(dict, sizeof dict, "%s_config_dict", which);
    snprintf(cfg, sizeof cfg, "%s_config", which);
    json_src s = {{NULL, NULL}, path, which[0] == 't' ? "text_config" : "vision_config"};
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, dict);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, cfg);
    s.obj[0] = cJSON_IsObject(d) ? d : NULL;
    s.obj[1] = cJSON_IsObject(c) ? c : NULL;
    return s;
}

static int parse_tower(const json_src *s, clip_tower_config *t, int width, int mlp, int heads)
{
    int rc = get_int(s, "hidden_size", width, &t->width);
    if (!rc) rc = get_int(s, "intermediate_size", mlp, &t->mlp);
    if (!rc) rc = get_int(s, "num_hidden_layers", 12, &t->layers);
    if (!rc) rc = get_int(s, "num_attention_heads", heads, &t->heads);
    if (!rc) rc = get_float(s, "layer_norm_eps", 1e-5f, &t->ln_eps);
    if (!rc) rc = get_act(s, &t->act);
    return rc;
}

/* config.json -> cfg (preprocessing fields get their defaults later). */
static int parse_config(const cJSON *root, const char *path, clip_config *c, float *scale_init,
                        char *name, size_t name_cap)
{
    if (!cJSON_IsObject(root)) return iris_fail(IRIS_EFORMAT, "%s is not a JSON object", path);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (cJSON_IsString(mt) && strcmp(mt->valuestring, "clip"))
        return iris_fail(IRIS_EUNSUPPORTED, "%s: model_type '%.40s' is not CLIP", path,
                         mt->valuestring);
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "_name_or_path");
    if (cJSON_IsString(nm) && nm->valuestring[0])
        snprintf(name, name_cap, "%s", nm->valuestring);
    json_src top = {{root, NULL}, path, ""};
    json_src ts = tower_src(root, "text", path), vs = tower_src(root, "vision", path);
    int rc = parse_tower(&ts, &c->text, 512, 2048, 8);
    if (!rc) rc = parse_tower(&vs, &c->vision, 768, 3072, 12);
    if (!rc) rc = get_int(&ts, "vocab_size", 49408, &c->vocab_size);
    if (!rc) rc = get_int(&ts, "max_position_embeddings", 77, &c->context_length);
    if (!rc) rc = get_int(&ts, "bos_token_id", 49406, &c->bos_id);
    if (!rc) rc = get_int(&ts, "eos_token_id", 49407, &c->eos_id);
    if (!rc) rc = get_int(&ts, "pad_token_id", 1, &c->pad_id);
    if (!rc) rc = get_int(&vs, "image_size", 224, &c->image_size);
    if (!rc) rc = get_int(&vs, "patch_size", 32, &c->patch_size);
    if (!rc) rc = get_int(&vs, "num_channels", 3, &c->num_channels);
    if (!rc) rc = get_int(&top, "projection_dim", 512, &c->proj_dim);
    if (!rc) rc = get_float(&top, "logit_scale_init_value", 2.6592f, scale_init);
    return rc;
}

/* "size"/"crop_size": an int, or {"shortest_edge": n} / {"height": h, "width": w}. */
static int get_side(const json_src *s, const char *key, int def, int *out)
{
    const cJSON *v = src_get(s, key);
    if (!v || cJSON_IsNumber(v)) return get_int(s, key, def, out);
    if (!cJSON_IsObject(v)) return bad_key(s, key, "an integer or an object");
    json_src in = {{v, NULL}, s->path, key};
    int h = -1, w = -1, rc = get_int(&in, "shortest_edge", -1, out);
    if (!rc && *out >= 0) return IRIS_OK;
    if (!rc) rc = get_int(&in, "height", -1, &h);
    if (!rc) rc = get_int(&in, "width", -1, &w);
    if (rc) return rc;
    if (h < 0 || h != w || !strcmp(key, "size"))
        return iris_fail(IRIS_EUNSUPPORTED,
                         "%s: %s must be square or a shortest_edge (iris resizes the shortest "
                         "side, then centre-crops a square)",
                         s->path, key);
    *out = h;
    return IRIS_OK;
}

static int get_triple(const json_src *s, const char *key, const float def[3], float out[3])
{
    const cJSON *v = src_get(s, key);
    if (!v) {
        memcpy(out, def, 3 * sizeof *out);
        return IRIS_OK;
    }
    if (cJSON_GetArraySize(v) != 3 || !cJSON_IsArray(v))
        return bad_key(s, key, "a list of 3 numbers");
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return bad_key(s, key, "a list of 3 numbers");
        out[i] = (float)e->valuedouble;
    }
    return IRIS_OK;
}

static const float openai_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float openai_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static int check_flags(const json_src *s)
{
    int resize, crop, resample, rc = get_bool(s, "do_resize", 1, &resize);
    if (!rc) rc = get_bool(s, "do_center_crop", 1, &crop);
    if (!rc) rc = get_int(s, "resample", 3, &resample);
    if (rc) return rc;
    if (!resize || !crop)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: do_resize/do_center_crop false is not supported",
                         s->path);
    if (resample != 3)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: resample = %d (iris implements bicubic, 3)",
                         s->path, resample);
    return IRIS_OK;
}

/* preprocessor_config.json (optional: CLIP defaults when absent). */
static int parse_preprocessor(const cJSON *root, const char *path, clip_config *c)
{
    c->resize_shortest = c->crop_size = c->image_size;
    c->rescale = 1.0 / 255.0;
    memcpy(c->image_mean, openai_mean, sizeof openai_mean);
    memcpy(c->image_std, openai_std, sizeof openai_std);
    if (!root) return IRIS_OK;
    if (!cJSON_IsObject(root)) return iris_fail(IRIS_EFORMAT, "%s is not a JSON object", path);
    json_src s = {{root, NULL}, path, ""};
    int rescale, normalize;
    int rc = check_flags(&s);
    if (!rc) rc = get_side(&s, "size", c->image_size, &c->resize_shortest);
    if (!rc) rc = get_side(&s, "crop_size", c->image_size, &c->crop_size);
    if (!rc) rc = get_triple(&s, "image_mean", openai_mean, c->image_mean);
    if (!rc) rc = get_triple(&s, "image_std", openai_std, c->image_std);
    if (!rc) rc = get_double(&s, "rescale_factor", 1.0 / 255.0, &c->rescale);
    if (!rc) rc = get_bool(&s, "do_rescale", 1, &rescale);
    if (!rc) rc = get_bool(&s, "do_normalize", 1, &normalize);
    if (rc) return rc;
    if (!rescale) c->rescale = 1.0;
    for (int i = 0; i < 3 && !normalize; i++) c->image_mean[i] = 0, c->image_std[i] = 1;
    return IRIS_OK;
}

/* Reads and parses a JSON file; *root = NULL when optional and absent. */
static int read_json(const char *path, int optional, cJSON **root)
{
    char *text;
    size_t len;
    *root = NULL;
    int rc = iris_read_file(path, CONFIG_MAX_BYTES, &text, &len);
    if (rc == IRIS_ENOTFOUND && optional) return IRIS_OK;
    if (rc) return rc;
    *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!*root) return iris_fail(IRIS_EFORMAT, "%s is not valid JSON", path);
    return IRIS_OK;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023;
    if (exp == 31) {
        uint32_t bits = sign | 0x7f800000u | man << 13;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    float v = ldexpf((float)(exp ? (man | 1024) : man), (exp ? (int)exp : 1) - 25);
    return sign ? -v : v;
}

/* The scalar logit_scale parameter, exp()'ed. */
static int read_logit_scale(const st_file *st, float init, float *out)
{
    const st_tensor *t = st_find(st, "logit_scale");
    if (!t) {
        *out = expf(init);
        return IRIS_OK;
    }
    if (!t->supported || t->nbytes != (t->type == CLIP_F32 ? 4u : 2u))
        return iris_fail(IRIS_EFORMAT, "%s: logit_scale must be one f32, f16 or bf16 value",
                         st->path);
    float v;
    uint16_t h;
    if (t->type == CLIP_F32) {
        memcpy(&v, t->data, 4);
    } else {
        memcpy(&h, t->data, 2);
        uint32_t bits = (uint32_t)h << 16;
        if (t->type == CLIP_BF16) memcpy(&v, &bits, 4);
        else v = half_to_float(h);
    }
    if (!isfinite(v) || v > 80.0f)
        return iris_fail(IRIS_EFORMAT, "%s: logit_scale = %g is not a usable value", st->path,
                         (double)v);
    *out = expf(v);
    return IRIS_OK;
}

static int hf_find(void *src, const char *name, clip_tensor *out)
{
    const st_tensor *t = st_find(src, name);
    if (!t) return IRIS_ENOTFOUND;
    if (!t->supported)
        return iris_fail(IRIS_EUNSUPPORTED, "tensor '%s' is %s (iris reads F32, F16 and BF16)",
                         name, t->dtype);
    if (t->ndim > CLIP_MAX_DIMS)
        return iris_fail(IRIS_EFORMAT, "tensor '%s' has %d dimensions", name, t->ndim);
    memset(out, 0, sizeof *out);
    out->data = t->data;
    out->type = t->type;
    out->ndim = t->ndim;
    memcpy(out->ne, t->ne, (size_t)t->ndim * sizeof t->ne[0]);
    out->nbytes = t->nbytes;
    return IRIS_OK;
}

/* Loads the tokenizer and reconciles its special ids with the config:
 * transformers' legacy eos_token_id 2 means "pool at the end token". */
static int load_tokenizer(iris_model *m, const char *dir)
{
    char vocab[4096], merges[4096];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", dir);
    snprintf(merges, sizeof merges, "%s/merges.txt", dir);
    int rc = clip_tokenizer_load_hf(vocab, merges, &m->tok);
    if (rc) return rc;
    clip_config *c = &m->cfg;
    int n = clip_tokenizer_vocab_size(m->tok), end = clip_tokenizer_end_id(m->tok);
    if (n > c->vocab_size)
        return iris_fail(IRIS_EFORMAT, "%s has %d tokens but the model embeds only %d", vocab, n,
                         c->vocab_size);
    if (c->eos_id == LEGACY_EOS_ID) c->eos_id = end;
    if (c->eos_id != end)
        return iris_fail(IRIS_EUNSUPPORTED,
                         "%s/config.json: eos_token_id %d differs from the tokenizer's end "
                         "token %d",
                         dir, c->eos_id, end);
    c->bos_id = clip_tokenizer_start_id(m->tok);
    return IRIS_OK;
}

static int hf_check_weights_file(const char *dir, char *path, size_t cap)
{
    struct stat st;
    snprintf(path, cap, "%s/model.safetensors", dir);
    if (stat(path, &st) == 0) return IRIS_OK;
    char other[4096];
    snprintf(other, sizeof other, "%s/model.safetensors.index.json", dir);
    if (stat(other, &st) == 0)
        return iris_fail(IRIS_EUNSUPPORTED, "%s: sharded safetensors are not supported", dir);
    snprintf(other, sizeof other, "%s/pytorch_model.bin", dir);
    if (stat(other, &st) == 0)
        return iris_fail(IRIS_EUNSUPPORTED,
                         "%s has only pytorch_model.bin: convert it to model.safetensors (see "
                         "docs/models.md)",
                         dir);
    return iris_fail(IRIS_ENOTFOUND, "%s: no model.safetensors", dir);
}

/* config.json + preprocessor_config.json -> m->cfg; name gets _name_or_path. */
static int hf_read_configs(iris_model *m, const char *dir, float *scale_init, char *name,
                           size_t name_cap)
{
    char path[4096];
    cJSON *root;
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = read_json(path, 0, &root);
    if (rc) return rc;
    rc = parse_config(root, path, &m->cfg, scale_init, name, name_cap);
    cJSON_Delete(root);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    if ((rc = read_json(path, 1, &root))) return rc;
    rc = parse_preprocessor(root, path, &m->cfg);
    cJSON_Delete(root);
    return rc ? rc : clip_preprocess_check(&m->cfg, path);
}

static void base_name(const char *dir, char *out, size_t cap)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(out, cap, "%.*s", (int)(len - start), dir + start);
}

int clip_load_hf(iris_model *m, const char *dir)
{
    char wpath[4096], name[128] = "";
    float scale_init = 0;
    int rc = hf_read_configs(m, dir, &scale_init, name, sizeof name);
    if (!rc) rc = hf_check_weights_file(dir, wpath, sizeof wpath);
    if (rc) return rc;
    st_file st;
    if ((rc = st_open(wpath, &st))) return rc;
    m->map = (void *)st.map.data;
    m->map_size = st.map.size;
    st.map.data = NULL; /* the model owns the mapping from here */
    rc = read_logit_scale(&st, scale_init, &m->cfg.logit_scale);
    if (!rc) rc = load_tokenizer(m, dir);
    if (!rc) {
        char cpath[4096];
        snprintf(cpath, sizeof cpath, "%s/config.json", dir);
        rc = clip_config_check(&m->cfg, cpath);
    }
    if (!rc) rc = clip_bind_weights(m, CLIP_NAMES_HF, hf_find, &st, wpath);
    st_close(&st);
    if (!name[0]) base_name(dir, name, sizeof name);
    if (!rc) rc = clip_fill_info(m, "hf-safetensors", name);
    return rc;
}
