/* cmd_train.c - `qwen3 train` (pre-training), `qwen3 train-grads` (one batch's gradients, for the
 * reference checks) and `qwen3 synth` (the synthetic task generator as JSONL). Thin over
 * include/qwen3_train.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "qwen3_eval.h"
#include "qwen3_train.h"

static const char TRAIN_USAGE[] =
    "usage: qwen3 train --config small|moe-small|FILE.json --steps N --out DIR [flags]\n"
    "       qwen3 train --mode grpo|distill --init DIR ...   post-training (qwen3 train --mode grpo --help)\n"
    "  --init DIR            start from a Hugging Face checkpoint's config and weights instead\n"
    "  --resume DIR          continue the run saved in DIR/checkpoint (same flags as the original run)\n"
    "  --data FILE.jsonl     {\"text\"} or {\"messages\"} lines (default: the synthetic tasks)\n"
    "  --ids FILE            a token id stream instead of text\n"
    "  --weights FILE        with --ids: a loss weight per token (the weight of predicting it; checks)\n"
    "  --mode pretrain|sft   pretrain (default): loss on every token; sft: loss only on the assistant\n"
    "                        replies of --data's {\"messages\"} conversations (after the last user turn:\n"
    "                        think block, answer and <|im_end|>), as per-token loss weights 0/1\n"
    "  --synth N             synthetic examples to generate (default 20000)\n"
    "  --tokenizer DIR       tokenizer files (default ../shared/qwen3-tokenizer or $QWEN3_TOKENIZER)\n"
    "  --batch B --seq T     micro-batch of B sequences of T tokens (default 8 x 256)\n"
    "  --accum M             micro-batches per optimiser step (gradient accumulation, default 1)\n"
    "  --lr X --min-lr-frac F --warmup N --wd X --clip X --beta2 X --eps X   AdamW and schedule\n"
    "  --lbl micro|global|none --lbl-alpha A   MoE load-balancing loss (default none, 0.01)\n"
    "  --seed S  -t N        seed (default 1); threads (default: physical cores)\n"
    "  --dense-head          every vocabulary row in the head (default: one shared row for unseen tokens)\n"
    "  --ckpt-minutes M      checkpoint every M minutes (default 10; 0: only at the end)\n"
    "  --ckpt-steps N        also checkpoint every N steps\n"
    "  --stop-after K        stop after step K (checkpoint and export as at the end; --resume continues)\n"
    "  --f32                 export F32 weights (default BF16)\n"
    "  --eval N              after training: loss per task family on N held-out examples each (levels 1-3),\n"
    "                        MoE routing per family; DIR/eval.json\n"
    "  the run writes DIR/loss.jsonl (a line per step) and DIR/loss.png (the loss curve, log scale, with\n"
    "  its moving average), redrawn at every checkpoint and at the end; qwen3 train --plot DIR redraws it\n";

typedef struct {
    qwen3_train_opts o;
    const char *out;
    double ckpt_minutes;
    long ckpt_steps, stop_after, eval_n;
    int f32;
} train_args;

static const char *default_tokenizer(void) {
    const char *e = getenv("QWEN3_TOKENIZER");
    if (e && *e) return e;
    struct stat st;
    static const char *cands[] = {"../shared/qwen3-tokenizer", "/work/shared/qwen3-tokenizer"};
    for (int i = 0; i < 2; i++)
        if (!stat(cands[i], &st) && S_ISDIR(st.st_mode)) return cands[i];
    return NULL;
}

/* 1 parsed (value consumed), 0 not a training flag, -1 bad value */
static int train_flag(int argc, char **argv, int *i, train_args *a) {
    const char *f = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long n;
    double d;
    qwen3_train_opts *o = &a->o;
#define VAL (++*i, v)
    if (!strcmp(f, "--config")) { if (!v) return cli_fail("--config needs a value"), -1; o->config = VAL; return 1; }
    if (!strcmp(f, "--init")) { if (!v) return cli_fail("--init needs a directory"), -1; o->init_dir = VAL; return 1; }
    if (!strcmp(f, "--resume")) { if (!v) return cli_fail("--resume needs a directory"), -1; o->resume_dir = VAL; return 1; }
    if (!strcmp(f, "--data")) { if (!v) return cli_fail("--data needs a file"), -1; o->data = VAL; return 1; }
    if (!strcmp(f, "--ids")) { if (!v) return cli_fail("--ids needs a file"), -1; o->ids_file = VAL; return 1; }
    if (!strcmp(f, "--weights")) { if (!v) return cli_fail("--weights needs a file"), -1; o->weights_file = VAL; return 1; }
    if (!strcmp(f, "--mode")) {
        if (!v) return cli_fail("--mode needs pretrain or sft"), -1;
        if (!strcmp(v, "sft")) o->sft = 1;
        else if (!strcmp(v, "pretrain")) o->sft = 0;
        else return cli_fail("--mode: expected pretrain or sft, got '%s'", v), -1;
        ++*i;
        return 1;
    }
    if (!strcmp(f, "--tokenizer")) { if (!v) return cli_fail("--tokenizer needs a directory"), -1; o->tokenizer_dir = VAL; return 1; }
    if (!strcmp(f, "--out")) { if (!v) return cli_fail("--out needs a directory"), -1; a->out = VAL; return 1; }
    if (!strcmp(f, "--steps")) { if (cli_int(f, v, 1, 100000000, &n)) return -1; o->steps = n; ++*i; return 1; }
    if (!strcmp(f, "--synth")) { if (cli_int(f, v, 1, 100000000, &n)) return -1; o->synth_examples = n; ++*i; return 1; }
    if (!strcmp(f, "--batch")) { if (cli_int(f, v, 1, 65536, &n)) return -1; o->batch = (int)n; ++*i; return 1; }
    if (!strcmp(f, "--seq")) { if (cli_int(f, v, 1, 65536, &n)) return -1; o->seq_len = (int)n; ++*i; return 1; }
    if (!strcmp(f, "--accum")) { if (cli_int(f, v, 1, 65536, &n)) return -1; o->accum = (int)n; ++*i; return 1; }
    if (!strcmp(f, "--warmup")) { if (cli_int(f, v, 0, 100000000, &n)) return -1; o->warmup = (int)n; ++*i; return 1; }
    if (!strcmp(f, "--seed")) { if (cli_int(f, v, 0, 0x7fffffff, &n)) return -1; o->seed = (uint64_t)n; ++*i; return 1; }
    if (!strcmp(f, "-t") || !strcmp(f, "--threads")) { if (cli_int(f, v, 1, 1024, &n)) return -1; o->threads = (int)n; ++*i; return 1; }
    if (!strcmp(f, "--lr")) { if (cli_float(f, v, 0, 10, &d)) return -1; o->lr = d; ++*i; return 1; }
    if (!strcmp(f, "--min-lr-frac")) { if (cli_float(f, v, 0, 1, &d)) return -1; o->min_lr_frac = d; ++*i; return 1; }
    if (!strcmp(f, "--wd")) { if (cli_float(f, v, 0, 10, &d)) return -1; o->weight_decay = d; ++*i; return 1; }
    if (!strcmp(f, "--clip")) { if (cli_float(f, v, 0, 1e9, &d)) return -1; o->clip = d; ++*i; return 1; }
    if (!strcmp(f, "--eps")) { if (cli_float(f, v, 0, 1, &d)) return -1; o->eps = d; ++*i; return 1; }
    if (!strcmp(f, "--beta2")) { if (cli_float(f, v, 0, 0.999999, &d)) return -1; o->beta2 = d; ++*i; return 1; }
    if (!strcmp(f, "--lbl-alpha")) { if (cli_float(f, v, 0, 100, &d)) return -1; o->lbl_alpha = d; ++*i; return 1; }
    if (!strcmp(f, "--ckpt-minutes")) { if (cli_float(f, v, 0, 1e6, &d)) return -1; a->ckpt_minutes = d; ++*i; return 1; }
    if (!strcmp(f, "--ckpt-steps")) { if (cli_int(f, v, 1, 100000000, &n)) return -1; a->ckpt_steps = n; ++*i; return 1; }
    if (!strcmp(f, "--eval")) { if (cli_int(f, v, 1, 1000000, &n)) return -1; a->eval_n = n; ++*i; return 1; }
    if (!strcmp(f, "--stop-after")) { if (cli_int(f, v, 0, 100000000, &n)) return -1; a->stop_after = n; ++*i; return 1; }
    if (!strcmp(f, "--lbl")) {
        if (!v) return cli_fail("--lbl needs micro, global or none"), -1;
        if (!strcmp(v, "micro")) o->lbl = QWEN3_LBL_MICRO;
        else if (!strcmp(v, "global")) o->lbl = QWEN3_LBL_GLOBAL;
        else if (!strcmp(v, "none")) o->lbl = QWEN3_LBL_NONE;
        else return cli_fail("--lbl: expected micro, global or none, got '%s'", v), -1;
        ++*i;
        return 1;
    }
    if (!strcmp(f, "--dense-head")) { o->dense_head = 1; return 1; }
    if (!strcmp(f, "--f32")) { a->f32 = 1; return 1; }
#undef VAL
    return 0;
}

