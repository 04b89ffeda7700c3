/* cmd_tokenize.c - `qwen3 tokenize MODEL "text"` and `qwen3 tokenize MODEL --jsonl`.
 *
 * MODEL is a model directory or one holding only the tokenizer files. The plain form prints the
 * ids comma-separated on one line (the format --ids flags of other commands read); --show prints
 * one token per line instead: id, tab, its bytes as a JSON string (bytes that are not UTF-8 on their
 * own as \xNN). --jsonl reads lines {"text": "...", "special": true} from stdin ("special" optional,
 * default true: added-token text such as <|im_start|> becomes its id) and writes {"ids": [...]}. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: qwen3 tokenize MODEL [--show] [--no-special] TEXT\n"
            "       qwen3 tokenize MODEL [--no-special] --jsonl < lines\n\n"
            "Encodes UTF-8 text with the model's tokenizer (tokenizer.json, or vocab.json + merges.txt).\n"
            "  TEXT           printed as ids separated by commas, e.g. 9707,11,1879\n"
            "  --show         one token per line: id, a tab, the token's bytes as a JSON string\n"
            "  --no-special   added-token text (<|im_start|>, <think>, ...) is encoded as plain text\n"
            "  --jsonl        stdin lines {\"text\": \"...\"} (optional \"special\": false) -> stdout\n"
            "                 lines {\"ids\": [...]}; stops at the first bad line (exit status 1)\n");
}

/* The token's bytes as a JSON string, with \xNN for bytes that do not form UTF-8 alone. */
static void print_piece(const char *p, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') printf("\\%c", c), i++;
        else if (c == '\n') printf("\\n"), i++;
        else if (c == '\r') printf("\\r"), i++;
        else if (c == '\t') printf("\\t"), i++;
        else if (c < 0x20 || c == 0x7F) printf("\\u%04x", c), i++;
        else if (c < 0x80) putchar(c), i++;
        else {
            /* a whole UTF-8 character inside this token prints as is */
            int need = c >= 0xF5 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
            int ok = need && i + (size_t)need <= n;
            for (int k = 1; ok && k < need; k++) ok = ((unsigned char)p[i + (size_t)k] & 0xC0) == 0x80;
            if (ok && need >= 3) {
                unsigned c1 = (unsigned char)p[i + 1]; /* no overlong forms, surrogates, > U+10FFFF */
                if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
                    (c == 0xF4 && c1 > 0x8F))
                    ok = 0;
            }
            if (ok) fwrite(p + i, 1, (size_t)need, stdout), i += (size_t)need;
            else printf("\\x%02X", c), i++;
        }
    }
    putchar('"');
}

static int run_jsonl(const qwen3_tokenizer *t, int special) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    qwen3_err err = {0};
    char *out = NULL;
    size_t ocap = 0;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (!n) continue;
        json_error_t je;
        json_t *o = json_loadb(line, n, JSON_ALLOW_NUL, &je);
        if (!o) {
            rc = cli_fail("stdin line %d column %d: invalid JSON: %s", lineno, je.column, je.text);
            break;
        }
        json_t *tx = json_object_get(o, "text"), *sp = json_object_get(o, "special");
        if (!json_is_object(o) || !json_is_string(tx)) {
            json_decref(o);
            rc = cli_fail("stdin line %d: expected an object with a string field \"text\"", lineno);
            break;
        }
        if (sp && !json_is_boolean(sp)) {
            json_decref(o);
            rc = cli_fail("stdin line %d: field \"special\" must be true or false", lineno);
            break;
        }
        int32_t *ids;
        int k = qwen3_encode(t, json_string_value(tx), json_string_length(tx), sp ? json_is_true(sp) : special, &ids,
                             &err);
        json_decref(o);
        if (k < 0) {
            rc = cli_fail("stdin line %d: field \"text\": %s", lineno, err.msg);
            break;
        }
        size_t need = 16 + 12 * (size_t)k;
        if (need > ocap) {
            free(out);
            ocap = need * 2;
            out = malloc(ocap);
            if (!out) {
                free(ids);
                rc = cli_fail("out of memory");
                break;
            }
        }
        size_t o2 = (size_t)sprintf(out, "{\"ids\": [");
        for (int i = 0; i < k; i++) o2 += (size_t)sprintf(out + o2, i ? ", %d" : "%d", ids[i]);
        o2 += (size_t)sprintf(out + o2, "]}\n");
        fwrite(out, 1, o2, stdout);
        free(ids);
    }
    free(line);
    free(out);
    if (fflush(stdout) != 0) rc = cli_fail("writing stdout failed");
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL;
    int show = 0, special = 1, jsonl = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--show")) show = 1;
        else if (!strcmp(argv[i], "--no-special")) special = 0;
        else if (!strcmp(argv[i], "--jsonl")) jsonl = 1;
        else if (!strcmp(argv[i], "--")) {
            if (i + 1 < argc && !model) model = argv[++i];
            if (i + 1 < argc && !text) text = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            usage(stderr);
            return cli_fail("tokenize: unknown flag %s", argv[i]);
        } else if (!model) model = argv[i];
        else if (!text) text = argv[i];
        else return cli_fail("tokenize: more than one TEXT ('%s'); quote the text", argv[i]);
    }
    if (!model) {
        usage(stderr);
        return cli_fail("tokenize: MODEL is missing");
    }
    if (!(model = cli_model_path(model, QWEN3_NEED_TOKENIZER, 0))) return 1;
    if (jsonl == !!text) {
        usage(stderr);
        return cli_fail(jsonl ? "tokenize: give TEXT or --jsonl, not both" : "tokenize: TEXT is missing (or use --jsonl)");
    }
    qwen3_err err = {0};
    qwen3_tokenizer *t = qwen3_tokenizer_load(model, &err);
    if (!t) return cli_fail("%s", err.msg);
    int rc = 0;
    if (jsonl) {
        rc = run_jsonl(t, special);
    } else {
        int32_t *ids;
        int k = qwen3_encode(t, text, strlen(text), special, &ids, &err);
        if (k < 0) {
            rc = cli_fail("TEXT: %s", err.msg);
        } else {
            for (int i = 0; i < k; i++) {
                if (show) {
                    size_t n;
                    const char *p = qwen3_token_bytes(t, ids[i], &n);
                    printf("%d\t", ids[i]);
                    print_piece(p, n);
                    putchar('\n');
                } else {
                    printf(i ? ",%d" : "%d", ids[i]);
                }
            }
            if (!show) putchar('\n');
            free(ids);
        }
    }
    qwen3_tokenizer_free(t);
    return rc;
}
