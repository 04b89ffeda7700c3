/* bench.h - what cmd_bench.c and bench_table.c share. */
#ifndef QWEN3_CLI_BENCH_H
#define QWEN3_CLI_BENCH_H

#include <stdint.h>
#include <time.h>

#include "cli/cli.h"
#include "model/seq.h"

#define BENCH_MAX_LIST 16

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
/* the benchmarks' clock: monotonic seconds */
static inline double bench_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
/* cmd_bench.c */
int bench_decode_steps(qwen3_model *m, qwen3_seq **s, int ns, int steps, int32_t *tok, float *logits, qwen3_err *e);
int bench_fill_depth(qwen3_model *m, qwen3_seq *s, long depth, int random_rows, qwen3_err *e);

#endif
