/*
 * cmd_index.c - `iris index PATH...` and `iris remove PATH...`.
 *
 * Output: skipped files and warnings on stderr as they happen ("skip
 * PATH: reason"); progress on stderr - a bar redrawn in place on a
 * terminal, a plain line every few seconds otherwise; the summary on
 * stdout (or one JSON object with --json). File names are printed with
 * bytes that are not UTF-8, and control characters, escaped as \xNN, so
 * a hostile name cannot move the cursor or forge a line.
 *
 * Exit status (cli.h): 0 everything indexed, 3 some inputs skipped,
 * 1 failure (index locked, model mismatch, cancelled, ...), 2 usage.
 *
 * `iris index --rebuild-ann` without a PATH only rebuilds the vector index
 * ("index.db.ann") from the vectors in the store, whatever the saved file
 * says: the cure for a file damaged where its checksums are not read on
 * open (large files), and the way to apply new [index] settings.
 *
 * Ctrl-C stops at the next batch boundary (what is committed stays; the
 * next run resumes); a second Ctrl-C kills at once, which is safe too.
 *
 * Tesseract's OpenMP runtime reads OMP_THREAD_LIMIT only when the process
 * starts, and oversubscribes small machines badly without it (docs/
 * store.md, OCR), so `index` re-executes itself once with it set to 1;
 * parallelism comes from the decoding threads instead.
 */
#include "cli/cli.h"
#include "iris.h"

#include <cJSON.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: iris index [options] PATH...\n"
    "       iris index [--db PATH] [--json] --rebuild-ann\n"
    "  Indexes images, PDFs, text and Markdown files under each PATH (recursively).\n"
    "  With --rebuild-ann and no PATH, only rebuilds the vector index from the store.\n"
    "  --db PATH        the index (default ./.iris/index.db)\n"
    "  --model M        CLIP model folder, GGUF file or known name (recorded on first run;\n"
    "                   later runs use the index's model)\n"
    "  --ocr            also OCR image files (photos, screenshots)\n"
    "  --no-pdf-ocr     do not OCR PDF pages that have no text layer\n"
    "  --no-figures     do not embed the images inside PDFs\n"
    "  --hidden         include hidden files and folders (names starting with .)\n"
    "  --no-prune       keep index entries of files that are gone\n"
    "  --jobs N         decoding threads (default: half the cores)\n"
    "  --threads N      threads per CLIP encode (default: all cores)\n"
    "  --batch N        images per encode batch (default 16)\n"
    "  --max-pixels N   skip images larger than N pixels (default 178956970)\n"
    "  --rebuild-ann    rebuild the vector index file from the stored vectors at the end\n"
    "  --caption        then describe the images without a caption with the [vlm] vision\n"
    "                   model (iris caption PATH...; --yes starts a paid run unasked)\n"
    "  -q, --quiet      no progress and no summary\n"
    "  -v, --verbose    also list every file indexed, moved or removed\n"
    "  --json           the summary as one JSON object\n";

static const char remove_usage[] =
    "usage: iris remove [--db PATH] PATH...\n"
    "  Removes files, or everything under folders, from the index.\n";

/* ------------------------------------------------------------ progress */

typedef struct ui {
    int quiet, tty, json;
    double last;    /* when progress was last drawn */
    int drawn;      /* a bar is on the terminal line */
    int phase;      /* of the last progress call */
    int64_t skipped_lines;
} ui;

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void clear_bar(ui *u)
{
    if (u->drawn) fputs("\r\033[K", stderr);
    u->drawn = 0;
}

static void on_log(int what, int reason, const char *path, const char *msg, void *user)
{
    ui *u = user;
    clear_bar(u);
    if (what == IRIS_LOG_SKIP) fprintf(stderr, "skip (%s) ", iris_skip_name(reason));
    else if (what == IRIS_LOG_WARN) fputs("warning ", stderr);
    else fputs("  ", stderr);
    cli_put_safe(stderr, path);
    fputs(": ", stderr);
    cli_put_safe(stderr, msg);
    fputc('\n', stderr);
}

