/* attn_avx512.c - causal attention of training, forward and backward, with AVX-512, for head
 * dimensions 64 and 128 (Qwen3's; other sizes take layers.c's scalar twin).
 *
 * The math is the scalar twin's (layers.c): per query row t of head h, s_j = (q_t . k_j) / sqrt(D)
 * for j <= t, P = softmax(s) with the row's log-sum-exp kept for the backward, o_t = sum_j P_j v_j;
 * backward, with P recomputed from the lse: dP_j = dO_t . v_j, dS_j = P_j (dP_j - dO_t . o_t),
 * dq_t += dS_j k_j / sqrt(D), dk_j += dS_j q_t / sqrt(D), dv_j += P_j dO_t.
 *
 * What changes is the shape of the loops. The twin calls a dot product per (t, j) pair: 64 or 128
 * multiply-adds, a horizontal sum and a scalar exp, through a function pointer. Here K (and V for
 * the backward) of the (sequence, kv head) is transposed once into [D][T] panels, so that 16 scores
 * of one query come from D vector FMAs with no horizontal sum; exp runs over 16 lanes; the output
 * (or dq) row of a query stays in registers while the keys stream by. Threads split the work as the
 * twin does (forward by (sequence, head), backward by (sequence, kv head), so no two threads write
 * the same dk/dv row). Sums run in another order than the twin's: the comparison in
 * tests/unit/test_train.c has a tolerance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vexp.h"
#include "train/attn.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512dq,fma")))
#define AI TGT static inline __attribute__((always_inline))

static inline __mmask16 lanes(int left) {
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

/* panel[d][j] = rows[j][d] for j < T; columns up to Tp (a multiple of 64) are zero */
static void transpose_in(float *panel, const float *rows, int64_t stride, int T, int Tp, int D) {
    for (int d = 0; d < D; d++) memset(panel + (int64_t)d * Tp + T, 0, sizeof(float) * (size_t)(Tp - T));
    for (int j = 0; j < T; j++) {
        const float *r = rows + (int64_t)j * stride;
        for (int d = 0; d < D; d++) panel[(int64_t)d * Tp + j] = r[d];
    }
}

/* out[j] = sum_d x[d] * panel[d][j] for j in [j0, j0 + 64) */
AI void scores64(float *out, const float *x, const float *panel, int Tp, int j0, int D) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float *p = panel + j0;
    for (int d = 0; d < D; d++, p += Tp) {
        __m512 b = _mm512_set1_ps(x[d]);
        a0 = _mm512_fmadd_ps(b, _mm512_loadu_ps(p), a0);
        a1 = _mm512_fmadd_ps(b, _mm512_loadu_ps(p + 16), a1);
        a2 = _mm512_fmadd_ps(b, _mm512_loadu_ps(p + 32), a2);
        a3 = _mm512_fmadd_ps(b, _mm512_loadu_ps(p + 48), a3);
    }
    _mm512_storeu_ps(out + j0, a0);
    _mm512_storeu_ps(out + j0 + 16, a1);
    _mm512_storeu_ps(out + j0 + 32, a2);
    _mm512_storeu_ps(out + j0 + 48, a3);
}

/* acc[0..NV) = sum_{j < n} w[j] * rows[j][0..16 NV): the row stays in registers */
AI void wsum(__m512 *acc, const float *w, const float *rows, int64_t stride, int n, const int NV) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) acc[v] = _mm512_setzero_ps();
    for (int j = 0; j < n; j++) {
        __m512 b = _mm512_set1_ps(w[j]);
        const float *r = rows + (int64_t)j * stride;
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) acc[v] = _mm512_fmadd_ps(b, _mm512_loadu_ps(r + 16 * v), acc[v]);
    }
}

