/* seq.c - one sequence's KV cache.
 *
 * Layout: for each layer, K and V as [kv_heads][capacity][head_dim] of the model's KV type (float32
 * on the exact path, float16 on the fast path: half the memory and half the bytes attention reads;
 * Q8_0 or Q4_0 when asked for: each head_dim row is head_dim / 32 blocks of 32 values and an f16
 * scale), so one head's keys are contiguous over positions.
 *
 * Memory as it fills: the whole capacity (up to max_position_embeddings x YaRN factor) is reserved
 * as address space with MAP_NORESERVE, and the kernel commits a page only when a position in it is
 * first written. So a 131,072-token cache that has used 1,000 tokens holds 1,000 tokens of memory
 * (plus at most one page per layer, head and K/V for the rounding): address space is free on a
 * 64-bit machine, and no copy or re-layout ever happens as the sequence grows (growing in chunks
 * would move or re-point the per-head rows). Cutting the cache back a long way (a server slot that
 * held a long prompt and now serves a short one) returns the pages past the new end with
 * MADV_DONTNEED; cuts of less than 1 MiB in all keep them (they will be written again soon).
 * qwen3_seq_keep_memory turns that off for a sequence that will be refilled (benchmarks): here the
 * first write to a page given back costs ~5 us even when the kernel maps it ahead of the write
 * (MADV_POPULATE_WRITE was tried: the stores stayed as slow; the virtual machine's host backs the
 * page again on first write), so a refill of 512 positions of the 0.6B shape paid ~100 ms.
 * A capacity whose full cache could never fit in this machine's memory is refused up front with the
 * size it would need, rather than failing by the OOM killer hours into a long prompt. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/file.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/seq.h"
#include "mpi/pp.h"

/* cut back by at least this much (all layers, heads, K and V) before giving pages back */
#define SEQ_RELEASE_MIN ((size_t)1 << 20)

