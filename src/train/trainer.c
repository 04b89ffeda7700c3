/* trainer.c - qwen3_trainer: model + data stream + AdamW + schedule; one call per optimiser step.
 *
 * Data (llm.c's loader): every document is encoded and followed by <|endoftext|>, and the documents
 * are concatenated into one token stream. Micro-batch j reads B*T + 1 tokens from the stream position
 * pos: sequence b is tokens [pos + b*T, pos + b*T + T), its targets the same shifted by one; pos
 * advances by B*T and wraps to 0 when fewer than B*T + 1 tokens are left. The stream depends only on
 * the data file or the seed, so a resumed run rebuilds it and continues from the saved pos.
 *
 * Vocabulary head with a shared row (opts.dense_head == 0): tokens that never occur in the stream
 * get one row between them, with multiplicity N_u. They start identical (all such rows of a fresh
 * model are the same vector) and, under full-softmax training, receive identical gradients (each
 * unseen row u gets sum_t p_u(t) h_t, the same for every u) and identical AdamW updates, so they
 * stay identical: one stored row is exact. The model then computes with a compact vocabulary of the
 * seen tokens plus that row (train/model.c adds log N_u to its logit and keeps its per-row
 * gradient); the global gradient norm counts it N_u times; export writes the full matrix.
 *
 * AdamW as torch.optim.AdamW: p -= lr*wd*p (not on RMSNorm weights); m, v moments; the update
 * lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). Clipping as torch.nn.utils.clip_grad_norm_ (scale
 * by clip/(norm+1e-6) when that is < 1). Schedule: linear warm-up over `warmup` steps to lr, then
 * cosine to lr*min_lr_frac at the last step. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/file.h"
#include "format/mdir.h"
#include "model/config.h"
#include "qwen3_train.h"
#include "train/data.h"
#include "train/io.h"
#include "train/rl.h"
#include "train/train.h"

#define EOT_ID 151643

struct qwen3_trainer {
    qwen3_train_opts o;
    char *tok_dir;            /* owned copy of o.tokenizer_dir */
    qwen3_config full;        /* the model as exported (full vocabulary) */
    tmodel *m;                /* compact vocabulary when shared */
    int shared;               /* the head has a shared row (its index: m->c.vocab_size - 1) */
    int32_t *c2full;          /* [compact V] full id of each compact row (-1: the shared row) */
    int32_t *tokens;          /* the stream, compact ids */
    float *wts;               /* [n_tokens] loss weight of predicting each token (NULL: all 1; SFT) */
    float *tw;                /* [B*T] the weights of the current micro-batch's targets */
    int64_t n_tokens, pos;
    float *m1, *m2;           /* AdamW moments [n_params] */
    long step;
    qpool *pool;
    int32_t *ids, *tgt;       /* [B*T] of the current micro-batch */
    double active_params;     /* matmul parameters a token passes through (FLOP count) */
};

void qwen3_train_opts_default(qwen3_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 8; o->seq_len = 256; o->accum = 1; o->steps = 100;
    o->lr = 3e-3; o->min_lr_frac = 0.1; o->warmup = 20;
    o->weight_decay = 0.1; o->beta1 = 0.9; o->beta2 = 0.95; o->eps = 1e-8; o->clip = 1.0;
    o->lbl = QWEN3_LBL_NONE; o->lbl_alpha = 0.01; o->seed = 1;
}

/* ---- configs --------------------------------------------------------------------------------- */

/* The presets: small enough to train on 2 cores in minutes, with Qwen3's real vocabulary (the
 * shared-row head makes it cheap) and its proportions (QK-norm, GQA 2:1, head_dim 64, theta 1e6). */
static const char *preset_json(const char *name) {
    if (!strcmp(name, "small"))
        return "{\"model_type\":\"qwen3\",\"vocab_size\":151936,\"hidden_size\":256,\"intermediate_size\":768,"
               "\"num_hidden_layers\":4,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":64,"
               "\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,\"max_position_embeddings\":40960,"
               "\"tie_word_embeddings\":true,\"bos_token_id\":151643,\"eos_token_id\":151645}";
    if (!strcmp(name, "moe-small"))
        return "{\"model_type\":\"qwen3_moe\",\"vocab_size\":151936,\"hidden_size\":256,\"intermediate_size\":768,"
               "\"num_hidden_layers\":4,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":64,"
               "\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,\"max_position_embeddings\":40960,"
               "\"tie_word_embeddings\":true,\"num_experts\":16,\"num_experts_per_tok\":4,"
               "\"moe_intermediate_size\":192,\"norm_topk_prob\":true,\"decoder_sparse_step\":1,"
               "\"mlp_only_layers\":[],\"bos_token_id\":151643,\"eos_token_id\":151645}";
    return NULL;
}

static int load_config(const qwen3_train_opts *o, qwen3_config *c, qwen3_err *e) {
    char path[4096];
    if (o->init_dir) {
        if (qpath_join(path, sizeof path, o->init_dir, MDIR_CONFIG, e)) return -1;
        return qwen3_config_load(path, c, e);
    }
    if (!o->config) return qerr(e, "train: give --config small|moe-small|FILE.json (or --init DIR)");
    const char *p = preset_json(o->config);
    if (p) return qwen3_config_parse(p, strlen(p), o->config, c, e);
    return qwen3_config_load(o->config, c, e);
}

