/* qkernels_bench.c - the integer dot kernels of every block type on one 3072 x 1024 matrix (the
 * Qwen3-0.6B MLP's shape), one thread, AVX-512 VNNI, for 1 token (decode), 8 and 128 tokens (prefill
 * on the batch-invariant path). Times are this process's CPU time, best of 3, so other jobs on a shared
 * machine distort them less than wall-clock figures. Weights fit in cache here: this measures the
 * arithmetic, not the memory traffic that bounds real decoding. For GGUF's superblock types the last
 * column is one token through the 4-row kernel (kq_ggml_rows_avx512), which Q4_K / Q5_K / Q6_K's
 * 8-row kernels (quant_ggml_gemv512.c, the n=1 column) replaced. Run: bench/qkernels.sh */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(void) {
    if (!(k_cpu_default()->features & K_CPU_VNNI)) { printf("qkernels_bench: needs AVX-512 VNNI\n"); return 0; }
    const int rows = 3072, cols = 1024;
    int ns[] = {1, 8, 128};
    qwen3_dtype types[] = {QWEN3_Q8_0, QWEN3_Q4, QWEN3_Q4_K, QWEN3_Q5_K, QWEN3_Q6_K, QWEN3_Q3_K, QWEN3_Q2_K, QWEN3_IQ4_XS,
                            QWEN3_Q4_0, QWEN3_Q4_1, QWEN3_Q5_0, QWEN3_Q5_1, QWEN3_IQ4_NL};
    float *W = malloc(sizeof(float) * rows * cols), *X = malloc(sizeof(float) * 128 * cols), *Y = malloc(sizeof(float) * 128 * rows);
    for (int i = 0; i < rows * cols; i++) W[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (int i = 0; i < 128 * cols; i++) X[i] = (float)((i * 40503u) % 1000) / 500.0f - 1.0f;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        qwen3_dtype t = types[k];
        const kq_traits *tr = kq_type(t);
        size_t rb = k_row_bytes(t, cols);
        uint8_t *Q = aligned_alloc(64, rb * rows);
        for (int r = 0; r < rows; r++) tr->from_float(W + (size_t)r * cols, Q + r * rb, cols);
        kmat M = {t, Q, rows, cols, rb, 0};
        size_t ab = kq_act_row_bytes(tr->act, cols);
        uint8_t *A = aligned_alloc(64, ab * 128);
        for (int i = 0; i < 128; i++) kq_act_quant_row(tr->act, X + (size_t)i * cols, A + i * ab, cols);
        printf("%-7s", tr->name);
        for (int j = 0; j < 3; j++) {
            int n = ns[j], reps = n == 1 ? 100 : n == 8 ? 20 : 4;
            double best = 1e9;
            for (int rep = 0; rep < 3; rep++) {
                double t0 = cpu();
                for (int i = 0; i < reps; i++) k_qmatmul_rows(&k_cpu_default()->type[t], &M, A, ab, n, Y, 0, rows);
                double dt = (cpu() - t0) / reps;
                if (dt < best) best = dt;
            }
            printf("  n=%-3d %8.1f us (%5.1f GMAC/s)", n, best * 1e6, (double)rows * cols * n / best * 1e-9);
        }
        if (kq_is_ggml(t) && tr->block == 256) {
            double best = 1e9;
            for (int rep = 0; rep < 3; rep++) {
                double t0 = cpu();
                for (int i = 0; i < 100; i++)
                    for (int r = 0; r < rows; r += 4) kq_ggml_rows_avx512[t](Q + (size_t)r * rb, rb, 4, A, cols, Y + r);
                double dt = (cpu() - t0) / 100;
                if (dt < best) best = dt;
            }
            printf("  n=1 4-row %6.1f us", best * 1e6);
        }
        printf("\n");
        free(Q); free(A);
    }
    return 0;
}
