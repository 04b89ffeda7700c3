/* bench_run.c - `qwen3 bench MODEL`: prefill and decode speed against the machine's limits.
 *
 * Prefill: one forward pass over -p random tokens (logits of the last only, as llama-bench pp).
 * Decode: -n tokens one at a time from an empty cache (as llama-bench tg). --parallel N: N sequences
 * decoding together, one forward pass per step over all of them (the server's batching), aggregate
 * tokens/s. Each phase runs once after a warm-up (a prefill of the same length and two decode
 * steps) that faults the weights in.
 *
 * Against the machine: decode's bytes per token (the weights a token reads: every layer matrix, the
 * active experts, the lm_head, one embedding row, plus the KV cache read at the mean context) times
 * tokens/s gives GB/s, reported as a fraction of the read bandwidth that all threads get over a 1 GiB
 * buffer; a model of a few hundred MB partly stays in the 260 MB L3 between tokens, so it can pass
 * 100%. Prefill's FLOPs (2 per multiply-add: matrices, attention at the mean context, the lm_head for
 * the last token) per second, as a fraction of the measured peak of the arithmetic it uses (on the
 * batch-invariant default: int8 dot products for quantized layers, bf16 dot products for BF16 ones
 * on AVX512_BF16 CPUs, f32 FMA for the other float ones; bf16 with --batch-variant). Peaks are measured (qwen3_machine_peak) unless
 * given as flags. "cpu" is the process's CPU time over threads x wall time: below 100% the run did
 * not get the whole machine (other processes, or threads waiting on each other). The byte and
 * FLOP counts come from qwen3_model_costs_get.
 *
 * --draft MODEL: speculative decoding. The same greedy generation of -n tokens after a 16-token
 * prompt runs through the generation layer twice, without and with the draft (the output is the
 * same; the test suite checks that), and the tokens/s of both, the speed-up, the draft's acceptance
 * rate and the tokens each target pass yields are reported.
 *
 * --profile: see bench_profile.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/err.h"
#include "cli/bench.h"
#include "cli/cli.h"

/* CPU seconds of this process (all threads): with wall time and the thread count it shows how much
 * of the machine the run got (other processes compete on a shared machine). */
static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)u.ru_stime.tv_usec;
}

/* Greedy generation of n tokens after prompt through qwen3_gen (with the draft when dm is set): the
 * seconds from the start (the short prompt's pass included: with a draft it already drafts) to the
 * last token, and the statistics. */
static int spec_run(qwen3_model *m, qwen3_seq *s, qwen3_model *dm, qwen3_seq *ds, int dn, const int32_t *prompt, int np,
                    int n, double *secs, qwen3_gen_stats *st, qwen3_err *e) {
    qwen3_seq_truncate(s, 0, NULL);
    if (ds) qwen3_seq_truncate(ds, 0, NULL);
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = 0, .top_p = 1, .repetition_penalty = 1};
    p.max_tokens = n;
    p.think_budget = -1;
    p.draft = dm;
    p.draft_seq = ds;
    p.draft_n = dn;
    qwen3_gen *g = qwen3_gen_new(m, NULL, s, prompt, np, &p, e);
    if (!g) return -1;
    int rc = 0;
    double t0 = bench_now_s();
    for (;;) {
        qwen3_gen_out o;
        qwen3_gen_take(g, &o);
        if (o.finish) break;
        if ((rc = qwen3_gen_step(m, &g, 1, e))) break;
    }
    *secs = bench_now_s() - t0;
    qwen3_gen_stats_get(g, st);
    qwen3_gen_free(g);
    return rc;
}

int bench_decode_steps(qwen3_model *m, qwen3_seq **s, int ns, int steps, int32_t *tok, float *logits, qwen3_err *e) {
    qwen3_batch_item it[64];
    const int V = qwen3_model_config(m)->vocab_size;
    for (int k = 0; k < steps; k++) {
        for (int i = 0; i < ns; i++) it[i] = (qwen3_batch_item){s[i], &tok[i], 1, QWEN3_LOGITS_LAST, logits + (size_t)i * V};
        if (qwen3_forward(m, it, ns, e)) return -1;
        for (int i = 0; i < ns; i++) tok[i] = (int32_t)((tok[i] * 7919 + 13 + k) % V); /* any token; speed only */
    }
    return 0;
}