/* ---- data ------------------------------------------------------------------------------------ */

static int read_ids_file(const char *path, int32_t **out, int64_t *n, qwen3_err *e) {
    size_t len;
    char *text = qfile_read(path, (size_t)1 << 30, &len, e);
    if (!text) return -1;
    int64_t cap = 1024, k = 0;
    int32_t *v = malloc(sizeof *v * (size_t)cap);
    char *p = text;
    while (v) {
        while (*p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX) {
            qerr(e, "%s: byte %ld: expected a token id, found '%.20s'", path, (long)(p - text), p);
            free(v); free(text);
            return -1;
        }
        if (k == cap) { cap *= 2; int32_t *nv = realloc(v, sizeof *v * (size_t)cap); if (!nv) { free(v); v = NULL; break; } v = nv; }
        v[k++] = (int32_t)x;
        p = end;
    }
    free(text);
    if (!v) return qerr(e, "out of memory");
    *out = v;
    *n = k;
    return 0;
}

/* A loss weight per token of the ids file (same separators), for the checks of the weighted loss. */
static int read_weights_file(const char *path, int64_t n_ids, float **out, qwen3_err *e) {
    size_t len;
    char *text = qfile_read(path, (size_t)1 << 30, &len, e);
    if (!text) return -1;
    float *w = malloc(sizeof *w * (size_t)(n_ids ? n_ids : 1));
    int64_t k = 0;
    char *p = text;
    while (w) {
        while (*p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        double x = strtod(p, &end);
        if (end == p || !isfinite(x) || k == n_ids) {
            qerr(e, "%s: byte %ld: %s", path, (long)(p - text),
                 k == n_ids ? "more weights than the ids file has tokens" : "expected a number");
            free(w); free(text);
            return -1;
        }
        w[k++] = (float)x;
        p = end;
    }
    free(text);
    if (!w) return qerr(e, "out of memory");
    if (k != n_ids) { free(w); return qerr(e, "%s: %lld weights for %lld tokens (one per token of the ids file)", path, (long long)k, (long long)n_ids); }
    *out = w;
    return 0;
}

static int build_stream(qwen3_trainer *t, int32_t **full, int64_t *n, qwen3_err *e) {
    const qwen3_train_opts *o = &t->o;
    if (o->ids_file) {
        if (read_ids_file(o->ids_file, full, n, e)) return -1;
        if (o->weights_file && read_weights_file(o->weights_file, *n, &t->wts, e)) { free(*full); *full = NULL; return -1; }
        return 0;
    }
    if (o->weights_file) return qerr(e, "train: --weights goes with --ids (a weight per token of the ids file)");
    if (o->sft && !o->data) return qerr(e, "train: --mode sft needs --data FILE.jsonl of {\"messages\": [...]} conversations");
    if (o->ids_mem) {
        if (!(*full = malloc(sizeof(int32_t) * (size_t)(o->n_ids_mem > 0 ? o->n_ids_mem : 1)))) return qerr(e, "out of memory");
        memcpy(*full, o->ids_mem, sizeof(int32_t) * (size_t)o->n_ids_mem);
        *n = o->n_ids_mem;
        return 0;
    }
    if (!t->tok_dir) return qerr(e, "train: text data needs a tokenizer (--tokenizer DIR)");
    qwen3_tokenizer *tok = qwen3_tokenizer_load(t->tok_dir, e);
    if (!tok) return -1;
    int rc = o->data ? tdata_jsonl_stream(o->data, tok, full, o->sft ? &t->wts : NULL, n, e)
                     : tdata_synth_stream(o->seed, o->synth_examples, tok, full, n, e);
    qwen3_tokenizer_free(tok);
    return rc;
}

/* ---- construction ---------------------------------------------------------------------------- */

static double count_active(const qwen3_config *c, int V) {
    double H = c->hidden_size, QD = (double)c->num_heads * c->head_dim, KD = (double)c->num_kv_heads * c->head_dim;
    double p = 0;
    for (int l = 0; l < c->num_layers; l++) {
        p += H * QD * 2 + H * KD * 2;
        if (c->is_moe && c->layer_is_moe[l]) p += H * c->num_experts + 3.0 * H * c->moe_intermediate_size * c->num_experts_per_tok;
        else p += 3.0 * H * c->intermediate_size;
    }
    return p + (double)V * H;
}

static int load_state(qwen3_trainer *t, const char *dir, qwen3_err *e);

/* --init into the compact head: the rows of the tokens the data never has must all be identical (a
 * model this trainer exported is), else the shared row would not be exact. Rows the checkpoint has
 * trained (they differ from its row of the last id, which no text ever has) join the compact
 * vocabulary even when this run's data lacks them (see init_trained_rows), so a model trained on
 * one data set continues on another (pre-training, then SFT on other phrasings). */
static int load_compact(qwen3_trainer *t, const char *dir, qwen3_err *e) {
    tmodel *f = tmodel_new(&t->full, 1, 1, t->pool, e);
    if (!f) return -1;
    int rc = -1;
    if (tmodel_load_hf(f, dir, e)) goto out;
    tmodel *m = t->m;
    int H = m->c.hidden_size, Vc = m->c.vocab_size, V = t->full.vocab_size;
    int32_t unseen = -1;
    char *seen = calloc((size_t)V, 1);
    if (!seen) { qerr(e, "out of memory"); goto out; }
    for (int r = 0; r < Vc - 1; r++) seen[t->c2full[r]] = 1;
    for (int r = 0; r < V && unseen < 0; r++) if (!seen[r]) unseen = r;
    for (int i = 0; i < m->n_tensors && rc == -1; i++) {
        const ttensor *a = &m->tensors[i], *b = &f->tensors[i];
        float *dst = m->params + a->off;
        const float *src = f->params + b->off;
        if (a->rows == Vc && (!strcmp(a->name, "model.embed_tokens.weight") || !strcmp(a->name, "lm_head.weight"))) {
            const float *u = src + (int64_t)unseen * H;
            for (int r = 0; r < V; r++)
                if (!seen[r] && memcmp(src + (int64_t)r * H, u, sizeof(float) * (size_t)H)) {
                    qerr(e, "%s: %s rows %d and %d differ, but the data has neither token: the shared-row head needs the unseen rows identical (use --dense-head)", dir, a->name, unseen, r);
                    rc = -2;
                    break;
                }
            for (int r = 0; r < Vc - 1; r++) memcpy(dst + (int64_t)r * H, src + (int64_t)t->c2full[r] * H, sizeof(float) * (size_t)H);
            memcpy(dst + (int64_t)(Vc - 1) * H, u, sizeof(float) * (size_t)H);
        } else {
            memcpy(dst, src, sizeof(float) * (size_t)(a->rows * (a->cols ? a->cols : 1)));
        }
    }
    free(seen);
    rc = rc == -1 ? 0 : -1;
out:
    tmodel_free(f);
    return rc;
}

/* Marks in seen[V] the rows of dir's embedding (and untied head) that differ from its row V-1. */
static int init_trained_rows(qwen3_trainer *t, const char *dir, char *seen, qwen3_err *e) {
    tmodel *f = tmodel_new(&t->full, 1, 1, t->pool, e);
    if (!f) return -1;
    int rc = tmodel_load_hf(f, dir, e);
    int H = t->full.hidden_size, V = t->full.vocab_size;
    for (int i = 0; !rc && i < f->n_tensors; i++) {
        const ttensor *a = &f->tensors[i];
        if (a->rows != V || (strcmp(a->name, "model.embed_tokens.weight") && strcmp(a->name, "lm_head.weight"))) continue;
        const float *src = f->params + a->off, *ref = src + (int64_t)(V - 1) * H;
        for (int r = 0; r < V - 1; r++)
            if (memcmp(src + (int64_t)r * H, ref, sizeof(float) * (size_t)H)) seen[r] = 1;
    }
    tmodel_free(f);
    return rc;
}

qwen3_trainer *qwen3_trainer_new(const qwen3_train_opts *opts, qwen3_err *e) {
    qwen3_trainer *t = calloc(1, sizeof *t);
    if (!t) { qerr(e, "out of memory"); return NULL; }
    t->o = *opts;
    const qwen3_train_opts *o = &t->o;
    int32_t *full = NULL;
    int64_t n_full = 0;
    if (o->batch < 1 || o->seq_len < 1 || o->accum < 1 || o->steps < 1) { qerr(e, "train: batch, seq_len, accum and steps must be >= 1"); goto fail; }
    if (o->tokenizer_dir && !(t->tok_dir = strdup(o->tokenizer_dir))) { qerr(e, "out of memory"); goto fail; }
    t->o.tokenizer_dir = t->tok_dir;
    /* the export copies the tokenizer files: a directory without them fails now, not after the run */
    if (t->tok_dir && mdir_check_tokenizer_dir(t->tok_dir, e)) goto fail;
    if (load_config(o, &t->full, e)) goto fail;
    if (t->full.is_moe && t->full.num_experts > 4096) { qerr(e, "train: num_experts %d is more than this trainer supports (4096)", t->full.num_experts); goto fail; }
    if (build_stream(t, &full, &n_full, e)) goto fail;
    int64_t need = (int64_t)o->batch * o->seq_len + 1;
    if (n_full < need) { qerr(e, "train: the data has %lld tokens; a micro-batch of %d x %d needs %lld (more data, or a smaller --batch/--seq)", (long long)n_full, o->batch, o->seq_len, (long long)need); goto fail; }
    int V = t->full.vocab_size;
    for (int64_t i = 0; i < n_full; i++)
        if (full[i] >= V) { qerr(e, "train: data token %d (position %lld) is outside the model's vocabulary (%d)", full[i], (long long)i, V); goto fail; }
    /* the compact vocabulary: seen ids in increasing order, then the shared row */
    qwen3_config c = t->full;
    t->tokens = malloc(sizeof(int32_t) * (size_t)n_full);
    if (!t->tokens) { qerr(e, "out of memory"); goto fail; }
    t->pool = qpool_new(o->threads > 0 ? o->threads : qpool_default_threads());
    if (!t->pool) { qerr(e, "train: cannot start threads"); goto fail; }
    if (!o->dense_head) {
        int32_t *f2c = malloc(sizeof(int32_t) * (size_t)V);
        char *trained = o->init_dir ? calloc((size_t)V, 1) : NULL;
        if (!f2c || (o->init_dir && !trained)) { free(f2c); free(trained); qerr(e, "out of memory"); goto fail; }
        if (trained && init_trained_rows(t, o->init_dir, trained, e)) { free(f2c); free(trained); goto fail; }
        for (int i = 0; i < V; i++) f2c[i] = trained && trained[i] ? 0 : -1;
        free(trained);
        for (int64_t i = 0; i < n_full; i++) f2c[full[i]] = 0;
        int nc = 0;
        for (int i = 0; i < V; i++) if (f2c[i] == 0) f2c[i] = nc++; else f2c[i] = -1;
        if (nc < V) {
            t->shared = 1;
            t->c2full = malloc(sizeof(int32_t) * (size_t)(nc + 1));
            if (!t->c2full) { free(f2c); qerr(e, "out of memory"); goto fail; }
            for (int i = 0; i < V; i++) if (f2c[i] >= 0) t->c2full[f2c[i]] = i;
            t->c2full[nc] = -1;
            c.vocab_size = nc + 1;
            for (int64_t i = 0; i < n_full; i++) t->tokens[i] = f2c[full[i]];
        }
        free(f2c);
    }
    if (!t->shared) memcpy(t->tokens, full, sizeof(int32_t) * (size_t)n_full);
    free(full);
    full = NULL;
    t->n_tokens = n_full;
    t->m = tmodel_new(&c, o->batch, o->seq_len, t->pool, e);
    if (!t->m) goto fail;
    if (t->shared) { t->m->shared_row = c.vocab_size - 1; t->m->n_shared = (double)(t->full.vocab_size - (c.vocab_size - 1)); }
    t->m->lbl = (tlbl_kind)o->lbl;
    t->m->lbl_alpha = (float)o->lbl_alpha;
    t->m1 = calloc((size_t)t->m->n_params, sizeof(float));
    t->m2 = calloc((size_t)t->m->n_params, sizeof(float));
    t->ids = malloc(sizeof(int32_t) * (size_t)o->batch * o->seq_len);
    t->tgt = malloc(sizeof(int32_t) * (size_t)o->batch * o->seq_len);
    t->tw = malloc(sizeof(float) * (size_t)o->batch * o->seq_len);
    if (!t->m1 || !t->m2 || !t->ids || !t->tgt || !t->tw) { qerr(e, "out of memory"); goto fail; }
    t->active_params = count_active(&c, c.vocab_size);
    if (o->init_dir) {
        if (t->shared ? load_compact(t, o->init_dir, e) : tmodel_load_hf(t->m, o->init_dir, e)) goto fail;
    } else {
        tmodel_init_random(t->m, o->seed);
        /* the shared row starts as one random row, as every unseen row of a dense model made with
         * identical unseen rows would (tests make the dense twin that way) */
    }
    if (o->resume_dir && load_state(t, o->resume_dir, e)) goto fail;
    tmodel_params_changed(t->m);
    return t;
fail:
    free(full);
    qwen3_trainer_free(t);
    return NULL;
}

void qwen3_trainer_free(qwen3_trainer *t) {
    if (!t) return;
    tmodel_free(t->m);
    qwen3_config_free(&t->full); /* after the models, whose configs are copies of it */
    if (t->pool) qpool_free(t->pool);
    free(t->tok_dir); free(t->c2full); free(t->tokens); free(t->m1); free(t->m2); free(t->ids); free(t->tgt); free(t->wts); free(t->tw);
    free(t);
}

long qwen3_trainer_steps_done(const qwen3_trainer *t) { return t->step; }

const float *qwen3_trainer_load(const qwen3_trainer *t, int *n) {
    *n = t->m->c.num_layers;
    return t->m->load_maxmean;
}

int qwen3_trainer_describe(const qwen3_trainer *t, char *buf, size_t n) {
    const qwen3_config *c = &t->full;
    double nonembed = 0;
    for (int i = 0; i < t->m->n_tensors; i++)
        if (strcmp(t->m->tensors[i].name, "model.embed_tokens.weight") && strcmp(t->m->tensors[i].name, "lm_head.weight"))
            nonembed += (double)t->m->tensors[i].rows * (t->m->tensors[i].cols ? t->m->tensors[i].cols : 1);
    return snprintf(buf, n,
                    "model: %s, %d layers, hidden %d, heads %d/%d x %d, %s %d, vocab %d; %.2f M non-embedding parameters\n"
                    "head: %d rows, %s\n"
                    "data: %lld tokens; micro-batch %d x %d, accumulation %d: %lld tokens per step\n",
                    c->is_moe ? "qwen3_moe" : "qwen3", c->num_layers, c->hidden_size, c->num_heads, c->num_kv_heads,
                    c->head_dim, c->is_moe ? "experts" : "intermediate", c->is_moe ? c->num_experts : c->intermediate_size,
                    c->vocab_size, nonembed / 1e6, t->m->c.vocab_size,
                    t->shared ? "compact: the data's tokens + one shared row for the rest" : "dense (every vocabulary row)",
                    (long long)t->n_tokens, t->o.batch, t->o.seq_len, t->o.accum,
                    (long long)t->o.batch * t->o.seq_len * t->o.accum);
}

/* ---- one step -------------------------------------------------------------------------------- */

static void next_micro(qwen3_trainer *t) {
    int64_t BT = (int64_t)t->o.batch * t->o.seq_len;
    if (t->pos + BT + 1 > t->n_tokens) t->pos = 0;
    for (int64_t i = 0; i < BT; i++) {
        t->ids[i] = t->tokens[t->pos + i];
        t->tgt[i] = t->tokens[t->pos + i + 1];
        /* a weight-0 target is no target: the loss is the weighted mean over the others */
        t->tw[i] = t->wts ? t->wts[t->pos + i + 1] : 1.0f;
        if (t->tw[i] == 0.0f) t->tgt[i] = -1;
    }
    t->pos += BT;
}

static double lr_at(const qwen3_train_opts *o, long step) {
    if (step < o->warmup) return o->lr * (double)(step + 1) / o->warmup;
    double lo = o->lr * o->min_lr_frac;
    long span = o->steps - o->warmup;
    double prog = span > 1 ? (double)(step - o->warmup) / (double)(span - 1) : 1.0;
    if (prog > 1) prog = 1;
    return lo + 0.5 * (o->lr - lo) * (1 + cos(M_PI * prog));
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* forward + backward of one global batch into m->grads (zeroed first) */
static int accumulate(qwen3_trainer *t, double *loss, double *lbl, qwen3_err *e) {
    tmodel *m = t->m;
    tmodel_zero_grad(m);
    tmodel_lbl_begin(m);
    *loss = *lbl = 0;
    m->tgt_w = t->wts ? t->tw : NULL;
    for (int j = 0; j < t->o.accum; j++) {
        next_micro(t);
        if (tmodel_forward(m, t->ids, t->tgt, e)) { m->tgt_w = NULL; return -1; }
        tmodel_backward(m, t->ids, t->tgt, 1.0f / (float)t->o.accum);
        *loss += m->loss / t->o.accum;
        *lbl += m->lbl_loss / t->o.accum;
    }
    m->tgt_w = NULL;
    return 0;
}

static int update(qwen3_trainer *t, double loss, double lbl, double t0, qwen3_train_stats *st);

static double grad_norm(const qwen3_trainer *t) {
    const tmodel *m = t->m;
    double ss = 0;
    for (int64_t i = 0; i < m->n_params; i++) ss += (double)m->grads[i] * m->grads[i];
    if (t->shared) { /* the shared row stands for n_shared rows */
        int H = m->c.hidden_size;
        const float *g = m->g.lm_head + (int64_t)m->shared_row * H;
        double rs = 0;
        for (int i = 0; i < H; i++) rs += (double)g[i] * g[i];
        ss += (m->n_shared - 1) * rs;
    }
    return sqrt(ss);
}

int qwen3_trainer_step(qwen3_trainer *t, qwen3_train_stats *st, qwen3_err *e) {
    double t0 = now_s(), loss, lbl;
    if (accumulate(t, &loss, &lbl, e)) return -1;
    return update(t, loss, lbl, t0, st);
}

/* AdamW on the gradients in the model */
static int update(qwen3_trainer *t, double loss, double lbl, double t0, qwen3_train_stats *st) {
    tmodel *m = t->m;
    const qwen3_train_opts *o = &t->o;
    double norm = grad_norm(t);
    float gscale = 1.0f;
    if (o->clip > 0) {
        double cc = o->clip / (norm + 1e-6);
        if (cc < 1) gscale = (float)cc;
    }
    double lr = lr_at(o, t->step);
    t->step++;
    float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    float bc1 = 1.0f - powf(b1, (float)t->step), bc2 = 1.0f - powf(b2, (float)t->step);
    float step_size = (float)lr / bc1, bc2s = sqrtf(bc2);
    for (int i = 0; i < m->n_tensors; i++) {
        const ttensor *tt = &m->tensors[i];
        int64_t n = tt->rows * (tt->cols ? tt->cols : 1);
        float decay = tt->is_norm ? 1.0f : 1.0f - (float)(lr * o->weight_decay);
        float *p = m->params + tt->off, *g = m->grads + tt->off, *m1 = t->m1 + tt->off, *m2 = t->m2 + tt->off;
        for (int64_t j = 0; j < n; j++) {
            float gj = g[j] * gscale;
            p[j] *= decay;
            m1[j] = b1 * m1[j] + (1 - b1) * gj;
            m2[j] = b2 * m2[j] + (1 - b2) * gj * gj;
            p[j] -= step_size * m1[j] / (sqrtf(m2[j]) / bc2s + eps);
        }
    }
    tmodel_params_changed(m);
    if (st) {
        int N = o->batch * o->seq_len;
        const qwen3_config *c = &m->c;
        double attn = 12.0 * c->num_heads * c->head_dim * (o->seq_len + 1) / 2.0 * c->num_layers;
        st->step = t->step;
        st->loss = loss;
        st->lbl = lbl;
        st->lr = lr;
        st->grad_norm = norm;
        st->tokens = (double)N * o->accum;
        st->flops = (6.0 * t->active_params + attn) * st->tokens;
        st->seconds = now_s() - t0;
        st->load_max = 0;
        for (int l = 0; l < c->num_layers; l++)
            if (m->load_maxmean[l] > st->load_max) st->load_max = m->load_maxmean[l];
    }
    return 0;
}

int qwen3_trainer_grads(qwen3_trainer *t, const char *grads_path, const char *logits_path, double *loss, qwen3_err *e) {
    double l, lbl;
    int64_t pos0 = t->pos;
    /* the first micro-batch's logits are overwritten by its backward: run it once more for them */
    if (logits_path) {
        t->m->eval = 1;
        next_micro(t);
        if (tmodel_forward(t->m, t->ids, NULL, e)) return -1;
        t->m->eval = 0;
        t->pos = pos0;
        tio_file f;
        if (tio_open(&f, logits_path, e)) return -1;
        tio_write(&f, t->m->a.logits, sizeof(float) * (size_t)t->o.batch * t->o.seq_len * (size_t)t->m->c.vocab_size);
        if (tio_close(&f, e)) return -1;
    }
    if (accumulate(t, &l, &lbl, e)) return -1;
    if (loss) *loss = l + t->o.lbl_alpha * lbl * (t->o.lbl != QWEN3_LBL_NONE);
    if (grads_path && tmodel_save_safetensors(t->m, 1, 0, grads_path, e)) return -1;
    return 0;
}

int qwen3_trainer_dump_stream(const qwen3_trainer *t, FILE *f, qwen3_err *e) {
    for (int64_t i = 0; i < t->n_tokens; i++) {
        int32_t id = t->shared ? t->c2full[t->tokens[i]] : t->tokens[i];
        if (fprintf(f, "%d %.9g\n", id, t->wts ? t->wts[i] : 1.0) < 0) return qerr(e, "stream: write failed");
    }
    return 0;
}

/* ---- export and checkpoints ------------------------------------------------------------------ */

/* A model of the full vocabulary with the compact head expanded (or the model itself). */
static tmodel *expanded(const qwen3_trainer *t, qwen3_err *e) {
    if (!t->shared) return t->m;
    tmodel *f = tmodel_new(&t->full, 1, 1, t->pool, e);
    if (!f) return NULL;
    const tmodel *m = t->m;
    int H = m->c.hidden_size, Vc = m->c.vocab_size, V = t->full.vocab_size;
    for (int i = 0; i < m->n_tensors; i++) {
        const ttensor *a = &m->tensors[i], *b = &f->tensors[i];
        int64_t n = a->rows * (a->cols ? a->cols : 1);
        if (a->rows == Vc && (!strcmp(a->name, "model.embed_tokens.weight") || !strcmp(a->name, "lm_head.weight"))) {
            const float *src = m->params + a->off;
            float *dst = f->params + b->off;
            for (int r = 0; r < V; r++) memcpy(dst + (int64_t)r * H, src + (int64_t)(Vc - 1) * H, sizeof(float) * (size_t)H);
            for (int r = 0; r < Vc - 1; r++) memcpy(dst + (int64_t)t->c2full[r] * H, src + (int64_t)r * H, sizeof(float) * (size_t)H);
        } else {
            memcpy(f->params + b->off, m->params + a->off, sizeof(float) * (size_t)n);
        }
    }
    return f;
}

int qwen3_trainer_export(const qwen3_trainer *t, const char *dir, int f32, qwen3_err *e) {
    if (mkdir(dir, 0755) && errno != EEXIST) return qerr(e, "%s: cannot create directory (%s)", dir, strerror(errno));
    tmodel *f = expanded(t, e);
    if (!f) return -1;
    int rc = tmodel_save_hf(f, dir, !f32, t->tok_dir, e);
    if (f != t->m) tmodel_free(f);
    return rc;
}

/* state.bin: a header of fixed fields, the compact vocabulary map, then params, m1, m2 (float32). */
typedef struct {
    char magic[8];          /* "Q3TRAIN1" */
    int64_t n_params, step, pos, n_tokens;
    uint64_t seed, layout_hash;
    int32_t vocab_compact, shared, batch, seq_len, accum, pad;
} state_header;

static uint64_t layout_hash(const tmodel *m) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < m->n_tensors; i++) {
        const ttensor *t = &m->tensors[i];
        for (const char *p = t->name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ (uint64_t)t->rows) * 1099511628211ull;
        h = (h ^ (uint64_t)t->cols) * 1099511628211ull;
    }
    return h;
}

