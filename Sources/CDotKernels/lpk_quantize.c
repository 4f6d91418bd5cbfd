// See include/lpk_quantize.h.
#include "lpk_quantize.h"
#include "lpk_dot.h"
#include <math.h>

static void fit_portable(const float *x, const float *w, size_t n, float inverse, float low, float high,
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

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

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
    if (i < n) fit_portable(x + i, w ? w + i : NULL, n - i, inverse, low, high, &tail_xl, &tail_ll);
    *sum_xl = sum8(xl) + tail_xl;
    *sum_ll = sum8(ll) + tail_ll;
}

void lpk_fit_levels(const float *x, const float *w, size_t n, float inverse, float low, float high, float *sum_xl, float *sum_ll) {
    if (lpk_dot_uses_avx2()) fit_avx2(x, w, n, inverse, low, high, sum_xl, sum_ll);
    else fit_portable(x, w, n, inverse, low, high, sum_xl, sum_ll);
}
#else
void lpk_fit_levels(const float *x, const float *w, size_t n, float inverse, float low, float high, float *sum_xl, float *sum_ll) {
    fit_portable(x, w, n, inverse, low, high, sum_xl, sum_ll);
}
#endif
