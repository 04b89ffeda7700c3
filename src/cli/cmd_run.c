/* cmd_run.c - `qwen3 run MODEL "question"`: one chat turn, streamed (or one JSON object with --json).
 *
 * Everything that can be checked is checked before anything is printed: the flags, the chat
 * template, the tokenizer, the model, and the prompt's length against the context (qwen3_gen_new),
 * so a bad input never leaves half an answer on stdout. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/turn.h"

static void usage(void) {
    printf("usage: qwen3 run MODEL \"question\" [flags]      (flags, then -- before a question starting with -)\n"
           "       qwen3 run MODEL -f FILE [flags]         (the question from FILE; - for standard input)\n"
           "       echo question | qwen3 run MODEL [flags] (no question: standard input when it is not a terminal)\n\n"
           "One chat turn with the model's chat template, streamed as it is generated: the reasoning\n"
           "dimmed (on a terminal; between <think> lines otherwise), then the answer. Ctrl-C stops it.\n\n"
           "  -f, --file FILE       read the question from FILE (- : standard input)\n"
           "%s"
           "  --raw                 plain completion of the text, no chat template\n"
           "  --json                print one JSON object at the end instead of the stream:\n"
           "                        reasoning_content, content, tool_calls, token counts, ids, budget_hit,\n"
           "                        finish_reason, seed, timings (and the draft's counts)\n"
           "  --verbose             print prompt and generation speed (and the draft's acceptance) to\n"
           "                        stderr at the end\n"
           "%s%s",
           CLI_GEN_FLAGS, CLI_DRAFT_FLAGS, CLI_MODEL_FLAGS_FAST);
}

static const char *finish_name(qwen3_finish f) {
    switch (f) {
    case QWEN3_FINISH_STOP: return "stop";
    case QWEN3_FINISH_LENGTH: return "length";
    case QWEN3_FINISH_CANCEL: return "cancelled";
    default: return "none";
    }
}

/* Tokens of the answer: those after the last </think> (all of them when no block was opened),
 * without the end-of-turn token. */
static int answer_tokens(const qwen3_tokenizer *tok, const int32_t *ids, int n, int in_think) {
    int32_t open = qwen3_token_id(tok, "<think>"), close = qwen3_token_id(tok, "</think>");
    int32_t eos[2];
    qwen3_end_of_turn_ids(tok, eos);
    int start = 0, thinking = in_think;
    for (int k = 0; k < n; k++) {
        if (ids[k] == open) thinking = 1;
        if (ids[k] == close) { thinking = 0; start = k + 1; }
    }
    if (thinking) return 0;
    int end = n;
    if (end > start && (ids[end - 1] == eos[0] || ids[end - 1] == eos[1])) end--;
    return end - start;
}

