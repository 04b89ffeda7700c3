/* attn_q.c - scores over block-quantized KV caches as integer dot products (the definition and why:
 * attn_q.h). The scalar definition, its generic block forms, and the AVX-512 VNNI kernels: lanes
 * over positions (decode: 16 cached keys transposed so that lane j holds 4 bytes of key j, times a
 * broadcast 4 bytes of the query) and lanes over rows (prefill: a broadcast 4 bytes of one key times
 * the transposed queries of up to 16 rows). */
#include <math.h>
#include <string.h>

#include "kernels/attn_q.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

void kqq_make(kqquery *qq, const float *q, float scale, int D, qwen3_dtype kv) {
    for (int b = 0; b < D / 32; b++) {
        float x[32], amax = 0.0f;
        for (int i = 0; i < 32; i++) {
            x[i] = q[32 * b + i] * scale;
            amax = fmaxf(amax, fabsf(x[i]));
        }
        qq->d[b] = amax / 127.0f;
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (int i = 0; i < 32; i++) sum += qq->q[32 * b + i] = (int8_t)lrintf(x[i] * id);
        qq->bias[b] = (kv == QWEN3_Q8_0 ? 128 : 8) * sum;
    }
}

void kqq_tile(kqtile *t, const kqquery *qq, int M, int D) {
    for (int r = 0; r < 16; r++) {
        const kqquery *x = &qq[r < M ? r : 0];
        for (int g = 0; g < D / 4; g++) memcpy(&t->q[g][r], x->q + 4 * g, 4);
        for (int b = 0; b < D / 32; b++) {
            t->d[b][r] = x->d[b];
            t->bias[b][r] = x->bias[b];
        }
    }
}

float kqq_score(const kqquery *qq, qwen3_dtype kv, const uint8_t *krow, int D) {
    float s = 0.0f;
    for (int b = 0; b < D / 32; b++) {
        const int8_t *x = qq->q + 32 * b;
        int32_t I = 0;
        float dk;
        if (kv == QWEN3_Q8_0) {
            const kq8_0_block *k = (const kq8_0_block *)krow + b;
            dk = k_f16_to_f32(k->d);
            for (int i = 0; i < 32; i++) I += x[i] * k->q[i];
        } else {
            const kq4_0_block *k = (const kq4_0_block *)krow + b;
            dk = k_f16_to_f32(k->d);
            for (int i = 0; i < 16; i++) I += x[i] * ((k->qs[i] & 15) - 8) + x[16 + i] * ((k->qs[i] >> 4) - 8);
        }
        float dd = qq->d[b] * dk; /* separate statements: no contraction into an fma */
        float t = dd * (float)I;
        s = b ? s + t : t;
    }
    return s;
}

/* the generic twins: the definition, score by score */
static void scores_keys_generic(float *s, const kqquery *qq, int M, qwen3_dtype kv, const uint8_t *kb, size_t rb, int nb,
                                int D) {
    for (int r = 0; r < M; r++)
        for (int j = 0; j < 16; j++) s[r * 16 + j] = j < nb ? kqq_score(&qq[r], kv, kb + (size_t)j * rb, D) : 0.0f;
}

static void scores_rows_generic(float *s, const kqquery *qq, int M, int L, qwen3_dtype kv, const uint8_t *kb, size_t rb,
                                int nb, int D) {
    for (int j = 0; j < 16; j++)
        for (int r = 0; r < L; r++) s[j * 16 + r] = j < nb ? kqq_score(&qq[r < M ? r : 0], kv, kb + (size_t)j * rb, D) : 0.0f;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define TGTV __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c")))

/* bytes of one block and the offset of its quants */
#define QBLK(kv) ((kv) == QWEN3_Q8_0 ? (int)sizeof(kq8_0_block) : (int)sizeof(kq4_0_block))

/* 16 key rows' block b as 8 vectors of unsigned bytes, kt[g] lane j = elements 4g..4g+3 of key j
 * (Q8_0 biased by +128, Q4_0 the nibbles 0..15) */
TGTV static inline __attribute__((always_inline)) void keys_block(__m512i kt[8], qwen3_dtype kv, const uint8_t *kb, size_t rb, int b) {
    if (kv == QWEN3_Q8_0) {
        const uint8_t *p = kb + 34 * b + 2;
        __m512i z[8], t[4], u[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) /* z[j] = key j | key j + 8, 32 bytes each */
            z[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p + (size_t)j * rb))),
                                      _mm256_loadu_si256((const __m256i *)(p + (size_t)(j + 8) * rb)), 1);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) { /* 4x4 dword transposes in each 128-bit lane of z[4h..4h+3] */
            __m512i *zz = z + 4 * h;
            t[0] = _mm512_unpacklo_epi32(zz[0], zz[1]);
            t[1] = _mm512_unpackhi_epi32(zz[0], zz[1]);
            t[2] = _mm512_unpacklo_epi32(zz[2], zz[3]);
            t[3] = _mm512_unpackhi_epi32(zz[2], zz[3]);
            u[4 * h + 0] = _mm512_unpacklo_epi64(t[0], t[2]);
            u[4 * h + 1] = _mm512_unpackhi_epi64(t[0], t[2]);
            u[4 * h + 2] = _mm512_unpacklo_epi64(t[1], t[3]);
            u[4 * h + 3] = _mm512_unpackhi_epi64(t[1], t[3]);
        }
        /* u[e] lanes: keys 0-3 dword e, keys 0-3 dword 4+e, keys 8-11 dword e, keys 8-11 dword 4+e;
         * u[4+e] the same for keys 4-7 and 12-15 */
        const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
        const __m512i bias = _mm512_set1_epi8((char)0x80);
