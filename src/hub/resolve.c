/* resolve.c - qwen3_model_resolve: what a user typed as MODEL -> a local path that holds what the
 * command needs, checked once before anything is loaded, so that a wrong MODEL gets one message
 * saying what is wrong and what to do (not a later, unrelated error such as "no chat template"). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/file.h"
#include "format/mdir.h"
#include "hub/hub.h"

/* Checks what `need` asks of the directory d describes (format/mdir.c decided which files it holds);
 * model is MODEL as typed, for the messages. 0, or -1 with e set (e may be NULL: no message). */
static int check_dir(const char *model, const mdir *d, int need, qwen3_err *e) {
    if (d->kind == MDIR_GGUF) return 0; /* a GGUF file carries config, tokenizer and template; its loader checks them */
    if ((need & QWEN3_NEED_WEIGHTS) && d->kind != MDIR_HF) {
        if (mdir_hf_tokenizer(d))
            return qerr(e, "MODEL '%s' has tokenizer files but no config.json: it is not a whole model directory; pass "
                           "the directory of the checkpoint (config.json, model.safetensors or its shards + "
                           "model.safetensors.index.json, tokenizer files) or a .gguf file", model);
        return qerr(e, "MODEL '%s' is not a model directory: no config.json (nor a .gguf file) in it; pass the directory "
                       "of a Hugging Face checkpoint (config.json, *.safetensors, tokenizer files), a .gguf file, or a "
                       "hub name such as Qwen/Qwen3-0.6B", model);
    }
    if ((need & QWEN3_NEED_WEIGHTS) && d->weights == MDIR_W_NONE)
        return qerr(e, "MODEL '%s' has config.json but no weights: model.safetensors (or model.safetensors.index.json "
                       "and its shards) is missing", model);
    if ((need & QWEN3_NEED_TOKENIZER) && d->tok != MDIR_T_JSON && d->tok != MDIR_T_VOCAB_MERGES) {
        const char *miss = d->tok == MDIR_T_VOCAB_ONLY ? "no tokenizer.json, and merges.txt is missing beside vocab.json"
                         : d->tok == MDIR_T_MERGES_ONLY ? "no tokenizer.json, and vocab.json is missing beside merges.txt"
                                                        : "no tokenizer.json (nor vocab.json + merges.txt)";
        return qerr(e, "MODEL '%s' has no tokenizer files: %s; copy the tokenizer files (tokenizer.json, "
                       "tokenizer_config.json) from the original checkpoint into it", model, miss);
    }
    if ((need & QWEN3_NEED_CHAT) && d->chat == MDIR_C_NONE)
        return qerr(e, "MODEL '%s' has no chat template: tokenizer_config.json (or chat_template.jinja) is missing; copy "
                       "it from the original checkpoint, or choose a template with --template", model);
    return 0;
}

/* mdir_open, then check_dir. */
static int open_check(const char *model, const char *dir, int need, qwen3_err *e) {
    mdir d;
    return mdir_open(dir, &d, e) ? -1 : check_dir(model, &d, need, e);
}

int qwen3_model_format(const char *path) {
    mdir d;
    if (!path || mdir_open(path, &d, NULL)) return QWEN3_FORMAT_NONE;
    return d.kind == MDIR_HF ? QWEN3_FORMAT_HF : d.kind == MDIR_GGUF ? QWEN3_FORMAT_GGUF : QWEN3_FORMAT_NONE;
}

int qwen3_model_holds(const char *path, int need) {
    struct stat st;
    mdir d;
    if (!path || stat(path, &st) || mdir_open(path, &d, NULL)) return 0;
    if (S_ISREG(st.st_mode)) return d.kind == MDIR_GGUF;
    return S_ISDIR(st.st_mode) && !check_dir(path, &d, need, NULL);
}

int qwen3_model_is_hub_name(const char *model) {
    struct stat st;
    hub_name n;
    return model && stat(model, &st) != 0 && hub_name_parse(model, &n, NULL) == 0;
}

int qwen3_model_resolve(const char *model, int need, char *path, size_t cap, qwen3_err *e) {
    if (!model || !*model) return qerr(e, "MODEL is empty: pass a model directory, a .gguf file or a hub name");
    struct stat st;
    if (stat(model, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            if (open_check(model, model, need, e)) return -1;
        } else if (S_ISREG(st.st_mode)) {
            mdir d;
            if (mdir_open(model, &d, e)) return -1; /* a later part of a split GGUF set */
            if (d.kind != MDIR_GGUF) {
                char dir[HUB_PATH_MAX];
                hub_pathf(dir, sizeof dir, "%s", model);
                char *sl = strrchr(dir, '/');
                if (sl) *sl = 0;
                return qerr(e, "MODEL '%s' is a file: pass the directory that holds the model (%s), with config.json, "
                               "the weights and the tokenizer files", model, sl ? dir : ".");
            }
        } else {
            return qerr(e, "MODEL '%s' is neither a directory nor a file", model);
        }
        if (hub_pathf(path, cap, "%s", model) >= (int)cap) return qerr(e, "MODEL path too long: %s", model);
        return 0;
    }
    int er = errno;
    hub_name n;
    if (er != ENOENT || hub_is_path_form(model) || hub_name_parse(model, &n, NULL)) {
        if (er != ENOENT) return qerr(e, "MODEL '%s': %s", model, strerror(er));
        return qerr(e, "MODEL '%s' does not exist (no such file or directory)%s", model,
                    strchr(model, '/') || hub_is_path_form(model) ? ""
                    : "; a Hugging Face name has the form ORG/NAME, e.g. Qwen/Qwen3-0.6B");
    }
    qwen3_err fe = {0};
    if (hub_find_cached(&n, path, cap, &fe))
        return qerr(e, "MODEL '%s' is no local path, and as a Hugging Face name: %s; download it with `qwen3 pull %s` "
                       "(run, chat and serve also take --pull)", model, fe.msg, model);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && open_check(model, path, need, &fe))
        return qerr(e, "%s (in the cache at %s; `qwen3 pull %s` completes it)", fe.msg, path, model);
    return 0;
}
