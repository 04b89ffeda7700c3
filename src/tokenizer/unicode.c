/* unicode.c - the Unicode facts the tokenizer needs: character classes of the Qwen2 pre-tokenizer,
 * UTF-8 checks, NFC with a quick check, and Rust's from_utf8_lossy replacement for decode.
 *
 * Classes and normalization come from utf8proc (Unicode 15 in Debian 12). \s is Oniguruma's: the
 * White_Space property, hard-coded below because utf8proc does not carry it.
 *
 * NFC is the costly step of encode, so text is first scanned with a per-code-point "safe" flag: a
 * code point that has canonical combining class 0, that NFC leaves as it is (no canonical
 * decomposition, or the composed form NFC makes: が, é; the first code point of its decomposition
 * then safe too) and that never appears as the second half of a canonical composition is left
 * alone by NFC and nothing before it interacts with it (UAX #15, "Detecting Normalization Forms").
 * Only the short stretches that hold an unsafe one, from the safe code point before them (which
 * may compose with what follows it) to the next safe one, go through utf8proc. The flag is
 * conservative (some NFC-stable code points are marked unsafe), which costs time, never
 * correctness. Japanese voiced kana (が, ぱ) were unsafe until 2026-12-06, when the composed forms
 * became safe: each sent a stretch of Japanese text through utf8proc. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/buf.h"
#include "tokenizer/tok.h"

static int is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

static int has_canonical_decomposition(const utf8proc_property_t *p) {
    return p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0;
}

/* NFC leaves the code point alone as it stands (it has a canonical decomposition, but is the
 * composed form NFC makes of it: が, é; not a singleton such as U+2126 or a composition exclusion). */
static int nfc_keeps(uint32_t cp) {
    unsigned char in[4];
    int n = tk_utf8_put(cp, in);
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t k = utf8proc_map(in, n, &out, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    int same = k == n && !memcmp(out, in, (size_t)n);
    free(out);
    return same;
}

/* Flags without the BMP's "second half of a composition" analysis (see tk_unicode_init). composed:
 * whether a composed form NFC keeps may be safe (the BMP's table, where tk_unicode_init checks the
 * rest of the rule; code points past it, looked up as text is encoded, keep the plain rule). */
static unsigned class_of(uint32_t cp, int composed) {
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    unsigned f = 0;
    switch (p->category) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        f |= TK_L;
        break;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        f |= TK_N;
        break;
    default:
        break;
    }
    if (is_white_space(cp)) f |= TK_WS;
    if (cp == '\r' || cp == '\n') f |= TK_CRLF;
    if (p->combining_class == 0 && (!has_canonical_decomposition(p) || (composed && nfc_keeps(cp)))) f |= TK_NFCSAFE;
    /* Hangul syllables compose only with a following jamo: a safe place to cut before them. */
    if (cp >= 0xAC00 && cp <= 0xD7A3) f |= TK_NFCSAFE;
    return f;
}

unsigned tk_class_slow(uint32_t cp) {
    unsigned f = class_of(cp, 0);
    /* Outside the BMP, the blocks at U+11000..U+11FFF (Brahmi and its kin) hold the vowel signs
     * with class 0 that compose; treat the whole range as unsafe rather than list them. */
    if (cp >= 0x11000 && cp <= 0x11FFF) f &= ~(unsigned)TK_NFCSAFE;
    return f;
}

void tk_unicode_init(struct qwen3_tokenizer *t) {
    for (uint32_t c = 0; c < 65536; c++) t->cls[c] = (unsigned char)class_of(c, 1);
    /* Everything after the first code point of a full canonical decomposition may be the second
     * half of a composition (Indic two-part vowels, Hangul jamo V and T, combining marks). */
    for (uint32_t c = 0; c < 65536; c++) {
        if (c >= 0xAC00 && c <= 0xD7A3) continue;
        const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)c);
        if (!has_canonical_decomposition(p)) continue;
        utf8proc_int32_t d[32];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)c, d, 32, UTF8PROC_DECOMPOSE, &last);
        for (utf8proc_ssize_t j = 1; j < k && j < 32; j++)
            if (d[j] >= 0 && d[j] < 65536) t->cls[d[j]] &= (unsigned char)~TK_NFCSAFE;
    }
    for (uint32_t c = 0x1161; c <= 0x1175; c++) t->cls[c] &= (unsigned char)~TK_NFCSAFE;
    for (uint32_t c = 0x11A8; c <= 0x11C2; c++) t->cls[c] &= (unsigned char)~TK_NFCSAFE;
    /* A composed character is safe only when the first code point of its decomposition is (NFC
     * decomposes it first, and that code point must not compose with what precedes). */
    for (uint32_t c = 0; c < 65536; c++) {
        if ((c >= 0xAC00 && c <= 0xD7A3) || !(t->cls[c] & TK_NFCSAFE)) continue;
        const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)c);
        if (!has_canonical_decomposition(p)) continue;
        utf8proc_int32_t d[32];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)c, d, 32, UTF8PROC_DECOMPOSE, &last);
        if (k < 1 || d[0] < 0 || d[0] >= 65536 || !(t->cls[d[0]] & TK_NFCSAFE)) t->cls[c] &= (unsigned char)~TK_NFCSAFE;
    }
}

