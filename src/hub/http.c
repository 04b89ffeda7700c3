/* http.c - libcurl for the hub: see http.h. One easy handle per request (a pull makes a few dozen
 * requests, so connection reuse is not worth shared state). Timeouts: connect 15 s; a transfer that
 * moves no byte for $QWEN3_HUB_TIMEOUT seconds (default 30) is abandoned, and the caller retries. */
#include <ctype.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "hub/http.h"

/* libcurl is opened when the hub first needs it, not linked: its thirty-odd libraries (TLS, LDAP,
 * Kerberos, SSH, ...) cost every start of qwen3 about 16 ms of loading and relocation here (a
 * start took 45-55 ms, `qwen3 --version`), and only `pull` and friends use them. The pointers take
 * their types from curl.h (__typeof__), so a prototype that does not match fails to compile. */
#define CURL_FUNCS(X) X(global_init) X(easy_init) X(easy_setopt) X(easy_perform) X(easy_cleanup) \
    X(easy_strerror) X(slist_append) X(slist_free_all)
static struct {
#define X(f) __typeof__(curl_##f) *f;
    CURL_FUNCS(X)
#undef X
} C;
static const struct { const char *name; size_t off; } curl_syms[] = {
#define X(f) {"curl_" #f, offsetof(__typeof__(C), f)},
    CURL_FUNCS(X)
#undef X
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;
static char load_err[300]; /* why libcurl could not be opened; empty when it was */

static void global_init(void) {
    /* Debian's libcurl4 (OpenSSL), else libcurl3-gnutls: the same API */
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libcurl-gnutls.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_err, sizeof load_err, "%s (Debian: apt-get install libcurl4)", dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof curl_syms / sizeof curl_syms[0]; i++) {
        void *f = dlsym(lib, curl_syms[i].name);
        if (!f) {
            snprintf(load_err, sizeof load_err, "the libcurl found has no %s", curl_syms[i].name);
            dlclose(lib);
            return;
        }
        memcpy((char *)&C + curl_syms[i].off, &f, sizeof f); /* POSIX: a data pointer holds a function's */
    }
    init_rc = C.global_init(CURL_GLOBAL_DEFAULT);
}

static long stall_seconds(void) {
    const char *v = getenv("QWEN3_HUB_TIMEOUT");
    long s = v ? atol(v) : 0;
    return s > 0 ? s : 30;
}

typedef struct ctx {
    hub_resp *r;
    /* memory body */
    sbuf body;
    int keep_body;
    /* file body */
    int fd;
    uint64_t have, total, start;
    int truncated_once;
    hub_progress_fn progress;
    void *ud;
    /* stall detection: libcurl's low-speed check averages over ~5 s, so a short limit would take
     * seconds longer than asked; the progress callback (called at least once a second) is exact */
    uint64_t last_have;
    double last_change;
    int stalled;
} ctx;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Copies a header value without surrounding space, W/ prefix or quotes (etags). */
static void header_value(const char *v, size_t n, char *out, size_t cap, int etag) {
    while (n && isspace((unsigned char)*v)) v++, n--;
    while (n && isspace((unsigned char)v[n - 1])) n--;
    if (etag) {
        if (n >= 2 && v[0] == 'W' && v[1] == '/') v += 2, n -= 2;
        while (n && *v == '"') v++, n--;
        while (n && v[n - 1] == '"') n--;
    }
    if (n >= cap) n = cap - 1;
    memcpy(out, v, n);
    out[n] = 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
    ctx *c = ud;
    hub_resp *r = c->r;
    size_t n = size * nitems;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) { /* a new response (after a redirect): reset */
        const char *sp = memchr(buf, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->commit[0] = r->etag[0] = r->linked_etag[0] = r->location[0] = r->error_code[0] = r->error_msg[0] = 0;
        r->linked_size = r->content_length = -1;
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon) return n;
    size_t kn = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vn = n - kn - 1;
    char tmp[64];
#define IS(name) (kn == sizeof(name) - 1 && !strncasecmp(buf, name, kn))
    if (IS("x-repo-commit")) header_value(v, vn, r->commit, sizeof r->commit, 0);
    else if (IS("etag")) header_value(v, vn, r->etag, sizeof r->etag, 1);
    else if (IS("x-linked-etag")) header_value(v, vn, r->linked_etag, sizeof r->linked_etag, 1);
    else if (IS("location")) header_value(v, vn, r->location, sizeof r->location, 0);
    else if (IS("x-error-code")) header_value(v, vn, r->error_code, sizeof r->error_code, 0);
    else if (IS("x-error-message")) header_value(v, vn, r->error_msg, sizeof r->error_msg, 0);
    else if (IS("x-linked-size")) { header_value(v, vn, tmp, sizeof tmp, 0); r->linked_size = strtoll(tmp, NULL, 10); }
    else if (IS("content-length")) { header_value(v, vn, tmp, sizeof tmp, 0); r->content_length = strtoll(tmp, NULL, 10); }
#undef IS
    return n;
}

static size_t on_body_mem(char *buf, size_t size, size_t nmemb, void *ud) {
    ctx *c = ud;
    size_t n = size * nmemb;
    if (!c->keep_body) return n;
    if (n > (16u << 20) - c->body.len - 1) return 0; /* API answers are small: refuse a runaway body */
    return sb_put(&c->body, buf, n) ? 0 : n;
}

