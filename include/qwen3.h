/* qwen3.h - the public C API of the qwen3 engine.
 *
 * Opaque handles, no globals, errors as values: every fallible call takes a `qwen3_err *` (may be
 * NULL) and returns -1 or NULL on failure with a message naming the file, tensor, field or request at
 * fault. Thread-safety: a model may be shared by sequences, but one qwen3_forward call at a time per
 * model (the server batches sequences into one call instead of calling concurrently).
 *
 * Sections: errors; model (load, config); sequences and the batched forward pass; tokenizer; chat. */
#ifndef QWEN3_H
#define QWEN3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; qwen3_version() is the library's (they differ when a program is
 * built against one and run with another). The shared library's soname carries the major number,
 * and while it is 0 the minor one too (libqwen3.so.0.2): before 1.0 a minor version may change the
 * ABI (0.2: qwen3_config's layer array became a pointer; qwen3_gen_params and qwen3_gen_stats grew;
 * 0.3: functions added (the sampler, qwen3_json_string, the measurements section, the loss chart),
 * and qwen3_config / qwen3_load_opts grew at their ends (Dual Chunk Attention, the MPI mode)). */
#define QWEN3_VERSION_MAJOR 0
#define QWEN3_VERSION_MINOR 3
#define QWEN3_VERSION_PATCH 0
#define QWEN3_VERSION "0.3.0"
const char *qwen3_version(void);

/* ---- errors ---------------------------------------------------------------------------------- */

typedef struct qwen3_err {
    int code;       /* 0: no error; -1: error */
    char msg[1024]; /* what is at fault, what was expected, what was found */
} qwen3_err;

/* ---- model ----------------------------------------------------------------------------------- */

/* Storage / compute types of weight matrices. Values are stable (they appear in files we write). */
typedef enum qwen3_dtype {
    QWEN3_F32 = 0,
    QWEN3_F16 = 1,
    QWEN3_BF16 = 2,
    QWEN3_Q8_0 = 3, /* int8, one f16 scale per block of 32 */
    QWEN3_Q4 = 4,   /* 4-bit k-quant style, see kernels/quant.h */
    /* GGUF's types, ggml's block layouts (kernels/quant_ggml.h) */
    QWEN3_Q4_0 = 5,
    QWEN3_Q4_1 = 6,
    QWEN3_Q5_0 = 7,
    QWEN3_Q5_1 = 8,
    QWEN3_Q2_K = 9,
    QWEN3_Q3_K = 10,
    QWEN3_Q4_K = 11,
    QWEN3_Q5_K = 12,
    QWEN3_Q6_K = 13,
    QWEN3_IQ4_NL = 14,
    QWEN3_IQ4_XS = 15,
    QWEN3_DTYPE_COUNT
} qwen3_dtype;

const char *qwen3_dtype_name(qwen3_dtype t);

/* A model's shape. Read it through qwen3_model_config (the model owns it); a program never fills
 * one. Since 0.2 the per-layer MoE flags are a pointer owned by the model (0.1 held a fixed
 * 512-entry array here, so a deeper model could not be described without changing the struct):
 * index it below num_layers, or ask qwen3_model_layer_is_moe. */
typedef struct qwen3_config {
    int is_moe;              /* model_type qwen3_moe */
    int vocab_size;          /* rows of embed_tokens and lm_head */
    int hidden_size;         /* d_model */
    int intermediate_size;   /* dense MLP width */
    int num_layers;
    int num_heads;           /* query heads */
    int num_kv_heads;        /* key/value heads (GQA) */
    int head_dim;
    float rms_norm_eps;
    double rope_theta;
    int max_position_embeddings;
    int tie_word_embeddings;
    /* rope_scaling: yarn or none */
    int yarn;                /* 1 when rope_scaling.type is yarn */
    double yarn_factor;
    int yarn_original_max_position_embeddings;
    double yarn_beta_fast, yarn_beta_slow; /* 32, 1 unless configured */
    double yarn_attention_factor;          /* 0.1*ln(factor)+1 unless configured */
    /* MoE */
    int num_experts;
    int num_experts_per_tok;
    int moe_intermediate_size;
    int norm_topk_prob;
    int decoder_sparse_step;
    const unsigned char *layer_is_moe; /* [num_layers] 1: a sparse (MoE) layer; from decoder_sparse_step,
                                          mlp_only_layers (GGUF: the layers with a router); owned by
                                          whoever filled the config (the model: valid while it lives) */
    /* special ids from config.json (-1 when absent) */
    int bos_token_id, eos_token_id;
    /* Dual Chunk Attention (config.json dual_chunk_attention_config, or qwen3_load_opts.dca_chunk;
     * last so that older programs' offsets hold): chunks of dca_chunk_size - dca_local_size
     * positions; see README "Long context" */
    int dca;                 /* 1 when on */
    int dca_chunk_size, dca_local_size;
    int dca_original_max_position_embeddings; /* 0: no length scaling of the logits */
} qwen3_config;

typedef struct qwen3_model qwen3_model;

/* The KV cache's value type (qwen3_load_opts.kv_type); 0 leaves the choice to the path. */
typedef enum qwen3_kv_type {
    QWEN3_KV_DEFAULT = 0, /* F32 on the exact path, F16 on the fast path */
    QWEN3_KV_F32 = 1,
    QWEN3_KV_F16 = 2,
    QWEN3_KV_Q8_0 = 3,
    QWEN3_KV_Q4_0 = 4,    /* ggml's Q4_0 blocks: 32 values in 4 bits + an f16 scale, ~0.14x F32 */
} qwen3_kv_type;

