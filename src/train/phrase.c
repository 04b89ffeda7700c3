/* phrase.c - the many ways people ask the synthetic tasks' questions, and the conversations of
 * thinking-mode fusion built from them.
 *
 * A tiny model learns the surface form of its data: trained only on "What is 347 + 589?" it does not
 * answer "Add 347 and 589." or "347+589=?". tsynth_phrase writes a task's question in one of several
 * forms (symbols with and without spaces, words, imperative, a sentence with a story, lower case,
 * without the question mark), the generator's own form among them. The worked solution and the
 * final answer do not change: the answer's form stays fixed for the verifier. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3_train.h"
#include "train/data.h"

static uint64_t next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int pick(uint64_t *rng, int n) { return (int)(next(rng) % (uint64_t)n); }

/* a list of numbers: ", " (the generator's), "," , " " or in brackets */
static void list(sbuf *q, const long long *v, int n, int style) {
    const char *sep = style == 1 ? "," : style == 2 ? " " : ", ";
    if (style == 3) sb_printf(q, "[");
    for (int i = 0; i < n; i++) sb_printf(q, "%s%lld", i ? sep : "", v[i]);
    if (style == 3) sb_printf(q, "]");
}

/* Two-operand families: %1$lld is a, %2$lld is b (printf's positional arguments let a form name
 * them in any order). */
static const char *const ADD[] = {
    "What is %1$lld + %2$lld?", "What is %1$lld+%2$lld?", "Add %1$lld and %2$lld.", "%1$lld + %2$lld = ?",
    "%1$lld+%2$lld=?", "%1$lld + %2$lld", "What's the sum of %1$lld and %2$lld?", "Compute %1$lld + %2$lld.",
    "Calculate %1$lld+%2$lld", "How much is %1$lld plus %2$lld?", "what is %1$lld plus %2$lld",
    "Please add %2$lld to %1$lld.", "Find the sum: %1$lld + %2$lld",
    "I have %1$lld apples and get %2$lld more. How many apples do I have now?",
    "A shop sold %1$lld books on Monday and %2$lld on Tuesday. How many books in total?",
    "what's %1$lld + %2$lld", "Sum of %1$lld and %2$lld?", "%1$lld plus %2$lld equals what?",
};
static const char *const SUB[] = {
    "What is %1$lld - %2$lld?", "What is %1$lld-%2$lld?", "Subtract %2$lld from %1$lld.", "%1$lld - %2$lld = ?",
    "%1$lld-%2$lld=?", "%1$lld - %2$lld", "What is %1$lld minus %2$lld?", "Compute %1$lld - %2$lld.",
    "Calculate %1$lld-%2$lld", "How much is %1$lld minus %2$lld?", "what is %1$lld minus %2$lld",
    "What's the difference between %1$lld and %2$lld?", "Take %2$lld away from %1$lld.",
    "I had %1$lld coins and spent %2$lld. How many coins are left?",
    "A tank holds %1$lld liters and %2$lld liters leak out. How many liters remain?",
    "what's %1$lld - %2$lld", "%1$lld minus %2$lld equals what?",
};
static const char *const MUL[] = {
    "What is %1$lld * %2$lld?", "What is %1$lld*%2$lld?", "Multiply %1$lld by %2$lld.", "%1$lld * %2$lld = ?",
    "%1$lld*%2$lld=?", "%1$lld * %2$lld", "What is %1$lld times %2$lld?", "Compute %1$lld * %2$lld.",
    "Calculate %1$lld*%2$lld", "How much is %1$lld times %2$lld?", "what is %1$lld times %2$lld",
    "What's the product of %1$lld and %2$lld?", "What is %1$lld multiplied by %2$lld?",
    "There are %2$lld boxes with %1$lld pens each. How many pens are there?",
    "what's %1$lld * %2$lld", "%1$lld times %2$lld equals what?",
};

