/* encode.c - text -> ids, in Hugging Face tokenizers' order of steps for tokenizer.json:
 *
 *   1. added tokens are found in the raw text first (leftmost, then longest, as HF's Aho-Corasick
 *      with LeftmostLongest does); the text between them is handled alone by steps 2-4;
 *   2. NFC (unicode.c);
 *   3. the Qwen2 split regex (pretok.c);
 *   4. byte-level BPE of each piece (bpe.c).
 *
 * With special == 0 step 1 is skipped, so "<|im_start|>" typed by a user is encoded as the plain
 * text it is (HF has no exact twin of this: its encode_special_tokens still matches non-special
 * added tokens such as <think>; here nothing is matched, which is what untrusted content needs). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok.h"

typedef struct idvec {
    int32_t *v;
    size_t n, cap;
} idvec;

static int push(idvec *o, const int32_t *ids, size_t k) {
    if (o->n + k <= o->cap && k <= 8) { /* the usual case, without a call to memcpy */
        for (size_t j = 0; j < k; j++) o->v[o->n + j] = ids[j];
        o->n += k;
        return 0;
    }
    if (o->n + k > o->cap) {
        size_t c = o->cap ? o->cap : 64;
        while (c < o->n + k) c *= 2;
        if (c > (size_t)INT32_MAX) return -1;
        int32_t *nv = realloc(o->v, c * sizeof *nv);
        if (!nv) return -1;
        o->v = nv;
        o->cap = c;
    }
    memcpy(o->v + o->n, ids, k * sizeof *ids);
    o->n += k;
    return 0;
}

/* The word cache's slot for s[0..n) (tok.h: short words in slots, two ways of a set, the first
 * returned; longer ones in lslots), its hash in *h; NULL when the word is too long or there is no
 * cache. */
static inline void *wslot(const tk_tls *tls, const unsigned char *s, size_t n, uint64_t *h) {
    if (!tls || n > TK_LCACHE_WORD || (n > TK_WCACHE_WORD && !tls->lslots)) return NULL;
    *h = tk_hash_bytes(s, n) | (1ull << 32);
    if (n <= TK_WCACHE_WORD) return &tls->slots[*h & (TK_WCACHE_SLOTS - 2)];
    return &tls->lslots[(*h >> 11) & (TK_LCACHE_SLOTS - 1)];
}

/* Starts reading a slot wslot gave (both ways of a short word's set: one 128-byte pair of lines). */
static inline void wslot_prefetch(const void *slot, size_t n) {
    __builtin_prefetch(slot);
    if (n <= TK_WCACHE_WORD) __builtin_prefetch((const tk_wslot *)slot + 1);
}

/* A word cache slot's fields, whichever of the two slot kinds it is (tok.h). */
typedef struct wview {
    uint64_t *hash;
    uint8_t *wlen, *nids;
    unsigned char *word;
    int32_t *ids;
    int max_ids;
} wview;

static inline wview view(void *slot, size_t n) {
    if (n <= TK_WCACHE_WORD) {
        tk_wslot *w = slot;
        return (wview){&w->hash, &w->wlen, &w->nids, w->word, w->ids, TK_WCACHE_IDS};
    }
    tk_lslot *w = slot;
    return (wview){&w->hash, &w->wlen, &w->nids, w->word, w->ids, TK_LCACHE_IDS};
}

/* Stores the ids of the word s[0..n) in its cache slot (as view gives it; hash h), when they fit. */
static void fill(wview v, uint64_t h, const unsigned char *s, size_t n, const int32_t *ids, size_t k) {
    if (k > (size_t)v.max_ids) return;
    *v.hash = h;
    *v.wlen = (uint8_t)n;
    *v.nids = (uint8_t)k;
    memcpy(v.word, s, n);
    memcpy(v.ids, ids, k * sizeof *ids);
}

static inline int hit(wview v, uint64_t h, const unsigned char *s, size_t n) {
    return *v.hash == h && *v.wlen == n && !memcmp(v.word, s, n);
}

