/* quant.c - block-quantized types. Placeholder dispatch: no block type is implemented yet, so
 * weights of these types are never produced by the loader. */
#include <string.h>

#include "kernels/quant.h"

void kq_dequant_row(qwen3_dtype t, const void *row, float *out, int64_t n) {
    (void)t;
    (void)row;
    memset(out, 0, sizeof(float) * (size_t)n);
}
