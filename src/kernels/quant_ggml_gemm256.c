/* quant_ggml_gemm256.c - GGUF's block types times many tokens (prefill) on AVX2 CPUs: the scheme of
 * quant_ggml_gemm512.c's 32-value blocks, and of its superblocks until 2026-12-06 (a SIMD lane per
 * token, activations packed per 16 tokens by
 * quant_ggml_pack.h, weights unpacked once per 128-token chunk, the scalar twins' float steps per
 * (row, token)) on 256-bit vectors of 8 tokens, 4 rows per tile. Plain AVX2 and AVX-VNNI flavours
 * of one body (quant_ggml_gemm256_body.h).
 *
 * Weights are unpacked to signed bytes with the offsets applied (q exactly as the scalar twin
 * unpacks it), and vpmaddubsw takes |w| and x carrying w's sign, so its int16 pair sums stay in
 * range (at most 2 x 127 x 127) and no offset correction is needed; the unsigned types (Q2_K,
 * Q4_K, Q5_K, Q4_1, Q5_1: values below 32) go in as they are. Superblocks: vpmaddwd (vpdpwssd) by
 * the sub-block scale straight from those pairs; minimums from the packed per-16/32 sums of x.
 * 32-value blocks: the pairs summed to int32 per block (vpdpbusd on AVX-VNNI). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include "kernels/quant_ggml_avx2.h"
#include "kernels/quant_ggml_pack.h"
#define OUT16_NO_512 /* the 256-bit helpers only */
/* gcc keeps accumulator arrays in memory unless their loops are unrolled outright (the tiles' is[]
 * went through the stack: ~6x slower prefill under QWEN3_ISA=avx2 before these pragmas) */
#if defined(__clang__)
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif
#include "kernels/out16.h"

#define CHUNK 128

/* The AVX-VNNI flavour's two instructions. Its real build: target("avxvnni") and the VEX-encoded
 * _avx_ intrinsics (gcc 11, clang 12). QWEN3_GEMM256_EVEX, a second build of this
 * file for the tests only (Makefile: test_gemm_ggml links it as kq_ggml_gemm_avxvnni_evex): the same
 * flavour with the EVEX encoding of the same instructions (AVX512VL + AVX512_VNNI;
 * _mm256_dpbusd_epi32 / _mm256_dpwssd_epi32 compute exactly what the _avx_ forms do), so that the
 * flavour's code runs and is checked on CPUs with AVX-512 VNNI but without the AVX-VNNI bit (AMD
 * Zen 4, Intel Ice Lake / Cascade Lake servers). Only the encoding differs; the body, these macros
 * and the entry point are the ones the real build uses. */
#if defined(QWEN3_GEMM256_EVEX)
#define HAVE_AVXVNNI 1
#define TGT_VNNI __attribute__((target("avx2,fma,f16c,avx512vl,avx512vnni")))
#define VNNI_DPWSSD _mm256_dpwssd_epi32
#define VNNI_DPBUSD _mm256_dpbusd_epi32
#elif (defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && __GNUC__ >= 11)
#define HAVE_AVXVNNI 1
#define TGT_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
#define VNNI_DPWSSD _mm256_dpwssd_avx_epi32
#define VNNI_DPBUSD _mm256_dpbusd_avx_epi32
#else
#define HAVE_AVXVNNI 0
#endif


/* one row's superblock: q as the scalar twin unpacks it (signed, offsets applied), 16 int16 scales
 * per 16 values (per-32 types duplicated), the minimums as int16 pairs (Q2_K per 16, Q4_K / Q5_K per
 * 32), d and dmin */
typedef struct { int8_t q[256]; int16_t sc[16]; int32_t mnp[8]; float d, dmin; } kur2;

TGT INL void unpack_row2(qwen3_dtype T, const uint8_t *blk, kur2 *o) {
    ksb u;
    unpack256(T, blk, &u);
    const int OFF = offset_of(T);
    for (int v = 0; v < 8; v++)
        _mm256_storeu_si256((__m256i *)(o->q + 32 * v), OFF ? _mm256_sub_epi8(u.v[v], _mm256_set1_epi8((char)OFF)) : u.v[v]);
    _mm256_storeu_si256((__m256i *)o->sc, u.sc);
    int16_t mn[16];
    if (T == QWEN3_Q2_K) {
        _mm256_storeu_si256((__m256i *)mn, u.mn);
        for (int p = 0; p < 8; p++) o->mnp[p] = pair16(mn[2 * p], mn[2 * p + 1]);
    }
    if (has_m32(T)) {
        _mm_storeu_si128((__m128i *)mn, u.m32);
        for (int p = 0; p < 4; p++) o->mnp[p] = pair16(mn[2 * p], mn[2 * p + 1]);
    }
    o->d = u.d;
    o->dmin = has_mins(T) ? u.dmin : 0.0f;
}