static void print_json(const cli_turn *t, const qwen3_tokenizer *tok, int raw, const qwen3_sampling *s) {
    json_t *o = json_object(), *calls = json_array(), *ids = json_array(), *tm = json_object(), *sm = json_object();
    qwen3_chat_result r;
    if (raw) {
        json_object_set_new(o, "reasoning_content", json_string(""));
        json_object_set_new(o, "content", json_stringn(t->text, t->text_len));
    } else {
        qwen3_chat_parser_result(t->parser, &r);
        json_object_set_new(o, "reasoning_content", json_stringn(r.reasoning, r.reasoning_len));
        json_object_set_new(o, "content", json_stringn(r.content, r.content_len));
        for (int k = 0; k < r.n_calls; k++) {
            json_t *fn = json_pack("{s:s, s:s}", "name", r.calls[k].name, "arguments", r.calls[k].arguments);
            json_array_append_new(calls, json_pack("{s:s, s:o}", "type", "function", "function", fn));
        }
    }
    json_object_set_new(o, "tool_calls", calls);
    json_object_set_new(o, "finish_reason", json_string(finish_name(t->finish)));
    const qwen3_gen_stats *st = &t->stats;
    json_object_set_new(o, "prompt_tokens", json_integer(st->prompt_tokens));
    json_object_set_new(o, "cached_tokens", json_integer(st->cached_tokens));
    json_object_set_new(o, "completion_tokens", json_integer(st->generated_tokens));
    json_object_set_new(o, "thinking_tokens", json_integer(st->thinking_tokens));
    json_object_set_new(o, "answer_tokens", json_integer(answer_tokens(tok, t->ids, t->n_ids, t->in_think)));
    json_object_set_new(o, "budget_hit", json_boolean(st->budget_hit));
    for (int k = 0; k < t->n_ids; k++) json_array_append_new(ids, json_integer(t->ids[k]));
    json_object_set_new(o, "ids", ids);
    json_object_set_new(sm, "temperature", json_real(s->temperature));
    json_object_set_new(sm, "top_k", json_integer(s->top_k));
    json_object_set_new(sm, "top_p", json_real(s->top_p));
    json_object_set_new(sm, "min_p", json_real(s->min_p));
    json_object_set_new(sm, "presence_penalty", json_real(s->presence_penalty));
    json_object_set_new(sm, "frequency_penalty", json_real(s->frequency_penalty));
    json_object_set_new(sm, "repetition_penalty", json_real(s->repetition_penalty));
    json_object_set_new(sm, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(o, "sampling", sm);
    int prefilled = st->prompt_tokens - st->cached_tokens;
    json_object_set_new(tm, "prefill_ms", json_real(1e3 * st->prefill_seconds));
    json_object_set_new(tm, "decode_ms", json_real(1e3 * st->decode_seconds));
    json_object_set_new(tm, "sample_ms", json_real(1e3 * st->sample_seconds));
    json_object_set_new(tm, "grammar_ms", json_real(1e3 * st->grammar_seconds));
    json_object_set_new(tm, "grammar_masks", json_integer(st->grammar_masks));
    json_object_set_new(tm, "prefill_tokens_per_s", json_real(st->prefill_seconds > 0 ? prefilled / st->prefill_seconds : 0));
    json_object_set_new(tm, "decode_tokens_per_s",
                        json_real(st->decode_seconds > 0 ? (st->generated_tokens - 1) / st->decode_seconds : 0));
    json_object_set_new(o, "timings", tm);
    if (st->draft_steps)
        json_object_set_new(o, "draft", json_pack("{s:i, s:i, s:i, s:f, s:f}", "steps", st->draft_steps, "tokens",
                                                  st->draft_tokens, "accepted", st->draft_accepted, "acceptance",
                                                  st->draft_tokens ? (double)st->draft_accepted / st->draft_tokens : 0.0,
                                                  "draft_ms", 1e3 * st->draft_seconds));
    char *txt = json_dumps(o, JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
    if (txt) puts(txt);
    free(txt);
    json_decref(o);
}

/* The whole of FILE ("-": standard input) as the question, one final newline dropped (echo adds
 * it). NULL with the error printed when it cannot be read, is empty or holds a NUL byte. */
static char *read_question(const char *path) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    const char *name = f == stdin ? "standard input" : path;
    if (!f) return cli_fail("run: -f %s: cannot open: %s", path, strerror(errno)), NULL;
    size_t len = 0;
    const char *why = NULL;
    char *b = cli_read_all(f, (size_t)64 << 20, &len, &why);
    if (f != stdin) fclose(f);
    if (!b) return cli_fail("run: %s: %s", name, why), NULL;
    if (strlen(b) != len) { free(b); return cli_fail("run: %s holds a NUL byte; the question must be text", name), NULL; }
    if (len && b[len - 1] == '\n') b[--len] = 0;
    if (len && b[len - 1] == '\r') b[--len] = 0;
    if (!len) { free(b); return cli_fail("run: %s is empty: no question", name), NULL; }
    return b;
}

/* What `qwen3 run` was asked: the flags, MODEL and the question (as text or as a file to read). */
typedef struct run_opts {
    cli_model_opts mo;
    cli_gen_opts go;
    cli_draft_opts dro;
    const char *dir, *question, *qfile;
    int raw, as_json, verbose;
} run_opts;

/* argv -> o. 0: parsed; 1: --help printed; 2: a bad flag or argument (message printed). */
static int parse(int argc, char **argv, run_opts *o) {
    int flags_end = 0;
    for (int i = 1; i < argc; i++) {
        if (!flags_end && !strcmp(argv[i], "--")) { flags_end = 1; continue; } /* a question may start with '-' */
        if (flags_end) {
            if (!o->dir) o->dir = argv[i];
            else if (!o->question) o->question = argv[i];
            else return cli_fail("run: one question only (quote it): unexpected '%s'", argv[i]), 2;
            continue;
        }
        if (cli_is_help(argv[i])) { usage(); return 1; }
        int r = cli_model_flag(argc, argv, &i, &o->mo);
        if (r == 0) r = cli_gen_flag(argc, argv, &i, &o->go);
        if (r == 0) r = cli_draft_flag(argc, argv, &i, &o->dro);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) o->verbose = 1;
        else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--file")) {
            if (!(o->qfile = i + 1 < argc ? argv[++i] : NULL))
                return cli_fail("run: %s needs a file (- for standard input)", argv[i - 1]), 2;
        } else if (!strcmp(argv[i], "--raw")) o->raw = 1;
        else if (!strcmp(argv[i], "--json")) o->as_json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_fail("run: unknown flag '%s' (see qwen3 run --help)", argv[i]), 2;
        else if (!o->dir) o->dir = argv[i];
        else if (!o->question) o->question = argv[i];
        else return cli_fail("run: one question only (quote it): unexpected '%s'", argv[i]), 2;
    }
    return 0;
}

