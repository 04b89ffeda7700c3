/* default_model.c - where `qwen3 run "question"` finds the trained default model when no MODEL is
 * given: $QWEN3_DEFAULT_MODEL, the build's copy beside the binary, or the installed one. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

/* A whole model by the loader's own rule (config.json and the weights), not a guess at file names. */
static int has_model(const char *dir) { return qwen3_model_holds(dir, QWEN3_NEED_WEIGHTS); }

const char *cli_default_model(void) {
    static char path[PATH_MAX];
    const char *env = getenv("QWEN3_DEFAULT_MODEL");
    if (env && *env) {
        if (has_model(env)) return env;
        cli_fail("QWEN3_DEFAULT_MODEL=%s holds no model (config.json and model.safetensors)", env);
        return NULL;
    }
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(path, sizeof path, "%s/default-model", exe);
        if (has_model(path)) return path;
        snprintf(path, sizeof path, "%s/../share/qwen3/default-model", exe);
        if (has_model(path)) return path;
    }
    cli_fail("no default model: `make` builds it (build/rel/default-model from models/default), `make install` installs it, "
             "or set QWEN3_DEFAULT_MODEL=DIR, or give MODEL: qwen3 run MODEL \"question\"");
    return NULL;
}

int cli_looks_like_model(const char *s) {
    struct stat st;
    return !stat(s, &st) || qwen3_model_is_hub_name(s); /* the hub's own spelling rules (hub/name.c) */
}
