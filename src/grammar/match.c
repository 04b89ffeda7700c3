/* match.c - the recogniser and the token mask.
 *
 * State: the set of stacks a nondeterministic pushdown recogniser may be in (llama.cpp's approach
 * for GBNF). A stack is a chain of nodes: the head is at a character element still to match, the
 * nodes below hold where to return when a rule ends. Stacks share their tails (nodes are never
 * changed once made), so advancing copies nothing: a matching head makes a new head for the next
 * element over the same tail. A rule reference right before the end of an alternative pushes no
 * return node (a tail call): x* is R ::= x R | <empty>, so a long repetition keeps a flat stack and
 * the same state recurs, which is what lets the mask cache hit.
 *
 * Input is bytes; UTF-8 is decoded into code points (strictly: no overlong forms, surrogates or
 * values above U+10FFFF, so the output is always valid UTF-8). While a character is incomplete the
 * stacks stay as they are and the bytes are kept only when some head's class holds a code point
 * that the bytes so far can still become.
 *
 * The mask: which tokens' bytes can continue the text. The tokens are sorted by their bytes once per
 * tokenizer (vocab.c), so a token shares its first lcp[i] bytes with the one before: the states
 * after each byte are kept by depth and only the bytes after the shared prefix are matched; a dead
 * prefix skips every following token that shares it. Nodes made while exploring live in the arena
 * above the current state's and are cut back as the walk returns. Masks are cached by state (the
 * stacks' element positions, sorted, and the partial character): inside a string, between members,
 * after a comma, the state recurs and the mask costs a lookup. */
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"

#define GR_CACHE 32
#define GR_MAX_EXPAND (1 << 16) /* work items of one expansion (ambiguous grammars multiply them) */

typedef struct gr_cached {
    uint32_t *key;
    int32_t n_key;
    uint64_t hash;
    uint64_t *bits;
    uint64_t used;
} gr_cached;

static int grow_nodes(gr_matcher *m, int32_t need) { return arr_grow(&m->nodes, &m->cap_nodes, (size_t)need, sizeof *m->nodes); }

static int32_t new_node(gr_matcher *m, int32_t pos, int32_t parent) {
    if (grow_nodes(m, m->n_nodes + 1)) return -1;
    m->nodes[m->n_nodes] = (gr_node){pos, parent};
    return m->n_nodes++;
}

static int grow_heads(gr_matcher *m, int32_t need) { return arr_grow(&m->heads, &m->cap_heads, (size_t)need, sizeof *m->heads); }

/* Adds a head at (pos, parent) to heads[base, base + *n) unless an equal one is there. */
static int add_head(gr_matcher *m, int32_t base, int32_t *n, int32_t pos, int32_t parent) {
    for (int32_t k = 0; k < *n; k++) {
        const gr_node *h = &m->nodes[m->heads[base + k]];
        if (h->pos == pos && h->parent == parent) return 0;
    }
    if (*n >= GR_MAX_HEADS) { m->overflow = 1; return -1; }
    if (grow_heads(m, base + *n + 1)) return -1;
    int32_t id = new_node(m, pos, parent);
    if (id < 0) return -1;
    m->heads[base + (*n)++] = id;
    return 0;
}

/* Expands (pos, parent) until every path stands at a character element (a head, appended to
 * heads[base...]) or has emptied its stack (*accept = 1). Iterative: a worklist of positions. */
typedef struct work {
    int32_t pos, parent;
} work;

