/* test_tokenizer.c - the tokenizer's API, its binary cache, the vocab.json + merges.txt fallback, the
 * streaming decoder, and a table of bad tokenizer files, each of which must be refused with a
 * message naming the field at fault. Exactness against Hugging Face is tests/suite/tokenizer.sh.
 * Uses the real Qwen3 tokenizer ($QWEN3_TOKENIZER) and scratch files under $QWEN3_TMP. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "qwen3.h"
#include "test.h"
#include "tokenizer/tok.h"

static char tmp[2048];

static void write_file(const char *dir, const char *name, const char *text) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int same_ids(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || !memcmp(a, b, sizeof *a * (size_t)na));
}

/* valid UTF-8 made of whole characters (what every streamed piece must be) */
static int whole_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        int k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!k || i + (size_t)k > n) return 0;
        for (int j = 1; j < k; j++)
            if ((s[i + (size_t)j] & 0xC0) != 0x80) return 0;
        i += (size_t)k;
    }
    return 1;
}

static const char *SAMPLES[] = {
    "Hello, world! It's 2024.", "<|im_start|>user\n你好，世界<|im_end|>", "  \t\r\n x ", "Ünïcödé e\xcc\x81 ﬁ 👨‍👩‍👧",
    "def f(x):\n    return x**2\n", "ภาษาไทย ພາສາລາວ ភាសាខ្មែរ नमस्ते", "",
    /* words whose characters bpe.c starts whole, or not, by their neighbours (wchar.c) */
    "設定を変更しました。ファイルが見つかりません 설정을 저장했습니다 Файл не найден Ελληνικά",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};
#define N_SAMPLES (int)(sizeof SAMPLES / sizeof SAMPLES[0])

static void test_api(const qwen3_tokenizer *t) {
    qwen3_err e = {0};
    CHECK(qwen3_tokenizer_size(t) == 151669, "tok.size", "got %d", qwen3_tokenizer_size(t));
    CHECK(qwen3_token_id(t, "<|im_start|>") == 151644, "tok.id_added", "got %d", qwen3_token_id(t, "<|im_start|>"));
    CHECK(qwen3_token_id(t, "</think>") == 151668, "tok.id_think", "got %d", qwen3_token_id(t, "</think>"));
    CHECK(qwen3_token_id(t, "\xc4\xa0world") == 1879, "tok.id_bytelevel", "got %d", qwen3_token_id(t, "\xc4\xa0world"));
    CHECK(qwen3_token_id(t, " world") == -1, "tok.id_raw_is_not_bytelevel", "got %d", qwen3_token_id(t, " world"));
    CHECK(qwen3_token_id(t, "zzzzqqqqxxxx") == -1, "tok.id_absent", "found");
    CHECK(qwen3_token_is_special(t, 151643) && qwen3_token_is_special(t, 151645) && !qwen3_token_is_special(t, 151667) &&
              !qwen3_token_is_special(t, 151657) && !qwen3_token_is_special(t, 5) && !qwen3_token_is_special(t, -1) &&
              !qwen3_token_is_special(t, 1 << 30),
          "tok.is_special", "wrong flags");
    size_t n = 0;
    const char *b = qwen3_token_bytes(t, 1879, &n);
    CHECK(b && n == 6 && !memcmp(b, " world", 6), "tok.bytes", "got %.*s", (int)n, b ? b : "");
    CHECK(!qwen3_token_bytes(t, -1, &n) && !qwen3_token_bytes(t, 151669, &n), "tok.bytes_range", "not NULL");

    int32_t *ids;
    static const char *bad[] = {("ab\xff" "cd"), "\xc0\x80", "x\xed\xa0\x80", "\xe4\xbd", "ok\xf4\x90\x80\x80"};
    static const int at[] = {2, 0, 1, 0, 2};
    for (int k = 0; k < 5; k++) {
        char name[64], want[64];
        snprintf(name, sizeof name, "tok.encode_bad_utf8_%d", k);
        snprintf(want, sizeof want, "offset %d", at[k]);
        int r = qwen3_encode(t, bad[k], strlen(bad[k]), 1, &ids, &e);
        CHECK(r == -1 && strstr(e.msg, want), name, "r=%d msg=%s", r, e.msg);
    }
    /* NUL bytes are text like any other */
    int r = qwen3_encode(t, "a\0b", 3, 1, &ids, &e);
    size_t dl = 0;
    char *d = r > 0 ? qwen3_decode(t, ids, r, 0, &dl, &e) : NULL;
    CHECK(d && dl == 3 && !memcmp(d, "a\0b", 3), "tok.nul_roundtrip", "r=%d", r);
    free(d);
    if (r >= 0) free(ids);
    /* special == 0: added-token text stays text */
    const char *s = "<|im_start|>user<think>";
    r = qwen3_encode(t, s, strlen(s), 0, &ids, &e);
    int found = 0;
    for (int i = 0; i < r; i++) found |= ids[i] >= 151643;
    d = r > 0 ? qwen3_decode(t, ids, r, 1, &dl, &e) : NULL;
    CHECK(r > 3 && !found && d && !strcmp(d, s), "tok.plain_mode", "r=%d found=%d", r, found);
    free(d);
    if (r >= 0) free(ids);
    r = qwen3_encode(t, s, strlen(s), 1, &ids, &e);
    CHECK(r == 3 && ids[0] == 151644 && ids[2] == 151667, "tok.special_mode", "r=%d", r);
    if (r >= 0) free(ids);
    /* decode errors name the position */
    int32_t badids[] = {1879, 151669, 5};
    d = qwen3_decode(t, badids, 3, 0, NULL, &e);
    CHECK(!d && strstr(e.msg, "ids[1]"), "tok.decode_bad_id", "msg=%s", e.msg);
    free(d);
    int32_t sp[] = {151644, 1879, 151645};
    d = qwen3_decode(t, sp, 3, 1, &dl, &e);
    CHECK(d && !strcmp(d, " world"), "tok.decode_skip_special", "got %s", d ? d : e.msg);
    free(d);
    d = qwen3_decode(t, sp, 3, 0, &dl, &e);
    CHECK(d && !strcmp(d, "<|im_start|> world<|im_end|>"), "tok.decode_keep_special", "got %s", d ? d : e.msg);
    free(d);
}

