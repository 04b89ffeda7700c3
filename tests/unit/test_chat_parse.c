/* test_chat_parse.c - the chat output parser (src/chat/parse.c): a table of model outputs with the
 * reasoning, content and tool calls each must give, then the same outputs fed in every possible
 * two-chunk split, in every three-chunk split (the shorter ones), and byte by byte, which must give
 * exactly the one-shot result, with no delta ending inside a UTF-8 character. Also: nothing is held
 * back from plain text, the one-shot in_think guess, and parse(render(x)) round trips. */
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"
#include "test.h"

typedef struct call_exp {
    const char *name, *args;
} call_exp;

typedef struct pcase {
    const char *name;
    int in_think;
    const char *text;
    const char *reasoning, *content;
    int n_calls;
    call_exp calls[3];
} pcase;

#define CALL_W "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
#define CALL_S "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"news\", \"n\": 3}}\n</tool_call>"
#define W_ARGS "{\"city\": \"Paris\"}"
#define S_ARGS "{\"q\": \"news\", \"n\": 3}"

static const pcase cases[] = {
    {"plain", 0, "Hello there.", "", "Hello there.", 0, {{0}}},
    {"think", 0, "<think>\nI think.\n</think>\n\nAnswer.", "I think.", "Answer.", 0, {{0}}},
    {"empty_think", 0, "<think>\n\n</think>\n\nAnswer", "", "Answer", 0, {{0}}},
    {"only_close", 1, "Reasoning here\n</think>\n\nAnswer", "Reasoning here", "Answer", 0, {{0}}},
    {"open_never_closed", 1, "still thinking\n", "still thinking", "", 0, {{0}}},
    {"prefilled_repeats_open", 1, "<think>\nx\n</think>\n\ny", "x", "y", 0, {{0}}},
    {"unclosed_think", 0, "<think>\nstill going", "still going", "", 0, {{0}}},
    {"call", 0, CALL_W, "", "", 1, {{"get_weather", W_ARGS}}},
    {"content_then_call", 0, "Let me check.\n" CALL_W, "", "Let me check.", 1, {{"get_weather", W_ARGS}}},
    {"parallel", 0, CALL_W "\n" CALL_S "\n" CALL_W, "", "", 3, {{"get_weather", W_ARGS}, {"search", S_ARGS}, {"get_weather", W_ARGS}}},
    {"think_then_calls", 0, "<think>\nneed tools\n</think>\n\n" CALL_W "\n" CALL_S, "need tools", "", 2,
     {{"get_weather", W_ARGS}, {"search", S_ARGS}}},
    {"call_inside_think", 0, "<think>\nI'll call it.\n" CALL_W "\n</think>\n\nDone.", "I'll call it.", "Done.", 1,
     {{"get_weather", W_ARGS}}},
    {"call_inside_unclosed_think", 0, "<think>\nx\n" CALL_S, "x", "", 1, {{"search", S_ARGS}}},
    {"call_then_think_goes_on", 0, "<think>\na\n" CALL_S "\nb\n</think>\n\nc", "a\nb", "c", 1, {{"search", S_ARGS}}},
    {"broken_json", 0, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\n</tool_call>", "",
     "<tool_call>\n{\"name\": \"f\", \"arguments\": {\n</tool_call>", 0, {{0}}},
    {"no_name", 0, "ok\n<tool_call>\n{\"x\": 1}\n</tool_call>", "", "ok\n<tool_call>\n{\"x\": 1}\n</tool_call>", 0, {{0}}},
    {"args_number", 0, "<tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call>", "",
     "<tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call>", 0, {{0}}},
    {"broken_in_think", 0, "<think>\nx\n<tool_call>bad</tool_call>\n</think>\n\ny", "x\n<tool_call>bad</tool_call>", "y", 0,
     {{0}}},
    /* think tags never reach content: a later <think> opens reasoning again, a stray </think> is dropped */
    {"stray_tags", 0, "a </think> b <think> c </tool_call> d", " c </tool_call> d", "a  b ", 0, {{0}}},
    {"late_think", 0, "Hi <think>x</think>", "x", "Hi ", 0, {{0}}},
    {"reopened_think", 0, "<think>\nA\n</think>\n\nB\n\n<think>\nC\n</think>\n\nD", "A\nC", "B\n\nD", 0, {{0}}},
    {"forced_empty_blocks", 0, "Answer<think>\n\n</think>\n\n<think>\n\n</think>\n\nmore", "", "Answermore", 0, {{0}}},
    {"budget_then_reopen", 0, "<think>\nx\n\nStop now.\n</think>\n\n<think>\n\n</think>\n\n<think>\n\n</think>\n\n",
     "x\n\nStop now.", "", 0, {{0}}},
    {"reopen_prefilled", 1, "a\n</think>\n\n<think>\nb\n</think>\n\nc", "a\nb", "c", 0, {{0}}},
    {"think_after_call", 0, CALL_W "\n<think>\nhm\n</think>\n\nok", "hm", "ok", 1, {{"get_weather", W_ARGS}}},
    {"thinking_tag_lookalike", 0, "<thinking>x", "", "<thinking>x", 0, {{0}}},
    {"unclosed_call_complete_json", 0, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}", "", "", 1, {{"f", "{}"}}},
    {"unclosed_call_partial", 0, "text\n<tool_call>\n{\"name\"", "", "text\n<tool_call>\n{\"name\"", 0, {{0}}},
    {"text_after_call", 0, CALL_W "\nBye", "", "\nBye", 1, {{"get_weather", W_ARGS}}},
    {"ws_after_call", 0, CALL_W "\n\n \n", "", "", 1, {{"get_weather", W_ARGS}}},
    {"ws_between_calls", 0, CALL_W " \n\n" CALL_S, "", "", 2, {{"get_weather", W_ARGS}, {"search", S_ARGS}}},
    {"compact_args_kept", 0, "<tool_call>{\"name\":\"f\",\"arguments\":{\"a\":1,\"b\":[1,2],\"c\":\"}\"}}</tool_call>", "", "",
     1, {{"f", "{\"a\":1,\"b\":[1,2],\"c\":\"}\"}"}}},
    {"args_string", 0, "<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}\n</tool_call>", "", "", 1,
     {{"f", "{\"a\": 1}"}}},
    {"args_absent", 0, "<tool_call>\n{\"name\": \"f\"}\n</tool_call>", "", "", 1, {{"f", "{}"}}},
    {"args_dup_last_wins", 0, "<tool_call>{\"arguments\": {\"x\": 1}, \"name\": \"f\", \"arguments\": {\"y\": 2}}</tool_call>",
     "", "", 1, {{"f", "{\"y\": 2}"}}},
    {"partial_call_tag_at_end", 0, "Answer <tool_ca", "", "Answer <tool_ca", 0, {{0}}},
    {"partial_close_at_end", 0, "<think>\nabc</thi", "abc</thi", "", 0, {{0}}},
    {"partial_open_at_end", 0, "<thi", "", "<thi", 0, {{0}}},
    {"trailing_newline_kept", 0, "Answer\n", "", "Answer\n", 0, {{0}}},
    {"newlines_before_call", 0, "a\n\n" CALL_S, "", "a\n", 1, {{"search", S_ARGS}}},
    {"failed_call_keeps_separator", 0, "a\n<tool_call>\nbad\n</tool_call>", "", "a\n<tool_call>\nbad\n</tool_call>", 0, {{0}}},
    {"blank_lines_in_reasoning", 0, "<think>\na\n\nb\n\n\n</think>\n\n\nc\n\nd", "a\n\nb", "c\n\nd", 0, {{0}}},
    {"unicode", 0, "<think>\n思考 😀\n</think>\n\n答え é", "思考 😀", "答え é", 0, {{0}}},
    {"double_close", 0, "<think>a</think>b</think>c", "a", "bc", 0, {{0}}},
    {"no_think_mode_answer", 0, "\n\nJust the answer", "", "Just the answer", 0, {{0}}},
    {"empty", 0, "", "", "", 0, {{0}}},
    {"empty_prefilled", 1, "", "", "", 0, {{0}}},
    {"lt_in_text", 0, "a < b and c<d <", "", "a < b and c<d <", 0, {{0}}},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

typedef struct acc {
    char r[4096], c[4096];
    size_t rn, cn;
    int n_calls;
    char names[3][64], args[3][256];
    int bad_utf8_cut; /* a delta (not the last) ended inside a character */
    int bad_index;
} acc;

static int ends_mid_char(const char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back;
    }
    return 0;
}

