/* test_gguf.c - the GGUF parser on hand-built files (field by field against the format's layout),
 * the split-set names, and a replay of the fuzz corpus (tests/data/fuzz/gguf) through the fuzz
 * target's own invariants, in the normal and the sanitizer builds. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz_gguf.c"
#include "format/mdir.h"
#include "test.h"

typedef struct { uint8_t b[4096]; size_t n; } buf;
static void put(buf *o, const void *p, size_t n) { memcpy(o->b + o->n, p, n); o->n += n; }
static void u32(buf *o, uint32_t v) { put(o, &v, 4); } /* the test machine is little-endian, as GGUF */
static void u64(buf *o, uint64_t v) { put(o, &v, 8); }
static void str(buf *o, const char *s) { u64(o, strlen(s)); put(o, s, strlen(s)); }

/* "GGUF" v3, 2 keys (alignment 64, a string array), 2 tensors: F32 [3, 2] at 0, Q8_0 [64, 1] at 64. */
static buf build(uint32_t align, uint64_t off2) {
    buf o = {.n = 0};
    put(&o, "GGUF", 4);
    u32(&o, 3);
    u64(&o, 2);
    u64(&o, 2);
    str(&o, "general.alignment"); u32(&o, GGUF_UINT32); u32(&o, align);
    str(&o, "names"); u32(&o, GGUF_ARRAY); u32(&o, GGUF_STRING); u64(&o, 2); str(&o, "ab"); str(&o, "");
    str(&o, "a"); u32(&o, 2); u64(&o, 3); u64(&o, 2); u32(&o, 0); u64(&o, 0);
    str(&o, "b"); u32(&o, 2); u64(&o, 64); u64(&o, 1); u32(&o, 8); u64(&o, off2);
    o.n = (o.n + align - 1) / align * align;
    for (int i = 0; i < 64 + 68; i++) o.b[o.n++] = (uint8_t)i;
    return o;
}

int main(void) {
    TEST_EXPECT(16);
    buf o = build(64, 64);
    gguf_file f;
    qwen3_err e = {0};
    int r = gguf_parse(o.b, o.n, "t.gguf", &f, &e);
    CHECK(r == 0, "gguf-parse-valid", "%s", e.msg);
    if (r == 0) {
        const gguf_tensor *a = gguf_find_tensor(&f, "a"), *b = gguf_find_tensor(&f, "b");
        CHECK(f.version == 3 && f.alignment == 64 && f.n_kv == 2 && f.n_tensors == 2, "gguf-parse-header", "v%u al %u", f.version,
              f.alignment);
        CHECK(a && a->ne[0] == 3 && a->ne[1] == 2 && a->ndim == 2 && a->nbytes == 24 && a->data == o.b + f.data_offset,
              "gguf-parse-tensor-f32", "a");
        CHECK(b && b->type == GGML_Q8_0 && b->nbytes == 68 && b->data == o.b + f.data_offset + 64 && f.data_offset % 64 == 0,
              "gguf-parse-tensor-q8_0", "b");
        const gguf_kv *kv = gguf_find(&f, "names");
        gguf_str s0 = gguf_arr_str(kv, 0), s1 = gguf_arr_str(kv, 1);
        CHECK(kv && kv->n == 2 && s0.n == 2 && !memcmp(s0.p, "ab", 2) && s1.n == 0, "gguf-parse-string-array", "names");
        int64_t v;
        CHECK(gguf_get_int(&f, "general.alignment", 0, 100, &v, &e) == 1 && v == 64, "gguf-get-int", "%lld", (long long)v);
        CHECK(gguf_get_int(&f, "general.alignment", 0, 10, &v, &e) == -1 && strstr(e.msg, "general.alignment"),
              "gguf-get-int-range", "%s", e.msg);
        gguf_close(&f);
    }
    /* each fault named */
    o = build(64, 65);
    CHECK(gguf_parse(o.b, o.n, "t.gguf", &f, &e) != 0 && strstr(e.msg, "'b'") && strstr(e.msg, "alignment"),
          "gguf-parse-misaligned", "%s", e.msg);
    o = build(64, 128);
    CHECK(gguf_parse(o.b, o.n, "t.gguf", &f, &e) != 0 && strstr(e.msg, "'b'") && strstr(e.msg, "past"), "gguf-parse-past-end",
          "%s", e.msg);
    o = build(64, 0);
    CHECK(gguf_parse(o.b, o.n, "t.gguf", &f, &e) != 0 && strstr(e.msg, "overlap"), "gguf-parse-overlap", "%s", e.msg);
    o = build(48, 64);
    CHECK(gguf_parse(o.b, o.n, "t.gguf", &f, &e) != 0 && strstr(e.msg, "power of two"), "gguf-parse-alignment", "%s", e.msg);
    o = build(64, 64);
    for (size_t cut = 0; cut < o.n; cut += 7) {
        qwen3_err e2 = {0};
        if (gguf_parse(o.b, cut, "t.gguf", &f, &e2) == 0) { CHECK(0, "gguf-parse-every-truncation", "cut at %zu parsed", cut); break; }
        if (!e2.msg[0]) { CHECK(0, "gguf-parse-every-truncation", "cut at %zu: no message", cut); break; }
        if (cut + 7 >= o.n) CHECK(1, "gguf-parse-every-truncation", "-");
    }
    /* split names */
    char p[256];
    CHECK(mdir_gguf_split_count("/x/Qwen3-8B-Q4_K_M-00001-of-00003.gguf") == 3 && mdir_gguf_split_count("/x/m.gguf") == 1 &&
              mdir_gguf_split_count("/x/m-00002-of-00003.gguf") == 1,
          "gguf-split-count", "-");
    CHECK(mdir_gguf_split_path("/x/m-00001-of-00012.gguf", 12, p, sizeof p, &e) == 0 && !strcmp(p, "/x/m-00012-of-00012.gguf"),
          "gguf-split-path", "%s", p);
    CHECK(gguf_type_block(12) == 256 && gguf_type_size(12) == 144 && gguf_type_size(23) == 136 && gguf_type_size(14) == 210 &&
              !gguf_type_name(4),
          "gguf-type-table", "-");
    /* the fuzz corpus */
    DIR *d = opendir("tests/data/fuzz/gguf");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "tests/data/fuzz/gguf/%s", de->d_name);
        FILE *fp = fopen(path, "rb");
        if (!fp) continue;
        static uint8_t b[1 << 17];
        size_t len = fread(b, 1, sizeof b, fp);
        fclose(fp);
        LLVMFuzzerTestOneInput(b, len);
        n++;
    }
    if (d) closedir(d);
    CHECK(n >= 8, "gguf-fuzz-corpus", "%d files replayed (expected >= 8)", n);
    return test_exit();
}
