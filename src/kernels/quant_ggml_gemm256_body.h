/* quant_ggml_gemm256_body.h - the AVX2 many-token kernels' bodies, included by quant_ggml_gemm256.c
 * once per flavour (a template by inclusion): SUF names the flavour, TGTX is its target attribute,
 * DPWSSD(acc, a, b) adds the int16 pair products a * b to the int32 lanes of acc, DPBUSD(acc, u, s)
 * the 4-byte products u (unsigned) * s (signed). Plain AVX2: vpmaddwd + vpaddd and vpmaddubsw +
 * vpmaddwd + vpaddd; AVX-VNNI: vpdpwssd and vpdpbusd. Integer results are the same either way. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUF)

/* NR <= 4 unpacked rows x the 8 tokens [8 half, 8 half + 8) of P, one superblock; acc[r] + 8 j holds
 * row r's float sums of token j (read, added to, written back) */
TGTX INL void FN(tile_k)(qwen3_dtype T, const kur2 *ur, int NR, const kpk *P, int half, float *const acc[4]) {
    const int G = per16(T) ? 4 : 8, NG = 64 / G;
    const int SIGNED = T == QWEN3_Q3_K || T == QWEN3_Q6_K || T == QWEN3_IQ4_XS;
    __m256i is[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int g = 0; g < NG; g++) {
        __m256i s[4];
        UNROLL
        for (int r = 0; r < NR; r++) s[r] = _mm256_set1_epi16(ur[r].sc[per16(T) ? g : 2 * g]);
        UNROLL
        for (int k = 0; k < G; k++) {
            const int grp = g * G + k;
            __m256i a = _mm256_load_si256((const __m256i *)P->q[grp][8 * half]);
            UNROLL
            for (int r = 0; r < NR; r++) {
                __m256i wb = _mm256_set1_epi32((int)rd32((const uint8_t *)ur[r].q + 4 * grp)), p;
                /* |w| times x carrying w's sign: vpmaddubsw's pair sums stay within int16 */
                if (SIGNED) p = _mm256_maddubs_epi16(_mm256_abs_epi8(wb), _mm256_sign_epi8(a, wb));
                else p = _mm256_maddubs_epi16(wb, a);
                is[r] = DPWSSD(is[r], p, s[r]);
            }
        }
    }
    __m256i im[4];
    if (has_mins(T)) {
        const int NP = T == QWEN3_Q2_K ? 8 : 4;
        UNROLL
        for (int r = 0; r < 4; r++) im[r] = _mm256_setzero_si256();
        UNROLL
        for (int p = 0; p < NP; p++) {
            __m256i x = _mm256_load_si256((const __m256i *)((T == QWEN3_Q2_K ? P->s16[p] : P->s32[p]) + 8 * half));
            UNROLL
            for (int r = 0; r < NR; r++) im[r] = DPWSSD(im[r], x, _mm256_set1_epi32(ur[r].mnp[p]));
        }
    }
    /* the scalar twin's float steps: p = d isum [- dmin imin]; acc += dx p */
    __m256 dx = _mm256_loadu_ps(P->d + 8 * half);
    UNROLL
    for (int r = 0; r < NR; r++) {
        __m256 p = _mm256_mul_ps(_mm256_set1_ps(ur[r].d), _mm256_cvtepi32_ps(is[r]));
        if (has_mins(T)) p = _mm256_sub_ps(p, _mm256_mul_ps(_mm256_set1_ps(ur[r].dmin), _mm256_cvtepi32_ps(im[r])));
        _mm256_store_ps(acc[r], _mm256_add_ps(_mm256_load_ps(acc[r]), _mm256_mul_ps(dx, p)));
    }
}

