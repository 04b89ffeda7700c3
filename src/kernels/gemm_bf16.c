/* gemm_bf16.c - the prefill matrix product in bfloat16: Y[t][r] = sum_c W[r][c] X[t][c] with W and X
 * rounded to bf16 and products summed in float32 by vdpbf16ps (AVX512_BF16), twice the FMA rate.
 *
 * Layouts. X is packed once per product (k_pack_x_bf16) into groups of 16 tokens: for group g,
 * Xp[g][c/2][16 tokens] of 32-bit units, each holding the bf16 pair (X[t][c], X[t][c+1]); so one
 * 512-bit load gives 16 tokens' pairs at column pair c/2. W rows stay row-major: a BF16 row is used
 * in place; Q8_0 / Q4 rows are first dequantized to bf16 into a per-thread panel of a few hundred KB
 * (once per panel, shared by every token). The kernel broadcasts one 32-bit pair of a weight row and
 * multiplies it into the 16-token vectors: a tile of 8 rows x 48 tokens keeps 24 accumulators in
 * registers, and every accumulator sums its (row, token) over columns in order, so the result does
 * not depend on how rows are split over threads or tokens over tiles.
 *
 * Loop order: for each panel of rows (sized so the bf16 panel fits in L2), for each tile of 48
 * tokens, for each 8 rows of the panel: the panel is read from memory once, X from L2/L3 once per
 * panel. The scalar twin (k_gemm_bf16_rows_scalar) does the same arithmetic one (row, token) at a
 * time; tests compare the two. */
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"

/* ---- packing (shared by both ISAs, so the twins see the same inputs) */

void k_pack_x_bf16(const float *X, int n, int64_t K, uint32_t *Xp, int g0, int g1) {
    const int64_t K2 = K / 2;
    for (int g = g0; g < g1; g++) {
        uint32_t *dst = Xp + (size_t)g * (size_t)K2 * 16;
        for (int i = 0; i < 16; i++) {
            int t = g * 16 + i;
            if (t >= n) {
                for (int64_t c2 = 0; c2 < K2; c2++) dst[c2 * 16 + i] = 0;
                continue;
            }
            const float *x = X + (size_t)t * (size_t)K;
            for (int64_t c2 = 0; c2 < K2; c2++)
                dst[c2 * 16 + i] = (uint32_t)k_f32_to_bf16(x[2 * c2]) | (uint32_t)k_f32_to_bf16(x[2 * c2 + 1]) << 16;
        }
    }
}

size_t k_gemm_bf16_panel_rows(int64_t K) {
    size_t rows = (size_t)(192 * 1024) / ((size_t)K * 2);
    rows = rows / 8 * 8;
    return rows < 8 ? 8 : rows > 256 ? 256 : rows;
}

/* Row r of W as bf16 (scalar): BF16 as stored, other types through float. */
static void row_bf16_scalar(const kmat *W, int64_t r, uint16_t *out, float *tmp) {
    const uint8_t *row = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
    if (W->type == QWEN3_BF16) { memcpy(out, row, 2 * (size_t)W->cols); return; }
    kq_dequant_row(W->type, row, tmp, W->cols);
    for (int64_t c = 0; c < W->cols; c++) out[c] = k_f32_to_bf16(tmp[c]);
}

void k_gemm_bf16_rows_scalar(const kmat *W, const uint32_t *Xp, int n, float *Y, int64_t r0, int64_t r1, void *scratch) {
    const int64_t K = W->cols, K2 = K / 2;
    uint16_t *wr = scratch;
    float *tmp = (float *)(wr + K);
    for (int64_t r = r0; r < r1; r++) {
        row_bf16_scalar(W, r, wr, tmp);
        for (int t = 0; t < n; t++) {
            const uint32_t *xg = Xp + (size_t)(t / 16) * (size_t)K2 * 16 + t % 16;
            float acc = 0.0f;
            for (int64_t c2 = 0; c2 < K2; c2++) {
                uint32_t xp = xg[c2 * 16];
                acc += k_bf16_to_f32(wr[2 * c2 + 1]) * k_bf16_to_f32((uint16_t)(xp >> 16));
                acc += k_bf16_to_f32(wr[2 * c2]) * k_bf16_to_f32((uint16_t)xp);
            }
            Y[(size_t)t * (size_t)W->rows + (size_t)r] = acc;
        }
    }
}

