/*
 * api_items.c - one item: its details, its thumbnail, its original file.
 *
 * Nothing here takes a path: items are named by id, and the file behind
 * one is opened by iris_item_open(), which refuses anything that is not
 * the regular file the index recorded (see src/search/item_file.c).
 * Files go out with sendfile (libmicrohttpd reads the descriptor), a
 * Content-Type from their content, a Content-Disposition with a cleaned
 * name, and a CSP sandbox (except PDFs, which the browser's viewer must
 * run), so an indexed file can never run script in the UI's origin.
 *
 * Thumbnails come in a few fixed sizes (each is cached on disk), with an
 * ETag from the content hash, so browsers revalidate cheaply.
 */
#include "server/server.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int thumb_sizes[] = {64, 128, 256, 512, 1024};

void api_item(server *s, request *q, reply *r)
{
    iris_item it;
    int rc = iris_item_get(s->db, q->id, &it);
    if (rc) {
        reply_iris_error(r, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    item_common_json(o, it.id, it.modality, it.path, it.page, it.has_bbox, it.bbox);
    cJSON_AddStringToObject(o, "sha256", it.sha256);
    if (it.char_start >= 0) {
        cJSON_AddNumberToObject(o, "char_start", (double)it.char_start);
        cJSON_AddNumberToObject(o, "char_end", (double)it.char_end);
    }
    if (it.text) cJSON_AddStringToObject(o, "text", it.text);
    else cJSON_AddNullToObject(o, "text");
    map_annotate_item(s, o, it.id);
    iris_item_clear(&it);
    reply_json(r, 200, o);
}

void api_thumbnail(server *s, request *q, reply *r)
{
    int size = 256, ok = 0;
    if (req_int(q, r, "size", 1, IRIS_THUMB_MAX, &size) < 0) return;
    for (size_t i = 0; i < sizeof thumb_sizes / sizeof thumb_sizes[0]; i++)
        ok |= thumb_sizes[i] == size;
    if (!ok) {
        reply_error(r, 400, NULL, "size must be 64, 128, 256, 512 or 1024, not %d", size);
        return;
    }
    iris_item it;
    int rc = iris_item_get(s->db, q->id, &it);
    if (rc) {
        reply_iris_error(r, rc);
        return;
    }
    int modality = it.modality;
    snprintf(r->etag, sizeof r->etag, "\"%.16s-%d\"", it.sha256, size);
    iris_item_clear(&it);
    const char *inm = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "If-None-Match");
    r->cache_seconds = 3600;
    if (inm && strstr(inm, r->etag)) {
        r->status = 304;
        return;
    }
    unsigned char *jpeg;
    size_t n;
    rc = iris_item_thumbnail(s->db, q->id, size, &jpeg, &n);
    if (rc == IRIS_EFORMAT && modality != IRIS_MOD_IMAGE && modality != IRIS_MOD_PDF_FIGURE) {
        reply_error(r, 404, NULL, "item %lld is %s: it has no thumbnail", (long long)q->id,
                    iris_modality_name(modality));
        r->etag[0] = 0;
    } else if (rc) {
        reply_iris_error(r, rc);
        r->etag[0] = 0;
    } else {
        reply_bytes(r, 200, "image/jpeg", (char *)jpeg, n);
    }
}

/* attachment or inline; filename= with anything odd replaced, plus the
 * exact UTF-8 name percent-encoded in filename*. */
static void disposition(char *out, size_t cap, const char *kind, const char *name)
{
    char plain[128], enc[160];
    size_t p = 0, e = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        int safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                   (*c >= '0' && *c <= '9') || strchr("._-", *c);
        if (p + 1 < sizeof plain) plain[p++] = safe || *c == ' ' ? (char)*c : '_';
        if (e + 4 < sizeof enc) {
            if (safe) enc[e++] = (char)*c;
            else e += (size_t)snprintf(enc + e, sizeof enc - e, "%%%02X", *c);
        }
    }
    plain[p] = enc[e] = 0;
    snprintf(out, cap, "%s; filename=\"%s\"; filename*=UTF-8''%s", kind, plain, enc);
}

void api_file(server *s, request *q, reply *r)
{
    iris_item_file f;
    int rc = iris_item_open(s->db, q->id, &f);
    if (rc) {
        reply_iris_error(r, rc);
        return;
    }
    const char *dl = req_arg(q, "download");
    int attach = dl && (!strcmp(dl, "1") || !strcmp(dl, "true"));
    /* the reply's type must outlive this call: keep the known ones static */
    static const char *const types[] = {
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff",
        "application/pdf", "text/plain; charset=utf-8", "text/plain; charset=utf-16",
        "text/plain; charset=windows-1252"};
    r->type = "application/octet-stream";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(f.mime, types[i])) r->type = types[i];
    disposition(r->disposition, sizeof r->disposition, attach ? "attachment" : "inline", f.name);
    if (strcmp(r->type, "application/pdf"))
        snprintf(r->extra_csp, sizeof r->extra_csp,
                 "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox");
    else
        snprintf(r->extra_csp, sizeof r->extra_csp, "frame-ancestors 'none'");
    r->status = 200;
    r->fd = f.fd;
    r->len = (size_t)f.size;
    r->cache_seconds = 60;
}
