/* test_train.c - the training GEMM kernels (train/gemm*.c) against a double-precision reference and
 * each other: input gradient dX += dY W and weight gradient dW += dY^T X, on odd shapes (tails of
 * every vector width, a single token, single rows), accumulating into non-zero outputs, with a
 * poisoned guard band after each output that must stay untouched. Also the threaded entry points
 * (train.h) against the scalar twin, whatever the ISA picked, and the synthetic task generator's
 * answers recomputed from its questions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "train/data.h"
#include "train/gemm.h"
#include "train/train.h"
#include "train/vec.h"
#include "test.h"

#define GUARD 37
static const float POISON = 12345.0f;

static uint64_t rs = 88172645463325252ull;
static float frand(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (float)((rs >> 11) * (1.0 / 9007199254740992.0) * 2 - 1);
}

typedef void (*in_fn)(float *, const float *, const float *, int, int, int, int, int);
typedef void (*w_fn)(float *, const float *, const float *, int, int, int, int, int);

static int check(const char *what, const float *got, const double *ref, size_t n, double scale) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        if (d > worst) worst = d;
    }
    for (size_t i = n; i < n + GUARD; i++)
        if (got[i] != POISON) { printf("FAIL %s: guard band written at %zu\n", what, i - n); return 1; }
    if (worst > 1e-5 * scale) { printf("FAIL %s: max error %.3g (tolerance %.3g)\n", what, worst, 1e-5 * scale); return 1; }
    return 0;
}

static int run_case(int n, int in, int out) {
    float *X = malloc(sizeof(float) * (size_t)n * in), *W = malloc(sizeof(float) * (size_t)out * in);
    float *dY = malloc(sizeof(float) * (size_t)n * out);
    float *dX = malloc(sizeof(float) * ((size_t)n * in + GUARD)), *dW = malloc(sizeof(float) * ((size_t)out * in + GUARD));
    double *rX = malloc(sizeof(double) * (size_t)n * in), *rW = malloc(sizeof(double) * (size_t)out * in);
    for (int i = 0; i < n * in; i++) X[i] = frand();
    for (int i = 0; i < out * in; i++) W[i] = frand();
    for (int i = 0; i < n * out; i++) dY[i] = frand();
    /* references: the outputs start at 0.5 (the kernels accumulate) */
    for (int t = 0; t < n; t++)
        for (int i = 0; i < in; i++) {
            double s = 0.5;
            for (int o = 0; o < out; o++) s += (double)dY[t * out + o] * W[o * in + i];
            rX[t * in + i] = s;
        }
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) {
            double s = 0.5;
            for (int t = 0; t < n; t++) s += (double)dY[t * out + o] * X[t * in + i];
            rW[o * in + i] = s;
        }
    double scale_x = sqrt((double)out) + 1, scale_w = sqrt((double)n) + 1;
    static const char *names[3] = {"scalar", "avx2", "avx512"};
    in_fn fi[3] = {tg_bwd_input_scalar, tg_bwd_input_avx2, tg_bwd_input_avx512};
    w_fn fw[3] = {tg_bwd_weight_scalar, tg_bwd_weight_avx2, tg_bwd_weight_avx512};
    int fails = 0;
    kcpu all; /* the best instruction set this CPU has (the kernels are called directly below) */
    kcpu_init(&all, K_CPU_ALL);
    const k_isa best = all.isa;
    for (int k = 0; k < 3; k++) {
        if (k > (int)best) { printf("SKIP train-gemm-%s: the CPU lacks it\n", names[k]); continue; }
        char what[96];
        for (int i = 0; i < n * in; i++) dX[i] = 0.5f;
        for (int i = 0; i < GUARD; i++) dX[n * in + i] = POISON;
        /* two column slices, as two threads would do them */
        int mid = (in / 2) / 64 * 64;
        fi[k](dX, dY, W, n, in, out, 0, mid);
        fi[k](dX, dY, W, n, in, out, mid, in);
        snprintf(what, sizeof what, "train-gemm-input-%s-%dx%dx%d", names[k], n, in, out);
        fails += check(what, dX, rX, (size_t)n * in, scale_x);
        for (int i = 0; i < out * in; i++) dW[i] = 0.5f;
        for (int i = 0; i < GUARD; i++) dW[out * in + i] = POISON;
        int omid = (out / 2) / 4 * 4;
        fw[k](dW, dY, X, n, in, out, 0, omid);
        fw[k](dW, dY, X, n, in, out, omid, out);
        snprintf(what, sizeof what, "train-gemm-weight-%s-%dx%dx%d", names[k], n, in, out);
        fails += check(what, dW, rW, (size_t)out * in, scale_w);
    }
    /* the threaded entry points (the ISA of the best table, as a training model on this CPU fills) */
    qpool *p = qpool_new(2);
    for (int i = 0; i < n * in; i++) dX[i] = 0.5f;
    for (int i = 0; i < GUARD; i++) dX[n * in + i] = POISON;
    t_matmul_backward_input(p, &all, dX, dY, W, n, in, out);
    fails += check("train-gemm-input-threaded", dX, rX, (size_t)n * in, scale_x);
    for (int i = 0; i < out * in; i++) dW[i] = 0.5f;
    for (int i = 0; i < GUARD; i++) dW[out * in + i] = POISON;
    t_matmul_backward_weight(p, &all, dW, dY, X, n, in, out);
    fails += check("train-gemm-weight-threaded", dW, rW, (size_t)out * in, scale_w);
    qpool_free(p);
    free(X); free(W); free(dY); free(dX); free(dW); free(rX); free(rW);
    return fails;
}

