// Elementwise activations, in C so that they run eight values at a time with AVX2/FMA where the CPU has them: GeGLU
// with the tanh-approximated GELU (`gelu_pytorch_tanh`), the activation of every Gemma MLP, and the final logit soft
// cap of Gemma 2/3n/4. Callers guarantee every length.
#ifndef LPK_ACTIVATIONS_H
#define LPK_ACTIVATIONS_H
#include <stddef.h>

/// out[i] = gelu(x[i])·g[i], gelu(x) = 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), computed as the
/// equal x / (1 + exp(−2u)), which keeps its relative accuracy where 1 + tanh(u) cancels. The AVX2 exp is a
/// degree-7 polynomial after range reduction (within 2 ulp of expf); elsewhere expf itself. `out` may equal `x`.
void lpk_geglu_tanh(const float *x, const float *g, float *out, size_t n);

/// x[i] = cap·tanh(x[i] / cap) in place over `n` values. tanh(y) is an odd Taylor polynomial to y¹¹ where |y| < 0.3
/// (remainder below 1e-9 relative) and (1 − e) / (1 + e), e = exp(−2|y|), with y's sign, elsewhere (within about
/// 2e-7 relative); with the portable code, tanhf itself.
void lpk_softcap(float *x, size_t n, float cap);

#endif
