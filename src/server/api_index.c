/*
 * api_index.c - the index as a whole: health, status, the 2D map, and
 * zero-shot classification.
 *
 * The map: built once the index is open (server.c) and rebuilt when a
 * map request finds the index changed (iris_map_current), one build at a
 * time; searches meanwhile project onto the map they find (a read lock),
 * and say which generation it is so the UI knows when to reload it.
 * The JSON for the default sample is rendered once per map; points come
 * as parallel arrays (ids, x, y, modality), about 25 bytes a point.
 *
 * Sampling: past max_points (default 20000) the map shows a uniform
 * sample chosen by a hash of the item id, so the same items stay on
 * screen as the index grows, and says how many it leaves out.
 */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_POINTS 20000
#define MAX_POINTS 200000
#define MAX_LABELS 100
#define MAX_ITEMS 256
#define MAX_LABEL_BYTES 200

/* ---------------------------------------------------------------- health */

static const char *state_name(int state)
{
    static const char *const names[] = {"opening", "ready", "failed", "stopping"};
    return state >= 0 && state <= STATE_STOPPING ? names[state] : "?";
}

void api_health(server *s, request *q, reply *r)
{
    int state = atomic_load(&s->state);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", state_name(state));
    reply_json(r, state == STATE_READY ? 200 : 503, o);
}

static void add_index_stats(server *s, cJSON *o)
{
    iris_stats st;
    if (iris_db_stats(s->db, &st)) {
        cJSON_AddStringToObject(o, "error", iris_errmsg());
        return;
    }
    cJSON_AddStringToObject(o, "path", iris_db_path(s->db));
    cJSON_AddNumberToObject(o, "files", (double)st.files);
    cJSON_AddNumberToObject(o, "files_skipped", (double)st.files_skipped);
    cJSON_AddNumberToObject(o, "contents_pending", (double)st.contents_pending);
    cJSON_AddNumberToObject(o, "items", (double)st.items);
    cJSON *by = cJSON_AddObjectToObject(o, "items_by_modality");
    for (int m = 1; m < IRIS_N_MODS; m++)
        cJSON_AddNumberToObject(by, iris_modality_name(m), (double)st.items_by_modality[m]);
    cJSON_AddNumberToObject(o, "vectors", (double)st.vectors);
    cJSON_AddNumberToObject(o, "db_bytes", (double)st.db_bytes);
    cJSON_AddNumberToObject(o, "schema_version", st.schema_version);
    if (!st.has_model) {
        cJSON_AddNullToObject(o, "model");
        return;
    }
    cJSON *m = cJSON_AddObjectToObject(o, "model");
    cJSON_AddStringToObject(m, "name", st.model_name);
    cJSON_AddStringToObject(m, "id", st.model_id);
    cJSON_AddNumberToObject(m, "dim", st.model_dim);
    if (s->model_error[0]) cJSON_AddStringToObject(m, "error", s->model_error);
}

void api_status(server *s, request *q, reply *r)
{
    int state = atomic_load(&s->state);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", state_name(state));
    cJSON_AddStringToObject(o, "version", iris_version());
    if (state == STATE_FAILED) cJSON_AddStringToObject(o, "error", s->open_error);
    if (state == STATE_READY) add_index_stats(s, cJSON_AddObjectToObject(o, "index"));
    else cJSON_AddNullToObject(o, "index");
    const serve_config *c = s->cfg;
    cJSON *sv = cJSON_AddObjectToObject(o, "server");
    cJSON_AddNumberToObject(sv, "threads", c->threads);
    cJSON_AddNumberToObject(sv, "uptime_s", serve_now() - s->started);
    cJSON_AddNumberToObject(sv, "requests_in_flight", atomic_load(&s->active)); /* this one too */
    cJSON_AddNumberToObject(sv, "answers_in_progress", atomic_load(&s->deferred_running));
    cJSON_AddBoolToObject(sv, "auth", s->has_key);
    if (c->cors_origin) cJSON_AddStringToObject(sv, "cors", c->cors_origin);
    else cJSON_AddNullToObject(sv, "cors");
    cJSON_AddNumberToObject(sv, "max_upload_bytes", (double)c->max_upload);
    cJSON_AddNumberToObject(sv, "max_pixels", (double)c->max_pixels);
    cJSON *f = cJSON_AddObjectToObject(o, "features");
    cJSON_AddBoolToObject(f, "map", 1);
    /* The configuration is read again each time, as /api/ask does. */
    char model[256];
    int arc = iris_ask_model(c->llm_config, model, sizeof model);
    cJSON_AddBoolToObject(f, "answer", !arc && model[0]);
    if (!arc && model[0]) cJSON_AddStringToObject(f, "answer_model", model);
    else cJSON_AddNullToObject(f, "answer_model");
    if (arc) cJSON_AddStringToObject(f, "answer_error", iris_errmsg());
    reply_json(r, 200, o);
}

