/* bench.h - what the files of `qwen3 bench` share: cmd_bench.c (flags), bench_run.c (loading, the
 * warm-up, the single-run report), bench_table.c (-r / lists / --md), bench_profile.c (--profile). */
#ifndef QWEN3_CLI_BENCH_H
#define QWEN3_CLI_BENCH_H

#include <stdint.h>
#include <time.h>

#include "cli/cli.h"

#define BENCH_MAX_LIST 16

/* the machine's limits: read GB/s and peak GFLOP/s (0: unknown) */
typedef struct {
    double gbps, f32, bf16, int8;
} bench_peaks;

/* the command line */
typedef struct {
    cli_model_opts o;
    cli_draft_opts dro;
    const char *dir;
    long p[BENCH_MAX_LIST], n[BENCH_MAX_LIST], depths[BENCH_MAX_LIST];
    int n_p, n_n, n_depths;
    long par, reps;
    int md, json, exact, machine_only, profile, fill_random;
    bench_peaks pk; /* given by flags; the rest measured */
} bench_opts;

/* Loads, measures and reports (bench_run.c). Returns the exit status. */
int bench_run(bench_opts *b);

typedef struct {
    qwen3_model *m;
    qwen3_seq *s;
    int32_t *ids;  /* at least max(p) prompt tokens */
    float *logits; /* one row */
    const long *p, *n, *depths;
    int n_p, n_n, n_depths, reps, fill_random, json, threads;
    const char *model, *weights;
} bench_table_args;

/* the -r / list / --md report (bench_table.c) */
int bench_table(const bench_table_args *a, qwen3_err *e);
int bench_parse_list(const char *flag, const char *l, long lo, long hi, long *out, int max, int *count);

/* --profile: one prefill of p tokens and n decode steps (each sampling its next token) with the
 * per-step clocks on, each after `depth` cached tokens; prints where the time goes (bench_profile.c) */
int bench_profile(qwen3_model *m, qwen3_seq *s, int32_t *ids, long p, long n, long depth, int fill_random, float *logits,
                  int threads, int json, qwen3_err *e);

/* the benchmarks' clock: monotonic seconds */
static inline double bench_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
/* bench_run.c: `steps` decode steps of ns sequences together (any tokens: speed only); caching
 * `depth` positions in s by a prefill of random tokens or random K/V rows */
int bench_decode_steps(qwen3_model *m, qwen3_seq **s, int ns, int steps, int32_t *tok, float *logits, qwen3_err *e);
int bench_fill_depth(qwen3_model *m, qwen3_seq *s, long depth, int random_rows, qwen3_err *e);

#endif
