/* gemm_q8.c - Q8_0 weights times A8_0 activations (int8 blocks of 32 with a float scale), AVX-512
 * VNNI, with the arithmetic of the scalar twin kq_dot_q8_0_scalar for every (row, token): for each
 * block b in order, the exact integer s = sum_j w_j x_j, then acc = acc + (float)s * (d_w * d_x),
 * the products and the sum each rounded once (no fusion), acc starting at 0. So a token's result
 * has the same bits whether it is computed alone (decoding) or in a product over many tokens
 * (prefill), and equals the scalar twin's: the batch-invariant path of Q8_0 (forward.c).
 *
 * Many tokens, row-major (kq_gemm_q8_0_avx512, a model loaded with QWEN3_REPACK=0): a SIMD lane per
 * token. Activations are packed per 16 tokens
 * and block as [4-byte group g][16 tokens] (one 512-bit load gives 16 tokens' bytes of group g),
 * with each token's d_x and sum of x; a weight row's group (4 bytes, + 128 to make them unsigned)
 * is broadcast, and vpdpbusd adds (w + 128) x over the group into each token's int32 lane, so after
 * 8 groups the lane holds sum (w + 128) x = s + 128 sum x exactly (no saturation); the lane starts
 * at -128 sum x, so it ends at s. A tile of 4 rows x 32 tokens keeps 8 integer and 8 float
 * accumulators, its results going to Y 16 rows at a time (out16.h); tokens are packed in chunks of
 * 128 that stay in L2 while this thread's rows pass. Interleaved by 16 rows (the default layout,
 * repack.c): one token, kq_gemv_q8_0_il_avx512, and many, kq_gemm_q8_0_il_avx512, both with the 16
 * rows in the lanes (see there). Row-major, few tokens (kq_gemv_q8_0_avx512, a token at a time): 8 rows
 * per step, two rows per 512-bit vector, the 8 int32 lanes of each row's block summed exactly by a
 * shuffle tree and the 8 rows' float sums kept in one 256-bit vector; the rows left over take 4 rows
 * per step (kq_dot_q8_0_avx512_rows, vphaddd). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
/* gcc keeps accumulator arrays in memory unless their loops are unrolled outright */
#if defined(__clang__)
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif
#include "kernels/out16.h"
#include "kernels/act_block512.h"

/* 128 * the sum of a block's 32 activation bytes (exact): the bias of weights stored + 128 */
static inline int32_t sum128(const int8_t *x) {
    int32_t t = 0;
    for (int j = 0; j < 32; j++) t += x[j];
    return 128 * t;
}

/* 4 rows (nr <= 4) x one token: y[r] for the rows at w (wstride apart) */
TGT static void rows4_one(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t K, float *y) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, K);
    const __m256i bias = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi8(1);
    const uint8_t *row[4];
    for (int r = 0; r < 4; r++) row[r] = w + (size_t)(r < nr ? r : 0) * wstride;
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < K / 32; b++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));
        /* 128 * sum(x) in each lane of a 4-vector (exact) */
        __m256i sx8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, x);
        __m128i sx4 = _mm_add_epi32(_mm256_castsi256_si128(sx8), _mm256_extracti128_si256(sx8, 1));
        sx4 = _mm_hadd_epi32(sx4, sx4);
        sx4 = _mm_hadd_epi32(sx4, sx4);
        sx4 = _mm_slli_epi32(sx4, 7);
        if ((b & 1) == 0)
            for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(w + (size_t)(4 + r) * wstride + (size_t)b * 34), _MM_HINT_T0);
        __m256i p[4];
        uint16_t dh[4];
        for (int r = 0; r < 4; r++) {
            const uint8_t *blk = row[r] + (size_t)b * 34;
            __m256i wu = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), bias);
            p[r] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wu, x);
            memcpy(&dh[r], blk, 2);
        }
        /* exact integer sums of the 8 lanes of each row: [r0 r1 r2 r3] */
        __m256i h01 = _mm256_hadd_epi32(p[0], p[1]), h23 = _mm256_hadd_epi32(p[2], p[3]);
        __m256i h = _mm256_hadd_epi32(h01, h23);
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        s = _mm_sub_epi32(s, sx4);
        __m128 dw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)dh[3], (short)dh[2], (short)dh[1], (short)dh[0]));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(s), _mm_mul_ps(dw, _mm_set1_ps(xd[b]))));
    }
    float out[4];
    _mm_storeu_ps(out, acc);
    for (int r = 0; r < nr; r++) y[r] = out[r];
}

