/* train.h - the training engine's internal structures (llm.c style).
 *
 * All parameters live in one float32 allocation with named views (tweights); the gradients and the
 * two AdamW moments have the same layout, so the optimiser is one loop over n_params floats and the
 * table of tensors (ttensor) names every range for export and for the gradient checks. The
 * activations the backward pass needs are kept in one allocation with named views (tacts), sized for
 * one micro-batch of B sequences of T tokens.
 *
 * Shapes follow Hugging Face Qwen3 / Qwen3-MoE checkpoints: every linear weight is [out, in],
 * row-major, as nn.Linear stores it; expert matrices of a layer are contiguous, [E][out][in].
 * The config is the inference engine's qwen3_config (model/config.c parses it); YaRN is refused. */
#ifndef QWEN3_TRAIN_TRAIN_H
#define QWEN3_TRAIN_TRAIN_H

#include <stdint.h>

#include "base/err.h"
#include "base/pool.h"
#include "kernels/kernels.h"
#include "qwen3.h"

typedef struct tlayer {
    float *attn_norm;   /* [H] input_layernorm */
    float *wq;          /* [nh*D, H] */
    float *wk, *wv;     /* [nkv*D, H] */
    float *wo;          /* [H, nh*D] */
    float *q_norm;      /* [D] */
    float *k_norm;      /* [D] */
    float *ffn_norm;    /* [H] post_attention_layernorm */
    float *gate, *up;   /* dense: [I, H] */
    float *down;        /* dense: [H, I] */
    float *router;      /* MoE: [E, H] mlp.gate */
    float *egate, *eup; /* MoE: [E][Im, H] */
    float *edown;       /* MoE: [E][H, Im] */
} tlayer;

typedef struct tweights {
    float *embed;       /* [V, H] */
    tlayer *layers;     /* [L] */
    float *final_norm;  /* [H] */
    float *lm_head;     /* [V, H]; == embed when tied */
} tweights;

/* One named tensor of the parameter layout (offsets in floats into params / grads / moments). */
typedef struct ttensor {
    char name[96];      /* Hugging Face name */
    int64_t off;        /* first float */
    int64_t rows, cols; /* cols 0 for a vector */
    int is_norm;        /* RMSNorm weight: no weight decay */
} ttensor;

/* Activations of one micro-batch, N = B*T tokens; per layer l, arrays of N rows. */
typedef struct tlayer_acts {
    float *x;          /* [N, H] residual stream entering the layer */
    float *ln1;        /* [N, H] input_layernorm output */
    float *ln1_rstd;   /* [N] */
    float *qraw, *kraw;/* [N, nh*D], [N, nkv*D] projections before QK-norm */
    float *q_rstd;     /* [N, nh] */
    float *k_rstd;     /* [N, nkv] */
    float *q, *k, *v;  /* after QK-norm and RoPE (v as projected) */
    float *att;        /* [N, nh*D] attention output before o_proj */
    float *lse;        /* [B, nh, T] log-sum-exp of each query's scaled scores (backward recomputes P) */
    float *xmid;       /* [N, H] residual after attention */
    float *ln2;        /* [N, H] */
    float *ln2_rstd;   /* [N] */
    /* dense MLP */
    float *g, *u, *h;  /* [N, I] gate, up, silu(gate)*up */
    /* MoE */
    float *probs;      /* [N, E] router softmax (float32) */
    int32_t *topi;     /* [N, k] selected experts */
    float *topw;       /* [N, k] their weights (renormalised when norm_topk_prob) */
    int32_t *asg_tok;  /* [N*k] token of each assignment, grouped by expert */
    int32_t *asg_slot; /* [N*k] its slot in topi */
    int32_t *eoff;     /* [E+1] first assignment of each expert */
    float *eg, *eu, *eh; /* [N*k, Im] per assignment */
    float *eout;       /* [N*k, H] expert output per assignment (before its weight) */
} tlayer_acts;

typedef struct tacts {
    tlayer_acts *l;    /* [L] */
    float *xf;         /* [N, H] residual entering the final norm */
    float *lnf;        /* [N, H] */
    float *lnf_rstd;   /* [N] */
    float *logits;     /* [N, V]; the backward overwrites it with dlogits */
} tacts;

