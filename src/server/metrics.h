/* metrics.h - the server's counters, exported by GET /metrics in the Prometheus text format.
 *
 * Counters only grow (Prometheus computes rates); gauges (queue length, active generations,
 * tokens/s over the last 10 s) are read at scrape time. One mutex: every update is a few adds. */
#ifndef QWEN3_SERVER_METRICS_H
#define QWEN3_SERVER_METRICS_H

#include <stddef.h>

#include "qwen3.h"

typedef struct srv_metrics srv_metrics;

srv_metrics *srv_metrics_new(void);
void srv_metrics_free(srv_metrics *m);
/* One HTTP request answered on route (a fixed name such as "chat", "unknown") with status. */
void srv_metrics_request(srv_metrics *m, const char *route, int status);
/* The engine stepped: n tokens generated over all sequences in `seconds` of forward pass. */
void srv_metrics_step(srv_metrics *m, int n_tokens, double seconds);
/* A generation ended (stats of the request; finish as qwen3_finish, or -1 for a failure). */
void srv_metrics_done(srv_metrics *m, const qwen3_gen_stats *st, int finish, double ttft_s);
/* The exposition text, malloc'd. */
char *srv_metrics_text(srv_metrics *m, int active, int queued, int parallel, int queue_cap, size_t *len);

#endif
