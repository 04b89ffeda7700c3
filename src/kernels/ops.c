/* ops.c - row-wise and element-wise operations of the forward pass, in float32.
 *
 * RMSNorm and SiLU * up have SIMD twins (AVX2, AVX-512), RoPE an AVX-512 one, that give the scalar
 * twin's bits exactly, so the instruction set a model runs with changes their speed, never their
 * results: RMSNorm sums the squares in 16 running sums (sum j takes elements j, j+16, ...), folded
 * in a fixed tree, which a 16-lane vector, two 8-lane ones and a scalar loop all do alike; SiLU
 * takes exp from one polynomial (vexp.h's) evaluated with the same roundings and fused
 * multiply-adds in every twin; RoPE and the scaled sums (k_axpy) round their products and sums as
 * written. Before them the one running sum and libm's expf per value cost 7% of a 0.6B prefill (a
 * sum of 1,024 squares is 1,024 dependent adds; expf is a call per value). The rest (softmax of the
 * router) is a plain loop. */
#include <math.h>
#include <string.h>

/* the twins' bits must not depend on a compiler fusing a multiply and an add on its own: GCC does
 * not in ISO C mode (-std=c11), clang does unless told */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "kernels/kernels.h"
#include "kernels/vexp.h"

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

/* ---- SiLU * up: out = g / (1 + exp(-g)) * u, exp from vexp.h's polynomial with its argument
 * clamped to [-87, 88] (the clamp changes silu by less than 1e-36 absolute: exp(-87) next to 1,
 * exp(88) = 1.7e38 in a denominator): k_exp88_scalar, k_exp88_avx2, and k_exp512 under the upper
 * clamp, the same bits in every twin. */

void k_silu_mul_scalar(float *out, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) out[i] = g[i] / (1.0f + k_exp88_scalar(-g[i])) * u[i];
}

/* ---- dst = src w (first) or dst + src w: a product and a sum, each rounded (no fused multiply-add),
 * in every twin. The MoE block's weighted sum of a token's experts and the residual adds (w = 1:
 * src 1 is src exactly) take it: as plain loops they stayed scalar (the compiler cannot tell dst
 * from src), 3.5% of a 30B-A3B prefill. */
void k_axpy_scalar(float *dst, const float *src, float w, int n, int first) {
    if (first)
        for (int i = 0; i < n; i++) dst[i] = src[i] * w;
    else
        for (int i = 0; i < n; i++) dst[i] += src[i] * w;
}

/* dst = w[0] src[0] + w[1] src[1] + ... + w[m-1] src[m-1] (first), or dst + those, added left to
 * right: the same operations as k_axpy over the m sources in order (first for the first when
 * first), so the same bits, in one pass. The MoE block's weighted sum of a token's 8 experts had taken 8 passes, each reading a row
 * of 2,048 from a 33.5 MB buffer (512 tokens x 8 slots) one after the other; reading the 8 rows side
 * by side keeps 8 streams of misses in flight. */
void k_wsum_scalar(float *dst, const float *const *src, const float *w, int m, int n, int first) {
    for (int i = 0; i < n; i++) {
        float a = first ? src[0][i] * w[0] : dst[i] + src[0][i] * w[0];
        for (int k = 1; k < m; k++) a = a + src[k][i] * w[k];
        dst[i] = a;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

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

TGT512 void k_silu_mul_avx512(float *out, const float *g, const float *u, int n) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 gv = _mm512_maskz_loadu_ps(k, g + i), uv = _mm512_maskz_loadu_ps(k, u + i);
        __m512 d = _mm512_add_ps(one, k_exp512(_mm512_min_ps(_mm512_sub_ps(zero, gv), _mm512_set1_ps(K_EXP_HI))));
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_div_ps(gv, d), uv));
    }
}

TGT512 void k_axpy_avx512(float *dst, const float *src, float w, int n, int first) {
    const __m512 wv = _mm512_set1_ps(w);
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, src + i), wv);
        _mm512_mask_storeu_ps(dst + i, k, first ? p : _mm512_add_ps(_mm512_maskz_loadu_ps(k, dst + i), p));
    }
}

TGT512 void k_wsum_avx512(float *dst, const float *const *src, const float *w, int m, int n, int first) {
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, src[0] + i), _mm512_set1_ps(w[0]));
        if (!first) a = _mm512_add_ps(_mm512_maskz_loadu_ps(k, dst + i), a);
        for (int j = 1; j < m; j++) a = _mm512_add_ps(a, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, src[j] + i), _mm512_set1_ps(w[j])));
        _mm512_mask_storeu_ps(dst + i, k, a);
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

TGT256 void k_silu_mul_avx2(float *out, const float *g, const float *u, int n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i), uv = _mm256_loadu_ps(u + i);
        __m256 d = _mm256_add_ps(one, k_exp88_avx2(_mm256_sub_ps(zero, gv)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(gv, d), uv));
    }
    k_silu_mul_scalar(out + i, g + i, u + i, n - i);
}
#else
void k_rmsnorm_avx512(float *out, const float *x, const float *w, int n, float eps) { k_rmsnorm_scalar(out, x, w, n, eps); }
void k_rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps) { k_rmsnorm_scalar(out, x, w, n, eps); }
void k_silu_mul_avx512(float *out, const float *g, const float *u, int n) { k_silu_mul_scalar(out, g, u, n); }
void k_axpy_avx512(float *dst, const float *src, float w, int n, int first) { k_axpy_scalar(dst, src, w, n, first); }
void k_wsum_avx512(float *dst, const float *const *src, const float *w, int m, int n, int first) { k_wsum_scalar(dst, src, w, m, n, first); }
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

void k_axpy(const kcpu *cpu, float *dst, const float *src, float w, int n, int first) {
    if (cpu->isa == K_ISA_AVX512) k_axpy_avx512(dst, src, w, n, first);
    else k_axpy_scalar(dst, src, w, n, first);
}

void k_wsum(const kcpu *cpu, float *dst, const float *const *src, const float *w, int m, int n, int first) {
    if (cpu->isa == K_ISA_AVX512) k_wsum_avx512(dst, src, w, m, n, first);
    else k_wsum_scalar(dst, src, w, m, n, first);
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

/* One pass, the chosen kept in descending order: a value enters only above a smaller one, so among
 * equal values the lower index stays first. (The k passes cost k x n x k steps: with 128 experts and
 * 8 chosen, the MoE routing step of a 512-token prefill of the 30B-A3B, softmax and grouping
 * included, took 38-54 ms with them and 18 ms with this.) */
void k_topk(const float *p, int n, int k, int *sel) {
    int m = 0;
    for (int x = 0; x < n; x++) {
        if (m == k && !(p[x] > p[sel[k - 1]])) continue;
        int i = m < k ? m++ : k - 1;
        for (; i > 0 && p[x] > p[sel[i - 1]]; i--) sel[i] = sel[i - 1];
        sel[i] = x;
    }
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
