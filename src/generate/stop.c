/* stop.c - stop strings on a text stream.
 *
 * Text arrives in pieces (whole UTF-8 characters from the streaming detokenizer). A stop string may
 * span pieces, so the longest tail of the text that is still the beginning of some stop string is
 * held back; everything before it is released at once. When a stop string appears, the text before
 * its first occurrence (the earliest over all stop strings) is released and the rest is dropped: a
 * stop string is never emitted, not even in part. The held tail is shorter than the longest stop
 * string, so each feed costs O((held + piece) x total stop length), trivial for the handful of
 * strings an API request carries. A held tail always starts on a character boundary, since it
 * matches the start of a stop string, which is valid UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "generate/gen.h"

int stop_init(gen_stop *st, const char *const *stop, int n, qwen3_err *e) {
    memset(st, 0, sizeof *st);
    if (n < 0 || (n > 0 && !stop)) return qerr(e, "stop: bad list of %d stop strings", n);
    if (n == 0) return 0;
    st->str = calloc((size_t)n, sizeof *st->str);
    st->len = calloc((size_t)n, sizeof *st->len);
    if (!st->str || !st->len) {
        stop_free(st);
        return qerr(e, "stop: out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (!stop[i] || !stop[i][0]) {
            stop_free(st);
            return qerr(e, "stop[%d]: a stop string must not be empty", i);
        }
        st->len[i] = strlen(stop[i]);
        st->str[i] = malloc(st->len[i] + 1);
        if (!st->str[i]) {
            st->n = i;
            stop_free(st);
            return qerr(e, "stop: out of memory");
        }
        memcpy(st->str[i], stop[i], st->len[i] + 1);
        st->n = i + 1;
    }
    return 0;
}

void stop_free(gen_stop *st) {
    for (int i = 0; i < st->n; i++) free(st->str[i]);
    free(st->str);
    free(st->len);
    free(st->held.s);
    memset(st, 0, sizeof *st);
}

/* Length of the longest proper tail of s[0, n) that begins some stop string. */
static size_t partial_tail(const gen_stop *st, const char *s, size_t n) {
    size_t best = 0;
    for (int i = 0; i < st->n; i++) {
        size_t k = st->len[i] - 1 < n ? st->len[i] - 1 : n;
        for (; k > best; k--)
            if (!memcmp(s + n - k, st->str[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

int stop_feed(gen_stop *st, const char *t, size_t n, sbuf *out) {
    if (st->n == 0) return n ? sb_put(out, t, n) : 0;
    if (sb_put(&st->held, t, n)) return -1;
    const char *h = st->held.s;
    size_t hl = st->held.len, first = (size_t)-1;
    for (int i = 0; i < st->n; i++) {
        const char *f = memmem(h, hl, st->str[i], st->len[i]);
        if (f && (size_t)(f - h) < first) first = (size_t)(f - h);
    }
    if (first != (size_t)-1) {
        int r = sb_put(out, h, first);
        st->held.len = 0;
        return r ? -1 : 1;
    }
    size_t keep = partial_tail(st, h, hl);
    if (sb_put(out, h, hl - keep)) return -1;
    memmove(st->held.s, h + hl - keep, keep);
    st->held.len = keep;
    st->held.s[keep] = 0;
    return 0;
}

int stop_flush(gen_stop *st, sbuf *out) {
    if (!st->held.len) return 0;
    int r = sb_put(out, st->held.s, st->held.len);
    st->held.len = 0;
    return r;
}
