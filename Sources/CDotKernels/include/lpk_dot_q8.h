// Integer dot products of 8-bit weights with inputs quantized as llama.cpp's Q8_0: what ggml's CPU backend computes
// for a Q8_0 weight (and LayerPack's int8 rows in groups of 32, the same values), Σ over blocks of
// d_w·d_x·Σ q_w·q_x with each block's sum in integers. Used under llama.cpp numerics, where the inputs are on that
// grid anyway. Callers guarantee every length; nothing here checks bounds.
#ifndef LPK_DOT_Q8_H
#define LPK_DOT_Q8_H
#include <stddef.h>
#include "lpk_dot.h"

/// Bytes one quantized input of `columns` values (a multiple of 32) takes: its int8 levels, a float scale per 32,
/// and per four levels their sum times −128 (what the AVX-512 kernel starts each sum from).
size_t lpk_q8_input_bytes(size_t columns);

/// `x` (`columns` values, a multiple of 32) quantized into `out` (lpk_q8_input_bytes(columns) bytes, 4-byte
/// aligned): the levels and f16-rounded scales lpk_round_q8_0 multiplies back, exactly.
void lpk_q8_quantize(const float *x, size_t columns, void *out);

/// Whether lpk_q8_dot_rows multiplies rows of `kind` with `columns` values in groups of `group`: Q8_0 rows and
/// int8 records in groups of 32, `columns` a multiple of 32.
int lpk_q8_takes(lpk_row_kind kind, size_t columns, size_t group);

/// out[t · out_stride + r] = row r · input t for the `rows` records of `record_bytes` at `records` and `count` inputs
/// quantized by lpk_q8_quantize (input t at `inputs` + t · lpk_q8_input_bytes(columns)), asking for the record
/// `ahead` rows on as each row starts. With AVX-512 VNNI, 64 values per instruction, four rows at a time; otherwise
/// one value at a time. Each block's sum is exact either way; the blocks' scaled sums are added in another order.
/// - Precondition: lpk_q8_takes(kind, columns, group).
void lpk_q8_dot_rows(lpk_row_kind kind, const void *records, size_t record_bytes, size_t rows, const void *inputs, size_t count,
                     size_t columns, size_t group, size_t ahead, float *out, size_t out_stride);

/// Whether lpk_q8_dot_rows runs its AVX-512 VNNI kernel here.
int lpk_q8_uses_vnni(void);

#endif