/* Caches `depth` positions in s: a real prefill of random tokens in passes of 512 (no logits), or
 * random K/V rows written straight into the cache (qwen3_seq_fill_random). */
int bench_fill_depth(qwen3_model *m, qwen3_seq *s, long depth, int random_rows, qwen3_err *e) {
    if (qwen3_seq_truncate(s, 0, e)) return -1;
    if (depth > qwen3_seq_capacity(s))
        return qerr(e, "depth %ld exceeds the context of %d (give --ctx)", depth, qwen3_seq_capacity(s));
    if (random_rows && qwen3_mpi_size() == 1) return qwen3_seq_fill_random(s, (int)depth, e); /* MPI: a prefill */
    const int V = qwen3_model_config(m)->vocab_size;
    int32_t ids[512];
    for (long p0 = 0; p0 < depth; p0 += 512) {
        int k = depth - p0 < 512 ? (int)(depth - p0) : 512;
        for (int i = 0; i < k; i++) ids[i] = (int32_t)(((uint32_t)(p0 + i) * 2654435761u) % (uint32_t)V);
        qwen3_batch_item it = {s, ids, k, QWEN3_LOGITS_NONE, NULL};
        if (qwen3_forward(m, &it, 1, e)) return -1;
    }
    return 0;
}

/* what every depth's report shares */
typedef struct {
    const bench_opts *b;
    qwen3_model *m, *dm;
    qwen3_seq *s[64], *ds;
    int ns, threads;
    long p, n;          /* the single run's lengths: the largest of the lists */
    int32_t *ids, tok[64];
    float *logits;
    qwen3_model_costs mc;
    const char *wt;     /* the weights' type name */
    double load_s;
} run;

/* One depth's figures: what measure_depth fills and the two printers read. */
typedef struct {
    long D;                                       /* tokens cached before the timed phases */
    double fill_s, kv_mib;                        /* the depth's untimed fill; the cache's resident size */
    double pp_s, pp_tps, pp_gf, pp_cpu, pp_peak;  /* prefill */
    const char *pp_kind;                          /* the arithmetic prefill uses, for its peak */
    double tg_s, tg_tps, tg_gbps, tg_cpu;         /* decode */
    double par_s, par_tps;                        /* --parallel */
    double sp_tps0, sp_tps, sp_acc, sp_per;       /* --draft: plain and drafted greedy runs */
    double sp_draft_s;                            /* the drafted run's wall time */
    qwen3_gen_stats sp_st;
} depth_figs;

/* Measures prefill, decode, --parallel and --draft (the last two at the first depth only) at depth
 * index di into f. 0, or -1 with the error in e. */
