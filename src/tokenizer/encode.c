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

/* Steps 2-4 on text without added tokens; slots (may be NULL) is this thread's word cache. */
static int encode_plain(const qwen3_tokenizer *t, const unsigned char *s, size_t n, tk_scratch *sc, tk_wslot *slots,
                        idvec *o) {
    if (!n) return 0;
    size_t m = n;
    if (!t->no_nfc) {
        s = tk_nfc(t, s, n, &sc->nfc, &sc->nfc_cap, &m);
        if (!s) return -1;
    }
    for (size_t i = 0; i < m;) {
        size_t e = tk_pretok_next(t, s, m, i), n = e - i;
        if (n == 1) { /* a lone byte (space, digit, punctuation) is its own token */
            if (push(o, &t->byte_id[s[i]], 1)) return -1;
            i = e;
            continue;
        }
        tk_wslot *slot = NULL;
        uint64_t h = 0;
        if (slots && n <= TK_WCACHE_WORD) {
            h = tk_hash_bytes(s + i, n) | (1ull << 32);
            slot = &slots[h & (TK_WCACHE_SLOTS - 1)];
            if (slot->hash == h && slot->wlen == n && !memcmp(slot->word, s + i, n)) {
                if (push(o, slot->ids, slot->nids)) return -1;
                i = e;
                continue;
            }
        }
        int k = tk_bpe_word(t, s + i, n, sc);
        if (k < 0 || push(o, sc->ids, (size_t)k)) return -1;
        if (slot && k <= TK_WCACHE_IDS) {
            slot->hash = h;
            slot->wlen = (uint8_t)n;
            slot->nids = (uint8_t)k;
            memcpy(slot->word, s + i, n);
            memcpy(slot->ids, sc->ids, (size_t)k * sizeof *sc->ids);
        }
        i = e;
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
    tk_wslot *slots = NULL;
    if (tls) {
        sc = &tls->sc;
        slots = tls->slots;
    }
    int r = -1;
    size_t seg = 0;
    if (special && t->n_added) {
        for (size_t i = 0; i < len;) {
            if (!t->added_first[s[i]]) {
                i++;
                continue;
            }
            int k = added_at(t, s, len, i);
            if (k < 0) {
                i++;
                continue;
            }
            if (encode_plain(t, s + seg, i - seg, sc, slots, &o) || push(&o, &t->added[k].id, 1)) goto oom;
            i += t->added[k].len;
            seg = i;
        }
    }
    if (encode_plain(t, s + seg, len - seg, sc, slots, &o)) goto oom;
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
