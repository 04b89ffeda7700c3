/* kernels.h - the arithmetic. Kernels know nothing of models: they see typed matrices and float
 * activations.
 *
 * A weight matrix is row-major with `rows` output features of `cols` inputs each (the layout of a
 * PyTorch nn.Linear weight, so safetensors data is used in place). k_matmul computes
 *     Y[t][r] = sum_c W[r][c] * X[t][c]     for t < n, r < rows
 * with X of n rows of `cols` floats and Y of n rows of `rows` floats. n == 1 is the decode case
 * (matrix-vector), larger n the prefill case (tiled matrix-matrix). Work is split over the pool's
 * threads by output rows, so results do not depend on the thread count.
 *
 * Each weight type has a scalar reference kernel (kernels/matmul_scalar.c) and SIMD kernels per
 * instruction set; k_init() picks the best the CPU supports once, k_force_isa() lets tests compare. */
#ifndef QWEN3_KERNELS_H
#define QWEN3_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/pool.h"
#include "qwen3.h"

typedef struct kmat {
    qwen3_dtype type;
    const void *data;   /* rows * row_bytes bytes */
    int64_t rows, cols;
    size_t row_bytes;
} kmat;

typedef enum { K_ISA_SCALAR = 0, K_ISA_AVX2 = 1, K_ISA_AVX512 = 2 } k_isa;

void k_init(void);
k_isa k_active_isa(void);
const char *k_isa_name(k_isa i);
/* Forces an ISA (clamped to what the CPU supports); returns the one in force. For tests/benchmarks. */
k_isa k_force_isa(k_isa i);

/* Bytes of one row of `cols` values of type t (cols must be a multiple of the type's block size). */
size_t k_row_bytes(qwen3_dtype t, int64_t cols);
/* Block size of the type (1 for float types). */
int k_block_size(qwen3_dtype t);

void k_matmul(qpool *p, const kmat *W, const float *X, int n, float *Y);

/* The row range [r0, r1) of k_matmul for tokens [0, n) with one ISA; used by the dispatcher. */
void k_matmul_rows_scalar(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1);
void k_matmul_rows_avx512(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1);

/* Row i of W as floats (any type); for embeddings lookups and tests. */
void k_row_to_float(const kmat *W, int64_t i, float *out);

/* ---- element-wise and row ops (kernels/ops.c) ---- */
/* out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], statistics in float32 as transformers' RMSNorm. */
void k_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* out = silu(g) * u, element-wise */
void k_silu_mul(float *out, const float *g, const float *u, int n);
/* In place softmax over n values (max-subtracted, float32). */
void k_softmax(float *x, int n);
/* Rotate-half RoPE in place on one head vector of dim d: x' = x*cos + rotate_half(x)*sin, with
 * cos/sin tables of d/2 entries (already scaled by the attention factor). */
void k_rope(float *x, const float *cos, const float *sin, int d);

/* float16 / bfloat16 conversions (round to nearest even). */
float k_f16_to_f32(uint16_t h);
uint16_t k_f32_to_f16(float f);
float k_bf16_to_f32(uint16_t h);
uint16_t k_f32_to_bf16(float f);

#endif
