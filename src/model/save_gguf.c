/* save_gguf.c - qwen3_model_save_gguf: the loaded model as one GGUF file (version 3, alignment 32)
 * in the layout llama.cpp's convert_hf_to_gguf.py + llama-quantize produce for Qwen3 / Qwen3-MoE, so
 * files move both ways: the metadata keys and tensor names config_gguf.c and weights.c read, MoE
 * experts as 3-D tensors, the tokenizer (tokenizer.ggml.*) and the chat template of MODEL.
 *
 * Types: "keep" writes every matrix as loaded - the stored types, or what load-time quantization
 * (qwen3_load_opts.quant / quant_mix: Q8_0, Q4_K, llama.cpp's Q4_K_M mix, ...) made of them, which is
 * how `qwen3 quantize MODEL OUT.gguf --type TYPE` quantizes; "f32", "f16", "bf16" convert every
 * matrix. Norms and the MoE router (ffn_gate_inp) are F32, as llama.cpp keeps them. Our own Q4 has
 * no GGUF type and is refused. Conversion runs row by row on the pool, one tensor at a time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "format/gguf.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "tokenizer/tok.h"

enum { MIX_KEEP, MIX_ONE };

typedef struct {
    char name[96];
    qwen3_dtype type;
    int ndim;
    uint64_t ne[3];
    const kmat *mats; /* n_mats matrices written back to back (experts), or one */
    int n_mats;
    const float *vec; /* a norm (F32) instead */
    uint64_t nbytes, offset;
} otensor;

typedef struct { otensor *t; int n, cap; } olist;

static otensor *add(olist *l) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 128;
        otensor *t = realloc(l->t, sizeof *t * (size_t)cap);
        if (!t) return NULL;
        l->t = t;
        l->cap = cap;
    }
    otensor *o = &l->t[l->n++];
    memset(o, 0, sizeof *o);
    return o;
}

/* The type of a matrix under the mix; role 'r' is the MoE router. */
static qwen3_dtype pick(int mix, qwen3_dtype one, qwen3_dtype stored, int64_t cols, char role, int layer, int n_layers) {
    (void)cols, (void)layer, (void)n_layers;
    if (role == 'r') return QWEN3_F32;
    return mix == MIX_ONE ? one : stored;
}

/* llama.cpp's general.file_type (llama_ftype) for a model whose layer matrices are t. */
static uint32_t file_type(qwen3_dtype t, int mix_m) {
    switch (t) {
    case QWEN3_F32: return 0;
    case QWEN3_F16: return 1;
    case QWEN3_BF16: return 32;
    case QWEN3_Q8_0: return 7;
    case QWEN3_Q4_0: return 2;
    case QWEN3_Q4_1: return 3;
    case QWEN3_Q5_0: return 8;
    case QWEN3_Q5_1: return 9;
    case QWEN3_Q2_K: return 10;
    case QWEN3_Q3_K: return 12;
    case QWEN3_Q4_K: return mix_m ? 15 : 14;
    case QWEN3_Q5_K: return mix_m ? 17 : 16;
    case QWEN3_Q6_K: return 18;
    case QWEN3_IQ4_NL: return 25;
    case QWEN3_IQ4_XS: return 30;
    default: return 1024; /* "guessed" */
    }
}

static uint64_t mat_bytes(qwen3_dtype t, const kmat *k) { return (uint64_t)k_row_bytes(t, k->cols) * (uint64_t)k->rows; }

static int add_mat(olist *l, const char *name, const kmat *k, int n, qwen3_dtype t) {
    otensor *o = add(l);
    if (!o) return -1;
    snprintf(o->name, sizeof o->name, "%s", name);
    o->type = t;
    o->mats = k;
    o->n_mats = n;
    o->ndim = n > 1 ? 3 : 2;
    o->ne[0] = (uint64_t)k->cols;
    o->ne[1] = (uint64_t)k->rows;
    o->ne[2] = (uint64_t)n;
    o->nbytes = mat_bytes(t, k) * (uint64_t)n;
    return 0;
}

static int add_vec(olist *l, const char *name, const float *v, int64_t n) {
    otensor *o = add(l);
    if (!o) return -1;
    snprintf(o->name, sizeof o->name, "%s", name);
    o->type = QWEN3_F32;
    o->vec = v;
    o->ndim = 1;
    o->ne[0] = (uint64_t)n;
    o->nbytes = 4 * (uint64_t)n;
    return 0;
}

