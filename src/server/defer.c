/*
 * defer.c - replies made off the worker threads, for work that takes long
 * (an answer from a language model takes seconds to minutes).
 *
 * libmicrohttpd's workers each serve many connections from one event loop,
 * so a handler that waited for a model would stall every other connection
 * of its worker. Instead the handler calls defer_start(): the connection is
 * suspended (taken out of the event loop) and the work runs on a thread of
 * its own, which ends the exchange in one of two ways:
 *
 *   defer_reply()  a whole reply (any status), queued on the suspended
 *                  connection, which is then resumed;
 *   defer_event()  Server-Sent Events: the first one queues a 200
 *                  text/event-stream reply whose content reader takes the
 *                  events from a buffer. When the buffer is empty the
 *                  reader suspends the connection; the next event resumes
 *                  it. The stream ends when the work function returns.
 *
 * Work that returns without replying gets a 500. A client that goes away is
 * noticed when a write fails (a suspended connection is not polled): the
 * response is freed, and defer_cancelled() tells the work to stop. At
 * shutdown the server cancels all deferred work and waits for the threads
 * (defer_wait_all) before it stops libmicrohttpd, which must not find a
 * connection suspended, and closes the index.
 *
 * One mutex per deferred reply orders the three parties: the handler (it
 * holds the mutex while it starts the thread and suspends, so the work
 * never sees the connection unsuspended), the work thread and the content
 * reader. The record is shared by the thread and the stream's response and
 * freed by whichever lets go last.
 */
#include "server/server.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEFERRED 16        /* answers in progress at once */
#define STREAM_BLOCK 4096      /* bytes libmicrohttpd asks the reader for */

enum { D_WAITING = 0, D_REPLIED = 1, D_STREAMING = 2 };

struct deferred {
    pthread_mutex_t mu;
    int refs;                    /* the work thread; the stream's response */
    server *s;
    request *q;                  /* valid while D_WAITING (no reply queued) */
    struct MHD_Connection *conn; /* NULL once the stream's response is freed */
    int state;                   /* D_* */
    int suspended;               /* suspended by us, not yet resumed */
    int finished;                /* the work returned: the stream ends when sent */
    atomic_int gone;             /* the client went away */
    iris_buf out;                /* events not yet sent, from `sent` on */
    size_t sent;
    defer_fn fn;
    void *arg;
    void (*free_arg)(void *);
};

static void release(deferred *d)
{
    pthread_mutex_lock(&d->mu);
    int last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (!last) return;
    pthread_mutex_destroy(&d->mu);
    iris_buf_free(&d->out);
    if (d->free_arg) d->free_arg(d->arg);
    free(d);
}

/* Under d->mu. */
static void resume(deferred *d)
{
    if (d->suspended && d->conn) MHD_resume_connection(d->conn);
    d->suspended = 0;
}

/* --------------------------------------------------------------- stream */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    deferred *d = cls;
    ssize_t n = 0;
    pthread_mutex_lock(&d->mu);
    size_t ready = d->out.len - d->sent;
    if (ready) {
        n = (ssize_t)(ready < max ? ready : max);
        memcpy(buf, d->out.p + d->sent, (size_t)n);
        d->sent += (size_t)n;
        if (d->sent == d->out.len) d->out.len = d->sent = 0; /* reuse the buffer */
    } else if (d->finished) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        MHD_suspend_connection(d->conn); /* the next event resumes it */
        d->suspended = 1;
    }
    pthread_mutex_unlock(&d->mu);
    return n;
}

static void stream_free(void *cls)
{
    deferred *d = cls;
    pthread_mutex_lock(&d->mu);
    d->conn = NULL;
    if (!d->finished) atomic_store(&d->gone, 1);
    pthread_mutex_unlock(&d->mu);
    release(d);
}

void *defer_response(deferred *d)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, d,
                                          stream_free);
    if (resp) {
        pthread_mutex_lock(&d->mu);
        d->refs++; /* let go in stream_free */
        pthread_mutex_unlock(&d->mu);
    }
    return resp;
}

/* ------------------------------------------------------------ the work */

/* Queues r on the suspended connection (it goes out once resumed). Only
 * the work thread changes the state, and nothing reads the stream before
 * the connection is resumed, so this runs without the mutex (a response
 * that cannot be queued is freed here, which takes it). A reply that
 * could not be queued leaves the connection to be closed on resume
 * (on_access refuses to run a deferred request twice). */
