/* cmd_info.c - `qwen3 info MODEL`: what a model directory holds (architecture, shapes, weight
 * types, parameters, memory) and the KV cache a context needs for each cache type. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct info_opts {
    cli_model_opts o;
    const char *dir;
    int rope; /* --rope: also RoPE's inverse frequencies */
} info_opts;

static void usage(void) {
    printf("usage: qwen3 info MODEL [--ctx N] [flags]\n\nDescribes a model directory: architecture, shapes, weight types,\n"
           "parameter counts (total and active per token), memory, and the KV cache of a context of\n"
           "--ctx N tokens (default: the model's maximum) for each cache type.\n\n"
           "  --rope            also print RoPE's inverse frequencies and attention factor\n%s", CLI_MODEL_FLAGS_EXACT);
}

/* 0: parsed; 1: --help printed; 2: a bad flag (message printed). */
static int parse(int argc, char **argv, info_opts *io) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rope")) { io->rope = 1; continue; }
        if (cli_is_help(argv[i])) { usage(); return 1; }
        int r = cli_model_flag(argc, argv, &i, &io->o);
        if (r < 0) return 2;
        if (r) continue;
        if (argv[i][0] == '-') return cli_fail("info: unknown flag '%s' (see qwen3 info --help)", argv[i]), 2;
        if (io->dir) return cli_fail("info: more than one MODEL given"), 2;
        io->dir = argv[i];
    }
    if (!io->dir) return cli_fail("info: MODEL directory missing (see qwen3 info --help)"), 2;
    return 0;
}

/* The cache a context of ctx tokens needs, per type: reserved as address space, committed as it fills. */
static void print_kv(const qwen3_model *m, long ctx) {
    const struct { qwen3_kv_type t; const char *name; } kv[] = {
        {QWEN3_KV_F32, "F32"}, {QWEN3_KV_F16, "F16"}, {QWEN3_KV_Q8_0, "Q8_0"}, {QWEN3_KV_Q4_0, "Q4_0"}};
    printf("kv cache:     %ld tokens:", ctx);
    for (int k = 0; k < 4; k++) {
        double b = (double)qwen3_kv_cache_bytes(m, ctx, kv[k].t);
        printf("%s %s %.*f %s", k ? "," : "", kv[k].name, b >= 1073741824.0 ? 2 : 1,
               b >= 1073741824.0 ? b / 1073741824.0 : b / 1048576.0, b >= 1073741824.0 ? "GiB" : "MiB");
    }
    printf(" (%.0f KiB per token in use; committed as positions are written)\n",
           (double)qwen3_kv_cache_bytes(m, 1, QWEN3_KV_DEFAULT) / 1024.0);
}

static void print_rope(const qwen3_model *m) {
    float inv[1024], att = 1;
    int half = qwen3_model_rope(m, inv, 1024, &att);
    printf("rope:         attention factor %.9g, inv_freq", att);
    for (int i = 0; i < half && i < 1024; i++) printf(" %.9g", inv[i]);
    printf("\n");
}

int cmd_info(int argc, char **argv) {
    info_opts io = {0};
    int r = parse(argc, argv, &io);
    if (r) return r == 1 ? 0 : r;
    const char *dir = cli_model_path(io.dir, QWEN3_NEED_WEIGHTS, io.o.pull);
    if (!dir) return 1;
    qwen3_model *m = cli_load_model(dir, &io.o);
    if (!m) return 1;
    char buf[4096];
    qwen3_model_describe(m, buf, sizeof buf);
    fputs(buf, stdout);
    print_kv(m, io.o.ctx > 0 ? io.o.ctx : qwen3_model_max_ctx(m));
    printf("positions:    %d trained, %d addressable%s\n", qwen3_model_trained_ctx(m), qwen3_model_max_ctx(m),
           qwen3_model_config(m)->yarn ? " (YaRN)" : qwen3_model_config(m)->dca ? " (Dual Chunk Attention)" : "");
    if (io.rope) print_rope(m);
    qwen3_model_free(m);
    return 0;
}
