// See include/lpk_activations.h.
#include "lpk_activations.h"
#include "lpk_dot.h"
#include <math.h>

static const float sqrt_2_over_pi = 0.7978845608028654f;
static const float cubic = 0.044715f;

static void softcap_portable(float *x, size_t n, float cap) {
    for (size_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

static void geglu_tanh_portable(const float *x, const float *g, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float v = x[i], u = sqrt_2_over_pi * (v + cubic * v * v * v);
        out[i] = v / (1.0f + expf(-2.0f * u)) * g[i];
    }
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

/// exp(z) for eight floats: z = k·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for an exact k·ln2), exp(r) by its
/// Taylor polynomial to r⁷ (remainder below 6e-9 relative), times 2^k built in the exponent bits. Outside
/// [−87, 88], where that would leave the normal floats, the result is 0 or infinity.
AVX2 static __m256 exp_avx2(__m256 argument) {
    const __m256 z = _mm256_min_ps(_mm256_max_ps(argument, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(z, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), z);  // ln2's leading bits: k·hi is exact
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    const __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
    const __m256 over = _mm256_cmp_ps(argument, _mm256_set1_ps(88.0f), _CMP_GT_OQ);
    const __m256 under = _mm256_cmp_ps(argument, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
    return _mm256_andnot_ps(under, _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), over));
}

AVX2 static void geglu_tanh_avx2(const float *x, const float *g, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(cubic), v), v), v);
        const __m256 u = _mm256_mul_ps(_mm256_set1_ps(sqrt_2_over_pi), _mm256_add_ps(v, v3));
        const __m256 e = exp_avx2(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
        const __m256 gelu = _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(gelu, _mm256_loadu_ps(g + i)));
    }
    geglu_tanh_portable(x + i, g + i, out + i, n - i);
}

AVX2 static void softcap_avx2(float *x, size_t n, float cap) {
    const __m256 vcap = _mm256_set1_ps(cap), sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 y = _mm256_div_ps(_mm256_loadu_ps(x + i), vcap);
        const __m256 magnitude = _mm256_andnot_ps(sign, y), y2 = _mm256_mul_ps(y, y);
        __m256 p = _mm256_set1_ps(-1382.0f / 155925);  // tanh's Taylor series: y − y³/3 + 2y⁵/15 − 17y⁷/315 + …
        p = _mm256_fmadd_ps(p, y2, _mm256_set1_ps(62.0f / 2835));
        p = _mm256_fmadd_ps(p, y2, _mm256_set1_ps(-17.0f / 315));
        p = _mm256_fmadd_ps(p, y2, _mm256_set1_ps(2.0f / 15));
        p = _mm256_fmadd_ps(p, y2, _mm256_set1_ps(-1.0f / 3));
        const __m256 series = _mm256_fmadd_ps(_mm256_mul_ps(p, y2), y, y);
        const __m256 e = exp_avx2(_mm256_mul_ps(_mm256_set1_ps(-2.0f), magnitude));
        const __m256 ratio = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
        const __m256 signed_ratio = _mm256_or_ps(ratio, _mm256_and_ps(sign, y));
        const __m256 small = _mm256_cmp_ps(magnitude, _mm256_set1_ps(0.3f), _CMP_LT_OQ);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(vcap, _mm256_blendv_ps(signed_ratio, series, small)));
    }
    softcap_portable(x + i, n - i, cap);
}

void lpk_geglu_tanh(const float *x, const float *g, float *out, size_t n) {
    if (lpk_dot_uses_avx2()) geglu_tanh_avx2(x, g, out, n); else geglu_tanh_portable(x, g, out, n);
}
void lpk_softcap(float *x, size_t n, float cap) {
    if (lpk_dot_uses_avx2()) softcap_avx2(x, n, cap); else softcap_portable(x, n, cap);
}
#else
void lpk_geglu_tanh(const float *x, const float *g, float *out, size_t n) { geglu_tanh_portable(x, g, out, n); }
void lpk_softcap(float *x, size_t n, float cap) { softcap_portable(x, n, cap); }
#endif