/* The streamed text (feeds + flush) equals qwen3_decode, and every piece is whole characters. */
static void test_stream(const qwen3_tokenizer *t) {
    qwen3_err e = {0};
    int32_t byte_ids[256];
    for (int b = 0; b < 256; b++) {
        /* the byte-level character of byte b, as UTF-8 */
        unsigned cp = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174 ? (unsigned)b
                      : b <= 32 ? 256u + (unsigned)b : b <= 160 ? 289u + (unsigned)(b - 127) : 323u;
        char u[4] = {0};
        if (cp < 0x80) u[0] = (char)cp;
        else u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F));
        byte_ids[b] = qwen3_token_id(t, u);
    }
    int missing = 0;
    for (int b = 0; b < 256; b++) missing += byte_ids[b] < 0;
    CHECK(!missing, "tok.byte_tokens", "%d bytes have no token", missing);
    size_t cap = qwen3_detok_cap(t);
    char *piece = malloc(cap), *all = malloc(cap * 64 + 8);
    unsigned seed = 12345;
    int bad_eq = 0, bad_piece = 0;
    for (int c = 0; c < 20000 && piece && all; c++) {
        int32_t ids[40];
        int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 40;
        for (int i = 0; i < n; i++) {
            unsigned r = (seed = seed * 1103515245u + 12345u) >> 8;
            ids[i] = r % 4 == 0 ? (int32_t)(r % 151669u) : r % 4 == 1 ? 151643 + (int32_t)(r % 26u) : byte_ids[(r >> 3) % 256];
        }
        int skip = c & 1;
        qwen3_detok st = {0};
        size_t o = 0;
        for (int i = 0; i < n; i++) {
            int k = qwen3_detok_feed(t, &st, ids[i], skip, piece, cap, &e);
            if (k < 0 || !whole_utf8((unsigned char *)piece, (size_t)k)) bad_piece++;
            if (k > 0) memcpy(all + o, piece, (size_t)k), o += (size_t)k;
        }
        o += (size_t)qwen3_detok_flush(t, &st, all + o, 8);
        size_t dl;
        char *d = qwen3_decode(t, ids, n, skip, &dl, &e);
        if (!d || dl != o || memcmp(d, all, o)) bad_eq++;
        free(d);
    }
    CHECK(!bad_eq, "tok.stream_equals_decode", "%d of 20000 differ", bad_eq);
    CHECK(!bad_piece, "tok.stream_whole_chars", "%d pieces split a character", bad_piece);
    /* a too-small buffer is an error and leaves the state alone */
    qwen3_detok st = {0};
    char small[4];
    int k1 = qwen3_detok_feed(t, &st, byte_ids[0xE4], 0, small, sizeof small, &e);
    int k2 = qwen3_detok_feed(t, &st, 1879, 0, small, sizeof small, &e);
    CHECK(k1 == 0 && k2 == -1 && strstr(e.msg, "too small") && st.n_pending == 1, "tok.stream_small_buffer", "k1=%d k2=%d", k1,
          k2);
    k2 = qwen3_detok_feed(t, &st, 99999999, 0, piece, cap, &e);
    CHECK(k2 == -1 && strstr(e.msg, "99999999"), "tok.stream_bad_id", "k=%d", k2);
    free(piece);
    free(all);
}

