/* bf16_prefill.c - the two bf16 prefill kernels alone on the Qwen3-0.6B's four products (q/k/v
 * 4096 x 1024, gate/up 6144 x 1024, o 1024 x 2048, down 1024 x 3072), 512 tokens, one thread,
 * as shares of the one-thread bf16 peak measured in the same run: the default path's bf16
 * dots (dot_bf16.c, rows interleaved by 16 as a loaded model's are) and --batch-variant's bf16 GEMM
 * (gemm_bf16.c). "memory": the whole matrix, 4-12 MB, streamed from memory once per product; "cache":
 * its first 96 rows (one panel) again and again, the weights in L2 (the 512 tokens' inputs, 1-3 MB,
 * are not). The weights' values do not change the time, so they are a fixed pattern. Each figure
 * is the best of 5 wall-clock passes (one thread, so the machine's other load shows as a lower
 * best); GFLOP/s printed as a share of the peak. Run: bench/bf16.sh */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* best of 5 passes of `reps` products of rows [0, R) over n tokens; kind 0: the dots, 1: the GEMM */
static double best_of(int kind, const kmat *W, const uint16_t *Xb, const uint32_t *Xp, int n, float *Y, void *scratch, int reps) {
    double best = 1e9;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now();
        for (int r = 0; r < reps; r++) {
            if (kind == 0) k_dot_bf16_il_avx512(W, Xb, n, Y, 0, W->rows);
            else k_gemm_bf16_rows_avx512(W, Xp, n, Y, 0, W->rows, scratch);
        }
        double dt = (now() - t0) / reps;
        if (dt < best) best = dt;
    }
    return best;
}

int main(void) {
    if (!(k_cpu_features() & K_CPU_BF16)) {
        printf("bf16_prefill: this CPU lacks AVX512_BF16; nothing to measure\n");
        return 0;
    }
    const int n = 512;
    const struct { const char *name; int rows, cols; } shapes[] = {
        {"q/k/v", 4096, 1024}, {"gate/up", 6144, 1024}, {"o", 1024, 2048}, {"down", 1024, 3072}};
    double peak = k_peak_gflops(2, 1);
    printf("%s, one thread, %d tokens, bf16 peak %.0f GFLOP/s (best of 5 passes each)\n", kcpu_name(k_cpu_default()), n, peak);
    printf("%-8s %-12s %-34s %s\n", "product", "shape", "bf16 dots (default path)", "bf16 GEMM (--batch-variant)");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int R = shapes[s].rows, K = shapes[s].cols;
        uint16_t *w = aligned_alloc(64, sizeof(uint16_t) * (size_t)R * K), *Xb = aligned_alloc(64, sizeof(uint16_t) * (size_t)n * K);
        float *X = malloc(sizeof(float) * (size_t)n * K), *Y = aligned_alloc(64, sizeof(float) * (size_t)n * R);
        uint32_t *Xp = aligned_alloc(64, sizeof(uint32_t) * (size_t)((n + 15) / 16) * 16 * (K / 2));
        void *scratch = aligned_alloc(64, (k_gemm_bf16_scratch(K) + 63) / 64 * 64);
        if (!w || !Xb || !X || !Y || !Xp || !scratch) { fprintf(stderr, "bf16_prefill: out of memory\n"); return 1; }
        for (size_t i = 0; i < (size_t)R * K; i++) w[i] = (uint16_t)(0x3f80 + i % 7);
        for (size_t i = 0; i < (size_t)n * K; i++) X[i] = (float)(i % 13) * 0.1f;
        k_x_to_bf16_rows(X, K, Xb, 0, n);
        k_pack_x_bf16(X, n, K, Xp, 0, (n + 15) / 16);
        printf("%-8s %4d x %-5d", shapes[s].name, R, K);
        for (int kind = 0; kind < 2; kind++) {
            kmat full = {QWEN3_BF16, w, R, K, sizeof(uint16_t) * (size_t)K, kind == 0 ? 16 : 0}, part = full;
            part.rows = 96;
            double tm = best_of(kind, &full, Xb, Xp, n, Y, scratch, 1), tc = best_of(kind, &part, Xb, Xp, n, Y, scratch, 8);
            double gm = 2.0 * R * K * n / tm * 1e-9, gc = 2.0 * 96 * K * n / tc * 1e-9;
            printf("%s  memory %5.1f%%  cache %5.1f%%", kind ? "    " : "", 100 * gm / peak, 100 * gc / peak);
        }
        printf("\n");
        free(w); free(Xb); free(X); free(Y); free(Xp); free(scratch);
    }
    return 0;
}
