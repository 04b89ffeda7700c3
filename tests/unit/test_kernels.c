/* test_kernels.c - every weight type x every path x every ISA against a double-precision reference
 * and against its scalar twin, on odd sizes, with a poisoned guard band after each output.
 *
 * Reference: sum_c Wd[r][c] * X[t][c] in double, Wd the dequantized weights (so the weights' own
 * quantization error is not counted; it is measured separately below). Errors are relative to
 * S = sum_c |Wd[r][c] X[t][c]|, the natural scale of a dot product's rounding error. Tolerances:
 *   float32 path (all types)          1e-5 S      float32 sums of exact products
 *   integer path (Q8_0, Q4)           the activation quantization bound: sum over blocks of
 *                                     sum|w| * amax(x block) / 127, plus 1e-5 S
 *   bf16 GEMM (BF16, Q8_0, Q4)        2^-7 S      x (and dequantized w) rounded to bf16 (2^-9 each)
 *   SIMD vs scalar twin               1e-5 S      same inputs, summation order only
 * Rows include an all-zero row and rows of huge and tiny values; every product also runs on 1 and
 * 2 threads, which must agree bit for bit. Attention (F32/F16/BF16 caches) and the weight
 * quantizers (round-trip error bounds) are checked too. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "test.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (double)(rng >> 11) / 9007199254740992.0; }
static float grand(void) { return (float)(sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand())); }

#define GUARD 64
static const uint32_t POISON = 0x7fc0dead;

static float *alloc_out(size_t n) {
    float *y = malloc(sizeof(float) * (n + GUARD));
    for (size_t i = 0; i < n + GUARD; i++) memcpy(&y[i], &POISON, 4);
    return y;
}
static int guard_ok(const float *y, size_t n) {
    for (size_t i = n; i < n + GUARD; i++)
        if (memcmp(&y[i], &POISON, 4)) return 0;
    return 1;
}

/* weights of rows x cols as floats: row 0 all zero, row 1 huge, row 2 tiny, the rest gaussian */
static void fill_weights(float *w, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float v = grand();
            w[(size_t)r * cols + c] = r == 0 ? 0.0f : r == 1 ? v * 3e3f : r == 2 ? v * 1e-4f : v * 0.05f;
        }
}

typedef struct { const char *name; qwen3_dtype t; int cols; } tcase;

/* error of y against the double reference, with its bound, for one path */
static int check_path(const char *label, const float *Wd, const float *X, const float *Y, int rows, int cols, int n,
                      int path /* 0 f32, 1 int, 2 gemm */, kact_type at, double *worst) {
    int ok = 1;
    for (int t = 0; t < n; t++) {
        const float *x = X + (size_t)t * cols;
        for (int r = 0; r < rows; r++) {
            const float *w = Wd + (size_t)r * cols;
            double ref = 0, S = 0, qb = 0;
            for (int c = 0; c < cols; c++) { ref += (double)w[c] * x[c]; S += fabs((double)w[c] * x[c]); }
            if (path == 1) {
                int B = at == KACT_A8_K ? 256 : 32;
                for (int b = 0; b < cols / B; b++) {
                    double sw = 0, am = 0;
                    for (int c = b * B; c < (b + 1) * B; c++) { sw += fabs(w[c]); am = fmax(am, fabs(x[c])); }
                    qb += sw * am / 127.0;
                }
            }
            double tol = path == 0 ? 1e-5 * S : path == 1 ? qb + 1e-5 * S : S / 128.0;
            tol += 1e-30;
            double err = fabs(Y[(size_t)t * rows + r] - ref);
            if (err / (S + 1e-30) > *worst) *worst = err / (S + 1e-30);
            if (!(err <= tol)) {
                if (ok) printf("  %s: row %d token %d: got %g, want %g (error %g > bound %g)\n", label, r, t, Y[(size_t)t * rows + r], ref, err, tol);
                ok = 0;
            }
        }
    }
    return ok;
}

static int close_to(const float *a, const float *b, const float *Wd, const float *X, int rows, int cols, int n) {
    for (int t = 0; t < n; t++)
        for (int r = 0; r < rows; r++) {
            double S = 0;
            for (int c = 0; c < cols; c++) S += fabs((double)Wd[(size_t)r * cols + c] * X[(size_t)t * cols + c]);
            if (!(fabs(a[(size_t)t * rows + r] - b[(size_t)t * rows + r]) <= 1e-5 * S + 1e-30)) return 0;
        }
    return 1;
}

/* relative rms round-trip error allowed on gaussian rows: about 1.2x what each type measures */
static double roundtrip_bound(qwen3_dtype t) {
    switch (t) {
    case QWEN3_Q2_K: return 0.35;
    case QWEN3_Q3_K: return 0.19;
    case QWEN3_Q5_0: case QWEN3_Q5_1: case QWEN3_Q5_K: return 0.05;
    case QWEN3_Q6_K: return 0.022;
    default: return 0.11; /* 4-bit types (Q4_K gets ~0.09) */
    }
}

/* The kernel tables this file compares, each passed to the code under test: cpus[isa] the best of
 * each instruction set this CPU has (AVX2 with AVX-VNNI where present), plain_avx2 AVX2 without
 * AVX-VNNI (its integer kernels use vpmaddubsw); have[isa] whether the CPU has the set. */
static kcpu cpus[3], plain_avx2, avx512_novnni;
static int have[3];
static void fill_tables(void) {
    kcpu_init(&cpus[K_ISA_SCALAR], 0);
    kcpu_init(&cpus[K_ISA_AVX2], K_CPU_AVX2 | K_CPU_AVXVNNI);
    kcpu_init(&cpus[K_ISA_AVX512], K_CPU_ALL);
    kcpu_init(&plain_avx2, K_CPU_AVX2);
    /* AVX-512 without VNNI (Skylake-SP): its attention over quantized caches scores through the
     * generic integer twins (kernels/attn_q.h) and must give the VNNI table's bits */
    kcpu_init(&avx512_novnni, K_CPU_ALL & ~(unsigned)K_CPU_VNNI);
    for (int i = 0; i < 3; i++) have[i] = cpus[i].isa == (k_isa)i;
}

