/* gguf_tok.c - the tokenizer embedded in a GGUF file, as llama.cpp's convert_hf_to_gguf.py writes
 * it for a byte-level BPE (gpt2) tokenizer:
 *
 *   tokenizer.ggml.model       "gpt2"          (anything else is refused)
 *   tokenizer.ggml.pre         "qwen2"         (the Qwen2 split regex; anything else is refused)
 *   tokenizer.ggml.tokens      [string]        one per id: the byte-level text of a vocabulary entry,
 *                                              or the content of an added token
 *   tokenizer.ggml.token_type  [int32]         1 normal (the BPE vocabulary), 3 control (a special
 *                                              added token), 4 user-defined (an added token that is
 *                                              not special), 5 unused (the "[PADn]" fillers up to
 *                                              the embedding's row count: no token)
 *   tokenizer.ggml.merges      [string]        "a b" in rank order
 *   tokenizer.ggml.add_bos_token               must be false (Qwen adds no BOS)
 *
 * The result is the same tokenizer as the HF files give: NFC and the Qwen2 pre-tokenizer (what
 * "qwen2" names), added tokens matched first. One difference the file cannot avoid: the converter
 * marks added tokens spelt <|...|> as control even where HF has special false (<|fim_prefix|> and
 * the other FIM / repo tokens), so decoding with skip_special drops those too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"
#include "tokenizer/tok.h"
#include "tokenizer/vocab.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6 };

static int want_str(const gguf_file *g, const char *key, const char *want, qwen3_err *err) {
    gguf_str s;
    int r = gguf_get_str(g, key, &s, err);
    if (r < 0) return -1;
    if (r == 0) return qerr(err, "%s: metadata key '%s' is missing (no tokenizer in this GGUF file?)", g->path, key);
    if (s.n != strlen(want) || memcmp(s.p, want, s.n))
        return qerr(err, "%s: metadata key '%s' is \"%.*s\"; only \"%s\" (Qwen's byte-level BPE) is supported", g->path, key,
                    (int)(s.n > 64 ? 64 : s.n), s.p, want);
    return 0;
}

static const gguf_kv *want_arr(const gguf_file *g, const char *key, int strings, qwen3_err *err) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) { qerr(err, "%s: metadata key '%s' is missing", g->path, key); return NULL; }
    if (kv->type != GGUF_ARRAY || (strings ? kv->arr_type != GGUF_STRING : !gguf_arr_is_int(kv))) {
        qerr(err, "%s: metadata key '%s' must be an array of %s", g->path, key, strings ? "strings" : "integers");
        return NULL;
    }
    return kv;
}

static int load(struct qwen3_tokenizer *t, const gguf_file *g, qwen3_err *err) {
    if (want_str(g, "tokenizer.ggml.model", "gpt2", err) || want_str(g, "tokenizer.ggml.pre", "qwen2", err)) return -1;
    int64_t v;
    int r = gguf_get_int(g, "tokenizer.ggml.add_bos_token", 0, 1, &v, err);
    if (r < 0) return -1;
    if (r && v) return qerr(err, "%s: metadata key 'tokenizer.ggml.add_bos_token' is true; Qwen adds no BOS and neither do we", g->path);
    const gguf_kv *toks = want_arr(g, "tokenizer.ggml.tokens", 1, err);
    const gguf_kv *types = toks ? want_arr(g, "tokenizer.ggml.token_type", 0, err) : NULL;
    const gguf_kv *merges = types ? want_arr(g, "tokenizer.ggml.merges", 1, err) : NULL;
    if (!merges) return -1;
    if (toks->n > TK_MAX_IDS) return qerr(err, "%s: 'tokenizer.ggml.tokens' has %llu entries (limit %d)", g->path, (unsigned long long)toks->n, TK_MAX_IDS);
    if (types->n != toks->n)
        return qerr(err, "%s: 'tokenizer.ggml.token_type' has %llu entries but 'tokenizer.ggml.tokens' %llu", g->path,
                    (unsigned long long)types->n, (unsigned long long)toks->n);
    unsigned char *raw = NULL;
    size_t rcap = 0;
    int rc = -1, max_normal = -1;
    /* the vocabulary first: added tokens must not enter the bytes -> id index */
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < toks->n; i++) {
            int64_t ty = gguf_arr_int(types, i);
            gguf_str s = gguf_arr_str(toks, i);
            if (ty == TT_UNUSED) continue;
            if (ty != TT_NORMAL && ty != TT_CONTROL && ty != TT_USER_DEFINED) {
                qerr(err, "%s: 'tokenizer.ggml.token_type'[%llu] is %lld; a byte-level BPE has only normal (1), control (3), "
                          "user-defined (4) and unused (5) tokens", g->path, (unsigned long long)i, (long long)ty);
                goto out;
            }
            if (s.n == 0) { qerr(err, "%s: 'tokenizer.ggml.tokens'[%llu] is empty", g->path, (unsigned long long)i); goto out; }
            if (tk_utf8_check((const unsigned char *)s.p, (size_t)s.n) != s.n) {
                qerr(err, "%s: 'tokenizer.ggml.tokens'[%llu] is not valid UTF-8", g->path, (unsigned long long)i);
                goto out;
            }
            if (pass == 0 && ty == TT_NORMAL) {
                if (s.n + 1 > rcap) {
                    rcap = (size_t)s.n + 64;
                    unsigned char *nr = realloc(raw, rcap);
                    if (!nr) { qerr(err, "out of memory"); goto out; }
                    raw = nr;
                }
                uint32_t bad;
                long n = tk_bytelevel_decode(s.p, (size_t)s.n, raw, &bad);
                if (n < 0) {
                    qerr(err, "%s: 'tokenizer.ggml.tokens'[%llu] \"%.*s\" has U+%04X, outside the byte-level alphabet", g->path,
                         (unsigned long long)i, (int)(s.n > 64 ? 64 : s.n), s.p, bad);
                    goto out;
                }
                if (tk_token_set(t, (int32_t)i, raw, (size_t)n)) { qerr(err, "out of memory"); goto out; }
                max_normal = (int)i;
            } else if (pass == 1 && ty != TT_NORMAL) {
                if (tk_add_added(t, (int32_t)i, s.p, (size_t)s.n, ty == TT_CONTROL, err)) goto out;
            }
        }
        if (pass == 0) {
            t->n_vocab = max_normal + 1;
            if (tk_vocab_index(t, t->n_vocab)) { qerr(err, "out of memory"); goto out; }
        }
    }
    for (uint64_t k = 0; k < merges->n; k++) {
        gguf_str s = gguf_arr_str(merges, k);
        const char *sp = memchr(s.p, ' ', (size_t)s.n);
        if (!sp || memchr(sp + 1, ' ', (size_t)(s.p + s.n - sp - 1)) || sp == s.p || sp + 1 == s.p + s.n) {
            qerr(err, "%s: 'tokenizer.ggml.merges'[%llu] \"%.*s\" is not two tokens separated by one space", g->path,
                 (unsigned long long)k, (int)(s.n > 64 ? 64 : s.n), s.p);
            goto out;
        }
        if (s.n + 1 > rcap) {
            rcap = (size_t)s.n + 64;
            unsigned char *nr = realloc(raw, rcap);
            if (!nr) { qerr(err, "out of memory"); goto out; }
            raw = nr;
        }
        uint32_t bad;
        size_t na = (size_t)(sp - s.p);
        long ra = tk_bytelevel_decode(s.p, na, raw, &bad);
        long rb = ra < 0 ? -1 : tk_bytelevel_decode(sp + 1, (size_t)s.n - na - 1, raw + ra, &bad);
        int32_t ia = ra < 0 || rb < 0 ? -1 : tk_vocab_find(t, raw, (size_t)ra);
        int32_t ib = ia < 0 ? -1 : tk_vocab_find(t, raw + ra, (size_t)rb);
        int32_t im = ib < 0 ? -1 : tk_vocab_find(t, raw, (size_t)(ra + rb));
        if (im < 0) {
            qerr(err, "%s: 'tokenizer.ggml.merges'[%llu] \"%.*s\": a part or the merged token is not in the vocabulary", g->path,
                 (unsigned long long)k, (int)(s.n > 64 ? 64 : s.n), s.p);
            goto out;
        }
        if (tk_merge_add(t, (uint32_t)ia, (uint32_t)ib, (uint32_t)k, (uint32_t)im)) { qerr(err, "out of memory"); goto out; }
    }
    rc = tk_finish(t, g->path, err);