#pragma GCC unroll 4
        for (int e = 0; e < 4; e++) {
            kt[e] = _mm512_xor_si512(_mm512_permutex2var_epi64(u[e], lo, u[4 + e]), bias);
            kt[4 + e] = _mm512_xor_si512(_mm512_permutex2var_epi64(u[e], hi, u[4 + e]), bias);
        }
    } else {
        const uint8_t *p = kb + 18 * b + 2;
        __m512i z[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) { /* z[j] = keys j, j + 4, j + 8, j + 12: 16 bytes each */
            __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + (size_t)j * rb)));
            v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (size_t)(j + 4) * rb)), 1);
            v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (size_t)(j + 8) * rb)), 2);
            z[j] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (size_t)(j + 12) * rb)), 3);
        }
        __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
        __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
        __m512i w[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2), _mm512_unpacklo_epi64(t1, t3),
                        _mm512_unpackhi_epi64(t1, t3)};
        const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) { /* low nibbles: elements 4g.., high: 16 + 4g.. */
            kt[g] = _mm512_and_si512(w[g], m4);
            kt[4 + g] = _mm512_and_si512(_mm512_srli_epi16(w[g], 4), m4);
        }
    }
}

/* block b of one query row against 16 keys (kt from keys_block, dk their scales): the integer sum
 * less the query's bias, t_b = (dq_b dk_b) I_b, added to acc in block order (attn_q.h) */
TGTV static inline __attribute__((always_inline)) __m512 block_score(__m512 acc, const kqquery *x, const __m512i kt[8],
                                                                     __m512 dk, int b) {
    __m512i a = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int g = 0; g < 8; g++) {
        int32_t w;
        memcpy(&w, x->q + 32 * b + 4 * g, 4);
        a = _mm512_dpbusd_epi32(a, kt[g], _mm512_set1_epi32(w));
    }
    a = _mm512_sub_epi32(a, _mm512_set1_epi32(x->bias[b]));
    __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(x->d[b]), dk), _mm512_cvtepi32_ps(a));
    return b ? _mm512_add_ps(acc, t) : t;
}

/* The f16 scales of 16 key rows of D = 128, widened: dk[b] lane j = block b of key j. Loads of whole
 * 64 bytes and word permutes, which cost less than the 4 gathers they replaced (bench/attn.sh in
 * cache, M = 2: Q4_0 10.9 -> 10.0 ns a position). Q4_0 (4 blocks of 18 bytes): one load per key
 * holds its 4 scales, words 0, 9, 18, 27. */
static const uint16_t q4s_pair[32] = {0, 9, 18, 27, 32, 41, 50, 59};
static const uint16_t q4s_blk[4][32] = {
    {0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60},
    {1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61},
    {2, 6, 10, 14, 18, 22, 26, 30, 34, 38, 42, 46, 50, 54, 58, 62},
    {3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59, 63},
};
/* p[i] words 0-3: the 4 scales of key 2i, words 4-7: key 2i + 1's; into dk[b] lane j = block b of key j */
TGTV static inline __attribute__((always_inline)) void scales16_merge(__m512 dk[4], const __m512i p[8]) {
    __m512i h0 = _mm512_inserti32x4(p[0], _mm512_castsi512_si128(p[1]), 1); /* keys 0-3 */
    h0 = _mm512_inserti64x4(h0, _mm512_castsi512_si256(_mm512_inserti32x4(p[2], _mm512_castsi512_si128(p[3]), 1)), 1);
    __m512i h1 = _mm512_inserti32x4(p[4], _mm512_castsi512_si128(p[5]), 1); /* keys 8-11 */
    h1 = _mm512_inserti64x4(h1, _mm512_castsi512_si256(_mm512_inserti32x4(p[6], _mm512_castsi512_si128(p[7]), 1)), 1);
    /* h0 word 4k + b: block b of key k (k < 8); h1 the same for keys 8-15 */
#pragma GCC unroll 4
    for (int b = 0; b < 4; b++)
        dk[b] = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(h0, _mm512_loadu_si512(q4s_blk[b]), h1)));
}

