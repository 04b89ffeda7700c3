/* quant_ggml_gemv512.c - one token (decoding) times rows [r0, r1) of a Q4_K, Q5_K or Q6_K matrix,
 * AVX-512 VNNI, 8 rows per step: the bandwidth kernels of the usual GGUF files (Q4_K_M is Q4_K with
 * some Q6_K matrices, the LM head among them; Q5_K_M the same with Q5_K), and of our own Q4, whose
 * arithmetic is Q4_K's (kernels/quant.h: 8-bit scales and minimums stored unpacked, nibbles in
 * element order, so its token needs no reordering and its scales no unpacking). The 32-value block types
 * (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) have their own 8-row kernel at the end of the file.
 *
 * Each (row, superblock) gives the exact integer sums of the scalar twin (quant_ggml.c, dotk), and
 * the float steps per superblock are the twin's, in its order, for 8 rows at once in a 256-bit
 * vector: so the result has the twin's bits (and those of the 4-row kernel and the many-token ones,
 * which is what keeps the batch-invariant path exact across token counts).
 *
 * What makes it faster than the 4-row kernel (quant_ggml_avx512.c; 1.4-1.5x for Q4_K / Q5_K and
 * 1.15x for Q6_K with the weights in cache, bench/qkernels.sh), whose per-row work it cuts:
 * - Q4_K / Q5_K: a 64-byte load of qs holds the low nibbles of values 0..31 and 64..95 and the high
 *   nibbles of 32..63 and 96..127 (likewise for the second 128): instead of shuffling every row's
 *   nibbles into element order, the token's int8 values are copied once per call in that nibble
 *   order, so a row's 256 values are 2 loads, 2 shifts and 4 ands.
 * - Products: vpdpbusd gives 4-value sums, which fit int16 (4 * 63 * 127 at most), so two vectors
 *   are packed into one (vpackssdw) and one vpdpwssd applies both sub-blocks' scales: per 128 values
 *   2 vpdpbusd + 1 pack + 1 vpdpwssd + 1 scale spread, instead of 2 vpmaddubsw + 2 vpdpwssd + 2.
 * - Q4_K / Q5_K's 12 packed scale bytes are unpacked for 4 rows at once in one 512-bit vector (a
 *   128-bit lane per row), the per-32 minimums multiplied by A8_K's per-32 sums of x for 4 rows in
 *   one vpmaddwd, and d / dmin of 8 rows converted together; a row's scale vectors are then one
 *   lane broadcast and 2 vpshufb (which also zero-extend the bytes to int16).
 * - Q6_K's q - 32 offset: vpdpbusd starts from -32 x the token's 4-value sums (made once per
 *   call), so its sums are of (q - 32) x at no cost per row.
 * - The 8 rows' 16-lane integer sums are reduced exactly by one shuffle tree into a row-ordered
 *   256-bit vector; the next 8 rows' superblock is prefetched while this one is computed.
 * Rows left over (fewer than 8) take the 4-row kernel, which gives the same bits.
 * Q4_K, Q6_K and our Q4 stored by 16 rows with the words in lanes (kernels/repack.c, the default at
 * load with AVX-512 VNNI) take rows16_q4k_t16 / rows16_q6k_t16 / rows16_q4_t16 instead: a lane per
 * row, no horizontal sums (one token, bench/qkernels.sh, AMD EPYC Zen 5, 2026-12-07: Q6_K in cache
 * 55.7 -> 51.9 us per 4096 rows, from memory 32.8-34.6 -> 34.4-35.8 GB/s, as fast as a plain read;
 * our Q4 from memory 26.7-33.2 -> 39.4-43.2 GB/s). */
#include <stddef.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include "kernels/quant_ggml_avx512.h"

/* superblocks per row with the token copied on the stack (K <= 32768: 32 KB); longer rows take the
 * 4-row kernel */
#define GEMV_MAX_SB 128
/* Interleaved: prefetch this many superblock steps of the 8 rows ahead (4.6 KB for Q4_K, 6.7 KB for
 * Q6_K), past the group's end too: the next group's bytes follow it, and with 1,024 columns (4
 * superblocks, the 0.6B shape) a prefetch that stopped at the group's end left every group's start
 * unfetched. From memory on one core (bench/qkernels_mem.c's way, 3072 x 1024 Q4_K): 23-27 GB/s with
 * 2 steps stopping at the end, 27-32 with 4 steps running on; 6+ gained nothing. */
#define PF_STEPS 4
#if defined(__clang__)
#define UNROLL8
#else
#define UNROLL8 _Pragma("GCC unroll 8")
#endif
/* Q6_K's d of row r of the 8 at blk */
#define D6(r) (short)((const kq6_k_block *)(blk + (size_t)(r) * ws))->d /* superblocks per row with the Q6_K sums on the stack (K <= 32768) */

/* rows i and i + 4's 16 int32 lanes -> one vector of their half sums [row i: 8 lanes, row i + 4: 8
 * lanes], made as soon as both rows are done, so that 4 vectors are live instead of 8 */
TGT INL __m512i pair16(__m512i a, __m512i b) {
    return _mm512_add_epi32(_mm512_shuffle_i64x2(a, b, 0x44), _mm512_shuffle_i64x2(a, b, 0xee));
}

/* the 4 pair16 vectors of rows (0, 4) .. (3, 7) -> the 8 rows' exact sums, row order */
TGT INL __m256i sum8p(const __m512i t[4]) {
    __m512i u0 = _mm512_add_epi32(_mm512_unpacklo_epi32(t[0], t[1]), _mm512_unpackhi_epi32(t[0], t[1]));
    __m512i u1 = _mm512_add_epi32(_mm512_unpacklo_epi32(t[2], t[3]), _mm512_unpackhi_epi32(t[2], t[3]));
    /* 128-bit lane k: rows 0..3 (k = 0, 1: two parts each), rows 4..7 (k = 2, 3) */
    __m512i v = _mm512_add_epi32(_mm512_unpacklo_epi64(u0, u1), _mm512_unpackhi_epi64(u0, u1));
    __m512i s = _mm512_add_epi32(_mm512_shuffle_i64x2(v, v, 0x88), _mm512_shuffle_i64x2(v, v, 0xdd));
    return _mm512_castsi512_si256(s);
}

