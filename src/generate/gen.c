/* gen.c - one request being answered (qwen3_gen) and the step that advances many at once.
 *
 * Life of a generation:
 *   new    the prompt is compared with the tokens the sequence's cache already holds; the cache is
 *          cut back to the longest common prefix (at most n_prompt - 1 tokens, since the last prompt
 *          token must go through the model again to give the logits of the first new token) and the
 *          rest of the prompt becomes the pending input.
 *   step   ONE qwen3_forward over the pending input of every unfinished generation (logits of the
 *          last position only), then each samples its next token (sampler.c), which goes through the
 *          stop rules: <|im_end|> / <|endoftext|> end the turn; the streaming detokenizer turns it
 *          into whole characters; the thinking budget (budget.c) may ask for the stop-thinking text;
 *          the stop strings (stop.c) hold back text that may still become one.
 *   force  when the budget is spent, ALL the stop text's tokens are emitted at once (they are output
 *          like sampled ones and count toward max_tokens) and go into the next forward as one
 *          multi-token item behind the last sampled token: one pass instead of one per forced token.
 *   take   hands out the text and ids produced since the last take.
 *
 * Stop strings are matched on the whole generated text, reasoning and forced text included (as
 * OpenAI-compatible servers do: the split into reasoning and content comes after). Penalties count
 * forced tokens as generated ones: they are part of the output the model conditions on.
 *
 * Timing: a forward that carries a generation's prompt counts as its prefill time, every other
 * forward (plus its own sampling) as its decode time. In a mixed batch each generation is charged
 * the whole pass, since they share it.
 *
 * Speculative decoding (params.draft, spec.c): a step first has the draft propose up to draft_n
 * tokens, then the target's ONE forward pass takes the pending input followed by the drafts, with
 * the logits of every position; the drafts are checked in order against the target's choice at
 * each position (greedy: its argmax; sampling: spec_accept's rejection rule) and emitted like
 * sampled tokens, up to the first one refused, which is replaced by the target's own token (or,
 * when all were kept, the target's next token follows them). The target's cache is cut back to
 * the kept drafts; the last token emitted is the next step's pending input, as without a draft.
 * Everything a sampled token goes through (stop rules, thinking budget, max_tokens, logprobs)
 * applies to each emitted token in turn, and the first that ends the generation or forces text
 * drops the drafts after it.
 *
 * Thread-safety: one step at a time per model (as qwen3_forward). qwen3_gen_cancel only sets an
 * atomic flag, so it may be called from any thread or from a signal handler; the step and take
 * notice it. */
#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate/gen.h"
#include "grammar/grammar.h"

/* What is forced when the model opens <think> with the budget spent (always, for budget 0):
 * exactly what the non-thinking template pre-fills after "<think>", so the block is empty and the
 * turn goes on as a non-thinking one would. */
#define CLOSE_THINK_TEXT "\n\n</think>\n\n"

struct qwen3_gen {
    qwen3_model *m;
    const qwen3_tokenizer *tok;
    qwen3_seq *seq;
    float *logits;           /* [model vocab] */
    gen_sampler smp;
    gen_budget bud;
    gen_stop stop;
    qwen3_detok dt;
    char *piece;             /* [piece_cap] the text one token completes */
    size_t piece_cap;
    int32_t *force_ids;      /* the stop-thinking text's tokens */
    int n_force;
    int32_t *close_ids;      /* CLOSE_THINK_TEXT's tokens, for blocks opened with the budget spent */
    int n_close;
    int32_t eos[2];          /* <|im_end|>, <|endoftext|> (-1 when the tokenizer lacks one) */
    int32_t *pending;        /* input of the next forward */
    int n_pending, cap_pending;
    int prefill;             /* the next forward carries the prompt */
    int max_tokens;
    sbuf text;               /* output since the last take */
    int32_t *ids;
    int n_ids, cap_ids;
    int taken;               /* the output was handed out: clear it before adding more */
    int logprobs, top;       /* params.logprobs, params.top_logprobs */
    float *raw;              /* [model vocab] the logits before the sampler touches them (logprobs) */
    qwen3_logprob *lp;       /* [cap_lp] one per id in ids */
    int cap_lp;
    int plp_todo;            /* the prompt's logprobs are still to be computed (first step) */
    int n_prompt;
    qwen3_logprob *plp;      /* [n_prompt] the prompt's logprobs */
    gen_draft *draft;        /* speculative decoding (spec.c); NULL: off */
    qwen3_finish finish;
    atomic_int cancel;
    qwen3_gen_stats st;
    /* constrained decoding (params.grammar) */
    qwen3_grammar *grammar;  /* a reference of our own; NULL: free text */
    gr_matcher gm;
    int gphase;              /* GPHASE_*: where the grammar stands */
    int32_t think_id, end_think_id;
    int32_t gtok[2];         /* added tokens the grammar may take (grammar->tokens), -1: none */
};

