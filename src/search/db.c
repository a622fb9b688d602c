/*
 * db.c - opening an index (iris_db), finding its CLIP model, statistics.
 *
 * Which model: the one named by the caller; else the one the index records
 * (how it was named: a known model name, resolved through the model cache,
 * or an absolute path); else, for an index nothing was indexed into yet,
 * $IRIS_MODEL, the config file's [model] section (`name` or `path`), then
 * the first installed known model. Whatever is found is checked against
 * the index's recorded model id before a single vector is compared, so a
 * model change is a clear IRIS_EMODEL and never silently wrong scores.
 *
 * Loading is lazy: keyword search and stats never map the weights. An
 * explicit model is loaded at open, so a mismatch fails early.
 */
#include "search/db.h"

#include "index/index.h"
#include "search/vcache.h"
#include "util/config.h"
#include "util/error.h"

#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void db_lock(iris_db *db) { pthread_mutex_lock(&db->lock); }
void db_unlock(iris_db *db) { pthread_mutex_unlock(&db->lock); }

/* ------------------------------------------------------------- open/close */

int iris_db_open(const char *path, const iris_db_opts *opts, iris_db **out)
{
    if (!out) return iris_fail(IRIS_EARG, "iris_db_open: out is NULL");
    *out = NULL;
    if (!path || !*path) path = IRIS_DEFAULT_DB;
    iris_db *db = calloc(1, sizeof *db);
    if (!db) return iris_fail(IRIS_ENOMEM, "no memory for an index handle");
    pthread_mutex_init(&db->lock, NULL);
    db->readonly = opts && opts->readonly;
    db->n_threads = opts ? opts->n_threads : 0;
    int rc = IRIS_OK;
    if (!(db->path = strdup(path)) ||
        (opts && opts->model && !(db->model_arg = strdup(opts->model))))
        rc = iris_fail(IRIS_ENOMEM, "no memory for an index handle");
    store_opts so = {.readonly = db->readonly};
    if (!rc) rc = store_open(path, &so, &db->st);
    char ann[4200];
    if (!rc) rc = iris_ann_path(path, ann, sizeof ann);
    if (!rc) rc = vcache_create(ann, &db->vc);
    if (!rc && db->model_arg) { /* fail early on an explicit model mismatch */
        const iris_model *m;
        rc = db_model_locked(db, &m);
    }
    if (rc) {
        iris_db_close(db);
        return rc;
    }
    *out = db;
    return IRIS_OK;
}

void iris_db_close(iris_db *db)
{
    if (!db) return;
    vcache_free(db->vc);
    store_close(db->st);
    iris_model_free(db->model);
    pthread_mutex_destroy(&db->lock);
    free(db->model_arg);
    free(db->path);
    free(db);
}

const char *iris_db_path(const iris_db *db) { return db ? db->path : ""; }

/* ---------------------------------------------------------------- models */

/* How a model spec is remembered: a known name stays a name (found in the
 * cache wherever it lives), anything else becomes an absolute path. */
static int model_ref(const char *spec, char *ref, size_t cap)
{
    struct stat sb;
    char abs[PATH_MAX];
    if (stat(spec, &sb) == 0 && realpath(spec, abs)) spec = abs;
    if (snprintf(ref, cap, "%s", spec) >= (int)cap)
        return iris_fail(IRIS_ELIMIT, "model path too long: %s", spec);
    return IRIS_OK;
}

/* $IRIS_COMPUTE, else [model] compute in the config file: "f32" (the
 * default) or "bf16" (image encoding in bf16 on AMX tiles where the CPU has
 * them; docs/engine.md). A config file that cannot be read leaves f32: an
 * explicit --model never needed the file, and must not start to. */
static int compute_bf16(int *bf16)
{
    *bf16 = 0;
    const char *v = getenv("IRIS_COMPUTE"), *where = "IRIS_COMPUTE";
    iris_config *cfg = NULL;
    int rc = IRIS_OK;
    if (!v || !*v) {
        if (iris_config_load(NULL, &cfg)) return IRIS_OK;
        v = iris_config_get(cfg, "model", "compute");
        where = iris_config_origin(cfg);
    }
    if (v && strcmp(v, "f32") && strcmp(v, "bf16"))
        rc = iris_fail(IRIS_EARG, "%s: compute \"%s\" is neither \"f32\" nor \"bf16\"", where, v);
    *bf16 = !rc && v && !strcmp(v, "bf16");
    iris_config_free(cfg);
    return rc;
}

