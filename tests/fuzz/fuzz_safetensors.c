/* fuzz_safetensors.c - libFuzzer target: st_parse on arbitrary bytes must either fail with a message
 * or return tensors whose byte ranges lie inside the buffer and match their shape and dtype. */
#include <stdlib.h>
#include <string.h>

#include "format/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* copy so that ASan sees reads past the end of the input */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    st_file f;
    qwen3_err e = {0};
    if (st_parse(buf, size, "fuzz.safetensors", &f, &e) == 0) {
        for (int i = 0; i < f.n_tensors; i++) {
            const st_tensor *t = &f.tensors[i];
            if (t->data < buf || t->data + t->nbytes > buf + size) abort();
            uint64_t n = st_dtype_size(t->dtype);
            for (int d = 0; d < t->ndim; d++) n *= (uint64_t)t->shape[d];
            if (n != t->nbytes) abort();
            volatile uint8_t sink = 0;
            if (t->nbytes) sink ^= t->data[0] ^ t->data[t->nbytes - 1];
            (void)sink;
        }
        for (int i = 0; i < f.n_tensors; i++) free(f.tensors[i].name);
        free(f.tensors);
    } else if (!e.msg[0]) {
        abort(); /* an error must say what is wrong */
    }
    free(buf);
    return 0;
}
