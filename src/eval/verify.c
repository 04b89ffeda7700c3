/* verify.c - the answer verifier: is a reply's final answer exactly the task's, is its think block
 * well-formed, how long is it, and was the mode (/think or /no_think) followed. The rules are in
 * include/qwen3_eval.h; they are the inverse of the Qwen3 chat template, which writes an assistant
 * turn as "<think>\n" + reasoning + "\n</think>\n\n" + content. Strict on purpose: it is the GRPO
 * reward, and a reward that pays for "x=5" when the form is "x = 5" teaches the wrong form.
 * tests/unit/test_verify.c holds the known-right and known-wrong replies; tests/ref/eval_ref.py is an
 * independent Python implementation of the same rules. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "qwen3_eval.h"

static const char OPEN[] = "<think>", CLOSE[] = "</think>";

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* the first occurrence of needle in [s, s + n) at or after `from`; -1 when absent */
static long find(const char *s, size_t n, size_t from, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = from; i + k <= n; i++)
        if (!memcmp(s + i, needle, k)) return (long)i;
    return -1;
}

static int count(const char *s, size_t n, const char *needle) {
    int c = 0;
    for (long i = find(s, n, 0, needle); i >= 0; i = find(s, n, (size_t)i + strlen(needle), needle)) c++;
    return c;
}

/* the reply without one trailing end-of-turn token (and the whitespace around it) */
static size_t strip_end(const char *s, size_t n) {
    static const char *const ends[] = {"<|im_end|>", "<|endoftext|>"};
    size_t m = n;
    while (m && is_space(s[m - 1])) m--;
    for (size_t k = 0; k < 2; k++) {
        size_t l = strlen(ends[k]);
        if (m >= l && !memcmp(s + m - l, ends[k], l)) return m - l;
    }
    return n;
}

int qwen3_verify(const qwen3_task *t, const char *reply, size_t len, int mode, const qwen3_tokenizer *tok,
                 qwen3_verdict *v, qwen3_err *err) {
    if (!v) return qerr(err, "verify: no verdict to fill");
    memset(v, 0, sizeof *v);
    v->think_tokens = v->think_bytes = -1;
    if (!t || !t->answer[0]) return qerr(err, "verify: the task has no answer to compare with");
    if (!reply && len) return qerr(err, "verify: no reply text");
    if (mode < QWEN3_MODE_ANY || mode > QWEN3_MODE_THINK) return qerr(err, "verify: mode %d is not -1, 0 or 1", mode);
    if (!reply) reply = "";
    size_t n = strip_end(reply, len);

    /* the think block */
    long open = find(reply, n, 0, OPEN), close = find(reply, n, 0, CLOSE);
    v->think_ok = open == 0 && close > 0 && count(reply, n, OPEN) == 1 && count(reply, n, CLOSE) == 1;
    if (v->think_ok) {
        size_t a = sizeof OPEN - 1, b = (size_t)close;
        if (a < b && reply[a] == '\n') a++;                /* the template's "<think>\n" */
        if (b > a && reply[b - 1] == '\n') b--;            /* and "\n</think>" */
        size_t k = a;
        while (k < b && is_space(reply[k])) k++;
        v->think_empty = k == b;
        v->think_bytes = v->think_empty ? 0 : (int)(b - a);
        if (v->think_empty) v->think_tokens = 0;
        else if (tok) {
            int32_t *ids = NULL;
            int m = qwen3_encode(tok, reply + a, b - a, 1, &ids, err);
            free(ids);
            if (m < 0) {
                memset(v, 0, sizeof *v);
                return qerr_wrap(err, "verify: counting the think block's tokens");
            }
            v->think_tokens = m;
        }
    }

    /* the final answer: after the last </think>; none when a <think> is never closed */
    size_t a = 0;
    int has_answer = 1;
    long last_close = -1;
    for (long i = close; i >= 0; i = find(reply, n, (size_t)i + 1, CLOSE)) last_close = i;
    if (last_close >= 0) {
        a = (size_t)last_close + sizeof CLOSE - 1;
        if (find(reply, n, a, OPEN) >= 0) has_answer = 0; /* a block opened after the last close */
    } else if (open >= 0) {
        has_answer = 0;
    }
    if (has_answer) {
        size_t b = n;
        while (a < b && is_space(reply[a])) a++;
        while (b > a && is_space(reply[b - 1])) b--;
        v->answer_off = a;
        v->answer_len = b - a;
        size_t want = strlen(t->answer);
        v->correct = v->answer_len == want && !memcmp(reply + a, t->answer, want);
    }

    if (mode == QWEN3_MODE_NO_THINK) v->mode_ok = v->think_ok && v->think_empty;
    else if (mode == QWEN3_MODE_THINK) v->mode_ok = v->think_ok && !v->think_empty;
    else v->mode_ok = v->think_ok;
    v->reward = v->correct && v->think_ok && v->mode_ok ? 1.0 : 0.0;
    return 0;
}
