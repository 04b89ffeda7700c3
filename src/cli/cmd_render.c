/* cmd_render.c - `qwen3 render MODEL [--jsonl]`: chat requests -> prompt text, the Qwen3 chat format.
 *
 * The model directory only has to hold its tokenizer files: the chat template is read from
 * chat_template.jinja or tokenizer_config.json and must be one we implement (or be overridden with
 * --template). Without --jsonl the whole of stdin is one request and the prompt is written raw; with
 * --jsonl each line is a request and each answer a line {"prompt": "..."} written as Python's
 * json.dumps(ensure_ascii=False) writes it, so it can be compared byte for byte with a reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: qwen3 render MODEL [--jsonl] [--keep-going] [--template KIND]\n"
            "       qwen3 render --template KIND [--jsonl] ...\n\n"
            "Renders chat requests with the model's chat template (the Qwen3 format, in C, byte-identical to\n"
            "transformers' apply_chat_template). A request is a JSON object:\n"
            "  {\"messages\": [...], \"tools\": [...], \"add_generation_prompt\": true, \"enable_thinking\": false}\n"
            "(tools, add_generation_prompt (default false) and enable_thinking (default true) are optional).\n\n"
            "  MODEL            a model directory; only its tokenizer_config.json / chat_template.jinja is read\n"
            "  --jsonl          one request per stdin line, one {\"prompt\": \"...\"} line out for each;\n"
            "                   without it all of stdin is one request and the prompt is written raw\n"
            "  --keep-going     with --jsonl: answer a bad line with {\"error\": \"...\"} and go on (exit 1 at end)\n"
            "  --template KIND  qwen3 | qwen3-instruct-2507 | qwen3-thinking-2507: use this format whatever\n"
            "                   template MODEL carries\n");
}

/* Writes {"KEY": "TEXT"} and a newline, the string as Python's json.dumps writes it. -1 when out of
 * memory. */
static int put_json_line(const char *key, const char *text, size_t n) {
    size_t len;
    char *q = qwen3_json_string(text, n, &len);
    if (!q) return -1;
    printf("{\"%s\": ", key);
    fwrite(q, 1, len, stdout);
    fputs("}\n", stdout);
    free(q);
    return 0;
}

/* Renders one request; on success writes the answer, on failure reports it. Returns 0 or -1. */
static int one(qwen3_chat_kind kind, const char *req, size_t n, int jsonl, int keep_going, long line) {
    qwen3_err err = {0};
    size_t len = 0;
    char *prompt = qwen3_chat_render_json(kind, req, n, &len, &err);
    if (prompt) {
        int r = 0;
        if (jsonl) r = put_json_line("prompt", prompt, len);
        else fwrite(prompt, 1, len, stdout);
        free(prompt);
        if (r) return cli_fail("render: out of memory"), -1;
        return 0;
    }
    if (jsonl && keep_going) {
        char msg[1200];
        snprintf(msg, sizeof msg, "line %ld: %s", line, err.msg);
        if (put_json_line("error", msg, strlen(msg))) return cli_fail("render: out of memory"), -1;
    }
    if (jsonl) cli_fail("render: stdin line %ld: %s", line, err.msg);
    else cli_fail("render: %s", err.msg);
    return -1;
}

int cmd_render(int argc, char **argv) {
    const char *model = NULL, *tname = NULL;
    int jsonl = 0, keep_going = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--jsonl")) {
            jsonl = 1;
        } else if (!strcmp(argv[i], "--keep-going")) {
            keep_going = 1;
        } else if (!strcmp(argv[i], "--template")) {
            if (++i == argc) return cli_fail("--template needs a value (qwen3, qwen3-instruct-2507, qwen3-thinking-2507)");
            tname = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            usage(stderr);
            return cli_fail("render: unknown flag '%s'", argv[i]);
        } else if (!model) {
            model = argv[i];
        } else {
            return cli_fail("render: unexpected argument '%s' (one MODEL only)", argv[i]);
        }
    }
    int kind;
    if (tname) {
        if ((kind = qwen3_chat_kind_parse(tname)) < 0)
            return cli_fail("--template: unknown kind '%s' (expected qwen3, qwen3-instruct-2507 or qwen3-thinking-2507)",
                            tname);
    } else if (model) {
        qwen3_err err = {0};
        if (!(model = cli_model_path(model, QWEN3_NEED_CHAT, 0))) return 1;
        if ((kind = qwen3_chat_template_detect(model, &err)) < 0) return cli_fail("render: %s", err.msg);
    } else {
        usage(stderr);
        return cli_fail("render: needs MODEL (or --template KIND)");
    }
    int failed = 0;
    if (!jsonl) {
        size_t len = 0;
        const char *why = NULL;
        char *in = cli_read_all(stdin, (size_t)-1, &len, &why);
        if (!in) return cli_fail("render: standard input: %s", why);
        failed = one((qwen3_chat_kind)kind, in, len, 0, 0, 0) != 0;
        free(in);
        return failed;
    }
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t k = (size_t)n;
        while (k && (line[k - 1] == '\n' || line[k - 1] == '\r')) k--;
        size_t s = 0;
        while (s < k && (line[s] == ' ' || line[s] == '\t')) s++;
        if (s == k) continue; /* blank lines are not requests */
        if (one((qwen3_chat_kind)kind, line, k, 1, keep_going, lineno)) {
            failed = 1;
            if (!keep_going) break;
        }
        fflush(stdout);
    }
    free(line);
    return failed;
}
