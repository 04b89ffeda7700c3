/* bench_profile.c - `qwen3 bench --profile`: after the timed phases, one more prefill of -p tokens
 * and -n decode steps with the per-step clocks of qwen3_model_profile_begin on (and the pool's
 * hand-off timing), each decode step also sampling its next token with the thinking-mode defaults;
 * prints where the time of a prefill and of one decode step goes. Both start from the largest of
 * -d's depths, cached again (untimed) before each, so that a profile at depth shows attention's
 * share at that depth. The clocks cost a few hundred reads per step, so these passes are a little
 * slower than the timed ones. */
#include <stdio.h>

#include "cli/bench.h"

/* One table: each step's time per pass (decode: per token), its share of the pass, calls per pass. */
static void print_profile(const char *what, const qwen3_profile *pf, double sample_s, int threads, int json, int last) {
    double n = pf->passes > 0 ? (double)pf->passes : 1, sum = 0;
    for (int i = 0; i < pf->n_steps; i++) sum += pf->seconds[i];
    double total = pf->total_s + sample_s, other = pf->total_s - sum;
    if (json) {
        printf("\"%s\": {\"passes\": %ld, \"us_per_pass\": %.1f, \"steps\": {", what, pf->passes, 1e6 * total / n);
        for (int i = 0; i < pf->n_steps; i++)
            printf("\"%s\": [%.2f, %.2f], ", pf->name[i], 1e6 * pf->seconds[i] / n, pf->calls[i] / n);
        printf("\"other\": [%.2f, 0], \"sampling\": [%.2f, %d]}, \"handoffs_per_pass\": %.1f, \"wait_us_per_pass\": %.2f", 1e6 * other / n,
               1e6 * sample_s / n, sample_s > 0, pf->handoffs / n, 1e6 * pf->wait_s / n);
        if (pf->moe_blocks) printf(", \"experts_per_moe_layer\": %.2f", (double)pf->experts_run / (double)pf->moe_blocks);
        printf("}%s", last ? "" : ", ");
        return;
    }
    printf("\nprofile: %s, %ld pass%s, %.1f us per pass, %d thread%s\n", what, pf->passes, pf->passes == 1 ? "" : "es",
           1e6 * total / n, threads, threads == 1 ? "" : "s");
    printf("  %-48s %10s %7s %8s\n", "step", "us/pass", "share", "calls");
    for (int i = 0; i < pf->n_steps; i++)
        if (pf->calls[i])
            printf("  %-48s %10.1f %6.1f%% %8.1f\n", pf->name[i], 1e6 * pf->seconds[i] / n, 100 * pf->seconds[i] / total,
                   pf->calls[i] / n);
    if (sample_s > 0) printf("  %-48s %10.1f %6.1f%% %8.1f\n", "sampling (T 0.6, top-k 20, top-p 0.95)", 1e6 * sample_s / n, 100 * sample_s / total, 1.0);
    printf("  %-48s %10.1f %6.1f%%\n", "other (allocation, logits copy, bookkeeping)", 1e6 * other / n, 100 * other / total);
    if (pf->moe_blocks)
        printf("  MoE: %.1f distinct experts run per MoE layer and pass (those its tokens chose; a prefill's last\n"
               "  layer runs only the token whose logits are asked)\n",
               (double)pf->experts_run / (double)pf->moe_blocks);
    if (threads > 1)
        printf("  thread hand-offs: %.0f per pass; the caller waited %.1f us per pass (%.1f%%) for the other thread%s\n"
               "  after its own share (included in the steps above)\n", pf->handoffs / n, 1e6 * pf->wait_s / n,
               100 * pf->wait_s / total, threads > 2 ? "s" : "");
}

int bench_profile(qwen3_model *m, qwen3_seq *s, int32_t *ids, long p, long n, long depth, int fill_random, float *logits,
                  int threads, int json, qwen3_err *e) {
    qwen3_profile pp = {0}, tg = {0};
    double sample_s = 0;
    qwen3_sampling sp;
    qwen3_sampling_defaults(&sp, 1, NULL);
    qwen3_sampler *smp = qwen3_sampler_new(&sp, qwen3_model_config(m)->vocab_size, e);
    if (!smp) return -1;
    int rc = -1;
    /* the depth is cached once: the prefill's rows are cut off again before the decode steps */
    if (depth > 0 && bench_fill_depth(m, s, depth, fill_random, e)) goto done;
    if (p > 0) {
        if (qwen3_model_profile_begin(m, e)) goto done;
        qwen3_batch_item it = {s, ids, (int)p, QWEN3_LOGITS_LAST, logits};
        if (qwen3_forward(m, &it, 1, e)) goto done;
        qwen3_model_profile_end(m, &pp);
        qwen3_seq_truncate(s, (int)depth, e);
    }
    if (n > 0) {
        if (qwen3_model_profile_begin(m, e)) goto done;
        int32_t tok = 1;
        for (long k = 0; k < n; k++) {
            qwen3_batch_item it = {s, &tok, 1, QWEN3_LOGITS_LAST, logits};
            if (qwen3_forward(m, &it, 1, e)) goto done;
            double t0 = bench_now_s();
            tok = qwen3_sampler_sample(smp, logits);
            sample_s += bench_now_s() - t0;
        }
        qwen3_model_profile_end(m, &tg);
        qwen3_seq_truncate(s, 0, e);
    }
    if (json) printf(", \"profile\": {");
    char at[40] = "", pw[96], dw[96];
    if (depth > 0) snprintf(at, sizeof at, "after %ld cached", depth);
    snprintf(pw, sizeof pw, "prefill (one pass over -p tokens%s%s)", depth > 0 ? " " : "", at);
    snprintf(dw, sizeof dw, "decode (per token: one step at a time %s)", depth > 0 ? at : "from an empty cache");
    if (p > 0) print_profile(json ? "prefill" : pw, &pp, 0, threads, json, n == 0);
    if (n > 0) print_profile(json ? "decode" : dw, &tg, sample_s, threads, json, 1);
    if (json) printf("}");
    rc = 0;
done:
    qwen3_model_profile_end(m, NULL);
    qwen3_sampler_free(smp);
    return rc;
}
