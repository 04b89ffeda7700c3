/* cache.c - a compact binary copy of a loaded tokenizer, so later loads skip parsing.
 *
 * Parsing Qwen3's 11 MB tokenizer.json and building its tables takes 150-300 ms on a small machine;
 * reading back the finished tables takes a few. The cache lives under $QWEN3_CACHE_DIR, else
 * $XDG_CACHE_HOME/qwen3, else ~/.cache/qwen3 (the model directory may be read-only), one file per
 * distinct set of source files and build, named by a 64-bit key (load.c's source_key: the files'
 * identity and sampled contents, and a hash of the tokenizer code that built the tables, so a build
 * with a changed loader never reads an older build's tables). QWEN3_NO_CACHE=1 turns it off.
 *
 * The file is: a header (magic, format version, key, sizes), the tables as stored in memory (and
 * bpe.c's complete whole-character memo, wchar.c, and cut.c's tables), each at a 16-byte boundary, and a hash of everything before it. A tokenizer read from it uses the
 * mapping in place (no copy). A file that fails any check (short, wrong hash, counts that do not
 * fit, ids out of range) is ignored and rebuilt, never trusted: the checks below are those a
 * corrupted file could otherwise turn into out-of-bounds reads. Written to a temporary name and
 * renamed, so readers never see half a file. Same-machine format (native endianness), checked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "tokenizer/cache.h"
#include "tokenizer/vocab.h"

#define MAGIC "QW3TOKC1"
#define VERSION 4u

typedef struct header {
    char magic[8];
    uint32_t version, endian; /* endian: 0x01020304 as written */
    uint64_t key;
    uint32_t n_vocab, n_ids, n_merges, ignore_merges, no_nfc, n_added;
    uint32_t vmask, mmask;
    uint64_t blob_len, max_token_len, added_text_len;
} header;

/* 4 independent lanes so the multiplies overlap: a few GB/s. Not cryptographic: it guards against
 * edits and corruption, not against someone who can write the cache directory anyway. */
uint64_t tk_hash64(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h[4] = {seed ^ 0x9E3779B97F4A7C15ull, seed ^ 0xC2B2AE3D27D4EB4Full, seed ^ 0x165667B19E3779F9ull,
                     seed ^ 0x27D4EB2F165667C5ull};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, s + i + 8 * k, 8);
            h[k] = (h[k] ^ w) * 0xFF51AFD7ED558CCDull;
            h[k] ^= h[k] >> 31;
        }
    uint64_t r = n * 0x9E3779B97F4A7C15ull;
    for (int k = 0; k < 4; k++) r = (r ^ h[k]) * 0xC4CEB9FE1A85EC53ull, r ^= r >> 29;
    for (; i < n; i++) r = (r ^ s[i]) * 0x100000001B3ull;
    r ^= r >> 32;
    return r;
}

