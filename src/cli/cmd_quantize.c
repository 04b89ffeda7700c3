/* cmd_quantize.c - `qwen3 quantize MODEL OUT_DIR --type TYPE`: quantize once, load by mmap after.
 * `qwen3 quantize MODEL OUT.gguf --type TYPE` writes one GGUF file instead (qwen3_model_save_gguf):
 * the same quantization, or keep / f32 / f16 / bf16, with MODEL's tokenizer and chat template.
 *
 * Loads MODEL quantized (as --quant would at load time), writes OUT_DIR/model.safetensors with
 * qwen3_model_save, and copies the config and tokenizer files beside it, so OUT_DIR is a model
 * directory every command accepts. Types per tensor: as model_quantize chooses (layers to TYPE,
 * embedding / lm_head Q8_0, MoE router and norms as stored); `qwen3 info OUT_DIR` lists them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"

static int quantize_gguf(const char *dir, const char *out, const char *type, cli_model_opts *o) {
    const char *conv = "keep";
    if (!strcmp(type, "keep") || !strcmp(type, "f32") || !strcmp(type, "f16") || !strcmp(type, "bf16")) conv = type;
    else if (cli_quant_type(type, &o->load.quant, &o->load.quant_mix))
        return cli_fail("quantize: --type: unknown type '%s' (keep, f32, f16, bf16, q8_0, a GGUF block type such as "
                        "q4_k, q6_k, iq4_xs, or q4_k_m / q5_k_m)", type), 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qwen3_model *m = cli_load_model(dir, o);
    if (!m) return 1;
    qwen3_err e = {0};
    int rc = qwen3_model_save_gguf(m, dir, out, conv, &e) ? cli_fail("%s", e.msg) : 0;
    qwen3_model_free(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc)
        fprintf(stderr, "qwen3: wrote %s (%s) in %.1f s\n", out, type,
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return rc;
}

static void usage(void) {
    printf("usage: qwen3 quantize MODEL OUT_DIR --type TYPE [-t N]\n"
           "       qwen3 quantize MODEL OUT.gguf --type TYPE|keep|f32|f16|bf16 [-t N]\n\n"
           "Writes a quantized copy of MODEL to OUT_DIR (created): model.safetensors with block-quantized\n"
           "matrices (dtype strings Q8_0, Q4 and GGUF's type names; layouts in src/kernels/quant.h and\n"
           "quant_ggml.h), plus MODEL's config and tokenizer files. Layer matrices get TYPE; the\n"
           "embedding / lm_head Q8_0 (with q4_k_m / q5_k_m: llama.cpp's mix, output Q6_K); the MoE\n"
           "router and the norms stay as stored. The result loads by mmap with no conversion.\n\n"
           "  --type TYPE       q8_0 (8.5 bits per weight), q4 (4.625 bits, k-quant style), a GGUF block\n"
           "                    type (q4_0 q4_1 q5_0 q5_1 iq4_nl q2_k q3_k q4_k q5_k q6_k iq4_xs), or\n"
           "                    q4_k_m / q5_k_m (llama.cpp's mixes: attn_v, ffn_down of some layers Q6_K)\n"
           "  -t, --threads N   threads for the quantization (default: physical cores)\n\n"
           "With OUT.gguf: one GGUF file in llama.cpp's layout (qwen3 / qwen3moe keys, blk.N.* names,\n"
           "3-D expert tensors, norms and the MoE router F32) holding MODEL's tokenizer and chat template;\n"
           "TYPE as above (not q4, which GGUF has no type for), or keep (the stored types), f32, f16, bf16.\n");
}

/* What `qwen3 quantize` was asked. */
typedef struct quant_opts {
    cli_model_opts o;
    const char *dir, *out, *type;
} quant_opts;

/* argv -> q. 0: parsed; 1: --help printed; 2: a bad flag or argument (message printed). */
static int parse(int argc, char **argv, quant_opts *q) {
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { usage(); return 1; }
        if (!strcmp(argv[i], "--type")) {
            if (!(q->type = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("--type needs a value (q8_0, q4, q4_k, q4_k_m, ...)"), 2;
            continue;
        }
        int r = cli_model_flag(argc, argv, &i, &q->o);
        if (r < 0) return 2;
        if (r) continue;
        if (argv[i][0] == '-') return cli_fail("quantize: unknown flag '%s' (see qwen3 quantize --help)", argv[i]), 2;
        if (!q->dir) q->dir = argv[i];
        else if (!q->out) q->out = argv[i];
        else return cli_fail("quantize: unexpected argument '%s'", argv[i]), 2;
    }
    if (!q->dir || !q->out) return cli_fail("quantize: MODEL and OUT_DIR are required (see qwen3 quantize --help)"), 2;
    if (!q->type) return cli_fail("quantize: --type TYPE is required (q8_0, q4, q4_k, q4_k_m, ...)"), 2;
    return 0;
}

/* OUT_DIR: the weights quantized (qwen3_model_save), and MODEL's other files copied beside them
 * (qwen3_model_copy_files), so OUT_DIR is a model directory every command accepts. */
static int quantize_dir(const char *dir, const char *out, const char *type, cli_model_opts *o) {
    if (qwen3_model_format(dir) != QWEN3_FORMAT_HF)
        return cli_fail("quantize: %s has no config.json (a GGUF model?), so OUT_DIR would not be a model directory; "
                        "write a GGUF instead: qwen3 quantize MODEL OUT.gguf --type %s", dir, type), 2;
    if (mkdir(out, 0755) && errno != EEXIST) return cli_fail("%s: cannot create directory: %s", out, strerror(errno));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qwen3_model *m = cli_load_model(dir, o);
    if (!m) return 1;
    qwen3_err e = {0};
    int rc = qwen3_model_save(m, out, &e) ? cli_fail("%s", e.msg) : 0;
    qwen3_model_free(m);
    if (!rc && qwen3_model_copy_files(dir, out, &e)) rc = cli_fail("quantize: %s", e.msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc)
        fprintf(stderr, "qwen3: wrote %s (%s) in %.1f s\n", out, type,
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    quant_opts q = {0};
    int r = parse(argc, argv, &q);
    if (r) return r == 1 ? 0 : r;
    size_t ol = strlen(q.out);
    if (ol > 5 && !strcmp(q.out + ol - 5, ".gguf")) return quantize_gguf(q.dir, q.out, q.type, &q.o);
    if (cli_quant_type(q.type, &q.o.load.quant, &q.o.load.quant_mix))
        return cli_fail("quantize: --type: unknown type '%s' (q8_0, q4, a GGUF block type such as q4_k, q6_k, "
                        "iq4_xs, or q4_k_m / q5_k_m)", q.type), 2;
    const char *dir = cli_model_path(q.dir, QWEN3_NEED_WEIGHTS, q.o.pull);
    if (!dir) return 1;
    if (!strcmp(dir, q.out)) return cli_fail("quantize: OUT_DIR must differ from MODEL"), 2;
    return quantize_dir(dir, q.out, q.type, &q.o);
}
