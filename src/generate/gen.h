/* gen.h - internals of the generation layer (the public API is the "generation" section of
 * include/qwen3.h). One job per file:
 *
 *   sampler.c   logits -> one token: penalties, temperature, top-k, top-p, min-p, seeded draw
 *   scan.c      the sampler's passes over the whole vocabulary, vectorised
 *   buf.c       a growable byte buffer
 *   defaults.c  the sampling defaults per mode (Qwen's guidance, generation_config.json)
 *   stop.c      stop strings: hold back text that may still become one, cut where one appears
 *   budget.c    the thinking budget: count tokens inside <think>, decide when to force the stop text
 *   spec.c      speculative decoding: the draft's proposals and the rejection rule that keeps the
 *               target's distribution
 *   gen.c       one request being answered: prompt re-use, batched stepping, output, stats
 *
 * Nothing here keeps global state; every struct belongs to one qwen3_gen (or to a test). */
#ifndef QWEN3_GENERATE_GEN_H
#define QWEN3_GENERATE_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "qwen3.h"

/* ---- sampler.c ---- */

/* xoshiro256** seeded through splitmix64: ours, so the same seed gives the same stream on every
 * platform and libc. */
typedef struct gen_rng {
    uint64_t s[4];
} gen_rng;
void rng_seed(gen_rng *r, uint64_t seed);
uint64_t rng_next(gen_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(gen_rng *r);

typedef struct gen_sampler {
    qwen3_sampling p;
    int n_vocab;          /* logits considered: ids [0, n_vocab) */
    gen_rng rng;
    int32_t *count;       /* [n_vocab] times each id was generated (presence/frequency penalties) */
    unsigned char *seen;  /* [n_vocab] 1 when an id is in the prompt or the output (repetition) */
    int32_t *hist;        /* distinct ids with seen or count set, so penalties cost O(distinct) */
    int n_hist, cap_hist;
    int32_t *cand;        /* [n_vocab] scratch: candidate ids */
    float *w;             /* [n_vocab] scratch: their weights, then probabilities */
} gen_sampler;

/* n_vocab ids are sampled from (the model's rows that the tokenizer knows). Fails only for lack of
 * memory or parameters out of range (named in the message). */
int sampler_init(gen_sampler *s, const qwen3_sampling *p, int n_vocab, qwen3_err *e);
void sampler_free(gen_sampler *s);
/* Records a token of the context: generated = 0 for the prompt (repetition penalty only), 1 for an
 * output token (all penalties). Ids outside [0, n_vocab) are ignored. */
int sampler_note(gen_sampler *s, int32_t id, int generated);
/* Applies the penalties to logits in place (n_vocab values). */
void sampler_penalize(gen_sampler *s, float *logits);
/* The distribution the draw uses, from already penalized logits: temperature, then top-k, top-p and
 * min-p as Hugging Face's warpers apply them (see sampler.c). Returns the number of surviving ids;
 * *ids and *probs (normalized) point into the sampler's scratch, valid until the next call.
 * Requires temperature > 0. */
int sampler_filter(gen_sampler *s, const float *logits, const int32_t **ids, const float **probs);
/* Penalizes (in place), then sampler_pick. */
int32_t sampler_sample(gen_sampler *s, float *logits);
/* Argmax when temperature is 0, else filter and draw, from already penalized logits. */
int32_t sampler_pick(gen_sampler *s, const float *logits);

/* ---- scan.c: whole-vocabulary passes of the sampler (vectorised) ---- */

float scan_max(const float *x, int n);                       /* NaN ignored; -inf when none */
int scan_argmax(const float *x, int n);                      /* first index of the maximum */
float scan_kth_largest(const float *x, int n, int k, float *heap); /* heap: k floats of scratch */
int scan_collect_ge(const float *x, int n, float thr, int32_t *out); /* ids with x >= thr */
void scan_exp(const float *x, int n, float m, float inv_t, float *w); /* w = exp((x - m) * inv_t) */

/* ---- stop.c ---- */

typedef struct gen_stop {
    char **str;        /* the stop strings (copies) */
    size_t *len;
    int n;
    sbuf held;         /* text not yet released: it may still become a stop string */
} gen_stop;
int stop_init(gen_stop *st, const char *const *stop, int n, qwen3_err *e);
void stop_free(gen_stop *st);
/* Appends n bytes of text. What can no longer be part of a stop string is appended to out. Returns
 * 1 when a stop string appeared (the text before it was released, the rest dropped), 0 when not,
 * -1 for lack of memory. */
int stop_feed(gen_stop *st, const char *t, size_t n, sbuf *out);
/* Releases what is held (the stream ended without a stop string). */
int stop_flush(gen_stop *st, sbuf *out);

/* ---- budget.c ---- */

typedef struct gen_budget {
    int budget;        /* -1: unlimited */
    int grace;         /* tokens allowed past the budget while waiting for a newline (0: off) */
    int32_t think_id, end_think_id;
    int in_think;      /* inside <think> ... </think> */
    int count;         /* tokens generated inside, a nested <think> included (the opening and
                          closing tags and forced tokens excluded) */
    int over;          /* tokens generated inside since the count reached the budget */
    int hit;           /* the budget forced a stop or closing text at least once */
} gen_budget;
/* What budget_note asks gen.c to force next. */
enum { BUDGET_NONE = 0, BUDGET_STOP = 1, BUDGET_CLOSE = 2 };
void budget_init(gen_budget *b, int budget, int grace, int in_think, int32_t think_id, int32_t end_think_id);
/* Notes one generated token: its id, the text it completed, and whether the streaming decoder still
 * holds part of a character. forced: the token was forced (tags still move the state, nothing is
 * counted). Returns BUDGET_STOP when the stop-thinking text must be forced now (the budget ran out
 * inside a block), BUDGET_CLOSE when the empty closing must (a block opened with the budget spent),
 * else BUDGET_NONE. */
int budget_note(gen_budget *b, int32_t id, const char *text, size_t n, int mid_char, int forced);

/* ---- spec.c: speculative decoding (qwen3_gen_params.draft) ---- */

/* The draft side of one generation. Each speculative step: draft_begin syncs the draft's cache with
 * what the target will hold, draft_run proposes n tokens (n passes of the draft model, batched over
 * the generations stepped together), the target verifies them in one pass (gen.c), spec_accept
 * decides each one when sampling. */
typedef struct gen_draft {
    qwen3_model *m;          /* the draft model */
    qwen3_seq *seq;          /* its KV cache */
    int n_max;               /* tokens drafted per step at most (params.draft_n; QWEN3_MAX_DRAFT when adaptive) */
    int adaptive;            /* params.draft_n QWEN3_DRAFT_AUTO: n_cur follows the acceptance */
    int n_cur;               /* tokens to draft at the next step (before the caps of draft_count) */
    int n_vocab;             /* ids proposed from: the target sampler's */
    int greedy;              /* temperature 0: the draft proposes its argmax */
    gen_rng *rng;            /* the generation's random stream (its target sampler's) */
    gen_sampler smp;         /* q: the target's temperature and filters, no penalties (sampling only) */
    float *logits;           /* [vocab] the draft's logits of its last input */
    int32_t *in;             /* the first input of this step: the tokens the draft has not cached */
    int n_in, cap_in;
    int n;                   /* tokens to draft this step (0: not drafting) */
    int32_t tok[QWEN3_MAX_DRAFT];      /* the drafted ids */
    int32_t *q_ids[QWEN3_MAX_DRAFT];   /* sampling: the distribution each was drawn from, sparse */
    float *q_p[QWEN3_MAX_DRAFT];
    int q_n[QWEN3_MAX_DRAFT];
    float *dense;            /* [n_vocab] zeros between calls: spec_accept's scratch */
    float *verify;           /* [cap_verify] the target's logits of this step's input, row by row */
    size_t cap_verify;
} gen_draft;

/* target_vocab: the target's vocab_size (the draft must have the same); n_vocab: the ids sampled
 * from; s: the target's sampling parameters; rng: the stream draws are taken from. */
int draft_init(gen_draft *d, int target_vocab, qwen3_model *draft, qwen3_seq *seq, int n_max, const qwen3_sampling *s,
               int n_vocab, gen_rng *rng, qwen3_err *e);
void draft_free(gen_draft *d);
/* Prepares a step that drafts n tokens after the target's tokens cached[0, n_cached) +
 * pending[0, n_pending): the draft's cache is cut back to its longest common prefix with them (at
 * most all but the last) and the rest becomes the draft's first input. Also makes room for the
 * target's logits of n_pending + n rows. */
int draft_begin(gen_draft *d, const int32_t *cached, int n_cached, const int32_t *pending, int n_pending, int n,
                qwen3_err *e);
/* Drafts d[i]->n tokens for each of the n drafts: pass r of each draft model runs over every draft
 * still going (one forward per distinct draft model and pass). */
int draft_run(gen_draft **d, int n, qwen3_err *e);
/* The rejection rule for one drafted id x ~ q: accepted (*accepted = 1, returns x) with probability
 * min(1, p(x) / q(x)); else returns a draw from norm(max(0, p - q)). p and q are sparse
 * distributions (ids, probabilities); dense: n_vocab zeros of scratch, left zero. */
int32_t spec_accept(const int32_t *p_ids, const float *p, int p_n, const int32_t *q_ids, const float *q, int q_n,
                    int32_t x, float *dense, gen_rng *rng, int *accepted);

#endif
