/* attn.c - attention of one query head over a sequence's cached keys and values.
 *
 * One pass over the positions in blocks of 16 with an online softmax (running maximum m, running
 * denominator l, output rescaled when m grows), so the memory is one block of scores whatever the
 * length, and K and V are each read once. K/V rows may be F32 (the reference path), F16 or BF16 (half
 * the cache memory and bandwidth) or Q8_0 (blocks of 32 int8 with an f16 scale, the layout of
 * quant.h's kq8_0_block: ~0.27x the F32 cache; D must be a multiple of 32). Q8_0 is dequantized
 * into float32 where a vector (or value) is loaded, so every kernel below reads it. The AVX-512 kernel computes exp with a degree-6 polynomial on a
 * reduced argument and vscalefps (relative error ~2e-7, far below the cache's own rounding); the
 * scalar twin uses expf. */
#include <math.h>
#include <string.h>

#include "kernels/attn_q.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include <immintrin.h>
/* float -> f16 with F16C, round to nearest even like k_f32_to_f16 */
__attribute__((target("avx512f,f16c"))) static void store_f16_avx512(uint16_t *h, const float *x, int D) {
    int i = 0;
    for (; i + 16 <= D; i += 16)
        _mm256_storeu_si256((__m256i *)(h + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < D; i++) h[i] = k_f32_to_f16(x[i]);
}
#endif

/* One row into Q4_0 blocks as ggml's reference quantizer rounds them: the value of largest magnitude
 * maps to -8 (d = that value / -8), q = x/d + 8 rounded, clamped to 0..15. No search: the cache is
 * written once per token and layer, so this must cost about what an F16 store does. */
static void store_q4_0(kq4_0_block *b, const float *x, int D) {
    for (int i0 = 0; i0 < D; i0 += 32, b++) {
        float amax = 0.0f, max = 0.0f;
        for (int i = 0; i < 32; i++)
            if (fabsf(x[i0 + i]) > amax) { amax = fabsf(x[i0 + i]); max = x[i0 + i]; }
        float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = k_f32_to_f16(d);
        for (int i = 0; i < 16; i++) {
            int lo = (int)(x[i0 + i] * id + 8.5f), hi = (int)(x[i0 + 16 + i] * id + 8.5f);
            lo = lo > 15 ? 15 : lo < 0 ? 0 : lo;
            hi = hi > 15 ? 15 : hi < 0 ? 0 : hi;
            b->qs[i] = (uint8_t)(lo | hi << 4);
        }
    }
}

void k_store_row(const kcpu *cpu, qwen3_dtype kv, void *dst, const float *src, int D) {
    if (kv == QWEN3_Q4_0) { store_q4_0(dst, src, D); return; }
#if defined(__x86_64__)
    if (kv == QWEN3_F16 && cpu->isa == K_ISA_AVX512) { store_f16_avx512(dst, src, D); return; }
#endif
    if (kv == QWEN3_Q8_0) {
        kq_type(QWEN3_Q8_0)->from_float(src, dst, D);
        return;
    }
    if (kv == QWEN3_F16) {
        uint16_t *h = dst;
        for (int i = 0; i < D; i++) h[i] = k_f32_to_f16(src[i]);
    } else if (kv == QWEN3_BF16) {
        uint16_t *h = dst;
        for (int i = 0; i < D; i++) h[i] = k_f32_to_bf16(src[i]);
    } else memcpy(dst, src, sizeof(float) * (size_t)D);
}

static inline float kv_get(qwen3_dtype kv, const void *base, size_t i) {
    if (kv == QWEN3_Q4_0) {
        const kq4_0_block *b = (const kq4_0_block *)base + i / 32;
        int e = (int)(i % 32), q = e < 16 ? b->qs[e] & 15 : b->qs[e - 16] >> 4;
        return k_f16_to_f32(b->d) * (float)(q - 8);
    }
    if (kv == QWEN3_Q8_0) {
        const kq8_0_block *b = (const kq8_0_block *)base + i / KQ8_0_BLOCK;
        return k_f16_to_f32(b->d) * (float)b->q[i % KQ8_0_BLOCK];
    }
    if (kv == QWEN3_F16) return k_f16_to_f32(((const uint16_t *)base)[i]);
    if (kv == QWEN3_BF16) return k_bf16_to_f32(((const uint16_t *)base)[i]);
    return ((const float *)base)[i];
}

size_t k_kv_row_bytes(qwen3_dtype kv, size_t n) {
    if (kv == QWEN3_Q8_0) return n / KQ8_0_BLOCK * sizeof(kq8_0_block);
    if (kv == QWEN3_Q4_0) return n / 32 * sizeof(kq4_0_block);
    return n * (kv == QWEN3_F32 ? 4 : 2);
}

void k_attn_head_scalar(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                        float scale, float *out) {
    k_attn_head_lse_scalar(q, K, V, kv, stride, n, D, scale, out, NULL);
}

void k_attn_head_lse_scalar(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                            float scale, float *out, float *lse) {
    float m = -INFINITY, l = 0.0f, s[16];
    const size_t rb = k_kv_row_bytes(kv, stride);
    const int qk = kqq_takes(kv); /* integer scores (attn_q.h) */
    kqquery qq;
    if (qk && (D > KQQ_MAXD || D % 32)) { /* model.c refuses such a cache: say so loudly if one comes */
        for (int d = 0; d < D; d++) out[d] = NAN;
        if (lse) *lse = NAN;
        return;
    }
    if (qk) kqq_make(&qq, q, scale, D, kv);
    for (int d = 0; d < D; d++) out[d] = 0.0f;
    for (int p0 = 0; p0 < n; p0 += 16) {
        int nb = n - p0 < 16 ? n - p0 : 16;
        float bm = -INFINITY;
        for (int i = 0; i < nb; i++) {
            const void *k = (const uint8_t *)K + (size_t)(p0 + i) * rb;
            if (qk) s[i] = kqq_score(&qq, kv, k, D);
            else {
                float dot = 0.0f;
                for (int d = 0; d < D; d++) dot += q[d] * kv_get(kv, k, (size_t)d);
                s[i] = dot * scale;
            }
            bm = s[i] > bm ? s[i] : bm;
        }
        if (bm > m) {
            float c = expf(m - bm);
            l *= c;
            for (int d = 0; d < D; d++) out[d] *= c;
            m = bm;
        }
        for (int i = 0; i < nb; i++) {
            float e = expf(s[i] - m);
            l += e;
            const void *v = (const uint8_t *)V + (size_t)(p0 + i) * rb;
            for (int d = 0; d < D; d++) out[d] += e * kv_get(kv, v, (size_t)d);
        }
    }
    float inv = 1.0f / l;
    for (int d = 0; d < D; d++) out[d] *= inv;
    if (lse) *lse = m + logf(l);
}

/* The rows one at a time (the twin of the blocked kernel below). */
void k_attn_rows_scalar(const float *const *q, float *const *out, const int *n, int M, const void *K, const void *V,
                        qwen3_dtype kv, size_t stride, int D, float scale) {
    k_attn_rows_lse_scalar(q, out, n, M, K, V, kv, stride, D, scale, NULL);
}

void k_attn_rows_lse_scalar(const float *const *q, float *const *out, const int *n, int M, const void *K, const void *V,
                            qwen3_dtype kv, size_t stride, int D, float scale, float *lse) {
    for (int r = 0; r < M; r++) k_attn_head_lse_scalar(q[r], K, V, kv, stride, n[r], D, scale, out[r], lse ? &lse[r] : NULL);
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/vexp.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

/* d is a multiple of 16, so a Q8_0 load stays inside one block of 32, and a Q4_0 load is one nibble
 * half of a block (elements 0-15 are the low nibbles of qs, 16-31 the high ones). The block's f16
 * scale is widened by F16C (exact, as k_f16_to_f32 for every finite value): the out-of-line
 * k_f16_to_f32, called per 16 elements, cost more than the rest of a Q8_0 load. */
TGT static inline __attribute__((always_inline)) __m512 kv_load(qwen3_dtype kv, const void *row, int d, __mmask16 m) {
    if (kv == QWEN3_Q4_0) { /* a table of the block's 16 values d * (k - 8), exact products, looked up
                               * by each nibble (vpermps reads an index's low 4 bits only) */
        const kq4_0_block *b = (const kq4_0_block *)row + d / 32;
        __m512i q = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, b->qs));
        if (d % 32) q = _mm512_srli_epi32(q, 4);
        const __m512 k8 = _mm512_set_ps(7, 6, 5, 4, 3, 2, 1, 0, -1, -2, -3, -4, -5, -6, -7, -8);
        return _mm512_maskz_permutexvar_ps(m, q, _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(b->d)), k8));
    }
    if (kv == QWEN3_Q8_0) {
        const kq8_0_block *b = (const kq8_0_block *)row + d / KQ8_0_BLOCK;
        __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, b->q + d % KQ8_0_BLOCK)));
        return _mm512_mul_ps(q, _mm512_set1_ps(_cvtsh_ss(b->d)));
    }
    if (kv == QWEN3_F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + d));
    if (kv == QWEN3_BF16)
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + d)), 16));
    return _mm512_maskz_loadu_ps(m, (const float *)row + d);
}

