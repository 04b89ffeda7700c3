/* cmd_embed.c - `qwen3 embed MODEL "text" ...`: embeddings of a Qwen3-Embedding checkpoint, one JSON
 * array per text on its own line (or base64 of the little-endian float32 values with --base64).
 *
 * Each text is encoded with special tokens as text becoming their ids (as the model's tokenizer
 * does), <|endoftext|> is appended (Qwen3-Embedding's tokenizer.json post-processor appends it to
 * every input; --no-eos leaves it out), and --instruct TASK prefixes a query the model card's way:
 * "Instruct: TASK\nQuery:" + text (documents take no instruction). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(void) {
    printf("usage: qwen3 embed MODEL \"text\" [\"text\" ...] [flags]\n\n"
           "Embeddings of a Qwen3-Embedding model: the last token's final hidden state (after the final\n"
           "norm), L2-normalised; one JSON array of floats per text, one per line.\n\n"
           "  --instruct TASK       a query: the text becomes \"Instruct: TASK\\nQuery:\" + text (the model\n"
           "                        card's format; documents take no instruction)\n"
           "  --no-eos              do not append <|endoftext|> (the model's tokenizer appends it)\n"
           "  --dimensions N        keep the first N values and normalise again (Matryoshka)\n"
           "%s",
           CLI_MODEL_FLAGS_EXACT);
}

int cmd_embed(int argc, char **argv) {
    cli_model_opts mo = {0};
    const char *dir = NULL, *task = NULL;
    const char **texts = calloc((size_t)argc, sizeof *texts);
    int n_texts = 0, eos = 1, rc = 2;
    long dims = 0;
    if (!texts) return cli_fail("embed: out of memory"), 1;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { usage(); free(texts); return 0; }
        int r = cli_model_flag(argc, argv, &i, &mo);
        if (r < 0) goto out;
        if (r) continue;
        if (!strcmp(argv[i], "--instruct")) {
            if (!(task = i + 1 < argc ? argv[++i] : NULL)) { cli_fail("embed: --instruct needs a task description"); goto out; }
        } else if (!strcmp(argv[i], "--no-eos")) eos = 0;
        else if (!strcmp(argv[i], "--dimensions")) {
            ++i;
            if (cli_int("--dimensions", i < argc ? argv[i] : NULL, 1, 1 << 20, &dims)) goto out;
        } else if (argv[i][0] == '-' && argv[i][1]) { cli_fail("embed: unknown flag '%s' (see qwen3 embed --help)", argv[i]); goto out; }
        else if (!dir) dir = argv[i];
        else texts[n_texts++] = argv[i];
    }
    if (!dir) { cli_fail("embed: MODEL missing (see qwen3 embed --help)"); goto out; }
    if (!n_texts) { cli_fail("embed: no text: qwen3 embed MODEL \"text\""); goto out; }
    if (!(dir = cli_model_path(dir, QWEN3_NEED_WEIGHTS | QWEN3_NEED_TOKENIZER, mo.pull))) { rc = 1; goto out; }
    rc = 1;
    qwen3_err e = {0};
    qwen3_tokenizer *tok = qwen3_tokenizer_load(dir, &e);
    qwen3_model *m = tok ? cli_load_model(dir, &mo) : NULL;
    float *v = NULL;
    if (!tok) { cli_fail("%s", e.msg); goto done; }
    if (!m) goto done;
    int H = qwen3_model_config(m)->hidden_size;
    if (dims > H) { cli_fail("embed: --dimensions %ld is more than the model's %d", dims, H); goto done; }
    int32_t end = qwen3_token_id(tok, "<|endoftext|>");
    if (eos && end < 0) { cli_fail("embed: the tokenizer has no <|endoftext|> to append (use --no-eos)"); goto done; }
    if (!(v = malloc(sizeof *v * (size_t)H))) { cli_fail("embed: out of memory"); goto done; }
    for (int k = 0; k < n_texts; k++) {
        char *text = NULL;
        if (task) {
            size_t need = strlen(task) + strlen(texts[k]) + 32;
            if ((text = malloc(need))) snprintf(text, need, "Instruct: %s\nQuery:%s", task, texts[k]);
        } else {
            text = strdup(texts[k]);
        }
        int32_t *ids = NULL;
        int n = text ? qwen3_encode(tok, text, strlen(text), 1, &ids, &e) : -1;
        free(text);
        if (n >= 0 && eos) {
            int32_t *ni = realloc(ids, sizeof *ni * (size_t)(n + 1));
            if (ni) { ids = ni; ids[n++] = end; }
            else n = -1;
        }
        if (n < 0 || qwen3_embed(m, ids, n, v, &e)) {
            free(ids);
            cli_fail("embed: text %d: %s", k + 1, e.msg[0] ? e.msg : "out of memory");
            goto done;
        }
        free(ids);
        int d = dims ? (int)dims : H;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)v[i] * v[i];
        double inv = dims && ss > 0 ? 1.0 / sqrt(ss) : 1.0;
        putchar('[');
        for (int i = 0; i < d; i++) printf("%s%.9g", i ? ", " : "", v[i] * inv);
        puts("]");
    }
    rc = 0;
done:
    free(v);
    qwen3_model_free(m);
    qwen3_tokenizer_free(tok);
out:
    free(texts);
    return rc;
}
