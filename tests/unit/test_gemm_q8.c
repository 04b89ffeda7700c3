/* test_gemm_q8.c - the Q8_0 kernels of the batch-invariant path (kernels/gemm_q8.c): through
 * k_qmatmul_rows with the AVX-512 VNNI kernels, every (row, token) equals the scalar twin
 * kq_dot_q8_0_scalar bit for bit, for n = 1, 5, 8, 13, 50, 70, 203 tokens (the one-token kernel, the
 * lane-per-token GEMM with partial vectors, its 128-token chunks), K = 32, 96, 1024, rows split
 * unevenly as two threads would and not a multiple of 4. The same for a matrix interleaved by 16
 * rows (kernels/repack.c, 64 rows split at 16 as two threads would: the interleaved one-token kernel
 * and GEMM, one group of 16 rows and pairs of them, 6-token tiles with partial ones, two 96-token
 * chunks and a partial third), and the layout's round trip: k_il_row gives back every row's bytes, k_row_to_float its
 * values. Without VNNI it prints SKIP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

int main(void) {
    kcpu cpu; /* the table with AVX-512 VNNI's kernels, passed to k_qmatmul_rows */
    kcpu_init(&cpu, K_CPU_ALL);
    if (!(cpu.features & K_CPU_VNNI)) { TEST_EXPECT(1); printf("SKIP gemm_q8: the CPU lacks AVX-512 VNNI\n"); return 0; }
    TEST_EXPECT(3 * 7 + 3 * 7 + 3);
    static const int Ks[] = {32, 96, 1024};
    static const int ns[] = {1, 5, 8, 13, 50, 70, 203};
    const int rows = 37;
    for (int ki = 0; ki < 3; ki++) {
        const int K = Ks[ki];
        size_t rb = k_row_bytes(QWEN3_Q8_0, K), ab = kq_act_row_bytes(KACT_A8_0, K);
        float *wf = malloc(sizeof(float) * (size_t)K);
        uint8_t *W = malloc(rb * rows);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < K; c++) wf[c] = frand() * (r % 3 ? 1.0f : 100.0f);
            kq_quantize_row(QWEN3_Q8_0, wf, W + (size_t)r * rb, K);
        }
        kmat M = {QWEN3_Q8_0, W, rows, K, rb, 0};
        uint8_t *A = malloc(ab * 203);
        for (int t = 0; t < 203; t++) {
            for (int c = 0; c < K; c++) wf[c] = frand() * 4.0f;
            kq_act_quant_row(KACT_A8_0, wf, A + (size_t)t * ab, K);
        }
        for (int ni = 0; ni < 7; ni++) {
            const int n = ns[ni];
            float *y = calloc((size_t)n * rows, sizeof(float));
            k_qmatmul_rows(&cpu.type[QWEN3_Q8_0], &M, A, ab, n, y, 0, 8);
            k_qmatmul_rows(&cpu.type[QWEN3_Q8_0], &M, A, ab, n, y, 8, rows);
            int bad = 0;
            for (int t = 0; t < n && !bad; t++)
                for (int r = 0; r < rows; r++) {
                    float s = kq_dot_q8_0_scalar(W + (size_t)r * rb, A + (size_t)t * ab, K);
                    if (memcmp(&s, &y[(size_t)t * rows + r], 4)) {
                        printf("  token %d row %d: %.9g, scalar %.9g\n", t, r, y[(size_t)t * rows + r], s);
                        bad = 1;
                        break;
                    }
                }
            char name[128];
            snprintf(name, sizeof name, "gemm_q8: Q8_0 AVX-512 VNNI == scalar twin bit for bit (K=%d, n=%d)", K, n);
            CHECK(!bad, name, "differs");
            free(y);
        }
        /* interleaved by 16 rows: 64 rows (the first 37 above and 27 more), split at 16 as two
         * threads would: one group, then three (two in step, as the one-token kernel reads them,
         * and one alone) */
        const int irows = 64;
        uint8_t *Wil = malloc(rb * irows), *P = malloc(rb * irows), *row = malloc(rb);
        memcpy(Wil, W, rb * rows);
        for (int r = rows; r < irows; r++) {
            for (int c = 0; c < K; c++) wf[c] = frand();
            kq_quantize_row(QWEN3_Q8_0, wf, Wil + (size_t)r * rb, K);
        }
        k_il_pack(QWEN3_Q8_0, Wil, rb, irows, K, P);
        kmat IM = {QWEN3_Q8_0, P, irows, K, rb, 16}, RM = {QWEN3_Q8_0, Wil, irows, K, rb, 0};
        int rt = k_il_rows(QWEN3_Q8_0) == 16 && memcmp(Wil, P, rb * irows) != 0;
        float *f0 = malloc(sizeof(float) * (size_t)K), *f1 = malloc(sizeof(float) * (size_t)K);
        for (int r = 0; r < irows && rt; r++) {
            k_il_row(&IM, r, row);
            k_row_to_float(&IM, r, f0);
            k_row_to_float(&RM, r, f1);
            rt = !memcmp(row, Wil + (size_t)r * rb, rb) && !memcmp(f0, f1, sizeof(float) * (size_t)K);
        }
        char rname[128];
        snprintf(rname, sizeof rname, "gemm_q8: interleaved Q8_0 gives back every row's bytes and values (K=%d)", K);
        CHECK(rt, rname, "a row differs after k_il_pack / k_il_row");
        for (int ni = 0; ni < 7; ni++) {
            const int n = ns[ni];
            float *y = calloc((size_t)n * irows, sizeof(float));
            k_qmatmul_rows(&cpu.type[QWEN3_Q8_0], &IM, A, ab, n, y, 0, 16);
            k_qmatmul_rows(&cpu.type[QWEN3_Q8_0], &IM, A, ab, n, y, 16, irows);
            int bad = 0;
            for (int t = 0; t < n && !bad; t++)
                for (int r = 0; r < irows; r++) {
                    float s = kq_dot_q8_0_scalar(Wil + (size_t)r * rb, A + (size_t)t * ab, K);
                    if (memcmp(&s, &y[(size_t)t * irows + r], 4)) {
                        printf("  token %d row %d: %.9g, scalar %.9g\n", t, r, y[(size_t)t * irows + r], s);
                        bad = 1;
                        break;
                    }
                }
            char name[128];
            snprintf(name, sizeof name, "gemm_q8: interleaved Q8_0 == scalar twin bit for bit (K=%d, n=%d)", K, n);
            CHECK(!bad, name, "differs");
            free(y);
        }
        free(Wil); free(P); free(row); free(f0); free(f1);
        free(wf); free(W); free(A);
    }
    return test_exit();
}
