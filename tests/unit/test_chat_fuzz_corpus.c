/* test_chat_fuzz_corpus.c - replays the chat fuzz corpora (tests/data/chat/corpus_{parse,render})
 * through the fuzz targets' own checks in the normal and the sanitizer builds, so what the fuzzer
 * once found stays fixed without clang or libFuzzer. scripts/fuzz.sh does the fuzzing itself. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_chat_parse_one
#include "../fuzz/fuzz_chat_parse.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_chat_render_one
#include "../fuzz/fuzz_chat_render.c"
#undef LLVMFuzzerTestOneInput

#include "test.h"

static int replay(const char *dir, int (*one)(const uint8_t *, size_t)) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static uint8_t buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        one(buf, len); /* aborts on a broken invariant */
        n++;
    }
    closedir(d);
    return n;
}

int main(void) {
    TEST_EXPECT(2);
    const char *root = getenv("QWEN3_ROOT");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/data/chat/corpus_parse", root ? root : ".");
    int n = replay(dir, fuzz_chat_parse_one);
    CHECK(n > 10, "chat_fuzz_corpus_parse", "%d inputs replayed from %s", n, dir);
    snprintf(dir, sizeof dir, "%s/tests/data/chat/corpus_render", root ? root : ".");
    n = replay(dir, fuzz_chat_render_one);
    CHECK(n > 10, "chat_fuzz_corpus_render", "%d inputs replayed from %s", n, dir);
    return test_exit();
}
