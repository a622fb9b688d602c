/*
 * main.c - entry point of the iris CLI: dispatches to subcommands.
 */
#include "cli/cli.h"
#include "iris.h"

#include <stdio.h>
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
int cmd_search(int argc, char **argv);   /* cmd_search.c */
int cmd_similar(int argc, char **argv);  /* cmd_search.c */
int cmd_classify(int argc, char **argv); /* cmd_classify.c */
int cmd_ask(int argc, char **argv);      /* cmd_ask.c */
int cmd_caption(int argc, char **argv);  /* cmd_caption.c */

static const cli_command commands[] = {
    {"help", cmd_help, "show the commands"},
    {"version", cmd_version, "print the version"},
    {"model", cmd_model, "model info|fetch|list: inspect or download CLIP models"},
    {"tokenize", cmd_tokenize, "print the CLIP token ids of a text"},
    {"embed", cmd_embed, "CLIP embeddings of texts and images, as JSON"},
    {"similarity", cmd_similarity, "zero-shot scores: cosines, logits and probabilities"},
    {"search", cmd_search, "find images and passages by text or by an example image"},
    {"similar", cmd_similar, "items similar to an indexed item"},
    {"classify", cmd_classify, "zero-shot classification of images against labels"},
    {"ask", cmd_ask, "answer a question from the index, citing its sources"},
    {"caption", cmd_caption, "describe indexed images with a vision model (searchable captions)"},
    {"stats", cmd_stats, "what an index holds: files, items by type, model, size"},
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