/* NR <= 4 rows x 8 tokens over nb 32-blocks (P[b]: block b of the span); acc as tile_k */
TGTX INL void FN(tile_32)(qwen3_dtype T, const kur32b *ur, int NR, int nb, const kp32 *P, int half, float *const acc[4]) {
    const int MIN = T == QWEN3_Q4_1 || T == QWEN3_Q5_1;
    __m256 ac[4];
    UNROLL
    for (int r = 0; r < 4; r++) ac[r] = r < NR ? _mm256_load_ps(acc[r]) : _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i is[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
        UNROLL
        for (int g = 0; g < 8; g++) {
            __m256i a = _mm256_load_si256((const __m256i *)P[b].q[g][8 * half]);
            UNROLL
            for (int r = 0; r < NR; r++) {
                __m256i wb = _mm256_set1_epi32((int)rd32((const uint8_t *)ur[r].q + 32 * b + 4 * g));
                if (MIN) is[r] = DPBUSD(is[r], wb, a);
                else is[r] = DPBUSD(is[r], _mm256_abs_epi8(wb), _mm256_sign_epi8(a, wb));
            }
        }
        __m256i sx = _mm256_loadu_si256((const __m256i *)(P[b].sx + 8 * half));
        __m256 dx = _mm256_loadu_ps(P[b].d + 8 * half);
        /* the scalar twin's float steps: p = s (d dx) [+ sx (m dx)]; acc += p */
        UNROLL
        for (int r = 0; r < NR; r++) {
            __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(is[r]), _mm256_mul_ps(_mm256_set1_ps(ur[r].d[b]), dx));
            if (MIN) p = _mm256_add_ps(p, _mm256_mul_ps(_mm256_cvtepi32_ps(sx), _mm256_mul_ps(_mm256_set1_ps(ur[r].m[b]), dx)));
            ac[r] = _mm256_add_ps(ac[r], p);
        }
    }
    UNROLL
    for (int r = 0; r < NR; r++) _mm256_store_ps(acc[r], ac[r]);
}

/* the 4 x (8 nh) results of rows c..c+3 (acc[i][t]) into the block buffer ob (out16.h) */
TGTX INL void FN(put_rows)(float acc[4][CHUNK], int nh, float (*ob)[16], int c) {
    for (int h = 0; h < nh; h++) {
        __m256 a[4] = {_mm256_load_ps(acc[0] + 8 * h), _mm256_load_ps(acc[1] + 8 * h), _mm256_load_ps(acc[2] + 8 * h),
                       _mm256_load_ps(acc[3] + 8 * h)};
        out16_put4_256(a, ob + 8 * h, c);
    }
}

/* rows w .. w + (nr - 1) rowb of the chunk's cn tokens (packed in P: nu units per 16 tokens) into
 * accm: superblock by superblock (tile_k), or over spans of 8 blocks unpacked once (B32: tile_32) */
TGTX INL void FN(rows4)(qwen3_dtype T, int B32, const uint8_t *w, size_t rowb, int nr, const void *P, int64_t nu, int cn,
                        float accm[4][CHUNK]) {
    const size_t BB = bbytes(T);
    for (int64_t u0 = 0; u0 < nu; u0 += B32 ? 8 : 1) {
        if (B32) {
            kur32b ur[4] __attribute__((aligned(64)));
            int sn = nu - u0 < 8 ? (int)(nu - u0) : 8;
            for (int i = 0; i < nr; i++) unpack_row32b(T, w + (size_t)i * rowb + (size_t)u0 * BB, sn, &ur[i]);
            for (int h = 0; h < (cn + 7) / 8; h++) {
                const kp32 *Pv = (const kp32 *)P + (size_t)(h / 2) * nu + u0;
                float *const acc[4] = {accm[0] + 8 * h, accm[1] + 8 * h, accm[2] + 8 * h, accm[3] + 8 * h};
                if (nr == 4) FN(tile_32)(T, ur, 4, sn, Pv, h % 2, acc);
                else FN(tile_32)(T, ur, nr, sn, Pv, h % 2, acc);
            }
        } else {
            kur2 ur[4] __attribute__((aligned(64)));
            for (int i = 0; i < nr; i++) unpack_row2(T, w + (size_t)i * rowb + (size_t)u0 * BB, &ur[i]);
            for (int h = 0; h < (cn + 7) / 8; h++) {
                const kpk *Pv = (const kpk *)P + (size_t)(h / 2) * nu + u0;
                float *const acc[4] = {accm[0] + 8 * h, accm[1] + 8 * h, accm[2] + 8 * h, accm[3] + 8 * h};
                if (nr == 4) FN(tile_k)(T, ur, 4, Pv, h % 2, acc);
                else FN(tile_k)(T, ur, nr, Pv, h % 2, acc);
            }
        }
    }
}

/* One driver for both kinds of block (B32: the 32-value types, else superblocks of 256): tokens in
 * chunks of CHUNK packed once, rows in blocks of 16 whose results go to Y through out16.h */