static int load_spec(iris_db *db, const char *spec)
{
    iris_model_opts mo = {.n_threads = db->n_threads};
    int rc = compute_bf16(&mo.bf16);
    if (!rc) rc = iris_model_load(spec, &mo, &db->model);
    if (!rc) rc = model_ref(spec, db->model_ref, sizeof db->model_ref);
    return rc;
}

/* $IRIS_MODEL, then [model] name/path in the config file, then the first
 * installed known model (iris_model_default). */
static int default_spec(char *spec, size_t cap)
{
    const char *env = getenv("IRIS_MODEL");
    if (env && *env) return snprintf(spec, cap, "%s", env) < (int)cap ? IRIS_OK
                              : iris_fail(IRIS_ELIMIT, "IRIS_MODEL is too long");
    iris_config *cfg = NULL;
    int rc = iris_config_load(NULL, &cfg);
    if (rc) return rc;
    const char *v = iris_config_get(cfg, "model", "name");
    if (!v) v = iris_config_get(cfg, "model", "path");
    if (v && snprintf(spec, cap, "%s", v) >= (int)cap)
        rc = iris_fail(IRIS_ELIMIT, "%s: [model] value too long", iris_config_origin(cfg));
    iris_config_free(cfg);
    if (rc || v) return rc;
    return iris_model_default(spec, cap);
}

/* The reference recorded with the index's model ("ref" in its info JSON),
 * falling back to the recorded name. */
static int recorded_ref(iris_db *db, const store_model *rec, char *ref, size_t cap)
{
    char *json = NULL;
    int rc = store_model_info_json(db->st, &json);
    if (rc) return rc;
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "ref");
    const char *s = cJSON_IsString(r) ? r->valuestring : rec->name;
    if (snprintf(ref, cap, "%s", s) >= (int)cap) rc = iris_fail(IRIS_ELIMIT, "model ref too long");
    cJSON_Delete(o);
    free(json);
    return rc;
}

static int check_same(iris_db *db, const store_model *rec, int explicit_arg)
{
    iris_model_info in;
    iris_model_get_info(db->model, &in);
    if (!strcmp(in.id, rec->key)) return IRIS_OK;
    if (explicit_arg)
        return iris_fail(IRIS_EMODEL,
                         "%s: index built with %s (model id %.12s), you asked for %s (model "
                         "id %.12s); re-index with --model %s or drop --model",
                         db->path, rec->name, rec->key, db->model_arg, in.id, db->model_arg);
    return iris_fail(IRIS_EMODEL,
                     "%s: index built with %s (model id %.12s), but the model at %s is now "
                     "model id %.12s (changed since indexing); restore it, pass --model, or "
                     "re-index",
                     db->path, rec->name, rec->key, db->model_ref, in.id);
}

int db_model_locked(iris_db *db, const iris_model **model)
{
    *model = NULL;
    if (db->model) {
        *model = db->model;
        return IRIS_OK;
    }
    store_model rec;
    int rc = store_model_get(db->st, &rec), has_rec = rc == IRIS_OK;
    if (rc && rc != IRIS_ENOTFOUND) return rc;
    char spec[4096];
    if (db->model_arg) {
        rc = load_spec(db, db->model_arg);
    } else if (has_rec) {
        rc = recorded_ref(db, &rec, spec, sizeof spec);
        if (!rc && (rc = load_spec(db, spec)))
            iris_fail_wrap(rc, "%s: index built with %s, which cannot be loaded from %s "
                               "(pass --model to point at it)", db->path, rec.name, spec);
    } else {
        rc = default_spec(spec, sizeof spec);
        if (!rc) rc = load_spec(db, spec);
    }
    if (!rc && has_rec) {
        db->model_row = rec.id;
        rc = check_same(db, &rec, db->model_arg != NULL);
    }
    if (rc) {
        iris_model_free(db->model);
        db->model = NULL;
        return rc;
    }
    *model = db->model;
    return IRIS_OK;
}

