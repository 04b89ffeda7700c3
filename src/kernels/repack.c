/* repack.c - weights interleaved by rows for the one-token kernels.
 *
 * Why: a decode step multiplies each weight matrix by one token, so its speed is the speed at which
 * one core streams the matrix. Row-major Q8_0 makes the kernel work per block of every row: a
 * 32-byte dot in 8 lanes that must be summed across the vector before the block's scale applies
 * (the scalar twin rounds once per block), and the 8 rows' scales gathered from 8 places. That work
 * held one core at about 29 GB/s with the weights in cache and 20 GB/s from memory, below the 31
 * GB/s it reads (bench/qkernels.sh). Stored as groups of 16 rows with each 4-byte piece of a block
 * laid row after row, one vpdpbusd takes the same piece of 16 rows against one broadcast piece of
 * the activations, each row's sum stays in its own lane, and the group's 16 scales are one load:
 * 3x less work per byte, so the kernel runs at the speed of memory. llama.cpp repacks Q4_0 and
 * others the same way for its AVX2 / ARM kernels (its "CPU_REPACK" buffers).
 *
 * The layout of a Q8_0 matrix, for each group R of 16 rows (544 * nb bytes from byte R * 544 * nb,
 * nb = K / 32 blocks per row) and block b, at D = k_q8il_d(b) and P = k_q8il_q(b, nb) of the group
 * (kernels.h: blocks in pairs, so that each 64-byte piece is a cache line):
 *     [D, D + 32)               the f16 scales d of rows 16R .. 16R + 15
 *     [P + 64 g + 4 i, + 4)     quants 4g .. 4g + 3 of row 16R + i's block b, each + 128 (as
 *                               unsigned bytes: the operand vpdpbusd takes unsigned), g = 0 .. 7
 * The same bytes as the row-major matrix, rearranged: a model's memory does not grow.
 *
 * BF16 (16 rows, columns in whole steps of 32), pairs in lanes: for each group R of 16 rows and column
 * pair p (K / 2 pairs per row), at 32-bit word (R * K / 2 + p) * 16 + i:
 *     columns 2p, 2p + 1 of row 16R + i (the lower-addressed bf16 first), i = 0 .. 15
 * so a pair of the 16 rows is one aligned 64-byte vector with row i in lane i: the bf16 dot kernels
 * (dot_bf16.c) keep each row's sum in its own lane against the token's pair broadcast, one stream
 * of 64 bytes a step per group when decoding, and a prefill tile of 32 rows reads two lines a step.
 * (It was 4 rows with 32-column steps side by side, for kernels that summed 16 lanes of a row and
 * reduced them.)
 *
 * Q4_K (16 rows, K <= 32,768), words in lanes: for each group R of 16 rows and superblock sb, at byte
 * (R * K / 256 + sb) * 2304:
 *     [64 k + 4 i, + 4)         32-bit word k (k = 0 .. 35) of row 16R + i's 144-byte superblock sb
 * so word k of the 16 rows is one aligned 64-byte vector with row i in lane i: d and dmin (word 0),
 * the 12 packed scale bytes (words 1-3), then the 128 bytes of nibbles (words 4-35). Both kernels
 * want the rows in the lanes (a SIMD lane per weight row, the token's 4 bytes broadcast): the
 * many-token one (quant_ggml_gemm512.c) had put them there itself for every 16 rows and superblock,
 * with 40 loads across cache lines and 2.5 16 x 16 transpositions, ~53 ns of a ~850 ns step of 32
 * rows x 32 tokens (a MoE expert's); from this layout the same unpacking is 36 loads, ~23 ns.
 * The one-token kernel (quant_ggml_gemv512.c) then needs no horizontal sums at all.
 *
 * Q6_K (16 rows, K <= 32,768), the same with 210-byte superblocks, at byte (R * K / 256 + sb) * 3360:
 *     [64 k + 4 i, + 4)         word k (k = 0 .. 51) of row 16R + i's superblock sb: ql (words
 *                               0-31), qh (32-47), the 16 int8 scales (48-51)
 *     [3328 + 2 i, + 2)         row 16R + i's d (f16)
 * The many-token kernel unpacked Q6_K by three 16 x 16 transpositions and a tail per 16 rows and
 * superblock; from this layout it loads (one thread, 2048 x 768 as a MoE expert's down, medians of 8
 * alternations, AMD EPYC Zen 5, 2026-12-07: 16 / 32 / 64 tokens from memory 308 / 388 / 462 -> 320 /
 * 412 / 480 GOP/s, in cache 374 / 447 / 488 -> 444 / 488 / 539). A step of 3,360 bytes is not a
 * whole number of cache lines, so every other step's loads straddle lines (not tried: a step padded to
 * 53 lines, which grows the memory 1%, or the d kept apart, a second stream).
 *
 * Our Q4 (16 rows, K <= 32,768), the same with its 148-byte superblocks (37 words, 2,368 bytes per
 * step: whole cache lines): its one-token kernel had been the 8-row one below, which streamed 27-33
 * GB/s from memory on one core where the lane-per-row kernel streams 39-43 (bench/qkernels.sh, AMD
 * EPYC Zen 5, 2026-12-07).
 *
 * Q5_K (8 rows, K <= 32,768) and the 32-value block types Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL
 * (8 rows, K <= 65,536): (super)block b of the group's 8 rows side by side, at byte
 * (8 b + i) * block bytes for row i. Their one-token kernel already takes 8 rows per superblock
 * (quant_ggml_gemv512.c); interleaved, those 8 blocks are one stream (1-1.7 KB per step for the
 * K-quants, 144-192 bytes for the others) instead of 8 streams; the many-token kernel reads the same superblocks at other addresses.
 *
 * How many streams: one group is one sequential stream, but one core reads memory faster with two
 * (a plain read loop ~31-35 GB/s on this project's Zen 5; Q8_0's kernel 28.7-35.1 with one stream,
 * 31.5-39.8 with two), so the Q8_0 and BF16 one-token kernels take the first half of a thread's
 * groups in step with the second half, loads of both interleaved within each block (0.6B shape
 * decode: Q8_0 +10%, BF16 +17% on one thread and +27% on two; the 30B-A3B shape's small expert
 * matrices +24-32% on one). The K-quant kernels did not gain from it: paired in step (a loop body
 * twice as large) Q4_K_M decoded 8% slower, groups taken alternately from the two halves 20%
 * slower (their prefetch runs two superblocks ahead within a group); they keep one stream.
 *
 * Pages: a one-token step streams every matrix once, and on 4 KiB pages that stream takes a TLB miss
 * every 64 cache lines, the hardware prefetchers stop at each page's end, and a MoE step's experts
 * are so many jumps to cold pages. One core streaming an interleaved Q8_0 matrix from memory read
 * 31-33 GB/s on 4 KiB pages and 37-44 on 2 MiB ones (Q6_K 35-37 -> 38-39, Q4_K 28-29 -> 30-31; this
 * project's Zen 5), so the weights go where k_alloc_huge puts them: transparent huge pages, asked
 * for with madvise (Debian's default mode is "madvise": nothing is huge unless asked).
 *
 * Types: one entry per weight type in a table; the kernels are in gemm_q8.c, dot_bf16.c and
 * quant_ggml_gemv512.c / quant_ggml_gemm512.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"

typedef struct {
    int rows;                                                         /* rows per group */
    int cols;                                                         /* columns: a multiple of this */
    int64_t max_cols;                                                 /* 0: any */
    /* one group's rows; row i of a group (nb blocks of bb bytes per row) */
    void (*pack)(const uint8_t *src, size_t srb, int64_t nb, size_t bb, uint8_t *group);
    void (*row)(const uint8_t *group, int i, int64_t nb, size_t bb, uint8_t *out);
} il_traits;

