/* quant_ggml_avx512.c - GGUF's block types on AVX-512 (VNNI for the dots, BF16 for the panels):
 * int8 dot products for decoding and dequantization to bf16 for the prefill GEMM's panels.
 *
 * Superblock types x A8_K: each 256-value superblock is unpacked into four 64-byte vectors of
 * unsigned values in element order (IQ4_XS: signed table values), vpmaddubsw multiplies them with
 * the int8 activations into int16 pairs, vpdpwssd multiplies those by the sub-block scales (per 16
 * or per 32 values, spread over the lanes by vpermw) and sums in int32, so the superblock's sum is
 * exact in integers and scaled once by d_w * d_x. Offsets are kept out of the bytes so vpmaddubsw's
 * unsigned operand stays unsigned: Q6_K's q - 32 and Q3_K's q - 4 become sum sc (q x) - 32 sum sc x,
 * with the per-16 sums of x (vpmaddubsw against ones) made once per token and superblock and shared
 * by the rows; Q2_K's minimums use the same sums; Q4_K / Q5_K's minimums use A8_K's per-32 sums.
 * IQ4_XS's signed values go through |w| and x carrying w's sign.
 * 32-value blocks x A8_0, one block per 256-bit vector as kq_dot_q8_0_avx512: Q4_0 / Q5_0's offsets
 * become an int32 start value -8 (-16) x the 4-byte sums of x, again shared by the rows; Q4_1 /
 * Q5_1's minimum multiplies the block sums of x; IQ4_NL looks its values up with vpshufb.
 * Same integer arithmetic as the scalar twins in quant_ggml.c; float sums differ only in order.
 * Up to 4 weight rows per call share every activation load. */
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

/* unpacking needs only the base set, so both the VNNI dots and the BF16 panels inline it */
#define TGT_BASE __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define TGT_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline))
#if defined(__clang__)
#define UNROLL4
#else
#define UNROLL4 _Pragma("GCC unroll 4")
#endif

static inline size_t bbytes(qwen3_dtype t) {
    switch (t) {
    case QWEN3_Q4_0: return sizeof(kq4_0_block);
    case QWEN3_Q4_1: return sizeof(kq4_1_block);
    case QWEN3_Q5_0: return sizeof(kq5_0_block);
    case QWEN3_Q5_1: return sizeof(kq5_1_block);
    case QWEN3_IQ4_NL: return sizeof(kiq4_nl_block);
    case QWEN3_Q2_K: return sizeof(kq2_k_block);
    case QWEN3_Q3_K: return sizeof(kq3_k_block);
    case QWEN3_Q4_K: return sizeof(kq4_k_block);
    case QWEN3_Q5_K: return sizeof(kq5_k_block);
    case QWEN3_Q6_K: return sizeof(kq6_k_block);
    default: return sizeof(kiq4_xs_block);
    }
}

TGT_BASE static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* ---------------------------------------------------------------- superblocks */

/* One superblock unpacked: v[4] values (element order, 64 per vector; unsigned except IQ4_XS),
 * sc the sub-block scales as int16 lanes (16 per-16 or 8 per-32 ones), mn Q2_K's per-16 minimums,
 * m32 Q4_K / Q5_K's per-32 minimums (8 int16), d and dmin. */
typedef struct { __m512i v[4]; __m512i sc, mn; __m128i m32; float d, dmin; } ksb;

/* Q4_K / Q5_K's 12 scale bytes -> 8 scales (bytes 0..7) and 8 minimums (bytes 8..15): j < 4 the low 6
 * bits of bytes j and j + 4; j >= 4 the nibbles of byte j + 4 with the top 2 bits of bytes j - 4 / j */
INL __m128i k4_scales(const uint8_t *s) {
    uint32_t w0 = rd32(s), w1 = rd32(s + 4), w2 = rd32(s + 8);
    uint32_t sc_lo = w0 & 0x3f3f3f3fu, mn_lo = w1 & 0x3f3f3f3fu;
    uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 6) & 0x03030303u) << 4;
    uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 6) & 0x03030303u) << 4;
    return _mm_set_epi32((int)mn_hi, (int)mn_lo, (int)sc_hi, (int)sc_lo);
}

