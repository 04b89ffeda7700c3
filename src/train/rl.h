/* rl.h - the post-training losses on one row of logits (train/grpo.c, train/distill.c) and the
 * trainer internals the post-training modes drive (train/trainer.c).
 *
 * The policy. The model's distribution over the next token is the softmax of its logits over the
 * ids the tokenizer knows, as the inference engine samples and scores it (qwen3_logprob): the
 * embedding's padding rows (ids >= the tokenizer's size) have probability 0. In the trainer's head
 * a column is one token, except the tied column of the shared-row head, which stands for the
 * `mult` tokens of the support whose rows are one parameter (train/trainer.c). Every loss here is
 * the exact loss of that tied model over the whole support: a tied token's log-probability is
 * z_s - log Z, and the tied tokens together carry probability Q_s = mult * e^{z_s} / Z. Each
 * function works on the columns with the tied one aggregated (logit z_s + log mult), takes the
 * derivative with respect to the tied parameter z_s, and stores it divided by n_head (the rows the
 * column stands for, padding included): tmodel_backward's per-row convention, which multiplies the
 * column by n_head again for the hidden state's gradient.
 *
 * Each *_token function turns the row z (logits, in place) into weight * dloss/dz and adds the
 * weighted loss and statistics to an rl_acc. weight 0 zeroes the row. */
#ifndef QWEN3_TRAIN_RL_H
#define QWEN3_TRAIN_RL_H

#include <stdint.h>

#include "qwen3_train.h"
#include "train/train.h"

typedef struct rl_vocab {
    int nv;          /* columns [0, nv) are the support; columns >= nv have probability 0 */
    int shared;      /* the tied column (< nv), -1 when none */
    double mult;     /* tokens of the support the tied column stands for */
    double n_head;   /* rows of the head the tied column stands for (the per-row convention) */
} rl_vocab;

typedef struct rl_acc {
    double weight;   /* sum of the weights */
    double loss;     /* sum of weight * loss */
    double kl;       /* sum of weight * KL (GRPO: k3 to the reference; distillation: the KL) */
    double entropy;  /* sum of weight * the policy's entropy at the position */
    double clipped;  /* GRPO: sum of weight over tokens whose clipped branch is active */
    double ratio;    /* GRPO: sum of weight * ratio */
    long tokens;     /* positions with weight > 0 */
} rl_acc;

/* log Z over the support (the tied column counted mult times), in double. */
double rl_logz(const float *z, const rl_vocab *v);

/* ---- GRPO (DeepSeekMath, arXiv 2402.03300, eq. 3, with the k3 KL estimator of eq. 4) ----------
 * l = -min(r A, clip(r, 1 - eps, 1 + eps) A) + beta * (e^{ref - logp} - (ref - logp) - 1),
 * r = e^{logp - logp_old}; target is the token's column. Returns logp. */
typedef struct grpo_params { double eps, beta; } grpo_params;
double grpo_token(float *z, const rl_vocab *v, int target, float logp_old, float adv, float ref_logp, float weight,
                  const grpo_params *p, rl_acc *acc);
/* Group-normalised advantages: adv[g*G + i] = (r - mean_g) / (std_g + eps), std with Bessel's
 * correction (torch.std, as TRL's GRPO computes it); G >= 2. Returns the number of groups whose
 * rewards are all equal (their advantages are 0). */
int grpo_advantages(const float *r, int n_groups, int G, double eps, float *adv);

/* ---- distillation ------------------------------------------------------------------------------
 * The teacher's distribution at one position, from its full logits tz (ids [0, n_support)), in the
 * student's columns: lp[j] = log p_T(full id of column j); for the tied column lp[s] = log of the
 * teacher's total probability on the tied tokens, *mean_lp = the mean of their log-probabilities;
 * *negent = sum_v p_T log p_T over the support. col2full[j]: full id of column j (the tied column
 * -1; NULL: column j is id j). tied_mask[id] = 1 for the ids the tied column stands for (NULL: none).
 * ops: the vector set the row's sums run on (train/vec.h; NULL: the scalar twin). */
struct tvec_ops;
void distill_teacher_row(const struct tvec_ops *ops, const float *tz, int n_support, const int32_t *col2full,
                         const unsigned char *tied_mask, const rl_vocab *v, float *lp, float *mean_lp, float *negent);
