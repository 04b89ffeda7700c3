/* buf.c - the growable byte buffer of the generation layer (gen.h). Kept NUL-terminated so output
 * text can be handed out as a C string. */
#include <stdlib.h>
#include <string.h>

#include "generate/gen.h"

int gbuf_put(gbuf *b, const char *p, size_t n) {
    if (n > ((size_t)-1) / 4 - b->len) return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) return -1;
        b->s = s;
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}
