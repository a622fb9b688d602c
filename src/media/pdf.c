/*
 * pdf.c - PDF text, figures and rendering through MuPDF (see pdf.h).
 *
 * Exceptions: MuPDF reports errors by longjmp (fz_try / fz_catch). Every
 * entry point here runs MuPDF calls inside one fz_try on the document's
 * own context and turns a caught error into an IRIS_E* status; nothing
 * returns from inside a fz_try block, and locals written inside one and
 * read after a throw are volatile.
 *
 * Reading order: MuPDF gives text blocks in content-stream order, which
 * is wrong for multi-column pages written column-interleaved or out of
 * order. Blocks are reordered by recursive XY-cut: split the set at the
 * widest empty horizontal or vertical band between block boxes (ties go to
 * the horizontal cut, so a full-width title stays above its columns),
 * recurse into each side in reading order (top to bottom, left to right),
 * and fall back to top-left sorting where no band exists.
 *
 * Figures: the structured-text device keeps image blocks (with their
 * placement) when asked; each image large enough is decoded, subsampled
 * by MuPDF where the codec allows, composited over white through its soft
 * mask if it has one, and converted from its colour space (gray, CMYK,
 * indexed, ICC, Lab, ...) to RGB. Stencil masks (1-bit shapes painted in a
 * colour) are drawing, not pictures, and are not reported.
 */
#include "media/pdf.h"

#include "text/utf8.h"
#include "util/buf.h"
#include "util/error.h"

#include <errno.h>
#include <math.h>
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_MAX_BYTES ((size_t)1 << 30)
#define DEFAULT_CACHE_BYTES ((size_t)64 << 20)
#define MIN_MAX_BYTES ((size_t)4 << 20)
#define MAX_XY_BLOCKS 4000         /* beyond this, keep stream order */
#define MAX_FIGURE_PIXELS 64000000 /* undecoded size refused as a figure */

struct pdfdoc {
    fz_context *ctx;
    pdf_document *pdf;
    fz_document *doc; /* &pdf->super */
    char *path;
    char *title;
    int n_pages;
    size_t cur, peak, cap; /* bytes MuPDF holds, its peak, the cap */
    int refused;           /* an allocation was refused for the cap */
};

/* ------------------------------------------------- counting allocator */

/* A 16-byte header (keeps malloc's alignment) remembers each block's size. */
#define HDR 16

static void *mem_malloc(void *user, size_t n)
{
    pdfdoc *d = user;
    if (n > d->cap - d->cur) { /* MuPDF evicts its cache and retries */
        d->refused = 1;
        return NULL;
    }
    unsigned char *p = malloc(n + HDR);
    if (!p) return NULL;
    *(size_t *)p = n;
    d->cur += n;
    if (d->cur > d->peak) d->peak = d->cur;
    return p + HDR;
}

static void mem_free(void *user, void *ptr)
{
    pdfdoc *d = user;
    if (!ptr) return;
    unsigned char *p = (unsigned char *)ptr - HDR;
    d->cur -= *(size_t *)p;
    free(p);
}

static void *mem_realloc(void *user, void *old, size_t n)
{
    pdfdoc *d = user;
    if (!old) return mem_malloc(user, n);
    if (n == 0) {
        mem_free(user, old);
        return NULL;
    }
    unsigned char *p = (unsigned char *)old - HDR;
    size_t was = *(size_t *)p;
    if (n > was && n - was > d->cap - d->cur) {
        d->refused = 1;
        return NULL;
    }
    unsigned char *q = realloc(p, n + HDR);
    if (!q) return NULL;
    *(size_t *)q = n;
    d->cur = d->cur - was + n;
    if (d->cur > d->peak) d->peak = d->cur;
    return q + HDR;
}

static void quiet(void *user, const char *message) { (void)user, (void)message; }

/* ---------------------------------------------------------------- errors */

