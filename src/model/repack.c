/* repack.c - the model's matrices rearranged for the one-token kernels at load (kernels/repack.c
 * has the layouts and why: Q8_0 decode streams 1.3-1.5x faster interleaved by 16 rows; BF16's
 * one-token bf16 dots lose their horizontal sums).
 *
 * Which matrices: every layer product and the lm_head (with the embedding when tied: a lookup reads
 * its row through k_row_to_float, which knows the layout), when the model's kernel table has
 * interleaved kernels for the type (AVX-512 VNNI for Q8_0, AVX512_BF16 on the fast path for BF16) and
 * the rows come in whole groups. Not
 * under batch_variant (its bf16 GEMM reads rows), and not when QWEN3_REPACK=0 (the row-major
 * kernels, for comparisons: the results are the same bits either way, tests/suite/repack.sh).
 * A matrix in memory the model owns (quantized at load, or a rank's copied-out columns) is
 * rearranged in place a group at a time; one in a read-only file mapping is copied into an owned
 * buffer and the mapping's pages behind it are released, so the resident bytes stay the matrix's. */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

/* A matrix is packed by all of the pool's threads, each its own run of row groups: the packing,
 * and the kernel's zeroing of the fresh pages a copy writes to, were most of a load (0.6B Q8_0:
 * ~2 s on one thread). Copied out of a mapping (src != dst), or rearranged in place a group at a
 * time through the thread's own copy of the group (src == dst). */
typedef struct { const kmat *W; const uint8_t *src; uint8_t *dst; int il; _Atomic int failed; } pack_job;

static void pack_worker(void *ctx, int ith, int nth) {
    pack_job *j = ctx;
    const kmat *W = j->W;
    size_t group = (size_t)j->il * W->row_bytes;
    int64_t ng = W->rows / j->il, g0 = ng * ith / nth, g1 = ng * (ith + 1) / nth;
    if (g1 <= g0) return;
    if (j->src != j->dst) {
        k_il_pack(W->type, j->src + (size_t)g0 * group, W->row_bytes, (g1 - g0) * j->il, W->cols, j->dst + (size_t)g0 * group);
        return;
    }
    uint8_t *tmp = malloc(group);
    if (!tmp) { j->failed = 1; return; }
    for (int64_t g = g0; g < g1; g++) {
        memcpy(tmp, j->dst + (size_t)g * group, group);
        k_il_pack(W->type, tmp, W->row_bytes, j->il, W->cols, j->dst + (size_t)g * group);
    }
    free(tmp);
}

/* Repacks W (and `also`, a kmat viewing the same data: the tied embedding) where its table entry has
 * interleaved kernels. Returns -1 only when out of memory. */
static int repack_one(qwen3_model *m, kmat *W, kmat *also, qwen3_err *e) {
    int il = W->data ? k_il_fits(W->type, W->rows, W->cols) : 0;
    const ktype *t = &m->cpu.type[W->type];
    /* the kernels of the path this model takes for the type: integer (Q8_0), or bf16 dots on the
     * fast path (BF16; the exact path's float32 kernels read rows) */
    int kernels = t->path == K_PATH_INT ? t->gemv_il && t->gemm_il : t->path == K_PATH_B16 && m->fast && t->b16_il;
    if (W->il || !il || !kernels) return 0;
    size_t group = (size_t)il * W->row_bytes, bytes = (size_t)W->rows * W->row_bytes;
    pack_job j = {W, W->data, (uint8_t *)W->data, il, 0}; /* in place: the model owns the bytes */
    if (model_file_of(m, W->data)) { /* in the file's mapping: copied out, not written in place */
        void *dst = model_alloc_owned(m, bytes);
        if (!dst) {
            qerr(e, "out of memory: %.1f MiB to rearrange a %lld x %lld %s matrix for decoding (QWEN3_REPACK=0 "
                 "keeps the file's layout)", (double)bytes / 1048576.0, (long long)W->rows, (long long)W->cols,
                 qwen3_dtype_name(W->type));
            return -1;
        }
        j.dst = dst;
        qpool_run(m->pool, pack_worker, &j);
        model_release_pages(m, W->data, bytes);
        W->data = dst;
    } else {
        /* in place: a thread that could not get its group copy left its groups as they were, so
         * the matrix is half rearranged; the load fails (the model is freed, nothing reads it) */
        qpool_run(m->pool, pack_worker, &j);
        if (j.failed) return qerr(e, "out of memory: %zu bytes to rearrange a matrix for decoding", group), -1;
    }
    W->il = il;
    if (also) *also = *W;
    m->n_repacked++;
    m->repacked_bytes += (double)bytes;
    return 0;
}

int model_repack(qwen3_model *m, qwen3_err *e) {
    const char *env = getenv("QWEN3_REPACK");
    if ((env && !strcmp(env, "0")) || m->batch_variant) return 0;
    int tied = m->lm_head.data == m->embed.data;
    /* the compact output layer (head.c) computes the logits from its own copy of the rows: the full
     * one is then read only by the embedding lookup, which row-major serves as well */
    if (m->lm_head.data && !m->head_c.data && repack_one(m, &m->lm_head, tied ? &m->embed : NULL, e)) return -1;
    for (int l = m->l0; l < m->l1; l++) {
        layer_weights *L = &m->layers[l];
        kmat *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t i = 0; i < sizeof mats / sizeof *mats; i++)
            if (repack_one(m, mats[i], NULL, e)) return -1;
        if (!L->is_moe) continue;
        for (int x = 0; x < m->c.num_experts; x++)
            if (repack_one(m, &L->egate[x], NULL, e) || repack_one(m, &L->eup[x], NULL, e) ||
                repack_one(m, &L->edown[x], NULL, e))
                return -1;
    }
    return 0;
}
