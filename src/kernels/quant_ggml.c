/* quant_ggml.c - GGUF's block types in scalar C (layouts and value formulas: quant_ggml.h):
 * dequantization written operation for operation as the format defines it (bit-exact), quantizers
 * (a weighted least-squares search per sub-block, then the sub-block scales quantized against a
 * superblock scale, then every value re-rounded against the final scales), the generic unpacking
 * and the reference dot products the SIMD kernels are tested against. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

const int8_t kq_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

int kq_is_ggml(qwen3_dtype t) { return t >= QWEN3_Q4_0 && t <= QWEN3_IQ4_XS; }

static inline float h2f(uint16_t h) { return k_f16_to_f32(h); }
static inline int clampi(long v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : (int)v; }
static inline int nearest(float v) { return (int)lrintf(v); }

/* ================================================================ dequantization (bit-exact) */

void kq_q4_0_to_float(const void *row, float *y, int64_t n) {
    const kq4_0_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float d = h2f(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = (float)((b[i].qs[j] & 15) - 8) * d;
            y[i * 32 + j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void kq_q4_1_to_float(const void *row, float *y, int64_t n) {
    const kq4_1_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float d = h2f(b[i].d), m = h2f(b[i].m);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = (float)(b[i].qs[j] & 15) * d + m;
            y[i * 32 + j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

static inline uint32_t qh32(const uint8_t qh[4]) { return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24; }

void kq_q5_0_to_float(const void *row, float *y, int64_t n) {
    const kq5_0_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float d = h2f(b[i].d);
        uint32_t qh = qh32(b[i].qh);
        for (int j = 0; j < 16; j++) {
            int x0 = (int)((b[i].qs[j] & 15) | ((qh >> j & 1) << 4)) - 16;
            int x1 = (int)((b[i].qs[j] >> 4) | ((qh >> (j + 16) & 1) << 4)) - 16;
            y[i * 32 + j] = (float)x0 * d;
            y[i * 32 + j + 16] = (float)x1 * d;
        }
    }
}

void kq_q5_1_to_float(const void *row, float *y, int64_t n) {
    const kq5_1_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float d = h2f(b[i].d), m = h2f(b[i].m);
        uint32_t qh = qh32(b[i].qh);
        for (int j = 0; j < 16; j++) {
            int x0 = (int)((b[i].qs[j] & 15) | ((qh >> j & 1) << 4));
            int x1 = (int)((b[i].qs[j] >> 4) | ((qh >> (j + 16) & 1) << 4));
            y[i * 32 + j] = (float)x0 * d + m;
            y[i * 32 + j + 16] = (float)x1 * d + m;
        }
    }
}

void kq_iq4_nl_to_float(const void *row, float *y, int64_t n) {
    const kiq4_nl_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float d = h2f(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = d * (float)kq_iq4_values[b[i].qs[j] & 15];
            y[i * 32 + j + 16] = d * (float)kq_iq4_values[b[i].qs[j] >> 4];
        }
    }
}

/* 2-bit field of Q2_K / Q3_K: element e of a superblock */
static inline int q2_bits(const uint8_t *qs, int e) { return qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32)) & 3; }

void kq_q2_k_to_float(const void *row, float *y, int64_t n) {
    const kq2_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = h2f(b[i].d), mn = h2f(b[i].dmin);
        for (int g = 0; g < 16; g++) {
            const float dl = d * (float)(b[i].scales[g] & 15), ml = mn * (float)(b[i].scales[g] >> 4);
            for (int l = 0; l < 16; l++) {
                int e = 16 * g + l;
                y[i * 256 + e] = dl * (float)q2_bits(b[i].qs, e) - ml;
            }
        }
    }
}

/* the 16 6-bit scales of Q3_K (0..63, not yet offset) */
static inline int q3_scale(const uint8_t *s, int j) {
    int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
    return lo | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
}

void kq_q3_k_to_float(const void *row, float *y, int64_t n) {
    const kq3_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = h2f(b[i].d);
        for (int g = 0; g < 16; g++) {
            const float dl = d * (float)(q3_scale(b[i].scales, g) - 32);
            for (int l = 0; l < 16; l++) {
                int e = 16 * g + l;
                int q = q2_bits(b[i].qs, e) - ((b[i].hmask[e % 32] >> (e / 32) & 1) ? 0 : 4);
                y[i * 256 + e] = dl * (float)q;
            }
        }
    }
}

/* the 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K */
static inline void k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) { *sc = s[j] & 63; *m = s[j + 4] & 63; }
    else { *sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4; *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4; }
}

static inline int q4k_bits(const uint8_t *qs, int e) { return qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32)) & 15; }

