/* gemm_bf16.c - the prefill matrix product in bfloat16: Y[t][r] = sum_c W[r][c] X[t][c] with W and X
 * rounded to bf16 and products summed in float32 by vdpbf16ps (AVX512_BF16), twice the FMA rate.
 *
 * Layouts. X is packed once per product (k_pack_x_bf16) into groups of 16 tokens: for group g,
 * Xp[g][c/2][16 tokens] of 32-bit units, each holding the bf16 pair (X[t][c], X[t][c+1]); so one
 * 512-bit load gives 16 tokens' pairs at column pair c/2. W rows are packed per panel (a few hundred
 * KB, so it stays in L2) into blocks of 8 rows, [c/2][8 rows] pairs, dequantizing Q8_0 / Q4 on the
 * way: the 8 pairs a step broadcasts are 32 contiguous bytes. The packing transposes 8 x 16 pairs
 * at a time in registers: MoE experts see ~32 tokens each, so every weight is used only ~32 times
 * per pass and a scalar copy of it cost as much as the arithmetic. The kernel broadcasts one pair of a
 * weight row and multiplies it into the 16-token vectors: a tile of 8 rows x 48 tokens keeps 24
 * accumulators in registers, and every accumulator sums its (row, token) over columns in order, so
 * the result does not depend on how rows are split over threads or tokens over tiles.
 *
 * Loop order: for each panel of rows, for each tile of 48 tokens, for each chunk of GEMM_KC column
 * pairs (the tile's slice of X, 24 KB, stays in L1), for each 8 rows of the panel; the running sums
 * of the panel x 48 tokens live in a small buffer between chunks. Y is written token by token (a
 * contiguous run of rows each), never a column at a time: Y rows are often 4 KB apart, and a column
 * of stores into one L1 set cost more than the arithmetic (140 -> 350 GFLOP/s per core at K = 1024).
 * The scalar twin (k_gemm_bf16_rows_scalar) does the same arithmetic one (row, token) at a time;
 * tests compare the two. */
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

/* ---- packing (shared by both ISAs, so the twins see the same inputs) */

/* k_f32_to_bf16 inlined (round to nearest even, NaN kept quiet): the call per value cost ~3% of a
 * MoE prefill, where every expert packs its own tokens. */
static inline uint32_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40;
    u += 0x7fffu + ((u >> 16) & 1);
    return u >> 16;
}

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
                dst[c2 * 16 + i] = bf16_bits(x[2 * c2]) | bf16_bits(x[2 * c2 + 1]) << 16;
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
    /* a packed panel, 8 bf16 rows and the running sums; or for the scalar twin one bf16 row and one
     * float row */
    size_t a = k_gemm_bf16_panel_rows(K) * ((size_t)K * 2 + 48 * 4) + (size_t)K * 16, b = (size_t)K * 6;
    return (a > b ? a : b) + 64;
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/bf16_round512.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")))

#ifndef GEMM_KC
#define GEMM_KC 128
#endif

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

#define ACC3(r)                                                                                       \
    __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = a##r##0, a##r##2 = a##r##0;                       \
    if (!first) {                                                                                     \
        a##r##0 = _mm512_loadu_ps(out + (r)*48);                                                      \
        if (G > 1) a##r##1 = _mm512_loadu_ps(out + (r)*48 + 16);                                      \
        if (G > 2) a##r##2 = _mm512_loadu_ps(out + (r)*48 + 32);                                      \
    }
