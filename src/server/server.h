/* server.h - `qwen3 serve`: the OpenAI-compatible HTTP server, its pieces and how they meet.
 *
 *   http.c         libmicrohttpd glue: one thread per connection, limits, auth, body, routing
 *   routes/...     one handler per endpoint (JSON in, JSON or Server-Sent Events out)
 *   request.c      an OpenAI request body -> validated generation request (prompt ids, params)
 *   messages.c     chat messages as clients send them -> as the template reads them (content parts)
 *   respond.c      generated text -> chat / completion responses and SSE chunks
 *   scheduler.c    the engine thread: the only caller of the model, continuous batching, queue,
 *                  prefix-cache slots, cancellation
 *   metrics.c      counters for GET /metrics
 *   deadline.c     the total deadline for a request's headers and body (slow clients)
 *   json.c         typed field access with OpenAI-style errors, error bodies
 *
 * Threads: libmicrohttpd runs each connection on its own thread (so a slow or stuck client holds
 * one thread and nothing else); handlers validate and tokenize on that thread, hand a job to the
 * engine thread and wait for its text. The engine thread owns the model and every KV cache. */
#ifndef QWEN3_SERVER_H
#define QWEN3_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "qwen3.h"

/* What `qwen3 serve` was asked for. Zero means "the default" for every numeric field. */
typedef struct srv_config {
    const char *model_dir;
    const char *model_name;  /* the id in /v1/models and the "model" a request may name */
    const char *host;        /* listening address (default 127.0.0.1) */
    int port;                /* default 8080; 0: any free port (printed once listening) */
    int parallel;            /* generations decoding together (default 4) */
    int queue;               /* requests waiting beyond those (default 64) */
    int ctx;                 /* tokens per sequence (0: the model's maximum) */
    const char *api_key;     /* NULL: no authentication */
    int timeout_s;           /* idle connection timeout (default 30) */
    int header_timeout_s;    /* a request's headers and body must all arrive within this (default 30) */
    size_t max_body;         /* request body limit in bytes (default 8 MiB) */
    int max_conns;           /* connections at once (default 256) */
    int max_conns_per_ip;    /* connections from one address (0: an eighth of max_conns, at least 1) */
    int chat_kind;           /* qwen3_chat_kind; -1: detect from the model directory */
    int drain_s;             /* on SIGINT/SIGTERM, how long in-flight requests may finish (default 30) */
    const char *draft_dir;   /* --draft: speculative decoding for every request (NULL: off) */
    int draft_n;             /* --draft-n (0: the default) */
    qwen3_load_opts load;
} srv_config;

/* Shared, read-only after start-up (plus the thread-safe scheduler and metrics). */
typedef struct srv_scheduler srv_scheduler;
typedef struct srv_metrics srv_metrics;
typedef struct srv_deadlines srv_deadlines;

typedef struct srv {
    srv_config cfg;
    qwen3_model *model;
    qwen3_tokenizer *tok;
    qwen3_model *draft;      /* --draft (NULL without) */
    qwen3_chat_kind chat_kind;
    int n_ctx;               /* capacity of every sequence */
    qwen3_sampling defaults[2]; /* per mode (non-thinking, thinking), read once at start */
    long created;            /* start time, for /v1/models */
    srv_scheduler *sched;
    srv_metrics *metrics;
    srv_deadlines *deadlines; /* the request deadline's watchdog (deadline.c) */
    volatile int draining;   /* set on SIGINT/SIGTERM: new generations get 503 */
    int streams;             /* event streams not yet released by the HTTP layer (atomic; http.c): a
                              * drain waits for them too, as a finished job's last events may still
                              * be on their way to the client */
} srv;

/* Runs the server until SIGINT/SIGTERM; returns the process exit status. Prints errors to stderr. */
int srv_run(const srv_config *cfg);

/* A random 64-bit number for ids and unseeded requests (thread-safe, never the same twice). */
uint64_t srv_random64(void);

#endif