void kq_q4_k_to_float(const void *row, float *y, int64_t n) {
    const kq4_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = h2f(b[i].d), mn = h2f(b[i].dmin);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(b[i].scales, j, &sc, &m);
            const float d1 = d * (float)sc, m1 = mn * (float)m;
            for (int l = 0; l < 32; l++) y[i * 256 + 32 * j + l] = d1 * (float)q4k_bits(b[i].qs, 32 * j + l) - m1;
        }
    }
}

void kq_q5_k_to_float(const void *row, float *y, int64_t n) {
    const kq5_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = h2f(b[i].d), mn = h2f(b[i].dmin);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(b[i].scales, j, &sc, &m);
            const float d1 = d * (float)sc, m1 = mn * (float)m;
            for (int l = 0; l < 32; l++) {
                int q = q4k_bits(b[i].qs, 32 * j + l) + ((b[i].qh[l] >> j & 1) ? 16 : 0);
                y[i * 256 + 32 * j + l] = d1 * (float)q - m1;
            }
        }
    }
}

static inline int q6_bits(const kq6_k_block *b, int e) {
    int c = e / 128, r = e % 128;
    int lo = b->ql[64 * c + r % 64] >> (4 * (r / 64)) & 15;
    int hi = b->qh[32 * c + r % 32] >> (2 * (r / 32)) & 3;
    return (lo | hi << 4) - 32;
}

void kq_q6_k_to_float(const void *row, float *y, int64_t n) {
    const kq6_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = h2f(b[i].d);
        for (int e = 0; e < 256; e++) y[i * 256 + e] = d * (float)b[i].scales[e / 16] * (float)q6_bits(&b[i], e);
    }
}

static inline int iq4xs_scale(const kiq4_xs_block *b, int ib) {
    return ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | ((b->scales_h >> (2 * ib)) & 3) << 4;
}

void kq_iq4_xs_to_float(const void *row, float *y, int64_t n) {
    const kiq4_xs_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = h2f(b[i].d);
        for (int ib = 0; ib < 8; ib++) {
            const float dl = d * (float)(iq4xs_scale(&b[i], ib) - 32);
            for (int j = 0; j < 16; j++) {
                y[i * 256 + 32 * ib + j] = dl * (float)kq_iq4_values[b[i].qs[16 * ib + j] & 15];
                y[i * 256 + 32 * ib + j + 16] = dl * (float)kq_iq4_values[b[i].qs[16 * ib + j] >> 4];
            }
        }
    }
}

/* ================================================================ fitting (quantizers' math) */

/* The block's value of largest magnitude (the first of equal ones), with its sign */
static float signed_max(const float *x, int n) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); vmax = x[i]; }
    return vmax;
}

/* Symmetric fit x ~ s * L, L integer in [lo, hi], minimizing sum w (x - s L)^2: grid over the
 * inverse scale around the one that maps the largest |x| to the end of the range on its side, each
 * rounding followed by the least-squares scale for it (s = sum w x L / sum w L^2). Returns s; L out. */
static float fit_sym(const float *x, const float *w, int n, int lo, int hi, int *L) {
    const float vmax = signed_max(x, n);
    if (fabsf(vmax) < 1e-30f) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    /* the largest value goes to the longer end (lo for ggml's ranges: -8, -16, -4, -32) */
    float base = (float)-lo, best = -1.0f, best_s = 0.0f;
    int tmp[256];
    for (int is = -9; is <= 9; is++) {
        float iscale = -(base + 0.1f * (float)is) / vmax;
        double sxl = 0, sll = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(iscale * x[i]), lo, hi);
            tmp[i] = l;
            sxl += (double)w[i] * x[i] * l;
            sll += (double)w[i] * l * l;
        }
        if (sll <= 0) continue;
        double gain = sxl * sxl / sll; /* error = sum w x^2 - gain */
        if (gain > best) {
            best = (float)gain;
            best_s = (float)(sxl / sll);
            memcpy(L, tmp, sizeof(int) * (size_t)n);
        }
    }
    if (best < 0) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    return best_s;
}

/* Symmetric fit by sweeps, weights x^2 (llama.cpp's make_q3_quants, which its Q3_K takes without an
 * importance matrix; the same arithmetic in the same order, so the same blocks): start from the
 * scale that maps the largest |x| to lo, then up to 5 sweeps that move one value at a time to the
 * level the least-squares scale of the others asks for, kept when the fit's gain (sum w x L)^2 /
 * sum w L^2 grows. Returns that least-squares scale; L out in [lo, hi] (all lo for a block of
 * zeros, as llama.cpp leaves its offset levels at 0: scale 0 dequantizes them to zeros all the
 * same). Our grid search (fit_sym) had made Q3_K files further from F32: 1.21x by KL over five
 * small trained models, a 2.5% larger weight error (README, "Speed and quantization"). */
