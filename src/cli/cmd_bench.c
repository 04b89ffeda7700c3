/* cmd_bench.c - `qwen3 bench MODEL`: prefill and decode speed against the machine's limits.
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
 * batch-invariant default: int8 dot products for quantized layers, f32 FMA for float ones; bf16
 * dot products with --batch-variant). Peaks come from kernels/peak.c unless
 * given as flags. "cpu" is the process's CPU time over threads x wall time: below 100% the run did
 * not get the whole machine (other processes, or threads waiting on each other). Reads model
 * internals for the byte and FLOP counts (a benchmark may).
 *
 * --draft MODEL: speculative decoding. The same greedy generation of -n tokens after a 16-token
 * prompt runs through the generation layer twice, without and with the draft (the output is the
 * same; the test suite checks that), and the tokens/s of both, the speed-up, the draft's acceptance
 * rate and the tokens each target pass yields are reported.
 *
 * --profile: after the timed phases, one more prefill of -p tokens and -n decode steps with the
 * per-step clocks of model/profile.h on (and the pool's hand-off timing), each decode step also
 * sampling its next token with the thinking-mode defaults; prints where the time of a prefill and
 * of one decode step goes. The clocks cost a few hundred reads per step, so these passes are a
 * little slower than the timed ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/bench.h"
#include "cli/cli.h"
#include "generate/gen.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "model/profile.h"
#include "model/seq.h"

/* CPU seconds of this process (all threads): with wall time and the thread count it shows how much
 * of the machine the run got (other processes compete on a shared machine). */
static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)u.ru_stime.tv_usec;
}

static double mbytes(const kmat *k) { return (double)k->rows * (double)k->row_bytes; }
static double mparams(const kmat *k) { return (double)k->rows * (double)k->cols; }

/* Per token: weight bytes read in decode, and matrix multiply-adds (without the lm_head). */
static void model_costs(const qwen3_model *m, double *wbytes, double *macs) {
    const qwen3_config *c = &m->c;
    double b = mbytes(&m->lm_head) + (double)m->embed.row_bytes, a = 0;
    for (int l = 0; l < c->num_layers; l++) {
        const layer_weights *L = &m->layers[l];
        const kmat *att[4] = {&L->wq, &L->wk, &L->wv, &L->wo};
        for (int i = 0; i < 4; i++) { b += mbytes(att[i]); a += mparams(att[i]); }
        if (L->is_moe) {
            double k = c->num_experts_per_tok;
            b += mbytes(&L->router) + k * (mbytes(&L->egate[0]) + mbytes(&L->eup[0]) + mbytes(&L->edown[0]));
            a += mparams(&L->router) + k * (mparams(&L->egate[0]) + mparams(&L->eup[0]) + mparams(&L->edown[0]));
        } else {
            b += mbytes(&L->gate) + mbytes(&L->up) + mbytes(&L->down);
            a += mparams(&L->gate) + mparams(&L->up) + mparams(&L->down);
        }
    }
    *wbytes = b;
    *macs = a;
}

/* KV values per position over all layers (K and V) */
static double kv_values(const qwen3_config *c) { return 2.0 * c->num_layers * c->num_kv_heads * c->head_dim; }
/* attention multiply-adds of one token at context len */
static double attn_macs(const qwen3_config *c, double len) { return 2.0 * c->num_layers * c->num_heads * c->head_dim * len; }

typedef struct {
    double gbps, f32, bf16, int8;
} peaks;

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
    const int V = m->c.vocab_size;
    for (int k = 0; k < steps; k++) {
        for (int i = 0; i < ns; i++) it[i] = (qwen3_batch_item){s[i], &tok[i], 1, QWEN3_LOGITS_LAST, logits + (size_t)i * V};
        if (qwen3_forward(m, it, ns, e)) return -1;
        for (int i = 0; i < ns; i++) tok[i] = (int32_t)((tok[i] * 7919 + 13 + k) % V); /* any token; speed only */
    }
    return 0;
}

