/* quant_ggml_avx512.h - unpacking of GGUF's superblocks into 64-byte vectors, shared by the AVX-512
 * dot kernels (quant_ggml_avx512.c) and the many-token kernels (quant_ggml_gemm512.c). Private to
 * those two files: everything here is static inline, compiled for the AVX-512 target attribute.
 *
 * unpack512(T, block, &u) gives one superblock as u.v[4] (64 values each, element order; unsigned
 * values for every type but IQ4_XS, whose table values are signed; Q3_K's values are q + 4, Q6_K's
 * q + 32, see offset_of), the sub-block scales as int16 lanes u.sc (16 per-16 scales, or 8 per-32
 * ones in lanes 0..7), Q2_K's per-16 minimums u.mn, Q4_K / Q5_K's (and our Q4's) per-32 minimums
 * u.m32, d and dmin. Our own Q4 (kernels/quant.h) is a superblock type with Q4_K's arithmetic and
 * 8-bit scales and minimums, so it takes these kernels too. */
#ifndef QWEN3_KERNELS_QUANT_GGML_AVX512_H
#define QWEN3_KERNELS_QUANT_GGML_AVX512_H

#include <immintrin.h>
#include <string.h>

#include "kernels/quant_ggml.h"
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
    case QWEN3_Q4: return sizeof(kq4_block);
    case QWEN3_Q5_K: return sizeof(kq5_k_block);
    case QWEN3_Q6_K: return sizeof(kq6_k_block);
    default: return sizeof(kiq4_xs_block);
    }
}

TGT_BASE static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* ---------------------------------------------------------------- superblocks */

/* One superblock unpacked: v[4] values (element order, 64 per vector; unsigned except IQ4_XS),
 * sc the sub-block scales as int16 lanes (16 per-16 or 8 per-32 ones), mn Q2_K's per-16 minimums,
 * m32 Q4_K / Q5_K's per-32 minimums (8 int16), d and dmin. */
typedef struct { __m512i v[4]; __m512i sc, mn; __m128i m32; float d, dmin; } ksb;

/* Q4_K / Q5_K's 12 scale bytes s -> 8 scales (bytes 0..7) and 8 minimums (bytes 8..15), as
 * k4_scale_words (quant_ggml.h) arranges them */
INL __m128i k4_scales(const uint8_t *s) {
    uint32_t w[4];
    k4_scale_words(s, w);
    return _mm_loadu_si128((const __m128i *)w);
}

/* bytes of 16 rows' superblock of Q4_K / Q6_K / our Q4 interleaved by 16 rows with the words in lanes
 * (kernels/repack.c): word k of the 16 rows' blocks at 64 k, row i in lane i (Q6_K: then the 16
 * rows' d, f16, at 64 x 52) */
#define KQ4K_T16_STEP (16 * 144)
#define KQ6K_T16_STEP (16 * 210)
#define KQ4_T16_STEP (16 * 148) /* our Q4 (kernels/quant.h): 37 words */

/* Q6_K's 6-bit values of 16 rows in lanes (u = q + 32, bytes), from ql's word j of a 64-byte half
 * (q0), its word 8 + j (q1) and qh's word j of the matching 32 bytes (qh): v[0] the 4 values whose
 * low bits are q0's low nibbles, v[1] q1's low nibbles (32 values further), v[2] q0's high nibbles
 * (64 further), v[3] q1's high (96 further); qh's bits 0-1, 2-3, 4-5, 6-7 of each byte their top 2
 * bits. (x & 15) | y with y the high bits in place: ternary logic 0xEA, (A & B) | C. */
TGT_BASE INL void q6k_vals4(__m512i q0, __m512i q1, __m512i qh, __m512i v[4]) {
    const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
    v[0] = _mm512_ternarylogic_epi32(q0, m4, _mm512_and_si512(_mm512_slli_epi32(qh, 4), m30), 0xEA);
    v[1] = _mm512_ternarylogic_epi32(q1, m4, _mm512_and_si512(_mm512_slli_epi32(qh, 2), m30), 0xEA);
    v[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(q0, 4), m4, _mm512_and_si512(qh, m30), 0xEA);
    v[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(q1, 4), m4, _mm512_and_si512(_mm512_srli_epi32(qh, 2), m30), 0xEA);
}

