/* test_spec.c - speculative decoding (src/generate/spec.c and its use in gen.c).
 *
 * 1. The rejection rule alone: for several pairs (p, q) over 6 ids (supports that differ both
 *    ways, q = p, q far from p) the token spec_accept emits for x ~ q is distributed as p
 *    (chi-square over 200,000 draws, significance 1e-3 with fixed seeds) and the acceptance rate
 *    is sum_x min(p(x), q(x)) within 5 standard deviations.
 * 2. End to end on a vocabulary of 8 ids (random checkpoints written by tools/gen_checkpoint.py:
 *    a 3-layer target and its 1-layer truncated copy as the draft, so the two agree often but not
 *    always): 3 tokens sampled after a 1-token prompt with a draft of 2 tokens, 12,000 seeds; the
 *    frequencies of the 512 possible continuations against the target's own probabilities,
 *    computed here from qwen3_forward's logits by a softmax in double precision (with the
 *    temperature, top-k and presence penalty of the case), chi-square at 1e-3. Two cases: plain
 *    temperature, and temperature + top-k + presence penalty (penalties apply to p, not to q).
 *    Both draft and reject at least sometimes (the counters say so), or the check fails.
 * 3. Greedy: five generations with drafts (draft_n 1, 3, 6, 32 and QWEN3_DRAFT_AUTO) and one
 *    without, stepped together, each give exactly the ids of plain greedy decoding alone, with a
 *    repetition and presence penalty so the text does not settle into a loop at once. The adaptive
 *    length moves both ways: the target as its own draft (every draft kept) drafts more than
 *    QWEN3_DRAFT_N tokens per step on average, the 1-layer draft (sampling at T 2.5: about 3 in 4
 *    kept) fewer.
 * 4. Errors: a draft with another vocabulary size, a draft without a sequence, draft_n out of range.
 * Injected faults that fail part 1 and 2: always accepting; drawing a rejected token from p
 * instead of the residual; q with the target's penalties ignored in p (part 2, second case). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate/gen.h"
#include "qwen3.h"
#include "test.h"

/* Upper 1e-3 quantile of chi-square with df degrees of freedom (Wilson-Hilferty). */
static double chi2_crit(int df) {
    double z = 3.0902, a = 2.0 / (9.0 * df);
    double c = 1 - a + z * sqrt(a);
    return df * c * c * c;
}

/* Chi-square of counts against probabilities, bins with an expected count below 5 pooled. */
static double chi2(const long *count, const double *prob, int n, long total, int *df) {
    double stat = 0, pe = 0;
    long pc = 0;
    int bins = 0;
    for (int i = 0; i < n; i++) {
        double ex = prob[i] * (double)total;
        if (ex < 5) { pe += ex; pc += count[i]; continue; }
        stat += (count[i] - ex) * (count[i] - ex) / ex;
        bins++;
    }
    if (pe > 0 || pc > 0) {
        if (pe < 1e-9) pe = 1e-9; /* draws where the reference says never: a huge statistic */
        stat += (pc - pe) * (pc - pe) / pe;
        bins++;
    }
    *df = bins > 1 ? bins - 1 : 1;
    return stat;
}

/* ---- 1. the rule alone ---- */