static float fit_sym_sweep(const float *x, int n, int lo, int hi, int *L) {
    const float vmax = signed_max(x, n);
    if (fabsf(vmax) < 1e-15f) {
        for (int i = 0; i < n; i++) L[i] = lo;
        return 0.0f;
    }
    const float iscale = (float)lo / vmax;
    float sxl = 0, sll = 0;
    for (int i = 0; i < n; i++) {
        L[i] = clampi(nearest(iscale * x[i]), lo, hi);
        const float w = x[i] * x[i];
        sxl += w * x[i] * (float)L[i];
        sll += w * (float)L[i] * (float)L[i];
    }
    for (int sweep = 0; sweep < 5; sweep++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            float s1 = sxl - w * x[i] * (float)L[i]; /* the sums without value i */
            if (s1 <= 0) continue;
            float l1 = sll - w * (float)L[i] * (float)L[i];
            const int l = clampi(nearest(x[i] * l1 / s1), lo, hi);
            if (l == L[i]) continue;
            s1 += w * x[i] * (float)l;
            l1 += w * (float)l * (float)l;
            if (l1 > 0 && s1 * s1 * sll > sxl * sxl * l1) {
                L[i] = l, sxl = s1, sll = l1;
                changed++;
            }
        }
        if (!changed) break;
    }
    return sll > 0 ? sxl / sll : 0.0f;
}

/* Asymmetric fit x ~ s * L - m, L in [0, nmax], s >= 0, m >= 0 (the minimum is clamped to <= 0, as
 * the K formats store it as a non-negative offset) minimizing sum w (s L - m - x)^2: grid over the
 * inverse scale, least squares for (s, m) given each rounding. Returns s, *m_out = m. */
static float fit_asym(const float *x, const float *w, int n, int nmax, float *m_out, int allow_pos_min) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) { lo = fminf(lo, x[i]); hi = fmaxf(hi, x[i]); }
    if (!allow_pos_min && lo > 0.0f) lo = 0.0f;
    if (hi <= lo) { *m_out = -lo; return 0.0f; }
    float best_err = INFINITY, best_s = (hi - lo) / (float)nmax, best_min = lo;
    for (int step = -1; step <= 20; step++) {
        float s, mn;
        if (step < 0) { s = (hi - lo) / (float)nmax; mn = lo; }
        else {
            float iscale = ((float)nmax - 1.0f + 0.1f * (float)step) / (hi - lo);
            double sw = 0, swl = 0, swl2 = 0, swx = 0, swlx = 0;
            for (int i = 0; i < n; i++) {
                int l = clampi(nearest(iscale * (x[i] - lo)), 0, nmax);
                sw += w[i]; swl += w[i] * l; swl2 += (double)w[i] * l * l; swx += w[i] * x[i]; swlx += (double)w[i] * l * x[i];
            }
            double det = sw * swl2 - swl * swl;
            if (det <= 0) continue;
            s = (float)((sw * swlx - swl * swx) / det);
            mn = (float)((swl2 * swx - swl * swlx) / det);
            if (!allow_pos_min && mn > 0.0f) { mn = 0.0f; s = swl2 > 0 ? (float)(swlx / swl2) : 0.0f; }
            if (s <= 0.0f) continue;
        }
        float err = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest((x[i] - mn) / s), 0, nmax);
            float r = s * (float)l + mn - x[i];
            err += w[i] * r * r;
        }
        if (err < best_err) { best_err = err; best_s = s; best_min = mn; }
    }
    *m_out = -best_min;
    return best_s;
}

/* Fit x ~ s * kvalues[L] (IQ4): grid of scales around max|x| / 127 on both signs, nearest table entry
 * per value, least-squares scale for each assignment. */
static int iq4_nearest(float v) {
    int best = 0;
    float bd = fabsf(v - (float)kq_iq4_values[0]);
    for (int k = 1; k < 16; k++) {
        float dd = fabsf(v - (float)kq_iq4_values[k]);
        if (dd < bd) { bd = dd; best = k; }
    }
    return best;
}

static float fit_iq4(const float *x, const float *w, int n, int *L) {
    const float vmax = signed_max(x, n);
    if (fabsf(vmax) < 1e-30f) {
        for (int i = 0; i < n; i++) L[i] = iq4_nearest(0.0f);
        return 0.0f;
    }
    float best = -1, best_s = 0;
    int tmp[32];
    for (int is = -9; is <= 9; is++) {
        float s0 = vmax / (-127.0f + 0.5f * (float)is); /* the largest value near the -127 end */
        double sxl = 0, sll = 0;
        for (int i = 0; i < n; i++) {
            int k = iq4_nearest(x[i] / s0);
            tmp[i] = k;
            double t = kq_iq4_values[k];
            sxl += (double)w[i] * x[i] * t;
            sll += (double)w[i] * t * t;
        }
        if (sll <= 0) continue;
        double gain = sxl * sxl / sll;
        if (gain > best) {
            best = (float)gain;
            best_s = (float)(sxl / sll);
            memcpy(L, tmp, sizeof(int) * (size_t)n);
        }
    }
    return best_s;
}