static void test_type(const tcase *tc, qpool *p1, qpool *p2) {
    const int rows = 37, cols = tc->cols, ns[] = {1, 3, 5, 17, 35};
    const kq_traits *tr = kq_type(tc->t);
    float *W = malloc(sizeof(float) * rows * cols), *Wd = malloc(sizeof(float) * rows * cols);
    fill_weights(W, rows, cols);
    size_t rb = k_row_bytes(tc->t, cols);
    uint8_t *Wq = malloc(rb * rows + 64);
    for (int r = 0; r < rows; r++) tr->from_float(W + (size_t)r * cols, Wq + r * rb, cols);
    kmat M = {tc->t, Wq, rows, cols, rb, 0};
    for (int r = 0; r < rows; r++) k_row_to_float(&M, r, Wd + (size_t)r * cols);
    int quant = kq_is_quant(tc->t);
    char name[128];
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int n = ns[k];
        float *X = malloc(sizeof(float) * n * cols);
        for (int i = 0; i < n * cols; i++) X[i] = grand() * (i % 97 == 0 ? 20.0f : 1.0f); /* a few outliers */
        size_t ny = (size_t)n * rows;
        double worst;
        /* float32 path, every ISA the CPU has (AVX2 forced on AVX-512 machines too) */
        static const char *const isa_names[] = {"scalar", "avx2", "avx512"};
        for (int isa = K_ISA_SCALAR; isa <= K_ISA_AVX512; isa++) {
            if (!have[isa]) continue;
            float *y = alloc_out(ny);
            if (!quant) {
                k_matmul(&cpus[isa], p2, &M, X, n, y);
                worst = 0;
                snprintf(name, sizeof name, "%s-f32path-%s-n%d", tc->name, isa_names[isa], n);
                int ok = check_path(name, Wd, X, y, rows, cols, n, 0, KACT_F32, &worst);
                CHECK(ok && guard_ok(y, ny), name, "worst relative error %.3g%s", worst, guard_ok(y, ny) ? "" : ", guard band written");
            }
            if (quant) {
                /* integer path: a8 activations; each ISA's dot kernels (AVX2: plain and, where the
                 * CPU has it, AVX-VNNI; AVX-512: VNNI) against the reference and the scalar twin */
                kact_type at = tr->act;
                size_t ab = kq_act_row_bytes(at, cols);
                uint8_t *A = malloc(ab * n);
                for (int t = 0; t < n; t++) kq_act_quant_row(at, X + (size_t)t * cols, A + t * ab, cols);
                float *ys = alloc_out(ny);
                k_qmatmul_rows(&cpus[K_ISA_SCALAR].type[tc->t], &M, A, ab, n, ys, 0, rows);
                const ktype *modes[2];
                const char *mode_names[2];
                int nm = 0;
                if (isa == K_ISA_SCALAR) modes[nm] = &cpus[isa].type[tc->t], mode_names[nm++] = "scalar";
                if (isa == K_ISA_AVX2) {
                    modes[nm] = &plain_avx2.type[tc->t], mode_names[nm++] = "avx2";
                    if (cpus[isa].features & K_CPU_AVXVNNI) modes[nm] = &cpus[isa].type[tc->t], mode_names[nm++] = "avxvnni";
                }
                if (isa == K_ISA_AVX512 && cpus[isa].features & K_CPU_VNNI) modes[nm] = &cpus[isa].type[tc->t], mode_names[nm++] = "vnni";
                for (int mi = 0; mi < nm; mi++) {
                    for (size_t i = 0; i < ny; i++) memcpy(&y[i], &POISON, 4);
                    /* rows in two uneven pieces, as two threads would */
                    k_qmatmul_rows(modes[mi], &M, A, ab, n, y, 0, 13);
                    k_qmatmul_rows(modes[mi], &M, A, ab, n, y, 13, rows);
                    worst = 0;
                    snprintf(name, sizeof name, "%s-int-%s-n%d", tc->name, mode_names[mi], n);
                    int ok = check_path(name, Wd, X, y, rows, cols, n, 1, at, &worst);
                    CHECK(ok && guard_ok(y, ny), name, "worst relative error %.3g", worst);
                    if (isa != K_ISA_SCALAR) {
                        snprintf(name, sizeof name, "%s-int-%s-vs-scalar-n%d", tc->name, mode_names[mi], n);
                        CHECK(close_to(y, ys, Wd, X, rows, cols, n), name, "%s and scalar dots differ beyond 1e-5 S",
                              mode_names[mi]);
                    }
                    /* every token alone (the single-token kernel) gives the bits it gets within the
                     * batch (the multi-token kernels: full groups of 4 tokens and the remainder, 4
                     * rows and the partial row groups of both pieces) */
                    if (n > 1) {
                        float *y1 = alloc_out(rows);
                        int same = 1;
                        for (int t = 0; t < n; t++) {
                            for (int i = 0; i < rows; i++) memcpy(&y1[i], &POISON, 4);
                            k_qmatmul_rows(modes[mi], &M, A + t * ab, ab, 1, y1, 0, 13);
                            k_qmatmul_rows(modes[mi], &M, A + t * ab, ab, 1, y1, 13, rows);
                            same &= !memcmp(y1, y + (size_t)t * rows, sizeof(float) * rows) && guard_ok(y1, rows);
                        }
                        snprintf(name, sizeof name, "%s-int-%s-token-alone-vs-batch-n%d", tc->name, mode_names[mi], n);
                        CHECK(same, name, "a token's bits depend on the batch");
                        free(y1);
                    }
                }
                free(ys);
                free(A);
            }
            free(y);
        }
        /* dispatch through kact on 1 and 2 threads: identical bits (AVX2 and the best ISA) */
        for (int isa = K_ISA_AVX2; isa <= K_ISA_AVX512; isa++) {
            if (!have[isa]) continue;
            kact a;
            kact_init(&a, &cpus[isa], 0);
            kact_set(&a, X, n, cols);
            float *y1 = alloc_out(ny), *y2 = alloc_out(ny);
            k_matmul_act(p1, &M, &a, y1);
            kact_set(&a, X, n, cols);
            k_matmul_act(p2, &M, &a, y2);
            snprintf(name, sizeof name, "%s-threads-1-vs-2-%s-n%d", tc->name, isa_names[isa], n);
            CHECK(!memcmp(y1, y2, sizeof(float) * ny) && guard_ok(y1, ny) && guard_ok(y2, ny), name, "results depend on the thread count");
            /* the first and last tokens alone give the same bits as within the batch (decode kernel
             * vs the tiles' full and partial widths), unless the batch takes the bf16 GEMM */
            if (n > 1 && !(n >= K_GEMM_MIN_TOKENS && cpus[isa].features & K_CPU_BF16 && (quant || tc->t == QWEN3_BF16))) {
                float *y3 = alloc_out(rows);
                int same = 1;
                for (int tk = 0; tk < n; tk += n - 1) {
                    kact_set(&a, X + (size_t)tk * cols, 1, cols);
                    k_matmul_act(p2, &M, &a, y3);
                    same &= !memcmp(y3, y1 + (size_t)tk * rows, sizeof(float) * rows) && guard_ok(y3, rows);
                }
                snprintf(name, sizeof name, "%s-token-alone-vs-batch-%s-n%d", tc->name, isa_names[isa], n);
                CHECK(same, name, "a token's result depends on the batch");
                free(y3);
            }
            free(y1);
            free(y2);
            kact_free(&a);
        }
        /* bf16 GEMM (BF16 and quantized weights), scalar twin and AVX512_BF16 */
        if ((tc->t == QWEN3_BF16 || quant) && cols % 2 == 0) {
            int groups = (n + 15) / 16;
            uint32_t *Xp = malloc(sizeof(uint32_t) * (size_t)groups * 16 * (cols / 2));
            k_pack_x_bf16(X, n, cols, Xp, 0, groups);
            void *scratch = malloc(k_gemm_bf16_scratch(cols));
            float *ys = alloc_out(ny);
            k_gemm_bf16_rows_scalar(&M, Xp, n, ys, 0, rows, scratch);
            worst = 0;
            snprintf(name, sizeof name, "%s-gemm-scalar-n%d", tc->name, n);
            CHECK(check_path(name, Wd, X, ys, rows, cols, n, 2, KACT_F32, &worst) && guard_ok(ys, ny), name, "worst %.3g", worst);
            if (cpus[K_ISA_AVX512].features & K_CPU_BF16) {
                float *y = alloc_out(ny);
                /* rows 3..rows in two uneven pieces, as two threads would */
                for (size_t i = 0; i < ny; i++) y[i] = 0;
                k_gemm_bf16_rows_avx512(&M, Xp, n, y, 0, 16, scratch);
                k_gemm_bf16_rows_avx512(&M, Xp, n, y, 16, rows, scratch);
                worst = 0;
                snprintf(name, sizeof name, "%s-gemm-avx512bf16-n%d", tc->name, n);
                CHECK(check_path(name, Wd, X, y, rows, cols, n, 2, KACT_F32, &worst) && guard_ok(y, ny), name, "worst %.3g", worst);
                snprintf(name, sizeof name, "%s-gemm-avx512bf16-vs-scalar-n%d", tc->name, n);
                CHECK(close_to(y, ys, Wd, X, rows, cols, n), name, "AVX512_BF16 and scalar GEMM differ beyond 1e-5 S");
                free(y);
            }
            free(ys);
            free(scratch);
            free(Xp);
        }
        free(X);
    }
    /* quantization round trip: Q8_0 within d/2 per value; Q4's error as a fraction of the RMS */
    if (quant) {
        double se = 0, ss = 0, maxq8 = 0;
        for (int r = 3; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                double d = Wd[(size_t)r * cols + c] - W[(size_t)r * cols + c];
                se += d * d;
                ss += (double)W[(size_t)r * cols + c] * W[(size_t)r * cols + c];
                if (tc->t == QWEN3_Q8_0) {
                    double am = 0;
                    int b = c / 32 * 32;
                    for (int i = b; i < b + 32; i++) am = fmax(am, fabs(W[(size_t)r * cols + i]));
                    maxq8 = fmax(maxq8, fabs(d) / (am / 127.0));
                }
            }
        double rel = sqrt(se / ss);
        snprintf(name, sizeof name, "%s-roundtrip", tc->name);
        if (tc->t == QWEN3_Q8_0) CHECK(maxq8 <= 0.51 && rel < 0.01, name, "max error %.3f of a step, rms %.4f", maxq8, rel);
        else CHECK(rel < roundtrip_bound(tc->t), name, "relative rms error %.4f > %.3f (gaussian weights)", rel, roundtrip_bound(tc->t));
        printf("  %s: relative rms quantization error %.4f\n", tc->name, rel);
        int zero = 1;
        for (int c = 0; c < cols; c++) zero &= Wd[c] == 0.0f;
        snprintf(name, sizeof name, "%s-zero-row", tc->name);
        CHECK(zero, name, "an all-zero row does not dequantize to zeros");
    }
    free(W);
    free(Wd);
    free(Wq);
}

