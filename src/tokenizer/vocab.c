/* vocab.c - token storage and the two hash tables of the tokenizer: raw bytes -> id for the
 * vocabulary, (left id, right id) -> merge for BPE. Open addressing with linear probing in
 * power-of-two tables kept at most half full. Used by the loader (building) and by encode
 * (lookups). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok.h"
#include "tokenizer/vocab.h"

uint32_t tk_hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    }
    h ^= h >> 29;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

int32_t tk_vocab_find(const struct qwen3_tokenizer *t, const void *p, size_t n) {
    if (!t->vhash) return -1;
    for (uint32_t h = tk_hash_bytes(p, n) & t->vmask;; h = (h + 1) & t->vmask) {
        uint32_t v = t->vhash[h];
        if (!v) return -1;
        uint32_t id = v - 1;
        if (t->len[id] == n && !memcmp(t->blob + t->off[id], p, n)) return (int32_t)id;
    }
}

int tk_token_set(struct qwen3_tokenizer *t, int32_t id, const void *p, size_t n) {
    if (id < 0 || id >= TK_MAX_IDS || n >= UINT32_MAX) return -1;
    if (id >= t->n_ids) {
        if ((size_t)id >= t->ids_cap) {
            size_t c = t->ids_cap ? t->ids_cap : 1024;
            while (c <= (size_t)id) c *= 2;
            uint32_t *off = realloc(t->off, c * sizeof *off);
            if (off) t->off = off;
            uint32_t *len = realloc(t->len, c * sizeof *len);
            if (len) t->len = len;
            if (!off || !len) return -1;
            t->ids_cap = c;
        }
        for (int32_t k = t->n_ids; k <= id; k++) t->len[k] = UINT32_MAX;
        t->n_ids = id + 1;
    }
    if (t->blob_len + n + 1 > t->blob_cap) {
        size_t c = t->blob_cap ? t->blob_cap : 1 << 20;
        while (c < t->blob_len + n + 1) c *= 2;
        if (c > UINT32_MAX) return -1;
        char *b = realloc(t->blob, c);
        if (!b) return -1;
        t->blob = b;
        t->blob_cap = c;
    }
    memcpy(t->blob + t->blob_len, p, n);
    t->off[id] = (uint32_t)t->blob_len;
    t->len[id] = (uint32_t)n;
    t->blob_len += n;
    if (n > t->max_token_len) t->max_token_len = n;
    return 0;
}

int tk_vocab_index(struct qwen3_tokenizer *t, int n_vocab) {
    uint32_t size = 1024;
    while (size < 2u * (uint32_t)n_vocab) size *= 2;
    free(t->vhash);
    t->vhash = calloc(size, sizeof *t->vhash);
    if (!t->vhash) return -1;
    t->vmask = size - 1;
    for (int32_t id = 0; id < n_vocab; id++) {
        if (t->len[id] == UINT32_MAX) continue;
        uint32_t h = tk_hash_bytes(t->blob + t->off[id], t->len[id]) & t->vmask;
        while (t->vhash[h]) h = (h + 1) & t->vmask;
        t->vhash[h] = (uint32_t)id + 1;
    }
    return 0;
}

static int merges_grow(struct qwen3_tokenizer *t) {
    uint32_t size = t->merges ? (t->mmask + 1) * 2 : 1u << 16;
    /* first use: room for about as many merges as vocabulary entries, so no rehash is needed */
    while (!t->merges && size < 1.6 * t->n_vocab) size *= 2;
    tk_merge *m = calloc(size, sizeof *m);
    if (!m) return -1;
    for (uint32_t k = 0; t->merges && k <= t->mmask; k++) {
        if (!t->merges[k].key) continue;
        uint32_t h = (uint32_t)((t->merges[k].key * 0x9E3779B97F4A7C15ull) >> 32) & (size - 1);
        while (m[h].key) h = (h + 1) & (size - 1);
        m[h] = t->merges[k];
    }
    free(t->merges);
    t->merges = m;
    t->mmask = size - 1;
    return 0;
}

int tk_merge_add(struct qwen3_tokenizer *t, uint32_t a, uint32_t b, uint32_t rank, uint32_t id) {
    if (!t->merges || 10u * ((uint32_t)t->n_merges + 1) > 7u * (t->mmask + 1)) /* load <= 0.7 */
        if (merges_grow(t)) return -1;
    uint64_t key = ((uint64_t)a << 32 | b) + 1; /* as bpe.c's pair_key */
    uint32_t h = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & t->mmask;
    while (t->merges[h].key && t->merges[h].key != key) h = (h + 1) & t->mmask;
    if (!t->merges[h].key) t->n_merges++;
    /* a pair listed twice keeps its last rank, as HF's map built from the list does */
    t->merges[h] = (tk_merge){key, rank, id};
    return 0;
}
