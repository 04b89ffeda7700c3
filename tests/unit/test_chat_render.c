/* test_chat_render.c - the chat renderer's C API (the byte-for-byte comparison with Jinja2 is in
 * tests/suite/chat_render.sh): struct messages give the same prompt as the JSON request, errors name
 * the message index and field, Python float repr and string escapes, kind names, and template
 * identification of texts that are not ours. */
#include <stdlib.h>
#include <string.h>

#include "chat/pyjson.h"
#include "qwen3.h"
#include "test.h"

static void test_struct_vs_json(void) {
    qwen3_chat_tool_call tc[2] = {{"get_weather", "{\"city\": \"Paris\"}"}, {"search", "{\"q\":\"x\"}"}};
    qwen3_chat_msg m[5] = {
        {"system", "Be brief.", NULL, NULL, 0},
        {"user", "Weather?", NULL, NULL, 0},
        {"assistant", "", "need tools", tc, 2},
        {"tool", "21", NULL, NULL, 0},
        {"tool", "results", NULL, NULL, 0},
    };
    const char *tools[] = {"{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"x\":1.50}}}"};
    qwen3_chat_opts o = {1, 0};
    qwen3_err err = {0};
    size_t n1 = 0, n2 = 0;
    char *a = qwen3_chat_render(QWEN3_CHAT_QWEN3, m, 5, tools, 1, &o, &n1, &err);
    const char *req =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Weather?\"},"
        "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"need tools\", \"tool_calls\": ["
        "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}},"
        "{\"name\": \"search\", \"arguments\": \"{\\\"q\\\":\\\"x\\\"}\"}]},"
        "{\"role\": \"tool\", \"content\": \"21\"}, {\"role\": \"tool\", \"content\": \"results\"}],"
        "\"tools\": [{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"x\":1.50}}}],"
        "\"add_generation_prompt\": true, \"enable_thinking\": false, \"model\": \"ignored\"}";
    char *b = qwen3_chat_render_json(QWEN3_CHAT_QWEN3, req, strlen(req), &n2, &err);
    CHECK(a && b && n1 == n2 && !memcmp(a, b, n1), "chat_render_struct_equals_json", "%s", a && b ? "differ" : err.msg);
    CHECK(a && strstr(a, "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"x\": 1.5}}}"),
          "chat_render_tools_as_json_dumps", "%s", a ? a : err.msg);
    CHECK(a && strstr(a, "<|im_start|>assistant\n<think>\nneed tools\n</think>\n\n<tool_call>\n"),
          "chat_render_reasoning_after_last_query_kept", "%s", a ? a : "");
    CHECK(a && strstr(a, "<|im_start|>user\n<tool_response>\n21\n</tool_response>\n<tool_response>\nresults\n</tool_response>"
                         "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"),
          "chat_render_tool_responses_grouped", "%s", a ? a : "");
    CHECK(a && n1 == strlen(a), "chat_render_length", "%zu vs %zu", n1, a ? strlen(a) : 0);
    free(a);
    free(b);
}

static void expect_error(const char *name, qwen3_chat_kind k, const qwen3_chat_msg *m, int n, const char *const *tools,
                         int nt, const char *want) {
    qwen3_err err = {0};
    char *p = qwen3_chat_render(k, m, n, tools, nt, NULL, NULL, &err);
    CHECK(!p && strstr(err.msg, want), name, "got %s", p ? p : err.msg);
    free(p);
}

static void test_errors(void) {
    qwen3_chat_msg bad_role[2] = {{"user", "x", NULL, NULL, 0}, {"developer", "y", NULL, NULL, 0}};
    expect_error("chat_render_err_role", QWEN3_CHAT_QWEN3, bad_role, 2, NULL, 0, "messages[1].role: unknown role 'developer'");
    qwen3_chat_msg no_role[1] = {{NULL, "x", NULL, NULL, 0}};
    expect_error("chat_render_err_no_role", QWEN3_CHAT_QWEN3, no_role, 1, NULL, 0, "messages[0].role: missing");
    qwen3_chat_tool_call tc[1] = {{"f", "[1]"}};
    qwen3_chat_msg bad_args[2] = {{"user", "x", NULL, NULL, 0}, {"assistant", "", NULL, tc, 1}};
    expect_error("chat_render_err_args", QWEN3_CHAT_QWEN3, bad_args, 2, NULL, 0,
                 "messages[1].tool_calls[0].arguments: expected a JSON object");
    qwen3_chat_tool_call tc2[1] = {{NULL, "{}"}};
    qwen3_chat_msg no_name[2] = {{"user", "x", NULL, NULL, 0}, {"assistant", "", NULL, tc2, 1}};
    expect_error("chat_render_err_name", QWEN3_CHAT_QWEN3, no_name, 2, NULL, 0, "messages[1].tool_calls[0].name: missing");
    qwen3_chat_msg sys_null[2] = {{"system", NULL, NULL, NULL, 0}, {"user", "x", NULL, NULL, 0}};
    expect_error("chat_render_err_system_null", QWEN3_CHAT_QWEN3, sys_null, 2, NULL, 0, "messages[0].content");
    expect_error("chat_render_err_empty", QWEN3_CHAT_QWEN3, sys_null, 0, NULL, 0, "messages: empty");
    const char *tools[] = {"[1]"};
    expect_error("chat_render_err_tool", QWEN3_CHAT_QWEN3, bad_role, 1, tools, 1, "tools[0]: expected a JSON object");
    expect_error("chat_render_err_kind", (qwen3_chat_kind)7, bad_role, 1, NULL, 0, "kind 7");
}