/* Forward KL(p_T || q) (off-policy distillation: cross-entropy to the teacher's full distribution
 * minus the teacher's entropy). Returns the KL. */
double distill_fwd_token(float *z, const rl_vocab *v, const float *tlp, float negent, float weight, rl_acc *acc);
/* Reverse KL(q || p_T) over the whole next-token distribution (on-policy distillation; the sampled
 * context is data, no gradient through the sampling). Returns the KL. */
double distill_rev_token(float *z, const rl_vocab *v, const float *tlp, float mean_lp, float weight, rl_acc *acc);

/* ---- trainer internals (train/trainer.c) ------------------------------------------------------ */
tmodel *qtrainer_model(qwen3_trainer *t);
/* The full vocabulary's config (what exports have). */
const qwen3_config *qtrainer_full_config(const qwen3_trainer *t);
/* col2full of the compact head (n columns, the tied one -1), or NULL for the dense head. */
const int32_t *qtrainer_cols(const qwen3_trainer *t, int *n);
/* The head column of full id (the tied column for an id the compact head does not keep), -1 when
 * outside the vocabulary. */
int qtrainer_col(const qwen3_trainer *t, int32_t id);
const char *qtrainer_tokenizer_dir(const qwen3_trainer *t);
/* AdamW step (clipping, schedule, decay) on the gradients in the model; fills st (its loss from
 * loss). */
int qtrainer_update(qwen3_trainer *t, double loss, double t0, qwen3_train_stats *st, qwen3_err *e);
/* The policy's vocabulary for the trainer's head with n_known ids known to the tokenizer (0: all). */
int qtrainer_rl_vocab(const qwen3_trainer *t, int n_known, rl_vocab *v, qwen3_err *e);
/* The next micro-batch of the trainer's stream (ids and targets in head columns). */
int qtrainer_next_micro(qwen3_trainer *t, const int32_t **ids, const int32_t **tgt);
int qtrainer_batch(const qwen3_trainer *t, int *B, int *T, int *accum);

/* ---- teacher scoring through the inference engine (train/score.c) ----------------------------- */
/* The teacher's rows (distill_teacher_row) at positions [from, n) of tokens (the sequence from
 * position 0): lp [n][v->nv], mean_lp [n], negent [n], the rows before `from` left as they were
 * (the prompt's positions, which no loss reads: the teacher reads them without its lm_head). seq is
 * the teacher's (cut back to 0 first); the logits are computed CHUNK positions at a time.
 * tied_mask and ops as distill_teacher_row. */
int rl_teacher_score(qwen3_model *tm, qwen3_seq *seq, const int32_t *tokens, int n, int from, int n_support,
                     const struct tvec_ops *ops,
                     const int32_t *col2full, const unsigned char *tied_mask, const rl_vocab *v, float *lp,
                     float *mean_lp, float *negent, qwen3_err *e);
/* tied_mask for the trainer's head: [full vocab], 1 for the ids < n_support the tied column stands
 * for; NULL (and 0 returned) for a dense head. */
int rl_tied_mask(const qwen3_trainer *t, int n_support, unsigned char **mask, qwen3_err *e);

/* ---- rollouts through the inference engine (train/rollout.c) ---------------------------------- */
typedef struct rl_sample {
    int32_t *ids;            /* the completion's tokens (the end-of-turn token included when it ended) */
    int n;
    float *logp;             /* [n] each token's log-probability as the engine recorded it */
    char *text;              /* the completion decoded with its special tokens */
    int finished;            /* ended by an end-of-turn token (not by max_tokens) */
} rl_sample;
void rl_sample_free(rl_sample *s);
/* n_per completions of each of n_prompts prompts (sampling per prompt), all advanced together by
 * qwen3_gen_step: out[p * n_per + k]. Completion i samples with seed + i * 0x9E3779B97F4A7C15. */
int rl_rollout(qwen3_model *m, const qwen3_tokenizer *tok, const int32_t *const *prompts, const int *n_prompt, int n_prompts,
               int n_per, const qwen3_sampling *smp, int max_tokens, uint64_t seed, rl_sample *out, qwen3_err *e);
/* log-probabilities of tokens[from..n) (each given the tokens before it) under m, over ids
 * < n_support: out[n - from]. seq is cut back to 0 first. */
int rl_engine_logprobs(qwen3_model *m, qwen3_seq *seq, const int32_t *tokens, int n, int from, int n_support, float *out,
                       qwen3_err *e);

#endif