static void test_attention(void) {
    const kcpu *best = &cpus[K_ISA_AVX512]; /* the best flavour this CPU has */
    const int Ds[] = {16, 40, 128}, ns[] = {1, 17, 100};
    const qwen3_dtype kvs[] = {QWEN3_F32, QWEN3_F16, QWEN3_BF16};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 3; c++) {
                int D = Ds[a], n = ns[b];
                qwen3_dtype kv = kvs[c];
                float *q = malloc(sizeof(float) * D), *Kf = malloc(sizeof(float) * D * n), *Vf = malloc(sizeof(float) * D * n);
                uint8_t *K = malloc(4 * (size_t)D * n), *V = malloc(4 * (size_t)D * n);
                for (int i = 0; i < D; i++) q[i] = grand();
                for (int i = 0; i < D * n; i++) { Kf[i] = grand(); Vf[i] = grand(); }
                size_t es = kv == QWEN3_F32 ? 4 : 2;
                for (int p = 0; p < n; p++) {
                    k_store_row(best, kv, K + (size_t)p * D * es, Kf + (size_t)p * D, D);
                    k_store_row(best, kv, V + (size_t)p * D * es, Vf + (size_t)p * D, D);
                }
                /* reference in double on the stored (rounded) values */
                float *Kr = malloc(sizeof(float) * D * n), *Vr = malloc(sizeof(float) * D * n);
                kmat km = {kv, K, n, D, es * D, 0}, vm = {kv, V, n, D, es * D, 0};
                for (int p = 0; p < n; p++) { k_row_to_float(&km, p, Kr + (size_t)p * D); k_row_to_float(&vm, p, Vr + (size_t)p * D); }
                double *s = malloc(sizeof(double) * n), mx = -1e300, l = 0;
                float scale = 1.0f / sqrtf((float)D);
                for (int p = 0; p < n; p++) {
                    double d = 0;
                    for (int i = 0; i < D; i++) d += (double)q[i] * Kr[(size_t)p * D + i];
                    s[p] = d * scale;
                    mx = fmax(mx, s[p]);
                }
                for (int p = 0; p < n; p++) { s[p] = exp(s[p] - mx); l += s[p]; }
                float *o1 = alloc_out(D), *o2 = alloc_out(D);
                k_attn_head_scalar(q, K, V, kv, D, n, D, scale, o1);
                k_attn_head(best, q, K, V, kv, D, n, D, scale, o2);
                double e1 = 0, e2 = 0;
                for (int i = 0; i < D; i++) {
                    double ref = 0;
                    for (int p = 0; p < n; p++) ref += s[p] / l * Vr[(size_t)p * D + i];
                    e1 = fmax(e1, fabs(o1[i] - ref));
                    e2 = fmax(e2, fabs(o2[i] - ref));
                }
                /* the log-sum-exp variants (Dual Chunk Attention's merge): the same outputs, bit for
                 * bit, and log(sum exp(score)) within 1e-5 of the double one */
                float *o4 = alloc_out(D), *o5 = alloc_out(D), lse1 = 0, lse2 = 0;
                double lref = mx + log(l);
                k_attn_head_lse_scalar(q, K, V, kv, D, n, D, scale, o4, &lse1);
                k_attn_head_lse(best, q, K, V, kv, D, n, D, scale, o5, &lse2);
                int lse_ok = !memcmp(o1, o4, sizeof(float) * D) && !memcmp(o2, o5, sizeof(float) * D) &&
                             fabs(lse1 - lref) < 1e-5 * fmax(1, fabs(lref)) && fabs(lse2 - lref) < 1e-5 * fmax(1, fabs(lref));
                char name[96];
                snprintf(name, sizeof name, "attn-%s-D%d-n%d", qwen3_dtype_name(kv), D, n);
                CHECK(e1 < 1e-5 && e2 < 1e-5 && guard_ok(o1, D) && guard_ok(o2, D) && lse_ok, name,
                      "scalar error %g, simd error %g, lse %g %g vs %g", e1, e2, lse1, lse2, lref);
                free(o4);
                free(o5);
                if (have[K_ISA_AVX2]) {
                    float *o3 = alloc_out(D), *o6 = alloc_out(D), lse3 = 0;
                    k_attn_head_avx2(q, K, V, kv, D, n, D, scale, o3);
                    k_attn_head_lse_avx2(q, K, V, kv, D, n, D, scale, o6, &lse3);
                    int lse3_ok = !memcmp(o3, o6, sizeof(float) * D) && fabs(lse3 - lref) < 1e-5 * fmax(1, fabs(lref));
                    free(o6);
                    double e3 = 0;
                    for (int i = 0; i < D; i++) {
                        double ref = 0;
                        for (int p = 0; p < n; p++) ref += s[p] / l * Vr[(size_t)p * D + i];
                        e3 = fmax(e3, fabs(o3[i] - ref));
                    }
                    snprintf(name, sizeof name, "attn-avx2-%s-D%d-n%d", qwen3_dtype_name(kv), D, n);
                    CHECK(e3 < 1e-5 && guard_ok(o3, D) && lse3_ok, name, "avx2 error %g, lse ok %d", e3, lse3_ok);
                    free(o3);
                }
                free(q); free(Kf); free(Vf); free(K); free(V); free(Kr); free(Vr); free(s); free(o1); free(o2);
            }
}

/* The blocked kernel (k_attn_rows) against its twin of single rows: 13 rows with causal lengths
 * around block edges, D a multiple of 16 (SIMD) and not (fallback); and each row alone, or in a
 * group of 2, 3 or 6 rows (decode's GQA groups: one token's query heads of one kv head), must give
 * the same bits as within the 13-row tile (a prefill's rows; groups of up to 8 rows take the
 * 8-lane kernel, the tile the 16-lane one): invariance between prefill and decode rests on it.
 * Run once per flavour this CPU has, each through its own kernel table (cpus[]), as a model capped
 * by QWEN3_ISA passes its table: scalar and AVX2 take the per-row kernels of their set.
 * Injection tried: one constant of the 8-lane kernel's exp polynomial changed (1/720 -> 1/721)
 * fails 13 attn-rows cases; the 2-row decode kernel leaving a finished row's numerators of the
 * previous block in place (no zeroing) fails the pair check of attn-rows-*-Q8_0/Q4_0-D128-n43. */
