/* bpe.c - byte-pair encoding of one pre-token, as Hugging Face's BPE model does it.
 *
 * The word starts as one token per byte. While some adjacent pair has a merge, the pair with the
 * lowest merge rank is merged, the leftmost first among equals (HF pops a heap ordered by rank,
 * then position). Pairs are found through a hash of (left id, right id), never by scanning merges.
 *
 * Short words (the usual case) keep a rank per byte position and scan for the minimum; O(n^2) in
 * the word length but with n <= SMALL it beats any heap. Longer words use a linked list and a
 * binary heap of (rank, position), O(n log n), so a 100,000-byte run of one letter stays fast.
 * SMALL is 128 (positions take 7 bits of a rank slot): Japanese and Chinese runs between
 * punctuation are often 50-128 bytes, and the scan beats the heap there too (48: 6% slower on
 * Japanese documents, bench/tokenizer.sh's setting).
 *
 * Lookups dominate the cost on text in many languages (words there often miss the word cache), and
 * most of them are answered without touching the multi-megabyte merge table: a word's first pairs
 * (two bytes) come from a 256 x 256 table, a pair that never merges is told by a Bloom filter, and
 * recent pairs by the per-thread cache. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tokenizer/tok.h"

#define SMALL 128

static inline uint64_t pair_key(uint32_t a, uint32_t b) { return ((uint64_t)a << 32 | b) + 1; }
static inline uint32_t pair_slot(uint64_t key) { return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32); }

const tk_merge *tk_merge_find(const struct qwen3_tokenizer *t, uint32_t a, uint32_t b) {
    uint64_t key = pair_key(a, b);
    for (uint32_t h = pair_slot(key) & t->mmask;; h = (h + 1) & t->mmask) {
        const tk_merge *m = &t->merges[h];
        if (m->key == key) return m;
        if (!m->key) return NULL;
    }
}

/* Filter word and its two bits for a pair key (a multiplier unrelated to the tables' hashes). */
static inline uint64_t filter_hash(uint64_t key) { return key * 0x9FB21C651E98DF25ull; }
static inline uint64_t filter_bits(uint64_t h) { return 1ull << ((h >> 20) & 63) | 1ull << ((h >> 26) & 63); }

void tk_merge_index_init(struct qwen3_tokenizer *t) {
    free(t->mfilter);
    free(t->bpair);
    t->mfilter = NULL;
    t->bpair = NULL;
    /* 128 KB for Qwen's 151,387 merges, about 18 set bits per word: a pair that never merges passes
     * with probability ~8%; a larger filter lets fewer through but misses the L2 cache more often
     * (fewer cache misses in all with this size under cachegrind, 1 MB last level) */
    uint32_t words = 64;
    while (words < (uint32_t)t->n_merges / 16 && words < (1u << 26)) words *= 2;
    uint64_t *f = calloc(words, sizeof *f), *bp = malloc(65536 * sizeof *bp);
    if (bp)
        for (unsigned k = 0; k < 65536; k++) bp[k] = (uint64_t)UINT32_MAX << 32;
    uint32_t max_rank = 0;
    for (uint32_t k = 0; t->merges && k <= t->mmask; k++) {
        const tk_merge *m = &t->merges[k];
        if (!m->key) continue;
        if (m->rank > max_rank) max_rank = m->rank;
        uint64_t h = filter_hash(m->key);
        if (f) f[(h >> 40) & (words - 1)] |= filter_bits(h);
        uint32_t a = (uint32_t)((m->key - 1) >> 32), b = (uint32_t)(m->key - 1);
        /* a merge of two single-byte tokens (ids below n_ids, as the loaders check) */
        if (!bp || a >= (uint32_t)t->n_ids || b >= (uint32_t)t->n_ids || t->len[a] != 1 || t->len[b] != 1) continue;
        unsigned char x = (unsigned char)t->blob[t->off[a]], y = (unsigned char)t->blob[t->off[b]];
        if ((uint32_t)t->byte_id[x] == a && (uint32_t)t->byte_id[y] == b) bp[x << 8 | y] = (uint64_t)m->rank << 32 | m->id;
    }
    t->mfilter = f;
    t->fmask = words - 1;
    t->small_ranks = max_rank < (1u << 25) - 1;
    t->rank_min = k_cpu_env_features() & K_CPU_AVX512 ? tk_rank_min_avx512 : tk_rank_min_scalar;
    t->bpair = bp;
}

