/* test_config_layers.c - qwen3_config's per-layer MoE flags since 0.2: allocated for num_layers (no
 * fixed 512-entry array), so a config deeper than 512 layers parses and its flags are right:
 *   deep_config            a 1000-layer qwen3_moe config.json: decoder_sparse_step 2, mlp_only_layers
 *                          [1, 999]: layer l is sparse iff (l + 1) % 2 == 0 and l not in the list
 *   layers_bound   num_hidden_layers above the parser's bound is refused with the field named
 *   dense_flags            a dense config has the flags allocated, all 0
 * (failed parses free what they allocated: the sanitizer build would report a leak). */
#include <stdio.h>
#include <string.h>

#include "model/config.h"
#include "test.h"

int main(void) {
    TEST_EXPECT(3);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model_type\": \"qwen3_moe\", \"vocab_size\": 64, \"hidden_size\": 16, \"num_hidden_layers\": 1000,"
             " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 8, \"intermediate_size\": 32,"
             " \"num_experts\": 4, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 8,"
             " \"decoder_sparse_step\": 2, \"mlp_only_layers\": [1, 999]}");
    qwen3_config c;
    qwen3_err e = {0};
    int bad = -1;
    if (qwen3_config_parse(text, strlen(text), "deep/config.json", &c, &e) == 0) {
        bad = 0;
        for (int l = 0; l < 1000 && !bad; l++) {
            int want = (l + 1) % 2 == 0 && l != 1 && l != 999;
            if (c.layer_is_moe[l] != want) bad = l + 1;
        }
        qwen3_config_free(&c);
    }
    CHECK(bad == 0, "deep_config", "%s (first wrong layer %d)", e.msg, bad - 1);

    snprintf(text, sizeof text, "{\"model_type\": \"qwen3\", \"vocab_size\": 64, \"hidden_size\": 16, "
                                "\"num_hidden_layers\": %d, \"num_attention_heads\": 2, \"intermediate_size\": 32}",
             QWEN3_MAX_LAYERS + 1);
    e.msg[0] = 0;
    int r = qwen3_config_parse(text, strlen(text), "too/config.json", &c, &e);
    CHECK(r != 0 && strstr(e.msg, "num_hidden_layers"), "layers_bound", "rc %d: %s", r, e.msg);

    snprintf(text, sizeof text, "{\"model_type\": \"qwen3\", \"vocab_size\": 64, \"hidden_size\": 16, "
                                "\"num_hidden_layers\": 600, \"num_attention_heads\": 2, \"intermediate_size\": 32}");
    r = qwen3_config_parse(text, strlen(text), "dense/config.json", &c, &e);
    int zeros = r == 0 && c.layer_is_moe;
    for (int l = 0; zeros && l < 600; l++) zeros = !c.layer_is_moe[l];
    CHECK(zeros, "dense_flags", "rc %d: %s", r, e.msg);
    if (r == 0) qwen3_config_free(&c);
    return test_exit();
}
