/*
 * cmd_caption.c - `iris caption`: describe indexed images with a vision
 * model so that their visible text and contents become searchable.
 *
 *   iris caption [OPTIONS] [PATH... | all]
 *
 * The plan (model, counts, time and cost estimate, why this model) is
 * printed before any request. A run that may cost money asks for
 * confirmation on a terminal and needs --yes otherwise; a free (local)
 * model starts at once. Progress is one line per image; failures go to
 * stderr. Exit status: 0 done (also when per-run limits stopped it: the
 * summary says so), 3 some images failed, 1 the run failed, 2 usage.
 *
 * cli_caption_run() is the whole command for other commands: `iris index
 * --caption` calls it after indexing, with the indexed paths.
 */
#include "cli/cli.h"
#include "iris.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char caption_usage[] =
    "usage: iris caption [OPTIONS] [PATH... | all]\n"
    "Describes indexed images (all of them, or those under the PATHs) with the\n"
    "[vlm] vision model, so that text in them and their contents become\n"
    "searchable. Captions are cached by image content, model and prompt: an\n"
    "image is never described twice.\n"
    "options:\n"
    "  --yes           start without asking (needed for a paid model when not\n"
    "                  on a terminal)\n"
    "  --dry-run       print the plan and the estimate, send nothing\n"
    "  --recaption     also replace captions made by another model or prompt\n"
    "  --json          print the report as JSON at the end\n"
    "  --config FILE   configuration file (default $IRIS_CONFIG or\n"
    "                  ~/.config/iris/config.toml)\n"
    "  --db PATH       the index (default ./.iris/index.db)\n"
    "  --model M       CLIP model (must be the index's; default: the index's)\n";

typedef struct caption_ui {
    const cli_caption_flags *f;
} caption_ui;

static int confirm(const iris_caption_report *r, void *user)
{
    const caption_ui *ui = user;
    printf("%s\n", r->plan);
    fflush(stdout);
    if (ui->f->yes || !r->n_todo || r->est_cost <= 0) return 1;
    if (!isatty(0)) {
        fprintf(stderr, "iris caption: this run may cost about %.4f; pass --yes to start it\n",
                r->est_cost);
        return 0;
    }
    fprintf(stderr, "Start? [y/N] ");
    char line[16] = "";
    return fgets(line, sizeof line, stdin) && (line[0] == 'y' || line[0] == 'Y');
}

static void progress(const iris_caption_event *ev, void *user)
{
    (void)user;
    if (ev->status) {
        fflush(stdout);
        fprintf(stderr, "[%d/%d] ", ev->done, ev->total);
        cli_put_safe(stderr, ev->path);
        fputs(": failed: ", stderr);
        cli_put_safe(stderr, ev->error);
        fputc('\n', stderr);
        return;
    }
    /* The caption's first line, cut to fit a terminal line on a character boundary. */
    char line[104];
    size_t n = strcspn(ev->caption, "\n"), cut = n > 100 ? 100 : n;
    while (cut < n && cut > 0 && ((unsigned char)ev->caption[cut] & 0xC0) == 0x80) cut--;
    memcpy(line, ev->caption, cut);
    line[cut] = '\0';
    printf("[%d/%d] ", ev->done, ev->total);
    cli_put_safe(stdout, ev->path);
    printf("%s: ", ev->cached ? " (cached)" : "");
    cli_put_safe(stdout, line);
    printf("%s\n", cut < n ? "..." : "");
    fflush(stdout);
}

static void print_summary(const iris_caption_report *r)
{
    printf("Described %d image%s, %d from the cache, %d failed; %d already had a caption. "
           "%.1f s", r->n_described, r->n_described == 1 ? "" : "s", r->n_reused, r->n_failed,
           r->n_have, r->seconds);
    if (r->cost > 0) printf(", about %.4f in model fees", r->cost);
    printf(".\n");
    if (r->stopped[0]) printf("Stopped early: %s\n", r->stopped);
}

