/* test_gemm_ggml.c - GGUF's block types on the batch-invariant path: through k_qmatmul_rows with each
 * SIMD kernel set the CPU has (AVX-512 VNNI, AVX2, AVX-VNNI), every (row, token) equals the scalar
 * twin (kq_type(t)->dot) bit for bit, for n = 1, 3 (one-token kernels; Q4_K / Q5_K / Q6_K take 8
 * rows per step, quant_ggml_gemv512.c / quant_ggml_gemv256.c, as do the 32-value types on AVX-512,
 * and the 4-row kernel for the rest: the split below gives both), 8, 13, 17, 33, 50 and 130
 * tokens (the many-token kernels: partial and pairs of 16-token vectors and 6-token tiles, a
 * 128-token chunk boundary), and 300 with the AVX-512 set at the first K (past its superblock
 * kernel's 288-token pass), K = 256, 768, 1024 (superblocks) or 32, 96, 288, 1024 (32-value
 * blocks: spans of 8 blocks and a partial one), rows split unevenly as two threads would and not
 * a multiple of 4 (so partial 16-row vectors).
 * Weights: half the rows quantized from floats of mixed scales, half random block bytes (every bit
 * pattern of the quant fields, so the extreme values: Q6_K's scale -128, all-ones nibbles) with sane
 * f16 fields; activations with outliers, so int8 values reach +-127. One check per (type, kernel
 * set); a kernel set the CPU lacks prints SKIP.
 *
 * A fourth set: the AVX-VNNI flavour of the many-token kernels (quant_ggml_gemm256.c's vnni body, the
 * flavour's own code: its one-token path is the AVX2 set's) built a second time with the EVEX
 * encoding of the same two instructions (kq_ggml_gemm_avxvnni_evex, linked into this test only), run
 * on any CPU with AVX-512 VNNI, so the flavour is checked where the AVX-VNNI bit is missing; called
 * directly, n = 8..130.
 *
 * Our own Q4 (kernels/quant.h) is in every set too: it has Q4_K's arithmetic and takes the
 * superblock kernels (one-token 4- and 8-row, many-token; on AVX2 since 2026-12-06, before which it
 * had its own AVX2 dots, summing in their own order). Q8_0 is in every set: on AVX-512 VNNI
 * gemm_q8.c's kernels, on AVX2 the 32-value types' GEMM and 4-row dot and its own 8-row kernel
 * (quant_ggml_gemv256.c; its scalar twin's arithmetic is theirs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"
#include "test.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}
static float frand(void) { return (float)((double)(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

/* byte offsets of the f16 fields of a block (-1: none) */
static void f16_fields(qwen3_dtype t, int off[2]) {
    off[0] = 0; off[1] = -1;
    switch (t) {
    case QWEN3_Q4_1: case QWEN3_Q5_1: case QWEN3_Q4_K: case QWEN3_Q5_K: case QWEN3_Q4: off[1] = 2; break;
    case QWEN3_Q2_K: off[0] = 80; off[1] = 82; break;
    case QWEN3_Q3_K: off[0] = 108; break;
    case QWEN3_Q6_K: off[0] = 208; break;
    default: break;
    }
}

/* cpu NULL: the EVEX build of the AVX-VNNI flavour's many-token kernels (n >= 8 only) */
static void matmul(const kcpu *cpu, const kmat *M, const void *A, size_t ab, int n, float *y, int64_t r0, int64_t r1, int *oom) {
    if (cpu) k_qmatmul_rows(&cpu->type[M->type], M, A, ab, n, y, r0, r1);
    else if (!kq_ggml_gemm_avxvnni_evex[M->type] || !kq_ggml_gemm_avxvnni_evex[M->type](M, A, ab, n, y, r0, r1)) *oom = 1;
}

