/* eval_run.c - `qwen3 eval`'s jobs, their batched generation and the report (see cmd_eval.c).
 *
 * A job is one reply: a question, a condition (greedy thinking, greedy non-thinking, a sample of
 * either, or greedy thinking under a budget) and, for samples, its seed. The jobs of a model run
 * through qwen3_gen_step in slots of --batch sequences; each finished reply is judged by
 * qwen3_verify. The statistics are computed here from the verdicts and recomputed independently from
 * the --replies file by tests/ref/eval_ref.py. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "cli/eval.h"

enum { C_THINK, C_NOTHINK, C_THINK_S, C_NOTHINK_S, C_BUDGET };
static const char *const COND[] = {"think", "no_think", "think_sampled", "no_think_sampled", "budget"};
static const char *const SET[] = {"id", "ood"};
static const char *const SET_LONG[] = {"in-distribution", "out-of-distribution"};

typedef struct question {
    qwen3_task t;
    int set; /* 0 in-distribution, 1 out-of-distribution */
} question;

typedef struct job {
    int q, cond, budget, sample; /* budget: -1 none */
    uint64_t seed;               /* sampling seed (samples only) */
    char *reply;                 /* the generated text (malloc'd) */
    size_t len;
    qwen3_verdict v;
    int gen_think, budget_hit, n_tokens; /* the engine's thinking tokens, budget hit, tokens generated */
    qwen3_finish finish;
    int reused;                  /* -1, or the job whose reply this one is (see cmd_eval.c) */
} job;

typedef struct result {        /* one model's jobs */
    job *jobs;
    int n_jobs;
    double seconds;
    long tokens;
} result;

static int thinking(const job *j) { return j->cond == C_THINK || j->cond == C_THINK_S || (j->cond == C_BUDGET && j->budget > 0); }

static uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static const char *finish_name(qwen3_finish f) {
    return f == QWEN3_FINISH_STOP ? "stop" : f == QWEN3_FINISH_LENGTH ? "length" : f == QWEN3_FINISH_CANCEL ? "cancelled" : "none";
}

/* ---- generation ------------------------------------------------------------------------------ */

typedef struct slot {
    qwen3_seq *seq;
    qwen3_gen *gen;
    int job;
    sbuf text; /* the reply so far */
} slot;

typedef struct runner {
    qwen3_model *m;
    qwen3_tokenizer *tok;
    int kind, n_ctx;
    const eval_opts *o;
    const question *qs;
} runner;

/* Starts job j in slot s: its prompt rendered and encoded, its generation created. */
static int start(runner *r, slot *s, job *j, int idx) {
    const question *q = &r->qs[j->q];
    char user[QWEN3_TASK_TEXT + 64];
    int th = thinking(j);
    snprintf(user, sizeof user, "%s%s%s", q->t.question, th && !*r->o->think_flag ? "" : " ", th ? r->o->think_flag : "/no_think");
    qwen3_chat_msg msg = {.role = "user", .content = user};
    qwen3_chat_opts co = {.add_generation_prompt = 1, .enable_thinking = 1};
    qwen3_err e = {0};
    size_t plen = 0;
    char *prompt = qwen3_chat_render((qwen3_chat_kind)r->kind, &msg, 1, NULL, 0, &co, &plen, &e);
    if (!prompt) return cli_fail("eval: rendering question %d: %s", j->q, e.msg), -1;
    int32_t *ids = NULL;
    int n = qwen3_encode(r->tok, prompt, plen, 1, &ids, &e);
    free(prompt);
    if (n < 0) return cli_fail("eval: encoding question %d: %s", j->q, e.msg), -1;
    if (!s->seq && !(s->seq = qwen3_seq_new(r->m, r->n_ctx, &e))) {
        free(ids);
        return cli_fail("eval: %s", e.msg), -1;
    }
    qwen3_gen_params p;
    memset(&p, 0, sizeof p);
    if (j->cond == C_THINK_S || j->cond == C_NOTHINK_S) {
        qwen3_sampling_defaults(&p.sampling, th, NULL); /* the report's settings, whatever the model's file says */
        p.sampling.seed = j->seed;
    } else {
        p.sampling.temperature = 0;
        p.sampling.top_p = 1;
        p.sampling.repetition_penalty = 1;
    }
    p.max_tokens = r->o->max_tokens;
    p.think_budget = j->cond == C_BUDGET ? j->budget : -1;
    s->gen = qwen3_gen_new(r->m, r->tok, s->seq, ids, n, &p, &e);
    free(ids);
    if (!s->gen) return cli_fail("eval: question %d: %s", j->q, e.msg), -1;
    s->job = idx;
    sb_clear(&s->text);
    if (sb_put(&s->text, "", 0)) return cli_fail("eval: out of memory"), -1;
    return 0;
}

