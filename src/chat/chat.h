/* chat.h - internals shared by the chat module's files (the public API is in include/qwen3.h).
 *
 *   template.c     which template a model directory carries (identify, detect)
 *   render.c       messages -> prompt, the Qwen3 template's logic in C
 *   render_json.c  JSON request -> messages (type checks, errors naming index and field)
 *   parse.c        generated text -> reasoning, content, tool calls (incremental)
 *   pyjson.c       Python json.dumps output, for tojson */
#ifndef QWEN3_CHAT_CHAT_H
#define QWEN3_CHAT_CHAT_H

#include <jansson.h>
#include <stdint.h>

#include "base/err.h"
#include "base/buf.h"

/* qwen3_chat_render with the tools already parsed (each a JSON object). */
char *chat_render(qwen3_chat_kind kind, const qwen3_chat_msg *m, int n, json_t *const *tools, int n_tools,
                  const qwen3_chat_opts *opts, size_t *len, qwen3_err *err);

/* Appends the normalised form of a Jinja template (see template.c) to out. */
void chat_template_normalize(const char *t, size_t n, sbuf *out);

/* FNV-1a 64 of n bytes: the fingerprint of a normalised template. */
uint64_t chat_fnv1a(const char *s, size_t n);

/* The chat template text of MODEL (chat_template.jinja, tokenizer_config.json, or a GGUF's
 * tokenizer.chat_template; template.c), malloc'd; for `qwen3 quantize` to copy into a GGUF. */
char *chat_template_text(const char *path, size_t *len, qwen3_err *err);

#endif