/* Settles MODEL (the default model when none is named) and the question (read from -f FILE or
 * standard input into *qbuf, which the caller frees). 0, or 2 with the message printed. */
static int settle(run_opts *o, char **qbuf) {
    /* one argument that names no model is the question, for the default model */
    if (o->dir && !o->question && !o->qfile && !cli_looks_like_model(o->dir)) { o->question = o->dir; o->dir = NULL; }
    if (!o->dir && (o->question || o->qfile || !isatty(STDIN_FILENO))) {
        if (!(o->dir = cli_default_model())) return 2;
    }
    if (!o->dir) return cli_fail("run: MODEL directory missing (see qwen3 run --help)"), 2;
    if (o->qfile && o->question) return cli_fail("run: give the question as text or as -f FILE, not both"), 2;
    if (!o->question && !o->qfile && !isatty(STDIN_FILENO)) o->qfile = "-";
    if (!o->question && !o->qfile)
        return cli_fail("run: the question is missing: qwen3 run MODEL \"question\" (or -f FILE, or on standard input)"), 2;
    if (!o->question && !(o->question = *qbuf = read_question(o->qfile))) return 2;
    if (o->raw && (o->go.system || o->go.no_think)) return cli_fail("run: --raw takes no chat options (--system, --no-think)"), 2;
    return 0;
}

/* The prompt text: the question in the chat template of kind (o->raw: the question as it is).
 * Sets *thinking (the sampling mode), *in_think (the prompt leaves a <think> block open) and
 * *budget (cli_think_mode's). NULL with e set on an error. */
static char *make_prompt(const run_opts *o, int kind, long *budget, int *thinking, int *in_think, qwen3_err *e) {
    if (o->raw) {
        *thinking = 1; /* the model may open <think> on its own: sample as in thinking mode */
        char *p = strdup(o->question);
        if (!p) qerr(e, "out of memory");
        return p;
    }
    *thinking = cli_think_mode(kind, !o->go.no_think, budget);
    qwen3_chat_msg msgs[2];
    int n = 0;
    if (o->go.system) msgs[n++] = (qwen3_chat_msg){.role = "system", .content = o->go.system};
    msgs[n++] = (qwen3_chat_msg){.role = "user", .content = o->question};
    qwen3_chat_opts co = {1, *thinking};
    size_t len;
    char *prompt = qwen3_chat_render(kind, msgs, n, NULL, 0, &co, &len, e);
    if (prompt) *in_think = qwen3_chat_prompt_opens_think(prompt, len);
    return prompt;
}