int qwen3_trainer_checkpoint(const qwen3_trainer *t, const char *dir, qwen3_err *e) {
    char sub[4096], path[4096];
    if (mkdir(dir, 0755) && errno != EEXIST) return qerr(e, "%s: cannot create directory (%s)", dir, strerror(errno));
    if (qpath_join(sub, sizeof sub, dir, "checkpoint", e)) return -1;
    if (mkdir(sub, 0755) && errno != EEXIST) return qerr(e, "%s: cannot create directory (%s)", sub, strerror(errno));
    const tmodel *m = t->m;
    state_header h = {{'Q', '3', 'T', 'R', 'A', 'I', 'N', '1'}, m->n_params, t->step, t->pos, t->n_tokens, t->o.seed,
                      layout_hash(m), m->c.vocab_size, t->shared, t->o.batch, t->o.seq_len, t->o.accum, 0};
    if (qpath_join(path, sizeof path, sub, "state.bin", e)) return -1;
    tio_file f;
    if (tio_open(&f, path, e)) return -1;
    tio_write(&f, &h, sizeof h);
    if (t->shared) tio_write(&f, t->c2full, sizeof(int32_t) * (size_t)m->c.vocab_size);
    tio_write(&f, m->params, sizeof(float) * (size_t)m->n_params);
    tio_write(&f, t->m1, sizeof(float) * (size_t)m->n_params);
    tio_write(&f, t->m2, sizeof(float) * (size_t)m->n_params);
    return tio_close(&f, e);
}

