/* turn.c - the generation flags and one streamed turn, shared by `qwen3 run` and `qwen3 chat`.
 *
 * Display: the output goes through the chat parser (reasoning / content / tool calls, incremental),
 * so what is shown is what an API client would get. Reasoning is printed in ANSI dim when stdout is
 * a terminal, between "<think>" and "</think>" lines when it is not (a pipe keeps the split
 * visible), or not at all with --hide-thinking. Tool calls are shown as "[tool call] name {args}".
 *
 * Ctrl-C: while a turn runs, SIGINT only cancels the current generation (qwen3_gen_cancel is an
 * atomic store, safe in a handler); the previous disposition is restored when the turn ends. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/turn.h"

const char CLI_GEN_FLAGS[] =
    "  --no-think            non-thinking mode (the template pre-fills an empty <think></think>)\n"
    "  --think-budget N      at most N tokens of thinking, then the stop-thinking text is forced\n"
    "                        (0: no thinking at all, as --no-think)\n"
    "  --think-grace N       after the budget, up to N more tokens to reach the end of a line (0: off)\n"
    "  --hide-thinking       do not show the reasoning (it is still generated)\n"
    "  --system TEXT         system message\n"
    "  -n, --max-tokens N    generate at most N tokens, forced ones included (default 32768; 0: until\n"
    "                        the context is full)\n"
    "  --temp T              temperature (0: greedy); defaults per mode: thinking 0.6, non-thinking 0.7\n"
    "  --top-k K             (default 20; 0: off)\n"
    "  --top-p P             (thinking 0.95, non-thinking 0.8; 1: off)\n"
    "  --min-p P             (default 0: off)\n"
    "  --presence-penalty X  OpenAI presence penalty over the generated tokens (default 0)\n"
    "  --frequency-penalty X OpenAI frequency penalty over the generated tokens (default 0)\n"
    "  --repeat-penalty X    Hugging Face repetition penalty over prompt and output (default 1: off)\n"
    "  --seed N              random seed (default: a fresh one)\n"
    "  --stop STR            stop string, repeatable (not included in the output)\n"
    "  --template KIND       chat format when the model's template is not recognised: qwen3,\n"
    "                        qwen3-instruct-2507, qwen3-thinking-2507\n"
    "  --json-schema FILE    the answer is JSON valid against the JSON Schema in FILE (the subset in\n"
    "                        the README; thinking stays free, the answer after </think> is constrained)\n"
    "  --json-object         the answer is a JSON object\n"
    "  --grammar FILE        the answer follows the GBNF grammar in FILE (llama.cpp's format)\n";

void cli_gen_opts_init(cli_gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->temp = o->top_p = o->min_p = o->presence = o->frequency = o->repeat = NAN;
    o->top_k = -1;
    o->max_tokens = 32768; /* Qwen3 model cards: 32,768 output tokens suffice for most queries */
    o->think_budget = -1;
}

void cli_gen_opts_free(cli_gen_opts *o) {
    qwen3_grammar_free(o->grammar);
    o->grammar = NULL;
    free(o->stop);
    o->stop = NULL;
    o->n_stop = 0;
}

