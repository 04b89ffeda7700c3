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

/* What `qwen3 embed` was asked: the model flags, MODEL, the texts and their options. */
typedef struct embed_opts {
    cli_model_opts mo;
    const char *dir, *task; /* task: --instruct's description, or NULL */
    const char **texts;     /* argc entries, n_texts used */
    int n_texts, eos;
    long dims;              /* --dimensions, 0: the model's */
} embed_opts;

/* argv -> o (o->texts allocated by the caller). 0: parsed; 1: --help printed; 2: a bad flag. */
static int parse(int argc, char **argv, embed_opts *o) {
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { usage(); return 1; }
        int r = cli_model_flag(argc, argv, &i, &o->mo);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--instruct")) {
            if (!(o->task = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("embed: --instruct needs a task description"), 2;
        } else if (!strcmp(argv[i], "--no-eos")) o->eos = 0;
        else if (!strcmp(argv[i], "--dimensions")) {
            ++i;
            if (cli_int("--dimensions", i < argc ? argv[i] : NULL, 1, 1 << 20, &o->dims)) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) return cli_fail("embed: unknown flag '%s' (see qwen3 embed --help)", argv[i]), 2;
        else if (!o->dir) o->dir = argv[i];
        else o->texts[o->n_texts++] = argv[i];
    }
    if (!o->dir) return cli_fail("embed: MODEL missing (see qwen3 embed --help)"), 2;
    if (!o->n_texts) return cli_fail("embed: no text: qwen3 embed MODEL \"text\""), 2;
    return 0;
}

/* The ids of text k: "Instruct: TASK\nQuery:TEXT" with --instruct, then <|endoftext|> (end) unless
 * --no-eos. The count, or -1 (e set, or out of memory with e empty). */
static int text_ids(const embed_opts *o, const qwen3_tokenizer *tok, int k, int32_t end, int32_t **ids, qwen3_err *e) {
    char *text = NULL;
    if (o->task) {
        size_t need = strlen(o->task) + strlen(o->texts[k]) + 32;
        if ((text = malloc(need))) snprintf(text, need, "Instruct: %s\nQuery:%s", o->task, o->texts[k]);
    } else {
        text = strdup(o->texts[k]);
    }
    int n = text ? qwen3_encode(tok, text, strlen(text), 1, ids, e) : -1;
    free(text);
    if (n >= 0 && o->eos) {
        int32_t *ni = realloc(*ids, sizeof *ni * (size_t)(n + 1));
        if (ni) { *ids = ni; (*ids)[n++] = end; }
        else n = -1;
    }
    return n;
}

/* One vector per text, a JSON array per line. dir: MODEL's checked local path. 0, or 1 (printed). */
static int run_embed(const embed_opts *o, const char *dir) {
    int rc = 1;
    qwen3_err e = {0};
    qwen3_tokenizer *tok = qwen3_tokenizer_load(dir, &e);
    qwen3_model *m = tok ? cli_load_model(dir, &o->mo) : NULL;
    float *v = NULL;
    if (!tok) { cli_fail("%s", e.msg); goto done; }
    if (!m) goto done;
    int H = qwen3_model_config(m)->hidden_size;
    if (o->dims > H) { cli_fail("embed: --dimensions %ld is more than the model's %d", o->dims, H); goto done; }
    int32_t end = qwen3_token_id(tok, "<|endoftext|>");
    if (o->eos && end < 0) { cli_fail("embed: the tokenizer has no <|endoftext|> to append (use --no-eos)"); goto done; }
    if (!(v = malloc(sizeof *v * (size_t)H))) { cli_fail("embed: out of memory"); goto done; }
    for (int k = 0; k < o->n_texts; k++) {
        int32_t *ids = NULL;
        int n = text_ids(o, tok, k, end, &ids, &e);
        if (n < 0 || qwen3_embed(m, ids, n, v, &e)) {
            free(ids);
            cli_fail("embed: text %d: %s", k + 1, e.msg[0] ? e.msg : "out of memory");
            goto done;
        }
        free(ids);
        int d = o->dims ? (int)o->dims : H;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)v[i] * v[i];
        double inv = o->dims && ss > 0 ? 1.0 / sqrt(ss) : 1.0;
        putchar('[');
        for (int i = 0; i < d; i++) printf("%s%.9g", i ? ", " : "", v[i] * inv);
        puts("]");
    }
    rc = 0;
done:
    free(v);
    qwen3_model_free(m);
    qwen3_tokenizer_free(tok);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    embed_opts o = {0};
    o.eos = 1;
    if (!(o.texts = calloc((size_t)argc, sizeof *o.texts))) return cli_fail("embed: out of memory"), 1;
    int rc = parse(argc, argv, &o);
    if (rc == 1) rc = 0;
    else if (!rc) {
        const char *dir = cli_model_path(o.dir, QWEN3_NEED_WEIGHTS | QWEN3_NEED_TOKENIZER, o.mo.pull);
        rc = dir ? run_embed(&o, dir) : 1;
    }
    free(o.texts);
    return rc;
}