static int load_state(qwen3_trainer *t, const char *dir, qwen3_err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint/state.bin", dir);
    qfile f;
    if (qfile_map(&f, path, e)) return qerr_wrap(e, "resume");
    tmodel *m = t->m;
    int rc = -1;
    state_header h;
    size_t need = sizeof h + (t->shared ? sizeof(int32_t) * (size_t)m->c.vocab_size : 0) + 3 * sizeof(float) * (size_t)m->n_params;
    if (f.size < sizeof h) { qerr(e, "%s: too short for a training state (%zu bytes)", path, f.size); goto out; }
    memcpy(&h, f.data, sizeof h);
    if (memcmp(h.magic, "Q3TRAIN1", 8)) { qerr(e, "%s: not a qwen3 training state", path); goto out; }
    if (h.layout_hash != layout_hash(m) || h.n_params != m->n_params || h.vocab_compact != m->c.vocab_size || h.shared != t->shared) {
        qerr(e, "%s: the checkpoint is from another model or data (%lld parameters, vocabulary %d; this run has %lld, %d): resume with the flags of the original run",
             path, (long long)h.n_params, h.vocab_compact, (long long)m->n_params, m->c.vocab_size);
        goto out;
    }
    if (h.n_tokens != t->n_tokens || h.seed != t->o.seed || h.batch != t->o.batch || h.seq_len != t->o.seq_len || h.accum != t->o.accum) {
        qerr(e, "%s: the checkpoint's data stream or batch differs (seed, data file, --batch, --seq or --accum changed): resume with the flags of the original run", path);
        goto out;
    }
    if (f.size != need) { qerr(e, "%s: %zu bytes, expected %zu (truncated?)", path, f.size, need); goto out; }
    const uint8_t *p = f.data + sizeof h;
    if (t->shared) {
        if (memcmp(p, t->c2full, sizeof(int32_t) * (size_t)m->c.vocab_size)) { qerr(e, "%s: the vocabulary map differs from this run's data", path); goto out; }
        p += sizeof(int32_t) * (size_t)m->c.vocab_size;
    }
    size_t nb = sizeof(float) * (size_t)m->n_params;
    memcpy(m->params, p, nb);
    memcpy(t->m1, p + nb, nb);
    memcpy(t->m2, p + 2 * nb, nb);
    t->step = h.step;
    t->pos = h.pos;
    rc = 0;
out:
    qfile_unmap(&f);
    return rc;
}

