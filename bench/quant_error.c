/* quant_error.c - per weight type, the error of quantizing gaussian weights and the error of the
 * decode dot product (the README's per-type table under "Speed and quantization"). 64 rows x 1024
 * weights drawn from N(0, 0.05) and one activation row from N(0, 1), from a fixed seed: the weights'
 * relative rms quantization error (sqrt(sum (w - deq(w))^2 / sum w^2)), and the dot product of each
 * quantized row with the activations quantized to the type's int8 format, by the type's scalar dot
 * (every SIMD kernel gives its bits or is within 1e-5 of sum |w x| of them, tests/unit/test_kernels.c
 * and test_gemm_ggml.c), against a double-precision dot of the dequantized row, relative to
 * sum |deq(w) x|: mean and worst over the rows. What that last error measures is the activations'
 * int8 rounding. Run: bench/quant_error.sh */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double unif(void) { /* xorshift64*, (0, 1) */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return ((double)((rng * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2.0 * log(unif())) * cos(6.283185307179586 * unif()); }

int main(void) {
    enum { ROWS = 64, COLS = 1024 };
    const qwen3_dtype types[] = {QWEN3_Q8_0, QWEN3_Q4, QWEN3_Q4_0, QWEN3_Q4_1, QWEN3_Q5_0, QWEN3_Q5_1, QWEN3_IQ4_NL,
                                 QWEN3_Q2_K, QWEN3_Q3_K, QWEN3_Q4_K, QWEN3_Q5_K, QWEN3_Q6_K, QWEN3_IQ4_XS};
    const int nt = (int)(sizeof types / sizeof types[0]);
    static float W[ROWS * COLS], Wd[ROWS * COLS], X[COLS];
    for (int i = 0; i < ROWS * COLS; i++) W[i] = (float)(0.05 * gauss());
    for (int i = 0; i < COLS; i++) X[i] = (float)gauss();
    double rms[16], emean[16], emax[16];
    for (int k = 0; k < nt; k++) {
        qwen3_dtype t = types[k];
        const kq_traits *tr = kq_type(t);
        size_t rb = k_row_bytes(t, COLS), ab = kq_act_row_bytes(tr->act, COLS);
        uint8_t *Q = malloc(rb * ROWS), *A = aligned_alloc(64, (ab + 63) / 64 * 64);
        if (!Q || !A) { fprintf(stderr, "quant_error: out of memory\n"); return 1; }
        double se = 0, ss = 0;
        for (int r = 0; r < ROWS; r++) {
            kq_quantize_row(t, W + r * COLS, Q + r * rb, COLS);
            kq_dequant_row(t, Q + r * rb, Wd + r * COLS, COLS);
            for (int c = 0; c < COLS; c++) {
                double d = (double)Wd[r * COLS + c] - W[r * COLS + c];
                se += d * d;
                ss += (double)W[r * COLS + c] * W[r * COLS + c];
            }
        }
        rms[k] = sqrt(se / ss);
        kq_act_quant_row(tr->act, X, A, COLS);
        emean[k] = emax[k] = 0;
        for (int r = 0; r < ROWS; r++) {
            double ref = 0, S = 0;
            for (int c = 0; c < COLS; c++) {
                ref += (double)Wd[r * COLS + c] * X[c];
                S += fabs((double)Wd[r * COLS + c] * X[c]);
            }
            double e = fabs((double)tr->dot(Q + r * rb, A, COLS) - ref) / S;
            emean[k] += e / ROWS;
            if (e > emax[k]) emax[k] = e;
        }
        free(Q);
        free(A);
    }
    printf("| type |");
    for (int k = 0; k < nt; k++) printf(" %s |", kq_type(types[k])->name);
    printf("\n|---|");
    for (int k = 0; k < nt; k++) printf("--:|");
    printf("\n| weight rms error |");
    for (int k = 0; k < nt; k++) printf(" %.3g |", rms[k]);
    printf("\n| dot error / sum abs(w·x), mean of rows |");
    for (int k = 0; k < nt; k++) printf(" %.1e |", emean[k]);
    printf("\n| dot error / sum abs(w·x), worst row |");
    for (int k = 0; k < nt; k++) printf(" %.1e |", emax[k]);
    printf("\n\n%d rows x %d weights from N(0, 0.05), activations from N(0, 1); the scalar dot kernels\n", ROWS, COLS);
    return 0;
}
