// Dot-product kernels of the reference inference, in C so that they can use AVX2/FMA/F16C where the CPU has them
// (chosen once at run time) and plain C elsewhere. Callers guarantee every length; nothing here checks bounds.
#ifndef LPK_DOT_H
#define LPK_DOT_H
#include <stddef.h>

/// Σ a[i]·b[i] over n floats.
float lpk_dot_f32(const float *a, const float *b, size_t n);

/// ggml Q8_0 row (blocks of: f16 scale, 32 signed bytes) · x, for `columns` values (a multiple of 32).
float lpk_dot_q8_0(const void *row, const float *x, size_t columns);

/// ggml Q5_0 (22-byte blocks of 32), Q4_K and Q6_K (144- and 210-byte blocks of 256) rows · x: each block is
/// decoded into a buffer on the stack and multiplied while it is in cache. `columns` is a multiple of the block.
float lpk_dot_q5_0(const void *row, const float *x, size_t columns);
float lpk_dot_q4_0(const void *row, const float *x, size_t columns);
float lpk_dot_q4_k(const void *row, const float *x, size_t columns);
float lpk_dot_q6_k(const void *row, const float *x, size_t columns);

/// Decode a ggml Q8_0, Q5_0, Q4_K or Q6_K row into `columns` floats (a multiple of the block length).
void lpk_decode_q8_0(const void *row, float *out, size_t columns);
void lpk_decode_q5_0(const void *row, float *out, size_t columns);
void lpk_decode_q4_0(const void *row, float *out, size_t columns);
void lpk_decode_q4_k(const void *row, float *out, size_t columns);
void lpk_decode_q6_k(const void *row, float *out, size_t columns);

/// LayerPack int8 row record (`columns / group` f16 scales, then one signed byte per value) · x.
float lpk_dot_i8_groups(const void *record, const float *x, size_t columns, size_t group);

/// LayerPack int4 row record (`columns / group` f16 scales, then two values per byte: even column in the low
/// nibble, stored as value + 8) · x.
float lpk_dot_i4_groups(const void *record, const float *x, size_t columns, size_t group);

/// LayerPack int2 row record (`columns / group` f16 scales, then four values per byte: column 4i + k in bits
/// 2k…2k+1 of byte i, stored as value + 2) · x.
float lpk_dot_i2_groups(const void *record, const float *x, size_t columns, size_t group);

/// Decodes a LayerPack int8 / int4 / int2 row record (layouts as above) into `columns` floats.
void lpk_decode_i8_groups(const void *record, float *out, size_t columns, size_t group);
void lpk_decode_i4_groups(const void *record, float *out, size_t columns, size_t group);
void lpk_decode_i2_groups(const void *record, float *out, size_t columns, size_t group);
/// lpk_decode_i8_groups (`bits` 8) or lpk_decode_i4_groups (4) of `record`, asking meanwhile for the `next_bytes` at
/// `next` (the record a lookup reads next) into the caches, a slice of lines per slice of groups decoded: spread over
/// the decoding, the requests do not queue up behind each other as a burst does (a random 7.7 KB record: ~1.4 → ~1.0 µs).
void lpk_decode_groups_fetching(int bits, const void *record, float *out, size_t columns, size_t group, const void *next,
                                size_t next_bytes);
/// One thread's share of a batch of table lookups: record rows[i] of `table` (records of `record_bytes`, int8 when `bits`
/// is 8, int4 when 4) decoded into out + i·columns for i < count, each by lpk_decode_groups_fetching with the next
/// record of the share.
void lpk_decode_rows_fetching(int bits, const void *table, size_t record_bytes, const ptrdiff_t *rows, size_t count,
                              float *out, size_t columns, size_t group);

/// Widen a row of `columns` little-endian bfloat16 or IEEE half values to floats (exactly: NaN payloads kept).
void lpk_decode_bf16(const void *row, float *out, size_t columns);
void lpk_decode_f16(const void *row, float *out, size_t columns);
/// Σ row[i]·x[i] over a row of `columns` bfloat16 or IEEE half values, widened on the fly and summed as lpk_dot_f32
/// sums the widened row (the same float to the bit as lpk_decode_bf16/f16 then lpk_dot_f32).
float lpk_dot_bf16(const void *row, const float *x, size_t columns);
float lpk_dot_f16(const void *row, const float *x, size_t columns);

/// 1 when the AVX2/FMA/F16C versions are in use; 1 when the AVX-512 ones are too.
int lpk_dot_uses_avx2(void);
int lpk_dot_uses_avx512(void);

/// The int8/int4 row kernels (`bits` 8 or 4) by one version, 0 portable, 1 AVX2, 2 AVX-512, for tests that hold the
/// versions to one another: writes the record's dot product with `x` to `*dot` and the decoded row to `out`.
/// Returns 0, computing nothing, when this CPU or build lacks the version or the group size does not suit it.
int lpk_row_kernels_version(int version, int bits, const void *record, const float *x, size_t columns, size_t group,
                            float *dot, float *out);

/// The ggml Q8_0 (`type` 0), Q5_0 (1), Q4_0 (2), Q4_K (3) and Q6_K (4) dot products by one version, as
/// lpk_row_kernels_version: writes the row's dot product with `x` to `*dot`; returns 0 when this CPU or build lacks the
/// version.
int lpk_block_dot_version(int version, int type, const void *row, const float *x, size_t columns, float *dot);

/// Asks the CPU to bring the `bytes` bytes at `p` into its outer caches (a prefetch per 64-byte line, to L2 and
/// below: asking for L1 stalls once its few fill buffers are busy; no fault, no effect on results), so that reading
/// them later does not wait on memory.
void lpk_prefetch(const void *p, size_t bytes);

/// The row encodings lpk_dot_rows multiplies in place.
typedef enum {
    LPK_ROWS_Q8_0, LPK_ROWS_Q5_0, LPK_ROWS_Q4_0, LPK_ROWS_Q4_K, LPK_ROWS_Q6_K, LPK_ROWS_BF16, LPK_ROWS_F16,
    LPK_ROWS_I8, LPK_ROWS_I4, LPK_ROWS_I2
} lpk_row_kind;

/// out[t · out_stride + r] = row r · x[t] (x[t] = x + t · columns) for the `rows` records of `record_bytes` at `records`
/// and `count` inputs, each row by the kind's lpk_dot_* function (`group`: the int8/int4/int2 records' group length),
/// asking for the record `ahead` rows on as each row starts (while that record lies among the `rows`): one call per
/// piece of a product instead of one per row. With AVX-512, int8 and int4 records and ggml's Q8_0, Q5_0, Q4_0, Q4_K
/// and Q6_K rows go four at a time, their lanes summed together (the same floats as one row at a time), and int4
/// records (groups a multiple of 32) are multiplied against each input split once into its even- and odd-numbered
/// values, the order of a byte's two nibbles, so that the levels need no interleaving: the same products as
/// lpk_dot_i4_groups, summed in other lanes (within rounding).
void lpk_dot_rows(lpk_row_kind kind, const void *records, size_t record_bytes, size_t rows, const float *x, size_t count,
                  size_t columns, size_t group, size_t ahead, float *out, size_t out_stride);

#endif
