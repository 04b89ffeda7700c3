/* sampler.c - one token from a row of logits: penalties, temperature, top-k, top-p, min-p, and a
 * seeded draw.
 *
 * Semantics (checked against tests/ref/sampler_ref.py):
 *   repetition_penalty  Hugging Face's RepetitionPenaltyLogitsProcessor: every id present in the
 *                       prompt or the output has its logit divided by the penalty when positive,
 *                       multiplied when negative; applied first.
 *   presence/frequency  OpenAI's: logit -= frequency * count + presence * (count > 0), count being the
 *                       times the id was generated in this turn (prompt tokens do not count).
 *   temperature         logits / T; T = 0 is greedy (argmax of the penalized logits, lowest id on a tie).
 *   top_k               keep the ids whose logit is >= the k-th largest (ties with it are all kept, as
 *                       torch.topk's threshold in HF's TopKLogitsWarper keeps them).
 *   top_p               over the probabilities after top-k: keep an id when the mass of the ids more
 *                       probable than it is < top_p (the smallest nucleus reaching top_p; ids tied at
 *                       the boundary are kept together).
 *   min_p               keep an id when its probability is >= min_p x the largest probability.
 * HF applies them in that order (temperature, top-k, top-p, min-p). Because min-p's threshold is a
 * ratio to the maximum, which top-p never removes, its result is the same whichever of the two runs
 * first; we filter by min-p first since it is a cheap single pass that shrinks top-p's work.
 * Ids whose logit is more than 30 x T below the maximum (probability below e^-30 ~ 1e-13 of the
 * most likely one) are never sampled: that is the only approximation, far below float precision.
 *
 * Cost (the vocabulary is 151,936 ids): no sort of the vocabulary. The passes over all logits are
 * vectorised (scan.c). With top-k, a k-sized min-heap fed only from blocks that beat its minimum
 * gives the threshold and a block-skipping pass collects the ids at or above it; the few survivors
 * get their exponentials. Without top-k, one pass finds the maximum, one computes every weight
 * (vectorised exp) and one keeps those within 30 nats. top-p then finds the nucleus without sorting:
 * a histogram of the weights (2^(1/8)-wide buckets) locates the boundary bucket, and a three-way
 * quickselect on probability mass (expected linear time) settles that bucket alone. The nucleus
 * stays unsorted: the draw walks it in a fixed order, so the result is still deterministic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate/gen.h"

/* ---- random numbers: splitmix64 seeds xoshiro256** (Blackman & Vigna) ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(gen_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(gen_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double rng_uniform(gen_rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* ---- set-up and the token history ---- */

int sampler_init(gen_sampler *s, const qwen3_sampling *p, int n_vocab, qwen3_err *e) {
    memset(s, 0, sizeof *s);
    if (!(p->temperature >= 0 && isfinite(p->temperature)))
        return qerr(e, "sampling: temperature must be a finite number >= 0, got %g", p->temperature);
    if (p->top_k < 0) return qerr(e, "sampling: top_k must be >= 0 (0: off), got %d", p->top_k);
    if (!(p->top_p > 0 && p->top_p <= 1)) return qerr(e, "sampling: top_p must be in (0, 1], got %g", p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1)) return qerr(e, "sampling: min_p must be in [0, 1], got %g", p->min_p);
    if (!isfinite(p->presence_penalty))
        return qerr(e, "sampling: presence_penalty must be a finite number, got %g", p->presence_penalty);
    if (!isfinite(p->frequency_penalty))
        return qerr(e, "sampling: frequency_penalty must be a finite number, got %g", p->frequency_penalty);
    if (!(p->repetition_penalty > 0 && isfinite(p->repetition_penalty)))
        return qerr(e, "sampling: repetition_penalty must be a finite number > 0 (1: off), got %g",
                    p->repetition_penalty);
    if (n_vocab < 1) return qerr(e, "sampling: empty vocabulary");
    s->p = *p;
    s->n_vocab = n_vocab;
    rng_seed(&s->rng, p->seed);
    s->count = calloc((size_t)n_vocab, sizeof *s->count);
    s->seen = calloc((size_t)n_vocab, 1);
    s->cand = malloc(sizeof *s->cand * (size_t)n_vocab);
    s->w = malloc(sizeof *s->w * (size_t)n_vocab);
    if (!s->count || !s->seen || !s->cand || !s->w) {
        sampler_free(s);
        return qerr(e, "sampling: out of memory for a vocabulary of %d", n_vocab);
    }
    return 0;
}

