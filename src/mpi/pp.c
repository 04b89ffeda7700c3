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
void pp_bcast_x(float *x, int rows, int hidden) { (void)x; (void)rows; (void)hidden; }
void pp_allreduce(float *y, size_t n) { (void)y; (void)n; }

int qwen3_mpi_init(int *argc, char ***argv, qwen3_err *e) { (void)argc; (void)argv; (void)e; return 0; }
int qwen3_mpi_rank(void) { return 0; }
int qwen3_mpi_size(void) { return 1; }
int qwen3_mpi_worker(qwen3_err *e) { return qerr(e, "this qwen3 was built without MPI (build qwen3-mpi with make MPI=1)"); }
void qwen3_mpi_finalize(void) {}

#else

#include <mpi.h>
#include <time.h>

enum { OP_LOAD = 1, OP_FORWARD, OP_SEQ_FREE, OP_MODEL_FREE, OP_QUIT };
enum { TAG_X = 7 };

static int g_rank, g_size = 1, g_init, g_next_model, g_next_seq;
/* QWEN3_MPI_STATS=1: each rank prints at the end what it sent and how long it spent in MPI calls */
static double g_sent, g_recv, g_secs;
static long g_forwards, g_reduces;
/* QWEN3_MPI_TIMEOUT: seconds a rank waits inside a forward pass (loads: ten times) */
static double g_timeout = 300;

/* Waits for a nonblocking MPI call, at most `limit` seconds; then the job ends with a message naming
 * what was waited for (MPI's blocking calls would wait for ever for a rank that hangs or stopped).
 * Polls MPI_Test (which also progresses the collective), sleeping 20 us between polls after the
 * first thousand so that oversubscribed ranks leave the cores to the ranks doing the work. */
static void nap(long spins, double waited) {
    if (spins < 1000) return;
    struct timespec ts = {0, waited > 1 ? 1000000 : 20000}; /* an idle wait (a server's worker) naps longer */
    nanosleep(&ts, NULL);
}