static void weights_sq(const float *x, float *w, int n) {
    for (int i = 0; i < n; i++) w[i] = x[i] * x[i] + 1e-20f;
}
/* llama.cpp's importance for the K formats without an importance matrix: rms of the sub-block + |x| */
static void weights_rms(const float *x, float *w, int n) {
    float ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float av = sqrtf(ss / (float)n);
    for (int i = 0; i < n; i++) w[i] = av + fabsf(x[i]);
}

/* ================================================================ quantizers */

void kq_q4_0_from_float(const float *x, void *row, int64_t n) {
    kq4_0_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float *v = x + i * 32;
        float w[32];
        int L[32];
        weights_sq(v, w, 32);
        b[i].d = k_f32_to_f16(fit_sym(v, w, 32, -8, 7, L));
        float d = h2f(b[i].d), id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++) L[j] = clampi(nearest(v[j] * id), -8, 7) + 8;
        for (int j = 0; j < 16; j++) b[i].qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
    }
}

void kq_q5_0_from_float(const float *x, void *row, int64_t n) {
    kq5_0_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float *v = x + i * 32;
        float w[32];
        int L[32];
        weights_sq(v, w, 32);
        b[i].d = k_f32_to_f16(fit_sym(v, w, 32, -16, 15, L));
        float d = h2f(b[i].d), id = d != 0.0f ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        for (int j = 0; j < 32; j++) {
            L[j] = clampi(nearest(v[j] * id), -16, 15) + 16;
            qh |= (uint32_t)(L[j] >> 4) << j;
        }
        for (int j = 0; j < 16; j++) b[i].qs[j] = (uint8_t)((L[j] & 15) | (L[j + 16] & 15) << 4);
        for (int k = 0; k < 4; k++) b[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

/* Q4_1 / Q5_1: x ~ d * L + m with any m (stored as f16); nmax 15 or 31 */
static void q_1_block(const float *v, int nmax, uint16_t *dd, uint16_t *mm, int *L) {
    float w[32], m;
    for (int j = 0; j < 32; j++) w[j] = 1.0f;
    float s = fit_asym(v, w, 32, nmax, &m, 1);
    *dd = k_f32_to_f16(s);
    *mm = k_f32_to_f16(-m);
    float d = h2f(*dd), mf = h2f(*mm), id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) L[j] = clampi(nearest((v[j] - mf) * id), 0, nmax);
}

void kq_q4_1_from_float(const float *x, void *row, int64_t n) {
    kq4_1_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        int L[32];
        q_1_block(x + i * 32, 15, &b[i].d, &b[i].m, L);
        for (int j = 0; j < 16; j++) b[i].qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
    }
}

void kq_q5_1_from_float(const float *x, void *row, int64_t n) {
    kq5_1_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        int L[32];
        q_1_block(x + i * 32, 31, &b[i].d, &b[i].m, L);
        uint32_t qh = 0;
        for (int j = 0; j < 32; j++) qh |= (uint32_t)(L[j] >> 4) << j;
        for (int j = 0; j < 16; j++) b[i].qs[j] = (uint8_t)((L[j] & 15) | (L[j + 16] & 15) << 4);
        for (int k = 0; k < 4; k++) b[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

/* nearest table entry of x / d */
static void iq4_assign(const float *v, float d, int *L, int n) {
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++) L[j] = iq4_nearest(v[j] * id);
}

void kq_iq4_nl_from_float(const float *x, void *row, int64_t n) {
    kiq4_nl_block *b = row;
    for (int64_t i = 0; i < n / 32; i++) {
        const float *v = x + i * 32;
        float w[32];
        int L[32];
        weights_sq(v, w, 32);
        b[i].d = k_f32_to_f16(fit_iq4(v, w, 32, L));
        iq4_assign(v, h2f(b[i].d), L, 32);
        for (int j = 0; j < 16; j++) b[i].qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
    }
}

void kq_iq4_xs_from_float(const float *x, void *row, int64_t n) {
    kiq4_xs_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float *v = x + i * 256;
        float s[8], w[32];
        int L[32];
        for (int ib = 0; ib < 8; ib++) {
            weights_sq(v + 32 * ib, w, 32);
            s[ib] = fit_iq4(v + 32 * ib, w, 32, L);
        }
        /* sub-block scales are d * (ls - 32), ls 0..63: the largest goes to -32 */
        const float smax = signed_max(s, 8);
        b[i].d = k_f32_to_f16(smax != 0.0f ? smax / -32.0f : 0.0f);
        float d = h2f(b[i].d), id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].scales_h = 0;
        memset(b[i].scales_l, 0, 4);
        for (int ib = 0; ib < 8; ib++) {
            int ls = clampi(nearest(s[ib] * id), -32, 31) + 32;
            b[i].scales_l[ib / 2] |= (uint8_t)((ls & 15) << (4 * (ib % 2)));
            b[i].scales_h |= (uint16_t)((ls >> 4) << (2 * ib));
            iq4_assign(v + 32 * ib, d * (float)(ls - 32), L, 32);
            for (int j = 0; j < 16; j++) b[i].qs[16 * ib + j] = (uint8_t)(L[j] | L[j + 16] << 4);
        }
    }
}

