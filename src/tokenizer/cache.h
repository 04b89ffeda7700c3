/* cache.h - the tokenizer's binary cache (cache.c). */
#ifndef QWEN3_TOKENIZER_CACHE_H
#define QWEN3_TOKENIZER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tok.h"

/* A fast non-cryptographic 64-bit hash of n bytes. */
uint64_t tk_hash64(const void *p, size_t n, uint64_t seed);
/* The cache file for key; -1 when caching is off (QWEN3_NO_CACHE) or no cache directory is known. */
int tk_cache_path(char *buf, size_t n, uint64_t key);
/* Fills an empty tokenizer (cls aside) from the cache file; -1 when the file is absent or fails a
 * check (the caller then loads from the sources; t must be freed and recreated). */
int tk_cache_read(struct qwen3_tokenizer *t, const char *path, uint64_t key);
/* Writes t to path atomically; -1 on any failure (harmless: the next load parses again). */
int tk_cache_write(const struct qwen3_tokenizer *t, const char *path, uint64_t key);

#endif
