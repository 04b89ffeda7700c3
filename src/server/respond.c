/* respond.c - builds OpenAI response bodies and SSE chunks from generated text (see respond.h).
 * All JSON goes through jansson, so escaping is never hand-made; strings pass jx_string, which
 * cannot fail on a stray byte. The parser's deltas are whole UTF-8 characters, so no chunk ever
 * carries half of one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "server/json.h"
#include "server/respond.h"
#include "server/server.h"

static void rand_id(char *out, size_t n, const char *prefix, size_t len) {
    static const char A[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t o = (size_t)snprintf(out, n, "%s", prefix);
    uint64_t x = 0;
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        if (i % 10 == 0) x = srv_random64();
        out[o++] = A[x % 62];
        x /= 62;
    }
    out[o] = 0;
}

int srv_resp_init(srv_resp *r, int chat, int stream, int include_usage, int in_think, const char *const *tools,
                  int n_tools, const char *model, qwen3_err *err) {
    memset(r, 0, sizeof *r);
    r->chat = chat;
    r->stream = stream;
    r->include_usage = include_usage;
    if (n_tools > 0) {
        if (!(r->tools = calloc((size_t)n_tools, sizeof *r->tools))) goto oom;
        for (; r->n_tools < n_tools; r->n_tools++)
            if (!(r->tools[r->n_tools] = strdup(tools[r->n_tools]))) goto oom;
    }
    snprintf(r->model, sizeof r->model, "%s", model);
    r->created = (long)time(NULL);
    rand_id(r->id, sizeof r->id, chat ? "chatcmpl-" : "cmpl-", 24);
    if (chat && !(r->parser = qwen3_chat_parser_new(in_think ? 1 : 0, err))) {
        srv_resp_free(r);
        return -1;
    }
    return 0;
oom:
    srv_resp_free(r);
    return qerr(err, "out of memory");
}

void srv_resp_free(srv_resp *r) {
    qwen3_chat_parser_free(r->parser);
    json_decref(r->lp);
    for (int i = 0; i < r->n_tools; i++) free(r->tools[i]);
    free(r->tools);
    sb_free(&r->reasoning);
    sb_free(&r->content);
    for (int i = 0; i < r->n_calls; i++) {
        free(r->call_name[i]);
        free(r->call_args[i]);
        free(r->call_id[i]);
    }
    free(r->call_name);
    free(r->call_args);
    free(r->call_id);
    memset(r, 0, sizeof *r);
}

const char *srv_finish_name(const srv_resp *r, qwen3_finish f) {
    if (f == QWEN3_FINISH_LENGTH) return "length";
    if (r->n_calls) return "tool_calls";
    return "stop";
}

/* One SSE event: "data: JSON\n\n" (consumes v). */
static void emit(srv_resp *r, sbuf *out, json_t *v) {
    size_t n;
    char *s = jx_dump(v, &n);
    json_decref(v);
    if (!s) { r->oom = 1; return; }
    sb_puts(out, "data: ");
    sb_put(out, s, n);
    sb_puts(out, "\n\n");
    free(s);
}

/* A chunk skeleton with one choice holding delta (consumed) and finish_reason (NULL: null). */
static json_t *chunk(const srv_resp *r, json_t *delta, const char *finish) {
    json_t *c = json_object();
    json_object_set_new(c, "id", json_string(r->id));
    json_object_set_new(c, "object", json_string(r->chat ? "chat.completion.chunk" : "text_completion"));
    json_object_set_new(c, "created", json_integer(r->created));
    json_object_set_new(c, "model", jx_string(r->model, strlen(r->model)));
    json_t *ch = json_object();
    json_object_set_new(ch, "index", json_integer(r->index));
    if (r->chat) json_object_set_new(ch, "delta", delta);
    else {
        json_object_set_new(ch, "text", delta);
    }
    json_object_set_new(ch, "logprobs", json_null());
    json_object_set_new(ch, "finish_reason", finish ? json_string(finish) : json_null());
    json_t *arr = json_array();
    json_array_append_new(arr, ch);
    json_object_set_new(c, "choices", arr);
    if (r->include_usage) json_object_set_new(c, "usage", json_null());
    return c;
}

