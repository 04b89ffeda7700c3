/* err.h - errors as values.
 *
 * Every fallible function in the library takes a `qwen3_err *` as its last argument, fills it with a
 * message that names the file, tensor, field or request at fault, and returns -1 (or NULL). Only the
 * CLI's main() and the server decide to exit. The struct itself is public (include/qwen3.h); this
 * header adds the helpers used inside the library. */
#ifndef QWEN3_BASE_ERR_H
#define QWEN3_BASE_ERR_H

#include "qwen3.h"

/* Formats a message into *e (if e is not NULL) and returns -1, so `return qerr(e, ...)` reads well.
 * The message is truncated to fit; never fails. */
int qerr(qwen3_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the message already in *e, for adding context as an error travels up. */
int qerr_wrap(qwen3_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
