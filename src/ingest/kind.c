/*
 * kind.c - deciding what a file is from its first bytes, and naming why a
 * file was skipped.
 *
 * Images and PDFs are recognised by their bytes, never by their names
 * (a PNG saved as .jpg is a PNG); plain text and Markdown have no magic, so
 * their names decide (walk_text_kind), after the bytes have had their say.
 * BMP's two-byte "BM" is the weakest signature of all and would claim
 * text files that start with those letters, so it counts only with a
 * plausible header (a known DIB header size).
 */
#include "ingest/ingest.h"

#include "media/image.h"

#include <string.h>

static int is_pdf(const uint8_t *p, size_t n)
{
    /* The header may follow some junk; readers look in the first 1 KiB. */
    size_t lim = n < 1024 ? n : 1024;
    for (size_t i = 0; i + 5 <= lim; i++)
        if (p[i] == '%' && !memcmp(p + i, "%PDF-", 5)) return 1;
    return 0;
}

static int plausible_bmp(const uint8_t *p, size_t n)
{
    if (n < 18) return 0;
    uint32_t dib = p[14] | p[15] << 8 | (uint32_t)p[16] << 16 | (uint32_t)p[17] << 24;
    return dib == 12 || dib == 16 || dib == 40 || dib == 52 || dib == 56 || dib == 64 ||
           dib == 108 || dib == 124;
}

int ingest_sniff(const uint8_t *p, size_t n, int text_kind, const char **unsupported)
{
    *unsupported = NULL;
    const char *fmt = media_image_format(p, n);
    if (fmt && (strcmp(fmt, "bmp") || plausible_bmp(p, n))) return STORE_KIND_IMAGE;
    if (is_pdf(p, n)) return STORE_KIND_PDF;
    if ((*unsupported = media_image_unsupported(p, n))) return STORE_KIND_IMAGE;
    return text_kind ? STORE_KIND_TEXT : STORE_KIND_OTHER;
}

int ingest_skip_reason(int status)
{
    switch (status) {
    case IRIS_EIO:
    case IRIS_ENOTFOUND: return IRIS_SKIP_UNREADABLE;
    case IRIS_EFORMAT: return IRIS_SKIP_CORRUPT;
    case IRIS_EUNSUPPORTED: return IRIS_SKIP_UNSUPPORTED;
    case IRIS_ELIMIT:
    case IRIS_ENOMEM: return IRIS_SKIP_TOO_LARGE;
    default: return IRIS_SKIP_OTHER;
    }
}

static const char *const skip_names[IRIS_N_SKIP] = {
    "unreadable", "special", "loop", "empty", "corrupt", "unsupported", "too-large", "other"};

const char *iris_skip_name(int reason)
{
    return reason >= 0 && reason < IRIS_N_SKIP ? skip_names[reason] : "?";
}

int ingest_skip_parse(const char *stored, const char **msg)
{
    *msg = stored;
    for (int r = 0; r < IRIS_N_SKIP; r++) {
        size_t n = strlen(skip_names[r]);
        if (!strncmp(stored, skip_names[r], n) && stored[n] == ':' && stored[n + 1] == ' ') {
            *msg = stored + n + 2;
            return r;
        }
    }
    return IRIS_SKIP_OTHER;
}