size_t k_gemm_bf16_scratch(int64_t K) {
    /* a panel of bf16 rows, or for the scalar twin one bf16 row and one float row */
    size_t a = k_gemm_bf16_panel_rows(K) * (size_t)K * 2, b = (size_t)K * 6;
    return (a > b ? a : b) + 64;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")))

/* ---- dequantization of rows to bf16 */

TGT static void q8_0_row_bf16(const uint8_t *row, uint16_t *out, int64_t K) {
    for (int64_t b = 0; b < K / 32; b++) {
        const kq8_0_block *blk = (const kq8_0_block *)row + b;
        __m512 d = _mm512_set1_ps(_cvtsh_ss(blk->d));
        __m128i q0 = _mm_loadu_si128((const __m128i *)blk->q), q1 = _mm_loadu_si128((const __m128i *)(blk->q + 16));
        __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
        __m512 f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
        _mm512_storeu_si512(out + 32 * b, (__m512i)_mm512_cvtne2ps_pbh(f1, f0));
    }
}

TGT static void q4_row_bf16(const uint8_t *row, uint16_t *out, int64_t K) {
    const __m512i low4 = _mm512_set1_epi8(15);
    for (int64_t sb = 0; sb < K / 256; sb++) {
        const kq4_block *blk = (const kq4_block *)row + sb;
        float d = _cvtsh_ss(blk->d), dm = _cvtsh_ss(blk->dmin);
        uint8_t q[256];
        for (int c = 0; c < 2; c++) {
            __m512i v = _mm512_loadu_si512(blk->qs + 64 * c);
            _mm512_storeu_si512(q + 128 * c, _mm512_and_si512(v, low4));
            _mm512_storeu_si512(q + 128 * c + 64, _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
        }
        for (int j = 0; j < 8; j++) {
            /* the scalar dequantizer's arithmetic: (d*sc)*q - dmin*mn, rounded twice, no fusion */
            __m512 s = _mm512_set1_ps(d * (float)blk->sc[j]), m = _mm512_set1_ps(dm * (float)blk->mn[j]);
            __m512 f0 = _mm512_sub_ps(_mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + 32 * j))))), m);
            __m512 f1 = _mm512_sub_ps(_mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + 32 * j + 16))))), m);
            _mm512_storeu_si512(out + 256 * sb + 32 * j, (__m512i)_mm512_cvtne2ps_pbh(f1, f0));
        }
    }
}

/* ---- the register tile: 8 rows x G groups of 16 tokens (G <= 3), 24 named accumulators (GCC keeps
 * an array of 24 vectors in memory); rows past a panel's multiple of 8 take the generic tile */

#define ACC3(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = a##r##0, a##r##2 = a##r##0
#define DP3(r)                                                                                        \
    do {                                                                                              \
        __m512bh wb = (__m512bh)_mm512_set1_epi32((int)w[(size_t)(r)*wstride + (size_t)c2]);          \
        a##r##0 = _mm512_dpbf16_ps(a##r##0, wb, x0);                                                  \
        if (G > 1) a##r##1 = _mm512_dpbf16_ps(a##r##1, wb, x1);                                       \
        if (G > 2) a##r##2 = _mm512_dpbf16_ps(a##r##2, wb, x2);                                       \
    } while (0)