/* The grammar's phase: before the first token (which may open <think> with grammar_think), inside
 * a think block (free), or constraining. */
enum { GPHASE_FIRST = 0, GPHASE_THINK = 1, GPHASE_ON = 2 };

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int push_id(int32_t **v, int *n, int *cap, int32_t id) {
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 64;
        int32_t *nv = realloc(*v, sizeof *nv * (size_t)c);
        if (!nv) return -1;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = id;
    return 0;
}

static void clear_taken(qwen3_gen *g) {
    if (!g->taken) return;
    g->text.len = 0;
    if (g->text.s) g->text.s[0] = 0;
    g->n_ids = 0;
    g->taken = 0;
}

/* Ends the generation. Except after a stop string, what the detokenizer and the stop matcher still
 * hold is released (a stop string may still complete in the detokenizer's final U+FFFD, in theory). */
static int end(qwen3_gen *g, qwen3_finish why, int after_stop_string) {
    int r = 0;
    if (!after_stop_string) {
        int n = g->tok ? qwen3_detok_flush(g->tok, &g->dt, g->piece, g->piece_cap) : 0;
        int s = stop_feed(&g->stop, g->piece, (size_t)n, &g->text);
        if (s < 0) r = -1;
        if (s != 1 && stop_flush(&g->stop, &g->text)) r = -1;
        if (s == 1) why = QWEN3_FINISH_STOP;
    }
    g->finish = why;
    return r;
}

/* The log-probability of id and the top most likely ids in logits[0, n) (see qwen3_logprob). */
static void logprob_fill(const float *logits, int n, int32_t id, int top, qwen3_logprob *out) {
    float mx = scan_max(logits, n);
    /* a run of equal logits reuses its exp (the same sum, bit for bit): a model with a compact output
     * layer (model/head.c) has ~150,000 equal ones, which would otherwise cost most of a rollout */
    double sum = 0, ex = 0;
    float prev = NAN;
    for (int i = 0; i < n; i++) {
        if (logits[i] != prev) { prev = logits[i]; ex = exp((double)prev - mx); }
        sum += ex;
    }
    double lse = mx + log(sum);
    out->id = id;
    out->forced = 0;
    out->logprob = (float)(logits[id] - lse);
    out->n_top = 0;
    /* insertion into a sorted list of at most `top`: one compare per id once the list is full */
    for (int i = 0; i < n && top > 0; i++) {
        float v = logits[i];
        int k = out->n_top;
        if (k == top && !(v > out->top_logprobs[k - 1])) continue;
        if (k < top) out->n_top++;
        else k--;
        while (k > 0 && v > out->top_logprobs[k - 1]) {
            out->top_logprobs[k] = out->top_logprobs[k - 1];
            out->top_ids[k] = out->top_ids[k - 1];
            k--;
        }
        out->top_logprobs[k] = v;
        out->top_ids[k] = i;
    }
    for (int k = 0; k < out->n_top; k++) out->top_logprobs[k] = (float)(out->top_logprobs[k] - lse);
}

/* The logprob entry of the next id emitted (its slot, kept beside ids). NULL for lack of memory. */
static qwen3_logprob *next_lp(qwen3_gen *g) {
    if (g->n_ids >= g->cap_lp) {
        int c = g->cap_lp ? 2 * g->cap_lp : 64;
        while (c <= g->n_ids) c *= 2;
        qwen3_logprob *nv = realloc(g->lp, sizeof *nv * (size_t)c);
        if (!nv) return NULL;
        g->lp = nv;
        g->cap_lp = c;
    }
    return &g->lp[g->n_ids];
}

/* Emits one generated token. Returns what the budget asks to force now (BUDGET_STOP or
 * BUDGET_CLOSE), BUDGET_NONE, or -1 for lack of memory. */
