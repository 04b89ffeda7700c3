/* moe.c - Qwen3-MoE's sparse block, forward and backward, and the load-balancing loss.
 *
 * [Qwen3MoeSparseMoeBlock.forward] router_logits = gate(x); p = softmax(router_logits) in float32 over
 * all experts; top-k of p; renormalised to sum 1 when norm_topk_prob; each expert (a SwiGLU MLP) runs
 * on the tokens that chose it; y = sum_k w_k expert_k(x). Experts are processed expert by expert on
 * the gathered rows of their tokens (assignments grouped by expert, token order inside a group).
 *
 * Balance loss (Qiu et al. 2025, "Demons in the Detail", arXiv 2501.11873; the Switch form):
 *     LBL = E * sum_i f_i * P_i,   P_i = mean over the micro-batch's tokens of p_i,
 *     f_i = (selections of expert i) / (k * tokens)
 * micro-batch form: f over this micro-batch. Global-batch form: f over every micro-batch of the
 * global batch counted so far (the count buffer: tmodel_lbl_begin clears it at each optimiser step,
 * each training forward adds its counts before computing f), so the last micro-batch of a step
 * sees the whole global batch's f. f is a constant for the gradient (selection is not
 * differentiable): the gradient flows through P, i.e. through the router probabilities only. The
 * model's balance loss is the mean over MoE layers; the training objective adds alpha times it. */
#include <math.h>
#include <string.h>

#include "train/moe.h"

double moe_forward(tmodel *m, int l, float *xout) {
    const qwen3_config *c = &m->c;
    tlayer_acts *a = &m->a.l[l];
    const tlayer *w = &m->w.layers[l];
    int N = m->B * m->T, H = c->hidden_size, E = c->num_experts, K = c->num_experts_per_tok, Im = c->moe_intermediate_size;
    /* router softmax in float32 */
    tmodel_linear(m, a->probs, a->ln2, w->router, N, H, E);
    for (int t = 0; t < N; t++) {
        float *r = a->probs + (int64_t)t * E, mx = -INFINITY, z = 0;
        for (int i = 0; i < E; i++) mx = r[i] > mx ? r[i] : mx;
        for (int i = 0; i < E; i++) { r[i] = expf(r[i] - mx); z += r[i]; }
        for (int i = 0; i < E; i++) r[i] /= z;
    }
    /* top-k (largest first; equal values: the lower index: k_topk, the engine's own choice, so a
     * trained model routes as it will run) and the routing weights */
    int32_t cnt[E];
    memset(cnt, 0, sizeof cnt);
    for (int t = 0; t < N; t++) {
        const float *r = a->probs + (int64_t)t * E;
        int32_t *ti = a->topi + (int64_t)t * K;
        float *tw = a->topw + (int64_t)t * K, sum = 0;
        int sel[K];
        k_topk(r, E, K, sel);
        for (int j = 0; j < K; j++) {
            ti[j] = sel[j];
            tw[j] = r[sel[j]];
            sum += r[sel[j]];
            cnt[sel[j]]++;
        }
        if (c->norm_topk_prob)
            for (int j = 0; j < K; j++) tw[j] /= sum;
    }
    a->eoff[0] = 0;
    for (int i = 0; i < E; i++) a->eoff[i + 1] = a->eoff[i] + cnt[i];
    int32_t fill[E];
    memcpy(fill, a->eoff, sizeof fill);
    for (int t = 0; t < N; t++)
        for (int j = 0; j < K; j++) {
            int x = a->topi[(int64_t)t * K + j], at = fill[x]++;
            a->asg_tok[at] = t;
            a->asg_slot[at] = j;
        }
    /* experts on their gathered tokens */
    float *Xg = m->s.dbig;
    for (int j = 0; j < N * K; j++) memcpy(Xg + (int64_t)j * H, a->ln2 + (int64_t)a->asg_tok[j] * H, sizeof(float) * (size_t)H);
    for (int x = 0; x < E; x++) {
        int off = a->eoff[x], n = cnt[x];
        if (!n) continue;
        tmodel_linear(m, a->eg + (int64_t)off * Im, Xg + (int64_t)off * H, w->egate + (int64_t)x * Im * H, n, H, Im);
        tmodel_linear(m, a->eu + (int64_t)off * Im, Xg + (int64_t)off * H, w->eup + (int64_t)x * Im * H, n, H, Im);
        t_swiglu_forward(a->eh + (int64_t)off * Im, a->eg + (int64_t)off * Im, a->eu + (int64_t)off * Im, (int64_t)n * Im);
        tmodel_linear(m, a->eout + (int64_t)off * H, a->eh + (int64_t)off * Im, w->edown + (int64_t)x * H * Im, n, Im, H);
    }
    memcpy(xout, a->xmid, sizeof(float) * (size_t)N * H);
    for (int j = 0; j < N * K; j++) {
        int t = a->asg_tok[j];
        float wt = a->topw[(int64_t)t * K + a->asg_slot[j]];
        float *y = xout + (int64_t)t * H;
        const float *o = a->eout + (int64_t)j * H;
        for (int i = 0; i < H; i++) y[i] += wt * o[i];
    }
    /* load and the balance loss */
    int mx = 0;
    for (int i = 0; i < E; i++) mx = cnt[i] > mx ? cnt[i] : mx;
    m->load_maxmean[l] = (float)mx / ((float)N * K / E);
    float *f = m->lbl_f + (int64_t)l * E;
    double *buf = m->lbl_count + (int64_t)l * E;
    int global = m->lbl == TLBL_GLOBAL && !m->eval;
    for (int i = 0; i < E; i++) {
        if (global) buf[i] += cnt[i];
        f[i] = global ? (float)(buf[i] / ((double)K * (m->lbl_tokens + N))) : (float)cnt[i] / ((float)K * N);
    }
    double lbl = 0;
    for (int i = 0; i < E; i++) {
        double P = 0;
        for (int t = 0; t < N; t++) P += a->probs[(int64_t)t * E + i];
        lbl += f[i] * (P / N);
    }
    return lbl * E;
}

