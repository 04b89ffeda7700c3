/* post.c - the post-training modes of `qwen3 train`: GRPO, off-policy and on-policy distillation
 * (qwen3_train.h: qwen3_post_*).
 *
 * One rollout batch: (1) the generating model answers `queries` tasks of the pool `group` times each
 * through the inference engine's batched decoding (train/rollout.c). For GRPO and on-policy
 * distillation that model is the current policy: the trainer's weights exported as F32 into
 * OUT/rollout-model and loaded by the engine on its exact float32 path. Exporting is the simplest
 * correct bridge: the export is the HF directory every other path already reads and tests
 * (train.sh checks the trainer's forward against the engine's on such an export to 1e-4), it costs
 * one write of the weights per rollout batch (the expanded vocabulary: ~160 MB for `small`, well under
 * a second against a rollout's decode), and no second way of building an inference model exists
 * to be kept equal to the first. For off-policy distillation the generator is the teacher.
 * (2) The verifier (qwen3_eval.h) scores every completion: GRPO's reward; distillation drops the
 * teacher's wrong answers. (3) inner_steps AdamW steps on the batch: every completion token weighs
 * 1 / (the batch's completion tokens) (token-level averaging), each position's row of logits goes
 * through its loss (train/grpo.c, train/distill.c) and back (tmodel_backward_dlogits).
 *
 * The head: the trainer keeps apart every token whose row in the start checkpoint or (distillation)
 * the teacher differs from the last (padding) row, and every token of the pool's prompts and
 * answers; the rest share the tied
 * row (train/rl.h: the losses are exact for that tied model). Resuming: the pool is saved in
 * OUT/pool.txt, and everything else follows from the trainer's step (batch = step / inner_steps;
 * the rollouts' seeds depend on the batch), so a run resumed at a batch boundary repeats exactly
 * what the uninterrupted run does. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "format/mdir.h"
#include "base/pool.h"
#include "model/config.h"
#include "qwen3_eval.h"
#include "train/rl.h"
#include "train/vec.h"

struct qwen3_post {
    qwen3_post_opts o;
    qwen3_train_opts to;
    qwen3_trainer *t;
    qwen3_tokenizer *tok;
    int n_known;
    rl_vocab v;
    qwen3_model *ref, *teacher;
    qwen3_seq *aux;           /* the reference's / teacher's sequence for scoring */
    unsigned char *tied;      /* [full vocab] ids the tied column stands for (NULL: dense head) */
    int32_t *seen_ids;        /* the head's kept ids */
    /* candidates and the pool (indices into them) */
    long n_cand;
    qwen3_task *cand;
    int *cand_mode;
    int32_t **cand_ids;
    int *cand_n;
    long *pool, n_pool;
    int max_prompt;
    char model_dir[4096];
    FILE *log;
};

void qwen3_post_opts_default(qwen3_post_opts *o, int mode) {
    memset(o, 0, sizeof *o);
    o->mode = mode;
    o->group = mode == QWEN3_POST_GRPO ? 8 : 1;
    o->queries = 8;
    o->inner_steps = mode == QWEN3_POST_GRPO ? 2 : 1;
    o->max_tokens = 256;
    o->pool = 3995;
    o->select = mode == QWEN3_POST_GRPO;
    o->levels_lo = 1;
    o->levels_hi = 3;
    o->think = mode == QWEN3_POST_GRPO ? 1 : 2;
    o->clip_eps = 0.2;
    o->seed = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- candidates --------------------------------------------------------------------------------- */

/* "add,sub,mul:1" -> the families in order and each one's highest level (0: no cap); NULL: all. */
static int parse_families(const char *spec, int fam[QWEN3_TASK_FAMILIES], int cap[QWEN3_TASK_FAMILIES], int *nf, qwen3_err *e) {
    *nf = 0;
    if (!spec) {
        for (int f = 0; f < QWEN3_TASK_FAMILIES; f++) { fam[f] = f; cap[f] = 0; }
        *nf = QWEN3_TASK_FAMILIES;
        return 0;
    }
    const char *s = spec;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        char item[32];
        if (n == 0 || n >= sizeof item) return qerr(e, "post: bad family list '%s' (expected names such as add,sub,mul:1)", spec);
        memcpy(item, s, n);
        item[n] = 0;
        int lvl = 0;
        char *colon = strchr(item, ':');
        if (colon) {
            *colon = 0;
            if (sscanf(colon + 1, "%d", &lvl) != 1 || lvl < 1 || lvl > 5) return qerr(e, "post: '%s': the level cap after ':' must be 1..5", spec);
        }
        int f = qwen3_task_family_parse(item);
        if (f < 0) return qerr(e, "post: unknown family '%s' (add, sub, mul, sort, count, linear)", item);
        for (int i = 0; i < *nf; i++) if (fam[i] == f) return qerr(e, "post: family '%s' given twice", item);
        fam[*nf] = f;
        cap[(*nf)++] = lvl;
        s += n + (end ? 1 : 0);
    }
    if (!*nf) return qerr(e, "post: the family list is empty");
    return 0;
}

