/* matmul_avx2.c - AVX2 (+FMA, F16C) matrix products for float32 activations and F32 / F16 / BF16
 * weights: the twin of matmul_avx512.c for CPUs without AVX-512, 8 floats per vector.
 *
 * Decoding (n <= 4): 4 weight rows x 1 token with the accumulators in named registers, next rows
 * prefetched a block ahead (as in the AVX-512 file). Prefill: a 4 rows x 2 tokens register tile
 * (8 accumulators + 4 weight + 2 activation vectors fit the 16 ymm registers), tokens in chunks that
 * stay in L2 while this thread's rows stream past. Weights are widened exactly to float32, so the
 * result equals the scalar kernel up to summation order. AVX2 has no byte masks: a column tail
 * (< 8 values) is copied into a zeroed 8-value buffer and loaded from there, in both kernels alike,
 * so each (row, token) is summed the same way whichever kernel computes it. */
#include <string.h>

#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline))

/* 8 weights at column c widened to float; `rem` < 8 means a tail of rem values */
TGT INL __m256 load_w(qwen3_dtype t, const void *row, int64_t c, int rem) {
    if (t == QWEN3_F32) {
        if (rem >= 8) return _mm256_loadu_ps((const float *)row + c);
        float b[8] = {0};
        memcpy(b, (const float *)row + c, sizeof(float) * (size_t)rem);
        return _mm256_loadu_ps(b);
    }
    __m128i h;
    if (rem >= 8) h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + c));
    else {
        uint16_t b[8] = {0};
        memcpy(b, (const uint16_t *)row + c, sizeof(uint16_t) * (size_t)rem);
        h = _mm_loadu_si128((const __m128i *)b);
    }
    if (t == QWEN3_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

TGT INL __m256 load_x(const float *x, int64_t c, int rem) {
    if (rem >= 8) return _mm256_loadu_ps(x + c);
    float b[8] = {0};
    memcpy(b, x + c, sizeof(float) * (size_t)rem);
    return _mm256_loadu_ps(b);
}

TGT INL float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* rb rows (1..4) x tb tokens (1..2); constant arguments after inlining */
TGT INL void tile(qwen3_dtype t, const uint8_t *w, size_t rbytes, int rb, const float *x, int64_t ldx, int tb,
                  int64_t cols, float *y, int64_t ldy) {
    __m256 a00 = _mm256_setzero_ps(), a10 = a00, a20 = a00, a30 = a00, a01 = a00, a11 = a00, a21 = a00, a31 = a00;
    for (int64_t c = 0; c < cols; c += 8) {
        int rem = cols - c >= 8 ? 8 : (int)(cols - c);
        __m256 x0 = load_x(x, c, rem), x1 = tb > 1 ? load_x(x + ldx, c, rem) : x0;
        __m256 w0 = load_w(t, w, c, rem);
        a00 = _mm256_fmadd_ps(w0, x0, a00);
        if (tb > 1) a01 = _mm256_fmadd_ps(w0, x1, a01);
        if (rb > 1) {
            __m256 w1 = load_w(t, w + rbytes, c, rem);
            a10 = _mm256_fmadd_ps(w1, x0, a10);
            if (tb > 1) a11 = _mm256_fmadd_ps(w1, x1, a11);
        }
        if (rb > 2) {
            __m256 w2 = load_w(t, w + 2 * rbytes, c, rem);
            a20 = _mm256_fmadd_ps(w2, x0, a20);
            if (tb > 1) a21 = _mm256_fmadd_ps(w2, x1, a21);
        }
        if (rb > 3) {
            __m256 w3 = load_w(t, w + 3 * rbytes, c, rem);
            a30 = _mm256_fmadd_ps(w3, x0, a30);
            if (tb > 1) a31 = _mm256_fmadd_ps(w3, x1, a31);
        }
    }
    y[0] = hsum(a00);
    if (rb > 1) y[1] = hsum(a10);
    if (rb > 2) y[2] = hsum(a20);
    if (rb > 3) y[3] = hsum(a30);
    if (tb > 1) {
        y[ldy] = hsum(a01);
        if (rb > 1) y[ldy + 1] = hsum(a11);
        if (rb > 2) y[ldy + 2] = hsum(a21);
        if (rb > 3) y[ldy + 3] = hsum(a31);
    }
}

#define TOKEN_CHUNK 64

TGT INL void rows_typed(qwen3_dtype t, const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) {
    const uint8_t *base = W->data;
    for (int t0 = 0; t0 < n; t0 += TOKEN_CHUNK) {
        int t1 = t0 + TOKEN_CHUNK < n ? t0 + TOKEN_CHUNK : n;
        for (int64_t r = r0; r < r1; r += 4) {
            int rb = r1 - r >= 4 ? 4 : (int)(r1 - r);
            for (int j = t0; j < t1; j += 2) {
                int tb = t1 - j >= 2 ? 2 : 1;
                const uint8_t *w0 = base + (size_t)r * W->row_bytes;
                const float *x0 = X + (size_t)j * (size_t)W->cols;
                float *y = Y + (size_t)j * (size_t)W->rows + (size_t)r;
                if (rb == 4 && tb == 2) tile(t, w0, W->row_bytes, 4, x0, W->cols, 2, W->cols, y, W->rows);
                else if (rb == 4) tile(t, w0, W->row_bytes, 4, x0, W->cols, 1, W->cols, y, W->rows);
                else if (tb == 2) tile(t, w0, W->row_bytes, rb, x0, W->cols, 2, W->cols, y, W->rows);
                else tile(t, w0, W->row_bytes, rb, x0, W->cols, 1, W->cols, y, W->rows);
            }
        }
    }
}

/* Decoding: 4 rows x 1 token, the next 4 rows prefetched a row block ahead (short interleaved
 * streams restart too often for the hardware prefetcher). */
TGT INL void mv4(qwen3_dtype t, const uint8_t *w, size_t rb, int nr, const float *x, int64_t cols, float *y) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const int es = t == QWEN3_F32 ? 4 : 2;
    for (int64_t c = 0; c < cols; c += 8) {
        int rem = cols - c >= 8 ? 8 : (int)(cols - c);
        if (nr == 4 && (c * es & 63) == 0) {
            const uint8_t *nx = w + 4 * rb + (size_t)c * (size_t)es;
            _mm_prefetch((const char *)nx, _MM_HINT_T0);
            _mm_prefetch((const char *)(nx + rb), _MM_HINT_T0);
            _mm_prefetch((const char *)(nx + 2 * rb), _MM_HINT_T0);
            _mm_prefetch((const char *)(nx + 3 * rb), _MM_HINT_T0);
        }
        __m256 xv = load_x(x, c, rem);
        a0 = _mm256_fmadd_ps(load_w(t, w, c, rem), xv, a0);
        if (nr > 1) a1 = _mm256_fmadd_ps(load_w(t, w + rb, c, rem), xv, a1);
        if (nr > 2) a2 = _mm256_fmadd_ps(load_w(t, w + 2 * rb, c, rem), xv, a2);
        if (nr > 3) a3 = _mm256_fmadd_ps(load_w(t, w + 3 * rb, c, rem), xv, a3);
    }
    y[0] = hsum(a0);
    if (nr > 1) y[1] = hsum(a1);
    if (nr > 2) y[2] = hsum(a2);
    if (nr > 3) y[3] = hsum(a3);
}