int cli_gen_flag(int argc, char **argv, int *i, cli_gen_opts *o) {
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    struct { const char *name; double *dst; double lo, hi; } nums[] = {
        {"--temp", &o->temp, 0, 100},
        {"--top-p", &o->top_p, 1e-9, 1},
        {"--min-p", &o->min_p, 0, 1},
        {"--presence-penalty", &o->presence, -100, 100},
        {"--frequency-penalty", &o->frequency, -100, 100},
        {"--repeat-penalty", &o->repeat, 1e-6, 100},
    };
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
        if (!strcmp(a, nums[k].name)) {
            ++*i;
            return cli_float(a, v, nums[k].lo, nums[k].hi, nums[k].dst) ? -1 : 1;
        }
    if (!strcmp(a, "--json-schema") || !strcmp(a, "--grammar") || !strcmp(a, "--json-object")) {
        if (o->grammar) return cli_fail("%s: one of --json-schema, --json-object, --grammar only", a), -1;
        qwen3_err e = {0};
        if (!strcmp(a, "--json-object")) {
            o->grammar = qwen3_grammar_json_schema(NULL, 0, &e);
        } else {
            ++*i;
            if (!v) return cli_fail("%s needs a file", a), -1;
            FILE *f = fopen(v, "rb");
            if (!f) return cli_fail("%s %s: cannot open: %s", a, v, strerror(errno)), -1;
            size_t n = 0;
            const char *why = NULL;
            char *b = cli_read_all(f, (size_t)16 << 20, &n, &why);
            fclose(f);
            if (!b) return cli_fail("%s %s: %s", a, v, why), -1;
            o->grammar = !strcmp(a, "--grammar") ? qwen3_grammar_gbnf(b, n, &e) : qwen3_grammar_json_schema(b, n, &e);
            free(b);
        }
        if (!o->grammar) return cli_fail("%s%s%s: %s", a, v && strcmp(a, "--json-object") ? " " : "",
                                         v && strcmp(a, "--json-object") ? v : "", e.msg), -1;
        return 1;
    }
    if (!strcmp(a, "--top-k")) {
        ++*i;
        return cli_int(a, v, 0, 1 << 30, &o->top_k) ? -1 : 1;
    }
    if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
        ++*i;
        return cli_int(a, v, 0, 1 << 30, &o->max_tokens) ? -1 : 1;
    }
    if (!strcmp(a, "--think-budget")) {
        ++*i;
        if (v && v[0] == '-' && v[1]) {
            cli_fail("--think-budget: the budget must be a number of tokens >= 0, got '%s'", v);
            return -1;
        }
        return cli_int(a, v, 0, 1 << 30, &o->think_budget) ? -1 : 1;
    }
    if (!strcmp(a, "--think-grace")) {
        ++*i;
        return cli_int(a, v, 0, 1 << 20, &o->think_grace) ? -1 : 1;
    }
    if (!strcmp(a, "--seed")) {
        ++*i;
        char *end;
        errno = 0;
        if (!v || !*v || *v == '-') return cli_fail("--seed: expected a non-negative integer, got '%s'", v ? v : ""), -1;
        unsigned long long s = strtoull(v, &end, 10);
        if (errno || *end) return cli_fail("--seed: expected a non-negative integer, got '%s'", v), -1;
        o->seed = s;
        o->seed_set = 1;
        return 1;
    }
    if (!strcmp(a, "--stop")) {
        ++*i;
        if (!v || !*v) return cli_fail("--stop needs a non-empty string"), -1;
        const char **ns = realloc(o->stop, sizeof *ns * (size_t)(o->n_stop + 1));
        if (!ns) return cli_fail("out of memory"), -1;
        o->stop = ns;
        o->stop[o->n_stop++] = v;
        return 1;
    }
    if (!strcmp(a, "--system")) {
        ++*i;
        if (!v) return cli_fail("--system needs a value"), -1;
        o->system = v;
        return 1;
    }
    if (!strcmp(a, "--template")) {
        ++*i;
        if (!v || qwen3_chat_kind_parse(v) < 0)
            return cli_fail("--template: expected qwen3, qwen3-instruct-2507 or qwen3-thinking-2507, got '%s'", v ? v : ""), -1;
        o->template_kind = v;
        return 1;
    }
    if (!strcmp(a, "--no-think")) return o->no_think = 1, 1;
    if (!strcmp(a, "--hide-thinking")) return o->hide_thinking = 1, 1;
    return 0;
}

static uint64_t fresh_seed(void) {
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&s, sizeof s, 1, f) != 1) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        s = (uint64_t)t.tv_sec * 1000000007ull ^ (uint64_t)t.tv_nsec;
    }
    if (f) fclose(f);
    return s >> 1; /* fits in a JSON integer that every reader takes as exact below 2^63 */
}

