// The batched matrix product of prefill and verification: a panel of up to 32 weight rows, laid out column by
// column (k-major, 32 values per column), times many inputs. Each step of the inner loop loads one column of the
// panel and broadcasts one value of each input, so the products run from registers and L1 rather than waiting on
// the inputs. AVX-512 or AVX2/FMA where the CPU has them (chosen once at run time), plain C elsewhere. Callers
// guarantee every length; nothing here checks bounds.
#ifndef LPK_PANEL_H
#define LPK_PANEL_H
#include <stddef.h>

/// Rows per panel.
#define LPK_PANEL_ROWS 32

/// panel[k · 32 + r] = rows[r · columns + k] for r < count (≤ 32) and k < columns; rows from count to 32 are zero.
void lpk_panel_pack(const float *rows, size_t count, size_t columns, float *panel);

/// y[t · ldy + r] = Σ_k panel[k · 32 + r] · x[t · columns + k] for t < tokens and r < count (≤ 32): the panel's
/// rows times every input. Writes nothing at r ≥ count.
void lpk_panel_times_inputs(const float *panel, size_t count, size_t columns, const float *x, size_t tokens,
                            float *y, size_t ldy);

/// The same product by one version: 0 portable C, 1 AVX2/FMA, 2 AVX-512 (what tests hold to one another).
/// Returns 0, computing nothing, when this CPU or build lacks that version.
int lpk_panel_times_inputs_version(int version, const float *panel, size_t count, size_t columns, const float *x,
                                   size_t tokens, float *y, size_t ldy);

#endif
