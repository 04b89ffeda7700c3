/* layers.c - forward and backward of each layer step, side by side (llm.c's layout).
 *
 * Each forward mirrors a line of transformers' modeling_qwen3.py / modeling_qwen3_moe.py (named in
 * the comment); each backward accumulates (+=) into the gradients it is given, except where it says
 * it overwrites. Everything is float32 with float32 statistics; a few sums that decide the loss run
 * in double (the loss value only, never a gradient's shape). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "train/attn.h"
#include "train/train.h"
#include "train/vec.h"

/* ---- RMSNorm [Qwen3RMSNorm: x * rsqrt(mean(x^2) + eps) * weight] --------------------------------- */

void t_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int n, int dim, float eps) {
    for (int t = 0; t < n; t++) {
        const float *xt = x + (int64_t)t * dim;
        float *ot = out + (int64_t)t * dim;
        float ss = 0;
        for (int i = 0; i < dim; i++) ss += xt[i] * xt[i];
        float r = 1.0f / sqrtf(ss / (float)dim + eps);
        rstd[t] = r;
        for (int i = 0; i < dim; i++) ot[i] = xt[i] * r * w[i];
    }
}

/* y = w * x * r, r = (mean(x^2)+eps)^-1/2: dx = r * (dy*w) - x * r^3 / dim * sum(dy*w*x). */
void t_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                        const float *rstd, int n, int dim) {
    for (int t = 0; t < n; t++) {
        const float *xt = x + (int64_t)t * dim, *dt = dout + (int64_t)t * dim;
        float *dxt = dx + (int64_t)t * dim;
        float r = rstd[t], dot = 0;
        for (int i = 0; i < dim; i++) {
            dot += dt[i] * w[i] * xt[i];
            dw[i] += dt[i] * xt[i] * r;
        }
        float c = dot * r * r * r / (float)dim;
        for (int i = 0; i < dim; i++) dxt[i] += dt[i] * w[i] * r - xt[i] * c;
    }
}

/* ---- RoPE [apply_rotary_pos_emb: x*cos + rotate_half(x)*sin, rotate_half = (-x2, x1)] -------------
 * Token t of a micro-batch is at position t % T (every sequence starts at 0). cos/sin: [T][D/2]. */

void t_rope_forward(float *x, int n_tok, int T, int heads, int D, const float *cos, const float *sin) {
    int h2 = D / 2;
    for (int t = 0; t < n_tok; t++) {
        const float *c = cos + (int64_t)(t % T) * h2, *s = sin + (int64_t)(t % T) * h2;
        for (int h = 0; h < heads; h++) {
            float *v = x + ((int64_t)t * heads + h) * D;
            for (int i = 0; i < h2; i++) {
                float a = v[i], b = v[i + h2];
                v[i] = a * c[i] - b * s[i];
                v[i + h2] = b * c[i] + a * s[i];
            }
        }
    }
}

/* The rotation's transpose, in place on the gradient. */
void t_rope_backward(float *dx, int n_tok, int T, int heads, int D, const float *cos, const float *sin) {
    int h2 = D / 2;
    for (int t = 0; t < n_tok; t++) {
        const float *c = cos + (int64_t)(t % T) * h2, *s = sin + (int64_t)(t % T) * h2;
        for (int h = 0; h < heads; h++) {
            float *v = dx + ((int64_t)t * heads + h) * D;
            for (int i = 0; i < h2; i++) {
                float a = v[i], b = v[i + h2];
                v[i] = a * c[i] + b * s[i];
                v[i + h2] = b * c[i] - a * s[i];
            }
        }
    }
}

/* ---- causal GQA attention [eager_attention_forward with repeat_kv] --------------------------------
 * q [B*T, nh*D], k/v [B*T, nkv*D]; query head h reads kv head h / (nh/nkv). The forward keeps only
 * the log-sum-exp of each query's scores; the backward recomputes the probabilities from it (as
 * flash attention does), so memory is O(N) instead of O(B*nh*T^2). */

