/*
 * test_model_load.c - loading Hugging Face CLIP folders: every tensor lands
 * in its slot with the values transformers holds (sums and first elements
 * from tests/fixtures/models/NAME/expected.json, written by
 * tools/reference/make_test_models.py), the config resolves as transformers
 * resolves it (defaults, legacy keys, the eos == 2 quirk), preprocessing
 * comes from preprocessor_config.json, and the model id is stable.
 */
#include "test.h"

#include "model_fixtures.h"

#include "clip/loader.h"
#include "clip/merges.h"
#include "iris.h"

#include <cJSON.h>

static cJSON *load_expected(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/expected.json", dir);
    char *text = test_read_file(p, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static int json_int(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k)->valueint;
}

static void check_tower(const cJSON *t, int w, int l, int h, int mlp, const char *act)
{
    CHECK_EQ_INT(cJSON_GetArrayItem(t, 0)->valueint, w);
    CHECK_EQ_INT(cJSON_GetArrayItem(t, 1)->valueint, l);
    CHECK_EQ_INT(cJSON_GetArrayItem(t, 2)->valueint, h);
    CHECK_EQ_INT(cJSON_GetArrayItem(t, 3)->valueint, mlp);
    CHECK(!strcmp(cJSON_GetArrayItem(t, 5)->valuestring, act));
}

static void check_config(const iris_model *m, const cJSON *exp)
{
    iris_model_info in;
    CHECK_OK(iris_model_get_info(m, &in));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(exp, "config");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "vision");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");
    check_tower(v, in.vision_width, in.vision_layers, in.vision_heads, in.vision_mlp,
                in.hidden_act);
    check_tower(t, in.text_width, in.text_layers, in.text_heads, in.text_mlp, in.hidden_act);
    CHECK_NEAR(m->cfg.vision.ln_eps, cJSON_GetArrayItem(v, 4)->valuedouble, 1e-12);
    CHECK_NEAR(m->cfg.text.ln_eps, cJSON_GetArrayItem(t, 4)->valuedouble, 1e-12);
    CHECK_EQ_INT(in.image_size, json_int(c, "image_size"));
    CHECK_EQ_INT(in.patch_size, json_int(c, "patch_size"));
    CHECK_EQ_INT(in.vocab_size, json_int(c, "vocab_size"));
    CHECK_EQ_INT(in.context_length, json_int(c, "context_length"));
    CHECK_EQ_INT(in.bos_token_id, json_int(c, "bos_token_id"));
    CHECK_EQ_INT(in.eos_token_id, json_int(c, "eos_token_id"));
    CHECK_EQ_INT(in.projection_dim, json_int(c, "projection_dim"));
    CHECK_EQ_INT(iris_model_dim(m), json_int(c, "projection_dim"));
    double ls = cJSON_GetObjectItemCaseSensitive(c, "logit_scale")->valuedouble;
    CHECK_NEAR(in.logit_scale, ls, 1e-6 * ls);
    /* preprocessor_config.json of the fixture (see make_test_models.py) */
    CHECK_EQ_INT(in.resize_shortest, 36);
    CHECK_EQ_INT(in.crop_size, 32);
    CHECK_NEAR(in.image_mean[0], 0.5, 1e-7);
    CHECK_NEAR(in.image_mean[2], 0.125, 1e-7);
    CHECK_NEAR(in.image_std[1], 0.3, 1e-7);
    CHECK_NEAR(m->cfg.rescale, 1.0 / 255, 1e-9);
}

/* Every tensor of expected.json (but logit_scale) is in its slot with the
 * reference's shape, sum and first values. */
static void check_tensors(const iris_model *m, const cJSON *exp)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(exp, "tensors");
    int n = 0;
    for (const cJSON *e = ts->child; e; e = e->next) {
        if (!strcmp(e->string, "logit_scale")) continue;
        const clip_tensor *t = clip_model_tensor(m, e->string);
        CHECK_MSG(t && t->data, "%s not bound", e->string);
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        CHECK_EQ_INT(t->ndim, cJSON_GetArraySize(shape));
        for (int d = 0; d < t->ndim; d++)
            CHECK_EQ_INT(t->ne[d], cJSON_GetArrayItem(shape, d)->valueint);
        double want = cJSON_GetObjectItemCaseSensitive(e, "sum")->valuedouble;
        CHECK_MSG(fabs(fx_sum(t) - want) <= 1e-9 * (1 + fabs(want)), "%s sum %.17g vs %.17g",
                  e->string, fx_sum(t), want);
        const cJSON *first = cJSON_GetObjectItemCaseSensitive(e, "first");
        for (int i = 0; i < cJSON_GetArraySize(first); i++)
            CHECK_EQ_INT(fx_elem(t, i) == (float)cJSON_GetArrayItem(first, i)->valuedouble, 1);
        n++;
    }
    CHECK_EQ_INT(n, 13 + 16 * (2 + 2));
}