/* the int8 in byte b of each dword of w, sign-extended to int32 lanes (Q6_K's scales in lanes) */
TGT_BASE INL __m512i sbyte32(__m512i w, int b) { return _mm512_srai_epi32(_mm512_slli_epi32(w, 24 - 8 * b), 24); }

/* the same for 16 rows in the lanes: w0, w1, w2 the scale bytes' words 0-3, 4-7, 8-11 of each row;
 * s[0] / s[1] get the bytes of scales 0-3 / 4-7, n[0] / n[1] those of the minimums */
TGT_BASE INL void k4_scales16(__m512i w0, __m512i w1, __m512i w2, __m512i s[2], __m512i n[2]) {
    const __m512i m4 = _mm512_set1_epi8(15), m6 = _mm512_set1_epi8(0x3f), m2 = _mm512_set1_epi8(3);
    s[0] = _mm512_and_si512(w0, m6);
    s[1] = _mm512_or_si512(_mm512_and_si512(w2, m4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(w0, 6), m2), 4));
    n[0] = _mm512_and_si512(w1, m6);
    n[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(w2, 4), m4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(w1, 6), m2), 4));
}

/* vpshufb control: in each dword, bytes b and b + 1 of that dword to an int16 pair, zero-extended;
 * or (high) into the halves' high bytes, which an arithmetic shift by 8 then sign-extends */
TGT_BASE INL __m512i pair_bytes(int b, int high) {
    const int sh = high ? 8 : 0;
    uint32_t c[4];
    for (int q = 0; q < 4; q++)
        c[q] = (uint32_t)(4 * q + b) << sh | 0x80u << (8 - sh) | (uint32_t)(4 * q + b + 1) << (16 + sh) | 0x80u << (24 - sh);
    return _mm512_broadcast_i32x4(_mm_setr_epi32((int)c[0], (int)c[1], (int)c[2], (int)c[3]));
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
    case QWEN3_Q4: {
        /* our own Q4 (kernels/quant.h): 8 scale bytes then 8 minimum bytes, as k4_scales unpacks
         * Q4_K's; a 64-byte load of qs holds 64 values in its low nibbles and the next 64 in its high */
        const kq4_block *b = (const kq4_block *)p;
        o->d = h2f(b->d);
        o->dmin = h2f(b->dmin);
        __m128i s = _mm_loadu_si128((const __m128i *)b->sc);
        o->sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(s));
        o->m32 = _mm_cvtepu8_epi16(_mm_srli_si128(s, 8));
        UNROLL4
        for (int c = 0; c < 2; c++) {
            __m512i q = _mm512_loadu_si512(b->qs + 64 * c);
            o->v[2 * c] = _mm512_and_si512(q, low4);
            o->v[2 * c + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
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
        /* ls_j = (nibble j of scales_l) | (bits 2j, 2j + 1 of scales_h) << 4, minus 32, in vector
         * registers (8 int16 stores read back as one vector stalled the store forwarding) */
        const __m128i sl = _mm_cvtsi32_si128((int)rd32(b->scales_l)), m15 = _mm_set1_epi8(15);
        const __m128i lo4 = _mm_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_and_si128(sl, m15), _mm_and_si128(_mm_srli_epi16(sl, 4), m15)));
        const __m128i hi2 = _mm_and_si128(_mm_srlv_epi16(_mm_set1_epi16((short)b->scales_h), _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)), _mm_set1_epi16(3));
        o->sc = _mm512_castsi128_si512(_mm_sub_epi16(_mm_or_si128(lo4, _mm_slli_epi16(hi2, 4)), _mm_set1_epi16(32)));
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


#endif
