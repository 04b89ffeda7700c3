/* pool.c - fork-join thread pool (see pool.h). */
#include "base/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_PAUSES 2000 /* about 50-100 us of pause instructions */
#define SPIN_YIELDS 200

struct qpool {
    int n;
    pthread_t *threads;
    qpool_fn fn;
    void *ctx;
    atomic_uint gen;     /* bumped once per job; workers wait for it to change */
    atomic_int pending;  /* workers still running the current job */
    atomic_int quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t done_cv; /* the caller sleeps on it when the others are slow to finish */
    atomic_int caller_sleeps;
    int sleepers;
    int timing;          /* qpool_timing: count runs and the caller's waits */
    long runs;
    double wait_s;
};

typedef struct { qpool *p; int i; } worker_arg;

static void *worker(void *arg) {
    worker_arg *wa = arg;
    qpool *p = wa->p;
    int i = wa->i;
    free(wa);
    /* gen is 0 until the first job, and every worker exists before that: starting from 0 (not from
     * a fresh read) means a worker that starts late still sees the job or the quit it missed. */
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
            if (atomic_load_explicit(&p->quit, memory_order_relaxed)) return NULL;
            /* spin a little (the next job of a decode step comes within microseconds), then yield
             * (an oversubscribed machine needs the core for the thread we wait on), then sleep */
            if (++spins < SPIN_PAUSES) { CPU_RELAX(); continue; }
            if (spins < SPIN_PAUSES + SPIN_YIELDS) { sched_yield(); continue; }
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->quit)) pthread_cond_wait(&p->cv, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
            spins = 0;
        }
        seen = g;
        if (atomic_load(&p->quit)) return NULL;
        p->fn(p->ctx, i, p->n);
        /* seq_cst on both sides (here: pending, then caller_sleeps; in qpool_run: caller_sleeps, then
         * pending): either the caller sees pending reach 0 or the last worker sees it asleep */
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleeps)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

qpool *qpool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    qpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) { free(p); return NULL; }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) { p->n = i; qpool_free(p); return NULL; }
        wa->p = p;
        wa->i = i;
        if (pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            p->n = i;
            qpool_free(p);
            return NULL;
        }
    }
    return p;
}

void qpool_free(qpool *p) {
    if (!p) return;
    atomic_store(&p->quit, 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done_cv);
    free(p->threads);
    free(p);
}

int qpool_size(const qpool *p) { return p ? p->n : 1; }

void qpool_run(qpool *p, qpool_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    if (p->sleepers) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    struct timespec t0, t1;
    if (p->timing) clock_gettime(CLOCK_MONOTONIC, &t0);
    /* as the workers wait: spin, yield, then sleep. The sleep matters when the machine runs more
     * threads than it has cores (two engines at once, a busy host): a caller that only yielded
     * would take a core's share from the very thread it waits on for as long as it waits. */
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spins++) {
        if (spins < SPIN_PAUSES) { CPU_RELAX(); continue; }
        if (spins < SPIN_PAUSES + SPIN_YIELDS) { sched_yield(); continue; }
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeps, 1);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        atomic_store(&p->caller_sleeps, 0);
        pthread_mutex_unlock(&p->mu);
        break;
    }
    if (p->timing) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        p->runs++;
        p->wait_s += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    }
}

void qpool_timing(qpool *p, int on) {
    if (!p) return;
    p->timing = on;
    p->runs = 0;
    p->wait_s = 0;
}

void qpool_timing_get(const qpool *p, long *runs, double *wait_s) {
    *runs = p ? p->runs : 0;
    *wait_s = p ? p->wait_s : 0;
}

int qpool_default_threads(void) {
    /* Count distinct (physical id, core id) pairs in /proc/cpuinfo. */
    FILE *f = fopen("/proc/cpuinfo", "r");
    int cores = 0;
    if (f) {
        char line[256];
        int phys = 0, seen_n = 0;
        int seen[1024];
        while (fgets(line, sizeof line, f)) {
            int v;
            if (sscanf(line, "physical id : %d", &v) == 1) phys = v;
            else if (sscanf(line, "core id : %d", &v) == 1) {
                int key = phys * 4096 + v, dup = 0;
                for (int i = 0; i < seen_n; i++) if (seen[i] == key) { dup = 1; break; }
                if (!dup && seen_n < 1024) seen[seen_n++] = key;
            }
        }
        fclose(f);
        cores = seen_n;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores <= 0 || cores > online) cores = (int)(online > 0 ? online : 1);
    return cores;
}

void qpool_split(long n, int ith, int nth, long align, long *begin, long *end) {
    if (align < 1) align = 1;
    long chunks = (n + align - 1) / align;
    long per = chunks / nth, rem = chunks % nth;
    long b = ith * per + (ith < rem ? ith : rem);
    long e = b + per + (ith < rem ? 1 : 0);
    b *= align;
    e *= align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}