void sampler_free(gen_sampler *s) {
    free(s->count);
    free(s->seen);
    free(s->hist);
    free(s->cand);
    free(s->w);
    memset(s, 0, sizeof *s);
}

int sampler_note(gen_sampler *s, int32_t id, int generated) {
    if (id < 0 || id >= s->n_vocab) return 0;
    if (!s->seen[id] && !s->count[id]) {
        if (s->n_hist == s->cap_hist) {
            int cap = s->cap_hist ? 2 * s->cap_hist : 256;
            int32_t *h = realloc(s->hist, sizeof *h * (size_t)cap);
            if (!h) return -1;
            s->hist = h;
            s->cap_hist = cap;
        }
        s->hist[s->n_hist++] = id;
    }
    s->seen[id] = 1;
    if (generated) s->count[id]++;
    return 0;
}

void sampler_penalize(gen_sampler *s, float *logits) {
    const qwen3_sampling *p = &s->p;
    int rep = p->repetition_penalty != 1.0f, pf = p->presence_penalty != 0 || p->frequency_penalty != 0;
    if (!rep && !pf) return;
    for (int k = 0; k < s->n_hist; k++) {
        int32_t id = s->hist[k];
        float l = logits[id];
        if (rep && s->seen[id]) l = l < 0 ? l * p->repetition_penalty : l / p->repetition_penalty;
        if (pf && s->count[id]) l -= p->frequency_penalty * (float)s->count[id] + p->presence_penalty;
        logits[id] = l;
    }
}

/* ---- the filters ---- */

static inline void swap2(int32_t *id, float *w, int i, int j) {
    int32_t t = id[i];
    id[i] = id[j];
    id[j] = t;
    float u = w[i];
    w[i] = w[j];
    w[j] = u;
}

static float median3(float a, float b, float c) {
    if (a > b) { float t = a; a = b; b = t; }
    if (b > c) b = c;
    return a > b ? a : b;
}

/* Moves the top-p nucleus of (id, w)[0, n) to the front and returns its size: an entry is kept when
 * the weight of the entries strictly heavier than it is < target. Three-way quickselect on weight:
 * [0, lo) is kept, [hi, n) dropped, [lo, hi) undecided; acc is the weight of [0, lo). */
static int top_p_select(int32_t *id, float *w, int n, double target, double acc) {
    int lo = 0, hi = n;
    while (lo < hi && acc < target) {
        float v = median3(w[lo], w[lo + (hi - lo) / 2], w[hi - 1]);
        int a = lo, i = lo, b = hi; /* [lo,a) > v, [a,i) == v, [b,hi) < v */
        while (i < b) {
            if (w[i] > v) swap2(id, w, i++, a++);
            else if (w[i] < v) swap2(id, w, i, --b);
            else i++;
        }
        double heavier = 0, equal = 0;
        for (int j = lo; j < a; j++) heavier += w[j];
        for (int j = a; j < b; j++) equal += w[j];
        if (acc + heavier >= target) {
            hi = a; /* the cut is among the heavier ones: the equal and lighter ones are dropped */
        } else {
            acc += heavier + equal; /* all of them and the tied ones are kept */
            lo = b;
        }
    }
    return lo;
}

/* Histogram buckets of top-p: the float bits of a weight in (0, 1] shifted right by 20 are its
 * exponent and 3 mantissa bits, monotonic in the value, so each bucket spans a ratio of 2^(1/8). */
#define HIST_SHIFT 20
#define HIST_TOP (0x3f800000 >> HIST_SHIFT) /* the bucket of 1.0 */
#define HIST_N 512                          /* down to 2^-64, below the 30-nat floor (2^-43.3) */

static inline int bucket(float w) {
    uint32_t b;
    memcpy(&b, &w, sizeof b);
    int k = HIST_TOP - (int)(b >> HIST_SHIFT);
    return k < 0 ? 0 : k >= HIST_N ? HIST_N - 1 : k; /* 0: the heaviest */
}

/* top-p over many survivors: bucket masses locate the boundary bucket in one pass; the buckets
 * above it are kept whole, the ones below dropped, and only the boundary bucket goes through the
 * quickselect. Same result as top_p_select over everything (ties share a bucket). */
