/* wchar.c - which characters BPE may start whole, as one symbol instead of their 2 or 3 bytes.
 *
 * Byte-level BPE starts every word as one symbol per byte, so a word of Chinese, Japanese or Korean
 * spends two merges per character just rebuilding the character (9 in 10 of its merges, and most of
 * the time of text in those scripts) before the merges between characters begin. Starting such a
 * character c as its own token gives the same ids when no merge across its edges can use one of its
 * partial symbols (a lone byte of it, or two of its three bytes):
 *
 * - In isolation, c's bytes merge into its token by a chain of merges whose highest rank is R.
 *   c is "safe on the right" when every merge whose left symbol is a proper suffix of c (its last
 *   byte, or its last two) and whose right symbol starts a character has rank > R; "safe on the
 *   left" likewise for merges whose right symbol is a proper prefix of c (its lead byte, or its
 *   first two bytes), whatever their left symbol.
 * - While c is incomplete it always has a pair inside it of rank <= R, and BPE merges the lowest
 *   rank first, so none of those cross merges (rank > R) happens before c is complete; after that
 *   c's partial symbols are gone. So c's partials never merge outside c, and c completes.
 * - Starting from c whole only adds the pairs (x, c) and (c, y) earlier. When every merge that
 *   consumes c's token ranks above R (true of merges as BPE training writes them, and checked
 *   here per character, not assumed), those pairs would not have been merged before c completed
 *   anyway, so the merges between symbols happen in the same order as from bytes.
 *
 * Safety on the left depends on what can precede c: any symbol (c after an ASCII byte), or only
 * symbols ending in a continuation byte (c after another multi-byte character), hence two flags;
 * at a word's first byte there is no left neighbour, at its last no right one. The bounds (25 KB)
 * and the lowest rank that consumes each character's token (by code point) come from one pass over
 * the merge table (~5 ms for Qwen's); each character's answer is kept in a 64K-entry memo by code
 * point. The tokenizer's binary cache holds the whole memo (computed when the cache is written, ~2
 * ms more), so a cached load builds nothing; otherwise (a parse, QWEN3_NO_CACHE) the tables are
 * built on first use and each entry computed when first needed (a relaxed atomic store of a value
 * any thread computes alike). On Qwen's tokenizer 58% of the characters of the CJK documents of
 * tests/ref/tokenizer_cases.py start whole; the others (hiragana after し, Korean syllables after a
 * space: real merges across their edges) start as bytes, as before. */
#include <stdatomic.h>
#include <stdlib.h>

#include "tokenizer/tok.h"

/* Offsets of the bound tables in tk_wchar.bound (each entry: the lowest rank, UINT32_MAX none) */
enum {
    WB_LS1 = 0,              /* [x & 63]: left = the continuation byte x, right starts a character */
    WB_LS2 = WB_LS1 + 64,    /* [(y & 63) << 6 | (x & 63)]: left = continuation bytes y x, same */
    WB_PA1 = WB_LS2 + 4096,  /* [x & 63]: right = the lead byte x (>= 0xC0), any left */
    WB_PM1 = WB_PA1 + 64,    /* the same, left ending in a continuation byte */
    WB_PA2 = WB_PM1 + 64,    /* [(x & 15) << 6 | (y & 63)]: right = lead byte x (E0-EF) then y, any left */
    WB_PM2 = WB_PA2 + 1024,  /* the same, left ending in a continuation byte */
    WB_N = WB_PM2 + 1024
};

static inline int cont(unsigned x) { return (x & 0xC0) == 0x80; }
static inline void lower(uint32_t *b, uint32_t r) { if (r < *b) *b = r; }

struct tk_wchar {
    uint32_t bound[WB_N];
    uint32_t consumed[65536];     /* by code point: the lowest rank of a merge using its token */
    _Atomic uint32_t memo[65536]; /* by code point (0x80-0xFFFF): the entry, 0 = not yet known */
};

