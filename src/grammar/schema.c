/* schema.c - a JSON Schema -> the GBNF of the JSON texts that validate against it.
 *
 * The subset (anything else is refused, naming the keyword and where it is, e.g.
 * "json_schema: 'pattern' at /properties/name is not supported"):
 *   type            "object", "array", "string", "number", "integer", "boolean", "null", or a list
 *                   of them (each alternative keeps the schema's other keywords)
 *   properties      members in the order written; the ones in `required` always, the others may be
 *   required        left out (a generated object never has members the schema does not name, which
 *   additionalProperties   is valid whatever additionalProperties says, so it is accepted and read
 *                   no further)
 *   items, minItems, maxItems
 *   minLength, maxLength   (in code points, as validators count)
 *   enum, const     any JSON values (with `type` beside them, the values of other types are dropped)
 *   anyOf           alternatives
 *   $ref            local references ("#", "#/$defs/Name", "#/definitions/Name", any JSON Pointer
 *                   into the document), recursive ones too; $defs / definitions hold their targets
 *   title, description, default, examples, $schema, $id, $comment: annotations, ignored
 * Without `type`, the keywords tell it (properties -> object, items -> array, ...); a schema with
 * nothing to say (true, {}) is any JSON value.
 *
 * Choices that keep a generation finite and parseable by every JSON reader: whitespace between
 * tokens is at most two newlines and 20 spaces or tabs (llama.cpp's bound); integers have at most 16
 * digits, fractions 16, exponents 2 (so no value overflows a double); \u escapes never name a
 * surrogate (a lone one is not a character; a pair would count as one character against
 * minLength/maxLength); strings hold no raw control characters. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "grammar/grammar.h"

/* The rules every schema may use; `value` is any JSON value. */
#define COMMON_GBNF                                                                                   \
    "ws ::= | \" \" | \"\\n\"{1,2} [ \\t]{0,20}\n"                                                    \
    "string ::= \"\\\"\" char* \"\\\"\"\n"                                                           \
    "char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" hex4)\n"                        \
    "hex4 ::= ([0-9a-cA-Ce-fE-F] [0-9a-fA-F] | [dD] [0-7]) [0-9a-fA-F] [0-9a-fA-F]\n"                 \
    "integer ::= \"-\"? (\"0\" | [1-9] [0-9]{0,15})\n"                                                \
    "number ::= integer (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?\n"                              \
    "boolean ::= \"true\" | \"false\"\n"                                                              \
    "null ::= \"null\"\n"                                                                             \
    "value ::= object | array | string | number | boolean | null\n"                                   \
    "object ::= \"{\" ws ( string ws \":\" ws value ws ( \",\" ws string ws \":\" ws value ws )* )? \"}\"\n" \
    "array ::= \"[\" ws ( value ws ( \",\" ws value ws )* )? \"]\"\n"

const char GR_JSON_OBJECT_GBNF[] = "root ::= ws object ws\n" COMMON_GBNF;

#define MAX_DEPTH 32

typedef struct out {
    sbuf b;           /* the GBNF text */
    int fail;         /* out of memory */
    int n_rules;
    qwen3_err *e;
    int refused;
    const json_t *root;  /* the whole document: local $refs point into it */
    json_t *refs;        /* $ref string -> its rule number (each target compiled once) */
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (sb_vprintf(&o->b, fmt, ap)) o->fail = 1;
    va_end(ap);
}

static int refuse(out *o, const char *path, const char *fmt, const char *what) {
    if (o->refused) return -1;
    o->refused = 1;
    char m[300];
    snprintf(m, sizeof m, fmt, what);
    return qerr(o->e, "json_schema: %s at %s", m, *path ? path : "the top level");
}

/* A GBNF literal of the bytes s[0, n). */
static void put_literal(out *o, const char *s, size_t n) {
    put(o, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') put(o, "\\%c", c);
        else if (c < 0x20 || c == 0x7F) put(o, "\\x%02X", c);
        else put(o, "%c", c);
    }
    put(o, "\"");
}

/* A literal of a JSON value's compact text. */
static int put_json_literal(out *o, const json_t *v) {
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) { o->fail = 1; return -1; }
    put_literal(o, t, strlen(t));
    free(t);
    return 0;
}

