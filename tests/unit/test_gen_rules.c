/* test_gen_rules.c - the thinking budget's decisions (budget.c) and the stop-string matcher (stop.c)
 * on hand-made token streams, without a model:
 *   budget: the cut comes after exactly N counted tokens; the opening and closing tags and forced
 *   tokens are not counted, a <think> generated inside a block is; a character split across tokens
 *   is finished first; the grace window ends at a newline or after G tokens; a second <think> block
 *   continues the count (and gets the empty closing at once when the budget is spent); budget 0
 *   closes at <think>; -1 never cuts.
 *   stop: every split of a text into pieces releases the same text; partial matches are held and
 *   released at the end; the earliest of several stop strings wins; nothing of a stop string leaks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate/gen.h"
#include "test.h"

enum { THINK = 151667, END = 151668 };

/* Feeds ordinary tokens with text t until the budget asks to force; returns how many were fed, or
 * -1 when it never asked within limit. */
static int feed_until_force(gen_budget *b, const char *t, int limit) {
    for (int k = 1; k <= limit; k++)
        if (budget_note(b, 42, t, strlen(t), 0, 0)) return k;
    return -1;
}

static void budget_tests(void) {
    gen_budget b;
    for (int n = 1; n <= 9; n += 4) {
        budget_init(&b, n, 0, 0, THINK, END);
        int f0 = budget_note(&b, THINK, "<think>", 7, 0, 0);
        int k = feed_until_force(&b, "x", 100);
        char name[64];
        snprintf(name, sizeof name, "budget_cut_after_%d", n);
        CHECK(!f0 && k == n && b.count == n && b.hit, name, "forced after %d tokens (count %d)", k, b.count);
    }

    /* a character split over tokens: no cut while the decoder holds part of it */
    budget_init(&b, 3, 0, 0, THINK, END);
    budget_note(&b, THINK, "", 0, 0, 0);
    budget_note(&b, 1, "a", 1, 0, 0);
    budget_note(&b, 2, "b", 1, 0, 0);
    int f1 = budget_note(&b, 3, "", 0, 1, 0);      /* third token: first byte of a 3-byte char */
    int f2 = budget_note(&b, 4, "", 0, 1, 0);      /* second byte */
    int f3 = budget_note(&b, 5, "\xe4\xbd\xa0", 3, 0, 0); /* the character completes */
    CHECK(!f1 && !f2 && f3 && b.count == 5, "budget_finishes_utf8_char", "forced %d %d %d, count %d", f1, f2, f3, b.count);

    /* grace: up to G more tokens, ending at a newline */
    budget_init(&b, 2, 5, 0, THINK, END);
    budget_note(&b, THINK, "", 0, 0, 0);
    int g1 = budget_note(&b, 1, "a", 1, 0, 0), g2 = budget_note(&b, 1, "b", 1, 0, 0), g3 = budget_note(&b, 1, "c", 1, 0, 0),
        g4 = budget_note(&b, 1, "d.\n", 3, 0, 0);
    CHECK(!g1 && !g2 && !g3 && g4 && b.count == 4, "budget_grace_ends_at_newline", "%d %d %d %d count %d", g1, g2, g3, g4,
          b.count);
    budget_init(&b, 2, 3, 0, THINK, END);
    budget_note(&b, THINK, "", 0, 0, 0);
    int k = feed_until_force(&b, "w", 100);
    CHECK(k == 5 && b.count == 5, "budget_grace_window_runs_out", "forced after %d tokens", k);

    /* forced tokens and tags are not counted; the count spans blocks */
    budget_init(&b, 5, 0, 0, THINK, END);
    budget_note(&b, THINK, "", 0, 0, 0);
    feed_until_force(&b, "x", 3); /* 3 tokens, no cut yet */
    budget_note(&b, END, "", 0, 0, 0);
    budget_note(&b, 7, "answer", 6, 0, 0); /* outside: not counted */
    budget_note(&b, THINK, "", 0, 0, 0);
    int r4 = budget_note(&b, 1, "y", 1, 0, 0), r5 = budget_note(&b, 1, "y", 1, 0, 0);
    CHECK(!r4 && r5 && b.count == 5, "budget_counts_over_the_whole_turn", "forced %d %d count %d", r4, r5, b.count);
    budget_note(&b, 9, "forced", 6, 0, 1);
    budget_note(&b, END, "", 0, 0, 1);
    CHECK(b.count == 5 && !b.in_think, "budget_forced_not_counted", "count %d in_think %d", b.count, b.in_think);
    int again = budget_note(&b, THINK, "", 0, 0, 0);
    CHECK(again == BUDGET_CLOSE && b.count == 5, "budget_spent_closes_a_new_block_at_once",
          "a block reopened with the budget spent got %d (want the empty closing, %d), count %d", again, BUDGET_CLOSE, b.count);

    /* every token generated inside a block counts, a nested <think> included */
    budget_init(&b, 3, 0, 0, THINK, END);
    int n0 = budget_note(&b, THINK, "", 0, 0, 0), n1 = budget_note(&b, THINK, "", 0, 0, 0),
        n2 = budget_note(&b, THINK, "", 0, 0, 0), n3 = budget_note(&b, THINK, "", 0, 0, 0);
    CHECK(!n0 && !n1 && !n2 && n3 == BUDGET_STOP && b.count == 3 && b.hit, "budget_counts_nested_think",
          "%d %d %d %d, count %d", n0, n1, n2, n3, b.count);
    budget_init(&b, 2, 0, 1, THINK, END); /* the prompt opened the block: the model's <think> counts */
    n1 = budget_note(&b, THINK, "", 0, 0, 0);
    n2 = budget_note(&b, 5, "x", 1, 0, 0);
    CHECK(!n1 && n2 == BUDGET_STOP && b.count == 2, "budget_counts_think_in_prompt_block", "%d %d count %d", n1, n2, b.count);

    budget_init(&b, 0, 4, 0, THINK, END);
    CHECK(budget_note(&b, THINK, "", 0, 0, 0) == BUDGET_CLOSE && b.count == 0, "budget_zero_cuts_at_think", "no cut at <think>");
    budget_init(&b, -1, 0, 0, THINK, END);
    budget_note(&b, THINK, "", 0, 0, 0);
    CHECK(feed_until_force(&b, "x", 5000) == -1 && b.count == 5000, "budget_unlimited", "count %d", b.count);
    budget_init(&b, 2, 0, 1, THINK, END); /* the prompt opened <think> */
    CHECK(feed_until_force(&b, "x", 10) == 2, "budget_prompt_opened_think", "count %d", b.count);
}

