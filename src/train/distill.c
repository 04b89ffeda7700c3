/* distill.c - distillation losses on one row of logits (train/rl.h).
 *
 * Off-policy: the forward KL(p_T || q) at each position of the teacher's own answers, i.e. the
 * cross-entropy to the teacher's whole next-token distribution minus the teacher's entropy (a
 * constant). On-policy: the reverse KL(q || p_T) over the whole distribution at each position of
 * the student's samples, the teacher scoring every position (GKD, Agarwal et al. 2024, with the
 * sampled context treated as data).
 *
 * The tied column. The student's tied tokens share one logit z_s, so in the forward KL their terms
 * sum to -P_U log q_u where P_U is the teacher's total probability on them; in the reverse KL to
 * Q_s (log q_u - mean_U log p_T), the mean of the teacher's log-probabilities over them. Both are
 * exact for the tied student, whatever the teacher spreads over those tokens; the teacher row
 * therefore carries log P_U in the tied column and the mean log-probability beside it.
 *
 * Derivatives with the tied column aggregated (train/rl.h): forward d/dz_k = Q_k sum P - P_k;
 * reverse, with a_k = log Q_k - b_k (b the teacher's log-probability of the column, log mult +
 * mean_U log p_T for the tied one) and KL = sum Q a: d/dz_k = Q_k (a_k - KL). */
#include <math.h>
#include <string.h>

#include "train/rl.h"
#include "train/vec.h"

static double col_logit(const float *z, const rl_vocab *v, int j) {
    if (j != v->shared) return z[j];
    return v->mult > 0 ? z[j] + log(v->mult) : -INFINITY;
}

void distill_teacher_row(const tvec_ops *ops, const float *tz, int n_support, const int32_t *col2full,
                         const unsigned char *tied_mask, const rl_vocab *v, float *lp, float *mean_lp, float *negent) {
    /* one exp per id: e_i = exp(z_i - max) gives S, sum p log p = (sum e_i (z_i - max)) / S - log S,
     * and the tied ids' mass and mean logit */
    if (!ops) ops = &tv_scalar;
    float m = ops->max(tz, n_support);
    tv_smx r;
    ops->softmax_stats(tz, n_support, m, tied_mask, &r);
    double lz = m + log(r.s), ne = r.sez / r.s - log(r.s);
    *negent = (float)ne;
    *mean_lp = r.nu ? (float)(r.sumz / r.nu - lz) : 0.0f;
    for (int j = 0; j < v->nv; j++) {
        if (j == v->shared) { lp[j] = r.nu ? (float)(log(r.su) + m - lz) : -INFINITY; continue; }
        int id = col2full ? col2full[j] : j;
        lp[j] = id >= 0 && id < n_support ? (float)(tz[id] - lz) : -INFINITY;
    }
}

static double entropy(const float *z, const rl_vocab *v, double lz) {
    double h = 0;
    for (int j = 0; j < v->nv; j++) {
        double agg = col_logit(z, v, j);
        if (agg != -INFINITY) h -= exp(agg - lz) * (z[j] - lz);
    }
    return h;
}

static void store(float *z, const rl_vocab *v, int j, double d) { z[j] = (float)(j == v->shared ? d / v->n_head : d); }

double distill_fwd_token(float *z, const rl_vocab *v, const float *tlp, float negent, float weight, rl_acc *acc) {
    double lz = rl_logz(z, v), ce = 0, psum = 0;
    for (int j = 0; j < v->nv; j++) {
        if (tlp[j] == -INFINITY) continue;
        double pj = exp((double)tlp[j]);
        psum += pj;
        ce -= pj * (z[j] - lz); /* log q of one token (the tied column: of one tied token) */
    }
    double kl = negent + ce;
    if (weight == 0) { memset(z, 0, sizeof(float) * (size_t)v->nv); return kl; }
    acc->weight += weight;
    acc->loss += weight * kl;
    acc->kl += weight * kl;
    acc->entropy += weight * entropy(z, v, lz);
    acc->tokens++;
    for (int j = 0; j < v->nv; j++) {
        double agg = col_logit(z, v, j), q = agg == -INFINITY ? 0 : exp(agg - lz);
        double pj = tlp[j] == -INFINITY ? 0 : exp((double)tlp[j]);
        store(z, v, j, weight * (q * psum - pj));
    }
    return kl;
}

double distill_rev_token(float *z, const rl_vocab *v, const float *tlp, float mean_lp, float weight, rl_acc *acc) {
    double lz = rl_logz(z, v), kl = 0;
    for (int j = 0; j < v->nv; j++) {
        double agg = col_logit(z, v, j);
        if (agg == -INFINITY) continue;
        double b = j == v->shared ? mean_lp : tlp[j];
        kl += exp(agg - lz) * ((z[j] - lz) - b);
    }
    if (weight == 0) { memset(z, 0, sizeof(float) * (size_t)v->nv); return kl; }
    acc->weight += weight;
    acc->loss += weight * kl;
    acc->kl += weight * kl;
    acc->entropy += weight * entropy(z, v, lz);
    acc->tokens++;
    for (int j = 0; j < v->nv; j++) {
        double agg = col_logit(z, v, j);
        if (agg == -INFINITY) { z[j] = 0; continue; }
        double q = exp(agg - lz), b = j == v->shared ? mean_lp : tlp[j];
        store(z, v, j, weight * q * (((z[j] - lz) - b) - kl));
    }
    return kl;
}
