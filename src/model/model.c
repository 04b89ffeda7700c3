/* model.c - qwen3_model_load / free / describe: config.json (or a GGUF file's metadata), weights,
 * RoPE table, thread pool. */
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/file.h"
#include "kernels/attn_q.h"
#include "format/mdir.h"
#include "model/config.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "mpi/pp.h"
#include "model/seq.h"

/* Maps a GGUF file, or every part of a split set (NAME-00001-of-0000N.gguf names the others). */
static int model_open_gguf(qwen3_model *m, const char *first, qwen3_err *e) {
    int n = mdir_gguf_split_count(first);
    m->gfiles = calloc((size_t)n, sizeof *m->gfiles);
    if (!m->gfiles) return qerr(e, "out of memory");
    for (int k = 1; k <= n; k++) {
        char p[4096];
        if (n == 1) snprintf(p, sizeof p, "%s", first);
        else if (mdir_gguf_split_path(first, k, p, sizeof p, e)) return -1;
        if (!qfile_exists(p)) return qerr(e, "%s: part %d of %d of the split GGUF set is missing (%s)", first, k, n, p);
        if (gguf_open(&m->gfiles[k - 1], p, e)) return -1;
        m->n_gfiles = k;
        if (n > 1) {
            int64_t no, cnt;
            int r1 = gguf_get_int(&m->gfiles[k - 1], "split.no", 0, 65535, &no, e);
            int r2 = r1 < 0 ? -1 : gguf_get_int(&m->gfiles[k - 1], "split.count", 0, 65535, &cnt, e);
            if (r1 < 0 || r2 < 0) return -1;
            if (r1 && r2 && (no != k - 1 || cnt != n))
                return qerr(e, "%s: metadata 'split.no' %lld / 'split.count' %lld disagree with its name (part %d of %d)", p,
                            (long long)no, (long long)cnt, k, n);
        }
    }
    return 0;
}

static int trained_ctx(const qwen3_config *c) {
    if (c->yarn) return c->yarn_original_max_position_embeddings;
    return c->max_position_embeddings == 40960 ? 32768 : c->max_position_embeddings;
}

int qwen3_model_trained_ctx(const qwen3_model *m) { return trained_ctx(&m->c); }
int qwen3_model_past_trained(const qwen3_model *m, long n) {
    return !m->c.yarn && !m->c.dca && n > trained_ctx(&m->c);
}
int qwen3_model_max_ctx(const qwen3_model *m) { return model_max_positions(m); }
qwen3_dtype qwen3_model_kv_type(const qwen3_model *m) { return m->kv_type; }

int qwen3_model_rope(const qwen3_model *m, float *inv_freq, int n, float *attention_factor) {
    int half = m->c.head_dim / 2;
    for (int i = 0; i < n && i < half; i++) inv_freq[i] = m->inv_freq[i];
    if (attention_factor) *attention_factor = m->rope_mscale;
    return half;
}

/* qwen3_load_opts.yarn_factor / yarn_original over the checkpoint's scaling, with transformers'
 * defaults for what the flag does not say (_compute_yarn_parameters: beta_fast 32, beta_slow 1,
 * attention_factor 0.1 ln(factor) + 1; the correction range floored/ceiled). */
static int apply_rope_override(qwen3_model *m, const qwen3_load_opts *o, qwen3_err *e) {
    qwen3_config *c = &m->c;
    if (o->yarn_factor < 0) { c->yarn = 0; return 0; }
    if (o->yarn_factor == 0) return 0;
    if (!(o->yarn_factor > 1 && o->yarn_factor <= 1024))
        return qerr(e, "YaRN factor %g out of range (more than 1, at most 1024)", o->yarn_factor);
    int orig = o->yarn_original > 0 ? o->yarn_original : trained_ctx(c);
    if (o->yarn_original < 0 || (double)orig * o->yarn_factor > (double)(1 << 30))
        return qerr(e, "YaRN original context %d x factor %g is out of range", orig, o->yarn_factor);
    c->yarn = 1;
    c->yarn_factor = o->yarn_factor;
    c->yarn_original_max_position_embeddings = orig;
    c->yarn_beta_fast = 32;
    c->yarn_beta_slow = 1;
    c->yarn_attention_factor = 0.1 * log(o->yarn_factor) + 1.0;
    return 0;
}

