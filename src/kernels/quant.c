/* quant.c - the block types in scalar C: the type-traits table, quantization of weights (done once,
 * at load or by `qwen3 quantize`) and of activations (once per matrix product), dequantization, and
 * the reference dot products that every SIMD kernel is tested against. Layouts: see quant.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

/* ---- float types (to-float only; they are computed as stored) */

static void f32_to_float(const void *row, float *out, int64_t n) { memcpy(out, row, sizeof(float) * (size_t)n); }
static void f16_to_float(const void *row, float *out, int64_t n) {
    const uint16_t *h = row;
    for (int64_t i = 0; i < n; i++) out[i] = k_f16_to_f32(h[i]);
}
static void bf16_to_float(const void *row, float *out, int64_t n) {
    const uint16_t *h = row;
    for (int64_t i = 0; i < n; i++) out[i] = k_bf16_to_f32(h[i]);
}
static void f32_from_float(const float *x, void *row, int64_t n) { memcpy(row, x, sizeof(float) * (size_t)n); }
static void f16_from_float(const float *x, void *row, int64_t n) {
    uint16_t *h = row;
    for (int64_t i = 0; i < n; i++) h[i] = k_f32_to_f16(x[i]);
}
static void bf16_from_float(const float *x, void *row, int64_t n) {
    uint16_t *h = row;
    for (int64_t i = 0; i < n; i++) h[i] = k_f32_to_bf16(x[i]);
}

/* ---- Q8_0 */

static void q8_0_to_float(const void *row, float *out, int64_t n) {
    const kq8_0_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        float d = k_f16_to_f32(b[i].d);
        for (int j = 0; j < 32; j++) out[i * 32 + j] = d * (float)b[i].q[j];
    }
}

static void q8_0_from_float(const float *x, void *row, int64_t n) {
    kq8_0_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float *v = x + i * 32;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[j]));
        b[i].d = k_f32_to_f16(amax / 127.0f);
        float d = k_f16_to_f32(b[i].d), id = d > 0.0f ? 1.0f / d : 0.0f; /* a zero block stays zero */
        for (int j = 0; j < 32; j++) {
            long q = lrintf(v[j] * id);
            b[i].q[j] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
    }
}

/* ---- Q4 */

static inline int q4_get(const kq4_block *b, int e) {
    int c = e >> 7, k = e & 127;
    return k < 64 ? b->qs[64 * c + k] & 15 : b->qs[64 * c + k - 64] >> 4;
}

static void q4_to_float(const void *row, float *out, int64_t n) {
    const kq4_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        float d = k_f16_to_f32(b[i].d), dm = k_f16_to_f32(b[i].dmin);
        for (int e = 0; e < 256; e++) {
            int j = e >> 5;
            out[i * 256 + e] = d * (float)b[i].sc[j] * (float)q4_get(&b[i], e) - dm * (float)b[i].mn[j];
        }
    }
}

/* Fits x ~ s*q - m (q in 0..15, s >= 0, m >= 0) to 32 values minimizing sum w (s q - m - x)^2: tries
 * 21 grid scales around (max-min)/15 and solves least squares for (s, m) given each rounding. */
static void q4_fit(const float *x, const float *w, float *s_out, float *m_out) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < 32; i++) { lo = fminf(lo, x[i]); hi = fmaxf(hi, x[i]); }
    if (lo > 0.0f) lo = 0.0f; /* the minimum is stored as a non-negative offset */
    if (hi <= lo) { *s_out = 0.0f; *m_out = -lo; return; }
    float best_err = INFINITY, best_s = (hi - lo) / 15.0f, best_m = -lo;
    for (int step = -1; step <= 20; step++) {
        float s, m;
        if (step < 0) { s = (hi - lo) / 15.0f; m = lo; }
        else {
            float iscale = (15.0f - 1.0f + 0.1f * (float)step) / (hi - lo);
            double sw = 0, swq = 0, swq2 = 0, swx = 0, swqx = 0;
            for (int i = 0; i < 32; i++) {
                long q = lrintf(iscale * (x[i] - lo));
                q = q < 0 ? 0 : q > 15 ? 15 : q;
                sw += w[i]; swq += w[i] * q; swq2 += w[i] * q * q; swx += w[i] * x[i]; swqx += w[i] * q * x[i];
            }
            double det = sw * swq2 - swq * swq;
            if (det <= 0) continue;
            s = (float)((sw * swqx - swq * swx) / det);
            m = (float)((swq2 * swx - swq * swqx) / det);
            if (m > 0.0f) { m = 0.0f; s = swq2 > 0 ? (float)(swqx / swq2) : 0.0f; }
            if (s <= 0.0f) continue;
        }
        float err = 0.0f;
        for (int i = 0; i < 32; i++) {
            long q = lrintf((x[i] - m) / s);
            q = q < 0 ? 0 : q > 15 ? 15 : q;
            float r = s * (float)q + m - x[i];
            err += w[i] * r * r;
        }
        if (err < best_err) { best_err = err; best_s = s; best_m = -m; }
    }
    *s_out = best_s;
    *m_out = best_m;
}

