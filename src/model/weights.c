/* weights.c - find every tensor of a Qwen3 / Qwen3-MoE checkpoint in its safetensors or GGUF file(s),
 * check presence, shape and dtype against the config before anything is computed, and build typed
 * views (kmat) into the mappings. Norm vectors are small and read in float32 copies.
 *
 * Files: model.safetensors, or the shards listed in model.safetensors.index.json's weight_map; or a
 * GGUF file (every file of a split set). Both kinds of tensor are first described the same way
 * (wt: name, engine type, shape in PyTorch's order [rows, cols], bytes), then looked up by the
 * format's own names (HF's "model.layers.0.self_attn.q_proj.weight", GGUF's "blk.0.attn_q.weight").
 * GGUF stores a MoE layer's experts as one 3-D tensor [experts, rows, cols]; each expert's matrix
 * is a slice of it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "format/mdir.h"
#include "model/model.h"

/* One tensor of either format. dt is the engine's type, or -1 when the engine has none for it. */
typedef struct wt {
    const char *name;
    int dt;
    const char *dtype_name; /* as the file names it */
    int ndim;
    int64_t shape[4]; /* PyTorch's order: [rows, cols] for a matrix */
    const uint8_t *data;
    uint64_t nbytes;
    const char *file;
} wt;

/* ---- name -> tensor hash (open addressing; tens of thousands of expert tensors in real MoE files) */
typedef struct {
    wt **slots;
    size_t cap;
    const char *dir;
    const char *what; /* "safetensors files" or "GGUF file" */
    const char *meta; /* where the expected shapes come from: "config.json" or "the GGUF metadata" */
} tmap;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int tmap_build(tmap *t, wt *all, size_t n, qwen3_err *e) {
    t->cap = 16;
    while (t->cap < 2 * n) t->cap *= 2;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (!t->slots) return qerr(e, "out of memory");
    for (size_t j = 0; j < n; j++) {
            wt *x = &all[j];
            size_t k = hash_str(x->name) & (t->cap - 1);
            while (t->slots[k]) {
                if (!strcmp(t->slots[k]->name, x->name))
                    return qerr(e, "tensor '%s' appears twice (in %s and %s)", x->name, t->slots[k]->file, x->file);
                k = (k + 1) & (t->cap - 1);
            }
            t->slots[k] = x;
        }
    return 0;
}

static wt *tmap_get(const tmap *t, const char *name) {
    size_t k = hash_str(name) & (t->cap - 1);
    while (t->slots[k]) {
        if (!strcmp(t->slots[k]->name, name)) return t->slots[k];
        k = (k + 1) & (t->cap - 1);
    }
    return NULL;
}

/* ---- opening the files */

/* A weight file that mmap refused on a rank of an MPI job (st_open -2, e says the file's size and
 * the limit): adds what this rank's share of it is, from the file's header read without mapping it
 * (the tensors' names and byte ranges), so the message says how much memory the share needed. */
static void share_note(const qwen3_model *m, const char *path, qwen3_err *e) {
    FILE *f = fopen(path, "rb");
    unsigned char h8[8];
    char *text = NULL;
    json_t *root = NULL;
    if (!f || fread(h8, 1, 8, f) != 8) goto out;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | h8[i];
    if (hlen > ST_MAX_HEADER || !(text = malloc((size_t)hlen)) || fread(text, 1, (size_t)hlen, f) != hlen) goto out;
    if (!(root = json_loadb(text, (size_t)hlen, 0, NULL)) || !json_is_object(root)) goto out;
    double share = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        json_t *off = json_object_get(v, "data_offsets");
        json_t *b = json_array_get(off, 0), *en = json_array_get(off, 1);
        if (json_is_integer(b) && json_is_integer(en))
            share += model_share_bytes(m, key, (double)(json_integer_value(en) - json_integer_value(b)));
    }
    char what[96];
    if (m->tp_size > 1)
        snprintf(what, sizeof what, "query heads %d-%d, MLP columns %d-%d%s", m->sh.h0, m->sh.h0 + m->sh.nh - 1, m->sh.ff0,
                 m->sh.ff0 + m->sh.ff - 1, m->c.is_moe && m->mpi_mode == QWEN3_MPI_EP ? ", its experts" : "");
    else snprintf(what, sizeof what, "layers %d-%d%s", m->l0, m->l1 - 1, m->pp_rank == 0 ? " + embedding and lm_head" : "");
    size_t k = strlen(e->msg);
    snprintf(e->msg + k, sizeof e->msg - k,
             "; this rank's share of the file is %.0f bytes (%.1f GiB: %s), but each rank maps every weight file whole",
             share, share / 1073741824.0, what);
