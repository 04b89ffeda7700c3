/* cmd_detokenize.c - `qwen3 detokenize MODEL IDS` and `qwen3 detokenize MODEL --jsonl`.
 *
 * IDS is comma-separated (as `qwen3 tokenize` prints them); the text is written as is, followed by
 * a newline. --jsonl reads lines {"ids": [...], "skip_special_tokens": false} from stdin (the flag is
 * optional, default false) and writes {"text": "..."}. Invalid UTF-8 produced by the ids becomes
 * U+FFFD exactly where Hugging Face tokenizers puts it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: qwen3 detokenize MODEL [--skip-special] IDS\n"
            "       qwen3 detokenize MODEL --jsonl < lines\n\n"
            "Decodes token ids to UTF-8 text with the model's tokenizer.\n"
            "  IDS              comma-separated ids, e.g. 9707,11,1879\n"
            "  --skip-special   drop special tokens (<|im_start|>, <|endoftext|>, ...)\n"
            "  --jsonl          stdin lines {\"ids\": [...], \"skip_special_tokens\": false} -> stdout\n"
            "                   lines {\"text\": \"...\"}; stops at the first bad line (exit status 1)\n"
            "  --stream         decode through the streaming decoder, one id at a time (same text)\n");
}

/* The text of ids through the streaming decoder (qwen3_detok_feed per id, then the flush): the
 * same text as qwen3_decode gives, which the tests check. */
static char *decode_streamed(const qwen3_tokenizer *t, const int32_t *ids, int n, int skip, size_t *len, qwen3_err *err) {
    size_t cap = qwen3_detok_cap(t), o = 0, size = cap + 4;
    char *out = malloc(size);
    qwen3_detok d = {0};
    for (int i = 0; out && i < n; i++) {
        if (o + cap + 4 > size) {
            size = 2 * size + cap;
            char *nb = realloc(out, size);
            if (!nb) {
                free(out);
                out = NULL;
                break;
            }
            out = nb;
        }
        int k = qwen3_detok_feed(t, &d, ids[i], skip, out + o, cap, err);
        if (k < 0) {
            free(out);
            return NULL;
        }
        o += (size_t)k;
    }
    if (!out) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    o += (size_t)qwen3_detok_flush(t, &d, out + o, 4);
    *len = o;
    return out;
}

static int run_jsonl(const qwen3_tokenizer *t, int skip_default, int stream) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    qwen3_err err = {0};
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (!n) continue;
        json_error_t je;
        json_t *o = json_loadb(line, n, 0, &je);
        if (!o) {
            rc = cli_fail("stdin line %d column %d: invalid JSON: %s", lineno, je.column, je.text);
            break;
        }
        json_t *a = json_object_get(o, "ids"), *sk = json_object_get(o, "skip_special_tokens");
        if (!json_is_object(o) || !json_is_array(a)) {
            json_decref(o);
            rc = cli_fail("stdin line %d: expected an object with an array field \"ids\"", lineno);
            break;
        }
        if (sk && !json_is_boolean(sk)) {
            json_decref(o);
            rc = cli_fail("stdin line %d: field \"skip_special_tokens\" must be true or false", lineno);
            break;
        }
        size_t k = json_array_size(a);
        int32_t *ids = malloc(sizeof *ids * (k ? k : 1));
        if (!ids) {
            json_decref(o);
            rc = cli_fail("out of memory");
            break;
        }
        for (size_t i = 0; i < k && !rc; i++) {
            json_t *v = json_array_get(a, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
                rc = cli_fail("stdin line %d: ids[%zu] is not a non-negative integer", lineno, i);
            else ids[i] = (int32_t)json_integer_value(v);
        }
        int skip = sk ? json_is_true(sk) : skip_default;
        json_decref(o);
        if (rc) {
            free(ids);
            break;
        }
        size_t len;
        char *text = stream ? decode_streamed(t, ids, (int)k, skip, &len, &err) : qwen3_decode(t, ids, (int)k, skip, &len, &err);
        free(ids);
        if (!text) {
            rc = cli_fail("stdin line %d: field \"ids\": %s", lineno, err.msg);
            break;
        }
        json_t *out = json_pack("{s:s%}", "text", text, len);
        free(text);
        char *s = out ? json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(out);
        if (!s) {
            rc = cli_fail("stdin line %d: cannot write the text as JSON", lineno);
            break;
        }
        puts(s);
        free(s);
    }
    free(line);
    if (fflush(stdout) != 0) rc = cli_fail("writing stdout failed");
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    const char *model = NULL, *idstr = NULL;
    int skip = 0, jsonl = 0, stream = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--skip-special")) skip = 1;
        else if (!strcmp(argv[i], "--jsonl")) jsonl = 1;
        else if (!strcmp(argv[i], "--stream")) stream = 1;
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            usage(stderr);
            return cli_fail("detokenize: unknown flag %s", argv[i]);
        } else if (!model) model = argv[i];
        else if (!idstr) idstr = argv[i];
        else return cli_fail("detokenize: unexpected argument '%s'", argv[i]);
    }
    if (!model) {
        usage(stderr);
        return cli_fail("detokenize: MODEL is missing");
    }
    if (!(model = cli_model_path(model, QWEN3_NEED_TOKENIZER, 0))) return 1;
    if (jsonl == !!idstr) {
        usage(stderr);
        return cli_fail(jsonl ? "detokenize: give IDS or --jsonl, not both" : "detokenize: IDS is missing (or use --jsonl)");
    }
    int32_t *ids = NULL;
    int n = 0;
    if (idstr && cli_ids("IDS", idstr, &ids, &n) != 0) return 1;
    qwen3_err err = {0};
    qwen3_tokenizer *t = qwen3_tokenizer_load(model, &err);
    if (!t) {
        free(ids);
        return cli_fail("%s", err.msg);
    }
    int rc = 0;
    if (jsonl) {
        rc = run_jsonl(t, skip, stream);
    } else {
        size_t len;
        char *text = stream ? decode_streamed(t, ids, n, skip, &len, &err) : qwen3_decode(t, ids, n, skip, &len, &err);
        if (!text) rc = cli_fail("IDS: %s", err.msg);
        else {
            fwrite(text, 1, len, stdout);
            putchar('\n');
            free(text);
        }
    }
    free(ids);
    qwen3_tokenizer_free(t);
    return rc;
}
