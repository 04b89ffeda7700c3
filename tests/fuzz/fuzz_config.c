/* fuzz_config.c - libFuzzer target: qwen3_config_parse on arbitrary text either fails with a message
 * or yields a config whose sizes are positive and consistent (what the loader relies on). */
#include <stdlib.h>

#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qwen3_config c;
    qwen3_err e = {0};
    if (qwen3_config_parse((const char *)data, size, "fuzz/config.json", &c, &e) == 0) {
        if (c.vocab_size < 1 || c.hidden_size < 1 || c.num_layers < 1 || c.num_layers > QWEN3_MAX_LAYERS ||
            c.num_heads < 1 || c.num_kv_heads < 1 || c.num_heads % c.num_kv_heads || c.head_dim < 2 || c.head_dim % 2)
            abort();
        if (c.is_moe && (c.num_experts < 1 || c.num_experts_per_tok < 1 || c.num_experts_per_tok > c.num_experts))
            abort();
        if (!c.layer_is_moe) abort();
        /* DCA: a chunk of chunk_size - local_size >= 1 positions (forward.c divides by it) */
        if (c.dca && (c.dca_chunk_size < 2 || c.dca_local_size < 0 || c.dca_local_size >= c.dca_chunk_size ||
                      c.dca_original_max_position_embeddings < 0))
            abort();
        qwen3_config_free(&c);
    } else if (!e.msg[0]) {
        abort();
    }
    return 0;
}