/* Candidate c: family fam[c % nf]; that family's j-th candidate (j = c / nf) has level lo + j % nl
 * (nl: the levels lo..hi, or lo..cap under a cap) and task index j / nl of the (seed, family, level)
 * set, so no two candidates are the same task; with all six families and no cap this is family
 * c % 6, levels in turn. Its mode from o->think (2: thinking and /no_think in turn, each family in
 * both). With o->varied the question is rephrased (qwen3_task_rephrase; answer unchanged). */
static int make_candidates(qwen3_post *p, long n, qwen3_err *e) {
    const qwen3_post_opts *o = &p->o;
    int fam[QWEN3_TASK_FAMILIES], cap[QWEN3_TASK_FAMILIES], nf;
    if (parse_families(o->families, fam, cap, &nf, e)) return -1;
    p->cand = calloc((size_t)n, sizeof *p->cand);
    p->cand_mode = calloc((size_t)n, sizeof *p->cand_mode);
    p->cand_ids = calloc((size_t)n, sizeof *p->cand_ids);
    p->cand_n = calloc((size_t)n, sizeof *p->cand_n);
    if (!p->cand || !p->cand_mode || !p->cand_ids || !p->cand_n) return qerr(e, "out of memory");
    p->n_cand = n;
    for (long c = 0; c < n; c++) {
        int r = (int)(c % nf), f = fam[r];
        long j = c / nf;
        int hi = cap[r] && cap[r] < o->levels_hi ? (cap[r] < o->levels_lo ? o->levels_lo : cap[r]) : o->levels_hi;
        int nl = hi - o->levels_lo + 1, lev = o->levels_lo + (int)(j % nl);
        long idx = j / nl;
        if (qwen3_task_make(o->seed, idx, f, lev, &p->cand[c], e)) return -1;
        if (o->varied && qwen3_task_rephrase(o->seed, idx, &p->cand[c], e)) return -1;
        int mode = o->think == 2 ? (int)((j + r) % 2 == 0) : o->think;
        p->cand_mode[c] = mode;
        char user[QWEN3_TASK_TEXT + 16];
        snprintf(user, sizeof user, "%s%s", p->cand[c].question, mode ? "" : " /no_think");
        qwen3_chat_msg msg = {.role = "user", .content = user};
        qwen3_chat_opts co = {.add_generation_prompt = 1, .enable_thinking = 1};
        size_t len;
        char *prompt = qwen3_chat_render(QWEN3_CHAT_QWEN3, &msg, 1, NULL, 0, &co, &len, e);
        if (!prompt) return -1;
        int k = qwen3_encode(p->tok, prompt, len, 1, &p->cand_ids[c], e);
        free(prompt);
        if (k < 0) return -1;
        p->cand_n[c] = k;
    }
    return 0;
}

/* Marks in seen[V] the rows of checkpoint dir's embedding (and untied lm_head) that differ from its
 * last row: the tokens that checkpoint was trained on (an export writes every unseen row as the
 * shared row, which padding ids always are). */
static int mark_trained_rows(const char *dir, unsigned char *seen, int V, qwen3_err *e) {
    char path[4096];
    qwen3_config c;
    if (qpath_join(path, sizeof path, dir, MDIR_CONFIG, e) || qwen3_config_load(path, &c, e)) return -1;
    int H = c.hidden_size, rc = -1;
    qpool *pool = qpool_new(1);
    tmodel *m = NULL;
    if (!pool) { qerr(e, "out of memory"); goto out; }
    if (c.vocab_size != V) { qerr(e, "%s: the vocabulary (%d) differs from the student's (%d)", dir, c.vocab_size, V); goto out; }
    if (!(m = tmodel_new(&c, 1, 1, pool, e)) || tmodel_load_hf(m, dir, e)) goto out;
    const float *heads[2] = {m->w.embed, m->w.lm_head != m->w.embed ? m->w.lm_head : NULL};
    for (int h = 0; h < 2; h++) {
        if (!heads[h]) continue;
        const float *last = heads[h] + (int64_t)(V - 1) * H;
        for (int r = 0; r < V - 1; r++)
            if (memcmp(heads[h] + (int64_t)r * H, last, sizeof(float) * (size_t)H)) seen[r] = 1;
    }
    rc = 0;
out:
    tmodel_free(m);
    qwen3_config_free(&c); /* after the model, whose config is a copy of it */
    if (pool) qpool_free(pool);
    return rc;
}