/* ---- evaluation on held-out synthetic tasks ----------------------------------------------------- */

int qwen3_trainer_eval(qwen3_trainer *t, long n, int lo, int hi, FILE *out, FILE *log, qwen3_err *e) {
    if (!t->tok_dir) return qerr(e, "eval: needs the tokenizer (--tokenizer DIR)");
    qwen3_tokenizer *tok = qwen3_tokenizer_load(t->tok_dir, e);
    if (!tok) return -1;
    tmodel *m = t->m;
    const qwen3_config *c = &m->c;
    int L = c->num_layers, E = c->is_moe ? c->num_experts : 0, K = c->num_experts_per_tok, BT = t->o.batch * t->o.seq_len;
    double *cnt = calloc((size_t)L * (E ? E : 1), sizeof(double));
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)BT), *tgt = malloc(sizeof(int32_t) * (size_t)BT);
    int rc = -1;
    double all_loss = 0, all_tok = 0;
    if (!cnt || !ids || !tgt) { qerr(e, "out of memory"); goto out; }
    if (out) fprintf(out, "{\"families\": {");
    if (log) fprintf(log, "eval (held-out seed, levels %d-%d, %ld examples per family):\n", lo, hi, n);
    m->eval = 1;
    for (int f = 0; f < TS_FAMILIES; f++) {
        int32_t *full;
        int64_t nf;
        if (tdata_synth_family_stream(t->o.seed + 1000003, n, f, lo, hi, tok, &full, &nf, e)) goto out;
        /* ids the training data never had are the shared row (exact: those rows are identical) */
        for (int64_t i = 0; i < nf; i++) {
            int32_t id = full[i], r = -1;
            if (!t->shared) r = id < c->vocab_size ? id : -1;
            else {
                int lo2 = 0, hi2 = c->vocab_size - 2; /* c2full is increasing over the seen rows */
                while (lo2 <= hi2) {
                    int mid = (lo2 + hi2) / 2;
                    if (t->c2full[mid] == id) { r = mid; break; }
                    if (t->c2full[mid] < id) lo2 = mid + 1; else hi2 = mid - 1;
                }
                if (r < 0) r = c->vocab_size - 1;
            }
            if (r < 0) { free(full); qerr(e, "eval: token %d is outside the vocabulary", id); goto out; }
            full[i] = r;
        }
        memset(cnt, 0, sizeof(double) * (size_t)L * (E ? E : 1));
        double loss = 0, toks = 0;
        for (int64_t p0 = 0; p0 + 1 < nf; p0 += BT) {
            for (int i = 0; i < BT; i++) {
                int64_t q = p0 + i;
                ids[i] = q < nf ? full[q] : 0;
                tgt[i] = q + 1 < nf ? full[q + 1] : -1;
            }
            if (tmodel_forward(m, ids, tgt, e)) { free(full); goto out; }
            loss += m->loss * m->n_valid;
            toks += m->n_valid;
            for (int l = 0; l < L && E; l++) {
                if (!m->a.l[l].topi) continue;
                for (int i = 0; i < BT; i++)
                    if (tgt[i] >= 0)
                        for (int j = 0; j < K; j++) cnt[(int64_t)l * E + m->a.l[l].topi[(int64_t)i * K + j]] += 1;
            }
        }
        free(full);
        all_loss += loss;
        all_tok += toks;
        if (out) fprintf(out, "%s\"%s\": {\"loss\": %.5f, \"tokens\": %.0f, \"layers\": [", f ? ", " : "", tsynth_family_name((tsynth_family)f), loss / toks, toks);
        if (log) fprintf(log, "  %-7s loss %.4f (%.0f tokens)", tsynth_family_name((tsynth_family)f), loss / toks, toks);
        int first = 1;
        for (int l = 0; l < L && E; l++) {
            if (!m->a.l[l].topi) continue;
            const double *cl = cnt + (int64_t)l * E;
            int best = 0;
            for (int x = 1; x < E; x++) if (cl[x] > cl[best]) best = x;
            double frac = cl[best] / toks, maxmean = cl[best] / (toks * K / E);
            if (out) fprintf(out, "%s{\"layer\": %d, \"top_expert\": %d, \"top_frac\": %.4f, \"load_max_mean\": %.3f}", first ? "" : ", ", l, best, frac, maxmean);
            if (log) fprintf(log, "  L%d top expert %d: %.3f of tokens, load max/mean %.2f", l, best, frac, maxmean);
            first = 0;
        }
        if (out) fprintf(out, "]}");
        if (log) fprintf(log, "\n");
    }
    if (out) fprintf(out, "}, \"loss\": %.5f}\n", all_loss / all_tok);
    if (log) fprintf(log, "  overall loss %.4f\n", all_loss / all_tok);
    rc = 0;
