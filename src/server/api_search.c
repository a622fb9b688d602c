/*
 * api_search.c - search by text (GET with query parameters, POST with a
 * JSON body: the same fields), by an uploaded image, and items similar to
 * an indexed one.
 *
 * The server embeds text and images itself (iris_encode_*) and passes the
 * vector to iris_search: the search is the same, and the vector is at
 * hand to place the query on the 2D map (api_index.c). Keyword mode never
 * loads or runs the model.
 *
 * Snippets: iris_search wraps matched terms in markers; the API returns
 * the plain text and the matches as [start, length] pairs counted in
 * Unicode code points, so no client ever has to parse or trust markup.
 */
#include "server/server.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_K 200
#define HL_OPEN "\x02"
#define HL_CLOSE "\x03"

/* ---------------------------------------------------------------- output */

/* Removes the markers from s in place; highlights as [start, length]
 * pairs of code points. */
static cJSON *split_snippet(char *s)
{
    cJSON *hl = cJSON_CreateArray();
    char *w = s;
    int cp = 0, start = -1;
    for (const char *p = s; *p; p++) {
        if (*p == HL_OPEN[0]) {
            start = cp;
        } else if (*p == HL_CLOSE[0]) {
            if (start >= 0 && cp > start) {
                const double pair[2] = {start, cp - start};
                cJSON_AddItemToArray(hl, cJSON_CreateDoubleArray(pair, 2));
            }
            start = -1;
        } else {
            if (((unsigned char)*p & 0xC0) != 0x80) cp++;
            *w++ = *p;
        }
    }
    *w = 0;
    return hl;
}

static cJSON *lane(int rank, double score)
{
    if (!rank) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", rank);
    cJSON_AddNumberToObject(o, "score", score);
    return o;
}

/* Fields every item has in results and details. */
void item_common_json(cJSON *o, int64_t id, int modality, const char *path, int page,
                      int has_bbox, const float *bbox)
{
    char url[64];
    cJSON_AddNumberToObject(o, "item_id", (double)id);
    cJSON_AddStringToObject(o, "modality", iris_modality_name(modality));
    cJSON_AddStringToObject(o, "path", path ? path : "");
    const char *slash = path ? strrchr(path, '/') : NULL;
    cJSON_AddStringToObject(o, "name", slash ? slash + 1 : path ? path : "");
    if (page) cJSON_AddNumberToObject(o, "page", page);
    else cJSON_AddNullToObject(o, "page");
    if (has_bbox) {
        const double b[4] = {bbox[0], bbox[1], bbox[2], bbox[3]};
        cJSON_AddItemToObject(o, "bbox", cJSON_CreateDoubleArray(b, 4));
    } else {
        cJSON_AddNullToObject(o, "bbox");
    }
    int visual = modality == IRIS_MOD_IMAGE || modality == IRIS_MOD_PDF_FIGURE;
    snprintf(url, sizeof url, "/api/items/%lld/thumbnail", (long long)id);
    if (visual) cJSON_AddStringToObject(o, "thumbnail", url);
    else cJSON_AddNullToObject(o, "thumbnail");
    snprintf(url, sizeof url, "/api/items/%lld/file", (long long)id);
    cJSON_AddStringToObject(o, "file", url);
}

static cJSON *hit_json(const iris_hit *h, int rank)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", rank);
    item_common_json(o, h->item_id, h->modality, h->path, h->page, h->has_bbox, h->bbox);
    cJSON_AddNumberToObject(o, "score", h->score);
    cJSON *lanes = cJSON_AddObjectToObject(o, "lanes");
    cJSON_AddItemToObject(lanes, "vector", lane(h->vector_rank, h->vector_score));
    cJSON_AddItemToObject(lanes, "keyword", lane(h->keyword_rank, h->keyword_score));
    char *snip = strdup(h->snippet ? h->snippet : "");
    cJSON *hl = snip ? split_snippet(snip) : cJSON_CreateArray();
    cJSON_AddStringToObject(o, "snippet", snip ? snip : "");
    cJSON_AddItemToObject(o, "highlights", hl);
    free(snip);
    return o;
}

/* embed_ms: time the server spent embedding the query (it passes the
 * vector to iris_search, which then reports ~0 for it). */