static void fmt_eta(double s, char *buf, size_t cap)
{
    if (s < 0 || s > 360000) snprintf(buf, cap, "--:--");
    else if (s >= 3600) snprintf(buf, cap, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else snprintf(buf, cap, "%d:%02d", (int)s / 60, (int)s % 60);
}

static void on_progress(const iris_index_progress *p, void *user)
{
    ui *u = user;
    double t = mono();
    int fresh_phase = p->phase != u->phase;
    u->phase = p->phase;
    if (u->quiet || (!fresh_phase && t - u->last < (u->tty ? 0.2 : 5.0))) return;
    u->last = t;
    if (p->phase == 0) {
        if (u->tty) {
            fprintf(stderr, "\r\033[Kscanning: %lld files found", (long long)p->files_found);
            u->drawn = 1;
        }
        return;
    }
    if (p->phase >= 2 || !p->files_todo) {
        clear_bar(u);
        return;
    }
    double rate = p->elapsed_s > 0 ? p->todo_done / p->elapsed_s : 0;
    char eta[32];
    fmt_eta(rate > 0 ? (p->files_todo - p->todo_done) / rate : -1, eta, sizeof eta);
    if (u->tty) {
        int width = 24, fill = p->files_todo ? (int)(width * p->todo_done / p->files_todo) : width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[K[%s] %lld/%lld files  %.1f files/s  ETA %s  %lld items", bar,
                (long long)p->todo_done, (long long)p->files_todo, rate, eta,
                (long long)p->items_added);
        if (p->pages_done) fprintf(stderr, "  %lld pages", (long long)p->pages_done);
        u->drawn = 1;
    } else {
        fprintf(stderr, "indexing: %lld/%lld files to read, %.1f files/s, ETA %s, %lld items\n",
                (long long)p->todo_done, (long long)p->files_todo, rate, eta,
                (long long)p->items_added);
    }
}

/* ------------------------------------------------------------- summary */

static void print_text(const iris_index_summary *s)
{
    int jobs = s->jobs;
    printf("%lld files found in %.1f s: %lld added, %lld updated, %lld moved, %lld removed, "
           "%lld unchanged\n",
           (long long)s->files_found, s->total_s, (long long)s->added, (long long)s->updated,
           (long long)s->moved, (long long)s->removed, (long long)s->unchanged);
    if (s->skipped) {
        printf("skipped %lld:", (long long)s->skipped);
        for (int r = 0, sep = 0; r < IRIS_N_SKIP; r++)
            if (s->skipped_by[r])
                printf("%s %lld %s", sep++ ? "," : "", (long long)s->skipped_by[r], iris_skip_name(r));
        printf("\n");
    }
    if (s->ignored) printf("ignored %lld (not images, PDFs, text or Markdown)\n", (long long)s->ignored);
    printf("items: %lld added; encoded %lld images and %lld text windows", (long long)s->items_added,
           (long long)s->images_encoded, (long long)s->texts_encoded);
    if (s->pdf_pages) printf("; %lld PDF pages", (long long)s->pdf_pages);
    if (s->pages_failed) printf(" (%lld unreadable)", (long long)s->pages_failed);
    if (s->ocr_runs) printf("; %lld OCR runs", (long long)s->ocr_runs);
    printf("\ntime: walk %.2f s, decode %.2f s (%d thread%s, %.2f s CPU), encode %.2f s, "
           "store %.2f s\n",
           s->walk_s, s->decode_s, jobs, jobs == 1 ? "" : "s", s->decode_cpu_s, s->encode_s,
           s->store_s);
}

static void print_json(const iris_index_summary *s, int rc)
{
    cJSON *o = cJSON_CreateObject(), *by = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", rc == IRIS_OK);
    if (rc) cJSON_AddStringToObject(o, "error", iris_errmsg());
#define NUM(f) cJSON_AddNumberToObject(o, #f, (double)s->f)
    NUM(files_found), NUM(added), NUM(updated), NUM(moved), NUM(unchanged), NUM(removed);
    NUM(skipped), NUM(ignored), NUM(files_hashed), NUM(files_decoded), NUM(items_encoded);
    NUM(images_encoded), NUM(texts_encoded), NUM(items_added), NUM(pdf_pages), NUM(pages_failed);
    NUM(ocr_runs), NUM(bytes_read), NUM(total_s), NUM(walk_s), NUM(decode_s), NUM(encode_s);
    NUM(store_s), NUM(wait_s), NUM(decode_cpu_s), NUM(jobs);
#undef NUM
    for (int r = 0; r < IRIS_N_SKIP; r++)
        cJSON_AddNumberToObject(by, iris_skip_name(r), (double)s->skipped_by[r]);
    cJSON_AddItemToObject(o, "skipped_by", by);
    char *txt = cJSON_PrintUnformatted(o);
    puts(txt);
    free(txt);
    cJSON_Delete(o);
}

/* --------------------------------------------------------------- index */

/* Commands that only change an index never create one: 1 if it exists,
 * else a message and 0. */
static int index_exists(const char *cmd, const char *db_path)
{
    const char *where = db_path ? db_path : IRIS_DEFAULT_DB;
    if (access(where, F_OK) == 0) return 1;
    fprintf(stderr, "iris %s: no index at ", cmd);
    cli_put_safe(stderr, where);
    fputc('\n', stderr);
    return 0;
}

/* `iris index --rebuild-ann` without paths. */
static int rebuild_only(const char *db_path, const iris_db_opts *dbo, int json)
{
    if (!index_exists("index", db_path)) return CLI_FAIL;
    iris_db *db;
    int rc = iris_db_open(db_path, dbo, &db);
    if (rc) return cli_error("index", rc);
    double t0 = mono();
    iris_stats st = {0};
    rc = iris_db_ann_sync(db, 1);
    if (!rc) rc = iris_db_stats(db, &st);
    double took = mono() - t0;
    iris_db_close(db);
    if (rc) return cli_error("index", rc);
    if (json)
        printf("{\"ok\":true,\"ann_rebuilt\":true,\"vectors\":%lld,\"total_s\":%.3f}\n",
               (long long)st.vectors, took);
    else
        printf("vector index rebuilt from the store: %lld vectors in %.2f s\n",
               (long long)st.vectors, took);
    return CLI_OK;
}

static volatile int cancel_flag;

static void on_sigint(int sig)
{
    (void)sig;
    cancel_flag = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends the process at once */
    signal(SIGTERM, SIG_DFL);
}

/* Re-executes with OMP_THREAD_LIMIT=1 (see the top of the file). */
static void limit_omp(int argc, char **argv)
{
    if (getenv("OMP_THREAD_LIMIT")) return;
    setenv("OMP_THREAD_LIMIT", "1", 1);
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) return;
    args[0] = "iris";
    memcpy(args + 1, argv, sizeof *argv * (size_t)argc);
    execv("/proc/self/exe", args);
    free(args); /* exec failed: carry on with OpenMP's default */
}

