/* test_gen_batch.c - qwen3_gen_step over several generations at once, on a small random checkpoint
 * with the real vocabulary (written by tools/gen_checkpoint.py into $QWEN3_TMP/gen_batch once):
 *   - three generations stepped together give the same ids as each stepped alone, greedy and
 *     sampled (each has its own random stream, so batching does not change what it draws);
 *   - prefix re-use: a prompt that extends the previous turn's prompt re-uses exactly the common
 *     prefix of the cache (cached_tokens), and its output equals a fresh sequence's;
 *   - cancel ends a generation with QWEN3_FINISH_CANCEL at the next take, the others go on;
 *   - the context limit ends with QWEN3_FINISH_LENGTH; a prompt longer than it is refused;
 *   - a NULL tokenizer gives ids only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"
#include "test.h"

#define NG 3
#define NT 10

static qwen3_model *M;
static qwen3_tokenizer *T;

/* Runs gens to the end together; ids[g] gets each one's ids. */
static void run_all(qwen3_gen **g, int n, int32_t ids[][64], int *n_ids) {
    for (int k = 0; k < n; k++) n_ids[k] = 0;
    for (int guard = 0; guard < 200; guard++) {
        int running = 0;
        for (int k = 0; k < n; k++) {
            qwen3_gen_out o;
            qwen3_gen_take(g[k], &o);
            for (int j = 0; j < o.n_ids && n_ids[k] < 64; j++) ids[k][n_ids[k]++] = o.ids[j];
            running += o.finish == QWEN3_FINISH_NONE;
        }
        if (!running) return;
        qwen3_err e = {0};
        if (qwen3_gen_step(M, g, n, &e)) {
            printf("FAIL gen_step: %s\n", e.msg);
            return;
        }
    }
}

static void together_vs_alone(float temp, const char *name) {
    const char *texts[NG] = {"The quick brown fox", "Once upon a time, in a land far", "1, 2, 3,"};
    int32_t *prompt[NG];
    int np[NG];
    qwen3_seq *s[NG];
    qwen3_gen *g[NG];
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = temp, .top_k = 0, .top_p = 0.95f, .repetition_penalty = 1};
    p.max_tokens = NT;
    p.think_budget = -1;
    int32_t together[NG][64], alone[NG][64];
    int nt[NG], na[NG];
    for (int k = 0; k < NG; k++) {
        np[k] = qwen3_encode(T, texts[k], strlen(texts[k]), 1, &prompt[k], NULL);
        s[k] = qwen3_seq_new(M, 256, NULL);
        p.sampling.seed = 100 + (uint64_t)k;
        g[k] = qwen3_gen_new(M, T, s[k], prompt[k], np[k], &p, NULL);
    }
    run_all(g, NG, together, nt);
    for (int k = 0; k < NG; k++) {
        qwen3_gen_free(g[k]);
        qwen3_seq_free(s[k]);
        s[k] = qwen3_seq_new(M, 256, NULL);
        p.sampling.seed = 100 + (uint64_t)k;
        g[k] = qwen3_gen_new(M, T, s[k], prompt[k], np[k], &p, NULL);
        run_all(&g[k], 1, &alone[k], &na[k]);
    }
    int same = 1;
    for (int k = 0; k < NG; k++) same &= nt[k] == NT && na[k] == NT && !memcmp(together[k], alone[k], sizeof(int32_t) * NT);
    CHECK(same, name, "a generation's ids changed when batched (gen 0: %d %d %d ... vs %d %d %d ...)", together[0][0],
          together[0][1], together[0][2], alone[0][0], alone[0][1], alone[0][2]);
    for (int k = 0; k < NG; k++) {
        qwen3_gen_free(g[k]);
        qwen3_seq_free(s[k]);
        free(prompt[k]);
    }
}

static void prefix_reuse(void) {
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = 0, .top_p = 1, .repetition_penalty = 1};
    p.max_tokens = 6;
    p.think_budget = -1;
    const char *t1 = "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n";
    const char *t2 = "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\nHi!<|im_end|>\n<|im_start|>user\nMore<|im_end|>\n<|im_start|>assistant\n";
    int32_t *a, *b;
    int na = qwen3_encode(T, t1, strlen(t1), 1, &a, NULL), nb = qwen3_encode(T, t2, strlen(t2), 1, &b, NULL);
    qwen3_seq *s = qwen3_seq_new(M, 256, NULL), *fresh = qwen3_seq_new(M, 256, NULL);
    qwen3_gen *g = qwen3_gen_new(M, T, s, a, na, &p, NULL);
    int32_t ids[2][64];
    int n[2];
    run_all(&g, 1, &ids[0], &n[0]);
    qwen3_gen_free(g);
    /* the cache holds the first prompt and all but the last generated token */
    int common = 0;
    const int32_t *c = qwen3_seq_tokens(s);
    while (common < qwen3_seq_len(s) && common < nb - 1 && c[common] == b[common]) common++;
    g = qwen3_gen_new(M, T, s, b, nb, &p, NULL);
    qwen3_gen_stats st;
    qwen3_gen_stats_get(g, &st);
    CHECK(st.cached_tokens == common && common >= na && st.prompt_tokens == nb, "gen_prefix_reuse_count",
          "cached %d, expected %d (first prompt %d tokens)", st.cached_tokens, common, na);
    run_all(&g, 1, &ids[0], &n[0]);
    qwen3_gen_stats_get(g, &st);
    qwen3_gen_free(g);
    g = qwen3_gen_new(M, T, fresh, b, nb, &p, NULL);
    run_all(&g, 1, &ids[1], &n[1]);
    CHECK(n[0] == n[1] && !memcmp(ids[0], ids[1], sizeof(int32_t) * (size_t)n[0]) && st.prefill_seconds > 0,
          "gen_prefix_reuse_same_output", "re-used cache and fresh sequence disagree");
    /* the same prompt again: everything but its last token is re-used */
    qwen3_gen_free(g);
    g = qwen3_gen_new(M, T, fresh, b, nb, &p, NULL);
    qwen3_gen_stats_get(g, &st);
    CHECK(st.cached_tokens == nb - 1, "gen_prefix_reuse_whole_prompt", "cached %d of %d", st.cached_tokens, nb);
    qwen3_gen_free(g);
    qwen3_seq_free(s);
    qwen3_seq_free(fresh);
    free(a);
    free(b);
}

