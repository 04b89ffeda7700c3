/* grammar.h - internals of constrained decoding (the public API is the "constrained decoding"
 * section of include/qwen3.h). One job per file:
 *
 *   gbnf.c     GBNF text (llama.cpp's grammar format) -> rules of alternatives of elements
 *   schema.c   a JSON Schema (the subset in the README) -> GBNF text
 *   match.c    the recogniser: a set of pushdown stacks advanced byte by byte (UTF-8 decoded into
 *              code points), and the token mask: which token ids can continue the text
 *   vocab.c    each token's bytes sorted once per tokenizer, with the common-prefix lengths the
 *              mask walk shares work through
 *
 * The compiled form. Every rule is a list of alternatives; an alternative is a run of elements in
 * one flat array ending with GE_END. An element is a character class (GE_CHAR) or a reference to a
 * rule (GE_RULE). Repetition, optional parts and groups become helper rules at parse time
 * (x* -> R ::= x R | <empty>, right-recursive, so a stack stays flat: see match.c's tail calls). */
#ifndef QWEN3_GRAMMAR_GRAMMAR_H
#define QWEN3_GRAMMAR_GRAMMAR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "qwen3.h"

enum { GE_END = 0, GE_CHAR = 1, GE_RULE = 2 };

typedef struct gr_elem {
    uint8_t type;   /* GE_* */
    uint32_t arg;   /* GE_CHAR: class index; GE_RULE: rule index */
} gr_elem;

/* A set of code points: ranges [lo, hi], negated or not, with the ASCII part as a bitmap. */
typedef struct gr_class {
    uint32_t first, n;  /* ranges[first .. first + n) of the grammar's range pool */
    int negate;
    uint64_t ascii[2];  /* bit c: code point c < 128 is in the set (negation applied) */
} gr_class;

typedef struct gr_rule {
    char *name;
    uint32_t first_alt, n_alts; /* alt_start[first_alt ...] */
} gr_rule;

/* Limits that keep a hostile grammar from taking the machine (refused at compile time, named). */
#define GR_MAX_ELEMS (1u << 20)
#define GR_MAX_REPEAT 10000 /* {m,n}: m, n at most this */
#define GR_MAX_HEADS 1024   /* stacks alive at once (ambiguous grammars multiply them) */

struct qwen3_grammar {
    atomic_int refs;
    char *text;           /* the GBNF source (what a schema compiled to) */
    gr_elem *el;
    uint32_t n_el, cap_el;
    uint32_t *alt_start;  /* element index of each alternative */
    uint32_t n_alt, cap_alt;
    gr_rule *rules;
    uint32_t n_rules, cap_rules;
    gr_class *cls;
    uint32_t n_cls, cap_cls;
    uint32_t *ranges;     /* pairs lo, hi */
    uint32_t n_ranges, cap_ranges;
    uint32_t root;        /* the rule "root" */
    char *tokens[2];      /* texts the grammar may also take as the added token of that text (the
                             tool-call tags around a wrapped schema); NULL: none */
};

/* gbnf.c: parses GBNF text into a grammar (refs = 1). Errors name the line and column. */
qwen3_grammar *gr_parse_gbnf(const char *text, size_t len, qwen3_err *e);
int gr_class_has(const qwen3_grammar *g, const gr_class *c, uint32_t cp);
/* 1 when some code point in [lo, hi] is in the class. */
int gr_class_meets(const qwen3_grammar *g, const gr_class *c, uint32_t lo, uint32_t hi);

/* schema.c: JSON Schema text -> malloc'd GBNF text; NULL with the keyword and its path named. */
char *gr_schema_to_gbnf(const char *schema, size_t len, qwen3_err *e);
/* The same with the JSON text between the literal texts before and after (no whitespace around). */
char *gr_schema_to_gbnf_in(const char *schema, size_t len, const char *before, const char *after, qwen3_err *e);
/* The GBNF of any JSON object (OpenAI's json_object mode). */
extern const char GR_JSON_OBJECT_GBNF[];

/* ---- match.c ---- */

/* A stack node: pos is an element index (a GE_CHAR for a head; the return position for the nodes
 * below it), parent the node below (-1: the bottom). Nodes live in an arena that only grows while a
 * state is explored and is cut back when the exploration returns (see gr_mask). */
typedef struct gr_node {
    int32_t pos, parent;
} gr_node;

/* The recogniser's state: the tops of the live stacks, and a partial UTF-8 character. */
typedef struct gr_utf8 {
    uint32_t cp;        /* bits so far */
    uint8_t need;       /* continuation bytes still to come (0: none pending) */
    uint8_t lo, hi;     /* the range of the next continuation byte */
    uint8_t total;      /* bytes of the whole character */
} gr_utf8;

typedef struct gr_vocab gr_vocab;

/* What one generation carries: its grammar, its state and its cache of masks. */
typedef struct gr_matcher {
    const qwen3_grammar *g;
    const gr_vocab *v;
    gr_node *nodes;       /* arena */
    int32_t n_nodes;
    size_t cap_nodes;
    int32_t *heads;       /* scratch of heads, by depth (mask walk) */
    size_t cap_heads;
    int32_t *cur;         /* the current state's heads (nodes in the arena's first n_base) */
    int32_t n_cur;
    int32_t n_base;       /* nodes of the current state; the rest of the arena is scratch */
    gr_utf8 u;
    int accept;           /* the text so far is a complete sentence */
    int overflow;         /* more than GR_MAX_HEADS stacks: the grammar is too ambiguous */
    /* masks by state: LRU of GR_CACHE entries */
    struct gr_cached *cache;
    int n_cache;
    uint64_t tick;
    uint32_t *key;        /* scratch: the current state's canonical key */
    int32_t n_key;
    size_t cap_key;
    uint32_t *scratch_key;
    size_t cap_scratch;
} gr_matcher;

int gr_matcher_init(gr_matcher *m, const qwen3_grammar *g, const gr_vocab *v, qwen3_err *e);
void gr_matcher_free(gr_matcher *m);
/* Advances by bytes; 0, or -1 when the bytes cannot continue a sentence (state unchanged then). */
int gr_accept_bytes(gr_matcher *m, const unsigned char *s, size_t n);
/* 1 when the bytes could continue the current text (state unchanged). */
int gr_can_accept(gr_matcher *m, const unsigned char *s, size_t n);
/* 1 when nothing more can follow (every stack is done). */
int gr_done(const gr_matcher *m);
/* The tokens (of v's list) whose bytes can continue the text: a bitset of n_ids bits, owned by the
 * matcher, valid until the next call. NULL for lack of memory. */
const uint64_t *gr_mask(gr_matcher *m);

/* ---- vocab.c ---- */

struct gr_vocab {
    int n_ids;            /* bits of a mask */
    int n;                /* tokens in the walk (ordinary tokens with bytes) */
    int32_t *ids;         /* sorted by bytes */
    uint16_t *lcp;        /* lcp[i]: bytes token i shares with token i - 1 (0 for i = 0) */
    const unsigned char **bytes;
    uint32_t *len;
    int max_len;
    uint64_t *ordinary;   /* [n_ids bits] 1 for the tokens listed here */
};
/* The tokenizer's sorted vocabulary, built on first use and kept with the tokenizer (thread-safe). */
const gr_vocab *gr_vocab_get(const qwen3_tokenizer *t, qwen3_err *e);
void gr_vocab_free(gr_vocab *v);

#endif
