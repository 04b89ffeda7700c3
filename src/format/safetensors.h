/* safetensors.h - the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "BF16", "shape": [r, c], "data_offsets": [b, e]}, ..., "__metadata__": {...}},
 * then the data section that the offsets index.
 *
 * st_parse is a pure function of (buffer, length): every offset is checked against the data section,
 * shape x dtype must equal the byte range (with overflow guards), ranges may not overlap. A tensor's
 * bytes are then used in place from the mapping. */
#ifndef QWEN3_FORMAT_SAFETENSORS_H
#define QWEN3_FORMAT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/file.h"

#define ST_MAX_DIMS 4
#define ST_MAX_HEADER (100u << 20) /* a header above 100 MB is refused as absurd */

/* Besides the standard dtypes, two of our own for block-quantized matrices written by `qwen3
 * quantize` (layouts in kernels/quant.h): "Q8_0" (blocks of 32 values in 34 bytes) and "Q4"
 * (superblocks of 256 values in 148 bytes), and GGUF's block types by their ggml names ("Q4_K",
 * "Q6_K", ...; kernels/quant_ggml.h). Their shape is the logical [rows, cols]; the last
 * dimension must be a multiple of the block and the bytes are numel / block * block_bytes. Other
 * readers reject these dtype strings instead of misreading the bytes. */
typedef enum {
    ST_F32, ST_F16, ST_BF16, ST_I8, ST_U8, ST_I32, ST_I64, ST_F64, ST_BOOL, ST_Q8_0, ST_Q4,
    /* GGUF's block types under their ggml names, in ggml's block layouts (kernels/quant_ggml.h) */
    ST_Q4_0, ST_Q4_1, ST_Q5_0, ST_Q5_1, ST_IQ4_NL, ST_Q2_K, ST_Q3_K, ST_Q4_K, ST_Q5_K, ST_Q6_K, ST_IQ4_XS,
    ST_OTHER
} st_dtype;

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    char dtype_name[16];      /* as written in the file */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const uint8_t *data;      /* into the mapping */
    uint64_t nbytes;
    const char *file;         /* path of the file that holds it (for messages) */
} st_tensor;

typedef struct st_file {
    qfile map;
    st_tensor *tensors;
    int n_tensors;
} st_file;

size_t st_dtype_size(st_dtype t); /* bytes per element; for block types, per block */
int st_dtype_block(st_dtype t);    /* elements per block: 1, or 32 / 256 for Q8_0 / Q4 */

/* Parses a safetensors image of len bytes; path is used in messages only. On success out->tensors
 * point into buf (which must outlive them). Pure: no I/O. */
int st_parse(const uint8_t *buf, size_t len, const char *path, st_file *out, qwen3_err *e);
/* Maps and parses a file: 0, or -1; -2 when mmap refused the file (qfile_map). */
int st_open(st_file *f, const char *path, qwen3_err *e);
void st_close(st_file *f);

#endif