out:
    json_decref(root);
    free(text);
    if (f) fclose(f);
}

static int open_index(qwen3_model *m, const char *index_path, qwen3_err *e) {
    size_t len;
    char *text = qfile_read(index_path, 64u << 20, &len, e);
    if (!text) return -1;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    free(text);
    if (!root) return qerr(e, "%s: not valid JSON: %s (line %d)", index_path, je.text, je.line);
    int rc = -1;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) { qerr(e, "%s: field \"weight_map\" is missing or not an object", index_path); goto out; }
    /* unique shard names, in first-seen order */
    size_t n = json_object_size(wm);
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) { qerr(e, "out of memory"); goto out; }
    int nn = 0;
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v)) { qerr(e, "%s: weight_map[\"%s\"] is not a file name", index_path, key); free(names); goto out; }
        const char *f = json_string_value(v);
        if (strchr(f, '/') || !strcmp(f, "..")) { qerr(e, "%s: weight_map[\"%s\"] = \"%s\" is not a plain file name", index_path, key, f); free(names); goto out; }
        int dup = 0;
        for (int i = 0; i < nn && !dup; i++) dup = !strcmp(names[i], f);
        if (!dup) names[nn++] = f;
    }
    m->files = calloc((size_t)(nn ? nn : 1), sizeof *m->files);
    if (!m->files) { free(names); qerr(e, "out of memory"); goto out; }
    for (int i = 0; i < nn; i++) {
        char path[4096];
        if (qpath_join(path, sizeof path, m->dir, names[i], e)) { free(names); goto out; }
        if (!qfile_exists(path)) {
            qerr(e, "%s: shard \"%s\" named in weight_map is missing from %s", index_path, names[i], m->dir);
            free(names);
            goto out;
        }
        int r = st_open(&m->files[i], path, e);
        if (r == -2 && m->pp_size > 1) share_note(m, path, e);
        if (r) { free(names); goto out; }
        m->n_files++;
    }
    free(names);
    /* every tensor the index names must be in the shard it names */
    json_object_foreach(wm, key, v) {
        const char *f = json_string_value(v);
        int found = 0;
        for (int i = 0; i < m->n_files && !found; i++) {
            const char *base = strrchr(m->files[i].map.path, '/');
            base = base ? base + 1 : m->files[i].map.path;
            if (strcmp(base, f)) continue;
            for (int j = 0; j < m->files[i].n_tensors && !found; j++) found = !strcmp(m->files[i].tensors[j].name, key);
        }
        if (!found) { qerr(e, "%s: tensor '%s' is mapped to %s, which does not contain it", index_path, key, f); goto out; }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

static int open_files(qwen3_model *m, qwen3_err *e) {
    char path[4096];
    mdir md; /* the index wins over model.safetensors: format/mdir.c decides */
    if (mdir_open(m->dir, &md, e)) return -1;
    if (md.weights == MDIR_W_INDEX) return mdir_path(&md, MDIR_INDEX, path, sizeof path, e) ? -1 : open_index(m, path, e);
    if (md.weights != MDIR_W_SINGLE)
        return qerr(e, "%s: no model.safetensors or model.safetensors.index.json (is this a Hugging Face model directory?)", m->dir);
    if (mdir_path(&md, MDIR_WEIGHTS, path, sizeof path, e)) return -1;
    m->files = calloc(1, sizeof *m->files);
    if (!m->files) return qerr(e, "out of memory");
    int r = st_open(&m->files[0], path, e);
    if (r == -2 && m->pp_size > 1) share_note(m, path, e);
    if (r) return -1;
    m->n_files = 1;
    return 0;
}

/* ---- the tensors of either format, described alike */

static int st_engine_type(st_dtype d) {
    switch (d) {
    case ST_F32: return QWEN3_F32;
    case ST_F16: return QWEN3_F16;
    case ST_BF16: return QWEN3_BF16;
    case ST_Q8_0: return QWEN3_Q8_0; /* files written by `qwen3 quantize` */
    case ST_Q4: return QWEN3_Q4;
    case ST_Q4_0: return QWEN3_Q4_0;
    case ST_Q4_1: return QWEN3_Q4_1;
    case ST_Q5_0: return QWEN3_Q5_0;
    case ST_Q5_1: return QWEN3_Q5_1;
    case ST_IQ4_NL: return QWEN3_IQ4_NL;
    case ST_Q2_K: return QWEN3_Q2_K;
    case ST_Q3_K: return QWEN3_Q3_K;
    case ST_Q4_K: return QWEN3_Q4_K;
    case ST_Q5_K: return QWEN3_Q5_K;
    case ST_Q6_K: return QWEN3_Q6_K;
    case ST_IQ4_XS: return QWEN3_IQ4_XS;
    default: return -1;
    }
}

/* ggml type id -> engine type: the one table through which GGUF weights reach the kernels. Block
 * types are used in place, so a row here promises the engine's layout is ggml's byte for byte
 * (kernels/quant.h, kernels/quant_ggml.h assert the block sizes). Other ggml types (IQ2_*, IQ3_*,
 * IQ1_*, TQ*, MXFP4, Q8_1, Q8_K, integers, F64) are refused by name. */
static const struct { uint32_t ggml; qwen3_dtype dt; } ggml_types[] = {
    {GGML_F32, QWEN3_F32}, {GGML_F16, QWEN3_F16}, {GGML_BF16, QWEN3_BF16}, {GGML_Q8_0, QWEN3_Q8_0},
    {2, QWEN3_Q4_0}, {3, QWEN3_Q4_1}, {6, QWEN3_Q5_0}, {7, QWEN3_Q5_1}, {10, QWEN3_Q2_K}, {11, QWEN3_Q3_K},
    {12, QWEN3_Q4_K}, {13, QWEN3_Q5_K}, {14, QWEN3_Q6_K}, {20, QWEN3_IQ4_NL}, {23, QWEN3_IQ4_XS},
};

static int gguf_engine_type(uint32_t t) {
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].ggml == t) return (int)ggml_types[i].dt;
    return -1;
}