static void reply_results(server *s, reply *r, const iris_results *res, cJSON *query,
                          const float *vec, int dim, double embed_ms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "query", query);
    cJSON_AddStringToObject(o, "mode", iris_mode_name(res->mode));
    cJSON_AddNumberToObject(o, "rrf_k", res->rrf_k);
    cJSON *cand = cJSON_AddObjectToObject(o, "candidates");
    cJSON_AddNumberToObject(cand, "vector", res->vector_candidates);
    cJSON_AddNumberToObject(cand, "keyword", res->keyword_candidates);
    cJSON *t = cJSON_AddObjectToObject(o, "timing_ms");
    cJSON_AddNumberToObject(t, "embed", res->embed_ms + embed_ms);
    cJSON_AddNumberToObject(t, "vector", res->vector_ms);
    cJSON_AddNumberToObject(t, "keyword", res->keyword_ms);
    cJSON_AddNumberToObject(t, "fuse", res->fuse_ms);
    cJSON_AddNumberToObject(t, "total", res->total_ms + embed_ms);
    cJSON *arr = cJSON_AddArrayToObject(o, "results");
    for (int i = 0; i < res->n; i++) cJSON_AddItemToArray(arr, hit_json(&res->hits[i], i + 1));
    map_annotate(s, o, vec, dim);
    reply_json(r, 200, o);
}

/* ------------------------------------------------------------- options */

/* Filters and size shared by every kind of search; the echo object gets
 * what was asked. 0, or -1 with the reply filled. */
static int common_options(request *q, reply *r, iris_query *qq, cJSON *echo)
{
    int k = 10;
    if (req_int(q, r, "k", 1, MAX_K, &k) < 0) return -1;
    if (req_types(q, r, "type", &qq->modalities) < 0) return -1;
    const char *path = req_arg(q, "path");
    if (path && *path) qq->path_glob = path;
    qq->k = k;
    cJSON_AddNumberToObject(echo, "k", k);
    if (qq->path_glob) cJSON_AddStringToObject(echo, "path", path);
    cJSON *types = cJSON_AddArrayToObject(echo, "type");
    for (int m = 1; m < IRIS_N_MODS; m++)
        if (qq->modalities & (1u << m))
            cJSON_AddItemToArray(types, cJSON_CreateString(iris_modality_name(m)));
    return 0;
}

static int parse_number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s && !*end && isfinite(*v) ? 0 : -1;
}

static int text_options(request *q, reply *r, iris_query *qq, cJSON *echo)
{
    const char *mode = req_arg(q, "mode"), *min = req_arg(q, "min_score");
    if (mode && *mode && iris_mode_parse(mode, &qq->mode)) {
        reply_error(r, 400, NULL, "mode must be hybrid, vector or keyword, not '%.40s'", mode);
        return -1;
    }
    if (min && *min) {
        if (parse_number(min, &qq->min_score)) {
            reply_error(r, 400, NULL, "min_score must be a number, not '%.40s'", min);
            return -1;
        }
        qq->has_min_score = 1;
        cJSON_AddNumberToObject(echo, "min_score", qq->min_score);
    }
    if (req_int(q, r, "rrf_k", 1, 100000, &qq->rrf_k) < 0) return -1;
    cJSON_AddStringToObject(echo, "mode", iris_mode_name(qq->mode));
    return common_options(q, r, qq, echo);
}

/* ------------------------------------------------------------- running */

/* The index's model for encoding, or NULL with the reply filled. */
static const iris_model *model_of(server *s, reply *r)
{
    const iris_model *m;
    int rc = iris_db_model(s->db, &m);
    if (rc) {
        reply_iris_error(r, rc);
        return NULL;
    }
    return m;
}

static void text_search(server *s, request *q, reply *r, const char *text, cJSON *echo)
{
    iris_query qq = {.text = text, .hl_open = HL_OPEN, .hl_close = HL_CLOSE};
    if (!text || !*text) {
        reply_error(r, 400, NULL, "q (the text to search for) is missing or empty");
        cJSON_Delete(echo);
        return;
    }
    cJSON_AddStringToObject(echo, "q", text);
    if (text_options(q, r, &qq, echo)) {
        cJSON_Delete(echo);
        return;
    }
    float *vec = NULL;
    int dim = 0, rc = IRIS_OK;
    double t0 = serve_now();
    if (qq.mode != IRIS_MODE_KEYWORD && strlen(text) <= 16384) {
        const iris_model *m = model_of(s, r);
        if (!m) {
            cJSON_Delete(echo);
            return;
        }
        dim = iris_model_dim(m);
        if (!(vec = malloc(sizeof(float) * dim))) rc = IRIS_ENOMEM;
        if (!rc) rc = iris_encode_texts(m, &text, 1, vec);
        qq.vector = vec;
        qq.dim = dim;
    }
    double embed_ms = (serve_now() - t0) * 1e3;
    iris_results *res = NULL;
    if (!rc) rc = iris_search(s->db, &qq, &res);
    if (rc) {
        reply_iris_error(r, rc);
        cJSON_Delete(echo);
    } else {
        reply_results(s, r, res, echo, vec, dim, embed_ms);
    }
    iris_results_free(res);
    free(vec);
}

