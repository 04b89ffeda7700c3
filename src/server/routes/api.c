/* api.c - the small endpoints: GET /v1/models, GET /health, GET /metrics, POST /tokenize,
 * POST /detokenize. /tokenize and /detokenize accept both the llama.cpp field names ("content",
 * "with_pieces") and vLLM's ("prompt", "messages"), and answer with both sets ("tokens"/"count",
 * "content"/"prompt"). */
#include <stdlib.h>
#include <string.h>

#include "server/request.h"
#include "server/routes/routes.h"
#include "server/scheduler.h"

void srv_model_info_of(const srv *s, srv_model_info *info) {
    info->tok = s->tok;
    info->chat_kind = s->chat_kind;
    info->defaults[0] = s->defaults[0];
    info->defaults[1] = s->defaults[1];
    info->model_name = s->cfg.model_name;
    info->n_ctx = s->n_ctx;
}

static enum MHD_Result reply_obj(srv_http_req *q, int status, json_t *o) {
    size_t len = 0;
    char *b = jx_dump(o, &len);
    json_decref(o);
    return srv_reply_json(q, status, b, len);
}

enum MHD_Result srv_route_models(srv_http_req *q) {
    json_t *m = json_object();
    json_object_set_new(m, "id", jx_string(q->s->cfg.model_name, strlen(q->s->cfg.model_name)));
    json_object_set_new(m, "object", json_string("model"));
    json_object_set_new(m, "created", json_integer(q->s->created));
    json_object_set_new(m, "owned_by", json_string("qwen3"));
    json_object_set_new(m, "max_model_len", json_integer(q->s->n_ctx));
    json_t *arr = json_array();
    json_array_append_new(arr, m);
    json_t *o = json_object();
    json_object_set_new(o, "object", json_string("list"));
    json_object_set_new(o, "data", arr);
    return reply_obj(q, 200, o);
}

enum MHD_Result srv_route_health(srv_http_req *q) {
    int active, queued, cap, par;
    srv_sched_counts(q->s->sched, &active, &queued, &cap, &par);
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(q->s->draining ? "draining" : "ok"));
    json_object_set_new(o, "slots_processing", json_integer(active));
    json_object_set_new(o, "slots_idle", json_integer(par - active));
    json_object_set_new(o, "queued", json_integer(queued));
    return reply_obj(q, q->s->draining ? 503 : 200, o);
}

enum MHD_Result srv_route_metrics(srv_http_req *q) {
    int active, queued, cap, par;
    srv_sched_counts(q->s->sched, &active, &queued, &cap, &par);
    size_t len = 0;
    char *t = srv_metrics_text(q->s->metrics, active, queued, par, cap, &len);
    if (!t) return MHD_NO;
    enum MHD_Result rc = srv_reply_text(q, 200, "text/plain; version=0.0.4", t, len);
    free(t);
    return rc;
}

/* The text to tokenize: "content" / "prompt" (raw, special tokens as text become their ids), or
 * "messages" rendered with the chat template (with add_generation_prompt and enable_thinking). */
static char *tokenize_input(srv_http_req *q, json_t *body, size_t *len, srv_error *e) {
    const char *text = NULL;
    if (jx_str(body, "content", &text, e) < 0) return NULL;
    if (!text && jx_str(body, "prompt", &text, e) < 0) return NULL;
    if (text) {
        *len = strlen(text);
        char *c = strdup(text);
        if (!c) srv_fail(e, 500, NULL, NULL, "out of memory");
        return c;
    }
    json_t *msgs = NULL;
    if (jx_arr(body, "messages", &msgs, e) < 0) return NULL;
    if (!msgs) { srv_bad(e, "content", "give the text as 'content' (or 'prompt'), or a chat as 'messages'"); return NULL; }
    int think = 1, agp = 1;
    json_t *kw = NULL;
    if (jx_bool(body, "add_generation_prompt", &agp, e) < 0 || jx_obj(body, "chat_template_kwargs", &kw, e) < 0 ||
        (kw && jx_bool(kw, "enable_thinking", &think, e) < 0))
        return NULL;
    json_t *norm = srv_messages_normalize(msgs, e);
    if (!norm) return NULL;
    json_t *r = json_object();
    json_object_set_new(r, "messages", norm);
    json_t *tools = json_object_get(body, "tools");
    if (tools) json_object_set(r, "tools", tools);
    json_object_set_new(r, "add_generation_prompt", json_boolean(agp));
    json_object_set_new(r, "enable_thinking", json_boolean(think));
    size_t rl;
    char *rt = jx_dump(r, &rl);
    json_decref(r);
    if (!rt) { srv_fail(e, 500, NULL, NULL, "out of memory"); return NULL; }
    qwen3_err qe = {0};
    char *p = qwen3_chat_render_json(q->s->chat_kind, rt, rl, len, &qe);
    free(rt);
    if (!p) srv_bad(e, "messages", "%s", qe.msg);
    return p;
}

