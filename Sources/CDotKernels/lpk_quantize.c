// See include/lpk_quantize.h.
#include "lpk_quantize.h"
#include "lpk_dot.h"
#include <math.h>
#include <string.h>

/// The weighted least-squares sums of the levels l_i = clamp(rint(inverse·x_i), low, high) of the last n % 8 values
/// (weights w, or all 1 when w is NULL): Σ w·x·l and Σ w·l², one value at a time.
static void fit_tail(const float *x, const float *w, size_t n, float inverse, float low, float high,
                     float *sum_xl, float *sum_ll) {
    float xl = 0, ll = 0;
    for (size_t i = 0; i < n; i++) {
        float l = fminf(high, fmaxf(low, rintf(inverse * x[i])));
        float weight = w ? w[i] : 1.0f;
        xl += weight * x[i] * l;
        ll += weight * l * l;
    }
    *sum_xl = xl;
    *sum_ll = ll;
}

/// The same sums over all n values as the vector versions compute them: eight interleaved lanes of fused
/// multiply-adds, reduced as sum_256 reduces (lanes j and j + 4, then 0 + 2 and 1 + 3, then those two), plus the tail.
/// So every version chooses the same scales and a pack does not depend on the CPU that wrote it.
static void fit_portable(const float *x, const float *w, size_t n, float inverse, float low, float high,
                         float *sum_xl, float *sum_ll) {
    float xl[8] = {0}, ll[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; j++) {
            const float l = fminf(high, fmaxf(low, rintf(inverse * x[i + j])));
            const float weighted = w ? w[i + j] * l : l;
            xl[j] = fmaf(weighted, x[i + j], xl[j]);
            ll[j] = fmaf(weighted, l, ll[j]);
        }
    }
    float tail_xl = 0, tail_ll = 0;
    if (i < n) fit_tail(x + i, w ? w + i : NULL, n - i, inverse, low, high, &tail_xl, &tail_ll);
    *sum_xl = (((xl[0] + xl[4]) + (xl[2] + xl[6])) + ((xl[1] + xl[5]) + (xl[3] + xl[7]))) + tail_xl;
    *sum_ll = (((ll[0] + ll[4]) + (ll[2] + ll[6])) + ((ll[1] + ll[5]) + (ll[3] + ll[7]))) + tail_ll;
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "lpk_vector_sum.h"

__attribute__((target("avx2,fma"))) static void fit_avx2(const float *x, const float *w, size_t n, float inverse, float low,
                                                         float high, float *sum_xl, float *sum_ll) {
    __m256 vinverse = _mm256_set1_ps(inverse), vlow = _mm256_set1_ps(low), vhigh = _mm256_set1_ps(high);
    __m256 xl = _mm256_setzero_ps(), ll = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 l = _mm256_round_ps(_mm256_mul_ps(vinverse, v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        l = _mm256_min_ps(vhigh, _mm256_max_ps(vlow, l));
        __m256 weighted = w ? _mm256_mul_ps(_mm256_loadu_ps(w + i), l) : l;
        xl = _mm256_fmadd_ps(weighted, v, xl);
        ll = _mm256_fmadd_ps(weighted, l, ll);
    }
    float tail_xl = 0, tail_ll = 0;
    if (i < n) fit_tail(x + i, w ? w + i : NULL, n - i, inverse, low, high, &tail_xl, &tail_ll);
    *sum_xl = sum_256(xl) + tail_xl;
    *sum_ll = sum_256(ll) + tail_ll;
}

#endif

// The scale search (llama.cpp's make_qx_quants): the value of largest magnitude maps to the most negative level, then
// 18 more candidates around it; the one with the largest Σxl² / Σl² (least weighted squared error) wins, the first on
// ties. Every version fits and compares the candidates with the same float operations in the same order, so they
// choose the same scales: the vector ones only fit and compare several candidates at once.

enum { CANDIDATES = 19 };

/// The first of the values of largest magnitude, with its sign (0 when all are zero).
static float extreme_portable(const float *x, size_t n) {
    float extreme = 0;
    for (size_t i = 0; i < n; i++) if (fabsf(x[i]) > fabsf(extreme)) extreme = x[i];
    return extreme;
}

/// The candidates' numerators −(levels + 0.1·step) for `levels` (the inverse scales are these over the values'
/// extreme) in the order they are tried, padded with zeros to 32: float constants, folded as the run-time
/// expression would compute them.
#define NUMERATOR(levels, step) (-((levels) + 0.1f * (float)(step)))
#define NUMERATORS(levels) { NUMERATOR(levels, 0), NUMERATOR(levels, -9), NUMERATOR(levels, -8), NUMERATOR(levels, -7), \
    NUMERATOR(levels, -6), NUMERATOR(levels, -5), NUMERATOR(levels, -4), NUMERATOR(levels, -3), NUMERATOR(levels, -2), \
    NUMERATOR(levels, -1), NUMERATOR(levels, 1), NUMERATOR(levels, 2), NUMERATOR(levels, 3), NUMERATOR(levels, 4), \
    NUMERATOR(levels, 5), NUMERATOR(levels, 6), NUMERATOR(levels, 7), NUMERATOR(levels, 8), NUMERATOR(levels, 9) }
