/* rl_grads.c - one global batch's gradients under a post-training loss, for the reference checks
 * (tests/ref/rl_ref.py): the same loss functions the GRPO and distillation modes call, on the
 * trainer's stream and per-position inputs read from a file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/rl.h"
#include "train/vec.h"

typedef struct { int32_t target; float w, logp_old, adv, ref; } tokrow;

static int read_tokfile(const char *path, int64_t n, tokrow *r, qwen3_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return qerr(e, "%s: cannot open", path);
    for (int64_t i = 0; i < n; i++) {
        long tg;
        if (fscanf(f, "%ld %f %f %f %f", &tg, &r[i].w, &r[i].logp_old, &r[i].adv, &r[i].ref) != 5) {
            fclose(f);
            return qerr(e, "%s: line %lld: expected 'target weight logp_old adv ref_logp' (%lld lines needed)", path,
                        (long long)i + 1, (long long)n);
        }
        r[i].target = (int32_t)tg;
    }
    fclose(f);
    return 0;
}

int qwen3_trainer_rl_grads(qwen3_trainer *t, const qwen3_rl_check *c, const char *grads_path, double *loss, qwen3_err *e) {
    tmodel *m = qtrainer_model(t);
    int B, T, M, V = m->c.vocab_size, nc;
    qtrainer_batch(t, &B, &T, &M);
    const int32_t *cols = qtrainer_cols(t, &nc);
    int64_t n = (int64_t)B * T * M;
    rl_vocab v;
    if (qtrainer_rl_vocab(t, c->n_known, &v, e)) return -1;
    int n_support = c->n_known > 0 ? c->n_known : qtrainer_full_config(t)->vocab_size;
    tokrow *rows = malloc(sizeof *rows * (size_t)n);
    float *lp = NULL, *mlp = NULL, *ne = NULL;
    unsigned char *mask = NULL;
    qwen3_model *tm = NULL;
    qwen3_seq *seq = NULL;
    int rc = -1;
    if (!rows) { qerr(e, "out of memory"); goto out; }
    if (read_tokfile(c->tokfile, n, rows, e)) goto out;
    int kl = c->loss == QWEN3_RL_KL_FWD || c->loss == QWEN3_RL_KL_REV;
    if (!kl && c->loss != QWEN3_RL_GRPO) { qerr(e, "rl: unknown loss %d", c->loss); goto out; }
    if (kl) {
        if (!c->teacher_dir) { qerr(e, "rl: the KL losses need a teacher"); goto out; }
        qwen3_load_opts lo = {0};
        lo.n_threads = 1;
        if (!(tm = qwen3_model_load(c->teacher_dir, &lo, e)) || !(seq = qwen3_seq_new(tm, T, e))) goto out;
        lp = malloc(sizeof(float) * (size_t)T * (size_t)v.nv);
        mlp = malloc(sizeof(float) * (size_t)T);
        ne = malloc(sizeof(float) * (size_t)T);
        if (!lp || !mlp || !ne) { qerr(e, "out of memory"); goto out; }
        if (rl_tied_mask(t, n_support, &mask, e)) goto out;
    }
    grpo_params gp = {c->clip_eps, c->beta};
    rl_acc acc = {0};
    tmodel_zero_grad(m);
    tmodel_lbl_begin(m);
    for (int j = 0; j < M; j++) {
        const int32_t *ids;
        qtrainer_next_micro(t, &ids, NULL);
        if (tmodel_forward(m, ids, NULL, e)) goto out;
        for (int b = 0; b < B; b++) {
            if (kl) {
                /* the teacher reads full ids */
                int32_t *full = malloc(sizeof(int32_t) * (size_t)T);
                if (!full) { qerr(e, "out of memory"); goto out; }
                for (int i = 0; i < T; i++) full[i] = cols ? cols[ids[b * T + i]] : ids[b * T + i];
                for (int i = 0; i < T; i++)
                    if (full[i] < 0) { free(full); qerr(e, "rl: the stream has a token the head ties (impossible)"); goto out; }
                int r2 = rl_teacher_score(tm, seq, full, T, 0, n_support, tv_pick(m->cpu.isa), cols, mask, &v, lp, mlp, ne, e);
                free(full);
                if (r2) goto out;
            }
            for (int i = 0; i < T; i++) {
                int64_t pos = (int64_t)j * B * T + b * T + i;
                const tokrow *r = &rows[pos];
                float *z = m->a.logits + (int64_t)(b * T + i) * V;
                if (c->loss == QWEN3_RL_GRPO) {
                    int col = r->target >= 0 ? qtrainer_col(t, r->target) : -1;
                    if (r->w != 0 && (col < 0 || col >= v.nv)) { qerr(e, "rl: position %lld: target %d is outside the policy's support", (long long)pos, r->target); goto out; }
                    grpo_token(z, &v, col < 0 ? 0 : col, r->logp_old, r->adv, r->ref, r->w, &gp, &acc);
                } else if (c->loss == QWEN3_RL_KL_FWD) {
                    distill_fwd_token(z, &v, lp + (size_t)i * v.nv, ne[i], r->w, &acc);
                } else {
                    distill_rev_token(z, &v, lp + (size_t)i * v.nv, mlp[i], r->w, &acc);
                }
                if (v.nv < V) memset(z + v.nv, 0, sizeof(float) * (size_t)(V - v.nv));
            }
        }
        tmodel_backward_dlogits(m, ids, 1.0f / (float)M);
    }
    if (loss) *loss = acc.loss;
    if (grads_path && tmodel_save_safetensors(m, 1, 0, grads_path, e)) goto out;
    rc = 0;
out:
    free(rows); free(lp); free(mlp); free(ne); free(mask);
    if (seq) qwen3_seq_free(seq);
    if (tm) qwen3_model_free(tm);
    return rc;
}