/* ---- Q8_0, 16 rows */

enum { Q8_IL = 16 };

/* A piece (4 quants) moves as one 32-bit word, + 128 on each byte by the xor: a byte at a time,
 * the packing was most of a model's load (0.6B Q8_0: ~1.2 of 2 s). Block b's scales and pieces
 * where k_q8il_d / k_q8il_q (kernels.h) put them. */
static void q8_pack(const uint8_t *src, size_t srb, int64_t nb, size_t bb, uint8_t *g) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *gd = g + k_q8il_d(b), *gq = g + k_q8il_q(b, nb);
        for (int i = 0; i < Q8_IL; i++) {
            const uint8_t *blk = src + (size_t)i * srb + (size_t)b * 34;
            memcpy(gd + 2 * i, blk, 2);
            for (int p = 0; p < 8; p++) {
                uint32_t v;
                memcpy(&v, blk + 2 + 4 * p, 4);
                v ^= 0x80808080u;
                memcpy(gq + 64 * p + 4 * i, &v, 4);
            }
        }
    }
}

static void q8_row(const uint8_t *g, int i, int64_t nb, size_t bb, uint8_t *out) {
    for (int64_t b = 0; b < nb; b++, out += 34) {
        const uint8_t *gd = g + k_q8il_d(b), *gq = g + k_q8il_q(b, nb);
        memcpy(out, gd + 2 * i, 2);
        for (int p = 0; p < 8; p++) {
            uint32_t v;
            memcpy(&v, gq + 64 * p + 4 * i, 4);
            v ^= 0x80808080u;
            memcpy(out + 2 + 4 * p, &v, 4);
        }
    }
}

