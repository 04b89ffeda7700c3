/* template.c - recognises the chat templates that render.c implements.
 *
 * We do not interpret Jinja; render.c is the Qwen3 templates' logic written in C. So before using it
 * we check that the model's template is one of those we implement, and say so plainly when it is not
 * (a fine-tune with a changed template must not be rendered with the wrong format silently).
 *
 * Matching is on a normalised text, so a copy that differs only in what Jinja discards still matches:
 * whitespace inside {{ }} / {% %} tags outside string literals is dropped (one space kept between
 * two words); string literals are
 * decoded (\n, \t, \r, \\, \', \") and re-quoted one way; whitespace-only text is dropped where a
 * "-" trim marker, trim_blocks (the newline after a block tag at the end) or the dropped final newline
 * removes it anyway; {# comments #} vanish. Any other text is kept, so it makes the match fail. The
 * fingerprints below are FNV-1a 64 of the normalised texts (with their lengths):
 *   - Qwen3 hybrid: the template of Qwen/Qwen3-0.6B's tokenizer_config.json (shared/qwen3-tokenizer),
 *     also used by the other Qwen3 hybrid models;
 *   - Instruct-2507 and Thinking-2507: the hybrid one with Qwen's 2507 edits (the instruct model
 *     keeps a think block only where reasoning is non-empty and its generation prompt has no think
 *     block; the thinking model's generation prompt always opens "<think>\n"), as
 *     tests/ref/chat_ref.py --variant builds them. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "format/gguf.h"
#include "format/mdir.h"
#include "chat/chat.h"
#include "qwen3.h"

static const struct {
    uint64_t hash;
    size_t len;
} known[QWEN3_CHAT_KIND_COUNT] = {
    [QWEN3_CHAT_QWEN3] = {0x956c340945f2da8dull, 2988},
    [QWEN3_CHAT_INSTRUCT_2507] = {0xab72931190697c7full, 2857},
    [QWEN3_CHAT_THINKING_2507] = {0xaa1d8dc36102e0ebull, 2897},
};

static const char *const kind_names[QWEN3_CHAT_KIND_COUNT] = {
    [QWEN3_CHAT_QWEN3] = "qwen3",
    [QWEN3_CHAT_INSTRUCT_2507] = "qwen3-instruct-2507",
    [QWEN3_CHAT_THINKING_2507] = "qwen3-thinking-2507",
};

const char *qwen3_chat_kind_name(qwen3_chat_kind k) {
    return (unsigned)k < QWEN3_CHAT_KIND_COUNT ? kind_names[k] : NULL;
}

int qwen3_chat_thinks(qwen3_chat_kind k, int enable_thinking) {
    return k == QWEN3_CHAT_THINKING_2507 || (k == QWEN3_CHAT_QWEN3 && enable_thinking);
}

int qwen3_chat_kind_parse(const char *s) {
    for (int k = 0; s && k < QWEN3_CHAT_KIND_COUNT; k++)
        if (!strcmp(s, kind_names[k])) return k;
    return -1;
}

uint64_t chat_fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || (c & 0x80);
}

/* Copies the inside of one tag (after its opening delimiter) up to and including its closing
 * delimiter `close` ("}}" or "%}"), normalised; returns the index after the tag, and sets *rtrim
 * when the tag ends with "-" (it eats the whitespace after it). */
