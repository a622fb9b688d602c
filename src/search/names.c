/*
 * names.c - user-facing names of modalities and search modes, and the
 * parsing of `--type` lists. The public IRIS_MOD_* values are the store's
 * modality values (they are what the index holds), so the names come from
 * the store and only the aliases live here.
 */
#include "search/db.h"

#include "util/error.h"

#include <stdio.h>
#include <string.h>

_Static_assert((int)IRIS_MOD_IMAGE == (int)STORE_IMAGE &&
                   (int)IRIS_MOD_TEXT == (int)STORE_TEXT_CHUNK &&
                   (int)IRIS_MOD_PDF_TEXT == (int)STORE_PDF_TEXT &&
                   (int)IRIS_MOD_PDF_FIGURE == (int)STORE_PDF_FIGURE &&
                   (int)IRIS_MOD_OCR == (int)STORE_OCR_TEXT &&
                   (int)IRIS_MOD_CAPTION == (int)STORE_CAPTION && IRIS_N_MODS == STORE_N_MODALITIES,
               "public modality values must be the stored ones");

const char *iris_modality_name(int modality) { return store_modality_name(modality); }

#define BIT(m) (1u << (m))

static const struct {
    const char *name;
    unsigned mask;
} aliases[] = {
    {"pdf", BIT(IRIS_MOD_PDF_TEXT) | BIT(IRIS_MOD_PDF_FIGURE)},
    {"figure", BIT(IRIS_MOD_PDF_FIGURE)},
    {"visual", BIT(IRIS_MOD_IMAGE) | BIT(IRIS_MOD_PDF_FIGURE)},
};

static unsigned one_mask(const char *name)
{
    int m = store_modality_parse(name);
    if (m) return BIT(m);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(name, aliases[i].name)) return aliases[i].mask;
    return 0;
}

int iris_modality_mask(const char *list, unsigned *mask)
{
    if (!list || !mask) return iris_fail(IRIS_EARG, "iris_modality_mask: NULL argument");
    char name[32];
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        while (n && (*p == ' ')) p++, n--;
        size_t len = n;
        while (len && p[len - 1] == ' ') len--;
        unsigned m = 0;
        if (len && len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            m = one_mask(name);
        }
        if (!m)
            return iris_fail(IRIS_EARG,
                             "unknown type '%.*s' (valid: image, text, pdf_text, pdf_figure, ocr, "
                             "caption, pdf, figure, visual)",
                             (int)(len < 64 ? len : 64), p);
        *mask |= m;
        if (!p[n]) return IRIS_OK;
        p += n + 1;
    }
}

static const char *const mode_names[] = {"hybrid", "vector", "keyword"};

const char *iris_mode_name(int mode)
{
    return mode >= 0 && mode <= IRIS_MODE_KEYWORD ? mode_names[mode] : "?";
}

int iris_mode_parse(const char *name, int *mode)
{
    for (int m = 0; name && m <= IRIS_MODE_KEYWORD; m++)
        if (!strcmp(name, mode_names[m])) {
            *mode = m;
            return IRIS_OK;
        }
    return iris_fail(IRIS_EARG, "unknown mode '%s' (valid: hybrid, vector, keyword)",
                     name ? name : "(null)");
}