TGTV static inline __attribute__((always_inline)) void scales16_q4_0(__m512 dk[4], const uint8_t *kb, size_t rb) {
    const __m512i ip = _mm512_loadu_si512(q4s_pair);
    __m512i p[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) /* p[i] words 0-3: key 2i's 4 scales, 4-7: key 2i + 1's */
        p[i] = _mm512_permutex2var_epi16(_mm512_loadu_si512(kb + (size_t)(2 * i) * rb), ip,
                                         _mm512_loadu_si512(kb + (size_t)(2 * i + 1) * rb));
    scales16_merge(dk, p);
}

/* The same for Q8_0 rows (4 blocks of 34 bytes): the scales sit at bytes 0, 34, 68 and 102, so two
 * 64-byte loads per key (at 0 and 68) hold them as words 0 and 17 of each. */
static const uint16_t q8s_key[32] = {0, 17, 32, 49};
TGTV static inline __attribute__((always_inline)) void scales16_q8_0(__m512 dk[4], const uint8_t *kb, size_t rb) {
    const __m512i ik = _mm512_loadu_si512(q8s_key);
    __m512i x[16], p[8];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) /* x[j] words 0-3: key j's 4 scales */
        x[j] = _mm512_permutex2var_epi16(_mm512_loadu_si512(kb + (size_t)j * rb), ik, _mm512_loadu_si512(kb + (size_t)j * rb + 68));
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) p[i] = _mm512_unpacklo_epi64(x[2 * i], x[2 * i + 1]);
    scales16_merge(dk, p);
}

/* 16 whole key rows of D = 128 against M (1-4) query rows, kv and M constants after inlining, so
 * that the keys, the scales and the M score vectors stay in registers (the generic loop below kept
 * them on the stack, a store and reload per block and row; with this body and the Q4_0 table in
 * attn.c the 2-row kernel went 13.9 -> 10.8 ns a position in cache). Same operations, same order,
 * same bits as the generic loop. */
TGTV static inline __attribute__((always_inline)) void scores16_d128(float *s, const kqquery *qq, const int M,
                                                                     const qwen3_dtype kv, const uint8_t *kb, size_t rb) {
    __m512 dk[4], acc[4];
    if (kv == QWEN3_Q4_0) scales16_q4_0(dk, kb, rb);
    else scales16_q8_0(dk, kb, rb);
#pragma GCC unroll 4
    for (int b = 0; b < 4; b++) {
        __m512i kt[8];
        keys_block(kt, kv, kb, rb, b);
#pragma GCC unroll 4
        for (int r = 0; r < M; r++) {
            acc[r] = block_score(acc[r], &qq[r], kt, dk[b], b);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < M; r++) _mm512_storeu_ps(s + 16 * r, acc[r]);
}

#define S16(kvc)                                                                                                       \
    switch (M) {                                                                                                       \
    case 1: scores16_d128(s, qq, 1, kvc, kb, rb); return;                                                              \
    case 2: scores16_d128(s, qq, 2, kvc, kb, rb); return;                                                              \
    case 3: scores16_d128(s, qq, 3, kvc, kb, rb); return;                                                              \
    default: scores16_d128(s, qq, 4, kvc, kb, rb); return;                                                             \
    }

TGTV static void scores_keys_vnni(float *s, const kqquery *qq, int M, qwen3_dtype kv, const uint8_t *kb, size_t rb, int nb,
                                  int D) {
    if (D == 128 && nb == 16 && M <= 4) {
        if (kv == QWEN3_Q8_0) S16(QWEN3_Q8_0) else S16(QWEN3_Q4_0)
    }
    uint8_t pad[16 * (KQQ_MAXD / 32) * sizeof(kq8_0_block)] __attribute__((aligned(64)));
    const int B = QBLK(kv);
    if (nb < 16) { /* the keys past the cache's end read as zeros (their scores are masked) */
        const size_t used = (size_t)(D / 32) * B;
        memset(pad, 0, sizeof pad);
        for (int j = 0; j < nb; j++) memcpy(pad + (size_t)j * used, kb + (size_t)j * rb, used);
        kb = pad, rb = used;
    }
    const __m512i rows = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32((int)rb));
    __m512 acc[16];
    for (int b = 0; b < D / 32; b++) {
        __m512i kt[8];
        keys_block(kt, kv, kb, rb, b);
        /* the 16 keys' f16 scales: 4 bytes gathered at each block's start, the low 2 kept */
        __m512i sc = _mm512_i32gather_epi32(_mm512_add_epi32(rows, _mm512_set1_epi32(B * b)), kb, 1);
        __m512 dk = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(sc));
        for (int r = 0; r < M; r++) {
            acc[r] = block_score(acc[r], &qq[r], kt, dk, b);
        }
    }
    const __mmask16 valid = nb >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nb) - 1);
    for (int r = 0; r < M; r++) _mm512_storeu_ps(s + 16 * r, _mm512_maskz_mov_ps(valid, acc[r]));
}

