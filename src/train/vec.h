/* vec.h - the short vector operations of the attention steps (over one head's D values), per ISA:
 * dot products and y += a*x. tv_pick() returns the set for the active ISA (kernels/dispatch.c's
 * choice); the scalar set is the reference the others are tested against (tests/unit/test_train.c). */
#ifndef QWEN3_TRAIN_VEC_H
#define QWEN3_TRAIN_VEC_H

typedef struct tvec_ops {
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
} tvec_ops;

extern const tvec_ops tv_scalar, tv_avx512;
const tvec_ops *tv_pick(void);

#endif
