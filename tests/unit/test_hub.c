/* test_hub.c - the hub's pure functions: names ("ORG/NAME[@REV][:TAG]", Ollama's hf.co/ form, and
 * what is refused), the choice of GGUF files for a quant tag (whole tokens only, split sets, mmproj
 * never, the Q4_K_M default), safe relative names from a repo listing, and SHA-256 against Python's
 * hashlib (values computed with /usr/bin/python3, hashlib.sha256, on bytes (i*7+3)&255). */
#include <string.h>

#include "hub/hub.h"
#include "test.h"

static void names(void) {
    hub_name n;
    qwen3_err e = {0};
    CHECK(hub_name_parse("Qwen/Qwen3-0.6B", &n, &e) == 0 && !strcmp(n.org, "Qwen") && !strcmp(n.repo, "Qwen3-0.6B") &&
              !n.rev[0] && !n.tag[0] && !strcmp(hub_rev(&n), "main"), "name.plain", "%s", e.msg);
    CHECK(hub_name_parse("Qwen/Qwen3-8B-GGUF:Q4_K_M", &n, &e) == 0 && !strcmp(n.tag, "Q4_K_M") && !strcmp(n.id, "Qwen/Qwen3-8B-GGUF"),
          "name.tag", "%s", e.msg);
    CHECK(hub_name_parse("hf.co/unsloth/Qwen3-8B-GGUF:Q8_0", &n, &e) == 0 && !strcmp(n.org, "unsloth") && !strcmp(n.tag, "Q8_0"),
          "name.ollama", "%s", e.msg);
    CHECK(hub_name_parse("https://huggingface.co/Qwen/Qwen3-0.6B", &n, &e) == 0 && !strcmp(n.id, "Qwen/Qwen3-0.6B"), "name.url", "%s", e.msg);
    CHECK(hub_name_parse("Qwen/Qwen3-0.6B@refs/pr/1", &n, &e) == 0 && !strcmp(n.rev, "refs/pr/1"), "name.rev", "%s", e.msg);
    CHECK(hub_name_parse("a/b@v1.0:IQ4_XS", &n, &e) == 0 && !strcmp(n.rev, "v1.0") && !strcmp(n.tag, "IQ4_XS"), "name.rev+tag", "%s", e.msg);
    CHECK(hub_name_parse("hf.co/a/b:latest", &n, &e) == 0 && !n.tag[0], "name.latest", "latest is the default tag");
    const char *bad[] = {"", "Qwen3", "/abs/path", "./rel", "../up", "~/home", "dir/", "a/b/c", "a//b", "-a/b", "a/b.",
                         "a/b--c", "a/..", "a/b@", "a/b:", "a/b@x/../y", "a/b@/x", "a/b:Q4 K", "a/b@x y", "a b/c"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "name.refused.%zu", i);
        CHECK(hub_name_parse(bad[i], &n, &e) == -1 && e.msg[0], nm, "'%s' was taken as a hub name", bad[i]);
    }
    char long_name[200];
    memset(long_name, 'x', sizeof long_name);
    long_name[0] = 'a', long_name[1] = '/', long_name[199] = 0;
    CHECK(hub_name_parse(long_name, &n, &e) == -1, "name.refused.long", "a 197-character NAME was accepted");
    CHECK(hub_is_commit("0123456789abcdef0123456789abcdef01234567") && !hub_is_commit("main") &&
              !hub_is_commit("0123456789ABCDEF0123456789abcdef01234567"), "name.commit", "commit ids");
}

static int pick(const char *const *files, int n, const char *tag, const char *want_first, int want_count) {
    unsigned char p[32];
    int first = -1;
    qwen3_err e = {0};
    int k = hub_gguf_pick(files, n, tag, p, &first, &e);
    if (want_count < 0) return k < 0;
    return k == want_count && first >= 0 && !strcmp(files[first], want_first);
}

