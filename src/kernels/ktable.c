/* ktable.c - the kernel table (kernels.h's kcpu): for each weight type, the kernels of one set of
 * CPU features, filled once, as ggml's per-type traits are; dispatch.c reads an entry instead of
 * asking which type and which instruction set it has.
 *
 * Filling starts from the scalar twins of every type and lays each feature's kernels over them, in
 * order: AVX2 (float tiles; integer dots with vpmaddubsw, or AVX-VNNI's vpdpbusd where the CPU has
 * it), AVX-512 (float tiles, activation conversions; with VNNI its integer kernels replace AVX2's),
 * AVX512_BF16 (bf16 dots for BF16 weights on the fast path, the bf16 GEMM of the batch-variant
 * prefill). Each SIMD file gives its kernels as a table indexed by type, so a type gains a kernel by
 * an entry there, never by a branch here or in dispatch.c. An integer set replaces a type's whole
 * set (rows, gemv, gemm) so that one flavour's kernels are never mixed with another's.
 *
 * The CPU's features are read once (k_cpu_features); the table a caller gets from kcpu_init is its
 * own, so two flavours can run side by side (the tests compare them) and nothing process-wide
 * changes after the first call. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

/* ---- the CPU */

static unsigned cpu_features;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void detect(void) {
    unsigned f = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        /* F16C: CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports lacks the name) */
        unsigned a = 1, b, c = 0, d;
        __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        if ((c >> 29) & 1) f |= K_CPU_AVX2;
    }
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma")) /* F16C and AVX2 come with every AVX-512 CPU */
        f |= K_CPU_AVX512 | K_CPU_AVX2;
    if (__builtin_cpu_supports("avx512vnni")) f |= K_CPU_VNNI;
#if defined(__clang__) || __GNUC__ >= 13
    if (__builtin_cpu_supports("avx512bf16")) f |= K_CPU_BF16;
#else
    {
        /* older compilers lack the name: CPUID leaf 7 subleaf 1, EAX bit 5 */
        unsigned a = 7, b, c = 1, d;
        __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        if ((a >> 5) & 1) f |= K_CPU_BF16;
    }
#endif
    {
        /* AVX-VNNI: CPUID leaf 7 subleaf 1, EAX bit 4 (not every compiler's __builtin_cpu_supports knows it) */
        unsigned a = 7, b, c = 1, d;
        __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        if (((a >> 4) & 1) && kq_avx2_vnni_compiled()) f |= K_CPU_AVXVNNI;
    }
#endif
    /* the extensions count only on their base */
    if (!(f & K_CPU_AVX512)) f &= ~(unsigned)(K_CPU_VNNI | K_CPU_BF16);
    if (!(f & K_CPU_AVX2)) f &= ~(unsigned)K_CPU_AVXVNNI;
    cpu_features = f;
}

unsigned k_cpu_features(void) {
    pthread_once(&cpu_once, detect);
    return cpu_features;
}

unsigned k_cpu_env_features(void) {
    const char *e = getenv("QWEN3_ISA");
    unsigned cap = K_CPU_ALL;
    if (e && !strcmp(e, "scalar")) cap = 0;
    else if (e && !strcmp(e, "avx2")) cap = K_CPU_AVX2 | K_CPU_AVXVNNI;
    return k_cpu_features() & cap;
}

/* ---- the scalar twins */

/* nr rows with the scalar reference dot of the type */
#define SCALAR_ROWS(name)                                                                                  \
    static void rows_##name(const uint8_t *w, size_t ws, int nr, const void *arow, int64_t n, float *y) { \
        for (int i = 0; i < nr; i++) y[i] = kq_dot_##name##_scalar(w + (size_t)i * ws, arow, n);          \
    }
SCALAR_ROWS(q8_0) SCALAR_ROWS(q4) SCALAR_ROWS(q4_0) SCALAR_ROWS(q4_1) SCALAR_ROWS(q5_0) SCALAR_ROWS(q5_1)
SCALAR_ROWS(iq4_nl) SCALAR_ROWS(q2_k) SCALAR_ROWS(q3_k) SCALAR_ROWS(q4_k) SCALAR_ROWS(q5_k) SCALAR_ROWS(q6_k)
SCALAR_ROWS(iq4_xs)
#undef SCALAR_ROWS

