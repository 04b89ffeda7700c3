/* fuzz_chat_render.c - libFuzzer target for the chat renderer's input side: JSON requests
 * (src/chat/render_json.c, render.c, pyjson.c) with each template kind, and template identification
 * (template.c) of the same bytes. Must never crash, leak or read out of bounds; a rendered prompt
 * must have the length reported and be rendered identically the second time. Built and run by
 * scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    (void)qwen3_chat_template_identify(s, size);
    for (int k = 0; k < QWEN3_CHAT_KIND_COUNT; k++) {
        qwen3_err err = {0};
        size_t n1 = 0, n2 = 0;
        char *p = qwen3_chat_render_json((qwen3_chat_kind)k, s, size, &n1, &err);
        if (!p) {
            if (!err.msg[0]) abort(); /* a failure always says why */
            continue;
        }
        if (strlen(p) != n1) abort();
        char *q = qwen3_chat_render_json((qwen3_chat_kind)k, s, size, &n2, &err);
        if (!q || n1 != n2 || memcmp(p, q, n1)) abort();
        /* whatever the model says back must parse without trouble too */
        qwen3_chat_parser *r = qwen3_chat_parse(p, n1, -1, NULL);
        if (!r) abort();
        qwen3_chat_parser_free(r);
        free(p);
        free(q);
    }
    return 0;
}
