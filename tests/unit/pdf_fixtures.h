/*
 * pdf_fixtures.h - PDFs written at test time with MuPDF's own writer, so
 * every expected word, page, box and pixel is known by construction and
 * nothing binary is committed.
 *
 * A fixture is a list of pages; each page is drawn by a callback onto a
 * MuPDF device in page space (points, origin top-left, y down). Text uses
 * MuPDF's built-in fonts (Helvetica; Droid Sans Fallback for Chinese), so
 * the output does not depend on installed fonts. Options go to
 * pdf_parse_write_options ("encrypt=aes-256,user-password=...").
 */
#ifndef IRIS_TEST_PDF_FIXTURES_H
#define IRIS_TEST_PDF_FIXTURES_H

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <stdio.h>
#include <string.h>

typedef void (*fx_draw_fn)(fz_context *ctx, fz_device *dev, int page, void *user);

/* Writes n_pages pages of w x h points. Returns 0 on success. */
static inline int fx_write_pdf(const char *path, const char *options, const char *title, int n_pages,
                        float w, float h, fx_draw_fn draw, void *user)
{
    fz_context *ctx = fz_new_context(NULL, NULL, FZ_STORE_UNLIMITED);
    if (!ctx) return -1;
    pdf_document *volatile doc = NULL;
    volatile int rc = 0;
    fz_try(ctx)
    {
        doc = pdf_create_document(ctx);
        fz_rect box = fz_make_rect(0, 0, w, h);
        for (int p = 0; p < n_pages; p++) {
            pdf_obj *res = NULL;
            fz_buffer *contents = NULL;
            fz_device *dev = pdf_page_write(ctx, doc, box, &res, &contents);
            draw(ctx, dev, p, user);
            fz_close_device(ctx, dev);
            fz_drop_device(ctx, dev);
            pdf_obj *page = pdf_add_page(ctx, doc, box, 0, res, contents);
            pdf_insert_page(ctx, doc, -1, page);
            pdf_drop_obj(ctx, page);
            pdf_drop_obj(ctx, res);
            fz_drop_buffer(ctx, contents);
        }
        if (title) {
            pdf_obj *info = pdf_new_dict(ctx, doc, 1);
            pdf_dict_put_text_string(ctx, info, PDF_NAME(Title), title);
            pdf_dict_put_drop(ctx, pdf_trailer(ctx, doc), PDF_NAME(Info),
                              pdf_add_object_drop(ctx, doc, info));
        }
        pdf_write_options opts = pdf_default_write_options;
        pdf_parse_write_options(ctx, &opts, options ? options : "compress");
        pdf_save_document(ctx, doc, path, &opts);
    }
    fz_always(ctx) pdf_drop_document(ctx, doc);
    fz_catch(ctx)
    {
        fprintf(stderr, "fixture %s: %s\n", path, fz_caught_message(ctx));
        rc = -1;
    }
    fz_drop_context(ctx);
    return rc;
}

/* Draws one line of text with its baseline at (x, y). */
static inline void fx_text(fz_context *ctx, fz_device *dev, fz_font *font, float size, float x, float y,
                    const char *utf8)
{
    fz_text *text = fz_new_text(ctx);
    fz_try(ctx)
    {
        fz_matrix trm = fz_make_matrix(size, 0, 0, -size, x, y);
        fz_show_string(ctx, text, font, trm, utf8, 0, 0, FZ_BIDI_LTR, FZ_LANG_UNSET);
        float black = 0;
        fz_fill_text(ctx, dev, text, fz_identity, fz_device_gray(ctx), &black, 1,
                     fz_default_color_params);
    }
    fz_always(ctx) fz_drop_text(ctx, text);
    fz_catch(ctx) fz_rethrow(ctx);
}

/* An image from a fill callback (n components of colorspace cs). */
typedef void (*fx_pixel_fn)(unsigned char *px, int x, int y, void *user);

static inline fz_image *fx_image(fz_context *ctx, fz_colorspace *cs, int w, int h, fx_pixel_fn fill,
                          void *user, fz_image *mask)
{
    fz_pixmap *pix = fz_new_pixmap(ctx, cs, w, h, NULL, 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) fill(pix->samples + y * pix->stride + x * pix->n, x, y, user);
    fz_image *img = NULL;
    fz_try(ctx) img = fz_new_image_from_pixmap(ctx, pix, mask);
    fz_always(ctx) fz_drop_pixmap(ctx, pix);
    fz_catch(ctx) fz_rethrow(ctx);
    return img;
}

/* Draws image into the box (x0, y0)-(x1, y1). */
static inline void fx_draw_image(fz_context *ctx, fz_device *dev, fz_image *img, float x0, float y0,
                          float x1, float y1)
{
    fz_fill_image(ctx, dev, img, fz_make_matrix(x1 - x0, 0, 0, y1 - y0, x0, y0), 1,
                  fz_default_color_params);
}

/* An RGB pixmap from packed RGB bytes, as a drawable image. */
static inline fz_image *fx_image_from_rgb(fz_context *ctx, const unsigned char *rgb, int w, int h)
{
    fz_pixmap *pix = fz_new_pixmap(ctx, fz_device_rgb(ctx), w, h, NULL, 0);
    for (int y = 0; y < h; y++) memcpy(pix->samples + y * pix->stride, rgb + (size_t)y * w * 3, (size_t)w * 3);
    fz_image *img = NULL;
    fz_try(ctx) img = fz_new_image_from_pixmap(ctx, pix, NULL);
    fz_always(ctx) fz_drop_pixmap(ctx, pix);
    fz_catch(ctx) fz_rethrow(ctx);
    return img;
}

#endif