/* Finishes the job of slot s: the reply kept, the verdict given, the generation freed. */
static int finish(runner *r, slot *s, job *j) {
    qwen3_gen_stats st;
    qwen3_gen_stats_get(s->gen, &st);
    j->gen_think = st.thinking_tokens;
    j->budget_hit = st.budget_hit;
    j->n_tokens = st.generated_tokens;
    qwen3_gen_free(s->gen);
    s->gen = NULL;
    j->reply = malloc(s->text.len + 1);
    if (!j->reply) return cli_fail("eval: out of memory"), -1;
    memcpy(j->reply, s->text.s, s->text.len + 1);
    j->len = s->text.len;
    qwen3_err e = {0};
    if (qwen3_verify(&r->qs[j->q].t, j->reply, j->len, thinking(j) ? QWEN3_MODE_THINK : QWEN3_MODE_NO_THINK, r->tok, &j->v, &e))
        return cli_fail("eval: verifying a reply: %s", e.msg), -1;
    return 0;
}

/* Generates the jobs listed in todo[n] with up to batch of them in flight. */
static int run_jobs(runner *r, job *jobs, const int *todo, int n, long *tokens, int done0, int total) {
    int nb = r->o->batch < n ? r->o->batch : n, rc = 0, next = 0, active = 0, done = 0;
    slot *sl = calloc((size_t)(nb ? nb : 1), sizeof *sl);
    qwen3_gen **gens = calloc((size_t)(nb ? nb : 1), sizeof *gens);
    if (!sl || !gens) { free(sl); free(gens); return cli_fail("eval: out of memory"); }
    double t0 = now(), last = t0;
    long tok0 = *tokens;
    for (int i = 0; i < nb && next < n; i++, next++) {
        if (start(r, &sl[i], &jobs[todo[next]], todo[next])) { rc = 1; goto out; }
        active++;
    }
    while (active) {
        int ng = 0;
        for (int i = 0; i < nb; i++)
            if (sl[i].gen) gens[ng++] = sl[i].gen;
        qwen3_err e = {0};
        if (qwen3_gen_step(r->m, gens, ng, &e)) { rc = cli_fail("eval: %s", e.msg); goto out; }
        for (int i = 0; i < nb; i++) {
            if (!sl[i].gen) continue;
            qwen3_gen_out go;
            qwen3_gen_take(sl[i].gen, &go);
            *tokens += go.n_ids;
            if (go.text_len && sb_put(&sl[i].text, go.text, go.text_len)) { rc = cli_fail("eval: out of memory"); goto out; }
            if (go.finish == QWEN3_FINISH_NONE) continue;
            jobs[sl[i].job].finish = go.finish;
            if (finish(r, &sl[i], &jobs[sl[i].job])) { rc = 1; goto out; }
            active--;
            done++;
            if (next < n) {
                if (start(r, &sl[i], &jobs[todo[next]], todo[next])) { rc = 1; goto out; }
                next++;
                active++;
            }
        }
        double t = now();
        if (!r->o->quiet && (t - last > 5 || !active)) {
            fprintf(stderr, "eval: %d/%d replies, %.0f s, %.0f tokens/s\n", done0 + done, total, t - t0, (*tokens - tok0) / (t - t0 + 1e-9));
            last = t;
        }
    }
out:
    for (int i = 0; i < nb; i++) {
        qwen3_gen_free(sl[i].gen);
        qwen3_seq_free(sl[i].seq);
        sb_free(&sl[i].text);
    }
    free(sl);
    free(gens);
    return rc;
}

/* --rescore: the replies of model `label` from a --replies file (rows), judged again. Every job
 * must have its row, and each row's question must be the one these flags draw. */
static int fill_from_rows(const eval_opts *o, json_t *rows, const char *label, const question *qs, int nq, result *res, int per_q,
                          const qwen3_tokenizer *tok) {
    int k = o->k;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *m = json_string_value(json_object_get(row, "model")), *cond = json_string_value(json_object_get(row, "cond"));
        const char *reply = json_string_value(json_object_get(row, "reply")), *question = json_string_value(json_object_get(row, "question"));
        json_t *jq = json_object_get(row, "q"), *jb = json_object_get(row, "budget"), *js = json_object_get(row, "sample");
        if (!m || strcmp(m, label)) continue;
        if (!cond || !reply || !question || !json_is_integer(jq) || !json_is_integer(jb) || !json_is_integer(js))
            return cli_fail("--rescore %s: line %zu: needs model, q, cond, budget, sample, question and reply", o->rescore, i + 1);
        long q = (long)json_integer_value(jq), b = (long)json_integer_value(jb), smp = (long)json_integer_value(js);
        int c = -1, off = -1;
        for (int x = 0; x < 5; x++)
            if (!strcmp(cond, COND[x])) c = x;
        if (q < 0 || q >= nq) return cli_fail("--rescore %s: line %zu: question %ld is not in this set of %d", o->rescore, i + 1, q, nq);
        if (strcmp(question, qs[q].t.question))
            return cli_fail("--rescore %s: line %zu: question %ld is \"%s\" here but \"%s\" in the file: give the -n, --levels, "
                            "--ood-levels, --families and --seed of the run that wrote it", o->rescore, i + 1, q, qs[q].t.question, question);
        if (c == C_THINK || c == C_NOTHINK) off = c;
        else if ((c == C_THINK_S || c == C_NOTHINK_S) && smp >= 0 && smp < k) off = 2 + (c == C_NOTHINK_S ? k : 0) + (int)smp;
        else if (c == C_BUDGET)
            for (int x = 0; x < o->n_budgets; x++)
                if (o->budgets[x] == b) off = 2 + 2 * k + x;
        if (off < 0) return cli_fail("--rescore %s: line %zu: cond %s (budget %ld, sample %ld) is not a job of these flags (-k, --budgets)",
                                     o->rescore, i + 1, cond, b, smp);
        job *j = &res->jobs[(size_t)q * per_q + off];
        free(j->reply);
        size_t len = json_string_length(json_object_get(row, "reply"));
        if (!(j->reply = malloc(len + 1))) return cli_fail("eval: out of memory");
        memcpy(j->reply, reply, len);
        j->reply[len] = 0;
        j->len = len;
        j->gen_think = (int)json_integer_value(json_object_get(row, "gen_think_tokens"));
        j->budget_hit = json_is_true(json_object_get(row, "budget_hit"));
        j->n_tokens = (int)json_integer_value(json_object_get(row, "tokens"));
        const char *fin = json_string_value(json_object_get(row, "finish"));
        j->finish = fin && !strcmp(fin, "length") ? QWEN3_FINISH_LENGTH : QWEN3_FINISH_STOP;
    }
    for (int x = 0; x < res->n_jobs; x++) {
        job *j = &res->jobs[x];
        if (!j->reply)
            return cli_fail("--rescore %s: no reply of model %s to question %d, %s (budget %d, sample %d)", o->rescore, label, j->q,
                            COND[j->cond], j->budget, j->sample);
        qwen3_err e = {0};
        if (qwen3_verify(&qs[j->q].t, j->reply, j->len, thinking(j) ? QWEN3_MODE_THINK : QWEN3_MODE_NO_THINK, tok, &j->v, &e))
            return cli_fail("eval: verifying a reply: %s", e.msg);
    }
    return 0;
}

