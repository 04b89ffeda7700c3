/* quantize.c - quantization of a loaded model's matrices at load time (qwen3_load_opts.quant, CLI
 * --quant), the same conversion `qwen3 quantize` writes to disk.
 *
 * Types: every layer matrix but the MoE router goes to the requested type; the embedding (and the
 * lm_head, which is the embedding when tied) goes to Q8_0: it is read one row per token for lookups,
 * and the output layer is the most sensitive to quantization, as llama.cpp's Q4_K_M also keeps it at
 * a higher precision. Rows are quantized in parallel on the model's pool into buffers the model owns;
 * the source pages of the mapping are then released (madvise), so resident memory is the quantized
 * size, not both. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/quant.h"
#include "model/model.h"

qwen3_dtype model_quant_type(qwen3_dtype q, qwen3_dtype stored, int64_t cols, int embedding) {
    /* A matrix already quantized to another type is requantized through float32 (its rounding
     * stays: Q4 -> Q8_0 does not bring back the precision Q4 lost). */
    if (embedding) q = QWEN3_Q8_0;
    if (cols % k_block_size(q) == 0) return q;
    if (cols % k_block_size(QWEN3_Q8_0) == 0) return QWEN3_Q8_0;
    return stored;
}

typedef struct { const kmat *src; kmat *dst; int failed; } qjob;

static void quant_worker(void *ctx, int ith, int nth) {
    qjob *j = ctx;
    long r0, r1;
    qpool_split((long)j->src->rows, ith, nth, 1, &r0, &r1);
    if (r0 >= r1) return;
    float *tmp = malloc(sizeof(float) * (size_t)j->src->cols);
    if (!tmp) { j->failed = 1; return; }
    for (long r = r0; r < r1; r++) {
        k_row_to_float(j->src, r, tmp);
        kq_quantize_row(j->dst->type, tmp, (uint8_t *)j->dst->data + (size_t)r * j->dst->row_bytes, j->dst->cols);
    }
    free(tmp);
}

static int quant_mat(qwen3_model *m, kmat *w, qwen3_dtype t, qwen3_err *e) {
    if (w->type == t) return 0;
    kmat q = {t, NULL, w->rows, w->cols, k_row_bytes(t, w->cols), 0};
    void *buf = model_alloc_owned(m, q.row_bytes * (size_t)q.rows);
    if (!buf)
        return qerr(e, "out of memory quantizing a [%lld, %lld] matrix to %s", (long long)w->rows, (long long)w->cols,
                    qwen3_dtype_name(t));
    q.data = buf;
    qjob j = {w, &q, 0};
    qpool_run(m->pool, quant_worker, &j);
    if (j.failed) return qerr(e, "out of memory quantizing to %s", qwen3_dtype_name(t));
    model_release_pages(m, w->data, w->row_bytes * (size_t)w->rows);
    *w = q;
    return 0;
}

/* llama.cpp's "_M" mixes (Q4_K_M, Q5_K_M), as its quantizer chooses types without an importance
 * matrix: attn_v and ffn_down get Q6_K in the first and last eighth of the layers and every third
 * layer between ("use_more_bits"); the output layer Q6_K (the embedding when tied, as llama.cpp
 * treats token_embd when there is no separate output tensor); other matrices the base type. */
static int more_bits(int l, int n) { return l < n / 8 || l >= 7 * n / 8 || (l - n / 8) % 3 == 2; }

int model_quantize(qwen3_model *m, qwen3_dtype q, const qwen3_load_opts *o, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    if (o->progress) o->progress(o->progress_ctx, 0, c->num_layers + 1);
    m->quant = q;
    int tied = m->lm_head.data == m->embed.data, mix = o->quant_mix;
    qwen3_dtype emb = mix ? (tied ? QWEN3_Q6_K : q) : model_quant_type(q, m->embed.type, m->embed.cols, 1);
    qwen3_dtype out = mix ? QWEN3_Q6_K : model_quant_type(q, m->lm_head.type, m->lm_head.cols, 1);
    if (mix) { /* the same fallback for shapes the types do not divide */
        emb = model_quant_type(emb, m->embed.type, m->embed.cols, 0);
        out = model_quant_type(out, m->lm_head.type, m->lm_head.cols, 0);
    }
    /* an MPI rank quantizes (and so reads) only what it computes: its layers (pipeline) or its
     * share of each (tensor / expert parallelism), and on rank 0 the embedding and lm_head */
    if (m->pp_rank == 0) {
        if (quant_mat(m, &m->embed, emb, e)) return -1;
        if (tied) m->lm_head = m->embed;
        else if (quant_mat(m, &m->lm_head, out, e)) return -1;
    }
    for (int l = 0; l < c->num_layers; l++) {
        if (o->progress) o->progress(o->progress_ctx, l + 1, c->num_layers + 1);
        if (l < m->l0 || l >= m->l1) continue;
        layer_weights *L = &m->layers[l];
        kmat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        int nm = L->is_moe ? 4 : 7;
        qwen3_dtype hi = mix && more_bits(l, c->num_layers) ? QWEN3_Q6_K : q; /* attn_v, ffn_down */
        for (int i = 0; i < nm; i++)
            if (quant_mat(m, mats[i], model_quant_type(i == 2 || i == 6 ? hi : q, mats[i]->type, mats[i]->cols, 0), e)) return -1;
        if (!L->is_moe) continue;
        for (int x = 0; x < c->num_experts; x++) {
            kmat *ex[3] = {&L->egate[x], &L->eup[x], &L->edown[x]};
            for (int i = 0; i < 3 && ex[i]->data; i++) /* no data: another MPI rank's expert (EP) */
                if (quant_mat(m, ex[i], model_quant_type(i == 2 ? hi : q, ex[i]->type, ex[i]->cols, 0), e)) return -1;
        }
    }
    if (o->progress) o->progress(o->progress_ctx, c->num_layers + 1, c->num_layers + 1);
    return 0;
}
