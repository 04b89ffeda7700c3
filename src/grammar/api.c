/* api.c - the public face of constrained decoding: compiling grammars (GBNF or a JSON Schema),
 * their reference count, and matching a whole text (what the tests and the fuzzer check). */
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"

qwen3_grammar *qwen3_grammar_gbnf(const char *text, size_t len, qwen3_err *err) {
    if (!text) { qerr(err, "grammar: no text"); return NULL; }
    qwen3_grammar *g = gr_parse_gbnf(text, len, err);
    if (!g) return NULL;
    /* a grammar whose start is already too ambiguous is refused now, not at the first token */
    gr_matcher m;
    if (gr_matcher_init(&m, g, NULL, err)) { qwen3_grammar_free(g); return NULL; }
    gr_matcher_free(&m);
    return g;
}

qwen3_grammar *qwen3_grammar_json_schema(const char *schema, size_t len, qwen3_err *err) {
    char *gbnf = NULL;
    if (schema) {
        if (!(gbnf = gr_schema_to_gbnf(schema, len, err))) return NULL;
    } else if (!(gbnf = strdup(GR_JSON_OBJECT_GBNF))) {
        qerr(err, "grammar: out of memory");
        return NULL;
    }
    qwen3_grammar *g = qwen3_grammar_gbnf(gbnf, strlen(gbnf), err);
    if (!g) qerr_wrap(err, "json_schema (compiled to GBNF)");
    free(gbnf);
    return g;
}

/* The texts of before / after without their whitespace: the tags a model writes as added tokens. */
static char *tag_of(const char *s) {
    while (*s == ' ' || *s == '\n') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n')) n--;
    char *t = n ? strndup(s, n) : NULL;
    return t;
}

qwen3_grammar *qwen3_grammar_json_schema_in(const char *schema, size_t len, const char *before, const char *after,
                                            qwen3_err *err) {
    if (!schema || !before || !after) { qerr(err, "grammar: a schema and the texts around it are required"); return NULL; }
    char *gbnf = gr_schema_to_gbnf_in(schema, len, before, after, err);
    if (!gbnf) return NULL;
    qwen3_grammar *g = qwen3_grammar_gbnf(gbnf, strlen(gbnf), err);
    if (!g) qerr_wrap(err, "json_schema (compiled to GBNF)");
    free(gbnf);
    if (g) {
        g->tokens[0] = tag_of(before);
        g->tokens[1] = tag_of(after);
    }
    return g;
}

qwen3_grammar *qwen3_grammar_ref(qwen3_grammar *g) {
    if (g) atomic_fetch_add(&g->refs, 1);
    return g;
}

void qwen3_grammar_free(qwen3_grammar *g) {
    if (!g || atomic_fetch_sub(&g->refs, 1) > 1) return;
    for (uint32_t r = 0; r < g->n_rules; r++) free(g->rules[r].name);
    free(g->rules);
    free(g->el);
    free(g->alt_start);
    free(g->cls);
    free(g->ranges);
    free(g->text);
    free(g->tokens[0]);
    free(g->tokens[1]);
    free(g);
}

const char *qwen3_grammar_text(const qwen3_grammar *g) { return g && g->text ? g->text : ""; }

int qwen3_grammar_match(const qwen3_grammar *g, const char *text, size_t len, qwen3_err *err) {
    gr_matcher m;
    if (gr_matcher_init(&m, g, NULL, err)) return -1;
    int ok = gr_accept_bytes(&m, (const unsigned char *)text, len) == 0 && m.accept && m.u.need == 0;
    if (m.overflow) {
        gr_matcher_free(&m);
        return qerr(err, "grammar: too ambiguous (more than %d stacks alive)", GR_MAX_HEADS);
    }
    gr_matcher_free(&m);
    return ok;
}
