/* fuzz_hub_name.c - libFuzzer target for the hub's name handling: the input's first line is parsed
 * as a model name (hub_name_parse), the other lines are a repo's file list from which the name's
 * GGUF tag picks files (hub_gguf_pick), and every line goes through hub_safe_relpath. Checked: a
 * parsed name has only the allowed characters and no path tricks; picked files are .gguf, never
 * mmproj, and include the one to load; a relpath accepted has no "." / ".." component and no leading
 * "/"; every refusal has a message. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format/mdir.h"
#include "hub/hub.h"

static void check_part(const char *s) {
    if (!*s || strstr(s, "..") || strstr(s, "--") || strchr(s, '/')) abort();
    for (const char *c = s; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("._-", *c))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *lines[64];
    int n = 0;
    for (char *p = buf; p && n < 64;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lines[n++] = p;
        p = nl ? nl + 1 : NULL;
    }
    hub_name nm;
    qwen3_err e = {0};
    if (hub_name_parse(lines[0], &nm, &e) == 0) {
        check_part(nm.org);
        check_part(nm.repo);
        if (strlen(nm.org) + 1 + strlen(nm.repo) != strlen(nm.id) || strncmp(nm.id, nm.org, strlen(nm.org))) abort();
        if (strstr(nm.rev, "..") || nm.rev[0] == '/') abort();
        int first = -1;
        unsigned char pick[64];
        qwen3_err ge = {0};
        int k = hub_gguf_pick(lines + 1, n - 1, nm.tag, pick, &first, &ge);
        if (k > 0) {
            if (first < 0 || !pick[first]) abort();
            for (int i = 0; i < n - 1; i++)
                if (pick[i] && !mdir_is_gguf_name(lines[1 + i])) abort();
            const char *b = strrchr(lines[1 + first], '/');
            if (!strncasecmp(b ? b + 1 : lines[1 + first], "mmproj", 6)) abort();
        } else if (k == 0 || !ge.msg[0]) {
            abort();
        }
    } else if (!e.msg[0]) {
        abort();
    }
    for (int i = 0; i < n; i++) {
        if (!hub_safe_relpath(lines[i])) continue;
        const char *f = lines[i];
        if (f[0] == '/' || !strcmp(f, ".") || !strcmp(f, "..") || !strncmp(f, "../", 3) || !strncmp(f, "./", 2) ||
            strstr(f, "/../") || strstr(f, "/./") || strstr(f, "//"))
            abort();
    }
    free(buf);
    return 0;
}
