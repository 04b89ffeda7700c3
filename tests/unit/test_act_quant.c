/* test_act_quant.c - kq_act_quant_row_avx512 and kq_act_quant_row_avx2 give the bytes of the scalar
 * kq_act_quant_row (int8 values, scales, and A8_K's block sums) for A8_0 and A8_K rows:
 * gaussian-like values, rows with zero blocks, values that land exactly on a rounding tie (k + 0.5
 * after scaling), huge and tiny magnitudes, n = 256 .. 4096. A kernel whose instruction set the CPU
 * lacks prints SKIP for each of its checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "test.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

int main(void) {
    static const int ns[] = {256, 1024, 4096};
    static const char *kinds[] = {"random", "zero-blocks", "ties", "huge-tiny"};
    static const char *const isa[] = {"avx512", "avx2"};
    static void (*const fn[])(kact_type, const float *, void *, int64_t) = {kq_act_quant_row_avx512, kq_act_quant_row_avx2};
    const unsigned need[] = {K_CPU_AVX512, K_CPU_AVX2};
    TEST_EXPECT(2 * 2 * 3 * 4);
    for (int si = 0; si < 2; si++)
    for (int ti = 0; ti < 2; ti++) {
        kact_type t = ti ? KACT_A8_K : KACT_A8_0;
        for (int ni = 0; ni < 3; ni++) {
            int n = ns[ni];
            size_t rb = kq_act_row_bytes(t, n);
            float *x = malloc(sizeof(float) * (size_t)n);
            uint8_t *a = calloc(1, rb), *b = calloc(1, rb);
            for (int k = 0; k < 4; k++) {
                char name[128];
                snprintf(name, sizeof name, "act_quant-%s-n%d-%s-%s-eq-scalar", ti ? "A8_K" : "A8_0", n, kinds[k], isa[si]);
                if (!(k_cpu_features() & need[si])) { TEST_SKIP(name, "the CPU lacks %s", isa[si]); continue; }
                int bad = 0;
                for (int rep = 0; rep < 20 && !bad; rep++) {
                    for (int i = 0; i < n; i++) {
                        float v = frand() * 3.0f;
                        if (k == 1 && (i / 32) % 3 == 0) v = 0.0f;
                        /* amax 127 per block of 32 (the first value), the rest k + 0.5: ties for lrintf */
                        if (k == 2) v = i % 32 == 0 ? 127.0f : (float)((int)(frand() * 120.0f)) + 0.5f;
                        if (k == 3) v *= (i / 32) % 2 ? 1e30f : 1e-30f;
                        x[i] = v;
                    }
                    memset(a, 0, rb);
                    memset(b, 0, rb);
                    kq_act_quant_row(t, x, a, n);
                    fn[si](t, x, b, n);
                    bad = memcmp(a, b, rb) != 0;
                }
                CHECK(!bad, name, "the SIMD row differs from the scalar one");
            }
            free(x); free(a); free(b);
        }
    }
    return test_exit();
}
