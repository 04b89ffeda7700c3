/* quant_ggml_avx2.h - unpacking of GGUF's superblocks into 32-byte vectors, shared by the AVX2 dot
 * kernels (quant_ggml_avx2.c) and the AVX2 many-token kernels (quant_ggml_gemm256.c). Private to those
 * files: everything here is static inline, compiled for the AVX2 target attribute.
 *
 * unpack256(T, block, &u) gives one superblock as u.v[8] (32 values each, element order; unsigned
 * values for every type but IQ4_XS, whose table values are signed; Q3_K's values are q + 4, Q6_K's
 * q + 32, see offset_of), the sub-block scales as 16 int16 lanes u.sc (per 16 values; per-32 types
 * duplicated), Q2_K's per-16 minimums u.mn, Q4_K / Q5_K's per-32 minimums u.m32, d and dmin. Our own
 * Q4 (quant.h: Q4_K's arithmetic with 8-bit scales and minimums) unpacks like Q4_K: its sums stay
 * in range (vpmaddubsw pairs at most 2 x 15 x 127, times a scale of at most 255 in vpmaddwd). */
#ifndef QWEN3_KERNELS_QUANT_GGML_AVX2_H
#define QWEN3_KERNELS_QUANT_GGML_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "kernels/quant_ggml.h"

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline))

