/* generate.c - POST /v1/chat/completions and POST /v1/completions.
 *
 * The handler validates and tokenizes on the connection's thread (request.c), submits a job to the
 * engine (scheduler.c) and then either waits for the whole answer or streams it. A stream's reader
 * waits for the engine's text in 100 ms slices, checking between slices whether the socket failed
 * (srv_client_gone): a client that leaves releases its job, which cancels the generation and frees
 * its slot before the next step. While nothing comes (queued, a long prefill) it sends an SSE
 * comment every 2 s (a third of --timeout when that is shorter): that keeps proxies and the idle
 * timeout from closing a healthy stream, and a write to a vanished client fails, which is how a
 * closed client is told from one that only half-closed (shut its write side after the request, and
 * still reads). A whole answer writes nothing until it is done, so it only stops early when the
 * socket fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/request.h"
#include "server/respond.h"
#include "server/routes/routes.h"
#include "server/scheduler.h"

#define SLICE_MS 100
#define KEEPALIVE_MS 2000

typedef struct stream {
    struct MHD_Connection *c;
    srv_job *job;
    srv_resp resp;
    sbuf out;       /* SSE bytes not yet handed to MHD */
    size_t pos;
    sbuf text;      /* scratch: new generated text */
    sbuf lp, plp;   /* scratch: new logprob records (see srv_job_logprobs) */
    char *echo;     /* completions' echo: the prompt text, until it is out */
    size_t echo_len;
    int ended;      /* the last event is in out */
    double keepalive_ms;
} stream;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static void internal_error(sbuf *out, const char *what) {
    srv_error e;
    srv_fail(&e, 500, NULL, "generation_failed", "%s", what);
    char *b = srv_error_body(&e, NULL);
    srv_resp_stream_error(out, b ? b : "{}");
    free(b);
}

static int oom(qwen3_err *qe) {
    snprintf(qe->msg, sizeof qe->msg, "out of memory");
    return -1;
}

/* The echo (once the prompt's records are there, or at once when none were asked for), the new
 * text, then the new tokens' records. -1 with qe filled on failure. */
static int take(srv_job *job, srv_resp *resp, sbuf *text, sbuf *lp, sbuf *plp, char **echo, size_t echo_len,
                int want_plp, sbuf *out, qwen3_err *qe) {
    srv_job_logprobs(job, lp, plp);
    int rc = 0;
    if (*echo && (!want_plp || plp->len)) {
        rc = srv_resp_echo(resp, *echo, echo_len, want_plp ? (const qwen3_logprob *)plp->s : NULL,
                           (int)(plp->len / sizeof(qwen3_logprob)), out, qe);
        free(*echo);
        *echo = NULL;
    }
    if (!rc && text->len) rc = srv_resp_feed(resp, text->s, text->len, out, qe);
    if (!rc && lp->len) {
        /* records are whole structs, but an sbuf gives no alignment: copy them out */
        int n = (int)(lp->len / sizeof(qwen3_logprob));
        qwen3_logprob *v = malloc(lp->len ? lp->len : 1);
        if (!v) rc = oom(qe);
        else {
            memcpy(v, lp->s, (size_t)n * sizeof *v);
            rc = srv_resp_logprobs(resp, v, n, out, qe);
            free(v);
        }
    }
    sb_clear(text);
    sb_clear(lp);
    if (lp->oom || plp->oom) rc = oom(qe);
    return rc;
}

/* Feeds new text and, at the end, the final events. Returns 1 once the stream is complete. */
static int advance(stream *st, const srv_job_news *nw) {
    qwen3_err qe = {0};
    if (take(st->job, &st->resp, &st->text, &st->lp, &st->plp, &st->echo, st->echo_len, st->resp.lp != NULL, &st->out,
             &qe)) {
        internal_error(&st->out, qe.msg);
        return 1;
    }
    if (!nw->done) return 0;
    if (nw->failed) internal_error(&st->out, nw->error);
    else if (srv_resp_finish(&st->resp, nw->finish, &nw->stats, &st->out, &qe)) internal_error(&st->out, qe.msg);
    return 1;
}

