/*
 * registry.c - the models `iris model fetch` can install, and the cache
 * directory they go to.
 *
 * Every file is pinned to one commit of its Hugging Face repository, so the
 * bytes behind a name never change. Checksums are the SHA-256 values
 * published for those exact files (Hugging Face lists the SHA-256 of every
 * LFS file; the values here were collected from several independent public
 * projects that pin the same files, see docs/models.md). Where no published
 * checksum could be found the entry says NULL and the fetch checks the size
 * only, printing the digest it computed: none is made up here.
 *
 * openai/clip-vit-base-patch32 keeps only pytorch_model.bin on its main
 * branch; its safetensors conversion lives on the commit of the
 * conversion pull request (refs/pr/15), which is what model.safetensors is
 * pinned to. The small JSON/text files come from the main-branch commit.
 */
#include "clip/registry.h"

#include "net/download.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define OPENAI_B32_MAIN "3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268"
#define OPENAI_B32_SAFETENSORS "b33cedfd0df4e43b8238760678fcc89e1a0d38b3"

static const iris_known_file openai_b32_files[] = {
    {"config.json", 4186, "b575ef3c36f2a057fa19e221650105052d61cc9c1a972ec15019c6261ec98770",
     NULL},
    {"preprocessor_config.json", 316,
     "910e70b3956ac9879ebc90b22fb3bc8a75b6a0677814500101a4c072bd7857bd", NULL},
    {"vocab.json", 862328, "5047b556ce86ccaf6aa22b3ffccfc52d391ea4accdab9c2f2407da5b742d4363",
     NULL},
    {"merges.txt", 524657, "f526393189112391ce6f9795d4695f704121ce452c3aad1f5335cc41337eba85",
     NULL},
    {"model.safetensors", 605157884,
     "99d28a652e6ec46629ab7047a0ac82c69b1fe11e0ce672c43af65d3a9a3fc05d", OPENAI_B32_SAFETENSORS},
};

#define LAION_GGUF(q) "CLIP-ViT-B-32-laion2B-s34B-b79K_ggml-model-" q ".gguf"
static const iris_known_file laion_gguf_f16[] = {
    {LAION_GGUF("f16"), 303810560,
     "8140b294ed52b960e4fe6c1f17dfc25bd36086b2744eaa242fd42ed98a4f6499", NULL},
};
static const iris_known_file laion_gguf_q8_0[] = {{LAION_GGUF("q8_0"), 164391744, NULL, NULL}};
static const iris_known_file laion_gguf_f32[] = {{LAION_GGUF("f32"), 601237504, NULL, NULL}};

#define N_OF(a) (int)(sizeof a / sizeof a[0])
#define LAION_REPO "mys/ggml_CLIP-ViT-B-32-laion2B-s34B-b79K"
#define LAION_REV "26ebd3e1648320e965df9e69ca01963d144cb380"

static const iris_known_model known[] = {
    {"clip-vit-base-patch32", "OpenAI CLIP ViT-B/32, Hugging Face format (f32, 605 MB)",
     "openai/clip-vit-base-patch32", OPENAI_B32_MAIN, NULL, openai_b32_files,
     N_OF(openai_b32_files)},
    {"clip-vit-b32-laion-gguf-f16", "LAION CLIP ViT-B/32 (laion2B-s34B-b79K), clip.cpp GGUF f16 (304 MB)",
     LAION_REPO, LAION_REV, LAION_GGUF("f16"), laion_gguf_f16, N_OF(laion_gguf_f16)},
    {"clip-vit-b32-laion-gguf-q8_0",
     "LAION CLIP ViT-B/32, clip.cpp GGUF q8_0 (164 MB; size check only, no published checksum)",
     LAION_REPO, LAION_REV, LAION_GGUF("q8_0"), laion_gguf_q8_0, N_OF(laion_gguf_q8_0)},
    {"clip-vit-b32-laion-gguf-f32",
     "LAION CLIP ViT-B/32, clip.cpp GGUF f32 (601 MB; size check only, no published checksum)",
     LAION_REPO, LAION_REV, LAION_GGUF("f32"), laion_gguf_f32, N_OF(laion_gguf_f32)},
};

const iris_known_model *iris_model_known(int i)
{
    return i >= 0 && i < N_OF(known) ? &known[i] : NULL;
}

const iris_known_model *clip_registry_find(const char *name)
{
    for (int i = 0; name && i < N_OF(known); i++)
        if (!strcmp(known[i].name, name)) return &known[i];
    return NULL;
}

static int unknown(const char *name)
{
    char names[512] = "";
    for (int i = 0; i < N_OF(known); i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                 known[i].name);
    return iris_fail(IRIS_ENOTFOUND, "unknown model '%s' (known: %s)", name, names);
}