static int expand(gr_matcher *m, int32_t pos, int32_t parent, int32_t base, int32_t *n, int *accept) {
    const qwen3_grammar *g = m->g;
    work local[64], *w = local;
    int32_t nw = 0, cap = 64, steps = 0;
    int rc = 0;
    w[nw++] = (work){pos, parent};
    while (nw && !rc) {
        work it = w[--nw];
        for (;;) {
            if (++steps > GR_MAX_EXPAND) { m->overflow = 1; rc = -1; break; }
            const gr_elem *x = &g->el[it.pos];
            if (x->type == GE_CHAR) {
                if (add_head(m, base, n, it.pos, it.parent)) rc = -1;
                break;
            }
            if (x->type == GE_END) {
                if (it.parent < 0) { *accept = 1; break; }
                const gr_node *pn = &m->nodes[it.parent];
                it = (work){pn->pos, pn->parent};
                continue;
            }
            /* a rule: every alternative, returning after the reference (no node for a tail call) */
            int32_t ret = it.parent;
            if (g->el[it.pos + 1].type != GE_END && (ret = new_node(m, it.pos + 1, it.parent)) < 0) { rc = -1; break; }
            const gr_rule *r = &g->rules[x->arg];
            if (nw + (int32_t)r->n_alts > cap) {
                int32_t c = cap;
                while (c < nw + (int32_t)r->n_alts) c *= 2;
                work *nv = w == local ? malloc(sizeof *nv * (size_t)c) : realloc(w, sizeof *nv * (size_t)c);
                if (!nv) { rc = -1; break; }
                if (w == local) memcpy(nv, local, sizeof local);
                w = nv;
                cap = c;
            }
            for (int32_t a = (int32_t)r->n_alts - 1; a >= 0; a--) w[nw++] = (work){(int32_t)g->alt_start[r->first_alt + (uint32_t)a], ret};
            break;
        }
    }
    if (w != local) free(w);
    return rc;
}

/* Heads at hin[0, nin) (indices into m->heads) matched against code point cp: the survivors'
 * successors go to m->heads[base ...]. Returns 0 or -1 (memory, overflow). */
static int advance_cp(gr_matcher *m, int32_t in_base, int32_t nin, uint32_t cp, int32_t base, int32_t *n, int *accept) {
    const qwen3_grammar *g = m->g;
    *n = 0;
    *accept = 0;
    for (int32_t k = 0; k < nin; k++) {
        gr_node h = m->nodes[m->heads[in_base + k]];
        if (!gr_class_has(g, &g->cls[g->el[h.pos].arg], cp)) continue;
        if (expand(m, h.pos + 1, h.parent, base, n, accept)) return -1;
    }
    return 0;
}

/* One byte from state (heads at in_base, nin; u) to (heads at base, *n; *u2; *accept).
 * Returns 1 when the result is alive (heads, or a complete sentence), 0 when dead, -1 on error. */
static int step(gr_matcher *m, int32_t in_base, int32_t nin, const gr_utf8 *u, unsigned char b, int32_t base,
                int32_t *n, gr_utf8 *u2, int *accept) {
    uint32_t cp;
    *n = 0;
    *accept = 0;
    if (u->need == 0) {
        if (b < 0x80) {
            *u2 = (gr_utf8){0};
            cp = b;
            goto full;
        }
        gr_utf8 v = {0};
        if (b >= 0xC2 && b <= 0xDF) v = (gr_utf8){b & 0x1Fu, 1, 0x80, 0xBF, 2};
        else if (b == 0xE0) v = (gr_utf8){0, 2, 0xA0, 0xBF, 3};
        else if (b >= 0xE1 && b <= 0xEF) v = (gr_utf8){b & 0x0Fu, 2, 0x80, b == 0xED ? 0x9F : 0xBF, 3};
        else if (b == 0xF0) v = (gr_utf8){0, 3, 0x90, 0xBF, 4};
        else if (b >= 0xF1 && b <= 0xF4) v = (gr_utf8){b & 0x07u, 3, 0x80, b == 0xF4 ? 0x8F : 0xBF, 4};
        else return 0;
        *u2 = v;
    } else {
        if (b < u->lo || b > u->hi) return 0;
        cp = (u->cp << 6) | (b & 0x3Fu);
        if (u->need == 1) {
            *u2 = (gr_utf8){0};
            goto full;
        }
        *u2 = (gr_utf8){cp, (uint8_t)(u->need - 1), 0x80, 0xBF, u->total};
    }
    { /* a partial character: alive when some head can still take one of the code points it may become */
        int rest = 6 * (u2->need - 1);
        uint32_t lo = ((u2->cp << 6) | (u2->lo & 0x3Fu)) << rest, hi = (((u2->cp << 6) | (u2->hi & 0x3Fu)) << rest) | ((1u << rest) - 1);
        const qwen3_grammar *g = m->g;
        int ok = 0;
        for (int32_t k = 0; k < nin && !ok; k++)
            ok = gr_class_meets(g, &g->cls[g->el[m->nodes[m->heads[in_base + k]].pos].arg], lo, hi);
        if (!ok) return 0;
        if (grow_heads(m, base + nin)) return -1;
        if (nin) memmove(m->heads + base, m->heads + in_base, sizeof *m->heads * (size_t)nin);
        *n = nin;
        return 1;
    }
full:
    if (advance_cp(m, in_base, nin, cp, base, n, accept)) return -1;
    return *n > 0 || *accept;
}