static void print_json(const iris_caption_report *r, int status)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", status == IRIS_OK);
    cJSON_AddStringToObject(o, "model", r->model);
    cJSON_AddStringToObject(o, "plan", r->plan);
    const struct { const char *name; double v; } nums[] = {
        {"images", r->n_images},        {"have", r->n_have},
        {"reuse", r->n_reuse},          {"todo", r->n_todo},
        {"deferred", r->n_deferred},    {"estimated_seconds", r->est_seconds},
        {"estimated_cost", r->est_cost}, {"described", r->n_described},
        {"reused", r->n_reused},        {"failed", r->n_failed},
        {"seconds", r->seconds},        {"cost", r->cost}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        cJSON_AddNumberToObject(o, nums[i].name, nums[i].v);
    if (r->stopped[0]) cJSON_AddStringToObject(o, "stopped", r->stopped);
    else cJSON_AddNullToObject(o, "stopped");
    char *s = cJSON_PrintUnformatted(o);
    if (s) puts(s);
    free(s);
    cJSON_Delete(o);
}

static int run_on(iris_db *db, const char *const *paths, int n_paths, const cli_caption_flags *f)
{
    caption_ui ui = {f};
    iris_caption_opts o = {.paths = paths, .n_paths = n_paths, .recaption = f->recaption,
                           .dry_run = f->dry_run, .config = f->config, .confirm = confirm,
                           .progress = progress, .user = &ui};
    iris_caption_report r;
    /* The saved vector index first: new captions are then added to it, not
     * rebuilt with everything else from the store at the end. */
    if (!f->dry_run) (void)iris_db_ann_sync(db, 0);
    int rc = iris_caption_images(db, &o, &r);
    if (!rc && f->dry_run) printf("%s\n", r.plan);
    char err[1024];
    snprintf(err, sizeof err, "%s", iris_errmsg());
    /* New caption items: save the vector index so the next search maps it. */
    if ((r.n_described || r.n_reused) && iris_db_ann_sync(db, 0))
        fprintf(stderr, "iris caption: warning: vector index not saved: %s\n", iris_errmsg());
    if (f->json) print_json(&r, rc);
    else if (!f->dry_run && r.plan[0]) print_summary(&r);
    fflush(stdout);
    if (rc) {
        fprintf(stderr, "iris caption: %s\n", err[0] ? err : iris_strerror(rc));
        return CLI_FAIL;
    }
    return r.n_failed ? CLI_PARTIAL : CLI_OK;
}

int cli_caption_run(const char *db_path, const char *model, const char *const *paths,
                    int n_paths, const cli_caption_flags *f)
{
    iris_db *db = NULL;
    iris_db_opts dbo = {.model = model, .readonly = f->dry_run};
    int rc = iris_db_open(db_path, &dbo, &db);
    if (rc) return cli_error("caption", rc);
    rc = run_on(db, paths, n_paths, f);
    iris_db_close(db);
    return rc;
}

int cmd_caption(int argc, char **argv)
{
    static const struct option opts[] = {
        {"yes", no_argument, NULL, 'y'},        {"dry-run", no_argument, NULL, 'n'},
        {"recaption", no_argument, NULL, 'r'},  {"json", no_argument, NULL, 'j'},
        {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
        {"model", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cli_caption_flags f = {0};
    const char *db_path = NULL, *model = NULL;
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "yh", opts, NULL)) != -1;) {
        switch (c) {
        case 'y': f.yes = 1; break;
        case 'n': f.dry_run = 1; break;
        case 'r': f.recaption = 1; break;
        case 'j': f.json = 1; break;
        case 'c': f.config = optarg; break;
        case 'd': db_path = optarg; break;
        case 'm': model = optarg; break;
        case 'h': fputs(caption_usage, stdout); return CLI_OK;
        default:
            fprintf(stderr, "iris caption: unknown option or missing value\n%s", caption_usage);
            return CLI_USAGE;
        }
    }
    int n = argc - optind;
    const char *const *paths = (const char *const *)argv + optind;
    if (n == 1 && !strcmp(paths[0], "all")) n = 0;
    return cli_caption_run(db_path, model, paths, n, &f);
}
