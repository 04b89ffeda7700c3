/* cmd_list.c - `qwen3 list`: the models in the Hugging Face cache, with size and type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_list(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: qwen3 list\n\nLists the models in the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else\n"
                   "~/.cache/huggingface/hub), whoever downloaded them: NAME (usable as MODEL), disk size, type\n"
                   "(safetensors, or gguf with its quant tags), and the snapshot directory.\n");
            return 0;
        }
        return cli_fail("list: unexpected argument '%s' (see qwen3 list --help)", argv[i]), 2;
    }
    qwen3_cached_model *v;
    qwen3_err e = {0};
    int n = qwen3_cache_list(&v, &e);
    if (n < 0) return cli_fail("list: %s", e.msg);
    if (n == 0) {
        printf("no models in the Hugging Face cache; download one with qwen3 pull ORG/NAME\n");
        return 0;
    }
    printf("%-40s %10s  %-24s %s\n", "NAME", "SIZE", "TYPE", "PATH");
    for (int i = 0; i < n; i++) {
        double b = (double)v[i].bytes;
        char size[32];
        if (b >= 1e9) snprintf(size, sizeof size, "%.1f GB", b / 1e9);
        else if (b >= 1e6) snprintf(size, sizeof size, "%.1f MB", b / 1e6);
        else snprintf(size, sizeof size, "%.0f kB", b / 1e3);
        printf("%-40s %10s  %-24s %s\n", v[i].name, size, v[i].kind, v[i].path);
    }
    free(v);
    return 0;
}