/* All jobs of one model: first everything but the budgets, then the budgets, each reusing the
 * reply it would repeat (budget 0: the /no_think reply; budget b: the unbudgeted thinking reply when
 * that thought fewer than b tokens, see cmd_eval.c). */
/* The jobs of every question, per_q of them each: greedy thinking and non-thinking, k samples of
 * each, one per budget. */
static void make_jobs(const eval_opts *o, int nq, int per_q, result *res) {
    int k = o->k, nb = o->n_budgets;
    for (int q = 0; q < nq; q++) {
        job *j = res->jobs + (size_t)q * per_q;
        j[0] = (job){.q = q, .cond = C_THINK, .budget = -1, .reused = -1};
        j[1] = (job){.q = q, .cond = C_NOTHINK, .budget = -1, .reused = -1};
        for (int s = 0; s < k; s++) {
            uint64_t base = mix(mix(o->seed ^ 0xE7A1ull) ^ (uint64_t)q << 20 ^ (uint64_t)s);
            j[2 + s] = (job){.q = q, .cond = C_THINK_S, .budget = -1, .sample = s, .seed = base ^ 1, .reused = -1};
            j[2 + k + s] = (job){.q = q, .cond = C_NOTHINK_S, .budget = -1, .sample = s, .seed = base ^ 2, .reused = -1};
        }
        for (int b = 0; b < nb; b++) j[2 + 2 * k + b] = (job){.q = q, .cond = C_BUDGET, .budget = o->budgets[b], .reused = -1};
    }
}

/* A budgeted job whose greedy twin (thinking, or non-thinking for budget 0) never reached the budget
 * would generate the same reply: it takes the twin's. The others go to todo; their count, or -1
 * when memory ran out (message printed). */
static int reuse_twins(result *res, int per_q, int *todo) {
    int n = 0;
    for (int i = 0; i < res->n_jobs; i++) {
        job *j = &res->jobs[i];
        if (j->cond != C_BUDGET) continue;
        const job *twin = &res->jobs[(size_t)j->q * per_q + (j->budget == 0 ? 1 : 0)];
        if (j->budget == 0 || (twin->gen_think < j->budget && !twin->budget_hit)) {
            j->reused = (int)(twin - res->jobs);
            j->reply = malloc(twin->len + 1);
            if (!j->reply) return cli_fail("eval: out of memory"), -1;
            memcpy(j->reply, twin->reply, twin->len + 1);
            j->len = twin->len;
            j->v = twin->v;
            j->gen_think = twin->gen_think;
            j->budget_hit = twin->budget_hit;
            j->n_tokens = twin->n_tokens;
            j->finish = twin->finish;
        } else {
            todo[n++] = i;
        }
    }
    return n;
}