/* Keywords that change nothing generated ($defs / definitions only hold what a $ref names). */
static const char *const ANNOTATIONS[] = {"title", "description", "default", "examples", "$schema", "$id", "$comment",
                                          "$defs", "definitions"};
static const char *const KNOWN[] = {"type", "properties", "required", "additionalProperties", "items", "minItems",
                                    "maxItems", "minLength", "maxLength", "enum", "const", "anyOf", "$ref"};

static int in_list(const char *k, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, list[i])) return 1;
    return 0;
}
#define IN(k, L) in_list(k, L, sizeof L / sizeof L[0])

static int gen(out *o, const json_t *s, const char *path, int depth);

/* A non-negative count keyword (absent: def). */
static int count_kw(out *o, const json_t *s, const char *kw, const char *path, long long def, long long *v) {
    const json_t *x = json_object_get(s, kw);
    *v = def;
    if (!x) return 0;
    if (!json_is_integer(x) || json_integer_value(x) < 0)
        return refuse(o, path, "'%s' must be a non-negative integer", kw);
    if (json_integer_value(x) > GR_MAX_REPEAT) return refuse(o, path, "'%s' above 10000 is not supported", kw);
    *v = json_integer_value(x);
    return 0;
}

static int type_matches(const char *t, const json_t *v) {
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "integer")) return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v));
    if (!strcmp(t, "number")) return json_is_number(v);
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    if (!strcmp(t, "null")) return json_is_null(v);
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    return 0;
}

