// The dense linear algebra of calibration (GPTQ): Gram matrices of inputs, Cholesky factors and the column updates of
// error feedback, in C so that they run on AVX2/FMA where the CPU has them (chosen once at run time, plain C
// elsewhere). Callers guarantee every length; nothing here checks bounds.
#ifndef LPK_LINALG_H
#define LPK_LINALG_H
#include <stddef.h>

/// gram[i·cols + j] += Σ_t xt[i·count + t]·xt[j·count + t] for j ≥ i (the upper triangle), for the rows of blocks
/// b = first, first + step, … (block b: rows 4b…4b+3 below cols): `xt` holds a batch of `count` inputs transposed
/// (one row per column).
void lpk_gram_rows(const float *xt, size_t count, size_t cols, double *gram, size_t first, size_t step);

/// y[i] += a·x[i] over n floats.
void lpk_axpy(float *y, const float *x, float a, size_t n);

#endif
