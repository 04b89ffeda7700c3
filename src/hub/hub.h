/* hub.h - model names and the Hugging Face hub cache (internal to src/hub/).
 *
 * A model name is what a user types as MODEL: a local path, or a hub name "ORG/NAME[@REVISION][:TAG]"
 * (also "hf.co/ORG/NAME:TAG" as Ollama writes it, and "https://huggingface.co/ORG/NAME"). Hub files
 * live in huggingface_hub's own cache layout, so that a model downloaded by transformers is found
 * here and ours is found there:
 *
 *   CACHE/models--ORG--NAME/blobs/ETAG                 the bytes (ETAG: LFS sha256, else git blob sha1)
 *   CACHE/models--ORG--NAME/snapshots/COMMIT/FILE      symlink to ../../blobs/ETAG (one more ../ per
 *                                                      directory in FILE)
 *   CACHE/models--ORG--NAME/refs/REVISION              the COMMIT that REVISION (a branch or tag) named
 *   CACHE/.locks/models--ORG--NAME/ETAG.lock           flock(2) while a blob is being downloaded
 *
 * CACHE is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub (huggingface_hub's constants.py). */
#ifndef QWEN3_HUB_H
#define QWEN3_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define HUB_PATH_MAX 4096

typedef struct hub_name {
    char org[97], repo[97]; /* [A-Za-z0-9._-]{1,96} each */
    char id[200];           /* "ORG/NAME" */
    char rev[256];          /* "" when not given (then "main") */
    char tag[64];           /* GGUF quant tag ("Q4_K_M"), "" when not given */
} hub_name;

/* Parses a hub name. Returns 0 when s is one; -1 (with a message saying the expected form) when not.
 * Pure function of the string: no file system access. */
int hub_name_parse(const char *s, hub_name *n, qwen3_err *e);
/* 1 when s is written as a local path ("/x", "./x", "../x", "~/x", "x/" ...), so never a hub name. */
int hub_is_path_form(const char *s);
/* The revision to use: n->rev, or "main". */
const char *hub_rev(const hub_name *n);
/* 1 when s is 40 hex digits (a commit id). */
int hub_is_commit(const char *s);

/* The cache root (see above) into buf. */
int hub_cache_dir(char *buf, size_t cap, qwen3_err *e);
/* CACHE/models--ORG--NAME into buf. */
int hub_repo_dir(const hub_name *n, char *buf, size_t cap, qwen3_err *e);

/* A model found in the cache: the snapshot directory, and for a GGUF name the file in it. Returns 0
 * and fills path (the directory, or the .gguf file, or the first file of a split set); -1 when it is
 * not there, with a message saying where it was looked for. */
int hub_find_cached(const hub_name *n, char *path, size_t cap, qwen3_err *e);

/* GGUF quant tags. files: n relative file names of a repo revision. Picks the files of the one GGUF
 * model that matches tag (case-insensitive, a whole "-"/"."/"/"-delimited token of the name: "Q4_K"
 * does not match "Q4_K_M"), with every part of a split set ("-00001-of-00003"). With tag "" (or
 * "latest"), the repo's only GGUF model, else its Q4_K_M (Ollama's default). mmproj-* files are never
 * picked. pick[i] is set to 1 for the files chosen; *first gets the index of the file to load (the
 * single file, or part 1). Returns the number picked, or -1 with a message listing the tags there. */
int hub_gguf_pick(const char *const *files, int n, const char *tag, unsigned char *pick, int *first, qwen3_err *e);

/* A validated relative file name from a repo listing: no "..", no leading "/", no backslash, no
 * control characters, so it can be joined under a snapshot directory. */
int hub_safe_relpath(const char *f);

/* snprintf whose truncation the caller checks (or accepts) through the return value, as snprintf's;
 * a function so that the compiler's truncation warnings do not fire on every path join. */
int hub_pathf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mkdir -p of every directory above path (not path itself). */
int hub_mkdirs_for(const char *path, qwen3_err *e);

/* SHA-256 (FIPS 180-4). */
typedef struct hub_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} hub_sha256;
void hub_sha256_init(hub_sha256 *s);
void hub_sha256_update(hub_sha256 *s, const void *data, size_t n);
void hub_sha256_final(hub_sha256 *s, char hex[65]);
/* The sha256 of a whole file as 64 lowercase hex digits. */
int hub_sha256_file(const char *path, char hex[65], qwen3_err *e);

#endif