static int measure_depth(run *r, int di, depth_figs *f, qwen3_err *e) {
    const bench_opts *b = r->b;
    const bench_peaks *pk = &b->pk;
    const qwen3_model_costs *mc = &r->mc;
    qwen3_model *m = r->m;
    const long D = b->depths[di], p = r->p, n = r->n, par = b->par;
    memset(f, 0, sizeof *f);
    f->D = D;
    if (D > 0) { /* the depth: cached once, untimed; each phase below starts from it */
        double t0 = bench_now_s();
        if (bench_fill_depth(m, r->s[0], D, b->fill_random, e)) return -1;
        f->fill_s = bench_now_s() - t0;
    }
    /* the arithmetic prefill uses: bf16 dot products with --batch-variant (its GEMM) and for BF16
     * weights on the fast path (dot_bf16.c); otherwise the integer dot products for quantized layers
     * and float32 FMA for float ones */
    const int bv = (mc->fast && mc->batch_variant) || mc->bf16_dots;
    f->pp_kind = bv ? "bf16" : mc->quantized ? "int8" : "f32";
    f->pp_peak = bv ? pk->bf16 : mc->quantized ? pk->int8 : pk->f32;
    if (p > 0) {
        qwen3_batch_item it = {r->s[0], r->ids, (int)p, QWEN3_LOGITS_LAST, r->logits};
        double t0 = bench_now_s(), c0 = cpu_s();
        if (qwen3_forward(m, &it, 1, e)) return -1;
        f->pp_s = bench_now_s() - t0;
        f->pp_cpu = (cpu_s() - c0) / (f->pp_s * r->threads);
        f->pp_tps = (double)p / f->pp_s;
        double flops = 2.0 * (mc->macs_per_token * (double)p +
                              mc->attn_macs_per_position * ((double)D + ((double)p + 1) / 2) * (double)p + mc->lm_head_macs);
        f->pp_gf = flops / f->pp_s / 1e9;
        qwen3_seq_truncate(r->s[0], (int)D, e);
    }
    if (n > 0) {
        r->tok[0] = 1;
        double t0 = bench_now_s(), c0 = cpu_s();
        if (bench_decode_steps(m, r->s, 1, (int)n, r->tok, r->logits, e)) return -1;
        f->tg_s = bench_now_s() - t0;
        f->tg_cpu = (cpu_s() - c0) / (f->tg_s * r->threads);
        f->tg_tps = (double)n / f->tg_s;
        double bytes = mc->weight_bytes_per_token + mc->kv_bytes_per_position * ((double)D + ((double)n + 1) / 2);
        f->tg_gbps = bytes * f->tg_tps / 1e9;
    }
    f->kv_mib = qwen3_seq_resident_bytes(r->s[0]) / 1048576.0;
    qwen3_seq_truncate(r->s[0], 0, e);
    if (par > 0 && n > 0 && di == 0) {
        for (int i = 0; i < r->ns; i++) r->tok[i] = 1 + i;
        double t0 = bench_now_s();
        if (bench_decode_steps(m, r->s, r->ns, (int)n, r->tok, r->logits, e)) return -1;
        f->par_s = bench_now_s() - t0;
        f->par_tps = (double)n * r->ns / f->par_s;
        for (int i = 0; i < r->ns; i++) qwen3_seq_truncate(r->s[i], 0, e);
    }
    /* speculative decoding: the same greedy generation without and with the draft */
    if (r->dm && n > 0 && di == 0) { /* once, at the first depth */
        if (!(r->ds = qwen3_seq_new(r->dm, b->o.ctx, e))) return qerr_wrap(e, "--draft");
        double w, sp_plain = 0, sp_draft = 0;
        qwen3_gen_stats ws, st0 = {0};
        const int dn = b->dro.n;
        /* warm-up of the draft's weights, then the two timed runs */
        if (spec_run(m, r->s[0], r->dm, r->ds, dn, r->ids, 16, 4, &w, &ws, e) ||
            spec_run(m, r->s[0], NULL, NULL, 0, r->ids, 16, (int)n, &sp_plain, &st0, e) ||
            spec_run(m, r->s[0], r->dm, r->ds, dn, r->ids, 16, (int)n, &sp_draft, &f->sp_st, e))
            return -1;
        const qwen3_gen_stats *st = &f->sp_st;
        f->sp_tps0 = sp_plain > 0 ? st0.generated_tokens / sp_plain : 0;
        f->sp_tps = sp_draft > 0 ? st->generated_tokens / sp_draft : 0;
        f->sp_acc = st->draft_tokens ? (double)st->draft_accepted / st->draft_tokens : 0;
        f->sp_per = st->draft_steps ? (double)(st->draft_accepted + st->draft_steps) / st->draft_steps : 0;
        f->sp_draft_s = sp_draft;
    }
    return 0;
}