/* ------------------------------------------------------------------- map */

static uint64_t mix(uint64_t x) /* splitmix64's finaliser */
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct ranked {
    uint64_t h;
    int i;
} ranked;

static int by_hash(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h ? 1 : x->i - y->i;
}

static int by_index(const void *a, const void *b)
{
    return ((const ranked *)a)->i - ((const ranked *)b)->i;
}

/* Indices of the points shown (ascending), *n of them; NULL = all. */
static ranked *sample(const iris_map *m, int max, int *n)
{
    *n = m->n;
    if (m->n <= max) return NULL;
    ranked *r = malloc(sizeof *r * (size_t)m->n);
    if (!r) return NULL; /* shown whole rather than not at all */
    for (int i = 0; i < m->n; i++) r[i] = (ranked){mix((uint64_t)m->points[i].item_id), i};
    qsort(r, (size_t)m->n, sizeof *r, by_hash);
    qsort(r, (size_t)max, sizeof *r, by_index);
    *n = max;
    return r;
}

static void add_floats(iris_buf *b, const char *name, const iris_map *m, const ranked *pick,
                       int n, int what)
{
    char num[48];
    snprintf(num, sizeof num, ",\"%s\":[", name);
    iris_buf_str(b, num);
    for (int k = 0; k < n; k++) {
        const iris_map_point *p = &m->points[pick ? pick[k].i : k];
        if (what == 0) snprintf(num, sizeof num, "%s%lld", k ? "," : "", (long long)p->item_id);
        else if (what == 3) snprintf(num, sizeof num, "%s%d", k ? "," : "", p->modality);
        else snprintf(num, sizeof num, "%s%.5g", k ? "," : "", what == 1 ? p->x : p->y);
        iris_buf_str(b, num);
    }
    iris_buf_str(b, "]");
}

/* The map as JSON (malloc'ed), with at most max points. */
static char *render(const iris_map *m, int max)
{
    int n;
    ranked *pick = sample(m, max, &n);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "generation", (double)m->generation);
    cJSON_AddStringToObject(o, "method", "pca");
    cJSON_AddNumberToObject(o, "dim", m->dim);
    cJSON_AddNumberToObject(o, "total", m->n);
    cJSON_AddNumberToObject(o, "shown", n);
    cJSON_AddBoolToObject(o, "sampled", n < m->n);
    double tv = m->total_variance > 0 ? m->total_variance : 1;
    const double ex[2] = {m->variance[0] / tv, m->variance[1] / tv};
    cJSON_AddItemToObject(o, "explained_variance", cJSON_CreateDoubleArray(ex, 2));
    cJSON *names = cJSON_AddObjectToObject(o, "modalities");
    for (int k = 1; k < IRIS_N_MODS; k++) {
        char key[16];
        snprintf(key, sizeof key, "%d", k);
        cJSON_AddStringToObject(names, key, iris_modality_name(k));
    }
    char *head = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    iris_buf b = {0};
    if (head) iris_buf_add(&b, head, strlen(head) - 1, 0); /* without the closing brace */
    free(head);
    add_floats(&b, "ids", m, pick, n, 0);
    add_floats(&b, "x", m, pick, n, 1);
    add_floats(&b, "y", m, pick, n, 2);
    add_floats(&b, "modality", m, pick, n, 3);
    iris_buf_str(&b, "}");
    free(pick);
    return b.p;
}

