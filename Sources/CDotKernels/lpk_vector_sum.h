// Horizontal sums of vector registers, shared by the kernels' .c files (a private header, not part of the module).
#ifndef LPK_VECTOR_SUM_H
#define LPK_VECTOR_SUM_H
#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

/// The sum of eight floats: lanes j and j + 4, then 0 + 2 with 1 + 3, then those two (the order the portable
/// twins of the 8-lane kernels sum in).
__attribute__((target("avx2,fma"))) static inline float sum_256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// The sum of sixteen floats.
__attribute__((target("avx512f"))) static inline float sum_512(__m512 v) { return _mm512_reduce_add_ps(v); }

#endif
#endif
