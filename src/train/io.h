/* io.h - atomic file writes for checkpoints and exports: everything goes to PATH.tmp, which is
 * flushed, fsync'd and renamed over PATH only when every write succeeded (a full disk leaves the
 * previous PATH intact and removes the temporary). */
#ifndef QWEN3_TRAIN_IO_H
#define QWEN3_TRAIN_IO_H

#include <stdio.h>

#include "base/err.h"

typedef struct tio_file {
    FILE *f;
    char path[4096], tmp[4100];
    int failed; /* errno of the first failed write */
} tio_file;

int tio_open(tio_file *f, const char *path, qwen3_err *e);
/* Returns -1 once any write failed (later writes are skipped); tio_close reports it. */
int tio_write(tio_file *f, const void *p, size_t n);
/* Flush, fsync, rename: 0, or -1 with the temporary removed and an error naming the path. */
int tio_close(tio_file *f, qwen3_err *e);
void tio_abort(tio_file *f);
int tio_write_text(const char *path, const char *text, qwen3_err *e);

#endif
