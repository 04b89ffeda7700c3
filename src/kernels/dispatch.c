/* dispatch.c - choose the path of each matrix product from the kernel table the activations carry
 * (kact.cpu, ktable.c); prepare the derived forms of its activations (in parallel, once per kact);
 * split rows over the thread pool.
 *
 * Paths, read from the weight type's table entry (ktype): (1) float32 (K_PATH_F32: F32/F16 weights
 * always, BF16 weights in exact mode or without AVX512_BF16); (2) integer (K_PATH_INT: quantized
 * weights, activations quantized to int8 blocks); (3) bf16 GEMM (an entry with gemm16: BF16 and
 * quantized weights over >= kact.gemm_min tokens with AVX512_BF16, exact mode off for BF16); (4)
 * bf16 dots (K_PATH_B16: BF16 weights on the fast path with AVX512_BF16: activations rounded to
 * bf16, vdpbf16ps in one order for every n, dot_bf16.c). The engine's batch-invariant default sets
 * gemm_min to K_GEMM_NEVER, so the path depends on the weight type alone (kernels.h).
 * No branch here names a type or an instruction set: the table holds the answer.
 * Rows are split in multiples of 8 (of 16 for a matrix interleaved by repack.c): a fixed share per
 * thread, or, for integer products over many tokens whose activations are packed once (kq_pack),
 * chunks taken by whichever thread is free, or for a few tokens both, mostly fixed (mm_plan,
 * mm_worker); each (row, token) is summed the same way
 * whichever thread computes it, so results do not depend on the thread count or the schedule. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

int k_block_size(qwen3_dtype t) {
    const kq_traits *tr = kq_type(t);
    return tr ? tr->block : 1;
}

size_t k_row_bytes(qwen3_dtype t, int64_t cols) {
    const kq_traits *tr = kq_type(t);
    if (!tr || cols % tr->block) return 0;
    return (size_t)(cols / tr->block) * tr->block_bytes;
}

/* ---- activations */

void kact_init(kact *a, const kcpu *cpu, int exact) {
    *a = (kact){0};
    a->cpu = cpu;
    a->exact = exact;
    a->gemm_min = K_GEMM_MIN_TOKENS;
}

void kact_free(kact *a) {
    free(a->bf16);
    free(a->b16);
    free(a->a8);
    free(a->a8p);
    free(a->scratch);
    *a = (kact){.cpu = a->cpu};
}

void kact_set(kact *a, const float *x, int n, int64_t cols) {
    a->x = x;
    a->n = n;
    a->cols = cols;
    a->have_bf16 = a->have_a8 = a->have_b16 = 0;
    a->a8p_pk = NULL;
}

static int grow(void **buf, size_t *cap, size_t need) {
    if (*cap >= need) return 0;
    free(*buf);
    *buf = NULL;
    *cap = 0;
    if (posix_memalign(buf, 64, need)) { *buf = NULL; return -1; }
    *cap = need;
    return 0;
}

void *kact_set_a8(kact *a, int n, int64_t cols, kact_type t) {
    kact_set(a, NULL, n, cols);
    if (grow(&a->a8, &a->a8_cap, kq_act_row_bytes(t, cols) * (size_t)n)) return NULL;
    a->a8_type = (int)t;
    a->have_a8 = 1;
    return a->a8;
}

typedef struct { kact *a; int kind; const kq_pack *pk; } prep_job;

