/*
 * cmd_model.c - `iris model info|fetch|list` and `iris tokenize`.
 *
 *   iris model info [--json] [MODEL]     the config of a model (folder, GGUF file or
 *                                        known name; default: iris_model_default)
 *   iris model fetch NAME                download a known model into the cache
 *   iris model list [--json]             the known models and where they install
 *   iris tokenize [--model M] [--json] TEXT...   CLIP token ids of the text
 *
 * Progress goes to stderr, results to stdout; JSON output is one object
 * (or array) on one line, for scripts.
 */
#include "cli/cli.h"
#include "iris.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct option json_opts[] = {{"json", no_argument, NULL, 'j'},
                                          {"model", required_argument, NULL, 'm'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* Parses --json/--model; returns the index of the first operand or -1. */
static int parse_opts(int argc, char **argv, int *json, const char **model, const char *usage)
{
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "+jm:h", json_opts, NULL)) != -1;) {
        if (c == 'j') *json = 1;
        else if (c == 'm' && model) *model = optarg;
        else {
            fprintf(c == 'h' ? stdout : stderr, "usage: %s\n", usage);
            return c == 'h' ? -2 : -1;
        }
    }
    return optind;
}

static int opts_status(int at) { return at == -2 ? CLI_OK : CLI_USAGE; }

/* --model, else the default model. */
static int open_model(const char *cmd, const char *arg, iris_model **m)
{
    char path[4096];
    int rc = IRIS_OK;
    if (!arg) {
        rc = iris_model_default(path, sizeof path);
        arg = path;
    }
    if (!rc) rc = iris_model_load(arg, NULL, m);
    return rc ? cli_error(cmd, rc) : CLI_OK;
}

static cJSON *floats3(const float *v)
{
    const double d[3] = {v[0], v[1], v[2]};
    return cJSON_CreateDoubleArray(d, 3);
}

static void print_json(const iris_model_info *in)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", in->name);
    cJSON_AddStringToObject(o, "format", in->format);
    cJSON_AddStringToObject(o, "dtype", in->dtype);
    cJSON_AddStringToObject(o, "id", in->id);
    const struct { const char *k; int v; } ints[] = {
        {"image_size", in->image_size}, {"patch_size", in->patch_size},
        {"vision_width", in->vision_width}, {"vision_layers", in->vision_layers},
        {"vision_heads", in->vision_heads}, {"vision_mlp", in->vision_mlp},
        {"text_width", in->text_width}, {"text_layers", in->text_layers},
        {"text_heads", in->text_heads}, {"text_mlp", in->text_mlp},
        {"vocab_size", in->vocab_size}, {"context_length", in->context_length},
        {"projection_dim", in->projection_dim}, {"bos_token_id", in->bos_token_id},
        {"eos_token_id", in->eos_token_id}, {"resize_shortest", in->resize_shortest},
        {"crop_size", in->crop_size}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        cJSON_AddNumberToObject(o, ints[i].k, ints[i].v);
    cJSON_AddStringToObject(o, "hidden_act", in->hidden_act);
    cJSON_AddNumberToObject(o, "logit_scale", in->logit_scale);
    cJSON_AddItemToObject(o, "image_mean", floats3(in->image_mean));
    cJSON_AddItemToObject(o, "image_std", floats3(in->image_std));
    char *s = cJSON_PrintUnformatted(o);
    puts(s);
    free(s);
    cJSON_Delete(o);
}

static void print_text(const iris_model_info *in)
{
    printf("name        %s\nformat      %s, %s weights\nid          %s\n", in->name, in->format,
           in->dtype, in->id);
    printf("vision      image %d, patch %d, width %d, %d layers, %d heads, mlp %d\n",
           in->image_size, in->patch_size, in->vision_width, in->vision_layers,
           in->vision_heads, in->vision_mlp);
    printf("text        width %d, %d layers, %d heads, mlp %d, vocab %d, context %d\n",
           in->text_width, in->text_layers, in->text_heads, in->text_mlp, in->vocab_size,
           in->context_length);
    printf("projection  %d\nactivation  %s\ntokens      start %d, end %d\nlogit scale %g\n",
           in->projection_dim, in->hidden_act, in->bos_token_id, in->eos_token_id,
           (double)in->logit_scale);
    printf("preprocess  shortest side -> %d, centre crop %d, mean [%g, %g, %g], "
           "std [%g, %g, %g]\n",
           in->resize_shortest, in->crop_size, (double)in->image_mean[0],
           (double)in->image_mean[1], (double)in->image_mean[2], (double)in->image_std[0],
           (double)in->image_std[1], (double)in->image_std[2]);
}

static int model_info(int argc, char **argv)
{
    int json = 0, at = parse_opts(argc, argv, &json, NULL, "iris model info [--json] [MODEL]");
    if (at < 0) return opts_status(at);
    if (argc - at > 1) return fprintf(stderr, "iris model info: one model at a time\n"), CLI_USAGE;
    iris_model *m;
    int rc = open_model("model info", at < argc ? argv[at] : NULL, &m);
    if (rc) return rc;
    iris_model_info in;
    iris_model_get_info(m, &in);
    if (json) print_json(&in);
    else print_text(&in);
    iris_model_free(m);
    return CLI_OK;
}