/* One table: each step's time per pass (decode: per token), its share of the pass, calls per pass. */
static void print_profile(const char *what, const model_profile *pf, double sample_s, long pool_runs, double pool_wait_s,
                          int threads, int json, int last) {
    double n = pf->passes > 0 ? (double)pf->passes : 1, sum = 0;
    for (int i = 0; i < PROF_N; i++) sum += pf->s[i];
    double total = pf->total_s + sample_s, other = pf->total_s - sum;
    if (json) {
        printf("\"%s\": {\"passes\": %ld, \"us_per_pass\": %.1f, \"steps\": {", what, pf->passes, 1e6 * total / n);
        for (int i = 0; i < PROF_N; i++) printf("\"%s\": [%.2f, %.2f], ", prof_names[i], 1e6 * pf->s[i] / n, pf->calls[i] / n);
        printf("\"other\": [%.2f, 0], \"sampling\": [%.2f, %d]}, \"handoffs_per_pass\": %.1f, \"wait_us_per_pass\": %.2f}%s", 1e6 * other / n,
               1e6 * sample_s / n, sample_s > 0, pool_runs / n, 1e6 * pool_wait_s / n, last ? "" : ", ");
        return;
    }
    printf("\nprofile: %s, %ld pass%s, %.1f us per pass, %d thread%s\n", what, pf->passes, pf->passes == 1 ? "" : "es",
           1e6 * total / n, threads, threads == 1 ? "" : "s");
    printf("  %-48s %10s %7s %8s\n", "step", "us/pass", "share", "calls");
    for (int i = 0; i < PROF_N; i++)
        if (pf->calls[i])
            printf("  %-48s %10.1f %6.1f%% %8.1f\n", prof_names[i], 1e6 * pf->s[i] / n, 100 * pf->s[i] / total, pf->calls[i] / n);
    if (sample_s > 0) printf("  %-48s %10.1f %6.1f%% %8.1f\n", "sampling (T 0.6, top-k 20, top-p 0.95)", 1e6 * sample_s / n, 100 * sample_s / total, 1.0);
    printf("  %-48s %10.1f %6.1f%%\n", "other (allocation, logits copy, bookkeeping)", 1e6 * other / n, 100 * other / total);
    if (threads > 1)
        printf("  thread hand-offs: %.0f per pass; the caller waited %.1f us per pass (%.1f%%) for the other thread%s\n"
               "  after its own share (included in the steps above)\n", pool_runs / n, 1e6 * pool_wait_s / n,
               100 * pool_wait_s / total, threads > 2 ? "s" : "");
}

/* --profile: a prefill and n decode steps (sampling each next token) with the clocks on */
static int profile_run(qwen3_model *m, qwen3_seq *s, int32_t *ids, long p, long n, float *logits, int threads, int json,
                       qwen3_err *e) {
    model_profile pp = {0}, tg = {0};
    long pp_runs = 0, tg_runs = 0;
    double pp_wait = 0, tg_wait = 0, sample_s = 0;
    gen_sampler smp;
    qwen3_sampling sp;
    qwen3_sampling_defaults(&sp, 1, NULL);
    if (sampler_init(&smp, &sp, m->c.vocab_size, e)) return -1;
    int rc = -1;
    if (p > 0) {
        m->prof = &pp;
        qpool_timing(m->pool, 1);
        qwen3_batch_item it = {s, ids, (int)p, QWEN3_LOGITS_LAST, logits};
        if (qwen3_forward(m, &it, 1, e)) goto done;
        qpool_timing_get(m->pool, &pp_runs, &pp_wait);
        qwen3_seq_truncate(s, 0, e);
    }
    if (n > 0) {
        m->prof = &tg;
        qpool_timing(m->pool, 1);
        int32_t tok = 1;
        for (long k = 0; k < n; k++) {
            qwen3_batch_item it = {s, &tok, 1, QWEN3_LOGITS_LAST, logits};
            if (qwen3_forward(m, &it, 1, e)) goto done;
            double t0 = bench_now_s();
            tok = sampler_sample(&smp, logits);
            sample_s += bench_now_s() - t0;
        }
        qpool_timing_get(m->pool, &tg_runs, &tg_wait);
        qwen3_seq_truncate(s, 0, e);
    }
    if (json) printf(", \"profile\": {");
    if (p > 0) print_profile(json ? "prefill" : "prefill (one pass over -p tokens)", &pp, 0, pp_runs, pp_wait, threads, json, n == 0);
    if (n > 0) print_profile(json ? "decode" : "decode (per token: one step at a time from an empty cache)", &tg, sample_s, tg_runs, tg_wait, threads, json, 1);
    if (json) printf("}");
    rc = 0;
done:
    m->prof = NULL;
    qpool_timing(m->pool, 0);
    sampler_free(&smp);
    return rc;
}

