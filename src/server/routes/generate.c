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
 * socket fails.
 *
 * Several choices (n > 1, or an array "prompt" for completions) are one job each, submitted
 * together so that the engine batches them like any concurrent requests; each has its own response
 * builder (its index in the chunks and the body), and the usage adds them up: completion tokens
 * over every choice, prompt tokens once per prompt. */
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

/* One choice being generated: its job, its response builder and its scratch buffers. */
typedef struct choice {
    srv_job *job;
    srv_resp resp;
    sbuf text;      /* scratch: new generated text */
    sbuf lp, plp;   /* scratch: new logprob records (see srv_job_logprobs) */
    char *echo;     /* completions' echo: the prompt text, until it is out */
    size_t echo_len;
    int first;      /* the first choice of its prompt (its prompt counts in the usage) */
    int done;       /* its end was handled */
    srv_job_news nw;
} choice;

typedef struct stream {
    struct MHD_Connection *c;
    choice *ch;
    int n, n_done;
    sbuf out;       /* SSE bytes not yet handed to MHD */
    size_t pos;
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

/* Takes a choice's news into its builder; at its end, its final events. Returns 1 once it ended
 * (failed: *failed set with the message in qe). */
static int advance(choice *c, const srv_job_news *nw, sbuf *out, int *failed, qwen3_err *qe) {
    if (take(c->job, &c->resp, &c->text, &c->lp, &c->plp, &c->echo, c->echo_len, c->resp.lp != NULL, out, qe)) {
        *failed = 1;
        return 1;
    }
    if (!nw->done) return 0;
    c->nw = *nw;
    if (nw->failed) {
        snprintf(qe->msg, sizeof qe->msg, "%s", nw->error);
        *failed = 1;
    } else if (srv_resp_finish(&c->resp, nw->finish, &nw->stats, out, qe)) {
        *failed = 1;
    }
    return 1;
}

/* The usage of all choices: prompt (and cached) tokens once per prompt, the rest summed. */
static qwen3_gen_stats sum_stats(const choice *ch, int n) {
    qwen3_gen_stats t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < n; i++) {
        const qwen3_gen_stats *s = &ch[i].nw.stats;
        if (ch[i].first) {
            t.prompt_tokens += s->prompt_tokens;
            t.cached_tokens += s->cached_tokens;
        }
        t.generated_tokens += s->generated_tokens;
        t.thinking_tokens += s->thinking_tokens;
    }
    return t;
}

/* Takes the news of every unfinished choice (without waiting), ending those that ended. Returns 1
 * when anything came; a failure sets *failed (the message in qe) and stops. */
static int poll_choices(choice *ch, int n, int *n_done, sbuf *out, int *failed, qwen3_err *qe) {
    int news = 0;
    for (int i = 0; i < n && !*failed; i++) {
        choice *c = &ch[i];
        if (c->done) continue;
        srv_job_news nw;
        news |= srv_job_wait(c->job, &c->text, 0, &nw);
        if (advance(c, &nw, out, failed, qe)) c->done = 1, ++*n_done;
    }
    return news;
}

/* Waits up to a slice for the first unfinished choice to say something (the others are looked at
 * after it, so one slow choice delays the rest by a slice at most). */
static void wait_first(choice *ch, int n) {
    for (int i = 0; i < n; i++)
        if (!ch[i].done) {
            srv_job_news nw;
            srv_job_wait(ch[i].job, &ch[i].text, SLICE_MS, &nw);
            return;
        }
}

/* One round of the stream: news from every choice; at the very end the usage chunk and [DONE]
 * (several choices; one choice's own finish writes them). A failure ends the stream with an error
 * event. Returns 1 once the stream is complete. */
static int advance_all(stream *st) {
    qwen3_err qe = {0};
    int failed = 0;
    if (!poll_choices(st->ch, st->n, &st->n_done, &st->out, &failed, &qe) && !failed && st->n_done < st->n) {
        wait_first(st->ch, st->n);
        poll_choices(st->ch, st->n, &st->n_done, &st->out, &failed, &qe);
    }
    if (failed) {
        internal_error(&st->out, qe.msg);
        st->ended = 1;
    } else if (st->n_done == st->n) {
        if (st->n > 1) {
            qwen3_gen_stats t = sum_stats(st->ch, st->n);
            srv_resp_stream_tail(&st->ch[0].resp, &t, &st->out);
        }
        st->ended = 1;
    }
    return st->ended;
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
        advance_all(st);
        if (st->out.len || st->ended) continue;
        if (st->out.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (srv_client_gone(st->c)) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (now_ms() - t0 >= st->keepalive_ms) sb_puts(&st->out, ": keep-alive\n\n");
    }
}

/* Releases the choices (cancelling the generations still running). */
static void choices_free(choice *ch, int n) {
    for (int i = 0; ch && i < n; i++) {
        srv_job_release(ch[i].job);
        srv_resp_free(&ch[i].resp);
        sb_free(&ch[i].text);
        sb_free(&ch[i].lp);
        sb_free(&ch[i].plp);
        free(ch[i].echo);
    }
    free(ch);
}