/* packs the 2-bit fields of Q2_K / Q3_K (L[e] in 0..3) */
static void pack2(const int *L, uint8_t *qs) {
    memset(qs, 0, 64);
    for (int e = 0; e < 256; e++) qs[32 * (e / 128) + e % 32] |= (uint8_t)(L[e] << (2 * ((e % 128) / 32)));
}

void kq_q2_k_from_float(const float *x, void *row, int64_t n) {
    kq2_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float *v = x + i * 256;
        float s[16], m[16], w[16], smax = 0, mmax = 0;
        for (int g = 0; g < 16; g++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(v[16 * g + l]) + 1e-20f;
            s[g] = fit_asym(v + 16 * g, w, 16, 3, &m[g], 0);
            smax = fmaxf(smax, s[g]);
            mmax = fmaxf(mmax, m[g]);
        }
        b[i].d = k_f32_to_f16(smax / 15.0f);
        b[i].dmin = k_f32_to_f16(mmax / 15.0f);
        float d = h2f(b[i].d), dm = h2f(b[i].dmin);
        int L[256];
        for (int g = 0; g < 16; g++) {
            int sc = d > 0 ? clampi(nearest(s[g] / d), 0, 15) : 0, mn = dm > 0 ? clampi(nearest(m[g] / dm), 0, 15) : 0;
            b[i].scales[g] = (uint8_t)(sc | mn << 4);
            float dl = d * (float)sc, ml = dm * (float)mn;
            for (int l = 0; l < 16; l++) L[16 * g + l] = dl > 0 ? clampi(nearest((v[16 * g + l] + ml) / dl), 0, 3) : 0;
        }
        pack2(L, b[i].qs);
    }
}

/* Q3_K as llama.cpp makes it without an importance matrix (quantize_row_q3_K_ref; the same
 * arithmetic, so the same blocks): fit_sym_sweep per 16 values, the sub-block scales rounded
 * against -32 / (the largest one), then each value against its stored scale. A sub-block whose scale
 * rounds to zero keeps its fitted levels (they dequantize to zero all the same). */
void kq_q3_k_from_float(const float *x, void *row, int64_t n) {
    kq3_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float *v = x + i * 256;
        float s[16];
        int L[256];
        for (int g = 0; g < 16; g++) s[g] = fit_sym_sweep(v + 16 * g, 16, -4, 3, L + 16 * g);
        const float smax = signed_max(s, 16);
        memset(b[i].scales, 0, 12);
        memset(b[i].hmask, 0, 32);
        b[i].d = 0;
        if (smax != 0.0f) {
            const float iscale = -32.0f / smax;
            for (int g = 0; g < 16; g++) {
                const int ls = clampi(nearest(iscale * s[g]), -32, 31) + 32;
                if (g < 8) b[i].scales[g] |= (uint8_t)(ls & 15);
                else b[i].scales[g - 8] |= (uint8_t)((ls & 15) << 4);
                b[i].scales[8 + g % 4] |= (uint8_t)((ls >> 4) << (2 * (g / 4)));
            }
            b[i].d = k_f32_to_f16(1.0f / iscale);
        }
        const float d = h2f(b[i].d);
        for (int g = 0; g < 16; g++) {
            const float dl = d * (float)(q3_scale(b[i].scales, g) - 32);
            for (int l = 0; l < 16; l++) {
                const int e = 16 * g + l;
                if (dl != 0.0f) L[e] = clampi(nearest(v[e] / dl), -4, 3);
                int q = L[e] + 4;
                if (q > 3) { b[i].hmask[e % 32] |= (uint8_t)(1 << (e / 32)); q -= 4; }
                L[e] = q;
            }
        }
        pack2(L, b[i].qs);
    }
}