static int parse(int argc, char **argv, train_args *a, const char *usage) {
    memset(a, 0, sizeof *a);
    qwen3_train_opts_default(&a->o);
    a->ckpt_minutes = 10;
    a->stop_after = -1;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { fputs(usage, stdout); return 1; }
        int r = train_flag(argc, argv, &i, a);
        if (r < 0) return -1;
        if (r == 0) return cli_fail("%s: unknown flag '%s' (qwen3 %s --help)", argv[0], argv[i], argv[0]), -1;
    }
    if (!a->o.tokenizer_dir) a->o.tokenizer_dir = default_tokenizer();
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* DIR/loss.png from DIR/loss.jsonl: the loss of every step and its moving average over about 2% of
 * the run (centred). A resumed run re-logs the steps after its last checkpoint; a step that is not after the
 * one before it drops the entries it repeats, so the curve has each step once (the last time). */
#define LOSS_FAIL(...) (snprintf(e->msg, sizeof e->msg, __VA_ARGS__), e->code = -1)
static int draw_loss(const char *dir, qwen3_err *e) {
    char p[4096], png[4096];
    snprintf(p, sizeof p, "%s/loss.jsonl", dir);
    snprintf(png, sizeof png, "%s/loss.png", dir);
    FILE *f = fopen(p, "r");
    if (!f) return LOSS_FAIL("%.900s: cannot open (%s)", p, strerror(errno));
    int n = 0, cap = 1024, rc = 0;
    double *x = malloc(sizeof(double) * (size_t)cap), *y = malloc(sizeof(double) * (size_t)cap), *m = NULL;
    char line[1024];
    while (x && y && fgets(line, sizeof line, f)) {
        const char *ps = strstr(line, "\"step\":"), *pl = strstr(line, "\"loss\":");
        if (!ps || !pl) continue;
        double step = atof(ps + 7), loss = atof(pl + 7);
        while (n > 0 && x[n - 1] >= step) n--;
        if (n == cap) {
            cap *= 2;
            double *nx = realloc(x, sizeof(double) * (size_t)cap), *ny = nx ? realloc(y, sizeof(double) * (size_t)cap) : NULL;
            if (nx) x = nx;
            if (ny) y = ny;
            if (!nx || !ny) { free(x); free(y); x = y = NULL; break; }
        }
        x[n] = step;
        y[n++] = loss;
    }
    fclose(f);
    if (!x || !y || !(m = malloc(sizeof(double) * (size_t)(n ? n : 1)))) rc = LOSS_FAIL("loss plot: out of memory");
    else if (n == 0) rc = LOSS_FAIL("%.900s: no step logged yet", p);
    else {
        int h = n / 100; /* a centred mean over 2h + 1 steps (fewer at the ends) */
        double sum = 0;
        int lo = 0, hi = 0; /* the window [lo, hi) */
        for (int i = 0; i < n; i++) {
            for (; hi < n && hi <= i + h; hi++) sum += y[hi];
            for (; lo < i - h; lo++) sum -= y[lo];
            m[i] = sum / (hi - lo);
        }
        char avg[64];
        snprintf(avg, sizeof avg, "mean over %d steps", 2 * h + 1);
        const double *ys[2] = {y, m};
        const char *names[2] = {"loss per step", avg};
        rc = qwen3_plot_xy_png(png, "training loss", "step", "loss (log scale)", x, ys, n, names, 2, 1, e);
    }
    free(x);
    free(y);
    free(m);
    return rc;
}

