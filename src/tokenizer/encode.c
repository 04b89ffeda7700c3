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

/* The word cache's slot for s[0..n) (tok.h: short words in slots, longer ones in lslots), its hash
 * in *h; NULL when the word is too long or there is no cache. */
static inline void *wslot(const tk_tls *tls, const unsigned char *s, size_t n, uint64_t *h) {
    if (!tls || n > TK_LCACHE_WORD || (n > TK_WCACHE_WORD && !tls->lslots)) return NULL;
    *h = tk_hash_bytes(s, n) | (1ull << 32);
    if (n <= TK_WCACHE_WORD) return &tls->slots[*h & (TK_WCACHE_SLOTS - 1)];
    return &tls->lslots[(*h >> 11) & (TK_LCACHE_SLOTS - 1)];
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

/* One pre-token s[0..n) (n >= 2): from the word cache (slot, its hash h; NULL: none) or by BPE,
 * which then fills the slot. */
static int encode_word(const qwen3_tokenizer *t, const unsigned char *s, size_t n, tk_scratch *sc, void *slot,
                       uint64_t h, idvec *o) {
    wview v = slot ? view(slot, n) : (wview){0};
    if (slot && *v.hash == h && *v.wlen == n && !memcmp(v.word, s, n)) return push(o, v.ids, *v.nids);
    int k = tk_bpe_word(t, s, n, sc);
    if (k < 0 || push(o, sc->ids, (size_t)k)) return -1;
    if (slot && k <= v.max_ids) {
        *v.hash = h;
        *v.wlen = (uint8_t)n;
        *v.nids = (uint8_t)k;
        memcpy(v.word, s, n);
        memcpy(v.ids, sc->ids, (size_t)k * sizeof *sc->ids);
    }
    return 0;
}

/* The end of the pre-token at s[i] (i < m), with its word cache slot (*slot, NULL for a lone byte or
 * none) and hash, the slot's read started. */
static size_t next_word(const qwen3_tokenizer *t, const unsigned char *s, size_t m, size_t i, tk_tls *tls, uint64_t *h,
                        void **slot) {
    size_t e = tk_pretok_next(t, s, m, i);
    *slot = e - i > 1 ? wslot(tls, s + i, e - i, h) : NULL;
    if (*slot) __builtin_prefetch(*slot);
    return e;
}

/* Steps 2-4 on text without added tokens; tls (may be NULL) holds this thread's word cache. The
 * next pre-token is found, hashed and its cache slot's read started before the current one is
 * encoded: the slot is a miss in the L2 cache most of the time, and it then overlaps with BPE. */
static int encode_plain(const qwen3_tokenizer *t, const unsigned char *s, size_t n, tk_scratch *sc, tk_tls *tls,
                        idvec *o) {
    if (!n) return 0;
    size_t m = n;
    if (!t->no_nfc) {
        s = tk_nfc(t, s, n, &sc->nfc, &sc->nfc_cap, &m);
        if (!s) return -1;
    }
    uint64_t h = 0;
    void *slot;
    for (size_t i = 0, e = next_word(t, s, m, 0, tls, &h, &slot); i < m;) {
        uint64_t h2 = 0;
        void *slot2 = NULL;
        size_t e2 = e < m ? next_word(t, s, m, e, tls, &h2, &slot2) : m;
        if (e - i == 1) { /* a lone byte (space, digit, punctuation) is its own token */
            if (push(o, &t->byte_id[s[i]], 1)) return -1;
        } else if (encode_word(t, s + i, e - i, sc, slot, h, o)) {
            return -1;
        }
        i = e, e = e2, h = h2, slot = slot2;
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
