/* buf.h - the growable buffers every module shares: a byte string (sbuf) and typed arrays
 * (arr_grow).
 *
 * sbuf: length-carrying, always NUL-terminated once anything was appended, so the owner may hand
 * out `s` as a C string. Allocation failure is sticky: after the first failed append `oom` is set,
 * later appends do nothing, and the owner reports one "out of memory" error at the end instead of
 * checking every call (each append also returns -1, for the owners that do check). A size that
 * would overflow counts as an allocation failure, never as a wrapped length.
 *
 * arr_grow: one reserve for arrays of any element type, so that each owner of an array of ids,
 * offsets or structs does not carry its own doubling loop and its own overflow check. */
#ifndef QWEN3_BASE_BUF_H
#define QWEN3_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sbuf {
    char *s;    /* bytes, NUL-terminated when cap > 0 */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    int oom;    /* 1 once an allocation failed (or a size overflowed) */
} sbuf;

/* Makes room for `extra` more bytes (and the NUL). 0, or -1 with oom set. */
int sb_reserve(sbuf *b, size_t extra);
/* Appends n bytes (p may be NULL when n is 0). 0, or -1 with oom set. */
int sb_put(sbuf *b, const void *p, size_t n);
int sb_puts(sbuf *b, const char *s);
int sb_putc(sbuf *b, char c);
/* Appends printf-style text. 0, or -1 with oom set. */
int sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_vprintf(sbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Empties b, keeping its allocation (and its oom: an error once made stays to be reported). */
void sb_clear(sbuf *b);
void sb_free(sbuf *b);
/* Hands the bytes to the caller (malloc'd, NUL-terminated; NULL only after an allocation failure)
 * and resets b to empty. *len (if len is not NULL) gets their length. */
char *sb_take(sbuf *b, size_t *len);

/* Grows the array *(T **)pp of *cap elements of elem bytes so that it holds at least `need`
 * elements: doubles from 16, keeps the contents, never shrinks. 0, or -1 when the size overflows
 * or malloc fails (the array and *cap are then unchanged). pp is the address of the array pointer
 * (any T **), e.g. arr_grow(&v, &cap, n + 1, sizeof *v). */
int arr_grow(void *pp, size_t *cap, size_t need, size_t elem);

#endif