int iris_db_model(iris_db *db, const iris_model **model)
{
    if (!db || !model) return iris_fail(IRIS_EARG, "iris_db_model: NULL argument");
    db_lock(db);
    int rc = db_model_locked(db, model);
    db_unlock(db);
    return rc;
}

static char *info_json(const iris_model_info *in, const char *ref)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ref", ref);
    cJSON_AddStringToObject(o, "name", in->name);
    cJSON_AddStringToObject(o, "format", in->format);
    cJSON_AddStringToObject(o, "dtype", in->dtype);
    cJSON_AddNumberToObject(o, "image_size", in->image_size);
    cJSON_AddNumberToObject(o, "projection_dim", in->projection_dim);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int db_record_model_locked(iris_db *db, const iris_model **model, int64_t *model_row)
{
    if (db->readonly) return iris_fail(IRIS_EARG, "%s: opened read-only", db->path);
    int rc = db_model_locked(db, model);
    if (rc) return rc;
    if (!db->model_row) {
        iris_model_info in;
        iris_model_get_info(db->model, &in);
        char *json = info_json(&in, db->model_ref);
        if (!json) return iris_fail(IRIS_ENOMEM, "no memory");
        /* A known model is recorded under its catalogue name. */
        const char *name = strchr(db->model_ref, '/') ? in.name : db->model_ref;
        rc = store_model_ensure(db->st, in.id, name, in.projection_dim, json, &db->model_row);
        free(json);
        if (rc) return rc;
    }
    if (model_row) *model_row = db->model_row;
    return IRIS_OK;
}

int iris_db_record_model(iris_db *db)
{
    if (!db) return iris_fail(IRIS_EARG, "iris_db_record_model: db is NULL");
    const iris_model *m;
    db_lock(db);
    int rc = db_record_model_locked(db, &m, NULL);
    db_unlock(db);
    return rc;
}

int db_model_row_locked(iris_db *db, int64_t *model_row)
{
    if (!db->model_row) {
        store_model rec;
        int rc = store_model_get(db->st, &rec);
        if (rc) return rc;
        db->model_row = rec.id;
    }
    *model_row = db->model_row;
    return IRIS_OK;
}

int iris_db_ann_sync(iris_db *db, int rebuild)
{
    if (!db) return iris_fail(IRIS_EARG, "iris_db_ann_sync: db is NULL");
    store_model rec;
    db_lock(db);
    int rc = store_model_get(db->st, &rec);
    if (!rc) rc = vcache_sync(db->vc, db->st, &rec, rebuild, 1);
    db_unlock(db);
    return rc == IRIS_ENOTFOUND ? IRIS_OK : rc; /* nothing indexed yet */
}

/* ----------------------------------------------------------------- stats */

int iris_db_stats(iris_db *db, iris_stats *out)
{
    if (!db || !out) return iris_fail(IRIS_EARG, "iris_db_stats: NULL argument");
    memset(out, 0, sizeof *out);
    store_stats ss;
    store_model rec;
    db_lock(db);
    int rc = store_get_stats(db->st, &ss), mrc = rc ? rc : store_model_get(db->st, &rec);
    db_unlock(db);
    if (rc) return rc;
    if (mrc && mrc != IRIS_ENOTFOUND) return mrc;
    out->files = ss.files;
    out->files_skipped = ss.files_skipped;
    out->contents = ss.contents;
    out->contents_pending = ss.contents_pending;
    out->items = ss.items;
    for (int m = 0; m < IRIS_N_MODS && m < STORE_N_MODALITIES; m++)
        out->items_by_modality[m] = ss.items_by_modality[m];
    out->vectors = ss.vectors;
    out->db_bytes = ss.db_bytes;
    out->schema_version = ss.schema_version;
    if (!mrc) {
        out->has_model = 1;
        snprintf(out->model_name, sizeof out->model_name, "%s", rec.name);
        snprintf(out->model_id, sizeof out->model_id, "%s", rec.key);
        out->model_dim = rec.dim;
    }
    return IRIS_OK;
}
