/* quant_ggml_gemm512.c - GGUF's block types times many tokens (prefill), AVX-512 VNNI, a SIMD lane
 * per token, with the arithmetic of the scalar twins (quant_ggml.c, dot32 / dotk) for every (row,
 * token): so a token's result has the bits the one-token kernels (quant_ggml_avx512.c) give it, alone
 * or in a batch of any size, on any split of rows over threads. That is the batch-invariant path.
 *
 * Layout (as gemm_q8.c does for Q8_0): activations are packed per 16 tokens and per superblock (or
 * 32-block) as [4-byte group g][16 tokens], so one 512-bit load gives 16 tokens' bytes of group g;
 * a weight row's 4 bytes of group g are broadcast and vpdpbusd adds w x over the group into each
 * token's int32 lane. Weights are first unpacked to bytes, 256 values of 4 rows at a time, with a
 * bias that makes them unsigned (vpdpbusd's unsigned operand), and that unpacking is shared by every
 * token of the chunk (128 tokens, whose packed tiles stay in L2 while this thread's rows pass).
 * The tokens are packed once for all of them (kq_pack: by the caller's kact, else by
 * kq_gemm_own_packing).
 *
 * Superblock types x A8_K, per (row, token) lane and superblock, all in exact int32:
 *   dot_g = sum over sub-block g (16 or 32 values) of u x     (u = q + OFF, unsigned)
 *   isum  = sum_g sc_g dot_g - OFF sum_g sc_g xs_g            (xs_g: the token's sum of x over g)
 *   imin  = sum_g mn_g xs_g                                    (Q2_K, Q4_K, Q5_K)
 * with sc_g dot_g by vpmulld once per sub-block, and the xs terms by vpdpwssd on int16 pairs of
 * (scale, sum). OFF: Q6_K 32, Q3_K 4, IQ4_XS 128 (its table values are signed), else 0. The sums
 * equal the scalar twin's (integer arithmetic is exact; an intermediate that wraps wraps back, the
 * results fit), and the float steps per superblock are its own: p = d isum [- dmin imin], acc += dx p.
 * 32-value blocks x A8_0: u = q + 128 (q as the scalar unpacks it), s = sum u x - 128 sum x, then
 * per block p = s (d dx) [+ sx (m dx)], acc += p. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_ggml.h"

#if defined(__x86_64__)
#include "kernels/quant_ggml_avx512.h"
#include "kernels/quant_ggml_pack.h"

#define CHUNK 128 /* tokens a pass over the rows reads (K = 3072: 12 superblocks x 8 x 4.9 KB = 470 KB, in L2) */

/* gcc keeps accumulator arrays in memory unless their loops are unrolled outright */
#if defined(__clang__)
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif
#include "kernels/out16.h"

/* row r's first block (BB bytes) and, through rs and bs, the steps to row r + i's and to the next
 * block: row-major, or interleaved by il rows (kernels/repack.c: a group's il blocks b side by side;
 * r is a multiple of 4) */
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

/* one weight row's superblock unpacked: u = q + OFF as bytes, the sub-block scales (16 per-16 or 8
 * per-32), the scales and the minimums as int16 pairs, d and dmin */
typedef struct { uint8_t u[256]; int32_t sc[16], scp[8], mnp[8]; float d, dmin; } kur;

static inline int koff(qwen3_dtype T) { return T == QWEN3_IQ4_XS ? 128 : offset_of(T); }

TGT INL void unpack_row(qwen3_dtype T, const uint8_t *blk, kur *o) {
    ksb u;
    unpack512(T, blk, &u);
    UNROLL
    for (int v = 0; v < 4; v++)
        _mm512_storeu_si512(o->u + 64 * v, T == QWEN3_IQ4_XS ? _mm512_xor_si512(u.v[v], _mm512_set1_epi8((char)0x80)) : u.v[v]);
    int16_t sc[32], mn[32];
    _mm512_storeu_si512(sc, u.sc);
    const int NG = per16(T) ? 16 : 8;
    for (int g = 0; g < NG; g++) o->sc[g] = sc[g];
    for (int p = 0; p < NG / 2; p++) o->scp[p] = pair16(sc[2 * p], sc[2 * p + 1]);
    if (T == QWEN3_Q2_K) {
        _mm512_storeu_si512(mn, u.mn);
        for (int p = 0; p < 8; p++) o->mnp[p] = pair16(mn[2 * p], mn[2 * p + 1]);
    }
    if (has_m32(T)) {
        _mm_storeu_si128((__m128i *)mn, u.m32);
        for (int p = 0; p < 4; p++) o->mnp[p] = pair16(mn[2 * p], mn[2 * p + 1]);
    }
    o->d = u.d;
    o->dmin = has_mins(T) ? u.dmin : 0.0f;
}