/* The ids the head keeps apart: the tokens the start checkpoint and (distillation) the teacher were
 * trained on, and the candidates' prompt and answer tokens. Writes them in increasing order.
 * The teacher's tokens matter: a token the teacher writes that the student's head ties would be a
 * target in the tied column, which stands for ~151,000 ids, so the student would learn to spread
 * its mass over all of them (measured, before this: the worked solutions' wording of the fusion
 * SFT, absent from the student's pre-training, was tied; off-policy distillation from the shipped
 * model plateaued at KL ~1.2 nats with the student's entropy as high, and the tied row's gradient
 * was 0.5 per row against SFT's 1e-8). */
static int kept_ids(qwen3_post *p, const char *init_dir, const char *teacher_dir, int32_t **out, int64_t *n_out, qwen3_err *e) {
    char path[4096];
    qwen3_config c;
    if (qpath_join(path, sizeof path, init_dir, MDIR_CONFIG, e) || qwen3_config_load(path, &c, e)) return -1;
    int V = c.vocab_size, rc = -1;
    qwen3_config_free(&c);
    unsigned char *seen = calloc((size_t)V, 1);
    if (!seen) { qerr(e, "out of memory"); goto out; }
    if (mark_trained_rows(init_dir, seen, V, e)) goto out;
    if (teacher_dir && mark_trained_rows(teacher_dir, seen, V, e)) goto out;
    for (long k = 0; k < p->n_cand; k++) {
        for (int i = 0; i < p->cand_n[k]; i++) if (p->cand_ids[k][i] < V) seen[p->cand_ids[k][i]] = 1;
        int32_t *ids;
        int n = qwen3_encode(p->tok, p->cand[k].answer, strlen(p->cand[k].answer), 1, &ids, e);
        if (n < 0) goto out;
        for (int i = 0; i < n; i++) if (ids[i] < V) seen[ids[i]] = 1;
        free(ids);
    }
    static const char *special[] = {"<think>", "</think>", "<|im_end|>", "<|endoftext|>", "\n\n", "\n"};
    for (int i = 0; i < 6; i++) {
        int32_t id = qwen3_token_id(p->tok, special[i]);
        if (id < 0) {
            int32_t *ids;
            int n = qwen3_encode(p->tok, special[i], strlen(special[i]), 1, &ids, e);
            if (n < 0) goto out;
            for (int j = 0; j < n; j++) if (ids[j] < V) seen[ids[j]] = 1;
            free(ids);
        } else if (id < V) seen[id] = 1;
    }
    int64_t n = 0;
    for (int r = 0; r < V; r++) n += seen[r];
    if (!(*out = malloc(sizeof(int32_t) * (size_t)(n ? n : 1)))) { qerr(e, "out of memory"); goto out; }
    n = 0;
    for (int r = 0; r < V; r++) if (seen[r]) (*out)[n++] = r;
    *n_out = n;
    rc = 0;
out:
    free(seen);
    return rc;
}

/* ---- the pool ----------------------------------------------------------------------------------- */

static int sampling_for(const qwen3_post *p, int mode, qwen3_sampling *s) {
    if (p->o.sampling.temperature > 0) *s = p->o.sampling;
    else qwen3_sampling_defaults(s, mode, NULL);
    return 0;
}

/* Rolls out `group` completions for each of the n candidates cands[] with model m; rewards[i*G + k]. */
static int rollout_cands(qwen3_post *p, qwen3_model *m, const long *cands, int n, uint64_t seed, rl_sample *smp,
                         float *rewards, qwen3_verdict *verd, qwen3_err *e) {
    int G = p->o.group, rc = -1;
    const int32_t **pr = malloc(sizeof *pr * (size_t)n);
    int *pn = malloc(sizeof *pn * (size_t)n);
    qwen3_sampling *ss = malloc(sizeof *ss * (size_t)n);
    if (!pr || !pn || !ss) { qerr(e, "out of memory"); goto out; }
    for (int i = 0; i < n; i++) {
        pr[i] = p->cand_ids[cands[i]];
        pn[i] = p->cand_n[cands[i]];
        sampling_for(p, p->cand_mode[cands[i]], &ss[i]);
    }
    if (rl_rollout(m, p->tok, pr, pn, n, G, ss, p->o.max_tokens, seed, smp, e)) goto out;
    for (int i = 0; i < n * G; i++) {
        long c = cands[i / G];
        qwen3_verdict v;
        if (qwen3_verify(&p->cand[c], smp[i].text, strlen(smp[i].text), p->cand_mode[c], p->tok, &v, e)) goto out;
        rewards[i] = (float)v.reward;
        if (verd) verd[i] = v;
    }
    rc = 0;
out:
    free(pr); free(pn); free(ss);
    return rc;
}

static int read_pool(qwen3_post *p, const char *path, qwen3_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return qerr(e, "%s: cannot open", path);
    p->pool = malloc(sizeof(long) * (size_t)p->n_cand);
    if (!p->pool) { fclose(f); return qerr(e, "out of memory"); }
    long c;
    p->n_pool = 0;
    while (fscanf(f, "%ld", &c) == 1) {
        if (c < 0 || c >= p->n_cand || p->n_pool >= p->n_cand) { fclose(f); return qerr(e, "%s: candidate %ld is out of range (the run's flags changed?)", path, c); }
        p->pool[p->n_pool++] = c;
    }
    fclose(f);
    if (!p->n_pool) return qerr(e, "%s: empty pool", path);
    return 0;
}

