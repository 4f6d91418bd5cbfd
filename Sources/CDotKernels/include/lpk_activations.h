// GeGLU with the tanh-approximated GELU (`gelu_pytorch_tanh`), the activation of every Gemma MLP, in C so that it
// can run eight values at a time with AVX2/FMA where the CPU has them. Callers guarantee every length.
#ifndef LPK_GELU_H
#define LPK_GELU_H
#include <stddef.h>

/// out[i] = gelu(x[i])·g[i], gelu(x) = 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), computed as the
/// equal x / (1 + exp(−2u)), which keeps its relative accuracy where 1 + tanh(u) cancels. The AVX2 exp is a
/// degree-7 polynomial after range reduction (within 2 ulp of expf); elsewhere expf itself. `out` may equal `x`.
void lpk_geglu_tanh(const float *x, const float *g, float *out, size_t n);

#endif