/* NR <= 4 unpacked rows x token vectors P0 (and P1 when NV == 2) of one superblock; acc[r] + 16 v
 * are the float sums of row r, token vector v (read, added to, written back) */
TGT INL void tile_k(qwen3_dtype T, const kur *ur, int NR, const kpk *P0, const kpk *P1, int NV, float *const acc[4]) {
    const int G = per16(T) ? 4 : 8, NG = 64 / G, OFF = koff(T);
    __m512i is[4][2];
    UNROLL
    for (int r = 0; r < 4; r++) is[r][0] = is[r][1] = _mm512_setzero_si512();
    for (int g = 0; g < NG; g++) {
        __m512i dt[4][2];
        UNROLL
        for (int r = 0; r < 4; r++) dt[r][0] = dt[r][1] = _mm512_setzero_si512();
        UNROLL
        for (int k = 0; k < G; k++) {
            const int grp = g * G + k;
            __m512i a0 = _mm512_load_si512(P0->q[grp]), a1 = NV == 2 ? _mm512_load_si512(P1->q[grp]) : a0;
            UNROLL
            for (int r = 0; r < NR; r++) {
                uint32_t wg;
                memcpy(&wg, ur[r].u + 4 * grp, 4);
                __m512i wb = _mm512_set1_epi32((int)wg);
                dt[r][0] = _mm512_dpbusd_epi32(dt[r][0], wb, a0);
                if (NV == 2) dt[r][1] = _mm512_dpbusd_epi32(dt[r][1], wb, a1);
            }
        }
        UNROLL
        for (int r = 0; r < NR; r++) {
            __m512i s = _mm512_set1_epi32(ur[r].sc[g]);
            is[r][0] = _mm512_add_epi32(is[r][0], _mm512_mullo_epi32(dt[r][0], s));
            if (NV == 2) is[r][1] = _mm512_add_epi32(is[r][1], _mm512_mullo_epi32(dt[r][1], s));
        }
    }
    /* sums of x per sub-block: OFF's correction and the minimums, as int16 pairs */
    const int NP = per16(T) ? 8 : 4;
    if (OFF) {
        __m512i c[4][2];
        UNROLL
        for (int r = 0; r < 4; r++) c[r][0] = c[r][1] = _mm512_setzero_si512();
        UNROLL
        for (int p = 0; p < NP; p++) {
            __m512i x0 = _mm512_load_si512(per16(T) ? P0->s16[p] : P0->s32[p]);
            __m512i x1 = NV == 2 ? _mm512_load_si512(per16(T) ? P1->s16[p] : P1->s32[p]) : x0;
            UNROLL
            for (int r = 0; r < NR; r++) {
                __m512i s = _mm512_set1_epi32(ur[r].scp[p]);
                c[r][0] = _mm512_dpwssd_epi32(c[r][0], x0, s);
                if (NV == 2) c[r][1] = _mm512_dpwssd_epi32(c[r][1], x1, s);
            }
        }
        const int SH = OFF == 128 ? 7 : OFF == 32 ? 5 : 2;
        UNROLL
        for (int r = 0; r < NR; r++)
            for (int v = 0; v < NV; v++) is[r][v] = _mm512_sub_epi32(is[r][v], _mm512_slli_epi32(c[r][v], SH));
    }
    __m512i im[4][2];
    if (has_mins(T)) {
        UNROLL
        for (int r = 0; r < 4; r++) im[r][0] = im[r][1] = _mm512_setzero_si512();
        UNROLL
        for (int p = 0; p < NP; p++) {
            __m512i x0 = _mm512_load_si512(T == QWEN3_Q2_K ? P0->s16[p] : P0->s32[p]);
            __m512i x1 = NV == 2 ? _mm512_load_si512(T == QWEN3_Q2_K ? P1->s16[p] : P1->s32[p]) : x0;
            UNROLL
            for (int r = 0; r < NR; r++) {
                __m512i m = _mm512_set1_epi32(ur[r].mnp[p]);
                im[r][0] = _mm512_dpwssd_epi32(im[r][0], x0, m);
                if (NV == 2) im[r][1] = _mm512_dpwssd_epi32(im[r][1], x1, m);
            }
        }
    }
    /* the scalar twin's float steps: p = d isum [- dmin imin]; acc += dx p */
    __m512 dx0 = _mm512_load_ps(P0->d), dx1 = NV == 2 ? _mm512_load_ps(P1->d) : dx0;
    UNROLL
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < NV; v++) {
            __m512 p = _mm512_mul_ps(_mm512_set1_ps(ur[r].d), _mm512_cvtepi32_ps(is[r][v]));
            if (has_mins(T)) p = _mm512_sub_ps(p, _mm512_mul_ps(_mm512_set1_ps(ur[r].dmin), _mm512_cvtepi32_ps(im[r][v])));
            float *a = acc[r] + 16 * v;
            _mm512_store_ps(a, _mm512_add_ps(_mm512_load_ps(a), _mm512_mul_ps(v ? dx1 : dx0, p)));
        }
}

