/* cmd_model.c - the model-level commands: `info`, `logits`, `generate`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Flags shared by commands that load a model. Returns 1 if argv[*i] was one of them (consuming its
 * value), 0 if not, -1 on a bad value. */
int cli_model_flag(int argc, char **argv, int *i, cli_model_opts *o) {
    const char *a = argv[*i];
    long v;
    if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        if (cli_int(a, *i + 1 < argc ? argv[++*i] : NULL, 1, 1024, &v)) return -1;
        o->load.n_threads = (int)v;
        return 1;
    }
    if (!strcmp(a, "--ctx")) {
        if (cli_int(a, *i + 1 < argc ? argv[++*i] : NULL, 1, 1 << 28, &v)) return -1;
        o->ctx = (int)v;
        return 1;
    }
    if (!strcmp(a, "--quant")) {
        const char *s = *i + 1 < argc ? argv[++*i] : NULL;
        if (!s) return cli_fail("--quant needs a value (q8_0 or q4)"), -1;
        if (!strcmp(s, "q8_0")) o->load.quant = QWEN3_Q8_0;
        else if (!strcmp(s, "q4")) o->load.quant = QWEN3_Q4;
        else return cli_fail("--quant: unknown type '%s' (q8_0 or q4)", s), -1;
        return 1;
    }
    return 0;
}

qwen3_model *cli_load_model(const char *dir, const cli_model_opts *o) {
    qwen3_err e = {0};
    qwen3_model *m = qwen3_model_load(dir, &o->load, &e);
    if (!m) cli_fail("%s", e.msg);
    return m;
}

static const char *MODEL_FLAGS =
    "  -t, --threads N   worker threads (default: physical cores)\n"
    "  --ctx N           context length in tokens (default: the model's maximum)\n"
    "  --quant TYPE      quantize weights at load time: q8_0 or q4\n";

int cmd_info(int argc, char **argv) {
    cli_model_opts o = {0};
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: qwen3 info MODEL [flags]\n\nDescribes a model directory: architecture, shapes, weight types,\n"
                   "parameter counts (total and active per token), memory.\n\n%s", MODEL_FLAGS);
            return 0;
        }
        int r = cli_model_flag(argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r) continue;
        if (argv[i][0] == '-' ) return cli_fail("info: unknown flag '%s' (see qwen3 info --help)", argv[i]), 2;
        if (dir) return cli_fail("info: more than one MODEL given"), 2;
        dir = argv[i];
    }
    if (!dir) return cli_fail("info: MODEL directory missing (see qwen3 info --help)"), 2;
    qwen3_model *m = cli_load_model(dir, &o);
    if (!m) return 1;
    char buf[4096];
    qwen3_model_describe(m, buf, sizeof buf);
    fputs(buf, stdout);
    qwen3_model_free(m);
    return 0;
}

