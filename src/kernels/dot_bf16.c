/* dot_bf16.c - BF16 weights times bf16-rounded activations with one summation order for any number
 * of tokens: the batch-invariant fast path of BF16 weights at bf16 speed (the bf16 GEMM of
 * gemm_bf16.c sums a (row, token) in another order depending on the tile it falls in, so a token
 * computed in a prefill and the same token decoded alone would differ; see forward.c).
 *
 * The arithmetic of one (row, token), for every n and every split of rows over threads:
 *   - the activation row rounded to bf16 (k_x_to_bf16_rows: nearest even, as k_f32_to_bf16);
 *   - 16 float32 lanes; lane j takes the column pairs (c + 2j, c + 2j + 1) for c = 0, 32, 64, ...,
 *     as vdpbf16ps does: acc += w[c+2j+1] * x[c+2j+1], then acc += w[c+2j] * x[c+2j], each product
 *     exact and each sum rounded once to nearest even; bf16 denormals read as zero and a denormal
 *     sum becomes a zero of its sign (the instruction's implied DAZ / FTZ, as measured on this
 *     machine's AMD EPYC: the product is not flushed before the add); columns past K count as zeros;
 *   - the lanes reduced in a fixed tree: h8[i] = l[i] + l[i+8], h4[i] = h8[i] + h8[i+4],
 *     h2[i] = h4[i] + h4[i+2], y = h2[0] + h2[1].
 * k_dot_bf16_scalar is that arithmetic written out; the AVX512_BF16 kernels equal it bit for bit
 * (tests/unit/test_dot_bf16.c).
 *
 * AVX512_BF16 kernels: prefill keeps a register tile of 4 rows x 6 tokens (24 accumulators; per 32
 * columns 4 weight and 6 activation loads feed 24 vdpbf16ps). A tile's 6 tokens stay in L1 while a
 * panel of rows (in L2) passes under them, so per step only the 4 weight lines come from L2; rows
 * longer than 1,536 columns go in blocks of 2,048, each row group's 24 sums carried from block to
 * block. One core, interleaved rows, 512 tokens, GFLOP/s against the order before (a row group in
 * L1 while 48 tokens passed, their lines from L2): 3072 x 1024 364 -> 396 (92% of its bf16 peak),
 * 1024 x 2048 313 -> 369, 1024 x 3072 261 -> 375, 4096 x 4096 289 -> 360. Decoding (one token)
 * streams 8 rows per step with the rows ahead prefetched. A matrix interleaved by 4 rows (kernels/repack.c) runs the same tiles with the
 * 4 rows of a step side by side, and decodes a group of 4 rows as one sequential stream, two groups
 * (from the two halves of the thread's rows) in step. Every tile shape computes a (row, token) with the same instructions in the same
 * order, so the result depends neither on n nor on how the rows are split. */
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
    float l[16] = {0};
    for (int64_t c = 0; c < K; c += 32)
        for (int j = 0; j < 16; j++) {
            int64_t c0 = c + 2 * j, c1 = c0 + 1;
            float w0 = c0 < K ? bf_daz(w[c0]) : 0.0f, x0 = c0 < K ? bf_daz(x[c0]) : 0.0f;
            float w1 = c1 < K ? bf_daz(w[c1]) : 0.0f, x1 = c1 < K ? bf_daz(x[c1]) : 0.0f;
            l[j] = step(l[j], w1, x1);
            l[j] = step(l[j], w0, x0);
        }
    float h8[8], h4[4], h2[2];
    for (int i = 0; i < 8; i++) h8[i] = l[i] + l[i + 8];
    for (int i = 0; i < 4; i++) h4[i] = h8[i] + h8[i + 4];
    for (int i = 0; i < 2; i++) h2[i] = h4[i] + h4[i + 2];
    return h2[0] + h2[1];
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

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
/* gcc keeps accumulator arrays in memory unless the loops over them are unrolled outright */
#if defined(__clang__)
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif

/* the fixed reduction tree of the header, one accumulator */
TGT static inline float hsum16(__m512 v) {
    __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    return _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));
}