static void test_repr(void) {
    static const struct {
        double x;
        const char *py; /* repr(x) from CPython 3.11 */
    } t[] = {
        {1.0, "1.0"}, {0.1, "0.1"}, {-0.0, "-0.0"}, {0.0, "0.0"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
        {123456789012345678.0, "1.2345678901234568e+17"}, {0.0001, "0.0001"}, {0.00001, "1e-05"}, {1.5e-7, "1.5e-07"},
        {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}, {2.5, "2.5"}, {100.0, "100.0"},
        {1.0 / 3, "0.3333333333333333"}, {2.0 / 3, "0.6666666666666666"}, {9007199254740993.0, "9007199254740992.0"},
        {1e22, "1e+22"}, {1e21, "1e+21"}, {123.456, "123.456"}, {-1e-10, "-1e-10"}, {0.3, "0.3"},
        {0x1p-1000, "9.332636185032189e-302"}, {0x1p+1000, "1.0715086071862673e+301"}, {0x1p-149, "1.401298464324817e-45"},
    };
    int bad = -1;
    char out[64];
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        pyjson_repr_double(t[i].x, out, sizeof out);
        if (strcmp(out, t[i].py)) bad = (int)i;
    }
    if (bad >= 0) pyjson_repr_double(t[bad].x, out, sizeof out);
    CHECK(bad < 0, "chat_pyjson_float_repr", "%s, want %s", bad >= 0 ? out : "", bad >= 0 ? t[bad].py : "");
    sbuf b = {0};
    const char *raw = "a\"\\\n\r\t\b\f\x01\x1f\x7f/\xc3\xa9";
    pyjson_string(&b, raw, strlen(raw));
    CHECK(b.s && !strcmp(b.s, "\"a\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/\xc3\xa9\""), "chat_pyjson_string_escapes", "%s", b.s);
    sb_free(&b);
}

static void test_kinds(void) {
    int ok = 1;
    for (int k = 0; k < QWEN3_CHAT_KIND_COUNT; k++)
        if (qwen3_chat_kind_parse(qwen3_chat_kind_name((qwen3_chat_kind)k)) != k) ok = 0;
    CHECK(ok && qwen3_chat_kind_parse("chatml") == -1 && !qwen3_chat_kind_name(QWEN3_CHAT_KIND_COUNT), "chat_kind_names",
          "round trip failed");
    const char *chatml = "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}"
                         "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    CHECK(qwen3_chat_template_identify(chatml, strlen(chatml)) == -1 && qwen3_chat_template_identify("", 0) == -1 &&
              qwen3_chat_template_identify("{{", 2) == -1,
          "chat_identify_foreign", "a foreign template was taken for ours");
}

/* qwen3_chat_thinks, the one owner of "does this template think": its table as the header states
 * it, and never against what a rendered prompt forces (a pre-filled empty think block: no; a prompt
 * that leaves "<think>" open: yes). */
static void test_thinks(void) {
    static const int want[QWEN3_CHAT_KIND_COUNT][2] = {
        [QWEN3_CHAT_QWEN3] = {0, 1}, [QWEN3_CHAT_INSTRUCT_2507] = {0, 0}, [QWEN3_CHAT_THINKING_2507] = {1, 1}};
    int table = 1, consistent = 1;
    for (int k = 0; k < QWEN3_CHAT_KIND_COUNT; k++)
        for (int en = 0; en < 2; en++) {
            int t = qwen3_chat_thinks((qwen3_chat_kind)k, en);
            if (t != want[k][en]) table = 0;
            qwen3_chat_msg msg = {.role = "user", .content = "hi"};
            qwen3_chat_opts co = {1, en};
            qwen3_err e = {0};
            size_t len = 0;
            char *p = qwen3_chat_render((qwen3_chat_kind)k, &msg, 1, NULL, 0, &co, &len, &e);
            if (!p) { consistent = 0; continue; }
            int closed = len >= 19 && !strcmp(p + len - 19, "<think>\n\n</think>\n\n");
            if ((closed && t) || (qwen3_chat_prompt_opens_think(p, len) && !t)) consistent = 0;
            free(p);
        }
    CHECK(table, "chat_thinks_table", "qwen3_chat_thinks differs from its documented table");
    CHECK(consistent, "chat_thinks_matches_rendering", "a prompt forces the other mode than qwen3_chat_thinks says");
}

int main(void) {
    TEST_EXPECT(19);
    test_struct_vs_json();
    test_errors();
    test_repr();
    test_kinds();
    test_thinks();
    return test_exit();
}
