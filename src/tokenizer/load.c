/* load.c - reading a Qwen2/Qwen3 tokenizer from a model directory.
 *
 * Sources, in order: tokenizer.json (Hugging Face tokenizers' format), else vocab.json + merges.txt
 * (the slow tokenizer's files, assumed to use Qwen2's normalizer and pre-tokenizer); then the added
 * tokens of tokenizer_config.json (added_tokens_decoder) that tokenizer.json did not already define.
 *
 * Only the pipeline Qwen2 and Qwen3 use is accepted - NFC (or no) normalizer, the Qwen2 split regex
 * followed by ByteLevel, a byte-level BPE model, a ByteLevel decoder - and anything else is refused
 * with a message naming the field, since encoding it "almost right" would silently feed a model
 * text it never saw. The big arrays (model.vocab, model.merges) are streamed by jscan.c; the small
 * parts go through jansson. Parsing Qwen3's 11 MB file takes 150-300 ms here, so the result is kept
 * in a binary cache (cache.c) that later loads read in a few milliseconds. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include "base/buf.h"
#include "base/file.h"
#include "format/gguf.h"
#include "format/mdir.h"
#include "tokenizer/cache.h"
#include "tokenizer/jscan.h"
#include "tokenizer/tok.h"
#include "tokenizer/vocab.h"

static const char QWEN2_REGEX[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

uint32_t tk_byte_char(unsigned b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    if (b <= 32) return 256 + b;
    if (b <= 160) return 289 + (b - 127);
    return 323; /* 173 */
}

int tk_char_byte(uint32_t c) {
    if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255)) return (int)c;
    if (c >= 256 && c <= 288) return (int)(c - 256);
    if (c >= 289 && c <= 322) return (int)(c - 289 + 127);
    if (c == 323) return 173;
    return -1;
}

/* Byte-level text (UTF-8 of alphabet characters) -> raw bytes in out (room for n bytes). Returns
 * the byte count, or -1 with *bad the first character outside the alphabet. */
long tk_bytelevel_decode(const char *s, size_t n, unsigned char *out, uint32_t *bad) {
    size_t i = 0, o = 0;
    while (i < n) {
        int cl;
        uint32_t cp = tk_utf8_get((const unsigned char *)s + i, &cl);
        int b = tk_char_byte(cp);
        if (b < 0) {
            *bad = cp;
            return -1;
        }
        out[o++] = (unsigned char)b;
        i += (size_t)cl;
    }
    return (long)o;
}

typedef struct loader {
    struct qwen3_tokenizer *t;
    const char *file; /* for messages */
    char *s;          /* string scratch */
    size_t scap, slen;
    unsigned char *raw; /* raw bytes scratch */
    size_t rcap;
} loader;

static int raw_reserve(loader *L, size_t n) { return arr_grow(&L->raw, &L->rcap, n, 1); }

/* model.vocab (or vocab.json): {"token": id, ...} */
static int parse_vocab(loader *L, jscan *j, const char *field) {
    struct qwen3_tokenizer *t = L->t;
    if (js_expect(j, '{', "'{' opening the vocabulary object")) return qerr_wrap(j->err, "%s", field);
    int max_id = -1;
    if (js_peek(j) == '}') {
        j->p++;
    } else {
        for (;;) {
            long long id;
            if (js_string(j, &L->s, &L->scap, &L->slen) || js_expect(j, ':', "':'") || js_int(j, &id))
                return qerr_wrap(j->err, "%s", field);
            if (id < 0 || id >= TK_MAX_IDS)
                return js_fail(j, "%s: id %lld of \"%s\" is out of range [0, %d)", field, id, L->s, TK_MAX_IDS);
            if (id < t->n_ids && t->len[id] != UINT32_MAX)
                return js_fail(j, "%s: id %lld is given twice (again for \"%s\")", field, id, L->s);
            if (raw_reserve(L, L->slen + 1)) return js_fail(j, "out of memory");
            uint32_t bad;
            long n = tk_bytelevel_decode(L->s, L->slen, L->raw, &bad);
            if (n < 0)
                return js_fail(j, "%s: token \"%s\" (id %lld) has U+%04X, which is outside the byte-level alphabet "
                               "(not a byte-level BPE vocabulary)", field, L->s, id, bad);
            if (tk_token_set(t, (int32_t)id, L->raw, (size_t)n)) return js_fail(j, "out of memory");
            if (id > max_id) max_id = (int)id;
            int m = js_more(j, '}');
            if (m < 0) return qerr_wrap(j->err, "%s", field);
            if (!m) break;
        }
    }
    t->n_vocab = max_id + 1;
    if (tk_vocab_index(t, t->n_vocab)) return js_fail(j, "out of memory");
    return 0;
}