/* rows [r0, r1) x the cn tokens from c0, whose packed tiles (16 tokens x nsb superblocks each)
 * start at P. A block of 16 rows at a time: per superblock its 16 rows are unpacked, then each
 * pair of token vectors meets the four quads of rows in turn, so the tokens' tiles are read from L2
 * once per 16 rows instead of once per 4 (one thread, 512 tokens, best of 9 x 6 alternating:
 * Q4_K 3072 x 1024 345-366 -> 358-377 GOP/s, 1024 x 3072 387-411 -> 410-420). The sums of a (row,
 * token) run in the same order, so the same bits. */
TGT INL void chunk_k(qwen3_dtype T, const kmat *W, const kpk *P, int c0, int cn, float *Y, int64_t r0, int64_t r1) {
    const int64_t nsb = W->cols / 256;
    const size_t BB = bbytes(T);
    const int nv = (cn + 15) / 16;
    kur ur[16] __attribute__((aligned(64)));
    float accm[16][CHUNK] __attribute__((aligned(64)));
    float ob[CHUNK][16] __attribute__((aligned(64))); /* 16 rows' results (out16.h) */
    for (int64_t rb = r0; rb < r1; rb += 16) {
        int nrb = r1 - rb < 16 ? (int)(r1 - rb) : 16, pf = 0, nq = (nrb + 3) / 4;
        float *y = Y + (size_t)c0 * (size_t)W->rows + (size_t)rb;
        size_t rs = 0, bs = 0; /* row rb + i (i < 4) of quad q: superblock sb at wq[q] + i rs + sb bs */
        const uint8_t *wq[4];
        for (int q = 0; q < nq; q++) wq[q] = row_at(W, rb + 4 * q, BB, &rs, &bs);
        for (int i = 0; i < 4 * nq; i++) memset(accm[i], 0, sizeof(float) * 16 * (size_t)nv); /* whole quads: put_rows reads 4 */
        out16_prefetch(y, (size_t)W->rows, cn, &pf, cn); /* the block's lines of Y */
        for (int64_t sb = 0; sb < nsb; sb++) {
            for (int i = 0; i < nrb; i++) unpack_row(T, wq[i / 4] + (size_t)(i % 4) * rs + (size_t)sb * bs, &ur[i]);
            for (int v = 0; v < nv; v += 2) {
                int two = v + 1 < nv;
                const kpk *P0 = P + (size_t)v * nsb + sb, *P1 = two ? P0 + nsb : P0;
                for (int q = 0; q < nq; q++) { /* the tokens' tiles stay in L1 while the quads pass */
                    int nr = nrb - 4 * q < 4 ? nrb - 4 * q : 4;
                    float *const acc[4] = {accm[4 * q] + 16 * v, accm[4 * q + 1] + 16 * v, accm[4 * q + 2] + 16 * v, accm[4 * q + 3] + 16 * v};
                    if (nr == 4 && two) tile_k(T, ur + 4 * q, 4, P0, P1, 2, acc);
                    else if (nr == 4) tile_k(T, ur + 4 * q, 4, P0, P1, 1, acc);
                    else tile_k(T, ur + 4 * q, nr, P0, P1, two ? 2 : 1, acc);
                }
            }
        }
        for (int q = 0; q < nq; q++) put_rows(&accm[4 * q], nv, ob, 4 * q);
        out16_flush(ob, cn, nrb, y, (size_t)W->rows);
    }
}

/* the same over tiles packed once for all n tokens (kq_pack_k) */
TGT INL int gemm_k_p(qwen3_dtype T, const kmat *W, const kpk *P, int n, float *Y, int64_t r0, int64_t r1) {
    const int64_t nsb = W->cols / 256;
    for (int c0 = 0; c0 < n; c0 += CHUNK)
        chunk_k(T, W, P + (size_t)(c0 / 16) * (size_t)nsb, c0, n - c0 < CHUNK ? n - c0 : CHUNK, Y, r0, r1);
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

/* 16 rows of 16 dwords transposed in place: r[j] becomes dword j of every row (row t in lane t).
 * Dwords, then qwords, within each 128-bit lane; then the lanes across rows in two steps. */
TGT INL void transpose16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4a + k]: rows 4a..4a+3, dword k + 4 L in 128-bit lane L */
    for (int a = 0; a < 16; a += 4) {
        u[a] = _mm512_unpacklo_epi64(t[a], t[a + 2]);
        u[a + 1] = _mm512_unpackhi_epi64(t[a], t[a + 2]);
        u[a + 2] = _mm512_unpacklo_epi64(t[a + 1], t[a + 3]);
        u[a + 3] = _mm512_unpackhi_epi64(t[a + 1], t[a + 3]);
    }
    for (int k = 0; k < 4; k++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x88), w0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xdd);
        __m512i v1 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x88), w1 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xdd);
        r[k] = _mm512_shuffle_i32x4(v0, v1, 0x88);
        r[k + 8] = _mm512_shuffle_i32x4(v0, v1, 0xdd);
        r[k + 4] = _mm512_shuffle_i32x4(w0, w1, 0x88);
        r[k + 12] = _mm512_shuffle_i32x4(w0, w1, 0xdd);
    }
}

