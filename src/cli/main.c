/* main.c - `qwen3 COMMAND ...`: dispatch to the subcommands and the shared flag helpers. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"

static const cli_cmd commands[] = {
    /* one line per subcommand, in the order `qwen3 help` lists them */
    {"tokenize", cmd_tokenize, "text -> token ids (--show: with their pieces; --jsonl: many texts)"},
    {"detokenize", cmd_detokenize, "token ids -> text (--jsonl: many id lists)"},
    {"info", cmd_info, "describe a model: architecture, shapes, dtypes, parameters, memory"},
    {"logits", cmd_logits, "write the logits of every prompt position as float32"},
    {"generate", cmd_generate, "continue a prompt (greedy unless sampling flags are given)"},
    {"run", cmd_run, "one chat turn, streamed: qwen3 run MODEL \"question\" (thinking, budget, sampling, --json)"},
    {"chat", cmd_chat, "interactive multi-turn chat (line editing, /think, /no_think, /budget, /reset)"},
    {"embed", cmd_embed, "embeddings of a Qwen3-Embedding model (last-token pooling, normalised)"},
    {"render", cmd_render, "chat requests (JSON) -> prompt text in the Qwen3 chat format"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server (chat, completions, streaming, batching)"},
    {"quantize", cmd_quantize, "write a Q8_0 or Q4 copy of a model that loads by mmap"},
    {"bench", cmd_bench, "prefill and decode tokens/s against the machine's measured limits"},
    {"perplexity", cmd_perplexity, "perplexity over a text; with --kl-base, KL and top-1 against another model"},
    {"train", cmd_train, "pre-train a Qwen3 / Qwen3-MoE model from scratch (AdamW, checkpoints, HF export)"},
    {"train-grads", cmd_train_grads, "one batch's gradients / a few steps' losses (for the reference checks)"},
    {"eval", cmd_eval, "accuracy on the synthetic tasks: pass@1/pass@k/maj@k, thinking budget curve (PNG), paired comparisons"},
    {"synth", cmd_synth, "synthetic tasks with worked solutions as JSONL (text or Qwen3 chats)"},
    {"pack", cmd_pack, "the compact form of a trained model (its trained vocabulary rows + one shared row)"},
    {"unpack", cmd_unpack, "a compact model -> an ordinary Hugging Face directory (full vocabulary)"},
    {"pull", cmd_pull, "download a model from the Hugging Face hub: qwen3 pull Qwen/Qwen3-0.6B (or ORG/NAME-GGUF:Q4_K_M)"},
    {"list", cmd_list, "models in the Hugging Face cache, with size and type"},
    {"rm", cmd_rm, "remove a model from the Hugging Face cache"},
    {"help", NULL, "this list"},
    {"version", NULL, "the version (also --version)"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "qwen3 - Qwen3 inference in C\n\nusage: qwen3 COMMAND [args]   (qwen3 COMMAND --help for its flags)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("qwen3: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

char *cli_read_all(FILE *f, size_t limit, size_t *len, const char **why) {
    static char big[48];
    sbuf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n > limit - b.len) {
            snprintf(big, sizeof big, "larger than %zu MiB", limit >> 20);
            *why = big;
            sb_free(&b);
            return NULL;
        }
        if (sb_put(&b, chunk, n)) break;
    }
    if (b.oom || ferror(f)) {
        *why = b.oom ? "out of memory" : "a read failed";
        sb_free(&b);
        return NULL;
    }
    char *s = sb_take(&b, len);
    if (!s) *why = "out of memory";
    return s;
}

int cli_int(const char *flag, const char *s, long lo, long hi, long *out) {
    if (!s) return cli_fail("%s needs a value", flag), -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_fail("%s: expected an integer in [%ld, %ld], got '%s'", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_float(const char *flag, const char *s, double lo, double hi, double *out) {
    if (!s) return cli_fail("%s needs a value", flag), -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        cli_fail("%s: expected a number in [%g, %g], got '%s'", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_ids(const char *flag, const char *s, int32_t **ids, int *n) {
    if (!s) return cli_fail("%s needs a value", flag), -1;
    int cap = 16, k = 0;
    int32_t *v = malloc(sizeof *v * (size_t)cap);
    if (!v) return cli_fail("out of memory"), -1;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 0 || x > INT32_MAX || (*end && *end != ',')) {
            cli_fail("%s: element %d ('%.*s') is not a non-negative integer", flag, k, (int)strcspn(p, ","), p);
            free(v);
            return -1;
        }
        if (k == cap) {
            cap *= 2;
            int32_t *nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) { free(v); return cli_fail("out of memory"), -1; }
            v = nv;
        }
        v[k++] = (int32_t)x;
        if (!*end) break;
        p = end + 1;
    }
    *ids = v;
    *n = k;
    return 0;
}

int cli_is_help(const char *a) { return !strcmp(a, "-h") || !strcmp(a, "--help"); }

/* "--flag=value" -> "--flag" "value", for every command at once, up to a "--" that ends the flags
 * (after it, text such as a question is taken as it is). A malloc'd argv, NULL-terminated. */
static char **split_flag_values(int argc, char **argv, int *out_argc) {
    char **v = malloc(sizeof *v * (2 * (size_t)argc + 1));
    if (!v) return NULL;
    int n = 0, ended = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        if (!ended && !strcmp(a, "--")) ended = 1;
        if (ended || i < 2 || strncmp(a, "--", 2) || !eq || eq == a + 2) {
            v[n++] = argv[i];
            continue;
        }
        /* the name in its own string (never freed: argv lives as long as the process) */
        char *name = strndup(a, (size_t)(eq - a));
        if (!name) { free(v); return NULL; }
        v[n++] = name;
        v[n++] = (char *)eq + 1;
    }
    v[n] = NULL;
    *out_argc = n;
    return v;
}

char **cli_args;

static int run_command(int argc, char **argv);

/* Under MPI (the qwen3-mpi binary of `make MPI=1`, started by mpirun), rank 0 runs the command and
 * the other ranks serve its models' share of the layers until it finishes (mpi/pp.h). Built
 * without MPI these calls do nothing. */
int main(int argc, char **argv) {
    qwen3_err e = {0};
    if (qwen3_mpi_init(&argc, &argv, &e)) return e.msg[0] ? cli_fail("MPI: %s", e.msg) : 1; /* empty: printed */
    if (qwen3_mpi_rank() > 0) {
        int rc = qwen3_mpi_worker(&e) ? cli_fail("MPI rank %d: %s", qwen3_mpi_rank(), e.msg) : 0;
        qwen3_mpi_finalize();
        return rc;
    }
    atexit(qwen3_mpi_finalize); /* also for a command that calls exit() */
    int rc = run_command(argc, argv);
    qwen3_mpi_finalize();
    return rc;
}

static int run_command(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "help") || cli_is_help(argv[1])) {
        usage(stdout);
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("qwen3 %s\n", qwen3_version());
        return 0;
    }
    /* cli_args keeps the split argv reachable until exit (a command may exit() with it in use);
     * it has external linkage so that the compiler cannot drop it as a write-only static. */
    if (!(cli_args = split_flag_values(argc, argv, &argc))) return cli_fail("out of memory"), 1;
    argv = cli_args;
    for (int i = 0; i < N_COMMANDS; i++)
        if (commands[i].fn && !strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "qwen3: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
