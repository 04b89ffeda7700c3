/* test_buf.c - base/buf.h: the byte string and the array reserve, including the overflow refusals
 * (a size that would wrap is an error, never a short allocation). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "test.h"

int main(void) {
    TEST_EXPECT(12);
    sbuf b = {0};
    int rc = 0;
    for (int i = 0; i < 1000; i++) rc |= sb_printf(&b, "%d,", i);
    rc |= sb_puts(&b, "end");
    rc |= sb_putc(&b, '!');
    rc |= sb_put(&b, "xyz", 2);
    char want[8192];
    size_t w = 0;
    for (int i = 0; i < 1000; i++) w += (size_t)snprintf(want + w, sizeof want - w, "%d,", i);
    w += (size_t)snprintf(want + w, sizeof want - w, "end!xy");
    CHECK(rc == 0 && b.len == w && memcmp(b.s, want, w) == 0 && b.s[b.len] == 0 && !b.oom, "sbuf_appends",
          "len %zu want %zu rc %d", b.len, w, rc);
    sb_clear(&b);
    CHECK(b.len == 0 && b.s && b.s[0] == 0 && b.cap >= w + 1, "sbuf_clear_keeps_room", "len %zu cap %zu", b.len, b.cap);
    sb_put(&b, NULL, 0);
    size_t n = 99;
    char *t = sb_take(&b, &n);
    CHECK(t && n == 0 && t[0] == 0 && b.s == NULL && b.cap == 0, "sbuf_take_empty", "n %zu", n);
    free(t);
    sbuf e = {0};
    t = sb_take(&e, &n); /* never appended: still a valid empty string */
    CHECK(t && n == 0 && t[0] == 0, "sbuf_take_never_appended", "n %zu", n);
    free(t);
    /* overflow: a length that would wrap marks the buffer failed, and later appends do nothing */
    sbuf o = {0};
    sb_puts(&o, "abc");
    int r1 = sb_reserve(&o, SIZE_MAX - 2);
    int r2 = sb_puts(&o, "more");
    CHECK(r1 == -1 && r2 == -1 && o.oom && o.len == 3 && !strcmp(o.s, "abc"), "sbuf_overflow_refused", "r1 %d r2 %d len %zu",
          r1, r2, o.len);
    t = sb_take(&o, &n);
    CHECK(t == NULL && o.s == NULL && o.cap == 0, "sbuf_take_after_failure", "take gave %p", (void *)t);
    sb_free(&o);
    CHECK(o.oom == 0 && sb_puts(&o, "ok") == 0 && !strcmp(o.s, "ok"), "sbuf_free_resets", "oom %d", o.oom);
    sb_free(&o);

    int32_t *v = NULL;
    size_t cap = 0;
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        if (arr_grow(&v, &cap, (size_t)i + 1, sizeof *v)) { bad = 1; break; }
        v[i] = i * 7;
    }
    for (int i = 0; !bad && i < 5000; i++) bad |= v[i] != i * 7;
    CHECK(!bad && cap >= 5000 && cap < 10000, "arr_grow_keeps_contents", "cap %zu", cap);
    size_t c0 = cap;
    int32_t *p0 = v;
    CHECK(arr_grow(&v, &cap, 10, sizeof *v) == 0 && v == p0 && cap == c0, "arr_grow_never_shrinks", "cap %zu", cap);
    CHECK(arr_grow(&v, &cap, SIZE_MAX / 4, sizeof *v) == -1 && v == p0 && cap == c0, "arr_grow_overflow_refused",
          "cap %zu", cap);
    CHECK(arr_grow(&v, &cap, SIZE_MAX / 2 + 1, 1) == -1 && v == p0 && cap == c0, "arr_grow_overflow_bytes", "cap %zu", cap);
    free(v);
    struct pair { double a; char b; } *ps = NULL;
    size_t pc = 0;
    CHECK(arr_grow(&ps, &pc, 1, sizeof *ps) == 0 && pc == 16 && ps, "arr_grow_first_reserve", "cap %zu", pc);
    free(ps);
    return test_exit();
}
