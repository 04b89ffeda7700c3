/* qwen3_train.h - the public C API of the training engine (`qwen3 train`).
 *
 * A trainer owns a float32 Qwen3 / Qwen3-MoE model, its data stream, AdamW state and schedule. One
 * call is one optimiser step over a global batch of accum micro-batches of batch x seq_len tokens.
 * Errors as in qwen3.h: -1 or NULL with a message naming what is at fault. */
#ifndef QWEN3_TRAIN_H
#define QWEN3_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "qwen3.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { QWEN3_LBL_NONE = 0, QWEN3_LBL_MICRO = 1, QWEN3_LBL_GLOBAL = 2 } qwen3_lbl;

typedef struct qwen3_train_opts {
    const char *config;      /* "small", "moe-small", or a config.json path; ignored with init_dir */
    const char *init_dir;    /* start from a Hugging Face checkpoint's weights and config (tests) */
    const char *resume_dir;  /* continue a run from its checkpoint (DIR/checkpoint) */
    const char *data;        /* FILE.jsonl of {"text": ...} or {"messages": [...]}; NULL: synthetic tasks */
    const char *ids_file;    /* a token id stream (comma/space separated) instead of text (tests) */
    const char *tokenizer_dir; /* tokenizer files (to encode text and to copy into exports) */
    int batch, seq_len, accum; /* micro-batch of batch sequences of seq_len tokens; accum per step */
    long steps;              /* total optimiser steps (the schedule's length) */
    double lr, min_lr_frac;  /* peak learning rate; cosine decays to lr * min_lr_frac */
    int warmup;              /* linear warm-up steps */
    double weight_decay, beta1, beta2, eps, clip; /* AdamW (decoupled decay; none on norms), clip 0: off */
    qwen3_lbl lbl;
    double lbl_alpha;
    uint64_t seed;
    int threads;             /* 0: physical cores */
    int dense_head;          /* 1: full vocabulary head; 0: the shared row for tokens the data never has */
    long synth_examples;     /* synthetic tasks to generate (0: a default) */
    int sft;                 /* 1: supervised fine-tuning: loss only on the assistant replies of the
                                data's {"messages"} conversations (per-token loss weights 0/1 carried
                                with the stream; the loss is the weighted mean over weighted tokens) */
    const char *weights_file;/* with ids_file: a loss weight per token (the weight of predicting it) */
    const int32_t *ids_mem;  /* a token id stream in memory instead of data (the post-training modes
                                pass the tokens their head must keep apart); copied */
    int64_t n_ids_mem;
} qwen3_train_opts;

/* Defaults: batch 8, seq_len 256, accum 1, lr 3e-3, min_lr_frac 0.1, warmup 20, weight_decay 0.1,
 * betas 0.9/0.95, eps 1e-8, clip 1, lbl none, alpha 0.01, seed 1. */
void qwen3_train_opts_default(qwen3_train_opts *o);

typedef struct qwen3_trainer qwen3_trainer;

typedef struct qwen3_train_stats {
    long step;            /* steps done after this one */
    double loss;          /* mean cross-entropy over the global batch */
    double lbl;           /* balance loss (mean over micro-batches and MoE layers), before alpha */
    double lr, grad_norm; /* learning rate used; global gradient norm before clipping */
    double tokens;        /* tokens in the global batch */
    double flops;         /* FLOPs of the step: 6 x active matmul params x tokens + attention */
    double seconds;       /* wall time of the step */
    double load_max;      /* the largest per-layer max/mean expert load of the last micro-batch */
} qwen3_train_stats;

qwen3_trainer *qwen3_trainer_new(const qwen3_train_opts *o, qwen3_err *err);
void qwen3_trainer_free(qwen3_trainer *t);
int qwen3_trainer_step(qwen3_trainer *t, qwen3_train_stats *st, qwen3_err *err);
long qwen3_trainer_steps_done(const qwen3_trainer *t);
/* Per-layer max/mean expert load of the last forward (0 for dense layers); n = layers. */
const float *qwen3_trainer_load(const qwen3_trainer *t, int *n);
/* Multi-line description: shapes, parameters, data, vocabulary head. */
int qwen3_trainer_describe(const qwen3_trainer *t, char *buf, size_t n);

/* Writes DIR/checkpoint/state.bin (weights, AdamW moments, step, data position, options) atomically. */
int qwen3_trainer_checkpoint(const qwen3_trainer *t, const char *dir, qwen3_err *err);
/* Writes a Hugging Face directory: config.json, model.safetensors (BF16, or F32 when f32),
 * generation_config.json and the tokenizer files (when the trainer has a tokenizer directory). */