static void prep_worker(void *ctx, int ith, int nth) {
    prep_job *j = ctx;
    kact *a = j->a;
    long b, e;
    if (j->kind == 0) {
        qpool_split((a->n + 15) / 16, ith, nth, 1, &b, &e);
        k_pack_x_bf16_avx512(a->x, a->n, a->cols, a->bf16, (int)b, (int)e); /* the GEMM implies AVX512_BF16 */
    } else if (j->kind == 2) {
        qpool_split(a->n, ith, nth, 1, &b, &e);
        a->cpu->to_b16(a->x, a->cols, a->b16, (int)b, (int)e);
    } else if (j->kind == 3) { /* whole tiles of tokens per thread, straight from x */
        const kq_pack *pk = j->pk;
        qpool_split((a->n + pk->tile - 1) / pk->tile, ith, nth, 1, &b, &e);
        if (b >= e) return;
        if (a->x) pk->pack_x(a->x, a->n, (int)b * pk->tile, (int)e * pk->tile, a->cols, a->a8p);
        else pk->pack(a->a8, kq_act_row_bytes((kact_type)a->a8_type, a->cols), a->n, (int)b * pk->tile, (int)e * pk->tile, a->cols, a->a8p);
    } else {
        size_t rb = kq_act_row_bytes((kact_type)a->a8_type, a->cols);
        qpool_split(a->n, ith, nth, 1, &b, &e);
        for (long t = b; t < e; t++) {
            const float *x = a->x + (size_t)t * (size_t)a->cols;
            void *row = (uint8_t *)a->a8 + (size_t)t * rb;
            a->cpu->act_quant((kact_type)a->a8_type, x, row, a->cols);
        }
    }
}

static int ensure_bf16(qpool *p, kact *a) {
    if (a->have_bf16) return 0;
    size_t need = (size_t)((a->n + 15) / 16) * 16 * (size_t)a->cols * 2;
    if (grow(&a->bf16, &a->bf16_cap, need)) return -1;
    prep_job j = {a, 0, NULL};
    if (a->n <= K_INLINE_TOKENS) prep_worker(&j, 0, 1);
    else qpool_run(p, prep_worker, &j);
    a->have_bf16 = 1;
    return 0;
}

static int ensure_b16(qpool *p, kact *a) {
    if (a->have_b16) return 0;
    if (grow(&a->b16, &a->b16_cap, (size_t)a->n * (size_t)a->cols * 2)) return -1;
    prep_job j = {a, 2, NULL};
    if (a->n <= K_INLINE_TOKENS) prep_worker(&j, 0, 1);
    else qpool_run(p, prep_worker, &j);
    a->have_b16 = 1;
    return 0;
}

static int ensure_a8(qpool *p, kact *a, kact_type t) {
    if (a->have_a8 && a->a8_type == (int)t) return 0;
    if (grow(&a->a8, &a->a8_cap, kq_act_row_bytes(t, a->cols) * (size_t)a->n)) return -1;
    a->a8_type = (int)t;
    prep_job j = {a, 1, NULL};
    /* a few rows take less than a hand-off to the other threads (microseconds) */
    if (a->n <= K_INLINE_TOKENS) prep_worker(&j, 0, 1);
    else qpool_run(p, prep_worker, &j);
    a->have_a8 = 1;
    return 0;
}

const void *k_act_a8(qpool *p, kact *a, kact_type t) { return ensure_a8(p, a, t) ? NULL : a->a8; }

/* x quantized and packed by pk once for every product over it (pk->pack_x: no int8 rows made; a
 * kact given only int8 rows, kact_set_a8, packs from them) */
static int ensure_a8p(qpool *p, kact *a, const kq_pack *pk) {
    if (a->a8p_pk == pk) return 0;
    if (grow(&a->a8p, &a->a8p_cap, pk->bytes(a->n, a->cols))) return -1;
    prep_job j = {a, 3, pk};
    qpool_run(p, prep_worker, &j);
    a->a8p_pk = pk;
    return 0;
}

/* W's product over a's tokens reads a8p (its packing is current) */
static int packed(const kmat *W, const kact *a) {
    const ktype *e = &a->cpu->type[W->type];
    return W->il && e->gemm_il_p && a->a8p_pk && a->a8p_pk == e->pk_il;
}

/* ---- the integer path */

