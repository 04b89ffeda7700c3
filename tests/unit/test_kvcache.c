/* test_kvcache.c - the KV cache holds memory for the positions written, not for its capacity.
 *
 * A generated checkpoint (2 layers, 2 KV heads of head_dim 128, F16 cache on the fast path: 2 KiB
 * per position) with a capacity of 131,072 positions (256 MiB if it were all committed): after a
 * 1,024-token prefill the cache's resident memory, counted two independent ways (mincore over its
 * mapping, qwen3_seq_resident_bytes; and the process's RssAnon from /proc/self/status), must be the
 * 1,024 positions' 2 MiB plus at most a page per head region (and, for RssAnon, 16 MiB of
 * slack for the pass's own buffers), never the 256 MiB; cutting it back to 16 positions must give
 * the pages back, unless qwen3_seq_keep_memory asked to keep them. A capacity that cannot fit in this machine's memory (the same model with YaRN
 * factor 1024 through qwen3_load_opts: 134 million positions, 256 GiB) is refused up front, with
 * the size it needs. Injections tried: committing the whole mapping at creation (MAP_POPULATE)
 * fails kv-rss-*; not calling madvise on truncation fails kv-release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qwen3.h"
#include "test.h"

static long rss_anon_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "RssAnon:", 8)) v = strtol(line + 8, NULL, 10);
    fclose(f);
    return v;
}

int main(void) {
    TEST_EXPECT(7);
    const char *tmp = getenv("QWEN3_TMP") ? getenv("QWEN3_TMP") : "build/testdata";
    char dir[512], cmd[2048];
    snprintf(dir, sizeof dir, "%s/kvcache-d128", tmp);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tools/gen_checkpoint.py -q --no-tokenizer --preset tiny --head-dim 128 --max-pos 131072 "
             "--seed 5 %s", dir);
    if (system(cmd) != 0) { printf("FAIL kv-gen: %s\n", cmd); return 1; }
    qwen3_err e = {0};
    qwen3_load_opts o = {.n_threads = 2, .fast = 1};
    qwen3_model *m = qwen3_model_load(dir, &o, &e);
    if (!m) { printf("FAIL kv-load: %s\n", e.msg); return 1; }
    const qwen3_config *c = qwen3_model_config(m);
    const size_t per_pos = qwen3_kv_cache_bytes(m, 1, QWEN3_KV_DEFAULT), regions = (size_t)c->num_layers * c->num_kv_heads * 2;
    const int cap = 131072, fill = 1024;
    long rss0 = rss_anon_kib();
    qwen3_seq *s = qwen3_seq_new(m, cap, &e);
    if (!s) { printf("FAIL kv-seq: %s\n", e.msg); return 1; }
    int32_t *ids = malloc(sizeof(int32_t) * fill);
    for (int i = 0; i < fill; i++) ids[i] = (i * 7919 + 11) % c->vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)c->vocab_size);
    qwen3_batch_item it = {s, ids, fill, QWEN3_LOGITS_LAST, logits};
    if (qwen3_forward(m, &it, 1, &e)) { printf("FAIL kv-forward: %s\n", e.msg); return 1; }
    size_t res = qwen3_seq_resident_bytes(s), want = per_pos * fill, slack = regions * 4096;
    long rss1 = rss_anon_kib();
    double full = (double)per_pos * cap;
    char name[160];
    snprintf(name, sizeof name, "kv-rss-mincore (%.2f MiB resident after %d of %d positions; all: %.0f MiB)",
             res / 1048576.0, fill, cap, (double)per_pos * cap / 1048576.0);
    CHECK(res >= want && res <= want + slack, name,
          "%d of %d positions written: %.2f MiB resident (mincore), %.2f MiB written, %.0f MiB if all committed", fill,
          cap, res / 1048576.0, want / 1048576.0, full / 1048576.0);
    snprintf(name, sizeof name, "kv-rss-process (RssAnon +%.2f MiB)", (rss1 - rss0) / 1024.0);
    CHECK(rss0 >= 0 && rss1 >= 0 && (double)(rss1 - rss0) * 1024 <= (double)(want + slack) + 16.0 * 1048576, name,
          "RssAnon grew by %.2f MiB over the cache's creation and a %d-token prefill (cache written: %.2f MiB, full "
          "capacity %.0f MiB)", (rss1 - rss0) / 1024.0, fill, want / 1048576.0, full / 1048576.0);
    int cut = qwen3_seq_truncate(s, 16, &e);
    snprintf(name, sizeof name, "kv-release (%.3f MiB resident after the cut to 16)", qwen3_seq_resident_bytes(s) / 1048576.0);
    CHECK(cut == 0 && qwen3_seq_resident_bytes(s) <= per_pos * 16 + slack, name,
          "after cutting back to 16 positions: %.3f MiB resident (16 positions: %.3f MiB)",
          qwen3_seq_resident_bytes(s) / 1048576.0, per_pos * 16 / 1048576.0);
    /* refilled after the release: the same logits as before (the zeroed pages are written again) */
    float *again = malloc(sizeof(float) * (size_t)c->vocab_size);
    qwen3_batch_item rest = {s, ids + 16, fill - 16, QWEN3_LOGITS_LAST, again};
    CHECK(qwen3_forward(m, &rest, 1, &e) == 0 && !memcmp(logits, again, sizeof(float) * (size_t)c->vocab_size),
          "kv-refill", "prefill after the cut gives the first prefill's logits bit for bit");
    /* qwen3_seq_keep_memory: the same cut keeps the pages (the benchmark's warm cache), and the refill
     * still gives the same logits */
    qwen3_seq_keep_memory(s, 1);
    cut = qwen3_seq_truncate(s, 16, &e);
    size_t kept = qwen3_seq_resident_bytes(s);
    CHECK(cut == 0 && kept >= want && qwen3_forward(m, &rest, 1, &e) == 0 &&
              !memcmp(logits, again, sizeof(float) * (size_t)c->vocab_size),
          "kv-keep-memory", "with keep_memory a cut to 16 positions left %.2f MiB resident (want >= %.2f) and the refill "
          "must give the same logits", kept / 1048576.0, want / 1048576.0);
    qwen3_seq_free(s);
    qwen3_model_free(m);
    /* too large for this machine: refused, with the size */
    o.yarn_factor = 1024;
    m = qwen3_model_load(dir, &o, &e);
    if (!m) { printf("FAIL kv-load-yarn: %s\n", e.msg); return 1; }
    CHECK(qwen3_model_max_ctx(m) == 131072 * 1024, "kv-yarn-override", "max context %d", qwen3_model_max_ctx(m));
    s = qwen3_seq_new(m, 0, &e);
    CHECK(!s && strstr(e.msg, "GiB") && strstr(e.msg, "--ctx"), "kv-too-large", "%s", s ? "accepted" : e.msg);
    qwen3_seq_free(s);
    qwen3_model_free(m);
    free(ids); free(logits); free(again);
    return test_exit();
}