static const float numerators_int8[32] = NUMERATORS(127.0f), numerators_int4[32] = NUMERATORS(8.0f),
                   numerators_int2[32] = NUMERATORS(2.0f);

/// The search's numerators and level range for `bits`.
static const float *numerators(int bits, float *low, float *high) {
    *low = bits == 8 ? -127.0f : bits == 4 ? -8.0f : -2.0f;
    *high = bits == 8 ? 127.0f : bits == 4 ? 7.0f : 1.0f;
    return bits == 8 ? numerators_int8 : bits == 4 ? numerators_int4 : numerators_int2;
}

/// Whether the values' extreme is too small to search around (the values are all (near) zero: the scale is 0).
static int negligible(float extreme) { return !(fabsf(extreme) >= 1e-15f); }

/// The winning candidate's scale: candidate 0's, replaced by each later candidate c whose Σxl² exceeds the current
/// winner's score Σxl² / Σl² times its own Σl².
static float choose(const float *sum_xl, const float *sum_ll) {
    float best = sum_ll[0] > 0 ? sum_xl[0] * sum_xl[0] / sum_ll[0] : 0;
    float scale = sum_ll[0] > 0 ? sum_xl[0] / sum_ll[0] : 0;
    for (int c = 1; c < CANDIDATES; c++) {
        if (sum_ll[c] > 0 && sum_xl[c] * sum_xl[c] > best * sum_ll[c]) {
            best = sum_xl[c] * sum_xl[c] / sum_ll[c];
            scale = sum_xl[c] / sum_ll[c];
        }
    }
    return scale;
}

static float search_portable(const float *x, const float *w, size_t n, int bits) {
    float low, high, sum_xl[CANDIDATES], sum_ll[CANDIDATES];
    const float extreme = extreme_portable(x, n);
    if (negligible(extreme)) return 0;
    const float *numerator = numerators(bits, &low, &high);
    for (int c = 0; c < CANDIDATES; c++) fit_portable(x, w, n, numerator[c] / extreme, low, high, sum_xl + c, sum_ll + c);
    return choose(sum_xl, sum_ll);
}

// Row quantization (see the header). The level of x is round-half-away(x · inverse): trunc, then one step
// away from zero when the dropped fraction is at least one half, which is exactly what roundf does.

static inline float round_away(float v) {
    float t = truncf(v);
    return fabsf(v - t) >= 0.5f ? t + copysignf(1.0f, v) : t;
}

static inline unsigned short to_half(float value) {
    _Float16 h = (_Float16)value;
    unsigned short bits;
    memcpy(&bits, &h, 2);
    return bits;
}

static inline float from_half(unsigned short bits) {
    _Float16 h;
    memcpy(&h, &bits, 2);
    return (float)h;
}

static void store_level(unsigned char *values, size_t column, int bits, int q) {
    switch (bits) {
    case 8: values[column] = (unsigned char)(signed char)q; break;
    case 4: values[column / 2] |= (unsigned char)((q + 8) << (4 * (column % 2))); break;
    default: values[column / 4] |= (unsigned char)((q + 2) << (2 * (column % 4))); break;
    }
}

static long quantize_row_portable(const float *x, const float *given, size_t n, size_t group, int bits, unsigned char *record,
                                  lpk_error_sums *sums) {
    const float max_level = bits == 8 ? 127.0f : bits == 4 ? 7.0f : 1.0f;
    const float low = bits == 8 ? -127.0f : bits == 4 ? -8.0f : -2.0f;
    const size_t groups = n / group;
    unsigned char *values = record + 2 * groups;
    memset(values, 0, n * (size_t)bits / 8);
    double se = 0, rr = 0, cc = 0, dot = 0, worst = sums->max_error;
    for (size_t g = 0; g < groups; g++) {
        const float *v = x + g * group;
        float amax = 0;
        for (size_t i = 0; i < group; i++) amax = fmaxf(amax, fabsf(v[i]));
        const float scale = given ? given[g] : amax / max_level;
        if (!(fabsf(scale) <= 65504.0f)) return (long)n;
        const unsigned short half = to_half(scale);
        record[2 * g] = (unsigned char)(half & 0xFF);
        record[2 * g + 1] = (unsigned char)(half >> 8);
        const float stored = from_half(half), inverse = stored == 0 ? 0 : 1.0f / stored;
        float e2 = 0, r2 = 0, c2 = 0, xy = 0;
        for (size_t i = 0; i < group; i++) {
            float q = fminf(max_level, fmaxf(low, round_away(v[i] * inverse)));
            store_level(values, g * group + i, bits, (int)q);
            const float y = q * stored, e = v[i] - y;
            e2 += e * e; r2 += v[i] * v[i]; c2 += y * y; xy += v[i] * y;
            if (fabsf(e) > worst) worst = fabsf(e);
        }
        se += e2; rr += r2; cc += c2; dot += xy;
    }
    sums->squared_error += se; sums->squared_reference += rr; sums->squared_candidate += cc; sums->dot += dot;
    sums->max_error = worst;
    return -1;
}

static long first_non_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isfinite(x[i])) return (long)i;
    return -1;
}