static void take(acc *a, const qwen3_chat_delta *d, int last) {
    if (!last && (ends_mid_char(d->reasoning, d->reasoning_len) || ends_mid_char(d->content, d->content_len)))
        a->bad_utf8_cut = 1;
    if (a->rn + d->reasoning_len < sizeof a->r) memcpy(a->r + a->rn, d->reasoning, d->reasoning_len);
    a->rn += d->reasoning_len;
    if (a->cn + d->content_len < sizeof a->c) memcpy(a->c + a->cn, d->content, d->content_len);
    a->cn += d->content_len;
    if (d->n_calls && d->first_call != a->n_calls) a->bad_index = 1;
    for (int i = 0; i < d->n_calls; i++, a->n_calls++) {
        if (a->n_calls >= 3) continue;
        snprintf(a->names[a->n_calls], sizeof a->names[0], "%s", d->calls[i].name);
        snprintf(a->args[a->n_calls], sizeof a->args[0], "%s", d->calls[i].arguments);
    }
}

/* Feeds the case in the chunks that end at cuts[0..n_cuts) and compares with the expectation. */
static int run_chunked(const pcase *c, const size_t *cuts, int n_cuts, char *why, size_t why_n) {
    qwen3_err err = {0};
    qwen3_chat_parser *p = qwen3_chat_parser_new(c->in_think, &err);
    if (!p) return snprintf(why, why_n, "new: %.200s", err.msg), 0;
    acc a = {0};
    qwen3_chat_delta d;
    size_t at = 0, len = strlen(c->text);
    for (int i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : len;
        qwen3_chat_parser_feed(p, c->text + at, to - at, &d, &err);
        take(&a, &d, 0);
        at = to;
    }
    qwen3_chat_parser_finish(p, &d, &err);
    take(&a, &d, 1);
    qwen3_chat_result r;
    qwen3_chat_parser_result(p, &r);
    int ok = 1;
    if (a.rn != strlen(c->reasoning) || memcmp(a.r, c->reasoning, a.rn)) ok = 0, snprintf(why, why_n, "reasoning '%.*s'", (int)a.rn, a.r);
    else if (a.cn != strlen(c->content) || memcmp(a.c, c->content, a.cn)) ok = 0, snprintf(why, why_n, "content '%.*s'", (int)a.cn, a.c);
    else if (a.n_calls != c->n_calls) ok = 0, snprintf(why, why_n, "%d calls", a.n_calls);
    else if (a.bad_utf8_cut) ok = 0, snprintf(why, why_n, "a delta split a UTF-8 character");
    else if (a.bad_index) ok = 0, snprintf(why, why_n, "delta first_call out of step");
    else if (r.reasoning_len != a.rn || r.content_len != a.cn || r.n_calls != a.n_calls || strcmp(r.reasoning, c->reasoning) ||
             strcmp(r.content, c->content))
        ok = 0, snprintf(why, why_n, "result differs from the deltas");
    for (int i = 0; ok && i < c->n_calls; i++)
        if (strcmp(a.names[i], c->calls[i].name) || strcmp(a.args[i], c->calls[i].args))
            ok = 0, snprintf(why, why_n, "call %d: %s %s", i, a.names[i], a.args[i]);
    qwen3_chat_parser_free(p);
    return ok;
}