int map_refresh(server *s)
{
    pthread_mutex_lock(&s->map.build);
    pthread_rwlock_rdlock(&s->map.lock);
    iris_map *old = s->map.map;
    int current = 0, rc = old ? iris_map_current(s->db, old, &current) : IRIS_OK;
    pthread_rwlock_unlock(&s->map.lock);
    if (!rc && !current) {
        iris_map *m;
        rc = iris_map_get(s->db, &m);
        if (!rc) {
            char *json = render(m, DEFAULT_POINTS);
            pthread_rwlock_wrlock(&s->map.lock);
            old = s->map.map;
            char *old_json = s->map.json;
            s->map.map = m;
            s->map.json = json;
            pthread_rwlock_unlock(&s->map.lock);
            iris_map_free(old);
            free(old_json);
        }
    }
    pthread_mutex_unlock(&s->map.build);
    return rc;
}

void api_map(server *s, request *q, reply *r)
{
    int max = DEFAULT_POINTS;
    if (req_int(q, r, "max_points", 1, MAX_POINTS, &max) < 0) return;
    int rc = map_refresh(s);
    if (rc) {
        reply_iris_error(r, rc);
        return;
    }
    pthread_rwlock_rdlock(&s->map.lock);
    char *json = max == DEFAULT_POINTS && s->map.json ? strdup(s->map.json)
                                                      : render(s->map.map, max);
    pthread_rwlock_unlock(&s->map.lock);
    if (json) reply_bytes(r, 200, "application/json", json, strlen(json));
    else reply_error(r, 500, NULL, "out of memory rendering the map");
}

static cJSON *point(const iris_map *m, int64_t id)
{
    const iris_map_point *p = m ? iris_map_find(m, id) : NULL;
    if (!p) return cJSON_CreateNull();
    const double xy[2] = {p->x, p->y};
    return cJSON_CreateDoubleArray(xy, 2);
}

void map_annotate(server *s, cJSON *o, const float *vec, int dim)
{
    pthread_rwlock_rdlock(&s->map.lock);
    const iris_map *m = s->map.map && s->map.map->n ? s->map.map : NULL;
    cJSON *e, *results = cJSON_GetObjectItemCaseSensitive(o, "results");
    cJSON_ArrayForEach(e, results) {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "item_id");
        cJSON_AddItemToObject(e, "map", point(m, id ? (int64_t)id->valuedouble : 0));
    }
    float xy[2];
    if (!m) {
        cJSON_AddNullToObject(o, "map");
    } else {
        cJSON *mo = cJSON_AddObjectToObject(o, "map");
        cJSON_AddNumberToObject(mo, "generation", (double)m->generation);
        if (vec && !iris_map_project(m, vec, dim, xy)) {
            const double d[2] = {xy[0], xy[1]};
            cJSON_AddItemToObject(mo, "query", cJSON_CreateDoubleArray(d, 2));
        }
        else cJSON_AddNullToObject(mo, "query");
    }
    pthread_rwlock_unlock(&s->map.lock);
}

void map_annotate_item(server *s, cJSON *o, int64_t item_id)
{
    pthread_rwlock_rdlock(&s->map.lock);
    cJSON_AddItemToObject(o, "map", point(s->map.map, item_id));
    pthread_rwlock_unlock(&s->map.lock);
}

/* -------------------------------------------------------------- classify */

/* labels from a JSON array of strings, or a comma-separated string. */
static int read_labels(cJSON *arr, const char *csv, char ***labels, int *n, reply *r)
{
    char **out = calloc(MAX_LABELS + 1, sizeof *out);
    int k = 0;
    cJSON *e;
    if (arr) cJSON_ArrayForEach(e, arr) {
        if (!cJSON_IsString(e) || k == MAX_LABELS + 1) continue;
        out[k++] = strdup(e->valuestring);
    }
    for (const char *p = csv; p && *p && k <= MAX_LABELS;) {
        size_t len = strcspn(p, ",");
        while (len && (*p == ' ')) p++, len--;
        size_t end = len;
        while (end && p[end - 1] == ' ') end--;
        if (end) out[k++] = strndup(p, end);
        p += len + (p[len] == ',');
    }
    *labels = out;
    *n = k;
    for (int i = 0; i < k; i++)
        if (!out[i] || !*out[i] || strlen(out[i]) > MAX_LABEL_BYTES) {
            reply_error(r, 400, NULL, "each label must be 1 to %d bytes", MAX_LABEL_BYTES);
            return -1;
        }
    if (k < 2 || k > MAX_LABELS) {
        reply_error(r, 400, NULL, "give 2 to %d labels (got %d)", MAX_LABELS, k);
        return -1;
    }
    return 0;
}