#define DP3(r)                                                                                        \
    do {                                                                                              \
        __m512bh wb = (__m512bh)_mm512_set1_epi32((int)w[(size_t)c2 * 8 + (r)]);                  \
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

/* column pairs [c0, c1) of the tile over a packed block of 8 rows (w[c2 * 8 + r]: the 8 broadcasts
 * of a step read 32 contiguous bytes); `first` starts the sums at zero, otherwise they continue from
 * out, so a (row, token) is still summed over its columns in order */
TGT static inline __attribute__((always_inline)) void tile8(const uint32_t *w, const uint32_t *xp, size_t gstride, int G,
                                                            int64_t c0, int64_t c1, int first, float *out) {
    ACC3(0) ACC3(1) ACC3(2) ACC3(3) ACC3(4) ACC3(5) ACC3(6) ACC3(7)
    for (int64_t c2 = c0; c2 < c1; c2++) {
        __m512bh x0 = (__m512bh)_mm512_loadu_si512(xp + (size_t)c2 * 16), x1 = x0, x2 = x0;
        if (G > 1) x1 = (__m512bh)_mm512_loadu_si512(xp + gstride + (size_t)c2 * 16);
        if (G > 2) x2 = (__m512bh)_mm512_loadu_si512(xp + 2 * gstride + (size_t)c2 * 16);
        DP3(0); DP3(1); DP3(2); DP3(3); DP3(4); DP3(5); DP3(6); DP3(7);
    }
    ST3(0); ST3(1); ST3(2); ST3(3); ST3(4); ST3(5); ST3(6); ST3(7);
}

/* Row r of W (not BF16: that is used as stored) as bf16 into dst (K values). */
TGT static void row_bf16(const kmat *W, int64_t r, uint16_t *dst) {
    const int64_t K = W->cols;
    const uint8_t *row = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
    if (W->type == QWEN3_Q8_0) q8_0_row_bf16(row, dst, K);
    else if (W->type == QWEN3_Q4) q4_row_bf16(row, dst, K);
    else if (kq_is_ggml(W->type)) {
        if (!kq_ggml_row_bf16_avx512(W->type, row, dst, K)) { /* no SIMD dequantizer: the scalar one, in pieces */
            float tmp[256];
            int64_t B = k_block_size(W->type);
            size_t bb = k_row_bytes(W->type, B);
            for (int64_t c = 0; c < K; c += 256 / B * B) {
                int64_t m = K - c < 256 / B * B ? K - c : 256 / B * B;
                kq_dequant_row(W->type, row + (size_t)(c / B) * bb, tmp, m);
                for (int64_t i = 0; i < m; i++) dst[c + i] = k_f32_to_bf16(tmp[i]);
            }
        }
    } else if (W->type == QWEN3_F16) {
        const uint16_t *h = (const uint16_t *)row;
        for (int64_t c = 0; c < K; c++) dst[c] = k_f32_to_bf16(k_f16_to_f32(h[c]));
    } else {
        const float *f = (const float *)row;
        for (int64_t c = 0; c < K; c++) dst[c] = k_f32_to_bf16(f[c]);
    }
}

/* Transposes 8 rows x 16 column pairs (v[i]: pairs c..c+15 of row i) into dst[c2][8 rows], three
 * rounds of two-source permutes (32-bit, 64-bit, 128-bit interleaves): the scalar copy it replaces,
 * one pair at a time, cost more than the arithmetic on an expert's ~32 tokens. */
TGT static inline void transpose8x16(const __m512i v[8], uint32_t *dst) {
    const __m512i i1lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i i1hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    const __m512i i2lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), i2hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    const __m512i i3lo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), i3hi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512i a[8], b[8];
    for (int j = 0; j < 4; j++) { /* a[2j]: rows 2j, 2j+1 interleaved for pairs 0..7; a[2j+1]: 8..15 */
        a[2 * j] = _mm512_permutex2var_epi32(v[2 * j], i1lo, v[2 * j + 1]);
        a[2 * j + 1] = _mm512_permutex2var_epi32(v[2 * j], i1hi, v[2 * j + 1]);
    }
    for (int h = 0; h < 2; h++) /* b[4h + q]: rows 4h..4h+3 for pairs 4q..4q+3 */
        for (int q = 0; q < 2; q++) {
            b[4 * h + 2 * q] = _mm512_permutex2var_epi64(a[4 * h + q], i2lo, a[4 * h + 2 + q]);
            b[4 * h + 2 * q + 1] = _mm512_permutex2var_epi64(a[4 * h + q], i2hi, a[4 * h + 2 + q]);
        }
    for (int q = 0; q < 4; q++) { /* rows 0..7 for pairs 4q, 4q+1 and 4q+2, 4q+3 */
        _mm512_storeu_si512(dst + 32 * q, _mm512_permutex2var_epi64(b[q], i3lo, b[4 + q]));
        _mm512_storeu_si512(dst + 32 * q + 16, _mm512_permutex2var_epi64(b[q], i3hi, b[4 + q]));
    }
}

/* Rows [p0, p1) into the panel as blocks of 8 rows, each [c2][8] pairs; rows past p1 are zero.
 * BF16 rows are read in place, other types dequantized first into 8 row buffers. */
