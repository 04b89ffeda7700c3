/* test_dca.c - Dual Chunk Attention with several sequences in one pass, and after a cache is cut
 * back, against the same sequences run alone in one prefill. The single-sequence prefill and decode
 * are checked against the independent numpy reference in tests/suite/dca.sh; this test proves that
 * batching (prefill and decode steps at different chunk phases) and truncation change nothing.
 * The checkpoint is a tiny F32 one loaded with qwen3_load_opts.dca_chunk 48, dca_local 16 (chunks of
 * 32 positions), on the exact path (F32 cache) and the fast path (F16 cache). DCA attention is per
 * (token, head) with the same kernel whatever the batch, so the bound is 0: bit for bit.
 * Injection tried: every (token, head) of a pass reading the first batch item's cache (the batched
 * prefill and decode checks fail; the single-sequence checks of dca.sh cannot see it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"
#include "test.h"

#define NS 3
#define MAXLEN 160

static float maxdiff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

static int32_t tok(int s, int i) { return (int32_t)((i * 7919 + s * 131 + 11) % 500); }

/* one sequence's first n tokens in one prefill, logits of every position */
static int alone(qwen3_model *m, int s, int n, float *out, qwen3_err *e) {
    int32_t ids[MAXLEN];
    for (int i = 0; i < n; i++) ids[i] = tok(s, i);
    qwen3_seq *q = qwen3_seq_new(m, MAXLEN + 8, e);
    if (!q) return -1;
    qwen3_batch_item it = {q, ids, n, QWEN3_LOGITS_ALL, out};
    int rc = qwen3_forward(m, &it, 1, e);
    qwen3_seq_free(q);
    return rc;
}

static void run_case(const char *name, qwen3_model *m) {
    const int V = qwen3_model_config(m)->vocab_size;
    /* prompt lengths put the sequences in chunks 0, 2 and 4 with different phases */
    const int np[NS] = {29, 77, 140}, nd = 12;
    qwen3_err e = {0};
    char label[160];
    float *ref[NS], *bat[NS], *dec = calloc((size_t)NS * V, sizeof(float));
    qwen3_seq *s[NS];
    qwen3_batch_item items[NS];
    int32_t ids[NS][MAXLEN];
    int ok = 1;
    for (int i = 0; i < NS; i++) {
        ref[i] = calloc((size_t)MAXLEN * V, sizeof(float));
        bat[i] = calloc((size_t)MAXLEN * V, sizeof(float));
        for (int t = 0; t < MAXLEN; t++) ids[i][t] = tok(i, t);
        ok = ok && alone(m, i, np[i] + nd, ref[i], &e) == 0;
        s[i] = qwen3_seq_new(m, MAXLEN + 8, &e);
        items[i] = (qwen3_batch_item){s[i], ids[i], np[i], QWEN3_LOGITS_ALL, bat[i]};
    }
    snprintf(label, sizeof label, "%s: single-sequence prefills run", name);
    CHECK(ok, label, "%s", e.msg);
    snprintf(label, sizeof label, "%s: batched prefill runs", name);
    CHECK(qwen3_forward(m, items, NS, &e) == 0, label, "%s", e.msg);
    float d = 0;
    for (int i = 0; i < NS; i++) { float x = maxdiff(ref[i], bat[i], (size_t)np[i] * V); d = x > d ? x : d; }
    snprintf(label, sizeof label, "%s: 3 prompts over 1-5 chunks in one pass == each alone (maxdiff %.2g)", name, d);
    CHECK(d == 0, label, "maxdiff %g", d);
    /* batched decode steps: each sequence crosses its next chunk boundaries at a different step */
    d = 0;
    int dec_ok = 1;
    for (int k = 0; k < nd; k++) {
        for (int i = 0; i < NS; i++) items[i] = (qwen3_batch_item){s[i], &ids[i][np[i] + k], 1, QWEN3_LOGITS_LAST, dec + (size_t)i * V};
        dec_ok = dec_ok && qwen3_forward(m, items, NS, &e) == 0;
        for (int i = 0; i < NS; i++) {
            float x = maxdiff(dec + (size_t)i * V, ref[i] + (size_t)(np[i] + k) * V, (size_t)V);
            d = x > d ? x : d;
        }
    }
    snprintf(label, sizeof label, "%s: %d batched decode steps == the prefill's rows (maxdiff %.2g)", name, nd, d);
    CHECK(dec_ok && d == 0, label, "maxdiff %g (%s)", d, dec_ok ? "" : e.msg);
    /* truncation: sequence 2 (152 positions, chunk 4) cut back to 50 (chunk 1), then refed */
    int n2 = np[2] + nd;
    snprintf(label, sizeof label, "%s: truncate to 50", name);
    CHECK(qwen3_seq_truncate(s[2], 50, &e) == 0, label, "%s", e.msg);
    float *re = calloc((size_t)MAXLEN * V, sizeof(float));
    qwen3_batch_item it = {s[2], ids[2] + 50, n2 - 50, QWEN3_LOGITS_ALL, re};
    int rc = qwen3_forward(m, &it, 1, &e);
    d = maxdiff(re, ref[2] + (size_t)50 * V, (size_t)(n2 - 50) * V);
    snprintf(label, sizeof label, "%s: recompute after truncating across 3 chunks == original (maxdiff %.2g)", name, d);
    CHECK(rc == 0 && d == 0, label, "maxdiff %g (%s)", d, rc ? e.msg : "");
    for (int i = 0; i < NS; i++) { qwen3_seq_free(s[i]); free(ref[i]); free(bat[i]); }
    free(dec);
    free(re);
}

int main(void) {
    TEST_EXPECT(14);
    const char *tmp = getenv("QWEN3_TMP") ? getenv("QWEN3_TMP") : "build/testdata";
    char dir[512], cmd[2048];
    snprintf(dir, sizeof dir, "%s/dca-unit", tmp);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/gen_checkpoint.py -q --preset tiny --dtype f32 --vocab 512 --seed 7 %s", dir);
    if (system(cmd) != 0) { printf("FAIL dca-unit: generator failed: %s\n", cmd); return 1; }
    for (int fast = 0; fast < 2; fast++) {
        qwen3_err e = {0};
        qwen3_load_opts o = {.n_threads = 2, .fast = fast, .dca_chunk = 48, .dca_local = 16};
        qwen3_model *m = qwen3_model_load(dir, &o, &e);
        if (!m) { printf("FAIL dca-unit: load: %s\n", e.msg); return 1; }
        CHECK(qwen3_model_config(m)->dca && qwen3_model_config(m)->dca_chunk_size == 48 &&
                  qwen3_model_config(m)->dca_local_size == 16, fast ? "dca opts (fast)" : "dca opts (exact)",
              "the load options did not switch DCA on");
        run_case(fast ? "dca-fast-f16" : "dca-exact-f32", m);
        qwen3_model_free(m);
    }
    return test_exit();
}