static int eval_model(const eval_opts *o, const cli_model_opts *mo, const char *path, const char *label, json_t *rows,
                      const question *qs, int nq, result *res) {
    int per_q = 2 + 2 * o->k + o->n_budgets;
    res->n_jobs = nq * per_q;
    res->jobs = calloc((size_t)res->n_jobs, sizeof *res->jobs);
    int *todo = malloc(sizeof *todo * (size_t)res->n_jobs);
    if (!res->jobs || !todo) { free(todo); return cli_fail("eval: out of memory"); }
    make_jobs(o, nq, per_q, res);
    qwen3_err e = {0};
    runner r = {.o = o, .qs = qs};
    r.kind = qwen3_chat_template_detect(path, &e);
    if (r.kind < 0) { free(todo); return cli_fail("eval: %s", e.msg); }
    if (!(r.tok = qwen3_tokenizer_load(path, &e))) { free(todo); return cli_fail("eval: %s", e.msg); }
    if (rows) {
        int rc = fill_from_rows(o, rows, label, qs, nq, res, per_q, r.tok);
        qwen3_tokenizer_free(r.tok);
        free(todo);
        return rc;
    }
    cli_model_opts mo_c = *mo;
    mo_c.load.compact_head = 1; /* a trained model's copies of its last row: the same logits, computed once (model/head.c) */
    if (!(r.m = cli_load_model(path, &mo_c))) { qwen3_tokenizer_free(r.tok); free(todo); return 1; }
    int maxpos = qwen3_model_config(r.m)->max_position_embeddings;
    r.n_ctx = 256 + o->max_tokens + 64; /* the question, the reply, the forced stop-thinking text */
    if (maxpos > 0 && r.n_ctx > maxpos) r.n_ctx = maxpos;
    if (mo->ctx > 0) r.n_ctx = mo->ctx;
    int n = 0, rc = 0, total = 0;
    for (int i = 0; i < res->n_jobs; i++) {
        job *j = &res->jobs[i];
        if (j->cond != C_BUDGET) todo[n++] = i;
        if (j->cond != C_BUDGET || j->budget > 0) total++;
    }
    double t0 = now();
    res->tokens = 0;
    if (!o->quiet) fprintf(stderr, "eval: %s: %d questions, %d replies to generate at most\n", path, nq, total);
    rc = run_jobs(&r, res->jobs, todo, n, &res->tokens, 0, total);
    int done = n;
    if (!rc && (n = reuse_twins(res, per_q, todo)) < 0) rc = 1;
    if (!rc && n) rc = run_jobs(&r, res->jobs, todo, n, &res->tokens, done, total);
    res->seconds = now() - t0;
    qwen3_model_free(r.m);
    qwen3_tokenizer_free(r.tok);
    free(todo);
    return rc;
}

/* ---- statistics -------------------------------------------------------------------------------- */

typedef struct stat {
    int n;                 /* questions */
    double acc;            /* greedy: correct; sampled: mean over samples */
    double pass_k, maj_k;  /* sampled only */
    double mode_ok, think_ok, think_tokens, gen_think, budget_hit; /* rates and means over replies */
} stat;

/* Statistics of condition cond (and budget) over the questions of set (-1: all) and family fam (-1: all)
 * of a result. */
static stat stats_of(const result *res, const question *qs, int fam, int set, int cond, int budget, int k) {
    stat s;
    memset(&s, 0, sizeof s);
    int nrep = 0, nthink = 0;
    const char **ans = malloc(sizeof *ans * (size_t)(k > 0 ? k : 1));
    size_t *lens = malloc(sizeof *lens * (size_t)(k > 0 ? k : 1));
    for (int i = 0; i < res->n_jobs; i++) {
        const job *j = &res->jobs[i];
        if (j->cond != cond || (cond == C_BUDGET && j->budget != budget) || (set >= 0 && qs[j->q].set != set)) continue;
        if (fam >= 0 && (int)qs[j->q].t.family != fam) continue;
        nrep++;
        s.acc += j->v.correct;
        s.mode_ok += j->v.mode_ok;
        s.think_ok += j->v.think_ok;
        s.gen_think += j->gen_think;
        s.budget_hit += j->budget_hit;
        if (j->v.think_tokens >= 0) { s.think_tokens += j->v.think_tokens; nthink++; }
        if ((cond == C_THINK_S || cond == C_NOTHINK_S) && j->sample == k - 1 && ans && lens) {
            /* the last sample of a question: its k samples are the k jobs ending here */
            int c = 0;
            for (int t = 0; t < k; t++) {
                const job *x = j - (k - 1) + t;
                c += x->v.correct;
                ans[t] = x->reply + x->v.answer_off;
                lens[t] = x->v.answer_len;
            }
            s.pass_k += qwen3_pass_at_k(k, c, k);
            int w;
            if (qwen3_majority(ans, lens, k, &w) > 0) s.maj_k += (j - (k - 1) + w)->v.correct;
            s.n++;
        }
        if (cond != C_THINK_S && cond != C_NOTHINK_S) s.n++;
    }
    free(ans);
    free(lens);
    if (nrep) {
        s.acc /= nrep; s.mode_ok /= nrep; s.think_ok /= nrep; s.gen_think /= nrep; s.budget_hit /= nrep;
    }
    s.think_tokens = nthink ? s.think_tokens / nthink : NAN;
    if (s.n && (cond == C_THINK_S || cond == C_NOTHINK_S)) { s.pass_k /= s.n; s.maj_k /= s.n; }
    return s;
}

/* Per question, 1 when the greedy reply of cond (budget) is correct, in question order over set. */
static int correct_vector(const result *res, const question *qs, int set, int cond, int budget, unsigned char *out) {
    int n = 0;
    for (int i = 0; i < res->n_jobs; i++) {
        const job *j = &res->jobs[i];
        if (j->cond != cond || (cond == C_BUDGET && j->budget != budget) || (set >= 0 && qs[j->q].set != set)) continue;
        out[n++] = (unsigned char)j->v.correct;
    }
    return n;
}

