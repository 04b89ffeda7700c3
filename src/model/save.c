/* save.c - qwen3_model_save: the loaded weights back to one safetensors file, so a model quantized
 * once (`qwen3 quantize`) then loads by mmap with no conversion.
 *
 * File: the 8-byte header length, the JSON header padded with spaces so that the data section starts
 * at a multiple of 64 bytes, then every tensor back to back in header order (no holes). Matrices keep
 * their in-memory type and bytes; block types use our dtype strings "Q8_0" / "Q4" with the logical
 * shape (format/safetensors.h). Norm vectors are written as F32 (the loader keeps float32 copies). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/mdir.h"
#include "model/model.h"

/* mat: a matrix interleaved for decoding (kmat.il, model/repack.c), written row by row in row-major
 * order; else data's bytes as they are */
typedef struct { char name[160]; const char *dtype; int64_t shape[2]; int nd; const void *data; size_t bytes; const kmat *mat; } out_tensor;

typedef struct { out_tensor *t; int n, cap; } out_list;

static int add(out_list *l, const char *name, const char *dtype, int nd, int64_t d0, int64_t d1, const void *data, size_t bytes) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        out_tensor *t = realloc(l->t, sizeof *t * (size_t)cap);
        if (!t) return -1;
        l->t = t;
        l->cap = cap;
    }
    out_tensor *o = &l->t[l->n++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->dtype = dtype;
    o->nd = nd;
    o->shape[0] = d0;
    o->shape[1] = d1;
    o->data = data;
    o->bytes = bytes;
    o->mat = NULL;
    return 0;
}

static int add_mat(out_list *l, const char *name, const kmat *k) {
    int rc = add(l, name, qwen3_dtype_name(k->type), 2, k->rows, k->cols, k->data, k->row_bytes * (size_t)k->rows);
    if (!rc && k->il) l->t[l->n - 1].mat = k;
    return rc;
}

/* one tensor's bytes; 0 or -1 */
static int write_tensor(FILE *f, const out_tensor *t) {
    if (!t->mat) return t->bytes && fwrite(t->data, 1, t->bytes, f) != t->bytes ? -1 : 0;
    uint8_t *row = malloc(t->mat->row_bytes);
    int rc = row ? 0 : -1;
    for (int64_t r = 0; !rc && r < t->mat->rows; r++) {
        k_il_row(t->mat, r, row);
        if (fwrite(row, 1, t->mat->row_bytes, f) != t->mat->row_bytes) rc = -1;
    }
    free(row);
    return rc;
}

static int add_vec(out_list *l, const char *name, const float *v, int64_t n) {
    return add(l, name, "F32", 1, n, 0, v, sizeof(float) * (size_t)n);
}

static int collect(const qwen3_model *m, out_list *l) {
    const qwen3_config *c = &m->c;
    char n[160];
    int rc = 0;
    rc |= add_mat(l, "model.embed_tokens.weight", &m->embed);
    if (m->lm_head.data != m->embed.data) rc |= add_mat(l, "lm_head.weight", &m->lm_head);
    rc |= add_vec(l, "model.norm.weight", m->final_norm, c->hidden_size);
    for (int i = 0; i < c->num_layers; i++) {
        const layer_weights *L = &m->layers[i];
#define N(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
        rc |= add_vec(l, N("model.layers.%d.input_layernorm.weight", i), L->attn_norm, c->hidden_size);
        rc |= add_vec(l, N("model.layers.%d.post_attention_layernorm.weight", i), L->ffn_norm, c->hidden_size);
        rc |= add_vec(l, N("model.layers.%d.self_attn.q_norm.weight", i), L->q_norm, c->head_dim);
        rc |= add_vec(l, N("model.layers.%d.self_attn.k_norm.weight", i), L->k_norm, c->head_dim);
        rc |= add_mat(l, N("model.layers.%d.self_attn.q_proj.weight", i), &L->wq);
        rc |= add_mat(l, N("model.layers.%d.self_attn.k_proj.weight", i), &L->wk);
        rc |= add_mat(l, N("model.layers.%d.self_attn.v_proj.weight", i), &L->wv);
        rc |= add_mat(l, N("model.layers.%d.self_attn.o_proj.weight", i), &L->wo);
        if (!L->is_moe) {
            rc |= add_mat(l, N("model.layers.%d.mlp.gate_proj.weight", i), &L->gate);
            rc |= add_mat(l, N("model.layers.%d.mlp.up_proj.weight", i), &L->up);
            rc |= add_mat(l, N("model.layers.%d.mlp.down_proj.weight", i), &L->down);
            continue;
        }
        rc |= add_mat(l, N("model.layers.%d.mlp.gate.weight", i), &L->router);
        for (int x = 0; x < c->num_experts; x++) {
            rc |= add_mat(l, N("model.layers.%d.mlp.experts.%d.gate_proj.weight", i, x), &L->egate[x]);
            rc |= add_mat(l, N("model.layers.%d.mlp.experts.%d.up_proj.weight", i, x), &L->eup[x]);
            rc |= add_mat(l, N("model.layers.%d.mlp.experts.%d.down_proj.weight", i, x), &L->edown[x]);
        }
#undef N
    }
    return rc;
}

