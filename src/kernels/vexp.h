/* vexp.h - exp over float lanes: Cody-Waite reduction by ln 2 in two parts and a degree-6
 * polynomial, scaled back by 2^n (about 1 ulp). The steps are written once (K_EXP_STEPS) and
 * instantiated per width with that width's multiply-adds, so a lane's result is the same bits in
 * every width:
 *   k_exp512 (16 lanes) and k_exp256 (8, AVX-512VL): softmax arguments (x <= 0; below -87 gives 0),
 *     scaled back with scalef; the 8-lane decode attention relies on their equality;
 *   k_exp88_scalar and k_exp88_avx2 (no scalef there): arguments also clamped above at 88, so 2^n
 *     (n <= 127) is a normal float built from its exponent bits and the product rounds once, as
 *     scalef does; k_exp512 of an argument at most 88 gives the same bits (SiLU's twins, ops.c). */
#ifndef QWEN3_KERNELS_VEXP_H
#define QWEN3_KERNELS_VEXP_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#define K_EXP_LO (-87.0f)
#define K_EXP_HI 88.0f
#define K_EXP_LOG2E 1.44269504088896341f

/* r = x - n ln 2 in two parts, then p = the polynomial of r, with the width's fused multiply-add
 * FMA(a, b, c) = a b + c, its negative FNMA(a, b, c) = c - a b, and its constant C(v) */
#define K_EXP_STEPS(p, r, n, x, FMA, FNMA, C)                                                         \
    r = FNMA(n, C(0.693359375f), x);                                                                  \
    r = FNMA(n, C(-2.12194440e-4f), r);                                                               \
    p = C(1.0f / 720);                                                                                \
    p = FMA(p, r, C(1.0f / 120));                                                                     \
    p = FMA(p, r, C(1.0f / 24));                                                                      \
    p = FMA(p, r, C(1.0f / 6));                                                                       \
    p = FMA(p, r, C(0.5f));                                                                           \
    p = FMA(p, r, C(1.0f));                                                                           \
    p = FMA(p, r, C(1.0f))

#define K_EXP_FNMA_S(a, b, c) fmaf(-(a), (b), (c))
#define K_EXP_C_S(v) (v)

static inline float k_exp88_scalar(float x) {
    x = x > K_EXP_LO ? x : K_EXP_LO; /* max and min as the vector ones: a NaN becomes a bound */
    x = x < K_EXP_HI ? x : K_EXP_HI;
    float n = nearbyintf(x * K_EXP_LOG2E), r, p;
    K_EXP_STEPS(p, r, n, x, fmaf, K_EXP_FNMA_S, K_EXP_C_S);
    uint32_t bits = (uint32_t)((int)n + 127) << 23;
    float s;
    memcpy(&s, &bits, 4);
    return p * s;
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static inline __m512 k_exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(K_EXP_LO));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(K_EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT), r, p;
    K_EXP_STEPS(p, r, n, x, _mm512_fmadd_ps, _mm512_fnmadd_ps, _mm512_set1_ps);
    return _mm512_scalef_ps(p, n);
}

__attribute__((target("avx512f,avx512vl,fma"))) static inline __m256 k_exp256(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(K_EXP_LO));
    __m256 n = _mm256_roundscale_ps(_mm256_mul_ps(x, _mm256_set1_ps(K_EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT), r, p;
    K_EXP_STEPS(p, r, n, x, _mm256_fmadd_ps, _mm256_fnmadd_ps, _mm256_set1_ps);
    return _mm256_scalef_ps(p, n);
}

__attribute__((target("avx2,fma"))) static inline __m256 k_exp88_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(K_EXP_LO)), _mm256_set1_ps(K_EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(K_EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), r, p;
    K_EXP_STEPS(p, r, n, x, _mm256_fmadd_ps, _mm256_fnmadd_ps, _mm256_set1_ps);
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

#endif
#endif
