/* qwen3.h - the public C API of the qwen3 engine.
 *
 * Opaque handles, no globals, errors as values: every fallible call takes a `qwen3_err *` (may be
 * NULL) and returns -1 or NULL on failure with a message naming the file, tensor, field or request at
 * fault. Thread-safety: a model may be shared by sequences, but one qwen3_forward call at a time per
 * model (the server batches sequences into one call instead of calling concurrently).
 *
 * Sections: errors; model (load, config); sequences and the batched forward pass; tokenizer; chat. */
#ifndef QWEN3_H
#define QWEN3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---------------------------------------------------------------------------------- */

typedef struct qwen3_err {
    int code;       /* 0: no error; -1: error */
    char msg[1024]; /* what is at fault, what was expected, what was found */
} qwen3_err;

/* ---- model ----------------------------------------------------------------------------------- */

/* Storage / compute types of weight matrices. Values are stable (they appear in files we write). */
typedef enum qwen3_dtype {
    QWEN3_F32 = 0,
    QWEN3_F16 = 1,
    QWEN3_BF16 = 2,
    QWEN3_Q8_0 = 3, /* int8, one f16 scale per block of 32 */
    QWEN3_Q4 = 4,   /* 4-bit k-quant style, see kernels/quant.h */
    QWEN3_DTYPE_COUNT
} qwen3_dtype;

const char *qwen3_dtype_name(qwen3_dtype t);

#define QWEN3_MAX_LAYERS 512

typedef struct qwen3_config {
    int is_moe;              /* model_type qwen3_moe */
    int vocab_size;          /* rows of embed_tokens and lm_head */
    int hidden_size;         /* d_model */
    int intermediate_size;   /* dense MLP width */
    int num_layers;
    int num_heads;           /* query heads */
    int num_kv_heads;        /* key/value heads (GQA) */
    int head_dim;
    float rms_norm_eps;
    double rope_theta;
    int max_position_embeddings;
    int tie_word_embeddings;
    /* rope_scaling: yarn or none */
    int yarn;                /* 1 when rope_scaling.type is yarn */
    double yarn_factor;
    int yarn_original_max_position_embeddings;
    double yarn_beta_fast, yarn_beta_slow; /* 32, 1 unless configured */
    double yarn_attention_factor;          /* 0.1*ln(factor)+1 unless configured */
    /* MoE */
    int num_experts;
    int num_experts_per_tok;
    int moe_intermediate_size;
    int norm_topk_prob;
    int decoder_sparse_step;
    unsigned char layer_is_moe[QWEN3_MAX_LAYERS]; /* derived from decoder_sparse_step, mlp_only_layers */
    /* special ids from config.json (-1 when absent) */
    int bos_token_id, eos_token_id;
} qwen3_config;

typedef struct qwen3_model qwen3_model;

typedef struct qwen3_load_opts {
    int n_threads;       /* 0: number of physical cores */
    qwen3_dtype quant;   /* QWEN3_F32 (=0) keeps the stored types; Q8_0 or Q4 quantize at load */
} qwen3_load_opts;

/* Loads a Hugging Face model directory (config.json + model.safetensors or sharded safetensors with
 * model.safetensors.index.json). Weights are memory-mapped and validated against config.json before
 * anything is computed. opts may be NULL. */
qwen3_model *qwen3_model_load(const char *dir, const qwen3_load_opts *opts, qwen3_err *err);
void qwen3_model_free(qwen3_model *m);
const qwen3_config *qwen3_model_config(const qwen3_model *m);
/* Human-readable multi-line description (architecture, shapes, dtypes, parameter counts, memory). */
int qwen3_model_describe(const qwen3_model *m, char *buf, size_t n);
int qwen3_model_threads(const qwen3_model *m);

/* ---- sequences and the forward pass ---------------------------------------------------------- */

/* A sequence owns one KV cache. Its length is the number of positions cached. */
typedef struct qwen3_seq qwen3_seq;

