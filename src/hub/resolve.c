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
#include "hub/hub.h"

static int has(const char *dir, const char *name) {
    char p[HUB_PATH_MAX];
    return hub_pathf(p, sizeof p, "%s/%s", dir, name) < (int)sizeof p && qfile_exists(p);
}

/* 1 when dir holds a .gguf file, or a *.safetensors file, by suffix. */
static int has_suffix(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int found = 0;
    size_t sl = strlen(suffix);
    while (!found && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        found = n > sl && !strcasecmp(de->d_name + n - sl, suffix);
    }
    closedir(d);
    return found;
}

/* Checks a model directory for what `need` asks. */
static int check_dir(const char *model, const char *dir, int need, qwen3_err *e) {
    int gguf = has_suffix(dir, ".gguf");
    if (gguf) return 0; /* a GGUF file carries config, tokenizer and template; its loader checks them */
    int cfg = has(dir, "config.json");
    if ((need & QWEN3_NEED_WEIGHTS) && !cfg) {
        if (has(dir, "tokenizer.json") || has(dir, "vocab.json"))
            return qerr(e, "MODEL '%s' has tokenizer files but no config.json: it is not a whole model directory; pass "
                           "the directory of the checkpoint (config.json, model.safetensors or its shards + "
                           "model.safetensors.index.json, tokenizer files) or a .gguf file", model);
        return qerr(e, "MODEL '%s' is not a model directory: no config.json (nor a .gguf file) in it; pass the directory "
                       "of a Hugging Face checkpoint (config.json, *.safetensors, tokenizer files), a .gguf file, or a "
                       "hub name such as Qwen/Qwen3-0.6B", model);
    }
    if ((need & QWEN3_NEED_WEIGHTS) && !has(dir, "model.safetensors") && !has(dir, "model.safetensors.index.json") &&
        !has_suffix(dir, ".safetensors"))
        return qerr(e, "MODEL '%s' has config.json but no weights: model.safetensors (or model.safetensors.index.json "
                       "and its shards) is missing", model);
    if ((need & QWEN3_NEED_TOKENIZER) && !has(dir, "tokenizer.json") && !(has(dir, "vocab.json") && has(dir, "merges.txt"))) {
        const char *miss = has(dir, "vocab.json") ? "no tokenizer.json, and merges.txt is missing beside vocab.json"
                         : has(dir, "merges.txt") ? "no tokenizer.json, and vocab.json is missing beside merges.txt"
                                                  : "no tokenizer.json (nor vocab.json + merges.txt)";
        return qerr(e, "MODEL '%s' has no tokenizer files: %s; copy the tokenizer files (tokenizer.json, "
                       "tokenizer_config.json) from the original checkpoint into it", model, miss);
    }
    if ((need & QWEN3_NEED_CHAT) && !has(dir, "chat_template.jinja") && !has(dir, "tokenizer_config.json"))
        return qerr(e, "MODEL '%s' has no chat template: tokenizer_config.json (or chat_template.jinja) is missing; copy "
                       "it from the original checkpoint, or choose a template with --template", model);
    return 0;
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
            if (check_dir(model, model, need, e)) return -1;
        } else if (S_ISREG(st.st_mode)) {
            if (!hub_is_gguf(model)) {
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
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && check_dir(model, path, need, &fe))
        return qerr(e, "%s (in the cache at %s; `qwen3 pull %s` completes it)", fe.msg, path, model);
    return 0;
}