int tk_utf8_valid_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (n < (size_t)need + 1) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int k = 2; k <= need; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return need + 1;
}

size_t tk_utf8_check(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* eight ASCII bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (s[i] < 0x80) { i++; continue; }
        int l = tk_utf8_valid_len(s + i, n - i);
        if (!l) return i;
        i += (size_t)l;
    }
    return n;
}

int tk_utf8_put(uint32_t c, unsigned char *o) {
    if (c < 0x80) { o[0] = (unsigned char)c; return 1; }
    if (c < 0x800) { o[0] = (unsigned char)(0xC0 | (c >> 6)); o[1] = (unsigned char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* NFC of one stretch s[0..n) appended at (*buf)+o; returns the new end or (size_t)-1. */
static size_t nfc_chunk(const unsigned char *s, size_t n, unsigned char **buf, size_t *cap, size_t o) {
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    utf8proc_int32_t local[128], *u = local;
    utf8proc_ssize_t ucap = 128;
    utf8proc_ssize_t k = utf8proc_decompose(s, (utf8proc_ssize_t)n, u, ucap, opt);
    if (k > ucap) {
        u = malloc(sizeof *u * (size_t)k);
        if (!u) return (size_t)-1;
        ucap = k;
        k = utf8proc_decompose(s, (utf8proc_ssize_t)n, u, ucap, opt);
    }
    size_t r = (size_t)-1;
    if (k >= 0) {
        k = utf8proc_normalize_utf32(u, k, opt);
        if (k >= 0 && arr_grow(buf, cap, o + 4 * (size_t)k, 1) == 0) {
            for (utf8proc_ssize_t j = 0; j < k; j++) o += (size_t)tk_utf8_put((uint32_t)u[j], *buf + o);
            r = o;
        }
    }
    if (u != local) free(u);
    return r;
}

const unsigned char *tk_nfc(const struct qwen3_tokenizer *t, const unsigned char *s, size_t n,
                            unsigned char **buf, size_t *cap, size_t *out_n) {
    size_t i = 0, last_safe = 0, copied = 0, o = 0;
    int changed = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            /* ASCII is safe: eight bytes at a time */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ull) break;
                i += 8;
            }
            while (i < n && s[i] < 0x80) i++;
            last_safe = i - 1;
            continue;
        }
        int cl;
        uint32_t cp = tk_utf8_get(s + i, &cl);
        if (tk_class(t, cp) & TK_NFCSAFE) {
            last_safe = i;
            i += (size_t)cl;
            continue;
        }
        /* An unsafe stretch: from the last safe code point (it may compose with what follows) to
         * the next safe one. */
        size_t e = i + (size_t)cl;
        while (e < n) {
            if (s[e] < 0x80) break;
            cp = tk_utf8_get(s + e, &cl);
            if (tk_class(t, cp) & TK_NFCSAFE) break;
            e += (size_t)cl;
        }
        size_t cs = last_safe > copied ? last_safe : copied;
        if (cs > copied) {
            if (arr_grow(buf, cap, o + (cs - copied), 1) != 0) return NULL;
            memcpy(*buf + o, s + copied, cs - copied);
            o += cs - copied;
        }
        o = nfc_chunk(s + cs, e - cs, buf, cap, o);
        if (o == (size_t)-1) return NULL;
        copied = e;
        i = e;
        last_safe = e;
        changed = 1;
    }
    if (!changed) {
        *out_n = n;
        return s;
    }
    if (arr_grow(buf, cap, o + (n - copied) + 1, 1) != 0) return NULL;
    memcpy(*buf + o, s + copied, n - copied);
    o += n - copied;
    *out_n = o;
    return *buf;
}

size_t tk_utf8_lossy(const unsigned char *s, size_t n, unsigned char *out, int partial, size_t *consumed) {
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            out[o++] = (unsigned char)c;
            i++;
            continue;
        }
        int l = tk_utf8_valid_len(s + i, n - i);
        if (l) {
            memcpy(out + o, s + i, (size_t)l);
            o += (size_t)l;
            i += (size_t)l;
            continue;
        }
        /* The longest prefix of a valid sequence at s[i] (the lead byte and the continuation bytes
         * that still fit) is one maximal invalid subpart: one U+FFFD for all of it. */
        size_t k = 1;
        int need = (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2 : (c >= 0xF0 && c <= 0xF4) ? 3 : 0;
        if (need) {
            unsigned lo = 0x80, hi = 0xBF;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
            if (i + 1 < n && s[i + 1] >= lo && s[i + 1] <= hi) {
                k = 2;
                while ((int)k <= need && i + k < n && s[i + k] >= 0x80 && s[i + k] <= 0xBF) k++;
            }
            /* a valid prefix cut off by the end of the input: maybe finished by the next token */
            if (partial && i + k == n && (k > 1 || i + 1 == n)) break;
        }
        out[o++] = 0xEF;
        out[o++] = 0xBF;
        out[o++] = 0xBD;
        i += k;
    }
    if (consumed) *consumed = i;
    return o;
}