static size_t copy_tag(const char *t, size_t n, size_t i, char close, sbuf *out, int *rtrim) {
    *rtrim = 0;
    int gap = 0;
    while (i < n) {
        char c = t[i];
        if (c == '\'' || c == '"') { /* a string literal: decode, re-quote with ' */
            char q = c;
            sb_putc(out, '\'');
            for (i++; i < n && t[i] != q; i++) {
                char d = t[i];
                if (d == '\\' && i + 1 < n) {
                    char e = t[++i];
                    d = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
                    if (e != 'n' && e != 't' && e != 'r' && e != '\\' && e != '\'' && e != '"') {
                        sb_putc(out, '\\'); /* an escape we do not decode: keep it as written */
                        sb_putc(out, '\\');
                    }
                }
                if (d == '\'' || d == '\\') sb_putc(out, '\\');
                sb_putc(out, d);
            }
            sb_putc(out, '\'');
            i++;
            continue;
        }
        if (c == '-' && i + 2 < n && t[i + 1] == close && t[i + 2] == '}') {
            sb_put(out, "-", 1);
            sb_putc(out, close);
            sb_putc(out, '}');
            *rtrim = 1;
            return i + 3;
        }
        if (c == close && i + 1 < n && t[i + 1] == '}') {
            sb_putc(out, close);
            sb_putc(out, '}');
            return i + 2;
        }
        if (is_ws(c)) {
            gap = 1;
        } else {
            /* keep one space between two words ("for tool in tools"), drop it elsewhere */
            if (gap && is_word(c) && out->len && is_word(out->s[out->len - 1])) sb_putc(out, ' ');
            gap = 0;
            sb_putc(out, c);
        }
        i++;
    }
    return n; /* unterminated: the text simply will not match */
}

void chat_template_normalize(const char *t, size_t n, sbuf *out) {
    size_t i = 0;
    int prev_rtrim = 0, prev_block = 0;
    while (i < n) {
        /* a text segment up to the next tag */
        size_t j = i;
        while (j < n && !(t[j] == '{' && j + 1 < n && (t[j + 1] == '{' || t[j + 1] == '%' || t[j + 1] == '#')))
            j++;
        int all_ws = 1;
        for (size_t k = i; k < j; k++)
            if (!is_ws(t[k])) all_ws = 0;
        int next_ltrim = j + 2 < n && t[j + 2] == '-';
        int at_end = j == n;
        /* at the end: trim_blocks eats one newline after a block tag, and Jinja drops one final
         * newline (keep_trailing_newline is off) */
        int end_eaten = at_end && prev_block && (j - i <= 2) && all_ws;
        if (j > i && !(all_ws && (prev_rtrim || next_ltrim || end_eaten))) {
            sb_put(out, "\x01", 1); /* marks text, so it cannot pose as tag contents */
            sb_put(out, t + i, j - i);
            sb_put(out, "\x01", 1);
        }
        if (at_end) break;
        char kind = t[j + 1];
        if (kind == '#') { /* comment: drop it, keep its trim markers' effect */
            size_t k = j + 2;
            while (k + 1 < n && !(t[k] == '#' && t[k + 1] == '}')) k++;
            prev_rtrim = k > j + 2 && t[k - 1] == '-';
            prev_block = 1;
            i = k + 2 <= n ? k + 2 : n;
            continue;
        }
        sb_putc(out, '{');
        sb_putc(out, kind);
        i = j + 2;
        if (i < n && t[i] == '-') { sb_putc(out, '-'); i++; }
        i = copy_tag(t, n, i, kind == '{' ? '}' : '%', out, &prev_rtrim);
        prev_block = kind == '%';
    }
}

int qwen3_chat_template_identify(const char *text, size_t len) {
    sbuf b = {0};
    chat_template_normalize(text, len, &b);
    int kind = -1;
    if (!b.oom) {
        uint64_t h = chat_fnv1a(b.s ? b.s : "", b.len);
        for (int k = 0; k < QWEN3_CHAT_KIND_COUNT; k++)
            if (known[k].len == b.len && known[k].hash == h) kind = k;
    }
    sb_free(&b);
    return kind;
}

/* The template text of dir: chat_template.jinja wins over tokenizer_config.json (transformers has saved
 * templates there since 4.47 and then prefers that file). *src names the file it came from. */