int gr_matcher_init(gr_matcher *m, const qwen3_grammar *g, const gr_vocab *v, qwen3_err *e) {
    memset(m, 0, sizeof *m);
    m->g = g;
    m->v = v;
    m->cache = calloc(GR_CACHE, sizeof *m->cache);
    if (!m->cache) return qerr(e, "grammar: out of memory");
    /* the start: every alternative of root */
    int32_t n = 0;
    int acc = 0;
    const gr_rule *r = &g->rules[g->root];
    for (uint32_t a = 0; a < r->n_alts; a++)
        if (expand(m, (int32_t)g->alt_start[r->first_alt + a], -1, 0, &n, &acc)) {
            int over = m->overflow;
            gr_matcher_free(m);
            return qerr(e, over ? "grammar: too ambiguous (more than %d stacks alive at the start)" : "grammar: out of memory",
                        GR_MAX_HEADS);
        }
    m->n_cur = n;
    m->accept = acc;
    m->cur = malloc(sizeof *m->cur * (size_t)(n ? n : 1));
    if (!m->cur) { gr_matcher_free(m); return qerr(e, "grammar: out of memory"); }
    if (n) memcpy(m->cur, m->heads, sizeof *m->cur * (size_t)n);
    m->n_base = m->n_nodes;
    return 0;
}

void gr_matcher_free(gr_matcher *m) {
    free(m->nodes);
    free(m->heads);
    free(m->cur);
    if (m->cache)
        for (int k = 0; k < GR_CACHE; k++) {
            free(m->cache[k].key);
            free(m->cache[k].bits);
        }
    free(m->cache);
    free(m->key);
    free(m->scratch_key);
    memset(m, 0, sizeof *m);
}

/* Runs bytes from the current state; the result's heads at m->heads[*base, + *n). 1 alive, 0 dead,
 * -1 error. The arena keeps what was made (the caller cuts it back or compacts). */
static int run_bytes(gr_matcher *m, const unsigned char *s, size_t len, int32_t *base, int32_t *n, gr_utf8 *u, int *acc) {
    if (grow_heads(m, m->n_cur)) return -1;
    if (m->n_cur) memcpy(m->heads, m->cur, sizeof *m->cur * (size_t)m->n_cur);
    int32_t b = 0, nb = m->n_cur;
    gr_utf8 cu = m->u;
    int a = m->accept;
    for (size_t i = 0; i < len; i++) {
        int32_t nb2;
        gr_utf8 u2;
        int r = step(m, b, nb, &cu, s[i], b + nb, &nb2, &u2, &a);
        if (r <= 0) return r;
        /* keep the newest heads at the front so the scratch does not grow with the text */
        if (nb2) memmove(m->heads, m->heads + b + nb, sizeof *m->heads * (size_t)nb2);
        b = 0;
        nb = nb2;
        cu = u2;
    }
    *base = b;
    *n = nb;
    *u = cu;
    *acc = a;
    return 1;
}

int gr_can_accept(gr_matcher *m, const unsigned char *s, size_t len) {
    int32_t b, n;
    gr_utf8 u;
    int acc;
    int r = run_bytes(m, s, len, &b, &n, &u, &acc);
    m->n_nodes = m->n_base;
    m->overflow = 0;
    return r == 1;
}