/* the same tree for 4 accumulators at once (the same adds on the same pairs of lanes, so the same
 * bits as hsum16 on each), 15 instructions instead of 4 x 7 */
TGT static inline __m128 hsum16x4(__m512 a, __m512 b, __m512 c, __m512 d) {
    /* l[i] + l[i+8]: [a 0-7 | b 0-7] + [a 8-15 | b 8-15] */
    __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee));
    __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xee));
    /* h8[i] + h8[i+4]: 128-bit blocks [a0 a1 b0 b1], [c0 c1 d0 d1] -> [a0 b0 c0 d0] + [a1 b1 c1 d1] */
    __m512 e = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xdd));
    /* h4[i] + h4[i+2], then h2[0] + h2[1], within each block; lane 0 of block k is accumulator k's */
    __m512 f = _mm512_add_ps(e, _mm512_permute_ps(e, 0x4e));
    __m512 g = _mm512_add_ps(f, _mm512_permute_ps(f, 0xb1));
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), g));
}

#define dp(acc, a, b) _mm512_dpbf16_ps((acc), (__m512bh)(a), (__m512bh)(b))

/* NR rows x NT tokens (constants after inlining): w rows ws elements apart and each 32-column step
 * SS elements after the last (32 row-major; 128 in the interleaved layout, where ws is 32), x rows
 * K apart, y rows ldy apart. Columns [c0, c1) (c0 a multiple of 32; c1 a multiple of 32 or K): whole
 * 32-column steps with plain loads, a last partial one (at K) masked, zeros past K. The sums start
 * at zero (first) or from st, and end in st or, after the last block of columns (last), reduced
 * into y: splitting K into blocks at multiples of 32 leaves every lane's chain of steps as it was.
 * pf: a weight row of the next row group, read into L1 one line per step while this tile computes
 * (without it the first tile of each row group waits for its weights: -25% at 3072 x 1024). */
TGT static inline __attribute__((always_inline)) void tile(const uint16_t *w, size_t ws, int NR, const uint16_t *x, int NT,
                                                           int64_t K, int64_t c0, int64_t c1, __m512 *st, int first, int last,
                                                           float *y, size_t ldy, const uint16_t *pf, int SS) {
    __m512 acc[4][6];
    UNROLL
    for (int r = 0; r < 4; r++)
        UNROLL
        for (int t = 0; t < 6; t++) acc[r][t] = _mm512_setzero_ps();
    if (!first)
        UNROLL
        for (int r = 0; r < NR; r++)
            UNROLL
            for (int t = 0; t < NT; t++) acc[r][t] = _mm512_load_ps((const float *)&st[r * 6 + t]);
    const int64_t Kf = K & ~(int64_t)31, ce = c1 < Kf ? c1 : Kf;
    for (int64_t c = c0; c < ce; c += 32) {
        const size_t o = (size_t)c * (size_t)(SS / 32); /* the step's offset */
        _mm_prefetch((const char *)(pf + o), _MM_HINT_T0);
        __m512i wv[4];
        UNROLL
        for (int r = 0; r < NR; r++) wv[r] = _mm512_loadu_si512(w + (size_t)r * ws + o);
        UNROLL
        for (int t = 0; t < NT; t++) {
            __m512i xv = _mm512_loadu_si512(x + (size_t)t * (size_t)K + (size_t)c);
            UNROLL
            for (int r = 0; r < NR; r++) acc[r][t] = dp(acc[r][t], wv[r], xv);
        }
    }
    if (c1 == K && Kf < K) {
        __mmask32 m = (__mmask32)((1u << (K - Kf)) - 1);
        __m512i wv[4];
        UNROLL
        for (int r = 0; r < NR; r++) wv[r] = _mm512_maskz_loadu_epi16(m, w + (size_t)r * ws + (size_t)Kf * (size_t)(SS / 32));
        UNROLL
        for (int t = 0; t < NT; t++) {
            __m512i xv = _mm512_maskz_loadu_epi16(m, x + (size_t)t * (size_t)K + (size_t)Kf);
            UNROLL
            for (int r = 0; r < NR; r++) acc[r][t] = dp(acc[r][t], wv[r], xv);
        }
    }
    if (!last) {
        UNROLL
        for (int r = 0; r < NR; r++)
            UNROLL
            for (int t = 0; t < NT; t++) _mm512_store_ps((float *)&st[r * 6 + t], acc[r][t]);
        return;
    }
    if (NR == 4)
        UNROLL
        for (int t = 0; t < NT; t++) _mm_storeu_ps(y + (size_t)t * ldy, hsum16x4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]));
    else
        UNROLL
        for (int t = 0; t < NT; t++)
            UNROLL
            for (int r = 0; r < NR; r++) y[(size_t)t * ldy + (size_t)r] = hsum16(acc[r][t]);
}