static ssize_t stream_read(void *cls, uint64_t at, char *buf, size_t max) {
    stream *st = cls;
    double t0 = now_ms();
    for (;;) {
        if (st->pos < st->out.len) {
            size_t n = st->out.len - st->pos;
            if (n > max) n = max;
            memcpy(buf, st->out.s + st->pos, n);
            st->pos += n;
            if (st->pos == st->out.len) { sb_clear(&st->out); st->pos = 0; }
            return (ssize_t)n;
        }
        if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        srv_job_news nw;
        srv_job_wait(st->job, &st->text, SLICE_MS, &nw);
        if (advance(st, &nw)) st->ended = 1;
        if (st->out.len || st->ended) continue;
        if (st->out.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (srv_client_gone(st->c)) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (now_ms() - t0 >= st->keepalive_ms) sb_puts(&st->out, ": keep-alive\n\n");
    }
}

static void stream_free(void *cls) {
    stream *st = cls;
    srv_job_release(st->job); /* cancels the generation if the client left early */
    srv_resp_free(&st->resp);
    sb_free(&st->out);
    sb_free(&st->text);
    sb_free(&st->lp);
    sb_free(&st->plp);
    free(st->echo);
    free(st);
}

/* Waits for the whole answer on the handler's thread. */
static enum MHD_Result answer_whole(srv_http_req *q, srv_job *job, srv_resp *resp, char *echo, size_t echo_len) {
    sbuf text = {0}, lp = {0}, plp = {0};
    srv_job_news nw;
    qwen3_err qe = {0};
    int bad = 0;
    srv_conn_timeout(q, 0); /* we are the slow side now; the client only waits */
    for (;;) {
        srv_job_wait(job, &text, SLICE_MS, &nw);
        if (!bad) bad = take(job, resp, &text, &lp, &plp, &echo, echo_len, resp->lp != NULL, NULL, &qe);
        sb_clear(&text);
        if (nw.done) break;
        if (srv_client_gone(q->c)) { /* nobody will read the answer: stop generating it */
            sb_free(&text);
            sb_free(&lp);
            sb_free(&plp);
            free(echo);
            srv_job_release(job);
            return MHD_NO;
        }
    }
    sb_free(&text);
    sb_free(&lp);
    sb_free(&plp);
    free(echo);
    srv_job_release(job);
    srv_conn_timeout(q, 1);
    srv_error e;
    if (nw.failed || bad || srv_resp_finish(resp, nw.finish, &nw.stats, NULL, &qe)) {
        srv_fail(&e, 500, NULL, "generation_failed", "the generation failed: %s", nw.failed ? nw.error : qe.msg);
        return srv_reply_error(q, &e, 0);
    }
    size_t len = 0;
    char *body = srv_resp_body(resp, nw.finish, &nw.stats, &len);
    return srv_reply_json(q, 200, body, len);
}

static enum MHD_Result generate(srv_http_req *q, int chat) {
    srv_error e;
    json_t *body = srv_body_json(q, &e);
    if (!body) return srv_reply_error(q, &e, 0);
    srv_model_info info;
    srv_model_info_of(q->s, &info);
    srv_gen_req r;
    int rc = chat ? srv_parse_chat(&info, body, &r, &e) : srv_parse_completion(&info, body, &r, &e);
    json_decref(body);
    if (rc) {
        srv_gen_req_free(&r);
        return srv_reply_error(q, &e, 0);
    }
    srv_resp resp;
    qwen3_err qe = {0};
    if (srv_resp_init(&resp, chat, r.stream, r.include_usage, r.params.in_think, (const char *const *)r.tool_names,
                      r.n_tools, q->s->cfg.model_name, &qe)) {
        srv_gen_req_free(&r);
        srv_fail(&e, 500, NULL, NULL, "%s", qe.msg);
        return srv_reply_error(q, &e, 0);
    }
    char *echo = NULL;
    size_t echo_len = r.echo ? strlen(r.echo_text) : 0;
    if ((r.params.logprobs && srv_resp_logprobs_on(&resp, info.tok)) || (r.echo && !(echo = strdup(r.echo_text)))) {
        srv_gen_req_free(&r);
        srv_resp_free(&resp);
        srv_fail(&e, 500, NULL, NULL, "out of memory");
        return srv_reply_error(q, &e, 0);
    }
    int retry = 0;
    srv_job *job = srv_sched_submit(q->s->sched, &r, &retry, &e);
    int streaming = r.stream;
    srv_gen_req_free(&r);
    if (!job) {
        free(echo);
        srv_resp_free(&resp);
        return srv_reply_error(q, &e, retry);
    }
    if (!streaming) {
        enum MHD_Result res = answer_whole(q, job, &resp, echo, echo_len);
        srv_resp_free(&resp);
        return res;
    }
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        free(echo);
        srv_job_release(job);
        srv_resp_free(&resp);
        return MHD_NO;
    }
    st->c = q->c;
    st->job = job;
    st->resp = resp;
    st->echo = echo;
    st->echo_len = echo_len;
    st->keepalive_ms = KEEPALIVE_MS;
    if (st->keepalive_ms > q->s->cfg.timeout_s * 1000.0 / 3) st->keepalive_ms = q->s->cfg.timeout_s * 1000.0 / 3;
    srv_resp_start(&st->resp, &st->out); /* the role chunk goes out at once */
    return srv_reply_stream(q, stream_read, st, stream_free);
}

enum MHD_Result srv_route_chat(srv_http_req *q) { return generate(q, 1); }
enum MHD_Result srv_route_completions(srv_http_req *q) { return generate(q, 0); }
