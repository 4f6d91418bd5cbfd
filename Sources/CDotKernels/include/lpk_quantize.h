// The inner loop of choosing a group's scale (llama.cpp's make_qx_quants search), in C so that it runs on AVX2/FMA
// where the CPU has them (chosen once at run time, plain C elsewhere). Callers guarantee every length; nothing here
// checks bounds.
#ifndef LPK_QUANTIZE_H
#define LPK_QUANTIZE_H
#include <stddef.h>

/// The weighted least-squares fit of `n` values `x` (weights `w`, or all 1 when `w` is NULL) to levels
/// l_i = clamp(rint(inverse·x_i), low, high): writes Σ w·x·l to `*sum_xl` and Σ w·l² to `*sum_ll`.
void lpk_fit_levels(const float *x, const float *w, size_t n, float inverse, float low, float high,
                    float *sum_xl, float *sum_ll);

#endif