static void check_fixture(const char *dir, const char *dtype)
{
    cJSON *exp = load_expected(dir);
    CHECK(exp);
    iris_model *m = NULL;
    CHECK_OK(iris_model_load(dir, NULL, &m));
    iris_model_info in;
    CHECK_OK(iris_model_get_info(m, &in));
    CHECK(!strcmp(in.format, "hf-safetensors"));
    CHECK(!strcmp(in.dtype, dtype));
    CHECK_EQ_INT(strlen(in.id), 64);
    check_config(m, exp);
    check_tensors(m, exp);
    iris_model_free(m);
    cJSON_Delete(exp);
}

static void test_tiny_f32(void) { check_fixture(TINY_HF, "f32"); }
static void test_tiny_f16(void) { check_fixture(TINY_HF_F16, "f16"); }

/* Token ids of the fixture's vocabulary, as transformers' CLIPTokenizer
 * gives them (expected.json "tokens"), from the HF folder and from the GGUF
 * files, whose merges are rebuilt from the token order. */
static void check_tokens(const char *model)
{
    cJSON *exp = load_expected(TINY_HF);
    iris_model *m;
    CHECK_OK(iris_model_load(model, NULL, &m));
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(exp, "tokens");
    for (const cJSON *e = toks->child; e; e = e->next) {
        int32_t ids[64];
        int n = 0;
        CHECK_OK(iris_tokenize(m, e->string, ids, 64, &n));
        CHECK_EQ_INT(n, cJSON_GetArraySize(e));
        for (int i = 0; i < n; i++) CHECK_EQ_INT(ids[i], cJSON_GetArrayItem(e, i)->valueint);
    }
    iris_model_free(m);
    cJSON_Delete(exp);
}

static void test_tokenize(void)
{
    check_tokens(TINY_HF);
    check_tokens("tests/fixtures/models/tiny-q8_0.gguf");
    check_tokens("tests/fixtures/models/tiny-f16.gguf");
}

static void test_model_id(void)
{
    iris_model *a, *b, *c;
    CHECK_OK(iris_model_load(TINY_HF, NULL, &a));
    CHECK_OK(iris_model_load(TINY_HF "/model.safetensors", NULL, &b));
    CHECK_OK(iris_model_load(TINY_HF_F16, NULL, &c));
    iris_model_info ia, ib, ic;
    iris_model_get_info(a, &ia), iris_model_get_info(b, &ib), iris_model_get_info(c, &ic);
    CHECK(!strcmp(ia.id, ib.id));
    CHECK(strcmp(ia.id, ic.id));
    for (int i = 0; i < 64; i++) CHECK(strchr("0123456789abcdef", ia.id[i]));
    CHECK(!strcmp(ia.name, "tiny-hf")); /* no _name_or_path: the folder's name */
    iris_model_free(a), iris_model_free(b), iris_model_free(c);
}

/* Loads `config` (and `pre`, NULL = no preprocessor_config.json) over the
 * tiny f32 weights. */
static int load_with(const char *config, const char *pre, iris_model **m, char **dir)
{
    *dir = fx_tmpdir();
    if (!*dir || fx_copy_model(TINY_HF, *dir, "config.json")) return -1;
    if (fx_write(*dir, "config.json", config, strlen(config))) return -1;
    char p[512];
    snprintf(p, sizeof p, "%s/preprocessor_config.json", *dir);
    if (!pre) remove(p);
    else if (fx_write(*dir, "preprocessor_config.json", pre, strlen(pre))) return -1;
    return iris_model_load(*dir, NULL, m);
}

#define TINY_TEXT "\"hidden_size\":32,\"intermediate_size\":64,\"num_hidden_layers\":2," \
                  "\"num_attention_heads\":2,\"max_position_embeddings\":16,\"vocab_size\":554"
#define TINY_VISION "\"hidden_size\":32,\"intermediate_size\":64,\"num_hidden_layers\":2," \
                    "\"num_attention_heads\":4,\"image_size\":32,\"patch_size\":8"

/* Absent keys take CLIPConfig's defaults; absent preprocessing takes
 * CLIP's; the model name falls back to the folder. */