static void encode_all(const qwen3_tokenizer *t, int32_t **ids, int *n) {
    qwen3_err e = {0};
    for (int k = 0; k < N_SAMPLES; k++) n[k] = qwen3_encode(t, SAMPLES[k], strlen(SAMPLES[k]), 1, &ids[k], &e);
}

/* The same tokenizer read three ways: parsed, from the cache it wrote, and from vocab.json +
 * merges.txt; and a corrupted cache is ignored. */
static void test_sources(const char *dir, const qwen3_tokenizer *ref) {
    qwen3_err e = {0};
    int32_t *want[N_SAMPLES], *got[N_SAMPLES];
    int nw[N_SAMPLES], ng[N_SAMPLES];
    encode_all(ref, want, nw);

    char cdir[2200], cmd[4600];
    snprintf(cdir, sizeof cdir, "%s/tokcache", tmp);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cdir);
    if (system(cmd)) {}
    setenv("QWEN3_CACHE_DIR", cdir, 1);
    unsetenv("QWEN3_NO_CACHE");
    for (int round = 0; round < 3; round++) {
        if (round == 2) { /* flip a byte in the middle of the cache file */
            snprintf(cmd, sizeof cmd,
                     "f=$(ls '%s'/tokenizer-*.bin) && printf '\\377' | dd of=\"$f\" bs=1 seek=4000000 conv=notrunc 2>/dev/null",
                     cdir);
            CHECK(system(cmd) == 0, "tok.cache_corrupt_setup", "no cache file was written");
        }
        qwen3_tokenizer *t = qwen3_tokenizer_load(dir, &e);
        char name[64];
        snprintf(name, sizeof name, "tok.cache_round%d", round);
        if (!t) {
            CHECK(0, name, "load failed: %s", e.msg);
            continue;
        }
        encode_all(t, got, ng);
        int same = qwen3_tokenizer_size(t) == qwen3_tokenizer_size(ref);
        for (int k = 0; k < N_SAMPLES; k++) same &= same_ids(want[k], nw[k], got[k], ng[k]), free(got[k]);
        for (int32_t id = 0; id < qwen3_tokenizer_size(ref); id++) {
            size_t a, b;
            const char *x = qwen3_token_bytes(ref, id, &a), *y = qwen3_token_bytes(t, id, &b);
            same &= a == b && !memcmp(x, y, a) && qwen3_token_is_special(ref, id) == qwen3_token_is_special(t, id);
        }
        CHECK(same, name, "differs from the parsed tokenizer");
        qwen3_tokenizer_free(t);
    }
    setenv("QWEN3_NO_CACHE", "1", 1);

    /* vocab.json + merges.txt (+ tokenizer_config.json for the added tokens) */
    char fdir[2200];
    snprintf(fdir, sizeof fdir, "%s/tokfallback", tmp);
    mkdir(fdir, 0755);
    snprintf(cmd, sizeof cmd, "ln -sf '%s/vocab.json' '%s/merges.txt' '%s/tokenizer_config.json' '%s/'", dir, dir, dir, fdir);
    if (system(cmd)) {}
    qwen3_tokenizer *t = qwen3_tokenizer_load(fdir, &e);
    if (t) {
        encode_all(t, got, ng);
        int same = qwen3_tokenizer_size(t) == 151669 && qwen3_token_is_special(t, 151643) && !qwen3_token_is_special(t, 151667);
        for (int k = 0; k < N_SAMPLES; k++) same &= same_ids(want[k], nw[k], got[k], ng[k]), free(got[k]);
        CHECK(same, "tok.fallback_vocab_merges", "differs from tokenizer.json");
        qwen3_tokenizer_free(t);
    } else {
        CHECK(0, "tok.fallback_vocab_merges", "load failed: %s", e.msg);
    }
    for (int k = 0; k < N_SAMPLES; k++) free(want[k]);
}

