/* pp.c - pipeline parallelism by layers over MPI (see pp.h), and the public qwen3_mpi_* calls.
 *
 * Compiled twice: as part of libqwen3 without MPI (QWEN3_MPI undefined: one process, rank 0 of 1,
 * nothing to send), and with mpicc -DQWEN3_MPI into the qwen3-mpi binary (`make MPI=1`).
 *
 * Messages (all from rank 0 by MPI_Bcast, then the command's own exchanges):
 *   LOAD       id, path, load options    every rank loads its share; MPI_Gather of each rank's
 *                                        result (0, or -1 and its message) to rank 0
 *   FORWARD    model id, items           per item: sequence id, its capacity, the position the
 *                                        pass starts at, token count, logits mode; then the tokens.
 *                                        Then the residual stream hops rank to rank (tag X).
 *   SEQ_FREE   model id, sequence id
 *   MODEL_FREE model id
 *   QUIT                                  the workers free everything and return
 * A worker that fails inside a forward (out of memory, a sequence out of step) cannot answer in
 * the pipeline's protocol: it prints its error and calls MPI_Abort, which ends every rank (mpirun
 * reports it), so no rank waits for ever. A rank that dies (killed, crashed) is noticed by mpirun,
 * which ends the job the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "model/model.h"
#include "model/seq.h"
#include "mpi/pp.h"

#ifndef QWEN3_MPI

int pp_rank(void) { return 0; }
int pp_size(void) { return 1; }
int pp_announce_load(const char *dir, const qwen3_load_opts *o) { (void)dir; (void)o; return 0; }
int pp_collect_load(int id, const qwen3_model *m, qwen3_err *e) { (void)id; (void)m; (void)e; return 0; }
void pp_model_freed(int id) { (void)id; }
void pp_seq_freed(int model_id, int seq_id) { (void)model_id; (void)seq_id; }
int pp_announce_forward(qwen3_model *m, const qwen3_batch_item *items, int n_items, qwen3_err *e) {
    (void)m; (void)items; (void)n_items;
    return qerr(e, "internal: a pipelined forward in a build without MPI");
}
void pp_send_x(const float *x, int rows, int hidden) { (void)x; (void)rows; (void)hidden; }
int pp_recv_x(float *x, int max_rows, int hidden) { (void)x; (void)max_rows; (void)hidden; return 0; }
void pp_abort(const char *what, const qwen3_err *e) { (void)what; (void)e; }

int qwen3_mpi_init(int *argc, char ***argv, qwen3_err *e) { (void)argc; (void)argv; (void)e; return 0; }
int qwen3_mpi_rank(void) { return 0; }
int qwen3_mpi_size(void) { return 1; }
int qwen3_mpi_worker(qwen3_err *e) { return qerr(e, "this qwen3 was built without MPI (build qwen3-mpi with make MPI=1)"); }
void qwen3_mpi_finalize(void) {}

#else

#include <mpi.h>

enum { OP_LOAD = 1, OP_FORWARD, OP_SEQ_FREE, OP_MODEL_FREE, OP_QUIT };
enum { TAG_X = 7 };

static int g_rank, g_size = 1, g_init, g_next_model, g_next_seq;
/* QWEN3_MPI_STATS=1: each rank prints at the end what it sent and how long it spent in MPI calls */
static double g_sent, g_recv, g_secs;
static long g_forwards;

int pp_rank(void) { return g_rank; }
int pp_size(void) { return g_size; }

/* A command: op and up to 4 integers, then (for some) a payload of `bytes`. */
typedef struct cmd {
    int op, a, b, c;
    long long bytes;
} cmd;