static const kq_rows_fn rows_scalar[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q8_0] = rows_q8_0, [QWEN3_Q4] = rows_q4, [QWEN3_Q4_0] = rows_q4_0, [QWEN3_Q4_1] = rows_q4_1,
    [QWEN3_Q5_0] = rows_q5_0, [QWEN3_Q5_1] = rows_q5_1, [QWEN3_IQ4_NL] = rows_iq4_nl, [QWEN3_Q2_K] = rows_q2_k,
    [QWEN3_Q3_K] = rows_q3_k, [QWEN3_Q4_K] = rows_q4_k, [QWEN3_Q5_K] = rows_q5_k, [QWEN3_Q6_K] = rows_q6_k,
    [QWEN3_IQ4_XS] = rows_iq4_xs,
};

/* ---- our own types' SIMD kernels (quant_avx512.c, gemm_q8.c)
 *
 * On AVX2 both of our types are in GGUF's sets (their scalar twins' bits, one-token and GEMM): Q8_0
 * as a 32-value block type, Q4 with Q4_K's superblock kernels (its arithmetic). */
/* AVX-512 VNNI: Q8_0's kernels keep the scalar twin's bits (gemm_q8.c); Q4's are GGUF's superblock
 * kernels (quant_ggml_*512.c: its arithmetic is Q4_K's), which keep its twin's bits too */
static const kq_rows_fn q8_rows_avx512[QWEN3_DTYPE_COUNT] = {[QWEN3_Q8_0] = kq_dot_q8_0_avx512};
static const kq_gemv_fn q8_gemv_avx512[QWEN3_DTYPE_COUNT] = {[QWEN3_Q8_0] = kq_gemv_q8_0_avx512};
static const kq_gemm_fn q8_gemm_avx512[QWEN3_DTYPE_COUNT] = {[QWEN3_Q8_0] = kq_gemm_q8_0_avx512};

/* ---- filling */

/* one integer set laid over the types it has rows for (its gemv / gemm tables may be NULL); every
 * set gives each (row, token) its scalar twin's bits (test_ktable.c, test_gemm_ggml.c) */
static void use_int(kcpu *c, const kq_rows_fn *rows, const kq_gemv_fn *gemv, const kq_gemm_fn *gemm) {
    for (int t = 0; t < QWEN3_DTYPE_COUNT; t++) {
        if (!rows[t]) continue;
        ktype *e = &c->type[t];
        e->rows = rows[t];
        e->gemv = gemv ? gemv[t] : NULL;
        e->gemm = gemm ? gemm[t] : NULL;
    }
}

static void use_f32(kcpu *c, const k_f32_fn *f32) {
    for (int t = 0; t < QWEN3_DTYPE_COUNT; t++)
        if (f32[t]) c->type[t].f32 = f32[t];
}