/* r[i] lane j -> r[j] lane i: a 16 x 16 transpose in registers (32-bit, 64-bit, then 128-bit twice
 * two-source shuffles) */
TGT static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* r[4a + b] now holds, in 128-bit lane L, rows 4L..4L+3 of columns 4a + b's group */
#pragma GCC unroll 16
    for (int i = 0; i < 8; i++) {
        int a = i / 4 * 8 + i % 4; /* pairs (0,4) (1,5) (2,6) (3,7) (8,12) ... */
        t[a] = _mm512_shuffle_f32x4(r[a], r[a + 4], 0x88);     /* 128-bit lanes 0, 2 of each */
        t[a + 4] = _mm512_shuffle_f32x4(r[a], r[a + 4], 0xdd); /* lanes 1, 3 */
    }
#pragma GCC unroll 16
    for (int i = 0; i < 8; i++) { /* pairs (0,8) (1,9) ... (7,15) */
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

/* Qt[d * 16 + r] = q[rows[r]][d] * scale for r < 16, d < D (a multiple of 16): the rows' chunks of
 * 16 values transposed in registers (transpose16). The scalar scatter it replaces, a store per value
 * 64 bytes from the last, was ~7% of a prefill's attention (perf, 0.6B BF16, 512 tokens). The same
 * products, so the same bits. */
TGT static void q_rows_t16(const float *const *q, const int *rows, int D, float scale, float *Qt) {
    const __m512 s = _mm512_set1_ps(scale);
    for (int d0 = 0; d0 < D; d0 += 16) {
        __m512 v[16];
        for (int r = 0; r < 16; r++) v[r] = _mm512_mul_ps(_mm512_loadu_ps(q[rows[r]] + d0), s);
        transpose16(v);
        for (int o = 0; o < 16; o++) _mm512_store_ps(Qt + (size_t)(d0 + o) * 16, v[o]);
    }
}

/* NC chunks of 16 dims (D <= 16 * NC); the accumulator lives in registers for the common D = 128 */
TGT static inline __attribute__((always_inline)) void attn_avx512(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n,
                                   int D, float scale, float *out, int NC, float *lse, int vnni) {
    const int qk = kqq_takes(kv); /* integer scores (attn_q.h) */
    kqquery qq;
    if (qk) kqq_make(&qq, q, scale, D, kv);
    __m512 qv[16], acc[16];
    __mmask16 mk[16];
    for (int c = 0; c < NC; c++) {
        int left = D - 16 * c;
        mk[c] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        qv[c] = _mm512_maskz_loadu_ps(mk[c], q + 16 * c);
        acc[c] = _mm512_setzero_ps();
    }
    const size_t rb = k_kv_row_bytes(kv, stride);
    float m = -INFINITY, l = 0.0f;
    float s[16] __attribute__((aligned(64)));
    for (int p0 = 0; p0 < n; p0 += 16) {
        int nb = n - p0 < 16 ? n - p0 : 16;
        if (qk) {
            const uint8_t *kb = (const uint8_t *)K + (size_t)p0 * rb;
            kqq_scores_keys(s, &qq, 1, kv, kb, rb, nb, D, vnni);
        } else
            for (int i = 0; i < nb; i++) {
                const uint8_t *k = (const uint8_t *)K + (size_t)(p0 + i) * rb;
                __m512 dot = _mm512_mul_ps(qv[0], kv_load(kv, k, 0, mk[0]));
                for (int c = 1; c < NC; c++) dot = _mm512_fmadd_ps(qv[c], kv_load(kv, k, 16 * c, mk[c]), dot);
                s[i] = _mm512_reduce_add_ps(dot) * scale;
            }
        __mmask16 valid = nb == 16 ? (__mmask16)0xffff : (__mmask16)((1u << nb) - 1);
        __m512 sv = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), valid, s);
        float bm = _mm512_reduce_max_ps(sv);
        if (bm > m) {
            __m512 c = _mm512_set1_ps(m == -INFINITY ? 0.0f : expf(m - bm));
            l *= m == -INFINITY ? 0.0f : _mm512_cvtss_f32(c);
            for (int ch = 0; ch < NC; ch++) acc[ch] = _mm512_mul_ps(acc[ch], c);
            m = bm;
        }
        __m512 e = _mm512_maskz_mov_ps(valid, k_exp512(_mm512_sub_ps(sv, _mm512_set1_ps(m))));
        l += _mm512_reduce_add_ps(e);
        _mm512_store_ps(s, e);
        for (int i = 0; i < nb; i++) {
            const uint8_t *v = (const uint8_t *)V + (size_t)(p0 + i) * rb;
            __m512 w = _mm512_set1_ps(s[i]);
            for (int c = 0; c < NC; c++) acc[c] = _mm512_fmadd_ps(w, kv_load(kv, v, 16 * c, mk[c]), acc[c]);
        }
    }
    __m512 inv = _mm512_set1_ps(1.0f / l);
    for (int c = 0; c < NC; c++) _mm512_mask_storeu_ps(out + 16 * c, mk[c], _mm512_mul_ps(acc[c], inv));
    if (lse) *lse = m + logf(l);
}

TGT static void attn_d128(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, float scale,
                          float *out, float *lse, int vnni) {
    attn_avx512(q, K, V, kv, stride, n, 128, scale, out, 8, lse, vnni);
}

TGT static void attn_any(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                         float scale, float *out, float *lse, int vnni) {
    attn_avx512(q, K, V, kv, stride, n, D, scale, out, (D + 15) / 16, lse, vnni);
}

/* ---- the blocked kernel: up to 16 query rows sharing one K/V, a lane per row.
 * Per block of 16 positions: K and V are widened to float32 once (for all rows), the 16 score
 * vectors s_j (lane r: row r's score at position p0 + j) come from the transposed queries times
 * broadcast keys, so the online softmax is element-wise over lanes (no horizontal reductions), and
 * each row's output gets sum_j e_j[r] V_j. Every lane's arithmetic is independent of the other
 * lanes, so a row's result does not depend on which rows share its tile. */

#define ATT_MAXD 256

/* The softmax denominator's share of a block of 16 positions, in one fixed order for every kernel
 * of this file: pairs (j, j + 8), then (j, j + 4), (j, j + 2), (j, j + 1), so t = ((e0 + e8) + (e4 +
 * e12)) + ... and then l = l * c + t. With a lane per row these are 15 element-wise adds; with the
 * positions in lanes (attn_rowsT_d128) the same pairs are four shuffles and adds (sum16_lanes),
 * where the 16 ordered adds of one position at a time had been a chain of 16 latencies and 16
 * lane extractions a block. The same bits either way, so a row's result still does not depend on
 * the kernel its group takes. e[] is overwritten. k_attn_rows over 2,048 cached positions (in cache, one
 * thread, ns a position, AMD EPYC Zen 5, 2026-12-05), the ordered adds -> this: M = 2 Q4_0 10.9 ->
 * 10.2, Q8_0 13.3 -> 12.5, M = 4 Q4_0 18.9 -> 16.8, F16 M = 2 and M = 8 unchanged (20-21, 44-46). */