/* up to 8 32-blocks of one row: q as the scalar twin unpacks it, d and m per block */
typedef struct { int8_t q[256]; float d[8], m[8]; } kur32b;

TGT INL void unpack_row32b(qwen3_dtype T, const uint8_t *row, int nb, kur32b *o) {
    const size_t BB = bbytes(T);
    const int QS = T == QWEN3_Q5_1 ? 8 : T == QWEN3_Q5_0 ? 6 : T == QWEN3_Q4_1 ? 4 : 2;
    const int HB = T == QWEN3_Q5_0 || T == QWEN3_Q5_1, MIN = T == QWEN3_Q4_1 || T == QWEN3_Q5_1;
    const char off = T == QWEN3_Q4_0 ? 8 : T == QWEN3_Q5_0 ? 16 : 0;
    const __m128i low4 = _mm_set1_epi8(15);
    const __m256i tbl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kq_iq4_values));
    /* Q5's 32 high bits to bytes: byte i takes qh byte i / 8 and tests bit i % 8 */
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * BB;
        __m128i q = _mm_loadu_si128((const __m128i *)(blk + QS));
        __m256i v = T == QWEN3_Q8_0 ? _mm256_loadu_si256((const __m256i *)(blk + 2)) /* int8 as stored */
                                    : _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, low4)), _mm_and_si128(_mm_srli_epi16(q, 4), low4), 1);
        if (HB) {
            __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi32((int)rd32(blk + QS - 4)), spread);
            h = _mm256_cmpeq_epi8(_mm256_and_si256(h, bits), bits);
            v = _mm256_or_si256(v, _mm256_and_si256(h, _mm256_set1_epi8(16)));
        }
        if (T == QWEN3_IQ4_NL) v = _mm256_shuffle_epi8(tbl, v);
        else if (off) v = _mm256_sub_epi8(v, _mm256_set1_epi8(off));
        _mm256_storeu_si256((__m256i *)(o->q + 32 * b), v);
        uint16_t h;
        memcpy(&h, blk, 2);
        o->d[b] = _cvtsh_ss(h);
        if (MIN) {
            memcpy(&h, blk + 2, 2);
            o->m[b] = _cvtsh_ss(h);
        }
    }
}

/* plain AVX2 (not in the test-only EVEX build, which holds the AVX-VNNI flavour alone) */
#if !defined(QWEN3_GEMM256_EVEX)
#define SUF avx2
#define TGTX TGT
#define DPWSSD(acc, a, b) _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
#define DPBUSD(acc, u, s) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
#include "kernels/quant_ggml_gemm256_body.h"
#undef SUF
#undef TGTX
#undef DPWSSD
#undef DPBUSD
#endif

#if HAVE_AVXVNNI
/* the table kq_ggml_gemm_avxvnni (the EVEX build's: kq_ggml_gemm_avxvnni_evex, so both link) */
#if defined(QWEN3_GEMM256_EVEX)
#define SUF avxvnni_evex
#else
#define SUF avxvnni
#endif
#define TGTX TGT_VNNI
#define DPWSSD(acc, a, b) VNNI_DPWSSD(acc, a, b)
#define DPBUSD(acc, u, s) VNNI_DPBUSD(acc, u, s)
#include "kernels/quant_ggml_gemm256_body.h"
#undef SUF
#undef TGTX
#undef DPWSSD
#undef DPBUSD
#endif

#if !HAVE_AVXVNNI
/* the compiler lacks AVX-VNNI: no entries (k_cpu_features never reports it then) */
const kq_gemm_fn kq_ggml_gemm_avxvnni[QWEN3_DTYPE_COUNT];
#endif
#if !defined(QWEN3_GEMM256_EVEX)
int kq_avx2_vnni_compiled(void) { return HAVE_AVXVNNI; }
#endif
#elif defined(QWEN3_GEMM256_EVEX)
const kq_gemm_fn kq_ggml_gemm_avxvnni_evex[QWEN3_DTYPE_COUNT];
#else
const kq_gemm_fn kq_ggml_gemm_avx2[QWEN3_DTYPE_COUNT];
const kq_gemm_fn kq_ggml_gemm_avxvnni[QWEN3_DTYPE_COUNT];
int kq_avx2_vnni_compiled(void) { return 0; }
#endif
