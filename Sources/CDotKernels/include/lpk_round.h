// The roundings llama.cpp's CPU backend (ggml) applies to activations, so that the reference inference can run a
// GGUF with llama.cpp's numerics. Each function writes the values ggml ends up multiplying: `out` may equal `x`.
// Callers guarantee every length; nothing here checks bounds.
#ifndef LPK_ROUND_H
#define LPK_ROUND_H
#include <stddef.h>

/// Through ggml's Q8_0 (the input of Q4_0/Q5_0/Q8_0 products): per 32 values, d = max|x|/127 kept as f16,
/// q = x·127/max|x| rounded half to even; out = f16(d)·q. `n` is a multiple of 32.
void lpk_round_q8_0(const float *x, float *out, size_t n);

/// Through ggml's Q8_1 (the input of Q4_1/Q5_1 products): the values as Q8_0; ggml's extra f16 block sum is not
/// modelled. `n` is a multiple of 32.
void lpk_round_q8_1(const float *x, float *out, size_t n);

/// Through ggml's Q8_K (the input of K-quant and i-quant products): per 256 values, the element of largest
/// magnitude m (first one on ties), s = -127/m, q = min(127, x·s rounded half to even), d = 1/s; out = d·q.
/// `n` is a multiple of 256.
void lpk_round_q8_k(const float *x, float *out, size_t n);

/// out[i] = gelu(x[i])·g[i] as ggml computes it: gelu read from a table indexed by f16(x) whose entries are f16,
/// 0 below -10 and the identity above 10 (tanh approximation inside).
void lpk_geglu_f16_table(const float *x, const float *g, float *out, size_t n);

#endif
