/*
 * unit.c - units (what one file, or one PDF page, gives the encoder) and
 * the bounded queue that carries them from the decoding threads to the
 * encoding one.
 *
 * The queue is bounded twice: by count, so the encoder never has more than
 * a few batches waiting, and by bytes (pixel tensors are 600 KB each at
 * 224 px), so a run over huge PDFs with many figures stays in a fixed
 * memory budget whatever the number of decoding threads. Back-pressure is
 * what keeps a 1000-page PDF streaming: its worker blocks on push.
 */
#include "ingest/ingest.h"

#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/textvec.h"

void unit_free(unit *u)
{
    if (!u) return;
    for (int i = 0; i < u->n_items; i++) {
        unit_item *it = &u->items[i];
        free(it->text);
        free(it->pixels);
        free(it->vec);
        textvec_windows_free(it->windows, it->n_windows);
    }
    for (int i = 0; i < u->n_notes; i++) free(u->notes[i].msg);
    free(u->items);
    free(u->notes);
    free(u->fail_msg);
    free(u->title);
    free(u);
}

unit_item *unit_add_item(unit *u)
{
    if (u->n_items == u->cap_items) {
        int cap = u->cap_items ? 2 * u->cap_items : 4;
        unit_item *v = realloc(u->items, sizeof *v * (size_t)cap);
        if (!v) return NULL;
        u->items = v;
        u->cap_items = cap;
    }
    unit_item *it = &u->items[u->n_items++];
    memset(it, 0, sizeof *it);
    it->it.char_start = it->it.char_end = -1;
    return it;
}

int unit_note_add(unit *u, int what, int reason, const char *fmt, ...)
{
    unit_note *v = realloc(u->notes, sizeof *v * (size_t)(u->n_notes + 1));
    if (!v) return IRIS_ENOMEM;
    u->notes = v;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    unit_note *n = &v[u->n_notes];
    if (!(n->msg = strdup(buf))) return IRIS_ENOMEM;
    n->what = what;
    n->reason = reason;
    u->n_notes++;
    return IRIS_OK;
}

/* ------------------------------------------------------------- queue */

void queue_init(unit_queue *q, int max_units, size_t max_bytes, int producers)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->max_units = max_units;
    q->max_bytes = max_bytes;
    q->producers = producers;
}

void queue_destroy(unit_queue *q)
{
    for (unit *u = q->head, *next; u; u = next) {
        next = u->next;
        unit_free(u);
    }
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->mu);
}

int queue_push(unit_queue *q, unit *u)
{
    pthread_mutex_lock(&q->mu);
    while (!q->closed && q->n > 0 &&
           (q->n >= q->max_units || q->bytes + u->bytes > q->max_bytes))
        pthread_cond_wait(&q->not_full, &q->mu);
    int closed = q->closed;
    if (!closed) {
        u->next = NULL;
        if (q->tail) q->tail->next = u;
        else q->head = u;
        q->tail = u;
        q->n++;
        q->bytes += u->bytes;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
    if (!closed) return IRIS_OK;
    unit_free(u);
    return iris_fail(IRIS_ECANCELLED, "indexing stopped");
}

int queue_pop(unit_queue *q, int timeout_ms, unit **out)
{
    *out = NULL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    pthread_mutex_lock(&q->mu);
    int timed_out = 0;
    while (!q->head && q->producers > 0 && !timed_out && timeout_ms > 0)
        timed_out = pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == ETIMEDOUT;
    unit *u = q->head;
    if (u) {
        q->head = u->next;
        if (!q->head) q->tail = NULL;
        q->n--;
        q->bytes -= u->bytes;
        pthread_cond_signal(&q->not_full);
    }
    int finished = !u && q->producers == 0;
    pthread_mutex_unlock(&q->mu);
    *out = u;
    return u ? 1 : finished ? -1 : 0;
}

void queue_producer_done(unit_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->producers--;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

void queue_close(unit_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}