/// quantize_row_portable behind the non-finite check the vector versions make as they go.
static long quantize_row_checked(const float *x, const float *given, size_t n, size_t group, int bits, unsigned char *record,
                                 lpk_error_sums *sums) {
    const long bad = first_non_finite(x, n);
    if (bad >= 0) return bad;
    return quantize_row_portable(x, given, n, group, bits, record, sums);
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define AVX2Q __attribute__((target("avx2,fma,f16c")))

/// Levels of 8 values: round-half-away(v · inverse), clamped.
AVX2Q static inline __m256 levels8(__m256 v, __m256 inverse, __m256 low, __m256 high) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 p = _mm256_mul_ps(v, inverse);
    const __m256 t = _mm256_round_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign_mask, _mm256_sub_ps(p, t)), half, _CMP_GE_OQ);
    const __m256 step = _mm256_and_ps(away, _mm256_or_ps(one, _mm256_and_ps(sign_mask, p)));
    return _mm256_min_ps(high, _mm256_max_ps(low, _mm256_add_ps(t, step)));
}

AVX2Q static double hsum_d(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return (double)_mm_cvtss_f32(s);
}

AVX2Q static float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/// `count` (≤ 4) candidates fitted together, each exactly as fit_avx2 fits it: the values are loaded once for all of
/// them and their sums are independent chains.
AVX2Q static inline __attribute__((always_inline)) void fit_batch(const float *x, const float *w, size_t n, const float *inverses,
                                                                  const int count, float low, float high, float *sum_xl, float *sum_ll) {
    const __m256 vlow = _mm256_set1_ps(low), vhigh = _mm256_set1_ps(high);
    __m256 vinverse[4], xl[4], ll[4];
    for (int c = 0; c < count; c++) {
        vinverse[c] = _mm256_set1_ps(inverses[c]);
        xl[c] = _mm256_setzero_ps();
        ll[c] = _mm256_setzero_ps();
    }
    for (size_t i = 0; i < n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), weight = w ? _mm256_loadu_ps(w + i) : _mm256_setzero_ps();
        for (int c = 0; c < count; c++) {
            __m256 l = _mm256_round_ps(_mm256_mul_ps(vinverse[c], v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            l = _mm256_min_ps(vhigh, _mm256_max_ps(vlow, l));
            const __m256 weighted = w ? _mm256_mul_ps(weight, l) : l;
            xl[c] = _mm256_fmadd_ps(weighted, v, xl[c]);
            ll[c] = _mm256_fmadd_ps(weighted, l, ll[c]);
        }
    }
    for (int c = 0; c < count; c++) {
        sum_xl[c] = sum_256(xl[c]);
        sum_ll[c] = sum_256(ll[c]);
    }
}

/// extreme_portable's value: the largest magnitude found eight at a time, then its first holder.
AVX2Q static float extreme_avx2(const float *x, size_t n) {
    if (n % 8 != 0) return extreme_portable(x, n);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 largest = _mm256_setzero_ps();
    for (size_t i = 0; i < n; i += 8) largest = _mm256_max_ps(largest, _mm256_and_ps(abs_mask, _mm256_loadu_ps(x + i)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(largest), _mm256_extractf128_ps(largest, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    const float amax = _mm_cvtss_f32(m);
    if (amax == 0) return 0;
    for (size_t i = 0; i < n; i++) if (fabsf(x[i]) == amax) return x[i];
    return extreme_portable(x, n);  // not reached with finite values
}

/// The search with four candidates fitted at a time (n a multiple of 8; otherwise one at a time, as fit_avx2 fits).
AVX2Q static float search_avx2(const float *x, const float *w, size_t n, int bits) {
    float inverses[CANDIDATES], low, high, sum_xl[CANDIDATES], sum_ll[CANDIDATES];
    const float extreme = extreme_avx2(x, n);
    if (negligible(extreme)) return 0;
    const float *numerator = numerators(bits, &low, &high);
    for (int c = 0; c < CANDIDATES; c++) inverses[c] = numerator[c] / extreme;
    if (n % 8 != 0) {
        for (int c = 0; c < CANDIDATES; c++) fit_avx2(x, w, n, inverses[c], low, high, sum_xl + c, sum_ll + c);
        return choose(sum_xl, sum_ll);
    }
    for (int c = 0; c < 18; c += 3) fit_batch(x, w, n, inverses + c, 3, low, high, sum_xl + c, sum_ll + c);
    fit_batch(x, w, n, inverses + 18, CANDIDATES - 18, low, high, sum_xl + 18, sum_ll + 18);
    return choose(sum_xl, sum_ll);
}

#define AVX512Q __attribute__((target("avx512f,avx512dq,avx2,fma,f16c")))

/// Two 8-lane sums in the halves of `z`, each reduced in sum_256's order: lanes j and j + 4, then 0 and 2 with 1 and 3,
/// then those two.
AVX512Q static inline void reduce_halves(__m512 z, float *first, float *second) {
    __m512 s = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, _MM_SHUFFLE(2, 3, 0, 1)));
    s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(2, 3, 0, 1)));
    *first = _mm512_cvtss_f32(s);
    *second = _mm_cvtss_f32(_mm512_extractf32x4_ps(s, 2));
}

