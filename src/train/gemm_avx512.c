/* gemm_avx512.c - AVX-512 input-gradient and weight-gradient products (see gemm.c for the shapes),
 * with packed panels so that the inner loops read memory sequentially.
 *
 * Input grad dX[t][i] += sum_o dY[t][o] W[o][i]: for a tile of 64 columns of i and a chunk of OC
 * rows of W, the W panel (OC x 64) is copied once into a contiguous buffer (L2-resident, zero-padded
 * at a column tail); then for every 4 tokens their dY values are interleaved ([o][4]) and a
 * register tile of 4 tokens x 64 columns (16 accumulators) runs over o: per o, 4 vector loads of the
 * panel, 4 broadcasts, 16 FMAs.
 * Weight grad dW[o][i] += sum_t dY[t][o] X[t][i]: for a tile of 64 columns and a chunk of TC tokens,
 * the X panel (TC x 64) is packed once; then for every 4 rows of dW their dY values are interleaved
 * ([t][4]) and a tile of 4 rows x 64 columns runs over the tokens, added to dW after the chunk.
 * The forward product Y = X W^T is the input-gradient kernel on the transposed weights (model.c). */
#include <stdlib.h>
#include <string.h>

#include "train/gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512vl,fma")))
#define OC 256 /* W rows per packed panel (64 KB) */
#define TC 256 /* tokens per packed X panel (64 KB) */

static inline __mmask16 tail_mask(int left) {
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

/* 4 tokens (tb valid) x 64 columns (masks m) of dX, over panel rows [0, oc) */
TGT static inline void in_tile(float *dX, int64_t ldx, int tb, const __mmask16 m[4], const float *panel, const float *dyp, int oc) {
    __m512 acc[4][4];
    for (int j = 0; j < 4; j++)
        for (int v = 0; v < 4; v++)
            acc[j][v] = j < tb ? _mm512_maskz_loadu_ps(m[v], dX + j * ldx + 16 * v) : _mm512_setzero_ps();
    for (int o = 0; o < oc; o++) {
        const float *w = panel + (int64_t)o * 64, *g = dyp + (int64_t)o * 4;
        __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16), w2 = _mm512_load_ps(w + 32), w3 = _mm512_load_ps(w + 48);
        for (int j = 0; j < 4; j++) {
            __m512 b = _mm512_set1_ps(g[j]);
            acc[j][0] = _mm512_fmadd_ps(b, w0, acc[j][0]);
            acc[j][1] = _mm512_fmadd_ps(b, w1, acc[j][1]);
            acc[j][2] = _mm512_fmadd_ps(b, w2, acc[j][2]);
            acc[j][3] = _mm512_fmadd_ps(b, w3, acc[j][3]);
        }
    }
    for (int j = 0; j < tb; j++)
        for (int v = 0; v < 4; v++)
            if (m[v]) _mm512_mask_storeu_ps(dX + j * ldx + 16 * v, m[v], acc[j][v]);
}

TGT void tg_bwd_input_avx512(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    float *panel = aligned_alloc(64, sizeof(float) * OC * 64), *dyp = aligned_alloc(64, sizeof(float) * OC * 4);
    if (!panel || !dyp) { free(panel); free(dyp); tg_bwd_input_scalar(dX, dY, W, n, in, out, i0, i1); return; }
    for (int c = i0; c < i1; c += 64) {
        int w = i1 - c < 64 ? i1 - c : 64;
        __mmask16 m[4];
        for (int v = 0; v < 4; v++) m[v] = tail_mask(w - 16 * v);
        for (int o0 = 0; o0 < out; o0 += OC) {
            int oc = out - o0 < OC ? out - o0 : OC;
            for (int o = 0; o < oc; o++) {
                const float *src = W + (int64_t)(o0 + o) * in + c;
                float *dst = panel + (int64_t)o * 64;
                for (int v = 0; v < 4; v++) _mm512_store_ps(dst + 16 * v, _mm512_maskz_loadu_ps(m[v], src + 16 * v));
            }
            for (int t = 0; t < n; t += 4) {
                int tb = n - t < 4 ? n - t : 4;
                for (int o = 0; o < oc; o++)
                    for (int j = 0; j < 4; j++) dyp[o * 4 + j] = j < tb ? dY[(int64_t)(t + j) * out + o0 + o] : 0.0f;
                in_tile(dX + (int64_t)t * in + c, in, tb, m, panel, dyp, oc);
            }
        }
    }
    free(panel);
    free(dyp);
}

TGT void tg_bwd_weight_avx512(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    float *panel = aligned_alloc(64, sizeof(float) * TC * 64), *dyp = aligned_alloc(64, sizeof(float) * TC * 4);
    if (!panel || !dyp) { free(panel); free(dyp); tg_bwd_weight_scalar(dW, dY, X, n, in, out, o0, o1); return; }
    for (int c = 0; c < in; c += 64) {
        int w = in - c < 64 ? in - c : 64;
        __mmask16 m[4];
        for (int v = 0; v < 4; v++) m[v] = tail_mask(w - 16 * v);
        for (int t0 = 0; t0 < n; t0 += TC) {
            int tc = n - t0 < TC ? n - t0 : TC;
            for (int t = 0; t < tc; t++) {
                const float *src = X + (int64_t)(t0 + t) * in + c;
                float *dst = panel + (int64_t)t * 64;
                for (int v = 0; v < 4; v++) _mm512_store_ps(dst + 16 * v, _mm512_maskz_loadu_ps(m[v], src + 16 * v));
            }
            for (int o = o0; o < o1; o += 4) {
                int rb = o1 - o < 4 ? o1 - o : 4;
                for (int t = 0; t < tc; t++)
                    for (int r = 0; r < 4; r++) dyp[t * 4 + r] = r < rb ? dY[(int64_t)(t0 + t) * out + o + r] : 0.0f;
                __m512 acc[4][4];
                for (int r = 0; r < 4; r++)
                    for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
                for (int t = 0; t < tc; t++) {
                    const float *x = panel + (int64_t)t * 64, *g = dyp + (int64_t)t * 4;
                    __m512 x0 = _mm512_load_ps(x), x1 = _mm512_load_ps(x + 16), x2 = _mm512_load_ps(x + 32), x3 = _mm512_load_ps(x + 48);
                    for (int r = 0; r < 4; r++) {
                        __m512 b = _mm512_set1_ps(g[r]);
                        acc[r][0] = _mm512_fmadd_ps(b, x0, acc[r][0]);
                        acc[r][1] = _mm512_fmadd_ps(b, x1, acc[r][1]);
                        acc[r][2] = _mm512_fmadd_ps(b, x2, acc[r][2]);
                        acc[r][3] = _mm512_fmadd_ps(b, x3, acc[r][3]);
                    }
                }
                for (int r = 0; r < rb; r++)
                    for (int v = 0; v < 4; v++)
                        if (m[v]) {
                            float *d = dW + (int64_t)(o + r) * in + c + 16 * v;
                            _mm512_mask_storeu_ps(d, m[v], _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], d), acc[r][v]));
                        }
            }
        }
    }
    free(panel);
    free(dyp);
}

#else
void tg_bwd_input_avx512(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    tg_bwd_input_scalar(dX, dY, W, n, in, out, i0, i1);
}
void tg_bwd_weight_avx512(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    tg_bwd_weight_scalar(dW, dY, X, n, in, out, o0, o1);
}
#endif