TGT INL void rows_mv(qwen3_dtype t, const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) {
    const uint8_t *base = W->data;
    for (int64_t r = r0; r < r1; r += 4) {
        int nr = r1 - r >= 4 ? 4 : (int)(r1 - r);
        const uint8_t *w = base + (size_t)r * W->row_bytes;
        for (int j = 0; j < n; j++) {
            const float *x = X + (size_t)j * (size_t)W->cols;
            float *y = Y + (size_t)j * (size_t)W->rows + (size_t)r;
            if (nr == 4) mv4(t, w, W->row_bytes, 4, x, W->cols, y);
            else mv4(t, w, W->row_bytes, nr, x, W->cols, y);
        }
    }
}

/* one function per float type (up to 4 tokens: the matrix-vector kernel; more: the tiles), the
 * entries of the kernel table (ktable.c) */
#define MM(T) TGT static void mm_##T(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) { \
        if (n <= 4) rows_mv(T, W, X, n, Y, r0, r1); else rows_typed(T, W, X, n, Y, r0, r1); }
MM(QWEN3_F32) MM(QWEN3_F16) MM(QWEN3_BF16)
#undef MM
const k_f32_fn k_matmul_avx2_tab[QWEN3_DTYPE_COUNT] = {[QWEN3_F32] = mm_QWEN3_F32, [QWEN3_F16] = mm_QWEN3_F16, [QWEN3_BF16] = mm_QWEN3_BF16};

void k_matmul_rows_avx2(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) {
    (k_matmul_avx2_tab[W->type] ? k_matmul_avx2_tab[W->type] : k_matmul_rows_scalar)(W, X, n, Y, r0, r1);
}
#else
const k_f32_fn k_matmul_avx2_tab[QWEN3_DTYPE_COUNT];
void k_matmul_rows_avx2(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) {
    k_matmul_rows_scalar(W, X, n, Y, r0, r1);
}
#endif