TGT static void pack_panel(const kmat *W, int64_t p0, int64_t p1, uint32_t *panel, uint32_t *rowbuf) {
    const int64_t K2 = W->cols / 2;
    for (int64_t b = p0; b < p1; b += 8) {
        const uint32_t *src[8];
        for (int i = 0; i < 8; i++) {
            int64_t r = b + i;
            /* the row 8 ahead (next block or panel) on its way while this block is packed: ~15%
             * off the packing of Q8_0 experts, whose weights are read once per pass */
            if (r + 8 < W->rows) {
                const char *ahead = (const char *)W->data + (size_t)(r + 8) * W->row_bytes;
                for (size_t off = 0; off < W->row_bytes; off += 64) _mm_prefetch(ahead + off, _MM_HINT_T0);
            }
            if (r >= p1) src[i] = NULL;
            else if (W->type == QWEN3_BF16) src[i] = (const uint32_t *)((const uint8_t *)W->data + (size_t)r * W->row_bytes);
            else {
                row_bf16(W, r, (uint16_t *)(rowbuf + (size_t)i * (size_t)K2));
                src[i] = rowbuf + (size_t)i * (size_t)K2;
            }
        }
        uint32_t *dst = panel + (size_t)((b - p0) / 8) * (size_t)K2 * 8;
        int64_t c2 = 0;
        for (; c2 + 16 <= K2; c2 += 16) {
            __m512i v[8];
            for (int i = 0; i < 8; i++) v[i] = src[i] ? _mm512_loadu_si512(src[i] + c2) : _mm512_setzero_si512();
            transpose8x16(v, dst + (size_t)c2 * 8);
        }
        for (; c2 < K2; c2++)
            for (int i = 0; i < 8; i++) dst[c2 * 8 + i] = src[i] ? src[i][c2] : 0;
    }
}

/* dst[k][i] = src[i][k] for a 16 x 16 block of floats: rows of src sstride apart, of dst dstride apart.
 * Interleaves of 32-bit units, then 64-bit ones within 128-bit lanes, then a 4 x 4 transpose of the
 * lanes: 64 shuffles where the copy one value at a time took 256 loads and 256 stores. */
/* a row of a 16 x 16 block: streamed past the caches (64-byte aligned p) or stored */
TGT static inline void store16(float *p, __m512 v, int stream) {
    if (stream) _mm512_stream_ps(p, v);
    else _mm512_storeu_ps(p, v);
}

TGT static inline void transpose16(const float *src, size_t sstride, float *dst, size_t dstride, int stream) {
    __m512 r[16], t[16], u[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + (size_t)i * sstride);
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 4; k++) { /* u[4k + e], lane L: element 4L + e of rows 4k..4k+3 */
        u[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
        u[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
        u[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
        u[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
    }
    for (int e = 0; e < 4; e++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x44), v1 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xEE);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x44), v3 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xEE);
        store16(dst + (size_t)e * dstride, _mm512_shuffle_f32x4(v0, v2, 0x88), stream);
        store16(dst + (size_t)(4 + e) * dstride, _mm512_shuffle_f32x4(v0, v2, 0xDD), stream);
        store16(dst + (size_t)(8 + e) * dstride, _mm512_shuffle_f32x4(v1, v3, 0x88), stream);
        store16(dst + (size_t)(12 + e) * dstride, _mm512_shuffle_f32x4(v1, v3, 0xDD), stream);
    }
}

/* The running sums of nr rows x nt tokens (acc[r * 48 + t]) into Y (y[t * ystride + r]): 16 x 16
 * blocks by transposes, the edges one value at a time. */
TGT static void write_tile(const float *acc, int64_t nr, int nt, float *y, size_t ystride) {
    int64_t r = 0;
    int nt16 = ((uintptr_t)y % 64 == 0 && ystride % 16 == 0);
    for (; r + 16 <= nr; r += 16) {
        int t = 0;
        for (; t + 16 <= nt; t += 16) transpose16(acc + (size_t)r * 48 + t, 48, y + (size_t)t * ystride + r, ystride, nt16);
        for (; t < nt; t++)
            for (int64_t i = r; i < r + 16; i++) y[(size_t)t * ystride + i] = acc[(size_t)i * 48 + t];
    }
    for (int t = 0; t < nt; t++)
        for (int64_t i = r; i < nr; i++) y[(size_t)t * ystride + i] = acc[(size_t)i * 48 + t];
}

/* k_pack_x_bf16 with AVX-512: per group of 16 tokens and 16 column pairs, each token's 32 values
 * rounded (bf16_round512.h) and paired in lanes (two vpmovdw), then the 16 x 16 block transposed
 * into [pair][token];
 * the scalar packing wrote one 32-bit pair at a time 64 bytes apart (5% of a --batch-variant BF16
 * prefill). A last partial step of pairs and the tokens past n as the scalar code does. */
