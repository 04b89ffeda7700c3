/* test_quant_ggml.c - GGUF's weight types against llama.cpp's own library, an independent reference:
 * libggml-base.so from npm's @node-llama-cpp/linux-x64 (prebuilt llama.cpp; tests/node/package.json,
 * installed by scripts/setup.sh), loaded with dlopen, its exported dequantize_row_* and
 * quantize_row_*_ref called directly.
 *   1. dequantization is bit-exact: random block bytes (every bit pattern of the quant fields, f16
 *      scales random finite values), blocks written by our quantizers and blocks written by
 *      llama.cpp's quantizers all dequantize to the same float bits as llama.cpp's;
 *   2. our quantizers' error is no worse than llama.cpp's reference quantizers' (quantize_row_*_ref,
 *      what `llama-quantize` uses without an importance matrix) on gaussian rows with outliers, by a
 *      stated factor per type;
 *   3. where ours follows llama.cpp's arithmetic (Q3_K: README, "Speed and quantization"), its
 *      blocks are llama.cpp's, byte for byte, on those rows.
 * Without the library those checks print SKIP (run scripts/setup.sh).
 * Also here, needing no library: the AVX-512 dequantizers to bf16 (the prefill GEMM's panels) give
 * exactly the bf16 rounding of the scalar dequantizer's floats. */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"
#include "test.h"

#define LIB "tests/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static double urand(void) { return (double)(next() >> 11) / 9007199254740992.0; }
static float grand(void) { return (float)(sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand())); }

typedef void (*deq_fn)(const void *, float *, int64_t);
typedef void (*qref_fn)(const float *, void *, int64_t);

typedef struct {
    qwen3_dtype t;
    const char *ggml; /* name in the library's symbols */
    int f16_off[2];   /* byte offsets of f16 fields in a block (-1: none) */
    double max_ratio; /* our rms error / llama.cpp's, at most */
    int same;         /* our blocks are llama.cpp's reference quantizer's, byte for byte */
} tcase;

/* Q8_0 included for its quantizer. max_ratio: the measured ratio on these rows (printed) plus a margin;
 * measured 0.996 0.973 0.834 0.910 0.723 0.981 0.960 1.000 0.874 0.805 1.000 1.002 in this order */
static const tcase cases[] = {
    {QWEN3_Q8_0, "q8_0", {0, -1}, 1.01, 0},   {QWEN3_Q4_0, "q4_0", {0, -1}, 1.0, 0},    {QWEN3_Q4_1, "q4_1", {0, 2}, 0.9, 0},
    {QWEN3_Q5_0, "q5_0", {0, -1}, 0.95, 0},    {QWEN3_Q5_1, "q5_1", {0, 2}, 0.8, 0},     {QWEN3_IQ4_NL, "iq4_nl", {0, -1}, 1.02, 0},
    {QWEN3_Q2_K, "q2_K", {80, 82}, 1.0, 0},   {QWEN3_Q3_K, "q3_K", {108, -1}, 1.0, 1},  {QWEN3_Q4_K, "q4_K", {0, 2}, 0.9, 0},
    {QWEN3_Q5_K, "q5_K", {0, 2}, 0.9, 0},     {QWEN3_Q6_K, "q6_K", {208, -1}, 1.01, 0}, {QWEN3_IQ4_XS, "iq4_xs", {0, -1}, 1.03, 0},
};

static int n_same(void) {
    int n = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) n += cases[k].same;
    return n;
}

static int same_bits(const float *a, const float *b, int64_t n, int64_t *where) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4)) { *where = i; return 0; }
    return 1;
}

/* kq_ggml_row_bf16_avx512 vs the scalar dequantizer rounded to bf16, bit for bit */
static void test_row_bf16(void) {
    if (!(k_cpu_default()->features & K_CPU_BF16)) {
        printf("SKIP quant-ggml-row-bf16: the CPU lacks AVX512_BF16\n");
        return;
    }
    const int64_t N = 1024;
    uint8_t *blk = malloc(N * 4);
    float *x = malloc(sizeof(float) * N), *f = malloc(sizeof(float) * N);
    uint16_t *a = malloc(2 * N), *b = malloc(2 * N);
    char name[96];
    for (qwen3_dtype t = QWEN3_Q4_0; t <= QWEN3_IQ4_XS; t++) {
        const kq_traits *tr = kq_type(t);
        for (int64_t i = 0; i < N; i++) x[i] = grand() * (i % 13 == 0 ? 5.0f : 0.3f);
        tr->from_float(x, blk, N);
        tr->to_float(blk, f, N);
        for (int64_t i = 0; i < N; i++) b[i] = k_f32_to_bf16(f[i]);
        snprintf(name, sizeof name, "quant-ggml-%s-row-bf16-avx512", tr->name);
        if (!kq_ggml_row_bf16_avx512(t, blk, a, N)) {
            printf("SKIP %s: no SIMD dequantizer for this type (the GEMM uses the scalar one)\n", name);
            continue;
        }
        CHECK(!memcmp(a, b, 2 * N), name, "bf16 panel row differs from the scalar dequantizer's rounding");
    }
    free(blk); free(x); free(f); free(a); free(b);
}