/* --- hand-made bad files -------------------------------------------------------------------------- */

/* A small byte-level BPE tokenizer.json: all 256 byte tokens, then a few merges. The pieces named
 * in the arguments replace the parts the bad cases change. */
static void mini_json(char *out, size_t cap, const char *model_type, const char *merges, const char *pre,
                      const char *norm, const char *added, int drop_byte) {
    size_t o = 0;
    o += (size_t)snprintf(out + o, cap - o, "{\"version\": \"1.0\", \"added_tokens\": %s, \"normalizer\": %s,\n"
                          "\"pre_tokenizer\": %s, \"decoder\": {\"type\": \"ByteLevel\"},\n"
                          "\"model\": {\"type\": \"%s\", \"vocab\": {", added, norm, pre, model_type);
    int id = 0;
    for (int b = 0; b < 256; b++) {
        if (b == drop_byte) continue;
        unsigned cp = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174 ? (unsigned)b
                      : b <= 32 ? 256u + (unsigned)b : b <= 160 ? 289u + (unsigned)(b - 127) : 323u;
        if (cp == '"' || cp == '\\') o += (size_t)snprintf(out + o, cap - o, "\"\\%c\": %d, ", (char)cp, id++);
        else o += (size_t)snprintf(out + o, cap - o, "\"\\u%04x\": %d, ", cp, id++);
    }
    snprintf(out + o, cap - o, "\"ab\": %d, \"abc\": %d}, \"merges\": %s}}\n", id, id + 1, merges);
}

#define QWEN2_PRE                                                                                                     \
    "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "                     \
    "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|" \
    "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false}, "                   \
    "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}"
#define ADDED "[{\"id\": 258, \"content\": \"<|x|>\", \"special\": true}]"
#define NFC "{\"type\": \"NFC\"}"
#define MERGES "[[\"a\", \"b\"], [\"ab\", \"c\"]]"

/* 1 when the mini tokenizer (merge a b only) encodes "abc" as ab c and "ab" as ab */
static int mini_marks(const qwen3_tokenizer *t) {
    qwen3_err e = {0};
    int32_t *ids;
    int n = qwen3_encode(t, "abc", 3, 1, &ids, &e);
    int good = n == 2 && ids[0] == 256 && ids[1] == 'c';
    if (n >= 0) free(ids);
    n = qwen3_encode(t, "ab", 2, 1, &ids, &e);
    good = good && n == 1 && ids[0] == 256;
    if (n >= 0) free(ids);
    return good;
}

static void *mini_marks_thread(void *t) { return mini_marks(t) ? t : NULL; }

