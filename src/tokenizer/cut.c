/* cut.c - where BPE may cut a word in two: places no token of the vocabulary can span.
 *
 * A run of CJK characters is one pre-token, often 10-40 characters long, and such runs seldom
 * repeat, so they miss the word caches and each goes through BPE, most of the time of text in those
 * scripts. Yet the tokens of Chinese or Japanese text are one to three characters long, and the
 * pieces repeat all the time. Cutting the run where BPE never merges across lets each piece be
 * looked up, and encoded once, in the word cache.
 *
 * The rule: BPE of a word equals BPE of its left part followed by BPE of its right part when no
 * token of the vocabulary occurs in the word across the cut. Every symbol BPE makes is the result
 * of a merge, and every merge result is a vocabulary token (the loaders refuse merges whose result
 * is not), so no symbol ever spans the cut and no pair across it ever merges. Each merge is the
 * lowest-ranked pair of the whole word, leftmost among equals; when it lies in the left part it is
 * also the lowest, leftmost, of the left part's pairs, and merges in the right part do not change
 * the left part's pairs, so the left part goes through the same merges, in the same order, as it
 * would alone; likewise the right part.
 *
 * Cuts are only considered between two characters of 2 or 3 UTF-8 bytes, c1 then c2. A token that
 * occurs across that boundary holds, around its own boundary, a suffix of c1 (c1 whole when the
 * token reaches c1's lead byte, else one or two of its continuation bytes) and a prefix of c2 (c2
 * whole, or its lead byte, or its first two bytes). So the vocabulary is read once for its
 * "crossings": each place inside a token where a lead byte of a multi-byte character follows a
 * non-ASCII byte gives the pair (left unit, right unit) found there, and the boundary c1 | c2 may be
 * cut unless some crossing pairs one of c1's suffixes with one of c2's prefixes. The pairs are kept
 * in a Bloom filter (64 KB; a false positive only loses a cut), with flags saying which characters
 * and which partial units occur in a crossing at all, and with what kind of partner, so that most
 * boundaries cost two flag reads and at most one filter probe. On Qwen's vocabulary about 27,000
 * crossings pair two whole characters and fewer than 300 involve a partial one. In 2 MB of the
 * documents of tests/ref/tokenizer_cases.py cjk, 57,000 of the 82,000 words that miss the word
 * cache may be cut, into 267,000 pieces, half of them single characters (encode.c gives those
 * their token without a lookup) and most of the rest found in the cache.
 *
 * The tables (135 KB) come with the tokenizer's binary cache (cache.c); otherwise (a parse,
 * QWEN3_NO_CACHE) they are built from the vocabulary on first use (~3 ms for Qwen's; set once by
 * compare-and-swap, like wchar.c's) and freed with the tokenizer. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok.h"

#define BLOOM_WORDS 8192 /* 64 KB; ~27,000 pairs: about 1% false positives */

/* Flags of a whole character (by code point) and of a partial unit (by its bytes). As the left unit
 * of a crossing whose right unit is whole: LW; partial: LP. As the right unit of one whose left unit
 * is whole: RW; partial: RP. For characters also what their partial units occur as: SUFW / SUFP one
 * of its continuation-byte suffixes has LW / LP, PREW / PREP one of its proper prefixes has RW / RP.
 * The left-side kinds sit in the low four bits and the right-side kinds they pair with four bits
 * higher, so (fa & 15) & (fb >> 4) is the set of kinds of crossing that may join a to b: usually
 * empty or LW alone. */
enum { LW = 1, LP = 2, SUFW = 4, SUFP = 8, RW = 16, PREW = 32, RP = 64, PREP = 128 };

struct tk_cut {
    uint8_t ch[65536];  /* by code point (0x80-0xFFFF) */
    /* partial units (suf_at, pre_at): suf[x & 63] the continuation byte x, suf[64 + ((y & 63) << 6 |
     * (x & 63))] the continuation bytes y x; pre[x & 63] the lead byte x (C2-EF), pre[64 + ((x & 15)
     * << 6 | (y & 63))] the lead byte x (E0-EF) then y */
    uint8_t suf[64 + 4096], pre[64 + 1024];
    uint64_t bloom[BLOOM_WORDS];
};

static inline int cont(unsigned x) { return (x & 0xC0) == 0x80; }