static void test_defaults(void)
{
    const char *cfg = "{\"projection_dim\":24,\"text_config\":{" TINY_TEXT
                      ",\"eos_token_id\":553},\"vision_config\":{" TINY_VISION "}}";
    iris_model *m = NULL;
    char *dir;
    CHECK_OK(load_with(cfg, NULL, &m, &dir));
    CHECK_NEAR(m->cfg.vision.ln_eps, 1e-5, 1e-12);
    CHECK_EQ_INT(m->cfg.text.act, CLIP_ACT_QUICK_GELU);
    CHECK_EQ_INT(m->cfg.num_channels, 3);
    CHECK_EQ_INT(m->cfg.resize_shortest, 32);
    CHECK_EQ_INT(m->cfg.crop_size, 32);
    CHECK_NEAR(m->cfg.image_mean[0], 0.48145466, 1e-7);
    CHECK_NEAR(m->cfg.image_std[2], 0.27577711, 1e-7);
    CHECK_EQ_INT(m->cfg.bos_id, 552); /* the tokenizer's start token */
    iris_model_free(m);
    fx_drop(dir);
}

/* transformers' legacy marker: eos_token_id 2 pools at the end token. */
static void test_legacy_eos(void)
{
    const char *cfg = "{\"projection_dim\":24,\"text_config\":{" TINY_TEXT
                      ",\"bos_token_id\":0,\"eos_token_id\":2,\"pad_token_id\":1},"
                      "\"vision_config\":{" TINY_VISION "}}";
    iris_model *m = NULL;
    char *dir;
    CHECK_OK(load_with(cfg, NULL, &m, &dir));
    CHECK_EQ_INT(m->cfg.eos_id, 553);
    CHECK_EQ_INT(m->cfg.bos_id, 552);
    iris_model_free(m);
    fx_drop(dir);
}

/* Legacy *_config_dict keys override *_config; int forms of size/crop;
 * gelu; do_normalize false means mean 0, std 1. */
static void test_config_variants(void)
{
    const char *cfg = "{\"projection_dim\":24,\"text_config\":{\"hidden_size\":999},"
                      "\"text_config_dict\":{" TINY_TEXT ",\"eos_token_id\":553,"
                      "\"hidden_act\":\"gelu\"},\"vision_config\":{" TINY_VISION
                      ",\"hidden_act\":\"gelu\"}}";
    const char *pre = "{\"size\":40,\"crop_size\":32,\"do_normalize\":false,"
                      "\"rescale_factor\":0.5}";
    iris_model *m = NULL;
    char *dir;
    CHECK_OK(load_with(cfg, pre, &m, &dir));
    CHECK_EQ_INT(m->cfg.text.width, 32);
    CHECK_EQ_INT(m->cfg.text.act, CLIP_ACT_GELU);
    CHECK_EQ_INT(m->cfg.vision.act, CLIP_ACT_GELU);
    CHECK_EQ_INT(m->cfg.resize_shortest, 40);
    CHECK_NEAR(m->cfg.image_mean[1], 0, 0);
    CHECK_NEAR(m->cfg.image_std[1], 1, 0);
    CHECK_NEAR(m->cfg.rescale, 0.5, 0);
    iris_model_info in;
    iris_model_get_info(m, &in);
    CHECK(!strcmp(in.hidden_act, "gelu"));
    iris_model_free(m);
    fx_drop(dir);
}

/* A checkpoint without logit_scale gets exp(logit_scale_init_value), as
 * transformers initialises a missing parameter. */
static void test_logit_scale_default(void)
{
    char *dir = fx_tmpdir();
    CHECK(dir && !fx_copy_model(TINY_HF, dir, NULL));
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    size_t len;
    char *buf = test_read_file(p, &len);
    CHECK(buf);
    char *key = strstr(buf + 8, "\"logit_scale\""); /* rename it: same length */
    CHECK(key);
    memcpy(key + 1, "logit_scalX", 11);
    CHECK_OK(fx_write(dir, "model.safetensors", buf, len));
    free(buf);
    iris_model *m;
    CHECK_OK(iris_model_load(dir, NULL, &m));
    CHECK_NEAR(m->cfg.logit_scale, expf(2.6592f), 1e-4);
    iris_model_free(m);
    fx_drop(dir);
}

/* A header whose length is not a multiple of 4 leaves every f32 tensor
 * misaligned: the loader hands out aligned copies with the same values. */
