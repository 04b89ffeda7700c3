/* cmd_generate.c - `qwen3 generate MODEL`: a raw continuation of a prompt through the generation
 * layer, no chat template: greedy by default, sampling flags as `run`, an optional draft model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/turn.h"

enum { MAX_GENS = 16 };

typedef struct generate_opts {
    cli_model_opts o;
    cli_gen_opts go;
    cli_draft_opts dro;
    const char *dir, *prompt;
    const char *ids_s[MAX_GENS]; /* --ids, once per generation */
    int n_ids;
    long n_new;  /* -n */
    int verbose; /* the speed (and the draft's acceptance) on stderr at the end */
} generate_opts;

static void usage(void) {
    printf("usage: qwen3 generate MODEL (--ids LIST | --prompt TEXT) [-n N] [sampling flags] [flags]\n\n"
           "Continues the prompt as it is (no chat template). With --ids, prints the new ids separated\n"
           "by spaces (no tokenizer needed); with --prompt, streams the new text. Greedy unless a\n"
           "sampling flag is given; stops after N tokens (with --prompt also at <|im_end|>,\n"
           "<|endoftext|> or a --stop string).\n\n"
           "  --ids LIST        comma-separated prompt token ids; given several times (at most %d),\n"
           "                    the continuations are generated together, one forward pass per step\n"
           "                    over all of them (as the server batches requests), and printed one\n"
           "                    line each, in order, at the end\n"
           "  --prompt TEXT     prompt text, tokenized with MODEL's tokenizer (special tokens recognised)\n"
           "  -n N              tokens to generate (default 16)\n"
           "  --temp T, --top-k K, --top-p P, --min-p P, --presence-penalty X, --frequency-penalty X,\n"
           "  --repeat-penalty X, --seed N, --stop STR   as for qwen3 run (defaults: greedy, no filter)\n"
           "  --verbose         print the speed (and the draft's acceptance) to stderr at the end\n%s%s",
           MAX_GENS, CLI_DRAFT_FLAGS, CLI_MODEL_FLAGS_EXACT);
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
        if (!strcmp(a, "--ids")) {
            if (g->n_ids == MAX_GENS) return cli_fail("generate: --ids given more than %d times", MAX_GENS), 2;
            g->ids_s[g->n_ids++] = i + 1 < argc ? argv[++i] : "";
        }
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
    if (!g->n_ids == !g->prompt) return cli_fail("generate: give the prompt as --ids LIST or --prompt TEXT (one of them)"), 2;
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

/* The speed (and the draft's acceptance) on stderr: of all the generations together. */
static void print_stats(qwen3_gen **gens, int n) {
    qwen3_gen_stats t = {0};
    for (int k = 0; k < n; k++) {
        qwen3_gen_stats st;
        qwen3_gen_stats_get(gens[k], &st);
        t.prompt_tokens += st.prompt_tokens;
        t.generated_tokens += st.generated_tokens;
        t.draft_steps += st.draft_steps;
        t.draft_tokens += st.draft_tokens;
        t.draft_accepted += st.draft_accepted;
        if (k == 0) { /* they step together: one generation's clock is the run's */
            t.prefill_seconds = st.prefill_seconds;
            t.decode_seconds = st.decode_seconds;
            t.draft_seconds = st.draft_seconds;
        }
    }
    fprintf(stderr, "prompt: %d tokens in %.0f ms | generated: %d tokens in %.0f ms, %.1f tok/s\n", t.prompt_tokens,
            1e3 * t.prefill_seconds, t.generated_tokens, 1e3 * t.decode_seconds,
            t.decode_seconds > 0 ? (t.generated_tokens - n) / t.decode_seconds : 0.0);
    cli_draft_print_stats(&t);
}

/* One generation: streams the continuation (text with --prompt, else ids). 0 or -1. */
static int stream(qwen3_model *m, qwen3_gen *g, int text) {
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
    return 0;
}

/* Several generations (ids) stepped together; each one's ids printed on its own line at the end.
 * 0 or -1. */
static int together(qwen3_model *m, qwen3_gen **gens, int n) {
    qwen3_err e = {0};
    int32_t *got[MAX_GENS] = {0};
    int n_got[MAX_GENS] = {0}, cap[MAX_GENS] = {0}, rc = 0;
    for (;;) {
        int running = 0;
        for (int k = 0; k < n && !rc; k++) {
            qwen3_gen_out out;
            qwen3_gen_take(gens[k], &out);
            running += !out.finish;
            if (!out.n_ids) continue;
            if (n_got[k] + out.n_ids > cap[k]) {
                int c = 2 * (n_got[k] + out.n_ids) + 16;
                int32_t *ng = realloc(got[k], sizeof *ng * (size_t)c);
                if (!ng) { cli_fail("out of memory"); rc = -1; break; }
                got[k] = ng;
                cap[k] = c;
            }
            memcpy(got[k] + n_got[k], out.ids, sizeof *out.ids * (size_t)out.n_ids);
            n_got[k] += out.n_ids;
        }
        if (rc || !running) break;
        if (qwen3_gen_step(m, gens, n, &e)) { cli_fail("%s", e.msg); rc = -1; break; }
    }
    for (int k = 0; k < n; k++) {
        if (!rc) {
            for (int j = 0; j < n_got[k]; j++) printf("%s%d", j ? " " : "", got[k][j]);
            printf("\n");
        }
        free(got[k]);
    }
    return rc;
}

/* Loads what the continuations need (tokenizer with --prompt, model, sequences, draft and its
 * sequences) and generates them. */
static int run(generate_opts *g, const char *dir, int32_t **ids, const int *n, int n_gen) {
    int rc = 1;
    qwen3_err e = {0};
    qwen3_tokenizer *tok = NULL;
    qwen3_model *m = NULL, *dm = NULL;
    qwen3_seq *s[MAX_GENS] = {0}, *ds[MAX_GENS] = {0};
    qwen3_gen *gen[MAX_GENS] = {0};
    if (g->prompt && !(tok = qwen3_tokenizer_load(dir, &e))) { cli_fail("%s", e.msg); goto done; }
    if (!(m = cli_load_model(dir, &g->o))) goto done;
    if (g->dro.model && !(dm = cli_draft_load(&g->dro, dir, m, tok, &g->o))) goto done;
    for (int k = 0; k < n_gen; k++) {
        if (!(s[k] = qwen3_seq_new(m, g->o.ctx, &e))) { cli_fail("%s", e.msg); goto done; }
        if (dm && !(ds[k] = qwen3_seq_new(dm, qwen3_seq_capacity(s[k]), &e))) { cli_fail("--draft: %s", e.msg); goto done; }
        cli_warn_positions(m, n[k]);
    }
    if (g->n_new == 0) {
        for (int k = 0; k < n_gen; k++) printf("\n");
        rc = 0;
        goto done;
    }
    qwen3_gen_params p = params(g);
    p.draft = dm;
    for (int k = 0; k < n_gen; k++) {
        p.draft_seq = ds[k];
        if (!(gen[k] = qwen3_gen_new(m, tok, s[k], ids[k], n[k], &p, &e))) {
            cli_fail("%s%s", n_gen > 1 ? "--ids " : "", e.msg);
            goto done;
        }
    }
    if ((n_gen == 1 ? stream(m, gen[0], g->prompt != NULL) : together(m, gen, n_gen)) == 0) {
        rc = 0;
        if (g->verbose) print_stats(gen, n_gen);
    }
done:
    for (int k = 0; k < n_gen; k++) {
        qwen3_gen_free(gen[k]);
        qwen3_seq_free(s[k]);
        qwen3_seq_free(ds[k]);
    }
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
        const int n_gen = g.prompt ? 1 : g.n_ids;
        int32_t *ids[MAX_GENS] = {0};
        int n[MAX_GENS];
        if (!dir) rc = 2;
        for (int k = 0; k < n_gen && !rc; k++)
            if (g.prompt ? cli_prompt_ids(dir, g.prompt, &ids[k], &n[k]) : cli_ids("--ids", g.ids_s[k], &ids[k], &n[k])) rc = 2;
        if (!rc) rc = run(&g, dir, ids, n, n_gen);
        for (int k = 0; k < n_gen; k++) free(ids[k]);
    }
    cli_gen_opts_free(&g.go);
    return rc;
}