static int emit(qwen3_gen *g, int32_t id, int forced) {
    clear_taken(g);
    if (g->logprobs) {
        qwen3_logprob *l = next_lp(g);
        if (!l) return -1;
        if (forced) *l = (qwen3_logprob){.id = id, .forced = 1};
        else logprob_fill(g->raw, g->smp.n_vocab, id, g->top, l);
    }
    if (push_id(&g->ids, &g->n_ids, &g->cap_ids, id) || sampler_note(&g->smp, id, 1)) return -1;
    g->st.generated_tokens++;
    if (g->grammar && g->gphase != GPHASE_ON) {
        if (id == g->think_id) g->gphase = GPHASE_THINK;
        else if (id == g->end_think_id && g->gphase == GPHASE_THINK) g->gphase = GPHASE_ON;
    }
    if (!forced && (id == g->eos[0] || id == g->eos[1])) return end(g, QWEN3_FINISH_STOP, 0);
    qwen3_err e;
    int n = g->tok ? qwen3_detok_feed(g->tok, &g->dt, id, 1, g->piece, g->piece_cap, &e) : 0;
    if (n < 0) n = 0; /* an id the tokenizer lacks (never sampled; only a forced one could be) */
    int f = budget_note(&g->bud, id, g->piece, (size_t)n, g->dt.n_pending > 0, forced);
    int s = stop_feed(&g->stop, g->piece, (size_t)n, &g->text);
    if (s < 0) return -1;
    if (s == 1) return end(g, QWEN3_FINISH_STOP, 1);
    if (g->max_tokens && g->st.generated_tokens >= g->max_tokens) return end(g, QWEN3_FINISH_LENGTH, 0);
    return f;
}

/* Forces the tokens of the stop text (what = BUDGET_STOP) or of the empty closing (BUDGET_CLOSE)
 * after the token just sampled: each is output now and queued as input of the next forward. */
static int force(qwen3_gen *g, int what) {
    const int32_t *f = what == BUDGET_CLOSE ? g->close_ids : g->force_ids;
    int n = what == BUDGET_CLOSE ? g->n_close : g->n_force;
    for (int k = 0; k < n && !g->finish; k++) {
        if (push_id(&g->pending, &g->n_pending, &g->cap_pending, f[k])) return -1;
        if (emit(g, f[k], 1) < 0) return -1;
    }
    return 0;
}

static int encode_text(const qwen3_tokenizer *tok, const char *what, const char *text, int32_t **ids, int *n,
                       qwen3_err *e) {
    int k = qwen3_encode(tok, text, strlen(text), 1, ids, e);
    if (k < 0) return qerr_wrap(e, "%s", what);
    *n = k;
    return 0;
}

void qwen3_end_of_turn_ids(const qwen3_tokenizer *t, int32_t ids[2]) {
    ids[0] = t ? qwen3_token_id(t, "<|im_end|>") : -1;
    ids[1] = t ? qwen3_token_id(t, "<|endoftext|>") : -1;
}

