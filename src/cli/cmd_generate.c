/* cmd_generate.c - `qwen3 generate MODEL`: a raw continuation of a prompt through the generation
 * layer, no chat template: greedy by default, sampling flags as `run`, an optional draft model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/turn.h"

typedef struct generate_opts {
    cli_model_opts o;
    cli_gen_opts go;
    cli_draft_opts dro;
    const char *dir, *ids_s, *prompt;
    long n_new;  /* -n */
    int verbose; /* the speed (and the draft's acceptance) on stderr at the end */
} generate_opts;

static void usage(void) {
    printf("usage: qwen3 generate MODEL (--ids LIST | --prompt TEXT) [-n N] [sampling flags] [flags]\n\n"
           "Continues the prompt as it is (no chat template). With --ids, prints the new ids separated\n"
           "by spaces (no tokenizer needed); with --prompt, streams the new text. Greedy unless a\n"
           "sampling flag is given; stops after N tokens (with --prompt also at <|im_end|>,\n"
           "<|endoftext|> or a --stop string).\n\n"
           "  --ids LIST        comma-separated prompt token ids\n"
           "  --prompt TEXT     prompt text, tokenized with MODEL's tokenizer (special tokens recognised)\n"
           "  -n N              tokens to generate (default 16)\n"
           "  --temp T, --top-k K, --top-p P, --min-p P, --presence-penalty X, --frequency-penalty X,\n"
           "  --repeat-penalty X, --seed N, --stop STR   as for qwen3 run (defaults: greedy, no filter)\n"
           "  --verbose         print the speed (and the draft's acceptance) to stderr at the end\n%s%s",
           CLI_DRAFT_FLAGS, CLI_MODEL_FLAGS_EXACT);
}

static int is_chat_flag(const char *a) {
    static const char *const chat[] = {"--no-think", "--think-budget", "--system", "--think-grace", "--hide-thinking",
                                       "--template", "--max-tokens"};
    for (size_t k = 0; k < sizeof chat / sizeof *chat; k++)
        if (!strcmp(a, chat[k])) return 1;
    return 0;
}

/* 0: parsed; 1: --help printed; 2: a bad flag (message printed). */
static int parse(int argc, char **argv, generate_opts *g) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(); return 1; }
        int r = cli_model_flag(argc, argv, &i, &g->o);
        if (r == 0) r = cli_draft_flag(argc, argv, &i, &g->dro);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(a, "--ids")) g->ids_s = i + 1 < argc ? argv[++i] : "";
        else if (!strcmp(a, "--verbose")) g->verbose = 1;
        else if (!strcmp(a, "--prompt")) {
            if (!(g->prompt = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("--prompt needs a value"), 2;
        } else if (!strcmp(a, "-n")) {
            if (cli_int("-n", i + 1 < argc ? argv[++i] : NULL, 0, 1 << 28, &g->n_new)) return 2;
        } else if (is_chat_flag(a)) return cli_fail("generate: %s is a chat option (see qwen3 run)", a), 2;
        else if ((r = cli_gen_flag(argc, argv, &i, &g->go)) != 0) {
            if (r < 0) return 2;
        } else if (a[0] == '-') return cli_fail("generate: unknown flag '%s' (see qwen3 generate --help)", a), 2;
        else if (g->dir) return cli_fail("generate: more than one MODEL given"), 2;
        else g->dir = a;
    }
    if (!g->dir) return cli_fail("generate: MODEL directory missing"), 2;
    if (!g->ids_s == !g->prompt) return cli_fail("generate: give the prompt as --ids LIST or --prompt TEXT (one of them)"), 2;
    if (g->go.n_stop && !g->prompt) return cli_fail("generate: --stop needs --prompt (text)"), 2;
    return 0;
}

/* Greedy and unfiltered unless the flags say otherwise (run's defaults are the model's instead). */
static qwen3_gen_params params(const generate_opts *g) {
    const cli_gen_opts *go = &g->go;
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = 0, .top_k = 0, .top_p = 1, .min_p = 0, .repetition_penalty = 1};
    if (!isnan(go->temp)) p.sampling.temperature = (float)go->temp;
    if (go->top_k >= 0) p.sampling.top_k = (int)go->top_k;
    if (!isnan(go->top_p)) p.sampling.top_p = (float)go->top_p;
    if (!isnan(go->min_p)) p.sampling.min_p = (float)go->min_p;
    if (!isnan(go->presence)) p.sampling.presence_penalty = (float)go->presence;
    if (!isnan(go->frequency)) p.sampling.frequency_penalty = (float)go->frequency;
    if (!isnan(go->repeat)) p.sampling.repetition_penalty = (float)go->repeat;
    p.sampling.seed = go->seed;
    p.max_tokens = (int)g->n_new;
    p.think_budget = -1;
    p.stop = go->stop;
    p.n_stop = go->n_stop;
    p.draft_n = g->dro.n;
    return p;
}

