/*
 * config.c - parser for the TOML-subset configuration file (see config.h).
 *
 * The file is small and read once, so entries are kept in one flat array
 * (section, key, value, line) and looked up linearly: no hash table, and
 * iteration keeps the file's order. A later duplicate key wins, as users
 * expect when they append an override.
 */
#include "util/config.h"

#include "util/error.h"
#include "util/fs.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1u << 20) /* a configuration is never this large */
#define CONFIG_NAME_CAP 64

typedef struct config_entry {
    char section[CONFIG_NAME_CAP];
    char key[CONFIG_NAME_CAP];
    char *value;
    int line;
} config_entry;

struct iris_config {
    config_entry *entries;
    int n, cap;
    char origin[512];
};

void iris_config_free(iris_config *cfg)
{
    if (!cfg) return;
    for (int i = 0; i < cfg->n; i++) free(cfg->entries[i].value);
    free(cfg->entries);
    free(cfg);
}

static int is_name_char(int c) { return isalnum(c) || c == '_' || c == '-' || c == '.'; }

/* Copies a bare name (section or key) from [s, e) into out; 0 if invalid. */
static int take_name(const char *s, const char *e, char out[CONFIG_NAME_CAP])
{
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    if (s == e || e - s >= CONFIG_NAME_CAP) return 0;
    for (const char *p = s; p < e; p++)
        if (!is_name_char((unsigned char)*p)) return 0;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    return 1;
}

/* Parses a value starting at s (line ends at e) into a malloc'ed string.
 * Returns NULL with *bad set on a syntax error. */
static char *take_value(const char *s, const char *e, int *bad)
{
    *bad = 0;
    while (s < e && isspace((unsigned char)*s)) s++;
    char *out = malloc((size_t)(e - s) + 1), *o = out;
    if (!out) return NULL;
    if (s < e && *s == '"') {
        for (s++; s < e && *s != '"'; s++) {
            if (*s != '\\') { *o++ = *s; continue; }
            if (++s == e) break;
            *o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
        }
        if (s == e) { *bad = 1; free(out); return NULL; } /* unterminated */
        s++;
    } else {
        while (s < e && *s != '#') *o++ = *s++;
        while (o > out && isspace((unsigned char)o[-1])) o--;
    }
    while (s < e && isspace((unsigned char)*s)) s++;
    if (s < e && *s != '#') { *bad = 1; free(out); return NULL; } /* trailing junk */
    *o = '\0';
    return out;
}

static int add_entry(iris_config *cfg, const char *section, const char *key, char *value,
                     int line)
{
    if (cfg->n == cfg->cap) {
        int cap = cfg->cap ? cfg->cap * 2 : 16;
        config_entry *e = realloc(cfg->entries, (size_t)cap * sizeof *e);
        if (!e) { free(value); return iris_fail(IRIS_ENOMEM, "no memory for configuration"); }
        cfg->entries = e;
        cfg->cap = cap;
    }
    config_entry *en = &cfg->entries[cfg->n++];
    snprintf(en->section, sizeof en->section, "%s", section);
    snprintf(en->key, sizeof en->key, "%s", key);
    en->value = value;
    en->line = line;
    return IRIS_OK;
}

/* One line [s, e): blank, comment, [section] or key = value. */
static int parse_line(iris_config *cfg, const char *s, const char *e, int line,
                      char section[CONFIG_NAME_CAP])
{
    while (s < e && isspace((unsigned char)*s)) s++;
    if (s == e || *s == '#') return IRIS_OK;
    if (*s == '[') {
        const char *close = memchr(s, ']', (size_t)(e - s));
        if (!close || !take_name(s + 1, close, section))
            return iris_fail(IRIS_EFORMAT, "%s:%d: bad section header", cfg->origin, line);
        return IRIS_OK;
    }
    const char *eq = memchr(s, '=', (size_t)(e - s));
    char key[CONFIG_NAME_CAP];
    if (!eq || !take_name(s, eq, key))
        return iris_fail(IRIS_EFORMAT, "%s:%d: expected 'key = value'", cfg->origin, line);
    int bad;
    char *value = take_value(eq + 1, e, &bad);
    if (!value)
        return bad ? iris_fail(IRIS_EFORMAT, "%s:%d: bad value for '%s'", cfg->origin, line, key)
                   : iris_fail(IRIS_ENOMEM, "no memory for configuration");
    return add_entry(cfg, section, key, value, line);
}

int iris_config_parse(const char *text, size_t len, const char *origin, iris_config **out)
{
    *out = NULL;
    iris_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return iris_fail(IRIS_ENOMEM, "no memory for configuration");
    snprintf(cfg->origin, sizeof cfg->origin, "%s", origin ? origin : "");
    char section[CONFIG_NAME_CAP] = "";
    const char *p = text, *end = text + len;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (memchr(p, '\0', (size_t)(e - p))) {
            iris_config_free(cfg);
            return iris_fail(IRIS_EFORMAT, "%s:%d: NUL byte in configuration", origin, line);
        }
        int rc = parse_line(cfg, p, e, line, section);
        if (rc) {
            iris_config_free(cfg);
            return rc;
        }
        p = nl ? nl + 1 : end;
    }
    *out = cfg;
    return IRIS_OK;
}

/* The default path, or "" when there is no home to look in. */
static void default_path(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(buf, n, "%s/iris/config.toml", xdg);
    else if (home && *home) snprintf(buf, n, "%s/.config/iris/config.toml", home);
    else buf[0] = '\0';
}

int iris_config_load(const char *path, iris_config **out)
{
    *out = NULL;
    char fallback[1024];
    int must_exist = 1;
    if (!path) path = getenv("IRIS_CONFIG");
    if (!path || !*path) {
        default_path(fallback, sizeof fallback);
        path = fallback;
        must_exist = 0;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = path[0] ? iris_read_file(path, CONFIG_MAX_BYTES, &text, &len) : IRIS_ENOTFOUND;
    if (rc == IRIS_ENOTFOUND && !must_exist) return iris_config_parse("", 0, "", out);
    if (rc) return iris_fail_wrap(rc, "configuration");
    rc = iris_config_parse(text, len, path, out);
    free(text);
    return rc;
}

const char *iris_config_get(const iris_config *cfg, const char *section, const char *key)
{
    if (!cfg) return NULL;
    for (int i = cfg->n - 1; i >= 0; i--)
        if (!strcmp(cfg->entries[i].section, section) && !strcmp(cfg->entries[i].key, key))
            return cfg->entries[i].value;
    return NULL;
}

int iris_config_next(const iris_config *cfg, const char *section, int *pos, const char **key,
                     const char **value, int *line)
{
    if (!cfg) return 0;
    for (; *pos < cfg->n; (*pos)++) {
        const config_entry *e = &cfg->entries[*pos];
        if (strcmp(e->section, section)) continue;
        *key = e->key;
        *value = e->value;
        *line = e->line;
        (*pos)++;
        return 1;
    }
    return 0;
}

const char *iris_config_origin(const iris_config *cfg) { return cfg ? cfg->origin : ""; }

int iris_config_number(const char *value, const char *where, double lo, double hi, int integer,
                       double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno || !isfinite(v) || v < lo || v > hi ||
        (integer && v != floor(v)))
        return iris_fail(IRIS_EARG, "%s: '%s' is not a %s in [%g, %g]", where, value,
                         integer ? "whole number" : "number", lo, hi);
    *out = v;
    return IRIS_OK;
}
