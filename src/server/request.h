/* request.h - OpenAI request bodies -> validated generation requests.
 *
 * Parsing happens on the connection's thread, before anything reaches the engine: every field is
 * type-checked (400 naming it), the chat is rendered with the model's template, the prompt is
 * tokenized and checked against the context. What comes out can only fail for lack of memory. */
#ifndef QWEN3_SERVER_REQUEST_H
#define QWEN3_SERVER_REQUEST_H

#include <jansson.h>

#include "qwen3.h"
#include "server/json.h"

/* What tool_choice asked for ("required" and a named function constrain the answer to a call). */
enum { SRV_TOOLS_AUTO = 0, SRV_TOOLS_NONE, SRV_TOOLS_REQUIRED, SRV_TOOLS_NAMED };

/* The fixed facts a request is checked against. */
typedef struct srv_model_info {
    const qwen3_tokenizer *tok;
    qwen3_chat_kind chat_kind;
    qwen3_sampling defaults[2]; /* qwen3_sampling_defaults for non-thinking [0] and thinking [1] */
    const char *model_name;
    int n_ctx;               /* tokens per sequence */
} srv_model_info;

/* One more prompt of a completions request whose "prompt" is an array. */
typedef struct srv_prompt {
    int32_t *ids;            /* malloc'd */
    int n;
    int in_think;            /* the prompt opened <think> */
    char *echo_text;         /* malloc'd (with echo) */
} srv_prompt;

/* Choices in one request at most (prompts x n): each is a generation of its own. */
#define SRV_MAX_CHOICES 64

typedef struct srv_gen_req {
    int chat;                /* 1: /v1/chat/completions, 0: /v1/completions */
    int stream;
    int include_usage;       /* stream_options.include_usage */
    int thinking;            /* the prompt lets the model think (enable_thinking and template) */
    int tool_choice;         /* SRV_TOOLS_* */
    int n_tools;             /* tools rendered into the prompt */
    char **tool_names;       /* [n_tools] their function names: the only calls answered as tool_calls */
    int32_t *prompt;         /* malloc'd */
    int n_prompt;
    qwen3_gen_params params; /* params.stop points into stop[] */
    char **stop;             /* malloc'd strings */
    int n_stop;
    int echo;                /* completions: the prompt text comes first in the answer */
    char *echo_text;         /* malloc'd: that prompt text (with echo) */
    int n_choices;           /* "n": choices per prompt (1 ...); choice k is seeded seed + k */
    srv_prompt *more;        /* completions: the prompts after the first (an array "prompt") */
    qwen3_grammar *grammar;  /* structured output (a reference; params.grammar points to it) */
    int n_more;
} srv_gen_req;

/* The request as seen by one choice: prompt p (0 .. n_more), choice k of it (0 .. n_choices-1).
 * A shallow view into r (nothing to free): its own prompt, echo text, in_think and seed. */
void srv_gen_req_choice(const srv_gen_req *r, int p, int k, srv_gen_req *view);

/* Parses a chat completion request. Rules beyond the field types:
 *  - "model", when given, must be info->model_name (404 model_not_found otherwise);
 *  - n choices (1 .. SRV_MAX_CHOICES), each its own generation, seeded seed + k so they differ
 *    while the request stays reproducible; max_completion_tokens wins over max_tokens; stop is a
 *    string or up to 16 strings;
 *  - the thinking budget is read from thinking_token_budget (vLLM) or thinking_budget_tokens
 *    (llama.cpp); -1 means unlimited;
 *  - enable_thinking comes from chat_template_kwargs (or a top-level enable_thinking);
 *  - unset sampling fields take qwen3_sampling_defaults for the mode; an unset seed is random;
 *  - tool_choice "none" renders no tools (and the caller keeps any call the model writes anyway as
 *    content); "required" and a named function are validated (tools present, the name defined) and
 *    a named function is the only tool rendered; the answer is constrained to one call (srv_tool_grammar). The names of the
 *    rendered tools go to tool_names: a call to any other function is answered as content.
 * Returns 0, or -1 with e filled (a 400/404 naming the field). */
int srv_parse_chat(const srv_model_info *info, json_t *body, srv_gen_req *r, srv_error *e);

/* Parses a completion request: "prompt" is a string, an array of strings, an array of token ids or
 * an array of arrays of token ids (as OpenAI defines it); strings are used raw, special-token text
 * included. Several prompts times n choices make prompts x n choices, prompt-major (OpenAI's
 * order). The sampling fields are as for chat (non-thinking defaults). */
int srv_parse_completion(const srv_model_info *info, json_t *body, srv_gen_req *r, srv_error *e);

void srv_gen_req_free(srv_gen_req *r);

/* options.c: chat's logprobs (bool) + top_logprobs (0..20), or completions' logprobs (0..20) + echo,
 * into r->params / r->echo. 0, or -1 with a 400 naming the field. */
int srv_parse_logprobs(json_t *body, int chat, srv_gen_req *r, srv_error *e);
/* options.c: structured output: response_format (json_object, json_schema), llama.cpp's grammar
 * (GBNF) and json_schema, vLLM's guided_json -> r->grammar; one of them at most. 0, or -1 with a 400
 * naming the field (and, for a schema, the keyword refused). */
int srv_parse_structured(json_t *body, srv_gen_req *r, srv_error *e);
/* options.c: tool_choice "required" or a named function: the answer is constrained to one call of a
 * rendered tool, "<tool_call>\n{"name": NAME, "arguments": ARGS}\n</tool_call>", ARGS valid against the
 * function's parameters schema (the subset structured output takes; another keyword is a 400 naming
 * the tool). A response_format or grammar beside it is a 400. */
int srv_tool_grammar(json_t *tools, srv_gen_req *r, srv_error *e);
/* options.c: a 400 naming the first option set to a non-neutral value that this server does not
 * implement (response_format, logit_bias, suffix, grammar, ...). 0 when there is none. */
int srv_check_unsupported(json_t *body, int chat, srv_error *e);
/* messages.c: the messages as the template reads them (a new array; the caller decrefs it): list
 * content joined into a string (text parts, "\n" between them; other part types are a 400 naming
 * them), role "developer" -> "system". NULL with e filled. */
json_t *srv_messages_normalize(json_t *msgs, srv_error *e);

/* Checks body["model"] against the served name: 0, or -1 with a 404 model_not_found. */
int srv_check_model(const srv_model_info *info, json_t *body, srv_error *e);

#endif
