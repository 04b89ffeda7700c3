/* jscan.c - the JSON pull scanner (see jscan.h). */
#include "tokenizer/jscan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "tokenizer/tok.h"

#define MAX_DEPTH 256

void js_init(jscan *j, const char *file, const char *buf, size_t n, qwen3_err *err) {
    j->base = j->p = buf;
    j->end = buf + n;
    j->file = file;
    j->err = err;
    j->depth = 0;
}

int js_fail(jscan *j, const char *fmt, ...) {
    int line = 1;
    const char *ls = j->base;
    for (const char *q = j->base; q < j->p && q < j->end; q++)
        if (*q == '\n') { line++; ls = q + 1; }
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return qerr(j->err, "%s line %d column %d: %s", j->file, line, (int)(j->p - ls) + 1, what);
}

static void ws(jscan *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

int js_peek(jscan *j) {
    ws(j);
    return j->p < j->end ? (unsigned char)*j->p : -1;
}

int js_expect(jscan *j, char c, const char *what) {
    ws(j);
    if (j->p >= j->end) return js_fail(j, "unexpected end of file, expected %s", what);
    if (*j->p != c) return js_fail(j, "expected %s, found '%c'", what, *j->p);
    j->p++;
    return 0;
}

static int hex4(jscan *j, unsigned *v) {
    if (j->end - j->p < 4) return js_fail(j, "\\u needs four hex digits");
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        char c = j->p[k];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (unsigned)(c - 'A' + 10);
        else return js_fail(j, "\\u needs four hex digits");
    }
    j->p += 4;
    *v = x;
    return 0;
}

int js_string(jscan *j, char **buf, size_t *cap, size_t *len) {
    if (js_expect(j, '"', "a string")) return -1;
    size_t o = 0;
    for (;;) {
        /* copy the plain stretch up to the next quote, backslash or control byte */
        const char *q = j->p;
        while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
        size_t n = (size_t)(q - j->p);
        if (arr_grow(buf, cap, o + n + 8, 1)) return js_fail(j, "out of memory");
        if (n && tk_utf8_check((const unsigned char *)j->p, n) != n) {
            j->p += tk_utf8_check((const unsigned char *)j->p, n);
            return js_fail(j, "invalid UTF-8 in a string");
        }
        memcpy(*buf + o, j->p, n);
        o += n;
        j->p = q;
        if (q >= j->end) return js_fail(j, "unterminated string");
        if (*q == '"') {
            j->p++;
            (*buf)[o] = 0;
            *len = o;
            return 0;
        }
        if ((unsigned char)*q < 0x20) return js_fail(j, "control character in a string");
        j->p++; /* backslash */
        if (j->p >= j->end) return js_fail(j, "unterminated string");
        char e = *j->p++;
        unsigned cp;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (hex4(j, &cp)) return -1;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return js_fail(j, "lone low surrogate \\u%04X", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                    return js_fail(j, "high surrogate \\u%04X without its low half", cp);
                j->p += 2;
                if (hex4(j, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF) return js_fail(j, "high surrogate \\u%04X without its low half", cp);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            break;
        default:
            j->p--;
            return js_fail(j, "unknown escape \\%c", e);
        }
        o += (size_t)tk_utf8_put(cp, (unsigned char *)*buf + o);
    }
}

int js_int(jscan *j, long long *v) {
    ws(j);
    const char *q = j->p;
    int neg = 0;
    if (q < j->end && *q == '-') { neg = 1; q++; }
    if (q >= j->end || *q < '0' || *q > '9') return js_fail(j, "expected an integer");
    long long x = 0;
    while (q < j->end && *q >= '0' && *q <= '9') {
        if (x > (9223372036854775807LL - 9) / 10) return js_fail(j, "integer too large");
        x = x * 10 + (*q++ - '0');
    }
    if (q < j->end && (*q == '.' || *q == 'e' || *q == 'E')) return js_fail(j, "expected an integer, found a fraction");
    j->p = q;
    *v = neg ? -x : x;
    return 0;
}

static int number(jscan *j) {
    const char *q = j->p;
    if (q < j->end && *q == '-') q++;
    if (q >= j->end || *q < '0' || *q > '9') return js_fail(j, "expected a value");
    if (*q == '0') q++;
    else while (q < j->end && *q >= '0' && *q <= '9') q++;
    if (q < j->end && *q == '.') {
        q++;
        if (q >= j->end || *q < '0' || *q > '9') { j->p = q; return js_fail(j, "bad number"); }
        while (q < j->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < j->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < j->end && (*q == '+' || *q == '-')) q++;
        if (q >= j->end || *q < '0' || *q > '9') { j->p = q; return js_fail(j, "bad number"); }
        while (q < j->end && *q >= '0' && *q <= '9') q++;
    }
    j->p = q;
    return 0;
}

static int word(jscan *j, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n)) return js_fail(j, "expected a value");
    j->p += n;
    return 0;
}

int js_more(jscan *j, char close) {
    int c = js_peek(j);
    if (c == ',') { j->p++; return 1; }
    if (c == close) { j->p++; return 0; }
    if (c < 0) return js_fail(j, "unexpected end of file, expected ',' or '%c'", close);
    return js_fail(j, "expected ',' or '%c', found '%c'", close, c);
}

int js_skip(jscan *j) {
    int c = js_peek(j);
    char *tmp = NULL;
    size_t cap = 0, len;
    int r = 0;
    switch (c) {
    case '"':
        r = js_string(j, &tmp, &cap, &len);
        break;
    case '{': case '[':
        if (++j->depth > MAX_DEPTH) return js_fail(j, "nesting deeper than %d", MAX_DEPTH);
        j->p++;
        if (js_peek(j) == (c == '{' ? '}' : ']')) { j->p++; break; }
        for (;;) {
            if (c == '{') {
                if (js_string(j, &tmp, &cap, &len) || js_expect(j, ':', "':'")) { r = -1; break; }
            }
            if (js_skip(j)) { r = -1; break; }
            int m = js_more(j, c == '{' ? '}' : ']');
            if (m <= 0) { r = m; break; }
        }
        j->depth--;
        break;
    case 't': r = word(j, "true"); break;
    case 'f': r = word(j, "false"); break;
    case 'n': r = word(j, "null"); break;
    case -1: r = js_fail(j, "unexpected end of file, expected a value"); break;
    default: r = number(j); break;
    }
    free(tmp);
    return r;
}