int main(void) {
    void *lib = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
    /* test_row_bf16: one line per type Q4_0..IQ4_XS, or its one SKIP without AVX512_BF16; then five
     * checks per type against llama.cpp's library (six where the blocks must be the same), or the
     * one SKIP without it */
    TEST_EXPECT(((k_cpu_default()->features & K_CPU_BF16) ? (int)(QWEN3_IQ4_XS - QWEN3_Q4_0 + 1) : 1) +
                (lib ? 5 * (int)(sizeof cases / sizeof cases[0]) + n_same() : 1));
    test_row_bf16();
    if (!lib) {
        printf("SKIP quant-ggml: %s not loadable (%s); run scripts/setup.sh\n", LIB, dlerror());
        return 0;
    }
    const int64_t N = 4096; /* values per row: 16 superblocks, 128 blocks of 32 */
    const int rows = 24;
    float *x = malloc(sizeof(float) * N * rows), *a = malloc(sizeof(float) * N), *b = malloc(sizeof(float) * N);
    uint8_t *blk = malloc(N * 4), *blk2 = malloc(N * 4);
    char name[128], sym[64];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const tcase *tc = &cases[k];
        const kq_traits *tr = kq_type(tc->t);
        snprintf(sym, sizeof sym, "dequantize_row_%s", tc->ggml);
        deq_fn deq = (deq_fn)dlsym(lib, sym);
        snprintf(sym, sizeof sym, "quantize_row_%s_ref", tc->ggml);
        qref_fn qref = (qref_fn)dlsym(lib, sym);
        snprintf(name, sizeof name, "quant-ggml-%s-symbols", tr->name);
        CHECK(deq && qref, name, "llama.cpp's library lacks %s", sym);
        if (!deq || !qref) continue;
        size_t rb = k_row_bytes(tc->t, N);
        int64_t nblk = N / tr->block;

        /* 1a. random bytes */
        int ok = 1;
        int64_t where = 0;
        for (int rep = 0; rep < 8 && ok; rep++) {
            for (size_t i = 0; i < rb; i++) blk[i] = (uint8_t)next();
            for (int64_t bi = 0; bi < nblk; bi++)
                for (int f = 0; f < 2; f++)
                    if (tc->f16_off[f] >= 0) {
                        uint16_t h = k_f32_to_f16((float)(grand() * pow(2.0, (int)(next() % 24) - 16)));
                        memcpy(blk + (size_t)bi * tr->block_bytes + tc->f16_off[f], &h, 2);
                    }
            tr->to_float(blk, a, N);
            deq(blk, b, N);
            ok = same_bits(a, b, N, &where);
        }
        snprintf(name, sizeof name, "quant-ggml-%s-dequant-random-bytes", tr->name);
        CHECK(ok, name, "value %lld: ours %.9g, llama.cpp %.9g", (long long)where, a[where], b[where]);

        /* 1b/1c and 2: gaussian rows (every 7th value of row 1 an outlier x8; row 2 all zero, row 3 tiny) */
        for (int r = 0; r < rows; r++)
            for (int64_t i = 0; i < N; i++) {
                float v = grand();
                x[(size_t)r * N + i] = r == 2 ? 0.0f : r == 3 ? v * 1e-6f : r == 1 && i % 7 == 0 ? 8 * v : v * (float)(0.02 + 0.01 * r);
            }
        int ok_ours = 1, ok_theirs = 1, first_other = -1;
        double e_ours = 0, e_ref = 0;
        for (int r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * N;
            tr->from_float(xr, blk, N);
            tr->to_float(blk, a, N);
            deq(blk, b, N);
            ok_ours &= same_bits(a, b, N, &where);
            double se = 0, ss = 0;
            for (int64_t i = 0; i < N; i++) { se += ((double)a[i] - xr[i]) * ((double)a[i] - xr[i]); ss += (double)xr[i] * xr[i]; }
            qref(xr, blk2, N);
            if (first_other < 0 && memcmp(blk, blk2, rb)) first_other = r;
            tr->to_float(blk2, a, N);
            deq(blk2, b, N);
            ok_theirs &= same_bits(a, b, N, &where);
            double se2 = 0;
            for (int64_t i = 0; i < N; i++) se2 += ((double)b[i] - xr[i]) * ((double)b[i] - xr[i]);
            if (ss > 0) { e_ours += sqrt(se / ss); e_ref += sqrt(se2 / ss); }
        }
        snprintf(name, sizeof name, "quant-ggml-%s-dequant-our-blocks", tr->name);
        CHECK(ok_ours, name, "our quantizer's blocks dequantize differently from llama.cpp");
        snprintf(name, sizeof name, "quant-ggml-%s-dequant-llamacpp-blocks", tr->name);
        CHECK(ok_theirs, name, "llama.cpp's quantizer's blocks dequantize differently");
        double ratio = e_ours / e_ref;
        printf("  %s: mean relative rms error ours %.5f, llama.cpp ref %.5f (ratio %.3f)\n", tr->name, e_ours / (rows - 1),
               e_ref / (rows - 1), ratio);
        snprintf(name, sizeof name, "quant-ggml-%s-quantizer-vs-llamacpp", tr->name);
        CHECK(ratio <= tc->max_ratio, name, "our error %.3fx llama.cpp's (allowed %.2fx)", ratio, tc->max_ratio);
        if (tc->same) {
            snprintf(name, sizeof name, "quant-ggml-%s-quantizer-same-blocks", tr->name);
            CHECK(first_other < 0, name, "row %d: our blocks differ from llama.cpp's quantize_row_%s_ref", first_other, tc->ggml);
        }
    }
    free(x); free(a); free(b); free(blk); free(blk2);
    dlclose(lib);
    return test_exit();
}
