/* config.c - parse config.json (see config.h). */
#include "model/config.h"

#include <jansson.h>
#include <math.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

/* Reads an integer field; absent -> def (or an error when def < 0 means "required"). */
static int get_int(json_t *o, const char *path, const char *key, long def, long lo, long hi, int *out, qwen3_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (def == LONG_MIN) return qerr(e, "%s: field \"%s\" is missing", path, key);
        if (def < lo || def > hi)
            return qerr(e, "%s: field \"%s\" is missing and its default (%ld) is outside %ld..%ld", path, key, def, lo, hi);
        *out = (int)def;
        return 0;
    }
    if (!json_is_integer(v)) return qerr(e, "%s: field \"%s\" must be an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) return qerr(e, "%s: field \"%s\" is %lld; expected %ld..%ld", path, key, (long long)x, lo, hi);
    *out = (int)x;
    return 0;
}

static int get_num(json_t *o, const char *path, const char *key, double def, double lo, double hi, double *out, qwen3_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (isnan(def)) return qerr(e, "%s: field \"%s\" is missing", path, key);
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return qerr(e, "%s: field \"%s\" must be a number", path, key);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return qerr(e, "%s: field \"%s\" is %g; expected %g..%g", path, key, x, lo, hi);
    *out = x;
    return 0;
}

