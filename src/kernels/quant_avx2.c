/* quant_avx2.c - integer dot products of Q4 weight rows with int8 activations on AVX2 CPUs
 * (decoding of quantized weights without AVX-512), in two flavours: AVX-VNNI (vpdpbusd / vpdpwssd
 * on 256-bit vectors, Alder Lake and later) and plain AVX2 (vpmaddubsw + vpmaddwd), chosen by
 * dispatch.c from the CPU's features. (Q8_0 on AVX2 takes the 32-value types' kernels, which keep
 * its scalar twin's bits: quant_ggml_avx2.c, quant_ggml_gemv256.c, quant_ggml_gemm256.c; its own
 * kernel here summed each lane across blocks with fused multiply-adds, so prefill could have no
 * GEMM with its bits.)
 *
 * Q4 x A8_K, one 32-value sub-block per vector: vpmaddubsw of the
 * nibbles (0..15) with the activations gives int16 pairs (at most 3810), multiplied by the sub-block
 * scale and summed to int32 (vpmaddwd + add, or vpdpwssd), so a superblock's sum is exact in integers
 * and scaled once; the minimum term is sum_j mn[j] * bsum[j]. Same arithmetic as the scalar twins:
 * integer sums are exact, float sums differ only in order. Up to 4 weight rows per call share each
 * activation load. */
#include "kernels/kernels.h"
#include "kernels/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline))

/* target("avxvnni") and its _avx_ intrinsics: gcc 11, clang 12 */
#if (defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && __GNUC__ >= 11)
#define HAVE_AVXVNNI 1
#define TGT_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
#else
#define HAVE_AVXVNNI 0
#define TGT_VNNI TGT
#endif

int kq_avx2_vnni_compiled(void) { return HAVE_AVXVNNI; }

TGT INL float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The two flavours' primitive, passed by name to the body below: acc + int32 sums of pairs of int16
 * a x b. */
#define S16_AVX2(acc, a, b) _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
#if HAVE_AVXVNNI
#define S16_VNNI(acc, a, b) _mm256_dpwssd_avx_epi32(acc, a, b)
#else
#define S16_VNNI S16_AVX2
#endif

/* one row's superblock: integer sum over the 8 sub-blocks, then scaled; returns the minimum term */
#define Q4_SUB(OP, isum, q, shift, x, j)                                                                            \
    isum = OP(isum,                                                                                          \
                   _mm256_maddubs_epi16(_mm256_and_si256(shift ? _mm256_srli_epi16(q, 4) : q, low4), x),             \
                   _mm256_shuffle_epi8(s16, _mm256_set1_epi16((short)(((2 * (j) + 1) << 8) | (2 * (j))))))

#define Q4_ROW(OP, a, m, r)                                                                                         \
    do {                                                                                                              \
        const kq4_block *blk = (const kq4_block *)(w + (size_t)(r) * wstride) + sb;                                  \
        /* qs[0..31]: sub-blocks 0 (low) and 2 (high); qs[32..63]: 1 and 3; qs[64..95]: 4, 6; qs[96..]: 5, 7 */     \
        __m256i q0 = _mm256_loadu_si256((const __m256i *)blk->qs), q1 = _mm256_loadu_si256((const __m256i *)(blk->qs + 32)), \
                q2 = _mm256_loadu_si256((const __m256i *)(blk->qs + 64)), q3 = _mm256_loadu_si256((const __m256i *)(blk->qs + 96)); \
        /* the 8 sub-block scales as int16 in both lanes; vpshufb spreads scale j over a vector */                   \
        __m256i s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)blk->sc)));      \
        /* two chains of 4 accumulations (vpdpwssd's latency) */                                                      \
        __m256i isum = _mm256_setzero_si256(), isum2 = isum;                                                          \
        Q4_SUB(OP, isum, q0, 0, xv[0], 0);                                                                          \
        Q4_SUB(OP, isum2, q1, 0, xv[1], 1);                                                                         \
        Q4_SUB(OP, isum, q0, 1, xv[2], 2);                                                                          \
        Q4_SUB(OP, isum2, q1, 1, xv[3], 3);                                                                         \
        Q4_SUB(OP, isum, q2, 0, xv[4], 4);                                                                          \
        Q4_SUB(OP, isum2, q3, 0, xv[5], 5);                                                                         \
        Q4_SUB(OP, isum, q2, 1, xv[6], 6);                                                                          \
        Q4_SUB(OP, isum2, q3, 1, xv[7], 7);                                                                         \
        isum = _mm256_add_epi32(isum, isum2);                                                                         \
        a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(_cvtsh_ss(blk->d) * dx), a);                   \
        __m128i mm = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)blk->mn)), bs);               \
        mm = _mm_add_epi32(mm, _mm_shuffle_epi32(mm, 0x4e));                                                          \
        mm = _mm_add_epi32(mm, _mm_shuffle_epi32(mm, 0xb1));                                                          \
        m += _cvtsh_ss(blk->dmin) * dx * (float)_mm_cvtsi128_si32(mm);                                                \
    } while (0)

