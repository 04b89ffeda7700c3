/* scan.c - the passes of the sampler over the whole vocabulary (151,936 logits per token), written
 * with GCC/clang vector extensions so that they run 4 to 16 lanes wide on any x86-64 (SSE2 at
 * least) without intrinsics, and give bit-identical results to the scalar loops they replace:
 *   scan_max / scan_argmax   one pass, NaN ignored (a comparison with NaN is false)
 *   scan_kth_largest         top-k threshold: a k-sized min-heap, fed only from the 16-value blocks
 *                            whose maximum beats the heap's minimum; after the first few thousand
 *                            logits almost every block is skipped with one vector comparison
 *   scan_collect_ge          the ids whose logit is >= a threshold, skipping blocks below it
 *   scan_exp                 w[i] = exp((x[i] - m) * inv_t) for every i: Cephes' expf (range
 *                            reduction by ln 2 in two parts, degree-6 polynomial, ~1 ulp on the
 *                            arguments we use, which are <= 0), vectorised
 * Loads go through memcpy, so no alignment is assumed. */
#include <math.h>
#include <string.h>

#include "generate/gen.h"

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

#define BLOCK 16 /* values per skipped block: four vectors */

static inline v4f load4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline v4f vmax(v4f a, v4f b) {
    v4i gt = a > b; /* false for NaN in a: the accumulator b is kept */
    return (v4f)((gt & (v4i)a) | (~gt & (v4i)b));
}

static inline float hmax(v4f v) {
    float m = v[0];
    for (int j = 1; j < 4; j++)
        if (v[j] > m) m = v[j];
    return m;
}

/* Largest of x[0, BLOCK). */
static inline float block_max(const float *x) {
    v4f a = vmax(load4(x), load4(x + 4)), b = vmax(load4(x + 8), load4(x + 12));
    return hmax(vmax(a, b));
}

float scan_max(const float *x, int n) {
    v4f a = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, b = a, c = a, d = a;
    int i = 0;
    for (; i + BLOCK <= n; i += BLOCK) {
        a = vmax(load4(x + i), a);
        b = vmax(load4(x + i + 4), b);
        c = vmax(load4(x + i + 8), c);
        d = vmax(load4(x + i + 12), d);
    }
    float m = hmax(vmax(vmax(a, b), vmax(c, d)));
    for (; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

int scan_argmax(const float *x, int n) {
    float m = scan_max(x, n);
    for (int i = 0; i < n; i++)
        if (x[i] == m) return i;
    return 0; /* all NaN */
}

static void heap_push(float *heap, int *h, float x) {
    int c = (*h)++;
    while (c > 0 && heap[(c - 1) / 2] > x) {
        heap[c] = heap[(c - 1) / 2];
        c = (c - 1) / 2;
    }
    heap[c] = x;
}

static void heap_replace_min(float *heap, int k, float x) {
    int c = 0;
    for (;;) {
        int a = 2 * c + 1, b = a + 1, m = c;
        float vm = x;
        if (a < k && heap[a] < vm) { m = a; vm = heap[a]; }
        if (b < k && heap[b] < vm) { m = b; vm = heap[b]; }
        if (m == c) break;
        heap[c] = heap[m];
        c = m;
    }
    heap[c] = x;
}

static inline void heap_offer(float *heap, int *h, int k, float x) {
    if (x != x) return; /* NaN: never a candidate */
    if (*h < k) heap_push(heap, h, x);
    else if (x > heap[0]) heap_replace_min(heap, k, x);
}

float scan_kth_largest(const float *x, int n, int k, float *heap) {
    int h = 0, i = 0;
    for (; i + BLOCK <= n; i += BLOCK) {
        if (h == k && !(block_max(x + i) > heap[0])) continue;
        for (int j = 0; j < BLOCK; j++) heap_offer(heap, &h, k, x[i + j]);
    }
    for (; i < n; i++) heap_offer(heap, &h, k, x[i]);
    return h ? heap[0] : -INFINITY;
}

int scan_collect_ge(const float *x, int n, float thr, int32_t *out) {
    int c = 0, i = 0;
    for (; i + BLOCK <= n; i += BLOCK) {
        if (!(block_max(x + i) >= thr)) continue;
        for (int j = 0; j < BLOCK; j++)
            if (x[i + j] >= thr) out[c++] = i + j;
    }
    for (; i < n; i++)
        if (x[i] >= thr) out[c++] = i;
    return c;
}

/* Cephes expf on 4 lanes, for arguments <= 0 (clamped below at -87, where e^x ~ 1.6e-38). */
static inline v4f vexp(v4f x) {
    const v4f lo = {-87.0f, -87.0f, -87.0f, -87.0f};
    x = vmax(x, lo);
    const v4f log2e = {1.44269504088896341f, 1.44269504088896341f, 1.44269504088896341f, 1.44269504088896341f};
    const v4f magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f}; /* 1.5 * 2^23: round to nearest */
    v4f t = x * log2e;
    v4f nf = (t + magic) - magic;
    const v4f c1 = {0.693359375f, 0.693359375f, 0.693359375f, 0.693359375f};
    const v4f c2 = {-2.12194440e-4f, -2.12194440e-4f, -2.12194440e-4f, -2.12194440e-4f};
    v4f r = x - nf * c1;
    r = r - nf * c2;
    v4f p = (v4f){1.9875691500e-4f, 1.9875691500e-4f, 1.9875691500e-4f, 1.9875691500e-4f};
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    v4i e = (__builtin_convertvector(nf, v4i) + 127) << 23;
    return p * (v4f)e;
}

void scan_exp(const float *x, int n, float m, float inv_t, float *w) {
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f v = vexp((load4(x + i) - m) * inv_t);
        memcpy(w + i, &v, sizeof v);
    }
    if (i < n) {
        float tail[4] = {m, m, m, m};
        memcpy(tail, x + i, sizeof(float) * (size_t)(n - i));
        v4f v = vexp((load4(tail) - m) * inv_t);
        memcpy(w + i, &v, sizeof(float) * (size_t)(n - i));
    }
}