/* One merge given as its two halves (byte-level text); rank is its index in the list. */
static int add_merge(loader *L, const char *a, size_t na, const char *b, size_t nb, uint32_t rank, char *why,
                     size_t whyn) {
    struct qwen3_tokenizer *t = L->t;
    if (raw_reserve(L, na + nb + 1)) return snprintf(why, whyn, "out of memory"), -1;
    uint32_t bad;
    long ra = tk_bytelevel_decode(a, na, L->raw, &bad);
    long rb = ra < 0 ? -1 : tk_bytelevel_decode(b, nb, L->raw + ra, &bad);
    if (ra < 0 || rb < 0) return snprintf(why, whyn, "U+%04X is outside the byte-level alphabet", bad), -1;
    int32_t ia = tk_vocab_find(t, L->raw, (size_t)ra), ib = tk_vocab_find(t, L->raw + ra, (size_t)rb);
    int32_t im = tk_vocab_find(t, L->raw, (size_t)(ra + rb));
    if (ia < 0) return snprintf(why, whyn, "its left part \"%.*s\" is not in the vocabulary", (int)na, a), -1;
    if (ib < 0) return snprintf(why, whyn, "its right part \"%.*s\" is not in the vocabulary", (int)nb, b), -1;
    if (im < 0) return snprintf(why, whyn, "the merged token \"%.*s%.*s\" is not in the vocabulary", (int)na, a, (int)nb, b), -1;
    if (tk_merge_add(t, (uint32_t)ia, (uint32_t)ib, rank, (uint32_t)im)) return snprintf(why, whyn, "out of memory"), -1;
    return 0;
}

/* model.merges: ["a b", ...] (older files) or [["a", "b"], ...] */
static int parse_merges(loader *L, jscan *j) {
    if (js_expect(j, '[', "'[' opening model.merges")) return qerr_wrap(j->err, "model.merges");
    if (js_peek(j) == ']') { j->p++; return 0; }
    char *b = NULL;
    size_t bcap = 0, blen;
    char why[512];
    int r = -1;
    for (uint32_t rank = 0;; rank++) {
        const char *at = j->p;
        const char *x, *y;
        size_t nx, ny;
        if (js_peek(j) == '[') {
            j->p++;
            if (js_string(j, &L->s, &L->scap, &L->slen) || js_expect(j, ',', "',' between the two halves") ||
                js_string(j, &b, &bcap, &blen) || js_expect(j, ']', "']' after the two halves of a merge"))
                goto wrap;
            x = L->s; nx = L->slen; y = b; ny = blen;
        } else if (js_peek(j) == '"') {
            if (js_string(j, &L->s, &L->scap, &L->slen)) goto wrap;
            char *sp = memchr(L->s, ' ', L->slen);
            if (!sp || memchr(sp + 1, ' ', L->slen - (size_t)(sp + 1 - L->s))) {
                j->p = at;
                js_fail(j, "model.merges[%u]: \"%s\" is not two tokens separated by one space", rank, L->s);
                goto out;
            }
            x = L->s; nx = (size_t)(sp - L->s); y = sp + 1; ny = L->slen - nx - 1;
        } else {
            js_fail(j, "model.merges[%u]: expected a string \"a b\" or a pair [\"a\", \"b\"]", rank);
            goto out;
        }
        if (add_merge(L, x, nx, y, ny, rank, why, sizeof why)) {
            j->p = at;
            js_fail(j, "model.merges[%u]: %s", rank, why);
            goto out;
        }
        int m = js_more(j, ']');
        if (m < 0) goto wrap;
        if (!m) break;
    }
    r = 0;
    goto out;
wrap:
    qerr_wrap(j->err, "model.merges");
out:
    free(b);
    return r;
}

