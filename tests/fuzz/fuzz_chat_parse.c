/* fuzz_chat_parse.c - libFuzzer target for the chat output parser (src/chat/parse.c).
 *
 * Input: byte 0 picks in_think and a chunking seed, the rest is model output. The output is parsed
 * one-shot and again in chunks whose sizes come from the seed; any difference in reasoning, content
 * or tool calls (or a delta that does not add up to the result) aborts. Built and run by
 * scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"

static void same(const qwen3_chat_result *a, const qwen3_chat_result *b) {
    if (a->reasoning_len != b->reasoning_len || memcmp(a->reasoning, b->reasoning, a->reasoning_len)) abort();
    if (a->content_len != b->content_len || memcmp(a->content, b->content, a->content_len)) abort();
    if (a->n_calls != b->n_calls) abort();
    for (int i = 0; i < a->n_calls; i++)
        if (strcmp(a->calls[i].name, b->calls[i].name) || strcmp(a->calls[i].arguments, b->calls[i].arguments)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int in_think = data[0] & 1;
    unsigned seed = data[0] >> 1;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    qwen3_chat_parser *one = qwen3_chat_parse(text, n, in_think, NULL);
    qwen3_chat_parser *inc = qwen3_chat_parser_new(in_think, NULL);
    if (!one || !inc) abort();
    size_t at = 0, rsum = 0, csum = 0;
    int calls = 0;
    qwen3_chat_delta d;
    while (at < n) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 16) % 13;
        if (k > n - at) k = n - at;
        if (qwen3_chat_parser_feed(inc, text + at, k, &d, NULL)) abort();
        rsum += d.reasoning_len;
        csum += d.content_len;
        calls += d.n_calls;
        at += k;
    }
    if (qwen3_chat_parser_finish(inc, &d, NULL)) abort();
    rsum += d.reasoning_len;
    csum += d.content_len;
    calls += d.n_calls;
    qwen3_chat_result a, b;
    qwen3_chat_parser_result(one, &a);
    qwen3_chat_parser_result(inc, &b);
    same(&a, &b);
    if (rsum != b.reasoning_len || csum != b.content_len || calls != b.n_calls) abort();
    /* nothing is invented: the text out is never longer than the text in */
    if (a.reasoning_len + a.content_len > n) abort();
    qwen3_chat_parser_free(one);
    qwen3_chat_parser_free(inc);
    return 0;
}