/* A unit (1-3 bytes) as a number: its bytes and its length, so units of different lengths differ. */
static inline uint32_t unit(const unsigned char *p, int n) {
    uint32_t u = (uint32_t)n << 24;
    for (int k = 0; k < n; k++) u |= (uint32_t)p[k] << (8 * k);
    return u;
}

static inline uint64_t bloom_hash(uint32_t l, uint32_t r) { return ((uint64_t)l << 32 | r) * 0xD1B54A32D192ED03ull; }
static inline uint64_t bloom_bits(uint64_t h) { return 1ull << (h >> 58) | 1ull << ((h >> 52) & 63); }
static inline int bloom_has(const struct tk_cut *c, uint32_t l, uint32_t r) {
    uint64_t h = bloom_hash(l, r), b = bloom_bits(h);
    return (c->bloom[(h >> 20) & (BLOOM_WORDS - 1)] & b) == b;
}

/* Where the flags of a partial unit p[0..n) are: a suffix (1 or 2 continuation bytes) in suf[], a
 * prefix (a lead byte, and at most one continuation byte, of a 2- or 3-byte character) in pre[]. */
static inline unsigned suf_at(const unsigned char *p, int n) {
    return n == 1 ? p[0] & 63u : 64u + ((p[0] & 63u) << 6 | (p[1] & 63u));
}
static inline unsigned pre_at(const unsigned char *p, int n) {
    return n == 1 ? p[0] & 63u : 64u + ((p[0] & 15u) << 6 | (p[1] & 63u));
}

/* The length of the character that lead byte x starts: 2 or 3, else 0 (ASCII, a continuation
 * byte, a 4-byte lead: never cut next to). */
static inline int clen(unsigned x) { return x >= 0xC2 && x <= 0xDF ? 2 : x >= 0xE0 && x <= 0xEF ? 3 : 0; }

static void add_crossings(struct tk_cut *c, const unsigned char *tb, uint32_t n) {
    for (uint32_t i = 1; i < n; i++) {
        int rl = clen(tb[i]);
        if (!rl || tb[i - 1] < 0x80) continue;
        /* the left unit: back to the lead byte of the character tb[i - 1] ends, or to the token's
         * start (then the unit is continuation bytes only) */
        uint32_t j = i - 1;
        while (j > 0 && cont(tb[j]) && i - j < 4) j--;
        int lw; /* whole character on the left? */
        if (!cont(tb[j])) {
            if (clen(tb[j]) != (int)(i - j)) continue; /* a 4-byte character, or bytes valid text never has */
            lw = 1;
        } else {
            if (j != 0 || i > 2) continue; /* 3 continuation bytes: only a 4-byte character ends so */
            lw = 0;
        }
        /* the right unit: the whole character, or as much of it as the token holds */
        uint32_t have = n - i < (uint32_t)rl ? n - i : (uint32_t)rl;
        int ok = 1;
        for (uint32_t k = 1; k < have; k++) ok &= cont(tb[i + k]);
        if (!ok) continue;
        int rw = have == (uint32_t)rl;
        const unsigned char *L = tb + j, *R = tb + i;
        int ln = (int)(i - j), rn = (int)have;
        uint64_t h = bloom_hash(unit(L, ln), unit(R, rn));
        c->bloom[(h >> 20) & (BLOOM_WORDS - 1)] |= bloom_bits(h);
        int cl;
        if (lw) c->ch[tk_utf8_get(L, &cl)] |= rw ? LW : LP;
        else c->suf[suf_at(L, ln)] |= rw ? LW : LP;
        if (rw) c->ch[tk_utf8_get(R, &cl)] |= lw ? RW : RP;
        else c->pre[pre_at(R, rn)] |= lw ? RW : RP;
    }
}