/* 16 bytes at p + 0 of 4 rows (ws apart) as the 4 lanes of one vector */
TGT INL __m512i rows4_head(const uint8_t *p, size_t ws) {
    __m512i r = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p));
    r = _mm512_inserti32x4(r, _mm_loadu_si128((const __m128i *)(p + ws)), 1);
    r = _mm512_inserti32x4(r, _mm_loadu_si128((const __m128i *)(p + 2 * ws)), 2);
    return _mm512_inserti32x4(r, _mm_loadu_si128((const __m128i *)(p + 3 * ws)), 3);
}

/* vpshufb control: per 128-bit lane 4 int16 lanes taking byte a then 4 taking byte b (first 256
 * bits), c and d (last 256 bits), zero-extended */
TGT_BASE INL __m512i pick4x4(int a, int b, int c, int d) {
    const short A = (short)(0x8000 | a), B = (short)(0x8000 | b), C = (short)(0x8000 | c), D = (short)(0x8000 | d);
    return _mm512_set_epi16(D, D, D, D, C, C, C, C, D, D, D, D, C, C, C, C, B, B, B, B, A, A, A, A, B, B, B, B, A, A, A, A);
}

/* bytes testing bit a (first 256 bits) or bit b (last 256 bits) */
TGT_BASE INL __m512i bits2(int a, int b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8((char)(1 << a))), _mm256_set1_epi8((char)(1 << b)), 1);
}

/* prefetch the block of 8 rows at p (ws apart), bb bytes each */
INL void prefetch8(const uint8_t *p, size_t ws, size_t bb) {
    for (int r = 0; r < 8; r++) {
        const char *q = (const char *)(p + (size_t)r * ws);
        for (size_t off = 0; off < bb; off += 64) _mm_prefetch(q + off, _MM_HINT_T0);
        _mm_prefetch(q + bb - 1, _MM_HINT_T0);
    }
}

/* One Q4_K / Q5_K / Q4 row's superblock at p: its 16 int32 lanes of sum_j sc_j sum(q x) over
 * sub-block j; B: the row's 8 scale bytes in every 128-bit lane; x: the token's values in nibble
 * order (Q4: element order, as its nibbles are stored) */
TGT INL __m512i row_k4(qwen3_dtype T, const uint8_t *p, __m512i B, const __m512i x[4]) {
    const size_t QS = T == QWEN3_Q4_K ? 16 : T == QWEN3_Q4 ? offsetof(kq4_block, qs) : 48;
    const __m512i m4 = _mm512_set1_epi8(15);
    /* the scales of the packed pairs: Q4_K / Q5_K's vectors 0, 1 hold sub-blocks 0, 1 (first 256
     * bits) and 2, 3; vectors 2, 3 sub-blocks 4, 5 and 6, 7. Q4's vector 0 holds sub-blocks 0 and 1,
     * vector 1 sub-blocks 2 and 3 (low and high nibbles of 64 bytes), so a pair's halves are 0, 2 and
     * 1, 3 */
    const __m512i c01 = T == QWEN3_Q4 ? pick4x4(0, 2, 1, 3) : pick4x4(0, 1, 2, 3);
    const __m512i c23 = T == QWEN3_Q4 ? pick4x4(4, 6, 5, 7) : pick4x4(4, 5, 6, 7);
    __m512i q0 = _mm512_loadu_si512(p + QS), q1 = _mm512_loadu_si512(p + QS + 64);
    __m512i v0 = _mm512_and_si512(q0, m4), v1 = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4);
    __m512i v2 = _mm512_and_si512(q1, m4), v3 = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4);
    if (T == QWEN3_Q5_K) {
        /* value e's fifth bit: bit e / 32 of qh[e % 32]; the vectors' halves hold sub-blocks
         * (0, 2), (1, 3), (4, 6), (5, 7) */
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(p + 16)));
        const __m512i b16 = _mm512_set1_epi8(16);
        v0 = _mm512_mask_add_epi8(v0, _mm512_test_epi8_mask(qh, bits2(0, 2)), v0, b16);
        v1 = _mm512_mask_add_epi8(v1, _mm512_test_epi8_mask(qh, bits2(1, 3)), v1, b16);
        v2 = _mm512_mask_add_epi8(v2, _mm512_test_epi8_mask(qh, bits2(4, 6)), v2, b16);
        v3 = _mm512_mask_add_epi8(v3, _mm512_test_epi8_mask(qh, bits2(5, 7)), v3, b16);
    }
    /* 4-value sums (|s| <= 4 * 31 * 127: int16), two vectors packed per 128-bit lane, times their
     * sub-blocks' scales */
    const __m512i z = _mm512_setzero_si512();
    __m512i p01 = _mm512_packs_epi32(_mm512_dpbusd_epi32(z, v0, x[0]), _mm512_dpbusd_epi32(z, v1, x[1]));
    __m512i p23 = _mm512_packs_epi32(_mm512_dpbusd_epi32(z, v2, x[2]), _mm512_dpbusd_epi32(z, v3, x[3]));
    return _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(z, p01, _mm512_shuffle_epi8(B, c01)), p23, _mm512_shuffle_epi8(B, c23));
}

/* Q4_K / Q5_K / Q4: 8 rows at w (ws apart) x one token (xn: its values in nibble order; for Q4 the
 * activation row itself, its nibbles being in element order), y[0..8). il: the
 * 8 rows interleaved (kernels/repack.c: superblock sb of the 8 rows side by side at w + 8 BB sb; ws
 * is then BB), read as one stream and prefetched 2 superblocks ahead; else pf: prefetch the next 8
 * rows (ws apart) */