void cli_gen_sampling(const cli_gen_opts *o, int thinking, const char *model_dir, qwen3_sampling *s) {
    qwen3_sampling_defaults(s, thinking, model_dir);
    if (!isnan(o->temp)) s->temperature = (float)o->temp;
    if (!isnan(o->top_p)) s->top_p = (float)o->top_p;
    if (!isnan(o->min_p)) s->min_p = (float)o->min_p;
    if (!isnan(o->presence)) s->presence_penalty = (float)o->presence;
    if (!isnan(o->frequency)) s->frequency_penalty = (float)o->frequency;
    if (!isnan(o->repeat)) s->repetition_penalty = (float)o->repeat;
    if (o->top_k >= 0) s->top_k = (int)o->top_k;
    s->seed = o->seed_set ? o->seed : fresh_seed();
}

int cli_think_mode(int kind, int want, long *budget) {
    if (kind == QWEN3_CHAT_THINKING_2507 && !want) *budget = 0; /* it cannot render without <think> */
    return want && qwen3_chat_thinks((qwen3_chat_kind)kind, want) && *budget != 0;
}

int cli_chat_kind(const char *dir, const cli_gen_opts *o) {
    if (o->template_kind) return qwen3_chat_kind_parse(o->template_kind);
    qwen3_err e = {0};
    int k = qwen3_chat_template_detect(dir, &e);
    if (k < 0) cli_fail("%s (use --template KIND to choose a chat format, or --raw for no template)", e.msg);
    return k;
}

/* ---- one turn ---- */

static qwen3_gen *volatile current;
static volatile sig_atomic_t got_sigint;

static void on_sigint(int sig) {
    (void)sig;
    got_sigint = 1;
    qwen3_gen *g = current;
    if (g) qwen3_gen_cancel(g);
}

typedef struct view {
    cli_turn *t;
    int reasoning_open; /* the reasoning display is open (dim on, or "<think>" printed) */
    int printed;        /* anything printed */
    int last_nl;        /* the last byte printed was a newline */
} view;

static void out(view *v, const char *s, size_t n) {
    if (!n) return;
    fwrite(s, 1, n, stdout);
    v->printed = 1;
    v->last_nl = s[n - 1] == '\n';
}

static void close_reasoning(view *v) {
    if (!v->reasoning_open) return;
    if (v->t->color) {
        fputs("\x1b[0m", stdout);
        out(v, "\n\n", 2);
    } else {
        out(v, "\n</think>\n\n", 11);
    }
    v->reasoning_open = 0;
}

static void show_delta(view *v, const qwen3_chat_delta *d) {
    cli_turn *t = v->t;
    if (d->reasoning_len && !t->hide_thinking) {
        if (!v->reasoning_open) {
            if (t->color) fputs("\x1b[2m", stdout);
            else out(v, "<think>\n", 8);
            v->reasoning_open = 1;
        }
        out(v, d->reasoning, d->reasoning_len);
    }
    if (d->content_len || d->n_calls) close_reasoning(v);
    out(v, d->content, d->content_len);
    for (int k = 0; k < d->n_calls; k++) {
        if (v->printed && !v->last_nl) out(v, "\n", 1);
        const char *h = "[tool call] ";
        out(v, h, strlen(h));
        out(v, d->calls[k].name, strlen(d->calls[k].name));
        out(v, " ", 1);
        out(v, d->calls[k].arguments, strlen(d->calls[k].arguments));
        out(v, "\n", 1);
    }
    fflush(stdout);
}

