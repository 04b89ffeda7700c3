/* request.c - validates OpenAI chat / completion request bodies and turns them into a tokenized
 * prompt plus generation parameters (see request.h for the rules). Field types are checked before
 * anything is rendered, so the error names the first wrong field in the order a reader expects. */
#include <stdlib.h>
#include <string.h>

#include "server/request.h"
#include "server/server.h"

#define MAX_STOP 16

void srv_gen_req_free(srv_gen_req *r) {
    free(r->prompt);
    free(r->echo_text);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->stop);
    for (int i = 0; i < r->n_tools; i++) free(r->tool_names[i]);
    free(r->tool_names);
    for (int i = 0; i < r->n_more; i++) {
        free(r->more[i].ids);
        free(r->more[i].echo_text);
    }
    free(r->more);
    qwen3_grammar_free(r->grammar);
    memset(r, 0, sizeof *r);
}

void srv_gen_req_choice(const srv_gen_req *r, int p, int k, srv_gen_req *view) {
    *view = *r;
    view->n_choices = 1;
    view->more = NULL;
    view->n_more = 0;
    if (p > 0) {
        const srv_prompt *q = &r->more[p - 1];
        view->prompt = q->ids;
        view->n_prompt = q->n;
        view->params.in_think = q->in_think;
        view->echo_text = q->echo_text;
    }
    view->params.sampling.seed = r->params.sampling.seed + (uint64_t)k;
}

int srv_check_model(const srv_model_info *info, json_t *body, srv_error *e) {
    const char *m = NULL;
    if (jx_str(body, "model", &m, e) < 0) return -1;
    if (m && strcmp(m, info->model_name) != 0)
        return srv_fail(e, 404, "model", "model_not_found", "The model '%s' does not exist; this server serves '%s'", m,
                        info->model_name);
    return 0;
}

/* stop: a string or an array of non-empty strings. */
static int parse_stop(json_t *body, srv_gen_req *r, srv_error *e) {
    json_t *v = json_object_get(body, "stop");
    if (!v || json_is_null(v)) return 0;
    size_t n = 1;
    if (json_is_array(v)) {
        n = json_array_size(v);
        if (n > MAX_STOP) return srv_bad(e, "stop", "'stop' holds %zu strings; at most %d are allowed", n, MAX_STOP);
    } else if (!json_is_string(v)) {
        return srv_bad(e, "stop", "'stop' must be a string or an array of strings, got %s", jx_type_name(v));
    }
    if (!n) return 0;
    r->stop = calloc(n, sizeof *r->stop);
    if (!r->stop) return srv_fail(e, 500, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(s)) return srv_bad(e, "stop", "stop[%zu] must be a string, got %s", i, jx_type_name(s));
        if (!json_string_length(s)) return srv_bad(e, "stop", "stop[%zu] is empty", i);
        r->stop[i] = strdup(json_string_value(s));
        if (!r->stop[i]) return srv_fail(e, 500, NULL, NULL, "out of memory");
        r->n_stop++;
    }
    r->params.stop = (const char *const *)r->stop;
    r->params.n_stop = r->n_stop;
    return 0;
}