void moe_backward(tmodel *m, int l, const float *dy, float *dln, float scale) {
    const qwen3_config *c = &m->c;
    tlayer_acts *a = &m->a.l[l];
    const tlayer *w = &m->w.layers[l];
    tlayer *gw = &m->g.layers[l];
    int N = m->B * m->T, H = c->hidden_size, E = c->num_experts, K = c->num_experts_per_tok, Im = c->moe_intermediate_size;
    qpool *p = m->pool;
    float *dw = m->s.dsmall, *dp = m->s.dsmall + (int64_t)N * K;
    float *Xg = m->s.dbig, *dO = m->s.dbig2;
    /* y[t] += w_tj * out_j: d w_tj = dy[t] . out_j, d out_j = w_tj * dy[t] */
    for (int j = 0; j < N * K; j++) {
        int t = a->asg_tok[j], slot = a->asg_slot[j];
        const float *g = dy + (int64_t)t * H, *o = a->eout + (int64_t)j * H;
        float wt = a->topw[(int64_t)t * K + slot], d = 0;
        float *dOj = dO + (int64_t)j * H;
        for (int i = 0; i < H; i++) { d += g[i] * o[i]; dOj[i] = wt * g[i]; }
        dw[(int64_t)t * K + slot] = d;
        memcpy(Xg + (int64_t)j * H, a->ln2 + (int64_t)t * H, sizeof(float) * (size_t)H);
    }
    float *dEh = m->s.dmid, *dEg = m->s.dmid2, *dEu = m->s.dmid3;
    for (int x = 0; x < E; x++) {
        int off = a->eoff[x], n = a->eoff[x + 1] - off;
        if (!n) continue;
        const float *ed = w->edown + (int64_t)x * H * Im, *eg = w->egate + (int64_t)x * Im * H, *eu = w->eup + (int64_t)x * Im * H;
        float *dOx = dO + (int64_t)off * H, *Xx = Xg + (int64_t)off * H;
        memset(dEh, 0, sizeof(float) * (size_t)n * Im);
        t_matmul_backward_input(p, &m->cpu, dEh, dOx, ed, n, Im, H);
        t_matmul_backward_weight(p, &m->cpu, gw->edown + (int64_t)x * H * Im, dOx, a->eh + (int64_t)off * Im, n, Im, H);
        t_swiglu_backward(dEg, dEu, dEh, a->eg + (int64_t)off * Im, a->eu + (int64_t)off * Im, (int64_t)n * Im);
        t_matmul_backward_weight(p, &m->cpu, gw->egate + (int64_t)x * Im * H, dEg, Xx, n, H, Im);
        t_matmul_backward_weight(p, &m->cpu, gw->eup + (int64_t)x * Im * H, dEu, Xx, n, H, Im);
        memset(dOx, 0, sizeof(float) * (size_t)n * H); /* reused for d(gathered input) */
        t_matmul_backward_input(p, &m->cpu, dOx, dEg, eg, n, H, Im);
        t_matmul_backward_input(p, &m->cpu, dOx, dEu, eu, n, H, Im);
    }
    for (int j = 0; j < N * K; j++) {
        float *d = dln + (int64_t)a->asg_tok[j] * H;
        const float *g = dO + (int64_t)j * H;
        for (int i = 0; i < H; i++) d[i] += g[i];
    }
    /* routing weights -> probabilities (w = p / S when renormalised: dp_j = (dw_j - sum dw w) / S) */
    memset(dp, 0, sizeof(float) * (size_t)N * E);
    for (int t = 0; t < N; t++) {
        const int32_t *ti = a->topi + (int64_t)t * K;
        const float *tw = a->topw + (int64_t)t * K, *pr = a->probs + (int64_t)t * E, *dwt = dw + (int64_t)t * K;
        float *dpt = dp + (int64_t)t * E;
        if (c->norm_topk_prob) {
            float S = 0, dot = 0;
            for (int j = 0; j < K; j++) { S += pr[ti[j]]; dot += dwt[j] * tw[j]; }
            for (int j = 0; j < K; j++) dpt[ti[j]] += (dwt[j] - dot) / S;
        } else {
            for (int j = 0; j < K; j++) dpt[ti[j]] += dwt[j];
        }
    }
    /* the balance loss through P: d/dp_ti of scale * alpha / nL * E * sum_i f_i * mean_t p_ti */
    if (m->lbl != TLBL_NONE && m->lbl_alpha != 0) {
        const float *f = m->lbl_f + (int64_t)l * E;
        float cst = scale * m->lbl_alpha * (float)E / ((float)m->n_moe_layers * (float)N);
        for (int t = 0; t < N; t++)
            for (int i = 0; i < E; i++) dp[(int64_t)t * E + i] += cst * f[i];
    }
    /* softmax backward, in place: dlogit = p * (dp - sum(dp * p)) */
    for (int t = 0; t < N; t++) {
        const float *pr = a->probs + (int64_t)t * E;
        float *d = dp + (int64_t)t * E, dot = 0;
        for (int i = 0; i < E; i++) dot += d[i] * pr[i];
        for (int i = 0; i < E; i++) d[i] = pr[i] * (d[i] - dot);
    }
    t_matmul_backward_weight(p, &m->cpu, gw->router, dp, a->ln2, N, H, E);
    t_matmul_backward_input(p, &m->cpu, dln, dp, w->router, N, H, E);
}
