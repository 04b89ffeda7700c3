/* dispatch.c - pick the instruction set once; choose the path of each matrix product; prepare the
 * derived forms of its activations (in parallel, once per kact); split rows over the thread pool.
 *
 * Paths: (1) float32: F32/F16 weights always, BF16 weights in exact mode (or without AVX512_BF16);
 * (2) integer: Q8_0/Q4 weights over few tokens, activations quantized to int8 blocks;
 * (3) bf16 GEMM: BF16/Q8_0/Q4 weights over >= kact.gemm_min tokens when the CPU has AVX512_BF16
 * and exact mode is off (quantized weights always take it: exactness means nothing for them);
 * (4) bf16 dots: BF16 weights on the fast path otherwise, with AVX512_BF16: activations rounded to
 * bf16, vdpbf16ps in one order for every n (dot_bf16.c). The engine's batch-invariant default sets
 * gemm_min to K_GEMM_NEVER, so the path depends on the weight type alone (kernels.h).
 * ISAs: AVX-512 (float tiles; VNNI integer dots and the BF16 GEMM where the CPU has them), AVX2 +
 * FMA + F16C (float tiles; integer dots with AVX-VNNI where present, else vpmaddubsw), scalar.
 * QWEN3_ISA=scalar|avx2|avx512 in the environment caps the pick.
 * Rows are split in multiples of 8 and each (row, token) is summed the same way whichever thread
 * computes it, so results do not depend on the thread count. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

static k_isa best_isa = K_ISA_SCALAR, active_isa = K_ISA_SCALAR;
static int cpu_vnni, cpu_bf16, cpu_avxvnni;
static int inited;

void k_init(void) {
    if (inited) return;
    inited = 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma")) /* F16C comes with every AVX-512 CPU */
        best_isa = K_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        /* F16C: CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports lacks the name) */
        unsigned a = 1, b, c = 0, d;
        __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        if ((c >> 29) & 1) best_isa = K_ISA_AVX2;
    }
    cpu_vnni = __builtin_cpu_supports("avx512vnni");
#if defined(__clang__) || __GNUC__ >= 13
    cpu_bf16 = __builtin_cpu_supports("avx512bf16");
#else
    {
        /* older compilers lack the name: CPUID leaf 7 subleaf 1, EAX bit 5 */
        unsigned a = 7, b, c = 1, d;
        __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        cpu_bf16 = (a >> 5) & 1;
    }
#endif
    {
        /* AVX-VNNI: CPUID leaf 7 subleaf 1, EAX bit 4 (not every compiler's __builtin_cpu_supports knows it) */
        unsigned a = 7, b, c = 1, d;
        __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        cpu_avxvnni = best_isa >= K_ISA_AVX2 && ((a >> 4) & 1) && kq_avx2_vnni_compiled();
    }
#endif
    active_isa = best_isa;
    const char *e = getenv("QWEN3_ISA");
    if (e) {
        k_isa cap = !strcmp(e, "scalar") ? K_ISA_SCALAR : !strcmp(e, "avx2") ? K_ISA_AVX2 : K_ISA_AVX512;
        if (cap < active_isa) active_isa = cap;
    }
}

k_isa k_active_isa(void) { k_init(); return active_isa; }
int k_has_vnni(void) { k_init(); return active_isa == K_ISA_AVX512 && cpu_vnni; }
int k_has_bf16(void) { k_init(); return active_isa == K_ISA_AVX512 && cpu_bf16; }
int k_has_avxvnni(void) { k_init(); return active_isa >= K_ISA_AVX2 && cpu_avxvnni; }

k_isa k_force_isa(k_isa i) {
    k_init();
    active_isa = i > best_isa ? best_isa : i;
    return active_isa;
}

const char *k_isa_name(k_isa i) {
    switch (i) {
    case K_ISA_AVX512: return cpu_bf16 && cpu_vnni ? "avx512 (vnni, bf16)" : cpu_vnni ? "avx512 (vnni)" : "avx512";
    case K_ISA_AVX2: return cpu_avxvnni ? "avx2 (avx-vnni)" : "avx2";
    default: return "scalar";
    }
}

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

void kact_init(kact *a, int exact) {
    *a = (kact){0};
    a->exact = exact;
    a->gemm_min = K_GEMM_MIN_TOKENS;
}

