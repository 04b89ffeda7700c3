/* test_serve_respond.c - the server's response builder fed scripted generations: what a random
 * checkpoint cannot produce (tool calls, reasoning then content, broken markup, multi-byte
 * characters cut anywhere) must come out in OpenAI's shapes, streamed and whole. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/json.h"
#include "server/respond.h"
#include "test.h"

/* Parses an SSE body into its data payloads; returns the count, or -1 when a line is malformed. */
static int sse_events(const char *s, json_t **ev, int max, int *done) {
    int n = 0;
    *done = 0;
    while (*s) {
        const char *end = strstr(s, "\n\n");
        if (!end || strncmp(s, "data: ", 6)) return -1;
        if (!strncmp(s + 6, "[DONE]", 6)) { *done = 1; s = end + 2; continue; }
        if (*done || n == max) return -1;
        json_error_t je;
        ev[n] = json_loadb(s + 6, (size_t)(end - s - 6), 0, &je);
        if (!ev[n]) return -1;
        n++;
        s = end + 2;
    }
    return n;
}

typedef struct collected {
    sbuf reasoning, content, args[4];
    char names[4][64], ids[4][64];
    int n_calls, roles, finishes, usage_chunks, bad;
    char finish[32];
} collected;

static void collect(json_t **ev, int n, collected *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < n; i++) {
        json_t *ch = json_object_get(ev[i], "choices");
        if (json_object_get(ev[i], "usage") && json_is_object(json_object_get(ev[i], "usage"))) {
            c->usage_chunks++;
            if (json_array_size(ch) != 0) c->bad++;
            continue;
        }
        json_t *c0 = json_array_get(ch, 0);
        json_t *d = json_object_get(c0, "delta");
        json_t *fr = json_object_get(c0, "finish_reason");
        if (json_is_string(fr)) { c->finishes++; snprintf(c->finish, sizeof c->finish, "%s", json_string_value(fr)); }
        if (json_object_get(d, "role")) c->roles++;
        json_t *v;
        if ((v = json_object_get(d, "reasoning_content"))) sb_puts(&c->reasoning, json_string_value(v));
        if ((v = json_object_get(d, "content"))) sb_puts(&c->content, json_string_value(v));
        json_t *tcs = json_object_get(d, "tool_calls");
        for (size_t k = 0; k < json_array_size(tcs); k++) {
            json_t *tc = json_array_get(tcs, k);
            int idx = (int)json_integer_value(json_object_get(tc, "index"));
            if (idx < 0 || idx > 3) { c->bad++; continue; }
            if (idx + 1 > c->n_calls) c->n_calls = idx + 1;
            json_t *fn = json_object_get(tc, "function");
            if (json_object_get(tc, "id")) {
                snprintf(c->ids[idx], 64, "%s", json_string_value(json_object_get(tc, "id")));
                if (strcmp(json_string_value(json_object_get(tc, "type")), "function")) c->bad++;
                snprintf(c->names[idx], 64, "%s", json_string_value(json_object_get(fn, "name")));
            }
            const char *a = json_string_value(json_object_get(fn, "arguments"));
            if (a) sb_puts(&c->args[idx], a);
        }
    }
}

static void collected_free(collected *c) {
    sb_free(&c->reasoning);
    sb_free(&c->content);
    for (int i = 0; i < 4; i++) sb_free(&c->args[i]);
}

/* The functions a request declares in most cases below. */
static const char *const DECLARED[] = {"get_weather", "get_time", "f"};

/* Runs a scripted generation through the builder, fed in pieces of `step` bytes; tools[n_tools]:
 * the functions the request declared. */
static int run_tools(const char *text, size_t step, int stream, int in_think, const char *const *tools, int n_tools,
                     qwen3_finish f, sbuf *out, char **body) {
    srv_resp r;
    qwen3_err e = {0};
    if (srv_resp_init(&r, 1, stream, 1, in_think, tools, n_tools, "m", &e)) return -1;
    srv_resp_start(&r, out);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        if (srv_resp_feed(&r, text + i, k, out, &e)) { srv_resp_free(&r); return -1; }
    }
    qwen3_gen_stats st = {.prompt_tokens = 10, .cached_tokens = 4, .generated_tokens = 7, .thinking_tokens = 3};
    if (srv_resp_finish(&r, f, &st, out, &e)) { srv_resp_free(&r); return -1; }
    if (body) *body = srv_resp_body(&r, f, &st, NULL);
    srv_resp_free(&r);
    return 0;
}

/* calls_as_content: the request declared no tools (tool_choice "none" renders none). */
static int run(const char *text, size_t step, int stream, int in_think, int calls_as_content, qwen3_finish f,
               sbuf *out, char **body) {
    return run_tools(text, step, stream, in_think, DECLARED, calls_as_content ? 0 : 3, f, out, body);
}

