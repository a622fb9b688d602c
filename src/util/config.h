/*
 * config.h - the iris configuration file: a small TOML subset.
 *
 *     # comment
 *     [llm]
 *     url = "http://localhost:11434"
 *     model = "llama3.2-vision"
 *     timeout = 120
 *
 * Sections in brackets, one `key = value` a line; values are a quoted string
 * (with \" \\ \n \t escapes), or a bare word or number taken as written.
 * Everything is kept as a string: each module reads and validates its own
 * section, so this parser knows no key. Where the file lives:
 * $IRIS_CONFIG if set (then it must exist), else
 * $XDG_CONFIG_HOME/iris/config.toml, else ~/.config/iris/config.toml (those
 * two may be absent: an empty configuration). Environment variables beat
 * the file; each module documents its own (docs/rag.md for [llm] / [vlm]).
 *
 * Secrets never live here: modules read API keys from the environment only.
 */
#ifndef IRIS_UTIL_CONFIG_H
#define IRIS_UTIL_CONFIG_H

#include <stddef.h>

typedef struct iris_config iris_config;

/* Loads path, or the default location when path is NULL (see above). A
 * syntax error fails with IRIS_EFORMAT naming the file and line. */
int iris_config_load(const char *path, iris_config **out);
/* Parses text directly; origin names it in messages. */
int iris_config_parse(const char *text, size_t len, const char *origin, iris_config **out);
void iris_config_free(iris_config *cfg);

/* The value of key in section, or NULL. cfg may be NULL (no file). */
const char *iris_config_get(const iris_config *cfg, const char *section, const char *key);

/* Iterates the entries of one section: start with *pos = 0; returns 0 when
 * there are no more. *line is the entry's line in the file. */
int iris_config_next(const iris_config *cfg, const char *section, int *pos, const char **key,
                     const char **value, int *line);
/* The file the configuration came from ("" for none). */
const char *iris_config_origin(const iris_config *cfg);

/* Parses value strictly as a number in [lo, hi] (a whole number if
 * integer): "12s", "", "nan" fail with IRIS_EARG, the message starting with
 * where ("file.toml:3: [llm] timeout" or "IRIS_LLM_TIMEOUT"). */
int iris_config_number(const char *value, const char *where, double lo, double hi, int integer,
                       double *out);

#endif
