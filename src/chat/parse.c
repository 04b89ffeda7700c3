/* parse.c - generated text -> reasoning, content and tool calls, incrementally.
 *
 * The inverse of the template (render.c): an assistant turn is
 *     [<think>\n REASONING \n</think>\n\n] CONTENT [\n<tool_call>\n{"name": N, "arguments": A}\n</tool_call>]...
 * and Qwen3 models also open a tool call inside <think> at times, which must not be lost. The rules
 * are listed in include/qwen3.h (qwen3_chat_parser).
 *
 * Design: a byte-at-a-time state machine, so the result cannot depend on how the text was chunked.
 * Bytes that may still turn out to be a tag (or the newlines the template strips around one) wait in
 * `hold`; everything else is appended at once to the running reasoning / content. A delta is the new
 * part of those totals, cut back to a whole UTF-8 character. Tool calls are emitted whole when their
 * "</tool_call>" arrives, since only then is it known whether the JSON parses; a call that does not
 * parse goes back into the text it interrupted, byte for byte. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "chat/pyjson.h"
#include "qwen3.h"

enum { ST_START, ST_THINK, ST_CONTENT, ST_TOOL };

static const char TAG_THINK[] = "<think>", TAG_END_THINK[] = "</think>", TAG_CALL[] = "<tool_call>",
                  TAG_END_CALL[] = "</tool_call>";

struct qwen3_chat_parser {
    int state;
    int start_in_think; /* the prompt opened <think>: text before any tag is reasoning */
    int ret;            /* ST_THINK or ST_CONTENT: where a tool call returns to */
    int think_lead;     /* at the start of reasoning: newlines are dropped */
    int content_lead;   /* at the start of content: newlines are dropped */
    int after_call;     /* content right after a </tool_call>: whitespace waits */
    int finished;
    sbuf hold;          /* bytes that may still become a tag */
    sbuf tool;          /* the body of the open tool call */
    sbuf raw;           /* the text that opened it (what goes back if it does not parse) */
    sbuf reasoning, content;
    size_t r_sent, c_sent; /* bytes of reasoning / content handed out as deltas */
    qwen3_chat_call *calls;
    int n_calls, cap_calls, calls_sent;
};

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int tag_is(const char *s, size_t n, const char *tag) { return n == strlen(tag) && !memcmp(s, tag, n); }
static int tag_prefix(const char *s, size_t n, const char *tag) { return n < strlen(tag) && !memcmp(s, tag, n); }

static void drop(sbuf *h, size_t k) {
    memmove(h->s, h->s + k, h->len - k);
    h->len -= k;
    h->s[h->len] = 0;
}

static void emit(qwen3_chat_parser *p, int where, const char *s, size_t n) {
    if (!n) return;
    if (where == ST_THINK) {
        sb_put(&p->reasoning, s, n);
        p->think_lead = 0;
    } else {
        sb_put(&p->content, s, n);
        p->content_lead = 0;
    }
}

/* ---- tool calls ---- */

/* Index after the JSON value at s[i] (s is known to be valid JSON), or n. */
static size_t skip_value(const char *s, size_t n, size_t i) {
    int depth = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            if (!depth) return i + 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0) return i + 1;
        } else if (!depth && (c == ',' || is_ws(c))) {
            return i;
        }
    }
    return n;
}