/* s[0..n) by BPE, through its word cache slot (slot, its hash h; NULL: none). */
static int bpe_cached(const qwen3_tokenizer *t, const unsigned char *s, size_t n, tk_scratch *sc, void *slot,
                      uint64_t h, idvec *o) {
    wview v = slot ? view(slot, n) : (wview){0};
    if (slot && hit(v, h, s, n)) return push(o, v.ids, *v.nids);
    tk_wslot *w0 = slot, *w1 = slot ? w0 + 1 : NULL; /* (no arithmetic on a null pointer: UB) */
    int two = slot && n <= TK_WCACHE_WORD; /* a short word: a set of two ways, the first the most recent */
    if (two && hit(view(w1, n), h, s, n)) {
        tk_wslot x = *w1;
        *w1 = *w0;
        *w0 = x;
        return push(o, w0->ids, w0->nids);
    }
    int k = tk_bpe_word(t, s, n, sc);
    if (k < 0 || push(o, sc->ids, (size_t)k)) return -1;
    if (two && k <= v.max_ids) *w1 = *w0; /* the older way goes */
    if (slot) fill(v, h, s, n, sc->ids, (size_t)k);
    return 0;
}

/* What one call of encode_plain works with: the text s[0..m) (normalized), this thread's caches
 * and scratch, and, looked up once for the call, cut.c's tables (NULL: no cutting) and whether
 * wchar.c's memo may be asked. */
typedef struct wenv {
    const qwen3_tokenizer *t;
    const unsigned char *s;
    size_t m;
    tk_tls *tls;
    tk_scratch *sc;
    const struct tk_cut *cut;
    int whole;
} wenv;

/* A pre-token found, and made ready to encode ahead of time (next_word): its hash and cache slot,
 * the slot's read started; or, for a word that cut.c may cut, its first pieces with theirs. */
#define CUT_BATCH 16
typedef struct wplan {
    size_t i, e;   /* the pre-token s[i..e) */
    uint64_t h;    /* the whole word's hash and slot (NULL: none, or cut) */
    void *slot;
    int np;        /* > 0: the word is cut; the next np pieces end at end[] (from the word's start) */
    size_t next;   /* the end of the piece after them */
    size_t end[CUT_BATCH];
    uint64_t ph[CUT_BATCH]; /* a piece's hash, or 1 << 63 | the id of a one-character piece */
    void *ps[CUT_BATCH];
} wplan;

/* Plans the pieces of the word w[0..n) from a (its end e, as tk_cut_next gives it), at most
 * CUT_BATCH: hashes them and starts their slots' reads. A piece of one character that is one token
 * (wchar.c) needs no cache: its id is planned instead. */
static void plan_pieces(const wenv *v, const unsigned char *w, size_t n, size_t a, size_t e, wplan *p) {
    p->np = 0;
    for (; a < n && p->np < CUT_BATCH; a = e, e = e < n ? tk_cut_next(v->cut, w, n, e) : n) {
        int k = p->np++, l = (int)(e - a);
        p->end[k] = e;
        p->ps[k] = NULL;
        p->ph[k] = 0;
        if ((l == 2 || l == 3) && v->whole) {
            int cl;
            unsigned cp = tk_utf8_get(w + a, &cl);
            uint32_t en = cl == l ? tk_wchar_entry(v->t, cp, w + a, l) : 0;
            if (en & TK_WC_ONE) p->ph[k] = en >> 5 | 1ull << 63;
        }
        if (!p->ph[k] && (p->ps[k] = wslot(v->tls, w + a, (size_t)l, &p->ph[k]))) wslot_prefetch(p->ps[k], (size_t)l);
    }
    p->next = e;
}

/* Finds the pre-token at s[i] (i < m) and plans it. A word that misses the cache and may be cut is
 * encoded piece by piece, each through the cache: a run of CJK characters seldom repeats, its
 * pieces do; such a word is never stored whole (its pieces' entries are worth more), so it is not
 * looked up whole either. n >= 4 and a last byte past ASCII tell cheaply which words may hold two
 * characters of 2 or 3 bytes. */
static size_t next_word(const wenv *v, size_t i, wplan *p) {
    const unsigned char *s = v->s;
    size_t e = tk_pretok_next(v->t, s, v->m, i), n = e - i, ce;
    p->i = i;
    p->e = e;
    p->np = 0;
    p->slot = NULL;
    if (n < 2) return e;
    if (v->cut && n >= 4 && s[e - 1] >= 0x80 && (ce = tk_cut_next(v->cut, s + i, n, 0)) < n) {
        plan_pieces(v, s + i, n, 0, ce, p);
        return e;
    }
    p->slot = wslot(v->tls, s + i, n, &p->h);
    if (p->slot) wslot_prefetch(p->slot, n);
    return e;
}

