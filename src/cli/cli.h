/* cli.h - the `qwen3` command: one file per subcommand (cmd_NAME.c), each `int cmd_NAME(argc, argv)`
 * where argv[0] is the subcommand name. Returns the process exit status. Helpers for flags here. */
#ifndef QWEN3_CLI_H
#define QWEN3_CLI_H

#include <stdio.h>

#include "qwen3.h"

typedef struct cli_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} cli_cmd;

/* subcommands (one per file) */
int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_train_grads(int argc, char **argv);
int cmd_train_post(int argc, char **argv); /* train --mode grpo|distill (cmd_post.c) */
int cmd_synth(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_unpack(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Prints "qwen3: <msg>" to stderr and returns 1 (exit status). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Strict number parsing: the whole string must be a number in [lo, hi]; else prints an error naming
 * the flag and returns -1. */
int cli_int(const char *flag, const char *s, long lo, long hi, long *out);
int cli_float(const char *flag, const char *s, double lo, double hi, double *out);
/* Reads f to its end: malloc'd and NUL-terminated (*len gets the length, NUL bytes inside
 * included). NULL when it holds more than `limit` bytes, a read fails or memory runs out; *why
 * then says which ("larger than 16 MiB", "a read failed", "out of memory"). */
char *cli_read_all(FILE *f, size_t limit, size_t *len, const char **why);
/* Parses "1,2,3" into a malloc'd array; errors name the flag and the bad element. */
int cli_ids(const char *flag, const char *s, int32_t **ids, int *n);
/* 1 when NO_COLOR is set and not empty (no-color.org): no ANSI colours then. */
int cli_no_color(void);
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *a);

/* Flags shared by commands that load a model: -t/--threads, --ctx, --quant. */
typedef struct cli_model_opts {
    qwen3_load_opts load;
    int ctx;  /* 0: the model's maximum */
    int pull; /* --pull: download a hub name that is not in the cache */
} cli_model_opts;
/* 1: argv[*i] was a model flag (its value consumed), 0: not one, -1: bad value (message printed). */
int cli_model_flag(int argc, char **argv, int *i, cli_model_opts *o);
/* MODEL as typed -> a checked local path (qwen3_model_resolve with need = QWEN3_NEED_* bits); with
 * pull, a hub name not in the cache is downloaded first. Prints the error and returns NULL on
 * failure. The path lives in a static buffer (four in rotation: enough for a command's models). */
const char *cli_model_path(const char *model, int need, int pull);
/* The trained default model (see README, "The default model"): $QWEN3_DEFAULT_MODEL, else
 * default-model beside the running binary (the build: build/rel/default-model), else
 * ../share/qwen3/default-model from the binary's directory (make install). NULL, with a message
 * saying how to get one, when none exists. */
const char *cli_default_model(void);
/* 1 when s names a model: an existing path, or a hub name ORG/NAME (optionally :TAG). */
int cli_looks_like_model(const char *s);
/* qwen3_pull with a progress bar on a terminal; prints the error. 0 or -1. */
int cli_pull(const char *name, char *path, size_t n);
/* The help text of the flags cli_model_flag takes, for commands whose default is the fast path
 * (run, chat, serve, bench) or the exact one (info, logits, generate, perplexity). */
extern const char CLI_MODEL_FLAGS_FAST[];
extern const char CLI_MODEL_FLAGS_EXACT[];
/* The CPUs this process may run on (its affinity mask). */
int cli_cpu_count(void);
/* asked, or the CPU count with a warning on stderr naming the flag when asked is more. */
int cli_clamp_threads(const char *flag, long asked);
/* A --quant value: a block type's name (q8_0, q4, q4_k, iq4_xs, ...) or q4_k_m / q5_k_m (llama.cpp's
 * mix, *mix = 1). 0 on success. */
int cli_quant_type(const char *s, qwen3_dtype *t, int *mix);
/* Sets o's progress callback to a display of quantization's progress on stderr, when it is a
 * terminal (cli_load_model does this for --quant). */
void cli_quant_progress(qwen3_load_opts *o);
/* Loads a model, printing the error on failure. */
qwen3_model *cli_load_model(const char *dir, const cli_model_opts *o);
/* Warns once per process on stderr when n positions pass the model's trained context and no RoPE
 * scaling is configured. */
void cli_warn_positions(const qwen3_model *m, long n);
/* --prompt TEXT -> token ids with the model directory's tokenizer (special tokens recognised, so a
 * rendered chat prompt can be given as is): *ids malloc'd, *n > 0. Prints the error and returns -1
 * on failure (logits, generate). */
int cli_prompt_ids(const char *dir, const char *text, int32_t **ids, int *n);

/* Speculative decoding's flags (draft.c): --draft MODEL, --draft-n K. */
typedef struct cli_draft_opts {
    const char *model; /* NULL: no draft */
    int n;             /* 0: the default (QWEN3_DRAFT_N) */
} cli_draft_opts;
extern const char CLI_DRAFT_FLAGS[];
/* 1: argv[*i] was a draft flag (value consumed), 0: not one, -1: bad value (message printed). */
int cli_draft_flag(int argc, char **argv, int *i, cli_draft_opts *d);
/* Loads d->model with the target's load flags o, after checking that its tokenizer has the same
 * vocabulary as tok (or as target_dir's tokenizer when tok is NULL and it has one) and that its
 * vocab_size is the target's. NULL with the error printed. */
qwen3_model *cli_draft_load(const cli_draft_opts *d, const char *target_dir, const qwen3_model *target,
                            const qwen3_tokenizer *tok, const cli_model_opts *o);
/* "draft: N of M drafted tokens accepted (P%), T tokens per target pass, ..." on stderr (nothing
 * without a draft). */
void cli_draft_print_stats(const qwen3_gen_stats *s);

#endif