enum MHD_Result srv_route_tokenize(srv_http_req *q) {
    srv_error e;
    json_t *body = srv_body_json(q, &e);
    if (!body) return srv_reply_error(q, &e, 0);
    size_t len = 0;
    int pieces = 0;
    char *text = jx_bool(body, "with_pieces", &pieces, &e) < 0 ? NULL : tokenize_input(q, body, &len, &e);
    json_decref(body);
    if (!text) return srv_reply_error(q, &e, 0);
    int32_t *ids = NULL;
    qwen3_err qe = {0};
    int n = qwen3_encode(q->s->tok, text, len, 1, &ids, &qe);
    free(text);
    if (n < 0) {
        srv_bad(&e, "content", "%s", qe.msg);
        return srv_reply_error(q, &e, 0);
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        if (!pieces) { json_array_append_new(arr, json_integer(ids[i])); continue; }
        size_t bl = 0;
        const char *b = qwen3_token_bytes(q->s->tok, ids[i], &bl);
        json_t *t = json_object();
        json_object_set_new(t, "id", json_integer(ids[i]));
        json_object_set_new(t, "piece", jx_string(b ? b : "", b ? bl : 0));
        json_array_append_new(arr, t);
    }
    free(ids);
    json_t *o = json_object();
    json_object_set_new(o, "tokens", arr);
    json_object_set_new(o, "count", json_integer(n));
    json_object_set_new(o, "max_model_len", json_integer(q->s->n_ctx));
    return reply_obj(q, 200, o);
}

enum MHD_Result srv_route_detokenize(srv_http_req *q) {
    srv_error e;
    json_t *body = srv_body_json(q, &e);
    if (!body) return srv_reply_error(q, &e, 0);
    json_t *arr = NULL;
    int k = jx_arr(body, "tokens", &arr, &e);
    if (k <= 0) {
        if (k == 0) srv_bad(&e, "tokens", "'tokens' (an array of token ids) is required");
        json_decref(body);
        return srv_reply_error(q, &e, 0);
    }
    size_t n = json_array_size(arr);
    int32_t *ids = malloc(sizeof *ids * (n ? n : 1));
    int vocab = qwen3_tokenizer_size(q->s->tok);
    for (size_t i = 0; ids && i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= vocab) {
            srv_bad(&e, "tokens", "tokens[%zu] must be a token id in [0, %d), got %s", i, vocab,
                    json_is_integer(v) ? "an id outside the vocabulary" : jx_type_name(v));
            free(ids);
            json_decref(body);
            return srv_reply_error(q, &e, 0);
        }
        ids[i] = (int32_t)json_integer_value(v);
    }
    json_decref(body);
    if (!ids) return MHD_NO;
    qwen3_err qe = {0};
    size_t len = 0;
    char *text = qwen3_decode(q->s->tok, ids, (int)n, 0, &len, &qe);
    free(ids);
    if (!text) {
        srv_bad(&e, "tokens", "%s", qe.msg);
        return srv_reply_error(q, &e, 0);
    }
    json_t *o = json_object();
    json_object_set_new(o, "content", jx_string(text, len));
    json_object_set_new(o, "prompt", jx_string(text, len));
    free(text);
    return reply_obj(q, 200, o);
}
