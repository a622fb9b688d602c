/*
 * registry.h - the models `iris model fetch` knows: where each file lives
 * (a Hugging Face repository pinned to one commit), its size and, where a
 * published checksum was found, its SHA-256; and where fetched models are
 * installed (the cache directory).
 */
#ifndef IRIS_CLIP_REGISTRY_H
#define IRIS_CLIP_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct clip_known_file {
    const char *name;   /* file name in the repository and in the install dir */
    uint64_t size;      /* bytes, 0 when unknown */
    const char *sha256; /* lowercase hex, NULL when no published checksum is known */
    const char *revision; /* commit for this file; NULL: the model's revision */
} clip_known_file;

typedef struct clip_known_model {
    const char *name;        /* what the user types: "clip-vit-base-patch32" */
    const char *description;
    const char *repo;        /* Hugging Face repository, "openai/clip-vit-base-patch32" */
    const char *revision;    /* pinned commit */
    const char *model_file;  /* GGUF: the file that is the model; NULL: the folder is */
    const clip_known_file *files;
    int n_files;
} clip_known_model;

const clip_known_model *clip_registry_find(const char *name);
/* The i-th known model, NULL past the end. */
const clip_known_model *clip_registry_get(int i);

/* Where models are installed: $IRIS_CACHE/models, else
 * $XDG_CACHE_HOME/iris/models, else ~/.cache/iris/models. */
int clip_registry_cache_dir(char *buf, size_t cap);
/* The path iris_model_load takes for a known model: its install folder, or
 * the GGUF file inside it. */
int clip_registry_model_path(const char *name, char *buf, size_t cap);

#endif
