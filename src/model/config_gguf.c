/* config_gguf.c - a GGUF file's metadata -> qwen3_config (the keys llama.cpp's convert_hf_to_gguf.py
 * writes for Qwen3ForCausalLM / Qwen3MoeForCausalLM, architectures "qwen3" / "qwen3moe").
 *
 * What the metadata leaves out is read from the tensors, as llama.cpp does: the vocabulary size
 * from token_embd's rows, tied embeddings from the absence of output.weight, and which layers of a
 * MoE model are sparse from the presence of blk.N.ffn_gate_inp (HF's decoder_sparse_step and
 * mlp_only_layers have no keys). Expert weights are normalised (norm_topk_prob) unless
 * {arch}.expert_weights_norm says false: every Qwen3 MoE release sets norm_topk_prob, and llama.cpp's
 * qwen3moe graph always normalises. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/config.h"

/* Reads an integer key {arch}.SUFFIX into *out; def < 0 means required. */
static int key_int(const gguf_file *g, const char *arch, const char *suffix, int64_t def, int64_t lo, int64_t hi, int *out,
                   qwen3_err *e) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    int r = gguf_get_int(g, key, lo, hi, &v, e);
    if (r < 0) return -1;
    if (r == 0) {
        if (def < 0) return qerr(e, "%s: metadata key '%s' is missing", g->path, key);
        v = def;
    }
    *out = (int)v;
    return 0;
}

static int key_float(const gguf_file *g, const char *arch, const char *suffix, double def, double lo, double hi, double *out,
                     qwen3_err *e) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    int r = gguf_get_float(g, key, &v, e);
    if (r < 0) return -1;
    if (r == 0) {
        if (isnan(def)) return qerr(e, "%s: metadata key '%s' is missing", g->path, key);
        v = def;
    }
    if (!(v >= lo && v <= hi)) return qerr(e, "%s: metadata key '%s' is %g; expected %g..%g", g->path, key, v, lo, hi);
    *out = v;
    return 0;
}

/* A tensor in any file of a split set. */
static const gguf_tensor *find_any(const gguf_file *files, int n, const char *name) {
    for (int i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_find_tensor(&files[i], name);
        if (t) return t;
    }
    return NULL;
}

static int config_gguf(const gguf_file *files, int n_files, qwen3_config *c, qwen3_err *e);

int qwen3_config_gguf(const gguf_file *files, int n_files, qwen3_config *c, qwen3_err *e) {
    memset(c, 0, sizeof *c);
    int rc = config_gguf(files, n_files, c, e);
    if (rc) qwen3_config_free(c);
    return rc;
}

