// Causal attention for the query heads that share one key/value head (grouped-query attention): each cached key
// and value is loaded once for up to LPK_ATTENTION_TILE query heads. AVX-512 or AVX2/FMA where the CPU has them
// (chosen once at run time), plain C elsewhere. Callers guarantee every length; nothing here checks bounds.
#ifndef LPK_ATTENTION_H
#define LPK_ATTENTION_H
#include <stddef.h>

/// Query heads attended together.
#define LPK_ATTENTION_TILE 4

/// For n (≤ LPK_ATTENTION_TILE) query heads of `hd` values (`queries`, one after another): scores[g · span + j] =
/// softmax over j of scale · q_g · k_j, then out_g = Σ_j scores[g · span + j] · v_j, for the `span` cached positions
/// whose keys and values start at `keys` and `values`, `stride` floats apart. `out` receives n heads of `hd`.
void lpk_attend_heads(const float *queries, size_t n, const float *keys, const float *values, size_t stride, size_t span,
                      size_t hd, float scale, float *scores, float *out);

/// lpk_attend_heads over one part of a query's positions (decoding splits a long span between threads): out_g =
/// Σ_j exp(s_j − m_g) · v_j, unnormalized, with m_g = max_j s_j stored in maxima[g] and Σ_j exp(s_j − m_g) in sums[g]
/// (s_j = scale · q_g · k_j). With `maxima` and `sums` NULL, lpk_attend_heads.
void lpk_attend_heads_part(const float *queries, size_t n, const float *keys, const float *values, size_t stride, size_t span,
                           size_t hd, float scale, float *scores, float *out, float *maxima, float *sums);

/// Combines `parts` results of lpk_attend_heads_part for `heads` heads of `hd` into `out` (heads × hd): part p at
/// partials + p · part_stride holds its heads × hd outputs, then `heads` maxima, then `heads` sums. out_g =
/// Σ_p e^(m_pg − M_g) · out_pg / Σ_p e^(m_pg − M_g) · sum_pg, M_g the largest m_pg: softmax over all the positions.
void lpk_attend_merge(size_t parts, size_t heads, size_t hd, const float *partials, size_t part_stride, float *out);

/// lpk_attend_heads_part by one version: 0 portable C, 1 AVX2/FMA, 2 AVX-512 (what tests hold to each other). Returns
/// 0, computing nothing, when this CPU or build lacks that version or `hd` is not a multiple of 8 (AVX2) or 16 (AVX-512).
int lpk_attend_heads_version(int version, const float *queries, size_t n, const float *keys, const float *values,
                             size_t stride, size_t span, size_t hd, float scale, float *scores, float *out, float *maxima,
                             float *sums);

#endif
