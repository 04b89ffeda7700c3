/* eval.h - `qwen3 eval`'s runner and report (cli/eval_run.c), behind the flags of cli/cmd_eval.c. */
#ifndef QWEN3_CLI_EVAL_H
#define QWEN3_CLI_EVAL_H

#include <stdio.h>

#include "cli/cli.h"
#include "qwen3_eval.h"

typedef struct eval_opts {
    const char *models[2];   /* resolved paths; models[1] NULL: no comparison */
    int per_level;           /* questions per family and level */
    int lo[2], hi[2];        /* levels of the in-distribution [0] and out-of-distribution [1] sets */
    int n_sets;              /* 1: in-distribution only */
    int families[QWEN3_TASK_FAMILIES]; /* 1: asked */
    uint64_t seed;
    int k;                   /* samples per question (0: no sampled runs) */
    const int *budgets;      /* increasing; 0 = /no_think */
    int n_budgets;
    int max_tokens, batch, quiet;
    int resamples;           /* paired bootstrap resamples */
    const char *think_flag;  /* appended to thinking-mode questions ("" : nothing) */
    const char *png;         /* the budget chart (with budgets) */
    const char *rescore;     /* judge the replies of this --replies file again instead of generating */
    int varied;              /* 1: questions in the varied phrasings (qwen3_task_rephrase) */
} eval_opts;

/* Runs every job on each model, writes the replies (when replies is not NULL), prints the tables
 * (or one JSON object) and draws the chart. Returns the exit status. */
int eval_run(const eval_opts *o, const cli_model_opts *mo, FILE *replies, int as_json);

#endif
