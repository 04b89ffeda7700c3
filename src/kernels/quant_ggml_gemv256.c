/* quant_ggml_gemv256.c - one token (decoding) times rows [r0, r1) of a Q4_K, Q5_K, Q6_K, our Q4 or a
 * Q8_0 matrix on AVX2 CPUs (AVX-VNNI ones too), 8 rows per step: the twin of quant_ggml_gemv512.c,
 * with the bits of the scalar twin (quant_ggml.c, dotk) and of the 4-row AVX2 kernel
 * (quant_ggml_avx2.c).
 *
 * Per row and superblock, the same integer sums as the 4-row kernel's unpack256 path, but each of
 * the 8 vectors of values is made from the loaded bytes as it is used (nib_row, q6_row): with all 8
 * unpacked at once a row's work did not fit AVX2's 16 registers and spilled (0.6B Q4_K_M decoded
 * 58-60 tok/s that way on 2 threads, 72-73 this way; QWEN3_ISA=avx2 on a Zen 5). Per row:
 * - the sub-block scales reach the lanes by one vpshufb per vector from a broadcast of the row's
 *   scales;
 * - Q6_K's q - 32 offset is one vpmaddwd of the 16 scales with the token's per-16 sums (made once
 *   per call), not one per vector;
 * - the 8 rows' integer sums are reduced by one vphaddd tree and their float steps (the scalar
 *   twin's, in its order) done for 8 rows in one 256-bit vector; the next 8 rows are prefetched.
 * Rows left over (fewer than 8) take the 4-row kernel. */
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include "kernels/quant_ggml_avx2.h"

/* superblocks per row with the token's per-16 sums on the stack (K <= 32768) */
#define GEMV_MAX_SB 128

/* 8 vectors' 8 int32 lanes -> their 8 exact sums, in order */
TGT INL __m256i sum8x8(const __m256i a[8]) {
    __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
    __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[4], a[5]), _mm256_hadd_epi32(a[6], a[7]));
    /* h0: [a0..a3 low-lane sums | a0..a3 high-lane sums], h1 the same for a4..a7 */
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31));
}
/* 8 vectors' 4 int32 lanes -> their 8 exact sums, in order */
TGT INL __m256i sum8x4(const __m128i a[8]) {
    __m128i h0 = _mm_hadd_epi32(_mm_hadd_epi32(a[0], a[1]), _mm_hadd_epi32(a[2], a[3]));
    __m128i h1 = _mm_hadd_epi32(_mm_hadd_epi32(a[4], a[5]), _mm_hadd_epi32(a[6], a[7]));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(h0), h1, 1);
}

/* vpshufb control for vector v of a superblock (v < 4; v - 4 for the upper half): int16 lanes 0..7
 * take int16 2v of their 128-bit lane, lanes 8..15 int16 2v + 1 */
TGT INL __m256i spread_ctl(int v) {
    const char a = (char)(4 * v), b = (char)(4 * v + 2);
    return _mm256_setr_epi8(a, (char)(a + 1), a, (char)(a + 1), a, (char)(a + 1), a, (char)(a + 1), a, (char)(a + 1), a, (char)(a + 1),
                            a, (char)(a + 1), a, (char)(a + 1), b, (char)(b + 1), b, (char)(b + 1), b, (char)(b + 1), b, (char)(b + 1),
                            b, (char)(b + 1), b, (char)(b + 1), b, (char)(b + 1), b, (char)(b + 1));
}

/* One row's superblock of 4-bit values with a scale and a minimum per 32 (Q4_K, our Q4; Q5_K adds a
 * fifth bit per value), its
 * nibbles taken from the four loads as each vector is used and its sub-block scale (one per 32
 * values: a whole vector) spread by one vpshufb of the 8 scales. Through unpack256 (all 8 vectors
 * and 16-lane scales at once) a row's work did not fit AVX2's 16 registers: our Q4 decoded ~20%
 * slower than its former AVX2 kernel (which summed in another order); 0.6B Q4_K_M under
 * QWEN3_ISA=avx2 (Zen 5) decoded 58-60 -> 65-67 tok/s on 2 threads, 33.6 -> 39.7 on 1.
 * The same integer sums (exact), so the same bits. Element order: Q4_K's qs[32c + k] holds element
 * 64c + k in its low nibble and 64c + 32 + k in its high one; our Q4's qs[64c + k] elements 128c + k
 * and 128c + 64 + k (quant.h). */