int cmd_index(int argc, char **argv)
{
    enum { O_OCR = 256, O_NO_PDF_OCR, O_NO_FIG, O_HIDDEN, O_NO_PRUNE, O_JOBS, O_THREADS,
           O_BATCH, O_MAXPX, O_JSON, O_REBUILD, O_CAPTION, O_YES };
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},      {"model", required_argument, NULL, 'm'},
        {"ocr", no_argument, NULL, O_OCR},         {"no-pdf-ocr", no_argument, NULL, O_NO_PDF_OCR},
        {"no-figures", no_argument, NULL, O_NO_FIG}, {"hidden", no_argument, NULL, O_HIDDEN},
        {"no-prune", no_argument, NULL, O_NO_PRUNE}, {"jobs", required_argument, NULL, O_JOBS},
        {"threads", required_argument, NULL, O_THREADS}, {"batch", required_argument, NULL, O_BATCH},
        {"max-pixels", required_argument, NULL, O_MAXPX}, {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},       {"json", no_argument, NULL, O_JSON},
        {"rebuild-ann", no_argument, NULL, O_REBUILD},
        {"caption", no_argument, NULL, O_CAPTION}, {"yes", no_argument, NULL, O_YES},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    limit_omp(argc, argv);
    const char *db_path = NULL;
    iris_db_opts dbo = {0};
    iris_index_opts io = {0};
    ui u = {.tty = isatty(STDERR_FILENO)};
    int rebuild = 0, caption = 0, maxpx = 0;
    cli_caption_flags cf = {0};
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "d:m:qvh", opts, NULL)) != -1;) {
        int bad = 0;
        switch (c) {
        case 'd': db_path = optarg; break;
        case 'm': dbo.model = optarg; break;
        case O_OCR: io.ocr = 1; break;
        case O_NO_PDF_OCR: io.pdf_ocr = -1; break;
        case O_NO_FIG: io.pdf_figures = -1; break;
        case O_HIDDEN: io.hidden = 1; break;
        case O_NO_PRUNE: io.no_prune = 1; break;
        case O_JOBS: bad = cli_parse_int(optarg, 1, 256, &io.jobs); break;
        case O_THREADS: bad = cli_parse_int(optarg, 1, 1024, &dbo.n_threads); break;
        case O_BATCH: bad = cli_parse_int(optarg, 1, 4096, &io.batch); break;
        case O_MAXPX: bad = cli_parse_int(optarg, 1, 2000000000, &maxpx); break;
        case 'q': u.quiet = 1; break;
        case 'v': io.verbose = 1; break;
        case O_JSON: u.json = 1; break;
        case O_REBUILD: rebuild = 1; break;
        case O_CAPTION: caption = 1; break;
        case O_YES: cf.yes = 1; break;
        case 'h': fputs(usage, stdout); return CLI_OK;
        default: fputs(usage, stderr); return CLI_USAGE;
        }
        if (bad) return cli_usage_error("index", usage, "bad number '%s'", optarg);
    }
    if (optind >= argc && rebuild && !caption) return rebuild_only(db_path, &dbo, u.json);
    if (optind >= argc) return fputs(usage, stderr), CLI_USAGE;
    io.max_pixels = (uint64_t)maxpx;
    io.progress = on_progress;
    io.log = on_log;
    io.user = &u;
    io.cancel = &cancel_flag;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    iris_db *db;
    int rc = iris_db_open(db_path, &dbo, &db);
    if (rc) return cli_error("index", rc);
    /* Load the saved vector index before the store changes, so the changes
     * are applied to it at the end (deletes as tombstones, compacted when
     * they pile up) instead of rebuilding it from every stored vector. A
     * failure here only means the rebuild happens after all. */
    if (!rebuild) (void)iris_db_ann_sync(db, 0);
    iris_index_summary s;
    rc = iris_index_paths(db, (const char *const *)argv + optind, argc - optind, &io, &s);
    clear_bar(&u);
    /* Save the vector index so the next search maps it instead of rebuilding it; a
     * failure here costs only that (searches rebuild it), so it is a warning,
     * unless the rebuild was what the user asked for. */
    int ann_failed = !rc && iris_db_ann_sync(db, rebuild);
    if (ann_failed)
        fprintf(stderr, "iris index: %s: vector index not saved: %s\n",
                rebuild ? "error" : "warning", iris_errmsg());
    iris_db_close(db);
    if (u.json) print_json(&s, rc);
    else if (!u.quiet && (!rc || rc == IRIS_ECANCELLED)) print_text(&s);
    if (rc == IRIS_ECANCELLED) {
        fprintf(stderr, "iris index: cancelled; what was committed is kept, run again to finish\n");
        return CLI_FAIL;
    }
    if (rc) return u.json ? CLI_FAIL : cli_error("index", rc);
    if (caption) { /* iris caption over the same paths (cmd_caption.c) */
        cf.json = u.json;
        int crc = cli_caption_run(db_path, dbo.model, (const char *const *)argv + optind,
                                  argc - optind, &cf);
        if (crc != CLI_OK) return crc;
    }
    if (ann_failed && rebuild) return CLI_FAIL;
    return s.skipped ? CLI_PARTIAL : CLI_OK;
}