static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Checks the parts of tokenizer.json that define the pipeline (see the file comment). */
static int check_pipeline(const char *file, json_t *norm, json_t *pre, json_t *dec, int *nfc, qwen3_err *err) {
    *nfc = 0;
    if (norm && !json_is_null(norm)) {
        const char *ty = jstr(norm, "type");
        if (!ty || strcmp(ty, "NFC"))
            return qerr(err, "%s: normalizer.type is \"%s\"; only NFC (Qwen2/Qwen3) is supported", file, ty ? ty : "?");
        *nfc = 1;
    }
    json_t *list = json_object_get(pre, "pretokenizers");
    const char *pty = jstr(pre, "type");
    if (!pty || strcmp(pty, "Sequence") || json_array_size(list) != 2)
        return qerr(err, "%s: pre_tokenizer must be a Sequence of Split (the Qwen2 regex) and ByteLevel; found type \"%s\"",
                    file, pty ? pty : "?");
    json_t *sp = json_array_get(list, 0), *bl = json_array_get(list, 1);
    const char *re = jstr(json_object_get(sp, "pattern"), "Regex");
    if (!jstr(sp, "type") || strcmp(jstr(sp, "type"), "Split") || !re || strcmp(re, QWEN2_REGEX))
        return qerr(err, "%s: pre_tokenizer.pretokenizers[0] must be Split with the Qwen2 regex %s; found %s", file,
                    QWEN2_REGEX, re ? re : "another pre-tokenizer");
    if (!jstr(sp, "behavior") || strcmp(jstr(sp, "behavior"), "Isolated") || json_is_true(json_object_get(sp, "invert")))
        return qerr(err, "%s: pre_tokenizer.pretokenizers[0]: behavior must be Isolated and invert false", file);
    if (!jstr(bl, "type") || strcmp(jstr(bl, "type"), "ByteLevel") ||
        json_is_true(json_object_get(bl, "add_prefix_space")) || json_is_true(json_object_get(bl, "use_regex")))
        return qerr(err, "%s: pre_tokenizer.pretokenizers[1] must be ByteLevel with add_prefix_space and use_regex false",
                    file);
    if (dec && !json_is_null(dec) && (!jstr(dec, "type") || strcmp(jstr(dec, "type"), "ByteLevel")))
        return qerr(err, "%s: decoder.type is \"%s\"; only ByteLevel is supported", file, jstr(dec, "type") ? jstr(dec, "type") : "?");
    return 0;
}

/* The bytes an added token decodes to, by HF's ByteLevel decoder: its characters mapped back to
 * bytes when all of them are in the byte-level alphabet, else its UTF-8 as is. */
static int add_token(struct qwen3_tokenizer *t, const char *file, const char *where, json_t *o, long long id,
                     qwen3_err *err) {
    const char *content = jstr(o, "content");
    if (!content || !*content) return qerr(err, "%s: %s: \"content\" must be a non-empty string", file, where);
    if (id < 0 || id >= TK_MAX_IDS) return qerr(err, "%s: %s: id %lld out of range", file, where, id);
    static const char *const flags[] = {"lstrip", "rstrip", "single_word", "normalized"};
    for (int k = 0; k < 4; k++)
        if (json_is_true(json_object_get(o, flags[k])))
            return qerr(err, "%s: %s (\"%s\"): \"%s\": true is not supported (Qwen's added tokens have it false)", file,
                        where, content, flags[k]);
    for (int k = 0; k < t->n_added; k++)
        if (t->added[k].id == id) return 0; /* defined already (tokenizer.json wins over tokenizer_config.json) */
    return tk_add_added(t, (int32_t)id, content, strlen(content), json_is_true(json_object_get(o, "special")), err);
}

