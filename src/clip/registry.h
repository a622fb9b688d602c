/*
 * registry.h - the models `iris model fetch` knows (iris_known_model in
 * iris.h: each file pinned to a commit, with its size and published
 * SHA-256 where one exists) and the cache directory they install to.
 */
#ifndef IRIS_CLIP_REGISTRY_H
#define IRIS_CLIP_REGISTRY_H

#include <stddef.h>

#include "iris.h"

const iris_known_model *clip_registry_find(const char *name);

/* $IRIS_CACHE/models, else $XDG_CACHE_HOME/iris/models, else
 * ~/.cache/iris/models. */
int clip_registry_cache_dir(char *buf, size_t cap);

#endif