/* One step's line: a summary on stderr (eta: seconds left), the whole record in DIR/loss.jsonl. */
static void log_step(FILE *log, qwen3_trainer *t, const train_args *a, const qwen3_train_stats *st, double eta) {
    double tps = st->tokens / st->seconds;
    fprintf(stderr, "step %5ld/%ld  loss %.4f", st->step, a->o.steps, st->loss);
    if (a->o.lbl != QWEN3_LBL_NONE || st->load_max > 0) fprintf(stderr, "  lbl %.4f  load max/mean %.2f", st->lbl, st->load_max);
    fprintf(stderr, "  lr %.2e  |g| %.3f  %.0f tok/s  %.1f GFLOP/s  ETA %.0fs\n", st->lr, st->grad_norm, tps,
            st->flops / st->seconds / 1e9, eta);
    fprintf(log, "{\"step\":%ld,\"loss\":%.6f,\"lbl\":%.6f,\"lr\":%.6e,\"grad_norm\":%.6f,\"tokens\":%.0f,\"tok_s\":%.1f,\"gflops\":%.2f",
            st->step, st->loss, st->lbl, st->lr, st->grad_norm, st->tokens, tps, st->flops / st->seconds / 1e9);
    if (st->load_max > 0) {
        int nl;
        const float *ld = qwen3_trainer_load(t, &nl);
        fprintf(log, ",\"load_max_mean\":[");
        for (int l = 0; l < nl; l++) fprintf(log, "%s%.3f", l ? "," : "", ld[l]);
        fprintf(log, "]");
    }
    fprintf(log, "}\n");
    fflush(log);
}

