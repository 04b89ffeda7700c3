/* dispatch.c - pick the instruction set once, split matrix products over the thread pool. */
#include "kernels/kernels.h"

static k_isa best_isa = K_ISA_SCALAR, active_isa = K_ISA_SCALAR;
static int inited;

void k_init(void) {
    if (inited) return;
    inited = 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        best_isa = K_ISA_AVX512;
#endif
    active_isa = best_isa;
}

k_isa k_active_isa(void) { k_init(); return active_isa; }

k_isa k_force_isa(k_isa i) {
    k_init();
    active_isa = i > best_isa ? best_isa : i;
    return active_isa;
}

const char *k_isa_name(k_isa i) {
    switch (i) {
    case K_ISA_AVX512: return "avx512";
    case K_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}

int k_block_size(qwen3_dtype t) {
    switch (t) {
    case QWEN3_Q8_0: return 32;
    case QWEN3_Q4: return 256;
    default: return 1;
    }
}

size_t k_row_bytes(qwen3_dtype t, int64_t cols) {
    switch (t) {
    case QWEN3_F32: return 4 * (size_t)cols;
    case QWEN3_F16:
    case QWEN3_BF16: return 2 * (size_t)cols;
    case QWEN3_Q8_0: return (size_t)(cols / 32) * 34;
    default: return 0;
    }
}

typedef struct { const kmat *W; const float *X; int n; float *Y; } mm_job;

static void mm_worker(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    long r0, r1;
    qpool_split((long)j->W->rows, ith, nth, 4, &r0, &r1);
    if (r0 >= r1) return;
    if (active_isa == K_ISA_AVX512) k_matmul_rows_avx512(j->W, j->X, j->n, j->Y, r0, r1);
    else k_matmul_rows_scalar(j->W, j->X, j->n, j->Y, r0, r1);
}

void k_matmul(qpool *p, const kmat *W, const float *X, int n, float *Y) {
    k_init();
    mm_job j = {W, X, n, Y};
    qpool_run(p, mm_worker, &j);
}