TGT INL void rows8_k4(qwen3_dtype T, const uint8_t *w, size_t ws, const int8_t *xn, const float *xd, const int16_t *bsum,
                      int64_t nsb, float *y, int pf, int il) {
    const size_t BB = bbytes(T), bs = il ? 8 * BB : BB;
    const __m512i zero = _mm512_setzero_si512();
    /* scale unpacking per 128-bit lane [d|dmin, w0, w1, w2] -> [sc 0-3, sc 4-7, mn 0-3, mn 4-7] */
    const __m512i sh_a = _mm512_set4_epi32(4, 0, 0, 0);
    const __m512i mk_a = _mm512_set4_epi32(0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f);
    const __m512i mk_b = _mm512_set4_epi32(0x30303030, 0, 0x30303030, 0);
    const __m512i dsel = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 28, 24, 20, 16, 12, 8, 4, 0);
    const __m512i msel = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 13, 9, 5, 1, 12, 8, 4, 0);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *blk = w + (size_t)sb * bs;
        if (il) prefetch8(blk + PF_STEPS * bs, BB, BB);
        else if (pf) prefetch8(blk + 8 * ws, ws, BB);
        const __m512i *xp = (const __m512i *)(xn + 256 * sb);
        const __m512i x[4] = {_mm512_loadu_si512(xp), _mm512_loadu_si512(xp + 1), _mm512_loadu_si512(xp + 2), _mm512_loadu_si512(xp + 3)};
        const __m512i bs = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(bsum + 8 * sb)));
        __m512i S[2], Mn[2];
        __m256i dd;
        {
            __m512i R0 = rows4_head(blk, ws), R1 = rows4_head(blk + 4 * ws, ws);
            dd = _mm512_castsi512_si256(_mm512_permutex2var_epi32(R0, dsel, R1));
            __m512i R[2] = {R0, R1};
            for (int h = 0; h < 2; h++) {
                if (T == QWEN3_Q4) { /* stored unpacked: sc[8] then mn[8] */
                    S[h] = rows4_head(blk + 4 * (size_t)h * ws + offsetof(kq4_block, sc), ws);
                } else {
                    __m512i a = _mm512_and_si512(_mm512_srlv_epi32(_mm512_shuffle_epi32(R[h], (_MM_PERM_ENUM)0xED), sh_a), mk_a);
                    __m512i b = _mm512_srli_epi32(_mm512_shuffle_epi32(R[h], (_MM_PERM_ENUM)0xA5), 2);
                    S[h] = _mm512_ternarylogic_epi32(a, b, mk_b, 0xF8); /* a | (b & mk_b) */
                }
                Mn[h] = _mm512_madd_epi16(_mm512_unpackhi_epi8(S[h], zero), bs);
            }
        }
        /* a row's scale bytes broadcast to its 4 lanes (an immediate each, hence spelled out) */
        __m512i t[4];
        t[0] = pair16(row_k4(T, blk, _mm512_shuffle_i32x4(S[0], S[0], 0x00), x),
                      row_k4(T, blk + 4 * ws, _mm512_shuffle_i32x4(S[1], S[1], 0x00), x));
        t[1] = pair16(row_k4(T, blk + ws, _mm512_shuffle_i32x4(S[0], S[0], 0x55), x),
                      row_k4(T, blk + 5 * ws, _mm512_shuffle_i32x4(S[1], S[1], 0x55), x));
        t[2] = pair16(row_k4(T, blk + 2 * ws, _mm512_shuffle_i32x4(S[0], S[0], 0xaa), x),
                      row_k4(T, blk + 6 * ws, _mm512_shuffle_i32x4(S[1], S[1], 0xaa), x));
        t[3] = pair16(row_k4(T, blk + 3 * ws, _mm512_shuffle_i32x4(S[0], S[0], 0xff), x),
                      row_k4(T, blk + 7 * ws, _mm512_shuffle_i32x4(S[1], S[1], 0xff), x));
        /* the minimums' sums: lane k of u holds [row k, row k + 4] twice */
        __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi32(Mn[0], Mn[1]), _mm512_unpackhi_epi32(Mn[0], Mn[1]));
        u = _mm512_add_epi32(u, _mm512_shuffle_epi32(u, (_MM_PERM_ENUM)0x4E));
        __m256i imin = _mm512_castsi512_si256(_mm512_permutexvar_epi32(msel, u));
        __m256 d = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(dd)), dm = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32(dd, 16)));
        /* the scalar twin's float steps, 8 rows at once */
        __m256 p = _mm256_mul_ps(d, _mm256_cvtepi32_ps(sum8p(t)));
        __m256 pm = _mm256_mul_ps(dm, _mm256_cvtepi32_ps(imin));
        p = _mm256_sub_ps(p, pm);
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(xd[sb]), p));
    }
    _mm256_storeu_ps(y, acc);
}

/* One Q6_K row's superblock at p: 16 int32 lanes of sum_g sc_g sum((q - 32) x) over group g; x the
 * token's values, o[k] -32 times the 4-value sums of x[k] (vpdpbusd's start values, so its sums are
 * of (q - 32) x), idx the scale spreads */
