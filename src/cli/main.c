/*
 * main.c - entry point of the iris CLI: dispatches to subcommands.
 */
#include "cli/cli.h"
#include "iris.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    printf("iris %s\n", iris_version());
    return CLI_OK;
}

static int cmd_help(int argc, char **argv);
int cmd_model(int argc, char **argv);    /* cmd_model.c */
int cmd_tokenize(int argc, char **argv); /* cmd_model.c */
int cmd_stats(int argc, char **argv);    /* cmd_stats.c */
int cmd_embed(int argc, char **argv);      /* cmd_embed.c */
int cmd_similarity(int argc, char **argv); /* cmd_embed.c */
int cmd_index(int argc, char **argv);      /* cmd_index.c */
int cmd_remove(int argc, char **argv);     /* cmd_index.c */
int cmd_search(int argc, char **argv);   /* cmd_search.c */
int cmd_similar(int argc, char **argv);  /* cmd_search.c */
int cmd_classify(int argc, char **argv); /* cmd_classify.c */
int cmd_ask(int argc, char **argv);      /* cmd_ask.c */
int cmd_caption(int argc, char **argv);  /* cmd_caption.c */
int cmd_serve(int argc, char **argv);    /* cmd_serve.c */

static const cli_command commands[] = {
    {"help", cmd_help, "show the commands"},
    {"version", cmd_version, "print the version"},
    {"model", cmd_model, "model info|fetch|list: inspect or download CLIP models"},
    {"tokenize", cmd_tokenize, "print the CLIP token ids of a text"},
    {"embed", cmd_embed, "CLIP embeddings of texts and images, as JSON"},
    {"similarity", cmd_similarity, "zero-shot scores: cosines, logits and probabilities"},
    {"index", cmd_index, "index images, PDFs, text and Markdown under folders (incremental)"},
    {"remove", cmd_remove, "remove files or folders from an index"},
    {"search", cmd_search, "find images and passages by text or by an example image"},
    {"similar", cmd_similar, "items similar to an indexed item"},
    {"classify", cmd_classify, "zero-shot classification of images against labels"},
    {"ask", cmd_ask, "answer a question from the index, citing its sources"},
    {"caption", cmd_caption, "describe indexed images with a vision model (searchable captions)"},
    {"stats", cmd_stats, "what an index holds: files, items by type, model, size"},
    {"serve", cmd_serve, "REST API and web UI (search, map, thumbnails) on http://127.0.0.1:8080"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static int cmd_help(int argc, char **argv)
{
    (void)argc, (void)argv;
    printf("usage: iris <command> [options]   (iris <command> --help for details)\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-12s %s\n", commands[i].name, commands[i].summary);
    return CLI_OK;
}

int cli_error(const char *cmd, int status)
{
    const char *msg = iris_errmsg();
    fprintf(stderr, "iris %s: %s\n", cmd, msg[0] ? msg : iris_strerror(status));
    return CLI_FAIL;
}

void cli_put_safe(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
              : (*p & 0xF8) == 0xF0 ? 4 : 0;
        int ok = n > 0 && !(n == 1 && (*p < 0x20 || *p == 0x7F));
        for (int i = 1; ok && i < n; i++) ok = (p[i] & 0xC0) == 0x80;
        if (ok && n == 2) ok = *p >= 0xC2;
        if (ok && n == 3) ok = !(*p == 0xE0 && p[1] < 0xA0) && !(*p == 0xED && p[1] >= 0xA0);
        if (ok && n == 4) ok = *p <= 0xF4 && !(*p == 0xF0 && p[1] < 0x90) && !(*p == 0xF4 && p[1] >= 0x90);
        if (!ok) {
            fprintf(f, "\\x%02x", *p++);
            continue;
        }
        fwrite(p, 1, (size_t)n, f);
        p += n;
    }
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "iris %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return CLI_USAGE;
}

int cli_parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

char *cli_join_words(int n, char **words)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(words[i]) + 1;
    char *s = calloc(1, len);
    for (int i = 0; s && i < n; i++) strcat(strcat(s, i ? " " : ""), words[i]);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_help(0, NULL);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
    if (!strcmp(name, "--version")) name = "version";
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "iris: unknown command '%s' (try 'iris help')\n", name);
    return CLI_USAGE;
}