/* One depth's figures as one JSON object (left open: --profile may add to it). */
static void print_depth_json(const run *r, const depth_figs *f) {
    const bench_opts *b = r->b;
    const bench_peaks *pk = &b->pk;
    const qwen3_model_costs *mc = &r->mc;
    const qwen3_gen_stats *st = &f->sp_st;
    const int dn = b->dro.n;
    printf("{\"model\": \"%s\", \"weights\": \"%s\", \"lm_head\": \"%s\", \"mode\": \"%s\", \"kv\": \"%s\", \"threads\": %d, "
           "\"load_s\": %.3f, \"weight_bytes_per_token\": %.0f, \"depth\": %ld, \"depth_fill\": \"%s\", \"kv_resident_mib\": %.1f, "
           "\"prefill\": {\"tokens\": %ld, \"seconds\": %.4f, \"tok_s\": %.2f, \"gflops\": %.1f, \"peak_frac\": %.3f, \"peak_kind\": \"%s\", \"cpu_frac\": %.2f}, "
           "\"decode\": {\"tokens\": %ld, \"seconds\": %.4f, \"tok_s\": %.2f, \"gbps\": %.2f, \"bw_frac\": %.3f, \"cpu_frac\": %.2f}, "
           "\"parallel\": {\"sequences\": %ld, \"tok_s\": %.2f}, "
           "\"draft\": {\"model\": \"%s\", \"draft_n\": %d, \"tokens\": %d, \"plain_tok_s\": %.2f, \"tok_s\": %.2f, "
           "\"speedup\": %.3f, \"acceptance\": %.4f, \"tokens_per_pass\": %.3f, \"draft_s\": %.4f}, "
           "\"machine\": {\"read_gbps\": %.2f, \"peak_f32\": %.1f, \"peak_bf16\": %.1f, \"peak_int8\": %.1f}",
           b->dir, r->wt, qwen3_dtype_name(mc->lm_head_type), mc->fast ? "fast" : "exact",
           qwen3_dtype_name(qwen3_model_kv_type(r->m)), r->threads, r->load_s, mc->weight_bytes_per_token, f->D,
           b->fill_random ? "random" : "prefill", f->kv_mib, r->p, f->pp_s, f->pp_tps, f->pp_gf,
           f->pp_peak > 0 ? f->pp_gf / f->pp_peak : 0, f->pp_kind, f->pp_cpu, r->n, f->tg_s, f->tg_tps, f->tg_gbps,
           pk->gbps > 0 ? f->tg_gbps / pk->gbps : 0, f->tg_cpu, b->par, f->par_tps, r->dm ? b->dro.model : "",
           r->dm ? (dn ? dn : QWEN3_DRAFT_N) : 0, st->generated_tokens, f->sp_tps0, f->sp_tps,
           f->sp_tps0 > 0 ? f->sp_tps / f->sp_tps0 : 0, f->sp_acc, f->sp_per, st->draft_seconds, pk->gbps, pk->f32, pk->bf16,
           pk->int8);
}

/* One depth's figures as text lines. */
static void print_depth_text(const run *r, int di, const depth_figs *f) {
    const bench_opts *b = r->b;
    const bench_peaks *pk = &b->pk;
    const qwen3_model_costs *mc = &r->mc;
    const qwen3_gen_stats *st = &f->sp_st;
    const long D = f->D, p = r->p, n = r->n;
    if (D > 0)
        printf("depth    %5ld tokens cached by %s in %.1f s; KV cache %.1f MiB resident\n", D,
               b->fill_random ? "random K/V rows" : "prefill", f->fill_s, f->kv_mib);
    /* the peaks are measured with AVX-512 only; elsewhere they are 0 unless given by flags */
    char ppf[48] = "peak unknown", tgf[48] = "bandwidth unknown";
    if (f->pp_peak > 0) snprintf(ppf, sizeof ppf, "%5.1f%% of the %s peak", 100 * f->pp_gf / f->pp_peak, f->pp_kind);
    if (pk->gbps > 0) snprintf(tgf, sizeof tgf, "%5.1f%% of read bandwidth", 100 * f->tg_gbps / pk->gbps);
    if (p > 0)
        printf("prefill  %5ld tokens %8.3f s %9.1f tok/s %8.1f GFLOP/s  %s   (cpu %3.0f%%)%s\n", p, f->pp_s, f->pp_tps,
               f->pp_gf, ppf, 100 * f->pp_cpu, D > 0 ? "  @ depth" : "");
    if (n > 0)
        printf("decode   %5ld tokens %8.3f s %9.1f tok/s %8.2f GB/s     %s (%.0f MB/token) (cpu %3.0f%%)%s\n", n, f->tg_s,
               f->tg_tps, f->tg_gbps, tgf, (mc->weight_bytes_per_token + mc->kv_bytes_per_position * (double)D) / 1e6,
               100 * f->tg_cpu, D > 0 ? "  @ depth" : "");
    if (b->par > 0 && n > 0 && di == 0)
        printf("parallel %2ld x %-5ld    %8.3f s %9.1f tok/s aggregate (%.2fx one sequence)\n", b->par, n, f->par_s,
               f->par_tps, f->tg_tps > 0 ? f->par_tps / f->tg_tps : 0);
    if (r->dm && n > 0 && di == 0)
        printf("draft    %5d tokens greedy: %.1f tok/s without the draft, %.1f tok/s with %s (%.2fx); %d of %d drafted "
               "accepted (%.1f%%), %.2f tokens per pass, draft %.0f ms of %.0f ms\n",
               st->generated_tokens, f->sp_tps0, f->sp_tps, b->dro.model, f->sp_tps0 > 0 ? f->sp_tps / f->sp_tps0 : 0,
               st->draft_accepted, st->draft_tokens, 100 * f->sp_acc, f->sp_per, 1e3 * st->draft_seconds,
               1e3 * f->sp_draft_s);
}