/* The selection's progress, OUT/pool.partial: "tried N" then the kept candidates, one a line;
 * rewritten (temporary file, renamed) after every chunk, so a stopped selection resumes at the chunk
 * where it stopped. 0 when absent or read, -1 on error. */
static int read_partial(qwen3_post *p, const char *path, long *tried, qwen3_err *e) {
    *tried = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long c;
    if (fscanf(f, "tried %ld", tried) != 1 || *tried < 0 || *tried > p->n_cand) { fclose(f); return qerr(e, "%s: not a selection's progress (expected 'tried N')", path); }
    while (fscanf(f, "%ld", &c) == 1) {
        if (c < 0 || c >= *tried || p->n_pool >= p->n_cand) { fclose(f); return qerr(e, "%s: candidate %ld is out of range (the run's flags changed?)", path, c); }
        p->pool[p->n_pool++] = c;
    }
    fclose(f);
    return 0;
}

static int write_list(const char *path, const char *head, const long *v, long n, qwen3_err *e) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return qerr(e, "%s: cannot create (%s)", tmp, strerror(errno));
    if (head) fprintf(f, "%s\n", head);
    for (long i = 0; i < n; i++) fprintf(f, "%ld\n", v[i]);
    if (fflush(f) || fsync(fileno(f)) || fclose(f)) return qerr(e, "%s: write failed", tmp);
    if (rename(tmp, path)) return qerr(e, "%s: cannot rename to %s (%s)", tmp, path, strerror(errno));
    return 0;
}

/* GRPO's query selection (the report: learnable for the start model yet hard): candidates in order,
 * `queries` at a time, each answered `group` times by the start model; kept when its pass rate is
 * strictly between 0 and 1. Resumable (pool.partial, above); the rollouts' seeds follow the chunk's
 * first candidate, so a resumed selection keeps exactly what an uninterrupted one keeps. */
static int select_pool(qwen3_post *p, const char *init_dir, qwen3_err *e) {
    char path[4096];
    if (qpath_join(path, sizeof path, p->o.out_dir, "pool.txt", e)) return -1;
    if (qfile_exists(path)) return read_pool(p, path, e);
    p->pool = malloc(sizeof(long) * (size_t)p->n_cand);
    if (!p->pool) return qerr(e, "out of memory");
    int rc = -1, Q = p->o.queries, G = p->o.group;
    long *chunk = malloc(sizeof(long) * (size_t)Q);
    rl_sample *smp = calloc((size_t)Q * G, sizeof *smp);
    float *rw = malloc(sizeof(float) * (size_t)Q * G);
    qwen3_model *m = NULL;
    if (!chunk || !smp || !rw) { qerr(e, "out of memory"); goto out; }
    if (!p->o.select) {
        for (long c = 0; c < p->n_cand && c < p->o.pool; c++) p->pool[p->n_pool++] = c;
    } else {
        qwen3_load_opts lo = {0};
        lo.compact_head = 1; /* the same logits, fewer multiply-adds (model/head.c) */
        lo.n_threads = p->to.threads;
        if (!(m = qwen3_model_load(init_dir, &lo, e))) goto out;
        long tried = 0;
        char partial[4096];
        if (qpath_join(partial, sizeof partial, p->o.out_dir, "pool.partial", e) || read_partial(p, partial, &tried, e)) goto out;
        if (tried && p->log) fprintf(p->log, "select: resumed: %ld of %ld candidates kept so far (%s)\n", p->n_pool, tried, partial);
        for (long c0 = tried; c0 < p->n_cand && p->n_pool < p->o.pool; c0 += Q) {
            int n = 0;
            for (long c = c0; c < p->n_cand && n < Q; c++) chunk[n++] = c;
            if (rollout_cands(p, m, chunk, n, p->o.seed * 7919 + (uint64_t)c0, smp, rw, NULL, e)) goto out;
            for (int i = 0; i < n; i++) {
                int pass = 0;
                for (int k = 0; k < G; k++) pass += rw[i * G + k] > 0.5f;
                if (pass > 0 && pass < G && p->n_pool < p->o.pool) p->pool[p->n_pool++] = chunk[i];
            }
            for (int i = 0; i < n * G; i++) rl_sample_free(&smp[i]);
            tried += n;
            if (p->log) fprintf(p->log, "select: %ld of %ld candidates kept (pass rate strictly between 0 and 1 over %d samples)\n", p->n_pool, tried, G);
            char head[64];
            snprintf(head, sizeof head, "tried %ld", tried);
            if (write_list(partial, head, p->pool, p->n_pool, e)) goto out;
        }
        if (!p->n_pool) { qerr(e, "grpo: none of %ld candidate queries has a pass rate strictly between 0 and 1 for the start model over %d samples (a model that never or always answers right cannot learn from GRPO; --no-select takes the queries as they come)", tried, G); goto out; }
        if (p->n_pool < p->o.pool && p->log)
            fprintf(p->log, "select: only %ld queries of the %ld asked found among %ld candidates (raise --select-max)\n", p->n_pool, p->o.pool, tried);
    }
    if (write_list(path, NULL, p->pool, p->n_pool, e)) goto out;
    rc = 0;
out:
    if (m) qwen3_model_free(m);
    free(chunk); free(smp); free(rw);
    return rc;
}