/* The code point of s[0..n) when it is one valid 2- or 3-byte character, else 0. */
static unsigned one_char(const unsigned char *s, uint32_t n) {
    int cl;
    return (n == 2 || n == 3) && tk_utf8_valid_len(s, n) == (int)n ? tk_utf8_get(s, &cl) : 0;
}

/* One pass over the merge table: the bound tables and the consumed ranks. */
static struct tk_wchar *build(const struct qwen3_tokenizer *t) {
    struct tk_wchar *w = malloc(sizeof *w);
    if (!w) return NULL;
    for (int k = 0; k < WB_N; k++) w->bound[k] = UINT32_MAX;
    for (int k = 0; k < 65536; k++) w->consumed[k] = UINT32_MAX;
    for (int k = 0; k < 65536; k++) atomic_init(&w->memo[k], 0);
    uint32_t *wb = w->bound;
    for (uint32_t k = 0; k <= t->mmask; k++) {
        const tk_merge *m = &t->merges[k];
        if (!m->key) continue;
        uint32_t a = (uint32_t)((m->key - 1) >> 32), b = (uint32_t)(m->key - 1);
        if (a >= (uint32_t)t->n_ids || b >= (uint32_t)t->n_ids) continue; /* the loaders refuse these */
        uint32_t la = t->len[a], lb = t->len[b];
        /* every table here is about a side of 1-3 bytes: longer pairs are skipped unread */
        if (la == 0 || lb == 0 || la == UINT32_MAX || lb == UINT32_MAX || (la > 3 && lb > 3)) continue;
        const unsigned char *A = (const unsigned char *)t->blob + t->off[a];
        const unsigned char *B = (const unsigned char *)t->blob + t->off[b];
        unsigned ca = one_char(A, la), cb = one_char(B, lb);
        if (ca) lower(&w->consumed[ca], m->rank);
        if (cb) lower(&w->consumed[cb], m->rank);
        if (!cont(B[0])) {
            if (la == 1 && cont(A[0])) lower(&wb[WB_LS1 + (A[0] & 63)], m->rank);
            if (la == 2 && cont(A[0]) && cont(A[1])) lower(&wb[WB_LS2 + ((A[0] & 63u) << 6 | (A[1] & 63u))], m->rank);
        }
        int after_mb = cont(A[la - 1]);
        if (lb == 1 && B[0] >= 0xC0) {
            lower(&wb[WB_PA1 + (B[0] & 63)], m->rank);
            if (after_mb) lower(&wb[WB_PM1 + (B[0] & 63)], m->rank);
        }
        if (lb == 2 && (B[0] & 0xF0) == 0xE0 && cont(B[1])) {
            unsigned i = (B[0] & 15u) << 6 | (B[1] & 63u);
            lower(&wb[WB_PA2 + i], m->rank);
            if (after_mb) lower(&wb[WB_PM2 + i], m->rank);
        }
    }
    return w;
}

/* t's tables, built by the first caller (set once by compare-and-swap, like ext); NULL when out of
 * memory or t has no merges */
static struct tk_wchar *get(const struct qwen3_tokenizer *t) {
    struct qwen3_tokenizer *mt = (struct qwen3_tokenizer *)t; /* the build-once slot */
    struct tk_wchar *have = atomic_load(&mt->wchar);
    if (have || !t->bpair || !t->merges) return have;
    struct tk_wchar *w = build(t);
    if (!w) return NULL; /* out of memory: bytes, and another try next time */
    struct tk_wchar *expected = NULL;
    if (!atomic_compare_exchange_strong(&mt->wchar, &expected, w)) {
        free(w);
        return expected;
    }
    return w;
}

int tk_wchar_ready(const struct qwen3_tokenizer *t) { return t->wchar_table || get(t) ? 0 : -1; }

void tk_wchar_free(struct tk_wchar *w) { free(w); }

static uint32_t compute(const struct qwen3_tokenizer *t, const struct tk_wchar *w, const unsigned char *c, unsigned cp,
                        int cl);