/* One type's rule uN for schema s (whole lines: the rules it needs first). */
static int gen_type(out *o, const json_t *s, const char *t, const char *path, int depth, int me) {
    char sub[512];
    if (!strcmp(t, "string")) {
        long long lo, hi;
        if (count_kw(o, s, "minLength", path, 0, &lo) || count_kw(o, s, "maxLength", path, -1, &hi)) return -1;
        if (hi >= 0 && hi < lo) return refuse(o, path, "maxLength is below minLength%s", "");
        put(o, "u%d ::= ", me);
        if (lo == 0 && hi < 0) put(o, "string");
        else if (hi < 0) put(o, "\"\\\"\" char{%lld,} \"\\\"\"", lo);
        else put(o, "\"\\\"\" char{%lld,%lld} \"\\\"\"", lo, hi);
        put(o, "\n");
        return 0;
    }
    if (!strcmp(t, "integer") || !strcmp(t, "number") || !strcmp(t, "boolean") || !strcmp(t, "null")) {
        put(o, "u%d ::= %s\n", me, t);
        return 0;
    }
    if (!strcmp(t, "array")) {
        long long lo, hi;
        if (count_kw(o, s, "minItems", path, 0, &lo) || count_kw(o, s, "maxItems", path, -1, &hi)) return -1;
        if (hi >= 0 && hi < lo) return refuse(o, path, "maxItems is below minItems%s", "");
        const json_t *items = json_object_get(s, "items");
        if (items && json_is_array(items)) return refuse(o, path, "'items' as a list (tuple form) is not supported; use one schema%s", "");
        char item[64] = "value";
        if (items) {
            snprintf(sub, sizeof sub, "%s/items", path);
            int r = gen(o, items, sub, depth + 1);
            if (r < 0) return -1;
            snprintf(item, sizeof item, "s%d", r);
        }
        put(o, "u%d ::= ", me);
        if (hi == 0) put(o, "\"[\" ws \"]\"");
        else if (lo == 0 && hi < 0) put(o, "\"[\" ws ( %s ws ( \",\" ws %s ws )* )? \"]\"", item, item);
        else if (lo == 0) put(o, "\"[\" ws ( %s ws ( \",\" ws %s ws ){0,%lld} )? \"]\"", item, item, hi - 1);
        else if (hi < 0) put(o, "\"[\" ws %s ws ( \",\" ws %s ws ){%lld,} \"]\"", item, item, lo - 1);
        else put(o, "\"[\" ws %s ws ( \",\" ws %s ws ){%lld,%lld} \"]\"", item, item, lo - 1, hi - 1);
        put(o, "\n");
        return 0;
    }
    if (!strcmp(t, "object")) {
        const json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
        const json_t *ap = json_object_get(s, "additionalProperties");
        if (props && !json_is_object(props)) return refuse(o, path, "'properties' must be an object%s", "");
        if (ap && !json_is_boolean(ap) && !json_is_object(ap)) return refuse(o, path, "'additionalProperties' must be a boolean or a schema%s", "");
        if (req && !json_is_array(req)) return refuse(o, path, "'required' must be a list of names%s", "");
        size_t n = props ? json_object_size(props) : 0;
        for (size_t k = 0; req && k < json_array_size(req); k++) {
            const json_t *r = json_array_get(req, k);
            if (!json_is_string(r)) return refuse(o, path, "'required' must be a list of names%s", "");
            if (!props || !json_object_get(props, json_string_value(r)))
                return refuse(o, path, "'required' names '%s', which is not in 'properties' (not supported)", json_string_value(r));
        }
        if (!n) { put(o, "u%d ::= \"{\" ws \"}\"\n", me); return 0; }
        /* kv_i, then T_i (nothing written yet) and S_i (something written: a comma first) */
        int base = o->n_rules;
        o->n_rules += 3 * (int)n + 2;
        const char *key;
        const json_t *ps;
        size_t i = 0;
        void *it = json_object_iter((json_t *)props);
        /* the members' value rules first, since gen writes whole rules of its own */
        int *vr = malloc(sizeof *vr * n);
        unsigned char *reqd = calloc(n, 1);
        if (!vr || !reqd) { free(vr); free(reqd); o->fail = 1; return -1; }
        for (; it; it = json_object_iter_next((json_t *)props, it), i++) {
            key = json_object_iter_key(it);
            ps = json_object_iter_value(it);
            snprintf(sub, sizeof sub, "%s/properties/%.200s", path, key);
            if ((vr[i] = gen(o, ps, sub, depth + 1)) < 0) { free(vr); free(reqd); return -1; }
            for (size_t k = 0; req && k < json_array_size(req); k++)
                if (!strcmp(json_string_value(json_array_get(req, k)), key)) reqd[i] = 1;
        }
        put(o, "u%d ::= \"{\" ws t%d_0 \"}\"\n", me, base);
        i = 0;
        for (it = json_object_iter((json_t *)props); it; it = json_object_iter_next((json_t *)props, it), i++) {
            key = json_object_iter_key(it);
            json_t *ks = json_string(key);
            if (!ks) { free(vr); free(reqd); o->fail = 1; return -1; }
            put(o, "kv%d_%zu ::= ", base, i);
            put_json_literal(o, ks);
            json_decref(ks);
            put(o, " ws \":\" ws s%d ws\n", vr[i]);
            if (reqd[i]) {
                put(o, "t%d_%zu ::= kv%d_%zu s%d_%zu\n", base, i, base, i, base, i + 1);
                put(o, "s%d_%zu ::= \",\" ws kv%d_%zu s%d_%zu\n", base, i, base, i, base, i + 1);
            } else {
                put(o, "t%d_%zu ::= kv%d_%zu s%d_%zu | t%d_%zu\n", base, i, base, i, base, i + 1, base, i + 1);
                put(o, "s%d_%zu ::= \",\" ws kv%d_%zu s%d_%zu | s%d_%zu\n", base, i, base, i, base, i + 1, base, i + 1);
            }
        }
        put(o, "t%d_%zu ::= \"\"\n", base, n);
        put(o, "s%d_%zu ::= \"\"\n", base, n);
        free(vr);
        free(reqd);
        return 0;
    }
    return refuse(o, path, "type '%s' is not a JSON Schema type", t);
}

/* Writes the rule sN for schema s and returns N (or -1). */
static int gen_as(out *o, const json_t *s, const char *path, int depth, int me);

static int gen(out *o, const json_t *s, const char *path, int depth) {
    if (depth > MAX_DEPTH) return refuse(o, path, "schemas nested deeper than %s are not supported", "32");
    return gen_as(o, s, path, depth, o->n_rules++);
}

/* A local reference "#" or "#/a/b/0" (JSON Pointer, ~0 and ~1 unescaped) -> its rule: compiled the
 * first time into a rule of its own, so a schema may refer to itself (recursion is a rule that
 * names itself; an object or array starts with a bracket, so it is never left recursion). */