/* Q3_K's 16 6-bit scales (0..63): low nibbles of bytes 0..7 then their high nibbles, 2 more bits
 * each from bytes 8..11 */
INL __m128i q3_scales(const uint8_t *s) {
    uint32_t w0 = rd32(s), w1 = rd32(s + 4), w2 = rd32(s + 8);
    uint32_t a = (w0 & 0x0f0f0f0fu) | ((w2 >> 0) & 0x03030303u) << 4;
    uint32_t b = (w1 & 0x0f0f0f0fu) | ((w2 >> 2) & 0x03030303u) << 4;
    uint32_t c = ((w0 >> 4) & 0x0f0f0f0fu) | ((w2 >> 4) & 0x03030303u) << 4;
    uint32_t e = ((w1 >> 4) & 0x0f0f0f0fu) | ((w2 >> 6) & 0x03030303u) << 4;
    return _mm_set_epi32((int)e, (int)c, (int)b, (int)a);
}

/* bit selectors: vector v's first 32 bytes test bit 2v, the last 32 bit 2v + 1 (Q5_K's qh, Q3_K's
 * hmask: element e's bit is bit e / 32 of byte e % 32) */
TGT_BASE INL __m512i bitsel(int v) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8((char)(1 << (2 * v)))), _mm256_set1_epi8((char)(1 << (2 * v + 1))), 1);
}
/* shift counts per 16-bit lane: first half a, second half b */
TGT_BASE INL __m512i cnt2(int a, int b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)a)), _mm256_set1_epi16((short)b), 1);
}

