/* quant_ggml_avx512.c - GGUF's block types on AVX-512 (VNNI for the dots, BF16 for the panels):
 * int8 dot products of up to 4 weight rows with one token (decoding, and prefill of few tokens), and
 * dequantization to bf16 for --batch-variant's prefill GEMM panels. Many tokens: quant_ggml_gemm512.c.
 *
 * Every dot gives the bits of its scalar twin (quant_ggml.c, dot32 / dotk): the integer sums are
 * exact, and the float operations per block or superblock are the twin's, in its order, on 4 rows at
 * once in a 128-bit vector. That is what makes the batch-invariant path possible: the many-token
 * kernels keep the same contract, so a token's result is the same alone or in a batch.
 *
 * Superblock types x A8_K: each 256-value superblock is unpacked (quant_ggml_avx512.h) into four
 * 64-byte vectors of unsigned values in element order (IQ4_XS: signed table values), vpmaddubsw
 * multiplies them with the int8 activations into int16 pairs, vpdpwssd multiplies those by the
 * sub-block scales (per 16 or per 32 values, spread over the lanes by vpermw) and sums in int32; the
 * 16 lanes of 4 rows are then summed exactly (vphaddd), giving the superblock's integer sum per row.
 * Offsets are kept out of the bytes so vpmaddubsw's unsigned operand stays unsigned: Q6_K's q - 32
 * and Q3_K's q - 4 become sum sc (q x) - 32 sum sc x, with the per-16 sums of x (vpmaddubsw against
 * ones) made once per token and superblock and shared by the rows; Q2_K's minimums use the same
 * sums; Q4_K / Q5_K's minimums use A8_K's per-32 sums. IQ4_XS's signed values go through |w| and x
 * carrying w's sign.
 * 32-value blocks x A8_0, one block per 256-bit vector as kq_dot_q8_0_avx512: Q4_0 / Q5_0's offsets
 * become an int32 start value -8 (-16) x the 4-byte sums of x, again shared by the rows; Q4_1 /
 * Q5_1's minimum multiplies the block sum of x; IQ4_NL looks its values up with vpshufb. */
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include "kernels/quant_ggml_avx512.h"