void tsynth_phrase(uint64_t *rng, tsynth_family f, const tsynth_ops *ops, const sbuf *canonical, sbuf *q) {
    sb_clear(q);
    /* a quarter keep the generator's own form (the one `qwen3 eval` asks) */
    if (pick(rng, 4) == 0 || ops->n < 1) { sb_printf(q, "%s", canonical->s); return; }
    const long long *v = ops->v;
    switch (f) {
    case TS_ADD: sb_printf(q, ADD[pick(rng, (int)(sizeof ADD / sizeof *ADD))], v[0], v[1]); break;
    case TS_SUB: sb_printf(q, SUB[pick(rng, (int)(sizeof SUB / sizeof *SUB))], v[0], v[1]); break;
    case TS_MUL: sb_printf(q, MUL[pick(rng, (int)(sizeof MUL / sizeof *MUL))], v[0], v[1]); break;
    case TS_SORT: {
        static const char *const pre[] = {"Sort in increasing order: ", "Sort these numbers from smallest to largest: ",
                                          "Put in ascending order: ", "Order from least to greatest: ", "sort ",
                                          "Sort: ", "Please sort ", "Arrange in increasing order: "};
        int k = pick(rng, 9);
        if (k < 8) {
            sb_printf(q, "%s", pre[k]);
            list(q, v, ops->n, pick(rng, 4));
        } else {
            sb_printf(q, "Arrange ");
            list(q, v, ops->n, pick(rng, 4));
            sb_printf(q, " from smallest to largest.");
        }
        break;
    }
    case TS_COUNT: {
        char c = (char)v[0], w[32];
        int n = ops->n - 1 < 31 ? ops->n - 1 : 31;
        for (int i = 0; i < n; i++) w[i] = (char)v[i + 1];
        w[n] = 0;
        switch (pick(rng, 7)) {
        case 0: sb_printf(q, "How many times does the letter %c appear in %s?", c, w); break;
        case 1: sb_printf(q, "Count the letter '%c' in \"%s\".", c, w); break;
        case 2: sb_printf(q, "How many %c's are in %s?", c, w); break;
        case 3: sb_printf(q, "In the word %s, how many times does %c occur?", w, c); break;
        case 4: sb_printf(q, "count %c in %s", c, w); break;
        case 5: sb_printf(q, "How often does %c appear in the string %s?", c, w); break;
        default: sb_printf(q, "Number of %c in %s?", c, w); break;
        }
        break;
    }
    case TS_LINEAR: {
        long long a = v[0], b = v[1], c = v[2];
        char lhs[96];
        snprintf(lhs, sizeof lhs, "%lld*x %c %lld", a, b < 0 ? '-' : '+', b < 0 ? -b : b);
        switch (pick(rng, 5)) {
        case 0: sb_printf(q, "Solve for x: %s = %lld", lhs, c); break;
        case 1: sb_printf(q, "Find x if %s = %lld.", lhs, c); break;
        case 2: sb_printf(q, "%s = %lld. What is x?", lhs, c); break;
        case 3: sb_printf(q, "solve %lld*x%c%lld=%lld", a, b < 0 ? '-' : '+', b < 0 ? -b : b, c); break;
        default: sb_printf(q, "What value of x makes %s equal %lld?", lhs, c); break;
        }
        break;
    }
    default: sb_printf(q, "%s", canonical->s); break;
    }
}

/* ---- thinking-mode fusion conversations ------------------------------------------------------- */

/* "add,sub,mul:1,sort" -> the families to use and each one's highest level (0: no cap). */
static int parse_families(const char *spec, int use[TS_FAMILIES], int cap[TS_FAMILIES], qwen3_err *e) {
    for (int f = 0; f < TS_FAMILIES; f++) { use[f] = spec == NULL; cap[f] = 0; }
    if (!spec) return 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[32];
        if (n == 0 || n >= sizeof item) return qerr(e, "synth: bad family list '%s' (expected names such as add,sub,mul:1)", spec);
        memcpy(item, p, n);
        item[n] = 0;
        int lvl = 0;
        char *colon = strchr(item, ':');
        if (colon) {
            *colon = 0;
            if (sscanf(colon + 1, "%d", &lvl) != 1 || lvl < 1 || lvl > 5) return qerr(e, "synth: '%s': the level cap after ':' must be 1..5", spec);
        }
        int f = 0;
        while (f < TS_FAMILIES && strcmp(item, tsynth_family_name((tsynth_family)f))) f++;
        if (f == TS_FAMILIES) return qerr(e, "synth: unknown family '%s' (add, sub, mul, sort, count, linear)", item);
        use[f] = 1;
        cap[f] = lvl;
        p += n + (end ? 1 : 0);
    }
    return 0;
}

