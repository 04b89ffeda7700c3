/* cmd_chat.c - `qwen3 chat MODEL`: interactive multi-turn chat.
 *
 * Line editing and history come from libedit (its native histedit API) when stdin is a terminal;
 * piped input is read line by line, so the command can be scripted and tested. Each user line is
 * added to the conversation, the WHOLE conversation is rendered with the model's chat template, and
 * qwen3_gen_new re-uses the longest prefix of it that the sequence's KV cache already holds, so only
 * the new part is prefilled (see the README, "Chat sessions", for what that prefix is after a
 * thinking turn). Lines that are exactly a command (below) are not sent to the model; anything else
 * is, unchanged, so "/think" or "/no_think" inside a message still reaches the model as Qwen3's soft
 * switch.
 *
 * Ctrl-C during an answer stops it (turn.c) and the partial answer stays in the history; at the
 * prompt it clears the line; Ctrl-D or /exit leaves. */
#include <ctype.h>
#include <errno.h>
#include <histedit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/turn.h"

static const char *CHAT_HELP =
    "  \"\"\"               begins a message of several lines; a line ending with \"\"\" ends it\n"
    "  //TEXT            sends /TEXT as a message (a line starting with an unknown /word is refused)\n"
    "  /think            thinking mode (the default)\n"
    "  /no_think         non-thinking mode\n"
    "  /budget N         thinking budget of N tokens per answer (/budget off: none)\n"
    "  /system TEXT      set the system message (/system alone removes it)\n"
    "  /reset            forget the conversation (keeps the system message and the settings)\n"
    "  /help             this list\n"
    "  /exit             leave (or Ctrl-D)\n";

static void usage(void) {
    printf("usage: qwen3 chat MODEL [flags]\n\n"
           "Interactive chat with line editing and history (kept between runs in\n"
           "$XDG_STATE_HOME/qwen3/chat_history, by default ~/.local/state/qwen3/chat_history). The\n"
           "conversation's KV cache is kept between turns: each answer only prefills what is new. Ctrl-C\n"
           "stops an answer. NO_COLOR (set and not empty) turns the dimmed reasoning off.\n\n"
           "Commands (a line that is exactly one of them):\n%s\n"
           "Flags:\n%s"
           "  --verbose             after each answer, print prompt and generation speed (and the\n"
           "                        draft's acceptance) to stderr\n"
           "%s%s",
           CHAT_HELP, CLI_GEN_FLAGS, CLI_DRAFT_FLAGS, CLI_MODEL_FLAGS_FAST);
}

/* One message of the conversation, owning its strings. */
typedef struct msg {
    char *role, *content, *reasoning;
    qwen3_chat_tool_call *calls;
    int n_calls;
} msg;

typedef struct conv {
    msg *m;
    int n, cap;
} conv;

static void msg_free(msg *x) {
    free(x->role);
    free(x->content);
    free(x->reasoning);
    for (int k = 0; k < x->n_calls; k++) {
        free((char *)x->calls[k].name);
        free((char *)x->calls[k].arguments);
    }
    free(x->calls);
    memset(x, 0, sizeof *x);
}

static int conv_push(conv *c, const char *role, const char *content, const char *reasoning) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        msg *nm = realloc(c->m, sizeof *nm * (size_t)cap);
        if (!nm) return -1;
        c->m = nm;
        c->cap = cap;
    }
    msg *x = &c->m[c->n];
    memset(x, 0, sizeof *x);
    x->role = strdup(role);
    x->content = strdup(content);
    x->reasoning = reasoning ? strdup(reasoning) : NULL;
    if (!x->role || !x->content || (reasoning && !x->reasoning)) {
        msg_free(x);
        return -1;
    }
    c->n++;
    return 0;
}

static void conv_clear(conv *c) {
    for (int i = 0; i < c->n; i++) msg_free(&c->m[i]);
    c->n = 0;
}

/* ---- line input ---- */

static volatile sig_atomic_t prompt_sigint;
static void on_prompt_sigint(int sig) {
    (void)sig;
    prompt_sigint = 1;
}

static int continuing; /* inside a """ message: the prompt says so */
static const char *prompt_fn(EditLine *el) {
    (void)el;
    return continuing ? "... " : ">>> ";
}