/* ---- construction -------------------------------------------------------------------------------- */

qwen3_post *qwen3_post_new(const qwen3_train_opts *train, const qwen3_post_opts *o, FILE *log, qwen3_err *e) {
    qwen3_post *p = calloc(1, sizeof *p);
    if (!p) { qerr(e, "out of memory"); return NULL; }
    p->o = *o;
    p->to = *train;
    p->log = log;
    int32_t *kept = NULL;
    int64_t n_kept = 0;
    if (o->mode < QWEN3_POST_GRPO || o->mode > QWEN3_POST_DISTILL_ON) { qerr(e, "post: unknown mode %d", o->mode); goto fail; }
    if (!train->init_dir) { qerr(e, "post: the post-training modes start from a checkpoint: give --init DIR"); goto fail; }
    if (!o->out_dir) { qerr(e, "post: an output directory is needed"); goto fail; }
    if (o->group < 1 || o->queries < 1 || o->inner_steps < 1 || o->max_tokens < 1 || o->pool < 1 ||
        o->levels_lo < 1 || o->levels_hi > 5 || o->levels_lo > o->levels_hi)
        { qerr(e, "post: group, queries, inner steps, max tokens and pool must be >= 1 and levels within 1-5"); goto fail; }
    if (o->mode == QWEN3_POST_GRPO && o->group < 2) { qerr(e, "grpo: --group must be >= 2 (advantages are relative to the group)"); goto fail; }
    if (o->mode != QWEN3_POST_GRPO && !o->teacher_dir) { qerr(e, "distill: give the teacher (--teacher DIR)"); goto fail; }
    const char *tokdir = train->tokenizer_dir ? train->tokenizer_dir : train->init_dir;
    if (!(p->tok = qwen3_tokenizer_load(tokdir, e))) goto fail;
    p->n_known = qwen3_tokenizer_size(p->tok);
    long n_cand = o->mode == QWEN3_POST_GRPO && o->select ? (o->select_max > 0 ? o->select_max : 4 * o->pool) : o->pool;
    if (make_candidates(p, n_cand, e)) goto fail;
    if (log) /* what the tasks look like: the first two of each family */
        for (long c = 0; c < p->n_cand && c < 2L * QWEN3_TASK_FAMILIES; c++)
            fprintf(log, "post: candidate %ld: %s level %d, %s: %s\n", c, qwen3_task_family_name(p->cand[c].family), p->cand[c].level,
                    p->cand_mode[c] ? "thinking" : "/no_think", p->cand[c].question);
    for (long c = 0; c < p->n_cand; c++) if (p->cand_n[c] > p->max_prompt) p->max_prompt = p->cand_n[c];
    if (kept_ids(p, train->init_dir, o->mode != QWEN3_POST_GRPO ? o->teacher_dir : NULL, &kept, &n_kept, e)) goto fail;
    /* the trainer: its stream is the kept ids (repeated to fill one micro-batch), its sequences
     * prompt + completion long */
    p->to.seq_len = p->max_prompt + o->max_tokens;
    p->to.accum = 1;
    int64_t need = (int64_t)p->to.batch * p->to.seq_len + 1, n_ids = n_kept > need ? n_kept : need;
    if (!(p->seen_ids = malloc(sizeof(int32_t) * (size_t)n_ids))) { qerr(e, "out of memory"); goto fail; }
    for (int64_t i = 0; i < n_ids; i++) p->seen_ids[i] = kept[i % n_kept];
    p->to.ids_mem = p->seen_ids;
    p->to.n_ids_mem = n_ids;
    p->to.ids_file = NULL;
    p->to.data = NULL;
    p->to.dense_head = 0;
    p->to.tokenizer_dir = tokdir;
    p->to.steps = train->steps;
    if (!(p->t = qwen3_trainer_new(&p->to, e))) goto fail;
    if (qtrainer_rl_vocab(p->t, p->n_known, &p->v, e)) goto fail;
    if (rl_tied_mask(p->t, p->n_known, &p->tied, e)) goto fail;
    if (qpath_join(p->model_dir, sizeof p->model_dir, o->out_dir, "rollout-model", e)) goto fail;
    if (mkdir(o->out_dir, 0755) && errno != EEXIST) { qerr(e, "%s: cannot create directory (%s)", o->out_dir, strerror(errno)); goto fail; }
    qwen3_load_opts lo = {0};
    lo.compact_head = 1; /* the same logits, fewer multiply-adds (model/head.c) */
    lo.n_threads = train->threads;
    int seqcap = p->to.seq_len + 1;
    if (o->mode == QWEN3_POST_GRPO && o->beta > 0) {
        if (!(p->ref = qwen3_model_load(train->init_dir, &lo, e)) || !(p->aux = qwen3_seq_new(p->ref, seqcap, e))) goto fail;
    }
    if (o->mode != QWEN3_POST_GRPO) {
        if (!(p->teacher = qwen3_model_load(o->teacher_dir, &lo, e))) goto fail;
        if (qwen3_model_config(p->teacher)->vocab_size != qtrainer_full_config(p->t)->vocab_size) {
            qerr(e, "%s: the teacher's vocabulary (%d) differs from the student's (%d)", o->teacher_dir,
                 qwen3_model_config(p->teacher)->vocab_size, qtrainer_full_config(p->t)->vocab_size);
            goto fail;
        }
        if (!(p->aux = qwen3_seq_new(p->teacher, seqcap, e))) goto fail;
    }
    if (o->mode == QWEN3_POST_GRPO) {
        if (select_pool(p, train->init_dir, e)) goto fail;
    } else {
        char path[4096];
        if (qpath_join(path, sizeof path, o->out_dir, "pool.txt", e)) goto fail;
        p->o.select = 0;
        if (select_pool(p, NULL, e)) goto fail;
    }
    if (log) {
        int nc;
        qtrainer_cols(p->t, &nc);
        fprintf(log, "post: %s; %ld queries in the pool; head %d columns (%lld ids kept apart, %.0f tied); sequences up to %d tokens\n",
                o->mode == QWEN3_POST_GRPO ? "grpo" : o->mode == QWEN3_POST_DISTILL ? "off-policy distillation" : "on-policy distillation",
                p->n_pool, nc, (long long)n_kept, p->v.shared >= 0 ? p->v.mult : 0.0, p->to.seq_len);
    }
    free(kept);
    return p;
fail:
    free(kept);
    qwen3_post_free(p);
    return NULL;
}