static const char *TOOLS =
    "<think>\nI should call the tool.\n</think>\n\nLet me check.\n<tool_call>\n"
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"\xC2\xB0" "C\"}}\n</tool_call>\n"
    "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";

static void test_tool_stream(size_t step) {
    sbuf out = {0};
    char name[96];
    int rc = run(TOOLS, step, 1, 0, 0, QWEN3_FINISH_STOP, &out, NULL);
    json_t *ev[256];
    int done = 0, n = rc ? -1 : sse_events(out.s, ev, 256, &done);
    snprintf(name, sizeof name, "respond_stream_sse_step%zu", step);
    CHECK(n > 0 && done, name, "rc %d, %d events, done %d:\n%s", rc, n, done, out.s ? out.s : "");
    if (n <= 0) { sb_free(&out); return; }
    collected c;
    collect(ev, n, &c);
    snprintf(name, sizeof name, "respond_stream_parts_step%zu", step);
    CHECK(c.roles == 1 && c.finishes == 1 && !strcmp(c.finish, "tool_calls") && c.usage_chunks == 1 && !c.bad, name,
          "roles %d finishes %d (%s) usage %d bad %d", c.roles, c.finishes, c.finish, c.usage_chunks, c.bad);
    snprintf(name, sizeof name, "respond_stream_reasoning_step%zu", step);
    CHECK(c.reasoning.s && !strcmp(c.reasoning.s, "I should call the tool."), name, "reasoning [%s]", c.reasoning.s);
    snprintf(name, sizeof name, "respond_stream_content_step%zu", step);
    CHECK(c.content.s && !strcmp(c.content.s, "Let me check."), name, "content [%s]", c.content.s);
    snprintf(name, sizeof name, "respond_stream_calls_step%zu", step);
    CHECK(c.n_calls == 2 && !strcmp(c.names[0], "get_weather") && !strcmp(c.names[1], "get_time") &&
              !strncmp(c.ids[0], "call_", 5) && strcmp(c.ids[0], c.ids[1]) && c.args[0].s &&
              !strcmp(c.args[0].s, "{\"city\": \"Paris\", \"unit\": \"\xC2\xB0" "C\"}") && c.args[1].s &&
              !strcmp(c.args[1].s, "{}"),
          name, "%d calls: %s(%s) %s(%s) ids %s %s", c.n_calls, c.names[0], c.args[0].s, c.names[1], c.args[1].s,
          c.ids[0], c.ids[1]);
    /* the last event before [DONE] is the usage chunk, with choices [] */
    json_t *u = json_object_get(ev[n - 1], "usage");
    snprintf(name, sizeof name, "respond_stream_usage_step%zu", step);
    CHECK(json_integer_value(json_object_get(u, "total_tokens")) == 17 &&
              json_integer_value(json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens")) == 4 &&
              json_integer_value(json_object_get(json_object_get(u, "completion_tokens_details"), "reasoning_tokens")) == 3,
          name, "usage wrong");
    collected_free(&c);
    for (int i = 0; i < n; i++) json_decref(ev[i]);
    sb_free(&out);
}

static void test_tool_body(void) {
    char *body = NULL;
    int rc = run(TOOLS, 5, 0, 0, 0, QWEN3_FINISH_STOP, NULL, &body);
    json_error_t je;
    json_t *b = rc ? NULL : json_loads(body, 0, &je);
    json_t *c0 = json_array_get(json_object_get(b, "choices"), 0);
    json_t *m = json_object_get(c0, "message");
    json_t *tc = json_object_get(m, "tool_calls");
    json_t *t0 = json_array_get(tc, 0);
    json_t *fn = json_object_get(t0, "function");
    CHECK(b && !strcmp(json_string_value(json_object_get(b, "object")), "chat.completion") &&
              !strcmp(json_string_value(json_object_get(c0, "finish_reason")), "tool_calls") &&
              json_array_size(tc) == 2 && !strcmp(json_string_value(json_object_get(t0, "type")), "function") &&
              !strncmp(json_string_value(json_object_get(t0, "id")), "call_", 5) &&
              !strcmp(json_string_value(json_object_get(fn, "name")), "get_weather") &&
              json_is_string(json_object_get(fn, "arguments")) &&
              !strcmp(json_string_value(json_object_get(m, "content")), "Let me check.") &&
              !strcmp(json_string_value(json_object_get(m, "reasoning_content")), "I should call the tool."),
          "respond_body_tool_calls", "%s", body ? body : "(none)");
    /* the arguments string is itself JSON the client can parse */
    json_t *args = json_loads(json_string_value(json_object_get(fn, "arguments")), 0, &je);
    CHECK(args && !strcmp(json_string_value(json_object_get(args, "city")), "Paris"), "respond_body_arguments_json",
          "arguments %s", json_string_value(json_object_get(fn, "arguments")));
    json_decref(args);
    json_decref(b);
    free(body);
}

/* tool_choice "none": a call written anyway stays content, and the finish is "stop". */
static void test_calls_as_content(void) {
    char *body = NULL;
    run("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>", 3, 0, 0, 1, QWEN3_FINISH_STOP, NULL, &body);
    json_error_t je;
    json_t *b = body ? json_loads(body, 0, &je) : NULL;
    json_t *c0 = json_array_get(json_object_get(b, "choices"), 0);
    json_t *m = json_object_get(c0, "message");
    const char *content = json_string_value(json_object_get(m, "content"));
    CHECK(content && strstr(content, "<tool_call>") && strstr(content, "\"name\": \"f\"") &&
              !json_object_get(m, "tool_calls") && !strcmp(json_string_value(json_object_get(c0, "finish_reason")), "stop"),
          "respond_tool_choice_none_keeps_text", "%s", body ? body : "(none)");
    json_decref(b);
    free(body);
}

/* A call to a function the request did not declare (other tools declared, or none) stays text in
 * content, whole and streamed; a declared one beside it is still a call. */
static void test_undeclared_calls(void) {
    static const char *text = "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {\"path\": \"/\"}}\n</tool_call>\n"
                              "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}\n</tool_call>";
    static const char *const search[] = {"search"};
    for (int k = 0; k < 3; k++) { /* k 0: search declared; 1: only get_weather; 2: no tools */
        const char *const *tools = k == 0 ? search : DECLARED;
        int n_tools = k == 0 ? 1 : k == 1 ? 1 : 0;
        char *body = NULL, name[64];
        sbuf out = {0};
        int rc = run_tools(text, 4, 0, 0, tools, n_tools, QWEN3_FINISH_STOP, NULL, &body) ||
                 run_tools(text, 3, 1, 0, tools, n_tools, QWEN3_FINISH_STOP, &out, NULL);
        json_error_t je;
        json_t *b = body ? json_loads(body, 0, &je) : NULL;
        json_t *c0 = json_array_get(json_object_get(b, "choices"), 0);
        json_t *m = json_object_get(c0, "message");
        json_t *tc = json_object_get(m, "tool_calls");
        const char *content = json_string_value(json_object_get(m, "content"));
        const char *fin = json_string_value(json_object_get(c0, "finish_reason"));
        json_t *ev[64];
        int done = 0, n = rc ? -1 : sse_events(out.s, ev, 64, &done);
        collected c;
        memset(&c, 0, sizeof c);
        if (n > 0) collect(ev, n, &c);
        int ok = !rc && content && strstr(content, "\"name\": \"rm_rf\"") && strstr(content, "<tool_call>") && n > 0 &&
                 c.content.s && strstr(c.content.s, "\"name\": \"rm_rf\"");
        if (k == 0)
            ok = ok && json_array_size(tc) == 1 && !strcmp(fin, "tool_calls") && c.n_calls == 1 &&
                 !strcmp(c.names[0], "search") &&
                 !strcmp(json_string_value(json_object_get(json_object_get(json_array_get(tc, 0), "function"), "name")), "search");
        else
            ok = ok && !tc && !strcmp(fin, "stop") && c.n_calls == 0 && strstr(content, "\"name\": \"search\"") &&
                 !strcmp(c.finish, "stop");
        snprintf(name, sizeof name, "respond_undeclared_call_%s", k == 0 ? "other_declared" : k == 1 ? "wrong_tools" : "no_tools");
        CHECK(ok, name, "rc %d body %s", rc, body ? body : "(none)");
        if (n > 0) { collected_free(&c); for (int i = 0; i < n; i++) json_decref(ev[i]); }
        sb_free(&out);
        json_decref(b);
        free(body);
    }
}

/* Output that does not parse stays content, raw: broken call JSON, stray tags, an unclosed call. */
static void test_unparsable(void) {
    static const char *cases[] = {
        "<tool_call>\n{\"name\": broken}\n</tool_call>",
        "stray </tool_call> and <|im_start|> tokens",
        "text <tool_call>\n{\"name\": \"f\", \"arguments\": {",
    };
    for (int i = 0; i < 3; i++) {
        char *body = NULL, name[64];
        int rc = run(cases[i], 2, 0, 0, 0, QWEN3_FINISH_LENGTH, NULL, &body);
        json_error_t je;
        json_t *b = body ? json_loads(body, 0, &je) : NULL;
        json_t *c0 = json_array_get(json_object_get(b, "choices"), 0);
        json_t *m = json_object_get(c0, "message");
        const char *content = json_string_value(json_object_get(m, "content"));
        snprintf(name, sizeof name, "respond_unparsable_%d", i);
        CHECK(!rc && content && !json_object_get(m, "tool_calls") &&
                  !strcmp(json_string_value(json_object_get(c0, "finish_reason")), "length") &&
                  strlen(content) >= strlen(cases[i]) - 2,
              name, "rc %d body %s", rc, body ? body : "(none)");
        json_decref(b);
        free(body);
    }
}

/* Multi-byte characters fed one byte at a time: no chunk carries half a character (each event is
 * valid JSON with no U+FFFD), and the pieces add up to the text. */
static void test_utf8(void) {
    const char *text = "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 caf\xC3\xA9";
    sbuf out = {0};
    int rc = run(text, 1, 1, 0, 0, QWEN3_FINISH_STOP, &out, NULL);
    json_t *ev[64];
    int done = 0, n = rc ? -1 : sse_events(out.s, ev, 64, &done);
    collected c;
    if (n > 0) collect(ev, n, &c);
    CHECK(n > 0 && c.content.s && !strcmp(c.content.s, text) && !strstr(out.s, "\\ufffd") && !strstr(out.s, "\xEF\xBF\xBD"),
          "respond_utf8_whole_chars", "n %d content [%s]", n, n > 0 && c.content.s ? c.content.s : "");
    if (n > 0) { collected_free(&c); for (int i = 0; i < n; i++) json_decref(ev[i]); }
    sb_free(&out);
}

/* A prompt that opened <think> (Thinking-2507): the output starts as reasoning. */
static void test_in_think(void) {
    char *body = NULL;
    run("pondering\n</think>\n\nAnswer", 4, 0, 1, 0, QWEN3_FINISH_STOP, NULL, &body);
    json_error_t je;
    json_t *b = body ? json_loads(body, 0, &je) : NULL;
    json_t *m = json_object_get(json_array_get(json_object_get(b, "choices"), 0), "message");
    CHECK(b && !strcmp(json_string_value(json_object_get(m, "reasoning_content")), "pondering") &&
              !strcmp(json_string_value(json_object_get(m, "content")), "Answer"),
          "respond_in_think", "%s", body ? body : "(none)");
    json_decref(b);
    free(body);
}

/* Error bodies: OpenAI's shape, param and code null when not set. */
static void test_errors(void) {
    srv_error e;
    srv_bad(&e, "temperature", "'temperature' must be a number, got %s", "a string");
    char *s = srv_error_body(&e, NULL);
    CHECK(s && strstr(s, "\"message\":\"'temperature' must be a number, got a string\"") &&
              strstr(s, "\"param\":\"temperature\"") && strstr(s, "\"code\":null") &&
              strstr(s, "\"type\":\"invalid_request_error\"") && e.status == 400,
          "error_body_shape", "%s", s ? s : "(none)");
    free(s);
    json_t *o = json_loads("{\"a\": \"x\", \"b\": 2.5, \"c\": 3, \"d\": null, \"e\": true}", 0, NULL);
    long long v = 0;
    double d = 0;
    int bl = 0;
    CHECK(jx_int(o, "a", 0, 10, &v, &e) == -1 && !strcmp(e.param, "a") && jx_int(o, "c", 0, 10, &v, &e) == 1 && v == 3 &&
              jx_int(o, "c", 5, 10, &v, &e) == -1 && jx_int(o, "b", 0, 10, &v, &e) == -1 &&
              jx_num(o, "d", 0, 1, &d, &e) == 0 && jx_bool(o, "e", &bl, &e) == 1 && bl == 1 &&
              jx_bool(o, "c", &bl, &e) == -1 && jx_int(o, "zz", 0, 1, &v, &e) == 0,
          "jx_getters", "param %s", e.param);
    json_decref(o);
    json_t *bad = jx_string("a\xFF" "b", 3);
    CHECK(bad && !strcmp(json_string_value(bad), "a\xEF\xBF\xBD" "b"), "jx_string_repairs_utf8", "got %s",
          bad ? json_string_value(bad) : "(null)");
    json_decref(bad);
}

int main(void) {
    TEST_EXPECT(44);
    size_t steps[] = {1, 2, 3, 7, 1000};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) test_tool_stream(steps[i]);
    test_tool_body();
    test_calls_as_content();
    test_undeclared_calls();
    test_unparsable();
    test_utf8();
    test_in_think();
    test_errors();
    return test_exit();
}