typedef struct input {
    EditLine *el;
    History *h;
    char *line; /* getline buffer for piped input */
    size_t cap;
    char hist_path[4096]; /* "" : no history file */
} input;

/* $XDG_STATE_HOME/qwen3/chat_history (else ~/.local/state/qwen3/chat_history), its directories
 * created; "" when there is no home to put it in. */
static void history_path(char *out, size_t n) {
    const char *st = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[4000];
    out[0] = 0;
    if (st && *st) snprintf(dir, sizeof dir, "%s", st);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.local/state", home);
    else return;
    /* mkdir -p, one component at a time */
    size_t len = strlen(dir);
    if (len + sizeof "/qwen3" > sizeof dir) return;
    memcpy(dir + len, "/qwen3", sizeof "/qwen3");
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(dir, 0700); *p = '/'; }
    if (mkdir(dir, 0700) && errno != EEXIST) return;
    snprintf(out, n, "%s/chat_history", dir);
}

/* Next line without its newline; NULL at end of input. An interrupted line comes back as "". */
static const char *read_line(input *in) {
    if (!in->el) {
        ssize_t n = getline(&in->line, &in->cap, stdin);
        if (n < 0) return NULL;
        while (n > 0 && (in->line[n - 1] == '\n' || in->line[n - 1] == '\r')) in->line[--n] = 0;
        return in->line;
    }
    int count;
    prompt_sigint = 0;
    const char *s = el_gets(in->el, &count);
    if (!s || count <= 0) {
        if (prompt_sigint || (count < 0 && errno == EINTR)) {
            fputc('\n', stdout);
            el_reset(in->el);
            return "";
        }
        return NULL;
    }
    size_t n = strlen(s);
    free(in->line);
    in->line = malloc(n + 1);
    if (!in->line) return NULL;
    memcpy(in->line, s, n + 1);
    while (n > 0 && (in->line[n - 1] == '\n' || in->line[n - 1] == '\r')) in->line[--n] = 0;
    if (n) {
        HistEvent ev;
        history(in->h, &ev, H_ENTER, in->line);
        if (in->hist_path[0]) history(in->h, &ev, H_SAVE, in->hist_path); /* every line: a crash keeps it */
    }
    return in->line;
}

/* The next message or command: a line, or with a line starting with \"\"\" every line up to one
 * ending with \"\"\" (the quotes dropped, the lines joined by newlines), as Ollama reads them.
 * malloc'd; NULL at end of input (a message cut short by it is dropped, with a note). */
static char *read_message(input *in) {
    const char *t = read_line(in);
    if (!t) return NULL;
    if (strncmp(t, "\"\"\"", 3)) return strdup(t);
    char *m = NULL;
    size_t len = 0;
    for (t += 3;;) {
        size_t n = strlen(t);
        int last = n >= 3 && !strcmp(t + n - 3, "\"\"\"");
        if (last) n -= 3;
        char *nm = realloc(m, len + n + 2);
        if (!nm) { free(m); return NULL; }
        m = nm;
        memcpy(m + len, t, n);
        len += n;
        m[len] = 0;
        if (last) return m;
        m[len++] = '\n';
        m[len] = 0;
        continuing = 1;
        prompt_sigint = 0;
        t = read_line(in);
        continuing = 0;
        if (t && prompt_sigint) { /* Ctrl-C inside the message drops it */
            free(m);
            return strdup("");
        }
        if (!t) {
            fprintf(stderr, "qwen3: the input ended inside a \"\"\" message; it was not sent\n");
            free(m);
            return NULL;
        }
    }
}

/* ---- the session ---- */

typedef struct session {
    const char *dir;
    qwen3_model *m;
    qwen3_tokenizer *tok;
    qwen3_seq *seq;
    qwen3_model *draft;      /* --draft, with its own cache kept across turns as the model's */
    qwen3_seq *draft_seq;
    int draft_n;
    int kind;
    int thinking;
    long budget;
    char *system;
    conv c;
    cli_gen_opts *go;
    int verbose, color;
} session;