/* pack_k's twin (quant_ggml_pack.h: the same bytes, tests/unit/test_matmul_packed.c compares them):
 * per superblock, 16 groups of the 16 tokens at a time transposed in registers, and the sums per 16
 * values by vpdpbusd with ones over the transposed groups (16 tokens' sums in one vector) instead of
 * a 4-byte copy and 16 additions per group and token. Every byte of the tile is written (tokens
 * past cnt are zeros), so nothing is cleared first. */
_Static_assert(sizeof(kpk) == 64 * 16 * 4 + 16 * 4 + 8 * 16 * 4 + 4 * 16 * 4, "kpk has no padding: pack_k_avx512 writes every byte");
TGT static void pack_k_avx512(const void *A, size_t arow_bytes, int t0, int cnt, int64_t K, kpk *out) {
    const int64_t nsb = K / 256;
    const __m512i ones = _mm512_set1_epi8(1), lo16 = _mm512_set1_epi32(0xffff);
    for (int64_t sb = 0; sb < nsb; sb++) {
        kpk *o = out + sb;
        for (int gb = 0; gb < 4; gb++) { /* groups 16 gb .. 16 gb + 15: sums h 4 gb .. 4 gb + 3, pairs s16 2 gb, 2 gb + 1 */
            __m512i r[16], h[4];
            for (int t = 0; t < 16; t++)
                r[t] = t < cnt ? _mm512_loadu_si512(kq_act_q((uint8_t *)A + (size_t)(t0 + t) * arow_bytes) + 256 * sb + 64 * gb)
                               : _mm512_setzero_si512();
            transpose16(r);
            for (int j = 0; j < 4; j++) { /* h[j]: each token's sum of x over the 16 values of groups 4 j .. 4 j + 3 */
                h[j] = _mm512_setzero_si512();
                for (int i = 0; i < 4; i++) {
                    _mm512_store_si512(o->q[16 * gb + 4 * j + i], r[4 * j + i]);
                    h[j] = _mm512_dpbusd_epi32(h[j], ones, r[4 * j + i]);
                }
            }
            for (int p = 0; p < 2; p++) /* pair16(h[2p], h[2p + 1]) per token */
                _mm512_store_si512(o->s16[2 * gb + p], _mm512_or_si512(_mm512_and_si512(h[2 * p], lo16), _mm512_slli_epi32(h[2 * p + 1], 16)));
        }
        for (int t = 0; t < 16; t++) {
            if (t < cnt) {
                void *arow = (uint8_t *)A + (size_t)(t0 + t) * arow_bytes;
                const int16_t *bs = kq_act_bsum(arow, K) + 8 * sb;
                o->d[t] = kq_act_d(arow, K)[sb];
                for (int p = 0; p < 4; p++) o->s32[p][t] = pair16(bs[2 * p], bs[2 * p + 1]);
            } else {
                o->d[t] = 0.0f;
                for (int p = 0; p < 4; p++) o->s32[p][t] = 0;
            }
        }
    }
}

/* the packings of all n tokens: tiles of 16 (the last one's padding tokens zero) */
static size_t bytes_k(int n, int64_t K) { return sizeof(kpk) * (size_t)(K / 256) * (size_t)((n + 15) / 16); }
static size_t bytes_32(int n, int64_t K) { return sizeof(kp32) * (size_t)(K / 32) * (size_t)((n + 15) / 16); }
TGT static void packer_k(const void *A, size_t arow_bytes, int n, int t0, int t1, int64_t K, void *P) {
    for (int t = t0; t < t1 && t < n; t += 16)
        pack_k_avx512(A, arow_bytes, t, n - t < 16 ? n - t : 16, K, (kpk *)P + (size_t)(t / 16) * (size_t)(K / 256));
}
static void packer_32(const void *A, size_t arow_bytes, int n, int t0, int t1, int64_t K, void *P) {
    for (int t = t0; t < t1 && t < n; t += 16) pack_32(A, arow_bytes, t, n - t < 16 ? n - t : 16, K, (kp32 *)P + (size_t)(t / 16) * (size_t)(K / 32));
}
static const kq_pack pack_tiles_k = {16, bytes_k, packer_k}, pack_tiles_32 = {16, bytes_32, packer_32};

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
