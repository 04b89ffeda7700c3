/* json.h - the server's JSON helpers (over jansson): OpenAI-style errors and typed field access.
 *
 * Every request field goes through one of the jx_* getters, so a wrong type is always a 400 whose
 * "param" names the field and whose message says what was expected and what came. JSON null counts
 * as "not set" everywhere (SDKs send null for unset optional fields). */
#ifndef QWEN3_SERVER_JSON_H
#define QWEN3_SERVER_JSON_H

#include <jansson.h>
#include <stddef.h>

/* An HTTP error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. */
typedef struct srv_error {
    int status;        /* HTTP status: 400, 401, 404, 405, 413, 429, 500, 503 */
    const char *type;  /* "invalid_request_error", "authentication_error", ... */
    char param[64];    /* the request field at fault, "" for none (null in the body) */
    char code[48];     /* a machine-readable code, "" for none (null in the body) */
    char message[768];
} srv_error;

/* Fills e and returns -1. type NULL picks the usual one for the status. */
int srv_fail(srv_error *e, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Shorthand for a 400 invalid_request_error naming param. */
int srv_bad(srv_error *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The error's JSON body, malloc'd and NUL-terminated. */
char *srv_error_body(const srv_error *e, size_t *len);

/* Getters: return 1 when the field is set (value stored), 0 when absent or null (out untouched),
 * -1 on a wrong type or out-of-range value (e filled, naming the field). */
int jx_bool(json_t *obj, const char *key, int *out, srv_error *e);
int jx_int(json_t *obj, const char *key, long long lo, long long hi, long long *out, srv_error *e);
int jx_num(json_t *obj, const char *key, double lo, double hi, double *out, srv_error *e);
int jx_str(json_t *obj, const char *key, const char **out, srv_error *e);
/* Type checks only (the value is borrowed). */
int jx_obj(json_t *obj, const char *key, json_t **out, srv_error *e);
int jx_arr(json_t *obj, const char *key, json_t **out, srv_error *e);

/* json_stringn that never fails on bad UTF-8 (invalid bytes become U+FFFD); NULL only without
 * memory. The generated text should always be valid; this is the belt to its braces. */
json_t *jx_string(const char *s, size_t n);
/* Compact serialisation, malloc'd; NULL without memory. */
char *jx_dump(const json_t *v, size_t *len);
/* "object", "array", "string", ... for messages. */
const char *jx_type_name(const json_t *v);

#endif
