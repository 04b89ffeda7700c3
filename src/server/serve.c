/* serve.c - srv_run: loads the model, starts the engine and the HTTP daemon, waits for SIGINT or
 * SIGTERM, then drains: new generations are refused (503), the listening socket closes, running
 * and queued requests get --drain seconds to finish (a second signal cuts that short), what is left
 * is cancelled, the connections end and everything is freed. The signals are blocked in every
 * thread and taken synchronously here with sigtimedwait, so no handler runs in a random thread. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/deadline.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/scheduler.h"

/* The context a sequence gets when --ctx is not given: the model's maximum (with YaRN or DCA). */
static int model_ctx(const qwen3_model *m) { return qwen3_model_max_ctx(m); }

static int load(srv *s) {
    qwen3_err e = {0};
    if (!(s->tok = qwen3_tokenizer_load(s->cfg.model_dir, &e))) {
        fprintf(stderr, "qwen3 serve: %s\n", e.msg);
        return -1;
    }
    if (s->cfg.chat_kind >= 0) s->chat_kind = (qwen3_chat_kind)s->cfg.chat_kind;
    else {
        int k = qwen3_chat_template_detect(s->cfg.model_dir, &e);
        if (k < 0) {
            fprintf(stderr, "qwen3 serve: %s\nqwen3 serve: using the Qwen3 hybrid template (choose one with --chat-template)\n", e.msg);
            k = QWEN3_CHAT_QWEN3;
        }
        s->chat_kind = (qwen3_chat_kind)k;
    }
    if (!(s->model = qwen3_model_load(s->cfg.model_dir, &s->cfg.load, &e))) {
        fprintf(stderr, "qwen3 serve: %s\n", e.msg);
        return -1;
    }
    if (s->cfg.draft_dir) { /* the same vocabulary, loaded with the same options */
        qwen3_tokenizer *dt = qwen3_tokenizer_load(s->cfg.draft_dir, &e);
        int same = dt && qwen3_tokenizer_same_vocab(s->tok, dt, &e) == 0;
        qwen3_tokenizer_free(dt);
        if (!same) {
            fprintf(stderr, "qwen3 serve: --draft %s: %s%s\n", s->cfg.draft_dir, e.msg,
                    dt ? "; a draft must share the model's tokenizer" : "");
            return -1;
        }
        qwen3_load_opts dlo = s->cfg.load;
        dlo.mpi_local = 1; /* under MPI the small draft runs on rank 0 alone */
        if (!(s->draft = qwen3_model_load(s->cfg.draft_dir, &dlo, &e))) {
            fprintf(stderr, "qwen3 serve: --draft %s: %s\n", s->cfg.draft_dir, e.msg);
            return -1;
        }
        if (qwen3_model_config(s->draft)->vocab_size != qwen3_model_config(s->model)->vocab_size) {
            fprintf(stderr, "qwen3 serve: --draft %s: its vocabulary has %d ids and the model's %d; a draft must share the "
                            "model's vocabulary\n", s->cfg.draft_dir, qwen3_model_config(s->draft)->vocab_size,
                    qwen3_model_config(s->model)->vocab_size);
            return -1;
        }
    }
    /* generation_config.json is read once, not per request */
    qwen3_sampling_defaults(&s->defaults[0], 0, s->cfg.model_dir);
    qwen3_sampling_defaults(&s->defaults[1], 1, s->cfg.model_dir);
    s->n_ctx = s->cfg.ctx > 0 ? s->cfg.ctx : model_ctx(s->model);
    if (s->n_ctx > model_ctx(s->model)) {
        fprintf(stderr, "qwen3 serve: --ctx %d exceeds the model's %d positions\n", s->n_ctx, model_ctx(s->model));
        return -1;
    }
    return 0;
}

int srv_run(const srv_config *cfg) {
    srv s;
    memset(&s, 0, sizeof s);
    s.cfg = *cfg;
    s.created = (long)time(NULL);

    /* before any thread exists, so they all inherit the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1, port = 0;
    MHD_socket listen_fd = MHD_INVALID_SOCKET;
    struct MHD_Daemon *d = NULL;
    qwen3_err e = {0};
    int lfd = srv_http_listen(&s); /* first: a taken port fails before minutes of loading */
    if (lfd < 0) goto done;
    if (load(&s)) goto done;
    if (!(s.metrics = srv_metrics_new())) { fprintf(stderr, "qwen3 serve: out of memory\n"); goto done; }
    if (!(s.deadlines = srv_deadlines_new(s.cfg.header_timeout_s > 0 ? s.cfg.header_timeout_s : 30))) {
        fprintf(stderr, "qwen3 serve: cannot start the request deadline thread\n");
        goto done;
    }
    if (s.cfg.max_conns_per_ip <= 0) s.cfg.max_conns_per_ip = s.cfg.max_conns / 8 > 0 ? s.cfg.max_conns / 8 : 1;
    if (!(s.sched = srv_sched_new(s.model, s.tok, s.draft, s.cfg.draft_n, s.cfg.parallel, s.cfg.queue, s.n_ctx, s.metrics, &e))) {
        fprintf(stderr, "qwen3 serve: %s\n", e.msg);
        goto done;
    }
    if (!(d = srv_http_start(&s, lfd, &port))) goto done;
    lfd = -1; /* the daemon's now */
    fprintf(stderr, "qwen3 serve: model '%s' (%s template, context %d, %d parallel, queue %d, %d threads)\n",
            s.cfg.model_name, qwen3_chat_kind_name(s.chat_kind), s.n_ctx, s.cfg.parallel, s.cfg.queue,
            qwen3_model_threads(s.model));
    if (s.draft)
        fprintf(stderr, "qwen3 serve: speculative decoding with draft %s, %d tokens per step%s\n", s.cfg.draft_dir,
                s.cfg.draft_n > 0 ? s.cfg.draft_n : QWEN3_DRAFT_N,
                s.cfg.draft_n == QWEN3_DRAFT_AUTO ? " at first (adaptive)" : "");
    fprintf(stderr, "qwen3 serve: listening on http://%s%s%s:%d\n", strchr(s.cfg.host, ':') ? "[" : "", s.cfg.host,
            strchr(s.cfg.host, ':') ? "]" : "", port);
    fflush(stderr);

    int sig;
    while (sigwait(&sigs, &sig) != 0) {}
    fprintf(stderr, "qwen3 serve: %s: draining (up to %d s; signal again to stop now)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", s.cfg.drain_s);
    s.draining = 1;
    /* no new connections; open ones get 503 for new work. The socket is ours to close, after stop. */
    listen_fd = MHD_quiesce_daemon(d);
    struct timespec t0, now, slice = {0, 100 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int cancel = 0;
    /* until no job runs or waits and every stream's last events have left (or the time is up) */
    while (srv_sched_drain(s.sched, cancel) > 0 || (!cancel && __atomic_load_n(&s.streams, __ATOMIC_SEQ_CST) > 0)) {
        if (sigtimedwait(&sigs, NULL, &slice) > 0) cancel = 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= s.cfg.drain_s) cancel = 1;
    }
    rc = 0;
done:
    if (d) MHD_stop_daemon(d); /* waits for every connection thread: all jobs are released */
    if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
    if (lfd >= 0) close(lfd);
    srv_sched_free(s.sched);
    srv_metrics_free(s.metrics);
    srv_deadlines_free(s.deadlines); /* after the daemon: no connection is left to close */
    qwen3_model_free(s.model);
    qwen3_model_free(s.draft);
    qwen3_tokenizer_free(s.tok);
    if (rc == 0) fprintf(stderr, "qwen3 serve: stopped\n");
    return rc;
}
