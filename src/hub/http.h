/* http.h - the few HTTP requests the hub needs, over libcurl: a request whose body is kept in
 * memory (the API's JSON, a HEAD's headers) and a download appended to a file from a byte offset
 * (HTTP Range), with the headers the hub sends (X-Repo-Commit, X-Linked-Etag, X-Linked-Size,
 * X-Error-Code, X-Error-Message). Redirects: not followed by hub_http (the caller reads Location, as
 * huggingface_hub does for HEAD), followed by hub_http_download (the CDN of LFS files). */
#ifndef QWEN3_HUB_HTTP_H
#define QWEN3_HUB_HTTP_H

#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

typedef struct hub_resp {
    long status;            /* HTTP status; 0 when no response came (transport error) */
    char *body;             /* hub_http: the body, NUL-terminated (free it); NULL for HEAD */
    size_t len;
    char commit[64];        /* X-Repo-Commit */
    char etag[160];         /* ETag, without W/ and quotes */
    char linked_etag[160];  /* X-Linked-Etag, without W/ and quotes (the LFS file's sha256) */
    long long linked_size;  /* X-Linked-Size, -1 when absent */
    long long content_length; /* Content-Length, -1 when absent */
    char location[2048];    /* Location of a redirect */
    char error_code[64];    /* X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) */
    char error_msg[256];    /* X-Error-Message */
    int disk_full;          /* hub_http_download: a write failed with ENOSPC/EDQUOT */
    int write_errno;        /* hub_http_download: errno of a failed write */
    int restarted;          /* hub_http_download: the server ignored Range and sent the whole file */
} hub_resp;

/* Progress of a download: bytes in the file so far, total expected (0: unknown). Return non-zero
 * to abort. */
typedef int (*hub_progress_fn)(void *ud, uint64_t have, uint64_t total);

/* method "GET" or "HEAD". token: sent as "Authorization: Bearer TOKEN" when not NULL. On a
 * transport error (no connection, timeout) returns -1 with the message; an HTTP error status is not
 * an error here (look at r->status). */
int hub_http(const char *method, const char *url, const char *token, hub_resp *r, qwen3_err *e);

/* GET url (following redirects) and append the body to fd, which holds `have` bytes already
 * (requested with Range: bytes=have-). A 200 answer to a Range request restarts the file from 0
 * (r->restarted). Returns 0 when the transfer ended normally (check r->status: 200/206 is success),
 * -1 on a transport error or a failed write. */
int hub_http_download(const char *url, const char *token, int fd, uint64_t have, uint64_t total,
                      hub_progress_fn progress, void *ud, hub_resp *r, qwen3_err *e);

void hub_resp_free(hub_resp *r);

#endif
