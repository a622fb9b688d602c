/*
 * threadpool.h - a small fork-join pool for data-parallel loops.
 *
 * One call, iris_pool_run(), hands n_tasks independent tasks to the pool's
 * workers and returns when all are done; the calling thread works too, so a
 * pool of n threads starts n - 1 of its own. Tasks are claimed one at a time
 * from a shared counter, so uneven tasks balance themselves. Each task learns
 * the index of the worker running it (0 .. threads - 1) and may use
 * per-worker scratch indexed by it.
 *
 * A pool may be shared: concurrent iris_pool_run() calls from different
 * threads are serialised (each still runs on all workers). A NULL pool runs
 * every task on the calling thread, so code written for the pool needs no
 * second serial version.
 */
#ifndef IRIS_UTIL_THREADPOOL_H
#define IRIS_UTIL_THREADPOOL_H

typedef struct iris_pool iris_pool;

/* Body of one task: ctx as given to iris_pool_run, the task index
 * (0 .. n_tasks - 1) and the worker index (0 .. iris_pool_threads() - 1). */
typedef void (*iris_pool_fn)(void *ctx, int task, int worker);

/* Online CPU cores (at least 1). */
int iris_cpu_count(void);

/* Creates a pool of n_threads workers counting the caller (0 = all cores,
 * 1 = no extra threads). Fails with IRIS_EARG for n_threads < 0 and
 * IRIS_ENOMEM / IRIS_EINTERNAL when threads cannot be made. */
int iris_pool_create(int n_threads, iris_pool **out);
void iris_pool_free(iris_pool *pool);

/* Workers counting the caller; 1 for a NULL pool. */
int iris_pool_threads(const iris_pool *pool);

/* Runs fn(ctx, t, worker) for every t in [0, n_tasks) and waits for all. */
void iris_pool_run(iris_pool *pool, int n_tasks, iris_pool_fn fn, void *ctx);

#endif