/* ---- BF16, 16 rows, pairs in lanes (nb: the row's elements, BF16 being a type of 1-element blocks) */

enum { B16_IL = 16 };

/* each 64-byte line of the output (pair p of the 16 rows) written whole before the next */
static void b16_pack(const uint8_t *src, size_t srb, int64_t nb, size_t bb, uint8_t *g) {
    for (int64_t p = 0; p < nb / 2; p++, g += 64)
        for (int i = 0; i < B16_IL; i++) memcpy(g + 4 * (size_t)i, src + (size_t)i * srb + 4 * (size_t)p, 4);
}

static void b16_row(const uint8_t *g, int i, int64_t nb, size_t bb, uint8_t *out) {
    for (int64_t p = 0; p < nb / 2; p++, g += 64) memcpy(out + 4 * (size_t)p, g + 4 * (size_t)i, 4);
}

/* ---- whole blocks of 8 rows side by side (Q5_K, the 32-value blocks): block b of the group's rows 0..7 at
 * (8 b + i) bb */

enum { BLK_IL = 8 };

static void blk_pack(const uint8_t *src, size_t srb, int64_t nb, size_t bb, uint8_t *g) {
    for (int64_t b = 0; b < nb; b++)
        for (int i = 0; i < BLK_IL; i++) memcpy(g + ((size_t)b * BLK_IL + (size_t)i) * bb, src + (size_t)i * srb + (size_t)b * bb, bb);
}

static void blk_row(const uint8_t *g, int i, int64_t nb, size_t bb, uint8_t *out) {
    for (int64_t b = 0; b < nb; b++) memcpy(out + (size_t)b * bb, g + ((size_t)b * BLK_IL + (size_t)i) * bb, bb);
}

/* ---- Q4_K, Q6_K and our Q4, 16 rows, words in lanes (nb superblocks of bb bytes per row: 144, 210, 148) */

enum { T16_IL = 16 };

/* word k (k < bb / 4) of row i at 64 k + 4 i of the group's step; Q6_K's last bb % 4 = 2 bytes (its
 * d) at 64 (bb / 4) + 2 i, so the step is the 16 blocks' bytes exactly */
static void t16_pack(const uint8_t *src, size_t srb, int64_t nb, size_t bb, uint8_t *g) {
    const size_t nw = bb / 4, tb = bb % 4;
    /* each 64-byte line of the output (word k of the 16 rows) written whole before the next: row by
     * row, 4 bytes to each of 36-52 lines in turn, packed 1.3-1.7x slower (768 x 2048 Q4_K, one
     * thread, Zen 5: 3.6-3.7 -> 4.7-6.2 GB/s) */
    for (int64_t b = 0; b < nb; b++, g += T16_IL * bb) {
        const uint8_t *blk = src + (size_t)b * bb;
        for (size_t k = 0; k < nw; k++)
            for (int i = 0; i < T16_IL; i++) memcpy(g + 64 * k + 4 * (size_t)i, blk + (size_t)i * srb + 4 * k, 4);
        for (int i = 0; i < T16_IL; i++) memcpy(g + 64 * nw + tb * (size_t)i, blk + (size_t)i * srb + 4 * nw, tb);
    }
}