static void rule_case(const char *name, const float *p, const float *q, int n) {
    int32_t p_ids[8], q_ids[8];
    float ps[8], qs[8];
    int pn = 0, qn = 0;
    for (int i = n - 1; i >= 0; i--) { /* sparse, in a scrambled order */
        if (p[i] > 0) { p_ids[pn] = i; ps[pn++] = p[i]; }
        if (q[i] > 0) { q_ids[qn] = i; qs[qn++] = q[i]; }
    }
    float dense[8] = {0};
    gen_rng r;
    rng_seed(&r, 12345);
    const long N = 200000;
    long count[8] = {0}, acc = 0;
    for (long t = 0; t < N; t++) {
        double u = rng_uniform(&r), c = 0;
        int32_t x = q_ids[qn - 1];
        for (int k = 0; k < qn; k++) {
            c += qs[k];
            if (u < c) { x = q_ids[k]; break; }
        }
        int ok;
        int32_t y = spec_accept(p_ids, ps, pn, q_ids, qs, qn, x, dense, &r, &ok);
        count[y]++;
        acc += ok;
    }
    double prob[8], want_acc = 0;
    for (int i = 0; i < n; i++) {
        prob[i] = p[i];
        want_acc += fmin(p[i], q[i]);
    }
    int df;
    double s = chi2(count, prob, n, N, &df), crit = chi2_crit(df);
    double rate = (double)acc / N, sd = sqrt(fmax(0.0, want_acc * (1 - want_acc)) / N);
    int clean = 1;
    for (int i = 0; i < n; i++) clean &= dense[i] == 0;
    CHECK(s < crit && fabs(rate - want_acc) <= 5 * sd + 1e-6 && clean, name,
          "chi2 %.1f (df %d, critical %.1f), acceptance %.4f vs %.4f (5 sd %.4f), scratch left zero %d", s, df, crit, rate,
          want_acc, 5 * sd, clean);
    printf("INFO %s: chi2 %.1f (df %d, 1e-3 critical %.1f), acceptance %.4f (theory %.4f)\n", name, s, df, crit, rate, want_acc);
}

static void rule_tests(void) {
    const float p1[6] = {0.4f, 0.3f, 0.2f, 0.1f, 0, 0}, q1[6] = {0.1f, 0.1f, 0.2f, 0.2f, 0.3f, 0.1f};
    rule_case("spec_rule_q_wider", p1, q1, 6);
    const float p2[6] = {0.05f, 0.05f, 0.3f, 0.2f, 0.15f, 0.25f}, q2[6] = {0.7f, 0.3f, 0, 0, 0, 0};
    rule_case("spec_rule_q_narrower", p2, q2, 6);
    const float p3[6] = {0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.1f};
    rule_case("spec_rule_q_equal", p3, p3, 6);
    const float p4[6] = {0, 0, 0, 0, 0.5f, 0.5f}, q4[6] = {0.25f, 0.25f, 0.25f, 0.25f, 0, 0};
    rule_case("spec_rule_disjoint", p4, q4, 6);
}

/* ---- 2. end to end on 8 ids ---- */

#define V 8
static qwen3_model *TGT, *DRF;

/* The target's probability of every 3-token continuation of prompt under the case's sampling. */
static void reference(int32_t prompt, const qwen3_sampling *sp, double *prob) {
    qwen3_seq *s = qwen3_seq_new(TGT, 16, NULL);
    float lg[3 * V];
    for (int a = 0; a < V; a++)
        for (int b = 0; b < V; b++) {
            int32_t in[3] = {prompt, a, b};
            qwen3_seq_truncate(s, 0, NULL);
            qwen3_batch_item it = {s, in, 3, QWEN3_LOGITS_ALL, lg};
            if (qwen3_forward(TGT, &it, 1, NULL)) { printf("FAIL spec_reference: forward failed\n"); exit(1); }
            double pr[3][V];
            for (int pos = 0; pos < 3; pos++) {
                double z[V], mx = -1e300, sum = 0;
                for (int i = 0; i < V; i++) {
                    z[i] = lg[pos * V + i];
                    /* presence penalty over the tokens generated before this position */
                    int seen = (pos > 0 && in[1] == i) || (pos > 1 && in[2] == i);
                    if (seen) z[i] -= sp->presence_penalty;
                }
                double thr = -1e300;
                if (sp->top_k > 0) { /* the k-th largest; ties with it stay */
                    double srt[V];
                    memcpy(srt, z, sizeof srt);
                    for (int i = 0; i < V; i++)
                        for (int j = i + 1; j < V; j++)
                            if (srt[j] > srt[i]) { double t = srt[i]; srt[i] = srt[j]; srt[j] = t; }
                    thr = srt[sp->top_k - 1];
                }
                for (int i = 0; i < V; i++) if (z[i] >= thr && z[i] > mx) mx = z[i];
                for (int i = 0; i < V; i++) {
                    pr[pos][i] = z[i] >= thr ? exp((z[i] - mx) / sp->temperature) : 0;
                    sum += pr[pos][i];
                }
                for (int i = 0; i < V; i++) pr[pos][i] /= sum;
            }
            for (int c = 0; c < V; c++) prob[(a * V + b) * V + c] = pr[0][a] * pr[1][b] * pr[2][c];
        }
    qwen3_seq_free(s);
}

