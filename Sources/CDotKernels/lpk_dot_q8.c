// See include/lpk_dot_q8.h.
#include "lpk_dot_q8.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

/// Where a quantized input's parts lie: its levels, then a scale per 32 levels, then the −128-weighted sum of each
/// four levels.
typedef struct {
    const int8_t *levels;
    const float *scales;
    const int32_t *offsets;
} q8_input;

static q8_input q8_input_at(const void *inputs, size_t columns, size_t t) {
    const uint8_t *base = (const uint8_t *)inputs + t * lpk_q8_input_bytes(columns);
    const float *scales = (const float *)(base + columns);
    return (q8_input){(const int8_t *)base, scales, (const int32_t *)(scales + columns / 32)};
}

size_t lpk_q8_input_bytes(size_t columns) { return columns + columns / 32 * sizeof(float) + columns / 4 * sizeof(int32_t); }

void lpk_q8_quantize(const float *x, size_t columns, void *out) {
    int8_t *levels = out;
    float *scales = (float *)(levels + columns);
    int32_t *offsets = (int32_t *)(scales + columns / 32);
    for (size_t block = 0; block < columns; block += 32) {
        float amax = 0;
        for (size_t j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[block + j]));
        scales[block / 32] = (float)(_Float16)(amax / 127.f);
        const float id = amax != 0 ? 127.f / amax : 0;
        for (size_t j = 0; j < 32; j++) levels[block + j] = (int8_t)nearbyintf(x[block + j] * id);
    }
    for (size_t i = 0; i < columns / 4; i++)
        offsets[i] = -128 * (levels[4 * i] + levels[4 * i + 1] + levels[4 * i + 2] + levels[4 * i + 3]);
}

int lpk_q8_takes(lpk_row_kind kind, size_t columns, size_t group) {
    return columns % 32 == 0 && (kind == LPK_ROWS_Q8_0 || (kind == LPK_ROWS_I8 && group == 32));
}

static float f16_at(const uint8_t *p) {
    _Float16 h;
    memcpy(&h, p, 2);
    return (float)h;
}

/// Block `b`'s 32 weight levels and its scale, in a Q8_0 row (blocks of an f16 scale and 32 levels) or an int8
/// record (every group's f16 scale, then every level).
static const int8_t *weight_block(lpk_row_kind kind, const uint8_t *record, size_t columns, size_t b, float *scale) {
    if (kind == LPK_ROWS_Q8_0) {
        *scale = f16_at(record + 34 * b);
        return (const int8_t *)(record + 34 * b + 2);
    }
    *scale = f16_at(record + 2 * b);
    return (const int8_t *)(record + 2 * (columns / 32) + 32 * b);
}

static float q8_row_dot_portable(lpk_row_kind kind, const uint8_t *record, q8_input x, size_t columns) {
    float total = 0;
    for (size_t b = 0; b < columns / 32; b++) {
        float scale;
        const int8_t *w = weight_block(kind, record, columns, b, &scale);
        int32_t sum = 0;
        for (size_t j = 0; j < 32; j++) sum += w[j] * x.levels[32 * b + j];
        total += (float)sum * (scale * x.scales[b]);
    }
    return total;
}

static void q8_dot_rows_portable(lpk_row_kind kind, const uint8_t *records, size_t record_bytes, size_t rows, const void *inputs,
                                 size_t count, size_t columns, size_t ahead, float *out, size_t out_stride) {
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *record = records + r * record_bytes;
        if (r + ahead < rows) lpk_prefetch(record + ahead * record_bytes, record_bytes);
        for (size_t t = 0; t < count; t++) out[t * out_stride + r] = q8_row_dot_portable(kind, record, q8_input_at(inputs, columns, t), columns);
    }
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "lpk_vector_sum.h"
/// Blocks of a Q8_0 row whose scales the VNNI kernel copies together (rows up to 16,384 values; longer ones go the
/// portable way).
#define LPK_Q8_SCALE_COPY 512
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c")))

int lpk_q8_uses_vnni(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c");
    }
    return cached;
}

/// Blocks `first` to `first + count` (count ≤ 16) of a row's scales (f16, consecutive at `halves`) times the input's,
/// as sixteen floats.
VNNI static inline __attribute__((always_inline)) __m512 q8_block_scales(const uint8_t *halves, q8_input x, size_t first, size_t count) {
    const __mmask16 present = (__mmask16)((1u << count) - 1);
    return _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(present, halves + 2 * first)),
                         _mm512_maskz_loadu_ps(present, x.scales + first));
}

/// The 64 weight levels of blocks 2j and 2j + 1, offset to unsigned (+128).
VNNI static inline __attribute__((always_inline)) __m512i q8_weight_pair(lpk_row_kind kind, const uint8_t *record, size_t columns, size_t pair) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    if (kind == LPK_ROWS_Q8_0) {
        const uint8_t *block = record + 68 * pair;
        const __m256i first = _mm256_loadu_si256((const __m256i *)(block + 2)), second = _mm256_loadu_si256((const __m256i *)(block + 36));
        return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(first), second, 1), flip);
    }
    return _mm512_xor_si512(_mm512_loadu_si512(record + 2 * (columns / 32) + 64 * pair), flip);
}

