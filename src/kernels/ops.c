/* ops.c - row-wise and element-wise operations of the forward pass, in float32. Plain loops that the
 * compiler vectorizes; they are a small share of the time next to the matrix products. */
#include <math.h>

#include "kernels/kernels.h"

void k_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    /* transformers: variance = x.pow(2).mean(-1) in float32; x * rsqrt(variance + eps) * weight */
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * scale);
}

void k_silu_mul(float *out, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void k_softmax(float *x, int n) {
    float m = -INFINITY;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    float s = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    float inv = 1.0f / s;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void k_rope(float *x, const float *cos, const float *sin, int d) {
    /* rotate_half(x) = cat(-x[d/2:], x[:d/2]); cos/sin repeat over both halves */
    int h = d / 2;
    for (int i = 0; i < h; i++) {
        float a = x[i], b = x[i + h];
        x[i] = a * cos[i] - b * sin[i];
        x[i + h] = b * cos[i] + a * sin[i];
    }
}