TGTX INL int FN(gemm)(qwen3_dtype T, int B32, const kmat *W, const void *A, size_t arow_bytes, int n, float *Y, int64_t r0, int64_t r1) {
    const int64_t K = W->cols, nu = K / (B32 ? 32 : 256);
    void *P = NULL;
    if (posix_memalign(&P, 64, (B32 ? sizeof(kp32) : sizeof(kpk)) * (size_t)nu * (CHUNK / 16))) return 0;
    float accm[4][CHUNK] __attribute__((aligned(64)));
    float ob[CHUNK][16] __attribute__((aligned(64))); /* 16 rows' results (out16.h) */
    for (int c0 = 0; c0 < n; c0 += CHUNK) {
        int cn = n - c0 < CHUNK ? n - c0 : CHUNK, nv = (cn + 15) / 16;
        for (int v = 0; v < nv; v++) {
            int t0 = c0 + 16 * v, cnt = cn - 16 * v < 16 ? cn - 16 * v : 16;
            if (B32) pack_32(A, arow_bytes, t0, cnt, K, (kp32 *)P + (size_t)v * nu);
            else pack_k(A, arow_bytes, t0, cnt, K, (kpk *)P + (size_t)v * nu);
        }
        for (int64_t rb = r0; rb < r1; rb += 16) {
            int nrb = r1 - rb < 16 ? (int)(r1 - rb) : 16, pf = 0;
            float *y = Y + (size_t)c0 * (size_t)W->rows + (size_t)rb;
            for (int64_t r = rb; r < rb + nrb; r += 4) {
                int nr = rb + nrb - r < 4 ? (int)(rb + nrb - r) : 4;
                memset(accm, 0, sizeof accm);
                out16_prefetch(y, (size_t)W->rows, cn, &pf, 32); /* a quarter of the block's lines of Y */
                FN(rows4)(T, B32, (const uint8_t *)W->data + (size_t)r * W->row_bytes, W->row_bytes, nr, P, nu, cn, accm);
                FN(put_rows)(accm, (cn + 7) / 8, ob, (int)(r - rb));
            }
            out16_flush(ob, cn, nrb, y, (size_t)W->rows);
        }
    }
    free(P);
    return 1;
}

/* fewer than 8 tokens: declined, the one-token kernels are faster there */
#define GK_(T) TGTX static int CAT(gk_##T, SUF)(const kmat *W, const void *A, size_t ab, int n, float *Y, int64_t r0, int64_t r1) { \
        return n >= KQ_GEMM_MIN_TOKENS && FN(gemm)(T, 0, W, A, ab, n, Y, r0, r1); }
#define G32_(T) TGTX static int CAT(g32_##T, SUF)(const kmat *W, const void *A, size_t ab, int n, float *Y, int64_t r0, int64_t r1) { \
        return n >= KQ_GEMM_MIN_TOKENS && FN(gemm)(T, 1, W, A, ab, n, Y, r0, r1); }
GK_(QWEN3_Q2_K) GK_(QWEN3_Q3_K) GK_(QWEN3_Q4_K) GK_(QWEN3_Q5_K) GK_(QWEN3_Q6_K) GK_(QWEN3_IQ4_XS) GK_(QWEN3_Q4)
G32_(QWEN3_Q8_0) G32_(QWEN3_Q4_0) G32_(QWEN3_Q4_1) G32_(QWEN3_Q5_0) G32_(QWEN3_Q5_1) G32_(QWEN3_IQ4_NL)

/* the flavour's entries of the kernel table (ktable.c) */
const kq_gemm_fn FN(kq_ggml_gemm)[QWEN3_DTYPE_COUNT] = {
    [QWEN3_Q2_K] = CAT(gk_QWEN3_Q2_K, SUF), [QWEN3_Q3_K] = CAT(gk_QWEN3_Q3_K, SUF),
    [QWEN3_Q4_K] = CAT(gk_QWEN3_Q4_K, SUF), [QWEN3_Q5_K] = CAT(gk_QWEN3_Q5_K, SUF),
    [QWEN3_Q6_K] = CAT(gk_QWEN3_Q6_K, SUF), [QWEN3_IQ4_XS] = CAT(gk_QWEN3_IQ4_XS, SUF), [QWEN3_Q4] = CAT(gk_QWEN3_Q4, SUF),
    [QWEN3_Q8_0] = CAT(g32_QWEN3_Q8_0, SUF), [QWEN3_Q4_0] = CAT(g32_QWEN3_Q4_0, SUF), [QWEN3_Q4_1] = CAT(g32_QWEN3_Q4_1, SUF),
    [QWEN3_Q5_0] = CAT(g32_QWEN3_Q5_0, SUF), [QWEN3_Q5_1] = CAT(g32_QWEN3_Q5_1, SUF),
    [QWEN3_IQ4_NL] = CAT(g32_QWEN3_IQ4_NL, SUF),
};

#undef GK_
#undef G32_
#undef FN
#undef CAT
#undef CAT_