static void build_into(const struct qwen3_tokenizer *t, struct tk_cut *c) {
    for (int id = 0; id < t->n_ids; id++)
        if (t->len[id] != UINT32_MAX && t->len[id] >= 2)
            add_crossings(c, (const unsigned char *)t->blob + t->off[id], t->len[id]);
    /* SUFP / PREP per character, from its partial units' flags */
    for (unsigned cp = 0x80; cp < 0x10000; cp++) {
        if (cp >= 0xD800 && cp < 0xE000) continue;
        unsigned char b[4];
        int n = tk_utf8_put(cp, b);
        uint8_t f = 0;
        for (int k = 1; k < n; k++) { /* suffixes b[k..n), prefixes b[0..k) */
            uint8_t sf = n - k <= 2 ? c->suf[suf_at(b + k, n - k)] : 0, pf = k <= 2 ? c->pre[pre_at(b, k)] : 0;
            f |= (uint8_t)((sf & LW ? SUFW : 0) | (sf & LP ? SUFP : 0) | (pf & RW ? PREW : 0) | (pf & RP ? PREP : 0));
        }
        c->ch[cp] |= f;
    }
}

static struct tk_cut *get(const struct qwen3_tokenizer *t) {
    struct qwen3_tokenizer *mt = (struct qwen3_tokenizer *)t; /* the build-once slot */
    struct tk_cut *have = atomic_load(&mt->cut);
    if (have) return have;
    struct tk_cut *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    build_into(t, c);
    struct tk_cut *expected = NULL;
    if (!atomic_compare_exchange_strong(&mt->cut, &expected, c)) {
        free(c);
        return expected;
    }
    return c;
}

const struct tk_cut *tk_cut_ready(const struct qwen3_tokenizer *t) {
    if (t->ignore_merges) return NULL; /* a word found whole in the vocabulary is one token: pieces are not words */
    return t->cut_table ? t->cut_table : get(t);
}

size_t tk_cut_size(void) { return sizeof(struct tk_cut); }

void tk_cut_table(const struct qwen3_tokenizer *t, void *out) {
    memset(out, 0, sizeof(struct tk_cut));
    build_into(t, out);
}

void tk_cut_free(struct tk_cut *c) { free(c); }

/* May BPE cut between the character a (na bytes, 2 or 3; flags fa, unit ua) and the character b
 * that follows (likewise)? */
static inline int may_cut(const struct tk_cut *c, const unsigned char *a, int na, unsigned fa, uint32_t ua,
                          const unsigned char *b, int nb, unsigned fb, uint32_t ub) {
    unsigned kinds = fa & fb >> 4 & 15;
    if (!kinds) return 1;
    if ((kinds & LW) && bloom_has(c, ua, ub)) return 0;
    if (kinds & LP) /* whole a, then part of b */
        for (int k = 1; k < nb && k <= 2; k++)
            if ((c->pre[pre_at(b, k)] & RW) && bloom_has(c, ua, unit(b, k))) return 0;
    if (kinds & SUFW) /* part of a, then whole b */
        for (int k = 1; k < na && k <= 2; k++)
            if ((c->suf[suf_at(a + na - k, k)] & LW) && bloom_has(c, unit(a + na - k, k), ub)) return 0;
    if (kinds & SUFP)
        for (int i = 1; i < na && i <= 2; i++)
            for (int k = 1; k < nb && k <= 2; k++)
                if ((c->suf[suf_at(a + na - i, i)] & LP) && (c->pre[pre_at(b, k)] & RP) &&
                    bloom_has(c, unit(a + na - i, i), unit(b, k)))
                    return 0;
    return 1;
}

size_t tk_cut_next(const struct tk_cut *c, const unsigned char *w, size_t n, size_t i) {
    /* the character at i, then each next one: a cut before it when both are 2 or 3 bytes long; each
     * character's flags and unit are found once, as the right side of one boundary and the left of
     * the next */
    int pl = i < n ? clen(w[i]) : 0, cl;
    unsigned pf = pl ? c->ch[tk_utf8_get(w + i, &cl)] : 0;
    uint32_t pu = pl ? unit(w + i, pl) : 0;
    size_t p = i;
    i += pl ? (size_t)pl : 1;
    while (i < n) {
        while (i < n && cont(w[i])) i++; /* inside a 4-byte character */
        if (i >= n) break;
        int l = clen(w[i]);
        unsigned f = 0;
        uint32_t u = 0;
        if (l) {
            f = c->ch[tk_utf8_get(w + i, &cl)];
            u = unit(w + i, l);
            if (pl && may_cut(c, w + p, pl, pf, pu, w + i, l, f, u)) return i;
        }
        p = i;
        pl = l;
        pf = f;
        pu = u;
        i += l ? (size_t)l : 1;
    }
    return n;
}