TGT void k_pack_x_bf16_avx512(const float *X, int n, int64_t K, uint32_t *Xp, int g0, int g1) {
    const int64_t K2 = K / 2;
    uint32_t blk[16 * 16] __attribute__((aligned(64)));
    for (int g = g0; g < g1; g++) {
        uint32_t *dst = Xp + (size_t)g * (size_t)K2 * 16;
        const int nt = n - g * 16 < 16 ? n - g * 16 : 16;
        int64_t c2 = 0;
        for (; c2 + 16 <= K2; c2 += 16) {
            for (int i = 0; i < 16; i++) {
                __m512i v = _mm512_setzero_si512();
                if (i < nt) {
                    const float *x = X + (size_t)(g * 16 + i) * (size_t)K + (size_t)(2 * c2);
                    __m256i lo = _mm512_cvtepi32_epi16(k_bf16_round16(_mm512_loadu_si512(x)));
                    __m256i hi = _mm512_cvtepi32_epi16(k_bf16_round16(_mm512_loadu_si512(x + 16)));
                    v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
                }
                _mm512_store_si512(blk + 16 * i, v);
            }
            transpose16((const float *)blk, 16, (float *)(dst + (size_t)c2 * 16), 16, 0);
        }
        for (int i = 0; i < 16; i++) /* the last pairs, one at a time */
            for (int64_t c = c2; c < K2; c++) {
                const float *x = X + (size_t)(g * 16 + i) * (size_t)K;
                dst[c * 16 + i] = i < nt ? bf16_bits(x[2 * c]) | bf16_bits(x[2 * c + 1]) << 16 : 0;
            }
    }
}

TGT void k_gemm_bf16_rows_avx512(const kmat *W, const uint32_t *Xp, int n, float *Y, int64_t r0, int64_t r1, void *scratch) {
    const int64_t K = W->cols, K2 = K / 2;
    const size_t PR = k_gemm_bf16_panel_rows(K), gstride = (size_t)K2 * 16;
    const int ngroups = (n + 15) / 16;
    uint32_t *panel = scratch;                      /* PR rows, packed */
    uint32_t *rowbuf = panel + PR * (size_t)K2;     /* 8 rows as bf16 */
    float *acc = (float *)(rowbuf + 8 * (size_t)K2); /* PR rows x 48 tokens of running sums */
    for (int64_t p0 = r0; p0 < r1; p0 += (int64_t)PR) {
        int64_t p1 = p0 + (int64_t)PR < r1 ? p0 + (int64_t)PR : r1;
        pack_panel(W, p0, p1, panel, rowbuf);
        /* while this panel is multiplied, the next one's rows are fetched, spread over the first
         * tile's steps: packing waited on memory for them */
        int64_t q1 = p1 + (int64_t)PR < r1 ? p1 + (int64_t)PR : r1;
        const char *pf = (const char *)W->data + (size_t)p1 * W->row_bytes, *pf_end = (const char *)W->data + (size_t)q1 * W->row_bytes;
        size_t steps = (size_t)((K2 + GEMM_KC - 1) / GEMM_KC) * (size_t)((p1 - p0 + 7) / 8);
        size_t pf_step = ((size_t)(pf_end - pf) / steps + 63) / 64 * 64 + 64;
        for (int g = 0; g < ngroups; g += 3) {
            int G = ngroups - g < 3 ? ngroups - g : 3;
            const uint32_t *xp = Xp + (size_t)g * gstride;
            /* columns in chunks whose slice of X (G x KC pairs x 16 tokens, 24 KB) stays in L1 while
             * every row block of the panel passes over it */
            for (int64_t c0 = 0; c0 < K2; c0 += GEMM_KC) {
                int64_t c1 = c0 + GEMM_KC < K2 ? c0 + GEMM_KC : K2;
                for (int64_t r = p0; r < p1; r += 8) {
                    const uint32_t *w = panel + (size_t)((r - p0) / 8) * (size_t)K2 * 8;
                    if (g == 0 && pf < pf_end) { /* the next panel's rows on their way to L2 */
                        const char *e = pf + pf_step < pf_end ? pf + pf_step : pf_end;
                        for (; pf < e; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
                    }
                    float *out = acc + (size_t)(r - p0) * 48;
                    /* constant tile shapes let the compiler keep the tile in registers */
                    if (G == 3) tile8(w, xp, gstride, 3, c0, c1, c0 == 0, out);
                    else if (G == 2) tile8(w, xp, gstride, 2, c0, c1, c0 == 0, out);
                    else tile8(w, xp, gstride, 1, c0, c1, c0 == 0, out);
                }
            }
            /* token by token: each writes a contiguous run of the panel's rows (row by row would
             * store 48 values a whole Y row apart, often 4 KB: one L1 set, a miss per store) */
            write_tile(acc, p1 - p0, G * 16 < n - g * 16 ? G * 16 : n - g * 16, Y + (size_t)(g * 16) * (size_t)W->rows + p0, (size_t)W->rows);
        }
    }
    _mm_sfence();
}
#else
void k_pack_x_bf16_avx512(const float *X, int n, int64_t K, uint32_t *Xp, int g0, int g1) { k_pack_x_bf16(X, n, K, Xp, g0, g1); }
void k_gemm_bf16_rows_avx512(const kmat *W, const uint32_t *Xp, int n, float *Y, int64_t r0, int64_t r1, void *scratch) {
    k_gemm_bf16_rows_scalar(W, Xp, n, Y, r0, r1, scratch);
}
#endif
