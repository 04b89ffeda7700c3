/* gguf.h - the GGUF format (ggml's single-file model format, versions 2 and 3, little-endian):
 *
 *   "GGUF" u32 version u64 n_tensors u64 n_kv
 *   n_kv x (string key, u32 value type, value)       string = u64 length + bytes (no NUL)
 *   n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset)
 *   padding to general.alignment (default 32), then the data section that the offsets index.
 *
 * ne[0] is the length of a row (the fastest-varying dimension): a [rows, cols] matrix in PyTorch's
 * order is ne = {cols, rows}. Block-quantized types store a row as ne[0] / block blocks.
 *
 * gguf_parse is a pure function of (buffer, length): every count, string length, array length and
 * offset is checked against the bytes that remain (with overflow guards, so absurd counts are
 * refused before anything is allocated), shape x type must fit the data section, offsets must be
 * aligned, tensors may not overlap, keys and tensor names may not repeat. Strings and tensor data
 * are then used in place from the buffer (the file's mapping). */
#ifndef QWEN3_FORMAT_GGUF_H
#define QWEN3_FORMAT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/file.h"

#define GGUF_MAX_DIMS 4
#define GGUF_MAX_STRING (64u << 20) /* a key, name or string value above 64 MB is refused as absurd */

/* Metadata value types. */
enum {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4, GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12, GGUF_VTYPE_COUNT
};

/* ggml tensor types that the engine reads as they are stored. */
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q8_0 = 8, GGML_BF16 = 30 };

typedef struct gguf_str {
    const char *p; /* into the buffer; not NUL-terminated */
    uint64_t n;
} gguf_str;

typedef struct gguf_kv {
    char *key;          /* NUL-terminated copy */
    uint32_t type;      /* GGUF_* */
    uint32_t arr_type;  /* element type when type is GGUF_ARRAY */
    uint64_t n;         /* array length (1 for a scalar) */
    const uint8_t *val; /* the value (for an array: its first element) in the buffer */
    uint64_t *str_off;  /* arrays of strings: offset of each element from val (allocated) */
} gguf_kv;

typedef struct gguf_tensor {
    char *name;                /* NUL-terminated copy */
    uint32_t type;             /* ggml type id */
    int ndim;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] = row length; unused dimensions are 1 */
    const uint8_t *data;       /* into the buffer */
    uint64_t nbytes;
} gguf_tensor;

typedef struct gguf_file {
    qfile map;
    const char *path; /* for messages */
    uint32_t version;
    uint32_t alignment;
    gguf_kv *kv;
    uint64_t n_kv;
    gguf_tensor *tensors;
    uint64_t n_tensors;
    uint64_t data_offset; /* start of the data section in the file */
} gguf_file;

/* The ggml type's name ("Q4_K"), block size (values) and bytes per block; NULL / 0 when unknown. */
const char *gguf_type_name(uint32_t type);
int gguf_type_block(uint32_t type);
size_t gguf_type_size(uint32_t type);

/* Parses a GGUF image of len bytes; path is used in messages only. On success out's strings and
 * tensor data point into buf (which must outlive them). Pure: no I/O. */
int gguf_parse(const uint8_t *buf, size_t len, const char *path, gguf_file *out, qwen3_err *e);
/* Maps and parses a file. */
int gguf_open(gguf_file *f, const char *path, qwen3_err *e);
void gguf_close(gguf_file *f);

/* Metadata lookups. NULL when the key is absent. */
const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);
/* The value of an integer key of any integer type (or bool), checked against lo..hi.
 * Returns 1 found, 0 absent, -1 wrong type or out of range (with an error naming the key). */
int gguf_get_int(const gguf_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out, qwen3_err *e);
/* A float32 or float64 key (integers accepted too). Same returns. */
int gguf_get_float(const gguf_file *f, const char *key, double *out, qwen3_err *e);
/* A string key. Same returns. */
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, qwen3_err *e);
/* Element i of an array of strings / of integers (any integer type). */
gguf_str gguf_arr_str(const gguf_kv *kv, uint64_t i);
int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i);
/* 1 when kv is an array whose elements are integers (any width). */
int gguf_arr_is_int(const gguf_kv *kv);

#endif