void k_qmatmul_rows(const ktype *e, const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1) {
    if (W->il) { /* interleaved rows (repack.c): only where the entry has their kernels */
        if (e->gemm_il(W, A, arow_bytes, n, Y, r0, r1)) return;
        for (int t = 0; t < n; t++) e->gemv_il(W, (const uint8_t *)A + (size_t)t * arow_bytes, Y + (size_t)t * (size_t)W->rows, r0, r1);
        return;
    }
    /* many tokens: a kernel that reads each weight block once for all of them, when it takes n */
    if (e->gemm && e->gemm(W, A, arow_bytes, n, Y, r0, r1)) return;
    if (e->gemv) {
        for (int t = 0; t < n; t++) e->gemv(W, (const uint8_t *)A + (size_t)t * arow_bytes, Y + (size_t)t * (size_t)W->rows, r0, r1);
        return;
    }
    const uint8_t *base = W->data;
    for (int64_t r = r0; r < r1; r += 4) {
        int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
        const uint8_t *w = base + (size_t)r * W->row_bytes;
        for (int t = 0; t < n; t++)
            e->rows(w, W->row_bytes, nr, (const uint8_t *)A + (size_t)t * arow_bytes, W->cols, Y + (size_t)t * (size_t)W->rows + (size_t)r);
    }
}

/* ---- products */

enum { PATH_F32, PATH_INT, PATH_GEMM, PATH_DOT16 };


/* one or several products over the same activations (k_matmul_act_multi), one dispatch */
typedef struct {
    const kmat *W[K_MULTI_MAX];
    float *Y[K_MULTI_MAX];
    int nw;
    kact *a;
    int path;
    size_t scratch_each;
    /* the plan (mm_plan): each thread first rows [fixed ith, fixed (ith + 1)) of every product,
     * then the rows from fixed x threads on in chunks taken by whichever thread is free; static:
     * neither, each thread its qpool_split share */
    int dynamic;
    atomic_long next;
    long fixed[K_MULTI_MAX], chunk[K_MULTI_MAX], nchunks[K_MULTI_MAX], total;
} mm_job;

static void mm_rows(mm_job *j, const kmat *W, float *Y, long r0, long r1, int ith) {
    kact *a = j->a;
    const ktype *e = &a->cpu->type[W->type];
    if (r0 >= r1) return;
    switch (j->path) {
    case PATH_GEMM: e->gemm16(W, a->bf16, a->n, Y, r0, r1, (uint8_t *)a->scratch + (size_t)ith * j->scratch_each); break;
    case PATH_DOT16:
        (W->il ? e->b16_il : e->b16)(W, a->b16, a->n, Y, r0, r1);
        break;
    case PATH_INT:
        if (packed(W, a) && e->gemm_il_p(W, a->a8p, a->n, Y, r0, r1)) break;
        k_qmatmul_rows(e, W, a->a8, kq_act_row_bytes((kact_type)a->a8_type, W->cols), a->n, Y, r0, r1);
        break;
    /* the float kernels read rows: an interleaved matrix here (no memory for its own path's
     * activations) takes the reference kernel, which gathers them */
    default: (W->il ? k_matmul_rows_scalar : e->f32)(W, a->x, a->n, Y, r0, r1); break;
    }
}

/* Rows in chunks of a multiple of 8 (16 for an interleaved matrix). Integer products over many
 * tokens (MM_DYN_MIN or more) whose activations are packed once (kq_pack): about MM_CHUNKS chunks
 * per thread and matrix, each taken by whichever thread is free, so a thread that the shared host
 * slows does not leave the other waiting at the end of every product (0.6B Q8_0, 512 tokens, two
 * threads: the caller had waited 4.5-6.1% of a pass for the other thread). Few tokens: mostly
 * fixed shares, the rest in chunks (mm_plan). Otherwise each thread its fixed share: kernels that
 * prepare something per call (an integer GEMM packing its own activations, the bf16 GEMM's weight
 * panels), and the bf16 dots (chunks measured no faster there: 0.6B BF16 prefill, two threads,
 * 576-643 against 631-649 tok/s). A (row, token) is summed the same way in any chunk, so the bits
 * do not change. */
#define MM_DYN_MIN 16
#define MM_CHUNKS 8

