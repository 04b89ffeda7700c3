/* mdir.h - which files a model holds: the one owner of that fact.
 *
 * MODEL is a Hugging Face directory (config.json, the weights, tokenizer and chat template files),
 * a GGUF file (config, weights, tokenizer and template in one file, or the parts of a split set), or
 * a directory holding one GGUF model. Every reader of a model's files asks here which files they are
 * and which of them wins when several could serve: the loader (model/model.c, model/weights.c), the
 * tokenizer (tokenizer/load.c), the chat template (chat/template.c), the MODEL check
 * (hub/resolve.c), the hub's downloads and cache listing (hub/pull.c, cache.c, name.c), the writers
 * of model directories (qwen3 quantize, training's export) and training's loader (train/io.c).
 *
 * The rules (tests/unit/test_mdir.c checks each on a table of directories):
 *   - a directory holding config.json is a Hugging Face directory, even when a .gguf sits beside it;
 *     otherwise a directory holding exactly one GGUF model (a single .gguf, or the first part of a
 *     split set) is that GGUF file; several models, or only later parts of a split set, are errors;
 *   - a file is GGUF when its name ends in .gguf (any case) or it starts with the GGUF magic; a later
 *     part of a split set is refused (the first part names the others: NAME-0000k-of-0000N.gguf);
 *   - weights: model.safetensors.index.json (its weight_map names the shards) wins over
 *     model.safetensors; other top-level *.safetensors count as weights for the MODEL check and
 *     for downloads, which take every top-level .safetensors when there is no index;
 *   - tokenizer: tokenizer.json wins over vocab.json + merges.txt (both needed); tokenizer_config.json
 *     adds the added tokens; a GGUF's own tokenizer serves only when neither tokenizer.json nor
 *     vocab.json sits beside it;
 *   - chat template: chat_template.jinja wins over tokenizer_config.json's "chat_template" (as
 *     transformers since 4.47); a GGUF's own serves only when neither sits beside it. */
#ifndef QWEN3_FORMAT_MDIR_H
#define QWEN3_FORMAT_MDIR_H

#include <stddef.h>

#include "base/err.h"

/* The files of a Hugging Face model directory. */
#define MDIR_CONFIG "config.json"
#define MDIR_WEIGHTS "model.safetensors"
#define MDIR_INDEX "model.safetensors.index.json"
#define MDIR_TOKENIZER "tokenizer.json"
#define MDIR_VOCAB "vocab.json"
#define MDIR_MERGES "merges.txt"
#define MDIR_TOK_CONFIG "tokenizer_config.json"
#define MDIR_TEMPLATE "chat_template.jinja"
#define MDIR_GENERATION "generation_config.json"

/* The tokenizer's files a copy of a model carries (NULL-terminated), and every file other than the
 * weights (config, generation config, tokenizer, template, special tokens map): what `qwen3
 * quantize` copies beside the weights it writes. */
extern const char *const mdir_tokenizer_files[];
extern const char *const mdir_side_files[];

typedef enum { MDIR_NONE = 0, MDIR_HF = 1, MDIR_GGUF = 2 } mdir_kind;
typedef enum { MDIR_W_NONE = 0, MDIR_W_SINGLE, MDIR_W_INDEX, MDIR_W_OTHER } mdir_weights;
typedef enum { MDIR_T_NONE = 0, MDIR_T_JSON, MDIR_T_VOCAB_MERGES, MDIR_T_VOCAB_ONLY, MDIR_T_MERGES_ONLY } mdir_tok;
typedef enum { MDIR_C_NONE = 0, MDIR_C_JINJA, MDIR_C_TOK_CONFIG } mdir_chat;

/* What one MODEL path holds. */
typedef struct mdir {
    mdir_kind kind;     /* MDIR_NONE: no such path, or neither config.json nor a GGUF model there */
    char dir[4096];     /* the directory of its other files: path itself, or the directory of the file */
    char gguf[4096];    /* kind MDIR_GGUF: the file to open (the first part of a split set) */
    mdir_weights weights; /* kind MDIR_HF: which weights file(s) */
    mdir_tok tok;       /* the HF tokenizer files in dir (whatever the kind) */
    int tok_config;     /* dir holds tokenizer_config.json */
    mdir_chat chat;     /* the HF template file in dir that serves (whatever the kind) */
} mdir;

/* Looks at path. 0 with d filled (kind MDIR_NONE when path does not exist or holds no model: the
 * caller says what it needed); -1 with e set for an ambiguous or broken one (several GGUF models in
 * a directory, only a later part of a split set, a path too long), d->dir, tok, tok_config and
 * chat still filled. Reads directory entries and the first bytes of a file without a .gguf name,
 * nothing else. */
int mdir_open(const char *path, mdir *d, qwen3_err *e);
/* 1 when an HF tokenizer file sits in d->dir (tokenizer.json, or vocab.json: its loader then asks
 * for merges.txt), so it serves rather than a GGUF's own. */
int mdir_hf_tokenizer(const mdir *d);
/* 0 when directory dir holds a complete HF tokenizer (tokenizer.json, or vocab.json + merges.txt),
 * else -1 with e naming dir: what a writer of a model directory checks before copying from it. */
int mdir_check_tokenizer_dir(const char *dir, qwen3_err *e);
/* 1 when the tokenizer (the chat template) is the GGUF's own: d is GGUF and no HF file beside it serves. */
int mdir_gguf_tokenizer(const mdir *d);
int mdir_gguf_chat(const mdir *d);
/* Copies those of names (NULL-terminated: mdir_side_files, mdir_tokenizer_files) that exist in
 * directory from into directory to (which exists), each through a temporary name. 0, or -1 (e set). */
int mdir_copy_files(const char *from, const char *to, const char *const *names, qwen3_err *e);
/* dir/name into out. 0, or -1 with e set when it does not fit. */
int mdir_path(const mdir *d, const char *name, char *out, size_t n, qwen3_err *e);

/* ---- names */
/* 1 when name ends in ".gguf" (any case). */
int mdir_is_gguf_name(const char *name);
/* 1 when name is a top-level "*.safetensors" (no directory part). */
int mdir_is_safetensors_name(const char *name);
/* 1 when a repository file is one a download takes besides the weights: a top-level *.json,
 * *.jinja, or merges.txt (config, generation config, tokenizer, template, index). */
int mdir_is_side_name(const char *name);
/* The split-set suffix of a GGUF file name (its base name): "NAME-0000k-of-0000N.gguf" (five digits
 * each, as ggml writes them, 1 <= k <= N): 1 with *k and *n set, else 0. */
int mdir_gguf_split(const char *name, int *k, int *n);
/* For the first file of a split set: N (1 for a single file), and the path of part k (1-based). */
int mdir_gguf_split_count(const char *path);
int mdir_gguf_split_path(const char *first, int k, char *out, size_t n, qwen3_err *e);

#endif