static char *read_template(const mdir *d, char *src, size_t src_cap, size_t *len, qwen3_err *err) {
    if (d->chat == MDIR_C_JINJA) return mdir_path(d, MDIR_TEMPLATE, src, src_cap, err) ? NULL : qfile_read(src, 1 << 20, len, err);
    if (d->chat != MDIR_C_TOK_CONFIG) {
        qerr(err, "%s: no chat template: neither chat_template.jinja nor tokenizer_config.json is there", d->dir);
        return NULL;
    }
    if (mdir_path(d, MDIR_TOK_CONFIG, src, src_cap, err)) return NULL;
    size_t n;
    char *cfg = qfile_read(src, 64u << 20, &n, err);
    if (!cfg) return NULL;
    json_error_t je;
    json_t *root = json_loadb(cfg, n, 0, &je);
    free(cfg);
    if (!root) {
        qerr(err, "%s: line %d column %d: %s", src, je.line, je.column, je.text);
        return NULL;
    }
    json_t *ct = json_object_get(root, "chat_template");
    if (json_is_array(ct)) { /* [{"name": ..., "template": ...}]: the "default" one */
        json_t *pick = NULL, *e;
        size_t i;
        json_array_foreach(ct, i, e) {
            json_t *nm = json_object_get(e, "name");
            if (json_is_string(nm) && !strcmp(json_string_value(nm), "default")) pick = json_object_get(e, "template");
        }
        ct = pick;
    }
    char *text = NULL;
    if (!json_is_string(ct)) {
        qerr(err, "%s: no \"chat_template\" string (nor chat_template.jinja beside it)", src);
    } else {
        *len = json_string_length(ct);
        text = malloc(*len + 1);
        if (text) {
            memcpy(text, json_string_value(ct), *len + 1);
        } else {
            qerr(err, "out of memory reading %s", src);
        }
    }
    json_decref(root);
    return text;
}

/* The tokenizer.chat_template string of a GGUF file. */
static char *read_gguf_template(const char *path, size_t *len, qwen3_err *err) {
    gguf_file g;
    if (gguf_open(&g, path, err)) return NULL;
    gguf_str t;
    char *text = NULL;
    int r = gguf_get_str(&g, "tokenizer.chat_template", &t, err);
    if (r == 0) qerr(err, "%s: no chat template: metadata key 'tokenizer.chat_template' is missing", path);
    if (r == 1 && !(text = malloc((size_t)t.n + 1))) qerr(err, "out of memory");
    if (text) {
        memcpy(text, t.p, (size_t)t.n);
        text[t.n] = 0;
        *len = (size_t)t.n;
    }
    gguf_close(&g);
    return text;
}

/* MODEL may be a GGUF file (or a directory holding one): its tokenizer.chat_template is used unless
 * chat_template.jinja or tokenizer_config.json sits beside it (mdir_gguf_chat). *src names the file
 * the text came from. */
static char *template_text(const char *path, char *src, size_t src_cap, size_t *len, qwen3_err *err) {
    mdir d;
    qwen3_err ge = {0};
    int r = mdir_open(path, &d, &ge);
    if (r < 0 && d.chat == MDIR_C_NONE) { /* ambiguous GGUF files, and no HF template beside them to take */
        qerr(err, "%s", ge.msg);
        return NULL;
    }
    if (mdir_gguf_chat(&d)) {
        snprintf(src, src_cap, "%s", d.gguf);
        return read_gguf_template(d.gguf, len, err);
    }
    return read_template(&d, src, src_cap, len, err);
}

int qwen3_chat_template_detect(const char *path, qwen3_err *err) {
    char src[4096];
    size_t len = 0;
    char *text = template_text(path, src, sizeof src, &len, err);
    if (!text) return -1;
    int kind = qwen3_chat_template_identify(text, len);
    free(text);
    if (kind < 0)
        return qerr(err, "%s: this chat template (%zu bytes) differs from the Qwen3 templates this engine implements "
                         "(qwen3, qwen3-instruct-2507, qwen3-thinking-2507), so prompts would not match what the model "
                         "expects; choose one of those explicitly to use it anyway", src, len);
    return kind;
}

char *chat_template_text(const char *path, size_t *len, qwen3_err *err) {
    char src[4096];
    return template_text(path, src, sizeof src, len, err);
}
