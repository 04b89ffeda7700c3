/* attn.h - the vector causal attention of training (attn_avx512.c) behind layers.c's
 * t_attention_forward / _backward, whose scalar loops are its twin. */
#ifndef QWEN3_TRAIN_ATTN_H
#define QWEN3_TRAIN_ATTN_H

typedef struct {
    float *out, *lse, *dq, *dk, *dv;
    const float *q, *k, *v, *dout, *o;
    int B, T, nh, nkv, D;
} t_attn_args;

/* whether the AVX-512 kernels take head dimension D (64, 128) */
int t_attn_avx512_ok(int D);
/* forward over (sequence, head) pairs [x0, x1); backward over (sequence, kv head) pairs [x0, x1).
 * 0, or -1 when scratch memory could not be had (the caller then runs the scalar twin). */
int t_attn_forward_avx512(const t_attn_args *a, long x0, long x1);
int t_attn_backward_avx512(const t_attn_args *a, long x0, long x1);

#endif