int tk_cache_path(char *buf, size_t n, uint64_t key) {
    const char *e = getenv("QWEN3_NO_CACHE");
    if (e && *e && strcmp(e, "0")) return -1;
    const char *dir = getenv("QWEN3_CACHE_DIR");
    char base[3072];
    if (dir && *dir) snprintf(base, sizeof base, "%s", dir);
    else if ((dir = getenv("XDG_CACHE_HOME")) && *dir) snprintf(base, sizeof base, "%s/qwen3", dir);
    else if ((dir = getenv("HOME")) && *dir) snprintf(base, sizeof base, "%s/.cache/qwen3", dir);
    else return -1;
    int w = snprintf(buf, n, "%s/tokenizer-%016llx.bin", base, (unsigned long long)key);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

/* --- reading ------------------------------------------------------------------------------------ */

typedef struct rd {
    const unsigned char *base, *p, *end;
} rd;

/* The next n bytes of the file, at an offset aligned to 16 (as the writer pads); NULL if short. */
static const void *take(rd *r, size_t n) {
    size_t at = (size_t)(r->p - r->base);
    at = (at + 15) & ~(size_t)15;
    if (at > (size_t)(r->end - r->base) || (size_t)(r->end - r->base) - at < n) return NULL;
    r->p = r->base + at + n;
    return r->base + at;
}

int tk_cache_read(struct qwen3_tokenizer *t, const char *path, uint64_t key) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)(sizeof(header) + 8)) {
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    /* MAP_POPULATE: one call maps every page instead of a fault per page later */
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return -1;
    t->cache_map = map;
    t->cache_size = size;
    const unsigned char *data = map;
    uint64_t want;
    memcpy(&want, data + size - 8, 8);
    if (tk_hash64(data, size - 8, key) != want) return -1;
    rd r = {data, data, data + size - 8};
    const header *hp = take(&r, sizeof(header));
    header h = *hp;
    if (memcmp(h.magic, MAGIC, 8) || h.version != VERSION || h.endian != 0x01020304u || h.key != key) return -1;
    if (h.n_ids > TK_MAX_IDS || h.n_vocab > h.n_ids || h.blob_len >= UINT32_MAX || h.n_added > h.n_ids ||
        h.vmask >= (1u << 30) || ((h.vmask + 1) & h.vmask) || h.mmask >= (1u << 30) || ((h.mmask + 1) & h.mmask) ||
        h.n_merges > h.mmask)
        return -1;
    t->n_vocab = (int)h.n_vocab;
    t->n_ids = (int)h.n_ids;
    t->n_merges = (int)h.n_merges;
    t->ignore_merges = (int)h.ignore_merges;
    t->no_nfc = (int)h.no_nfc;
    t->vmask = h.vmask;
    t->mmask = h.mmask;
    t->blob_len = t->blob_cap = h.blob_len;
    t->max_token_len = h.max_token_len;
    const void *byte_id, *cls;
    if (!(t->off = (uint32_t *)take(&r, 4 * (size_t)h.n_ids)) || !(t->len = (uint32_t *)take(&r, 4 * (size_t)h.n_ids)) ||
        !(t->blob = (char *)take(&r, h.blob_len)) || !(t->vhash = (uint32_t *)take(&r, 4 * ((size_t)h.vmask + 1))) ||
        !(t->merges = (tk_merge *)take(&r, sizeof *t->merges * ((size_t)h.mmask + 1))) ||
        !(byte_id = take(&r, sizeof t->byte_id)) || !(t->special = (unsigned char *)take(&r, h.n_ids)) ||
        !(cls = take(&r, sizeof t->cls)) || !(t->wchar_table = take(&r, 65536 * sizeof *t->wchar_table)) ||
        !(t->cut_table = take(&r, tk_cut_size())))
        return -1;
    memcpy(t->byte_id, byte_id, sizeof t->byte_id);
    memcpy(t->cls, cls, sizeof t->cls);
    /* every offset, id and length a corrupted file could make point outside its table */
    for (uint32_t i = 0; i < h.n_ids; i++)
        if (t->len[i] != UINT32_MAX && ((uint64_t)t->off[i] + t->len[i] > h.blob_len || t->len[i] > h.max_token_len))
            return -1;
    for (uint32_t i = 0; i <= h.vmask; i++)
        if (t->vhash[i] > h.n_vocab || (t->vhash[i] && t->len[t->vhash[i] - 1] == UINT32_MAX)) return -1;
    for (uint32_t i = 0; i <= h.mmask; i++) {
        const tk_merge *m = &t->merges[i];
        if (m->key && ((m->key - 1) >> 32 >= h.n_ids || ((m->key - 1) & 0xFFFFFFFFu) >= h.n_ids || m->id >= h.n_ids ||
                       m->rank == UINT32_MAX))
            return -1;
    }
    if (tk_wchar_table_check(t->wchar_table, h.n_ids)) return -1;
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0 || (uint32_t)t->byte_id[b] >= h.n_vocab || t->len[t->byte_id[b]] != 1) return -1;
    t->added = calloc(h.n_added ? h.n_added : 1, sizeof *t->added);
    if (!t->added) return -1;
    for (uint32_t k = 0; k < h.n_added; k++) {
        const int32_t *v = take(&r, 3 * sizeof(int32_t));
        if (!v || v[0] < 0 || (uint32_t)v[0] >= h.n_ids || t->len[v[0]] == UINT32_MAX || v[2] <= 0 || v[2] > (1 << 20))
            return -1;
        const char *src = take(&r, (size_t)v[2]);
        char *text = src ? malloc((size_t)v[2] + 1) : NULL;
        if (!text) return -1;
        memcpy(text, src, (size_t)v[2]);
        text[v[2]] = 0;
        t->added[t->n_added++] = (tk_added){v[0], v[1] != 0, text, (uint32_t)v[2]};
        t->added_first[(unsigned char)text[0]] = 1;
    }
    return (size_t)(r.end - r.p) < 16 ? 0 : -1;
}

