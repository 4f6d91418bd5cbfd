// See include/lpk_linalg.h.
#include "lpk_linalg.h"
#include "lpk_dot.h"

// One tile of the Gram matrix: rows i0…i0+3 against columns j0, j0+1 (indices past `cols` repeat the last valid one
// and are not stored); sums[k·2 + m] = Σ_t xt[i0+k][t]·xt[j0+m][t].
static void gram_tile_portable(const float *xt, size_t count, size_t cols, size_t i0, size_t j0, float *sums) {
    for (size_t k = 0; k < 4; k++) {
        const float *a = xt + (i0 + k < cols ? i0 + k : cols - 1) * count;
        for (size_t m = 0; m < 2; m++) {
            const float *b = xt + (j0 + m < cols ? j0 + m : cols - 1) * count;
            sums[k * 2 + m] = lpk_dot_f32(a, b, count);
        }
    }
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "lpk_vector_sum.h"

// The tile as 8 accumulators: each step loads 4 + 2 vectors for 8 multiply-adds (a dot product loads 2 per one).
__attribute__((target("avx2,fma"))) static void gram_tile_avx2(const float *xt, size_t count, size_t cols, size_t i0, size_t j0,
                                                              float *sums) {
    const float *a[4], *b[2];
    for (size_t k = 0; k < 4; k++) a[k] = xt + (i0 + k < cols ? i0 + k : cols - 1) * count;
    for (size_t m = 0; m < 2; m++) b[m] = xt + (j0 + m < cols ? j0 + m : cols - 1) * count;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    size_t t = 0;
    for (; t + 8 <= count; t += 8) {
        __m256 b0 = _mm256_loadu_ps(b[0] + t), b1 = _mm256_loadu_ps(b[1] + t);
        __m256 a0 = _mm256_loadu_ps(a[0] + t);
        c00 = _mm256_fmadd_ps(a0, b0, c00); c01 = _mm256_fmadd_ps(a0, b1, c01);
        __m256 a1 = _mm256_loadu_ps(a[1] + t);
        c10 = _mm256_fmadd_ps(a1, b0, c10); c11 = _mm256_fmadd_ps(a1, b1, c11);
        __m256 a2 = _mm256_loadu_ps(a[2] + t);
        c20 = _mm256_fmadd_ps(a2, b0, c20); c21 = _mm256_fmadd_ps(a2, b1, c21);
        __m256 a3 = _mm256_loadu_ps(a[3] + t);
        c30 = _mm256_fmadd_ps(a3, b0, c30); c31 = _mm256_fmadd_ps(a3, b1, c31);
    }
    __m256 acc[8] = {c00, c01, c10, c11, c20, c21, c30, c31};
    for (size_t k = 0; k < 4; k++) {
        for (size_t m = 0; m < 2; m++) {
            float sum = sum_256(acc[k * 2 + m]);
            for (size_t u = t; u < count; u++) sum += a[k][u] * b[m][u];
            sums[k * 2 + m] = sum;
        }
    }
}

static void gram_tile(const float *xt, size_t count, size_t cols, size_t i0, size_t j0, float *sums) {
    if (lpk_dot_uses_avx2()) gram_tile_avx2(xt, count, cols, i0, j0, sums); else gram_tile_portable(xt, count, cols, i0, j0, sums);
}
#else
static void gram_tile(const float *xt, size_t count, size_t cols, size_t i0, size_t j0, float *sums) {
    gram_tile_portable(xt, count, cols, i0, j0, sums);
}
#endif

void lpk_gram_rows(const float *xt, size_t count, size_t cols, double *gram, size_t first, size_t step) {
    float sums[8];
    for (size_t block = first; block * 4 < cols; block += step) {
        size_t i0 = block * 4;
        for (size_t j0 = i0; j0 < cols; j0 += 2) {
            gram_tile(xt, count, cols, i0, j0, sums);
            for (size_t k = 0; k < 4 && i0 + k < cols; k++) {
                for (size_t m = 0; m < 2 && j0 + m < cols; m++) {
                    if (j0 + m >= i0 + k) gram[(i0 + k) * cols + j0 + m] += (double)sums[k * 2 + m];
                }
            }
        }
    }
}

static void axpy_portable(float *y, const float *x, float a, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
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
