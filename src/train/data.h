/* data.h - training data: synthetic verifiable tasks with worked solutions (train/synth.c), and
 * JSONL files of {"text": ...} or {"messages": [...]} (train/data.c), each turned into one token
 * stream of documents that end with <|endoftext|>. */
#ifndef QWEN3_TRAIN_DATA_H
#define QWEN3_TRAIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

typedef enum { TS_ADD, TS_SUB, TS_MUL, TS_SORT, TS_COUNT, TS_LINEAR, TS_FAMILIES } tsynth_family;

/* One example of family f at difficulty level (1..5: digits/lengths grow with it; the training mix
 * uses levels 1-3, levels 4-5 are held out for out-of-distribution evaluation). Appends the question,
 * the step-by-step worked solution and the final answer to the three buffers (cleared first).
 * rng: the caller's splitmix64 state. */
void tsynth_example(uint64_t *rng, tsynth_family f, int level, sbuf *q, sbuf *sol, sbuf *ans);
/* The same, also recording the operands (add/sub/mul: a, b; sort: the list; count: the letter then
 * the word's letters, as character codes; linear: a, b, c) for the verifier's tasks. */
typedef struct tsynth_ops { long long v[32]; int n; } tsynth_ops;
void tsynth_example_ops(uint64_t *rng, tsynth_family f, int level, sbuf *q, sbuf *sol, sbuf *ans, tsynth_ops *ops);
const char *tsynth_family_name(tsynth_family f);
/* The question of an example (its operands ops, the generator's form canonical) in one of many
 * phrasings people use (train/phrase.c); a quarter of the draws keep the canonical form. */
void tsynth_phrase(uint64_t *rng, tsynth_family f, const tsynth_ops *ops, const sbuf *canonical, sbuf *q);
/* Pre-training text of an example: "question\nworked solution\nAnswer: answer". */
void tsynth_text(sbuf *out, const sbuf *q, const sbuf *sol, const sbuf *ans);
/* A {"messages": [...]} JSON line in the Qwen3 chat format: thinking (reasoning_content = the worked
 * solution) or non-thinking (the user turn ends " /no_think", empty reasoning, the answer only). */
void tsynth_chat_json(sbuf *out, const sbuf *q, const sbuf *sol, const sbuf *ans, int thinking);

typedef struct qwen3_tokenizer qwen3_tokenizer;
/* n examples (0: 20000) from seed, families in turn, levels 1-3, as one token stream. */
int tdata_synth_stream(uint64_t seed, long n, const qwen3_tokenizer *tok, int32_t **ids, int64_t *n_ids, qwen3_err *e);
/* The same for one family (family < 0: all in turn) at levels lo..hi in turn. */
int tdata_synth_family_stream(uint64_t seed, long n, int family, int lo, int hi, const qwen3_tokenizer *tok, int32_t **ids,
                              int64_t *n_ids, qwen3_err *e);
/* Every line of a JSONL file: {"text": "..."} encoded as is, or {"messages": [...]} rendered with
 * the Qwen3 chat template; errors name the file and line. wts non-NULL (SFT): *wts gets a loss weight
 * per id (malloc'd, parallel to *ids; the weight of predicting that id): 1 on the assistant replies
 * after the last user query (their think block and closing <|im_end|>), 0 elsewhere; 1 on every id
 * of a {"text"} document. */
int tdata_jsonl_stream(const char *path, const qwen3_tokenizer *tok, int32_t **ids, float **wts, int64_t *n_ids, qwen3_err *e);

#endif