/* The single-run report at depth index di, as text or one JSON object (--profile: once, at the last
 * depth, inside its object). 0, or -1 with the error in e. */
static int report_depth(run *r, int di, qwen3_err *e) {
    depth_figs f;
    if (measure_depth(r, di, &f, e)) return -1;
    if (!r->b->json) {
        print_depth_text(r, di, &f);
        return 0;
    }
    print_depth_json(r, &f);
    int rc = r->b->profile && di == r->b->n_depths - 1 &&
                     bench_profile(r->m, r->s[0], r->ids, r->p, r->n, r->b->depths[di], r->b->fill_random, r->logits, r->threads, 1, e)
                 ? -1
                 : 0;
    printf("}\n");
    return rc;
}

static void measure_peaks(bench_peaks *pk, int threads) {
    if (pk->gbps == 0) pk->gbps = qwen3_machine_peak(QWEN3_PEAK_READ_GBPS, threads);
    if (pk->f32 == 0) pk->f32 = qwen3_machine_peak(QWEN3_PEAK_F32, threads);
    if (pk->bf16 == 0) pk->bf16 = qwen3_machine_peak(QWEN3_PEAK_BF16, threads);
    if (pk->int8 == 0) pk->int8 = qwen3_machine_peak(QWEN3_PEAK_INT8, threads);
}

