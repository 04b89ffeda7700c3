/* matmul_scalar.c - the reference matrix product for every weight type: convert a row to float, dot
 * it with each token. Slow and obviously right; the SIMD kernels are tested against it. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"

void k_row_to_float(const kmat *W, int64_t i, float *out) {
    if (W->il) { /* an interleaved matrix (repack.c): the row's bytes gathered first, on the stack up
                  * to 16 KB (the embedding lookup of every decode step must not allocate) */
        uint8_t stack[16384], *tmp = W->row_bytes <= sizeof stack ? stack : malloc(W->row_bytes);
        if (!tmp) { memset(out, 0, sizeof(float) * (size_t)W->cols); return; } /* a row: kilobytes */
        k_il_row(W, i, tmp);
        kq_dequant_row(W->type, tmp, out, W->cols);
        if (tmp != stack) free(tmp);
        return;
    }
    const uint8_t *row = (const uint8_t *)W->data + (size_t)i * W->row_bytes;
    switch (W->type) {
    case QWEN3_F32: memcpy(out, row, sizeof(float) * (size_t)W->cols); break;
    case QWEN3_F16: {
        const uint16_t *h = (const uint16_t *)row;
        for (int64_t c = 0; c < W->cols; c++) out[c] = k_f16_to_f32(h[c]);
        break;
    }
    case QWEN3_BF16: {
        const uint16_t *h = (const uint16_t *)row;
        for (int64_t c = 0; c < W->cols; c++) out[c] = k_bf16_to_f32(h[c]);
        break;
    }
    default: kq_dequant_row(W->type, row, out, W->cols); break;
    }
}

void k_matmul_rows_scalar(const kmat *W, const float *X, int n, float *Y, int64_t r0, int64_t r1) {
    float *w = malloc(sizeof(float) * (size_t)W->cols);
    if (!w) return; /* cannot happen for sane sizes; the caller's buffers are far larger */
    for (int64_t r = r0; r < r1; r++) {
        k_row_to_float(W, r, w);
        for (int t = 0; t < n; t++) {
            const float *x = X + (size_t)t * (size_t)W->cols;
            float s = 0.0f;
            for (int64_t c = 0; c < W->cols; c++) s += w[c] * x[c];
            Y[(size_t)t * (size_t)W->rows + (size_t)r] = s;
        }
    }
    free(w);
}
