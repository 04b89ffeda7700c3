/* test_ktable.c - the kernel table (kernels/ktable.c) walked type by type, for every flavour of CPU
 * features this machine has: scalar, AVX2, AVX2 + AVX-VNNI, AVX-512, AVX-512 VNNI, AVX-512 VNNI +
 * BF16 (each a table of its own from kcpu_init, passed to the kernels; a flavour the CPU lacks, or
 * one that comes out the same as an earlier one, prints SKIP).
 *
 * Per flavour, "complete": every weight type of the enum (QWEN3_DTYPE_COUNT) has its facts (name,
 * block, bytes, to_float; from_float and a scalar dot for the quantized ones) and the kernels of its
 * path: float32 for every type; integer rows for the quantized ones; bf16 dots where BF16's path is
 * K_PATH_B16; the bf16 GEMM exactly where AVX512_BF16 is on. From AVX2 up, every type has a SIMD
 * kernel (an entry that is still the scalar twin means a type missing from a SIMD file's table).
 *
 * Per flavour and type, "agrees": the flavour's kernels against the scalar flavour's on random
 * weights and activations, 13 rows split 5 + 8 as two threads would, 1, 3 and 9 tokens (the
 * one-token kernels, the multi-token ones, the GEMMs that take >= 8):
 *   integer kernels (and the int8 activation bytes): bit for bit (every set keeps its twins' bits;
 *   our Q4 on AVX2 had its own kernels, float sums in their own order, until 2026-12-06);
 *   bf16 dots (and the bf16 activation bits): bit for bit;
 *   bf16 GEMM: bit for bit (one float sum per (row, token) in the same order as its scalar twin);
 *   float32 kernels: within 1e-5 x sum |w x| per (row, token) (SIMD sums in another order);
 * and each token alone gives the bits it gets within the batch (the engine's batch invariance).
 * Injections tried: Q4_0 and Q4_1 swapped in quant_ggml_avx512.c's table (4 agrees checks fail);
 * the AVX2 flavour without GGUF's AVX2 set (ktable.c's use_int line dropped: complete and 11 agrees
 * checks fail for AVX2; a kernel left out of a SIMD file's table does not build: unused function);
 * a new enum value without entries (complete fails in every flavour); Q4's minimum term off by one
 * in the former quant_avx2.c (agrees failed for Q4 on AVX2, AVX-VNNI, AVX-512 without VNNI). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "test.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static const struct { const char *name; unsigned features; } flavours[] = {
    {"scalar", 0},
    {"avx2", K_CPU_AVX2},
    {"avxvnni", K_CPU_AVX2 | K_CPU_AVXVNNI},
    {"avx512", K_CPU_AVX2 | K_CPU_AVX512},
    {"avx512vnni", K_CPU_AVX2 | K_CPU_AVX512 | K_CPU_VNNI},
    {"avx512bf16", K_CPU_ALL},
};
#define NFLAV (int)(sizeof flavours / sizeof flavours[0])

static kcpu scalar;

/* why the entry of type t in c is incomplete, or NULL */
static const char *incomplete(const kcpu *c, int t) {
    const ktype *e = &c->type[t], *s = &scalar.type[t];
    const kq_traits *tr = e->tr;
    if (!tr || !tr->name || tr->block < 1 || !tr->block_bytes || !tr->to_float) return "no type facts (name, block, bytes, to_float)";
    if (tr != kq_type((qwen3_dtype)t)) return "facts differ from kq_type's";
    if (!e->f32) return "no float32 kernel";
    if (!!(c->features & K_CPU_BF16) != !!e->gemm16 && e->path != K_PATH_F32) return "bf16 GEMM present without AVX512_BF16 or missing with it";
    if (e->path == K_PATH_F32 && e->gemm16) return "bf16 GEMM on a float32-path type";
    if (tr->dot) { /* quantized */
        if (e->path != K_PATH_INT || !e->rows || !tr->from_float || tr->act == KACT_F32) return "quantized type without integer kernels";
        if (c->isa >= K_ISA_AVX2 && e->rows == s->rows) return "no SIMD integer kernel (still the scalar twin)";
    } else {
        if (e->rows || e->gemv || e->gemm) return "float type with integer kernels";
        if (e->path == K_PATH_INT) return "float type on the integer path";
        if (e->path == K_PATH_B16 && !e->b16) return "bf16 path without a bf16 kernel";
        if (c->isa >= K_ISA_AVX2 && e->f32 == s->f32) return "no SIMD float32 kernel (still the scalar twin)";
    }
    return NULL;
}

enum { ROWS = 13, NMAX = 9 };

/* max over (row, token) of |a - b| / (1e-5 * S) for the float kernels; 0 when bit-identical */
static int same_bits(const float *a, const float *b, size_t n) { return !memcmp(a, b, sizeof(float) * n); }

