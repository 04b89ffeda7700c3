/* cache.c - reading the hub cache without the network: a name's snapshot (refs/REVISION -> COMMIT
 * -> snapshots/COMMIT), the list of cached models and their removal. Works on caches written by
 * huggingface_hub (transformers, huggingface-cli) as well as ours: only the layout is assumed. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "format/mdir.h"
#include "hub/hub.h"

/* Reads refs/REV into commit (trimmed); 0 on success. */
static int read_ref(const char *repo, const char *rev, char commit[64]) {
    char p[HUB_PATH_MAX];
    if (hub_pathf(p, sizeof p, "%s/refs/%s", repo, rev) >= (int)sizeof p) return -1;
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    char buf[128] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = 0;
    if (!hub_is_commit(buf)) return -1;
    memcpy(commit, buf, 41);
    return 0;
}

/* The only snapshot of a repo, when there is exactly one (a cache written without refs). */
static int only_snapshot(const char *repo, char commit[64]) {
    char p[HUB_PATH_MAX];
    hub_pathf(p, sizeof p, "%s/snapshots", repo);
    DIR *d = opendir(p);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (hub_is_commit(de->d_name)) { if (!n) memcpy(commit, de->d_name, 41); n++; }
    closedir(d);
    return n == 1 ? 0 : -1;
}

/* Relative names of the .gguf files under dir (one level of subdirectories), into files[]. */
static int list_ggufs(const char *dir, char files[][512], int cap) {
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < cap) {
        if (de->d_name[0] == '.') continue;
        if (mdir_is_gguf_name(de->d_name)) { hub_pathf(files[n++], 512, "%s", de->d_name); continue; }
        char sub[HUB_PATH_MAX];
        struct stat st;
        hub_pathf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        if (stat(sub, &st) || !S_ISDIR(st.st_mode)) continue;
        DIR *d2 = opendir(sub);
        if (!d2) continue;
        struct dirent *de2;
        while ((de2 = readdir(d2)) && n < cap)
            if (de2->d_name[0] != '.' && mdir_is_gguf_name(de2->d_name))
                hub_pathf(files[n++], 512, "%.200s/%.300s", de->d_name, de2->d_name);
        closedir(d2);
    }
    closedir(d);
    return n;
}

int hub_find_cached(const hub_name *n, char *path, size_t cap, qwen3_err *e) {
    char repo[HUB_PATH_MAX], commit[64] = "";
    if (hub_repo_dir(n, repo, sizeof repo, e)) return -1;
    const char *rev = hub_rev(n);
    if (hub_is_commit(rev)) memcpy(commit, rev, 41);
    else if (read_ref(repo, rev, commit) && (n->rev[0] || only_snapshot(repo, commit)))
        return qerr(e, "%s (revision %s) is not in the Hugging Face cache: looked for %s/refs/%s", n->id, rev, repo, rev);
    char snap[HUB_PATH_MAX];
    struct stat st;
    if (hub_pathf(snap, sizeof snap, "%s/snapshots/%s", repo, commit) >= (int)sizeof snap) return qerr(e, "path too long");
    if (stat(snap, &st) || !S_ISDIR(st.st_mode))
        return qerr(e, "%s (revision %s) is not in the Hugging Face cache: %s is missing", n->id, rev, snap);
    char cfg[HUB_PATH_MAX];
    hub_pathf(cfg, sizeof cfg, "%s/" MDIR_CONFIG, snap); /* a safetensors snapshot, whatever GGUF files it holds */
    if (!n->tag[0] && qfile_exists(cfg)) return hub_pathf(path, cap, "%s", snap) >= (int)cap ? qerr(e, "path too long") : 0;
    enum { MAXF = 256 };
    char(*files)[512] = malloc(sizeof(char[512]) * MAXF);
    const char **ptr = malloc(sizeof *ptr * MAXF);
    unsigned char pick[MAXF];
    if (!files || !ptr) { free(files); free(ptr); return qerr(e, "out of memory"); }
    int nf = list_ggufs(snap, files, MAXF), first = -1;
    for (int i = 0; i < nf; i++) ptr[i] = files[i];
    int rc = 0;
    if (nf == 0 && !n->tag[0]) rc = hub_pathf(path, cap, "%s", snap) >= (int)cap ? qerr(e, "path too long") : 0;
    else if (hub_gguf_pick(ptr, nf, n->tag, pick, &first, e) < 0)
        rc = qerr_wrap(e, "%s in the cache (%s)", n->id, snap);
    else {
        /* every part of a split set must be there; hub_gguf_pick checked the count of listed parts */
        rc = hub_pathf(path, cap, "%s/%s", snap, files[first]) >= (int)cap ? qerr(e, "path too long") : 0;
    }
    free(files);
    free(ptr);
    return rc;
}

