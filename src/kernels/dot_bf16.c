/* dot_bf16.c - BF16 weights times bf16-rounded activations with one summation order for any number
 * of tokens: the batch-invariant fast path of BF16 weights at bf16 speed (the bf16 GEMM of
 * gemm_bf16.c sums a (row, token) in another order depending on the tile it falls in, so a token
 * computed in a prefill and the same token decoded alone would differ; see forward.c).
 *
 * The arithmetic of one (row, token), for every n and every split of rows over threads:
 *   - the activation row rounded to bf16 (k_x_to_bf16_rows: nearest even, as k_f32_to_bf16);
 *   - one float32 sum l, from 0, over the column pairs p = 0, 1, ..., ceil(K / 2) - 1 in order, as
 *     one lane of vdpbf16ps does a pair: l += w[2p+1] * x[2p+1], then l += w[2p] * x[2p], each
 *     product exact and each sum rounded once to nearest even; bf16 denormals read as zero and a
 *     denormal sum becomes a zero of its sign (the instruction's implied DAZ / FTZ, as measured on
 *     this machine's AMD EPYC: the product is not flushed before the add); a column past K (odd K)
 *     counts as a zero.
 * k_dot_bf16_scalar is that arithmetic written out; the AVX512_BF16 kernels equal it bit for bit
 * (tests/unit/test_dot_bf16.c).
 *
 * The AVX512_BF16 kernels keep 16 rows in the 16 lanes of a vector: the matrix interleaved by 16
 * rows (kernels/repack.c: each group stored by column pair, the 16 rows' pairs of a step in one
 * 64-byte line), a token's pair broadcast, one vdpbf16ps per step and group. So a (row, token) is
 * one lane's chain and needs no reduction across lanes, and Y takes 16 rows in one store. Prefill
 * keeps a register tile of 32 rows x 12 tokens (24 accumulators; per step 2 weight loads and 12
 * broadcasts feed 24 vdpbf16ps), a tile's tokens' pairs in L1 while a panel of rows (in L2) passes
 * under them, in blocks of 1,024 columns with the sums carried. Decoding streams two groups at once
 * (from the two halves of the thread's rows: two sequential reads in flight, two chains). This
 * replaced 16 lanes over 32-column steps and a fixed reduction tree per (row, token) (4 rows
 * interleaved, a 4 x 6 tile; 2026-12-08): one thread, 512 tokens, the tile alone ran 91-92% of the
 * bf16 peak from memory where those dots ran 80-84% (bench/bf16.sh), the 0.6B shape's prefill
 * 7-18% faster and its decode level to 8% faster (alternating pairs). A row-major matrix
 * (rows not a multiple of 16, columns not of 32, QWEN3_REPACK=0) is interleaved 16 rows at a time
 * on the stack by the kernel itself (slower, the same bits; see k_dot_bf16_rows_avx512). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

void k_x_to_bf16_rows(const float *X, int64_t K, uint16_t *Xb, int t0, int t1) {
    for (size_t i = (size_t)t0 * (size_t)K, e = (size_t)t1 * (size_t)K; i < e; i++) Xb[i] = k_f32_to_bf16(X[i]);
}

/* a bf16 value as float, denormals as (signed) zero */
static inline float bf_daz(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    if (!(u & 0x7f800000u)) u &= 0x80000000u;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* l + w * x as vdpbf16ps does one step: the product exact (two 8-bit significands), the sum rounded
 * once to float32 (exact in double first: a sum that double cannot hold exactly is far below half an
 * ulp of the larger term, so rounding twice gives the same float), then a denormal result flushed to
 * zero of its sign (FTZ; so +0 + (-2^-140) is -0). The product itself is not flushed. */
static inline float step(float l, float w, float x) {
    float f = (float)((double)l + (double)w * (double)x);
    uint32_t u;
    memcpy(&u, &f, 4);
    if (!(u & 0x7f800000u)) u &= 0x80000000u;
    memcpy(&f, &u, 4);
    return f;
}

float k_dot_bf16_scalar(const uint16_t *w, const uint16_t *x, int64_t K) {
    float l = 0.0f;
    for (int64_t c = 0; c < K; c += 2) {
        float w1 = c + 1 < K ? bf_daz(w[c + 1]) : 0.0f, x1 = c + 1 < K ? bf_daz(x[c + 1]) : 0.0f;
        l = step(l, w1, x1);
        l = step(l, bf_daz(w[c]), bf_daz(x[c]));
    }
    return l;
}

void k_dot_bf16_rows_scalar(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *w = (const uint16_t *)((const uint8_t *)W->data + (size_t)r * W->row_bytes);
        for (int t = 0; t < n; t++)
            Y[(size_t)t * (size_t)W->rows + (size_t)r] = k_dot_bf16_scalar(w, Xb + (size_t)t * (size_t)W->cols, W->cols);
    }
}

