/* gbnf.c - GBNF text -> a compiled grammar (grammar.h), a pure function of the text (fuzzed).
 *
 * The format is llama.cpp's (grammars/README.md there): rules `name ::= alternatives`, one per line
 * (a rule continues over newlines inside parentheses and after `|`); `#` comments; names of letters,
 * digits, `-` and `_`; elements: "literal" (escapes \n \r \t \\ \" \' \/ \[ \] \- \^ \xHH \uHHHH
 * \UHHHHHHHH), [class] and [^class] of characters and ranges, `.` (any character), a rule name,
 * ( group ); postfix *, +, ?, {m}, {m,}, {m,n} on the element before (a whole literal counts as
 * one). The rule `root` is the start.
 *
 * Refused, with the line and column: undefined or redefined rules, no root, left recursion (also
 * through rules that can match nothing: the recogniser would loop), repetition counts above
 * GR_MAX_REPEAT, more than GR_MAX_ELEMS elements, characters above U+10FFFF, invalid UTF-8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"

typedef struct seq {
    gr_elem *e;
    uint32_t n, cap;
} seq;

typedef struct parser {
    const char *s;
    size_t n, i;
    qwen3_grammar *g;
    unsigned char *defined; /* [cap_rules] */
    uint32_t cap_defined;
    qwen3_err *e;
    int failed;
    int depth;              /* parenthesis nesting, bounded so recursion stays shallow */
} parser;

static int fail(parser *p, const char *fmt, const char *what) {
    if (p->failed) return -1;
    p->failed = 1;
    size_t line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) {
        if (p->s[k] == '\n') { line++; col = 1; }
        else col++;
    }
    char msg[512];
    snprintf(msg, sizeof msg, fmt, what ? what : "");
    return qerr(p->e, "grammar: line %zu, column %zu: %s", line, col, msg);
}

static int grow(void **v, uint32_t *cap, uint32_t need, size_t size) {
    if (need <= *cap) return 0;
    uint32_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > UINT32_MAX / 2) return -1;
        c *= 2;
    }
    void *nv = realloc(*v, size * c);
    if (!nv) return -1;
    *v = nv;
    *cap = c;
    return 0;
}

static int seq_push(parser *p, seq *q, uint8_t type, uint32_t arg) {
    if (grow((void **)&q->e, &q->cap, q->n + 1, sizeof *q->e)) return fail(p, "out of memory%s", NULL);
    q->e[q->n++] = (gr_elem){type, arg};
    return 0;
}

/* A rule by name (created undefined when new); -1 for lack of memory. */
static int64_t rule_id(parser *p, const char *name, size_t len) {
    qwen3_grammar *g = p->g;
    for (uint32_t r = 0; r < g->n_rules; r++)
        if (g->rules[r].name && strlen(g->rules[r].name) == len && !memcmp(g->rules[r].name, name, len)) return r;
    if (grow((void **)&g->rules, &g->cap_rules, g->n_rules + 1, sizeof *g->rules) ||
        grow((void **)&p->defined, &p->cap_defined, g->n_rules + 1, 1))
        return fail(p, "out of memory%s", NULL);
    char *nm = malloc(len + 1);
    if (!nm) return fail(p, "out of memory%s", NULL);
    memcpy(nm, name, len);
    nm[len] = 0;
    g->rules[g->n_rules] = (gr_rule){nm, 0, 0};
    p->defined[g->n_rules] = 0;
    return g->n_rules++;
}

/* A helper rule (groups, repetitions): nameless, so never found by rule_id. */
static int64_t helper_rule(parser *p) {
    qwen3_grammar *g = p->g;
    if (grow((void **)&g->rules, &g->cap_rules, g->n_rules + 1, sizeof *g->rules) ||
        grow((void **)&p->defined, &p->cap_defined, g->n_rules + 1, 1))
        return fail(p, "out of memory%s", NULL);
    g->rules[g->n_rules] = (gr_rule){NULL, 0, 0};
    p->defined[g->n_rules] = 1;
    return g->n_rules++;
}

