/* out16.h - how the lane-per-token GEMMs (gemm_q8.c, quant_ggml_gemm512.c) write their results.
 *
 * Their tiles end with 4 rows x 16 tokens, a token a lane; Y is [token][row]. Written straight from
 * each tile, every value was a store to another line of Y (a row of Y apart), lines that the tiles'
 * reads had pushed out of L1: ~10% of a Q8_0 GEMM's time went to those stores (perf). So a tile's
 * 4 x 16 is transposed in registers into a block buffer of 16 rows (ob[token][16]), and when the
 * block's 16 rows are done each token's row of it goes to Y in one 64-byte copy (out16_flush), to
 * lines fetched for writing a few per tile while the arithmetic runs (out16_prefetch). out16_put4 needs the includer's TGT (AVX-512F); the AVX2 GEMMs' 8-token tiles
 * (quant_ggml_gemm256_body.h, which define OUT16_NO_512) take out16_put4_256. */
#ifndef QWEN3_KERNELS_OUT16_H
#define QWEN3_KERNELS_OUT16_H
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#if !defined(OUT16_NO_512)
/* acc[0..3] (rows c..c+3, token t in lane t) into ob[t][c..c+3], t = 0..15 */
TGT static inline __attribute__((always_inline)) void out16_put4(const __m512 acc[4], float (*ob)[16], int c) {
    __m512 t0 = _mm512_unpacklo_ps(acc[0], acc[1]), t1 = _mm512_unpackhi_ps(acc[0], acc[1]);
    __m512 t2 = _mm512_unpacklo_ps(acc[2], acc[3]), t3 = _mm512_unpackhi_ps(acc[2], acc[3]);
    /* u[k], 128-bit lane j: token 4 j + k's rows c..c+3 */
    __m512 u[4] = {_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2))),
                   _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2))),
                   _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3))),
                   _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)))};
    for (int k = 0; k < 4; k++) {
        _mm_storeu_ps(ob[k] + c, _mm512_castps512_ps128(u[k]));
        _mm_storeu_ps(ob[4 + k] + c, _mm512_extractf32x4_ps(u[k], 1));
        _mm_storeu_ps(ob[8 + k] + c, _mm512_extractf32x4_ps(u[k], 2));
        _mm_storeu_ps(ob[12 + k] + c, _mm512_extractf32x4_ps(u[k], 3));
    }
}
#endif

#define OUT16_AVX2 __attribute__((target("avx2"))) static inline __attribute__((always_inline))

/* acc[0..3] (rows c..c+3, token t in lane t) into ob[t][c..c+3], t = 0..7 */
OUT16_AVX2 void out16_put4_256(const __m256 acc[4], float (*ob)[16], int c) {
    __m256 t0 = _mm256_unpacklo_ps(acc[0], acc[1]), t1 = _mm256_unpackhi_ps(acc[0], acc[1]);
    __m256 t2 = _mm256_unpacklo_ps(acc[2], acc[3]), t3 = _mm256_unpackhi_ps(acc[2], acc[3]);
    /* u[k], 128-bit lane j: token 4 j + k's rows c..c+3 */
    __m256 u[4] = {_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2))),
                   _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2))),
                   _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3))),
                   _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)))};
    for (int k = 0; k < 4; k++) {
        _mm_storeu_ps(ob[k] + c, _mm256_castps256_ps128(u[k]));
        _mm_storeu_ps(ob[4 + k] + c, _mm256_extractf128_ps(u[k], 1));
    }
}


/* up to k more of the cn lines y + t ystride (t = *pf, ...) fetched for writing */
static inline void out16_prefetch(const float *y, size_t ystride, int cn, int *pf, int k) {
    for (; k > 0 && *pf < cn; k--, (*pf)++) __builtin_prefetch(y + (size_t)*pf * ystride, 1, 3);
}

/* the block's nrb <= 16 rows of cn tokens, ob[t] to y + t ystride (a whole row of the block one
 * 64-byte copy, in the including kernel's vector moves) */
static inline __attribute__((always_inline)) void out16_flush(float (*ob)[16], int cn, int nrb, float *y, size_t ystride) {
    for (int t = 0; t < cn; t++)
        if (nrb == 16) memcpy(y + (size_t)t * ystride, ob[t], sizeof ob[t]);
        else memcpy(y + (size_t)t * ystride, ob[t], sizeof(float) * (size_t)nrb);
}
#endif