TGT_BASE INL void unpack512(qwen3_dtype T, const uint8_t *p, ksb *o) {
    const __m512i low4 = _mm512_set1_epi8(15), three = _mm512_set1_epi8(3);
    switch (T) {
    case QWEN3_Q4_K: case QWEN3_Q5_K: {
        const uint8_t *qs = p + (T == QWEN3_Q4_K ? 16 : 48);
        o->d = h2f(*(const uint16_t *)p);
        o->dmin = h2f(*(const uint16_t *)(p + 2));
        __m128i s = k4_scales(p + 4);
        o->sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(s));
        o->m32 = _mm_cvtepu8_epi16(_mm_srli_si128(s, 8));
        /* 32 bytes hold 64 values: low nibbles the first 32, high nibbles the next */
        UNROLL4
        for (int c = 0; c < 2; c++) {
            __m512i q = _mm512_loadu_si512(qs + 64 * c);
            __m512i lo = _mm512_and_si512(q, low4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
            o->v[2 * c] = _mm512_shuffle_i64x2(lo, hi, 0x44);
            o->v[2 * c + 1] = _mm512_shuffle_i64x2(lo, hi, 0xee);
        }
        if (T == QWEN3_Q5_K) {
            __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(p + 16)));
            UNROLL4
            for (int v = 0; v < 4; v++)
                o->v[v] = _mm512_mask_add_epi8(o->v[v], _mm512_test_epi8_mask(qh, bitsel(v)), o->v[v], _mm512_set1_epi8(16));
        }
        break;
    }
    case QWEN3_Q6_K: {
        const kq6_k_block *b = (const kq6_k_block *)p;
        o->d = h2f(b->d);
        o->sc = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales)));
        UNROLL4
        for (int c = 0; c < 2; c++) {
            __m512i ql = _mm512_loadu_si512(b->ql + 64 * c);
            __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * c)));
            /* values 128c + 0..63: low nibbles, high bits 0-1 (first 32) and 2-3 (next 32); 64..127:
             * high nibbles, bits 4-5 and 6-7 */
            __m512i h0 = _mm512_and_si512(_mm512_srlv_epi16(qh, cnt2(0, 2)), three);
            __m512i h1 = _mm512_and_si512(_mm512_srlv_epi16(qh, cnt2(4, 6)), three);
            o->v[2 * c] = _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_slli_epi16(h0, 4));
            o->v[2 * c + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4), _mm512_slli_epi16(h1, 4));
        }
        break;
    }
    case QWEN3_Q3_K: case QWEN3_Q2_K: {
        const uint8_t *qs = p + (T == QWEN3_Q3_K ? 32 : 16);
        if (T == QWEN3_Q3_K) {
            const kq3_k_block *b = (const kq3_k_block *)p;
            o->d = h2f(b->d);
            o->sc = _mm512_castsi256_si512(_mm256_sub_epi16(_mm256_cvtepu8_epi16(q3_scales(b->scales)), _mm256_set1_epi16(32)));
        } else {
            const kq2_k_block *b = (const kq2_k_block *)p;
            o->d = h2f(b->d);
            o->dmin = h2f(b->dmin);
            __m128i s = _mm_loadu_si128((const __m128i *)b->scales);
            o->sc = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(s, _mm_set1_epi8(15))));
            o->mn = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(15))));
        }
        /* 32 bytes per 128 values: 2-bit fields 0, 1 (first vector), 2, 3 (second) */
        UNROLL4
        for (int c = 0; c < 2; c++) {
            __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * c)));
            o->v[2 * c] = _mm512_and_si512(_mm512_srlv_epi16(q, cnt2(0, 2)), three);
            o->v[2 * c + 1] = _mm512_and_si512(_mm512_srlv_epi16(q, cnt2(4, 6)), three);
        }
        if (T == QWEN3_Q3_K) { /* the high bit set adds 4 (the value is q - 4 with q in 0..7) */
            __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
            UNROLL4
            for (int v = 0; v < 4; v++)
                o->v[v] = _mm512_mask_add_epi8(o->v[v], _mm512_test_epi8_mask(hm, bitsel(v)), o->v[v], _mm512_set1_epi8(4));
        }
        break;
    }
    default: { /* IQ4_XS */
        const kiq4_xs_block *b = (const kiq4_xs_block *)p;
        o->d = h2f(b->d);
        int16_t ls[8];
        for (int ib = 0; ib < 8; ib++)
            ls[ib] = (int16_t)((((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | ((b->scales_h >> (2 * ib)) & 3) << 4) - 32);
        o->sc = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)ls));
        const __m512i tbl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kq_iq4_values));
        const __m512i i0 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), i1 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
        UNROLL4
        for (int c = 0; c < 2; c++) {
            /* 16 bytes per 32 values: low nibbles the first 16, high nibbles the next 16 */
            __m512i q = _mm512_loadu_si512(b->qs + 64 * c);
            __m512i lo = _mm512_shuffle_epi8(tbl, _mm512_and_si512(q, low4));
            __m512i hi = _mm512_shuffle_epi8(tbl, _mm512_and_si512(_mm512_srli_epi16(q, 4), low4));
            o->v[2 * c] = _mm512_permutex2var_epi64(lo, i0, hi);
            o->v[2 * c + 1] = _mm512_permutex2var_epi64(lo, i1, hi);
        }
        break;
    }
    }
}

static inline int per16(qwen3_dtype T) { return T == QWEN3_Q2_K || T == QWEN3_Q3_K || T == QWEN3_Q6_K; }
static inline int offset_of(qwen3_dtype T) { return T == QWEN3_Q6_K ? 32 : T == QWEN3_Q3_K ? 4 : 0; }

