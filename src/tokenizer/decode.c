/* decode.c - ids -> text, whole or streamed, and the per-token queries.
 *
 * HF's ByteLevel decoder concatenates the bytes of all tokens and converts them once with Rust's
 * String::from_utf8_lossy, so U+FFFD appears per maximal invalid subpart of the whole byte string,
 * not per token. The streaming decoder gets the same text: it holds back a valid but unfinished
 * character (at most 3 bytes) until the next token completes or breaks it. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok.h"
#include "tokenizer/vocab.h"

static int valid_id(const qwen3_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_ids && t->len[id] != UINT32_MAX;
}

char *qwen3_decode(const qwen3_tokenizer *t, const int32_t *ids, int n, int skip_special, size_t *len,
                   qwen3_err *err) {
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        if (!valid_id(t, ids[k])) {
            qerr(err, "decode: ids[%d] = %d is not a token id (the tokenizer has ids 0..%d)", k, ids[k], t->n_ids - 1);
            return NULL;
        }
        if (!(skip_special && t->special[ids[k]])) total += t->len[ids[k]];
    }
    unsigned char *raw = malloc(total + 1), *out = malloc(3 * total + 1);
    if (!raw || !out) {
        free(raw);
        free(out);
        qerr(err, "decode: out of memory (%zu bytes)", total);
        return NULL;
    }
    size_t o = 0;
    for (int k = 0; k < n; k++) {
        if (skip_special && t->special[ids[k]]) continue;
        memcpy(raw + o, t->blob + t->off[ids[k]], t->len[ids[k]]);
        o += t->len[ids[k]];
    }
    size_t m = tk_utf8_lossy(raw, o, out, 0, NULL);
    free(raw);
    out[m] = 0;
    if (len) *len = m;
    return (char *)out;
}

size_t qwen3_detok_cap(const qwen3_tokenizer *t) { return 3 * (t->max_token_len + sizeof ((qwen3_detok *)0)->pending) + 1; }

int qwen3_detok_feed(const qwen3_tokenizer *t, qwen3_detok *d, int32_t id, int skip_special, char *out, size_t cap,
                     qwen3_err *err) {
    if (!valid_id(t, id)) return qerr(err, "detok: %d is not a token id (the tokenizer has ids 0..%d)", id, t->n_ids - 1);
    if (d->n_pending < 0 || d->n_pending > 3) return qerr(err, "detok: corrupt state (%d pending bytes)", d->n_pending);
    if (skip_special && t->special[id]) {
        if (cap) out[0] = 0;
        return 0;
    }
    size_t n = (size_t)d->n_pending + t->len[id];
    if (cap < 3 * n + 1) return qerr(err, "detok: output buffer of %zu bytes is too small (need %zu)", cap, 3 * n + 1);
    unsigned char local[512], *buf = n <= sizeof local ? local : malloc(n);
    if (!buf) return qerr(err, "detok: out of memory");
    memcpy(buf, d->pending, (size_t)d->n_pending);
    memcpy(buf + d->n_pending, t->blob + t->off[id], t->len[id]);
    size_t used;
    size_t o = tk_utf8_lossy(buf, n, (unsigned char *)out, 1, &used);
    d->n_pending = (int)(n - used);
    memcpy(d->pending, buf + used, n - used);
    if (buf != local) free(buf);
    out[o] = 0;
    return (int)o;
}

int qwen3_detok_flush(const qwen3_tokenizer *t, qwen3_detok *d, char *out, size_t cap) {
    (void)t;
    int o = 0;
    /* what is pending is the valid start of an unfinished character: one maximal subpart */
    if (d->n_pending > 0 && cap >= 4) {
        memcpy(out, "\xEF\xBF\xBD", 3);
        o = 3;
    }
    d->n_pending = 0;
    if (cap) out[o] = 0;
    return o;
}

int32_t qwen3_token_id(const qwen3_tokenizer *t, const char *text) {
    size_t n = strlen(text);
    for (int k = 0; k < t->n_added; k++)
        if (t->added[k].len == n && !memcmp(t->added[k].text, text, n)) return t->added[k].id;
    if (tk_utf8_check((const unsigned char *)text, n) != n) return -1;
    unsigned char local[256], *raw = n <= sizeof local ? local : malloc(n);
    if (!raw) return -1;
    size_t o = 0;
    int32_t id = -1;
    for (size_t i = 0; i < n;) {
        int cl;
        int b = tk_char_byte(tk_utf8_get((const unsigned char *)text + i, &cl));
        if (b < 0) goto out;
        raw[o++] = (unsigned char)b;
        i += (size_t)cl;
    }
    id = tk_vocab_find(t, raw, o);
out:
    if (raw != local) free(raw);
    return id;
}

int qwen3_token_is_special(const qwen3_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_ids && t->special[id];
}

const char *qwen3_token_bytes(const qwen3_tokenizer *t, int32_t id, size_t *len) {
    if (!valid_id(t, id)) return NULL;
    if (len) *len = t->len[id];
    return t->blob + t->off[id];
}
