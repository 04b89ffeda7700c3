/* dtype.c - names of the weight types (the one place that spells them). */
#include "qwen3.h"

const char *qwen3_dtype_name(qwen3_dtype t) {
    switch (t) {
    case QWEN3_F32: return "F32";
    case QWEN3_F16: return "F16";
    case QWEN3_BF16: return "BF16";
    case QWEN3_Q8_0: return "Q8_0";
    case QWEN3_Q4: return "Q4";
    default: return "?";
    }
}
