/* quant_ggml_gemm512.c - GGUF's block types times many tokens (prefill), AVX-512 VNNI, with the
 * arithmetic of the scalar twins (quant_ggml.c, dot32 / dotk) for every (row, token): so a token's
 * result has the bits the one-token kernels (quant_ggml_avx512.c) give it, alone or in a batch of
 * any size, on any split of rows over threads. That is the batch-invariant path.
 *
 * Superblock types (Q2_K .. Q6_K, IQ4_XS, our Q4): a SIMD lane per weight row, as gemm_q8.c's
 * interleaved Q8_0 kernel does. Per 32 rows and superblock, each row is unpacked to bytes by the
 * one-row kernels' unpack512 and the 16 rows of each vector transposed into lanes (unpack16: w[g] =
 * the 4 bytes of group g of the 16 rows, the scales and minimums per row), once for a pass of up to
 * SCHUNK tokens; then tiles of TT tokens (packed per superblock: their bytes, d and sums) meet them:
 * a token's 4 bytes of group g are broadcast and vpdpbusd adds u x over the group into each row's
 * int32 lane. The tile holds 2 x TT integer sums per sub-block and 2 x TT per superblock; the
 * float sums live in Y itself (each token's 32 results one line), added to once per superblock.
 * Rows in the lanes rather than tokens (this file's layout until 2026-12-06): one thread, 512
 * tokens, 3072 x 1024 and 1024 x 3072, medians of alternating runs, Q4_K 421-468 / 451-512 ->
 * 595-608 / 541-554 GOP/s, Q6_K 399-437 / 438-483 -> 510-524 / 469-480; of that, the 288-token
 * pass (SCHUNK), the prefetch of the next step's rows (prefetch_sb) and Q4_K's blocks transposed
 * whole (unpack16_q4k) each gave 5-20%. At 32 tokens Q6_K is slower than before (404 / 452 ->
 * ~340 / ~330): its unpacking is shared by fewer tiles. Q6_K's blocks transposed whole too
 * (unpack16_q6k; one thread, 2048 x 768 as a MoE expert's down, medians of alternating runs, AMD
 * EPYC Zen 5, 2026-12-06): 8 tokens 134 -> 161 GOP/s, 32 tokens 274-321 -> 300-329 (from memory)
 * and 349-353 -> 381-387 (in cache), 512 tokens of 1024 x 3072 unchanged (443-479); then its scales
 * and d from one window instead of two overlapping ones: 8 tokens 108-114 -> 149, 32 tokens in
 * cache 297-357 -> 300-376 (3 of 4 alternations faster), from memory within noise.
 *
 * Q4_K stored by 16 rows with the words in lanes (kernels/repack.c: the default at load) needs no
 * transposition at all (unpack16_q4k_t16: 36 loads; one thread, 768 x 2048 as a MoE expert's gate,
 * medians of 5 alternations, library built each way, AMD EPYC Zen 5, 2026-12-07: 16 / 32 / 64
 * tokens from memory 414 / 492 / 556 -> 479 / 529 / 574 GOP/s). Q6_K the same (unpack16_q6k_t16:
 * 53 loads and the 6-bit values put together in the lanes; 2048 x 768, medians of 8 alternations,
 * 2026-12-07: 16 / 32 / 64 tokens from memory 308 / 388 / 462 -> 320 / 412 / 480 GOP/s, in cache
 * 374 / 447 / 488 -> 444 / 488 / 539).
 *
 * Superblock types x A8_K, per (row, token) lane and superblock, all in exact int32:
 *   dot_g = sum over sub-block g (16 or 32 values) of u x     (u = q + OFF, unsigned)
 *   isum  = sum_g sc_g dot_g - OFF sum_g sc_g xs_g            (xs_g: the token's sum of x over g)
 *   imin  = sum_g mn_g xs_g                                    (Q2_K, Q4_K, Q5_K)
 * with sc_g dot_g by vpmulld once per sub-block, and the xs terms by vpdpwssd on int16 pairs of
 * (scale, sum). OFF: Q6_K 32, Q3_K 4, IQ4_XS 128 (its table values are signed), else 0. The sums
 * equal the scalar twin's (integer arithmetic is exact; an intermediate that wraps wraps back, the
 * results fit), and the float steps per superblock are its own: p = d isum [- dmin imin], acc += dx p.
 *
 * 32-value blocks x A8_0 (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL): a lane per token. Activations packed per
 * 16 tokens and block as [4-byte group g][16 tokens] (one 512-bit load gives 16 tokens' bytes of
 * group g); a weight row's 4 bytes of group g (unpacked 8 blocks of 4 rows at a time, shared by the
 * chunk's 128 tokens) are broadcast; u = q + 128 (q as the scalar unpacks it), s = sum u x - 128
 * sum x, then per block p = s (d dx) [+ sx (m dx)], acc += p.
 * The tokens are packed once for all the products over them (kq_pack: by the caller's kact, else by
 * kq_gemm_own_packing). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include "kernels/quant_ggml_avx512.h"
#include "kernels/quant_ggml_pack.h"

#define CHUNK 128 /* tokens a pass of the 32-value blocks' kernel reads over the rows (their tiles stay in L2) */

/* gcc keeps arrays of vectors in memory unless their loops are unrolled outright: the tiles' (up to
 * 8 steps) and the unpacking's (16 or 32: left to gcc's own heuristics, they stayed loops over the
 * stack and unpack16 took twice as long) */
#if defined(__clang__)
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 32")
#endif
#include "kernels/out16.h"
#include "kernels/act_block512.h"

/* row r's first block (BB bytes) and, through rs and bs, the steps to row r + i's (for r + i in
 * r's group of il rows) and to the next block: row-major, or interleaved by il rows
 * (kernels/repack.c: a group's il blocks b side by side) */
INL const uint8_t *row_at(const kmat *W, int64_t r, size_t BB, size_t *rs, size_t *bs) {
    const int il = W->il;
    *rs = il ? BB : W->row_bytes;
    *bs = il ? (size_t)il * BB : BB;
    return (const uint8_t *)W->data + (il ? (size_t)(r / il) * (size_t)il * W->row_bytes + (size_t)(r % il) * BB : (size_t)r * W->row_bytes);
}

/* the 4 x (16 nv) results of rows c..c+3 (acc[i][t]) into the block buffer ob (out16.h) */
TGT INL void put_rows(float acc[4][CHUNK], int nv, float (*ob)[16], int c) {
    for (int v = 0; v < nv; v++) {
        __m512 a[4] = {_mm512_load_ps(acc[0] + 16 * v), _mm512_load_ps(acc[1] + 16 * v), _mm512_load_ps(acc[2] + 16 * v),
                       _mm512_load_ps(acc[3] + 16 * v)};
        out16_put4(a, ob + 16 * v, c);
    }
}

/* 16 dwords of 16 rows transposed in place: r[j] becomes dword j of every row (row t in lane t).
 * Dwords, then qwords, within each 128-bit lane; then the lanes across rows in two steps. */
