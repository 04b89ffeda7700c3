/* test_dot_bf16.c - the bf16 dot-product kernels (kernels/dot_bf16.c), the batch-invariant fast path
 * of BF16 weights:
 *   - the scalar twin against a double-precision sum of the same bf16-rounded values, within
 *     (K + 1) * 2^-24 * sum |w x| (only the float32 summation differs: one chain of K rounded sums);
 *   - a token's bits do not depend on how many tokens share the product (n = 1, 5, 13, 50: every
 *     tile width of the AVX-512 kernel, 12 tokens and a rest);
 *   - the AVX512_BF16 kernel equals the scalar twin bit for bit (one lane per row, the same order),
 *     rows split unevenly as threads would (whole and partial groups of 16 of the row-major path);
 *   - k_matmul_act on the fast path (exact off) takes that kernel, for 1 to 50 tokens;
 *   - K odd and not a multiple of 32; rows not a multiple of 16; K of 2085 (odd: the last pair half
 *     zero) and 2082 (the row-major kernel's blocks of 1,024 columns, the sums carried); 101 rows;
 *   - the instruction's implied DAZ / FTZ: denormal bf16 inputs, products and sums that underflow,
 *     which the scalar twin flushes as vdpbf16ps does;
 *   - the AVX-512 rounding of activations to bf16 has k_f32_to_bf16's bits (NaN, inf, denormals, ties);
 *   - the interleaved layout (kernels/repack.c: 16 rows per group, each column pair of the 16 rows in
 *     one vector): k_il_row gives each row back; its AVX512_BF16 kernel (one token: two groups in
 *     step, then one alone; more: tiles of 32 and 16 rows, blocks of 1,024 columns at K = 3072 with
 *     the sums carried) and its scalar twin, and k_matmul_act on such a matrix, equal the row-major
 *     scalar twin bit for bit for n = 1, 5, 13, 50, rows split in groups as threads would.
 * Values span 2^-20..2^20 in magnitude so that sums round often. Without AVX512_BF16 the SIMD checks
 * print SKIP. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "test.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static float frand(void) { return (float)((double)(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }
/* a value of random sign and magnitude in 2^-20 .. 2^20, some rows plain */
static float wide(void) { return ldexpf(frand(), (int)(next() % 41) - 20); }

#define NK 7
#define NN 4
#define NIL 3

static int ns_il(int i) { static const int v[NN] = {1, 5, 13, 50}; return v[i]; }

