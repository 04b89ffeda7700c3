/* gemm.c - the three matrix products of training, threaded over the pool.
 *
 *   forward       Y[n][o]  = sum_i X[n][i] W[o][i]   the inference kernel k_matmul (F32 weights:
 *                                                    the AVX-512 / AVX2 / scalar float tiles)
 *   input grad    dX[n][i] += sum_o dY[n][o] W[o][i]  here: register tile of 4 tokens x 4 vectors of
 *                                                    columns of i; W rows stream through it
 *   weight grad   dW[o][i] += sum_n dY[n][o] X[n][i]  here: register tile of 4 rows of W x 4 vectors
 *                                                    of columns; tokens stream through it in chunks
 *                                                    that keep the X panel in L2
 * Each has a scalar twin (train/gemm_scalar in this file) with the same signature, compared in
 * tests/unit/test_train.c. Work is split by output columns (input grad) or output rows (weight
 * grad), so no two threads write the same float and results do not depend on the thread count. */
#include <string.h>

#include "kernels/kernels.h"
#include "train/gemm.h"
#include "train/train.h"

/* ---- scalar twins ---------------------------------------------------------------------------- */

void tg_bwd_input_scalar(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    for (int t = 0; t < n; t++) {
        float *dx = dX + (int64_t)t * in;
        const float *dy = dY + (int64_t)t * out;
        for (int o = 0; o < out; o++) {
            float g = dy[o];
            const float *w = W + (int64_t)o * in;
            for (int i = i0; i < i1; i++) dx[i] += g * w[i];
        }
    }
}

void tg_bwd_weight_scalar(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    for (int o = o0; o < o1; o++) {
        float *dw = dW + (int64_t)o * in;
        for (int t = 0; t < n; t++) {
            float g = dY[(int64_t)t * out + o];
            if (g == 0.0f) continue;
            const float *x = X + (int64_t)t * in;
            for (int i = 0; i < in; i++) dw[i] += g * x[i];
        }
    }
}

/* ---- dispatch and threading ------------------------------------------------------------------ */

typedef struct {
    float *dst;
    const float *a, *b;
    int n, in, out;
    int isa;
} tg_ctx;

static void bwd_input_job(void *v, int ith, int nth) {
    tg_ctx *c = v;
    long i0, i1;
    qpool_split(c->in, ith, nth, 64, &i0, &i1);
    if (i0 >= i1) return;
    if (c->isa == K_ISA_AVX512) tg_bwd_input_avx512(c->dst, c->a, c->b, c->n, c->in, c->out, (int)i0, (int)i1);
    else if (c->isa == K_ISA_AVX2) tg_bwd_input_avx2(c->dst, c->a, c->b, c->n, c->in, c->out, (int)i0, (int)i1);
    else tg_bwd_input_scalar(c->dst, c->a, c->b, c->n, c->in, c->out, (int)i0, (int)i1);
}

static void bwd_weight_job(void *v, int ith, int nth) {
    tg_ctx *c = v;
    long o0, o1;
    qpool_split(c->out, ith, nth, 4, &o0, &o1);
    if (o0 >= o1) return;
    if (c->isa == K_ISA_AVX512) tg_bwd_weight_avx512(c->dst, c->a, c->b, c->n, c->in, c->out, (int)o0, (int)o1);
    else if (c->isa == K_ISA_AVX2) tg_bwd_weight_avx2(c->dst, c->a, c->b, c->n, c->in, c->out, (int)o0, (int)o1);
    else tg_bwd_weight_scalar(c->dst, c->a, c->b, c->n, c->in, c->out, (int)o0, (int)o1);
}

void t_matmul_forward(qpool *p, const kcpu *cpu, float *Y, const float *X, const float *W, int n, int in, int out) {
    if (n <= 0) return;
    kmat m = {.type = QWEN3_F32, .data = W, .rows = out, .cols = in, .row_bytes = sizeof(float) * (size_t)in};
    k_matmul(cpu, p, &m, X, n, Y);
}

void t_matmul_backward_input(qpool *p, const kcpu *cpu, float *dX, const float *dY, const float *W, int n, int in, int out) {
    if (n <= 0) return;
    tg_ctx c = {dX, dY, W, n, in, out, (int)cpu->isa};
    qpool_run(p, bwd_input_job, &c);
}

void t_matmul_backward_weight(qpool *p, const kcpu *cpu, float *dW, const float *dY, const float *X, int n, int in, int out) {
    if (n <= 0) return;
    tg_ctx c = {dW, dY, X, n, in, out, (int)cpu->isa};
    qpool_run(p, bwd_weight_job, &c);
}
