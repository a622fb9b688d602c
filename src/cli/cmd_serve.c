/*
 * cmd_serve.c - `iris serve`: the REST API and web UI (src/server/).
 *
 *   iris serve [--db PATH] [--host 127.0.0.1] [--port 8080] [--api-key KEY]
 *              [--cors ORIGIN] [--threads N] [--timeout S] [--max-upload MB]
 *              [--max-pixels MP] [--model M] [--config FILE] [--quiet] [--routes]
 *
 * The API key may come from IRIS_API_KEY instead (keeps it out of `ps`).
 * Exit status: 0 after a clean shutdown (SIGTERM / SIGINT), 1 if the
 * index cannot be opened or the port cannot be bound, 2 for usage errors
 * (a non-loopback host without an API key is one).
 */
#include "cli/cli.h"
#include "server/server.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char serve_usage[] =
    "usage: iris serve [OPTIONS]\n"
    "Serves the REST API (/api/..., spec at /api/openapi.json) and the web UI.\n"
    "options:\n"
    "  --db PATH         the index (default ./.iris/index.db)\n"
    "  --host H          address to listen on (default 127.0.0.1); any address\n"
    "                    that is not loopback requires an API key\n"
    "  --port N          port (default 8080; 0 = any free port, printed)\n"
    "  --api-key KEY     require 'Authorization: Bearer KEY' on the API\n"
    "                    (default: $IRIS_API_KEY)\n"
    "  --cors ORIGIN     allow this origin (or *) to call the API from a browser\n"
    "  --threads N       worker threads (default: one per core, at least 2)\n"
    "  --timeout S       close idle connections after S seconds (default 30)\n"
    "  --max-upload MB   largest image upload (default 20)\n"
    "  --max-pixels MP   largest decoded upload in megapixels (default 50)\n"
    "  --model M         model (must be the index's; default: the index's)\n"
    "  --config FILE     configuration of the language model for /api/ask\n"
    "                    (default $IRIS_CONFIG or ~/.config/iris/config.toml)\n"
    "  --quiet           no access log on stderr\n"
    "  --routes          print the API's routes and exit\n";

/* An option's whole number in [lo, hi]: 0, or the usage error's status. */
static int number(const char *opt, const char *arg, long lo, long hi, int *out)
{
    char what[64];
    snprintf(what, sizeof what, "%s wants %ld to %ld, not '%%s'", opt, lo, hi);
    return cli_parse_int(arg, lo, hi, out) ? cli_usage_error("serve", serve_usage, what, arg) : 0;
}

static int parse_option(serve_config *c, int opt, const char *arg)
{
    int v, rc;
    switch (opt) {
    case 'd': c->db_path = arg; return 0;
    case 'H': c->host = arg; return 0;
    case 'p': return number("--port", arg, 0, 65535, &c->port);
    case 'k': c->api_key = arg; return 0;
    case 'c': c->cors_origin = arg; return 0;
    case 't': return number("--threads", arg, 1, 256, &c->threads);
    case 'T': return number("--timeout (seconds)", arg, 1, 3600, &c->timeout_s);
    case 'u':
        if (!(rc = number("--max-upload (MB)", arg, 1, 1024, &v))) c->max_upload = (size_t)v << 20;
        return rc;
    case 'x':
        if (!(rc = number("--max-pixels (megapixels)", arg, 1, 1000, &v)))
            c->max_pixels = (uint64_t)v * 1000000;
        return rc;
    case 'm': c->model = arg; return 0;
    case 'C': c->llm_config = arg; return 0;
    case 'q': c->quiet = 1; return 0;
    default:
        return cli_usage_error("serve", serve_usage, "unknown option or missing value%s", "");
    }
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},       {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},     {"api-key", required_argument, NULL, 'k'},
        {"cors", required_argument, NULL, 'c'},     {"threads", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},  {"max-upload", required_argument, NULL, 'u'},
        {"max-pixels", required_argument, NULL, 'x'}, {"model", required_argument, NULL, 'm'},
        {"config", required_argument, NULL, 'C'},  {"quiet", no_argument, NULL, 'q'},
        {"routes", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    serve_config c = {.host = "127.0.0.1", .port = 8080, .timeout_s = 30, .drain_s = 10,
                      .max_upload = 20u << 20, .max_pixels = 50000000,
                      .threads = cores > 2 ? (int)cores : 2, .api_key = getenv("IRIS_API_KEY")};
    optind = 1;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (opt == 'h') {
            fputs(serve_usage, stdout);
            return CLI_OK;
        }
        if (opt == 'R') {
            serve_print_routes();
            return CLI_OK;
        }
        int rc = parse_option(&c, opt, optarg);
        if (rc) return rc;
    }
    if (optind < argc)
        return cli_usage_error("serve", serve_usage, "takes no arguments, not '%s'", argv[optind]);
    return serve_run(&c);
}
