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
 * Paths (dispatch.c): float32 activations times F32/F16/BF16 weights widened exactly (the reference
 * path, and F32/F16 weights on the fast path); int8 activations times Q8_0/Q4 weights with integer
 * dot products; bf16-rounded activations times BF16 weights with vdpbf16ps in one order for any n
 * (BF16 on the fast path); bf16 x bf16 GEMM with float32 sums for products over many tokens
 * (the batch-variant option's prefill) of BF16, Q8_0 and Q4 weights, unless exact mode is asked for. Each has a scalar
 * twin. Which kernel runs is read from a kernel table (kcpu, below): one entry per weight type with
 * that type's kernels for one set of CPU features, filled once (kcpu_init) and passed in with the
 * activations (kact), so no process-wide setting picks kernels at run time; a test compares flavours
 * by filling one table per flavour. Block types and their facts: kernels/quant.h. */
#ifndef QWEN3_KERNELS_H
#define QWEN3_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/pool.h"
#include "kernels/quant.h"
#include "qwen3.h"

typedef struct kmat {
    qwen3_dtype type;
    const void *data;   /* rows * row_bytes bytes */
    int64_t rows, cols;
    size_t row_bytes;
    int il;             /* 0: row-major. Else the rows are interleaved in groups of il (repack.c,
                         * k_il_pack): the same bytes in the order the one-token kernels stream */
} kmat;

typedef enum { K_ISA_SCALAR = 0, K_ISA_AVX2 = 1, K_ISA_AVX512 = 2 } k_isa;
const char *k_isa_name(k_isa i);

/* CPU features the kernels use, as bits. K_CPU_AVX2: AVX2 + FMA + F16C; K_CPU_AVXVNNI: 256-bit
 * vpdpbusd (the CPU's and the compiler's); K_CPU_AVX512: AVX-512 F/BW/VL/DQ; K_CPU_VNNI:
 * AVX512_VNNI; K_CPU_BF16: AVX512_BF16. The last two count only with K_CPU_AVX512. */
enum { K_CPU_AVX2 = 1, K_CPU_AVXVNNI = 2, K_CPU_AVX512 = 4, K_CPU_VNNI = 8, K_CPU_BF16 = 16 };
#define K_CPU_ALL 31u
/* This CPU's features (detected on the first call, the same answer ever after). */
unsigned k_cpu_features(void);
/* The same capped by the environment variable QWEN3_ISA=scalar|avx2|avx512 (for the whole engine:
 * comparisons, benchmarks, reproducing a user's machine; other values are ignored). */
unsigned k_cpu_env_features(void);

/* The kernels of one weight type for one set of CPU features (one entry of a kcpu table).
 * Paths (dispatch.c): K_PATH_F32 float32 activations; K_PATH_INT activations quantized to the type's
 * int8 format (tr->act); K_PATH_B16 activations rounded to bf16 (BF16 weights with AVX512_BF16). */
typedef enum { K_PATH_F32 = 0, K_PATH_INT = 1, K_PATH_B16 = 2 } k_path;
/* rows [r0, r1) of W times n tokens: float32 X (n rows of W->cols), Y[t * W->rows + r] */
typedef void (*k_f32_fn)(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1);
/* the same with bf16 activation rows (k_x_to_bf16_rows) */
typedef void (*k_b16_fn)(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1);
/* the bf16 GEMM: packed activations (k_pack_x_bf16) and a scratch of k_gemm_bf16_scratch bytes */
typedef void (*k_gemm16_fn)(const kmat *W, const uint32_t *Xp, int n, float *Y, int64_t r0, int64_t r1, void *scratch);
typedef struct ktype {
    const kq_traits *tr;  /* the type's facts: name, block, bytes, scalar to_float / from_float / dot */
    k_path path;          /* the fast path's activations (exact mode: float types take K_PATH_F32) */
    k_f32_fn f32;         /* float32 activations: every type (quantized ones only when memory for
                           * their int8 activations is lacking) */
    kq_rows_fn rows;      /* K_PATH_INT: nr <= 4 rows x one token; every quantized type */
    kq_gemv_fn gemv;      /* K_PATH_INT: rows [r0, r1) x one token, faster than rows; or NULL */
    kq_gemm_fn gemm;      /* K_PATH_INT: rows [r0, r1) x n tokens; or NULL. Returns 0 when it does not
                           * take n (too few tokens) or memory ran out: the caller then runs gemv or
                           * rows per token, with the same bits */
    /* K_PATH_INT on a matrix interleaved by k_il_pack (W->il): rows [r0, r1), multiples of W->il,
     * x one / n tokens, with the bits of gemv / gemm; NULL where the type has no interleaved
     * kernels (the model then keeps its rows) */
    kq_gemv_fn gemv_il;
    kq_gemm_fn gemm_il;
    /* the same over activations packed once per input by pk_il (kq_pack): the products of one input
     * and all threads share one packing; NULL where gemm_il packs its own */
    const kq_pack *pk_il;
    kq_gemm_p_fn gemm_il_p;
    k_b16_fn b16;         /* K_PATH_B16 */
    k_b16_fn b16_il;      /* K_PATH_B16 on a matrix interleaved by k_il_pack; NULL where the model keeps
                           * BF16 rows */
    k_gemm16_fn gemm16;   /* the bf16 GEMM over many tokens (batch-variant prefill of BF16 and
                           * quantized weights); NULL without AVX512_BF16 */
} ktype;

/* A kernel table: the entries of every weight type for one set of features, and the activation
 * conversions of those features. Filled once (a model owns its own: model.h), read-only after. */
typedef struct kcpu {
    unsigned features;    /* K_CPU_* in use */
    k_isa isa;            /* the float kernels' instruction set */
    void (*act_quant)(kact_type t, const float *x, void *row, int64_t n); /* kq_act_quant_row's bytes */
    void (*to_b16)(const float *X, int64_t K, uint16_t *Xb, int t0, int t1); /* k_x_to_bf16_rows' bits */
    ktype type[QWEN3_DTYPE_COUNT];
} kcpu;
/* Fills c for the features in `features` that this CPU has (others dropped, and VNNI / BF16 without
 * AVX-512, AVX-VNNI without AVX2). kcpu_init(c, 0) is the scalar twins' table. */
void kcpu_init(kcpu *c, unsigned features);
/* The table for k_cpu_env_features(), filled on first use and never changed: only for callers that
 * have no model and no table of their own (tests and benchmarks measuring this machine's kernels).
 * The engine's numeric paths take the table of their model (inference: model.h's cpu; training:
 * tmodel's cpu); the machine's peaks (peak.c) read the CPU's features, not a table. */
const kcpu *k_cpu_default(void);
/* "avx512 (vnni, bf16)", "avx2 (avx-vnni)", "scalar", ... */
const char *kcpu_name(const kcpu *c);

/* Bytes of one row of `cols` values of type t (cols must be a multiple of the type's block size). */
size_t k_row_bytes(qwen3_dtype t, int64_t cols);
/* Block size of the type (1 for float types). */
int k_block_size(qwen3_dtype t);

/* Activations of one matrix product, float32 [n][cols], with the derived forms the kernels need
 * (bf16 pairs packed for the GEMM, int8 blocks for the integer dot products), made on first use and
 * re-used by every product over the same activations (q, k and v projections read one input).
 * `exact` selects the float32 kernels for float weights whatever n is (the reference tests' path);
 * otherwise products over >= gemm_min tokens (K_GEMM_MIN_TOKENS unless the caller lowers it) with
 * BF16, Q8_0 or Q4 weights run in bf16. That makes a token's bits depend on how many tokens share
 * its product, so the engine's default (batch-invariant, see forward.c) sets gemm_min to
 * K_GEMM_NEVER: every product of a type then takes one path whatever n is, and each kernel sums a
 * (row, token) the same way for every n. The batch-variant option keeps the switch: MoE experts
 * see few tokens each in prefill (512 tokens x 8 of 128 experts: ~32, many under 16), and even a
 * quarter-filled 16-token tile beats a dot product per token, so it uses K_GEMM_MIN_EXPERT there. */
#define K_GEMM_MIN_TOKENS 16
#define K_GEMM_MIN_EXPERT 4
#define K_GEMM_NEVER 0x7fffffff
typedef struct kact {
    const kcpu *cpu;         /* the kernel table the products read */
    const float *x;
    int n;
    int64_t cols;
    int exact;
    int gemm_min;            /* fewest tokens for the bf16 GEMM (K_GEMM_MIN_TOKENS by default) */
    int have_bf16, have_a8, have_b16; /* which derived forms are current */
    int a8_type;             /* kact_type of the int8 form */
    void *bf16;              /* packed pairs, k_pack_x_bf16 layout */
    size_t bf16_cap;
    void *b16;               /* n rows of cols bf16 values (k_x_to_bf16_rows), for dot_bf16.c */
    size_t b16_cap;
    void *a8;                /* n rows of kq_act_row_bytes */
    size_t a8_cap;
    const kq_pack *a8p_pk;   /* the packing a8p holds (NULL: none current) */
    void *a8p;               /* a8 packed for a many-token kernel (ktype.pk_il) */
    size_t a8p_cap;
    void *scratch;           /* per-thread weight panels */
    size_t scratch_cap;
} kact;

void kact_init(kact *a, const kcpu *cpu, int exact);
void kact_free(kact *a);
/* Points a at new activations (invalidates the derived forms; keeps the buffers). */
void kact_set(kact *a, const float *x, int n, int64_t cols);
/* Points a at n activations given only as int8 rows of format t: returns the buffer (a's own) the
 * caller writes them into, n rows of kq_act_row_bytes(t, cols) bytes, as kq_act_quant_row makes
 * them; NULL without memory. a then has no float rows, so only products whose weights take the
 * integer path with activations of format t may read it (a MoE expert gathering its tokens' rows,
 * quantized once for all the experts a token chose: k_act_a8). */
void *kact_set_a8(kact *a, int n, int64_t cols, kact_type t);
/* a's activations as int8 rows of format t (made once, over the pool's threads, and kept as a's
 * int8 form until the next kact_set), kq_act_row_bytes(t, a->cols) bytes apart; NULL without memory. */
const void *k_act_a8(qpool *p, kact *a, kact_type t);
/* whether a derived form of a's activations (int8 rows, packed tiles, bf16) is current */
static inline int kact_prepared(const kact *a) { return a->have_a8 || a->a8p_pk || a->have_bf16 || a->have_b16; }
/* Y[t][r] for the activations of a; split over the pool's threads by rows. */
void k_matmul_act(qpool *p, const kmat *W, kact *a, float *Y);
/* Makes the derived form of a that a product with W needs (k_matmul_act does it on first use; this
 * lets a profiler time it apart). 0, or -1 without memory (the product then falls back). */
int k_act_prepare(qpool *p, const kmat *W, kact *a);
/* Several products over the same activations in one dispatch to the pool (q, k and v; gate and
 * up): each thread takes its rows of every matrix, so a decode step waits for the threads once
 * instead of once per matrix. Each (row, token) gets the bits k_matmul_act gives it. Matrices
 * whose paths or activation formats differ run one after the other. nw <= K_MULTI_MAX. */
#define K_MULTI_MAX 3
void k_matmul_act_multi(qpool *p, const kmat *const *W, float *const *Y, int nw, kact *a);
/* Inputs of at most this many tokens are prepared by the calling thread (no hand-off). */
#define K_INLINE_TOKENS 4

/* Exact float32 product (a one-off kact with exact set). */
void k_matmul(const kcpu *c, qpool *p, const kmat *W, const float *X, int n, float *Y);

/* The row range [r0, r1) of the float32 product for tokens [0, n) with one ISA. */
void k_matmul_rows_scalar(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1);
void k_matmul_rows_avx512(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1);
void k_matmul_rows_avx2(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1);
/* the SIMD ones by type (F32, F16, BF16; NULL for others and off x86-64), for the kernel table */
extern const k_f32_fn k_matmul_avx512_tab[QWEN3_DTYPE_COUNT];
extern const k_f32_fn k_matmul_avx2_tab[QWEN3_DTYPE_COUNT];

/* The bf16 GEMM (kernels/gemm_bf16.c): X packed in groups of 16 tokens (tokens [16*g0, 16*g1)),
 * rows [r0, r1) with a scratch of k_gemm_bf16_scratch(cols) bytes. K even. */
void k_pack_x_bf16(const float *X, int n, int64_t K, uint32_t *Xp, int g0, int g1);
/* the same bits with AVX-512 (16 tokens x 16 pairs rounded in lanes, then transposed); the GEMM is
 * only chosen where the CPU has AVX512_BF16, so dispatch.c packs with this one */
void k_pack_x_bf16_avx512(const float *X, int n, int64_t K, uint32_t *Xp, int g0, int g1);
size_t k_gemm_bf16_scratch(int64_t K);
size_t k_gemm_bf16_panel_rows(int64_t K);
void k_gemm_bf16_rows_scalar(const kmat *W, const uint32_t *Xp, int n, float *Y, int64_t r0, int64_t r1, void *scratch);
void k_gemm_bf16_rows_avx512(const kmat *W, const uint32_t *Xp, int n, float *Y, int64_t r0, int64_t r1, void *scratch);

/* The bf16 dot products (kernels/dot_bf16.c), the batch-invariant fast path of BF16 weights: X rows
 * [t0, t1) of K values rounded to bf16 (k_x_to_bf16_rows), and for rows [r0, r1) of W (BF16)
 * Y[t][r] summed by vdpbf16ps as one lane's chain over the column pairs in order (16 rows in the 16
 * lanes): the same bits for every n, tile and row split; the scalar twin does the same arithmetic. */
void k_x_to_bf16_rows(const float *X, int64_t K, uint16_t *Xb, int t0, int t1);
void k_x_to_bf16_rows_avx512(const float *X, int64_t K, uint16_t *Xb, int t0, int t1);
float k_dot_bf16_scalar(const uint16_t *w, const uint16_t *x, int64_t K);
void k_dot_bf16_rows_scalar(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1);
void k_dot_bf16_rows_avx512(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1);
/* The same on a matrix interleaved in groups of 16 rows (kernels/repack.c's BF16 layout; rows [r0, r1)
 * multiples of 16, K a multiple of 32) with the bits of the row-major kernels. */
void k_dot_bf16_il_scalar(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1);
void k_dot_bf16_il_avx512(const kmat *W, const uint16_t *Xb, int n, float *Y, int64_t r0, int64_t r1);

/* Q8_0 times A8_0 rows with the scalar twin's arithmetic (kernels/gemm_q8.c, AVX-512 VNNI): nr <= 4
 * rows for one token, and rows [r0, r1) for n tokens (a SIMD lane per token); the same bits for
 * every n. */
void kq_dot_q8_0_avx512_rows(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t K, float *y);
void kq_gemv_q8_0_avx512(const kmat *W, const void *arow, float *y, int64_t r0, int64_t r1);
/* n >= KQ_GEMM_MIN_TOKENS tokens (returns 0 for fewer: the one-token kernel is faster there) */
int kq_gemm_q8_0_avx512(const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1);

/* The same on a matrix interleaved in groups of 16 rows (repack.c's layout; rows [r0, r1) multiples
 * of 16): 16 rows per step in the lanes of one vector, no horizontal sums, the scales of a step in
 * one load. Each (row, token) keeps the scalar twin's bits. */
void kq_gemv_q8_0_il_avx512(const kmat *W, const void *arow, float *y, int64_t r0, int64_t r1);
int kq_gemm_q8_0_il_avx512(const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1);
int kq_gemm_q8_0_il_p_avx512(const kmat *W, const void *P, int n, float *Y, int64_t r0, int64_t r1);
extern const kq_pack kq_pack_q8_0_il;

/* ---- interleaved weights (kernels/repack.c)
 * A matrix whose type has interleaved kernels can be stored with its rows in groups of k_il_rows(t):
 * per group and block, the group's scales together, then its quants in 4-byte pieces row after row
 * (Q8_0: 16 f16 scales, then for each 4-byte group g of the block the 16 rows' bytes, stored + 128,
 * the blocks in pairs (k_q8il_d, k_q8il_q below);
 * BF16: groups of 16 rows, each column pair of the 16 rows as one 64-byte vector),
 * so the one-token kernel reads one stream and sums 16 rows in the lanes of one vector. The bytes
 * and their count are the row-major matrix's, rearranged. */
/* Q8_0's group in pairs of blocks: blocks 2j and 2j + 1 take 1,088 bytes, the 16 scales of 2j then
 * those of 2j + 1 (one 64-byte line), then 2j's 8 pieces of 64 bytes, then 2j + 1's; an odd last
 * block its scales then its pieces. So every piece starts a cache line where the group does (a
 * group is 544 x blocks bytes): in 544-byte steps, scales then pieces, half the blocks had all 8
 * pieces across two lines, and the one-token kernel's loop read 10-19% slower whenever memory
 * delivered over ~40 GB/s to one core (Zen 5, 2026-12-07; equal when it delivered less; docs/speed-log.md,
 * "Q8_0 in pairs of blocks").
 * Byte offsets of block b's scales and pieces in a group of nb blocks: */
static inline size_t k_q8il_d(int64_t b) { return 1088 * (size_t)(b >> 1) + 32 * (size_t)(b & 1); }
static inline size_t k_q8il_q(int64_t b, int64_t nb) {
    return 1088 * (size_t)(b >> 1) + ((b & 1) ? 576 : b + 1 < nb ? 64 : 32);
}
/* Rows per group of type t's interleaved layout; 0 when it has none. */
int k_il_rows(qwen3_dtype t);
/* k_il_rows(t) when a rows x cols matrix of type t can take the layout (whole groups of rows, columns
 * a multiple of the type's step), else 0. */
int k_il_fits(qwen3_dtype t, int64_t rows, int64_t cols);
/* Rearranges rows * cols values of type t, row-major at src (src_row_bytes apart), into dst (rows a
 * multiple of k_il_rows(t); dst holds rows * k_row_bytes(t, cols) bytes; src and dst distinct). */
void k_il_pack(qwen3_dtype t, const void *src, size_t src_row_bytes, int64_t rows, int64_t cols, void *dst);
/* Row i of W in the row-major bytes of its type (row_bytes of them), whatever W's layout. */
void k_il_row(const kmat *W, int64_t i, void *row);
/* K_HUGE_PAGE-aligned memory (free() releases it) asked to sit on 2 MiB pages where the kernel gives
 * them: where weights the one-token kernels stream should live (repack.c says why); NULL when out of
 * memory. */
#define K_HUGE_PAGE ((size_t)2 << 20)
void *k_alloc_huge(size_t bytes);

/* The integer product of quantized rows [r0, r1) with n activation rows already quantized to the
 * type's activation format (arow_bytes apart), with the kernels of one table entry (e = &cpu->type[W->type]):
 * gemm when it takes n, else gemv or rows per token. */
void k_qmatmul_rows(const ktype *e, const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1);

/* Machine limits (kernels/peak.c): read bandwidth in GB/s with `threads` threads over a buffer of
 * `bytes`, and the peak in GFLOP/s (2 per multiply-add) of kind 1 f32 FMA, 2 bf16 vdpbf16ps, 3 int8
 * vpdpbusd on `threads` threads. 0 when the CPU lacks the instructions. */
double k_peak_read_gbps(int threads, size_t bytes); /* the best of 1, 2, 4 streams a thread */
double k_peak_gflops(int kind, int threads);

/* Row i of W as floats (any type); for embeddings lookups and tests. */
void k_row_to_float(const kmat *W, int64_t i, float *out);

/* ---- element-wise and row ops (kernels/ops.c) ---- */
/* out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], statistics in float32 as transformers' RMSNorm (the
 * sum of squares in 16 running sums, folded in a fixed tree). out may be x. */
void k_rmsnorm(const kcpu *cpu, float *out, const float *x, const float *w, int n, float eps);
/* out = silu(g) * u = g / (1 + exp(-g)) * u, element-wise (exp: a polynomial, ~1 ulp). out may be g. */
void k_silu_mul(const kcpu *cpu, float *out, const float *g, const float *u, int n);
/* dst = src w (first) or dst + src w, the product rounded before the sum (ops.c) */
void k_axpy(const kcpu *cpu, float *dst, const float *src, float w, int n, int first);
void k_axpy_scalar(float *dst, const float *src, float w, int n, int first);
void k_axpy_avx512(float *dst, const float *src, float w, int n, int first);
/* dst[0..n) = w[0] src[0] + ... + w[m-1] src[m-1] (m >= 1; first), or dst + those, summed left to
 * right with each product and sum rounded: k_axpy over the sources in order, in one pass (dst not
 * among the sources) */
void k_wsum(const kcpu *cpu, float *dst, const float *const *src, const float *w, int m, int n, int first);
void k_wsum_scalar(float *dst, const float *const *src, const float *w, int m, int n, int first);
void k_wsum_avx512(float *dst, const float *const *src, const float *w, int m, int n, int first);
/* The twins of both, by instruction set: every twin gives the scalar one's bits (test_kernels.c). */
void k_rmsnorm_scalar(float *out, const float *x, const float *w, int n, float eps);
void k_rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps);
void k_rmsnorm_avx512(float *out, const float *x, const float *w, int n, float eps);
void k_silu_mul_scalar(float *out, const float *g, const float *u, int n);
void k_silu_mul_avx2(float *out, const float *g, const float *u, int n);
void k_silu_mul_avx512(float *out, const float *g, const float *u, int n);
/* In place softmax over n values (max-subtracted, float32). */
void k_softmax(float *x, int n);
/* The indices of the k largest of p[0..n) (1 <= k <= n), largest first, the lower index first among
 * equal values: what k passes of "the largest not yet taken, lowest index on ties" give. */
