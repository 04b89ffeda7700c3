/* cmd_logits.c - `qwen3 logits MODEL`: the logits of every position of one prompt (or of several
 * sequences computed together), as raw float32, for the reference comparisons (tests/ref), the MPI
 * equality tests and anyone checking the engine against another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { MAX_SEQS = 16 };

typedef struct logits_opts {
    cli_model_opts o;
    const char *dir, *prompt, *outp;
    const char *ids_s[MAX_SEQS]; /* --ids, once per sequence */
    int n_ids;
    int decode; /* through the KV cache in several passes instead of one prompt pass */
} logits_opts;

static void usage(void) {
    printf("usage: qwen3 logits MODEL (--ids 9707,11,1879 | --prompt TEXT) -o FILE [--decode] [flags]\n\n"
           "Runs the ids as one prompt and writes the logits of every position as little-endian\n"
           "float32, n_ids x vocab_size, row by row.\n\n"
           "  --ids LIST        comma-separated token ids; given several times (at most %d), the\n"
           "                    sequences are computed together, each forward pass over all of them\n"
           "                    (as the server batches requests), and their rows written one sequence\n"
           "                    after the other\n"
           "  --prompt TEXT     text, tokenized with MODEL's tokenizer (special tokens recognised)\n"
           "  -o FILE           output file ('-' for stdout)\n"
           "  --decode          compute the same through the KV cache one token at a time; with\n"
           "                    several sequences the k-th gives k tokens to each pass, so a pass\n"
           "                    mixes one-token steps with short prompt chunks\n%s",
           MAX_SEQS, CLI_MODEL_FLAGS_EXACT);
}

/* 0: parsed; 1: --help printed; 2: a bad flag (message printed). */
static int parse(int argc, char **argv, logits_opts *lo) {
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { usage(); return 1; }
        int r = cli_model_flag(argc, argv, &i, &lo->o);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--ids")) {
            if (lo->n_ids == MAX_SEQS) return cli_fail("logits: --ids given more than %d times", MAX_SEQS), 2;
            lo->ids_s[lo->n_ids++] = i + 1 < argc ? argv[++i] : "";
        }
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
    if (!lo->n_ids == !lo->prompt) return cli_fail("logits: give the prompt as --ids LIST or --prompt TEXT (one of them)"), 2;
    if (!lo->outp) return cli_fail("logits: -o FILE is required"), 2;
    return 0;
}

/* The sequences' logits, sequence after sequence in out (seq k's row t at row off[k] + t): every
 * sequence in one pass, or (decode) in passes where sequence k (from 0) gives k + 1 tokens each, its
 * logits of every one of them (a one-token item asks for LAST, as a decode step does). 0, or -1
 * (message printed). */
static int compute(qwen3_model *m, qwen3_seq **s, int32_t **ids, const int *n, const size_t *off, int n_seq,
                   int decode, float *out) {
    qwen3_err e = {0};
    const size_t V = (size_t)qwen3_model_config(m)->vocab_size;
    qwen3_batch_item it[MAX_SEQS];
    if (!decode) {
        for (int k = 0; k < n_seq; k++) it[k] = (qwen3_batch_item){s[k], ids[k], n[k], QWEN3_LOGITS_ALL, out + off[k] * V};
        if (qwen3_forward(m, it, n_seq, &e)) return cli_fail("%s", e.msg), -1;
        return 0;
    }
    for (int pass = 0;; pass++) {
        int n_it = 0;
        for (int k = 0; k < n_seq; k++) {
            int t0 = pass * (k + 1), c = n[k] - t0 < k + 1 ? n[k] - t0 : k + 1;
            if (c <= 0) continue;
            it[n_it++] = (qwen3_batch_item){s[k], ids[k] + t0, c, c == 1 ? QWEN3_LOGITS_LAST : QWEN3_LOGITS_ALL,
                                            out + (off[k] + (size_t)t0) * V};
        }
        if (!n_it) return 0;
        if (qwen3_forward(m, it, n_it, &e)) return cli_fail("%s", e.msg), -1;
    }
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
    const int n_seq = lo.prompt ? 1 : lo.n_ids;
    int32_t *ids[MAX_SEQS] = {0};
    int n[MAX_SEQS];
    size_t off[MAX_SEQS], rows = 0;
    qwen3_seq *s[MAX_SEQS] = {0};
    for (int k = 0; k < n_seq; k++) {
        if (lo.prompt ? cli_prompt_ids(dir, lo.prompt, &ids[k], &n[k]) : cli_ids("--ids", lo.ids_s[k], &ids[k], &n[k])) {
            for (int j = 0; j < k; j++) free(ids[j]);
            return 2;
        }
        off[k] = rows;
        rows += (size_t)n[k];
    }
    int rc = 1;
    float *out = NULL;
    qwen3_model *m = cli_load_model(dir, &lo.o);
    if (!m) goto done;
    size_t V = (size_t)qwen3_model_config(m)->vocab_size;
    qwen3_err e = {0};
    if (!(out = malloc(sizeof(float) * rows * V))) { cli_fail("out of memory for %zu x %zu logits", rows, V); goto done; }
    for (int k = 0; k < n_seq; k++) {
        if (!(s[k] = qwen3_seq_new(m, lo.o.ctx, &e))) { cli_fail("%s", e.msg); goto done; }
        cli_warn_positions(m, n[k]);
    }
    if (compute(m, s, ids, n, off, n_seq, lo.decode, out) == 0 && write_floats(lo.outp, out, rows * V) == 0) rc = 0;
done:
    for (int k = 0; k < n_seq; k++) {
        qwen3_seq_free(s[k]);
        free(ids[k]);
    }
    free(out);
    qwen3_model_free(m);
    return rc;
}