static wt *describe_st(const st_file *files, int n_files, size_t *n_out, qwen3_err *e) {
    size_t n = 0;
    for (int i = 0; i < n_files; i++) n += (size_t)files[i].n_tensors;
    wt *all = calloc(n ? n : 1, sizeof *all);
    if (!all) { qerr(e, "out of memory"); return NULL; }
    size_t k = 0;
    for (int i = 0; i < n_files; i++)
        for (int j = 0; j < files[i].n_tensors; j++) {
            const st_tensor *t = &files[i].tensors[j];
            wt *w = &all[k++];
            w->name = t->name;
            w->dt = st_engine_type(t->dtype);
            w->dtype_name = t->dtype_name;
            w->ndim = t->ndim;
            for (int d = 0; d < t->ndim; d++) w->shape[d] = t->shape[d];
            w->data = t->data;
            w->nbytes = t->nbytes;
            w->file = t->file;
        }
    *n_out = n;
    return all;
}

static wt *describe_gguf(const gguf_file *files, int n_files, size_t *n_out, qwen3_err *e) {
    size_t n = 0;
    for (int i = 0; i < n_files; i++) n += (size_t)files[i].n_tensors;
    wt *all = calloc(n ? n : 1, sizeof *all);
    if (!all) { qerr(e, "out of memory"); return NULL; }
    size_t k = 0;
    for (int i = 0; i < n_files; i++)
        for (uint64_t j = 0; j < files[i].n_tensors; j++) {
            const gguf_tensor *t = &files[i].tensors[j];
            wt *w = &all[k++];
            w->name = t->name;
            w->dt = gguf_engine_type(t->type);
            w->dtype_name = gguf_type_name(t->type);
            w->ndim = t->ndim;
            for (int d = 0; d < t->ndim; d++) w->shape[d] = t->ne[t->ndim - 1 - d]; /* ne[0] is the row length */
            w->data = t->data;
            w->nbytes = t->nbytes;
            w->file = files[i].path;
        }
    *n_out = n;
    return all;
}

