/* options.c - request options beyond sampling: log-probabilities and echo, structured output
 * (response_format, llama.cpp's grammar / json_schema, vLLM's guided_json; parsed into the
 * request), and the options this server does not implement, refused with a 400 naming the option
 * instead of being accepted and ignored (a client that asks for JSON output, a grammar or
 * a logit bias must learn that it did not get it). A field set to its neutral value (null, false,
 * 0, 1 for best_of, {} for logit_bias, {"type": "text"} for response_format, "" for suffix) is
 * accepted: SDKs send such defaults. Fields that cannot change the output (user, metadata, store,
 * service_tier, parallel_tool_calls, ...) are not listed and stay accepted. */
#include <stdlib.h>
#include <string.h>

#include "server/request.h"

/* How a field's value is judged neutral. */
enum { NEUTRAL_FALSY, NEUTRAL_ONE, NEUTRAL_TEXT_FORMAT, NEUTRAL_TEXT_ONLY };

typedef struct unsupported {
    const char *name;
    int where;   /* 1: chat, 2: completions, 3: both */
    int neutral;
    const char *what; /* the reason, or what to use instead */
} unsupported;

static const unsupported FIELDS[] = {
    {"logit_bias", 3, NEUTRAL_FALSY, "logit biases are not implemented"},
    {"suffix", 2, NEUTRAL_FALSY, "insertion (a suffix after the completion) is not implemented"},
    {"best_of", 2, NEUTRAL_ONE, "best_of is not implemented (one completion per request)"},
    {"guided_regex", 3, NEUTRAL_FALSY, "guided decoding is not implemented"},
    {"guided_choice", 3, NEUTRAL_FALSY, "guided decoding is not implemented"},
    {"guided_grammar", 3, NEUTRAL_FALSY, "guided decoding is not implemented"},
    {"structured_outputs", 3, NEUTRAL_FALSY, "structured output is not implemented"},
    {"functions", 1, NEUTRAL_FALSY, "the deprecated 'functions' is not implemented; use 'tools'"},
    {"function_call", 1, NEUTRAL_FALSY, "the deprecated 'function_call' is not implemented; use 'tool_choice'"},
    {"prompt_logprobs", 3, NEUTRAL_FALSY, "prompt_logprobs is not implemented; on /v1/completions use echo with logprobs"},
    {"n_probs", 3, NEUTRAL_FALSY, "n_probs is not implemented; use logprobs / top_logprobs"},
    {"min_tokens", 3, NEUTRAL_FALSY, "min_tokens is not implemented"},
    {"ignore_eos", 3, NEUTRAL_FALSY, "ignore_eos is not implemented"},
    {"typical_p", 3, NEUTRAL_ONE, "typical_p sampling is not implemented"},
    {"mirostat", 3, NEUTRAL_FALSY, "mirostat sampling is not implemented"},
    {"use_beam_search", 3, NEUTRAL_FALSY, "beam search is not implemented"},
    {"prediction", 1, NEUTRAL_FALSY, "predicted outputs are not implemented"},
    {"audio", 1, NEUTRAL_FALSY, "audio output is not implemented"},
    {"modalities", 1, NEUTRAL_TEXT_ONLY, "only text output is implemented"},
    {"web_search_options", 1, NEUTRAL_FALSY, "web search is not implemented"},
    {"echo", 1, NEUTRAL_FALSY, "echo is implemented on /v1/completions only"},
    /* vLLM's extra sampling and chat parameters */
    {"stop_token_ids", 3, NEUTRAL_FALSY, "stop_token_ids is not implemented; use 'stop' strings"},
    {"bad_words", 3, NEUTRAL_FALSY, "bad_words is not implemented"},
    {"include_stop_str_in_output", 3, NEUTRAL_FALSY, "the stop string is never included in the output"},
    {"length_penalty", 3, NEUTRAL_ONE, "length_penalty (beam search) is not implemented"},
    {"chat_template", 1, NEUTRAL_FALSY, "a custom chat_template is not implemented (the server renders the model's; see --chat-template)"},
    {"continue_final_message", 1, NEUTRAL_FALSY, "continue_final_message is not implemented"},
    /* llama.cpp's */
    {"n_predict", 3, NEUTRAL_FALSY, "n_predict is llama.cpp's name: use max_tokens"},
    {"dynatemp_range", 3, NEUTRAL_FALSY, "dynamic temperature is not implemented"},
    {"xtc_probability", 3, NEUTRAL_FALSY, "XTC sampling is not implemented"},
    {"dry_multiplier", 3, NEUTRAL_FALSY, "DRY sampling is not implemented"},
    {"top_n_sigma", 3, NEUTRAL_FALSY, "top-n-sigma sampling is not implemented"},
    {"tfs_z", 3, NEUTRAL_ONE, "tail-free sampling is not implemented"},
};
#define N_FIELDS (int)(sizeof FIELDS / sizeof FIELDS[0])

