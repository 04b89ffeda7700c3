/* quant.h - block-quantized weight types and the int8 activation formats they pair with.
 *
 * Weight types (a row of `cols` values is cols / block blocks, stored back to back; the bytes are
 * the same in memory, in our quantized safetensors files and in the mapping):
 *
 *   Q8_0  block of 32: f16 d, int8 q[32];  w = d * q            34 bytes = 8.5 bits per weight.
 *         The layout of ggml's block_q8_0, so GGUF data can later be used in place.
 *   Q4    superblock of 256 = 8 sub-blocks of 32: f16 d, f16 dmin, uint8 sc[8], uint8 mn[8],
 *         uint8 qs[128];  w = d * sc[j] * q - dmin * mn[j] with q in 0..15 (j = element / 32).
 *         148 bytes = 4.625 bits per weight. Like llama.cpp's Q4_K (superblock scales of block scales
 *         and minimums) but with 8-bit instead of 6-bit sub-block scales and minimums, so it is at
 *         least as accurate; 4 more bytes per 256 weights buy simple unpacking.
 *         Nibble order, chosen for 64-byte vectors: qs[64c + k] (c = 0, 1; k < 64) holds element
 *         128c + k in its low nibble and element 128c + 64 + k in its high nibble. One 64-byte load
 *         thus gives 64 consecutive elements (two sub-blocks) in low nibbles and the next 64 in high.
 *         Its dot product is Q4_K's (quant_ggml.c, dotk): exact int32 sums per superblock, then
 *         p = d isum - dmin imin, acc += dx p, so on AVX-512 VNNI it takes GGUF's superblock kernels
 *         (quant_ggml_*512.c: 8-row one-token, a SIMD lane per row for prefill) with the scalar
 *         twin's bits, and on AVX2 likewise (quant_ggml_avx2.c, _gemv256.c, _gemm256.c).
 *
 * Activation formats (made once per matrix product from the float32 activations, see kact):
 *   A8_0  per block of 32: float d, int8 q[32] (q in -127..127; x ~ d*q); pairs with Q8_0.
 *   A8_K  per superblock of 256: float d, int8 q[256], int16 bsum[8] (sum of q per 32); pairs
 *         with Q4, whose minimum term needs the sums. One scale per 256 keeps the Q4 dot product in
 *         integers across the superblock (sub-block scales are integers too).
 * Activation rows are stored as structs of arrays: all q of a token first (so SIMD loads cross
 * blocks freely), then the scales, then the sums; see kq_act_row_bytes.
 *
 * The type-traits table (kq_traits) has one row per weight type: block size, bytes per block,
 * to-float, from-float, dot kernel (scalar reference) and the activation format it pairs with. */
#ifndef QWEN3_KERNELS_QUANT_H
#define QWEN3_KERNELS_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "qwen3.h"

#define KQ8_0_BLOCK 32
#define KQ4_BLOCK 256

typedef struct kq8_0_block {
    uint16_t d;       /* f16 scale */
    int8_t q[32];
} kq8_0_block;

typedef struct kq4_block {
    uint16_t d;       /* f16 scale of the sub-block scales */
    uint16_t dmin;    /* f16 scale of the sub-block minimums */
    uint8_t sc[8];    /* sub-block scale = d * sc[j] */
    uint8_t mn[8];    /* sub-block minimum = dmin * mn[j] */
    uint8_t qs[128];  /* nibbles, see the header comment */
} kq4_block;

_Static_assert(sizeof(kq8_0_block) == 34, "Q8_0 block must be 34 bytes (ggml block_q8_0)");
_Static_assert(sizeof(kq4_block) == 148, "Q4 superblock must be 148 bytes");

/* Activation formats. */
typedef enum { KACT_F32 = 0, KACT_A8_0 = 1, KACT_A8_K = 2 } kact_type;

/* Bytes of one activation row of `cols` values in format t (struct of arrays, 64-byte multiple). */
size_t kq_act_row_bytes(kact_type t, int64_t cols);
/* Views into an activation row. */
static inline int8_t *kq_act_q(void *row) { return (int8_t *)row; }
static inline float *kq_act_d(void *row, int64_t cols) { return (float *)((int8_t *)row + cols); }
/* A8_K: the per-32 sums after the scales. */
static inline int16_t *kq_act_bsum(void *row, int64_t cols) {
    return (int16_t *)((int8_t *)row + cols + sizeof(float) * (size_t)(cols / KQ4_BLOCK));
}

typedef void (*kq_to_float_fn)(const void *row, float *out, int64_t n);
typedef void (*kq_from_float_fn)(const float *x, void *row, int64_t n);
/* Dot product of one weight row (n values) with one activation row of the paired format. */
typedef float (*kq_dot_fn)(const void *wrow, const void *arow, int64_t n);

typedef struct kq_traits {
    const char *name;
    int block;              /* values per block */
    size_t block_bytes;     /* bytes per block */
    kq_to_float_fn to_float;
    kq_from_float_fn from_float; /* NULL for types only read as stored (the float types) */
    kq_dot_fn dot;          /* scalar reference; NULL for float types (they take f32 activations) */
    kact_type act;          /* activation format the integer dot products take */
} kq_traits;

