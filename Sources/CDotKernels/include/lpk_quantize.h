// The inner loop of choosing a group's scale (llama.cpp's make_qx_quants search), in C so that it runs on AVX2/FMA
// where the CPU has them (chosen once at run time, plain C elsewhere). Callers guarantee every length; nothing here
// checks bounds.
#ifndef LPK_QUANTIZE_H
#define LPK_QUANTIZE_H
#include <stddef.h>

/// The scale of one group of `n` values `x` for `bits` 8, 4 or 2 by llama.cpp's make_qx_quants search, weighted by `w`
/// (NULL: all 1): the value of largest magnitude maps to the most negative level, the scale is the weighted
/// least-squares fit of the levels l_i = clamp(rint(x_i / scale)), and 18 more candidates around it are tried,
/// keeping the one with the least weighted squared error. 0 when every value is (near) zero.
float lpk_search_scale(const float *x, const float *w, size_t n, int bits);

/// lpk_search_scale's scale, to the bit, of each of `count` consecutive groups of `n` values at x, x + n, … weighted by
/// w, w + n, … (NULL: unweighted), into `scales`: with AVX-512 sixteen groups are searched side by side, whichever rows
/// they come from, so a batch of short rows costs no more per group than one long row.
void lpk_search_scales(const float *x, const float *w, size_t count, size_t n, int bits, float *scales);

/// The same search by one version: 0 portable C, 1 AVX2, 2 AVX-512 (n a multiple of 8), for tests that hold them to
/// one another. Returns 0, computing nothing, when this CPU or build lacks the version.
int lpk_search_scale_version(int version, const float *x, const float *w, size_t n, int bits, float *scale);

/// Error sums of one quantized row against its values: Σ(x − y)², Σx², Σy², Σx·y and max |x − y| (y: what a reader
/// decodes).
typedef struct {
    double squared_error, squared_reference, squared_candidate, dot, max_error;
} lpk_error_sums;

/// Quantizes one row of `n` values `x` into a LayerPack row record (Formats/lpk.md §5): per group of `group` columns a
/// scale by the nearest rule, max|x| / max_level with max_level 127, 7 or 1 for `bits` 8, 4, 2, rounded to f16, then
/// each value's level round(x / scale) (halves away from zero, against the stored f16 scale) clamped to the width's
/// range, packed as the record stores it; accumulates the row's error sums into `sums`. Returns −1 on success, the
/// index of the first non-finite value, or `n` when a scale does not fit in f16 (`record` is then of no use).
long lpk_quantize_row(const float *x, size_t n, size_t group, int bits, unsigned char *record, lpk_error_sums *sums);

/// lpk_quantize_row with each group's scale given (`scales`, one per group, as lpk_search_scales finds them) instead of
/// the nearest rule's.
long lpk_quantize_row_scaled(const float *x, const float *scales, size_t n, size_t group, int bits, unsigned char *record,
                             lpk_error_sums *sums);

/// The same by one version: 0 portable C, 1 AVX2 (group a multiple of 8), 2 AVX-512 (of 16), for tests that hold them
/// to one another: `scales` given (lpk_quantize_row_scaled) or NULL (lpk_quantize_row); writes the return value to
/// `*result`. Returns 0, computing nothing, when this CPU or build lacks the version or the group does not suit it.
int lpk_quantize_row_version(int version, const float *x, const float *scales, size_t n, size_t group, int bits, unsigned char *record,
                             lpk_error_sums *sums, long *result);

#endif
