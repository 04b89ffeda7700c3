/* qwen3_eval.h - the public C API of evaluation: verifiable synthetic tasks, the answer verifier
 * (also the reward of GRPO), and the statistics and chart of `qwen3 eval`.
 *
 * A task is one question of the synthetic generator (`qwen3 synth`): a family, a level, its operands,
 * the question text and the exact answer in its required final form (the form the training data's
 * replies end with: "579", "x = -7", "3, 17, 42"). A reply is the model's whole generated text for
 * one chat turn: "<think>\n...\n</think>\n\nANSWER" in the Qwen3 format. Errors as in qwen3.h. */
#ifndef QWEN3_EVAL_H
#define QWEN3_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "qwen3.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tasks ----------------------------------------------------------------------------------- */

typedef enum qwen3_task_family {
    QWEN3_TASK_ADD = 0,    /* a + b */
    QWEN3_TASK_SUB = 1,    /* a - b, a >= b */
    QWEN3_TASK_MUL = 2,    /* a * b */
    QWEN3_TASK_SORT = 3,   /* a list in increasing order, ", " between numbers */
    QWEN3_TASK_COUNT = 4,  /* how often a letter occurs in a word */
    QWEN3_TASK_LINEAR = 5, /* a*x + b = c over the integers, answered "x = N" */
    QWEN3_TASK_FAMILIES
} qwen3_task_family;

#define QWEN3_TASK_MAX_OPERANDS 32
#define QWEN3_TASK_TEXT 512

typedef struct qwen3_task {
    qwen3_task_family family;
    int level;                 /* 1..5: levels 1-3 are the training mix, 4-5 are held out */
    long long operands[QWEN3_TASK_MAX_OPERANDS]; /* add/sub/mul: a, b; sort: the list; count: the
                                  letter's code then the word's letters' codes; linear: a, b, c */
    int n_operands;
    char question[QWEN3_TASK_TEXT]; /* the user's question, without /think or /no_think */
    char answer[QWEN3_TASK_TEXT];   /* the exact final answer (what the reply must end with) */
} qwen3_task;

/* "add", "sub", "mul", "sort", "count", "linear"; NULL for a bad value. */
const char *qwen3_task_family_name(int family);
/* The family named s; -1 when unknown. */
int qwen3_task_family_parse(const char *s);

/* The task number `index` of the set drawn from `seed` for (family, level): a pure function of its
 * arguments (any subset of a set can be regenerated alone). Errors: family or level out of range. */
int qwen3_task_make(uint64_t seed, long index, int family, int level, qwen3_task *t, qwen3_err *err);

/* The same task asked the way people ask it: t->question rewritten in one of the varied phrasings of
 * the training data (`qwen3 synth --format fusion`: "Add 347 and 589.", "347+589=?", a word problem,
 * lists with or without commas; a quarter of the draws keep the generator's form), drawn from
 * (seed, index, family, level) alone; operands and answer unchanged. */
int qwen3_task_rephrase(uint64_t seed, long index, qwen3_task *t, qwen3_err *err);

/* ---- the verifier -------------------------------------------------------------------------------
 * Rules (strict: a GRPO reward must not pay for near misses):
 *   - A trailing "<|im_end|>" or "<|endoftext|>" (and whitespace around it) is ignored.
 *   - The think block is well-formed when the reply starts with "<think>" (no byte before it) and
 *     holds exactly one "<think>" and exactly one "</think>", after it.
 *   - Its text is what lies between the tags without the newlines the chat template puts around it;
 *     it is empty when that is only whitespace.
 *   - The final answer is the text after the last "</think>" (the whole reply when it has no think
 *     tag; nothing when a "<think>" is never closed), spaces and newlines trimmed at both ends. It is
 *     correct when it equals task->answer byte for byte: a wrong number, extra words ("The answer
 *     is 5"), a trailing period or another spacing ("x=5") are all wrong.
 *   - Mode: /no_think (mode 0) is followed by a well-formed, empty block; /think (mode 1) by a
 *     well-formed, non-empty one (a block the thinking budget cut and closed counts as non-empty). */

enum { QWEN3_MODE_ANY = -1, QWEN3_MODE_NO_THINK = 0, QWEN3_MODE_THINK = 1 };

