/* test_train_attn.c - the training attention's AVX-512 kernels (train/attn_avx512.c) against their
 * scalar twin (layers.c) and a double-precision reference written here from the definition:
 * forward output and log-sum-exp, backward dq, dk, dv (accumulated into non-zero gradients), for
 * head dimensions 64 and 128, GQA groups of 1, 2 and 4, sequence lengths with and without a tail of
 * 16 and 64 keys, on 1 and 2 threads. Tolerance: 2e-5 of the largest magnitude of each output
 * (float sums of up to 128 x T terms in another order). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "train/train.h"
#include "test.h"

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (float)((rs >> 11) * (1.0 / 9007199254740992.0) * 2 - 1);
}
static float *rnd(size_t n, float amp) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) p[i] = amp * frand();
    return p;
}
static float *dup(const float *x, size_t n) {
    float *p = malloc(sizeof(float) * n);
    memcpy(p, x, sizeof(float) * n);
    return p;
}

/* forward and backward in double, straight from the definition (full P matrix per row) */
static void reference(int B, int T, int nh, int nkv, int D, const float *q, const float *k, const float *v, const float *dout,
                      double *out, double *lse, double *dq, double *dk, double *dv) {
    int grp = nh / nkv;
    double scale = 1.0 / sqrt((double)D), *p = malloc(sizeof(double) * T), *dp = malloc(sizeof(double) * T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++) {
            int g = h / grp;
            for (int t = 0; t < T; t++) {
                const float *qt = q + ((size_t)(b * T + t) * nh + h) * D, *dot = dout + ((size_t)(b * T + t) * nh + h) * D;
                double mx = -INFINITY, z = 0;
                for (int j = 0; j <= t; j++) {
                    const float *kj = k + ((size_t)(b * T + j) * nkv + g) * D;
                    double s = 0;
                    for (int d = 0; d < D; d++) s += (double)qt[d] * kj[d];
                    p[j] = s * scale;
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = 0; j <= t; j++) z += exp(p[j] - mx);
                double *ot = out + ((size_t)(b * T + t) * nh + h) * D, Dt = 0;
                for (int d = 0; d < D; d++) ot[d] = 0;
                for (int j = 0; j <= t; j++) {
                    p[j] = exp(p[j] - mx) / z;
                    const float *vj = v + ((size_t)(b * T + j) * nkv + g) * D;
                    for (int d = 0; d < D; d++) ot[d] += p[j] * vj[d];
                }
                lse[((size_t)b * nh + h) * T + t] = mx + log(z);
                for (int d = 0; d < D; d++) Dt += dot[d] * ot[d];
                for (int j = 0; j <= t; j++) {
                    const float *vj = v + ((size_t)(b * T + j) * nkv + g) * D, *kj = k + ((size_t)(b * T + j) * nkv + g) * D;
                    double s = 0;
                    for (int d = 0; d < D; d++) s += (double)dot[d] * vj[d];
                    dp[j] = p[j] * (s - Dt) * scale;
                    double *dqt = dq + ((size_t)(b * T + t) * nh + h) * D, *dkj = dk + ((size_t)(b * T + j) * nkv + g) * D,
                           *dvj = dv + ((size_t)(b * T + j) * nkv + g) * D;
                    for (int d = 0; d < D; d++) {
                        dqt[d] += dp[j] * kj[d];
                        dkj[d] += dp[j] * qt[d];
                        dvj[d] += p[j] * dot[d];
                    }
                }
            }
        }
    free(p);
    free(dp);
}

static int close_to(const char *what, const float *got, const double *ref, size_t n) {
    double big = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) big = fmax(big, fabs(ref[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - ref[i]);
        if (!(e <= worst)) worst = e, at = i; /* NaN counts */
    }
    if (!(worst <= 2e-5 * big)) {
        printf("FAIL %s: max error %.3g at %zu (got %.9g, want %.9g; tolerance %.3g)\n", what, worst, at, got[at], ref[at], 2e-5 * big);
        return 1;
    }
    return 0;
}

