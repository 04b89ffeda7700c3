/* test_matmul_packed.c - the products of many tokens as the engine runs them (kernels/dispatch.c):
 * float activations through a kact, interleaved matrices, a pool of 1 and of 2 threads. Over 8 or
 * more tokens the int8 activations are packed once per input (kq_pack, ktype.pk_il) and every
 * product over that input reads the one packing (here two matrices of the same type in one
 * dispatch, k_matmul_act_multi), and with two threads the rows go in chunks taken by whichever
 * thread is free. Every (row, token) must equal the scalar twin (kq_type(t)->dot of the row-major
 * row and the token's int8 row from kq_act_quant_row) bit for bit, for n = 8, 23 (partial tiles of
 * 6 and 16 tokens), 130 and 203 (past the GEMMs' 96- and 128-token passes; the superblock
 * kernel's 288-token pass is test_gemm_ggml's), and the packing must have been made (kact.a8p_pk
 * is the type's after the call, and no int8 rows were made: the packing comes from the float
 * rows), so a dispatch that stopped packing cannot pass unseen; then the same products over
 * activations given only as int8 rows (kact_set_a8, as MoE experts gather them; n = 1 and 5 too,
 * one token at a time). Two checks per (type, thread count), and one per type for its packing
 * made from float rows (pack_x_matches); a type without
 * an interleaved GEMM over packed tokens on this CPU (no AVX-512 VNNI) prints SKIP. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/pool.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "test.h"

static uint64_t rng = 0x7f4a7c159e3779b9ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* rows x K of type t: row-major (for the scalar twin) and interleaved (for the products) */
static void make_matrix(qwen3_dtype t, int rows, int K, uint8_t **rm, uint8_t **il) {
    size_t rb = k_row_bytes(t, K);
    float *wf = malloc(sizeof(float) * (size_t)K);
    *rm = malloc(rb * (size_t)rows);
    *il = malloc(rb * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < K; c++) wf[c] = frand() * (r % 3 ? 1.0f : 50.0f) * (c % 53 == 0 ? 6.0f : 1.0f);
        kq_quantize_row(t, wf, *rm + (size_t)r * rb, K);
    }
    k_il_pack(t, *rm, rb, rows, K, *il);
    free(wf);
}

/* "" when every (row, token) of Y equals the scalar twin, else what differs */
static int compare(qwen3_dtype t, const uint8_t *W, int rows, int K, const float *X, int n, const float *Y, char *why, size_t wn) {
    const kq_traits *tr = kq_type(t);
    size_t rb = k_row_bytes(t, K), ab = kq_act_row_bytes(tr->act, K);
    uint8_t *arow = malloc(ab);
    int ok = 1;
    for (int tk = 0; tk < n && ok; tk++) {
        kq_act_quant_row(tr->act, X + (size_t)tk * K, arow, K);
        for (int r = 0; r < rows; r++) {
            float s = tr->dot(W + (size_t)r * rb, arow, K);
            if (memcmp(&s, &Y[(size_t)tk * rows + r], 4)) {
                snprintf(why, wn, "n=%d token %d row %d: %.9g, scalar twin %.9g", n, tk, r, Y[(size_t)tk * rows + r], s);
                ok = 0;
                break;
            }
        }
    }
    free(arow);
    return ok;
}

/* Tiles quantized straight from float rows (kq_pack.pack_x) must hold the bytes of the packing of
 * the scalar quantizer's int8 rows (kq_act_quant_row, then pack): for n = 1, 5, 6, 7, 23, 130
 * (partial and whole tiles), made in one call and in two calls split at a tile boundary (as two
 * threads make them), with rows all zero (d = 0), rows of one large value, and negative ones. */