/* The generation's parameters from the flags (the draft is added by the caller). */
static void gen_params(const run_opts *o, const char *dir, int thinking, int in_think, long budget, qwen3_gen_params *p) {
    const cli_gen_opts *go = &o->go;
    cli_gen_sampling(go, thinking, dir, &p->sampling);
    if (thinking && p->sampling.temperature == 0 && !o->raw)
        fprintf(stderr, "qwen3: warning: greedy decoding in thinking mode tends to repeat itself endlessly; Qwen "
                        "recommends --temp 0.6 --top-p 0.95 --top-k 20\n");
    p->max_tokens = (int)go->max_tokens;
    p->think_budget = (int)budget;
    p->think_grace = (int)go->think_grace;
    p->in_think = in_think;
    p->stop = go->stop;
    p->n_stop = go->n_stop;
    p->grammar = go->grammar;
    p->grammar_think = thinking && !in_think;
}

/* The turn: template, tokenizer, model (and draft), then the streamed answer or --json's object.
 * dir is the checked local path of MODEL. 0, 130 when interrupted, 1 on an error (printed). */
static int run_turn(run_opts *o, const char *dir) {
    cli_gen_opts *go = &o->go;
    const int raw = o->raw;
    int rc = 1;
    qwen3_err e = {0};
    qwen3_tokenizer *tok = NULL;
    qwen3_model *m = NULL, *dm = NULL;
    qwen3_seq *seq = NULL, *dseq = NULL;
    char *prompt = NULL;
    int32_t *ids = NULL;
    cli_turn t = {0};
    int kind = -1, thinking = 0, in_think = 0;
    if (!raw && (kind = cli_chat_kind(dir, go)) < 0) goto done;
    tok = qwen3_tokenizer_load(dir, &e);
    if (!tok) { cli_fail("%s", e.msg); goto done; }
    long budget = go->think_budget;
    if (!(prompt = make_prompt(o, kind, &budget, &thinking, &in_think, &e))) { cli_fail("%s", e.msg); goto done; }
    int n_ids = qwen3_encode(tok, prompt, strlen(prompt), 1, &ids, &e);
    if (n_ids < 0) { cli_fail("%s", e.msg); goto done; }
    qwen3_gen_params p = {0};
    gen_params(o, dir, thinking, in_think, budget, &p);
    m = cli_load_model(dir, &o->mo);
    if (!m) goto done;
    seq = qwen3_seq_new(m, o->mo.ctx, &e);
    if (!seq) { cli_fail("%s", e.msg); goto done; }
    if (o->dro.model) {
        if (!(dm = cli_draft_load(&o->dro, dir, m, tok, &o->mo))) goto done;
        if (!(dseq = qwen3_seq_new(dm, qwen3_seq_capacity(seq), &e))) { cli_fail("--draft: %s", e.msg); goto done; }
        p.draft = dm;
        p.draft_seq = dseq;
        p.draft_n = o->dro.n;
    }
    t.show = !o->as_json;
    t.parse = !raw;
    t.in_think = in_think;
    t.hide_thinking = go->hide_thinking;
    t.color = !o->as_json && isatty(STDOUT_FILENO) && !cli_no_color();
    if (cli_turn_run(m, tok, seq, ids, n_ids, &p, &t)) goto done;
    if (o->as_json) print_json(&t, tok, raw, &p.sampling);
    if (o->verbose) cli_turn_print_stats(&t);
    rc = t.interrupted ? 130 : 0;
done:
    cli_turn_free(&t);
    free(ids);
    free(prompt);
    qwen3_seq_free(seq);
    qwen3_model_free(m);
    qwen3_seq_free(dseq);
    qwen3_model_free(dm);
    qwen3_tokenizer_free(tok);
    return rc;
}

int cmd_run(int argc, char **argv) {
    run_opts o = {0};
    o.mo.load.fast = 1; /* interactive use and serving: the fast path unless --exact */
    cli_gen_opts_init(&o.go);
    char *qbuf = NULL; /* the question read from -f FILE or standard input */
    int rc = parse(argc, argv, &o);
    if (rc == 1) rc = 0;
    else if (!rc && !(rc = settle(&o, &qbuf))) {
        const char *dir = cli_model_path(o.dir, QWEN3_NEED_WEIGHTS | QWEN3_NEED_TOKENIZER |
                                                    (o.raw || o.go.template_kind ? 0 : QWEN3_NEED_CHAT), o.mo.pull);
        rc = dir ? run_turn(&o, dir) : 1;
    }
    free(qbuf);
    cli_gen_opts_free(&o.go);
    return rc;
}
