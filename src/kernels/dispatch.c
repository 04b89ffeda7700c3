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
 * Rows are split in multiples of 8 (of 16 for a matrix interleaved by repack.c) and each (row, token) is summed the same way whichever thread
 * computes it, so results do not depend on the thread count. */
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
    free(a->scratch);
    *a = (kact){.cpu = a->cpu};
}

void kact_set(kact *a, const float *x, int n, int64_t cols) {
    a->x = x;
    a->n = n;
    a->cols = cols;
    a->have_bf16 = a->have_a8 = a->have_b16 = 0;
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

typedef struct { kact *a; int kind; } prep_job;

static void prep_worker(void *ctx, int ith, int nth) {
    prep_job *j = ctx;
    kact *a = j->a;
    long b, e;
    if (j->kind == 0) {
        qpool_split((a->n + 15) / 16, ith, nth, 1, &b, &e);
        k_pack_x_bf16(a->x, a->n, a->cols, a->bf16, (int)b, (int)e);
    } else if (j->kind == 2) {
        qpool_split(a->n, ith, nth, 1, &b, &e);
        a->cpu->to_b16(a->x, a->cols, a->b16, (int)b, (int)e);
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
    prep_job j = {a, 0};
    if (a->n <= K_INLINE_TOKENS) prep_worker(&j, 0, 1);
    else qpool_run(p, prep_worker, &j);
    a->have_bf16 = 1;
    return 0;
}

static int ensure_b16(qpool *p, kact *a) {
    if (a->have_b16) return 0;
    if (grow(&a->b16, &a->b16_cap, (size_t)a->n * (size_t)a->cols * 2)) return -1;
    prep_job j = {a, 2};
    if (a->n <= K_INLINE_TOKENS) prep_worker(&j, 0, 1);
    else qpool_run(p, prep_worker, &j);
    a->have_b16 = 1;
    return 0;
}

static int ensure_a8(qpool *p, kact *a, kact_type t) {
    if (a->have_a8 && a->a8_type == (int)t) return 0;
    if (grow(&a->a8, &a->a8_cap, kq_act_row_bytes(t, a->cols) * (size_t)a->n)) return -1;
    a->a8_type = (int)t;
    prep_job j = {a, 1};
    /* a few rows take less than a hand-off to the other threads (microseconds) */
    if (a->n <= K_INLINE_TOKENS) prep_worker(&j, 0, 1);
    else qpool_run(p, prep_worker, &j);
    a->have_a8 = 1;
    return 0;
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
typedef struct { const kmat *W[K_MULTI_MAX]; float *Y[K_MULTI_MAX]; int nw; kact *a; int path; size_t scratch_each; } mm_job;

static void mm_one(mm_job *j, const kmat *W, float *Y, int ith, int nth) {
    kact *a = j->a;
    const ktype *e = &a->cpu->type[W->type];
    long r0, r1;
    qpool_split((long)W->rows, ith, nth, W->il ? W->il : 8, &r0, &r1);
    if (r0 >= r1) return;
    switch (j->path) {
    case PATH_GEMM: e->gemm16(W, a->bf16, a->n, Y, r0, r1, (uint8_t *)a->scratch + (size_t)ith * j->scratch_each); break;
    case PATH_DOT16:
        (W->il ? e->b16_il : e->b16)(W, a->b16, a->n, Y, r0, r1);
        break;
    case PATH_INT: k_qmatmul_rows(e, W, a->a8, kq_act_row_bytes((kact_type)a->a8_type, W->cols), a->n, Y, r0, r1); break;
    /* the float kernels read rows: an interleaved matrix here (no memory for its own path's
     * activations) takes the reference kernel, which gathers them */
    default: (W->il ? k_matmul_rows_scalar : e->f32)(W, a->x, a->n, Y, r0, r1); break;
    }
}

static void mm_worker(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    for (int i = 0; i < j->nw; i++) mm_one(j, j->W[i], j->Y[i], ith, nth);
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
    if (!f32 && e->gemm16 && !W->il && a->n >= a->gemm_min && W->cols % 2 == 0) {
        *scratch_each = (k_gemm_bf16_scratch(W->cols) + 63) & ~(size_t)63;
        if (!ensure_bf16(p, a) && !grow(&a->scratch, &a->scratch_cap, *scratch_each * (size_t)qpool_size(p)))
            return PATH_GEMM;
    }
    if (f32) return PATH_F32;
    if (e->path == K_PATH_INT) return ensure_a8(p, a, e->tr->act) ? PATH_F32 : PATH_INT;
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
    mm_job j = {{W}, {Y}, 1, a, PATH_F32, 0};
    j.path = choose_path(p, W, a, &j.scratch_each);
    qpool_run(p, mm_worker, &j);
}

void k_matmul_act_multi(qpool *p, const kmat *const *W, float *const *Y, int nw, kact *a) {
    mm_job j = {{0}, {0}, nw, a, PATH_F32, 0};
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
    if (fuse) { qpool_run(p, mm_worker, &j); return; }
    for (int i = 0; i < nw; i++) k_matmul_act(p, W[i], a, Y[i]);
}

void k_matmul(const kcpu *c, qpool *p, const kmat *W, const float *X, int n, float *Y) {
    kact a;
    kact_init(&a, c, 1);
    kact_set(&a, X, n, W->cols);
    k_matmul_act(p, W, &a, Y);
    kact_free(&a);
}