/* every synthetic answer recomputed from its question text */
static int check_synth(void) {
    uint64_t rng = 5;
    sbuf q = {0}, s = {0}, a = {0};
    int bad = 0, n = 0;
    for (int level = 1; level <= 5; level++)
        for (int f = 0; f < TS_FAMILIES; f++)
            for (int r = 0; r < 40; r++, n++) {
                tsynth_example(&rng, (tsynth_family)f, level, &q, &s, &a);
                long long x, y, z;
                char want[256] = "";
                if (sscanf(q.s, "What is %lld + %lld?", &x, &y) == 2) snprintf(want, sizeof want, "%lld", x + y);
                else if (sscanf(q.s, "What is %lld - %lld?", &x, &y) == 2) snprintf(want, sizeof want, "%lld", x - y);
                else if (sscanf(q.s, "What is %lld * %lld?", &x, &y) == 2) snprintf(want, sizeof want, "%lld", x * y);
                else if (f == TS_LINEAR) {
                    char sign;
                    if (sscanf(q.s, "Solve for x: %lld*x %c %lld = %lld", &x, &sign, &y, &z) == 4) {
                        if (sign == '-') y = -y;
                        snprintf(want, sizeof want, "x = %lld", (z - y) / x);
                        if ((z - y) % x) bad++;
                    }
                } else if (f == TS_COUNT) {
                    char c, w[64];
                    if (sscanf(q.s, "How many times does the letter %c appear in %63[a-z]?", &c, w) == 2) {
                        int k = 0;
                        for (char *p = w; *p; p++) k += *p == c;
                        snprintf(want, sizeof want, "%d", k);
                    }
                } else if (f == TS_SORT) {
                    long long v[32];
                    int m = 0;
                    const char *p = strchr(q.s, ':') + 1;
                    while (m < 32 && sscanf(p, " %lld", &v[m]) == 1) { m++; p = strchr(p, ','); if (!p) break; p++; }
                    for (int i = 0; i < m; i++)
                        for (int j = i + 1; j < m; j++) if (v[j] < v[i]) { long long t = v[i]; v[i] = v[j]; v[j] = t; }
                    size_t o = 0;
                    for (int i = 0; i < m; i++) o += (size_t)snprintf(want + o, sizeof want - o, "%s%lld", i ? ", " : "", v[i]);
                }
                if (strcmp(want, a.s)) {
                    if (bad++ < 3) printf("FAIL train-synth: '%s' answered '%s', expected '%s'\n", q.s, a.s, want);
                }
            }
    sb_free(&q); sb_free(&s); sb_free(&a);
    if (!bad) printf("PASS train-synth (%d examples, 6 families, levels 1-5: every answer recomputed from its question)\n", n);
    return bad;
}