/// The four 8-lane sums in the halves of `a` and `b`, reduced as reduce_halves reduces each, four at a time: the
/// 128-bit quarters of each sum are added (a's and b's side by side), then lanes within each quarter.
AVX512Q static inline void reduce_quarters(__m512 a, __m512 b, float *sums) {
    __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m512 firsts = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), s);
    _mm_storeu_ps(sums, _mm512_castps512_ps128(firsts));
}

/// Each lane rounded to the nearest whole number, ties to even, as rintf rounds (one vrndscaleps: on AMD's Zen 4 a
/// tenth less time for the search than adding and taking away 1.5 · 2^23, whose only difference is +0 where this
/// gives −0, which adds the same to the sums).
AVX512Q static inline __attribute__((always_inline)) __m512 round_levels_avx512(__m512 p) {
    return _mm512_roundscale_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/// 2 · `pairs` (pairs ≤ 5) candidates, two to a 512-bit register: each half fits one candidate lane for lane as
/// fit_avx2 does and is reduced as sum_256 reduces, so the sums are fit_avx2's to the bit.
AVX512Q static inline __attribute__((always_inline)) void fit_pairs(const float *x, const float *w, size_t n, const float *inverses,
                                                                   const int pairs, float low, float high, float *sum_xl, float *sum_ll) {
    const __m512 vlow = _mm512_set1_ps(low), vhigh = _mm512_set1_ps(high);
    __m512 vinverse[5], xl[5], ll[5];
    for (int p = 0; p < pairs; p++) {
        vinverse[p] = _mm512_insertf32x8(_mm512_set1_ps(inverses[2 * p]), _mm256_set1_ps(inverses[2 * p + 1]), 1);
        xl[p] = _mm512_setzero_ps();
        ll[p] = _mm512_setzero_ps();
    }
    for (size_t i = 0; i < n; i += 8) {
        const __m512 v = _mm512_broadcast_f32x8(_mm256_loadu_ps(x + i));
        const __m512 weight = w ? _mm512_broadcast_f32x8(_mm256_loadu_ps(w + i)) : _mm512_setzero_ps();
        for (int p = 0; p < pairs; p++) {
            // Clamped, then rounded to nearest even: the same level as rounding first, as the bounds are whole numbers.
            const __m512 clamped = _mm512_min_ps(vhigh, _mm512_max_ps(vlow, _mm512_mul_ps(vinverse[p], v)));
            const __m512 l = round_levels_avx512(clamped);
            const __m512 weighted = w ? _mm512_mul_ps(weight, l) : l;
            xl[p] = _mm512_fmadd_ps(weighted, v, xl[p]);
            ll[p] = _mm512_fmadd_ps(weighted, l, ll[p]);
        }
    }
    int p = 0;
    for (; p + 2 <= pairs; p += 2) {
        reduce_quarters(xl[p], xl[p + 1], sum_xl + 2 * p);
        reduce_quarters(ll[p], ll[p + 1], sum_ll + 2 * p);
    }
    if (p < pairs) {
        reduce_halves(xl[p], sum_xl + 2 * p, sum_xl + 2 * p + 1);
        reduce_halves(ll[p], sum_ll + 2 * p, sum_ll + 2 * p + 1);
    }
}

/// extreme_portable's value sixteen at a time: the largest magnitude, then the first lane that holds it (n a multiple
/// of 16).
AVX512Q static float extreme_avx512(const float *x, size_t n) {
    __m512 largest = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    const __m512 amax = _mm512_set1_ps(_mm512_reduce_max_ps(largest));
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 holders = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + i)), amax, _CMP_EQ_OQ);
        if (holders) return x[i + (size_t)__builtin_ctz(holders)];
    }
    return 0;  // all zero
}

/// The search with two candidates per 512-bit register, ten at a time (n a multiple of 8); the inverse scales are
/// divided sixteen at a time.
AVX512Q static float search_avx512(const float *x, const float *w, size_t n, int bits) {
    float inverses[32], low, high, sum_xl[CANDIDATES + 1], sum_ll[CANDIDATES + 1];
    const float extreme = n % 16 == 0 ? extreme_avx512(x, n) : extreme_avx2(x, n);
    if (negligible(extreme)) return 0;
    const float *numerator = numerators(bits, &low, &high);
    const __m512 divisor = _mm512_set1_ps(extreme);
    for (int c = 0; c < 32; c += 16) _mm512_storeu_ps(inverses + c, _mm512_div_ps(_mm512_loadu_ps(numerator + c), divisor));
    inverses[CANDIDATES] = inverses[CANDIDATES - 1];  // an even count; its sums are not looked at
    fit_pairs(x, w, n, inverses, 5, low, high, sum_xl, sum_ll);
    fit_pairs(x, w, n, inverses + 10, 5, low, high, sum_xl + 10, sum_ll + 10);
    return choose(sum_xl, sum_ll);
}