/* the interleaved layout's twin: each row gathered back (k_il_row), then the scalar dot */
void k_dot_bf16_il_scalar(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1) {
    uint16_t row[4096];
    for (int64_t r = r0; r < r1; r++) {
        uint16_t *w = W->cols <= 4096 ? row : malloc(sizeof(uint16_t) * (size_t)W->cols);
        if (!w) return; /* a row: kilobytes */
        k_il_row(W, r, w);
        for (int t = 0; t < n; t++)
            Y[(size_t)t * (size_t)W->rows + (size_t)r] = k_dot_bf16_scalar(w, Xb + (size_t)t * (size_t)W->cols, W->cols);
        if (w != row) free(w);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/bf16_round512.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
/* gcc keeps accumulator arrays in memory unless the loops over them are unrolled outright */
#if defined(__clang__)
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

#define dp(acc, a, b) _mm512_dpbf16_ps((acc), (__m512bh)(a), (__m512bh)(b))

/* a token's column pair p (two bf16 values) as one 32-bit word, broadcast */
TGT static inline __m512i pair(const uint16_t *x, int64_t p) {
    uint32_t v;
    memcpy(&v, x + 2 * p, 4);
    return _mm512_set1_epi32((int)v);
}

/* k_x_to_bf16_rows with integer AVX-512, the same bits as k_f32_to_bf16 (bf16_round512.h) */
TGT void k_x_to_bf16_rows_avx512(const float *X, int64_t K, uint16_t *Xb, int t0, int t1) {
    size_t i = (size_t)t0 * (size_t)K, e = (size_t)t1 * (size_t)K;
    for (; i < e; i += 16) {
        __mmask16 m = e - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (e - i)) - 1);
        __m512i r = k_bf16_round16(_mm512_castps_si512(_mm512_maskz_loadu_ps(m, X + i)));
        _mm256_mask_storeu_epi16(Xb + i, m, _mm512_cvtepi32_epi16(r));
    }
}

/* Tokens per prefill tile, and column pairs per block (1,024 columns: a tile's 12 tokens' pairs of
 * a block, 24 KB, stay in L1 while the panel's groups pass). */
#define TT 12
#define PB 512
/* rows per panel at most (the carried sums: PANEL / 32 tiles x 12 tokens x 128 bytes of stack) */
#define PANEL 256

/* NG groups (1 or 2: g0, g1, each a group's pairs from the block's first step on) x NT tokens (x:
 * each token's pairs from the block's first, xs apart), np steps; the sums start at zero (first) or
 * from st, and end in st or (last) in y (16 rows a store, rows of y ldy apart). */
