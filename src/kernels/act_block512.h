/* act_block512.h - the int8 activation quantizer's steps with AVX-512, in one place for every
 * writer of int8 activations: the row quantizer (quant_avx512.c's kq_act_quant_row_avx512) and the
 * packers that quantize straight from float rows into their tiles (kq_pack.pack_x: gemm_q8.c's
 * il_pack_x, quant_ggml_gemm512.c's packer_k_x and packer_32_x). A block of B values (32 for A8_0,
 * 256 for A8_K): amax by lanes (a maximum is exact in any order; vmaxps keeps the running maximum
 * where |x| is NaN, as the scalar twin's fmaxf does), d = amax / 127, q = x (127 / amax) by
 * vcvtps2dq in the default rounding mode (to nearest even, as lrintf), the low byte kept (for |x id|
 * <= 127 that is the value; non-finite inputs give 0). Private to those files; AVX-512 only. */
#ifndef QWEN3_KERNELS_ACT_BLOCK512_H
#define QWEN3_KERNELS_ACT_BLOCK512_H

#include <stdint.h>
#include <immintrin.h>

#define KQ_A8_TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2"), always_inline))

/* the largest |x| of the B values at x (B a multiple of 16) */
static inline KQ_A8_TGT float kq_a8_amax512(const float *x, int B) {
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    __m512 m = _mm512_setzero_ps();
    for (int j = 0; j < B; j += 16) m = _mm512_max_ps(_mm512_and_ps(_mm512_loadu_ps(x + j), absmask), m);
    return _mm512_reduce_max_ps(m);
}

/* the multiplier of a block whose largest |x| is amax (its scale d is amax / 127) */
static inline KQ_A8_TGT __m512 kq_a8_id512(float amax) { return _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f); }

/* 16 values at x quantized with the block's multiplier id */
static inline KQ_A8_TGT __m128i kq_a8_q16(const float *x, __m512 id) {
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), id)));
}

/* a 32-value block (A8_0): its 32 bytes; *d its scale, *sum the sum of its 32 int8 values
 * (vpsadbw over u = q + 128) */
static inline KQ_A8_TGT __m256i kq_a8_0_block512(const float *x, float *d, int32_t *sum) {
    const float amax = kq_a8_amax512(x, 32);
    const __m512 id = kq_a8_id512(amax);
    const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(kq_a8_q16(x, id)), kq_a8_q16(x + 16, id), 1);
    const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    *d = amax / 127.0f;
    *sum = (int32_t)(_mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1) + _mm256_extract_epi64(s, 2) + _mm256_extract_epi64(s, 3) - 32 * 128);
    return q;
}

#endif