out:
    free(raw);
    return rc;
}

struct qwen3_tokenizer *tk_load_gguf_mem(const gguf_file *g, qwen3_err *err) {
    struct qwen3_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        qerr(err, "out of memory");
        return NULL;
    }
    t->gen = tk_next_generation();
    tk_unicode_init(t);
    if (load(t, g, err)) {
        qwen3_tokenizer_free(t);
        return NULL;
    }
    return t;
}

struct qwen3_tokenizer *tk_load_gguf(const char *path, qwen3_err *err) {
    gguf_file g;
    if (gguf_open(&g, path, err)) return NULL;
    struct qwen3_tokenizer *t = tk_load_gguf_mem(&g, err);
    gguf_close(&g);
    return t;
}

/* ---- the other way: the tables as tokenizer.ggml.* arrays, for `qwen3 quantize OUT.gguf` ---- */

/* Byte-level text of raw bytes (each byte as the GPT-2 alphabet character, UTF-8). */
static char *bytelevel_encode(const char *p, size_t n, size_t *out_n) {
    char *s = malloc(2 * n + 1), *o = s;
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) o += tk_utf8_put(tk_byte_char((unsigned char)p[i]), (unsigned char *)o);
    *o = 0;
    *out_n = (size_t)(o - s);
    return s;
}

