/*
 * test_hostile_models.c - corrupt, truncated and lying model files.
 *
 * Each case must give the right status with a message that names the file
 * and the offending tensor or key, never a crash or an out-of-bounds read
 * (this binary also runs under ASan/UBSan). The mutation fuzz at the end is
 * deterministic (a fixed LCG seed): it truncates and overwrites bytes of the
 * committed tiny model at many positions and only asks that every load
 * either succeeds or fails cleanly with a message.
 */
#include "test.h"

#include "model_fixtures.h"

#include "clip/gguf.h"
#include "clip/safetensors.h"
#include "iris.h"

#include <fcntl.h>
#include <stdint.h>

static char *scratch;

/* --------------------------------------------- crafted safetensors files */

/* Writes an 8-byte length + header + data_len zero bytes; returns the path. */
static const char *write_st(const char *header, size_t data_len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/crafted.safetensors", scratch);
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(header);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(header, 1, n, f);
    for (size_t i = 0; i < data_len; i++) fputc(0, f);
    fclose(f);
    return path;
}

/* st_open on header must fail with status, and the message must contain
 * `needle` and the file's path. */
static void expect_st(const char *header, size_t data_len, int status, const char *needle)
{
    st_file f;
    const char *path = write_st(header, data_len);
    int rc = st_open(path, &f);
    CHECK_MSG(rc == status, "%s -> %d (%s), wanted %d", header, rc, iris_errmsg(), status);
    CHECK_MSG(strstr(iris_errmsg(), needle), "%s: '%s' lacks '%s'", header, iris_errmsg(),
              needle);
    CHECK_MSG(strstr(iris_errmsg(), "crafted.safetensors"), "%s", iris_errmsg());
}

#define T1 "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"

static void test_st_header(void)
{
    expect_st("{abc", 0, IRIS_EFORMAT, "not valid JSON");
    expect_st("[1,2]", 0, IRIS_EFORMAT, "not a JSON object");
    expect_st(T1 "}xyz", 24, IRIS_EFORMAT, "trailing bytes");
    expect_st("{\"w\":1}", 0, IRIS_EFORMAT, "'w'");
    expect_st("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, IRIS_EFORMAT, "dtype");
    expect_st("{\"w\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
              IRIS_EUNSUPPORTED, "F7");
    expect_st(T1 ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]}}", 28,
              IRIS_EFORMAT, "twice");
}

static void test_st_shapes(void)
{
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, IRIS_EFORMAT,
              "shape");
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
              IRIS_EFORMAT, "dimension 0");
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
              IRIS_EFORMAT, "dimension 0");
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1e300],\"data_offsets\":[0,4]}}", 4,
              IRIS_EFORMAT, "dimension 1");
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
              "\"data_offsets\":[0,4]}}",
              4, IRIS_EFORMAT, "overflows");
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
              "\"data_offsets\":[0,4]}}",
              4, IRIS_EFORMAT, "9 dimensions");
}

static void test_st_offsets(void)
{
    expect_st(T1 "}", 20, IRIS_EFORMAT, "outside");
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
              IRIS_EFORMAT, "outside");
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8, IRIS_EFORMAT,
              "data_offsets");
    expect_st("{\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24,
              IRIS_EFORMAT, "needs 12 bytes");
    expect_st(T1 ",\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]}}", 28,
              IRIS_EFORMAT, "overlap");
}