static void test_bad_files(void) {
    static char json[65536];
    char dir[2300];
    snprintf(dir, sizeof dir, "%s/tokbad", tmp);
    mkdir(dir, 0755);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*", dir);
    if (system(cmd)) {}
    qwen3_err e = {0};

    /* first the good mini tokenizer, so the bad ones below fail for their fault alone */
    mini_json(json, sizeof json, "BPE", MERGES, QWEN2_PRE, NFC, ADDED, -1);
    write_file(dir, "tokenizer.json", json);
    qwen3_tokenizer *t = qwen3_tokenizer_load(dir, &e);
    int32_t *ids;
    int n = t ? qwen3_encode(t, "abc ab<|x|>", 11, 1, &ids, &e) : -1;
    CHECK(n == 4 && ids[0] == 257 && ids[1] == 32 && ids[2] == 256 && ids[3] == 258, "tok.mini_good",
          "n=%d err=%s", n, e.msg);
    if (n >= 0) free(ids);
    qwen3_tokenizer_free(t);

    /* added tokens that start with different bytes: encode.c then looks at every byte, not at
     * memchr's finds of one */
    mini_json(json, sizeof json, "BPE", MERGES, QWEN2_PRE, NFC,
              "[{\"id\": 258, \"content\": \"<|x|>\", \"special\": true}, "
              "{\"id\": 259, \"content\": \"#y#\", \"special\": false}]", -1);
    write_file(dir, "tokenizer.json", json);
    t = qwen3_tokenizer_load(dir, &e);
    n = t ? qwen3_encode(t, "a#y#b<|x|>#", 11, 1, &ids, &e) : -1;
    CHECK(n == 5 && ids[0] == 'a' && ids[1] == 259 && ids[2] == 'b' && ids[3] == 258 && ids[4] == '#', "tok.mini_added_two_firsts",
          "n=%d err=%s", n, e.msg);
    if (n >= 0) free(ids);
    qwen3_tokenizer_free(t);

    /* "abc" is a token (257) that BPE does not reach without the merge (ab, c): every encode must
     * still give ab c (a shortcut that took words found whole in the vocabulary would not), while
     * "ab" (256), which BPE does reach, is one token; the same from the word cache (the main
     * thread's second time) and from a second thread's empty one. */
    mini_json(json, sizeof json, "BPE", "[[\"a\", \"b\"]]", QWEN2_PRE, NFC, ADDED, -1);
    write_file(dir, "tokenizer.json", json);
    t = qwen3_tokenizer_load(dir, &e);
    int good = t != NULL && mini_marks(t) && mini_marks(t);
    pthread_t th;
    if (good && pthread_create(&th, NULL, mini_marks_thread, t) == 0) {
        void *r = NULL;
        pthread_join(th, &r);
        good = r != NULL;
    }
    CHECK(good, "tok.unreached_token", "a token BPE does not reach came out whole, or %s", t ? "a reached one split" : e.msg);
    qwen3_tokenizer_free(t);

    struct {
        const char *name, *type, *merges, *pre, *norm, *added;
        int drop;
        const char *raw;  /* whole file instead of mini_json */
        const char *want; /* in the message */
    } cases[] = {
        {"wordpiece", "WordPiece", MERGES, QWEN2_PRE, NFC, ADDED, -1, NULL, "model.type is \"WordPiece\""},
        {"unigram", "Unigram", MERGES, QWEN2_PRE, NFC, ADDED, -1, NULL, "model.type is \"Unigram\""},
        {"merge_one_part", "BPE", "[\"a b\", \"abc\"]", QWEN2_PRE, NFC, ADDED, -1, NULL, "model.merges[1]"},
        {"merge_unknown", "BPE", "[[\"a\", \"b\"], [\"x\", \"q\"]]", QWEN2_PRE, NFC, ADDED, -1, NULL, "not in the vocabulary"},
        {"merge_not_string", "BPE", "[[\"a\", \"b\"], 7]", QWEN2_PRE, NFC, ADDED, -1, NULL, "model.merges[1]"},
        {"merge_three", "BPE", "[[\"a\", \"b\", \"c\"]]", QWEN2_PRE, NFC, ADDED, -1, NULL, "model.merges"},
        {"other_pretok", "BPE", MERGES, "{\"type\": \"Whitespace\"}", NFC, ADDED, -1, NULL, "pre_tokenizer"},
        {"other_norm", "BPE", MERGES, QWEN2_PRE, "{\"type\": \"NFKC\"}", ADDED, -1, NULL, "normalizer.type is \"NFKC\""},
        {"added_lstrip", "BPE", MERGES, QWEN2_PRE, NFC, "[{\"id\": 258, \"content\": \"<x>\", \"lstrip\": true}]", -1, NULL,
         "lstrip"},
        {"added_no_id", "BPE", MERGES, QWEN2_PRE, NFC, "[{\"content\": \"<x>\"}]", -1, NULL, "added_tokens[0]"},
        {"missing_byte", "BPE", MERGES, QWEN2_PRE, NFC, ADDED, 0x41, NULL, "no token for byte 0x41"},
        {"truncated", NULL, NULL, NULL, NULL, NULL, -1, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, ", "line 1"},
        {"no_merges", NULL, NULL, NULL, NULL, NULL, -1, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         "model.merges is missing"},
        {"vocab_not_object", NULL, NULL, NULL, NULL, NULL, -1, "{\"model\": {\"type\": \"BPE\", \"vocab\": [[\"a\", 0.5]]}}",
         "model.vocab"},
        {"dup_id", NULL, NULL, NULL, NULL, NULL, -1, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}}}",
         "given twice"},
        {"not_bytelevel", NULL, NULL, NULL, NULL, NULL, -1, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xe4\xbd\xa0\": 0}}}",
         "byte-level"},
        {"trailing", NULL, NULL, NULL, NULL, NULL, -1, "{\"a\": 1} x", "trailing"},
        {"bad_escape", NULL, NULL, NULL, NULL, NULL, -1, "{\"model\": {\"vocab\": {\"\\q\": 0}}}", "unknown escape"},
        {"lone_surrogate", NULL, NULL, NULL, NULL, NULL, -1, "{\"model\": {\"vocab\": {\"\\udc00\": 0}}}", "surrogate"},
        {"bad_utf8", NULL, NULL, NULL, NULL, NULL, -1, "{\"model\": {\"vocab\": {\"\xff\": 0}}}", "UTF-8"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (cases[k].raw) snprintf(json, sizeof json, "%s", cases[k].raw);
        else mini_json(json, sizeof json, cases[k].type, cases[k].merges, cases[k].pre, cases[k].norm, cases[k].added,
                       cases[k].drop);
        write_file(dir, "tokenizer.json", json);
        memset(&e, 0, sizeof e);
        t = qwen3_tokenizer_load(dir, &e);
        char name[96];
        snprintf(name, sizeof name, "tok.bad_%s", cases[k].name);
        CHECK(!t && strstr(e.msg, cases[k].want) && strstr(e.msg, "tokenizer.json"), name, "loaded=%d msg=%s", t != NULL,
              e.msg);
        qwen3_tokenizer_free(t);
    }
    /* vocab.json + merges.txt with a bad line */
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*", dir);
    if (system(cmd)) {}
    mini_json(json, sizeof json, "BPE", MERGES, QWEN2_PRE, NFC, ADDED, -1);
    char *v = strstr(json, "\"vocab\": ") + 9, *end = strstr(v, "}, \"merges\"");
    end[1] = 0;
    write_file(dir, "vocab.json", v);
    write_file(dir, "merges.txt", "#version: 0.2\na b\nab c d\n");
    t = qwen3_tokenizer_load(dir, &e);
    CHECK(!t && strstr(e.msg, "merges.txt line 3"), "tok.bad_merges_txt", "msg=%s", e.msg);
    qwen3_tokenizer_free(t);
    write_file(dir, "merges.txt", "#version: 0.2\na b\nab c\n");
    t = qwen3_tokenizer_load(dir, &e);
    n = t ? qwen3_encode(t, "abc", 3, 1, &ids, &e) : -1;
    CHECK(n == 1 && ids[0] == 257, "tok.mini_vocab_merges", "n=%d msg=%s", n, e.msg);
    if (n >= 0) free(ids);
    qwen3_tokenizer_free(t);
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*", dir);
    if (system(cmd)) {}
    t = qwen3_tokenizer_load(dir, &e);
    CHECK(!t && strstr(e.msg, "no tokenizer.json"), "tok.bad_empty_dir", "msg=%s", e.msg);
}