out:
    m->eval = 0;
    free(cnt); free(ids); free(tgt);
    qwen3_tokenizer_free(tok);
    return rc;
}

/* ---- internals for the post-training modes (train/rl.h) ----------------------------------------- */

tmodel *qtrainer_model(qwen3_trainer *t) { return t->m; }
const qwen3_config *qtrainer_full_config(const qwen3_trainer *t) { return &t->full; }
const char *qtrainer_tokenizer_dir(const qwen3_trainer *t) { return t->tok_dir; }

const int32_t *qtrainer_cols(const qwen3_trainer *t, int *n) {
    *n = t->m->c.vocab_size;
    return t->shared ? t->c2full : NULL;
}

int qtrainer_col(const qwen3_trainer *t, int32_t id) {
    if (id < 0 || id >= t->full.vocab_size) return -1;
    if (!t->shared) return id;
    int lo = 0, hi = t->m->c.vocab_size - 2; /* c2full is increasing over the kept columns */
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (t->c2full[mid] == id) return mid;
        if (t->c2full[mid] < id) lo = mid + 1; else hi = mid - 1;
    }
    return t->m->c.vocab_size - 1;
}

int qtrainer_update(qwen3_trainer *t, double loss, double t0, qwen3_train_stats *st, qwen3_err *e) {
    (void)e;
    return update(t, loss, t->m->lbl_loss, t0, st);
}