/* Gives rule r its alternatives (appended to the grammar's flat arrays). */
static int define(parser *p, uint32_t r, const seq *alts, uint32_t n) {
    qwen3_grammar *g = p->g;
    uint32_t total = 0;
    for (uint32_t a = 0; a < n; a++) total += alts[a].n + 1;
    if (g->n_el + total > GR_MAX_ELEMS) return fail(p, "the grammar is too large (more than %s elements)", "1048576");
    if (grow((void **)&g->el, &g->cap_el, g->n_el + total, sizeof *g->el) ||
        grow((void **)&g->alt_start, &g->cap_alt, g->n_alt + n, sizeof *g->alt_start))
        return fail(p, "out of memory%s", NULL);
    g->rules[r].first_alt = g->n_alt;
    g->rules[r].n_alts = n;
    for (uint32_t a = 0; a < n; a++) {
        g->alt_start[g->n_alt++] = g->n_el;
        if (alts[a].n) memcpy(g->el + g->n_el, alts[a].e, sizeof *g->el * alts[a].n);
        g->n_el += alts[a].n;
        g->el[g->n_el++] = (gr_elem){GE_END, 0};
    }
    p->defined[r] = 1;
    return 0;
}

/* A class from ranges (pairs); returns its index, -1 for lack of memory. */
static int64_t add_class(parser *p, const uint32_t *rg, uint32_t n, int negate) {
    qwen3_grammar *g = p->g;
    if (grow((void **)&g->cls, &g->cap_cls, g->n_cls + 1, sizeof *g->cls) ||
        grow((void **)&g->ranges, &g->cap_ranges, g->n_ranges + 2 * n, sizeof *g->ranges))
        return fail(p, "out of memory%s", NULL);
    gr_class *c = &g->cls[g->n_cls];
    *c = (gr_class){g->n_ranges / 2, n, negate, {0, 0}};
    if (n) memcpy(g->ranges + g->n_ranges, rg, sizeof *rg * 2 * n);
    g->n_ranges += 2 * n;
    for (uint32_t k = 0; k < n; k++)
        for (uint32_t cp = rg[2 * k]; cp <= rg[2 * k + 1] && cp < 128; cp++) c->ascii[cp >> 6] |= 1ull << (cp & 63);
    if (negate) {
        c->ascii[0] = ~c->ascii[0];
        c->ascii[1] = ~c->ascii[1];
    }
    return g->n_cls++;
}

int gr_class_has(const qwen3_grammar *g, const gr_class *c, uint32_t cp) {
    if (cp < 128) return (int)((c->ascii[cp >> 6] >> (cp & 63)) & 1);
    if (!c->n) return c->negate; /* "." (and a grammar with no ranges at all: g->ranges is NULL) */
    const uint32_t *r = g->ranges + 2 * c->first;
    int in = 0;
    for (uint32_t k = 0; k < c->n && !in; k++) in = cp >= r[2 * k] && cp <= r[2 * k + 1];
    return in != c->negate;
}

int gr_class_meets(const qwen3_grammar *g, const gr_class *c, uint32_t lo, uint32_t hi) {
    if (!c->n) return c->negate;
    const uint32_t *r = g->ranges + 2 * c->first;
    if (!c->negate) {
        for (uint32_t k = 0; k < c->n; k++)
            if (r[2 * k] <= hi && r[2 * k + 1] >= lo) return 1;
        return 0;
    }
    /* negated: some point of [lo, hi] outside every range; walk up from lo past covering ranges */
    uint32_t x = lo;
    for (int moved = 1; moved && x <= hi;) {
        moved = 0;
        for (uint32_t k = 0; k < c->n; k++)
            if (r[2 * k] <= x && r[2 * k + 1] >= x) {
                if (r[2 * k + 1] >= hi) return 0;
                x = r[2 * k + 1] + 1;
                moved = 1;
            }
    }
    return x <= hi;
}

/* ---- lexing ---- */