static int run(k_isa isa, int threads, int B, int T, int nh, int nkv, int D) {
    size_t nq = (size_t)B * T * nh * D, nk = (size_t)B * T * nkv * D, nl = (size_t)B * nh * T;
    float *q = rnd(nq, 2.0f), *k = rnd(nk, 2.0f), *v = rnd(nk, 1.0f), *dout = rnd(nq, 1.0f);
    float *dq0 = rnd(nq, 0.5f), *dk0 = rnd(nk, 0.5f), *dv0 = rnd(nk, 0.5f); /* gradients accumulate */
    double *rout = calloc(nq, sizeof(double)), *rlse = calloc(nl, sizeof(double)), *rdq = calloc(nq, sizeof(double)),
           *rdk = calloc(nk, sizeof(double)), *rdv = calloc(nk, sizeof(double));
    for (size_t i = 0; i < nq; i++) rdq[i] = dq0[i];
    for (size_t i = 0; i < nk; i++) rdk[i] = dk0[i], rdv[i] = dv0[i];
    reference(B, T, nh, nkv, D, q, k, v, dout, rout, rlse, rdq, rdk, rdv);

    float *out = calloc(nq, sizeof(float)), *lse = calloc(nl, sizeof(float));
    float *dq = dup(dq0, nq), *dk = dup(dk0, nk), *dv = dup(dv0, nk);
    qpool *p = qpool_new(threads);
    t_attention_forward(p, isa, out, lse, q, k, v, B, T, nh, nkv, D);
    t_attention_backward(p, isa, dq, dk, dv, dout, out, lse, q, k, v, B, T, nh, nkv, D);
    qpool_free(p);

    char what[160];
    int bad = 0;
    const char *iname = k_isa_name(isa);
#define CHK(name, got, ref, n) \
    snprintf(what, sizeof what, "train-attn-%s-%s-t%d-B%dT%dh%d/%dD%d", name, iname, threads, B, T, nh, nkv, D), \
        bad += close_to(what, got, ref, n)
    CHK("out", out, rout, nq);
    CHK("lse", lse, rlse, nl);
    CHK("dq", dq, rdq, nq);
    CHK("dk", dk, rdk, nk);
    CHK("dv", dv, rdv, nk);
#undef CHK
    free(q); free(k); free(v); free(dout); free(dq0); free(dk0); free(dv0);
    free(rout); free(rlse); free(rdq); free(rdk); free(rdv);
    free(out); free(lse); free(dq); free(dk); free(dv);
    return bad;
}

int main(void) {
    printf("EXPECT 2\n"); /* scalar twin, AVX-512 (tests/run.sh) */
    static const int shapes[][5] = {{2, 37, 4, 2, 64}, {1, 70, 4, 1, 64}, {2, 16, 2, 2, 128}, {1, 129, 8, 2, 128}, {3, 1, 2, 1, 64}};
    const int nshape = (int)(sizeof shapes / sizeof shapes[0]);
    int fails = 0;
    for (int i = 0; i < nshape; i++) fails += run(K_ISA_SCALAR, 1 + i % 2, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], shapes[i][4]);
    if (!fails) printf("PASS train-attn-scalar (forward out/lse, backward dq/dk/dv vs double, %d shapes)\n", nshape);
    if (!(k_cpu_features() & K_CPU_AVX512)) {
        printf("SKIP train-attn-avx512: the CPU lacks AVX-512\n");
    } else {
        int f = 0;
        for (int i = 0; i < nshape; i++)
            for (int th = 1; th <= 2; th++) f += run(K_ISA_AVX512, th, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], shapes[i][4]);
        if (!f) printf("PASS train-attn-avx512 (the same, D 64 and 128, 1 and 2 threads)\n");
        fails += f;
    }
    return fails ? 1 : 0;
}