/* --eval N: the trained model on N synthetic questions, into DIR/eval.json. 0, or 1 (message printed). */
static int write_eval(qwen3_trainer *t, const train_args *a) {
    qwen3_err e = {0};
    char ep[4096];
    snprintf(ep, sizeof ep, "%s/eval.json", a->out);
    FILE *ef = fopen(ep, "w");
    if (!ef) return cli_fail("%s: cannot create (%s)", ep, strerror(errno));
    int rc = 0;
    if (qwen3_trainer_eval(t, a->eval_n, 1, 3, ef, stderr, &e)) rc = cli_fail("%s", e.msg);
    if (fclose(ef) && !rc) rc = cli_fail("%s: write failed", ep);
    return rc;
}

int cmd_train(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--mode") && (!strcmp(argv[i + 1], "grpo") || !strcmp(argv[i + 1], "distill")))
            return cmd_train_post(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "--plot")) {
        qwen3_err e = {0};
        if (draw_loss(argv[2], &e)) return cli_fail("%s", e.msg), 1;
        printf("%s/loss.png\n", argv[2]);
        return 0;
    }
    train_args a;
    int r = parse(argc, argv, &a, TRAIN_USAGE);
    if (r) return r > 0 ? 0 : 2;
    if (!a.out) return cli_fail("train: --out DIR is required");
    if (mkdir(a.out, 0755) && errno != EEXIST) return cli_fail("%s: cannot create directory (%s)", a.out, strerror(errno));
    qwen3_err e = {0};
    qwen3_trainer *t = qwen3_trainer_new(&a.o, &e);
    if (!t) return cli_fail("%s", e.msg);
    char desc[1024];
    qwen3_trainer_describe(t, desc, sizeof desc);
    fputs(desc, stderr);
    char logp[4096];
    snprintf(logp, sizeof logp, "%s/loss.jsonl", a.out);
    FILE *log = fopen(logp, a.o.resume_dir ? "a" : "w");
    if (!log) { qwen3_trainer_free(t); return cli_fail("%s: cannot open (%s)", logp, strerror(errno)); }
    double start = now_s(), last_ckpt = start, tok_total = 0, sec_total = 0;
    long first = qwen3_trainer_steps_done(t);
    int rc = 0;
    while (qwen3_trainer_steps_done(t) < a.o.steps && (a.stop_after < 0 || qwen3_trainer_steps_done(t) < a.stop_after)) {
        qwen3_train_stats st;
        if (qwen3_trainer_step(t, &st, &e)) { rc = cli_fail("%s", e.msg); break; }
        tok_total += st.tokens;
        sec_total += st.seconds;
        log_step(log, t, &a, &st, (a.o.steps - st.step) * sec_total / (double)(st.step - first));
        if ((a.ckpt_minutes > 0 && now_s() - last_ckpt >= a.ckpt_minutes * 60) || (a.ckpt_steps > 0 && st.step % a.ckpt_steps == 0)) {
            if (qwen3_trainer_checkpoint(t, a.out, &e)) { rc = cli_fail("%s", e.msg); break; }
            last_ckpt = now_s();
            fprintf(stderr, "checkpoint: %s/checkpoint/state.bin (step %ld)\n", a.out, st.step);
            fflush(log);
            if (draw_loss(a.out, &e)) fprintf(stderr, "warning: %s (the loss plot is redrawn at the end)\n", e.msg);
        }
    }
    fclose(log);
    if (!rc && qwen3_trainer_steps_done(t) > 0 && draw_loss(a.out, &e)) rc = cli_fail("%s", e.msg);
    if (!rc && qwen3_trainer_checkpoint(t, a.out, &e)) rc = cli_fail("%s", e.msg);
    if (!rc && qwen3_trainer_export(t, a.out, a.f32, &e)) rc = cli_fail("%s", e.msg);
    if (!rc && a.eval_n > 0) rc = write_eval(t, &a);
    if (!rc)
        fprintf(stderr, "done: %ld steps, %.0f tokens in %.1fs; model in %s (qwen3 run %s \"...\")\n", qwen3_trainer_steps_done(t),
                tok_total, now_s() - start, a.out, a.out);
    qwen3_trainer_free(t);
    return rc;
}