TGT INL void transpose16(__m512i r[16]) {
    __m512i t[16], u[16];
    UNROLL
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4a + k]: rows 4a..4a+3, dword k + 4 L in 128-bit lane L */
    UNROLL
    for (int a = 0; a < 16; a += 4) {
        u[a] = _mm512_unpacklo_epi64(t[a], t[a + 2]);
        u[a + 1] = _mm512_unpackhi_epi64(t[a], t[a + 2]);
        u[a + 2] = _mm512_unpacklo_epi64(t[a + 1], t[a + 3]);
        u[a + 3] = _mm512_unpackhi_epi64(t[a + 1], t[a + 3]);
    }
    UNROLL
    for (int k = 0; k < 4; k++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x88), w0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xdd);
        __m512i v1 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x88), w1 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xdd);
        r[k] = _mm512_shuffle_i32x4(v0, v1, 0x88);
        r[k + 8] = _mm512_shuffle_i32x4(v0, v1, 0xdd);
        r[k + 4] = _mm512_shuffle_i32x4(w0, w1, 0x88);
        r[k + 12] = _mm512_shuffle_i32x4(w0, w1, 0xdd);
    }
}

static inline int koff(qwen3_dtype T) { return T == QWEN3_IQ4_XS ? 128 : offset_of(T); }

/* 16 rows' superblock unpacked with the rows in the lanes: w[g] holds the 4 values of group g (u =
 * q + OFF, bytes) of row i in lane i; sc[j] sub-block j's scale per row (int32); scp[p] and mnp[p]
 * the scales and minimums as int16 pairs (2p, 2p + 1) per row; d and dmin per row. */
typedef struct { __m512i w[64], sc[16], scp[8], mnp[8]; __m512 d, dmin; } kul;

/* up to 32 rows' first superblocks (row_at, which divides by il: so once per block of rows, not
 * per superblock) and the step bs from one superblock of a row to its next */
typedef struct { const uint8_t *p[32]; size_t bs; } krows;
INL void rows_of(const kmat *W, int64_t r, int n, size_t BB, krows *o) {
    size_t rs;
    for (int i = 0; i < n; i++) o->p[i] = row_at(W, r + i, BB, &rs, &o->bs);
}

/* the n rows' blocks at p[i] + off into the cache: unpack16 of the next step would otherwise wait
 * on memory row by row (perf: the first load of each row's block was a fifth of unpack16's time) */
INL void prefetch_rows(const uint8_t *const *p, int n, size_t off, size_t BB) {
    for (int i = 0; i < n; i++) {
        const char *b = (const char *)p[i] + off;
        for (size_t k = 0; k < BB; k += 64) _mm_prefetch(b + k, _MM_HINT_T0);
        _mm_prefetch(b + BB - 1, _MM_HINT_T0);
    }
}

/* the first 128 bytes of the nr rows' blocks at rp[i] + off (the other rows zero) transposed into
 * lanes: a[k] is word k of the 16 rows, b[k] word 16 + k */
TGT INL void words16(const uint8_t *const *rp, int nr, size_t off, __m512i a[16], __m512i b[16]) {
    UNROLL
    for (int i = 0; i < 16; i++) {
        if (i < nr) {
            a[i] = _mm512_loadu_si512(rp[i] + off);
            b[i] = _mm512_loadu_si512(rp[i] + off + 64);
        } else a[i] = b[i] = _mm512_setzero_si512();
    }
    transpose16(a);
    transpose16(b);
}

/* NW (4 or 8) words at co of the nr rows' blocks, transposed into lanes: c[k] is word co / 4 + k of
 * the 16 rows. Rows j, j + 16 / NW, ... go to the 128-bit (NW = 4) or 256-bit (8) parts of vector j,
 * so that a transposition within the parts leaves row i in lane i: 8 or 24 shuffles where a 16 x 16
 * transposition takes 64. */
TGT INL void words16_tail(const uint8_t *const *rp, int nr, size_t off, size_t co, int NW, __m512i c[8]) {
    __m512i z[8], t[8];
    if (NW == 4) {
        UNROLL
        for (int j = 0; j < 4; j++) {
            __m128i p[4];
            UNROLL
            for (int l = 0; l < 4; l++) p[l] = j + 4 * l < nr ? _mm_loadu_si128((const __m128i *)(rp[j + 4 * l] + off + co)) : _mm_setzero_si128();
            z[j] = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(p[0]), p[1], 1), p[2], 2), p[3], 3);
        }
        t[0] = _mm512_unpacklo_epi32(z[0], z[1]), t[1] = _mm512_unpackhi_epi32(z[0], z[1]);
        t[2] = _mm512_unpacklo_epi32(z[2], z[3]), t[3] = _mm512_unpackhi_epi32(z[2], z[3]);
        c[0] = _mm512_unpacklo_epi64(t[0], t[2]), c[1] = _mm512_unpackhi_epi64(t[0], t[2]);
        c[2] = _mm512_unpacklo_epi64(t[1], t[3]), c[3] = _mm512_unpackhi_epi64(t[1], t[3]);
        return;
    }
    UNROLL
    for (int j = 0; j < 8; j++) {
        __m256i lo = j < nr ? _mm256_loadu_si256((const __m256i *)(rp[j] + off + co)) : _mm256_setzero_si256();
        __m256i hi = j + 8 < nr ? _mm256_loadu_si256((const __m256i *)(rp[j + 8] + off + co)) : _mm256_setzero_si256();
        z[j] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    UNROLL
    for (int i = 0; i < 8; i += 2) t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]), t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
    /* u[4h + k]: rows 4h..4h+3 (of each 8) words k (128-bit parts 0, 2) and k + 4 (parts 1, 3) */
    __m512i u[8];
    UNROLL
    for (int h = 0; h < 2; h++) {
        u[4 * h] = _mm512_unpacklo_epi64(t[4 * h], t[4 * h + 2]), u[4 * h + 1] = _mm512_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 2] = _mm512_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]), u[4 * h + 3] = _mm512_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
    /* word k: parts 0 of u[k], u[4 + k], parts 2 of them; word k + 4: parts 1, 1, 3, 3 */
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    UNROLL
    for (int k = 0; k < 4; k++) {
        c[k] = _mm512_permutex2var_epi64(u[k], lo, u[4 + k]);
        c[k + 4] = _mm512_permutex2var_epi64(u[k], hi, u[4 + k]);
    }
}

/* d and dmin from word 0 (two f16) and the 8 scales and 8 minimums as bytes of the words s[0..1]
 * and n[0..1], 16 rows in lanes, into o (Q4_K after its 6-bit unpacking, our Q4 as stored) */
TGT INL void put_scales8(const __m512i w0, const __m512i s[2], const __m512i n[2], kul *o) {
    o->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(w0));
    o->dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(w0, 16)));
    const __m512i ff = _mm512_set1_epi32(0xff);
    UNROLL
    for (int j = 0; j < 8; j++) o->sc[j] = _mm512_and_si512(_mm512_srli_epi32(s[j / 4], 8 * (j % 4)), ff);
    UNROLL
    for (int p = 0; p < 4; p++) {
        o->scp[p] = _mm512_shuffle_epi8(s[p / 2], pair_bytes(2 * (p % 2), 0));
        o->mnp[p] = _mm512_shuffle_epi8(n[p / 2], pair_bytes(2 * (p % 2), 0));
    }
}