static int pack_x_matches(const kq_pack *pk, kact_type at, int64_t K, char *why, size_t wn) {
    static const int ns[] = {1, 5, 6, 7, 23, 130};
    const int nmax = 130;
    const size_t ab = kq_act_row_bytes(at, K), pb = pk->bytes(nmax, K);
    float *X = malloc(sizeof(float) * (size_t)nmax * (size_t)K);
    uint8_t *A = malloc(ab * (size_t)nmax), *P0 = malloc(pb), *P1 = malloc(pb);
    int ok = 1;
    for (int i = 0; i < nmax; i++)
        for (int64_t c = 0; c < K; c++) {
            float v = frand() * (i % 4 == 1 ? 300.0f : 1.0f);
            if (i % 7 == 3) v = 0.0f;                          /* a row of zeros */
            if (i % 7 == 5) v = c == (i * 37) % K ? -9.5f : 0.0f; /* one value: it maps to -127 */
            X[(size_t)i * (size_t)K + c] = v;
        }
    for (int i = 0; i < nmax; i++) kq_act_quant_row(at, X + (size_t)i * (size_t)K, A + (size_t)i * ab, K);
    for (int ni = 0; ni < 6 && ok; ni++) {
        const int n = ns[ni], half = (n / 2 + pk->tile - 1) / pk->tile * pk->tile;
        const size_t nb = pk->bytes(n, K);
        memset(P0, 0x5a, nb);
        memset(P1, 0xa5, nb); /* different fillings: a byte written by neither shows */
        pk->pack(A, ab, n, 0, n, K, P0);
        if (ni % 2) pk->pack_x(X, n, 0, n, K, P1);
        else {
            pk->pack_x(X, n, 0, half, K, P1);
            pk->pack_x(X, n, half, n, K, P1);
        }
        for (size_t b = 0; b < nb && ok; b++)
            if (P0[b] != P1[b]) {
                snprintf(why, wn, "n=%d: byte %zu of %zu is %d from the float rows, %d from the int8 rows", n, b, nb, P1[b], P0[b]);
                ok = 0;
            }
    }
    free(X); free(A); free(P0); free(P1);
    return ok;
}

