/* pull.c - qwen3_pull: a hub name -> files in the Hugging Face cache, by huggingface_hub's protocol
 * (file_download.py):
 *   GET  {endpoint}/api/models/{repo}/revision/{rev}  -> {"sha": COMMIT, "siblings": [{"rfilename"}]}
 *   HEAD {endpoint}/{repo}/resolve/{commit}/{file}    -> X-Repo-Commit, X-Linked-Etag (LFS: the
 *        sha256) or ETag (git blob id), X-Linked-Size or Content-Length, and for LFS files a 302 to
 *        the CDN (Location), which the GET follows.
 * A blob is downloaded to blobs/ETAG.incomplete under an flock on .locks/.../ETAG.lock (the lock
 * huggingface_hub takes, so a transformers download and ours wait for each other too), resumed with
 * Range after a dropped connection or an earlier interrupted pull, checked (size; sha256 for LFS
 * files), and renamed to blobs/ETAG. Snapshot links and refs are written to a temporary name and
 * renamed, so a reader never sees half of one. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "format/mdir.h"
#include "hub/http.h"
#include "hub/hub.h"

typedef struct puller {
    const qwen3_pull_opts *o;
    hub_name n;
    char endpoint[1024];
    char token[4096];
    int has_token;
    char cache[HUB_PATH_MAX], repo[HUB_PATH_MAX];
    char commit[64];
    int retries;
    long backoff_ms;
    const char *file; /* being downloaded, for progress */
} puller;