typedef struct qwen3_load_opts {
    int n_threads;       /* 0: number of physical cores */
    qwen3_dtype quant;   /* QWEN3_F32 (=0) keeps the stored types; any block type (Q8_0, Q4, Q4_K,
                            ...) quantizes the layer matrices at load */
    int quant_mix;       /* 1: llama.cpp's "_M" mix on top of quant (Q4_K -> Q4_K_M, Q5_K -> Q5_K_M):
                            attn_v and ffn_down of some layers and the output layer Q6_K */
    int fast;            /* 0: float weights (F32/F16/BF16) compute with float32 activations and a
                            float32 KV cache, the exact reference path. 1: the KV cache is F16
                            (and with batch_variant, BF16 prefill products run in bf16); logits
                            within ~1e-2 of exact. Quantized weights (loaded or --quant) always
                            take the fast path. */
    qwen3_kv_type kv_type; /* KV cache values: QWEN3_KV_DEFAULT (0) is F32 on the exact path, F16
                            on the fast path; QWEN3_KV_F32, QWEN3_KV_F16 whatever the path, or
                            QWEN3_KV_Q8_0 (blocks of 32 int8 with an f16 scale: ~0.27x the F32
                            cache) or QWEN3_KV_Q4_0 (4-bit blocks of 32: ~0.14x); for the block
                            types head_dim must be a multiple of 32, else the load fails */
    int batch_variant;   /* 0 (default): batch-invariant. Every token's logits are a function of its
                            own sequence alone, bit for bit: the same kernels whether it is computed
                            in a long prefill, a decode step alone or beside other sequences, with or
                            without a cached prefix (README: Determinism). 1: products over >= 16
                            tokens (and MoE experts over >= 4) switch to the bf16 GEMM: faster
                            prefill of BF16 / Q8_0 / Q4 weights on AVX512_BF16 CPUs, but a token's
                            logits then depend on what shares its step. No effect on the exact
                            path, which is always invariant. */
    /* Called (when set) as quantization at load advances: done of total layers (the embedding
     * counts as one), from the loading thread; for a progress display. */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
    int compact_head;    /* 1: when at least 3/4 of the output layer's rows are copies of its last
                            row (a model `qwen3 train` wrote), compute the distinct rows' logits only
                            and give the copies the last row's: the same logits, far fewer
                            multiply-adds (row-major float weights, one process; QWEN3_COMPACT_HEAD=0
                            or 1 overrides it) */
    int mpi_local;       /* under MPI (the qwen3-mpi binary): 1 loads the model in this process only,
                            not split across the ranks (a small draft model); 0: split when there
                            is more than one rank */
    /* RoPE scaling from the caller, over the checkpoint's own (config.json rope_scaling or GGUF
     * rope.scaling.*): yarn_factor > 1 switches YaRN on with that factor (the Qwen3 model card: 4,
     * for 131,072 positions) over yarn_original trained positions (0: qwen3_model_trained_ctx of
     * the checkpoint, 32,768 for Qwen3); beta_fast 32, beta_slow 1 and attention factor
     * 0.1 ln(factor) + 1 as transformers defaults them. yarn_factor < 0 switches a configured
     * scaling off. 0 keeps the checkpoint's. */
    double yarn_factor;
    int yarn_original;
    /* Dual Chunk Attention from the caller, over config.json's dual_chunk_attention_config:
     * dca_chunk > 0 switches it on with that chunk_size, dca_local (0: dca_chunk / 8, vLLM's default
     * ratio) as local_size and dca_original as original_max_position_embeddings (0: none, no length
     * scaling); dca_chunk < 0 switches a configured one off; 0 keeps the checkpoint's. */
    int dca_chunk, dca_local, dca_original;
    int mpi_mode;        /* under MPI with more than one rank, how the model is split (qwen3_mpi_mode):
                            QWEN3_MPI_PP (0) by layers, QWEN3_MPI_TP each layer's heads and MLP
                            columns, QWEN3_MPI_EP as TP but MoE experts whole, a subset per rank */
} qwen3_load_opts;

/* qwen3_load_opts.mpi_mode (README "More than one machine" compares them). */
typedef enum qwen3_mpi_mode { QWEN3_MPI_PP = 0, QWEN3_MPI_TP = 1, QWEN3_MPI_EP = 2 } qwen3_mpi_mode;

/* Loads a Hugging Face model directory (config.json + model.safetensors or sharded safetensors with
 * model.safetensors.index.json). Weights are memory-mapped and validated against config.json before
 * anything is computed. opts may be NULL. */
qwen3_model *qwen3_model_load(const char *dir, const qwen3_load_opts *opts, qwen3_err *err);
void qwen3_model_free(qwen3_model *m);
const qwen3_config *qwen3_model_config(const qwen3_model *m);
/* 1 when layer is a sparse (MoE) layer, 0 when dense or out of range. */
int qwen3_model_layer_is_moe(const qwen3_model *m, int layer);
/* Human-readable multi-line description (architecture, shapes, dtypes, parameter counts, memory). */
int qwen3_model_describe(const qwen3_model *m, char *buf, size_t n);
int qwen3_model_threads(const qwen3_model *m);
/* The context the model was trained on: YaRN's original_max_position_embeddings when scaling is
 * on; otherwise max_position_embeddings, except Qwen3's 40,960, which the model card explains as
 * 32,768 trained positions plus room for 8,192 generated ones (so 32,768). Positions past it
 * without scaling degrade the output. */
int qwen3_model_trained_ctx(const qwen3_model *m);
/* 1 when n positions run past the trained context with no scaling configured (neither YaRN nor Dual
 * Chunk Attention): output degrades there, and a program should warn (the CLI and the server do). */
int qwen3_model_past_trained(const qwen3_model *m, long n);
/* RoPE as loaded: copies min(n, head_dim/2) inverse frequencies (YaRN-blended when scaling is on)
 * and the attention factor applied to cos and sin; returns head_dim/2. */
int qwen3_model_rope(const qwen3_model *m, float *inv_freq, int n, float *attention_factor);
/* The type of the KV cache's values (F32, F16, Q8_0 or Q4_0). */
qwen3_dtype qwen3_model_kv_type(const qwen3_model *m);
/* The positions a sequence may hold (max_position_embeddings, or original x factor under YaRN, or at
 * least 1,048,576 under Dual Chunk Attention, whose relative positions stay within a chunk). */
int qwen3_model_max_ctx(const qwen3_model *m);
/* Writes the model's weights, as loaded (quantized when loaded with a quant type), to
 * dir/model.safetensors: matrices in their types (Q8_0 / Q4 with our dtype strings, see
 * format/safetensors.h), norms as F32, tensor names as in Hugging Face checkpoints, __metadata__
 * naming the quantization. dir must exist; config and tokenizer files are the caller's to copy
 * (qwen3_model_copy_files). */
int qwen3_model_save(const qwen3_model *m, const char *dir, qwen3_err *err);
/* Writes the model as one GGUF file (llama.cpp's layout for qwen3 / qwen3moe: metadata keys, tensor
 * names, 3-D expert tensors) with the tokenizer and chat template of model_path (its HF files or its
 * own GGUF metadata). type: "keep" (the types as loaded), "f32", "f16", "bf16", "q8_0", "q4_k",
 * "q6_k", or "q4_k_m" (llama.cpp's mix: Q4_K, Q6_K for the output and half the attn_v / ffn_down);
 * norms and the MoE router are F32 (model/save_gguf.c). */
int qwen3_model_save_gguf(const qwen3_model *m, const char *model_path, const char *path, const char *type,
                          qwen3_err *err);

/* ---- sequences and the forward pass ---------------------------------------------------------- */

/* A sequence owns one KV cache. Its length is the number of positions cached. */
typedef struct qwen3_seq qwen3_seq;