static void q4_from_float(const float *x, void *row, int64_t n) {
    kq4_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float *v = x + i * 256;
        float w[256], s[8], m[8], ss = 0.0f;
        for (int e = 0; e < 256; e++) ss += v[e] * v[e];
        float av = sqrtf(ss / 256.0f);
        for (int e = 0; e < 256; e++) w[e] = av + fabsf(v[e]); /* llama.cpp's Q4_K importance without imatrix */
        float smax = 0.0f, mmax = 0.0f;
        for (int j = 0; j < 8; j++) {
            q4_fit(v + 32 * j, w + 32 * j, &s[j], &m[j]);
            smax = fmaxf(smax, s[j]);
            mmax = fmaxf(mmax, m[j]);
        }
        b[i].d = k_f32_to_f16(smax / 255.0f);
        b[i].dmin = k_f32_to_f16(mmax / 255.0f);
        float d = k_f16_to_f32(b[i].d), dm = k_f16_to_f32(b[i].dmin);
        for (int j = 0; j < 8; j++) {
            long sc = d > 0 ? lrintf(s[j] / d) : 0, mn = dm > 0 ? lrintf(m[j] / dm) : 0;
            b[i].sc[j] = (uint8_t)(sc > 255 ? 255 : sc < 0 ? 0 : sc);
            b[i].mn[j] = (uint8_t)(mn > 255 ? 255 : mn < 0 ? 0 : mn);
        }
        memset(b[i].qs, 0, sizeof b[i].qs);
        for (int e = 0; e < 256; e++) {
            int j = e >> 5;
            float sj = d * (float)b[i].sc[j], mj = dm * (float)b[i].mn[j];
            long q = sj > 0 ? lrintf((v[e] + mj) / sj) : 0;
            q = q < 0 ? 0 : q > 15 ? 15 : q;
            int c = e >> 7, k = e & 127;
            if (k < 64) b[i].qs[64 * c + k] |= (uint8_t)q;
            else b[i].qs[64 * c + k - 64] |= (uint8_t)(q << 4);
        }
    }
}

/* ---- activations */

size_t kq_act_row_bytes(kact_type t, int64_t cols) {
    size_t b;
    switch (t) {
    case KACT_A8_0: b = (size_t)cols + sizeof(float) * (size_t)(cols / 32); break;
    case KACT_A8_K: b = (size_t)cols + (sizeof(float) + 8 * sizeof(int16_t)) * (size_t)(cols / 256); break;
    default: b = sizeof(float) * (size_t)cols; break;
    }
    return (b + 63) & ~(size_t)63;
}

void kq_act_quant_row(kact_type t, const float *x, void *row, int64_t n) {
    int8_t *q = kq_act_q(row);
    float *d = kq_act_d(row, n);
    const int B = t == KACT_A8_K ? 256 : 32;
    for (int64_t i = 0; i < n / B; i++) {
        const float *v = x + i * B;
        float amax = 0.0f;
        for (int j = 0; j < B; j++) amax = fmaxf(amax, fabsf(v[j]));
        d[i] = amax / 127.0f;
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int j = 0; j < B; j++) q[i * B + j] = (int8_t)lrintf(v[j] * id);
    }
    if (t == KACT_A8_K) {
        int16_t *bs = kq_act_bsum(row, n);
        for (int64_t s = 0; s < n / 32; s++) {
            int sum = 0;
            for (int j = 0; j < 32; j++) sum += q[s * 32 + j];
            bs[s] = (int16_t)sum;
        }
    }
}

/* ---- reference dot products */

