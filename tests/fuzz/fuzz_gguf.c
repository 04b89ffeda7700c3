/* fuzz_gguf.c - libFuzzer target: gguf_parse on arbitrary bytes must either fail with a message or
 * return a file whose every key, array element and tensor lies inside the buffer, with tensor bytes
 * equal to shape x type. A parsed file then goes through the GGUF config reader and the embedded
 * tokenizer loader (model/config_gguf.c, tokenizer/gguf_tok.c), which must also fail cleanly. */
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"
#include "model/config.h"
#include "tokenizer/tok.h"

static void touch(const uint8_t *buf, size_t size, const void *p, uint64_t n) {
    const uint8_t *q = p;
    if (n && (q < buf || q + n > buf + size || q + n < q)) abort();
    volatile uint8_t sink = 0;
    if (n) sink ^= q[0] ^ q[n - 1];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* copy so that ASan sees reads past the end of the input */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    gguf_file f;
    qwen3_err e = {0};
    if (gguf_parse(buf, size, "fuzz.gguf", &f, &e) == 0) {
        for (uint64_t i = 0; i < f.n_kv; i++) {
            const gguf_kv *kv = &f.kv[i];
            int64_t iv;
            double dv;
            gguf_str sv;
            qwen3_err e2 = {0};
            gguf_get_int(&f, kv->key, INT64_MIN, INT64_MAX, &iv, &e2);
            gguf_get_float(&f, kv->key, &dv, &e2);
            if (gguf_get_str(&f, kv->key, &sv, &e2) == 1) touch(buf, size, sv.p, sv.n);
            if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING)
                for (uint64_t k = 0; k < kv->n; k++) {
                    gguf_str s = gguf_arr_str(kv, k);
                    touch(buf, size, s.p, s.n);
                }
            if (gguf_arr_is_int(kv))
                for (uint64_t k = 0; k < kv->n; k++) (void)gguf_arr_int(kv, k);
        }
        for (uint64_t i = 0; i < f.n_tensors; i++) {
            const gguf_tensor *t = &f.tensors[i];
            uint64_t n = 1;
            for (int d = 0; d < GGUF_MAX_DIMS; d++) n *= (uint64_t)t->ne[d];
            if (n / (uint64_t)gguf_type_block(t->type) * gguf_type_size(t->type) != t->nbytes) abort();
            touch(buf, size, t->data, t->nbytes);
        }
        qwen3_config c;
        qwen3_err e3 = {0};
        if (qwen3_config_gguf(&f, 1, &c, &e3) != 0 && !e3.msg[0]) abort();
        qwen3_config_free(&c); /* nothing to free after a failure: it is freed and NULL */
        qwen3_err e4 = {0};
        qwen3_tokenizer *tok = tk_load_gguf_mem(&f, &e4);
        if (tok) qwen3_tokenizer_free(tok);
        else if (!e4.msg[0]) abort();
        gguf_close(&f);
    } else if (!e.msg[0]) {
        abort(); /* an error must say what is wrong */
    }
    free(buf);
    return 0;
}