/* qwen3_load_opts.dca_* over config.json's dual_chunk_attention_config. DCA computes its own RoPE
 * positions (plain RoPE at positions below chunk_size), so it replaces YaRN as vLLM's get_rope does
 * when a config has both; asked for together by the caller, they are refused. */
static int apply_dca_override(qwen3_model *m, const qwen3_load_opts *o, qwen3_err *e) {
    qwen3_config *c = &m->c;
    if (o->dca_chunk < 0) c->dca = 0;
    if (o->dca_chunk > 0) {
        int local = o->dca_local > 0 ? o->dca_local : o->dca_chunk / 8;
        if (o->dca_chunk < 2 || local >= o->dca_chunk || o->dca_original < 0)
            return qerr(e, "Dual Chunk Attention: chunk size %d with local size %d: the chunk size must exceed the "
                           "local size (a chunk holds chunk - local positions)", o->dca_chunk, local);
        c->dca = 1;
        c->dca_chunk_size = o->dca_chunk;
        c->dca_local_size = local;
        c->dca_original_max_position_embeddings = o->dca_original;
    }
    if (c->dca && o->yarn_factor > 0)
        return qerr(e, "Dual Chunk Attention (%s) and YaRN were both asked for; DCA keeps RoPE's positions within "
                       "a chunk by itself: choose one (--dca, or --rope-scaling with --dca off)",
                    o->dca_chunk > 0 ? "--dca" : "config.json dual_chunk_attention_config");
    if (c->dca) c->yarn = 0;
    return 0;
}

/* The embedding is the one table a decode step reads a row of rather than all of. Where it stays in
 * the file's mapping (untied, or never copied at load), the first step that meets a token waits on
 * a page fault for its row, and on the disk when the kernel has evicted the page: measured
 * 2026-12-07 on the 30B-A3B x4 (BF16: 622 MB of rows, 6 GB of experts streaming through the cache
 * at load), 1.2-2.9 ms of a 19-34 ms one-thread step, the thread idle (cpu 86%), 64 us warm. So the
 * table is mapped at load, as llama.cpp maps its whole file (MAP_POPULATE): synchronous where the
 * kernel has MADV_POPULATE_READ (5.14), else read ahead in the background (MADV_WILLNEED). Advice
 * only: a refusal leaves the faults, never an error. */
static void map_embedding(qwen3_model *m) {
    if (!model_file_of(m, m->embed.data)) return; /* copied at load: in memory already */
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0) return;
    uintptr_t b = (uintptr_t)m->embed.data & ~(uintptr_t)(pg - 1);
    uintptr_t end = (uintptr_t)m->embed.data + m->embed.row_bytes * (size_t)m->embed.rows;
    size_t n = (size_t)(end - b);
#ifdef MADV_POPULATE_READ
    if (!madvise((void *)b, n, MADV_POPULATE_READ)) return;
#endif
    (void)madvise((void *)b, n, MADV_WILLNEED);
}

qwen3_model *qwen3_model_load(const char *dir, const qwen3_load_opts *opts, qwen3_err *e) {
    /* under MPI (mpi/pp.h), rank 0 has every rank load its share of the layers too */
    int id = opts && opts->mpi_local ? 0 : pp_announce_load(dir, opts);
    qwen3_model *m = model_load_local(dir, opts, id, e);
    if (pp_collect_load(id, m, e)) {
        if (m) m->pp_id = 0; /* the other ranks freed theirs already */
        qwen3_model_free(m);
        return NULL;
    }
    return m;
}

