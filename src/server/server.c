/*
 * server.c - the life of `iris serve`: bind, open the index in the
 * background, answer, drain, close.
 *
 * Start: the listening socket comes first, so a client (or a health
 * check) gets a clear 503 "the index is being opened" rather than a
 * refused connection while the index opens, its model loads and the
 * vector cache warms up (seconds on a large index). If the index cannot be
 * opened at all the server says why and exits 1.
 *
 * Safety by default: the host must be a loopback address unless an API
 * key is given (refused before binding). libmicrohttpd runs a pool of
 * worker threads, each polling its own connections; one iris_db is shared by
 * all of them (it is thread-safe), each encoding on one core so that
 * concurrent requests use the cores rather than fighting over them. The
 * listening socket is ours: a thread accepts and hands connections to the
 * pool (listener.h says why).
 *
 * Shutdown (SIGTERM or SIGINT): stop accepting (the listening socket is
 * shut down: new connections are refused), let requests already begun
 * finish (up to drain_s; requests arriving on kept-alive connections get
 * 503 and "Connection: close"), cancel answers still running and wait
 * for their threads, stop the workers, then close the index cleanly. A
 * second signal cuts the drain short.
 *
 * Signals are blocked in every thread and taken synchronously by the main
 * thread with sigtimedwait(), so no handler runs in the middle of anything.
 */
#include "server/server.h"

#include "server/listener.h"
#include "util/fs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONNECTION_LIMIT 1000
#define HEADER_MEMORY (64u << 10)