qwen3_gen *qwen3_gen_new(qwen3_model *m, const qwen3_tokenizer *tok, qwen3_seq *seq, const int32_t *prompt,
                         int n_prompt, const qwen3_gen_params *p, qwen3_err *e) {
    if (!m || !seq || !p) { qerr(e, "gen: model, sequence and parameters are required"); return NULL; }
    if (!tok && (p->think_budget >= 0 || p->n_stop > 0)) {
        qerr(e, "gen: a thinking budget and stop strings need a tokenizer");
        return NULL;
    }
    int vocab = qwen3_model_config(m)->vocab_size, cap = qwen3_seq_capacity(seq);
    if (n_prompt < 1 || !prompt) { qerr(e, "gen: the prompt is empty (at least one token is needed)"); return NULL; }
    if (n_prompt > cap) {
        qerr(e, "gen: the prompt has %d tokens, more than the context of %d tokens", n_prompt, cap);
        return NULL;
    }
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= vocab) {
            qerr(e, "gen: prompt token %d (id %d) is outside the model's vocabulary (0..%d)", i, prompt[i], vocab - 1);
            return NULL;
        }
    if (p->max_tokens < 0) { qerr(e, "gen: max_tokens must be >= 0 (0: until the context is full), got %d", p->max_tokens); return NULL; }
    if (p->think_budget < -1) { qerr(e, "gen: think_budget must be >= 0, or -1 for no budget; got %d", p->think_budget); return NULL; }
    if (p->think_grace < 0) { qerr(e, "gen: think_grace must be >= 0, got %d", p->think_grace); return NULL; }
    if (p->draft && !p->draft_seq) { qerr(e, "gen: a draft model needs its own sequence (draft_seq)"); return NULL; }
    if (p->grammar && !tok) { qerr(e, "gen: a grammar needs a tokenizer (it constrains text)"); return NULL; }
    if (p->top_logprobs < 0 || p->top_logprobs > QWEN3_MAX_TOP_LOGPROBS) {
        qerr(e, "gen: top_logprobs must be in [0, %d], got %d", QWEN3_MAX_TOP_LOGPROBS, p->top_logprobs);
        return NULL;
    }

    qwen3_gen *g = calloc(1, sizeof *g);
    if (!g) { qerr(e, "gen: out of memory"); return NULL; }
    g->gtok[0] = g->gtok[1] = -1;
    g->m = m;
    g->tok = tok;
    g->seq = seq;
    g->max_tokens = p->max_tokens;
    atomic_init(&g->cancel, 0);
    int n_tok = tok ? qwen3_tokenizer_size(tok) : vocab;
    /* ids the tokenizer cannot decode (the padding rows of the embedding) are never sampled */
    if (sampler_init(&g->smp, &p->sampling, n_tok < vocab ? n_tok : vocab, e)) { free(g); return NULL; }
    if (p->draft) {
        if (!(g->draft = malloc(sizeof *g->draft))) { qerr(e, "gen: out of memory"); goto fail; }
        if (draft_init(g->draft, vocab, p->draft, p->draft_seq, p->draft_n, &p->sampling, g->smp.n_vocab, &g->smp.rng, e)) {
            free(g->draft);
            g->draft = NULL;
            goto fail;
        }
    }
    if (stop_init(&g->stop, p->stop, p->n_stop, e)) goto fail;
    g->logits = malloc(sizeof *g->logits * (size_t)vocab);
    g->logprobs = p->logprobs != 0;
    g->top = p->top_logprobs;
    if (g->logprobs && !(g->raw = malloc(sizeof *g->raw * (size_t)vocab))) { qerr(e, "gen: out of memory"); goto fail; }
    g->piece_cap = tok ? qwen3_detok_cap(tok) : 8;
    g->piece = malloc(g->piece_cap);
    if (!g->logits || !g->piece) { qerr(e, "gen: out of memory"); goto fail; }
    qwen3_end_of_turn_ids(tok, g->eos);
    int32_t think = tok ? qwen3_token_id(tok, "<think>") : -1, end_think = tok ? qwen3_token_id(tok, "</think>") : -1;
    budget_init(&g->bud, p->think_budget, p->think_grace, p->in_think, think, end_think);
    g->think_id = think;
    g->end_think_id = end_think;
    if (p->grammar) {
        const gr_vocab *gv = gr_vocab_get(tok, e);
        if (!gv || gr_matcher_init(&g->gm, p->grammar, gv, e)) goto fail;
        g->grammar = qwen3_grammar_ref((qwen3_grammar *)p->grammar);
        for (int k = 0; k < 2; k++)
            g->gtok[k] = p->grammar->tokens[k] ? qwen3_token_id(tok, p->grammar->tokens[k]) : -1;
        g->gphase = p->in_think && end_think >= 0 ? GPHASE_THINK
                    : p->grammar_think && think >= 0 ? GPHASE_FIRST : GPHASE_ON;
    }
    if (p->think_budget >= 0 && (think < 0 || end_think < 0)) {
        qerr(e, "gen: a thinking budget needs <think> and </think> tokens, and this tokenizer lacks them");
        goto fail;
    }
    if (p->think_budget >= 0) {
        const char *stop_text = p->think_stop_text ? p->think_stop_text : QWEN3_THINK_STOP_TEXT;
        if (encode_text(tok, "gen: think_stop_text", stop_text, &g->force_ids, &g->n_force, e) ||
            encode_text(tok, "gen: closing the think block", CLOSE_THINK_TEXT, &g->close_ids, &g->n_close, e))
            goto fail;
        int closes = 0;
        for (int k = 0; k < g->n_force; k++) closes |= g->force_ids[k] == end_think;
        if (!closes) {
            qerr(e, "gen: think_stop_text must contain </think> (it has to close the thinking block)");
            goto fail;
        }
    }

    /* prefix re-use */
    int have = qwen3_seq_len(seq), same = 0;
    const int32_t *cached = qwen3_seq_tokens(seq);
    while (!p->prompt_logprobs && same < have && same < n_prompt - 1 && cached[same] == prompt[same]) same++;
    g->n_prompt = n_prompt;
    g->plp_todo = p->prompt_logprobs != 0;
    if (qwen3_seq_truncate(seq, same, e)) goto fail;
    g->st.prompt_tokens = n_prompt;
    g->st.cached_tokens = same;
    for (int i = same; i < n_prompt; i++)
        if (push_id(&g->pending, &g->n_pending, &g->cap_pending, prompt[i])) { qerr(e, "gen: out of memory"); goto fail; }
    for (int i = 0; i < n_prompt; i++)
        if (sampler_note(&g->smp, prompt[i], 0)) { qerr(e, "gen: out of memory"); goto fail; }
    g->prefill = 1;
    /* a prompt that opened <think> itself, with no thinking allowed: close it before anything */
    if (p->in_think && p->think_budget == 0) {
        g->bud.hit = 1;
        if (force(g, BUDGET_CLOSE)) { qerr(e, "gen: out of memory"); goto fail; }
    }
    return g;
