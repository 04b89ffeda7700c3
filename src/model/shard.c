/* shard.c - one rank's share of every layer under tensor / expert parallelism (Megatron-LM's split:
 * the first product of a block by output rows, the second by input columns, so each rank's partial
 * output is summed once across the ranks per block; model/forward.c, mpi/pp.h pp_allreduce).
 *
 *   attention  query heads [h0, h0 + nh) (rows of q_proj, columns of o_proj), and the key/value
 *              heads those read (rows of k_proj / v_proj; with more ranks than kv heads a kv head
 *              is held, and computed, by each rank that has one of its query heads)
 *   dense MLP  intermediate columns [ff0, ff0 + ff): rows of gate_proj / up_proj, columns of
 *              down_proj
 *   MoE (TP)   every expert's intermediate columns the same way; the router is replicated
 *   MoE (EP)   whole experts [e0, e1) per rank; the router is replicated
 * Rows are views into the mapping (only their pages are ever read). Columns are copied out, row by
 * row, into a buffer the model owns and the source pages released (madvise), so a rank's resident
 * weights are its share; a block-quantized matrix can only be cut on its block boundaries (32
 * values for Q8_0 / Q4_0 ..., 256 for the K-quants), which the split points aim at and this file
 * checks, naming the tensor when they cannot be met. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/model.h"

/* [0, total) in n parts: part r, on multiples of the largest granule (256, 32, 1) that divides total
 * and still gives every part some (so K-quant and Q8_0 blocks are not cut where the shape allows). */
static void split(int total, int r, int n, int *start, int *count) {
    static const int granules[3] = {256, 32, 1};
    int g = 1;
    for (int i = 0; i < 3; i++)
        if (total % granules[i] == 0 && total / granules[i] >= n) { g = granules[i]; break; }
    long units = total / g;
    long a = units * r / n * g, b = r == n - 1 ? total : units * (r + 1) / n * g;
    *start = (int)a;
    *count = (int)(b - a);
}

tp_share model_share(const qwen3_config *c, int mode, int r, int n) {
    tp_share s;
    if (n < 1) n = 1;
    long nh = c->num_heads, kvh = c->num_kv_heads, group = kvh > 0 ? nh / kvh : 1;
    s.h0 = (int)(nh * r / n);
    s.nh = (int)(nh * (r + 1) / n) - s.h0;
    s.kv0 = (int)(s.h0 / group);
    s.nkv = s.nh > 0 ? (int)((s.h0 + s.nh - 1) / group) - s.kv0 + 1 : 0;
    split(c->intermediate_size, r, n, &s.ff0, &s.ff);
    s.moe_ff0 = 0, s.moe_ff = c->moe_intermediate_size, s.e0 = 0, s.e1 = c->num_experts;
    if (n > 1 && mode == QWEN3_MPI_TP) split(c->moe_intermediate_size, r, n, &s.moe_ff0, &s.moe_ff);
    if (n > 1 && mode == QWEN3_MPI_EP) {
        s.e0 = (int)((long)c->num_experts * r / n);
        s.e1 = (int)((long)c->num_experts * (r + 1) / n);
    }
    return s;
}

double model_share_bytes(const qwen3_model *m, const char *name, double bytes) {
    const qwen3_config *c = &m->c;
    int l, at = 0;
    if (sscanf(name, "model.layers.%d.%n", &l, &at) != 1 || at == 0)
        return m->pp_rank == 0 ? bytes : 0; /* the embedding, final norm, lm_head: rank 0's */
    if (l < m->l0 || l >= m->l1) return 0;
    if (m->tp_size <= 1) return bytes;
    const char *t = name + at;
    const tp_share *s = &m->sh;
    int x;
    if (strstr(t, "norm")) return bytes; /* every rank's copy */
    if (strstr(t, "q_proj") || strstr(t, "o_proj")) return bytes * s->nh / c->num_heads;
    if (strstr(t, "k_proj") || strstr(t, "v_proj")) return bytes * s->nkv / c->num_kv_heads;
    if (sscanf(t, "mlp.experts.%d.", &x) == 1) {
        if (x < s->e0 || x >= s->e1) return 0;
        return m->mpi_mode == QWEN3_MPI_TP ? bytes * s->moe_ff / c->moe_intermediate_size : bytes;
    }
    if (strstr(t, "gate_proj") || strstr(t, "up_proj") || strstr(t, "down_proj")) return bytes * s->ff / c->intermediate_size;
    return bytes; /* the router (mlp.gate) */
}