TGT INL void dotk_body(qwen3_dtype T, const uint8_t *w, size_t ws, int nr, const void *arow, int64_t n, float *y) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, n);
    const int16_t *bsum = kq_act_bsum((void *)arow, n);
    const size_t BB = bbytes(T);
    const int OFF = offset_of(T), XS = OFF || T == QWEN3_Q2_K;
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
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    float mins[4] = {0, 0, 0, 0};
    for (int64_t sb = 0; sb < n / 256; sb++) {
        const int8_t *xs = xq + 256 * sb;
        __m512i x[4], xsum[4];
        UNROLL4
        for (int v = 0; v < 4; v++) {
            x[v] = _mm512_loadu_si512(xs + 64 * v);
            if (XS) xsum[v] = _mm512_maddubs_epi16(ones, x[v]); /* pair sums of x, for offsets and Q2_K's minimums */
        }
        __m128i bs = _mm_loadu_si128((const __m128i *)(bsum + 8 * sb));
        float dx = xd[sb];
        UNROLL4
        for (int r = 0; r < 4; r++) {
            const char *nx = (const char *)(w + (size_t)(4 + r) * ws + (size_t)sb * BB);
            for (size_t off = 0; off < BB; off += 64) _mm_prefetch(nx + off, _MM_HINT_T0);
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
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(u.d * dx), acc[r]);
            if (T == QWEN3_Q4_K || T == QWEN3_Q5_K) {
                __m128i mm = _mm_madd_epi16(u.m32, bs);
                mm = _mm_add_epi32(mm, _mm_shuffle_epi32(mm, 0x4e));
                mm = _mm_add_epi32(mm, _mm_shuffle_epi32(mm, 0xb1));
                mins[r] += u.dmin * dx * (float)_mm_cvtsi128_si32(mm);
            }
            if (T == QWEN3_Q2_K) mins[r] += u.dmin * dx * (float)_mm512_reduce_add_epi32(icorr);
        }
    }
    UNROLL4
    for (int r = 0; r < nr; r++) y[r] = _mm512_reduce_add_ps(acc[r]) - mins[r];
}

/* The same products for nt <= 4 tokens at once (activation rows arow_bytes apart, y[t * ldy + r]):
 * each weight superblock is unpacked, and its scales spread, once for all tokens (prefill runs
 * through here on the batch-invariant path). Per (row, token) every integer and float operation is
 * dotk_body's, in the same order, so a token's result has the same bits alone or in a batch. */
