/*
 * cli.h - the iris command-line front end.
 *
 * Each subcommand lives in its own cmd_<name>.c and is listed once in the
 * table in main.c. A command gets argv starting at its own name (so getopt
 * works as usual), prints results on stdout and problems on stderr, and
 * returns the process exit status: 0 success, 1 failure, 2 usage error,
 * 3 partial success (some inputs skipped). Commands hold no logic of their
 * own beyond parsing and printing: the work is done through iris.h.
 */
#ifndef IRIS_CLI_H
#define IRIS_CLI_H

#include <stdio.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_PARTIAL = 3 };

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `iris help` */
} cli_command;

/* Prints "iris <cmd>: <iris_errmsg()>" to stderr and returns CLI_FAIL. */
int cli_error(const char *cmd, int status);

/* Writes s with bytes that are not UTF-8, and control characters, escaped
 * as \xNN: file names are printed with it, so a hostile name cannot move
 * the cursor or forge a line. */
void cli_put_safe(FILE *f, const char *s);
/* Prints "iris <cmd>: " fmt (with one %s for arg), then the command's
 * usage text, to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg);
/* A whole number within [lo, hi] into *out: 0, or -1 if s is not one. */
int cli_parse_int(const char *s, long lo, long hi, int *out);
/* The words joined by single spaces (malloc'ed; NULL without memory):
 * `iris search red car` and `iris ask how do I ...` need no quotes. */
char *cli_join_words(int n, char **words);

/* A captioning run as `iris caption` prints it (cmd_caption.c): opens the
 * index at db_path (NULL: the default) with the CLIP model `model` (NULL:
 * the index's), captions the images under paths (n_paths = 0: all), saves
 * the vector index, and returns the exit status. `iris index --caption`
 * calls it with the paths it just indexed. */
typedef struct cli_caption_flags {
    int yes, dry_run, recaption, json;
    const char *config;
} cli_caption_flags;

int cli_caption_run(const char *db_path, const char *model, const char *const *paths,
                    int n_paths, const cli_caption_flags *flags);

#endif