int qtrainer_rl_vocab(const qwen3_trainer *t, int n_known, rl_vocab *v, qwen3_err *e) {
    int V = t->full.vocab_size;
    if (n_known <= 0 || n_known > V) n_known = V;
    if (!t->shared) {
        *v = (rl_vocab){.nv = n_known, .shared = -1, .mult = 0, .n_head = 1};
        return 0;
    }
    int Vc = t->m->c.vocab_size;
    for (int j = 0; j < Vc - 1; j++)
        if (t->c2full[j] >= n_known)
            return qerr(e, "train: token %d is a padding id (the tokenizer knows %d ids) but the head keeps it", t->c2full[j], n_known);
    /* every padding id is among the tied rows (the data never has one) */
    *v = (rl_vocab){.nv = Vc, .shared = Vc - 1, .mult = t->m->n_shared - (V - n_known), .n_head = t->m->n_shared};
    return 0;
}

int qtrainer_next_micro(qwen3_trainer *t, const int32_t **ids, const int32_t **tgt) {
    next_micro(t);
    *ids = t->ids;
    if (tgt) *tgt = t->tgt;
    return 0;
}

int qtrainer_batch(const qwen3_trainer *t, int *B, int *T, int *accum) {
    *B = t->o.batch;
    *T = t->o.seq_len;
    if (accum) *accum = t->o.accum;
    return 0;
}
