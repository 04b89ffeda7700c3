/* test_mdir.c - the one owner of "which files a model holds" (format/mdir.c) on a table of
 * directories built here (empty files, and GGUF files of four magic bytes: only names and the
 * magic are looked at): the kind of each path, its weights, tokenizer and chat template files and
 * which of them wins; and that the public answers built on it agree (qwen3_model_format,
 * qwen3_model_holds and qwen3_model_resolve for each need), so the loader's rule and the MODEL
 * check cannot drift apart again. Then the names (GGUF, split sets, safetensors, side files) and
 * the copy of a directory's side files.
 * Injections tried: tokenizer_config.json winning over chat_template.jinja (hf-index fails); a .gguf
 * winning over config.json (hf-and-gguf fails); ".gguf" matched case-sensitively (gguf-upper fails);
 * the index losing to model.safetensors (hf-index fails). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "format/mdir.h"
#include "qwen3.h"
#include "test.h"

static char root[256];

/* root/dir/name, created: "G" files start with the GGUF magic, others hold their own name. */
static void put(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, dir);
    mkdir(p, 0755);
    int magic = name[0] == '!';
    snprintf(p, sizeof p, "%s/%s/%s", root, dir, name + magic);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(2); }
    fputs(magic ? "GGUF" : name, f);
    fclose(f);
}

typedef struct layout {
    const char *name;
    const char *files[8]; /* "!x" : a file x with the GGUF magic */
    const char *path;     /* the path given (relative to the layout's directory), or "" for the directory */
    int rc;               /* mdir_open's return */
    mdir_kind kind;
    const char *gguf;     /* kind GGUF: the file's name */
    mdir_weights weights;
    mdir_tok tok;
    mdir_chat chat;
    int gguf_tok, gguf_chat; /* the GGUF's own tokenizer / template serve */
    int holds[3];         /* qwen3_model_holds for NEED_WEIGHTS, NEED_TOKENIZER, NEED_CHAT */
} layout;

static const layout L[] = {
    {"hf-full", {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}, "", 0, MDIR_HF, NULL,
     MDIR_W_SINGLE, MDIR_T_JSON, MDIR_C_TOK_CONFIG, 0, 0, {1, 1, 1}},
    {"hf-index", {"config.json", "model.safetensors.index.json", "model.safetensors", "vocab.json", "merges.txt",
                  "chat_template.jinja", "tokenizer_config.json"}, "", 0, MDIR_HF, NULL,
     MDIR_W_INDEX, MDIR_T_VOCAB_MERGES, MDIR_C_JINJA, 0, 0, {1, 1, 1}},
    {"hf-shards", {"config.json", "model-00001-of-00002.safetensors", "tokenizer.json", "vocab.json"}, "", 0, MDIR_HF,
     NULL, MDIR_W_OTHER, MDIR_T_JSON, MDIR_C_NONE, 0, 0, {1, 1, 0}},
    {"hf-no-weights", {"config.json", "tokenizer.json"}, "", 0, MDIR_HF, NULL, MDIR_W_NONE, MDIR_T_JSON, MDIR_C_NONE, 0, 0,
     {0, 1, 0}},
    {"tokenizer-only", {"tokenizer.json", "tokenizer_config.json"}, "", 0, MDIR_NONE, NULL, MDIR_W_NONE, MDIR_T_JSON,
     MDIR_C_TOK_CONFIG, 0, 0, {0, 1, 1}},
    {"vocab-only", {"vocab.json"}, "", 0, MDIR_NONE, NULL, MDIR_W_NONE, MDIR_T_VOCAB_ONLY, MDIR_C_NONE, 0, 0, {0, 0, 0}},
    {"merges-only", {"merges.txt"}, "", 0, MDIR_NONE, NULL, MDIR_W_NONE, MDIR_T_MERGES_ONLY, MDIR_C_NONE, 0, 0, {0, 0, 0}},
    {"gguf-dir", {"!m.gguf"}, "", 0, MDIR_GGUF, "m.gguf", MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 1, 1, {1, 1, 1}},
    {"gguf-file", {"!m.gguf", "notes.txt"}, "m.gguf", 0, MDIR_GGUF, "m.gguf", MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 1, 1,
     {1, 1, 1}},
    {"gguf-magic", {"!model.bin"}, "model.bin", 0, MDIR_GGUF, "model.bin", MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 1, 1,
     {1, 1, 1}},
    {"gguf-hf-beside", {"!m.gguf", "tokenizer.json", "chat_template.jinja"}, "", 0, MDIR_GGUF, "m.gguf", MDIR_W_NONE,
     MDIR_T_JSON, MDIR_C_JINJA, 0, 0, {1, 1, 1}},
    {"gguf-vocab-beside", {"!m.gguf", "vocab.json", "tokenizer_config.json"}, "m.gguf", 0, MDIR_GGUF, "m.gguf",
     MDIR_W_NONE, MDIR_T_VOCAB_ONLY, MDIR_C_TOK_CONFIG, 0, 0, {1, 1, 1}},
    {"hf-and-gguf", {"config.json", "model.safetensors", "!m.gguf"}, "", 0, MDIR_HF, NULL, MDIR_W_SINGLE, MDIR_T_NONE,
     MDIR_C_NONE, 0, 0, {1, 0, 0}},
    {"gguf-upper", {"!M.GGUF"}, "", 0, MDIR_GGUF, "M.GGUF", MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 1, 1, {1, 1, 1}},
    {"split-set", {"!m-00002-of-00002.gguf", "!m-00001-of-00002.gguf"}, "", 0, MDIR_GGUF, "m-00001-of-00002.gguf",
     MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 1, 1, {1, 1, 1}},
    {"split-later-file", {"!m-00002-of-00002.gguf", "!m-00001-of-00002.gguf"}, "m-00002-of-00002.gguf", -1, MDIR_NONE,
     NULL, MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 0, 0, {0, 0, 0}},
    {"split-later-only", {"!m-00002-of-00002.gguf", "tokenizer.json"}, "", -1, MDIR_NONE, NULL, MDIR_W_NONE, MDIR_T_JSON,
     MDIR_C_NONE, 0, 0, {0, 0, 0}},
    {"two-ggufs", {"!a.gguf", "!b.gguf"}, "", -1, MDIR_NONE, NULL, MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 0, 0, {0, 0, 0}},
    {"empty", {"README.md"}, "", 0, MDIR_NONE, NULL, MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 0, 0, {0, 0, 0}},
    {"missing", {NULL}, "nothing-here", 0, MDIR_NONE, NULL, MDIR_W_NONE, MDIR_T_NONE, MDIR_C_NONE, 0, 0, {0, 0, 0}},
};
#define NL ((int)(sizeof L / sizeof L[0]))
enum { PER_LAYOUT = 3 }; /* checks per layout: mdir_open's answer, the public answers, resolve per need */