/// The dot products of `rows` (1 to 4) rows, `record_bytes` apart, with an input, as sixteen lanes each still to be
/// summed: per pair of blocks, each lane's four products summed in integers by one vpdpbusd (the weights offset to
/// unsigned, the offset taken back by starting from the input's −128-weighted sums), converted and multiplied by its
/// block's two scales. The input's levels and sums are loaded once for all the rows.
VNNI static inline __attribute__((always_inline)) void q8_row_totals(lpk_row_kind kind, const uint8_t *record, size_t record_bytes, size_t rows,
                                                                     q8_input x, size_t columns, __m512 *totals) {
    const size_t blocks = columns / 32;
    // A Q8_0 row's f16 scales lie 34 bytes apart: copied together first, for every block of the rows, so that the
    // copies have left the store buffer by the time they are loaded as vectors.
    uint16_t copied[4][LPK_Q8_SCALE_COPY];
    const uint8_t *halves[4];
    for (size_t k = 0; k < rows; k++) {
        if (kind == LPK_ROWS_Q8_0) {
            for (size_t b = 0; b < blocks; b++) memcpy(&copied[k][b], record + k * record_bytes + 34 * b, 2);
            halves[k] = (const uint8_t *)copied[k];
        } else {
            halves[k] = record + k * record_bytes;
        }
    }
    for (size_t k = 0; k < rows; k++) totals[k] = _mm512_setzero_ps();
    for (size_t first = 0; first < blocks; first += 16) {
        const size_t count = blocks - first < 16 ? blocks - first : 16;
        __m512 scales[4];
        for (size_t k = 0; k < rows; k++) scales[k] = q8_block_scales(halves[k], x, first, count);
        for (size_t j = 0; j < count; j += 2) {
            const size_t pair = (first + j) / 2;
            const __m512i levels = _mm512_loadu_si512(x.levels + 64 * pair), offsets = _mm512_loadu_si512(x.offsets + 16 * pair);
            const __m512i which = _mm512_add_epi32(_mm512_set1_epi32((int)j), _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
            for (size_t k = 0; k < rows; k++) {
                const __m512i sums = _mm512_dpbusd_epi32(offsets, q8_weight_pair(kind, record + k * record_bytes, columns, pair), levels);
                totals[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_permutexvar_ps(which, scales[k]), totals[k]);
            }
        }
    }
}

/// lpk_q8_dot_rows with VNNI for `kind` (a constant once inlined), blocks in pairs: four rows at a time, their lanes
/// summed together.
VNNI static inline __attribute__((always_inline)) void q8_dot_rows_vnni(lpk_row_kind kind, const uint8_t *records, size_t record_bytes,
                                                                        size_t rows, const void *inputs, size_t count, size_t columns,
                                                                        size_t ahead, float *out, size_t out_stride) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const uint8_t *record = records + r * record_bytes;
        for (size_t k = 0; k < 4; k++)
            if (r + k + ahead < rows) lpk_prefetch(record + (k + ahead) * record_bytes, record_bytes);
        for (size_t t = 0; t < count; t++) {
            const q8_input x = q8_input_at(inputs, columns, t);
            __m512 totals[4];
            q8_row_totals(kind, record, record_bytes, 4, x, columns, totals);
            _mm_storeu_ps(out + t * out_stride + r, lane_sums4_avx512(totals[0], totals[1], totals[2], totals[3]));
        }
    }
    for (; r < rows; r++) {
        const uint8_t *record = records + r * record_bytes;
        if (r + ahead < rows) lpk_prefetch(record + ahead * record_bytes, record_bytes);
        for (size_t t = 0; t < count; t++) {
            __m512 total;
            q8_row_totals(kind, record, record_bytes, 1, q8_input_at(inputs, columns, t), columns, &total);
            out[t * out_stride + r] = sum_512(total);
        }
    }
}

VNNI static void q8_dot_rows_q8_0_vnni(const uint8_t *records, size_t record_bytes, size_t rows, const void *inputs, size_t count,
                                       size_t columns, size_t ahead, float *out, size_t out_stride) {
    q8_dot_rows_vnni(LPK_ROWS_Q8_0, records, record_bytes, rows, inputs, count, columns, ahead, out, out_stride);
}

VNNI static void q8_dot_rows_i8_vnni(const uint8_t *records, size_t record_bytes, size_t rows, const void *inputs, size_t count,
                                     size_t columns, size_t ahead, float *out, size_t out_stride) {
    q8_dot_rows_vnni(LPK_ROWS_I8, records, record_bytes, rows, inputs, count, columns, ahead, out, out_stride);
}
#else
int lpk_q8_uses_vnni(void) { return 0; }
#endif

void lpk_q8_dot_rows(lpk_row_kind kind, const void *records, size_t record_bytes, size_t rows, const void *inputs, size_t count,
                     size_t columns, size_t group, size_t ahead, float *out, size_t out_stride) {
    (void)group;
#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    // Blocks go in pairs (64 levels to a register): an odd number of blocks takes the portable loop.
    if (lpk_q8_uses_vnni() && (columns / 32) % 2 == 0 && columns / 32 <= LPK_Q8_SCALE_COPY) {
        if (kind == LPK_ROWS_Q8_0) q8_dot_rows_q8_0_vnni(records, record_bytes, rows, inputs, count, columns, ahead, out, out_stride);
        else q8_dot_rows_i8_vnni(records, record_bytes, rows, inputs, count, columns, ahead, out, out_stride);
        return;
    }
#endif
    q8_dot_rows_portable(kind, records, record_bytes, rows, inputs, count, columns, ahead, out, out_stride);
}