/* Q4_K / Q5_K: sub-block (s, m) fits, 6-bit scales and mins against d = max s / 63, dmin = max m / 63 */
static void k45_scales(const float *v, int nmax, uint16_t *dd, uint16_t *dmm, uint8_t scales[12], int L[256]) {
    float s[8], m[8], w[32], smax = 0, mmax = 0;
    for (int j = 0; j < 8; j++) {
        weights_rms(v + 32 * j, w, 32);
        s[j] = fit_asym(v + 32 * j, w, 32, nmax, &m[j], 0);
        smax = fmaxf(smax, s[j]);
        mmax = fmaxf(mmax, m[j]);
    }
    *dd = k_f32_to_f16(smax / 63.0f);
    *dmm = k_f32_to_f16(mmax / 63.0f);
    float d = h2f(*dd), dm = h2f(*dmm);
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        int ls = d > 0 ? clampi(nearest(s[j] / d), 0, 63) : 0, lm = dm > 0 ? clampi(nearest(m[j] / dm), 0, 63) : 0;
        if (j < 4) {
            scales[j] = (uint8_t)ls;
            scales[j + 4] = (uint8_t)lm;
        } else {
            scales[j + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
            scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    for (int j = 0; j < 8; j++) {
        int sc, mn;
        k4_scale_min(scales, j, &sc, &mn);
        /* the dequantizer's own arithmetic, so rounding sees the values it will produce */
        float d1 = d * (float)sc, m1 = dm * (float)mn;
        for (int l = 0; l < 32; l++) L[32 * j + l] = d1 > 0 ? clampi(nearest((v[32 * j + l] + m1) / d1), 0, nmax) : 0;
    }
}

void kq_q4_k_from_float(const float *x, void *row, int64_t n) {
    kq4_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        int L[256];
        k45_scales(x + i * 256, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
        memset(b[i].qs, 0, 128);
        for (int e = 0; e < 256; e++) b[i].qs[32 * (e / 64) + e % 32] |= (uint8_t)(L[e] << (4 * ((e % 64) / 32)));
    }
}

void kq_q5_k_from_float(const float *x, void *row, int64_t n) {
    kq5_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        int L[256];
        k45_scales(x + i * 256, 31, &b[i].d, &b[i].dmin, b[i].scales, L);
        memset(b[i].qs, 0, 128);
        memset(b[i].qh, 0, 32);
        for (int e = 0; e < 256; e++) {
            b[i].qs[32 * (e / 64) + e % 32] |= (uint8_t)((L[e] & 15) << (4 * ((e % 64) / 32)));
            b[i].qh[e % 32] |= (uint8_t)((L[e] >> 4) << (e / 32));
        }
    }
}

void kq_q6_k_from_float(const float *x, void *row, int64_t n) {
    kq6_k_block *b = row;
    for (int64_t i = 0; i < n / 256; i++) {
        const float *v = x + i * 256;
        float s[16], w[16];
        int L[256];
        for (int g = 0; g < 16; g++) {
            weights_sq(v + 16 * g, w, 16);
            s[g] = fit_sym(v + 16 * g, w, 16, -32, 31, L);
        }
        /* int8 sub-block scales: the largest goes to -128 */
        const float smax = signed_max(s, 16);
        b[i].d = k_f32_to_f16(smax != 0.0f ? smax / -128.0f : 0.0f);
        float d = h2f(b[i].d);
        for (int g = 0; g < 16; g++) {
            int sc = d != 0.0f ? clampi(nearest(s[g] / d), -128, 127) : 0;
            b[i].scales[g] = (int8_t)sc;
            float dl = d * (float)sc;
            for (int l = 0; l < 16; l++) L[16 * g + l] = dl != 0.0f ? clampi(nearest(v[16 * g + l] / dl), -32, 31) + 32 : 32;
        }
        memset(b[i].ql, 0, 128);
        memset(b[i].qh, 0, 64);
        for (int e = 0; e < 256; e++) {
            int c = e / 128, r = e % 128;
            b[i].ql[64 * c + r % 64] |= (uint8_t)((L[e] & 15) << (4 * (r / 64)));
            b[i].qh[32 * c + r % 32] |= (uint8_t)((L[e] >> 4) << (2 * (r / 32)));
        }
    }
}

/* ================================================================ unpacking and reference dots */

void kq_unpack_32(qwen3_dtype t, const void *blk, int8_t q[32], float *d, float *m) {
    *m = 0.0f;
    switch (t) {
    case QWEN3_Q4_0: {
        const kq4_0_block *b = blk;
        *d = h2f(b->d);
        for (int j = 0; j < 16; j++) { q[j] = (int8_t)((b->qs[j] & 15) - 8); q[j + 16] = (int8_t)((b->qs[j] >> 4) - 8); }
        break;
    }
    case QWEN3_Q4_1: {
        const kq4_1_block *b = blk;
        *d = h2f(b->d);
        *m = h2f(b->m);
        for (int j = 0; j < 16; j++) { q[j] = (int8_t)(b->qs[j] & 15); q[j + 16] = (int8_t)(b->qs[j] >> 4); }
        break;
    }
    case QWEN3_Q5_0: case QWEN3_Q5_1: {
        const uint8_t *qs, *qhb;
        if (t == QWEN3_Q5_0) { const kq5_0_block *b = blk; *d = h2f(b->d); qs = b->qs; qhb = b->qh; }
        else { const kq5_1_block *b = blk; *d = h2f(b->d); *m = h2f(b->m); qs = b->qs; qhb = b->qh; }
        uint32_t qh = qh32(qhb);
        int off = t == QWEN3_Q5_0 ? 16 : 0;
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((int)((qs[j] & 15) | (qh >> j & 1) << 4) - off);
            q[j + 16] = (int8_t)((int)((qs[j] >> 4) | (qh >> (j + 16) & 1) << 4) - off);
        }
        break;
    }
    default: { /* IQ4_NL */
        const kiq4_nl_block *b = blk;
        *d = h2f(b->d);
        for (int j = 0; j < 16; j++) { q[j] = kq_iq4_values[b->qs[j] & 15]; q[j + 16] = kq_iq4_values[b->qs[j] >> 4]; }
        break;
    }
    }
}