/* Caches `depth` positions in s: a real prefill of random tokens in passes of 512 (no logits), or
 * random K/V rows (N(0,1)-ish values, rounded to the cache type) written straight into every layer
 * and head, with the token record filled to match (reads seq internals: a benchmark may). */
int bench_fill_depth(qwen3_model *m, qwen3_seq *s, long depth, int random_rows, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    if (qwen3_seq_truncate(s, 0, e)) return -1;
    if (depth > s->cap) return qerr(e, "depth %ld exceeds the context of %d (give --ctx)", depth, s->cap);
    int32_t *ids = malloc(sizeof(int32_t) * 512);
    float *row = malloc(sizeof(float) * (size_t)c->head_dim);
    if (!ids || !row || seq_reserve_tokens(s, (int)depth, e)) { free(ids); free(row); return qerr(e, "out of memory"); }
    uint32_t x = 12345;
    /* under MPI each rank holds (pipeline: mirrors; tensor parallel: its heads of) the cache, which
     * only a forward pass fills on every rank */
    if (m->pp_size > 1) random_rows = 0;
    if (!random_rows) {
        for (long p0 = 0; p0 < depth; p0 += 512) {
            int k = depth - p0 < 512 ? (int)(depth - p0) : 512;
            for (int i = 0; i < k; i++) ids[i] = (int32_t)(((uint32_t)(p0 + i) * 2654435761u) % (uint32_t)c->vocab_size);
            qwen3_batch_item it = {s, ids, k, QWEN3_LOGITS_NONE, NULL};
            if (qwen3_forward(m, &it, 1, e)) { free(ids); free(row); return -1; }
        }
    } else {
        for (int l = 0; l < c->num_layers; l++)
            for (int h = 0; h < c->num_kv_heads; h++)
                for (long p = 0; p < depth; p++)
                    for (int kv = 0; kv < 2; kv++) {
                        for (int d = 0; d < c->head_dim; d++) {
                            x = x * 1664525u + 1013904223u;
                            row[d] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 3.0f;
                        }
                        k_store_row(s->kv_type, kv ? seq_v(s, l, h, (int)p) : seq_k(s, l, h, (int)p), row, c->head_dim);
                    }
        for (long p = 0; p < depth; p++) s->tokens[p] = (int32_t)(p % c->vocab_size);
        s->len = (int)depth;
        s->high = s->len > s->high ? s->len : s->high;
    }
    free(ids);
    free(row);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    cli_model_opts o = {0};
    cli_draft_opts dro = {0};
    const char *dir = NULL;
    long p = 512, n = 128, par = 0, reps = 1, plist[BENCH_MAX_LIST] = {512}, nlist[BENCH_MAX_LIST] = {128};
    int np = 1, nn = 1, md = 0;
    int json = 0, exact = 0, machine_only = 0, profile = 0, fill_random = 0, nd = 1;
    long depths[16] = {0};
    peaks pk = {0, 0, 0, 0};
    o.load.fast = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            printf("usage: qwen3 bench MODEL [-p 512] [-n 128] [-d 0,4096,...] [-t N] [--parallel N] [--json] [flags]\n"
                   "       qwen3 bench --machine [-t N] [--json]\n\n"
                   "Prefill tokens/s (-p tokens, one pass) and decode tokens/s (-n tokens from an empty cache),\n"
                   "the GFLOP/s and GB/s they imply, and those as fractions of the machine's peaks, measured here\n"
                   "(read bandwidth of all threads over 1 GiB; f32 FMA, bf16 and int8 dot-product peaks) or given.\n\n"
                   "  -p N[,N...]       prefill tokens (default 512; 0 skips)\n"
                   "  -n N[,N...]       decode tokens (default 128; 0 skips)\n"
                   "  -r N              run each test N times: mean +- standard deviation of tok/s (default 1)\n"
                   "  --md              a markdown table as llama-bench prints (also chosen by -r > 1 or a\n"
                   "                    list in -p / -n): model, weights, threads, test (ppP / tgN @ dD), t/s;\n"
                   "                    with --json, one object per test with its samples\n"
                   "  -d, --depth LIST  measure prefill and decode after this many tokens are already cached\n"
                   "                    (comma-separated, as llama-bench -d; default 0; --json: one object each)\n"
                   "  --depth-fill HOW  how the depth is cached: prefill (default: a real prefill of random\n"
                   "                    tokens, untimed, as llama-bench) or random (random K/V rows written\n"
                   "                    straight into the cache: seconds instead of minutes at 16K+; the\n"
                   "                    timed passes read the same bytes and do the same work either way)\n"
                   "  --parallel N      also decode N sequences together (one pass per step), aggregate tok/s\n"
                   "  --profile         then where the time goes: per step of a prefill and of a decode step\n"
                   "  --bw GBPS, --peak-f32 G, --peak-bf16 G, --peak-int8 G   peaks instead of measuring\n"
                   "  --machine         only measure and print the peaks\n"
                   "  --json            one JSON object instead of the table\n"
                   "%s"
                   "                    (bench: a greedy generation of -n tokens without and with the draft:\n"
                   "                    tokens/s of both, speed-up, acceptance rate)\n"
                   "%s", CLI_DRAFT_FLAGS, CLI_MODEL_FLAGS_FAST);
            return 0;
        }
        double v;
        if (!strcmp(a, "-p")) { if (bench_parse_list(a, i + 1 < argc ? argv[++i] : NULL, 0, 1 << 20, plist, BENCH_MAX_LIST, &np)) return 2; }
        else if (!strcmp(a, "-n")) { if (bench_parse_list(a, i + 1 < argc ? argv[++i] : NULL, 0, 1 << 20, nlist, BENCH_MAX_LIST, &nn)) return 2; }
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) { if (cli_int(a, i + 1 < argc ? argv[++i] : NULL, 1, 1000, &reps)) return 2; }
        else if (!strcmp(a, "--md")) md = 1;
        else if (!strcmp(a, "--parallel")) { if (cli_int(a, i + 1 < argc ? argv[++i] : NULL, 1, 64, &par)) return 2; }
        else if (!strcmp(a, "-d") || !strcmp(a, "--depth")) {
            const char *l = i + 1 < argc ? argv[++i] : NULL;
            nd = 0;
            for (const char *q = l; q && *q && nd < 16;) {
                char *end;
                long d = strtol(q, &end, 10);
                if (end == q || d < 0 || d > (1L << 30) || (*end && *end != ',')) { nd = 0; break; }
                depths[nd++] = d;
                q = *end ? end + 1 : end;
            }
            if (nd == 0) return cli_fail("%s: expected a comma-separated list of depths (e.g. 0,4096,16384), got '%s'", a, l ? l : ""), 2;
        }
        else if (!strcmp(a, "--depth-fill")) {
            const char *h = i + 1 < argc ? argv[++i] : "";
            if (!strcmp(h, "random")) fill_random = 1;
            else if (!strcmp(h, "prefill")) fill_random = 0;
            else return cli_fail("--depth-fill: '%s' is not prefill or random", h), 2;
        }
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--exact")) exact = 1;
        else if (!strcmp(a, "--machine")) machine_only = 1;
        else if (!strcmp(a, "--bw")) { if (cli_float(a, i + 1 < argc ? argv[++i] : NULL, 0.001, 1e6, &v)) return 2; pk.gbps = v; }
        else if (!strcmp(a, "--peak-f32")) { if (cli_float(a, i + 1 < argc ? argv[++i] : NULL, 0.001, 1e7, &v)) return 2; pk.f32 = v; }
        else if (!strcmp(a, "--peak-bf16")) { if (cli_float(a, i + 1 < argc ? argv[++i] : NULL, 0.001, 1e7, &v)) return 2; pk.bf16 = v; }
        else if (!strcmp(a, "--peak-int8")) { if (cli_float(a, i + 1 < argc ? argv[++i] : NULL, 0.001, 1e7, &v)) return 2; pk.int8 = v; }
        else {
            int r = cli_model_flag(argc, argv, &i, &o);
            if (r == 0) r = cli_draft_flag(argc, argv, &i, &dro);
            if (r < 0) return 2;
            if (r) continue;
            if (a[0] == '-') return cli_fail("bench: unknown flag '%s' (see qwen3 bench --help)", a), 2;
            if (dir) return cli_fail("bench: more than one MODEL given"), 2;
            dir = a;
        }
    }
    if (exact) o.load.fast = 0;
    int table = md || reps > 1 || np > 1 || nn > 1;
    p = 0, n = 0;
    for (int k = 0; k < np; k++) p = plist[k] > p ? plist[k] : p; /* the warm-up's length and the context */
    for (int k = 0; k < nn; k++) n = nlist[k] > n ? nlist[k] : n;
    if (table && (par > 0 || profile))
        return cli_fail("bench: --parallel and --profile report one run; leave out -r, --md and lists with them"), 2;
    if (!dir && !machine_only) return cli_fail("bench: MODEL directory missing (see qwen3 bench --help)"), 2;
    if (dir && !(dir = cli_model_path(dir, QWEN3_NEED_WEIGHTS, o.pull))) return 1;
    long dmax = 0;
    for (int k = 0; k < nd; k++) dmax = depths[k] > dmax ? depths[k] : dmax;
    if (o.ctx == 0) o.ctx = (int)(dmax + p + n + 16);
    /* the model first: a wrong path fails at once, not after seconds of measuring the machine */
    qwen3_model *m = NULL, *dm = NULL;
    qwen3_seq *ds = NULL;
    double tl0 = bench_now_s(), load_s = 0;
    if (!machine_only) {
        if (!(m = cli_load_model(dir, &o))) return 1;
        load_s = bench_now_s() - tl0;
        if (dro.model && !(dm = cli_draft_load(&dro, dir, m, NULL, &o))) { qwen3_model_free(m); return 1; }
    }
    int threads = o.load.n_threads > 0 ? o.load.n_threads : qpool_default_threads();
    if (pk.gbps == 0) pk.gbps = k_peak_read_gbps(threads, (size_t)1 << 30);
    if (pk.f32 == 0) pk.f32 = k_peak_gflops(1, threads);
    if (pk.bf16 == 0) pk.bf16 = k_peak_gflops(2, threads);
    if (pk.int8 == 0) pk.int8 = k_peak_gflops(3, threads);
    if (machine_only) {
        if (json) printf("{\"threads\": %d, \"read_gbps\": %.2f, \"peak_f32\": %.1f, \"peak_bf16\": %.1f, \"peak_int8\": %.1f}\n",
                         threads, pk.gbps, pk.f32, pk.bf16, pk.int8);
        else printf("machine: %d threads, read %.1f GB/s (1 GiB), peak GFLOP/s: f32 FMA %.0f, bf16 %.0f, int8 %.0f\n", threads,
                    pk.gbps, pk.f32, pk.bf16, pk.int8);
        return 0;
    }
    const qwen3_config *c = qwen3_model_config(m);
    qwen3_err e = {0};
    int rc = 1, ns = par > 0 ? (int)par : 1;
    long plen = p > 16 ? p : 16;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)plen), tok[64];
    float *logits = malloc(sizeof(float) * (size_t)c->vocab_size * (size_t)ns);
    qwen3_seq *s[64] = {0};
    for (int i = 0; i < ns; i++)
        if (!(s[i] = qwen3_seq_new(m, o.ctx, &e))) { cli_fail("%s", e.msg); goto done; }
    if (!ids || !logits) { cli_fail("out of memory"); goto done; }
    for (long i = 0; i < plen; i++) ids[i] = (int32_t)((i * 2654435761u) % (unsigned)c->vocab_size);
    double wbytes, macs;
    model_costs(m, &wbytes, &macs);
    const double kv_es = (double)k_kv_row_bytes(m->kv_type, (size_t)c->head_dim) / c->head_dim;
    /* warm-up: fault the weights in with a prefill as long as the measured one (as llama-bench
     * does; a shorter one leaves MoE experts that it did not route to for the timed pass to fault
     * in) and two decode steps, then empty the cache */
    {
        qwen3_batch_item it = {s[0], ids, (int)plen, QWEN3_LOGITS_LAST, logits};
        if (qwen3_forward(m, &it, 1, &e)) { cli_fail("%s", e.msg); goto done; }
        tok[0] = 1;
        if (bench_decode_steps(m, s, 1, 2, tok, logits, &e)) { cli_fail("%s", e.msg); goto done; }
        qwen3_seq_truncate(s[0], 0, &e);
    }
    const char *wt = qwen3_dtype_name(m->layers[0].wq.type);
    if (!json && !table) {
        printf("model    %s: %s weights, lm_head %s, %s path, KV %s, %d threads, loaded in %.2f s\n", dir, wt,
               qwen3_dtype_name(m->lm_head.type), m->fast ? "fast" : "exact", qwen3_dtype_name(m->kv_type), threads, load_s);
        printf("machine  read %.1f GB/s; peak GFLOP/s f32 %.0f, bf16 %.0f, int8 %.0f\n", pk.gbps, pk.f32, pk.bf16, pk.int8);
    }
    if (table) {
        bench_table_args ta = {m, s[0], ids, logits, plist, nlist, depths, np, nn, nd, (int)reps, fill_random, json, threads, dir, wt};
        if (bench_table(&ta, &e)) { cli_fail("%s", e.msg); goto done; }
        nd = 0; /* the single-run report below is not printed */
    }
    for (int di = 0; di < nd; di++) {
    const long D = depths[di];
    double fill_s = 0;
    if (D > 0) { /* the depth: cached once, untimed; each phase below starts from it */
        double t0 = bench_now_s();
        if (bench_fill_depth(m, s[0], D, fill_random, &e)) { cli_fail("%s", e.msg); goto done; }
        fill_s = bench_now_s() - t0;
    }
    double pp_s = 0, pp_tps = 0, pp_gf = 0, tg_s = 0, tg_tps = 0, tg_gbps = 0, par_s = 0, par_tps = 0, pp_cpu = 0, tg_cpu = 0;
    /* the arithmetic prefill uses: bf16 dot products with --batch-variant; otherwise the integer
     * dot products for quantized layers and float32 FMA for float ones (the batch-invariant path) */
    const int quant = kq_is_quant(m->layers[0].wq.type);
    const char *pp_kind = m->fast && m->batch_variant ? "bf16" : quant ? "int8" : "f32";
    const double pp_peak = m->fast && m->batch_variant ? pk.bf16 : quant ? pk.int8 : pk.f32;
    if (p > 0) {
        qwen3_batch_item it = {s[0], ids, (int)p, QWEN3_LOGITS_LAST, logits};
        double t0 = bench_now_s(), c0 = cpu_s();
        if (qwen3_forward(m, &it, 1, &e)) { cli_fail("%s", e.msg); goto done; }
        pp_s = bench_now_s() - t0;
        pp_cpu = (cpu_s() - c0) / (pp_s * threads);
        pp_tps = (double)p / pp_s;
        double flops = 2.0 * (macs * (double)p + attn_macs(c, (double)D + ((double)p + 1) / 2) * (double)p + mparams(&m->lm_head));
        pp_gf = flops / pp_s / 1e9;
        qwen3_seq_truncate(s[0], (int)D, &e);
    }
    if (n > 0) {
        tok[0] = 1;
        double t0 = bench_now_s(), c0 = cpu_s();
        if (bench_decode_steps(m, s, 1, (int)n, tok, logits, &e)) { cli_fail("%s", e.msg); goto done; }
        tg_s = bench_now_s() - t0;
        tg_cpu = (cpu_s() - c0) / (tg_s * threads);
        tg_tps = (double)n / tg_s;
        double bytes = wbytes + kv_values(c) * kv_es * ((double)D + ((double)n + 1) / 2);
        tg_gbps = bytes * tg_tps / 1e9;
    }
    double kv_mib = qwen3_seq_resident_bytes(s[0]) / 1048576.0;
    qwen3_seq_truncate(s[0], 0, &e);
    if (par > 0 && n > 0 && di == 0) {
        for (int i = 0; i < ns; i++) tok[i] = 1 + i;
        double t0 = bench_now_s();
        if (bench_decode_steps(m, s, ns, (int)n, tok, logits, &e)) { cli_fail("%s", e.msg); goto done; }
        par_s = bench_now_s() - t0;
        par_tps = (double)n * ns / par_s;
        for (int i = 0; i < ns; i++) qwen3_seq_truncate(s[i], 0, &e);
    }
    /* speculative decoding: the same greedy generation without and with the draft */
    double sp_plain = 0, sp_draft = 0;
    qwen3_gen_stats sp_st = {0}, sp_st0 = {0};
    if (dm && n > 0 && di == 0) { /* once, at the first depth */
        if (!(ds = qwen3_seq_new(dm, o.ctx, &e))) { cli_fail("--draft: %s", e.msg); goto done; }
        double w;
        qwen3_gen_stats ws;
        /* warm-up of the draft's weights, then the two timed runs */
        if (spec_run(m, s[0], dm, ds, dro.n, ids, 16, 4, &w, &ws, &e) ||
            spec_run(m, s[0], NULL, NULL, 0, ids, 16, (int)n, &sp_plain, &sp_st0, &e) ||
            spec_run(m, s[0], dm, ds, dro.n, ids, 16, (int)n, &sp_draft, &sp_st, &e)) {
            cli_fail("%s", e.msg);
            goto done;
        }
    }
    double sp_tps0 = sp_plain > 0 ? sp_st0.generated_tokens / sp_plain : 0;
    double sp_tps = sp_draft > 0 ? sp_st.generated_tokens / sp_draft : 0;
    double sp_acc = sp_st.draft_tokens ? (double)sp_st.draft_accepted / sp_st.draft_tokens : 0;
    double sp_per = sp_st.draft_steps ? (double)(sp_st.draft_accepted + sp_st.draft_steps) / sp_st.draft_steps : 0;
    if (json) {
        printf("{\"model\": \"%s\", \"weights\": \"%s\", \"lm_head\": \"%s\", \"mode\": \"%s\", \"kv\": \"%s\", \"threads\": %d, "
               "\"load_s\": %.3f, \"weight_bytes_per_token\": %.0f, \"depth\": %ld, \"depth_fill\": \"%s\", \"kv_resident_mib\": %.1f, "
               "\"prefill\": {\"tokens\": %ld, \"seconds\": %.4f, \"tok_s\": %.2f, \"gflops\": %.1f, \"peak_frac\": %.3f, \"peak_kind\": \"%s\", \"cpu_frac\": %.2f}, "
               "\"decode\": {\"tokens\": %ld, \"seconds\": %.4f, \"tok_s\": %.2f, \"gbps\": %.2f, \"bw_frac\": %.3f, \"cpu_frac\": %.2f}, "
               "\"parallel\": {\"sequences\": %ld, \"tok_s\": %.2f}, "
               "\"draft\": {\"model\": \"%s\", \"draft_n\": %d, \"tokens\": %d, \"plain_tok_s\": %.2f, \"tok_s\": %.2f, "
               "\"speedup\": %.3f, \"acceptance\": %.4f, \"tokens_per_pass\": %.3f, \"draft_s\": %.4f}, "
               "\"machine\": {\"read_gbps\": %.2f, \"peak_f32\": %.1f, \"peak_bf16\": %.1f, \"peak_int8\": %.1f}",
               dir, wt, qwen3_dtype_name(m->lm_head.type), m->fast ? "fast" : "exact", qwen3_dtype_name(m->kv_type), threads,
               load_s, wbytes, D, fill_random ? "random" : "prefill", kv_mib, p, pp_s, pp_tps, pp_gf,
               pp_peak > 0 ? pp_gf / pp_peak : 0, pp_kind, pp_cpu, n, tg_s, tg_tps, tg_gbps, pk.gbps > 0 ? tg_gbps / pk.gbps : 0,
               tg_cpu, par, par_tps, dm ? dro.model : "", dm ? (dro.n ? dro.n : QWEN3_DRAFT_N) : 0, sp_st.generated_tokens,
               sp_tps0, sp_tps, sp_tps0 > 0 ? sp_tps / sp_tps0 : 0, sp_acc, sp_per, sp_st.draft_seconds, pk.gbps, pk.f32,
               pk.bf16, pk.int8);
        /* --profile: once, from an empty cache, inside the last depth's object */
        if (profile && di == nd - 1 && profile_run(m, s[0], ids, p, n, logits, threads, 1, &e)) {
            printf("}\n");
            cli_fail("%s", e.msg);
            goto done;
        }
        printf("}\n");
    } else {
        if (D > 0)
            printf("depth    %5ld tokens cached by %s in %.1f s; KV cache %.1f MiB resident\n", D,
                   fill_random ? "random K/V rows" : "prefill", fill_s, kv_mib);
        /* the peaks are measured with AVX-512 only; elsewhere they are 0 unless given by flags */
        char ppf[48] = "peak unknown", tgf[48] = "bandwidth unknown";
        if (pp_peak > 0) snprintf(ppf, sizeof ppf, "%5.1f%% of the %s peak", 100 * pp_gf / pp_peak, pp_kind);
        if (pk.gbps > 0) snprintf(tgf, sizeof tgf, "%5.1f%% of read bandwidth", 100 * tg_gbps / pk.gbps);
        if (p > 0)
            printf("prefill  %5ld tokens %8.3f s %9.1f tok/s %8.1f GFLOP/s  %s   (cpu %3.0f%%)%s\n", p, pp_s, pp_tps, pp_gf, ppf,
                   100 * pp_cpu, D > 0 ? "  @ depth" : "");
        if (n > 0)
            printf("decode   %5ld tokens %8.3f s %9.1f tok/s %8.2f GB/s     %s (%.0f MB/token) (cpu %3.0f%%)%s\n", n, tg_s,
                   tg_tps, tg_gbps, tgf, (wbytes + kv_values(c) * kv_es * (double)D) / 1e6, 100 * tg_cpu,
                   D > 0 ? "  @ depth" : "");
        if (par > 0 && n > 0 && di == 0)
            printf("parallel %2ld x %-5ld    %8.3f s %9.1f tok/s aggregate (%.2fx one sequence)\n", par, n, par_s, par_tps,
                   tg_tps > 0 ? par_tps / tg_tps : 0);
        if (dm && n > 0 && di == 0)
            printf("draft    %5d tokens greedy: %.1f tok/s without the draft, %.1f tok/s with %s (%.2fx); %d of %d drafted "
                   "accepted (%.1f%%), %.2f tokens per pass, draft %.0f ms of %.0f ms\n",
                   sp_st.generated_tokens, sp_tps0, sp_tps, dro.model, sp_tps0 > 0 ? sp_tps / sp_tps0 : 0,
                   sp_st.draft_accepted, sp_st.draft_tokens, 100 * sp_acc, sp_per, 1e3 * sp_st.draft_seconds, 1e3 * sp_draft);
    }
    }
    if (!json && profile && profile_run(m, s[0], ids, p, n, logits, threads, 0, &e)) { cli_fail("%s", e.msg); goto done; }
    rc = 0;
done:
    for (int i = 0; i < ns; i++) qwen3_seq_free(s[i]);
    free(ids);
    free(logits);
    qwen3_seq_free(ds);
    qwen3_model_free(dm);
    qwen3_model_free(m);
    return rc;
}