/* ---- output ------------------------------------------------------------------------------------ */

static int write_replies(FILE *f, const char *label, const result *res, const question *qs) {
    for (int i = 0; i < res->n_jobs; i++) {
        const job *j = &res->jobs[i];
        const qwen3_task *t = &qs[j->q].t;
        json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:s#, s:b, s:b, s:b, s:b, s:i, s:i, s:b, s:i, s:s, s:s#}",
                              "model", label, "set", SET[qs[j->q].set], "q", j->q, "family", qwen3_task_family_name(t->family),
                              "level", t->level, "question", t->question, "answer", t->answer, "cond", COND[j->cond], "budget",
                              j->budget, "sample", j->sample, "reply", j->reply ? j->reply : "", (int)j->len, "correct",
                              j->v.correct, "think_ok", j->v.think_ok, "think_empty", j->v.think_empty, "mode_ok", j->v.mode_ok,
                              "think_tokens", j->v.think_tokens, "gen_think_tokens", j->gen_think, "budget_hit", j->budget_hit,
                              "tokens", j->n_tokens, "finish", finish_name(j->finish), "answer_extracted",
                              j->reply ? j->reply + j->v.answer_off : "", (int)j->v.answer_len);
        if (!o) return cli_fail("eval: a reply is not valid UTF-8 JSON text (question %d)", j->q);
        json_object_set_new(o, "seed", json_integer((json_int_t)(j->seed & 0x7fffffffffffffffull)));
        json_object_set_new(o, "reused", j->reused >= 0 ? json_string(COND[res->jobs[j->reused].cond]) : json_null());
        char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(o);
        if (!s || fprintf(f, "%s\n", s) < 0) { free(s); return cli_fail("eval: writing the replies failed"); }
        free(s);
    }
    return 0;
}

static json_t *stat_json(const stat *s, int sampled) {
    json_t *o = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "n", s->n, sampled ? "mean_acc" : "acc", s->acc, "mode_follow", s->mode_ok,
                          "well_formed", s->think_ok, "gen_think_tokens", s->gen_think, "budget_hit", s->budget_hit);
    json_object_set_new(o, "think_tokens", isnan(s->think_tokens) ? json_null() : json_real(s->think_tokens));
    if (sampled) {
        json_object_set_new(o, "pass_k", json_real(s->pass_k));
        json_object_set_new(o, "maj_k", json_real(s->maj_k));
    }
    return o;
}

static json_t *paired_json(const char *what, const char *set, const qwen3_paired *p) {
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "what", what, "set", set, "n", p->n, "n01", p->n01,
                     "n10", p->n10, "acc_a", p->acc_a, "acc_b", p->acc_b, "diff", p->diff, "lo", p->lo, "hi", p->hi, "p_mcnemar",
                     p->p_mcnemar);
}

static void print_paired(const char *what, const char *set, const qwen3_paired *p) {
    printf("  %-34s %-5s %5d  %6.3f %6.3f  %+6.3f [%+6.3f, %+6.3f]  %3d/%-3d  %.3g\n", what, set, p->n, p->acc_a, p->acc_b, p->diff,
           p->lo, p->hi, p->n10, p->n01, p->p_mcnemar);
}

static const uint64_t BOOT_SEED = 20250514;

/* The question sets: per set, level, family (those asked for) and index, made from the seed. NULL
 * with the message printed when a task cannot be made or memory runs out. */
static question *make_questions(const eval_opts *o, int *nq_out) {
    int nq = 0, cap = 0;
    for (int s = 0; s < o->n_sets; s++) cap += (o->hi[s] - o->lo[s] + 1) * QWEN3_TASK_FAMILIES * o->per_level;
    question *qs = calloc((size_t)cap, sizeof *qs);
    if (!qs) return cli_fail("eval: out of memory"), NULL;
    for (int s = 0; s < o->n_sets; s++)
        for (int lv = o->lo[s]; lv <= o->hi[s]; lv++)
            for (int f = 0; f < QWEN3_TASK_FAMILIES; f++) {
                if (!o->families[f]) continue;
                for (int i = 0; i < o->per_level; i++) {
                    qwen3_err e = {0};
                    if (qwen3_task_make(o->seed, i, f, lv, &qs[nq].t, &e) || (o->varied && qwen3_task_rephrase(o->seed, i, &qs[nq].t, &e))) {
                        free(qs);
                        return cli_fail("eval: %s", e.msg), NULL;
                    }
                    qs[nq++].set = s;
                }
            }
    *nq_out = nq;
    return qs;
}

/* --rescore FILE: its rows (one JSON object per line) into *rows. 0, or 1 (message printed; *rows
 * holds the lines read so far). */