static void test_misaligned_header(void)
{
    char *dir = fx_tmpdir();
    CHECK(dir && !fx_copy_model(TINY_HF, dir, NULL));
    size_t len;
    unsigned char *b = (unsigned char *)test_read_file(TINY_HF "/model.safetensors", &len);
    CHECK(b);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | b[i];
    unsigned char *out = malloc(len + 1);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((h + 1) >> (8 * i));
    memcpy(out + 8, b + 8, h);
    out[8 + h] = ' ';
    memcpy(out + 9 + h, b + 8 + h, len - 8 - h);
    CHECK_OK(fx_write(dir, "model.safetensors", out, len + 1));
    free(out), free(b);
    iris_model *m;
    CHECK_OK(iris_model_load(dir, NULL, &m));
    cJSON *exp = load_expected(TINY_HF);
    check_tensors(m, exp);
    CHECK_EQ_INT((uintptr_t)m->vision.layers[1].fc2_w.data % 4, 0);
    CHECK_EQ_INT((uintptr_t)m->text.tok_emb.data % 4, 0);
    cJSON_Delete(exp);
    iris_model_free(m);
    fx_drop(dir);
}

/* One GGUF tensor against the HF checkpoint: f32 and f16 storage must be
 * bitwise the HF f32 / f16 tensor; q8_0 must dequantise to the f32 value
 * within its block's rounding (half a step, plus the f16 rounding of the
 * block scale: 0.5 + 127 * 2^-11 < 0.6 steps). */
static void compare_tensor(const char *name, const clip_tensor *g, const clip_tensor *f32,
                           const clip_tensor *f16)
{
    CHECK_EQ_INT(g->ndim, f32->ndim);
    for (int d = 0; d < g->ndim; d++) CHECK_EQ_INT(g->ne[d], f32->ne[d]);
    if (g->type == CLIP_F32) {
        CHECK_MSG(!memcmp(g->data, f32->data, f32->nbytes), "%s differs from HF f32", name);
    } else if (g->type == CLIP_F16) {
        CHECK_MSG(!memcmp(g->data, f16->data, f16->nbytes), "%s differs from HF f16", name);
    } else {
        CHECK_EQ_INT(g->type, CLIP_Q8_0);
        for (int64_t i = 0, n = clip_tensor_nelem(g); i < n; i++) {
            uint16_t h;
            memcpy(&h, (const unsigned char *)g->data + (i / CLIP_Q8_0_BLOCK) * 34, 2);
            double step = fx_half(h), err = fabs(fx_elem(g, i) - fx_elem(f32, i));
            CHECK_MSG(err <= 0.6 * step + 1e-12, "%s[%lld]: error %g, step %g", name,
                      (long long)i, err, step);
        }
    }
}

/* Loads `path` (a GGUF written from tiny-hf) and compares every weight
 * and the config with the Hugging Face fixtures. */
static void check_gguf(const char *path, const char *dtype)
{
    cJSON *exp = load_expected(TINY_HF);
    iris_model *g, *f32, *f16;
    CHECK_OK(iris_model_load(path, NULL, &g));
    CHECK_OK(iris_model_load(TINY_HF, NULL, &f32));
    CHECK_OK(iris_model_load(TINY_HF_F16, NULL, &f16));
    iris_model_info gi, hi;
    iris_model_get_info(g, &gi), iris_model_get_info(f32, &hi);
    CHECK(!strcmp(gi.format, "gguf") && !strcmp(gi.dtype, dtype));
    CHECK(!strcmp(gi.name, "tiny-hf"));
    const int gv[] = {gi.image_size, gi.patch_size, gi.vision_width, gi.vision_layers,
                      gi.vision_heads, gi.vision_mlp, gi.text_width, gi.text_layers,
                      gi.text_heads, gi.text_mlp, gi.vocab_size, gi.context_length,
                      gi.projection_dim, gi.bos_token_id, gi.eos_token_id};
    const int hv[] = {hi.image_size, hi.patch_size, hi.vision_width, hi.vision_layers,
                      hi.vision_heads, hi.vision_mlp, hi.text_width, hi.text_layers,
                      hi.text_heads, hi.text_mlp, hi.vocab_size, hi.context_length,
                      hi.projection_dim, hi.bos_token_id, hi.eos_token_id};
    for (size_t i = 0; i < sizeof gv / sizeof gv[0]; i++) CHECK_EQ_INT(gv[i], hv[i]);
    CHECK(!strcmp(gi.hidden_act, hi.hidden_act));
    CHECK_NEAR(gi.logit_scale, hi.logit_scale, 1e-6 * hi.logit_scale);
    CHECK_NEAR(gi.image_mean[1], 0.25, 1e-7); /* from preprocessor_config.json */
    CHECK_NEAR(gi.image_std[2], 0.4, 1e-7);
    CHECK_EQ_INT(gi.crop_size, 32);
    CHECK_EQ_INT(g->cfg.vision.ln_eps == f32->cfg.vision.ln_eps, 1);
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(exp, "tensors");
    for (const cJSON *e = ts->child; e; e = e->next) {
        if (!strcmp(e->string, "logit_scale")) continue;
        compare_tensor(e->string, clip_model_tensor(g, e->string),
                       clip_model_tensor(f32, e->string), clip_model_tensor(f16, e->string));
    }
    iris_model_free(g), iris_model_free(f32), iris_model_free(f16);
    cJSON_Delete(exp);
}

