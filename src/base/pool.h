/* pool.h - a small fork-join thread pool.
 *
 * qpool_run(p, fn, ctx) calls fn(ctx, i, n) once for every i in [0, n) where n is the pool's thread
 * count; the caller runs i = 0 itself and returns when all are done. Jobs split their work by
 * (i, n) (qpool_split) or take chunks from a shared atomic counter, and a result never depends on
 * which thread computed it, so results never depend on scheduling. Workers waiting for a job, and
 * the caller waiting for the workers, spin briefly, then yield, then sleep: a decode step
 * dispatches a few hundred short jobs and a condition-variable wake-up per job would cost a visible
 * share of each token, while a thread that never slept would take CPU from the threads it waits
 * for wherever threads outnumber cores. */
#ifndef QWEN3_BASE_POOL_H
#define QWEN3_BASE_POOL_H

typedef struct qpool qpool;
typedef void (*qpool_fn)(void *ctx, int ith, int nth);

qpool *qpool_new(int n_threads); /* n_threads >= 1; NULL on failure */
void qpool_free(qpool *p);
int qpool_size(const qpool *p);
void qpool_run(qpool *p, qpool_fn fn, void *ctx);

/* Hand-off timing (qwen3 bench --profile): while on, qpool_run counts its runs and adds up the time
 * the calling thread waits, after its own share, for the other threads to finish theirs (their late
 * start after a wake-up plus any imbalance between the shares). Off by default (no clock reads). */
void qpool_timing(qpool *p, int on);
void qpool_timing_get(const qpool *p, long *runs, double *wait_s);

/* Number of physical cores (falls back to online CPUs). */
int qpool_default_threads(void);

/* [begin, end) of n items for thread ith of nth, in chunks that are multiples of `align`. */
void qpool_split(long n, int ith, int nth, long align, long *begin, long *end);

#endif