int tk_add_added(struct qwen3_tokenizer *t, int32_t id, const char *content, size_t n, int special, qwen3_err *err) {
    unsigned char *raw = malloc(n + 1);
    if (!raw) return qerr(err, "out of memory");
    uint32_t bad;
    long rn = tk_bytelevel_decode(content, n, raw, &bad);
    int r = rn >= 0 ? tk_token_set(t, id, raw, (size_t)rn) : tk_token_set(t, id, content, n);
    free(raw);
    if (r) return qerr(err, "out of memory");
    tk_added *na = realloc(t->added, sizeof *na * (size_t)(t->n_added + 1));
    if (!na) return qerr(err, "out of memory");
    t->added = na;
    char *copy = malloc(n + 1);
    if (!copy) return qerr(err, "out of memory");
    memcpy(copy, content, n);
    copy[n] = 0;
    t->added[t->n_added++] = (tk_added){id, special, copy, (uint32_t)n};
    return 0;
}

static json_t *span_json(const char *file, const char *field, const char *a, const char *b, qwen3_err *err) {
    if (!a) return NULL;
    json_error_t je;
    json_t *v = json_loadb(a, (size_t)(b - a), JSON_DECODE_ANY, &je);
    if (!v) qerr(err, "%s: %s: %s", file, field, je.text);
    return v;
}

/* tokenizer.json's contents buf[0..n); path names it in messages. A pure function of the buffer. */
static int parse_tokenizer_json(loader *L, const char *path, const char *buf, size_t n, qwen3_err *err) {
    jscan j;
    js_init(&j, path, buf, n, err);
    const char *sp[4][2] = {{0}}; /* added_tokens, normalizer, pre_tokenizer, decoder */
    static const char *const names[4] = {"added_tokens", "normalizer", "pre_tokenizer", "decoder"};
    const char *merges_at = NULL;
    int r = -1, have_model = 0, have_vocab = 0, have_merges = 0;
    json_t *parts[4] = {0};
    if (js_expect(&j, '{', "'{' (tokenizer.json is a JSON object)")) goto out;
    if (js_peek(&j) == '}') { js_fail(&j, "empty object: no model"); goto out; }
    for (;;) {
        if (js_string(&j, &L->s, &L->scap, &L->slen) || js_expect(&j, ':', "':'")) goto out;
        int which = -1;
        for (int k = 0; k < 4; k++)
            if (!strcmp(L->s, names[k])) which = k;
        if (which >= 0) {
            js_peek(&j);
            sp[which][0] = j.p;
            if (js_skip(&j)) goto out;
            sp[which][1] = j.p;
        } else if (!strcmp(L->s, "model")) {
            have_model = 1;
            if (js_expect(&j, '{', "'{' opening model")) goto out;
            if (js_peek(&j) != '}') for (;;) {
                if (js_string(&j, &L->s, &L->scap, &L->slen) || js_expect(&j, ':', "':'")) goto out;
                const char *key_at = j.p;
                if (!strcmp(L->s, "type")) {
                    if (js_string(&j, &L->s, &L->scap, &L->slen)) goto out;
                    if (strcmp(L->s, "BPE")) {
                        j.p = key_at;
                        js_fail(&j, "model.type is \"%s\"; only BPE (byte-level, as Qwen2/Qwen3) is supported", L->s);
                        goto out;
                    }
                } else if (!strcmp(L->s, "vocab")) {
                    if (parse_vocab(L, &j, "model.vocab")) goto out;
                    have_vocab = 1;
                } else if (!strcmp(L->s, "merges")) {
                    have_merges = 1;
                    if (have_vocab) {
                        if (parse_merges(L, &j)) goto out;
                    } else {
                        js_peek(&j);
                        merges_at = j.p;
                        if (js_skip(&j)) goto out;
                    }
                } else if (!strcmp(L->s, "ignore_merges")) {
                    int c = js_peek(&j);
                    L->t->ignore_merges = c == 't';
                    if (js_skip(&j)) goto out;
                } else if (!strcmp(L->s, "continuing_subword_prefix") || !strcmp(L->s, "end_of_word_suffix")) {
                    if (js_peek(&j) == '"') {
                        char field[64];
                        snprintf(field, sizeof field, "%s", L->s);
                        if (js_string(&j, &L->s, &L->scap, &L->slen)) goto out;
                        if (L->slen) {
                            j.p = key_at;
                            js_fail(&j, "model.%s is \"%s\"; byte-level BPE has none", field, L->s);
                            goto out;
                        }
                    } else if (js_skip(&j)) goto out;
                } else if (!strcmp(L->s, "dropout")) {
                    if (js_peek(&j) != 'n') {
                        js_fail(&j, "model.dropout must be null (dropout makes encoding random)");
                        goto out;
                    }
                    if (js_skip(&j)) goto out;
                } else if (js_skip(&j)) goto out;
                int m = js_more(&j, '}');
                if (m < 0) goto out;
                if (!m) break;
            } else j.p++;
        } else if (js_skip(&j)) goto out;
        int m = js_more(&j, '}');
        if (m < 0) goto out;
        if (!m) break;
    }
    if (js_peek(&j) != -1) { js_fail(&j, "trailing data after the top-level object"); goto out; }
    if (!have_model || !have_vocab || !have_merges) {
        qerr(err, "%s: %s is missing", path, !have_model ? "model" : !have_vocab ? "model.vocab" : "model.merges");
        goto out;
    }
    if (merges_at) {
        j.p = merges_at;
        if (parse_merges(L, &j)) goto out;
    }
    for (int k = 0; k < 4; k++) {
        char field[64];
        snprintf(field, sizeof field, "%s", names[k]);
        if (sp[k][0] && !(parts[k] = span_json(path, field, sp[k][0], sp[k][1], err))) goto out;
    }
    if (!parts[2] || json_is_null(parts[2])) {
        qerr(err, "%s: pre_tokenizer is missing; the Qwen2 split + ByteLevel is required", path);
        goto out;
    }
    int nfc;
    if (check_pipeline(path, parts[1], parts[2], parts[3], &nfc, err)) goto out;
    if (!nfc) L->t->no_nfc = 1;
    if (parts[0]) {
        if (!json_is_array(parts[0])) { qerr(err, "%s: added_tokens must be an array", path); goto out; }
        for (size_t k = 0; k < json_array_size(parts[0]); k++) {
            json_t *o = json_array_get(parts[0], k);
            char where[48];
            snprintf(where, sizeof where, "added_tokens[%zu]", k);
            json_t *id = json_object_get(o, "id");
            if (!json_is_integer(id)) { qerr(err, "%s: %s: \"id\" must be an integer", path, where); goto out; }
            if (add_token(L->t, path, where, o, json_integer_value(id), err)) goto out;
        }
    }
    r = 0;
out:
    for (int k = 0; k < 4; k++) json_decref(parts[k]);
    return r;
}