static const char GRADS_USAGE[] =
    "usage: qwen3 train-grads --init DIR --ids FILE --batch B --seq T [--accum M] [--lbl ...] [--lbl-alpha A]\n"
    "                         [--grads OUT.safetensors] [--logits OUT.f32] [--steps N --lr X ... --losses]\n"
    "  the gradients of the first global batch (F32, Hugging Face names) and the first micro-batch's logits;\n"
    "  with --losses, the loss of each of --steps AdamW steps, one per line (for the reference checks).\n"
    "  --stream FILE: the training stream, 'id weight' per token (full vocabulary ids; checks of the SFT mask).\n"
    "  --loss grpo|kl-fwd|kl-rev --tokfile FILE [--teacher DIR] [--clip-eps E] [--beta B] [--known N]:\n"
    "  a post-training loss instead (FILE: 'target weight logp_old adv ref_logp' per position; N: ids the\n"
    "  tokenizer knows, the policy's support).\n";

int cmd_train_grads(int argc, char **argv) {
    train_args a;
    const char *grads = NULL, *logits = NULL, *stream = NULL;
    int losses = 0, shared = 0;
    qwen3_rl_check rl = {0};
    rl.clip_eps = 0.2;
    /* our own flags first, the shared ones through parse() */
    char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (!rest) return cli_fail("out of memory");
    int nr = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--grads") && i + 1 < argc) grads = argv[++i];
        else if (!strcmp(argv[i], "--logits") && i + 1 < argc) logits = argv[++i];
        else if (!strcmp(argv[i], "--stream") && i + 1 < argc) stream = argv[++i];
        else if (!strcmp(argv[i], "--losses")) losses = 1;
        else if (!strcmp(argv[i], "--shared-head")) shared = 1;
        else if (!strcmp(argv[i], "--loss") && i + 1 < argc) {
            const char *l = argv[++i];
            rl.loss = !strcmp(l, "grpo") ? QWEN3_RL_GRPO : !strcmp(l, "kl-fwd") ? QWEN3_RL_KL_FWD : !strcmp(l, "kl-rev") ? QWEN3_RL_KL_REV : -1;
            if (rl.loss < 0) { free(rest); return cli_fail("--loss: expected grpo, kl-fwd or kl-rev, got '%s'", l), 2; }
        } else if (!strcmp(argv[i], "--tokfile") && i + 1 < argc) rl.tokfile = argv[++i];
        else if (!strcmp(argv[i], "--teacher") && i + 1 < argc) rl.teacher_dir = argv[++i];
        else if (!strcmp(argv[i], "--clip-eps") && i + 1 < argc) rl.clip_eps = atof(argv[++i]);
        else if (!strcmp(argv[i], "--beta") && i + 1 < argc) rl.beta = atof(argv[++i]);
        else if (!strcmp(argv[i], "--known") && i + 1 < argc) rl.n_known = atoi(argv[++i]);
        else rest[nr++] = argv[i];
    }
    int r = parse(nr, rest, &a, GRADS_USAGE);
    free(rest);
    if (r) return r > 0 ? 0 : 2;
    if (!shared) a.o.dense_head = 1;
    qwen3_err e = {0};
    qwen3_trainer *t = qwen3_trainer_new(&a.o, &e);
    if (!t) return cli_fail("%s", e.msg);
    int rc = 0;
    if (stream) {
        FILE *f = fopen(stream, "w");
        if (!f) rc = cli_fail("%s: cannot create (%s)", stream, strerror(errno));
        else {
            if (qwen3_trainer_dump_stream(t, f, &e)) rc = cli_fail("%s", e.msg);
            if (fclose(f) && !rc) rc = cli_fail("%s: write failed", stream);
        }
    } else if (rl.loss) {
        double loss;
        if (!rl.tokfile) rc = cli_fail("train-grads: --loss needs --tokfile FILE");
        else if (qwen3_trainer_rl_grads(t, &rl, grads, &loss, &e)) rc = cli_fail("%s", e.msg);
        else printf("%.9g\n", loss);
    } else if (losses) {
        for (long s = 0; s < a.o.steps && !rc; s++) {
            qwen3_train_stats st;
            if (qwen3_trainer_step(t, &st, &e)) rc = cli_fail("%s", e.msg);
            else printf("%.9g %.9g\n", st.loss, st.lbl);
        }
    } else {
        double loss;
        if (qwen3_trainer_grads(t, grads, logits, &loss, &e)) rc = cli_fail("%s", e.msg);
        else printf("%.9g\n", loss);
    }
    qwen3_trainer_free(t);
    return rc;
}