void kq_dot_q8_0_avx512_rows(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t K, float *y) {
    rows4_one(w, wstride, nr, arow, K, y);
}

/* ---- one token, many rows (decoding) */

#define GEMV_MAX_BLOCKS 2048 /* K <= 65536; longer rows take rows4_one */

/* 8 rows x one token: 2 rows per 512-bit vector (row i in the low half, row i + 1 in the high), the
 * block's x broadcast to both halves, so 4 vpdpbusd give the 8 lanes of all 8 rows; a shuffle tree
 * (12 operations) sums each row's 8 lanes exactly into one vector [r0 r2 r4 r6 r1 r3 r5 r7], which
 * then gets the scalar twin's float step for 8 rows at once. The 8 scales are gathered through two
 * general registers in the same order. Prefetch: the next 8 rows are one contiguous range; each
 * block step fetches its share of it (8 x 34 bytes), a group ahead of use. */
TGT static inline __attribute__((always_inline)) void rows8_one(const uint8_t *w, size_t wstride, const int8_t *xq, const float *xd,
                                                               const int32_t *sx, int64_t nb, float *y, int prefetch) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const uint8_t *row[8];
    for (int r = 0; r < 8; r++) row[r] = w + (size_t)r * wstride;
    const uint8_t *next = w + 8 * wstride;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        if (prefetch)
            for (int k = 0; k < 5; k++) _mm_prefetch((const char *)(next + (size_t)b * 272 + 64 * k), _MM_HINT_T0);
        __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(xq + 32 * b)));
        __m512i p[4];
        for (int i = 0; i < 4; i++) {
            const uint8_t *b0 = row[2 * i] + (size_t)b * 34 + 2, *b1 = row[2 * i + 1] + (size_t)b * 34 + 2;
            __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)b0)),
                                            _mm256_loadu_si256((const __m256i *)b1), 1);
            p[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(wv, bias), x);
        }
        /* per 128-bit lane L: [sum P0.L, sum P1.L, sum P2.L, sum P3.L] */
        __m512i u01 = _mm512_add_epi32(_mm512_unpacklo_epi32(p[0], p[1]), _mm512_unpackhi_epi32(p[0], p[1]));
        __m512i u23 = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2], p[3]), _mm512_unpackhi_epi32(p[2], p[3]));
        __m512i q = _mm512_add_epi32(_mm512_unpacklo_epi64(u01, u23), _mm512_unpackhi_epi64(u01, u23));
        /* lanes 0 + 1 hold rows 0 2 4 6, lanes 2 + 3 rows 1 3 5 7 */
        __m512i s2 = _mm512_add_epi32(_mm512_shuffle_i64x2(q, q, 0x08), _mm512_shuffle_i64x2(q, q, 0x0D));
        __m256i s = _mm256_sub_epi32(_mm512_castsi512_si256(s2), _mm256_set1_epi32(sx[b]));
        uint64_t lo = 0, hi = 0;
        for (int i = 0; i < 4; i++) {
            uint16_t d0, d1;
            memcpy(&d0, row[2 * i] + (size_t)b * 34, 2);
            memcpy(&d1, row[2 * i + 1] + (size_t)b * 34, 2);
            lo |= (uint64_t)d0 << (16 * i);
            hi |= (uint64_t)d1 << (16 * i);
        }
        __m256 dw = _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(xd[b]))));
    }
    _mm256_storeu_ps(y, _mm256_permutexvar_ps(_mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), acc));
}

TGT void kq_gemv_q8_0_avx512(const kmat *W, const void *arow, float *y, int64_t r0, int64_t r1) {
    const int64_t K = W->cols, nb = K / 32;
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, K);
    const uint8_t *base = W->data;
    int64_t r = r0;
    if (nb <= GEMV_MAX_BLOCKS) {
        /* 128 * sum(x) per block, exact: the bias of the unsigned weights (w + 128) */
        int32_t sx[GEMV_MAX_BLOCKS];
        for (int64_t b = 0; b < nb; b++) {
            int32_t t = 0;
            for (int j = 0; j < 32; j++) t += xq[32 * b + j];
            sx[b] = 128 * t;
        }
        for (; r + 8 <= r1; r += 8)
            rows8_one(base + (size_t)r * W->row_bytes, W->row_bytes, xq, xd, sx, nb, y + r, r + 16 <= r1);
    }
    for (; r < r1; r += 4)
        rows4_one(base + (size_t)r * W->row_bytes, W->row_bytes, r1 - r < 4 ? (int)(r1 - r) : 4, arow, K, y + r);
}