/* ggml type id of an engine type (the inverse of weights.c's table). */
static uint32_t ggml_id(qwen3_dtype t) {
    switch (t) {
    case QWEN3_F32: return 0;
    case QWEN3_F16: return 1;
    case QWEN3_BF16: return 30;
    case QWEN3_Q8_0: return 8;
    case QWEN3_Q4_0: return 2;
    case QWEN3_Q4_1: return 3;
    case QWEN3_Q5_0: return 6;
    case QWEN3_Q5_1: return 7;
    case QWEN3_Q2_K: return 10;
    case QWEN3_Q3_K: return 11;
    case QWEN3_Q4_K: return 12;
    case QWEN3_Q5_K: return 13;
    case QWEN3_Q6_K: return 14;
    case QWEN3_IQ4_NL: return 20;
    case QWEN3_IQ4_XS: return 23;
    default: return UINT32_MAX; /* our Q4 has no GGUF type */
    }
}

/* ---- writing */
typedef struct { FILE *f; int bad; uint64_t pos; } wr;
static void w_raw(wr *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) w->bad = 1;
    w->pos += n;
}
static void w_u32(wr *w, uint32_t v) { uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)}; w_raw(w, b, 4); }
static void w_u64(wr *w, uint64_t v) { w_u32(w, (uint32_t)v); w_u32(w, (uint32_t)(v >> 32)); }
static void w_str(wr *w, const char *s, size_t n) { w_u64(w, n); w_raw(w, s, n); }
static void w_key(wr *w, const char *k, uint32_t type) { w_str(w, k, strlen(k)); w_u32(w, type); }
static void kv_str(wr *w, const char *k, const char *v) { w_key(w, k, GGUF_STRING); w_str(w, v, strlen(v)); }
static void kv_u32(wr *w, const char *k, uint32_t v) { w_key(w, k, GGUF_UINT32); w_u32(w, v); }
static void kv_f32(wr *w, const char *k, float v) { uint32_t u; memcpy(&u, &v, 4); w_key(w, k, GGUF_FLOAT32); w_u32(w, u); }
static void kv_bool(wr *w, const char *k, int v) { uint8_t b = (uint8_t)!!v; w_key(w, k, GGUF_BOOL); w_raw(w, &b, 1); }
static void pad(wr *w, uint64_t align) {
    static const uint8_t z[64];
    while (w->pos % align) w_raw(w, z, (size_t)(align - w->pos % align) < sizeof z ? (size_t)(align - w->pos % align) : sizeof z);
}

typedef struct { const kmat *src; qwen3_dtype t; uint8_t *dst; size_t row_bytes; int failed; } qjob;

static void quant_rows(void *ctx, int ith, int nth) {
    qjob *j = ctx;
    long r0, r1;
    qpool_split((long)j->src->rows, ith, nth, 1, &r0, &r1);
    float *tmp = r0 < r1 ? malloc(sizeof(float) * (size_t)j->src->cols) : NULL;
    if (r0 < r1 && !tmp) { j->failed = 1; return; }
    for (long r = r0; r < r1; r++) {
        k_row_to_float(j->src, r, tmp);
        uint8_t *out = j->dst + (size_t)r * j->row_bytes;
        if (j->t == QWEN3_F32) memcpy(out, tmp, sizeof(float) * (size_t)j->src->cols);
        else if (j->t == QWEN3_F16 || j->t == QWEN3_BF16) {
            uint16_t *h = (uint16_t *)out;
            for (int64_t c = 0; c < j->src->cols; c++) h[c] = j->t == QWEN3_F16 ? k_f32_to_f16(tmp[c]) : k_f32_to_bf16(tmp[c]);
        } else kq_quantize_row(j->t, tmp, out, j->src->cols);
    }
    free(tmp);
}

