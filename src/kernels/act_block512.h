/* act_block512.h - one 32-value block of activations quantized to int8 with the arithmetic of the
 * A8_0 row quantizer (kq_act_quant_row_avx512: amax by lanes, d = amax / 127, q = x (127 / amax)
 * rounded to nearest even, the low byte kept), for the packers that quantize straight from float
 * rows into their tiles (kq_pack.pack_x: gemm_q8.c's il_pack_x, quant_ggml_gemm512.c's
 * packer_32_x). Private to those files; AVX-512 only. */
#ifndef QWEN3_KERNELS_ACT_BLOCK512_H
#define QWEN3_KERNELS_ACT_BLOCK512_H

#include <stdint.h>
#include <immintrin.h>

/* the block's 32 bytes; *d its scale, *sum the sum of its 32 int8 values (vpsadbw over u = q + 128) */
static inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2"), always_inline)) __m256i
kq_a8_0_block512(const float *x, float *d, int32_t *sum) {
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    __m512 m = _mm512_max_ps(_mm512_and_ps(v0, absmask), _mm512_setzero_ps());
    m = _mm512_max_ps(_mm512_and_ps(v1, absmask), m);
    const float amax = _mm512_reduce_max_ps(m);
    const __m512 id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, id)))),
                                              _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, id))), 1);
    const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    *d = amax / 127.0f;
    *sum = (int32_t)(_mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1) + _mm256_extract_epi64(s, 2) + _mm256_extract_epi64(s, 3) - 32 * 128);
    return q;
}

#endif
