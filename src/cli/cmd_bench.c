/* cmd_bench.c - `qwen3 bench MODEL`: the flags. What is measured and how is bench_run.c's (the
 * single-run report), bench_table.c's (-r, lists, --md) and bench_profile.c's (--profile). */
#include <stdio.h>
#include <string.h>

#include "cli/bench.h"
#include "cli/cli.h"

static void usage(void) {
    printf("usage: qwen3 bench MODEL [-p 512] [-n 128] [-d 0,4096,...] [-t N] [--parallel N] [--json] [flags]\n"
           "       qwen3 bench --machine [-t N] [--json]\n\n"
           "Prefill tokens/s (-p tokens, one pass) and decode tokens/s (-n tokens from an empty cache),\n"
           "the GFLOP/s and GB/s they imply, and those as fractions of the machine's peaks, measured here\n"
           "(read bandwidth of all threads over 1 GiB, the best of 1, 2 and 4 sequential streams a thread;\n"
           "f32 FMA, bf16 and int8 dot-product peaks) or given.\n\n"
           "  -p N[,N...]       prefill tokens (default 512; 0 skips)\n"
           "  -n N[,N...]       decode tokens (default 128; 0 skips)\n"
           "  -r N              run each test N times: mean +- standard deviation of tok/s (default 1)\n"
           "  --md              a markdown table as llama-bench prints (also chosen by -r > 1 or a\n"
           "                    list in -p / -n): model, weights, threads, test (ppP / tgN @ dD), t/s;\n"
           "                    with --json, one object per test with its samples\n"
           "  -d, --depth LIST  measure prefill and decode after this many tokens are already cached\n"
           "                    (comma-separated, as llama-bench -d; default 0; --json: one object each)\n"
           "  --depth-fill HOW  how the depth is cached: prefill (default: a real prefill of random\n"
           "                    tokens, untimed, as llama-bench) or random (random K/V rows written\n"
           "                    straight into the cache: seconds instead of minutes at 16K+; the\n"
           "                    timed passes read the same bytes and do the same work either way)\n"
           "  --parallel N      also decode N sequences together (one pass per step), aggregate tok/s\n"
           "  --profile         then where the time goes: per step of a prefill and of a decode step,\n"
           "                    both after the last -d depth is cached\n"
           "  --bw GBPS, --peak-f32 G, --peak-bf16 G, --peak-int8 G   peaks instead of measuring\n"
           "  --machine         only measure and print the peaks\n"
           "  --json            one JSON object instead of the table\n"
           "%s"
           "                    (bench: a greedy generation of -n tokens without and with the draft:\n"
           "                    tokens/s of both, speed-up, acceptance rate)\n"
           "%s", CLI_DRAFT_FLAGS, CLI_MODEL_FLAGS_FAST);
}

int cmd_bench(int argc, char **argv) {
    bench_opts b = {.p = {512}, .n = {128}, .n_p = 1, .n_n = 1, .n_depths = 1, .reps = 1};
    b.o.load.fast = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage();
            return 0;
        }
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        double v;
        if (!strcmp(a, "-p")) { i++; if (bench_parse_list(a, next, 0, 1 << 20, b.p, BENCH_MAX_LIST, &b.n_p)) return 2; }
        else if (!strcmp(a, "-n")) { i++; if (bench_parse_list(a, next, 0, 1 << 20, b.n, BENCH_MAX_LIST, &b.n_n)) return 2; }
        else if (!strcmp(a, "-d") || !strcmp(a, "--depth")) {
            i++;
            if (bench_parse_list(a, next, 0, 1L << 30, b.depths, BENCH_MAX_LIST, &b.n_depths)) return 2;
        }
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) { i++; if (cli_int(a, next, 1, 1000, &b.reps)) return 2; }
        else if (!strcmp(a, "--md")) b.md = 1;
        else if (!strcmp(a, "--parallel")) { i++; if (cli_int(a, next, 1, 64, &b.par)) return 2; }
        else if (!strcmp(a, "--depth-fill")) {
            i++;
            if (next && !strcmp(next, "random")) b.fill_random = 1;
            else if (next && !strcmp(next, "prefill")) b.fill_random = 0;
            else return cli_fail("--depth-fill: '%s' is not prefill or random", next ? next : ""), 2;
        }
        else if (!strcmp(a, "--json")) b.json = 1;
        else if (!strcmp(a, "--profile")) b.profile = 1;
        else if (!strcmp(a, "--exact")) b.exact = 1;
        else if (!strcmp(a, "--machine")) b.machine_only = 1;
        else if (!strcmp(a, "--bw")) { i++; if (cli_float(a, next, 0.001, 1e6, &v)) return 2; b.pk.gbps = v; }
        else if (!strcmp(a, "--peak-f32")) { i++; if (cli_float(a, next, 0.001, 1e7, &v)) return 2; b.pk.f32 = v; }
        else if (!strcmp(a, "--peak-bf16")) { i++; if (cli_float(a, next, 0.001, 1e7, &v)) return 2; b.pk.bf16 = v; }
        else if (!strcmp(a, "--peak-int8")) { i++; if (cli_float(a, next, 0.001, 1e7, &v)) return 2; b.pk.int8 = v; }
        else {
            int r = cli_model_flag(argc, argv, &i, &b.o);
            if (r == 0) r = cli_draft_flag(argc, argv, &i, &b.dro);
            if (r < 0) return 2;
            if (r) continue;
            if (a[0] == '-') return cli_fail("bench: unknown flag '%s' (see qwen3 bench --help)", a), 2;
            if (b.dir) return cli_fail("bench: more than one MODEL given"), 2;
            b.dir = a;
        }
    }
    if (b.exact) b.o.load.fast = 0;
    int table = b.md || b.reps > 1 || b.n_p > 1 || b.n_n > 1;
    if (table && (b.par > 0 || b.profile))
        return cli_fail("bench: --parallel and --profile report one run; leave out -r, --md and lists with them"), 2;
    if (!b.dir && !b.machine_only) return cli_fail("bench: MODEL directory missing (see qwen3 bench --help)"), 2;
    if (b.dir && !(b.dir = cli_model_path(b.dir, QWEN3_NEED_WEIGHTS, b.o.pull))) return 1;
    return bench_run(&b);
}