/* ---- many tokens */

#define CHUNK 128 /* tokens packed at a time: 8 vectors of 16 (<= 500 KB at K = 3072, in L2) */

/* packed block of 16 tokens: q[g][t][4], then d[t], then sx128[t] = 128 * sum x */
typedef struct { int8_t q[8][16][4]; float d[16]; int32_t sx[16]; } pblock;

/* Packs tokens [t0, t0 + cnt) (cnt <= 16; missing tokens zero) of the A8_0 rows into nb pblocks. */
static void pack16(const void *A, size_t arow_bytes, int t0, int cnt, int64_t K, pblock *out) {
    const int64_t nb = K / 32;
    memset(out, 0, sizeof(pblock) * (size_t)nb);
    for (int t = 0; t < cnt; t++) {
        void *arow = (uint8_t *)A + (size_t)(t0 + t) * arow_bytes;
        const int8_t *q = kq_act_q(arow);
        const float *d = kq_act_d(arow, K);
        for (int64_t b = 0; b < nb; b++) {
            int32_t sx = 0;
            for (int g = 0; g < 8; g++) memcpy(out[b].q[g][t], q + 32 * b + 4 * g, 4); /* a group a move */
            for (int i = 0; i < 32; i++) sx += q[32 * b + i];
            out[b].d[t] = d[b];
            out[b].sx[t] = sx * 128;
        }
    }
}

/* Where row r's block b keeps its scale and its 4-byte piece g (row-major; the piece's bytes are
 * stored int8, + 128 here) */
#define W_SCALE(w, wstride, r, b) ((w) + (size_t)(r) * (wstride) + (size_t)(b) * 34)
#define W_PIECE(w, wstride, r, b, g) ((w) + (size_t)(r) * (wstride) + (size_t)(b) * 34 + 2 + 4 * (g))

/* rows [r, r + NR) x token vectors P0 (and P1 when NV == 2) of one chunk; the results into ob (the
 * 16 tokens of P0, then those of P1) at column c */
TGT static inline __attribute__((always_inline)) void tile(const uint8_t *w, size_t wstride, int NR, const pblock *P0,
                                                           const pblock *P1, int NV, int64_t nb, float (*ob)[16], int c) {
    __m512 acc[4][2];
    UNROLL
    for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    UNROLL
    for (int64_t b = 0; b < nb; b++) {
        /* the sums start at -128 sum x (exact), so that after the 8 groups they hold s itself */
        const __m512i nsx0 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_load_si512(P0[b].sx));
        const __m512i nsx1 = NV == 2 ? _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_load_si512(P1[b].sx)) : nsx0;
        __m512i is[4][2];
        UNROLL
        for (int r = 0; r < 4; r++) is[r][0] = nsx0, is[r][1] = nsx1;
        UNROLL
        for (int g = 0; g < 8; g++) {
            __m512i a0 = _mm512_load_si512(P0[b].q[g]), a1 = NV == 2 ? _mm512_load_si512(P1[b].q[g]) : a0;
            UNROLL
            for (int r = 0; r < NR; r++) {
                uint32_t wg;
                memcpy(&wg, W_PIECE(w, wstride, r, b, g), 4);
                __m512i wb = _mm512_set1_epi32((int)(wg ^ 0x80808080u));
                is[r][0] = _mm512_dpbusd_epi32(is[r][0], wb, a0);
                if (NV == 2) is[r][1] = _mm512_dpbusd_epi32(is[r][1], wb, a1);
            }
        }
        __m512 dx0 = _mm512_load_ps(P0[b].d), dx1 = NV == 2 ? _mm512_load_ps(P1[b].d) : dx0;
        UNROLL
        for (int r = 0; r < NR; r++) {
            uint16_t dh;
            memcpy(&dh, W_SCALE(w, wstride, r, b), 2);
            __m512 dw = _mm512_set1_ps(_cvtsh_ss(dh));
            acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_mul_ps(_mm512_cvtepi32_ps(is[r][0]), _mm512_mul_ps(dw, dx0)));
            if (NV == 2) acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_mul_ps(_mm512_cvtepi32_ps(is[r][1]), _mm512_mul_ps(dw, dx1)));
        }
    }
    __m512 a0[4] = {acc[0][0], acc[1][0], acc[2][0], acc[3][0]};
    out16_put4(a0, ob, c);
    if (NV == 2) {
        __m512 a1[4] = {acc[0][1], acc[1][1], acc[2][1], acc[3][1]};
        out16_put4(a1, ob + 16, c);
    }
}

