/* attn_q.h - attention scores over block-quantized KV caches (Q8_0, Q4_0) as integer dot products.
 *
 * The score of a query row q against a cached key row is defined, for every kernel, as
 *     x = q * scale (float32, element by element)
 *     per block b of 32: dq_b = amax_b / 127, iq = rint(x * (127 / amax_b))   (the A8_0 activation
 *                        format of kq_act_quant_row; iq = 0 where amax_b = 0)
 *     I_b = sum_i iq_i * k_i       (exact in int32; Q8_0: k_i the stored int8, Q4_0: nibble - 8)
 *     t_b = (dq_b * dk_b) * (float)I_b,   s = t_0, then s = s + t_b for b = 1, 2, ... in order
 * with one float rounding per operation and no contraction. The integer sums may be taken in any
 * order (they are exact), so the scalar twin, the AVX2 kernel and every AVX-512 kernel give a score
 * the same bits, and prefill and decode (lanes over rows or over positions) agree. The price is the
 * query's own rounding (one 8-bit step per block, as llama.cpp's quantized caches round it); the
 * gain is that a score reads 4 cached bytes per vpdpbusd instead of one widened float per FMA:
 * widening and the transposes had made attention over quantized caches slower than over F16
 * (bench/attn.sh). Test: tests/unit/test_kernels.c (a reference written from this definition). */
#ifndef QWEN3_KERNELS_ATTN_Q_H
#define QWEN3_KERNELS_ATTN_Q_H

#include <stddef.h>
#include <stdint.h>

#include "qwen3.h"

#define KQQ_MAXD 256 /* head_dim a quantized cache takes (model.c refuses more) */

/* one query row, quantized */
typedef struct kqquery {
    int8_t q[KQQ_MAXD];
    float d[KQQ_MAXD / 32];
    int32_t bias[KQQ_MAXD / 32]; /* the integer sums' offset: Q8_0 keys are read as unsigned bytes
                                  * k + 128, so 128 * sum iq; Q4_0 as nibbles k + 8, so 8 * sum iq */
} kqquery;

/* up to 16 query rows transposed for kernels with a lane per row: lane r holds row r */
typedef struct kqtile {
    int32_t q[KQQ_MAXD / 4][16] __attribute__((aligned(64))); /* [dword of the row][row]: 4 int8 */
    float d[KQQ_MAXD / 32][16] __attribute__((aligned(64)));
    int32_t bias[KQQ_MAXD / 32][16] __attribute__((aligned(64)));
} kqtile;

/* q (D values, D a multiple of 32, <= KQQ_MAXD) times scale, quantized */
void kqq_make(kqquery *qq, const float *q, float scale, int D, qwen3_dtype kv);
/* rows qq[0..M) into lanes 0..M-1 of a tile; lanes M..15 repeat row 0 */
void kqq_tile(kqtile *t, const kqquery *qq, int M, int D);
/* the score of one cached key row (the definition above, scalar) */
float kqq_score(const kqquery *qq, qwen3_dtype kv, const uint8_t *krow, int D);

/* Whether a cache type's scores are these integer ones. */
static inline int kqq_takes(qwen3_dtype kv) { return kv == QWEN3_Q8_0 || kv == QWEN3_Q4_0; }

/* Lanes over positions: s[r * 16 + j] = score of row r (r < M <= 16) at key row j of kb (rows rb
 * bytes apart; j < nb, the rest 0). Lanes over rows: s[j * 16 + r] = score of tile lane r (r < L,
 * L = 8 or 16) at key row j (j < nb, the rest 0), from the tile t (the VNNI kernel) or the rows
 * qq[0..M) (the generic twin; lanes r >= M take row 0, as the tile's). vnni: the CPU has AVX-512
 * VNNI (the caller's kernel table says so), else the generic twins run; the same bits either way. */
void kqq_scores_keys(float *s, const kqquery *qq, int M, qwen3_dtype kv, const uint8_t *kb, size_t rb, int nb, int D,
                     int vnni);
void kqq_scores_rows(float *s, const kqtile *t, const kqquery *qq, int M, int L, qwen3_dtype kv, const uint8_t *kb,
                     size_t rb, int nb, int D, int vnni);

#endif
