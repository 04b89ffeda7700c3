/* model.h - the loaded model: config, typed views of the weights (into the mapped safetensors files),
 * RoPE tables, the thread pool. Internal to the library; the public handle is qwen3_model. */
#ifndef QWEN3_MODEL_MODEL_H
#define QWEN3_MODEL_MODEL_H

#include "base/pool.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "kernels/kernels.h"
#include "qwen3.h"

/* One rank's share of every layer under tensor / expert parallelism (model/shard.c). */
typedef struct tp_share {
    int nh, h0;           /* query heads computed here: [h0, h0 + nh) */
    int nkv, kv0;         /* the key/value heads they read: [kv0, kv0 + nkv) (a kv head is held by
                             every rank that has one of its query heads) */
    int ff, ff0;          /* dense MLP intermediate columns here: [ff0, ff0 + ff) */
    int moe_ff, moe_ff0;  /* each expert's intermediate columns here (TP; EP and one process: all) */
    int e0, e1;           /* the experts held here, [e0, e1) (EP; otherwise all) */
} tp_share;

typedef struct layer_weights {
    float *attn_norm;     /* [hidden]   input_layernorm */
    float *q_norm;        /* [head_dim] per-head RMSNorm of q (QK-Norm) */
    float *k_norm;        /* [head_dim] */
    float *ffn_norm;      /* [hidden]   post_attention_layernorm */
    kmat wq;              /* [heads*head_dim, hidden] */
    kmat wk, wv;          /* [kv_heads*head_dim, hidden] */
    kmat wo;              /* [hidden, heads*head_dim] */
    int is_moe;
    kmat gate, up;        /* dense: [intermediate, hidden] */
    kmat down;            /* dense: [hidden, intermediate] */
    kmat router;          /* MoE: [experts, hidden] */
    kmat *egate, *eup;    /* MoE: [experts] of [moe_intermediate, hidden] */
    kmat *edown;          /* MoE: [experts] of [hidden, moe_intermediate] */
} layer_weights;

struct qwen3_model {
    qwen3_config c;
    char *dir;
    st_file *files;       /* the mapped safetensors files */
    int n_files;
    gguf_file *gfiles;    /* or the mapped GGUF file(s) (all parts of a split set) */
    int n_gfiles;
    int drop_file_pages;  /* model_release_pages also evicts the files' copied pages from the page
                             cache (model_file_cache_policy) */
    double mapped_bytes, dropped_bytes; /* the files' bytes; those evicted so */
    kmat embed;           /* [vocab, hidden] */
    kmat lm_head;         /* [vocab, hidden]; the embedding when tied */
    kmat head_c;          /* the compact output layer (head.c): the D distinct rows of lm_head, the
                             last row last; rows 0 when not in use */
    int32_t *head_map;    /* [D] the id of each of head_c's rows; NULL when not in use */
    float *final_norm;    /* [hidden] */
    layer_weights *layers;
    float *inv_freq;      /* [head_dim/2] RoPE frequencies (YaRN-blended when configured), float32 */
    float rope_mscale;    /* attention factor applied to cos and sin (1 without YaRN) */
    qpool *pool;
    kcpu cpu;              /* the kernel table of the products (kernels.h), filled at load for this CPU */
    int fast;             /* fast kernels: bf16 prefill, int8 decode for quantized weights (qwen3_load_opts.fast) */
    int batch_variant;    /* the bf16 GEMM over many tokens, results depend on the batch (qwen3_load_opts) */
    qwen3_dtype kv_type;  /* KV cache values: F32 on the exact path, F16 on the fast path, or as asked (F16, Q8_0) */
    qwen3_dtype quant;    /* the type the layers were quantized to at load (F32: none) */
    struct model_profile *prof; /* NULL, or per-step times of forward passes (model/profile.h; owned) */
    int n_repacked;       /* matrices interleaved for the one-token kernels (model/repack.c) */
    double repacked_bytes;
    void **owned;         /* [n_owned] buffers of weights quantized or rearranged at load time */
    int n_owned, cap_owned;
    uint8_t *slab;        /* model_alloc_owned carves requests under 2 MiB from here (one of owned) */
    size_t slab_left;     /* bytes of slab not yet handed out */
    /* pipeline parallelism over MPI (mpi/pp.h); one process: pp_id 0, pp_size 1, all layers */
    int pp_id;            /* the model's id across the ranks */
    int pp_rank, pp_size;
    int l0, l1;           /* the layers this rank computes, [l0, l1) */
    /* tensor / expert parallelism (qwen3_load_opts.mpi_mode TP or EP): every rank runs every layer
     * on its share of it, and the partial block outputs are summed across the ranks (mpi/pp.h
     * pp_allreduce). One process, or a pipeline: tp_size 1 and sh is the whole of each layer. */
    int mpi_mode;         /* QWEN3_MPI_PP, QWEN3_MPI_TP or QWEN3_MPI_EP */
    int tp_rank, tp_size;
    tp_share sh;
    /* the forward pass's working buffers, kept from one call to the next (forward.c, workspace.c) */
    struct fwd_ws *ws;    /* NULL until the first pass */
    long ws_grows;        /* buffers (re)allocated so far (tests check that warm passes add none) */
    size_t ws_keep;       /* bytes the workspace may keep after a pass; a bigger one frees it all */
};