TGT static inline __attribute__((always_inline)) int gemm(const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0,
                                                          int64_t r1) {
    const int64_t K = W->cols, nb = K / 32;
    pblock *P = NULL;
    /* under 8 tokens the one-token kernel is faster; without memory for the packing it gives the
     * same bits (the caller runs it) */
    if (n < KQ_GEMM_MIN_TOKENS || posix_memalign((void **)&P, 64, sizeof(pblock) * (size_t)nb * (CHUNK / 16))) return 0;
    float ob[CHUNK][16] __attribute__((aligned(64))); /* 16 rows' results (out16.h) */
    for (int c0 = 0; c0 < n; c0 += CHUNK) {
        int cn = n - c0 < CHUNK ? n - c0 : CHUNK, nv = (cn + 15) / 16;
        for (int v = 0; v < nv; v++) pack16(A, arow_bytes, c0 + 16 * v, cn - 16 * v < 16 ? cn - 16 * v : 16, K, P + (size_t)v * nb);
        for (int64_t rb = r0; rb < r1; rb += 16) {
            int nrb = r1 - rb < 16 ? (int)(r1 - rb) : 16, pf = 0;
            float *y = Y + (size_t)c0 * (size_t)W->rows + (size_t)rb;
            for (int64_t r = rb; r < rb + nrb; r += 4) {
                int nr = rb + nrb - r < 4 ? (int)(rb + nrb - r) : 4;
                const uint8_t *w = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
                size_t ws = W->row_bytes;
                for (int v = 0; v < nv; v += 2) {
                    int two = v + 1 < nv;
                    const pblock *P0 = P + (size_t)v * nb, *P1 = two ? P + (size_t)(v + 1) * nb : P0;
                    out16_prefetch(y, (size_t)W->rows, cn, &pf, 16);
                    float(*o)[16] = ob + 16 * v;
                    int c = (int)(r - rb);
                    if (nr == 4 && two) tile(w, ws, 4, P0, P1, 2, nb, o, c);
                    else if (nr == 4) tile(w, ws, 4, P0, P1, 1, nb, o, c);
                    else tile(w, ws, nr, P0, P1, two ? 2 : 1, nb, o, c);
                }
            }
            out16_flush(ob, cn, nrb, y, (size_t)W->rows);
        }
    }
    free(P);
    return 1;
}

TGT int kq_gemm_q8_0_avx512(const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1) {
    return gemm(W, A, arow_bytes, n, Y, r0, r1);
}

/* ---- many tokens, a matrix interleaved in groups of 16 rows (repack.c): rows in the lanes
 *
 * The tile is two groups of 16 rows x TT = 6 tokens (12 integer and 12 float accumulators). A
 * block's piece g of a group's 16 rows is one 64-byte load (stored + 128: the unsigned operand); a
 * token's 4 bytes of piece g are broadcast (the signed operand) and serve both groups, so per block
 * 16 weight loads, 48 broadcasts and 96 vpdpbusd, each sum starting at -128 sum x (per token and
 * block, packed with the tokens); then the float step for 16 rows at once (the 16 scales one load,
 * the token's d broadcast). Each token's 16 results are one 64-byte store to its row of Y, with no
 * transposition. Same integer sums and float steps as the scalar twin, in its order: the same bits.
 * One thread, 3072 x 1024 and 1024 x 3072 matrices x 512 tokens (CPU time, best of 56, alternating
 * with the tile above on the same layout, Zen 5): 484 / 492 -> 633 / 608 GOP/s, 70% of the core's
 * int8 peak. Tried: one group x 8 tokens (518 / 509: a broadcast per vpdpbusd), the broadcast inside
 * vpdpbusd ({1to16}, inline assembly: 474 / 487, slower on this core), 2 x 7 tokens (563: spills). */
