/* pyjson.h - JSON text exactly as Python's json.dumps(x, ensure_ascii=False) writes it.
 *
 * The Qwen3 chat template prints tool schemas and tool-call arguments with transformers' `tojson`
 * filter, which is json.dumps(x, ensure_ascii=False) with the default separators (", " and ": "), keys
 * in their input order, and floats as Python's repr. A prompt is only byte-identical to the one the
 * model was trained with if we write the same bytes, so this is a faithful re-implementation rather
 * than jansson's own dumper (which differs in separators, float format and escapes).
 *
 * Values come from jansson, which keeps object keys in insertion order (2.8+) and tells integers
 * (no '.', 'e' or 'E' in the text) from reals as Python's json module does. Limits shared with
 * jansson's parser, not with Python: integers must fit in 64 bits, reals must be finite, and strings
 * may not contain U+0000. */
#ifndef QWEN3_CHAT_PYJSON_H
#define QWEN3_CHAT_PYJSON_H

#include <jansson.h>

#include "base/buf.h"

/* Appends json.dumps(v, ensure_ascii=False) to b (allocation failure shows as b->oom). */
void pyjson_dump(sbuf *b, const json_t *v);

/* Appends a JSON string literal for the n bytes at s, escaped as json.dumps(ensure_ascii=False) does:
 * only '"', '\\' and the C0 controls (\b \f \n \r \t by name, the rest as \u00XX lowercase). */
void pyjson_string(sbuf *b, const char *s, size_t n);

/* Writes Python's repr(x) for a finite double into out (cap >= 32): the shortest digits that read
 * back as x, fixed notation when the decimal exponent is in [-4, 16), else d.ddde+XX.
 * Returns the length. */
int pyjson_repr_double(double x, char *out, size_t cap);

#endif
