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

static int copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb");
    if (!in) return 0; /* optional file absent */
    FILE *out = fopen(dst, "wb");
    if (!out) { fclose(in); return cli_fail("%s: cannot open for writing", dst), -1; }
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) { rc = cli_fail("%s: write failed", dst); break; }
    if (ferror(in)) rc = cli_fail("%s: read failed", src);
    fclose(in);
    if (fclose(out) && !rc) rc = cli_fail("%s: write failed", dst);
    return rc;
}

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

int cmd_quantize(int argc, char **argv) {
    cli_model_opts o = {0};
    const char *dir = NULL, *out = NULL, *type = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
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
            return 0;
        }
        if (!strcmp(argv[i], "--type")) {
            if (!(type = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("--type needs a value (q8_0, q4, q4_k, q4_k_m, ...)"), 2;
            continue;
        }
        int r = cli_model_flag(argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r) continue;
        if (argv[i][0] == '-') return cli_fail("quantize: unknown flag '%s' (see qwen3 quantize --help)", argv[i]), 2;
        if (!dir) dir = argv[i];
        else if (!out) out = argv[i];
        else return cli_fail("quantize: unexpected argument '%s'", argv[i]), 2;
    }
    if (!dir || !out) return cli_fail("quantize: MODEL and OUT_DIR are required (see qwen3 quantize --help)"), 2;
    if (!type) return cli_fail("quantize: --type TYPE is required (q8_0, q4, q4_k, q4_k_m, ...)"), 2;
    size_t ol = strlen(out);
    if (ol > 5 && !strcmp(out + ol - 5, ".gguf")) return quantize_gguf(dir, out, type, &o);
    if (cli_quant_type(type, &o.load.quant, &o.load.quant_mix))
        return cli_fail("quantize: --type: unknown type '%s' (q8_0, q4, a GGUF block type such as q4_k, q6_k, "
                        "iq4_xs, or q4_k_m / q5_k_m)", type), 2;
    if (!strcmp(dir, out)) return cli_fail("quantize: OUT_DIR must differ from MODEL"), 2;
    char cfg[4096];
    struct stat st;
    if (snprintf(cfg, sizeof cfg, "%s/config.json", dir) >= (int)sizeof cfg || stat(cfg, &st) != 0)
        return cli_fail("quantize: %s has no config.json (a GGUF model?), so OUT_DIR would not be a model directory; "
                        "write a GGUF instead: qwen3 quantize MODEL OUT.gguf --type %s", dir, type), 2;
    if (mkdir(out, 0755) && errno != EEXIST) return cli_fail("%s: cannot create directory: %s", out, strerror(errno));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qwen3_model *m = cli_load_model(dir, &o);
    if (!m) return 1;
    qwen3_err e = {0};
    int rc = qwen3_model_save(m, out, &e) ? cli_fail("%s", e.msg) : 0;
    qwen3_model_free(m);
    static const char *files[] = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                  "vocab.json", "merges.txt", "chat_template.jinja", "special_tokens_map.json"};
    for (size_t i = 0; !rc && i < sizeof files / sizeof files[0]; i++) {
        char src[4096], dst[4096];
        if (snprintf(src, sizeof src, "%s/%s", dir, files[i]) >= (int)sizeof src ||
            snprintf(dst, sizeof dst, "%s/%s", out, files[i]) >= (int)sizeof dst)
            return cli_fail("quantize: path too long");
        if (copy_file(src, dst)) rc = 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc)
        fprintf(stderr, "qwen3: wrote %s (%s) in %.1f s\n", out, type,
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return rc;
}
