/* bench_table.c - `qwen3 bench` with repetitions or lists (-r N, -p 128,512, -n 32,128, --md): the
 * llama-bench way of reporting. Each test is one prefill of p tokens (ppP) or one decode of n tokens
 * (tgN), at each depth, measured r times after the warm-up cmd_bench did; a row gives the mean
 * tokens/s and the sample standard deviation over the r runs (llama-bench's "t/s" column:
 * avg ± stddev). Output: a markdown table (the default here), or one JSON object per test with every
 * sample. The single-shot report with GB/s, GFLOP/s and roofline fractions stays in cmd_bench.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "cli/bench.h"

/* one timed run of a test from depth D: tok/s, or < 0 on an error (in e) */
static double run_once(const bench_table_args *a, qwen3_seq *s, long D, long p, long n, qwen3_err *e) {
    double t0, dt;
    if (p > 0) {
        qwen3_batch_item it = {s, a->ids, (int)p, QWEN3_LOGITS_LAST, a->logits};
        t0 = bench_now_s();
        if (qwen3_forward(a->m, &it, 1, e)) return -1;
        dt = bench_now_s() - t0;
    } else {
        int32_t tok = 1;
        t0 = bench_now_s();
        if (bench_decode_steps(a->m, &s, 1, (int)n, &tok, a->logits, e)) return -1;
        dt = bench_now_s() - t0;
    }
    if (qwen3_seq_truncate(s, (int)D, e)) return -1;
    return (double)(p > 0 ? p : n) / dt;
}

static void mean_sd(const double *x, int r, double *mean, double *sd) {
    double m = 0, v = 0;
    for (int i = 0; i < r; i++) m += x[i];
    m /= r;
    for (int i = 0; i < r; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = r > 1 ? sqrt(v / (r - 1)) : 0;
}

int bench_table(const bench_table_args *a, qwen3_err *e) {
    double *x = malloc(sizeof(double) * (size_t)a->reps);
    if (!x) return qerr(e, "out of memory");
    if (!a->json) {
        printf("| model | weights | threads | test | t/s |\n");
        printf("| --- | --- | ---: | ---: | ---: |\n");
    }
    for (int di = 0; di < a->n_depths; di++) {
        long D = a->depths[di];
        if (D > 0 && bench_fill_depth(a->m, a->s, D, a->fill_random, e)) { free(x); return -1; }
        for (int k = 0; k < a->n_p + a->n_n; k++) {
            long p = k < a->n_p ? a->p[k] : 0, n = k < a->n_p ? 0 : a->n[k - a->n_p];
            if (p == 0 && n == 0) continue;
            for (int r = 0; r < a->reps; r++)
                if ((x[r] = run_once(a, a->s, D, p, n, e)) < 0) { free(x); return -1; }
            double mean, sd;
            mean_sd(x, a->reps, &mean, &sd);
            char test[64];
            int o = snprintf(test, sizeof test, "%s%ld", p > 0 ? "pp" : "tg", p > 0 ? p : n);
            if (D > 0) snprintf(test + o, sizeof test - (size_t)o, " @ d%ld", D);
            if (a->json) {
                printf("{\"model\": \"%s\", \"weights\": \"%s\", \"threads\": %d, \"test\": \"%s\", \"n_prompt\": %ld, "
                       "\"n_gen\": %ld, \"depth\": %ld, \"runs\": %d, \"tok_s\": %.3f, \"tok_s_sd\": %.3f, \"samples\": [",
                       a->model, a->weights, a->threads, test, p, n, D, a->reps, mean, sd);
                for (int r = 0; r < a->reps; r++) printf("%s%.3f", r ? ", " : "", x[r]);
                printf("]}\n");
            } else {
                printf("| %s | %s | %d | %s | %.2f ± %.2f |\n", a->model, a->weights, a->threads, test, mean, sd);
            }
            fflush(stdout);
        }
        if (qwen3_seq_truncate(a->s, 0, e)) { free(x); return -1; }
    }
    free(x);
    return 0;
}

/* "128,512" -> out[]; 0 and a count, or -1 with a message (cli_fail) */
int bench_parse_list(const char *flag, const char *l, long lo, long hi, long *out, int max, int *count) {
    int k = 0;
    for (const char *q = l; q && *q;) {
        char *end;
        long v = strtol(q, &end, 10);
        if (end == q || v < lo || v > hi || (*end && *end != ',') || k == max) { k = 0; break; }
        out[k++] = v;
        q = *end ? end + 1 : end;
    }
    if (k == 0)
        return cli_fail("%s: expected a number or a comma-separated list of at most %d numbers in [%ld, %ld], got '%s'", flag, max,
                        lo, hi, l ? l : ""),
               -1;
    *count = k;
    return 0;
}