static json_t *delta1(const char *key, json_t *v) {
    json_t *d = json_object();
    json_object_set_new(d, key, v);
    return d;
}

void srv_resp_start(srv_resp *r, sbuf *out) {
    if (r->started || !r->stream) return;
    r->started = 1;
    if (!r->chat) return; /* completions have no role chunk */
    json_t *d = json_object();
    json_object_set_new(d, "role", json_string("assistant"));
    json_object_set_new(d, "content", json_string(""));
    emit(r, out, chunk(r, d, NULL));
}

/* Text for the content of the stream and of the body. */
static void add_content(srv_resp *r, const char *s, size_t n, sbuf *out) {
    if (!n) return;
    sb_put(&r->content, s, n);
    if (!r->stream) return;
    srv_resp_start(r, out);
    emit(r, out, r->chat ? chunk(r, delta1("content", jx_string(s, n)), NULL) : chunk(r, jx_string(s, n), NULL));
}

static void add_reasoning(srv_resp *r, const char *s, size_t n, sbuf *out) {
    if (!n) return;
    sb_put(&r->reasoning, s, n);
    if (!r->stream) return;
    srv_resp_start(r, out);
    emit(r, out, chunk(r, delta1("reasoning_content", jx_string(s, n)), NULL));
}

/* A call to a function the request did not offer (or any call under tool_choice "none"): a client
 * cannot act on it, so it is written back as text, the way the template writes one. */
static void call_as_text(srv_resp *r, const qwen3_chat_call *c, sbuf *out) {
    json_t *nm = jx_string(c->name, strlen(c->name));
    char *q = jx_dump(nm, NULL);
    json_decref(nm);
    sbuf t = {0};
    sb_puts(&t, "<tool_call>\n{\"name\": ");
    sb_puts(&t, q ? q : "\"\"");
    sb_puts(&t, ", \"arguments\": ");
    sb_puts(&t, c->arguments);
    sb_puts(&t, "}\n</tool_call>");
    free(q);
    if (t.oom) r->oom = 1;
    else add_content(r, t.s, t.len, out);
    sb_free(&t);
}

/* 1 when the request offered a function of that name. */
static int declared(const srv_resp *r, const char *name) {
    for (int i = 0; i < r->n_tools; i++)
        if (!strcmp(r->tools[i], name)) return 1;
    return 0;
}

static void add_call(srv_resp *r, const qwen3_chat_call *c, sbuf *out) {
    if (!declared(r, c->name)) { call_as_text(r, c, out); return; }
    if (r->n_calls == r->cap_calls) {
        int cap = r->cap_calls ? r->cap_calls * 2 : 4;
        char **a = realloc(r->call_name, sizeof *a * (size_t)cap);
        if (a) r->call_name = a;
        char **b = realloc(r->call_args, sizeof *b * (size_t)cap);
        if (b) r->call_args = b;
        char **d = realloc(r->call_id, sizeof *d * (size_t)cap);
        if (d) r->call_id = d;
        if (!a || !b || !d) { r->oom = 1; return; }
        r->cap_calls = cap;
    }
    int i = r->n_calls;
    char id[40];
    rand_id(id, sizeof id, "call_", 24);
    r->call_name[i] = strdup(c->name);
    r->call_args[i] = strdup(c->arguments);
    r->call_id[i] = strdup(id);
    if (!r->call_name[i] || !r->call_args[i] || !r->call_id[i]) {
        free(r->call_name[i]); free(r->call_args[i]); free(r->call_id[i]);
        r->oom = 1;
        return;
    }
    r->n_calls++;
    if (!r->stream) return;
    srv_resp_start(r, out);
    /* first the call's identity, then its arguments: the fragments clients concatenate */
    json_t *tc = json_object();
    json_object_set_new(tc, "index", json_integer(i));
    json_object_set_new(tc, "id", json_string(id));
    json_object_set_new(tc, "type", json_string("function"));
    json_t *fn = json_object();
    json_object_set_new(fn, "name", jx_string(c->name, strlen(c->name)));
    json_object_set_new(fn, "arguments", json_string(""));
    json_object_set_new(tc, "function", fn);
    json_t *arr = json_array();
    json_array_append_new(arr, tc);
    emit(r, out, chunk(r, delta1("tool_calls", arr), NULL));
    tc = json_object();
    json_object_set_new(tc, "index", json_integer(i));
    fn = json_object();
    json_object_set_new(fn, "arguments", jx_string(c->arguments, strlen(c->arguments)));
    json_object_set_new(tc, "function", fn);
    arr = json_array();
    json_array_append_new(arr, tc);
    emit(r, out, chunk(r, delta1("tool_calls", arr), NULL));
}

