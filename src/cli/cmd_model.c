/* cmd_model.c - the model-level commands: `info`, `logits`, `generate` (a raw continuation through
 * the generation layer: greedy by default, sampling flags as `run`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/turn.h"

/* Flags shared by commands that load a model. Returns 1 if argv[*i] was one of them (consuming its
 * value), 0 if not, -1 on a bad value. */
/* "q4_k" -> QWEN3_Q4_K (any block type by its name, case-insensitive); "q4_k_m" / "q5_k_m" -> Q4_K /
 * Q5_K with llama.cpp's mix. */
int cli_quant_type(const char *s, qwen3_dtype *t, int *mix) {
    size_t n = strlen(s);
    *mix = n > 2 && !strcasecmp(s + n - 2, "_m");
    for (int d = 0; d < QWEN3_DTYPE_COUNT; d++) {
        const char *name = qwen3_dtype_name((qwen3_dtype)d);
        if (strlen(name) == n - (size_t)(*mix ? 2 : 0) && !strncasecmp(s, name, strlen(name)) &&
            (d == QWEN3_Q8_0 || d == QWEN3_Q4 || (d >= QWEN3_Q4_0 && d <= QWEN3_IQ4_XS)) &&
            (!*mix || d == QWEN3_Q4_K || d == QWEN3_Q5_K)) {
            *t = (qwen3_dtype)d;
            return 0;
        }
    }
    return -1;
}