static int load_tokenizer_json(loader *L, const char *path, qwen3_err *err) {
    qfile f;
    if (qfile_map(&f, path, err)) return -1;
    int r = parse_tokenizer_json(L, path, (const char *)f.data, f.size, err);
    qfile_unmap(&f);
    return r;
}

/* The slow tokenizer's files: vocab.json and merges.txt ("#version" line, then "a b" per line). */
static int load_vocab_merges(loader *L, const char *vpath, const char *mpath, qwen3_err *err) {
    qfile f;
    if (qfile_map(&f, vpath, err)) return -1;
    jscan j;
    js_init(&j, vpath, (const char *)f.data, f.size, err);
    int r = parse_vocab(L, &j, "vocabulary");
    if (!r && js_peek(&j) != -1) r = js_fail(&j, "trailing data after the vocabulary object");
    qfile_unmap(&f);
    if (r) return -1;
    if (qfile_map(&f, mpath, err)) return -1;
    const char *p = (const char *)f.data, *end = p + f.size;
    char why[512];
    uint32_t rank = 0;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        if (n && p[n - 1] == '\r') n--;
        if (n && !(line == 1 && n >= 8 && !memcmp(p, "#version", 8))) {
            const char *sp = memchr(p, ' ', n);
            if (tk_utf8_check((const unsigned char *)p, n) != n) {
                r = qerr(err, "%s line %d: invalid UTF-8", mpath, line);
                break;
            }
            if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - p))) {
                r = qerr(err, "%s line %d: \"%.*s\" is not two tokens separated by one space", mpath, line,
                         (int)(n > 80 ? 80 : n), p);
                break;
            }
            if (add_merge(L, p, (size_t)(sp - p), sp + 1, n - (size_t)(sp - p) - 1, rank++, why, sizeof why)) {
                r = qerr(err, "%s line %d: %s", mpath, line, why);
                break;
            }
        }
        p = nl ? nl + 1 : end;
    }
    qfile_unmap(&f);
    return r;
}