void api_search_get(server *s, request *q, reply *r)
{
    text_search(s, q, r, req_arg(q, "q"), cJSON_CreateObject());
}

/* POST: the JSON fields become the arguments the GET form reads. */
void api_search_post(server *s, request *q, reply *r)
{
    cJSON *body = req_json(q, r);
    if (!body) return;
    static const char *const keys[] = {"mode", "k", "type", "path", "min_score", "rrf_k"};
    req_fields_from_json(q, body, keys, (int)(sizeof keys / sizeof keys[0]));
    cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "q");
    if (text && !cJSON_IsString(text)) reply_error(r, 400, NULL, "q must be a string");
    else text_search(s, q, r, text ? text->valuestring : NULL, cJSON_CreateObject());
    cJSON_Delete(body);
}

/* The uploaded image: the multipart "image" field, or the whole body. */
const iris_buf *upload_of(request *q, reply *r)
{
    const iris_buf *b = q->multipart ? req_field(q, "image") : &q->body;
    if (!b || !b->len) {
        reply_error(r, 400, NULL, q->multipart ? "the form has no (or an empty) 'image' field"
                                               : "the request has no image in its body");
        return NULL;
    }
    return b;
}

/* Decodes and embeds an uploaded image: vec (malloc'ed) or NULL (reply
 * filled). */
float *embed_upload(server *s, request *q, reply *r, int *dim)
{
    const iris_buf *b = upload_of(q, r);
    const iris_model *m = b ? model_of(s, r) : NULL;
    if (!m) return NULL;
    iris_decode_opts o = {.max_pixels = s->cfg->max_pixels};
    iris_image img;
    int rc = iris_image_decode(b->p, b->len, &o, &img);
    *dim = iris_model_dim(m);
    float *vec = rc ? NULL : malloc(sizeof(float) * *dim);
    if (!rc && !vec) rc = IRIS_ENOMEM;
    if (!rc) rc = iris_encode_images(m, &img, 1, vec);
    iris_image_free(&img);
    if (rc) {
        reply_iris_error(r, rc);
        free(vec);
        return NULL;
    }
    return vec;
}

void api_search_image(server *s, request *q, reply *r)
{
    iris_query qq = {0};
    cJSON *echo = cJSON_CreateObject();
    cJSON_AddStringToObject(echo, "image", "upload");
    int dim;
    float *vec = NULL;
    double t0 = serve_now();
    if (!common_options(q, r, &qq, echo) && (vec = embed_upload(s, q, r, &dim))) {
        double embed_ms = (serve_now() - t0) * 1e3;
        qq.vector = vec;
        qq.dim = dim;
        iris_results *res = NULL;
        int rc = iris_search(s->db, &qq, &res);
        if (rc) reply_iris_error(r, rc);
        else reply_results(s, r, res, echo, vec, dim, embed_ms), echo = NULL;
        iris_results_free(res);
    }
    cJSON_Delete(echo);
    free(vec);
}

void api_similar(server *s, request *q, reply *r)
{
    iris_query qq = {.item_id = q->id};
    cJSON *echo = cJSON_CreateObject();
    cJSON_AddNumberToObject(echo, "item_id", (double)q->id);
    const char *keep = req_arg(q, "keep_source");
    qq.keep_source = keep && (!strcmp(keep, "1") || !strcmp(keep, "true"));
    if (common_options(q, r, &qq, echo)) {
        cJSON_Delete(echo);
        return;
    }
    iris_results *res = NULL;
    int rc = iris_search(s->db, &qq, &res);
    if (rc) {
        reply_iris_error(r, rc);
        cJSON_Delete(echo);
        return;
    }
    const iris_model *m;
    int dim = iris_db_model(s->db, &m) ? 0 : iris_model_dim(m);
    float *vec = dim ? malloc(sizeof(float) * dim) : NULL;
    if (vec && iris_item_vector(s->db, q->id, vec, dim)) {
        free(vec);
        vec = NULL;
    }
    reply_results(s, r, res, echo, vec, vec ? dim : 0, 0);
    iris_results_free(res);
    free(vec);
}