/* n_ctx: capacity in tokens (0: max_position_embeddings, times the YaRN factor when configured). */
qwen3_seq *qwen3_seq_new(qwen3_model *m, int n_ctx, qwen3_err *err);
void qwen3_seq_free(qwen3_seq *s);
int qwen3_seq_len(const qwen3_seq *s);
int qwen3_seq_capacity(const qwen3_seq *s);
/* Cuts the cache back to its first n positions (0 <= n <= len). */
int qwen3_seq_truncate(qwen3_seq *s, int n, qwen3_err *err);

enum { QWEN3_LOGITS_NONE = 0, QWEN3_LOGITS_LAST = 1, QWEN3_LOGITS_ALL = 2 };

/* One sequence's share of a forward pass: its new tokens are appended at its current length. */
typedef struct qwen3_batch_item {
    qwen3_seq *seq;
    const int32_t *tokens;
    int n_tokens;         /* >= 1 */
    int logits;           /* QWEN3_LOGITS_* */
    float *out;           /* LAST: vocab_size floats; ALL: n_tokens * vocab_size; caller-owned */
} qwen3_batch_item;

/* Runs all items' tokens through the model in one pass (matrix times matrix over every token of
 * every item). Each item's sequence must appear once. On error no sequence changes length. */
int qwen3_forward(qwen3_model *m, qwen3_batch_item *items, int n_items, qwen3_err *err);

/* ---- tokenizer -------------------------------------------------------------------------------
 * Qwen3's byte-level BPE, exactly as Hugging Face tokenizers computes it for tokenizer.json. */

typedef struct qwen3_tokenizer qwen3_tokenizer;

/* Loads tokenizer.json (vocab.json + merges.txt as the fallback) and the added tokens of
 * tokenizer.json / tokenizer_config.json from a model directory (or a directory holding only the
 * tokenizer files). */
qwen3_tokenizer *qwen3_tokenizer_load(const char *dir, qwen3_err *err);
void qwen3_tokenizer_free(qwen3_tokenizer *t);
/* Number of ids the tokenizer knows (the base vocabulary plus added tokens). */
int qwen3_tokenizer_size(const qwen3_tokenizer *t);

/* Encodes UTF-8 text of len bytes. special != 0: added-token text in the input (such as
 * "<|im_start|>") becomes its id, as HF does by default; special == 0: it is encoded as plain text
 * (for untrusted content). *ids is malloc'd (free it); returns the count or -1. Invalid UTF-8 is an
 * error naming the byte offset. */
int qwen3_encode(const qwen3_tokenizer *t, const char *text, size_t len, int special, int32_t **ids,
                 qwen3_err *err);

/* Decodes ids to a malloc'd NUL-terminated UTF-8 string (U+FFFD where HF puts it); *len (may be
 * NULL) gets its length. skip_special drops special added tokens. An id outside the vocabulary is an
 * error naming its position. */
char *qwen3_decode(const qwen3_tokenizer *t, const int32_t *ids, int n, int skip_special, size_t *len,
                   qwen3_err *err);

/* The id of a token given its exact text (added tokens such as "<think>", or a vocabulary entry in
 * its byte-level form); -1 when absent. */
int32_t qwen3_token_id(const qwen3_tokenizer *t, const char *text);
/* 1 when id is a special added token (dropped by skip_special). */
int qwen3_token_is_special(const qwen3_tokenizer *t, int32_t id);
/* The raw bytes a token decodes to (not NUL-terminated); NULL for an id out of range. */
const char *qwen3_token_bytes(const qwen3_tokenizer *t, int32_t id, size_t *len);

/* Streaming decoder: feed ids one at a time, get back only whole UTF-8 characters. */
typedef struct qwen3_detok {
    unsigned char pending[8]; /* bytes of an unfinished character */
    int n_pending;
} qwen3_detok;
/* Appends the complete characters that id finishes to out (NUL-terminated, at most cap-1 bytes; cap
 * >= 64 is always enough for one token plus pending bytes... callers size it from the longest
 * token); returns bytes written or -1. Invalid sequences become U+FFFD as qwen3_decode would. */
int qwen3_detok_feed(const qwen3_tokenizer *t, qwen3_detok *d, int32_t id, int skip_special, char *out,
                     size_t cap, qwen3_err *err);
/* Flushes what is pending at the end of a stream (as U+FFFD). */
int qwen3_detok_flush(const qwen3_tokenizer *t, qwen3_detok *d, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