/// One candidate's sums for sixteen groups side by side (`xt`, `wt`: value i of lane k's group at [16·i + k]), each
/// lane exactly as fit_portable sums its group: eight interleaved chains of fused multiply-adds, reduced as sum_256
/// reduces. `variant` (a constant where inlined) says whether there are weights (4) and which clamps are needed: low
/// (2), high (1); a clamp is left out where the candidate cannot reach its bound.
AVX512Q static inline __attribute__((always_inline)) void fit_lanes(const float *xt, const float *wt, size_t n, __m512 inverse,
                                                                   const int variant, __m512 low, __m512 high,
                                                                   __m512 *sum_xl, __m512 *sum_ll) {
    __m512 xl[8], ll[8];
    for (size_t j = 0; j < 8; j++) {
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        for (size_t i = j; i < n; i += 8) {
            const __m512 v = _mm512_load_ps(xt + 16 * i);
            __m512 p = _mm512_mul_ps(inverse, v);
            if (variant & 2) p = _mm512_max_ps(low, p);
            if (variant & 1) p = _mm512_min_ps(high, p);
            const __m512 l = round_levels_avx512(p);
            const __m512 weighted = variant & 4 ? _mm512_mul_ps(_mm512_load_ps(wt + 16 * i), l) : l;
            a = _mm512_fmadd_ps(weighted, v, a);
            b = _mm512_fmadd_ps(weighted, l, b);
        }
        xl[j] = a;
        ll[j] = b;
    }
    *sum_xl = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(xl[0], xl[4]), _mm512_add_ps(xl[2], xl[6])),
                            _mm512_add_ps(_mm512_add_ps(xl[1], xl[5]), _mm512_add_ps(xl[3], xl[7])));
    *sum_ll = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(ll[0], ll[4]), _mm512_add_ps(ll[2], ll[6])),
                            _mm512_add_ps(_mm512_add_ps(ll[1], ll[5]), _mm512_add_ps(ll[3], ll[7])));
}

/// fit_lanes with `variant` turned into a constant (and the common group of 32 unrolled).
AVX512Q static inline __attribute__((always_inline)) void fit_lanes_variant(const float *xt, const float *wt, size_t n,
                                                                           __m512 inverse, int variant, __m512 low, __m512 high,
                                                                           __m512 *sum_xl, __m512 *sum_ll) {
#define LPK_FIT(v) case v: if (n == 32) fit_lanes(xt, wt, 32, inverse, v, low, high, sum_xl, sum_ll); \
                           else fit_lanes(xt, wt, n, inverse, v, low, high, sum_xl, sum_ll); break;
    switch (variant) { LPK_FIT(0) LPK_FIT(1) LPK_FIT(2) LPK_FIT(3) LPK_FIT(4) LPK_FIT(5) LPK_FIT(6) LPK_FIT(7) }
#undef LPK_FIT
}

/// The scales of `count` (1–16) consecutive groups of `n` values (n a multiple of 8, at most 256) at x, x + n, …
/// (weights at w, w + n, … or NULL), each search_portable's to the bit: the groups are laid side by side, one to a
/// lane, so that each candidate is fitted and compared for sixteen groups at once, with no sums across lanes.
/// A candidate whose largest level magnitude |numerator| stays 0.4 or more inside a bound skips that clamp: no
/// value can reach it (every |x| ≤ |extreme|, so |inverse · x| ≤ |numerator| up to rounding).
AVX512Q static void search_groups_avx512(const float *x, const float *w, size_t n, size_t count, int bits, float *scales) {
    _Alignas(64) float xt[256 * 16], wt[256 * 16];
    const __mmask16 lanes = (__mmask16)((1u << count) - 1);
    const __m512i offsets = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32((int)n));
    __m512 amax = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i++) {
        const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, offsets, x + i, 4);
        _mm512_store_ps(xt + 16 * i, v);
        amax = _mm512_max_ps(amax, _mm512_abs_ps(v));
        if (w) _mm512_store_ps(wt + 16 * i, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, offsets, w + i, 4));
    }
    // Each lane's extreme_portable: the first value of largest magnitude.
    __m512 extreme = _mm512_setzero_ps();
    __mmask16 found = 0;
    for (size_t i = 0; i < n && found != 0xFFFF; i++) {
        const __m512 v = _mm512_load_ps(xt + 16 * i);
        const __mmask16 first = _mm512_cmp_ps_mask(_mm512_abs_ps(v), amax, _CMP_EQ_OQ) & (__mmask16)~found;
        extreme = _mm512_mask_mov_ps(extreme, first, v);
        found |= first;
    }
    const __mmask16 usable = _mm512_cmp_ps_mask(_mm512_abs_ps(extreme), _mm512_set1_ps(1e-15f), _CMP_GE_OQ);
    const __m512 divisor = _mm512_mask_blend_ps(usable, _mm512_set1_ps(1.0f), extreme);
    float low_bound, high_bound;
    const float *numerator = numerators(bits, &low_bound, &high_bound);
    const __m512 low = _mm512_set1_ps(low_bound), high = _mm512_set1_ps(high_bound), zero = _mm512_setzero_ps();
    // choose(), lane for lane: the winner's score Σxl² / Σl² is what later candidates must beat; its scale Σxl / Σl
    // is taken once, from the winner's sums.
    __m512 best = zero, best_xl = zero, best_ll = zero;
    __mmask16 any = 0;
    for (int c = 0; c < CANDIDATES; c++) {
        const __m512 inverse = _mm512_div_ps(_mm512_set1_ps(numerator[c]), divisor);
        const int variant = (w ? 4 : 0) | (-numerator[c] > -low_bound + 0.4f ? 2 : 0) | (-numerator[c] > high_bound + 0.4f ? 1 : 0);
        __m512 xl, ll;
        fit_lanes_variant(xt, wt, n, inverse, variant, low, high, &xl, &ll);
        const __mmask16 positive = _mm512_cmp_ps_mask(ll, zero, _CMP_GT_OQ);
        const __m512 square = _mm512_mul_ps(xl, xl), score = _mm512_div_ps(square, ll);
        const __mmask16 better = c == 0 ? positive
                                        : positive & _mm512_cmp_ps_mask(square, _mm512_mul_ps(best, ll), _CMP_GT_OQ);
        best = _mm512_mask_mov_ps(best, better, score);
        best_xl = _mm512_mask_mov_ps(best_xl, better, xl);
        best_ll = _mm512_mask_mov_ps(best_ll, better, ll);
        any |= better;
    }
    const __m512 scale = _mm512_maskz_div_ps(any & usable, best_xl, best_ll);
    _mm512_mask_storeu_ps(scales, lanes, scale);
}