/* One token, NR (<= 8) rows per step: NR weight streams, one activation load per 32 columns, and the
 * rows of the next step prefetched PF_AHEAD bytes ahead of the column being read (rows are
 * contiguous, so that is a sequential read of the matrix the hardware prefetcher also follows). */
TGT static inline __attribute__((always_inline)) void rows1(const uint16_t *w, size_t ws, int NR, const uint16_t *x, int64_t K,
                                                            float *y) {
    __m512 acc[8];
    UNROLL
    for (int r = 0; r < 8; r++) acc[r] = _mm512_setzero_ps();
    const int64_t Kf = K & ~(int64_t)31;
    const uint16_t *next = w + (size_t)NR * ws; /* the next step's rows */
    for (int64_t c = 0; c < Kf; c += 32) {
        __m512i xv = _mm512_loadu_si512(x + (size_t)c);
        /* the next NR rows, one 64-byte line per row per step: they arrive while these are summed */
        UNROLL
        for (int r = 0; r < NR; r++) _mm_prefetch((const char *)(next + (size_t)r * ws + (size_t)c), _MM_HINT_T0);
        UNROLL
        for (int r = 0; r < NR; r++) acc[r] = dp(acc[r], _mm512_loadu_si512(w + (size_t)r * ws + (size_t)c), xv);
    }
    if (Kf < K) {
        __mmask32 m = (__mmask32)((1u << (K - Kf)) - 1);
        __m512i xv = _mm512_maskz_loadu_epi16(m, x + (size_t)Kf);
        UNROLL
        for (int r = 0; r < NR; r++) acc[r] = dp(acc[r], _mm512_maskz_loadu_epi16(m, w + (size_t)r * ws + (size_t)Kf), xv);
    }
    UNROLL
    for (int r = 0; r < NR; r++) y[r] = hsum16(acc[r]);
}

/* k_x_to_bf16_rows with integer AVX-512, the same bits as k_f32_to_bf16 (vcvtneps2bf16 would read
 * denormal floats as zero, which rounds 0x007fffff to 0 instead of the smallest normal bf16) */
TGT void k_x_to_bf16_rows_avx512(const float *X, int64_t K, uint16_t *Xb, int t0, int t1) {
    size_t i = (size_t)t0 * (size_t)K, e = (size_t)t1 * (size_t)K;
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff), inf = _mm512_set1_epi32(0x7f800000),
                  abs = _mm512_set1_epi32(0x7fffffff), quiet = _mm512_set1_epi32(0x00400000);
    for (; i < e; i += 16) {
        __mmask16 m = e - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (e - i)) - 1);
        __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, X + i));
        __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(u, 16), one)));
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs), inf);
        r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, quiet));
        _mm256_mask_storeu_epi16(Xb + i, m, _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    }
}

