// See include/lpk_panel.h. Portable C everywhere; on x86-64 an AVX2/FMA and an AVX-512 version, each compiled for
// its target alone and chosen once at run time. Each version sums a product over k in the same order (one fused
// multiply-add per column), so they differ from one another only where the portable one does not fuse.
#include "lpk_panel.h"
#include "lpk_dot.h"

static void pack_portable(const float *rows, size_t count, size_t columns, float *panel) {
    for (size_t k = 0; k < columns; k++) {
        float *column = panel + k * LPK_PANEL_ROWS;
        size_t r = 0;
        for (; r < count; r++) column[r] = rows[r * columns + k];
        for (; r < LPK_PANEL_ROWS; r++) column[r] = 0;
    }
}

static void times_inputs_portable(const float *panel, size_t count, size_t columns, const float *x, size_t tokens,
                                  float *y, size_t ldy) {
    for (size_t t = 0; t < tokens; t++) {
        float sums[LPK_PANEL_ROWS] = {0};
        const float *input = x + t * columns;
        for (size_t k = 0; k < columns; k++)
            for (size_t r = 0; r < LPK_PANEL_ROWS; r++) sums[r] += panel[k * LPK_PANEL_ROWS + r] * input[k];
        for (size_t r = 0; r < count; r++) y[t * ldy + r] = sums[r];
    }
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#define TILE __attribute__((always_inline)) static inline
#define UNROLLED _Pragma("clang loop unroll(full)")

/// Eight rows by eight columns: rows r…r+7 (stride `columns`) from column k, stored as eight panel columns.
AVX2 static void transpose8(const float *rows, size_t columns, float *panel) {
    __m256 r0 = _mm256_loadu_ps(rows), r1 = _mm256_loadu_ps(rows + columns), r2 = _mm256_loadu_ps(rows + 2 * columns),
           r3 = _mm256_loadu_ps(rows + 3 * columns), r4 = _mm256_loadu_ps(rows + 4 * columns),
           r5 = _mm256_loadu_ps(rows + 5 * columns), r6 = _mm256_loadu_ps(rows + 6 * columns),
           r7 = _mm256_loadu_ps(rows + 7 * columns);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE), s2 = _mm256_shuffle_ps(t1, t3, 0x44),
           s3 = _mm256_shuffle_ps(t1, t3, 0xEE), s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(panel + 0 * LPK_PANEL_ROWS, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(panel + 1 * LPK_PANEL_ROWS, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(panel + 2 * LPK_PANEL_ROWS, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(panel + 3 * LPK_PANEL_ROWS, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(panel + 4 * LPK_PANEL_ROWS, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(panel + 5 * LPK_PANEL_ROWS, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(panel + 6 * LPK_PANEL_ROWS, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(panel + 7 * LPK_PANEL_ROWS, _mm256_permute2f128_ps(s3, s7, 0x31));
}

/// Whole blocks of eight rows by eight columns through transpose8, the rest (and the zero rows) one value at a time.
AVX2 static void pack_avx2(const float *rows, size_t count, size_t columns, float *panel) {
    const size_t fullRows = count / 8 * 8, fullColumns = columns / 8 * 8;
    for (size_t r = 0; r < fullRows; r += 8)
        for (size_t k = 0; k < fullColumns; k += 8) transpose8(rows + r * columns + k, columns, panel + k * LPK_PANEL_ROWS + r);
    for (size_t k = 0; k < columns; k++) {
        float *column = panel + k * LPK_PANEL_ROWS;
        for (size_t r = k < fullColumns ? fullRows : 0; r < count; r++) column[r] = rows[r * columns + k];
        for (size_t r = count; r < LPK_PANEL_ROWS; r++) column[r] = 0;
    }
}

/// 32 rows (two registers) by `n` inputs (≤ 12): 24 accumulators, two panel loads and n broadcasts per column.
AVX512 TILE void tile_avx512(const float *panel, size_t columns, const float *x, const int n, float *y, size_t ldy,
                             __mmask16 low, __mmask16 high) {
    __m512 lo[12], hi[12];
    UNROLLED for (int t = 0; t < n; t++) { lo[t] = _mm512_setzero_ps(); hi[t] = _mm512_setzero_ps(); }
    for (size_t k = 0; k < columns; k++) {
        const __m512 w0 = _mm512_loadu_ps(panel + k * LPK_PANEL_ROWS), w1 = _mm512_loadu_ps(panel + k * LPK_PANEL_ROWS + 16);
        UNROLLED for (int t = 0; t < n; t++) {
            const __m512 b = _mm512_set1_ps(x[t * columns + k]);
            lo[t] = _mm512_fmadd_ps(w0, b, lo[t]);
            hi[t] = _mm512_fmadd_ps(w1, b, hi[t]);
        }
    }
    UNROLLED for (int t = 0; t < n; t++) {
        _mm512_mask_storeu_ps(y + t * ldy, low, lo[t]);
        _mm512_mask_storeu_ps(y + t * ldy + 16, high, hi[t]);
    }
}

AVX512 static void times_inputs_avx512(const float *panel, size_t count, size_t columns, const float *x, size_t tokens,
                                       float *y, size_t ldy) {
    const __mmask16 low = count >= 16 ? 0xFFFF : (__mmask16)((1u << count) - 1);
    const __mmask16 high = count >= 32 ? 0xFFFF : count <= 16 ? 0 : (__mmask16)((1u << (count - 16)) - 1);
    size_t t = 0;
    for (; t + 12 <= tokens; t += 12) tile_avx512(panel, columns, x + t * columns, 12, y + t * ldy, ldy, low, high);
    switch (tokens - t) {
#define TAIL(n) case n: tile_avx512(panel, columns, x + t * columns, n, y + t * ldy, ldy, low, high); break;
    TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7) TAIL(8) TAIL(9) TAIL(10) TAIL(11)
#undef TAIL
    default: break;
    }
}

/// 16 rows (two registers, from `half` · 16 of the panel) by `n` inputs (≤ 6): 12 accumulators.
AVX2 TILE void tile_avx2(const float *panel, size_t columns, const float *x, const int n, float *out) {
    __m256 lo[6], hi[6];
    UNROLLED for (int t = 0; t < n; t++) { lo[t] = _mm256_setzero_ps(); hi[t] = _mm256_setzero_ps(); }
    for (size_t k = 0; k < columns; k++) {
        const __m256 w0 = _mm256_loadu_ps(panel + k * LPK_PANEL_ROWS), w1 = _mm256_loadu_ps(panel + k * LPK_PANEL_ROWS + 8);
        UNROLLED for (int t = 0; t < n; t++) {
            const __m256 b = _mm256_broadcast_ss(x + t * columns + k);
            lo[t] = _mm256_fmadd_ps(w0, b, lo[t]);
            hi[t] = _mm256_fmadd_ps(w1, b, hi[t]);
        }
    }
    UNROLLED for (int t = 0; t < n; t++) {
        _mm256_storeu_ps(out + t * 16, lo[t]);
        _mm256_storeu_ps(out + t * 16 + 8, hi[t]);
    }
}

AVX2 static void times_inputs_avx2(const float *panel, size_t count, size_t columns, const float *x, size_t tokens,
                                   float *y, size_t ldy) {
    float sums[6 * 16];
    for (size_t half = 0; half * 16 < count; half++) {
        const size_t rows = count - half * 16 < 16 ? count - half * 16 : 16;
        for (size_t t = 0; t < tokens; t += 6) {
            const size_t n = tokens - t < 6 ? tokens - t : 6;
            switch (n) {
#define TAIL(m) case m: tile_avx2(panel + half * 16, columns, x + t * columns, m, sums); break;
            TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6)
#undef TAIL
            default: break;
            }
            for (size_t i = 0; i < n; i++)
                for (size_t r = 0; r < rows; r++) y[(t + i) * ldy + half * 16 + r] = sums[i * 16 + r];
        }
    }
}

void lpk_panel_pack(const float *rows, size_t count, size_t columns, float *panel) {
    if (lpk_dot_uses_avx2()) pack_avx2(rows, count, columns, panel); else pack_portable(rows, count, columns, panel);
}

int lpk_panel_times_inputs_version(int version, const float *panel, size_t count, size_t columns, const float *x,
                                   size_t tokens, float *y, size_t ldy) {
    switch (version) {
    case 0: times_inputs_portable(panel, count, columns, x, tokens, y, ldy); return 1;
    case 1: if (!lpk_dot_uses_avx2()) return 0; times_inputs_avx2(panel, count, columns, x, tokens, y, ldy); return 1;
    case 2: if (!lpk_dot_uses_avx512()) return 0; times_inputs_avx512(panel, count, columns, x, tokens, y, ldy); return 1;
    default: return 0;
    }
}

void lpk_panel_times_inputs(const float *panel, size_t count, size_t columns, const float *x, size_t tokens,
                            float *y, size_t ldy) {
    lpk_panel_times_inputs_version(lpk_dot_uses_avx512() ? 2 : lpk_dot_uses_avx2() ? 1 : 0, panel, count, columns, x, tokens, y, ldy);
}

#else

void lpk_panel_pack(const float *rows, size_t count, size_t columns, float *panel) {
    pack_portable(rows, count, columns, panel);
}

int lpk_panel_times_inputs_version(int version, const float *panel, size_t count, size_t columns, const float *x,
                                   size_t tokens, float *y, size_t ldy) {
    if (version != 0) return 0;
    times_inputs_portable(panel, count, columns, x, tokens, y, ldy);
    return 1;
}

void lpk_panel_times_inputs(const float *panel, size_t count, size_t columns, const float *x, size_t tokens,
                            float *y, size_t ldy) {
    times_inputs_portable(panel, count, columns, x, tokens, y, ldy);
}

#endif
