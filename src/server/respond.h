/* respond.h - generated text -> OpenAI responses: chat.completion / text_completion bodies and the
 * chunks of a Server-Sent Events stream.
 *
 * The builder knows nothing of HTTP or the engine: it is fed the raw text the model produced (whole
 * UTF-8 characters, in any chunking) and the final statistics, so a scripted generation exercises
 * every shape (tool calls included) in a unit test. For chat it runs the incremental chat parser
 * and keeps reasoning, content and tool calls apart; text that does not parse stays content, raw.
 *
 * Stream layout (chat): a first chunk {"role": "assistant", "content": ""}; one chunk per
 * reasoning_content / content piece; per tool call a chunk with index, id, type and name (empty
 * arguments) then one with the arguments text; a final chunk with an empty delta and the
 * finish_reason; with include_usage a last chunk with "choices": [] and the usage (and "usage": null
 * in the others, as OpenAI does); then "data: [DONE]". */
#ifndef QWEN3_SERVER_RESPOND_H
#define QWEN3_SERVER_RESPOND_H

#include "base/buf.h"
#include "qwen3.h"

typedef struct srv_resp {
    int chat;              /* chat.completion vs text_completion */
    int stream;            /* stream chunks as text arrives; else only accumulate */
    int include_usage;
    int index;             /* the choice's index (several choices: prompts x n) */
    int no_tail;           /* streaming several choices: finish emits only this choice's final chunk;
                              the caller ends the stream with srv_resp_stream_tail */
    char **tools;          /* [n_tools] the functions the request offered: a call to any other (or
                              any call at all when there are none, as with tool_choice "none") is
                              written back as text into content */
    int n_tools;
    char id[64];           /* "chatcmpl-..." / "cmpl-..." */
    char model[256];
    long created;
    qwen3_chat_parser *parser; /* chat only */
    sbuf reasoning, content;   /* everything so far (the non-streaming body) */
    char **call_name, **call_args, **call_id;
    int n_calls, cap_calls;
    int started;               /* the role chunk is out */
    int oom;
    /* log-probabilities (srv_resp_logprobs_on): chat {"content": [entries]}, completions
     * {"tokens", "token_logprobs", "top_logprobs", "text_offset"} */
    const qwen3_tokenizer *tok;
    json_t *lp;
    long lp_chars;             /* completions: characters of the text so far (text_offset) */
} srv_resp;

/* in_think: the prompt opened <think> (the output starts inside reasoning). tools[n_tools]: the
 * function names that calls may use (copied). Returns 0 or -1. */
int srv_resp_init(srv_resp *r, int chat, int stream, int include_usage, int in_think, const char *const *tools,
                  int n_tools, const char *model, qwen3_err *err);
void srv_resp_free(srv_resp *r);

/* Appends the SSE events that the stream's start needs (the role chunk) to out. */
void srv_resp_start(srv_resp *r, sbuf *out);
/* Feeds generated text; when streaming, appends the SSE events it completes to out. */
int srv_resp_feed(srv_resp *r, const char *text, size_t len, sbuf *out, qwen3_err *err);
/* Ends the generation: flushes the parser, then when streaming appends the final chunk, the usage
 * chunk (include_usage) and "data: [DONE]". Call once. */
int srv_resp_finish(srv_resp *r, qwen3_finish f, const qwen3_gen_stats *st, sbuf *out, qwen3_err *err);
/* The whole non-streaming body (after srv_resp_finish), malloc'd. */
char *srv_resp_body(srv_resp *r, qwen3_finish f, const qwen3_gen_stats *st, size_t *len);
/* The same for several choices rs[0..n) (each finished; f[i] their finishes) with the summed usage
 * st; the id, created time and model are rs[0]'s. */
char *srv_resp_body_n(srv_resp *const *rs, int n, const qwen3_finish *f, const qwen3_gen_stats *st, size_t *len);
/* Ends a stream of several choices: the usage chunk (include_usage; st summed) and "data: [DONE]". */
void srv_resp_stream_tail(srv_resp *r, const qwen3_gen_stats *st, sbuf *out);
/* Makes r share first's id and created time (the choices of one response). */
void srv_resp_same_id(srv_resp *r, const srv_resp *first);
/* Turns log-probabilities on (tok gives the tokens' text). */
int srv_resp_logprobs_on(srv_resp *r, const qwen3_tokenizer *tok);
/* Adds n tokens' records (after the text they belong to was fed); when streaming, appends one chunk
 * carrying them (with an empty delta). */
int srv_resp_logprobs(srv_resp *r, const qwen3_logprob *lp, int n, sbuf *out, qwen3_err *err);
/* Completions' echo: the prompt's text first, with its tokens' records when lp is not NULL. Call
 * before any generated text. */
int srv_resp_echo(srv_resp *r, const char *prompt, size_t len, const qwen3_logprob *lp, int n, sbuf *out,
                  qwen3_err *err);

/* An SSE event carrying an error object (for a failure after the stream began). */
void srv_resp_stream_error(sbuf *out, const char *body);

/* "stop", "length" or "tool_calls" as OpenAI names them. */
const char *srv_finish_name(const srv_resp *r, qwen3_finish f);

#endif