/* exact int32 sums of the 8 lanes of each of a, b, c, d: [sum a, sum b, sum c, sum d] */
TGT INL __m128i sum4x8(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
/* the same for 16 lanes: a transpose by unpacking, then the four 128-bit quarters added */
TGT INL __m128i sum4x16(__m512i a, __m512i b, __m512i c, __m512i d) {
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
/* and for 4 lanes */
TGT INL __m128i sum4x4(__m128i a, __m128i b, __m128i c, __m128i d) { return _mm_hadd_epi32(_mm_hadd_epi32(a, b), _mm_hadd_epi32(c, d)); }

TGT INL void dotk_body(qwen3_dtype T, const uint8_t *w, size_t ws, int nr, const void *arow, int64_t n, float *y) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, n);
    const int16_t *bsum = kq_act_bsum((void *)arow, n);
    const size_t BB = bbytes(T);
    const int OFF = offset_of(T), XS = OFF || T == QWEN3_Q2_K;
    const int MINS = has_mins(T);
    /* lane i of vector v takes scale 4v + i / 8 (per 16 values) or 2v + i / 16 (per 32) */
    static const int16_t lanes[32] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                      16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    const __m512i lane = _mm512_loadu_si512(lanes);
    __m512i idx[4];
    for (int v = 0; v < 4; v++) {
        idx[v] = per16(T) ? _mm512_add_epi16(_mm512_set1_epi16((short)(4 * v)), _mm512_srli_epi16(lane, 3))
                          : _mm512_add_epi16(_mm512_set1_epi16((short)(2 * v)), _mm512_srli_epi16(lane, 4));
    }
    const __m512i ones = _mm512_set1_epi8(1);
    __m128 acc = _mm_setzero_ps();
    for (int64_t sb = 0; sb < n / 256; sb++) {
        const int8_t *xs = xq + 256 * sb;
        __m512i x[4], xsum[4];
        UNROLL4
        for (int v = 0; v < 4; v++) {
            x[v] = _mm512_loadu_si512(xs + 64 * v);
            if (XS) xsum[v] = _mm512_maddubs_epi16(ones, x[v]); /* pair sums of x, for offsets and Q2_K's minimums */
        }
        __m128i bs = _mm_loadu_si128((const __m128i *)(bsum + 8 * sb));
        UNROLL4
        for (int r = 0; r < 4; r++) {
            const char *nx = (const char *)(w + (size_t)(4 + r) * ws + (size_t)sb * BB);
            for (size_t off = 0; off < BB; off += 64) _mm_prefetch(nx + off, _MM_HINT_T0);
        }
        __m512i is[4], im2[4];
        __m128i im4[4];
        float dr[4] = {0, 0, 0, 0}, dm[4] = {0, 0, 0, 0};
        UNROLL4
        for (int r = 0; r < 4; r++) {
            is[r] = im2[r] = _mm512_setzero_si512();
            im4[r] = _mm_setzero_si128();
        }
        UNROLL4
        for (int r = 0; r < nr; r++) {
            ksb u;
            unpack512(T, w + (size_t)r * ws + (size_t)sb * BB, &u);
            __m512i isum = _mm512_setzero_si512(), icorr = _mm512_setzero_si512();
            UNROLL4
            for (int v = 0; v < 4; v++) {
                __m512i s = _mm512_permutexvar_epi16(idx[v], u.sc), p;
                if (T == QWEN3_IQ4_XS) /* |w| times x carrying w's sign */
                    p = _mm512_maddubs_epi16(_mm512_abs_epi8(u.v[v]),
                                             _mm512_mask_sub_epi8(x[v], _mm512_movepi8_mask(u.v[v]), _mm512_setzero_si512(), x[v]));
                else p = _mm512_maddubs_epi16(u.v[v], x[v]);
                isum = _mm512_dpwssd_epi32(isum, p, s);
                if (OFF) icorr = _mm512_dpwssd_epi32(icorr, xsum[v], s);
                if (T == QWEN3_Q2_K) icorr = _mm512_dpwssd_epi32(icorr, xsum[v], _mm512_permutexvar_epi16(idx[v], u.mn));
            }
            if (OFF == 32) isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(icorr, 5));
            if (OFF == 4) isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(icorr, 2));
            is[r] = isum;
            if (has_m32(T)) im4[r] = _mm_madd_epi16(u.m32, bs);
            if (T == QWEN3_Q2_K) im2[r] = icorr;
            dr[r] = u.d;
            dm[r] = MINS ? u.dmin : 0.0f;
        }
        /* the scalar twin's float steps, 4 rows at once */
        __m128 p = _mm_mul_ps(_mm_loadu_ps(dr), _mm_cvtepi32_ps(sum4x16(is[0], is[1], is[2], is[3])));
        if (MINS) {
            __m128i m = T == QWEN3_Q2_K ? sum4x16(im2[0], im2[1], im2[2], im2[3]) : sum4x4(im4[0], im4[1], im4[2], im4[3]);
            p = _mm_sub_ps(p, _mm_mul_ps(_mm_loadu_ps(dm), _mm_cvtepi32_ps(m)));
        }
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(xd[sb]), p));
    }
    float out[4];
    _mm_storeu_ps(out, acc);
    for (int r = 0; r < nr; r++) y[r] = out[r];
}

/* ---------------------------------------------------------------- 32-value blocks */

