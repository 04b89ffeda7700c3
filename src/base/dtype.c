/* dtype.c - names of the weight types (the one place that spells them). */
#include "qwen3.h"

const char *qwen3_dtype_name(qwen3_dtype t) {
    switch (t) {
    case QWEN3_F32: return "F32";
    case QWEN3_F16: return "F16";
    case QWEN3_BF16: return "BF16";
    case QWEN3_Q8_0: return "Q8_0";
    case QWEN3_Q4: return "Q4";
    case QWEN3_Q4_0: return "Q4_0";
    case QWEN3_Q4_1: return "Q4_1";
    case QWEN3_Q5_0: return "Q5_0";
    case QWEN3_Q5_1: return "Q5_1";
    case QWEN3_Q2_K: return "Q2_K";
    case QWEN3_Q3_K: return "Q3_K";
    case QWEN3_Q4_K: return "Q4_K";
    case QWEN3_Q5_K: return "Q5_K";
    case QWEN3_Q6_K: return "Q6_K";
    case QWEN3_IQ4_NL: return "IQ4_NL";
    case QWEN3_IQ4_XS: return "IQ4_XS";
    default: return "?";
    }
}
