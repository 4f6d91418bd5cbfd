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

/// Error sums of one quantized row against its values: Σ(x − y)², Σx², Σy², Σx·y and max |x − y| (y: what a reader
/// decodes).
typedef struct {
    double squared_error, squared_reference, squared_candidate, dot, max_error;
} lpk_error_sums;

/// Quantizes one row of `n` values `x` into a LayerPack row record (Formats/lpk.md §5): per group of `group` columns a
/// scale, rounded to f16 (the nearest rule, max|x| / max_level with max_level 127, 7 or 1 for `bits` 8, 4, 2; or, when
/// `search` is not 0, llama.cpp's make_qx_quants search weighted by `w` (NULL: unweighted), as GroupScale.search does),
/// then each value's level round(x / scale) (halves away from zero, against the stored f16 scale) clamped to the
/// width's range, packed as the record stores it; accumulates the row's error sums into `sums`. Returns −1 on
/// success, the index of the first non-finite value, or `n` when a scale does not fit in f16 (`record` is then of no
/// use).
long lpk_quantize_row(const float *x, const float *w, int search, size_t n, size_t group, int bits, unsigned char *record,
                      lpk_error_sums *sums);

#endif