TGT static inline __attribute__((always_inline)) void tile(const uint32_t *g0, const uint32_t *g1, int NG, const uint16_t *x, size_t xs,
                                                           int NT, int64_t np, int first, int last, __m512 *st, float *y, size_t ldy) {
    __m512 a0[TT], a1[TT];
    UNROLL
    for (int t = 0; t < TT; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    if (!first) {
        UNROLL
        for (int t = 0; t < NT; t++) {
            a0[t] = st[2 * t];
            if (NG == 2) a1[t] = st[2 * t + 1];
        }
    }
    for (int64_t p = 0; p < np; p++) {
        __m512i w0 = _mm512_loadu_si512(g0 + 16 * p), w1 = w0;
        if (NG == 2) w1 = _mm512_loadu_si512(g1 + 16 * p);
        UNROLL
        for (int t = 0; t < NT; t++) {
            __m512i xb = pair(x + 2 * (size_t)t * xs, p);
            a0[t] = dp(a0[t], w0, xb);
            if (NG == 2) a1[t] = dp(a1[t], w1, xb);
        }
    }
    UNROLL
    for (int t = 0; t < NT; t++) {
        if (last) {
            _mm512_storeu_ps(y + (size_t)t * ldy, a0[t]);
            if (NG == 2) _mm512_storeu_ps(y + (size_t)t * ldy + 16, a1[t]);
        } else {
            st[2 * t] = a0[t];
            if (NG == 2) st[2 * t + 1] = a1[t];
        }
    }
}

/* tile() with NG and NT constants (the compiler keeps a constant tile in registers) */
TGT static void tile_any(const uint32_t *g0, const uint32_t *g1, int NG, const uint16_t *x, size_t xs, int NT, int64_t np, int first,
                         int last, __m512 *st, float *y, size_t ldy) {
#define T2(nt)                                                                                                              \
    case nt:                                                                                                                \
        if (NG == 2) tile(g0, g1, 2, x, xs, nt, np, first, last, st, y, ldy);                                              \
        else tile(g0, g0, 1, x, xs, nt, np, first, last, st, y, ldy);                                                      \
        break;
    switch (NT) {
        T2(12) T2(11) T2(10) T2(9) T2(8) T2(7) T2(6) T2(5) T2(4) T2(3) T2(2) default: T2(1)
    }
#undef T2
}

/* One token, groups a and b (NG = 2: both chains in step, from the two halves of the rows) or a
 * alone, np steps each: y[0..16) of a's rows, yb of b's. Each line is also asked for by a prefetch
 * as it is loaded, which let a decode step of the 0.6B shape run 4-6% faster on two threads (3
 * alternating rounds; the loads alone ran level with the 4-row kernel before); prefetches 4 KB
 * ahead made it 5-9% slower, and four chains (two groups from each half) slower than two. */
TGT static inline __attribute__((always_inline)) void one_token(const uint32_t *a, const uint32_t *b, int NG, const uint16_t *x,
                                                                int64_t np, float *ya, float *yb) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    for (int64_t p = 0; p < np; p++) {
        __m512i xb = pair(x, p);
        _mm_prefetch((const char *)(a + 16 * p), _MM_HINT_T0);
        if (NG == 2) _mm_prefetch((const char *)(b + 16 * p), _MM_HINT_T0);
        s0 = dp(s0, _mm512_loadu_si512(a + 16 * p), xb);
        if (NG == 2) s1 = dp(s1, _mm512_loadu_si512(b + 16 * p), xb);
    }
    _mm512_storeu_ps(ya, s0);
    if (NG == 2) _mm512_storeu_ps(yb, s1);
}

/* ng groups of 16 rows at G (each np pairs x 16 rows), the tokens' pairs at X (token t's at
 * X + 2 t xs, as bf16 values), n tokens: Y[t * ldy + 16 g + i] for row i of group g. */