/* The fields chat and completions share: sampling, length, stop, stream, n, the thinking budget. */
static int parse_common(const srv_model_info *info, json_t *body, srv_gen_req *r, srv_error *e) {
    qwen3_sampling *s = &r->params.sampling;
    *s = info->defaults[r->thinking ? 1 : 0];
    s->seed = srv_random64();
    double d;
    long long v;
    int k;
    if ((k = jx_num(body, "temperature", 0, 100, &d, e)) < 0) return -1;
    if (k) s->temperature = (float)d;
    if ((k = jx_num(body, "top_p", 0, 1, &d, e)) < 0) return -1;
    if (k) s->top_p = d > 0 ? (float)d : 1e-9f; /* 0 would keep nothing: the top token only */
    if ((k = jx_int(body, "top_k", -1, 1 << 30, &v, e)) < 0) return -1;
    if (k) s->top_k = v < 0 ? 0 : (int)v; /* -1 is vLLM's "off" */
    if ((k = jx_num(body, "min_p", 0, 1, &d, e)) < 0) return -1;
    if (k) s->min_p = (float)d;
    if ((k = jx_num(body, "presence_penalty", -2, 2, &d, e)) < 0) return -1;
    if (k) s->presence_penalty = (float)d;
    if ((k = jx_num(body, "frequency_penalty", -2, 2, &d, e)) < 0) return -1;
    if (k) s->frequency_penalty = (float)d;
    if ((k = jx_num(body, "repetition_penalty", 1e-3, 100, &d, e)) < 0) return -1;
    if (k) s->repetition_penalty = (float)d;
    if ((k = jx_int(body, "seed", -(1LL << 62), 1LL << 62, &v, e)) < 0) return -1;
    if (k) s->seed = (uint64_t)v;
    r->n_choices = 1;
    if ((k = jx_int(body, "n", 1, SRV_MAX_CHOICES, &v, e)) < 0) return -1;
    if (k) r->n_choices = (int)v;

    long long max = 0;
    if ((k = jx_int(body, "max_tokens", 1, 1 << 30, &v, e)) < 0) return -1;
    if (k) max = v;
    if ((k = jx_int(body, "max_completion_tokens", 1, 1 << 30, &v, e)) < 0) return -1;
    if (k) max = v;
    r->params.max_tokens = (int)max;

    r->params.think_budget = -1;
    if ((k = jx_int(body, "thinking_budget_tokens", -1, 1 << 30, &v, e)) < 0) return -1;
    if (k) r->params.think_budget = (int)v;
    if ((k = jx_int(body, "thinking_token_budget", -1, 1 << 30, &v, e)) < 0) return -1;
    if (k) r->params.think_budget = (int)v;

    if (jx_bool(body, "stream", &r->stream, e) < 0) return -1;
    json_t *so = NULL;
    if (jx_obj(body, "stream_options", &so, e) < 0) return -1;
    if (so && jx_bool(so, "include_usage", &r->include_usage, e) < 0) {
        snprintf(e->param, sizeof e->param, "stream_options.include_usage");
        return -1;
    }
    return parse_stop(body, r, e);
}

/* Checks a prompt of n tokens leaves room to generate. */
static int check_length(const srv_model_info *info, int n, const char *param, srv_error *e) {
    if (n == 0) return srv_bad(e, param, "the prompt is empty");
    if (n >= info->n_ctx)
        return srv_fail(e, 400, param, "context_length_exceeded",
                        "the prompt has %d tokens; this server's context is %d tokens (it must leave room for at least one "
                        "generated token)", n, info->n_ctx);
    return 0;
}

/* Tokenizes a prompt text into *ids / *n and checks its length. */
static int tokenize_one(const srv_model_info *info, const char *text, size_t len, const char *param, int32_t **ids,
                        int *n, int *in_think, srv_error *e) {
    qwen3_err qe = {0};
    int k = qwen3_encode(info->tok, text, len, 1, ids, &qe);
    if (k < 0) return srv_bad(e, param, "cannot tokenize the prompt: %s", qe.msg);
    *n = k;
    *in_think = qwen3_chat_prompt_opens_think(text, len);
    return check_length(info, k, param, e);
}

static int tokenize_prompt(const srv_model_info *info, const char *text, size_t len, const char *param,
                           srv_gen_req *r, srv_error *e) {
    return tokenize_one(info, text, len, param, &r->prompt, &r->n_prompt, &r->params.in_think, e);
}