void kq_unpack_k(qwen3_dtype t, const void *blk, int8_t q[256], int16_t sc[16], int16_t mn[16], float *d, float *dmin) {
    *dmin = 0.0f;
    for (int g = 0; g < 16; g++) mn[g] = 0;
    switch (t) {
    case QWEN3_Q2_K: {
        const kq2_k_block *b = blk;
        *d = h2f(b->d);
        *dmin = h2f(b->dmin);
        for (int e = 0; e < 256; e++) q[e] = (int8_t)q2_bits(b->qs, e);
        for (int g = 0; g < 16; g++) { sc[g] = b->scales[g] & 15; mn[g] = b->scales[g] >> 4; }
        break;
    }
    case QWEN3_Q3_K: {
        const kq3_k_block *b = blk;
        *d = h2f(b->d);
        for (int e = 0; e < 256; e++) q[e] = (int8_t)(q2_bits(b->qs, e) - ((b->hmask[e % 32] >> (e / 32) & 1) ? 0 : 4));
        for (int g = 0; g < 16; g++) sc[g] = (int16_t)(q3_scale(b->scales, g) - 32);
        break;
    }
    case QWEN3_Q4_K: case QWEN3_Q5_K: {
        const uint8_t *scales, *qs, *qh = NULL;
        if (t == QWEN3_Q4_K) { const kq4_k_block *b = blk; *d = h2f(b->d); *dmin = h2f(b->dmin); scales = b->scales; qs = b->qs; }
        else { const kq5_k_block *b = blk; *d = h2f(b->d); *dmin = h2f(b->dmin); scales = b->scales; qs = b->qs; qh = b->qh; }
        for (int e = 0; e < 256; e++) q[e] = (int8_t)(q4k_bits(qs, e) + (qh && (qh[e % 32] >> (e / 32) & 1) ? 16 : 0));
        for (int j = 0; j < 8; j++) {
            int s, m;
            k4_scale_min(scales, j, &s, &m);
            sc[2 * j] = sc[2 * j + 1] = (int16_t)s;
            mn[2 * j] = mn[2 * j + 1] = (int16_t)m;
        }
        break;
    }
    case QWEN3_Q4: { /* our own (kernels/quant.h): Q4_K's arithmetic with 8-bit scales, minimums */
        const kq4_block *b = blk;
        *d = h2f(b->d);
        *dmin = h2f(b->dmin);
        for (int e = 0; e < 256; e++) q[e] = (int8_t)(b->qs[64 * (e / 128) + e % 64] >> (4 * (e % 128 / 64)) & 15);
        for (int j = 0; j < 8; j++) {
            sc[2 * j] = sc[2 * j + 1] = b->sc[j];
            mn[2 * j] = mn[2 * j + 1] = b->mn[j];
        }
        break;
    }
    case QWEN3_Q6_K: {
        const kq6_k_block *b = blk;
        *d = h2f(b->d);
        for (int e = 0; e < 256; e++) q[e] = (int8_t)q6_bits(b, e);
        for (int g = 0; g < 16; g++) sc[g] = b->scales[g];
        break;
    }
    default: { /* IQ4_XS */
        const kiq4_xs_block *b = blk;
        *d = h2f(b->d);
        for (int ib = 0; ib < 8; ib++) {
            for (int j = 0; j < 16; j++) {
                q[32 * ib + j] = kq_iq4_values[b->qs[16 * ib + j] & 15];
                q[32 * ib + j + 16] = kq_iq4_values[b->qs[16 * ib + j] >> 4];
            }
            sc[2 * ib] = sc[2 * ib + 1] = (int16_t)(iq4xs_scale(b, ib) - 32);
        }
        break;
    }
    }
}