void kcpu_init(kcpu *c, unsigned want) {
    unsigned f = want & k_cpu_features();
    if (!(f & K_CPU_AVX512)) f &= ~(unsigned)(K_CPU_VNNI | K_CPU_BF16);
    if (!(f & K_CPU_AVX2)) f &= ~(unsigned)(K_CPU_AVXVNNI | K_CPU_AVX512 | K_CPU_VNNI | K_CPU_BF16);
    memset(c, 0, sizeof *c);
    c->features = f;
    c->isa = f & K_CPU_AVX512 ? K_ISA_AVX512 : f & K_CPU_AVX2 ? K_ISA_AVX2 : K_ISA_SCALAR;
    c->act_quant = kq_act_quant_row;
    c->to_b16 = k_x_to_bf16_rows;
    for (int t = 0; t < QWEN3_DTYPE_COUNT; t++) {
        ktype *e = &c->type[t];
        e->tr = kq_type((qwen3_dtype)t);
        e->rows = rows_scalar[t];
        e->path = e->rows ? K_PATH_INT : K_PATH_F32;
        e->f32 = k_matmul_rows_scalar;
    }
    if (f & K_CPU_AVX2) {
        use_f32(c, k_matmul_avx2_tab);
        c->act_quant = kq_act_quant_row_avx2;
        /* GGUF's types and ours: the plain AVX2 dots and 8-row kernels; AVX-VNNI's GEMM where the
         * CPU has it */
        use_int(c, kq_ggml_rows_avx2, kq_ggml_gemv_avx2, f & K_CPU_AVXVNNI ? kq_ggml_gemm_avxvnni : kq_ggml_gemm_avx2);
    }
    if (f & K_CPU_AVX512) {
        use_f32(c, k_matmul_avx512_tab);
        c->act_quant = kq_act_quant_row_avx512;
        c->to_b16 = k_x_to_bf16_rows_avx512;
    }
    if (f & K_CPU_VNNI) {
        use_int(c, q8_rows_avx512, q8_gemv_avx512, q8_gemm_avx512);
        /* Q8_0 matrices interleaved by 16 rows (repack.c): the model repacks where these exist */
        c->type[QWEN3_Q8_0].gemv_il = kq_gemv_q8_0_il_avx512;
        c->type[QWEN3_Q8_0].gemm_il = kq_gemm_q8_0_il_avx512;
        c->type[QWEN3_Q8_0].pk_il = &kq_pack_q8_0_il;
        c->type[QWEN3_Q8_0].gemm_il_p = kq_gemm_q8_0_il_p_avx512;
        /* GGUF's 8-row kernels read an interleaved matrix too (W->il; kernels/repack.c) */
        static const qwen3_dtype kil[] = {QWEN3_Q4, QWEN3_Q4_K, QWEN3_Q5_K, QWEN3_Q6_K, QWEN3_Q4_0, QWEN3_Q4_1, QWEN3_Q5_0, QWEN3_Q5_1, QWEN3_IQ4_NL};
        for (size_t i = 0; i < sizeof kil / sizeof *kil; i++)
            if (kq_ggml_gemv_avx512[kil[i]] && kq_ggml_gemm_avx512[kil[i]]) {
                c->type[kil[i]].gemv_il = kq_ggml_gemv_avx512[kil[i]];
                c->type[kil[i]].gemm_il = kq_ggml_gemm_avx512[kil[i]];
                c->type[kil[i]].pk_il = kq_ggml_pack_avx512[kil[i]];
                c->type[kil[i]].gemm_il_p = kq_ggml_gemm_p_avx512[kil[i]];
            }
        use_int(c, kq_ggml_rows_avx512, kq_ggml_gemv_avx512, kq_ggml_gemm_avx512);
    }
    if (f & K_CPU_BF16) {
        ktype *b = &c->type[QWEN3_BF16];
        b->path = K_PATH_B16;
        b->b16 = k_dot_bf16_rows_avx512;
        b->b16_il = k_dot_bf16_il_avx512; /* BF16 interleaved by 16 rows (repack.c) */
        for (int t = 0; t < QWEN3_DTYPE_COUNT; t++)
            if (c->type[t].path != K_PATH_F32) c->type[t].gemm16 = k_gemm_bf16_rows_avx512;
    }
}

static kcpu default_cpu;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static void fill_default(void) { kcpu_init(&default_cpu, k_cpu_env_features()); }

const kcpu *k_cpu_default(void) {
    pthread_once(&default_once, fill_default);
    return &default_cpu;
}

const char *k_isa_name(k_isa i) { return i == K_ISA_AVX512 ? "avx512" : i == K_ISA_AVX2 ? "avx2" : "scalar"; }

const char *kcpu_name(const kcpu *c) {
    unsigned f = c->features;
    if (c->isa == K_ISA_AVX512)
        return f & K_CPU_BF16 && f & K_CPU_VNNI ? "avx512 (vnni, bf16)" : f & K_CPU_VNNI ? "avx512 (vnni)"
               : f & K_CPU_BF16 ? "avx512 (bf16)" : "avx512";
    if (c->isa == K_ISA_AVX2) return f & K_CPU_AVXVNNI ? "avx2 (avx-vnni)" : "avx2";
    return "scalar";
}
