/* test_verify.c - the answer verifier (src/eval/verify.c) on known-right and known-wrong replies, the
 * tasks it is given (src/eval/task.c), and the statistics of `qwen3 eval` (src/eval/stats.c) on
 * cases worked by hand. Uses the real Qwen3 tokenizer ($QWEN3_TOKENIZER) for the think lengths.
 * Injected faults this catches (tried once each): accepting a reply whose answer has a trailing
 * period (answer compared with strncmp over the expected length: extra-text cases FAIL); not
 * requiring "<think>" at byte 0 (leading-text case FAILs); McNemar one-sided (p case FAILs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3_eval.h"
#include "test.h"

typedef struct {
    const char *name;
    const char *reply;
    int mode;
    int correct, think_ok, think_empty, mode_ok;
    const char *answer; /* the extracted answer, NULL: none */
} vcase;

int main(void) {
    static const vcase cases[] = {
        /* right */
        {"think-right", "<think>\ncolumn 1: 7+9=16, write 6 carry 1\n</think>\n\n579", 1, 1, 1, 0, 1, "579"},
        {"think-right-im-end", "<think>\nsteps\n</think>\n\n579<|im_end|>", 1, 1, 1, 0, 1, "579"},
        {"think-right-eot-newline", "<think>\nsteps\n</think>\n\n579\n<|endoftext|>\n", 1, 1, 1, 0, 1, "579"},
        {"nothink-right", "<think>\n\n</think>\n\n579", 0, 1, 1, 1, 1, "579"},
        {"nothink-right-no-newlines", "<think></think>579", 0, 1, 1, 1, 1, "579"},
        {"budget-cut-right",
         "<think>\ncolumn 1\n\nConsidering the limited time by the user, I have to give the solution based on the "
         "thinking directly now.\n</think>\n\n579", 1, 1, 1, 0, 1, "579"},
        {"any-mode-right", "<think>\nx\n</think>\n\n579", -1, 1, 1, 0, 1, "579"},
        /* right answer, broken form or mode */
        {"no-think-block", "579", 1, 1, 0, 0, 0, "579"},
        {"nothink-but-thinks", "<think>\nsteps\n</think>\n\n579", 0, 1, 1, 0, 0, "579"},
        {"think-but-empty", "<think>\n\n</think>\n\n579", 1, 1, 1, 1, 0, "579"},
        {"leading-text", "ok <think>\nsteps\n</think>\n\n579", 1, 1, 0, 0, 0, "579"},
        {"leading-newline", "\n<think>\nsteps\n</think>\n\n579", 1, 1, 0, 0, 0, "579"},
        {"two-blocks", "<think>\na\n</think>\n\n<think>\nb\n</think>\n\n579", 1, 1, 0, 0, 0, "579"},
        {"stray-close", "<think>\na\n</think>\n</think>\n\n579", 1, 1, 0, 0, 0, "579"},
        /* wrong */
        {"wrong-number", "<think>\nsteps\n</think>\n\n578", 1, 0, 1, 0, 1, "578"},
        {"unclosed", "<think>\nsteps 579", 1, 0, 0, 0, 0, NULL},
        {"unclosed-after-answer", "<think>\na\n</think>\n\n579<think>\nmore", 1, 0, 0, 0, 0, NULL},
        {"extra-words", "<think>\nsteps\n</think>\n\nThe answer is 579", 1, 0, 1, 0, 1, "The answer is 579"},
        {"trailing-period", "<think>\nsteps\n</think>\n\n579.", 1, 0, 1, 0, 1, "579."},
        {"answer-prefix", "<think>\nsteps\n</think>\n\nAnswer: 579", 1, 0, 1, 0, 1, "Answer: 579"},
        {"two-answers", "<think>\nsteps\n</think>\n\n579\n579", 1, 0, 1, 0, 1, "579\n579"},
        {"prefix-of-answer", "<think>\nsteps\n</think>\n\n57", 1, 0, 1, 0, 1, "57"},
        {"empty-reply", "", 1, 0, 0, 0, 0, ""},
        {"only-end-token", "<|im_end|>", 0, 0, 0, 0, 0, ""},
    };
    static const vcase lin[] = {
        {"linear-right", "<think>\nsubtract\n</think>\n\nx = -7", 1, 1, 1, 0, 1, "x = -7"},
        {"linear-no-spaces", "<think>\nsubtract\n</think>\n\nx=-7", 1, 0, 1, 0, 1, "x=-7"},
        {"linear-bare-number", "<think>\n\n</think>\n\n-7", 0, 0, 1, 1, 1, "-7"},
    };
    const char *tokdir = getenv("QWEN3_TOKENIZER");
    int n_cases = (int)(sizeof cases / sizeof cases[0] + sizeof lin / sizeof lin[0]);
    TEST_EXPECT(n_cases + 15);
    qwen3_err e = {0};
    qwen3_task t;
    memset(&t, 0, sizeof t);
    strcpy(t.answer, "579");
    for (int set = 0; set < 2; set++) {
        const vcase *cs = set ? lin : cases;
        int n = set ? (int)(sizeof lin / sizeof lin[0]) : (int)(sizeof cases / sizeof cases[0]);
        if (set) strcpy(t.answer, "x = -7");
        for (int k = 0; k < n; k++) {
            const vcase *c = &cs[k];
            qwen3_verdict v;
            int rc = qwen3_verify(&t, c->reply, strlen(c->reply), c->mode, NULL, &v, &e);
            char name[96], got[128] = "";
            snprintf(name, sizeof name, "verify.%s", c->name);
            snprintf(got, sizeof got, "%.*s", (int)v.answer_len, c->reply + v.answer_off);
            int ans_ok = c->answer ? (v.answer_len == strlen(c->answer) && !strcmp(got, c->answer)) : v.answer_len == 0;
            double want_reward = c->correct && c->think_ok && c->mode_ok;
            CHECK(rc == 0 && v.correct == c->correct && v.think_ok == c->think_ok && v.think_empty == c->think_empty &&
                      v.mode_ok == c->mode_ok && ans_ok && v.reward == want_reward,
                  name, "rc=%d correct=%d think_ok=%d empty=%d mode_ok=%d answer='%s' reward=%g (want %d %d %d %d '%s')", rc,
                  v.correct, v.think_ok, v.think_empty, v.mode_ok, got, v.reward, c->correct, c->think_ok, c->think_empty,
                  c->mode_ok, c->answer ? c->answer : "(none)");
        }
    }

    /* think length: bytes always, tokens with the tokenizer (the reasoning's own encoding) */
    {
        strcpy(t.answer, "579");
        const char *r = "<think>\nabc def\n</think>\n\n579";
        qwen3_verdict v;
        qwen3_verify(&t, r, strlen(r), 1, NULL, &v, &e);
        CHECK(v.think_bytes == 7 && v.think_tokens == -1, "verify.think-bytes", "bytes=%d tokens=%d", v.think_bytes,
              v.think_tokens);
        qwen3_tokenizer *tok = tokdir ? qwen3_tokenizer_load(tokdir, &e) : NULL;
        if (!tok) TEST_SKIP("verify.think-tokens", "no tokenizer ($QWEN3_TOKENIZER): %s", tokdir ? e.msg : "unset");
        else {
            int32_t *ids = NULL;
            int want = qwen3_encode(tok, "abc def", 7, 1, &ids, &e);
            free(ids);
            qwen3_verify(&t, r, strlen(r), 1, tok, &v, &e);
            qwen3_verdict v0;
            const char *r0 = "<think>\n\n</think>\n\n579";
            qwen3_verify(&t, r0, strlen(r0), 0, tok, &v0, &e);
            CHECK(want == 2 && v.think_tokens == want && v0.think_tokens == 0, "verify.think-tokens",
                  "tokens=%d want=%d empty=%d", v.think_tokens, want, v0.think_tokens);
        }
        qwen3_tokenizer_free(tok);
    }
    /* errors */
    {
        qwen3_task none;
        memset(&none, 0, sizeof none);
        qwen3_verdict v;
        int rc1 = qwen3_verify(&none, "579", 3, 1, NULL, &v, &e);
        int has1 = strstr(e.msg, "no answer") != NULL;
        int rc2 = qwen3_verify(&t, "579", 3, 7, NULL, &v, &e);
        CHECK(rc1 == -1 && has1 && rc2 == -1 && strstr(e.msg, "mode"), "verify.errors", "rc=%d %d msg=%s", rc1, rc2, e.msg);
    }
    /* tasks: deterministic, answers that the verifier accepts in the template's form, operands */
    {
        qwen3_task a, b;
        int ok = 1;
        char why[256] = "";
        for (int f = 0; f < QWEN3_TASK_FAMILIES && ok; f++)
            for (int lv = 1; lv <= 5 && ok; lv++) {
                if (qwen3_task_make(7, 3, f, lv, &a, &e) || qwen3_task_make(7, 3, f, lv, &b, &e)) {
                    ok = 0; snprintf(why, sizeof why, "make: %.200s", e.msg); break;
                }
                if (memcmp(&a, &b, sizeof a)) { ok = 0; snprintf(why, sizeof why, "%.200s L%d not deterministic", a.question, lv); }
                if (a.level != lv || (int)a.family != f || !a.question[0] || !a.answer[0] || a.n_operands < 2) {
                    ok = 0; snprintf(why, sizeof why, "fields f=%d L=%d ops=%d", a.family, a.level, a.n_operands);
                }
            }
        CHECK(ok, "task.deterministic", "%s", why);
        qwen3_task_make(7, 3, QWEN3_TASK_ADD, 2, &a, &e);
        char want[64];
        snprintf(want, sizeof want, "%lld", a.operands[0] + a.operands[1]);
        CHECK(!strcmp(want, a.answer) && a.n_operands == 2, "task.add-operands", "%s: ops %lld %lld answer %s", a.question,
              a.operands[0], a.operands[1], a.answer);
        qwen3_task_make(7, 3, QWEN3_TASK_LINEAR, 2, &a, &e);
        snprintf(want, sizeof want, "x = %lld", (a.operands[2] - a.operands[1]) / a.operands[0]);
        CHECK(!strcmp(want, a.answer) && a.n_operands == 3 && a.operands[0] * ((a.operands[2] - a.operands[1]) / a.operands[0]) ==
                  a.operands[2] - a.operands[1], "task.linear-operands", "%s: answer %s want %s", a.question, a.answer, want);
        qwen3_task_make(7, 4, QWEN3_TASK_SORT, 5, &a, &e);
        CHECK(a.n_operands == 8, "task.sort-operands", "%d numbers at level 5", a.n_operands);
        qwen3_task_make(7, 3, QWEN3_TASK_ADD, 2, &b, &e);
        qwen3_task_make(7, 4, QWEN3_TASK_ADD, 2, &a, &e);
        CHECK(strcmp(a.question, b.question), "task.index-varies", "index 3 and 4 gave %s", a.question);
        int bad1 = qwen3_task_make(7, 0, 6, 1, &a, &e), has1 = strstr(e.msg, "family") != NULL;
        int bad2 = qwen3_task_make(7, 0, 0, 6, &a, &e);
        CHECK(bad1 == -1 && has1 && bad2 == -1 && strstr(e.msg, "level"), "task.errors", "%s", e.msg);
        CHECK(qwen3_task_family_parse("linear") == QWEN3_TASK_LINEAR && qwen3_task_family_parse("div") == -1 &&
                  !strcmp(qwen3_task_family_name(QWEN3_TASK_COUNT), "count") && !qwen3_task_family_name(9),
              "task.family-names", "names");
    }
    /* statistics, worked by hand */
    {
        /* pass@k: n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5; c=0: 0; c=3, k=2: 1 */
        CHECK(fabs(qwen3_pass_at_k(4, 1, 2) - 0.5) < 1e-12 && qwen3_pass_at_k(4, 0, 2) == 0 && qwen3_pass_at_k(4, 3, 2) == 1 &&
                  fabs(qwen3_pass_at_k(10, 3, 1) - 0.3) < 1e-12 && isnan(qwen3_pass_at_k(2, 1, 3)),
              "stats.pass-at-k", "%g %g %g", qwen3_pass_at_k(4, 1, 2), qwen3_pass_at_k(4, 0, 2), qwen3_pass_at_k(4, 3, 2));
        const char *ans[] = {"12", "13", "", "13", "12"};
        size_t lens[] = {2, 2, 0, 2, 2};
        int w = -2, votes = qwen3_majority(ans, lens, 5, &w);
        CHECK(votes == 2 && w == 0, "stats.majority-tie-first", "votes=%d winner=%d", votes, w);
        size_t none[] = {0, 0};
        votes = qwen3_majority(ans, none, 2, &w);
        CHECK(votes == 0 && w == -1, "stats.majority-empty", "votes=%d winner=%d", votes, w);
        /* McNemar: n01 = 1, n10 = 7: p = 2 * (1 + 8) / 256 = 0.0703125 */
        unsigned char A[20], B[20];
        for (int i = 0; i < 20; i++) { A[i] = i < 12; B[i] = i < 5 || i == 19; }
        qwen3_paired p;
        int rc = qwen3_paired_compare(A, B, 20, 2000, 0.95, 1, &p, &e);
        CHECK(rc == 0 && p.n01 == 1 && p.n10 == 7 && fabs(p.p_mcnemar - 0.0703125) < 1e-12 && fabs(p.diff - (-0.30)) < 1e-12 &&
                  p.lo <= p.diff && p.diff <= p.hi && p.lo < -0.45 && p.hi > -0.2 && p.hi < 0,
              "stats.paired", "rc=%d n01=%d n10=%d p=%g diff=%g ci=[%g, %g]", rc, p.n01, p.n10, p.p_mcnemar, p.diff, p.lo, p.hi);
        rc = qwen3_paired_compare(A, A, 20, 100, 0.95, 1, &p, &e);
        CHECK(rc == 0 && p.p_mcnemar == 1 && p.lo == 0 && p.hi == 0, "stats.paired-equal", "p=%g ci=[%g, %g]", p.p_mcnemar,
              p.lo, p.hi);
    }
    return test_exit();
}
