/* quant_ggml_avx2.c - GGUF's block types' int8 dot products on AVX2 CPUs (decoding without AVX-512).
 * The arithmetic of quant_ggml_avx512.c on 256-bit vectors (plain AVX2: vpmaddubsw + vpmaddwd; CPUs
 * with AVX-VNNI take these too): a superblock is eight 32-byte vectors of unsigned values in element
 * order (IQ4_XS: signed, through |w| and x carrying w's sign), vpmaddubsw with the activations gives
 * int16 pairs, vpmaddwd multiplies them by the sub-block scale of their 16 values (two per vector,
 * placed by vpermd + vpshufb) and sums to int32: the superblock's sum is exact in integers and scaled
 * once. Offsets (Q6_K's 32, Q3_K's 4) and Q2_K's minimums multiply per-16 sums of x made once per
 * token and shared by the rows; Q4_K / Q5_K's minimums use A8_K's per-32 sums. The 32-value blocks
 * (Q8_0 among them, its int8 values through |w| and x carrying w's sign) take one block per vector.
 * Same integer arithmetic as the scalar twins. Our own Q4 takes Q4_K's kernels (its arithmetic). */
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include "kernels/quant_ggml_avx2.h"

/* the scales of vector v (values 32v..32v+31): int16 lanes 0..7 scale 2v, lanes 8..15 scale 2v + 1 */
TGT INL __m256i scales_of(__m256i sc, int v) {
    const __m256i pat = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    return _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(sc, _mm256_set1_epi32(v)), pat);
}

TGT INL void dotk_body(qwen3_dtype T, const uint8_t *w, size_t ws, int nr, const void *arow, int64_t n, float *y) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, n);
    const int16_t *bsum = kq_act_bsum((void *)arow, n);
    const size_t BB = bbytes(T);
    const int OFF = offset_of(T), XS = OFF || T == QWEN3_Q2_K;
    const __m256i ones8 = _mm256_set1_epi8(1);
    const int MINS = has_mins(T);
    __m128 acc = _mm_setzero_ps();
    for (int64_t sb = 0; sb < n / 256; sb++) {
        const int8_t *xs = xq + 256 * sb;
        __m256i x[8], xsum[8];
        for (int v = 0; v < 8; v++) {
            x[v] = _mm256_loadu_si256((const __m256i *)(xs + 32 * v));
            if (XS) xsum[v] = _mm256_maddubs_epi16(ones8, x[v]);
        }
        __m128i bs = _mm_loadu_si128((const __m128i *)(bsum + 8 * sb));
        for (int r = 0; r < 4; r++) {
            const char *nx = (const char *)(w + (size_t)(4 + r) * ws + (size_t)sb * BB);
            for (size_t off = 0; off < BB; off += 64) _mm_prefetch(nx + off, _MM_HINT_T0);
        }
        __m256i is[4], im[4];
        float dr[4] = {0, 0, 0, 0}, dm[4] = {0, 0, 0, 0};
        for (int r = 0; r < 4; r++) is[r] = im[r] = _mm256_setzero_si256();
        for (int r = 0; r < nr; r++) {
            ksb u;
            unpack256(T, w + (size_t)r * ws + (size_t)sb * BB, &u);
            __m256i isum = _mm256_setzero_si256(), icorr = _mm256_setzero_si256();
            for (int v = 0; v < 8; v++) {
                __m256i s = scales_of(u.sc, v), p;
                if (T == QWEN3_IQ4_XS) p = _mm256_maddubs_epi16(_mm256_abs_epi8(u.v[v]), _mm256_sign_epi8(x[v], u.v[v]));
                else p = _mm256_maddubs_epi16(u.v[v], x[v]);
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, s));
                if (OFF) icorr = _mm256_add_epi32(icorr, _mm256_madd_epi16(xsum[v], s));
                if (T == QWEN3_Q2_K) icorr = _mm256_add_epi32(icorr, _mm256_madd_epi16(xsum[v], scales_of(u.mn, v)));
            }
            if (OFF == 32) isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(icorr, 5));
            if (OFF == 4) isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(icorr, 2));
            is[r] = isum;
            if (has_m32(T)) im[r] = _mm256_zextsi128_si256(_mm_madd_epi16(u.m32, bs));
            if (T == QWEN3_Q2_K) im[r] = icorr;
            dr[r] = u.d;
            dm[r] = MINS ? u.dmin : 0.0f;
        }
        /* the scalar twin's float steps (quant_ggml.c, dotk), 4 rows at once */
        __m128 p = _mm_mul_ps(_mm_loadu_ps(dr), _mm_cvtepi32_ps(sum4x8(is[0], is[1], is[2], is[3])));
        if (MINS) p = _mm_sub_ps(p, _mm_mul_ps(_mm_loadu_ps(dm), _mm_cvtepi32_ps(sum4x8(im[0], im[1], im[2], im[3]))));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(xd[sb]), p));
    }
    float out[4];
    _mm_storeu_ps(out, acc);
    for (int r = 0; r < nr; r++) y[r] = out[r];
}

