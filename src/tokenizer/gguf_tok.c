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