static int get_bool(json_t *o, const char *path, const char *key, int def, int *out, qwen3_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) { *out = def; return 0; }
    if (!json_is_boolean(v)) return qerr(e, "%s: field \"%s\" must be true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

static int parse_rope_scaling(json_t *rs, const char *path, const char *field, qwen3_config *c, qwen3_err *e) {
    if (!rs || json_is_null(rs)) return 0;
    if (!json_is_object(rs)) return qerr(e, "%s: field \"%s\" must be an object or null", path, field);
    json_t *t = json_object_get(rs, "rope_type");
    if (!t) t = json_object_get(rs, "type");
    if (!json_is_string(t)) return qerr(e, "%s: field \"%s.rope_type\" (or \"type\") is missing or not a string", path, field);
    const char *ty = json_string_value(t);
    if (!strcmp(ty, "default")) return 0;
    if (strcmp(ty, "yarn"))
        return qerr(e, "%s: field \"%s.rope_type\" is \"%s\"; only \"yarn\" (or none) is supported", path, field, ty);
    char sub[96];
    snprintf(sub, sizeof sub, "%s (%s)", path, field);
    c->yarn = 1;
    if (get_num(rs, sub, "factor", NAN, 1.0, 1e6, &c->yarn_factor, e)) return -1;
    if (get_int(rs, sub, "original_max_position_embeddings", c->max_position_embeddings, 1, 1 << 30,
                &c->yarn_original_max_position_embeddings, e)) return -1;
    if (get_num(rs, sub, "beta_fast", 32, 1e-6, 1e6, &c->yarn_beta_fast, e)) return -1;
    if (get_num(rs, sub, "beta_slow", 1, 1e-6, 1e6, &c->yarn_beta_slow, e)) return -1;
    double deflt = c->yarn_factor <= 1 ? 1.0 : 0.1 * log(c->yarn_factor) + 1.0;
    if (get_num(rs, sub, "attention_factor", deflt, 1e-6, 1e6, &c->yarn_attention_factor, e)) return -1;
    json_t *tr = json_object_get(rs, "truncate");
    if (tr && json_is_false(tr)) return qerr(e, "%s: field \"%s.truncate\" false is not supported", path, field);
    if (json_object_get(rs, "mscale") || json_object_get(rs, "mscale_all_dim"))
        return qerr(e, "%s: fields \"%s.mscale\"/\"mscale_all_dim\" are not supported", path, field);
    return 0;
}

/* dual_chunk_attention_config (Qwen2.5-1M, Qwen3-2507's config_1m.json), read as vLLM reads it:
 * chunk_size (default 8192), local_size (1024), original_max_position_embeddings (0: no length
 * scaling). The sparse-attention keys (sparse_attention_config, _enabled, _threshold, _last_q) choose
 * which positions vLLM skips to save GPU time; we attend to all of them (the exact DCA that the
 * sparse variant approximates), so they are accepted and ignored. */
static int parse_dca(json_t *d, const char *path, qwen3_config *c, qwen3_err *e) {
    if (!d || json_is_null(d)) return 0;
    if (!json_is_object(d)) return qerr(e, "%s: field \"dual_chunk_attention_config\" must be an object or null", path);
    char sub[96];
    snprintf(sub, sizeof sub, "%s (dual_chunk_attention_config)", path);
    if (get_int(d, sub, "chunk_size", 8192, 2, 1 << 30, &c->dca_chunk_size, e)) return -1;
    if (get_int(d, sub, "local_size", 1024, 0, 1 << 30, &c->dca_local_size, e)) return -1;
    if (c->dca_local_size >= c->dca_chunk_size)
        return qerr(e, "%s: field \"local_size\" (%d) must be smaller than chunk_size (%d): a chunk holds "
                       "chunk_size - local_size positions", sub, c->dca_local_size, c->dca_chunk_size);
    if (get_int(d, sub, "original_max_position_embeddings", 0, 0, 1 << 30, &c->dca_original_max_position_embeddings, e))
        return -1;
    c->dca = 1;
    return 0;
}

int qwen3_config_parse(const char *text, size_t len, const char *path, qwen3_config *c, qwen3_err *e) {
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) return qerr(e, "%s: not valid JSON: %s (line %d, column %d)", path, je.text, je.line, je.column);
    int rc = -1;
    if (!json_is_object(o)) { qerr(e, "%s: not a JSON object", path); goto out; }
    json_t *mt = json_object_get(o, "model_type");
    if (!json_is_string(mt)) { qerr(e, "%s: field \"model_type\" is missing or not a string", path); goto out; }
    if (!strcmp(json_string_value(mt), "qwen3")) c->is_moe = 0;
    else if (!strcmp(json_string_value(mt), "qwen3_moe")) c->is_moe = 1;
    else {
        qerr(e, "%s: field \"model_type\" is \"%s\"; supported: \"qwen3\", \"qwen3_moe\"", path, json_string_value(mt));
        goto out;
    }
    int flag;
    if (get_bool(o, path, "use_sliding_window", 0, &flag, e)) goto out;
    if (flag) { qerr(e, "%s: field \"use_sliding_window\" is true; sliding-window attention is not supported", path); goto out; }
    if (get_bool(o, path, "attention_bias", 0, &flag, e)) goto out;
    if (flag) { qerr(e, "%s: field \"attention_bias\" is true; Qwen3 has no QKV bias and we do not support one", path); goto out; }
    const long BIG = 1L << 24;
    if (get_int(o, path, "vocab_size", LONG_MIN, 1, BIG, &c->vocab_size, e)) goto out;
    if (get_int(o, path, "hidden_size", LONG_MIN, 1, BIG, &c->hidden_size, e)) goto out;
    if (get_int(o, path, "num_hidden_layers", LONG_MIN, 1, QWEN3_MAX_LAYERS, &c->num_layers, e)) goto out;
    unsigned char *sparse = calloc((size_t)c->num_layers, 1);
    if (!sparse) { qerr(e, "%s: out of memory for %d layers", path, c->num_layers); goto out; }
    c->layer_is_moe = sparse;
    if (get_int(o, path, "num_attention_heads", LONG_MIN, 1, 4096, &c->num_heads, e)) goto out;
    if (get_int(o, path, "num_key_value_heads", c->num_heads, 1, 4096, &c->num_kv_heads, e)) goto out;
    if (c->num_heads % c->num_kv_heads) {
        qerr(e, "%s: field \"num_key_value_heads\" (%d) must divide num_attention_heads (%d)", path, c->num_kv_heads, c->num_heads);
        goto out;
    }
    if (get_int(o, path, "head_dim", c->hidden_size / c->num_heads, 2, 65536, &c->head_dim, e)) goto out;
    if (c->head_dim % 2) { qerr(e, "%s: field \"head_dim\" (%d) must be even for RoPE", path, c->head_dim); goto out; }
    if (get_int(o, path, "intermediate_size", c->is_moe ? 0 : LONG_MIN, c->is_moe ? 0 : 1, BIG, &c->intermediate_size, e)) goto out;
    double d;
    if (get_num(o, path, "rms_norm_eps", 1e-6, 1e-30, 1.0, &d, e)) goto out;
    c->rms_norm_eps = (float)d;
    if (get_int(o, path, "max_position_embeddings", 32768, 1, 1 << 28, &c->max_position_embeddings, e)) goto out;
    if (get_bool(o, path, "tie_word_embeddings", 0, &c->tie_word_embeddings, e)) goto out;
    /* transformers >= 5 moves rope_theta and the scaling into "rope_parameters"; older files use
     * rope_theta + rope_scaling at the top level. Accept both. */
    json_t *rp = json_object_get(o, "rope_parameters");
    if (rp && !json_is_null(rp)) {
        if (!json_is_object(rp)) { qerr(e, "%s: field \"rope_parameters\" must be an object", path); goto out; }
        if (get_num(rp, path, "rope_theta", 10000.0, 1e-6, 1e30, &c->rope_theta, e)) goto out;
        if (parse_rope_scaling(rp, path, "rope_parameters", c, e)) goto out;
    } else {
        if (get_num(o, path, "rope_theta", 10000.0, 1e-6, 1e30, &c->rope_theta, e)) goto out;
        if (parse_rope_scaling(json_object_get(o, "rope_scaling"), path, "rope_scaling", c, e)) goto out;
    }
    if (parse_dca(json_object_get(o, "dual_chunk_attention_config"), path, c, e)) goto out;
    if (get_int(o, path, "bos_token_id", -1, -1, BIG, &c->bos_token_id, e)) goto out;
    if (get_int(o, path, "eos_token_id", -1, -1, BIG, &c->eos_token_id, e)) goto out;
    if (c->is_moe) {
        if (get_int(o, path, "num_experts", LONG_MIN, 1, 65536, &c->num_experts, e)) goto out;
        if (get_int(o, path, "num_experts_per_tok", LONG_MIN, 1, c->num_experts, &c->num_experts_per_tok, e)) goto out;
        if (get_int(o, path, "moe_intermediate_size", LONG_MIN, 1, BIG, &c->moe_intermediate_size, e)) goto out;
        if (get_bool(o, path, "norm_topk_prob", 0, &c->norm_topk_prob, e)) goto out;
        if (get_int(o, path, "decoder_sparse_step", 1, 1, QWEN3_MAX_LAYERS, &c->decoder_sparse_step, e)) goto out;
        json_t *ml = json_object_get(o, "mlp_only_layers");
        for (int l = 0; l < c->num_layers; l++)  /* transformers: sparse when (l + 1) % decoder_sparse_step */
            sparse[l] = (l + 1) % c->decoder_sparse_step == 0; /* == 0 and l not in mlp_only_layers */
        if (ml && !json_is_null(ml)) {
            if (!json_is_array(ml)) { qerr(e, "%s: field \"mlp_only_layers\" must be an array of layer indices", path); goto out; }
            for (size_t i = 0; i < json_array_size(ml); i++) {
                json_t *x = json_array_get(ml, i);
                if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= c->num_layers) {
                    qerr(e, "%s: field \"mlp_only_layers\"[%zu] must be a layer index in 0..%d", path, i, c->num_layers - 1);
                    goto out;
                }
                sparse[json_integer_value(x)] = 0;
            }
        }
        int any_dense = 0;
        for (int l = 0; l < c->num_layers; l++) any_dense |= !sparse[l];
        if (any_dense && c->intermediate_size <= 0) {
            qerr(e, "%s: field \"intermediate_size\" is needed (some layers are dense) and must be positive", path);
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(o);
    if (rc) qwen3_config_free(c);
    return rc;
}

void qwen3_config_free(qwen3_config *c) {
    free((unsigned char *)c->layer_is_moe);
    c->layer_is_moe = NULL;
}

int qwen3_config_load(const char *path, qwen3_config *c, qwen3_err *e) {
    size_t len;
    char *text = qfile_read(path, 16u << 20, &len, e);
    if (!text) return -1;
    int rc = qwen3_config_parse(text, len, path, c, e);
    free(text);
    return rc;
}