qwen3_model *model_load_local(const char *dir, const qwen3_load_opts *opts, int pp_id, qwen3_err *e) {
    qwen3_load_opts o = {0};
    if (opts) o = *opts;
    qwen3_model *m = calloc(1, sizeof *m);
    if (!m) { qerr(e, "out of memory"); return NULL; }
    m->ws_keep = MODEL_WS_KEEP;
    m->dir = strdup(dir);
    char path[4096];
    if (!m->dir) { qerr(e, "out of memory"); goto fail; }
    mdir md; /* which files dir holds: format/mdir.c decides */
    if (mdir_open(dir, &md, e)) goto fail;
    if (md.kind == MDIR_GGUF) {
        if (model_open_gguf(m, md.gguf, e) || qwen3_config_gguf(m->gfiles, m->n_gfiles, &m->c, e)) goto fail;
    } else {
        if (md.kind != MDIR_HF) {
            qerr(e, "%s: no config.json nor a .gguf file (is this a Hugging Face model directory or a GGUF file?)", dir);
            goto fail;
        }
        if (mdir_path(&md, MDIR_CONFIG, path, sizeof path, e) || qwen3_config_load(path, &m->c, e)) goto fail;
    }
    m->pp_id = pp_id;
    m->pp_rank = pp_id ? pp_rank() : 0;
    m->pp_size = pp_id ? pp_size() : 1;
    m->mpi_mode = o.mpi_mode;
    if (o.mpi_mode < QWEN3_MPI_PP || o.mpi_mode > QWEN3_MPI_EP) {
        qerr(e, "MPI mode %d is not one of qwen3_mpi_mode (PP, TP, EP)", o.mpi_mode);
        goto fail;
    }
    /* tensor / expert parallelism: every rank runs every layer on its share (model/shard.c) */
    if (m->mpi_mode != QWEN3_MPI_PP) {
        m->tp_rank = m->pp_rank;
        m->tp_size = m->pp_size;
    } else m->tp_size = 1;
    m->sh = model_share(&m->c, m->mpi_mode, m->tp_rank, m->tp_size);
    if (m->mpi_mode == QWEN3_MPI_PP && m->pp_size > m->c.num_layers) {
        qerr(e, "%s: %d MPI ranks for %d layers: a pipeline needs at least one layer per rank", dir, m->pp_size,
             m->c.num_layers);
        goto fail;
    }
    /* contiguous shares, the larger ones last (rank 0 also holds the embedding and the lm_head) */
    m->l0 = m->tp_size > 1 ? 0 : (int)((long)m->c.num_layers * m->pp_rank / m->pp_size);
    m->l1 = m->tp_size > 1 ? m->c.num_layers : (int)((long)m->c.num_layers * (m->pp_rank + 1) / m->pp_size);
    if (apply_rope_override(m, &o, e) || apply_dca_override(m, &o, e)) goto fail;
    if (o.quant != QWEN3_F32 && !kq_is_quant(o.quant)) {
        qerr(e, "cannot quantize to %s at load time (choose a block type: Q8_0, Q4, Q4_K, Q6_K, ...)", qwen3_dtype_name(o.quant));
        goto fail;
    }
    kcpu_init(&m->cpu, k_cpu_env_features());
    m->pool = qpool_new(o.n_threads > 0 ? o.n_threads : qpool_default_threads());
    if (!m->pool) { qerr(e, "cannot start threads"); goto fail; }
    if (model_load_weights(m, e)) goto fail;
    for (int i = 0; i < m->n_files; i++) m->mapped_bytes += (double)m->files[i].map.size;
    for (int i = 0; i < m->n_gfiles; i++) m->mapped_bytes += (double)m->gfiles[i].map.size;
    m->drop_file_pages = model_file_cache_policy(getenv("QWEN3_FILE_CACHE"), m->mapped_bytes,
                                                 (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE));
    if (model_shard(m, e)) goto fail;
    if (o.quant != QWEN3_F32 && model_quantize(m, o.quant, &o, e)) goto fail;
    /* quantized weights have no exact path to keep: they always take the fast kernels */
    m->fast = o.fast || kq_is_quant(m->layers[m->l0].wq.type);
    m->batch_variant = m->fast && o.batch_variant;
    if (model_compact_head(m, o.compact_head, e)) goto fail; /* reads the head's rows: before repack */
    if (model_repack(m, e)) goto fail; /* the decode kernels' layout, where they have one (repack.c) */
    if (m->pp_rank == 0) map_embedding(m);
    switch (o.kv_type) {
    case QWEN3_KV_DEFAULT: m->kv_type = m->fast ? QWEN3_F16 : QWEN3_F32; break;
    case QWEN3_KV_F32: m->kv_type = QWEN3_F32; break;
    case QWEN3_KV_F16: m->kv_type = QWEN3_F16; break;
    case QWEN3_KV_Q8_0: m->kv_type = QWEN3_Q8_0; break;
    case QWEN3_KV_Q4_0: m->kv_type = QWEN3_Q4_0; break;
    default:
        qerr(e, "KV cache type %d is not one of qwen3_kv_type (DEFAULT, F32, F16, Q8_0, Q4_0)", (int)o.kv_type);
        goto fail;
    }
    if ((m->kv_type == QWEN3_Q8_0 || m->kv_type == QWEN3_Q4_0) && m->c.head_dim % 32) {
        qerr(e, "%s: head_dim %d is not a multiple of 32, so the KV cache cannot be %s (blocks of 32)", dir,
             m->c.head_dim, qwen3_dtype_name(m->kv_type));
        goto fail;
    }
    if (kqq_takes(m->kv_type) && m->c.head_dim > KQQ_MAXD) {
        qerr(e, "%s: head_dim %d is over %d, the most a %s KV cache takes (its scores' quantized queries); use --kv f16",
             dir, m->c.head_dim, KQQ_MAXD, qwen3_dtype_name(m->kv_type));
        goto fail;
    }
    if (model_init_rope(m, e)) goto fail;
    return m;
fail:
    m->pp_id = 0; /* pp_collect_load tells the other ranks */
    qwen3_model_free(m);
    return NULL;
}