#define TT 6
/* TT tokens' block b, packed: their 32 bytes each, their d, and -128 x their sum (exact); padding
 * tokens are zeros */
typedef struct {
    int8_t q[TT][32];
    float d[TT];
    int32_t nsx[TT];
} ilblk;
_Static_assert(sizeof(ilblk) == TT * (32 + 4 + 4), "ilblk has no padding: a full tile's packing writes every byte");

/* NG groups of 16 rows (p, and q when NG == 2) x the TT tokens of the packed blocks a[0..nb); a
 * token's 16 results of group p to yp[t], of group q to yq[t], for t < nt (the others are padding). */
TGT static inline __attribute__((always_inline)) void il_tile(const uint8_t *p, const uint8_t *q, int NG, const ilblk *a,
                                                              int64_t nb, int nt, float *const *yp, float *const *yq) {
    __m512 acc[2][TT];
    UNROLL
    for (int t = 0; t < TT; t++) acc[0][t] = acc[1][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++, a++) {
        const size_t od = k_q8il_d(b), oq = k_q8il_q(b, nb);
        __m512i s[2][TT];
        UNROLL
        for (int t = 0; t < TT; t++) s[0][t] = s[1][t] = _mm512_set1_epi32(a->nsx[t]);
        UNROLL
        for (int g = 0; g < 8; g++) {
            __m512i wp = _mm512_loadu_si512(p + oq + 64 * g), wq = NG == 2 ? _mm512_loadu_si512(q + oq + 64 * g) : wp;
            UNROLL
            for (int t = 0; t < TT; t++) {
                int32_t xg;
                memcpy(&xg, &a->q[t][4 * g], 4);
                __m512i xb = _mm512_set1_epi32(xg);
                s[0][t] = _mm512_dpbusd_epi32(s[0][t], wp, xb);
                if (NG == 2) s[1][t] = _mm512_dpbusd_epi32(s[1][t], wq, xb);
            }
        }
        __m512 dwp = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + od)));
        __m512 dwq = NG == 2 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(q + od))) : dwp;
        UNROLL
        for (int t = 0; t < TT; t++) {
            __m512 dx = _mm512_set1_ps(a->d[t]);
            acc[0][t] = _mm512_add_ps(acc[0][t], _mm512_mul_ps(_mm512_cvtepi32_ps(s[0][t]), _mm512_mul_ps(dwp, dx)));
            if (NG == 2)
                acc[1][t] = _mm512_add_ps(acc[1][t], _mm512_mul_ps(_mm512_cvtepi32_ps(s[1][t]), _mm512_mul_ps(dwq, dx)));
        }
    }
    for (int t = 0; t < nt; t++) {
        _mm512_storeu_ps(yp[t], acc[0][t]);
        if (NG == 2) _mm512_storeu_ps(yq[t], acc[1][t]);
    }
}

#define IL_CHUNK 96 /* tokens a pass over the rows reads (16 tiles, 240 KB at K = 3072: in L2 while the rows pass) */

/* tokens [t0, t1) of the n rows of A into their tiles: nb packed blocks per tile of TT tokens */
static void il_pack(const void *A, size_t arow_bytes, int n, int t0, int t1, int64_t K, void *out) {
    const int64_t nb = K / 32;
    ilblk *P = out;
    const int tend = ((t1 < n ? t1 : n) + TT - 1) / TT; /* past the last tile (its padding tokens zero) */
    memset(P + (size_t)(t0 / TT) * (size_t)nb, 0, sizeof *P * (size_t)nb * (size_t)(tend - t0 / TT));
    for (int t = t0; t < t1 && t < n; t++) {
        void *arow = (uint8_t *)A + (size_t)t * arow_bytes; /* kq_act_q takes it unqualified */
        const int8_t *xq = kq_act_q(arow);
        const float *xd = kq_act_d(arow, K);
        ilblk *pt = P + (size_t)(t / TT) * (size_t)nb;
        for (int64_t b = 0; b < nb; b++) {
            memcpy(pt[b].q[t % TT], xq + 32 * b, 32);
            pt[b].d[t % TT] = xd[b];
            pt[b].nsx[t % TT] = -sum128(xq + 32 * b);
        }
    }
}

/* il_pack straight from the float rows (kq_pack.pack_x): each block quantized by the row
 * quantizer's steps (act_block512.h, A8_0) into its tile, its sum from the bytes just made: the
 * bytes of il_pack over quantized rows (tests/unit/test_matmul_packed.c), in one pass over memory
 * where the rows and their packing took two and a hand-off between */
