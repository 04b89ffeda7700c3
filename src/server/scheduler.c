/* scheduler.c - the engine thread, its slots and the job queue (see scheduler.h).
 *
 * Locking: one mutex guards the queue, every job's shared fields and the counters; the engine
 * drops it for the forward pass (qwen3_gen_step) and for qwen3_gen_new, so connections can read
 * text, submit and cancel while the model computes. Only the engine touches slots and qwen3_gen
 * objects, except qwen3_gen_cancel, which is atomic in the generation layer. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "server/scheduler.h"

struct srv_job {
    srv_scheduler *s;        /* outlives the job: connections end before the scheduler is freed */
    /* input (immutable once submitted) */
    int32_t *prompt;
    int n_prompt;
    qwen3_gen_params params;
    char **stop;
    int n_stop;
    double t_submit;
    /* shared, under the scheduler mutex */
    srv_job *next;           /* queue link */
    pthread_cond_t cond;     /* signalled when text arrives or the job ends */
    sbuf text;               /* everything generated so far */
    size_t read;             /* bytes the connection has taken */
    sbuf lp;                 /* qwen3_logprob records of the generated tokens (params.logprobs) */
    size_t lp_read;
    sbuf plp;                /* qwen3_logprob records of the prompt (params.prompt_logprobs) */
    int plp_taken;
    int done, failed, cancel;
    char error[1024];
    qwen3_finish finish;
    qwen3_gen_stats stats;
    double t_first;          /* first token, for TTFT (0: none yet) */
    int refs;                /* engine + connection */
};

typedef struct slot {
    qwen3_seq *seq;
    qwen3_gen *gen;          /* NULL when free */
    srv_job *job;
    unsigned long long used; /* last use, for least-recently-used ties */
} slot;

