/* gemm.h - the per-ISA kernels behind train.h's t_matmul_backward_input / _weight. Each computes a
 * slice of the product: columns [i0, i1) of dX (input grad) or rows [o0, o1) of dW (weight grad),
 * accumulating (+=). The AVX-512 and AVX2 ones fall back to the scalar twin when the compiler or
 * the CPU lacks the instructions (the dispatcher only calls them when its kernel table's isa allows). */
#ifndef QWEN3_TRAIN_GEMM_H
#define QWEN3_TRAIN_GEMM_H

void tg_bwd_input_scalar(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1);
void tg_bwd_input_avx512(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1);
void tg_bwd_input_avx2(float *dX, const float *dY, const float *W, int n, int in, int out, int i0, int i1);
void tg_bwd_weight_scalar(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1);
void tg_bwd_weight_avx512(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1);
void tg_bwd_weight_avx2(float *dW, const float *dY, const float *X, int n, int in, int out, int o0, int o1);

#endif