/* the attention's vector ops: AVX-512 against the scalar twin and double, every length 1..130 */
static int check_vec(void) {
    float a[130], b[130], y1[130 + GUARD], y2[130 + GUARD];
    int bad = 0;
    if (!(k_cpu_features() & K_CPU_AVX512)) { printf("SKIP train-vec-avx512: the CPU lacks it\n"); return 0; }
    for (int n = 1; n <= 130; n++) {
        double ref = 0;
        for (int i = 0; i < n; i++) { a[i] = frand(); b[i] = frand(); ref += (double)a[i] * b[i]; }
        float d1 = tv_scalar.dot(a, b, n), d2 = tv_avx512.dot(a, b, n);
        if (fabs(d1 - ref) > 1e-5 * n || fabs(d2 - ref) > 1e-5 * n) { if (bad++ < 3) printf("FAIL train-vec-dot n=%d: scalar %g avx512 %g double %g\n", n, d1, d2, ref); }
        for (int i = 0; i < n + GUARD; i++) y1[i] = y2[i] = i < n ? b[i] : POISON;
        tv_scalar.axpy(y1, 0.75f, a, n);
        tv_avx512.axpy(y2, 0.75f, a, n);
        for (int i = 0; i < n + GUARD; i++)
            if (fabsf(y1[i] - y2[i]) > 1e-6f) { if (bad++ < 3) printf("FAIL train-vec-axpy n=%d at %d: %g vs %g\n", n, i, y1[i], y2[i]); break; }
    }
    /* the softmax row statistics (distillation's teacher rows): logits spread like a trained head's
     * (most far below the max, a few near it), with a mask; the AVX-512 set against the double twin */
    static float z[151936];
    static unsigned char mk[151936];
    const int lens[] = {1, 15, 16, 17, 255, 256, 257, 1000, 151936};
    for (int li = 0; li < (int)(sizeof lens / sizeof lens[0]); li++) {
        int n = lens[li];
        for (int i = 0; i < n; i++) {
            z[i] = (i % 97 == 3) ? 8.0f * frand() : -12.0f + 4.0f * frand();
            mk[i] = (unsigned char)(i % 5 != 0 && i % 97 != 3);
        }
        for (int withmask = 0; withmask < 2; withmask++) {
            const unsigned char *msk = withmask ? mk : NULL;
            float m1 = tv_scalar.max(z, n), m2 = tv_avx512.max(z, n);
            if (m1 != m2) { if (bad++ < 3) printf("FAIL train-vec-max n=%d: %g vs %g\n", n, m1, m2); continue; }
            tv_smx a, b;
            tv_scalar.softmax_stats(z, n, m1, msk, &a);
            tv_avx512.softmax_stats(z, n, m1, msk, &b);
            /* float exponentials (1 ulp) summed in float over blocks of 256: 1e-5 relative */
            double tol = 1e-5;
            if (fabs(a.s - b.s) > tol * a.s || fabs(a.sez - b.sez) > tol * fabs(a.sez) + 1e-6 * a.s ||
                fabs(a.su - b.su) > tol * a.su + 1e-30 || fabs(a.sumz - b.sumz) > tol * fabs(a.sumz) + 1e-4 || a.nu != b.nu) {
                if (bad++ < 3) printf("FAIL train-vec-softmax n=%d mask=%d: s %.9g/%.9g sez %.9g/%.9g su %.9g/%.9g sumz %.9g/%.9g nu %ld/%ld\n",
                                      n, withmask, a.s, b.s, a.sez, b.sez, a.su, b.su, a.sumz, b.sumz, a.nu, b.nu);
            }
        }
    }
    if (!bad) printf("PASS train-vec (dot and axpy, AVX-512 vs scalar vs double, n = 1..130, guard band; max and the "
                     "softmax row statistics vs the double twin, n = 1..151,936, with and without a mask)\n");
    return bad;
}

int main(void) {
    printf("EXPECT 3\n"); /* train-gemm, the synthetic-gradient check, the vector ops (tests/run.sh) */
    int fails = 0;
    static const int shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {4, 64, 4}, {9, 130, 67}, {17, 200, 33}, {33, 96, 128}, {3, 1000, 5}, {600, 48, 9}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) fails += run_case(shapes[i][0], shapes[i][1], shapes[i][2]);
    if (!fails) printf("PASS train-gemm (input and weight gradient, scalar/AVX2/AVX-512 and threaded, 8 shapes with tails, vs double)\n");
    fails += check_synth();
    fails += check_vec();
    return fails ? 1 : 0;
}