int cli_model_flag(int argc, char **argv, int *i, cli_model_opts *o) {
    const char *a = argv[*i];
    long v;
    if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        if (cli_int(a, *i + 1 < argc ? argv[++*i] : NULL, 1, 1024, &v)) return -1;
        o->load.n_threads = cli_clamp_threads(a, v);
        return 1;
    }
    if (!strcmp(a, "--ctx")) {
        if (cli_int(a, *i + 1 < argc ? argv[++*i] : NULL, 1, 1 << 28, &v)) return -1;
        o->ctx = (int)v;
        return 1;
    }
    if (!strcmp(a, "--quant")) {
        const char *s = *i + 1 < argc ? argv[++*i] : NULL;
        if (!s) return cli_fail("--quant needs a value (q8_0, q4, or a GGUF type: q4_k, q6_k, q4_k_m, ...)"), -1;
        if (cli_quant_type(s, &o->load.quant, &o->load.quant_mix))
            return cli_fail("--quant: unknown type '%s' (q8_0, q4, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, "
                            "q5_k, q6_k, iq4_xs, q4_k_m, q5_k_m)", s), -1;
        return 1;
    }
    if (!strcmp(a, "--kv")) {
        const char *s = *i + 1 < argc ? argv[++*i] : NULL;
        if (!s) return cli_fail("--kv needs a value (q4_0, q8_0, f16 or f32)"), -1;
        if (!strcmp(s, "q8_0")) o->load.kv_type = QWEN3_KV_Q8_0;
        else if (!strcmp(s, "q4_0")) o->load.kv_type = QWEN3_KV_Q4_0;
        else if (!strcmp(s, "f16")) o->load.kv_type = QWEN3_KV_F16;
        else if (!strcmp(s, "f32")) o->load.kv_type = QWEN3_KV_F32;
        else return cli_fail("--kv: unknown type '%s' (q4_0, q8_0, f16 or f32)", s), -1;
        return 1;
    }
    if (!strcmp(a, "--rope-scaling")) {
        const char *s = *i + 1 < argc ? argv[++*i] : NULL;
        if (!s) return cli_fail("--rope-scaling needs a value (yarn:FACTOR[:ORIGINAL], e.g. yarn:4, or none)"), -1;
        if (!strcmp(s, "none")) { o->load.yarn_factor = -1; return 1; }
        char *end = NULL;
        double f = !strncmp(s, "yarn:", 5) ? strtod(s + 5, &end) : 0;
        long orig = 0;
        if (end && *end == ':') orig = strtol(end + 1, &end, 10);
        if (!end || *end || !(f > 1 && f <= 1024) || orig < 0 || orig > (1 << 28))
            return cli_fail("--rope-scaling: '%s' is not yarn:FACTOR[:ORIGINAL] (FACTOR above 1, e.g. yarn:4 or "
                            "yarn:4:32768) nor none", s), -1;
        o->load.yarn_factor = f;
        o->load.yarn_original = (int)orig;
        return 1;
    }
    if (!strcmp(a, "--dca")) {
        const char *s = *i + 1 < argc ? argv[++*i] : NULL;
        if (!s) return cli_fail("--dca needs a value (CHUNK[:LOCAL[:ORIGINAL]], e.g. 8192:1024, or off)"), -1;
        if (!strcmp(s, "off")) { o->load.dca_chunk = -1; return 1; }
        long v[3] = {0, 0, 0};
        int k = 0, bad = 0;
        for (const char *p = s;;) { /* up to three ':'-separated counts */
            char *end;
            v[k] = strtol(p, &end, 10);
            if (end == p || v[k] < 1 || v[k] > (1L << 30) || (*end && (*end != ':' || k == 2))) { bad = 1; break; }
            k++;
            if (!*end) break;
            p = end + 1;
        }
        if (bad || v[0] < 2 || (k > 1 && v[1] >= v[0]))
            return cli_fail("--dca: '%s' is not CHUNK[:LOCAL[:ORIGINAL]], positive counts with LOCAL below CHUNK "
                            "(e.g. 8192:1024 or 8192:1024:32768), nor off", s), -1;
        o->load.dca_chunk = (int)v[0];
        o->load.dca_local = (int)v[1];
        o->load.dca_original = (int)v[2];
        return 1;
    }
    if (!strcmp(a, "--mpi")) {
        const char *s = *i + 1 < argc ? argv[++*i] : NULL;
        if (s && !strcmp(s, "pp")) o->load.mpi_mode = QWEN3_MPI_PP;
        else if (s && !strcmp(s, "tp")) o->load.mpi_mode = QWEN3_MPI_TP;
        else if (s && !strcmp(s, "ep")) o->load.mpi_mode = QWEN3_MPI_EP;
        else return cli_fail("--mpi: '%s' is not pp (layers), tp (heads and MLP columns) or ep (tp, with MoE experts "
                             "whole per rank)", s ? s : ""), -1;
        return 1;
    }
    if (!strcmp(a, "--pull")) { o->pull = 1; return 1; }
    if (!strcmp(a, "--fast")) { o->load.fast = 1; return 1; }
    if (!strcmp(a, "--exact")) { o->load.fast = 0; return 1; }
    if (!strcmp(a, "--batch-variant")) { o->load.batch_variant = 1; return 1; }
    return 0;
}

qwen3_model *cli_load_model(const char *dir, const cli_model_opts *o) {
    qwen3_err e = {0};
    qwen3_load_opts lo = o->load;
    if (lo.quant != QWEN3_F32 && !lo.progress) cli_quant_progress(&lo);
    qwen3_model *m = qwen3_model_load(dir, &lo, &e);
    if (!m) { cli_fail("%s", e.msg); return NULL; }
    int trained = qwen3_model_trained_ctx(m);
    if (qwen3_model_past_trained(m, o->ctx))
        fprintf(stderr, "qwen3: warning: --ctx %d is more than the %d positions this model was trained on, and no RoPE "
                        "scaling is configured: output degrades past %d tokens (--rope-scaling yarn:4 extends it, as "
                        "the Qwen3 model card advises)\n", o->ctx, trained, trained);
    return m;
}