struct srv_scheduler {
    qwen3_model *m;
    const qwen3_tokenizer *tok;
    srv_metrics *met;
    int parallel, queue_cap, n_ctx;
    slot *slots;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_mutex_t model_mu; /* held around every use of the model: the engine's step, an embedding */
    pthread_cond_t wake;     /* the engine waits here for work */
    srv_job *head, *tail;    /* waiting jobs, FIFO */
    int n_queued, n_active;
    int draining, stop, cancel_all;
    unsigned long long clock; /* admission counter for LRU */
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void job_free(srv_job *j) {
    qwen3_grammar_free((qwen3_grammar *)j->params.grammar);
    free(j->prompt);
    for (int i = 0; i < j->n_stop; i++) free(j->stop[i]);
    free(j->stop);
    sb_free(&j->text);
    sb_free(&j->lp);
    sb_free(&j->plp);
    pthread_cond_destroy(&j->cond);
    free(j);
}

/* Drops one reference; the caller holds the mutex. */
static void job_unref(srv_job *j) {
    if (--j->refs == 0) job_free(j);
}

/* Marks a job ended and wakes its connection; the caller holds the mutex. */
static void job_end(srv_scheduler *s, srv_job *j, qwen3_finish f, const char *error) {
    j->done = 1;
    j->finish = f;
    if (error) {
        j->failed = 1;
        snprintf(j->error, sizeof j->error, "%s", error);
    }
    srv_metrics_done(s->met, &j->stats, error ? -1 : (int)f, j->t_first > 0 ? j->t_first - j->t_submit : -1);
    pthread_cond_broadcast(&j->cond);
}

/* Length of the common prefix the generation layer would re-use (it always recomputes the last
 * prompt token, for its logits). */
static int common_prefix(const qwen3_seq *q, const int32_t *p, int n) {
    int have = qwen3_seq_len(q), k = 0;
    const int32_t *t = qwen3_seq_tokens(q);
    while (k < have && k < n - 1 && t[k] == p[k]) k++;
    return k;
}

/* The free slot for a prompt: longest cached prefix, then least recently used. */
static int pick_slot(srv_scheduler *s, const srv_job *j) {
    int best = -1, best_len = -1;
    for (int i = 0; i < s->parallel; i++) {
        slot *sl = &s->slots[i];
        if (sl->gen) continue;
        int l = common_prefix(sl->seq, j->prompt, j->n_prompt);
        if (l > best_len || (l == best_len && sl->used < s->slots[best].used)) best = i, best_len = l;
    }
    return best;
}

/* Moves waiting jobs into free slots. Called and returns with the mutex held; drops it around
 * qwen3_gen_new. */
static void admit(srv_scheduler *s) {
    while (s->head && s->n_active < s->parallel) {
        srv_job *j = s->head;
        s->head = j->next;
        if (!s->head) s->tail = NULL;
        s->n_queued--;
        if (j->cancel || s->cancel_all) {
            job_end(s, j, QWEN3_FINISH_CANCEL, NULL);
            job_unref(j);
            continue;
        }
        int i = pick_slot(s, j);
        slot *sl = &s->slots[i];
        sl->job = j;
        sl->used = ++s->clock;
        s->n_active++;
        pthread_mutex_unlock(&s->mu);
        qwen3_err e = {0};
        qwen3_gen *g = qwen3_gen_new(s->m, s->tok, sl->seq, j->prompt, j->n_prompt, &j->params, &e);
        pthread_mutex_lock(&s->mu);
        if (!g) {
            sl->job = NULL;
            s->n_active--;
            j->stats.prompt_tokens = j->n_prompt;
            job_end(s, j, QWEN3_FINISH_STOP, e.msg);
            job_unref(j);
            continue;
        }
        sl->gen = g;
        if (j->cancel) qwen3_gen_cancel(g);
    }
}

/* Frees a slot whose generation ended (its KV cache stays, for prefix re-use). Mutex held. */
static void retire(srv_scheduler *s, slot *sl, qwen3_finish f, const char *error) {
    srv_job *j = sl->job;
    qwen3_gen_stats_get(sl->gen, &j->stats);
    qwen3_gen_free(sl->gen);
    sl->gen = NULL;
    sl->job = NULL;
    s->n_active--;
    job_end(s, j, f, error);
    job_unref(j);
}

static void *engine(void *arg) {
    srv_scheduler *s = arg;
    qwen3_gen **gens = calloc((size_t)s->parallel, sizeof *gens);
    slot **who = calloc((size_t)s->parallel, sizeof *who);
    pthread_mutex_lock(&s->mu);
    while (gens && who) {
        /* cancellations take effect before the next pass: the slot is free for this one */
        for (int i = 0; i < s->parallel; i++) {
            slot *sl = &s->slots[i];
            if (sl->gen && (sl->job->cancel || s->cancel_all)) retire(s, sl, QWEN3_FINISH_CANCEL, NULL);
        }
        admit(s);
        if (!s->n_active) {
            if (s->stop) break;
            pthread_cond_wait(&s->wake, &s->mu);
            continue;
        }
        int n = 0;
        for (int i = 0; i < s->parallel; i++)
            if (s->slots[i].gen) who[n] = &s->slots[i], gens[n++] = s->slots[i].gen;
        pthread_mutex_unlock(&s->mu);

        qwen3_err e = {0};
        double t0 = now_s();
        pthread_mutex_lock(&s->model_mu);
        int rc = qwen3_gen_step(s->m, gens, n, &e);
        pthread_mutex_unlock(&s->model_mu);
        double t1 = now_s();

        pthread_mutex_lock(&s->mu);
        int produced = 0;
        for (int k = 0; k < n; k++) {
            slot *sl = who[k];
            srv_job *j = sl->job;
            qwen3_gen_out o;
            qwen3_gen_take(sl->gen, &o);
            produced += o.n_ids;
            if (o.n_ids && j->t_first == 0) j->t_first = t1;
            /* log-probabilities before the text they belong to: a reader that sees the text sees them */
            if (o.logprobs && o.n_ids) sb_put(&j->lp, (const char *)o.logprobs, sizeof *o.logprobs * (size_t)o.n_ids);
            int np = 0;
            const qwen3_logprob *pl = j->plp.len ? NULL : qwen3_gen_prompt_logprobs(sl->gen, &np);
            if (pl) sb_put(&j->plp, (const char *)pl, sizeof *pl * (size_t)np);
            if (o.text_len) {
                sb_put(&j->text, o.text, o.text_len);
                pthread_cond_broadcast(&j->cond);
            }
            if (rc) retire(s, sl, QWEN3_FINISH_STOP, e.msg);
            else if (j->text.oom || j->lp.oom || j->plp.oom)
                retire(s, sl, QWEN3_FINISH_STOP, "out of memory for the generated text");
            else if (o.finish != QWEN3_FINISH_NONE) retire(s, sl, o.finish, NULL);
        }
        srv_metrics_step(s->met, produced, t1 - t0);
    }
    if (!gens || !who) { /* no memory for the step lists: fail everything rather than hang */
        s->stop = 1;
        while (s->head) {
            srv_job *j = s->head;
            s->head = j->next;
            s->n_queued--;
            job_end(s, j, QWEN3_FINISH_STOP, "the engine thread is out of memory");
            job_unref(j);
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(gens);
    free(who);
    return NULL;
}

srv_scheduler *srv_sched_new(qwen3_model *m, const qwen3_tokenizer *tok, int parallel, int queue, int n_ctx,
                             srv_metrics *met, qwen3_err *err) {
    srv_scheduler *s = calloc(1, sizeof *s);
    if (!s) { qerr(err, "out of memory"); return NULL; }
    s->m = m;
    s->tok = tok;
    s->met = met;
    s->parallel = parallel;
    s->queue_cap = queue;
    s->n_ctx = n_ctx;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->model_mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->slots = calloc((size_t)parallel, sizeof *s->slots);
    if (!s->slots) { qerr(err, "out of memory"); goto fail; }
    for (int i = 0; i < parallel; i++)
        if (!(s->slots[i].seq = qwen3_seq_new(m, n_ctx, err))) { qerr_wrap(err, "slot %d", i); goto fail; }
    if ((errno = pthread_create(&s->thread, NULL, engine, s))) { qerr(err, "cannot start the engine thread: %s", strerror(errno)); goto fail; }
    s->thread_started = 1;
    return s;
fail:
    srv_sched_free(s);
    return NULL;
}

int srv_sched_drain(srv_scheduler *s, int cancel) {
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    if (cancel && !s->cancel_all) {
        s->cancel_all = 1; /* what did not finish in time ends now, as cancelled */
        pthread_cond_signal(&s->wake);
    }
    int left = s->stop ? 0 : s->n_active + s->n_queued;
    pthread_mutex_unlock(&s->mu);
    return left;
}

void srv_sched_free(srv_scheduler *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    s->cancel_all = 1;
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started) pthread_join(s->thread, NULL);
    for (int i = 0; s->slots && i < s->parallel; i++) qwen3_seq_free(s->slots[i].seq);
    free(s->slots);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->model_mu);
    free(s);
}

srv_job *srv_sched_submit(srv_scheduler *s, const srv_gen_req *r, int *retry_after_s, srv_error *e) {
    srv_job *j = calloc(1, sizeof *j);
    if (!j) { srv_fail(e, 500, NULL, NULL, "out of memory"); return NULL; }
    pthread_cond_init(&j->cond, NULL);
    j->prompt = malloc(sizeof *j->prompt * (size_t)r->n_prompt);
    j->stop = r->n_stop ? calloc((size_t)r->n_stop, sizeof *j->stop) : NULL;
    int ok = j->prompt && (!r->n_stop || j->stop);
    if (ok) memcpy(j->prompt, r->prompt, sizeof *j->prompt * (size_t)r->n_prompt);
    j->n_prompt = r->n_prompt;
    for (int i = 0; ok && i < r->n_stop; i++, j->n_stop++) ok = (j->stop[i] = strdup(r->stop[i])) != NULL;
    if (!ok) { job_free(j); srv_fail(e, 500, NULL, NULL, "out of memory"); return NULL; }
    j->params = r->params;
    j->params.stop = (const char *const *)j->stop;
    j->params.n_stop = j->n_stop;
    j->params.grammar = qwen3_grammar_ref((qwen3_grammar *)r->params.grammar);
    j->t_submit = now_s();
    j->refs = 2;
    j->s = s;

    pthread_mutex_lock(&s->mu);
    if (s->draining || s->stop) {
        pthread_mutex_unlock(&s->mu);
        job_free(j);
        srv_fail(e, 503, NULL, "shutting_down", "the server is shutting down");
        return NULL;
    }
    /* the queue holds what cannot start now; a free slot means it starts at the next step */
    if (s->n_queued + s->n_active >= s->parallel + s->queue_cap) {
        int waiting = s->n_queued;
        pthread_mutex_unlock(&s->mu);
        job_free(j);
        *retry_after_s = 1 + waiting / (s->parallel > 0 ? s->parallel : 1);
        srv_fail(e, 429, NULL, "queue_full",
                 "the server is busy: %d requests are running and %d are waiting (--parallel %d, --queue %d); retry later",
                 s->parallel, waiting, s->parallel, s->queue_cap);
        return NULL;
    }
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    s->n_queued++;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    return j;
}

int srv_job_wait(srv_job *j, sbuf *text, int timeout_ms, srv_job_news *news) {
    pthread_mutex_t *job_mu = &j->s->mu;
    pthread_mutex_lock(job_mu);
    if (j->read == j->text.len && !j->done && timeout_ms > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
        while (j->read == j->text.len && !j->done)
            if (pthread_cond_timedwait(&j->cond, job_mu, &dl) == ETIMEDOUT) break;
    }
    int news_ = j->read < j->text.len || j->done;
    if (j->read < j->text.len) {
        sb_put(text, j->text.s + j->read, j->text.len - j->read);
        j->read = j->text.len;
    }
    news->done = j->done;
    news->failed = j->failed;
    news->finish = j->finish;
    news->stats = j->stats;
    snprintf(news->error, sizeof news->error, "%s", j->error);
    pthread_mutex_unlock(job_mu);
    return news_;
}

void srv_job_logprobs(srv_job *j, sbuf *lp, sbuf *plp) {
    pthread_mutex_lock(&j->s->mu);
    if (j->lp_read < j->lp.len) {
        sb_put(lp, j->lp.s + j->lp_read, j->lp.len - j->lp_read);
        j->lp_read = j->lp.len;
    }
    if (j->plp.len && !j->plp_taken) {
        sb_put(plp, j->plp.s, j->plp.len);
        j->plp_taken = 1;
    }
    pthread_mutex_unlock(&j->s->mu);
}

void srv_job_release(srv_job *j) {
    if (!j) return;
    srv_scheduler *s = j->s;
    pthread_mutex_lock(&s->mu);
    if (!j->done) {
        j->cancel = 1; /* the engine notices before its next step */
        pthread_cond_signal(&s->wake);
    }
    job_unref(j);
    pthread_mutex_unlock(&s->mu);
}

void srv_sched_counts(srv_scheduler *s, int *active, int *queued, int *queue_cap, int *parallel) {
    pthread_mutex_lock(&s->mu);
    *active = s->n_active;
    *queued = s->n_queued;
    pthread_mutex_unlock(&s->mu);
    *queue_cap = s->queue_cap;
    *parallel = s->parallel;
}

int srv_sched_embed(srv_scheduler *s, const int32_t *ids, int n, float *out, qwen3_err *e) {
    pthread_mutex_lock(&s->model_mu);
    int rc = qwen3_embed(s->m, ids, n, out, e);
    pthread_mutex_unlock(&s->model_mu);
    return rc;
}