static void e2e_case(const char *name, qwen3_sampling sp, long N) {
    const int32_t prompt = 3;
    static double prob[V * V * V];
    static long count[V * V * V];
    reference(prompt, &sp, prob);
    memset(count, 0, sizeof count);
    qwen3_seq *s = qwen3_seq_new(TGT, 16, NULL), *ds = qwen3_seq_new(DRF, 16, NULL);
    qwen3_gen_params p = {0};
    p.max_tokens = 3;
    p.think_budget = -1;
    p.draft = DRF;
    p.draft_seq = ds;
    p.draft_n = 4;
    long drafted = 0, kept = 0, bad = 0;
    for (long t = 0; t < N && !bad; t++) {
        sp.seed = 1000 + (uint64_t)t;
        p.sampling = sp;
        qwen3_err e = {0};
        qwen3_gen *g = qwen3_gen_new(TGT, NULL, s, &prompt, 1, &p, &e);
        if (!g) { printf("FAIL %s: %s\n", name, e.msg); return; }
        int32_t out[3];
        int n = 0;
        for (int guard = 0; guard < 10; guard++) {
            qwen3_gen_out o;
            qwen3_gen_take(g, &o);
            for (int j = 0; j < o.n_ids && n < 3; j++) out[n++] = o.ids[j];
            if (o.finish) break;
            if (qwen3_gen_step(TGT, &g, 1, &e)) { printf("FAIL %s: %s\n", name, e.msg); bad = 1; break; }
        }
        qwen3_gen_stats st;
        qwen3_gen_stats_get(g, &st);
        drafted += st.draft_tokens;
        kept += st.draft_accepted;
        qwen3_gen_free(g);
        if (n != 3) { printf("FAIL %s: generation %ld gave %d tokens, not 3\n", name, t, n); bad = 1; break; }
        count[(out[0] * V + out[1]) * V + out[2]]++;
    }
    qwen3_seq_free(s);
    qwen3_seq_free(ds);
    if (bad) return;
    int df;
    double st = chi2(count, prob, V * V * V, N, &df), crit = chi2_crit(df);
    CHECK(st < crit && kept > 0 && kept < drafted, name,
          "chi2 %.1f (df %d, critical %.1f); %ld of %ld drafted tokens kept (both must be > 0 and the kept fewer)", st,
          df, crit, kept, drafted);
    printf("INFO %s: %ld continuations, chi2 %.1f (df %d, 1e-3 critical %.1f), %ld of %ld drafted tokens kept (%.1f%%)\n",
           name, N, st, df, crit, kept, drafted, 100.0 * kept / (drafted ? drafted : 1));
}

/* ---- 3. greedy, stepped together ---- */

static int run_to_end(qwen3_gen **g, int n, int32_t out[][64], int *n_out) {
    for (int k = 0; k < n; k++) n_out[k] = 0;
    for (int guard = 0; guard < 500; guard++) {
        int running = 0;
        for (int k = 0; k < n; k++) {
            qwen3_gen_out o;
            qwen3_gen_take(g[k], &o);
            for (int j = 0; j < o.n_ids && n_out[k] < 64; j++) out[k][n_out[k]++] = o.ids[j];
            running += o.finish == QWEN3_FINISH_NONE;
        }
        if (!running) return 0;
        qwen3_err e = {0};
        if (qwen3_gen_step(TGT, g, n, &e)) { printf("INFO gen_step: %s\n", e.msg); return -1; }
    }
    return -1;
}