TGT INL void nib_row(qwen3_dtype T, const uint8_t *b, const int8_t *xs, __m128i bs, __m256i *is, __m128i *im, float *d, float *dmin) {
    const __m256i low4 = _mm256_set1_epi8(15);
    __m128i sc8, mn8; /* the 8 scales and 8 minimums, as bytes */
    const uint8_t *qs;
    if (T == QWEN3_Q4) {
        const kq4_block *q = (const kq4_block *)b;
        sc8 = _mm_loadl_epi64((const __m128i *)q->sc);
        mn8 = _mm_loadl_epi64((const __m128i *)q->mn);
        qs = q->qs;
    } else { /* Q4_K, Q5_K */
        sc8 = k4_scales(b + 4); /* cvtepu8 below reads its low 8 bytes, the scales */
        mn8 = _mm_srli_si128(sc8, 8);
        qs = b + (T == QWEN3_Q5_K ? 48 : 16);
    }
    /* Q5_K: bit j of each of the 32 bytes at 16 is the fifth bit of vector j's value (bit_to) */
    const __m256i qh = T == QWEN3_Q5_K ? _mm256_loadu_si256((const __m256i *)(b + 16)) : _mm256_setzero_si256();
    const __m256i s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
    __m256i s = _mm256_setzero_si256(), s2 = s;
    /* vector v of nibbles n, its scale spread over the vector, into chain a */
#define NV(a, n, v)                                                                                                 \
    a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(T == QWEN3_Q5_K ? _mm256_or_si256(n, bit_to(qh, v, 4)) : (n), \
                                                                   _mm256_loadu_si256((const __m256i *)(xs + 32 * (v)))), \
                                              _mm256_shuffle_epi8(s16, _mm256_set1_epi16((short)((2 * (v) + 1) << 8 | 2 * (v))))))
#define LO(q) _mm256_and_si256(q, low4)
#define HI(q) _mm256_and_si256(_mm256_srli_epi16(q, 4), low4)
    const __m256i q0 = _mm256_loadu_si256((const __m256i *)qs), q1 = _mm256_loadu_si256((const __m256i *)(qs + 32));
    const __m256i q2 = _mm256_loadu_si256((const __m256i *)(qs + 64)), q3 = _mm256_loadu_si256((const __m256i *)(qs + 96));
    if (T == QWEN3_Q4) {
        NV(s, LO(q0), 0); NV(s2, LO(q1), 1); NV(s, HI(q0), 2); NV(s2, HI(q1), 3);
        NV(s, LO(q2), 4); NV(s2, LO(q3), 5); NV(s, HI(q2), 6); NV(s2, HI(q3), 7);
    } else {
        NV(s, LO(q0), 0); NV(s2, HI(q0), 1); NV(s, LO(q1), 2); NV(s2, HI(q1), 3);
        NV(s, LO(q2), 4); NV(s2, HI(q2), 5); NV(s, LO(q3), 6); NV(s2, HI(q3), 7);
    }
#undef NV
#undef LO
#undef HI
    *is = _mm256_add_epi32(s, s2);
    *im = _mm_madd_epi16(_mm_cvtepu8_epi16(mn8), bs);
    uint16_t h[2];
    memcpy(h, b, 4); /* d, dmin: the first 4 bytes of both */
    *d = _cvtsh_ss(h[0]);
    *dmin = _cvtsh_ss(h[1]);
}

/* Q6_K's row of one superblock the same way: each vector's 6-bit values (4 low bits from ql, 2 from
 * qh) made as it is used, its two scales (one per 16 values, one per 128-bit half) spread by one
 * vpshufb of the half-broadcast scales; the q - 32 offset as rows8 does it, one vpmaddwd of the 16
 * scales with the token's per-16 sums (corr: -16 x the sums). The same integer sums. */