/* ---- list and remove ---- */

static uint64_t blobs_bytes(const char *repo) {
    char p[HUB_PATH_MAX];
    hub_pathf(p, sizeof p, "%s/blobs", repo);
    DIR *d = opendir(p);
    if (!d) return 0;
    uint64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char f[HUB_PATH_MAX];
        struct stat st;
        if (hub_pathf(f, sizeof f, "%s/%s", p, de->d_name) >= (int)sizeof f) continue;
        if (!lstat(f, &st) && S_ISREG(st.st_mode)) sum += (uint64_t)st.st_blocks * 512;
    }
    closedir(d);
    return sum;
}

/* The snapshot to show: refs/main's commit, else the most recently modified snapshot. */
static int shown_snapshot(const char *repo, char commit[64]) {
    if (!read_ref(repo, "main", commit)) {
        char s[HUB_PATH_MAX];
        struct stat st;
        hub_pathf(s, sizeof s, "%s/snapshots/%s", repo, commit);
        if (!stat(s, &st) && S_ISDIR(st.st_mode)) return 0;
    }
    char p[HUB_PATH_MAX];
    hub_pathf(p, sizeof p, "%s/snapshots", repo);
    DIR *d = opendir(p);
    if (!d) return -1;
    struct dirent *de;
    time_t best = 0;
    int found = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) > 63) continue;
        char s[HUB_PATH_MAX];
        struct stat st;
        hub_pathf(s, sizeof s, "%s/%s", p, de->d_name);
        if (stat(s, &st) || !S_ISDIR(st.st_mode)) continue;
        if (!found || st.st_mtime > best) { best = st.st_mtime; hub_pathf(commit, 64, "%s", de->d_name); found = 1; }
    }
    closedir(d);
    return found ? 0 : -1;
}

static void describe_kind(const char *snap, char *kind, size_t cap) {
    enum { MAXF = 256 };
    char(*files)[512] = malloc(sizeof(char[512]) * MAXF);
    if (!files) { hub_pathf(kind, cap, "?"); return; }
    int nf = list_ggufs(snap, files, MAXF);
    char cfg[HUB_PATH_MAX];
    hub_pathf(cfg, sizeof cfg, "%s/" MDIR_CONFIG, snap);
    int has_st = qfile_exists(cfg);
    size_t len = (size_t)hub_pathf(kind, cap, "%s", has_st ? "safetensors" : nf ? "gguf" : "other");
    for (int i = 0; i < nf && len < cap; i++) {
        const char *f = files[i];
        int part, parts, split = mdir_gguf_split(f, &part, &parts);
        if (split && part != 1) continue; /* later parts of split sets */
        /* the quant tag: the last "-" or "." separated token of the base name */
        const char *b = strrchr(f, '/');
        b = b ? b + 1 : f;
        size_t bl = strlen(b) - 5;
        if (split) bl -= 15;
        size_t t = bl;
        while (t > 0 && b[t - 1] != '-' && b[t - 1] != '.') t--;
        len += (size_t)hub_pathf(kind + len, cap - len, "%s%.*s", i == 0 && !has_st ? " " : ", ", (int)(bl - t), b + t);
    }
    free(files);
}