int cli_turn_run(qwen3_model *m, const qwen3_tokenizer *tok, qwen3_seq *seq, const int32_t *prompt, int n_prompt,
                 const qwen3_gen_params *p, cli_turn *t) {
    qwen3_err e = {0};
    t->text = NULL;
    t->text_len = 0;
    t->ids = NULL;
    t->n_ids = 0;
    t->interrupted = 0;
    t->parser = qwen3_chat_parser_new(t->in_think, &e);
    if (!t->parser) return cli_fail("%s", e.msg);
    cli_warn_positions(m, n_prompt);
    qwen3_gen *g = qwen3_gen_new(m, tok, seq, prompt, n_prompt, p, &e);
    if (!g) return cli_fail("%s", e.msg);

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    got_sigint = 0;
    current = g;
    sigaction(SIGINT, &sa, &old);

    view v = {t, 0, 0, 1};
    sbuf text = {0};
    size_t ids_cap = 0;
    int rc = 0;
    qwen3_gen_out o;
    qwen3_chat_delta d;
    for (;;) {
        qwen3_gen_take(g, &o);
        if (o.n_ids) {
            if (arr_grow(&t->ids, &ids_cap, (size_t)t->n_ids + (size_t)o.n_ids, sizeof *t->ids)) {
                rc = cli_fail("out of memory");
                break;
            }
            memcpy(t->ids + t->n_ids, o.ids, sizeof *o.ids * (size_t)o.n_ids);
            t->n_ids += o.n_ids;
        }
        if (o.text_len) {
            if (sb_put(&text, o.text, o.text_len)) { rc = cli_fail("out of memory"); break; }
            if (t->parse) {
                if (qwen3_chat_parser_feed(t->parser, o.text, o.text_len, &d, &e)) { rc = cli_fail("%s", e.msg); break; }
                if (t->show) show_delta(&v, &d);
            } else if (t->show) {
                out(&v, o.text, o.text_len);
                fflush(stdout);
            }
        }
        if (o.finish) break;
        if (qwen3_gen_step(m, &g, 1, &e)) {
            if (t->show && v.printed) fputc('\n', stdout);
            rc = cli_fail("%s", e.msg);
            break;
        }
    }
    current = NULL;
    sigaction(SIGINT, &old, NULL);
    t->finish = o.finish;
    t->interrupted = o.finish == QWEN3_FINISH_CANCEL && got_sigint;
    t->text = sb_take(&text, &t->text_len); /* "" when nothing came (NULL only when out of memory) */
    if (!t->text && rc == 0) rc = cli_fail("out of memory");
    if (rc == 0 && t->parse) {
        if (qwen3_chat_parser_finish(t->parser, &d, &e)) rc = cli_fail("%s", e.msg);
        else if (t->show) show_delta(&v, &d);
    }
    if (t->show) {
        close_reasoning(&v);
        if (t->interrupted) {
            if (v.printed && !v.last_nl) fputc('\n', stdout);
            fputs("[interrupted]\n", stdout);
        } else if (v.printed && !v.last_nl) {
            fputc('\n', stdout);
        }
        fflush(stdout);
    }
    qwen3_gen_stats_get(g, &t->stats);
    qwen3_gen_free(g);
    return rc ? 1 : 0;
}

void cli_turn_free(cli_turn *t) {
    free(t->text);
    free(t->ids);
    qwen3_chat_parser_free(t->parser);
    t->text = NULL;
    t->ids = NULL;
    t->parser = NULL;
}

void cli_turn_print_stats(const cli_turn *t) {
    const qwen3_gen_stats *s = &t->stats;
    int prefilled = s->prompt_tokens - s->cached_tokens;
    fprintf(stderr,
            "prompt: %d tokens (%d cached, %d prefilled in %.0f ms, %.1f tok/s) | generated: %d tokens (%d thinking%s) "
            "in %.0f ms, %.1f tok/s\n",
            s->prompt_tokens, s->cached_tokens, prefilled, 1e3 * s->prefill_seconds,
            s->prefill_seconds > 0 ? prefilled / s->prefill_seconds : 0.0, s->generated_tokens, s->thinking_tokens,
            s->budget_hit ? ", budget hit" : "", 1e3 * s->decode_seconds,
            s->decode_seconds > 0 ? (s->generated_tokens - 1) / s->decode_seconds : 0.0);
    cli_draft_print_stats(s);
}