/* unpack16 for Q4_K without a row at a time: the 16 rows' 144-byte blocks (36 words: d and dmin,
 * the 3 scale words, 32 words of nibbles) transposed into lanes as they are, then the nibbles,
 * scales (k4_scale_words' arithmetic) and d / dmin taken apart in the lanes: a third of the
 * generic path's work (which unpacks each row to bytes, then transposes 4 times the bytes) */
/* Q4_K's nibble word k (block word 4 + k) of 16 rows into o: its low nibbles are values 64 (k / 8) +
 * 4 (k % 8) .. + 3, its high nibbles the values 32 further */
TGT INL void q4k_word(__m512i q, int k, kul *o) {
    const __m512i m4 = _mm512_set1_epi8(15);
    o->w[16 * (k / 8) + k % 8] = _mm512_and_si512(q, m4);
    o->w[16 * (k / 8) + 8 + k % 8] = _mm512_and_si512(_mm512_srli_epi32(q, 4), m4);
}

TGT INL void unpack16_q4k(const uint8_t *const *rp, int nr, size_t off, kul *o) {
    __m512i a[16], b[16], c[8];
    words16(rp, nr, off, a, b);
    words16_tail(rp, nr, off, 128, 4, c);
    UNROLL
    for (int k = 0; k < 32; k++) q4k_word(k < 12 ? a[4 + k] : k < 28 ? b[k - 12] : c[k - 28], k, o);
    __m512i s[2], n[2];
    k4_scales16(a[1], a[2], a[3], s, n);
    put_scales8(a[0], s, n, o);
}

/* the same from Q4_K interleaved by 16 rows with the words in lanes (kernels/repack.c): the 16 rows'
 * superblock at blk (KQ4K_T16_STEP bytes) is already 36 vectors of word k of every row, so the unpacking is
 * 36 loads and no transposition */
TGT INL void unpack16_q4k_t16(const uint8_t *blk, kul *o) {
    UNROLL
    for (int k = 0; k < 32; k++) q4k_word(_mm512_loadu_si512(blk + 64 * (4 + k)), k, o);
    __m512i s[2], n[2];
    k4_scales16(_mm512_loadu_si512(blk + 64), _mm512_loadu_si512(blk + 128), _mm512_loadu_si512(blk + 192), s, n);
    put_scales8(_mm512_loadu_si512(blk), s, n, o);
}

/* our Q4's nibble word k (block word 5 + k) of 16 rows into o */
TGT INL void q4_word(__m512i q, int k, kul *o) {
    const __m512i m4 = _mm512_set1_epi8(15);
    o->w[32 * (k / 16) + k % 16] = _mm512_and_si512(q, m4);
    o->w[32 * (k / 16) + 16 + k % 16] = _mm512_and_si512(_mm512_srli_epi32(q, 4), m4);
}

/* unpack16_q4k's work for our Q4's 148-byte blocks (kernels/quant.h: d, dmin, 8 scale bytes, 8
 * minimum bytes, 128 bytes of nibbles, 37 words): nibble word k (block word 5 + k) holds in its low
 * nibbles values 128 (k / 16) + 4 (k % 16) .. + 3, in its high ones the values 64 further (q4_word) */
TGT INL void unpack16_q4(const uint8_t *const *rp, int nr, size_t off, kul *o) {
    __m512i a[16], b[16], c[8];
    words16(rp, nr, off, a, b);
    words16_tail(rp, nr, off, 116, 8, c); /* c: words 29..36 */
    UNROLL
    for (int k = 0; k < 32; k++) q4_word(5 + k < 16 ? a[5 + k] : 5 + k < 32 ? b[5 + k - 16] : c[5 + k - 29], k, o);
    const __m512i s[2] = {a[1], a[2]}, n[2] = {a[3], a[4]};
    put_scales8(a[0], s, n, o);
}

/* Q6_K's values from ql's words j and 8 + j of half hc and qh's word 8 hc + j (q6k_vals4) into o:
 * groups 32 hc + j, + 8, + 16, + 24 */
TGT INL void q6k_word(__m512i q0, __m512i q1, __m512i qh, int hc, int j, kul *o) {
    __m512i v[4];
    q6k_vals4(q0, q1, qh, v);
    UNROLL
    for (int k = 0; k < 4; k++) o->w[32 * hc + 8 * k + j] = v[k];
}

/* the same for Q6_K's 210-byte blocks (ql 128 bytes, qh 64, 16 int8 scales, d), which the generic
 * path had unpacked a row at a time and then transposed as bytes, scales and d: ql's 32 words and
 * qh's 16 are transposed into lanes as they are (3 transpositions), the scales and d with them from
 * one 32-byte window (bytes 178..209, ending at the block's end: scale s at window byte 14 + s, d at
 * 30..31), and the 6-bit values put together in the lanes. Per 128 values c, dword j of ql's first
 * 64 bytes holds in its low nibbles values 128c + 4j .. + 3 and in its high ones those 64 further;
 * dword 8 + j the ones 32 further again; qh's dword j bits 0-1, 2-3, 4-5 and 6-7 of a byte the top 2
 * bits of those four. */
TGT INL void unpack16_q6k(const uint8_t *const *rp, int nr, size_t off, kul *o) {
    __m512i a[16], b[16], h[16], c[8];
    words16(rp, nr, off, a, b);
    UNROLL
    for (int i = 0; i < 16; i++) h[i] = i < nr ? _mm512_loadu_si512(rp[i] + off + 128) : _mm512_setzero_si512();
    transpose16(h);
    words16_tail(rp, nr, off, 178, 8, c);
    UNROLL
    for (int hc = 0; hc < 2; hc++)
        UNROLL
        for (int j = 0; j < 8; j++) q6k_word(hc ? b[j] : a[j], hc ? b[8 + j] : a[8 + j], h[8 * hc + j], hc, j, o);
    /* scale s (int8): window byte 14 + s; the pairs (2p, 2p + 1) never straddle a word (14 + 2p is
     * even) */
    UNROLL
    for (int s = 0; s < 16; s++) o->sc[s] = sbyte32(c[(14 + s) / 4], (14 + s) % 4);
    UNROLL
    for (int p = 0; p < 8; p++) o->scp[p] = _mm512_srai_epi16(_mm512_shuffle_epi8(c[(14 + 2 * p) / 4], pair_bytes((14 + 2 * p) % 4, 1)), 8);
    o->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(c[7], 16)));
}

/* the same from our Q4 interleaved by 16 rows with the words in lanes (kernels/repack.c): the 37
 * words of unpack16_q4's block are vectors at blk + 64 k as they are */
TGT INL void unpack16_q4_t16(const uint8_t *blk, kul *o) {
    UNROLL
    for (int k = 0; k < 32; k++) q4_word(_mm512_loadu_si512(blk + 64 * (5 + k)), k, o);
    const __m512i s[2] = {_mm512_loadu_si512(blk + 64), _mm512_loadu_si512(blk + 128)};
    const __m512i n[2] = {_mm512_loadu_si512(blk + 192), _mm512_loadu_si512(blk + 256)};
    put_scales8(_mm512_loadu_si512(blk), s, n, o);
}