TGT INL __m512i row_q6k(const uint8_t *p, const __m512i x[4], const __m512i o[4], const __m512i idx[2]) {
    const kq6_k_block *b = (const kq6_k_block *)p;
    const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30), zero = _mm512_setzero_si512();
    /* the high 2 bits to bits 4-5: values 0..31 of a 128 from bits 0-1 of qh, 32..63 bits 2-3,
     * 64..95 bits 4-5, 96..127 bits 6-7 (16-bit shifts: bits 4-5 of a byte come from its own bits) */
    const __m512i shl = cnt2(4, 2), shr = cnt2(0, 2);
    /* the 16 scales as int16 (lanes 0..15) */
    const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales)));
    __m512i s = zero;
    UNROLL4
    for (int c = 0; c < 2; c++) {
        const __m512i ql = _mm512_loadu_si512(b->ql + 64 * c);
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * c)));
        __m512i v0 = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, m4), _mm512_sllv_epi16(qh, shl), m30, 0xF8);
        __m512i v1 = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_srlv_epi16(qh, shr), m30, 0xF8);
        /* 4-value sums of (q - 32) x (|s| <= 4 * 32 * 127: int16), packed in pairs: 128-bit lane L
         * holds groups L, L + 4 (c = 0) or L + 8, L + 12 (c = 1) */
        __m512i pk = _mm512_packs_epi32(_mm512_dpbusd_epi32(o[2 * c], v0, x[2 * c]), _mm512_dpbusd_epi32(o[2 * c + 1], v1, x[2 * c + 1]));
        s = _mm512_dpwssd_epi32(s, pk, _mm512_permutexvar_epi16(idx[c], sc));
    }
    return s;
}

/* Q6_K: 8 rows at w (ws apart) x one token, y[0..8); xo: per superblock the start values of
 * x times -16, twice (32 int16) */
TGT INL void rows8_q6k(const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, const int32_t *xo, int64_t nsb,
                       float *y, int pf) {
    const size_t BB = sizeof(kq6_k_block);
    /* int16 lane i (128-bit lane L = i / 8, j = i % 8) of packed pair c takes scale L + 4 (j / 4) + 8c */
    __m512i idx[2];
    for (int c = 0; c < 2; c++) {
        int16_t l[32];
        for (int i = 0; i < 32; i++) l[i] = (int16_t)(i / 8 + 4 * (i % 8 / 4) + 8 * c);
        idx[c] = _mm512_loadu_si512(l);
    }
    __m256 acc = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *blk = w + (size_t)sb * BB;
        if (pf) prefetch8(blk + 8 * ws, ws, BB);
        const int8_t *xs = xq + 256 * sb;
        __m512i x[4];
        for (int v = 0; v < 4; v++) x[v] = _mm512_loadu_si512(xs + 64 * v);
        const __m512i o[4] = {_mm512_load_si512(xo + 64 * sb), _mm512_load_si512(xo + 64 * sb + 16),
                              _mm512_load_si512(xo + 64 * sb + 32), _mm512_load_si512(xo + 64 * sb + 48)};
        __m512i t[4];
        UNROLL8
        for (int r = 0; r < 4; r++) t[r] = pair16(row_q6k(blk + (size_t)r * ws, x, o, idx), row_q6k(blk + (size_t)(r + 4) * ws, x, o, idx));
        const __m128i dh = _mm_set_epi16(D6(7), D6(6), D6(5), D6(4), D6(3), D6(2), D6(1), D6(0));
        __m256 d = _mm256_cvtph_ps(dh);
        /* the scalar twin's float steps, 8 rows at once (no minimums) */
        __m256 p = _mm256_mul_ps(d, _mm256_cvtepi32_ps(sum8p(t)));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(xd[sb]), p));
    }
    _mm256_storeu_ps(y, acc);
}

/* 8 nibble words of 16 rows in lanes at w (64 bytes apart) x the token: lo sums the low nibbles times
 * the 8 groups of 4 bytes at xl, hi the high nibbles times those at xh (vpdpbusd, exact int32) */
TGT INL void nib8(const uint8_t *w, const uint8_t *xl, const uint8_t *xh, __m512i *lo, __m512i *hi) {
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512i l = _mm512_setzero_si512(), h = _mm512_setzero_si512();
    UNROLL8
    for (int k = 0; k < 8; k++) {
        const __m512i q = _mm512_loadu_si512(w + 64 * k);
        l = _mm512_dpbusd_epi32(l, _mm512_and_si512(q, m4), _mm512_set1_epi32((int)rd32(xl + 4 * k)));
        h = _mm512_dpbusd_epi32(h, _mm512_and_si512(_mm512_srli_epi32(q, 4), m4), _mm512_set1_epi32((int)rd32(xh + 4 * k)));
    }
    *lo = l;
    *hi = h;
}

/* The end of a superblock of 16 rows in lanes with minimums (Q4_K, our Q4): imin = sum_j mn_j xs_j by
 * vpdpwssd on int16 pairs of the minimums (n[0] / n[1]: the bytes of minimums 0-3 / 4-7 per row) and
 * of A8_K's per-32 sums bs (which lie in pairs), d and dmin from word w0, then the scalar twin's
 * float steps: acc + dx (d isum - dmin imin). */
TGT INL __m512 k4_t16_end(__m512 acc, __m512i is, const __m512i n[2], __m512i w0, const int16_t *bs, float dx) {
    __m512i im = _mm512_setzero_si512();
    UNROLL8
    for (int p = 0; p < 4; p++)
        im = _mm512_dpwssd_epi32(im, _mm512_shuffle_epi8(n[p / 2], pair_bytes(2 * (p % 2), 0)), _mm512_set1_epi32((int)rd32((const uint8_t *)(bs + 2 * p))));
    const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(w0)), dm = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(w0, 16)));
    __m512 p = _mm512_mul_ps(d, _mm512_cvtepi32_ps(is));
    p = _mm512_sub_ps(p, _mm512_mul_ps(dm, _mm512_cvtepi32_ps(im)));
    return _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(dx), p));
}

#define PF_T16_6 (2 * KQ6K_T16_STEP)