typedef struct qwen3_verdict {
    int correct;         /* the final answer equals task->answer */
    int think_ok;        /* the think block is well-formed */
    int think_empty;     /* well-formed and empty */
    int think_tokens;    /* tokens of the think text (encoded with tok; 0 when empty); -1 without tok
                            or when the block is not well-formed */
    int think_bytes;     /* bytes of the think text (-1 when not well-formed) */
    int mode_ok;         /* the mode was followed (mode ANY: think_ok) */
    size_t answer_off, answer_len; /* the final answer's place in the reply (len 0: none) */
    double reward;       /* 1 when correct and think_ok and mode_ok, else 0 (GRPO's reward) */
} qwen3_verdict;

/* Verifies one reply (len bytes, need not be NUL-terminated) to task t given in mode (QWEN3_MODE_*).
 * Only t->answer is read (the other fields are for the caller). tok may be NULL (then think_tokens is
 * -1). Returns 0, or -1 when t has no answer or the tokenizer fails (the verdict is then all zero). */
int qwen3_verify(const qwen3_task *t, const char *reply, size_t len, int mode, const qwen3_tokenizer *tok,
                 qwen3_verdict *v, qwen3_err *err);

/* ---- statistics -------------------------------------------------------------------------------- */

/* The unbiased pass@k of Chen et al. 2021 from n samples of which c are correct:
 * 1 - C(n-c, k) / C(n, k) (1 when n - c < k). Requires 1 <= k <= n. */
double qwen3_pass_at_k(int n, int c, int k);

/* Majority vote over n answers (answers[i] of lens[i] bytes; an empty answer does not vote). Writes
 * the index of the winner (the answer with the most votes; a tie goes to the one that appeared first)
 * to *winner, or -1 when no answer votes; returns its vote count. */
int qwen3_majority(const char *const *answers, const size_t *lens, int n, int *winner);

/* A paired comparison of two systems on the same n questions: a[i], b[i] are 1 when system A / B got
 * question i right. diff = mean(b) - mean(a); the confidence interval (level, e.g. 0.95) is the
 * percentile interval of a paired bootstrap (resamples of the questions, splitmix64 from seed,
 * index = next() % n); p is McNemar's exact two-sided test (a binomial over the n01 + n10 discordant
 * pairs, p = min(1, 2 * P[X <= min(n01, n10)])). */
typedef struct qwen3_paired {
    int n, n01, n10;     /* n01: A wrong, B right; n10: A right, B wrong */
    double acc_a, acc_b, diff, lo, hi, p_mcnemar;
} qwen3_paired;
int qwen3_paired_compare(const unsigned char *a, const unsigned char *b, int n, int resamples, double level,
                         uint64_t seed, qwen3_paired *out, qwen3_err *err);

/* ---- the chart --------------------------------------------------------------------------------- */

/* Draws a line chart (white background, axes, ticks, grid, labels, a legend) and writes it as an
 * RGB PNG (zlib stored blocks: no compression library) to path. x_labels[n_x] label equally spaced
 * points; ys[s][i] in [0, 1] is series s at point i (NaN: no point); y is drawn as 0-100 %. Text is
 * drawn in a built-in 5x7 font (upper-case letters, digits, " %-.,:/()=+<>"; lower case is drawn as
 * upper case). */
int qwen3_plot_png(const char *path, const char *title, const char *x_title, const char *y_title,
                   const char *const *x_labels, int n_x, const double *const *ys, const char *const *names,
                   int n_series, qwen3_err *err);

/* The same chart over a numeric x (e.g. training steps): n points (x[i], ys[s][i]) per series, both
 * axes ranged to the data with round ticks; log_y: a logarithmic y axis (decades, ticks at 1, 2, 5)
 * where non-positive values are skipped. With several series, the first is drawn thin (a raw curve
 * under its smoothed twin). NaN: no point (the line breaks). */
int qwen3_plot_xy_png(const char *path, const char *title, const char *x_title, const char *y_title, const double *x,
                      const double *const *ys, int n, const char *const *names, int n_series, int log_y, qwen3_err *err);

#ifdef __cplusplus
}
#endif

#endif