TGT INL void dot32_body(qwen3_dtype T, const uint8_t *w, size_t ws, int nr, const void *arow, int64_t n, float *y) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, n);
    const size_t BB = bbytes(T);
    const int MIN = T == QWEN3_Q4_1 || T == QWEN3_Q5_1, HB = T == QWEN3_Q5_0 || T == QWEN3_Q5_1;
    const int QS = T == QWEN3_Q5_1 ? 8 : T == QWEN3_Q5_0 ? 6 : T == QWEN3_Q4_1 ? 4 : 2;
    const __m128i low4 = _mm_set1_epi8(15);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const __m256i tbl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kq_iq4_values));
    /* Q5's 32 high bits to bytes: byte i takes qh byte i / 8 and tests bit i % 8 */
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));
        __m256i xs = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, x), ones16), start = _mm256_setzero_si256();
        if (T == QWEN3_Q4_0) start = _mm256_sub_epi32(start, _mm256_slli_epi32(xs, 3));
        if (T == QWEN3_Q5_0) start = _mm256_sub_epi32(start, _mm256_slli_epi32(xs, 4));
        if ((b & 1) == 0)
            for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(w + (size_t)(4 + r) * ws + (size_t)b * BB), _MM_HINT_T0);
        __m256i pr[4];
        uint16_t dh[4] = {0, 0, 0, 0}, mh[4] = {0, 0, 0, 0};
        for (int r = 0; r < 4; r++) pr[r] = _mm256_setzero_si256();
        for (int r = 0; r < nr; r++) {
            const uint8_t *blk = w + (size_t)r * ws + (size_t)b * BB;
            __m128i q = _mm_loadu_si128((const __m128i *)(blk + QS));
            __m256i v = T == QWEN3_Q8_0 ? _mm256_loadu_si256((const __m256i *)(blk + 2)) /* int8 as stored */
                                        : _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, low4)), _mm_and_si128(_mm_srli_epi16(q, 4), low4), 1);
            if (HB) {
                __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi32((int)rd32(blk + QS - 4)), spread);
                h = _mm256_cmpeq_epi8(_mm256_and_si256(h, bits), bits);
                v = _mm256_or_si256(v, _mm256_and_si256(h, _mm256_set1_epi8(16)));
            }
            __m256i p;
            if (T == QWEN3_IQ4_NL || T == QWEN3_Q8_0) {
                /* signed values: |v| times x carrying v's sign (x is never -128, |v| <= 128: the pair
                 * sums stay within int16) */
                if (T == QWEN3_IQ4_NL) v = _mm256_shuffle_epi8(tbl, v);
                p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(x, v)), ones16);
            } else p = _mm256_add_epi32(start, _mm256_madd_epi16(_mm256_maddubs_epi16(v, x), ones16));
            pr[r] = p;
            memcpy(&dh[r], blk, 2);
            if (MIN) memcpy(&mh[r], blk + 2, 2);
        }
        /* the scalar twin's float steps (quant_ggml.c, dot32), 4 rows at once */
        __m128 dx = _mm_set1_ps(xd[b]);
        __m128 dw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)dh[3], (short)dh[2], (short)dh[1], (short)dh[0]));
        __m128 p = _mm_mul_ps(_mm_cvtepi32_ps(sum4x8(pr[0], pr[1], pr[2], pr[3])), _mm_mul_ps(dw, dx));
        if (MIN) {
            __m128 mw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)mh[3], (short)mh[2], (short)mh[1], (short)mh[0]));
            p = _mm_add_ps(p, _mm_mul_ps(_mm_cvtepi32_ps(sum4x8(xs, xs, xs, xs)), _mm_mul_ps(mw, dx)));
        }
        acc = _mm_add_ps(acc, p);
    }
    float out[4];
    _mm_storeu_ps(out, acc);
    for (int r = 0; r < nr; r++) y[r] = out[r];
}

/* the row count a compile-time constant in the common case, so the accumulators stay in registers */
#define K(T) TGT static void dk_##T(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { \
        if (nr == 4) dotk_body(T, w, wstride, 4, arow, n, y); else dotk_body(T, w, wstride, nr, arow, n, y); }
#define B32(T) TGT static void d32_##T(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { \
        if (nr == 4) dot32_body(T, w, wstride, 4, arow, n, y); else dot32_body(T, w, wstride, nr, arow, n, y); }
K(QWEN3_Q2_K) K(QWEN3_Q3_K) K(QWEN3_Q4_K) K(QWEN3_Q5_K) K(QWEN3_Q6_K) K(QWEN3_IQ4_XS) K(QWEN3_Q4)
B32(QWEN3_Q8_0) B32(QWEN3_Q4_0) B32(QWEN3_Q4_1) B32(QWEN3_Q5_0) B32(QWEN3_Q5_1) B32(QWEN3_IQ4_NL)

const kq_rows_fn kq_ggml_rows_avx2[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q2_K] = dk_QWEN3_Q2_K, [QWEN3_Q3_K] = dk_QWEN3_Q3_K, [QWEN3_Q4_K] = dk_QWEN3_Q4_K,
    [QWEN3_Q5_K] = dk_QWEN3_Q5_K, [QWEN3_Q6_K] = dk_QWEN3_Q6_K, [QWEN3_IQ4_XS] = dk_QWEN3_IQ4_XS, [QWEN3_Q4] = dk_QWEN3_Q4,
    [QWEN3_Q8_0] = d32_QWEN3_Q8_0, [QWEN3_Q4_0] = d32_QWEN3_Q4_0, [QWEN3_Q4_1] = d32_QWEN3_Q4_1, [QWEN3_Q5_0] = d32_QWEN3_Q5_0,
    [QWEN3_Q5_1] = d32_QWEN3_Q5_1, [QWEN3_IQ4_NL] = d32_QWEN3_IQ4_NL,
};
#else
const kq_rows_fn kq_ggml_rows_avx2[QWEN3_DTYPE_COUNT];
#endif