int cmd_synth(int argc, char **argv) {
    long n = 100, lo = 1, hi = 3, seed = 1, fmt = 0;
    const char *families = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(f)) {
            puts("usage: qwen3 synth [-n N] [--levels LO-HI] [--seed S] [--format text|chat|chat-nothink|chat-mixed|fusion]\n"
                 "                   [--families add,sub,mul:1,sort,count,linear]\n"
                 "  synthetic tasks with worked solutions as JSONL (levels 1-3 train, 4-5 are the held-out harder ones);\n"
                 "  fusion: the thinking-mode fusion SFT mix (varied phrasings; thinking, /think, /no_think, two turns);\n"
                 "  --families (fusion): the families to draw, ':L' caps a family's level");
            return 0;
        }
        if (!strcmp(f, "-n")) { if (cli_int(f, v, 1, 100000000, &n)) return 2; i++; }
        else if (!strcmp(f, "--seed")) { if (cli_int(f, v, 0, 0x7fffffff, &seed)) return 2; i++; }
        else if (!strcmp(f, "--levels")) {
            if (!v || sscanf(v, "%ld-%ld", &lo, &hi) != 2) return cli_fail("--levels: expected LO-HI such as 1-3"), 2;
            i++;
        } else if (!strcmp(f, "--format")) {
            if (!v) return cli_fail("--format needs a value"), 2;
            if (!strcmp(v, "text")) fmt = 0;
            else if (!strcmp(v, "chat")) fmt = 1;
            else if (!strcmp(v, "chat-nothink")) fmt = 2;
            else if (!strcmp(v, "chat-mixed")) fmt = 3;
            else if (!strcmp(v, "fusion")) fmt = 4;
            else return cli_fail("--format: expected text, chat, chat-nothink, chat-mixed or fusion, got '%s'", v), 2;
            i++;
        } else if (!strcmp(f, "--families")) {
            if (!v) return cli_fail("--families needs a list such as add,sub,mul:1"), 2;
            families = v;
            i++;
        } else return cli_fail("synth: unknown flag '%s'", f), 2;
    }
    qwen3_err e = {0};
    if (families && fmt != 4) return cli_fail("synth: --families goes with --format fusion"), 2;
    if (fmt == 4 ? qwen3_synth_fusion(stdout, (uint64_t)seed, n, (int)lo, (int)hi, families, &e)
                 : qwen3_synth_write(stdout, (uint64_t)seed, n, (int)lo, (int)hi, (int)fmt, &e))
        return cli_fail("%s", e.msg);
    return 0;
}

