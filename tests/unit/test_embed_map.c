/* test_embed_map.c - an embedding that stays in the weight file's mapping (untied, never copied at
 * load) has every page of its rows mapped into the process when qwen3_model_load returns
 * (model.c's map_embedding), so no decode step waits on a page fault, or on the disk, for the row
 * of a token no step had read before.
 *
 * "Mapped" is read from /proc/self/pagemap (bit 63: the page is present in this process's page
 * tables; the page cache alone does not set it). A fresh mapping of the same file, never touched,
 * shows none of those pages present: the check can tell a populated table from one that is not.
 * Skipped, with the reason, where the kernel lacks MADV_POPULATE_READ (before Linux 5.14: the
 * model then only advises read-ahead) or pagemap cannot be read. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/model.h"
#include "qwen3.h"
#include "test.h"

/* pages of [p, p + n) present in this process (-1: pagemap unreadable) */
static long present_pages(const void *p, size_t n, long *total) {
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t b = (uintptr_t)p & ~(uintptr_t)(pg - 1), e = (uintptr_t)p + n;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return -1;
    long have = 0;
    *total = 0;
    for (uintptr_t a = b; a < e; a += (uintptr_t)pg) {
        uint64_t ent;
        if (pread(fd, &ent, sizeof ent, (off_t)(a / (uintptr_t)pg * sizeof ent)) != (ssize_t)sizeof ent) {
            close(fd);
            return -1;
        }
        have += (long)(ent >> 63 & 1);
        ++*total;
    }
    close(fd);
    return have;
}

static int populate_supported(void) {
#ifdef MADV_POPULATE_READ
    long pg = sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    int ok = madvise(p, (size_t)pg, MADV_POPULATE_READ) == 0;
    munmap(p, (size_t)pg);
    return ok;
#else
    return 0;
#endif
}

int main(void) {
    TEST_EXPECT(3);
    if (!populate_supported()) {
        const char *why = "the kernel has no MADV_POPULATE_READ (Linux 5.14); the model only advises read-ahead";
        TEST_SKIP("embed-map: the untied embedding stays in the file's mapping", "%s", why);
        TEST_SKIP("embed-map: every page of the embedding's rows is mapped at load", "%s", why);
        TEST_SKIP("embed-map: a fresh mapping of the file shows the same pages absent", "%s", why);
        return test_exit();
    }
    const char *tmp = getenv("QWEN3_TMP") ? getenv("QWEN3_TMP") : "build/testdata";
    char dir[512], cmd[1024];
    snprintf(dir, sizeof dir, "%s/embed_map", tmp);
    /* tiny-moe: an untied embedding of 2048 x 128 BF16 rows, 512 KiB (128 pages), which the fast
     * path leaves in the file's mapping (only the lm_head is rearranged) */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/gen_checkpoint.py -q --no-tokenizer --preset tiny-moe --dtype bf16 --seed 3 %s", dir);
    if (system(cmd) != 0) {
        printf("FAIL embed-map: generator failed: %s\n", cmd);
        return test_exit();
    }
    qwen3_err e = {0};
    qwen3_load_opts o = {.n_threads = 1, .fast = 1};
    qwen3_model *m = qwen3_model_load(dir, &o, &e);
    if (!m) {
        printf("FAIL embed-map: load: %s\n", e.msg);
        return test_exit();
    }
    const size_t bytes = m->embed.row_bytes * (size_t)m->embed.rows;
    const qfile *f = model_file_of(m, m->embed.data);
    CHECK(f != NULL && m->embed.data != m->lm_head.data, "embed-map: the untied embedding stays in the file's mapping",
          "(the case would test nothing: the embedding was copied at load or is tied)");
    long total = 0, have = present_pages(m->embed.data, bytes, &total);
    if (have < 0) {
        TEST_SKIP("embed-map: every page of the embedding's rows is mapped at load", "/proc/self/pagemap cannot be read here");
        TEST_SKIP("embed-map: a fresh mapping of the file shows the same pages absent", "/proc/self/pagemap cannot be read here");
        qwen3_model_free(m);
        return test_exit();
    }
    CHECK(total >= 64 && have == total, "embed-map: every page of the embedding's rows is mapped at load",
          "(%ld of %ld pages present)", have, total);
    /* the same rows through a fresh mapping of the file, never touched: none present */
    long fresh = -1, ftotal = 0;
    if (f) {
        int fd = open(f->path, O_RDONLY);
        void *map = fd >= 0 ? mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
        if (fd >= 0) close(fd);
        if (map != MAP_FAILED) {
            const uint8_t *rows = (const uint8_t *)map + ((const uint8_t *)m->embed.data - f->data);
            fresh = present_pages(rows, bytes, &ftotal);
            munmap(map, f->size);
        }
    }
    CHECK(fresh == 0 && ftotal == total, "embed-map: a fresh mapping of the file shows the same pages absent",
          "(%ld of %ld present: pagemap cannot tell a populated table from one that is not)", fresh, ftotal);
    qwen3_model_free(m);
    return test_exit();
}