void cli_warn_positions(const qwen3_model *m, long n) {
    static int warned;
    int trained = qwen3_model_trained_ctx(m);
    if (warned || !qwen3_model_past_trained(m, n)) return;
    warned = 1;
    fprintf(stderr, "qwen3: warning: %ld positions is more than the %d this model was trained on, and no RoPE scaling "
                    "is configured: expect degraded output (--rope-scaling yarn:4 extends it, as the Qwen3 model card "
                    "advises)\n", n, trained);
}

#define MODEL_FLAGS CLI_MODEL_FLAGS_EXACT

int cmd_info(int argc, char **argv) {
    cli_model_opts o = {0};
    const char *dir = NULL;
    int rope = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rope")) { rope = 1; continue; }
        if (cli_is_help(argv[i])) {
            printf("usage: qwen3 info MODEL [--ctx N] [flags]\n\nDescribes a model directory: architecture, shapes, weight types,\n"
                   "parameter counts (total and active per token), memory, and the KV cache of a context of\n"
                   "--ctx N tokens (default: the model's maximum) for each cache type.\n\n"
                   "  --rope            also print RoPE's inverse frequencies and attention factor\n%s", MODEL_FLAGS);
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
    if (!(dir = cli_model_path(dir, QWEN3_NEED_WEIGHTS, o.pull))) return 1;
    qwen3_model *m = cli_load_model(dir, &o);
    if (!m) return 1;
    char buf[4096];
    qwen3_model_describe(m, buf, sizeof buf);
    fputs(buf, stdout);
    /* the cache a context needs, per type: reserved as address space, committed as it fills */
    long ctx = o.ctx > 0 ? o.ctx : qwen3_model_max_ctx(m);
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
    printf("positions:    %d trained, %d addressable%s\n", qwen3_model_trained_ctx(m), qwen3_model_max_ctx(m),
           qwen3_model_config(m)->yarn ? " (YaRN)" : qwen3_model_config(m)->dca ? " (Dual Chunk Attention)" : "");
    if (rope) {
        float inv[1024], att = 1;
        int half = qwen3_model_rope(m, inv, 1024, &att);
        printf("rope:         attention factor %.9g, inv_freq", att);
        for (int i = 0; i < half && i < 1024; i++) printf(" %.9g", inv[i]);
        printf("\n");
    }
    qwen3_model_free(m);
    return 0;
}

/* Tokenizes --prompt TEXT with the model directory's tokenizer (special tokens recognised, so a
 * rendered chat prompt can be given as is). Prints the error and returns -1 on failure. */
static int prompt_ids(const char *dir, const char *text, int32_t **ids, int *n) {
    qwen3_err e = {0};
    qwen3_tokenizer *t = qwen3_tokenizer_load(dir, &e);
    if (!t) return cli_fail("--prompt: %s", e.msg), -1;
    int k = qwen3_encode(t, text, strlen(text), 1, ids, &e);
    qwen3_tokenizer_free(t);
    if (k < 0) return cli_fail("--prompt: %s", e.msg), -1;
    if (k == 0) { free(*ids); return cli_fail("--prompt: the text gives no tokens"), -1; }
    *n = k;
    return 0;
}

int cmd_logits(int argc, char **argv) {
    cli_model_opts o = {0};
    const char *dir = NULL, *ids_s = NULL, *outp = NULL;
    const char *prompt = NULL;
    int decode = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: qwen3 logits MODEL (--ids 9707,11,1879 | --prompt TEXT) -o FILE [--decode] [flags]\n\n"
                   "Runs the ids as one prompt and writes the logits of every position as little-endian\n"
                   "float32, n_ids x vocab_size, row by row.\n\n"
                   "  --ids LIST        comma-separated token ids\n"
                   "  --prompt TEXT     text, tokenized with MODEL's tokenizer (special tokens recognised)\n"
                   "  -o FILE           output file ('-' for stdout)\n"
                   "  --decode          compute the same through the KV cache one token at a time\n%s", MODEL_FLAGS);
            return 0;
        }
        int r = cli_model_flag(argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--ids")) ids_s = i + 1 < argc ? argv[++i] : "";
        else if (!strcmp(argv[i], "--prompt")) { if (!(prompt = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("--prompt needs a value"), 2; }
        else if (!strcmp(argv[i], "-o")) outp = i + 1 < argc ? argv[++i] : NULL;
        else if (!strcmp(argv[i], "--decode")) decode = 1;
        else if (argv[i][0] == '-') return cli_fail("logits: unknown flag '%s' (see qwen3 logits --help)", argv[i]), 2;
        else if (dir) return cli_fail("logits: more than one MODEL given"), 2;
        else dir = argv[i];
    }
    if (!dir) return cli_fail("logits: MODEL directory missing"), 2;
    if (!ids_s == !prompt) return cli_fail("logits: give the prompt as --ids LIST or --prompt TEXT (one of them)"), 2;
    if (!outp) return cli_fail("logits: -o FILE is required"), 2;
    if (!(dir = cli_model_path(dir, QWEN3_NEED_WEIGHTS | (prompt ? QWEN3_NEED_TOKENIZER : 0), o.pull))) return 1;
    int32_t *ids;
    int n;
    if (prompt ? prompt_ids(dir, prompt, &ids, &n) : cli_ids("--ids", ids_s, &ids, &n)) return 2;
    qwen3_model *m = cli_load_model(dir, &o);
    if (!m) { free(ids); return 1; }
    int V = qwen3_model_config(m)->vocab_size, rc = 1;
    qwen3_err e = {0};
    float *out = malloc(sizeof(float) * (size_t)n * (size_t)V);
    qwen3_seq *s = qwen3_seq_new(m, o.ctx, &e);
    FILE *f = NULL;
    if (!out) { cli_fail("out of memory for %d x %d logits", n, V); goto done; }
    if (!s) { cli_fail("%s", e.msg); goto done; }
    cli_warn_positions(m, n);
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
    cli_gen_opts go;
    cli_gen_opts_init(&go);
    cli_draft_opts dro = {0};
    const char *dir = NULL, *ids_s = NULL, *prompt = NULL;
    long n_new = 16;
    int rc = 2, verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
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
                   CLI_DRAFT_FLAGS, MODEL_FLAGS);
            cli_gen_opts_free(&go);
            return 0;
        }
        int r = cli_model_flag(argc, argv, &i, &o);
        if (r < 0) goto out;
        if (r) continue;
        if ((r = cli_draft_flag(argc, argv, &i, &dro)) != 0) {
            if (r < 0) goto out;
            continue;
        }
        if (!strcmp(argv[i], "--ids")) ids_s = i + 1 < argc ? argv[++i] : "";
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else if (!strcmp(argv[i], "--prompt")) {
            if (!(prompt = i + 1 < argc ? argv[++i] : NULL)) { cli_fail("--prompt needs a value"); goto out; }
        } else if (!strcmp(argv[i], "-n")) {
            if (cli_int("-n", i + 1 < argc ? argv[++i] : NULL, 0, 1 << 28, &n_new)) goto out;
        } else if (!strcmp(argv[i], "--no-think") || !strcmp(argv[i], "--think-budget") || !strcmp(argv[i], "--system") ||
                   !strcmp(argv[i], "--think-grace") || !strcmp(argv[i], "--hide-thinking") ||
                   !strcmp(argv[i], "--template") || !strcmp(argv[i], "--max-tokens")) {
            cli_fail("generate: %s is a chat option (see qwen3 run)", argv[i]);
            goto out;
        } else if ((r = cli_gen_flag(argc, argv, &i, &go)) != 0) {
            if (r < 0) goto out;
        } else if (argv[i][0] == '-') {
            cli_fail("generate: unknown flag '%s' (see qwen3 generate --help)", argv[i]);
            goto out;
        } else if (dir) {
            cli_fail("generate: more than one MODEL given");
            goto out;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) { cli_fail("generate: MODEL directory missing"); goto out; }
    if (!ids_s == !prompt) { cli_fail("generate: give the prompt as --ids LIST or --prompt TEXT (one of them)"); goto out; }
    if (go.n_stop && !prompt) { cli_fail("generate: --stop needs --prompt (text)"); goto out; }
    if (!(dir = cli_model_path(dir, QWEN3_NEED_WEIGHTS | (prompt ? QWEN3_NEED_TOKENIZER : 0), o.pull))) goto out;
    int32_t *ids = NULL;
    int n;
    if (prompt ? prompt_ids(dir, prompt, &ids, &n) : cli_ids("--ids", ids_s, &ids, &n)) goto out;
    rc = 1;
    qwen3_err e = {0};
    qwen3_tokenizer *tok = NULL;
    qwen3_seq *s = NULL;
    qwen3_gen *g = NULL;
    qwen3_model *m = NULL, *dm = NULL;
    qwen3_seq *ds = NULL;
    if (prompt && !(tok = qwen3_tokenizer_load(dir, &e))) { cli_fail("%s", e.msg); goto done; }
    if (!(m = cli_load_model(dir, &o))) goto done;
    if (!(s = qwen3_seq_new(m, o.ctx, &e))) { cli_fail("%s", e.msg); goto done; }
    if (dro.model) {
        if (!(dm = cli_draft_load(&dro, dir, m, tok, &o))) goto done;
        if (!(ds = qwen3_seq_new(dm, qwen3_seq_capacity(s), &e))) { cli_fail("--draft: %s", e.msg); goto done; }
    }
    cli_warn_positions(m, n);
    /* greedy and unfiltered unless flags say otherwise */
    qwen3_gen_params p = {0};
    p.sampling = (qwen3_sampling){.temperature = 0, .top_k = 0, .top_p = 1, .min_p = 0, .repetition_penalty = 1};
    if (!isnan(go.temp)) p.sampling.temperature = (float)go.temp;
    if (go.top_k >= 0) p.sampling.top_k = (int)go.top_k;
    if (!isnan(go.top_p)) p.sampling.top_p = (float)go.top_p;
    if (!isnan(go.min_p)) p.sampling.min_p = (float)go.min_p;
    if (!isnan(go.presence)) p.sampling.presence_penalty = (float)go.presence;
    if (!isnan(go.frequency)) p.sampling.frequency_penalty = (float)go.frequency;
    if (!isnan(go.repeat)) p.sampling.repetition_penalty = (float)go.repeat;
    p.sampling.seed = go.seed;
    p.max_tokens = (int)n_new;
    p.think_budget = -1;
    p.stop = go.stop;
    p.n_stop = go.n_stop;
    p.draft = dm;
    p.draft_seq = ds;
    p.draft_n = dro.n;
    if (n_new == 0) { printf("\n"); rc = 0; goto done; }
    if (!(g = qwen3_gen_new(m, tok, s, ids, n, &p, &e))) { cli_fail("%s", e.msg); goto done; }
    int k = 0;
    for (;;) {
        qwen3_gen_out out;
        qwen3_gen_take(g, &out);
        if (prompt) fwrite(out.text, 1, out.text_len, stdout);
        else for (int j = 0; j < out.n_ids; j++) printf("%s%d", k++ ? " " : "", out.ids[j]);
        fflush(stdout);
        if (out.finish) break;
        if (qwen3_gen_step(m, &g, 1, &e)) { printf("\n"); cli_fail("%s", e.msg); goto done; }
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
    rc = 0;
done:
    qwen3_gen_free(g);
    qwen3_seq_free(s);
    qwen3_seq_free(ds);
    qwen3_model_free(dm);
    free(ids);
    qwen3_model_free(m);
    qwen3_tokenizer_free(tok);
out:
    cli_gen_opts_free(&go);
    return rc;
}
