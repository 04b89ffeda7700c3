/* io.c - the trainer's files: parameters from a Hugging Face directory, and safetensors / config.json
 * out, written atomically (to NAME.tmp, flushed and fsync'd, then renamed over NAME: a failure at
 * any point leaves the previous file as it was).
 *
 * Reading uses format/safetensors.c (validated, mapped) and the shard index when there is one; every
 * tensor of the layout must be present with its exact shape, in F32, F16 or BF16. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "format/mdir.h"
#include "format/safetensors.h"
#include "kernels/kernels.h"
#include "train/io.h"
#include "train/train.h"

/* ---- atomic writes --------------------------------------------------------------------------- */

int tio_open(tio_file *f, const char *path, qwen3_err *e) {
    memset(f, 0, sizeof *f);
    if (snprintf(f->path, sizeof f->path, "%s", path) >= (int)sizeof f->path ||
        snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path) >= (int)sizeof f->tmp)
        return qerr(e, "%s: path too long", path);
    f->f = fopen(f->tmp, "wb");
    if (!f->f) return qerr(e, "%s: cannot create (%s)", f->tmp, strerror(errno));
    return 0;
}

int tio_write(tio_file *f, const void *p, size_t n) {
    if (f->failed || !f->f) return -1;
    if (n && fwrite(p, 1, n, f->f) != n) f->failed = errno ? errno : EIO;
    return f->failed ? -1 : 0;
}

int tio_close(tio_file *f, qwen3_err *e) {
    if (!f->f) return -1;
    int bad = f->failed;
    if (fflush(f->f) && !bad) bad = errno ? errno : EIO;
    if (!bad && fsync(fileno(f->f))) bad = errno ? errno : EIO;
    if (fclose(f->f) && !bad) bad = errno ? errno : EIO;
    f->f = NULL;
    if (bad) {
        unlink(f->tmp);
        return qerr(e, "%s: write failed (%s); the previous %s is unchanged", f->tmp, strerror(bad), f->path);
    }
    if (rename(f->tmp, f->path)) {
        int er = errno;
        unlink(f->tmp);
        return qerr(e, "%s: cannot rename to %s (%s)", f->tmp, f->path, strerror(er));
    }
    return 0;
}

void tio_abort(tio_file *f) {
    if (f->f) fclose(f->f);
    f->f = NULL;
    unlink(f->tmp);
}

int tio_write_text(const char *path, const char *text, qwen3_err *e) {
    tio_file f;
    if (tio_open(&f, path, e)) return -1;
    tio_write(&f, text, strlen(text));
    return tio_close(&f, e);
}

static const char GENERATION_CONFIG[] =
    "{\n  \"bos_token_id\": 151643,\n  \"do_sample\": true,\n  \"eos_token_id\": [\n    151645,\n    151643\n  ],\n"
    "  \"pad_token_id\": 151643,\n  \"temperature\": 0.6,\n  \"top_k\": 20,\n  \"top_p\": 0.95,\n"
    "  \"transformers_version\": \"4.57.1\"\n}\n";

/* A Hugging Face directory DIR (which exists) from model f: model.safetensors (BF16 or F32),
 * config.json, generation_config.json (Qwen3's thinking-mode sampling defaults) and the tokenizer
 * files found in tok_dir (may be NULL). */
int tmodel_save_hf(const tmodel *f, const char *dir, int bf16, const char *tok_dir, qwen3_err *e) {
    char path[4096];
    /* checked first: a directory without a tokenizer would give a model that cannot run */
    if (tok_dir && mdir_check_tokenizer_dir(tok_dir, e)) return -1;
    if (qpath_join(path, sizeof path, dir, MDIR_WEIGHTS, e) || tmodel_save_safetensors(f, 0, bf16, path, e)) return -1;
    if (qpath_join(path, sizeof path, dir, MDIR_CONFIG, e) || tmodel_save_config(f, path, e)) return -1;
    if (qpath_join(path, sizeof path, dir, MDIR_GENERATION, e) || tio_write_text(path, GENERATION_CONFIG, e)) return -1;
    if (tok_dir && mdir_copy_files(tok_dir, dir, mdir_tokenizer_files, e)) return -1;
    return 0;
}

/* ---- safetensors out ------------------------------------------------------------------------- */

