/* test_pool.c - the fork-join pool (src/base/pool.c): every share of every job runs exactly once,
 * and qpool_run returns only after all of them ended, on each of the pool's waiting paths:
 *   spin      jobs back to back (the workers and the caller find each other while spinning);
 *   sleep     a pause between jobs long enough for the workers to sleep on their condition variable;
 *   caller    a worker slower than the caller's spinning and yielding, so the caller sleeps until the
 *             last worker wakes it (the path that matters when the machine has fewer cores than
 *             threads: a caller that only yields takes CPU from the thread it waits on);
 *   mixed     random delays on random shares, any thread the last to finish.
 * A lost wake-up would hang: an alarm turns a hang into a failure with its own message. */
#include "test.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/pool.h"

#define MAX_N 4

typedef struct {
    atomic_int ran[MAX_N]; /* how many times share i ran to its end in this job */
    int nth[MAX_N];        /* the thread count share i was given */
    int delay_us[MAX_N];   /* how long share i sleeps before it ends */
} job;

static void share(void *ctx, int ith, int nth) {
    job *j = ctx;
    if (j->delay_us[ith]) usleep((useconds_t)j->delay_us[ith]);
    j->nth[ith] = nth;
    atomic_fetch_add(&j->ran[ith], 1);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL pool_hang: a qpool_run did not return within 60 s (a lost wake-up)\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

/* runs `runs` jobs on p (n threads), share i of each sleeping delay(i, n) microseconds; 1 when every
 * share of every job had run once to its end, told it was one of n, when qpool_run returned */
static int run_jobs(qpool *p, int n, int runs, int pause_us, int (*delay)(int ith, int n), char *why, size_t whylen) {
    for (int r = 0; r < runs; r++) {
        job j;
        memset(&j, 0, sizeof j);
        for (int i = 0; i < n; i++) j.delay_us[i] = delay ? delay(i, n) : 0;
        qpool_run(p, share, &j);
        for (int i = 0; i < n; i++) {
            if (atomic_load(&j.ran[i]) != 1 || j.nth[i] != n) {
                snprintf(why, whylen, "run %d: share %d of %d had run %d times (nth %d)", r, i, n,
                         atomic_load(&j.ran[i]), j.nth[i]);
                return 0;
            }
        }
        if (pause_us) usleep((useconds_t)pause_us);
    }
    return 1;
}

/* the last share is slow: 20 ms, far beyond the caller's spins and yields */
static int slow_last(int ith, int n) { return ith > 0 && ith == n - 1 ? 20000 : 0; }
static unsigned rng = 12345;
static int random_delay(int ith, int n) {
    (void)ith; (void)n;
    rng = rng * 1103515245u + 12345u;
    unsigned r = (rng >> 16) % 8;
    return r < 4 ? 0 : (int)(r - 3) * 700; /* 0 (half of the time), 0.7-3.5 ms */
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* the alarm handler exits without flushing */
    TEST_EXPECT(9);
    signal(SIGALRM, on_alarm);
    alarm(60);
    char why[160];
    for (int n = 2; n <= MAX_N; n += 2) {
        qpool *p = qpool_new(n);
        char name[64];
        snprintf(name, sizeof name, "pool_spin_%d", n);
        why[0] = 0;
        CHECK(p && run_jobs(p, n, 5000, 0, NULL, why, sizeof why), name, "%s", why);
        snprintf(name, sizeof name, "pool_sleep_%d", n);
        CHECK(p && run_jobs(p, n, 20, 30000, NULL, why, sizeof why), name, "%s", why);
        snprintf(name, sizeof name, "pool_caller_%d", n);
        CHECK(p && run_jobs(p, n, 10, 0, slow_last, why, sizeof why), name, "%s", why);
        snprintf(name, sizeof name, "pool_mixed_%d", n);
        CHECK(p && run_jobs(p, n, 200, 0, random_delay, why, sizeof why), name, "%s", why);
        qpool_free(p);
    }
    /* one thread: the caller runs the job alone */
    qpool *p1 = qpool_new(1);
    CHECK(p1 && qpool_size(p1) == 1 && run_jobs(p1, 1, 10, 0, NULL, why, sizeof why), "pool_one", "%s", why);
    qpool_free(p1);
    return test_exit();
}