TGT INL void dot32_body(qwen3_dtype T, const uint8_t *w, size_t ws, int nr, const void *arow, int64_t n, float *y) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, n);
    const size_t BB = bbytes(T);
    const int MIN = T == QWEN3_Q4_1 || T == QWEN3_Q5_1, HB = T == QWEN3_Q5_0 || T == QWEN3_Q5_1;
    /* offset of qs in the block (qh, when there is one, is the 4 bytes before it) */
    const int QS = T == QWEN3_Q5_1 ? 8 : T == QWEN3_Q5_0 ? 6 : T == QWEN3_Q4_1 ? 4 : 2;
    const __m256i low4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi8(1);
    const __m256i tbl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kq_iq4_values));
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));
        /* 4-byte sums of x: the offset's start value (Q4_0: -8 sum x) or the minimum's factor */
        __m256i xs = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, x), start = _mm256_setzero_si256();
        if (T == QWEN3_Q4_0) start = _mm256_sub_epi32(start, _mm256_slli_epi32(xs, 3));
        if (T == QWEN3_Q5_0) start = _mm256_sub_epi32(start, _mm256_slli_epi32(xs, 4));
        if ((b & 1) == 0)
            for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(w + (size_t)(4 + r) * ws + (size_t)b * BB), _MM_HINT_T0);
        __m256i p[4];
        uint16_t dh[4] = {0, 0, 0, 0}, mh[4] = {0, 0, 0, 0};
        UNROLL4
        for (int r = 0; r < 4; r++) p[r] = _mm256_setzero_si256();
        UNROLL4
        for (int r = 0; r < nr; r++) {
            const uint8_t *blk = w + (size_t)r * ws + (size_t)b * BB;
            __m128i q = _mm_loadu_si128((const __m128i *)(blk + QS));
            __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, _mm256_castsi256_si128(low4))),
                                                _mm_and_si128(_mm_srli_epi16(q, 4), _mm256_castsi256_si128(low4)), 1);
            if (HB) v = _mm256_mask_add_epi8(v, (__mmask32)rd32(blk + QS - 4), v, _mm256_set1_epi8(16));
            if (T == QWEN3_IQ4_NL) {
                v = _mm256_shuffle_epi8(tbl, v);
                p[r] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(v), _mm256_sign_epi8(x, v));
            } else p[r] = _mm256_dpbusd_epi32(start, v, x);
            memcpy(&dh[r], blk, 2);
            if (MIN) memcpy(&mh[r], blk + 2, 2);
        }
        /* the scalar twin's float steps, 4 rows at once */
        __m128 dx = _mm_set1_ps(xd[b]);
        __m128 dw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)dh[3], (short)dh[2], (short)dh[1], (short)dh[0]));
        __m128 pr = _mm_mul_ps(_mm_cvtepi32_ps(sum4x8(p[0], p[1], p[2], p[3])), _mm_mul_ps(dw, dx));
        if (MIN) {
            __m128 mw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)mh[3], (short)mh[2], (short)mh[1], (short)mh[0]));
            __m128i sx = sum4x8(xs, xs, xs, xs);
            pr = _mm_add_ps(pr, _mm_mul_ps(_mm_cvtepi32_ps(sx), _mm_mul_ps(mw, dx)));
        }
        acc = _mm_add_ps(acc, pr);
    }
    float out[4];
    _mm_storeu_ps(out, acc);
    for (int r = 0; r < nr; r++) y[r] = out[r];
}

/* the row count a compile-time constant in the common case */
#define K(T) TGT static void dk_##T(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { \
        if (nr == 4) dotk_body(T, w, wstride, 4, arow, n, y); else dotk_body(T, w, wstride, nr, arow, n, y); }
#define B32(T) TGT static void d32_##T(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { \
        if (nr == 4) dot32_body(T, w, wstride, 4, arow, n, y); else dot32_body(T, w, wstride, nr, arow, n, y); }
K(QWEN3_Q2_K) K(QWEN3_Q3_K) K(QWEN3_Q4_K) K(QWEN3_Q5_K) K(QWEN3_Q6_K) K(QWEN3_IQ4_XS) K(QWEN3_Q4)
B32(QWEN3_Q4_0) B32(QWEN3_Q4_1) B32(QWEN3_Q5_0) B32(QWEN3_Q5_1) B32(QWEN3_IQ4_NL)

const kq_rows_fn kq_ggml_rows_avx512[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q4] = dk_QWEN3_Q4,
    [QWEN3_Q2_K] = dk_QWEN3_Q2_K, [QWEN3_Q3_K] = dk_QWEN3_Q3_K, [QWEN3_Q4_K] = dk_QWEN3_Q4_K,
    [QWEN3_Q5_K] = dk_QWEN3_Q5_K, [QWEN3_Q6_K] = dk_QWEN3_Q6_K, [QWEN3_IQ4_XS] = dk_QWEN3_IQ4_XS,
    [QWEN3_Q4_0] = d32_QWEN3_Q4_0, [QWEN3_Q4_1] = d32_QWEN3_Q4_1, [QWEN3_Q5_0] = d32_QWEN3_Q5_0,
    [QWEN3_Q5_1] = d32_QWEN3_Q5_1, [QWEN3_IQ4_NL] = d32_QWEN3_IQ4_NL,
};

/* ---------------------------------------------------------------- rows to bf16 (prefill panels) */