TGT INL void q6_row(const uint8_t *b, const int8_t *xs, __m256i corr, __m256i *is, float *d) {
    const kq6_k_block *q = (const kq6_k_block *)b;
    const __m256i low4 = _mm256_set1_epi8(15), h3 = _mm256_set1_epi8(0x30);
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)q->scales));
    const __m256i lo = _mm256_permute2x128_si256(sc, sc, 0x00), hi = _mm256_permute2x128_si256(sc, sc, 0x11);
    __m256i s = _mm256_slli_epi32(_mm256_madd_epi16(sc, corr), 1), s2 = _mm256_setzero_si256();
#define NV(a, n, v)                                                                                                 \
    a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(n, _mm256_loadu_si256((const __m256i *)(xs + 32 * (v)))), \
                                              _mm256_shuffle_epi8((v) < 4 ? lo : hi, spread_ctl((v) % 4))))
#define Q6V(a, c)                                                                                                   \
    do {                                                                                                            \
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(q->ql + 64 * (c))), l1 = _mm256_loadu_si256((const __m256i *)(q->ql + 64 * (c) + 32)); \
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(q->qh + 32 * (c)));                                 \
        NV(a, _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), h3)), 4 * (c));  \
        NV(s2, _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), h3)), 4 * (c) + 1); \
        NV(a, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(qh, h3)), 4 * (c) + 2); \
        NV(s2, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), h3)), 4 * (c) + 3); \
    } while (0)
    Q6V(s, 0);
    Q6V(s, 1);
#undef Q6V
#undef NV
    *is = _mm256_add_epi32(s, s2);
    *d = _cvtsh_ss(q->d);
}

TGT INL void rows8(qwen3_dtype T, const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, const int16_t *bsum,
                   const int16_t *xs16, int64_t nsb, float *y, int pf) {
    const size_t BB = bbytes(T);
    const int MINS = T != QWEN3_Q6_K;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *blk = w + (size_t)sb * BB;
        if (pf)
            for (int r = 0; r < 8; r++) {
                const char *q = (const char *)(blk + (size_t)(8 + r) * ws);
                for (size_t off = 0; off < BB; off += 64) _mm_prefetch(q + off, _MM_HINT_T0);
                _mm_prefetch(q + BB - 1, _MM_HINT_T0);
            }
        const int8_t *xs = xq + 256 * sb;
        const __m128i bs = _mm_loadu_si128((const __m128i *)(bsum + 8 * sb));
        __m256i corr = _mm256_setzero_si256();
        if (T == QWEN3_Q6_K) corr = _mm256_loadu_si256((const __m256i *)(xs16 + 16 * sb));
        __m256i is[8];
        __m128i im[8];
        float dr[8], dm[8];
        for (int r = 0; r < 8; r++) {
            if (T == QWEN3_Q6_K) {
                q6_row(blk + (size_t)r * ws, xs, corr, &is[r], &dr[r]);
                dm[r] = 0.0f;
            } else nib_row(T, blk + (size_t)r * ws, xs, bs, &is[r], &im[r], &dr[r], &dm[r]);
        }
        /* the scalar twin's float steps, 8 rows at once */
        __m256 p = _mm256_mul_ps(_mm256_loadu_ps(dr), _mm256_cvtepi32_ps(sum8x8(is)));
        if (MINS) p = _mm256_sub_ps(p, _mm256_mul_ps(_mm256_loadu_ps(dm), _mm256_cvtepi32_ps(sum8x4(im))));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(xd[sb]), p));
    }
    _mm256_storeu_ps(y, acc);
}

#define R8(T) TGT static void r8_##T(const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, const int16_t *bs, \
                                      const int16_t *xs16, int64_t nsb, float *y, int pf) { rows8(T, w, ws, xq, xd, bs, xs16, nsb, y, pf); }
R8(QWEN3_Q4_K) R8(QWEN3_Q5_K) R8(QWEN3_Q6_K) R8(QWEN3_Q4)

