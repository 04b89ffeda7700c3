/* test_batch.c - the batched forward pass against itself run one sequence at a time, and the KV
 * cache's truncation, on generated dense and MoE checkpoints. The single-sequence path is checked
 * against the independent numpy reference in tests/suite/ref_forward.sh; this test proves that
 * batching several sequences (and cutting a cache back) changes nothing beyond float rounding.
 * Tolerance: 1e-4 absolute on logits that spread to about +-10. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"
#include "test.h"

static float maxdiff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

static qwen3_model *make_model(const char *name, const char *flags) {
    const char *tmp = getenv("QWEN3_TMP") ? getenv("QWEN3_TMP") : "build/testdata";
    char dir[512], cmd[2048];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/gen_checkpoint.py -q %s --seed 3 %s", flags, dir);
    if (system(cmd) != 0) { printf("FAIL %s: generator failed: %s\n", name, cmd); return NULL; }
    qwen3_err e = {0};
    qwen3_load_opts o = {.n_threads = 2};
    qwen3_model *m = qwen3_model_load(dir, &o, &e);
    if (!m) printf("FAIL %s: load: %s\n", name, e.msg);
    return m;
}

static void run_case(const char *name, qwen3_model *m) {
    const int V = qwen3_model_config(m)->vocab_size;
    char label[128];
    int32_t p[3][9] = {{5, 17, 300, 42, 9}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {77}};
    int np[3] = {5, 9, 1};
    qwen3_err e = {0};
    /* separately */
    float *sep[3], *bat[3];
    for (int i = 0; i < 3; i++) {
        sep[i] = calloc((size_t)np[i] * V, sizeof(float));
        bat[i] = calloc((size_t)np[i] * V, sizeof(float));
        qwen3_seq *s = qwen3_seq_new(m, 64, &e);
        qwen3_batch_item it = {s, p[i], np[i], QWEN3_LOGITS_ALL, sep[i]};
        if (qwen3_forward(m, &it, 1, &e)) printf("FAIL %s: forward: %s\n", name, e.msg);
        qwen3_seq_free(s);
    }
    /* together */
    qwen3_seq *s[3];
    qwen3_batch_item items[3];
    for (int i = 0; i < 3; i++) {
        s[i] = qwen3_seq_new(m, 64, &e);
        items[i] = (qwen3_batch_item){s[i], p[i], np[i], QWEN3_LOGITS_ALL, bat[i]};
    }
    CHECK(qwen3_forward(m, items, 3, &e) == 0, "batch forward runs", "%s", e.msg);
    float d = 0;
    for (int i = 0; i < 3; i++) { float x = maxdiff(sep[i], bat[i], (size_t)np[i] * V); d = x > d ? x : d; }
    snprintf(label, sizeof label, "%s: 3 prompts in one pass == one at a time (maxdiff %.2g)", name, d);
    CHECK(d <= 1e-4f, label, "maxdiff %g", d);
    /* a batched decode step: one new token for each sequence, LAST logits */
    int32_t nxt[3] = {11, 12, 13};
    float *dec_b = calloc((size_t)3 * V, sizeof(float)), *dec_s = calloc((size_t)3 * V, sizeof(float));
    for (int i = 0; i < 3; i++) items[i] = (qwen3_batch_item){s[i], &nxt[i], 1, QWEN3_LOGITS_LAST, dec_b + (size_t)i * V};
    CHECK(qwen3_forward(m, items, 3, &e) == 0, "batched decode step runs", "%s", e.msg);
    for (int i = 0; i < 3; i++) {
        qwen3_seq *q = qwen3_seq_new(m, 64, &e);
        int32_t all[10];
        memcpy(all, p[i], sizeof(int32_t) * (size_t)np[i]);
        all[np[i]] = nxt[i];
        qwen3_batch_item it = {q, all, np[i] + 1, QWEN3_LOGITS_LAST, dec_s + (size_t)i * V};
        qwen3_forward(m, &it, 1, &e);
        qwen3_seq_free(q);
    }
    d = maxdiff(dec_b, dec_s, (size_t)3 * V);
    snprintf(label, sizeof label, "%s: batched decode == single-sequence prefill (maxdiff %.2g)", name, d);
    CHECK(d <= 1e-4f, label, "maxdiff %g", d);
    /* truncation: cut sequence 1 back to 4 positions and recompute the rest */
    CHECK(qwen3_seq_len(s[1]) == 10, "sequence length counts the tokens", "len %d", qwen3_seq_len(s[1]));
    CHECK(qwen3_seq_truncate(s[1], 4, &e) == 0, "truncate to 4", "%s", e.msg);
    CHECK(memcmp(qwen3_seq_tokens(s[1]), p[1], 4 * sizeof(int32_t)) == 0, "cached tokens recorded", "mismatch");
    float *re = calloc((size_t)5 * V, sizeof(float));
    qwen3_batch_item it = {s[1], p[1] + 4, 5, QWEN3_LOGITS_ALL, re};
    CHECK(qwen3_forward(m, &it, 1, &e) == 0, "forward after truncate", "%s", e.msg);
    d = maxdiff(re, sep[1] + (size_t)4 * V, (size_t)5 * V);
    snprintf(label, sizeof label, "%s: recompute after truncate == original (maxdiff %.2g)", name, d);
    CHECK(d <= 1e-4f, label, "maxdiff %g", d);
    CHECK(qwen3_seq_truncate(s[1], 99, &e) != 0 && strstr(e.msg, "99"), "truncate past the end is refused", "%s", e.msg);
    /* bad input */
    int32_t bad[2] = {3, V + 5};
    it = (qwen3_batch_item){s[2], bad, 2, QWEN3_LOGITS_LAST, re};
    int len0 = qwen3_seq_len(s[2]);
    CHECK(qwen3_forward(m, &it, 1, &e) != 0 && strstr(e.msg, "position 1"), "id outside the vocabulary names its position", "%s", e.msg);
    CHECK(qwen3_seq_len(s[2]) == len0, "a failed pass leaves the sequence unchanged", "len %d", qwen3_seq_len(s[2]));
    items[0] = (qwen3_batch_item){s[0], nxt, 1, QWEN3_LOGITS_NONE, NULL};
    items[1] = (qwen3_batch_item){s[0], nxt, 1, QWEN3_LOGITS_NONE, NULL};
    CHECK(qwen3_forward(m, items, 2, &e) != 0 && strstr(e.msg, "share"), "one sequence twice in a batch is refused", "%s", e.msg);
    qwen3_seq *small = qwen3_seq_new(m, 4, &e);
    it = (qwen3_batch_item){small, p[1], 9, QWEN3_LOGITS_LAST, re};
    CHECK(qwen3_forward(m, &it, 1, &e) != 0 && strstr(e.msg, "context"), "a prompt longer than the context is refused", "%s", e.msg);
    qwen3_seq_free(small);
    for (int i = 0; i < 3; i++) { qwen3_seq_free(s[i]); free(sep[i]); free(bat[i]); }
    free(dec_b); free(dec_s); free(re);
}

int main(void) {
    TEST_EXPECT(28);
    qwen3_model *m = make_model("batch-dense", "--preset tiny --dtype f32 --vocab 512");
    if (m) { run_case("dense", m); qwen3_model_free(m); }
    m = make_model("batch-moe", "--preset tiny-moe --dtype bf16 --vocab 512");
    if (m) { run_case("moe", m); qwen3_model_free(m); }
    return test_exit();
}
