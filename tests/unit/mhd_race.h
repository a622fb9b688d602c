/*
 * mhd_race.h - stopping a busy libmicrohttpd daemon, in a child process,
 * counting the rounds where libmicrohttpd aborts. Shared by
 * tests/unit/test_serve_listener.c and bench/mhd_quiesce_race.c; links
 * src/server/listener.c.
 *
 * A round: start a daemon with a pool of 2 worker threads, keep it busy
 * with 3 client threads that connect, send one request, read the reply and
 * hang up, then, 0.5-1 ms later, stop accepting and stop the daemon. Ways
 * to stop accepting:
 *   RACE_QUIESCE_EPOLL, RACE_QUIESCE_POLL  libmicrohttpd's own listening
 *       socket and MHD_quiesce_daemon() (then shutdown() of the socket),
 *       with epoll or poll() workers;
 *   RACE_LISTENER  what `iris serve` does: its own socket and accept
 *       thread (listener.c), closed with listener_close().
 * A round that reaches libmicrohttpd's panic function has aborted.
 */
#ifndef IRIS_MHD_RACE_H
#define IRIS_MHD_RACE_H

#include "server/listener.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MHD_RACE_PANIC_EXIT 3
enum { RACE_QUIESCE_EPOLL, RACE_QUIESCE_POLL, RACE_LISTENER };
#define MHD_RACE_CLIENTS 3
#define MHD_RACE_SLEEP_US 500 /* 500-1000 us of load before quiescing */

static atomic_int mhd_race_stop_;
static uint16_t mhd_race_port_;

static void mhd_race_on_panic_(void *cls, const char *file, unsigned int line, const char *reason)
{
    (void)cls;
    fprintf(stderr, "  libmicrohttpd aborts at %s:%u: %s", file, line, reason);
    _exit(MHD_RACE_PANIC_EXIT);
}

static enum MHD_Result mhd_race_reply_(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *data, size_t *size, void **state)
{
    (void)cls, (void)method, (void)version, (void)data, (void)size;
    static int seen;
    if (!*state) { /* the headers: reply once the (empty) body is read, so the connection
                      can be kept alive */
        *state = &seen;
        return MHD_YES;
    }
    if (!strcmp(url, "/slow")) usleep(1000); /* a millisecond of work */
    static char ok[] = "ok";
    struct MHD_Response *r = MHD_create_response_from_buffer(2, ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static void *mhd_race_client_(void *arg)
{
    (void)arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(mhd_race_port_)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    while (!atomic_load(&mhd_race_stop_)) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) break;
        char buf[512];
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            write(fd, req, sizeof req - 1) > 0)
            (void)!read(fd, buf, sizeof buf); /* a reset once quiesced is expected */
        close(fd);
    }
    return NULL;
}

/* A daemon answering "ok", with a pool of 2 workers. */
static struct MHD_Daemon *mhd_race_daemon(unsigned flags)
{
    return MHD_start_daemon(flags, 0, NULL, NULL, mhd_race_reply_, NULL,
                            MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_END);
}

/* A listener on 127.0.0.1, any port. */
static listener *mhd_race_listener(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return listener_open((struct sockaddr *)&sa, sizeof sa);
}

/* One round, in the child: 0, or 1 if the daemon would not start. */
static int mhd_race_round_(int how, unsigned seed)
{
    MHD_set_panic_func(mhd_race_on_panic_, NULL);
    listener *l = NULL;
    struct MHD_Daemon *d;
    if (how == RACE_LISTENER) {
        if (!(l = mhd_race_listener()) || !(d = mhd_race_daemon(SERVE_MHD_FLAGS)) ||
            listener_start(l, d, 0))
            return 1;
        mhd_race_port_ = (uint16_t)listener_port(l);
    } else {
        unsigned loop = how == RACE_QUIESCE_EPOLL ? MHD_USE_EPOLL : MHD_USE_POLL;
        if (!(d = mhd_race_daemon(MHD_USE_INTERNAL_POLLING_THREAD | loop |
                                  MHD_ALLOW_SUSPEND_RESUME)))
            return 1;
        mhd_race_port_ = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    }
    pthread_t t[MHD_RACE_CLIENTS];
    for (int i = 0; i < MHD_RACE_CLIENTS; i++) pthread_create(&t[i], NULL, mhd_race_client_, NULL);
    srand(seed);
    usleep(MHD_RACE_SLEEP_US + (unsigned)rand() % MHD_RACE_SLEEP_US);
    MHD_socket fd = MHD_INVALID_SOCKET;
    if (l) {
        listener_close(l);
    } else if ((fd = MHD_quiesce_daemon(d)) != MHD_INVALID_SOCKET) {
        shutdown(fd, SHUT_RDWR); /* the backlog is reset */
    }
    atomic_store(&mhd_race_stop_, 1);
    for (int i = 0; i < MHD_RACE_CLIENTS; i++) pthread_join(t[i], NULL);
    MHD_stop_daemon(d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    return 0;
}

/* Runs rounds stopped the way `how` says (RACE_*); returns how many
 * aborted, or -1 if a round could not run (*failed says how many of the
 * others failed to start). */
static int mhd_race_count(int how, int rounds, int *failed)
{
    int aborted = 0;
    *failed = 0;
    for (int r = 0; r < rounds; r++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) return -1;
        if (pid == 0) _exit(mhd_race_round_(how, (unsigned)r));
        int st;
        if (waitpid(pid, &st, 0) != pid) return -1;
        if (WIFEXITED(st) && WEXITSTATUS(st) == MHD_RACE_PANIC_EXIT) aborted++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st)) (*failed)++;
    }
    return aborted;
}

#endif