int tmodel_save_safetensors(const tmodel *m, int which, int bf16, const char *path, qwen3_err *e) {
    const float *base = which ? m->grads : m->params;
    json_t *h = json_object(), *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(h, "__metadata__", meta);
    size_t es = bf16 ? 2 : 4;
    uint64_t off = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ttensor *t = &m->tensors[i];
        json_t *o = json_object(), *sh = json_array(), *of = json_array();
        json_array_append_new(sh, json_integer(t->rows));
        if (t->cols) json_array_append_new(sh, json_integer(t->cols));
        uint64_t nb = (uint64_t)(t->rows * (t->cols ? t->cols : 1)) * es;
        json_array_append_new(of, json_integer((json_int_t)off));
        json_array_append_new(of, json_integer((json_int_t)(off + nb)));
        json_object_set_new(o, "dtype", json_string(bf16 ? "BF16" : "F32"));
        json_object_set_new(o, "shape", sh);
        json_object_set_new(o, "data_offsets", of);
        json_object_set_new(h, t->name, o);
        off += nb;
    }
    char *text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    if (!text) return qerr(e, "out of memory");
    size_t hl = strlen(text), padded = hl;
    while ((8 + padded) % 8) padded++;
    tio_file f;
    if (tio_open(&f, path, e)) { free(text); return -1; }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    tio_write(&f, len8, 8);
    tio_write(&f, text, hl);
    for (size_t i = hl; i < padded; i++) tio_write(&f, " ", 1);
    free(text);
    uint16_t buf[4096];
    for (int i = 0; i < m->n_tensors && !f.failed; i++) {
        const ttensor *t = &m->tensors[i];
        int64_t n = t->rows * (t->cols ? t->cols : 1);
        const float *p = base + t->off;
        if (!bf16) { tio_write(&f, p, sizeof(float) * (size_t)n); continue; }
        for (int64_t j = 0; j < n; j += 4096) {
            int k = n - j < 4096 ? (int)(n - j) : 4096;
            for (int q = 0; q < k; q++) buf[q] = k_f32_to_bf16(p[j + q]);
            tio_write(&f, buf, sizeof(uint16_t) * (size_t)k);
        }
    }
    return tio_close(&f, e);
}

int tmodel_save_config(const tmodel *m, const char *path, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", c->is_moe ? "Qwen3MoeForCausalLM" : "Qwen3ForCausalLM"));
    json_object_set_new(j, "attention_bias", json_false());
    json_object_set_new(j, "attention_dropout", json_real(0.0));
    json_object_set_new(j, "bos_token_id", json_integer(c->bos_token_id >= 0 ? c->bos_token_id : 151643));
    json_object_set_new(j, "eos_token_id", json_integer(c->eos_token_id >= 0 ? c->eos_token_id : 151645));
    json_object_set_new(j, "head_dim", json_integer(c->head_dim));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(j, "initializer_range", json_real(0.02));
    json_object_set_new(j, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->max_position_embeddings));
    json_object_set_new(j, "max_window_layers", json_integer(c->num_layers));
    json_object_set_new(j, "model_type", json_string(c->is_moe ? "qwen3_moe" : "qwen3"));
    json_object_set_new(j, "num_attention_heads", json_integer(c->num_heads));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->num_layers));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->num_kv_heads));
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_norm_eps));
    json_object_set_new(j, "rope_scaling", json_null());
    json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
    json_object_set_new(j, "sliding_window", json_null());
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
    json_object_set_new(j, "torch_dtype", json_string("bfloat16"));
    json_object_set_new(j, "transformers_version", json_string("4.57.1"));
    json_object_set_new(j, "use_cache", json_true());
    json_object_set_new(j, "use_sliding_window", json_false());
    json_object_set_new(j, "vocab_size", json_integer(c->vocab_size));
    if (c->is_moe) {
        json_t *mlp_only = json_array();
        for (int l = 0; l < c->num_layers; l++)
            if (!c->layer_is_moe[l] && (l + 1) % (c->decoder_sparse_step > 0 ? c->decoder_sparse_step : 1) == 0)
                json_array_append_new(mlp_only, json_integer(l));
        json_object_set_new(j, "decoder_sparse_step", json_integer(c->decoder_sparse_step > 0 ? c->decoder_sparse_step : 1));
        json_object_set_new(j, "mlp_only_layers", mlp_only);
        json_object_set_new(j, "moe_intermediate_size", json_integer(c->moe_intermediate_size));
        json_object_set_new(j, "norm_topk_prob", json_boolean(c->norm_topk_prob));
        json_object_set_new(j, "num_experts", json_integer(c->num_experts));
        json_object_set_new(j, "num_experts_per_tok", json_integer(c->num_experts_per_tok));
        json_object_set_new(j, "output_router_logits", json_false());
        json_object_set_new(j, "router_aux_loss_coef", json_real(0.001));
    }
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (!text) return qerr(e, "out of memory");
    size_t n = strlen(text);
    char *t2 = malloc(n + 2);
    if (!t2) { free(text); return qerr(e, "out of memory"); }
    memcpy(t2, text, n);
    t2[n] = '\n';
    t2[n + 1] = 0;
    free(text);
    int rc = tio_write_text(path, t2, e);
    free(t2);
    return rc;
}

