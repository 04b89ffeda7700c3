/* render.c - messages + tools -> prompt text, the Qwen3 chat templates' logic in C.
 *
 * Each step below mirrors a line of the official template (tokenizer_config.json of Qwen/Qwen3-0.6B;
 * quoted in the comments) and reproduces Python's string semantics where the template relies on them
 * (split, strip, startswith). The 2507 variants differ only where noted (see template.c). The result
 * is byte-identical to transformers' apply_chat_template(..., tokenize=False); tests/ref/chat_ref.py
 * and tests/suite/chat_render.sh check that on the cases in tests/data/chat/.
 *
 * Where Jinja would fail (no messages, a leading system message whose content is not a string) we
 * fail too; where Jinja would print something meaningless (a tool call without a name, arguments that
 * are not a JSON object, an unknown role that it silently skips) we refuse with an error that names
 * the message index and the field, since such a prompt cannot be what the caller meant. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "chat/pyjson.h"
#include "qwen3.h"

typedef struct span {
    const char *p;
    size_t n;
} span;

static span sp(const char *s) { return (span){s, s ? strlen(s) : 0}; }

/* Python str.find for a byte pattern; -1 when absent. */
static long sp_find(span s, const char *pat) {
    size_t m = strlen(pat);
    for (size_t i = 0; m <= s.n && i + m <= s.n; i++)
        if (!memcmp(s.p + i, pat, m)) return (long)i;
    return -1;
}
static long sp_rfind(span s, const char *pat) {
    size_t m = strlen(pat);
    if (m > s.n) return -1;
    for (size_t i = s.n - m + 1; i-- > 0;)
        if (!memcmp(s.p + i, pat, m)) return (long)i;
    return -1;
}
static span sp_lstrip_nl(span s) {
    while (s.n && *s.p == '\n') s.p++, s.n--;
    return s;
}
static span sp_rstrip_nl(span s) {
    while (s.n && s.p[s.n - 1] == '\n') s.n--;
    return s;
}
static int sp_starts(span s, const char *pat) {
    size_t m = strlen(pat);
    return s.n >= m && !memcmp(s.p, pat, m);
}
static int sp_ends(span s, const char *pat) {
    size_t m = strlen(pat);
    return s.n >= m && !memcmp(s.p + s.n - m, pat, m);
}
static void put(sbuf *b, span s) { sb_put(b, s.p, s.n); }

static int role_known(const char *r) {
    return r && (!strcmp(r, "system") || !strcmp(r, "user") || !strcmp(r, "assistant") || !strcmp(r, "tool"));
}

/* Checks what the template needs before anything is written, so errors come before output. */
static int validate(qwen3_chat_kind kind, const qwen3_chat_msg *m, int n, qwen3_err *err) {
    if ((unsigned)kind >= QWEN3_CHAT_KIND_COUNT) return qerr(err, "chat template kind %d is not one we implement", (int)kind);
    if (n <= 0 || !m) return qerr(err, "messages: empty; the chat template needs at least one message");
    for (int i = 0; i < n; i++) {
        if (!m[i].role) return qerr(err, "messages[%d].role: missing", i);
        if (!role_known(m[i].role))
            return qerr(err, "messages[%d].role: unknown role '%.64s' (expected system, user, assistant or tool)", i,
                        m[i].role);
        if (m[i].n_tool_calls < 0 || (m[i].n_tool_calls > 0 && !m[i].tool_calls))
            return qerr(err, "messages[%d].tool_calls: bad count %d", i, m[i].n_tool_calls);
        if (strcmp(m[i].role, "assistant")) continue; /* the template reads tool_calls of assistants only */
        for (int j = 0; j < m[i].n_tool_calls; j++) {
            const qwen3_chat_tool_call *tc = &m[i].tool_calls[j];
            if (!tc->name) return qerr(err, "messages[%d].tool_calls[%d].name: missing", i, j);
            if (!tc->arguments) return qerr(err, "messages[%d].tool_calls[%d].arguments: missing", i, j);
            json_error_t je;
            json_t *a = json_loads(tc->arguments, 0, &je);
            int ok = json_is_object(a);
            json_decref(a);
            if (!ok)
                return qerr(err, "messages[%d].tool_calls[%d].arguments: expected a JSON object, got '%.80s'%s%s", i, j,
                            tc->arguments, a ? "" : ": ", a ? "" : je.text);
        }
    }
    /* {{- messages[0].content + '\n\n' }}: Jinja fails on a non-string (TypeError / UndefinedError) */
    if (!strcmp(m[0].role, "system") && !m[0].content)
        return qerr(err, "messages[0].content: a leading system message needs string content (null or a list cannot "
                         "be rendered by the Qwen3 template)");
    return 0;
}

