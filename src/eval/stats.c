/* stats.c - the statistics of `qwen3 eval`: unbiased pass@k, majority vote, and a paired comparison
 * of two systems on the same questions (paired bootstrap interval and McNemar's exact test). Each is
 * recomputed independently from the recorded replies by tests/ref/eval_ref.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "qwen3_eval.h"

double qwen3_pass_at_k(int n, int c, int k) {
    if (k < 1 || k > n || c < 0 || c > n) return NAN;
    if (n - c < k) return 1.0;
    /* C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i), as a product for numerical stability */
    double r = 1.0;
    for (int i = n - c + 1; i <= n; i++) r *= 1.0 - (double)k / i;
    return 1.0 - r;
}

int qwen3_majority(const char *const *answers, const size_t *lens, int n, int *winner) {
    int best = -1, best_votes = 0;
    for (int i = 0; i < n; i++) {
        if (!lens[i]) continue;
        int seen = 0, votes = 0;
        for (int j = 0; j < n && !seen; j++)
            if (j < i && lens[j] == lens[i] && !memcmp(answers[j], answers[i], lens[i])) seen = 1;
        if (seen) continue; /* counted with its first occurrence */
        for (int j = i; j < n; j++)
            if (lens[j] == lens[i] && !memcmp(answers[j], answers[i], lens[i])) votes++;
        if (votes > best_votes) { best = i; best_votes = votes; }
    }
    if (winner) *winner = best;
    return best_votes;
}

static uint64_t next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* log C(n, k) */
static double lchoose(int n, int k) { return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0); }

int qwen3_paired_compare(const unsigned char *a, const unsigned char *b, int n, int resamples, double level,
                         uint64_t seed, qwen3_paired *o, qwen3_err *err) {
    if (!o) return qerr(err, "paired: no result to fill");
    memset(o, 0, sizeof *o);
    if (n < 1 || !a || !b) return qerr(err, "paired: no questions to compare");
    if (resamples < 1) return qerr(err, "paired: resamples must be >= 1 (got %d)", resamples);
    if (!(level > 0 && level < 1)) return qerr(err, "paired: the confidence level must be in (0, 1) (got %g)", level);
    int sa = 0, sb = 0;
    for (int i = 0; i < n; i++) {
        sa += a[i] != 0;
        sb += b[i] != 0;
        o->n01 += !a[i] && b[i];
        o->n10 += a[i] && !b[i];
    }
    o->n = n;
    o->acc_a = (double)sa / n;
    o->acc_b = (double)sb / n;
    o->diff = o->acc_b - o->acc_a;
    /* paired bootstrap: resample questions, the difference of the two accuracies on each resample */
    double *d = malloc(sizeof *d * (size_t)resamples);
    if (!d) return qerr(err, "paired: out of memory");
    uint64_t s = seed;
    for (int r = 0; r < resamples; r++) {
        long diff = 0;
        for (int i = 0; i < n; i++) {
            int k = (int)(next(&s) % (uint64_t)n);
            diff += (b[k] != 0) - (a[k] != 0);
        }
        d[r] = (double)diff / n;
    }
    qsort(d, (size_t)resamples, sizeof *d, cmp_double);
    /* percentile interval: the order statistics at floor(alpha/2 * R) and ceil((1 - alpha/2) * R) - 1 */
    double alpha = 1 - level;
    int lo = (int)floor(alpha / 2 * resamples), hi = (int)ceil((1 - alpha / 2) * resamples) - 1;
    if (lo < 0) lo = 0;
    if (hi > resamples - 1) hi = resamples - 1;
    if (hi < lo) hi = lo;
    o->lo = d[lo];
    o->hi = d[hi];
    free(d);
    /* McNemar's exact test: under H0 each discordant pair is A-right or B-right with probability 1/2 */
    int m = o->n01 + o->n10, x = o->n01 < o->n10 ? o->n01 : o->n10;
    if (m == 0) o->p_mcnemar = 1.0;
    else {
        double p = 0;
        for (int k = 0; k <= x; k++) p += exp(lchoose(m, k) - m * log(2.0));
        o->p_mcnemar = 2 * p < 1 ? 2 * p : 1.0;
    }
    return 0;
}
