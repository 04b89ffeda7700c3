/* qkernels_mem.c - the one-token (decode) kernels of Q8_0, Q4, Q4_K and Q6_K with their weights
 * streamed from memory, as in decoding: 48 copies of one 3072 x 1024 matrix per type (85-160 MB,
 * far past the caches), interleaved by rows (kernels/repack.c) and on 2 MiB pages where the kernel
 * gives them (k_alloc_huge, as a model's repacked weights are), one token through every copy,
 * one thread, AVX-512 VNNI; the types alternate
 * within each of the rounds, so a shared machine's changing load falls on all of them alike. Times
 * are this thread's CPU time (best and mean of the rounds) as GB/s of weights; first a plain
 * 64-byte read loop over Q4_K's copies, the ceiling one core reaches at that moment. This is what
 * decides decode speed per byte of a Q4_K_M file (Q4_K layers, Q6_K LM head) against our Q4 (Q4
 * layers, Q8_0 LM head). Run: bench/qkernels.sh (after the cache table) or
 * build/bench/qkernels_mem [COPIES [ROUNDS]]. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
__attribute__((target("avx512f"))) static double read_all(const uint8_t *p, size_t bytes) {
    __m512i acc = _mm512_setzero_si512();
    double t0 = cpu();
    for (size_t i = 0; i < bytes / 64; i++) acc = _mm512_add_epi32(acc, _mm512_load_si512(p + 64 * i));
    double dt = cpu() - t0;
    volatile int sink = _mm512_reduce_add_epi32(acc);
    (void)sink;
    return dt;
}
int main(int argc, char **argv) {
    if ((k_cpu_features() & (K_CPU_AVX512 | K_CPU_VNNI)) != (K_CPU_AVX512 | K_CPU_VNNI)) { printf("qkernels_mem: needs AVX-512 VNNI\n"); return 0; }
    const int rows = 3072, cols = 1024, copies = argc > 1 ? atoi(argv[1]) : 48, rounds = argc > 2 ? atoi(argv[2]) : 5;
    enum { NT = 4 };
    const qwen3_dtype types[NT] = {QWEN3_Q8_0, QWEN3_Q4, QWEN3_Q4_K, QWEN3_Q6_K};
    float *W = malloc(sizeof(float) * rows * cols), *X = malloc(sizeof(float) * cols), *Y = malloc(sizeof(float) * rows);
    for (int i = 0; i < rows * cols; i++) W[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (int i = 0; i < cols; i++) X[i] = (float)((i * 40503u) % 1000) / 500.0f - 1.0f;
    uint8_t *Q[NT], *A[NT];
    size_t rb[NT], ab[NT], mb[NT];
    int il[NT];
    for (int k = 0; k < NT; k++) {
        const kq_traits *tr = kq_type(types[k]);
        rb[k] = k_row_bytes(types[k], cols);
        mb[k] = rb[k] * rows;
        Q[k] = k_alloc_huge(mb[k] * copies);
        uint8_t *rm = malloc(mb[k]); /* row-major, then interleaved as a model's weights are */
        for (int r = 0; r < rows; r++) tr->from_float(W + (size_t)r * cols, rm + r * rb[k], cols);
        il[k] = k_il_fits(types[k], rows, cols);
        if (il[k]) k_il_pack(types[k], rm, rb[k], rows, cols, Q[k]);
        else memcpy(Q[k], rm, mb[k]);
        free(rm);
        for (int c = 1; c < copies; c++) memcpy(Q[k] + (size_t)c * mb[k], Q[k], mb[k]);
        ab[k] = kq_act_row_bytes(tr->act, cols);
        A[k] = aligned_alloc(64, (ab[k] + 63) & ~(size_t)63);
        kq_act_quant_row(tr->act, X, A[k], cols);
    }
    double best[NT + 1], sum[NT + 1] = {0};
    for (int k = 0; k <= NT; k++) best[k] = 1e9;
    for (int rd = 0; rd < rounds; rd++) {
        double dt = read_all(Q[2], mb[2] * copies);
        if (dt < best[NT]) best[NT] = dt;
        sum[NT] += dt;
        for (int k = 0; k < NT; k++) {
            double t0 = cpu();
            for (int c = 0; c < copies; c++) {
                kmat M = {types[k], Q[k] + (size_t)c * mb[k], rows, cols, rb[k], il[k]};
                k_qmatmul_rows(&k_cpu_default()->type[types[k]], &M, A[k], ab[k], 1, Y, 0, rows);
            }
            dt = cpu() - t0;
            if (dt < best[k]) best[k] = dt;
            sum[k] += dt;
        }
    }
    printf("from memory, one token, %d copies, %d rounds: GB/s of weights, best (mean)\n", copies, rounds);
    for (int k = 0; k <= NT; k++) {
        double bytes = (double)mb[k == NT ? 2 : k] * copies;
        printf("%-12s %6.1f MB  %5.1f GB/s (%5.1f)\n", k == NT ? "plain read" : kq_type(types[k])->name, bytes / 1e6, bytes / best[k] / 1e9,
               bytes / (sum[k] / rounds) / 1e9);
    }
    return 0;
}
