/* matmul_avx512.c - AVX-512 matrix products for float32 activations and F32 / F16 / BF16 weights.
 *
 * Register tile: 4 weight rows x 4 tokens = 16 accumulators of 16 floats; per 16 columns it loads 4
 * weight vectors (converted to float) and 4 activation vectors for 16 FMAs. Tokens are taken in
 * chunks so that a chunk of X stays in L2 while all of this thread's rows stream past it. Weights
 * are widened to float32 and multiplied with float32 activations, so the result equals the scalar
 * kernel up to summation order (the exactness the reference tests need). Column tails use masks. */
#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

TGT static inline __attribute__((always_inline)) __m512 load_w(qwen3_dtype t, const void *row, int64_t c, __mmask16 m) {
    switch (t) {
    case QWEN3_BF16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + c);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case QWEN3_F16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + c);
        return _mm512_cvtph_ps(h);
    }
    default: return _mm512_maskz_loadu_ps(m, (const float *)row + c);
    }
}

/* gcc keeps the tile's accumulator array in memory (a load and a store around every FMA) unless its
 * loops are unrolled outright; clang unrolls them by itself */
#if defined(__clang__)
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif

/* rb rows (1..4) x tb tokens (1..TB) tile; templated by the constant arguments after inlining. Each
 * weight vector is widened once and used for tb tokens; 4 x 6 keeps 24 accumulators, 4 widened
 * weights and an activation in the 32 registers. */
#define TB 6
TGT static inline __attribute__((always_inline)) void tile(qwen3_dtype t, const uint8_t *w0, size_t rbytes, int rb, const float *x0, int64_t ldx,
                            int tb, int64_t cols, float *y, int64_t ldy) {
    __m512 acc[4][TB];
    UNROLL
    for (int i = 0; i < 4; i++)
        UNROLL
        for (int j = 0; j < TB; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t c = 0; c < cols; c += 16) {
        __mmask16 m = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1);
        __m512 wv[4];
        UNROLL
        for (int i = 0; i < rb; i++) wv[i] = load_w(t, w0 + i * rbytes, c, m);
        UNROLL
        for (int j = 0; j < tb; j++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x0 + j * ldx + c);
            UNROLL
            for (int i = 0; i < rb; i++) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    UNROLL
    for (int i = 0; i < rb; i++)
        UNROLL
        for (int j = 0; j < tb; j++) y[j * ldy + i] = _mm512_reduce_add_ps(acc[i][j]);
}

#define TOKEN_CHUNK 60 /* a multiple of TB */

TGT static inline __attribute__((always_inline)) void rows_typed(qwen3_dtype t, const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) {
    const uint8_t *base = W->data;
    for (int t0 = 0; t0 < n; t0 += TOKEN_CHUNK) {
        int t1 = t0 + TOKEN_CHUNK < n ? t0 + TOKEN_CHUNK : n;
        for (int64_t r = r0; r < r1; r += 4) {
            int rb = r1 - r >= 4 ? 4 : (int)(r1 - r);
            for (int j = t0; j < t1; j += TB) {
                int tb = t1 - j >= TB ? TB : t1 - j;
                const uint8_t *w0 = base + (size_t)r * W->row_bytes;
                const float *x0 = X + (size_t)j * (size_t)W->cols;
                float *y = Y + (size_t)j * (size_t)W->rows + (size_t)r;
                /* constant rb/tb let the compiler unroll the tile fully */
                if (rb == 4) {
                    switch (tb) {
                    case 6: tile(t, w0, W->row_bytes, 4, x0, W->cols, 6, W->cols, y, W->rows); break;
                    case 5: tile(t, w0, W->row_bytes, 4, x0, W->cols, 5, W->cols, y, W->rows); break;
                    case 4: tile(t, w0, W->row_bytes, 4, x0, W->cols, 4, W->cols, y, W->rows); break;
                    case 3: tile(t, w0, W->row_bytes, 4, x0, W->cols, 3, W->cols, y, W->rows); break;
                    case 2: tile(t, w0, W->row_bytes, 4, x0, W->cols, 2, W->cols, y, W->rows); break;
                    default: tile(t, w0, W->row_bytes, 4, x0, W->cols, 1, W->cols, y, W->rows); break;
                    }
                } else
                    for (int i = 0; i < rb; i++)
                        for (int jj = 0; jj < tb; jj++)
                            tile(t, w0 + (size_t)i * W->row_bytes, W->row_bytes, 1, x0 + (size_t)jj * W->cols, W->cols, 1, W->cols,
                                 y + (size_t)jj * W->rows + i, W->rows);
            }
        }
    }
}