/* One workspace buffer (workspace.c): grown on demand, never shrunk, contents not kept. */
typedef struct wbuf {
    void *p;
    size_t cap;
} wbuf;
/* b's memory for `bytes` (64-byte aligned), reallocated only when it holds less; counts a
 * reallocation in *grows (may be NULL). NULL when bytes is 0 or out of memory. Under
 * AddressSanitizer the bytes past `bytes` are poisoned until the next take. */
void *wbuf_take(wbuf *b, size_t bytes, long *grows);
void wbuf_free(wbuf *b);
/* Frees the forward workspace (forward.c); the next pass starts a new one. */
void model_ws_free(qwen3_model *m);
/* What the workspace keeps by default: decode steps and prompts up to ~4,000 tokens on the 0.6B
 * shape (~60 KiB of buffers per token), ~1,300 on the 8B (~190 KiB) stay allocation-free; a
 * longer prompt's buffers are given back after its pass. */
#define MODEL_WS_KEEP ((size_t)256 << 20)

/* qwen3_model_load on this rank alone; pp_id > 0: as rank pp_rank() of a pipeline, computing only
 * its share of the layers (model.c). */
qwen3_model *model_load_local(const char *dir, const qwen3_load_opts *o, int pp_id, qwen3_err *e);
/* qwen3_forward's work on this rank: on rank 0 the embedding, its layers and the logits; on the
 * others their layers between receiving and sending the residual stream (forward.c). */
int model_forward(qwen3_model *m, qwen3_batch_item *items, int n_items, qwen3_err *e);
/* Loads and validates every tensor against the config (model/weights.c). */
int model_load_weights(qwen3_model *m, qwen3_err *e);
void model_free_weights(qwen3_model *m);
/* Quantizes the linear weights to type q (Q8_0 or Q4) at load time (model/quantize.c): every layer
 * matrix but the MoE router (small, and routing is sensitive) to q, the embedding / lm_head to Q8_0.
 * A matrix whose width is not a multiple of q's block falls back to Q8_0, then to its stored type.
 * Uses the pool; releases the source pages of the mapping. */
int model_quantize(qwen3_model *m, qwen3_dtype q, const qwen3_load_opts *o, qwen3_err *e);
/* The type model_quantize gives a matrix of `cols` columns in role "layer" (0) or "embedding" (1). */
qwen3_dtype model_quant_type(qwen3_dtype q, qwen3_dtype stored, int64_t cols, int embedding);
/* Rearranges the layer matrices and the lm_head for the one-token kernels where the kernel table has
 * interleaved ones (model/repack.c; kmat.il); off under batch_variant or with QWEN3_REPACK=0. */
int model_repack(qwen3_model *m, qwen3_err *e);
/* A 64-byte-aligned buffer of `bytes` that the model owns (freed with it): weights made at load time
 * (quantized, or a rank's copied-out columns). NULL when out of memory (the caller names what for). */
void *model_alloc_owned(qwen3_model *m, size_t bytes);
/* The compact output layer (head.c): built when want (or QWEN3_COMPACT_HEAD=1) and lm_head has
 * under a quarter of distinct rows; nothing otherwise. */
int model_compact_head(qwen3_model *m, int want, qwen3_err *e);
/* Drops the pages wholly inside [p, p+n) from this process's mapping (a later read would fault them
 * back in): a source matrix that was copied out. The file's pages stay in the page cache, unless
 * m->drop_file_pages: then they are evicted from it too (posix_fadvise). */
void model_release_pages(qwen3_model *m, const void *p, size_t n);
/* the mapped model file (safetensors or GGUF) whose mapping holds p; NULL: none (the model's own memory) */
const qfile *model_file_of(const qwen3_model *m, const void *p);
/* Whether copied pages leave the page cache: QWEN3_FILE_CACHE=drop or keep, else (auto) when the
 * mapped files are over half of physical memory (file_bytes, phys_bytes; 0 where unknown). */
int model_file_cache_policy(const char *env, double file_bytes, double phys_bytes);
/* Tensor / expert parallelism (model/shard.c): rank r of n's share of every layer under mode (the
 * whole layer for n 1); model_shard cuts every layer matrix to m->sh: rows of
 * q/k/v, gate/up and experts' gate/up are views into the mapping; the columns of o_proj, down_proj
 * and experts' down_proj are copied out (whole blocks of a block-quantized type: a split inside a
 * block is refused, naming the tensor) and the mapping's pages behind them released. */
tp_share model_share(const qwen3_config *c, int mode, int r, int n);
/* The bytes of an HF-named tensor of `bytes` bytes that this rank reads and keeps: all, none, or the
 * fraction of its rows / columns / experts model_shard leaves it (by the tensor's name; pipeline:
 * its layers [l0, l1); rank 0 also the embedding, final norm and lm_head). For messages. */
double model_share_bytes(const qwen3_model *m, const char *name, double bytes);
int model_shard(qwen3_model *m, qwen3_err *e);
/* RoPE frequency table from the config (model/rope.c). */
int model_init_rope(qwen3_model *m, qwen3_err *e);
/* cos/sin of position pos for the half-dimension table (length head_dim/2 each). */
void model_rope_at(const qwen3_model *m, int pos, float *cos, float *sin);

#endif