static int neutral(const json_t *v, int how) {
    if (json_is_null(v)) return 1;
    switch (how) {
    case NEUTRAL_ONE: return json_is_number(v) && json_number_value(v) == 1;
    case NEUTRAL_TEXT_FORMAT: {
        const json_t *t = json_is_object(v) ? json_object_get(v, "type") : NULL;
        return json_is_string(t) && !strcmp(json_string_value(t), "text");
    }
    case NEUTRAL_TEXT_ONLY:
        if (!json_is_array(v)) return 0;
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *m = json_array_get(v, i);
            if (!json_is_string(m) || strcmp(json_string_value(m), "text")) return 0;
        }
        return 1;
    default:
        if (json_is_false(v)) return 1;
        if (json_is_number(v)) return json_number_value(v) == 0;
        if (json_is_string(v)) return json_string_length(v) == 0;
        if (json_is_object(v)) return json_object_size(v) == 0;
        if (json_is_array(v)) return json_array_size(v) == 0;
        return 0;
    }
}

int srv_check_unsupported(json_t *body, int chat, srv_error *e) {
    for (int i = 0; i < N_FIELDS; i++) {
        const unsupported *f = &FIELDS[i];
        if (!(f->where & (chat ? 1 : 2))) continue;
        json_t *v = json_object_get(body, f->name);
        if (v && !neutral(v, f->neutral))
            return srv_fail(e, 400, f->name, "unsupported_parameter", "'%s' is not supported by this server: %s",
                            f->name, f->what);
    }
    return 0;
}

int srv_parse_logprobs(json_t *body, int chat, srv_gen_req *r, srv_error *e) {
    long long v;
    int k, on = 0;
    if (chat) {
        /* logprobs: true, top_logprobs: 0..20 (only with logprobs, as OpenAI requires) */
        if (jx_bool(body, "logprobs", &on, e) < 0) return -1;
        if ((k = jx_int(body, "top_logprobs", 0, QWEN3_MAX_TOP_LOGPROBS, &v, e)) < 0) return -1;
        if (k && !on) return srv_bad(e, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
        r->params.logprobs = on;
        r->params.top_logprobs = k ? (int)v : 0;
        return 0;
    }
    /* completions: logprobs: N (the N most likely tokens beside the chosen one), echo: the prompt
     * first, with its tokens' logprobs when logprobs is set */
    if ((k = jx_int(body, "logprobs", 0, QWEN3_MAX_TOP_LOGPROBS, &v, e)) < 0) return -1;
    r->params.logprobs = k;
    r->params.top_logprobs = k ? (int)v : 0;
    if (jx_bool(body, "echo", &r->echo, e) < 0) return -1;
    r->params.prompt_logprobs = r->echo && k;
    return 0;
}

/* The schema of a json_schema / guided_json field: an object, or a string holding one. */
static qwen3_grammar *compile_schema(json_t *v, const char *param, srv_error *e) {
    qwen3_err qe = {0};
    qwen3_grammar *g = NULL;
    if (json_is_string(v)) {
        g = qwen3_grammar_json_schema(json_string_value(v), json_string_length(v), &qe);
    } else if (json_is_object(v) || json_is_boolean(v)) {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!t) { srv_fail(e, 500, NULL, NULL, "out of memory"); return NULL; }
        g = qwen3_grammar_json_schema(t, strlen(t), &qe);
        free(t);
    } else {
        srv_bad(e, param, "'%s' must be a JSON Schema (an object), got %s", param, jx_type_name(v));
        return NULL;
    }
    if (!g) srv_fail(e, 400, param, "unsupported_parameter", "'%s': %s", param, qe.msg);
    return g;
}