static int write_mat(wr *w, qpool *pool, const kmat *k, qwen3_dtype t, qwen3_err *e) {
    size_t rb = k_row_bytes(t, k->cols);
    if (t == k->type && !k->il) { /* as stored: copy the bytes */
        for (int64_t r = 0; r < k->rows; r++) w_raw(w, (const uint8_t *)k->data + (size_t)r * k->row_bytes, rb);
        return 0;
    }
    if (t == k->type) { /* interleaved for decoding (model/repack.c): each row gathered back */
        uint8_t *row = malloc(rb);
        if (!row) return qerr(e, "out of memory writing a [%lld, %lld] matrix", (long long)k->rows, (long long)k->cols);
        for (int64_t r = 0; r < k->rows; r++) {
            k_il_row(k, r, row);
            w_raw(w, row, rb);
        }
        free(row);
        return 0;
    }
    uint8_t *buf = malloc(rb * (size_t)k->rows + 1);
    if (!buf) return qerr(e, "out of memory converting a [%lld, %lld] matrix to %s", (long long)k->rows, (long long)k->cols,
                          qwen3_dtype_name(t));
    qjob j = {k, t, buf, rb, 0};
    qpool_run(pool, quant_rows, &j);
    if (!j.failed) w_raw(w, buf, rb * (size_t)k->rows);
    free(buf);
    return j.failed ? qerr(e, "out of memory converting to %s", qwen3_dtype_name(t)) : 0;
}

static int parse_mix(const char *s, int *mix, qwen3_dtype *one, uint32_t *ftype) {
    static const struct { const char *name; int mix; qwen3_dtype t; uint32_t ftype; } mixes[] = {
        {"keep", MIX_KEEP, QWEN3_F32, 1024}, {"f32", MIX_ONE, QWEN3_F32, 0}, {"f16", MIX_ONE, QWEN3_F16, 1},
        {"bf16", MIX_ONE, QWEN3_BF16, 32},
    };
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
        if (!strcmp(s, mixes[i].name)) { *mix = mixes[i].mix; *one = mixes[i].t; *ftype = mixes[i].ftype; return 0; }
    return -1;
}