/// The fastest search this CPU has for `n` values: each gives the same scale.
AVX2Q static float search_fastest(const float *x, const float *w, size_t n, int bits) {
    return n % 8 == 0 && lpk_dot_uses_avx512() ? search_avx512(x, w, n, bits) : search_avx2(x, w, n, bits);
}

/// Writes group g's `scale` into `record` as f16 and returns what a reader multiplies by (the f16 value); NaN, writing
/// nothing, when the scale does not fit in f16.
AVX2Q static inline float store_scale(float scale, unsigned char *record, size_t g) {
    if (!(fabsf(scale) <= 65504.0f)) return NAN;
    const unsigned short half = _cvtss_sh(scale, _MM_FROUND_TO_NEAREST_INT);
    record[2 * g] = (unsigned char)(half & 0xFF);
    record[2 * g + 1] = (unsigned char)(half >> 8);
    return _cvtsh_ss(half);
}

AVX2Q static long quantize_row_avx2(const float *x, const float *given, size_t n, size_t group, int bits, unsigned char *record,
                                    lpk_error_sums *sums) {
    const float max_level = bits == 8 ? 127.0f : bits == 4 ? 7.0f : 1.0f;
    const __m256 high = _mm256_set1_ps(max_level), low = _mm256_set1_ps(bits == 8 ? -127.0f : bits == 4 ? -8.0f : -2.0f);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)), infinity = _mm256_set1_ps(INFINITY);
    const size_t groups = n / group;
    unsigned char *values = record + 2 * groups;
    __m256 se = _mm256_setzero_ps(), rr = se, cc = se, xy = se, worst = _mm256_set1_ps((float)sums->max_error);
    double total_se = 0, total_rr = 0, total_cc = 0, total_xy = 0;
    for (size_t g = 0; g < groups; g++) {
        const float *v = x + g * group;
        __m256 amax = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
        for (size_t i = 0; i < group; i += 8) {
            const __m256 magnitude = _mm256_and_ps(abs_mask, _mm256_loadu_ps(v + i));
            amax = _mm256_max_ps(amax, magnitude);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(magnitude, infinity, _CMP_NLT_UQ));  // infinite or NaN
        }
        if (_mm256_movemask_ps(bad)) return first_non_finite(x, n);
        const float stored = store_scale(given ? given[g] : hmax(amax) / max_level, record, g);
        if (stored != stored) return (long)n;
        const __m256 inverse = _mm256_set1_ps(stored == 0 ? 0 : 1.0f / stored), vstored = _mm256_set1_ps(stored);
        for (size_t i = 0; i < group; i += 8) {
            const __m256 value = _mm256_loadu_ps(v + i);
            const __m256 q = levels8(value, inverse, low, high);
            const __m256 y = _mm256_mul_ps(q, vstored), e = _mm256_sub_ps(value, y);
            se = _mm256_fmadd_ps(e, e, se); rr = _mm256_fmadd_ps(value, value, rr);
            cc = _mm256_fmadd_ps(y, y, cc); xy = _mm256_fmadd_ps(value, y, xy);
            worst = _mm256_max_ps(worst, _mm256_and_ps(abs_mask, e));
            const __m256i qi = _mm256_cvtps_epi32(q);  // exact: q is a whole number
            int lanes[8];
            _mm256_storeu_si256((__m256i *)lanes, qi);
            const size_t column = g * group + i;
            if (bits == 8) {
                const __m128i packed16 = _mm_packs_epi32(_mm256_castsi256_si128(qi), _mm256_extracti128_si256(qi, 1));
                _mm_storel_epi64((__m128i *)(values + column), _mm_packs_epi16(packed16, packed16));
            } else if (bits == 4) {
                for (int k = 0; k < 4; k++) values[column / 2 + k] = (unsigned char)((lanes[2 * k] + 8) | ((lanes[2 * k + 1] + 8) << 4));
            } else {
                for (int k = 0; k < 2; k++) {
                    values[column / 4 + k] = (unsigned char)((lanes[4 * k] + 2) | ((lanes[4 * k + 1] + 2) << 2)
                                                             | ((lanes[4 * k + 2] + 2) << 4) | ((lanes[4 * k + 3] + 2) << 6));
                }
            }
        }
        // Fold the float sums into doubles every group, as ErrorMetrics folds blocks of 256.
        total_se += hsum_d(se); total_rr += hsum_d(rr); total_cc += hsum_d(cc); total_xy += hsum_d(xy);
        se = rr = cc = xy = _mm256_setzero_ps();
    }
    sums->squared_error += total_se; sums->squared_reference += total_rr; sums->squared_candidate += total_cc; sums->dot += total_xy;
    sums->max_error = (double)hmax(worst);
    return -1;
}