#define ST3(r)                                                                                        \
    do {                                                                                              \
        _mm512_storeu_ps(out + (r)*48, a##r##0);                                                      \
        if (G > 1) _mm512_storeu_ps(out + (r)*48 + 16, a##r##1);                                      \
        if (G > 2) _mm512_storeu_ps(out + (r)*48 + 32, a##r##2);                                      \
    } while (0)

TGT static inline __attribute__((always_inline)) void tile8(const uint32_t *w, size_t wstride, const uint32_t *xp,
                                                            size_t gstride, int G, int64_t K2, float *out) {
    ACC3(0); ACC3(1); ACC3(2); ACC3(3); ACC3(4); ACC3(5); ACC3(6); ACC3(7);
    for (int64_t c2 = 0; c2 < K2; c2++) {
        __m512bh x0 = (__m512bh)_mm512_loadu_si512(xp + (size_t)c2 * 16), x1 = x0, x2 = x0;
        if (G > 1) x1 = (__m512bh)_mm512_loadu_si512(xp + gstride + (size_t)c2 * 16);
        if (G > 2) x2 = (__m512bh)_mm512_loadu_si512(xp + 2 * gstride + (size_t)c2 * 16);
        DP3(0); DP3(1); DP3(2); DP3(3); DP3(4); DP3(5); DP3(6); DP3(7);
    }
    ST3(0); ST3(1); ST3(2); ST3(3); ST3(4); ST3(5); ST3(6); ST3(7);
}

/* any R <= 8 rows x G <= 3 groups, for the ragged edges */
TGT static void tile_any(const uint32_t *w, size_t wstride, int R, const uint32_t *xp, size_t gstride, int G, int64_t K2,
                         float *out) {
    for (int r = 0; r < R; r++)
        for (int j = 0; j < G; j++) {
            __m512 acc = _mm512_setzero_ps();
            for (int64_t c2 = 0; c2 < K2; c2++)
                acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_set1_epi32((int)w[(size_t)r * wstride + (size_t)c2]),
                                       (__m512bh)_mm512_loadu_si512(xp + (size_t)j * gstride + (size_t)c2 * 16));
            _mm512_storeu_ps(out + r * 48 + j * 16, acc);
        }
}

TGT void k_gemm_bf16_rows_avx512(const kmat *W, const uint32_t *Xp, int n, float *Y, int64_t r0, int64_t r1, void *scratch) {
    const int64_t K = W->cols, K2 = K / 2;
    const size_t PR = k_gemm_bf16_panel_rows(K), gstride = (size_t)K2 * 16;
    const int ngroups = (n + 15) / 16;
    uint16_t *panel = scratch;
    float out[8 * 48];
    for (int64_t p0 = r0; p0 < r1; p0 += (int64_t)PR) {
        int64_t p1 = p0 + (int64_t)PR < r1 ? p0 + (int64_t)PR : r1;
        const uint32_t *wbase;
        size_t wstride = (size_t)K2;
        if (W->type == QWEN3_BF16) {
            wbase = (const uint32_t *)((const uint8_t *)W->data + (size_t)p0 * W->row_bytes);
            wstride = W->row_bytes / 4;
        } else {
            for (int64_t r = p0; r < p1; r++) {
                const uint8_t *row = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
                uint16_t *dst = panel + (size_t)(r - p0) * (size_t)K;
                if (W->type == QWEN3_Q8_0) q8_0_row_bf16(row, dst, K);
                else if (W->type == QWEN3_Q4) q4_row_bf16(row, dst, K);
                else if (W->type == QWEN3_F16) {
                    const uint16_t *h = (const uint16_t *)row;
                    for (int64_t c = 0; c < K; c++) dst[c] = k_f32_to_bf16(k_f16_to_f32(h[c]));
                } else {
                    const float *f = (const float *)row;
                    for (int64_t c = 0; c < K; c++) dst[c] = k_f32_to_bf16(f[c]);
                }
            }
            wbase = (const uint32_t *)panel;
        }
        for (int g = 0; g < ngroups; g += 3) {
            int G = ngroups - g < 3 ? ngroups - g : 3;
            const uint32_t *xp = Xp + (size_t)g * gstride;
            for (int64_t r = p0; r < p1; r += 8) {
                int R = p1 - r < 8 ? (int)(p1 - r) : 8;
                const uint32_t *w = wbase + (size_t)(r - p0) * wstride;
                /* constant tile shapes in the common cases let the compiler keep the tile in registers */
                if (R == 8 && G == 3) tile8(w, wstride, xp, gstride, 3, K2, out);
                else if (R == 8 && G == 2) tile8(w, wstride, xp, gstride, 2, K2, out);
                else if (R == 8 && G == 1) tile8(w, wstride, xp, gstride, 1, K2, out);
                else tile_any(w, wstride, R, xp, gstride, G, K2, out);
                for (int i = 0; i < R; i++)
                    for (int j = 0; j < G * 16; j++) {
                        int t = g * 16 + j;
                        if (t < n) Y[(size_t)t * (size_t)W->rows + (size_t)(r + i)] = out[i * 48 + j];
                    }
            }
        }
    }
}
#else
void k_gemm_bf16_rows_avx512(const kmat *W, const uint32_t *Xp, int n, float *Y, int64_t r0, int64_t r1, void *scratch) {
    k_gemm_bf16_rows_scalar(W, Xp, n, Y, r0, r1, scratch);
}
#endif