void k_topk(const float *p, int n, int k, int *sel);
/* Attention of one query head over n cached positions (kernels/attn.c): out = softmax(q.K^T * scale) V
 * with K and V rows of D values of type kv (F32, F16, BF16, or Q8_0 with D a multiple of 32), `stride`
 * elements apart (k_kv_row_bytes(kv, stride) bytes). One pass with
 * an online softmax over blocks of positions: memory is a block of scores, whatever n. The kernel
 * table `cpu` picks the instruction set (cpu->isa), as it does for the products: the model passes its
 * own, so a model capped to another flavour attends with that flavour too. */
void k_attn_head(const kcpu *cpu, const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n,
                 int D, float scale, float *out);
void k_attn_head_scalar(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                        float scale, float *out);
/* The AVX2 twin (kernels/attn_avx2.c; D a multiple of 8 up to 256, else it runs the scalar one). */
void k_attn_head_avx2(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                      float scale, float *out);
/* The same with the softmax's log-sum-exp: *lse = log(sum_j exp(q.k_j * scale)) when lse is not
 * NULL, so that attentions over disjoint position ranges merge exactly (Dual Chunk Attention):
 * out = sum_i exp(lse_i - log(sum_i exp(lse_i))) out_i. Same arithmetic as k_attn_head, same bits. */
