/*
 * cmd_search.c - `iris search` and `iris similar`.
 *
 *   iris search [OPTIONS] TEXT...         text -> images and texts
 *   iris search [OPTIONS] --image FILE    image -> similar items (FILE itself left out)
 *   iris similar [OPTIONS] ITEM_ID        items like an indexed one (its file left out)
 *
 * Options: --type T (repeatable, or a comma list), --path GLOB, -k N,
 * --min-score X, --mode vector|keyword|hybrid, --rrf-k N, --depth N,
 * --keep-source, --json, --db PATH, --model M.
 *
 * Human output, one result per block:
 *    1  0.0325  vector #1 0.312  keyword #4 3.18  pdf_text  manual.pdf:12
 *       ... the [matched] terms in their context ...
 * Matched terms are bold on a terminal, in [brackets] otherwise. --json
 * prints one object (format in docs/search.md). The index is opened
 * read-only: searching never creates or changes one.
 */
#include "cli/cli.h"
#include "iris.h"

#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct search_args {
    const char *cmd;
    const char *db, *model, *image;
    int json;
    char *text;
    iris_query q;
} search_args;

static const char search_usage[] =
    "usage: iris search [OPTIONS] TEXT...\n"
    "       iris search [OPTIONS] --image FILE\n"
    "       iris similar [OPTIONS] ITEM_ID\n"
    "options:\n"
    "  --type T        image, text, pdf_text, pdf_figure, ocr, caption, pdf, figure,\n"
    "                  visual (repeatable or comma-separated; default all)\n"
    "  --path GLOB     only files whose path matches (* ? [...], case-sensitive)\n"
    "  -k N            results (default 10)\n"
    "  --min-score X   drop results scoring below X (cosine in vector mode, BM25 in\n"
    "                  keyword mode, the RRF score in hybrid mode)\n"
    "  --mode M        hybrid (default), vector or keyword\n"
    "  --rrf-k N       RRF constant (default 60)\n"
    "  --depth N       candidates per lane before fusion (default max(k, 100))\n"
    "  --keep-source   similar: keep other items of the item's own file\n"
    "  --json          one JSON object on stdout\n"
    "  --db PATH       the index (default ./.iris/index.db)\n"
    "  --model M       model (must be the index's; default: the index's)\n";

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    return cli_usage_error(cmd, search_usage, fmt, arg);
}

static int parse_option(search_args *a, int c, const char *arg)
{
    switch (c) {
    case 't':
        if (iris_modality_mask(arg, &a->q.modalities)) return cli_error(a->cmd, IRIS_EARG), CLI_USAGE;
        return 0;
    case 'p': a->q.path_glob = arg; return 0;
    case 'k':
        return cli_parse_int(arg, 1, 10000, &a->q.k) ? usage_error(a->cmd, "-k wants 1 to 10000, not '%s'", arg) : 0;
    case 's': {
        char *end;
        a->q.min_score = strtod(arg, &end);
        a->q.has_min_score = 1;
        return *arg && !*end && isfinite(a->q.min_score)
                   ? 0 : usage_error(a->cmd, "--min-score wants a number, not '%s'", arg);
    }
    case 'M':
        return iris_mode_parse(arg, &a->q.mode) ? (cli_error(a->cmd, IRIS_EARG), CLI_USAGE) : 0;
    case 'r':
        return cli_parse_int(arg, 1, 1000000, &a->q.rrf_k) ? usage_error(a->cmd, "--rrf-k wants a positive whole number, not '%s'", arg) : 0;
    case 'D':
        return cli_parse_int(arg, 1, 10000, &a->q.depth) ? usage_error(a->cmd, "--depth wants 1 to 10000, not '%s'", arg) : 0;
    case 'K': a->q.keep_source = 1; return 0;
    case 'j': a->json = 1; return 0;
    case 'd': a->db = arg; return 0;
    case 'm': a->model = arg; return 0;
    case 'i': a->image = arg; return 0;
    case 'h': fputs(search_usage, stdout); return -1;
    default: return usage_error(a->cmd, "unknown option or missing value%s", "");
    }
}

static int parse_args(search_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'}, {"path", required_argument, NULL, 'p'},
        {"min-score", required_argument, NULL, 's'}, {"mode", required_argument, NULL, 'M'},
        {"rrf-k", required_argument, NULL, 'r'}, {"depth", required_argument, NULL, 'D'},
        {"keep-source", no_argument, NULL, 'K'}, {"json", no_argument, NULL, 'j'},
        {"db", required_argument, NULL, 'd'}, {"model", required_argument, NULL, 'm'},
        {"image", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "k:jh", opts, NULL)) != -1;) {
        int rc = parse_option(a, c, optarg);
        if (rc) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

static cJSON *lane_json(int rank, double score)
{
    if (!rank) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", rank);
    cJSON_AddNumberToObject(o, "score", score);
    return o;
}

static cJSON *hit_json(const iris_hit *h, int rank)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", rank);
    cJSON_AddNumberToObject(o, "item_id", (double)h->item_id);
    cJSON_AddNumberToObject(o, "score", h->score);
    cJSON_AddStringToObject(o, "modality", iris_modality_name(h->modality));
    cJSON_AddStringToObject(o, "path", h->path);
    if (h->page) cJSON_AddNumberToObject(o, "page", h->page);
    else cJSON_AddNullToObject(o, "page");
    if (h->has_bbox) {
        const double b[4] = {h->bbox[0], h->bbox[1], h->bbox[2], h->bbox[3]};
        cJSON_AddItemToObject(o, "bbox", cJSON_CreateDoubleArray(b, 4));
    } else {
        cJSON_AddNullToObject(o, "bbox");
    }
    cJSON_AddStringToObject(o, "snippet", h->snippet);
    cJSON *lanes = cJSON_AddObjectToObject(o, "lanes");
    cJSON_AddItemToObject(lanes, "vector", lane_json(h->vector_rank, h->vector_score));
    cJSON_AddItemToObject(lanes, "keyword", lane_json(h->keyword_rank, h->keyword_score));
    return o;
}

