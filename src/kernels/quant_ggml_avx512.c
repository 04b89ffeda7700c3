#include "kernels/quant_ggml.h"
int kq_ggml_dot_avx512(qwen3_dtype t, const uint8_t *w, size_t wstride, int nr, const void *arow, int64_t n, float *y) { (void)t; (void)w; (void)wstride; (void)nr; (void)arow; (void)n; (void)y; return 0; }
int kq_ggml_row_bf16_avx512(qwen3_dtype t, const uint8_t *row, uint16_t *out, int64_t K) { (void)t; (void)row; (void)out; (void)K; return 0; }
