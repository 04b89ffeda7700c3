/* err.c - formatting of error values (see err.h). */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int qerr(qwen3_err *e, const char *fmt, ...) {
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = -1;
    return -1;
}

int qerr_wrap(qwen3_err *e, const char *fmt, ...) {
    if (!e) return -1;
    char prefix[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t np = strlen(prefix);
    if (np + 2 >= sizeof e->msg) np = sizeof e->msg - 3;
    memcpy(e->msg, prefix, np);
    e->msg[np] = ':';
    e->msg[np + 1] = ' ';
    size_t rest = sizeof e->msg - np - 3;
    size_t no = strnlen(old, rest);
    memcpy(e->msg + np + 2, old, no);
    e->msg[np + 2 + no] = 0;
    e->code = -1;
    return -1;
}