/* Checks one tool definition: {"type": "function", "function": {"name": string, "parameters": object}}. */
static int check_tool(json_t *t, size_t i, const char **name, srv_error *e) {
    char p[32];
    snprintf(p, sizeof p, "tools[%zu]", i);
    if (!json_is_object(t)) return srv_bad(e, "tools", "%s must be an object, got %s", p, jx_type_name(t));
    json_t *ty = json_object_get(t, "type");
    if (ty && !(json_is_string(ty) && !strcmp(json_string_value(ty), "function")))
        return srv_bad(e, "tools", "%s.type must be \"function\"", p);
    json_t *f = json_object_get(t, "function");
    if (!json_is_object(f)) return srv_bad(e, "tools", "%s.function must be an object", p);
    json_t *nm = json_object_get(f, "name");
    if (!json_is_string(nm) || !json_string_length(nm))
        return srv_bad(e, "tools", "%s.function.name must be a non-empty string", p);
    json_t *pa = json_object_get(f, "parameters");
    if (pa && !json_is_null(pa) && !json_is_object(pa))
        return srv_bad(e, "tools", "%s.function.parameters must be a JSON Schema object, got %s", p, jx_type_name(pa));
    json_t *de = json_object_get(f, "description");
    if (de && !json_is_null(de) && !json_is_string(de))
        return srv_bad(e, "tools", "%s.function.description must be a string, got %s", p, jx_type_name(de));
    *name = json_string_value(nm);
    return 0;
}

static const char *tool_name(json_t *t) {
    return json_string_value(json_object_get(json_object_get(t, "function"), "name"));
}

/* Records a rendered tool's name (r->tool_names holds r->n_tools of them). */
static int add_tool_name(srv_gen_req *r, const char *name, srv_error *e) {
    char **v = realloc(r->tool_names, sizeof *v * (size_t)(r->n_tools + 1));
    if (!v) return srv_fail(e, 500, NULL, NULL, "out of memory");
    r->tool_names = v;
    if (!(v[r->n_tools] = strdup(name))) return srv_fail(e, 500, NULL, NULL, "out of memory");
    r->n_tools++;
    return 0;
}

/* tools + tool_choice -> the tools to render (a new array reference, or NULL for none). */
static int parse_tools(json_t *body, srv_gen_req *r, json_t **render, srv_error *e) {
    json_t *tools = NULL;
    *render = NULL;
    if (jx_arr(body, "tools", &tools, e) < 0) return -1;
    size_t n = tools ? json_array_size(tools) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm;
        if (check_tool(json_array_get(tools, i), i, &nm, e)) return -1;
    }
    json_t *tc = json_object_get(body, "tool_choice");
    const char *named = NULL;
    r->tool_choice = SRV_TOOLS_AUTO;
    if (tc && !json_is_null(tc)) {
        if (json_is_string(tc)) {
            const char *s = json_string_value(tc);
            if (!strcmp(s, "auto")) r->tool_choice = SRV_TOOLS_AUTO;
            else if (!strcmp(s, "none")) r->tool_choice = SRV_TOOLS_NONE;
            else if (!strcmp(s, "required")) r->tool_choice = SRV_TOOLS_REQUIRED;
            else return srv_bad(e, "tool_choice", "'tool_choice' must be \"auto\", \"none\", \"required\" or "
                                "{\"type\": \"function\", \"function\": {\"name\": ...}}, got \"%s\"", s);
        } else if (json_is_object(tc)) {
            json_t *f = json_object_get(tc, "function");
            json_t *nm = json_is_object(f) ? json_object_get(f, "name") : NULL;
            if (!json_is_string(nm))
                return srv_bad(e, "tool_choice", "'tool_choice' as an object must be {\"type\": \"function\", "
                               "\"function\": {\"name\": \"...\"}}");
            named = json_string_value(nm);
            r->tool_choice = SRV_TOOLS_NAMED;
        } else {
            return srv_bad(e, "tool_choice", "'tool_choice' must be a string or an object, got %s", jx_type_name(tc));
        }
    }
    if ((r->tool_choice == SRV_TOOLS_REQUIRED || r->tool_choice == SRV_TOOLS_NAMED) && !n)
        return srv_bad(e, "tool_choice", "'tool_choice' requires a tool call but no tools were given");
    if (r->tool_choice == SRV_TOOLS_NONE || !n) return 0;
    if (r->tool_choice == SRV_TOOLS_NAMED) {
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(tools, i);
            if (!strcmp(tool_name(t), named)) {
                if (add_tool_name(r, named, e)) return -1;
                *render = json_array();
                json_array_append(*render, t);
                return 0;
            }
        }
        return srv_bad(e, "tool_choice", "'tool_choice' names the function '%s', which is not among the tools", named);
    }
    for (size_t i = 0; i < n; i++)
        if (add_tool_name(r, tool_name(json_array_get(tools, i)), e)) return -1;
    *render = json_incref(tools);
    return 0;
}