/* the user turn: the question, with the mode flag at its end (or, now and then, its start) */
static json_t *user_turn(uint64_t *rng, const char *question, int flag) {
    static const char *const flags[] = {"", "/think", "/no_think"};
    char buf[1024];
    if (!flag) snprintf(buf, sizeof buf, "%s", question);
    else if (pick(rng, 5) == 0) snprintf(buf, sizeof buf, "%s %s", flags[flag], question);
    else snprintf(buf, sizeof buf, "%s %s", question, flags[flag]);
    return json_pack("{s:s, s:s}", "role", "user", "content", buf);
}

/* The reasoning: the question restated in the generator's form (whatever the user's phrasing, the
 * steps then read their digits from one fixed layout nearby), then the worked solution without its
 * last newline (the template writes "<think>\n" + it + "\n</think>"). */
static json_t *reply(const sbuf *canonical, const sbuf *sol, const sbuf *ans, int think) {
    sbuf r = {0};
    sb_printf(&r, "%s\n%.*s", canonical->s ? canonical->s : "", (int)(sol->len && sol->s[sol->len - 1] == '\n' ? sol->len - 1 : sol->len),
                 sol->s ? sol->s : "");
    json_t *j = r.oom ? NULL : json_pack("{s:s, s:s, s:s}", "role", "assistant", "reasoning_content", think ? r.s : "", "content", ans->s ? ans->s : "");
    sb_free(&r);
    return j;
}

int qwen3_synth_fusion(FILE *f, uint64_t seed, long n, int lo, int hi, const char *families, qwen3_err *e) {
    if (lo < 1 || hi < lo || hi > 5) return qerr(e, "synth: levels must satisfy 1 <= lo <= hi <= 5 (got %d..%d)", lo, hi);
    int use[TS_FAMILIES], cap[TS_FAMILIES], fam[TS_FAMILIES], nf = 0;
    if (parse_families(families, use, cap, e)) return -1;
    for (int i = 0; i < TS_FAMILIES; i++) if (use[i]) fam[nf++] = i;
    if (!nf) return qerr(e, "synth: no families");
    uint64_t rng = seed * 0x2545F4914F6CDD1Dull + 777, prng = seed * 0x9E3779B97F4A7C15ull + 31;
    sbuf q = {0}, sol = {0}, ans = {0}, pq = {0};
    long k = 0; /* examples drawn so far: families in turn, levels in turn within each family */
    int rc = 0;
    for (long i = 0; i < n && !rc; i++) {
        /* 35% thinking without a flag, 15% /think, 35% /no_think, 15% two turns (the reply follows the last flag) */
        int r = pick(&prng, 20), turns = r >= 17 ? 2 : 1;
        json_t *msgs = json_array();
        int mode_flag = 0; /* 0 none yet, 1 think, 2 no_think */
        for (int t = 0; t < turns; t++) {
            int fi = fam[k % nf], span = hi - lo + 1, level = lo + (int)((k / nf) % span);
            if (cap[fi] && level > cap[fi]) level = cap[fi] < lo ? lo : cap[fi];
            k++;
            tsynth_ops ops = {0};
            tsynth_example_ops(&rng, (tsynth_family)fi, level, &q, &sol, &ans, &ops);
            tsynth_phrase(&prng, (tsynth_family)fi, &ops, &q, &pq);
            int flag = turns == 1 ? (r < 7 ? 0 : r < 10 ? 1 : 2) : pick(&prng, 3);
            if (flag) mode_flag = flag;
            json_array_append_new(msgs, user_turn(&prng, pq.s, flag));
            /* an earlier turn's reply: the template drops its reasoning, so only its answer is written */
            int think = mode_flag != 2;
            json_array_append_new(msgs, t + 1 < turns ? json_pack("{s:s, s:s}", "role", "assistant", "content", ans.s) : reply(&q, &sol, &ans, think));
        }
        json_t *j = json_pack("{s:o}", "messages", msgs);
        char *d = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!d || q.oom || sol.oom || ans.oom || pq.oom) { free(d); rc = qerr(e, "out of memory"); break; }
        if (fprintf(f, "%s\n", d) < 0) rc = qerr(e, "synth: write failed");
        free(d);
    }
    sb_free(&q); sb_free(&sol); sb_free(&ans); sb_free(&pq);
    return rc;
}