int clip_registry_cache_dir(char *buf, size_t cap)
{
    const char *v;
    int n;
    if ((v = getenv("IRIS_CACHE")) && *v) n = snprintf(buf, cap, "%s/models", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v) n = snprintf(buf, cap, "%s/iris/models", v);
    else if ((v = getenv("HOME")) && *v) n = snprintf(buf, cap, "%s/.cache/iris/models", v);
    else return iris_fail(IRIS_ENOTFOUND, "no cache directory: set IRIS_CACHE or HOME");
    if (n < 0 || (size_t)n >= cap) return iris_fail(IRIS_ELIMIT, "cache directory path too long");
    return IRIS_OK;
}

/* The install folder of k (dir) and, with `file`, a path inside it. */
static int install_path(const iris_known_model *k, const char *file, char *buf, size_t cap)
{
    char dir[4096];
    int rc = clip_registry_cache_dir(dir, sizeof dir);
    if (rc) return rc;
    int n = file ? snprintf(buf, cap, "%s/%s/%s", dir, k->name, file)
                 : snprintf(buf, cap, "%s/%s", dir, k->name);
    if (n < 0 || (size_t)n >= cap) return iris_fail(IRIS_ELIMIT, "model path too long");
    return IRIS_OK;
}

int iris_model_path(const char *name, char *path, size_t cap)
{
    const iris_known_model *k = clip_registry_find(name);
    if (!k) return unknown(name ? name : "(null)");
    return install_path(k, k->model_file, path, cap);
}

int iris_model_installed(const char *name)
{
    const iris_known_model *k = clip_registry_find(name);
    for (int i = 0; k && i < k->n_files; i++) {
        char p[4096];
        struct stat st;
        if (install_path(k, k->files[i].name, p, sizeof p) || stat(p, &st) ||
            (uint64_t)st.st_size != k->files[i].size)
            return 0;
    }
    return k != NULL;
}

int iris_model_default(char *path, size_t cap)
{
    const char *env = getenv("IRIS_MODEL");
    if (env && *env) {
        if (snprintf(path, cap, "%s", env) >= (int)cap) return iris_fail(IRIS_ELIMIT, "IRIS_MODEL is too long");
        return IRIS_OK;
    }
    for (int i = 0; i < N_OF(known); i++)
        if (iris_model_installed(known[i].name)) return iris_model_path(known[i].name, path, cap);
    return iris_fail(IRIS_ENOTFOUND,
                     "no model: pass --model DIR (a Hugging Face CLIP folder or a GGUF file), set "
                     "IRIS_MODEL, or run 'iris model fetch %s'",
                     known[0].name);
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) && errno != EEXIST) break;
        *s = '/';
    }
    if (mkdir(p, 0755) && errno != EEXIST)
        return iris_fail(IRIS_EIO, "cannot create %s: %s", p, strerror(errno));
    return IRIS_OK;
}

typedef struct fetch_ctx {
    const char *file;
    iris_fetch_progress progress;
    void *user;
} fetch_ctx;

static void on_progress(uint64_t done, uint64_t total, void *user)
{
    fetch_ctx *c = user;
    if (c->progress) c->progress(c->file, done, total, NULL, c->user);
}

static int offline_hint(int rc, const char *endpoint, const iris_known_model *k)
{
    char dir[4096] = "";
    install_path(k, NULL, dir, sizeof dir);
    return iris_fail_wrap(
        rc,
        "cannot download %s: this machine cannot reach %s (offline?). To install it by hand, copy "
        "the files of https://huggingface.co/%s (%s) into %s, or put any Hugging Face CLIP folder "
        "(config.json, model.safetensors, vocab.json, merges.txt, preprocessor_config.json) "
        "anywhere and pass --model DIR",
        k->name, endpoint, k->repo, k->model_file ? k->model_file : "config.json, model.safetensors, ...",
        dir);
}

int iris_model_fetch(const char *name, iris_fetch_progress progress, void *user)
{
    const iris_known_model *k = clip_registry_find(name);
    if (!k) return unknown(name ? name : "(null)");
    char dir[4096], endpoint[1024];
    int rc = install_path(k, NULL, dir, sizeof dir);
    if (!rc) rc = make_dirs(dir);
    if (rc) return rc;
    const char *ep = getenv("HF_ENDPOINT");
    snprintf(endpoint, sizeof endpoint, "%s", ep && *ep ? ep : "https://huggingface.co");
    size_t el = strlen(endpoint);
    while (el && endpoint[el - 1] == '/') endpoint[--el] = '\0';
    for (int i = 0; i < k->n_files && !rc; i++) {
        const iris_known_file *f = &k->files[i];
        char url[2048], dest[4400], hex[65];
        snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", endpoint, k->repo,
                 f->revision ? f->revision : k->revision, f->name);
        snprintf(dest, sizeof dest, "%s/%s", dir, f->name);
        fetch_ctx c = {f->name, progress, user};
        iris_download_opts o = {0, 0, on_progress, &c};
        rc = iris_download(url, dest, f->size, f->sha256, &o, hex);
        if (rc == IRIS_ENET) rc = offline_hint(rc, endpoint, k);
        if (!rc && progress) progress(f->name, f->size, f->size, hex, user);
    }
    return rc;
}