/* Few tokens (under KQ_GEMM_MIN_TOKENS: a decode step, or a few sequences decoded together) on
 * several threads, on every path but the bf16 GEMM (which packs weight panels per call): each
 * thread first its fixed share of MM_FIXED_PCT% of every matrix's rows (long streams, as the
 * one-token kernels want), then the rest in chunks (about 4 a thread and matrix) taken by whichever
 * thread is free. 4 sequences decoded together (`qwen3 bench FILE -p 0 -n 32 --parallel 4 -t 2`,
 * alternating with the one-token-only split): 0.6B Q8_0 137-146 -> 152-158 tok/s in 4 of 4 pairs,
 * Q4_K_M 185-190 -> 192-196 in 3 of 3, BF16 level (125-132 both). The two vCPUs of the shared
 * host are often unequally fast: with fixed halves the caller waited for the other thread 0.67-2.47 ms of a 13-15
 * ms 0.6B Q8_0 decode step, with this 0.50-0.81 ms, and the step was faster in 4 of 5 alternating
 * pairs (68.2-75.6 -> 65.5-74.3 tok/s, the one slower pair 75.6 -> 65.5; --profile -n 128, 2
 * threads, 2026-12-07, Zen 5). A row's sum is the kernel's whatever range it is in, so the bits
 * do not change. */
#define MM_FIXED_PCT 75

static void mm_worker(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    if (!j->dynamic) {
        for (int i = 0; i < j->nw; i++) {
            long r0, r1;
            qpool_split((long)j->W[i]->rows, ith, nth, j->W[i]->il ? j->W[i]->il : 8, &r0, &r1);
            mm_rows(j, j->W[i], j->Y[i], r0, r1, ith);
        }
        return;
    }
    for (int i = 0; i < j->nw; i++)
        if (j->fixed[i]) mm_rows(j, j->W[i], j->Y[i], j->fixed[i] * ith, j->fixed[i] * (ith + 1), ith);
    for (long k; (k = atomic_fetch_add(&j->next, 1)) < j->total;) {
        int i = 0;
        while (k >= j->nchunks[i]) k -= j->nchunks[i++];
        long rows = (long)j->W[i]->rows, r0 = j->fixed[i] * nth + k * j->chunk[i];
        mm_rows(j, j->W[i], j->Y[i], r0, r0 + j->chunk[i] < rows ? r0 + j->chunk[i] : rows, ith);
    }
}

/* The split of a job over the pool's threads: static for one thread and for the kernels that
 * prepare something per call; fixed shares of MM_FIXED_PCT% then about 4 chunks a thread for few
 * tokens; about MM_CHUNKS chunks a thread for packed integer products over many tokens. */
static void mm_plan(qpool *p, mm_job *j) {
    const int nth = qpool_size(p), few = j->a->n < KQ_GEMM_MIN_TOKENS;
    j->dynamic = 0;
    j->total = 0;
    atomic_init(&j->next, 0);
    if (nth < 2 || (few ? j->path == PATH_GEMM : j->a->n < MM_DYN_MIN || j->path != PATH_INT)) return;
    for (int i = 0; !few && i < j->nw; i++)
        if (!packed(j->W[i], j->a)) return;
    j->dynamic = 1;
    for (int i = 0; i < j->nw; i++) {
        long align = j->W[i]->il ? j->W[i]->il : 8, rows = (long)j->W[i]->rows;
        j->fixed[i] = few ? rows * MM_FIXED_PCT / 100 / nth / align * align : 0;
        long left = rows - j->fixed[i] * nth, per = few ? 4L * nth : (long)nth * MM_CHUNKS;
        long c = (left + per - 1) / per;
        c = (c + align - 1) / align * align;
        j->chunk[i] = c < align ? align : c;
        j->nchunks[i] = (left + j->chunk[i] - 1) / j->chunk[i];
        j->total += j->nchunks[i];
    }
}

static void mm_run(qpool *p, mm_job *j) {
    mm_plan(p, j);
    qpool_run(p, mm_worker, j);
}

/* The path of a product with W over a's tokens, and its derived input made (PATH_F32 when memory for
 * the others is lacking); scratch_each: the GEMM's per-thread panel bytes. */
