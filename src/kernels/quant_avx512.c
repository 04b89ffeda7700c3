/* quant_avx512.c - integer dot products of Q8_0 weight rows with int8 activations, AVX-512 VNNI, and
 * the activations' quantization. (Our Q4's AVX-512 kernels are GGUF's superblock kernels,
 * quant_ggml_*512.c: its arithmetic is Q4_K's.)
 *
 * Q8_0 x A8_0, one 32-value block per 256-bit vector: vpdpbusd needs an unsigned operand, so it
 * multiplies |w| by x carrying w's sign (vpsignb); the 8 int32 partial sums are scaled by
 * d_w * d_x in float. The kernel handles up to 4 weight rows per call so each activation vector is
 * loaded once for all of them. */
#include "kernels/kernels.h"
#include "kernels/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include "kernels/act_block512.h"

/* gcc keeps the 4 x 4 accumulator arrays in memory unless their loops are unrolled outright; clang
 * unrolls them by itself */
#if defined(__clang__)
#define UNROLL4
#else
#define UNROLL4 _Pragma("GCC unroll 4")
#endif
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

TGT static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

TGT void kq_dot_q8_0_avx512(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, n);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));
        float dx = xd[b];
        if ((b & 1) == 0) /* the next 4 rows' bytes at this column (see matmul_avx512.c: short streams) */
            for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(w + (size_t)(4 + r) * wstride + (size_t)b * 34), _MM_HINT_T0);
        for (int r = 0; r < nr; r++) {
            const uint8_t *blk = w + (size_t)r * wstride + (size_t)b * 34;
            __m256i wv = _mm256_loadu_si256((const __m256i *)(blk + 2));
            __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(wv), _mm256_sign_epi8(x, wv));
            float s = _cvtsh_ss(*(const uint16_t *)blk) * dx;
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) y[r] = hsum8(acc[r]);
}

/* The same products for nt <= 4 tokens at once (A: nt activation rows arow_bytes apart; y[t * ldy + r]):
 * each weight block is loaded and unpacked once for all tokens. Per (row, token) the integer dot and
 * the float scale / multiply-add sequence are exactly those of kq_dot_q8_0_avx512, so a token's
 * result has the same bits whether it is computed alone or in a batch. */
TGT static inline __attribute__((always_inline)) void q8_0_nt_body(const uint8_t *w, size_t wstride, int nr, const void *A, size_t arow_bytes, int nt,
                               int64_t n, float *y, size_t ldy) {
    const int8_t *xq[4];
    const float *xd[4];
    UNROLL4
    for (int t = 0; t < nt; t++) {
        void *arow = (uint8_t *)A + (size_t)t * arow_bytes;
        xq[t] = kq_act_q(arow);
        xd[t] = kq_act_d(arow, n);
    }
    __m256 acc[4][4];
    UNROLL4
    for (int r = 0; r < 4; r++)
        UNROLL4
        for (int t = 0; t < 4; t++) acc[r][t] = _mm256_setzero_ps();
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < n / 32; b++) {
        /* x + 128 as unsigned bytes (shared by all rows); the per-row correction -128 * sum(w) over
         * each 4-byte group makes every int32 lane exactly the single-token kernel's
         * sum |w| * sign(x, w) = sum w * x (vpdpbusd does not saturate) */
        __m256i u[4];
        __m256 dxv[4];
        UNROLL4
        for (int t = 0; t < nt; t++) {
            u[t] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(xq[t] + 32 * b)), bias);
            dxv[t] = _mm256_set1_ps(xd[t][b]);
        }
        if ((b & 1) == 0)
            UNROLL4
            for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(w + (size_t)(4 + r) * wstride + (size_t)b * 34), _MM_HINT_T0);
        UNROLL4
        for (int r = 0; r < nr; r++) {
            const uint8_t *blk = w + (size_t)r * wstride + (size_t)b * 34;
            __m256i wv = _mm256_loadu_si256((const __m256i *)(blk + 2));
            __m256i corr = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, wv));
            __m256 dw = _mm256_set1_ps(_cvtsh_ss(*(const uint16_t *)blk));
            UNROLL4
            for (int t = 0; t < nt; t++) {
                __m256i p = _mm256_dpbusd_epi32(corr, u[t], wv);
                /* d_w * d_x rounded once, as the scalar product there */
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, dxv[t]), acc[r][t]);
            }
        }
    }
    UNROLL4
    for (int t = 0; t < nt; t++)
        UNROLL4
        for (int r = 0; r < nr; r++) y[(size_t)t * ldy + r] = hsum8(acc[r][t]);
}

/* 4 rows x 4 tokens (the common case) with constant bounds, so the 16 accumulators stay in registers */
TGT void kq_dot_q8_0_avx512_nt(const uint8_t *w, size_t wstride, int nr, const void *A, size_t arow_bytes, int nt,
                               int64_t n, float *y, size_t ldy) {
    if (nr == 4 && nt == 4) q8_0_nt_body(w, wstride, 4, A, arow_bytes, 4, n, y, ldy);
    else q8_0_nt_body(w, wstride, nr, A, arow_bytes, nt, n, y, ldy);
}

/* kq_act_quant_row with AVX-512, the same bytes: each block by act_block512.h's steps */
TGT void kq_act_quant_row_avx512(kact_type t, const float *x, void *row, int64_t n) {
    int8_t *q = kq_act_q(row);
    float *d = kq_act_d(row, n);
    const int B = t == KACT_A8_K ? 256 : 32;
    for (int64_t i = 0; i < n / B; i++) {
        const float *v = x + i * B;
        const float amax = kq_a8_amax512(v, B);
        d[i] = amax / 127.0f;
        const __m512 id = kq_a8_id512(amax);
        for (int j = 0; j < B; j += 16) _mm_storeu_si128((__m128i *)(q + i * B + j), kq_a8_q16(v + j, id));
    }
    if (t == KACT_A8_K) {
        int16_t *bs = kq_act_bsum(row, n);
        for (int64_t s = 0; s < n / 32; s++) {
            __m512i w = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(q + s * 32)));
            __m512i p = _mm512_madd_epi16(w, _mm512_set1_epi16(1));
            bs[s] = (int16_t)_mm512_reduce_add_epi32(p);
        }
    }
}

#else
void kq_act_quant_row_avx512(kact_type t, const float *x, void *row, int64_t n) { kq_act_quant_row(t, x, row, n); }
void kq_dot_q8_0_avx512(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) {
    for (int r = 0; r < nr; r++) y[r] = kq_dot_q8_0_scalar(w + (size_t)r * wstride, arow, n);
}
void kq_dot_q8_0_avx512_nt(const uint8_t *w, size_t wstride, int nr, const void *A, size_t arow_bytes, int nt,
                           int64_t n, float *y, size_t ldy) {
    for (int t = 0; t < nt; t++) kq_dot_q8_0_avx512(w, wstride, nr, (const uint8_t *)A + (size_t)t * arow_bytes, n, y + (size_t)t * ldy);
}
#endif