int cmd_logits(int argc, char **argv) {
    cli_model_opts o = {0};
    const char *dir = NULL, *ids_s = NULL, *outp = NULL;
    int decode = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: qwen3 logits MODEL --ids 9707,11,1879 -o FILE [--decode] [flags]\n\n"
                   "Runs the ids as one prompt and writes the logits of every position as little-endian\n"
                   "float32, n_ids x vocab_size, row by row.\n\n"
                   "  --ids LIST        comma-separated token ids\n"
                   "  -o FILE           output file ('-' for stdout)\n"
                   "  --decode          compute the same through the KV cache one token at a time\n%s", MODEL_FLAGS);
            return 0;
        }
        int r = cli_model_flag(argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--ids")) ids_s = i + 1 < argc ? argv[++i] : "";
        else if (!strcmp(argv[i], "-o")) outp = i + 1 < argc ? argv[++i] : NULL;
        else if (!strcmp(argv[i], "--decode")) decode = 1;
        else if (argv[i][0] == '-') return cli_fail("logits: unknown flag '%s' (see qwen3 logits --help)", argv[i]), 2;
        else if (dir) return cli_fail("logits: more than one MODEL given"), 2;
        else dir = argv[i];
    }
    if (!dir) return cli_fail("logits: MODEL directory missing"), 2;
    if (!ids_s) return cli_fail("logits: --ids is required"), 2;
    if (!outp) return cli_fail("logits: -o FILE is required"), 2;
    int32_t *ids;
    int n;
    if (cli_ids("--ids", ids_s, &ids, &n)) return 2;
    qwen3_model *m = cli_load_model(dir, &o);
    if (!m) { free(ids); return 1; }
    int V = qwen3_model_config(m)->vocab_size, rc = 1;
    qwen3_err e = {0};
    float *out = malloc(sizeof(float) * (size_t)n * (size_t)V);
    qwen3_seq *s = qwen3_seq_new(m, o.ctx, &e);
    FILE *f = NULL;
    if (!out) { cli_fail("out of memory for %d x %d logits", n, V); goto done; }
    if (!s) { cli_fail("%s", e.msg); goto done; }
    if (!decode) {
        qwen3_batch_item it = {s, ids, n, QWEN3_LOGITS_ALL, out};
        if (qwen3_forward(m, &it, 1, &e)) { cli_fail("%s", e.msg); goto done; }
    } else {
        for (int t = 0; t < n; t++) {
            qwen3_batch_item it = {s, ids + t, 1, QWEN3_LOGITS_LAST, out + (size_t)t * V};
            if (qwen3_forward(m, &it, 1, &e)) { cli_fail("%s", e.msg); goto done; }
        }
    }
    f = strcmp(outp, "-") ? fopen(outp, "wb") : stdout;
    if (!f) { cli_fail("%s: cannot open for writing", outp); goto done; }
    if (fwrite(out, sizeof(float), (size_t)n * V, f) != (size_t)n * V) { cli_fail("%s: write failed", outp); goto done; }
    rc = 0;
done:
    if (f && f != stdout && fclose(f) != 0 && rc == 0) rc = cli_fail("%s: write failed", outp);
    qwen3_seq_free(s);
    free(out);
    free(ids);
    qwen3_model_free(m);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    cli_model_opts o = {0};
    const char *dir = NULL, *ids_s = NULL;
    long n_new = 16;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: qwen3 generate MODEL --ids LIST [-n N] [flags]\n\n"
                   "Greedy continuation of the prompt; prints the new ids separated by spaces.\n\n"
                   "  --ids LIST        comma-separated prompt token ids\n"
                   "  -n N              tokens to generate (default 16)\n%s", MODEL_FLAGS);
            return 0;
        }
        int r = cli_model_flag(argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--ids")) ids_s = i + 1 < argc ? argv[++i] : "";
        else if (!strcmp(argv[i], "-n")) { if (cli_int("-n", i + 1 < argc ? argv[++i] : NULL, 0, 1 << 28, &n_new)) return 2; }
        else if (argv[i][0] == '-') return cli_fail("generate: unknown flag '%s' (see qwen3 generate --help)", argv[i]), 2;
        else if (dir) return cli_fail("generate: more than one MODEL given"), 2;
        else dir = argv[i];
    }
    if (!dir) return cli_fail("generate: MODEL directory missing"), 2;
    if (!ids_s) return cli_fail("generate: --ids is required"), 2;
    int32_t *ids;
    int n;
    if (cli_ids("--ids", ids_s, &ids, &n)) return 2;
    qwen3_model *m = cli_load_model(dir, &o);
    if (!m) { free(ids); return 1; }
    int V = qwen3_model_config(m)->vocab_size, rc = 1;
    qwen3_err e = {0};
    float *logits = malloc(sizeof(float) * (size_t)V);
    qwen3_seq *s = qwen3_seq_new(m, o.ctx, &e);
    if (!logits) { cli_fail("out of memory"); goto done; }
    if (!s) { cli_fail("%s", e.msg); goto done; }
    qwen3_batch_item it = {s, ids, n, QWEN3_LOGITS_LAST, logits};
    for (long k = 0; k < n_new; k++) {
        if (qwen3_forward(m, &it, 1, &e)) { cli_fail("%s", e.msg); goto done; }
        int32_t best = 0;
        for (int v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
        printf("%s%d", k ? " " : "", best);
        fflush(stdout);
        ids[0] = best;
        it.tokens = ids;
        it.n_tokens = 1;
    }
    printf("\n");
    rc = 0;
done:
    qwen3_seq_free(s);
    free(logits);
    free(ids);
    qwen3_model_free(m);
    return rc;
}