static void greedy_together(void) {
    enum { NG = 6, NT = 40 };
    const int dn[NG] = {1, 3, 6, 32, QWEN3_DRAFT_AUTO, 0};
    const int32_t prompts[NG][4] = {{1, 2, 3, 4}, {7, 7, 0, 5}, {6, 2}, {5}, {4, 6, 1}, {0, 1, 0}};
    const int np[NG] = {4, 4, 2, 1, 3, 3};
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = 0, .top_p = 1, .repetition_penalty = 1.3f, .presence_penalty = 0.7f};
    p.max_tokens = NT;
    p.think_budget = -1;
    qwen3_seq *s[NG], *ds[NG];
    qwen3_gen *g[NG];
    int32_t alone[NG][64], together[NG][64];
    int na[NG], nt[NG], ok = 1;
    long drafted = 0, kept = 0;
    for (int k = 0; k < NG; k++) {
        s[k] = qwen3_seq_new(TGT, 128, NULL);
        ds[k] = qwen3_seq_new(DRF, 128, NULL);
        p.draft = NULL;
        g[k] = qwen3_gen_new(TGT, NULL, s[k], prompts[k], np[k], &p, NULL);
        if (!g[k] || run_to_end(&g[k], 1, &alone[k], &na[k])) ok = 0;
        qwen3_gen_free(g[k]);
    }
    for (int k = 0; k < NG; k++) {
        qwen3_seq_truncate(s[k], 0, NULL);
        p.draft = dn[k] ? DRF : NULL;
        p.draft_seq = ds[k];
        p.draft_n = dn[k];
        g[k] = qwen3_gen_new(TGT, NULL, s[k], prompts[k], np[k], &p, NULL);
        if (!g[k]) ok = 0;
    }
    if (ok && run_to_end(g, NG, together, nt)) ok = 0;
    int same = ok;
    for (int k = 0; k < NG && ok; k++) {
        same &= na[k] == NT && nt[k] == NT && !memcmp(alone[k], together[k], sizeof(int32_t) * NT);
        qwen3_gen_stats st;
        qwen3_gen_stats_get(g[k], &st);
        drafted += st.draft_tokens;
        kept += st.draft_accepted;
    }
    CHECK(same && kept > 0 && kept < drafted, "spec_greedy_together_equals_plain",
          "ok %d, same %d, %ld of %ld drafted kept", ok, same, kept, drafted);
    printf("INFO spec_greedy_together_equals_plain: %d x %d tokens, %ld of %ld drafted tokens kept\n", NG, NT, kept, drafted);
    for (int k = 0; k < NG; k++) {
        qwen3_gen_free(g[k]);
        qwen3_seq_free(s[k]);
        qwen3_seq_free(ds[k]);
    }
}

/* Drafted tokens per step of a sampled generation of 40 tokens with draft length dn (sampled: in a
 * greedy generation on 8 ids even a draft of other weights keeps every draft). */
static double per_step(qwen3_model *draft, int dn) {
    const int32_t prompt[3] = {4, 6, 1};
    qwen3_seq *s = qwen3_seq_new(TGT, 128, NULL), *ds = qwen3_seq_new(draft, 128, NULL);
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = 2.5f, .top_p = 1, .repetition_penalty = 1, .seed = 7};
    p.max_tokens = 40;
    p.think_budget = -1;
    p.draft = draft;
    p.draft_seq = ds;
    p.draft_n = dn;
    qwen3_gen *g = qwen3_gen_new(TGT, NULL, s, prompt, 3, &p, NULL);
    int32_t out[1][64];
    int n;
    double r = -1;
    if (g && !run_to_end(&g, 1, out, &n)) {
        qwen3_gen_stats st;
        qwen3_gen_stats_get(g, &st);
        r = st.draft_steps ? (double)st.draft_tokens / st.draft_steps : -1;
    }
    qwen3_gen_free(g);
    qwen3_seq_free(s);
    qwen3_seq_free(ds);
    return r;
}

/* Against the same generation with the fixed default (whose last steps are cut short too). */
static void adaptive_length(void) {
    double self = per_step(TGT, QWEN3_DRAFT_AUTO), self7 = per_step(TGT, QWEN3_DRAFT_N);
    double one = per_step(DRF, QWEN3_DRAFT_AUTO), one7 = per_step(DRF, QWEN3_DRAFT_N);
    CHECK(self > self7 && one > 0 && one < one7, "spec_adaptive_length",
          "drafted per step, adaptive vs fixed %d: %.2f vs %.2f with every draft kept (must be more), %.2f vs %.2f with "
          "the 1-layer draft (must be fewer)", QWEN3_DRAFT_N, self, self7, one, one7);
    printf("INFO spec_adaptive_length: tokens drafted per step, adaptive vs fixed %d: the target itself %.2f vs %.2f, "
           "the 1-layer draft %.2f vs %.2f (sampled, T 2.5)\n", QWEN3_DRAFT_N, self, self7, one, one7);
}

