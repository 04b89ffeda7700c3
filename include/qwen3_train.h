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
