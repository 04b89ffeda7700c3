/* gemm_avx2.c - AVX2 twins of gemm_avx512.c: the same tiles with 8-wide vectors, 4 tokens (or 4 rows)
 * x 16 columns (8 accumulators of the 16 registers). Column tails of fewer than 8 go through a
 * scalar loop with the same per-element order of additions. */
#include "train/gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))
#define TCHUNK 512

TGT void tg_bwd_input_avx2(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    int c = i0;
    for (; c + 16 <= i1; c += 16) {
        for (int t = 0; t < n; t += 4) {
            int tb = n - t < 4 ? n - t : 4;
            /* named accumulators: an indexed acc[4][2] with a bound of tb stays in memory under gcc
             * -O2. A missing token repeats the last row; its result is not stored. */
            const float *dy = dY + (int64_t)t * out;
            const float *g0 = dy, *g1 = dy + (int64_t)(tb > 1 ? 1 : 0) * out, *g2 = dy + (int64_t)(tb > 2 ? 2 : tb - 1) * out,
                        *g3 = dy + (int64_t)(tb > 3 ? 3 : tb - 1) * out;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            for (int o = 0; o < out; o++) {
                const float *w = W + (int64_t)o * in + c;
                __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8), g;
                g = _mm256_set1_ps(g0[o]); a00 = _mm256_fmadd_ps(g, w0, a00); a01 = _mm256_fmadd_ps(g, w1, a01);
                g = _mm256_set1_ps(g1[o]); a10 = _mm256_fmadd_ps(g, w0, a10); a11 = _mm256_fmadd_ps(g, w1, a11);
                g = _mm256_set1_ps(g2[o]); a20 = _mm256_fmadd_ps(g, w0, a20); a21 = _mm256_fmadd_ps(g, w1, a21);
                g = _mm256_set1_ps(g3[o]); a30 = _mm256_fmadd_ps(g, w0, a30); a31 = _mm256_fmadd_ps(g, w1, a31);
            }
            __m256 acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
            for (int j = 0; j < tb; j++)
                for (int v = 0; v < 2; v++) {
                    float *d = dX + (int64_t)(t + j) * in + c + 8 * v;
                    _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), acc[j][v]));
                }
        }
    }
    if (c < i1) tg_bwd_input_scalar(dX, dY, W, n, in, out, c, i1);
}

TGT void tg_bwd_weight_avx2(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    int cend = in / 16 * 16;
    for (int t0 = 0; t0 < n; t0 += TCHUNK) {
        int t1 = n - t0 < TCHUNK ? n : t0 + TCHUNK;
        for (int o = o0; o < o1; o += 4) {
            int rb = o1 - o < 4 ? o1 - o : 4;
            for (int c = 0; c < cend; c += 16) {
                /* named accumulators, as above; a missing row r repeats the last column */
                int r1 = rb > 1 ? 1 : 0, r2 = rb > 2 ? 2 : rb - 1, r3 = rb > 3 ? 3 : rb - 1;
                __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
                for (int t = t0; t < t1; t++) {
                    const float *x = X + (int64_t)t * in + c, *dy = dY + (int64_t)t * out + o;
                    __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8), g;
                    g = _mm256_set1_ps(dy[0]); a00 = _mm256_fmadd_ps(g, x0, a00); a01 = _mm256_fmadd_ps(g, x1, a01);
                    g = _mm256_set1_ps(dy[r1]); a10 = _mm256_fmadd_ps(g, x0, a10); a11 = _mm256_fmadd_ps(g, x1, a11);
                    g = _mm256_set1_ps(dy[r2]); a20 = _mm256_fmadd_ps(g, x0, a20); a21 = _mm256_fmadd_ps(g, x1, a21);
                    g = _mm256_set1_ps(dy[r3]); a30 = _mm256_fmadd_ps(g, x0, a30); a31 = _mm256_fmadd_ps(g, x1, a31);
                }
                __m256 acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
                for (int r = 0; r < rb; r++)
                    for (int v = 0; v < 2; v++) {
                        float *d = dW + (int64_t)(o + r) * in + c + 8 * v;
                        _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), acc[r][v]));
                    }
            }
            for (int r = 0; r < rb; r++) /* column tail */
                for (int t = t0; t < t1; t++) {
                    float g = dY[(int64_t)t * out + o + r];
                    for (int i = cend; i < in; i++) dW[(int64_t)(o + r) * in + i] += g * X[(int64_t)t * in + i];
                }
        }
    }
}

#else
void tg_bwd_input_avx2(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    tg_bwd_input_scalar(dX, dY, W, n, in, out, i0, i1);
}
void tg_bwd_weight_avx2(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    tg_bwd_weight_scalar(dW, dY, X, n, in, out, o0, o1);
}
#endif
