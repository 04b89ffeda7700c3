/* tok.h - the tokenizer's internal state, shared by the files of src/tokenizer/.
 *
 * Everything here is immutable once qwen3_tokenizer_load returns, so one tokenizer may be used by
 * many threads at once; encode allocates its scratch per call.
 *
 * Ids: [0, n_vocab) are the BPE vocabulary (model.vocab); added tokens (added_tokens) may sit at
 * any id, usually just after it. Every token is stored as the raw bytes it decodes to (byte-level
 * characters such as 'Ġ' already mapped back to bytes such as ' '), so BPE works on bytes and decode
 * is a concatenation. */
#ifndef QWEN3_TOKENIZER_TOK_H
#define QWEN3_TOKENIZER_TOK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "qwen3.h"

/* Character classes of the Qwen2 pre-tokenizer, one byte per code point (see unicode.c). */
enum {
    TK_L = 1,       /* \p{L}: Lu Ll Lt Lm Lo */
    TK_N = 2,       /* \p{N}: Nd Nl No */
    TK_WS = 4,      /* \s as Oniguruma defines it for Unicode: the White_Space property */
    TK_CRLF = 8,    /* '\r' or '\n' (also TK_WS) */
    TK_NFCSAFE = 16 /* NFC never changes it nor lets it combine with what precedes it */
};

typedef struct tk_merge {
    uint64_t key;  /* (left id << 32) | right id; 0 marks an empty slot (pair 0,0 is stored +1) */
    uint32_t rank; /* position in model.merges: lower merges first */
    uint32_t id;   /* the merged token */
} tk_merge;

typedef struct tk_added {
    int32_t id;
    int special;    /* "special": true - dropped by skip_special */
    const char *text; /* content, as typed in text (into the tokenizer's blob) */
    uint32_t len;
} tk_added;

struct qwen3_tokenizer {
    uint64_t gen; /* unique per load: tags the per-thread word caches (wcache.c) */
    int n_vocab;  /* BPE ids [0, n_vocab) */
    int n_ids;   /* 1 + the largest id (vocabulary and added tokens) */

    /* token bytes: id i is blob[off[i] .. off[i] + len[i]); len UINT32_MAX marks an unused id */
    uint32_t *off, *len;
    size_t ids_cap; /* allocated length of off and len */
    char *blob;
    size_t blob_len, blob_cap;
    size_t max_token_len;

    /* raw bytes -> BPE id (open addressing, stores id + 1; 0 empty) */
    uint32_t *vhash;
    uint32_t vmask;

    tk_merge *merges; /* open addressing, power-of-two size */
    uint32_t mmask;
    int n_merges;
    /* A blocked Bloom filter over the merge pairs (two bits in one 64-bit word per pair; bpe.c), owned
     * even when the rest comes from the cache file: most pairs a word meets never merge, and this
     * answers them from 128 KB (for Qwen) instead of a miss in the multi-megabyte merge table.
     * NULL: none. */
    uint64_t *mfilter;
    uint32_t fmask; /* words - 1 */
    /* The merge of the single-byte tokens of bytes x and y at [x << 8 | y], as rank << 32 | id (rank
     * UINT32_MAX: none), owned like mfilter: a word's first pairs are all such pairs. NULL: none. */
    uint64_t *bpair;
    /* Whole-character starts (wchar.c): the tables, built on first use by tk_wchar_ready (set once
     * by compare-and-swap) unless the cache held the memo, freed with the tokenizer. NULL: none. */
    _Atomic(struct tk_wchar *) wchar;
    const uint32_t *wchar_table; /* the complete memo, in the cache mapping; NULL: none */
    /* Where words may be cut (cut.c): built on first use by tk_cut_ready (set once by
     * compare-and-swap), freed with the tokenizer. NULL: not yet, or none. */
    _Atomic(struct tk_cut *) cut;
    const struct tk_cut *cut_table; /* the tables, in the cache mapping; NULL: none */
    int small_ranks; /* every rank < 2^25 - 1: bpe.c's short-word path packs rank and position */
    uint32_t (*rank_min)(const uint32_t *r, int n); /* bpe.c's scan: tk_rank_min_* for this CPU */
    int ignore_merges; /* model.ignore_merges: a word found whole in the vocabulary skips BPE */
    int no_nfc;        /* normalizer null: text is not normalized */