int qwen3_model_save(const qwen3_model *m, const char *dir, qwen3_err *e) {
    char path[4096];
    if (m->pp_size > 1) /* a rank of an MPI job holds its share of the layers only */
        return qerr(e, "cannot save a model split across %d MPI ranks: run the command without mpirun", m->pp_size);
    if (qpath_join(path, sizeof path, dir, MDIR_WEIGHTS, e)) return -1;
    out_list l = {0};
    if (collect(m, &l)) { free(l.t); return qerr(e, "out of memory"); }
    json_t *h = json_object(), *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(meta, "qwen3.quant", json_string(m->quant == QWEN3_F32 ? "none" : qwen3_dtype_name(m->quant)));
    json_object_set_new(meta, "qwen3.layout", json_string("Q8_0: 32 values = f16 d + 32 int8; Q4: 256 values = f16 d, f16 dmin, u8 sc[8], u8 mn[8], u8 qs[128] (see src/kernels/quant.h); Q4_0..IQ4_XS: ggml's block layouts (src/kernels/quant_ggml.h)"));
    json_object_set_new(h, "__metadata__", meta);
    uint64_t off = 0;
    for (int i = 0; i < l.n; i++) {
        json_t *t = json_object(), *sh = json_array(), *of = json_array();
        for (int d = 0; d < l.t[i].nd; d++) json_array_append_new(sh, json_integer(l.t[i].shape[d]));
        json_array_append_new(of, json_integer((json_int_t)off));
        json_array_append_new(of, json_integer((json_int_t)(off + l.t[i].bytes)));
        json_object_set_new(t, "dtype", json_string(l.t[i].dtype));
        json_object_set_new(t, "shape", sh);
        json_object_set_new(t, "data_offsets", of);
        json_object_set_new(h, l.t[i].name, t);
        off += l.t[i].bytes;
    }
    char *text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    if (!text) { free(l.t); return qerr(e, "out of memory"); }
    size_t hl = strlen(text), padded = hl;
    while ((8 + padded) % 64) padded++;
    FILE *f = fopen(path, "wb");
    int rc = -1;
    if (!f) { qerr(e, "%s: cannot open for writing", path); goto out; }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(text, 1, hl, f) != hl) goto werr;
    for (size_t i = hl; i < padded; i++)
        if (fputc(' ', f) == EOF) goto werr;
    for (int i = 0; i < l.n; i++)
        if (write_tensor(f, &l.t[i])) goto werr;
    if (fclose(f)) { f = NULL; goto werr; }
    f = NULL;
    rc = 0;
    goto out;
werr:
    qerr(e, "%s: write failed (disk full?)", path);
out:
    if (f) fclose(f);
    free(text);
    free(l.t);
    return rc;
}
