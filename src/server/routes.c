/*
 * routes.c - the API's one route table. Dispatch, the 405 "Allow" lists
 * and `iris serve --routes` (which the OpenAPI sync test compares with
 * docs/openapi.json) all read it, so a route cannot exist in one place
 * and be missing from another.
 *
 * Patterns are literal segments and {id}: a positive decimal item id
 * (at most 18 digits, so it always fits int64). There are no path
 * parameters of any other kind: files are only ever named by item id.
 * Paths outside /api/ are the embedded web UI (assets.c).
 */
#include "server/server.h"

#include <stdio.h>
#include <string.h>

static const route routes[] = {
    {"GET", "/api/health", api_health, ROUTE_PUBLIC, BODY_NONE},
    {"GET", "/api/openapi.json", api_openapi, ROUTE_PUBLIC, BODY_NONE},
    {"GET", "/api/status", api_status, 0, BODY_NONE},
    {"GET", "/api/search", api_search_get, ROUTE_NEEDS_INDEX, BODY_NONE},
    {"POST", "/api/search", api_search_post, ROUTE_NEEDS_INDEX, BODY_JSON},
    {"POST", "/api/search/image", api_search_image, ROUTE_NEEDS_INDEX, BODY_UPLOAD},
    {"GET", "/api/items/{id}", api_item, ROUTE_NEEDS_INDEX, BODY_NONE},
    {"GET", "/api/items/{id}/similar", api_similar, ROUTE_NEEDS_INDEX, BODY_NONE},
    {"GET", "/api/items/{id}/thumbnail", api_thumbnail, ROUTE_NEEDS_INDEX, BODY_NONE},
    {"GET", "/api/items/{id}/file", api_file, ROUTE_NEEDS_INDEX, BODY_NONE},
    {"POST", "/api/classify", api_classify, ROUTE_NEEDS_INDEX, BODY_JSON | BODY_UPLOAD},
    {"GET", "/api/map", api_map, ROUTE_NEEDS_INDEX, BODY_NONE},
    {"GET", "/api/ask", api_ask_get, ROUTE_NEEDS_INDEX, BODY_NONE},
    {"POST", "/api/ask", api_ask_post, ROUTE_NEEDS_INDEX, BODY_JSON},
};

#define N_ROUTES (sizeof routes / sizeof routes[0])

/* Everything outside /api/ is the web UI. */
static const route asset_route = {"GET", "/", api_asset, ROUTE_PUBLIC, BODY_NONE};

/* One segment of a pattern against one of the URL; {id} parses *id. */
static int segment_matches(const char *pat, size_t pn, const char *seg, size_t sn, int64_t *id)
{
    if (pn == 4 && !memcmp(pat, "{id}", 4)) {
        if (sn == 0 || sn > 18 || seg[0] == '0') return 0;
        int64_t v = 0;
        for (size_t i = 0; i < sn; i++) {
            if (seg[i] < '0' || seg[i] > '9') return 0;
            v = v * 10 + (seg[i] - '0');
        }
        *id = v;
        return 1;
    }
    return pn == sn && !memcmp(pat, seg, sn);
}

static int path_matches(const char *pat, const char *url, int64_t *id)
{
    for (;;) {
        if (*pat != '/' || *url != '/') return 0;
        pat++, url++;
        size_t pn = strcspn(pat, "/"), un = strcspn(url, "/");
        if (!segment_matches(pat, pn, url, un, id)) return 0;
        pat += pn, url += un;
        if (!*pat || !*url) return !*pat && !*url;
    }
}

int route_find(const char *method, const char *url, const route **out, int64_t *id,
               char *allow, size_t allow_cap)
{
    *out = NULL;
    allow[0] = 0;
    if (strncmp(url, "/api/", 5) && strcmp(url, "/api")) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            snprintf(allow, allow_cap, "GET, HEAD");
            return 405;
        }
        *out = &asset_route;
        return 0;
    }
    size_t used = 0;
    for (size_t i = 0; i < N_ROUTES; i++) {
        int64_t v = 0;
        if (!path_matches(routes[i].pattern, url, &v)) continue;
        /* HEAD is GET without the body (libmicrohttpd drops it). */
        if (!strcmp(routes[i].method, method) ||
            (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
            *out = &routes[i];
            *id = v;
            return 0;
        }
        used += snprintf(allow + used, used < allow_cap ? allow_cap - used : 0, "%s%s",
                         used ? ", " : "", routes[i].method);
    }
    return used ? 405 : 404;
}

void serve_print_routes(void)
{
    for (size_t i = 0; i < N_ROUTES; i++) printf("%s %s\n", routes[i].method, routes[i].pattern);
}
