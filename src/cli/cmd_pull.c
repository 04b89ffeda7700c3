/* cmd_pull.c - `qwen3 pull NAME`: download a model from the Hugging Face hub into its cache, with a
 * progress bar per file on a terminal; and cli_model_path, the one place where every command turns
 * MODEL into a checked local path (pulling it first when asked to with --pull). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct bar {
    int tty;
    char file[256];
    double t0, last;
    uint64_t done, total, start;
} bar;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void human(double b, char *out, size_t n) {
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4) b /= 1000, i++;
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void draw(bar *b, int final) {
    char d[32], t[32], sp[32];
    human((double)b->done, d, sizeof d);
    human((double)b->total, t, sizeof t);
    double el = now() - b->t0;
    human(el > 0 ? (double)(b->done - b->start) / el : 0, sp, sizeof sp);
    if (!b->tty) {
        if (final) fprintf(stderr, "%s  %s\n", b->file, d);
        return;
    }
    int w = 30, fill = b->total ? (int)((double)b->done / (double)b->total * w) : 0;
    char bars[64];
    for (int i = 0; i < w; i++) bars[i] = i < fill ? '#' : '.';
    bars[w] = 0;
    int pct = b->total ? (int)(100.0 * (double)b->done / (double)b->total) : 0;
    fprintf(stderr, "\r\033[K%-32.32s [%s] %3d%% %s/%s %s/s", b->file, bars, pct, d, t, sp);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

static void on_progress(void *ud, const char *file, uint64_t done, uint64_t total) {
    bar *b = ud;
    if (strncmp(b->file, file, sizeof b->file - 1)) { /* a new file */
        snprintf(b->file, sizeof b->file, "%s", file);
        b->t0 = b->last = now();
        b->start = done;
    }
    b->done = done;
    b->total = total;
    if (total && done == total) { draw(b, 1); b->file[0] = 0; return; }
    double t = now();
    if (b->tty && t - b->last > 0.1) { draw(b, 0); b->last = t; }
}

static void on_note(void *ud, const char *msg) {
    bar *b = ud;
    if (b->tty) fputs("\r\033[K", stderr);
    fprintf(stderr, "qwen3 pull: %s\n", msg);
}

int cli_pull(const char *name, char *path, size_t n) {
    bar b = {.tty = isatty(STDERR_FILENO)};
    qwen3_pull_opts o = {on_progress, on_note, &b};
    qwen3_err e = {0};
    if (qwen3_pull(name, &o, path, n, &e)) {
        if (b.tty && b.file[0]) fputc('\n', stderr);
        return cli_fail("pull %s: %s", name, e.msg), -1;
    }
    return 0;
}

const char *cli_model_path(const char *model, int need, int pull) {
    static char bufs[4][4096];
    static int next;
    char *buf = bufs[next++ % 4];
    qwen3_err e = {0};
    if (qwen3_model_resolve(model, need, buf, sizeof bufs[0], &e) == 0) return buf;
    if (pull && qwen3_model_is_hub_name(model)) {
        if (cli_pull(model, buf, sizeof bufs[0])) return NULL;
        if (qwen3_model_resolve(model, need, buf, sizeof bufs[0], &e) == 0) return buf;
    }
    cli_fail("%s", e.msg);
    return NULL;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: qwen3 pull NAME\n\n"
            "Downloads a model from the Hugging Face hub into its cache (shared with transformers and\n"
            "huggingface-cli), then prints the local path. Run it again to resume an interrupted pull;\n"
            "files already there are not downloaded again. Any command then takes NAME as MODEL.\n\n"
            "NAME:\n"
            "  ORG/NAME[@REVISION]      a safetensors checkpoint: config, tokenizer files, index, shards\n"
            "                           (REVISION: a branch, tag or commit; default main)\n"
            "  ORG/NAME-GGUF:TAG        the one GGUF file (or split set) of a quant tag, e.g.\n"
            "                           Qwen/Qwen3-8B-GGUF:Q4_K_M; hf.co/ORG/NAME:TAG (Ollama's form) too\n\n"
            "environment:\n"
            "  HF_TOKEN                 access token for gated or private repos (Authorization: Bearer)\n"
            "  HF_HUB_CACHE, HF_HOME    where the cache is (default ~/.cache/huggingface/hub)\n"
            "  HF_ENDPOINT              a mirror of huggingface.co\n"
            "  HF_HUB_OFFLINE=1         no network: only report what is in the cache\n"
            "  QWEN3_HUB_RETRIES        attempts per request (default 5), with back-off from\n"
            "  QWEN3_HUB_BACKOFF_MS     (default 1000, doubling, at most 30 s)\n"
            "  QWEN3_HUB_TIMEOUT        seconds without a byte before a transfer is retried (default 30)\n");
}

int cmd_pull(int argc, char **argv) {
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { usage(stdout); return 0; }
        if (argv[i][0] == '-') { usage(stderr); return cli_fail("pull: unknown flag '%s'", argv[i]), 2; }
        if (name) return cli_fail("pull: one NAME at a time ('%s' and '%s')", name, argv[i]), 2;
        name = argv[i];
    }
    if (!name) { usage(stderr); return cli_fail("pull: NAME is missing, e.g. qwen3 pull Qwen/Qwen3-0.6B"), 2; }
    char path[4096];
    if (cli_pull(name, path, sizeof path)) return 1;
    printf("%s\n", path);
    return 0;
}