int bench_run(bench_opts *b) {
    run r = {.b = b, .ns = b->par > 0 ? (int)b->par : 1};
    for (int k = 0; k < b->n_p; k++) r.p = b->p[k] > r.p ? b->p[k] : r.p; /* the warm-up's length and the context */
    for (int k = 0; k < b->n_n; k++) r.n = b->n[k] > r.n ? b->n[k] : r.n;
    long dmax = 0;
    for (int k = 0; k < b->n_depths; k++) dmax = b->depths[k] > dmax ? b->depths[k] : dmax;
    /* the timed passes' tokens, and at least the warm-up's (a prefill of max(p, 16) and 2 steps) */
    if (b->o.ctx == 0) b->o.ctx = (int)(dmax + (r.p > 16 ? r.p : 16) + (r.n > 2 ? r.n : 2) + 16);
    double tl0 = bench_now_s();
    if (!b->machine_only) {
        if (!(r.m = cli_load_model(b->dir, &b->o))) return 1;
        r.load_s = bench_now_s() - tl0;
        if (b->dro.model && !(r.dm = cli_draft_load(&b->dro, b->dir, r.m, NULL, &b->o))) { qwen3_model_free(r.m); return 1; }
    }
    r.threads = b->o.load.n_threads > 0 ? b->o.load.n_threads : qwen3_default_threads();
    bench_peaks *pk = &b->pk;
    measure_peaks(pk, r.threads);
    if (b->machine_only) {
        if (b->json) printf("{\"threads\": %d, \"read_gbps\": %.2f, \"peak_f32\": %.1f, \"peak_bf16\": %.1f, \"peak_int8\": %.1f}\n",
                            r.threads, pk->gbps, pk->f32, pk->bf16, pk->int8);
        else printf("machine: %d threads, read %.1f GB/s (1 GiB), peak GFLOP/s: f32 FMA %.0f, bf16 %.0f, int8 %.0f\n", r.threads,
                    pk->gbps, pk->f32, pk->bf16, pk->int8);
        return 0;
    }
    qwen3_model *m = r.m;
    const int V = qwen3_model_config(m)->vocab_size;
    qwen3_err e = {0};
    int rc = 1;
    long plen = r.p > 16 ? r.p : 16;
    r.ids = malloc(sizeof(int32_t) * (size_t)plen);
    r.logits = malloc(sizeof(float) * (size_t)V * (size_t)r.ns);
    for (int i = 0; i < r.ns; i++)
        if (!(r.s[i] = qwen3_seq_new(m, b->o.ctx, &e))) { cli_fail("%s", e.msg); goto done; }
        else qwen3_seq_keep_memory(r.s[i], 1); /* the warm-up's pages stay for the timed passes */
    if (!r.ids || !r.logits) { cli_fail("out of memory"); goto done; }
    for (long i = 0; i < plen; i++) r.ids[i] = (int32_t)((i * 2654435761u) % (unsigned)V);
    qwen3_model_costs_get(m, &r.mc);
    r.wt = qwen3_dtype_name(r.mc.weight_type);
    /* warm-up: fault the weights in with a prefill as long as the measured one (as llama-bench
     * does; a shorter one leaves MoE experts that it did not route to for the timed pass to fault
     * in) and two decode steps, then empty the cache */
    {
        qwen3_batch_item it = {r.s[0], r.ids, (int)plen, QWEN3_LOGITS_LAST, r.logits};
        if (qwen3_forward(m, &it, 1, &e)) { cli_fail("%s", e.msg); goto done; }
        r.tok[0] = 1;
        if (bench_decode_steps(m, r.s, 1, 2, r.tok, r.logits, &e)) { cli_fail("%s", e.msg); goto done; }
        qwen3_seq_truncate(r.s[0], 0, &e);
    }
    if (b->md || b->reps > 1 || b->n_p > 1 || b->n_n > 1) { /* the table instead of the single-run report */
        bench_table_args ta = {m,         r.s[0],       r.ids,         r.logits,       b->p,   b->n,   b->depths, b->n_p,
                               b->n_n,    b->n_depths,  (int)b->reps,  b->fill_random, b->json, r.threads, b->dir, r.wt};
        if (bench_table(&ta, &e)) { cli_fail("%s", e.msg); goto done; }
        rc = 0;
        goto done;
    }
    if (!b->json) {
        printf("model    %s: %s weights, lm_head %s, %s path, KV %s, %d threads, loaded in %.2f s\n", b->dir, r.wt,
               qwen3_dtype_name(r.mc.lm_head_type), r.mc.fast ? "fast" : "exact", qwen3_dtype_name(qwen3_model_kv_type(m)),
               r.threads, r.load_s);
        printf("machine  read %.1f GB/s; peak GFLOP/s f32 %.0f, bf16 %.0f, int8 %.0f\n", pk->gbps, pk->f32, pk->bf16, pk->int8);
    }
    for (int di = 0; di < b->n_depths; di++)
        if (report_depth(&r, di, &e)) { cli_fail("%s", e.msg); goto done; }
    if (!b->json && b->profile && bench_profile(m, r.s[0], r.ids, r.p, r.n, b->depths[b->n_depths - 1], b->fill_random, r.logits, r.threads, 0, &e)) {
        cli_fail("%s", e.msg);
        goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < r.ns; i++) qwen3_seq_free(r.s[i]);
    free(r.ids);
    free(r.logits);
    qwen3_seq_free(r.ds);
    qwen3_model_free(r.dm);
    qwen3_model_free(m);
    return rc;
}
