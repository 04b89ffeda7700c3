/* pretok.c - the Qwen2 pre-tokenizer, written out by hand.
 *
 * tokenizer.json splits NFC text with this Oniguruma regex (behavior "Isolated"):
 *
 *   A1 (?i:'s|'t|'re|'ve|'m|'ll|'d)
 *   A2 |[^\r\n\p{L}\p{N}]?\p{L}+
 *   A3 |\p{N}
 *   A4 | ?[^\s\p{L}\p{N}]+[\r\n]*
 *   A5 |\s*[\r\n]+
 *   A6 |\s+(?!\S)
 *   A7 |\s+
 *
 * Every code point starts a match of some alternative (letters A2, numbers A3, white space A7,
 * anything else A4), so the matches tile the text and each one starts where the last ended. At one
 * position the first alternative that matches wins, and the greedy quantifiers with backtracking
 * reduce to the closed forms below (each comment says why). "Letter", "number" and "white space"
 * are the TK_* classes of unicode.c. */
#include "tokenizer/tok.h"

#define CLS_AT(t, s, i, cl) tk_class((t), tk_utf8_get((s) + (i), &(cl)))

/* End of the run of code points with any of the flags in `want` that starts at i. */
static size_t run_of(const struct qwen3_tokenizer *t, const unsigned char *s, size_t n, size_t i, unsigned want) {
    while (i < n) {
        int cl;
        if (!(CLS_AT(t, s, i, cl) & want)) break;
        i += (size_t)cl;
    }
    return i;
}

/* A1: an apostrophe and one of s t re ve m ll d in any case; Oniguruma's case folding also maps
 * U+017F (long s) to s. Returns the match length or 0. */
static size_t contraction(const unsigned char *s, size_t n, size_t i) {
    if (i + 1 >= n) return 0;
    unsigned a = s[i + 1] | 0x20u, b = i + 2 < n ? (s[i + 2] | 0x20u) : 0;
    switch (a) {
    case 's': case 't': case 'm': case 'd':
        if (s[i + 1] >= 0x80) break;
        return 2;
    case 'r': case 'v':
        if (s[i + 1] < 0x80 && i + 2 < n && s[i + 2] < 0x80 && b == 'e') return 3;
        return 0;
    case 'l':
        if (s[i + 1] < 0x80 && i + 2 < n && s[i + 2] < 0x80 && b == 'l') return 3;
        return 0;
    default:
        break;
    }
    if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return 3; /* 'ſ */
    return 0;
}

/* A4 after its first "other" code point (neither letter, number nor white space): the rest of
 * the run of such code points, then any \r and \n. */
static size_t other_run(const struct qwen3_tokenizer *t, const unsigned char *s, size_t n, size_t k) {
    while (k < n) {
        int cl;
        if (CLS_AT(t, s, k, cl) & (TK_L | TK_N | TK_WS)) break;
        k += (size_t)cl;
    }
    while (k < n && (s[k] == '\r' || s[k] == '\n')) k++;
    return k;
}

size_t tk_pretok_next(const struct qwen3_tokenizer *t, const unsigned char *s, size_t n, size_t i) {
    int cl, cl2;
    if (s[i] == '\'') {
        size_t m = contraction(s, n, i);
        if (m) return i + m;
    }
    unsigned c = CLS_AT(t, s, i, cl);
    size_t j = i + (size_t)cl;
    if (c & TK_L) return run_of(t, s, n, j, TK_L); /* A2 without its optional first code point */
    if (c & TK_N) return j;                         /* A3 (A2 cannot start with a number) */
    /* A2 with the optional code point: anything but \r \n letters numbers, then letters */
    if (!(c & TK_CRLF) && j < n && (CLS_AT(t, s, j, cl2) & TK_L))
        return run_of(t, s, n, j + (size_t)cl2, TK_L);
    if (!(c & TK_WS)) return other_run(t, s, n, j); /* A4 */
    if (s[i] == ' ' && j < n && !(CLS_AT(t, s, j, cl2) & (TK_L | TK_N | TK_WS)))
        return other_run(t, s, n, j + (size_t)cl2); /* A4 with its optional space */
    /* White space from here on. w = end of the maximal white-space run. */
    size_t w = j, last_nl = (c & TK_CRLF) ? i : (size_t)-1, prev = i;
    while (w < n) {
        unsigned d = CLS_AT(t, s, w, cl2);
        if (!(d & TK_WS)) break;
        if (d & TK_CRLF) last_nl = w;
        prev = w;
        w += (size_t)cl2;
    }
    /* A5: \s* backs off from the end of the run until [\r\n]+ matches, i.e. up to the last \r or
     * \n of the run; [\r\n]+ then takes just that one (what follows it is not \r or \n). */
    if (last_nl != (size_t)-1) return last_nl + 1;
    /* A6: at the end of the text the whole run; before a non-space, all but its last code point */
    if (w == n) return w;
    if (prev > i) return prev;
    return w; /* A7: a single white-space code point before a non-space */
}