uint32_t tk_wchar_entry(const struct qwen3_tokenizer *t, unsigned cp, const unsigned char *c, int cl) {
    if (t->wchar_table) return t->wchar_table[cp];
    struct tk_wchar *w = atomic_load(&((struct qwen3_tokenizer *)t)->wchar); /* built: tk_wchar_ready */
    uint32_t e = atomic_load_explicit(&w->memo[cp], memory_order_relaxed);
    if (!e) {
        e = compute(t, w, c, cp, cl);
        atomic_store_explicit(&w->memo[cp], e, memory_order_relaxed); /* any thread computes the same */
    }
    return e;
}

/* The memo entry of the character cp, whose cl (2 or 3) bytes are c. */
static uint32_t compute(const struct qwen3_tokenizer *t, const struct tk_wchar *w, const unsigned char *c, unsigned cp,
                        int cl) {
    const uint32_t *wb = w->bound;
    uint32_t R, id, L, PA, PM;
    if (cl == 2) {
        uint64_t e = t->bpair[c[0] << 8 | c[1]];
        R = (uint32_t)(e >> 32);
        if (R == UINT32_MAX) return 1;
        id = (uint32_t)e;
        L = wb[WB_LS1 + (c[1] & 63)];
        PA = wb[WB_PA1 + (c[0] & 63)];
        PM = wb[WB_PM1 + (c[0] & 63)];
    } else {
        uint64_t e12 = t->bpair[c[0] << 8 | c[1]], e23 = t->bpair[c[1] << 8 | c[2]];
        uint32_t r12 = (uint32_t)(e12 >> 32), r23 = (uint32_t)(e23 >> 32);
        if (r12 == UINT32_MAX && r23 == UINT32_MAX) return 1;
        const tk_merge *m = r12 < r23 ? tk_merge_find(t, (uint32_t)e12, (uint32_t)t->byte_id[c[2]])
                                      : tk_merge_find(t, (uint32_t)t->byte_id[c[0]], (uint32_t)e23);
        if (!m) return 1; /* not one token */
        R = m->rank > (r12 < r23 ? r12 : r23) ? m->rank : (r12 < r23 ? r12 : r23);
        id = m->id;
        unsigned s2 = (c[1] & 63u) << 6 | (c[2] & 63u), p2 = (c[0] & 15u) << 6 | (c[1] & 63u);
        L = wb[WB_LS1 + (c[2] & 63)];
        lower(&L, wb[WB_LS2 + s2]);
        PA = wb[WB_PA1 + (c[0] & 63)];
        lower(&PA, wb[WB_PA2 + p2]);
        PM = wb[WB_PM1 + (c[0] & 63)];
        lower(&PM, wb[WB_PM2 + p2]);
    }
    if (id >= (1u << 26) || w->consumed[cp] <= R) return 1; /* a merge using c's token could come first */
    return id << 5 | TK_WC_ONE | (uint32_t)(R < PM) * TK_WC_PM | (uint32_t)(R < PA) * TK_WC_PA | (uint32_t)(R < L) * TK_WC_L | 1u;
}

int tk_wchar_table(const struct qwen3_tokenizer *t, uint32_t *out) {
    struct tk_wchar *w = t->bpair && t->merges ? build(t) : NULL;
    if (!w) return -1;
    for (unsigned cp = 0; cp < 65536; cp++) {
        unsigned char c[4];
        /* never asked: ASCII is not whole-started, surrogates are not valid UTF-8 */
        out[cp] = cp < 0x80 || (cp >= 0xD800 && cp < 0xE000) ? 1 : compute(t, w, c, cp, tk_utf8_put(cp, c));
    }
    free(w);
    return 0;
}

int tk_wchar_table_check(const uint32_t *tab, uint32_t n_ids) {
    for (unsigned cp = 0; cp < 65536; cp++)
        if (!(tab[cp] & 1) || ((tab[cp] & TK_WC_ONE) && tab[cp] >> 5 >= n_ids)) return -1;
    return 0;
}
