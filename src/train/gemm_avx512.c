/* gemm_avx512.c - AVX-512 input-gradient and weight-gradient products (see gemm.c for the shapes).
 *
 * Input grad: a register tile of 4 tokens x 64 columns (16 accumulators); per weight row o it loads
 * 4 vectors of W[o] and broadcasts 4 values dY[t][o], 16 FMAs. The W panel (out x 64 floats) is
 * re-read for every 4 tokens from L2.
 * Weight grad: a tile of 4 rows of dW x 64 columns; per token it loads 4 vectors of X[t] and
 * broadcasts dY[t][o..o+3], 16 FMAs; tokens are taken in chunks of TCHUNK so the X panel stays in
 * L2, and the tile is added to dW after each chunk. Column tails use masks. */
#include "train/gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512vl,fma")))
#define TCHUNK 512

static inline __mmask16 tail_mask(int left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1); }

TGT void tg_bwd_input_avx512(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    for (int c = i0; c < i1; c += 64) {
        int nv = (i1 - c + 15) / 16;
        if (nv > 4) nv = 4;
        __mmask16 m[4];
        for (int v = 0; v < 4; v++) m[v] = v < nv ? tail_mask(i1 - c - 16 * v) : 0;
        for (int t = 0; t < n; t += 4) {
            int tb = n - t < 4 ? n - t : 4;
            __m512 acc[4][4];
            for (int j = 0; j < 4; j++)
                for (int v = 0; v < 4; v++)
                    acc[j][v] = j < tb ? _mm512_maskz_loadu_ps(m[v], dX + (int64_t)(t + j) * in + c + 16 * v) : _mm512_setzero_ps();
            const float *dy = dY + (int64_t)t * out;
            if (tb == 4 && nv == 4) {
                for (int o = 0; o < out; o++) {
                    const float *w = W + (int64_t)o * in + c;
                    __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), w2 = _mm512_loadu_ps(w + 32), w3 = _mm512_loadu_ps(w + 48);
                    for (int j = 0; j < 4; j++) {
                        __m512 g = _mm512_set1_ps(dy[(int64_t)j * out + o]);
                        acc[j][0] = _mm512_fmadd_ps(g, w0, acc[j][0]);
                        acc[j][1] = _mm512_fmadd_ps(g, w1, acc[j][1]);
                        acc[j][2] = _mm512_fmadd_ps(g, w2, acc[j][2]);
                        acc[j][3] = _mm512_fmadd_ps(g, w3, acc[j][3]);
                    }
                }
            } else {
                for (int o = 0; o < out; o++) {
                    const float *w = W + (int64_t)o * in + c;
                    __m512 wv[4];
                    for (int v = 0; v < 4; v++) wv[v] = _mm512_maskz_loadu_ps(m[v], w + 16 * v);
                    for (int j = 0; j < tb; j++) {
                        __m512 g = _mm512_set1_ps(dy[(int64_t)j * out + o]);
                        for (int v = 0; v < 4; v++) acc[j][v] = _mm512_fmadd_ps(g, wv[v], acc[j][v]);
                    }
                }
            }
            for (int j = 0; j < tb; j++)
                for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(dX + (int64_t)(t + j) * in + c + 16 * v, m[v], acc[j][v]);
        }
    }
}

TGT void tg_bwd_weight_avx512(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    for (int t0 = 0; t0 < n; t0 += TCHUNK) {
        int t1 = n - t0 < TCHUNK ? n : t0 + TCHUNK;
        for (int o = o0; o < o1; o += 4) {
            int rb = o1 - o < 4 ? o1 - o : 4;
            for (int c = 0; c < in; c += 64) {
                int nv = (in - c + 15) / 16;
                if (nv > 4) nv = 4;
                __mmask16 m[4];
                for (int v = 0; v < 4; v++) m[v] = v < nv ? tail_mask(in - c - 16 * v) : 0;
                __m512 acc[4][4];
                for (int r = 0; r < 4; r++)
                    for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
                if (rb == 4 && nv == 4) {
                    for (int t = t0; t < t1; t++) {
                        const float *x = X + (int64_t)t * in + c, *dy = dY + (int64_t)t * out + o;
                        __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16), x2 = _mm512_loadu_ps(x + 32), x3 = _mm512_loadu_ps(x + 48);
                        for (int r = 0; r < 4; r++) {
                            __m512 g = _mm512_set1_ps(dy[r]);
                            acc[r][0] = _mm512_fmadd_ps(g, x0, acc[r][0]);
                            acc[r][1] = _mm512_fmadd_ps(g, x1, acc[r][1]);
                            acc[r][2] = _mm512_fmadd_ps(g, x2, acc[r][2]);
                            acc[r][3] = _mm512_fmadd_ps(g, x3, acc[r][3]);
                        }
                    }
                } else {
                    for (int t = t0; t < t1; t++) {
                        const float *x = X + (int64_t)t * in + c, *dy = dY + (int64_t)t * out + o;
                        __m512 xv[4];
                        for (int v = 0; v < 4; v++) xv[v] = _mm512_maskz_loadu_ps(m[v], x + 16 * v);
                        for (int r = 0; r < rb; r++) {
                            __m512 g = _mm512_set1_ps(dy[r]);
                            for (int v = 0; v < 4; v++) acc[r][v] = _mm512_fmadd_ps(g, xv[v], acc[r][v]);
                        }
                    }
                }
                for (int r = 0; r < rb; r++)
                    for (int v = 0; v < nv; v++) {
                        float *d = dW + (int64_t)(o + r) * in + c + 16 * v;
                        _mm512_mask_storeu_ps(d, m[v], _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], d), acc[r][v]));
                    }
            }
        }
    }
}

#else
void tg_bwd_input_avx512(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    tg_bwd_input_scalar(dX, dY, W, n, in, out, i0, i1);
}
void tg_bwd_weight_avx512(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    tg_bwd_weight_scalar(dW, dY, X, n, in, out, o0, o1);
}
#endif