    int32_t byte_id[256]; /* the BPE id of each single byte */

    tk_added *added;
    int n_added;
    unsigned char *special;        /* n_ids flags: 1 for special added tokens */
    unsigned char added_first[256]; /* 1 when some added token starts with this byte */

    unsigned char cls[65536]; /* TK_* flags for the Basic Multilingual Plane */

    /* Read from the binary cache (cache.c): off, len, blob, vhash, merges and special point into
     * this read-only mapping instead of owning memory. */
    void *cache_map;
    size_t cache_size;

    /* Built on first use by another layer and owned here (constrained decoding's sorted token
     * list, grammar/vocab.c): set once by compare-and-swap, freed with the tokenizer through
     * ext_free (which the builder stores before publishing). */
    _Atomic(void *) ext;
    void (*_Atomic ext_free)(void *);
};

/* --- load.c ------------------------------------------------------------------------------------- */

/* A tokenizer from tokenizer.json contents in memory (no tokenizer_config.json, no cache): the
 * loader's pure entry point, for the fuzzer. name is used in messages. */
struct qwen3_tokenizer *tk_load_json_mem(const char *name, const char *buf, size_t n, qwen3_err *err);
/* Byte-level text (UTF-8 of alphabet characters) -> raw bytes in out (room for n bytes). Returns
 * the byte count, or -1 with *bad the first character outside the alphabet. */
long tk_bytelevel_decode(const char *s, size_t n, unsigned char *out, uint32_t *bad);
/* Adds an added token (content n bytes; its bytes are the byte-level decoding of content when every
 * character is in the alphabet, else content itself, as HF's ByteLevel decoder gives). */
int tk_add_added(struct qwen3_tokenizer *t, int32_t id, const char *content, size_t n, int special, qwen3_err *err);
/* After the vocabulary, merges and added tokens are in: byte ids, special flags, merge index. */
int tk_finish(struct qwen3_tokenizer *t, const char *src, qwen3_err *err);
uint64_t tk_next_generation(void);

/* --- gguf_tok.c --------------------------------------------------------------------------------- */

/* A tokenizer from a GGUF file's tokenizer.ggml.* metadata (gguf_tok.c); _mem from a parsed file
 * (pure: the fuzz target calls it). */
struct gguf_file;
struct qwen3_tokenizer *tk_load_gguf(const char *path, qwen3_err *err);
struct qwen3_tokenizer *tk_load_gguf_mem(const struct gguf_file *g, qwen3_err *err);
/* The tables as tokenizer.ggml.* arrays (gguf_tok.c): one token per id in [0, max(n_ids, n_min))
 * (byte-level text for the vocabulary, the content for added tokens, "[PADn]" fillers marked unused),
 * their llama.cpp token types, and the merges "a b" in rank order. */
typedef struct tk_gguf_vocab {
    char **tokens;
    size_t *token_len;
    int32_t *types;
    int n;
    char **merges;
    size_t *merge_len;
    int n_merges;
} tk_gguf_vocab;
int tk_gguf_export(const struct qwen3_tokenizer *t, int n_min, tk_gguf_vocab *v, qwen3_err *err);
void tk_gguf_vocab_free(tk_gguf_vocab *v);

/* --- unicode.c ---------------------------------------------------------------------------------- */

/* Fills t->cls. */
void tk_unicode_init(struct qwen3_tokenizer *t);
/* TK_* flags of any code point (looks outside the BMP up through utf8proc). */
unsigned tk_class_slow(uint32_t cp);
static inline unsigned tk_class(const struct qwen3_tokenizer *t, uint32_t cp) {
    return cp < 65536 ? t->cls[cp] : tk_class_slow(cp);
}
/* Decodes the code point at s (valid UTF-8 assumed, n bytes available >= 1); *cl gets its length. */
static inline uint32_t tk_utf8_get(const unsigned char *s, int *cl) {
    unsigned c = s[0];
    if (c < 0x80) { *cl = 1; return c; }
    if (c < 0xE0) { *cl = 2; return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu); }
    if (c < 0xF0) { *cl = 3; return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu); }
    *cl = 4;
    return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}
