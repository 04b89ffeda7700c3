/* test_workspace.c - the forward pass keeps its working buffers in the model's workspace: once a
 * pass of a given size has run, passes of that size or smaller allocate nothing, and a warm
 * workspace (left by a bigger pass) gives the same bits as a cold one.
 *
 * How allocations are counted: this program defines malloc, calloc, realloc, posix_memalign,
 * aligned_alloc and memalign itself, counting each call and handing it to glibc's own
 * (__libc_malloc, ...), so every allocation the library makes, from any thread, passes through the
 * counter. Under AddressSanitizer the sanitizer owns malloc, so that count is skipped there; the
 * workspace's own count of (re)allocations (qwen3_model.ws_grows) is checked in both builds.
 *
 * Cases: dense and MoE generated checkpoints (f32 and bf16 weights), exact and fast paths; a
 * prefill of 12 tokens and two decode steps after warm-up (a batch of two 20-token prompts), and
 * the same passes on a model that keeps no workspace between passes (qwen3_model.ws_keep 0). The kernels of load-time-quantized
 * weights (Q8_0 / Q4 GEMM panels) allocate per product in kernels/ and are not covered here. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "qwen3.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static atomic_long n_alloc;

#if !UNDER_ASAN
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t k, size_t n);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t al, size_t n);
void *malloc(size_t n) {
    atomic_fetch_add(&n_alloc, 1);
    return __libc_malloc(n);
}
void *calloc(size_t k, size_t n) {
    atomic_fetch_add(&n_alloc, 1);
    return __libc_calloc(k, n);
}
void *realloc(void *p, size_t n) {
    atomic_fetch_add(&n_alloc, 1);
    return __libc_realloc(p, n);
}
int posix_memalign(void **p, size_t al, size_t n) {
    atomic_fetch_add(&n_alloc, 1);
    void *q = __libc_memalign(al, n);
    if (!q) return ENOMEM;
    *p = q;
    return 0;
}
void *aligned_alloc(size_t al, size_t n) {
    atomic_fetch_add(&n_alloc, 1);
    return __libc_memalign(al, n);
}
void *memalign(size_t al, size_t n) {
    atomic_fetch_add(&n_alloc, 1);
    return __libc_memalign(al, n);
}
#endif

static qwen3_model *make_model(const char *name, const char *flags, int fast) {
    const char *tmp = getenv("QWEN3_TMP") ? getenv("QWEN3_TMP") : "build/testdata";
    char dir[512], cmd[2048];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/gen_checkpoint.py -q --no-tokenizer %s --seed 5 %s", flags, dir);
    if (system(cmd) != 0) { printf("FAIL %s: generator failed: %s\n", name, cmd); return NULL; }
    qwen3_err e = {0};
    qwen3_load_opts o = {.n_threads = 2, .fast = fast};
    qwen3_model *m = qwen3_model_load(dir, &o, &e);
    if (!m) printf("FAIL %s: load: %s\n", name, e.msg);
    return m;
}

#define NP 12
#define NBIG 40
#define NCHECKS 5

/* The prompt's logits (ALL) then two decode steps (LAST) on a fresh sequence; allocations made
 * during the three passes (not the sequence's own) go to *allocs. 0, or -1 when a pass failed. */
static int passes(qwen3_model *m, float *out, long *allocs) {
    const int V = qwen3_model_config(m)->vocab_size;
    int32_t p[NP + 2];
    for (int i = 0; i < NP + 2; i++) p[i] = (int32_t)((i * 37 + 5) % V);
    qwen3_err e = {0};
    qwen3_seq *s = qwen3_seq_new(m, 64, &e);
    if (!s) return -1;
    long a0 = atomic_load(&n_alloc);
    qwen3_batch_item it = {s, p, NP, QWEN3_LOGITS_ALL, out};
    int rc = qwen3_forward(m, &it, 1, &e);
    for (int j = 0; j < 2 && rc == 0; j++) {
        it = (qwen3_batch_item){s, p + NP + j, 1, QWEN3_LOGITS_LAST, out + (size_t)(NP + j) * V};
        rc = qwen3_forward(m, &it, 1, &e);
    }
    *allocs = atomic_load(&n_alloc) - a0;
    qwen3_seq_free(s);
    if (rc) printf("# forward: %s\n", e.msg);
    return rc;
}

/* A bigger pass first (so the workspace is larger than the passes need), then the same passes
 * twice: no allocation and no growth the second time, and the bits of a cold model's passes. */