int srv_parse_chat(const srv_model_info *info, json_t *body, srv_gen_req *r, srv_error *e) {
    memset(r, 0, sizeof *r);
    r->chat = 1;
    if (srv_check_model(info, body, e)) return -1;
    json_t *msgs = NULL;
    if (jx_arr(body, "messages", &msgs, e) < 0) return -1;
    if (!msgs) return srv_bad(e, "messages", "'messages' is required");
    if (!json_array_size(msgs)) return srv_bad(e, "messages", "'messages' must hold at least one message");

    int think = 1;
    json_t *kw = NULL;
    if (jx_bool(body, "enable_thinking", &think, e) < 0) return -1;
    if (jx_obj(body, "chat_template_kwargs", &kw, e) < 0) return -1;
    if (kw && jx_bool(kw, "enable_thinking", &think, e) < 0) {
        snprintf(e->param, sizeof e->param, "chat_template_kwargs.enable_thinking");
        return -1;
    }
    r->thinking = qwen3_chat_thinks(info->chat_kind, think);
    if (parse_common(info, body, r, e) || srv_parse_logprobs(body, 1, r, e) || srv_check_unsupported(body, 1, e) ||
        srv_parse_structured(body, r, e))
        return -1;

    json_t *tools;
    if (parse_tools(body, r, &tools, e)) return -1;
    if (tools && (r->tool_choice == SRV_TOOLS_REQUIRED || r->tool_choice == SRV_TOOLS_NAMED) &&
        srv_tool_grammar(tools, r, e)) {
        json_decref(tools);
        return -1;
    }
    /* the renderer reads {"messages", "tools", "add_generation_prompt", "enable_thinking"} */
    json_t *norm = srv_messages_normalize(msgs, e);
    if (!norm) {
        json_decref(tools);
        return -1;
    }
    json_t *req = json_object();
    json_object_set_new(req, "messages", norm);
    if (tools) json_object_set_new(req, "tools", tools);
    json_object_set_new(req, "add_generation_prompt", json_true());
    json_object_set_new(req, "enable_thinking", json_boolean(think));
    size_t rlen = 0;
    char *rtext = jx_dump(req, &rlen);
    json_decref(req);
    if (!rtext) return srv_fail(e, 500, NULL, NULL, "out of memory");
    qwen3_err qe = {0};
    size_t plen = 0;
    char *prompt = qwen3_chat_render_json(info->chat_kind, rtext, rlen, &plen, &qe);
    free(rtext);
    if (!prompt) return srv_bad(e, strncmp(qe.msg, "tools", 5) ? "messages" : "tools", "%s", qe.msg);
    int rc = tokenize_prompt(info, prompt, plen, "messages", r, e);
    free(prompt);
    return rc;
}

/* 1 when v is a non-empty array of integers (a prompt given as token ids). */
static int is_ids(json_t *v) {
    if (!json_is_array(v) || !json_array_size(v)) return 0;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_integer(json_array_get(v, i))) return 0;
    return 1;
}