/* ---- typed views */

static int is_float(int dt) { return dt == QWEN3_F32 || dt == QWEN3_F16 || dt == QWEN3_BF16; }

static void shape_str(const wt *t, char *got, size_t n) {
    snprintf(got, n, "[");
    for (int i = 0; i < t->ndim; i++) snprintf(got + strlen(got), n - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    snprintf(got + strlen(got), n - strlen(got), "]");
}

static int check_matrix_type(const wt *t, qwen3_err *e) {
    if (t->dt >= 0) return 0;
    return qerr(e, "%s: tensor '%s' has type %s, which this engine cannot compute with yet; supported: F32, F16, BF16, "
                "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS (and our own Q4)", t->file, t->name, t->dtype_name);
}

static int get_mat(const tmap *tm, const char *name, int64_t rows, int64_t cols, kmat *out, qwen3_err *e) {
    wt *t = tmap_get(tm, name);
    if (!t)
        return qerr(e, "%s: tensor '%s' is missing from the %s (%s implies shape [%lld, %lld])", tm->dir, name, tm->what,
                    tm->meta, (long long)rows, (long long)cols);
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        char got[128];
        shape_str(t, got, sizeof got);
        return qerr(e, "%s: tensor '%s' has shape %s; %s implies [%lld, %lld]", t->file, name, got, tm->meta,
                    (long long)rows, (long long)cols);
    }
    if (check_matrix_type(t, e)) return -1;
    qwen3_dtype dt = (qwen3_dtype)t->dt;
    out->type = dt;
    out->data = t->data;
    out->rows = rows;
    out->cols = cols;
    out->row_bytes = k_row_bytes(dt, cols);
    return 0;
}

/* E matrices [rows, cols] stacked in one 3-D tensor [E, rows, cols] (GGUF's experts). */
static int get_experts(const tmap *tm, const char *name, int64_t E, int64_t rows, int64_t cols, kmat *out, qwen3_err *e) {
    wt *t = tmap_get(tm, name);
    if (!t)
        return qerr(e, "%s: tensor '%s' is missing from the %s (%s implies shape [%lld, %lld, %lld])", tm->dir, name, tm->what,
                    tm->meta, (long long)E, (long long)rows, (long long)cols);
    if (t->ndim != 3 || t->shape[0] != E || t->shape[1] != rows || t->shape[2] != cols) {
        char got[128];
        shape_str(t, got, sizeof got);
        return qerr(e, "%s: tensor '%s' has shape %s; %s implies [%lld, %lld, %lld]", t->file, name, got, tm->meta,
                    (long long)E, (long long)rows, (long long)cols);
    }
    if (check_matrix_type(t, e)) return -1;
    qwen3_dtype dt = (qwen3_dtype)t->dt;
    size_t rb = k_row_bytes(dt, cols);
    for (int64_t x = 0; x < E; x++)
        out[x] = (kmat){dt, t->data + (size_t)x * (size_t)rows * rb, rows, cols, rb, 0};
    return 0;
}