/* n_ctx: capacity in tokens (0: max_position_embeddings, times the YaRN factor when configured). */
qwen3_seq *qwen3_seq_new(qwen3_model *m, int n_ctx, qwen3_err *err);
void qwen3_seq_free(qwen3_seq *s);
int qwen3_seq_len(const qwen3_seq *s);
int qwen3_seq_capacity(const qwen3_seq *s);
/* The tokens whose keys/values the cache holds (qwen3_seq_len of them), for prefix re-use. */
const int32_t *qwen3_seq_tokens(const qwen3_seq *s);
/* Cuts the cache back to its first n positions (0 <= n <= len). A cut of 1 MiB or more (all layers)
 * gives the memory past n back to the system. */
int qwen3_seq_truncate(qwen3_seq *s, int n, qwen3_err *err);
/* keep != 0: cuts never give memory back, so refilling the cache does not pay the first write of
 * each page again (in this project's virtual machine ~5 us per 4 KiB page even after the kernel has
 * mapped it: 12% of a 512-token prefill of the 0.6B shape). `qwen3 bench` sets it on its sequences,
 * as llama-bench times a cache that was allocated and cleared before the clock started. */
void qwen3_seq_keep_memory(qwen3_seq *s, int keep);
/* The memory the cache holds now (its pages resident in RAM, counted by mincore): the cache is
 * reserved as address space for its whole capacity and committed as positions are written. */
size_t qwen3_seq_resident_bytes(const qwen3_seq *s);
/* Bytes of a KV cache of n_tokens positions of the given type (QWEN3_KV_DEFAULT: the model's); under
 * MPI tensor / expert parallelism, of this rank's kv heads. */
size_t qwen3_kv_cache_bytes(const qwen3_model *m, long n_tokens, qwen3_kv_type type);

/* HIDDEN: out gets the last token's final hidden state after the final norm (hidden_size floats),
 * what an embedding model pools; no lm_head product. */
enum { QWEN3_LOGITS_NONE = 0, QWEN3_LOGITS_LAST = 1, QWEN3_LOGITS_ALL = 2, QWEN3_LOGITS_HIDDEN = 3 };

/* One sequence's share of a forward pass: its new tokens are appended at its current length. */
typedef struct qwen3_batch_item {
    qwen3_seq *seq;
    const int32_t *tokens;
    int n_tokens;         /* >= 1 */
    int logits;           /* QWEN3_LOGITS_* */
    float *out;           /* LAST: vocab_size floats; ALL: n_tokens * vocab_size; caller-owned */
} qwen3_batch_item;

/* Runs all items' tokens through the model in one pass (matrix times matrix over every token of
 * every item). Each item's sequence must appear once. On error no sequence changes length. */
int qwen3_forward(qwen3_model *m, qwen3_batch_item *items, int n_items, qwen3_err *err);

/* An embedding (Qwen3-Embedding: last-token pooling): ids go through the model in a sequence of
 * their own, and out[hidden_size] gets the last token's hidden state after the final norm, divided
 * by its L2 norm. The caller chooses the ids: Qwen3-Embedding's tokenizer appends <|endoftext|> to
 * every text (qwen3_embed_text does it), and queries carry an instruction ("Instruct: TASK\nQuery:").
 * One forward pass at a time per model, as qwen3_forward. */
int qwen3_embed(qwen3_model *m, const int32_t *ids, int n, float *out, qwen3_err *err);

/* ---- tokenizer -------------------------------------------------------------------------------
 * Qwen3's byte-level BPE, exactly as Hugging Face tokenizers computes it for tokenizer.json. */

typedef struct qwen3_tokenizer qwen3_tokenizer;

/* Loads tokenizer.json (vocab.json + merges.txt as the fallback) and the added tokens of
 * tokenizer.json / tokenizer_config.json from a model directory (or a directory holding only the
 * tokenizer files). */
qwen3_tokenizer *qwen3_tokenizer_load(const char *dir, qwen3_err *err);
void qwen3_tokenizer_free(qwen3_tokenizer *t);
/* Number of ids the tokenizer knows (the base vocabulary plus added tokens). */
int qwen3_tokenizer_size(const qwen3_tokenizer *t);

/* Encodes UTF-8 text of len bytes. special != 0: added-token text in the input (such as
 * "<|im_start|>") becomes its id, as HF does by default; special == 0: it is encoded as plain text
 * (for untrusted content). *ids is malloc'd (free it); returns the count or -1. Invalid UTF-8 is an
 * error naming the byte offset. */
int qwen3_encode(const qwen3_tokenizer *t, const char *text, size_t len, int special, int32_t **ids,
                 qwen3_err *err);

/* Decodes ids to a malloc'd NUL-terminated UTF-8 string (U+FFFD where HF puts it); *len (may be
 * NULL) gets its length. skip_special drops special added tokens. An id outside the vocabulary is an
 * error naming its position. */
char *qwen3_decode(const qwen3_tokenizer *t, const int32_t *ids, int n, int skip_special, size_t *len,
                   qwen3_err *err);

/* 0 when a and b have the same vocabulary (the same count of ids, and every id decodes to the same
 * bytes), as a draft model must for speculative decoding; else -1 with a message naming the first
 * id that differs (or the counts). */
int qwen3_tokenizer_same_vocab(const qwen3_tokenizer *a, const qwen3_tokenizer *b, qwen3_err *err);

/* The id of a token given its exact text (added tokens such as "<think>", or a vocabulary entry in
 * its byte-level form); -1 when absent. */
int32_t qwen3_token_id(const qwen3_tokenizer *t, const char *text);
/* The ids that end a turn, <|im_end|> and <|endoftext|> (-1 for one t lacks; both -1 when t is
 * NULL): generation stops at either (qwen3_gen), and a front-end that looks at a turn's ids asks
 * this instead of spelling the tokens again. */
void qwen3_end_of_turn_ids(const qwen3_tokenizer *t, int32_t ids[2]);
/* 1 when id is a special added token (dropped by skip_special). */
int qwen3_token_is_special(const qwen3_tokenizer *t, int32_t id);
/* The raw bytes a token decodes to (not NUL-terminated); NULL for an id out of range. */
const char *qwen3_token_bytes(const qwen3_tokenizer *t, int32_t id, size_t *len);

/* Streaming decoder: feed ids one at a time, get back only whole UTF-8 characters. The text of all
 * feeds plus the flush equals qwen3_decode of the same ids. Zero-initialize it to start a stream. */
typedef struct qwen3_detok {
    unsigned char pending[8]; /* bytes of an unfinished character (at most 3) */
    int n_pending;
} qwen3_detok;
/* An output size that is always enough for one qwen3_detok_feed (3 bytes per byte, for U+FFFD). */
size_t qwen3_detok_cap(const qwen3_tokenizer *t);
/* Appends the complete characters that id finishes to out (NUL-terminated; cap >= qwen3_detok_cap
 * is always enough, a smaller cap that does not fit is an error and consumes nothing); returns the
 * bytes written or -1 (an id out of range). Invalid sequences become U+FFFD as qwen3_decode would.
 * With skip_special a special token writes nothing and leaves pending bytes pending. */
