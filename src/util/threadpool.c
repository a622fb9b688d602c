/*
 * threadpool.c - fork-join pool (see threadpool.h for the contract).
 *
 * Design: a job is published by bumping a generation counter; workers wait
 * for the counter to change, claim task indices from an atomic counter until
 * none remain, then report done. The caller takes part and then waits until
 * every worker has reported, so the job's fields are never rewritten while
 * a late worker might still read them.
 *
 * Waiting spins briefly before sleeping on a condition variable: a CLIP
 * forward pass runs a few hundred short parallel loops, and a futex wake-up
 * per loop would cost more than the loop on small inputs. The spin is short
 * (tens of microseconds) because the machines we run on are often shared.
 */
#include "util/threadpool.h"

#include "util/error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPIN_ROUNDS 2000

struct iris_pool {
    int n_threads; /* counting the caller */
    pthread_t *threads;
    pthread_mutex_t run_lock; /* serialises concurrent iris_pool_run callers */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* workers: a new generation or stop */
    pthread_cond_t done;    /* caller: the last worker finished */
    atomic_uint generation; /* bumped once per job */
    atomic_int next_task;
    atomic_int active;      /* workers that have not finished this job */
    atomic_int stop;
    /* the current job, written before generation is bumped */
    iris_pool_fn fn;
    void *ctx;
    int n_tasks;
};

typedef struct worker_arg {
    iris_pool *pool;
    int index;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

int iris_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

static void run_tasks(iris_pool *p, iris_pool_fn fn, void *ctx, int n_tasks, int worker)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= n_tasks) break;
        fn(ctx, t, worker);
    }
}

/* Waits until the generation differs from seen (or stop); returns it. */
static unsigned wait_generation(iris_pool *p, unsigned seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->stop)) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    unsigned g;
    while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
           !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    iris_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        seen = wait_generation(p, seen);
        if (atomic_load(&p->stop)) break;
        run_tasks(p, p->fn, p->ctx, p->n_tasks, index);
        if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

static void stop_workers(iris_pool *p, int started)
{
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++) pthread_join(p->threads[i], NULL);
}

int iris_pool_create(int n_threads, iris_pool **out)
{
    *out = NULL;
    if (n_threads < 0) return iris_fail(IRIS_EARG, "thread count %d is negative", n_threads);
    if (n_threads == 0) n_threads = iris_cpu_count();
    iris_pool *p = calloc(1, sizeof *p);
    if (!p) return iris_fail(IRIS_ENOMEM, "out of memory creating a %d-thread pool", n_threads);
    p->n_threads = n_threads;
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            iris_pool_free(p);
            return iris_fail(IRIS_ENOMEM, "out of memory creating a %d-thread pool", n_threads);
        }
    }
    for (int i = 0; i < n_threads - 1; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) *wa = (worker_arg){p, i + 1};
        int rc = wa ? pthread_create(&p->threads[i], NULL, worker_main, wa) : -1;
        if (rc != 0) {
            free(wa);
            stop_workers(p, i);
            p->n_threads = 1; /* nothing left to join in iris_pool_free */
            iris_pool_free(p);
            return iris_fail(IRIS_EINTERNAL, "cannot start worker thread %d of %d: %s", i + 1,
                             n_threads, rc > 0 ? strerror(rc) : "out of memory");
        }
    }
    *out = p;
    return IRIS_OK;
}

void iris_pool_free(iris_pool *p)
{
    if (!p) return;
    if (p->n_threads > 1 && p->threads) stop_workers(p, p->n_threads - 1);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->run_lock);
    free(p->threads);
    free(p);
}

int iris_pool_threads(const iris_pool *p) { return p ? p->n_threads : 1; }

static void wait_done(iris_pool *p)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(&p->active, memory_order_acquire) == 0) return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->active, memory_order_acquire) != 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void iris_pool_run(iris_pool *p, int n_tasks, iris_pool_fn fn, void *ctx)
{
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->run_lock);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&p->active, p->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, fn, ctx, n_tasks, 0);
    wait_done(p);
    pthread_mutex_unlock(&p->run_lock);
}