/* the same from Q6_K interleaved by 16 rows with the words in lanes (kernels/repack.c): ql's 32 words,
 * qh's 16 and the 4 words of scales are vectors at blk + 64 k as they are, the 16 rows' d at blk +
 * 64 x 52: loads only, then the same arithmetic in the lanes */
TGT INL void unpack16_q6k_t16(const uint8_t *blk, kul *o) {
#define W6(k) _mm512_loadu_si512(blk + 64 * (k))
    UNROLL
    for (int hc = 0; hc < 2; hc++)
        UNROLL
        for (int j = 0; j < 8; j++) q6k_word(W6(16 * hc + j), W6(16 * hc + 8 + j), W6(32 + 8 * hc + j), hc, j, o);
    /* scale s (int8): byte s % 4 of word 48 + s / 4 */
    UNROLL
    for (int s = 0; s < 16; s++) o->sc[s] = sbyte32(W6(48 + s / 4), s % 4);
    UNROLL
    for (int p = 0; p < 8; p++) o->scp[p] = _mm512_srai_epi16(_mm512_shuffle_epi8(W6(48 + p / 2), pair_bytes(2 * (p % 2), 1)), 8);
#undef W6
    o->d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + 64 * 52)));
}

/* the nr rows' (nr <= 16; the other lanes zero) superblocks at rp[i] + off into o: each row unpacked
 * by unpack512 (the one-row kernels' own unpacking), then the 16 rows' bytes, scales and minimums
 * transposed into lanes, a 16 x 16 dword transposition each */
TGT INL void unpack16(qwen3_dtype T, const uint8_t *const *rp, int nr, size_t off, kul *o) {
    uint8_t u8[16][256] __attribute__((aligned(64)));
    int16_t sc[16][32] __attribute__((aligned(64))), mn[16][32] __attribute__((aligned(64)));
    float d[16] __attribute__((aligned(64))), dm[16] __attribute__((aligned(64)));
    if (T == QWEN3_Q4_K) {
        unpack16_q4k(rp, nr, off, o);
        return;
    }
    if (T == QWEN3_Q4) {
        unpack16_q4(rp, nr, off, o);
        return;
    }
    if (T == QWEN3_Q6_K) {
        unpack16_q6k(rp, nr, off, o);
        return;
    }
    for (int i = 0; i < 16; i++) {
        _mm512_store_si512(sc[i], _mm512_setzero_si512());
        _mm512_store_si512(mn[i], _mm512_setzero_si512());
        if (i >= nr) {
            memset(u8[i], 0, 256);
            d[i] = dm[i] = 0.0f;
            continue;
        }
        ksb u;
        unpack512(T, rp[i] + off, &u);
        UNROLL
        for (int v = 0; v < 4; v++)
            _mm512_store_si512(u8[i] + 64 * v, T == QWEN3_IQ4_XS ? _mm512_xor_si512(u.v[v], _mm512_set1_epi8((char)0x80)) : u.v[v]);
        if (per16(T)) _mm256_store_si256((__m256i *)sc[i], _mm512_castsi512_si256(u.sc));
        else _mm_store_si128((__m128i *)sc[i], _mm512_castsi512_si128(u.sc));
        if (T == QWEN3_Q2_K) _mm256_store_si256((__m256i *)mn[i], _mm512_castsi512_si256(u.mn));
        if (has_m32(T)) _mm_store_si128((__m128i *)mn[i], u.m32);
        d[i] = u.d;
        dm[i] = has_mins(T) ? u.dmin : 0.0f;
    }
    __m512i t[16];
    UNROLL
    for (int c = 0; c < 4; c++) {
        UNROLL
        for (int i = 0; i < 16; i++) t[i] = _mm512_load_si512(u8[i] + 64 * c);
        transpose16(t);
        UNROLL
        for (int j = 0; j < 16; j++) o->w[16 * c + j] = t[j];
    }
    UNROLL
    for (int i = 0; i < 16; i++) t[i] = _mm512_load_si512(sc[i]);
    transpose16(t);
    UNROLL
    for (int p = 0; p < 8; p++) {
        o->scp[p] = t[p];
        o->sc[2 * p] = _mm512_srai_epi32(_mm512_slli_epi32(t[p], 16), 16);
        o->sc[2 * p + 1] = _mm512_srai_epi32(t[p], 16);
    }
    if (has_mins(T)) {
        UNROLL
        for (int i = 0; i < 16; i++) t[i] = _mm512_load_si512(mn[i]);
        transpose16(t);
        UNROLL
        for (int p = 0; p < 8; p++) o->mnp[p] = t[p];
    }
    o->d = _mm512_load_ps(d);
    o->dmin = _mm512_load_ps(dm);
}

/* A tile of TT tokens of one superblock, packed (kq_pack pack_tiles_k): their 256 bytes each, their
 * d, and as int16 pairs their sums of x per 16 values (s16[t][p]: sums 2p, 2p + 1) and per 32
 * (s32); padding tokens are zeros. */
#define TT 6
typedef struct { int8_t q[TT][256]; float d[TT]; int32_t s16[TT][8], s32[TT][4]; } kpt;
_Static_assert(sizeof(kpt) == TT * (256 + 4 + 32 + 16), "kpt has no padding: a full tile's packing writes every byte");

/* NV (1 or 2) vectors of 16 rows (u0, u1) x the first NT (a constant, <= TT: a tile's own token
 * count) tokens of x, one superblock. Token t's sums of vector v go to y[t] + 16 v (lanes in m[v]):
 * y = 0 + dx p on the first superblock, else y + dx p. Per sub-block the exact int32 sums dt of each (row,
 * token) lane, then is += sc dt (vpmulld); per superblock the OFF and minimum terms by vpdpwssd on
 * pairs, then the float steps. */
