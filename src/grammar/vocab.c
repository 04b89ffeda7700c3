/* vocab.c - the tokens a grammar may pick, sorted by their bytes, once per tokenizer.
 *
 * Ordinary (BPE) tokens only: added tokens (<|im_end|>, <think>, <tool_call>, ...) are never text
 * of a sentence; gen.c allows the end-of-turn tokens when the grammar accepts and <think> where the
 * model may think. Sorting puts tokens that share a prefix next to each other, and lcp[i] (the bytes
 * token i shares with token i - 1) lets the mask walk (match.c) reuse the states of the shared
 * bytes: the implicit trie of the vocabulary without building one. Built once (about 30 ms for
 * 151,643 tokens) and published in the tokenizer with a compare-and-swap, so concurrent first users
 * are safe (the loser frees its copy). */
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"
#include "tokenizer/tok.h"

void gr_vocab_free(gr_vocab *v) {
    if (!v) return;
    free(v->ids);
    free(v->lcp);
    free(v->bytes);
    free(v->len);
    free(v->ordinary);
    free(v);
}

static void vocab_free_cb(void *p) { gr_vocab_free(p); }

typedef struct tokref {
    const unsigned char *b;
    uint32_t n;
    int32_t id;
} tokref;

static int cmp_tok(const void *pa, const void *pb) {
    const tokref *a = pa, *b = pb;
    uint32_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->b, b->b, n);
    if (c) return c;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

const gr_vocab *gr_vocab_get(const qwen3_tokenizer *t, qwen3_err *e) {
    struct qwen3_tokenizer *mt = (struct qwen3_tokenizer *)t; /* the cache slot is the one mutable field */
    gr_vocab *have = atomic_load(&mt->ext);
    if (have) return have;
    int n_ids = t->n_ids;
    unsigned char *added = calloc((size_t)(n_ids ? n_ids : 1), 1);
    tokref *tr = malloc(sizeof *tr * (size_t)(n_ids ? n_ids : 1));
    gr_vocab *v = calloc(1, sizeof *v);
    if (!added || !tr || !v) goto oom;
    for (int k = 0; k < t->n_added; k++)
        if (t->added[k].id >= 0 && t->added[k].id < n_ids) added[t->added[k].id] = 1;
    int n = 0;
    for (int32_t id = 0; id < n_ids; id++) {
        size_t len;
        const char *b = qwen3_token_bytes(t, id, &len);
        if (!b || !len || added[id] || len > 65535) continue;
        tr[n++] = (tokref){(const unsigned char *)b, (uint32_t)len, id};
    }
    qsort(tr, (size_t)n, sizeof *tr, cmp_tok);
    v->n_ids = n_ids;
    v->n = n;
    v->ids = malloc(sizeof *v->ids * (size_t)(n ? n : 1));
    v->lcp = malloc(sizeof *v->lcp * (size_t)(n ? n : 1));
    v->bytes = malloc(sizeof *v->bytes * (size_t)(n ? n : 1));
    v->len = malloc(sizeof *v->len * (size_t)(n ? n : 1));
    v->ordinary = calloc(((size_t)n_ids + 63) / 64 + 1, sizeof *v->ordinary);
    if (!v->ids || !v->lcp || !v->bytes || !v->len || !v->ordinary) goto oom;
    for (int i = 0; i < n; i++) {
        v->ids[i] = tr[i].id;
        v->bytes[i] = tr[i].b;
        v->len[i] = tr[i].n;
        v->ordinary[tr[i].id >> 6] |= 1ull << (tr[i].id & 63);
        if ((int)tr[i].n > v->max_len) v->max_len = (int)tr[i].n;
        uint32_t l = 0;
        if (i)
            while (l < tr[i].n && l < tr[i - 1].n && tr[i].b[l] == tr[i - 1].b[l]) l++;
        v->lcp[i] = (uint16_t)l;
    }
    free(added);
    free(tr);
    atomic_store(&mt->ext_free, vocab_free_cb);
    void *expected = NULL;
    if (!atomic_compare_exchange_strong(&mt->ext, &expected, v)) {
        gr_vocab_free(v);
        return expected;
    }
    return v;
oom:
    free(added);
    free(tr);
    gr_vocab_free(v);
    qerr(e, "grammar: out of memory for the token list");
    return NULL;
}