int qwen3_detok_feed(const qwen3_tokenizer *t, qwen3_detok *d, int32_t id, int skip_special, char *out,
                     size_t cap, qwen3_err *err);
/* Ends a stream: what is pending becomes one U+FFFD (needs cap >= 4). Returns bytes written. */
int qwen3_detok_flush(const qwen3_tokenizer *t, qwen3_detok *d, char *out, size_t cap);

/* ---- chat ------------------------------------------------------------------------------------
 * The Qwen3 chat format (messages + tools -> prompt text, byte-identical to the official Jinja
 * template as transformers renders it) and the parser that splits generated text back into
 * reasoning, content and tool calls. No Jinja interpreter: the known Qwen3 templates are implemented
 * in C, and a model directory whose template differs from them is reported, not rendered wrongly. */

/* The chat templates implemented. */
typedef enum qwen3_chat_kind {
    QWEN3_CHAT_QWEN3 = 0,          /* Qwen3 hybrid (0.6B ... 235B-A22B): enable_thinking switches modes */
    QWEN3_CHAT_INSTRUCT_2507 = 1,  /* Qwen3-*-Instruct-2507: never thinks, ignores enable_thinking */
    QWEN3_CHAT_THINKING_2507 = 2,  /* Qwen3-*-Thinking-2507: the prompt always opens "<think>\n" */
    QWEN3_CHAT_KIND_COUNT
} qwen3_chat_kind;

/* "qwen3", "qwen3-instruct-2507", "qwen3-thinking-2507"; NULL for a bad value. */
const char *qwen3_chat_kind_name(qwen3_chat_kind k);
/* The kind named by s (one of the names above); -1 when unknown. */
int qwen3_chat_kind_parse(const char *s);
/* 1 when a prompt of kind k rendered with enable_thinking lets the model think: the hybrid Qwen3
 * template as enable_thinking says, Instruct-2507 never, Thinking-2507 always (its prompt opens
 * "<think>" whatever enable_thinking says). The one place this is decided: the server, run and chat
 * ask it. */
int qwen3_chat_thinks(qwen3_chat_kind k, int enable_thinking);

/* Identifies a template text: returns its kind, or -1 when it is not one of the implemented
 * templates (compared after normalising the whitespace that Jinja discards and string-literal
 * escapes, so a re-indented copy still matches). */
int qwen3_chat_template_identify(const char *text, size_t len);

/* Reads the chat template of a model directory (chat_template.jinja when present, else the
 * "chat_template" of tokenizer_config.json, the "default" entry when it is a list) and identifies
 * it. Returns the kind, or -1 with a message naming the file when there is no template or it differs
 * from every implemented one (the caller may then choose a kind explicitly, at its own risk). */
int qwen3_chat_template_detect(const char *dir, qwen3_err *err);

/* One tool call of an assistant message. */
typedef struct qwen3_chat_tool_call {
    const char *name;      /* the function name, printed as is */
    const char *arguments; /* JSON text of the arguments object, printed as is (as the template prints
                              a string); qwen3_chat_render_json turns an object into json.dumps text */
} qwen3_chat_tool_call;

/* One message. Strings are UTF-8, NUL-terminated. */
typedef struct qwen3_chat_msg {
    const char *role;              /* "system", "user", "assistant" or "tool" */
    const char *content;           /* NULL when content is null, absent or a list: the template
                                      renders those as "" and does not count them as a user query */
    const char *reasoning_content; /* assistant only; NULL when absent (then a "<think>...</think>"
                                      prefix of content is split off, as the template does) */
    const qwen3_chat_tool_call *tool_calls; /* assistant only */
    int n_tool_calls;
} qwen3_chat_msg;

typedef struct qwen3_chat_opts {
    int add_generation_prompt; /* end with "<|im_start|>assistant\n" (and what the template adds) */
    int enable_thinking;       /* QWEN3_CHAT_QWEN3 only: 0 pre-fills "<think>\n\n</think>\n\n" */
} qwen3_chat_opts;

/* Renders a conversation. tools: n_tools JSON texts, each one tool object (written back as
 * json.dumps writes it); may be NULL when n_tools is 0. opts NULL means {0, 1}. Returns the prompt,
 * malloc'd and NUL-terminated (*len gets its length; may be NULL), or NULL with an error naming the
 * message index and field at fault (unknown role, a first system message without string content,
 * a tool call without a name, arguments that are not a JSON object...). */
char *qwen3_chat_render(qwen3_chat_kind kind, const qwen3_chat_msg *msgs, int n_msgs,
                        const char *const *tools, int n_tools, const qwen3_chat_opts *opts, size_t *len,
                        qwen3_err *err);

/* The same from a JSON request: {"messages": [...], "tools": [...], "add_generation_prompt": bool,
 * "enable_thinking": bool}, in the OpenAI / Hugging Face message format (tool_calls as
 * {"function": {"name", "arguments"}} or {"name", "arguments"}; arguments an object or a string
 * holding a JSON object; content a string, null or a list of parts). Other keys are ignored, so an
 * OpenAI request body can be passed whole. add_generation_prompt defaults to false (as in
 * transformers), enable_thinking to true. Errors name the message index and field. */
char *qwen3_chat_render_json(qwen3_chat_kind kind, const char *json, size_t json_len, size_t *len,
                             qwen3_err *err);

/* The JSON string literal (quotes included) of the n bytes at text, exactly as Python's
 * json.dumps(text, ensure_ascii=False) writes it (as the chat template's tojson does): only '"',
 * '\\' and the C0 controls escaped. malloc'd and NUL-terminated (*len gets its length; may be NULL);
 * NULL when out of memory. */
char *qwen3_json_string(const char *text, size_t n, size_t *len);

/* 1 when a rendered prompt leaves a "<think>" block open at its end (Qwen3-Thinking-2507's generation
 * prompt), so the parser must start inside reasoning; 0 otherwise. */
int qwen3_chat_prompt_opens_think(const char *prompt, size_t len);

/* A tool call parsed from generated text. */
typedef struct qwen3_chat_call {
    char *name;      /* the "name" string */
    char *arguments; /* the "arguments" object's JSON text exactly as generated ("{}" when absent) */
} qwen3_chat_call;

/* What one feed (or the finish) produced: text to append to reasoning and to content, and the tool
 * calls completed. Pointers stay valid until the next call on the parser. */
typedef struct qwen3_chat_delta {
    const char *reasoning;
    size_t reasoning_len;
    const char *content;
    size_t content_len;
    const qwen3_chat_call *calls;
    int n_calls;
    int first_call; /* index of calls[0] among all calls of the turn */
} qwen3_chat_delta;

