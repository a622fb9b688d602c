/*
 * listener.c - accepts connections for libmicrohttpd (listener.h).
 *
 * The thread blocks in accept4(); listener_close() shuts the socket down,
 * which makes Linux refuse new connections, reset those still in the
 * backlog and return EINVAL from the blocked accept4(). Signals are
 * blocked in the thread (it inherits the server's mask), so nothing else
 * interrupts it.
 *
 * Out of file descriptors (EMFILE, ENFILE) or memory, the connection stays
 * in the backlog and accept4() would fail again at once: the thread says
 * so once and retries every 100 ms until an accept succeeds. At the
 * connection limit, the connection just accepted is held (libmicrohttpd
 * would close it and log a line) until a slot is free, looking every
 * 20 ms; later clients wait in the backlog, as they did when libmicrohttpd
 * accepted.
 */
#include "server/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct listener {
    int fd;
    int port;
    struct MHD_Daemon *daemon;
    unsigned max_connections;
    pthread_t thread;
    int started;
    atomic_int closing;
};

listener *listener_open(const struct sockaddr *addr, socklen_t len)
{
    listener *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1, e;
    if (l->fd < 0) goto fail;
    if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on)) goto fail;
    if (addr->sa_family == AF_INET6 &&
        setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on))
        goto fail;
    if (bind(l->fd, addr, len) || listen(l->fd, SOMAXCONN)) goto fail;
    struct sockaddr_storage got;
    socklen_t got_len = sizeof got;
    if (getsockname(l->fd, (struct sockaddr *)&got, &got_len)) goto fail;
    l->port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&got)->sin_port);
    return l;
fail:
    e = errno;
    if (l->fd >= 0) close(l->fd);
    free(l);
    errno = e;
    return NULL;
}

int listener_port(const listener *l)
{
    return l->port;
}

static void pause_ms(long ms)
{
    struct timespec t = {0, ms * 1000 * 1000};
    nanosleep(&t, NULL);
}

/* The daemon's open connections, summed over its workers. */
static unsigned open_connections(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

static void *accept_loop(void *arg)
{
    listener *l = arg;
    int complained = 0;
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int c = accept4(l->fd, (struct sockaddr *)&addr, &len, SOCK_CLOEXEC);
        if (c >= 0) {
            complained = 0;
            while (l->max_connections && open_connections(l->daemon) >= l->max_connections &&
                   !atomic_load(&l->closing))
                pause_ms(20);
            if (atomic_load(&l->closing)) {
                close(c);
                break;
            }
            /* It closes c itself if it cannot take it after all. */
            MHD_add_connection(l->daemon, c, (struct sockaddr *)&addr, len);
            continue;
        }
        int e = errno;
        if (atomic_load(&l->closing)) break;
        if (e == EINTR || e == ECONNABORTED || e == EAGAIN || e == EPROTO) continue;
        if (!complained) {
            fprintf(stderr, "iris serve: cannot accept connections: %s%s\n", strerror(e),
                    e == EMFILE || e == ENFILE ? " (raise the open-files limit, ulimit -n)" : "");
            complained = 1;
        }
        pause_ms(100);
    }
    return NULL;
}

int listener_start(listener *l, struct MHD_Daemon *d, unsigned max_connections)
{
    l->daemon = d;
    l->max_connections = max_connections;
    int e = pthread_create(&l->thread, NULL, accept_loop, l);
    if (e) {
        errno = e;
        return -1;
    }
    l->started = 1;
    return 0;
}

void listener_close(listener *l)
{
    if (!l) return;
    atomic_store(&l->closing, 1);
    shutdown(l->fd, SHUT_RDWR);
    if (l->started) pthread_join(l->thread, NULL);
    close(l->fd);
    free(l);
}
