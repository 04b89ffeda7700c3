/* weights.c - find every tensor of a Qwen3 / Qwen3-MoE checkpoint in its safetensors file(s), check
 * presence, shape and dtype against config.json before anything is computed, and build typed views
 * (kmat) into the mappings. Norm vectors are small and read in float32 copies.
 *
 * Files: model.safetensors, or the shards listed in model.safetensors.index.json's weight_map. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "model/model.h"

/* ---- name -> tensor hash (open addressing; tens of thousands of expert tensors in real MoE files) */
typedef struct { st_tensor **slots; size_t cap; const char *dir; } tmap;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int tmap_build(tmap *t, st_file *files, int n_files, qwen3_err *e) {
    size_t n = 0;
    for (int i = 0; i < n_files; i++) n += (size_t)files[i].n_tensors;
    t->cap = 16;
    while (t->cap < 2 * n) t->cap *= 2;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (!t->slots) return qerr(e, "out of memory");
    for (int i = 0; i < n_files; i++)
        for (int j = 0; j < files[i].n_tensors; j++) {
            st_tensor *x = &files[i].tensors[j];
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

static st_tensor *tmap_get(const tmap *t, const char *name) {
    size_t k = hash_str(name) & (t->cap - 1);
    while (t->slots[k]) {
        if (!strcmp(t->slots[k]->name, name)) return t->slots[k];
        k = (k + 1) & (t->cap - 1);
    }
    return NULL;
}

/* ---- opening the files */

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
        if (st_open(&m->files[i], path, e)) { free(names); goto out; }
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
    if (qpath_join(path, sizeof path, m->dir, "model.safetensors.index.json", e)) return -1;
    if (qfile_exists(path)) return open_index(m, path, e);
    if (qpath_join(path, sizeof path, m->dir, "model.safetensors", e)) return -1;
    if (!qfile_exists(path))
        return qerr(e, "%s: no model.safetensors or model.safetensors.index.json (is this a Hugging Face model directory?)", m->dir);
    m->files = calloc(1, sizeof *m->files);
    if (!m->files) return qerr(e, "out of memory");
    if (st_open(&m->files[0], path, e)) return -1;
    m->n_files = 1;
    return 0;
}

/* ---- typed views */

static int float_type(const st_tensor *t, qwen3_dtype *out) {
    switch (t->dtype) {
    case ST_F32: *out = QWEN3_F32; return 0;
    case ST_F16: *out = QWEN3_F16; return 0;
    case ST_BF16: *out = QWEN3_BF16; return 0;
    default: return -1;
    }
}

/* Matrices may also be block-quantized (files written by `qwen3 quantize`). */
static int matrix_type(const st_tensor *t, qwen3_dtype *out) {
    if (t->dtype == ST_Q8_0) { *out = QWEN3_Q8_0; return 0; }
    if (t->dtype == ST_Q4) { *out = QWEN3_Q4; return 0; }
    return float_type(t, out);
}

static int get_mat(const tmap *tm, const char *name, int64_t rows, int64_t cols, kmat *out, qwen3_err *e) {
    st_tensor *t = tmap_get(tm, name);
    if (!t)
        return qerr(e, "%s: tensor '%s' is missing from the safetensors files (config.json implies shape [%lld, %lld])",
                    tm->dir, name, (long long)rows, (long long)cols);
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        char got[96] = "[";
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        strncat(got, "]", sizeof got - strlen(got) - 1);
        return qerr(e, "%s: tensor '%s' has shape %s; config.json implies [%lld, %lld]", t->file, name, got,
                    (long long)rows, (long long)cols);
    }
    qwen3_dtype dt;
    if (matrix_type(t, &dt))
        return qerr(e, "%s: tensor '%s' has dtype %s; supported: BF16, F16, F32, Q8_0, Q4", t->file, name, t->dtype_name);
    out->type = dt;
    out->data = t->data;
    out->rows = rows;
    out->cols = cols;
    out->row_bytes = k_row_bytes(dt, cols);
    return 0;
}

static float *get_vec(const tmap *tm, const char *name, int64_t n, qwen3_err *e) {
    st_tensor *t = tmap_get(tm, name);
    if (!t) {
        qerr(e, "%s: tensor '%s' is missing from the safetensors files (config.json implies shape [%lld])", tm->dir, name,
             (long long)n);
        return NULL;
    }
    qwen3_dtype dt;
    if (t->ndim != 1 || t->shape[0] != n) {
        qerr(e, "%s: tensor '%s' must have shape [%lld]", t->file, name, (long long)n);
        return NULL;
    }
    if (float_type(t, &dt)) { qerr(e, "%s: tensor '%s' has dtype %s; supported: BF16, F16, F32", t->file, name, t->dtype_name); return NULL; }
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) { qerr(e, "out of memory"); return NULL; }
    kmat k = {dt, t->data, 1, n, k_row_bytes(dt, n)};
    k_row_to_float(&k, 0, v);
    return v;
}

