/* synth.c - a generator of verifiable synthetic tasks with step-by-step worked solutions.
 *
 * Families (the answer is always checkable by a program, the solution is the procedure a person
 * follows on paper):
 *   add     column addition right to left, with the carry of each column
 *   sub     column subtraction right to left, with borrows (the larger number first)
 *   mul     multiplication by partial products (one per digit of the second factor), then their sum
 *   sort    sorting a list by repeatedly taking the smallest remaining number
 *   count   counting a letter in a word, position by position
 *   linear  solving a*x + b = c over the integers: subtract b, then divide by a
 * Difficulty: level L gives add/sub L+1 digits, mul (L+1) x min(L,3) digits, sort L+3 numbers,
 * count words of 3L+3 letters, linear coefficients up to 10^L. Levels 1-3 train, 4-5 are held out. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/data.h"

static uint64_t next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [lo, hi] */
static long long rnd(uint64_t *s, long long lo, long long hi) { return lo + (long long)(next(s) % (uint64_t)(hi - lo + 1)); }

static long long pow10i(int d) { long long p = 1; while (d-- > 0) p *= 10; return p; }

/* a number of exactly d digits */
static long long ndigits(uint64_t *s, int d) { return d <= 1 ? rnd(s, 0, 9) : rnd(s, pow10i(d - 1), pow10i(d) - 1); }

static int digit(long long x, int i) { return (int)(x / pow10i(i) % 10); }

static int ndig(long long x) { int d = 1; while (x >= 10) { x /= 10; d++; } return d; }

const char *tsynth_family_name(tsynth_family f) {
    static const char *n[] = {"add", "sub", "mul", "sort", "count", "linear"};
    return f < TS_FAMILIES ? n[f] : "?";
}

static void add_steps(sbuf *sol, long long a, long long b) {
    int d = ndig(a) > ndig(b) ? ndig(a) : ndig(b), carry = 0;
    for (int i = 0; i < d; i++) {
        int x = digit(a, i), y = digit(b, i), s = x + y + carry;
        if (carry) sb_printf(sol, "column %d: %d+%d+%d=%d, write %d carry %d\n", i + 1, x, y, carry, s, s % 10, s / 10);
        else sb_printf(sol, "column %d: %d+%d=%d, write %d carry %d\n", i + 1, x, y, s, s % 10, s / 10);
        carry = s / 10;
    }
    if (carry) sb_printf(sol, "final carry %d, write %d\n", carry, carry);
}

/* records an operand for the verifier's task (ops may be NULL) */
static void op(tsynth_ops *ops, long long v) {
    if (ops && ops->n < (int)(sizeof ops->v / sizeof ops->v[0])) ops->v[ops->n++] = v;
}

void tsynth_example(uint64_t *rng, tsynth_family f, int level, sbuf *q, sbuf *sol, sbuf *ans) {
    tsynth_example_ops(rng, f, level, q, sol, ans, NULL);
}