/* The status for MuPDF's current exception, with a message. page < 0: none. */
static int caught(pdfdoc *d, const char *what, int page)
{
    const char *msg = fz_caught_message(d->ctx);
    int code = fz_caught(d->ctx);
    char where[32] = "";
    if (page >= 0) snprintf(where, sizeof where, " page %d", page + 1);
    if (code == FZ_ERROR_MEMORY && d->refused)
        return iris_fail(IRIS_ELIMIT, "%s%s: %s: over the %zu MiB memory cap for one PDF", d->path,
                         where, what, d->cap >> 20);
    if (code == FZ_ERROR_MEMORY)
        return iris_fail(IRIS_ENOMEM, "%s%s: %s: out of memory", d->path, where, what);
    return iris_fail(IRIS_EFORMAT, "%s%s: %s: %s", d->path, where, what, msg);
}

/* ------------------------------------------------------------------ open */

static int check_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return iris_fail(errno == ENOENT ? IRIS_ENOTFOUND : IRIS_EIO, "cannot open %s: %s", path,
                         strerror(errno));
    if (!S_ISREG(st.st_mode)) return iris_fail(IRIS_EIO, "%s is not a regular file", path);
    if (st.st_size == 0) return iris_fail(IRIS_EFORMAT, "%s is empty (0 bytes), not a PDF", path);
    return IRIS_OK;
}

static void read_title(pdfdoc *d)
{
    char buf[1024];
    int n = fz_lookup_metadata(d->ctx, d->doc, FZ_META_INFO_TITLE, buf, sizeof buf);
    if (n <= 0) return;
    buf[sizeof buf - 1] = '\0';
    utf8_sanitize(buf, strlen(buf), &d->title, NULL); /* stays NULL on failure */
}

/* Opens inside fz_try; returns IRIS_OK or a status (encrypted). */
static int open_locked(pdfdoc *d)
{
    d->pdf = pdf_open_document(d->ctx, d->path);
    d->doc = &d->pdf->super;
    if (fz_needs_password(d->ctx, d->doc) && !fz_authenticate_password(d->ctx, d->doc, ""))
        return iris_fail(IRIS_EUNSUPPORTED, "%s is encrypted (password required); skipped",
                         d->path);
    d->n_pages = fz_count_pages(d->ctx, d->doc);
    if (d->n_pages <= 0) return iris_fail(IRIS_EFORMAT, "%s has no pages", d->path);
    read_title(d);
    /* Objects parsed so far stay cached; per-page ones are dropped again. */
    pdf_mark_xref(d->ctx, d->pdf);
    return IRIS_OK;
}

int pdfdoc_open(const char *path, const pdfdoc_opts *opts, pdfdoc **out)
{
    *out = NULL;
    int rc = check_file(path);
    if (rc) return rc;
    pdfdoc *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return iris_fail(IRIS_ENOMEM, "no memory to open %s", path);
    }
    d->cap = opts && opts->max_bytes ? opts->max_bytes : DEFAULT_MAX_BYTES;
    if (d->cap < MIN_MAX_BYTES) d->cap = MIN_MAX_BYTES; /* room for the context itself */
    size_t cache = opts && opts->cache_bytes ? opts->cache_bytes : DEFAULT_CACHE_BYTES;
    fz_alloc_context alloc = {d, mem_malloc, mem_realloc, mem_free};
    d->ctx = fz_new_context(&alloc, NULL, cache);
    if (!d->ctx) {
        pdfdoc_close(d);
        return iris_fail(IRIS_ENOMEM, "%s: cannot create a MuPDF context", path);
    }
    fz_set_warning_callback(d->ctx, quiet, NULL);
    fz_set_error_callback(d->ctx, quiet, NULL);
    volatile int status = IRIS_OK;
    fz_try(d->ctx) status = open_locked(d);
    fz_catch(d->ctx) status = caught(d, "not a readable PDF", -1);
    if (status) {
        pdfdoc_close(d);
        return status;
    }
    *out = d;
    return IRIS_OK;
}

void pdfdoc_close(pdfdoc *d)
{
    if (!d) return;
    if (d->ctx) {
        fz_drop_document(d->ctx, d->doc);
        fz_drop_context(d->ctx);
    }
    free(d->title);
    free(d->path);
    free(d);
}

