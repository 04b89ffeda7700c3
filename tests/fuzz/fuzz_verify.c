/* fuzz_verify.c - libFuzzer target: the answer verifier (src/eval/verify.c) on arbitrary replies.
 * Input: byte 0 picks the mode (-1, 0, 1), byte 1 the answer's length (1..32, from the bytes after
 * it), the rest is the reply. Checks the verdict's invariants: the answer's place lies inside the
 * reply, "correct" means exactly the expected bytes there, an empty block is a well-formed one, the
 * reward is 1 only for a correct, well-formed reply that followed its mode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int mode = data[0] % 3 - 1;
    size_t alen = 1 + data[1] % 32;
    if (size < 2 + alen) return 0;
    static qwen3_task t;
    memset(&t, 0, sizeof t);
    memcpy(t.answer, data + 2, alen);
    t.answer[alen] = 0;
    if (!t.answer[0]) return 0; /* a NUL first byte: no answer, an error by contract */
    const char *reply = (const char *)data + 2 + alen;
    size_t len = size - 2 - alen;
    qwen3_verdict v;
    qwen3_err e;
    if (qwen3_verify(&t, reply, len, mode, NULL, &v, &e)) abort();
    if (v.answer_off > len || v.answer_len > len - v.answer_off) abort();
    size_t want = strlen(t.answer);
    if (v.correct != (v.answer_len == want && !memcmp(reply + v.answer_off, t.answer, want))) abort();
    if (v.think_empty && !v.think_ok) abort();
    if (!v.think_ok && (v.think_bytes != -1 || v.think_tokens != -1)) abort();
    if (v.reward != (v.correct && v.think_ok && v.mode_ok ? 1.0 : 0.0)) abort();
    return 0;
}