static int gen_ref(out *o, const char *ref, const char *path, int depth) {
    json_t *known = json_object_get(o->refs, ref);
    if (known) return (int)json_integer_value(known);
    if (ref[0] != '#') return refuse(o, path, "'$ref' \"%.200s\" is not a local reference (only \"#...\" is supported)", ref);
    const json_t *t = o->root;
    const char *p = ref + 1;
    while (*p) {
        if (*p != '/') return refuse(o, path, "'$ref' \"%.200s\" is not a JSON Pointer", ref);
        p++;
        char tok[256];
        size_t n = 0;
        for (; *p && *p != '/'; p++) {
            char c = *p;
            if (c == '~' && (p[1] == '0' || p[1] == '1')) c = *++p == '0' ? '~' : '/';
            if (n + 1 < sizeof tok) tok[n++] = c;
        }
        tok[n] = 0;
        const json_t *next = NULL;
        if (json_is_object(t)) next = json_object_get(t, tok);
        else if (json_is_array(t)) {
            char *end;
            long i = strtol(tok, &end, 10);
            if (!*end && n && i >= 0) next = json_array_get(t, (size_t)i);
        }
        if (!next) return refuse(o, path, "'$ref' \"%.200s\" points at nothing in the schema", ref);
        t = next;
    }
    if (depth > MAX_DEPTH) return refuse(o, path, "schemas nested deeper than %s are not supported", "32");
    int me = o->n_rules++;
    if (json_object_set_new(o->refs, ref, json_integer(me))) { o->fail = 1; return -1; }
    char sub[512];
    snprintf(sub, sizeof sub, "%.500s", ref);
    return gen_as(o, t, sub, depth + 1, me);
}