/* 32-blocks x A8_0: per block d_w * d_x * sum(q x) + m_w * d_x * sum(x).
 * The float arithmetic is the contract every SIMD kernel of these types keeps, for one token and for
 * many (so a token's result has the same bits alone or in a batch, whatever the ISA): exact integer
 * sums, then per block, each operation rounded once (separate statements, so no compiler fuses
 * them): dd = d * dx; p = (float)s * dd; with a minimum p = p + (float)sx * (m * dx); acc = acc + p. */
static float dot32(qwen3_dtype t, size_t bytes, const void *wrow, const void *arow, int64_t n) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, n);
    float acc = 0.0f;
    for (int64_t i = 0; i < n / 32; i++) {
        int8_t q[32];
        float d, m;
        kq_unpack_32(t, (const uint8_t *)wrow + (size_t)i * bytes, q, &d, &m);
        int32_t s = 0, sx = 0;
        for (int j = 0; j < 32; j++) { s += (int32_t)q[j] * xq[32 * i + j]; sx += xq[32 * i + j]; }
        float dd = d * xd[i];
        float p = (float)s * dd;
        if (t == QWEN3_Q4_1 || t == QWEN3_Q5_1) {
            float dm = m * xd[i];
            float q = (float)sx * dm;
            p = p + q;
        }
        acc = acc + p;
    }
    return acc;
}

/* superblocks x A8_K: per superblock d_x * (d * sum_g sc_g sum(q x) - dmin * sum_g mn_g sum(x)), the
 * SIMD kernels' contract as above: exact integer isum and imin, then p = d * (float)isum; with
 * minimums p = p - dmin * (float)imin; acc = acc + dx * p, each operation rounded once. */
static float dotk(qwen3_dtype t, size_t bytes, const void *wrow, const void *arow, int64_t n) {
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, n);
    float acc = 0.0f;
    for (int64_t i = 0; i < n / 256; i++) {
        int8_t q[256];
        int16_t sc[16], mn[16];
        float d, dmin;
        kq_unpack_k(t, (const uint8_t *)wrow + (size_t)i * bytes, q, sc, mn, &d, &dmin);
        int32_t isum = 0, imin = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0, sx = 0;
            for (int l = 0; l < 16; l++) { s += (int32_t)q[16 * g + l] * xq[256 * i + 16 * g + l]; sx += xq[256 * i + 16 * g + l]; }
            isum += sc[g] * s;
            imin += mn[g] * sx;
        }
        float p = d * (float)isum;
        if (t == QWEN3_Q2_K || t == QWEN3_Q4_K || t == QWEN3_Q5_K || t == QWEN3_Q4) {
            float pm = dmin * (float)imin;
            p = p - pm;
        }
        float px = xd[i] * p;
        acc = acc + px;
    }
    return acc;
}

#define DOT32(name, T, type) \
    float kq_dot_##name##_scalar(const void *w, const void *a, int64_t n) { return dot32(type, sizeof(T), w, a, n); }
#define DOTK(name, T, type) \
    float kq_dot_##name##_scalar(const void *w, const void *a, int64_t n) { return dotk(type, sizeof(T), w, a, n); }
DOT32(q4_0, kq4_0_block, QWEN3_Q4_0)
DOT32(q4_1, kq4_1_block, QWEN3_Q4_1)
DOT32(q5_0, kq5_0_block, QWEN3_Q5_0)
DOT32(q5_1, kq5_1_block, QWEN3_Q5_1)
DOT32(iq4_nl, kiq4_nl_block, QWEN3_IQ4_NL)
DOTK(q2_k, kq2_k_block, QWEN3_Q2_K)
DOTK(q3_k, kq3_k_block, QWEN3_Q3_K)
DOTK(q4_k, kq4_k_block, QWEN3_Q4_K)
DOTK(q4, kq4_block, QWEN3_Q4) /* our own Q4 (kernels/quant.h): Q4_K's arithmetic */
DOTK(q5_k, kq5_k_block, QWEN3_Q5_K)
DOTK(q6_k, kq6_k_block, QWEN3_Q6_K)
DOTK(iq4_xs, kiq4_xs_block, QWEN3_IQ4_XS)
