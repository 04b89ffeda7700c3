/* cmd_post.c - `qwen3 train --mode grpo` and `qwen3 train --mode distill [--on-policy]`: the
 * post-training modes (qwen3_post_* in include/qwen3_train.h), one rollout batch per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "qwen3_train.h"

static const char POST_USAGE[] =
    "usage: qwen3 train --mode grpo|distill --init DIR --out DIR --batches N [flags]\n"
    "  --mode grpo            GRPO on synthetic tasks with the verifier's reward\n"
    "  --mode distill --teacher DIR   off-policy: the teacher answers (both modes), wrong answers are\n"
    "                         dropped, the student learns the teacher's full next-token distribution\n"
    "    --on-policy          the student samples, the teacher scores every position (reverse KL)\n"
    "    --keep-wrong         off-policy: train on the teacher's wrong answers too\n"
    "  --batches N            rollout batches (each: --queries x --group completions, --inner-steps steps)\n"
    "  --group G              completions per query (GRPO default 8, distillation 1)\n"
    "  --queries Q            queries per rollout batch (default 8)\n"
    "  --inner-steps K        optimiser steps per rollout batch (GRPO default 2, distillation 1)\n"
    "  --max-tokens N         completion tokens at most (default 256)\n"
    "  --pool N               query-verifier pairs (default 3995)\n"
    "  --no-select            GRPO: take the queries as they come (default: keep those the start model\n"
    "                         passes strictly between 0 and G of G times)\n"
    "  --select-max N         GRPO: candidate queries tried for the pool (default 4 x pool); the\n"
    "                         selection's progress is saved in DIR/pool.partial after every chunk\n"
    "  --levels LO-HI         task levels (default 1-3)\n"
    "  --families LIST        task families in turn, e.g. add,sub,mul:1,sort,count (NAME:L caps that\n"
    "                         family's level at L; default all six: add,sub,mul,sort,count,linear)\n"
    "  --phrasing generator|varied   the questions in the generator's form (default) or in the\n"
    "                         varied phrasings of the fusion data (as qwen3 eval --phrasing varied)\n"
    "  --think 0|1|2          prompts: 1 thinking, 0 /no_think, 2 both in turn (GRPO 1, distillation 2)\n"
    "  --clip-eps E --beta B  GRPO: clip range (0.2), KL coefficient to the start model (0)\n"
    "  --temperature T --top-p P --top-k K   sampling (default: Qwen's per mode, thinking 0.6/0.95/20)\n"
    "  --batch B              sequences per micro-batch (default 8)\n"
    "  --lr X (1e-4) --warmup N (0) --min-lr-frac F (1) --wd X (0) --clip X (1) --beta2 X --eps X\n"
    "  --seed S  -t N  --tokenizer DIR  --f32\n"
    "  --resume DIR           continue the run in DIR (same flags); checkpoints after every batch\n"
    "  --stop-after K         stop after rollout batch K (checkpoint and export; --resume continues)\n"
    "Logs DIR/post.jsonl: per batch reward, all-equal-group fraction, entropy, think length, clip\n"
    "fraction, KL, loss, and the largest |rollout logp - trainer logp| on the same weights.\n";

static int flag_val(int argc, char **argv, int *i, const char **v) {
    if (*i + 1 >= argc) return cli_fail("%s needs a value", argv[*i]), -1;
    *v = argv[++*i];
    return 0;
}

/* What `qwen3 train --mode grpo|distill` was asked: the trainer's and the post-training options, how
 * many rollout batches, and the export's format. */
typedef struct post_cli {
    qwen3_train_opts to;
    qwen3_post_opts po;
    long batches, stop_after; /* stop_after < 0: run all batches */
    int f32;
    const char *teacher;
} post_cli;