static void test_st_length(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/short.safetensors", scratch);
    st_file f;
    CHECK_OK(fx_write(scratch, "short.safetensors", "", 0));
    CHECK_EQ_INT(st_open(path, &f), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "too short"));
    CHECK_OK(fx_write(scratch, "short.safetensors", "\x08\0\0\0\0\0\0", 7));
    CHECK_EQ_INT(st_open(path, &f), IRIS_EFORMAT);
    /* header length far past the end of the file */
    CHECK_OK(fx_write(scratch, "short.safetensors", "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10));
    CHECK_EQ_INT(st_open(path, &f), IRIS_EFORMAT);
    CHECK(strstr(iris_errmsg(), "runs past the end"));
    /* a header over the 100 MB cap in a (sparse) file that is big enough */
    CHECK_OK(fx_write(scratch, "short.safetensors", "\x01\x00\x40\x06\0\0\0\0{}", 10));
    CHECK_EQ_INT(truncate(path, 120u << 20), 0);
    CHECK_EQ_INT(st_open(path, &f), IRIS_ELIMIT);
    remove(path);
}

/* A valid file may hold other dtypes, scalars, empty tensors and metadata. */
static void test_st_valid_extras(void)
{
    st_file f;
    const char *path = write_st(
        "{\"__metadata__\":{\"format\":\"pt\"},\"ids\":{\"dtype\":\"I64\",\"shape\":[1,2],"
        "\"data_offsets\":[0,16]},\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[16,18]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[18,18]}}  ",
        18);
    CHECK_OK(st_open(path, &f));
    CHECK_EQ_INT(f.n, 3);
    const st_tensor *ids = st_find(&f, "ids"), *s = st_find(&f, "s"), *e = st_find(&f, "e");
    CHECK(ids && !ids->supported && !strcmp(ids->dtype, "I64") && ids->nbytes == 16);
    CHECK(s && s->supported && s->type == CLIP_BF16 && s->ndim == 0 && s->nbytes == 2);
    CHECK(e && e->nbytes == 0 && e->ne[1] == 5);
    CHECK(!st_find(&f, "__metadata__"));
    st_close(&f);
}

/* ------------------------------------------------- crafted GGUF files */

typedef struct gbuf {
    unsigned char p[4096];
    size_t n;
} gbuf;

static void g_raw(gbuf *b, const void *d, size_t n)
{
    if (b->n + n <= sizeof b->p) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void g_u32(gbuf *b, uint32_t v) { g_raw(b, &v, 4); }
static void g_u64(gbuf *b, uint64_t v) { g_raw(b, &v, 8); }
static void g_str(gbuf *b, const char *s)
{
    g_u64(b, strlen(s));
    g_raw(b, s, strlen(s));
}
static void g_head(gbuf *b, uint32_t version, uint64_t n_t, uint64_t n_kv)
{
    b->n = 0;
    g_raw(b, "GGUF", 4);
    g_u32(b, version);
    g_u64(b, n_t);
    g_u64(b, n_kv);
}
static void g_kv_u32(gbuf *b, const char *k, uint32_t v)
{
    g_str(b, k);
    g_u32(b, GGUF_U32);
    g_u32(b, v);
}
static void g_tensor(gbuf *b, const char *name, uint32_t nd, const uint64_t *dims, uint32_t type,
                     uint64_t off)
{
    g_str(b, name);
    g_u32(b, nd);
    for (uint32_t i = 0; i < nd; i++) g_u64(b, dims[i]);
    g_u32(b, type);
    g_u64(b, off);
}
static void g_pad(gbuf *b, size_t align, size_t data)
{
    while (b->n % align) b->p[b->n++] = 0;
    for (size_t i = 0; i < data; i++) b->p[b->n++] = 0;
}

static void expect_gguf(const gbuf *b, int status, const char *needle)
{
    CHECK_OK(fx_write(scratch, "crafted.gguf", b->p, b->n));
    char path[512];
    snprintf(path, sizeof path, "%s/crafted.gguf", scratch);
    gguf_file f;
    int rc = gguf_open(path, &f);
    CHECK_MSG(rc == status, "-> %d (%s), wanted %d", rc, iris_errmsg(), status);
    CHECK_MSG(strstr(iris_errmsg(), needle), "'%s' lacks '%s'", iris_errmsg(), needle);
    CHECK_MSG(strstr(iris_errmsg(), "crafted.gguf"), "%s", iris_errmsg());
}

static const uint64_t d2[] = {32, 2};

static void test_gguf_header(void)
{
    gbuf b;
    g_head(&b, 3, 0, 0);
    memcpy(b.p, "GGUG", 4);
    expect_gguf(&b, IRIS_EFORMAT, "magic");
    g_head(&b, 1, 0, 0);
    expect_gguf(&b, IRIS_EUNSUPPORTED, "version 1");
    g_head(&b, 0x03000000, 0, 0); /* a big-endian file */
    expect_gguf(&b, IRIS_EUNSUPPORTED, "version");
    g_head(&b, 3, 0, 1ull << 40);
    expect_gguf(&b, IRIS_EFORMAT, "cannot fit");
    g_head(&b, 3, 1ull << 60, 0);
    expect_gguf(&b, IRIS_EFORMAT, "cannot fit");
    g_head(&b, 3, 0, 1);
    b.n -= 2; /* truncated inside the counts */
    expect_gguf(&b, IRIS_EFORMAT, "truncated");
}

static void test_gguf_values(void)
{
    gbuf b;
    g_head(&b, 3, 0, 1);
    g_u64(&b, 1ull << 62); /* key length */
    g_raw(&b, "abcdefghijklmnop", 16);
    expect_gguf(&b, IRIS_EFORMAT, "truncated");
    g_head(&b, 3, 0, 1);
    g_str(&b, "k");
    g_u32(&b, 13);
    g_u64(&b, 0);
    expect_gguf(&b, IRIS_EFORMAT, "unknown value type 13");
    g_head(&b, 3, 0, 1); /* array of 2^60 u32 */
    g_str(&b, "k");
    g_u32(&b, GGUF_ARRAY), g_u32(&b, GGUF_U32), g_u64(&b, 1ull << 60);
    g_u64(&b, 0);
    expect_gguf(&b, IRIS_EFORMAT, "(k)");
    g_head(&b, 3, 0, 1); /* arrays nested four deep */
    g_str(&b, "deep");
    g_u32(&b, GGUF_ARRAY);
    for (int i = 0; i < 4; i++) g_u32(&b, GGUF_ARRAY), g_u64(&b, 1);
    g_u32(&b, GGUF_U8), g_u64(&b, 1);
    expect_gguf(&b, IRIS_EFORMAT, "too deeply");
    g_head(&b, 3, 0, 2);
    g_kv_u32(&b, "same", 1);
    g_kv_u32(&b, "same", 2);
    expect_gguf(&b, IRIS_EFORMAT, "'same' appears twice");
    g_head(&b, 3, 0, 1);
    g_kv_u32(&b, "general.alignment", 24);
    expect_gguf(&b, IRIS_EFORMAT, "power of two");
}

static void test_gguf_tensors(void)
{
    gbuf b;
    const uint64_t d5[] = {1, 1, 1, 1, 1}, big[] = {1ull << 62, 8};
    g_head(&b, 3, 1, 0);
    g_tensor(&b, "w", 5, d5, GGML_F32, 0);
    expect_gguf(&b, IRIS_EFORMAT, "'w' has 5 dimensions");
    g_head(&b, 3, 1, 0);
    g_tensor(&b, "w", 2, d2, 99, 0);
    expect_gguf(&b, IRIS_EUNSUPPORTED, "ggml type 99");
    g_head(&b, 3, 1, 0);
    g_tensor(&b, "w", 2, big, GGML_F32, 0);
    expect_gguf(&b, IRIS_EFORMAT, "overflowing");
    const uint64_t odd[] = {33, 2};
    g_head(&b, 3, 1, 0);
    g_tensor(&b, "q", 2, odd, GGML_Q8_0, 0);
    expect_gguf(&b, IRIS_EFORMAT, "multiple of 32");
    g_head(&b, 3, 1, 0);
    g_tensor(&b, "w", 2, d2, GGML_F32, 8);
    g_pad(&b, 32, 512);
    expect_gguf(&b, IRIS_EFORMAT, "not 32-aligned");
    g_head(&b, 3, 1, 0);
    g_tensor(&b, "w", 2, d2, GGML_F32, 0);
    g_pad(&b, 32, 255); /* one byte short */
    expect_gguf(&b, IRIS_EFORMAT, "past the end");
    g_head(&b, 3, 2, 0);
    g_tensor(&b, "a", 2, d2, GGML_F32, 0);
    g_tensor(&b, "b", 2, d2, GGML_F32, 224);
    g_pad(&b, 32, 512);
    expect_gguf(&b, IRIS_EFORMAT, "overlap");
    g_head(&b, 3, 2, 0);
    g_tensor(&b, "a", 2, d2, GGML_F32, 0);
    g_tensor(&b, "a", 2, d2, GGML_F32, 256);
    g_pad(&b, 32, 512);
    expect_gguf(&b, IRIS_EFORMAT, "'a' appears twice");
}

/* Every value type, nested arrays, a custom alignment: all readable. */
static void test_gguf_valid(void)
{
    gbuf b;
    g_head(&b, 2, 2, 6);
    g_kv_u32(&b, "general.alignment", 64);
    g_str(&b, "small"), g_u32(&b, GGUF_U8), g_raw(&b, "\x07", 1);
    g_str(&b, "eps"), g_u32(&b, GGUF_F64);
    double eps = 1e-6;
    g_raw(&b, &eps, 8);
    g_str(&b, "name"), g_u32(&b, GGUF_STRING), g_str(&b, "tiny");
    g_str(&b, "words"), g_u32(&b, GGUF_ARRAY), g_u32(&b, GGUF_STRING), g_u64(&b, 2);
    g_str(&b, "a"), g_str(&b, "bc");
    g_str(&b, "nest"), g_u32(&b, GGUF_ARRAY), g_u32(&b, GGUF_ARRAY), g_u64(&b, 1);
    g_u32(&b, GGUF_I64), g_u64(&b, 1), g_u64(&b, 5);
    const uint64_t qd[] = {64, 3};
    g_tensor(&b, "w", 2, d2, GGML_F16, 0);
    g_tensor(&b, "q", 2, qd, GGML_Q8_0, 128);
    g_pad(&b, 64, 128 + 6 * 34);
    CHECK_OK(fx_write(scratch, "valid.gguf", b.p, b.n));
    char path[512];
    snprintf(path, sizeof path, "%s/valid.gguf", scratch);
    gguf_file f;
    CHECK_OK(gguf_open(path, &f));
    uint32_t u;
    float e;
    char str[16];
    char **words;
    int n;
    CHECK_OK(gguf_get_u32(&f, "small", &u));
    CHECK_EQ_INT(u, 7);
    CHECK_OK(gguf_get_f32(&f, "eps", &e));
    CHECK_NEAR(e, 1e-6, 1e-12);
    CHECK_OK(gguf_get_str(&f, "name", str, sizeof str));
    CHECK(!strcmp(str, "tiny"));
    CHECK_OK(gguf_get_strings(&f, "words", &words, &n));
    CHECK(n == 2 && !strcmp(words[1], "bc"));
    free(words);
    CHECK_EQ_INT(gguf_get_u32(&f, "name", &u), IRIS_EFORMAT);
    CHECK_EQ_INT(gguf_get_u32(&f, "absent", &u), IRIS_ENOTFOUND);
    const gguf_tensor *w = gguf_find_tensor(&f, "w"), *q = gguf_find_tensor(&f, "q");
    CHECK(w && w->ne[0] == 2 && w->ne[1] == 32 && w->nbytes == 128); /* PyTorch order */
    CHECK(q && q->ne[0] == 3 && q->ne[1] == 64 && q->nbytes == 6 * 34);
    CHECK_EQ_INT(((const unsigned char *)q->data - (const unsigned char *)w->data), 128);
    CHECK_EQ_INT(((uintptr_t)w->data - (uintptr_t)f.map.data) % 64, 0);
    gguf_close(&f);
}

/* ------------------------------------------------ lying GGUF models */

#define TINY_GGUF "tests/fixtures/models/tiny-q8_0.gguf"

/* The tiny q8_0 GGUF with the bytes after the first `anchor` (skipping
 * `skip` more bytes) overwritten by `with`. */
static void expect_gguf_edit(const char *anchor, size_t skip, const void *with, size_t len,
                             int status, const char *n1, const char *n2)
{
    size_t n = 0;
    char *buf = test_read_file(TINY_GGUF, &n);
    char *at = buf ? memmem(buf, n, anchor, strlen(anchor)) : NULL;
    CHECK_MSG(at, "no '%s'", anchor);
    memcpy(at + strlen(anchor) + skip, with, len);
    char *dir = fx_tmpdir();
    CHECK_OK(fx_write(dir, "m.gguf", buf, n));
    free(buf);
    char p[512];
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    iris_model *m = NULL;
    int rc = iris_model_load(p, NULL, &m);
    CHECK_MSG(rc == status, "-> %d (%s), wanted %d", rc, iris_errmsg(), status);
    CHECK_MSG(strstr(iris_errmsg(), n1) && strstr(iris_errmsg(), n2), "'%s'", iris_errmsg());
    CHECK(strstr(iris_errmsg(), "m.gguf"));
    fx_drop(dir);
}

static void test_gguf_model_lies(void)
{
    uint32_t q4 = GGML_Q4_0, wide = 768;
    /* tensor info: name, u32 ndim (2), 2 x u64 dims, u32 type */
    expect_gguf_edit("t.token_embd.weight", 4 + 16, &q4, 4, IRIS_EUNSUPPORTED,
                     "'t.token_embd.weight'", "q4_0");
    expect_gguf_edit("clip.use_gel", 0, "X", 1, IRIS_EFORMAT, "clip.use_gelu", "missing");
    expect_gguf_edit("clip.has_vision_encoder", 4, "\0", 1, IRIS_EUNSUPPORTED, "text-only",
                     "both towers");
    expect_gguf_edit("clip.vision.embedding_length", 4, &wide, 4, IRIS_EFORMAT,
                     "v.patch_embd.weight", "[768, 3, 8, 8]");
    /* the first token ("!"): key, u32 array, u32 string, u64 count, u64 length */
    expect_gguf_edit("tokenizer.ggml.tokens", 4 + 4 + 8 + 8, "#", 1, IRIS_EFORMAT, "token 0",
                     "byte alphabet");
}

/* ------------------------------------------------ lying model folders */

/* A copy of the tiny model in a fresh folder, with `name` replaced. */
static char *model_with(const char *name, const void *data, size_t len)
{
    char *dir = fx_tmpdir();
    CHECK(dir && !fx_copy_model(TINY_HF, dir, name));
    if (data) CHECK_OK(fx_write(dir, name, data, len));
    return dir;
}

static void expect_load(char *dir, int status, const char *n1, const char *n2)
{
    iris_model *m = NULL;
    int rc = iris_model_load(dir, NULL, &m);
    CHECK_MSG(rc == status, "-> %d (%s), wanted %d", rc, iris_errmsg(), status);
    CHECK(m == NULL);
    CHECK_MSG(strstr(iris_errmsg(), n1), "'%s' lacks '%s'", iris_errmsg(), n1);
    CHECK_MSG(!n2 || strstr(iris_errmsg(), n2), "'%s' lacks '%s'", iris_errmsg(), n2);
    fx_drop(dir);
}

/* The fixture's file `name` with `from` replaced by `to` (first match). */
static char *edit_file(const char *name, const char *from, const char *to, size_t *len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", TINY_HF, name);
    size_t n;
    char *s = test_read_file(p, &n);
    char *at = s ? memmem(s, n, from, strlen(from)) : NULL;
    CHECK_MSG(at, "%s has no '%s'", name, from);
    size_t lf = strlen(from), lt = strlen(to);
    char *out = malloc(n - lf + lt + 1);
    memcpy(out, s, (size_t)(at - s));
    memcpy(out + (at - s), to, lt);
    memcpy(out + (at - s) + lt, at + lf, n - (size_t)(at - s) - lf + 1);
    *len = n - lf + lt;
    free(s);
    return out;
}

static void expect_edit(const char *file, const char *from, const char *to, int status,
                        const char *n1, const char *n2)
{
    size_t len;
    char *s = edit_file(file, from, to, &len);
    char *dir = model_with(file, s, len);
    free(s);
    expect_load(dir, status, n1, n2);
}

static void test_bad_config(void)
{
    expect_load(model_with("config.json", "{\"text_config\": {", 18), IRIS_EFORMAT,
                "config.json", "JSON");
    expect_edit("config.json", "\"hidden_size\": 32", "\"hidden_size\": \"big\"", IRIS_EFORMAT,
                "config.json", "text_config.hidden_size");
    expect_edit("config.json", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 100000",
                IRIS_EFORMAT, "config.json", "num_hidden_layers");
    expect_edit("config.json", "\"num_attention_heads\": 2", "\"num_attention_heads\": 3",
                IRIS_EFORMAT, "config.json", "heads");
    expect_edit("config.json", "\"hidden_act\": \"quick_gelu\"", "\"hidden_act\": \"relu\"",
                IRIS_EUNSUPPORTED, "config.json", "relu");
    expect_edit("config.json", "\"model_type\": \"clip\"", "\"model_type\": \"siglip\"",
                IRIS_EUNSUPPORTED, "config.json", "siglip");
    expect_edit("config.json", "\"layer_norm_eps\": 1e-05", "\"layer_norm_eps\": -1",
                IRIS_EFORMAT, "layer_norm_eps", NULL);
    expect_load(model_with("config.json", NULL, 0), IRIS_ENOTFOUND, "config.json", NULL);
}

/* Config and tensors disagree: the shape check names the tensor. */
static void test_shape_mismatch(void)
{
    expect_edit("config.json", "\"hidden_size\": 32", "\"hidden_size\": 768", IRIS_EFORMAT,
                "model.safetensors", "text_model.embeddings.token_embedding.weight");
    expect_edit("config.json", "\"projection_dim\": 24", "\"projection_dim\": 25",
                IRIS_EFORMAT, "model.safetensors", "projection.weight");
    expect_edit("config.json", "\"patch_size\": 8", "\"patch_size\": 16", IRIS_EFORMAT,
                "model.safetensors", "patch_embedding");
    expect_edit("config.json", "\"vocab_size\": 554", "\"vocab_size\": 600", IRIS_EFORMAT,
                "[554, 32]", "[600, 32]");
}

static void test_bad_tokenizer_files(void)
{
    expect_load(model_with("vocab.json", "{\"a\": ", 6), IRIS_EFORMAT, "vocab.json", NULL);
    expect_load(model_with("merges.txt", NULL, 0), IRIS_ENOTFOUND, "merges.txt", NULL);
    expect_edit("config.json", "\"vocab_size\": 554", "\"vocab_size\": 553", IRIS_EFORMAT,
                "vocab.json has 554 tokens", "553");
    expect_edit("config.json", "\"eos_token_id\": 553", "\"eos_token_id\": 100",
                IRIS_EUNSUPPORTED, "eos_token_id 100", "553");
}

static void test_bad_preprocessor(void)
{
    expect_edit("preprocessor_config.json", "\"image_std\": [", "\"image_std\": [7, ",
                IRIS_EFORMAT, "preprocessor_config.json", "image_std");
    expect_edit("preprocessor_config.json", "\"resample\": 3", "\"resample\": 2",
                IRIS_EUNSUPPORTED, "preprocessor_config.json", "resample");
    expect_edit("preprocessor_config.json", "\"height\": 32", "\"height\": 30",
                IRIS_EUNSUPPORTED, "preprocessor_config.json", "crop_size");
    expect_edit("preprocessor_config.json", "\"shortest_edge\": 36", "\"shortest_edge\": 0",
                IRIS_EFORMAT, "shortest_edge", NULL);
    expect_edit("preprocessor_config.json", "0.2,", "0.0,", IRIS_EFORMAT, "image_std", NULL);
}

static void test_bad_weights(void)
{
    expect_edit("model.safetensors", "\"text_projection.weight\"", "\"text_projection.weighX\"",
                IRIS_EFORMAT, "model.safetensors", "'text_projection.weight' is missing");
    expect_edit("model.safetensors", "\"text_projection.weight\":{\"dtype\":\"F32\"",
                "\"text_projection.weight\":{\"dtype\":\"I32\"", IRIS_EUNSUPPORTED,
                "model.safetensors", "'text_projection.weight' is I32");
    expect_load(model_with("model.safetensors", NULL, 0), IRIS_ENOTFOUND, "model.safetensors",
                NULL);
    char *dir = model_with("model.safetensors", NULL, 0);
    CHECK_OK(fx_write(dir, "pytorch_model.bin", "PK", 2));
    expect_load(dir, IRIS_EUNSUPPORTED, "pytorch_model.bin", NULL);
}

/* logit_scale set to NaN, then to a value whose exp() overflows. */
static void test_bad_logit_scale(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", TINY_HF);
    size_t len = 0;
    unsigned char *buf = (unsigned char *)test_read_file(p, &len);
    st_file f;
    CHECK_OK(st_open(p, &f));
    size_t at = (size_t)((const unsigned char *)st_find(&f, "logit_scale")->data -
                         (const unsigned char *)f.map.data);
    st_close(&f);
    const float bad[] = {NAN, 1000.0f};
    for (int i = 0; i < 2; i++) {
        memcpy(buf + at, &bad[i], 4);
        expect_load(model_with("model.safetensors", buf, len), IRIS_EFORMAT, "model.safetensors",
                    "logit_scale");
    }
    free(buf);
}

/* ----------------------------------------------------------- mutation fuzz */

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

/* Loads dir; a failure must carry a message and a known status. */
static void load_cleanly(const char *dir, int *ok, int *failed)
{
    iris_model *m = NULL;
    int rc = iris_model_load(dir, NULL, &m);
    if (rc == IRIS_OK) {
        CHECK(m != NULL);
        iris_model_info in;
        CHECK_OK(iris_model_get_info(m, &in));
        iris_model_free(m);
        (*ok)++;
        return;
    }
    CHECK_MSG(rc > 0 && rc <= IRIS_EINTERNAL && rc != IRIS_EINTERNAL, "status %d", rc);
    CHECK_MSG(m == NULL && iris_errmsg()[0], "status %d without a message", rc);
    (*failed)++;
}

/* Truncations and byte overwrites of one file of the tiny model; most
 * positions fall in the header (where the parsing is), some in the data. */
static void fuzz_file(const char *name, size_t header_end, int rounds, uint32_t seed)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", TINY_HF, name);
    size_t len = 0;
    char *orig = test_read_file(p, &len);
    char *buf = malloc(len);
    char *dir = fx_tmpdir();
    CHECK(orig && buf && dir && !fx_copy_model(TINY_HF, dir, NULL));
    static const char interesting[] = "\"{}[],:-.0123456789eE\\ \x00\xff";
    int ok = 0, failed = 0;
    for (int r = 0; r < rounds; r++) {
        size_t span = r % 4 == 3 || header_end > len ? len : header_end;
        size_t pos = lcg(&seed) % span, n = len;
        memcpy(buf, orig, len);
        if (r % 3 == 0) {
            n = pos; /* truncate */
        } else {
            for (int k = 0, flips = 1 + (int)(lcg(&seed) % 3); k < flips && pos + k < len; k++)
                buf[pos + k] = (lcg(&seed) & 1) ? (char)lcg(&seed)
                                                : interesting[lcg(&seed) % (sizeof interesting - 1)];
        }
        CHECK_OK(fx_write(dir, name, buf, n));
        load_cleanly(dir, &ok, &failed);
    }
    CHECK(failed > 0); /* the mutations did reach the parser */
    fx_drop(dir);
    free(buf);
    free(orig);
}

static size_t st_header_end(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", TINY_HF);
    unsigned char *b = (unsigned char *)test_read_file(p, NULL);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    free(b);
    return (size_t)n + 8;
}

static void test_fuzz_safetensors(void) { fuzz_file("model.safetensors", st_header_end(), 900, 7); }
static void test_fuzz_config(void) { fuzz_file("config.json", SIZE_MAX, 300, 11); }
static void test_fuzz_preprocessor(void) { fuzz_file("preprocessor_config.json", SIZE_MAX, 150, 13); }
static void test_fuzz_vocab(void) { fuzz_file("vocab.json", SIZE_MAX, 200, 19); }
static void test_fuzz_merges(void) { fuzz_file("merges.txt", SIZE_MAX, 150, 23); }

static size_t gguf_header_end(void)
{
    gguf_file f;
    if (gguf_open(TINY_GGUF, &f)) return 0;
    size_t end = (size_t)((const unsigned char *)f.tensors[0].data - f.tensors[0].offset -
                          (const unsigned char *)f.map.data);
    gguf_close(&f);
    return end;
}

/* GGUF fuzz: the file is the model, so it is copied alone. */
static void test_fuzz_gguf(void)
{
    size_t len = 0, header = gguf_header_end();
    char *orig = test_read_file(TINY_GGUF, &len), *buf = malloc(len);
    char *dir = fx_tmpdir();
    CHECK(orig && buf && dir && header > 0);
    char p[512];
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    uint32_t seed = 17;
    int ok = 0, failed = 0;
    for (int r = 0; r < 900; r++) {
        size_t pos = lcg(&seed) % (r % 4 == 3 ? len : header), n = len;
        memcpy(buf, orig, len);
        if (r % 3 == 0) n = pos;
        else
            for (int k = 0; k < 1 + (int)(lcg(&seed) % 3) && pos + k < len; k++)
                buf[pos + k] = (char)lcg(&seed);
        CHECK_OK(fx_write(dir, "m.gguf", buf, n));
        load_cleanly(p, &ok, &failed);
    }
    CHECK(failed > 0 && ok > 0);
    fx_drop(dir);
    free(buf), free(orig);
}

int main(void)
{
    scratch = fx_tmpdir();
    if (!scratch) return 1;
    RUN(test_st_header);
    RUN(test_st_shapes);
    RUN(test_st_offsets);
    RUN(test_st_length);
    RUN(test_st_valid_extras);
    RUN(test_gguf_header);
    RUN(test_gguf_values);
    RUN(test_gguf_tensors);
    RUN(test_gguf_valid);
    RUN(test_gguf_model_lies);
    RUN(test_bad_config);
    RUN(test_shape_mismatch);
    RUN(test_bad_tokenizer_files);
    RUN(test_bad_preprocessor);
    RUN(test_bad_weights);
    RUN(test_bad_logit_scale);
    RUN(test_fuzz_safetensors);
    RUN(test_fuzz_config);
    RUN(test_fuzz_preprocessor);
    RUN(test_fuzz_vocab);
    RUN(test_fuzz_merges);
    RUN(test_fuzz_gguf);
    fx_drop(scratch);
    return test_summary();
}
