/* mm_bench.c - the matrix kernels of the default (batch-invariant) path on the Qwen3-0.6B MLP shape
 * (3072 x 1024), one thread: BF16 weights with float32 activations (float tiles) and Q8_0 weights
 * with int8 activations (VNNI), for 1 token (decode) and 64 tokens (prefill). Each figure is the
 * best of 5 CPU-time measurements (CLOCK_THREAD_CPUTIME_ID, so other jobs on a shared machine distort
 * it less than wall-clock time). "cold" cycles through 96 MB of copies of the matrix so the weights
 * come from memory, as in real decoding; "warm" re-uses one copy (L2/L3). Run: bench/mm.sh */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"

static double cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    const int rows = 3072, cols = 1024, maxn = 64;
    float *W = malloc(sizeof(float) * rows * cols), *X = malloc(sizeof(float) * maxn * cols), *Y = malloc(sizeof(float) * maxn * rows);
    for (int i = 0; i < rows * cols; i++) W[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (int i = 0; i < maxn * cols; i++) X[i] = (float)((i * 40503u) % 1000) / 500.0f - 1.0f;
    qwen3_dtype types[] = {QWEN3_BF16, QWEN3_Q8_0, QWEN3_Q4};
    printf("%s, one thread, %d x %d, best of 5 (CPU time)\n", kcpu_name(k_cpu_default()), rows, cols);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        qwen3_dtype t = types[k];
        size_t rb = k_row_bytes(t, cols), mb = rb * (size_t)rows;
        int copies = (int)((96u << 20) / mb) + 1;
        uint8_t *Q = aligned_alloc(64, mb * (size_t)copies);
        if (t == QWEN3_BF16) {
            uint16_t *h = (uint16_t *)Q;
            for (size_t i = 0; i < (size_t)rows * cols; i++) { uint32_t u; memcpy(&u, &W[i], 4); h[i] = (uint16_t)(u >> 16); }
        } else
            for (int r = 0; r < rows; r++) kq_quantize_row(t, W + (size_t)r * cols, Q + (size_t)r * rb, cols);
        for (int c = 1; c < copies; c++) memcpy(Q + (size_t)c * mb, Q, mb);
        printf("%-5s", t == QWEN3_BF16 ? "BF16" : t == QWEN3_Q8_0 ? "Q8_0" : "Q4");
        int ns[] = {1, 1, 64};
        for (int j = 0; j < 3; j++) {
            int n = ns[j], cold = j == 1, reps = n == 1 ? 200 : 8;
            kact a;
            kact_init(&a, k_cpu_default(), 0);
            a.gemm_min = K_GEMM_NEVER;
            double best = 1e9;
            for (int rep = 0; rep < 5; rep++) {
                double t0 = cpu();
                for (int i = 0; i < reps; i++) {
                    kmat M = {t, Q + (cold ? (size_t)(i % copies) * mb : 0), rows, cols, rb, 0};
                    kact_set(&a, X, n, cols);
                    k_matmul_act(NULL, &M, &a, Y);
                }
                double dt = (cpu() - t0) / reps;
                if (dt < best) best = dt;
            }
            kact_free(&a);
            printf("  n=%-2d %-4s %8.1f us (%5.1f GB/s, %6.1f GFLOP/s)", n, n == 1 ? (cold ? "cold" : "warm") : "", best * 1e6,
                   (double)mb / best * 1e-9, 2.0 * rows * cols * n / best * 1e-9);
        }
        printf("\n");
        free(Q);
    }
    free(W); free(X); free(Y);
    return 0;
}
