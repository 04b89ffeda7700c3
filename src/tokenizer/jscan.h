/* jscan.h - a small pull scanner for JSON held in memory, for tokenizer.json's large parts.
 *
 * Jansson takes half a second to build a tree of the 11 MB tokenizer.json; the tokenizer only
 * needs to stream through model.vocab (151,643 string -> int pairs) and model.merges once, so this
 * scanner reads values in place and lets the caller decide what to keep. Small parts (added_tokens,
 * normalizer, ...) are handed to jansson as byte spans. The scanner checks the full JSON grammar of
 * what it reads or skips; errors carry "FILE line L column C". Pure function of (buffer, length). */
#ifndef QWEN3_TOKENIZER_JSCAN_H
#define QWEN3_TOKENIZER_JSCAN_H

#include <stddef.h>

#include "base/err.h"

typedef struct jscan {
    const char *base, *p, *end;
    const char *file; /* for messages */
    qwen3_err *err;
    int depth;
} jscan;

void js_init(jscan *j, const char *file, const char *buf, size_t n, qwen3_err *err);
/* Sets the error to "FILE line L column C: <what>" at the current position; returns -1. */
int js_fail(jscan *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The next non-space byte without consuming it, or -1 at the end. */
int js_peek(jscan *j);
/* Consumes the next non-space byte, which must be c. */
int js_expect(jscan *j, char c, const char *what);
/* Reads a string into *buf (grown with realloc, *cap its size, NUL-terminated), *len its length in
 * bytes (it may hold NUL bytes from \u0000). Escapes are decoded; invalid UTF-8 is refused. */
int js_string(jscan *j, char **buf, size_t *cap, size_t *len);
/* Reads an integer that fits in long long. */
int js_int(jscan *j, long long *v);
/* Skips any value. */
int js_skip(jscan *j);
/* After the first member/element has been read: 1 when ',' follows (consumed), 0 when the closing
 * `close` follows (consumed), -1 on error. */
int js_more(jscan *j, char close);

#endif