/* ---- parameters from a Hugging Face directory ------------------------------------------------ */

static const st_tensor *find(st_file *files, int nf, const char *name) {
    for (int f = 0; f < nf; f++)
        for (int i = 0; i < files[f].n_tensors; i++)
            if (!strcmp(files[f].tensors[i].name, name)) return &files[f].tensors[i];
    return NULL;
}

int tmodel_load_hf(tmodel *m, const char *dir, qwen3_err *e) {
    char path[4096], idx[4096];
    st_file files[64];
    int nf = 0, rc = -1;
    mdir md; /* the index wins over model.safetensors: format/mdir.c decides */
    if (mdir_open(dir, &md, e) || mdir_path(&md, MDIR_INDEX, idx, sizeof idx, e)) return -1;
    if (md.weights == MDIR_W_INDEX) {
        json_error_t je;
        json_t *j = json_load_file(idx, 0, &je);
        json_t *wm = j ? json_object_get(j, "weight_map") : NULL;
        if (!json_is_object(wm)) { json_decref(j); return qerr(e, "%s: no weight_map object", idx); }
        const char *k;
        json_t *v;
        char seen[64][256];
        json_object_foreach(wm, k, v) {
            const char *fn = json_string_value(v);
            if (!fn) continue;
            int dup = 0;
            for (int i = 0; i < nf; i++) dup |= !strcmp(seen[i], fn);
            if (dup) continue;
            if (nf == 64) { json_decref(j); qerr(e, "%s: more than 64 shards", idx); goto out; }
            snprintf(seen[nf], sizeof seen[nf], "%s", fn);
            if (qpath_join(path, sizeof path, dir, fn, e) || st_open(&files[nf], path, e)) { json_decref(j); goto out; }
            nf++;
        }
        json_decref(j);
    } else {
        if (qpath_join(path, sizeof path, dir, MDIR_WEIGHTS, e) || st_open(&files[0], path, e)) return -1;
        nf = 1;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const ttensor *t = &m->tensors[i];
        const st_tensor *s = find(files, nf, t->name);
        if (!s) { qerr(e, "%s: tensor %s is missing (the config says it should exist)", dir, t->name); goto out; }
        int nd = t->cols ? 2 : 1;
        if (s->ndim != nd || s->shape[0] != t->rows || (nd == 2 && s->shape[1] != t->cols)) {
            qerr(e, "%s: tensor %s has shape [%lld%s%lld], expected [%lld%s%lld] from config.json", s->file, t->name,
                 (long long)s->shape[0], s->ndim > 1 ? ", " : "", s->ndim > 1 ? (long long)s->shape[1] : 0LL,
                 (long long)t->rows, nd > 1 ? ", " : "", nd > 1 ? (long long)t->cols : 0LL);
            goto out;
        }
        int64_t n = t->rows * (t->cols ? t->cols : 1);
        float *p = m->params + t->off;
        if (s->dtype == ST_F32) memcpy(p, s->data, sizeof(float) * (size_t)n);
        else if (s->dtype == ST_BF16 || s->dtype == ST_F16) {
            const uint8_t *d = s->data;
            for (int64_t j = 0; j < n; j++) {
                uint16_t h = (uint16_t)(d[2 * j] | d[2 * j + 1] << 8);
                p[j] = s->dtype == ST_BF16 ? k_bf16_to_f32(h) : k_f16_to_f32(h);
            }
        } else {
            qerr(e, "%s: tensor %s is %s; training reads F32, F16 or BF16", s->file, t->name, s->dtype_name);
            goto out;
        }
    }
    rc = 0;
out:
    for (int i = 0; i < nf; i++) st_close(&files[i]);
    return rc;
}
