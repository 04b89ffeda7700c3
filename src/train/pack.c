/* pack.c - the compact storage of a model this trainer exported, and its expansion.
 *
 * A small model with Qwen3's real 151,936-token vocabulary is mostly embedding, and most of that is
 * the rows of tokens its data never had: under the trainer's shared-row head they are all one vector
 * (train/trainer.c). The compact form keeps the rows that differ from the row of the last id (which
 * no text ever has) and that shared row once:
 *   DIR/config.json        the config with vocab_size = kept rows + 1
 *   DIR/model.safetensors  every tensor as exported (BF16), the embedding (and an untied lm_head)
 *                          with the kept rows in increasing id order, then the shared row
 *   DIR/rows.json          {"vocab_size": full size, "rows": [the kept ids, increasing]}
 * Expansion writes an ordinary Hugging Face directory: the full matrix (every other row the shared
 * one), the config with the full vocabulary, generation_config.json and the tokenizer files. BF16
 * values pass through float32 unchanged, so expanding a packed export gives back the export's
 * model.safetensors byte for byte. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "format/mdir.h"
#include "model/config.h"
#include "qwen3_train.h"
#include "train/io.h"
#include "train/train.h"

static int is_vocab_matrix(const ttensor *t, int V) {
    return t->rows == V && (!strcmp(t->name, "model.embed_tokens.weight") || !strcmp(t->name, "lm_head.weight"));
}

static int mkdir_p1(const char *dir, qwen3_err *e) {
    if (mkdir(dir, 0755) && errno != EEXIST) return qerr(e, "%s: cannot create directory (%s)", dir, strerror(errno));
    return 0;
}

int qwen3_model_pack(const char *in_dir, const char *out_dir, qwen3_err *e) {
    char path[4096];
    qwen3_config c;
    if (qpath_join(path, sizeof path, in_dir, MDIR_CONFIG, e) || qwen3_config_load(path, &c, e)) return -1;
    qpool *pool = qpool_new(1);
    if (!pool) { qwen3_config_free(&c); return qerr(e, "pack: cannot start a thread pool"); }
    tmodel *f = tmodel_new(&c, 1, 1, pool, e), *m = NULL;
    int32_t *rows = NULL;
    char *keep = NULL;
    int rc = -1, V = c.vocab_size, H = c.hidden_size, n = 0;
    if (!f || tmodel_load_hf(f, in_dir, e)) goto out;
    keep = calloc((size_t)V, 1);
    rows = malloc(sizeof(int32_t) * (size_t)V);
    if (!keep || !rows) { qerr(e, "out of memory"); goto out; }
    for (int i = 0; i < f->n_tensors; i++) {
        const ttensor *t = &f->tensors[i];
        if (!is_vocab_matrix(t, V)) continue;
        const float *p = f->params + t->off, *ref = p + (int64_t)(V - 1) * H;
        for (int r = 0; r < V - 1; r++)
            if (memcmp(p + (int64_t)r * H, ref, sizeof(float) * (size_t)H)) keep[r] = 1;
    }
    for (int r = 0; r < V - 1; r++) if (keep[r]) rows[n++] = r;
    qwen3_config cc = c;
    cc.vocab_size = n + 1;
    if (!(m = tmodel_new(&cc, 1, 1, pool, e))) goto out;
    for (int i = 0; i < m->n_tensors; i++) {
        const ttensor *a = &m->tensors[i], *b = &f->tensors[i];
        if (is_vocab_matrix(b, V)) {
            for (int r = 0; r < n; r++) memcpy(m->params + a->off + (int64_t)r * H, f->params + b->off + (int64_t)rows[r] * H, sizeof(float) * (size_t)H);
            memcpy(m->params + a->off + (int64_t)n * H, f->params + b->off + (int64_t)(V - 1) * H, sizeof(float) * (size_t)H);
        } else {
            memcpy(m->params + a->off, f->params + b->off, sizeof(float) * (size_t)(a->rows * (a->cols ? a->cols : 1)));
        }
    }
    if (mkdir_p1(out_dir, e)) goto out;
    if (qpath_join(path, sizeof path, out_dir, MDIR_WEIGHTS, e) || tmodel_save_safetensors(m, 0, 1, path, e)) goto out;
    if (qpath_join(path, sizeof path, out_dir, MDIR_CONFIG, e) || tmodel_save_config(m, path, e)) goto out;
    json_t *ids = json_array();
    for (int r = 0; r < n; r++) json_array_append_new(ids, json_integer(rows[r]));
    json_t *j = json_pack("{s:i, s:o}", "vocab_size", V, "rows", ids);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) { qerr(e, "out of memory"); goto out; }
    size_t tl = strlen(text);
    char *t2 = realloc(text, tl + 2);
    if (!t2) { free(text); qerr(e, "out of memory"); goto out; }
    memcpy(t2 + tl, "\n", 2);
    int wr = qpath_join(path, sizeof path, out_dir, "rows.json", e) || tio_write_text(path, t2, e);
    free(t2);
    if (wr) goto out;
    rc = n;
out:
    free(keep);
    free(rows);
    tmodel_free(m);
    tmodel_free(f);
    qpool_free(pool);
    qwen3_config_free(&c); /* after the models, whose configs are copies of it */
    return rc;
}