static inline size_t bbytes(qwen3_dtype t) {
    switch (t) {
    case QWEN3_Q8_0: return sizeof(kq8_0_block);
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


TGT INL float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
TGT INL int hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
/* exact int32 sums of the 8 lanes of each of a, b, c, d: [sum a, sum b, sum c, sum d] */
TGT INL __m128i sum4x8(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
/* bit k of every byte moved to bit `to` (other bits cleared) */
TGT INL __m256i bit_to(__m256i v, int k, int to) {
    __m256i s = k <= to ? _mm256_slli_epi16(v, to - k) : _mm256_srli_epi16(v, k - to);
    return _mm256_and_si256(s, _mm256_set1_epi8((char)(1 << to)));
}

/* Q4_K / Q5_K's 12 scale bytes s -> 8 scales (bytes 0..7) and 8 minimums (bytes 8..15), as
 * k4_scale_words (quant_ggml.h) arranges them */
TGT INL __m128i k4_scales(const uint8_t *s) {
    uint32_t w[4];
    k4_scale_words(s, w);
    return _mm_loadu_si128((const __m128i *)w);
}

/* one superblock: v[8] values, sc 16 int16 scales per 16 values (per-32 types duplicated), mn Q2_K's
 * per-16 minimums, m32 Q4_K / Q5_K's per-32 minimums */
typedef struct { __m256i v[8]; __m256i sc, mn; __m128i m32; float d, dmin; } ksb;

TGT INL __m256i dup16(__m128i s8) { /* 8 int16 -> each twice */
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi16(s8, s8)), _mm_unpackhi_epi16(s8, s8), 1);
}

TGT INL void unpack256(qwen3_dtype T, const uint8_t *p, ksb *o) {
    const __m256i low4 = _mm256_set1_epi8(15), three = _mm256_set1_epi8(3);
    switch (T) {
    case QWEN3_Q4_K: case QWEN3_Q5_K: {
        const uint8_t *qs = p + (T == QWEN3_Q4_K ? 16 : 48);
        o->d = _cvtsh_ss(*(const uint16_t *)p);
        o->dmin = _cvtsh_ss(*(const uint16_t *)(p + 2));
        const __m128i s = k4_scales(p + 4);
        o->sc = dup16(_mm_cvtepu8_epi16(s));
        o->m32 = _mm_cvtepu8_epi16(_mm_srli_si128(s, 8));
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            o->v[2 * c] = _mm256_and_si256(q, low4);
            o->v[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
        }
        if (T == QWEN3_Q5_K) {
            __m256i qh = _mm256_loadu_si256((const __m256i *)(p + 16));
            for (int j = 0; j < 8; j++) o->v[j] = _mm256_or_si256(o->v[j], bit_to(qh, j, 4));
        }
        break;
    }
    case QWEN3_Q4: { /* our own (quant.h): 8-bit scales and minimums as stored; qs[64c + k] holds
                      * element 128c + k in its low nibble, 128c + 64 + k in its high one */
        const kq4_block *b = (const kq4_block *)p;
        o->d = _cvtsh_ss(b->d);
        o->dmin = _cvtsh_ss(b->dmin);
        o->sc = dup16(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)b->sc)));
        o->m32 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)b->mn));
        for (int c = 0; c < 2; c++) {
            __m256i q0 = _mm256_loadu_si256((const __m256i *)(b->qs + 64 * c)), q1 = _mm256_loadu_si256((const __m256i *)(b->qs + 64 * c + 32));
            o->v[4 * c] = _mm256_and_si256(q0, low4);
            o->v[4 * c + 1] = _mm256_and_si256(q1, low4);
            o->v[4 * c + 2] = _mm256_and_si256(_mm256_srli_epi16(q0, 4), low4);
            o->v[4 * c + 3] = _mm256_and_si256(_mm256_srli_epi16(q1, 4), low4);
        }
        break;
    }
    case QWEN3_Q6_K: {
        const kq6_k_block *b = (const kq6_k_block *)p;
        o->d = _cvtsh_ss(b->d);
        o->sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        const __m256i h3 = _mm256_set1_epi8(0x30);
        for (int c = 0; c < 2; c++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * c)), l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * c + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * c));
            o->v[4 * c] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), h3));
            o->v[4 * c + 1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), h3));
            o->v[4 * c + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(qh, h3));
            o->v[4 * c + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), h3));
        }
        break;
    }
    case QWEN3_Q3_K: case QWEN3_Q2_K: {
        const uint8_t *qs = p + (T == QWEN3_Q3_K ? 32 : 16);
        if (T == QWEN3_Q3_K) {
            const kq3_k_block *b = (const kq3_k_block *)p;
            o->d = _cvtsh_ss(b->d);
            uint32_t w0 = rd32(b->scales), w1 = rd32(b->scales + 4), w2 = rd32(b->scales + 8);
            __m128i s = _mm_set_epi32((int)(((w1 >> 4) & 0x0f0f0f0fu) | ((w2 >> 6) & 0x03030303u) << 4),
                                      (int)(((w0 >> 4) & 0x0f0f0f0fu) | ((w2 >> 4) & 0x03030303u) << 4),
                                      (int)((w1 & 0x0f0f0f0fu) | ((w2 >> 2) & 0x03030303u) << 4),
                                      (int)((w0 & 0x0f0f0f0fu) | (w2 & 0x03030303u) << 4));
            o->sc = _mm256_sub_epi16(_mm256_cvtepu8_epi16(s), _mm256_set1_epi16(32));
        } else {
            const kq2_k_block *b = (const kq2_k_block *)p;
            o->d = _cvtsh_ss(b->d);
            o->dmin = _cvtsh_ss(b->dmin);
            __m128i s = _mm_loadu_si128((const __m128i *)b->scales);
            o->sc = _mm256_cvtepu8_epi16(_mm_and_si128(s, _mm_set1_epi8(15)));
            o->mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(15)));
        }
        for (int c = 0; c < 2; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            for (int j = 0; j < 4; j++) o->v[4 * c + j] = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three);
        }
        if (T == QWEN3_Q3_K) {
            __m256i hm = _mm256_loadu_si256((const __m256i *)p);
            for (int k = 0; k < 8; k++) o->v[k] = _mm256_or_si256(o->v[k], bit_to(hm, k, 2));
        }
        break;
    }
    default: { /* IQ4_XS */
        const kiq4_xs_block *b = (const kiq4_xs_block *)p;
        o->d = _cvtsh_ss(b->d);
        /* ls_j = (nibble j of scales_l) | (bits 2j, 2j + 1 of scales_h) << 4, minus 32, in vector
         * registers (8 int16 stores read back as one vector stalled the store forwarding); the
         * high bits by a multiply that moves bits 2j, 2j + 1 to 14, 15, then a shift */
        const __m128i sl = _mm_cvtsi32_si128((int)rd32(b->scales_l)), m15 = _mm_set1_epi8(15);
        const __m128i lo4 = _mm_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_and_si128(sl, m15), _mm_and_si128(_mm_srli_epi16(sl, 4), m15)));
        const __m128i hi2 = _mm_srli_epi16(_mm_mullo_epi16(_mm_set1_epi16((short)b->scales_h),
                                                           _mm_setr_epi16(1 << 14, 1 << 12, 1 << 10, 1 << 8, 1 << 6, 1 << 4, 1 << 2, 1)), 14);
        o->sc = dup16(_mm_sub_epi16(_mm_or_si128(lo4, _mm_slli_epi16(hi2, 4)), _mm_set1_epi16(32)));
        const __m256i tbl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kq_iq4_values));
        for (int ib = 0; ib < 8; ib++) {
            __m128i q = _mm_loadu_si128((const __m128i *)(b->qs + 16 * ib));
            __m256i nib = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, _mm_set1_epi8(15))),
                                                  _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(15)), 1);
            o->v[ib] = _mm256_shuffle_epi8(tbl, nib);
        }
        break;
    }
    }
}


#endif