/* Q8_0, 8 rows x one token: per block, each row's |w| times x carrying w's sign (vpmaddubsw pairs
 * stay within int16: |w| <= 128, |x| <= 127) summed to 8 int32 lanes, the 8 rows' lanes reduced
 * exactly by sum8x8, then the scalar twin's float step (kq_dot_q8_0_scalar: acc + s (d_w d_x), two
 * roundings) for the 8 rows in one vector; a row at a time the horizontal sums cost more than the
 * bytes (the 4-row dot decoded 20% slower than the former Q8_0 AVX2 kernel, whose lane sums were not the
 * twin's). The next 8 rows' block is fetched a step ahead. */
TGT static void q8_rows8(const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, int64_t nb, float *y, int pf) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));
        __m256i p[8];
        uint16_t dh[8];
        for (int i = 0; i < 8; i++) {
            const uint8_t *blk = w + (size_t)i * ws + (size_t)b * 34;
            if (pf) _mm_prefetch((const char *)(blk + 8 * ws), _MM_HINT_T0);
            __m256i v = _mm256_loadu_si256((const __m256i *)(blk + 2));
            p[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(x, v)), ones16);
            memcpy(&dh[i], blk, 2);
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dh));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(sum8x8(p)), _mm256_mul_ps(dw, _mm256_set1_ps(xd[b]))));
    }
    _mm256_storeu_ps(y, acc);
}

static void gemv_q8_0(const struct kmat *W, const void *arow, float *y, int64_t r0, int64_t r1) {
    const int64_t K = W->cols;
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, K);
    const uint8_t *base = W->data;
    const size_t ws = W->row_bytes;
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) q8_rows8(base + (size_t)r * ws, ws, xq, xd, K / 32, y + r, r + 16 <= r1);
    for (; r < r1; r += 4) kq_ggml_rows_avx2[QWEN3_Q8_0](base + (size_t)r * ws, ws, r1 - r < 4 ? (int)(r1 - r) : 4, arow, K, y + r);
}

static void gemv(const struct kmat *W, const void *arow, float *y, int64_t r0, int64_t r1) {
    const qwen3_dtype t = W->type;
    const int64_t K = W->cols, nsb = K / 256;
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, K);
    const int16_t *bsum = kq_act_bsum((void *)arow, K);
    const uint8_t *base = W->data;
    const size_t ws = W->row_bytes;
    int64_t r = r0;
    int16_t xs16[GEMV_MAX_SB * 16];
    if (t == QWEN3_Q6_K && nsb <= GEMV_MAX_SB)
        for (int64_t g = 0; g < nsb * 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += xq[16 * g + l];
            xs16[g] = (int16_t)(-16 * s); /* |s| <= 16 * 127 */
        }
    if (nsb <= GEMV_MAX_SB)
        for (; r + 8 <= r1; r += 8) {
            const uint8_t *w = base + (size_t)r * ws;
            int pf = r + 16 <= r1;
            if (t == QWEN3_Q4_K) r8_QWEN3_Q4_K(w, ws, xq, xd, bsum, xs16, nsb, y + r, pf);
            else if (t == QWEN3_Q5_K) r8_QWEN3_Q5_K(w, ws, xq, xd, bsum, xs16, nsb, y + r, pf);
            else if (t == QWEN3_Q4) r8_QWEN3_Q4(w, ws, xq, xd, bsum, xs16, nsb, y + r, pf);
            else r8_QWEN3_Q6_K(w, ws, xq, xd, bsum, xs16, nsb, y + r, pf);
        }
    for (; r < r1; r += 4) {
        int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
        kq_ggml_rows_avx2[t](base + (size_t)r * ws, ws, nr, arow, K, y + r);
    }
}

const kq_gemv_fn kq_ggml_gemv_avx2[QWEN3_DTYPE_COUNT] = {[QWEN3_Q8_0] = gemv_q8_0, [QWEN3_Q4_K] = gemv, [QWEN3_Q5_K] = gemv, [QWEN3_Q6_K] = gemv,
                                                      [QWEN3_Q4] = gemv};
#else
const kq_gemv_fn kq_ggml_gemv_avx2[QWEN3_DTYPE_COUNT];
#endif