static void add_delta(srv_resp *r, const qwen3_chat_delta *d, sbuf *out) {
    add_reasoning(r, d->reasoning, d->reasoning_len, out);
    add_content(r, d->content, d->content_len, out);
    for (int i = 0; i < d->n_calls; i++) add_call(r, &d->calls[i], out);
}

int srv_resp_feed(srv_resp *r, const char *text, size_t len, sbuf *out, qwen3_err *err) {
    if (!len) return 0;
    if (!r->chat) add_content(r, text, len, out);
    else {
        qwen3_chat_delta d;
        if (qwen3_chat_parser_feed(r->parser, text, len, &d, err)) return -1;
        add_delta(r, &d, out);
    }
    if (r->oom || (out && out->oom) || r->content.oom || r->reasoning.oom) return qerr(err, "out of memory");
    return 0;
}

static json_t *usage(const qwen3_gen_stats *st) {
    json_t *u = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(st->prompt_tokens));
    json_object_set_new(u, "completion_tokens", json_integer(st->generated_tokens));
    json_object_set_new(u, "total_tokens", json_integer(st->prompt_tokens + st->generated_tokens));
    json_t *pd = json_object();
    json_object_set_new(pd, "cached_tokens", json_integer(st->cached_tokens));
    json_object_set_new(u, "prompt_tokens_details", pd);
    json_t *cd = json_object();
    json_object_set_new(cd, "reasoning_tokens", json_integer(st->thinking_tokens));
    json_object_set_new(u, "completion_tokens_details", cd);
    return u;
}

int srv_resp_finish(srv_resp *r, qwen3_finish f, const qwen3_gen_stats *st, sbuf *out, qwen3_err *err) {
    if (r->chat) {
        qwen3_chat_delta d;
        if (qwen3_chat_parser_finish(r->parser, &d, err)) return -1;
        add_delta(r, &d, out);
    }
    if (r->stream) {
        srv_resp_start(r, out);
        emit(r, out, chunk(r, r->chat ? json_object() : json_string(""), srv_finish_name(r, f)));
        if (!r->no_tail) srv_resp_stream_tail(r, st, out);
    }
    if (r->oom || (out && out->oom) || r->content.oom || r->reasoning.oom) return qerr(err, "out of memory");
    return 0;
}

void srv_resp_stream_tail(srv_resp *r, const qwen3_gen_stats *st, sbuf *out) {
    if (r->include_usage) {
        json_t *c = json_object();
        json_object_set_new(c, "id", json_string(r->id));
        json_object_set_new(c, "object", json_string(r->chat ? "chat.completion.chunk" : "text_completion"));
        json_object_set_new(c, "created", json_integer(r->created));
        json_object_set_new(c, "model", jx_string(r->model, strlen(r->model)));
        json_object_set_new(c, "choices", json_array());
        json_object_set_new(c, "usage", usage(st));
        emit(r, out, c);
    }
    sb_puts(out, "data: [DONE]\n\n");
}

void srv_resp_same_id(srv_resp *r, const srv_resp *first) {
    memcpy(r->id, first->id, sizeof r->id);
    r->created = first->created;
}

