/* test_grammar.c - constrained decoding's parts:
 *   gbnf_*     the GBNF parser and recogniser on sentences that must and must not match (repetition
 *              counts, classes, negation, UTF-8 and its partial characters, escapes, nesting)
 *   gbnf_err_* grammars refused, each with its message (left recursion, undefined rule, ...)
 *   schema_*   JSON Schema -> grammar: documents that validate match, ones that do not are refused
 *              (local and recursive $refs included)
 *              (these cases are also run through Python's jsonschema in tests/suite/structured.sh by
 *              generation); keywords outside the subset refused by name and path
 *   mask_*     the token mask (sorted vocabulary, shared prefixes, cache) equals the brute force
 *              answer (each token's bytes run through the recogniser alone) over the real Qwen3
 *              vocabulary, in states inside strings, between members, mid-character, at the end
 * Uses the real Qwen3 tokenizer ($QWEN3_TOKENIZER). */
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"
#include "test.h"

static int match(const qwen3_grammar *g, const char *s) {
    qwen3_err e = {0};
    return qwen3_grammar_match(g, s, strlen(s), &e);
}

/* Every yes[] matches and no no[] does. */
static void sentences(const char *name, const char *gbnf, const char *const *yes, const char *const *no) {
    qwen3_err e = {0};
    qwen3_grammar *g = qwen3_grammar_gbnf(gbnf, strlen(gbnf), &e);
    char why[1200] = "";
    if (!g) snprintf(why, sizeof why, "compile: %s", e.msg);
    for (int i = 0; g && yes[i] && !why[0]; i++)
        if (match(g, yes[i]) != 1) snprintf(why, sizeof why, "should match: '%s'", yes[i]);
    for (int i = 0; g && no[i] && !why[0]; i++)
        if (match(g, no[i]) != 0) snprintf(why, sizeof why, "should not match: '%s'", no[i]);
    CHECK(!why[0], name, "%s", why);
    qwen3_grammar_free(g);
}

static void refused(const char *name, const char *gbnf, const char *words) {
    qwen3_err e = {0};
    qwen3_grammar *g = qwen3_grammar_gbnf(gbnf, strlen(gbnf), &e);
    CHECK(!g && strstr(e.msg, words), name, "got %s '%s'", g ? "a grammar" : "the error", e.msg);
    qwen3_grammar_free(g);
}

static void schema_case(const char *name, const char *schema, const char *const *yes, const char *const *no) {
    qwen3_err e = {0};
    qwen3_grammar *g = qwen3_grammar_json_schema(schema, strlen(schema), &e);
    char why[1200] = "";
    if (!g) snprintf(why, sizeof why, "compile: %s", e.msg);
    for (int i = 0; g && yes[i] && !why[0]; i++)
        if (match(g, yes[i]) != 1) snprintf(why, sizeof why, "should match: '%s'", yes[i]);
    for (int i = 0; g && no[i] && !why[0]; i++)
        if (match(g, no[i]) != 0) snprintf(why, sizeof why, "should not match: '%s'", no[i]);
    CHECK(!why[0], name, "%s", why);
    qwen3_grammar_free(g);
}

static void schema_refused(const char *name, const char *schema, const char *words) {
    qwen3_err e = {0};
    qwen3_grammar *g = qwen3_grammar_json_schema(schema, strlen(schema), &e);
    CHECK(!g && strstr(e.msg, words), name, "got %s '%s'", g ? "a grammar" : "the error", e.msg);
    qwen3_grammar_free(g);
}