static void run_case(const char *name, const char *flags, int fast) {
    char gen[64], label[256];
    snprintf(gen, sizeof gen, "ws-%s", name);
    qwen3_model *cold = make_model(gen, flags, fast), *warm = make_model(gen, flags, fast);
    if (!cold || !warm) {
        for (int i = 0; i < NCHECKS; i++) printf("FAIL %s: no model\n", name);
        qwen3_model_free(cold);
        qwen3_model_free(warm);
        return;
    }
    const int V = qwen3_model_config(cold)->vocab_size;
    size_t n = (size_t)(NP + 2) * V;
    float *ref = calloc(n, sizeof(float)), *got = calloc(n, sizeof(float)), *big = calloc((size_t)NBIG * V, sizeof(float));
    long a_ref = 0, a1 = 0, a2 = 0;
    int rc = passes(cold, ref, &a_ref);
    /* warm up with a longer prompt and a batch of two sequences, then the passes twice */
    qwen3_err e = {0};
    qwen3_seq *s1 = qwen3_seq_new(warm, 64, &e), *s2 = qwen3_seq_new(warm, 64, &e);
    int32_t tok[NBIG];
    for (int i = 0; i < NBIG; i++) tok[i] = (int32_t)((i * 11 + 3) % V);
    qwen3_batch_item two[2] = {{s1, tok, NBIG / 2, QWEN3_LOGITS_ALL, big},
                               {s2, tok + NBIG / 2, NBIG / 2, QWEN3_LOGITS_ALL, big + (size_t)NBIG / 2 * V}};
    rc |= qwen3_forward(warm, two, 2, &e);
    qwen3_seq_free(s1);
    qwen3_seq_free(s2);
    rc |= passes(warm, got, &a1);
    long g1 = warm->ws_grows;
    memset(got, 0, n * sizeof(float));
    rc |= passes(warm, got, &a2);
    long g2 = warm->ws_grows;
    snprintf(label, sizeof label, "%s: the passes run", name);
    CHECK(rc == 0, label, "a forward pass failed");
    snprintf(label, sizeof label, "%s: a warm workspace gives a cold one's bits (prefill + 2 decode steps)", name);
    CHECK(rc == 0 && memcmp(ref, got, n * sizeof(float)) == 0, label, "logits differ");
    snprintf(label, sizeof label, "%s: the workspace does not grow after warm-up (%ld then %ld growths)", name, g1, g2);
    CHECK(g1 > 0 && g2 == g1, label, "grew %ld times on the second round (%ld in all)", g2 - g1, g2);
    snprintf(label, sizeof label, "%s: no allocation in a warm pass (cold %ld, first warm %ld, second %ld)", name, a_ref,
             a1, a2);
    if (UNDER_ASAN) TEST_SKIP(label, "AddressSanitizer owns malloc here; the workspace count above still ran");
    else CHECK(a2 == 0 && a_ref > 0, label, "%ld allocations in 3 warm passes", a2);
    /* a workspace past ws_keep is given back after each pass (a long prompt's buffers are not held):
     * with nothing kept, every pass starts a new one, and the bits stay a cold model's */
    warm->ws_keep = 0;
    memset(got, 0, n * sizeof(float));
    long a3 = 0;
    rc = passes(warm, got, &a3);
    snprintf(label, sizeof label, "%s: nothing kept (ws_keep 0): the workspace is freed after each pass, same bits", name);
    CHECK(rc == 0 && !warm->ws && warm->ws_grows > g2 && memcmp(ref, got, n * sizeof(float)) == 0, label,
          "rc %d, workspace %s, %ld growths, logits %s", rc, warm->ws ? "kept" : "freed", warm->ws_grows - g2,
          memcmp(ref, got, n * sizeof(float)) ? "differ" : "equal");
    free(ref);
    free(got);
    free(big);
    qwen3_model_free(cold);
    qwen3_model_free(warm);
}

int main(void) {
    TEST_EXPECT(4 * NCHECKS);
    run_case("dense-f32-exact", "--preset tiny --dtype f32 --vocab 512", 0);
    run_case("dense-bf16-fast", "--preset tiny --dtype bf16 --vocab 512", 1);
    run_case("moe-bf16-exact", "--preset tiny-moe --dtype bf16 --vocab 512", 0);
    run_case("moe-bf16-fast", "--preset tiny-moe --dtype bf16 --vocab 512", 1);
    return test_exit();
}