static void bcast_cmd(cmd *c, void **payload) {
    double t0 = MPI_Wtime();
    MPI_Bcast(c, (int)(sizeof *c / sizeof(int)), MPI_INT, 0, MPI_COMM_WORLD);
    if (c->op == OP_FORWARD) g_forwards++;
    if (g_rank == 0) g_sent += (double)sizeof *c * (g_size - 1);
    if (c->bytes > 0) {
        if (g_rank != 0 && !(*payload = malloc((size_t)c->bytes))) {
            fprintf(stderr, "qwen3 (rank %d): out of memory for a %lld-byte command\n", g_rank, c->bytes);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        MPI_Bcast(*payload, (int)c->bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (g_rank == 0) g_sent += (double)c->bytes * (g_size - 1);
    }
    if (g_rank == 0 || c->op != OP_FORWARD) g_secs += MPI_Wtime() - t0; /* a worker's wait for work is not MPI cost */
}

static void die(const char *what, const qwen3_err *e) {
    fprintf(stderr, "qwen3 (rank %d of %d): %s: %s\n", g_rank, g_size, what, e ? e->msg : "");
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

void pp_abort(const char *what, const qwen3_err *e) { die(what, e); }

/* ---- rank 0 ---- */

typedef struct load_msg {
    qwen3_load_opts o;   /* the callbacks are dropped */
    char dir[4096];
} load_msg;

int pp_announce_load(const char *dir, const qwen3_load_opts *o) {
    if (g_size <= 1 || g_rank != 0) return 0;
    load_msg lm;
    memset(&lm, 0, sizeof lm);
    if (o) lm.o = *o;
    lm.o.progress = NULL;
    lm.o.progress_ctx = NULL;
    snprintf(lm.dir, sizeof lm.dir, "%s", dir);
    cmd c = {OP_LOAD, ++g_next_model, 0, 0, (long long)sizeof lm};
    void *p = &lm;
    bcast_cmd(&c, &p);
    return c.a;
}

/* Every rank's load result, gathered at rank 0: status then message. */
typedef struct load_result {
    int status;
    char msg[1024];
} load_result;

int pp_collect_load(int id, const qwen3_model *m, qwen3_err *e) {
    if (!id) return 0;
    load_result mine = {m ? 0 : -1, ""};
    if (!m) snprintf(mine.msg, sizeof mine.msg, "%s", e ? e->msg : "load failed");
    load_result *all = malloc(sizeof *all * (size_t)g_size);
    if (!all) die("out of memory", NULL);
    MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0, MPI_COMM_WORLD);
    int bad = -1;
    for (int r = 0; r < g_size && bad < 0; r++)
        if (all[r].status) bad = r;
    if (bad > 0) qerr(e, "MPI rank %d of %d: %s", bad, g_size, all[bad].msg);
    free(all);
    if (bad >= 0) pp_model_freed(id); /* the ranks that loaded it let go */
    return bad >= 0 ? -1 : 0;
}

void pp_model_freed(int id) {
    if (!id || g_size <= 1 || g_rank != 0) return;
    cmd c = {OP_MODEL_FREE, id, 0, 0, 0};
    bcast_cmd(&c, NULL);
}

void pp_seq_freed(int model_id, int seq_id) {
    if (!model_id || !seq_id || g_size <= 1 || g_rank != 0) return;
    cmd c = {OP_SEQ_FREE, model_id, seq_id, 0, 0};
    bcast_cmd(&c, NULL);
}

/* One item of a FORWARD command. */
typedef struct fwd_item {
    int seq, cap, start, n_tokens, logits;
} fwd_item;

int pp_announce_forward(qwen3_model *m, const qwen3_batch_item *items, int n_items, qwen3_err *e) {
    int total = 0;
    for (int i = 0; i < n_items; i++) total += items[i].n_tokens;
    size_t bytes = sizeof(fwd_item) * (size_t)n_items + sizeof(int32_t) * (size_t)total;
    char *p = malloc(bytes);
    if (!p) return qerr(e, "out of memory for a forward command of %d tokens", total);
    fwd_item *fi = (fwd_item *)p;
    int32_t *tok = (int32_t *)(p + sizeof(fwd_item) * (size_t)n_items);
    for (int i = 0; i < n_items; i++) {
        qwen3_seq *s = items[i].seq;
        if (!s->pp_id) s->pp_id = ++g_next_seq;
        fi[i] = (fwd_item){s->pp_id, s->cap, s->len, items[i].n_tokens, items[i].logits};
        memcpy(tok, items[i].tokens, sizeof *tok * (size_t)items[i].n_tokens);
        tok += items[i].n_tokens;
    }
    cmd c = {OP_FORWARD, m->pp_id, n_items, total, (long long)bytes};
    void *pl = p;
    bcast_cmd(&c, &pl);
    free(p);
    return 0;
}

void pp_send_x(const float *x, int rows, int hidden) {
    double t0 = MPI_Wtime();
    MPI_Send(x, rows * hidden, MPI_FLOAT, (g_rank + 1) % g_size, TAG_X, MPI_COMM_WORLD);
    g_sent += 4.0 * rows * hidden;
    g_secs += MPI_Wtime() - t0;
}

int pp_recv_x(float *x, int max_rows, int hidden) {
    MPI_Status st;
    int from = (g_rank + g_size - 1) % g_size, n = 0;
    double t0 = MPI_Wtime();
    MPI_Probe(from, TAG_X, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_FLOAT, &n);
    if (n % hidden || n / hidden > max_rows) {
        fprintf(stderr, "qwen3 (rank %d): rank %d sent %d floats, not rows of %d (at most %d)\n", g_rank, from, n, hidden,
                max_rows);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Recv(x, n, MPI_FLOAT, from, TAG_X, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    g_recv += 4.0 * n;
    g_secs += MPI_Wtime() - t0; /* includes waiting for the other ranks' layers */
    return n / hidden;
}

/* ---- the other ranks ---- */

typedef struct wmodel {
    int id;
    qwen3_model *m;
} wmodel;
typedef struct wseq {
    int model, id;
    qwen3_seq *s;
} wseq;

typedef struct worker {
    wmodel *models;
    int n_models;
    wseq *seqs;
    int n_seqs, cap_seqs;
} worker;

static qwen3_model *find_model(worker *w, int id) {
    for (int i = 0; i < w->n_models; i++)
        if (w->models[i].id == id) return w->models[i].m;
    return NULL;
}

static void free_seq_at(worker *w, int i) {
    qwen3_seq_free(w->seqs[i].s);
    w->seqs[i] = w->seqs[--w->n_seqs];
}

static void free_model(worker *w, int id) {
    for (int i = w->n_seqs - 1; i >= 0; i--)
        if (w->seqs[i].model == id) free_seq_at(w, i);
    for (int i = 0; i < w->n_models; i++)
        if (w->models[i].id == id) {
            qwen3_model_free(w->models[i].m);
            w->models[i] = w->models[--w->n_models];
            return;
        }
}

static void do_load(worker *w, int id, const load_msg *lm) {
    qwen3_err e = {0};
    qwen3_model *m = model_load_local(lm->dir, &lm->o, id, &e);
    load_result mine = {m ? 0 : -1, ""};
    if (!m) snprintf(mine.msg, sizeof mine.msg, "%s", e.msg);
    if (m) {
        wmodel *nm = realloc(w->models, sizeof *nm * (size_t)(w->n_models + 1));
        if (!nm) die("out of memory", NULL);
        w->models = nm;
        w->models[w->n_models++] = (wmodel){id, m};
    }
    MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, NULL, 0, MPI_BYTE, 0, MPI_COMM_WORLD);
}

static qwen3_seq *seq_of(worker *w, qwen3_model *m, int model, int id, int cap) {
    for (int i = 0; i < w->n_seqs; i++)
        if (w->seqs[i].model == model && w->seqs[i].id == id) return w->seqs[i].s;
    qwen3_err e = {0};
    qwen3_seq *s = qwen3_seq_new(m, cap, &e);
    if (!s) die("a sequence", &e);
    if (w->n_seqs == w->cap_seqs) {
        int c = w->cap_seqs ? 2 * w->cap_seqs : 16;
        wseq *ns = realloc(w->seqs, sizeof *ns * (size_t)c);
        if (!ns) die("out of memory", NULL);
        w->seqs = ns;
        w->cap_seqs = c;
    }
    w->seqs[w->n_seqs++] = (wseq){model, id, s};
    return s;
}

static void do_forward(worker *w, const cmd *c, const char *payload) {
    qwen3_model *m = find_model(w, c->a);
    if (!m) { qwen3_err e; qerr(&e, "model %d is not loaded here", c->a); die("forward", &e); }
    int n = c->b;
    const fwd_item *fi = (const fwd_item *)payload;
    const int32_t *tok = (const int32_t *)(payload + sizeof(fwd_item) * (size_t)n);
    qwen3_batch_item *items = calloc((size_t)n, sizeof *items);
    if (!items) die("out of memory", NULL);
    qwen3_err e = {0};
    for (int i = 0; i < n; i++) {
        qwen3_seq *s = seq_of(w, m, c->a, fi[i].seq, fi[i].cap);
        if (qwen3_seq_truncate(s, fi[i].start, &e)) die("a sequence is out of step with rank 0", &e);
        items[i] = (qwen3_batch_item){s, tok, fi[i].n_tokens, fi[i].logits, NULL};
        tok += fi[i].n_tokens;
    }
    if (model_forward(m, items, n, &e)) die("forward", &e);
    free(items);
}

int qwen3_mpi_worker(qwen3_err *e) {
    if (g_rank == 0) return qerr(e, "qwen3_mpi_worker: rank 0 runs the program, not a worker loop");
    worker w = {0};
    for (;;) {
        cmd c;
        void *payload = NULL;
        bcast_cmd(&c, &payload);
        switch (c.op) {
        case OP_LOAD: do_load(&w, c.a, payload); break;
        case OP_FORWARD: do_forward(&w, &c, payload); break;
        case OP_SEQ_FREE:
            for (int i = 0; i < w.n_seqs; i++)
                if (w.seqs[i].model == c.a && w.seqs[i].id == c.b) { free_seq_at(&w, i); break; }
            break;
        case OP_MODEL_FREE: free_model(&w, c.a); break;
        case OP_QUIT:
            free(payload);
            while (w.n_models) free_model(&w, w.models[0].id);
            free(w.models);
            free(w.seqs);
            return 0;
        default: {
            qwen3_err x;
            qerr(&x, "unknown command %d from rank 0 (another qwen3 version?)", c.op);
            die("protocol", &x);
        }
        }
        free(payload);
    }
}

int qwen3_mpi_init(int *argc, char ***argv, qwen3_err *e) {
    int provided = 0;
    /* one thread calls MPI at a time (the engine's, or the main one) */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return qerr(e, "MPI_Init_thread failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_init = 1;
    if (provided < MPI_THREAD_SERIALIZED && g_size > 1) {
        qerr(e, "the MPI library offers thread level %d, and qwen3 needs MPI_THREAD_SERIALIZED", provided);
        return -1;
    }
    return 0;
}

int qwen3_mpi_rank(void) { return g_rank; }
int qwen3_mpi_size(void) { return g_size; }

void qwen3_mpi_finalize(void) {
    if (!g_init) return;
    const char *st = getenv("QWEN3_MPI_STATS");
    if (st && *st && strcmp(st, "0") && g_size > 1)
        fprintf(stderr, "qwen3 MPI rank %d of %d: %ld forward passes, sent %.0f bytes (%.0f per pass), received %.0f, "
                        "%.3f s in MPI calls (waits for the other ranks included)\n",
                g_rank, g_size, g_forwards, g_sent, g_forwards ? g_sent / g_forwards : 0.0, g_recv, g_secs);
    if (g_rank == 0 && g_size > 1) {
        cmd c = {OP_QUIT, 0, 0, 0, 0};
        bcast_cmd(&c, NULL);
    }
    g_init = 0;
    MPI_Finalize();
}

#endif