/* Length of the valid UTF-8 sequence at s[0..n) (1-4), or 0 when it is invalid or cut short. */
int tk_utf8_valid_len(const unsigned char *s, size_t n);
/* Offset of the first invalid UTF-8 byte in s, or n when all of it is valid. */
size_t tk_utf8_check(const unsigned char *s, size_t n);
/* Writes cp as UTF-8 to out (4 bytes room); returns the byte count. */
int tk_utf8_put(uint32_t cp, unsigned char *out);

/* NFC of valid UTF-8 s[0..n). Returns s itself when it is already NFC as far as a quick check
 * tells (the common case), else a normalized copy in *buf (grown as needed; *cap its size) with
 * *out_n its length. NULL on out of memory. */
const unsigned char *tk_nfc(const struct qwen3_tokenizer *t, const unsigned char *s, size_t n,
                            unsigned char **buf, size_t *cap, size_t *out_n);

/* Bytes -> UTF-8 with Rust's String::from_utf8_lossy replacement (one U+FFFD per maximal invalid
 * subpart). Appends to out (room for 3 * n bytes needed); returns bytes written. With partial != 0
 * a valid but unfinished sequence at the end is not written: *consumed says how much was used. */
size_t tk_utf8_lossy(const unsigned char *s, size_t n, unsigned char *out, int partial, size_t *consumed);

/* --- pretok.c ----------------------------------------------------------------------------------- */

/* The end of the pre-token (Qwen2 split regex match) that starts at s[i], in s[0..n). */
size_t tk_pretok_next(const struct qwen3_tokenizer *t, const unsigned char *s, size_t n, size_t i);

/* --- bpe.c -------------------------------------------------------------------------------------- */

typedef struct tk_scratch {
    int32_t *ids;
    uint32_t *rank, *mid;
    int32_t *prev, *next;
    uint64_t *heap;
    size_t cap, heap_cap;
    unsigned char *nfc;
    size_t nfc_cap;
    tk_merge *pcache; /* TK_PCACHE_SLOTS recent merge lookups (NULL: none); key 0 = empty */
} tk_scratch;

#define TK_PCACHE_SLOTS 16384 /* power of two; 256 KB: stays in L2, misses 35% on multilingual text (4096: 54%) */

void tk_scratch_free(tk_scratch *s);

/* --- wcache.c ----------------------------------------------------------------------------------- */

/* A slot is one 64-byte cache line (the slots are line-aligned), two to a set (the 128 bytes of a
 * pair of lines; encode.c keeps the most recent first), so a lookup reads one aligned pair of
 * lines; longer words go to lslots below. The pieces of words that cut.c cuts are cached here
 * too. 1 MB a thread. */
#define TK_WCACHE_SLOTS 16384 /* power of two */
#define TK_WCACHE_WORD 22     /* longest word cached, bytes */
#define TK_WCACHE_IDS 8       /* most ids of a cached word */

typedef struct tk_wslot {
    uint64_t hash; /* 0: empty */
    uint8_t wlen, nids;
    unsigned char word[TK_WCACHE_WORD];
    int32_t ids[TK_WCACHE_IDS];
} tk_wslot;
_Static_assert(sizeof(tk_wslot) == 64, "a word cache slot is one cache line");

/* Longer words (CJK, Thai and Japanese runs, long identifiers in code) in 256-byte slots, four cache
 * lines: in documents they repeat too (a name, a phrase), and each costs a BPE of many merges when
 * missed (HF's BPE caches long words as well). Up to 118 bytes and 32 ids; 512 KB a thread, slot
 * chosen by other bits of the same hash as the short words'. */
#define TK_LCACHE_SLOTS 2048 /* power of two */
#define TK_LCACHE_WORD 118
#define TK_LCACHE_IDS 32

typedef struct tk_lslot {
    uint64_t hash; /* 0: empty */
    uint8_t wlen, nids;
    unsigned char word[TK_LCACHE_WORD];
    int32_t ids[TK_LCACHE_IDS];
} tk_lslot;
_Static_assert(sizeof(tk_lslot) == 256, "a long-word slot is four cache lines");

typedef struct tk_tls {
    uint64_t gen; /* the tokenizer the slots belong to */
    tk_scratch sc;
    tk_wslot *slots;
    tk_lslot *lslots; /* TK_LCACHE_SLOTS; NULL: none (out of memory) */
} tk_tls;