static int config_gguf(const gguf_file *files, int n_files, qwen3_config *c, qwen3_err *e) {
    const gguf_file *g = &files[0];
    gguf_str s;
    int r = gguf_get_str(g, "general.architecture", &s, e);
    if (r < 0) return -1;
    if (r == 0) return qerr(e, "%s: metadata key 'general.architecture' is missing", g->path);
    char arch[16];
    if (s.n == 5 && !memcmp(s.p, "qwen3", 5)) c->is_moe = 0;
    else if (s.n == 8 && !memcmp(s.p, "qwen3moe", 8)) c->is_moe = 1;
    else
        return qerr(e, "%s: metadata key 'general.architecture' is \"%.*s\"; supported: \"qwen3\", \"qwen3moe\"", g->path,
                    (int)(s.n > 64 ? 64 : s.n), s.p);
    snprintf(arch, sizeof arch, "%s", c->is_moe ? "qwen3moe" : "qwen3");
    const int64_t BIG = 1 << 24;
    if (key_int(g, arch, "block_count", -1, 1, QWEN3_MAX_LAYERS, &c->num_layers, e)) return -1;
    unsigned char *sparse = calloc((size_t)c->num_layers, 1);
    if (!sparse) return qerr(e, "%s: out of memory for %d layers", g->path, c->num_layers);
    c->layer_is_moe = sparse;
    if (key_int(g, arch, "embedding_length", -1, 1, BIG, &c->hidden_size, e)) return -1;
    if (key_int(g, arch, "attention.head_count", -1, 1, 4096, &c->num_heads, e)) return -1;
    if (key_int(g, arch, "attention.head_count_kv", c->num_heads, 1, 4096, &c->num_kv_heads, e)) return -1;
    if (c->num_heads % c->num_kv_heads)
        return qerr(e, "%s: metadata key '%s.attention.head_count_kv' (%d) must divide the head count (%d)", g->path, arch,
                    c->num_kv_heads, c->num_heads);
    if (key_int(g, arch, "attention.key_length", c->hidden_size / c->num_heads, 2, 65536, &c->head_dim, e)) return -1;
    int vdim;
    if (key_int(g, arch, "attention.value_length", c->head_dim, 1, 65536, &vdim, e)) return -1;
    if (vdim != c->head_dim || c->head_dim % 2)
        return qerr(e, "%s: metadata keys '%s.attention.key_length' (%d) and 'value_length' (%d) must be equal and even", g->path,
                    arch, c->head_dim, vdim);
    if (key_int(g, arch, "feed_forward_length", c->is_moe ? 0 : -1, 0, BIG, &c->intermediate_size, e)) return -1;
    double d;
    if (key_float(g, arch, "attention.layer_norm_rms_epsilon", 1e-6, 1e-30, 1.0, &d, e)) return -1;
    c->rms_norm_eps = (float)d;
    if (key_int(g, arch, "context_length", 32768, 1, 1 << 28, &c->max_position_embeddings, e)) return -1;
    if (key_float(g, arch, "rope.freq_base", 10000.0, 1e-6, 1e30, &c->rope_theta, e)) return -1;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    r = gguf_get_str(g, key, &s, e);
    if (r < 0) return -1;
    if (r == 1 && !(s.n == 4 && !memcmp(s.p, "none", 4))) {
        if (!(s.n == 4 && !memcmp(s.p, "yarn", 4)))
            return qerr(e, "%s: metadata key '%s' is \"%.*s\"; only \"yarn\" (or none) is supported", g->path, key,
                        (int)(s.n > 64 ? 64 : s.n), s.p);
        c->yarn = 1;
        if (key_float(g, arch, "rope.scaling.factor", NAN, 1.0, 1e6, &c->yarn_factor, e)) return -1;
        if (key_int(g, arch, "rope.scaling.original_context_length", c->max_position_embeddings, 1, 1 << 30,
                    &c->yarn_original_max_position_embeddings, e)) return -1;
        if (key_float(g, arch, "rope.scaling.yarn_beta_fast", 32, 1e-6, 1e6, &c->yarn_beta_fast, e)) return -1;
        if (key_float(g, arch, "rope.scaling.yarn_beta_slow", 1, 1e-6, 1e6, &c->yarn_beta_slow, e)) return -1;
        double deflt = c->yarn_factor <= 1 ? 1.0 : 0.1 * log(c->yarn_factor) + 1.0;
        if (key_float(g, arch, "rope.scaling.attn_factor", deflt, 1e-6, 1e6, &c->yarn_attention_factor, e)) return -1;
    }
    int64_t v;
    c->bos_token_id = c->eos_token_id = -1;
    if ((r = gguf_get_int(g, "tokenizer.ggml.bos_token_id", 0, BIG, &v, e)) < 0) return -1;
    if (r) c->bos_token_id = (int)v;
    if ((r = gguf_get_int(g, "tokenizer.ggml.eos_token_id", 0, BIG, &v, e)) < 0) return -1;
    if (r) c->eos_token_id = (int)v;
    /* from the tensors */
    const gguf_tensor *emb = find_any(files, n_files, "token_embd.weight");
    if (!emb) return qerr(e, "%s: tensor 'token_embd.weight' is missing", g->path);
    if (emb->ndim != 2 || emb->ne[0] != c->hidden_size || emb->ne[1] < 1 || emb->ne[1] > BIG)
        return qerr(e, "%s: tensor 'token_embd.weight' has ne [%lld, %lld] (%d dims); the metadata implies [%d, vocab]", g->path,
                    (long long)emb->ne[0], (long long)emb->ne[1], emb->ndim, c->hidden_size);
    c->vocab_size = (int)emb->ne[1];
    c->tie_word_embeddings = find_any(files, n_files, "output.weight") == NULL;
    c->decoder_sparse_step = 1;
    if (c->is_moe) {
        if (key_int(g, arch, "expert_count", -1, 1, 65536, &c->num_experts, e)) return -1;
        if (key_int(g, arch, "expert_used_count", -1, 1, c->num_experts, &c->num_experts_per_tok, e)) return -1;
        if (key_int(g, arch, "expert_feed_forward_length", -1, 1, BIG, &c->moe_intermediate_size, e)) return -1;
        c->norm_topk_prob = 1;
        snprintf(key, sizeof key, "%s.expert_weights_norm", arch);
        if ((r = gguf_get_int(g, key, 0, 1, &v, e)) < 0) return -1;
        if (r) c->norm_topk_prob = (int)v;
        int any_dense = 0;
        for (int l = 0; l < c->num_layers; l++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.ffn_gate_inp.weight", l);
            sparse[l] = find_any(files, n_files, name) != NULL;
            any_dense |= !sparse[l];
        }
        if (any_dense && c->intermediate_size <= 0)
            return qerr(e, "%s: metadata key 'qwen3moe.feed_forward_length' is needed (some layers are dense) and must be positive",
                        g->path);
    } else if (c->intermediate_size <= 0) {
        return qerr(e, "%s: metadata key 'qwen3.feed_forward_length' must be positive", g->path);
    }
    return 0;
}