TGT static void il_pack_x(const float *X, int n, int t0, int t1, int64_t K, void *out) {
    const int64_t nb = K / 32;
    ilblk *P = out;
    const int tn = t1 < n ? t1 : n;
    if (tn % TT) /* the last tile's padding tokens zero; a full tile writes every byte */
        memset(P + (size_t)(tn / TT) * (size_t)nb, 0, sizeof *P * (size_t)nb);
    for (int t = t0; t < tn; t++) {
        const float *x = X + (size_t)t * (size_t)K;
        ilblk *pt = P + (size_t)(t / TT) * (size_t)nb;
        for (int64_t b = 0; b < nb; b++, x += 32) {
            int32_t sum;
            _mm256_storeu_si256((__m256i *)pt[b].q[t % TT], kq_a8_0_block512(x, &pt[b].d[t % TT], &sum));
            pt[b].nsx[t % TT] = -128 * sum;
        }
    }
}

static size_t il_bytes(int n, int64_t K) { return sizeof(ilblk) * (size_t)(K / 32) * (size_t)((n + TT - 1) / TT); }

const kq_pack kq_pack_q8_0_il = {TT, il_bytes, il_pack, il_pack_x};

/* rows [r0, r1) x the cn tokens from c0 whose tiles start at P (c0 a multiple of TT) */
TGT static void il_chunk(const kmat *W, const ilblk *P, int c0, int cn, float *Y, int64_t r0, int64_t r1) {
    const int64_t nb = W->cols / 32;
    const int ntile = (cn + TT - 1) / TT;
    for (int64_t r = r0; r < r1; r += 32) {
        int two = r + 32 <= r1;
        const uint8_t *p = (const uint8_t *)W->data + (size_t)r * W->row_bytes, *q = p + (size_t)16 * W->row_bytes;
        for (int k = 0; k < ntile; k++) {
            float *yp[TT], *yq[TT];
            int nt = cn - TT * k < TT ? cn - TT * k : TT;
            for (int t = 0; t < nt; t++) {
                yp[t] = Y + (size_t)(c0 + TT * k + t) * (size_t)W->rows + (size_t)r;
                yq[t] = yp[t] + 16;
            }
            if (two) il_tile(p, q, 2, P + (size_t)k * (size_t)nb, nb, nt, yp, yq);
            else il_tile(p, p, 1, P + (size_t)k * (size_t)nb, nb, nt, yp, yp); /* q unread */
        }
    }
}

/* under 8 tokens the one-token kernel is faster (0: the caller runs it, the same bits) */
TGT int kq_gemm_q8_0_il_p_avx512(const kmat *W, const void *P, int n, float *Y, int64_t r0, int64_t r1) {
    if (n < KQ_GEMM_MIN_TOKENS) return 0;
    const ilblk *B = P;
    for (int c0 = 0; c0 < n; c0 += IL_CHUNK)
        il_chunk(W, B + (size_t)(c0 / TT) * (size_t)(W->cols / 32), c0, n - c0 < IL_CHUNK ? n - c0 : IL_CHUNK, Y, r0, r1);
    return 1;
}

/* the same packing, this call's own (a caller without a packed input) */
TGT int kq_gemm_q8_0_il_avx512(const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1) {
    return kq_gemm_own_packing(&kq_pack_q8_0_il, kq_gemm_q8_0_il_p_avx512, W, A, arow_bytes, n, Y, r0, r1);
}

/* ---- one token, a matrix interleaved in groups of 16 rows (repack.c) */

/* One group of 16 rows (p) or two (p and q, NG = 2) x one token. Per group and block: 8 vpdpbusd,
 * each the same 4-byte piece of the 16 rows (+ 128, unsigned) against that piece of x broadcast,
 * in two chains; their sum minus 128 * sum(x) is each row's exact block sum in its own lane; then
 * the scalar twin's float step for 16 rows at once, the 16 scales one load. */
