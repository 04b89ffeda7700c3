/* turn.h - what `qwen3 run` and `qwen3 chat` share: the generation flags, and one streamed turn
 * (generation stepped to the end, output split by the chat parser, shown as it arrives, Ctrl-C
 * cancelling it). */
#ifndef QWEN3_CLI_TURN_H
#define QWEN3_CLI_TURN_H

#include "qwen3.h"

/* Generation flags as given; a sampling value not given keeps the mode's default. */
typedef struct cli_gen_opts {
    double temp, top_p, min_p, presence, frequency, repeat; /* NAN: not given */
    long top_k;                                             /* -1: not given */
    int seed_set;
    uint64_t seed;
    long max_tokens;    /* -n; 0: until the context is full */
    long think_budget;  /* -1: none */
    long think_grace;
    int no_think, hide_thinking;
    const char *system;
    const char **stop;  /* --stop, repeatable (malloc'd array of argv pointers) */
    int n_stop;
    const char *template_kind; /* --template KIND: use this chat format when detection fails */
    qwen3_grammar *grammar;    /* --json-schema FILE, --grammar FILE, --json-object (NULL: none) */
} cli_gen_opts;

void cli_gen_opts_init(cli_gen_opts *o);
void cli_gen_opts_free(cli_gen_opts *o);
/* 1: argv[*i] was a generation flag (value consumed), 0: not one, -1: bad value (message printed). */
int cli_gen_flag(int argc, char **argv, int *i, cli_gen_opts *o);
/* Help text of those flags. */
extern const char CLI_GEN_FLAGS[];
/* The sampling settings for a mode: the defaults (qwen3_sampling_defaults) overridden by the flags
 * given; a random seed unless --seed. */
void cli_gen_sampling(const cli_gen_opts *o, int thinking, const char *model_dir, qwen3_sampling *s);
/* The chat format of a model directory (or --template); -1 with the error printed. */
int cli_chat_kind(const char *dir, const cli_gen_opts *o);
/* A turn's mode for run and chat: 1 when the model thinks (qwen3_chat_thinks, with `want` from
 * --no-think or /think, and a nonzero *budget). Thinking-2507's prompt always opens "<think>", so
 * not wanting it there sets *budget to 0 (the block is closed at once). */
int cli_think_mode(int kind, int want, long *budget);

/* One turn's display and result. */
typedef struct cli_turn {
    /* set by the caller */
    int show;          /* stream the output to stdout as it comes */
    int parse;         /* split into reasoning / content / tool calls (0: raw text) */
    int in_think;      /* the prompt opened <think> */
    int hide_thinking;
    int color;         /* reasoning in ANSI dim (stdout is a terminal) */
    /* results */
    char *text;        /* the whole output text (malloc'd) */
    size_t text_len;
    int32_t *ids;      /* every generated id */
    int n_ids;
    qwen3_chat_parser *parser; /* holds reasoning, content, calls (qwen3_chat_parser_result) */
    qwen3_gen_stats stats;
    qwen3_finish finish;
    int interrupted;   /* Ctrl-C ended it */
} cli_turn;

/* Runs a generation on seq to its end. Returns 0, or 1 with the error printed (nothing of the answer
 * is printed when it fails before the first token). */
int cli_turn_run(qwen3_model *m, const qwen3_tokenizer *tok, qwen3_seq *seq, const int32_t *prompt, int n_prompt,
                 const qwen3_gen_params *p, cli_turn *t);
void cli_turn_free(cli_turn *t);

/* Prints "prompt: ... | generated: ..." speeds to stderr. */
void cli_turn_print_stats(const cli_turn *t);

#endif
