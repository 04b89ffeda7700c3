/* test_repack_ggml.c - GGUF's types with interleaved one-token kernels (kernels/repack.c): Q5_K, Q4_0,
 * Q4_1, Q5_0, Q5_1 and IQ4_NL by 8 rows (block b of a group's 8 rows side by side), Q4_K, Q6_K and our
 * Q4 by 16 rows with the words in lanes: k_il_row gives back every row's bytes and
 * k_row_to_float its values, and through k_qmatmul_rows with the AVX-512 VNNI table (the 8- or 16-row
 * one-token kernel reading one stream, the many-token kernel reading the same blocks at their
 * interleaved addresses) every (row, token) equals the scalar twin's dot product on the row-major
 * bytes bit for bit, for n = 1, 5, 8, 13, 70 tokens, K = 256 and 1,024, 48 rows split at il (the
 * layout's rows per group) as threads would. Rows are half quantized from random floats, half random bytes with small
 * scales (every bit pattern of the packed scales). Without VNNI it prints SKIP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "test.h"

static uint64_t rng = 0x6a09e667f3bcc909ull;
static uint64_t next(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}
static float frand(void) { return (float)((double)(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

/* byte offsets of a block's f16 scales (d, and dmin / m or -1) */
static void f16_fields(qwen3_dtype t, int off[2]) {
    off[0] = t == QWEN3_Q6_K ? 208 : 0;
    off[1] = t == QWEN3_Q4_K || t == QWEN3_Q5_K || t == QWEN3_Q4_1 || t == QWEN3_Q5_1 || t == QWEN3_Q4 ? 2 : -1;
}

#define NT 9
#define NKS 2
#define NNS 5

int main(void) {
    kcpu cpu;
    kcpu_init(&cpu, K_CPU_ALL);
    static const qwen3_dtype types[NT] = {QWEN3_Q4_K, QWEN3_Q5_K, QWEN3_Q6_K, QWEN3_Q4_0, QWEN3_Q4_1, QWEN3_Q5_0, QWEN3_Q5_1, QWEN3_IQ4_NL, QWEN3_Q4};
    if (!(cpu.features & K_CPU_VNNI)) { TEST_EXPECT(1); printf("SKIP repack_ggml: the CPU lacks AVX-512 VNNI\n"); return 0; }
    TEST_EXPECT(NT * NKS * (1 + NNS));
    static const int Ks[NKS] = {256, 1024};
    static const int ns[NNS] = {1, 5, 8, 13, 70};
    const int rows = 48, nmax = 70;
    for (int ti = 0; ti < NT; ti++)
        for (int ki = 0; ki < NKS; ki++) {
            const qwen3_dtype t = types[ti];
            const kq_traits *tr = kq_type(t);
            const int K = Ks[ki];
            const size_t rb = k_row_bytes(t, K), ab = kq_act_row_bytes(tr->act, K);
            float *wf = malloc(sizeof(float) * (size_t)K), *f0 = malloc(sizeof(float) * (size_t)K), *f1 = malloc(sizeof(float) * (size_t)K);
            uint8_t *W = malloc(rb * rows), *P = malloc(rb * rows), *row = malloc(rb), *A = malloc(ab * nmax);
            int off[2];
            f16_fields(t, off);
            for (int r = 0; r < rows; r++) {
                uint8_t *w = W + (size_t)r * rb;
                if (r % 2) {
                    for (int c = 0; c < K; c++) wf[c] = frand() * (r % 3 ? 1.0f : 100.0f);
                    kq_quantize_row(t, wf, w, K);
                } else {
                    for (size_t i = 0; i < rb; i++) w[i] = (uint8_t)next();
                    for (size_t b = 0; b < rb; b += tr->block_bytes)
                        for (int f = 0; f < 2; f++)
                            if (off[f] >= 0) {
                                uint16_t h = k_f32_to_f16(frand() * 0.01f);
                                memcpy(w + b + off[f], &h, 2);
                            }
                }
            }
            for (int tk = 0; tk < nmax; tk++) {
                for (int c = 0; c < K; c++) wf[c] = frand() * (c % 37 == 0 ? 30.0f : 1.0f);
                kq_act_quant_row(tr->act, wf, A + (size_t)tk * ab, K);
            }
            char name[160];
            /* the layout's round trip */
            int il = k_il_fits(t, rows, K);
            k_il_pack(t, W, rb, rows, K, P);
            kmat IM = {t, P, rows, K, rb, il}, RM = {t, W, rows, K, rb, 0};
            /* (one block per row: the same bytes in either layout) */
            int rt = il == (t == QWEN3_Q4_K || t == QWEN3_Q6_K || t == QWEN3_Q4 ? 16 : 8) && !k_il_fits(t, rows - 4, K) && (K == tr->block || memcmp(W, P, rb * rows) != 0);
            for (int r = 0; r < rows && rt; r++) {
                k_il_row(&IM, r, row);
                k_row_to_float(&IM, r, f0);
                k_row_to_float(&RM, r, f1);
                rt = !memcmp(row, W + (size_t)r * rb, rb) && !memcmp(f0, f1, sizeof(float) * (size_t)K);
            }
            snprintf(name, sizeof name, "repack_ggml: interleaved %s gives back every row's bytes and values (K=%d)", tr->name, K);
            CHECK(rt, name, "k_il_fits %d, or a row differs after k_il_pack / k_il_row", il);
            for (int ni = 0; ni < NNS; ni++) {
                const int n = ns[ni];
                float *y = malloc(sizeof(float) * (size_t)n * rows);
                memset(y, 0xff, sizeof(float) * (size_t)n * rows);
                const ktype *e = &cpu.type[t];
                int have = e->gemv_il && e->gemm_il;
                if (have) {
                    k_qmatmul_rows(e, &IM, A, ab, n, y, 0, il);
                    k_qmatmul_rows(e, &IM, A, ab, n, y, il, rows);
                }
                int bad = !have;
                for (int tk = 0; tk < n && !bad; tk++)
                    for (int r = 0; r < rows; r++) {
                        float s = tr->dot(W + (size_t)r * rb, A + (size_t)tk * ab, K);
                        if (memcmp(&s, &y[(size_t)tk * rows + r], 4)) {
                            printf("  token %d row %d: %.9g, scalar %.9g\n", tk, r, y[(size_t)tk * rows + r], s);
                            bad = 1;
                            break;
                        }
                    }
                snprintf(name, sizeof name, "repack_ggml: interleaved %s == scalar twin bit for bit (K=%d, n=%d)", tr->name, K, n);
                CHECK(!bad, name, "%s", have ? "differs" : "no interleaved kernels in the VNNI table");
                free(y);
            }
            free(wf); free(f0); free(f1); free(W); free(P); free(row); free(A);
        }
    return test_exit();
}