static int cmp_model(const void *a, const void *b) {
    return strcmp(((const qwen3_cached_model *)a)->name, ((const qwen3_cached_model *)b)->name);
}

int qwen3_cache_list(qwen3_cached_model **out, qwen3_err *e) {
    *out = NULL;
    char cache[HUB_PATH_MAX];
    if (hub_cache_dir(cache, sizeof cache, e)) return -1;
    DIR *d = opendir(cache);
    if (!d) {
        if (errno == ENOENT) return 0;
        return qerr(e, "%s: %s", cache, strerror(errno));
    }
    int n = 0, cap = 0;
    qwen3_cached_model *v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "models--", 8)) continue;
        /* models--ORG--NAME: ORG and NAME never contain "--" */
        const char *org = de->d_name + 8, *sep = strstr(org, "--");
        if (!sep) continue;
        char repo[HUB_PATH_MAX], commit[64];
        hub_pathf(repo, sizeof repo, "%s/%s", cache, de->d_name);
        if (shown_snapshot(repo, commit)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            qwen3_cached_model *nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) { free(v); closedir(d); return qerr(e, "out of memory"); }
            v = nv;
        }
        qwen3_cached_model *m = &v[n++];
        memset(m, 0, sizeof *m);
        hub_pathf(m->name, sizeof m->name, "%.*s/%s", (int)(sep - org), org, sep + 2);
        hub_pathf(m->revision, sizeof m->revision, "%s", commit);
        hub_pathf(m->path, sizeof m->path, "%.4000s/snapshots/%.60s", repo, commit);
        m->bytes = blobs_bytes(repo);
        describe_kind(m->path, m->kind, sizeof m->kind);
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_model);
    *out = v;
    return n;
}

/* rm -r of path, not following symlinks; adds the bytes of regular files to *bytes. */
static int remove_tree(const char *path, uint64_t *bytes, qwen3_err *e) {
    struct stat st;
    if (lstat(path, &st)) return errno == ENOENT ? 0 : qerr(e, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return qerr(e, "%s: %s", path, strerror(errno));
        struct dirent *de;
        int rc = 0;
        while (!rc && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char sub[HUB_PATH_MAX];
            if (hub_pathf(sub, sizeof sub, "%s/%s", path, de->d_name) >= (int)sizeof sub) { rc = qerr(e, "path too long under %s", path); break; }
            rc = remove_tree(sub, bytes, e);
        }
        closedir(d);
        if (rc) return rc;
        if (rmdir(path)) return qerr(e, "cannot remove %s: %s", path, strerror(errno));
        return 0;
    }
    if (S_ISREG(st.st_mode)) *bytes += (uint64_t)st.st_blocks * 512;
    if (unlink(path)) return qerr(e, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

int qwen3_cache_remove(const char *name, uint64_t *freed, qwen3_err *e) {
    hub_name n;
    if (hub_name_parse(name, &n, e)) return -1;
    if (n.rev[0] || n.tag[0])
        return qerr(e, "rm removes a whole repo (every revision and file): name it without @REVISION or :TAG (%s)", n.id);
    char repo[HUB_PATH_MAX], cache[HUB_PATH_MAX], lock[HUB_PATH_MAX];
    if (hub_repo_dir(&n, repo, sizeof repo, e) || hub_cache_dir(cache, sizeof cache, e)) return -1;
    struct stat st;
    if (lstat(repo, &st) || !S_ISDIR(st.st_mode))
        return qerr(e, "%s is not in the Hugging Face cache (no %s); `qwen3 list` shows what is", n.id, repo);
    uint64_t bytes = 0;
    if (remove_tree(repo, &bytes, e)) return -1;
    hub_pathf(lock, sizeof lock, "%s/.locks/models--%s--%s", cache, n.org, n.repo);
    uint64_t ignore = 0;
    remove_tree(lock, &ignore, NULL);
    if (freed) *freed = bytes;
    return 0;
}