static void gguf(void) {
    const char *f[] = {"Qwen3-8B-Q4_K_M.gguf", "Qwen3-8B-Q4_K_S.gguf", "Qwen3-8B-Q8_0.gguf",
                       "BF16/Qwen3-8B-BF16-00002-of-00002.gguf", "BF16/Qwen3-8B-BF16-00001-of-00002.gguf",
                       "mmproj-Qwen3-8B-F16.gguf", "README.md", "Qwen3-8B-IQ4_XS.gguf"};
    int n = sizeof f / sizeof *f;
    CHECK(pick(f, n, "Q4_K_M", "Qwen3-8B-Q4_K_M.gguf", 1), "gguf.tag", "Q4_K_M");
    CHECK(pick(f, n, "q8_0", "Qwen3-8B-Q8_0.gguf", 1), "gguf.case", "q8_0");
    CHECK(pick(f, n, "BF16", "BF16/Qwen3-8B-BF16-00001-of-00002.gguf", 2), "gguf.split", "BF16 split set");
    CHECK(pick(f, n, "Q4_K", NULL, -1), "gguf.whole-token", "Q4_K must not match Q4_K_M");
    CHECK(pick(f, n, "Q5_K_M", NULL, -1), "gguf.unknown", "Q5_K_M is not there");
    CHECK(pick(f, n, "F16", NULL, -1), "gguf.no-mmproj", "mmproj is never picked");
    CHECK(pick(f, n, "", "Qwen3-8B-Q4_K_M.gguf", 1), "gguf.default", "no tag: Q4_K_M");
    const char *one[] = {"x-Q6_K.gguf", "config.json"};
    CHECK(pick(one, 2, "", "x-Q6_K.gguf", 1), "gguf.only-one", "no tag, one model: that one");
    const char *two[] = {"x-Q6_K.gguf", "x-Q8_0.gguf"};
    CHECK(pick(two, 2, "", NULL, -1), "gguf.ambiguous", "no tag, two models, no Q4_K_M: an error");
    const char *part[] = {"m-Q8_0-00001-of-00003.gguf", "m-Q8_0-00003-of-00003.gguf"};
    CHECK(pick(part, 2, "Q8_0", NULL, -1), "gguf.split-incomplete", "a split set with a part missing");
    const char *dup[] = {"a-Q8_0.gguf", "b-Q8_0.gguf"};
    CHECK(pick(dup, 2, "Q8_0", NULL, -1), "gguf.tag-ambiguous", "two models with one tag");
}

static void relpaths(void) {
    const char *good[] = {"config.json", "a/b.gguf", "x..y"};
    const char *bad[] = {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a\\b", "a/", ".", "a\nb"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK(hub_safe_relpath(good[i]), "relpath.good", "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!hub_safe_relpath(bad[i]), "relpath.bad", "'%s' accepted", bad[i]);
}

static void sha256(void) {
    static const struct { int n; const char *hex; } v[] = {
        {0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5"},
        {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
        {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
        {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
        {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
        {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
        {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
        {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
        {1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"},
    };
    unsigned char buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (unsigned char)((i * 7 + 3) & 255);
    for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
        char hex[65], name[48];
        hub_sha256 s;
        hub_sha256_init(&s);
        /* fed in uneven pieces, so the buffering between blocks is exercised too */
        for (int off = 0; off < v[k].n;) {
            int step = 1 + (off * 13 + 5) % 71;
            if (off + step > v[k].n) step = v[k].n - off;
            hub_sha256_update(&s, buf + off, (size_t)step);
            off += step;
        }
        hub_sha256_final(&s, hex);
        snprintf(name, sizeof name, "sha256.len%d", v[k].n);
        CHECK(!strcmp(hex, v[k].hex), name, "got %s, hashlib %s", hex, v[k].hex);
    }
    hub_sha256 s;
    hub_sha256_init(&s);
    memset(buf, 'a', sizeof buf);
    for (int i = 0; i < 1000; i++) hub_sha256_update(&s, buf, 1000);
    char hex[65];
    hub_sha256_final(&s, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "sha256.million-a", "got %s", hex);
}

int main(void) {
    TEST_EXPECT(64); /* 29 names + 11 GGUF picks + 13 relpaths + 11 sha256 */
    names();
    gguf();
    relpaths();
    sha256();
    return test_exit();
}