static void test_attention_rows(void) {
    const int Ds[] = {32, 40, 128};
    const qwen3_dtype kvs[] = {QWEN3_F32, QWEN3_F16, QWEN3_BF16, QWEN3_Q8_0, QWEN3_Q4_0};
    const int M = 13, base[] = {1, 30};
    for (int f = 0; f < 3; f++) /* each flavour this CPU has, through its own kernel table */
    for (size_t a = 0; a < 3 && have[f]; a++)
        for (size_t c = 0; c < 5; c++)
            for (size_t b = 0; b < 2; b++) {
                const kcpu *cpu = &cpus[f];
                int D = Ds[a], nmax = base[b] + M;
                qwen3_dtype kv = kvs[c];
                if ((kv == QWEN3_Q8_0 || kv == QWEN3_Q4_0) && D % 32) continue; /* rows are whole blocks of 32 */
                size_t rb = k_kv_row_bytes(kv, (size_t)D);
                uint8_t *K = malloc(rb * nmax), *V = malloc(rb * nmax);
                float *tmp = malloc(sizeof(float) * D);
                for (int p = 0; p < nmax; p++) {
                    for (int i = 0; i < D; i++) tmp[i] = grand();
                    k_store_row(cpu, kv, K + (size_t)p * rb, tmp, D);
                    for (int i = 0; i < D; i++) tmp[i] = grand();
                    k_store_row(cpu, kv, V + (size_t)p * rb, tmp, D);
                }
                float *qs = malloc(sizeof(float) * D * M);
                for (int i = 0; i < D * M; i++) qs[i] = 2 * grand();
                const float *q[16];
                float *o1[16], *o2[16], *o3 = alloc_out(D);
                int n[16];
                for (int r = 0; r < M; r++) {
                    q[r] = qs + (size_t)r * D;
                    o1[r] = alloc_out(D);
                    o2[r] = alloc_out(D);
                    n[r] = base[b] + (r * 7) % M + 1; /* not sorted, some past a block edge */
                }
                float scale = 1.0f / sqrtf((float)D);
                k_attn_rows_scalar(q, o1, n, M, K, V, kv, D, D, scale);
                k_attn_rows(cpu, q, o2, n, M, K, V, kv, D, D, scale);
                /* the log-sum-exp variants: the same outputs, and lse within 1e-5 of the twin's */
                float *o4[16], *o5[16], l4[16], l5[16];
                for (int r = 0; r < M; r++) { o4[r] = alloc_out(D); o5[r] = alloc_out(D); }
                k_attn_rows_lse_scalar(q, o4, n, M, K, V, kv, D, D, scale, l4);
                k_attn_rows_lse(cpu, q, o5, n, M, K, V, kv, D, D, scale, l5);
                double err = 0;
                int guards = 1, same = 1;
                for (int r = 0; r < M; r++) {
                    same &= !memcmp(o4[r], o1[r], sizeof(float) * D) && !memcmp(o5[r], o2[r], sizeof(float) * D);
                    err = fmax(err, fabs(l4[r] - l5[r]) / fmax(1, fabs(l4[r])));
                    free(o4[r]);
                    free(o5[r]);
                    for (int i = 0; i < D; i++) err = fmax(err, fabs(o1[r][i] - o2[r][i]));
                    guards &= guard_ok(o1[r], D) && guard_ok(o2[r], D);
                    k_attn_rows(cpu, &q[r], &o3, &n[r], 1, K, V, kv, D, D, scale);
                    same &= !memcmp(o3, o2[r], sizeof(float) * D);
                    if (f == K_ISA_AVX512) { /* without VNNI: the same bits */
                        k_attn_rows(&avx512_novnni, &q[r], &o3, &n[r], 1, K, V, kv, D, D, scale);
                        same &= !memcmp(o3, o2[r], sizeof(float) * D);
                    }
                    /* the table is obeyed: scalar and AVX2 take their own set's per-row kernel, bit for bit */
                    if (f == K_ISA_SCALAR) k_attn_head_scalar(q[r], K, V, kv, D, n[r], D, scale, o3);
                    if (f == K_ISA_AVX2) k_attn_head_avx2(q[r], K, V, kv, D, n[r], D, scale, o3);
                    if (f != K_ISA_AVX512) same &= !memcmp(o3, o2[r], sizeof(float) * D);
                }
                /* groups of 2, 3 and 6 rows: the same bits as in the 13-row tile (and without VNNI) */
                for (int g = 2; g <= 6; g += g == 3 ? 3 : 1)
                    for (int nv = 0; nv < 1 + (f == K_ISA_AVX512); nv++) {
                        float *og[6];
                        for (int r = 0; r < g; r++) og[r] = alloc_out(D);
                        k_attn_rows(nv ? &avx512_novnni : cpu, &q[7 - g], og, &n[7 - g], g, K, V, kv, D, D, scale);
                        for (int r = 0; r < g; r++) {
                            same &= !memcmp(og[r], o2[7 - g + r], sizeof(float) * D);
                            free(og[r]);
                        }
                    }
                { /* a pair whose second row ends blocks before the first: its later blocks are identity work
                   * (decode's 2-row kernels over quantized caches keep their softmax numerators per row) */
                    int np[2] = {nmax, 1 + (int)b};
                    float *op[2] = {alloc_out(D), alloc_out(D)};
                    k_attn_rows(cpu, q, op, np, 2, K, V, kv, D, D, scale);
                    for (int r = 0; r < 2; r++) {
                        k_attn_rows(cpu, &q[r], &o3, &np[r], 1, K, V, kv, D, D, scale);
                        same &= !memcmp(o3, op[r], sizeof(float) * D);
                        free(op[r]);
                    }
                }
                char name[96];
                snprintf(name, sizeof name, "attn-rows-%s-%s-D%d-n%d", k_isa_name((k_isa)f), qwen3_dtype_name(kv), D, nmax);
                CHECK(err < 1e-5 && guards && same, name, "error %g vs single rows, guards %d, row alone same bits %d", err,
                      guards, same);
                for (int r = 0; r < M; r++) { free(o1[r]); free(o2[r]); }
                free(o3); free(qs); free(K); free(V); free(tmp);
            }
}

/* More than 16 rows (a prefill at depth: up to 4 tiles of 16 share each K/V block read): 40 rows
 * with lengths 1..64 against the scalar twin (1e-5) and each row alone (same bits). Injection
 * tried: a tile scoring with the previous tile's queries fails both. */