/* one body for both widths (the bits rest on the same pairing), named by width as in attn_q.c */
#define SUM16(W)                                                                                                       \
    TGT static inline __attribute__((always_inline)) __m##W sum16_##W(__m##W e[16]) {                                   \
        for (int j = 0; j < 8; j++) e[j] = _mm##W##_add_ps(e[j], e[j + 8]);                                             \
        for (int j = 0; j < 4; j++) e[j] = _mm##W##_add_ps(e[j], e[j + 4]);                                             \
        for (int j = 0; j < 2; j++) e[j] = _mm##W##_add_ps(e[j], e[j + 2]);                                             \
        return _mm##W##_add_ps(e[0], e[1]);                                                                             \
    }
SUM16(512)
SUM16(256)
#undef SUM16
/* lane 0 of the result: the same sum of e's 16 lanes, lane j standing for position j */
TGT static inline __attribute__((always_inline)) __m128 sum16_lanes(__m512 e) {
    __m512 t = _mm512_add_ps(e, _mm512_shuffle_f32x4(e, e, 0x4e)); /* lanes j and j + 8 */
    t = _mm512_add_ps(t, _mm512_shuffle_f32x4(t, t, 0xb1));        /* j and j + 4 */
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4e));               /* j and j + 2 */
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0xb1));               /* j and j + 1 */
    return _mm512_castps512_ps128(t);
}

/* At depth a decode step streams each kv head's cache once, and the hardware's prefetch alone left
 * it waiting on memory. Each block of 16 positions in decode's kernel (attn_rowsT_d128) asks for the
 * K and V rows KV_AHEAD blocks on, a few lines at a time (NTA: they are read once). Measured with
 * bench/attn.sh's case (64 heads x 16,384 positions from memory, M = 2, one thread, ns a position;
 * AMD EPYC Zen 5, 2026-12-05): no software prefetch Q4_0 14.5 / Q8_0 21.4 / F16 49.7; the burst of a
 * whole group's rows (4 blocks) two groups ahead into L2 that this replaced 17.2 / 23.8 / 57 (on the
 * host of 2026-12-04 that burst had measured faster than none); this 11.5 / 16.0 / 51 (in cache:
 * Q4_0 11.0). 2 blocks ahead was slower (12.4 / 17.0), 8-12 no better; T0 about the same as NTA,
 * T2 slower for Q8_0. In the model at 16K (bench --profile): attention 32-40 -> 22.5-27.7 ms a token.
 * attn_rows8 (5-8 rows, lane per row) is bound by its arithmetic: the same prefetch there measured
 * slower (M = 8: F16 52-56 -> 62-70 ns, the quantized ones within noise), so it has none. */
#define KV_AHEAD 4
TGT static inline __attribute__((always_inline)) void prefetch_block(const void *K, const void *V, size_t a, size_t len) {
    for (size_t e = a + len; a < e; a += 64) {
        _mm_prefetch((const char *)K + a, _MM_HINT_NTA);
        _mm_prefetch((const char *)V + a, _MM_HINT_NTA);
    }
}

TGT static inline __attribute__((always_inline)) void widen_rows_t(qwen3_dtype kv, const uint8_t *base, size_t rb, int nb,
                                                                   int D, float *dst) {
    for (int j = 0; j < 16; j++) {
        if (j >= nb) {
            for (int d = 0; d < D; d += 16) _mm512_storeu_ps(dst + (size_t)j * D + d, _mm512_setzero_ps());
            continue;
        }
        const uint8_t *row = base + (size_t)j * rb;
        for (int d = 0; d < D; d += 16) _mm512_storeu_ps(dst + (size_t)j * D + d, kv_load(kv, row, d, 0xffff));
    }
}

/* A block's nb rows of K or V as float32 [position][d], zeros past nb. Each cache type is its own
 * copy of the loop, kv a constant there, so kv_load's type tests fold away: run per 16 values they
 * had cost a prefill's attention 5% (F16, 512 tokens, one kv head, one thread: 0.80-0.82 -> 0.76-0.78
 * ms). */
TGT static inline __attribute__((always_inline)) void widen_rows(qwen3_dtype kv, const uint8_t *base, size_t rb, int nb,
                                                                 int D, float *dst) {
    switch (kv) {
    case QWEN3_F16: widen_rows_t(QWEN3_F16, base, rb, nb, D, dst); break;
    case QWEN3_BF16: widen_rows_t(QWEN3_BF16, base, rb, nb, D, dst); break;
    case QWEN3_Q8_0: widen_rows_t(QWEN3_Q8_0, base, rb, nb, D, dst); break;
    case QWEN3_Q4_0: widen_rows_t(QWEN3_Q4_0, base, rb, nb, D, dst); break;
    default: widen_rows_t(QWEN3_F32, base, rb, nb, D, dst); break;
    }
}

/* out0/out1 = out * c + sum_j P0/P1[j * ps] V_j over nb positions, for two rows of D = 128 (ps: the
 * numerators' stride, the tile's row count for [position][row] arrays, 1 for [row][position]) */
TGT static inline __attribute__((always_inline)) void pv_2rows_d128(float *o0, float *o1, float c0, float c1,
                                                                    const float *P0, const float *P1, int ps,
                                                                    const float *Vf, int nb) {
#define LD(ch) __m512 a##ch = _mm512_mul_ps(_mm512_loadu_ps(o0 + 16 * ch), w0), b##ch = _mm512_mul_ps(_mm512_loadu_ps(o1 + 16 * ch), w1)
#define FM(ch) do { __m512 v = _mm512_load_ps(vj + 16 * ch); a##ch = _mm512_fmadd_ps(w0, v, a##ch); b##ch = _mm512_fmadd_ps(w1, v, b##ch); } while (0)
#define ST(ch) do { _mm512_storeu_ps(o0 + 16 * ch, a##ch); _mm512_storeu_ps(o1 + 16 * ch, b##ch); } while (0)
    __m512 w0 = _mm512_set1_ps(c0), w1 = _mm512_set1_ps(c1);
    LD(0); LD(1); LD(2); LD(3); LD(4); LD(5); LD(6); LD(7);
    for (int j = 0; j < nb; j++) {
        const float *vj = Vf + j * 128;
        w0 = _mm512_set1_ps(P0[j * ps]);
        w1 = _mm512_set1_ps(P1[j * ps]);
        FM(0); FM(1); FM(2); FM(3); FM(4); FM(5); FM(6); FM(7);
    }
    ST(0); ST(1); ST(2); ST(3); ST(4); ST(5); ST(6); ST(7);
#undef LD
#undef FM
#undef ST
}

/* Four rows at once, over D = 128 in two halves of 64 (16 accumulators): each vector of V is loaded
 * once into a register for the four rows, so a position's 16 multiply-adds take 4 loads of V and 4
 * broadcasts, where pv_2rows_d128's took 16 loads (V folded into each FMA, once per row) and 2
 * broadcasts. Out of line on purpose: inlined into the tile kernels (their 4 tiles' softmax state,
 * masks and constants live), GCC spilled the broadcasts to the stack. Row i's numerator at position j
 * is P[j * ps + i]. The chain per (row, d) is pv_2rows_d128's (out * c, then one fused multiply-add
 * per position in order), so the bits are the same. In a prefill's attention (one kv head, 512
 * tokens, 32-token items, F16 cache, one thread, a scratch harness timing k_attn_rows alone) the
 * products with V went from ~0.47 to ~0.34 ms of 0.95 -> 0.82 ms, AMD EPYC Zen 5, 2026-12-06. */
TGT static __attribute__((noinline)) void pv_4rows_d128(float *const *o, const float *c, const float *P, int ps,
                                                        const float *Vf, int nb) {
    for (int h = 0; h < 128; h += 64) {
#define LD(r, ch) a##r##ch = _mm512_mul_ps(_mm512_loadu_ps(o[r] + h + 16 * ch), _mm512_set1_ps(c[r]))
#define LDR(r) LD(r, 0); LD(r, 1); LD(r, 2); LD(r, 3)
#define FM(ch) do { __m512 v = _mm512_load_ps(vj + 16 * ch); __asm__("" : "+v"(v)); /* one load, four uses */ \
        a0##ch = _mm512_fmadd_ps(w0, v, a0##ch); a1##ch = _mm512_fmadd_ps(w1, v, a1##ch);                   \
        a2##ch = _mm512_fmadd_ps(w2, v, a2##ch); a3##ch = _mm512_fmadd_ps(w3, v, a3##ch); } while (0)
#define ST(r, ch) _mm512_storeu_ps(o[r] + h + 16 * ch, a##r##ch)
#define STR(r) ST(r, 0); ST(r, 1); ST(r, 2); ST(r, 3)
        __m512 a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33;
        LDR(0); LDR(1); LDR(2); LDR(3);
        for (int j = 0; j < nb; j++) {
            const float *vj = Vf + j * 128 + h, *pj = P + j * ps;
            __m512 w0 = _mm512_set1_ps(pj[0]), w1 = _mm512_set1_ps(pj[1]), w2 = _mm512_set1_ps(pj[2]), w3 = _mm512_set1_ps(pj[3]);
            FM(0); FM(1); FM(2); FM(3);
        }
        STR(0); STR(1); STR(2); STR(3);
#undef LD
#undef LDR
#undef FM
#undef ST
#undef STR
    }
}