static int read_rescore(const char *path, json_t **rows) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_fail("--rescore %s: cannot open the file", path);
    *rows = json_array();
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    long ln = 0;
    for (ssize_t n; (n = getline(&line, &cap, f)) > 0;) {
        ln++;
        json_error_t je;
        json_t *row = json_loadb(line, (size_t)n, 0, &je);
        if (!json_is_object(row)) {
            json_decref(row);
            rc = cli_fail("--rescore %s: line %ld is not a JSON object (%s)", path, ln, je.text);
            break;
        }
        json_array_append_new(*rows, row);
    }
    free(line);
    fclose(f);
    return rc;
}

/* The settings a report was made with (--json's "settings"). */
static json_t *settings_json(const eval_opts *o, int nq) {
    json_t *set = json_pack("{s:I, s:i, s:i, s:i, s:s, s:i, s:i, s:I}", "seed", (json_int_t)(o->seed & 0x7fffffffffffffffull), "per_level",
                            o->per_level, "k", o->k, "max_tokens", o->max_tokens, "think_flag", o->think_flag, "resamples", o->resamples,
                            "questions", nq, "bootstrap_seed", (json_int_t)BOOT_SEED);
    json_object_set_new(set, "phrasing", json_string(o->varied ? "varied" : "generator"));
    json_t *sets = json_array(), *bud = json_array();
    for (int s = 0; s < o->n_sets; s++)
        json_array_append_new(sets, json_pack("{s:s, s:i, s:i}", "name", SET[s], "lo", o->lo[s], "hi", o->hi[s]));
    for (int b = 0; b < o->n_budgets; b++) json_array_append_new(bud, json_integer(o->budgets[b]));
    json_object_set_new(set, "sets", sets);
    json_object_set_new(set, "budgets", bud);
    return set;
}

static void print_header(const eval_opts *o, const question *qs, int nq) {
    int nper[2] = {0, 0};
    for (int q = 0; q < nq; q++) nper[qs[q].set]++;
    printf("qwen3 eval: %d questions per family and level, seed %llu: %s %d (levels %d-%d)", o->per_level,
           (unsigned long long)o->seed, SET_LONG[0], nper[0], o->lo[0], o->hi[0]);
    if (o->n_sets > 1) printf(", %s %d (levels %d-%d)", SET_LONG[1], nper[1], o->lo[1], o->hi[1]);
    printf("\nquestions in %s; thinking questions end \"%s\", non-thinking \"/no_think\"; at most %d tokens per reply\n",
           o->varied ? "the varied phrasings people use (--phrasing varied)" : "the generator's own phrasing", o->think_flag, o->max_tokens);
}

/* Model m's statistics per set and condition into st, and as JSON (--json's models.A / .B). */
static json_t *model_json(const eval_opts *o, const result *r, const question *qs, const char *path, stat st[2][4]) {
    json_t *jr = json_object();
    json_object_set_new(jr, "path", json_string(path));
    json_object_set_new(jr, "seconds", json_real(r->seconds));
    json_object_set_new(jr, "tokens", json_integer(r->tokens));
    for (int s = 0; s < o->n_sets; s++) {
        json_t *js = json_object();
        for (int c = 0; c < 4; c++) {
            if ((c == C_THINK_S || c == C_NOTHINK_S) && !o->k) continue;
            st[s][c] = stats_of(r, qs, -1, s, c, -1, o->k);
            json_object_set_new(js, COND[c], stat_json(&st[s][c], c >= 2));
        }
        json_t *jb = json_array();
        for (int b = 0; b < o->n_budgets; b++) {
            stat x = stats_of(r, qs, -1, s, C_BUDGET, o->budgets[b], o->k);
            json_t *e = stat_json(&x, 0);
            json_object_set_new(e, "budget", json_integer(o->budgets[b]));
            json_array_append_new(jb, e);
        }
        json_object_set_new(js, "budgets", jb);
        json_t *jf = json_object();
        for (int f = 0; f < QWEN3_TASK_FAMILIES; f++) {
            if (!o->families[f]) continue;
            stat a = stats_of(r, qs, f, s, C_THINK, -1, o->k), b = stats_of(r, qs, f, s, C_NOTHINK, -1, o->k);
            json_object_set_new(jf, qwen3_task_family_name(f), json_pack("{s:i, s:f, s:f}", "n", a.n, "think", a.acc, "no_think", b.acc));
        }
        json_object_set_new(js, "families", jf);
        json_object_set_new(jr, SET[s], js);
    }
    return jr;
}