int gr_accept_bytes(gr_matcher *m, const unsigned char *s, size_t len) {
    int32_t b, n;
    gr_utf8 u;
    int acc;
    int r = run_bytes(m, s, len, &b, &n, &u, &acc);
    if (r != 1) {
        m->n_nodes = m->n_base;
        return -1;
    }
    /* compact: copy the nodes the new heads reach to the front of the arena, in order */
    int32_t total = m->n_nodes;
    int32_t *map = malloc(sizeof *map * (size_t)(total ? total : 1));
    int32_t *cur = realloc(m->cur, sizeof *cur * (size_t)(n ? n : 1));
    if (!map || !cur) {
        free(map);
        if (cur) m->cur = cur;
        m->n_nodes = m->n_base;
        return -1;
    }
    m->cur = cur;
    for (int32_t k = 0; k < total; k++) map[k] = -1;
    for (int32_t h = 0; h < n; h++)
        for (int32_t x = m->heads[b + h]; x >= 0 && map[x] < 0; x = m->nodes[x].parent) map[x] = -2;
    /* new indices in the old order */
    int32_t w = 0;
    for (int32_t k = 0; k < total; k++)
        if (map[k] == -2) map[k] = w++;
    gr_node *nn = malloc(sizeof *nn * (size_t)(w ? w : 1));
    if (!nn) {
        free(map);
        m->n_nodes = m->n_base;
        return -1;
    }
    for (int32_t k = 0; k < total; k++)
        if (map[k] >= 0) {
            int32_t par = m->nodes[k].parent;
            nn[map[k]] = (gr_node){m->nodes[k].pos, par >= 0 ? map[par] : -1};
        }
    for (int32_t h = 0; h < n; h++) m->cur[h] = map[m->heads[b + h]];
    if (w) memcpy(m->nodes, nn, sizeof *nn * (size_t)w);
    free(nn);
    free(map);
    m->n_nodes = m->n_base = w;
    m->n_cur = n;
    m->u = u;
    m->accept = acc;
    return 0;
}

int gr_done(const gr_matcher *m) { return m->n_cur == 0 && m->u.need == 0; }

/* ---- the mask ---- */

typedef struct chain {
    int32_t off, len;
} chain;

static int chain_less(const uint32_t *base, chain a, chain b) {
    int32_t n = a.len < b.len ? a.len : b.len;
    for (int32_t i = 0; i < n; i++)
        if (base[a.off + i] != base[b.off + i]) return base[a.off + i] < base[b.off + i];
    return a.len < b.len;
}

/* A state as a canonical key in m->key: the partial character and whether the text is complete,
 * then each stack's element positions head to bottom, the stacks sorted. Two states with the same
 * key accept the same continuations. heads may point into m->heads (not grown here). */
static int key_of(gr_matcher *m, const int32_t *heads, int32_t n_heads, const gr_utf8 *u, int acc) {
    int32_t need = 4;
    for (int32_t h = 0; h < n_heads; h++)
        for (int32_t x = heads[h]; x >= 0; x = m->nodes[x].parent) need++;
    need += n_heads;
    if (arr_grow(&m->scratch_key, &m->cap_scratch, (size_t)need, sizeof *m->scratch_key) ||
        arr_grow(&m->key, &m->cap_key, (size_t)need, sizeof *m->key))
        return -1;
    chain local[8], *ch = n_heads <= 8 ? local : malloc(sizeof *ch * (size_t)n_heads);
    if (!ch) return -1;
    int32_t w = 0;
    for (int32_t h = 0; h < n_heads; h++) {
        ch[h].off = w;
        for (int32_t x = heads[h]; x >= 0; x = m->nodes[x].parent) m->scratch_key[w++] = (uint32_t)m->nodes[x].pos;
        ch[h].len = w - ch[h].off;
    }
    for (int32_t i = 1; i < n_heads; i++) /* insertion sort: a handful of stacks */
        for (int32_t j = i; j > 0 && chain_less(m->scratch_key, ch[j], ch[j - 1]); j--) {
            chain t = ch[j];
            ch[j] = ch[j - 1];
            ch[j - 1] = t;
        }
    int32_t k = 0;
    m->key[k++] = u->cp;
    m->key[k++] = (uint32_t)u->need | (uint32_t)u->lo << 8 | (uint32_t)u->hi << 16 | (uint32_t)u->total << 24 |
                  (uint32_t)(acc != 0) << 31;
    for (int32_t h = 0; h < n_heads; h++) {
        memcpy(m->key + k, m->scratch_key + ch[h].off, sizeof *m->key * (size_t)ch[h].len);
        k += ch[h].len;
        m->key[k++] = UINT32_MAX;
    }
    if (ch != local) free(ch);
    m->n_key = k;
    return 0;
}


