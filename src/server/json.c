/* json.c - OpenAI-style error bodies and typed request-field getters (see json.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/json.h"

static const char *default_type(int status) {
    switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 500: return "server_error";
    case 503: return "server_unavailable";
    default: return "invalid_request_error";
    }
}

static int vfail(srv_error *e, int status, const char *type, const char *param, const char *code, const char *fmt,
                 va_list ap) {
    e->status = status;
    e->type = type ? type : default_type(status);
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    return -1;
}

int srv_fail(srv_error *e, int status, const char *param, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(e, status, NULL, param, code, fmt, ap);
    va_end(ap);
    return -1;
}

int srv_bad(srv_error *e, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(e, 400, NULL, param, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

char *srv_error_body(const srv_error *e, size_t *len) {
    json_t *o = json_object();
    json_t *in = json_object();
    json_object_set_new(in, "message", jx_string(e->message, strlen(e->message)));
    json_object_set_new(in, "type", json_string(e->type ? e->type : default_type(e->status)));
    json_object_set_new(in, "param", e->param[0] ? jx_string(e->param, strlen(e->param)) : json_null());
    json_object_set_new(in, "code", e->code[0] ? json_string(e->code) : json_null());
    json_object_set_new(o, "error", in);
    char *s = jx_dump(o, len);
    json_decref(o);
    return s;
}

const char *jx_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* The field's value, NULL when absent or null. */
static json_t *field(json_t *obj, const char *key) {
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    return v && !json_is_null(v) ? v : NULL;
}

int jx_bool(json_t *obj, const char *key, int *out, srv_error *e) {
    json_t *v = field(obj, key);
    if (!v) return 0;
    if (!json_is_boolean(v)) return srv_bad(e, key, "'%s' must be a boolean, got %s", key, jx_type_name(v));
    *out = json_is_true(v);
    return 1;
}

int jx_int(json_t *obj, const char *key, long long lo, long long hi, long long *out, srv_error *e) {
    json_t *v = field(obj, key);
    if (!v) return 0;
    long long x;
    if (json_is_integer(v)) x = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e15)
        x = (long long)json_real_value(v); /* 5.0 is an integer to JavaScript clients */
    else return srv_bad(e, key, "'%s' must be an integer, got %s", key, jx_type_name(v));
    if (x < lo || x > hi) return srv_bad(e, key, "'%s' must be in [%lld, %lld], got %lld", key, lo, hi, x);
    *out = x;
    return 1;
}

int jx_num(json_t *obj, const char *key, double lo, double hi, double *out, srv_error *e) {
    json_t *v = field(obj, key);
    if (!v) return 0;
    if (!json_is_number(v)) return srv_bad(e, key, "'%s' must be a number, got %s", key, jx_type_name(v));
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return srv_bad(e, key, "'%s' must be in [%g, %g], got %g", key, lo, hi, x);
    *out = x;
    return 1;
}

int jx_str(json_t *obj, const char *key, const char **out, srv_error *e) {
    json_t *v = field(obj, key);
    if (!v) return 0;
    if (!json_is_string(v)) return srv_bad(e, key, "'%s' must be a string, got %s", key, jx_type_name(v));
    *out = json_string_value(v);
    return 1;
}

int jx_obj(json_t *obj, const char *key, json_t **out, srv_error *e) {
    json_t *v = field(obj, key);
    if (!v) return 0;
    if (!json_is_object(v)) return srv_bad(e, key, "'%s' must be an object, got %s", key, jx_type_name(v));
    *out = v;
    return 1;
}

int jx_arr(json_t *obj, const char *key, json_t **out, srv_error *e) {
    json_t *v = field(obj, key);
    if (!v) return 0;
    if (!json_is_array(v)) return srv_bad(e, key, "'%s' must be an array, got %s", key, jx_type_name(v));
    *out = v;
    return 1;
}

/* Length of the valid UTF-8 character at p (1..4), or 0 when the bytes there are not one. */
static size_t utf8_char(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t k;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) k = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, min = 0x10000;
    else return 0;
    if (n < k) return 0;
    unsigned cp = c & (0x7F >> k);
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

json_t *jx_string(const char *s, size_t n) {
    json_t *v = json_stringn(s, n);
    if (v || !s) return v;
    /* invalid UTF-8 (or a NUL byte jansson refuses): rebuild with U+FFFD for each bad byte */
    char *b = malloc(n * 3 + 1);
    if (!b) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = s[i] ? utf8_char((const unsigned char *)s + i, n - i) : 0;
        if (k) { memcpy(b + o, s + i, k); o += k; i += k; }
        else { memcpy(b + o, "\xEF\xBF\xBD", 3); o += 3; i++; }
    }
    v = json_stringn(b, o);
    free(b);
    return v;
}

char *jx_dump(const json_t *v, size_t *len) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s && len) *len = strlen(s);
    return s;
}