TGT INL void dotk_nt_body(qwen3_dtype T, const uint8_t *w, size_t ws, int nr, const void *A, size_t arow_bytes, int nt,
                          int64_t n, float *y, size_t ldy) {
    const int8_t *xq[4];
    const float *xd[4];
    const int16_t *bsum[4];
    for (int t = 0; t < nt; t++) {
        void *arow = (uint8_t *)A + (size_t)t * arow_bytes;
        xq[t] = kq_act_q(arow);
        xd[t] = kq_act_d(arow, n);
        bsum[t] = kq_act_bsum(arow, n);
    }
    const size_t BB = bbytes(T);
    const int OFF = offset_of(T);
    static const int16_t lanes[32] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                      16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    const __m512i lane = _mm512_loadu_si512(lanes);
    __m512i idx[4];
    for (int v = 0; v < 4; v++)
        idx[v] = per16(T) ? _mm512_add_epi16(_mm512_set1_epi16((short)(4 * v)), _mm512_srli_epi16(lane, 3))
                          : _mm512_add_epi16(_mm512_set1_epi16((short)(2 * v)), _mm512_srli_epi16(lane, 4));
    const __m512i ones = _mm512_set1_epi8(1);
    /* one row at a time over the whole length: only the nt token accumulators stay live (4 rows x 4
     * tokens of them spilled); the tokens' activations (nt x n bytes) stay in L1 across rows */
    for (int r = 0; r < nr; r++) {
        const uint8_t *wr = w + (size_t)r * ws;
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        float mins[4] = {0, 0, 0, 0};
        for (int64_t sb = 0; sb < n / 256; sb++) {
            const char *nx = (const char *)(wr + (size_t)(sb + 4) * BB);
            for (size_t off = 0; off < BB; off += 64) _mm_prefetch(nx + off, _MM_HINT_T0);
            ksb u;
            unpack512(T, wr + (size_t)sb * BB, &u);
            __m512i s[4], sm[4];
            UNROLL4
            for (int v = 0; v < 4; v++) {
                s[v] = _mm512_permutexvar_epi16(idx[v], u.sc);
                if (T == QWEN3_Q2_K) sm[v] = _mm512_permutexvar_epi16(idx[v], u.mn);
            }
            UNROLL4
            for (int t = 0; t < nt; t++) {
                const int8_t *xs = xq[t] + 256 * sb;
                float dx = xd[t][sb];
                __m512i isum = _mm512_setzero_si512(), icorr = _mm512_setzero_si512();
                UNROLL4
                for (int v = 0; v < 4; v++) {
                    __m512i x = _mm512_loadu_si512(xs + 64 * v), p;
                    if (T == QWEN3_IQ4_XS)
                        p = _mm512_maddubs_epi16(_mm512_abs_epi8(u.v[v]),
                                                 _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(u.v[v]), _mm512_setzero_si512(), x));
                    else p = _mm512_maddubs_epi16(u.v[v], x);
                    /* the offset inside the int16 pairs: q x - OFF x, both pair sums within int16
                     * (Q6_K: 16002 and 8128), so the integer sum equals dotk_body's exactly */
                    if (OFF) p = _mm512_sub_epi16(p, _mm512_maddubs_epi16(_mm512_set1_epi8((char)OFF), x));
                    isum = _mm512_dpwssd_epi32(isum, p, s[v]);
                    if (T == QWEN3_Q2_K) icorr = _mm512_dpwssd_epi32(icorr, _mm512_maddubs_epi16(ones, x), sm[v]);
                }
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(u.d * dx), acc[t]);
                if (T == QWEN3_Q4_K || T == QWEN3_Q5_K) {
                    __m128i mm = _mm_madd_epi16(u.m32, _mm_loadu_si128((const __m128i *)(bsum[t] + 8 * sb)));
                    mm = _mm_add_epi32(mm, _mm_shuffle_epi32(mm, 0x4e));
                    mm = _mm_add_epi32(mm, _mm_shuffle_epi32(mm, 0xb1));
                    mins[t] += u.dmin * dx * (float)_mm_cvtsi128_si32(mm);
                }
                if (T == QWEN3_Q2_K) mins[t] += u.dmin * dx * (float)_mm512_reduce_add_epi32(icorr);
            }
        }
        for (int t = 0; t < nt; t++) y[(size_t)t * ldy + r] = _mm512_reduce_add_ps(acc[t]) - mins[t];
    }
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
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    __m256 accm[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));
        float dx = xd[b];
        /* 4-byte sums of x: the offset's start value (Q4_0: -8 sum x) or the minimum's factor */
        __m256i xs = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, x), start = _mm256_setzero_si256();
        if (T == QWEN3_Q4_0) start = _mm256_sub_epi32(start, _mm256_slli_epi32(xs, 3));
        if (T == QWEN3_Q5_0) start = _mm256_sub_epi32(start, _mm256_slli_epi32(xs, 4));
        __m256 xsf = _mm256_cvtepi32_ps(xs);
        if ((b & 1) == 0)
            for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(w + (size_t)(4 + r) * ws + (size_t)b * BB), _MM_HINT_T0);
        UNROLL4
        for (int r = 0; r < nr; r++) {
            const uint8_t *blk = w + (size_t)r * ws + (size_t)b * BB;
            __m128i q = _mm_loadu_si128((const __m128i *)(blk + QS));
            __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, _mm256_castsi256_si128(low4))),
                                                _mm_and_si128(_mm_srli_epi16(q, 4), _mm256_castsi256_si128(low4)), 1);
            if (HB) v = _mm256_mask_add_epi8(v, (__mmask32)rd32(blk + QS - 4), v, _mm256_set1_epi8(16));
            __m256i p;
            if (T == QWEN3_IQ4_NL) {
                v = _mm256_shuffle_epi8(tbl, v);
                p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(v), _mm256_sign_epi8(x, v));
            } else p = _mm256_dpbusd_epi32(start, v, x);
            float d = h2f(*(const uint16_t *)blk);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * dx), acc[r]);
            if (MIN) accm[r] = _mm256_fmadd_ps(xsf, _mm256_set1_ps(h2f(*(const uint16_t *)(blk + 2)) * dx), accm[r]);
        }
    }
    UNROLL4
    for (int r = 0; r < nr; r++) {
        __m256 a = MIN ? _mm256_add_ps(acc[r], accm[r]) : acc[r];
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        y[r] = _mm_cvtss_f32(s);
    }
}

/* the row count a compile-time constant in the common case, so the accumulators stay in registers */
#define K(T) TGT static void dk_##T(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { \
        if (nr == 4) dotk_body(T, w, wstride, 4, arow, n, y); else dotk_body(T, w, wstride, nr, arow, n, y); }
