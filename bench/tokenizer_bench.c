/* tokenizer_bench.c - encode throughput and load time of our tokenizer (bench/tokenizer.sh runs it).
 *
 *   tokenizer_bench TOKENIZER_DIR FILE [REPEATS [lines|docs]]
 *
 * Loads the tokenizer (timed), then encodes FILE on one thread, REPEATS times, and prints one JSON
 * line: bytes, tokens, the best time and MB/s, the first pass's MB/s (word caches cold), the MB/s
 * of the best thread CPU time (steadier than the wall clock on a shared machine), the load time,
 * and a checksum of the ids (the HF side, tests/ref/tokenizer_ref.js bench, computes the same one).
 * "lines" (the default) encodes one line per call, without its newline; "docs" one document per
 * call, documents being ended by a record separator and a newline ("\x1e\n", as tokenizer_cases.py
 * docs writes them), newlines inside kept. Empty pieces are skipped, as the HF side skips them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qwen3.h"

static double clock_s(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tokenizer_bench TOKENIZER_DIR FILE [REPEATS]\n");
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    int docs = argc > 4 && !strcmp(argv[4], "docs");
    if (argc > 4 && !docs && strcmp(argv[4], "lines")) {
        fprintf(stderr, "tokenizer_bench: mode is lines or docs, not %s\n", argv[4]);
        return 2;
    }
    const char *sep = docs ? "\x1e\n" : "\n";
    size_t seplen = strlen(sep);
    qwen3_err err = {0};
    double t0 = now();
    qwen3_tokenizer *t = qwen3_tokenizer_load(argv[1], &err);
    double load_ms = (now() - t0) * 1e3;
    if (!t) {
        fprintf(stderr, "tokenizer_bench: %s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "tokenizer_bench: cannot open %s\n", argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) return 1;
    fclose(f);
    buf[n] = 0;
    double best = 1e30, first = 0, best_cpu = 1e30;
    long tokens = 0, bytes = 0;
    unsigned long long sum = 0;
    for (int r = 0; r < reps; r++) {
        tokens = bytes = 0;
        sum = 0;
        double a = now(), ac = clock_s(CLOCK_THREAD_CPUTIME_ID);
        for (char *p = buf; p < buf + n;) {
            /* memchr for the separator's first byte (glibc's memmem was a tenth of the time) */
            char *e = p;
            while ((e = memchr(e, sep[0], (size_t)(buf + n - e))) && (size_t)(buf + n - e) >= seplen &&
                   memcmp(e, sep, seplen))
                e++;
            if (!e || (size_t)(buf + n - e) < seplen) e = buf + n;
            if (e > p) {
                int32_t *ids;
                int k = qwen3_encode(t, p, (size_t)(e - p), 1, &ids, &err);
                if (k < 0) {
                    fprintf(stderr, "tokenizer_bench: %s\n", err.msg);
                    return 1;
                }
                for (int i = 0; i < k; i++) sum = sum * 1000003u + (unsigned)ids[i];
                tokens += k;
                bytes += e - p;
                free(ids);
            }
            p = e + seplen;
        }
        double dt = now() - a, dc = clock_s(CLOCK_THREAD_CPUTIME_ID) - ac;
        if (dc < best_cpu) best_cpu = dc;
        if (dt < best) best = dt;
        if (r == 0) first = dt;
    }
    printf("{\"bytes\": %ld, \"tokens\": %ld, \"seconds\": %.6f, \"mb_per_s\": %.3f, \"first_mb_per_s\": %.3f, \"cpu_mb_per_s\": %.3f, \"load_ms\": %.1f, \"checksum\": \"%llu\"}\n",
           bytes, tokens, best, (double)bytes / 1e6 / best, (double)bytes / 1e6 / first,
           (double)bytes / 1e6 / best_cpu, load_ms, sum);
    qwen3_tokenizer_free(t);
    free(buf);
    return 0;
}