static void on_progress(const char *file, uint64_t done, uint64_t total, const char *sha256,
                        void *user)
{
    const iris_known_model *k = user;
    if (!sha256) {
        if (isatty(2) && total)
            fprintf(stderr, "\r%s: %.1f / %.1f MB", file, done / 1e6, total / 1e6);
        return;
    }
    const char *published = NULL;
    for (int i = 0; i < k->n_files; i++)
        if (!strcmp(k->files[i].name, file)) published = k->files[i].sha256;
    fprintf(stderr, "%s%s: %s (SHA-256 %s)\n", isatty(2) ? "\r\033[K" : "", file,
            published ? "verified against the published checksum"
                      : "size checked; no published checksum known",
            sha256);
}

static int model_fetch(int argc, char **argv)
{
    int json = 0, at = parse_opts(argc, argv, &json, NULL, "iris model fetch NAME");
    if (at < 0) return opts_status(at);
    if (argc - at != 1) {
        fprintf(stderr, "usage: iris model fetch NAME   (iris model list shows the names)\n");
        return CLI_USAGE;
    }
    const iris_known_model *k = NULL;
    for (int i = 0; (k = iris_model_known(i)) && strcmp(k->name, argv[at]); i++) {}
    char path[4096];
    int rc = iris_model_fetch(argv[at], on_progress, (void *)k);
    if (!rc) rc = iris_model_path(argv[at], path, sizeof path);
    if (rc) return cli_error("model fetch", rc);
    printf("%s\n", path);
    return CLI_OK;
}

static cJSON *known_json(const iris_known_model *k, const char *path)
{
    cJSON *o = cJSON_CreateObject(), *files = cJSON_AddArrayToObject(o, "files");
    cJSON_AddStringToObject(o, "name", k->name);
    cJSON_AddStringToObject(o, "description", k->description);
    cJSON_AddStringToObject(o, "repo", k->repo);
    cJSON_AddStringToObject(o, "revision", k->revision);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddBoolToObject(o, "installed", iris_model_installed(k->name));
    for (int i = 0; i < k->n_files; i++) {
        const iris_known_file *f = &k->files[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", f->name);
        cJSON_AddNumberToObject(e, "size", (double)f->size);
        if (f->sha256) cJSON_AddStringToObject(e, "sha256", f->sha256);
        else cJSON_AddNullToObject(e, "sha256");
        cJSON_AddStringToObject(e, "revision", f->revision ? f->revision : k->revision);
        cJSON_AddItemToArray(files, e);
    }
    return o;
}

static int model_list(int argc, char **argv)
{
    int json = 0, at = parse_opts(argc, argv, &json, NULL, "iris model list [--json]");
    if (at < 0) return opts_status(at);
    cJSON *arr = cJSON_CreateArray();
    const iris_known_model *k;
    for (int i = 0; (k = iris_model_known(i)); i++) {
        char path[4096];
        int rc = iris_model_path(k->name, path, sizeof path);
        if (rc) {
            cJSON_Delete(arr);
            return cli_error("model list", rc);
        }
        if (json) cJSON_AddItemToArray(arr, known_json(k, path));
        else
            printf("%-30s %-13s %s\n%30s %s\n", k->name,
                   iris_model_installed(k->name) ? "installed" : "not installed", k->description,
                   "", path);
    }
    if (json) {
        char *s = cJSON_PrintUnformatted(arr);
        puts(s);
        free(s);
    }
    cJSON_Delete(arr);
    return CLI_OK;
}

int cmd_model(int argc, char **argv)
{
    static const char usage[] = "usage: iris model info [--json] [MODEL] | fetch NAME | list [--json]\n";
    if (argc < 2) return fputs(usage, stderr), CLI_USAGE;
    if (!strcmp(argv[1], "info")) return model_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fetch")) return model_fetch(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list")) return model_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return fputs(usage, stdout), CLI_OK;
    fprintf(stderr, "iris model: unknown subcommand '%s'\n%s", argv[1], usage);
    return CLI_USAGE;
}

int cmd_tokenize(int argc, char **argv)
{
    int json = 0;
    const char *model = NULL;
    int at = parse_opts(argc, argv, &json, &model, "iris tokenize [--model M] [--json] TEXT...");
    if (at < 0) return opts_status(at);
    if (at >= argc) return fprintf(stderr, "usage: iris tokenize [--model M] [--json] TEXT...\n"), CLI_USAGE;
    size_t len = 1;
    for (int i = at; i < argc; i++) len += strlen(argv[i]) + 1;
    char *text = calloc(1, len);
    for (int i = at; text && i < argc; i++) strcat(strcat(text, i > at ? " " : ""), argv[i]);
    iris_model *m = NULL;
    int rc = text ? open_model("tokenize", model, &m) : CLI_FAIL;
    int32_t ids[4096];
    int n = 0;
    if (!rc && (rc = iris_tokenize(m, text, ids, 4096, &n))) rc = cli_error("tokenize", rc);
    if (!rc) {
        fputs(json ? "[" : "", stdout);
        for (int i = 0; i < n; i++) printf("%s%d", i ? (json ? "," : " ") : "", ids[i]);
        puts(json ? "]" : "");
    }
    iris_model_free(m);
    free(text);
    return rc;
}