void qwen3_model_free(qwen3_model *m) {
    if (!m) return;
    pp_model_freed(m->pp_id);
    model_ws_free(m);
    qpool_free(m->pool);
    model_free_weights(m);
    free(m->inv_freq);
    free(m->prof); /* a profile begun and never ended */
    qwen3_config_free(&m->c);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->dir);
    free(m);
}

/* Buffers the model owns until it is freed (weights quantized or rearranged at load), on 2 MiB pages
 * (k_alloc_huge; kernels/repack.c says why). A request of over 16 MiB gets its own buffer, in whole
 * huge pages (at most 2 MiB more: a few percent of it at worst). Smaller ones (every matrix of the
 * 0.6B shape, every expert of the 30B-A3B's) are carved one after another from 128 MiB slabs, so they
 * share huge pages rather than each ending in a part of one: the part the advice had left on 4 KiB
 * pages until 2026-12-07, when matrices of 2-16 MiB got their own buffers (the 0.6B Q8_0: 78% of its
 * weights on huge pages, 98% in slabs; the 30B-A3B x4 BF16: 71%, 99.8%). A slab's unused tail is
 * address space only, never touched, but for the rest of the huge page its last piece ends in: ~1
 * MiB a slab, under 1% of the weights. */
#define SLAB_BYTES (64 * K_HUGE_PAGE)
#define OWN_MIN (8 * K_HUGE_PAGE)

void *model_alloc_owned(qwen3_model *m, size_t bytes) {
    size_t cap = (size_t)m->cap_owned;
    if (arr_grow(&m->owned, &cap, (size_t)m->n_owned + 1, sizeof *m->owned) || cap > INT_MAX) return NULL;
    m->cap_owned = (int)cap;
    if (bytes > OWN_MIN) {
        void *buf = k_alloc_huge(bytes);
        if (buf) m->owned[m->n_owned++] = buf;
        return buf;
    }
    size_t need = (bytes + 63) & ~(size_t)63; /* 64-byte aligned pieces, as the kernels load them */
    if (need == 0) need = 64;
    if (!m->slab || m->slab_left < need) {
        uint8_t *slab = k_alloc_huge(SLAB_BYTES);
        if (!slab) return NULL;
        m->owned[m->n_owned++] = slab;
        m->slab = slab;
        m->slab_left = SLAB_BYTES;
    }
    void *buf = m->slab;
    m->slab += need;
    m->slab_left -= need;
    return buf;
}

