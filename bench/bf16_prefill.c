/* bf16_prefill.c - the two bf16 prefill kernels alone on the Qwen3-0.6B's four products (q/k/v
 * 4096 x 1024, gate/up 6144 x 1024, o 1024 x 2048, down 1024 x 3072), 512 tokens, one thread,
 * as shares of the one-thread bf16 peak measured in the same run: the default path's bf16
 * dots (dot_bf16.c, rows interleaved by 4 as a loaded model's are) and --batch-variant's bf16 GEMM
 * (gemm_bf16.c). "memory": the whole matrix, 4-12 MB, streamed from memory once per product; "cache":
 * its first 96 rows (one panel) again and again, the weights in L2 (the 512 tokens' inputs, 1-3 MB,
 * are not). The weights' values do not change the time, so they are a fixed pattern. Each figure
 * is the best of 5 wall-clock passes (one thread, so the machine's other load shows as a lower
 * best); GFLOP/s printed as a share of the peak.
 *
 * A third column is a probe, not a kernel of the engine: the layout a next bf16 prefill could take,
 * rows in the lanes (groups of 16 rows stored [column pair][16 rows], one 64-byte load a step for 16
 * rows), a tile of 32 rows x 12 tokens whose 24 accumulators each sum one (row, token) over the
 * column pairs in order with the token's pair broadcast, and Y stored 16 rows at a time: no panel
 * packing (the GEMM's), no 16-lane reduction per (row, token) (the dots'). Each (row, token) is one
 * lane's chain, as in the GEMM, so a one-token kernel with 16 rows in the lanes could give the same
 * bits (batch invariance) at the memory's speed. Its results are not checked here (the data is a
 * pattern); the tests check the engine's kernels. Run: bench/bf16.sh */
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

#define PNT 12 /* the probe's tile: 32 rows x PNT tokens */
#if defined(__x86_64__)
#include <immintrin.h>
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define PKB 1024 /* columns per block: 12 tokens' pairs of a block (24 KB) stay in L1 */

/* 32 rows (groups g0, g1) x PNT tokens of x (pairs, rows xs pairs apart), column pairs [c0, c1) */
TGT static inline __attribute__((always_inline)) void probe_tile(const uint32_t *g0, const uint32_t *g1, const uint32_t *x, size_t xs,
                                                                 int64_t c0, int64_t c1, int first, float *st, float *y, size_t ldy,
                                                                 int last) {
    __m512 a0[PNT], a1[PNT];
    _Pragma("GCC unroll 16") for (int t = 0; t < PNT; t++) {
        a0[t] = first ? _mm512_setzero_ps() : _mm512_load_ps(st + 32 * t);
        a1[t] = first ? _mm512_setzero_ps() : _mm512_load_ps(st + 32 * t + 16);
    }
    for (int64_t c = c0; c < c1; c++) {
        __m512bh w0 = (__m512bh)_mm512_load_si512(g0 + 16 * c), w1 = (__m512bh)_mm512_load_si512(g1 + 16 * c);
        _Pragma("GCC unroll 16") for (int t = 0; t < PNT; t++) {
            __m512bh xb = (__m512bh)_mm512_set1_epi32((int)x[(size_t)t * xs + (size_t)c]);
            a0[t] = _mm512_dpbf16_ps(a0[t], w0, xb);
            a1[t] = _mm512_dpbf16_ps(a1[t], w1, xb);
        }
    }
    _Pragma("GCC unroll 16") for (int t = 0; t < PNT; t++) {
        if (last) {
            _mm512_storeu_ps(y + (size_t)t * ldy, a0[t]);
            _mm512_storeu_ps(y + (size_t)t * ldy + 16, a1[t]);
        } else {
            _mm512_store_ps(st + 32 * t, a0[t]);
            _mm512_store_ps(st + 32 * t + 16, a1[t]);
        }
    }
}

/* R x K (R a multiple of 32) times n tokens (a multiple of PNT): panels of rows in L2, tiles of PNT
 * tokens, blocks of PKB columns with the sums carried */
TGT static void probe(const uint32_t *W, int64_t R, int64_t K, const uint32_t *X, int n, float *Y) {
    const int64_t K2 = K / 2;
    const size_t gsz = (size_t)K2 * 16;
    int64_t PR = (192 * 1024) / (K * 2) / 32 * 32;
    PR = PR < 32 ? 32 : PR > 2048 ? 2048 : PR;
    static float st[64][PNT * 32] __attribute__((aligned(64)));
    for (int64_t p0 = 0; p0 < R; p0 += PR) {
        int64_t p1 = p0 + PR < R ? p0 + PR : R;
        for (int t = 0; t + PNT <= n; t += PNT)
            for (int64_t c0 = 0; c0 < K2; c0 += PKB / 2) {
                int64_t c1 = c0 + PKB / 2 < K2 ? c0 + PKB / 2 : K2;
                for (int64_t r = p0; r < p1; r += 32)
                    probe_tile(W + (size_t)(r / 16) * gsz, W + (size_t)(r / 16 + 1) * gsz, X + (size_t)t * (size_t)K2, (size_t)K2, c0, c1,
                               c0 == 0, st[((r - p0) / 32) % 64], Y + (size_t)t * (size_t)R + (size_t)r, (size_t)R, c1 == K2);
            }
    }
}
#else
static void probe(const uint32_t *W, int64_t R, int64_t K, const uint32_t *X, int n, float *Y) {
    (void)W, (void)R, (void)K, (void)X, (void)n, (void)Y;
}
#endif

/* best of 5 passes of `reps` products of rows [0, R) over n tokens; kind 0: the dots, 1: the GEMM,
 * 2: the probe (over the tokens that fill whole tiles) */
static double best_of(int kind, const kmat *W, const uint16_t *Xb, const uint32_t *Xp, int n, float *Y, void *scratch, int reps) {
    double best = 1e9;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now();
        for (int r = 0; r < reps; r++) {
            if (kind == 0) k_dot_bf16_il_avx512(W, Xb, n, Y, 0, W->rows);
            else if (kind == 1) k_gemm_bf16_rows_avx512(W, Xp, n, Y, 0, W->rows, scratch);
            else probe(W->data, W->rows, W->cols, (const uint32_t *)Xb, n - n % PNT, Y);
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
    printf("%-8s %-12s %-34s %-34s %s\n", "product", "shape", "bf16 dots (default path)", "bf16 GEMM (--batch-variant)",
           "rows in lanes (probe)");
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
        for (int kind = 0; kind < 3; kind++) {
            kmat full = {QWEN3_BF16, w, R, K, sizeof(uint16_t) * (size_t)K, kind == 0 ? 4 : 0}, part = full;
            part.rows = 96;
            double tm = best_of(kind, &full, Xb, Xp, n, Y, scratch, 1), tc = best_of(kind, &part, Xb, Xp, n, Y, scratch, 8);
            int nk = kind == 2 ? n - n % PNT : n; /* the tokens the pass computed */
            double gm = 2.0 * R * K * nk / tm * 1e-9, gc = 2.0 * 96 * K * nk / tc * 1e-9;
            printf("%s  memory %5.1f%%  cache %5.1f%%", kind ? "    " : "", 100 * gm / peak, 100 * gc / peak);
        }
        printf("\n");
        free(w); free(Xb); free(X); free(Y); free(Xp); free(scratch);
    }
    return 0;
}
