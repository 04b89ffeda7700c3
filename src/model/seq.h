/* seq.h - the KV cache of one sequence (see seq.c for the layout). */
#ifndef QWEN3_MODEL_SEQ_H
#define QWEN3_MODEL_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "qwen3.h"

struct qwen3_seq {
    qwen3_model *m;
    int len;              /* positions cached */
    int high;             /* positions ever written since the pages were last given back (>= len) */
    int cap;              /* positions reserved */
    int keep_pages;       /* qwen3_seq_keep_memory: truncation gives no pages back */
    qwen3_dtype kv_type;  /* F32 (exact path), F16 (fast path) or Q8_0 (asked for at load) */
    size_t row_bytes;     /* bytes of one head_dim row of kv_type (Q8_0: head_dim / 32 blocks of 34) */
    void *k, *v;          /* [layers][kv_heads][cap][head_dim] of kv_type */
    int head_dim;
    size_t head_stride;   /* cap (rows) */
    size_t layer_stride;  /* kv_heads * head_stride (rows) */
    size_t bytes;         /* size of the reservation (k and v together) */
    int32_t *tokens;      /* [tok_cap] the tokens cached, for prefix re-use */
    int tok_cap;
    int pp_id;            /* MPI pipeline: the id the other ranks know it by (0: none yet) */
};

/* The positions the model can address: max_position_embeddings, or original x factor under YaRN
 * (model/seq.c). */
int model_max_positions(const qwen3_model *m);

/* Grows the token record to hold n tokens. */
int seq_reserve_tokens(struct qwen3_seq *s, int n, qwen3_err *e);

/* Offsets count head_dim rows, so a block-quantized row (Q8_0) is addressed like a float one. */
static inline void *seq_k(const struct qwen3_seq *s, int layer, int head, int pos) {
    return (uint8_t *)s->k + ((size_t)layer * s->layer_stride + (size_t)head * s->head_stride + (size_t)pos) * s->row_bytes;
}
static inline void *seq_v(const struct qwen3_seq *s, int layer, int head, int pos) {
    return (uint8_t *)s->v + ((size_t)layer * s->layer_stride + (size_t)head * s->head_stride + (size_t)pos) * s->row_bytes;
}

#endif