static uint64_t hash_key(const uint32_t *k, int32_t n) {
    uint64_t h = 1469598103934665603ull;
    for (int32_t i = 0; i < n; i++) h = (h ^ k[i]) * 1099511628211ull;
    return h;
}

/* The walk over the sorted vocabulary (see the file comment), over a small automaton built as it
 * goes: the states met are interned by key, and the successor of (state, byte) is computed once and
 * kept in a table, so most of the vocabulary's bytes cost a table lookup. Interned states keep their
 * heads and nodes until the walk ends (then the arena is cut back to the current state's). */
typedef struct wstate {
    int32_t hoff, hn;  /* heads in m->heads */
    gr_utf8 u;
    int acc;
    uint32_t koff, klen; /* key in the key pool */
    uint64_t hash;
} wstate;

typedef struct walker {
    wstate *st;
    int32_t n, cap;
    int32_t *trans;    /* [cap * 256]: -2 unknown, -1 dead, else a state */
    uint32_t *keys;
    size_t nkeys, capkeys;
    int32_t *slot;     /* open addressing on hash: state + 1, 0 empty */
    int32_t nslot;     /* power of two */
    int32_t htop;      /* first free entry of m->heads */
} walker;

static void walker_free(walker *w) {
    free(w->st);
    free(w->trans);
    free(w->keys);
    free(w->slot);
}

/* The state of heads[base, base + n) with u, acc: an existing one (the new heads are then dropped)
 * or a new one. -1 on lack of memory. */
static int32_t intern(gr_matcher *m, walker *w, int32_t base, int32_t n, const gr_utf8 *u, int acc) {
    if (key_of(m, m->heads + base, n, u, acc)) return -1;
    uint64_t h = hash_key(m->key, m->n_key);
    if (2 * (w->n + 1) > w->nslot) { /* grow and rehash */
        int32_t ns = w->nslot ? 2 * w->nslot : 64;
        int32_t *sl = calloc((size_t)ns, sizeof *sl);
        if (!sl) return -1;
        for (int32_t i = 0; i < w->n; i++) {
            uint32_t j = (uint32_t)w->st[i].hash & (uint32_t)(ns - 1);
            while (sl[j]) j = (j + 1) & (uint32_t)(ns - 1);
            sl[j] = i + 1;
        }
        free(w->slot);
        w->slot = sl;
        w->nslot = ns;
    }
    uint32_t j = (uint32_t)h & (uint32_t)(w->nslot - 1);
    for (; w->slot[j]; j = (j + 1) & (uint32_t)(w->nslot - 1)) {
        const wstate *o = &w->st[w->slot[j] - 1];
        if (o->hash == h && (int32_t)o->klen == m->n_key && !memcmp(w->keys + o->koff, m->key, sizeof *m->key * (size_t)m->n_key))
            return w->slot[j] - 1;
    }
    if (w->n == w->cap) {
        int32_t c = w->cap ? 2 * w->cap : 64;
        wstate *ns = realloc(w->st, sizeof *ns * (size_t)c);
        if (!ns) return -1;
        w->st = ns;
        int32_t *nt = realloc(w->trans, sizeof *nt * (size_t)c * 256);
        if (!nt) return -1;
        w->trans = nt;
        w->cap = c;
    }
    if (arr_grow(&w->keys, &w->capkeys, w->nkeys + (size_t)m->n_key, sizeof *w->keys)) return -1;
    memcpy(w->keys + w->nkeys, m->key, sizeof *m->key * (size_t)m->n_key);
    int32_t id = w->n++;
    w->st[id] = (wstate){base, n, *u, acc, (uint32_t)w->nkeys, (uint32_t)m->n_key, h};
    w->nkeys += (size_t)m->n_key;
    for (int k = 0; k < 256; k++) w->trans[(size_t)id * 256 + (size_t)k] = -2;
    w->slot[j] = id + 1;
    w->htop = base + n;
    return id;
}