/* The longest rows of the x-stationary order (a tile's 6 tokens: 18 KB at 1536). */
#define XSTAT_MAXK 1536
/* Rows per panel of the blocked x-stationary order at most (their sums: 24 KB of stack). */
#define XSTAT_PANEL 64
/* Columns per block past XSTAT_MAXK: a tile's 6 tokens of a block (24 KB) stay in L1 while the
 * panel's row groups pass, each with its sums (1.5 KB). 2,048 rather than 1,024 (so o's 2,048 columns
 * go in one block and down's 3,072 in two): one thread, 512 tokens, bench/bf16.sh with the kernel
 * built both ways, 3 alternating rounds, 1024 x 2048 at 78.9-81.1% -> 84.1-84.7% of the bf16 peak,
 * 1024 x 3072 level (79.5-81.9% -> 78.6-80.3%); blocks of 512 or 1,536 were slower, 3,072 slower for
 * down. */
#define KBLOCK 2048

/* one 4-row x nt-token tile (nt <= 6) with constant NT and SS after inlining */
TGT static inline __attribute__((always_inline)) void tile4(const uint16_t *w, size_t ws, const uint16_t *x, int nt, int64_t K,
                                                            int64_t c0, int64_t c1, __m512 *st, int first, int last, float *y,
                                                            size_t ldy, const uint16_t *pf, int SS) {
    switch (nt) {
    case 6: tile(w, ws, 4, x, 6, K, c0, c1, st, first, last, y, ldy, pf, SS); break;
    case 5: tile(w, ws, 4, x, 5, K, c0, c1, st, first, last, y, ldy, pf, SS); break;
    case 4: tile(w, ws, 4, x, 4, K, c0, c1, st, first, last, y, ldy, pf, SS); break;
    case 3: tile(w, ws, 4, x, 3, K, c0, c1, st, first, last, y, ldy, pf, SS); break;
    case 2: tile(w, ws, 4, x, 2, K, c0, c1, st, first, last, y, ldy, pf, SS); break;
    default: tile(w, ws, 4, x, 1, K, c0, c1, st, first, last, y, ldy, pf, SS); break;
    }
}

/* One token, one group of 4 interleaved rows (repack.c's BF16 layout), or two (g and h, NG = 2) in
 * step: a group's 4 rows are one sequential stream, 256 bytes per 32-column step, prefetched 4 KB
 * ahead; each row's accumulator and reduction are rows1's. */
TGT static inline __attribute__((always_inline)) void il_groups(const uint16_t *g, const uint16_t *h, int NG, int64_t K,
                                                                const uint16_t *x, float *yg, float *yh) {
    __m512 acc[8];
    UNROLL
    for (int r = 0; r < 8; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t c = 0; c < K; c += 32, g += 128, h += 128) {
        __m512i xv = _mm512_loadu_si512(x + (size_t)c);
        UNROLL
        for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(g + 2048 + 32 * r), _MM_HINT_T0);
        if (NG == 2) {
            UNROLL
            for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(h + 2048 + 32 * r), _MM_HINT_T0);
        }
        UNROLL
        for (int r = 0; r < 4; r++) acc[r] = dp(acc[r], _mm512_loadu_si512(g + 32 * r), xv);
        if (NG == 2) {
            UNROLL
            for (int r = 0; r < 4; r++) acc[4 + r] = dp(acc[4 + r], _mm512_loadu_si512(h + 32 * r), xv);
        }
    }
    _mm_storeu_ps(yg, hsum16x4(acc[0], acc[1], acc[2], acc[3]));
    if (NG == 2) _mm_storeu_ps(yh, hsum16x4(acc[4], acc[5], acc[6], acc[7]));
}

/* rows [r0, r1) x n tokens, Y[t * ldy + r]: row-major rows ws elements apart (il 0), or interleaved
 * by 4 rows (il 4; r0 and r1 multiples of 4, K of 32) */
