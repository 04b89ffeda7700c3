/* score.c - the teacher's next-token distributions through the inference engine (train/rl.h).
 *
 * The teacher is an ordinary inference model (qwen3_model_load, the exact float32 path): its
 * logits over the full vocabulary at every position of a sequence that a loss reads, a chunk of
 * positions at a time so that memory stays CHUNK x vocabulary, projected onto the student's head
 * columns (distill_teacher_row). The prompt before them goes into the teacher's cache without the
 * lm_head: at 151,936 rows the head and the row's exponentials are most of the scoring's cost. */
#include <stdlib.h>
#include <string.h>

#include "train/rl.h"
#include "train/vec.h"

#define CHUNK 32

int rl_teacher_score(qwen3_model *tm, qwen3_seq *seq, const int32_t *tokens, int n, int from, int n_support,
                     const struct tvec_ops *ops, const int32_t *col2full, const unsigned char *tied_mask, const rl_vocab *v, float *lp,
                     float *mean_lp, float *negent, qwen3_err *e) {
    int V = qwen3_model_config(tm)->vocab_size;
    if (n_support > V) return qerr(e, "teacher: its vocabulary (%d) is smaller than the student's support (%d)", V, n_support);
    if (qwen3_seq_truncate(seq, 0, e)) return -1;
    if (from < 0) from = 0;
    if (from > n) from = n;
    if (from > 0) { /* the prefix: into the cache only */
        qwen3_batch_item it = {.seq = seq, .tokens = tokens, .n_tokens = from, .logits = QWEN3_LOGITS_NONE};
        if (qwen3_forward(tm, &it, 1, e)) return -1;
    }
    float *buf = malloc(sizeof(float) * (size_t)CHUNK * (size_t)V);
    if (!buf) return qerr(e, "teacher: out of memory for %d x %d logits", CHUNK, V);
    for (int s = from; s < n; s += CHUNK) {
        int k = n - s < CHUNK ? n - s : CHUNK;
        qwen3_batch_item it = {.seq = seq, .tokens = tokens + s, .n_tokens = k, .logits = QWEN3_LOGITS_ALL, .out = buf};
        if (qwen3_forward(tm, &it, 1, e)) { free(buf); return -1; }
        for (int i = 0; i < k; i++)
            distill_teacher_row(ops, buf + (size_t)i * V, n_support, col2full, tied_mask, v, lp + (size_t)(s + i) * v->nv,
                                &mean_lp[s + i], &negent[s + i]);
    }
    free(buf);
    return 0;
}

int rl_tied_mask(const qwen3_trainer *t, int n_support, unsigned char **mask, qwen3_err *e) {
    int nc;
    *mask = NULL;
    if (!qtrainer_cols(t, &nc)) return 0;
    int V = qtrainer_full_config(t)->vocab_size;
    unsigned char *m = calloc((size_t)V, 1);
    if (!m) return qerr(e, "out of memory");
    for (int id = 0; id < n_support && id < V; id++) m[id] = qtrainer_col(t, id) == nc - 1;
    *mask = m;
    return 0;
}