static void test_attention_tiles(void) {
    const qwen3_dtype kvs[] = {QWEN3_F16, QWEN3_Q8_0};
    const int D = 128, M = 40, nmax = 70;
    for (int fc = 0; fc < 3 * 2; fc++) {
        const int f = fc / 2; /* each flavour this CPU has, through its own kernel table */
        if (!have[f]) continue;
        const kcpu *cpu = &cpus[f];
        qwen3_dtype kv = kvs[fc % 2];
        size_t rb = k_kv_row_bytes(kv, (size_t)D);
        uint8_t *K = malloc(rb * nmax), *V = malloc(rb * nmax);
        float tmp[128], *qs = malloc(sizeof(float) * D * M);
        for (int p = 0; p < nmax; p++) {
            for (int i = 0; i < D; i++) tmp[i] = grand();
            k_store_row(cpu, kv, K + (size_t)p * rb, tmp, D);
            for (int i = 0; i < D; i++) tmp[i] = grand();
            k_store_row(cpu, kv, V + (size_t)p * rb, tmp, D);
        }
        for (int i = 0; i < D * M; i++) qs[i] = 2 * grand();
        const float *q[40];
        float *o1[40], *o2[40], *o3 = alloc_out(D);
        int n[40];
        for (int r = 0; r < M; r++) {
            q[r] = qs + (size_t)r * D;
            o1[r] = alloc_out(D);
            o2[r] = alloc_out(D);
            n[r] = 1 + (r * 23) % 64;
        }
        float scale = 1.0f / sqrtf((float)D);
        k_attn_rows_scalar(q, o1, n, M, K, V, kv, D, D, scale);
        k_attn_rows(cpu, q, o2, n, M, K, V, kv, D, D, scale);
        float *o4[40], l4[40], l5[40]; /* the tiles' log-sum-exps against the twin's, same outputs */
        for (int r = 0; r < M; r++) o4[r] = alloc_out(D);
        float *o5[40];
        for (int r = 0; r < M; r++) o5[r] = alloc_out(D);
        k_attn_rows_lse_scalar(q, o5, n, M, K, V, kv, D, D, scale, l4);
        k_attn_rows_lse(cpu, q, o4, n, M, K, V, kv, D, D, scale, l5);
        if (f == K_ISA_AVX512) k_attn_rows(&avx512_novnni, q, o5, n, M, K, V, kv, D, D, scale); /* without VNNI */
        double err = 0;
        int same = 1, guards = 1;
        for (int r = 0; r < M; r++) {
            if (f == K_ISA_AVX512) same &= !memcmp(o5[r], o2[r], sizeof(float) * D); /* the same bits */
            free(o5[r]);
            same &= !memcmp(o4[r], o2[r], sizeof(float) * D);
            err = fmax(err, fabs(l4[r] - l5[r]) / fmax(1, fabs(l4[r])));
            free(o4[r]);
            for (int i = 0; i < D; i++) err = fmax(err, fabs(o1[r][i] - o2[r][i]));
            guards &= guard_ok(o2[r], D);
            k_attn_rows(cpu, &q[r], &o3, &n[r], 1, K, V, kv, D, D, scale);
            same &= !memcmp(o3, o2[r], sizeof(float) * D);
        }
        char name[96];
        snprintf(name, sizeof name, "attn-tiles-%s-%s-M%d", k_isa_name((k_isa)f), qwen3_dtype_name(kv), M);
        CHECK(err < 1e-5 && same && guards, name, "error %g vs the scalar twin, row alone same bits %d, guards %d", err, same, guards);
        for (int r = 0; r < M; r++) { free(o1[r]); free(o2[r]); }
        free(o3); free(qs); free(K); free(V);
    }
}

/* The test's own reading of a block-quantized cache value (ggml's layouts, written from the format,
 * not the kernels' code): Q8_0 d * q[i]; Q4_0 d * (nibble - 8), elements 0-15 in the low nibbles of
 * qs[0..15], 16-31 in the high ones. */
static float block_value(qwen3_dtype kv, const uint8_t *row, int i) {
    if (kv == QWEN3_Q8_0) {
        const kq8_0_block *b = (const kq8_0_block *)row + i / 32;
        return k_f16_to_f32(b->d) * b->q[i % 32];
    }
    const uint8_t *b = row + (size_t)(i / 32) * 18; /* f16 d, qs[16] */
    uint16_t d;
    memcpy(&d, b, 2);
    int e = i % 32, q = e < 16 ? b[2 + e] & 15 : b[2 + e - 16] >> 4;
    return k_f16_to_f32(d) * (float)(q - 8);
}

/* The query as attention over a quantized cache reads it (kernels/attn_q.h's definition, written
 * here from that text, not from its code): x = q * scale in float32, per block of 32 the scale
 * amax / 127 and the integers rint(x * (127 / amax)); out = the dequantized values, in double. */
static void quantized_query(const float *q, float scale, int D, double *out) {
    for (int b = 0; b < D / 32; b++) {
        float x[32], amax = 0;
        for (int i = 0; i < 32; i++) {
            x[i] = q[32 * b + i] * scale;
            if (fabsf(x[i]) > amax) amax = fabsf(x[i]);
        }
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        for (int i = 0; i < 32; i++) out[32 * b + i] = (double)d * (double)nearbyintf(x[i] * id);
    }
}

/* Block-quantized KV caches: Q8_0 (blocks of 32 int8 + f16 scale per head_dim row) and Q4_0 (4-bit
 * + f16 scale). Every kernel (scalar, AVX-512 with and without VNNI, AVX2, the blocked one) against
 * a double reference on the dequantized values (block_value, not the kernels' reading) and the
 * query quantized as the scores define it (quantized_query): 1e-5, as the float caches.
 * Against the reference on the original float32 values (N(0,1) keys and values, q of scale 2): the
 * quantization's own error on outputs of size ~1: bound 0.03 for Q8_0 (measured ~0.01), 0.5 for
 * Q4_0 (a 4-bit step is amax/8 ~ 0.3, on keys and values; measured 0.12-0.31). */
static void test_attention_block(qwen3_dtype kv, double qbound) {
    const kcpu *best = &cpus[K_ISA_AVX512]; /* the best flavour this CPU has */
    const int Ds[] = {32, 64, 128}, ns[] = {1, 17, 100};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++) {
            int D = Ds[a], n = ns[b];
            size_t rb = k_kv_row_bytes(kv, (size_t)D);
            float *q = malloc(sizeof(float) * D), *Kf = malloc(sizeof(float) * D * n), *Vf = malloc(sizeof(float) * D * n);
            float *Kr = malloc(sizeof(float) * D * n), *Vr = malloc(sizeof(float) * D * n);
            uint8_t *K = malloc(rb * n), *V = malloc(rb * n);
            for (int i = 0; i < D; i++) q[i] = 2 * grand();
            for (int i = 0; i < D * n; i++) { Kf[i] = grand(); Vf[i] = grand(); }
            for (int p = 0; p < n; p++) {
                k_store_row(best, kv, K + (size_t)p * rb, Kf + (size_t)p * D, D);
                k_store_row(best, kv, V + (size_t)p * rb, Vf + (size_t)p * D, D);
                for (int i = 0; i < D; i++) {
                    Kr[(size_t)p * D + i] = block_value(kv, K + (size_t)p * rb, i);
                    Vr[(size_t)p * D + i] = block_value(kv, V + (size_t)p * rb, i);
                }
            }
            float scale = 1.0f / sqrtf((float)D);
            double *ref = malloc(sizeof(double) * D), *reff = malloc(sizeof(double) * D), *s = malloc(sizeof(double) * n);
            double *qx = malloc(sizeof(double) * D);
            quantized_query(q, scale, D, qx);
            for (int pass = 0; pass < 2; pass++) {
                const float *Kx = pass ? Kf : Kr, *Vx = pass ? Vf : Vr;
                double *o = pass ? reff : ref, mx = -1e300, l = 0;
                for (int p = 0; p < n; p++) {
                    double d = 0;
                    for (int i = 0; i < D; i++) d += (pass ? (double)q[i] * scale : qx[i]) * Kx[(size_t)p * D + i];
                    s[p] = d;
                    mx = fmax(mx, s[p]);
                }
                for (int p = 0; p < n; p++) { s[p] = exp(s[p] - mx); l += s[p]; }
                for (int i = 0; i < D; i++) {
                    o[i] = 0;
                    for (int p = 0; p < n; p++) o[i] += s[p] / l * Vx[(size_t)p * D + i];
                }
            }
            float *o1 = alloc_out(D), *o2 = alloc_out(D), *o3 = alloc_out(D), *o4 = alloc_out(D);
            k_attn_head_scalar(q, K, V, kv, D, n, D, scale, o1);
            k_attn_head(best, q, K, V, kv, D, n, D, scale, o2);
            int novnni_same = 1;
            if (have[K_ISA_AVX512]) { /* the head kernel without VNNI: the same bits */
                k_attn_head(&avx512_novnni, q, K, V, kv, D, n, D, scale, o3);
                novnni_same = !memcmp(o3, o2, sizeof(float) * D);
            }
            const float *qr[1] = {q};
            float *or[1] = {o4};
            k_attn_rows(best, qr, or, &n, 1, K, V, kv, D, D, scale);
            int avx2 = have[K_ISA_AVX2];
            if (avx2) k_attn_head_avx2(q, K, V, kv, D, n, D, scale, o3);
            double e1 = 0, e2 = 0, e3 = 0, e4 = 0, eq = 0;
            for (int i = 0; i < D; i++) {
                e1 = fmax(e1, fabs(o1[i] - ref[i]));
                e2 = fmax(e2, fabs(o2[i] - ref[i]));
                if (avx2) e3 = fmax(e3, fabs(o3[i] - ref[i]));
                e4 = fmax(e4, fabs(o4[i] - ref[i]));
                eq = fmax(eq, fabs(o2[i] - reff[i]));
            }
            char name[96];
            if (getenv("QWEN3_TEST_VERBOSE")) printf("attn-%s-D%d-n%d: vs float32 reference %g\n", qwen3_dtype_name(kv), D, n, eq);
            snprintf(name, sizeof name, "attn-%s-D%d-n%d", qwen3_dtype_name(kv), D, n);
            CHECK(e1 < 1e-5 && e2 < 1e-5 && e3 < 1e-5 && e4 < 1e-5 && eq < qbound && guard_ok(o1, D) && guard_ok(o2, D) &&
                      guard_ok(o4, D) && novnni_same,
                  name, "vs dequantized reference: scalar %g simd %g avx2 %g rows %g; vs float32 reference %g; without VNNI same bits %d",
                  e1, e2, e3, e4, eq, novnni_same);
            free(qx);
            free(q); free(Kf); free(Vf); free(Kr); free(Vr); free(K); free(V); free(ref); free(reff); free(s);
            free(o1); free(o2); free(o3); free(o4);
        }
}

