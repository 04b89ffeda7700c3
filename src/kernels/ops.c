/* ops.c - row-wise and element-wise operations of the forward pass, in float32.
 *
 * RMSNorm and SiLU * up have SIMD twins (AVX2, AVX-512), RoPE an AVX-512 one, that give the scalar
 * twin's bits exactly, so the instruction set a model runs with changes their speed, never their
 * results: RMSNorm sums the squares in 16 running sums (sum j takes elements j, j+16, ...), folded
 * in a fixed tree, which a 16-lane vector, two 8-lane ones and a scalar loop all do alike; SiLU
 * takes exp from one polynomial (vexp.h's) evaluated with the same roundings and fused
 * multiply-adds in every twin; RoPE rounds its products and sums as written. Before them the one
 * running sum and libm's expf per value cost 7% of a 0.6B prefill (a sum of 1,024 squares is 1,024
 * dependent adds; expf is a call per value). The rest (softmax of the router) is a plain loop. */
#include <math.h>
#include <string.h>

/* the twins' bits must not depend on a compiler fusing a multiply and an add on its own: GCC does
 * not in ISO C mode (-std=c11), clang does unless told */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "kernels/kernels.h"

/* ---- RMSNorm: transformers' variance = x.pow(2).mean(-1) in float32; x * rsqrt(variance + eps) *
 * weight. Its sum here is in the 16-sum order above. */

static float fold16(const float a[16]) {
    float b[8], c[4];
    for (int j = 0; j < 8; j++) b[j] = a[j] + a[j + 8];
    for (int j = 0; j < 4; j++) c[j] = b[j] + b[j + 4];
    return (c[0] + c[2]) + (c[1] + c[3]);
}

void k_rmsnorm_scalar(float *out, const float *x, const float *w, int n, float eps) {
    float acc[16] = {0};
    for (int i = 0; i < n; i++) acc[i % 16] += x[i] * x[i];
    float scale = 1.0f / sqrtf(fold16(acc) / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * scale);
}

/* ---- SiLU * up: out = g / (1 + exp(-g)) * u. exp(y) for y clamped to [-87, 88] (the clamp changes
 * silu by less than 1e-36 absolute: exp(-87) next to 1, exp(88) = 1.7e38 in a denominator): n =
 * round(y / ln 2), r = y - n ln 2 in two parts (Cody-Waite), a degree-6 polynomial p(r), times 2^n
 * made from its exponent bits (n in [-126, 127]: always a normal float, so the product is one
 * rounding in every twin). About 1 ulp from the true exp. It is attention's polynomial
 * (kernels/vexp.h): the AVX-512 twin calls k_exp512 itself; the scalar and AVX2 ones write its steps
 * out, with the upper clamp that lets them build 2^n from its bits. */

#define EXP_LO (-87.0f)
#define EXP_HI 88.0f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)

static float silu_exp_scalar(float y) {
    y = y > EXP_LO ? y : EXP_LO; /* max and min as the vector ones: a NaN becomes a bound (its g
                                  * keeps the result NaN) */
    y = y < EXP_HI ? y : EXP_HI;
    float n = nearbyintf(y * LOG2E);
    float r = fmaf(-n, LN2_HI, y);
    r = fmaf(-n, LN2_LO, r);
    float p = 1.0f / 720;
    p = fmaf(p, r, 1.0f / 120);
    p = fmaf(p, r, 1.0f / 24);
    p = fmaf(p, r, 1.0f / 6);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    uint32_t bits = (uint32_t)((int)n + 127) << 23;
    float s;
    memcpy(&s, &bits, 4);
    return p * s;
}

void k_silu_mul_scalar(float *out, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) out[i] = g[i] / (1.0f + silu_exp_scalar(-g[i])) * u[i];
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/vexp.h"

#define TGT512 __attribute__((target("avx512f")))
#define TGT256 __attribute__((target("avx2,fma")))

TGT512 void k_rmsnorm_avx512(float *out, const float *x, const float *w, int n, float eps) {
    __m512 acc = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        acc = _mm512_add_ps(acc, _mm512_mul_ps(v, v));
    }
    if (i < n) { /* the tail in lanes 0..: the scalar twin's acc[i % 16] (i is a multiple of 16) */
        __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1), x + i);
        acc = _mm512_add_ps(acc, _mm512_mul_ps(v, v));
    }
    float a[16];
    _mm512_storeu_ps(a, acc);
    __m512 scale = _mm512_set1_ps(1.0f / sqrtf(fold16(a) / (float)n + eps));
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(_mm512_loadu_ps(x + i), scale)));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, w + i), _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), scale)));
    }
}

/* the polynomial of attention's k_exp512 (vexp.h): the same steps as silu_exp_scalar once the
 * argument is at most 88 (its 2^n is a normal float then, so scalef and the product agree) */
TGT512 static inline __m512 silu_exp512(__m512 y) { return k_exp512(_mm512_min_ps(y, _mm512_set1_ps(EXP_HI))); }