/* The mask in the state after `prefix` against each token run alone; also a second call (cached). */
static void mask_case(const char *name, const qwen3_grammar *g, const gr_vocab *v, const char *prefix) {
    gr_matcher m;
    qwen3_err e = {0};
    char why[300] = "";
    if (gr_matcher_init(&m, g, v, &e)) { CHECK(0, name, "init: %s", e.msg); return; }
    if (gr_accept_bytes(&m, (const unsigned char *)prefix, strlen(prefix))) snprintf(why, sizeof why, "prefix refused");
    int allowed = 0;
    for (int pass = 0; pass < 2 && !why[0]; pass++) {
        const uint64_t *bits = gr_mask(&m);
        if (!bits) { snprintf(why, sizeof why, "no mask"); break; }
        allowed = 0;
        for (int i = 0; i < v->n && !why[0]; i++) {
            int32_t id = v->ids[i];
            int got = (int)((bits[id >> 6] >> (id & 63)) & 1);
            int want = gr_can_accept(&m, v->bytes[i], v->len[i]);
            allowed += got;
            if (got != want)
                snprintf(why, sizeof why, "pass %d: token %d ('%.*s') mask %d, alone %d", pass, id, (int)v->len[i],
                         (const char *)v->bytes[i], got, want);
        }
    }
    CHECK(!why[0], name, "%s", why);
    if (!why[0]) printf("  %s: %d of %d tokens allowed\n", name, allowed, v->n);
    gr_matcher_free(&m);
}