#define B32(T) TGT static void d32_##T(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { \
        if (nr == 4) dot32_body(T, w, wstride, 4, arow, n, y); else dot32_body(T, w, wstride, nr, arow, n, y); }
K(QWEN3_Q2_K) K(QWEN3_Q3_K) K(QWEN3_Q4_K) K(QWEN3_Q5_K) K(QWEN3_Q6_K) K(QWEN3_IQ4_XS)
#define KNT(T) TGT static void dknt_##T(const uint8_t *w, size_t wstride, int nr, const void *A, size_t ab, int nt, int64_t n, \
                                       float *y, size_t ldy) {                                                           \
        if (nt == 4) dotk_nt_body(T, w, wstride, nr, A, ab, 4, n, y, ldy);                                               \
        else dotk_nt_body(T, w, wstride, nr, A, ab, nt, n, y, ldy); }
KNT(QWEN3_Q2_K) KNT(QWEN3_Q3_K) KNT(QWEN3_Q4_K) KNT(QWEN3_Q5_K) KNT(QWEN3_Q6_K) KNT(QWEN3_IQ4_XS)

int kq_ggml_dot_avx512_nt(qwen3_dtype t, const uint8_t *w, size_t wstride, int nr, const void *A, size_t arow_bytes, int nt,
                          int64_t n, float *y, size_t ldy) {
    switch (t) {
    case QWEN3_Q2_K: dknt_QWEN3_Q2_K(w, wstride, nr, A, arow_bytes, nt, n, y, ldy); return 1;
    case QWEN3_Q3_K: dknt_QWEN3_Q3_K(w, wstride, nr, A, arow_bytes, nt, n, y, ldy); return 1;
    case QWEN3_Q4_K: dknt_QWEN3_Q4_K(w, wstride, nr, A, arow_bytes, nt, n, y, ldy); return 1;
    case QWEN3_Q5_K: dknt_QWEN3_Q5_K(w, wstride, nr, A, arow_bytes, nt, n, y, ldy); return 1;
    case QWEN3_Q6_K: dknt_QWEN3_Q6_K(w, wstride, nr, A, arow_bytes, nt, n, y, ldy); return 1;
    case QWEN3_IQ4_XS: dknt_QWEN3_IQ4_XS(w, wstride, nr, A, arow_bytes, nt, n, y, ldy); return 1;
    default: return 0; /* the 32-value blocks: one token at a time */
    }
}
B32(QWEN3_Q4_0) B32(QWEN3_Q4_1) B32(QWEN3_Q5_0) B32(QWEN3_Q5_1) B32(QWEN3_IQ4_NL)

int kq_ggml_dot_avx512(qwen3_dtype t, const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) {
    switch (t) {
    case QWEN3_Q2_K: dk_QWEN3_Q2_K(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_Q3_K: dk_QWEN3_Q3_K(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_Q4_K: dk_QWEN3_Q4_K(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_Q5_K: dk_QWEN3_Q5_K(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_Q6_K: dk_QWEN3_Q6_K(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_IQ4_XS: dk_QWEN3_IQ4_XS(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_Q4_0: d32_QWEN3_Q4_0(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_Q4_1: d32_QWEN3_Q4_1(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_Q5_0: d32_QWEN3_Q5_0(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_Q5_1: d32_QWEN3_Q5_1(w, wstride, nr, arow, n, y); return 1;
    case QWEN3_IQ4_NL: d32_QWEN3_IQ4_NL(w, wstride, nr, arow, n, y); return 1;
    default: return 0;
    }
}

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
int kq_ggml_dot_avx512_nt(qwen3_dtype t, const uint8_t *w, size_t wstride, int nr, const void *A, size_t arow_bytes, int nt,
                          int64_t n, float *y, size_t ldy) { return 0; }
int kq_ggml_dot_avx512(qwen3_dtype t, const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { return 0; }
int kq_ggml_row_bf16_avx512(qwen3_dtype t, const uint8_t *row, uint16_t *out, int64_t K) { return 0; }
#endif