void k_attn_head_lse(const kcpu *cpu, const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride,
                     int n, int D, float scale, float *out, float *lse);
void k_attn_head_lse_scalar(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                            float scale, float *out, float *lse);
/* many rows over one K/V on AVX2 (attn_avx2.c): each row the bits of k_attn_head_lse_avx2 alone;
 * M <= 64, D a multiple of 8 up to 256, not for Q8_0 / Q4_0 caches */
void k_attn_rows_lse_avx2(const float *const *q, float *const *out, const int *n, int M, const void *K, const void *V,
                          qwen3_dtype kv, size_t stride, int D, float scale, float *lse);
void k_attn_head_lse_avx2(const float *q, const void *K, const void *V, qwen3_dtype kv, size_t stride, int n, int D,
                          float scale, float *out, float *lse);
/* Attention of M <= 64 query rows that read the same K/V (the heads of a GQA group, consecutive
 * tokens of one sequence); row r attends positions [0, n[r]), n[r] >= 1. Up to 4 tiles of 16 rows
 * share one read of each K/V block. The blocked kernel (one
 * widening of each K/V block for all rows, a SIMD lane per row) is several times faster than M
 * k_attn_head calls; a row's result does not depend on the other rows. */
void k_attn_rows(const kcpu *cpu, const float *const *q, float *const *out, const int *n, int M, const void *K,
                 const void *V, qwen3_dtype kv, size_t stride, int D, float scale);
