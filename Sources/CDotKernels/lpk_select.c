// See include/lpk_select.h.
#include "lpk_select.h"
#include "lpk_dot.h"

static size_t argmax_portable(const float *x, size_t n) {
    size_t index = 0;
    for (size_t i = 1; i < n; i++) if (x[index] < x[i]) index = i;
    return index;
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

/// Two passes: the largest value (lanes move on only to a strictly larger value, so NaNs are passed over), then the
/// first index holding a value equal to it (±0 are equal, as they are to `<`: the first of them is what the scan keeps).
AVX2 static size_t argmax_avx2(const float *x, size_t n) {
    if (n < 32 || x[0] != x[0]) return argmax_portable(x, n);
    __m256 best[4];
    for (int k = 0; k < 4; k++) best[k] = _mm256_set1_ps(x[0]);
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_loadu_ps(x + i + 8 * k);
            best[k] = _mm256_blendv_ps(best[k], v, _mm256_cmp_ps(v, best[k], _CMP_GT_OQ));
        }
    float lanes[32], top = x[0];
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(lanes + 8 * k, best[k]);
    for (int k = 0; k < 32; k++) top = lanes[k] > top ? lanes[k] : top;
    for (; i < n; i++) top = x[i] > top ? x[i] : top;
    const __m256 target = _mm256_set1_ps(top);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const int hits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + j), target, _CMP_EQ_OQ));
        if (hits) return j + (size_t)__builtin_ctz((unsigned)hits);
    }
    for (; j < n; j++) if (x[j] == top) return j;
    return 0;
}

int lpk_argmax_version(int version, const float *x, size_t n, size_t *index) {
    switch (version) {
    case 0: *index = argmax_portable(x, n); return 1;
    case 1:
        if (!lpk_dot_uses_avx2()) return 0;
        *index = argmax_avx2(x, n);
        return 1;
    default: return 0;
    }
}

size_t lpk_argmax(const float *x, size_t n) { return lpk_dot_uses_avx2() ? argmax_avx2(x, n) : argmax_portable(x, n); }

#else

int lpk_argmax_version(int version, const float *x, size_t n, size_t *index) {
    if (version != 0) return 0;
    *index = argmax_portable(x, n);
    return 1;
}

size_t lpk_argmax(const float *x, size_t n) { return argmax_portable(x, n); }

#endif