static int choose_path(qpool *p, const kmat *W, kact *a, size_t *scratch_each) {
    const ktype *e = &a->cpu->type[W->type];
    /* float32 activations: the float types' path, and theirs in exact mode (exactness means nothing
     * for quantized weights: they keep their integer kernels) */
    int f32 = e->path == K_PATH_F32 || (a->exact && e->path != K_PATH_INT);
    *scratch_each = 0;
    /* the bf16 GEMM reads rows: an interleaved matrix (repack.c, never under batch_variant) keeps
     * its integer kernels */
    if (!f32 && e->gemm16 && !W->il && a->n >= a->gemm_min && W->cols % 2 == 0 && a->x) {
        *scratch_each = (k_gemm_bf16_scratch(W->cols) + 63) & ~(size_t)63;
        if (!ensure_bf16(p, a) && !grow(&a->scratch, &a->scratch_cap, *scratch_each * (size_t)qpool_size(p)))
            return PATH_GEMM;
    }
    if (f32) return PATH_F32;
    if (e->path == K_PATH_INT) {
        /* many tokens on an interleaved matrix: packed once from x (no memory for it: the int8
         * rows, and each call packs its own from them) */
        if (W->il && e->gemm_il_p && a->n >= KQ_GEMM_MIN_TOKENS && (a->x || a->a8_type == (int)e->tr->act) && !ensure_a8p(p, a, e->pk_il))
            return PATH_INT;
        return ensure_a8(p, a, e->tr->act) ? PATH_F32 : PATH_INT;
    }
    /* BF16 weights on the fast path (always in the batch-invariant default): bf16 dot products, one
     * summation order for every n (dot_bf16.c) */
    return ensure_b16(p, a) ? PATH_F32 : PATH_DOT16;
}

int k_act_prepare(qpool *p, const kmat *W, kact *a) {
    size_t se;
    int path = choose_path(p, W, a, &se);
    return path == PATH_F32 && a->cpu->type[W->type].path == K_PATH_INT ? -1 : 0;
}

void k_matmul_act(qpool *p, const kmat *W, kact *a, float *Y) {
    mm_job j = {.W = {W}, .Y = {Y}, .nw = 1, .a = a, .path = PATH_F32};
    j.path = choose_path(p, W, a, &j.scratch_each);
    mm_run(p, &j);
}

void k_matmul_act_multi(qpool *p, const kmat *const *W, float *const *Y, int nw, kact *a) {
    mm_job j = {.nw = nw, .a = a, .path = PATH_F32};
    int fuse = nw >= 1 && nw <= K_MULTI_MAX;
    /* one dispatch only when every product takes the same path on the same derived input (another
     * activation format would overwrite the first's) */
    for (int i = 1; fuse && i < nw; i++) {
        const ktype *e = &a->cpu->type[W[i]->type], *e0 = &a->cpu->type[W[0]->type];
        fuse = W[i]->cols == W[0]->cols && e->path == e0->path && e->tr->act == e0->tr->act;
    }
    for (int i = 0; fuse && i < nw; i++) {
        size_t se;
        int path = choose_path(p, W[i], a, &se);
        if (i == 0) j.path = path;
        fuse = path == j.path;
        if (se > j.scratch_each) j.scratch_each = se;
        j.W[i] = W[i];
        j.Y[i] = Y[i];
    }
    if (fuse && j.path == PATH_GEMM && grow(&a->scratch, &a->scratch_cap, j.scratch_each * (size_t)qpool_size(p))) fuse = 0;
    if (fuse) {
        mm_run(p, &j);
        return;
    }
    for (int i = 0; i < nw; i++) k_matmul_act(p, W[i], a, Y[i]);
}

void k_matmul(const kcpu *c, qpool *p, const kmat *W, const float *X, int n, float *Y) {
    kact a;
    kact_init(&a, c, 1);
    kact_set(&a, X, n, W->cols);
    k_matmul_act(p, W, &a, Y);
    kact_free(&a);
}
