/* buf.c - the growable buffers (see buf.h). */
#include "base/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int arr_grow(void *pp, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    if (elem == 0 || need > SIZE_MAX / 2 / elem) return -1;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2; /* c < 2 * need <= SIZE_MAX / elem: cannot overflow */
    void *old;
    memcpy(&old, pp, sizeof old); /* pp is a T **: read the pointer without assuming T */
    void *p = realloc(old, c * elem);
    if (!p) return -1;
    memcpy(pp, &p, sizeof p);
    *cap = c;
    return 0;
}

int sb_reserve(sbuf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra > SIZE_MAX / 4 - b->len) { b->oom = 1; return -1; }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) { b->oom = 1; return -1; }
    s[b->len] = 0; /* NUL-terminated whenever cap > 0, even before the first byte */
    b->s = s;
    b->cap = cap;
    return 0;
}

int sb_put(sbuf *b, const void *p, size_t n) {
    if (sb_reserve(b, n)) return -1;
    if (n) memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

int sb_puts(sbuf *b, const char *s) { return sb_put(b, s, strlen(s)); }
int sb_putc(sbuf *b, char c) { return sb_put(b, &c, 1); }

int sb_vprintf(sbuf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) { b->oom = 1; return -1; }
    if (sb_reserve(b, (size_t)n)) return -1;
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = sb_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

void sb_clear(sbuf *b) {
    b->len = 0;
    if (b->s) b->s[0] = 0;
}

void sb_free(sbuf *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

char *sb_take(sbuf *b, size_t *len) {
    if (sb_reserve(b, 0)) { sb_free(b); return NULL; }
    char *s = b->s;
    if (len) *len = b->len;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}