typedef struct {
    t_attn_args x;
    const tvec_ops *ops;
    int simd; /* attn_avx512.c takes the rows (the isa passed in and D allow it) */
} attn_ctx;

static void attn_fwd_job(void *vctx, int ith, int nth) {
    attn_ctx *c = vctx;
    const t_attn_args *a = &c->x;
    int T = a->T, nh = a->nh, nkv = a->nkv, D = a->D, grp = nh / nkv;
    float scale = 1.0f / sqrtf((float)D);
    long b0, b1;
    qpool_split((long)a->B * nh, ith, nth, 1, &b0, &b1);
    if (c->simd && t_attn_forward_avx512(a, b0, b1) == 0) return;
    float *s = malloc(sizeof(float) * (size_t)T);
    if (!s) abort(); /* a few KB; the caller sized everything else already */
    for (long bh = b0; bh < b1; bh++) {
        int b = (int)(bh / nh), h = (int)(bh % nh), g = h / grp;
        for (int t = 0; t < T; t++) {
            const float *qt = a->q + ((int64_t)(b * T + t) * nh + h) * D;
            float mx = -INFINITY;
            for (int j = 0; j <= t; j++) {
                s[j] = c->ops->dot(qt, a->k + ((int64_t)(b * T + j) * nkv + g) * D, D) * scale;
                if (s[j] > mx) mx = s[j];
            }
            float sum = 0;
            for (int j = 0; j <= t; j++) { s[j] = expf(s[j] - mx); sum += s[j]; }
            float inv = 1.0f / sum;
            float *ot = a->out + ((int64_t)(b * T + t) * nh + h) * D;
            memset(ot, 0, sizeof(float) * (size_t)D);
            for (int j = 0; j <= t; j++) c->ops->axpy(ot, s[j] * inv, a->v + ((int64_t)(b * T + j) * nkv + g) * D, D);
            a->lse[((int64_t)b * nh + h) * T + t] = mx + logf(sum);
        }
    }
    free(s);
}

void t_attention_forward(qpool *p, k_isa isa, float *out, float *lse, const float *q, const float *k, const float *v,
                         int B, int T, int nh, int nkv, int D) {
    attn_ctx a = {.x = {.out = out, .lse = lse, .q = q, .k = k, .v = v, .B = B, .T = T, .nh = nh, .nkv = nkv, .D = D},
                  .ops = tv_pick(isa), .simd = isa == K_ISA_AVX512 && t_attn_avx512_ok(D)};
    qpool_run(p, attn_fwd_job, &a);
}

/* Per (sequence, kv head): the query heads of the group write only their dq rows and the group's
 * dk/dv rows, so threads never share an output. P = exp(s - lse); dP = dO.V;
 * dS = P * (dP - sum(dO*O)); dq += scale dS K; dk += scale dS^T q; dv += P^T dO. */
static void attn_bwd_job(void *vctx, int ith, int nth) {
    attn_ctx *c = vctx;
    const t_attn_args *a = &c->x;
    int T = a->T, nh = a->nh, nkv = a->nkv, D = a->D, grp = nh / nkv;
    float scale = 1.0f / sqrtf((float)D);
    long b0, b1;
    qpool_split((long)a->B * nkv, ith, nth, 1, &b0, &b1);
    if (c->simd && t_attn_backward_avx512(a, b0, b1) == 0) return;
    for (long bg = b0; bg < b1; bg++) {
        int b = (int)(bg / nkv), g = (int)(bg % nkv);
        for (int h = g * grp; h < (g + 1) * grp; h++) {
            for (int t = 0; t < T; t++) {
                int64_t qi = ((int64_t)(b * T + t) * nh + h) * D;
                const float *qt = a->q + qi, *dot = a->dout + qi, *ot = a->o + qi;
                float *dqt = a->dq + qi;
                float lse = a->lse[((int64_t)b * nh + h) * T + t];
                const tvec_ops *op = c->ops;
                float Dt = op->dot(dot, ot, D);
                for (int j = 0; j <= t; j++) {
                    int64_t ki = ((int64_t)(b * T + j) * nkv + g) * D;
                    const float *kj = a->k + ki, *vj = a->v + ki;
                    float pr = expf(op->dot(qt, kj, D) * scale - lse);
                    float ds = pr * (op->dot(dot, vj, D) - Dt) * scale;
                    op->axpy(dqt, ds, kj, D);
                    op->axpy(a->dk + ki, ds, qt, D);
                    op->axpy(a->dv + ki, pr, dot, D);
                }
            }
        }
    }
}