static int top_p_hist(int32_t *id, float *w, int n, double target) {
    double mass[HIST_N] = {0};
    for (int k = 0; k < n; k++) mass[bucket(w[k])] += w[k];
    double acc = 0;
    int B = HIST_N - 1;
    for (int b = 0; b < HIST_N; b++) {
        if (acc + mass[b] >= target) { B = b; break; }
        acc += mass[b];
    }
    int kept = 0;
    for (int k = 0; k < n; k++)
        if (bucket(w[k]) < B) swap2(id, w, k, kept++);
    int edge = kept;
    for (int k = kept; k < n; k++)
        if (bucket(w[k]) == B) swap2(id, w, k, edge++);
    return kept + top_p_select(id + kept, w + kept, edge - kept, target, acc);
}

int sampler_filter(gen_sampler *s, const float *logits, const int32_t **ids, const float **probs) {
    const qwen3_sampling *p = &s->p;
    int n = s->n_vocab, nc = 0;
    int32_t *cand = s->cand;
    float *w = s->w;
    float T = p->temperature, inv_t = 1.0f / T, m = -INFINITY;
    double z = 0;
    if (p->top_k > 0 && p->top_k < n) {
        float thr = scan_kth_largest(logits, n, p->top_k, w); /* w is free scratch here */
        nc = scan_collect_ge(logits, n, thr, cand);
        for (int k = 0; k < nc; k++)
            if (logits[cand[k]] > m) m = logits[cand[k]];
        if (isfinite(m))
            for (int k = 0; k < nc; k++) {
                w[k] = expf((logits[cand[k]] - m) * inv_t);
                z += w[k];
            }
    } else {
        m = scan_max(logits, n);
        if (isfinite(m)) {
            /* every weight at once (vectorised), then keep those within 30 nats of the maximum */
            const float floor30 = 9.35762297e-14f; /* e^-30 */
            scan_exp(logits, n, m, inv_t, w);
            for (int i = 0; i < n; i++)
                if (w[i] >= floor30) {
                    cand[nc] = i;
                    w[nc++] = w[i];
                    z += w[i];
                }
        }
    }
    if (nc == 0 || !isfinite(m)) { /* all NaN or -inf: nothing is sampleable; fall back to id 0 */
        cand[0] = 0;
        w[0] = 1;
        *ids = cand;
        *probs = w;
        return 1;
    }
    /* w is relative to the most likely id (which has exactly 1) */
    if (p->min_p > 0) {
        int j = 0;
        for (int k = 0; k < nc; k++)
            if (w[k] >= p->min_p) {
                cand[j] = cand[k];
                w[j++] = w[k];
            }
        nc = j;
    }
    if (p->top_p < 1) {
        double target = (double)p->top_p * z;
        nc = nc > 256 ? top_p_hist(cand, w, nc, target) : top_p_select(cand, w, nc, target, 0);
    }
    double kept = 0;
    for (int k = 0; k < nc; k++) kept += w[k];
    for (int k = 0; k < nc; k++) w[k] = (float)(w[k] / kept);
    *ids = cand;
    *probs = w;
    return nc;
}

int32_t sampler_sample(gen_sampler *s, float *logits) {
    sampler_penalize(s, logits);
    return sampler_pick(s, logits);
}

int32_t sampler_pick(gen_sampler *s, const float *logits) {
    if (s->p.temperature == 0) return scan_argmax(logits, s->n_vocab);
    const int32_t *ids;
    const float *pr;
    int n = sampler_filter(s, logits, &ids, &pr);
    double u = rng_uniform(&s->rng), c = 0;
    for (int k = 0; k < n - 1; k++) {
        c += pr[k];
        if (u < c) return ids[k];
    }
    return ids[n - 1];
}

/* ---- the public sampler (qwen3.h): a gen_sampler behind an opaque handle ---- */

struct qwen3_sampler {
    gen_sampler s;
};

qwen3_sampler *qwen3_sampler_new(const qwen3_sampling *p, int n_vocab, qwen3_err *e) {
    qwen3_sampler *q = calloc(1, sizeof *q);
    if (!q) { qerr(e, "out of memory"); return NULL; }
    if (sampler_init(&q->s, p, n_vocab, e)) { free(q); return NULL; }
    return q;
}

int32_t qwen3_sampler_sample(qwen3_sampler *q, float *logits) {
    int32_t id = sampler_sample(&q->s, logits);
    sampler_note(&q->s, id, 1);
    return id;
}

void qwen3_sampler_free(qwen3_sampler *q) {
    if (!q) return;
    sampler_free(&q->s);
    free(q);
}