static float *get_vec(const tmap *tm, const char *name, int64_t n, qwen3_err *e) {
    wt *t = tmap_get(tm, name);
    if (!t) {
        qerr(e, "%s: tensor '%s' is missing from the %s (%s implies shape [%lld])", tm->dir, name, tm->what, tm->meta,
             (long long)n);
        return NULL;
    }
    if (t->ndim != 1 || t->shape[0] != n) {
        qerr(e, "%s: tensor '%s' must have shape [%lld]", t->file, name, (long long)n);
        return NULL;
    }
    if (!is_float(t->dt)) { qerr(e, "%s: tensor '%s' has dtype %s; supported: BF16, F16, F32", t->file, name, t->dtype_name); return NULL; }
    qwen3_dtype dt = (qwen3_dtype)t->dt;
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) { qerr(e, "out of memory"); return NULL; }
    kmat k = {dt, t->data, 1, n, k_row_bytes(dt, n), 0};
    k_row_to_float(&k, 0, v);
    return v;
}

/* Tensor names of the two formats, by role. */
enum { N_EMBED, N_LM_HEAD, N_NORM, N_ATTN_NORM, N_FFN_NORM, N_Q_NORM, N_K_NORM, N_Q, N_K, N_V, N_O, N_GATE, N_UP, N_DOWN,
       N_ROUTER, N_EGATE, N_EUP, N_EDOWN, N_COUNT };
static const char *const hf_names[N_COUNT] = {
    "model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
    "model.layers.%d.input_layernorm.weight", "model.layers.%d.post_attention_layernorm.weight",
    "model.layers.%d.self_attn.q_norm.weight", "model.layers.%d.self_attn.k_norm.weight",
    "model.layers.%d.self_attn.q_proj.weight", "model.layers.%d.self_attn.k_proj.weight",
    "model.layers.%d.self_attn.v_proj.weight", "model.layers.%d.self_attn.o_proj.weight",
    "model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight",
    "model.layers.%d.mlp.gate.weight", "model.layers.%d.mlp.experts.%lld.gate_proj.weight",
    "model.layers.%d.mlp.experts.%lld.up_proj.weight", "model.layers.%d.mlp.experts.%lld.down_proj.weight"};
static const char *const gguf_names[N_COUNT] = {
    "token_embd.weight", "output.weight", "output_norm.weight", "blk.%d.attn_norm.weight", "blk.%d.ffn_norm.weight",
    "blk.%d.attn_q_norm.weight", "blk.%d.attn_k_norm.weight", "blk.%d.attn_q.weight", "blk.%d.attn_k.weight",
    "blk.%d.attn_v.weight", "blk.%d.attn_output.weight", "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight",
    "blk.%d.ffn_down.weight", "blk.%d.ffn_gate_inp.weight", "blk.%d.ffn_gate_exps.weight", "blk.%d.ffn_up_exps.weight",
    "blk.%d.ffn_down_exps.weight"};