AI void fwd_rows(const t_attn_args *a, float *s, float *kt, int Tp, long bh0, long bh1, const int NV) {
    int T = a->T, nh = a->nh, nkv = a->nkv, D = 16 * NV, grp = nh / nkv;
    float scale = 1.0f / sqrtf((float)D);
    int64_t qs = (int64_t)nh * D, ks = (int64_t)nkv * D;
    int lastg = -1, lastb = -1;
    for (long bh = bh0; bh < bh1; bh++) {
        int b = (int)(bh / nh), h = (int)(bh % nh), g = h / grp;
        const float *K = a->k + (int64_t)b * T * ks + (int64_t)g * D, *V = a->v + (int64_t)b * T * ks + (int64_t)g * D;
        if (b != lastb || g != lastg) transpose_in(kt, K, ks, T, Tp, D), lastb = b, lastg = g;
        for (int t = 0; t < T; t++) {
            const float *qt = a->q + (int64_t)(b * T + t) * qs + (int64_t)h * D;
            int n = t + 1;
            for (int j0 = 0; j0 < n; j0 += 64) scores64(s, qt, kt, Tp, j0, D);
            __m512 mx = _mm512_set1_ps(-INFINITY);
            for (int j0 = 0; j0 < n; j0 += 16) {
                __m512 x = _mm512_mul_ps(_mm512_loadu_ps(s + j0), _mm512_set1_ps(scale));
                _mm512_storeu_ps(s + j0, x);
                mx = _mm512_mask_max_ps(mx, lanes(n - j0), mx, x);
            }
            float m = _mm512_reduce_max_ps(mx);
            __m512 sum = _mm512_setzero_ps();
            for (int j0 = 0; j0 < n; j0 += 16) {
                __m512 e = _mm512_maskz_mov_ps(lanes(n - j0), k_exp512(_mm512_sub_ps(_mm512_loadu_ps(s + j0), _mm512_set1_ps(m))));
                _mm512_storeu_ps(s + j0, e);
                sum = _mm512_add_ps(sum, e);
            }
            float z = _mm512_reduce_add_ps(sum);
            __m512 acc[8];
            wsum(acc, s, V, ks, n, NV);
            __m512 inv = _mm512_set1_ps(1.0f / z);
            float *ot = a->out + (int64_t)(b * T + t) * qs + (int64_t)h * D;
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++) _mm512_storeu_ps(ot + 16 * v, _mm512_mul_ps(acc[v], inv));
            a->lse[((int64_t)b * nh + h) * T + t] = m + logf(z);
        }
    }
}

AI void bwd_rows(const t_attn_args *a, float *P, float *dS, float *kt, float *vt, int Tp, long bg0, long bg1, const int NV) {
    int T = a->T, nh = a->nh, nkv = a->nkv, D = 16 * NV, grp = nh / nkv;
    float scale = 1.0f / sqrtf((float)D);
    int64_t qs = (int64_t)nh * D, ks = (int64_t)nkv * D;
    for (long bg = bg0; bg < bg1; bg++) {
        int b = (int)(bg / nkv), g = (int)(bg % nkv);
        int64_t kbase = (int64_t)b * T * ks + (int64_t)g * D;
        const float *K = a->k + kbase, *V = a->v + kbase;
        float *dK = a->dk + kbase, *dV = a->dv + kbase;
        transpose_in(kt, K, ks, T, Tp, D);
        transpose_in(vt, V, ks, T, Tp, D);
        for (int h = g * grp; h < (g + 1) * grp; h++)
            for (int t = 0; t < T; t++) {
                int64_t qi = (int64_t)(b * T + t) * qs + (int64_t)h * D;
                const float *qt = a->q + qi, *dot = a->dout + qi, *ot = a->o + qi;
                float lse = a->lse[((int64_t)b * nh + h) * T + t];
                __m512 dd = _mm512_setzero_ps();
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++) dd = _mm512_fmadd_ps(_mm512_loadu_ps(dot + 16 * v), _mm512_loadu_ps(ot + 16 * v), dd);
                __m512 Dt = _mm512_set1_ps(_mm512_reduce_add_ps(dd));
                int n = t + 1;
                for (int j0 = 0; j0 < n; j0 += 64) {
                    scores64(P, qt, kt, Tp, j0, D);
                    scores64(dS, dot, vt, Tp, j0, D);
                }
                for (int j0 = 0; j0 < n; j0 += 16) {
                    __mmask16 m = lanes(n - j0);
                    __m512 s = _mm512_fmsub_ps(_mm512_loadu_ps(P + j0), _mm512_set1_ps(scale), _mm512_set1_ps(lse));
                    __m512 p = _mm512_maskz_mov_ps(m, k_exp512(_mm512_min_ps(s, _mm512_setzero_ps())));
                    __m512 ds = _mm512_mul_ps(_mm512_mul_ps(p, _mm512_sub_ps(_mm512_loadu_ps(dS + j0), Dt)), _mm512_set1_ps(scale));
                    _mm512_storeu_ps(P + j0, p);
                    _mm512_storeu_ps(dS + j0, ds);
                }
                __m512 acc[8];
                wsum(acc, dS, K, ks, n, NV);
                float *dqt = a->dq + qi;
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++) _mm512_storeu_ps(dqt + 16 * v, _mm512_add_ps(_mm512_loadu_ps(dqt + 16 * v), acc[v]));
                __m512 qv[8], dv[8];
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++) qv[v] = _mm512_loadu_ps(qt + 16 * v), dv[v] = _mm512_loadu_ps(dot + 16 * v);
                for (int j = 0; j < n; j++) {
                    __m512 bs = _mm512_set1_ps(dS[j]), bp = _mm512_set1_ps(P[j]);
                    float *dkj = dK + (int64_t)j * ks, *dvj = dV + (int64_t)j * ks;
#pragma GCC unroll 8
                    for (int v = 0; v < NV; v++) {
                        _mm512_storeu_ps(dkj + 16 * v, _mm512_fmadd_ps(bs, qv[v], _mm512_loadu_ps(dkj + 16 * v)));
                        _mm512_storeu_ps(dvj + 16 * v, _mm512_fmadd_ps(bp, dv[v], _mm512_loadu_ps(dvj + 16 * v)));
                    }
                }
            }
    }
}