/* The superblock types: the scalar dequantizer's arithmetic per value (sub-block factors in float
 * first, then one multiply and, with minimums, one subtract; no fusion), so the floats are those of
 * kq_*_to_float before the rounding to bf16. */
TGT_BF16 INL void row_bf16_k(qwen3_dtype T, const uint8_t *row, uint16_t *out, int64_t K) {
    const size_t BB = bbytes(T);
    for (int64_t sb = 0; sb < K / 256; sb++) {
        ksb u;
        unpack512(T, row + (size_t)sb * BB, &u);
        int16_t sc[16], mn[16];
        _mm256_storeu_si256((__m256i *)sc, _mm512_castsi512_si256(u.sc));
        if (T == QWEN3_Q2_K) _mm256_storeu_si256((__m256i *)mn, _mm512_castsi512_si256(u.mn));
        if (T == QWEN3_Q4_K || T == QWEN3_Q5_K) _mm_storeu_si128((__m128i *)mn, u.m32);
        const int OFF = offset_of(T);
        for (int v = 0; v < 4; v++) {
            __m512i q = OFF ? _mm512_sub_epi8(u.v[v], _mm512_set1_epi8((char)OFF)) : u.v[v];
            for (int h = 0; h < 2; h++) { /* 32 values: two per-16 groups or one per-32 sub-block */
                int g = 4 * v + 2 * h, j = 2 * v + h;
                __m256i q32 = h ? _mm512_extracti64x4_epi64(q, 1) : _mm512_castsi512_si256(q);
                __m512 f0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q32)));
                __m512 f1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q32, 1)));
                __m512 s0, s1, m0 = _mm512_setzero_ps(), m1 = m0;
                if (per16(T)) {
                    s0 = _mm512_set1_ps(u.d * (float)sc[g]);
                    s1 = _mm512_set1_ps(u.d * (float)sc[g + 1]);
                    if (T == QWEN3_Q2_K) { m0 = _mm512_set1_ps(u.dmin * (float)mn[g]); m1 = _mm512_set1_ps(u.dmin * (float)mn[g + 1]); }
                } else {
                    s0 = s1 = _mm512_set1_ps(u.d * (float)sc[j]);
                    if (T != QWEN3_IQ4_XS) m0 = m1 = _mm512_set1_ps(u.dmin * (float)mn[j]);
                }
                f0 = _mm512_mul_ps(s0, f0);
                f1 = _mm512_mul_ps(s1, f1);
                if (T == QWEN3_Q2_K || T == QWEN3_Q4_K || T == QWEN3_Q5_K) { f0 = _mm512_sub_ps(f0, m0); f1 = _mm512_sub_ps(f1, m1); }
                _mm512_storeu_si512(out + 256 * sb + 64 * v + 32 * h, (__m512i)_mm512_cvtne2ps_pbh(f1, f0));
            }
        }
    }
}

#define RB(T) TGT_BF16 static void rb_##T(const uint8_t *row, uint16_t *out, int64_t K) { row_bf16_k(T, row, out, K); }
RB(QWEN3_Q2_K) RB(QWEN3_Q3_K) RB(QWEN3_Q4_K) RB(QWEN3_Q5_K) RB(QWEN3_Q6_K) RB(QWEN3_IQ4_XS)

int kq_ggml_row_bf16_avx512(qwen3_dtype t, const uint8_t *row, uint16_t *out, int64_t K) {
    switch (t) {
    case QWEN3_Q2_K: rb_QWEN3_Q2_K(row, out, K); return 1;
    case QWEN3_Q3_K: rb_QWEN3_Q3_K(row, out, K); return 1;
    case QWEN3_Q4_K: rb_QWEN3_Q4_K(row, out, K); return 1;
    case QWEN3_Q5_K: rb_QWEN3_Q5_K(row, out, K); return 1;
    case QWEN3_Q6_K: rb_QWEN3_Q6_K(row, out, K); return 1;
    case QWEN3_IQ4_XS: rb_QWEN3_IQ4_XS(row, out, K); return 1;
    default: return 0; /* the 32-value blocks: the scalar dequantizer (gemm_bf16.c) */
    }
}
#else
const kq_rows_fn kq_ggml_rows_avx512[QWEN3_DTYPE_COUNT];
int kq_ggml_row_bf16_avx512(qwen3_dtype t, const uint8_t *row, uint16_t *out, int64_t K) { return 0; }
#endif