/* One prompt: a string, or token ids (checked against the vocabulary). idx < 0: the only prompt. */
static int one_prompt(const srv_model_info *info, json_t *v, long idx, int echo, int32_t **ids, int *n, int *in_think,
                      char **echo_text, srv_error *e) {
    char where[48];
    if (idx < 0) snprintf(where, sizeof where, "'prompt'");
    else snprintf(where, sizeof where, "prompt[%ld]", idx);
    if (json_is_string(v)) {
        if (echo && !(*echo_text = strndup(json_string_value(v), json_string_length(v))))
            return srv_fail(e, 500, NULL, NULL, "out of memory");
        return tokenize_one(info, json_string_value(v), json_string_length(v), "prompt", ids, n, in_think, e);
    }
    if (!is_ids(v))
        return srv_bad(e, "prompt", "%s must be a string or a non-empty array of token ids, got %s", where,
                       json_is_array(v) ? (json_array_size(v) ? "an array holding something else" : "an empty array")
                                        : jx_type_name(v));
    size_t m = json_array_size(v);
    int vocab = qwen3_tokenizer_size(info->tok);
    if (!(*ids = malloc(sizeof **ids * m))) return srv_fail(e, 500, NULL, NULL, "out of memory");
    for (size_t i = 0; i < m; i++) {
        json_int_t id = json_integer_value(json_array_get(v, i));
        if (id < 0 || id >= vocab)
            return srv_bad(e, "prompt", "%s[%zu] is %lld, not a token id (0 .. %d)", where, i, (long long)id, vocab - 1);
        (*ids)[i] = (int32_t)id;
    }
    *n = (int)m;
    if (check_length(info, *n, "prompt", e)) return -1;
    qwen3_err qe = {0};
    size_t tl = 0;
    char *text = qwen3_decode(info->tok, *ids, *n, 0, &tl, &qe);
    if (!text) return srv_bad(e, "prompt", "%s: %s", where, qe.msg);
    *in_think = qwen3_chat_prompt_opens_think(text, tl);
    if (echo) *echo_text = text;
    else free(text);
    return 0;
}

int srv_parse_completion(const srv_model_info *info, json_t *body, srv_gen_req *r, srv_error *e) {
    memset(r, 0, sizeof *r);
    if (srv_check_model(info, body, e)) return -1;
    json_t *p = json_object_get(body, "prompt");
    if (!p || json_is_null(p)) return srv_bad(e, "prompt", "'prompt' is required");
    /* one prompt (a string or token ids) or several (strings or arrays of ids) */
    int several = json_is_array(p) && !is_ids(p);
    size_t n = several ? json_array_size(p) : 1;
    if (!json_is_string(p) && !json_is_array(p))
        return srv_bad(e, "prompt", "'prompt' must be a string, an array of strings, an array of token ids or an array "
                       "of arrays of token ids, got %s", jx_type_name(p));
    if (!n) return srv_bad(e, "prompt", "'prompt' is an empty array");
    r->thinking = 0;
    if (parse_common(info, body, r, e) || srv_parse_logprobs(body, 0, r, e) || srv_check_unsupported(body, 0, e) ||
        srv_parse_structured(body, r, e))
        return -1;
    if (n * (size_t)r->n_choices > SRV_MAX_CHOICES)
        return srv_bad(e, "n", "%zu prompts x n = %d make %zu choices; at most %d are allowed in one request", n,
                       r->n_choices, n * (size_t)r->n_choices, SRV_MAX_CHOICES);
    if (n > 1 && !(r->more = calloc(n - 1, sizeof *r->more))) return srv_fail(e, 500, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = several ? json_array_get(p, i) : p;
        long idx = several ? (long)i : -1;
        if (i == 0) {
            if (one_prompt(info, v, idx, r->echo, &r->prompt, &r->n_prompt, &r->params.in_think, &r->echo_text, e))
                return -1;
            continue;
        }
        srv_prompt *q = &r->more[r->n_more++];
        if (one_prompt(info, v, idx, r->echo, &q->ids, &q->n, &q->in_think, &q->echo_text, e)) return -1;
    }
    return 0;
}
