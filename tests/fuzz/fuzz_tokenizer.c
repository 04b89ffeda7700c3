/* fuzz_tokenizer.c - libFuzzer target for the tokenizer: the tokenizer.json parser, encode and
 * decode (whole and streamed). Built and run by scripts/fuzz.sh.
 *
 * The first input byte picks the target:
 *   'L'  the rest is a tokenizer.json: it must load or fail with a message, never crash; when it
 *        loads, a fixed text is encoded and decoded through it.
 *   'E'  the rest is text for the real Qwen3 tokenizer ($QWEN3_TOKENIZER): invalid UTF-8 must be
 *        refused; valid text must decode back to itself when NFC leaves it unchanged, with added
 *        tokens matched and as plain text alike.
 *   'D'  the rest is little-endian 32-bit ids (taken modulo the vocabulary size plus a few, so
 *        bad ids occur): decode must equal the streamed decode, or both must refuse the id. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"
#include "tokenizer/tok.h"

static qwen3_tokenizer *real;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("QWEN3_TOKENIZER");
    qwen3_err e = {0};
    real = qwen3_tokenizer_load(dir ? dir : "../shared/qwen3-tokenizer", &e);
    if (!real) fprintf(stderr, "fuzz_tokenizer: %s (the E and D targets are off)\n", e.msg);
    return 0;
}

static void roundtrip(const qwen3_tokenizer *t, const char *s, size_t n, int special) {
    int32_t *ids;
    qwen3_err e = {0};
    int k = qwen3_encode(t, s, n, special, &ids, &e);
    if (tk_utf8_check((const unsigned char *)s, n) != n) {
        if (k >= 0) abort(); /* invalid UTF-8 accepted */
        return;
    }
    if (k < 0) abort();
    size_t dl;
    char *d = qwen3_decode(t, ids, k, 0, &dl, &e);
    if (!d) abort();
    unsigned char *buf = NULL;
    size_t cap = 0, m;
    const unsigned char *nf = tk_nfc(t, (const unsigned char *)s, n, &buf, &cap, &m);
    if (nf && (dl != m || memcmp(d, nf, m))) abort(); /* decode(encode(x)) != NFC(x) */
    free(buf);
    free(d);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] == 'L') {
        qwen3_err e = {0};
        qwen3_tokenizer *t = tk_load_json_mem("fuzz.json", s, n, &e);
        if (!t && !e.msg[0]) abort(); /* a failure without a message */
        if (t) {
            static const char text[] = "Hello, world! <|x|> 123 \xe4\xbd\xa0";
            roundtrip(t, text, sizeof text - 1, 1);
            qwen3_tokenizer_free(t);
        }
    } else if (data[0] == 'E' && real) {
        roundtrip(real, s, n, 1);
        roundtrip(real, s, n, 0);
    } else if (data[0] == 'D' && real) {
        int cnt = (int)(n / 4);
        int32_t *ids = malloc(sizeof *ids * (size_t)(cnt ? cnt : 1));
        uint32_t mod = (uint32_t)qwen3_tokenizer_size(real) + 3;
        for (int i = 0; i < cnt; i++) {
            uint32_t v;
            memcpy(&v, s + 4 * i, 4);
            ids[i] = (int32_t)(v % mod);
        }
        for (int skip = 0; skip < 2; skip++) {
            qwen3_err e = {0};
            size_t dl;
            char *d = qwen3_decode(real, ids, cnt, skip, &dl, &e);
            size_t cap = qwen3_detok_cap(real);
            char *piece = malloc(cap), *all = malloc(cap * (size_t)(cnt + 1) + 8);
            qwen3_detok st = {0};
            size_t o = 0;
            int bad = 0;
            for (int i = 0; i < cnt && !bad; i++) {
                int k = qwen3_detok_feed(real, &st, ids[i], skip, piece, cap, &e);
                if (k < 0) bad = 1;
                else memcpy(all + o, piece, (size_t)k), o += (size_t)k;
            }
            if (!bad) o += (size_t)qwen3_detok_flush(real, &st, all + o, 8);
            if ((d == NULL) != bad) abort();                          /* one refused an id, the other did not */
            if (d && (dl != o || memcmp(d, all, o))) abort(); /* streamed text differs */
            free(d);
            free(piece);
            free(all);
        }
        free(ids);
    }
    return 0;
}