/* RMSNorm, SiLU * up, RoPE and k_axpy (kernels/ops.c): every twin the scalar one's bits (lengths around the
 * 16-lane steps, in place too), and the scalar one against double precision: RMSNorm within 4e-7
 * relative (float sums of 1,024 squares and two roundings after), SiLU * up within 5e-7 relative of
 * |g u| (the exp polynomial, ~1 ulp, then a division and a product), over arguments from -120 to 120
 * (both clamps of the exp) and exact zeros. */
static void test_ops(void) {
    const int lens[] = {1, 7, 15, 16, 17, 31, 128, 1000, 1024, 3072};
    void (*norm[3])(float *, const float *, const float *, int, float) = {k_rmsnorm_scalar, k_rmsnorm_avx2, k_rmsnorm_avx512};
    void (*silu[3])(float *, const float *, const float *, int) = {k_silu_mul_scalar, k_silu_mul_avx2, k_silu_mul_avx512};
    const char *isa[3] = {"scalar", "avx2", "avx512"};
    const int N = 3072 + 48;
    float *x = malloc(sizeof(float) * N), *w = malloc(sizeof(float) * N), *g = malloc(sizeof(float) * N);
    float *u = malloc(sizeof(float) * N), *ys = alloc_out(N), *y = alloc_out(N), *yi = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) {
        x[i] = grand() * (i % 97 == 0 ? 30.0f : 1.0f);
        w[i] = 1.0f + 0.1f * grand();
        g[i] = i % 101 == 0 ? 0.0f : i % 53 == 0 ? (float)(240.0 * urand() - 120.0) : 4.0f * grand();
        u[i] = grand();
    }
    double enorm = 0, esilu = 0;
    int same[3] = {1, 1, 1}, guards = 1;
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        int n = lens[k];
        for (int a = 0; a < 3; a++) {
            if (!have[a]) continue;
            for (int op = 0; op < 2; op++) {
                float *out = a == 0 ? ys : y;
                for (int i = 0; i < n + GUARD; i++) memcpy(&out[i], &POISON, 4);
                if (op == 0) norm[a](out, x, w, n, 1e-6f);
                else silu[a](out, g, u, n);
                guards &= guard_ok(out, n);
                /* in place: out = x (RMSNorm of QK-Norm) / out = g (SiLU * up) */
                memcpy(yi, op == 0 ? x : g, sizeof(float) * (size_t)n);
                if (op == 0) norm[a](yi, yi, w, n, 1e-6f);
                else silu[a](yi, yi, u, n);
                same[a] &= !memcmp(yi, out, sizeof(float) * (size_t)n);
                if (a == 0 && op == 0) {
                    double ss = 0;
                    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
                    double sc = 1.0 / sqrt(ss / n + 1e-6);
                    for (int i = 0; i < n; i++) {
                        double ref = (double)w[i] * x[i] * sc, e = fabs(ys[i] - ref) / (fabs(ref) + 1e-30);
                        if (ref != 0 && e > enorm) enorm = e;
                    }
                } else if (a == 0) {
                    for (int i = 0; i < n; i++) {
                        double ref = (double)g[i] / (1.0 + exp(-(double)g[i])) * u[i];
                        double e = fabs(ys[i] - ref) / (fabs((double)g[i] * u[i]) + 1e-300);
                        if (g[i] != 0 && e > esilu) esilu = e;
                        if (g[i] == 0 && ys[i] != 0) esilu = 1;
                    }
                } else { /* the SIMD twin against the scalar one just computed (a == 0 ran first) */
                    float *ref = malloc(sizeof(float) * (size_t)n);
                    if (op == 0) k_rmsnorm_scalar(ref, x, w, n, 1e-6f);
                    else k_silu_mul_scalar(ref, g, u, n);
                    same[a] &= !memcmp(ref, out, sizeof(float) * (size_t)n);
                    /* a sum in another order shifts the scale by an ulp only now and then: 48 more
                     * vectors (x from other offsets) make a wrong order show */
                    for (int off = 1; op == 0 && off <= 48; off++) {
                        k_rmsnorm_scalar(ref, x + off, w, n, 1e-6f);
                        norm[a](out, x + off, w, n, 1e-6f);
                        same[a] &= !memcmp(ref, out, sizeof(float) * (size_t)n);
                    }
                    free(ref);
                }
            }
        }
    }
    /* RoPE: the AVX-512 twin the scalar one's bits at d = 2..300 (tails of the 16-lane steps), and
     * the scalar one within 2 ulp-sized steps (3e-7 of |a c| + |b s|) of double */
    {
        float xr[300], xs[300], cs[150], sn[150];
        int rsame = 1;
        double erope = 0;
        for (int d = 2; d <= 300; d += 2) {
            for (int i = 0; i < d; i++) xr[i] = xs[i] = grand();
            for (int i = 0; i < d / 2; i++) { double th = 6.283185307179586 * urand(); cs[i] = (float)cos(th); sn[i] = (float)sin(th); }
            k_rope_scalar(xs, cs, sn, d);
            for (int i = 0; i < d / 2; i++) {
                double a = xr[i], b = xr[i + d / 2], s0 = fabs(a * cs[i]) + fabs(b * sn[i]), s1 = fabs(b * cs[i]) + fabs(a * sn[i]);
                double e0 = fabs(xs[i] - (a * cs[i] - b * sn[i])) / (s0 + 1e-30), e1 = fabs(xs[i + d / 2] - (b * cs[i] + a * sn[i])) / (s1 + 1e-30);
                erope = e0 > erope ? e0 : erope;
                erope = e1 > erope ? e1 : erope;
            }
            if (have[K_ISA_AVX512]) {
                k_rope_avx512(xr, cs, sn, d);
                rsame &= !memcmp(xr, xs, sizeof(float) * (size_t)d);
            }
        }
        CHECK(erope < 3e-7 && rsame, "ops-rope", "worst error %.3g of |a c| + |b s|, avx512 twin same bits %d", erope, rsame);
    }
    /* k_axpy: dst = src w / dst + src w; the scalar twin within the two roundings (1.2e-7 of |d| +
     * 2 |s w|) of double, the AVX-512 twin its bits, guards intact, over the lengths above */
    {
        double eax = 0;
        int asame = 1, aguard = 1;
        float *d0 = malloc(sizeof(float) * N);
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++)
            for (int first = 0; first < 2; first++) {
                const int n = lens[k];
                const float wt = first ? 0.37f : -1.73f;
                for (int i = 0; i < n; i++) d0[i] = u[i] * 3.0f;
                for (int i = 0; i < n + GUARD; i++) { memcpy(&ys[i], &POISON, 4); memcpy(&y[i], &POISON, 4); }
                memcpy(ys, d0, sizeof(float) * (size_t)n);
                memcpy(y, d0, sizeof(float) * (size_t)n);
                k_axpy_scalar(ys, x, wt, n, first);
                for (int i = 0; i < n; i++) {
                    double dd = first ? 0.0 : d0[i], ref = dd + (double)x[i] * wt;
                    double e = fabs(ys[i] - ref) / (fabs(dd) + 2.0 * fabs((double)x[i] * wt) + 1e-30);
                    eax = e > eax ? e : eax;
                }
                aguard &= guard_ok(ys, n);
                if (have[K_ISA_AVX512]) {
                    k_axpy_avx512(y, x, wt, n, first);
                    asame &= !memcmp(y, ys, sizeof(float) * (size_t)n);
                    aguard &= guard_ok(y, n);
                }
            }
        free(d0);
        CHECK(eax < 1.2e-7 && aguard, "ops-axpy-reference", "worst error %.3g of |d| + 2 |s w|, guards %d", eax, aguard);
        if (have[K_ISA_AVX512]) CHECK(asame, "ops-axpy-avx512", "the AVX-512 twin is not the scalar twin's bits");
    }
    /* k_wsum: m = 1..8 sources, into dst (first) or added to it, each twin the bits of
     * k_axpy_scalar over the sources in order (the definition), guards intact, over the lengths above */
    {
        int wsame[2] = {1, 1}, wguard = 1;
        const float *src[8] = {x, w, g, u, x + 1, w + 3, g + 5, u + 7};
        const float wt[8] = {0.37f, -1.73f, 2.5f, 1e-3f, -0.61f, 7.25f, 0.125f, -3.3f};
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++)
            for (int m = 1; m <= 8; m++)
                for (int first = 0; first < 2; first++) {
                    const int n = lens[k];
                    for (int i = 0; i < n + GUARD; i++) { memcpy(&ys[i], &POISON, 4); memcpy(&y[i], &POISON, 4); }
                    for (int i = 0; i < n; i++) yi[i] = ys[i] = y[i] = u[i] * 3.0f; /* what dst holds when not first */
                    for (int j = 0; j < m; j++) k_axpy_scalar(yi, src[j], wt[j], n, first && j == 0);
                    k_wsum_scalar(ys, src, wt, m, n, first);
                    wsame[0] &= !memcmp(ys, yi, sizeof(float) * (size_t)n);
                    wguard &= guard_ok(ys, n);
                    if (have[K_ISA_AVX512]) {
                        k_wsum_avx512(y, src, wt, m, n, first);
                        wsame[1] &= !memcmp(y, yi, sizeof(float) * (size_t)n);
                        wguard &= guard_ok(y, n);
                    }
                }
        CHECK(wsame[0] && wguard, "ops-wsum-scalar", "not k_axpy's bits over the sources in order, or a guard overwritten");
        if (have[K_ISA_AVX512]) CHECK(wsame[1], "ops-wsum-avx512", "the AVX-512 twin is not k_axpy's bits over the sources in order");
    }
    CHECK(enorm < 4e-7 && guards, "ops-rmsnorm-reference", "worst relative error %.3g, guards %d", enorm, guards);
    CHECK(esilu < 5e-7 && guards, "ops-silu-reference", "worst error %.3g of |g u|, guards %d", esilu, guards);
    for (int a = 0; a < 3; a++) {
        char name[64];
        snprintf(name, sizeof name, "ops-twins-%s", isa[a]);
        if (have[a]) CHECK(same[a], name, "RMSNorm or SiLU * up: not the scalar twin's bits (or in place differs)");
    }
    free(x); free(w); free(g); free(u); free(ys); free(y); free(yi);
    /* k_topk against its definition, k passes of "the largest not yet taken, lowest index on ties",
     * on values drawn from few levels (many ties) or spread, n up to 160, k from 1 to n */
    int tk_ok = 1, cases = 0;
    for (int trial = 0; trial < 400 && tk_ok; trial++) {
        int n = 1 + (int)(urand() * 160), k = 1 + (int)(urand() * (trial % 4 ? (n < 8 ? n : 8) : n)), levels = trial % 2 ? 3 : 1000;
        float p[160];
        int sel[160], ref[160];
        for (int i = 0; i < n; i++) p[i] = (float)(int)(urand() * levels) / (float)levels;
        k_topk(p, n, k, sel);
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                int taken = 0;
                for (int q = 0; q < j; q++) taken |= ref[q] == i;
                if (!taken && (best < 0 || p[i] > p[best])) best = i;
            }
            ref[j] = best;
        }
        tk_ok = !memcmp(sel, ref, sizeof(int) * (size_t)k);
        cases++;
    }
    CHECK(tk_ok, "ops-topk-reference", "k_topk differs from k passes of the largest (case %d)", cases);
}