/* Q4_K interleaved by 16 rows with the words in lanes (kernels/repack.c), one superblock of the 16
 * rows at g against the token's bytes x. A lane per row, so no horizontal sums: the rows' nibble
 * words are 32 vectors; sub-block j's 8 groups of 4 values meet the token's 4 bytes of each group
 * broadcast, and vpdpbusd sums u x over the sub-block (u the nibble) in every row's lane; returns
 * isum = sum_j sc_j dot_j (vpmulld), with n[0] / n[1] the bytes of the minimums 0-3 / 4-7
 * (k4_scales16) for k4_t16_end's imin and the scalar twin's float steps: the twin's bits. Word k's
 * low nibbles are values 64 (k / 8) + 4 (k % 8) .. + 3 and its high nibbles those 32 further, so
 * sub-blocks 2m and 2m + 1 are the low and high nibbles of words 8m .. 8m + 7. */
TGT INL __m512i isum_q4k_t16(const uint8_t *g, const uint8_t *x, __m512i n[2]) {
    const __m512i ff = _mm512_set1_epi32(0xff);
    __m512i s[2];
    k4_scales16(_mm512_loadu_si512(g + 64), _mm512_loadu_si512(g + 128), _mm512_loadu_si512(g + 192), s, n);
    __m512i is = _mm512_setzero_si512();
    UNROLL8
    for (int m = 0; m < 4; m++) {
        __m512i lo, hi;
        nib8(g + 64 * (4 + 8 * m), x + 4 * 16 * m, x + 4 * (16 * m + 8), &lo, &hi);
        /* scales 2m, 2m + 1: bytes 2m % 4, 2m % 4 + 1 of s[m / 2] */
        const __m512i sc = _mm512_srli_epi32(s[m / 2], 16 * (m % 2));
        is = _mm512_add_epi32(is, _mm512_mullo_epi32(lo, _mm512_and_si512(sc, ff)));
        is = _mm512_add_epi32(is, _mm512_mullo_epi32(hi, _mm512_and_si512(_mm512_srli_epi32(sc, 8), ff)));
    }
    return is;
}

/* the same for our Q4's 16 rows: its scales and minimums are stored as bytes (words 1-2 and 3-4: no
 * unpacking), its nibbles in element order: nibble word k (block word 5 + k) holds in its low nibbles
 * values 128 (k / 16) + 4 (k % 16) .. + 3, in its high ones those 64 further, so per 128 values c and
 * half h (k % 16 = 8 h .. 8 h + 7) the low nibbles are sub-block 4 c + h and the high ones 4 c + 2 + h */
TGT INL __m512i isum_q4_t16(const uint8_t *g, const uint8_t *x, __m512i n[2]) {
    const __m512i ff = _mm512_set1_epi32(0xff);
    const __m512i s[2] = {_mm512_loadu_si512(g + 64), _mm512_loadu_si512(g + 128)};
    __m512i is = _mm512_setzero_si512();
    UNROLL8
    for (int c = 0; c < 2; c++)
        UNROLL8
        for (int h = 0; h < 2; h++) {
            __m512i lo, hi;
            nib8(g + 64 * (5 + 16 * c + 8 * h), x + 4 * (32 * c + 8 * h), x + 4 * (32 * c + 16 + 8 * h), &lo, &hi);
            /* scales 4c + h and 4c + 2 + h: bytes h and 2 + h of word 1 + c */
            is = _mm512_add_epi32(is, _mm512_mullo_epi32(lo, _mm512_and_si512(_mm512_srli_epi32(s[c], 8 * h), ff)));
            is = _mm512_add_epi32(is, _mm512_mullo_epi32(hi, _mm512_and_si512(_mm512_srli_epi32(s[c], 8 * (2 + h)), ff)));
        }
    n[0] = _mm512_loadu_si512(g + 192);
    n[1] = _mm512_loadu_si512(g + 256);
    return is;
}

/* Q4_K or our Q4 (T) interleaved by 16 rows with the words in lanes: one token x the 16 rows at g
 * (nsb superblocks of the type's step), y[0..16), the group's superblocks and the next group's one
 * stream prefetched two steps ahead */
TGT INL void rows16_k4_t16(qwen3_dtype T, const uint8_t *g, const int8_t *xq, const float *xd, const int16_t *bsum, int64_t nsb,
                           float *y) {
    const int step = T == QWEN3_Q4 ? KQ4_T16_STEP : KQ4K_T16_STEP;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++, g += step) {
        for (int i = 0; i < step; i += 64) _mm_prefetch((const char *)g + 2 * step + i, _MM_HINT_T0);
        const uint8_t *x = (const uint8_t *)(xq + 256 * sb);
        __m512i n[2];
        const __m512i is = T == QWEN3_Q4 ? isum_q4_t16(g, x, n) : isum_q4k_t16(g, x, n);
        acc = k4_t16_end(acc, is, n, _mm512_loadu_si512(g), bsum + 8 * sb, xd[sb]);
    }
    _mm512_storeu_ps(y, acc);
}
TGT static void rows16_q4k_t16(const uint8_t *g, const int8_t *xq, const float *xd, const int16_t *bs, int64_t nsb, float *y) {
    rows16_k4_t16(QWEN3_Q4_K, g, xq, xd, bs, nsb, y);
}
TGT static void rows16_q4_t16(const uint8_t *g, const int8_t *xq, const float *xd, const int16_t *bs, int64_t nsb, float *y) {
    rows16_k4_t16(QWEN3_Q4, g, xq, xd, bs, nsb, y);
}

/* Q6_K interleaved by 16 rows with the words in lanes (kernels/repack.c), as rows16_q4k_t16: one token
 * x the 16 rows at g (nsb superblocks of KQ6K_T16_STEP bytes), y[0..16), a lane per row. Per
 * superblock the values of 4 sub-blocks at a time are put together from ql's and qh's words in the
 * lanes (unpack16_q6k_t16's arithmetic: word j of ql's 64-byte half c, its low nibbles values 128c +
 * 4j .., word 8 + j those 32 further, the high nibbles 64 further, qh's word 8c + j their top 2 bits);
 * vpdpbusd sums u x (u = q + 32, unsigned) over each sub-block of 16 values from the start value -32
 * x the token's sum over it (xs: so the sum is of q x), then isum = sum_s sc_s dot_s (vpmulld), and
 * the scalar twin's float steps for 16 rows at once. */