fail:
    qwen3_gen_free(g);
    return NULL;
}

void qwen3_gen_free(qwen3_gen *g) {
    if (!g) return;
    sampler_free(&g->smp);
    stop_free(&g->stop);
    free(g->logits);
    free(g->piece);
    free(g->force_ids);
    free(g->close_ids);
    free(g->pending);
    free(g->text.s);
    free(g->ids);
    free(g->raw);
    free(g->lp);
    free(g->plp);
    if (g->draft) draft_free(g->draft);
    free(g->draft);
    if (g->grammar) {
        gr_matcher_free(&g->gm);
        qwen3_grammar_free(g->grammar);
    }
    free(g);
}

void qwen3_gen_cancel(qwen3_gen *g) {
    if (g) atomic_store(&g->cancel, 1);
}

/* Notices a cancel request; returns 1 when the generation is (now) finished. */
static int check_done(qwen3_gen *g) {
    if (!g->finish && atomic_load(&g->cancel)) {
        clear_taken(g);
        end(g, QWEN3_FINISH_CANCEL, 0);
    }
    return g->finish != QWEN3_FINISH_NONE;
}

/* The prompt's logprobs: its tokens but the last go through the model in chunks with the logits of
 * every position (a chunk at a time, so memory stays CHUNK x vocab whatever the prompt's length);
 * the last token stays pending for the step's batched forward, whose logits give the first
 * generated token. */
static int prompt_logprobs(qwen3_model *m, qwen3_gen *g, qwen3_err *e) {
    enum { CHUNK = 32 };
    int n = g->n_prompt, vocab = qwen3_model_config(m)->vocab_size;
    g->plp_todo = 0;
    g->plp = calloc((size_t)n, sizeof *g->plp);
    float *buf = n > 1 ? malloc(sizeof *buf * (size_t)CHUNK * (size_t)vocab) : NULL;
    if (!g->plp || (n > 1 && !buf)) { free(buf); return qerr(e, "gen: out of memory for the prompt's logprobs"); }
    g->plp[0] = (qwen3_logprob){.id = g->pending[0], .logprob = NAN};
    double t0 = now_s();
    for (int s = 0; s < n - 1; s += CHUNK) {
        int k = n - 1 - s < CHUNK ? n - 1 - s : CHUNK;
        qwen3_batch_item it = {g->seq, g->pending + s, k, QWEN3_LOGITS_ALL, buf};
        if (qwen3_forward(m, &it, 1, e)) { free(buf); return -1; }
        for (int j = 0; j < k; j++)
            logprob_fill(buf + (size_t)j * vocab, g->smp.n_vocab, g->pending[s + j + 1], g->top, &g->plp[s + j + 1]);
    }
    free(buf);
    memmove(g->pending, g->pending + (n - 1), sizeof *g->pending * (size_t)(g->n_pending - (n - 1)));
    g->n_pending -= n - 1;
    g->st.prefill_seconds += now_s() - t0;
    return 0;
}

