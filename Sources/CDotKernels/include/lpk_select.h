// Choosing a token from logits: the index of the largest value, the greedy sampler's choice, eight values at a time
// with AVX2 where the CPU has it (a 262,144-token vocabulary is a megabyte to scan per token). Callers guarantee the
// length.
#ifndef LPK_SELECT_H
#define LPK_SELECT_H
#include <stddef.h>

/// The first index of the largest of x[0..<n] (n ≥ 1), NaNs passed over; 0 when x[0] is NaN: what scanning from x[0]
/// and moving on only to a strictly larger value returns (Swift's `max(by: <)` over the indices).
size_t lpk_argmax(const float *x, size_t n);

/// The same by one version: 0 portable C, 1 AVX2 (what tests hold to each other). Returns 0, writing nothing, when
/// this CPU or build lacks that version.
int lpk_argmax_version(int version, const float *x, size_t n, size_t *index);

#endif
