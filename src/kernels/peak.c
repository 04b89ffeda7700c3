/* peak.c - the machine's limits, measured: read bandwidth with n threads over a buffer as large as
 * asked (>= 1 GiB, so the 260 MB L3 cannot hold it), and the arithmetic peak of the instructions the
 * kernels use (f32 FMA, bf16 vdpbf16ps, int8 vpdpbusd), with n threads each running independent
 * chains. `qwen3 bench` reports its speeds as fractions of these.
 *
 * Counting: a multiply-add is 2 operations for every type (so int8 "GFLOP/s" is GOP/s, comparable
 * with llama.cpp's and vendors' figures). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}


typedef struct {
    int kind;              /* 0: read, 1: f32 fma, 2: bf16 dp, 3: int8 dp */
    const uint8_t *buf;
    size_t bytes;
    long iters;            /* kind 0: the streams a thread reads (read_avx512) */
    pthread_barrier_t *bar;
    double t0, t1;
    uint64_t sink;
} peak_arg;

#if defined(__x86_64__)
#include <immintrin.h>
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16,fma")))

/* n bytes as S sequential streams (S parts read side by side, 256 bytes of each in turn): one core
 * can read faster from two or four streams than from one, the hardware prefetcher then running
 * several sequences ahead (one thread, Zen 5, 2026-12-07, 3 rounds each: one stream 36.8-40.7 GB/s,
 * two 41.5-43.1, four 41.7-43.4), and the one-token kernels read their rows as two (gemm_q8.c), so
 * one stream would understate the ceiling they are measured against */
TGT static uint64_t read_avx512(const uint8_t *p, size_t n, int S) {
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    const size_t part = n / (size_t)S / 256 * 256;
    for (size_t i = 0; i < part; i += 256)
        for (int s = 0; s < S; s++) {
            const uint8_t *q = p + (size_t)s * part + i;
            a = _mm512_xor_si512(a, _mm512_load_si512(q));
            b = _mm512_xor_si512(b, _mm512_load_si512(q + 64));
            c = _mm512_xor_si512(c, _mm512_load_si512(q + 128));
            d = _mm512_xor_si512(d, _mm512_load_si512(q + 192));
        }
    a = _mm512_xor_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(c, d));
    return (uint64_t)_mm512_reduce_or_epi64(a);
}

/* Independent chains in named variables: with an array, GCC may keep the accumulators in memory, and
 * the loop then measures store-to-load forwarding instead of the arithmetic units. */
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define REP24(X) REP12(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)

TGT static uint64_t fma_f32(long iters) {
    const __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
#define DECL(i) __m512 f##i = _mm512_set1_ps(1e-9f * (float)(i));
    REP24(DECL)
#undef DECL
    for (long k = 0; k < iters; k++) {
#define STEP(i) f##i = _mm512_fmadd_ps(x, y, f##i);
        REP24(STEP)
#undef STEP
        __asm__ volatile("" : "+v"(f0), "+v"(f1));
    }
    float r = 0;
#define SUM(i) r += _mm512_reduce_add_ps(f##i);
    REP24(SUM)
#undef SUM
    return (uint64_t)(r != 0);
}

TGT static uint64_t dp_bf16(long iters) {
    const __m512bh bx = (__m512bh)_mm512_set1_epi16(0x3f80);
#define DECL(i) __m512 f##i = _mm512_set1_ps(1e-9f * (float)(i));
    REP24(DECL)
#undef DECL
    for (long k = 0; k < iters; k++) {
#define STEP(i) f##i = _mm512_dpbf16_ps(f##i, bx, bx);
        REP24(STEP)
#undef STEP
        __asm__ volatile("" : "+v"(f0), "+v"(f1));
    }
    float r = 0;
#define SUM(i) r += _mm512_reduce_add_ps(f##i);
    REP24(SUM)
#undef SUM
    return (uint64_t)(r != 0);
}