const qwen3_logprob *qwen3_gen_prompt_logprobs(const qwen3_gen *g, int *n) {
    *n = g->plp ? g->n_prompt : 0;
    return g->plp;
}

/* Tokens to draft this step (0: a plain step): draft_n, fewer near max_tokens (the step may emit
 * one more than it drafts) or the end of either cache; none while the pending input is long (a
 * prompt: its every position would need logits), nor under a grammar (not implemented: the
 * constrained choice would have to be made, and undone, per drafted position). */
enum { SPEC_MAX_PENDING = 64 };
static int draft_count(const qwen3_gen *g) {
    const gen_draft *d = g->draft;
    if (!d || g->n_pending > SPEC_MAX_PENDING || g->grammar) return 0; /* a grammar's mask is per token: no drafts */
    int n = d->n_cur, len = qwen3_seq_len(g->seq);
    if (g->max_tokens && g->max_tokens - g->st.generated_tokens - 1 < n) n = g->max_tokens - g->st.generated_tokens - 1;
    if (qwen3_seq_capacity(g->seq) - len - g->n_pending < n) n = qwen3_seq_capacity(g->seq) - len - g->n_pending;
    if (qwen3_seq_capacity(d->seq) - len - g->n_pending + 1 < n) n = qwen3_seq_capacity(d->seq) - len - g->n_pending + 1;
    return n > 0 ? n : 0;
}

/* The second half of a speculative step: the target's logits of the pending input and the n drafts
 * (rows 0 .. np + n - 1 of d->verify) decide, draft by draft, what is emitted (see the header).
 * The cache is then cut back to the input and the drafts kept. 0, or -1 for lack of memory. */
static int verify(qwen3_gen *g, int np) {
    gen_draft *d = g->draft;
    const int V = qwen3_model_config(g->m)->vocab_size, n = d->n;
    int base = qwen3_seq_len(g->seq) - n, kept = 0, rejected = 0; /* base: the cache up to the pending input */
    g->n_pending = 0;
    for (int i = 0; i <= n && !g->finish; i++) {
        float *row = d->verify + (size_t)(np - 1 + i) * V;
        if (g->logprobs) memcpy(g->raw, row, sizeof *g->raw * (size_t)g->smp.n_vocab);
        int32_t t;
        int ok = 0;
        if (i == n || d->greedy) {
            t = sampler_sample(&g->smp, row); /* what the step without a draft would choose */
            ok = i < n && t == d->tok[i];
        } else {
            const int32_t *ids;
            const float *pr;
            sampler_penalize(&g->smp, row);
            int pn = sampler_filter(&g->smp, row, &ids, &pr);
            t = spec_accept(ids, pr, pn, d->q_ids[i], d->q_p[i], d->q_n[i], d->tok[i], d->dense, d->rng, &ok);
        }
        if (ok) kept++;
        else g->pending[g->n_pending++] = t; /* cap_pending >= np + n >= 1 */
        rejected |= !ok && i < n; /* (i == n: the token after n kept drafts) */
        int f = emit(g, t, 0);
        if (f > 0 && !g->finish && force(g, f)) return -1;
        if (f < 0) return -1;
        if (!ok || f > 0) break;
    }
    g->st.draft_steps++;
    g->st.draft_tokens += n;
    g->st.draft_accepted += kept;
    /* adaptive draft length: longer while every draft is kept, shorter after a rejection (a step
     * cut short by a stop or the budget's forced text says nothing about the draft: unchanged) */
    if (d->adaptive && kept == n) d->n_cur = d->n_cur + 2 < d->n_max ? d->n_cur + 2 : d->n_max;
    else if (d->adaptive && rejected && d->n_cur > 1) d->n_cur--;
    return qwen3_seq_truncate(g->seq, base + kept, NULL);
}

/* ---- constrained sampling ---- */