TGT INL void tile_l(qwen3_dtype T, const kul *u0, const kul *u1, int NV, int NT, const kpt *x, float *const *y,
                    const __mmask16 m[2], int first) {
    const int G = per16(T) ? 4 : 8, NG = 64 / G, OFF = koff(T), NP = per16(T) ? 8 : 4;
    const kul *u[2] = {u0, u1};
    __m512i is[2][TT];
    UNROLL
    for (int t = 0; t < NT; t++) is[0][t] = is[1][t] = _mm512_setzero_si512();
    for (int j = 0; j < NG; j++) {
        __m512i dt[2][TT];
        UNROLL
        for (int t = 0; t < NT; t++) dt[0][t] = dt[1][t] = _mm512_setzero_si512();
        UNROLL
        for (int k = 0; k < G; k++) {
            const int g = j * G + k;
            const __m512i w0 = _mm512_load_si512(&u0->w[g]), w1 = NV == 2 ? _mm512_load_si512(&u1->w[g]) : w0;
            UNROLL
            for (int t = 0; t < NT; t++) {
                const __m512i xb = _mm512_set1_epi32((int)rd32((const uint8_t *)x->q[t] + 4 * g));
                dt[0][t] = _mm512_dpbusd_epi32(dt[0][t], w0, xb);
                if (NV == 2) dt[1][t] = _mm512_dpbusd_epi32(dt[1][t], w1, xb);
            }
        }
        UNROLL
        for (int v = 0; v < NV; v++) {
            const __m512i s = _mm512_load_si512(&u[v]->sc[j]);
            UNROLL
            for (int t = 0; t < NT; t++) is[v][t] = _mm512_add_epi32(is[v][t], _mm512_mullo_epi32(dt[v][t], s));
        }
    }
    /* per (token, vector): the OFF and minimum terms (vpdpwssd on int16 pairs), then the scalar
     * twin's float steps p = d isum [- dmin imin]; acc += dx p */
    const int SH = OFF == 128 ? 7 : OFF == 32 ? 5 : 2;
    UNROLL
    for (int t = 0; t < NT; t++) {
        const __m512 dx = _mm512_set1_ps(x->d[t]);
        UNROLL
        for (int v = 0; v < NV; v++) {
            __m512i s = is[v][t];
            if (OFF) { /* is -= OFF sum_g sc_g xs_g */
                __m512i c = _mm512_setzero_si512();
                UNROLL
                for (int p = 0; p < NP; p++)
                    c = _mm512_dpwssd_epi32(c, u[v]->scp[p], _mm512_set1_epi32(per16(T) ? x->s16[t][p] : x->s32[t][p]));
                s = _mm512_sub_epi32(s, _mm512_slli_epi32(c, SH));
            }
            __m512 p = _mm512_mul_ps(u[v]->d, _mm512_cvtepi32_ps(s));
            if (has_mins(T)) {
                __m512i im = _mm512_setzero_si512();
                UNROLL
                for (int q = 0; q < NP; q++)
                    im = _mm512_dpwssd_epi32(im, u[v]->mnp[q], _mm512_set1_epi32(T == QWEN3_Q2_K ? x->s16[t][q] : x->s32[t][q]));
                p = _mm512_sub_ps(p, _mm512_mul_ps(u[v]->dmin, _mm512_cvtepi32_ps(im)));
            }
            float *a = y[t] + 16 * v;
            const __m512 acc = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m[v], a);
            _mm512_mask_storeu_ps(a, m[v], _mm512_add_ps(acc, _mm512_mul_ps(dx, p)));
        }
    }
}

/* tokens a pass over the rows reads: each 32 rows x superblock is unpacked once per pass, so the
 * larger the better while the tiles stream from L2 / L3 (one thread, 512 tokens, Q4_K 3072 x 1024
 * and 1024 x 3072, medians of 5 alternating: 96 tokens 470 / 457 GOP/s, 192 525 / 488, 288 572 /
 * 514; 516 no better than 288 with the prefetch) */
#define SCHUNK 288

/* rows [r0, r1) x the n tokens whose tiles (nsb kpt each) are P. Per chunk of tokens, 32 rows at a
 * time, per superblock: the rows unpacked into lanes once (unpack16), then every tile of the chunk
 * meets them. Each (row, token) sums its superblocks in order, as the scalar twin: the same bits. */
/* Q4_K, Q6_K and our Q4 interleaved by 16 rows, words in lanes (repack.c; r0 and r1 multiples of 16): the 16
 * rows of group R's superblock sb are the t16_step(T) bytes at (R nsb + sb) t16_step(T) */
_Static_assert(KQ4K_T16_STEP == 16 * sizeof(kq4_k_block), "a Q4_K group step: 16 blocks");
_Static_assert(KQ6K_T16_STEP == 16 * sizeof(kq6_k_block) && 64 * 52 + 32 == KQ6K_T16_STEP, "a Q6_K group step: 16 blocks");
_Static_assert(KQ4_T16_STEP == 16 * sizeof(kq4_block), "a Q4 group step: 16 blocks");
/* a superblock step's bytes of a type stored so, else 0 */
INL size_t t16_step(qwen3_dtype T) {
    return T == QWEN3_Q4_K ? KQ4K_T16_STEP : T == QWEN3_Q6_K ? KQ6K_T16_STEP : T == QWEN3_Q4 ? KQ4_T16_STEP : 0;
}

/* 16 rows' superblock of such a matrix at blk into lanes */
TGT INL void unpack16_t16(qwen3_dtype T, const uint8_t *blk, kul *o) {
    if (T == QWEN3_Q6_K) unpack16_q6k_t16(blk, o);
    else if (T == QWEN3_Q4) unpack16_q4_t16(blk, o);
    else unpack16_q4k_t16(blk, o);
}

/* one superblock step (step bytes) of ng groups (1 or 2), gstep bytes apart, from g into the cache */
INL void prefetch_t16(const uint8_t *g, int ng, size_t gstep, size_t step) {
    for (int j = 0; j < ng; j++) {
        const char *b = (const char *)g + (size_t)j * gstep;
        for (size_t i = 0; i < step; i += 64) _mm_prefetch(b + i, _MM_HINT_T0);
        _mm_prefetch(b + step - 1, _MM_HINT_T0); /* a step that does not start a line ends in one more */
    }
}