static void check_layout(const layout *l) {
    char dir[512], path[1024], name[96];
    snprintf(dir, sizeof dir, "%s/%s", root, l->name);
    if (l->files[0]) mkdir(dir, 0755);
    for (int i = 0; i < 8 && l->files[i]; i++) put(l->name, l->files[i]);
    snprintf(path, sizeof path, "%s%s%s", dir, l->path[0] ? "/" : "", l->path);
    mdir d;
    qwen3_err e = {0};
    int rc = mdir_open(path, &d, &e);
    char want_gguf[1024] = "";
    if (l->gguf) snprintf(want_gguf, sizeof want_gguf, "%s/%s", dir, l->gguf);
    int ok = rc == l->rc && (rc || d.kind == l->kind) && d.tok == l->tok && d.chat == l->chat &&
             (rc || d.weights == l->weights) && (rc || !strcmp(d.gguf, want_gguf)) && (rc || mdir_gguf_tokenizer(&d) == l->gguf_tok) &&
             (rc || mdir_gguf_chat(&d) == l->gguf_chat) && (!l->files[0] || !strcmp(d.dir, dir));
    snprintf(name, sizeof name, "mdir-%s", l->name);
    CHECK(ok, name, "rc %d (want %d, %s) kind %d (want %d) weights %d (%d) tok %d (%d) chat %d (%d) gguf '%s' ('%s') "
          "gguf tok/chat %d %d (%d %d) dir '%s'", rc, l->rc, e.msg, d.kind, l->kind, d.weights, l->weights, d.tok, l->tok,
          d.chat, l->chat, d.gguf, want_gguf, mdir_gguf_tokenizer(&d), mdir_gguf_chat(&d), l->gguf_tok, l->gguf_chat, d.dir);
    /* the public answers are this rule's */
    int fmt = qwen3_model_format(path);
    int want_fmt = l->rc ? QWEN3_FORMAT_NONE : l->kind == MDIR_HF ? QWEN3_FORMAT_HF : l->kind == MDIR_GGUF ? QWEN3_FORMAT_GGUF
                                                                                                          : QWEN3_FORMAT_NONE;
    const int needs[3] = {QWEN3_NEED_WEIGHTS, QWEN3_NEED_TOKENIZER, QWEN3_NEED_CHAT};
    int holds_ok = 1, resolve_ok = 1;
    char got[64] = "";
    for (int k = 0; k < 3; k++) {
        int h = qwen3_model_holds(path, needs[k]);
        holds_ok &= h == l->holds[k];
        char out[1024];
        qwen3_err re = {0};
        /* a path that exists: resolve accepts exactly what holds says (a missing one is refused) */
        int r = qwen3_model_resolve(path, needs[k], out, sizeof out, &re) == 0;
        resolve_ok &= r == l->holds[k];
        snprintf(got + strlen(got), sizeof got - strlen(got), " %d/%d", h, r);
    }
    snprintf(name, sizeof name, "mdir-public-%s", l->name);
    CHECK(fmt == want_fmt && holds_ok, name, "qwen3_model_format %d (want %d), holds/resolve per need:%s", fmt, want_fmt, got);
    snprintf(name, sizeof name, "mdir-resolve-%s", l->name);
    CHECK(resolve_ok, name, "qwen3_model_resolve disagrees with the rule (holds/resolve per need:%s)", got);
}