/* A model file copied into the model's own memory (repacked, quantized or sharded at load) is read
 * from disk once: when the file is large against the machine's memory, its page cache and the copy
 * cannot both stay, and the kernel reclaims the cache 4 KiB page by 4 KiB page as the copy grows,
 * which leaves physical memory too fragmented for the copy's 2 MiB pages (k_alloc_huge). Measured
 * on the whole 30B-A3B Q4_K_M (18.5 GB file, 23 GiB machine, three loads in a row each way,
 * 2026-12-07): 14.8-16.9 of its 18.3 GB of weights on huge pages when the cache is kept, all 18.3
 * when each copied matrix's pages are evicted at once; loads as fast, two-thread decode 21.0-22.9 ->
 * 24.6-25.2 tok/s, one thread within the host's noise (docs/speed-log.md, "The file's pages leave the cache
 * once copied"). Evicting costs a later load
 * nothing that the kernel would not have evicted anyway; for a file that fits twice over, the
 * cache is kept (a second load of a small model then reads memory, not the disk). */
int model_file_cache_policy(const char *env, double file_bytes, double phys_bytes) {
    if (env && !strcmp(env, "drop")) return 1;
    if (env && !strcmp(env, "keep")) return 0;
    return phys_bytes > 0 && file_bytes > 0.5 * phys_bytes;
}

const qfile *model_file_of(const qwen3_model *m, const void *p) {
    const uint8_t *u = p;
    for (int i = 0; i < m->n_files; i++)
        if (u >= m->files[i].map.data && u < m->files[i].map.data + m->files[i].map.size) return &m->files[i].map;
    for (int i = 0; i < m->n_gfiles; i++)
        if (u >= m->gfiles[i].map.data && u < m->gfiles[i].map.data + m->gfiles[i].map.size) return &m->gfiles[i].map;
    return NULL;
}

void model_release_pages(qwen3_model *m, const void *p, size_t n) {
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || !p) return;
    uintptr_t b = ((uintptr_t)p + (uintptr_t)pg - 1) & ~(uintptr_t)(pg - 1), e = ((uintptr_t)p + n) & ~(uintptr_t)(pg - 1);
    if (e <= b) return;
    madvise((void *)b, e - b, MADV_DONTNEED);
    /* unmapped here, the clean pages go from the cache at once (posix_fadvise on the file: cheaper
     * than MADV_PAGEOUT's reclaim, which had added ~20 s to the 30B-A3B's load) */
    const qfile *f = m->drop_file_pages ? model_file_of(m, p) : NULL;
    int fd = f ? open(f->path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        if (!posix_fadvise(fd, (off_t)(b - (uintptr_t)f->data), (off_t)(e - b), POSIX_FADV_DONTNEED)) m->dropped_bytes += (double)(e - b);
        close(fd);
    }
}

const qwen3_config *qwen3_model_config(const qwen3_model *m) { return &m->c; }
int qwen3_model_layer_is_moe(const qwen3_model *m, int layer) {
    return m->c.is_moe && layer >= 0 && layer < m->c.num_layers && m->c.layer_is_moe && m->c.layer_is_moe[layer];
}
int qwen3_model_threads(const qwen3_model *m) { return qpool_size(m->pool); }

static double mat_bytes(const kmat *k) { return (double)k->rows * (double)k->row_bytes; }