static void cancel_and_limits(void) {
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = 0, .top_p = 1, .repetition_penalty = 1};
    p.think_budget = -1;
    int32_t pr[4] = {9707, 11, 1879, 13};
    qwen3_seq *s1 = qwen3_seq_new(M, 12, NULL), *s2 = qwen3_seq_new(M, 64, NULL);
    qwen3_gen *g[2] = {qwen3_gen_new(M, T, s1, pr, 4, &p, NULL), qwen3_gen_new(M, T, s2, pr, 4, &p, NULL)};
    qwen3_err e = {0};
    qwen3_gen_step(M, g, 2, &e);
    qwen3_gen_cancel(g[1]);
    qwen3_gen_out o;
    qwen3_gen_take(g[1], &o);
    CHECK(o.finish == QWEN3_FINISH_CANCEL && o.n_ids == 1, "gen_cancel", "finish %d after cancel, %d ids", o.finish, o.n_ids);
    int steps = 0;
    for (; steps < 50; steps++) {
        qwen3_gen_take(g[0], &o);
        if (o.finish) break;
        qwen3_gen_step(M, g, 2, &e);
    }
    qwen3_gen_stats st;
    qwen3_gen_stats_get(g[0], &st);
    /* 12 positions: 4 prompt + 8 fed back; the token sampled from the last position is the 9th */
    CHECK(o.finish == QWEN3_FINISH_LENGTH && st.generated_tokens == 9, "gen_context_full",
          "finish %d with %d tokens in a 12-token context", o.finish, st.generated_tokens);
    qwen3_gen_free(g[0]);
    qwen3_gen_free(g[1]);
    int32_t big[13] = {0};
    qwen3_gen *bad = qwen3_gen_new(M, T, s1, big, 13, &p, &e);
    CHECK(!bad && strstr(e.msg, "13 tokens") && strstr(e.msg, "context of 12"), "gen_prompt_longer_than_context", "%s",
          bad ? "accepted" : e.msg);
    qwen3_gen_free(bad);
    p.max_tokens = 5;
    qwen3_gen *raw = qwen3_gen_new(M, NULL, s2, pr, 4, &p, &e);
    int32_t ids[1][64];
    int n;
    run_all(&raw, 1, ids, &n);
    qwen3_gen_take(raw, &o);
    CHECK(raw && n == 5 && o.text_len == 0, "gen_without_tokenizer", "%d ids", n);
    qwen3_gen_free(raw);
    p.think_budget = 3;
    e.msg[0] = 0;
    raw = qwen3_gen_new(M, NULL, s2, pr, 4, &p, &e);
    CHECK(!raw && strstr(e.msg, "tokenizer"), "gen_budget_needs_tokenizer", "%s", e.msg);
    qwen3_gen_free(raw);
    qwen3_seq_free(s1);
    qwen3_seq_free(s2);
}

int main(void) {
    TEST_EXPECT(10);
    const char *tmp = getenv("QWEN3_TMP") ? getenv("QWEN3_TMP") : "/tmp";
    const char *root = getenv("QWEN3_ROOT") ? getenv("QWEN3_ROOT") : ".";
    char dir[1024], cmd[4096], probe[1100];
    snprintf(dir, sizeof dir, "%s/gen_batch", tmp);
    snprintf(probe, sizeof probe, "%s/model.safetensors", dir);
    FILE *f = fopen(probe, "rb");
    if (f) fclose(f);
    else {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/gen_checkpoint.py %s --preset tiny --vocab 151936 --seed 11 -q", root,
                 dir);
        if (system(cmd) != 0) { printf("FAIL gen_batch: %s failed\n", cmd); return 1; }
    }
    qwen3_err e = {0};
    M = qwen3_model_load(dir, NULL, &e);
    T = M ? qwen3_tokenizer_load(dir, &e) : NULL;
    if (!M || !T) { printf("FAIL gen_batch: %s\n", e.msg); return 1; }
    together_vs_alone(0, "gen_batched_equals_alone_greedy");
    together_vs_alone(1.0f, "gen_batched_equals_alone_sampled");
    prefix_reuse();
    cancel_and_limits();
    qwen3_tokenizer_free(T);
    qwen3_model_free(M);
    return test_exit();
}