int qwen3_model_save_gguf(const qwen3_model *m, const char *model_path, const char *out, const char *mix_name, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    if (m->pp_size > 1) /* a rank of an MPI job holds its share of the layers only */
        return qerr(e, "cannot save a model split across %d MPI ranks: run the command without mpirun", m->pp_size);
    int mix;
    qwen3_dtype one;
    uint32_t ftype;
    if (parse_mix(mix_name ? mix_name : "keep", &mix, &one, &ftype))
        return qerr(e, "GGUF type '%s' is not one of keep, f32, f16, bf16 (quantize at load for the others)", mix_name);
    if (mix == MIX_KEEP) {
        const kmat *w = m->layers[0].is_moe ? &m->layers[0].egate[0] : &m->layers[0].gate;
        ftype = file_type(w->type, m->layers[0].wv.type != w->type || m->lm_head.type != w->type);
    }
    olist l = {0};
    int rc = -1, tied = m->lm_head.data == m->embed.data, L = c->num_layers;
    char n[96];
    FILE *f = NULL;
    tk_gguf_vocab v = {0};
    char *tmpl = NULL;
    qwen3_tokenizer *tok = NULL;
#define CHK(x) do { if ((x)) { qerr(e, "out of memory"); goto out; } } while (0)
    CHK(add_mat(&l, "token_embd.weight", &m->embed, 1, pick(mix, one, m->embed.type, m->embed.cols, tied ? 'o' : 'e', 0, L)));
    CHK(add_vec(&l, "output_norm.weight", m->final_norm, c->hidden_size));
    if (!tied) CHK(add_mat(&l, "output.weight", &m->lm_head, 1, pick(mix, one, m->lm_head.type, m->lm_head.cols, 'o', 0, L)));
    for (int i = 0; i < L; i++) {
        const layer_weights *W = &m->layers[i];
#define N(s) (snprintf(n, sizeof n, "blk.%d.%s.weight", i, s), n)
#define MAT(s, k, cnt, role) CHK(add_mat(&l, N(s), k, cnt, pick(mix, one, (k)->type, (k)->cols, role, i, L)))
        CHK(add_vec(&l, N("attn_norm"), W->attn_norm, c->hidden_size));
        MAT("attn_q", &W->wq, 1, 'm');
        MAT("attn_k", &W->wk, 1, 'm');
        MAT("attn_v", &W->wv, 1, 'v');
        MAT("attn_output", &W->wo, 1, 'm');
        CHK(add_vec(&l, N("attn_q_norm"), W->q_norm, c->head_dim));
        CHK(add_vec(&l, N("attn_k_norm"), W->k_norm, c->head_dim));
        CHK(add_vec(&l, N("ffn_norm"), W->ffn_norm, c->hidden_size));
        if (!W->is_moe) {
            MAT("ffn_gate", &W->gate, 1, 'm');
            MAT("ffn_up", &W->up, 1, 'm');
            MAT("ffn_down", &W->down, 1, 'd');
        } else {
            MAT("ffn_gate_inp", &W->router, 1, 'r');
            MAT("ffn_gate_exps", W->egate, c->num_experts, 'm');
            MAT("ffn_up_exps", W->eup, c->num_experts, 'm');
            MAT("ffn_down_exps", W->edown, c->num_experts, 'd');
        }
#undef MAT
#undef N
    }
    for (int i = 0; i < l.n; i++)
        if (ggml_id(l.t[i].type) == UINT32_MAX) {
            qerr(e, "tensor '%s' is %s, which GGUF has no type for; choose a GGUF type (q8_0, q4_k_m, ...)", l.t[i].name,
                 qwen3_dtype_name(l.t[i].type));
            goto out;
        }
    /* the tokenizer and chat template of MODEL (HF files or the GGUF's own), when it has them: a
     * weights-only checkpoint gives a weights-only GGUF */
    qwen3_err ignore = {0};
    size_t tlen = 0;
    if ((tok = qwen3_tokenizer_load(model_path, &ignore))) {
        if (tk_gguf_export(tok, c->vocab_size, &v, e)) goto out;
        tmpl = chat_template_text(model_path, &tlen, &ignore);
    }
    if (!(f = fopen(out, "wb"))) { qerr(e, "%s: cannot open for writing", out); goto out; }
    wr w = {f, 0, 0};
    const char *arch = c->is_moe ? "qwen3moe" : "qwen3";
    char k[128];
#define K(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
    int n_kv = 0;
    /* count first: the header needs it */
    for (int pass = 0; pass < 2; pass++) {
        int cnt = 0;
        if (pass == 1) {
            w_raw(&w, "GGUF", 4);
            w_u32(&w, 3);
            w_u64(&w, (uint64_t)l.n);
            w_u64(&w, (uint64_t)n_kv);
        }
#define KV(stmt) do { cnt++; if (pass) { stmt; } } while (0)
        KV(kv_str(&w, "general.architecture", arch));
        KV(kv_str(&w, "general.name", "qwen3"));
        KV(kv_u32(&w, "general.file_type", ftype));
        KV(kv_u32(&w, "general.quantization_version", 2));
        KV(kv_u32(&w, K("block_count"), (uint32_t)L));
        KV(kv_u32(&w, K("context_length"), (uint32_t)c->max_position_embeddings));
        KV(kv_u32(&w, K("embedding_length"), (uint32_t)c->hidden_size));
        KV(kv_u32(&w, K("feed_forward_length"), (uint32_t)c->intermediate_size));
        KV(kv_u32(&w, K("attention.head_count"), (uint32_t)c->num_heads));
        KV(kv_u32(&w, K("attention.head_count_kv"), (uint32_t)c->num_kv_heads));
        KV(kv_u32(&w, K("attention.key_length"), (uint32_t)c->head_dim));
        KV(kv_u32(&w, K("attention.value_length"), (uint32_t)c->head_dim));
        KV(kv_f32(&w, K("rope.freq_base"), (float)c->rope_theta));
        KV(kv_f32(&w, K("attention.layer_norm_rms_epsilon"), c->rms_norm_eps));
        if (c->yarn) {
            /* only what differs from the defaults both readers assume (llama.cpp derives the
             * attention factor itself, so writing the default would apply it twice there) */
            double deflt = c->yarn_factor <= 1 ? 1.0 : 0.1 * log(c->yarn_factor) + 1.0;
            KV(kv_str(&w, K("rope.scaling.type"), "yarn"));
            KV(kv_f32(&w, K("rope.scaling.factor"), (float)c->yarn_factor));
            KV(kv_u32(&w, K("rope.scaling.original_context_length"), (uint32_t)c->yarn_original_max_position_embeddings));
            if (c->yarn_beta_fast != 32) KV(kv_f32(&w, K("rope.scaling.yarn_beta_fast"), (float)c->yarn_beta_fast));
            if (c->yarn_beta_slow != 1) KV(kv_f32(&w, K("rope.scaling.yarn_beta_slow"), (float)c->yarn_beta_slow));
            if (fabs(c->yarn_attention_factor - deflt) > 1e-6)
                KV(kv_f32(&w, K("rope.scaling.attn_factor"), (float)c->yarn_attention_factor));
        }
        if (c->is_moe) {
            KV(kv_u32(&w, K("expert_count"), (uint32_t)c->num_experts));
            KV(kv_u32(&w, K("expert_used_count"), (uint32_t)c->num_experts_per_tok));
            KV(kv_u32(&w, K("expert_feed_forward_length"), (uint32_t)c->moe_intermediate_size));
            KV(kv_bool(&w, K("expert_weights_norm"), c->norm_topk_prob));
        }
        if (tok) {
            KV(kv_str(&w, "tokenizer.ggml.model", "gpt2"));
            KV(kv_str(&w, "tokenizer.ggml.pre", "qwen2"));
            KV({
                w_key(&w, "tokenizer.ggml.tokens", GGUF_ARRAY);
                w_u32(&w, GGUF_STRING);
                w_u64(&w, (uint64_t)v.n);
                for (int i = 0; i < v.n; i++) w_str(&w, v.tokens[i], v.token_len[i]);
            });
            KV({
                w_key(&w, "tokenizer.ggml.token_type", GGUF_ARRAY);
                w_u32(&w, GGUF_INT32);
                w_u64(&w, (uint64_t)v.n);
                for (int i = 0; i < v.n; i++) w_u32(&w, (uint32_t)v.types[i]);
            });
            KV({
                w_key(&w, "tokenizer.ggml.merges", GGUF_ARRAY);
                w_u32(&w, GGUF_STRING);
                w_u64(&w, (uint64_t)v.n_merges);
                for (int i = 0; i < v.n_merges; i++) w_str(&w, v.merges[i], v.merge_len[i]);
            });
            if (c->bos_token_id >= 0) KV(kv_u32(&w, "tokenizer.ggml.bos_token_id", (uint32_t)c->bos_token_id));
            if (c->eos_token_id >= 0) KV(kv_u32(&w, "tokenizer.ggml.eos_token_id", (uint32_t)c->eos_token_id));
            int32_t pad_id = tok ? qwen3_token_id(tok, "<|endoftext|>") : -1;
            if (pad_id >= 0) KV(kv_u32(&w, "tokenizer.ggml.padding_token_id", (uint32_t)pad_id));
            KV(kv_bool(&w, "tokenizer.ggml.add_bos_token", 0));
            if (tmpl) KV({ w_key(&w, "tokenizer.chat_template", GGUF_STRING); w_str(&w, tmpl, tlen); });
        }
#undef KV
        n_kv = cnt;
    }
#undef K
    uint64_t off = 0;
    for (int i = 0; i < l.n; i++) {
        otensor *t = &l.t[i];
        t->offset = off;
        off += (t->nbytes + 31) / 32 * 32;
        w_str(&w, t->name, strlen(t->name));
        w_u32(&w, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) w_u64(&w, t->ne[d]);
        w_u32(&w, ggml_id(t->type));
        w_u64(&w, t->offset);
    }
    pad(&w, 32);
    for (int i = 0; i < l.n && !w.bad; i++) {
        otensor *t = &l.t[i];
        if (t->vec) w_raw(&w, t->vec, (size_t)t->nbytes); /* float32, little-endian as this machine */
        else
            for (int x = 0; x < t->n_mats; x++)
                if (write_mat(&w, m->pool, &t->mats[x], t->type, e)) goto out;
        pad(&w, 32);
    }
    if (w.bad || fflush(f)) { qerr(e, "%s: write failed (disk full?)", out); goto out; }
    rc = 0;
out:
#undef CHK
    if (f && fclose(f) && !rc) rc = qerr(e, "%s: write failed", out);
    if (rc && f) remove(out);
    tk_gguf_vocab_free(&v);
    qwen3_tokenizer_free(tok);
    free(tmpl);
    free(l.t);
    return rc;
}
