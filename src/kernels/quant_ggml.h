/* quant_ggml.h - the weight types of GGUF files (ggml's block layouts, byte for byte, so GGUF tensor
 * data is used in place): Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL (blocks of 32) and Q2_K, Q3_K, Q4_K, Q5_K,
 * Q6_K, IQ4_XS (superblocks of QK_K = 256). Q8_0 and the float types live in quant.h.
 *
 * Values (e = element index in its block; "f16" fields are IEEE half):
 *   Q4_0   f16 d, qs[16]: w = d * (q - 8), q = qs[e % 16] low nibble for e < 16, high for e >= 16
 *   Q4_1   f16 d, f16 m, qs[16]: w = d * q + m (q as Q4_0, unsigned)
 *   Q5_0   f16 d, qh[4], qs[16]: w = d * (q - 16), q = nibble | bit e of qh (little-endian u32) << 4
 *   Q5_1   f16 d, f16 m, qh[4], qs[16]: w = d * q + m
 *   IQ4_NL f16 d, qs[16]: w = d * kvalues[nibble] (the non-linear 16-entry table below)
 *   Q2_K   scales[16] (low nibble scale, high nibble min, per 16), qs[64], f16 d, f16 dmin:
 *          w = d * sc * q - dmin * m, q = qs[32 (e / 128) + e % 32] >> 2 ((e % 128) / 32) & 3
 *   Q3_K   hmask[32], qs[64], scales[12] (16 6-bit scales, minus 32), f16 d:
 *          w = d * (sc - 32) * (q - 4 * !(hmask[e % 32] >> (e / 32) & 1)), q's low 2 bits as Q2_K
 *   Q4_K   f16 d, f16 dmin, scales[12] (8 6-bit scales and 8 6-bit mins, per 32), qs[128]:
 *          w = d * sc * q - dmin * m, q = qs[32 (e / 64) + e % 32] nibble (low for e % 64 < 32)
 *   Q5_K   as Q4_K plus qh[32] before qs: q |= (qh[e % 32] >> (e / 32) & 1) << 4
 *   Q6_K   ql[128], qh[64], int8 scales[16] (per 16), f16 d: w = d * sc * (q - 32), q 6 bits:
 *          low 4 from ql[64 (e / 128) + e % 64] (low nibble for e % 128 < 64), high 2 from
 *          qh[32 (e / 128) + e % 32] >> 2 ((e % 128) / 32)
 *   IQ4_XS f16 d, u16 scales_h, scales_l[4], qs[128]: per 32, ls = 4 low bits | 2 high bits << 4,
 *          w = d * (ls - 32) * kvalues[nibble] (nibbles as IQ4_NL per 32)
 * The scalar dequantizers follow ggml's reference arithmetic operation for operation (so they give
 * the same float bits: tests/unit/test_quant_ggml.c checks them against llama.cpp's own library).
 *
 * Decode pairs them with int8 activations (quant.h): the 32-blocks with A8_0 (as ggml's q8_0),
 * the superblocks with A8_K (as ggml's q8_K: one float scale per 256, sums per 32). Every dot kernel
 * is "unpack to int8 + integer sub-block scales, then an exact integer sum per superblock": the
 * scalar twins here, AVX-512 VNNI in quant_ggml_avx512.c, AVX2 in quant_ggml_avx2.c. */
#ifndef QWEN3_KERNELS_QUANT_GGML_H
#define QWEN3_KERNELS_QUANT_GGML_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"
#include "qwen3.h"

#define KQK_K 256

typedef struct { uint16_t d; uint8_t qs[16]; } kq4_0_block;
typedef struct { uint16_t d, m; uint8_t qs[16]; } kq4_1_block;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } kq5_0_block;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } kq5_1_block;
typedef struct { uint16_t d; uint8_t qs[16]; } kiq4_nl_block;
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } kq2_k_block;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } kq3_k_block;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } kq4_k_block;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } kq5_k_block;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } kq6_k_block;
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } kiq4_xs_block;