float kq_dot_q8_0_scalar(const void *wrow, const void *arow, int64_t n) {
    const kq8_0_block *b = wrow;
    const int8_t *q = kq_act_q((void *)arow);
    const float *d = kq_act_d((void *)arow, n);
    float acc = 0.0f;
    for (int64_t i = 0; i < n / 32; i++) {
        int32_t s = 0;
        for (int j = 0; j < 32; j++) s += (int32_t)b[i].q[j] * q[i * 32 + j];
        acc += (float)s * (k_f16_to_f32(b[i].d) * d[i]);
    }
    return acc;
}

/* kq_dot_q4_scalar: Q4's dot product is Q4_K's (exact integer sums per superblock, then
 * d isum - dmin imin, times dx), so its scalar twin is that of GGUF's superblock types (quant_ggml.c,
 * dotk), whose AVX-512 kernels Q4 takes. */

/* ---- the traits table */

static const kq_traits traits[QWEN3_DTYPE_COUNT] = {
    [QWEN3_F32] = {"F32", 1, 4, f32_to_float, f32_from_float, NULL, KACT_F32},
    [QWEN3_F16] = {"F16", 1, 2, f16_to_float, f16_from_float, NULL, KACT_F32},
    [QWEN3_BF16] = {"BF16", 1, 2, bf16_to_float, bf16_from_float, NULL, KACT_F32},
    [QWEN3_Q8_0] = {"Q8_0", 32, sizeof(kq8_0_block), q8_0_to_float, q8_0_from_float, kq_dot_q8_0_scalar, KACT_A8_0},
    [QWEN3_Q4] = {"Q4", 256, sizeof(kq4_block), q4_to_float, q4_from_float, kq_dot_q4_scalar, KACT_A8_K},
    /* GGUF's types (quant_ggml.c) */
#define GG(T, fn, name, B, blk, act) [T] = {name, B, sizeof(blk), kq_##fn##_to_float, kq_##fn##_from_float, kq_dot_##fn##_scalar, act}
    GG(QWEN3_Q4_0, q4_0, "Q4_0", 32, kq4_0_block, KACT_A8_0),
    GG(QWEN3_Q4_1, q4_1, "Q4_1", 32, kq4_1_block, KACT_A8_0),
    GG(QWEN3_Q5_0, q5_0, "Q5_0", 32, kq5_0_block, KACT_A8_0),
    GG(QWEN3_Q5_1, q5_1, "Q5_1", 32, kq5_1_block, KACT_A8_0),
    GG(QWEN3_IQ4_NL, iq4_nl, "IQ4_NL", 32, kiq4_nl_block, KACT_A8_0),
    GG(QWEN3_Q2_K, q2_k, "Q2_K", 256, kq2_k_block, KACT_A8_K),
    GG(QWEN3_Q3_K, q3_k, "Q3_K", 256, kq3_k_block, KACT_A8_K),
    GG(QWEN3_Q4_K, q4_k, "Q4_K", 256, kq4_k_block, KACT_A8_K),
    GG(QWEN3_Q5_K, q5_k, "Q5_K", 256, kq5_k_block, KACT_A8_K),
    GG(QWEN3_Q6_K, q6_k, "Q6_K", 256, kq6_k_block, KACT_A8_K),
    GG(QWEN3_IQ4_XS, iq4_xs, "IQ4_XS", 256, kiq4_xs_block, KACT_A8_K),
#undef GG
};

int kq_is_quant(qwen3_dtype t) {
    const kq_traits *tr = kq_type(t);
    return tr && tr->dot;
}

const kq_traits *kq_type(qwen3_dtype t) { return (unsigned)t < QWEN3_DTYPE_COUNT ? &traits[t] : NULL; }

void kq_dequant_row(qwen3_dtype t, const void *row, float *out, int64_t n) {
    const kq_traits *tr = kq_type(t);
    if (tr) tr->to_float(row, out, n);
    else memset(out, 0, sizeof(float) * (size_t)n);
}

void kq_quantize_row(qwen3_dtype t, const float *x, void *row, int64_t n) {
    const kq_traits *tr = kq_type(t);
    if (tr && tr->from_float) tr->from_float(x, row, n);
}

int kq_gemm_own_packing(const kq_pack *pk, kq_gemm_p_fn gp, const kmat *W, const void *A, size_t arow_bytes, int n, float *Y,
                        int64_t r0, int64_t r1) {
    void *P = NULL;
    if (n < KQ_GEMM_MIN_TOKENS || posix_memalign(&P, 64, pk->bytes(n, W->cols))) return 0;
    pk->pack(A, arow_bytes, n, 0, n, W->cols, P);
    int ok = gp(W, P, n, Y, r0, r1);
    free(P);
    return ok;
}