static int is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void space(parser *p, int newline_ok) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) p->i++;
        else if (c == '#') {
            while (p->i < p->n && p->s[p->i] != '\n') p->i++;
        } else break;
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character of a literal or class (escapes decoded, UTF-8 read); -1 with the error set. */
static int64_t read_char(parser *p) {
    if (p->i >= p->n) return fail(p, "unexpected end of the grammar%s", NULL);
    unsigned char c = (unsigned char)p->s[p->i];
    if (c == '\\') {
        if (p->i + 1 >= p->n) return fail(p, "unexpected end after '\\'%s", NULL);
        char x = p->s[p->i + 1];
        p->i += 2;
        int digits = x == 'x' ? 2 : x == 'u' ? 4 : x == 'U' ? 8 : 0;
        if (digits) {
            uint32_t v = 0;
            for (int k = 0; k < digits; k++) {
                int h = p->i < p->n ? hexval(p->s[p->i]) : -1;
                if (h < 0) return fail(p, "'\\%s' needs hexadecimal digits", x == 'x' ? "x" : x == 'u' ? "u" : "U");
                v = v * 16 + (uint32_t)h;
                p->i++;
            }
            if (v > 0x10FFFF) return fail(p, "a character above U+10FFFF%s", NULL);
            return v;
        }
        switch (x) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '\\': case '"': case '\'': case '/': case '[': case ']': case '-': case '^': return (unsigned char)x;
        default: p->i--; return fail(p, "unknown escape '\\%.1s'", p->s + p->i);
        }
    }
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || p->i + (size_t)len > p->n) return fail(p, "invalid UTF-8%s", NULL);
    uint32_t v = len == 1 ? c : (uint32_t)(c & (0x7F >> len));
    for (int k = 1; k < len; k++) {
        unsigned char d = (unsigned char)p->s[p->i + (size_t)k];
        if ((d & 0xC0) != 0x80) return fail(p, "invalid UTF-8%s", NULL);
        v = (v << 6) | (d & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return fail(p, "invalid UTF-8%s", NULL);
    p->i += (size_t)len;
    return v;
}

static int parse_alternates(parser *p, uint32_t rule);

/* Wraps q[from, n) into a helper rule of one alternative when it is more than one element, so a
 * repetition applies to one element. */
static int unit(parser *p, seq *q, uint32_t from, gr_elem *out) {
    if (q->n - from == 1) { *out = q->e[from]; q->n = from; return 0; }
    int64_t r = helper_rule(p);
    if (r < 0) return -1;
    seq one = {q->e + from, q->n - from, 0};
    if (define(p, (uint32_t)r, &one, 1)) return -1;
    q->n = from;
    *out = (gr_elem){GE_RULE, (uint32_t)r};
    return 0;
}

/* x* as a rule: R ::= x R | <empty>. */
static int64_t star_rule(parser *p, gr_elem x) {
    int64_t r = helper_rule(p);
    if (r < 0) return -1;
    gr_elem a0[2] = {x, {GE_RULE, (uint32_t)r}};
    seq alts[2] = {{a0, 2, 0}, {NULL, 0, 0}};
    return define(p, (uint32_t)r, alts, 2) ? -1 : r;
}

/* Up to k more x: O_k ::= x O_{k-1} | <empty>, O_1 ::= x | <empty>. */
static int64_t upto_rule(parser *p, gr_elem x, uint32_t k) {
    int64_t prev = -1;
    for (uint32_t j = 1; j <= k; j++) {
        int64_t r = helper_rule(p);
        if (r < 0) return -1;
        gr_elem a0[2] = {x, {GE_RULE, (uint32_t)prev}};
        seq alts[2] = {{a0, prev < 0 ? 1u : 2u, 0}, {NULL, 0, 0}};
        if (define(p, (uint32_t)r, alts, 2)) return -1;
        prev = r;
    }
    return prev;
}

static int read_count(parser *p, uint32_t *v) {
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') return fail(p, "expected a number in {...}%s", NULL);
    uint64_t x = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        x = x * 10 + (uint64_t)(p->s[p->i++] - '0');
        if (x > GR_MAX_REPEAT) return fail(p, "a repetition count above %s", "10000");
    }
    *v = (uint32_t)x;
    return 0;
}