void kact_free(kact *a) {
    free(a->bf16);
    free(a->b16);
    free(a->a8);
    free(a->scratch);
    *a = (kact){0};
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
        if (active_isa == K_ISA_AVX512) k_x_to_bf16_rows_avx512(a->x, a->cols, a->b16, (int)b, (int)e);
        else k_x_to_bf16_rows(a->x, a->cols, a->b16, (int)b, (int)e);
    } else {
        size_t rb = kq_act_row_bytes((kact_type)a->a8_type, a->cols);
        qpool_split(a->n, ith, nth, 1, &b, &e);
        for (long t = b; t < e; t++) {
            const float *x = a->x + (size_t)t * (size_t)a->cols;
            void *row = (uint8_t *)a->a8 + (size_t)t * rb;
            if (active_isa == K_ISA_AVX512) kq_act_quant_row_avx512((kact_type)a->a8_type, x, row, a->cols);
            else kq_act_quant_row((kact_type)a->a8_type, x, row, a->cols);
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

/* The one-token kernels of our own integer types (nr weight rows x one activation row), by
 * instruction set and type: one table instead of an if-chain over both; NULL where there is none
 * (the scalar set, other types). */
typedef void (*kq_rows_fn)(const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y);
static kq_rows_fn own_rows(int simd, qwen3_dtype t) {
    static const kq_rows_fn tab[4][2] = {
        [K_QSIMD_AVX512] = {kq_dot_q8_0_avx512, kq_dot_q4_avx512},
        [K_QSIMD_AVX2] = {kq_dot_q8_0_avx2, kq_dot_q4_avx2},
        [K_QSIMD_AVXVNNI] = {kq_dot_q8_0_avxvnni, kq_dot_q4_avxvnni},
    };
    if (simd < 0 || simd > K_QSIMD_AVXVNNI) return NULL;
    return t == QWEN3_Q8_0 ? tab[simd][0] : t == QWEN3_Q4 ? tab[simd][1] : NULL;
}

void k_qmatmul_rows(const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1, int simd) {
    const kq_traits *tr = kq_type(W->type);
    const kq_rows_fn own = own_rows(simd, W->type);
    const uint8_t *base = W->data;
    if (simd == K_QSIMD_AVX512 && W->type == QWEN3_Q8_0) {
        /* one float sum per (row, token) in block order, as the scalar twin: the same bits for any n
         * (gemm_q8.c), a lane per token over many tokens */
        if (n >= 8) { kq_gemm_q8_0_avx512(W, A, arow_bytes, n, Y, r0, r1); return; }
        for (int t = 0; t < n; t++) kq_gemv_q8_0_avx512(W, (const uint8_t *)A + (size_t)t * arow_bytes, Y + (size_t)t * (size_t)W->rows, r0, r1);
        return;
    }
    /* GGUF's types over many tokens: a SIMD lane per token with the one-token kernels' bits
     * (quant_ggml_gemm512.c, quant_ggml_gemm256.c); 0 when out of memory, and the loop below gives the same */
    if (n >= 8 && kq_is_ggml(W->type)) {
        if (simd == K_QSIMD_AVX512 && kq_ggml_gemm_avx512(W, A, arow_bytes, n, Y, r0, r1)) return;
        if ((simd == K_QSIMD_AVX2 || simd == K_QSIMD_AVXVNNI) &&
            kq_ggml_gemm_avx2(W, A, arow_bytes, n, Y, r0, r1, simd == K_QSIMD_AVXVNNI))
            return;
    }
    /* GGUF's K-quants over few tokens: 8 rows per step, a token at a time (quant_ggml_gemv512.c,
     * quant_ggml_gemv256.c) */
    if (simd != K_QSIMD_SCALAR && (W->type == QWEN3_Q4_K || W->type == QWEN3_Q5_K || W->type == QWEN3_Q6_K)) {
        for (int t = 0; t < n; t++) {
            const void *arow = (const uint8_t *)A + (size_t)t * arow_bytes;
            float *y = Y + (size_t)t * (size_t)W->rows;
            if (simd == K_QSIMD_AVX512) kq_ggml_gemv_avx512(W, arow, y, r0, r1);
            else kq_ggml_gemv_avx2(W, arow, y, r0, r1);
        }
        return;
    }
    for (int64_t r = r0; r < r1; r += 4) {
        int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
        const uint8_t *w = base + (size_t)r * W->row_bytes;
        if (n > 1 && simd == K_QSIMD_AVX512 && (W->type == QWEN3_Q8_0 || W->type == QWEN3_Q4)) {
            /* several tokens: each weight block unpacked once for up to 4 of them (same bits per token) */
            for (int t = 0; t < n; t += 4) {
                int nt = n - t < 4 ? n - t : 4;
                const void *arow = (const uint8_t *)A + (size_t)t * arow_bytes;
                float *y = Y + (size_t)t * (size_t)W->rows + (size_t)r;
                if (W->type == QWEN3_Q8_0) kq_dot_q8_0_avx512_nt(w, W->row_bytes, nr, arow, arow_bytes, nt, W->cols, y, (size_t)W->rows);
                else kq_dot_q4_avx512_nt(w, W->row_bytes, nr, arow, arow_bytes, nt, W->cols, y, (size_t)W->rows);
            }
            continue;
        }
        for (int t = 0; t < n; t++) {
            const void *arow = (const uint8_t *)A + (size_t)t * arow_bytes;
            float *y = Y + (size_t)t * (size_t)W->rows + (size_t)r;
            if (own) own(w, W->row_bytes, nr, arow, W->cols, y);
            /* GGUF's types (quant_ggml_*.c); AVX-VNNI CPUs take their plain AVX2 kernels */
            else if (simd == K_QSIMD_AVX512 && kq_ggml_dot_avx512(W->type, w, W->row_bytes, nr, arow, W->cols, y)) {}
            else if (simd >= K_QSIMD_AVX2 && kq_ggml_dot_avx2(W->type, w, W->row_bytes, nr, arow, W->cols, y)) {}
            else
                for (int i = 0; i < nr; i++) y[i] = tr->dot(w + (size_t)i * W->row_bytes, arow, W->cols);
        }
    }
}

/* ---- products */

enum { PATH_F32, PATH_INT, PATH_GEMM, PATH_DOT16 };

/* one or several products over the same activations (k_matmul_act_multi), one dispatch */
typedef struct { const kmat *W[K_MULTI_MAX]; float *Y[K_MULTI_MAX]; int nw; kact *a; int path; size_t scratch_each; } mm_job;

static void mm_one(mm_job *j, const kmat *W, float *Y, int ith, int nth) {
    kact *a = j->a;
    long r0, r1;
    qpool_split((long)W->rows, ith, nth, 8, &r0, &r1);
    if (r0 >= r1) return;
    int simd = active_isa == K_ISA_AVX512;
    switch (j->path) {
    case PATH_GEMM: {
        void *scratch = (uint8_t *)a->scratch + (size_t)ith * j->scratch_each;
        if (simd) k_gemm_bf16_rows_avx512(W, a->bf16, a->n, Y, r0, r1, scratch);
        else k_gemm_bf16_rows_scalar(W, a->bf16, a->n, Y, r0, r1, scratch);
        break;
    }
    case PATH_DOT16:
        if (simd && cpu_bf16) k_dot_bf16_rows_avx512(W, a->b16, a->n, Y, r0, r1);
        else k_dot_bf16_rows_scalar(W, a->b16, a->n, Y, r0, r1);
        break;
    case PATH_INT: {
        /* AVX-512 without VNNI takes the AVX2 kernels */
        int q = simd && cpu_vnni ? K_QSIMD_AVX512 : active_isa < K_ISA_AVX2 ? K_QSIMD_SCALAR
                : cpu_avxvnni ? K_QSIMD_AVXVNNI : K_QSIMD_AVX2;
        k_qmatmul_rows(W, a->a8, kq_act_row_bytes((kact_type)a->a8_type, W->cols), a->n, Y, r0, r1, q);
        break;
    }
    default:
        if (simd) k_matmul_rows_avx512(W, a->x, a->n, Y, r0, r1);
        else if (active_isa == K_ISA_AVX2) k_matmul_rows_avx2(W, a->x, a->n, Y, r0, r1);
        else k_matmul_rows_scalar(W, a->x, a->n, Y, r0, r1);
        break;
    }
}

static void mm_worker(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    for (int i = 0; i < j->nw; i++) mm_one(j, j->W[i], j->Y[i], ith, nth);
}

/* The path of a product with W over a's tokens, and its derived input made (PATH_F32 when memory for
 * the others is lacking); scratch_each: the GEMM's per-thread panel bytes. */
static int choose_path(qpool *p, const kmat *W, kact *a, size_t *scratch_each) {
    k_init();
    int quant = kq_is_quant(W->type);
    int gemm_ok = k_has_bf16() && a->n >= a->gemm_min && W->cols % 2 == 0;
    *scratch_each = 0;
    if (gemm_ok && (quant || (W->type == QWEN3_BF16 && !a->exact))) {
        *scratch_each = (k_gemm_bf16_scratch(W->cols) + 63) & ~(size_t)63;
        if (!ensure_bf16(p, a) && !grow(&a->scratch, &a->scratch_cap, *scratch_each * (size_t)qpool_size(p)))
            return PATH_GEMM;
    }
    if (quant && !ensure_a8(p, a, kq_type(W->type)->act)) return PATH_INT;
    /* BF16 weights on the fast path otherwise (always in the batch-invariant default): bf16 dot
     * products, one summation order for every n (dot_bf16.c) */
    if (W->type == QWEN3_BF16 && !a->exact && k_has_bf16() && !ensure_b16(p, a)) return PATH_DOT16;
    return PATH_F32;
}

int k_act_prepare(qpool *p, const kmat *W, kact *a) {
    size_t se;
    int path = choose_path(p, W, a, &se);
    return path == PATH_F32 && kq_is_quant(W->type) ? -1 : 0;
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
    for (int i = 1; fuse && i < nw; i++)
        fuse = W[i]->cols == W[0]->cols && kq_is_quant(W[i]->type) == kq_is_quant(W[0]->type) &&
               kq_type(W[i]->type)->act == kq_type(W[0]->type)->act;
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

void k_matmul(qpool *p, const kmat *W, const float *X, int n, float *Y) {
    kact a;
    kact_init(&a, 1);
    kact_set(&a, X, n, W->cols);
    k_matmul_act(p, W, &a, Y);
    kact_free(&a);
}