/// quantize_row_avx2 sixteen values at a time (group a multiple of 16): the same scales and levels, so the same
/// record. The error sums are folded into doubles every 256 values or more (a whole number of groups), as ErrorMetrics
/// folds blocks of 256, from sixteen lanes instead of eight.
AVX512Q static long quantize_row_avx512(const float *x, const float *given, size_t n, size_t group, int bits, unsigned char *record,
                                        lpk_error_sums *sums) {
    const float max_level = bits == 8 ? 127.0f : bits == 4 ? 7.0f : 1.0f;
    const __m512 high = _mm512_set1_ps(max_level), low = _mm512_set1_ps(bits == 8 ? -127.0f : bits == 4 ? -8.0f : -2.0f);
    const __m512 sign_mask = _mm512_set1_ps(-0.0f), half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    const __m512 infinity = _mm512_set1_ps(INFINITY);
    const size_t groups = n / group;
    unsigned char *values = record + 2 * groups;
    __m512 worst = _mm512_set1_ps((float)sums->max_error), se = _mm512_setzero_ps(), rr = se, cc = se, xy = se;
    double total_se = 0, total_rr = 0, total_cc = 0, total_xy = 0;
    size_t unfolded = 0;
    for (size_t g = 0; g < groups; g++) {
        const float *v = x + g * group;
        __m512 amax = _mm512_setzero_ps();
        __mmask16 bad = 0;
        for (size_t i = 0; i < group; i += 16) {
            const __m512 magnitude = _mm512_abs_ps(_mm512_loadu_ps(v + i));
            amax = _mm512_max_ps(amax, magnitude);
            bad |= _mm512_cmp_ps_mask(magnitude, infinity, _CMP_NLT_UQ);  // infinite or NaN
        }
        if (bad) return first_non_finite(x, n);
        const float stored = store_scale(given ? given[g] : _mm512_reduce_max_ps(amax) / max_level, record, g);
        if (stored != stored) return (long)n;
        const __m512 inverse = _mm512_set1_ps(stored == 0 ? 0 : 1.0f / stored), vstored = _mm512_set1_ps(stored);
        for (size_t i = 0; i < group; i += 16) {
            const __m512 value = _mm512_loadu_ps(v + i);
            // Round half away from zero (levels8's rule): truncate, then one step away when the dropped part is ≥ ½.
            const __m512 p = _mm512_mul_ps(value, inverse);
            const __m512 t = _mm512_roundscale_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __mmask16 away = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p, t)), half, _CMP_GE_OQ);
            const __m512 rounded = _mm512_mask_add_ps(t, away, t, _mm512_or_ps(one, _mm512_and_ps(sign_mask, p)));
            const __m512 q = _mm512_min_ps(high, _mm512_max_ps(low, rounded));
            const __m512 y = _mm512_mul_ps(q, vstored), e = _mm512_sub_ps(value, y);
            se = _mm512_fmadd_ps(e, e, se); rr = _mm512_fmadd_ps(value, value, rr);
            cc = _mm512_fmadd_ps(y, y, cc); xy = _mm512_fmadd_ps(value, y, xy);
            worst = _mm512_max_ps(worst, _mm512_abs_ps(e));
            const __m512i qi = _mm512_cvtps_epi32(q);  // exact: q is a whole number
            const size_t column = g * group + i;
            if (bits == 8) {
                _mm_storeu_si128((__m128i *)(values + column), _mm512_cvtepi32_epi8(qi));
            } else if (bits == 4) {
                // Two levels + 8 to a byte, the first in the low nibble: pairs of 32-bit lanes as one 64-bit lane.
                const __m512i pairs = _mm512_add_epi32(qi, _mm512_set1_epi32(8));
                const __m512i bytes = _mm512_or_si512(_mm512_and_si512(pairs, _mm512_set1_epi64(0xF)),
                                                      _mm512_and_si512(_mm512_srli_epi64(pairs, 28), _mm512_set1_epi64(0xF0)));
                _mm_storel_epi64((__m128i *)(values + column / 2), _mm512_cvtepi64_epi8(bytes));
            } else {
                int lanes[16];
                _mm512_storeu_si512(lanes, qi);
                for (int k = 0; k < 4; k++) {
                    values[column / 4 + k] = (unsigned char)((lanes[4 * k] + 2) | ((lanes[4 * k + 1] + 2) << 2)
                                                             | ((lanes[4 * k + 2] + 2) << 4) | ((lanes[4 * k + 3] + 2) << 6));
                }
            }
        }
        unfolded += group;
        if (unfolded >= 256 || g + 1 == groups) {
            total_se += (double)_mm512_reduce_add_ps(se); total_rr += (double)_mm512_reduce_add_ps(rr);
            total_cc += (double)_mm512_reduce_add_ps(cc); total_xy += (double)_mm512_reduce_add_ps(xy);
            se = rr = cc = xy = _mm512_setzero_ps();
            unfolded = 0;
        }
    }
    sums->squared_error += total_se; sums->squared_reference += total_rr; sums->squared_candidate += total_cc; sums->dot += total_xy;
    sums->max_error = (double)_mm512_reduce_max_ps(worst);
    return -1;
}