static size_t on_body_file(char *buf, size_t size, size_t nmemb, void *ud) {
    ctx *c = ud;
    hub_resp *r = c->r;
    size_t n = size * nmemb;
    if (r->status != 200 && r->status != 206) { /* an error page: keep a little of it for the message */
        if (c->body.len < 512) on_body_mem(buf, 1, n < 512 - c->body.len ? n : 512 - c->body.len, ud);
        return n;
    }
    if (r->status == 200 && c->have > 0 && !c->truncated_once) {
        /* the server ignored our Range: start the file over */
        if (ftruncate(c->fd, 0) || lseek(c->fd, 0, SEEK_SET) < 0) { r->write_errno = errno; return 0; }
        c->have = 0;
        r->restarted = 1;
        c->truncated_once = 1;
    }
    c->truncated_once = 1;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(c->fd, buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            r->write_errno = errno;
            r->disk_full = errno == ENOSPC || errno == EDQUOT;
            return 0;
        }
        off += (size_t)w;
    }
    c->have += n;
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    ctx *c = ud;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    double t = mono();
    if (c->have != c->last_have || c->last_change == 0) {
        c->last_have = c->have;
        c->last_change = t;
    } else if (t - c->last_change >= (double)stall_seconds()) {
        c->stalled = 1;
        return 1;
    }
    return c->progress ? c->progress(c->ud, c->have, c->total) : 0;
}

static CURL *easy(const char *url, const char *token, struct curl_slist **hdrs, ctx *c, qwen3_err *e) {
    pthread_once(&once, global_init);
    if (load_err[0]) return qerr(e, "cannot open libcurl: %s", load_err), NULL;
    if (init_rc != CURLE_OK) return qerr(e, "libcurl: %s", C.easy_strerror(init_rc)), NULL;
    CURL *h = C.easy_init();
    if (!h) return qerr(e, "libcurl: cannot create a handle"), NULL;
    *hdrs = C.slist_append(NULL, "User-Agent: qwen3");
    if (token && *token) {
        char a[4200];
        snprintf(a, sizeof a, "Authorization: Bearer %s", token);
        *hdrs = C.slist_append(*hdrs, a);
    }
    C.easy_setopt(h, CURLOPT_URL, url);
    C.easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    C.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    C.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    C.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    C.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_seconds());
    C.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    C.easy_setopt(h, CURLOPT_HEADERDATA, c);
    C.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL); /* identity: sizes must be the file's */
    C.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    C.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    return h;
}

static int transport_error(CURLcode rc, const char *url, const char *errbuf, qwen3_err *e) {
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return qerr(e, "%s: no data for %ld s (QWEN3_HUB_TIMEOUT): %s", url, stall_seconds(), errbuf[0] ? errbuf : C.easy_strerror(rc));
    return qerr(e, "%s: %s", url, errbuf[0] ? errbuf : C.easy_strerror(rc));
}

int hub_http(const char *method, const char *url, const char *token, hub_resp *r, qwen3_err *e) {
    memset(r, 0, sizeof *r);
    r->linked_size = r->content_length = -1;
    ctx c = {.r = r, .keep_body = strcmp(method, "HEAD") != 0};
    struct curl_slist *hdrs = NULL;
    CURL *h = easy(url, token, &hdrs, &c, e);
    if (!h) return -1;
    char errbuf[CURL_ERROR_SIZE] = "";
    C.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (!strcmp(method, "HEAD")) C.easy_setopt(h, CURLOPT_NOBODY, 1L);
    C.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_mem);
    C.easy_setopt(h, CURLOPT_WRITEDATA, &c);
    CURLcode rc = C.easy_perform(h);
    C.easy_cleanup(h);
    C.slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        sb_free(&c.body);
        r->status = 0;
        return transport_error(rc, url, errbuf, e);
    }
    r->body = c.body.s; /* NULL when nothing came */
    r->len = c.body.len;
    return 0;
}

int hub_http_download(const char *url, const char *token, int fd, uint64_t have, uint64_t total,
                      hub_progress_fn progress, void *ud, hub_resp *r, qwen3_err *e) {
    memset(r, 0, sizeof *r);
    r->linked_size = r->content_length = -1;
    ctx c = {.r = r, .keep_body = 1, .fd = fd, .have = have, .start = have, .total = total,
             .progress = progress, .ud = ud};
    if (lseek(fd, (off_t)have, SEEK_SET) < 0) return qerr(e, "seek: %s", strerror(errno));
    struct curl_slist *hdrs = NULL;
    CURL *h = easy(url, token, &hdrs, &c, e);
    if (!h) return -1;
    char errbuf[CURL_ERROR_SIZE] = "", range[48];
    C.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    C.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    C.easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    if (have > 0) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)have);
        C.easy_setopt(h, CURLOPT_RANGE, range);
    }
    C.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_file);
    C.easy_setopt(h, CURLOPT_WRITEDATA, &c);
    C.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    C.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    C.easy_setopt(h, CURLOPT_XFERINFODATA, &c);
    CURLcode rc = C.easy_perform(h);
    C.easy_cleanup(h);
    C.slist_free_all(hdrs);
    r->body = c.body.s; /* NULL when nothing came */
    r->len = c.body.len;
    if (rc == CURLE_WRITE_ERROR && r->write_errno)
        return qerr(e, "writing the download: %s", strerror(r->write_errno));
    if (rc == CURLE_ABORTED_BY_CALLBACK && c.stalled)
        return qerr(e, "%s: no data for %ld s (QWEN3_HUB_TIMEOUT)", url, stall_seconds());
    if (rc == CURLE_ABORTED_BY_CALLBACK) return qerr(e, "%s: download interrupted", url);
    if (rc != CURLE_OK) return transport_error(rc, url, errbuf, e);
    return 0;
}

void hub_resp_free(hub_resp *r) {
    free(r->body);
    r->body = NULL;
}