int qwen3_model_describe(const qwen3_model *m, char *buf, size_t n) {
    const qwen3_config *c = &m->c;
    double total = 0, active = 0, bytes = 0, active_bytes = 0;
    double emb = (double)c->vocab_size * c->hidden_size;
    total += emb;
    bytes += mat_bytes(&m->embed);
    int tied = m->lm_head.data == m->embed.data;
    if (!tied) { total += emb; bytes += mat_bytes(&m->lm_head); }
    active = total;
    /* a token reads one embedding row, not the table, but all of the lm_head (tied or not) */
    active_bytes = bytes - mat_bytes(&m->embed) + (tied ? mat_bytes(&m->lm_head) : 0);
    int n_moe = 0;
    for (int l = 0; l < c->num_layers; l++) {
        const layer_weights *L = &m->layers[l];
        double attn = (double)(c->num_heads + c->num_kv_heads) * c->head_dim * c->hidden_size * 2; /* q, k, v, o */
        double ab = mat_bytes(&L->wq) + mat_bytes(&L->wk) + mat_bytes(&L->wv) + mat_bytes(&L->wo);
        total += attn; active += attn; bytes += ab; active_bytes += ab;
        if (L->is_moe) {
            n_moe++;
            double per = 3.0 * c->moe_intermediate_size * c->hidden_size, pb = mat_bytes(&L->egate[0]) * 3;
            double router = (double)c->num_experts * c->hidden_size;
            total += per * c->num_experts + router;
            active += per * c->num_experts_per_tok + router;
            bytes += pb * c->num_experts + mat_bytes(&L->router);
            active_bytes += pb * c->num_experts_per_tok + mat_bytes(&L->router);
        } else {
            double mlp = 3.0 * c->intermediate_size * c->hidden_size;
            double mb = mat_bytes(&L->gate) + mat_bytes(&L->up) + mat_bytes(&L->down);
            total += mlp; active += mlp; bytes += mb; active_bytes += mb;
        }
    }
    int k = snprintf(buf, n,
        "model:        %s\n"
        "architecture: %s\n"
        "layers:       %d (%d MoE)\n"
        "hidden:       %d\n"
        "heads:        %d query, %d key/value, head_dim %d\n"
        "mlp:          %s%d\n"
        "experts:      %d, %d active per token, width %d, norm_topk_prob %s\n"
        "vocab:        %d, %s embeddings\n"
        "context:      %d positions, rope_theta %g%s\n"
        "weights:      embed %s, lm_head %s, attention %s, mlp %s%s%s (layer 0)\n"
        "compute:      %s, KV cache %s\n"
        "parameters:   %.3f B total, %.3f B active per token\n"
        "memory:       %.1f MiB of weights mapped, %.1f MiB read per token\n"
        "threads:      %d, kernels %s\n",
        m->dir, c->is_moe ? "Qwen3MoeForCausalLM (qwen3_moe)" : "Qwen3ForCausalLM (qwen3)", c->num_layers, n_moe,
        c->hidden_size, c->num_heads, c->num_kv_heads, c->head_dim, c->is_moe ? "dense layers " : "SwiGLU ",
        c->intermediate_size, c->num_experts, c->num_experts_per_tok, c->moe_intermediate_size,
        c->norm_topk_prob ? "true" : "false", c->vocab_size, c->tie_word_embeddings ? "tied" : "untied",
        c->max_position_embeddings, c->rope_theta, c->yarn ? ", YaRN" : "",
        qwen3_dtype_name(m->embed.type), qwen3_dtype_name(m->lm_head.type), qwen3_dtype_name(m->layers[0].wq.type),
        qwen3_dtype_name(m->layers[0].is_moe ? m->layers[0].egate[0].type : m->layers[0].gate.type),
        m->layers[0].is_moe ? ", router " : "", m->layers[0].is_moe ? qwen3_dtype_name(m->layers[0].router.type) : "",
        !m->fast ? "exact (float32 activations)"
        : m->batch_variant ? "fast, batch-variant (bf16 GEMM over >= 16 tokens, int8 activations for fewer)"
                           : "fast, batch-invariant (int8 activations for quantized weights, float32 for float weights)",
        qwen3_dtype_name(m->kv_type),
        total / 1e9, active / 1e9, bytes / 1048576.0, active_bytes / 1048576.0, qpool_size(m->pool),
        kcpu_name(&m->cpu));
    if (k >= 0 && m->n_repacked && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "layout:       %d matrices (%.1f MiB) interleaved by rows for the one-token kernels "
                      "(QWEN3_REPACK=0 keeps them row-major)\n", m->n_repacked, m->repacked_bytes / 1048576.0);
    if (k >= 0 && m->dropped_bytes > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "file cache:   %.1f MiB of the file's pages left the page cache once copied (the model "
                      "files are %.1f MiB; QWEN3_FILE_CACHE=keep keeps them)\n", m->dropped_bytes / 1048576.0,
                      m->mapped_bytes / 1048576.0);
    if (k >= 0 && m->head_map && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "output:       compact, the logits of %lld distinct rows of %d, the last one's copied to the "
                      "rest (QWEN3_COMPACT_HEAD=0 computes them all)\n", (long long)m->head_c.rows, c->vocab_size);
    if (k >= 0 && c->dca && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "dca:          chunk_size %d, local_size %d (chunks of %d positions)%s\n",
                      c->dca_chunk_size, c->dca_local_size, c->dca_chunk_size - c->dca_local_size,
                      c->dca_original_max_position_embeddings ? ", length scaling past original_max_position_embeddings" : "");
    if (k >= 0 && c->yarn && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "yarn:         factor %g, original context %d, attention factor %g\n",
                      c->yarn_factor, c->yarn_original_max_position_embeddings, c->yarn_attention_factor);
    /* tensor / expert parallelism: each rank's share of every layer and its weight bytes */
    for (int r = 0; m->tp_size > 1 && r < m->tp_size && k >= 0 && (size_t)k < n; r++) {
        tp_share s = model_share(c, m->mpi_mode, r, m->tp_size);
        double b = r == 0 ? mat_bytes(&m->embed) + (tied ? 0 : mat_bytes(&m->lm_head)) : 0;
        for (int l = 0; l < c->num_layers; l++) {
            const layer_weights *L = &m->layers[l];
            /* rank 0's matrices are cut to its share: a row's bytes scale with its columns */
            b += (double)s.nh * c->head_dim * (L->wq.row_bytes + L->wo.row_bytes * (double)c->hidden_size / L->wo.cols);
            b += 2.0 * s.nkv * c->head_dim * L->wk.row_bytes;
            if (!L->is_moe) {
                b += (double)s.ff * (L->gate.row_bytes + L->up.row_bytes + L->down.row_bytes * (double)c->hidden_size / L->down.cols);
                continue;
            }
            const kmat *g = &L->egate[m->sh.e0], *d = &L->edown[m->sh.e0];
            b += mat_bytes(&L->router) +
                 (double)(s.e1 - s.e0) * s.moe_ff * (2.0 * g->row_bytes + d->row_bytes * (double)c->hidden_size / d->cols);
        }
        k += snprintf(buf + k, n - (size_t)k, "MPI rank %d:   %s: query heads %d-%d (kv %d-%d), MLP columns %d-%d, ", r,
                      m->mpi_mode == QWEN3_MPI_TP ? "tensor parallel" : "expert parallel", s.h0, s.h0 + s.nh - 1, s.kv0,
                      s.kv0 + s.nkv - 1, s.ff0, s.ff0 + s.ff - 1);
        if ((size_t)k < n && c->is_moe)
            k += snprintf(buf + k, n - (size_t)k, "experts %d-%d (columns %d-%d), ", s.e0, s.e1 - 1, s.moe_ff0,
                          s.moe_ff0 + s.moe_ff - 1);
        if ((size_t)k < n)
            k += snprintf(buf + k, n - (size_t)k, "%.1f MiB of weights%s\n", b / 1048576.0,
                          r == 0 ? " + embedding and lm_head" : "");
    }
    /* an MPI pipeline: each rank's layers and the weight bytes it maps and reads (mpi/pp.h) */
    for (int r = 0; m->pp_size > 1 && m->tp_size == 1 && r < m->pp_size && k >= 0 && (size_t)k < n; r++) {
        int l0 = (int)((long)c->num_layers * r / m->pp_size), l1 = (int)((long)c->num_layers * (r + 1) / m->pp_size);
        double b = r == 0 ? mat_bytes(&m->embed) + (tied ? 0 : mat_bytes(&m->lm_head)) : 0;
        for (int l = l0; l < l1; l++) {
            const layer_weights *L = &m->layers[l];
            b += mat_bytes(&L->wq) + mat_bytes(&L->wk) + mat_bytes(&L->wv) + mat_bytes(&L->wo);
            if (L->is_moe) b += mat_bytes(&L->router) + 3 * mat_bytes(&L->egate[0]) * c->num_experts;
            else b += mat_bytes(&L->gate) + mat_bytes(&L->up) + mat_bytes(&L->down);
        }
        k += snprintf(buf + k, n - (size_t)k, "MPI rank %d:   layers %d-%d%s, %.1f MiB of weights%s\n", r, l0, l1 - 1,
                      r == 0 ? " + embedding and lm_head" : "", b / 1048576.0,
                      r == 0 && m->quant != QWEN3_F32 ? " (as stored on rank 0: only its own layers were quantized)" : "");
    }
    return 0;
}
