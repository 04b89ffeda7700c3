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

/* The 4 x 64 register tile: 16 named accumulators (an indexed acc[4][4] array made gcc -O2 keep
 * them in memory, a load and a store around every FMA: 34 GFLOP/s on one core instead of ~100).
 * FMA4(b0..b3, v0..v3) adds b_j * v_v to acc j,v. */
#define ACC_DECL __m512 a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33
#define FMA_ROW(aj0, aj1, aj2, aj3, b) \
    do { \
        __m512 bb_ = (b); \
        aj0 = _mm512_fmadd_ps(bb_, v0, aj0); \
        aj1 = _mm512_fmadd_ps(bb_, v1, aj1); \
        aj2 = _mm512_fmadd_ps(bb_, v2, aj2); \
        aj3 = _mm512_fmadd_ps(bb_, v3, aj3); \
    } while (0)
#define FMA4(s0, s1, s2, s3) \
    do { \
        FMA_ROW(a00, a01, a02, a03, _mm512_set1_ps(s0)); \
        FMA_ROW(a10, a11, a12, a13, _mm512_set1_ps(s1)); \
        FMA_ROW(a20, a21, a22, a23, _mm512_set1_ps(s2)); \
        FMA_ROW(a30, a31, a32, a33, _mm512_set1_ps(s3)); \
    } while (0)

/* out[j][0..64) (masks m) += acc row j, for j < rows */
TGT static inline void tile_add(float *d, int64_t ld, int rows, const __mmask16 m[4], __m512 acc[4][4]) {
    for (int j = 0; j < rows; j++)
        for (int v = 0; v < 4; v++)
            if (m[v]) {
                float *p = d + j * ld + 16 * v;
                _mm512_mask_storeu_ps(p, m[v], _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], p), acc[j][v]));
            }
}
#define ACC_ADD(d, ld, rows, m) \
    do { \
        __m512 acc_[4][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33}}; \
        tile_add(d, ld, rows, m, acc_); \
    } while (0)
#define ACC_ZERO \
    a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = _mm512_setzero_ps(); \
    a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = _mm512_setzero_ps()

/* dX rows t..t+tb, 64 columns (masks m) += dY rows [t, t+tb) x panel rows [0, oc). dY is read in
 * place: four row pointers (a missing row repeats the last, its result is not stored). */
TGT static void in_tile(float *dX, int64_t ldx, int tb, const __mmask16 m[4], const float *panel, const float *dy,
                        int64_t ldy, int oc) {
    ACC_DECL;
    ACC_ZERO;
    const float *g0 = dy, *g1 = dy + (tb > 1 ? 1 : 0) * ldy, *g2 = dy + (tb > 2 ? 2 : tb - 1) * ldy,
                *g3 = dy + (tb > 3 ? 3 : tb - 1) * ldy;
    for (int o = 0; o < oc; o++) {
        const float *w = panel + (int64_t)o * 64;
        __m512 v0 = _mm512_load_ps(w), v1 = _mm512_load_ps(w + 16), v2 = _mm512_load_ps(w + 32), v3 = _mm512_load_ps(w + 48);
        FMA4(g0[o], g1[o], g2[o], g3[o]);
    }
    ACC_ADD(dX, ldx, tb, m);
}

TGT void tg_bwd_input_avx512(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    float *panel = aligned_alloc(64, sizeof(float) * OC * 64);
    if (!panel) { tg_bwd_input_scalar(dX, dY, W, n, in, out, i0, i1); return; }
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
                in_tile(dX + (int64_t)t * in + c, in, tb, m, panel, dY + (int64_t)t * out + o0, out, oc);
            }
        }
    }
    free(panel);
}

/* dW rows o..o+rb, 64 columns += sum over the panel's tc tokens of dY[t][o+r] x panel[t]. dY is read
 * in place (a missing row r repeats the last column, its result is not stored). */
TGT static void w_tile(float *dW, int64_t ldw, int rb, const __mmask16 m[4], const float *panel, const float *dy,
                       int64_t ldy, int tc) {
    ACC_DECL;
    ACC_ZERO;
    int r1 = rb > 1 ? 1 : 0, r2 = rb > 2 ? 2 : rb - 1, r3 = rb > 3 ? 3 : rb - 1;
    for (int t = 0; t < tc; t++) {
        const float *x = panel + (int64_t)t * 64, *g = dy + (int64_t)t * ldy;
        __m512 v0 = _mm512_load_ps(x), v1 = _mm512_load_ps(x + 16), v2 = _mm512_load_ps(x + 32), v3 = _mm512_load_ps(x + 48);
        FMA4(g[0], g[r1], g[r2], g[r3]);
    }
    ACC_ADD(dW, ldw, rb, m);
}

TGT void tg_bwd_weight_avx512(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    float *panel = aligned_alloc(64, sizeof(float) * TC * 64);
    if (!panel) { tg_bwd_weight_scalar(dW, dY, X, n, in, out, o0, o1); return; }
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
                w_tile(dW + (int64_t)o * in + c, in, rb, m, panel, dY + (int64_t)t0 * out + o, out, tc);
            }
        }
    }
    free(panel);
}

#else
void tg_bwd_input_avx512(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1) {
    tg_bwd_input_scalar(dX, dY, W, n, in, out, i0, i1);
}
void tg_bwd_weight_avx512(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1) {
    tg_bwd_weight_scalar(dW, dY, X, n, in, out, o0, o1);
}
#endif
