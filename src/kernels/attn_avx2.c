/* attn_avx2.c - attention of one query head on AVX2 (+FMA, F16C) CPUs: the scalar kernel of attn.c
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
#else
void k_attn_head_avx2(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                      float scale, float *out) {
    k_attn_head_scalar(q, K, V, kv, stride, n, D, scale, out);
}
void k_attn_head_lse_avx2(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                          float scale, float *out, float *lse) {
    k_attn_head_lse_scalar(q, K, V, kv, stride, n, D, scale, out, lse);
}
#endif