int main(void) {
    TEST_EXPECT(28);
    sentences("gbnf_literals_alternatives", "root ::= \"ab\" | \"c\" d\nd ::= \"x\"  # comment\n",
              (const char *[]){"ab", "cx", NULL}, (const char *[]){"", "a", "abx", "c", "cxx", NULL});
    sentences("gbnf_repetition", "root ::= \"a\"{2,3} [0-9]* \"b\"+ \"c\"? (\"d\" \"e\"){1,}\n",
              (const char *[]){"aabde", "aaa123bbcdede", "aa0bcde", NULL},
              (const char *[]){"abde", "aaaabde", "aab", "aabcd", "aabcdde", NULL});
    sentences("gbnf_classes", "root ::= [^a-c\\n] [\\x41-\\x43] . [é-ê]\n",
              (const char *[]){"dAzé", "\xe4\xb8\xad" "Cxê", "zB\xf0\x9f\x98\x80" "é", NULL},
              (const char *[]){"aAzé", "\nAzé", "dDzé", "dAzè", "dAé", NULL});
    sentences("gbnf_multiline_nested", "root ::= (\n  x\n  | \"(\" root \")\"\n)\nx ::= \"x\"\n",
              (const char *[]){"x", "((x))", NULL}, (const char *[]){"(x", "(())", NULL});
    sentences("gbnf_utf8_strict", "root ::= .*\n", (const char *[]){"", "a\xc3\xa9\xf4\x8f\xbf\xbf", NULL},
              (const char *[]){"\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\xff", NULL});
    sentences("gbnf_escapes", "root ::= \"\\\"\\\\\\n\\t\\x7e\\u00e9\" [\\]\\-]\n",
              (const char *[]){"\"\\\n\t~\xc3\xa9]", "\"\\\n\t~\xc3\xa9-", NULL}, (const char *[]){"\"\\\n\t~\xc3\xa9x", NULL});
    refused("gbnf_err_left_recursion", "root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"z\"\n", "left recursion");
    refused("gbnf_err_undefined", "root ::= foo\n", "'foo' is used but never defined");
    refused("gbnf_err_no_root", "a ::= \"x\"\n", "no rule 'root'");
    refused("gbnf_err_twice", "root ::= \"x\"\nroot ::= \"y\"\n", "defined twice");
    refused("gbnf_err_unterminated", "root ::= \"x\n", "unterminated literal");
    refused("gbnf_err_repeat_count", "root ::= \"x\"{3,2}\n", "n < m");

    schema_case("schema_object",
                "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\",\"maxLength\":2},"
                "\"c\":{\"type\":\"boolean\"}},\"required\":[\"a\"]}",
                (const char *[]){"{\"a\":1}", " {\n  \"a\": -20, \"b\": \"\\u00e9x\", \"c\": true }", "{\"a\":0,\"c\":false}", NULL},
                (const char *[]){"{}", "{\"b\":\"x\"}", "{\"a\":01}", "{\"a\":1,\"b\":\"xyz\"}", "{\"a\":1,}", "{\"a\":1.5}",
                                 "{\"c\":true,\"a\":1}", NULL});
    schema_case("schema_array_enum_const",
                "{\"type\":\"array\",\"items\":{\"enum\":[\"x\",2,null,[1]]},\"minItems\":1,\"maxItems\":2}",
                (const char *[]){"[\"x\"]", "[2, null]", "[[1],\"x\"]", NULL},
                (const char *[]){"[]", "[\"y\"]", "[2,2,2]", "[3]", NULL});
    schema_case("schema_anyof_types", "{\"anyOf\":[{\"type\":[\"number\",\"null\"]},{\"const\":\"k\"}]}",
                (const char *[]){"1.5e-3", "null", "\"k\"", "-0", NULL}, (const char *[]){"\"j\"", "true", "1.", ".5", "01", NULL});
    schema_case("schema_strings", "{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}",
                (const char *[]){"\"ab\"", "\"\\n\\\"c\"", "\"\xe4\xb8\xad\xe6\x96\x87\"", NULL},
                (const char *[]){"\"a\"", "\"abcd\"", "\"a\nb\"", "\"\\ud800x\"", "\"\\q1\"", NULL});
    schema_refused("schema_refuse_pattern", "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"pattern\":\"a\"}}}",
                   "'pattern' is not supported at /properties/s");
    schema_case("schema_refs",
                "{\"type\":\"object\",\"properties\":{\"owner\":{\"$ref\":\"#/$defs/Person\"},\"tree\":{\"$ref\":\"#/$defs/Node\"}},"
                "\"required\":[\"owner\",\"tree\"],\"$defs\":{\"Person\":{\"title\":\"P\",\"type\":\"object\",\"properties\":"
                "{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]},\"Node\":{\"type\":\"object\",\"properties\":"
                "{\"v\":{\"type\":\"integer\"},\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/Node\"}}},"
                "\"required\":[\"v\"]}}}",
                (const char *[]){"{\"owner\":{\"name\":\"a\"},\"tree\":{\"v\":1}}",
                                 "{\"owner\":{\"name\":\"\"},\"tree\":{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3}]},{\"v\":4}]}}", NULL},
                (const char *[]){"{\"owner\":{},\"tree\":{\"v\":1}}", "{\"owner\":{\"name\":\"a\"},\"tree\":{\"v\":1,\"kids\":[{}]}}", NULL});
    schema_refused("schema_refuse_ref", "{\"$ref\":\"https://example.com/s.json\"}", "not a local reference");
    schema_refused("schema_refuse_required_unknown", "{\"type\":\"object\",\"required\":[\"z\"]}", "'z'");
    schema_refused("schema_refuse_bad_json", "{\"type\":", "not valid JSON");
    qwen3_grammar *jo = qwen3_grammar_json_schema(NULL, 0, NULL);
    CHECK(jo && match(jo, " {\"a\": [1, {\"b\": null}]}") == 1 && match(jo, "[]") == 0, "schema_json_object",
          "json_object grammar");
    qwen3_grammar_free(jo);

    /* masks over the real vocabulary */
    const char *dir = getenv("QWEN3_TOKENIZER");
    qwen3_err e = {0};
    qwen3_tokenizer *tok = dir ? qwen3_tokenizer_load(dir, &e) : NULL;
    const gr_vocab *v = tok ? gr_vocab_get(tok, &e) : NULL;
    const char *sch = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":5},"
                      "\"n\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},\"e\":{\"enum\":[\"\xe4\xb8\xad\",\"x\"]}},"
                      "\"required\":[\"name\"]}";
    qwen3_grammar *g = qwen3_grammar_json_schema(sch, strlen(sch), &e);
    if (!v || !g) {
        for (int k = 0; k < 6; k++) CHECK(0, "mask_setup", "%s", e.msg);
    } else {
        mask_case("mask_start", g, v, "");
        mask_case("mask_in_string", g, v, "{\"name\":\"ab");
        mask_case("mask_after_member", g, v, "{\"name\":\"ab\" ");
        mask_case("mask_in_number", g, v, "{\"name\":\"\",\"n\":[12");
        mask_case("mask_mid_character", g, v, "{\"name\":\"\",\"e\":\"\xe4");
        mask_case("mask_done", g, v, "{\"name\":\"\"}\n");
    }
    qwen3_grammar_free(g);
    qwen3_tokenizer_free(tok);
    return test_exit();
}