/* The bf16 GEMM where Y and every thread's rows are 64-byte aligned (rows a multiple of 16): there
 * it writes 16 x 16 blocks with streaming stores, and with 2,048 columns (panels of 48 rows) each
 * thread's 96 rows take two panels, so the next panel's prefetch runs; 50 tokens: three whole
 * groups of 16 and two left. */
static void test_gemm_bf16_aligned(void) {
    if (!(cpus[K_ISA_AVX512].features & K_CPU_BF16)) return;
    const int rows = 192, cols = 2048, n = 50;
    float *W = malloc(sizeof(float) * rows * cols), *Wd = malloc(sizeof(float) * rows * cols), *X = malloc(sizeof(float) * n * cols);
    uint16_t *Wb = malloc(sizeof(uint16_t) * rows * cols);
    fill_weights(W, rows, cols);
    for (int i = 0; i < rows * cols; i++) {
        Wb[i] = k_f32_to_bf16(W[i]);
        Wd[i] = k_bf16_to_f32(Wb[i]);
    }
    for (int i = 0; i < n * cols; i++) X[i] = grand();
    kmat M = {QWEN3_BF16, Wb, rows, cols, sizeof(uint16_t) * cols, 0};
    int groups = (n + 15) / 16;
    uint32_t *Xp = malloc(sizeof(uint32_t) * (size_t)groups * 16 * (cols / 2));
    k_pack_x_bf16(X, n, cols, Xp, 0, groups);
    void *scratch = malloc(k_gemm_bf16_scratch(cols));
    size_t ny = (size_t)n * rows;
    float *ys = alloc_out(ny), *y = NULL;
    if (posix_memalign((void **)&y, 64, sizeof(float) * (ny + GUARD))) abort();
    for (size_t i = 0; i < ny + GUARD; i++) memcpy(&y[i], &POISON, 4);
    k_gemm_bf16_rows_scalar(&M, Xp, n, ys, 0, rows, scratch);
    k_gemm_bf16_rows_avx512(&M, Xp, n, y, 0, 96, scratch); /* as two threads would */
    k_gemm_bf16_rows_avx512(&M, Xp, n, y, 96, rows, scratch);
    double worst = 0;
    CHECK(check_path("gemm-avx512bf16-aligned", Wd, X, y, rows, cols, n, 2, KACT_F32, &worst) && guard_ok(y, ny), "gemm-avx512bf16-aligned",
          "worst %.3g", worst);
    CHECK(close_to(y, ys, Wd, X, rows, cols, n), "gemm-avx512bf16-aligned-vs-scalar", "AVX512_BF16 (streaming stores) and scalar GEMM differ beyond 1e-5 S");
    free(W); free(Wd); free(X); free(Wb); free(Xp); free(scratch); free(ys); free(y);
}