int pdfdoc_page_count(const pdfdoc *d) { return d ? d->n_pages : 0; }
const char *pdfdoc_title(const pdfdoc *d) { return d && d->title ? d->title : ""; }

void pdfdoc_memory(const pdfdoc *d, size_t *current, size_t *peak)
{
    if (current) *current = d ? d->cur : 0;
    if (peak) *peak = d ? d->peak : 0;
}

/* --------------------------------------------------------- reading order */

typedef struct tblock {
    fz_stext_block *b;
    fz_rect r;
} tblock;

static int by_y(const void *a, const void *b)
{
    const tblock *x = a, *y = b;
    return x->r.y0 < y->r.y0 ? -1 : x->r.y0 > y->r.y0 ? 1 : x->r.x0 < y->r.x0 ? -1 : x->r.x0 > y->r.x0;
}

static int by_x(const void *a, const void *b)
{
    const tblock *x = a, *y = b;
    return x->r.x0 < y->r.x0 ? -1 : x->r.x0 > y->r.x0 ? 1 : x->r.y0 < y->r.y0 ? -1 : x->r.y0 > y->r.y0;
}

/* After sorting v by the axis' start, the widest empty band between boxes
 * along that axis: returns the split index (0 if none) and its width. */
static int widest_gap(tblock *v, int n, int vertical, float *width)
{
    qsort(v, (size_t)n, sizeof *v, vertical ? by_x : by_y);
    float reach = vertical ? v[0].r.x1 : v[0].r.y1;
    int split = 0;
    *width = 0;
    for (int k = 1; k < n; k++) {
        float start = vertical ? v[k].r.x0 : v[k].r.y0;
        if (start - reach > *width) *width = start - reach, split = k;
        float end = vertical ? v[k].r.x1 : v[k].r.y1;
        if (end > reach) reach = end;
    }
    return split;
}

static void xy_cut(tblock *v, int n)
{
    if (n < 2) return;
    float hw, vw;
    int hs = widest_gap(v, n, 0, &hw);
    int vs = widest_gap(v, n, 1, &vw); /* leaves v sorted by x */
    if (!hs && !vs) {
        qsort(v, (size_t)n, sizeof *v, by_y);
        return;
    }
    int split = vs;
    if (hs && hw >= vw) split = widest_gap(v, n, 0, &hw); /* re-sort by y */
    xy_cut(v, split);
    xy_cut(v + split, n - split);
}

/* ------------------------------------------------------------ page text */

static int is_lower(uint32_t cp) { return (cp >= 'a' && cp <= 'z') || (cp >= 0xDF && cp <= 0xFF); }

/* Appends a line's characters; returns the last one written (0 if none). */
static int put_line(iris_buf *b, const fz_stext_line *line, int *n_chars, uint32_t *last)
{
    char u[4];
    for (const fz_stext_char *ch = line->first_char; ch; ch = ch->next) {
        uint32_t cp = ch->c < 0 ? UTF8_REPLACEMENT : (uint32_t)ch->c;
        if (cp < 0x20) cp = ' ';
        int rc = iris_buf_add(b, u, (size_t)utf8_put(cp, u), 0);
        if (rc) return rc;
        if (!utf8_is_space(cp)) (*n_chars)++;
        *last = cp;
    }
    return IRIS_OK;
}

/* One block's lines: a line ending in '-' before a lower-case letter is
 * joined to the next without the hyphen; other lines end with '\n'. */
static int put_block(iris_buf *b, const fz_stext_block *blk, int *n_chars)
{
    int rc = IRIS_OK;
    for (const fz_stext_line *l = blk->u.t.first_line; l && !rc; l = l->next) {
        uint32_t last = 0;
        rc = put_line(b, l, n_chars, &last);
        const fz_stext_char *next = l->next ? l->next->first_char : NULL;
        if (rc || !l->next) continue;
        if (last == '-' && next && next->c > 0 && is_lower((uint32_t)next->c)) {
            b->len--; /* drop the hyphen: "exam-" + "ple" */
            (*n_chars)--;
        } else {
            rc = iris_buf_add(b, "\n", 1, 0);
        }
    }
    return rc;
}