float lpk_search_scale(const float *x, const float *w, size_t n, int bits) {
    return lpk_dot_uses_avx2() ? search_fastest(x, w, n, bits) : search_portable(x, w, n, bits);
}

void lpk_search_scales(const float *x, const float *w, size_t count, size_t n, int bits, float *scales) {
    if (lpk_dot_uses_avx512() && n % 8 == 0 && n <= 256) {
        for (size_t g = 0; g < count; g += 16) {
            search_groups_avx512(x + g * n, w ? w + g * n : NULL, n, count - g < 16 ? count - g : 16, bits, scales + g);
        }
        return;
    }
    for (size_t g = 0; g < count; g++) scales[g] = lpk_search_scale(x + g * n, w ? w + g * n : NULL, n, bits);
}

int lpk_search_scale_version(int version, const float *x, const float *w, size_t n, int bits, float *scale) {
    switch (version) {
    case 0: *scale = search_portable(x, w, n, bits); return 1;
    case 1: if (!lpk_dot_uses_avx2()) return 0; *scale = search_avx2(x, w, n, bits); return 1;
    case 2: if (!lpk_dot_uses_avx512() || n % 8 != 0) return 0; *scale = search_avx512(x, w, n, bits); return 1;
    default: return 0;
    }
}

/// lpk_quantize_row and lpk_quantize_row_scaled: the scales `given`, or the nearest rule's (NULL).
static long quantize_row_fastest(const float *x, const float *given, size_t n, size_t group, int bits, unsigned char *record,
                                 lpk_error_sums *sums) {
    if (lpk_dot_uses_avx512() && group % 16 == 0) return quantize_row_avx512(x, given, n, group, bits, record, sums);
    if (lpk_dot_uses_avx2() && group % 8 == 0) return quantize_row_avx2(x, given, n, group, bits, record, sums);
    return quantize_row_checked(x, given, n, group, bits, record, sums);
}

int lpk_quantize_row_version(int version, const float *x, const float *scales, size_t n, size_t group, int bits, unsigned char *record,
                             lpk_error_sums *sums, long *result) {
    switch (version) {
    case 0: *result = quantize_row_checked(x, scales, n, group, bits, record, sums); return 1;
    case 1:
        if (!lpk_dot_uses_avx2() || group % 8 != 0) return 0;
        *result = quantize_row_avx2(x, scales, n, group, bits, record, sums);
        return 1;
    case 2:
        if (!lpk_dot_uses_avx512() || group % 16 != 0) return 0;
        *result = quantize_row_avx512(x, scales, n, group, bits, record, sums);
        return 1;
    default: return 0;
    }
}
#else
float lpk_search_scale(const float *x, const float *w, size_t n, int bits) { return search_portable(x, w, n, bits); }

void lpk_search_scales(const float *x, const float *w, size_t count, size_t n, int bits, float *scales) {
    for (size_t g = 0; g < count; g++) scales[g] = search_portable(x + g * n, w ? w + g * n : NULL, n, bits);
}

int lpk_search_scale_version(int version, const float *x, const float *w, size_t n, int bits, float *scale) {
    if (version != 0) return 0;
    *scale = search_portable(x, w, n, bits);
    return 1;
}

static long quantize_row_fastest(const float *x, const float *given, size_t n, size_t group, int bits, unsigned char *record,
                                 lpk_error_sums *sums) {
    return quantize_row_checked(x, given, n, group, bits, record, sums);
}

int lpk_quantize_row_version(int version, const float *x, const float *scales, size_t n, size_t group, int bits, unsigned char *record,
                             lpk_error_sums *sums, long *result) {
    if (version != 0) return 0;
    *result = quantize_row_checked(x, scales, n, group, bits, record, sums);
    return 1;
}
#endif

long lpk_quantize_row(const float *x, size_t n, size_t group, int bits, unsigned char *record, lpk_error_sums *sums) {
    return quantize_row_fastest(x, NULL, n, group, bits, record, sums);
}

long lpk_quantize_row_scaled(const float *x, const float *scales, size_t n, size_t group, int bits, unsigned char *record,
                             lpk_error_sums *sums) {
    return quantize_row_fastest(x, scales, n, group, bits, record, sums);
}