/* The merge of (a, b) through the scratch's small direct-mapped cache of recent lookups: the hot
 * pairs of real text (bytes inside a character, common syllables) then cost an L2 hit instead of a
 * miss in the multi-megabyte merge table. Absent pairs are cached too (rank UINT32_MAX). */
/* Starts the reads a lookup of (a, b) begins with: its filter word and its scratch cache slot. */
static inline void prefetch_pair(const struct qwen3_tokenizer *t, const tk_scratch *s, uint32_t a, uint32_t b) {
    uint64_t key = pair_key(a, b);
    if (t->mfilter) __builtin_prefetch(&t->mfilter[(filter_hash(key) >> 40) & t->fmask]);
    if (s->pcache) __builtin_prefetch(&s->pcache[(uint32_t)((key * 0xD6E8FEB86659FD93ull) >> 40) & (TK_PCACHE_SLOTS - 1)]);
}

static inline const tk_merge *find(const struct qwen3_tokenizer *t, tk_scratch *s, uint32_t a, uint32_t b) {
    uint64_t key = pair_key(a, b);
    if (t->mfilter) {
        uint64_t h = filter_hash(key), bits = filter_bits(h);
        if ((t->mfilter[(h >> 40) & t->fmask] & bits) != bits) return NULL;
    }
    if (!s->pcache) return tk_merge_find(t, a, b);
    tk_merge *c = &s->pcache[(uint32_t)((key * 0xD6E8FEB86659FD93ull) >> 40) & (TK_PCACHE_SLOTS - 1)];
    if (c->key != key) {
        const tk_merge *m = tk_merge_find(t, a, b);
        *c = m ? *m : (tk_merge){key, UINT32_MAX, 0};
    }
    return c->rank == UINT32_MAX ? NULL : c;
}

void tk_scratch_free(tk_scratch *s) {
    free(s->ids);
    free(s->rank);
    free(s->mid);
    free(s->prev);
    free(s->next);
    free(s->heap);
    free(s->nfc);
    tk_merge *pc = s->pcache; /* owned by the per-thread state, which outlives the buffers */
    memset(s, 0, sizeof *s);
    s->pcache = pc;
}

static int scratch_reserve(tk_scratch *s, size_t n) {
    if (n <= s->cap) return 0;
    size_t c = s->cap ? s->cap : 64;
    while (c < n) c *= 2;
    int32_t *ids = realloc(s->ids, c * sizeof *ids);
    if (ids) s->ids = ids;
    uint32_t *rank = realloc(s->rank, c * sizeof *rank);
    if (rank) s->rank = rank;
    uint32_t *mid = realloc(s->mid, c * sizeof *mid);
    if (mid) s->mid = mid;
    int32_t *prev = realloc(s->prev, c * sizeof *prev);
    if (prev) s->prev = prev;
    int32_t *next = realloc(s->next, c * sizeof *next);
    if (next) s->next = next;
    if (!ids || !rank || !mid || !prev || !next) return -1;
    s->cap = c;
    return 0;
}

/* bpe_small's rank slot for the pair at position k: rank << 7 | k, so the minimum also says where
 * it is, and equal ranks order by position (leftmost first) for free. UINT32_MAX: no merge. */
static inline uint32_t rank_at(uint32_t rank, int k) { return rank == UINT32_MAX ? UINT32_MAX : rank << 7 | (uint32_t)k; }

static inline void set_pair(const struct qwen3_tokenizer *t, tk_scratch *s, int k, int32_t a, int32_t b) {
    const tk_merge *m = find(t, s, (uint32_t)a, (uint32_t)b);
    s->rank[k] = m ? rank_at(m->rank, k) : UINT32_MAX;
    s->mid[k] = m ? m->id : 0;
}

typedef uint32_t v4u __attribute__((vector_size(16))); /* GCC and Clang vector extension */