TGT static uint64_t dp_int8(long iters) {
    const __m512i u = _mm512_set1_epi8(3), sg = _mm512_set1_epi8(-2);
#define DECL(i) __m512i q##i = _mm512_set1_epi32(i);
    REP24(DECL)
#undef DECL
    for (long k = 0; k < iters; k++) {
#define STEP(i) q##i = _mm512_dpbusd_epi32(q##i, u, sg);
        REP24(STEP)
#undef STEP
        __asm__ volatile("" : "+v"(q0), "+v"(q1));
    }
    /* the int32 lanes wrap after millions of iterations: fold them with OR, which cannot overflow */
    uint64_t z = 0;
#define SUM(i) z ^= (uint32_t)_mm512_reduce_or_epi32(q##i);
    REP24(SUM)
#undef SUM
    return (uint64_t)z;
}

TGT static uint64_t fma_loop(int kind, long iters) {
    return kind == 1 ? fma_f32(iters) : kind == 2 ? dp_bf16(iters) : dp_int8(iters);
}
#endif

static void *peak_thread(void *p) {
    peak_arg *a = p;
    pthread_barrier_wait(a->bar);
    a->t0 = now_s();
#if defined(__x86_64__)
    if (a->kind == 0) {
        a->sink += read_avx512(a->buf, a->bytes, (int)a->iters); /* iters: the streams */
    } else a->sink = fma_loop(a->kind, a->iters);
#endif
    a->t1 = now_s();
    return NULL;
}

/* Runs kind on n threads; returns the wall time from the common start to the last finish. */
static double run_threads(int kind, int n, const uint8_t *buf, size_t bytes, long iters) {
    pthread_t th[256];
    peak_arg args[256];
    pthread_barrier_t bar;
    if (n > 256) n = 256;
    pthread_barrier_init(&bar, NULL, (unsigned)n);
    size_t slice = bytes / (size_t)n / 256 * 256;
    for (int i = 0; i < n; i++) {
        args[i] = (peak_arg){kind, buf + (size_t)i * slice, slice, iters, &bar, 0, 0, 0};
        if (i && pthread_create(&th[i], NULL, peak_thread, &args[i])) { n = i; break; }
    }
    peak_thread(&args[0]);
    for (int i = 1; i < n; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    double t0 = args[0].t0, t1 = args[0].t1;
    for (int i = 1; i < n; i++) { t0 = args[i].t0 < t0 ? args[i].t0 : t0; t1 = args[i].t1 > t1 ? args[i].t1 : t1; }
    return t1 - t0;
}

/* The features the peaks are measured with: this machine's, as QWEN3_ISA caps them (what a model
 * loaded now would fill its kernel table with; kcpu_init drops what the CPU lacks). No model is
 * involved: the peaks are the machine's. */
static unsigned peak_features(void) {
    kcpu c;
    kcpu_init(&c, k_cpu_env_features());
    return c.features;
}

double k_peak_read_gbps(int threads, size_t bytes) {
    if (!(peak_features() & K_CPU_AVX512)) return 0;
    uint8_t *buf = NULL;
    /* on 2 MiB pages, where the model's weights are (k_alloc_huge): the ceiling the decode kernels
     * are measured against is the one they can reach */
    if (!(buf = k_alloc_huge(bytes))) return 0;
    memset(buf, 1, bytes); /* commit the pages */
    /* the best of 1, 2 and 4 streams a thread, 3 rounds each */
    double best = 0;
    for (int rep = 0; rep < 3; rep++)
        for (int S = 1; S <= 4; S *= 2) {
            double t = run_threads(0, threads, buf, bytes, S);
            double g = (double)(bytes / (size_t)threads / (size_t)S / 256 * 256) * (double)S * threads / t / 1e9;
            if (g > best) best = g;
        }
    free(buf);
    return best;
}

double k_peak_gflops(int kind, int threads) {
    const unsigned f = peak_features();
    if (!(f & K_CPU_AVX512) || (kind == 2 && !(f & K_CPU_BF16)) || (kind == 3 && !(f & K_CPU_VNNI))) return 0;
    const long iters = 20000000;
    /* MACs per instruction: f32 16, bf16 32, int8 64; 2 operations each */
    const double ops = kind == 1 ? 32 : kind == 2 ? 64 : 128;
    double best = 0;
    for (int rep = 0; rep < 2; rep++) {
        double t = run_threads(kind, threads, NULL, 0, iters);
        double g = ops * 24 /* chains per iteration */ * (double)iters * threads / t / 1e9;
        if (g > best) best = g;
    }
    return best;
}