/* Feeds text in pieces of the given sizes (cycled); returns the released text and the result. */
static int stop_run(const char *const *stops, int n, const char *text, const int *sizes, int n_sizes, char *out,
                    size_t cap) {
    gen_stop st;
    sbuf o = {0};
    stop_init(&st, stops, n, NULL);
    size_t len = strlen(text), at = 0;
    int r = 0, k = 0;
    while (at < len && r == 0) {
        size_t m = (size_t)sizes[k++ % n_sizes];
        if (m > len - at) m = len - at;
        r = stop_feed(&st, text + at, m, &o);
        at += m;
    }
    if (r == 0) stop_flush(&st, &o);
    snprintf(out, cap, "%s", o.s ? o.s : "");
    free(o.s);
    stop_free(&st);
    return r;
}

static void stop_tests(void) {
    const char *stops[] = {"</answer>", "STOP", "ab"};
    struct { const char *text, *want; int stopped; } cases[] = {
        {"hello world", "hello world", 0},
        {"hello </answer> tail", "hello ", 1},
        {"hello </ans", "hello </ans", 0},   /* a partial match at the end is released */
        {"x STOP y </answer>", "x ", 1},
        {"aab", "a", 1},
        {"a</answerSTOP", "a</answer", 1},
        {"\xe4\xbd\xa0\xe5\xa5\xbdST", "\xe4\xbd\xa0\xe5\xa5\xbdST", 0},
        {"", "", 0},
    };
    int sizes_list[][3] = {{1, 1, 1}, {2, 3, 1}, {100, 100, 100}, {3, 1, 2}};
    int bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < 4; s++) {
            char out[256];
            int r = stop_run(stops, 3, cases[c].text, sizes_list[s], 3, out, sizeof out);
            if (strcmp(out, cases[c].want) || r != cases[c].stopped) {
                bad++;
                printf("FAIL stop_case_%zu_%zu: '%s' -> '%s' (stopped %d), expected '%s' (%d)\n", c, s, cases[c].text, out, r,
                       cases[c].want, cases[c].stopped);
            }
        }
    CHECK(bad == 0, "stop_strings_any_split", "%d cases differ", bad);

    /* held text never leaks: while feeding "</answ" nothing after "x" is released */
    gen_stop st;
    sbuf o = {0};
    stop_init(&st, stops, 3, NULL);
    stop_feed(&st, "x</answ", 7, &o);
    CHECK(o.len == 1 && o.s[0] == 'x', "stop_holds_partial_match", "released '%s'", o.s ? o.s : "");
    free(o.s);
    stop_free(&st);
    qwen3_err e = {0};
    const char *empty[] = {""};
    CHECK(stop_init(&st, empty, 1, &e) < 0 && strstr(e.msg, "stop[0]"), "stop_rejects_empty_string", "%s", e.msg);
}

int main(void) {
    TEST_EXPECT(17);
    budget_tests();
    stop_tests();
    return test_exit();
}
