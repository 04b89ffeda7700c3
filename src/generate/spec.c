/* spec.c - speculative decoding: a small draft model proposes tokens, the target checks them all in
 * one forward pass (gen.c), and the rejection rule below keeps the output distributed as the
 * target's own.
 *
 * The rule (Leviathan, Kalman, Matias 2023, "Fast Inference from Transformers via Speculative
 * Decoding", Algorithm 1; Chen et al. 2023, "Accelerating LLM Decoding with Speculative Sampling"):
 * a drafted token x ~ q is kept with probability min(1, p(x)/q(x)); when it is not, the token
 * emitted is drawn from norm(max(0, p - q)). Then P(emit y) = q(y) min(1, p(y)/q(y)) +
 * (1 - sum_x min(p(x), q(x))) (p(y) - min(p(y), q(y))) / (1 - sum_x min(p(x), q(x))) = p(y): exact
 * for any q, so the draft's distribution q may be anything we can evaluate. We take the target's
 * temperature and filters (top-k, top-p, min-p) without its penalties: the closer q is to p, the
 * more tokens are kept, and penalties would need the draft to track the target's token counts.
 * Greedy decoding needs no q: the draft proposes its argmax and a token is kept when it is the
 * target's argmax, so the output is the target's greedy output whenever the target's logits of a
 * token do not depend on how many tokens share its pass (the batch-invariant paths, README:
 * Determinism).
 *
 * The draft keeps its own cache. At each step it is compared with the tokens the target holds plus
 * its pending input, cut back to the common prefix, and fed the rest: a step whose drafts were all
 * kept feeds it two tokens (the last draft and the target's bonus token), a rejected one the
 * target's correction after the kept drafts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate/gen.h"

int draft_init(gen_draft *d, int target_vocab, qwen3_model *draft, qwen3_seq *seq, int n_max, const qwen3_sampling *s,
               int n_vocab, gen_rng *rng, qwen3_err *e) {
    memset(d, 0, sizeof *d);
    if (!seq) return qerr(e, "gen: a draft model needs its own sequence (draft_seq)");
    if ((n_max < 0 && n_max != QWEN3_DRAFT_AUTO) || n_max > QWEN3_MAX_DRAFT)
        return qerr(e, "gen: draft_n must be in [1, %d] (0: the default %d; QWEN3_DRAFT_AUTO: adaptive), got %d",
                    QWEN3_MAX_DRAFT, QWEN3_DRAFT_N, n_max);
    int dv = qwen3_model_config(draft)->vocab_size;
    if (dv != target_vocab)
        return qerr(e, "gen: the draft model has a vocabulary of %d ids and the target %d: a draft must share the "
                       "target's tokenizer (a smaller model of the same family)", dv, target_vocab);
    d->m = draft;
    d->seq = seq;
    d->adaptive = n_max == QWEN3_DRAFT_AUTO;
    d->n_max = d->adaptive ? QWEN3_MAX_DRAFT : n_max ? n_max : QWEN3_DRAFT_N;
    d->n_cur = d->adaptive ? QWEN3_DRAFT_N : d->n_max;
    d->n_vocab = n_vocab;
    d->greedy = s->temperature == 0;
    d->rng = rng;
    d->logits = malloc(sizeof *d->logits * (size_t)dv);
    d->dense = calloc((size_t)n_vocab, sizeof *d->dense);
    if (!d->logits || !d->dense) { draft_free(d); return qerr(e, "gen: out of memory for the draft"); }
    if (!d->greedy) {
        qwen3_sampling q = *s;
        q.presence_penalty = q.frequency_penalty = 0;
        q.repetition_penalty = 1;
        if (sampler_init(&d->smp, &q, n_vocab, e)) { draft_free(d); return -1; }
        for (int k = 0; k < d->n_max; k++) {
            d->q_ids[k] = malloc(sizeof *d->q_ids[k] * (size_t)n_vocab);
            d->q_p[k] = malloc(sizeof *d->q_p[k] * (size_t)n_vocab);
            if (!d->q_ids[k] || !d->q_p[k]) { draft_free(d); return qerr(e, "gen: out of memory for the draft"); }
        }
    }
    return 0;
}

void draft_free(gen_draft *d) {
    sampler_free(&d->smp);
    free(d->logits);
    free(d->in);
    for (int k = 0; k < QWEN3_MAX_DRAFT; k++) {
        free(d->q_ids[k]);
        free(d->q_p[k]);
    }
    free(d->dense);
    free(d->verify);
    memset(d, 0, sizeof *d);
}

int draft_begin(gen_draft *d, const int32_t *cached, int n_cached, const int32_t *pending, int n_pending, int n,
                qwen3_err *e) {
    int total = n_cached + n_pending, have = qwen3_seq_len(d->seq), same = 0;
    const int32_t *dt = qwen3_seq_tokens(d->seq);
    while (same < have && same < total - 1 && dt[same] == (same < n_cached ? cached[same] : pending[same - n_cached]))
        same++;
    if (qwen3_seq_truncate(d->seq, same, e)) return -1;
    if (total - same > d->cap_in) {
        int32_t *ni = realloc(d->in, sizeof *ni * (size_t)(total - same));
        if (!ni) return qerr(e, "gen: out of memory for the draft's input");
        d->in = ni;
        d->cap_in = total - same;
    }
    d->n_in = 0;
    for (int i = same; i < total; i++) d->in[d->n_in++] = i < n_cached ? cached[i] : pending[i - n_cached];
    size_t need = (size_t)(n_pending + n) * (size_t)qwen3_model_config(d->m)->vocab_size;
    if (need > d->cap_verify) {
        float *nv = realloc(d->verify, sizeof *nv * need);
        if (!nv) return qerr(e, "gen: out of memory for %d rows of logits", n_pending + n);
        d->verify = nv;
        d->cap_verify = need;
    }
    d->n = n;
    return 0;
}

/* The draft's r-th proposal from its logits: its argmax when greedy, else a draw from q, which is
 * kept for spec_accept. */
