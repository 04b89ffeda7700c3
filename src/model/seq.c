/* seq.c - one sequence's KV cache.
 *
 * Layout: for each layer, K and V as [kv_heads][capacity][head_dim] of the model's KV type (float32
 * on the exact path, float16 on the fast path: half the memory and half the bytes attention reads;
 * Q8_0 when asked for: each head_dim row is head_dim / 32 blocks of 32 int8 and an f16 scale),
 * so one head's keys are contiguous over positions. The whole capacity (up to max_position_embeddings x YaRN factor) is
 * reserved as virtual memory with MAP_NORESERVE: pages are committed only as positions are written,
 * so a 40k-token capacity costs nothing until used. Truncation just lowers the length. */
#include <stdlib.h>
#include <sys/mman.h>

#include "kernels/kernels.h"
#include "model/model.h"
#include "model/seq.h"
#include "mpi/pp.h"

qwen3_seq *qwen3_seq_new(qwen3_model *m, int n_ctx, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    long max = c->max_position_embeddings;
    if (c->yarn && c->yarn_factor > 1) {
        /* YaRN extends the trained context by the factor (Qwen3: 32,768 x 4) */
        long ext = (long)(c->yarn_original_max_position_embeddings * c->yarn_factor);
        if (ext > max) max = ext;
    }
    if (n_ctx <= 0) n_ctx = (int)max;
    if (n_ctx > max) { qerr(e, "context %d exceeds the model's %ld positions", n_ctx, max); return NULL; }
    qwen3_seq *s = calloc(1, sizeof *s);
    if (!s) { qerr(e, "out of memory"); return NULL; }
    s->m = m;
    s->cap = n_ctx;
    s->kv_type = m->kv_type;
    s->row_bytes = k_kv_row_bytes(m->kv_type, (size_t)c->head_dim);
    s->head_dim = c->head_dim;
    s->head_stride = (size_t)n_ctx;
    s->layer_stride = s->head_stride * (size_t)c->num_kv_heads;
    s->bytes = s->row_bytes * s->layer_stride * (size_t)c->num_layers * 2;
    void *p = mmap(NULL, s->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        qerr(e, "cannot reserve %zu MiB of address space for a %d-token KV cache", s->bytes >> 20, n_ctx);
        free(s);
        return NULL;
    }
    s->k = p;
    s->v = (uint8_t *)p + s->bytes / 2;
    return s;
}

void qwen3_seq_free(qwen3_seq *s) {
    if (!s) return;
    pp_seq_freed(s->m->pp_id, s->pp_id); /* the other ranks' mirror of it (mpi/pp.h) */
    munmap(s->k, s->bytes);
    free(s->tokens);
    free(s);
}

int qwen3_seq_len(const qwen3_seq *s) { return s->len; }
int qwen3_seq_capacity(const qwen3_seq *s) { return s->cap; }
const int32_t *qwen3_seq_tokens(const qwen3_seq *s) { return s->tokens; }

int seq_reserve_tokens(qwen3_seq *s, int n, qwen3_err *e) {
    if (n <= s->tok_cap) return 0;
    int cap = s->tok_cap ? s->tok_cap : 256;
    while (cap < n) cap *= 2;
    int32_t *t = realloc(s->tokens, sizeof *t * (size_t)cap);
    if (!t) return qerr(e, "out of memory");
    s->tokens = t;
    s->tok_cap = cap;
    return 0;
}

int qwen3_seq_truncate(qwen3_seq *s, int n, qwen3_err *e) {
    if (n < 0 || n > s->len) return qerr(e, "cannot cut the cache back to %d positions: it holds %d", n, s->len);
    s->len = n;
    return 0;
}