TGT static void dot_rows(const uint16_t *base, size_t ws, int il, int64_t K, size_t ldy, const uint16_t *Xb, int n, float *Y,
                         int64_t r0, int64_t r1) {
    const size_t group = 4 * (size_t)K; /* elements per interleaved group */
    if (n == 1) {
        int64_t r = r0;
        if (il) {
            /* two streams: the first half of the groups in step with the second, which one core
             * reads from memory faster than one stream (as gemm_q8.c's one-token kernel) */
            int64_t ng = (r1 - r0) / 4, hg = ng / 2;
            for (int64_t i = 0; i < hg; i++) {
                int64_t ra = r0 + 4 * i, rb = r0 + 4 * (i + hg);
                il_groups(base + (size_t)(ra / 4) * group, base + (size_t)(rb / 4) * group, 2, K, Xb, Y + ra, Y + rb);
            }
            if (ng % 2) {
                const uint16_t *g = base + (size_t)(r0 / 4 + ng - 1) * group;
                il_groups(g, g, 1, K, Xb, Y + r0 + 4 * (ng - 1), Y + r0 + 4 * (ng - 1)); /* h unread */
            }
            return;
        }
        for (; r + 8 <= r1; r += 8) rows1(base + (size_t)r * ws, ws, 8, Xb, K, Y + r);
        for (; r < r1; r++) rows1(base + (size_t)r * ws, ws, 1, Xb, K, Y + r);
        return;
    }
    /* x-stationary: a tile's 6 tokens stay in L1 while the weight rows of a panel (in L2) pass under
     * them. Rows longer than XSTAT_MAXK go in blocks of KBLOCK columns, each row group's 24 sums
     * carried between blocks in xs (PR / 4 groups x 1.5 KB). A range's last rows that are not a
     * whole group (row-major matrices only) take one (row, token) at a time, sums in xs too. */
    const int blocked = K > XSTAT_MAXK;
    int64_t PR = blocked ? (int64_t)(384 * 1024) / (K * 2) : (int64_t)(192 * 1024) / (K * 2);
    PR = PR / 4 * 4;
    PR = PR < 4 ? 4 : blocked && PR > XSTAT_PANEL ? XSTAT_PANEL : PR;
    __m512 xs[XSTAT_PANEL / 4][24] __attribute__((aligned(64)));
    for (int64_t p0 = r0; p0 < r1; p0 += PR) {
        int64_t p1 = p0 + PR < r1 ? p0 + PR : r1;
        for (int t = 0; t < n; t += 6) {
            int nt = n - t >= 6 ? 6 : n - t;
            const uint16_t *x = Xb + (size_t)t * (size_t)K;
            for (int64_t c0 = 0; c0 < K; c0 += blocked ? KBLOCK : K) {
                int64_t c1 = blocked && K - c0 > KBLOCK ? c0 + KBLOCK : K;
                for (int64_t r = p0; r < p1; r += 4) {
                    const int nr = p1 - r >= 4 ? 4 : (int)(p1 - r);
                    const uint16_t *w = il ? base + (size_t)(r / 4) * group : base + (size_t)r * ws;
                    float *y = Y + (size_t)t * ldy + (size_t)r;
                    int64_t pr = r + 4 < p1 ? r + 4 : r;
                    __m512 *st = blocked ? xs[(r - p0) / 4] : NULL; /* unread when not blocked */
                    if (il) tile4(w, 32, x, nt, K, c0, c1, st, c0 == 0, c1 == K, y, ldy, base + (size_t)(pr / 4) * group, 128);
                    else if (nr == 4) tile4(w, ws, x, nt, K, c0, c1, st, c0 == 0, c1 == K, y, ldy, base + (size_t)pr * ws, 32);
                    else
                        for (int i = 0; i < nr; i++)
                            for (int u = 0; u < nt; u++)
                                tile(w + (size_t)i * ws, ws, 1, x + (size_t)u * (size_t)K, 1, K, c0, c1, st ? st + i * 6 + u : NULL,
                                     c0 == 0, c1 == K, y + (size_t)u * ldy + i, ldy, w, 32);
                }
            }
        }
    }
}

TGT void k_dot_bf16_rows_avx512(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1) {
    dot_rows(W->data, W->row_bytes / 2, 0, W->cols, (size_t)W->rows, Xb, n, Y, r0, r1);
}

TGT void k_dot_bf16_il_avx512(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1) {
    dot_rows(W->data, 0, 4, W->cols, (size_t)W->rows, Xb, n, Y, r0, r1);
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