/* argv -> o. 0: parsed; 1: --help printed; 2: a bad flag or value (message printed). */
static int parse(int argc, char **argv, post_cli *o) {
    qwen3_train_opts_default(&o->to);
    o->to.lr = 1e-4; o->to.warmup = 0; o->to.min_lr_frac = 1; o->to.weight_decay = 0;
    int mode = 0, on_policy = 0;
    o->batches = 0;
    o->stop_after = -1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--mode") && i + 1 < argc) mode = !strcmp(argv[i + 1], "grpo") ? QWEN3_POST_GRPO : QWEN3_POST_DISTILL;
    for (int i = 1; i < argc; i++) if (!strcmp(argv[i], "--on-policy")) on_policy = 1;
    if (mode == QWEN3_POST_DISTILL && on_policy) mode = QWEN3_POST_DISTILL_ON;
    qwen3_post_opts_default(&o->po, mode);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        long n;
        double d;
        if (cli_is_help(f)) { fputs(POST_USAGE, stdout); return 1; }
#define INT(lo, hi, dst) do { if (cli_int(f, i + 1 < argc ? argv[i + 1] : NULL, lo, hi, &n)) return 2; dst = n; i++; } while (0)
#define FLT(lo, hi, dst) do { if (cli_float(f, i + 1 < argc ? argv[i + 1] : NULL, lo, hi, &d)) return 2; dst = d; i++; } while (0)
        if (!strcmp(f, "--mode")) i++;
        else if (!strcmp(f, "--on-policy")) {}
        else if (!strcmp(f, "--keep-wrong")) o->po.keep_wrong = 1;
        else if (!strcmp(f, "--no-select")) o->po.select = 0;
        else if (!strcmp(f, "--families")) { if (flag_val(argc, argv, &i, &v)) return 2; o->po.families = v; }
        else if (!strcmp(f, "--phrasing")) {
            if (flag_val(argc, argv, &i, &v)) return 2;
            if (!strcmp(v, "varied")) o->po.varied = 1;
            else if (!strcmp(v, "generator")) o->po.varied = 0;
            else return cli_fail("--phrasing: expected generator or varied, got '%s'", v), 2;
        }
        else if (!strcmp(f, "--f32")) o->f32 = 1;
        else if (!strcmp(f, "--init")) { if (flag_val(argc, argv, &i, &v)) return 2; o->to.init_dir = v; }
        else if (!strcmp(f, "--out")) { if (flag_val(argc, argv, &i, &v)) return 2; o->po.out_dir = v; }
        else if (!strcmp(f, "--resume")) { if (flag_val(argc, argv, &i, &v)) return 2; o->to.resume_dir = v; }
        else if (!strcmp(f, "--teacher")) { if (flag_val(argc, argv, &i, &v)) return 2; o->teacher = v; }
        else if (!strcmp(f, "--tokenizer")) { if (flag_val(argc, argv, &i, &v)) return 2; o->to.tokenizer_dir = v; }
        else if (!strcmp(f, "--batches")) INT(1, 100000000, o->batches);
        else if (!strcmp(f, "--stop-after")) INT(0, 100000000, o->stop_after);
        else if (!strcmp(f, "--group")) INT(1, 4096, o->po.group);
        else if (!strcmp(f, "--queries")) INT(1, 65536, o->po.queries);
        else if (!strcmp(f, "--inner-steps")) INT(1, 1000, o->po.inner_steps);
        else if (!strcmp(f, "--max-tokens")) INT(1, 1 << 20, o->po.max_tokens);
        else if (!strcmp(f, "--pool")) INT(1, 100000000, o->po.pool);
        else if (!strcmp(f, "--select-max")) INT(1, 100000000, o->po.select_max);
        else if (!strcmp(f, "--think")) INT(0, 2, o->po.think);
        else if (!strcmp(f, "--top-k")) INT(0, 1 << 20, o->po.sampling.top_k);
        else if (!strcmp(f, "--batch")) INT(1, 65536, o->to.batch);
        else if (!strcmp(f, "--warmup")) INT(0, 100000000, o->to.warmup);
        else if (!strcmp(f, "--seed")) { INT(0, 0x7fffffff, o->po.seed); o->to.seed = o->po.seed; }
        else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) INT(1, 1024, o->to.threads);
        else if (!strcmp(f, "--clip-eps")) FLT(0, 10, o->po.clip_eps);
        else if (!strcmp(f, "--beta")) FLT(0, 1e6, o->po.beta);
        else if (!strcmp(f, "--temperature")) FLT(0, 100, o->po.sampling.temperature);
        else if (!strcmp(f, "--top-p")) FLT(0, 1, o->po.sampling.top_p);
        else if (!strcmp(f, "--lr")) FLT(0, 10, o->to.lr);
        else if (!strcmp(f, "--min-lr-frac")) FLT(0, 1, o->to.min_lr_frac);
        else if (!strcmp(f, "--wd")) FLT(0, 10, o->to.weight_decay);
        else if (!strcmp(f, "--clip")) FLT(0, 1e9, o->to.clip);
        else if (!strcmp(f, "--beta2")) FLT(0, 0.999999, o->to.beta2);
        else if (!strcmp(f, "--eps")) FLT(0, 1, o->to.eps);
        else if (!strcmp(f, "--levels")) {
            int lo, hi;
            if (flag_val(argc, argv, &i, &v)) return 2;
            if (sscanf(v, "%d-%d", &lo, &hi) != 2) return cli_fail("--levels: expected LO-HI such as 1-3, got '%s'", v), 2;
            o->po.levels_lo = lo; o->po.levels_hi = hi;
        } else return cli_fail("train: unknown flag '%s' for --mode grpo/distill (qwen3 train --mode grpo --help)", f), 2;