static void test_cases(void) {
    char why[1200], name[128];
    for (int k = 0; k < N_CASES; k++) {
        const pcase *c = &cases[k];
        size_t len = strlen(c->text);
        snprintf(name, sizeof name, "chat_parse_%s", c->name);
        int ok = run_chunked(c, NULL, 0, why, sizeof why);
        CHECK(ok, name, "%s", why);
        /* every two-chunk split, and byte by byte */
        int split_ok = 1;
        for (size_t i = 0; split_ok && i <= len; i++) split_ok = run_chunked(c, &i, 1, why, sizeof why);
        size_t bytes[512];
        for (size_t i = 0; i < len && i < 512; i++) bytes[i] = i + 1;
        if (split_ok && len <= 512) split_ok = run_chunked(c, bytes, (int)len, why, sizeof why);
        /* every three-chunk split of the shorter texts */
        for (size_t i = 0; split_ok && len <= 120 && i <= len; i++)
            for (size_t j = i; split_ok && j <= len; j++) {
                size_t cuts[2] = {i, j};
                split_ok = run_chunked(c, cuts, 2, why, sizeof why);
            }
        snprintf(name, sizeof name, "chat_parse_%s_chunked", c->name);
        CHECK(split_ok, name, "%s", why);
    }
}

/* Plain text must come out as soon as it is fed: nothing is held back that cannot become a tag. */
static void test_no_holding(void) {
    qwen3_err err = {0};
    qwen3_chat_parser *p = qwen3_chat_parser_new(0, &err);
    qwen3_chat_delta d;
    const char *words[] = {"The ", "answer ", "is ", "42", ".", " Ünïcödé ", "ok"};
    size_t sent = 0, fed = 0;
    int ok = 1;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        qwen3_chat_parser_feed(p, words[i], strlen(words[i]), &d, &err);
        sent += d.content_len;
        fed += strlen(words[i]);
        if (sent != fed) ok = 0;
    }
    CHECK(ok, "chat_parse_plain_text_not_held", "held back %zu bytes", fed - sent);
    /* a partial tag is held, and only it */
    qwen3_chat_parser_feed(p, " x <tool", 8, &d, &err);
    CHECK(d.content_len == 3 && !memcmp(d.content, " x ", 3), "chat_parse_holds_only_tag_prefix", "delta '%.*s'",
          (int)d.content_len, d.content);
    qwen3_chat_parser_free(p);
    /* reasoning streams too */
    p = qwen3_chat_parser_new(0, &err);
    qwen3_chat_parser_feed(p, "<think>\nstep one", 16, &d, &err);
    CHECK(d.reasoning_len == 8 && !memcmp(d.reasoning, "step one", 8), "chat_parse_reasoning_streams", "delta '%.*s'",
          (int)d.reasoning_len, d.reasoning);
    /* a split UTF-8 character waits for its last byte */
    qwen3_chat_parser_feed(p, " \xE6\x80", 3, &d, &err);
    CHECK(d.reasoning_len == 1, "chat_parse_utf8_held", "delta %zu bytes", d.reasoning_len);
    qwen3_chat_parser_feed(p, "\x9D", 1, &d, &err);
    CHECK(d.reasoning_len == 3 && !memcmp(d.reasoning, "\xE6\x80\x9D", 3), "chat_parse_utf8_released", "delta %zu bytes",
          d.reasoning_len);
    CHECK(qwen3_chat_parser_finish(p, &d, &err) == 0 && qwen3_chat_parser_feed(p, "x", 1, &d, &err) == -1,
          "chat_parse_feed_after_finish_refused", "no error");
    qwen3_chat_parser_free(p);
    CHECK(!qwen3_chat_parser_new(2, &err), "chat_parse_bad_in_think_refused", "accepted");
}