/* The postfix operator at p->i applied to q[from, n). */
static int postfix(parser *p, seq *q, uint32_t from) {
    char op = p->s[p->i];
    uint32_t lo = 0, hi = 0;
    int unbounded = 0;
    p->i++;
    if (op == '*') unbounded = 1;
    else if (op == '+') { lo = 1; unbounded = 1; }
    else if (op == '?') hi = 1;
    else { /* { m } { m , } { m , n } */
        space(p, 1);
        if (read_count(p, &lo)) return -1;
        space(p, 1);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            space(p, 1);
            if (p->i < p->n && p->s[p->i] == '}') unbounded = 1;
            else if (read_count(p, &hi)) return -1;
            space(p, 1);
        } else hi = lo;
        if (p->i >= p->n || p->s[p->i] != '}') return fail(p, "expected '}'%s", NULL);
        p->i++;
        if (!unbounded && hi < lo) return fail(p, "{m,n} with n < m%s", NULL);
    }
    gr_elem x;
    if (from == q->n) return fail(p, "'%s' follows nothing", op == '{' ? "{" : op == '*' ? "*" : op == '+' ? "+" : "?");
    if (unit(p, q, from, &x)) return -1;
    if ((uint64_t)lo * 2 + q->n > GR_MAX_ELEMS) return fail(p, "the grammar is too large%s", NULL);
    for (uint32_t k = 0; k < lo; k++)
        if (seq_push(p, q, x.type, x.arg)) return -1;
    int64_t r = unbounded ? star_rule(p, x) : hi > lo ? upto_rule(p, x, hi - lo) : -2;
    if (r == -1) return -1;
    if (r >= 0 && seq_push(p, q, GE_RULE, (uint32_t)r)) return -1;
    return 0;
}

/* A class body after '['. */
static int parse_class(parser *p, seq *q) {
    int negate = 0;
    if (p->i < p->n && p->s[p->i] == '^') { negate = 1; p->i++; }
    uint32_t *rg = NULL, n = 0, cap = 0;
    for (;;) {
        if (p->i >= p->n) { free(rg); return fail(p, "unterminated character class%s", NULL); }
        if (p->s[p->i] == ']') { p->i++; break; }
        int64_t a = read_char(p), b;
        if (a < 0) { free(rg); return -1; }
        b = a;
        if (p->i + 1 < p->n && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
            p->i++;
            if ((b = read_char(p)) < 0) { free(rg); return -1; }
            if (b < a) { free(rg); return fail(p, "a character range runs backwards%s", NULL); }
        }
        if (grow((void **)&rg, &cap, 2 * (n + 1), sizeof *rg)) { free(rg); return fail(p, "out of memory%s", NULL); }
        rg[2 * n] = (uint32_t)a;
        rg[2 * n + 1] = (uint32_t)b;
        n++;
    }
    int64_t c = add_class(p, rg, n, negate);
    free(rg);
    return c < 0 ? -1 : seq_push(p, q, GE_CHAR, (uint32_t)c);
}