static int gen_as(out *o, const json_t *s, const char *path, int depth, int me) {
    char sub[512];
    if (json_is_true(s)) { put(o, "s%d ::= value\n", me); return me; }
    if (json_is_false(s)) return refuse(o, path, "the schema false (nothing validates) cannot be generated%s", "");
    if (!json_is_object(s)) return refuse(o, path, "a schema must be an object or a boolean%s", "");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        if (IN(k, ANNOTATIONS) || IN(k, KNOWN)) continue;
        return refuse(o, path, "'%s' is not supported", k);
    }
    const json_t *ref = json_object_get(s, "$ref");
    if (ref) {
        json_object_foreach((json_t *)s, k, v)
            if (!IN(k, ANNOTATIONS) && strcmp(k, "$ref"))
                return refuse(o, path, "'%s' beside '$ref' is not supported", k);
        if (!json_is_string(ref)) return refuse(o, path, "'$ref' must be a string%s", "");
        snprintf(sub, sizeof sub, "%s/$ref", path);
        int r = gen_ref(o, json_string_value(ref), sub, depth);
        if (r < 0) return -1;
        put(o, "s%d ::= s%d\n", me, r);
        return me;
    }
    const json_t *type = json_object_get(s, "type"), *en = json_object_get(s, "enum"), *cn = json_object_get(s, "const");
    const json_t *any = json_object_get(s, "anyOf");
    /* the types allowed */
    const char *types[8];
    int nt = 0;
    if (type) {
        if (json_is_string(type)) types[nt++] = json_string_value(type);
        else if (json_is_array(type) && json_array_size(type) >= 1 && json_array_size(type) <= 7) {
            for (size_t i = 0; i < json_array_size(type); i++) {
                if (!json_is_string(json_array_get(type, i))) return refuse(o, path, "'type' must be a string or a list of strings%s", "");
                types[nt++] = json_string_value(json_array_get(type, i));
            }
        } else return refuse(o, path, "'type' must be a string or a list of 1 to 7 strings%s", "");
        static const char *const TYPES[] = {"string", "integer", "number", "boolean", "null", "object", "array"};
        for (int i = 0; i < nt; i++)
            if (!IN(types[i], TYPES)) return refuse(o, path, "type '%s' is not a JSON Schema type", types[i]);
    }
    if (en || cn) {
        if (en && cn) return refuse(o, path, "'enum' together with 'const' is not supported%s", "");
        json_object_foreach((json_t *)s, k, v)
            if (!IN(k, ANNOTATIONS) && strcmp(k, "type") && strcmp(k, "enum") && strcmp(k, "const"))
                return refuse(o, path, "'%s' beside 'enum' or 'const' is not supported", k);
        if (en && !json_is_array(en)) return refuse(o, path, "'enum' must be a list%s", "");
        size_t n = en ? json_array_size(en) : 1;
        int written = 0;
        put(o, "s%d ::= ", me);
        for (size_t i = 0; i < n; i++) {
            const json_t *x = en ? json_array_get(en, i) : cn;
            int ok = !nt;
            for (int t = 0; t < nt && !ok; t++) ok = type_matches(types[t], x);
            if (!ok) continue;
            if (written++) put(o, " | ");
            if (put_json_literal(o, x)) return -1;
        }
        if (!written) return refuse(o, path, "no value of 'enum' / 'const' has the schema's type%s", "");
        put(o, "\n");
        return me;
    }
    if (any) {
        json_object_foreach((json_t *)s, k, v)
            if (!IN(k, ANNOTATIONS) && strcmp(k, "anyOf"))
                return refuse(o, path, "'%s' beside 'anyOf' is not supported (move it into each alternative)", k);
        if (!json_is_array(any) || !json_array_size(any)) return refuse(o, path, "'anyOf' must be a non-empty list%s", "");
        size_t n = json_array_size(any);
        int *alts = malloc(sizeof *alts * n);
        if (!alts) { o->fail = 1; return -1; }
        for (size_t i = 0; i < n; i++) {
            snprintf(sub, sizeof sub, "%s/anyOf/%zu", path, i);
            if ((alts[i] = gen(o, json_array_get(any, i), sub, depth + 1)) < 0) { free(alts); return -1; }
        }
        put(o, "s%d ::= ", me);
        for (size_t i = 0; i < n; i++) put(o, "%ss%d", i ? " | " : "", alts[i]);
        put(o, "\n");
        free(alts);
        return me;
    }
    if (!nt) { /* the keywords tell the type */
        if (json_object_get(s, "properties") || json_object_get(s, "required") || json_object_get(s, "additionalProperties"))
            types[nt++] = "object";
        else if (json_object_get(s, "items") || json_object_get(s, "minItems") || json_object_get(s, "maxItems"))
            types[nt++] = "array";
        else if (json_object_get(s, "minLength") || json_object_get(s, "maxLength"))
            types[nt++] = "string";
        else { put(o, "s%d ::= value\n", me); return me; }
    }
    /* each type's body is a rule of its own (an object writes helper rules while it is generated) */
    int first = o->n_rules;
    o->n_rules += nt;
    for (int i = 0; i < nt; i++)
        if (gen_type(o, s, types[i], path, depth, first + i)) return -1;
    put(o, "s%d ::= ", me);
    for (int i = 0; i < nt; i++) put(o, "%su%d", i ? " | " : "", first + i);
    put(o, "\n");
    return me;
}

char *gr_schema_to_gbnf(const char *schema, size_t len, qwen3_err *e) { return gr_schema_to_gbnf_in(schema, len, NULL, NULL, e); }

char *gr_schema_to_gbnf_in(const char *schema, size_t len, const char *before, const char *after, qwen3_err *e) {
    json_error_t je;
    json_t *s = json_loadb(schema, len, JSON_DECODE_ANY, &je);
    if (!s) {
        qerr(e, "json_schema: not valid JSON (line %d, column %d: %s)", je.line, je.column, je.text);
        return NULL;
    }
    out o = {0};
    o.e = e;
    o.root = s;
    o.refs = json_object();
    int r = o.refs ? gen(&o, s, "", 0) : (o.fail = 1, -1);
    json_decref(o.refs);
    json_decref(s);
    if (r >= 0 && !before) put(&o, "root ::= ws s%d ws\n" COMMON_GBNF, r);
    if (r >= 0 && before) { /* the JSON text between two literal texts, no space around it */
        put(&o, "root ::= ");
        put_literal(&o, before, strlen(before));
        put(&o, " s%d ", r);
        put_literal(&o, after, strlen(after));
        put(&o, "\n" COMMON_GBNF);
    }
    if (r < 0 || o.fail) {
        if (o.fail && !o.refused) qerr(e, "json_schema: out of memory");
        sb_free(&o.b);
        return NULL;
    }
    return sb_take(&o.b, NULL);
}