/* 1 when the grammar lets id come next (in the current phase). */
static int gram_allows(qwen3_gen *g, int32_t id) {
    if (id == g->eos[0] || id == g->eos[1]) return g->gm.accept && g->gm.u.need == 0;
    if (g->gphase == GPHASE_FIRST && id == g->think_id) return 1;
    if (id >= 0 && (id == g->gtok[0] || id == g->gtok[1])) { /* a tag the grammar spells, as its added token */
        size_t n;
        const char *b = qwen3_token_bytes(g->tok, id, &n);
        return b && gr_can_accept(&g->gm, (const unsigned char *)b, n);
    }
    const gr_vocab *v = g->gm.v;
    if (id < 0 || id >= v->n_ids || !((v->ordinary[id >> 6] >> (id & 63)) & 1)) return 0;
    size_t n;
    const char *b = qwen3_token_bytes(g->tok, id, &n);
    return b && gr_can_accept(&g->gm, (const unsigned char *)b, n);
}

/* Penalizes, draws, and keeps the draw when the grammar allows it; else masks every token the
 * grammar refuses and draws again (exact for greedy decoding; with sampling, the filters see the
 * unmasked distribution first, as in llama.cpp). Then advances the grammar by the token. Returns the
 * id, -1 when the grammar allows nothing, -2 out of memory. */
static int32_t constrained_sample(qwen3_gen *g) {
    double t0 = now_s();
    sampler_penalize(&g->smp, g->logits);
    int32_t id = sampler_pick(&g->smp, g->logits);
    if (!gram_allows(g, id)) {
        g->st.grammar_masks++;
        const uint64_t *bits = gr_mask(&g->gm);
        if (!bits) return -2;
        int n = g->smp.n_vocab, any = 0;
        float *l = g->logits;
        for (int i = 0; i < n; i++) {
            if ((bits[i >> 6] >> (i & 63)) & 1) { any = 1; continue; }
            if (i == g->eos[0] || i == g->eos[1] || (g->gphase == GPHASE_FIRST && i == g->think_id) || i == g->gtok[0] ||
                i == g->gtok[1]) {
                if (gram_allows(g, i)) { any = 1; continue; }
            }
            l[i] = -INFINITY;
        }
        if (!any) return -1;
        id = sampler_pick(&g->smp, l);
        if (!isfinite(l[id])) return -1;
    }
    if (g->gphase == GPHASE_FIRST && id == g->think_id) {
        /* thinking opens: emit moves the phase on */
    } else if (id != g->eos[0] && id != g->eos[1]) {
        size_t n;
        const char *b = qwen3_token_bytes(g->tok, id, &n);
        if (gr_accept_bytes(&g->gm, (const unsigned char *)b, n)) return -1;
        g->gphase = GPHASE_ON;
    }
    g->st.grammar_seconds += now_s() - t0;
    return id;
}

