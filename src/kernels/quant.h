/* quant.h - block-quantized weight types (Q8_0, Q4): layouts, quantize and dequantize.
 * Filled in by the quantization work; until then only the float types are computed. */
#ifndef QWEN3_KERNELS_QUANT_H
#define QWEN3_KERNELS_QUANT_H

#include <stdint.h>

#include "qwen3.h"

/* Dequantizes one row of n values of a block type into out. */
void kq_dequant_row(qwen3_dtype t, const void *row, float *out, int64_t n);

#endif