/* Everything parsed so far. */
typedef struct qwen3_chat_result {
    const char *reasoning; /* NUL-terminated; "" when the model did not think (or thought nothing) */
    size_t reasoning_len;
    const char *content;   /* NUL-terminated */
    size_t content_len;
    const qwen3_chat_call *calls;
    int n_calls;
} qwen3_chat_result;

/* Incremental output parser. Feed generated text in any chunks; the deltas concatenated are the same
 * whatever the chunking. It holds back only what may still become a tag ("<think>", "</think>",
 * "<tool_call>"), the newlines that the template strips around reasoning and the one before a tool
 * call, whitespace after a tool call, a tool call until its "</tool_call>", and an unfinished UTF-8
 * character.
 *
 * Rules (the inverse of the template): "<think>" at the very start opens reasoning (in_think = 1
 * starts inside it, for prompts that pre-fill "<think>"); "</think>" closes it; newlines right after
 * "<think>", before "</think>" and after "</think>" are dropped, so an empty think block vanishes.
 * Think tags never reach the content: a "<think>" later in the content opens reasoning again (a
 * model that reopens its thought, the empty block a spent thinking budget forces), and a "</think>"
 * with no block open is dropped.
 * "<tool_call>\n{json}\n</tool_call>" (inside or outside reasoning) with a JSON object holding a
 * string "name" becomes a call; one "\n" before "<tool_call>" and whitespace between and after calls
 * are separators. Anything that does not parse (broken JSON, a stray tag, an unclosed call) stays in
 * the text where it appeared, byte for byte (think tags excepted, see above); parsing never fails
 * except for lack of memory. */
typedef struct qwen3_chat_parser qwen3_chat_parser;

qwen3_chat_parser *qwen3_chat_parser_new(int in_think, qwen3_err *err);
void qwen3_chat_parser_free(qwen3_chat_parser *p);
int qwen3_chat_parser_feed(qwen3_chat_parser *p, const char *text, size_t len, qwen3_chat_delta *d,
                           qwen3_err *err);
/* Ends the stream: flushes held text (an unclosed tool call whose JSON is complete still counts). */
int qwen3_chat_parser_finish(qwen3_chat_parser *p, qwen3_chat_delta *d, qwen3_err *err);
void qwen3_chat_parser_result(const qwen3_chat_parser *p, qwen3_chat_result *r);

/* One-shot parse of a whole output. in_think: 1 or 0 as for the parser; -1 guesses from the text
 * (a "</think>" before any "<think>" means the prompt opened the block). Returns a parser holding
 * the result (read it with qwen3_chat_parser_result, free it with qwen3_chat_parser_free). */
qwen3_chat_parser *qwen3_chat_parse(const char *text, size_t len, int in_think, qwen3_err *err);

/* ---- generation: sampler, thinking budget, stop rules, multi-sequence stepping -------------------
 * One qwen3_gen is one request being answered: its sequence (KV cache), sampler, thinking-budget
 * state, stop rules and streaming detokenizer. qwen3_gen_step advances any number of generations
 * with ONE forward pass over all of them (the server's continuous batching and the CLI's single
 * stream use the same call), so the logic of a turn lives in one place. */

typedef struct qwen3_sampling {
    float temperature;        /* 0: greedy (argmax) */
    int top_k;                /* 0: off */
    float top_p;              /* 1: off */
    float min_p;              /* 0: off */
    float presence_penalty;   /* 0: off; OpenAI semantics, over the generated tokens */
    float frequency_penalty;  /* 0: off; OpenAI semantics, over the generated tokens */
    float repetition_penalty; /* 1: off; HF semantics (divide positive logits, multiply negative),
                                 over prompt and generated tokens */
    uint64_t seed;            /* same seed + same input = same output */
} qwen3_sampling;

/* Qwen's recommended defaults per mode (thinking: T 0.6, top-p 0.95, top-k 20, min-p 0;
 * non-thinking: 0.7, 0.8, 20, 0), with generation_config.json's values for the thinking mode when
 * model_dir is given and has one. Penalties off, seed 0. */
void qwen3_sampling_defaults(qwen3_sampling *s, int thinking, const char *model_dir);

/* A sampler on its own, for a program that runs qwen3_forward itself: the same filters, penalties
 * and random stream as a generation's (qwen3_gen uses one inside). Considers ids [0, n_vocab).
 * sample() draws the next token from one row of logits, which it modifies (penalties, filters), and
 * records it as generated (for the penalties of later steps). */
typedef struct qwen3_sampler qwen3_sampler;
qwen3_sampler *qwen3_sampler_new(const qwen3_sampling *p, int n_vocab, qwen3_err *err);
int32_t qwen3_sampler_sample(qwen3_sampler *s, float *logits);
void qwen3_sampler_free(qwen3_sampler *s);

/* ---- constrained decoding (structured output) ---------------------------------------------------
 * A grammar constrains what a generation may write: at each step the tokens whose bytes cannot
 * continue a sentence of the grammar are masked out before sampling, and the end-of-turn tokens are
 * allowed only once the text is a complete sentence. So a generation that ends with finish STOP
 * (not LENGTH, a cancel or a stop string) is a sentence of the grammar.
 * Grammars are immutable and reference-counted: a generation holds a reference of its own. */
typedef struct qwen3_grammar qwen3_grammar;

/* Compiles a grammar in GBNF (llama.cpp's format: `root ::= ...`, literals, [classes], `.`, groups,
 * * + ? {m,n}). Errors name the line and column (undefined rules, left recursion, ...). */
qwen3_grammar *qwen3_grammar_gbnf(const char *text, size_t len, qwen3_err *err);
/* Compiles a JSON Schema (JSON text; the supported subset is in the README: types, properties /
 * required, enum, const, items / minItems / maxItems, minLength / maxLength, anyOf) into the grammar
 * of the JSON texts that validate against it; another keyword is refused, named with its path.
 * schema NULL: any JSON object (OpenAI's json_object mode). */
qwen3_grammar *qwen3_grammar_json_schema(const char *schema, size_t len, qwen3_err *err);
/* The JSON text of a schema between the literal texts before and after, with no whitespace around
 * it: a forced tool call is "<tool_call>\n" + {"name": ..., "arguments": ...} + "\n</tool_call>". The
 * texts' tags (before and after without their whitespace) may also be written as the added tokens of
 * that text, as models trained on them do. */
qwen3_grammar *qwen3_grammar_json_schema_in(const char *schema, size_t len, const char *before, const char *after,
                                            qwen3_err *err);
