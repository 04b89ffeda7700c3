/* mdir.c - which files a model holds (the rules are in mdir.h). Everything here looks at names and
 * directory entries only (and a file's first four bytes when its name does not say GGUF): what is
 * inside the files is the parsers' business. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "format/mdir.h"
#include "qwen3.h"

const char *const mdir_tokenizer_files[] = {MDIR_TOKENIZER, MDIR_TOK_CONFIG, MDIR_VOCAB, MDIR_MERGES, NULL};
const char *const mdir_side_files[] = {MDIR_CONFIG,   MDIR_GENERATION, MDIR_TOKENIZER, MDIR_TOK_CONFIG,
                                       MDIR_VOCAB,    MDIR_MERGES,     MDIR_TEMPLATE,  "special_tokens_map.json",
                                       NULL};

static int ends_with_nocase(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n > m && !strcasecmp(s + n - m, suf);
}

int mdir_is_gguf_name(const char *name) { return ends_with_nocase(name, ".gguf"); }

int mdir_is_safetensors_name(const char *name) {
    size_t n = strlen(name);
    return !strchr(name, '/') && n > 12 && !strcmp(name + n - 12, ".safetensors");
}

int mdir_is_side_name(const char *name) {
    if (strchr(name, '/')) return 0;
    size_t n = strlen(name);
    return (n > 5 && !strcmp(name + n - 5, ".json")) || (n > 6 && !strcmp(name + n - 6, ".jinja")) ||
           !strcmp(name, MDIR_MERGES);
}

int mdir_gguf_split(const char *name, int *k, int *n) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t len = strlen(base);
    if (len < 21 || !mdir_is_gguf_name(base)) return 0;
    const char *s = base + len - 20; /* "-00001-of-00003.gguf": ggml writes %05d */
    if (s[0] != '-' || memcmp(s + 6, "-of-", 4)) return 0;
    int a = 0, b = 0;
    for (int i = 1; i <= 5; i++) { if (s[i] < '0' || s[i] > '9') return 0; a = a * 10 + (s[i] - '0'); }
    for (int i = 10; i <= 14; i++) { if (s[i] < '0' || s[i] > '9') return 0; b = b * 10 + (s[i] - '0'); }
    if (a < 1 || b < 1 || a > b) return 0;
    *k = a;
    *n = b;
    return 1;
}

int mdir_gguf_split_count(const char *path) {
    int k, n;
    return mdir_gguf_split(path, &k, &n) && k == 1 ? n : 1;
}

int mdir_gguf_split_path(const char *first, int k, char *out, size_t n, qwen3_err *e) {
    size_t len = strlen(first);
    int a, b;
    if (!mdir_gguf_split(first, &a, &b) || k < 1 || k > b) return qerr(e, "%s: not the first file of a split GGUF set", first);
    if (len + 1 > n) return qerr(e, "%s: path too long", first);
    memcpy(out, first, len + 1);
    for (int i = 4, v = k; i >= 0; i--, v /= 10) out[len - 19 + (size_t)i] = (char)('0' + v % 10); /* k <= b < 100000 */
    return 0;
}

static int has_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char m[4];
    int ok = fread(m, 1, 4, f) == 4 && !memcmp(m, "GGUF", 4);
    fclose(f);
    return ok;
}

int mdir_path(const mdir *d, const char *name, char *out, size_t n, qwen3_err *e) {
    return qpath_join(out, n, d->dir, name, e);
}

static int has(const mdir *d, const char *name) {
    char p[4096 + 64];
    return !qpath_join(p, sizeof p, d->dir, name, NULL) && qfile_exists(p);
}

/* The one GGUF model in directory d->dir into d->gguf: 1, 0 when there is none, -1 (e set) when
 * there are several or only later parts of a split set. */
static int find_gguf(mdir *d, qwen3_err *e) {
    DIR *dd = opendir(d->dir);
    if (!dd) return 0;
    struct dirent *de;
    char found[1024] = "", other[1024] = "";
    int count = 0, rc = 0;
    while ((de = readdir(dd))) {
        int k, parts;
        if (!mdir_is_gguf_name(de->d_name)) continue;
        if (mdir_gguf_split(de->d_name, &k, &parts) && k != 1) {
            if (!*other) snprintf(other, sizeof other, "%s", de->d_name);
            continue;
        }
        if (count++ == 0) snprintf(found, sizeof found, "%s", de->d_name);
        else {
            rc = qerr(e, "%s: holds several GGUF models (%s, %s, ...); give the file itself", d->dir, found, de->d_name);
            break;
        }
    }
    closedir(dd);
    if (rc) return rc;
    if (!count && *other)
        return qerr(e, "%s: holds %s, a later part of a split GGUF set, but not the set's first part (-00001-of-...)", d->dir,
                    other);
    if (!count) return 0;
    return qpath_join(d->gguf, sizeof d->gguf, d->dir, found, e) ? -1 : 1;
}

/* 1 when the directory holds a top-level *.safetensors (weights other than model.safetensors). */
static int has_other_safetensors(const char *dir) {
    DIR *dd = opendir(dir);
    if (!dd) return 0;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(dd))) found = mdir_is_safetensors_name(de->d_name);
    closedir(dd);
    return found;
}

