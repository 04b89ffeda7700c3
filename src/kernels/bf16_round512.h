/* bf16_round512.h - float32 to bf16 with AVX-512 integer arithmetic, in one place for the two writers
 * of bf16 activations: dot_bf16.c's k_x_to_bf16_rows_avx512 (rows for the bf16 dots) and
 * gemm_bf16.c's k_pack_x_bf16_avx512 (pairs for --batch-variant's GEMM). The bits of k_f32_to_bf16:
 * nearest even, a NaN kept quiet; vcvtneps2bf16 is not used because it reads denormal floats as zero
 * (0x007fffff would round to 0 instead of the smallest normal bf16). Private to those files;
 * AVX-512 only. */
#ifndef QWEN3_KERNELS_BF16_ROUND512_H
#define QWEN3_KERNELS_BF16_ROUND512_H

#include <immintrin.h>

/* 16 floats (as their bits) rounded to bf16, each result in the low 16 bits of its 32-bit lane */
static inline __attribute__((target("avx512f"), always_inline)) __m512i k_bf16_round16(__m512i u) {
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, _mm512_set1_epi32(0x00400000)));
    return _mm512_srli_epi32(r, 16);
}

#endif