/* One alternative: elements until '|', ')' or the end of the rule. */
static int parse_sequence(parser *p, seq *q, int nested) {
    uint32_t last = q->n;
    for (;;) {
        space(p, nested);
        if (p->i >= p->n) return 0;
        char c = p->s[p->i];
        if (c == '|' || c == ')' || c == '\n' || c == '\r') return 0;
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (postfix(p, q, last)) return -1;
            last = q->n; /* a repetition of a repetition applies to the whole */
            continue;
        }
        last = q->n;
        if (c == '"') {
            p->i++;
            for (;;) {
                if (p->i >= p->n) return fail(p, "unterminated literal%s", NULL);
                if (p->s[p->i] == '"') { p->i++; break; }
                int64_t cp = read_char(p);
                if (cp < 0) return -1;
                uint32_t rg[2] = {(uint32_t)cp, (uint32_t)cp};
                int64_t k = add_class(p, rg, 1, 0);
                if (k < 0 || seq_push(p, q, GE_CHAR, (uint32_t)k)) return -1;
            }
        } else if (c == '[') {
            p->i++;
            if (parse_class(p, q)) return -1;
        } else if (c == '.') {
            p->i++;
            int64_t k = add_class(p, NULL, 0, 1);
            if (k < 0 || seq_push(p, q, GE_CHAR, (uint32_t)k)) return -1;
        } else if (c == '(') {
            p->i++;
            if (++p->depth > 64) return fail(p, "parentheses nested deeper than %s", "64");
            int64_t r = helper_rule(p);
            if (r < 0 || parse_alternates(p, (uint32_t)r)) return -1;
            space(p, 1);
            if (p->i >= p->n || p->s[p->i] != ')') return fail(p, "expected ')'%s", NULL);
            p->i++;
            p->depth--;
            if (seq_push(p, q, GE_RULE, (uint32_t)r)) return -1;
        } else if (is_word(c)) {
            size_t st = p->i;
            while (p->i < p->n && is_word(p->s[p->i])) p->i++;
            size_t save = p->i;
            space(p, 0);
            if (p->i + 3 <= p->n && !memcmp(p->s + p->i, "::=", 3)) { p->i = st; return 0; } /* next rule */
            p->i = save;
            int64_t r = rule_id(p, p->s + st, p->i - st);
            if (r < 0 || seq_push(p, q, GE_RULE, (uint32_t)r)) return -1;
        } else {
            return fail(p, "unexpected character '%.1s'", p->s + p->i);
        }
    }
}

static void free_alts(seq *alts, uint32_t n) {
    for (uint32_t a = 0; a < n; a++) free(alts[a].e);
    free(alts);
}

static int parse_alternates(parser *p, uint32_t rule) {
    int nested = p->depth > 0;
    seq *alts = NULL;
    uint32_t n = 0, cap = 0;
    for (;;) {
        if (grow((void **)&alts, &cap, n + 1, sizeof *alts)) { free_alts(alts, n); return fail(p, "out of memory%s", NULL); }
        alts[n] = (seq){NULL, 0, 0};
        n++;
        if (parse_sequence(p, &alts[n - 1], nested)) { free_alts(alts, n); return -1; }
        space(p, nested);
        if (p->i < p->n && p->s[p->i] == '|') {
            p->i++;
            space(p, 1);
            continue;
        }
        break;
    }
    int rc = define(p, rule, alts, n);
    free_alts(alts, n);
    return rc;
}

/* Left recursion (through rules that may match nothing, too) would make the recogniser loop:
 * nullable rules by fixpoint, then the edges "r may begin with s" (a rule reference preceded only by
 * nullable ones), then an iterative depth-first search for a cycle (no recursion: a fuzzed grammar
 * may chain a million rules). */