int srv_parse_structured(json_t *body, srv_gen_req *r, srv_error *e) {
    static const char *const names[] = {"response_format", "grammar", "json_schema", "guided_json"};
    const char *given = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *v = json_object_get(body, names[i]);
        if (!v || json_is_null(v)) continue;
        if (i == 0 && neutral(v, NEUTRAL_TEXT_FORMAT)) continue;
        if (i > 0 && neutral(v, NEUTRAL_FALSY) && !json_is_object(v)) continue;
        if (given)
            return srv_bad(e, names[i], "'%s' and '%s' both constrain the output; give one of them", given, names[i]);
        given = names[i];
        qwen3_grammar *g = NULL;
        qwen3_err qe = {0};
        if (i == 0) {
            const json_t *t = json_is_object(v) ? json_object_get(v, "type") : NULL;
            const char *type = json_is_string(t) ? json_string_value(t) : NULL;
            if (!type)
                return srv_bad(e, "response_format", "'response_format' must be an object with a 'type' (\"text\", "
                                                     "\"json_object\" or \"json_schema\")");
            if (!strcmp(type, "json_object")) {
                g = qwen3_grammar_json_schema(NULL, 0, &qe);
                if (!g) return srv_fail(e, 500, NULL, NULL, "%s", qe.msg);
            } else if (!strcmp(type, "json_schema")) {
                json_t *js = json_object_get(v, "json_schema");
                if (!json_is_object(js))
                    return srv_bad(e, "response_format", "'response_format.json_schema' must be an object holding "
                                                         "'name' and 'schema'");
                json_t *sc = json_object_get(js, "schema");
                if (!sc) sc = json_true(); /* no schema: any JSON value */
                if (!(g = compile_schema(sc, "response_format", e))) return -1;
            } else {
                return srv_fail(e, 400, "response_format", "unsupported_parameter",
                                "'response_format' type '%s' is not supported (\"text\", \"json_object\" or "
                                "\"json_schema\")", type);
            }
        } else if (i == 1) {
            if (!json_is_string(v)) return srv_bad(e, "grammar", "'grammar' must be a string (GBNF), got %s", jx_type_name(v));
            g = qwen3_grammar_gbnf(json_string_value(v), json_string_length(v), &qe);
            if (!g) return srv_bad(e, "grammar", "'grammar': %s", qe.msg);
        } else {
            if (!(g = compile_schema(v, names[i], e))) return -1;
        }
        r->grammar = g;
        r->params.grammar = g;
        r->params.grammar_think = r->thinking;
    }
    return 0;
}

int srv_tool_grammar(json_t *tools, srv_gen_req *r, srv_error *e) {
    if (r->grammar)
        return srv_bad(e, "tool_choice", "'tool_choice' %s constrains the answer to a tool call; a response_format or "
                                         "grammar beside it is not supported", r->tool_choice == SRV_TOOLS_NAMED ? "naming a function" : "\"required\"");
    /* one alternative per rendered tool: {"name": const, "arguments": parameters}, name first as
     * Qwen3's template writes it */
    json_t *any = json_array();
    for (size_t i = 0; i < json_array_size(tools); i++) {
        json_t *t = json_array_get(tools, i), *f = json_object_get(t, "function");
        json_t *name = json_is_object(f) ? json_object_get(f, "name") : NULL;
        json_t *params = json_is_object(f) ? json_object_get(f, "parameters") : NULL;
        if (!json_is_string(name)) continue;
        json_t *props = json_object();
        json_object_set_new(props, "name", json_pack("{s:O}", "const", name));
        json_object_set_new(props, "arguments", params && json_is_object(params) ? json_deep_copy(params)
                                                                                  : json_pack("{s:s}", "type", "object"));
        json_array_append_new(any, json_pack("{s:s, s:o, s:[s,s]}", "type", "object", "properties", props, "required",
                                             "name", "arguments"));
    }
    json_t *schema = json_pack("{s:o}", "anyOf", any);
    char *text = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
    json_decref(schema);
    if (!text) return srv_fail(e, 500, NULL, NULL, "out of memory");
    qwen3_err qe = {0};
    r->grammar = qwen3_grammar_json_schema_in(text, strlen(text), "<tool_call>\n", "\n</tool_call>", &qe);
    free(text);
    if (!r->grammar)
        return srv_fail(e, 400, "tools", "unsupported_parameter", "a tool's parameters cannot constrain the call "
                                                                  "tool_choice asks for: %s", qe.msg);
    r->params.grammar = r->grammar;
    r->params.grammar_think = r->thinking;
    return 0;
}