int main(void) {
    static const qwen3_dtype types[] = {QWEN3_Q8_0, QWEN3_Q4, QWEN3_Q4_K, QWEN3_Q5_K, QWEN3_Q6_K,
                                        QWEN3_Q4_0, QWEN3_Q4_1, QWEN3_Q5_0, QWEN3_Q5_1, QWEN3_IQ4_NL};
    static const int ns[] = {8, 23, 130, 203};
    const int ntypes = (int)(sizeof types / sizeof types[0]), rows = 48, nmax = 203;
    TEST_EXPECT(5 * ntypes);
    kcpu cpu;
    kcpu_init(&cpu, K_CPU_ALL);
    qpool *pools[2] = {qpool_new(1), qpool_new(2)};
    if (!pools[0] || !pools[1]) { printf("FAIL matmul_packed: no thread pool\n"); return 1; }
    for (int ti = 0; ti < ntypes; ti++) {
        const qwen3_dtype t = types[ti];
        const ktype *e = &cpu.type[t];
        const int K = kq_type(t)->block == 256 ? 768 : 288; /* three superblocks / nine 32-blocks */
        {
            char name[160], why[200] = "";
            snprintf(name, sizeof name, "matmul_packed: %s, tiles quantized from float rows == packing of the int8 rows, bit for bit",
                     kq_type(t)->name);
            if (!e->pk_il) TEST_SKIP(name, "no packing of many tokens for %s on this CPU (it needs AVX-512 VNNI)", kq_type(t)->name);
            else CHECK(pack_x_matches(e->pk_il, kq_type(t)->act, K, why, sizeof why), name, "%s", why);
        }
        for (int pi = 0; pi < 2; pi++) {
            char name[160], why[200] = "";
            snprintf(name, sizeof name, "matmul_packed: %s, activations packed once, %d thread%s == scalar twin bit for bit, n = 8..203",
                     kq_type(t)->name, pi + 1, pi ? "s" : "");
            char name8[200];
            snprintf(name8, sizeof name8, "matmul_packed: %s, activations given as int8 rows (kact_set_a8), %d thread%s == scalar twin bit "
                     "for bit, n = 1..203", kq_type(t)->name, pi + 1, pi ? "s" : "");
            if (!e->pk_il || !e->gemm_il_p || !k_il_fits(t, rows, K)) {
                TEST_SKIP(name, "no interleaved GEMM over packed tokens for %s on this CPU (it needs AVX-512 VNNI)", kq_type(t)->name);
                TEST_SKIP(name8, "no interleaved GEMM over packed tokens for %s on this CPU (it needs AVX-512 VNNI)", kq_type(t)->name);
                continue;
            }
            uint8_t *rm[2], *il[2];
            make_matrix(t, rows, K, &rm[0], &il[0]);
            make_matrix(t, rows, K, &rm[1], &il[1]);
            const size_t rb = k_row_bytes(t, K);
            kmat M0 = {t, il[0], rows, K, rb, k_il_rows(t)}, M1 = {t, il[1], rows, K, rb, k_il_rows(t)};
            float *X = malloc(sizeof(float) * (size_t)nmax * K);
            for (size_t i = 0; i < (size_t)nmax * K; i++) X[i] = frand() * (i % 41 == 0 ? 25.0f : 1.0f);
            float *Y0 = malloc(sizeof(float) * (size_t)nmax * rows), *Y1 = malloc(sizeof(float) * (size_t)nmax * rows);
            kact a;
            kact_init(&a, &cpu, 0);
            int ok = 1;
            for (int ni = 0; ni < 4 && ok; ni++) {
                const int n = ns[ni];
                memset(Y0, 0xff, sizeof(float) * (size_t)n * rows); /* NaNs: a row left unwritten shows */
                memset(Y1, 0xff, sizeof(float) * (size_t)n * rows);
                kact_set(&a, X, n, K);
                const kmat *W[2] = {&M0, &M1};
                float *Y[2] = {Y0, Y1};
                k_matmul_act_multi(pools[pi], W, Y, 2, &a);
                if (a.a8p_pk != e->pk_il || a.have_a8) {
                    snprintf(why, sizeof why, "n=%d: the packed activations were not used (kact.a8p_pk %p, the type's %p), or int8 rows "
                             "were made (%d) where the packing is made from the float rows", n, (const void *)a.a8p_pk,
                             (const void *)e->pk_il, a.have_a8);
                    ok = 0;
                    break;
                }
                ok = compare(t, rm[0], rows, K, X, n, Y0, why, sizeof why) && compare(t, rm[1], rows, K, X, n, Y1, why, sizeof why);
            }
            CHECK(ok, name, "%s", why);
            /* the same products from int8 rows alone (no float rows): one token at a time below the
             * GEMMs' token count, packed from the rows above it */
            static const int ns8[] = {1, 5, 8, 23, 130, 203};
            const kact_type at = kq_type(t)->act;
            const size_t ab = kq_act_row_bytes(at, K);
            ok = 1;
            for (int ni = 0; ni < 6 && ok; ni++) {
                const int n = ns8[ni];
                memset(Y0, 0xff, sizeof(float) * (size_t)n * rows);
                memset(Y1, 0xff, sizeof(float) * (size_t)n * rows);
                uint8_t *rows8 = kact_set_a8(&a, n, K, at);
                if (!rows8) { snprintf(why, sizeof why, "n=%d: kact_set_a8 gave no buffer", n); ok = 0; break; }
                for (int tk = 0; tk < n; tk++) kq_act_quant_row(at, X + (size_t)tk * K, rows8 + (size_t)tk * ab, K);
                const kmat *W[2] = {&M0, &M1};
                float *Y[2] = {Y0, Y1};
                k_matmul_act_multi(pools[pi], W, Y, 2, &a);
                if (n >= 16 && a.a8p_pk != e->pk_il) {
                    snprintf(why, sizeof why, "n=%d: the int8 rows were not packed (kact.a8p_pk %p, the type's %p)", n, (const void *)a.a8p_pk,
                             (const void *)e->pk_il);
                    ok = 0;
                    break;
                }
                ok = compare(t, rm[0], rows, K, X, n, Y0, why, sizeof why) && compare(t, rm[1], rows, K, X, n, Y1, why, sizeof why);
            }
            CHECK(ok, name8, "%s", why);
            kact_free(&a);
            free(X); free(Y0); free(Y1);
            for (int m = 0; m < 2; m++) { free(rm[m]); free(il[m]); }
        }
    }
    qpool_free(pools[0]);
    qpool_free(pools[1]);
    return test_exit();
}