uint32_t tk_rank_min_scalar(const uint32_t *rank, int n8) {
    v4u m0, m1;
    memcpy(&m0, rank, sizeof m0);
    memcpy(&m1, rank + 4, sizeof m1);
    for (int k = 8; k < n8; k += 8) {
        v4u a, b;
        memcpy(&a, rank + k, sizeof a);
        memcpy(&b, rank + k + 4, sizeof b);
        v4u lt = a < m0, lt1 = b < m1; /* lanes all ones where true */
        m0 = (a & lt) | (m0 & ~lt);
        m1 = (b & lt1) | (m1 & ~lt1);
    }
    v4u lt = m1 < m0;
    m0 = (m1 & lt) | (m0 & ~lt);
    uint32_t br = m0[0];
    for (int j = 1; j < 4; j++) br = m0[j] < br ? m0[j] : br;
    return br;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) uint32_t tk_rank_min_avx512(const uint32_t *rank, int n8) {
    __m512i m = _mm512_set1_epi32(-1);
    int k = 0;
    for (; k + 16 <= n8; k += 16) m = _mm512_min_epu32(m, _mm512_loadu_si512(rank + k));
    if (k < n8) m = _mm512_min_epu32(m, _mm512_mask_loadu_epi32(_mm512_set1_epi32(-1), (__mmask16)0x00ff, rank + k));
    return _mm512_reduce_min_epu32(m);
}
#else
uint32_t tk_rank_min_avx512(const uint32_t *rank, int n8) { return tk_rank_min_scalar(rank, n8); }
#endif

/* The token of the character at w[k] (valid UTF-8, k < n) when BPE may start it whole there
 * (wchar.c: its memo entry against the neighbours this position has), else -1; *cl gets its length. */
static inline int32_t whole_at(const struct qwen3_tokenizer *t, const unsigned char *w, int k, int n, int *cl) {
    int len;
    unsigned cp = tk_utf8_get(w + k, &len);
    if (len != 2 && len != 3) return -1;
    uint32_t e = tk_wchar_entry(t, cp, w + k, len);
    uint32_t need = TK_WC_ONE | (k + len < n ? TK_WC_L : 0u) |
                    (k == 0 ? 0u : (w[k - 1] & 0xC0) == 0x80 ? TK_WC_PM : TK_WC_PA); /* after a continuation byte? */
    if ((e & need) != need) return -1;
    *cl = len;
    return (int32_t)(e >> 5);
}

/* Short words: symbols stay at their byte positions, linked through nx/pv (merged-away positions
 * are skipped and hold rank UINT32_MAX), so a merge costs two lookups and no moves. rank[k] is the
 * rank of the pair (k, nx[k]); the leftmost minimum is the lowest position, as positions keep the
 * word's order. */
static int bpe_small(const struct qwen3_tokenizer *t, const unsigned char *w, int n, tk_scratch *s) {
    int32_t *ids = s->ids;
    uint32_t *rank = s->rank;
    uint8_t nx[SMALL + 1], pv[SMALL + 1];
    if (t->bpair) {
        /* characters that may start whole take one symbol (wchar.c; none when its tables could
         * not be built); the positions they cover after their first byte are never linked and
         * hold rank UINT32_MAX. Pairs of single bytes come from bpair. */
        int whole = tk_wchar_ready(t) == 0, last = -1;
        for (int k = 0; k < n;) {
            int cl = 1;
            int32_t id = whole && w[k] >= 0xC2 ? whole_at(t, w, k, n, &cl) : -1;
            if (id >= 0) ids[k] = id;
            for (int j = k + 1; j < k + cl; j++) rank[j] = UINT32_MAX;
            nx[k] = (uint8_t)(k + cl);
            pv[k] = (uint8_t)last; /* 255 for -1: no symbol before */
            if (last >= 0) {
                if (k == last + 1 && cl == 1) {
                    uint64_t e = t->bpair[(unsigned)w[last] << 8 | w[k]];
                    rank[last] = rank_at((uint32_t)(e >> 32), last);
                    s->mid[last] = (uint32_t)e;
                } else {
                    set_pair(t, s, last, ids[last], ids[k]);
                }
            }
            last = k;
            k += cl;
        }
        rank[last] = UINT32_MAX;
    } else {
        for (int k = 0; k < n; k++) {
            nx[k] = (uint8_t)(k + 1);
            pv[k] = (uint8_t)(k - 1); /* 255 for k = 0: no symbol before */
        }
        for (int k = 0; k + 1 < n; k++) set_pair(t, s, k, ids[k], ids[k + 1]);
    }
    /* ranks padded to a multiple of 8 positions, so the minimum is taken 8 lanes at a time (two
     * vectors); the scan was most of the instructions of BPE */
    int n8 = (n + 7) & ~7;
    for (int k = n - 1; k < n8; k++) rank[k] = UINT32_MAX;
    for (;;) {
        uint32_t br = t->rank_min(rank, n8);
        if (br == UINT32_MAX) break;
        int best = (int)(br & 127);
        int r = nx[best];
        ids[best] = (int32_t)s->mid[best];
        rank[r] = UINT32_MAX;
        nx[best] = nx[r];
        if (nx[r] < n) pv[nx[r]] = (uint8_t)best;
        /* both new pairs' first reads are started before either lookup, so their misses overlap */
        if (pv[best] != 255) prefetch_pair(t, s, (uint32_t)ids[pv[best]], (uint32_t)ids[best]);
        if (nx[best] < n) prefetch_pair(t, s, (uint32_t)ids[best], (uint32_t)ids[nx[best]]);
        if (pv[best] != 255) set_pair(t, s, pv[best], ids[pv[best]], ids[best]);
        if (nx[best] < n) set_pair(t, s, best, ids[best], ids[nx[best]]);
        else rank[best] = UINT32_MAX;
    }
    int o = 0;
    for (int k = 0; k < n; k = nx[k]) ids[o++] = ids[k];
    return o;
}