TGT INL int gemm_k_p(qwen3_dtype T, const kmat *W, const kpt *P, int n, float *Y, int64_t r0, int64_t r1) {
    const int64_t nsb = W->cols / 256;
    const size_t BB = bbytes(T);
    const size_t step = W->il == 16 ? t16_step(T) : 0, gstep = (size_t)nsb * step; /* a superblock of 16 rows; a group */
    const int t16 = step != 0;
    kul u[2] __attribute__((aligned(64)));
    krows rw, nx; /* this block's rows and the next one's */
    for (int c0 = 0; c0 < n; c0 += SCHUNK) {
        const int cn = n - c0 < SCHUNK ? n - c0 : SCHUNK, ntile = (cn + TT - 1) / TT;
        if (!t16) rows_of(W, r0, r1 - r0 < 32 ? (int)(r1 - r0) : 32, BB, &rw);
        for (int64_t rb = r0; rb < r1; rb += 32) {
            const int nr0 = r1 - rb < 16 ? (int)(r1 - rb) : 16, nr1 = r1 - rb <= 16 ? 0 : r1 - rb < 32 ? (int)(r1 - rb - 16) : 16;
            const int nnext = r1 - rb - 32 <= 0 ? 0 : r1 - rb - 32 < 32 ? (int)(r1 - rb - 32) : 32;
            const __mmask16 m[2] = {(__mmask16)((1u << nr0) - 1), (__mmask16)((1u << nr1) - 1)};
            if (nnext && !t16) rows_of(W, rb + 32, nnext, BB, &nx);
            const uint8_t *g0 = t16 ? (const uint8_t *)W->data + (size_t)(rb / 16) * gstep : NULL;
            for (int64_t sb = 0; sb < nsb; sb++) {
                if (t16) {
                    const uint8_t *s0 = g0 + (size_t)sb * step;
                    unpack16_t16(T, s0, &u[0]);
                    if (nr1) unpack16_t16(T, s0 + gstep, &u[1]);
                    /* the next step: this block's next superblock, or the next block's first */
                    if (sb + 1 < nsb) prefetch_t16(s0 + step, 1 + (nr1 > 0), gstep, step);
                    else if (nnext) prefetch_t16(g0 + 2 * gstep, 1 + (nnext > 16), gstep, step);
                } else {
                    const size_t off = (size_t)sb * rw.bs;
                    unpack16(T, rw.p, nr0, off, &u[0]);
                    if (nr1) unpack16(T, rw.p + 16, nr1, off, &u[1]);
                    /* the next step's rows, while this one's tiles run */
                    if (sb + 1 < nsb) prefetch_rows(rw.p, nr0 + nr1, off + rw.bs, BB);
                    else prefetch_rows(nx.p, nnext, 0, BB);
                }
                for (int k = 0; k < ntile; k++) {
                    const kpt *x = P + (size_t)(c0 / TT + k) * (size_t)nsb + (size_t)sb;
                    const int nt = cn - TT * k < TT ? cn - TT * k : TT;
                    float *y[TT];
                    for (int t = 0; t < nt; t++) y[t] = Y + (size_t)(c0 + TT * k + t) * (size_t)W->rows + (size_t)rb;
                    /* a last tile of fewer tokens does only their work: a MoE expert sees ~32
                     * tokens, 5 tiles and 2 tokens (one thread, 48 experts' gate / up / down,
                     * Q4_K / Q6_K, 32 tokens: +4%) */
#define TILE(N) (nr1 ? tile_l(T, &u[0], &u[1], 2, N, x, y, m, sb == 0) : tile_l(T, &u[0], &u[0], 1, N, x, y, m, sb == 0))
                    switch (nt) {
                    case 1: TILE(1); break;
                    case 2: TILE(2); break;
                    case 3: TILE(3); break;
                    case 4: TILE(4); break;
                    case 5: TILE(5); break;
                    default: TILE(TT); break;
                    }
#undef TILE
                }
            }
            if (nnext && !t16) rw = nx;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- 32-value blocks x A8_0 */

/* up to 8 blocks of one row unpacked: u = q + 128, d and m per block */
typedef struct { uint8_t u[256]; float d[8], m[8]; } kur32;

/* nb blocks bs bytes apart (the block's size in a row, 8 x it interleaved: kernels/repack.c) */
TGT INL void unpack_row32(qwen3_dtype T, const uint8_t *row, int nb, size_t bs, kur32 *o) {
    const int QS = T == QWEN3_Q5_1 ? 8 : T == QWEN3_Q5_0 ? 6 : T == QWEN3_Q4_1 ? 4 : 2;
    const int HB = T == QWEN3_Q5_0 || T == QWEN3_Q5_1, MIN = T == QWEN3_Q4_1 || T == QWEN3_Q5_1;
    /* u = q + 128 for q = nibble - 8 (Q4_0), q5 - 16 (Q5_0), q unsigned (Q4_1, Q5_1), table value (IQ4_NL) */
    const char bias = T == QWEN3_Q4_0 ? 120 : T == QWEN3_Q5_0 ? 112 : (char)128;
    const __m128i low4 = _mm_set1_epi8(15);
    const __m256i tbl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kq_iq4_values));
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * bs;
        __m128i q = _mm_loadu_si128((const __m128i *)(blk + QS));
        __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, low4)), _mm_and_si128(_mm_srli_epi16(q, 4), low4), 1);
        if (HB) {
            uint32_t qh;
            memcpy(&qh, blk + QS - 4, 4);
            v = _mm256_mask_add_epi8(v, (__mmask32)qh, v, _mm256_set1_epi8(16));
        }
        if (T == QWEN3_IQ4_NL) v = _mm256_shuffle_epi8(tbl, v);
        _mm256_storeu_si256((__m256i *)(o->u + 32 * b), _mm256_add_epi8(v, _mm256_set1_epi8(bias)));
        uint16_t h;
        memcpy(&h, blk, 2);
        o->d[b] = _cvtsh_ss(h);
        if (MIN) {
            memcpy(&h, blk + 2, 2);
            o->m[b] = _cvtsh_ss(h);
        }
    }
}

/* NR <= 4 rows x token vectors P0 (P1) over nb blocks (P0[b]: block b of the span); acc as tile_k */
TGT INL void tile_32(qwen3_dtype T, const kur32 *ur, int NR, int nb, const kp32 *P0, const kp32 *P1, int NV, float *const acc[4]) {
    const int MIN = T == QWEN3_Q4_1 || T == QWEN3_Q5_1;
    __m512 ac[4][2];
    UNROLL
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < NV; v++) ac[r][v] = _mm512_load_ps(acc[r] + 16 * v);
    for (int b = 0; b < nb; b++) {
        __m512i sx[2] = {_mm512_load_si512(P0[b].sx), NV == 2 ? _mm512_load_si512(P1[b].sx) : _mm512_setzero_si512()};
        /* the sums start at -128 sum x (exact), so that after the 8 groups they hold s */
        const __m512i ns0 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sx[0], 7));
        const __m512i ns1 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sx[1], 7));
        __m512i is[4][2];
        UNROLL
        for (int r = 0; r < 4; r++) is[r][0] = ns0, is[r][1] = ns1;
        UNROLL
        for (int g = 0; g < 8; g++) {
            __m512i a0 = _mm512_load_si512(P0[b].q[g]), a1 = NV == 2 ? _mm512_load_si512(P1[b].q[g]) : a0;
            UNROLL
            for (int r = 0; r < NR; r++) {
                uint32_t wg;
                memcpy(&wg, ur[r].u + 32 * b + 4 * g, 4);
                __m512i wb = _mm512_set1_epi32((int)wg);
                is[r][0] = _mm512_dpbusd_epi32(is[r][0], wb, a0);
                if (NV == 2) is[r][1] = _mm512_dpbusd_epi32(is[r][1], wb, a1);
            }
        }
        __m512 dx[2] = {_mm512_load_ps(P0[b].d), NV == 2 ? _mm512_load_ps(P1[b].d) : _mm512_setzero_ps()};
        /* the scalar twin's float steps: p = s (d dx) [+ sx (m dx)]; acc += p */
        UNROLL
        for (int r = 0; r < NR; r++)
            for (int v = 0; v < NV; v++) {
                __m512 p = _mm512_mul_ps(_mm512_cvtepi32_ps(is[r][v]), _mm512_mul_ps(_mm512_set1_ps(ur[r].d[b]), dx[v]));
                if (MIN) p = _mm512_add_ps(p, _mm512_mul_ps(_mm512_cvtepi32_ps(sx[v]), _mm512_mul_ps(_mm512_set1_ps(ur[r].m[b]), dx[v])));
                ac[r][v] = _mm512_add_ps(ac[r][v], p);
            }
    }
    UNROLL
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < NV; v++) _mm512_store_ps(acc[r] + 16 * v, ac[r][v]);
}