void qwen3_post_free(qwen3_post *p) {
    if (!p) return;
    qwen3_trainer_free(p->t);
    if (p->aux) qwen3_seq_free(p->aux);
    if (p->ref) qwen3_model_free(p->ref);
    if (p->teacher) qwen3_model_free(p->teacher);
    if (p->tok) qwen3_tokenizer_free(p->tok);
    for (long c = 0; p->cand_ids && c < p->n_cand; c++) free(p->cand_ids[c]);
    free(p->cand_ids); free(p->cand_n); free(p->cand); free(p->cand_mode); free(p->pool);
    free(p->tied); free(p->seen_ids);
    free(p);
}

qwen3_trainer *qwen3_post_trainer(qwen3_post *p) { return p->t; }
long qwen3_post_batches_done(const qwen3_post *p) { return qwen3_trainer_steps_done(p->t) / p->o.inner_steps; }

/* ---- one rollout batch ----------------------------------------------------------------------------- */

typedef struct {
    int32_t *ids;     /* prompt + completion, full ids */
    int n, from;      /* length; first completion position */
    float *logp;      /* [n - from] at rollout (NaN: not recorded) */
    float *ref;       /* [n - from] under the reference (beta > 0) */
    float adv;
} tseq;

static int train_steps(qwen3_post *p, tseq *sq, int n_seq, qwen3_post_stats *st, qwen3_err *e) {
    tmodel *m = qtrainer_model(p->t);
    int B = p->to.batch, T = p->to.seq_len, V = m->c.vocab_size, rc = -1, nc;
    const int32_t *cols = qtrainer_cols(p->t, &nc);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * T);
    int *ord = malloc(sizeof(int) * (size_t)n_seq);
    float *lp = NULL, *mlp = NULL, *ne = NULL;
    int dist = p->o.mode != QWEN3_POST_GRPO;
    if (dist) {
        lp = malloc(sizeof(float) * (size_t)T * (size_t)p->v.nv);
        mlp = malloc(sizeof(float) * (size_t)T);
        ne = malloc(sizeof(float) * (size_t)T);
    }
    if (!ids || !ord || (dist && (!lp || !mlp || !ne))) { qerr(e, "out of memory"); goto out; }
    /* micro-batches of sequences of similar length, each run at its longest sequence: completions
     * are mostly far shorter than --max-tokens, and padding them all to it tripled the work */
    for (int s = 0; s < n_seq; s++) ord[s] = s;
    for (int s = 1; s < n_seq; s++) /* insertion sort, longest first (n_seq is a few hundred) */
        for (int j = s; j > 0 && sq[ord[j]].n > sq[ord[j - 1]].n; j--) { int x = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = x; }
    double tokens = 0;
    for (int s = 0; s < n_seq; s++) tokens += sq[s].n - sq[s].from;
    float w = tokens > 0 ? (float)(1.0 / tokens) : 0.0f;
    int n_micro = (n_seq + B - 1) / B;
    grpo_params gp = {p->o.clip_eps, p->o.beta};
    double clip_sum = 0, clip_w = 0;
    for (int k = 0; k < p->o.inner_steps; k++) {
        double t0 = now_s();
        rl_acc acc = {0};
        tmodel_zero_grad(m);
        tmodel_lbl_begin(m);
        for (int mb = 0; mb < n_micro; mb++) {
            int Tm = sq[ord[mb * B]].n; /* the micro-batch's longest sequence (<= T: rollouts are cut to it) */
            if (tmodel_set_len(m, Tm)) { qerr(e, "post: sequence of %d tokens is longer than the trainer's %d", Tm, T); goto out; }
            for (int b = 0; b < B; b++) {
                int s = mb * B + b;
                const tseq *q = s < n_seq ? &sq[ord[s]] : NULL;
                for (int i = 0; i < Tm; i++) ids[b * Tm + i] = q && i < q->n ? qtrainer_col(p->t, q->ids[i]) : 0;
            }
            if (tmodel_forward(m, ids, NULL, e)) goto out;
            for (int b = 0; b < B; b++) {
                int s = mb * B + b;
                const tseq *q = s < n_seq ? &sq[ord[s]] : NULL;
                if (q && dist && rl_teacher_score(p->teacher, p->aux, q->ids, q->n, q->from - 1, p->n_known, tv_pick(m->cpu.isa), cols, p->tied, &p->v, lp, mlp, ne, e)) goto out;
                for (int i = 0; i < Tm; i++) {
                    float *z = m->a.logits + (int64_t)(b * Tm + i) * V;
                    /* position i predicts token i + 1: a completion token when i + 1 in [from, n) */
                    if (!q || i + 1 < q->from || i + 1 >= q->n) { memset(z, 0, sizeof(float) * (size_t)V); continue; }
                    int j = i + 1 - q->from, col = qtrainer_col(p->t, q->ids[i + 1]);
                    if (col < 0 || col >= p->v.nv) { qerr(e, "post: token %d is outside the policy's support", q->ids[i + 1]); goto out; }
                    if (k == 0 && q->logp && !isnan(q->logp[j])) {
                        double d = fabs((z[col] - rl_logz(z, &p->v)) - q->logp[j]);
                        if (d > st->logp_maxdiff) st->logp_maxdiff = d;
                    }
                    if (p->o.mode == QWEN3_POST_GRPO)
                        grpo_token(z, &p->v, col, q->logp[j], q->adv, q->ref ? q->ref[j] : 0.0f, w, &gp, &acc);
                    else if (p->o.mode == QWEN3_POST_DISTILL)
                        distill_fwd_token(z, &p->v, lp + (size_t)i * p->v.nv, ne[i], w, &acc);
                    else
                        distill_rev_token(z, &p->v, lp + (size_t)i * p->v.nv, mlp[i], w, &acc);
                    if (p->v.nv < V) memset(z + p->v.nv, 0, sizeof(float) * (size_t)(V - p->v.nv));
                }
            }
            tmodel_backward_dlogits(m, ids, 1.0f / (float)n_micro);
        }
        /* every completion token of the batch must have entered the loss exactly once (a micro-batch
         * run shorter than one of its sequences would drop its last tokens without a sound) */
        if (acc.tokens != (long)tokens) {
            qerr(e, "post: the trainer saw %ld of the batch's %ld completion tokens (internal error)", acc.tokens, (long)tokens);
            goto out;
        }
        qwen3_train_stats ts;
        if (qtrainer_update(p->t, acc.loss, t0, &ts, e)) goto out;
        clip_sum += acc.clipped;
        clip_w += acc.weight;
        if (k == 0) {
            st->loss = acc.loss;
            st->entropy = acc.weight > 0 ? acc.entropy / acc.weight : 0;
            st->kl = acc.weight > 0 ? acc.kl / acc.weight : 0;
        }
        st->lr = ts.lr;
        st->grad_norm = ts.grad_norm;
    }
    st->clip_frac = clip_w > 0 ? clip_sum / clip_w : 0;
    st->step = qwen3_trainer_steps_done(p->t);
    rc = 0;