/* tokenizer_config.json: added_tokens_decoder {"151643": {"content": ..., "special": ...}, ...} */
static int load_config_added(struct qwen3_tokenizer *t, const char *path, qwen3_err *err) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return qerr(err, "%s line %d: %s", path, je.line, je.text);
    json_t *dec = json_object_get(root, "added_tokens_decoder");
    int r = 0;
    if (dec && !json_is_object(dec)) r = qerr(err, "%s: added_tokens_decoder must be an object", path);
    const char *key;
    json_t *v;
    json_object_foreach(dec, key, v) {
        if (r) break;
        char *end;
        long long id = strtoll(key, &end, 10);
        char where[96];
        snprintf(where, sizeof where, "added_tokens_decoder[\"%.40s\"]", key);
        if (!*key || *end || !json_is_object(v)) r = qerr(err, "%s: %s: expected an integer key and an object", path, where);
        else r = add_token(t, path, where, v, id, err);
    }
    json_decref(root);
    return r;
}

int tk_finish(struct qwen3_tokenizer *t, const char *src, qwen3_err *err) {
    for (unsigned b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        t->byte_id[b] = tk_vocab_find(t, &c, 1);
        if (t->byte_id[b] < 0)
            return qerr(err, "%s: the vocabulary has no token for byte 0x%02X (U+%04X); a byte-level BPE needs all 256",
                        src, b, tk_byte_char(b));
    }
    t->special = calloc((size_t)t->n_ids, 1);
    if (!t->special) return qerr(err, "out of memory");
    for (int k = 0; k < t->n_added; k++) {
        if (t->added[k].special) t->special[t->added[k].id] = 1;
        t->added_first[(unsigned char)t->added[k].text[0]] = 1;
    }
    tk_merge_index_init(t);
    return 0;
}

static qwen3_tokenizer *tokenizer_load_dir(const char *dir, qwen3_err *err);
static qwen3_tokenizer *tokenizer_load_gguf(const char *path, qwen3_err *err);
static int hash_file(const char *p, const char *name, uint64_t *key);

uint64_t tk_next_generation(void) {
    static uint64_t generations;
    return __atomic_add_fetch(&generations, 1, __ATOMIC_RELAXED);
}

/* Parses the source files (the slow path; see cache.c for the fast one). */
static qwen3_tokenizer *load_sources(const char *dir, qwen3_err *err) {
    struct qwen3_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        qerr(err, "out of memory");
        return NULL;
    }
    t->gen = tk_next_generation();
    tk_unicode_init(t);
    loader L = {.t = t};
    char p1[4096], p2[4096];
    int r = -1;
    mdir d; /* tokenizer.json wins over vocab.json + merges.txt: format/mdir.c decides */
    qwen3_err ge = {0};
    (void)mdir_open(dir, &d, &ge); /* a directory, whatever GGUF files it holds: d's HF fields are filled */
    if (d.tok == MDIR_T_JSON) {
        if (mdir_path(&d, MDIR_TOKENIZER, p1, sizeof p1, err)) goto out;
        L.file = p1;
        r = load_tokenizer_json(&L, p1, err);
    } else {
        if (mdir_path(&d, MDIR_VOCAB, p1, sizeof p1, err) || mdir_path(&d, MDIR_MERGES, p2, sizeof p2, err)) goto out;
        if (d.tok != MDIR_T_VOCAB_MERGES) {
            qerr(err, "%s: no tokenizer.json, nor vocab.json + merges.txt: not a model or tokenizer directory", dir);
            goto out;
        }
        r = load_vocab_merges(&L, p1, p2, err);
    }
    if (r) goto out;
    r = -1;
    if (mdir_path(&d, MDIR_TOK_CONFIG, p2, sizeof p2, err)) goto out;
    if (d.tok_config && load_config_added(t, p2, err)) goto out;
    r = tk_finish(t, p1, err);