static void warn_greedy(session *s) {
    qwen3_sampling sp;
    cli_gen_sampling(s->go, 1, s->dir, &sp);
    if (s->thinking && s->budget != 0 && sp.temperature == 0)
        fprintf(stderr, "qwen3: warning: greedy decoding in thinking mode tends to repeat itself endlessly; Qwen "
                        "recommends --temp 0.6 --top-p 0.95 --top-k 20\n");
}

/* Renders the conversation (system first) and answers the last user message. Returns 0, or 1 when
 * the turn could not run (the error is printed; the caller drops the user message). */
static int answer(session *s) {
    int n = s->c.n + (s->system ? 1 : 0), rc = 1;
    qwen3_chat_msg *mm = calloc((size_t)n, sizeof *mm);
    if (!mm) return cli_fail("out of memory");
    int k = 0;
    if (s->system) mm[k++] = (qwen3_chat_msg){.role = "system", .content = s->system};
    for (int i = 0; i < s->c.n; i++) {
        msg *x = &s->c.m[i];
        mm[k++] = (qwen3_chat_msg){.role = x->role, .content = x->content, .reasoning_content = x->reasoning,
                                   .tool_calls = x->calls, .n_tool_calls = x->n_calls};
    }
    long budget = s->budget;
    int think_mode = cli_think_mode(s->kind, s->thinking, &budget);
    qwen3_chat_opts co = {1, think_mode};
    qwen3_err e = {0};
    size_t len;
    int32_t *ids = NULL;
    cli_turn t = {0};
    char *prompt = qwen3_chat_render(s->kind, mm, n, NULL, 0, &co, &len, &e);
    if (!prompt) { cli_fail("%s", e.msg); goto done; }
    int n_ids = qwen3_encode(s->tok, prompt, len, 1, &ids, &e);
    if (n_ids < 0) { cli_fail("%s", e.msg); goto done; }
    qwen3_gen_params p = {0};
    cli_gen_sampling(s->go, think_mode, s->dir, &p.sampling);
    p.max_tokens = (int)s->go->max_tokens;
    p.think_budget = (int)budget;
    p.think_grace = (int)s->go->think_grace;
    p.in_think = qwen3_chat_prompt_opens_think(prompt, len);
    p.stop = s->go->stop;
    p.n_stop = s->go->n_stop;
    p.draft = s->draft;
    p.draft_seq = s->draft_seq;
    p.draft_n = s->draft_n;
    p.grammar = s->go->grammar;
    p.grammar_think = think_mode && !p.in_think;
    t.show = 1;
    t.parse = 1;
    t.in_think = p.in_think;
    t.hide_thinking = s->go->hide_thinking;
    t.color = s->color;
    if (cli_turn_run(s->m, s->tok, s->seq, ids, n_ids, &p, &t)) goto done;
    qwen3_chat_result r;
    qwen3_chat_parser_result(t.parser, &r);
    if (conv_push(&s->c, "assistant", r.content, r.reasoning_len ? r.reasoning : NULL)) { cli_fail("out of memory"); goto done; }
    msg *x = &s->c.m[s->c.n - 1];
    if (r.n_calls) {
        x->calls = calloc((size_t)r.n_calls, sizeof *x->calls);
        if (!x->calls) { cli_fail("out of memory"); goto done; }
        for (int j = 0; j < r.n_calls; j++) {
            x->calls[j].name = strdup(r.calls[j].name);
            x->calls[j].arguments = strdup(r.calls[j].arguments);
            x->n_calls = j + 1;
        }
    }
    if (s->verbose) cli_turn_print_stats(&t);
    rc = 0;
done:
    cli_turn_free(&t);
    free(ids);
    free(prompt);
    free(mm);
    return rc;
}

/* Handles a command line; returns 1 when it was one (or an unknown /word, refused), 2 for /exit,
 * 0 when the line is a message. */