/* One more reference (returns g); qwen3_grammar_free drops one and frees with the last. */
qwen3_grammar *qwen3_grammar_ref(qwen3_grammar *g);
void qwen3_grammar_free(qwen3_grammar *g);
/* The grammar's GBNF text (for a schema: what it compiled to). */
const char *qwen3_grammar_text(const qwen3_grammar *g);
/* 1 when text[0, len) is a complete sentence of the grammar, 0 when not, -1 on error. */
int qwen3_grammar_match(const qwen3_grammar *g, const char *text, size_t len, qwen3_err *err);

/* The stop-thinking text Qwen's report uses for the thinking budget. */
#define QWEN3_THINK_STOP_TEXT \
    "\n\nConsidering the limited time by the user, I have to give the solution based on the thinking directly now.\n</think>\n\n"

typedef struct qwen3_gen_params {
    qwen3_sampling sampling;
    int max_tokens;               /* generated tokens at most, forced ones included; 0: until the
                                     context is full */
    int think_budget;             /* -1: unlimited. N >= 0: after N tokens generated inside <think>
                                     (special tokens too; counted over the whole turn) the
                                     stop-thinking text is forced, once; a block opened after that
                                     is closed at once with an empty "\n\n</think>\n\n" */
    const char *think_stop_text;  /* NULL: QWEN3_THINK_STOP_TEXT */
    int think_grace;              /* > 0: after the budget, allow up to this many more tokens that
                                     end at the next newline before forcing (0: off) */
    int in_think;                 /* the prompt already opened <think> (Thinking-2507 templates) */
    const char *const *stop;      /* stop strings (not included in the output) */
    int n_stop;
    int logprobs;                 /* 1: each generated token's log-probability (qwen3_gen_out.logprobs) */
    int top_logprobs;             /* with logprobs: also the N most likely ids at each position
                                     (0..QWEN3_MAX_TOP_LOGPROBS) */
    int prompt_logprobs;          /* 1: every prompt token's log-probability given the tokens before
                                     it (qwen3_gen_prompt_logprobs; top_logprobs applies). Turns
                                     the prefix re-use off: the whole prompt is computed. */
    /* Speculative decoding (NULL draft: off). A smaller model with the same vocabulary proposes
     * draft_n tokens one at a time through its own cache (draft_seq, a sequence of `draft`; kept
     * between turns, its prefix is re-used like the target's); the target checks all of them in
     * ONE forward pass and its cache is cut back past the first rejected one. Greedy: the output
     * is exactly the target's own greedy output (on the batch-invariant paths). Sampling: each
     * drafted token is accepted with probability min(1, p/q) and a rejected one replaced by a
     * draw from norm(max(0, p - q)) (Leviathan et al. 2023, Chen et al. 2023), p being the
     * target's distribution after penalties, temperature and filters and q the draft's (same
     * temperature and filters, no penalties), so the output follows the target's distribution;
     * the draws differ from a run without a draft of the same seed. The draft must have the
     * target's vocab_size (qwen3_tokenizer_same_vocab checks their tokenizers). */
    qwen3_model *draft;
    qwen3_seq *draft_seq;
    int draft_n;                  /* tokens proposed per step, 1..QWEN3_MAX_DRAFT; 0: QWEN3_DRAFT_N;
                                     QWEN3_DRAFT_AUTO: adapted to the acceptance (below) */
    const qwen3_grammar *grammar; /* NULL: free text. Else the answer is constrained to the grammar
                                     (needs a tokenizer); the generation takes its own reference.
                                     Thinking is left free: inside a <think> block (in_think, or one
                                     the model opens with grammar_think) nothing is constrained, and
                                     the grammar applies from the first token sampled after
                                     </think> (forced tokens, such as the budget's stop text, are
                                     never constrained). With a sampled token the grammar allows it
                                     is kept; else the mask is applied and the draw is repeated over
                                     the allowed tokens (llama.cpp's sampler does the same). */
    int grammar_think;            /* with grammar: the first token may be <think> (thinking mode) */
} qwen3_gen_params;

#define QWEN3_DRAFT_N 7    /* the default number of drafted tokens per step: with the pending token the
                              verify pass has 8, the fewest the quantized kernels take as one GEMM */