#undef INT
#undef FLT
    }
    if (o->po.sampling.temperature > 0) {
        if (o->po.sampling.top_p <= 0) o->po.sampling.top_p = 1;
        o->po.sampling.repetition_penalty = 1;
    }
    if (!o->po.out_dir) return cli_fail("train: --out DIR is required"), 2;
    if (o->batches < 1) return cli_fail("train: --batches N (rollout batches) is required"), 2;
    o->po.teacher_dir = o->teacher;
    o->to.steps = o->batches * o->po.inner_steps;
    return 0;
}

/* One line per rollout batch: a summary on stderr, the whole record in DIR/post.jsonl. */
static void log_batch(FILE *log, const qwen3_post_stats *st, long batches) {
    fprintf(stderr, "batch %ld/%ld  reward %.3f  all-equal %.2f  entropy %.3f  think %.1f  len %.1f  clip %.3f  kl %.4f  loss %.5f  |dlogp| %.2g  seqs %d  rollout %.1fs  train %.1fs\n",
            st->batch, batches, st->reward, st->all_equal, st->entropy, st->think_len, st->completion_len, st->clip_frac, st->kl,
            st->loss, st->logp_maxdiff, st->sequences, st->rollout_seconds, st->train_seconds);
    fprintf(log, "{\"batch\":%ld,\"step\":%ld,\"reward\":%.6f,\"all_equal\":%.6f,\"entropy\":%.6f,\"think_len\":%.3f,"
                 "\"completion_len\":%.3f,\"clip_frac\":%.6f,\"kl\":%.6g,\"loss\":%.6g,\"logp_maxdiff\":%.3g,\"sequences\":%d,"
                 "\"lr\":%.6g,\"grad_norm\":%.6g,\"rollout_s\":%.2f,\"train_s\":%.2f}\n",
            st->batch, st->step, st->reward, st->all_equal, st->entropy, st->think_len, st->completion_len, st->clip_frac, st->kl,
            st->loss, st->logp_maxdiff, st->sequences, st->lr, st->grad_norm, st->rollout_seconds, st->train_seconds);
    fflush(log);
}

/* The run: rollout batches with a checkpoint after each, then the export. 0, or 1 (message printed). */
static int run_post(post_cli *o) {
    const qwen3_post_opts *po = &o->po;
    if (mkdir(po->out_dir, 0755) && errno != EEXIST) return cli_fail("%s: cannot create directory (%s)", po->out_dir, strerror(errno));
    qwen3_err e = {0};
    qwen3_post *p = qwen3_post_new(&o->to, po, stderr, &e);
    if (!p) return cli_fail("%s", e.msg);
    char logp[4096];
    snprintf(logp, sizeof logp, "%s/post.jsonl", po->out_dir);
    FILE *log = fopen(logp, o->to.resume_dir ? "a" : "w");
    if (!log) { qwen3_post_free(p); return cli_fail("%s: cannot open (%s)", logp, strerror(errno)); }
    int rc = 0;
    qwen3_trainer *t = qwen3_post_trainer(p);
    while (qwen3_post_batches_done(p) < o->batches && (o->stop_after < 0 || qwen3_post_batches_done(p) < o->stop_after)) {
        qwen3_post_stats st;
        if (qwen3_post_batch(p, &st, &e)) { rc = cli_fail("%s", e.msg); break; }
        log_batch(log, &st, o->batches);
        if (qwen3_trainer_checkpoint(t, po->out_dir, &e)) { rc = cli_fail("%s", e.msg); break; }
    }
    fclose(log);
    if (!rc && qwen3_trainer_checkpoint(t, po->out_dir, &e)) rc = cli_fail("%s", e.msg);
    if (!rc && qwen3_trainer_export(t, po->out_dir, o->f32, &e)) rc = cli_fail("%s", e.msg);
    if (!rc) fprintf(stderr, "done: %ld rollout batches; model in %s\n", qwen3_post_batches_done(p), po->out_dir);
    qwen3_post_free(p);
    return rc;
}

int cmd_train_post(int argc, char **argv) {
    post_cli o;
    memset(&o, 0, sizeof o);
    int r = parse(argc, argv, &o);
    if (r) return r == 1 ? 0 : r;
    return run_post(&o);
}