int cmd_pack(int argc, char **argv) {
    if (argc == 2 && cli_is_help(argv[1])) {
        puts("usage: qwen3 pack HF_DIR OUT_DIR\n"
             "  the compact form of a model `qwen3 train` exported: the embedding rows it trained plus one shared\n"
             "  row for the rest (config.json, model.safetensors, rows.json); qwen3 unpack restores the full model");
        return 0;
    }
    if (argc != 3) return cli_fail("usage: qwen3 pack HF_DIR OUT_DIR"), 2;
    qwen3_err e = {0};
    int n = qwen3_model_pack(argv[1], argv[2], &e);
    if (n < 0) return cli_fail("pack: %s", e.msg);
    fprintf(stderr, "%s: %d trained vocabulary rows + 1 shared row\n", argv[2], n);
    return 0;
}

int cmd_unpack(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *tok = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            puts("usage: qwen3 unpack COMPACT_DIR OUT_DIR [--tokenizer DIR]\n"
                 "  a directory written by qwen3 pack -> an ordinary Hugging Face directory with the full vocabulary\n"
                 "  (config.json, model.safetensors, generation_config.json, the tokenizer files of DIR)");
            return 0;
        }
        if (!strcmp(argv[i], "--tokenizer")) {
            if (i + 1 >= argc) return cli_fail("--tokenizer needs a directory"), 2;
            tok = argv[++i];
        } else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else return cli_fail("unpack: unexpected '%s'", argv[i]), 2;
    }
    if (!in || !out) return cli_fail("usage: qwen3 unpack COMPACT_DIR OUT_DIR [--tokenizer DIR]"), 2;
    if (!tok) tok = default_tokenizer();
    qwen3_err e = {0};
    if (qwen3_model_unpack(in, out, tok, &e)) return cli_fail("unpack: %s", e.msg);
    return 0;
}