void tsynth_example_ops(uint64_t *rng, tsynth_family f, int level, sbuf *q, sbuf *sol, sbuf *ans, tsynth_ops *ops) {
    sb_clear(q); sb_clear(sol); sb_clear(ans);
    if (ops) ops->n = 0;
    if (level < 1) level = 1;
    switch (f) {
    case TS_ADD: {
        long long a = ndigits(rng, level + 1), b = ndigits(rng, (int)rnd(rng, 1, level + 1));
        op(ops, a); op(ops, b);
        sb_printf(q, "What is %lld + %lld?", a, b);
        add_steps(sol, a, b);
        sb_printf(ans, "%lld", a + b);
        break;
    }
    case TS_SUB: {
        long long a = ndigits(rng, level + 1), b = ndigits(rng, (int)rnd(rng, 1, level + 1));
        if (b > a) { long long t = a; a = b; b = t; }
        op(ops, a); op(ops, b);
        sb_printf(q, "What is %lld - %lld?", a, b);
        int borrow = 0;
        for (int i = 0; i < ndig(a); i++) {
            int x = digit(a, i) - borrow, y = digit(b, i);
            if (x < y) {
                sb_printf(sol, "column %d: %d-%d is negative, borrow: %d-%d=%d, write %d\n", i + 1, x, y, x + 10, y, x + 10 - y, x + 10 - y);
                borrow = 1;
            } else {
                sb_printf(sol, "column %d: %d-%d=%d, write %d\n", i + 1, x, y, x - y, x - y);
                borrow = 0;
            }
        }
        sb_printf(ans, "%lld", a - b);
        break;
    }
    case TS_MUL: {
        long long a = ndigits(rng, level + 1), b = ndigits(rng, level < 3 ? level : 3);
        op(ops, a); op(ops, b);
        sb_printf(q, "What is %lld * %lld?", a, b);
        long long sum = 0;
        for (int i = 0; i < ndig(b); i++) {
            long long pp = a * digit(b, i) * pow10i(i);
            sb_printf(sol, "%lld * %d", a, digit(b, i));
            if (i) sb_printf(sol, " * %lld", pow10i(i));
            sb_printf(sol, " = %lld\n", pp);
            if (i) sb_printf(sol, "%lld + %lld = %lld\n", sum, pp, sum + pp);
            sum += pp;
        }
        sb_printf(ans, "%lld", a * b);
        break;
    }
    case TS_SORT: {
        int n = level + 3;
        long long v[16];
        for (int i = 0; i < n; i++) v[i] = rnd(rng, 0, level >= 3 ? 999 : 99);
        for (int i = 0; i < n; i++) op(ops, v[i]);
        sb_printf(q, "Sort in increasing order: ");
        for (int i = 0; i < n; i++) sb_printf(q, "%s%lld", i ? ", " : "", v[i]);
        for (int k = 0; k < n; k++) { /* selection: the smallest of the rest comes next */
            int best = k;
            for (int i = k + 1; i < n; i++) if (v[i] < v[best]) best = i;
            long long t = v[k]; v[k] = v[best]; v[best] = t;
            sb_printf(sol, "smallest of the rest: %lld, sorted so far:", v[k]);
            for (int i = 0; i <= k; i++) sb_printf(sol, " %lld", v[i]);
            sb_printf(sol, "\n");
        }
        for (int i = 0; i < n; i++) sb_printf(ans, "%s%lld", i ? ", " : "", v[i]);
        break;
    }
    case TS_COUNT: {
        int n = 3 * level + 3;
        char w[32], c = (char)('a' + rnd(rng, 0, 4));
        for (int i = 0; i < n; i++) w[i] = (char)('a' + rnd(rng, 0, 5)); /* a small alphabet: repeats are common */
        w[n] = 0;
        op(ops, c);
        for (int i = 0; i < n; i++) op(ops, w[i]);
        sb_printf(q, "How many times does the letter %c appear in %s?", c, w);
        int cnt = 0;
        for (int i = 0; i < n; i++) {
            if (w[i] == c) cnt++;
            sb_printf(sol, "%c%s count %d\n", w[i], w[i] == c ? " yes" : " no", cnt);
        }
        sb_printf(ans, "%d", cnt);
        break;
    }
    default: { /* TS_LINEAR */
        long long lim = pow10i(level);
        long long a = rnd(rng, 2, 9 * level), x = rnd(rng, -lim, lim), b = rnd(rng, -lim, lim), c = a * x + b;
        op(ops, a); op(ops, b); op(ops, c);
        sb_printf(q, "Solve for x: %lld*x %c %lld = %lld", a, b < 0 ? '-' : '+', b < 0 ? -b : b, c);
        sb_printf(sol, "subtract %lld from both sides: %lld*x = %lld - %lld = %lld\n", b, a, c, b, c - b);
        sb_printf(sol, "divide both sides by %lld: x = %lld / %lld = %lld\n", a, c - b, a, x);
        sb_printf(ans, "x = %lld", x);
        break;
    }
    }
}

void tsynth_text(sbuf *out, const sbuf *q, const sbuf *sol, const sbuf *ans) {
    sb_clear(out);
    sb_printf(out, "%s\n%sAnswer: %s", q->s, sol->s, ans->s);
}

/* JSON string body of s (quotes, backslashes and control characters escaped) */
static void json_str(sbuf *out, const char *s) {
    sb_printf(out, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') sb_printf(out, "\\%c", *s);
        else if (*s == '\n') sb_printf(out, "\\n");
        else if ((unsigned char)*s < 0x20) sb_printf(out, "\\u%04x", (unsigned char)*s);
        else sb_printf(out, "%c", *s);
    }
    sb_printf(out, "\"");
}

void tsynth_chat_json(sbuf *out, const sbuf *q, const sbuf *sol, const sbuf *ans, int thinking) {
    sb_clear(out);
    sb_printf(out, "{\"messages\": [{\"role\": \"user\", \"content\": ");
    if (thinking) json_str(out, q->s);
    else { sbuf u = {0}; sb_printf(&u, "%s /no_think", q->s); json_str(out, u.s ? u.s : ""); sb_free(&u); }
    sb_printf(out, "}, {\"role\": \"assistant\", \"reasoning_content\": ");
    if (thinking) {
        /* the solution without its last newline: the template writes "<think>\n" + it + "\n</think>" */
        sbuf r = {0};
        sb_printf(&r, "%.*s", (int)(sol->len && sol->s[sol->len - 1] == '\n' ? sol->len - 1 : sol->len), sol->s ? sol->s : "");
        json_str(out, r.s ? r.s : "");
        sb_free(&r);
    } else {
        json_str(out, "");
    }
    sb_printf(out, ", \"content\": ");
    json_str(out, ans->s ? ans->s : "");
    sb_printf(out, "}]}");
}
