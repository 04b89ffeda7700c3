/* wcache.c - per-thread encode state: scratch buffers kept between calls, and a cache of the BPE
 * result of recent words (pre-tokens), as Hugging Face's BPE keeps one.
 *
 * Real text repeats its words, so most pre-tokens are found here and skip BPE and its merge-table
 * lookups (each a likely cache miss). The state lives in thread-specific data, so a tokenizer stays
 * immutable and usable from many threads at once; it is tagged with the tokenizer's generation
 * number (unique per load), so a new tokenizer, even at a freed one's address, starts cold. A slot
 * holds a copy of the word and its ids (no pointers into the tokenizer). Two tables: 64-byte slots
 * for short words, two ways to a set (encode.c keeps the most recent first), and direct-mapped
 * 256-byte ones for longer words (tok.h). Anonymous mappings, freed at thread exit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tokenizer/tok.h"

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_ok;

/* The tables are anonymous mappings: zero pages that the kernel fills on first touch, so a thread
 * that encodes a few words (a chat turn) touches a few pages instead of clearing 1.8 MB first, and
 * emptying them for another tokenizer hands the pages back (MADV_DONTNEED: zero again). */
static void *zmap(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void zunmap(void *p, size_t n) {
    if (p) munmap(p, n);
}

static void zclear(void *p, size_t n) {
    if (p && madvise(p, n, MADV_DONTNEED) != 0) memset(p, 0, n);
}

#define SLOTS_BYTES (TK_WCACHE_SLOTS * sizeof(tk_wslot))
#define LSLOTS_BYTES (TK_LCACHE_SLOTS * sizeof(tk_lslot))
#define PCACHE_BYTES (TK_PCACHE_SLOTS * sizeof(tk_merge))

static void tls_free(void *p) {
    tk_tls *s = p;
    if (!s) return;
    tk_scratch_free(&s->sc);
    zunmap(s->sc.pcache, PCACHE_BYTES);
    zunmap(s->slots, SLOTS_BYTES);
    zunmap(s->lslots, LSLOTS_BYTES);
    free(s);
}

static void tls_init(void) { tls_ok = pthread_key_create(&tls_key, tls_free) == 0; }

tk_tls *tk_tls_get(const struct qwen3_tokenizer *t) {
    pthread_once(&tls_once, tls_init);
    if (!tls_ok) return NULL;
    tk_tls *s = pthread_getspecific(tls_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        s->slots = zmap(SLOTS_BYTES);
        s->lslots = zmap(LSLOTS_BYTES); /* optional */
        s->sc.pcache = zmap(PCACHE_BYTES);
        if (!s->slots || !s->sc.pcache || pthread_setspecific(tls_key, s) != 0) {
            zunmap(s->sc.pcache, PCACHE_BYTES);
            zunmap(s->slots, SLOTS_BYTES);
            zunmap(s->lslots, LSLOTS_BYTES);
            free(s);
            return NULL;
        }
        s->gen = t->gen; /* fresh mappings are empty */
    }
    if (s->gen != t->gen) {
        zclear(s->slots, SLOTS_BYTES);
        zclear(s->lslots, LSLOTS_BYTES);
        zclear(s->sc.pcache, PCACHE_BYTES);
        s->gen = t->gen;
    }
    return s;
}

void tk_tls_trim(tk_tls *s) {
    /* a huge word or text once should not pin its buffers for the thread's life */
    if (s->sc.cap > (1u << 16) || s->sc.heap_cap > (1u << 16) || s->sc.nfc_cap > (1u << 22)) tk_scratch_free(&s->sc);
}