const kq_traits *kq_type(qwen3_dtype t);
/* Block-quantized (has an integer dot kernel): Q8_0, Q4 and GGUF's types (quant_ggml.h). */
int kq_is_quant(qwen3_dtype t);

/* Dequantizes one row of n values of any weight type into out. */
void kq_dequant_row(qwen3_dtype t, const void *row, float *out, int64_t n);
/* Quantizes one row (n a multiple of the block size). Q4 uses a weighted least-squares search per
 * sub-block, as llama.cpp's make_qkx2_quants does for Q4_K. */
void kq_quantize_row(qwen3_dtype t, const float *x, void *row, int64_t n);

/* Activation quantization of one row (n a multiple of the format's block). The scalar reference;
 * dispatch uses the AVX-512 twin below where it can (the scalar one took 17% of a Q8_0 prefill). */
void kq_act_quant_row(kact_type t, const float *x, void *row, int64_t n);
/* The same bytes with AVX-512 (quant_avx512.c); the caller checks the CPU. */
void kq_act_quant_row_avx512(kact_type t, const float *x, void *row, int64_t n);
/* the same on AVX2 (act_avx2.c), the same bytes */
void kq_act_quant_row_avx2(kact_type t, const float *x, void *row, int64_t n);

/* The shapes of a type's integer kernels (entries of the kernel table, kernels.h's ktype):
 * rows: nr <= 4 weight rows (wstride bytes apart) x one activation row of n values, y[0..nr);
 * gemv: rows [r0, r1) of W x one activation row, y[r];
 * gemm: rows [r0, r1) x n activation rows (arow_bytes apart), Y[t * W->rows + r]; returns 0 (Y
 * untouched) when it does not take n tokens or memory ran out.
 * Every kernel of a type gives each (row, token) the bits of the others and of the scalar twin. */
struct kmat;
typedef void (*kq_rows_fn)(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y);
typedef void (*kq_gemv_fn)(const struct kmat *W, const void *arow, float *y, int64_t r0, int64_t r1);
typedef int (*kq_gemm_fn)(const struct kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1);
/* A many-token kernel's activations packed once per input and read by every product over it and by
 * every thread (dispatch.c's kact), where each call of a gemm packs its own copy (per thread, per
 * matrix): pack writes the tiles of tokens [t0, t1) of n (t0 a multiple of tile; t1 one too, or n;
 * padding tokens of the last tile zero) into P, which holds bytes(n, K); gemm_p is the gemm over
 * them, the same bits. */
typedef struct kq_pack {
    int tile;
    size_t (*bytes)(int n, int64_t K);
    void (*pack)(const void *A, size_t arow_bytes, int n, int t0, int t1, int64_t K, void *P);
    /* the same tiles quantized straight from the n float rows of X (K values each): the bytes of
     * pack over the rows of kq_act_quant_row, without the int8 rows (a kact packs this way) */
    void (*pack_x)(const float *X, int n, int t0, int t1, int64_t K, void *P);
} kq_pack;
typedef int (*kq_gemm_p_fn)(const struct kmat *W, const void *P, int n, float *Y, int64_t r0, int64_t r1);
/* The many-token integer GEMMs take KQ_GEMM_MIN_TOKENS tokens or more and return 0 for fewer (the
 * one-token kernels are faster there, with the same bits). */
#define KQ_GEMM_MIN_TOKENS 8
/* gp over this call's own packing (pk) of the n rows of A: the gemm of a caller without a packed
 * input (k_qmatmul_rows, a row-major matrix); 0 for fewer than KQ_GEMM_MIN_TOKENS (before packing
 * anything: a decode step passes here for every matrix) or when memory ran out (the caller then
 * runs the one-token kernel, the same bits) */
int kq_gemm_own_packing(const kq_pack *pk, kq_gemm_p_fn gp, const struct kmat *W, const void *A, size_t arow_bytes, int n,
                        float *Y, int64_t r0, int64_t r1);

/* Scalar dot kernels (the references). */
float kq_dot_q8_0_scalar(const void *wrow, const void *arow, int64_t n);
float kq_dot_q4_scalar(const void *wrow, const void *arow, int64_t n);

/* AVX-512 VNNI kernels: `nr` weight rows (row stride wstride bytes) x 1 activation row, results to
 * y[0..nr). Same arithmetic as the scalar twins (integer sums are exact; float sums differ only in
 * order). Defined only on x86-64; dispatch checks the CPU first. */
void kq_dot_q8_0_avx512(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y);
/* the same for nt <= 4 tokens (activation rows arow_bytes apart, results y[t * ldy + r]); each
 * token's results are bit-identical to the single-token kernel's */
void kq_dot_q8_0_avx512_nt(const uint8_t *w, size_t wstride, int nr, const void *A, size_t arow_bytes, int nt,
                           int64_t n, float *y, size_t ldy);
/* whether this build has the AVX-VNNI flavour's kernels (quant_ggml_gemm256.c; gcc 11, clang 12) */
int kq_avx2_vnni_compiled(void);

#endif