TGT static void rows16_q6k_t16(const uint8_t *g, const int8_t *xq, const float *xd, const int32_t *xs, int64_t nsb, float *y) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++, g += KQ6K_T16_STEP) {
        for (int i = 0; i < KQ6K_T16_STEP; i += 64) _mm_prefetch((const char *)g + PF_T16_6 + i, _MM_HINT_T0);
        _mm_prefetch((const char *)g + PF_T16_6 + KQ6K_T16_STEP - 1, _MM_HINT_T0);
        const uint8_t *x = (const uint8_t *)(xq + 256 * sb);
        const int32_t *xsb = xs + 16 * sb;
#define W6(k) _mm512_loadu_si512(g + 64 * (k))
#define XB(grp) _mm512_set1_epi32((int)rd32(x + 4 * (grp)))
        __m512i is = _mm512_setzero_si512();
        UNROLL8
        for (int hc = 0; hc < 2; hc++)
            UNROLL8
            for (int jj = 0; jj < 2; jj++) {
                /* sub-blocks 8 hc + jj + 2 k (k = 0..3): groups 32 hc + 8 k + 4 jj .. + 3 */
                __m512i dt[4];
                UNROLL8
                for (int k = 0; k < 4; k++) dt[k] = _mm512_set1_epi32(-32 * xsb[8 * hc + jj + 2 * k]);
                UNROLL8
                for (int j = 4 * jj; j < 4 * jj + 4; j++) {
                    __m512i v[4];
                    q6k_vals4(W6(16 * hc + j), W6(16 * hc + 8 + j), W6(32 + 8 * hc + j), v);
                    UNROLL8
                    for (int k = 0; k < 4; k++) dt[k] = _mm512_dpbusd_epi32(dt[k], v[k], XB(32 * hc + 8 * k + j));
                }
                UNROLL8
                for (int k = 0; k < 4; k++) {
                    const int s = 8 * hc + jj + 2 * k; /* scale s (int8): byte s % 4 of word 48 + s / 4 */
                    is = _mm512_add_epi32(is, _mm512_mullo_epi32(dt[k], sbyte32(W6(48 + s / 4), s % 4)));
                }
            }
#undef W6
#undef XB
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + 64 * 52)));
        /* the scalar twin's float steps (no minimums) */
        __m512 p = _mm512_mul_ps(d, _mm512_cvtepi32_ps(is));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(xd[sb]), p));
    }
    _mm512_storeu_ps(y, acc);
}

#define R8K(T) TGT static void r8_##T(const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, const int16_t *bs, \
                                       int64_t nsb, float *y, int pf, int il) { \
        if (il) rows8_k4(T, w, ws, xq, xd, bs, nsb, y, pf, 1); else rows8_k4(T, w, ws, xq, xd, bs, nsb, y, pf, 0); }
/* Q4_K and our Q4 are interleaved only by 16 rows (rows16_k4_t16), so here they are row-major */
#define R8K_ROWS(T) TGT static void r8_##T(const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, const int16_t *bs, \
                                            int64_t nsb, float *y, int pf) { rows8_k4(T, w, ws, xq, xd, bs, nsb, y, pf, 0); }
R8K(QWEN3_Q5_K) R8K_ROWS(QWEN3_Q4_K) R8K_ROWS(QWEN3_Q4)
/* (Q6_K interleaved takes rows16_q6k_t16: this reads rows) */
TGT static void r8_q6k(const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, const int32_t *xo, int64_t nsb, float *y, int pf) {
    rows8_q6k(w, ws, xq, xd, xo, nsb, y, pf);
}

static void gemv(const struct kmat *W, const void *arow, float *y, int64_t r0, int64_t r1) {
    const qwen3_dtype t = W->type;
    const int64_t K = W->cols, nsb = K / 256;
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, K);
    const int16_t *bsum = kq_act_bsum((void *)arow, K);
    const uint8_t *base = W->data;
    const size_t ws = W->row_bytes;
    int64_t r = r0;
    if ((t == QWEN3_Q4_K || t == QWEN3_Q4) && W->il == 16) { /* r0, r1 multiples of 16 */
        for (; r + 16 <= r1; r += 16) (t == QWEN3_Q4 ? rows16_q4_t16 : rows16_q4k_t16)(base + (size_t)r * ws, xq, xd, bsum, nsb, y + r);
        return;
    }
    if (t == QWEN3_Q6_K && W->il == 16 && nsb <= GEMV_MAX_SB) { /* r0, r1 multiples of 16 */
        int32_t xs[GEMV_MAX_SB * 16]; /* the token's sums per 16 values */
        for (int64_t i = 0; i < nsb * 16; i++) {
            int32_t v = 0;
            for (int j = 0; j < 16; j++) v += xq[16 * i + j];
            xs[i] = v;
        }
        for (; r + 16 <= r1; r += 16) rows16_q6k_t16(base + (size_t)r * ws, xq, xd, xs, nsb, y + r);
        return;
    }
    /* the token in the order the kernel of t wants it (32 KB at most) */
    union { int32_t o[GEMV_MAX_SB * 64]; int8_t n[GEMV_MAX_SB * 256]; } tok __attribute__((aligned(64)));
    int32_t *xo = tok.o;
    int8_t *xn = tok.n;
    if (t == QWEN3_Q6_K && nsb <= GEMV_MAX_SB)
        for (int64_t i = 0; i < nsb * 64; i++) /* -32 x the sum of 4 values: Q6_K's q - 32 */
            xo[i] = -32 * (xq[4 * i] + xq[4 * i + 1] + xq[4 * i + 2] + xq[4 * i + 3]);
    if ((t == QWEN3_Q4_K || t == QWEN3_Q5_K) && nsb <= GEMV_MAX_SB)
        /* [0..31, 64..95], [32..63, 96..127] per 128: the order of a 64-byte load's low and high nibbles */
        for (int64_t sb = 0; sb < nsb; sb++)
            for (int c = 0; c < 2; c++)
                for (int h = 0; h < 2; h++) {
                    memcpy(xn + 256 * sb + 128 * c + 64 * h, xq + 256 * sb + 128 * c + 32 * h, 32);
                    memcpy(xn + 256 * sb + 128 * c + 64 * h + 32, xq + 256 * sb + 128 * c + 64 + 32 * h, 32);
                }
    /* interleaved by 8 rows (kernels/repack.c; r0, r1 multiples of 8, K within GEMV_MAX_SB): a
     * group's superblocks one after the other */
    const int il = W->il;
    const size_t rs = il ? bbytes(t) : ws;
    if (nsb <= GEMV_MAX_SB)
        for (; r + 8 <= r1; r += 8) {
            const uint8_t *w = base + (size_t)r * ws; /* = the group's start when interleaved */
            int pf = r + 16 <= r1;
            if (t == QWEN3_Q4_K) r8_QWEN3_Q4_K(w, rs, xn, xd, bsum, nsb, y + r, pf);
            else if (t == QWEN3_Q5_K) r8_QWEN3_Q5_K(w, rs, xn, xd, bsum, nsb, y + r, pf, il);
            else if (t == QWEN3_Q4) r8_QWEN3_Q4(w, rs, xq, xd, bsum, nsb, y + r, pf); /* nibbles in element order */
            else r8_q6k(w, rs, xq, xd, xo, nsb, y + r, pf);
        }
    for (; r < r1; r += 4) {
        int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
        kq_ggml_rows_avx512[t](base + (size_t)r * ws, ws, nr, arow, K, y + r);
    }
}