/* Encodes the planned pre-token p. */
static int encode_planned(const wenv *v, wplan *p, idvec *o) {
    const unsigned char *w = v->s + p->i;
    size_t n = p->e - p->i;
    if (n == 1) return push(o, &v->t->byte_id[w[0]], 1); /* a lone byte (space, digit, punctuation) */
    if (!p->np) return bpe_cached(v->t, w, n, v->sc, p->slot, p->h, o);
    for (size_t a = 0;;) {
        for (int k = 0; k < p->np; a = p->end[k++]) {
            if (p->ph[k] >> 63) {
                int32_t id = (int32_t)(uint32_t)p->ph[k];
                if (push(o, &id, 1)) return -1;
            } else if (bpe_cached(v->t, w + a, p->end[k] - a, v->sc, p->ps[k], p->ph[k], o)) {
                return -1;
            }
        }
        if (a >= n) return 0;
        plan_pieces(v, w, n, a, p->next, p); /* a word of more than CUT_BATCH pieces */
    }
}

/* Steps 2-4 on text without added tokens; tls (may be NULL) holds this thread's word cache. The
 * next pre-token is found and planned (next_word) before the current one is encoded: its cache
 * slots are misses in the L2 cache most of the time, and their reads then overlap with BPE. */
static int encode_plain(const qwen3_tokenizer *t, const unsigned char *s, size_t n, tk_scratch *sc, tk_tls *tls,
                        idvec *o) {
    if (!n) return 0;
    size_t m = n;
    if (!t->no_nfc) {
        s = tk_nfc(t, s, n, &sc->nfc, &sc->nfc_cap, &m);
        if (!s) return -1;
    }
    const struct tk_cut *cut = tls ? tk_cut_ready(t) : NULL; /* pieces need the word cache */
    const wenv v = {t, s, m, tls, sc, cut, cut && tk_wchar_ready(t) == 0};
    wplan plan[2], *cur = &plan[0], *nxt = &plan[1];
    for (size_t e = next_word(&v, 0, cur); cur->i < m;) {
        if (e < m) e = next_word(&v, e, nxt);
        else nxt->i = m;
        if (encode_planned(&v, cur, o)) return -1;
        wplan *x = cur;
        cur = nxt;
        nxt = x;
    }
    return 0;
}

/* The added token that starts at s[i] (the longest when several do), or -1. */
static int added_at(const qwen3_tokenizer *t, const unsigned char *s, size_t n, size_t i) {
    int best = -1;
    uint32_t bl = 0;
    for (int k = 0; k < t->n_added; k++) {
        const tk_added *a = &t->added[k];
        if (a->len > bl && a->len <= n - i && !memcmp(s + i, a->text, a->len)) {
            best = k;
            bl = a->len;
        }
    }
    return best;
}

int qwen3_encode(const qwen3_tokenizer *t, const char *text, size_t len, int special, int32_t **ids,
                 qwen3_err *err) {
    const unsigned char *s = (const unsigned char *)text;
    *ids = NULL;
    size_t bad = tk_utf8_check(s, len);
    if (bad != len) return qerr(err, "text is not valid UTF-8: bad byte 0x%02X at byte offset %zu", s[bad], bad);
    idvec o = {0};
    tk_scratch local = {0}, *sc = &local;
    tk_tls *tls = tk_tls_get(t);
    if (tls) sc = &tls->sc;
    int r = -1;
    size_t seg = 0;
    if (special && t->n_added) {
        /* when every added token starts with the same byte (Qwen's all start with '<'), memchr
         * finds the places to look at; a byte loop was a tenth of the time on documents */
        int one = 1;
        for (int k = 1; k < t->n_added && one; k++) one = t->added[k].text[0] == t->added[0].text[0];
        for (size_t i = 0; i < len;) {
            if (one) {
                const unsigned char *p = memchr(s + i, (unsigned char)t->added[0].text[0], len - i);
                if (!p) break;
                i = (size_t)(p - s);
            } else if (!t->added_first[s[i]]) {
                i++;
                continue;
            }
            int k = added_at(t, s, len, i);
            if (k < 0) {
                i++;
                continue;
            }
            if (encode_plain(t, s + seg, i - seg, sc, tls, &o) || push(&o, &t->added[k].id, 1)) goto oom;
            i += t->added[k].len;
            seg = i;
        }
    }
    if (encode_plain(t, s + seg, len - seg, sc, tls, &o)) goto oom;
    if (!o.v && !(o.v = malloc(sizeof *o.v))) goto oom;
    *ids = o.v;
    r = (int)o.n;
    goto done;
oom:
    r = qerr(err, "encode: out of memory (text of %zu bytes)", len);
    free(o.v);
    *ids = NULL;
done:
    tk_scratch_free(&local);
    if (tls) tk_tls_trim(tls);
    return r;
}
