/* config.h - config.json of a Qwen3 / Qwen3-MoE checkpoint -> qwen3_config.
 *
 * Follows transformers' Qwen3Config / Qwen3MoeConfig defaults for absent fields. What we do not
 * support (another model_type, sliding windows, attention bias, a rope type other than default or
 * yarn) is refused with a message naming the field. qwen3_config_parse is a pure function of the text
 * (the fuzz target calls it). */
#ifndef QWEN3_MODEL_CONFIG_H
#define QWEN3_MODEL_CONFIG_H

#include <stddef.h>

#include "base/err.h"
#include "format/gguf.h"

/* The most layers a config may declare: a sanity bound of the parser, not part of the ABI (the
 * per-layer flags are allocated for num_layers). */
#define QWEN3_MAX_LAYERS 65536

/* Parsing fills c and allocates c->layer_is_moe; qwen3_config_free releases it (a copy of the struct
 * shares it: free the one that was filled, after the copies are done with). */
int qwen3_config_parse(const char *text, size_t len, const char *path, qwen3_config *c, qwen3_err *e);
void qwen3_config_free(qwen3_config *c);
int qwen3_config_load(const char *path, qwen3_config *c, qwen3_err *e);
/* The same from a GGUF file's metadata (and tensor list) - model/config_gguf.c. files[0] holds the
 * metadata; a split set passes all its files. */
int qwen3_config_gguf(const gguf_file *files, int n_files, qwen3_config *c, qwen3_err *e);

#endif