/* ---------------------------------------------------------------- 32-value blocks, 8 rows */

/* Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL x A8_0, one token, 8 rows per step, laid out as gemm_q8.c's Q8_0
 * gemv: rows i and i + 4 share a 512-bit vector (a 128-bit lane each of low and high nibbles: the
 * block's 16 qs bytes loaded once per row, spread to two lanes and shifted by 0 or 4), the block's 32
 * x broadcast to both halves, so 4 vpdpbusd give the 8 lanes of all 8 rows, and a shuffle tree sums
 * each row's lanes exactly into [r0 .. r7]. The offsets of Q4_0 / Q5_0 (q - 8, q - 16) are taken
 * off the exact sums as 8 (16) x the block's sum of x, made once per call; Q5's fifth bits add 16
 * under a 64-bit mask (both rows' qh); IQ4_NL looks its values up with vpshufb in a table of value + 128
 * (unsigned, as vpdpbusd wants), the 128 x sum of x taken off as the offsets are. The float steps are the scalar twin's (dot32), for 8 rows at once. */
TGT INL void rows8_b32(qwen3_dtype T, const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, const int32_t *sx,
                       int64_t nb, float *y, int pf, int il) {
    /* il: the 8 rows interleaved (kernels/repack.c: block b of the 8 rows side by side; ws is then
     * the block's size), one stream prefetched 2 blocks ahead */
    const size_t BB = bbytes(T), bs = il ? 8 * BB : BB;
    const int MIN = T == QWEN3_Q4_1 || T == QWEN3_Q5_1, HB = T == QWEN3_Q5_0 || T == QWEN3_Q5_1;
    const int QS = T == QWEN3_Q5_1 ? 8 : T == QWEN3_Q5_0 ? 6 : T == QWEN3_Q4_1 ? 4 : 2;
    const int OFF = T == QWEN3_Q4_0 ? 8 : T == QWEN3_Q5_0 ? 16 : T == QWEN3_IQ4_NL ? 128 : 0;
    const __m512i low4 = _mm512_set1_epi8(15), sixteen = _mm512_set1_epi8(16);
    /* 16-bit shift counts: 0 in 128-bit lanes 0 and 2 (low nibbles), 4 in lanes 1 and 3 (high) */
    const __m512i shv = _mm512_set_epi64(0x0004000400040004LL, 0x0004000400040004LL, 0, 0, 0x0004000400040004LL,
                                         0x0004000400040004LL, 0, 0);
    /* IQ4_NL's values + 128, unsigned bytes for vpdpbusd (the 128 x sum x comes off with the offsets) */
    const __m512i tbl = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kq_iq4_values)),
                                         _mm512_set1_epi8((char)0x80));
    const uint8_t *row[8];
    for (int r = 0; r < 8; r++) row[r] = w + (size_t)r * ws;
    const uint8_t *next = w + 8 * ws;
    const int nl = (int)((8 * BB + 63) / 64); /* cache lines of the next 8 rows per block step */
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        if (il) {
            if (b + 2 < nb)
                for (int k = 0; k < nl; k++) _mm_prefetch((const char *)(w + (size_t)(b + 2) * bs + 64 * k), _MM_HINT_T0);
        } else if (pf)
            for (int k = 0; k < nl; k++) _mm_prefetch((const char *)(next + (size_t)b * 8 * BB + 64 * k), _MM_HINT_T0);
        const __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(xq + 32 * b)));
        __m512i p[4];
        UNROLL8
        for (int i = 0; i < 4; i++) {
            const uint8_t *b0 = row[i] + (size_t)b * bs, *b1 = row[i + 4] + (size_t)b * bs;
            __m256i q2 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(b0 + QS))),
                                                 _mm_loadu_si128((const __m128i *)(b1 + QS)), 1);
            __m512i q4 = _mm512_castsi256_si512(q2);
            __m512i v = _mm512_and_si512(_mm512_srlv_epi16(_mm512_shuffle_i64x2(q4, q4, 0x50), shv), low4);
            if (HB) v = _mm512_mask_add_epi8(v, (__mmask64)rd32(b0 + QS - 4) | (__mmask64)rd32(b1 + QS - 4) << 32, v, sixteen);
            if (T == QWEN3_IQ4_NL) v = _mm512_shuffle_epi8(tbl, v);
            p[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, x);
        }
        /* per 128-bit lane L: [sum P0.L, sum P1.L, sum P2.L, sum P3.L]; lanes 0 + 1 are rows 0..3, 2 + 3 rows 4..7 */
        __m512i u01 = _mm512_add_epi32(_mm512_unpacklo_epi32(p[0], p[1]), _mm512_unpackhi_epi32(p[0], p[1]));
        __m512i u23 = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2], p[3]), _mm512_unpackhi_epi32(p[2], p[3]));
        __m512i q = _mm512_add_epi32(_mm512_unpacklo_epi64(u01, u23), _mm512_unpackhi_epi64(u01, u23));
        __m512i s2 = _mm512_add_epi32(_mm512_shuffle_i64x2(q, q, 0x08), _mm512_shuffle_i64x2(q, q, 0x0D));
        __m256i s = _mm512_castsi512_si256(s2);
        if (OFF) s = _mm256_sub_epi32(s, _mm256_set1_epi32(OFF * sx[b]));
        uint64_t lo = 0, hi = 0, mlo = 0, mhi = 0;
        for (int i = 0; i < 4; i++) {
            uint16_t d0, d1;
            memcpy(&d0, row[i] + (size_t)b * bs, 2);
            memcpy(&d1, row[i + 4] + (size_t)b * bs, 2);
            lo |= (uint64_t)d0 << (16 * i);
            hi |= (uint64_t)d1 << (16 * i);
            if (MIN) {
                memcpy(&d0, row[i] + (size_t)b * bs + 2, 2);
                memcpy(&d1, row[i + 4] + (size_t)b * bs + 2, 2);
                mlo |= (uint64_t)d0 << (16 * i);
                mhi |= (uint64_t)d1 << (16 * i);
            }
        }
        const __m256 dx = _mm256_set1_ps(xd[b]);
        __m256 dw = _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
        __m256 pr = _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dx));
        if (MIN) {
            __m256 mw = _mm256_cvtph_ps(_mm_set_epi64x((long long)mhi, (long long)mlo));
            pr = _mm256_add_ps(pr, _mm256_mul_ps(_mm256_set1_ps((float)sx[b]), _mm256_mul_ps(mw, dx)));
        }
        acc = _mm256_add_ps(acc, pr);
    }
    _mm256_storeu_ps(y, acc);
}