/* sizes as ggml-common.h asserts them */
_Static_assert(sizeof(kq4_0_block) == 18, "block_q4_0");
_Static_assert(sizeof(kq4_1_block) == 20, "block_q4_1");
_Static_assert(sizeof(kq5_0_block) == 22, "block_q5_0");
_Static_assert(sizeof(kq5_1_block) == 24, "block_q5_1");
_Static_assert(sizeof(kiq4_nl_block) == 18, "block_iq4_nl");
_Static_assert(sizeof(kq2_k_block) == 84, "block_q2_K");
_Static_assert(sizeof(kq3_k_block) == 110, "block_q3_K");
_Static_assert(sizeof(kq4_k_block) == 144, "block_q4_K");
_Static_assert(sizeof(kq5_k_block) == 176, "block_q5_K");
_Static_assert(sizeof(kq6_k_block) == 210, "block_q6_K");
_Static_assert(sizeof(kiq4_xs_block) == 136, "block_iq4_xs");

/* IQ4_NL / IQ4_XS value table (ggml's kvalues_iq4nl) */
extern const int8_t kq_iq4_values[16];

/* Is t one of this file's types? */
int kq_is_ggml(qwen3_dtype t);

/* The traits-table entries (quant.c): dequantize (bit-exact to ggml), quantize (n a multiple of the
 * block), scalar dot with the paired activation row (A8_0 for the 32-blocks, A8_K for the rest). */
#define KQ_GGML_DECL(name)                                                          \
    void kq_##name##_to_float(const void *row, float *out, int64_t n);              \
    void kq_##name##_from_float(const float *x, void *row, int64_t n);              \
    float kq_dot_##name##_scalar(const void *wrow, const void *arow, int64_t n);
KQ_GGML_DECL(q4_0)
KQ_GGML_DECL(q4_1)
KQ_GGML_DECL(q5_0)
KQ_GGML_DECL(q5_1)
KQ_GGML_DECL(iq4_nl)
KQ_GGML_DECL(q2_k)
KQ_GGML_DECL(q3_k)
KQ_GGML_DECL(q4_k)
KQ_GGML_DECL(q5_k)
KQ_GGML_DECL(q6_k)
KQ_GGML_DECL(iq4_xs)
#undef KQ_GGML_DECL

/* Generic unpacking shared by the scalar dots (and the tests): one superblock as int8 values
 * (signed, offsets applied; unsigned types keep 0..31), 16 integer scales per 16 values, 16 integer
 * mins per 16 values (zero for types without), and the float superblock scales: the superblock's
 * values are d * sc[g] * q - dmin * mn[g]. */
void kq_unpack_k(qwen3_dtype t, const void *blk, int8_t q[256], int16_t sc[16], int16_t mn[16], float *d, float *dmin);
/* One 32-block: values d * q + m. */
void kq_unpack_32(qwen3_dtype t, const void *blk, int8_t q[32], float *d, float *m);

/* The SIMD kernels of these types, as tables indexed by type (NULL where a file has no kernel for a
 * type, and everywhere off x86-64), read by the kernel table (ktable.c) instead of a switch over
 * types. Each gives every (row, token) the bits of the scalar twin (its float steps in its order;
 * see dot32 / dotk in quant_ggml.c).
 * rows: nr <= 4 rows x one token, AVX-512 VNNI (quant_ggml_avx512.c) and AVX2 (quant_ggml_avx2.c;
 * AVX-VNNI CPUs take these too). */
extern const kq_rows_fn kq_ggml_rows_avx512[QWEN3_DTYPE_COUNT];
extern const kq_rows_fn kq_ggml_rows_avx2[QWEN3_DTYPE_COUNT];
/* gemv: one token, rows [r0, r1) of Q4_K, Q5_K, Q6_K (both sets) and the 32-value types (AVX-512
 * only), 8 rows per step (quant_ggml_gemv512.c, quant_ggml_gemv256.c). */