/* runs kind k of entry e on tokens [0, n) (rows 0..5 and 5..13 separately); returns 0 when e has no
 * kernel of the kind */
enum { KIND_INT, KIND_F32, KIND_B16, KIND_GEMM16 };
static int run_kind(int kind, const ktype *e, const kmat *M, const void *X, size_t xstride, int n, float *Y, void *scratch) {
    static const int64_t cut[3] = {0, 5, ROWS};
    for (int p = 0; p < 2; p++) {
        int64_t r0 = cut[p], r1 = cut[p + 1];
        switch (kind) {
        case KIND_INT:
            if (e->path != K_PATH_INT) return 0;
            k_qmatmul_rows(e, M, X, xstride, n, Y, r0, r1);
            break;
        case KIND_F32: e->f32(M, X, n, Y, r0, r1); break;
        case KIND_B16:
            if (!e->b16) return 0;
            e->b16(M, X, n, Y, r0, r1);
            break;
        default:
            if (!e->gemm16) return 0;
            e->gemm16(M, X, n, Y, r0, r1, scratch);
            break;
        }
    }
    return 1;
}

/* the scalar twin of kind k for type t (the scalar flavour lacks the bf16 kernels: their named twins) */
static void run_twin(int kind, int t, const kmat *M, const void *X, size_t xstride, int n, float *Y, void *scratch) {
    if (kind == KIND_B16) k_dot_bf16_rows_scalar(M, X, n, Y, 0, ROWS);
    else if (kind == KIND_GEMM16) k_gemm_bf16_rows_scalar(M, X, n, Y, 0, ROWS, scratch);
    else run_kind(kind, &scalar.type[t], M, X, xstride, n, Y, scratch);
}

/* why flavour c's kernels of type t disagree with the scalar flavour's, or NULL */
static const char *disagrees(const kcpu *c, int t, char *why, size_t wl) {
    const ktype *e = &c->type[t];
    const kq_traits *tr = e->tr;
    const int64_t K = tr->block == 256 ? 512 : 96;
    const size_t rb = k_row_bytes((qwen3_dtype)t, K);
    float *wf = malloc(sizeof(float) * (size_t)K * ROWS), *x = malloc(sizeof(float) * (size_t)K * NMAX);
    uint8_t *W = malloc(rb * ROWS);
    for (int i = 0; i < K * ROWS; i++) wf[i] = frand() * (i % 29 == 0 ? 8.0f : 1.0f);
    for (int r = 0; r < ROWS; r++) tr->from_float(wf + (size_t)r * K, W + (size_t)r * rb, K);
    for (int i = 0; i < K * NMAX; i++) x[i] = frand() * (i % 31 == 0 ? 12.0f : 1.0f);
    kmat M = {(qwen3_dtype)t, W, ROWS, K, rb, 0};
    /* every input form, made by the scalar conversions (and checked against the flavour's) */
    const size_t ab = tr->dot ? kq_act_row_bytes(tr->act, K) : 0;
    uint8_t *a8 = malloc(ab * NMAX + 1), *a8f = malloc(ab * NMAX + 1);
    uint16_t *b16 = malloc(sizeof(uint16_t) * (size_t)K * NMAX), *b16f = malloc(sizeof(uint16_t) * (size_t)K * NMAX);
    uint32_t *p16 = malloc(sizeof(uint32_t) * 16 * (size_t)(K / 2));
    void *scratch = malloc(k_gemm_bf16_scratch(K));
    float *y = malloc(sizeof(float) * ROWS * NMAX), *ys = malloc(sizeof(float) * ROWS * NMAX), *y1 = malloc(sizeof(float) * ROWS);
    const char *bad = NULL;
    if (tr->dot) {
        memset(a8, 0, ab * NMAX); /* the rows' padding to 64 bytes is written by neither */
        memset(a8f, 0, ab * NMAX);
        for (int k = 0; k < NMAX; k++) {
            scalar.act_quant(tr->act, x + (size_t)k * K, a8 + (size_t)k * ab, K);
            c->act_quant(tr->act, x + (size_t)k * K, a8f + (size_t)k * ab, K);
        }
        if (memcmp(a8, a8f, ab * NMAX)) bad = "int8 activations differ from the scalar bytes";
    }
    scalar.to_b16(x, K, b16, 0, NMAX);
    c->to_b16(x, K, b16f, 0, NMAX);
    if (!bad && memcmp(b16, b16f, sizeof(uint16_t) * (size_t)K * NMAX)) bad = "bf16 activations differ from the scalar bits";
    static const int ns[] = {1, 3, NMAX};
    for (int kind = KIND_INT; kind <= KIND_GEMM16 && !bad; kind++)
        for (int ni = 0; ni < 3 && !bad; ni++) {
            const int n = ns[ni];
            const void *X = kind == KIND_INT ? (const void *)a8 : kind == KIND_F32 ? (const void *)x : kind == KIND_B16 ? (const void *)b16 : (const void *)p16;
            const size_t xs = kind == KIND_INT ? ab : 0;
            if (kind == KIND_GEMM16) k_pack_x_bf16(x, n, K, p16, 0, 1);
            memset(y, 0xff, sizeof(float) * ROWS * NMAX);
            if (!run_kind(kind, e, &M, X, xs, n, y, scratch)) break;
            run_twin(kind, t, &M, X, xs, n, ys, scratch);
            static const char *const kn[] = {"integer", "float32", "bf16 dot", "bf16 GEMM"};
            if (kind == KIND_F32) {
                for (int k = 0; k < n && !bad; k++)
                    for (int r = 0; r < ROWS; r++) {
                        double S = 0;
                        float *wr = malloc(sizeof(float) * (size_t)K);
                        tr->to_float(W + (size_t)r * rb, wr, K);
                        for (int i = 0; i < K; i++) S += fabs((double)wr[i] * x[(size_t)k * K + i]);
                        free(wr);
                        double d = fabs((double)y[(size_t)k * ROWS + r] - ys[(size_t)k * ROWS + r]);
                        if (!(d <= 1e-5 * S)) {
                            snprintf(why, wl, "%s kernel: n=%d token %d row %d: %.9g vs scalar %.9g (bound %.3g)", kn[kind], n, k, r,
                                     y[(size_t)k * ROWS + r], ys[(size_t)k * ROWS + r], 1e-5 * S);
                            bad = why;
                            break;
                        }
                    }
            } else if (!same_bits(y, ys, (size_t)n * ROWS)) {
                snprintf(why, wl, "%s kernel differs from the scalar twin's bits (n=%d)", kn[kind], n);
                bad = why;
            }
            /* each token alone: the bits it has in the batch (the GEMM's packing groups 16 tokens, so
             * only its first token is re-run alone, from a fresh packing) */
            for (int k = 0; k < (kind == KIND_GEMM16 ? 1 : n) && !bad && n > 1; k++) {
                const void *Xk = kind == KIND_INT ? (const void *)(a8 + (size_t)k * ab)
                                 : kind == KIND_F32 ? (const void *)(x + (size_t)k * K)
                                 : kind == KIND_B16 ? (const void *)(b16 + (size_t)k * K) : (const void *)p16;
                if (kind == KIND_GEMM16) k_pack_x_bf16(x, 1, K, p16, 0, 1);
                run_kind(kind, e, &M, Xk, xs, 1, y1, scratch);
                if (!same_bits(y1, y + (size_t)k * ROWS, ROWS)) {
                    snprintf(why, wl, "%s kernel: token %d alone differs from its bits in a batch of %d", kn[kind], k, n);
                    bad = why;
                }
            }
        }
    free(wf); free(x); free(W); free(a8); free(a8f); free(b16); free(b16f); free(p16); free(scratch); free(y); free(ys); free(y1);
    return bad;
}