/* min-heap of (rank << 32 | position) */
static int heap_push(tk_scratch *s, size_t *hn, uint64_t v) {
    if (*hn == s->heap_cap) {
        size_t c = s->heap_cap ? s->heap_cap * 2 : 256;
        uint64_t *h = realloc(s->heap, c * sizeof *h);
        if (!h) return -1;
        s->heap = h;
        s->heap_cap = c;
    }
    uint64_t *h = s->heap;
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
    return 0;
}

static uint64_t heap_pop(tk_scratch *s, size_t *hn) {
    uint64_t *h = s->heap, top = h[0], v = h[--*hn];
    size_t i = 0, n = *hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (v <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = v;
    return top;
}

static int push_pair(const struct qwen3_tokenizer *t, tk_scratch *s, size_t *hn, int32_t k) {
    int32_t nx = s->next[k];
    if (nx < 0) return 0;
    const tk_merge *m = find(t, s, (uint32_t)s->ids[k], (uint32_t)s->ids[nx]);
    if (!m) return 0;
    return heap_push(s, hn, (uint64_t)m->rank << 32 | (uint32_t)k);
}

static int bpe_heap(const struct qwen3_tokenizer *t, int n, tk_scratch *s) {
    int32_t *ids = s->ids, *prev = s->prev, *next = s->next;
    size_t hn = 0;
    for (int k = 0; k < n; k++) {
        prev[k] = k - 1;
        next[k] = k + 1 < n ? k + 1 : -1;
    }
    for (int k = 0; k + 1 < n; k++)
        if (push_pair(t, s, &hn, k)) return -1;
    while (hn) {
        uint64_t top = heap_pop(s, &hn);
        int32_t k = (int32_t)(uint32_t)top, nx = next[k];
        uint32_t rank = (uint32_t)(top >> 32);
        /* stale entries: the symbol was absorbed (ids -1) or its pair changed since the push */
        if (ids[k] < 0 || nx < 0) continue;
        const tk_merge *m = find(t, s, (uint32_t)ids[k], (uint32_t)ids[nx]);
        if (!m || m->rank != rank) continue;
        ids[k] = (int32_t)m->id;
        ids[nx] = -1;
        next[k] = next[nx];
        if (next[nx] >= 0) prev[next[nx]] = k;
        if (prev[k] >= 0 && push_pair(t, s, &hn, prev[k])) return -1;
        if (push_pair(t, s, &hn, k)) return -1;
    }
    int o = 0;
    for (int k = 0; k >= 0; k = next[k]) ids[o++] = ids[k];
    return o;
}

int tk_bpe_word(const struct qwen3_tokenizer *t, const unsigned char *w, size_t n, tk_scratch *s) {
    if (n > (size_t)INT32_MAX - 8 || scratch_reserve(s, n + 8) != 0) return -1; /* + 8: bpe_small's padding */
    for (size_t k = 0; k < n; k++) s->ids[k] = t->byte_id[w[k]];
    if (n == 1) return 1;
    if (t->ignore_merges) {
        int32_t id = tk_vocab_find(t, w, n);
        if (id >= 0) {
            s->ids[0] = id;
            return 1;
        }
    }
    return n <= SMALL && t->small_ranks ? bpe_small(t, w, (int)n, s) : bpe_heap(t, (int)n, s);
}