TGT static inline __attribute__((always_inline)) void il_groups(const uint8_t *p, const uint8_t *q, int NG, const int8_t *xq,
                                                                const float *xd, const int32_t *sx, int64_t nb, float *yp, float *yq) {
    __m512 acc = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const size_t od = k_q8il_d(b), oq = k_q8il_q(b, nb);
        int32_t xg[8];
        memcpy(xg, xq + 32 * b, 32);
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, t0 = s0, t1 = s0;
        for (int g = 0; g < 8; g += 2) {
            __m512i xa = _mm512_set1_epi32(xg[g]), xb = _mm512_set1_epi32(xg[g + 1]);
            s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(p + oq + 64 * g), xa);
            s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512(p + oq + 64 * (g + 1)), xb);
            if (NG == 2) {
                t0 = _mm512_dpbusd_epi32(t0, _mm512_loadu_si512(q + oq + 64 * g), xa);
                t1 = _mm512_dpbusd_epi32(t1, _mm512_loadu_si512(q + oq + 64 * (g + 1)), xb);
            }
        }
        __m512i sxb = _mm512_set1_epi32(b < GEMV_MAX_BLOCKS ? sx[b] : sum128(xq + 32 * b));
        __m512 dx = _mm512_set1_ps(xd[b]);
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + od)));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_add_epi32(s0, s1), sxb)), _mm512_mul_ps(dw, dx)));
        if (NG == 2) {
            __m512 dw2 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(q + od)));
            acc2 = _mm512_add_ps(acc2, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_add_epi32(t0, t1), sxb)), _mm512_mul_ps(dw2, dx)));
        }
    }
    _mm512_storeu_ps(yp, acc);
    if (NG == 2) _mm512_storeu_ps(yq, acc2);
}

/* Rows [r0, r1) as two streams: the groups of the first half of the range in step with those of
 * the second, so two sequential reads are in flight. One core then reads ~10% faster from memory
 * than with one stream (3072 x 1024 matrices from memory, one thread: 28.7-35.1 -> 31.5-39.8
 * GB/s; a plain one-stream read loop 31.4-35.4), as the hardware prefetcher runs two streams
 * ahead. Each row's arithmetic is unchanged. */
TGT void kq_gemv_q8_0_il_avx512(const kmat *W, const void *arow, float *y, int64_t r0, int64_t r1) {
    const int64_t K = W->cols, nb = K / 32;
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, K);
    const uint8_t *base = W->data;
    /* 128 * sum(x) per block, exact: the bias of the weights stored + 128 (per block on the fly for
     * rows longer than the array, which no Qwen3 shape has) */
    int32_t sx[GEMV_MAX_BLOCKS];
    for (int64_t b = 0; b < nb && b < GEMV_MAX_BLOCKS; b++) sx[b] = sum128(xq + 32 * b);
    int64_t ng = (r1 - r0) / 16, h = ng / 2;
    for (int64_t g = 0; g < h; g++) {
        int64_t ra = r0 + 16 * g, rb = r0 + 16 * (g + h);
        il_groups(base + (size_t)ra * W->row_bytes, base + (size_t)rb * W->row_bytes, 2, xq, xd, sx, nb, y + ra, y + rb);
    }
    if (ng % 2) {
        int64_t ra = r0 + 16 * (ng - 1);
        const uint8_t *p = base + (size_t)ra * W->row_bytes;
        il_groups(p, p, 1, xq, xd, sx, nb, y + ra, y + ra); /* q unread */
    }
}
#else
void kq_gemv_q8_0_avx512(const kmat *W, const void *arow, float *y, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) y[r] = kq_dot_q8_0_scalar((const uint8_t *)W->data + (size_t)r * W->row_bytes, arow, W->cols);
}
void kq_dot_q8_0_avx512_rows(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t K, float *y) {
    for (int r = 0; r < nr; r++) y[r] = kq_dot_q8_0_scalar(w + (size_t)r * wstride, arow, K);
}
int kq_gemm_q8_0_avx512(const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1) { return 0; }
void kq_gemv_q8_0_il_avx512(const kmat *W, const void *arow, float *y, int64_t r0, int64_t r1) {
    uint8_t row[34 * 2048];
    for (int64_t r = r0; r < r1; r++) {
        k_il_row(W, r, row);
        y[r] = kq_dot_q8_0_scalar(row, arow, W->cols);
    }
}
int kq_gemm_q8_0_il_avx512(const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1) { return 0; }
int kq_gemm_q8_0_il_p_avx512(const kmat *W, const void *P, int n, float *Y, int64_t r0, int64_t r1) { return 0; }
const kq_pack kq_pack_q8_0_il;
#endif
