/* forward.c - the Qwen3 / Qwen3-MoE forward pass over a batch of tokens from one or more sequences.
 *
 * Mirrors transformers' modeling_qwen3.py / modeling_qwen3_moe.py (>= 4.57):
 *   h = embed(tokens)
 *   for each layer:
 *     a = rmsnorm(h, input_layernorm)
 *     q, k, v = a Wq^T, a Wk^T, a Wv^T
 *     q, k = rmsnorm per head (q_norm, k_norm), then RoPE (rotate-half)        # QK-Norm before RoPE
 *     o = softmax(q k^T / sqrt(head_dim), causal) v, GQA: query head h reads kv head h / (heads/kv)
 *     h = h + o Wo^T
 *     a = rmsnorm(h, post_attention_layernorm)
 *     h = h + mlp(a)      dense: down(silu(gate a) * up a)
 *                         MoE:   softmax(router a) in float32 -> top-k -> renormalise (norm_topk_prob)
 *                                -> sum_k w_k * expert_k(a)
 *   logits = rmsnorm(h, norm) W_lm^T   (only for the positions whose logits are asked for)
 * All activations are float32; tokens of all sequences form one matrix, so every projection is one
 * matrix product over the whole batch (kernels/dispatch.c picks its arithmetic: float32 on the exact
 * path, bf16 or int8 on the fast path). Each sequence's new keys/values are appended to its cache
 * before attention, and a token at position p attends to positions 0..p of its own sequence.
 * In the last layer, once the keys and values of every token are cached, only the tokens whose
 * logits are asked for go on through attention output, MLP and the final norm (keep_rows).
 *
 * Batch invariance (the default; qwen3_load_opts.batch_variant gives it up for a faster prefill): a
 * token's logits are a function of its own sequence alone, bit for bit. Every step is per token or
 * per (token, head) with arithmetic that does not look at the rest of the batch: norms, RoPE, the
 * cache write, routing, the MoE combine; attention reads the token's own cache in blocks of 16
 * positions aligned to position 0, one SIMD lane per query row (k_attn_rows), so neither the rows
 * sharing a tile nor the number of tokens in the step change a row's sums; and every matrix product
 * takes one kernel path per weight type whatever the number of tokens (gemm_min = K_GEMM_NEVER; each
 * kernel sums a (row, token) the same way for any token count and row split). So a token gets the
 * same bits in a long prefill, in a decode step alone or beside 63 other sequences, after a cached
 * prefix or not, and as an MoE expert's only token or one of hundreds. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model.h"
#include "model/profile.h"
#include "model/seq.h"
#include "mpi/pp.h"

typedef struct run {
    qwen3_model *m;
    const qwen3_config *c;
    int T;                  /* tokens in the batch */
    qwen3_seq **tseq;       /* [T] sequence of each token */
    int *tpos;              /* [T] position of each token */
    float *x;               /* [T, hidden] residual stream */
    float *a;               /* [T, hidden] normed input of a block */
    float *q;               /* [T, heads*head_dim] */
    float *k, *v;           /* [T, kv_heads*head_dim] */
    float *o;               /* [T, heads*head_dim] attention output */
    float *y;               /* [T, hidden] block output before the residual add */
    float *g, *u;           /* [T, intermediate] MLP gate / up */
    float *cos, *sin;       /* [T, head_dim/2] RoPE tables per token; under DCA [T, 3, head_dim/2]:
                               the intra-chunk (also the key's), successive and inter-chunk positions */
    /* Dual Chunk Attention (dca_head_worker, dca_rows_worker) */
    float *qs, *qi;         /* [T, heads*head_dim] the queries rotated for the previous chunk / earlier ones */
    float *tscale;          /* [T] length scaling of the token's q and k (1 below original_max_position_embeddings) */
    float *dtmp;            /* [threads, dtmp_per] partial outputs to merge */
    size_t dtmp_per;
    int *dblk, ndblk;       /* [T + 1] token blocks of dca_rows_worker */
    int max_len;
    kact *act;              /* the input of the current products and its derived forms (workspace's) */
    /* MoE */
    float *router;          /* [T, experts] */
    int *sel;               /* [T, top_k] chosen experts */
    float *selw;            /* [T, top_k] their weights */
    int *etok;              /* [T*top_k] tokens grouped by expert */
    int *ecount, *estart;   /* [experts] */
    int *eorder;            /* [experts] experts by decreasing token count (work order) */
    int *tslot;             /* [T*top_k] slot of each (token, choice) in the grouped arrays */
    float *eo;              /* [T*top_k, hidden] each slot's expert output, unweighted */
    const uint8_t *xa8;     /* the MoE input's tokens as int8 rows (k_act_a8), or NULL: expert_run */
    kact_type xa8_type;     /* their format */
    int nth;                /* threads of the pool */
    struct moe_scratch *ms; /* [nth] each thread's expert buffers (workspace's) */
    int layer;
    atomic_long next_item;  /* attn_worker's next work item (taken by whichever thread is free) */
    int *rows;              /* [T] original batch row of each row still computed (keep_rows) */
    int *keep;              /* [T] the rows the last layer carries on (needed_rows) */
    int n_last;             /* items asking for their LAST logits */
    float *z, *zl, *zz;     /* write_logits: LAST rows normed [n_last, hidden], their logits, a tile of 64 ALL rows */
} run;

/* One thread's buffers for whole experts: its own activations (so its products run single-threaded
 * with their own packed panels), the gathered input and the gate/up outputs of one expert. */
typedef struct moe_scratch {
    kact act;
    float *xe;              /* [T, hidden] gathered expert input */
    float *g, *u;           /* [T, moe_intermediate] */
    wbuf bxe, bg, bu;       /* their memory */
} moe_scratch;

/* The workspace (model.h: m->ws): the memory behind run's buffers, one wbuf each, and the
 * activations' derived forms (a kact keeps its bf16 / int8 buffers from pass to pass too). */
enum {
    W_TSEQ, W_TPOS, W_X, W_A, W_Q, W_K, W_V, W_O, W_Y, W_G, W_U, W_COS, W_SIN, W_ROWS, W_KEEP,
    W_QS, W_QI, W_TSCALE, W_DTMP, W_DBLK,
    W_ROUTER, W_SEL, W_SELW, W_ETOK, W_ECOUNT, W_ESTART, W_EORDER, W_TSLOT, W_EO,
    W_Z, W_ZL, W_ZZ, W_COUNT
};
typedef struct fwd_ws {
    wbuf b[W_COUNT];
    kact act;
    int nth;                /* entries of ms (the pool's threads; 0 for a dense model) */
    moe_scratch *ms;
    int ms_tokens;          /* the experts' kacts are grown for experts of up to this many tokens */
} fwd_ws;

/* ---- profiling (model/profile.h): no clock is read unless m->prof is set ---- */

