/* test_fuzz_corpus.c - replays every fuzz corpus through its fuzz target's own checks, in the normal
 * and the sanitizer builds: what the fuzzer once found stays fixed without clang or libFuzzer, and
 * the nine targets (tests/fuzz/) compile and link with every build, so they cannot drift from the
 * code they fuzz unnoticed. scripts/fuzz.sh (make fuzz) does the fuzzing itself. A target aborts on
 * a broken invariant (the test then fails by crashing); a corpus must replay every one of its files. */
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
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "../fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_gguf_one
#include "../fuzz/fuzz_gguf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_grammar_one
#include "../fuzz/fuzz_grammar.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_hub_name_one
#include "../fuzz/fuzz_hub_name.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tokenizer_one
#define LLVMFuzzerInitialize fuzz_tokenizer_init
#include "../fuzz/fuzz_tokenizer.c"
#undef LLVMFuzzerTestOneInput
#undef LLVMFuzzerInitialize
#define LLVMFuzzerTestOneInput fuzz_verify_one
#include "../fuzz/fuzz_verify.c"
#undef LLVMFuzzerTestOneInput

#include "test.h"

/* every regular file of dir through one; the number replayed, -1 when dir cannot be read (a file
 * that cannot be read counts as not replayed) */
static int replay(const char *dir, int (*one)(const uint8_t *, size_t), int *files) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    *files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        ++*files;
        char path[4096 + 512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static uint8_t buf[1 << 17]; /* the largest -max_len of scripts/fuzz.sh is 65,536 */
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        one(buf, len); /* aborts on a broken invariant */
        n++;
    }
    closedir(d);
    return n;
}

int main(void) {
    static const struct {
        const char *name, *dir;
        int (*one)(const uint8_t *, size_t);
    } corpora[] = {
        {"chat_parse", "tests/data/chat/corpus_parse", fuzz_chat_parse_one},
        {"chat_render", "tests/data/chat/corpus_render", fuzz_chat_render_one},
        {"config", "tests/data/fuzz/config", fuzz_config_one},
        {"gguf", "tests/data/fuzz/gguf", fuzz_gguf_one},
        {"grammar", "tests/data/fuzz/grammar", fuzz_grammar_one},
        {"hub_name", "tests/data/fuzz/hub_name", fuzz_hub_name_one},
        {"safetensors", "tests/data/fuzz/safetensors", fuzz_safetensors_one},
        {"tokenizer", "tests/fuzz/corpus_tokenizer", fuzz_tokenizer_one},
        {"verify", "tests/data/fuzz/verify", fuzz_verify_one},
    };
    const int nc = (int)(sizeof corpora / sizeof *corpora);
    TEST_EXPECT(nc + 1);
    /* the tokenizer target's E and D inputs need the real tokenizer ($QWEN3_TOKENIZER) */
    fuzz_tokenizer_init(NULL, NULL);
    CHECK(real != NULL, "fuzz_corpus: the real tokenizer loads for the tokenizer target", "$QWEN3_TOKENIZER");
    const char *root = getenv("QWEN3_ROOT");
    for (int i = 0; i < nc; i++) {
        char dir[4096], name[128];
        snprintf(dir, sizeof dir, "%s/%s", root ? root : ".", corpora[i].dir);
        printf("# replaying %s (a crash from here on is this corpus's)\n", dir);
        fflush(stdout);
        int files = 0, n = replay(dir, corpora[i].one, &files);
        snprintf(name, sizeof name, "fuzz_corpus_%s", corpora[i].name);
        CHECK(n >= 4 && n == files, name, "%d of %d inputs replayed from %s", n, files, dir);
    }
    if (real) qwen3_tokenizer_free(real);
    return test_exit();
}