extern const kq_gemv_fn kq_ggml_gemv_avx512[QWEN3_DTYPE_COUNT];
extern const kq_gemv_fn kq_ggml_gemv_avx2[QWEN3_DTYPE_COUNT];
/* gemm: n >= KQ_GEMM_MIN_TOKENS (prefill): AVX-512 VNNI (quant_ggml_gemm512.c: a SIMD lane per weight
 * row for the superblock types, per token for the 32-value ones), AVX2 and AVX-VNNI's vpdpbusd /
 * vpdpwssd (quant_ggml_gemm256.c, a lane per token). */
extern const kq_gemm_fn kq_ggml_gemm_avx512[QWEN3_DTYPE_COUNT];
/* the AVX-512 gemm over activations packed once per input (kq_pack; kernels.h's ktype.pk_il): the
 * superblock types share one packing, the 32-value types another */
extern const kq_gemm_p_fn kq_ggml_gemm_p_avx512[QWEN3_DTYPE_COUNT];
extern const kq_pack *const kq_ggml_pack_avx512[QWEN3_DTYPE_COUNT];
extern const kq_gemm_fn kq_ggml_gemm_avx2[QWEN3_DTYPE_COUNT];
extern const kq_gemm_fn kq_ggml_gemm_avxvnni[QWEN3_DTYPE_COUNT];
/* Tests only (not in the library: a second build of quant_ggml_gemm256.c linked into
 * test_gemm_ggml): the AVX-VNNI flavour's gemm with the EVEX encoding, for CPUs with AVX512VL +
 * AVX512_VNNI. */
extern const kq_gemm_fn kq_ggml_gemm_avxvnni_evex[QWEN3_DTYPE_COUNT];

/* Row of K values of type t as bf16 (the prefill GEMM's panels), AVX-512; 0 when t has none. */
int kq_ggml_row_bf16_avx512(qwen3_dtype t, const uint8_t *row, uint16_t *out, int64_t K);

/* ---- facts of the superblock types, shared by every instruction set's kernels (each kernel is
 * instantiated per type, so these fold to constants) */

static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
/* scales per 16 values (else per 32) */
static inline int per16(qwen3_dtype T) { return T == QWEN3_Q2_K || T == QWEN3_Q3_K || T == QWEN3_Q6_K; }
/* the offset the unpacked values carry: Q6_K's q + 32, Q3_K's q + 4 */
static inline int offset_of(qwen3_dtype T) { return T == QWEN3_Q6_K ? 32 : T == QWEN3_Q3_K ? 4 : 0; }
/* per-32 minimums (Q4_K, Q5_K, our Q4); with Q2_K's per-16 ones, the types with minimums */
static inline int has_m32(qwen3_dtype T) { return T == QWEN3_Q4_K || T == QWEN3_Q5_K || T == QWEN3_Q4; }
static inline int has_mins(qwen3_dtype T) { return T == QWEN3_Q2_K || has_m32(T); }
/* Q4_K / Q5_K's 12 bytes of 6-bit scales and minimums s as 4 little-endian words: the 8 scales as
 * bytes 0..7, the 8 minimums as bytes 8..15 (j < 4: the low 6 bits of bytes j and j + 4; j >= 4:
 * the nibbles of byte j + 4 with the top 2 bits of bytes j - 4 and j) */
static inline void k4_scale_words(const uint8_t *s, uint32_t out[4]) {
    uint32_t w0 = rd32(s), w1 = rd32(s + 4), w2 = rd32(s + 8);
    out[0] = w0 & 0x3f3f3f3fu;
    out[1] = (w2 & 0x0f0f0f0fu) | ((w0 >> 6) & 0x03030303u) << 4;
    out[2] = w1 & 0x3f3f3f3fu;
    out[3] = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 6) & 0x03030303u) << 4;
}

#endif
