/* http.c - the HTTP layer: libmicrohttpd set-up, limits, authentication, body collection and the
 * route table.
 *
 * Why thread-per-connection: a handler may wait for its generation (non-streaming) and a stream's
 * reader waits for the next tokens; on its own thread that wait blocks nobody else. What a bad client
 * can hold is bounded: one thread per connection, --max-conns connections in all and
 * --max-conns-per-ip from one address (an eighth of --max-conns by default, so one address cannot
 * take them all), an idle timeout (a client that stops reading), a total deadline for the request's
 * headers and body (--header-timeout, deadline.c: a client that sends one byte every few seconds
 * restarts the idle timeout for ever), a body limit (413; a chunked body that never ends is cut off
 * when it passes the limit), and a generation is cancelled as soon as its client goes away
 * (srv_client_gone). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "server/deadline.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/routes/routes.h"

typedef struct route {
    const char *method;
    const char *path;
    const char *name;   /* metrics label */
    srv_handler fn;
    int open;           /* answered without the API key */
} route;

static const route ROUTES[] = {
    {"POST", "/v1/chat/completions", "chat", srv_route_chat, 0},
    {"POST", "/v1/completions", "completions", srv_route_completions, 0},
    {"GET", "/v1/models", "models", srv_route_models, 0},
    {"GET", "/health", "health", srv_route_health, 1},
    {"GET", "/metrics", "metrics", srv_route_metrics, 0},
    {"POST", "/v1/embeddings", "embeddings", srv_route_embeddings, 0},
    {"POST", "/tokenize", "tokenize", srv_route_tokenize, 0},
    {"POST", "/detokenize", "detokenize", srv_route_detokenize, 0},
    {"GET", "/", "page", srv_route_page, 1}, /* static; its requests carry the key */
};
#define N_ROUTES (int)(sizeof ROUTES / sizeof ROUTES[0])

/* Per-request state, from the first call of the access handler to the completion notice. */
typedef struct conn {
    const route *r;     /* NULL: answered before routing (404, 405) */
    sbuf body;
    int too_big;
    size_t received;    /* body bytes seen, kept or not */
    int answered;
    int status;
} conn;

/* ---- replies ---------------------------------------------------------------------------------- */

static enum MHD_Result queue(srv_http_req *q, int status, struct MHD_Response *resp, const char *type) {
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (q->warning[0]) MHD_add_response_header(resp, "X-Qwen3-Warning", q->warning);
    enum MHD_Result rc = MHD_queue_response(q->c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    q->status = status;
    return rc;
}

enum MHD_Result srv_reply_json(srv_http_req *q, int status, char *body, size_t len) {
    if (!body) {
        srv_error e;
        srv_fail(&e, 500, NULL, NULL, "out of memory");
        return srv_reply_error(q, &e, 0);
    }
    return queue(q, status, MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE), "application/json");
}

enum MHD_Result srv_reply_text(srv_http_req *q, int status, const char *type, const char *text, size_t len) {
    return queue(q, status, MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY), type);
}

