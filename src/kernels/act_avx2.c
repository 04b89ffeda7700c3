/* act_avx2.c - the int8 quantization of activation rows (A8_0, A8_K; quant.h) on AVX2 CPUs, the twin of
 * quant_avx512.c's: per block the largest |x| (a max, exact in any order), d = amax / 127, each
 * value times 127 / amax rounded to nearest even (vcvtps2dq, as lrintf in the default mode), and
 * A8_K's sums per 32: the scalar kq_act_quant_row's bytes (tests/unit/test_act_quant.c). The scalar
 * loop was 7% of a 0.6B Q4_K_M prefill under QWEN3_ISA=avx2 (`--profile`: "activations to int8"). */
#include "kernels/kernels.h"
#include "kernels/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))

TGT static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

TGT void kq_act_quant_row_avx2(kact_type t, const float *x, void *row, int64_t n) {
    int8_t *q = kq_act_q(row);
    float *d = kq_act_d(row, n);
    const int B = t == KACT_A8_K ? 256 : 32;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    /* vpackssdw / vpacksswb work per 128-bit half: this puts the 32 bytes back in order */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < n / B; i++) {
        const float *v = x + i * B;
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < B; j += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(v + j), absmask), m);
        float amax = hmax8(m);
        d[i] = amax / 127.0f;
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        __m256 idv = _mm256_set1_ps(id);
        for (int j = 0; j < B; j += 32) {
            __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + j), idv));
            __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + j + 8), idv));
            __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + j + 16), idv));
            __m256i e = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + j + 24), idv));
            /* |values| <= 127: the saturating packs change nothing */
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, e));
            _mm256_storeu_si256((__m256i *)(q + i * B + j), _mm256_permutevar8x32_epi32(p, order));
        }
    }
    if (t == KACT_A8_K) {
        int16_t *bs = kq_act_bsum(row, n);
        const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
        for (int64_t s = 0; s < n / 32; s++) {
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, _mm256_loadu_si256((const __m256i *)(q + s * 32))), ones16);
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
            bs[s] = (int16_t)_mm_cvtsi128_si32(h);
        }
    }
}
#else
void kq_act_quant_row_avx2(kact_type t, const float *x, void *row, int64_t n) { kq_act_quant_row(t, x, row, n); }
#endif
