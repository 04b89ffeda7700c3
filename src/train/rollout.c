/* rollout.c - sampling completions through the inference engine's batched decoding, and
 * log-probabilities of given tokens under an inference model (train/rl.h).
 *
 * Every completion of a rollout is one qwen3_gen on its own sequence; qwen3_gen_step advances all of
 * them with ONE forward pass per step (the server's continuous batching), so a rollout batch of
 * Q queries x G samples costs one batched decode, not Q x G. Each generation records its tokens'
 * log-probabilities as the engine computes them (qwen3_logprob: log-softmax of the raw logits over
 * the ids the tokenizer knows), which the trainer's recomputation must equal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/rl.h"

void rl_sample_free(rl_sample *s) {
    if (!s) return;
    free(s->ids);
    free(s->logp);
    free(s->text);
    memset(s, 0, sizeof *s);
}

int rl_rollout(qwen3_model *m, const qwen3_tokenizer *tok, const int32_t *const *prompts, const int *n_prompt, int n_prompts,
               int n_per, const qwen3_sampling *smp, int max_tokens, uint64_t seed, rl_sample *out, qwen3_err *e) {
    int n = n_prompts * n_per, rc = -1;
    qwen3_seq **seqs = calloc((size_t)n, sizeof *seqs);
    qwen3_gen **gens = calloc((size_t)n, sizeof *gens);
    if (!seqs || !gens) { qerr(e, "rollout: out of memory"); goto out; }
    memset(out, 0, sizeof *out * (size_t)n);
    for (int i = 0; i < n; i++) {
        int p = i / n_per;
        qwen3_gen_params gp = {0};
        gp.sampling = smp[p];
        gp.sampling.seed = seed + (uint64_t)i * 0x9E3779B97F4A7C15ull;
        gp.max_tokens = max_tokens;
        gp.think_budget = -1;
        gp.logprobs = 1;
        if (!(seqs[i] = qwen3_seq_new(m, n_prompt[p] + max_tokens + 1, e))) goto out;
        if (!(gens[i] = qwen3_gen_new(m, tok, seqs[i], prompts[p], n_prompt[p], &gp, e))) goto out;
    }
    /* a take hands over what was produced since the previous one: append it */
    int *cap = calloc((size_t)n, sizeof *cap);
    if (!cap) { qerr(e, "rollout: out of memory"); goto out; }
    for (;;) {
        int live = 0;
        for (int i = 0; i < n; i++) {
            qwen3_gen_out go;
            qwen3_gen_take(gens[i], &go);
            rl_sample *s = &out[i];
            if (s->n + go.n_ids + 1 > cap[i]) {
                int c = 2 * (s->n + go.n_ids + 1) + 16;
                int32_t *ni = realloc(s->ids, sizeof(int32_t) * (size_t)c);
                if (ni) s->ids = ni;
                float *nl = realloc(s->logp, sizeof(float) * (size_t)c);
                if (nl) s->logp = nl;
                if (!ni || !nl) { free(cap); qerr(e, "rollout: out of memory"); goto out; }
                cap[i] = c;
            }
            for (int k = 0; k < go.n_ids; k++) {
                s->ids[s->n] = go.ids[k];
                s->logp[s->n++] = go.logprobs ? go.logprobs[k].logprob : NAN;
            }
            if (go.finish == QWEN3_FINISH_NONE) live++;
            else s->finished = go.finish == QWEN3_FINISH_STOP;
        }
        if (!live) break;
        if (qwen3_gen_step(m, gens, n, e)) { free(cap); goto out; }
    }
    free(cap);
    for (int i = 0; i < n; i++) {
        size_t len;
        if (!(out[i].text = qwen3_decode(tok, out[i].ids ? out[i].ids : (const int32_t *)"", out[i].n, 0, &len, e))) goto out;
    }
    rc = 0;
out:
    for (int i = 0; gens && i < n; i++) if (gens[i]) qwen3_gen_free(gens[i]);
    for (int i = 0; seqs && i < n; i++) if (seqs[i]) qwen3_seq_free(seqs[i]);
    free(gens);
    free(seqs);
    if (rc) for (int i = 0; i < n; i++) rl_sample_free(&out[i]);
    return rc;
}

#define CHUNK 32

int rl_engine_logprobs(qwen3_model *m, qwen3_seq *seq, const int32_t *tokens, int n, int from, int n_support, float *out,
                       qwen3_err *e) {
    int V = qwen3_model_config(m)->vocab_size;
    if (n_support <= 0 || n_support > V) n_support = V;
    if (qwen3_seq_truncate(seq, 0, e)) return -1;
    float *buf = malloc(sizeof(float) * (size_t)CHUNK * (size_t)V);
    if (!buf) return qerr(e, "out of memory for %d x %d logits", CHUNK, V);
    for (int s = 0; s < n - 1; s += CHUNK) {
        int k = n - 1 - s < CHUNK ? n - 1 - s : CHUNK;
        qwen3_batch_item it = {.seq = seq, .tokens = tokens + s, .n_tokens = k, .logits = QWEN3_LOGITS_ALL, .out = buf};
        if (qwen3_forward(m, &it, 1, e)) { free(buf); return -1; }
        for (int i = 0; i < k; i++) {
            int pos = s + i; /* predicts tokens[pos + 1] */
            if (pos + 1 < from) continue;
            const float *z = buf + (size_t)i * V;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < n_support; j++) if (z[j] > mx) mx = z[j];
            for (int j = 0; j < n_support; j++) sum += exp((double)z[j] - mx);
            out[pos + 1 - from] = (float)(z[tokens[pos + 1]] - mx - log(sum));
        }
    }
    free(buf);
    return 0;
}