/* The raw text of the last top-level "arguments" value of the object text s (valid JSON). */
static int find_arguments(const char *s, size_t n, size_t *at, size_t *len) {
    size_t i = 0;
    int found = 0;
    while (i < n && is_ws(s[i])) i++;
    if (i == n || s[i] != '{') return 0;
    i++;
    for (;;) {
        while (i < n && (is_ws(s[i]) || s[i] == ',')) i++;
        if (i >= n || s[i] != '"') return found;
        size_t k0 = i, k1 = skip_value(s, n, i);
        i = k1;
        while (i < n && (is_ws(s[i]) || s[i] == ':')) i++;
        size_t v0 = i, v1 = skip_value(s, n, i);
        if (k1 - k0 == 11 && !memcmp(s + k0, "\"arguments\"", 11)) {
            *at = v0;
            *len = v1 - v0;
            found = 1;
        }
        i = v1;
    }
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* Parses a tool call body; 1 and a new call on success, 0 when it is not a call (or no memory). */
static int add_call(qwen3_chat_parser *p, const char *s, size_t n) {
    while (n && is_ws(*s)) s++, n--;
    while (n && is_ws(s[n - 1])) n--;
    if (!n || *s != '{') return 0;
    json_error_t je;
    json_t *o = json_loadb(s, n, 0, &je);
    json_t *name = json_object_get(o, "name"), *args = json_object_get(o, "arguments");
    char *a = NULL;
    if (!json_is_string(name) || !json_string_length(name)) goto no;
    if (!args) {
        a = dup_n("{}", 2);
    } else if (json_is_object(args)) {
        size_t at, len;
        if (find_arguments(s, n, &at, &len)) {
            a = dup_n(s + at, len); /* as generated, so a re-rendered history matches the model's tokens */
        } else { /* the key was written with escapes: fall back to the template's own form */
            sbuf b = {0};
            pyjson_dump(&b, args);
            a = sb_take(&b, NULL);
        }
    } else if (json_is_string(args)) { /* a JSON object inside a string: accept its text */
        json_t *inner = json_loads(json_string_value(args), 0, &je);
        int ok = json_is_object(inner);
        json_decref(inner);
        if (!ok) goto no;
        a = dup_n(json_string_value(args), json_string_length(args));
    } else {
        goto no;
    }
    if (!a) goto no;
    if (p->n_calls == p->cap_calls) {
        int cap = p->cap_calls ? 2 * p->cap_calls : 4;
        qwen3_chat_call *c = realloc(p->calls, sizeof *c * (size_t)cap);
        if (!c) goto no;
        p->calls = c;
        p->cap_calls = cap;
    }
    char *nm = dup_n(json_string_value(name), json_string_length(name));
    if (!nm) goto no;
    p->calls[p->n_calls++] = (qwen3_chat_call){nm, a};
    json_decref(o);
    return 1;
no:
    free(a);
    json_decref(o);
    return 0;
}

static void end_tool(qwen3_chat_parser *p, int closed) {
    size_t body = p->tool.len - (closed ? strlen(TAG_END_CALL) : 0);
    if (add_call(p, p->tool.s ? p->tool.s : "", body)) {
        if (p->ret == ST_CONTENT) {
            p->after_call = 1;
            p->content_lead = 0;
        }
    } else { /* not a call: the text goes back where it was, as generated */
        emit(p, p->ret, p->raw.s, p->raw.len);
        emit(p, p->ret, p->tool.s, p->tool.len);
        if (p->ret == ST_CONTENT) p->after_call = 0;
    }
    sb_clear(&p->tool);
    sb_clear(&p->raw);
    p->state = p->ret;
}

static void open_tool(qwen3_chat_parser *p, int ret) {
    sb_put(&p->raw, p->hold.s, p->hold.len);
    sb_clear(&p->hold);
    p->state = ST_TOOL;
    p->ret = ret;
}

/* ---- the state machine over `hold` ---- */

static void resolve(qwen3_chat_parser *p) {
    sbuf *h = &p->hold;
    while (h->len && !h->oom) {
        const char *s = h->s;
        size_t n = h->len;
        if (p->state == ST_START) {
            if (tag_prefix(s, n, TAG_THINK)) return;
            if (tag_is(s, n, TAG_THINK)) {
                sb_clear(h);
                p->state = ST_THINK;
                return;
            }
            p->state = p->start_in_think ? ST_THINK : ST_CONTENT;
            continue;
        }
        if (p->state == ST_THINK) {
            if (p->think_lead && s[0] == '\n') { drop(h, 1); continue; }
            size_t k = 0;
            while (k < n && s[k] == '\n') k++;
            const char *r = s + k;
            size_t rn = n - k;
            if (!rn) return; /* newlines: they vanish if </think> follows */
            if (tag_is(r, rn, TAG_END_THINK)) {
                sb_clear(h);
                p->state = ST_CONTENT;
                p->content_lead = 1;
                return;
            }
            if (tag_is(r, rn, TAG_CALL)) {
                if (k > 1) { emit(p, ST_THINK, s, k - 1); drop(h, k - 1); }
                open_tool(p, ST_THINK);
                return;
            }
            if (tag_prefix(r, rn, TAG_END_THINK) || tag_prefix(r, rn, TAG_CALL)) return;
            emit(p, ST_THINK, s, 1);
            drop(h, 1);
            continue;
        }
        /* ST_CONTENT */
        if (p->content_lead && s[0] == '\n') { drop(h, 1); continue; }
        size_t k = 0;
        if (p->after_call) {
            while (k < n && is_ws(s[k])) k++;
        } else if (s[0] == '\n') {
            k = 1; /* the one newline the template puts before a <tool_call> */
        }
        const char *r = s + k;
        size_t rn = n - k;
        if (!rn) {
            return;
        }
        if (tag_is(r, rn, TAG_CALL)) {
            open_tool(p, ST_CONTENT);
            return;
        }
        /* think tags never reach the answer: a later block (a model that reopens <think>, the empty
         * block a spent budget forces) is reasoning, and a stray </think> is dropped with the
         * newlines the template puts after it */
        if (tag_is(r, rn, TAG_THINK) || tag_is(r, rn, TAG_END_THINK)) {
            if (k && !p->after_call) emit(p, ST_CONTENT, s, k);
            p->after_call = 0;
            int open = tag_is(r, rn, TAG_THINK);
            sb_clear(h);
            p->state = open ? ST_THINK : ST_CONTENT;
            p->content_lead = !open;
            return;
        }
        if (tag_prefix(r, rn, TAG_CALL) || tag_prefix(r, rn, TAG_THINK) || tag_prefix(r, rn, TAG_END_THINK)) return;
        if (p->after_call) { /* text after the calls: their separator was real content after all */
            emit(p, ST_CONTENT, s, k);
            drop(h, k);
            p->after_call = 0;
            continue;
        }
        emit(p, ST_CONTENT, s, 1);
        drop(h, 1);
    }
}

static void feed_byte(qwen3_chat_parser *p, char c) {
    if (p->state == ST_TOOL) {
        sb_putc(&p->tool, c);
        size_t m = strlen(TAG_END_CALL);
        if (c == '>' && p->tool.len >= m && !memcmp(p->tool.s + p->tool.len - m, TAG_END_CALL, m)) end_tool(p, 1);
        return;
    }
    sb_putc(&p->hold, c);
    resolve(p);
}

/* ---- deltas ---- */

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8 character. */
static size_t utf8_whole(const char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: look further back */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

static int make_delta(qwen3_chat_parser *p, qwen3_chat_delta *d, int all, qwen3_err *err) {
    if (p->hold.oom || p->tool.oom || p->raw.oom || p->reasoning.oom || p->content.oom)
        return qerr(err, "out of memory parsing the model output");
    size_t r_end = all ? p->reasoning.len : p->r_sent + utf8_whole(p->reasoning.s + p->r_sent, p->reasoning.len - p->r_sent);
    size_t c_end = all ? p->content.len : p->c_sent + utf8_whole(p->content.s + p->c_sent, p->content.len - p->c_sent);
    if (d) {
        d->reasoning = p->reasoning.s ? p->reasoning.s + p->r_sent : "";
        d->reasoning_len = r_end - p->r_sent;
        d->content = p->content.s ? p->content.s + p->c_sent : "";
        d->content_len = c_end - p->c_sent;
        d->calls = p->calls ? p->calls + p->calls_sent : NULL;
        d->n_calls = p->n_calls - p->calls_sent;
        d->first_call = p->calls_sent;
    }
    p->r_sent = r_end;
    p->c_sent = c_end;
    p->calls_sent = p->n_calls;
    return 0;
}

/* ---- public ---- */

qwen3_chat_parser *qwen3_chat_parser_new(int in_think, qwen3_err *err) {
    if (in_think != 0 && in_think != 1) return qerr(err, "chat parser: in_think must be 0 or 1, got %d", in_think), NULL;
    qwen3_chat_parser *p = calloc(1, sizeof *p);
    if (!p) return qerr(err, "out of memory"), NULL;
    p->state = ST_START;
    p->start_in_think = in_think;
    p->think_lead = 1;
    p->content_lead = 1;
    /* totals are always valid C strings, even when empty */
    sb_reserve(&p->reasoning, 0);
    sb_reserve(&p->content, 0);
    if (p->reasoning.oom || p->content.oom) {
        qwen3_chat_parser_free(p);
        return qerr(err, "out of memory"), NULL;
    }
    p->reasoning.s[0] = p->content.s[0] = 0;
    return p;
}

void qwen3_chat_parser_free(qwen3_chat_parser *p) {
    if (!p) return;
    for (int i = 0; i < p->n_calls; i++) {
        free(p->calls[i].name);
        free(p->calls[i].arguments);
    }
    free(p->calls);
    sb_free(&p->hold);
    sb_free(&p->tool);
    sb_free(&p->raw);
    sb_free(&p->reasoning);
    sb_free(&p->content);
    free(p);
}

int qwen3_chat_parser_feed(qwen3_chat_parser *p, const char *text, size_t len, qwen3_chat_delta *d, qwen3_err *err) {
    if (p->finished) return qerr(err, "chat parser: fed after finish");
    for (size_t i = 0; i < len; i++) feed_byte(p, text[i]);
    return make_delta(p, d, 0, err);
}

int qwen3_chat_parser_finish(qwen3_chat_parser *p, qwen3_chat_delta *d, qwen3_err *err) {
    if (!p->finished) {
        p->finished = 1;
        if (p->state == ST_TOOL) end_tool(p, 0); /* unclosed: a complete JSON call still counts */
        sbuf *h = &p->hold;
        if (h->len) {
            const char *s = h->s;
            size_t n = h->len, k = 0;
            if (p->state == ST_START) {
                emit(p, p->start_in_think ? ST_THINK : ST_CONTENT, s, n);
            } else if (p->state == ST_THINK) {
                while (k < n && s[k] == '\n') k++;
                if (k < n) emit(p, ST_THINK, s, n); /* newlines then a partial tag: all text */
            } else if (p->after_call) {
                while (k < n && is_ws(s[k])) k++;
                if (k < n) emit(p, ST_CONTENT, s, n); /* trailing whitespace after calls is dropped */
            } else {
                emit(p, ST_CONTENT, s, n);
            }
            sb_clear(h);
        }
    }
    return make_delta(p, d, 1, err);
}

void qwen3_chat_parser_result(const qwen3_chat_parser *p, qwen3_chat_result *r) {
    r->reasoning = p->reasoning.s;
    r->reasoning_len = p->reasoning.len;
    r->content = p->content.s;
    r->content_len = p->content.len;
    r->calls = p->calls;
    r->n_calls = p->n_calls;
}

qwen3_chat_parser *qwen3_chat_parse(const char *text, size_t len, int in_think, qwen3_err *err) {
    if (in_think < 0) { /* guess: "</think>" before any "<think>" means the prompt opened the block */
        const char *end = memmem(text, len, TAG_END_THINK, strlen(TAG_END_THINK));
        const char *open = memmem(text, len, TAG_THINK, strlen(TAG_THINK));
        in_think = end && (!open || open > end);
    }
    qwen3_chat_parser *p = qwen3_chat_parser_new(in_think, err);
    if (!p) return NULL;
    if (qwen3_chat_parser_feed(p, text, len, NULL, err) || qwen3_chat_parser_finish(p, NULL, err)) {
        qwen3_chat_parser_free(p);
        return NULL;
    }
    return p;
}