static int collect_text(fz_stext_page *st, fz_rect page, pdfdoc_page *out)
{
    int n = 0, cap = 0, rc = IRIS_OK;
    tblock *v = NULL;
    for (fz_stext_block *b = st->first_block; b && !rc; b = b->next) {
        if (b->type != FZ_STEXT_BLOCK_TEXT || !b->u.t.first_line) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            tblock *g = realloc(v, (size_t)cap * sizeof *g);
            if (!g) rc = iris_fail(IRIS_ENOMEM, "no memory for text blocks");
            else v = g;
        }
        if (!rc) v[n++] = (tblock){b, b->bbox};
    }
    if (!rc && n <= MAX_XY_BLOCKS) xy_cut(v, n);
    if (!rc && n && !(out->blocks = calloc((size_t)n, sizeof *out->blocks)))
        rc = iris_fail(IRIS_ENOMEM, "no memory for text blocks");
    iris_buf text = {0};
    for (int k = 0; k < n && !rc; k++) {
        if (k) rc = iris_buf_add(&text, "\n\n", 2, 0);
        pdfdoc_block *pb = &out->blocks[out->n_blocks];
        pb->start = text.len;
        if (!rc) rc = put_block(&text, v[k].b, &out->n_chars);
        pb->end = text.len;
        pb->bbox[0] = v[k].r.x0 - page.x0, pb->bbox[1] = v[k].r.y0 - page.y0;
        pb->bbox[2] = v[k].r.x1 - page.x0, pb->bbox[3] = v[k].r.y1 - page.y0;
        out->n_blocks++;
    }
    free(v);
    if (!rc) return iris_buf_take(&text, &out->text, &out->text_len);
    iris_buf_free(&text);
    return rc;
}

/* --------------------------------------------------------------- figures */

/* Copies an RGB pixmap into a packed iris_image; premultiplied alpha, if
 * any, is composited over white (c + 255 - a). */
static int pixmap_to_image(const fz_pixmap *pix, iris_image *img)
{
    int w = pix->w, h = pix->h, n = pix->n;
    img->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!img->rgb) return iris_fail(IRIS_ENOMEM, "no memory for a %d x %d image", w, h);
    for (int y = 0; y < h; y++) {
        const unsigned char *s = pix->samples + y * pix->stride;
        unsigned char *d = img->rgb + (size_t)y * w * 3;
        for (int x = 0; x < w; x++, s += n, d += 3)
            for (int c = 0; c < 3; c++) {
                int v = pix->alpha ? s[c] + 255 - s[3] : s[c];
                d[c] = (unsigned char)(v > 255 ? 255 : v);
            }
    }
    img->width = w;
    img->height = h;
    return IRIS_OK;
}

/* Blends toward white where the soft mask is transparent. */
static void composite_white(fz_pixmap *rgb, const fz_pixmap *mask)
{
    if (!mask || mask->w != rgb->w || mask->h != rgb->h || mask->n != 1) return;
    for (int y = 0; y < rgb->h; y++) {
        unsigned char *p = rgb->samples + y * rgb->stride;
        const unsigned char *a = mask->samples + y * mask->stride;
        for (int x = 0; x < rgb->w; x++, p += rgb->n)
            for (int c = 0; c < 3; c++) p[c] = (unsigned char)((p[c] * a[x] + 255 * (255 - a[x]) + 127) / 255);
    }
}

/* Decodes one image to RGB inside the caller's fz_try. A broken image is
 * IRIS_EFORMAT (skipped by the caller); running out of memory is not. */