static void propose(gen_draft *d, int r) {
    if (d->greedy) {
        d->tok[r] = scan_argmax(d->logits, d->n_vocab);
        return;
    }
    const int32_t *ids;
    const float *pr;
    int n = sampler_filter(&d->smp, d->logits, &ids, &pr);
    memcpy(d->q_ids[r], ids, sizeof *ids * (size_t)n);
    memcpy(d->q_p[r], pr, sizeof *pr * (size_t)n);
    d->q_n[r] = n;
    double u = rng_uniform(d->rng), c = 0;
    int k = 0;
    for (; k < n - 1; k++) {
        c += pr[k];
        if (u < c) break;
    }
    d->tok[r] = ids[k];
}

int draft_run(gen_draft **d, int n, qwen3_err *e) {
    int rounds = 0;
    for (int i = 0; i < n; i++)
        if (d[i]->n > rounds) rounds = d[i]->n;
    qwen3_batch_item local[16], *items = n <= 16 ? local : malloc(sizeof *items * (size_t)n);
    gen_draft *lw[16], **who = n <= 16 ? lw : malloc(sizeof *who * (size_t)n);
    unsigned char lr[16], *run = n <= 16 ? lr : malloc((size_t)n);
    int rc = 0;
    if (!items || !who || !run) { rc = qerr(e, "gen: out of memory for the drafts"); goto out; }
    for (int r = 0; r < rounds && rc == 0; r++) {
        memset(run, 0, (size_t)n);
        /* one forward per distinct draft model (a server has one; a caller may mix) */
        for (int a = 0; a < n && rc == 0; a++) {
            if (run[a] || d[a]->n <= r) continue;
            int k = 0;
            for (int b = a; b < n; b++) {
                if (run[b] || d[b]->n <= r || d[b]->m != d[a]->m) continue;
                run[b] = 1;
                items[k] = r == 0 ? (qwen3_batch_item){d[b]->seq, d[b]->in, d[b]->n_in, QWEN3_LOGITS_LAST, d[b]->logits}
                                  : (qwen3_batch_item){d[b]->seq, &d[b]->tok[r - 1], 1, QWEN3_LOGITS_LAST, d[b]->logits};
                who[k++] = d[b];
            }
            if (qwen3_forward(d[a]->m, items, k, e)) { rc = qerr_wrap(e, "draft model"); break; }
            for (int j = 0; j < k; j++) propose(who[j], r);
        }
    }
out:
    if (items != local) free(items);
    if (who != lw) free(who);
    if (run != lr) free(run);
    return rc;
}

int32_t spec_accept(const int32_t *p_ids, const float *p, int p_n, const int32_t *q_ids, const float *q, int q_n,
                    int32_t x, float *dense, gen_rng *rng, int *accepted) {
    for (int k = 0; k < q_n; k++) dense[q_ids[k]] = q[k];
    double px = 0, qx = dense[x];
    for (int k = 0; k < p_n; k++)
        if (p_ids[k] == x) { px = p[k]; break; }
    int32_t y = x;
    *accepted = rng_uniform(rng) * qx < px; /* u < p/q, without dividing by q */
    if (!*accepted) {
        /* the residual max(0, p - q), outside p's support 0; its draw walks p's ids in order */
        double z = 0;
        for (int k = 0; k < p_n; k++) z += fmax(0.0, (double)p[k] - dense[p_ids[k]]);
        double u = rng_uniform(rng), c = 0;
        y = p_ids[p_n - 1];
        if (z > 0) {
            u *= z;
            for (int k = 0; k < p_n; k++) {
                double r = fmax(0.0, (double)p[k] - dense[p_ids[k]]);
                c += r;
                if (r > 0 && u < c) { y = p_ids[k]; break; }
            }
        } else {
            /* p <= q everywhere and yet x was refused: only rounding gets here; draw from p */
            for (int k = 0; k < p_n; k++) {
                c += p[k];
                if (u < c) { y = p_ids[k]; break; }
            }
        }
    }
    for (int k = 0; k < q_n; k++) dense[q_ids[k]] = 0;
    return y;
}

/* A token's bytes for a message: printable ASCII as is, the rest as \xHH, at most ~40 characters. */
static void show_bytes(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; s && i < n && k + 5 < cap && k < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127 && c != '"' && c != '\\') out[k++] = (char)c;
        else k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        out[k] = 0;
    }
}

int qwen3_tokenizer_same_vocab(const qwen3_tokenizer *a, const qwen3_tokenizer *b, qwen3_err *e) {
    int na = qwen3_tokenizer_size(a), nb = qwen3_tokenizer_size(b);
    if (na != nb) return qerr(e, "the tokenizers differ: %d ids against %d", na, nb);
    for (int32_t id = 0; id < na; id++) {
        size_t la = 0, lb = 0;
        const char *sa = qwen3_token_bytes(a, id, &la), *sb = qwen3_token_bytes(b, id, &lb);
        if (!sa != !sb || la != lb || (la && memcmp(sa, sb, la))) {
            char ta[64], tb[64];
            show_bytes(sa, la, ta, sizeof ta);
            show_bytes(sb, lb, tb, sizeof tb);
            return qerr(e, "the tokenizers differ at id %d: \"%s\" against \"%s\"", id, ta, tb);
        }
    }
    return 0;
}
