/* attn_avx2.c - attention on AVX2 (+FMA, F16C) CPUs, one query head (k_attn_head_lse_avx2) or many
 * rows over one K/V with each row's bits as alone (k_attn_rows_lse_avx2, below). The row kernel: the scalar kernel of attn.c
 * (blocks of 16 positions, online softmax, K and V read once) with the per-position work, the q.k
 * dot product and the v accumulation over D, in 8-wide vectors. The 16 exponentials of a block stay
 * scalar expf: they are D times fewer than the multiply-adds. F32, F16 (vcvtph2ps), BF16 (shift)
 * and Q8_0 / Q4_0 (values widened, times the block scale; scores by attn_q.h's integer definition) caches; D must be a multiple of 8 up to 256, else the scalar kernel runs. */
#include <math.h>

#include "kernels/attn_q.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))

/* d is a multiple of 8, so a Q8_0 load stays inside one block of 32 */
TGT static inline __m256 kv_load8(qwen3_dtype kv, const void *row, int d) {
    if (kv == QWEN3_Q4_0) { /* elements 0-15 of a block: low nibbles of qs, 16-31: high nibbles */
        const kq4_0_block *b = (const kq4_0_block *)row + d / 32;
        int e = d % 32;
        __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b->qs + e % 16)));
        if (e >= 16) q = _mm256_srli_epi32(q, 4);
        q = _mm256_sub_epi32(_mm256_and_si256(q, _mm256_set1_epi32(15)), _mm256_set1_epi32(8));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(_cvtsh_ss(b->d)));
    }
    if (kv == QWEN3_Q8_0) {
        const kq8_0_block *b = (const kq8_0_block *)row + d / KQ8_0_BLOCK;
        __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b->q + d % KQ8_0_BLOCK))));
        return _mm256_mul_ps(q, _mm256_set1_ps(_cvtsh_ss(b->d)));
    }
    if (kv == QWEN3_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + d)));
    if (kv == QWEN3_BF16)
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + d))), 16));
    return _mm256_loadu_ps((const float *)row + d);
}

TGT static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void k_attn_head_avx2(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                      float scale, float *out) {
    k_attn_head_lse_avx2(q, K, V, kv, stride, n, D, scale, out, NULL);
}

TGT void k_attn_head_lse_avx2(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                              float scale, float *out, float *lse) {
    if (D % 8 || D > 256 || ((kv == QWEN3_Q8_0 || kv == QWEN3_Q4_0) && D % 32)) { k_attn_head_lse_scalar(q, K, V, kv, stride, n, D, scale, out, lse); return; }
    const int NC = D / 8;
    const size_t rb = k_kv_row_bytes(kv, stride);
    __m256 qv[32], acc[32];
    for (int c = 0; c < NC; c++) { qv[c] = _mm256_loadu_ps(q + 8 * c); acc[c] = _mm256_setzero_ps(); }
    float m = -INFINITY, l = 0.0f, s[16];
    const int qk = kqq_takes(kv); /* integer scores (attn_q.h), the scalar definition */
    kqquery qq;
    if (qk) kqq_make(&qq, q, scale, D, kv);
    for (int p0 = 0; p0 < n; p0 += 16) {
        int nb = n - p0 < 16 ? n - p0 : 16;
        float bm = -INFINITY;
        for (int i = 0; i < nb; i++) {
            const uint8_t *k = (const uint8_t *)K + (size_t)(p0 + i) * rb;
            if (qk) {
                s[i] = kqq_score(&qq, kv, k, D);
                bm = s[i] > bm ? s[i] : bm;
                continue;
            }
            __m256 d0 = _mm256_setzero_ps(), d1 = d0; /* two chains: FMA latency */
            int c = 0;
            for (; c + 1 < NC; c += 2) {
                d0 = _mm256_fmadd_ps(qv[c], kv_load8(kv, k, 8 * c), d0);
                d1 = _mm256_fmadd_ps(qv[c + 1], kv_load8(kv, k, 8 * c + 8), d1);
            }
            if (c < NC) d0 = _mm256_fmadd_ps(qv[c], kv_load8(kv, k, 8 * c), d0);
            s[i] = hsum8(_mm256_add_ps(d0, d1)) * scale;
            bm = s[i] > bm ? s[i] : bm;
        }
        if (bm > m) {
            float cf = expf(m - bm);
            l *= cf;
            __m256 cv = _mm256_set1_ps(cf);
            for (int c = 0; c < NC; c++) acc[c] = _mm256_mul_ps(acc[c], cv);
            m = bm;
        }
        for (int i = 0; i < nb; i++) {
            float e = expf(s[i] - m);
            l += e;
            const uint8_t *v = (const uint8_t *)V + (size_t)(p0 + i) * rb;
            __m256 ev = _mm256_set1_ps(e);
            for (int c = 0; c < NC; c++) acc[c] = _mm256_fmadd_ps(ev, kv_load8(kv, v, 8 * c), acc[c]);
        }
    }
    __m256 inv = _mm256_set1_ps(1.0f / l);
    for (int c = 0; c < NC; c++) _mm256_storeu_ps(out + 8 * c, _mm256_mul_ps(acc[c], inv));
    if (lse) *lse = m + logf(l);
}