void t_attention_backward(qpool *p, k_isa isa, float *dq, float *dk, float *dv, const float *dout, const float *out,
                          const float *lse, const float *q, const float *k, const float *v,
                          int B, int T, int nh, int nkv, int D) {
    attn_ctx a = {.x = {.dq = dq, .dk = dk, .dv = dv, .dout = dout, .o = out, .lse = (float *)lse, .q = q, .k = k, .v = v,
                        .B = B, .T = T, .nh = nh, .nkv = nkv, .D = D},
                  .ops = tv_pick(isa), .simd = isa == K_ISA_AVX512 && t_attn_avx512_ok(D)};
    qpool_run(p, attn_bwd_job, &a);
}

/* ---- SwiGLU [Qwen3MLP: down(act_fn(gate(x)) * up(x)), act_fn = silu] ------------------------------ */

void t_swiglu_forward(float *h, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* silu'(g) = sig(g) * (1 + g * (1 - sig(g))). Overwrites dg and du. */
void t_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float sg = 1.0f / (1.0f + expf(-g[i]));
        du[i] = dh[i] * g[i] * sg;
        dg[i] = dh[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
    }
}

/* ---- cross-entropy [CrossEntropyLoss(reduction="mean", ignore_index=-100)] ------------------------ */

double t_crossentropy_forward(const float *logits, const int32_t *targets, const float *w, int n, int V, int shared,
                              double n_shared, int *n_valid) {
    double sum = 0, lns = shared >= 0 ? log(n_shared) : 0;
    int cnt = 0;
    for (int t = 0; t < n; t++) {
        if (targets[t] < 0) continue;
        const float *l = logits + (int64_t)t * V;
        double mx = -INFINITY;
        for (int i = 0; i < V; i++) {
            double v = i == shared ? l[i] + lns : l[i];
            mx = v > mx ? v : mx;
        }
        double z = 0;
        for (int i = 0; i < V; i++) z += exp((i == shared ? l[i] + lns : l[i]) - mx);
        sum += (w ? w[t] : 1.0) * (log(z) + mx - l[targets[t]]);
        cnt++;
    }
    *n_valid = cnt;
    return cnt ? sum / cnt : 0.0;
}

void t_crossentropy_backward(float *logits, const int32_t *targets, const float *w, int n, int V, int shared,
                             double n_shared, int n_valid, float scale) {
    float lns = shared >= 0 ? (float)log(n_shared) : 0.0f, ns = (float)n_shared;
    for (int t = 0; t < n; t++) {
        float *l = logits + (int64_t)t * V;
        if (targets[t] < 0 || n_valid == 0) { memset(l, 0, sizeof(float) * (size_t)V); continue; }
        float mx = -INFINITY;
        for (int i = 0; i < V; i++) {
            float v = i == shared ? l[i] + lns : l[i]; /* the max only steadies exp(); any bound works */
            mx = v > mx ? v : mx;
        }
        /* each class's exp(l - mx) exactly as the dense head computes it; the shared column counts
         * n_shared times in z but keeps ONE class's value (its row's gradient is one row's) */
        double z = 0; /* in double: a sum over the whole vocabulary */
        for (int i = 0; i < V; i++) { l[i] = expf(l[i] - mx); z += i == shared ? (double)l[i] * ns : l[i]; }
        float c = scale * (w ? w[t] : 1.0f) / (float)n_valid, iz = (float)(1.0 / z);
        for (int i = 0; i < V; i++) l[i] = l[i] * iz * c;
        l[targets[t]] -= c;
    }
}
