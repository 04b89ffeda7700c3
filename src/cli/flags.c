/* flags.c - what the commands that load a model share: the help text of the model flags (one text,
 * so every --help lists the same flags) and the thread count's check against the machine. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
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