#define Q4_BODY(OP)                                                                                                   \
    const int8_t *xq = kq_act_q((void *)arow);                                                                        \
    const float *xd = kq_act_d((void *)arow, n);                                                                      \
    const int16_t *bsum = kq_act_bsum((void *)arow, n);                                                               \
    const __m256i low4 = _mm256_set1_epi8(15);                                                                        \
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                                       \
    float m0 = 0, m1 = 0, m2 = 0, m3 = 0;                                                                             \
    for (int64_t sb = 0; sb < n / 256; sb++) {                                                                        \
        const int8_t *xs = xq + 256 * sb;                                                                             \
        __m256i xv[8];                                                                                                \
        for (int j = 0; j < 8; j++) xv[j] = _mm256_loadu_si256((const __m256i *)(xs + 32 * j));                       \
        __m128i bs = _mm_loadu_si128((const __m128i *)(bsum + 8 * sb));                                               \
        float dx = xd[sb];                                                                                            \
        for (int r = 0; r < 4; r++) {                                                                                 \
            const char *nx = (const char *)(w + (size_t)(4 + r) * wstride + (size_t)sb * sizeof(kq4_block));          \
            _mm_prefetch(nx, _MM_HINT_T0);                                                                            \
            _mm_prefetch(nx + 64, _MM_HINT_T0);                                                                       \
            _mm_prefetch(nx + 128, _MM_HINT_T0);                                                                      \
        }                                                                                                             \
        Q4_ROW(OP, a0, m0, 0);                                                                                      \
        if (nr > 1) Q4_ROW(OP, a1, m1, 1);                                                                          \
        if (nr > 2) Q4_ROW(OP, a2, m2, 2);                                                                          \
        if (nr > 3) Q4_ROW(OP, a3, m3, 3);                                                                          \
    }                                                                                                                 \
    y[0] = hsum8(a0) - m0;                                                                                            \
    if (nr > 1) y[1] = hsum8(a1) - m1;                                                                                \
    if (nr > 2) y[2] = hsum8(a2) - m2;                                                                                \
    if (nr > 3) y[3] = hsum8(a3) - m3;

TGT INL void q4_avx2(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { Q4_BODY(S16_AVX2) }
TGT void kq_dot_q4_avx2(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) {
    if (nr == 4) q4_avx2(w, wstride, 4, arow, n, y);
    else q4_avx2(w, wstride, nr, arow, n, y);
}
TGT_VNNI INL void q4_vnni(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { Q4_BODY(S16_VNNI) }
TGT_VNNI void kq_dot_q4_avxvnni(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) {
    if (nr == 4) q4_vnni(w, wstride, 4, arow, n, y);
    else q4_vnni(w, wstride, nr, arow, n, y);
}
#else
int kq_avx2_vnni_compiled(void) { return 0; }
void kq_dot_q4_avx2(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) {
    for (int r = 0; r < nr; r++) y[r] = kq_dot_q4_scalar(w + (size_t)r * wstride, arow, n);
}
void kq_dot_q4_avxvnni(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) {
    kq_dot_q4_avx2(w, wstride, nr, arow, n, y);
}
#endif