/* Scratch for the backward pass (one micro-batch). */
typedef struct tgrad_scratch {
    float *dx;          /* [N, H] gradient of the residual stream */
    float *dln;         /* [N, H] */
    float *dq, *dk, *dv;/* [N, nh*D], [N, nkv*D] x2: gradients after attention (then RoPE undone) */
    float *dq2, *dk2;   /* [N, nh*D], [N, nkv*D]: gradients before QK-norm */
    float *datt;        /* [N, nh*D] */
    float *dmid;        /* [N, max(I, Im*k, E)] */
    float *dmid2;       /* same */
    float *dmid3;       /* same */
    float *dbig;        /* [N*k, H] expert-side buffer */
    float *dbig2;       /* [N*k, H] */
    float *dsmall;      /* [N, k + E] router-side gradients */
} tgrad_scratch;

typedef enum { TLBL_NONE = 0, TLBL_MICRO = 1, TLBL_GLOBAL = 2 } tlbl_kind;

typedef struct tmodel {
    qwen3_config c;
    int n_moe_layers;
    int64_t n_params;
    float *params, *grads;    /* [n_params] each */
    float *paramsT;           /* [n_params]: every matrix transposed ([in][out]) at its own offset, for
                                 the forward product (refreshed by tmodel_params_changed) */
    tweights w, g;            /* views into params and grads */
    ttensor *tensors;
    int n_tensors;
    float *rope_cos, *rope_sin; /* [max_T, D/2] */
    qpool *pool;
    kcpu cpu;                 /* the kernel table of every product and attention (kernels.h), filled
                                 at tmodel_new for this CPU (QWEN3_ISA caps it, as for inference) */
    /* micro-batch shape: the activations are sized for B x T_max; T (<= T_max) is the length of
       the sequences the next forward / backward runs on (tmodel_set_len) */
    int B, T, T_max;
    void *act_mem;
    tacts a;
    tgrad_scratch s;
    /* load-balancing loss */
    tlbl_kind lbl;
    float lbl_alpha;
    double *lbl_count;        /* [L, E] selections counted in the global batch so far (global form) */
    double lbl_tokens;        /* tokens counted in it */
    float *lbl_f;             /* [L, E] the f of the last forward (fraction of selections per expert) */
    int shared_row;           /* >= 0: this vocabulary row stands for n_shared identical rows */
    double n_shared;
    int eval;                 /* 1: forward only for evaluation (the count buffer is left alone) */
    const float *tgt_w;       /* [B*T] loss weight of each target (NULL: all 1), borrowed: the
                                 cross-entropy is sum w*CE / (targets >= 0) */
    /* results of the last forward */
    double loss;              /* mean cross-entropy over the valid targets */
    double lbl_loss;          /* the balance loss (mean over MoE layers), before alpha */
    int n_valid;              /* targets >= 0 */
    float *load_maxmean;      /* [L] max/mean expert load of the last forward (MoE layers) */
} tmodel;

/* Builds the parameter layout for config c (dense or MoE; YaRN refused) and allocates params,
 * grads (zeroed) and activations for micro-batches of B x T tokens. pool is borrowed. */
tmodel *tmodel_new(const qwen3_config *c, int B, int T, qpool *pool, qwen3_err *e);
void tmodel_free(tmodel *m);
/* Parameters as a fresh model: N(0, 0.02) linear weights and embeddings, norms 1 (seeded). */
void tmodel_init_random(tmodel *m, uint64_t seed);
/* Loads parameters from a Hugging Face directory (F32/F16/BF16 safetensors) of the same config. */
int tmodel_load_hf(tmodel *m, const char *dir, qwen3_err *e);
/* Writes dir/model.safetensors of params (or of grads when which == 1) as F32 (bf16 = 0) or BF16. */
int tmodel_save_safetensors(const tmodel *m, int which, int bf16, const char *path, qwen3_err *e);
/* Writes config.json of m->c to path. */
int tmodel_save_config(const tmodel *m, const char *path, qwen3_err *e);
/* the whole HF directory (io.c): weights, config, generation config, tokenizer files from tok_dir */
int tmodel_save_hf(const tmodel *f, const char *dir, int bf16, const char *tok_dir, qwen3_err *e);

/* Forward over B sequences of T tokens (ids [B*T]); targets [B*T] (-1: ignored) may be NULL (no
 * loss). Fills m->a, m->loss, m->lbl_loss. */