static int decode_figure(pdfdoc *d, fz_image *image, int max_side, int page, iris_image *out)
{
    fz_context *ctx = d->ctx;
    fz_pixmap *volatile pix = NULL, *volatile rgb = NULL, *volatile mask = NULL;
    volatile int rc = IRIS_OK;
    int side = image->w > image->h ? image->w : image->h;
    volatile float s = side > max_side ? (float)max_side / (float)side : 1;
    fz_try(ctx)
    {
        fz_matrix ctm = fz_scale(image->w * s, image->h * s), mctm = ctm;
        pix = fz_get_pixmap_from_image(ctx, image, NULL, &ctm, NULL, NULL);
        if (!pix->colorspace) fz_throw(ctx, FZ_ERROR_GENERIC, "image has no colour space");
        rgb = fz_convert_pixmap(ctx, pix, fz_device_rgb(ctx), NULL, NULL, fz_default_color_params, 1);
        if (image->mask) {
            mask = fz_get_pixmap_from_image(ctx, image->mask, NULL, &mctm, NULL, NULL);
            composite_white(rgb, mask);
        }
        rc = pixmap_to_image(rgb, out);
    }
    fz_always(ctx)
    {
        fz_drop_pixmap(ctx, mask);
        fz_drop_pixmap(ctx, rgb);
        fz_drop_pixmap(ctx, pix);
    }
    fz_catch(ctx) rc = fz_caught(ctx) == FZ_ERROR_MEMORY ? caught(d, "decoding a figure", page)
                                                        : IRIS_EFORMAT;
    return rc;
}

static int wanted(const fz_stext_block *b, const pdfdoc_page_opts *o)
{
    const fz_image *im = b->u.i.image;
    int px = im->w < im->h ? im->w : im->h;
    float pw = b->bbox.x1 - b->bbox.x0, ph = b->bbox.y1 - b->bbox.y0;
    return !im->imagemask && px >= o->min_figure_px && (pw < ph ? pw : ph) >= o->min_figure_pt;
}

/* An image of the same pixel size drawn at the same place before (writers
 * often emit one copy per placement): one figure, not two. */
static int seen_before(fz_stext_block *first, fz_stext_block *b)
{
    const fz_image *im = b->u.i.image;
    for (fz_stext_block *p = first; p != b; p = p->next)
        if (p->type == FZ_STEXT_BLOCK_IMAGE && p->u.i.image->w == im->w &&
            p->u.i.image->h == im->h && !memcmp(&p->bbox, &b->bbox, sizeof b->bbox))
            return 1;
    return 0;
}

static int collect_figures(pdfdoc *d, fz_stext_page *st, fz_rect page,
                           const pdfdoc_page_opts *o, pdfdoc_page *out)
{
    for (fz_stext_block *b = st->first_block; b; b = b->next) {
        if (b->type != FZ_STEXT_BLOCK_IMAGE || !wanted(b, o) || seen_before(st->first_block, b))
            continue;
        if (out->n_figures >= o->max_figures) break;
        fz_image *im = b->u.i.image;
        if ((int64_t)im->w * im->h > MAX_FIGURE_PIXELS) {
            out->n_figures_failed++;
            continue;
        }
        if (!out->figures && !(out->figures = calloc((size_t)o->max_figures, sizeof *out->figures)))
            return iris_fail(IRIS_ENOMEM, "no memory for figures");
        pdfdoc_figure *f = &out->figures[out->n_figures];
        int rc = decode_figure(d, im, o->max_figure_side, out->index, &f->image);
        if (rc == IRIS_ENOMEM || rc == IRIS_ELIMIT) return rc;
        if (rc) {
            out->n_figures_failed++;
            continue;
        }
        f->bbox[0] = b->bbox.x0 - page.x0, f->bbox[1] = b->bbox.y0 - page.y0;
        f->bbox[2] = b->bbox.x1 - page.x0, f->bbox[3] = b->bbox.y1 - page.y0;
        f->src_width = im->w;
        f->src_height = im->h;
        out->n_figures++;
    }
    return IRIS_OK;
}

/* ------------------------------------------------------------------ pages */

static pdfdoc_page_opts page_defaults(const pdfdoc_page_opts *opts)
{
    pdfdoc_page_opts o = opts ? *opts : (pdfdoc_page_opts){0};
    if (o.min_figure_px <= 0) o.min_figure_px = 64;
    if (o.min_figure_pt <= 0) o.min_figure_pt = 24;
    if (o.max_figure_side <= 0) o.max_figure_side = 1024;
    if (o.max_figures <= 0) o.max_figures = 32;
    return o;
}