/* One choice of the body. */
static json_t *body_choice(srv_resp *r, qwen3_finish f) {
    json_t *ch = json_object();
    json_object_set_new(ch, "index", json_integer(r->index));
    const char *content = r->content.s ? r->content.s : "";
    if (r->chat) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string("assistant"));
        /* OpenAI: content is null when the answer is only tool calls */
        json_object_set_new(m, "content", r->content.len || !r->n_calls ? jx_string(content, r->content.len) : json_null());
        json_object_set_new(m, "reasoning_content",
                            r->reasoning.len ? jx_string(r->reasoning.s, r->reasoning.len) : json_null());
        if (r->n_calls) {
            json_t *arr = json_array();
            for (int i = 0; i < r->n_calls; i++) {
                json_t *tc = json_object();
                json_object_set_new(tc, "id", json_string(r->call_id[i]));
                json_object_set_new(tc, "type", json_string("function"));
                json_t *fn = json_object();
                json_object_set_new(fn, "name", jx_string(r->call_name[i], strlen(r->call_name[i])));
                json_object_set_new(fn, "arguments", jx_string(r->call_args[i], strlen(r->call_args[i])));
                json_object_set_new(tc, "function", fn);
                json_array_append_new(arr, tc);
            }
            json_object_set_new(m, "tool_calls", arr);
        }
        json_object_set_new(ch, "message", m);
    } else {
        json_object_set_new(ch, "text", jx_string(content, r->content.len));
    }
    json_object_set_new(ch, "logprobs", r->lp ? json_incref(r->lp) : json_null());
    json_object_set_new(ch, "finish_reason", json_string(srv_finish_name(r, f)));
    return ch;
}

char *srv_resp_body_n(srv_resp *const *rs, int n, const qwen3_finish *f, const qwen3_gen_stats *st, size_t *len) {
    srv_resp *r = rs[0];
    json_t *b = json_object();
    json_object_set_new(b, "id", json_string(r->id));
    json_object_set_new(b, "object", json_string(r->chat ? "chat.completion" : "text_completion"));
    json_object_set_new(b, "created", json_integer(r->created));
    json_object_set_new(b, "model", jx_string(r->model, strlen(r->model)));
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(arr, body_choice(rs[i], f[i]));
    json_object_set_new(b, "choices", arr);
    json_object_set_new(b, "usage", usage(st));
    char *s = jx_dump(b, len);
    json_decref(b);
    return s;
}

char *srv_resp_body(srv_resp *r, qwen3_finish f, const qwen3_gen_stats *st, size_t *len) {
    return srv_resp_body_n(&r, 1, &f, st, len);
}

/* ---- log-probabilities --------------------------------------------------------------------------- */

/* OpenAI writes -9999 for a probability of 0 */
static json_t *lp_value(float v) { return json_real(isfinite(v) ? v : -9999.0); }

static json_t *token_text(const srv_resp *r, int32_t id) {
    size_t n = 0;
    const char *b = qwen3_token_bytes(r->tok, id, &n);
    return jx_string(b ? b : "", b ? n : 0);
}

static json_t *token_bytes(const srv_resp *r, int32_t id) {
    size_t n = 0;
    const unsigned char *b = (const unsigned char *)qwen3_token_bytes(r->tok, id, &n);
    json_t *a = json_array();
    for (size_t i = 0; b && i < n; i++) json_array_append_new(a, json_integer(b[i]));
    return a;
}

/* Chat: {"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]} */
static json_t *chat_entry(const srv_resp *r, const qwen3_logprob *l) {
    json_t *o = json_pack("{s:o, s:o, s:o}", "token", token_text(r, l->id), "logprob", lp_value(l->logprob), "bytes",
                          token_bytes(r, l->id));
    json_t *top = json_array();
    for (int k = 0; k < l->n_top; k++)
        json_array_append_new(top, json_pack("{s:o, s:o, s:o}", "token", token_text(r, l->top_ids[k]), "logprob",
                                             lp_value(l->top_logprobs[k]), "bytes", token_bytes(r, l->top_ids[k])));
    json_object_set_new(o, "top_logprobs", top);
    return o;
}