/* This thread's encode state for t (slots emptied when t is not the tokenizer it last served);
 * NULL when out of memory. */
tk_tls *tk_tls_get(const struct qwen3_tokenizer *t);
/* Frees scratch buffers that grew large, at the end of an encode. */
void tk_tls_trim(tk_tls *s);
/* Builds t->mfilter and t->bpair from t->merges and t->byte_id (either is left NULL when out of
 * memory: lookups then go without it). */
void tk_merge_index_init(struct qwen3_tokenizer *t);
/* Looks up a merge of (a, b); NULL when the pair never merges. */
const tk_merge *tk_merge_find(const struct qwen3_tokenizer *t, uint32_t a, uint32_t b);
/* BPE of one pre-token's bytes (valid UTF-8: encode.c checks the text); the resulting ids are
 * written to s->ids and their count returned (-1 out of memory). */
int tk_bpe_word(const struct qwen3_tokenizer *t, const unsigned char *w, size_t n, tk_scratch *s);

/* --- wchar.c ----------------------------------------------------------------------------------- */

/* A memo entry: bit 0 known, TK_WC_ONE the character is one token (its id in bits 5 and up), and
 * the conditions under which BPE may start it whole: TK_WC_L with a right neighbour, TK_WC_PA
 * after any left neighbour, TK_WC_PM after one ending in a continuation byte. */
enum { TK_WC_L = 2, TK_WC_PA = 4, TK_WC_PM = 8, TK_WC_ONE = 16 };
struct tk_wchar;
/* 0 when tk_wchar_entry may be asked: the memo came with the cache, or the tables are built now
 * (first call); -1 when out of memory or t has no merges. */
int tk_wchar_ready(const struct qwen3_tokenizer *t);
void tk_wchar_free(struct tk_wchar *w);
/* The complete memo (65536 entries, every one known) into out, for the binary cache; -1 when out
 * of memory or t has no merges. tk_wchar_table_check: -1 when a table read back is not one (an
 * entry unknown or naming an id >= n_ids). */
int tk_wchar_table(const struct qwen3_tokenizer *t, uint32_t *out);
int tk_wchar_table_check(const uint32_t *tab, uint32_t n_ids);
/* The memo entry of the character cp, whose cl (2 or 3) bytes of valid UTF-8 are c. */
uint32_t tk_wchar_entry(const struct qwen3_tokenizer *t, unsigned cp, const unsigned char *c, int cl);

/* --- cut.c ------------------------------------------------------------------------------------- */

struct tk_cut;
/* The tables of cut.c, built by the first call; NULL when out of memory or when the tokenizer
 * has ignore_merges (a word found whole in the vocabulary is one token, so pieces are not words). */
const struct tk_cut *tk_cut_ready(const struct qwen3_tokenizer *t);
void tk_cut_free(struct tk_cut *c);
/* The tables' size, and a build of them into out (that many bytes), for the binary cache. */
size_t tk_cut_size(void);
void tk_cut_table(const struct qwen3_tokenizer *t, void *out);
/* The end of the piece of the word w[0..n) (valid UTF-8) that starts at i < n: the first place
 * after w[i] where BPE may cut the word (cut.c's rule), else n. */
size_t tk_cut_next(const struct tk_cut *c, const unsigned char *w, size_t n, size_t i);

/* --- vocab.c ------------------------------------------------------------------------------------ */

uint32_t tk_hash_bytes(const void *p, size_t n);
/* BPE id of raw bytes, or -1. */
int32_t tk_vocab_find(const struct qwen3_tokenizer *t, const void *p, size_t n);

/* The lowest of r[0..n) (n a multiple of 8): the scan of bpe.c's short-word path for the pair to
 * merge next, most of BPE's time on text whose words miss the caches. The AVX-512 one (16 lanes)
 * where the CPU has it and QWEN3_ISA allows (kernels/ktable.c's k_cpu_env_features); the scalar
 * twin (GCC vectors of 4) elsewhere; tests/unit/test_tokenizer.c compares them. */
uint32_t tk_rank_min_scalar(const uint32_t *r, int n);
uint32_t tk_rank_min_avx512(const uint32_t *r, int n);

#endif
