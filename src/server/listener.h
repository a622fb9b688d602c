/*
 * listener.h - the listening socket of `iris serve`, and the thread that
 * accepts connections and hands them to libmicrohttpd.
 *
 * libmicrohttpd runs without a listening socket of its own
 * (MHD_USE_NO_LISTEN_SOCKET): one thread blocks in accept() and passes each
 * connection to the pool of workers with MHD_add_connection(). Stopping is
 * a shutdown() of the socket, which refuses new connections at once and
 * wakes the thread. Why, with libmicrohttpd 0.9.75 (Debian 12):
 *
 * - MHD_quiesce_daemon() on a pool of epoll workers races with a worker
 *   that is awake and aborts the process (MHD_PANIC, "Failed to remove
 *   listen FD from epoll set"), about one stop in 400 while a worker is
 *   busy (bench/mhd_quiesce_race.c).
 * - poll() workers quiesce safely, but accept one connection per turn, so
 *   a burst of new connections waits behind the requests in progress
 *   (wrk, 256 connections: 25 requests over 10 s).
 * - epoll workers fed by MHD_add_connection() stalled: after a wrk run at
 *   256 connections the next client waited 30 s, 3 runs in 3.
 *
 * So: our accept thread, poll() workers (SERVE_MHD_FLAGS). A worker polls
 * at most CONNECTION_LIMIT / threads sockets a turn, microseconds against
 * milliseconds of work per search.
 */
#ifndef IRIS_SERVER_LISTENER_H
#define IRIS_SERVER_LISTENER_H

#include <microhttpd.h>
#include <sys/socket.h>

/* libmicrohttpd's flags for `iris serve` (with MHD_USE_ERROR_LOG there). */
#define SERVE_MHD_FLAGS                                                        \
    (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME | \
     MHD_USE_NO_LISTEN_SOCKET)

typedef struct listener listener;

/* Binds addr and listens (an IPv6 address gets IPv6 only). NULL with errno
 * set if it cannot. */
listener *listener_open(const struct sockaddr *addr, socklen_t len);

/* The port bound (the one chosen, for port 0). */
int listener_port(const listener *l);

/* Starts the thread that accepts connections for d (started with
 * SERVE_MHD_FLAGS). While d has max_connections open (its
 * MHD_OPTION_CONNECTION_LIMIT; 0: no check), new clients wait rather than
 * being accepted and closed. 0, or -1 with errno set. */
int listener_start(listener *l, struct MHD_Daemon *d, unsigned max_connections);

/* Stops accepting (new connections are refused from the moment it is
 * called), waits for the thread and frees l. Connections already handed
 * over stay with libmicrohttpd. NULL is fine. */
void listener_close(listener *l);

#endif
