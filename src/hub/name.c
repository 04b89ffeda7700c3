/* name.c - hub names ("ORG/NAME[@REVISION][:TAG]"), the cache's directory names, and the choice of
 * GGUF files for a quant tag. Pure string functions except hub_cache_dir (environment) and
 * hub_mkdirs_for. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "format/mdir.h"
#include "hub/hub.h"

/* Hugging Face's repo name rule: [A-Za-z0-9._-], at most 96, no leading/trailing "-" or ".", no
 * "--" or ".." (huggingface_hub utils/_validators.py). */
static int valid_part(const char *s, size_t n) {
    if (n == 0 || n > 96) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-') return 0;
    if (s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.') return 0;
    for (size_t i = 0; i + 1 < n; i++)
        if ((s[i] == '-' && s[i + 1] == '-') || (s[i] == '.' && s[i + 1] == '.')) return 0;
    return 1;
}

int hub_is_path_form(const char *s) {
    size_t n = strlen(s);
    return s[0] == '/' || s[0] == '.' || s[0] == '~' || (n && s[n - 1] == '/');
}

int hub_is_commit(const char *s) {
    int i = 0;
    for (; s[i]; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return i == 40;
}

const char *hub_rev(const hub_name *n) { return n->rev[0] ? n->rev : "main"; }

int hub_name_parse(const char *s, hub_name *n, qwen3_err *e) {
    memset(n, 0, sizeof *n);
    const char *form = "a Hugging Face name has the form ORG/NAME[@REVISION][:TAG], e.g. Qwen/Qwen3-0.6B or "
                       "Qwen/Qwen3-8B-GGUF:Q4_K_M";
    if (!s || !*s) return qerr(e, "empty model name: %s", form);
    if (hub_is_path_form(s)) return qerr(e, "'%s' is written as a path, not a hub name (%s)", s, form);
    const char *p = s;
    if (!strncmp(p, "https://", 8)) p += 8;
    else if (!strncmp(p, "http://", 7)) p += 7;
    if (!strncmp(p, "hf.co/", 6)) p += 6;
    else if (!strncmp(p, "huggingface.co/", 15)) p += 15;
    const char *slash = strchr(p, '/');
    if (!slash) return qerr(e, "'%s' is not a hub name: no '/' (%s)", s, form);
    size_t on = (size_t)(slash - p);
    const char *r = slash + 1;
    size_t rn = strcspn(r, "@:");
    if (!valid_part(p, on) || !valid_part(r, rn))
        return qerr(e, "'%s' is not a hub name: ORG and NAME are 1-96 of A-Z a-z 0-9 . _ - (%s)", s, form);
    memcpy(n->org, p, on);
    memcpy(n->repo, r, rn);
    snprintf(n->id, sizeof n->id, "%s/%s", n->org, n->repo);
    const char *q = r + rn;
    if (*q == '@') {
        q++;
        size_t vn = strcspn(q, ":");
        if (vn == 0 || vn >= sizeof n->rev) return qerr(e, "'%s': the revision after '@' is empty or too long", s);
        for (size_t i = 0; i < vn; i++)
            if (!isalnum((unsigned char)q[i]) && !strchr("._-/", q[i]))
                return qerr(e, "'%s': the revision '%.*s' has a character other than A-Z a-z 0-9 . _ - /", s, (int)vn, q);
        if (strstr(q, "..") && strstr(q, "..") < q + vn) return qerr(e, "'%s': the revision may not contain '..'", s);
        if (q[0] == '/' || q[vn - 1] == '/') return qerr(e, "'%s': the revision may not start or end with '/'", s);
        memcpy(n->rev, q, vn);
        q += vn;
    }
    if (*q == ':') {
        q++;
        size_t tn = strlen(q);
        if (tn == 0 || tn >= sizeof n->tag) return qerr(e, "'%s': the tag after ':' is empty or too long", s);
        for (size_t i = 0; i < tn; i++)
            if (!isalnum((unsigned char)q[i]) && q[i] != '_' && q[i] != '-' && q[i] != '.')
                return qerr(e, "'%s': the tag '%s' has a character other than A-Z a-z 0-9 . _ -", s, q);
        memcpy(n->tag, q, tn);
        q += tn;
        if (!strcasecmp(n->tag, "latest")) n->tag[0] = 0; /* Ollama's default tag: the repo's default */
    }
    if (*q) return qerr(e, "'%s' is not a hub name: unexpected '%s' (%s)", s, q, form);
    return 0;
}

int hub_cache_dir(char *buf, size_t cap, qwen3_err *e) {
    const char *v;
    int k;
    if ((v = getenv("HF_HUB_CACHE")) && *v) k = snprintf(buf, cap, "%s", v);
    else if ((v = getenv("HUGGINGFACE_HUB_CACHE")) && *v) k = snprintf(buf, cap, "%s", v);
    else if ((v = getenv("HF_HOME")) && *v) k = snprintf(buf, cap, "%s/hub", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v) k = snprintf(buf, cap, "%s/huggingface/hub", v);
    else if ((v = getenv("HOME")) && *v) k = snprintf(buf, cap, "%s/.cache/huggingface/hub", v);
    else return qerr(e, "no cache directory: set HF_HUB_CACHE (or HF_HOME, or HOME)");
    if (k < 0 || (size_t)k >= cap) return qerr(e, "cache directory path too long: %s", v);
    return 0;
}

int hub_repo_dir(const hub_name *n, char *buf, size_t cap, qwen3_err *e) {
    char c[HUB_PATH_MAX];
    if (hub_cache_dir(c, sizeof c, e)) return -1;
    int k = snprintf(buf, cap, "%s/models--%s--%s", c, n->org, n->repo);
    if (k < 0 || (size_t)k >= cap) return qerr(e, "cache path too long for %s", n->id);
    return 0;
}

int hub_safe_relpath(const char *f) {
    size_t n = strlen(f);
    if (n == 0 || n > 1024 || f[0] == '/' || f[n - 1] == '/') return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)f[i] < 0x20 || f[i] == '\\' || f[i] == 0x7f) return 0;
    /* no "." or ".." component */
    for (const char *c = f; c;) {
        size_t cl = strcspn(c, "/");
        if (cl == 0 || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.')) return 0;
        c = c[cl] ? c + cl + 1 : NULL;
    }
    return 1;
}

int hub_mkdirs_for(const char *path, qwen3_err *e) {
    char tmp[HUB_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return qerr(e, "path too long: %s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST) {
            int er = errno;
            *p = '/';
            return qerr(e, "cannot create directory %.*s: %s", (int)(p - tmp), tmp, strerror(er));
        }
        *p = '/';
    }
    return 0;
}

/* ---- GGUF quant tags ---- */

/* Length of the group key of f: f without ".gguf" and without a split suffix "-00001-of-00003". */
static size_t group_len(const char *f, int *part) {
    size_t n = strlen(f) - 5;
    int parts;
    *part = 0;
    if (mdir_gguf_split(f, part, &parts)) return n - 15; /* "-NNNNN-of-NNNNN" is 15 characters */
    *part = 0;
    return n;
}

static int is_mmproj(const char *f) {
    const char *b = strrchr(f, '/');
    b = b ? b + 1 : f;
    return !strncasecmp(b, "mmproj", 6);
}

static int delim(char c) { return c == 0 || c == '-' || c == '.' || c == '/'; }

/* 1 when tag is a whole delimited token of f's first glen characters (case-insensitive). */
static int tag_matches(const char *f, size_t glen, const char *tag) {
    size_t tn = strlen(tag);
    for (size_t i = 0; i + tn <= glen; i++) {
        if (strncasecmp(f + i, tag, tn)) continue;
        if ((i == 0 || delim(f[i - 1])) && (i + tn == glen || delim(f[i + tn]))) return 1;
    }
    return 0;
}

/* The quant-looking token of a GGUF name for listings: the last "-" or "." separated token that
 * starts with Q, IQ, F or BF followed by a digit; else the whole base name. */
static void tag_of(const char *f, size_t glen, char *out, size_t cap) {
    const char *b = f;
    for (size_t i = 0; i < glen; i++)
        if (f[i] == '/') b = f + i + 1;
    size_t bl = (size_t)(f + glen - b), best = 0, bestn = 0;
    int found = 0;
    for (size_t i = 0; i < bl; i++) {
        if (i && !delim(b[i - 1])) continue;
        size_t k = i;
        while (k < bl && !delim(b[k])) k++;
        const char *t = b + i;
        if ((toupper((unsigned char)t[0]) == 'Q' && isdigit((unsigned char)t[1])) ||
            (toupper((unsigned char)t[0]) == 'I' && toupper((unsigned char)t[1]) == 'Q') ||
            (toupper((unsigned char)t[0]) == 'F' && isdigit((unsigned char)t[1])) ||
            (toupper((unsigned char)t[0]) == 'B' && toupper((unsigned char)t[1]) == 'F')) {
            best = i; bestn = k - i; found = 1;
        }
        i = k;
    }
    if (!found) { best = 0; bestn = bl; }
    snprintf(out, cap, "%.*s", (int)bestn, b + best);
}

static int list_tags(const char *const *files, int n, char *out, size_t cap) {
    size_t len = 0;
    out[0] = 0;
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (!mdir_is_gguf_name(files[i]) || is_mmproj(files[i])) continue;
        int part;
        size_t g = group_len(files[i], &part);
        if (part > 1) continue;
        char t[128];
        tag_of(files[i], g, t, sizeof t);
        if (strstr(out, t)) continue;
        int k = snprintf(out + len, cap - len, "%s%s", count ? ", " : "", t);
        if (k < 0 || (size_t)k >= cap - len) break;
        len += (size_t)k;
        count++;
    }
    return count;
}