static int unpack(const qwen3_config *ccp, const char *in_dir, const char *out_dir, const char *tokenizer_dir, qwen3_err *e);

int qwen3_model_unpack(const char *in_dir, const char *out_dir, const char *tokenizer_dir, qwen3_err *e) {
    char path[4096];
    qwen3_config cc;
    if (qpath_join(path, sizeof path, in_dir, MDIR_CONFIG, e) || qwen3_config_load(path, &cc, e)) return -1;
    int rc = unpack(&cc, in_dir, out_dir, tokenizer_dir, e);
    qwen3_config_free(&cc);
    return rc;
}

static int unpack(const qwen3_config *ccp, const char *in_dir, const char *out_dir, const char *tokenizer_dir, qwen3_err *e) {
    char path[4096];
    qwen3_config cc = *ccp;
    if (qpath_join(path, sizeof path, in_dir, "rows.json", e)) return -1;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    json_t *jr = j ? json_object_get(j, "rows") : NULL, *jv = j ? json_object_get(j, "vocab_size") : NULL;
    if (!json_is_array(jr) || !json_is_integer(jv)) {
        json_decref(j);
        return qerr(e, "%s: expected {\"vocab_size\": N, \"rows\": [ids]} (%s)", path, j ? "missing or mistyped field" : je.text);
    }
    int V = (int)json_integer_value(jv), n = (int)json_array_size(jr), H = cc.hidden_size;
    if (n + 1 != cc.vocab_size || V <= n || V > (1 << 24)) {
        json_decref(j);
        return qerr(e, "%s: %d rows and vocab_size %d do not fit the compact config's vocab_size %d (rows + 1)", path, n, V, cc.vocab_size);
    }
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!rows) { json_decref(j); return qerr(e, "out of memory"); }
    for (int r = 0; r < n; r++) {
        json_t *x = json_array_get(jr, (size_t)r);
        long long id = json_is_integer(x) ? json_integer_value(x) : -1;
        if (id < 0 || id >= V - 1 || (r && id <= rows[r - 1])) {
            json_decref(j); free(rows);
            return qerr(e, "%s: rows[%d] must be an increasing id below %d", path, r, V - 1);
        }
        rows[r] = (int32_t)id;
    }
    json_decref(j);
    qwen3_config c = cc;
    c.vocab_size = V;
    qpool *pool = qpool_new(1);
    tmodel *m = pool ? tmodel_new(&cc, 1, 1, pool, e) : NULL, *f = NULL;
    int rc = -1;
    if (!pool) { qerr(e, "unpack: cannot start a thread pool"); goto out; }
    if (!m || tmodel_load_hf(m, in_dir, e)) goto out;
    if (!(f = tmodel_new(&c, 1, 1, pool, e))) goto out;
    for (int i = 0; i < f->n_tensors; i++) {
        const ttensor *a = &m->tensors[i], *b = &f->tensors[i];
        if (is_vocab_matrix(b, V)) {
            const float *src = m->params + a->off;
            float *dst = f->params + b->off;
            for (int r = 0; r < V; r++) memcpy(dst + (int64_t)r * H, src + (int64_t)n * H, sizeof(float) * (size_t)H);
            for (int r = 0; r < n; r++) memcpy(dst + (int64_t)rows[r] * H, src + (int64_t)r * H, sizeof(float) * (size_t)H);
        } else {
            memcpy(f->params + b->off, m->params + a->off, sizeof(float) * (size_t)(a->rows * (a->cols ? a->cols : 1)));
        }
    }
    if (mkdir_p1(out_dir, e)) goto out;
    rc = tmodel_save_hf(f, out_dir, 1, tokenizer_dir, e);
out:
    free(rows);
    tmodel_free(f);
    tmodel_free(m);
    if (pool) qpool_free(pool);
    return rc;
}
