/* pyjson.c - Python json.dumps(ensure_ascii=False) output for jansson values; see pyjson.h. */
#include "chat/pyjson.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"

void pyjson_string(sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    sb_putc(b, '"');
    size_t run = 0; /* start of the bytes not yet copied: copy plain runs in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = 0;
            esc = u;
        }
        if (!esc) continue;
        sb_put(b, s + run, i - run);
        sb_puts(b, esc);
        run = i + 1;
    }
    sb_put(b, s + run, n - run);
    sb_putc(b, '"');
}

int pyjson_repr_double(double x, char *out, size_t cap) {
    if (isnan(x)) return snprintf(out, cap, "NaN");
    if (isinf(x)) return snprintf(out, cap, x < 0 ? "-Infinity" : "Infinity");
    if (x == 0) return snprintf(out, cap, signbit(x) ? "-0.0" : "0.0");
    /* Shortest round-trip digits, as Python's repr (David Gay's shortest mode) picks them: for each
     * precision, glibc's correctly rounded %.*e gives the nearest decimal; at a power of two the
     * rounding interval is lopsided and the nearest can miss it while its neighbour in the last
     * digit reads back as x, so try the neighbours too before adding a digit. */
    int neg = signbit(x) != 0;
    double a = fabs(x);
    char e[48], digits[24];
    unsigned long long mant = 0;
    int exp10 = 0, prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, a);
        char *ep = strchr(e, 'e');
        exp10 = atoi(ep + 1);
        mant = 0;
        for (const char *q = e; q < ep; q++)
            if (*q != '.') mant = mant * 10 + (unsigned long long)(*q - '0');
        if (strtod(e, NULL) == a) break;
        int hit = 0;
        for (int d = 1; d >= -1 && !hit; d -= 2) {
            unsigned long long m2 = mant + (unsigned long long)(long long)d;
            if (m2 == 0) continue;
            snprintf(e, sizeof e, "%llue%d", m2, exp10 - (prec - 1));
            if (strtod(e, NULL) == a) { mant = m2; hit = 1; }
        }
        if (hit) break;
    }
    int nd = snprintf(digits, sizeof digits, "%llu", mant);
    int decpt = exp10 + 1 + (nd - prec); /* a = 0.d1d2... * 10^decpt (nd > prec after a carry) */
    exp10 = decpt - 1;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    char buf[64];
    int k = 0;
    if (neg) buf[k++] = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            buf[k++] = '0';
            buf[k++] = '.';
            for (int i = 0; i < -decpt; i++) buf[k++] = '0';
            for (int i = 0; i < nd; i++) buf[k++] = digits[i];
        } else if (decpt >= nd) {
            for (int i = 0; i < nd; i++) buf[k++] = digits[i];
            for (int i = nd; i < decpt; i++) buf[k++] = '0';
            buf[k++] = '.';
            buf[k++] = '0';
        } else {
            for (int i = 0; i < decpt; i++) buf[k++] = digits[i];
            buf[k++] = '.';
            for (int i = decpt; i < nd; i++) buf[k++] = digits[i];
        }
        buf[k] = 0;
    } else {
        buf[k++] = digits[0];
        if (nd > 1) {
            buf[k++] = '.';
            for (int i = 1; i < nd; i++) buf[k++] = digits[i];
        }
        snprintf(buf + k, sizeof buf - (size_t)k, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
    return snprintf(out, cap, "%s", buf);
}

void pyjson_dump(sbuf *b, const json_t *v) {
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        sb_putc(b, '{');
        /* json_object_foreach wants a non-const object; iteration does not modify it */
        json_object_foreach((json_t *)v, key, val) {
            if (!first) sb_put(b, ", ", 2);
            first = 0;
            pyjson_string(b, key, strlen(key));
            sb_put(b, ": ", 2);
            pyjson_dump(b, val);
        }
        sb_putc(b, '}');
        break;
    }
    case JSON_ARRAY: {
        sb_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) sb_put(b, ", ", 2);
            pyjson_dump(b, json_array_get(v, i));
        }
        sb_putc(b, ']');
        break;
    }
    case JSON_STRING:
        pyjson_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sb_puts(b, num);
        break;
    case JSON_REAL:
        pyjson_repr_double(json_real_value(v), num, sizeof num);
        sb_puts(b, num);
        break;
    case JSON_TRUE: sb_puts(b, "true"); break;
    case JSON_FALSE: sb_puts(b, "false"); break;
    case JSON_NULL: sb_puts(b, "null"); break;
    }
}

char *qwen3_json_string(const char *text, size_t n, size_t *len) {
    sbuf b = {0};
    pyjson_string(&b, text, n);
    return sb_take(&b, len);
}