int tmodel_forward(tmodel *m, const int32_t *ids, const int32_t *targets, qwen3_err *e);
/* Backward of (loss + alpha * lbl) * scale after tmodel_forward with targets: accumulates into
 * m->grads (+=). scale is 1/M under gradient accumulation over M micro-batches. */
void tmodel_backward(tmodel *m, const int32_t *ids, const int32_t *targets, float scale);
/* The same from dloss/dlogits already in m->a.logits (the post-training losses, train/rl.h): the
 * shared row's column holds the gradient of ONE of the rows it stands for. scale multiplies only
 * the balance loss here (the logits' gradient is taken as given). */
void tmodel_backward_dlogits(tmodel *m, const int32_t *ids, float scale);
void tmodel_zero_grad(tmodel *m);
/* Sets the sequence length of the next micro-batches to T (1 <= T <= T_max; the activations keep
 * their size): the post-training modes run each micro-batch at its longest sequence instead of
 * padding every one to the longest possible. Returns -1 (and changes nothing) when T is out of range. */
int tmodel_set_len(tmodel *m, int T);
/* Call after the parameters change (init, load, optimiser step): refreshes the transposed copies. */
void tmodel_params_changed(tmodel *m);
/* Y = X W^T for a parameter matrix W of m (through its transposed copy). */
void tmodel_linear(tmodel *m, float *Y, const float *X, const float *W, int n, int in, int out);
/* Starts a new global batch for the global-batch balance loss (clears the count buffer). */
void tmodel_lbl_begin(tmodel *m);

/* ---- layer steps (train/layers.c): each forward beside its backward; backward accumulates (+=) ---- */
void t_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int n, int dim, float eps);
void t_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                        const float *rstd, int n, int dim);
void t_rope_forward(float *x, int n_tok, int T, int heads, int D, const float *cos, const float *sin);
void t_rope_backward(float *dx, int n_tok, int T, int heads, int D, const float *cos, const float *sin);
/* isa: the attention kernels' instruction set (the model's table's, m->cpu.isa, or another to compare) */
void t_attention_forward(qpool *p, k_isa isa, float *out, float *lse, const float *q, const float *k, const float *v,
                         int B, int T, int nh, int nkv, int D);
void t_attention_backward(qpool *p, k_isa isa, float *dq, float *dk, float *dv, const float *dout, const float *out,
                          const float *lse, const float *q, const float *k, const float *v,
                          int B, int T, int nh, int nkv, int D);
void t_swiglu_forward(float *h, const float *g, const float *u, int64_t n);
void t_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n);
/* Weighted mean cross-entropy: sum over targets >= 0 of w[t] * CE[t] (w NULL: all 1), divided by the
 * number of targets >= 0; logits rows of V. Returns it; *n_valid gets the count. The weights are the
 * per-token loss weights the trainer carries with its stream (0/1 for SFT; an advantage or any
 * other scale for the post-training losses that reuse the path).
 * shared >= 0: column `shared` stands for n_shared identical classes (its logit counts n_shared times
 * in the partition function). */
double t_crossentropy_forward(const float *logits, const int32_t *targets, const float *w, int n, int V, int shared,
                              double n_shared, int *n_valid);
/* In place: logits -> dloss/dlogits * scale (rows of ignored targets become 0); the shared column
 * gets the gradient of ONE of the classes it stands for (the caller multiplies by n_shared where
 * the sum over them is wanted: the gradient of the hidden state). */
void t_crossentropy_backward(float *logits, const int32_t *targets, const float *w, int n, int V, int shared,
                             double n_shared, int n_valid, float scale);

/* ---- training matmuls (train/gemm.c), threaded over the pool ----
 * Y[n][o]  = sum_i X[n][i] W[o][i]          (forward: nn.Linear)
 * dX[n][i] += sum_o dY[n][o] W[o][i]        (input gradient)
 * dW[o][i] += sum_n dY[n][o] X[n][i]        (weight gradient) */
void t_matmul_forward(qpool *p, const kcpu *cpu, float *Y, const float *X, const float *W, int n, int in, int out);
void t_matmul_backward_input(qpool *p, const kcpu *cpu, float *dX, const float *dY, const float *W, int n, int in, int out);
void t_matmul_backward_weight(qpool *p, const kcpu *cpu, float *dW, const float *dY, const float *X, int n, int in, int out);

#endif