TGT512 void k_silu_mul_avx512(float *out, const float *g, const float *u, int n) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 gv = _mm512_maskz_loadu_ps(k, g + i), uv = _mm512_maskz_loadu_ps(k, u + i);
        __m512 d = _mm512_add_ps(one, silu_exp512(_mm512_sub_ps(zero, gv)));
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_div_ps(gv, d), uv));
    }
}

TGT256 void k_rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps) {
    /* lanes 0-7 and 8-15 of the 16 sums in two vectors */
    __m256 lo = _mm256_setzero_ps(), hi = lo;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        lo = _mm256_add_ps(lo, _mm256_mul_ps(a, a));
        hi = _mm256_add_ps(hi, _mm256_mul_ps(b, b));
    }
    float a[16];
    _mm256_storeu_ps(a, lo);
    _mm256_storeu_ps(a + 8, hi);
    for (int j = 0; i + j < n; j++) a[j] += x[i + j] * x[i + j];
    const float s = 1.0f / sqrtf(fold16(a) / (float)n + eps);
    const __m256 scale = _mm256_set1_ps(s);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), scale)));
    for (; i < n; i++) out[i] = w[i] * (x[i] * s);
}

TGT256 static inline __m256 silu_exp256(__m256 y) {
    y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(y, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), y);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

TGT256 void k_silu_mul_avx2(float *out, const float *g, const float *u, int n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i), uv = _mm256_loadu_ps(u + i);
        __m256 d = _mm256_add_ps(one, silu_exp256(_mm256_sub_ps(zero, gv)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(gv, d), uv));
    }
    k_silu_mul_scalar(out + i, g + i, u + i, n - i);
}
#else
void k_rmsnorm_avx512(float *out, const float *x, const float *w, int n, float eps) { k_rmsnorm_scalar(out, x, w, n, eps); }
void k_rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps) { k_rmsnorm_scalar(out, x, w, n, eps); }
void k_silu_mul_avx512(float *out, const float *g, const float *u, int n) { k_silu_mul_scalar(out, g, u, n); }
void k_silu_mul_avx2(float *out, const float *g, const float *u, int n) { k_silu_mul_scalar(out, g, u, n); }
#endif

void k_rmsnorm(const kcpu *cpu, float *out, const float *x, const float *w, int n, float eps) {
    if (cpu->isa == K_ISA_AVX512) k_rmsnorm_avx512(out, x, w, n, eps);
    else if (cpu->isa == K_ISA_AVX2) k_rmsnorm_avx2(out, x, w, n, eps);
    else k_rmsnorm_scalar(out, x, w, n, eps);
}

void k_silu_mul(const kcpu *cpu, float *out, const float *g, const float *u, int n) {
    if (cpu->isa == K_ISA_AVX512) k_silu_mul_avx512(out, g, u, n);
    else if (cpu->isa == K_ISA_AVX2) k_silu_mul_avx2(out, g, u, n);
    else k_silu_mul_scalar(out, g, u, n);
}

void k_softmax(float *x, int n) {
    float m = -INFINITY;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    float s = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    float inv = 1.0f / s;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* RoPE: rotate_half(x) = cat(-x[d/2:], x[:d/2]); cos/sin repeat over both halves. Each value is
 * two products and a sum, rounded as written (no fused multiply-add), in every twin. */
void k_rope_scalar(float *x, const float *cos, const float *sin, int d) {
    int h = d / 2;
    for (int i = 0; i < h; i++) {
        float a = x[i], b = x[i + h];
        x[i] = a * cos[i] - b * sin[i];
        x[i + h] = b * cos[i] + a * sin[i];
    }
}

#if defined(__x86_64__)
TGT512 void k_rope_avx512(float *x, const float *cos, const float *sin, int d) {
    const int h = d / 2;
    for (int i = 0; i < h; i += 16) {
        __mmask16 k = h - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (h - i)) - 1);
        __m512 a = _mm512_maskz_loadu_ps(k, x + i), b = _mm512_maskz_loadu_ps(k, x + i + h);
        __m512 c = _mm512_maskz_loadu_ps(k, cos + i), s = _mm512_maskz_loadu_ps(k, sin + i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_sub_ps(_mm512_mul_ps(a, c), _mm512_mul_ps(b, s)));
        _mm512_mask_storeu_ps(x + i + h, k, _mm512_add_ps(_mm512_mul_ps(b, c), _mm512_mul_ps(a, s)));
    }
}
#else
void k_rope_avx512(float *x, const float *cos, const float *sin, int d) { k_rope_scalar(x, cos, sin, d); }
#endif

void k_rope(const kcpu *cpu, float *x, const float *cos, const float *sin, int d) {
    if (cpu->isa == K_ISA_AVX512) k_rope_avx512(x, cos, sin, d);
    else k_rope_scalar(x, cos, sin, d);
}
