/*
 * cmd_ask.c - `iris ask`: an answer with citations from the index.
 *
 *   iris ask [OPTIONS] QUESTION...
 *
 * The answer is printed as it arrives, then the numbered sources:
 *
 *   The reset button is behind the front panel [1], see the photo [2].
 *
 *   Sources:
 *     [1] manuals/printer.pdf, page 12 (pdf_text)
 *     [2] photos/panel.jpg (image)
 *
 * --json prints one object at the end instead (iris_answer_json). Exit
 * status: 0 answered (an extractive answer too), 1 failed (the model's
 * partial answer and the sources are still printed, then the error),
 * 2 usage. Nothing here ever prints a key: the model's settings are only
 * named, and net/llm.c redacts keys from server messages.
 */
#include "cli/cli.h"
#include "iris.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ask_args {
    const char *db, *model;
    int json;
    iris_ask_opts o;
} ask_args;

static const char ask_usage[] =
    "usage: iris ask [OPTIONS] QUESTION...\n"
    "options:\n"
    "  -k N            sources to retrieve (default 8)\n"
    "  --type T        only these kinds of items: image, text, pdf_text, pdf_figure, ocr,\n"
    "                  caption, pdf, figure, visual (comma-separated or repeated)\n"
    "  --path GLOB     only files whose path matches (* ? [...], case-sensitive)\n"
    "  --mode M        retrieval: hybrid (default), vector or keyword\n"
    "  --images M      native (attach images) or text (their captions and OCR text);\n"
    "                  default: native if the [llm] model has vision = true\n"
    "  --max-images N  images attached at most (default 4)\n"
    "  --no-stream     ask the model for a whole reply instead of a stream\n"
    "  --json          one JSON object on stdout: answer, sources, citations\n"
    "  --config FILE   configuration file (default $IRIS_CONFIG or\n"
    "                  ~/.config/iris/config.toml)\n"
    "  --db PATH       the index (default ./.iris/index.db)\n"
    "  --model M       CLIP model (must be the index's; default: the index's)\n"
    "The model that answers is set in [llm] or by IRIS_LLM_URL and IRIS_LLM_MODEL\n"
    "(docs/rag.md); without one the answer quotes the best passages.\n";

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("ask", ask_usage, fmt, arg);
}

static int parse_option(ask_args *a, int c, const char *arg)
{
    switch (c) {
    case 'k':
        return cli_parse_int(arg, 1, 100, &a->o.k) ? usage_error("-k wants 1 to 100, not '%s'", arg) : 0;
    case 't':
        return iris_modality_mask(arg, &a->o.modalities) ? (cli_error("ask", IRIS_EARG), CLI_USAGE) : 0;
    case 'p': a->o.path_glob = arg; return 0;
    case 'M':
        return iris_mode_parse(arg, &a->o.mode) ? (cli_error("ask", IRIS_EARG), CLI_USAGE) : 0;
    case 'i':
        if (!strcmp(arg, "native")) a->o.images = IRIS_ASK_IMAGES_NATIVE;
        else if (!strcmp(arg, "text")) a->o.images = IRIS_ASK_IMAGES_TEXT;
        else return usage_error("--images wants native or text, not '%s'", arg);
        return 0;
    case 'I':
        return cli_parse_int(arg, 1, 64, &a->o.max_images)
                   ? usage_error("--max-images wants 1 to 64, not '%s'", arg) : 0;
    case 'S': a->o.no_stream = 1; return 0;
    case 'j': a->json = 1; return 0;
    case 'c': a->o.config = arg; return 0;
    case 'd': a->db = arg; return 0;
    case 'm': a->model = arg; return 0;
    case 'h': fputs(ask_usage, stdout); return -1;
    default: return usage_error("unknown option or missing value%s", "");
    }
}

static int parse_args(ask_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},   {"path", required_argument, NULL, 'p'},
        {"mode", required_argument, NULL, 'M'},   {"images", required_argument, NULL, 'i'},
        {"max-images", required_argument, NULL, 'I'}, {"no-stream", no_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'j'},         {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},     {"model", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "k:jh", opts, NULL)) != -1;) {
        int rc = parse_option(a, c, optarg);
        if (rc) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

typedef struct stream_state {
    int printed;  /* bytes of answer printed */
    char last;    /* the last byte printed */
} stream_state;

/* The answer as it arrives. Control characters other than newlines and
 * tabs are escaped: a model (or a document quoted to it) must not be able
 * to move the cursor or rewrite the terminal. */
static int print_delta(const char *text, size_t len, void *user)
{
    stream_state *s = user;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) printf("\\x%02x", c);
        else putchar(c);
    }
    fflush(stdout);
    if (len) s->last = text[len - 1];
    s->printed += (int)len;
    return 0;
}

static void print_sources(const iris_answer *a)
{
    if (!a->n_sources) return;
    printf("\nSources:\n");
    for (int i = 0; i < a->n_sources; i++) {
        const iris_ask_source *s = &a->sources[i];
        printf("  [%d] ", s->number);
        cli_put_safe(stdout, s->path ? s->path : "?");
        if (s->page) printf(", page %d", s->page);
        printf(" (%s)\n", iris_modality_name(s->modality));
    }
    if (a->n_dropped)
        printf("  (%d more did not fit the model's context window)\n", a->n_dropped);
}

static void print_notes(const iris_answer *a)
{
    fflush(stdout); /* the answer and sources first, then the notes on stderr */
    for (int i = 0; i < a->n_invalid; i++)
        fprintf(stderr, "iris ask: note: the answer cites [%d], which is not among the %d "
                        "sources\n", a->invalid[i], a->n_sources);
    if (!strcmp(a->finish_reason, "length"))
        fprintf(stderr, "iris ask: note: the answer was cut at the model's length limit "
                        "(max_tokens)\n");
}

static int print_json(const iris_answer *a, const char *question)
{
    char *json;
    int rc = iris_answer_json(a, question, &json);
    if (rc) return rc;
    puts(json);
    free(json);
    return IRIS_OK;
}

static int run_ask(ask_args *a, const char *question)
{
    iris_db *db = NULL;
    iris_db_opts dbo = {.model = a->model, .readonly = 1};
    iris_answer *ans = NULL;
    stream_state ss = {0};
    int rc = iris_db_open(a->db, &dbo, &db);
    if (!rc) rc = iris_ask(db, question, &a->o, a->json ? NULL : print_delta, &ss, &ans);
    char err[1024];
    snprintf(err, sizeof err, "%s", iris_errmsg()); /* before anything else can fail */
    if (ans && a->json) {
        int jrc = print_json(ans, question);
        if (!rc) rc = jrc;
    } else if (ans) {
        if (ss.printed && ss.last != '\n') putchar('\n');
        print_sources(ans);
        print_notes(ans);
    }
    iris_answer_free(ans);
    iris_db_close(db);
    if (!rc) return CLI_OK;
    fflush(stdout);
    fprintf(stderr, "iris ask: %s\n", err[0] ? err : iris_strerror(rc));
    return CLI_FAIL;
}

int cmd_ask(int argc, char **argv)
{
    ask_args a = {0};
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (optind >= argc) return usage_error("no question given%s", "");
    char *question = cli_join_words(argc - optind, argv + optind);
    if (!question) return cli_error("ask", IRIS_ENOMEM);
    rc = run_ask(&a, question);
    free(question);
    return rc;
}