/* the same with V read straight from a quantized cache (rows rb bytes apart): each value widened
 * exactly as widen_rows does (kv_load) and used at once, so the bits are pv_2rows_d128's over a
 * staged Vf; at depth the staging's store and reload were a third of a decode step's V work */
TGT static inline __attribute__((always_inline)) void pv_2rows_q_d128(float *o0, float *o1, float c0, float c1,
                                                                      const float *P0, const float *P1, qwen3_dtype kv,
                                                                      const uint8_t *vb, size_t rb, int nb) {
#define LD(ch) __m512 a##ch = _mm512_mul_ps(_mm512_loadu_ps(o0 + 16 * ch), w0), b##ch = _mm512_mul_ps(_mm512_loadu_ps(o1 + 16 * ch), w1)
#define FM(ch) do { __m512 v = kv_load(kv, vj, 16 * ch, 0xffff); a##ch = _mm512_fmadd_ps(w0, v, a##ch); b##ch = _mm512_fmadd_ps(w1, v, b##ch); } while (0)
#define ST(ch) do { _mm512_storeu_ps(o0 + 16 * ch, a##ch); _mm512_storeu_ps(o1 + 16 * ch, b##ch); } while (0)
    __m512 w0 = _mm512_set1_ps(c0), w1 = _mm512_set1_ps(c1);
    LD(0); LD(1); LD(2); LD(3); LD(4); LD(5); LD(6); LD(7);
    for (int j = 0; j < nb; j++) {
        const uint8_t *vj = vb + (size_t)j * rb;
        w0 = _mm512_set1_ps(P0[j]);
        w1 = _mm512_set1_ps(P1[j]);
        FM(0); FM(1); FM(2); FM(3); FM(4); FM(5); FM(6); FM(7);
    }
    ST(0); ST(1); ST(2); ST(3); ST(4); ST(5); ST(6); ST(7);
#undef LD
#undef FM
#undef ST
}

TGT static inline __attribute__((always_inline)) void attn_rows_avx512(const float *const *q, float *const *out, float *lse,
                                                                       const int *n, int M, const void *K, const void *V,
                                                                       qwen3_dtype kv, size_t stride, int D, float scale,
                                                                       int NC, int vnni) {
    const int qk = kqq_takes(kv); /* integer scores (attn_q.h) */
    kqquery qq[16];
    kqtile qt;
    float sb[16 * 16] __attribute__((aligned(64)));
    if (qk) {
        for (int r = 0; r < M; r++) kqq_make(&qq[r], q[r], scale, D, kv);
        kqq_tile(&qt, qq, M, D);
    }
    float Qt[ATT_MAXD * 16] __attribute__((aligned(64)));  /* [d][row], scaled */
    float Kf[16 * ATT_MAXD] __attribute__((aligned(64)));  /* [position][d] */
    float Vf[16 * ATT_MAXD] __attribute__((aligned(64)));
    float P[16 * 16] __attribute__((aligned(64)));         /* [position][row] softmax numerators */
    float cs[16] __attribute__((aligned(64)));
    int nr[16] __attribute__((aligned(64)));
    int nmax = 0, nmin = 1 << 30;
    int rows[16];
    for (int r = 0; r < 16; r++) {
        int rr = r < M ? r : 0; /* idle lanes repeat row 0; their results are dropped */
        rows[r] = rr;
        nr[r] = n[rr];
        nmax = nr[r] > nmax ? nr[r] : nmax;
        nmin = nr[r] < nmin ? nr[r] : nmin;
    }
    if (!qk) q_rows_t16(q, rows, D, scale, Qt); /* the float scores' queries */
    for (int r = 0; r < M; r++)
        for (int c = 0; c < NC; c++) _mm512_storeu_ps(out[r] + 16 * c, _mm512_setzero_ps());
    const __m512i nv = _mm512_load_si512(nr);
    const size_t rb = k_kv_row_bytes(kv, stride);
    __m512 m = _mm512_set1_ps(-INFINITY), l = _mm512_setzero_ps();
    for (int p0 = 0; p0 < nmax; p0 += 16) {
        int nb = nmax - p0 < 16 ? nmax - p0 : 16;
        widen_rows(kv, (const uint8_t *)V + (size_t)p0 * rb, rb, nb, D, Vf);
        __m512 sv[16];
        if (qk) {
            const uint8_t *kb = (const uint8_t *)K + (size_t)p0 * rb;
            kqq_scores_rows(sb, &qt, qq, M, 16, kv, kb, rb, nb, D, vnni);
            for (int j = 0; j < 16; j++) sv[j] = _mm512_load_ps(sb + 16 * j);
        } else {
            widen_rows(kv, (const uint8_t *)K + (size_t)p0 * rb, rb, nb, D, Kf);
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0, s9 = s0,
                   s10 = s0, s11 = s0, s12 = s0, s13 = s0, s14 = s0, s15 = s0;
#define SK(j) s##j = _mm512_fmadd_ps(qd, _mm512_set1_ps(Kf[(j) * D + d]), s##j)
            for (int d = 0; d < D; d++) {
                __m512 qd = _mm512_load_ps(Qt + d * 16);
                SK(0); SK(1); SK(2); SK(3); SK(4); SK(5); SK(6); SK(7);
                SK(8); SK(9); SK(10); SK(11); SK(12); SK(13); SK(14); SK(15);
            }
#undef SK
            sv[0] = s0, sv[1] = s1, sv[2] = s2, sv[3] = s3, sv[4] = s4, sv[5] = s5, sv[6] = s6, sv[7] = s7;
            sv[8] = s8, sv[9] = s9, sv[10] = s10, sv[11] = s11, sv[12] = s12, sv[13] = s13, sv[14] = s14, sv[15] = s15;
        }
        if (p0 + 16 > nmin) /* causal edge: lane r sees positions < n[r] */
            for (int j = 0; j < 16; j++)
                sv[j] = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), _mm512_cmpgt_epi32_mask(nv, _mm512_set1_epi32(p0 + j)),
                                           sv[j]);
        __m512 bm = sv[0];
        for (int j = 1; j < 16; j++) bm = _mm512_max_ps(bm, sv[j]);
        __m512 mn = _mm512_max_ps(m, bm);
        /* exp512 clamps its argument, so the first block's exp(-inf) is ~0, never NaN */
        __m512 c = k_exp512(_mm512_sub_ps(m, mn));
        l = _mm512_mul_ps(l, c);
        m = mn;
        for (int j = 0; j < 16; j++) {
            __m512 e = k_exp512(_mm512_sub_ps(sv[j], mn));
            sv[j] = _mm512_mask_mov_ps(_mm512_setzero_ps(), _mm512_cmp_ps_mask(sv[j], _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ), e);
            _mm512_store_ps(P + j * 16, sv[j]);
        }
        l = _mm512_add_ps(l, sum16_512(sv));
        _mm512_store_ps(cs, c);
        int r = 0;
        if (NC == 8) { /* D = 128: four or two rows at a time in 16 named accumulators (an array would live in memory) */
            for (; r + 4 <= M; r += 4) pv_4rows_d128(out + r, cs + r, P + r, 16, Vf, nb);
            for (; r + 2 <= M; r += 2) pv_2rows_d128(out[r], out[r + 1], cs[r], cs[r + 1], P + r, P + r + 1, 16, Vf, nb);
        }
        for (; r < M; r++) {
            __m512 acc[16], cr = _mm512_set1_ps(cs[r]);
            for (int ch = 0; ch < NC; ch++) acc[ch] = _mm512_mul_ps(_mm512_loadu_ps(out[r] + 16 * ch), cr);
            for (int j = 0; j < nb; j++) {
                __m512 w = _mm512_set1_ps(P[j * 16 + r]);
                for (int ch = 0; ch < NC; ch++) acc[ch] = _mm512_fmadd_ps(w, _mm512_load_ps(Vf + j * D + 16 * ch), acc[ch]);
            }
            for (int ch = 0; ch < NC; ch++) _mm512_storeu_ps(out[r] + 16 * ch, acc[ch]);
        }
    }
    float ls[16] __attribute__((aligned(64))), ms[16] __attribute__((aligned(64)));
    _mm512_store_ps(ls, l);
    _mm512_store_ps(ms, m);
    for (int r = 0; r < M; r++) {
        if (lse) lse[r] = ms[r] + logf(ls[r]);
        __m512 inv = _mm512_set1_ps(1.0f / ls[r]);
        for (int ch = 0; ch < NC; ch++) _mm512_storeu_ps(out[r] + 16 * ch, _mm512_mul_ps(_mm512_loadu_ps(out[r] + 16 * ch), inv));
    }
}

