/* http.h - what route handlers see of the HTTP layer (libmicrohttpd underneath).
 *
 * A handler runs on its connection's own thread once the whole body has arrived (already checked
 * against the size limit and the API key). It answers exactly once through one of the srv_reply_*
 * calls, or by queueing a streaming response with srv_reply_stream. */
#ifndef QWEN3_SERVER_HTTP_H
#define QWEN3_SERVER_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <sys/types.h>

#include "server/json.h"
#include "server/server.h"

typedef struct srv_http_req {
    srv *s;
    struct MHD_Connection *c;
    const char *body;   /* NUL-terminated */
    size_t body_len;
    int status;         /* what was answered (for the metrics) */
    char warning[256];  /* non-empty: sent as the response's X-Qwen3-Warning header */
} srv_http_req;

/* JSON body (malloc'd, taken over; NULL answers 500 "out of memory"). */
enum MHD_Result srv_reply_json(srv_http_req *q, int status, char *body, size_t len);
/* Any text (copied). */
enum MHD_Result srv_reply_text(srv_http_req *q, int status, const char *content_type, const char *text, size_t len);
/* An OpenAI-style error (429 adds Retry-After when retry_after_s > 0). */
enum MHD_Result srv_reply_error(srv_http_req *q, const srv_error *e, int retry_after_s);
/* A 200 Server-Sent Events stream produced by reader; free_cb releases cls when the connection is
 * done with it (finished, failed or gone). */
enum MHD_Result srv_reply_stream(srv_http_req *q, MHD_ContentReaderCallback reader, void *cls,
                                 MHD_ContentReaderFreeCallback free_cb);

/* The body as a JSON object; NULL with a 400 in e when it is not one. */
json_t *srv_body_json(srv_http_req *q, srv_error *e);

/* 1 when the socket failed (a reset) or is shut both ways: the answer will never be read. A client
 * that only shut its write side (half-close) is still there and reading. */
int srv_client_gone(struct MHD_Connection *c);
/* Lifts the idle timeout while the server itself is the slow side (waiting for a generation), and
 * restores it (which also restarts the idle clock). */
void srv_conn_timeout(srv_http_req *q, int on);

/* Binds and listens on cfg host:port exclusively (before the model loads, so a taken port fails at
 * once). The socket, or -1 with a message on stderr naming the address ("address already in use"). */
int srv_http_listen(const srv *s);
/* Serves on listen_fd (which the daemon then owns) with the limits and timeouts, on its own threads;
 * *bound_port gets the port (useful with --port 0). NULL with a message on stderr on failure. */
struct MHD_Daemon *srv_http_start(srv *s, int listen_fd, int *bound_port);

#endif