/* The successor of state s by byte b: -1 dead, -2 error, else a state. */
static int32_t next_state(gr_matcher *m, walker *w, int32_t s, unsigned char b) {
    int32_t t = w->trans[(size_t)s * 256 + b];
    if (t != -2) return t;
    int32_t mark_nodes = m->n_nodes, base = w->htop, nn;
    gr_utf8 u2;
    int acc;
    wstate cur = w->st[s];
    int r = step(m, cur.hoff, cur.hn, &cur.u, b, base, &nn, &u2, &acc);
    if (r < 0 && m->overflow) { m->overflow = 0; r = 0; } /* too ambiguous a path: treat it as dead */
    if (r < 0) return -2;
    if (r == 0) {
        m->n_nodes = mark_nodes;
        t = -1;
    } else {
        int32_t before = w->n;
        t = intern(m, w, base, nn, &u2, acc);
        if (t < 0) return -2;
        if (w->n == before) m->n_nodes = mark_nodes; /* known already: drop what the step made */
    }
    w->trans[(size_t)s * 256 + b] = t;
    return t;
}

static int walk(gr_matcher *m, uint64_t *bits) {
    const gr_vocab *v = m->v;
    walker w = {0};
    int32_t *sid = malloc(sizeof *sid * (size_t)(v->max_len + 1));
    int rc = 0;
    if (!sid || grow_heads(m, m->n_cur)) { free(sid); return -1; }
    if (m->n_cur) memcpy(m->heads, m->cur, sizeof *m->cur * (size_t)m->n_cur);
    w.htop = m->n_cur;
    if ((sid[0] = intern(m, &w, 0, m->n_cur, &m->u, m->accept)) < 0) rc = -1;
    int computed = 0, dead_at = 1 << 30;
    for (int i = 0; i < v->n && !rc; i++) {
        int L = v->lcp[i], n = (int)v->len[i];
        if (L >= dead_at) continue;
        if (computed > L) computed = L;
        dead_at = 1 << 30;
        const unsigned char *b = v->bytes[i];
        for (int d = computed; d < n; d++) {
            int32_t t = next_state(m, &w, sid[d], b[d]);
            if (t == -2) { rc = -1; break; }
            if (t == -1) {
                dead_at = d + 1;
                computed = d;
                break;
            }
            sid[d + 1] = t;
            computed = d + 1;
        }
        if (dead_at == 1 << 30 && !rc) bits[v->ids[i] >> 6] |= 1ull << (v->ids[i] & 63);
    }
    m->n_nodes = m->n_base;
    free(sid);
    walker_free(&w);
    return rc;
}

const uint64_t *gr_mask(gr_matcher *m) {
    if (key_of(m, m->cur, m->n_cur, &m->u, 0)) return NULL;
    uint64_t h = hash_key(m->key, m->n_key);
    size_t words = ((size_t)m->v->n_ids + 63) / 64;
    m->tick++;
    for (int k = 0; k < GR_CACHE; k++) {
        gr_cached *c = &m->cache[k];
        if (c->bits && c->hash == h && c->n_key == m->n_key && !memcmp(c->key, m->key, sizeof *c->key * (size_t)m->n_key)) {
            c->used = m->tick;
            return c->bits;
        }
    }
    int victim = 0;
    for (int k = 1; k < GR_CACHE; k++)
        if (m->cache[k].used < m->cache[victim].used) victim = k;
    gr_cached *c = &m->cache[victim];
    if (!c->bits && !(c->bits = malloc(sizeof *c->bits * words))) return NULL;
    uint32_t *key = realloc(c->key, sizeof *key * (size_t)m->n_key);
    if (!key) return NULL;
    c->key = key;
    memset(c->bits, 0, sizeof *c->bits * words);
    int32_t nk = m->n_key;
    if (nk) memcpy(c->key, m->key, sizeof *c->key * (size_t)nk); /* before the walk reuses m->key */
    c->hash = 0;
    c->n_key = 0;
    c->used = m->tick;
    if (walk(m, c->bits)) return NULL;
    c->n_key = nk;
    c->hash = h;
    return c->bits;
}
