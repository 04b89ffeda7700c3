/* task.c - the verifier's tasks: one question of the synthetic generator (train/synth.c) with its
 * family, level, operands and exact final answer, drawn as a pure function of (seed, family, level,
 * index) so that an evaluation set is fixed by its seed and any of its questions can be regenerated
 * alone. */
#include <string.h>

#include "base/err.h"
#include "qwen3_eval.h"
#include "train/data.h"

const char *qwen3_task_family_name(int family) {
    return family >= 0 && family < QWEN3_TASK_FAMILIES ? tsynth_family_name((tsynth_family)family) : NULL;
}

int qwen3_task_family_parse(const char *s) {
    for (int f = 0; s && f < QWEN3_TASK_FAMILIES; f++)
        if (!strcmp(s, qwen3_task_family_name(f))) return f;
    return -1;
}

/* splitmix64's finalizer: a well-mixed state from the set's coordinates */
static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int qwen3_task_make(uint64_t seed, long index, int family, int level, qwen3_task *t, qwen3_err *err) {
    if (!t) return qerr(err, "task: no task to fill");
    memset(t, 0, sizeof *t);
    if (family < 0 || family >= QWEN3_TASK_FAMILIES)
        return qerr(err, "task: family %d is out of range (0..%d: add, sub, mul, sort, count, linear)", family,
                    QWEN3_TASK_FAMILIES - 1);
    if (level < 1 || level > 5) return qerr(err, "task: level %d is out of range (1..5)", level);
    if (index < 0) return qerr(err, "task: index %ld is negative", index);
    uint64_t rng = mix(mix(seed ^ 0x5EED0F7A5C5ull) ^ ((uint64_t)family << 56 | (uint64_t)level << 48 | (uint64_t)index));
    sbuf q = {0}, sol = {0}, ans = {0};
    tsynth_ops ops = {0};
    tsynth_example_ops(&rng, (tsynth_family)family, level, &q, &sol, &ans, &ops);
    int rc = 0;
    if (q.oom || sol.oom || ans.oom || !q.s || !ans.s) rc = qerr(err, "task: out of memory");
    else if (q.len >= sizeof t->question || ans.len >= sizeof t->answer)
        rc = qerr(err, "task: %s level %d: question or answer longer than %d bytes", qwen3_task_family_name(family), level,
                  QWEN3_TASK_TEXT - 1);
    else {
        t->family = (qwen3_task_family)family;
        t->level = level;
        memcpy(t->question, q.s, q.len + 1);
        memcpy(t->answer, ans.s, ans.len + 1);
        t->n_operands = ops.n;
        for (int i = 0; i < ops.n; i++) t->operands[i] = ops.v[i];
    }
    sb_free(&q); sb_free(&sol); sb_free(&ans);
    return rc;
}

int qwen3_task_rephrase(uint64_t seed, long index, qwen3_task *t, qwen3_err *err) {
    if (!t || t->family < 0 || t->family >= QWEN3_TASK_FAMILIES) return qerr(err, "task: no task to rephrase");
    if (t->n_operands < 0 || t->n_operands > QWEN3_TASK_MAX_OPERANDS) return qerr(err, "task: %d operands", t->n_operands);
    /* a stream of its own: not the one that drew the operands */
    uint64_t rng = mix(mix(seed ^ 0x9A4A5E5ull) ^ ((uint64_t)t->family << 56 | (uint64_t)t->level << 48 | (uint64_t)index));
    tsynth_ops ops = {0};
    ops.n = t->n_operands;
    for (int i = 0; i < ops.n; i++) ops.v[i] = t->operands[i];
    sbuf canon = {0}, q = {0};
    sb_printf(&canon, "%s", t->question);
    tsynth_phrase(&rng, (tsynth_family)t->family, &ops, &canon, &q);
    int rc = 0;
    if (canon.oom || q.oom || !q.s) rc = qerr(err, "task: out of memory");
    else if (q.len >= sizeof t->question) rc = qerr(err, "task: rephrased question longer than %d bytes", QWEN3_TASK_TEXT - 1);
    else memcpy(t->question, q.s, q.len + 1);
    sb_free(&canon); sb_free(&q);
    return rc;
}