int main(void) {
    kcpu_init(&scalar, 0);
    static kcpu tab[NFLAV];
    int run[NFLAV], expect = 0;
    for (int f = 0; f < NFLAV; f++) {
        kcpu_init(&tab[f], flavours[f].features);
        run[f] = tab[f].features == flavours[f].features;
        expect += run[f] ? 1 + QWEN3_DTYPE_COUNT : 1;
    }
    TEST_EXPECT(expect);
    char name[96], why[256];
    for (int f = 0; f < NFLAV; f++) {
        const kcpu *c = &tab[f];
        if (!run[f]) {
            snprintf(name, sizeof name, "ktable-%s", flavours[f].name);
            TEST_SKIP(name, "this CPU (or compiler) lacks it: its table is %s's", kcpu_name(c));
            continue;
        }
        const char *miss = NULL;
        int mt = 0;
        for (int t = 0; t < QWEN3_DTYPE_COUNT && !miss; t++) miss = incomplete(c, mt = t);
        snprintf(name, sizeof name, "ktable-%s-complete (%d types)", flavours[f].name, QWEN3_DTYPE_COUNT);
        CHECK(!miss, name, "type %d (%s): %s", mt, kq_type((qwen3_dtype)mt) && kq_type((qwen3_dtype)mt)->name ? kq_type((qwen3_dtype)mt)->name : "?", miss);
        for (int t = 0; t < QWEN3_DTYPE_COUNT; t++) {
            const char *tn = c->type[t].tr && c->type[t].tr->name ? c->type[t].tr->name : "?";
            snprintf(name, sizeof name, "ktable-%s-%s-agrees-with-scalar", flavours[f].name, tn);
            const char *bad = incomplete(c, t) ? "incomplete entry" : disagrees(c, t, why, sizeof why);
            CHECK(!bad, name, "%s", bad);
        }
    }
    return test_exit();
}
