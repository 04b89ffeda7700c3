/* cmd_serve.c - `qwen3 serve MODEL [flags]`: the OpenAI-compatible HTTP server (src/server/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static void help(void) {
    printf("usage: qwen3 serve MODEL [flags]\n\n"
           "Serves MODEL over HTTP with OpenAI's API: POST /v1/chat/completions, POST /v1/completions,\n"
           "GET /v1/models, GET /health, GET /metrics, POST /tokenize, POST /detokenize, and a web chat\n"
           "page at GET / (open it in a browser).\n"
           "Stops on SIGINT/SIGTERM after letting running requests finish.\n\n"
           "  --host ADDR          listening address (default 127.0.0.1; 0.0.0.0 for every interface)\n"
           "  --port N             listening port (default 8080; 0: any free port, printed at start)\n"
           "  --parallel N         requests decoding together, one batched step for all (default 4)\n"
           "  --queue N            requests waiting beyond those; more get 429 (default 64)\n"
           "  --api-key KEY        require 'Authorization: Bearer KEY' (all routes but /health)\n"
           "  --model-name NAME    the model id clients use (default: MODEL's directory name)\n"
           "  --chat-template K    qwen3, qwen3-instruct-2507 or qwen3-thinking-2507 (default: detect)\n"
           "  --timeout S          idle connection timeout in seconds (default 30)\n"
           "  --header-timeout S   a request's headers and body must all arrive within S seconds of\n"
           "                       the connection opening or of the previous answer (default 30)\n"
           "  --max-body BYTES     request body limit (default 8388608)\n"
           "  --max-conns N        open connections at most (default 256)\n"
           "  --max-conns-per-ip N open connections from one address at most (default: an eighth of\n"
           "                       --max-conns, 32)\n"
           "  --drain S            seconds running requests get to finish at shutdown (default 30)\n"
           "%s"
           "                        (the server's: every request decodes with the draft)\n"
           "%s", CLI_DRAFT_FLAGS, CLI_MODEL_FLAGS_FAST);
}

/* The last path component of dir, without trailing slashes, copied into buf. */
static const char *base_name(const char *dir, char *buf, size_t n) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t b = len;
    while (b > 0 && dir[b - 1] != '/') b--;
    snprintf(buf, n, "%.*s", (int)(len - b), dir + b);
    return buf;
}

int cmd_serve(int argc, char **argv) {
    srv_config c = {0};
    cli_model_opts mo = {0};
    cli_draft_opts dro = {0};
    mo.load.fast = 1; /* interactive use and serving: the fast path unless --exact */
    c.host = "127.0.0.1";
    c.port = 8080;
    c.parallel = 4;
    c.queue = 64;
    c.timeout_s = 30;
    c.max_body = 8u << 20;
    c.max_conns = 256;
    c.max_conns_per_ip = 0; /* an eighth of --max-conns */
    c.header_timeout_s = 30;
    c.drain_s = 30;
    c.chat_kind = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (cli_is_help(a)) { help(); return 0; }
        int r = cli_model_flag(argc, argv, &i, &mo);
        if (r == 0) r = cli_draft_flag(argc, argv, &i, &dro);
        if (r < 0) return 2;
        if (r) continue;
#define INT_FLAG(name, lo, hi, field) \
        if (!strcmp(a, name)) { if (cli_int(name, v, lo, hi, &x)) return 2; c.field = (int)x; i++; continue; }
        INT_FLAG("--port", 0, 65535, port)
        INT_FLAG("--parallel", 1, 256, parallel)
        INT_FLAG("--queue", 0, 1 << 20, queue)
        INT_FLAG("--timeout", 2, 86400, timeout_s)
        INT_FLAG("--header-timeout", 1, 86400, header_timeout_s)
        INT_FLAG("--max-conns", 1, 1 << 16, max_conns)
        INT_FLAG("--max-conns-per-ip", 1, 1 << 16, max_conns_per_ip)
        INT_FLAG("--drain", 0, 86400, drain_s)
#undef INT_FLAG
        if (!strcmp(a, "--max-body")) {
            if (cli_int(a, v, 1, 1L << 32, &x)) return 2;
            c.max_body = (size_t)x;
            i++;
        } else if (!strcmp(a, "--host") || !strcmp(a, "--api-key") || !strcmp(a, "--model-name") ||
                   !strcmp(a, "--chat-template")) {
            if (!v || !*v) return cli_fail("serve: %s needs a value", a), 2;
            if (!strcmp(a, "--host")) c.host = v;
            else if (!strcmp(a, "--api-key")) c.api_key = v;
            else if (!strcmp(a, "--model-name")) c.model_name = v;
            else if ((c.chat_kind = qwen3_chat_kind_parse(v)) < 0)
                return cli_fail("serve: --chat-template: unknown template '%s' (qwen3, qwen3-instruct-2507, qwen3-thinking-2507)", v), 2;
            i++;
        } else if (a[0] == '-') {
            return cli_fail("serve: unknown flag '%s' (see qwen3 serve --help)", a), 2;
        } else if (c.model_dir) {
            return cli_fail("serve: more than one MODEL given ('%s' and '%s')", c.model_dir, a), 2;
        } else {
            c.model_dir = a;
        }
    }
    if (!c.model_dir) return cli_fail("serve: MODEL directory missing (see qwen3 serve --help)"), 2;
    const char *typed = c.model_dir;
    int hub = qwen3_model_is_hub_name(typed);
    if (!(c.model_dir = cli_model_path(typed, QWEN3_NEED_WEIGHTS | QWEN3_NEED_TOKENIZER, mo.pull))) return 1;
    if (dro.model && !(c.draft_dir = cli_model_path(dro.model, QWEN3_NEED_WEIGHTS | QWEN3_NEED_TOKENIZER, mo.pull))) return 1;
    c.draft_n = dro.n;
    c.ctx = mo.ctx;
    c.load = mo.load;
    char name[256];
    /* a hub name is the id clients know the model by; a directory's last component otherwise */
    if (!c.model_name) c.model_name = hub ? typed : base_name(c.model_dir, name, sizeof name);
    return srv_run(&c);
}