int model_load_weights(qwen3_model *m, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    int gg = m->n_gfiles > 0;
    if (!gg && open_files(m, e)) return -1;
    tmap tm = {0};
    tm.dir = m->dir;
    tm.what = gg ? "GGUF file" : "safetensors files";
    tm.meta = gg ? "the GGUF metadata" : "config.json";
    int rc = -1;
    size_t n_all = 0;
    wt *all = gg ? describe_gguf(m->gfiles, m->n_gfiles, &n_all, e) : describe_st(m->files, m->n_files, &n_all, e);
    if (!all) return -1;
    if (tmap_build(&tm, all, n_all, e)) goto out;
    const char *const *nm = gg ? gguf_names : hf_names;
    const int64_t H = c->hidden_size, D = c->head_dim, Q = (int64_t)c->num_heads * D, KV = (int64_t)c->num_kv_heads * D;
    if (get_mat(&tm, nm[N_EMBED], c->vocab_size, H, &m->embed, e)) goto out;
    /* transformers ties lm_head to the embedding when tie_word_embeddings is set, whatever is stored */
    if (c->tie_word_embeddings) m->lm_head = m->embed;
    else if (get_mat(&tm, nm[N_LM_HEAD], c->vocab_size, H, &m->lm_head, e)) goto out;
    if (!(m->final_norm = get_vec(&tm, nm[N_NORM], H, e))) goto out;
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) { qerr(e, "out of memory"); goto out; }
    char name[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#define NAME(role) (snprintf(name, sizeof name, nm[role], l), name)
#define XNAME(role, x) (snprintf(name, sizeof name, nm[role], l, (long long)(x)), name)
    for (int l = 0; l < c->num_layers; l++) {
        layer_weights *L = &m->layers[l];
        if (!(L->attn_norm = get_vec(&tm, NAME(N_ATTN_NORM), H, e))) goto out;
        if (!(L->ffn_norm = get_vec(&tm, NAME(N_FFN_NORM), H, e))) goto out;
        if (!(L->q_norm = get_vec(&tm, NAME(N_Q_NORM), D, e))) goto out;
        if (!(L->k_norm = get_vec(&tm, NAME(N_K_NORM), D, e))) goto out;
        if (get_mat(&tm, NAME(N_Q), Q, H, &L->wq, e)) goto out;
        if (get_mat(&tm, NAME(N_K), KV, H, &L->wk, e)) goto out;
        if (get_mat(&tm, NAME(N_V), KV, H, &L->wv, e)) goto out;
        if (get_mat(&tm, NAME(N_O), H, Q, &L->wo, e)) goto out;
        L->is_moe = c->is_moe && c->layer_is_moe[l];
        if (!L->is_moe) {
            int64_t I = c->intermediate_size;
            if (get_mat(&tm, NAME(N_GATE), I, H, &L->gate, e)) goto out;
            if (get_mat(&tm, NAME(N_UP), I, H, &L->up, e)) goto out;
            if (get_mat(&tm, NAME(N_DOWN), H, I, &L->down, e)) goto out;
            continue;
        }
        int64_t E = c->num_experts, I = c->moe_intermediate_size;
        if (get_mat(&tm, NAME(N_ROUTER), E, H, &L->router, e)) goto out;
        L->egate = calloc((size_t)E, sizeof(kmat));
        L->eup = calloc((size_t)E, sizeof(kmat));
        L->edown = calloc((size_t)E, sizeof(kmat));
        if (!L->egate || !L->eup || !L->edown) { qerr(e, "out of memory"); goto out; }
        if (gg) {
            if (get_experts(&tm, NAME(N_EGATE), E, I, H, L->egate, e)) goto out;
            if (get_experts(&tm, NAME(N_EUP), E, I, H, L->eup, e)) goto out;
            if (get_experts(&tm, NAME(N_EDOWN), E, H, I, L->edown, e)) goto out;
            continue;
        }
        for (int64_t x = 0; x < E; x++) {
            if (get_mat(&tm, XNAME(N_EGATE, x), I, H, &L->egate[x], e)) goto out;
            if (get_mat(&tm, XNAME(N_EUP, x), I, H, &L->eup[x], e)) goto out;
            if (get_mat(&tm, XNAME(N_EDOWN, x), H, I, &L->edown[x], e)) goto out;
        }
    }
#undef NAME
#undef XNAME
#pragma GCC diagnostic pop
    rc = 0;
out:
    free(tm.slots);
    free(all);
    return rc;
}

void model_free_weights(qwen3_model *m) {
    if (m->layers) {
        for (int l = 0; l < m->c.num_layers; l++) {
            layer_weights *L = &m->layers[l];
            free(L->attn_norm);
            free(L->ffn_norm);
            free(L->q_norm);
            free(L->k_norm);
            free(L->egate);
            free(L->eup);
            free(L->edown);
        }
        free(m->layers);
    }
    free(m->final_norm);
    for (int i = 0; i < m->n_files; i++) st_close(&m->files[i]);
    free(m->files);
    for (int i = 0; i < m->n_gfiles; i++) gguf_close(&m->gfiles[i]);
    free(m->gfiles);
    m->gfiles = NULL;
    m->n_gfiles = 0;
    m->layers = NULL;
    m->files = NULL;
    m->n_files = 0;
}