/* Many query rows over one K/V (a prefill's work item: the rows of a kv head's GQA group for up to
 * 64 tokens, or a decode step's group): each block of 16 positions is widened to float32 once for
 * all rows (kv_load8's values, exact), and then each row does k_attn_head_lse_avx2's arithmetic on
 * it, in the same order (its two score chains, hsum8, the block's expf and rescale, the V
 * multiply-adds), its accumulator kept in its output row between blocks: so every row gets the
 * bits it gets alone (tests/unit/test_kernels.c, attn-rows-avx2-*), and the cache is read and
 * widened once per work item instead of once per row. D a multiple of 8 up to 256; not for the
 * integer-score caches (Q8_0, Q4_0: the caller takes the row kernel). */
TGT void k_attn_rows_lse_avx2(const float *const *q, float *const *out, const int *n, int M, const void *K, const void *V,
                              qwen3_dtype kv, size_t stride, int D, float scale, float *lse) {
    const int NC = D / 8;
    const size_t rb = k_kv_row_bytes(kv, stride);
    float Kf[16 * 256] __attribute__((aligned(32))), Vf[16 * 256] __attribute__((aligned(32)));
    float mr[64], lr[64];
    int nmax = 0;
    for (int r = 0; r < M; r++) {
        mr[r] = -INFINITY;
        lr[r] = 0.0f;
        for (int c = 0; c < NC; c++) _mm256_storeu_ps(out[r] + 8 * c, _mm256_setzero_ps());
        nmax = n[r] > nmax ? n[r] : nmax;
    }
    for (int p0 = 0; p0 < nmax; p0 += 16) {
        int nbk = nmax - p0 < 16 ? nmax - p0 : 16;
        for (int i = 0; i < nbk; i++) {
            const uint8_t *k = (const uint8_t *)K + (size_t)(p0 + i) * rb, *v = (const uint8_t *)V + (size_t)(p0 + i) * rb;
            for (int c = 0; c < NC; c++) {
                _mm256_store_ps(Kf + i * D + 8 * c, kv_load8(kv, k, 8 * c));
                _mm256_store_ps(Vf + i * D + 8 * c, kv_load8(kv, v, 8 * c));
            }
        }
        for (int r = 0; r < M; r++) {
            if (p0 >= n[r]) continue;
            int nb = n[r] - p0 < 16 ? n[r] - p0 : 16;
            const float *qr = q[r];
            float *acc = out[r], s[16], e[16], bm = -INFINITY;
            /* scores four positions at a time: each its two chains (even and odd chunks), as alone;
             * one position's chains alone are a latency-bound reduction */
            int i = 0;
            for (; i + 4 <= nb; i += 4) {
                const float *k = Kf + i * D;
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                int c = 0;
                for (; c + 1 < NC; c += 2) {
                    const __m256 qa = _mm256_loadu_ps(qr + 8 * c), qb = _mm256_loadu_ps(qr + 8 * c + 8);
                    a0 = _mm256_fmadd_ps(qa, _mm256_load_ps(k + 8 * c), a0);
                    b0 = _mm256_fmadd_ps(qb, _mm256_load_ps(k + 8 * c + 8), b0);
                    a1 = _mm256_fmadd_ps(qa, _mm256_load_ps(k + D + 8 * c), a1);
                    b1 = _mm256_fmadd_ps(qb, _mm256_load_ps(k + D + 8 * c + 8), b1);
                    a2 = _mm256_fmadd_ps(qa, _mm256_load_ps(k + 2 * D + 8 * c), a2);
                    b2 = _mm256_fmadd_ps(qb, _mm256_load_ps(k + 2 * D + 8 * c + 8), b2);
                    a3 = _mm256_fmadd_ps(qa, _mm256_load_ps(k + 3 * D + 8 * c), a3);
                    b3 = _mm256_fmadd_ps(qb, _mm256_load_ps(k + 3 * D + 8 * c + 8), b3);
                }
                if (c < NC) {
                    const __m256 qa = _mm256_loadu_ps(qr + 8 * c);
                    a0 = _mm256_fmadd_ps(qa, _mm256_load_ps(k + 8 * c), a0);
                    a1 = _mm256_fmadd_ps(qa, _mm256_load_ps(k + D + 8 * c), a1);
                    a2 = _mm256_fmadd_ps(qa, _mm256_load_ps(k + 2 * D + 8 * c), a2);
                    a3 = _mm256_fmadd_ps(qa, _mm256_load_ps(k + 3 * D + 8 * c), a3);
                }
                s[i] = hsum8(_mm256_add_ps(a0, b0)) * scale;
                s[i + 1] = hsum8(_mm256_add_ps(a1, b1)) * scale;
                s[i + 2] = hsum8(_mm256_add_ps(a2, b2)) * scale;
                s[i + 3] = hsum8(_mm256_add_ps(a3, b3)) * scale;
            }
            for (; i < nb; i++) {
                const float *k = Kf + i * D;
                __m256 d0 = _mm256_setzero_ps(), d1 = d0;
                int c = 0;
                for (; c + 1 < NC; c += 2) {
                    d0 = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 8 * c), _mm256_load_ps(k + 8 * c), d0);
                    d1 = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 8 * c + 8), _mm256_load_ps(k + 8 * c + 8), d1);
                }
                if (c < NC) d0 = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 8 * c), _mm256_load_ps(k + 8 * c), d0);
                s[i] = hsum8(_mm256_add_ps(d0, d1)) * scale;
            }
            for (i = 0; i < nb; i++) bm = s[i] > bm ? s[i] : bm;
            /* the rescale (when the maximum grew) and the block's multiply-adds, 8 chunks of the
             * row's accumulator at a time in registers: per element the same operations in the
             * same order as alone */
            int grow = bm > mr[r];
            __m256 cv = _mm256_setzero_ps();
            if (grow) {
                float cf = expf(mr[r] - bm);
                lr[r] *= cf;
                cv = _mm256_set1_ps(cf);
                mr[r] = bm;
            }
            for (i = 0; i < nb; i++) {
                e[i] = expf(s[i] - mr[r]);
                lr[r] += e[i];
            }
            int c0 = 0;
            for (; c0 + 8 <= NC; c0 += 8) {
                __m256 x[8];
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) {
                    x[j] = _mm256_loadu_ps(acc + 8 * (c0 + j));
                    if (grow) x[j] = _mm256_mul_ps(x[j], cv);
                }
                for (i = 0; i < nb; i++) {
                    const __m256 ev = _mm256_set1_ps(e[i]);
                    const float *v = Vf + i * D + 8 * c0;
#pragma GCC unroll 8
                    for (int j = 0; j < 8; j++) x[j] = _mm256_fmadd_ps(ev, _mm256_load_ps(v + 8 * j), x[j]);
                }
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) _mm256_storeu_ps(acc + 8 * (c0 + j), x[j]);
            }
            for (; c0 < NC; c0++) {
                __m256 x = _mm256_loadu_ps(acc + 8 * c0);
                if (grow) x = _mm256_mul_ps(x, cv);
                for (i = 0; i < nb; i++) x = _mm256_fmadd_ps(_mm256_set1_ps(e[i]), _mm256_load_ps(Vf + i * D + 8 * c0), x);
                _mm256_storeu_ps(acc + 8 * c0, x);
            }
        }
    }
    for (int r = 0; r < M; r++) {
        __m256 inv = _mm256_set1_ps(1.0f / lr[r]);
        for (int c = 0; c < NC; c++) _mm256_storeu_ps(out[r] + 8 * c, _mm256_mul_ps(_mm256_loadu_ps(out[r] + 8 * c), inv));
        if (lse) lse[r] = mr[r] + logf(lr[r]);
    }
}
#else
void k_attn_rows_lse_avx2(const float *const *q, float *const *out, const int *n, int M, const void *K, const void *V,
                          qwen3_dtype kv, size_t stride, int D, float scale, float *lse) {
    k_attn_rows_lse_scalar(q, out, n, M, K, V, kv, stride, D, scale, lse);
}
void k_attn_head_avx2(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                      float scale, float *out) {
    k_attn_head_scalar(q, K, V, kv, stride, n, D, scale, out);
}
void k_attn_head_lse_avx2(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                          float scale, float *out, float *lse) {
    k_attn_head_lse_scalar(q, K, V, kv, stride, n, D, scale, out, lse);
}
#endif