static void note(puller *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(puller *p, const char *fmt, ...) {
    if (!p->o || !p->o->note) return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->o->note(p->o->ud, msg);
}

static void progress(puller *p, const char *file, uint64_t done, uint64_t total) {
    if (p->o && p->o->progress) p->o->progress(p->o->ud, file, done, total);
}

static int env_int(const char *name, int dflt) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

/* The token huggingface_hub would send: $HF_TOKEN, else the file `huggingface-cli login` wrote. */
static void find_token(puller *p) {
    const char *v = getenv("HF_TOKEN");
    if (!v || !*v) v = getenv("HUGGING_FACE_HUB_TOKEN");
    if (v && *v) {
        hub_pathf(p->token, sizeof p->token, "%s", v);
    } else {
        char path[HUB_PATH_MAX];
        const char *tp = getenv("HF_TOKEN_PATH"), *home = getenv("HF_HOME"), *h = getenv("HOME");
        if (tp && *tp) hub_pathf(path, sizeof path, "%s", tp);
        else if (home && *home) hub_pathf(path, sizeof path, "%s/token", home);
        else if (h && *h) hub_pathf(path, sizeof path, "%s/.cache/huggingface/token", h);
        else return;
        FILE *f = fopen(path, "r");
        if (!f) return;
        size_t k = fread(p->token, 1, sizeof p->token - 1, f);
        fclose(f);
        p->token[k] = 0;
    }
    size_t k = strlen(p->token);
    while (k && (p->token[k - 1] == '\n' || p->token[k - 1] == '\r' || p->token[k - 1] == ' ')) p->token[--k] = 0;
    for (size_t i = 0; i < k; i++)
        if ((unsigned char)p->token[i] < 0x21 || (unsigned char)p->token[i] > 0x7e) { p->token[0] = 0; return; }
    p->has_token = k > 0;
}

/* Percent-encodes s into out; keep_slash: "/" separates path segments (file names) or is encoded
 * (revisions such as refs/pr/1, as huggingface_hub's quote(revision, safe="")). */
static int url_escape(const char *s, int keep_slash, char *out, size_t cap) {
    size_t k = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~", c) ||
                    (keep_slash && c == '/');
        if (k + 4 >= cap) return -1;
        if (plain) out[k++] = (char)c;
        else k += (size_t)hub_pathf(out + k, cap - k, "%%%02X", c);
    }
    out[k] = 0;
    return 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

/* Back-off before attempt `attempt` (2, 3, ...): base, 2*base, 4*base ..., at most 30 s. */
static void backoff(puller *p, int attempt, const char *why) {
    long ms = p->backoff_ms;
    for (int i = 2; i < attempt && ms < 30000; i++) ms *= 2;
    if (ms > 30000) ms = 30000;
    note(p, "%s; retrying in %.1f s (attempt %d of %d)", why, ms / 1000.0, attempt, p->retries);
    sleep_ms(ms);
}

static int retryable(long status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

/* The message for an HTTP error answer to a request about `what`. */
static int status_error(puller *p, const hub_resp *r, const char *what, qwen3_err *e) {
    const char *rev = hub_rev(&p->n);
    char detail[300] = "";
    if (r->error_msg[0]) hub_pathf(detail, sizeof detail, "(the hub says: %s)", r->error_msg);
    switch (r->status) {
    case 401:
        if (p->has_token)
            return qerr(e, "%s: 401 Unauthorized: the token in HF_TOKEN was refused for %s (is it valid, and does it "
                           "grant access to this repo?) %s", what, p->n.id, detail);
        return qerr(e, "%s: 401 Unauthorized: %s does not exist, or is private or gated: check the name; for a gated "
                       "or private repo accept its terms at %s/%s and set HF_TOKEN to an access token (sent as "
                       "Authorization: Bearer) %s", what, p->n.id, p->endpoint, p->n.id, detail);
    case 403:
        return qerr(e, "%s: 403 Forbidden: access to %s is restricted (gated): accept its conditions at %s/%s with the "
                       "account of your HF_TOKEN%s %s", what, p->n.id, p->endpoint, p->n.id,
                    p->has_token ? "" : " (HF_TOKEN is not set: set it to an access token)", detail);
    case 404:
        if (!strcmp(r->error_code, "RevisionNotFound"))
            return qerr(e, "%s: 404: %s has no revision '%s' (a branch, tag or commit) %s", what, p->n.id, rev, detail);
        if (!strcmp(r->error_code, "EntryNotFound"))
            return qerr(e, "%s: 404: not found in %s at %s %s", what, p->n.id, rev, detail);
        return qerr(e, "%s: 404 Not Found: no repo %s at %s (check the name; HF_ENDPOINT selects a mirror) %s", what,
                    p->n.id, p->endpoint, detail);
    case 416:
        return qerr(e, "%s: 416: the server refused the byte range we asked for", what);
    default:
        return qerr(e, "%s: HTTP %ld %s", what, r->status, detail);
    }
}

/* ---- the file list ---- */

typedef struct listing {
    char **files;
    int n;
} listing;

static void listing_free(listing *l) {
    for (int i = 0; i < l->n; i++) free(l->files[i]);
    free(l->files);
    l->files = NULL;
    l->n = 0;
}

static int get_listing(puller *p, listing *l, qwen3_err *e) {
    char rev[600], url[3000];
    if (url_escape(hub_rev(&p->n), 0, rev, sizeof rev)) return qerr(e, "revision too long");
    hub_pathf(url, sizeof url, "%s/api/models/%s/revision/%s", p->endpoint, p->n.id, rev);
    hub_resp r;
    for (int attempt = 1;; attempt++) {
        qwen3_err te = {0};
        int rc = hub_http("GET", url, p->has_token ? p->token : NULL, &r, &te);
        if (rc == 0 && !retryable(r.status)) break;
        char why[1200];
        if (rc) hub_pathf(why, sizeof why, "%s", te.msg);
        else hub_pathf(why, sizeof why, "%s: HTTP %ld", url, r.status);
        hub_resp_free(&r);
        if (attempt >= p->retries) return qerr(e, "%s (gave up after %d attempts)", why, attempt);
        backoff(p, attempt + 1, why);
    }
    if (r.status != 200) {
        char what[400];
        hub_pathf(what, sizeof what, "%s (revision %s)", p->n.id, hub_rev(&p->n));
        status_error(p, &r, what, e);
        hub_resp_free(&r);
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, &je);
    hub_resp_free(&r);
    if (!root) return qerr(e, "%s: the answer is not JSON (line %d: %s); is HF_ENDPOINT a Hugging Face hub?", url, je.line, je.text);
    json_t *sha = json_object_get(root, "sha"), *sib = json_object_get(root, "siblings");
    if (!json_is_string(sha) || !hub_is_commit(json_string_value(sha))) {
        json_decref(root);
        return qerr(e, "%s: \"sha\" is missing or not a 40-digit commit id", url);
    }
    if (!json_is_array(sib)) {
        json_decref(root);
        return qerr(e, "%s: \"siblings\" (the file list) is missing", url);
    }
    hub_pathf(p->commit, sizeof p->commit, "%s", json_string_value(sha));
    size_t cnt = json_array_size(sib);
    if (cnt > 100000) { json_decref(root); return qerr(e, "%s: %zu files: too many", url, cnt); }
    l->files = calloc(cnt ? cnt : 1, sizeof *l->files);
    if (!l->files) { json_decref(root); return qerr(e, "out of memory"); }
    for (size_t i = 0; i < cnt; i++) {
        json_t *f = json_object_get(json_array_get(sib, i), "rfilename");
        if (!json_is_string(f)) continue;
        const char *s = json_string_value(f);
        if (!hub_safe_relpath(s)) continue; /* never write outside the snapshot */
        if (!(l->files[l->n] = strdup(s))) { json_decref(root); return qerr(e, "out of memory"); }
        l->n++;
    }
    json_decref(root);
    return 0;
}

/* ---- one file ---- */

typedef struct file_meta {
    char etag[160];
    int lfs;          /* the etag is the LFS sha256 */
    long long size;   /* -1: unknown */
    char url[2200];   /* where the bytes are (the CDN for LFS files) */
} file_meta;

static int valid_etag(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

static int is_sha256(const char *s) {
    size_t n = strlen(s);
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static int head_file(puller *p, const char *file, file_meta *m, qwen3_err *e) {
    char ef[3000], url[4200];
    if (url_escape(file, 1, ef, sizeof ef)) return qerr(e, "%s: file name too long", file);
    hub_pathf(url, sizeof url, "%s/%s/resolve/%s/%s", p->endpoint, p->n.id, p->commit, ef);
    hub_resp r;
    for (int hops = 0;; hops++) {
        for (int attempt = 1;; attempt++) {
            qwen3_err te = {0};
            int rc = hub_http("HEAD", url, p->has_token ? p->token : NULL, &r, &te);
            if (rc == 0 && !retryable(r.status)) break;
            char why[1200];
            if (rc) hub_pathf(why, sizeof why, "%s", te.msg);
            else hub_pathf(why, sizeof why, "%s: HTTP %ld", url, r.status);
            if (attempt >= p->retries) return qerr(e, "%s (gave up after %d attempts)", why, attempt);
            backoff(p, attempt + 1, why);
        }
        /* huggingface_hub follows relative redirects (a renamed repo) and stops at absolute ones (the
         * CDN of an LFS file, whose headers are those of the hub's answer) */
        if (r.status >= 300 && r.status < 400 && r.location[0] == '/' && hops < 5) {
            hub_pathf(url, sizeof url, "%s%s", p->endpoint, r.location);
            continue;
        }
        break;
    }
    if (r.status >= 400) {
        char what[1200];
        hub_pathf(what, sizeof what, "%s (%s)", file, p->n.id);
        return status_error(p, &r, what, e);
    }
    const char *etag = r.linked_etag[0] ? r.linked_etag : r.etag;
    if (!valid_etag(etag))
        return qerr(e, "%s: the hub sent no usable ETag (got '%s'); is HF_ENDPOINT a Hugging Face hub?", url, etag);
    hub_pathf(m->etag, sizeof m->etag, "%s", etag);
    m->lfs = r.linked_etag[0] && is_sha256(r.linked_etag);
    m->size = r.linked_size >= 0 ? r.linked_size : (r.status >= 300 && r.status < 400) ? -1 : r.content_length;
    if (r.status >= 300 && r.status < 400 && r.location[0]) {
        if (r.location[0] == '/') hub_pathf(m->url, sizeof m->url, "%s%s", p->endpoint, r.location);
        else hub_pathf(m->url, sizeof m->url, "%s", r.location);
    } else {
        hub_pathf(m->url, sizeof m->url, "%s", url);
    }
    return 0;
}

static int on_progress(void *ud, uint64_t have, uint64_t total) {
    puller *p = ud;
    if (!total || have < total) progress(p, p->file, have, total); /* the end is reported once, by fetch_file */
    return 0;
}

static uint64_t free_bytes(const char *dir) {
    struct statvfs v;
    if (statvfs(dir, &v)) return UINT64_MAX;
    return (uint64_t)v.f_bavail * v.f_frsize;
}

/* Downloads m into blob (under the lock). */
static int download_blob(puller *p, const char *file, const file_meta *m, const char *blob, qwen3_err *e) {
    char part[HUB_PATH_MAX + 16];
    hub_pathf(part, sizeof part, "%s.incomplete", blob);
    int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return qerr(e, "cannot create %s: %s", part, strerror(errno));
    struct stat st;
    fstat(fd, &st);
    uint64_t have = (uint64_t)st.st_size;
    if (m->size >= 0 && have > (uint64_t)m->size) { /* not a prefix of this file: start over */
        if (ftruncate(fd, 0)) { close(fd); return qerr(e, "%s: %s", part, strerror(errno)); }
        have = 0;
    }
    if (have) note(p, "%s: resuming at %llu of %lld bytes", file, (unsigned long long)have, m->size);
    char dir[HUB_PATH_MAX];
    hub_pathf(dir, sizeof dir, "%s/blobs", p->repo);
    if (m->size >= 0 && (uint64_t)m->size > have) {
        uint64_t need = (uint64_t)m->size - have, avail = free_bytes(dir);
        if (need > avail) {
            close(fd);
            return qerr(e, "%s: not enough disk space: %.2f GB to download, %.2f GB free in %s: free some space "
                           "or point HF_HUB_CACHE at another disk", file, need / 1e9, avail / 1e9, dir);
        }
    }
    p->file = file;
    int done = 0;
    for (int attempt = 1; !done; attempt++) {
        hub_resp r;
        qwen3_err te = {0};
        int rc = hub_http_download(m->url, p->has_token ? p->token : NULL, fd, have,
                                   m->size >= 0 ? (uint64_t)m->size : 0, on_progress, p, &r, &te);
        char why[1400] = "";
        fstat(fd, &st);
        have = (uint64_t)st.st_size;
        if (rc && (r.disk_full || r.write_errno == EFBIG)) {
            hub_resp_free(&r);
            close(fd);
            return qerr(e, "%s: disk full writing %s (%s) after %llu bytes: free some space or point HF_HUB_CACHE at "
                           "another disk, then pull again (the download resumes)", file, part, strerror(r.write_errno),
                        (unsigned long long)have);
        }
        if (rc && r.write_errno) {
            hub_resp_free(&r);
            close(fd);
            return qerr(e, "%s: writing %s: %s", file, part, strerror(r.write_errno));
        }
        if (rc) hub_pathf(why, sizeof why, "%s", te.msg);
        else if (r.status == 200 || r.status == 206 || r.status == 416) {
            if (m->size < 0 || have == (uint64_t)m->size) done = 1;
            else if (have > (uint64_t)m->size || r.status == 416) {
                if (ftruncate(fd, 0) == 0) have = 0;
                hub_pathf(why, sizeof why, "%s: the server sent more bytes than the %lld announced", file, m->size);
            } else hub_pathf(why, sizeof why, "%s: connection closed at %llu of %lld bytes", file, (unsigned long long)have, m->size);
        } else if (!retryable(r.status)) {
            char what[1200];
            hub_pathf(what, sizeof what, "%s (%s)", file, p->n.id);
            status_error(p, &r, what, e);
            hub_resp_free(&r);
            close(fd);
            return -1;
        } else hub_pathf(why, sizeof why, "%s: HTTP %ld", file, r.status);
        hub_resp_free(&r);
        if (done) break;
        if (attempt >= p->retries) {
            close(fd);
            return qerr(e, "%s (gave up after %d attempts; %llu bytes kept in %s: pull again to resume)", why, attempt,
                        (unsigned long long)have, part);
        }
        backoff(p, attempt + 1, why);
    }
    if (fsync(fd) && errno != EINVAL) { int er = errno; close(fd); return qerr(e, "%s: %s", part, strerror(er)); }
    close(fd);
    if (m->lfs) {
        char got[65];
        if (hub_sha256_file(part, got, e)) return -1;
        if (strcmp(got, m->etag)) {
            unlink(part);
            return qerr(e, "%s: checksum mismatch: the hub's sha256 is %s, the download's is %s; the bad file was "
                           "deleted: pull again (if it persists, the mirror at %s serves a corrupt file)",
                        file, m->etag, got, p->endpoint);
        }
    }
    if (rename(part, blob)) return qerr(e, "cannot rename %s to %s: %s", part, blob, strerror(errno));
    return 0;
}

/* Points snapshots/COMMIT/file at blobs/etag by a relative symlink, replaced atomically. */
static int link_pointer(puller *p, const char *file, const char *etag, qwen3_err *e) {
    char ptr[HUB_PATH_MAX], tmp[HUB_PATH_MAX + 32], target[HUB_PATH_MAX];
    if (hub_pathf(ptr, sizeof ptr, "%s/snapshots/%s/%s", p->repo, p->commit, file) >= (int)sizeof ptr)
        return qerr(e, "%s: path too long", file);
    if (hub_mkdirs_for(ptr, e)) return -1;
    size_t k = 0;
    int depth = 2;
    for (const char *c = file; *c; c++) depth += *c == '/';
    for (int i = 0; i < depth; i++) k += (size_t)hub_pathf(target + k, sizeof target - k, "../");
    hub_pathf(target + k, sizeof target - k, "blobs/%s", etag);
    char cur[HUB_PATH_MAX];
    ssize_t cl = readlink(ptr, cur, sizeof cur - 1);
    if (cl >= 0) { cur[cl] = 0; if (!strcmp(cur, target)) return 0; }
    hub_pathf(tmp, sizeof tmp, "%s.%ld.tmp", ptr, (long)getpid());
    unlink(tmp);
    if (symlink(target, tmp)) return qerr(e, "cannot create the link %s: %s", tmp, strerror(errno));
    if (rename(tmp, ptr)) { int er = errno; unlink(tmp); return qerr(e, "cannot create %s: %s", ptr, strerror(er)); }
    return 0;
}

static int fetch_file(puller *p, const char *file, qwen3_err *e) {
    file_meta m;
    if (head_file(p, file, &m, e)) return -1;
    char blob[HUB_PATH_MAX], lock[HUB_PATH_MAX];
    hub_pathf(blob, sizeof blob, "%s/blobs/%s", p->repo, m.etag);
    struct stat st;
    if (stat(blob, &st)) {
        if (hub_pathf(lock, sizeof lock, "%s/.locks/models--%s--%s/%s.lock", p->cache, p->n.org, p->n.repo, m.etag) >=
            (int)sizeof lock)
            return qerr(e, "path too long");
        if (hub_mkdirs_for(lock, e) || hub_mkdirs_for(blob, e)) return -1;
        int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lfd < 0) return qerr(e, "cannot create the lock %s: %s", lock, strerror(errno));
        if (flock(lfd, LOCK_EX | LOCK_NB)) {
            note(p, "%s: waiting for another download of the same file (lock %s)", file, lock);
            while (flock(lfd, LOCK_EX) && errno == EINTR) {}
        }
        int rc = 0;
        if (stat(blob, &st)) rc = download_blob(p, file, &m, blob, e); /* not done by the other one */
        close(lfd); /* releases the lock; the lock file stays, as huggingface_hub leaves it */
        if (rc) return -1;
        if (stat(blob, &st)) return qerr(e, "%s: %s", blob, strerror(errno));
    }
    if (m.size >= 0 && st.st_size != m.size)
        return qerr(e, "%s: the cached blob %s has %lld bytes, the hub says %lld: remove the model (qwen3 rm %s) and "
                       "pull again", file, blob, (long long)st.st_size, m.size, p->n.id);
    progress(p, file, (uint64_t)st.st_size, (uint64_t)st.st_size);
    return link_pointer(p, file, m.etag, e);
}

/* Writes refs/REV = commit (atomically), unless REV is the commit itself. */
static int write_ref(puller *p, qwen3_err *e) {
    const char *rev = hub_rev(&p->n);
    if (!strcmp(rev, p->commit)) return 0;
    char ref[HUB_PATH_MAX], tmp[HUB_PATH_MAX + 32];
    if (hub_pathf(ref, sizeof ref, "%s/refs/%s", p->repo, rev) >= (int)sizeof ref) return qerr(e, "path too long");
    if (hub_mkdirs_for(ref, e)) return -1;
    hub_pathf(tmp, sizeof tmp, "%s.%ld.tmp", ref, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return qerr(e, "cannot write %s: %s", tmp, strerror(errno));
    int bad = fputs(p->commit, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, ref)) { unlink(tmp); return qerr(e, "cannot write %s: %s", ref, strerror(errno)); }
    return 0;
}

/* The files of a safetensors checkpoint (format/mdir.h names them): the top-level configuration and
 * tokenizer files, and the weights (the shards the index names, else every top-level .safetensors). */
static int pull_safetensors(puller *p, const listing *l, qwen3_err *e) {
    int has_cfg = 0, n_st = 0, has_index = 0;
    for (int i = 0; i < l->n; i++) {
        has_cfg |= !strcmp(l->files[i], MDIR_CONFIG);
        has_index |= !strcmp(l->files[i], MDIR_INDEX);
        n_st += mdir_is_safetensors_name(l->files[i]);
    }
    if (!has_cfg || (!n_st && !has_index))
        return qerr(e, "%s (revision %s) has %s: qwen3 reads Hugging Face safetensors checkpoints and GGUF files (for "
                       "a GGUF repo add a quant tag, e.g. %s:Q4_K_M)", p->n.id, hub_rev(&p->n),
                    !has_cfg ? "no config.json" : "no .safetensors weights", p->n.id);
    for (int i = 0; i < l->n; i++)
        if (mdir_is_side_name(l->files[i]) && fetch_file(p, l->files[i], e)) return -1;
    /* weights: the index's shards, else every top-level .safetensors */
    char **shards = NULL;
    int n_shards = 0;
    if (has_index) {
        char idx[HUB_PATH_MAX];
        hub_pathf(idx, sizeof idx, "%s/snapshots/%s/" MDIR_INDEX, p->repo, p->commit);
        size_t len;
        char *txt = qfile_read(idx, 64u << 20, &len, e);
        if (!txt) return -1;
        json_error_t je;
        json_t *root = json_loadb(txt, len, 0, &je);
        free(txt);
        json_t *wm = root ? json_object_get(root, "weight_map") : NULL;
        if (!json_is_object(wm)) {
            json_decref(root);
            return qerr(e, "%s: " MDIR_INDEX " has no \"weight_map\" object", p->n.id);
        }
        shards = calloc(json_object_size(wm) + 1, sizeof *shards);
        const char *key;
        json_t *v;
        json_object_foreach(wm, key, v) {
            if (!json_is_string(v) || !hub_safe_relpath(json_string_value(v))) continue;
            int seen = 0;
            for (int j = 0; j < n_shards; j++) seen |= !strcmp(shards[j], json_string_value(v));
            if (!seen) shards[n_shards++] = strdup(json_string_value(v));
        }
        json_decref(root);
    } else {
        shards = calloc((size_t)l->n + 1, sizeof *shards);
        for (int i = 0; i < l->n; i++)
            if (mdir_is_safetensors_name(l->files[i])) shards[n_shards++] = strdup(l->files[i]);
    }
    int rc = 0;
    for (int i = 0; i < n_shards && !rc; i++) rc = fetch_file(p, shards[i], e);
    for (int i = 0; i < n_shards; i++) free(shards[i]);
    free(shards);
    return rc;
}

int qwen3_pull(const char *name, const qwen3_pull_opts *o, char *path, size_t cap, qwen3_err *e) {
    puller p = {.o = o};
    if (hub_name_parse(name, &p.n, e)) return -1;
    if (hub_cache_dir(p.cache, sizeof p.cache, e) || hub_repo_dir(&p.n, p.repo, sizeof p.repo, e)) return -1;
    const char *off = getenv("HF_HUB_OFFLINE");
    if (off && *off && strcmp(off, "0") && strcasecmp(off, "false") && strcasecmp(off, "no")) {
        if (hub_find_cached(&p.n, path, cap, e) == 0) return 0;
        return qerr_wrap(e, "HF_HUB_OFFLINE=%s forbids the network, and %s is not fully in the cache", off, name);
    }
    const char *ep = getenv("HF_ENDPOINT");
    hub_pathf(p.endpoint, sizeof p.endpoint, "%s", ep && *ep ? ep : "https://huggingface.co");
    for (size_t k = strlen(p.endpoint); k && p.endpoint[k - 1] == '/';) p.endpoint[--k] = 0;
    find_token(&p);
    p.retries = env_int("QWEN3_HUB_RETRIES", 5);
    if (p.retries < 1) p.retries = 1;
    p.backoff_ms = env_int("QWEN3_HUB_BACKOFF_MS", 1000);
    if (p.backoff_ms < 0) p.backoff_ms = 0;

    listing l = {0};
    if (get_listing(&p, &l, e)) return -1;
    int n_gguf = 0, n_st = 0;
    for (int i = 0; i < l.n; i++) {
        n_gguf += mdir_is_gguf_name(l.files[i]);
        size_t k = strlen(l.files[i]);
        n_st += k > 12 && !strcmp(l.files[i] + k - 12, ".safetensors");
    }
    int rc;
    if (p.n.tag[0] || (n_gguf && !n_st)) {
        unsigned char *pick = malloc((size_t)l.n + 1);
        int first = -1;
        if (!pick) { listing_free(&l); return qerr(e, "out of memory"); }
        rc = hub_gguf_pick((const char *const *)l.files, l.n, p.n.tag, pick, &first, e);
        if (rc < 0) qerr_wrap(e, "%s (revision %s)", p.n.id, hub_rev(&p.n));
        else {
            rc = 0;
            for (int i = 0; i < l.n && !rc; i++)
                if (pick[i]) rc = fetch_file(&p, l.files[i], e);
        }
        free(pick);
    } else {
        rc = pull_safetensors(&p, &l, e);
    }
    listing_free(&l);
    if (rc) return -1;
    if (write_ref(&p, e)) return -1;
    /* the answer is what resolution finds now: the snapshot, or the GGUF file in it */
    hub_name at = p.n;
    hub_pathf(at.rev, sizeof at.rev, "%s", p.commit);
    return hub_find_cached(&at, path, cap, e);
}