static void check_names(void) {
    static const struct { const char *name; int split, k, n; } sp[] = {
        {"Qwen3-8B-Q4_K_M-00001-of-00003.gguf", 1, 1, 3}, {"dir/x-00003-of-00003.gguf", 1, 3, 3},
        {"x-00003-of-00003.GGUF", 1, 3, 3},               {"x-00004-of-00003.gguf", 0, 0, 0},
        {"x-00000-of-00003.gguf", 0, 0, 0},               {"x-0001-of-00003.gguf", 0, 0, 0},
        {"-00001-of-00002.gguf", 0, 0, 0},                {"x-00001-of-00002.bin", 0, 0, 0},
        {"x-0000a-of-00002.gguf", 0, 0, 0},               {"m.gguf", 0, 0, 0},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
        int k = 0, n = 0, s = mdir_gguf_split(sp[i].name, &k, &n);
        if (s != sp[i].split || (s && (k != sp[i].k || n != sp[i].n))) {
            ok = 0;
            printf("  %s: split %d k %d n %d\n", sp[i].name, s, k, n);
        }
    }
    char p[256];
    qwen3_err e = {0};
    ok &= mdir_gguf_split_count("/x/m-00001-of-00012.gguf") == 12 && mdir_gguf_split_count("/x/m-00002-of-00012.gguf") == 1 &&
          mdir_gguf_split_count("/x/m.gguf") == 1;
    ok &= mdir_gguf_split_path("/x/m-00001-of-00012.gguf", 12, p, sizeof p, &e) == 0 && !strcmp(p, "/x/m-00012-of-00012.gguf");
    ok &= mdir_gguf_split_path("/x/m.gguf", 1, p, sizeof p, &e) < 0;
    CHECK(ok, "mdir-split-names", "split-set names misread (above)");
    ok = mdir_is_gguf_name("a.gguf") && mdir_is_gguf_name("A.GgUf") && !mdir_is_gguf_name(".gguf") && !mdir_is_gguf_name("a.gguf.part") &&
         mdir_is_safetensors_name("model-00001-of-00002.safetensors") && !mdir_is_safetensors_name("sub/model.safetensors") &&
         !mdir_is_safetensors_name("model.safetensors.index.json") && mdir_is_side_name("config.json") &&
         mdir_is_side_name("chat_template.jinja") && mdir_is_side_name("merges.txt") && mdir_is_side_name(MDIR_INDEX) &&
         !mdir_is_side_name("model.safetensors") && !mdir_is_side_name("sub/config.json") && !mdir_is_side_name("README.md");
    CHECK(ok, "mdir-file-names", "a GGUF, safetensors or side-file name misread");
}

/* qwen3_model_copy_files: every side file hf-index holds, byte for byte, and nothing else. */
static void check_copy(void) {
    char from[512], to[512], p[1024];
    snprintf(from, sizeof from, "%s/hf-index", root);
    snprintf(to, sizeof to, "%s/copy", root);
    mkdir(to, 0755);
    qwen3_err e = {0};
    int rc = qwen3_model_copy_files(from, to, &e), ok = rc == 0, n = 0;
    for (int i = 0; mdir_side_files[i]; i++) {
        char src[1024];
        snprintf(src, sizeof src, "%s/%s", from, mdir_side_files[i]);
        snprintf(p, sizeof p, "%s/%s", to, mdir_side_files[i]);
        if (!qfile_exists(src)) { ok &= !qfile_exists(p); continue; }
        size_t la = 0, lb = 0;
        char *a = qfile_read(src, 1 << 20, &la, NULL), *b = qfile_read(p, 1 << 20, &lb, NULL);
        ok &= a && b && la == lb && !memcmp(a, b, la);
        n += a && b;
        free(a);
        free(b);
    }
    snprintf(p, sizeof p, "%s/model.safetensors", to);
    ok &= !qfile_exists(p) && n == 5; /* config, vocab, merges, template, tokenizer_config */
    CHECK(ok, "mdir-copy-side-files", "rc %d (%s), %d files copied (want 5, the weights not)", rc, e.msg, n);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/qwen3_mdir_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) { perror("mkdtemp"); return 2; }
    TEST_EXPECT(NL * PER_LAYOUT + 3);
    for (int i = 0; i < NL; i++) check_layout(&L[i]);
    check_names();
    check_copy();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", root);
    return test_exit();
}