/* -------------------------------------------------------------- remove */

int cmd_remove(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *db_path = NULL;
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1;) {
        if (c == 'd') db_path = optarg;
        else return fputs(remove_usage, c == 'h' ? stdout : stderr), c == 'h' ? CLI_OK : CLI_USAGE;
    }
    if (optind >= argc) return fputs(remove_usage, stderr), CLI_USAGE;
    if (!index_exists("remove", db_path)) return CLI_FAIL;
    iris_db *db;
    int rc = iris_db_open(db_path, &(iris_db_opts){0}, &db), missing = 0;
    if (rc) return cli_error("remove", rc);
    (void)iris_db_ann_sync(db, 0); /* as in iris index: the removals become tombstones */
    for (int i = optind; i < argc; i++) {
        int64_t n;
        rc = iris_remove_path(db, argv[i], &n);
        if (rc == IRIS_ENOTFOUND) {
            fprintf(stderr, "iris remove: ");
            cli_put_safe(stderr, iris_errmsg());
            fputc('\n', stderr);
            missing++;
            continue;
        }
        if (rc) break;
        printf("removed %lld file%s under ", (long long)n, n == 1 ? "" : "s");
        cli_put_safe(stdout, argv[i]);
        putchar('\n');
    }
    if (rc && rc != IRIS_ENOTFOUND) {
        iris_db_close(db);
        return cli_error("remove", rc);
    }
    if (iris_db_ann_sync(db, 0))
        fprintf(stderr, "iris remove: warning: vector index not saved: %s\n", iris_errmsg());
    iris_db_close(db);
    return missing ? CLI_PARTIAL : CLI_OK;
}