int mdir_open(const char *path, mdir *d, qwen3_err *e) {
    memset(d, 0, sizeof *d);
    struct stat st;
    size_t len = strlen(path);
    if (len + 1 > sizeof d->dir) return qerr(e, "%s: path too long", path);
    memcpy(d->dir, path, len + 1);
    if (stat(path, &st) != 0) return 0; /* the caller says what it needed */
    if (S_ISREG(st.st_mode)) {
        /* the directory of the file holds the other files (an HF tokenizer or template beside a GGUF) */
        char *slash = strrchr(d->dir, '/');
        if (!slash) snprintf(d->dir, sizeof d->dir, ".");
        else if (slash == d->dir) d->dir[1] = 0;
        else *slash = 0;
    }
    /* the directory's HF files first: a caller that has them need not care that the GGUF files
     * beside them are ambiguous */
    int json = has(d, MDIR_TOKENIZER), vocab = has(d, MDIR_VOCAB), merges = has(d, MDIR_MERGES);
    d->tok = json ? MDIR_T_JSON : vocab && merges ? MDIR_T_VOCAB_MERGES : vocab ? MDIR_T_VOCAB_ONLY
           : merges ? MDIR_T_MERGES_ONLY : MDIR_T_NONE;
    d->tok_config = has(d, MDIR_TOK_CONFIG);
    d->chat = has(d, MDIR_TEMPLATE) ? MDIR_C_JINJA : d->tok_config ? MDIR_C_TOK_CONFIG : MDIR_C_NONE;
    if (S_ISREG(st.st_mode)) {
        if (mdir_is_gguf_name(path) || has_magic(path)) {
            int k, parts;
            if (mdir_gguf_split(path, &k, &parts) && k != 1)
                return qerr(e, "%s: this is part %d of a split GGUF set; give the first file (-00001-of-%05d.gguf)", path, k,
                            parts);
            memcpy(d->gguf, path, len + 1);
            d->kind = MDIR_GGUF;
        }
    } else if (S_ISDIR(st.st_mode)) {
        if (has(d, MDIR_CONFIG)) d->kind = MDIR_HF;
        else {
            int g = find_gguf(d, e);
            if (g < 0) return -1;
            if (g) d->kind = MDIR_GGUF;
        }
    }
    if (d->kind == MDIR_HF)
        d->weights = has(d, MDIR_INDEX) ? MDIR_W_INDEX : has(d, MDIR_WEIGHTS) ? MDIR_W_SINGLE
                   : has_other_safetensors(d->dir) ? MDIR_W_OTHER : MDIR_W_NONE;
    return 0;
}

int mdir_hf_tokenizer(const mdir *d) { return d->tok == MDIR_T_JSON || d->tok == MDIR_T_VOCAB_MERGES || d->tok == MDIR_T_VOCAB_ONLY; }

int mdir_check_tokenizer_dir(const char *dir, qwen3_err *e) {
    mdir t;
    if (mdir_open(dir, &t, e)) return -1;
    if (t.tok == MDIR_T_JSON || t.tok == MDIR_T_VOCAB_MERGES) return 0;
    return qerr(e, "tokenizer directory '%s': no %s (nor %s + %s) there; give the directory of the tokenizer files "
                   "(--tokenizer DIR, QWEN3_TOKENIZER)", dir, MDIR_TOKENIZER, MDIR_VOCAB, MDIR_MERGES);
}

int mdir_gguf_tokenizer(const mdir *d) { return d->kind == MDIR_GGUF && !mdir_hf_tokenizer(d); }

int mdir_gguf_chat(const mdir *d) { return d->kind == MDIR_GGUF && d->chat == MDIR_C_NONE; }

/* One file, whole, to dst through a temporary name renamed into place (a reader never sees half). */
static int copy_one(const char *src, const char *dst, qwen3_err *e) {
    size_t len;
    char *buf = qfile_read(src, (size_t)256 << 20, &len, e);
    if (!buf) return -1;
    char tmp[4096 + 16];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", dst) >= (int)sizeof tmp) { free(buf); return qerr(e, "%s: path too long", dst); }
    FILE *f = fopen(tmp, "wb");
    if (!f) { free(buf); return qerr(e, "%s: cannot open for writing (%s)", tmp, strerror(errno)); }
    int bad = len && fwrite(buf, 1, len, f) != len;
    bad |= fclose(f) != 0;
    free(buf);
    if (bad || rename(tmp, dst)) {
        unlink(tmp);
        return qerr(e, "%s: write failed (%s)", dst, strerror(errno));
    }
    return 0;
}

int mdir_copy_files(const char *from, const char *to, const char *const *names, qwen3_err *e) {
    for (int i = 0; names[i]; i++) {
        char src[4096], dst[4096];
        if (qpath_join(src, sizeof src, from, names[i], e) || qpath_join(dst, sizeof dst, to, names[i], e)) return -1;
        if (!qfile_exists(src)) continue; /* the optional ones a directory lacks */
        if (copy_one(src, dst, e)) return -1;
    }
    return 0;
}

int qwen3_model_copy_files(const char *from, const char *to, qwen3_err *err) {
    return mdir_copy_files(from, to, mdir_side_files, err);
}