/* ---- up to ATT_TILES tiles of 16 rows over one read of K and V: a prefill's query rows at depth
 * would otherwise re-read (and re-widen) the whole cache of a kv head for every 16 rows. Each tile's
 * lanes do exactly what attn_rows_avx512's do (same chain over d, same masks, exponentials, sums
 * and V order; a tile stops at its own longest row), so the bits are the same as 16 rows at a
 * time, or one row alone (tests/unit/test_kernels.c). */
#define ATT_TILES 4

TGT static inline __attribute__((always_inline)) void attn_tiles_avx512(const float *const *q, float *const *out, float *lse,
                                                                        const int *n, int M, const void *K, const void *V,
                                                                        qwen3_dtype kv, size_t stride, int D, float scale,
                                                                        int NC, int vnni) {
    /* The rows' outputs are summed in Os, rows D apart, and written to out[] once, normalized, at
     * the end. A prefill's rows are (token, head) pairs 8 KiB apart in the caller's buffer (16
     * heads x 128), so the 64 rows' products with V, read and written every block, fell on a few
     * sets of L1; and with two threads each row's cache lines neighboured the other thread's heads
     * of the same token (both slowed: one kv head, 512 tokens, two threads, 4.4 -> 3.7 ms for 8
     * heads in a scratch harness). Same arithmetic, so the same bits. */
    float *const *dst = out;
    float Os[16 * ATT_TILES * ATT_MAXD] __attribute__((aligned(64)));
    float *ob[16 * ATT_TILES];
    for (int r = 0; r < M; r++) ob[r] = Os + (size_t)r * D;
    out = ob;
    const int qk = kqq_takes(kv); /* integer scores (attn_q.h) */
    kqquery qq[16 * ATT_TILES];
    kqtile qt[ATT_TILES];
    float sb[16 * 16] __attribute__((aligned(64)));
    if (qk) {
        for (int r = 0; r < M; r++) kqq_make(&qq[r], q[r], scale, D, kv);
        for (int t = 0; t < (M + 15) / 16; t++) kqq_tile(&qt[t], qq + 16 * t, M - 16 * t < 16 ? M - 16 * t : 16, D);
    }
    float Qt[ATT_TILES][ATT_MAXD * 16] __attribute__((aligned(64)));
    float Kf[16 * ATT_MAXD] __attribute__((aligned(64)));
    float Vf[16 * ATT_MAXD] __attribute__((aligned(64)));
    float P[16 * 16] __attribute__((aligned(64)));
    float cs[16] __attribute__((aligned(64)));
    int nr[ATT_TILES][16] __attribute__((aligned(64)));
    int tmax[ATT_TILES], tmin[ATT_TILES], nmax = 0;
    __m512 m[ATT_TILES], l[ATT_TILES];
    const int NT = (M + 15) / 16;
    for (int t = 0; t < NT; t++) {
        int r0 = 16 * t, Mt = M - r0 < 16 ? M - r0 : 16;
        tmax[t] = 0;
        tmin[t] = 1 << 30;
        int rows[16];
        for (int r = 0; r < 16; r++) {
            int rr = r0 + (r < Mt ? r : 0);
            rows[r] = rr;
            nr[t][r] = n[rr];
            tmax[t] = nr[t][r] > tmax[t] ? nr[t][r] : tmax[t];
            tmin[t] = nr[t][r] < tmin[t] ? nr[t][r] : tmin[t];
        }
        if (!qk) {
            for (int r = 16 * (t + 1); r < 16 * (t + 2) && r < M; r++) /* the next tile's rows, while this one's are transposed */
                for (int c = 0; c < D; c += 16) _mm_prefetch((const char *)(q[r] + c), _MM_HINT_T0);
            q_rows_t16(q, rows, D, scale, Qt[t]);
        }
        nmax = tmax[t] > nmax ? tmax[t] : nmax;
        m[t] = _mm512_set1_ps(-INFINITY);
        l[t] = _mm512_setzero_ps();
    }
    memset(Os, 0, sizeof(float) * (size_t)M * (size_t)D);
    /* Prefetches: the rows' results (written once at the end, into lines no core holds: the
     * stores had waited on memory), the next block's K and V rows (the other thread wrote half of
     * them, so they sit in its cache), and above, the next tile's queries. One thread, 8 kv heads x
     * 512 tokens as a 0.6B prefill's layer (a scratch harness timing k_attn_rows, linked to the
     * library built each way, 4 alternations; AMD EPYC Zen 5, 2026-12-07): 7.41-7.64 -> 7.19-7.38
     * ms, with the output's zeroing one memset (its 64 per-row ones had been 1.5%). */
    const size_t rb = k_kv_row_bytes(kv, stride);
    for (int r = 0; r < M; r++)
        for (int c = 0; c < D; c += 16) _mm_prefetch((const char *)(dst[r] + c), _MM_HINT_T1);
    for (int p0 = 0; p0 < nmax; p0 += 16) {
        int nbk = nmax - p0 < 16 ? nmax - p0 : 16;
        if (p0 + 32 <= nmax)
            for (size_t a = (size_t)(p0 + 16) * rb, e = a + 16 * rb; a < e; a += 64) {
                _mm_prefetch((const char *)K + a, _MM_HINT_T0);
                _mm_prefetch((const char *)V + a, _MM_HINT_T0);
            }
        if (!qk) widen_rows(kv, (const uint8_t *)K + (size_t)p0 * rb, rb, nbk, D, Kf);
        widen_rows(kv, (const uint8_t *)V + (size_t)p0 * rb, rb, nbk, D, Vf);
        for (int t = 0; t < NT; t++) {
            if (p0 >= tmax[t]) continue;
            int nb = tmax[t] - p0 < 16 ? tmax[t] - p0 : 16;
            const float *Q = Qt[t];
            const __m512i nv = _mm512_load_si512(nr[t]);
            __m512 sv[16];
            if (qk) { /* the tile's keys: as many as a tile of its rows alone reads (nb), the same scores */
                const uint8_t *kb = (const uint8_t *)K + (size_t)p0 * rb;
                kqq_scores_rows(sb, &qt[t], qq + 16 * t, M - 16 * t < 16 ? M - 16 * t : 16, 16, kv, kb, rb, nb, D, vnni);
                for (int j = 0; j < 16; j++) sv[j] = _mm512_load_ps(sb + 16 * j);
            } else {
                __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0, s9 = s0,
                       s10 = s0, s11 = s0, s12 = s0, s13 = s0, s14 = s0, s15 = s0;
#define SKT(j) s##j = _mm512_fmadd_ps(qd, _mm512_set1_ps(Kf[(j) * D + d]), s##j)
                for (int d = 0; d < D; d++) {
                    __m512 qd = _mm512_load_ps(Q + d * 16);
                    SKT(0); SKT(1); SKT(2); SKT(3); SKT(4); SKT(5); SKT(6); SKT(7);
                    SKT(8); SKT(9); SKT(10); SKT(11); SKT(12); SKT(13); SKT(14); SKT(15);
                }
#undef SKT
                sv[0] = s0, sv[1] = s1, sv[2] = s2, sv[3] = s3, sv[4] = s4, sv[5] = s5, sv[6] = s6, sv[7] = s7;
                sv[8] = s8, sv[9] = s9, sv[10] = s10, sv[11] = s11, sv[12] = s12, sv[13] = s13, sv[14] = s14, sv[15] = s15;
            }
            if (p0 + 16 > tmin[t])
                for (int j = 0; j < 16; j++)
                    sv[j] = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), _mm512_cmpgt_epi32_mask(nv, _mm512_set1_epi32(p0 + j)),
                                               sv[j]);
            __m512 bm = sv[0];
            for (int j = 1; j < 16; j++) bm = _mm512_max_ps(bm, sv[j]);
            __m512 mn = _mm512_max_ps(m[t], bm);
            __m512 c = k_exp512(_mm512_sub_ps(m[t], mn));
            l[t] = _mm512_mul_ps(l[t], c);
            m[t] = mn;
            for (int j = 0; j < 16; j++) {
                __m512 e = k_exp512(_mm512_sub_ps(sv[j], mn));
                sv[j] = _mm512_mask_mov_ps(_mm512_setzero_ps(), _mm512_cmp_ps_mask(sv[j], _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ), e);
                _mm512_store_ps(P + j * 16, sv[j]);
            }
            l[t] = _mm512_add_ps(l[t], sum16_512(sv));
            _mm512_store_ps(cs, c);
            int r0 = 16 * t, Mt = M - r0 < 16 ? M - r0 : 16, r = 0;
            if (NC == 8) {
                for (; r + 4 <= Mt; r += 4) pv_4rows_d128(out + r0 + r, cs + r, P + r, 16, Vf, nb);
                for (; r + 2 <= Mt; r += 2) pv_2rows_d128(out[r0 + r], out[r0 + r + 1], cs[r], cs[r + 1], P + r, P + r + 1, 16, Vf, nb);
            }
            for (; r < Mt; r++) {
                __m512 acc[16], cr = _mm512_set1_ps(cs[r]);
                for (int ch = 0; ch < NC; ch++) acc[ch] = _mm512_mul_ps(_mm512_loadu_ps(out[r0 + r] + 16 * ch), cr);
                for (int j = 0; j < nb; j++) {
                    __m512 w = _mm512_set1_ps(P[j * 16 + r]);
                    for (int ch = 0; ch < NC; ch++) acc[ch] = _mm512_fmadd_ps(w, _mm512_load_ps(Vf + j * D + 16 * ch), acc[ch]);
                }
                for (int ch = 0; ch < NC; ch++) _mm512_storeu_ps(out[r0 + r] + 16 * ch, acc[ch]);
            }
        }
    }
    for (int t = 0; t < NT; t++) {
        float ls[16] __attribute__((aligned(64))), ms[16] __attribute__((aligned(64)));
        _mm512_store_ps(ls, l[t]);
        _mm512_store_ps(ms, m[t]);
        int r0 = 16 * t, Mt = M - r0 < 16 ? M - r0 : 16;
        for (int r = 0; r < Mt; r++) {
            if (lse) lse[r0 + r] = ms[r] + logf(ls[r]);
            __m512 inv = _mm512_set1_ps(1.0f / ls[r]);
            for (int ch = 0; ch < NC; ch++)
                _mm512_storeu_ps(dst[r0 + r] + 16 * ch, _mm512_mul_ps(_mm512_loadu_ps(out[r0 + r] + 16 * ch), inv));
        }
    }
}