/* rows [r0, r1) x the cn tokens from c0, whose packed tiles (16 tokens x nb blocks each) start at P */
TGT INL void chunk_32(qwen3_dtype T, const kmat *W, const kp32 *P, int c0, int cn, float *Y, int64_t r0, int64_t r1) {
    const int64_t nb = W->cols / 32;
    const size_t BB = bbytes(T);
    const int nv = (cn + 15) / 16;
    kur32 ur[4] __attribute__((aligned(64)));
    float accm[4][CHUNK] __attribute__((aligned(64)));
    float ob[CHUNK][16] __attribute__((aligned(64))); /* 16 rows' results (out16.h) */
    for (int64_t rb = r0; rb < r1; rb += 16) {
        int nrb = r1 - rb < 16 ? (int)(r1 - rb) : 16, pf = 0;
        float *y = Y + (size_t)c0 * (size_t)W->rows + (size_t)rb;
        for (int64_t r = rb; r < rb + nrb; r += 4) {
            int nr = rb + nrb - r < 4 ? (int)(rb + nrb - r) : 4;
            size_t rs, bs; /* row r + i's block b at w + i rs + b bs */
            const uint8_t *w = row_at(W, r, BB, &rs, &bs);
            memset(accm, 0, sizeof accm);
            out16_prefetch(y, (size_t)W->rows, cn, &pf, 32); /* a quarter of the block's lines of Y */
            /* spans of 8 blocks: unpacked once for the whole chunk */
            for (int64_t b0 = 0; b0 < nb; b0 += 8) {
                int sn = nb - b0 < 8 ? (int)(nb - b0) : 8;
                for (int i = 0; i < nr; i++) unpack_row32(T, w + (size_t)i * rs + (size_t)b0 * bs, sn, bs, &ur[i]);
                for (int v = 0; v < nv; v += 2) {
                    int two = v + 1 < nv;
                    const kp32 *P0 = P + (size_t)v * nb + b0, *P1 = two ? P0 + nb : P0;
                    float *const acc[4] = {accm[0] + 16 * v, accm[1] + 16 * v, accm[2] + 16 * v, accm[3] + 16 * v};
                    if (nr == 4 && two) tile_32(T, ur, 4, sn, P0, P1, 2, acc);
                    else if (nr == 4) tile_32(T, ur, 4, sn, P0, P1, 1, acc);
                    else tile_32(T, ur, nr, sn, P0, P1, two ? 2 : 1, acc);
                }
            }
            put_rows(accm, nv, ob, (int)(r - rb));
        }
        out16_flush(ob, cn, nrb, y, (size_t)W->rows);
    }
}

/* the same over tiles packed once for all n tokens (kq_pack_32) */
TGT INL int gemm_32_p(qwen3_dtype T, const kmat *W, const kp32 *P, int n, float *Y, int64_t r0, int64_t r1) {
    const int64_t nb = W->cols / 32;
    for (int c0 = 0; c0 < n; c0 += CHUNK)
        chunk_32(T, W, P + (size_t)(c0 / 16) * (size_t)nb, c0, n - c0 < CHUNK ? n - c0 : CHUNK, Y, r0, r1);
    return 1;
}

/* the packings of all n tokens: tiles of 16 (the last one's padding tokens zero) */
static size_t bytes_32(int n, int64_t K) { return sizeof(kp32) * (size_t)(K / 32) * (size_t)((n + 15) / 16); }
_Static_assert(sizeof(kp32) == 8 * 16 * 4 + 16 * 4 + 16 * 4, "kp32 has no padding: a full tile's packing writes every byte");
/* tokens [t0, t1) of n into their tiles of TT (t0 a multiple of TT): per superblock the 256 bytes,
 * d, and the sums per 16 (made here) and per 32 (A8_K's own) as pairs; every byte written */
static void packer_k(const void *A, size_t arow_bytes, int n, int t0, int t1, int64_t K, void *P) {
    const int64_t nsb = K / 256;
    for (int t = t0; t < t1 && t < n; t += TT) {
        const int cnt = n - t < TT ? n - t : TT;
        kpt *o = (kpt *)P + (size_t)(t / TT) * (size_t)nsb;
        if (cnt < TT) memset(o, 0, sizeof(kpt) * (size_t)nsb); /* a full tile writes every byte */
        for (int i = 0; i < cnt; i++) {
            void *arow = (uint8_t *)A + (size_t)(t + i) * arow_bytes;
            const int8_t *q = kq_act_q(arow);
            const float *d = kq_act_d(arow, K);
            const int16_t *bs = kq_act_bsum(arow, K);
            for (int64_t sb = 0; sb < nsb; sb++) {
                const int8_t *x = q + 256 * sb;
                memcpy(o[sb].q[i], x, 256);
                o[sb].d[i] = d[sb];
                sb_pairs(x, bs + 8 * sb, o[sb].s16[i], o[sb].s32[i]);
            }
        }
    }
}
/* packer_k straight from the float rows (kq_pack.pack_x): each token's superblock quantized by
 * the row quantizer's steps (act_block512.h, A8_K) into its tile, and its sums per 16 values from the bytes just made
 * (vpsadbw sums 8 bytes of u = q + 128; pairs of those less 16 x 128), per 32 from pairs of those:
 * the bytes of packer_k over quantized rows (tests/unit/test_matmul_packed.c). Where the rows were
 * quantized in one pass over memory and packed in a second, with a hand-off between, this is one
 * pass (0.6B Q4_K_M, 512 tokens, two threads: the inputs' preparation was ~4% of a prefill). */
TGT static void packer_k_x(const float *X, int n, int t0, int t1, int64_t K, void *P) {
    const int64_t nsb = K / 256;
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const __m512i ev = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), od = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    for (int t = t0; t < t1 && t < n; t += TT) {
        const int cnt = n - t < TT ? n - t : TT;
        kpt *o = (kpt *)P + (size_t)(t / TT) * (size_t)nsb;
        if (cnt < TT) memset(o, 0, sizeof(kpt) * (size_t)nsb); /* a full tile writes every byte */
        for (int i = 0; i < cnt; i++) {
            const float *x = X + (size_t)(t + i) * (size_t)K;
            for (int64_t sb = 0; sb < nsb; sb++, x += 256) {
                const float amax = kq_a8_amax512(x, 256);
                const __m512 id = kq_a8_id512(amax);
                __m512i q[4], s[4];
                UNROLL
                for (int v = 0; v < 4; v++) {
                    __m128i b[4];
                    UNROLL
                    for (int k = 0; k < 4; k++) b[k] = kq_a8_q16(x + 64 * v + 16 * k, id);
                    q[v] = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(b[0]), b[1], 1), b[2], 2), b[3], 3);
                    _mm512_storeu_si512(o[sb].q[i] + 64 * v, q[v]);
                    s[v] = _mm512_sad_epu8(_mm512_xor_si512(q[v], bias), _mm512_setzero_si512());
                }
                o[sb].d[i] = amax / 127.0f;
                /* s[v] qword k: u summed over values 64 v + 8 k .. + 7; h[j]: x summed over 16 j .. + 15 */
                const __m512i h0 = _mm512_add_epi64(_mm512_permutex2var_epi64(s[0], ev, s[1]), _mm512_permutex2var_epi64(s[0], od, s[1]));
                const __m512i h1 = _mm512_add_epi64(_mm512_permutex2var_epi64(s[2], ev, s[3]), _mm512_permutex2var_epi64(s[2], od, s[3]));
                const __m256i h = _mm256_sub_epi16(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi64_epi16(h0)), _mm512_cvtepi64_epi16(h1), 1),
                                                   _mm256_set1_epi16(16 * 128));
                _mm256_storeu_si256((__m256i *)o[sb].s16[i], h); /* int16 h[0..15]: the pairs (h[2p], h[2p + 1]) */
                _mm_storeu_si128((__m128i *)o[sb].s32[i], _mm256_cvtepi32_epi16(_mm256_madd_epi16(h, _mm256_set1_epi16(1))));
            }
        }
    }
}
static size_t bytes_k(int n, int64_t K) { return sizeof(kpt) * (size_t)(K / 256) * (size_t)((n + TT - 1) / TT); }
static void packer_32(const void *A, size_t arow_bytes, int n, int t0, int t1, int64_t K, void *P) {
    for (int t = t0; t < t1 && t < n; t += 16) pack_32(A, arow_bytes, t, n - t < 16 ? n - t : 16, K, (kp32 *)P + (size_t)(t / 16) * (size_t)(K / 32));
}
/* packer_32 straight from the float rows, as packer_k_x for the superblocks: each block quantized
 * with the row quantizer's A8_0 arithmetic, its 8 groups of 4 bytes put in their tile's places, its
 * sum from the bytes (vpsadbw over u = q + 128) */
