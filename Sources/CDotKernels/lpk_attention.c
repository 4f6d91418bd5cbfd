// See include/lpk_attention.h.
#include "lpk_attention.h"
#include "lpk_dot.h"
#include <math.h>

/// exp(x − max) in place, then either divided by its Σ (softmax), or, with `maximum` and `sum` given (a part of the
/// positions), left unnormalized with its max and Σ stored there for lpk_attend_merge.
static void weigh(float *row, size_t count, float *maximum, float *sum) {
    float top = -INFINITY, total = 0;
    for (size_t i = 0; i < count; i++) top = row[i] > top ? row[i] : top;
    for (size_t i = 0; i < count; i++) {
        row[i] = expf(row[i] - top);
        total += row[i];
    }
    if (maximum) {
        *maximum = top;
        *sum = total;
        return;
    }
    const float inverse = 1 / total;
    for (size_t i = 0; i < count; i++) row[i] *= inverse;
}

static void attend_portable(const float *queries, size_t n, const float *keys, const float *values, size_t stride, size_t span,
                            size_t hd, float scale, float *scores, float *out, float *maxima, float *sums) {
    for (size_t g = 0; g < n; g++) {
        float *row = scores + g * span;
        for (size_t j = 0; j < span; j++) {
            float dot = 0;
            for (size_t i = 0; i < hd; i++) dot += queries[g * hd + i] * keys[j * stride + i];
            row[j] = dot * scale;
        }
        weigh(row, span, maxima ? maxima + g : NULL, sums ? sums + g : NULL);
        for (size_t i = 0; i < hd; i++) out[g * hd + i] = 0;
        for (size_t j = 0; j < span; j++)
            for (size_t i = 0; i < hd; i++) out[g * hd + i] += row[j] * values[j * stride + i];
    }
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#include "lpk_vector_sum.h"
#define AVX2 __attribute__((target("avx2,fma")))
#define TILE __attribute__((always_inline)) static inline
#define UNROLLED _Pragma("clang loop unroll(full)")

#define AVX512 __attribute__((target("avx512f")))


/// Defines NAME(queries, n, …) for n heads (n ≤ LPK_ATTENTION_TILE) in registers of W bits (256: AVX2, 512: AVX-512,
/// TARGET its attribute; hd a multiple of W / 32): each key is loaded once for all n dot products, each value once
/// for all n sums.
#define ATTEND_TILE(NAME, TARGET, W) \
    TARGET TILE void NAME(const float *queries, const int n, const float *keys, const float *values, size_t stride, \
                          size_t span, size_t hd, float scale, float *scores, float *out, float *maxima, float *sums) { \
        const size_t lanes = (W) / 32; \
        for (size_t j = 0; j < span; j++) { \
            const float *key = keys + j * stride; \
            __m##W acc[LPK_ATTENTION_TILE]; \
            UNROLLED for (int g = 0; g < n; g++) acc[g] = _mm##W##_setzero_ps(); \
            for (size_t i = 0; i < hd; i += lanes) { \
                const __m##W k = _mm##W##_loadu_ps(key + i); \
                UNROLLED for (int g = 0; g < n; g++) acc[g] = _mm##W##_fmadd_ps(_mm##W##_loadu_ps(queries + g * hd + i), k, acc[g]); \
            } \
            UNROLLED for (int g = 0; g < n; g++) scores[g * span + j] = sum_##W(acc[g]) * scale; \
        } \
        UNROLLED for (int g = 0; g < n; g++) weigh(scores + g * span, span, maxima ? maxima + g : NULL, sums ? sums + g : NULL); \
        for (size_t i = 0; i < hd; i += 2 * lanes) { \
            const int pairs = i + 2 * lanes <= hd; \
            __m##W low[LPK_ATTENTION_TILE], high[LPK_ATTENTION_TILE]; \
            UNROLLED for (int g = 0; g < n; g++) { low[g] = _mm##W##_setzero_ps(); high[g] = _mm##W##_setzero_ps(); } \
            for (size_t j = 0; j < span; j++) { \
                const float *value = values + j * stride + i; \
                const __m##W v0 = _mm##W##_loadu_ps(value), v1 = pairs ? _mm##W##_loadu_ps(value + lanes) : _mm##W##_setzero_ps(); \
                UNROLLED for (int g = 0; g < n; g++) { \
                    const __m##W p = _mm##W##_set1_ps(scores[g * span + j]); \
                    low[g] = _mm##W##_fmadd_ps(p, v0, low[g]); \
                    high[g] = _mm##W##_fmadd_ps(p, v1, high[g]); \
                } \
            } \
            UNROLLED for (int g = 0; g < n; g++) { \
                _mm##W##_storeu_ps(out + g * hd + i, low[g]); \
                if (pairs) _mm##W##_storeu_ps(out + g * hd + i + lanes, high[g]); \
            } \
        } \
    }

/// Defines NAME(queries, n, …): TILE_NAME with n (1 to LPK_ATTENTION_TILE) a constant, so its loops over the heads unroll.
#define ATTEND_HEADS(NAME, TARGET, TILE_NAME) \
    TARGET static void NAME(const float *queries, size_t n, const float *keys, const float *values, size_t stride, size_t span, \
                            size_t hd, float scale, float *scores, float *out, float *maxima, float *sums) { \
        switch (n) { \
        case 1: TILE_NAME(queries, 1, keys, values, stride, span, hd, scale, scores, out, maxima, sums); break; \
        case 2: TILE_NAME(queries, 2, keys, values, stride, span, hd, scale, scores, out, maxima, sums); break; \
        case 3: TILE_NAME(queries, 3, keys, values, stride, span, hd, scale, scores, out, maxima, sums); break; \
        default: TILE_NAME(queries, 4, keys, values, stride, span, hd, scale, scores, out, maxima, sums); break; \
        } \
    }

ATTEND_TILE(attend_tile_avx2, AVX2, 256)
ATTEND_TILE(attend_tile_avx512, AVX512, 512)
ATTEND_HEADS(attend_avx2, AVX2, attend_tile_avx2)
ATTEND_HEADS(attend_avx512, AVX512, attend_tile_avx512)

int lpk_attend_heads_version(int version, const float *queries, size_t n, const float *keys, const float *values,
                             size_t stride, size_t span, size_t hd, float scale, float *scores, float *out, float *maxima,
                             float *sums) {
    switch (version) {
    case 0: attend_portable(queries, n, keys, values, stride, span, hd, scale, scores, out, maxima, sums); return 1;
    case 1:
        if (!lpk_dot_uses_avx2() || hd % 8 != 0) return 0;
        attend_avx2(queries, n, keys, values, stride, span, hd, scale, scores, out, maxima, sums);
        return 1;
    case 2:
        if (!lpk_dot_uses_avx512() || hd % 16 != 0) return 0;
        attend_avx512(queries, n, keys, values, stride, span, hd, scale, scores, out, maxima, sums);
        return 1;
    default: return 0;
    }
}

#else

int lpk_attend_heads_version(int version, const float *queries, size_t n, const float *keys, const float *values,
                             size_t stride, size_t span, size_t hd, float scale, float *scores, float *out, float *maxima,
                             float *sums) {
    if (version != 0) return 0;
    attend_portable(queries, n, keys, values, stride, span, hd, scale, scores, out, maxima, sums);
    return 1;
}

#endif

void lpk_attend_heads(const float *queries, size_t n, const float *keys, const float *values, size_t stride, size_t span,
                      size_t hd, float scale, float *scores, float *out) {
    lpk_attend_heads_part(queries, n, keys, values, stride, span, hd, scale, scores, out, NULL, NULL);
}

void lpk_attend_heads_part(const float *queries, size_t n, const float *keys, const float *values, size_t stride, size_t span,
                           size_t hd, float scale, float *scores, float *out, float *maxima, float *sums) {
    if (!lpk_attend_heads_version(2, queries, n, keys, values, stride, span, hd, scale, scores, out, maxima, sums)
        && !lpk_attend_heads_version(1, queries, n, keys, values, stride, span, hd, scale, scores, out, maxima, sums))
        lpk_attend_heads_version(0, queries, n, keys, values, stride, span, hd, scale, scores, out, maxima, sums);
}

void lpk_attend_merge(size_t parts, size_t heads, size_t hd, const float *partials, size_t part_stride, float *out) {
    for (size_t g = 0; g < heads; g++) {
        float top = -INFINITY;
        for (size_t p = 0; p < parts; p++) {
            const float m = partials[p * part_stride + heads * hd + g];
            top = m > top ? m : top;
        }
        float total = 0;
        for (size_t i = 0; i < hd; i++) out[g * hd + i] = 0;
        for (size_t p = 0; p < parts; p++) {
            const float *part = partials + p * part_stride;
            const float weight = expf(part[heads * hd + g] - top);
            total += weight * part[heads * hd + heads + g];
            for (size_t i = 0; i < hd; i++) out[g * hd + i] += weight * part[g * hd + i];
        }
        const float inverse = 1 / total;
        for (size_t i = 0; i < hd; i++) out[g * hd + i] *= inverse;
    }
}