/* --- writing ------------------------------------------------------------------------------------ */

typedef struct wr {
    FILE *f;
    uint64_t n;
    int bad;
    unsigned char *all; /* everything written, for the trailing hash */
    size_t cap;
} wr;

static void put(wr *w, const void *p, size_t n) {
    if (w->bad) return;
    if (w->n + n > w->cap) {
        size_t c = w->cap ? w->cap : 1 << 20;
        while (c < w->n + n) c *= 2;
        unsigned char *a = realloc(w->all, c);
        if (!a) {
            w->bad = 1;
            return;
        }
        w->all = a;
        w->cap = c;
    }
    memcpy(w->all + w->n, p, n);
    w->n += n;
}

static void section(wr *w, const void *p, size_t n) {
    static const unsigned char zero[16];
    if (w->n % 16) put(w, zero, 16 - w->n % 16);
    put(w, p, n);
}

static int mkdirs(const char *path) {
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash) return -1;
    *slash = 0;
    for (char *p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(d, 0700) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(d, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int tk_cache_write(const struct qwen3_tokenizer *t, const char *path, uint64_t key) {
    if (mkdirs(path)) return -1;
    header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = VERSION;
    h.endian = 0x01020304u;
    h.key = key;
    h.n_vocab = (uint32_t)t->n_vocab;
    h.n_ids = (uint32_t)t->n_ids;
    h.n_merges = (uint32_t)t->n_merges;
    h.ignore_merges = (uint32_t)t->ignore_merges;
    h.no_nfc = (uint32_t)t->no_nfc;
    h.n_added = (uint32_t)t->n_added;
    h.vmask = t->vmask;
    h.mmask = t->mmask;
    h.blob_len = t->blob_len;
    h.max_token_len = t->max_token_len;
    wr w = {0};
    section(&w, &h, sizeof h);
    section(&w, t->off, 4 * (size_t)t->n_ids);
    section(&w, t->len, 4 * (size_t)t->n_ids);
    section(&w, t->blob, t->blob_len);
    section(&w, t->vhash, 4 * ((size_t)t->vmask + 1));
    section(&w, t->merges, sizeof *t->merges * ((size_t)t->mmask + 1));
    section(&w, t->byte_id, sizeof t->byte_id);
    section(&w, t->special, (size_t)t->n_ids);
    section(&w, t->cls, sizeof t->cls);
    /* bpe.c's whole-character memo, complete (wchar.c): a cached load then builds nothing for it */
    uint32_t *wt = malloc(65536 * sizeof *wt);
    if (!wt || tk_wchar_table(t, wt)) w.bad = 1;
    else section(&w, wt, 65536 * sizeof *wt);
    free(wt);
    /* cut.c's tables, likewise (any bytes are a table: nothing to check on reading them back) */
    void *ct = malloc(tk_cut_size());
    if (!ct) w.bad = 1;
    else tk_cut_table(t, ct), section(&w, ct, tk_cut_size());
    free(ct);
    for (int k = 0; k < t->n_added; k++) {
        int32_t v[3] = {t->added[k].id, t->added[k].special, (int32_t)t->added[k].len};
        section(&w, v, sizeof v);
        section(&w, t->added[k].text, t->added[k].len);
    }
    uint64_t hh = w.bad ? 0 : tk_hash64(w.all, w.n, key);
    put(&w, &hh, 8);
    int r = -1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    if (!w.bad) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            size_t off = 0;
            while (off < w.n) {
                ssize_t k = write(fd, w.all + off, w.n - off);
                if (k <= 0) break;
                off += (size_t)k;
            }
            if (close(fd) == 0 && off == w.n && rename(tmp, path) == 0) r = 0;
            else unlink(tmp);
        }
    }
    free(w.all);
    return r;
}