/* The table of one model: rows of statistics, one column per set, then the budget sweep. */
static void print_model(const eval_opts *o, const result *r, const question *qs, stat st[2][4]) {
    printf("  %-34s", "");
    for (int s = 0; s < o->n_sets; s++) printf(" %19s", SET_LONG[s]);
    printf("\n");
#define ROW(name, expr)                                                        \
    do {                                                                       \
        printf("  %-34s", name);                                               \
        for (int s = 0; s < o->n_sets; s++) printf(" %19.3f", (double)(expr)); \
        printf("\n");                                                          \
    } while (0)
    ROW("greedy pass@1, thinking", st[s][C_THINK].acc);
    ROW("greedy pass@1, non-thinking", st[s][C_NOTHINK].acc);
    if (o->k) {
        char name[64];
        printf("  sampled, k = %d (thinking T 0.6 top-p 0.95 top-k 20; non-thinking T 0.7 top-p 0.8 top-k 20)\n", o->k);
        ROW("  thinking: mean accuracy", st[s][C_THINK_S].acc);
        snprintf(name, sizeof name, "  thinking: pass@%d", o->k);
        ROW(name, st[s][C_THINK_S].pass_k);
        snprintf(name, sizeof name, "  thinking: maj@%d", o->k);
        ROW(name, st[s][C_THINK_S].maj_k);
        ROW("  non-thinking: mean accuracy", st[s][C_NOTHINK_S].acc);
        snprintf(name, sizeof name, "  non-thinking: pass@%d", o->k);
        ROW(name, st[s][C_NOTHINK_S].pass_k);
        snprintf(name, sizeof name, "  non-thinking: maj@%d", o->k);
        ROW(name, st[s][C_NOTHINK_S].maj_k);
    }
    printf("  mode following (greedy)\n");
    ROW("  /think -> non-empty think block", st[s][C_THINK].mode_ok);
    ROW("  /no_think -> empty think block", st[s][C_NOTHINK].mode_ok);
    ROW("  well-formed, thinking", st[s][C_THINK].think_ok);
    ROW("  well-formed, non-thinking", st[s][C_NOTHINK].think_ok);
    ROW("  think tokens, thinking (mean)", st[s][C_THINK].gen_think);
    printf("  greedy pass@1 per family (thinking / non-thinking)\n");
    for (int f = 0; f < QWEN3_TASK_FAMILIES; f++) {
        if (!o->families[f]) continue;
        printf("    %-32s", qwen3_task_family_name(f));
        for (int s = 0; s < o->n_sets; s++)
            printf("       %5.3f / %5.3f", stats_of(r, qs, f, s, C_THINK, -1, o->k).acc, stats_of(r, qs, f, s, C_NOTHINK, -1, o->k).acc);
        printf("\n");
    }
#undef ROW
    if (o->n_budgets) {
        printf("  accuracy against the thinking budget (greedy; 0 = /no_think)\n  %8s", "budget");
        for (int s = 0; s < o->n_sets; s++) printf(" %19s", SET_LONG[s]);
        printf(" %14s %12s\n", "think tokens", "budget hit");
        for (int b = 0; b < o->n_budgets; b++) {
            printf("  %8d", o->budgets[b]);
            stat all = stats_of(r, qs, -1, -1, C_BUDGET, o->budgets[b], o->k);
            for (int s = 0; s < o->n_sets; s++) printf(" %19.3f", stats_of(r, qs, -1, s, C_BUDGET, o->budgets[b], o->k).acc);
            printf(" %14.1f %12.3f\n", all.gen_think, all.budget_hit);
        }
    }
}

/* The paired comparisons: thinking vs non-thinking on each model, model B vs model A; into jpaired,
 * and printed unless --json. va, vb: scratch of nq + 1 bytes. 0, or 1 (message printed). */
static int compare_paired(const eval_opts *o, const result *res, int n_models, const question *qs, unsigned char *va,
                          unsigned char *vb, json_t *jpaired, int as_json) {
    int rc = 0;
    for (int m = 0; m < n_models && !rc; m++)
        for (int s = 0; s <= o->n_sets && !rc; s++) {
            int set = s < o->n_sets ? s : -1;
            if (set < 0 && o->n_sets == 1) continue;
            const char *sn = set < 0 ? "all" : SET[set];
            int n = correct_vector(&res[m], qs, set, C_NOTHINK, -1, va);
            correct_vector(&res[m], qs, set, C_THINK, -1, vb);
            qwen3_paired p;
            qwen3_err e = {0};
            if (qwen3_paired_compare(va, vb, n, o->resamples, 0.95, BOOT_SEED, &p, &e)) { rc = cli_fail("eval: %s", e.msg); break; }
            char what[64];
            snprintf(what, sizeof what, "%s: non-thinking vs thinking", m ? "B" : "A");
            json_array_append_new(jpaired, paired_json(what, sn, &p));
            if (!as_json) print_paired(what, sn, &p);
        }
    for (int c = 0; c < 2 && n_models == 2 && !rc; c++)
        for (int s = 0; s <= o->n_sets && !rc; s++) {
            int set = s < o->n_sets ? s : -1;
            if (set < 0 && o->n_sets == 1) continue;
            const char *sn = set < 0 ? "all" : SET[set];
            int n = correct_vector(&res[0], qs, set, c, -1, va);
            correct_vector(&res[1], qs, set, c, -1, vb);
            qwen3_paired p;
            qwen3_err e = {0};
            if (qwen3_paired_compare(va, vb, n, o->resamples, 0.95, BOOT_SEED, &p, &e)) { rc = cli_fail("eval: %s", e.msg); break; }
            char what[64];
            snprintf(what, sizeof what, "model A vs B, %s", c == C_THINK ? "thinking" : "non-thinking");
            json_array_append_new(jpaired, paired_json(what, sn, &p));
            if (!as_json) print_paired(what, sn, &p);
        }
    return rc;
}