TGT static void fwd64(const t_attn_args *a, float *s, float *kt, int Tp, long x0, long x1) { fwd_rows(a, s, kt, Tp, x0, x1, 4); }
TGT static void fwd128(const t_attn_args *a, float *s, float *kt, int Tp, long x0, long x1) { fwd_rows(a, s, kt, Tp, x0, x1, 8); }
TGT static void bwd64(const t_attn_args *a, float *P, float *dS, float *kt, float *vt, int Tp, long x0, long x1) {
    bwd_rows(a, P, dS, kt, vt, Tp, x0, x1, 4);
}
TGT static void bwd128(const t_attn_args *a, float *P, float *dS, float *kt, float *vt, int Tp, long x0, long x1) {
    bwd_rows(a, P, dS, kt, vt, Tp, x0, x1, 8);
}

int t_attn_avx512_ok(int D) { return D == 64 || D == 128; }

/* rows [x0, x1) of (sequence, head): scratch is a score row and a [D][Tp] panel */
int t_attn_forward_avx512(const t_attn_args *a, long x0, long x1) {
    int Tp = (a->T + 63) / 64 * 64;
    float *s = aligned_alloc(64, sizeof(float) * (size_t)Tp), *kt = aligned_alloc(64, sizeof(float) * (size_t)Tp * a->D);
    if (!s || !kt) { free(s); free(kt); return -1; }
    if (a->D == 64) fwd64(a, s, kt, Tp, x0, x1);
    else fwd128(a, s, kt, Tp, x0, x1);
    free(s);
    free(kt);
    return 0;
}

/* rows [x0, x1) of (sequence, kv head) */
int t_attn_backward_avx512(const t_attn_args *a, long x0, long x1) {
    int Tp = (a->T + 63) / 64 * 64;
    size_t panel = sizeof(float) * (size_t)Tp * a->D;
    float *P = aligned_alloc(64, sizeof(float) * (size_t)Tp), *dS = aligned_alloc(64, sizeof(float) * (size_t)Tp);
    float *kt = aligned_alloc(64, panel), *vt = aligned_alloc(64, panel);
    int rc = -1;
    if (P && dS && kt && vt) {
        if (a->D == 64) bwd64(a, P, dS, kt, vt, Tp, x0, x1);
        else bwd128(a, P, dS, kt, vt, Tp, x0, x1);
        rc = 0;
    }
    free(P); free(dS); free(kt); free(vt);
    return rc;
}

#else
int t_attn_avx512_ok(int D) { (void)D; return 0; }
int t_attn_forward_avx512(const t_attn_args *a, long x0, long x1) { (void)a; (void)x0; (void)x1; return -1; }
int t_attn_backward_avx512(const t_attn_args *a, long x0, long x1) { (void)a; (void)x0; (void)x1; return -1; }
#endif