/* The system turn: "{%- if tools %} ... {%- else %} ... {%- endif %}". */
static void render_system(sbuf *b, const qwen3_chat_msg *m, json_t *const *tools, int n_tools) {
    int lead_sys = !strcmp(m[0].role, "system");
    if (n_tools > 0) {
        sb_puts(b, "<|im_start|>system\n");
        if (lead_sys) {
            sb_puts(b, m[0].content);
            sb_puts(b, "\n\n");
        }
        sb_puts(b, "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                   "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        for (int i = 0; i < n_tools; i++) {
            sb_putc(b, '\n');
            pyjson_dump(b, tools[i]); /* {{- tool | tojson }} */
        }
        sb_puts(b, "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                   "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
                   "<args-json-object>}\n</tool_call><|im_end|>\n");
    } else if (lead_sys) {
        sb_puts(b, "<|im_start|>system\n");
        sb_puts(b, m[0].content);
        sb_puts(b, "<|im_end|>\n");
    }
}

/* ns.last_query_index: the last user message whose content is a string that is not a wrapped tool
 * response ("<tool_response>...</tool_response>"); the last index when there is none. */
static int last_query_index(const qwen3_chat_msg *m, int n) {
    for (int i = n - 1; i >= 0; i--) {
        if (strcmp(m[i].role, "user") || !m[i].content) continue;
        span c = sp(m[i].content);
        if (!(sp_starts(c, "<tool_response>") && sp_ends(c, "</tool_response>"))) return i;
    }
    return n - 1;
}

static void render_assistant(sbuf *b, qwen3_chat_kind kind, const qwen3_chat_msg *msg, int idx, int last,
                             int lqi) {
    span content = sp(msg->content); /* null / list -> '' */
    span reasoning = {"", 0};
    if (msg->reasoning_content) {
        reasoning = sp(msg->reasoning_content);
    } else if (sp_find(content, "</think>") >= 0) {
        /* content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') */
        span head = {content.p, (size_t)sp_find(content, "</think>")};
        head = sp_rstrip_nl(head);
        long o = sp_rfind(head, "<think>");
        if (o >= 0) head = (span){head.p + o + 7, head.n - (size_t)o - 7};
        reasoning = sp_lstrip_nl(head);
        /* content.split('</think>')[-1].lstrip('\n') */
        long c = sp_rfind(content, "</think>");
        content = sp_lstrip_nl((span){content.p + c + 8, content.n - (size_t)c - 8});
    }
    /* hybrid / thinking: "loop.last or reasoning_content"; instruct-2507: "reasoning_content" */
    int think_block = idx > lqi && (reasoning.n > 0 || (last && kind != QWEN3_CHAT_INSTRUCT_2507));
    sb_puts(b, "<|im_start|>assistant\n");
    if (think_block) {
        sb_puts(b, "<think>\n");
        put(b, sp_rstrip_nl(sp_lstrip_nl(reasoning))); /* reasoning_content.strip('\n') */
        sb_puts(b, "\n</think>\n\n");
        put(b, sp_lstrip_nl(content));
    } else {
        put(b, content);
    }
    for (int j = 0; j < msg->n_tool_calls; j++) {
        /* "(loop.first and content) or (not loop.first)": content as set above, before the lstrip */
        if (j > 0 || content.n) sb_putc(b, '\n');
        sb_puts(b, "<tool_call>\n{\"name\": \"");
        sb_puts(b, msg->tool_calls[j].name);
        sb_puts(b, "\", \"arguments\": ");
        sb_puts(b, msg->tool_calls[j].arguments);
        sb_puts(b, "}\n</tool_call>");
    }
    sb_puts(b, "<|im_end|>\n");
}

char *chat_render(qwen3_chat_kind kind, const qwen3_chat_msg *m, int n, json_t *const *tools, int n_tools,
                  const qwen3_chat_opts *opts, size_t *len, qwen3_err *err) {
    qwen3_chat_opts o = opts ? *opts : (qwen3_chat_opts){0, 1};
    if (validate(kind, m, n, err)) return NULL;
    sbuf b = {0};
    render_system(&b, m, tools, n_tools);
    int lqi = last_query_index(m, n);
    for (int i = 0; i < n; i++) {
        const char *role = m[i].role;
        span content = sp(m[i].content);
        if (!strcmp(role, "user") || (!strcmp(role, "system") && i > 0)) {
            sb_puts(&b, "<|im_start|>");
            sb_puts(&b, role);
            sb_putc(&b, '\n');
            put(&b, content);
            sb_puts(&b, "<|im_end|>\n");
        } else if (!strcmp(role, "assistant")) {
            render_assistant(&b, kind, &m[i], i, i == n - 1, lqi);
        } else if (!strcmp(role, "tool")) {
            /* consecutive tool results share one user turn */
            if (i == 0 || strcmp(m[i - 1].role, "tool")) sb_puts(&b, "<|im_start|>user");
            sb_puts(&b, "\n<tool_response>\n");
            put(&b, content);
            sb_puts(&b, "\n</tool_response>");
            if (i == n - 1 || strcmp(m[i + 1].role, "tool")) sb_puts(&b, "<|im_end|>\n");
        }
    }
    if (o.add_generation_prompt) {
        sb_puts(&b, "<|im_start|>assistant\n");
        if (kind == QWEN3_CHAT_THINKING_2507) sb_puts(&b, "<think>\n");
        /* "enable_thinking is defined and enable_thinking is false" */
        if (kind == QWEN3_CHAT_QWEN3 && !o.enable_thinking) sb_puts(&b, "<think>\n\n</think>\n\n");
    }
    char *s = sb_take(&b, len);
    if (!s) qerr(err, "out of memory rendering the prompt");
    return s;
}

char *qwen3_chat_render(qwen3_chat_kind kind, const qwen3_chat_msg *m, int n, const char *const *tools, int n_tools,
                        const qwen3_chat_opts *opts, size_t *len, qwen3_err *err) {
    if (n_tools < 0 || (n_tools > 0 && !tools)) return qerr(err, "tools: bad count %d", n_tools), NULL;
    json_t **tj = n_tools ? calloc((size_t)n_tools, sizeof *tj) : NULL;
    if (n_tools && !tj) return qerr(err, "out of memory"), NULL;
    char *out = NULL;
    int i = 0;
    for (; i < n_tools; i++) {
        json_error_t je;
        tj[i] = tools[i] ? json_loads(tools[i], 0, &je) : NULL;
        if (!json_is_object(tj[i])) {
            if (!tools[i]) qerr(err, "tools[%d]: missing", i);
            else if (!tj[i]) qerr(err, "tools[%d]: not JSON: %s", i, je.text);
            else qerr(err, "tools[%d]: expected a JSON object", i);
            break;
        }
    }
    if (i == n_tools) out = chat_render(kind, m, n, tj, n_tools, opts, len, err);
    for (int k = 0; k < n_tools; k++) json_decref(tj[k]);
    free(tj);
    return out;
}

int qwen3_chat_prompt_opens_think(const char *prompt, size_t len) {
    span s = {prompt, len};
    long open = sp_rfind(s, "<think>");
    if (open < 0) return 0;
    span tail = {prompt + open, len - (size_t)open};
    return sp_find(tail, "</think>") < 0 && sp_find(tail, "<|im_start|>") < 0 && sp_find(tail, "<|im_end|>") < 0;
}