static int queue_reply(deferred *d, reply *r, int state)
{
    int ok = req_send(d->s, d->q, r, NULL) == MHD_YES;
    d->state = state;
    d->q = NULL;
    return ok;
}

void defer_reply(deferred *d, reply *r)
{
    if (d->state == D_WAITING) {
        queue_reply(d, r, D_REPLIED);
        pthread_mutex_lock(&d->mu);
        resume(d);
        pthread_mutex_unlock(&d->mu);
    }
    free(r->body);
    r->body = NULL;
}

int defer_event(deferred *d, const char *event, const char *data)
{
    if (d->state == D_WAITING) {
        reply r = {.status = 200, .type = "text/event-stream; charset=utf-8", .fd = -1,
                   .stream = d};
        if (!queue_reply(d, &r, D_STREAMING)) atomic_store(&d->gone, 1);
    }
    pthread_mutex_lock(&d->mu);
    /* "data:" lines must not hold a newline: data is one line of JSON. */
    if (!atomic_load(&d->gone) &&
        (iris_buf_str(&d->out, "event: ") || iris_buf_str(&d->out, event) ||
         iris_buf_str(&d->out, "\ndata: ") || iris_buf_str(&d->out, data) ||
         iris_buf_str(&d->out, "\n\n")))
        atomic_store(&d->gone, 1); /* out of memory: give up on this client */
    resume(d);
    pthread_mutex_unlock(&d->mu);
    return atomic_load(&d->gone);
}

int defer_cancelled(deferred *d)
{
    return atomic_load(&d->gone) || atomic_load(&d->s->deferred_cancel);
}

static void *work(void *arg)
{
    deferred *d = arg;
    server *s = d->s;
    pthread_mutex_lock(&d->mu); /* the handler has suspended the connection */
    pthread_mutex_unlock(&d->mu);
    d->fn(s, d, d->arg);
    if (d->state == D_WAITING) {
        reply r = {.fd = -1};
        reply_error(&r, 500, NULL, "the request ended without a reply");
        defer_reply(d, &r);
    }
    pthread_mutex_lock(&d->mu);
    d->finished = 1;
    resume(d);
    pthread_mutex_unlock(&d->mu);
    release(d);
    atomic_fetch_sub(&s->deferred_running, 1); /* last: the server may now stop */
    return NULL;
}

int defer_start(server *s, request *q, reply *r, defer_fn fn, void *arg, void (*free_arg)(void *))
{
    deferred *d;
    if (atomic_fetch_add(&s->deferred_running, 1) >= MAX_DEFERRED) {
        reply_error(r, 503, NULL, "too many answers in progress (%d); try again shortly",
                    MAX_DEFERRED);
    } else if (!(d = calloc(1, sizeof *d))) {
        reply_error(r, 500, NULL, "out of memory");
    } else {
        pthread_mutex_init(&d->mu, NULL);
        d->refs = 1;
        d->s = s;
        d->q = q;
        d->conn = q->conn;
        d->fn = fn;
        d->arg = arg;
        d->free_arg = free_arg;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        pthread_mutex_lock(&d->mu);
        int started = pthread_create(&t, &at, work, d) == 0;
        pthread_attr_destroy(&at);
        if (started) {
            MHD_suspend_connection(q->conn);
            d->suspended = 1;
            q->deferred = 1;
        }
        pthread_mutex_unlock(&d->mu);
        if (started) return 0;
        pthread_mutex_destroy(&d->mu);
        free(d);
        reply_error(r, 503, NULL, "cannot start a thread for this request");
    }
    atomic_fetch_sub(&s->deferred_running, 1);
    if (free_arg) free_arg(arg);
    return -1;
}

void defer_wait_all(server *s)
{
    atomic_store(&s->deferred_cancel, 1);
    int n = atomic_load(&s->deferred_running);
    if (n)
        fprintf(stderr, "iris serve: stopping %d answer%s in progress\n", n, n == 1 ? "" : "s");
    struct timespec tick = {0, 10 * 1000 * 1000};
    while (atomic_load(&s->deferred_running) > 0) nanosleep(&tick, NULL);
}