TGT static void attn_tiles_d128(const float *const *q, float *const *out, float *lse, const int *n, int M, const void *K, const void *V,
                                qwen3_dtype kv, size_t stride, float scale, int vnni) {
    attn_tiles_avx512(q, out, lse, n, M, K, V, kv, stride, 128, scale, 8, vnni);
}

TGT static void attn_tiles_any(const float *const *q, float *const *out, float *lse, const int *n, int M, const void *K, const void *V,
                               qwen3_dtype kv, size_t stride, int D, float scale, int vnni) {
    attn_tiles_avx512(q, out, lse, n, M, K, V, kv, stride, D, scale, D / 16, vnni);
}

/* ---- the same kernel on 8 lanes (__m256) for up to 8 rows: decode's GQA groups are 2-8 query
 * heads, and a 16-lane tile would spend most of its score multiply-adds on idle lanes. Each lane
 * does exactly the operations of a lane of attn_rows_avx512 (the same fmadd chain over d, the same
 * exp polynomial, max, masks and sums, in the same order), so a row gets the same bits from either
 * (tests/unit/test_kernels.c: rows alone and in groups of 2, 3, 6 against the 13-row tile). Where
 * 256-bit FMAs issue twice as often as 512-bit ones (AMD Zen 4), the scores cost half. */
TGT static inline __attribute__((always_inline)) void attn_rows8_avx512(const float *const *q, float *const *out, float *lse,
                                                                        const int *n, int M, const void *K, const void *V,
                                                                        qwen3_dtype kv, size_t stride, int D, float scale,
                                                                        int NC, int vnni) {
    const int qk = kqq_takes(kv); /* integer scores (attn_q.h) */
    kqquery qq[8];
    kqtile qt;
    float sb[16 * 16] __attribute__((aligned(64)));
    if (qk) {
        for (int r = 0; r < M; r++) kqq_make(&qq[r], q[r], scale, D, kv);
        kqq_tile(&qt, qq, M, D);
    }
    float Qt[ATT_MAXD * 8] __attribute__((aligned(64)));   /* [d][row], scaled */
    float Kf[16 * ATT_MAXD] __attribute__((aligned(64)));  /* [position][d] */
    float Vf[16 * ATT_MAXD] __attribute__((aligned(64)));
    float P[16 * 8] __attribute__((aligned(64)));          /* [position][row] */
    float cs[8] __attribute__((aligned(32)));
    int nr[8] __attribute__((aligned(32)));
    int nmax = 0, nmin = 1 << 30;
    for (int r = 0; r < 8; r++) {
        int rr = r < M ? r : 0;
        nr[r] = n[rr];
        for (int d = 0; !qk && d < D; d++) Qt[d * 8 + r] = q[rr][d] * scale;
        nmax = nr[r] > nmax ? nr[r] : nmax;
        nmin = nr[r] < nmin ? nr[r] : nmin;
    }
    for (int r = 0; r < M; r++)
        for (int c = 0; c < NC; c++) _mm512_storeu_ps(out[r] + 16 * c, _mm512_setzero_ps());
    const __m256i nv = _mm256_load_si256((const __m256i *)nr);
    const size_t rb = k_kv_row_bytes(kv, stride);
    __m256 m = _mm256_set1_ps(-INFINITY), l = _mm256_setzero_ps();
    for (int p0 = 0; p0 < nmax; p0 += 16) {
        int nb = nmax - p0 < 16 ? nmax - p0 : 16;
        widen_rows(kv, (const uint8_t *)V + (size_t)p0 * rb, rb, nb, D, Vf);
        __m256 sv[16];
        if (qk) {
            const uint8_t *kb = (const uint8_t *)K + (size_t)p0 * rb;
            kqq_scores_rows(sb, &qt, qq, M, 8, kv, kb, rb, nb, D, vnni);
            for (int j = 0; j < 16; j++) sv[j] = _mm256_load_ps(sb + 16 * j);
        } else {
            widen_rows(kv, (const uint8_t *)K + (size_t)p0 * rb, rb, nb, D, Kf);
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0, s9 = s0,
                   s10 = s0, s11 = s0, s12 = s0, s13 = s0, s14 = s0, s15 = s0;
#define SK8(j) s##j = _mm256_fmadd_ps(qd, _mm256_set1_ps(Kf[(j) * D + d]), s##j)
            for (int d = 0; d < D; d++) {
                __m256 qd = _mm256_load_ps(Qt + d * 8);
                SK8(0); SK8(1); SK8(2); SK8(3); SK8(4); SK8(5); SK8(6); SK8(7);
                SK8(8); SK8(9); SK8(10); SK8(11); SK8(12); SK8(13); SK8(14); SK8(15);
            }
#undef SK8
            sv[0] = s0, sv[1] = s1, sv[2] = s2, sv[3] = s3, sv[4] = s4, sv[5] = s5, sv[6] = s6, sv[7] = s7;
            sv[8] = s8, sv[9] = s9, sv[10] = s10, sv[11] = s11, sv[12] = s12, sv[13] = s13, sv[14] = s14, sv[15] = s15;
        }
        if (p0 + 16 > nmin)
            for (int j = 0; j < 16; j++)
                sv[j] = _mm256_mask_mov_ps(_mm256_set1_ps(-INFINITY), _mm256_cmpgt_epi32_mask(nv, _mm256_set1_epi32(p0 + j)),
                                           sv[j]);
        __m256 bm = sv[0];
        for (int j = 1; j < 16; j++) bm = _mm256_max_ps(bm, sv[j]);
        __m256 mn = _mm256_max_ps(m, bm);
        __m256 c = k_exp256(_mm256_sub_ps(m, mn));
        l = _mm256_mul_ps(l, c);
        m = mn;
        for (int j = 0; j < 16; j++) {
            __m256 e = k_exp256(_mm256_sub_ps(sv[j], mn));
            sv[j] = _mm256_mask_mov_ps(_mm256_setzero_ps(), _mm256_cmp_ps_mask(sv[j], _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ), e);
            _mm256_store_ps(P + j * 8, sv[j]);
        }
        l = _mm256_add_ps(l, sum16_256(sv));
        _mm256_store_ps(cs, c);
        int r = 0;
        if (NC == 8) {
            for (; r + 4 <= M; r += 4) pv_4rows_d128(out + r, cs + r, P + r, 8, Vf, nb);
            for (; r + 2 <= M; r += 2) pv_2rows_d128(out[r], out[r + 1], cs[r], cs[r + 1], P + r, P + r + 1, 8, Vf, nb);
        }
        for (; r < M; r++) {
            __m512 acc[16], cr = _mm512_set1_ps(cs[r]);
            for (int ch = 0; ch < NC; ch++) acc[ch] = _mm512_mul_ps(_mm512_loadu_ps(out[r] + 16 * ch), cr);
            for (int j = 0; j < nb; j++) {
                __m512 w = _mm512_set1_ps(P[j * 8 + r]);
                for (int ch = 0; ch < NC; ch++) acc[ch] = _mm512_fmadd_ps(w, _mm512_load_ps(Vf + j * D + 16 * ch), acc[ch]);
            }
            for (int ch = 0; ch < NC; ch++) _mm512_storeu_ps(out[r] + 16 * ch, acc[ch]);
        }
    }
    float ls[8] __attribute__((aligned(32))), ms[8] __attribute__((aligned(32)));
    _mm256_store_ps(ls, l);
    _mm256_store_ps(ms, m);
    for (int r = 0; r < M; r++) {
        if (lse) lse[r] = ms[r] + logf(ls[r]);
        __m512 inv = _mm512_set1_ps(1.0f / ls[r]);
        for (int ch = 0; ch < NC; ch++) _mm512_storeu_ps(out[r] + 16 * ch, _mm512_mul_ps(_mm512_loadu_ps(out[r] + 16 * ch), inv));
    }
}

