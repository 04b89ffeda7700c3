/* vec.h - the vector operations of the training steps, per ISA: the attention's dot products and
 * y += a*x over one head's D values, and the softmax statistics of a teacher's logit row over the
 * whole vocabulary (distillation: train/distill.c). tv_pick(isa) returns the set for an instruction set (the caller's
 * choice: the training model's kernel table's isa, tmodel's cpu); the scalar set is the reference the others are tested against (tests/unit/test_train.c). */
#ifndef QWEN3_TRAIN_VEC_H
#define QWEN3_TRAIN_VEC_H

#include "kernels/kernels.h"

/* The sums of one softmax row: with e_i = exp(z_i - m), s = sum e_i, sez = sum e_i (z_i - m), and over
 * the ids with mask[i] != 0 (none when mask is NULL): su = sum e_i, sumz = sum z_i, nu their count. */
typedef struct tv_smx { double s, sez, su, sumz; long nu; } tv_smx;

typedef struct tvec_ops {
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
    float (*max)(const float *z, int n); /* -INFINITY for n = 0 */
    /* m is the row's max (or any value >= it): every exponent is <= 0. The scalar twin works in
     * double; the AVX-512 one takes float exponentials (about 1 ulp, kernels/vexp.h) and sums in
     * float over blocks of 256 ids, each block added in double. */
    void (*softmax_stats)(const float *z, int n, float m, const unsigned char *mask, tv_smx *out);
} tvec_ops;

extern const tvec_ops tv_scalar, tv_avx512;
const tvec_ops *tv_pick(k_isa isa);

#endif
