// See include/lpk_linalg.h.
#include "lpk_linalg.h"
#include "lpk_dot.h"

void lpk_gram_rows(const float *xt, size_t count, size_t cols, double *gram, size_t first, size_t step) {
    for (size_t i = first; i < cols; i += step) {
        const float *a = xt + i * count;
        double *row = gram + i * cols;
        for (size_t j = i; j < cols; j++) row[j] += (double)lpk_dot_f32(a, xt + j * count, count);
    }
}

static void axpy_portable(float *y, const float *x, float a, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static void axpy_avx2(float *y, const float *x, float a, size_t n) {
    __m256 scale = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(scale, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(scale, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
    }
    for (; i < n; i++) y[i] += a * x[i];
}

void lpk_axpy(float *y, const float *x, float a, size_t n) {
    if (lpk_dot_uses_avx2()) axpy_avx2(y, x, a, n); else axpy_portable(y, x, a, n);
}
#else
void lpk_axpy(float *y, const float *x, float a, size_t n) { axpy_portable(y, x, a, n); }
#endif