TGT static void attn_rows8_d128(const float *const *q, float *const *out, float *lse, const int *n, int M, const void *K, const void *V,
                                qwen3_dtype kv, size_t stride, float scale, int vnni) {
    attn_rows8_avx512(q, out, lse, n, M, K, V, kv, stride, 128, scale, 8, vnni);
}

TGT static void attn_rows8_any(const float *const *q, float *const *out, float *lse, const int *n, int M, const void *K, const void *V,
                               qwen3_dtype kv, size_t stride, int D, float scale, int vnni) {
    attn_rows8_avx512(q, out, lse, n, M, K, V, kv, stride, D, scale, D / 16, vnni);
}

/* ---- decode's kernel for D = 128 and up to 4 rows, lanes over positions. A decode step's GQA group
 * is 2-8 query heads; with a lane per row (the kernels above) most of the score multiply-adds ran on
 * idle lanes, so attention at depth was bound by arithmetic, not by reading the cache. Here each row
 * keeps a vector of 16 positions' scores: 16 K rows of a 16-dim chunk are widened as in widen_rows
 * and transposed in registers, so lane j of vector i holds K[j][d] for one d, and the score of
 * (row, position) is the same fmadd chain over d = 0..127, from 0, with the same scaled query, as in
 * the lane-per-row tile: the same bits. The softmax then follows the tile lane for lane: the block
 * maximum (exact in any order), exp of the same differences by k_exp512, the running sum l rescaled
 * and the block's share added in sum16's fixed pairing (scalar, no contraction), and P . V summed over the
 * block's positions in order from the staged Vf, as pv_2rows_d128 does. A row whose length ends
 * before a block skips it, which in the tile is exact identity work (c = 1, e = 0). Tests:
 * test_kernels.c's rows alone and in groups must equal the 13-row tile bit for bit. Measured against
 * attn_rows8 (k_attn_rows over 16,384 positions, one thread, ns per position, F16 / Q8_0 cache): 2 rows
 * 38.1 -> 31.8 / 64.6 -> 57.9, 4 rows 42.1 -> 40.7 / 69.3 -> 65.1, but 8 rows 49.2 -> 56.2 / 75.6 ->
 * 91.8 (the 8 score vectors and the transposes spill), so groups of 5-8 rows stay with attn_rows8. */

/* the scores of rows 0..M-1 at positions p0 .. p0 + 15 (nb of them cached; the rest score 0, masked
 * later) over the 16 dims of chunk c, added to s[0..M-1]: each lane a chain of 16 fmadds */
TGT static inline __attribute__((always_inline)) void scores_chunk(__m512 *s, int M, const float (*Qs)[128], int c, qwen3_dtype kv,
                                                                   const uint8_t *kb, size_t rb, int nb) {
    __m512 x[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) x[j] = j < nb ? kv_load(kv, kb + (size_t)j * rb, 16 * c, 0xffff) : _mm512_setzero_ps();
    transpose16(x); /* x[i] lane j = K[p0 + j][16c + i] */
    for (int r = 0; r < M; r++) {
        const float *qr = Qs[r] + 16 * c;
        __m512 a = s[r];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) a = _mm512_fmadd_ps(_mm512_set1_ps(qr[i]), x[i], a);
        s[r] = a;
    }
}

#define RT_GROUP 4 /* blocks of 16 positions scored together: independent fmadd chains to fill the pipes */