static void test_guess(void) {
    qwen3_err err = {0};
    qwen3_chat_result r;
    qwen3_chat_parser *p = qwen3_chat_parse("thought\n</think>\n\nanswer", 24, -1, &err);
    qwen3_chat_parser_result(p, &r);
    CHECK(!strcmp(r.reasoning, "thought") && !strcmp(r.content, "answer"), "chat_parse_guess_prefilled", "'%s' '%s'",
          r.reasoning, r.content);
    qwen3_chat_parser_free(p);
    p = qwen3_chat_parse("<think>\nt\n</think>\n\na", 21, -1, &err);
    qwen3_chat_parser_result(p, &r);
    CHECK(!strcmp(r.reasoning, "t") && !strcmp(r.content, "a"), "chat_parse_guess_opened", "'%s' '%s'", r.reasoning, r.content);
    qwen3_chat_parser_free(p);
    p = qwen3_chat_parse("plain", 5, -1, &err);
    qwen3_chat_parser_result(p, &r);
    CHECK(!strcmp(r.reasoning, "") && !strcmp(r.content, "plain"), "chat_parse_guess_plain", "'%s' '%s'", r.reasoning,
          r.content);
    qwen3_chat_parser_free(p);
    const char *pr = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n";
    const char *pn = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
    const char *ph = "<|im_start|>assistant\n<think>\nx\n</think>\n\ny<|im_end|>\n<|im_start|>assistant\n";
    CHECK(qwen3_chat_prompt_opens_think(pr, strlen(pr)) == 1 && qwen3_chat_prompt_opens_think(pn, strlen(pn)) == 0 &&
              qwen3_chat_prompt_opens_think(ph, strlen(ph)) == 0,
          "chat_prompt_opens_think", "wrong");
}

/* What the model generated, parsed and rendered back as history, must be the same bytes (so a
 * session can keep its KV cache across turns). */
static void test_round_trip(void) {
    const char *outs[] = {
        "<think>\nLet me think.\n</think>\n\nThe answer is 4.",
        "<think>\nneed weather\n</think>\n\n" CALL_W,
        "<think>\nneed two\n</think>\n\nChecking both.\n" CALL_W "\n" CALL_S,
        "<think>\n\n</think>\n\nShort answer.",
    };
    for (size_t k = 0; k < sizeof outs / sizeof *outs; k++) {
        qwen3_err err = {0};
        qwen3_chat_parser *p = qwen3_chat_parse(outs[k], strlen(outs[k]), 0, &err);
        qwen3_chat_result r;
        qwen3_chat_parser_result(p, &r);
        qwen3_chat_tool_call tc[3];
        for (int i = 0; i < r.n_calls && i < 3; i++) tc[i] = (qwen3_chat_tool_call){r.calls[i].name, r.calls[i].arguments};
        qwen3_chat_msg m[2] = {{"user", "q", NULL, NULL, 0}, {"assistant", r.content, r.reasoning, tc, r.n_calls}};
        size_t n;
        char *prompt = qwen3_chat_render(QWEN3_CHAT_QWEN3, m, 2, NULL, 0, NULL, &n, &err);
        char want[2048];
        snprintf(want, sizeof want, "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n%s<|im_end|>\n", outs[k]);
        char name[64];
        snprintf(name, sizeof name, "chat_parse_render_round_trip_%zu", k);
        CHECK(prompt && !strcmp(prompt, want), name, "got '%s'", prompt ? prompt : err.msg);
        free(prompt);
        qwen3_chat_parser_free(p);
    }
}

int main(void) {
    TEST_EXPECT(111);
    test_cases();
    test_no_holding();
    test_guess();
    test_round_trip();
    return test_exit();
}