TGT static void packer_32_x(const float *X, int n, int t0, int t1, int64_t K, void *P) {
    const int64_t nb = K / 32;
    for (int t = t0; t < t1 && t < n; t += 16) {
        const int cnt = n - t < 16 ? n - t : 16;
        kp32 *o = (kp32 *)P + (size_t)(t / 16) * (size_t)nb;
        if (cnt < 16) memset(o, 0, sizeof(kp32) * (size_t)nb); /* a full tile writes every byte */
        for (int i = 0; i < cnt; i++) {
            const float *x = X + (size_t)(t + i) * (size_t)K;
            for (int64_t b = 0; b < nb; b++, x += 32) {
                uint8_t qb[32];
                _mm256_storeu_si256((__m256i *)qb, kq_a8_0_block512(x, &o[b].d[i], &o[b].sx[i]));
                for (int g = 0; g < 8; g++) memcpy(o[b].q[g][i], qb + 4 * g, 4);
            }
        }
    }
}
static const kq_pack pack_tiles_k = {TT, bytes_k, packer_k, packer_k_x}, pack_tiles_32 = {16, bytes_32, packer_32, packer_32_x};

/* fewer than KQ_GEMM_MIN_TOKENS tokens: declined. gkp / g32p read tiles
 * packed for all n tokens (a kact's, or kq_gemm_own_packing's for gk / g32, whose callers have
 * only the int8 rows) */
#define GKP(T) TGT static int gkp_##T(const kmat *W, const void *P, int n, float *Y, int64_t r0, int64_t r1) { \
        return n >= KQ_GEMM_MIN_TOKENS && gemm_k_p(T, W, P, n, Y, r0, r1); }                                                 \
    static int gk_##T(const kmat *W, const void *A, size_t ab, int n, float *Y, int64_t r0, int64_t r1) {     \
        return kq_gemm_own_packing(&pack_tiles_k, gkp_##T, W, A, ab, n, Y, r0, r1); }
#define G32P(T) TGT static int g32p_##T(const kmat *W, const void *P, int n, float *Y, int64_t r0, int64_t r1) { \
        return n >= KQ_GEMM_MIN_TOKENS && gemm_32_p(T, W, P, n, Y, r0, r1); }                                                 \
    static int g32_##T(const kmat *W, const void *A, size_t ab, int n, float *Y, int64_t r0, int64_t r1) {    \
        return kq_gemm_own_packing(&pack_tiles_32, g32p_##T, W, A, ab, n, Y, r0, r1); }
GKP(QWEN3_Q2_K) GKP(QWEN3_Q3_K) GKP(QWEN3_Q4_K) GKP(QWEN3_Q5_K) GKP(QWEN3_Q6_K) GKP(QWEN3_IQ4_XS) GKP(QWEN3_Q4)
G32P(QWEN3_Q4_0) G32P(QWEN3_Q4_1) G32P(QWEN3_Q5_0) G32P(QWEN3_Q5_1) G32P(QWEN3_IQ4_NL)

const kq_gemm_fn kq_ggml_gemm_avx512[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q4] = gk_QWEN3_Q4,
    [QWEN3_Q2_K] = gk_QWEN3_Q2_K, [QWEN3_Q3_K] = gk_QWEN3_Q3_K, [QWEN3_Q4_K] = gk_QWEN3_Q4_K,
    [QWEN3_Q5_K] = gk_QWEN3_Q5_K, [QWEN3_Q6_K] = gk_QWEN3_Q6_K, [QWEN3_IQ4_XS] = gk_QWEN3_IQ4_XS,
    [QWEN3_Q4_0] = g32_QWEN3_Q4_0, [QWEN3_Q4_1] = g32_QWEN3_Q4_1, [QWEN3_Q5_0] = g32_QWEN3_Q5_0,
    [QWEN3_Q5_1] = g32_QWEN3_Q5_1, [QWEN3_IQ4_NL] = g32_QWEN3_IQ4_NL,
};
const kq_gemm_p_fn kq_ggml_gemm_p_avx512[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q4] = gkp_QWEN3_Q4,
    [QWEN3_Q2_K] = gkp_QWEN3_Q2_K, [QWEN3_Q3_K] = gkp_QWEN3_Q3_K, [QWEN3_Q4_K] = gkp_QWEN3_Q4_K,
    [QWEN3_Q5_K] = gkp_QWEN3_Q5_K, [QWEN3_Q6_K] = gkp_QWEN3_Q6_K, [QWEN3_IQ4_XS] = gkp_QWEN3_IQ4_XS,
    [QWEN3_Q4_0] = g32p_QWEN3_Q4_0, [QWEN3_Q4_1] = g32p_QWEN3_Q4_1, [QWEN3_Q5_0] = g32p_QWEN3_Q5_0,
    [QWEN3_Q5_1] = g32p_QWEN3_Q5_1, [QWEN3_IQ4_NL] = g32p_QWEN3_IQ4_NL,
};
const kq_pack *const kq_ggml_pack_avx512[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q4] = &pack_tiles_k,
    [QWEN3_Q2_K] = &pack_tiles_k, [QWEN3_Q3_K] = &pack_tiles_k, [QWEN3_Q4_K] = &pack_tiles_k,
    [QWEN3_Q5_K] = &pack_tiles_k, [QWEN3_Q6_K] = &pack_tiles_k, [QWEN3_IQ4_XS] = &pack_tiles_k,
    [QWEN3_Q4_0] = &pack_tiles_32, [QWEN3_Q4_1] = &pack_tiles_32, [QWEN3_Q5_0] = &pack_tiles_32,
    [QWEN3_Q5_1] = &pack_tiles_32, [QWEN3_IQ4_NL] = &pack_tiles_32,
};
#else
const kq_gemm_fn kq_ggml_gemm_avx512[QWEN3_DTYPE_COUNT];
const kq_gemm_p_fn kq_ggml_gemm_p_avx512[QWEN3_DTYPE_COUNT];
const kq_pack *const kq_ggml_pack_avx512[QWEN3_DTYPE_COUNT];
#endif
