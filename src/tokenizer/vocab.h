/* vocab.h - building the token tables (vocab.c), for the loader. */
#ifndef QWEN3_TOKENIZER_VOCAB_H
#define QWEN3_TOKENIZER_VOCAB_H

#include "tokenizer/tok.h"

#define TK_MAX_IDS (1 << 24) /* ids beyond this are refused as malformed */

/* Stores the bytes of token id (growing the id arrays); -1 on out of memory or a bad id. A second
 * call for the same id replaces the bytes (added tokens over vocabulary entries). */
int tk_token_set(struct qwen3_tokenizer *t, int32_t id, const void *p, size_t n);
/* Builds the bytes -> id hash over ids [0, n_vocab). */
int tk_vocab_index(struct qwen3_tokenizer *t, int n_vocab);
/* Adds merge (a, b) -> id with its rank; -1 on out of memory. */
int tk_merge_add(struct qwen3_tokenizer *t, uint32_t a, uint32_t b, uint32_t rank, uint32_t id);

/* The byte-level alphabet of GPT-2: byte b is written as code point tk_byte_char(b); the reverse
 * maps code points below 0x144 back to bytes (-1 when not in the alphabet). */
uint32_t tk_byte_char(unsigned b);
int tk_char_byte(uint32_t cp);

#endif