int qwen3_trainer_export(const qwen3_trainer *t, const char *dir, int f32, qwen3_err *err);
/* For checks: forward + backward of the next global batch without an update. Writes the gradients
 * (F32 safetensors with HF names) to grads_path and the first micro-batch's logits (float32,
 * batch*seq_len x vocab) to logits_path (either may be NULL); *loss gets the loss. */
int qwen3_trainer_grads(qwen3_trainer *t, const char *grads_path, const char *logits_path, double *loss, qwen3_err *err);

/* For checks: the training stream as text, one "id weight" line per token (full vocabulary ids; the
 * weight of predicting that token, 1 without weights). */
int qwen3_trainer_dump_stream(const qwen3_trainer *t, FILE *f, qwen3_err *err);
/* ---- post-training losses (train/grpo.c, train/distill.c) ---------------------------------------
 * The policy is the model's softmax over the ids the tokenizer knows (n_known; 0: every id), as the
 * inference engine samples it. */
typedef enum { QWEN3_RL_GRPO = 1, QWEN3_RL_KL_FWD = 2, QWEN3_RL_KL_REV = 3 } qwen3_rl_loss;

typedef struct qwen3_rl_check {
    int loss;                /* qwen3_rl_loss */
    const char *tokfile;     /* one line per position of the global batch (micro-batches in order):
                                "target weight logp_old adv ref_logp"; target a full vocabulary id
                                (GRPO's token; ignored by the KL losses) */
    const char *teacher_dir; /* the teacher of the KL losses (scored by the inference engine) */
    double clip_eps, beta;   /* GRPO */
    int n_known;
} qwen3_rl_check;

/* For the reference checks: the gradient of sum over positions of weight * loss over the next global
 * batch of the trainer's stream (F32 safetensors with HF names, compact head as stored), without an
 * update; *loss gets the sum. */
int qwen3_trainer_rl_grads(qwen3_trainer *t, const qwen3_rl_check *c, const char *grads_path, double *loss, qwen3_err *e);

/* ---- post-training modes: GRPO and distillation (train/post.c) ----------------------------------
 * A post-training run owns a trainer started from a checkpoint (qwen3_train_opts.init_dir) and
 * repeats rollout batches: the generating model (the current policy, exported as F32 and loaded by
 * the inference engine; or the teacher for off-policy distillation) answers `queries` synthetic
 * tasks `group` times each through batched decoding, the verifier (qwen3_eval.h) scores them, and
 * the trainer takes `inner_steps` AdamW steps on the batch. The trainer's micro-batch is
 * train_opts.batch sequences of prompt + max_tokens (seq_len is set from them). */
typedef enum { QWEN3_POST_GRPO = 1, QWEN3_POST_DISTILL = 2, QWEN3_POST_DISTILL_ON = 3 } qwen3_post_mode;

typedef struct qwen3_post_opts {
    int mode;                /* qwen3_post_mode */
    const char *out_dir;     /* the run's directory: pool.txt, the rollout model (rollout-model/) */
    const char *teacher_dir; /* distillation */
    int group;               /* completions per query (GRPO's G; default 8) */
    int queries;             /* queries per rollout batch (default 8) */
    int inner_steps;         /* optimiser steps per rollout batch (default 2 for GRPO, 1 otherwise) */
    int max_tokens;          /* completion tokens at most (default 256) */
    long pool;               /* query-verifier pairs (default 3995) */
    int keep_wrong;          /* off-policy distillation: train on the teacher's wrong answers too */
    int select;              /* GRPO: keep only queries the start model passes strictly between 0 and
                                group of group times (default 1); candidates tried: select_max */
    long select_max;         /* default 4 x pool */
    int levels_lo, levels_hi;/* task levels (default 1-3) */
    const char *families;    /* the task families, "add,sub,mul:1,sort,count" as `qwen3 synth
                                --families` reads it (NAME:L caps that family's level at L); NULL: all
                                six, every level */
    int varied;              /* 1: the questions in the varied phrasings (qwen3_task_rephrase), as
                                `qwen3 eval --phrasing varied` asks them; 0: the generator's form */
    int think;               /* prompts: 1 thinking (GRPO's default), 0 /no_think, 2 both in turn
                                (distillation's default) */
    double clip_eps, beta;   /* GRPO: clip range (0.2), KL coefficient to the start model (0: off) */
    qwen3_sampling sampling; /* temperature 0: Qwen's defaults for each prompt's mode (thinking 0.6,
                                top-p 0.95, top-k 20) */
    uint64_t seed;           /* the tasks' seed and the rollouts' */
} qwen3_post_opts;