/* ------------------------------------------------------------- handlers */

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **con_cls)
{
    server *s = cls;
    request *q = *con_cls;
    if (!q) {
        if (!(q = calloc(1, sizeof *q))) return MHD_NO;
        q->conn = conn;
        q->method = method;
        q->url = url;
        q->t0 = serve_now();
        q->counted = 1;
        atomic_fetch_add(&s->active, 1);
        *con_cls = q;
        reply r = {.fd = -1};
        char allow[64];
        if (req_begin(s, q, &r, allow, sizeof allow))
            return req_send(s, q, &r, r.status == 405 || r.status == 204 ? allow : NULL);
        return MHD_YES;
    }
    if (q->deferred) return MHD_NO; /* resumed without a reply: it could not be queued */
    if (*size) {
        int rc = req_body_data(s, q, data, *size);
        *size = 0;
        return rc ? MHD_NO : MHD_YES;
    }
    reply r = {.fd = -1};
    if (!req_body_end(s, q, &r)) q->route->fn(s, q, &r);
    if (q->deferred) return MHD_YES; /* a thread replies (defer.c) */
    return req_send(s, q, &r, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *s = cls;
    request *q = *con_cls;
    if (!q) return;
    if (q->counted) atomic_fetch_sub(&s->active, 1);
    req_free(q);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    fputs("iris serve: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ------------------------------------------------------------- opening */

/* Opens the index, loads its model and warms the vector cache; then the
 * map, so the UI's first map request finds it ready. */
static void *open_index(void *arg)
{
    server *s = arg;
    const serve_config *c = s->cfg;
    /* Test hook: hold the "opening" state (tests/py check the 503s). */
    const char *delay = getenv("IRIS_TEST_OPEN_DELAY_MS");
    if (delay) {
        struct timespec ts = {atoi(delay) / 1000, atoi(delay) % 1000 * 1000000L};
        nanosleep(&ts, NULL);
    }
    iris_db_opts o = {.model = c->model, .readonly = 1, .n_threads = 1};
    iris_db *db = NULL;
    int rc = iris_db_open(c->db_path, &o, &db);
    if (rc) {
        snprintf(s->open_error, sizeof s->open_error, "cannot open the index: %s%s",
                 iris_errmsg(), rc == IRIS_ENOTFOUND ? " (create it with `iris index PATH`)" : "");
        atomic_store(&s->state, STATE_FAILED);
        return NULL;
    }
    s->db = db;
    const iris_model *m;
    iris_stats st;
    if (iris_db_stats(db, &st) == IRIS_OK && st.has_model && iris_db_model(db, &m)) {
        snprintf(s->model_error, sizeof s->model_error, "%s", iris_errmsg());
        fprintf(stderr, "iris serve: %s (keyword search still works)\n", s->model_error);
    } else if (st.has_model) {
        iris_query q = {.text = "warm up", .mode = IRIS_MODE_VECTOR, .k = 1};
        iris_results *r = NULL;
        if (iris_search(db, &q, &r) == IRIS_OK) iris_results_free(r);
    }
    int opening = STATE_OPENING;
    if (!atomic_compare_exchange_strong(&s->state, &opening, STATE_READY)) return NULL;
    if (!c->quiet) fprintf(stderr, "iris serve: index ready (%s)\n", iris_db_path(db));
    if (st.has_model && !s->model_error[0] && map_refresh(s))
        fprintf(stderr, "iris serve: map: %s\n", iris_errmsg());
    return NULL;
}

/* ------------------------------------------------------------- binding */

static int is_loopback(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(v6)) return v6->s6_addr[12] == 127;
    return IN6_IS_ADDR_LOOPBACK(v6);
}

/* Resolves host:port into addr. */
static int resolve(const serve_config *c, struct sockaddr_storage *addr, socklen_t *len)
{
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    int e = getaddrinfo(c->host, port, &hints, &res);
    if (e) {
        fprintf(stderr, "iris serve: cannot resolve host '%s': %s\n", c->host, gai_strerror(e));
        return -1;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static struct MHD_Daemon *start_daemon(server *s)
{
    const serve_config *c = s->cfg;
    return MHD_start_daemon(SERVE_MHD_FLAGS | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_access, s,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, /* must come first */
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->threads,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
}

/* ------------------------------------------------------------ lifecycle */

/* Waits for SIGINT/SIGTERM (1), or for the index to fail opening (0). */
static int wait_for_signal(server *s, const sigset_t *set, double deadline)
{
    struct timespec tick = {0, 200 * 1000 * 1000};
    for (;;) {
        if (sigtimedwait(set, NULL, &tick) > 0) return 1;
        if (atomic_load(&s->state) == STATE_FAILED) return 0;
        if (deadline > 0 && serve_now() > deadline) return 0;
    }
}

static void drain(server *s, struct MHD_Daemon *d, listener *l, const sigset_t *set)
{
    atomic_store(&s->state, STATE_STOPPING);
    listener_close(l);
    int n = atomic_load(&s->active);
    if (!s->cfg->quiet || n)
        fprintf(stderr, "iris serve: stopping; %d request%s in flight\n", n, n == 1 ? "" : "s");
    double deadline = serve_now() + s->cfg->drain_s;
    struct timespec tick = {0, 20 * 1000 * 1000};
    while (atomic_load(&s->active) > 0 && serve_now() < deadline)
        if (sigtimedwait(set, NULL, &tick) > 0) break; /* a second signal: stop now */
    /* Answers still running are cancelled; their threads resume their
     * connections, which libmicrohttpd must not find suspended, and use
     * the index. The cancelled streams get a moment to end cleanly. */
    defer_wait_all(s);
    deadline = serve_now() + 1;
    while (atomic_load(&s->active) > 0 && serve_now() < deadline) nanosleep(&tick, NULL);
    MHD_stop_daemon(d);
}

static int setup(server *s, const serve_config *c, struct sockaddr_storage *addr,
                 socklen_t *len)
{
    if (resolve(c, addr, len)) return 2;
    if (!is_loopback((struct sockaddr *)addr) && !(c->api_key && *c->api_key)) {
        fprintf(stderr, "iris serve: refusing to listen on %s without an API key: anyone who "
                        "can reach it could read the index. Use --api-key KEY (or IRIS_API_KEY), "
                        "or a loopback host (127.0.0.1)\n", c->host);
        return 2;
    }
    if (c->api_key && *c->api_key) {
        char hex[65];
        iris_sha256_hex(c->api_key, strlen(c->api_key), hex);
        for (int i = 0; i < 32; i++) {
            unsigned b;
            sscanf(hex + 2 * i, "%2x", &b);
            s->key_hash[i] = (unsigned char)b;
        }
        s->has_key = 1;
    }
    s->open_cors = c->cors_origin && !strcmp(c->cors_origin, "*");
    pthread_mutex_init(&s->map.build, NULL);
    pthread_rwlock_init(&s->map.lock, NULL);
    s->started = serve_now();
    return 0;
}

int serve_run(const serve_config *cfg)
{
    server s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int rc = setup(&s, cfg, &addr, &addr_len);
    if (rc) return rc;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread from here on */
    signal(SIGPIPE, SIG_IGN);

    listener *l = listener_open((struct sockaddr *)&addr, addr_len);
    if (!l) {
        fprintf(stderr, "iris serve: cannot listen on %s port %d: %s\n", cfg->host, cfg->port,
                strerror(errno));
        return 1;
    }
    struct MHD_Daemon *d = start_daemon(&s);
    if (!d || listener_start(l, d, CONNECTION_LIMIT)) {
        fprintf(stderr, "iris serve: cannot start the server's threads: %s\n", strerror(errno));
        listener_close(l);
        if (d) MHD_stop_daemon(d);
        return 1;
    }
    int port = listener_port(l);
    int v6 = addr.ss_family == AF_INET6;
    printf("iris serve: listening on http://%s%s%s:%d/ (index %s)\n", v6 ? "[" : "", cfg->host,
           v6 ? "]" : "", port, cfg->db_path ? cfg->db_path : IRIS_DEFAULT_DB);
    fflush(stdout);

    pthread_t opener;
    pthread_create(&opener, NULL, open_index, &s);
    int signalled = wait_for_signal(&s, &set, 0);
    if (!signalled) fprintf(stderr, "iris serve: %s\n", s.open_error);
    drain(&s, d, l, &set);
    pthread_join(opener, NULL);
    iris_map_free(s.map.map);
    free(s.map.json);
    iris_db_close(s.db);
    pthread_rwlock_destroy(&s.map.lock);
    pthread_mutex_destroy(&s.map.build);
    if (signalled) fprintf(stderr, "iris serve: stopped; index closed\n");
    return signalled ? 0 : 1;
}
