/* grpo.c - the GRPO objective on one row of logits, and group-normalised advantages (train/rl.h).
 *
 * DeepSeekMath (arXiv 2402.03300) eq. 3 per token: -min(r A, clip(r, 1 - eps, 1 + eps) A) with
 * r = pi(o_t) / pi_old(o_t) = e^{logp - logp_old}, plus beta times the k3 estimate of
 * KL(pi || pi_ref) (eq. 4): e^{ref - logp} - (ref - logp) - 1. The average over tokens is the
 * caller's, through the weights. Derivatives with respect to logp: the unclipped branch gives
 * -r A; the clipped branch, when it is the smaller one, is constant in logp (r is outside the clip
 * range), so 0; the k3 term gives beta (1 - e^{ref - logp}). Then d logp / dz_k = [k = target] - Q_k. */
#include <math.h>
#include <string.h>

#include "train/rl.h"

/* the column's logit with the tied column aggregated; -inf outside the support */
static double col_logit(const float *z, const rl_vocab *v, int j) {
    if (j != v->shared) return z[j];
    return v->mult > 0 ? z[j] + log(v->mult) : -INFINITY;
}

double rl_logz(const float *z, const rl_vocab *v) {
    double m = -INFINITY, s = 0;
    for (int j = 0; j < v->nv; j++) {
        double x = col_logit(z, v, j);
        if (x > m) m = x;
    }
    for (int j = 0; j < v->nv; j++) s += exp(col_logit(z, v, j) - m);
    return m + log(s);
}

/* entropy of the policy at the row: -sum over tokens q log q (the tied ones: Q_s log q_u) */
static double entropy(const float *z, const rl_vocab *v, double lz) {
    double h = 0;
    for (int j = 0; j < v->nv; j++) {
        double agg = col_logit(z, v, j);
        if (agg == -INFINITY) continue;
        h -= exp(agg - lz) * (z[j] - lz);
    }
    return h;
}

double grpo_token(float *z, const rl_vocab *v, int target, float logp_old, float adv, float ref_logp, float weight,
                  const grpo_params *p, rl_acc *acc) {
    double lz = rl_logz(z, v), logp = z[target] - lz;
    if (weight == 0) {
        memset(z, 0, sizeof(float) * (size_t)v->nv);
        return logp;
    }
    double r = exp(logp - logp_old), lo = 1 - p->eps, hi = 1 + p->eps;
    double rc = r < lo ? lo : r > hi ? hi : r;
    double unc = r * adv, cl = rc * adv;
    int clipped = cl < unc;
    double obj = clipped ? cl : unc;
    double dref = ref_logp - logp, k3 = p->beta > 0 ? exp(dref) - dref - 1 : 0;
    double g = (clipped ? 0 : -r * adv) + (p->beta > 0 ? p->beta * (1 - exp(dref)) : 0);
    acc->weight += weight;
    acc->loss += weight * (-obj + p->beta * k3);
    acc->kl += weight * k3;
    acc->entropy += weight * entropy(z, v, lz);
    acc->clipped += clipped ? weight : 0;
    acc->ratio += weight * r;
    acc->tokens++;
    double gw = g * weight;
    for (int j = 0; j < v->nv; j++) {
        double agg = col_logit(z, v, j), q = agg == -INFINITY ? 0 : exp(agg - lz);
        double d = gw * ((j == target ? 1.0 : 0.0) - q);
        z[j] = (float)(j == v->shared ? d / v->n_head : d);
    }
    return logp;
}

int grpo_advantages(const float *r, int n_groups, int G, double eps, float *adv) {
    int equal = 0;
    for (int g = 0; g < n_groups; g++) {
        const float *x = r + (int64_t)g * G;
        double mean = 0, ss = 0;
        for (int i = 0; i < G; i++) mean += x[i];
        mean /= G;
        for (int i = 0; i < G; i++) ss += (x[i] - mean) * (x[i] - mean);
        double sd = G > 1 ? sqrt(ss / (G - 1)) : 0;
        int same = 1;
        for (int i = 1; i < G; i++) same &= x[i] == x[0];
        equal += same;
        for (int i = 0; i < G; i++) adv[(int64_t)g * G + i] = same ? 0.0f : (float)((x[i] - mean) / (sd + eps));
    }
    return equal;
}