static int run_case(qwen3_dtype t, const kcpu *cpu, int K, const int *ns, int nn) {
    const kq_traits *tr = kq_type(t);
    const int rows = 37, nmax = 300;
    size_t rb = k_row_bytes(t, K), ab = kq_act_row_bytes(tr->act, K);
    float *wf = malloc(sizeof(float) * (size_t)K);
    uint8_t *W = malloc(rb * rows), *A = malloc(ab * nmax);
    int off[2];
    f16_fields(t, off);
    for (int r = 0; r < rows; r++) {
        uint8_t *row = W + (size_t)r * rb;
        if (r % 2) {
            for (int c = 0; c < K; c++) wf[c] = frand() * (r % 3 ? 1.0f : 100.0f) * (c % 61 == 0 ? 8.0f : 1.0f);
            kq_quantize_row(t, wf, row, K);
        } else {
            for (size_t i = 0; i < rb; i++) row[i] = (uint8_t)next();
            for (size_t b = 0; b < rb; b += tr->block_bytes)
                for (int f = 0; f < 2; f++)
                    if (off[f] >= 0) {
                        uint16_t h = k_f32_to_f16(frand() * 0.01f);
                        memcpy(row + b + off[f], &h, 2);
                    }
        }
    }
    for (int tk = 0; tk < nmax; tk++) {
        for (int c = 0; c < K; c++) wf[c] = frand() * (c % 37 == 0 ? 30.0f : 1.0f);
        kq_act_quant_row(tr->act, wf, A + (size_t)tk * ab, K);
    }
    kmat M = {t, W, rows, K, rb, 0};
    int bad = 0;
    for (int ni = 0; ni < nn && !bad; ni++) {
        const int n = ns[ni];
        float *y = calloc((size_t)n * rows, sizeof(float));
        int oom = 0;
        matmul(cpu, &M, A, ab, n, y, 0, 13, &oom);
        matmul(cpu, &M, A, ab, n, y, 13, rows, &oom);
        if (oom) {
            printf("  %s K=%d n=%d: the kernel returned 0 (no kernel or out of memory)\n", tr->name, K, n);
            bad = 1;
        }
        for (int tk = 0; tk < n && !bad; tk++)
            for (int r = 0; r < rows; r++) {
                float s = tr->dot(W + (size_t)r * rb, A + (size_t)tk * ab, K);
                if (memcmp(&s, &y[(size_t)tk * rows + r], 4)) {
                    printf("  %s K=%d n=%d token %d row %d: %.9g, scalar %.9g\n", tr->name, K, n, tk, r, y[(size_t)tk * rows + r], s);
                    bad = 1;
                    break;
                }
            }
        free(y);
    }
    free(wf); free(W); free(A);
    return !bad;
}

int main(void) {
    /* Q8_0 (AVX-512: gemm_q8.c's kernels; AVX2: the 32-value types' kernels), GGUF's types, then our
     * own Q4, whose kernels are the superblock types' in every set */
    const int ntypes = QWEN3_IQ4_XS - QWEN3_Q4_0 + 3;
    TEST_EXPECT(4 * ntypes);
    static const int ns[] = {1, 3, 8, 13, 17, 33, 50, 130, 300};
    static const int Kk[] = {256, 768, 1024}, K32[] = {32, 96, 288, 1024};
    /* the kernel tables of the three integer flavours, passed to k_qmatmul_rows; a fourth set: the
     * EVEX build of the AVX-VNNI flavour, called directly */
    static const char *const set_names[] = {"AVX-512 VNNI", "AVX2", "AVX-VNNI", "EVEX"};
    static const unsigned set_features[] = {K_CPU_ALL, K_CPU_AVX2, K_CPU_AVX2 | K_CPU_AVXVNNI, K_CPU_ALL};
    static const unsigned set_needs[] = {K_CPU_AVX512 | K_CPU_VNNI, K_CPU_AVX2, K_CPU_AVX2 | K_CPU_AVXVNNI, K_CPU_AVX512 | K_CPU_VNNI};
    static const char *const set_lacks[] = {"the CPU lacks AVX-512 VNNI", "the CPU lacks AVX2", "the CPU (or compiler) lacks AVX-VNNI",
                                            "the CPU lacks AVX-512 VNNI (AVX512VL + AVX512_VNNI)"};
    for (int si = 0; si < 4; si++) {
        const int evex = si == 3;
        kcpu cpu;
        kcpu_init(&cpu, set_features[si]);
        const char *why = (cpu.features & set_needs[si]) == set_needs[si] ? NULL : set_lacks[si];
        for (int ti = 0; ti < ntypes; ti++) {
            qwen3_dtype t = ti == 0 ? QWEN3_Q8_0 : ti == ntypes - 1 ? QWEN3_Q4 : (qwen3_dtype)(QWEN3_Q4_0 + ti - 1);
            char name[200];
            if (evex)
                snprintf(name, sizeof name, "gemm_ggml: %s AVX-VNNI flavour, EVEX build == scalar twin bit for bit, n = 8..130", kq_type(t)->name);
            else
                snprintf(name, sizeof name, "gemm_ggml: %s %s == scalar twin bit for bit, n = 1..130", kq_type(t)->name, set_names[si]);
            if (why) { TEST_SKIP(name, "%s", why); continue; }
            const int *Ks = kq_type(t)->block == 256 ? Kk : K32, nk = kq_type(t)->block == 256 ? 3 : 4;
            /* the EVEX build holds only the many-token kernels: ns from 8 */
            const int skip = evex ? 2 : 0;
            int ok = 1;
            /* 300 tokens (past the AVX-512 superblock kernel's 288-token pass) for that set's first K only */
            for (int ki = 0; ki < nk && ok; ki++)
                ok = run_case(t, evex ? NULL : &cpu, Ks[ki], ns + skip, (int)(sizeof ns / sizeof ns[0]) - skip - (si == 0 && ki == 0 ? 0 : 1));
            CHECK(ok, name, "differs (first difference above)");
        }
    }
    return test_exit();
}