/* block b of one key row as the 8 dwords of unsigned bytes the query's dwords pair with: w[g] =
 * elements 4g..4g+3 (Q8_0 biased by +128; Q4_0 the nibbles, 0-15 low and 16-31 high) */
static inline __attribute__((always_inline)) void key_dwords(qwen3_dtype kv, const uint8_t *blk, uint32_t w[8]) {
    for (int g = 0; g < 4; g++) {
        uint32_t lo, hi;
        memcpy(&lo, blk + 2 + 4 * g, 4);
        if (kv == QWEN3_Q8_0) {
            memcpy(&hi, blk + 18 + 4 * g, 4);
            w[g] = lo ^ 0x80808080u, w[4 + g] = hi ^ 0x80808080u;
        } else
            w[g] = lo & 0x0f0f0f0fu, w[4 + g] = lo >> 4 & 0x0f0f0f0fu;
    }
}

/* One key row against the tile's 16 lanes (W = 512) or its first 8 (W = 256): the score vector. One
 * body for both widths, the intrinsics named by their width (_mm512_* / _mm256_*, si512 / si256). */
#define ROW_SCORES(W)                                                                                                  \
    TGTV static inline __attribute__((always_inline)) __m##W row_scores##W(const kqtile *t, qwen3_dtype kv,              \
                                                                          const uint8_t *row, int B, int nblk) {       \
        __m##W acc = _mm##W##_setzero_ps();                                                                             \
        for (int b = 0; b < nblk; b++) {                                                                                \
            const uint8_t *blk = row + B * b;                                                                           \
            uint16_t h;                                                                                                 \
            uint32_t w[8];                                                                                              \
            memcpy(&h, blk, 2);                                                                                         \
            key_dwords(kv, blk, w);                                                                                     \
            __m##W##i a = _mm##W##_setzero_si##W();                                                                     \
            _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++)                                                                                 \
                a = _mm##W##_dpbusd_epi32(a, _mm##W##_set1_epi32((int)w[g]), _mm##W##_load_si##W((const void *)t->q[8 * b + g])); \
            a = _mm##W##_sub_epi32(a, _mm##W##_load_si##W((const void *)t->bias[b]));                                  \
            __m##W tt = _mm##W##_mul_ps(_mm##W##_mul_ps(_mm##W##_load_ps(t->d[b]), _mm##W##_set1_ps(_cvtsh_ss(h))),       \
                                        _mm##W##_cvtepi32_ps(a));                                                      \
            acc = b ? _mm##W##_add_ps(acc, tt) : tt;                                                                    \
        }                                                                                                               \
        return acc;                                                                                                     \
    }
ROW_SCORES(512)
ROW_SCORES(256)
#undef ROW_SCORES

TGTV static void scores_rows_vnni(float *s, const kqtile *t, int L, qwen3_dtype kv, const uint8_t *kb, size_t rb, int nb,
                                  int D) {
    const int B = QBLK(kv), nblk = D / 32;
    for (int j = 0; j < 16; j++) {
        const uint8_t *row = kb + (size_t)j * rb;
        if (j >= nb) _mm512_storeu_ps(s + 16 * j, _mm512_setzero_ps());
        else if (L == 16) _mm512_storeu_ps(s + 16 * j, row_scores512(t, kv, row, B, nblk));
        else _mm256_storeu_ps(s + 16 * j, row_scores256(t, kv, row, B, nblk));
    }
}
#endif

void kqq_scores_keys(float *s, const kqquery *qq, int M, qwen3_dtype kv, const uint8_t *kb, size_t rb, int nb, int D,
                     int vnni) {
#if defined(__x86_64__)
    if (vnni) { scores_keys_vnni(s, qq, M, kv, kb, rb, nb, D); return; }
#endif
    (void)vnni;
    scores_keys_generic(s, qq, M, kv, kb, rb, nb, D);
}

void kqq_scores_rows(float *s, const kqtile *t, const kqquery *qq, int M, int L, qwen3_dtype kv, const uint8_t *kb,
                     size_t rb, int nb, int D, int vnni) {
#if defined(__x86_64__)
    if (vnni) { scores_rows_vnni(s, t, L, kv, kb, rb, nb, D); return; }
#endif
    (void)vnni, (void)t;
    scores_rows_generic(s, qq, M, L, kv, kb, rb, nb, D);
}
