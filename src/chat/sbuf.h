/* sbuf.h - a growable byte string for the chat module (prompt assembly, parser deltas).
 *
 * Length-carrying, always NUL-terminated once anything was appended, so callers may hand out
 * `s` as a C string. Allocation failure is sticky: after the first failed append `oom` is set, the
 * later appends do nothing, and the owner reports one "out of memory" error at the end instead of
 * checking every call. */
#ifndef QWEN3_CHAT_SBUF_H
#define QWEN3_CHAT_SBUF_H

#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *s;    /* bytes, NUL-terminated when cap > 0 */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    int oom;    /* 1 once an allocation failed */
} sbuf;

static inline int sb_reserve(sbuf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra > (size_t)-1 / 2 - b->len) { b->oom = 1; return -1; }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) { b->oom = 1; return -1; }
    b->s = s;
    b->cap = cap;
    return 0;
}

static inline void sb_put(sbuf *b, const char *p, size_t n) {
    if (sb_reserve(b, n)) return;
    if (n) memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

static inline void sb_puts(sbuf *b, const char *p) { sb_put(b, p, strlen(p)); }
static inline void sb_putc(sbuf *b, char c) { sb_put(b, &c, 1); }
static inline void sb_clear(sbuf *b) { b->len = 0; if (b->s) b->s[0] = 0; }
static inline void sb_free(sbuf *b) { free(b->s); b->s = NULL; b->len = b->cap = 0; b->oom = 0; }

/* Hands the bytes over to the caller (malloc'd, NUL-terminated, never NULL unless oom) and resets b. */
static inline char *sb_take(sbuf *b, size_t *len) {
    if (sb_reserve(b, 0)) { sb_free(b); return NULL; }
    char *s = b->s;
    if (len) *len = b->len;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

#endif