static void stream_free(void *cls) {
    stream *st = cls;
    choices_free(st->ch, st->n); /* cancels the generations if the client left early */
    sb_free(&st->out);
    free(st);
}

/* Waits for every choice's whole answer on the handler's thread. */
static enum MHD_Result answer_whole(srv_http_req *q, choice *ch, int n) {
    qwen3_err qe = {0};
    int failed = 0, done = 0;
    srv_conn_timeout(q, 0); /* we are the slow side now; the client only waits */
    while (done < n && !failed) {
        if (poll_choices(ch, n, &done, NULL, &failed, &qe) || done == n || failed) continue;
        wait_first(ch, n);
        if (srv_client_gone(q->c)) { /* nobody will read the answer: stop generating it */
            choices_free(ch, n);
            return MHD_NO;
        }
    }
    srv_conn_timeout(q, 1);
    srv_error e;
    if (failed) {
        choices_free(ch, n);
        srv_fail(&e, 500, NULL, "generation_failed", "the generation failed: %s", qe.msg);
        return srv_reply_error(q, &e, 0);
    }
    srv_resp **rs = malloc(sizeof *rs * (size_t)n);
    qwen3_finish *f = malloc(sizeof *f * (size_t)n);
    qwen3_gen_stats t = sum_stats(ch, n);
    size_t len = 0;
    char *body = NULL;
    if (rs && f) {
        for (int i = 0; i < n; i++) rs[i] = &ch[i].resp, f[i] = ch[i].nw.finish;
        body = srv_resp_body_n(rs, n, f, &t, &len);
    }
    free(rs);
    free(f);
    choices_free(ch, n);
    return srv_reply_json(q, 200, body, len);
}

/* A prompt past the positions the model was trained on, with no RoPE scaling (YaRN, DCA) configured,
 * degrades the output: said in the log and in the X-Qwen3-Warning header (the body's schema is
 * OpenAI's; a header is where a client that cares can look without breaking one that does not). */
static void warn_positions(srv_http_req *q, const srv_gen_req *r) {
    int n = r->n_prompt;
    for (int i = 0; i < r->n_more; i++) n = r->more[i].n > n ? r->more[i].n : n;
    if (!qwen3_model_past_trained(q->s->model, n)) return;
    int trained = qwen3_model_trained_ctx(q->s->model);
    snprintf(q->warning, sizeof q->warning, "prompt of %d tokens is longer than the %d positions the model was trained "
             "on and no RoPE scaling is configured: expect degraded output (serve with --rope-scaling yarn:4)",
             n, trained);
    fprintf(stderr, "qwen3 serve: warning: %s\n", q->warning);
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
    int n_prompts = 1 + r.n_more, n = n_prompts * r.n_choices, streaming = r.stream, retry = 0;
    warn_positions(q, &r);
    choice *ch = calloc((size_t)n, sizeof *ch);
    if (!ch) {
        srv_gen_req_free(&r);
        return MHD_NO;
    }
    /* prompt-major, as OpenAI orders the choices: index = prompt * n + k */
    for (int i = 0; i < n; i++) {
        choice *c = &ch[i];
        srv_gen_req v;
        srv_gen_req_choice(&r, i / r.n_choices, i % r.n_choices, &v);
        qwen3_err qe = {0};
        c->first = i % r.n_choices == 0;
        if (srv_resp_init(&c->resp, chat, v.stream, v.include_usage, v.params.in_think, (const char *const *)v.tool_names,
                          v.n_tools, q->s->cfg.model_name, &qe)) {
            srv_fail(&e, 500, NULL, NULL, "%s", qe.msg);
            goto fail;
        }
        c->resp.index = i;
        c->resp.no_tail = n > 1;
        if (i) srv_resp_same_id(&c->resp, &ch[0].resp);
        c->echo_len = v.echo ? strlen(v.echo_text) : 0;
        if ((v.params.logprobs && srv_resp_logprobs_on(&c->resp, info.tok)) || (v.echo && !(c->echo = strdup(v.echo_text)))) {
            srv_fail(&e, 500, NULL, NULL, "out of memory");
            goto fail;
        }
        if (!(c->job = srv_sched_submit(q->s->sched, &v, &retry, &e))) goto fail; /* the others are cancelled */
    }
    srv_gen_req_free(&r);
    if (!streaming) return answer_whole(q, ch, n);
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        choices_free(ch, n);
        return MHD_NO;
    }
    st->c = q->c;
    st->ch = ch;
    st->n = n;
    st->keepalive_ms = KEEPALIVE_MS;
    if (st->keepalive_ms > q->s->cfg.timeout_s * 1000.0 / 3) st->keepalive_ms = q->s->cfg.timeout_s * 1000.0 / 3;
    for (int i = 0; i < n; i++) srv_resp_start(&ch[i].resp, &st->out); /* the role chunks go out at once */
    return srv_reply_stream(q, stream_read, st, stream_free);
fail:
    srv_gen_req_free(&r);
    choices_free(ch, n);
    return srv_reply_error(q, &e, retry);
}

enum MHD_Result srv_route_chat(srv_http_req *q) { return generate(q, 1); }
enum MHD_Result srv_route_completions(srv_http_req *q) { return generate(q, 0); }