/* The committed GGUF fixtures (tools/convert_hf_to_gguf.py over tiny-hf);
 * tests/py/test_gguf_convert.py re-runs this binary with IRIS_TEST_GGUF_DIR
 * pointing at freshly converted f32, f16 and q8_0 files. */
static void test_gguf_matches_hf(void)
{
    const char *dir = getenv("IRIS_TEST_GGUF_DIR");
    static const char *const types[] = {"f32", "f16", "q8_0"};
    int checked = 0;
    for (int i = 0; i < 3; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/tiny-%s.gguf", dir ? dir : "tests/fixtures/models", types[i]);
        if (!test_path_exists(p)) continue;
        check_gguf(p, types[i]);
        checked++;
    }
    CHECK(checked >= 2);
    if (dir) CHECK_EQ_INT(checked, 3);
}

/* vocab.json as an id-ordered array of token strings (into one cJSON). */
static const char **vocab_by_id(const char *path, cJSON **root, int *n)
{
    char *text = test_read_file(path, NULL);
    *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!*root) return NULL;
    *n = cJSON_GetArraySize(*root);
    const char **v = calloc((size_t)*n, sizeof *v);
    for (const cJSON *e = (*root)->child; e; e = e->next)
        if (e->valueint >= 0 && e->valueint < *n) v[e->valueint] = e->string;
    return v;
}

/* The real CLIP vocabulary: merges rebuilt from the token order alone are
 * exactly merges.txt (models/tiny-clip holds CLIP's files). */
static void test_merges_from_vocab(void)
{
    cJSON *root;
    int n = 0, nm = 0;
    const char **vocab = vocab_by_id("models/tiny-clip/vocab.json", &root, &n);
    CHECK(vocab && n == 49408);
    char **merges;
    CHECK_OK(clip_merges_from_vocab(vocab, n, "vocab.json", &merges, &nm));
    CHECK_EQ_INT(nm, 48894);
    char *text = test_read_file("models/tiny-clip/merges.txt", NULL);
    CHECK(text);
    char *line = strchr(text, '\n') + 1; /* after "#version: 0.2" */
    for (int r = 0; r < nm; r++) {
        char *nl = strchr(line, '\n');
        CHECK(nl);
        *nl = '\0';
        CHECK_MSG(!strcmp(merges[r], line), "merge %d: '%s' vs '%s'", r, merges[r], line);
        line = nl + 1;
    }
    free(text), free(merges), free(vocab);
    cJSON_Delete(root);
}

static void test_not_a_model(void)
{
    iris_model *m = (iris_model *)1;
    CHECK_EQ_INT(iris_model_load("tests/fixtures/models/nonexistent", NULL, &m), IRIS_ENOTFOUND);
    CHECK(m == NULL);
    CHECK(strstr(iris_errmsg(), "nonexistent"));
    CHECK_EQ_INT(iris_model_load(TINY_HF "/vocab.json", NULL, &m), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "vocab.json"));
    CHECK_EQ_INT(iris_model_load("tests", NULL, &m), IRIS_ENOTFOUND);
    CHECK(strstr(iris_errmsg(), "config.json"));
    CHECK_EQ_INT(iris_model_load(NULL, NULL, &m), IRIS_EARG);
    iris_model_free(NULL);
}

int main(void)
{
    RUN(test_tiny_f32);
    RUN(test_tiny_f16);
    RUN(test_tokenize);
    RUN(test_model_id);
    RUN(test_defaults);
    RUN(test_legacy_eos);
    RUN(test_config_variants);
    RUN(test_logit_scale_default);
    RUN(test_misaligned_header);
    RUN(test_merges_from_vocab);
    RUN(test_gguf_matches_hf);
    RUN(test_not_a_model);
    return test_summary();
}
