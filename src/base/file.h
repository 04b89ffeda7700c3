/* file.h - read-only memory-mapped files and whole-file reads.
 *
 * Weights are used in place from the mapping wherever a kernel computes on the stored type, so the
 * mapping lives as long as the model. Nothing in a mapped file is trusted: callers check every offset
 * against `size` before use. */
#ifndef QWEN3_BASE_FILE_H
#define QWEN3_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct qfile {
    char *path;          /* owned copy of the path, for error messages */
    const uint8_t *data; /* mapping of the whole file (NULL for an empty file) */
    size_t size;         /* bytes */
} qfile;

/* 0; -2 when the file exists but mmap refused it (out of address space: the caller may say what it
 * needed the file for); -1 for the other errors. */
int qfile_map(qfile *f, const char *path, qwen3_err *e);
void qfile_unmap(qfile *f);

/* Reads a whole file into a NUL-terminated malloc'd buffer; *len gets the length (without the NUL).
 * Refuses files over max_bytes with an error naming the file. */
char *qfile_read(const char *path, size_t max_bytes, size_t *len, qwen3_err *e);

int qfile_exists(const char *path);

/* For a message about memory that could not be had: " (this process may map at most N GiB: ulimit
 * -v)" when the address space is limited (RLIMIT_AS; a limit is what a rank of an MPI job given a
 * share too large for it most often hits), else "". buf needs 96 bytes. */
const char *qmem_limit_note(char *buf, size_t n);

/* snprintf into buf of size n: "dir/name". Returns -1 (with an error) if it does not fit. */
int qpath_join(char *buf, size_t n, const char *dir, const char *name, qwen3_err *e);

#endif
