/*
 * assets.c - the web UI (web/) and the OpenAPI document, embedded in the
 * iris binary at build time with the assembler's .incbin.
 *
 * Why embedded: `iris serve` then works from any folder, installed
 * anywhere, offline, with nothing to find at run time and no way for a
 * request to name a file on disk: the only files served are the ones
 * listed here (tests/py/test_server_ui.py checks the list against web/).
 * The Makefile rebuilds this object when anything in web/ changes.
 *
 * Responses carry an ETag (FNV-1a of the bytes) and "no-cache", so a
 * browser revalidates and gets 304 until the binary changes. The HTML gets
 * a strict Content-Security-Policy: scripts, styles and connections from
 * this origin only, images also from blob: (uploaded previews) and data:.
 */
#include "server/server.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define EMBED(name, file)                                                                  \
    __asm__(".pushsection .rodata\n.balign 16\n.global iris_asset_" #name                  \
            "\n.hidden iris_asset_" #name "\niris_asset_" #name ":\n.incbin \"" file       \
            "\"\n.global iris_asset_" #name "_end\n.hidden iris_asset_" #name              \
            "_end\niris_asset_" #name "_end:\n.byte 0\n.popsection\n");                    \
    extern const unsigned char iris_asset_##name[], iris_asset_##name##_end[]

EMBED(index_html, "web/index.html");
EMBED(app_css, "web/app.css");
EMBED(app_js, "web/app.js");
EMBED(map_js, "web/map.js");
EMBED(favicon_svg, "web/favicon.svg");
EMBED(openapi_json, "docs/openapi.json");

#define ASSET(path, type, name) {path, type, iris_asset_##name, 0}

static asset assets[] = {
    ASSET("/index.html", "text/html; charset=utf-8", index_html),
    ASSET("/app.css", "text/css; charset=utf-8", app_css),
    ASSET("/app.js", "text/javascript; charset=utf-8", app_js),
    ASSET("/map.js", "text/javascript; charset=utf-8", map_js),
    ASSET("/favicon.svg", "image/svg+xml", favicon_svg),
};
static asset openapi = ASSET("/api/openapi.json", "application/json", openapi_json);

#define N_ASSETS (sizeof assets / sizeof assets[0])

static const unsigned char *const ends[N_ASSETS] = {
    iris_asset_index_html_end, iris_asset_app_css_end, iris_asset_app_js_end,
    iris_asset_map_js_end, iris_asset_favicon_svg_end,
};
static char etags[N_ASSETS + 1][24];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void etag_of(const asset *a, char *out)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < a->size; i++) h = (h ^ a->data[i]) * 1099511628211ull;
    snprintf(out, 24, "\"%016llx\"", (unsigned long long)h);
}

static void init(void)
{
    for (size_t i = 0; i < N_ASSETS; i++) {
        assets[i].size = (size_t)(ends[i] - assets[i].data);
        etag_of(&assets[i], etags[i]);
    }
    openapi.size = (size_t)(iris_asset_openapi_json_end - openapi.data);
    etag_of(&openapi, etags[N_ASSETS]);
}

const asset *asset_at(int i)
{
    pthread_once(&once, init);
    return i >= 0 && (size_t)i < N_ASSETS ? &assets[i] : NULL;
}

const asset *asset_openapi(void)
{
    pthread_once(&once, init);
    return &openapi;
}

const asset *asset_find(const char *path)
{
    if (!strcmp(path, "/")) path = "/index.html";
    for (int i = 0; asset_at(i); i++)
        if (!strcmp(assets[i].path, path)) return &assets[i];
    return NULL;
}

static void serve_asset(request *q, reply *r, const asset *a, const char *etag)
{
    const char *inm = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "If-None-Match");
    snprintf(r->etag, sizeof r->etag, "%s", etag);
    r->cache_seconds = -1;
    r->type = a->type;
    if (inm && strstr(inm, etag)) {
        r->status = 304;
        return;
    }
    r->status = 200;
    r->body = (char *)a->data;
    r->len = a->size;
    r->persistent = 1;
}

void api_asset(server *s, request *q, reply *r)
{
    const asset *a = asset_find(q->url);
    if (!a) {
        reply_error(r, 404, NULL, "no such page: %.200s", q->url);
        return;
    }
    serve_asset(q, r, a, etags[a - assets]);
    if (!strncmp(a->type, "text/html", 9))
        snprintf(r->extra_csp, sizeof r->extra_csp,
                 "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
}

void api_openapi(server *s, request *q, reply *r)
{
    serve_asset(q, r, asset_openapi(), etags[N_ASSETS]);
}
