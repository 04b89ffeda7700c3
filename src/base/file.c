/* file.c - mmap and whole-file reads (see file.h). */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int qfile_map(qfile *f, const char *path, qwen3_err *e) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return qerr(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return qerr(e, "%s: not a regular file", path);
    }
    f->size = (size_t)st.st_size;
    if (f->size > 0) {
        void *p = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            char note[96];
            close(fd);
            qerr(e, "%s: cannot mmap %zu bytes (%.1f GiB): %s%s", path, f->size, (double)f->size / 1073741824.0,
                 strerror(err), qmem_limit_note(note, sizeof note));
            return -2;
        }
        f->data = p;
    }
    close(fd);
    f->path = strdup(path);
    if (!f->path) {
        qfile_unmap(f);
        return qerr(e, "%s: out of memory", path);
    }
    return 0;
}

void qfile_unmap(qfile *f) {
    if (f->data) munmap((void *)f->data, f->size);
    free(f->path);
    memset(f, 0, sizeof *f);
}

char *qfile_read(const char *path, size_t max_bytes, size_t *len, qwen3_err *e) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        qerr(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        qerr(e, "%s: not a regular file", path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(fp);
        qerr(e, "%s: file is %lld bytes, more than the %zu allowed", path, (long long)st.st_size, max_bytes);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        qerr(e, "%s: out of memory", path);
        return NULL;
    }
    if (n && fread(buf, 1, n, fp) != n) {
        free(buf);
        fclose(fp);
        qerr(e, "%s: short read", path);
        return NULL;
    }
    fclose(fp);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

const char *qmem_limit_note(char *buf, size_t n) {
    struct rlimit rl;
    if (n) buf[0] = 0;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        snprintf(buf, n, " (this process may map at most %.1f GiB: ulimit -v)", (double)rl.rlim_cur / 1073741824.0);
    return buf;
}

int qfile_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int qpath_join(char *buf, size_t n, const char *dir, const char *name, qwen3_err *e) {
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n) return qerr(e, "path too long: %s/%s", dir, name);
    return 0;
}