int qwen3_gen_step(qwen3_model *m, qwen3_gen **gens, int n, qwen3_err *e) {
    if (n < 0 || (n > 0 && !gens)) return qerr(e, "gen_step: bad list of %d generations", n);
    qwen3_batch_item local[16], *items = n <= 16 ? local : malloc(sizeof *items * (size_t)n);
    qwen3_gen *lg[16], **who = n <= 16 ? lg : malloc(sizeof *who * (size_t)n);
    gen_draft *ld[16], **drafts = n <= 16 ? ld : malloc(sizeof *drafts * (size_t)n);
    int lnp[16], *np = n <= 16 ? lnp : malloc(sizeof *np * (size_t)n);
    if (!items || !who || !drafts || !np) {
        if (items != local) free(items);
        if (who != lg) free(who);
        if (drafts != ld) free(drafts);
        if (np != lnp) free(np);
        return qerr(e, "gen_step: out of memory");
    }
    int k = 0, nd = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        qwen3_gen *g = gens[i];
        if (!g || check_done(g)) continue;
        if (g->m != m) { rc = qerr(e, "gen_step: generation %d belongs to another model", i); goto out; }
        if (g->plp_todo && prompt_logprobs(m, g, e)) { g->finish = QWEN3_FINISH_CANCEL; rc = -1; goto out; }
        if (qwen3_seq_len(g->seq) + g->n_pending > qwen3_seq_capacity(g->seq)) {
            clear_taken(g);
            if (end(g, QWEN3_FINISH_LENGTH, 0)) { rc = qerr(e, "gen_step: out of memory"); goto out; }
            continue;
        }
        int nn = draft_count(g);
        if (g->draft) g->draft->n = 0;
        if (nn > 0) {
            /* room for the drafts behind the pending input: the target's input is both */
            while (g->cap_pending < g->n_pending + nn) {
                int c = g->cap_pending ? 2 * g->cap_pending : 64;
                int32_t *nv = realloc(g->pending, sizeof *nv * (size_t)c);
                if (!nv) { rc = qerr(e, "gen_step: out of memory"); goto out; }
                g->pending = nv;
                g->cap_pending = c;
            }
            if (draft_begin(g->draft, qwen3_seq_tokens(g->seq), qwen3_seq_len(g->seq), g->pending, g->n_pending, nn, e)) {
                rc = -1;
                goto out;
            }
            drafts[nd++] = g->draft;
        }
        np[k] = g->n_pending;
        who[k++] = g;
    }
    if (k == 0) goto out;
    double t0 = now_s(), td = 0;
    if (nd) {
        if (draft_run(drafts, nd, e)) { rc = -1; goto out; }
        td = now_s() - t0;
    }
    for (int j = 0; j < k; j++) {
        qwen3_gen *g = who[j];
        gen_draft *d = g->draft;
        if (d && d->n) {
            memcpy(g->pending + g->n_pending, d->tok, sizeof *d->tok * (size_t)d->n);
            items[j] = (qwen3_batch_item){g->seq, g->pending, g->n_pending + d->n, QWEN3_LOGITS_ALL, d->verify};
        } else {
            items[j] = (qwen3_batch_item){g->seq, g->pending, g->n_pending, QWEN3_LOGITS_LAST, g->logits};
        }
    }
    if (qwen3_forward(m, items, k, e)) { rc = -1; goto out; }
    double t1 = now_s();
    for (int j = 0; j < k; j++) {
        qwen3_gen *g = who[j];
        double ts = now_s();
        int spec = g->draft && g->draft->n;
        double pass = spec ? t1 - t0 : t1 - t0 - td; /* a plain generation did not wait for the drafts' sake */
        if (g->prefill) g->st.prefill_seconds += pass;
        else g->st.decode_seconds += pass;
        if (spec) g->st.draft_seconds += td;
        g->prefill = 0;
        if (spec) {
            if (check_done(g)) { /* cancelled: the drafts leave the cache unchecked */
                qwen3_seq_truncate(g->seq, qwen3_seq_len(g->seq) - g->draft->n, NULL);
                g->n_pending = 0;
                continue;
            }
            if (verify(g, np[j])) {
                g->finish = QWEN3_FINISH_CANCEL;
                rc = qerr(e, "gen_step: out of memory");
            }
        } else {
            g->n_pending = 0;
            if (check_done(g)) continue;
            if (g->logprobs) memcpy(g->raw, g->logits, sizeof *g->raw * (size_t)g->smp.n_vocab);
            int32_t id = g->grammar && g->gphase != GPHASE_THINK ? constrained_sample(g) : sampler_sample(&g->smp, g->logits);
            if (id < 0) { /* nothing the grammar allows (a grammar with a dead end), or out of memory */
                if (id == -2) rc = qerr(e, "gen_step: out of memory in the grammar");
                clear_taken(g);
                end(g, QWEN3_FINISH_STOP, 0);
                continue;
            }
            g->pending[g->n_pending++] = id; /* cap_pending >= 1: it held this step's input */
            int f = emit(g, id, 0);
            if (f > 0 && !g->finish) f = force(g, f);
            if (f < 0) {
                g->finish = QWEN3_FINISH_CANCEL;
                rc = qerr(e, "gen_step: out of memory");
            }
        }
        double dt = now_s() - ts;
        g->st.decode_seconds += dt;
        g->st.sample_seconds += dt;
    }
out:
    if (items != local) free(items);
    if (who != lg) free(who);
    if (drafts != ld) free(drafts);
    if (np != lnp) free(np);
    return rc;
}

void qwen3_gen_take(qwen3_gen *g, qwen3_gen_out *out) {
    check_done(g);
    clear_taken(g);
    out->text = g->text.s ? g->text.s : "";
    out->text_len = g->text.len;
    out->ids = g->ids;
    out->n_ids = g->n_ids;
    out->logprobs = g->logprobs ? g->lp : NULL;
    out->finish = g->finish;
    g->taken = 1;
}

void qwen3_gen_stats_get(const qwen3_gen *g, qwen3_gen_stats *s) {
    *s = g->st;
    s->thinking_tokens = g->bud.count;
    s->budget_hit = g->bud.hit;
}
