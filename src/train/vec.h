/* vec.h - the short vector operations of the attention steps (over one head's D values), per ISA:
 * dot products and y += a*x. tv_pick(isa) returns the set for an instruction set (the caller's
 * choice: the training model's kernel table's isa, tmodel's cpu); the scalar set is the reference the others are tested against (tests/unit/test_train.c). */
#ifndef QWEN3_TRAIN_VEC_H
#define QWEN3_TRAIN_VEC_H

#include "kernels/kernels.h"

typedef struct tvec_ops {
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
} tvec_ops;

extern const tvec_ops tv_scalar, tv_avx512;
const tvec_ops *tv_pick(k_isa isa);

#endif
