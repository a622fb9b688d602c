/*
 * cmd_stats.c - `iris stats [--db PATH] [--json]`: what an index holds.
 *
 * Opens the index read-only (a missing index is an error, never created
 * as a side effect) and never loads the model.
 */
#include "cli/cli.h"
#include "iris.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage[] = "usage: iris stats [--db PATH] [--json]\n";

static void print_json(const iris_db *db, const iris_stats *s)
{
    cJSON *o = cJSON_CreateObject(), *by = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "db", iris_db_path(db));
    cJSON_AddNumberToObject(o, "files", (double)s->files);
    cJSON_AddNumberToObject(o, "files_skipped", (double)s->files_skipped);
    cJSON_AddNumberToObject(o, "contents", (double)s->contents);
    cJSON_AddNumberToObject(o, "contents_pending", (double)s->contents_pending);
    cJSON_AddNumberToObject(o, "items", (double)s->items);
    for (int m = 1; m < IRIS_N_MODS; m++)
        cJSON_AddNumberToObject(by, iris_modality_name(m), (double)s->items_by_modality[m]);
    cJSON_AddItemToObject(o, "items_by_modality", by);
    cJSON_AddNumberToObject(o, "vectors", (double)s->vectors);
    cJSON_AddNumberToObject(o, "db_bytes", (double)s->db_bytes);
    cJSON_AddNumberToObject(o, "schema_version", s->schema_version);
    if (s->has_model) {
        cJSON *m = cJSON_AddObjectToObject(o, "model");
        cJSON_AddStringToObject(m, "name", s->model_name);
        cJSON_AddStringToObject(m, "id", s->model_id);
        cJSON_AddNumberToObject(m, "dim", s->model_dim);
    } else {
        cJSON_AddNullToObject(o, "model");
    }
    char *txt = cJSON_PrintUnformatted(o);
    puts(txt);
    free(txt);
    cJSON_Delete(o);
}

static void print_text(const iris_db *db, const iris_stats *s)
{
    printf("index     %s (%.1f MB, schema %d)\n", iris_db_path(db), s->db_bytes / 1e6,
           s->schema_version);
    if (s->has_model)
        printf("model     %s (id %.12s, %d-d)\n", s->model_name, s->model_id, s->model_dim);
    else
        printf("model     none yet (nothing indexed)\n");
    printf("files     %lld (%lld skipped), %lld distinct contents", (long long)s->files,
           (long long)s->files_skipped, (long long)s->contents);
    if (s->contents_pending) printf(", %lld being indexed", (long long)s->contents_pending);
    printf("\nitems     %lld, vectors %lld\n", (long long)s->items, (long long)s->vectors);
    for (int m = 1; m < IRIS_N_MODS; m++)
        if (s->items_by_modality[m])
            printf("  %-10s %lld\n", iris_modality_name(m), (long long)s->items_by_modality[m]);
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    int json = 0;
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "d:jh", opts, NULL)) != -1;) {
        if (c == 'd') path = optarg;
        else if (c == 'j') json = 1;
        else return fputs(usage, c == 'h' ? stdout : stderr), c == 'h' ? CLI_OK : CLI_USAGE;
    }
    if (optind < argc) return fputs(usage, stderr), CLI_USAGE;
    iris_db *db;
    iris_db_opts o = {.readonly = 1};
    int rc = iris_db_open(path, &o, &db);
    iris_stats s;
    if (!rc) rc = iris_db_stats(db, &s);
    if (rc) {
        iris_db_close(db);
        return cli_error("stats", rc);
    }
    if (json) print_json(db, &s);
    else print_text(db, &s);
    iris_db_close(db);
    return CLI_OK;
}