/* Characters a token's bytes start (UTF-8 lead bytes), for text_offset. */
static long chars_of(const srv_resp *r, int32_t id) {
    size_t n = 0;
    const unsigned char *b = (const unsigned char *)qwen3_token_bytes(r->tok, id, &n);
    long c = 0;
    for (size_t i = 0; b && i < n; i++) c += (b[i] & 0xC0) != 0x80;
    return c;
}

/* The records of n tokens in the response's shape (a fresh object: chat {"content": [...]},
 * completions the four parallel arrays). */
static json_t *lp_block(srv_resp *r, const qwen3_logprob *lp, int n) {
    if (r->chat) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(a, chat_entry(r, &lp[i]));
        return json_pack("{s:o}", "content", a);
    }
    json_t *toks = json_array(), *vals = json_array(), *tops = json_array(), *offs = json_array();
    for (int i = 0; i < n; i++) {
        const qwen3_logprob *l = &lp[i];
        json_array_append_new(toks, token_text(r, l->id));
        int none = isnan(l->logprob); /* the first prompt token has no probability */
        json_array_append_new(vals, none ? json_null() : lp_value(l->logprob));
        json_t *t = none ? json_null() : json_object();
        for (int k = 0; !none && k < l->n_top; k++) {
            json_t *key = token_text(r, l->top_ids[k]);
            json_object_set_new(t, json_string_value(key), lp_value(l->top_logprobs[k]));
            json_decref(key);
        }
        json_array_append_new(tops, t);
        json_array_append_new(offs, json_integer(r->lp_chars));
        r->lp_chars += chars_of(r, l->id);
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", toks, "token_logprobs", vals, "top_logprobs", tops, "text_offset",
                     offs);
}

int srv_resp_logprobs_on(srv_resp *r, const qwen3_tokenizer *tok) {
    r->tok = tok;
    r->lp = r->chat ? json_pack("{s:[]}", "content")
                    : json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
    return r->lp ? 0 : -1;
}

int srv_resp_logprobs(srv_resp *r, const qwen3_logprob *lp, int n, sbuf *out, qwen3_err *err) {
    if (!r->lp || n <= 0) return 0;
    json_t *b = lp_block(r, lp, n);
    if (!b) return qerr(err, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v) json_array_extend(json_object_get(r->lp, key), v);
    if (r->stream) {
        srv_resp_start(r, out);
        json_t *c = chunk(r, r->chat ? json_object() : json_string(""), NULL);
        json_object_set(json_array_get(json_object_get(c, "choices"), 0), "logprobs", b);
        emit(r, out, c);
    }
    json_decref(b);
    if (r->oom || (out && out->oom)) return qerr(err, "out of memory");
    return 0;
}

int srv_resp_echo(srv_resp *r, const char *prompt, size_t len, const qwen3_logprob *lp, int n, sbuf *out,
                  qwen3_err *err) {
    if (r->chat) return 0;
    sb_put(&r->content, prompt, len);
    json_t *b = r->lp && lp ? lp_block(r, lp, n) : NULL;
    if (b) {
        const char *key;
        json_t *v;
        json_object_foreach(b, key, v) json_array_extend(json_object_get(r->lp, key), v);
    }
    if (r->stream) {
        json_t *c = chunk(r, jx_string(prompt, len), NULL);
        if (b) json_object_set(json_array_get(json_object_get(c, "choices"), 0), "logprobs", b);
        emit(r, out, c);
    }
    json_decref(b);
    if (r->oom || (out && out->oom) || r->content.oom) return qerr(err, "out of memory");
    return 0;
}

void srv_resp_stream_error(sbuf *out, const char *body) {
    sb_puts(out, "data: ");
    sb_puts(out, body);
    sb_puts(out, "\n\ndata: [DONE]\n\n");
}
