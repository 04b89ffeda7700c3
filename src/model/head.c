/* head.c - the compact output layer (qwen3_load_opts.compact_head): a model trained by `qwen3 train`
 * under its shared-row head has most of its 151,936 embedding rows bit-identical to the last
 * (padding) row, so their logits are identical too. The compact head keeps the distinct rows (every
 * row that differs from the last, then the last) in a small matrix of the same type; write_logits
 * (forward.c) computes those D logits and writes the last one's value to every other id. Each logit
 * is one row's dot product with the normed hidden state, computed by the same kernel on the same
 * bytes, so the logits are the full product's (tests/suite/compact_head.sh compares them bit for
 * bit); the saving is the (V - D) x hidden multiply-adds per token that dominate decoding such a
 * small model (the post-training rollouts, qwen3 eval).
 *
 * Only for float weights (F32, F16, BF16) in one process, before the matrices are interleaved
 * (repack.c, which then leaves a compacted lm_head alone): quantized output layers, and models whose copies of the last row are under 3/4 of the vocabulary, keep the full
 * product. QWEN3_COMPACT_HEAD=0 turns it off, =1 on, for any load. */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

int model_compact_head(qwen3_model *m, int want, qwen3_err *e) {
    const char *env = getenv("QWEN3_COMPACT_HEAD");
    if (env && *env) want = strcmp(env, "0") != 0;
    const kmat *W = &m->lm_head;
    if (!want || !W->data || W->il || m->pp_size > 1 || m->tp_size > 1 || W->rows < 2) return 0;
    if (W->type != QWEN3_F32 && W->type != QWEN3_F16 && W->type != QWEN3_BF16) return 0;
    const int64_t V = W->rows;
    const size_t rb = W->row_bytes;
    const unsigned char *base = W->data, *last = base + (size_t)(V - 1) * rb;
    int64_t D = 1;
    for (int64_t v = 0; v < V - 1; v++) if (memcmp(base + (size_t)v * rb, last, rb)) D++;
    if (D * 4 > V) return 0;
    int32_t *map = model_alloc_owned(m, sizeof(int32_t) * (size_t)D);
    unsigned char *rows = model_alloc_owned(m, rb * (size_t)D);
    if (!map || !rows) return qerr(e, "out of memory (compact output layer, %lld rows)", (long long)D);
    int64_t j = 0;
    for (int64_t v = 0; v < V - 1; v++)
        if (memcmp(base + (size_t)v * rb, last, rb)) { memcpy(rows + (size_t)j * rb, base + (size_t)v * rb, rb); map[j++] = (int32_t)v; }
    memcpy(rows + (size_t)j * rb, last, rb);
    map[j] = (int32_t)(V - 1);
    m->head_c = *W;
    m->head_c.data = rows;
    m->head_c.rows = D;
    m->head_map = map;
    return 0;
}