out:
    free(L.s);
    free(L.raw);
    if (r) {
        qwen3_tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* QWEN3_TOKENIZER_BUILD: a hash of every source file of src/tokenizer/ (and base/), computed by the
 * Makefile when it compiles this file (which it rebuilds when any of them changes). A cache written by
 * a build whose loader, pre-tokenizer or BPE differ is never read by this one, even when the
 * tokenizer files are the same: a cached table is only as right as the code that built it. */
#ifndef QWEN3_TOKENIZER_BUILD
#error "QWEN3_TOKENIZER_BUILD (a hash of the tokenizer's sources) must be defined by the build: use make"
#endif

/* The cache key: a hash of the build (above), the Unicode tables' version, and for every source file
 * (tokenizer.json or vocab.json + merges.txt, and tokenizer_config.json) its name, size, mtime
 * (nanoseconds), inode and device, and the contents of its first and last 64 KB. Hashing all 11 MB
 * would cost more than the rest of a cached load; any edit or replacement of a file changes its
 * mtime or inode, and the sampled contents catch a copy with the times preserved that differs at
 * either end. 0 when a file cannot be read (no cache is used; load_sources reports the problem). */
/* Mixes a file's name, size, mtime, inode, device and first and last 64 KB into *key; 0 when it
 * cannot be read. */
static int hash_file(const char *p, const char *name, uint64_t *key) {
    int fd = open(p, O_RDONLY);
    if (fd < 0) return 0;
    struct stat st;
    unsigned char (*buf)[65536] = malloc(2 * sizeof *buf);
    if (!buf || fstat(fd, &st) != 0) {
        free(buf);
        close(fd);
        return 0;
    }
    uint64_t meta[5] = {(uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec,
                        (uint64_t)st.st_ino, (uint64_t)st.st_dev};
    ssize_t n0 = pread(fd, buf[0], sizeof buf[0], 0);
    off_t tail = st.st_size > (off_t)sizeof buf[1] ? st.st_size - (off_t)sizeof buf[1] : 0;
    ssize_t n1 = pread(fd, buf[1], sizeof buf[1], tail);
    close(fd);
    if (n0 >= 0 && n1 >= 0) {
        *key = tk_hash64(name, strlen(name), *key);
        *key = tk_hash64(meta, sizeof meta, *key);
        *key = tk_hash64(buf[0], (size_t)n0, *key);
        *key = tk_hash64(buf[1], (size_t)n1, *key);
    }
    free(buf);
    return n0 >= 0 && n1 >= 0;
}

static uint64_t source_key(const char *dir) {
    static const char *const names[] = {MDIR_TOKENIZER, MDIR_VOCAB, MDIR_MERGES, MDIR_TOK_CONFIG};
    char p[4096];
    static const char build[] = QWEN3_TOKENIZER_BUILD;
    uint64_t key = tk_hash64(build, sizeof build - 1, 0x51574E33u);
    key = tk_hash64(utf8proc_version(), strlen(utf8proc_version()), key);
    int have_json = 0;
    for (int k = 0; k < 4; k++) {
        if (qpath_join(p, sizeof p, dir, names[k], NULL)) return 0;
        if (k == 0) have_json = qfile_exists(p);
        if ((k == 1 || k == 2) && have_json) continue;
        if (!qfile_exists(p)) {
            if (k == 3 || (k == 0 && !have_json)) continue;
            return 0;
        }
        if (!hash_file(p, names[k], &key)) return 0;
    }
    return key ? key : 1;
}

/* MODEL may be a GGUF file (or a directory holding one): its own tokenizer is used unless HF
 * tokenizer files sit beside it (tokenizer.json or vocab.json). */
qwen3_tokenizer *qwen3_tokenizer_load(const char *path, qwen3_err *err) {
    mdir d; /* which tokenizer serves: format/mdir.c decides (mdir_gguf_tokenizer) */
    qwen3_err ge = {0};
    if (mdir_open(path, &d, &ge) && !mdir_hf_tokenizer(&d)) { /* ambiguous GGUF files, no HF tokenizer to take */
        qerr(err, "%s", ge.msg);
        return NULL;
    }
    if (mdir_gguf_tokenizer(&d)) return tokenizer_load_gguf(d.gguf, err);
    return tokenizer_load_dir(d.dir, err);
}

/* A GGUF's tokenizer, through the same binary cache as tokenizer.json's (parsing its 150k tokens
 * and merges takes ~0.1-0.3 s), keyed on the file as source_key keys tokenizer.json. */
static qwen3_tokenizer *tokenizer_load_gguf(const char *path, qwen3_err *err) {
    char cpath[4096];
    uint64_t key = tk_hash64("gguf", 4, tk_hash64(utf8proc_version(), strlen(utf8proc_version()), 0x51574E33u));
    int ok = hash_file(path, "model.gguf", &key);
    int cached = ok && key && tk_cache_path(cpath, sizeof cpath, key) == 0;
    if (cached) {
        struct qwen3_tokenizer *t = calloc(1, sizeof *t);
        if (t && tk_cache_read(t, cpath, key) == 0) {
            t->gen = tk_next_generation();
            tk_merge_index_init(t);
            return t;
        }
        qwen3_tokenizer_free(t);
    }
    struct qwen3_tokenizer *t = tk_load_gguf(path, err);
    if (t && cached) tk_cache_write(t, cpath, key);
    return t;
}

static qwen3_tokenizer *tokenizer_load_dir(const char *dir, qwen3_err *err) {
    char cpath[4096];
    uint64_t key = source_key(dir);
    int cached = key && tk_cache_path(cpath, sizeof cpath, key) == 0;
    if (cached) {
        struct qwen3_tokenizer *t = calloc(1, sizeof *t);
        if (t && tk_cache_read(t, cpath, key) == 0) {
            t->gen = tk_next_generation();
            tk_merge_index_init(t);
            return t;
        }
        qwen3_tokenizer_free(t);
    }
    struct qwen3_tokenizer *t = load_sources(dir, err);
    if (t && cached) tk_cache_write(t, cpath, key); /* best effort: a read-only home just parses each time */
    return t;
}

qwen3_tokenizer *tk_load_json_mem(const char *name, const char *buf, size_t n, qwen3_err *err) {
    struct qwen3_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        qerr(err, "out of memory");
        return NULL;
    }
    t->gen = tk_next_generation();
    tk_unicode_init(t);
    loader L = {.t = t, .file = name};
    int r = parse_tokenizer_json(&L, name, buf, n, err);
    if (!r) r = tk_finish(t, name, err);
    free(L.s);
    free(L.raw);
    if (r) {
        qwen3_tokenizer_free(t);
        return NULL;
    }
    return t;
}

void qwen3_tokenizer_free(qwen3_tokenizer *t) {
    if (!t) return;
    void *ext = atomic_load(&t->ext);
    void (*ext_free)(void *) = atomic_load(&t->ext_free);
    if (ext && ext_free) ext_free(ext);
    for (int k = 0; k < t->n_added; k++) free((char *)t->added[k].text);
    free(t->added);
    free(t->mfilter);
    free(t->bpair);
    tk_wchar_free(atomic_load(&t->wchar));
    tk_cut_free(atomic_load(&t->cut));
    if (t->cache_map) {
        munmap(t->cache_map, t->cache_size);
    } else {
        free(t->off);
        free(t->len);
        free(t->blob);
        free(t->vhash);
        free(t->merges);
        free(t->special);
    }
    free(t);
}

int qwen3_tokenizer_size(const qwen3_tokenizer *t) { return t->n_ids; }
