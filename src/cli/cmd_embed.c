/*
 * cmd_embed.c - `iris embed` and `iris similarity`: CLIP embeddings and
 * zero-shot scores from the command line.
 *
 *   iris embed [--model M] [--threads N] (--text T | --image F)...
 *       one JSON object: the model, the dimension and, in argument order,
 *       each input with its L2-normalised vector
 *   iris similarity [--model M] [--threads N] [--json] --image F... --text T...
 *       for each image, every text's cosine, logit (logit_scale * cosine)
 *       and probability (softmax of the image's logits over the texts), as
 *       in the CLIPModel example of the transformers documentation
 *
 * Without --model the default model (iris_model_default) is used.
 * Everything is computed through iris.h; this file parses and prints.
 */
#include "cli/cli.h"
#include "iris.h"

#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct inputs {
    const char *model;
    int threads, json;
    int n;             /* texts + images, in argument order */
    const char **value;
    char *is_image;
    int n_text, n_image;
} inputs;

static const struct option opts[] = {
    {"model", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
    {"text", required_argument, NULL, 'T'},  {"image", required_argument, NULL, 'I'},
    {"json", no_argument, NULL, 'j'},        {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* CLI_OK to go on; PARSE_HELP after printing the usage for --help;
 * CLI_USAGE or CLI_FAIL to stop with that status. */
#define PARSE_HELP (-1)
static int parse(int argc, char **argv, const char *usage, inputs *in)
{
    memset(in, 0, sizeof *in);
    in->value = calloc((size_t)argc, sizeof *in->value);
    in->is_image = calloc((size_t)argc, 1);
    if (!in->value || !in->is_image) return fprintf(stderr, "iris: out of memory\n"), CLI_FAIL;
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "m:t:T:I:jh", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case 'm': in->model = optarg; break;
        case 'j': in->json = 1; break;
        case 't':
            in->threads = (int)strtol(optarg, &end, 10);
            if (*end || in->threads < 0) goto bad;
            break;
        case 'T':
        case 'I':
            in->is_image[in->n] = c == 'I';
            in->value[in->n++] = optarg;
            *(c == 'I' ? &in->n_image : &in->n_text) += 1;
            break;
        case 'h': printf("usage: %s\n", usage); return PARSE_HELP;
        default: goto bad;
        }
    }
    if (optind == argc) return CLI_OK;
bad:
    fprintf(stderr, "usage: %s\n", usage);
    return CLI_USAGE;
}

static void inputs_free(inputs *in)
{
    free(in->value);
    free(in->is_image);
}

static int open_model(const char *cmd, const inputs *in, iris_model **m)
{
    char path[4096];
    const char *arg = in->model;
    iris_model_opts o = {.n_threads = in->threads};
    int rc = IRIS_OK;
    if (!arg && !(rc = iris_model_default(path, sizeof path))) arg = path;
    if (!rc) rc = iris_model_load(arg, &o, m);
    return rc ? cli_error(cmd, rc) : CLI_OK;
}

/* Encodes the inputs of one kind (is_image 0/1) into out, in argument
 * order: n_kind rows of dim floats. */
static int encode_kind(const char *cmd, iris_model *m, const inputs *in, int is_image, float *out)
{
    int n = is_image ? in->n_image : in->n_text, k = 0, rc = IRIS_OK;
    const char **texts = calloc((size_t)n + 1, sizeof *texts);
    iris_image *imgs = calloc((size_t)n + 1, sizeof *imgs);
    for (int i = 0; texts && imgs && !rc && i < in->n; i++) {
        if (in->is_image[i] != is_image) continue;
        if (!is_image) texts[k++] = in->value[i];
        else rc = iris_image_load(in->value[i], NULL, &imgs[k++]); /* names the file */
    }
    if (!texts || !imgs) rc = IRIS_ENOMEM;
    if (!rc) rc = is_image ? iris_encode_images(m, imgs, n, out) : iris_encode_texts(m, texts, n, out);
    for (int i = 0; imgs && i < n; i++) iris_image_free(&imgs[i]);
    free(texts);
    free(imgs);
    return rc ? cli_error(cmd, rc) : CLI_OK;
}

/* s as a JSON string literal. */
static void print_json_string(const char *s)
{
    cJSON *v = cJSON_CreateString(s);
    char *q = v ? cJSON_PrintUnformatted(v) : NULL;
    fputs(q ? q : "null", stdout);
    cJSON_free(q);
    cJSON_Delete(v);
}

/* The work both commands share: the model, then every input encoded into
 * txt / img (argument order within each kind). */
typedef struct encoded {
    iris_model *m;
    int dim;
    float *txt, *img;
} encoded;

static int encode_all(const char *cmd, const inputs *in, encoded *e)
{
    memset(e, 0, sizeof *e);
    int rc = open_model(cmd, in, &e->m);
    if (rc) return rc;
    e->dim = iris_model_dim(e->m);
    e->txt = calloc((size_t)in->n_text * e->dim + 1, sizeof *e->txt);
    e->img = calloc((size_t)in->n_image * e->dim + 1, sizeof *e->img);
    if (!e->txt || !e->img) return fprintf(stderr, "iris %s: out of memory\n", cmd), CLI_FAIL;
    if (in->n_text && (rc = encode_kind(cmd, e->m, in, 0, e->txt))) return rc;
    if (in->n_image && (rc = encode_kind(cmd, e->m, in, 1, e->img))) return rc;
    return CLI_OK;
}

static void encoded_free(encoded *e)
{
    free(e->txt);
    free(e->img);
    iris_model_free(e->m);
}

/* %.9g: every float reads back exactly. */
static void print_vector(const float *v, int dim)
{
    putchar('[');
    for (int j = 0; j < dim; j++) printf("%s%.9g", j ? "," : "", v[j]);
    putchar(']');
}

int cmd_embed(int argc, char **argv)
{
    static const char usage[] = "iris embed [--model M] [--threads N] (--text T | --image F)...";
    inputs in;
    int rc = parse(argc, argv, usage, &in);
    if (rc == CLI_OK && in.n == 0) rc = (fprintf(stderr, "usage: %s\n", usage), CLI_USAGE);
    encoded e = {0};
    if (rc == CLI_OK) rc = encode_all("embed", &in, &e);
    if (rc == CLI_OK) {
        int dim = e.dim;
        iris_model_info info;
        iris_model_get_info(e.m, &info);
        fputs("{\"model\":", stdout);
        print_json_string(info.name);
        printf(",\"dim\":%d,\"embeddings\":[", dim);
        for (int i = 0, t = 0, k = 0; i < in.n; i++) {
            printf("%s{\"%s\":", i ? "," : "", in.is_image[i] ? "image" : "text");
            print_json_string(in.value[i]);
            fputs(",\"vector\":", stdout);
            print_vector(in.is_image[i] ? e.img + (size_t)k++ * dim : e.txt + (size_t)t++ * dim, dim);
            putchar('}');
        }
        puts("]}");
    }
    encoded_free(&e);
    inputs_free(&in);
    return rc == PARSE_HELP ? CLI_OK : rc;
}

/* probs[t] = softmax over t of logits[t]. */
static void softmax(const double *logits, int n, double *probs)
{
    double mx = -INFINITY, sum = 0;
    for (int t = 0; t < n; t++) mx = logits[t] > mx ? logits[t] : mx;
    for (int t = 0; t < n; t++) sum += probs[t] = exp(logits[t] - mx);
    for (int t = 0; t < n; t++) probs[t] /= sum;
}

/* Scores of image i: cosines, logits and probabilities over the texts. */
static void scores(const float *img, const float *txt, int n_text, int dim, double scale,
                   double *cos, double *logit, double *prob)
{
    for (int t = 0; t < n_text; t++) {
        double dot = 0;
        for (int j = 0; j < dim; j++) dot += (double)img[j] * txt[(size_t)t * dim + j];
        cos[t] = dot;
        logit[t] = scale * dot;
    }
    softmax(logit, n_text, prob);
}

static void print_similarity(const inputs *in, const float *img, const float *txt, int dim,
                             double scale)
{
    int nt = in->n_text;
    double *cos = calloc((size_t)nt * 3, sizeof *cos), *logit = cos + nt, *prob = logit + nt;
    cJSON *root = in->json ? cJSON_CreateObject() : NULL, *texts = NULL, *rows = NULL;
    if (root) {
        cJSON_AddNumberToObject(root, "logit_scale", scale);
        texts = cJSON_AddArrayToObject(root, "texts");
        rows = cJSON_AddArrayToObject(root, "images");
    }
    for (int i = 0, k = 0; cos && i < in->n; i++) {
        if (!in->is_image[i]) {
            if (root) cJSON_AddItemToArray(texts, cJSON_CreateString(in->value[i]));
            continue;
        }
        scores(img + (size_t)k++ * dim, txt, nt, dim, scale, cos, logit, prob);
        if (root) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "image", in->value[i]);
            cJSON_AddItemToObject(row, "cosine", cJSON_CreateDoubleArray(cos, nt));
            cJSON_AddItemToObject(row, "logits", cJSON_CreateDoubleArray(logit, nt));
            cJSON_AddItemToObject(row, "probs", cJSON_CreateDoubleArray(prob, nt));
            cJSON_AddItemToArray(rows, row);
            continue;
        }
        printf("%s\n  %-8s %-9s %-9s %s\n", in->value[i], "prob", "logit", "cosine", "text");
        for (int j = 0, t = 0; j < in->n; j++)
            if (!in->is_image[j]) {
                printf("  %-8.4f %-9.4f %-9.5f %s\n", prob[t], logit[t], cos[t], in->value[j]);
                t++;
            }
    }
    if (root) {
        char *s = cJSON_PrintUnformatted(root);
        if (s) puts(s);
        cJSON_free(s);
        cJSON_Delete(root);
    }
    free(cos);
}

int cmd_similarity(int argc, char **argv)
{
    static const char usage[] =
        "iris similarity [--model M] [--threads N] [--json] --image F... --text T...";
    inputs in;
    int rc = parse(argc, argv, usage, &in);
    if (rc == CLI_OK && (!in.n_text || !in.n_image))
        rc = (fprintf(stderr, "usage: %s\n", usage), CLI_USAGE);
    encoded e = {0};
    if (rc == CLI_OK) rc = encode_all("similarity", &in, &e);
    if (rc == CLI_OK) {
        iris_model_info info;
        iris_model_get_info(e.m, &info);
        print_similarity(&in, e.img, e.txt, e.dim, info.logit_scale);
    }
    encoded_free(&e);
    inputs_free(&in);
    return rc == PARSE_HELP ? CLI_OK : rc;
}