enum MHD_Result srv_reply_error(srv_http_req *q, const srv_error *e, int retry_after_s) {
    size_t len = 0;
    char *body = srv_error_body(e, &len);
    if (!body) return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(body); return MHD_NO; }
    if (e->status == 429 && retry_after_s > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (e->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    return queue(q, e->status, resp, "application/json");
}

/* A stream's reader and release, wrapped so that the server counts the streams still open: MHD
 * releases a response once the connection is done with it (sent or closed), which can be after the
 * job that produced it has left the scheduler. */
typedef struct stream_wrap {
    MHD_ContentReaderCallback reader;
    MHD_ContentReaderFreeCallback free_cb;
    void *cls;
    srv *s;
} stream_wrap;

static ssize_t wrap_read(void *cls, uint64_t pos, char *buf, size_t max) {
    stream_wrap *w = cls;
    return w->reader(w->cls, pos, buf, max);
}

static void wrap_free(void *cls) {
    stream_wrap *w = cls;
    w->free_cb(w->cls);
    __atomic_sub_fetch(&w->s->streams, 1, __ATOMIC_SEQ_CST);
    free(w);
}

enum MHD_Result srv_reply_stream(srv_http_req *q, MHD_ContentReaderCallback reader, void *cls,
                                 MHD_ContentReaderFreeCallback free_cb) {
    stream_wrap *w = malloc(sizeof *w);
    if (!w) { free_cb(cls); return MHD_NO; }
    *w = (stream_wrap){reader, free_cb, cls, q->s};
    __atomic_add_fetch(&q->s->streams, 1, __ATOMIC_SEQ_CST);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, wrap_read, w, wrap_free);
    if (!resp) { wrap_free(w); return MHD_NO; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return queue(q, 200, resp, "text/event-stream");
}

json_t *srv_body_json(srv_http_req *q, srv_error *e) {
    json_error_t je;
    if (!q->body_len) { srv_bad(e, NULL, "the request body is empty; a JSON object is expected"); return NULL; }
    json_t *v = json_loadb(q->body, q->body_len, JSON_DECODE_ANY, &je);
    if (!v) {
        srv_bad(e, NULL, "the request body is not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        srv_bad(e, NULL, "the request body must be a JSON object, got %s", jx_type_name(v));
        json_decref(v);
        return NULL;
    }
    return v;
}

/* Not POLLRDHUP: a client may shut down its write side once the request is sent (some HTTP clients
 * and proxies do) and still read the answer, and a FIN looks the same whether the peer half-closed
 * or closed. Only a socket that failed (a reset, which is what a write to a closed peer brings) or
 * is shut both ways counts as gone; streams learn it from their next write (a token or the
 * keep-alive comment), so a closed client is noticed within one keep-alive period. */
int srv_client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 1;
    struct pollfd p = {ci->connect_fd, 0, 0};
    if (poll(&p, 1, 0) < 0) return 0;
    return (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

void srv_conn_timeout(srv_http_req *q, int on) {
    MHD_set_connection_option(q->c, MHD_CONNECTION_OPTION_TIMEOUT, on ? (unsigned)q->s->cfg.timeout_s : 0u);
}

/* ---- the access handler ------------------------------------------------------------------------ */

/* Constant-time comparison: the key's length may leak, its bytes may not. */
static int key_ok(const char *given, const char *want) {
    size_t n = strlen(want);
    if (strlen(given) != n) return 0;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(given[i] ^ want[i]);
    return d == 0;
}

static int authorized(srv *s, struct MHD_Connection *c) {
    if (!s->cfg.api_key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && !strncasecmp(h, "Bearer ", 7)) return key_ok(h + 7, s->cfg.api_key);
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key");
    return h && key_ok(h, s->cfg.api_key);
}

static enum MHD_Result answer_error(srv *s, struct MHD_Connection *c, conn *k, int status, const char *code,
                                    const char *fmt, const char *arg) {
    srv_error e;
    srv_fail(&e, status, NULL, code, fmt, arg);
    srv_http_req q = {s, c, NULL, 0, 0, ""};
    enum MHD_Result rc = srv_reply_error(&q, &e, 0);
    k->answered = 1;
    k->status = q.status;
    return rc;
}

/* The connection's deadline record (see on_connection). */
static srv_deadline_conn *deadline_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    srv *s = cls;
    conn *k = *con_cls;
    if (!k) { /* headers are in: route, authenticate and check the declared size before any body */
        if (!(k = calloc(1, sizeof *k))) return MHD_NO;
        *con_cls = k;
        const char *path = url;
        int path_known = 0;
        for (int i = 0; i < N_ROUTES; i++) {
            if (strcmp(ROUTES[i].path, path)) continue;
            path_known = 1;
            if (!strcmp(ROUTES[i].method, method)) k->r = &ROUTES[i];
        }
        if (!path_known) return answer_error(s, c, k, 404, "not_found", "unknown route '%s'", url);
        if (!k->r) return answer_error(s, c, k, 405, "method_not_allowed", "method %s is not allowed here", method);
        if (!k->r->open && !authorized(s, c))
            return answer_error(s, c, k, 401, "invalid_api_key", "%s",
                                "a valid API key is required (header 'Authorization: Bearer KEY')");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
            char lim[32];
            snprintf(lim, sizeof lim, "%zu", s->cfg.max_body);
            return answer_error(s, c, k, 413, "request_too_large", "the request body is over the limit of %s bytes", lim);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (k->answered) return MHD_YES;
        k->received += n;
        if (k->too_big || k->body.len + n > s->cfg.max_body) {
            /* over the limit (a chunked body, whose size was not declared): read and drop the rest
             * so the client gets its 413, but cut off a body that goes on far past the limit, so a
             * body that never ends costs nothing more */
            if (!k->too_big) sb_free(&k->body);
            k->too_big = 1;
            return k->received > 2 * s->cfg.max_body ? MHD_NO : MHD_YES;
        }
        sb_put(&k->body, upload, n);
        return k->body.oom ? MHD_NO : MHD_YES;
    }
    srv_deadline_arm(s->deadlines, deadline_of(c), 0); /* headers and body are in */
    if (k->answered) return MHD_YES;
    if (k->too_big) {
        char lim[32];
        snprintf(lim, sizeof lim, "%zu", s->cfg.max_body);
        return answer_error(s, c, k, 413, "request_too_large", "the request body is over the limit of %s bytes", lim);
    }
    srv_http_req q = {s, c, k->body.s ? k->body.s : "", k->body.len, 0, ""};
    enum MHD_Result rc = k->r->fn(&q);
    k->answered = 1;
    k->status = q.status;
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
    srv *s = cls;
    conn *k = *con_cls;
    /* a kept-alive connection's next request has the whole deadline again, from now */
    srv_deadline_arm(s->deadlines, deadline_of(c), 1);
    if (!k) return;
    if (k->answered) srv_metrics_request(s->metrics, k->r ? k->r->name : "unknown", k->status);
    sb_free(&k->body);
    free(k);
    *con_cls = NULL;
}

/* Each connection gets a deadline record as it opens (its socket context), dropped as it closes. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    srv *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? srv_deadline_open(s->deadlines, ci->connect_fd) : NULL;
    } else {
        srv_deadline_close(s->deadlines, *socket_context);
        *socket_context = NULL;
    }
}

/* ---- the daemon -------------------------------------------------------------------------------- */

int srv_http_listen(const srv *s) {
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    int gai = getaddrinfo(s->cfg.host, port, &hints, &ai);
    if (gai) {
        fprintf(stderr, "qwen3 serve: --host %s: %s\n", s->cfg.host, gai_strerror(gai));
        return -1;
    }
    /* Exclusive: SO_REUSEADDR only lets us re-bind over connections in TIME_WAIT after a restart;
     * no SO_REUSEPORT, so a port another process listens on is refused, never shared with it. */
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol), one = 1, err = 0;
    if (fd < 0) err = errno;
    else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) || bind(fd, ai->ai_addr, ai->ai_addrlen) ||
             listen(fd, 128))
        err = errno;
    freeaddrinfo(ai);
    if (err) {
        if (fd >= 0) close(fd);
        const char *h = strchr(s->cfg.host, ':') ? "[" : "", *t = *h ? "]" : "";
        if (err == EADDRINUSE)
            fprintf(stderr, "qwen3 serve: cannot listen on %s%s%s:%d: address already in use (another server holds "
                    "port %d; stop it or choose another --port)\n", h, s->cfg.host, t, s->cfg.port, s->cfg.port);
        else
            fprintf(stderr, "qwen3 serve: cannot listen on %s%s%s:%d: %s%s\n", h, s->cfg.host, t, s->cfg.port,
                    strerror(err), err == EADDRNOTAVAIL ? " (not an address of this machine: see --host)" : "");
        return -1;
    }
    return fd;
}

struct MHD_Daemon *srv_http_start(srv *s, int listen_fd, int *bound_port) {
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_conns,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->cfg.max_conns_per_ip,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "qwen3 serve: cannot start the HTTP server on %s:%d\n", s->cfg.host, s->cfg.port);
        return NULL;
    }
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    *bound_port = s->cfg.port;
    if (!getsockname(listen_fd, (struct sockaddr *)&sa, &sl))
        *bound_port = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&sa)->sin_port);
    return d;
}
