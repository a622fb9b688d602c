/*
 * cmd_classify.c - `iris classify --labels "cat,dog,car" FILE...`:
 * zero-shot classification of image files.
 *
 *   --labels L        comma-separated labels (required)
 *   --template T      a prompt template with {} for the label (repeatable;
 *                     default: CLIP's ImageNet ensemble, see docs/search.md)
 *   --top N           labels shown per file (default 3; --json shows all)
 *   --model M         the model (default: the index's, see --db, else the
 *                     default model: IRIS_MODEL, config, installed)
 *   --db PATH         take the model of this index (default ./.iris/index.db
 *                     when it exists)
 *   --json            one JSON array on stdout
 *
 * A file that cannot be read or decoded is reported on stderr and skipped;
 * the exit status is then 3 (partial success).
 */
#include "cli/cli.h"
#include "iris.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TEMPLATES 64

static const char usage[] =
    "usage: iris classify --labels \"cat,dog,car\" [--template T]... [--top N] [--model M]\n"
    "                     [--db PATH] [--json] FILE...\n";

typedef struct classify_args {
    char *labels_buf;
    const char *labels[1000];
    int n_labels;
    const char *templates[MAX_TEMPLATES];
    int n_templates, top, json;
    const char *model, *db;
} classify_args;

/* Splits the label list in place; blanks around labels are dropped. */
static int split_labels(classify_args *a, const char *list)
{
    free(a->labels_buf);
    if (!(a->labels_buf = strdup(list))) return -1;
    a->n_labels = 0;
    for (char *save = NULL, *t = strtok_r(a->labels_buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        for (char *e = t + strlen(t); e > t && e[-1] == ' ';) *--e = '\0';
        if (!*t) continue;
        if (a->n_labels == (int)(sizeof a->labels / sizeof a->labels[0])) return -1;
        a->labels[a->n_labels++] = t;
    }
    return a->n_labels ? 0 : -1;
}

static int parse(classify_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"labels", required_argument, NULL, 'l'}, {"template", required_argument, NULL, 't'},
        {"top", required_argument, NULL, 'n'},    {"model", required_argument, NULL, 'm'},
        {"db", required_argument, NULL, 'd'},     {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "jh", opts, NULL)) != -1;) {
        if (c == 'l' && split_labels(a, optarg))
            return fprintf(stderr, "iris classify: --labels wants 1 to 1000 labels\n"), CLI_USAGE;
        if (c == 't') {
            if (a->n_templates == MAX_TEMPLATES || !strstr(optarg, "{}"))
                return fprintf(stderr, "iris classify: a template needs {} for the label "
                                       "(at most %d templates)\n", MAX_TEMPLATES), CLI_USAGE;
            a->templates[a->n_templates++] = optarg;
        }
        if (c == 'n' && (a->top = atoi(optarg)) < 1)
            return fprintf(stderr, "iris classify: --top wants a positive number\n"), CLI_USAGE;
        if (c == 'm') a->model = optarg;
        if (c == 'd') a->db = optarg;
        if (c == 'j') a->json = 1;
        if (c == 'h') return fputs(usage, stdout), -1;
        if (c == '?' || c == ':') return fputs(usage, stderr), CLI_USAGE;
    }
    if (!a->n_labels || optind >= argc) return fputs(usage, stderr), CLI_USAGE;
    return 0;
}

/* --model; else the index's model when there is an index; else the default. */
static int open_model(const classify_args *a, iris_db **db, iris_model **own, const iris_model **m)
{
    struct stat sb;
    const char *dbpath = a->db ? a->db : IRIS_DEFAULT_DB;
    if (!a->model && (a->db || stat(dbpath, &sb) == 0)) {
        iris_db_opts o = {.readonly = 1};
        int rc = iris_db_open(dbpath, &o, db);
        return rc ? rc : iris_db_model(*db, m);
    }
    char path[4096];
    const char *spec = a->model;
    int rc = spec ? IRIS_OK : iris_model_default(path, sizeof path);
    if (!rc) rc = iris_model_load(spec ? spec : path, NULL, own);
    *m = *own;
    return rc;
}

static void print_file(const classify_args *a, const char *file, const float *p, cJSON *arr)
{
    int order[1000];
    for (int i = 0; i < a->n_labels; i++) order[i] = i;
    for (int i = 1; i < a->n_labels; i++) /* insertion sort by probability */
        for (int j = i; j > 0 && p[order[j]] > p[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    if (arr) {
        cJSON *o = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(o, "labels");
        cJSON_AddStringToObject(o, "file", file);
        for (int i = 0; i < a->n_labels; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "label", a->labels[order[i]]);
            cJSON_AddNumberToObject(e, "probability", p[order[i]]);
            cJSON_AddItemToArray(l, e);
        }
        cJSON_AddItemToArray(arr, o);
        return;
    }
    printf("%s:", file);
    int top = a->top ? a->top : 3;
    for (int i = 0; i < a->n_labels && i < top; i++)
        printf("%s %s %.3f", i ? "," : "", a->labels[order[i]], (double)p[order[i]]);
    putchar('\n');
}

static int classify_files(const classify_args *a, const iris_model *m, int n, char **files)
{
    iris_classify_opts co = {a->n_templates ? a->templates : NULL, a->n_templates};
    float *probs = malloc((size_t)a->n_labels * sizeof *probs);
    cJSON *arr = a->json ? cJSON_CreateArray() : NULL;
    int failed = 0, fatal = probs ? IRIS_OK : IRIS_ENOMEM;
    for (int i = 0; !fatal && i < n; i++) {
        iris_image img = {0};
        int rc = iris_image_load(files[i], NULL, &img);
        if (!rc) rc = iris_classify_images(m, a->labels, a->n_labels, &img, 1, &co, probs);
        iris_image_free(&img);
        if (rc == IRIS_EARG || rc == IRIS_ENOMEM || rc == IRIS_EMODEL) fatal = rc;
        else if (rc) failed++, fprintf(stderr, "iris classify: %s\n", iris_errmsg());
        else print_file(a, files[i], probs, arr);
    }
    if (arr && !fatal) {
        char *s = cJSON_PrintUnformatted(arr);
        puts(s);
        free(s);
    }
    cJSON_Delete(arr);
    free(probs);
    if (fatal) return cli_error("classify", fatal);
    return failed == n ? CLI_FAIL : failed ? CLI_PARTIAL : CLI_OK;
}

int cmd_classify(int argc, char **argv)
{
    classify_args a = {0};
    int rc = parse(&a, argc, argv);
    if (rc) {
        free(a.labels_buf);
        return rc < 0 ? CLI_OK : rc;
    }
    iris_db *db = NULL;
    iris_model *own = NULL;
    const iris_model *m = NULL;
    rc = open_model(&a, &db, &own, &m);
    rc = rc ? cli_error("classify", rc) : classify_files(&a, m, argc - optind, argv + optind);
    iris_model_free(own);
    iris_db_close(db);
    free(a.labels_buf);
    return rc;
}