#define R8B(T) TGT static void r8b_##T(const uint8_t *w, size_t ws, const int8_t *xq, const float *xd, const int32_t *sx, \
                                        int64_t nb, float *y, int pf, int il) { \
        if (il) rows8_b32(T, w, ws, xq, xd, sx, nb, y, pf, 1); else rows8_b32(T, w, ws, xq, xd, sx, nb, y, pf, 0); }
R8B(QWEN3_Q4_0) R8B(QWEN3_Q4_1) R8B(QWEN3_Q5_0) R8B(QWEN3_Q5_1) R8B(QWEN3_IQ4_NL)

#define GEMV_MAX_B32 2048 /* blocks per row with the sums of x on the stack (K <= 65536) */

static void gemv32(const struct kmat *W, const void *arow, float *y, int64_t r0, int64_t r1) {
    const qwen3_dtype t = W->type;
    const int64_t K = W->cols, nb = K / 32;
    const int8_t *xq = kq_act_q((void *)arow);
    const float *xd = kq_act_d((void *)arow, K);
    const uint8_t *base = W->data;
    const size_t ws = W->row_bytes;
    int64_t r = r0;
    if (nb <= GEMV_MAX_B32) {
        int32_t sx[GEMV_MAX_B32]; /* the blocks' exact sums of x: the offsets and the minimums' factor */
        for (int64_t b = 0; b < nb; b++) {
            int32_t s = 0;
            for (int j = 0; j < 32; j++) s += xq[32 * b + j];
            sx[b] = s;
        }
        /* interleaved by 8 rows (kernels/repack.c; r0, r1 multiples of 8): rows a block apart */
        const int il = W->il;
        const size_t rs = il ? bbytes(t) : ws;
        for (; r + 8 <= r1; r += 8) {
            const uint8_t *w = base + (size_t)r * ws; /* = the group's start when interleaved */
            int pf = r + 16 <= r1;
            switch (t) {
            case QWEN3_Q4_0: r8b_QWEN3_Q4_0(w, rs, xq, xd, sx, nb, y + r, pf, il); break;
            case QWEN3_Q4_1: r8b_QWEN3_Q4_1(w, rs, xq, xd, sx, nb, y + r, pf, il); break;
            case QWEN3_Q5_0: r8b_QWEN3_Q5_0(w, rs, xq, xd, sx, nb, y + r, pf, il); break;
            case QWEN3_Q5_1: r8b_QWEN3_Q5_1(w, rs, xq, xd, sx, nb, y + r, pf, il); break;
            default: r8b_QWEN3_IQ4_NL(w, rs, xq, xd, sx, nb, y + r, pf, il); break;
            }
        }
    }
    for (; r < r1; r += 4) {
        int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
        kq_ggml_rows_avx512[t](base + (size_t)r * ws, ws, nr, arow, K, y + r);
    }
}

const kq_gemv_fn kq_ggml_gemv_avx512[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q4] = gemv,
    [QWEN3_Q4_K] = gemv,    [QWEN3_Q5_K] = gemv,    [QWEN3_Q6_K] = gemv,    [QWEN3_Q4_0] = gemv32,
    [QWEN3_Q4_1] = gemv32,  [QWEN3_Q5_0] = gemv32,  [QWEN3_Q5_1] = gemv32,  [QWEN3_IQ4_NL] = gemv32,
};
#else
const kq_gemv_fn kq_ggml_gemv_avx512[QWEN3_DTYPE_COUNT];
#endif