void qwen3_post_opts_default(qwen3_post_opts *o, int mode);

typedef struct qwen3_post_stats {
    long batch;              /* rollout batches done after this one */
    long step;               /* optimiser steps done */
    int sequences;           /* trained on (distillation: the teacher's right answers) */
    double reward;           /* mean verifier reward of the batch's completions */
    double all_equal;        /* fraction of queries whose group's rewards are all equal */
    double entropy;          /* mean policy entropy over the completion tokens (first step) */
    double think_len;        /* mean think-block length in tokens (well-formed blocks) */
    double completion_len;   /* mean completion length in tokens */
    double clip_frac;        /* GRPO: weighted fraction of tokens whose clipped branch is active (all steps) */
    double kl;               /* GRPO: k3 to the reference (beta > 0); distillation: the KL (first step) */
    double loss;             /* the first step's loss */
    double logp_maxdiff;     /* max |logp at rollout - logp recomputed by the trainer| (same weights; GRPO
                                and on-policy) */
    double lr, grad_norm;    /* of the last step */
    double rollout_seconds, train_seconds;
} qwen3_post_stats;

typedef struct qwen3_post qwen3_post;
qwen3_post *qwen3_post_new(const qwen3_train_opts *train, const qwen3_post_opts *o, FILE *log, qwen3_err *err);
void qwen3_post_free(qwen3_post *p);
/* One rollout batch and its optimiser steps. */
int qwen3_post_batch(qwen3_post *p, qwen3_post_stats *st, qwen3_err *err);
long qwen3_post_batches_done(const qwen3_post *p);
/* The trainer (checkpoint, export). */
qwen3_trainer *qwen3_post_trainer(qwen3_post *p);

/* Evaluation on held-out synthetic tasks (a seed the training stream never uses): for each family,
 * n examples at levels lo..hi, the mean cross-entropy of the model's next-token predictions over
 * them, and for every MoE layer the fraction of the family's tokens that select the layer's
 * most-used expert (for that family) and the expert load max/mean. Writes a JSON object to out
 * ({"families": {name: {"loss", "tokens", "layers": [{"top_expert", "top_frac", "load_max_mean"}]}},
 * "loss": overall}) and a table to log (either may be NULL). Needs the synthetic data's tokenizer. */
int qwen3_trainer_eval(qwen3_trainer *t, long n, int lo, int hi, FILE *out, FILE *log, qwen3_err *err);

/* Writes n synthetic tasks (families in turn, levels lo..hi in turn) as JSONL lines to f:
 * format 0 {"text", "family", "level", "answer"} pre-training text; 1 {"messages"} thinking chats;
 * 2 {"messages"} non-thinking chats (/no_think); 3 alternating 1 and 2. */
int qwen3_synth_write(FILE *f, uint64_t seed, long n, int lo, int hi, int format, qwen3_err *err);
/* The compact storage of a model this trainer exported (train/pack.c): out_dir gets config.json
 * (vocab_size = kept rows + 1), model.safetensors (BF16; the embedding / untied head hold the rows
 * that differ from the row of the last id, then that shared row) and rows.json ({"vocab_size",
 * "rows"}). Returns the number of kept rows, or -1. */
int qwen3_model_pack(const char *in_dir, const char *out_dir, qwen3_err *err);
/* The inverse: an ordinary Hugging Face directory with the full vocabulary (config.json,
 * model.safetensors in BF16, generation_config.json, and the tokenizer files of tokenizer_dir when
 * it is not NULL). */
int qwen3_model_unpack(const char *in_dir, const char *out_dir, const char *tokenizer_dir, qwen3_err *err);

/* Writes n {"messages"} lines for thinking-mode fusion SFT (the default model's data): each task's
 * question in a varied phrasing (train/phrase.c), 35% thinking without a flag and 15% with "/think"
 * (the worked solution as reasoning), 35% "/no_think" (an empty think block and the answer), 15% two
 * turns whose reply follows the last flag (the earlier reply without reasoning, as the template
 * renders it). families: NULL (all) or a list such as "add,sub,mul:1,sort,count" (":L" caps that
 * family's level); families in turn, levels lo..hi in turn. */
int qwen3_synth_fusion(FILE *f, uint64_t seed, long n, int lo, int hi, const char *families, qwen3_err *err);

#ifdef __cplusplus
}
#endif

#endif