static void wait_req(MPI_Request *rq, const char *what, double limit) {
    double t0 = MPI_Wtime(), waited = 0;
    for (long spins = 0;; spins++) {
        int done = 0;
        MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if (done) return;
        nap(spins, waited);
        if ((spins & 63) == 0 && (waited = MPI_Wtime() - t0) > limit) {
            fprintf(stderr, "qwen3 (rank %d of %d): no answer from the other MPI ranks for %.0f s while %s (a rank hung, "
                            "was stopped or cannot be reached); ending the job. QWEN3_MPI_TIMEOUT=SECONDS sets this "
                            "time-out\n", g_rank, g_size, limit, what);
            fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
    }
}

int pp_rank(void) { return g_rank; }
int pp_size(void) { return g_size; }

/* A command: op and up to 4 integers, then (for some) a payload of `bytes`. */
typedef struct cmd {
    int op, a, b, c;
    long long bytes;
} cmd;

static void bcast_cmd(cmd *c, void **payload) {
    double t0 = MPI_Wtime();
    /* (nonblocking on every rank: a blocking collective may not match a nonblocking one) A
     * worker's wait for the next command has no time-out: an idle rank 0 is no fault. */
    MPI_Request rq;
    MPI_Ibcast(c, (int)(sizeof *c / sizeof(int)), MPI_INT, 0, MPI_COMM_WORLD, &rq);
    wait_req(&rq, "sending a command", g_rank == 0 ? g_timeout : 1e30);
    if (c->op == OP_FORWARD) g_forwards++;
    if (g_rank == 0) g_sent += (double)sizeof *c * (g_size - 1);
    if (c->bytes > 0) {
        if (g_rank != 0 && !(*payload = malloc((size_t)c->bytes))) {
            fprintf(stderr, "qwen3 (rank %d): out of memory for a %lld-byte command\n", g_rank, c->bytes);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        MPI_Ibcast(*payload, (int)c->bytes, MPI_BYTE, 0, MPI_COMM_WORLD, &rq);
        wait_req(&rq, "receiving a command", g_timeout);
        if (g_rank == 0) g_sent += (double)c->bytes * (g_size - 1);
    }
    if (g_rank == 0 || c->op != OP_FORWARD) g_secs += MPI_Wtime() - t0; /* a worker's wait for work is not MPI cost */
}

static void die(const char *what, const qwen3_err *e) {
    fprintf(stderr, "qwen3 (rank %d of %d): %s: %s; ending the job\n", g_rank, g_size, what, e ? e->msg : "");
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
    char sig[256];  /* what was loaded (model_sig): the same on every rank, or a rank read other files */
} load_result;

/* The shapes and the weight files' total size of a loaded model: two ranks that print the same
 * loaded the same checkpoint (a path that holds another model on another machine differs here). */
static void model_sig(const qwen3_model *m, char *buf, size_t n) {
    const qwen3_config *c = &m->c;
    double bytes = 0;
    for (int i = 0; i < m->n_files; i++) bytes += (double)m->files[i].map.size;
    for (int i = 0; i < m->n_gfiles; i++) bytes += (double)m->gfiles[i].map.size;
    snprintf(buf, n, "%d layers, hidden %d, %d/%d heads of %d, mlp %d, %d experts of %d, vocab %d, %.0f bytes of weights",
             c->num_layers, c->hidden_size, c->num_heads, c->num_kv_heads, c->head_dim, c->intermediate_size,
             c->num_experts, c->moe_intermediate_size, c->vocab_size, bytes);
}

int pp_collect_load(int id, const qwen3_model *m, qwen3_err *e) {
    if (!id) return 0;
    load_result mine = {m ? 0 : -1, "", ""};
    if (!m) snprintf(mine.msg, sizeof mine.msg, "%s", e ? e->msg : "load failed");
    load_result *all = malloc(sizeof *all * (size_t)g_size);
    if (!all) die("out of memory", NULL);
    MPI_Request rq;
    MPI_Igather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0, MPI_COMM_WORLD, &rq);
    wait_req(&rq, "waiting for the other ranks to load the model", 10 * g_timeout);
    int bad = -1;
    for (int r = 0; r < g_size && bad < 0; r++)
        if (all[r].status) bad = r;
    if (bad > 0) qerr(e, "MPI rank %d of %d: %s", bad, g_size, all[bad].msg);
    if (bad < 0 && m) {
        model_sig(m, mine.sig, sizeof mine.sig);
        for (int r = 1; r < g_size && bad < 0; r++)
            if (strcmp(all[r].sig, mine.sig)) {
                bad = r;
                qerr(e, "MPI rank %d of %d loaded another model from '%s' (%s) than rank 0 (%s): every machine needs the "
                        "same files at that path", r, g_size, m->dir, all[r].sig, mine.sig);
            }
    }
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
    MPI_Request rq;
    MPI_Isend(x, rows * hidden, MPI_FLOAT, (g_rank + 1) % g_size, TAG_X, MPI_COMM_WORLD, &rq);
    wait_req(&rq, "passing the residual stream to the next rank", g_timeout);
    g_sent += 4.0 * rows * hidden;
    g_secs += MPI_Wtime() - t0;
}

int pp_recv_x(float *x, int max_rows, int hidden) {
    MPI_Status st;
    int from = (g_rank + g_size - 1) % g_size, n = 0;
    double t0 = MPI_Wtime(), waited = 0;
    for (long spins = 0;; spins++) { /* MPI_Probe with the time-out of wait_req */
        int ready = 0;
        MPI_Iprobe(from, TAG_X, MPI_COMM_WORLD, &ready, &st);
        if (ready) break;
        nap(spins, waited);
        if ((spins & 63) == 0 && (waited = MPI_Wtime() - t0) > g_timeout) {
            fprintf(stderr, "qwen3 (rank %d of %d): no residual stream from rank %d for %.0f s (a rank hung, was stopped "
                            "or cannot be reached); ending the job. QWEN3_MPI_TIMEOUT=SECONDS sets this time-out\n",
                    g_rank, g_size, from, g_timeout);
            fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
    }
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

/* ---- tensor / expert parallelism ---- */

void pp_bcast_x(float *x, int rows, int hidden) {
    double t0 = MPI_Wtime();
    MPI_Request rq;
    MPI_Ibcast(x, rows * hidden, MPI_FLOAT, 0, MPI_COMM_WORLD, &rq);
    wait_req(&rq, "sharing the embedded tokens", g_timeout);
    if (g_rank == 0) g_sent += 4.0 * rows * hidden * (g_size - 1);
    else g_recv += 4.0 * rows * hidden;
    g_secs += MPI_Wtime() - t0;
}

/* The sum of every rank's partial y, in rank order (p0 + p1 + ... + pN-1), the same bits on every
 * rank: MPI_Allreduce may add in an order that depends on the rank and the algorithm, and the ranks
 * must agree to the bit (the MoE router's choices, the next layer's input). Two ways, with the same
 * per-element order and so the same bits:
 *   small (decode) or 2 ranks: an all-gather of the partials, each rank sums all: one round, each
 *     rank's n floats reach the N-1 others, (N-1) 4 n bytes sent per rank;
 *   large (a prefill's rows, >= RS_MIN floats, 3 ranks or more): a reduce-scatter by hand (an
 *     all-to-all of slice j of y to rank j, which sums its slice in rank order) then an all-gather
 *     of the summed slices: two rounds, (n - s) 4 + (N-1) s 4 bytes sent by a rank whose slice is s
 *     floats, ~2 (N-1)/N 4 n, a ring all-reduce's bytes.
 * The counts kept here are those payloads (README "More than one machine"). */
enum { RS_MIN = 8192 };

static float *grow(float **buf, size_t *cap, size_t n) {
    if (n > *cap) {
        free(*buf);
        *cap = n;
        if (!(*buf = malloc(sizeof(float) * n))) {
            fprintf(stderr, "qwen3 (rank %d): out of memory for an all-reduce of %zu floats\n", g_rank, n);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    return *buf;
}

static size_t slice_at(size_t n, int r) { return n * (size_t)r / (size_t)g_size; }

void pp_allreduce(float *y, size_t n) {
    static float *all; /* one forward pass at a time uses it */
    static size_t cap;
    static int *cnt, *dsp, *rc, *rd;
    double t0 = MPI_Wtime();
    MPI_Request rq;
    const int N = g_size;
    if (N < 3 || n < RS_MIN) {
        grow(&all, &cap, n * (size_t)N);
        MPI_Iallgather(y, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, MPI_COMM_WORLD, &rq);
        wait_req(&rq, "summing a block's output across the ranks (all-reduce)", g_timeout);
        memcpy(y, all, sizeof(float) * n);
        for (int r = 1; r < N; r++) {
            const float *p = all + (size_t)r * n;
            for (size_t i = 0; i < n; i++) y[i] += p[i];
        }
        g_sent += 4.0 * (double)n * (N - 1);
        g_recv += 4.0 * (double)n * (N - 1);
    } else {
        if (!cnt) {
            cnt = malloc(sizeof(int) * (size_t)N); dsp = malloc(sizeof(int) * (size_t)N);
            rc = malloc(sizeof(int) * (size_t)N); rd = malloc(sizeof(int) * (size_t)N);
            if (!cnt || !dsp || !rc || !rd) { fprintf(stderr, "qwen3 (rank %d): out of memory\n", g_rank); MPI_Abort(MPI_COMM_WORLD, 1); }
        }
        const size_t s0 = slice_at(n, g_rank), s = slice_at(n, g_rank + 1) - s0;
        for (int r = 0; r < N; r++) {
            cnt[r] = (int)(slice_at(n, r + 1) - slice_at(n, r)); /* slice r of y goes to rank r */
            dsp[r] = (int)slice_at(n, r);
            rc[r] = (int)s;                                      /* my slice from every rank, in rank order */
            rd[r] = (int)(s * (size_t)r);
        }
        grow(&all, &cap, s * (size_t)N);
        MPI_Ialltoallv(y, cnt, dsp, MPI_FLOAT, all, rc, rd, MPI_FLOAT, MPI_COMM_WORLD, &rq);
        wait_req(&rq, "summing a block's output across the ranks (reduce-scatter)", g_timeout);
        float *mine = y + s0;
        memcpy(mine, all, sizeof(float) * s);
        for (int r = 1; r < N; r++) {
            const float *p = all + (size_t)r * s;
            for (size_t i = 0; i < s; i++) mine[i] += p[i];
        }
        MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, y, cnt, dsp, MPI_FLOAT, MPI_COMM_WORLD, &rq);
        wait_req(&rq, "summing a block's output across the ranks (all-gather)", g_timeout);
        g_sent += 4.0 * (double)(n - s) + 4.0 * (double)s * (N - 1);
        g_recv += 4.0 * (double)(n - s) + 4.0 * (double)s * (N - 1); /* the same by symmetry of the counts */
    }
    g_reduces++;
    g_secs += MPI_Wtime() - t0;
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
    load_result mine = {m ? 0 : -1, "", ""};
    if (!m) snprintf(mine.msg, sizeof mine.msg, "%s", e.msg);
    else model_sig(m, mine.sig, sizeof mine.sig);
    if (m) {
        wmodel *nm = realloc(w->models, sizeof *nm * (size_t)(w->n_models + 1));
        if (!nm) die("out of memory", NULL);
        w->models = nm;
        w->models[w->n_models++] = (wmodel){id, m};
    }
    MPI_Request rq;
    MPI_Igather(&mine, (int)sizeof mine, MPI_BYTE, NULL, 0, MPI_BYTE, 0, MPI_COMM_WORLD, &rq);
    wait_req(&rq, "reporting the load to rank 0", 10 * g_timeout);
}

static qwen3_seq *seq_of(worker *w, qwen3_model *m, int model, int id, int cap) {
    for (int i = 0; i < w->n_seqs; i++)
        if (w->seqs[i].model == model && w->seqs[i].id == id) return w->seqs[i].s;
    qwen3_err e = {0};
    qwen3_seq *s = qwen3_seq_new(m, cap, &e);
    if (!s) die("the KV cache of a sequence rank 0 began", &e); /* its share: the ranks may have less memory than rank 0 */
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

/* Every rank must run the same command (rank 0 drives, the others follow its loads and passes):
 * mpirun's MPMD form (`-n 1 qwen3-mpi run A : -n 1 qwen3-mpi run B`) or another build on one
 * machine would otherwise compute something other than what rank 0 asked for. An all-gather of each
 * rank's version and arguments (a hash of all of them, and their first 400 characters to show). */
typedef struct argsig {
    unsigned long long hash;
    char text[400];
} argsig;

static int same_command(int argc, char **argv, qwen3_err *e) {
    argsig mine = {1469598103934665603ull, ""};
    size_t k = (size_t)snprintf(mine.text, sizeof mine.text, "qwen3 %s:", QWEN3_VERSION);
    for (const char *p = QWEN3_VERSION; *p; p++) mine.hash = (mine.hash ^ (unsigned char)*p) * 1099511628211ull;
    for (int i = 1; i < argc; i++) {
        for (const char *p = argv[i]; *p; p++) mine.hash = (mine.hash ^ (unsigned char)*p) * 1099511628211ull;
        mine.hash = (mine.hash ^ 0xffu) * 1099511628211ull; /* the separator: "a b" is not "ab" */
        if (k < sizeof mine.text) k += (size_t)snprintf(mine.text + k, sizeof mine.text - k, " %s", argv[i]);
    }
    argsig *all = malloc(sizeof *all * (size_t)g_size);
    if (!all) return qerr(e, "out of memory");
    MPI_Request rq;
    MPI_Iallgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, MPI_COMM_WORLD, &rq);
    wait_req(&rq, "comparing the ranks' command lines", g_timeout);
    int rc = 0;
    for (int r = 1; r < g_size && !rc; r++)
        if (all[r].hash != all[0].hash) {
            rc = -1;
            /* printed here, before MPI_Finalize, by the rank that differs (every rank sees the same
             * first r): once a rank exits non-zero mpirun kills the rest, so a message left to rank 0
             * was lost when rank r exited first (a flaky mpi_tp check); rank r prints before it can
             * exit. err stays empty (qwen3.h) */
            if (g_rank == r)
                fprintf(stderr, "qwen3: MPI rank %d was started with another command than rank 0 (rank 0: '%s'; rank %d: "
                                "'%s'): every rank must run the same qwen3-mpi build with the same arguments\n",
                        r, all[0].text, r, all[r].text);
            fflush(stderr);
            if (e) e->msg[0] = 0;
        }
    free(all);
    return rc;
}

int qwen3_mpi_init(int *argc, char ***argv, qwen3_err *e) {
    int provided = 0;
    /* one thread calls MPI at a time (the engine's, or the main one) */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return qerr(e, "MPI_Init_thread failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_init = 1;
    const char *to = getenv("QWEN3_MPI_TIMEOUT");
    if (to && *to) {
        char *end = NULL;
        double v = strtod(to, &end);
        if (!end || *end || !(v > 0 && v <= 1e7))
            return qerr(e, "QWEN3_MPI_TIMEOUT='%s' is not a number of seconds (more than 0)", to);
        g_timeout = v;
    }
    if (g_size > 1 && same_command(*argc, *argv, e)) {
        g_init = 0;
        MPI_Finalize();
        return -1;
    }
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
                        "%ld all-reduces, %.3f s in MPI calls (waits for the other ranks included)\n",
                g_rank, g_size, g_forwards, g_sent, g_forwards ? g_sent / g_forwards : 0.0, g_recv, g_reduces, g_secs);
    if (g_rank == 0 && g_size > 1) {
        cmd c = {OP_QUIT, 0, 0, 0, 0};
        bcast_cmd(&c, NULL);
    }
    g_init = 0;
    MPI_Finalize();
}

#endif