static double prof_clock(const qwen3_model *m) {
    if (!m->prof) return 0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void prof_add(const qwen3_model *m, prof_op op, double t0) {
    if (!m->prof) return;
    m->prof->s[op] += prof_clock(m) - t0;
    m->prof->calls[op]++;
}

/* ---- small parallel helpers ---- */

typedef void (*row_fn)(run *r, int t);
/* Tokens in runs of `chunk` (about 8 a thread), each run taken by whichever thread is free, so a
 * per-token step does not wait for the slower vCPU's fixed half (0.6B Q8_0, 512 tokens, two
 * threads, 4 alternating rounds on a quiet host: the caller's waits 7.4-14.6 -> 8.7-10.4 ms a
 * pass, throughput within noise). A token's result does not depend on its thread. */
typedef struct { run *r; row_fn fn; int n, chunk; atomic_int next; } rows_job;

static void rows_worker(void *ctx, int ith, int nth) {
    rows_job *j = ctx;
    (void)ith, (void)nth;
    for (int k; (k = atomic_fetch_add(&j->next, 1) * j->chunk) < j->n;)
        for (int t = k; t < k + j->chunk && t < j->n; t++) j->fn(j->r, t);
}

static void for_each_token(run *r, row_fn fn) {
    if (r->T <= K_INLINE_TOKENS) { /* decode: a hand-off would cost more than the work */
        for (int t = 0; t < r->T; t++) fn(r, t);
        return;
    }
    int nth = qpool_size(r->m->pool), chunk = (r->T + 8 * nth - 1) / (8 * nth);
    rows_job j = {r, fn, r->T, chunk, 0};
    qpool_run(r->m->pool, rows_worker, &j);
}

/* ---- layer steps ---- */

static void attn_norm_row(run *r, int t) {
    const int H = r->c->hidden_size;
    k_rmsnorm(&r->m->cpu, r->a + (size_t)t * H, r->x + (size_t)t * H, r->m->layers[r->layer].attn_norm, H, r->c->rms_norm_eps);
}

static void ffn_norm_row(run *r, int t) {
    const int H = r->c->hidden_size;
    k_rmsnorm(&r->m->cpu, r->a + (size_t)t * H, r->x + (size_t)t * H, r->m->layers[r->layer].ffn_norm, H, r->c->rms_norm_eps);
}

/* QK-Norm, RoPE and the cache write for one token (transformers: q_norm/k_norm on each head, then
 * apply_rotary_pos_emb, then past_key_values.update). */
static void qk_rope_store_row(run *r, int t) {
    const qwen3_config *c = r->c;
    const layer_weights *L = &r->m->layers[r->layer];
    const int D = c->head_dim, half = D / 2, NH = r->m->sh.nh, KVH = r->m->sh.nkv, tab = c->dca ? 3 * half : half;
    const float *cs = r->cos + (size_t)t * tab, *sn = r->sin + (size_t)t * tab;
    const float sc = c->dca ? r->tscale[t] : 1.0f;
    for (int h = 0; h < NH; h++) {
        float *qh = r->q + ((size_t)t * NH + h) * D;
        k_rmsnorm(&r->m->cpu, qh, qh, L->q_norm, D, c->rms_norm_eps);
        if (c->dca) { /* three rotations of the one normed query; the scale is exact when 1 */
            if (sc != 1.0f)
                for (int d = 0; d < D; d++) qh[d] *= sc;
            float *qs = r->qs + ((size_t)t * NH + h) * D, *qi = r->qi + ((size_t)t * NH + h) * D;
            memcpy(qs, qh, sizeof(float) * (size_t)D);
            memcpy(qi, qh, sizeof(float) * (size_t)D);
            k_rope(&r->m->cpu, qs, cs + half, sn + half, D);
            k_rope(&r->m->cpu, qi, cs + 2 * half, sn + 2 * half, D);
        }
        k_rope(&r->m->cpu, qh, cs, sn, D);
    }
    qwen3_seq *s = r->tseq[t];
    for (int h = 0; h < KVH; h++) {
        float *kh = r->k + ((size_t)t * KVH + h) * D;
        const float *vh = r->v + ((size_t)t * KVH + h) * D;
        k_rmsnorm(&r->m->cpu, kh, kh, L->k_norm, D, c->rms_norm_eps);
        if (sc != 1.0f)
            for (int d = 0; d < D; d++) kh[d] *= sc;
        k_rope(&r->m->cpu, kh, cs, sn, D); /* under DCA the key's position is p mod chunk: the intra-chunk table */
        k_store_row(&r->m->cpu, s->kv_type, seq_k(s, r->layer, h, r->tpos[t]), kh, D);
        k_store_row(&r->m->cpu, s->kv_type, seq_v(s, r->layer, h, r->tpos[t]), vh, D);
    }
}

/* Causal softmax attention of every (token, head) pair; the kernels keep one block of scores, never
 * T x T. GQA: query head h reads kv head h / (heads / kv_heads).
 * Exact path (float32 cache): one head at a time (k_attn_head). Fast path: the heads of a kv group
 * for a run of consecutive tokens of one sequence (up to 16 rows) share each K/V block load
 * (k_attn_rows). Work items are (token block, kv head), each taken by whichever thread is free
 * (r->next_item), head after head, each head's last token blocks first: later tokens attend to
 * more positions, and the two vCPUs of the machines measured are not equally fast (at depth 16K
 * one took 36% longer per kv head; dealt round-robin, the other waited). An item's bits do not
 * depend on its thread. */
static void attn_worker(void *ctx, int ith, int nth) {
    run *r = ctx;
    const qwen3_config *c = r->c;
    /* this rank's heads (all of them in one process): local query head h is global h0 + h, and
     * reads local kv head (h0 + h) / group - kv0 */
    const tp_share *sh = &r->m->sh;
    const int D = c->head_dim, NH = sh->nh, KVH = sh->nkv, group = c->num_heads / c->num_kv_heads;
    const float scale = 1.0f / sqrtf((float)D);
    if (r->tseq[0]->kv_type == QWEN3_F32) {
        for (long i; (i = atomic_fetch_add(&r->next_item, 1)) < (long)r->T * NH;) {
            int t = (int)(i / NH), h = (int)(i % NH), kvh = (sh->h0 + h) / group - sh->kv0;
            qwen3_seq *s = r->tseq[t];
            k_attn_head(&r->m->cpu, r->q + ((size_t)t * NH + h) * D, seq_k(s, r->layer, kvh, 0),
                        seq_v(s, r->layer, kvh, 0), s->kv_type, (size_t)D, r->tpos[t] + 1, D, scale,
                        r->o + ((size_t)t * NH + h) * D);
        }
        return;
    }
    /* a work item is TB tokens x one kv head: up to 64 query rows, so at depth a prompt re-reads
     * each kv head's cache once per 64 rows (k_attn_rows shares each K/V block among 4 tiles) */
    const int TB = group >= 64 ? 1 : 64 / group, nblocks = (r->T + TB - 1) / TB;
    for (long k; (k = atomic_fetch_add(&r->next_item, 1)) < (long)nblocks * KVH;) {
        /* one kv head's blocks after another, each head's last (longest) blocks first: the threads
         * share one head's cache at a time (in a 2-thread harness, 8 kv heads x 512 tokens, taking
         * the heads in turn within a block ran at 6.1 ms against 6.9 on one thread; this 4.4) */
        int kvh = (int)(k / nblocks), t0 = (nblocks - 1 - (int)(k % nblocks)) * TB, t1 = t0 + TB < r->T ? t0 + TB : r->T;
        /* the local query heads of kv head kvh: [hlo, hhi) */
        int hlo = (sh->kv0 + kvh) * group - sh->h0, hhi = hlo + group;
        if (hlo < 0) hlo = 0;
        if (hhi > NH) hhi = NH;
        const float *q[64];
        float *o[64];
        int n[64], M = 0;
        for (int t = t0; t < t1; t++)
            for (int h = hlo; h < hhi; h++) {
                q[M] = r->q + ((size_t)t * NH + h) * D;
                o[M] = r->o + ((size_t)t * NH + h) * D;
                n[M++] = r->tpos[t] + 1;
                /* flush at 64 rows, and where the next row belongs to another sequence */
                int next_other = h + 1 == hhi && t + 1 < t1 && r->tseq[t + 1] != r->tseq[t];
                if (M == 64 || next_other || (t + 1 == t1 && h + 1 == hhi)) {
                    qwen3_seq *s = r->tseq[t];
                    k_attn_rows(&r->m->cpu, q, o, n, M, seq_k(s, r->layer, kvh, 0), seq_v(s, r->layer, kvh, 0),
                                s->kv_type, (size_t)D, D, scale);
                    M = 0;
                }
            }
    }
}

/* Dual Chunk Attention (An et al. 2024, "Training-Free Long-Context Scaling of Large Language
 * Models"; Qwen's dual_chunk_attention_config as vLLM computes it). Positions fall in chunks of
 * L = chunk_size - local_size; keys are cached rotated to p mod L. A query at p in chunk c = p / L
 * attends
 *   intra: keys [cL, p] with its own position p mod L (relative positions as plain RoPE's),
 *   succ:  keys [(c-1)L, cL) at position min(p mod L + L, chunk_size) (exact up to local_size back,
 *          then held at chunk_size - k mod L),
 *   inter: keys [0, (c-1)L) at the constant min(2L - 1, chunk_size),
 * so no relative position exceeds chunk_size. The three partial softmaxes merge exactly by their
 * log-sum-exps (kernels return them: k_attn_head_lse, k_attn_rows_lse). A row's bits do not
 * depend on the batch: the kernels' are a function of the row alone. */

/* o = the log-sum-exp weighted sum of the n partial outputs o (in place), o1, o2 */
static void dca_merge(float *o, const float *o1, const float *o2, const float *lse, int n, int D) {
    const float *part[3] = {o, o1, o2};
    float mx = lse[0], w[3], sum = 0.0f;
    for (int j = 1; j < n; j++) mx = lse[j] > mx ? lse[j] : mx;
    for (int j = 0; j < n; j++) sum += w[j] = expf(lse[j] - mx);
    for (int j = 0; j < n; j++) w[j] /= sum;
    for (int d = 0; d < D; d++) {
        float acc = w[0] * part[0][d];
        for (int j = 1; j < n; j++) acc += w[j] * part[j][d];
        o[d] = acc;
    }
}

/* Exact path (float32 cache), and GQA groups over 64 heads: one (token, head) at a time. */
static void dca_head_worker(void *ctx, int ith, int nth) {
    run *r = ctx;
    const qwen3_config *c = r->c;
    const tp_share *sh = &r->m->sh; /* this rank's heads, as in attn_worker */
    const int D = c->head_dim, NH = sh->nh, group = c->num_heads / c->num_kv_heads;
    const int CL = c->dca_chunk_size - c->dca_local_size;
    const float scale = 1.0f / sqrtf((float)D);
    float *tmp = r->dtmp + (size_t)ith * r->dtmp_per;
    for (long i = ith; i < (long)r->T * NH; i += nth) {
        int t = (int)(i / NH), h = (int)(i % NH), kvh = (sh->h0 + h) / group - sh->kv0, p = r->tpos[t], ch = p / CL;
        qwen3_seq *s = r->tseq[t];
        size_t qo = ((size_t)t * NH + h) * D;
        float *o = r->o + qo, lse[3];
        int n = 1;
        const kcpu *cpu = &r->m->cpu;
        k_attn_head_lse(cpu, r->q + qo, seq_k(s, r->layer, kvh, ch * CL), seq_v(s, r->layer, kvh, ch * CL), s->kv_type,
                        (size_t)D, p - ch * CL + 1, D, scale, o, &lse[0]);
        if (ch >= 1)
            k_attn_head_lse(cpu, r->qs + qo, seq_k(s, r->layer, kvh, (ch - 1) * CL), seq_v(s, r->layer, kvh, (ch - 1) * CL),
                            s->kv_type, (size_t)D, CL, D, scale, tmp, &lse[n++]);
        if (ch >= 2)
            k_attn_head_lse(cpu, r->qi + qo, seq_k(s, r->layer, kvh, 0), seq_v(s, r->layer, kvh, 0), s->kv_type, (size_t)D,
                            (ch - 1) * CL, D, scale, tmp + D, &lse[n++]);
        if (n > 1) dca_merge(o, tmp, tmp + D, lse, n, D);
    }
}

/* Fast path: as attn_worker, the query heads of a kv group for a run of tokens share each K/V block
 * read (k_attn_rows_lse), three times: a work item is (block, kv head), a block the tokens of one
 * sequence in one chunk (r->dblk), so its rows share the three key ranges. A row's bits do not
 * depend on the rows beside it (k_attn_rows), so prefill and decode agree bit for bit. */
static void dca_rows_worker(void *ctx, int ith, int nth) {
    run *r = ctx;
    const qwen3_config *c = r->c;
    const tp_share *sh = &r->m->sh; /* this rank's heads, as in attn_worker */
    const int D = c->head_dim, NH = sh->nh, KVH = sh->nkv, group = c->num_heads / c->num_kv_heads;
    const int CL = c->dca_chunk_size - c->dca_local_size;
    const float scale = 1.0f / sqrtf((float)D);
    float *tmp = r->dtmp + (size_t)ith * r->dtmp_per;
    for (long i = ith; i < (long)r->ndblk * KVH; i += nth) {
        int b = (int)(i / KVH), kvh = (int)(i % KVH), t0 = r->dblk[b], t1 = r->dblk[b + 1];
        qwen3_seq *s = r->tseq[t0];
        const int ch = r->tpos[t0] / CL;
        const float *q0[64], *q1[64], *q2[64];
        float *o0[64], *o1[64], *o2[64], l0[64], l1[64], l2[64];
        int n0[64], n1[64], n2[64], M = 0;
        int hlo = (sh->kv0 + kvh) * group - sh->h0, hhi = hlo + group; /* its local query heads */
        if (hlo < 0) hlo = 0;
        if (hhi > NH) hhi = NH;
        for (int t = t0; t < t1; t++)
            for (int h = hlo; h < hhi; h++, M++) {
                size_t qo = ((size_t)t * NH + h) * D;
                q0[M] = r->q + qo, o0[M] = r->o + qo, n0[M] = r->tpos[t] - ch * CL + 1;
                q1[M] = r->qs + qo, o1[M] = tmp + (size_t)M * D, n1[M] = CL;
                q2[M] = r->qi + qo, o2[M] = tmp + (size_t)(64 + M) * D, n2[M] = (ch - 1) * CL;
            }
        const kcpu *cpu = &r->m->cpu;
        k_attn_rows_lse(cpu, q0, o0, n0, M, seq_k(s, r->layer, kvh, ch * CL), seq_v(s, r->layer, kvh, ch * CL), s->kv_type,
                        (size_t)D, D, scale, l0);
        if (ch >= 1)
            k_attn_rows_lse(cpu, q1, o1, n1, M, seq_k(s, r->layer, kvh, (ch - 1) * CL), seq_v(s, r->layer, kvh, (ch - 1) * CL),
                            s->kv_type, (size_t)D, D, scale, l1);
        if (ch >= 2)
            k_attn_rows_lse(cpu, q2, o2, n2, M, seq_k(s, r->layer, kvh, 0), seq_v(s, r->layer, kvh, 0), s->kv_type, (size_t)D, D,
                            scale, l2);
        for (int m = 0; ch >= 1 && m < M; m++) {
            float lse[3] = {l0[m], l1[m], ch >= 2 ? l2[m] : 0.0f};
            dca_merge(o0[m], o1[m], o2[m], lse, ch >= 2 ? 3 : 2, D);
        }
    }
}

/* the blocks of dca_rows_worker: runs of tokens of one sequence in one chunk, up to 64 query rows */
static void dca_blocks(run *r) {
    const qwen3_config *c = r->c;
    const int CL = c->dca_chunk_size - c->dca_local_size, group = c->num_heads / c->num_kv_heads, TB = 64 / group;
    r->ndblk = 0;
    for (int t = 0; t < r->T;) {
        int t1 = t + 1;
        while (t1 < r->T && t1 - t < TB && r->tseq[t1] == r->tseq[t] && r->tpos[t1] / CL == r->tpos[t] / CL) t1++;
        r->dblk[r->ndblk++] = t;
        t = t1;
    }
    r->dblk[r->ndblk] = r->T;
}

/* Y = a W^T on the pool, timed as op (the input's preparation apart) when profiling */
static void product(run *r, prof_op op, const kmat *W, kact *a, float *Y) {
    double t0 = prof_clock(r->m);
    if (r->m->prof && !kact_prepared(a)) {
        k_act_prepare(r->m->pool, W, a);
        prof_add(r->m, PROF_ACT, t0);
        t0 = prof_clock(r->m);
    }
    k_matmul_act(r->m->pool, W, a, Y);
    prof_add(r->m, op, t0);
}

/* products over the same input in one dispatch (k_matmul_act_multi), timed as op */
static void products(run *r, prof_op op, const kmat *const *W, float *const *Y, int nw) {
    double t0 = prof_clock(r->m);
    if (r->m->prof && !kact_prepared(r->act)) {
        k_act_prepare(r->m->pool, W[0], r->act);
        prof_add(r->m, PROF_ACT, t0);
        t0 = prof_clock(r->m);
    }
    k_matmul_act_multi(r->m->pool, W, Y, nw, r->act);
    prof_add(r->m, op, t0);
}

static void matmul(run *r, prof_op op, const kmat *W, const float *X, int n, float *Y) {
    kact_set(r->act, X, n, W->cols);
    product(r, op, W, r->act, Y);
}

/* for_each_token timed as op */
static void timed_tokens(run *r, prof_op op, row_fn fn) {
    double t0 = prof_clock(r->m);
    for_each_token(r, fn);
    prof_add(r->m, op, t0);
}

/* Tensor / expert parallelism: the block's output y is this rank's partial sum (its heads, its
 * MLP columns, its experts); the ranks add theirs up, in rank order, the same bits on every rank. */
static void reduce(run *r) {
    if (r->m->tp_size <= 1) return;
    double t0 = prof_clock(r->m);
    pp_allreduce(r->y, (size_t)r->T * r->c->hidden_size);
    prof_add(r->m, PROF_ALLREDUCE, t0);
}

static void residual_row(run *r, int t) {
    const size_t H = (size_t)r->c->hidden_size;
    k_axpy(&r->m->cpu, r->x + (size_t)t * H, r->y + (size_t)t * H, 1.0f, (int)H, 0); /* x + y 1 = x + y exactly */
}

/* x += y, tokens over the threads (one thread had taken 9 ms of a 512-token pass of the 0.6B, and
 * 13 ms with two threads, half of y then in the other core's cache) */
static void residual(run *r) { timed_tokens(r, PROF_RESIDUAL, residual_row); }

/* Keeps only rows[0..n) of the batch (in order) for the rest of the pass: the residual stream, the
 * queries and the token bookkeeping move to the front. */
static void keep_rows(run *r, const int *keep, int n) {
    const qwen3_config *c = r->c;
    const size_t H = (size_t)c->hidden_size, QD = (size_t)r->m->sh.nh * c->head_dim;
    for (int i = 0; i < n; i++) {
        int t = keep[i];
        if (t == i) continue;
        memmove(r->x + (size_t)i * H, r->x + (size_t)t * H, sizeof(float) * H);
        memmove(r->q + (size_t)i * QD, r->q + (size_t)t * QD, sizeof(float) * QD);
        if (c->dca) {
            memmove(r->qs + (size_t)i * QD, r->qs + (size_t)t * QD, sizeof(float) * QD);
            memmove(r->qi + (size_t)i * QD, r->qi + (size_t)t * QD, sizeof(float) * QD);
        }
        r->tseq[i] = r->tseq[t];
        r->tpos[i] = r->tpos[t];
        r->rows[i] = r->rows[t];
    }
    r->T = n;
}

/* The rows whose logits are asked for (LAST: the item's last token; ALL: all of its tokens). */
static int needed_rows(const qwen3_batch_item *items, int n_items, int *keep) {
    int n = 0, row = 0;
    for (int i = 0; i < n_items; i++) {
        if (items[i].logits == QWEN3_LOGITS_ALL)
            for (int t = 0; t < items[i].n_tokens; t++) keep[n++] = row + t;
        else if (items[i].logits == QWEN3_LOGITS_LAST || items[i].logits == QWEN3_LOGITS_HIDDEN)
            keep[n++] = row + items[i].n_tokens - 1;
        row += items[i].n_tokens;
    }
    return n;
}

static void attention(run *r, const int *keep, int n_keep) {
    const layer_weights *L = &r->m->layers[r->layer];
    qpool *p = r->m->pool;
    timed_tokens(r, PROF_NORM, attn_norm_row);
    kact_set(r->act, r->a, r->T, L->wq.cols); /* one input, three products, one dispatch */
    const kmat *W[3] = {&L->wq, &L->wk, &L->wv};
    float *Y[3] = {r->q, r->k, r->v};
    products(r, PROF_QKV, W, Y, 3);
    timed_tokens(r, PROF_QK_ROPE, qk_rope_store_row);
    if (keep) keep_rows(r, keep, n_keep); /* last layer: the cache is complete, the rest is per token */
    if (r->T == 0) return;
    double t0 = prof_clock(r->m);
    if (!r->c->dca) {
        atomic_store(&r->next_item, 0);
        qpool_run(p, attn_worker, r);
    }
    else if (r->tseq[0]->kv_type == QWEN3_F32 || r->c->num_heads / r->c->num_kv_heads > 64) qpool_run(p, dca_head_worker, r);
    else {
        dca_blocks(r);
        qpool_run(p, dca_rows_worker, r);
    }
    prof_add(r->m, PROF_ATTN, t0);
    matmul(r, PROF_WO, &L->wo, r->o, r->T, r->y);
    reduce(r);
    residual(r);
}

static void silu_mul_row(run *r, int t) {
    const int I = r->layer < 0 ? 0 : (r->m->layers[r->layer].is_moe ? r->m->sh.moe_ff : r->m->sh.ff);
    k_silu_mul(&r->m->cpu, r->g + (size_t)t * I, r->g + (size_t)t * I, r->u + (size_t)t * I, I);
}

static void dense_mlp(run *r) {
    const layer_weights *L = &r->m->layers[r->layer];
    kact_set(r->act, r->a, r->T, L->gate.cols);
    const kmat *W[2] = {&L->gate, &L->up};
    float *Y[2] = {r->g, r->u};
    products(r, PROF_GATE_UP, W, Y, 2);
    timed_tokens(r, PROF_SILU, silu_mul_row);
    matmul(r, PROF_DOWN, &L->down, r->g, r->T, r->y);
    reduce(r);
    residual(r);
}

/* Router: softmax over all experts in float32, top-k (ties to the lower index, k_topk), renormalised
 * when norm_topk_prob (transformers Qwen3MoeSparseMoeBlock.forward). */
static void route_row(run *r, int t) {
    const qwen3_config *c = r->c;
    const int E = c->num_experts, K = c->num_experts_per_tok;
    float *p = r->router + (size_t)t * E;
    k_softmax(p, E);
    int *sel = r->sel + (size_t)t * K;
    float *w = r->selw + (size_t)t * K, sum = 0.0f;
    k_topk(p, E, K, sel);
    for (int k = 0; k < K; k++) {
        w[k] = p[sel[k]];
        sum += w[k];
    }
    if (c->norm_topk_prob)
        for (int k = 0; k < K; k++) w[k] /= sum;
}

/* whether expert x's gate and up can read their input as int8 rows alone (kact_set_a8), and in
 * which format (*t): both on the integer path with one activation format, and no bf16 GEMM to take
 * (only the batch-variant option lowers the experts' gemm_min) */
static int expert_a8(const run *r, const layer_weights *L, int x, kact_type *t) {
    const ktype *eg = &r->m->cpu.type[L->egate[x].type], *eu = &r->m->cpu.type[L->eup[x].type];
    if (eg->path != K_PATH_INT || eu->path != K_PATH_INT || eg->tr->act != eu->tr->act || r->m->batch_variant) return 0;
    *t = eg->tr->act;
    return 1;
}

/* Expert x over the tokens that chose it, by one thread: gather, gate/up, silu * up, down into the
 * expert's slots of eo. The products run single-threaded (pool NULL) on the thread's own kact, with
 * the path k_matmul_act would pick for this many tokens, and every kernel sums a (row, token) the
 * same way whatever rows it is given: the bits do not depend on which thread ran the expert. */
static void expert_run(run *r, moe_scratch *ms, int x) {
    const layer_weights *L = &r->m->layers[r->layer];
    const int H = r->c->hidden_size, I = r->m->sh.moe_ff, n = r->ecount[x];
    const int *toks = r->etok + r->estart[x];
    kact_type t;
    uint8_t *a8 = r->xa8 && expert_a8(r, L, x, &t) && t == r->xa8_type ? kact_set_a8(&ms->act, n, H, t) : NULL;
    if (a8) { /* the tokens' int8 rows, quantized once for all the experts they chose */
        const size_t rb = kq_act_row_bytes(t, H);
        for (int i = 0; i < n; i++) memcpy(a8 + (size_t)i * rb, r->xa8 + (size_t)toks[i] * rb, rb);
    } else {
        for (int i = 0; i < n; i++) memcpy(ms->xe + (size_t)i * H, r->a + (size_t)toks[i] * H, sizeof(float) * (size_t)H);
        kact_set(&ms->act, ms->xe, n, H);
    }
    k_matmul_act(NULL, &L->egate[x], &ms->act, ms->g);
    k_matmul_act(NULL, &L->eup[x], &ms->act, ms->u);
    for (int i = 0; i < n; i++) k_silu_mul(&r->m->cpu, ms->g + (size_t)i * I, ms->g + (size_t)i * I, ms->u + (size_t)i * I, I);
    kact_set(&ms->act, ms->g, n, I);
    k_matmul_act(NULL, &L->edown[x], &ms->act, r->eo + (size_t)r->estart[x] * H);
}

typedef struct { run *r; atomic_int next; int n; } experts_job;

/* Threads take whole experts, largest first, from a shared counter (the costs differ with the token
 * counts; first-come keeps both threads busy to the end). */
static void experts_worker(void *ctx, int ith, int nth) {
    experts_job *j = ctx;
    (void)nth;
    for (int i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) expert_run(j->r, &j->r->ms[ith], j->r->eorder[i]);
}

/* y = sum_k w_k expert_k(a) for one token, over its choices in order (the sum of a token reads
 * only its own slots: it does not depend on the rest of the batch or on the threads); under expert
 * parallelism only over the experts held here (none: 0). */
#define COMBINE_MAX 64 /* choices summed in one pass (k_wsum); more (no Qwen3 has them) in several */
static void moe_combine_row(run *r, int t) {
    const int K = r->c->num_experts_per_tok, H = r->c->hidden_size;
    float *acc = r->y + (size_t)t * H;
    const float *src[COMBINE_MAX];
    float w[COMBINE_MAX];
    int m = 0, first = 1;
    for (int k = 0; k < K; k++) {
        int x = r->sel[t * K + k];
        if (x < r->m->sh.e0 || x >= r->m->sh.e1) continue;
        src[m] = r->eo + (size_t)r->tslot[t * K + k] * H;
        w[m++] = r->selw[t * K + k];
        if (m == COMBINE_MAX) {
            k_wsum(&r->m->cpu, acc, src, w, m, H, first);
            m = first = 0;
        }
    }
    if (m) k_wsum(&r->m->cpu, acc, src, w, m, H, first);
    else if (first) memset(acc, 0, sizeof(float) * (size_t)H);
}

/* MoE block (transformers Qwen3MoeSparseMoeBlock.forward): route the whole batch first, then run
 * each chosen expert once over all the tokens that chose it (a decode step touches only the active
 * experts' weights). Experts, not rows, are split over the threads: an expert sees ~32 tokens in
 * prefill, too few to split one product well, and one dispatch per layer replaces three per expert. */
static void moe_mlp(run *r) {
    const qwen3_config *c = r->c;
    const layer_weights *L = &r->m->layers[r->layer];
    const int E = c->num_experts, K = c->num_experts_per_tok;
    matmul(r, PROF_ROUTER, &L->router, r->a, r->T, r->router);
    double t0 = prof_clock(r->m);
    for_each_token(r, route_row);
    /* group the (token, choice) slots by expert */
    memset(r->ecount, 0, sizeof(int) * (size_t)E);
    for (int t = 0; t < r->T; t++)
        for (int k = 0; k < K; k++) r->ecount[r->sel[t * K + k]]++;
    for (int x = 0, s = 0; x < E; x++) { r->estart[x] = s; s += r->ecount[x]; r->ecount[x] = 0; }
    for (int t = 0; t < r->T; t++)
        for (int k = 0; k < K; k++) {
            int x = r->sel[t * K + k], slot = r->estart[x] + r->ecount[x]++;
            r->etok[slot] = t;
            r->tslot[t * K + k] = slot;
        }
    /* the chosen experts by decreasing token count (insertion sort: E is ~128) */
    int n = 0;
    for (int x = r->m->sh.e0; x < r->m->sh.e1; x++) { /* (expert parallelism: the experts held here) */
        if (!r->ecount[x]) continue;
        int i = n++;
        for (; i > 0 && r->ecount[r->eorder[i - 1]] < r->ecount[x]; i--) r->eorder[i] = r->eorder[i - 1];
        r->eorder[i] = x;
    }
    prof_add(r->m, PROF_ROUTE, t0);
    if (r->m->prof) { r->m->prof->moe_blocks++; r->m->prof->experts_run += n; }
    experts_job j = {r, 0, n};
    t0 = prof_clock(r->m);
    /* every token's row quantized once for the (usually 8) experts that read it, when they can read
     * int8 rows (expert_a8: the first expert held stands for the layer's types; expert_run checks
     * its own); r->act holds the block's input since the router's product, so int8 rows that
     * product made in this format are reused */
    r->xa8 = NULL;
    if (n && expert_a8(r, L, r->m->sh.e0, &r->xa8_type)) r->xa8 = k_act_a8(r->m->pool, r->act, r->xa8_type);
    qpool_run(r->m->pool, experts_worker, &j);
    prof_add(r->m, PROF_EXPERTS, t0);
    timed_tokens(r, PROF_COMBINE, moe_combine_row);
    reduce(r);
    residual(r);
}

static void rope_row(run *r, int t) {
    const qwen3_config *c = r->c;
    int half = c->head_dim / 2;
    if (!c->dca) {
        model_rope_at(r->m, r->tpos[t], r->cos + (size_t)t * half, r->sin + (size_t)t * half);
        return;
    }
    /* DCA's three query positions (the first is also the key's): see the DCA workers */
    const int CL = c->dca_chunk_size - c->dca_local_size, in = r->tpos[t] % CL;
    const int succ = in + CL < c->dca_chunk_size ? in + CL : c->dca_chunk_size;
    const int inter = 2 * CL - 1 < c->dca_chunk_size ? 2 * CL - 1 : c->dca_chunk_size;
    const int at[3] = {in, succ, inter};
    for (int j = 0; j < 3; j++)
        model_rope_at(r->m, at[j], r->cos + ((size_t)t * 3 + j) * half, r->sin + ((size_t)t * 3 + j) * half);
}

/* DCA's length scaling (Qwen's, in vLLM's dual-chunk backend; not in the paper): once a sequence
 * holds more than original_max_position_embeddings positions, the queries and keys of a forward
 * call are scaled by max(1, 0.1 ln(len / original) + 1), len its length at the end of the call, so a
 * logit carries the query's call scale times the key's. */
static float dca_scale(const qwen3_config *c, long len) {
    long orig = c->dca_original_max_position_embeddings;
    if (orig <= 0 || len <= orig) return 1.0f;
    return (float)(0.1 * log((double)len / (double)orig) + 1.0);
}

/* ---- buffers: the model's workspace ---- */

/* The workspace of m, made on the first pass: the activations' settings are the model's (fixed at
 * load), so they are set once here and the kact buffers then live as long as the workspace. */
static fwd_ws *ws_get(qwen3_model *m) {
    if (m->ws) return m->ws;
    fwd_ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    kact_init(&w->act, &m->cpu, !m->fast);
    if (!m->batch_variant) w->act.gemm_min = K_GEMM_NEVER; /* batch invariance: see the header */
    if (m->c.is_moe) {
        w->nth = qpool_size(m->pool);
        w->ms = calloc((size_t)w->nth, sizeof *w->ms);
        if (!w->ms) { free(w); return NULL; }
        for (int i = 0; i < w->nth; i++) {
            kact_init(&w->ms[i].act, &m->cpu, !m->fast);
            /* few tokens per expert: see kernels.h */
            w->ms[i].act.gemm_min = m->batch_variant ? K_GEMM_MIN_EXPERT : K_GEMM_NEVER;
        }
    }
    m->ws = w;
    return w;
}

static size_t kact_bytes(const kact *a) { return a->bf16_cap + a->b16_cap + a->a8_cap + a->scratch_cap; }

void model_ws_free(qwen3_model *m) {
    fwd_ws *w = m->ws;
    if (!w) return;
    for (int i = 0; i < W_COUNT; i++) wbuf_free(&w->b[i]);
    kact_free(&w->act);
    for (int i = 0; i < w->nth; i++) {
        kact_free(&w->ms[i].act);
        wbuf_free(&w->ms[i].bxe);
        wbuf_free(&w->ms[i].bg);
        wbuf_free(&w->ms[i].bu);
    }
    free(w->ms);
    free(w);
    m->ws = NULL;
}

/* After a pass: a workspace grown past m->ws_keep (a long prompt's) is given back whole rather
 * than held for the model's lifetime; the next pass makes a new one. */
static void ws_settle(qwen3_model *m) {
    fwd_ws *w = m->ws;
    if (!w) return;
    size_t n = kact_bytes(&w->act);
    for (int i = 0; i < W_COUNT; i++) n += w->b[i].cap;
    for (int i = 0; i < w->nth; i++)
        n += kact_bytes(&w->ms[i].act) + w->ms[i].bxe.cap + w->ms[i].bg.cap + w->ms[i].bu.cap;
    if (n > m->ws_keep) model_ws_free(m);
}

/* Grows every thread's expert kact for experts of up to T tokens (an expert sees each token at most
 * once). Which thread runs which expert is decided at run time (experts_worker), so without this a
 * thread's kact would grow in whichever later pass first handed it a bigger expert, allocating at
 * random. Each derived form grows with the token count, and the form depends on the path the count
 * takes (gemm_min): so once for T tokens and once for the most that stay under gemm_min, on a
 * zeroed input, for the gate, up and down matrices of each MoE layer whose weight types no earlier
 * layer had (the forms depend on the types and shapes only, and every MoE layer has the same
 * shapes: one layer does for a model quantized to one type, instead of preparing T tokens' int8 or
 * bf16 forms again for each of its 48 layers). */
static void ms_reserve(run *r, fwd_ws *w) {
    qwen3_model *m = r->m;
    if (r->T <= w->ms_tokens) return;
    const int H = r->c->hidden_size, I = m->sh.moe_ff, x0 = m->sh.e0;
    for (int i = 0; i < w->nth; i++) {
        moe_scratch *ms = &w->ms[i];
        memset(ms->xe, 0, sizeof(float) * (size_t)r->T * H);
        memset(ms->g, 0, sizeof(float) * (size_t)r->T * I);
        int ns[2] = {r->T, ms->act.gemm_min - 1 < r->T ? ms->act.gemm_min - 1 : r->T};
        for (int l = m->l0; l < m->l1; l++) {
            const layer_weights *L = &m->layers[l];
            if (!L->is_moe || x0 >= m->sh.e1) continue;
            int seen = 0;
            for (int l2 = m->l0; l2 < l && !seen; l2++) {
                const layer_weights *P = &m->layers[l2];
                seen = P->is_moe && P->egate[x0].type == L->egate[x0].type && P->eup[x0].type == L->eup[x0].type &&
                       P->edown[x0].type == L->edown[x0].type;
            }
            if (seen) continue;
            kact_type at;
            const int a8 = expert_a8(r, L, x0, &at);
            for (int k = 0; k < 2; k++) {
                if (ns[k] < 1) continue;
                kact_set(&ms->act, ms->xe, ns[k], H);
                k_act_prepare(NULL, &L->egate[x0], &ms->act);
                k_act_prepare(NULL, &L->eup[x0], &ms->act);
                void *rows = a8 ? kact_set_a8(&ms->act, ns[k], H, at) : NULL; /* and the int8 rows' forms */
                if (rows) {
                    memset(rows, 0, kq_act_row_bytes(at, H) * (size_t)ns[k]);
                    k_act_prepare(NULL, &L->egate[x0], &ms->act);
                    k_act_prepare(NULL, &L->eup[x0], &ms->act);
                }
                kact_set(&ms->act, ms->g, ns[k], I);
                k_act_prepare(NULL, &L->edown[x0], &ms->act);
            }
        }
    }
    w->ms_tokens = r->T;
}

/* Points run's buffers into the workspace, each grown to this batch's size. Buffers a pass does
 * not use (DCA's, MoE's) stay NULL. */
static int run_alloc(run *r, qwen3_err *e) {
    qwen3_model *m = r->m;
    const qwen3_config *c = r->c;
    const tp_share *sh = &m->sh; /* this rank's heads and columns (all of them in one process) */
    fwd_ws *w = ws_get(m);
    if (!w) return qerr(e, "out of memory for a batch of %d tokens", r->T);
    size_t T = (size_t)r->T, H = (size_t)c->hidden_size, QD = (size_t)sh->nh * c->head_dim,
           KD = (size_t)sh->nkv * c->head_dim, V = (size_t)c->vocab_size;
    size_t I = (size_t)(sh->ff > sh->moe_ff ? sh->ff : sh->moe_ff);
    size_t half = (size_t)c->head_dim / 2 * (c->dca ? 3 : 1);
    size_t dca = c->dca ? 1 : 0, moe = c->is_moe ? 1 : 0;
    size_t E = moe * (size_t)c->num_experts, K = moe * (size_t)c->num_experts_per_tok;
    size_t logits = m->pp_rank == 0; /* only rank 0 of a pipeline writes logits */
    size_t n_last = r->n_last ? (size_t)r->n_last : 1;
    r->dtmp_per = 2 * 64 * (size_t)c->head_dim; /* DCA: two partial outputs of up to 64 rows */
    int ok = 1;
#define TAKE(field, slot, bytes)                                                                                 \
    do {                                                                                                         \
        size_t n_ = (bytes);                                                                                     \
        r->field = wbuf_take(&w->b[slot], n_, &m->ws_grows);                                                     \
        ok &= r->field != NULL || n_ == 0;                                                                       \
    } while (0)
    TAKE(tseq, W_TSEQ, sizeof(qwen3_seq *) * T);
    TAKE(tpos, W_TPOS, sizeof(int) * T);
    TAKE(x, W_X, sizeof(float) * T * H);
    TAKE(a, W_A, sizeof(float) * T * H);
    TAKE(q, W_Q, sizeof(float) * T * QD);
    TAKE(k, W_K, sizeof(float) * T * KD);
    TAKE(v, W_V, sizeof(float) * T * KD);
    TAKE(o, W_O, sizeof(float) * T * QD);
    TAKE(y, W_Y, sizeof(float) * T * H);
    TAKE(g, W_G, sizeof(float) * T * I);
    TAKE(u, W_U, sizeof(float) * T * I);
    TAKE(cos, W_COS, sizeof(float) * T * half);
    TAKE(sin, W_SIN, sizeof(float) * T * half);
    TAKE(rows, W_ROWS, sizeof(int) * T);
    TAKE(keep, W_KEEP, sizeof(int) * T);
    TAKE(qs, W_QS, dca * sizeof(float) * T * QD);
    TAKE(qi, W_QI, dca * sizeof(float) * T * QD);
    TAKE(tscale, W_TSCALE, dca * sizeof(float) * T);
    TAKE(dtmp, W_DTMP, dca * sizeof(float) * (size_t)qpool_size(m->pool) * r->dtmp_per);
    TAKE(dblk, W_DBLK, dca * sizeof(int) * (T + 1));
    TAKE(router, W_ROUTER, sizeof(float) * T * E);
    TAKE(sel, W_SEL, sizeof(int) * T * K);
    TAKE(selw, W_SELW, sizeof(float) * T * K);
    TAKE(etok, W_ETOK, sizeof(int) * T * K);
    TAKE(ecount, W_ECOUNT, sizeof(int) * E);
    TAKE(estart, W_ESTART, sizeof(int) * E);
    TAKE(eorder, W_EORDER, sizeof(int) * E);
    TAKE(tslot, W_TSLOT, sizeof(int) * T * K);
    TAKE(eo, W_EO, sizeof(float) * T * K * H);
    TAKE(z, W_Z, logits * sizeof(float) * n_last * H);
    TAKE(zl, W_ZL, logits * sizeof(float) * n_last * V);
    TAKE(zz, W_ZZ, logits * sizeof(float) * 64 * H);
#undef TAKE
    r->act = &w->act;
    r->nth = w->nth;
    r->ms = w->ms;
    for (int i = 0; i < w->nth; i++) {
        moe_scratch *ms = &w->ms[i];
        ok &= (ms->xe = wbuf_take(&ms->bxe, sizeof(float) * T * H, &m->ws_grows)) != NULL;
        ok &= (ms->g = wbuf_take(&ms->bg, sizeof(float) * T * (size_t)sh->moe_ff, &m->ws_grows)) != NULL;
        ok &= (ms->u = wbuf_take(&ms->bu, sizeof(float) * T * (size_t)sh->moe_ff, &m->ws_grows)) != NULL;
    }
    if (!ok) return qerr(e, "out of memory for a batch of %d tokens", r->T);
    ms_reserve(r, w);
    return 0;
}

/* ---- logits ---- */

/* Y [n, V] = lm_head X: the full product, or with the compact head (head.c) the D distinct rows'
 * logits, the last of them written to every id it stands for. */
static int head_product(run *r, const float *X, int n, float *Y, qwen3_err *e) {
    qwen3_model *m = r->m;
    if (!m->head_map) { matmul(r, PROF_LM_HEAD, &m->lm_head, X, n, Y); return 0; }
    const int64_t V = r->c->vocab_size, D = m->head_c.rows;
    float *yc = malloc(sizeof(float) * (size_t)n * (size_t)D);
    if (!yc) return qerr(e, "out of memory (compact output layer)");
    matmul(r, PROF_LM_HEAD, &m->head_c, X, n, yc);
    double t0 = prof_clock(m);
    for (int t = 0; t < n; t++) {
        float *y = Y + (size_t)t * V, tied = yc[(size_t)t * D + D - 1];
        for (int64_t v = 0; v < V; v++) y[v] = tied;
        for (int64_t j = 0; j < D - 1; j++) y[m->head_map[j]] = yc[(size_t)t * D + j];
    }
    prof_add(m, PROF_LM_HEAD, t0);
    free(yc);
    return 0;
}

/* Final norm and lm_head for the rows keep_rows left, in needed_rows order: LAST items' rows go
 * through one product together, ALL items' rows straight into their buffers. */
static int write_logits(run *r, qwen3_batch_item *items, int n_items, qwen3_err *e) {
    const qwen3_config *c = r->c;
    const int H = c->hidden_size, V = c->vocab_size;
    const int n_last = r->n_last;
    float *z = r->z, *zl = r->zl, *zz = r->zz;
    int row = 0, li = 0;
    for (int i = 0; i < n_items; i++) {
        qwen3_batch_item *it = &items[i];
        if (it->logits == QWEN3_LOGITS_LAST) {
            double t0 = prof_clock(r->m);
            k_rmsnorm(&r->m->cpu, z + (size_t)li * H, r->x + (size_t)row * H, r->m->final_norm, H, c->rms_norm_eps);
            prof_add(r->m, PROF_NORM, t0);
            li++;
            row++;
        } else if (it->logits == QWEN3_LOGITS_HIDDEN) { /* the final norm's output, no lm_head */
            k_rmsnorm(&r->m->cpu, it->out, r->x + (size_t)row * H, r->m->final_norm, H, c->rms_norm_eps);
            row++;
        } else if (it->logits == QWEN3_LOGITS_ALL) {
            for (int t0 = 0; t0 < it->n_tokens; t0 += 64) {
                int nb = it->n_tokens - t0 < 64 ? it->n_tokens - t0 : 64;
                for (int t = 0; t < nb; t++)
                    k_rmsnorm(&r->m->cpu, zz + (size_t)t * H, r->x + (size_t)(row + t0 + t) * H, r->m->final_norm, H, c->rms_norm_eps);
                if (head_product(r, zz, nb, it->out + (size_t)t0 * V, e)) return -1;
            }
            row += it->n_tokens;
        }
    }
    if (n_last) {
        if (head_product(r, z, n_last, zl, e)) return -1;
        li = 0;
        for (int i = 0; i < n_items; i++)
            if (items[i].logits == QWEN3_LOGITS_LAST) memcpy(items[i].out, zl + (size_t)li++ * V, sizeof(float) * (size_t)V);
    }
    return 0;
}

/* Checks the batch (before anything is announced to other MPI ranks, so a bad batch fails on
 * rank 0 alone) and makes room for the sequences' tokens. */
static int check_batch(qwen3_model *m, qwen3_batch_item *items, int n_items, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    if (n_items < 1) return qerr(e, "empty batch");
    for (int i = 0; i < n_items; i++) {
        qwen3_batch_item *it = &items[i];
        if (!it->seq || it->seq->m != m) return qerr(e, "batch item %d: no sequence of this model", i);
        if (it->n_tokens < 1 || !it->tokens) return qerr(e, "batch item %d: no tokens", i);
        if (m->pp_rank == 0 && it->logits != QWEN3_LOGITS_NONE && !it->out)
            return qerr(e, "batch item %d: logits asked for but no buffer", i);
        for (int j = 0; j < i; j++)
            if (items[j].seq == it->seq) return qerr(e, "batch items %d and %d share a sequence", j, i);
        if ((long)it->seq->len + it->n_tokens > it->seq->cap)
            return qerr(e, "batch item %d: %d cached + %d new tokens exceed the context of %d", i, it->seq->len,
                        it->n_tokens, it->seq->cap);
        for (int t = 0; t < it->n_tokens; t++)
            if (it->tokens[t] < 0 || it->tokens[t] >= c->vocab_size)
                return qerr(e, "batch item %d: token %d at position %d is outside the vocabulary (0..%d)", i,
                            it->tokens[t], t, c->vocab_size - 1);
        if (seq_reserve_tokens(it->seq, it->seq->len + it->n_tokens, e)) return -1;
    }
    return 0;
}

int qwen3_forward(qwen3_model *m, qwen3_batch_item *items, int n_items, qwen3_err *e) {
    double t0 = prof_clock(m);
    if (check_batch(m, items, n_items, e)) return -1;
    if (m->pp_id && pp_announce_forward(m, items, n_items, e)) return -1;
    int rc = model_forward(m, items, n_items, e);
    if (m->prof) {
        m->prof->total_s += prof_clock(m) - t0;
        m->prof->passes++;
    }
    return rc;
}

/* In an MPI pipeline (mpi/pp.h) each rank runs its layers [l0, l1): rank 0 embeds the tokens, the
 * others receive the residual stream from the rank before them, and every rank passes it on; the
 * last rank's final layer keeps only the rows whose logits are asked for, and rank 0 gets those
 * back for the final norm and the lm_head. Once a pass was announced a failure cannot be returned
 * to the other ranks, which wait for the stream: it ends the job (pp_abort). */
int model_forward(qwen3_model *m, qwen3_batch_item *items, int n_items, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    const int pipe = m->pp_size > 1 && m->tp_size == 1, tp = m->tp_size > 1;
    double t_setup = prof_clock(m);
    if (m->pp_rank > 0 && check_batch(m, items, n_items, e)) return -1;
    run r = {0};
    r.m = m;
    r.c = c;
    for (int i = 0; i < n_items; i++) {
        qwen3_batch_item *it = &items[i];
        r.T += it->n_tokens;
        if (it->seq->len + it->n_tokens > r.max_len) r.max_len = it->seq->len + it->n_tokens;
        r.n_last += it->logits == QWEN3_LOGITS_LAST;
    }
    if (run_alloc(&r, e)) {
        ws_settle(m);
        if (pipe) pp_abort("forward", e);
        return -1;
    }
    const int H = c->hidden_size;
    for (int i = 0, t = 0; i < n_items; i++)
        for (int j = 0; j < items[i].n_tokens; j++, t++) {
            r.tseq[t] = items[i].seq;
            r.tpos[t] = items[i].seq->len + j;
            if (c->dca) r.tscale[t] = dca_scale(c, items[i].seq->len + items[i].n_tokens);
            if (m->pp_rank == 0) k_row_to_float(&m->embed, items[i].tokens[j], r.x + (size_t)t * H);
        }
    if (pipe && m->pp_rank > 0) pp_recv_x(r.x, r.T, H);
    if (tp) pp_bcast_x(r.x, r.T, H); /* rank 0's embedded rows to every rank */
    r.layer = -1;
    for (int t = 0; t < r.T; t++) r.rows[t] = t;
    int n_keep = needed_rows(items, n_items, r.keep);
    for_each_token(&r, rope_row);
    prof_add(m, PROF_SETUP, t_setup);
    for (int l = m->l0; l < m->l1; l++) {
        r.layer = l;
        int last = l == c->num_layers - 1;
        attention(&r, last ? r.keep : NULL, n_keep);
        if (r.T == 0) break; /* no logits asked for: the cache is all this pass had to fill */
        timed_tokens(&r, PROF_NORM, ffn_norm_row);
        if (m->layers[l].is_moe) moe_mlp(&r);
        else dense_mlp(&r);
    }
    if (pipe) {
        pp_send_x(r.x, r.T, H);                       /* on to the next rank (the last: to rank 0) */
        if (m->pp_rank == 0) r.T = pp_recv_x(r.x, r.T, H); /* the kept rows, after the last layer */
    }
    int rc = m->pp_rank == 0 ? write_logits(&r, items, n_items, e) : 0;
    if (rc == 0)
        for (int i = 0; i < n_items; i++) {
            qwen3_seq *s = items[i].seq;
            memcpy(s->tokens + s->len, items[i].tokens, sizeof(int32_t) * (size_t)items[i].n_tokens);
            s->len += items[i].n_tokens;
            if (s->len > s->high) s->high = s->len;
        }
    ws_settle(m);
    return rc;
}
