/* workspace.c - buffers the model keeps from one forward pass to the next (model.h, wbuf).
 *
 * Each buffer is its own 64-byte-aligned allocation, reallocated only when a pass needs more than
 * it holds, so after the first pass of a given size the forward pass allocates nothing (it made 18
 * allocations per pass on a dense model and 34 on an MoE one, the large ones served by glibc with
 * mmap and munmap; tests/unit/test_workspace.c counts them). Separate allocations, not one arena
 * carved up, so that under AddressSanitizer a read or write past one buffer lands in the
 * allocator's red zone instead of in its neighbour; and since a buffer left large by an earlier
 * pass would hide an overrun within its capacity, the sanitizer build also poisons each buffer's
 * bytes past what the current pass asked for (wbuf_take), so an overrun by one element is reported
 * as it was with exact-size mallocs. */
#include <stdint.h>
#include <stdlib.h>

#include "model/model.h"

#if defined(__SANITIZE_ADDRESS__)
#define WS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WS_ASAN 1
#endif
#endif
#ifdef WS_ASAN
#include <sanitizer/asan_interface.h>
#define WS_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define WS_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define WS_POISON(p, n) ((void)(p), (void)(n))
#define WS_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void *wbuf_take(wbuf *b, size_t bytes, long *grows) {
    if (bytes == 0) return NULL; /* a buffer this pass does not use (no DCA, no MoE) */
    if (b->cap < bytes) {
        wbuf_free(b);
        /* whole cache lines: the SIMD kernels' aligned loads never straddle into the next buffer */
        size_t cap = (bytes + 63) & ~(size_t)63;
        if (cap < bytes || posix_memalign(&b->p, 64, cap)) { b->p = NULL; return NULL; }
        b->cap = cap;
        if (grows) (*grows)++;
    }
    WS_UNPOISON(b->p, bytes);
    WS_POISON((char *)b->p + bytes, b->cap - bytes);
    return b->p;
}

void wbuf_free(wbuf *b) {
    if (b->p) WS_UNPOISON(b->p, b->cap);
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}