static int command(session *s, const char *line) {
    const char *arg = strchr(line, ' ');
    size_t w = arg ? (size_t)(arg - line) : strlen(line);
    if (arg) while (*arg == ' ') arg++;
#define IS(name) (w == strlen(name) && !strncmp(line, name, w))
    if ((IS("/think") || IS("/no_think")) && !arg) {
        s->thinking = IS("/think");
        printf("%s mode\n", s->thinking ? "thinking" : "non-thinking");
        if (s->thinking && s->budget == 0) printf("(the thinking budget is 0: /budget off to allow thinking)\n");
        warn_greedy(s);
        return 1;
    }
    if (IS("/budget")) {
        long v;
        if (!arg || !*arg) printf("thinking budget: %s%ld\n", s->budget < 0 ? "off" : "", s->budget < 0 ? 0 : s->budget);
        else if (!strcmp(arg, "off")) s->budget = -1, printf("thinking budget: off\n");
        else if (arg[0] == '-') cli_fail("/budget: the budget must be a number of tokens >= 0 (or off), got '%s'", arg);
        else if (cli_int("/budget", arg, 0, 1 << 30, &v) == 0) s->budget = v, printf("thinking budget: %ld tokens\n", v);
        return 1;
    }
    if (IS("/system")) {
        free(s->system);
        s->system = arg && *arg ? strdup(arg) : NULL;
        printf(s->system ? "system message set\n" : "system message removed\n");
        return 1;
    }
    if (IS("/reset") && !arg) {
        conv_clear(&s->c);
        printf("conversation cleared\n");
        return 1;
    }
    if (IS("/help") && !arg) {
        fputs(CHAT_HELP, stdout);
        return 1;
    }
    if ((IS("/exit") || IS("/quit") || IS("/bye")) && !arg) return 2;
    /* Qwen3's soft switches inside a message reach the model */
    if ((IS("/think") || IS("/no_think")) && arg) return 0;
#undef IS
    /* any other /word (letters, digits, _ and -) at the start of a line is a mistyped command, not
     * a message; a path such as /usr/bin or a line starting with // is text */
    size_t k = 1;
    while (k < w && (isalnum((unsigned char)line[k]) || line[k] == '_' || line[k] == '-')) k++;
    if (line[0] == '/' && w > 1 && k == w) {
        fprintf(stderr, "qwen3: unknown command '%.*s' (/help lists them; start the line with // to send it as "
                        "a message)\n", (int)w, line);
        return 1;
    }
    return 0;
}

/* What `qwen3 chat` was asked: the flags and MODEL. */
typedef struct chat_opts {
    cli_model_opts mo;
    cli_gen_opts go;
    cli_draft_opts dro;
    const char *dir;
    int verbose;
} chat_opts;

/* argv -> o. 0: parsed; 1: --help printed; 2: a bad flag or argument (message printed). */
static int parse(int argc, char **argv, chat_opts *o) {
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { usage(); return 1; }
        int r = cli_model_flag(argc, argv, &i, &o->mo);
        if (r == 0) r = cli_gen_flag(argc, argv, &i, &o->go);
        if (r == 0) r = cli_draft_flag(argc, argv, &i, &o->dro);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) o->verbose = 1;
        else if (argv[i][0] == '-') return cli_fail("chat: unknown flag '%s' (see qwen3 chat --help)", argv[i]), 2;
        else if (!o->dir) o->dir = argv[i];
        else return cli_fail("chat: more than one MODEL given ('%s')", argv[i]), 2;
    }
    if (!o->dir) return cli_fail("chat: MODEL directory missing (see qwen3 chat --help)"), 2;
    return 0;
}

/* Loads what the session needs for MODEL at dir (a checked local path): template kind, tokenizer,
 * model and its sequence, the draft; and its settings from the flags. 0, or -1 (message printed);
 * the caller frees s (session_free) either way. */