/* --png: accuracy against the thinking budget, one line per model and set. 0, or 1 (printed). */
static int draw_chart(const eval_opts *o, const result *res, int n_models, const question *qs) {
    int rc = 0;
    const char *labels[64];
    char lab[64][16];
    int nx = o->n_budgets < 64 ? o->n_budgets : 64, ns = 0;
    double *ys[4];
    const char *names[4];
    char nm[4][64];
    for (int b = 0; b < nx; b++) { snprintf(lab[b], sizeof lab[b], "%d", o->budgets[b]); labels[b] = lab[b]; }
    for (int m = 0; m < n_models; m++)
        for (int s = 0; s < o->n_sets; s++, ns++) {
            ys[ns] = malloc(sizeof(double) * (size_t)nx);
            if (!ys[ns]) { rc = cli_fail("eval: out of memory"); break; }
            for (int b = 0; b < nx; b++) ys[ns][b] = stats_of(&res[m], qs, -1, s, C_BUDGET, o->budgets[b], o->k).acc;
            if (o->lo[s] == o->hi[s])
                snprintf(nm[ns], sizeof nm[ns], "%s%s (level %d)", n_models > 1 ? (m ? "B: " : "A: ") : "", SET_LONG[s], o->lo[s]);
            else
                snprintf(nm[ns], sizeof nm[ns], "%s%s (levels %d-%d)", n_models > 1 ? (m ? "B: " : "A: ") : "", SET_LONG[s], o->lo[s], o->hi[s]);
            names[ns] = nm[ns];
        }
    qwen3_err e = {0};
    if (!rc && qwen3_plot_png(o->png, "accuracy against the thinking budget (greedy)", "thinking budget (tokens; 0 = /no_think)",
                              "accuracy (%)", labels, nx, (const double *const *)ys, names, ns, &e))
        rc = cli_fail("eval: %s", e.msg);
    for (int i = 0; i < ns; i++) free(ys[i]);
    return rc;
}

int eval_run(const eval_opts *o, const cli_model_opts *mo, FILE *replies, int as_json) {
    int nq = 0;
    question *qs = make_questions(o, &nq);
    if (!qs) return 1;
    int n_models = o->models[1] ? 2 : 1, rc = 0;
    result res[2];
    memset(res, 0, sizeof res);
    json_t *rows = NULL;
    if (o->rescore) rc = read_rescore(o->rescore, &rows);
    for (int m = 0; m < n_models && !rc; m++) {
        rc = eval_model(o, mo, o->models[m], m ? "B" : "A", rows, qs, nq, &res[m]);
        if (!rc && replies) rc = write_replies(replies, m ? "B" : "A", &res[m], qs);
    }
    unsigned char *va = malloc((size_t)nq + 1), *vb = malloc((size_t)nq + 1);
    if (!rc && (!va || !vb)) rc = cli_fail("eval: out of memory");
    json_t *root = json_object(), *jm = json_object(), *jpaired = json_array();
    if (!rc) {
        json_object_set_new(root, "model", json_string(o->models[0]));
        json_object_set_new(root, "compare", o->models[1] ? json_string(o->models[1]) : json_null());
        json_object_set_new(root, "settings", settings_json(o, nq));
    }
    if (!rc && !as_json) print_header(o, qs, nq);
    for (int m = 0; m < n_models && !rc; m++) {
        const char *label = m ? "B" : "A";
        if (!as_json && o->rescore) printf("\nmodel %s: %s (its replies in %s, judged again)\n", label, o->models[m], o->rescore);
        else if (!as_json)
            printf("\nmodel %s: %s (%ld tokens generated in %.0f s, %.0f tokens/s)\n", label, o->models[m], res[m].tokens, res[m].seconds,
                   res[m].tokens / (res[m].seconds + 1e-9));
        stat st[2][4];
        json_object_set_new(jm, label, model_json(o, &res[m], qs, o->models[m], st));
        if (!as_json) print_model(o, &res[m], qs, st);
    }
    /* paired comparisons: thinking vs non-thinking on each model; model B vs model A */
    if (!rc && !as_json)
        printf("\npaired comparisons (greedy, same questions): accuracy of the second minus the first, 95%% interval by\n"
               "paired bootstrap (%d resamples of the questions), discordant pairs (first right only / second right only),\n"
               "McNemar's exact two-sided p\n  %-34s %-5s %5s  %6s %6s  %-24s %-7s  %s\n",
               o->resamples, "first vs second", "set", "n", "first", "second", "diff [95% interval]", "pairs", "p");
    if (!rc) rc = compare_paired(o, res, n_models, qs, va, vb, jpaired, as_json);
    if (!rc && o->n_budgets && o->png && !(rc = draw_chart(o, res, n_models, qs))) {
        json_object_set_new(root, "png", json_string(o->png));
        if (!as_json) printf("\nchart: %s\n", o->png);
    }
    if (!rc && as_json) {
        json_object_set(root, "models", jm);
        json_object_set(root, "paired", jpaired);
        char *s = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
        if (s) puts(s);
        free(s);
    }
    json_decref(rows);
    json_decref(jm);
    json_decref(jpaired);
    json_decref(root);
    for (int m = 0; m < 2; m++) {
        for (int i = 0; i < res[m].n_jobs; i++) free(res[m].jobs[i].reply);
        free(res[m].jobs);
    }
    free(va);
    free(vb);
    free(qs);
    return rc;
}