/* Streams the continuation (text with --prompt, else ids), then the speed with --verbose. 0 or -1. */
static int stream(qwen3_model *m, qwen3_gen *g, int text, int verbose) {
    qwen3_err e = {0};
    for (int k = 0;;) {
        qwen3_gen_out out;
        qwen3_gen_take(g, &out);
        if (text) fwrite(out.text, 1, out.text_len, stdout);
        else for (int j = 0; j < out.n_ids; j++) printf("%s%d", k++ ? " " : "", out.ids[j]);
        fflush(stdout);
        if (out.finish) break;
        if (qwen3_gen_step(m, &g, 1, &e)) { printf("\n"); return cli_fail("%s", e.msg), -1; }
    }
    printf("\n");
    if (verbose) {
        qwen3_gen_stats st;
        qwen3_gen_stats_get(g, &st);
        fprintf(stderr, "prompt: %d tokens in %.0f ms | generated: %d tokens in %.0f ms, %.1f tok/s\n", st.prompt_tokens,
                1e3 * st.prefill_seconds, st.generated_tokens, 1e3 * st.decode_seconds,
                st.decode_seconds > 0 ? (st.generated_tokens - 1) / st.decode_seconds : 0.0);
        cli_draft_print_stats(&st);
    }
    return 0;
}

/* Loads what the continuation needs (tokenizer with --prompt, model, sequence, draft) and streams it. */
static int run(generate_opts *g, const char *dir, const int32_t *ids, int n) {
    int rc = 1;
    qwen3_err e = {0};
    qwen3_tokenizer *tok = NULL;
    qwen3_model *m = NULL, *dm = NULL;
    qwen3_seq *s = NULL, *ds = NULL;
    qwen3_gen *gen = NULL;
    if (g->prompt && !(tok = qwen3_tokenizer_load(dir, &e))) { cli_fail("%s", e.msg); goto done; }
    if (!(m = cli_load_model(dir, &g->o))) goto done;
    if (!(s = qwen3_seq_new(m, g->o.ctx, &e))) { cli_fail("%s", e.msg); goto done; }
    if (g->dro.model) {
        if (!(dm = cli_draft_load(&g->dro, dir, m, tok, &g->o))) goto done;
        if (!(ds = qwen3_seq_new(dm, qwen3_seq_capacity(s), &e))) { cli_fail("--draft: %s", e.msg); goto done; }
    }
    cli_warn_positions(m, n);
    qwen3_gen_params p = params(g);
    p.draft = dm;
    p.draft_seq = ds;
    if (g->n_new == 0) { printf("\n"); rc = 0; goto done; }
    if (!(gen = qwen3_gen_new(m, tok, s, ids, n, &p, &e))) { cli_fail("%s", e.msg); goto done; }
    if (stream(m, gen, g->prompt != NULL, g->verbose) == 0) rc = 0;
done:
    qwen3_gen_free(gen);
    qwen3_seq_free(s);
    qwen3_seq_free(ds);
    qwen3_model_free(dm);
    qwen3_model_free(m);
    qwen3_tokenizer_free(tok);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    generate_opts g = {.n_new = 16};
    cli_gen_opts_init(&g.go);
    int rc = parse(argc, argv, &g);
    if (rc == 1) rc = 0;
    else if (rc == 0) {
        const char *dir = cli_model_path(g.dir, QWEN3_NEED_WEIGHTS | (g.prompt ? QWEN3_NEED_TOKENIZER : 0), g.o.pull);
        int32_t *ids = NULL;
        int n;
        if (!dir) rc = 2;
        else if (g.prompt ? cli_prompt_ids(dir, g.prompt, &ids, &n) : cli_ids("--ids", g.ids_s, &ids, &n)) rc = 2;
        else rc = run(&g, dir, ids, n);
        free(ids);
    }
    cli_gen_opts_free(&g.go);
    return rc;
}
