/* quant_ggml_pack.h - activations packed for the lane-per-token kernels of GGUF's types
 * (quant_ggml_gemm256.c; quant_ggml_gemm512.c's 32-value blocks): 16 tokens side by side per
 * superblock (A8_K) or 32-block (A8_0), [4-byte group g][token], so one 512-bit load (or two
 * 256-bit ones) gives the tokens' bytes of group g, with each token's scale and its sums of x.
 * Plain C, private to those files. */
#ifndef QWEN3_KERNELS_QUANT_GGML_PACK_H
#define QWEN3_KERNELS_QUANT_GGML_PACK_H

#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"

static inline int32_t pair16(int a, int b) { return (int32_t)((uint32_t)(uint16_t)a | (uint32_t)(uint16_t)b << 16); }

/* a superblock's sums of x as int16 pairs: per 16 values (s16[p]: sums 2p, 2p + 1, made from its
 * 256 values x) and per 32 (s32[p], from A8_K's own per-32 sums bs) */
static inline void sb_pairs(const int8_t *x, const int16_t *bs, int32_t s16[8], int32_t s32[4]) {
    int h[16];
    for (int j = 0; j < 16; j++) {
        h[j] = 0;
        for (int i = 0; i < 16; i++) h[j] += x[16 * j + i];
    }
    for (int p = 0; p < 8; p++) s16[p] = pair16(h[2 * p], h[2 * p + 1]);
    for (int p = 0; p < 4; p++) s32[p] = pair16(bs[2 * p], bs[2 * p + 1]);
}

/* 16 tokens of one superblock: q[g][t] the 4 bytes of group g, d[t], and as int16 pairs the sums of
 * x per 16 values (s16[p]: sums 2p, 2p + 1) and per 32 (s32[p]: sums 2p, 2p + 1) */
typedef struct { int8_t q[64][16][4]; float d[16]; int32_t s16[8][16]; int32_t s32[4][16]; } kpk;

static inline void pack_k(const void *A, size_t arow_bytes, int t0, int cnt, int64_t K, kpk *out) {
    const int64_t nsb = K / 256;
    memset(out, 0, sizeof(kpk) * (size_t)nsb);
    for (int t = 0; t < cnt; t++) {
        void *arow = (uint8_t *)A + (size_t)(t0 + t) * arow_bytes;
        const int8_t *q = kq_act_q(arow);
        const float *d = kq_act_d(arow, K);
        const int16_t *bs = kq_act_bsum(arow, K);
        for (int64_t sb = 0; sb < nsb; sb++) {
            kpk *o = out + sb;
            const int8_t *x = q + 256 * sb;
            for (int g = 0; g < 64; g++) memcpy(o->q[g][t], x + 4 * g, 4);
            o->d[t] = d[sb];
            int32_t s16[8], s32[4];
            sb_pairs(x, bs + 8 * sb, s16, s32);
            for (int p = 0; p < 8; p++) o->s16[p][t] = s16[p];
            for (int p = 0; p < 4; p++) o->s32[p][t] = s32[p];
        }
    }
}

/* 16 tokens of one block: q[g][t] the 4 bytes of group g, d[t], sx[t] = sum of x */
typedef struct { int8_t q[8][16][4]; float d[16]; int32_t sx[16]; } kp32;

static inline void pack_32(const void *A, size_t arow_bytes, int t0, int cnt, int64_t K, kp32 *out) {
    const int64_t nb = K / 32;
    memset(out, 0, sizeof(kp32) * (size_t)nb);
    for (int t = 0; t < cnt; t++) {
        void *arow = (uint8_t *)A + (size_t)(t0 + t) * arow_bytes;
        const int8_t *q = kq_act_q(arow);
        const float *d = kq_act_d(arow, K);
        for (int64_t b = 0; b < nb; b++) {
            int32_t sx = 0;
            for (int g = 0; g < 8; g++) memcpy(out[b].q[g][t], q + 32 * b + 4 * g, 4);
            for (int i = 0; i < 32; i++) sx += q[32 * b + i];
            out[b].d[t] = d[b];
            out[b].sx[t] = sx;
        }
    }
}

#endif
