/* measure.c - what a benchmark reads of a model and the machine (qwen3.h, "measurements"): the bytes
 * and multiply-adds of a token, the machine's peaks, the per-step clocks of forward passes, and a KV
 * cache filled with random rows for decode at depth. `qwen3 bench` is their user; they live here so
 * that it needs only the public API. */
#include <stdlib.h>

#include "base/err.h"
#include "base/pool.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "model/profile.h"
#include "model/seq.h"

static double mbytes(const kmat *k) { return (double)k->rows * (double)k->row_bytes; }
static double mparams(const kmat *k) { return (double)k->rows * (double)k->cols; }

void qwen3_model_costs_get(const qwen3_model *m, qwen3_model_costs *out) {
    const qwen3_config *c = &m->c;
    double b = mbytes(&m->lm_head) + (double)m->embed.row_bytes, a = 0;
    for (int l = 0; l < c->num_layers; l++) {
        const layer_weights *L = &m->layers[l];
        const kmat *att[4] = {&L->wq, &L->wk, &L->wv, &L->wo};
        for (int i = 0; i < 4; i++) { b += mbytes(att[i]); a += mparams(att[i]); }
        if (L->is_moe) { /* the router, and k experts of the same shape */
            double k = c->num_experts_per_tok;
            b += mbytes(&L->router) + k * (mbytes(&L->egate[0]) + mbytes(&L->eup[0]) + mbytes(&L->edown[0]));
            a += mparams(&L->router) + k * (mparams(&L->egate[0]) + mparams(&L->eup[0]) + mparams(&L->edown[0]));
        } else {
            b += mbytes(&L->gate) + mbytes(&L->up) + mbytes(&L->down);
            a += mparams(&L->gate) + mparams(&L->up) + mparams(&L->down);
        }
    }
    qwen3_dtype wt = c->num_layers > 0 ? m->layers[0].wq.type : m->lm_head.type;
    *out = (qwen3_model_costs){
        .weight_type = wt,
        .lm_head_type = m->lm_head.type,
        .fast = m->fast,
        .batch_variant = m->batch_variant,
        .quantized = kq_is_quant(wt),
        .bf16_dots = m->fast && m->cpu.type[wt].path == K_PATH_B16,
        .weight_bytes_per_token = b,
        .macs_per_token = a,
        .lm_head_macs = mparams(&m->lm_head),
        .kv_bytes_per_position = 2.0 * c->num_layers * c->num_kv_heads * (double)k_kv_row_bytes(m->kv_type, (size_t)c->head_dim),
        .attn_macs_per_position = 2.0 * c->num_layers * c->num_heads * c->head_dim,
    };
}

int qwen3_default_threads(void) { return qpool_default_threads(); }

double qwen3_machine_peak(qwen3_peak what, int threads) {
    if (threads <= 0) threads = qpool_default_threads();
    switch (what) {
    case QWEN3_PEAK_READ_GBPS: return k_peak_read_gbps(threads, (size_t)1 << 30);
    case QWEN3_PEAK_F32: return k_peak_gflops(1, threads);
    case QWEN3_PEAK_BF16: return k_peak_gflops(2, threads);
    case QWEN3_PEAK_INT8: return k_peak_gflops(3, threads);
    }
    return 0;
}

int qwen3_model_profile_begin(qwen3_model *m, qwen3_err *e) {
    _Static_assert(PROF_N <= QWEN3_PROFILE_MAX, "qwen3_profile has room for every step of model_profile");
    if (!m->prof && !(m->prof = calloc(1, sizeof *m->prof))) return qerr(e, "out of memory");
    *m->prof = (model_profile){0};
    qpool_timing(m->pool, 1);
    return 0;
}

void qwen3_model_profile_end(qwen3_model *m, qwen3_profile *p) {
    if (p) *p = (qwen3_profile){0};
    if (!m->prof) return;
    if (p) {
        const model_profile *pf = m->prof;
        p->passes = pf->passes;
        p->total_s = pf->total_s;
        p->n_steps = PROF_N;
        for (int i = 0; i < PROF_N; i++) {
            p->name[i] = prof_names[i];
            p->seconds[i] = pf->s[i];
            p->calls[i] = pf->calls[i];
        }
        p->moe_blocks = pf->moe_blocks;
        p->experts_run = pf->experts_run;
        qpool_timing_get(m->pool, &p->handoffs, &p->wait_s);
    }
    qpool_timing(m->pool, 0);
    free(m->prof);
    m->prof = NULL;
}

int qwen3_seq_fill_random(qwen3_seq *s, int n, qwen3_err *e) {
    const qwen3_config *c = &s->m->c;
    if (n < 0 || n > s->cap) return qerr(e, "%d positions do not fit a cache of %d", n, s->cap);
    /* under MPI the other ranks hold (pipeline: mirror; tensor / expert parallel: their heads of) the
     * cache, which only a forward pass fills on every rank */
    if (s->m->pp_size > 1 || s->m->tp_size > 1)
        return qerr(e, "random K/V rows would fill this rank's cache alone: under MPI fill it by a prefill");
    if (qwen3_seq_truncate(s, 0, e) || seq_reserve_tokens(s, n, e)) return -1;
    float *row = malloc(sizeof(float) * (size_t)c->head_dim);
    if (!row) return qerr(e, "out of memory");
    uint32_t x = 12345;
    for (int l = 0; l < c->num_layers; l++)
        for (int h = 0; h < c->num_kv_heads; h++)
            for (int p = 0; p < n; p++)
                for (int kv = 0; kv < 2; kv++) {
                    for (int d = 0; d < c->head_dim; d++) {
                        x = x * 1664525u + 1013904223u; /* an LCG: the same rows every run */
                        row[d] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 3.0f;
                    }
                    k_store_row(&s->m->cpu, s->kv_type, kv ? seq_v(s, l, h, p) : seq_k(s, l, h, p), row, c->head_dim);
                }
    for (int p = 0; p < n; p++) s->tokens[p] = (int32_t)(p % c->vocab_size);
    s->len = n;
    s->high = s->len > s->high ? s->len : s->high;
    free(row);
    return 0;
}