static void print_json(const search_args *a, const iris_results *r)
{
    cJSON *o = cJSON_CreateObject(), *q = cJSON_AddObjectToObject(o, "query");
    if (a->text) cJSON_AddStringToObject(q, "text", a->text);
    if (a->image) cJSON_AddStringToObject(q, "image", a->image);
    if (a->q.item_id) cJSON_AddNumberToObject(q, "item_id", (double)a->q.item_id);
    cJSON_AddStringToObject(o, "mode", iris_mode_name(r->mode));
    cJSON_AddNumberToObject(o, "rrf_k", r->rrf_k);
    cJSON *cand = cJSON_AddObjectToObject(o, "candidates");
    cJSON_AddNumberToObject(cand, "vector", r->vector_candidates);
    cJSON_AddNumberToObject(cand, "keyword", r->keyword_candidates);
    cJSON *t = cJSON_AddObjectToObject(o, "timing_ms");
    cJSON_AddNumberToObject(t, "embed", r->embed_ms);
    cJSON_AddNumberToObject(t, "vector", r->vector_ms);
    cJSON_AddNumberToObject(t, "keyword", r->keyword_ms);
    cJSON_AddNumberToObject(t, "fuse", r->fuse_ms);
    cJSON_AddNumberToObject(t, "total", r->total_ms);
    cJSON *arr = cJSON_AddArrayToObject(o, "results");
    for (int i = 0; i < r->n; i++) cJSON_AddItemToArray(arr, hit_json(&r->hits[i], i + 1));
    char *s = cJSON_PrintUnformatted(o);
    puts(s);
    free(s);
    cJSON_Delete(o);
}

/* Snippet on one line: runs of white space become one space. */
static void print_snippet(const char *s)
{
    fputs("      ", stdout);
    for (int space = 0; *s; s++) {
        int ws = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r';
        if (!ws) putchar(*s);
        else if (!space) putchar(' ');
        space = ws;
    }
    putchar('\n');
}

static void print_lane(const char *name, int rank, double score, int digits)
{
    if (rank) printf("  %s #%-3d %.*f", name, rank, digits, score);
    else printf("  %s %-*s", name, digits + 7, "-");
}

static void print_text(const iris_results *r)
{
    if (!r->n) {
        printf("no results\n");
        return;
    }
    int digits = r->mode == IRIS_MODE_HYBRID ? 4 : 3;
    for (int i = 0; i < r->n; i++) {
        const iris_hit *h = &r->hits[i];
        printf("%3d  %.*f", i + 1, digits, h->score);
        if (r->mode != IRIS_MODE_KEYWORD) print_lane("vector", h->vector_rank, h->vector_score, 3);
        if (r->mode != IRIS_MODE_VECTOR) print_lane("keyword", h->keyword_rank, h->keyword_score, 2);
        printf("  %-10s %s", iris_modality_name(h->modality), h->path);
        if (h->page) printf(":%d", h->page);
        printf("  (item %lld)\n", (long long)h->item_id);
        if (h->snippet[0]) print_snippet(h->snippet);
    }
}

/* ------------------------------------------------------------------ run */

static int run_search(search_args *a)
{
    if (!a->json && isatty(1)) {
        a->q.hl_open = "\033[1m";
        a->q.hl_close = "\033[0m";
    }
    iris_db *db = NULL;
    iris_db_opts o = {.model = a->model, .readonly = 1};
    iris_results *r = NULL;
    int rc = iris_db_open(a->db, &o, &db);
    if (!rc) rc = iris_search(db, &a->q, &r);
    if (!rc && a->json) print_json(a, r);
    else if (!rc) print_text(r);
    iris_results_free(r);
    iris_db_close(db);
    return rc ? cli_error(a->cmd, rc) : CLI_OK;
}

int cmd_search(int argc, char **argv)
{
    search_args a = {.cmd = "search"};
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (a.image && optind < argc)
        return usage_error(a.cmd, "give text or --image FILE, not both%s", "");
    if (!a.image && optind >= argc) return usage_error(a.cmd, "nothing to search for%s", "");
    if (a.image) {
        a.q.image_path = a.image;
    } else if (!(a.q.text = a.text = cli_join_words(argc - optind, argv + optind))) {
        return cli_error(a.cmd, IRIS_ENOMEM);
    }
    rc = run_search(&a);
    free(a.text);
    return rc;
}

int cmd_similar(int argc, char **argv)
{
    search_args a = {.cmd = "similar"};
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (a.image) return usage_error(a.cmd, "takes an item id, not --image (use iris search --image)%s", "");
    char *end;
    long long id = optind == argc - 1 ? strtoll(argv[optind], &end, 10) : 0;
    if (optind != argc - 1 || *end || id <= 0)
        return usage_error(a.cmd, "wants one item id (from iris search)%s", "");
    a.q.item_id = id;
    return run_search(&a);
}