/* ---- 4. errors ---- */

static void errors(qwen3_model *other_vocab) {
    qwen3_seq *s = qwen3_seq_new(TGT, 16, NULL), *ds = qwen3_seq_new(DRF, 16, NULL), *os = qwen3_seq_new(other_vocab, 16, NULL);
    const int32_t pr[1] = {1};
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = 0, .top_p = 1, .repetition_penalty = 1};
    p.think_budget = -1;
    qwen3_err e = {0};
    p.draft = other_vocab;
    p.draft_seq = os;
    qwen3_gen *g = qwen3_gen_new(TGT, NULL, s, pr, 1, &p, &e);
    CHECK(!g && strstr(e.msg, "vocabulary"), "spec_refuses_other_vocab", "%s", g ? "accepted" : e.msg);
    qwen3_gen_free(g);
    p.draft = DRF;
    p.draft_seq = NULL;
    g = qwen3_gen_new(TGT, NULL, s, pr, 1, &p, &e);
    CHECK(!g && strstr(e.msg, "draft_seq"), "spec_needs_draft_seq", "%s", g ? "accepted" : e.msg);
    qwen3_gen_free(g);
    p.draft_seq = ds;
    p.draft_n = QWEN3_MAX_DRAFT + 1;
    g = qwen3_gen_new(TGT, NULL, s, pr, 1, &p, &e);
    CHECK(!g && strstr(e.msg, "draft_n"), "spec_draft_n_range", "%s", g ? "accepted" : e.msg);
    qwen3_gen_free(g);
    qwen3_seq_free(s);
    qwen3_seq_free(ds);
    qwen3_seq_free(os);
}

static qwen3_model *gen_model(const char *tmp, const char *root, const char *name, const char *args) {
    char dir[1024], cmd[4096], probe[1100];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    snprintf(probe, sizeof probe, "%s/model.safetensors", dir);
    FILE *f = fopen(probe, "rb");
    if (f) fclose(f);
    else {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/gen_checkpoint.py %s %s --no-tokenizer -q", root, dir, args);
        if (system(cmd) != 0) { printf("FAIL spec: %s failed\n", cmd); exit(1); }
    }
    qwen3_err e = {0};
    qwen3_load_opts lo = {0};
    lo.n_threads = 1; /* tiny models: a thread pool's hand-offs would cost more than the arithmetic */
    qwen3_model *m = qwen3_model_load(dir, &lo, &e);
    if (!m) { printf("FAIL spec: %s\n", e.msg); exit(1); }
    return m;
}

int main(void) {
    TEST_EXPECT(11);
    const char *tmp = getenv("QWEN3_TMP") ? getenv("QWEN3_TMP") : "/tmp";
    const char *root = getenv("QWEN3_ROOT") ? getenv("QWEN3_ROOT") : ".";
    rule_tests();
    /* the draft is the target's first layer: gen_checkpoint seeds each tensor from its name */
    TGT = gen_model(tmp, root, "spec_v8_l3", "--preset tiny --vocab 8 --layers 3 --seed 4");
    DRF = gen_model(tmp, root, "spec_v8_l1", "--preset tiny --vocab 8 --layers 1 --seed 4");
    qwen3_model *o = gen_model(tmp, root, "spec_v16_l1", "--preset tiny --vocab 16 --layers 1 --seed 4");
    e2e_case("spec_sampling_distribution", (qwen3_sampling){.temperature = 2.5f, .top_p = 1, .repetition_penalty = 1}, 12000);
    e2e_case("spec_sampling_distribution_topk_presence",
             (qwen3_sampling){.temperature = 2.0f, .top_k = 5, .top_p = 1, .repetition_penalty = 1, .presence_penalty = 0.8f},
             12000);
    greedy_together();
    adaptive_length();
    errors(o);
    qwen3_model_free(o);
    qwen3_model_free(TGT);
    qwen3_model_free(DRF);
    return test_exit();
}