#define QWEN3_MAX_DRAFT 32
#define QWEN3_DRAFT_AUTO (-1) /* draft_n adapted per generation: QWEN3_DRAFT_N at first, 2 more after a step
                                 whose drafts were all kept, 1 fewer after one with a rejected draft,
                                 within [1, QWEN3_MAX_DRAFT] (the "heuristic" schedule of Hugging Face
                                 transformers' assisted generation); the output is the same as with a
                                 fixed draft_n: greedy, the target's own; sampled, its distribution */

/* A token's log-probability under the model: the log-softmax of the raw logits at its position (as
 * the model computed them: before penalties, temperature and the top-k/top-p/min-p filters, over the
 * ids the tokenizer knows), what evaluation harnesses score with. */
#define QWEN3_MAX_TOP_LOGPROBS 20
typedef struct qwen3_logprob {
    int32_t id;
    int forced;                   /* forced by the thinking budget: logprob and top are not computed
                                     (logprob 0, n_top 0) */
    float logprob;                /* NaN for the first prompt token (nothing before it) */
    int n_top;                    /* the most likely ids at the position, most likely first (ties:
                                     lower id first) */
    int32_t top_ids[QWEN3_MAX_TOP_LOGPROBS];
    float top_logprobs[QWEN3_MAX_TOP_LOGPROBS];
} qwen3_logprob;

typedef enum qwen3_finish {
    QWEN3_FINISH_NONE = 0,   /* still running */
    QWEN3_FINISH_STOP = 1,   /* <|im_end|>, <|endoftext|> or a stop string */
    QWEN3_FINISH_LENGTH = 2, /* max_tokens or the context */
    QWEN3_FINISH_CANCEL = 3  /* qwen3_gen_cancel */
} qwen3_finish;

typedef struct qwen3_gen qwen3_gen;

/* Starts a generation on seq. The prompt's longest prefix already in seq's cache is re-used (the
 * cache is cut back to it, at most to n_prompt - 1 tokens) and only the rest is prefilled on the
 * first step. Errors: an empty prompt, one longer than the sequence's capacity, an id outside the
 * model's vocabulary, parameters out of range (each named). tok may be NULL: ids only (no text, no
 * end-of-turn tokens, no stop strings, no thinking budget), for raw continuations of id lists.
 * Ids the tokenizer does not know (the embedding's padding rows) are never sampled.
 * Thinking budget: when spent, all the stop text's tokens are emitted in the same step and enter the
 * next forward pass as one multi-token input. A budget of 0 forces "\n\n</think>\n\n" (what the
 * non-thinking template pre-fills) as soon as the model opens <think>, or at once with in_think. */
qwen3_gen *qwen3_gen_new(qwen3_model *m, const qwen3_tokenizer *tok, qwen3_seq *seq, const int32_t *prompt,
                         int n_prompt, const qwen3_gen_params *p, qwen3_err *err);
void qwen3_gen_free(qwen3_gen *g);
/* Asks the generation to stop (finish QWEN3_FINISH_CANCEL at the next step or take). It only sets an
 * atomic flag: safe from any thread and from a signal handler. */
void qwen3_gen_cancel(qwen3_gen *g);

/* One forward pass over every unfinished generation in gens, then each samples (or is forced) its
 * next token. Finished ones are skipped. Generations with a draft first draft their tokens (draft_n
 * passes of the draft model, batched over them) and then take 1 to draft_n + 1 tokens from the same
 * target pass. Returns 0, or -1 when the pass itself failed. */
int qwen3_gen_step(qwen3_model *m, qwen3_gen **gens, int n, qwen3_err *err);

/* What a generation produced since the last take: text made of whole UTF-8 characters (text that
 * may still turn out to be a stop string is held back), the token ids, and the state. */
typedef struct qwen3_gen_out {
    const char *text;        /* valid until the next step or take */
    size_t text_len;
    const int32_t *ids;
    int n_ids;
    const qwen3_logprob *logprobs; /* [n_ids] with params.logprobs, else NULL */
    qwen3_finish finish;     /* QWEN3_FINISH_NONE while running */
} qwen3_gen_out;
void qwen3_gen_take(qwen3_gen *g, qwen3_gen_out *out);
/* With params.prompt_logprobs, after the first step: one entry per prompt token (*n of them);
 * else NULL. Valid until qwen3_gen_free. */
const qwen3_logprob *qwen3_gen_prompt_logprobs(const qwen3_gen *g, int *n);

typedef struct qwen3_gen_stats {
    int prompt_tokens;       /* the whole prompt */
    int cached_tokens;       /* of which re-used from the cache */
    int generated_tokens;    /* sampled + forced */
    int thinking_tokens;     /* generated inside <think> ... </think> (forced text excluded) */
    int budget_hit;          /* 1 when the budget forced the stop-thinking text */
    double prefill_seconds, decode_seconds;
    double sample_seconds;   /* the part of decode_seconds spent sampling (and in the stop rules) */
    /* speculative decoding (0 without a draft) */
    int draft_steps;         /* steps that drafted: each one target pass verifying draft tokens */
    int draft_tokens;        /* tokens the draft proposed */
    int draft_accepted;      /* of which the target accepted (acceptance rate: accepted / tokens) */
    double draft_seconds;    /* the part of decode_seconds spent in the draft model */
    double grammar_seconds;  /* the part of sample_seconds spent on the grammar (checks, masks) */
    int grammar_masks;       /* steps that needed the whole mask (the sampled token was refused) */
} qwen3_gen_stats;
void qwen3_gen_stats_get(const qwen3_gen *g, qwen3_gen_stats *s);

/* ---- measurements: what `qwen3 bench` reads ----------------------------------------------------
 * The figures a benchmark needs to turn times into fractions of the machine's limits, so that a
 * program measuring speed needs nothing but this header. */

typedef struct qwen3_model_costs {
    qwen3_dtype weight_type;       /* the layers' matrices (layer 0's q projection) */
    qwen3_dtype lm_head_type;
    int fast;                      /* loaded with the fast path (qwen3_load_opts.fast) */
    int batch_variant;             /* ... and its bf16 prefill panels (qwen3_load_opts.batch_variant) */
    int quantized;                 /* weight_type is an integer block type (int8 dot products) */
    int bf16_dots;                 /* weight_type is BF16 multiplied by bf16 dot products (the fast
                                      path on AVX512_BF16 CPUs: activations rounded to bf16) */
    double weight_bytes_per_token; /* the weights one decode step reads: every layer matrix (the
                                      active experts only), the lm_head and one embedding row */
    double macs_per_token;         /* multiply-adds of the layer matrices per token, lm_head excluded
                                      (routers and the active experts included) */
    double lm_head_macs;           /* multiply-adds of the lm_head for one row of logits */
    double kv_bytes_per_position;  /* K and V of every layer for one position, in the cache's type */
    double attn_macs_per_position; /* attention's multiply-adds for one token per cached position */
} qwen3_model_costs;
void qwen3_model_costs_get(const qwen3_model *m, qwen3_model_costs *c);

/* The machine's limits, measured now on `threads` threads (<= 0: qwen3_default_threads()):
 * READ_GBPS the read bandwidth in GB/s over a 1 GiB buffer; the others the peak GFLOP/s (2 per
 * multiply-add) of float32 FMA, bf16 and int8 dot products. 0 when not measured (the peaks are
 * measured with AVX-512 only). Each takes about a second. */
typedef enum { QWEN3_PEAK_READ_GBPS = 0, QWEN3_PEAK_F32 = 1, QWEN3_PEAK_BF16 = 2, QWEN3_PEAK_INT8 = 3 } qwen3_peak;
double qwen3_machine_peak(qwen3_peak what, int threads);
/* The thread count a model loads with when qwen3_load_opts.n_threads is 0 (the usable cores). */
int qwen3_default_threads(void);

/* Where the time of forward passes goes, per step of the pass: begin() starts the clocks on m (every
 * later qwen3_forward adds to them), end() stops them and fills *p (may be NULL). The clocks cost a
 * few hundred clock reads per pass and change no result. */
#define QWEN3_PROFILE_MAX 32
typedef struct qwen3_profile {
    long passes;                        /* qwen3_forward calls timed */
    double total_s;                     /* their whole time */
    int n_steps;                        /* entries below */
    const char *name[QWEN3_PROFILE_MAX]; /* what each step is ("attention", "LM head", ...) */
    double seconds[QWEN3_PROFILE_MAX];
    long calls[QWEN3_PROFILE_MAX];
    long handoffs;                      /* times the pass handed work to the other threads */
    double wait_s;                      /* the caller's wait for them, after its own share
                                           (included in the steps' times) */
    long moe_blocks;                    /* MoE blocks run (layers x passes) */
    long experts_run;                   /* distinct experts those blocks ran: experts_run / moe_blocks
                                           is how many of the experts a pass's tokens chose per layer */
} qwen3_profile;
int qwen3_model_profile_begin(qwen3_model *m, qwen3_err *err);
void qwen3_model_profile_end(qwen3_model *m, qwen3_profile *p);

/* Makes s hold n positions (n <= capacity) of pseudo-random K/V rows (a fixed seed, values spread
 * like N(0,1), rounded to the cache's type) and the tokens 0, 1, 2, ..., as if a prompt had been
 * prefilled, without running the model: decode at depth measured in milliseconds instead of the
 * minutes a long prefill takes. The rows are not any prompt's: the logits after them are noise.
 * Refused for a model run over MPI (the other ranks' caches would stay empty). */
int qwen3_seq_fill_random(qwen3_seq *s, int n, qwen3_err *err);

/* ---- model names: local paths and the Hugging Face hub -------------------------------------------
 * MODEL, as a user types it, is a model directory, a .gguf file, or a hub name
 * "ORG/NAME[@REVISION][:TAG]" (also Ollama's "hf.co/ORG/NAME:TAG"): a Hugging Face repo, downloaded
 * by qwen3_pull (or by transformers / huggingface-cli) into the Hugging Face cache ($HF_HUB_CACHE,
 * else $HF_HOME/hub, else ~/.cache/huggingface/hub). */

/* What a command needs of MODEL (bits). */
enum {
    QWEN3_NEED_WEIGHTS = 1,   /* config.json + safetensors weights (or a .gguf) */
    QWEN3_NEED_TOKENIZER = 2, /* tokenizer.json, or vocab.json + merges.txt (or a .gguf) */
    QWEN3_NEED_CHAT = 4       /* a chat template: chat_template.jinja or tokenizer_config.json */
};

/* Resolves MODEL to a local path (a directory, or a .gguf file) in path[n], checking once that it
 * holds what `need` asks for. A local path wins over a hub name of the same spelling. On failure the
 * message says what is wrong and what to do: the path does not exist; it is a file (pass its
 * directory); files are missing (named); a hub name not in the cache (where it was looked for and
 * how to pull it). Never uses the network. */
int qwen3_model_resolve(const char *model, int need, char *path, size_t n, qwen3_err *err);
/* 1 when MODEL names no local file or directory and is spelled as a hub name (so pulling it could
 * help); 0 otherwise. */
int qwen3_model_is_hub_name(const char *model);
/* Which files a local path holds, by the rule the loader, the tokenizer, the chat template and
 * qwen3_model_resolve all follow (one owner: src/format/mdir.h): a directory with config.json is
 * a Hugging Face model even with a .gguf beside it; else the one GGUF model in it; or a GGUF file. */
enum { QWEN3_FORMAT_NONE = 0, QWEN3_FORMAT_HF = 1, QWEN3_FORMAT_GGUF = 2 };
int qwen3_model_format(const char *path);
/* 1 when the local path holds what `need` (QWEN3_NEED_* bits) asks, as qwen3_model_resolve checks
 * it, without a message; 0 otherwise (or when the path does not exist). */
int qwen3_model_holds(const char *path, int need);
/* Copies the files of model directory `from` other than its weights (config.json,
 * generation_config.json, the tokenizer and chat template files: those that exist) into directory
 * `to`, which exists: with the weights qwen3_model_save writes, `to` is a whole model directory. */
int qwen3_model_copy_files(const char *from, const char *to, qwen3_err *err);

typedef struct qwen3_pull_opts {
    /* Progress of one file: bytes so far and expected (0: unknown). Called often while a file
     * downloads, and once with done == total when it is complete (or was cached). May be NULL. */
    void (*progress)(void *ud, const char *file, uint64_t done, uint64_t total);
    /* One-line notes for the user (retries, waiting for another download). May be NULL. */
    void (*note)(void *ud, const char *msg);
    void *ud;
} qwen3_pull_opts;

/* Downloads a hub name into the Hugging Face cache: the revision's config and tokenizer files, the
 * safetensors index and shards, or (with a GGUF quant tag, or in a GGUF-only repo) the one GGUF
 * model matching the tag, every part of a split set. Resumes partial files (HTTP Range), checks LFS
 * files against their sha256, retries transport errors with back-off, and fails clearly on 401/403
 * (set HF_TOKEN), 404, a full disk or a checksum mismatch (the bad file is deleted). Files already in
 * the cache are not downloaded again. $HF_ENDPOINT selects a mirror; $HF_HUB_OFFLINE=1 forbids the
 * network (then only the cache is consulted). Safe to run concurrently with other pulls (a lock per
 * file, atomic renames). On success path[n] gets what qwen3_model_resolve would return. o may be
 * NULL. */
int qwen3_pull(const char *name, const qwen3_pull_opts *o, char *path, size_t n, qwen3_err *err);

typedef struct qwen3_cached_model {
    char name[200];      /* "ORG/NAME" */
    char revision[64];   /* the commit of the snapshot shown (refs/main's, else the newest) */
    char kind[256];      /* "safetensors" or "gguf Q4_K_M, Q8_0" (the quant tags there) */
    uint64_t bytes;      /* disk use of the repo's blobs */
    char path[4096];     /* the snapshot directory */
} qwen3_cached_model;

/* The models in the Hugging Face cache (repos with at least one snapshot), sorted by name. *out is
 * malloc'd (free it); returns the count or -1. A missing cache directory is an empty list. */
int qwen3_cache_list(qwen3_cached_model **out, qwen3_err *err);
/* Removes a model (every revision: blobs, snapshots, refs) from the cache; *freed gets the bytes
 * freed (may be NULL). A name that is not cached is an error. */
int qwen3_cache_remove(const char *name, uint64_t *freed, qwen3_err *err);

/* ---- more than one process: MPI ----------------------------------------------------------------
 * The qwen3-mpi binary (`make MPI=1`, Open MPI) runs a model across processes: `mpirun -n N
 * qwen3-mpi COMMAND ...`. Rank 0 runs the program (tokenizer, sampler, console, server) and holds
 * the embedding and the lm_head. qwen3_load_opts.mpi_mode picks the split: QWEN3_MPI_PP, a
 * pipeline by layers (each rank its contiguous share; logits bit for bit the one-process ones);
 * QWEN3_MPI_TP, every layer's heads and MLP columns split, two all-reduces per layer (logits within
 * float summation order); QWEN3_MPI_EP, as TP with MoE experts whole per rank. Every rank touches
 * only its share of the weights. Each qwen3_model_load and qwen3_forward on rank 0 drives the
 * other ranks.
 * In a build without MPI these are stubs: one process, rank 0 of 1. */

/* MPI_Init (thread level SERIALIZED). Call first, from main. 0 or -1. Every rank must run the same
 * command line: when they differ, rank 0 prints which (before MPI_Finalize, so that the message is
 * not lost when mpirun ends the job), every rank returns -1 with err's message empty, and the
 * program should just exit non-zero. */
int qwen3_mpi_init(int *argc, char ***argv, qwen3_err *err);
int qwen3_mpi_rank(void);
int qwen3_mpi_size(void);
/* On ranks > 0: loads and computes what rank 0 asks until rank 0 finalizes. 0, or -1 (a failure
 * that was not fatal to the job; inside a forward a failure ends the whole job with a message). */
int qwen3_mpi_worker(qwen3_err *err);
/* Rank 0: releases the other ranks; every rank: MPI_Finalize. Safe to call twice (atexit). */
void qwen3_mpi_finalize(void);

#ifdef __cplusplus
}
#endif
#endif