TGT static void attn_rowsT_d128(const float *const *q, float *const *out, float *lse, const int *n, int M, const void *K,
                                const void *V, qwen3_dtype kv, size_t stride, float scale, int vnni) {
    enum { D = 128 };
    const int qk = kqq_takes(kv); /* integer scores (attn_q.h) */
    kqquery qq[4];
    float sb[4 * 16] __attribute__((aligned(64)));
    for (int r = 0; qk && r < M; r++) kqq_make(&qq[r], q[r], scale, D, kv);
    float Qs[4][D] __attribute__((aligned(64))); /* scaled queries (M <= 4) */
    float Vf[16 * D] __attribute__((aligned(64)));
    float PT[4][16] __attribute__((aligned(64))); /* softmax numerators [row][position] */
    float m[4], l[4], cs[4];
    int nmax = 0;
    for (int r = 0; r < M; r++) {
        for (int d = 0; !qk && d < D; d++) Qs[r][d] = q[r][d] * scale;
        for (int c = 0; c < 8; c++) _mm512_storeu_ps(out[r] + 16 * c, _mm512_setzero_ps());
        nmax = n[r] > nmax ? n[r] : nmax;
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    const size_t rb = k_kv_row_bytes(kv, stride);
    /* the first blocks, which the prefetch inside the loop never asks for */
    {
        int first = nmax < 16 * KV_AHEAD ? nmax : 16 * KV_AHEAD;
        prefetch_block(K, V, 0, (size_t)first * rb);
    }
    /* few rows give few chains per block (a chain is 128 dependent fmadds): score several blocks at once */
    const int G = M <= 2 ? RT_GROUP : M <= 4 ? 2 : 1;
    for (int g0 = 0; g0 < nmax; g0 += 16 * G) {
        int nblk = (nmax - g0 + 15) / 16;
        nblk = nblk < G ? nblk : G;
        __m512 s[RT_GROUP][4];
        for (int b = 0; b < nblk; b++)
            for (int r = 0; r < M; r++) s[b][r] = _mm512_setzero_ps();
        if (qk)
            for (int b = 0; b < nblk; b++) {
                int p0 = g0 + 16 * b, nb = nmax - p0 < 16 ? nmax - p0 : 16;
                const uint8_t *kb = (const uint8_t *)K + (size_t)p0 * rb;
                kqq_scores_keys(sb, qq, M, kv, kb, rb, nb, D, vnni);
                for (int r = 0; r < M; r++) s[b][r] = _mm512_load_ps(sb + 16 * r);
            }
        else
            for (int c = 0; c < 8; c++)
                for (int b = 0; b < nblk; b++) {
                    int p0 = g0 + 16 * b, nb = nmax - p0 < 16 ? nmax - p0 : 16;
                    scores_chunk(s[b], M, (const float (*)[128])Qs, c, kv, (const uint8_t *)K + (size_t)p0 * rb, rb, nb);
                }
        for (int b = 0; b < nblk; b++) {
            int p0 = g0 + 16 * b, nb = nmax - p0 < 16 ? nmax - p0 : 16;
            const uint8_t *vb = (const uint8_t *)V + (size_t)p0 * rb;
            if (p0 + 16 * (KV_AHEAD + 1) <= nmax) prefetch_block(K, V, (size_t)(p0 + 16 * KV_AHEAD) * rb, 16 * rb);
            if (!qk || M % 2) widen_rows(kv, vb, rb, nb, D, Vf); /* else pv_2rows_q_d128 reads V itself */
            for (int r = 0; r < M; r++) {
                int left = n[r] - p0;
                if (left <= 0) { /* past this row's length: identity work in the tile */
                    cs[r] = 1.0f;
                    _mm512_store_ps(PT[r], _mm512_setzero_ps());
                    continue;
                }
                __mmask16 valid = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
                __m512 sv = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid, s[b][r]);
                float bm = _mm512_reduce_max_ps(sv);
                __m128 mo = _mm_set_ss(m[r]), mn = _mm_max_ss(mo, _mm_set_ss(bm));
                __m128 c1 = _mm512_castps512_ps128(k_exp512(_mm512_set1_ps(_mm_cvtss_f32(_mm_sub_ss(mo, mn)))));
                __m512 e = _mm512_maskz_mov_ps(valid, k_exp512(_mm512_sub_ps(sv, _mm512_set1_ps(_mm_cvtss_f32(mn)))));
                _mm512_store_ps(PT[r], e);
                __m128 lr = _mm_add_ss(_mm_mul_ss(_mm_set_ss(l[r]), c1), sum16_lanes(e)); /* l * c + t */
                l[r] = _mm_cvtss_f32(lr);
                m[r] = _mm_cvtss_f32(mn);
                cs[r] = _mm_cvtss_f32(c1);
            }
            int r = 0;
            if (qk && M % 2 == 0)
                for (; r + 2 <= M; r += 2) pv_2rows_q_d128(out[r], out[r + 1], cs[r], cs[r + 1], PT[r], PT[r + 1], kv, vb, rb, nb);
            for (; r + 2 <= M; r += 2) pv_2rows_d128(out[r], out[r + 1], cs[r], cs[r + 1], PT[r], PT[r + 1], 1, Vf, nb);
            for (; r < M; r++) {
                __m512 acc[8], cr = _mm512_set1_ps(cs[r]);
                for (int ch = 0; ch < 8; ch++) acc[ch] = _mm512_mul_ps(_mm512_loadu_ps(out[r] + 16 * ch), cr);
                for (int j = 0; j < nb; j++) {
                    __m512 w = _mm512_set1_ps(PT[r][j]);
                    for (int ch = 0; ch < 8; ch++) acc[ch] = _mm512_fmadd_ps(w, _mm512_load_ps(Vf + j * D + 16 * ch), acc[ch]);
                }
                for (int ch = 0; ch < 8; ch++) _mm512_storeu_ps(out[r] + 16 * ch, acc[ch]);
            }
        }
    }
    for (int r = 0; r < M; r++) {
        if (lse) lse[r] = m[r] + logf(l[r]);
        __m512 inv = _mm512_set1_ps(1.0f / l[r]);
        for (int ch = 0; ch < 8; ch++) _mm512_storeu_ps(out[r] + 16 * ch, _mm512_mul_ps(_mm512_loadu_ps(out[r] + 16 * ch), inv));
    }
}

TGT static void attn_rows_d128(const float *const *q, float *const *out, float *lse, const int *n, int M, const void *K, const void *V,
                               qwen3_dtype kv, size_t stride, float scale, int vnni) {
    attn_rows_avx512(q, out, lse, n, M, K, V, kv, stride, 128, scale, 8, vnni);
}

TGT static void attn_rows_any(const float *const *q, float *const *out, float *lse, const int *n, int M, const void *K, const void *V,
                              qwen3_dtype kv, size_t stride, int D, float scale, int vnni) {
    attn_rows_avx512(q, out, lse, n, M, K, V, kv, stride, D, scale, D / 16, vnni);
}

void k_attn_rows_lse(const kcpu *cpu, const float *const *q, float *const *out, const int *n, int M, const void *K,
                     const void *V, qwen3_dtype kv, size_t stride, int D, float scale, float *lse) {
    const int vnni = (cpu->features & K_CPU_VNNI) != 0;
    if (cpu->isa == K_ISA_AVX2 && M > 1 && M <= 64 && D % 8 == 0 && D <= 256 && !kqq_takes(kv))
        k_attn_rows_lse_avx2(q, out, n, M, K, V, kv, stride, D, scale, lse); /* each row's bits as alone */
    else if (cpu->isa != K_ISA_AVX512 || D > ATT_MAXD || D % 16 || M > 16 * ATT_TILES ||
        (kqq_takes(kv) && D % 32))
        for (int r = 0; r < M; r++) k_attn_head_lse(cpu, q[r], K, V, kv, stride, n[r], D, scale, out[r], lse ? &lse[r] : NULL);
    else if (M > 16 && D == 128) attn_tiles_d128(q, out, lse, n, M, K, V, kv, stride, scale, vnni);
    else if (M > 16) attn_tiles_any(q, out, lse, n, M, K, V, kv, stride, D, scale, vnni);
    else if (M <= 4 && D == 128) attn_rowsT_d128(q, out, lse, n, M, K, V, kv, stride, scale, vnni);
    else if (M <= 8 && D == 128) attn_rows8_d128(q, out, lse, n, M, K, V, kv, stride, scale, vnni);
    else if (M <= 8) attn_rows8_any(q, out, lse, n, M, K, V, kv, stride, D, scale, vnni);
    else if (D == 128) attn_rows_d128(q, out, lse, n, M, K, V, kv, stride, scale, vnni);
    else attn_rows_any(q, out, lse, n, M, K, V, kv, stride, D, scale, vnni);
}

void k_attn_head_lse(const kcpu *cpu, const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride,
                     int n, int D, float scale, float *out, float *lse) {
    if (cpu->isa == K_ISA_AVX2) k_attn_head_lse_avx2(q, K, V, kv, stride, n, D, scale, out, lse);
    else if (cpu->isa != K_ISA_AVX512 || D > 256 || (kqq_takes(kv) && D % 32)) k_attn_head_lse_scalar(q, K, V, kv, stride, n, D, scale, out, lse);
    else if (D == 128) attn_d128(q, K, V, kv, stride, n, scale, out, lse, (cpu->features & K_CPU_VNNI) != 0);
    else attn_any(q, K, V, kv, stride, n, D, scale, out, lse, (cpu->features & K_CPU_VNNI) != 0);
}
#else
void k_attn_head_lse(const kcpu *cpu, const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride,
                     int n, int D, float scale, float *out, float *lse) {
    k_attn_head_lse_scalar(q, K, V, kv, stride, n, D, scale, out, lse);
}
void k_attn_rows_lse(const kcpu *cpu, const float *const *q, float *const *out, const int *n, int M, const void *K,
                     const void *V, qwen3_dtype kv, size_t stride, int D, float scale, float *lse) {
    k_attn_rows_lse_scalar(q, out, n, M, K, V, kv, stride, D, scale, lse);
}
#endif

void k_attn_rows(const kcpu *cpu, const float *const *q, float *const *out, const int *n, int M, const void *K,
                 const void *V, qwen3_dtype kv, size_t stride, int D, float scale) {
    k_attn_rows_lse(cpu, q, out, n, M, K, V, kv, stride, D, scale, NULL);
}

void k_attn_head(const kcpu *cpu, const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n,
                 int D, float scale, float *out) {
    k_attn_head_lse(cpu, q, K, V, kv, stride, n, D, scale, out, NULL);
}
