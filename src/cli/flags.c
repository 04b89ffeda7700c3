/* flags.c - what the commands that load a model share: the model flags (their help text, one text
 * so every --help lists the same flags, beside their parser), loading with them, the thread
 * count's check against the machine, and --prompt TEXT as token ids. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define MODEL_FLAGS_COMMON                                                                                   \
    "  -t, --threads N       worker threads (default: physical cores; at most the CPUs this process may\n"   \
    "                        use: more only slows every step down)\n"                                        \
    "  --ctx N               context length in tokens (default: the model's maximum)\n"                      \
    "  --quant TYPE          quantize weights at load time: q8_0, q4, a GGUF type (q4_k, q6_k, iq4_xs, ...)\n" \
    "                        or q4_k_m / q5_k_m (llama.cpp's mix); progress shown on a terminal\n"         \
    "  --pull                MODEL is a Hugging Face name not in the cache: download it first (qwen3 pull)\n" \
    "  --rope-scaling S      yarn:FACTOR[:ORIGINAL] switches YaRN on (yarn:4: 131072 positions for Qwen3,\n" \
    "                        the model card's setting), none switches config.json's off\n"                  \
    "  --dca C[:L[:O]]       Dual Chunk Attention: chunks of C - L positions (L default C/8), O the\n"   \
    "                        original_max_position_embeddings past which logits are length-scaled\n"     \
    "                        (default none); off switches config.json's dual_chunk_attention_config off\n" \
    "  --mpi MODE            under mpirun (qwen3-mpi): split the model by layers (pp, the default), by\n" \
    "                        heads and MLP columns (tp), or as tp with MoE experts whole per rank (ep)\n" \
    "  --kv TYPE             KV cache type: q8_0 (int8 blocks of 32, ~0.27x F32), q4_0 (4-bit, ~0.14x),\n"  \
    "                        f16 or f32\n"

const char CLI_MODEL_FLAGS_FAST[] =
    MODEL_FLAGS_COMMON
    "                        (default: F16 on the fast path, F32 with --exact)\n"
    "  --exact               float weights: float32 activations and KV cache, the reference path\n"
    "                        (default: an F16 KV cache, as --fast)\n"
    "  --batch-variant       bf16 GEMM over >= 16 tokens: faster prefill, but a token's logits\n"
    "                        depend on what shares its step (default: batch-invariant)\n";

const char CLI_MODEL_FLAGS_EXACT[] =
    MODEL_FLAGS_COMMON
    "                        (default: F32, F16 with --fast)\n"
    "  --fast                an F16 KV cache for float weights (default: exact float32)\n"
    "  --batch-variant       with --fast or quantized weights: bf16 GEMM over >= 16 tokens, faster\n"
    "                        prefill, but a token's logits depend on what shares its step\n";

int cli_cpu_count(void) {
    cpu_set_t set;
    if (!sched_getaffinity(0, sizeof set, &set)) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int cli_clamp_threads(const char *flag, long asked) {
    int cpus = cli_cpu_count();
    if (asked <= cpus) return (int)asked;
    fprintf(stderr, "qwen3: warning: %s %ld: this process may use %d CPU%s; using %d (more threads than CPUs only "
                    "wait for each other)\n", flag, asked, cpus, cpus == 1 ? "" : "s", cpus);
    return cpus;
}

/* "\rquantizing to Q4: layer 12/29" on stderr, at most every 0.1 s, then a newline at the end. */
static void quant_progress(void *ctx, int done, int total) {
    static struct timespec last;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - last.tv_sec) + 1e-9 * (double)(now.tv_nsec - last.tv_nsec);
    if (done > 0 && done < total && dt < 0.1) return;
    last = now;
    fprintf(stderr, "\rqwen3: quantizing to %s: %d/%d layers%s", (const char *)ctx, done, total,
            done == total ? "\n" : "");
    fflush(stderr);
}

void cli_quant_progress(qwen3_load_opts *o) {
    if (!isatty(STDERR_FILENO)) return;
    o->progress = quant_progress;
    o->progress_ctx = (void *)qwen3_dtype_name(o->quant);
}

int cli_no_color(void) {
    const char *v = getenv("NO_COLOR");
    return v && *v;
}

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

int cli_prompt_ids(const char *dir, const char *text, int32_t **ids, int *n) {
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
