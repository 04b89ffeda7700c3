/* attn_bench.c - decode attention at depth, kernel alone: k_attn_rows of one GQA group of M query
 * rows over N cached positions of one kv head, head_dim 128, for each cache type, one thread. The
 * cache of HEADS kv heads (default 32: 16,384 positions are 256 MiB of F16 K and V, far past the
 * last-level cache) is visited head after head, as a decode step visits a layer's heads, so the
 * figure includes reading the cache from memory. Prints CPU time per position (best of 5 passes over
 * all heads) and the bytes of K and V read per second. Run: bench/attn.sh [N] [HEADS] [TYPE] [M]
 * (TYPE and M pick one case, for a profiler) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels/kernels.h"
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    const int D = 128, N = argc > 1 ? atoi(argv[1]) : 16384, H = argc > 2 ? atoi(argv[2]) : 32;
    if (N < 1 || H < 1) { fprintf(stderr, "usage: attn_bench [N positions] [HEADS] [F16|Q8_0|Q4_0] [M]\n"); return 2; }
    const kcpu *c = k_cpu_default();
    qwen3_dtype types[] = {QWEN3_F16, QWEN3_Q8_0, QWEN3_Q4_0};
    const char *names[] = {"F16", "Q8_0", "Q4_0"};
    int Ms[] = {1, 2, 4, 8};
    float row[128], qv[8][128], ov[8][128];
    const float *q[8];
    float *o[8];
    int n[8];
    for (int r = 0; r < 8; r++) {
        for (int d = 0; d < D; d++) qv[r][d] = (float)(((r * 131 + d * 7919) % 2001) - 1000) / 1000.0f;
        q[r] = qv[r], o[r] = ov[r], n[r] = N;
    }
    printf("decode attention, head_dim %d, %d positions, %d kv heads visited in turn, 1 thread (CPU time, best of 5)\n", D, N, H);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (argc > 3 && strcmp(argv[3], names[t])) continue;
        size_t rb = k_kv_row_bytes(types[t], D), bytes = rb * (size_t)N;
        uint8_t *K = aligned_alloc(64, bytes * H), *V = aligned_alloc(64, bytes * H);
        if (!K || !V) { fprintf(stderr, "attn_bench: out of memory\n"); return 1; }
        unsigned s = 12345;
        for (size_t i = 0; i < (size_t)N * H; i++) {
            for (int d = 0; d < D; d++) row[d] = (float)((s = s * 1103515245u + 12345u) >> 8 & 0xffff) / 32768.0f - 1.0f;
            k_store_row(c, types[t], K + i * rb, row, D);
            k_store_row(c, types[t], V + i * rb, row, D);
        }
        for (size_t m = 0; m < sizeof Ms / sizeof Ms[0]; m++) {
            if (argc > 4 && Ms[m] != atoi(argv[4])) continue;
            double best = 1e30;
            for (int rep = 0; rep < 5; rep++) {
                double t0 = cpu();
                for (int h = 0; h < H; h++)
                    k_attn_rows(c, q, o, n, Ms[m], K + (size_t)h * bytes, V + (size_t)h * bytes, types[t], D, D, 0.08838835f);
                double dt = (cpu() - t0) / H;
                best = dt < best ? dt : best;
            }
            printf("%-5s M=%d  %7.2f ns/position  %6.2f GB/s of K+V\n", names[t], Ms[m], best / N * 1e9, 2.0 * bytes / best * 1e-9);
        }
        free(K);
        free(V);
    }
    return 0;
}