static int cmp_rank(const void *a, const void *b) {
    const tk_merge *x = *(const tk_merge *const *)a, *y = *(const tk_merge *const *)b;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

void tk_gguf_vocab_free(tk_gguf_vocab *v) {
    for (int i = 0; i < v->n; i++) free(v->tokens[i]);
    for (int i = 0; i < v->n_merges; i++) free(v->merges[i]);
    free(v->tokens);
    free(v->token_len);
    free(v->types);
    free(v->merges);
    free(v->merge_len);
    memset(v, 0, sizeof *v);
}

int tk_gguf_export(const struct qwen3_tokenizer *t, int n_min, tk_gguf_vocab *v, qwen3_err *err) {
    memset(v, 0, sizeof *v);
    int n = t->n_ids > n_min ? t->n_ids : n_min;
    v->tokens = calloc((size_t)n, sizeof *v->tokens);
    v->token_len = calloc((size_t)n, sizeof *v->token_len);
    v->types = calloc((size_t)n, sizeof *v->types);
    if (!v->tokens || !v->token_len || !v->types) goto oom;
    v->n = n;
    for (int id = 0; id < n; id++) {
        const tk_added *a = NULL;
        for (int k = 0; k < t->n_added && !a; k++)
            if (t->added[k].id == id) a = &t->added[k];
        if (a) {
            /* convert_hf_to_gguf.py: control when special or spelt <|...|>, else user-defined */
            int looks = a->len >= 4 && !memcmp(a->text, "<|", 2) && !memcmp(a->text + a->len - 2, "|>", 2);
            v->types[id] = a->special || looks ? TT_CONTROL : TT_USER_DEFINED;
            if (!(v->tokens[id] = malloc(a->len + 1))) goto oom;
            memcpy(v->tokens[id], a->text, a->len);
            v->tokens[id][a->len] = 0;
            v->token_len[id] = a->len;
        } else if (id < t->n_ids && t->len[id] != UINT32_MAX) {
            v->types[id] = TT_NORMAL;
            if (!(v->tokens[id] = bytelevel_encode(t->blob + t->off[id], t->len[id], &v->token_len[id]))) goto oom;
        } else {
            v->types[id] = TT_UNUSED; /* the converter's filler up to the embedding's rows */
            char pad[32];
            int k = snprintf(pad, sizeof pad, "[PAD%d]", id);
            if (!(v->tokens[id] = strdup(pad))) goto oom;
            v->token_len[id] = (size_t)k;
        }
    }
    const tk_merge **list = malloc(sizeof *list * (size_t)(t->n_merges ? t->n_merges : 1));
    if (!list) goto oom;
    int m = 0;
    for (uint32_t k = 0; t->merges && k <= t->mmask; k++)
        if (t->merges[k].key && m < t->n_merges) list[m++] = &t->merges[k];
    qsort(list, (size_t)m, sizeof *list, cmp_rank);
    v->merges = calloc((size_t)(m ? m : 1), sizeof *v->merges);
    v->merge_len = calloc((size_t)(m ? m : 1), sizeof *v->merge_len);
    if (!v->merges || !v->merge_len) { free(list); goto oom; }
    for (int k = 0; k < m; k++) {
        uint64_t pair = list[k]->key - 1;
        uint32_t a = (uint32_t)(pair >> 32), b = (uint32_t)pair;
        size_t na, nb;
        char *x = bytelevel_encode(t->blob + t->off[a], t->len[a], &na);
        char *y = x ? bytelevel_encode(t->blob + t->off[b], t->len[b], &nb) : NULL;
        char *s = y ? malloc(na + nb + 2) : NULL;
        if (s) {
            memcpy(s, x, na);
            s[na] = ' ';
            memcpy(s + na + 1, y, nb + 1);
        }
        free(x);
        free(y);
        if (!s) { free(list); goto oom; }
        v->merges[k] = s;
        v->merge_len[k] = na + nb + 1;
        v->n_merges = k + 1;
    }
    free(list);
    return 0;
oom:
    tk_gguf_vocab_free(v);
    return qerr(err, "out of memory");
}