void k_attn_rows_scalar(const float *const *q, float *const *out, const int *n, int M, const void *K, const void *V,
                        qwen3_dtype kv, size_t stride, int D, float scale);
/* The same with each row's log-sum-exp in lse[r] (when lse is not NULL), as k_attn_head_lse. */
void k_attn_rows_lse(const kcpu *cpu, const float *const *q, float *const *out, const int *n, int M, const void *K,
                     const void *V, qwen3_dtype kv, size_t stride, int D, float scale, float *lse);
void k_attn_rows_lse_scalar(const float *const *q, float *const *out, const int *n, int M, const void *K, const void *V,
                            qwen3_dtype kv, size_t stride, int D, float scale, float *lse);
/* Stores D floats as type kv (F32, F16, BF16, or Q8_0 blocks of 32 when D is a multiple of 32); cpu picks
 * the F16 conversion's instruction set (the bits are the same for all). */
void k_store_row(const kcpu *cpu, qwen3_dtype kv, void *dst, const float *src, int D);
/* Bytes of n cached values of type kv (Q8_0: n a multiple of 32, 34 bytes per 32). */
size_t k_kv_row_bytes(qwen3_dtype kv, size_t n);
/* Rotate-half RoPE in place on one head vector of dim d: x' = x*cos + rotate_half(x)*sin, with
 * cos/sin tables of d/2 entries (already scaled by the attention factor). */
void k_rope(const kcpu *cpu, float *x, const float *cos, const float *sin, int d);
/* its twins, the same bits (test_kernels.c) */
void k_rope_scalar(float *x, const float *cos, const float *sin, int d);
void k_rope_avx512(float *x, const float *cos, const float *sin, int d);

/* float16 / bfloat16 conversions (round to nearest even). */
float k_f16_to_f32(uint16_t h);
uint16_t k_f32_to_f16(float f);
float k_bf16_to_f32(uint16_t h);
uint16_t k_f32_to_bf16(float f);

#endif