static void rows(kmat *w, int64_t r0, int64_t n) {
    w->data = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
    w->rows = n;
}

/* Columns [c0, c0 + n) of w into an owned buffer. */
static int cols(qwen3_model *m, kmat *w, int64_t c0, int64_t n, const char *what, int layer, qwen3_err *e) {
    int64_t bs = k_block_size(w->type);
    if (c0 % bs || n % bs)
        return qerr(e, "%s: layer %d's %s (%s, blocks of %lld values) cannot be split on its input dimension at columns "
                    "%lld..%lld across %d MPI ranks: the cut falls inside a block. Use --mpi pp (layers), fewer ranks, "
                    "or a checkpoint of a type with blocks of 32 (Q8_0, Q4_0, ...)", m->dir, layer, what, qwen3_dtype_name(w->type),
                    (long long)bs, (long long)c0, (long long)(c0 + n), m->tp_size);
    size_t off = k_row_bytes(w->type, c0), rb = k_row_bytes(w->type, n), bytes = rb * (size_t)w->rows;
    void *buf = model_alloc_owned(m, bytes);
    if (!buf)
        return qerr(e, "%s: out of memory for this rank's %zu-byte share of layer %d's %s (MPI rank %d of %d: more ranks "
                    "give each a smaller share)", m->dir, bytes, layer, what, m->tp_rank, m->tp_size);
    for (int64_t r = 0; r < w->rows; r++)
        memcpy((uint8_t *)buf + (size_t)r * rb, (const uint8_t *)w->data + (size_t)r * w->row_bytes + off, rb);
    model_release_pages(m, w->data, w->row_bytes * (size_t)w->rows);
    *w = (kmat){w->type, buf, w->rows, n, rb, 0};
    return 0;
}

int model_shard(qwen3_model *m, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    const tp_share *s = &m->sh;
    const int64_t D = c->head_dim;
    if (m->tp_size <= 1) return 0;
    if (m->tp_size > c->num_heads)
        return qerr(e, "%s: %d MPI ranks for %d query heads: tensor parallelism needs at least one head per rank (--mpi pp "
                    "splits by layers)", m->dir, m->tp_size, c->num_heads);
    if (s->ff < 1 || (c->is_moe && m->mpi_mode == QWEN3_MPI_TP && s->moe_ff < 1))
        return qerr(e, "%s: %d MPI ranks for an MLP of %d columns (experts: %d): too many ranks for tensor parallelism",
                    m->dir, m->tp_size, c->intermediate_size, c->moe_intermediate_size);
    if (c->is_moe && m->mpi_mode == QWEN3_MPI_EP && s->e1 <= s->e0)
        return qerr(e, "%s: %d MPI ranks for %d experts: expert parallelism needs at least one expert per rank", m->dir,
                    m->tp_size, c->num_experts);
    for (int l = 0; l < c->num_layers; l++) {
        layer_weights *L = &m->layers[l];
        rows(&L->wq, s->h0 * D, s->nh * D);
        rows(&L->wk, s->kv0 * D, s->nkv * D);
        rows(&L->wv, s->kv0 * D, s->nkv * D);
        if (cols(m, &L->wo, s->h0 * D, s->nh * D, "o_proj", l, e)) return -1;
        if (!L->is_moe) {
            rows(&L->gate, s->ff0, s->ff);
            rows(&L->up, s->ff0, s->ff);
            if (cols(m, &L->down, s->ff0, s->ff, "down_proj", l, e)) return -1;
            continue;
        }
        for (int x = 0; x < c->num_experts; x++) {
            if (x < s->e0 || x >= s->e1) { /* another rank's expert: never read here */
                L->egate[x].data = L->eup[x].data = L->edown[x].data = NULL;
                continue;
            }
            if (m->mpi_mode != QWEN3_MPI_TP) continue;
            rows(&L->egate[x], s->moe_ff0, s->moe_ff);
            rows(&L->eup[x], s->moe_ff0, s->moe_ff);
            if (cols(m, &L->edown[x], s->moe_ff0, s->moe_ff, "expert down_proj", l, e)) return -1;
        }
    }
    return 0;
}