static void free_labels(char **labels, int n)
{
    for (int i = 0; i < n; i++) free(labels[i]);
    free(labels);
}

static cJSON *probs_json(const float *p, char **labels, int n)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "probs");
    int best = 0;
    for (int i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(p[i]));
        if (p[i] > p[best]) best = i;
    }
    cJSON_AddStringToObject(o, "label", labels[best]);
    cJSON_AddNumberToObject(o, "score", p[best]);
    return o;
}

/* Item vectors for the ids in arr: (n x dim, malloc'ed), or NULL (reply filled). */
static float *item_vectors(server *s, cJSON *arr, int dim, int64_t *ids, int *n, reply *r)
{
    int k = cJSON_GetArraySize(arr);
    if (k < 1 || k > MAX_ITEMS) {
        reply_error(r, 400, NULL, "items must list 1 to %d item ids", MAX_ITEMS);
        return NULL;
    }
    float *v = malloc(sizeof(float) * dim * (size_t)k);
    cJSON *e;
    int i = 0, rc = v ? IRIS_OK : IRIS_ENOMEM;
    cJSON_ArrayForEach(e, arr) {
        if (rc) break;
        if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble != (int64_t)e->valuedouble) {
            reply_error(r, 400, NULL, "items must be positive whole numbers");
            free(v);
            return NULL;
        }
        ids[i] = (int64_t)e->valuedouble;
        rc = iris_item_vector(s->db, ids[i], v + (size_t)i * dim, dim);
        i++;
    }
    if (rc) {
        reply_iris_error(r, rc);
        free(v);
        return NULL;
    }
    *n = k;
    return v;
}

void api_classify(server *s, request *q, reply *r)
{
    cJSON *body = q->multipart ? NULL : req_json(q, r);
    if (!q->multipart && !body) return;
    char **labels = NULL;
    int n_labels = 0, n = 0, dim = 0;
    const iris_model *m = NULL;
    int64_t ids[MAX_ITEMS];
    float *vecs = NULL, *probs = NULL;
    cJSON *items = body ? cJSON_GetObjectItemCaseSensitive(body, "items") : NULL;
    int rc = read_labels(body ? cJSON_GetObjectItemCaseSensitive(body, "labels") : NULL,
                         q->multipart ? req_arg(q, "labels") : NULL, &labels, &n_labels, r);
    if (!rc && (rc = iris_db_model(s->db, &m))) reply_iris_error(r, rc);
    if (!rc) dim = iris_model_dim(m);
    if (!rc && q->multipart) {
        vecs = embed_upload(s, q, r, &dim);
        n = 1;
    } else if (!rc && !cJSON_IsArray(items)) {
        reply_error(r, 400, NULL, "items (an array of item ids) is missing");
    } else if (!rc) {
        vecs = item_vectors(s, items, dim, ids, &n, r);
    }
    if (vecs && !(probs = malloc(sizeof(float) * n * (size_t)n_labels))) rc = IRIS_ENOMEM;
    if (vecs && !rc)
        rc = iris_classify_vectors(m, (const char *const *)labels, n_labels, vecs, n, NULL, probs);
    if (vecs && rc) reply_iris_error(r, rc);
    if (vecs && !rc) {
        cJSON *o = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(o, "results");
        cJSON_AddItemToObject(o, "labels",
                              cJSON_CreateStringArray((const char *const *)labels, n_labels));
        for (int i = 0; i < n; i++) {
            cJSON *e = probs_json(probs + (size_t)i * n_labels, labels, n_labels);
            if (q->multipart) cJSON_AddStringToObject(e, "image", "upload");
            else cJSON_AddNumberToObject(e, "item_id", (double)ids[i]);
            cJSON_AddItemToArray(res, e);
        }
        reply_json(r, 200, o);
    }
    free(probs);
    free(vecs);
    free_labels(labels, n_labels);
    cJSON_Delete(body);
}