static int check_left_recursion(parser *p) {
    qwen3_grammar *g = p->g;
    uint32_t R = g->n_rules ? g->n_rules : 1;
    unsigned char *nullable = calloc(R, 1), *state = calloc(R, 1);
    uint32_t *first = calloc((size_t)R + 1, sizeof *first), *edge = malloc(sizeof *edge * (g->n_el + 1));
    uint32_t *stk = malloc(sizeof *stk * 2 * R);
    int rc = 0;
    if (!nullable || !state || !first || !edge || !stk) { rc = fail(p, "out of memory%s", NULL); goto out; }
    for (int changed = 1; changed;) {
        changed = 0;
        for (uint32_t r = 0; r < g->n_rules; r++) {
            if (nullable[r]) continue;
            for (uint32_t a = 0; a < g->rules[r].n_alts && !nullable[r]; a++) {
                const gr_elem *x = g->el + g->alt_start[g->rules[r].first_alt + a];
                while (x->type == GE_RULE && nullable[x->arg]) x++;
                if (x->type == GE_END) nullable[r] = changed = 1;
            }
        }
    }
    uint32_t ne = 0;
    for (uint32_t r = 0; r < g->n_rules; r++) {
        first[r] = ne;
        for (uint32_t a = 0; a < g->rules[r].n_alts; a++)
            for (const gr_elem *x = g->el + g->alt_start[g->rules[r].first_alt + a]; x->type == GE_RULE; x++) {
                edge[ne++] = x->arg;
                if (!nullable[x->arg]) break;
            }
    }
    first[g->n_rules] = ne;
    for (uint32_t s0 = 0; s0 < g->n_rules && !rc; s0++) {
        if (state[s0]) continue;
        uint32_t top = 1;
        stk[0] = s0;
        stk[1] = first[s0];
        state[s0] = 1; /* 1: on the current path, 2: finished */
        while (top && !rc) {
            uint32_t r = stk[2 * (top - 1)], *k = &stk[2 * (top - 1) + 1];
            if (*k == first[r + 1]) {
                state[r] = 2;
                top--;
                continue;
            }
            uint32_t t = edge[(*k)++];
            if (state[t] == 1) {
                const char *nm = g->rules[t].name;
                rc = fail(p, "left recursion through rule '%s' (a rule that can start with itself)", nm ? nm : "(a group or repetition)");
            } else if (state[t] == 0) {
                state[t] = 1;
                stk[2 * top] = t;
                stk[2 * top + 1] = first[t];
                top++;
            }
        }
    }
out:
    free(nullable);
    free(state);
    free(first);
    free(edge);
    free(stk);
    return rc;
}

void qwen3_grammar_free(qwen3_grammar *g);

qwen3_grammar *gr_parse_gbnf(const char *text, size_t len, qwen3_err *e) {
    qwen3_grammar *g = calloc(1, sizeof *g);
    parser p = {text, len, 0, g, NULL, 0, e, 0, 0};
    if (!g) { qerr(e, "grammar: out of memory"); return NULL; }
    atomic_init(&g->refs, 1);
    for (;;) {
        space(&p, 1);
        if (p.i >= p.n) break;
        size_t st = p.i;
        while (p.i < p.n && is_word(p.s[p.i])) p.i++;
        if (p.i == st) { fail(&p, "expected a rule name%s", NULL); goto bad; }
        int64_t r = rule_id(&p, p.s + st, p.i - st);
        if (r < 0) goto bad;
        if (p.defined[r]) { p.i = st; fail(&p, "rule '%s' is defined twice", g->rules[r].name); goto bad; }
        space(&p, 0);
        if (p.i + 3 > p.n || memcmp(p.s + p.i, "::=", 3)) { fail(&p, "expected '::=' after the rule name%s", NULL); goto bad; }
        p.i += 3;
        space(&p, 1);
        if (parse_alternates(&p, (uint32_t)r)) goto bad;
        space(&p, 0);
        if (p.i < p.n && p.s[p.i] != '\n' && p.s[p.i] != '\r') { fail(&p, "unexpected '%.1s' (a rule ends at the end of its line)", p.s + p.i); goto bad; }
    }
    p.i = p.n;
    int64_t root = -1;
    for (uint32_t r = 0; r < g->n_rules; r++) {
        if (!p.defined[r]) { fail(&p, "rule '%s' is used but never defined", g->rules[r].name); goto bad; }
        if (g->rules[r].name && !strcmp(g->rules[r].name, "root")) root = r;
    }
    if (root < 0) { fail(&p, "no rule 'root' (the start of the grammar)%s", NULL); goto bad; }
    g->root = (uint32_t)root;
    if (check_left_recursion(&p)) goto bad;
    free(p.defined);
    if (!(g->text = malloc(len + 1))) { qerr(e, "grammar: out of memory"); qwen3_grammar_free(g); return NULL; }
    memcpy(g->text, text, len);
    g->text[len] = 0;
    return g;
bad:
    free(p.defined);
    qwen3_grammar_free(g);
    return NULL;
}