int main(void) {
    static const int colss[NK] = {64, 1000, 2, 130, 33, 2085, 2082};
    static const int ns[NN] = {1, 5, 13, 50};
    const int rows = 101, nmax = 50;
    TEST_EXPECT(NK * (1 + 3 * NN) + 2 + NIL * (2 + 3 * NN));
    for (int ci = 0; ci < NK; ci++) {
        const int K = colss[ci];
        uint16_t *W = malloc(sizeof(uint16_t) * (size_t)rows * K);
        for (int i = 0; i < rows * K; i++) W[i] = k_f32_to_bf16(i % 3 ? frand() : wide());
        kmat M = {QWEN3_BF16, W, rows, K, (size_t)K * 2, 0};
        float *X = malloc(sizeof(float) * (size_t)nmax * K);
        for (int i = 0; i < nmax * K; i++) X[i] = i % 5 ? frand() * 3.0f : wide();
        uint16_t *Xb = malloc(sizeof(uint16_t) * (size_t)nmax * K);
        k_x_to_bf16_rows(X, K, Xb, 0, nmax);
        /* each token alone (n = 1) through the scalar twin, checked against double */
        float *ys1 = malloc(sizeof(float) * (size_t)nmax * rows);
        double worst = 0;
        for (int t = 0; t < nmax; t++) {
            k_dot_bf16_rows_scalar(&M, Xb + (size_t)t * K, 1, ys1 + (size_t)t * rows, 0, rows);
            for (int r = 0; r < rows; r++) {
                double s = 0, S = 0;
                for (int c = 0; c < K; c++) {
                    double p = (double)k_bf16_to_f32(W[(size_t)r * K + c]) * k_bf16_to_f32(Xb[(size_t)t * K + c]);
                    s += p;
                    S += fabs(p);
                }
                double e = fabs(ys1[(size_t)t * rows + r] - s) / (S > 0 ? S : 1);
                if (!(e <= worst)) worst = e;
            }
        }
        /* one float32 chain of K rounded sums (two a pair): at most K * 2^-24 of sum |w x| */
        const double bound = (double)(K + 1) * 0x1p-24;
        char name[160];
        snprintf(name, sizeof name, "dot_bf16 scalar vs double, K=%d (worst %.2g of sum|wx|, bound %.2g)", K, worst, bound);
        CHECK(worst <= bound, name, "worst %g", worst);
        for (int ni = 0; ni < NN; ni++) {
            const int n = ns[ni];
            float *ys = malloc(sizeof(float) * (size_t)n * rows), *yv = malloc(sizeof(float) * (size_t)n * rows);
            k_dot_bf16_rows_scalar(&M, Xb, n, ys, 0, rows);
            snprintf(name, sizeof name, "dot_bf16 scalar: a token's bits do not depend on n (K=%d, n=%d)", K, n);
            CHECK(!memcmp(ys, ys1, sizeof(float) * (size_t)n * rows), name, "differs");
            if (k_cpu_default()->features & K_CPU_BF16) {
                memset(yv, 0xff, sizeof(float) * (size_t)n * rows);
                k_dot_bf16_rows_avx512(&M, Xb, n, yv, 0, 8);
                k_dot_bf16_rows_avx512(&M, Xb, n, yv, 8, 13);
                k_dot_bf16_rows_avx512(&M, Xb, n, yv, 13, rows);
                snprintf(name, sizeof name, "dot_bf16 avx512bf16 == scalar bit for bit (K=%d, n=%d)", K, n);
                CHECK(!memcmp(yv, ys1, sizeof(float) * (size_t)n * rows), name, "differs");
                kact a;
                kact_init(&a, k_cpu_default(), 0);
                a.gemm_min = K_GEMM_NEVER;
                kact_set(&a, X, n, K);
                memset(yv, 0xff, sizeof(float) * (size_t)n * rows);
                k_matmul_act(NULL, &M, &a, yv);
                kact_free(&a);
                snprintf(name, sizeof name, "k_matmul_act BF16 fast path == dot_bf16 per token (K=%d, n=%d)", K, n);
                CHECK(!memcmp(yv, ys1, sizeof(float) * (size_t)n * rows), name, "differs");
            } else {
                snprintf(name, sizeof name, "dot_bf16 avx512bf16 (K=%d, n=%d)", K, n);
                TEST_SKIP(name, "the CPU lacks AVX512_BF16");
                snprintf(name, sizeof name, "k_matmul_act BF16 fast path (K=%d, n=%d)", K, n);
                TEST_SKIP(name, "the CPU lacks AVX512_BF16");
            }
            free(ys);
            free(yv);
        }
        free(W);
        free(X);
        free(Xb);
        free(ys1);
    }
    /* underflow, as vdpbf16ps does it (DAZ / FTZ), rows of one kind each: 0 products below 2^-126
     * (2^-70 * 2^-70); 1 bf16 denormal weights times 2^100; 2 denormal activations times 2^100 weights;
     * 3 a pair whose sum cancels to a denormal (1.5 * 2^-126 - 2^-126); 4..7 those mixed with ordinary
     * values. Without the flushes each row 0..3 would be a non-zero result. */
    {
        const int K = 64, R = 8;
        uint16_t *W = malloc(sizeof(uint16_t) * (size_t)R * K), *Xb = malloc(sizeof(uint16_t) * (size_t)R * K);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < K; c++) {
                float w, x;
                switch (r % 4) {
                case 0: w = ldexpf(1.0f + frand() / 4, -70); x = ldexpf(1.0f + frand() / 4, -70); break;
                case 1: w = ldexpf(frand(), -130); x = ldexpf(1.0f, 100); break;
                case 2: w = ldexpf(frand(), 100); x = ldexpf(frand(), -131); break;
                default: w = c % 2 ? ldexpf(1.5f, -63) : -ldexpf(1.0f, -63); x = ldexpf(1.0f, -63); break;
                }
                if (r >= 4 && c % 4 == 0) w = frand(), x = frand();
                W[r * K + c] = k_f32_to_bf16(w);
                Xb[r * K + c] = k_f32_to_bf16(x);
            }
        /* row r against activation row r: n = R tokens, the diagonal */
        kmat M = {QWEN3_BF16, W, R, K, (size_t)K * 2, 0};
        float ys[64], yv[64];
        k_dot_bf16_rows_scalar(&M, Xb, R, ys, 0, R);
        if (k_cpu_default()->features & K_CPU_BF16) {
            k_dot_bf16_rows_avx512(&M, Xb, R, yv, 0, R);
            int zeros = 0;
            for (int r = 0; r < 4; r++) zeros += ys[r * R + r] == 0.0f;
            CHECK(!memcmp(ys, yv, sizeof ys) && zeros == 4, "dot_bf16 denormal inputs, products and sums: avx512bf16 == scalar",
                  "%s, %d of the 4 all-underflow rows are zero", memcmp(ys, yv, sizeof ys) ? "differs" : "same bits", zeros);
        } else
            TEST_SKIP("dot_bf16 denormals", "the CPU lacks AVX512_BF16");
        free(W);
        free(Xb);
    }
    /* the AVX-512 rounding of activations against k_f32_to_bf16 on random bit patterns, with NaNs,
     * infinities, denormals and exact ties among them, and a row range that ends mid-vector */
    {
        const int N = 1 << 16;
        uint32_t *u = malloc(sizeof(uint32_t) * N);
        uint16_t *hs = malloc(sizeof(uint16_t) * N), *hv = malloc(sizeof(uint16_t) * N);
        for (int i = 0; i < N; i++) {
            u[i] = (uint32_t)(next() >> 32);
            if (i % 7 == 0) u[i] &= 0x807fffffu;                     /* denormal or zero */
            if (i % 11 == 0) u[i] |= 0x7f800000u;                    /* infinity or NaN */
            if (i % 13 == 0) u[i] = (u[i] & 0xffff0000u) | 0x8000u;  /* a tie */
        }
        float *f = malloc(sizeof(float) * N);
        memcpy(f, u, sizeof(float) * N);
        for (int i = 0; i < N; i++) hs[i] = k_f32_to_bf16(f[i]);
        memset(hv, 0, sizeof(uint16_t) * N);
        k_x_to_bf16_rows_avx512(f, 1000, hv, 0, N / 1000);
        k_x_to_bf16_rows_avx512(f, 7, hv, N / 7 - 3, N / 7);
        int same = !memcmp(hs, hv, sizeof(uint16_t) * (N / 1000) * 1000) &&
                   !memcmp(hs + (N / 7 - 3) * 7, hv + (N / 7 - 3) * 7, sizeof(uint16_t) * 21);
        if (k_cpu_default()->isa == K_ISA_AVX512) CHECK(same, "k_x_to_bf16_rows_avx512 == k_f32_to_bf16 (NaN, inf, denormals, ties)", "differs");
        else TEST_SKIP("k_x_to_bf16_rows_avx512", "the CPU lacks AVX-512");
        free(u); free(hs); free(hv); free(f);
    }
    /* the interleaved layout */
    for (int ki = 0; ki < NIL; ki++) {
        static const int ilk[NIL] = {64, 1024, 3072};
        const int K = ilk[ki], R = 48, nmax = 50;
        char name[160];
        uint16_t *W = malloc(sizeof(uint16_t) * (size_t)R * K), *P = malloc(sizeof(uint16_t) * (size_t)R * K);
        for (int i = 0; i < R * K; i++) W[i] = k_f32_to_bf16(i % 3 ? frand() : wide());
        float *X = malloc(sizeof(float) * (size_t)nmax * K);
        for (int i = 0; i < nmax * K; i++) X[i] = i % 5 ? frand() * 3.0f : wide();
        uint16_t *Xb = malloc(sizeof(uint16_t) * (size_t)nmax * K), *row = malloc(sizeof(uint16_t) * (size_t)K);
        k_x_to_bf16_rows(X, K, Xb, 0, nmax);
        kmat M = {QWEN3_BF16, W, R, K, (size_t)K * 2, 0};
        CHECK(k_il_fits(QWEN3_BF16, R, K) == 16 && !k_il_fits(QWEN3_BF16, R, K + 2) && !k_il_fits(QWEN3_BF16, R - 8, K),
              "BF16 interleaved layout: 16 rows, columns in steps of 32", "k_il_fits %d", k_il_fits(QWEN3_BF16, R, K));
        k_il_pack(QWEN3_BF16, W, (size_t)K * 2, R, K, P);
        kmat I = {QWEN3_BF16, P, R, K, (size_t)K * 2, 16};
        int back = memcmp(P, W, sizeof(uint16_t) * (size_t)R * K) != 0; /* rearranged at all */
        for (int r = 0; r < R; r++) {
            k_il_row(&I, r, row);
            back &= !memcmp(row, W + (size_t)r * K, sizeof(uint16_t) * (size_t)K);
        }
        snprintf(name, sizeof name, "BF16 interleaved: k_il_row gives every row back (K=%d)", K);
        CHECK(back, name, "differs");
        for (int ni = 0; ni < NN; ni++) {
            const int n = ns_il(ni);
            float *ys = malloc(sizeof(float) * (size_t)n * R), *yv = malloc(sizeof(float) * (size_t)n * R);
            k_dot_bf16_rows_scalar(&M, Xb, n, ys, 0, R);
            memset(yv, 0xff, sizeof(float) * (size_t)n * R);
            k_dot_bf16_il_scalar(&I, Xb, n, yv, 0, 16);
            k_dot_bf16_il_scalar(&I, Xb, n, yv, 16, R);
            snprintf(name, sizeof name, "dot_bf16 interleaved scalar twin == row-major (K=%d, n=%d)", K, n);
            CHECK(!memcmp(yv, ys, sizeof(float) * (size_t)n * R), name, "differs");
            if (k_cpu_default()->features & K_CPU_BF16) {
                memset(yv, 0xff, sizeof(float) * (size_t)n * R);
                k_dot_bf16_il_avx512(&I, Xb, n, yv, 0, 32); /* groups 0-1 in step, then group 2 alone */
                k_dot_bf16_il_avx512(&I, Xb, n, yv, 32, R);
                snprintf(name, sizeof name, "dot_bf16 interleaved avx512bf16 == row-major scalar bit for bit (K=%d, n=%d)", K, n);
                CHECK(!memcmp(yv, ys, sizeof(float) * (size_t)n * R), name, "differs");
                kact a;
                kact_init(&a, k_cpu_default(), 0);
                a.gemm_min = K_GEMM_NEVER;
                kact_set(&a, X, n, K);
                memset(yv, 0xff, sizeof(float) * (size_t)n * R);
                k_matmul_act(NULL, &I, &a, yv);
                kact_free(&a);
                snprintf(name, sizeof name, "k_matmul_act on interleaved BF16 == row-major scalar (K=%d, n=%d)", K, n);
                CHECK(!memcmp(yv, ys, sizeof(float) * (size_t)n * R), name, "differs");
            } else {
                snprintf(name, sizeof name, "dot_bf16 interleaved avx512bf16 (K=%d, n=%d)", K, n);
                TEST_SKIP(name, "the CPU lacks AVX512_BF16");
                snprintf(name, sizeof name, "k_matmul_act on interleaved BF16 (K=%d, n=%d)", K, n);
                TEST_SKIP(name, "the CPU lacks AVX512_BF16");
            }
            free(ys);
            free(yv);
        }
        free(W); free(P); free(X); free(Xb); free(row);
    }
    return test_exit();
}
