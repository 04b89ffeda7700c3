/* cmd_logits.c - `qwen3 logits MODEL`: the logits of every position of one prompt, as raw float32,
 * for the reference comparisons (tests/ref) and anyone checking the engine against another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct logits_opts {
    cli_model_opts o;
    const char *dir, *ids_s, *prompt, *outp;
    int decode; /* one token per pass through the KV cache instead of one prompt pass */
} logits_opts;

static void usage(void) {
    printf("usage: qwen3 logits MODEL (--ids 9707,11,1879 | --prompt TEXT) -o FILE [--decode] [flags]\n\n"
           "Runs the ids as one prompt and writes the logits of every position as little-endian\n"
           "float32, n_ids x vocab_size, row by row.\n\n"
           "  --ids LIST        comma-separated token ids\n"
           "  --prompt TEXT     text, tokenized with MODEL's tokenizer (special tokens recognised)\n"
           "  -o FILE           output file ('-' for stdout)\n"
           "  --decode          compute the same through the KV cache one token at a time\n%s", CLI_MODEL_FLAGS_EXACT);
}

/* 0: parsed; 1: --help printed; 2: a bad flag (message printed). */
static int parse(int argc, char **argv, logits_opts *lo) {
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { usage(); return 1; }
        int r = cli_model_flag(argc, argv, &i, &lo->o);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--ids")) lo->ids_s = i + 1 < argc ? argv[++i] : "";
        else if (!strcmp(argv[i], "--prompt")) {
            if (!(lo->prompt = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("--prompt needs a value"), 2;
        }
        else if (!strcmp(argv[i], "-o")) lo->outp = i + 1 < argc ? argv[++i] : NULL;
        else if (!strcmp(argv[i], "--decode")) lo->decode = 1;
        else if (argv[i][0] == '-') return cli_fail("logits: unknown flag '%s' (see qwen3 logits --help)", argv[i]), 2;
        else if (lo->dir) return cli_fail("logits: more than one MODEL given"), 2;
        else lo->dir = argv[i];
    }
    if (!lo->dir) return cli_fail("logits: MODEL directory missing"), 2;
    if (!lo->ids_s == !lo->prompt) return cli_fail("logits: give the prompt as --ids LIST or --prompt TEXT (one of them)"), 2;
    if (!lo->outp) return cli_fail("logits: -o FILE is required"), 2;
    return 0;
}

/* out[n, vocab]: the prompt in one pass, or (decode) one token per pass. 0, or -1 (message printed). */
static int compute(qwen3_model *m, qwen3_seq *s, const int32_t *ids, int n, int decode, float *out) {
    qwen3_err e = {0};
    const int V = qwen3_model_config(m)->vocab_size;
    if (!decode) {
        qwen3_batch_item it = {s, ids, n, QWEN3_LOGITS_ALL, out};
        if (qwen3_forward(m, &it, 1, &e)) return cli_fail("%s", e.msg), -1;
        return 0;
    }
    for (int t = 0; t < n; t++) {
        qwen3_batch_item it = {s, ids + t, 1, QWEN3_LOGITS_LAST, out + (size_t)t * V};
        if (qwen3_forward(m, &it, 1, &e)) return cli_fail("%s", e.msg), -1;
    }
    return 0;
}

static int write_floats(const char *path, const float *x, size_t n) {
    FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;
    if (!f) return cli_fail("%s: cannot open for writing", path), -1;
    int bad = fwrite(x, sizeof(float), n, f) != n;
    if (f != stdout) bad |= fclose(f) != 0;
    else bad |= fflush(f) != 0;
    if (bad) return cli_fail("%s: write failed", path), -1;
    return 0;
}

int cmd_logits(int argc, char **argv) {
    logits_opts lo = {0};
    int r = parse(argc, argv, &lo);
    if (r) return r == 1 ? 0 : r;
    const char *dir = cli_model_path(lo.dir, QWEN3_NEED_WEIGHTS | (lo.prompt ? QWEN3_NEED_TOKENIZER : 0), lo.o.pull);
    if (!dir) return 1;
    int32_t *ids;
    int n;
    if (lo.prompt ? cli_prompt_ids(dir, lo.prompt, &ids, &n) : cli_ids("--ids", lo.ids_s, &ids, &n)) return 2;
    qwen3_model *m = cli_load_model(dir, &lo.o);
    if (!m) { free(ids); return 1; }
    int V = qwen3_model_config(m)->vocab_size, rc = 1;
    qwen3_err e = {0};
    float *out = malloc(sizeof(float) * (size_t)n * (size_t)V);
    qwen3_seq *s = qwen3_seq_new(m, lo.o.ctx, &e);
    if (!out) cli_fail("out of memory for %d x %d logits", n, V);
    else if (!s) cli_fail("%s", e.msg);
    else {
        cli_warn_positions(m, n);
        if (compute(m, s, ids, n, lo.decode, out) == 0 && write_floats(lo.outp, out, (size_t)n * V) == 0) rc = 0;
    }
    qwen3_seq_free(s);
    free(out);
    free(ids);
    qwen3_model_free(m);
    return rc;
}