static int check_index(const pdfdoc *d, int index)
{
    if (!d) return iris_fail(IRIS_EARG, "no PDF document");
    if (index < 0 || index >= d->n_pages)
        return iris_fail(IRIS_EARG, "%s: no page %d (it has %d)", d->path, index + 1, d->n_pages);
    return IRIS_OK;
}

int pdfdoc_page_extract(pdfdoc *d, int index, const pdfdoc_page_opts *opts, pdfdoc_page *out)
{
    memset(out, 0, sizeof *out);
    int rc = check_index(d, index);
    if (rc) return rc;
    pdfdoc_page_opts o = page_defaults(opts);
    fz_context *ctx = d->ctx;
    fz_page *volatile page = NULL;
    fz_stext_page *volatile st = NULL;
    volatile int status = IRIS_OK;
    out->index = index;
    d->refused = 0;
    fz_try(ctx)
    {
        page = fz_load_page(ctx, d->doc, index);
        fz_rect bounds = fz_bound_page(ctx, page);
        out->width = bounds.x1 - bounds.x0;
        out->height = bounds.y1 - bounds.y0;
        fz_stext_options so = {FZ_STEXT_MEDIABOX_CLIP | (o.figures ? FZ_STEXT_PRESERVE_IMAGES : 0), 1};
        st = fz_new_stext_page_from_page(ctx, page, &so);
        status = collect_text(st, bounds, out);
        if (!status && o.figures) status = collect_figures(d, st, bounds, &o, out);
    }
    fz_always(ctx)
    {
        fz_drop_stext_page(ctx, st);
        fz_drop_page(ctx, page);
        pdf_clear_xref_to_mark(ctx, d->pdf);
    }
    fz_catch(ctx) status = caught(d, "cannot read the page", index);
    if (status) pdfdoc_page_free(out);
    return status;
}

void pdfdoc_page_free(pdfdoc_page *p)
{
    if (!p) return;
    for (int k = 0; k < p->n_figures; k++) free(p->figures[k].image.rgb);
    free(p->figures);
    free(p->blocks);
    free(p->text);
    memset(p, 0, sizeof *p);
}

int pdfdoc_render(pdfdoc *d, int index, float dpi, uint64_t max_pixels, iris_image *out,
                  float *used_dpi)
{
    memset(out, 0, sizeof *out);
    int rc = check_index(d, index);
    if (rc) return rc;
    if (!(dpi > 0 && dpi <= 2400)) return iris_fail(IRIS_EARG, "%s: bad DPI %g", d->path, dpi);
    volatile double cap = max_pixels ? (double)max_pixels : 40e6;
    fz_context *ctx = d->ctx;
    fz_page *volatile page = NULL;
    fz_pixmap *volatile pix = NULL;
    volatile int status = IRIS_OK;
    volatile float zoom = dpi / 72;
    d->refused = 0;
    fz_try(ctx)
    {
        page = fz_load_page(ctx, d->doc, index);
        fz_rect r = fz_bound_page(ctx, page);
        double pw = r.x1 - r.x0, ph = r.y1 - r.y0;
        /* The pixmap rounds its box outwards: keep (pw z + 1)(ph z + 1) in
         * the budget by solving the quadratic for z. */
        if ((pw * zoom + 1) * (ph * zoom + 1) > cap)
            zoom = (float)((-(pw + ph) + sqrt((pw + ph) * (pw + ph) - 4 * pw * ph * (1 - cap))) /
                           (2 * pw * ph) * 0.9999);
        pix = fz_new_pixmap_from_page(ctx, page, fz_scale(zoom, zoom), fz_device_rgb(ctx), 0);
        status = pixmap_to_image(pix, out);
    }
    fz_always(ctx)
    {
        fz_drop_pixmap(ctx, pix);
        fz_drop_page(ctx, page);
        pdf_clear_xref_to_mark(ctx, d->pdf);
    }
    fz_catch(ctx) status = caught(d, "cannot render the page", index);
    if (!status && used_dpi) *used_dpi = zoom * 72;
    return status;
}