int hub_gguf_pick(const char *const *files, int n, const char *tag, unsigned char *pick, int *first, qwen3_err *e) {
    memset(pick, 0, (size_t)n);
    char tags[1024];
    int ntags = list_tags(files, n, tags, sizeof tags);
    if (ntags == 0) return qerr(e, "no .gguf file there");
    /* the group (file name without split suffix) each file belongs to; choose groups by the tag */
    int chosen = -1; /* index of a file of the chosen group */
    const char *want = tag && *tag ? tag : NULL;
    for (int pass = 0; pass < 2 && chosen < 0; pass++) {
        const char *t = want ? want : (pass == 0 ? NULL : "Q4_K_M");
        if (want && pass == 1) break;
        int groups = 0;
        for (int i = 0; i < n; i++) {
            if (!mdir_is_gguf_name(files[i]) || is_mmproj(files[i])) continue;
            int part;
            size_t g = group_len(files[i], &part);
            if (t && !tag_matches(files[i], g, t)) continue;
            if (chosen >= 0) {
                int p2;
                size_t g2 = group_len(files[chosen], &p2);
                if (g2 == g && !strncmp(files[chosen], files[i], g)) continue; /* same group */
            }
            groups++;
            if (chosen < 0) chosen = i;
        }
        if (groups > 1) {
            if (!t) { chosen = -1; continue; } /* several models, no tag: try the default tag */
            return qerr(e, "tag '%s' matches more than one GGUF model (tags there: %s): name it more exactly", t, tags);
        }
    }
    if (chosen < 0) {
        if (want) return qerr(e, "no GGUF file for tag '%s' (tags there: %s)", want, tags);
        return qerr(e, "several GGUF files and no tag: add one, e.g. :%s (tags there: %s)",
                    strchr(tags, ',') ? "Q4_K_M" : tags, tags);
    }
    int cpart;
    size_t cg = group_len(files[chosen], &cpart);
    int count = 0, total = 0;
    *first = -1;
    for (int i = 0; i < n; i++) {
        if (!mdir_is_gguf_name(files[i])) continue;
        int part;
        size_t g = group_len(files[i], &part);
        if (g != cg || strncmp(files[i], files[chosen], g)) continue;
        pick[i] = 1;
        count++;
        if (part <= 1) *first = i;
        if (part) total = atoi(files[i] + strlen(files[i]) - 10);
    }
    if (total && count != total)
        return qerr(e, "%.*s: the split set has %d of its %d parts", (int)cg, files[chosen], count, total);
    if (*first < 0) return qerr(e, "%.*s: part 1 of the split set is missing", (int)cg, files[chosen]);
    return count;
}

int hub_pathf(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return k;
}
