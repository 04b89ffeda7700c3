/* model.c - the trainable Qwen3 / Qwen3-MoE: parameter layout, activations, and the whole forward
 * and backward pass, one named call per layer step (train/layers.c, train/moe.c, train/gemm.c).
 *
 * Follows transformers' Qwen3ForCausalLM / Qwen3MoeForCausalLM (modeling_qwen3.py,
 * modeling_qwen3_moe.py): embed -> per layer [input_layernorm, q/k/v_proj, q_norm/k_norm per head,
 * RoPE, causal GQA attention, o_proj, residual, post_attention_layernorm, MLP or sparse MoE block,
 * residual] -> norm -> lm_head (the embedding when tied) -> cross-entropy. A micro-batch is B
 * sequences of T tokens, each starting at position 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/moe.h"
#include "train/train.h"

/* ---- parameter layout ------------------------------------------------------------------------ */

typedef struct {
    ttensor *t;
    int n, cap;
    int64_t off;
} layout;

static float **add_t(layout *lo, const char *name, int64_t rows, int64_t cols, int is_norm, float **view) {
    if (lo->n == lo->cap) {
        int cap = lo->cap ? 2 * lo->cap : 64;
        ttensor *t = realloc(lo->t, sizeof *t * (size_t)cap);
        if (!t) return NULL;
        lo->t = t;
        lo->cap = cap;
    }
    ttensor *t = &lo->t[lo->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = lo->off;
    t->rows = rows;
    t->cols = cols;
    t->is_norm = is_norm;
    lo->off += rows * (cols ? cols : 1);
    *view = (float *)(intptr_t)(t->off + 1); /* offset + 1 until the buffer exists (0 stays NULL) */
    return view;
}

/* Turns the offset placeholders of a tweights into pointers into base. */
static void bind(tweights *w, const tweights *proto, int L, float *base) {
#define B(p) ((p) ? base + ((intptr_t)(p) - 1) : NULL)
    tlayer *layers = w->layers;
    *w = *proto;
    w->layers = layers;
    w->embed = B(proto->embed);
    w->final_norm = B(proto->final_norm);
    w->lm_head = B(proto->lm_head);
    for (int l = 0; l < L; l++) {
        const tlayer *p = &proto->layers[l];
        tlayer *d = &w->layers[l];
        d->attn_norm = B(p->attn_norm); d->wq = B(p->wq); d->wk = B(p->wk); d->wv = B(p->wv);
        d->wo = B(p->wo); d->q_norm = B(p->q_norm); d->k_norm = B(p->k_norm); d->ffn_norm = B(p->ffn_norm);
        d->gate = B(p->gate); d->up = B(p->up); d->down = B(p->down); d->router = B(p->router);
        d->egate = B(p->egate); d->eup = B(p->eup); d->edown = B(p->edown);
    }
#undef B
}

static int check_config(const qwen3_config *c, qwen3_err *e) {
    if (c->yarn) return qerr(e, "train: rope_scaling yarn is not supported for training (remove rope_scaling)");
    if (c->dca)
        return qerr(e, "train: dual_chunk_attention_config is not supported for training (Dual Chunk Attention is "
                       "inference-only here; remove the key)");
    if (c->num_layers < 1 || c->hidden_size < 1 || c->num_heads < 1 || c->num_kv_heads < 1 || c->head_dim < 2 ||
        c->vocab_size < 2 || c->intermediate_size < 1)
        return qerr(e, "train: config has a non-positive shape (layers %d, hidden %d, heads %d/%d, head_dim %d, vocab %d)",
                    c->num_layers, c->hidden_size, c->num_heads, c->num_kv_heads, c->head_dim, c->vocab_size);
    if (c->num_heads % c->num_kv_heads)
        return qerr(e, "train: num_attention_heads %d is not a multiple of num_key_value_heads %d", c->num_heads, c->num_kv_heads);
    if (c->head_dim % 2) return qerr(e, "train: head_dim %d must be even (RoPE rotates halves)", c->head_dim);
    if (c->is_moe && (c->num_experts < 1 || c->num_experts_per_tok < 1 || c->num_experts_per_tok > c->num_experts ||
                      c->moe_intermediate_size < 1))
        return qerr(e, "train: MoE config needs 1 <= num_experts_per_tok (%d) <= num_experts (%d) and moe_intermediate_size >= 1",
                    c->num_experts_per_tok, c->num_experts);
    /* keep every matrix addressable with int rows x cols and every activation under 2^31 rows */
    double big = (double)c->vocab_size * c->hidden_size;
    if (big > 4e9 || (double)c->num_heads * c->head_dim > 1e6 || c->hidden_size > 1 << 20 || c->intermediate_size > 1 << 22)
        return qerr(e, "train: config shapes are too large for this trainer");
    return 0;
}

static void free_proto(tweights *w) { free(w->layers); }

tmodel *tmodel_new(const qwen3_config *c, int B, int T, qpool *pool, qwen3_err *e) {
    if (check_config(c, e)) return NULL;
    if (B < 1 || T < 1 || (int64_t)B * T > (1 << 24)) { qerr(e, "train: bad micro-batch %d x %d", B, T); return NULL; }
    tmodel *m = calloc(1, sizeof *m);
    if (!m) { qerr(e, "out of memory"); return NULL; }
    m->c = *c;
    m->pool = pool;
    kcpu_init(&m->cpu, k_cpu_env_features());
    m->B = B;
    m->T = m->T_max = T;
    m->shared_row = -1;
    int L = c->num_layers, H = c->hidden_size, D = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    int V = c->vocab_size, I = c->intermediate_size, E = c->num_experts, Im = c->moe_intermediate_size;
    tweights proto = {0};
    layout lo = {0};
    char n[96];
    proto.layers = calloc((size_t)L, sizeof(tlayer));
    m->w.layers = calloc((size_t)L, sizeof(tlayer));
    m->g.layers = calloc((size_t)L, sizeof(tlayer));
    if (!proto.layers || !m->w.layers || !m->g.layers) goto oom;
    int ok = 1;
    ok &= !!add_t(&lo, "model.embed_tokens.weight", V, H, 0, &proto.embed);
    for (int l = 0; l < L; l++) {
        tlayer *p = &proto.layers[l];
#define N(s) (snprintf(n, sizeof n, "model.layers.%d.%s", l, s), n)
        ok &= !!add_t(&lo, N("input_layernorm.weight"), H, 0, 1, &p->attn_norm);
        ok &= !!add_t(&lo, N("self_attn.q_proj.weight"), (int64_t)nh * D, H, 0, &p->wq);
        ok &= !!add_t(&lo, N("self_attn.k_proj.weight"), (int64_t)nkv * D, H, 0, &p->wk);
        ok &= !!add_t(&lo, N("self_attn.v_proj.weight"), (int64_t)nkv * D, H, 0, &p->wv);
        ok &= !!add_t(&lo, N("self_attn.o_proj.weight"), H, (int64_t)nh * D, 0, &p->wo);
        ok &= !!add_t(&lo, N("self_attn.q_norm.weight"), D, 0, 1, &p->q_norm);
        ok &= !!add_t(&lo, N("self_attn.k_norm.weight"), D, 0, 1, &p->k_norm);
        ok &= !!add_t(&lo, N("post_attention_layernorm.weight"), H, 0, 1, &p->ffn_norm);
        if (c->is_moe && c->layer_is_moe[l]) {
            m->n_moe_layers++;
            ok &= !!add_t(&lo, N("mlp.gate.weight"), E, H, 0, &p->router);
            /* experts contiguous per kind ([E][Im][H] gate, then up, then [E][H][Im] down), so
             * expert x of a kind is at base + x * rows * cols; the table still names each one */
            static const char *kind[3] = {"gate_proj", "up_proj", "down_proj"};
            float *first[3] = {0};
            for (int k = 0; k < 3; k++)
                for (int x = 0; x < E; x++) {
                    float *v;
                    snprintf(n, sizeof n, "model.layers.%d.mlp.experts.%d.%s.weight", l, x, kind[k]);
                    ok &= !!add_t(&lo, n, k < 2 ? Im : H, k < 2 ? H : Im, 0, &v);
                    if (x == 0) first[k] = v;
                }
            float *eg = first[0], *eu = first[1], *ed = first[2];
            p->egate = eg; p->eup = eu; p->edown = ed;
        } else {
            ok &= !!add_t(&lo, N("mlp.gate_proj.weight"), I, H, 0, &p->gate);
            ok &= !!add_t(&lo, N("mlp.up_proj.weight"), I, H, 0, &p->up);
            ok &= !!add_t(&lo, N("mlp.down_proj.weight"), H, I, 0, &p->down);
        }
#undef N
    }
    ok &= !!add_t(&lo, "model.norm.weight", H, 0, 1, &proto.final_norm);
    if (c->tie_word_embeddings) proto.lm_head = proto.embed;
    else ok &= !!add_t(&lo, "lm_head.weight", V, H, 0, &proto.lm_head);
    if (!ok) goto oom;
    m->tensors = lo.t;
    m->n_tensors = lo.n;
    m->n_params = lo.off;
    m->params = calloc((size_t)m->n_params, sizeof(float));
    m->grads = calloc((size_t)m->n_params, sizeof(float));
    m->paramsT = calloc((size_t)m->n_params, sizeof(float));
    if (!m->params || !m->grads || !m->paramsT) goto oom;
    bind(&m->w, &proto, L, m->params);
    bind(&m->g, &proto, L, m->grads);
    free_proto(&proto);
    memset(&proto, 0, sizeof proto);

    /* RoPE table [T][D/2] in float32 as transformers forms it: inv_freq in float32, angle pos*inv */
    m->rope_cos = malloc(sizeof(float) * (size_t)T * (size_t)(D / 2));
    m->rope_sin = malloc(sizeof(float) * (size_t)T * (size_t)(D / 2));
    if (!m->rope_cos || !m->rope_sin) goto oom;
    for (int i = 0; i < D / 2; i++) {
        float inv = (float)(1.0 / pow(c->rope_theta, (double)(2 * i) / D));
        for (int t = 0; t < T; t++) {
            float ang = (float)t * inv;
            m->rope_cos[(int64_t)t * (D / 2) + i] = cosf(ang);
            m->rope_sin[(int64_t)t * (D / 2) + i] = sinf(ang);
        }
    }

    /* activations: count, then carve */
    int64_t Nt = (int64_t)B * T, QD = (int64_t)nh * D, KD = (int64_t)nkv * D, K = c->num_experts_per_tok;
    int64_t per_layer_dense = Nt * (H + H + 1 + QD + KD + nh + nkv + QD + KD + KD + QD + H + H + 1) + (int64_t)B * nh * T;
    int64_t mlp_dense = 3 * Nt * I;
    int64_t mlp_moe = c->is_moe ? Nt * E + Nt * K * 4 + (E + 1) + 3 * Nt * K * Im + Nt * K * H : 0;
    int64_t total = 0;
    for (int l = 0; l < L; l++) total += per_layer_dense + ((c->is_moe && c->layer_is_moe[l]) ? mlp_moe : mlp_dense);
    total += Nt * (H + H + 1) + Nt * V;
    int64_t mid = I;
    if (c->is_moe) { if (Im * K > mid) mid = Im * K; if (E > mid) mid = E; }
    int64_t big = c->is_moe ? Nt * K * (H > Im ? H : Im) : 0;
    int64_t scratch = Nt * (K + E + 1) + Nt * H * 2 + Nt * QD * 3 + Nt * KD * 4 + Nt * mid * 3 + big * 2;
    m->act_mem = calloc((size_t)(total + scratch), sizeof(float));
    m->a.l = calloc((size_t)L, sizeof(tlayer_acts));
    m->lbl_count = calloc((size_t)L * (E > 0 ? E : 1), sizeof(double));
    m->lbl_f = calloc((size_t)L * (E > 0 ? E : 1), sizeof(float));
    m->load_maxmean = calloc((size_t)L, sizeof(float));
    if (!m->act_mem || !m->a.l || !m->lbl_count || !m->lbl_f || !m->load_maxmean) goto oom;
    float *p = m->act_mem;
#define TAKE(n) (p += (n), p - (n))
    for (int l = 0; l < L; l++) {
        tlayer_acts *a = &m->a.l[l];
        a->x = TAKE(Nt * H); a->ln1 = TAKE(Nt * H); a->ln1_rstd = TAKE(Nt);
        a->qraw = TAKE(Nt * QD); a->kraw = TAKE(Nt * KD); a->q_rstd = TAKE(Nt * nh); a->k_rstd = TAKE(Nt * nkv);
        a->q = TAKE(Nt * QD); a->k = TAKE(Nt * KD); a->v = TAKE(Nt * KD); a->att = TAKE(Nt * QD);
        a->lse = TAKE((int64_t)B * nh * T); a->xmid = TAKE(Nt * H); a->ln2 = TAKE(Nt * H); a->ln2_rstd = TAKE(Nt);
        if (c->is_moe && c->layer_is_moe[l]) {
            a->probs = TAKE(Nt * E);
            a->topi = (int32_t *)TAKE(Nt * K); a->topw = TAKE(Nt * K);
            a->asg_tok = (int32_t *)TAKE(Nt * K); a->asg_slot = (int32_t *)TAKE(Nt * K);
            a->eoff = (int32_t *)TAKE(E + 1);
            a->eg = TAKE(Nt * K * Im); a->eu = TAKE(Nt * K * Im); a->eh = TAKE(Nt * K * Im);
            a->eout = TAKE(Nt * K * H);
        } else {
            a->g = TAKE(Nt * I); a->u = TAKE(Nt * I); a->h = TAKE(Nt * I);
        }
    }
    m->a.xf = TAKE(Nt * H); m->a.lnf = TAKE(Nt * H); m->a.lnf_rstd = TAKE(Nt); m->a.logits = TAKE(Nt * V);
    m->s.dx = TAKE(Nt * H); m->s.dln = TAKE(Nt * H);
    m->s.dq = TAKE(Nt * QD); m->s.datt = TAKE(Nt * QD); m->s.dq2 = TAKE(Nt * QD);
    m->s.dk = TAKE(Nt * KD); m->s.dv = TAKE(Nt * KD); m->s.dk2 = TAKE(Nt * KD); p += Nt * KD;
    m->s.dmid = TAKE(Nt * mid); m->s.dmid2 = TAKE(Nt * mid); m->s.dmid3 = TAKE(Nt * mid);
    m->s.dbig = TAKE(big); m->s.dbig2 = TAKE(big); m->s.dsmall = TAKE(Nt * (K + E + 1));
#undef TAKE
    return m;
oom:
    free_proto(&proto);
    free(lo.t);
    if (m->tensors == lo.t) m->tensors = NULL;
    tmodel_free(m);
    qerr(e, "train: out of memory for a model of this config and micro-batch %d x %d", B, T);
    return NULL;
}

void tmodel_free(tmodel *m) {
    if (!m) return;
    free(m->params); free(m->grads); free(m->paramsT); free(m->w.layers); free(m->g.layers); free(m->tensors);
    free(m->rope_cos); free(m->rope_sin); free(m->act_mem); free(m->a.l);
    free(m->lbl_count); free(m->lbl_f); free(m->load_maxmean);
    free(m);
}

/* Transposes every matrix in blocks of 32 x 32 (both sides stay in cache), split over threads by
 * tensor. */
typedef struct { tmodel *m; } tr_ctx;

static void transpose_job(void *v, int ith, int nth) {
    tmodel *m = ((tr_ctx *)v)->m;
    for (int k = ith; k < m->n_tensors; k += nth) {
        const ttensor *t = &m->tensors[k];
        if (!t->cols) continue;
        const float *src = m->params + t->off;
        float *dst = m->paramsT + t->off;
        int64_t R = t->rows, C = t->cols;
        for (int64_t r0 = 0; r0 < R; r0 += 32)
            for (int64_t c0 = 0; c0 < C; c0 += 32)
                for (int64_t r = r0; r < R && r < r0 + 32; r++)
                    for (int64_t c = c0; c < C && c < c0 + 32; c++) dst[c * R + r] = src[r * C + c];
    }
}

void tmodel_params_changed(tmodel *m) {
    tr_ctx c = {m};
    qpool_run(m->pool, transpose_job, &c);
}

void tmodel_linear(tmodel *m, float *Y, const float *X, const float *W, int n, int in, int out) {
    if (n <= 0) return;
    /* Y[t][o] = sum_i X[t][i] Wt[i][o]: the input-gradient kernel's shape (outer products of
     * broadcast X values with rows of Wt), which runs faster than dot-product tiles */
    memset(Y, 0, sizeof(float) * (size_t)n * (size_t)out);
    t_matmul_backward_input(m->pool, &m->cpu, Y, X, m->paramsT + (W - m->params), n, out, in);
}

void tmodel_zero_grad(tmodel *m) { memset(m->grads, 0, sizeof(float) * (size_t)m->n_params); }

void tmodel_lbl_begin(tmodel *m) {
    int E = m->c.num_experts > 0 ? m->c.num_experts : 1;
    memset(m->lbl_count, 0, sizeof(double) * (size_t)m->c.num_layers * (size_t)E);
    m->lbl_tokens = 0;
}

/* ---- random init: splitmix64 -> Box-Muller, a stream per tensor -------------------------------- */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s) { return ((splitmix(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

void tmodel_init_random(tmodel *m, uint64_t seed) {
    for (int i = 0; i < m->n_tensors; i++) {
        const ttensor *t = &m->tensors[i];
        float *p = m->params + t->off;
        int64_t n = t->rows * (t->cols ? t->cols : 1);
        if (t->is_norm) { for (int64_t j = 0; j < n; j++) p[j] = 1.0f; continue; }
        uint64_t s = seed * 0x100000001B3ull + (uint64_t)i * 0x9E3779B97F4A7C15ull;
        for (int64_t j = 0; j < n; j += 2) {
            double u1 = unif(&s), u2 = unif(&s), r = sqrt(-2.0 * log(u1));
            p[j] = (float)(0.02 * r * cos(2 * M_PI * u2));
            if (j + 1 < n) p[j + 1] = (float)(0.02 * r * sin(2 * M_PI * u2));
        }
    }
}

int tmodel_set_len(tmodel *m, int T) {
    if (T < 1 || T > m->T_max) return -1;
    m->T = T;
    return 0;
}

/* ---- forward --------------------------------------------------------------------------------- */

int tmodel_forward(tmodel *m, const int32_t *ids, const int32_t *targets, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    int B = m->B, T = m->T, N = B * T, H = c->hidden_size, D = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    int V = c->vocab_size, I = c->intermediate_size, QD = nh * D, KD = nkv * D;
    float eps = c->rms_norm_eps;
    qpool *p = m->pool;
    for (int t = 0; t < N; t++)
        if (ids[t] < 0 || ids[t] >= V) return qerr(e, "train: token id %d at position %d is outside the vocabulary (%d)", ids[t], t, V);
    /* embed_tokens */
    float *x0 = m->a.l[0].x;
    for (int t = 0; t < N; t++) memcpy(x0 + (int64_t)t * H, m->w.embed + (int64_t)ids[t] * H, sizeof(float) * (size_t)H);
    double lbl_sum = 0;
    for (int l = 0; l < c->num_layers; l++) {
        tlayer_acts *a = &m->a.l[l];
        const tlayer *w = &m->w.layers[l];
        float *xout = l + 1 < c->num_layers ? m->a.l[l + 1].x : m->a.xf;
        /* self-attention block [Qwen3DecoderLayer.forward] */
        t_rmsnorm_forward(a->ln1, a->ln1_rstd, a->x, w->attn_norm, N, H, eps);
        tmodel_linear(m, a->qraw, a->ln1, w->wq, N, H, QD);
        tmodel_linear(m, a->kraw, a->ln1, w->wk, N, H, KD);
        tmodel_linear(m, a->v, a->ln1, w->wv, N, H, KD);
        t_rmsnorm_forward(a->q, a->q_rstd, a->qraw, w->q_norm, N * nh, D, eps); /* q_norm per head */
        t_rmsnorm_forward(a->k, a->k_rstd, a->kraw, w->k_norm, N * nkv, D, eps);
        t_rope_forward(a->q, N, T, nh, D, m->rope_cos, m->rope_sin);
        t_rope_forward(a->k, N, T, nkv, D, m->rope_cos, m->rope_sin);
        t_attention_forward(p, m->cpu.isa, a->att, a->lse, a->q, a->k, a->v, B, T, nh, nkv, D);
        tmodel_linear(m, a->xmid, a->att, w->wo, N, QD, H);
        for (int64_t i = 0; i < (int64_t)N * H; i++) a->xmid[i] += a->x[i];
        /* MLP block */
        t_rmsnorm_forward(a->ln2, a->ln2_rstd, a->xmid, w->ffn_norm, N, H, eps);
        if (w->router) {
            lbl_sum += moe_forward(m, l, xout);
        } else {
            tmodel_linear(m, a->g, a->ln2, w->gate, N, H, I);
            tmodel_linear(m, a->u, a->ln2, w->up, N, H, I);
            t_swiglu_forward(a->h, a->g, a->u, (int64_t)N * I);
            tmodel_linear(m, xout, a->h, w->down, N, I, H);
            for (int64_t i = 0; i < (int64_t)N * H; i++) xout[i] += a->xmid[i];
        }
    }
    if (m->n_moe_layers && m->lbl != TLBL_NONE && !m->eval) m->lbl_tokens += N;
    m->lbl_loss = m->n_moe_layers ? lbl_sum / m->n_moe_layers : 0;
    /* final norm and lm_head */
    t_rmsnorm_forward(m->a.lnf, m->a.lnf_rstd, m->a.xf, m->w.final_norm, N, H, eps);
    tmodel_linear(m, m->a.logits, m->a.lnf, m->w.lm_head, N, H, V);
    m->loss = 0;
    m->n_valid = 0;
    if (targets) {
        for (int t = 0; t < N; t++)
            if (targets[t] >= V) return qerr(e, "train: target id %d at position %d is outside the vocabulary (%d)", targets[t], t, V);
        m->loss = t_crossentropy_forward(m->a.logits, targets, m->tgt_w, N, V, m->shared_row, m->n_shared, &m->n_valid);
    }
    return 0;
}

/* ---- backward -------------------------------------------------------------------------------- */

void tmodel_backward(tmodel *m, const int32_t *ids, const int32_t *targets, float scale) {
    int N = m->B * m->T, V = m->c.vocab_size;
    /* cross-entropy -> the rest */
    t_crossentropy_backward(m->a.logits, targets, m->tgt_w, N, V, m->shared_row, m->n_shared, m->n_valid, scale);
    tmodel_backward_dlogits(m, ids, scale);
}

void tmodel_backward_dlogits(tmodel *m, const int32_t *ids, float scale) {
    const qwen3_config *c = &m->c;
    int B = m->B, T = m->T, N = B * T, H = c->hidden_size, D = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    int V = c->vocab_size, I = c->intermediate_size, QD = nh * D, KD = nkv * D;
    qpool *p = m->pool;
    tgrad_scratch *s = &m->s;
    /* lm_head -> final norm */
    float *dlog = m->a.logits;
    /* the shared row's gradient is ONE unseen row's (all are equal); the hidden state's gradient
     * sums over all n_shared of them: scale its column for that product only */
    int sr = m->shared_row;
    float *keep = s->dsmall;
    for (int t = 0; sr >= 0 && t < N; t++) {
        keep[t] = dlog[(int64_t)t * V + sr];
        dlog[(int64_t)t * V + sr] *= (float)m->n_shared;
    }
    memset(s->dln, 0, sizeof(float) * (size_t)N * H);
    t_matmul_backward_input(p, &m->cpu, s->dln, dlog, m->w.lm_head, N, H, V);
    for (int t = 0; sr >= 0 && t < N; t++) dlog[(int64_t)t * V + sr] = keep[t];
    t_matmul_backward_weight(p, &m->cpu, m->g.lm_head, dlog, m->a.lnf, N, H, V);
    memset(s->dx, 0, sizeof(float) * (size_t)N * H);
    t_rmsnorm_backward(s->dx, m->g.final_norm, s->dln, m->a.xf, m->w.final_norm, m->a.lnf_rstd, N, H);
    for (int l = c->num_layers - 1; l >= 0; l--) {
        tlayer_acts *a = &m->a.l[l];
        const tlayer *w = &m->w.layers[l];
        tlayer *gw = &m->g.layers[l];
        /* MLP block: xout = xmid + mlp(ln2(xmid)); s->dx is d xout and becomes d xmid */
        memset(s->dln, 0, sizeof(float) * (size_t)N * H);
        if (w->router) {
            moe_backward(m, l, s->dx, s->dln, scale);
        } else {
            memset(s->dmid, 0, sizeof(float) * (size_t)N * I);
            t_matmul_backward_input(p, &m->cpu, s->dmid, s->dx, w->down, N, I, H);
            t_matmul_backward_weight(p, &m->cpu, gw->down, s->dx, a->h, N, I, H);
            t_swiglu_backward(s->dmid2, s->dmid3, s->dmid, a->g, a->u, (int64_t)N * I);
            t_matmul_backward_input(p, &m->cpu, s->dln, s->dmid2, w->gate, N, H, I);
            t_matmul_backward_input(p, &m->cpu, s->dln, s->dmid3, w->up, N, H, I);
            t_matmul_backward_weight(p, &m->cpu, gw->gate, s->dmid2, a->ln2, N, H, I);
            t_matmul_backward_weight(p, &m->cpu, gw->up, s->dmid3, a->ln2, N, H, I);
        }
        t_rmsnorm_backward(s->dx, gw->ffn_norm, s->dln, a->xmid, w->ffn_norm, a->ln2_rstd, N, H);
        /* attention block: xmid = x + o_proj(attn(...)); s->dx becomes d x */
        memset(s->datt, 0, sizeof(float) * (size_t)N * QD);
        t_matmul_backward_input(p, &m->cpu, s->datt, s->dx, w->wo, N, QD, H);
        t_matmul_backward_weight(p, &m->cpu, gw->wo, s->dx, a->att, N, QD, H);
        memset(s->dq, 0, sizeof(float) * (size_t)N * QD);
        memset(s->dk, 0, sizeof(float) * (size_t)N * KD);
        memset(s->dv, 0, sizeof(float) * (size_t)N * KD);
        t_attention_backward(p, m->cpu.isa, s->dq, s->dk, s->dv, s->datt, a->att, a->lse, a->q, a->k, a->v, B, T, nh, nkv, D);
        t_rope_backward(s->dq, N, T, nh, D, m->rope_cos, m->rope_sin);
        t_rope_backward(s->dk, N, T, nkv, D, m->rope_cos, m->rope_sin);
        memset(s->dq2, 0, sizeof(float) * (size_t)N * QD);
        memset(s->dk2, 0, sizeof(float) * (size_t)N * KD);
        t_rmsnorm_backward(s->dq2, gw->q_norm, s->dq, a->qraw, w->q_norm, a->q_rstd, N * nh, D);
        t_rmsnorm_backward(s->dk2, gw->k_norm, s->dk, a->kraw, w->k_norm, a->k_rstd, N * nkv, D);
        memset(s->dln, 0, sizeof(float) * (size_t)N * H);
        t_matmul_backward_input(p, &m->cpu, s->dln, s->dq2, w->wq, N, H, QD);
        t_matmul_backward_input(p, &m->cpu, s->dln, s->dk2, w->wk, N, H, KD);
        t_matmul_backward_input(p, &m->cpu, s->dln, s->dv, w->wv, N, H, KD);
        t_matmul_backward_weight(p, &m->cpu, gw->wq, s->dq2, a->ln1, N, H, QD);
        t_matmul_backward_weight(p, &m->cpu, gw->wk, s->dk2, a->ln1, N, H, KD);
        t_matmul_backward_weight(p, &m->cpu, gw->wv, s->dv, a->ln1, N, H, KD);
        t_rmsnorm_backward(s->dx, gw->attn_norm, s->dln, a->x, w->attn_norm, a->ln1_rstd, N, H);
    }
    /* embed_tokens: scatter-add (tied: the same rows lm_head's gradient went to) */
    for (int t = 0; t < N; t++) {
        float *d = m->g.embed + (int64_t)ids[t] * H;
        const float *g = s->dx + (int64_t)t * H;
        for (int i = 0; i < H; i++) d[i] += g[i];
    }
}