/* k_pack_x_bf16_avx512 against the scalar k_pack_x_bf16, bit for bit: 1-50 tokens (whole and partial
 * groups, the zero tokens past n), K with and without a last partial step of 16 pairs, and values
 * that test the rounding (ties both ways, the largest finite values rounding to inf, denormals,
 * infinities, quiet, signalling and negative NaNs). */
static void test_pack_x_bf16(void) {
    if (!(cpus[K_ISA_AVX512].features & K_CPU_BF16)) return;
    static const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0xff7fffffu, 0x00000001u, 0x807fffffu,
                                       0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffa00001u, 0x00000000u, 0x80000000u};
    const int ns[] = {1, 17, 50}, Ks[] = {78, 224, 2048};
    int ok = 1;
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t ni = 0; ni < 3; ni++) {
            int n = ns[ni], K = Ks[ki], groups = (n + 15) / 16;
            float *X = malloc(sizeof(float) * (size_t)n * K);
            for (int i = 0; i < n * K; i++) {
                if (i % 5 == 0) memcpy(&X[i], &special[(i / 5) % (sizeof special / sizeof special[0])], 4);
                else X[i] = grand() * (float)(1 << (i % 9));
            }
            size_t words = (size_t)groups * 16 * (size_t)(K / 2);
            uint32_t *a = malloc(sizeof(uint32_t) * words), *b = malloc(sizeof(uint32_t) * words);
            memset(a, 0xab, sizeof(uint32_t) * words);
            memset(b, 0xcd, sizeof(uint32_t) * words);
            k_pack_x_bf16(X, n, K, a, 0, groups);
            k_pack_x_bf16_avx512(X, n, K, b, 0, 1); /* in two calls, as two threads would */
            k_pack_x_bf16_avx512(X, n, K, b, 1, groups);
            if (memcmp(a, b, sizeof(uint32_t) * words)) {
                if (ok) printf("  pack-x-bf16: n %d K %d: the AVX-512 packing differs from the scalar one\n", n, K);
                ok = 0;
            }
            free(X); free(a); free(b);
        }
    CHECK(ok, "pack-x-bf16-avx512-vs-scalar", "bits differ");
}

/* The number of checks main() reports on this CPU, counted from the same loops as the tests above
 * (what the CPU lacks runs none of its checks: one SKIP line per missing feature says so). Stated
 * first ("EXPECT n") so that the runner fails a loop cut short. Change it with the loops. */
static int planned_checks(const tcase *cases, size_t ncases) {
    const unsigned f = cpus[K_ISA_AVX512].features;
    int avx2 = have[K_ISA_AVX2], avx512 = have[K_ISA_AVX512];
    int vnni = !!(f & K_CPU_VNNI), avxvnni = !!(f & K_CPU_AVXVNNI), bf16 = !!(f & K_CPU_BF16);
    const int ns[] = {1, 3, 5, 17, 35};
    int c = !avx2 + !avx512 + !bf16; /* the SKIP lines */
    for (size_t i = 0; i < ncases; i++) {
        int quant = kq_is_quant(cases[i].t), isbf16 = cases[i].t == QWEN3_BF16;
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            int n = ns[k], multi = n > 1;
            /* float32 path per ISA; integer path per dot kernel (scalar; avx2 [+avxvnni]; vnni) */
            if (!quant) c += 1 + avx2 + avx512;
            else c += (1 + multi) + avx2 * (1 + avxvnni) * (2 + multi) + (avx512 && vnni) * (2 + multi);
            /* dispatch through kact, threads 1 vs 2 (+ token alone unless the batch takes the bf16
             * GEMM, which only AVX-512 does) */
            int alone = multi && !(n >= K_GEMM_MIN_TOKENS && bf16 && (quant || isbf16));
            c += avx2 * (1 + multi) + avx512 * (1 + alone);
            if ((isbf16 || quant) && cases[i].cols % 2 == 0) c += 1 + 2 * bf16;
        }
        if (quant) c += 2;
    }
    for (int a = 0; a < 3; a++) /* test_attention_rows, per flavour: Q8_0 and Q4_0 need D % 32 == 0 (D = 32, 40, 128) */
        c += (1 + avx2 + avx512) * 2 * (a == 1 ? 3 : 5);
    c += 27 * (1 + avx2); /* test_attention */
    c += 2 * 9;           /* test_attention_block: Q8_0, Q4_0 */
    c += (1 + avx2 + avx512) * 2; /* test_attention_tiles, per flavour */
    c += 3 + 1 + avx2 + avx512;   /* test_ops */
    c += 1 + avx512;              /* test_ops: k_axpy */
    c += 1;                       /* test_ops: k_topk */
    c += 1 + avx512;              /* test_ops: k_wsum */
    c += 2 * bf16;                /* test_gemm_bf16_aligned */
    c += bf16;                    /* test_pack_x_bf16 */
    if (!avx2) TEST_SKIP("kernels-avx2", "this CPU lacks AVX2 (FMA, F16C): the AVX2 kernels are not tested here");
    if (!avx512) TEST_SKIP("kernels-avx512", "this CPU lacks AVX-512 (F, BW, VL): the AVX-512 kernels are not tested here");
    if (!bf16) TEST_SKIP("kernels-avx512bf16", "this CPU lacks AVX512_BF16: the bf16 GEMM kernel is not tested here");
    return c;
}

int main(void) {
    fill_tables();
    qpool *p1 = qpool_new(1), *p2 = qpool_new(2);
    const tcase cases[] = {
        {"F32", QWEN3_F32, 77}, {"F16", QWEN3_F16, 77}, {"BF16", QWEN3_BF16, 78},
        {"Q8_0", QWEN3_Q8_0, 224}, {"Q4", QWEN3_Q4, 768},
        /* GGUF's types: 7 blocks of 32 / 3 superblocks (odd counts, so no kernel can assume pairs) */
        {"Q4_0", QWEN3_Q4_0, 224}, {"Q4_1", QWEN3_Q4_1, 224}, {"Q5_0", QWEN3_Q5_0, 224}, {"Q5_1", QWEN3_Q5_1, 224},
        {"IQ4_NL", QWEN3_IQ4_NL, 224}, {"Q2_K", QWEN3_Q2_K, 768}, {"Q3_K", QWEN3_Q3_K, 768}, {"Q4_K", QWEN3_Q4_K, 768},
        {"Q5_K", QWEN3_Q5_K, 768}, {"Q6_K", QWEN3_Q6_K, 768}, {"IQ4_XS", QWEN3_IQ4_XS, 768},
    };
    TEST_EXPECT(planned_checks(cases, sizeof cases / sizeof cases[0]));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_type(&cases[i], p1, p2);
    test_attention_rows();
    test_attention();
    test_attention_tiles();
    test_attention_block(QWEN3_Q8_0, 0.03);
    test_attention_block(QWEN3_Q4_0, 0.5);
    test_ops();
    test_gemm_bf16_aligned();
    test_pack_x_bf16();
    qpool_free(p1);
    qpool_free(p2);
    return test_exit();
}