static size_t page_size(void) {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

int model_max_positions(const qwen3_model *m) {
    const qwen3_config *c = &m->c;
    long max = c->max_position_embeddings;
    if (c->yarn && c->yarn_factor > 1) {
        /* YaRN extends the trained context by the factor (Qwen3: 32,768 x 4) */
        long ext = (long)(c->yarn_original_max_position_embeddings * c->yarn_factor);
        if (ext > max) max = ext;
    }
    /* DCA keeps every relative position below chunk_size whatever the length (Qwen's 1M configs) */
    if (c->dca && max < (1L << 20)) max = 1L << 20;
    return max > (1L << 30) ? 1 << 30 : (int)max;
}

static qwen3_dtype kv_dtype(const qwen3_model *m, qwen3_kv_type t) {
    switch (t) {
    case QWEN3_KV_F32: return QWEN3_F32;
    case QWEN3_KV_F16: return QWEN3_F16;
    case QWEN3_KV_Q8_0: return QWEN3_Q8_0;
    case QWEN3_KV_Q4_0: return QWEN3_Q4_0;
    default: return m->kv_type;
    }
}

size_t qwen3_kv_cache_bytes(const qwen3_model *m, long n_tokens, qwen3_kv_type type) {
    const qwen3_config *c = &m->c;
    size_t row = k_kv_row_bytes(kv_dtype(m, type), (size_t)c->head_dim);
    return row * (size_t)n_tokens * (size_t)m->sh.nkv * (size_t)c->num_layers * 2; /* this rank's kv heads under MPI TP */
}

qwen3_seq *qwen3_seq_new(qwen3_model *m, int n_ctx, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    long max = model_max_positions(m);
    if (n_ctx <= 0) n_ctx = (int)max;
    if (n_ctx > max) {
        if (!c->yarn && n_ctx <= 4L * c->max_position_embeddings)
            qerr(e, "context %d exceeds the model's %ld positions (for longer contexts switch YaRN on: "
                    "--rope-scaling yarn:4, or rope_scaling in config.json)", n_ctx, max);
        else qerr(e, "context %d exceeds the model's %ld positions", n_ctx, max);
        return NULL;
    }
    size_t bytes = qwen3_kv_cache_bytes(m, n_ctx, QWEN3_KV_DEFAULT);
    long pages = sysconf(_SC_PHYS_PAGES);
    double ram = pages > 0 ? (double)pages * (double)page_size() : 0;
    if (ram > 0 && (double)bytes > ram) {
        qerr(e, "a %d-token %s KV cache needs %.1f GiB and this machine has %.1f GiB of memory: ask for a shorter "
                "context (--ctx %ld fits) or a smaller cache type (--kv q8_0 or q4_0)",
             n_ctx, qwen3_dtype_name(m->kv_type), (double)bytes / 1073741824.0, ram / 1073741824.0,
             (long)(ram / (double)qwen3_kv_cache_bytes(m, 1, QWEN3_KV_DEFAULT)) / 1024 * 1024);
        return NULL;
    }
    qwen3_seq *s = calloc(1, sizeof *s);
    if (!s) { qerr(e, "out of memory"); return NULL; }
    s->m = m;
    s->cap = n_ctx;
    s->kv_type = m->kv_type;
    s->row_bytes = k_kv_row_bytes(m->kv_type, (size_t)c->head_dim);
    s->head_dim = c->head_dim;
    s->head_stride = (size_t)n_ctx;
    s->layer_stride = s->head_stride * (size_t)m->sh.nkv;
    s->bytes = bytes;
    void *p = mmap(NULL, s->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        char note[96];
        qerr(e, "out of memory: cannot reserve %zu MiB of address space for a %d-token %s KV cache: %s%s (ask for a "
                "shorter context with --ctx, or a smaller cache type: --kv q8_0 or q4_0)", s->bytes >> 20, n_ctx,
             qwen3_dtype_name(m->kv_type), strerror(err), qmem_limit_note(note, sizeof note));
        free(s);
        return NULL;
    }
    s->k = p;
    s->v = (uint8_t *)p + s->bytes / 2;
    /* room for the first prompt's tokens now, so that a forward pass on a new sequence does not
     * allocate (only one that passes 256 tokens grows the list) */
    if (seq_reserve_tokens(s, n_ctx < 256 ? n_ctx : 256, e)) {
        qwen3_seq_free(s);
        return NULL;
    }
    return s;
}

void qwen3_seq_free(qwen3_seq *s) {
    if (!s) return;
    pp_seq_freed(s->m->pp_id, s->pp_id); /* the other ranks' mirror of it (mpi/pp.h) */
    munmap(s->k, s->bytes);
    free(s->tokens);
    free(s);
}

int qwen3_seq_len(const qwen3_seq *s) { return s->len; }
int qwen3_seq_capacity(const qwen3_seq *s) { return s->cap; }
const int32_t *qwen3_seq_tokens(const qwen3_seq *s) { return s->tokens; }

size_t qwen3_seq_resident_bytes(const qwen3_seq *s) {
    size_t ps = page_size(), n = (s->bytes + ps - 1) / ps, res = 0;
    unsigned char *vec = malloc(n);
    if (!vec) return 0;
    if (mincore(s->k, s->bytes, vec) == 0)
        for (size_t i = 0; i < n; i++) res += vec[i] & 1;
    free(vec);
    return res * ps;
}

int seq_reserve_tokens(qwen3_seq *s, int n, qwen3_err *e) {
    if (n <= s->tok_cap) return 0;
    int cap = s->tok_cap ? s->tok_cap : 256;
    while (cap < n) cap *= 2;
    int32_t *t = realloc(s->tokens, sizeof *t * (size_t)cap);
    if (!t) return qerr(e, "out of memory");
    s->tokens = t;
    s->tok_cap = cap;
    return 0;
}

/* Gives back the whole pages of every head's K and V rows from position n to the high-water mark
 * (the pages holding positions below n, or the next head's rows, are kept: a rounds up, b down). */
static void release_from(qwen3_seq *s, int n) {
    const qwen3_config *c = &s->m->c;
    if ((size_t)(s->high - n) * s->row_bytes * (size_t)c->num_layers * (size_t)s->m->sh.nkv * 2 < SEQ_RELEASE_MIN) return;
    const uintptr_t ps = page_size();
    for (int l = 0; l < c->num_layers; l++)
        for (int h = 0; h < s->m->sh.nkv; h++) {
            const uint8_t *base[2] = {seq_k(s, l, h, 0), seq_v(s, l, h, 0)};
            for (int i = 0; i < 2; i++) {
                uintptr_t a = ((uintptr_t)base[i] + (size_t)n * s->row_bytes + ps - 1) / ps * ps;
                uintptr_t b = ((uintptr_t)base[i] + (size_t)s->high * s->row_bytes) / ps * ps;
                if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
            }
        }
    s->high = n;
}

int qwen3_seq_truncate(qwen3_seq *s, int n, qwen3_err *e) {
    if (n < 0 || n > s->len) return qerr(e, "cannot cut the cache back to %d positions: it holds %d", n, s->len);
    s->len = n;
    if (s->high > n && !s->keep_pages) release_from(s, n);
    return 0;
}

void qwen3_seq_keep_memory(qwen3_seq *s, int keep) { s->keep_pages = keep != 0; }