static void t16_row(const uint8_t *g, int i, int64_t nb, size_t bb, uint8_t *out) {
    const size_t nw = bb / 4, tb = bb % 4;
    for (int64_t b = 0; b < nb; b++, g += T16_IL * bb, out += bb) {
        for (size_t k = 0; k < nw; k++) memcpy(out + 4 * k, g + 64 * k + 4 * (size_t)i, 4);
        memcpy(out + 4 * nw, g + 64 * nw + tb * (size_t)i, tb);
    }
}

/* the K-quants' one-token kernel keeps the token on the stack up to 32,768 columns; longer rows take
 * the 4-row kernel, which reads rows (quant_ggml_gemv512.c) */
#define KQ_MAX_COLS 32768
#define B32_MAX_COLS 65536 /* the same for the 32-value block types (their sums of x on the stack) */

static const il_traits il_table[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q8_0] = {Q8_IL, 32, 0, q8_pack, q8_row},
    [QWEN3_BF16] = {B16_IL, 32, 0, b16_pack, b16_row},
    [QWEN3_Q4] = {T16_IL, 256, KQ_MAX_COLS, t16_pack, t16_row},
    [QWEN3_Q4_K] = {T16_IL, 256, KQ_MAX_COLS, t16_pack, t16_row},
    [QWEN3_Q5_K] = {BLK_IL, 256, KQ_MAX_COLS, blk_pack, blk_row},
    [QWEN3_Q6_K] = {T16_IL, 256, KQ_MAX_COLS, t16_pack, t16_row},
    [QWEN3_Q4_0] = {BLK_IL, 32, B32_MAX_COLS, blk_pack, blk_row},
    [QWEN3_Q4_1] = {BLK_IL, 32, B32_MAX_COLS, blk_pack, blk_row},
    [QWEN3_Q5_0] = {BLK_IL, 32, B32_MAX_COLS, blk_pack, blk_row},
    [QWEN3_Q5_1] = {BLK_IL, 32, B32_MAX_COLS, blk_pack, blk_row},
    [QWEN3_IQ4_NL] = {BLK_IL, 32, B32_MAX_COLS, blk_pack, blk_row},
};

int k_il_rows(qwen3_dtype t) { return (unsigned)t < QWEN3_DTYPE_COUNT ? il_table[t].rows : 0; }

int k_il_fits(qwen3_dtype t, int64_t rows, int64_t cols) {
    int il = k_il_rows(t);
    return il && rows % il == 0 && cols % il_table[t].cols == 0 && (!il_table[t].max_cols || cols <= il_table[t].max_cols) ? il : 0;
}

void k_il_pack(qwen3_dtype t, const void *src, size_t src_row_bytes, int64_t rows, int64_t cols, void *dst) {
    const il_traits *tr = &il_table[t];
    const kq_traits *q = kq_type(t);
    int64_t nb = cols / q->block;
    size_t group = (size_t)tr->rows * k_row_bytes(t, cols);
    for (int64_t r = 0; r + tr->rows <= rows; r += tr->rows)
        tr->pack((const uint8_t *)src + (size_t)r * src_row_bytes, src_row_bytes, nb, q->block_bytes, (uint8_t *)dst + (size_t)(r / tr->rows) * group);
}

void k_il_row(const kmat *W, int64_t i, void *row) {
    if (!W->il) {
        memcpy(row, (const uint8_t *)W->data + (size_t)i * W->row_bytes, W->row_bytes);
        return;
    }
    const il_traits *tr = &il_table[W->type];
    int64_t nb = W->cols / kq_type(W->type)->block;
    tr->row((const uint8_t *)W->data + (size_t)(i / W->il) * (size_t)W->il * W->row_bytes, (int)(i % W->il), nb, kq_type(W->type)->block_bytes, row);
}

/* Whole huge pages: the advice covers the last, partly used one too, which the allocation owns (a
 * range advised up to `bytes` rounded down had left that part on 4 KiB pages: a 3.1 MiB BF16 expert
 * of the 30B-A3B shape had 1.1 MiB of every copy there, a third of the model's weights). */
void *k_alloc_huge(size_t bytes) {
    void *buf = NULL;
    size_t whole = (bytes + K_HUGE_PAGE - 1) & ~(K_HUGE_PAGE - 1);
    if (whole < bytes || posix_memalign(&buf, K_HUGE_PAGE, whole ? whole : 1)) return NULL;
    (void)madvise(buf, whole, MADV_HUGEPAGE); /* advice only: 4 KiB pages if refused */
    return buf;
}
