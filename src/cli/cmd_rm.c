/* cmd_rm.c - `qwen3 rm NAME`: remove a model (every revision and file) from the Hugging Face cache. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_rm(int argc, char **argv) {
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: qwen3 rm NAME\n\nRemoves ORG/NAME from the Hugging Face cache: its blobs, snapshots and refs (every\n"
                   "revision). `qwen3 list` shows the names.\n");
            return 0;
        }
        if (argv[i][0] == '-') return cli_fail("rm: unknown flag '%s'", argv[i]), 2;
        if (name) return cli_fail("rm: one NAME at a time"), 2;
        name = argv[i];
    }
    if (!name) return cli_fail("rm: NAME is missing (qwen3 list shows the names)"), 2;
    uint64_t freed = 0;
    qwen3_err e = {0};
    if (qwen3_cache_remove(name, &freed, &e)) return cli_fail("rm: %s", e.msg);
    printf("removed %s (%.1f MB)\n", name, freed / 1e6);
    return 0;
}