/* Decoding: 4 rows x 1 token with the accumulators in named registers (GCC keeps the tile's arrays
 * in memory when it cannot prove their indices constant); weights stream once, x stays in L1. Each
 * (row, token) is summed exactly as in the tile (lane-wise over 16-column steps, then reduced), so
 * both give the same bits. */
TGT static inline __attribute__((always_inline)) void mv4(qwen3_dtype t, const uint8_t *w, size_t rb, int nr, const float *x,
                                                          int64_t cols, float *y) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t c = 0; c < cols; c += 16) {
        __mmask16 m = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + c);
        if (nr == 4 && (c & 31) == 0) {
            /* the next 4 rows at this column: one cache line of each, a block (~8 KB) ahead of use,
             * since 4 short interleaved streams restart too often for the hardware prefetcher */
            const uint8_t *nx = w + 4 * rb + (size_t)c * (t == QWEN3_F32 ? 4 : 2);
            _mm_prefetch((const char *)nx, _MM_HINT_T0);
            _mm_prefetch((const char *)(nx + rb), _MM_HINT_T0);
            _mm_prefetch((const char *)(nx + 2 * rb), _MM_HINT_T0);
            _mm_prefetch((const char *)(nx + 3 * rb), _MM_HINT_T0);
            if (t == QWEN3_F32) {
                _mm_prefetch((const char *)(nx + 64), _MM_HINT_T0);
                _mm_prefetch((const char *)(nx + rb + 64), _MM_HINT_T0);
                _mm_prefetch((const char *)(nx + 2 * rb + 64), _MM_HINT_T0);
                _mm_prefetch((const char *)(nx + 3 * rb + 64), _MM_HINT_T0);
            }
        }
        a0 = _mm512_fmadd_ps(load_w(t, w, c, m), xv, a0);
        if (nr > 1) a1 = _mm512_fmadd_ps(load_w(t, w + rb, c, m), xv, a1);
        if (nr > 2) a2 = _mm512_fmadd_ps(load_w(t, w + 2 * rb, c, m), xv, a2);
        if (nr > 3) a3 = _mm512_fmadd_ps(load_w(t, w + 3 * rb, c, m), xv, a3);
    }
    y[0] = _mm512_reduce_add_ps(a0);
    if (nr > 1) y[1] = _mm512_reduce_add_ps(a1);
    if (nr > 2) y[2] = _mm512_reduce_add_ps(a2);
    if (nr > 3) y[3] = _mm512_reduce_add_ps(a3);
}

TGT static inline __attribute__((always_inline)) void rows_mv(qwen3_dtype t, const kmat *W, const float *X, int n, float *Y,
                                                              int64_t r0, int64_t r1) {
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
const k_f32_fn k_matmul_avx512_tab[QWEN3_DTYPE_COUNT] = {[QWEN3_F32] = mm_QWEN3_F32, [QWEN3_F16] = mm_QWEN3_F16, [QWEN3_BF16] = mm_QWEN3_BF16};

void k_matmul_rows_avx512(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) {
    (k_matmul_avx512_tab[W->type] ? k_matmul_avx512_tab[W->type] : k_matmul_rows_scalar)(W, X, n, Y, r0, r1);
}
#else
const k_f32_fn k_matmul_avx512_tab[QWEN3_DTYPE_COUNT];
void k_matmul_rows_avx512(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) {
    k_matmul_rows_scalar(W, X, n, Y, r0, r1);
}
#endif