static int session_open(session *s, chat_opts *o, const char *dir) {
    qwen3_err e = {0};
    s->dir = dir;
    if ((s->kind = cli_chat_kind(s->dir, &o->go)) < 0) return -1;
    s->tok = qwen3_tokenizer_load(s->dir, &e);
    if (!s->tok) return cli_fail("%s", e.msg), -1;
    s->m = cli_load_model(s->dir, &o->mo);
    if (!s->m) return -1;
    s->seq = qwen3_seq_new(s->m, o->mo.ctx, &e);
    if (!s->seq) return cli_fail("%s", e.msg), -1;
    if (o->dro.model) {
        if (!(s->draft = cli_draft_load(&o->dro, s->dir, s->m, s->tok, &o->mo))) return -1;
        if (!(s->draft_seq = qwen3_seq_new(s->draft, qwen3_seq_capacity(s->seq), &e))) return cli_fail("--draft: %s", e.msg), -1;
        s->draft_n = o->dro.n;
    }
    s->thinking = !o->go.no_think;
    s->budget = o->go.think_budget;
    s->system = o->go.system ? strdup(o->go.system) : NULL;
    s->go = &o->go;
    s->verbose = o->verbose;
    s->color = isatty(STDOUT_FILENO) && !cli_no_color();
    return 0;
}

static void session_free(session *s) {
    conv_clear(&s->c);
    free(s->c.m);
    free(s->system);
    qwen3_seq_free(s->seq);
    qwen3_model_free(s->m);
    qwen3_seq_free(s->draft_seq);
    qwen3_model_free(s->draft);
    qwen3_tokenizer_free(s->tok);
}

/* Line editing and the history file, for a terminal. 0, or -1 (message printed). */
static int input_open_tty(input *in) {
    in->el = el_init("qwen3", stdin, stdout, stderr);
    in->h = history_init();
    if (!in->el || !in->h) return cli_fail("cannot start line editing"), -1;
    HistEvent ev;
    history(in->h, &ev, H_SETSIZE, 1000);
    el_set(in->el, EL_PROMPT, prompt_fn);
    el_set(in->el, EL_EDITOR, "emacs");
    el_set(in->el, EL_HIST, history, in->h);
    el_set(in->el, EL_SIGNAL, 1);
    el_source(in->el, NULL); /* ~/.editrc, as other libedit programs */
    history_path(in->hist_path, sizeof in->hist_path);
    if (in->hist_path[0]) history(in->h, &ev, H_LOAD, in->hist_path); /* absent the first time */
    return 0;
}

/* The conversation: read a message, run a command or answer it, until /exit or the end of input.
 * 0, or 1 when memory ran out. */
static int chat_loop(session *s, input *in) {
    int rc = 0;
    char *msgbuf = NULL;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    for (;;) {
        free(msgbuf);
        char *line = msgbuf = read_message(in);
        if (!line) break;
        if (!*line) continue;
        int c = line[0] == '/' && line[1] == '/' ? 0 : command(s, line);
        if (c == 2) break;
        if (c == 1) continue;
        if (line[0] == '/' && line[1] == '/') line++; /* "//text" sends "/text" */
        if (conv_push(&s->c, "user", line, NULL)) { rc = cli_fail("out of memory"); break; }
        if (answer(s)) msg_free(&s->c.m[--s->c.n]); /* the turn did not run: forget the question */
        fflush(stdout);
    }
    free(msgbuf);
    if (in->el) fputc('\n', stdout);
    sigaction(SIGINT, &old, NULL);
    return rc;
}

int cmd_chat(int argc, char **argv) {
    chat_opts o = {0};
    o.mo.load.fast = 1; /* interactive use and serving: the fast path unless --exact */
    cli_gen_opts_init(&o.go);
    session s = {0};
    input in = {0};
    int rc = parse(argc, argv, &o);
    if (rc == 1) {
        rc = 0;
    } else if (!rc) {
        rc = 1;
        const char *dir = cli_model_path(o.dir, QWEN3_NEED_WEIGHTS | QWEN3_NEED_TOKENIZER |
                                                    (o.go.template_kind ? 0 : QWEN3_NEED_CHAT), o.mo.pull);
        int tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO); /* else piped input, line by line */
        if (dir && !session_open(&s, &o, dir) && (!tty || !input_open_tty(&in))) {
            if (tty)
                printf("qwen3 chat: %s (%s mode). /help for commands, Ctrl-D to leave.\n", s.dir,
                       s.thinking ? "thinking" : "non-thinking");
            warn_greedy(&s);
            rc = chat_loop(&s, &in);
        }
    }
    if (in.el) el_end(in.el);
    if (in.h) history_end(in.h);
    free(in.line);
    session_free(&s);
    cli_gen_opts_free(&o.go);
    return rc;
}
