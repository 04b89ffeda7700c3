/* fuzz_grammar.c - libFuzzer target: the GBNF parser and the JSON Schema compiler on arbitrary text,
 * then the recogniser. Input: a first byte choosing GBNF (even) or JSON Schema (odd), the grammar or
 * schema up to the first NUL byte, and after it a text to match. Compiling either fails with a
 * message or gives a grammar; matching a text returns 0 or 1 (or -1 with a message: too ambiguous),
 * never crashes or hangs (the recogniser's work per byte is bounded). */
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int schema = data[0] & 1;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    const char *nul = memchr(s, 0, n);
    size_t gl = nul ? (size_t)(nul - s) : n;
    const char *text = nul ? nul + 1 : "";
    size_t tl = nul ? n - gl - 1 : 0;
    qwen3_err e = {0};
    qwen3_grammar *g = schema ? qwen3_grammar_json_schema(s, gl, &e) : qwen3_grammar_gbnf(s, gl, &e);
    if (!g) {
        if (!e.msg[0]) abort();
        return 0;
    }
    int r = qwen3_grammar_match(g, text, tl, &e);
    if (r < -1 || r > 1 || (r == -1 && !e.msg[0])) abort();
    qwen3_grammar_free(g);
    return 0;
}
