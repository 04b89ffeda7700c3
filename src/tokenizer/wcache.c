/* wcache.c - per-thread encode state: scratch buffers kept between calls, and a cache of the BPE
 * result of recent words (pre-tokens), as Hugging Face's BPE keeps one.
 *
 * Real text repeats its words, so most pre-tokens are found here and skip BPE and its merge-table
 * lookups (each a likely cache miss). The state lives in thread-specific data, so a tokenizer stays
 * immutable and usable from many threads at once; it is tagged with the tokenizer's generation
 * number (unique per load), so a new tokenizer, even at a freed one's address, starts cold. A slot
 * holds a copy of the word and its ids (no pointers into the tokenizer). Two direct-mapped tables:
 * 64-byte slots for short words, 256-byte ones for longer words (tok.h). Freed at thread exit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok.h"

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_ok;

static void tls_free(void *p) {
    tk_tls *s = p;
    if (!s) return;
    tk_scratch_free(&s->sc);
    free(s->sc.pcache);
    free(s->slots);
    free(s->lslots);
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
        s->slots = aligned_alloc(64, TK_WCACHE_SLOTS * sizeof *s->slots);
        if (s->slots) memset(s->slots, 0, TK_WCACHE_SLOTS * sizeof *s->slots);
        s->lslots = aligned_alloc(64, TK_LCACHE_SLOTS * sizeof *s->lslots); /* optional */
        if (s->lslots) memset(s->lslots, 0, TK_LCACHE_SLOTS * sizeof *s->lslots);
        s->sc.pcache = calloc(TK_PCACHE_SLOTS, sizeof *s->sc.pcache);
        if (!s->slots || !s->sc.pcache || pthread_setspecific(tls_key, s) != 0) {
            free(s->sc.pcache);
            free(s->slots);
            free(s->lslots);
            free(s);
            return NULL;
        }
    }
    if (s->gen != t->gen) {
        memset(s->slots, 0, TK_WCACHE_SLOTS * sizeof *s->slots);
        if (s->lslots) memset(s->lslots, 0, TK_LCACHE_SLOTS * sizeof *s->lslots);
        memset(s->sc.pcache, 0, TK_PCACHE_SLOTS * sizeof *s->sc.pcache);
        s->gen = t->gen;
    }
    return s;
}

void tk_tls_trim(tk_tls *s) {
    /* a huge word or text once should not pin its buffers for the thread's life */
    if (s->sc.cap > (1u << 16) || s->sc.heap_cap > (1u << 16) || s->sc.nfc_cap > (1u << 22)) tk_scratch_free(&s->sc);
}