out:
    tmodel_set_len(m, m->T_max);
    free(ids); free(ord); free(lp); free(mlp); free(ne);
    (void)cols;
    return rc;
}

int qwen3_post_batch(qwen3_post *p, qwen3_post_stats *st, qwen3_err *e) {
    memset(st, 0, sizeof *st);
    const qwen3_post_opts *o = &p->o;
    long b = qwen3_post_batches_done(p);
    int Q = o->queries, G = o->group, N = Q * G, rc = -1, n_seq = 0;
    double t0 = now_s();
    long *qs = malloc(sizeof(long) * (size_t)Q);
    rl_sample *smp = calloc((size_t)N, sizeof *smp);
    float *rw = malloc(sizeof(float) * (size_t)N), *adv = malloc(sizeof(float) * (size_t)N);
    qwen3_verdict *vd = malloc(sizeof *vd * (size_t)N);
    tseq *sq = calloc((size_t)N, sizeof *sq);
    qwen3_model *gm = NULL;
    if (!qs || !smp || !rw || !adv || !vd || !sq) { qerr(e, "out of memory"); goto out; }
    for (int q = 0; q < Q; q++) qs[q] = p->pool[(b * Q + q) % p->n_pool];
    /* the generating model */
    if (o->mode == QWEN3_POST_DISTILL) {
        gm = p->teacher;
    } else {
        qwen3_load_opts lo = {0};
        lo.compact_head = 1; /* the same logits, fewer multiply-adds (model/head.c) */
        lo.n_threads = p->to.threads;
        if (qwen3_trainer_export(p->t, p->model_dir, 1, e) || !(gm = qwen3_model_load(p->model_dir, &lo, e))) goto out;
    }
    if (rollout_cands(p, gm, qs, Q, o->seed * 1000003 + (uint64_t)b * 7777 + 1, smp, rw, vd, e)) goto out;
    double rsum = 0, tl = 0, ntl = 0, cl = 0;
    for (int i = 0; i < N; i++) {
        rsum += rw[i];
        cl += smp[i].n;
        if (vd[i].think_ok && vd[i].think_tokens >= 0) { tl += vd[i].think_tokens; ntl++; }
    }
    st->reward = rsum / N;
    st->think_len = ntl ? tl / ntl : 0;
    st->completion_len = cl / N;
    if (o->mode == QWEN3_POST_GRPO) st->all_equal = (double)grpo_advantages(rw, Q, G, 1e-4, adv) / Q;
    else {
        int eq = 0;
        for (int q = 0; q < Q; q++) {
            int same = 1;
            for (int k = 1; k < G; k++) same &= rw[q * G + k] == rw[q * G];
            eq += same;
        }
        st->all_equal = (double)eq / Q;
    }
    /* the training sequences */
    for (int i = 0; i < N; i++) {
        if (o->mode == QWEN3_POST_DISTILL && !o->keep_wrong && rw[i] < 0.5f) continue; /* the teacher's wrong answers */
        if (smp[i].n < 1) continue;
        long c = qs[i / G];
        tseq *s = &sq[n_seq];
        s->from = p->cand_n[c];
        s->n = s->from + smp[i].n;
        if (s->n > p->to.seq_len) s->n = p->to.seq_len;
        s->ids = malloc(sizeof(int32_t) * (size_t)s->n);
        if (!s->ids) { qerr(e, "out of memory"); goto out; }
        memcpy(s->ids, p->cand_ids[c], sizeof(int32_t) * (size_t)s->from);
        memcpy(s->ids + s->from, smp[i].ids, sizeof(int32_t) * (size_t)(s->n - s->from));
        s->adv = o->mode == QWEN3_POST_GRPO ? adv[i] : 0;
        if (o->mode != QWEN3_POST_DISTILL) { s->logp = smp[i].logp; smp[i].logp = NULL; }
        if (p->ref) {
            if (!(s->ref = malloc(sizeof(float) * (size_t)(s->n - s->from)))) { qerr(e, "out of memory"); goto out; }
            if (rl_engine_logprobs(p->ref, p->aux, s->ids, s->n, s->from, p->n_known, s->ref, e)) goto out;
        }
        n_seq++;
    }
    if (gm != p->teacher) { qwen3_model_free(gm); gm = NULL; }
    st->rollout_seconds = now_s() - t0;
    st->sequences = n_seq;
    double t1 = now_s();
    if (n_seq) {
        if (train_steps(p, sq, n_seq, st, e)) goto out;
    } else {
        /* nothing to learn from (distillation: the teacher got every answer wrong): the steps are
         * still counted so that the batch index moves on */
        for (int k = 0; k < o->inner_steps; k++) {
            qwen3_train_stats ts;
            tmodel_zero_grad(qtrainer_model(p->t));
            if (qtrainer_update(p->t, 0, now_s(), &ts, e)) goto out;
        }
        st->step = qwen3_trainer_steps_done(p->t);
    }
    st->train_seconds = now_s() - t1;
    st->batch = qwen3_post_batches_done(p);
    rc = 0;
out:
    if (gm && gm != p->teacher) qwen3_model_free(gm);
    for (int i = 0; smp && i < N; i++) rl_sample_free(&smp[i]);
    for (int i = 0; sq && i < N; i++) { free(sq[i].ids); free(sq[i].logp); free(sq[i].ref); }
    free(qs); free(smp); free(rw); free(adv); free(vd); free(sq);
    return rc;
}