int model_load_weights(qwen3_model *m, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    if (open_files(m, e)) return -1;
    tmap tm = {0};
    tm.dir = m->dir;
    int rc = -1;
    if (tmap_build(&tm, m->files, m->n_files, e)) goto out;
    const int64_t H = c->hidden_size, D = c->head_dim, Q = (int64_t)c->num_heads * D, KV = (int64_t)c->num_kv_heads * D;
    if (get_mat(&tm, "model.embed_tokens.weight", c->vocab_size, H, &m->embed, e)) goto out;
    /* transformers ties lm_head to the embedding when tie_word_embeddings is set, whatever is stored */
    if (c->tie_word_embeddings) m->lm_head = m->embed;
    else if (get_mat(&tm, "lm_head.weight", c->vocab_size, H, &m->lm_head, e)) goto out;
    if (!(m->final_norm = get_vec(&tm, "model.norm.weight", H, e))) goto out;
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) { qerr(e, "out of memory"); goto out; }
    char name[256];
#define NAME(...) (snprintf(name, sizeof name, __VA_ARGS__), name)
    for (int l = 0; l < c->num_layers; l++) {
        layer_weights *L = &m->layers[l];
        const char *p = "model.layers";
        if (!(L->attn_norm = get_vec(&tm, NAME("%s.%d.input_layernorm.weight", p, l), H, e))) goto out;
        if (!(L->ffn_norm = get_vec(&tm, NAME("%s.%d.post_attention_layernorm.weight", p, l), H, e))) goto out;
        if (!(L->q_norm = get_vec(&tm, NAME("%s.%d.self_attn.q_norm.weight", p, l), D, e))) goto out;
        if (!(L->k_norm = get_vec(&tm, NAME("%s.%d.self_attn.k_norm.weight", p, l), D, e))) goto out;
        if (get_mat(&tm, NAME("%s.%d.self_attn.q_proj.weight", p, l), Q, H, &L->wq, e)) goto out;
        if (get_mat(&tm, NAME("%s.%d.self_attn.k_proj.weight", p, l), KV, H, &L->wk, e)) goto out;
        if (get_mat(&tm, NAME("%s.%d.self_attn.v_proj.weight", p, l), KV, H, &L->wv, e)) goto out;
        if (get_mat(&tm, NAME("%s.%d.self_attn.o_proj.weight", p, l), H, Q, &L->wo, e)) goto out;
        L->is_moe = c->is_moe && c->layer_is_moe[l];
        if (!L->is_moe) {
            int64_t I = c->intermediate_size;
            if (get_mat(&tm, NAME("%s.%d.mlp.gate_proj.weight", p, l), I, H, &L->gate, e)) goto out;
            if (get_mat(&tm, NAME("%s.%d.mlp.up_proj.weight", p, l), I, H, &L->up, e)) goto out;
            if (get_mat(&tm, NAME("%s.%d.mlp.down_proj.weight", p, l), H, I, &L->down, e)) goto out;
            continue;
        }
        int64_t E = c->num_experts, I = c->moe_intermediate_size;
        if (get_mat(&tm, NAME("%s.%d.mlp.gate.weight", p, l), E, H, &L->router, e)) goto out;
        L->egate = calloc((size_t)E, sizeof(kmat));
        L->eup = calloc((size_t)E, sizeof(kmat));
        L->edown = calloc((size_t)E, sizeof(kmat));
        if (!L->egate || !L->eup || !L->edown) { qerr(e, "out of memory"); goto out; }
        for (int64_t x = 0; x < E; x++) {
            if (get_mat(&tm, NAME("%s.%d.mlp.experts.%lld.gate_proj.weight", p, l, (long long)x), I, H, &L->egate[x], e)) goto out;
            if (get_mat(&tm, NAME("%s.%d.mlp.experts.%lld.up_proj.weight", p, l, (long long)x), I, H, &L->eup[x], e)) goto out;
            if (get_mat(&tm, NAME("%s.%d.mlp.experts.%lld.down_proj.weight", p, l, (long long)x), H, I, &L->edown[x], e)) goto out;
        }
    }
#undef NAME
    rc = 0;
out:
    free(tm.slots);
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
    m->layers = NULL;
    m->files = NULL;
    m->n_files = 0;
}
