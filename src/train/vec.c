/* vec.c - see vec.h. The AVX-512 versions take 16 lanes at a time with a masked tail, so any n works;
 * their sums differ from the scalar twin's only in the order of additions. */
#include <math.h>

#include "kernels/kernels.h"
#include "train/vec.h"

static float dot_scalar(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void axpy_scalar(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

static float max_scalar(const float *z, int n) {
    float m = -INFINITY;
    for (int i = 0; i < n; i++) if (z[i] > m) m = z[i];
    return m;
}

static void smx_scalar(const float *z, int n, float m, const unsigned char *mask, tv_smx *o) {
    tv_smx r = {0};
    for (int i = 0; i < n; i++) {
        double d = (double)z[i] - m, ex = exp(d);
        r.s += ex;
        r.sez += ex * d;
        if (mask && mask[i]) { r.su += ex; r.sumz += z[i]; r.nu++; }
    }
    *o = r;
}

const tvec_ops tv_scalar = {dot_scalar, axpy_scalar, max_scalar, smx_scalar};

#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/vexp.h"
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,fma"))) /* K_CPU_AVX512 has all three */

TGT static float dot_avx512(const float *a, const float *b, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

TGT static void axpy_avx512(float *y, float a, const float *x, int n) {
    __m512 va = _mm512_set1_ps(a);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

static __mmask16 tail(int left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1); }

TGT static float max_avx512(const float *z, int n) {
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < n; i += 16) m = _mm512_max_ps(m, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail(n - i), z + i));
    return _mm512_reduce_max_ps(m);
}

TGT static void smx_avx512(const float *z, int n, float m, const unsigned char *mask, tv_smx *o) {
    tv_smx r = {0};
    __m512 vm = _mm512_set1_ps(m);
    for (int b = 0; b < n; b += 256) {
        int e = n - b < 256 ? n - b : 256;
        __m512 s = _mm512_setzero_ps(), sez = s, su = s, sumz = s;
        for (int i = b; i < b + e; i += 16) {
            __mmask16 k = tail(b + e - i);
            __m512 x = _mm512_maskz_loadu_ps(k, z + i);
            __m512 d = _mm512_maskz_sub_ps(k, x, vm); /* lanes past the end: d = 0, masked out below */
            __m512 ex = k_exp512(d);
            s = _mm512_mask_add_ps(s, k, s, ex);
            sez = _mm512_fmadd_ps(ex, d, sez); /* d = 0 past the end */
            if (mask) {
                __mmask16 t = _mm512_mask_test_epi32_mask(k, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, mask + i)),
                                                          _mm512_set1_epi32(0xff));
                su = _mm512_mask_add_ps(su, t, su, ex);
                sumz = _mm512_mask_add_ps(sumz, t, sumz, x);
                r.nu += __builtin_popcount(t);
            }
        }
        r.s += _mm512_reduce_add_ps(s);
        r.sez += _mm512_reduce_add_ps(sez);
        r.su += _mm512_reduce_add_ps(su);
        r.sumz += _mm512_reduce_add_ps(sumz);
    }
    *o = r;
}

const tvec_ops tv_avx512 = {dot_avx512, axpy_avx512, max_avx512, smx_avx512};
#else
const tvec_ops tv_avx512 = {dot_scalar, axpy_scalar, max_scalar, smx_scalar};
#endif

const tvec_ops *tv_pick(k_isa isa) { return isa == K_ISA_AVX512 ? &tv_avx512 : &tv_scalar; }