/* BPE's scan for the lowest rank: the AVX-512 one against the scalar twin, every length 8..128 in
 * steps of 8 (the padded lengths bpe_small gives), ranks packed as it packs them, the minimum put
 * at every position in turn and among equal values */
static void test_rank_min(void) {
    if (!(k_cpu_features() & K_CPU_AVX512)) { TEST_SKIP("tok.rank-min", "the CPU lacks AVX-512"); return; }
    uint32_t r[128];
    uint64_t x = 88172645463325252ull;
    int bad = 0, n_cases = 0;
    for (int n = 8; n <= 128; n += 8)
        for (int at = 0; at < n; at++) {
            for (int i = 0; i < n; i++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                r[i] = i % 5 == 4 ? UINT32_MAX : (uint32_t)(x >> 40) << 7 | (uint32_t)i;
            }
            r[at] = (uint32_t)(at % 3) << 7 | (uint32_t)at; /* the minimum (ties on rank, by position) */
            uint32_t a = tk_rank_min_scalar(r, n), b = tk_rank_min_avx512(r, n);
            n_cases++;
            if (a != b || a != r[at]) bad++;
        }
    CHECK(!bad, "tok.rank-min", "%d of %d cases differ", bad, n_cases);
}

int main(void) {
    TEST_EXPECT(58);
    test_rank_min();
    const char *dir = getenv("QWEN3_TOKENIZER");
    const char *tm = getenv("QWEN3_TMP");
    snprintf(tmp, sizeof tmp, "%s", tm ? tm : "/tmp");
    if (!dir) dir = "../shared/qwen3-tokenizer";
    setenv("QWEN3_NO_CACHE", "1", 1); /* the parsed tokenizer is the reference */
    qwen3_err e = {0};
    qwen3_tokenizer *t = qwen3_tokenizer_load(dir, &e);
    CHECK(t != NULL, "tok.load", "%s", e.msg);
    if (!t) return test_exit();
    test_api(t);
    test_stream(t);
    test_sources(dir, t);
    test_bad_files();
    qwen3_tokenizer_free(t);
    return test_exit();
}
