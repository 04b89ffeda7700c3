/* scheduler.h - the engine thread: continuous batching over a fixed set of slots.
 *
 * One thread owns the model. It keeps `parallel` slots, each a sequence (KV cache) that outlives
 * the requests using it: a finished request leaves its tokens cached, and a new request is given
 * the free slot whose cached tokens share the longest prefix with its prompt (a conversation's next
 * turn, a shared system prompt), so only the rest is prefilled. Every step advances all running
 * generations with ONE qwen3_gen_step; requests join between steps and leave as soon as they
 * finish or are cancelled (the slot is free for the next step). Beyond the slots a FIFO queue of
 * bounded length waits; a full queue refuses at once (the caller answers 429).
 *
 * A job is shared by the engine and the connection that submitted it (reference counted). The
 * connection reads its text with srv_job_wait and lets go with srv_job_release, which cancels the
 * job when it is not finished (a client that went away frees its slot before the next step). */
#ifndef QWEN3_SERVER_SCHEDULER_H
#define QWEN3_SERVER_SCHEDULER_H

#include "base/buf.h"
#include "qwen3.h"
#include "server/json.h"
#include "server/metrics.h"
#include "server/request.h"

typedef struct srv_scheduler srv_scheduler;
typedef struct srv_job srv_job;

/* Creates the slots (n_ctx tokens each) and starts the engine thread. draft (may be NULL): every
 * generation decodes speculatively with it, draft_n tokens per step (0: the default); each slot
 * then also holds a sequence of the draft, kept with the slot's own for prefix re-use. */
srv_scheduler *srv_sched_new(qwen3_model *m, const qwen3_tokenizer *tok, qwen3_model *draft, int draft_n, int parallel,
                             int queue, int n_ctx, srv_metrics *met, qwen3_err *err);
/* Stops admitting (submit answers 503 from now on); with cancel, also cancels every running and
 * queued job. Returns how many are still running or queued (poll it until 0). */
int srv_sched_drain(srv_scheduler *s, int cancel);
/* Stops the engine thread (cancelling anything left) and frees the slots. Every job must have
 * been released first (the connections are closed). */
void srv_sched_free(srv_scheduler *s);
/* An embedding (qwen3_embed) on the connection's thread, between two of the engine's steps: the
 * model is used by one of them at a time. */
int srv_sched_embed(srv_scheduler *s, const int32_t *ids, int n, float *out, qwen3_err *e);

/* Queues a generation (the request's prompt and params are copied). NULL with e filled when the
 * queue is full (429, with *retry_after_s set) or the server is draining (503). */
srv_job *srv_sched_submit(srv_scheduler *s, const srv_gen_req *r, int *retry_after_s, srv_error *e);

/* What a connection learns from its job. */
typedef struct srv_job_news {
    int done;                /* the generation ended (finish says how) or failed */
    int failed;              /* the engine could not run it; error holds why */
    char error[1024];
    qwen3_finish finish;
    qwen3_gen_stats stats;   /* valid when done */
} srv_job_news;

/* Appends the text generated since the last call to text and fills news; waits up to timeout_ms
 * when there is nothing new yet. Returns 1 when something new (text or the end) came, else 0. */
int srv_job_wait(srv_job *j, sbuf *text, int timeout_ms, srv_job_news *news);
/* Cancels (if still running) and drops the connection's reference. */
void srv_job_release(srv_job *j);
/* Appends to lp the qwen3_logprob records of the tokens generated since the last call, and to plp
 * the prompt's records once they exist (once). Records come before the text they belong to: call
 * this after srv_job_wait and the text taken has its records. */
void srv_job_logprobs(srv_job *j, sbuf *lp, sbuf *plp);

/* Gauges for /metrics and /health. */
void srv_sched_counts(srv_scheduler *s, int *active, int *queued, int *queue_cap, int *parallel);

#endif