TGT static void groups(const uint32_t *G, int64_t ng, int64_t np, const uint16_t *X, size_t xs, int n, float *Y, size_t ldy) {
    const size_t gs = (size_t)np * 16; /* a group's uint32 */
    if (n == 1) {
        /* two streams: the first half of the groups in step with the second */
        int64_t h = ng / 2;
        for (int64_t g = 0; g < h; g++) one_token(G + (size_t)g * gs, G + (size_t)(g + h) * gs, 2, X, np, Y + 16 * g, Y + 16 * (g + h));
        if (ng % 2) one_token(G + (size_t)(ng - 1) * gs, NULL, 1, X, np, Y + 16 * (ng - 1), NULL);
        return;
    }
    /* x-stationary: a tile's tokens' pairs of a block stay in L1 while the panel's groups (in L2)
     * pass under them, two groups a tile */
    int64_t PR = (int64_t)(192 * 1024) / (np * 4 * 16) * 16 / 32 * 32; /* whole tiles of rows in ~192 KB */
    PR = PR < 32 ? 32 : PR > PANEL ? PANEL : PR;
    __m512 st[PANEL / 32][2 * TT] __attribute__((aligned(64)));
    for (int64_t q0 = 0; q0 < ng; q0 += PR / 16) {
        int64_t q1 = q0 + PR / 16 < ng ? q0 + PR / 16 : ng;
        for (int t = 0; t < n; t += TT) {
            int nt = n - t < TT ? n - t : TT;
            for (int64_t p0 = 0; p0 < np; p0 += PB) {
                int64_t pn = np - p0 < PB ? np - p0 : PB;
                for (int64_t g = q0; g < q1; g += 2) {
                    int NG = q1 - g >= 2 ? 2 : 1;
                    tile_any(G + (size_t)g * gs + (size_t)p0 * 16, G + (size_t)(g + NG - 1) * gs + (size_t)p0 * 16, NG,
                             X + 2 * ((size_t)t * xs + (size_t)p0), xs, nt, pn, p0 == 0, p0 + pn == np, st[(g - q0) / 2],
                             Y + (size_t)t * ldy + 16 * (size_t)g, ldy);
                }
            }
        }
    }
}

TGT void k_dot_bf16_il_avx512(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1) {
    /* K a multiple of 32 (repack.c): a token's row is its K / 2 pairs */
    const int64_t np = W->cols / 2;
    groups((const uint32_t *)W->data + (size_t)(r0 / 16) * (size_t)np * 16, (r1 - r0) / 16, np, Xb, (size_t)np, n, Y + r0, (size_t)W->rows);
}

/* A row-major matrix: 16 rows at a time interleaved into a group on the stack (up to 1,024 columns
 * at once; longer rows a block of 1,024 columns at a time for each tile of tokens, the sums carried),
 * then the group kernels; a last partial group of rows or an odd K (whose last pair is half past the
 * row) take the scalar twin, whose bits these are. No allocation: a warm pass allocates nothing
 * (tests/unit/test_workspace.c). Only shapes that do not take the interleaved layout at load (no
 * Qwen3 matrix) or QWEN3_REPACK=0 come here (their speed is not measured: rows over 1,024 columns
 * are re-interleaved once per 12 tokens). */
TGT void k_dot_bf16_rows_avx512(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1) {
    const int64_t K = W->cols, np = K / 2;
    if (K % 2) {
        k_dot_bf16_rows_scalar(W, Xb, n, Y, r0, r1);
        return;
    }
    uint32_t grp[PB * 16] __attribute__((aligned(64)));
    __m512 st[2 * TT] __attribute__((aligned(64)));
    int64_t r = r0;
    for (; r + 16 <= r1; r += 16) {
        const uint8_t *w0 = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
        for (int t = 0; t < n; t += TT) {
            int nt = n - t < TT ? n - t : TT;
            for (int64_t p0 = 0; p0 < np; p0 += PB) {
                int64_t pn = np - p0 < PB ? np - p0 : PB;
                if (np > PB || t == 0) /* one block for every tile when the rows fit it */
                    k_il_pack(QWEN3_BF16, w0 + 4 * (size_t)p0, W->row_bytes, 16, 2 * pn, grp);
                tile_any(grp, grp, 1, Xb + 2 * ((size_t)t * (size_t)np + (size_t)p0), (size_t)np, nt, pn, p0 == 0, p0 + pn == np, st,
                         Y + (size_t)t * (size_t)W->rows + (size_t)r, (size_t)W->rows);
            }
        }
    }
    if (r < r1) k_dot_bf16_rows_scalar(W, Xb, n, Y, r, r1);
}
#else
void k_x_to_bf16_rows_avx512(const float *X, int64_t K, uint16_t *Xb, int t0, int t1) { k_x_to_bf16_rows(X, K, Xb, t0, t1); }
void k_dot_bf16_rows_avx512(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1) {
    k_dot_bf16_rows_scalar(W, Xb, n, Y, r0, r1);
}
void k_dot_bf16_il_avx512(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1) {
    k_dot_bf16_il_scalar(W, Xb, n, Y, r0, r1);
}
#endif
