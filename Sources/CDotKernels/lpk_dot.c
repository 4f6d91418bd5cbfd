// See include/lpk_dot.h. Each kernel has a portable version and, on x86-64, AVX2/FMA/F16C and (for most) AVX-512
// versions, each compiled for its target alone; lpk_dot_uses_avx2 and lpk_dot_uses_avx512 decide once which one runs.
// LPK_PORTABLE_ONLY leaves the portable versions alone (what arm64 builds; Scripts/check_portable_c.sh).
#include "lpk_dot.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float half_to_float(uint16_t h) {
    uint32_t magnitude = (uint32_t)(h & 0x7FFF) << 13;
    uint32_t exponent = magnitude & (0x7C00u << 13);
    magnitude += (127u - 15u) << 23;
    if (exponent == (0x7C00u << 13)) {
        magnitude += (128u - 16u) << 23;
    } else if (exponent == 0) {
        float f, magic;
        uint32_t m = 113u << 23;
        magnitude += 1u << 23;
        memcpy(&f, &magnitude, 4);
        memcpy(&magic, &m, 4);
        f -= magic;
        memcpy(&magnitude, &f, 4);
    }
    magnitude |= (uint32_t)(h & 0x8000) << 16;
    float out;
    memcpy(&out, &magnitude, 4);
    return out;
}

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static float f32_at(const uint8_t *p) {
    float value;
    memcpy(&value, p, 4);
    return value;
}
static float bf16_at(const uint8_t *p) {
    const uint32_t bits = (uint32_t)load_u16(p) << 16;
    float value;
    memcpy(&value, &bits, 4);
    return value;
}
static float f16_at(const uint8_t *p) { return half_to_float(load_u16(p)); }

/// Defines NAME(row, x, n): a row of n floats stored in ELEMENT_BYTES each (AT widens the one at an address) times x,
/// in eight interleaved sums. f32, bf16 and f16 rows share it, so a 16-bit row multiplied in place sums exactly as
/// the same row decoded to f32 and multiplied does: the same float to the bit.
#define ROW_DOT_PORTABLE(NAME, ELEMENT_BYTES, AT) \
    static float NAME(const void *row, const float *x, size_t n) { \
        const uint8_t *bytes = row; \
        float s[8] = {0}; \
        size_t i = 0; \
        for (; i + 8 <= n; i += 8) \
            for (int k = 0; k < 8; k++) s[k] += AT(bytes + (ELEMENT_BYTES) * (i + k)) * x[i + k]; \
        float sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
        for (; i < n; i++) sum += AT(bytes + (ELEMENT_BYTES) * i) * x[i]; \
        return sum; \
    }

ROW_DOT_PORTABLE(dot_f32_portable, 4, f32_at)
ROW_DOT_PORTABLE(dot_bf16_portable, 2, bf16_at)
ROW_DOT_PORTABLE(dot_f16_portable, 2, f16_at)

static float dot_q8_0_portable(const void *row, const float *x, size_t columns) {
    const uint8_t *p = row;
    float total = 0;
    for (size_t b = 0; b < columns / 32; b++, p += 34, x += 32) {
        const int8_t *q = (const int8_t *)(p + 2);
        float sum = 0;
        for (int i = 0; i < 32; i++) sum += (float)q[i] * x[i];
        total += sum * half_to_float(load_u16(p));
    }
    return total;
}

static float dot_i8_groups_portable(const void *record, const float *x, size_t columns, size_t group) {
    const uint8_t *scales = record;
    const int8_t *q = (const int8_t *)(scales + 2 * (columns / group));
    float total = 0;
    for (size_t g = 0; g < columns / group; g++) {
        float sum = 0;
        for (size_t i = g * group; i < (g + 1) * group; i++) sum += (float)q[i] * x[i];
        total += sum * half_to_float(load_u16(scales + 2 * g));
    }
    return total;
}

static float dot_i4_groups_portable(const void *record, const float *x, size_t columns, size_t group) {
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    float total = 0;
    for (size_t g = 0; g < columns / group; g++) {
        float sum = 0;
        for (size_t i = g * group; i < (g + 1) * group; i += 2) {
            uint8_t byte = q[i / 2];
            sum += (float)((int)(byte & 0xF) - 8) * x[i] + (float)((int)(byte >> 4) - 8) * x[i + 1];
        }
        total += sum * half_to_float(load_u16(scales + 2 * g));
    }
    return total;
}

/// int2 records: four values per byte, element 4i + k in bits 2k…2k+1 of byte i, stored as value + 2. The group's
/// four levels are multiplied by its scale once, so each value costs one table lookup; written so that compilers
/// vectorize the inner loop.
static float dot_i2_groups_portable(const void *record, const float *x, size_t columns, size_t group) {
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    float total = 0;
    for (size_t g = 0; g < columns / group; g++) {
        float sum = 0;
        for (size_t i = g * group; i < (g + 1) * group; i += 4) {
            uint8_t byte = q[i / 4];
            sum += (float)((int)(byte & 3) - 2) * x[i] + (float)((int)((byte >> 2) & 3) - 2) * x[i + 1]
                 + (float)((int)((byte >> 4) & 3) - 2) * x[i + 2] + (float)((int)(byte >> 6) - 2) * x[i + 3];
        }
        total += sum * half_to_float(load_u16(scales + 2 * g));
    }
    return total;
}

static void decode_i2_groups_portable(const void *record, float *out, size_t columns, size_t group) {
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    for (size_t g = 0; g < columns / group; g++) {
        const float scale = half_to_float(load_u16(scales + 2 * g));
        const float level[4] = {-2 * scale, -scale, 0, scale};
        for (size_t i = g * group; i < (g + 1) * group; i += 4) {
            const uint8_t byte = q[i / 4];
            out[i] = level[byte & 3];
            out[i + 1] = level[(byte >> 2) & 3];
            out[i + 2] = level[(byte >> 4) & 3];
            out[i + 3] = level[byte >> 6];
        }
    }
}


// ggml block decoders (the layouts of ggml-quants.c; GGUFFormat's Swift dequantizers are the reference in tests).

/// Q5_0: f16 d, 4 bytes of fifth bits, 16 bytes of nibbles; x = (q − 16)·d.
static inline __attribute__((always_inline)) void block_q5_0(const uint8_t *b, float *y) {
    float d = half_to_float(load_u16(b));
    uint32_t high = (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24;
    for (int j = 0; j < 16; j++) {
        int q0 = (b[6 + j] & 0xF) | (int)((high >> j) & 1) << 4;
        int q1 = (b[6 + j] >> 4) | (int)((high >> (j + 16)) & 1) << 4;
        y[j] = (float)(q0 - 16) * d;
        y[j + 16] = (float)(q1 - 16) * d;
    }
}

/// The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block.
static inline __attribute__((always_inline)) void scale_min_k4(int j, const uint8_t *q, uint8_t *scale, uint8_t *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/// Q4_K: f16 d, f16 dmin, 12 bytes of scales/mins, 128 bytes of nibbles; x = d·sc·q − dmin·m.
static inline __attribute__((always_inline)) void block_q4_k(const uint8_t *b, float *y) {
    float d = half_to_float(load_u16(b)), dmin = half_to_float(load_u16(b + 2));
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int group = 0; group < 4; group++, q += 32, y += 64) {
        uint8_t sc1, m1, sc2, m2;
        scale_min_k4(2 * group, scales, &sc1, &m1);
        scale_min_k4(2 * group + 1, scales, &sc2, &m2);
        float d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2;
        for (int l = 0; l < 32; l++) y[l] = d1 * (float)(q[l] & 0xF) - min1;
        for (int l = 0; l < 32; l++) y[32 + l] = d2 * (float)(q[l] >> 4) - min2;
    }
}

/// Q6_K: 128 bytes of low 4 bits, 64 bytes of high 2 bits, 16 signed scales, f16 d; x = d·sc·(q − 32).
static inline __attribute__((always_inline)) void block_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = half_to_float(load_u16(b + 208));
    for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int)((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
            int q2 = (int)((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
            int q3 = (int)((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            int q4 = (int)((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            y[l] = d * sc[is] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
    }
}

/// Defines NAME(row, x, columns) = Σ over blocks of DECODE(block) · x, with DOT the dot product to use.
#define BLOCK_DOT(NAME, ATTRIBUTES, DECODE, BLOCK_BYTES, BLOCK_LENGTH, DOT) \
    ATTRIBUTES static float NAME(const void *row, const float *x, size_t columns) { \
        const uint8_t *p = row; \
        float buffer[BLOCK_LENGTH]; \
        float total = 0; \
        for (size_t i = 0; i < columns; i += BLOCK_LENGTH, p += BLOCK_BYTES) { \
            DECODE(p, buffer); \
            total += DOT(buffer, x + i, BLOCK_LENGTH); \
        } \
        return total; \
    }

/// Defines NAME(row, out, columns): every block of the row through DECODE.
#define BLOCK_DECODE(NAME, DECODE, BLOCK_BYTES, BLOCK_LENGTH) \
    static void NAME(const void *row, float *out, size_t columns) { \
        const uint8_t *p = row; \
        for (size_t i = 0; i < columns; i += BLOCK_LENGTH, p += BLOCK_BYTES) DECODE(p, out + i); \
    }

/// Q4_0: f16 d, then 16 bytes whose low nibbles are values 0–15 and high nibbles values 16–31, each q − 8.
static inline __attribute__((always_inline)) void block_q4_0(const uint8_t *b, float *y) {
    const float d = half_to_float(load_u16(b));
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((int)(b[2 + j] & 0xF) - 8) * d;
        y[j + 16] = (float)((int)(b[2 + j] >> 4) - 8) * d;
    }
}

static inline __attribute__((always_inline)) void block_q8_0(const uint8_t *b, float *y) {
    const float d = half_to_float(load_u16(b));
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

BLOCK_DECODE(decode_q8_0_portable, block_q8_0, 34, 32)
BLOCK_DECODE(decode_q5_0_portable, block_q5_0, 22, 32)
BLOCK_DECODE(decode_q4_0_portable, block_q4_0, 18, 32)
BLOCK_DECODE(decode_q4_k_portable, block_q4_k, 144, 256)
BLOCK_DECODE(decode_q6_k_portable, block_q6_k, 210, 256)


BLOCK_DOT(dot_q5_0_portable, , block_q5_0, 22, 32, dot_f32_portable)
BLOCK_DOT(dot_q4_0_portable, , block_q4_0, 18, 32, dot_f32_portable)
BLOCK_DOT(dot_q4_k_portable, , block_q4_k, 144, 256, dot_f32_portable)
BLOCK_DOT(dot_q6_k_portable, , block_q6_k, 210, 256, dot_f32_portable)

// The int8/int4 decoders decode groups [first, end) of a record of `columns` values.
static void decode_i8_groups_portable(const void *record, float *out, size_t columns, size_t group, size_t first, size_t end) {
    const uint8_t *scales = record;
    const int8_t *q = (const int8_t *)(scales + 2 * (columns / group));
    for (size_t g = first; g < end; g++) {
        float scale = half_to_float(load_u16(scales + 2 * g));
        for (size_t i = g * group; i < (g + 1) * group; i++) out[i] = (float)q[i] * scale;
    }
}

static void decode_i4_groups_portable(const void *record, float *out, size_t columns, size_t group, size_t first, size_t end) {
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    for (size_t g = first; g < end; g++) {
        float scale = half_to_float(load_u16(scales + 2 * g));
        for (size_t i = g * group; i < (g + 1) * group; i += 2) {
            out[i] = (float)((int)(q[i / 2] & 0xF) - 8) * scale;
            out[i + 1] = (float)((int)(q[i / 2] >> 4) - 8) * scale;
        }
    }
}

static void decode_bf16_portable(const void *row, float *out, size_t columns) {
    const uint8_t *bytes = row;
    for (size_t i = 0; i < columns; i++) out[i] = bf16_at(bytes + 2 * i);
}

static void decode_f16_portable(const void *row, float *out, size_t columns) {
    const uint8_t *bytes = row;
    for (size_t i = 0; i < columns; i++) out[i] = f16_at(bytes + 2 * i);
}

void lpk_prefetch(const void *p, size_t bytes) {
    const char *line = p;
    for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(line + i, 0, 1);
}

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "lpk_vector_sum.h"
#define AVX2 __attribute__((target("avx2,fma,f16c")))


AVX2 static __m256 f32x8(const uint8_t *p) { return _mm256_loadu_ps((const float *)p); }
AVX2 static __m256 bf16x8(const uint8_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
AVX2 static __m256 f16x8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/// ROW_DOT_PORTABLE eight floats to a register (LOAD8 widens eight at an address), in four running sums.
#define ROW_DOT_AVX2(NAME, ELEMENT_BYTES, LOAD8, AT) \
    AVX2 static float NAME(const void *row, const float *x, size_t n) { \
        const uint8_t *b = row; \
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps(); \
        size_t i = 0; \
        for (; i + 32 <= n; i += 32) { \
            s0 = _mm256_fmadd_ps(LOAD8(b + (ELEMENT_BYTES) * i), _mm256_loadu_ps(x + i), s0); \
            s1 = _mm256_fmadd_ps(LOAD8(b + (ELEMENT_BYTES) * (i + 8)), _mm256_loadu_ps(x + i + 8), s1); \
            s2 = _mm256_fmadd_ps(LOAD8(b + (ELEMENT_BYTES) * (i + 16)), _mm256_loadu_ps(x + i + 16), s2); \
            s3 = _mm256_fmadd_ps(LOAD8(b + (ELEMENT_BYTES) * (i + 24)), _mm256_loadu_ps(x + i + 24), s3); \
        } \
        for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(LOAD8(b + (ELEMENT_BYTES) * i), _mm256_loadu_ps(x + i), s0); \
        float sum = sum_256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))); \
        for (; i < n; i++) sum += AT(b + (ELEMENT_BYTES) * i) * x[i]; \
        return sum; \
    }

ROW_DOT_AVX2(dot_f32_avx2, 4, f32x8, f32_at)
ROW_DOT_AVX2(dot_bf16_avx2, 2, bf16x8, bf16_at)
ROW_DOT_AVX2(dot_f16_avx2, 2, f16x8, f16_at)

/// 8 signed bytes at p, widened to floats.
AVX2 static __m256 bytes_to_floats(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

/// Σ q[i]·x[i] over 32 signed bytes and 32 floats.
AVX2 static __m256 bytes32_dot_256(__m256i q, const float *x) {
    const __m128i low = _mm256_castsi256_si128(q), high = _mm256_extracti128_si256(q, 1);
    __m256 even = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low)), _mm256_loadu_ps(x));
    __m256 odd = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(low, 8))), _mm256_loadu_ps(x + 8));
    even = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(high)), _mm256_loadu_ps(x + 16), even);
    odd = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(high, 8))), _mm256_loadu_ps(x + 24), odd);
    return _mm256_add_ps(even, odd);
}

// Four FMA chains per group: with per-row scales a group is the whole row, and one chain would wait on itself.
AVX2 static float dot_i8_groups_avx2(const void *record, const float *x, size_t columns, size_t group) {
    if (group % 8 != 0) return dot_i8_groups_portable(record, x, columns, group);
    const uint8_t *scales = record;
    const int8_t *q = (const int8_t *)(scales + 2 * (columns / group));
    __m256 total = _mm256_setzero_ps();
    for (size_t g = 0; g < columns / group; g++) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t i = g * group, end = i + group;
        for (; i + 32 <= end; i += 32) {
            s0 = _mm256_fmadd_ps(bytes_to_floats(q + i), _mm256_loadu_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(bytes_to_floats(q + i + 8), _mm256_loadu_ps(x + i + 8), s1);
            s2 = _mm256_fmadd_ps(bytes_to_floats(q + i + 16), _mm256_loadu_ps(x + i + 16), s2);
            s3 = _mm256_fmadd_ps(bytes_to_floats(q + i + 24), _mm256_loadu_ps(x + i + 24), s3);
        }
        for (; i < end; i += 8) s0 = _mm256_fmadd_ps(bytes_to_floats(q + i), _mm256_loadu_ps(x + i), s0);
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        total = _mm256_fmadd_ps(sum, _mm256_set1_ps(_cvtsh_ss(load_u16(scales + 2 * g))), total);
    }
    return sum_256(total);
}

/// 16 packed nibbles (value + 8, even column low) as 16 signed bytes in column order.
AVX2 static __m128i nibbles_to_bytes(__m128i packed, int upper) {
    const __m128i low_mask = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(packed, low_mask), hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low_mask);
    return _mm_sub_epi8(upper ? _mm_unpackhi_epi8(lo, hi) : _mm_unpacklo_epi8(lo, hi), _mm_set1_epi8(8));
}

AVX2 static float dot_i4_groups_avx2(const void *record, const float *x, size_t columns, size_t group) {
    if (group % 16 != 0) return dot_i4_groups_portable(record, x, columns, group);
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    __m256 total = _mm256_setzero_ps();
    for (size_t g = 0; g < columns / group; g++) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t i = g * group, end = i + group;
        for (; i + 32 <= end; i += 32) {
            const __m128i packed = _mm_loadu_si128((const __m128i *)(q + i / 2));
            const __m128i first = nibbles_to_bytes(packed, 0), second = nibbles_to_bytes(packed, 1);
            s0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(first)), _mm256_loadu_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(first, 8))), _mm256_loadu_ps(x + i + 8), s1);
            s2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(second)), _mm256_loadu_ps(x + i + 16), s2);
            s3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(second, 8))), _mm256_loadu_ps(x + i + 24), s3);
        }
        if (i < end) {
            const __m128i values = nibbles_to_bytes(_mm_loadl_epi64((const __m128i *)(q + i / 2)), 0);
            s0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(values)), _mm256_loadu_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(values, 8))), _mm256_loadu_ps(x + i + 8), s1);
        }
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        total = _mm256_fmadd_ps(sum, _mm256_set1_ps(_cvtsh_ss(load_u16(scales + 2 * g))), total);
    }
    return sum_256(total);
}

/// The 32 values of a Q5_0 block as signed bytes q − 16, in value order (low nibbles of bytes 0–15, then their high
/// nibbles; the fifth bit of value j is bit j of the 32-bit word after the scale).
AVX2 static __m256i q5_0_values(const uint8_t *b) {
    uint32_t fifth;
    memcpy(&fifth, b + 2, 4);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    __m256i high = _mm256_shuffle_epi8(_mm256_set1_epi32((int)fifth), spread);
    high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(high, bit), bit), _mm256_set1_epi8(0x10));
    const __m128i packed = _mm_loadu_si128((const __m128i *)(b + 6)), low_mask = _mm_set1_epi8(0x0F);
    const __m256i nibbles = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low_mask), _mm_and_si128(packed, low_mask));
    return _mm256_sub_epi8(_mm256_or_si256(nibbles, high), _mm256_set1_epi8(16));
}

/// Q8_0's 32 values: the signed bytes after the f16 scale.
AVX2 static __m256i q8_0_values(const uint8_t *b) { return _mm256_loadu_si256((const __m256i *)(b + 2)); }

/// A block's f16 scale d (its first two bytes) as f32, broadcast to every lane of a W-bit register.
#define BLOCK_SCALE(W, block) _mm##W##_set1_ps(_cvtsh_ss(load_u16(block)))

/// Defines NAME(row, x, columns) for blocks of 32 values that start with their f16 scale d: Σ d·BLOCK_DOT(block, x),
/// with two running totals (even and odd blocks) so that consecutive blocks do not wait on one accumulator, and
/// TOTAL(row, x, columns, group), those totals' lanes before the final sum (`group` unused: the shape that
/// rows_by_four_avx512 takes). Each block's scale is widened as the block is reached (a load and a conversion beside
/// the block's own work; gathering sixteen scales through memory first cost a quarter of a short row's time). W is the
/// register width (256: AVX2, 512: AVX-512), TARGET its function attribute.
#define SCALED_BLOCK_DOT(NAME, TOTAL, TARGET, W, BLOCK_DOT, BLOCK_BYTES) \
    TARGET static inline __attribute__((always_inline)) __m##W TOTAL(const void *row, const float *x, size_t columns, size_t group) { \
        (void)group; \
        const uint8_t *p = row; \
        const size_t blocks = columns / 32; \
        __m##W total0 = _mm##W##_setzero_ps(), total1 = _mm##W##_setzero_ps(); \
        size_t k = 0; \
        for (; k + 2 <= blocks; k += 2) { \
            const uint8_t *block = p + k * (BLOCK_BYTES); \
            const float *xb = x + k * 32; \
            total0 = _mm##W##_fmadd_ps(BLOCK_DOT(block, xb), BLOCK_SCALE(W, block), total0); \
            total1 = _mm##W##_fmadd_ps(BLOCK_DOT(block + (BLOCK_BYTES), xb + 32), BLOCK_SCALE(W, block + (BLOCK_BYTES)), total1); \
        } \
        if (k < blocks) { \
            const uint8_t *block = p + k * (BLOCK_BYTES); \
            total0 = _mm##W##_fmadd_ps(BLOCK_DOT(block, x + k * 32), BLOCK_SCALE(W, block), total0); \
        } \
        return _mm##W##_add_ps(total0, total1); \
    } \
    TARGET static float NAME(const void *row, const float *x, size_t columns) { return sum_##W(TOTAL(row, x, columns, 0)); }

/// The 32 values of a Q4_0 block as signed bytes q − 8, in value order (low nibbles, then high nibbles).
AVX2 static __m256i q4_0_values(const uint8_t *b) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)(b + 2)), low_mask = _mm_set1_epi8(0x0F);
    const __m256i both = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low_mask), _mm_and_si128(packed, low_mask));
    return _mm256_sub_epi8(both, _mm256_set1_epi8(8));
}

/// One block's Σ q·x (before its scale), eight lanes wide, for each type.
AVX2 static inline __m256 q8_0_dot_256(const uint8_t *b, const float *x) { return bytes32_dot_256(q8_0_values(b), x); }
AVX2 static inline __m256 q5_0_dot_256(const uint8_t *b, const float *x) { return bytes32_dot_256(q5_0_values(b), x); }
AVX2 static inline __m256 q4_0_dot_256(const uint8_t *b, const float *x) { return bytes32_dot_256(q4_0_values(b), x); }

SCALED_BLOCK_DOT(dot_q8_0_avx2, q8_0_total_avx2, AVX2, 256, q8_0_dot_256, 34)
SCALED_BLOCK_DOT(dot_q5_0_avx2, q5_0_total_avx2, AVX2, 256, q5_0_dot_256, 22)
SCALED_BLOCK_DOT(dot_q4_0_avx2, q4_0_total_avx2, AVX2, 256, q4_0_dot_256, 18)

/// Defines NAME(row, out, columns) for blocks of 32 values that start with their f16 scale d: d · VALUES(block), the
/// same products the portable decoders take one at a time.
#define SCALED_BLOCK_DECODE(NAME, VALUES, BLOCK_BYTES) \
    AVX2 static void NAME(const void *row, float *out, size_t columns) { \
        const uint8_t *p = row; \
        for (size_t i = 0; i < columns; i += 32, p += (BLOCK_BYTES)) { \
            const __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(p))); \
            const __m256i q = VALUES(p); \
            const __m128i low = _mm256_castsi256_si128(q), high = _mm256_extracti128_si256(q, 1); \
            _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low)), d)); \
            _mm256_storeu_ps(out + i + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(low, 8))), d)); \
            _mm256_storeu_ps(out + i + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(high)), d)); \
            _mm256_storeu_ps(out + i + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(high, 8))), d)); \
        } \
    }

SCALED_BLOCK_DECODE(decode_q8_0_avx2, q8_0_values, 34)
SCALED_BLOCK_DECODE(decode_q5_0_avx2, q5_0_values, 22)
SCALED_BLOCK_DECODE(decode_q4_0_avx2, q4_0_values, 18)

/// Σ x[i] over 32 floats, as 8 lanes.
AVX2 static inline __m256 sum32_256(const float *x) {
    return _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8)),
                         _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)));
}

/// Σ q[i]·x[i] over 16 signed bytes and 16 floats, as 8 lanes.
AVX2 static inline __m256 bytes16_times_256(__m128i q, const float *x) {
    __m256 sum = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), _mm256_loadu_ps(x));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), _mm256_loadu_ps(x + 8), sum);
}

/// A Q6_K block's sixteen sub-block scales d·sc as floats.
AVX2 static inline void q6_k_scales_256(const uint8_t *block, float *scales) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(block + 208)));
    _mm256_storeu_ps(scales, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(block + 192))))));
    _mm256_storeu_ps(scales + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(block + 200))))));
}

/// A Q4_K group's two sub-block sums before their scales: Σ q·x over the low nibbles of the 32 bytes at q (values
/// 0–31, against x) and over the high nibbles (values 32–63, against x + 32), eight lanes wide.
AVX2 static inline void q4_k_nibbles_dot_256(const uint8_t *q, const float *x, __m256 *low, __m256 *high) {
    const __m256i packed = _mm256_loadu_si256((const __m256i *)q), low_mask = _mm256_set1_epi8(0x0F);
    *low = bytes32_dot_256(_mm256_and_si256(packed, low_mask), x);
    *high = bytes32_dot_256(_mm256_and_si256(_mm256_srli_epi16(packed, 4), low_mask), x + 32);
}

/// A Q4_K block's eight sub-block scales d·sc_j (into scales[0…7]) and mins dmin·m_j (scales[8…15]) as floats, so that
/// each is broadcast from memory as its sub-block is reached.
AVX2 static inline void q4_k_scales(const uint8_t *block, float *scales) {
    uint8_t levels[16];
    for (int j = 0; j < 8; j++) scale_min_k4(j, block + 4, &levels[j], &levels[8 + j]);
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(block))), dmin = _mm256_set1_ps(_cvtsh_ss(load_u16(block + 2)));
    _mm256_storeu_ps(scales, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)levels)))));
    _mm256_storeu_ps(scales + 8, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(levels + 8))))));
}

/// Σ q·x of a Q4_K row, eight lanes wide: per sub-block j of 32 values, d·sc_j·Σ q·x − dmin·m_j·Σ x, the first terms
/// gathered in one running total and the second in another. The AVX-512 version (q4_k_prepared_total_avx512) takes
/// each Σ x once per input instead; the two differ by float rounding (BlockDotVersionTests).
AVX2 static float dot_q4_k_avx2(const void *row, const float *x, size_t columns) {
    const uint8_t *p = row;
    __m256 total0 = _mm256_setzero_ps(), total1 = _mm256_setzero_ps();
    float scales[16];
    for (size_t b = 0; b < columns / 256; b++, p += 144) {
        q4_k_scales(p, scales);
        const uint8_t *q = p + 16;
        for (int group = 0; group < 4; group++, q += 32, x += 64) {
            __m256 low, high;
            q4_k_nibbles_dot_256(q, x, &low, &high);
            total0 = _mm256_fmadd_ps(low, _mm256_set1_ps(scales[2 * group]), total0);
            total1 = _mm256_fnmadd_ps(sum32_256(x), _mm256_set1_ps(scales[8 + 2 * group]), total1);
            total0 = _mm256_fmadd_ps(high, _mm256_set1_ps(scales[2 * group + 1]), total0);
            total1 = _mm256_fnmadd_ps(sum32_256(x + 32), _mm256_set1_ps(scales[9 + 2 * group]), total1);
        }
    }
    return sum_256(_mm256_add_ps(total0, total1));
}

/// Defines NAME(row, x, columns) and TOTAL (its lanes) for Q6_K rows: per sub-block of 16 values, d·sc·Σ (q − 32)·x,
/// the products of even and odd sub-blocks gathered in two running totals; value l of each quarter of a half takes a
/// nibble of ql and two bits of qh (the layout block_q6_k decodes). W is the register width (256: AVX2,
/// 512: AVX-512), TARGET its function attribute.
#define Q6_K_DOT(NAME, TOTAL, TARGET, W) \
    TARGET static inline __attribute__((always_inline)) __m##W TOTAL(const void *row, const float *x, size_t columns, size_t group) { \
        (void)group; \
        const uint8_t *p = row; \
        const __m256i low_mask = _mm256_set1_epi8(0x0F), two_bits = _mm256_set1_epi8(3), offset = _mm256_set1_epi8(32); \
        __m##W total0 = _mm##W##_setzero_ps(), total1 = _mm##W##_setzero_ps(); \
        float scales[16]; \
        for (size_t b = 0; b < columns / 256; b++, p += 210) { \
            const uint8_t *ql = p, *qh = p + 128; \
            q6_k_scales_##W(p, scales); \
            for (int half = 0; half < 2; half++, ql += 64, qh += 32, x += 128) { \
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32)); \
                const __m256i h = _mm256_loadu_si256((const __m256i *)qh); \
                __m256i quarter[4]; \
                quarter[0] = _mm256_and_si256(l0, low_mask); \
                quarter[1] = _mm256_and_si256(l1, low_mask); \
                quarter[2] = _mm256_and_si256(_mm256_srli_epi16(l0, 4), low_mask); \
                quarter[3] = _mm256_and_si256(_mm256_srli_epi16(l1, 4), low_mask); \
                for (int k = 0; k < 4; k++) { \
                    const __m256i top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * k), two_bits), 4); \
                    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(quarter[k], top), offset); \
                    total0 = _mm##W##_fmadd_ps(bytes16_times_##W(_mm256_castsi256_si128(q), x + 32 * k), \
                                               _mm##W##_set1_ps(scales[8 * half + 2 * k]), total0); \
                    total1 = _mm##W##_fmadd_ps(bytes16_times_##W(_mm256_extracti128_si256(q, 1), x + 32 * k + 16), \
                                               _mm##W##_set1_ps(scales[8 * half + 2 * k + 1]), total1); \
                } \
            } \
        } \
        return _mm##W##_add_ps(total0, total1); \
    } \
    TARGET static float NAME(const void *row, const float *x, size_t columns) { return sum_##W(TOTAL(row, x, columns, 0)); }

Q6_K_DOT(dot_q6_k_avx2, q6_k_total_avx2, AVX2, 256)

AVX2 static void decode_i8_groups_avx2(const void *record, float *out, size_t columns, size_t group, size_t first, size_t end) {
    if (group % 8 != 0) { decode_i8_groups_portable(record, out, columns, group, first, end); return; }
    const uint8_t *scales = record;
    const int8_t *q = (const int8_t *)(scales + 2 * (columns / group));
    for (size_t g = first; g < end; g++) {
        __m256 scale = _mm256_set1_ps(_cvtsh_ss(load_u16(scales + 2 * g)));
        for (size_t i = g * group; i < (g + 1) * group; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(bytes_to_floats(q + i), scale));
    }
}

AVX2 static void decode_i4_groups_avx2(const void *record, float *out, size_t columns, size_t group, size_t first, size_t end) {
    if (group % 16 != 0) { decode_i4_groups_portable(record, out, columns, group, first, end); return; }
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    const __m128i low_mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
    for (size_t g = first; g < end; g++) {
        __m256 scale = _mm256_set1_ps(_cvtsh_ss(load_u16(scales + 2 * g)));
        for (size_t i = g * group; i < (g + 1) * group; i += 16) {
            __m128i packed = _mm_loadl_epi64((const __m128i *)(q + i / 2));
            __m128i lo = _mm_and_si128(packed, low_mask), hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low_mask);
            __m128i values = _mm_sub_epi8(_mm_unpacklo_epi8(lo, hi), eight);
            _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(values)), scale));
            _mm256_storeu_ps(out + i + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(values, 8))), scale));
        }
    }
}

/// Eight int2 values (two record bytes at `q`, element 4i + k in bits 2k of byte i) as floats q − 2: the 16 bits
/// broadcast to every lane and shifted right by 2·lane.
AVX2 static inline __m256 i2_values8(const uint8_t *q) {
    const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i bits = _mm256_set1_epi32((int)load_u16(q));
    const __m256i levels = _mm256_sub_epi32(_mm256_and_si256(_mm256_srlv_epi32(bits, shifts), _mm256_set1_epi32(3)), _mm256_set1_epi32(2));
    return _mm256_cvtepi32_ps(levels);
}

AVX2 static float dot_i2_groups_avx2(const void *record, const float *x, size_t columns, size_t group) {
    if (group % 16 != 0) return dot_i2_groups_portable(record, x, columns, group);
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    __m256 total = _mm256_setzero_ps();
    for (size_t g = 0; g < columns / group; g++) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        for (size_t i = g * group; i < (g + 1) * group; i += 16) {
            s0 = _mm256_fmadd_ps(i2_values8(q + i / 4), _mm256_loadu_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(i2_values8(q + i / 4 + 2), _mm256_loadu_ps(x + i + 8), s1);
        }
        total = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), _mm256_set1_ps(_cvtsh_ss(load_u16(scales + 2 * g))), total);
    }
    return sum_256(total);
}

AVX2 static void decode_i2_groups_avx2(const void *record, float *out, size_t columns, size_t group) {
    if (group % 8 != 0) { decode_i2_groups_portable(record, out, columns, group); return; }
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    for (size_t g = 0; g < columns / group; g++) {
        const __m256 scale = _mm256_set1_ps(_cvtsh_ss(load_u16(scales + 2 * g)));
        for (size_t i = g * group; i < (g + 1) * group; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(i2_values8(q + i / 4), scale));
    }
}

/// Asks for the line 4 KiB past `p` (an integer computed address: past the row it is only a hint, and prefetches do
/// not fault). The 16-bit decoders call it once per 64 bytes read: a row read once from memory (a checkpoint being
/// converted) then comes in at about 10 instead of 7 GB/s (C microbenchmark, bf16 → f32).
static inline void fetch_ahead(const uint8_t *p) { __builtin_prefetch((const void *)((uintptr_t)p + 4096)); }

AVX2 static void decode_bf16_avx2(const void *row, float *out, size_t columns) {
    const uint8_t *bytes = row;
    size_t i = 0;
    for (; i + 8 <= columns; i += 8) {
        if (i % 32 == 0) fetch_ahead(bytes + 2 * i);
        _mm256_storeu_ps(out + i, bf16x8(bytes + 2 * i));
    }
    decode_bf16_portable(bytes + 2 * i, out + i, columns - i);
}

AVX2 static void decode_f16_avx2(const void *row, float *out, size_t columns) {
    const uint8_t *bytes = row;
    size_t i = 0;
    for (; i + 8 <= columns; i += 8) {
        if (i % 32 == 0) fetch_ahead(bytes + 2 * i);
        _mm256_storeu_ps(out + i, f16x8(bytes + 2 * i));
    }
    decode_f16_portable(bytes + 2 * i, out + i, columns - i);
}

// AVX-512 versions of the int8/int4 row kernels: sixteen values per instruction, so a decoded token's products
// (the output head above all) wait on memory rather than on conversions. Groups of a multiple of 16 (int8) or 32
// (int4) columns; AVX2 otherwise.
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c")))

AVX512 static __m512 bytes16_to_floats(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)); }

/// The 32 levels of 16 packed int4 bytes (value 2i in byte i's low nibble, 2i + 1 in its high one) as floats q − 8, in
/// value order: values 0–15 in `first`, 16–31 in `second`. Each byte is widened to a 32-bit lane and its nibbles are
/// looked up in a table of −8…7 (a permute reads only an index's low four bits), then the two halves are interleaved:
/// the same floats as nibbles_to_bytes and a conversion, in six operations instead of eleven.
AVX512 static inline __attribute__((always_inline)) void i4_levels_avx512(__m128i packed, __m512 *first, __m512 *second) {
    const __m512 levels = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i bytes = _mm512_cvtepu8_epi32(packed);
    const __m512 low = _mm512_permutexvar_ps(bytes, levels), high = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), levels);
    *first = _mm512_permutex2var_ps(low, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), high);
    *second = _mm512_permutex2var_ps(low, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), high);
}

/// Σ q[i]·x[i] over one group of `group` int8 values (a multiple of 16), 16 at a time: a product and fused
/// multiply-adds into one register, as a Q8_0 block's (see q8_0_dot_512).
AVX512 static inline __attribute__((always_inline)) __m512 i8_group_sum_avx512(const int8_t *q, const float *x, size_t group) {
    __m512 sum = _mm512_mul_ps(bytes16_to_floats(_mm_loadu_si128((const __m128i *)q)), _mm512_loadu_ps(x));
    for (size_t i = 16; i < group; i += 16)
        sum = _mm512_fmadd_ps(bytes16_to_floats(_mm_loadu_si128((const __m128i *)(q + i))), _mm512_loadu_ps(x + i), sum);
    return sum;
}

/// Σ q[i]·x[i] over one group of `group` int4 values (a multiple of 32), as i8_group_sum_avx512.
AVX512 static inline __attribute__((always_inline)) __m512 i4_group_sum_avx512(const uint8_t *q, const float *x, size_t group) {
    __m512 first, second;
    i4_levels_avx512(_mm_loadu_si128((const __m128i *)q), &first, &second);
    __m512 sum = _mm512_mul_ps(first, _mm512_loadu_ps(x));
    sum = _mm512_fmadd_ps(second, _mm512_loadu_ps(x + 16), sum);
    for (size_t i = 32; i < group; i += 32) {
        i4_levels_avx512(_mm_loadu_si128((const __m128i *)(q + i / 2)), &first, &second);
        sum = _mm512_fmadd_ps(first, _mm512_loadu_ps(x + i), sum);
        sum = _mm512_fmadd_ps(second, _mm512_loadu_ps(x + i + 16), sum);
    }
    return sum;
}

/// i4_group_sum_avx512 against x split by split_even_odd_avx512: each byte's low nibble (an even-numbered value)
/// multiplies the even half of its 32 values' x, its high nibble the odd half, so the levels need no interleaving (four
/// operations per 32 values fewer); the same products, summed in other lanes (within rounding of the interleaved sum).
AVX512 static inline __attribute__((always_inline)) __m512 i4_split_group_sum_avx512(const uint8_t *q, const float *split, size_t group) {
    const __m512 levels = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    __m512 sum = _mm512_setzero_ps();
    for (size_t i = 0; i < group; i += 32) {
        const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + i / 2)));
        const __m512 even = _mm512_permutexvar_ps(bytes, levels), odd = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), levels);
        sum = i == 0 ? _mm512_mul_ps(even, _mm512_loadu_ps(split)) : _mm512_fmadd_ps(even, _mm512_loadu_ps(split + i), sum);
        sum = _mm512_fmadd_ps(odd, _mm512_loadu_ps(split + i + 16), sum);
    }
    return sum;
}

/// Σ_g scale_g · (group g · x) for an int8 (`bits` 8) or int4 (4) record, with two running totals (even and odd
/// groups) so that consecutive groups do not wait on one accumulator; `split`: x is laid out by split_even_odd_avx512
/// (int4 only). Inlined with a constant `group` for the common lengths (LPK_CONSTANT_GROUP), so that the group loop
/// unrolls away (a third faster than a run-time group, as fast as Q8_0's blocks).
AVX512 static inline __attribute__((always_inline)) __m512 groups_total_avx512(const void *record, const float *x, size_t columns,
                                                                              size_t group, int bits, int split) {
    const uint8_t *scales = record;
    const size_t groups = columns / group;
    const uint8_t *q = scales + 2 * groups;
    const size_t group_bytes = group * (size_t)bits / 8;
    __m512 total0 = _mm512_setzero_ps(), total1 = total0;
#define LPK_GROUP_SUM(G) (bits == 8 ? i8_group_sum_avx512((const int8_t *)(q + (G) * group_bytes), x + (G) * group, group) \
                          : split ? i4_split_group_sum_avx512(q + (G) * group_bytes, x + (G) * group, group) \
                                  : i4_group_sum_avx512(q + (G) * group_bytes, x + (G) * group, group))
    // The scales sixteen at a time, widened together; each group's broadcast from memory (a load, not a vector op).
    float widened[16];
    for (size_t first = 0; first < groups; first += 16) {
        const size_t count = groups - first < 16 ? groups - first : 16;
        _mm512_storeu_ps(widened, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << count) - 1), scales + 2 * first)));
        size_t k = 0;
        for (; k + 2 <= count; k += 2) {
            total0 = _mm512_fmadd_ps(LPK_GROUP_SUM(first + k), _mm512_set1_ps(widened[k]), total0);
            total1 = _mm512_fmadd_ps(LPK_GROUP_SUM(first + k + 1), _mm512_set1_ps(widened[k + 1]), total1);
        }
        if (k < count) total0 = _mm512_fmadd_ps(LPK_GROUP_SUM(first + k), _mm512_set1_ps(widened[k]), total0);
    }
#undef LPK_GROUP_SUM
    return _mm512_add_ps(total0, total1);
}

AVX512 static inline __attribute__((always_inline)) float groups_dot_avx512(const void *record, const float *x, size_t columns,
                                                                           size_t group, int bits, int split) {
    return _mm512_reduce_add_ps(groups_total_avx512(record, x, columns, group, bits, split));
}

/// The lane sums of four vectors, in order: their 128-bit quarters added pairwise across the four, then each quarter's
/// four lanes, so that four rows' totals take nine shuffles instead of sixteen.
AVX512 static inline __attribute__((always_inline)) __m128 lane_sums4_avx512(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    __m512 quarters = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
    quarters = _mm512_add_ps(quarters, _mm512_permute_ps(quarters, 0x4E));
    quarters = _mm512_add_ps(quarters, _mm512_permute_ps(quarters, 0xB1));
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), quarters));
}

/// A row's dot product as lanes still to be summed (`group`: the int8/int4 records' group length, or unused).
typedef __m512 (*lpk_row_total_512)(const void *record, const float *x, size_t columns, size_t group);

/// lpk_dot_rows on AVX-512 four rows at a time: each row's lanes by `total` (inlined, as this function is), the four
/// summed across lanes together by lane_sums4_avx512 in the order sum_512 takes (so the same floats as one row at a
/// time), each row's record asked for `ahead` rows on as that row starts. Input t is at x + t·`x_stride` (`columns`,
/// or more for inputs prepared with values of their own after them).
AVX512 static inline __attribute__((always_inline)) void rows_by_four_avx512(lpk_row_total_512 total, const uint8_t *records,
                                                                            size_t record_bytes, size_t rows, const float *x,
                                                                            size_t x_stride, size_t count, size_t columns,
                                                                            size_t group, size_t ahead, float *out, size_t out_stride) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const uint8_t *record = records + r * record_bytes;
        for (size_t t = 0; t < count; t++) {
            const float *xt = x + t * x_stride;
            __m512 totals[4];
            for (size_t k = 0; k < 4; k++) {
                if (t == 0 && r + k + ahead < rows) lpk_prefetch(record + (k + ahead) * record_bytes, record_bytes);
                totals[k] = total(record + k * record_bytes, xt, columns, group);
            }
            _mm_storeu_ps(out + t * out_stride + r, lane_sums4_avx512(totals[0], totals[1], totals[2], totals[3]));
        }
    }
    for (; r < rows; r++) {
        const uint8_t *record = records + r * record_bytes;
        if (r + ahead < rows) lpk_prefetch(record + ahead * record_bytes, record_bytes);
        for (size_t t = 0; t < count; t++) out[t * out_stride + r] = sum_512(total(record, x + t * x_stride, columns, group));
    }
}

/// Returns FUNCTION (groups_total_avx512 or groups_dot_avx512) with the group length a constant for the common 32, 64
/// and 128 (32 is the default, 64 and 128 what MLX and GPTQ checkpoints carry), so that each group's loop unrolls
/// away: a third faster than a run-time group. The same operations in the same order, so the same floats.
#define LPK_CONSTANT_GROUP(FUNCTION, BITS, SPLIT) \
    switch (group) { \
    case 32: return FUNCTION(record, x, columns, 32, BITS, SPLIT); \
    case 64: return FUNCTION(record, x, columns, 64, BITS, SPLIT); \
    case 128: return FUNCTION(record, x, columns, 128, BITS, SPLIT); \
    default: return FUNCTION(record, x, columns, group, BITS, SPLIT); \
    }

/// Row totals of int8 records, and of int4 records against inputs split by split_even_odd_avx512.
AVX512 static inline __attribute__((always_inline)) __m512 i8_total_avx512(const void *record, const float *x, size_t columns, size_t group) {
    LPK_CONSTANT_GROUP(groups_total_avx512, 8, 0)
}
AVX512 static inline __attribute__((always_inline)) __m512 i4_split_total_avx512(const void *record, const float *x, size_t columns,
                                                                                size_t group) {
    LPK_CONSTANT_GROUP(groups_total_avx512, 4, 1)
}

AVX512 static float dot_i8_groups_avx512(const void *record, const float *x, size_t columns, size_t group) {
    LPK_CONSTANT_GROUP(groups_dot_avx512, 8, 0)
}

AVX512 static float dot_i4_groups_avx512(const void *record, const float *x, size_t columns, size_t group) {
    LPK_CONSTANT_GROUP(groups_dot_avx512, 4, 0)
}
#undef LPK_CONSTANT_GROUP

/// x laid out for i4_split_group_sum_avx512 (`columns` a multiple of 32): per 32 values, the sixteen even-numbered ones,
/// then the sixteen odd-numbered ones, the order an int4 record's low and high nibbles take them in.
AVX512 static void split_even_odd_avx512(const float *x, float *split, size_t columns) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (size_t i = 0; i < columns; i += 32) {
        const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        _mm512_storeu_ps(split + i, _mm512_permutex2var_ps(a, even, b));
        _mm512_storeu_ps(split + i + 16, _mm512_permutex2var_ps(a, odd, b));
    }
}

/// lpk_dot_rows for int4 records (groups a multiple of 32) on AVX-512: each input is split once into `split`
/// (`count × columns` floats), then every row's dot product takes its nibbles in that order.
AVX512 static void dot_rows_i4_split_avx512(const uint8_t *records, size_t record_bytes, size_t rows, const float *x, size_t count,
                                            size_t columns, size_t group, size_t ahead, float *out, size_t out_stride, float *split) {
    for (size_t t = 0; t < count; t++) split_even_odd_avx512(x + t * columns, split + t * columns, columns);
    rows_by_four_avx512(i4_split_total_avx512, records, record_bytes, rows, split, columns, count, columns, group, ahead, out, out_stride);
}

AVX512 static inline void decode_i8_groups_avx512(const void *record, float *out, size_t columns, size_t group, size_t first, size_t end) {
    const uint8_t *scales = record;
    const int8_t *q = (const int8_t *)(scales + 2 * (columns / group));
    for (size_t g = first; g < end; g++) {
        const __m512 scale = _mm512_set1_ps(_cvtsh_ss(load_u16(scales + 2 * g)));
        for (size_t i = g * group; i < (g + 1) * group; i += 16)
            _mm512_storeu_ps(out + i, _mm512_mul_ps(bytes16_to_floats(_mm_loadu_si128((const __m128i *)(q + i))), scale));
    }
}

AVX512 static inline void decode_i4_groups_avx512(const void *record, float *out, size_t columns, size_t group, size_t first, size_t end) {
    const uint8_t *scales = record;
    const uint8_t *q = scales + 2 * (columns / group);
    for (size_t g = first; g < end; g++) {
        const __m512 scale = _mm512_set1_ps(_cvtsh_ss(load_u16(scales + 2 * g)));
        for (size_t i = g * group; i < (g + 1) * group; i += 32) {
            __m512 first, second;
            i4_levels_avx512(_mm_loadu_si128((const __m128i *)(q + i / 2)), &first, &second);
            _mm512_storeu_ps(out + i, _mm512_mul_ps(first, scale));
            _mm512_storeu_ps(out + i + 16, _mm512_mul_ps(second, scale));
        }
    }
}


/// A Q8_0 block's 32 values as floats, sixteen lanes each (values 0–15 in `first`, 16–31 in `second`): each half of
/// the block widened straight from memory.
AVX512 static inline __attribute__((always_inline)) void q8_0_levels_512(const uint8_t *b, __m512 *first, __m512 *second) {
    *first = bytes16_to_floats(_mm_loadu_si128((const __m128i *)(b + 2)));
    *second = bytes16_to_floats(_mm_loadu_si128((const __m128i *)(b + 18)));
}

/// A Q4_0 block's 32 values as floats q − 8, as q8_0_levels_512: each packed byte is widened to a lane and its nibbles
/// are looked up in a table of −8…7 (values 0–15 are the low nibbles, 16–31 the high ones), the same floats as
/// q4_0_values and a conversion in four operations instead of nine.
AVX512 static inline __attribute__((always_inline)) void q4_0_levels_512(const uint8_t *b, __m512 *first, __m512 *second) {
    const __m512 levels = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(b + 2)));
    *first = _mm512_permutexvar_ps(bytes, levels);
    *second = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), levels);
}

/// A Q5_0 block's 32 values as floats q − 16, as q8_0_levels_512: a value's nibble indexes a table of −16…−1 (a
/// permute reads an index's low four bits), and 16 is added where its fifth bit (bit j of the word after the scale) is
/// set, giving the same floats as q5_0_values and a conversion.
AVX512 static inline __attribute__((always_inline)) void q5_0_levels_512(const uint8_t *b, __m512 *first, __m512 *second) {
    const __m512 below = _mm512_setr_ps(-16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1);
    const __m512 sixteen = _mm512_set1_ps(16);
    uint32_t fifth;
    memcpy(&fifth, b + 2, 4);
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(b + 6)));
    const __m512 low = _mm512_permutexvar_ps(bytes, below), high = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), below);
    *first = _mm512_mask_add_ps(low, (__mmask16)(fifth & 0xFFFF), low, sixteen);
    *second = _mm512_mask_add_ps(high, (__mmask16)(fifth >> 16), high, sixteen);
}

/// A block's Σ q·x over its 32 values given as two registers of floats (a levels function's): the first sixteen
/// products, then the second sixteen fused into them.
AVX512 static inline __attribute__((always_inline)) __m512 levels_dot_512(__m512 first, __m512 second, const float *x) {
    return _mm512_fmadd_ps(second, _mm512_loadu_ps(x + 16), _mm512_mul_ps(first, _mm512_loadu_ps(x)));
}

/// One block's Σ q·x (before its scale), sixteen lanes wide, for each type.
#define LEVELS_DOT_512(NAME, LEVELS) \
    AVX512 static inline __attribute__((always_inline)) __m512 NAME(const uint8_t *b, const float *x) { \
        __m512 first, second; \
        LEVELS(b, &first, &second); \
        return levels_dot_512(first, second, x); \
    }
LEVELS_DOT_512(q8_0_dot_512, q8_0_levels_512)
LEVELS_DOT_512(q4_0_dot_512, q4_0_levels_512)
LEVELS_DOT_512(q5_0_dot_512, q5_0_levels_512)
#undef LEVELS_DOT_512

/// Defines NAME(row, out, columns) for blocks of 32 values that start with their f16 scale d: LEVELS(block) · d, the
/// same products the portable decoders take one at a time, sixteen at once.
#define SCALED_BLOCK_DECODE_512(NAME, LEVELS, BLOCK_BYTES) \
    AVX512 static void NAME(const void *row, float *out, size_t columns) { \
        const uint8_t *p = row; \
        for (size_t i = 0; i < columns; i += 32, p += (BLOCK_BYTES)) { \
            const __m512 d = _mm512_set1_ps(_cvtsh_ss(load_u16(p))); \
            __m512 first, second; \
            LEVELS(p, &first, &second); \
            _mm512_storeu_ps(out + i, _mm512_mul_ps(first, d)); \
            _mm512_storeu_ps(out + i + 16, _mm512_mul_ps(second, d)); \
        } \
    }
SCALED_BLOCK_DECODE_512(decode_q8_0_avx512, q8_0_levels_512, 34)
SCALED_BLOCK_DECODE_512(decode_q5_0_avx512, q5_0_levels_512, 22)
SCALED_BLOCK_DECODE_512(decode_q4_0_avx512, q4_0_levels_512, 18)
#undef SCALED_BLOCK_DECODE_512

/// Q4_K rows decoded sixteen values at a time: block_q4_k's products d·sc·q − dmin·m (a multiplication, then a
/// subtraction: not fused, so the same floats), each packed byte widened to a lane and its nibbles looked up in a table
/// of 0…15.
AVX512 static void decode_q4_k_avx512(const void *row, float *out, size_t columns) {
    const __m512 levels = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const uint8_t *b = row;
    for (size_t i = 0; i < columns; i += 256, b += 144) {
        const float d = _cvtsh_ss(load_u16(b)), dmin = _cvtsh_ss(load_u16(b + 2));
        const uint8_t *q = b + 16;
        float *y = out + i;
        for (int group = 0; group < 4; group++, q += 32, y += 64) {
            uint8_t sc1, m1, sc2, m2;
            scale_min_k4(2 * group, b + 4, &sc1, &m1);
            scale_min_k4(2 * group + 1, b + 4, &sc2, &m2);
            const __m512 d1 = _mm512_set1_ps(d * sc1), min1 = _mm512_set1_ps(dmin * m1);
            const __m512 d2 = _mm512_set1_ps(d * sc2), min2 = _mm512_set1_ps(dmin * m2);
            const __m512i first = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
            const __m512i second = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + 16)));
            _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_permutexvar_ps(first, levels)), min1));
            _mm512_storeu_ps(y + 16, _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_permutexvar_ps(second, levels)), min1));
            _mm512_storeu_ps(y + 32, _mm512_sub_ps(_mm512_mul_ps(d2, _mm512_permutexvar_ps(_mm512_srli_epi32(first, 4), levels)), min2));
            _mm512_storeu_ps(y + 48, _mm512_sub_ps(_mm512_mul_ps(d2, _mm512_permutexvar_ps(_mm512_srli_epi32(second, 4), levels)), min2));
        }
    }
}

/// Q6_K rows decoded sixteen values at a time: block_q6_k's (d·sc)·(q − 32), each of the sixteen values sharing one
/// sub-block scale; value l of each quarter of a half takes a nibble of ql and two bits of qh.
AVX512 static void decode_q6_k_avx512(const void *row, float *out, size_t columns) {
    const __m512i low_mask = _mm512_set1_epi32(0x0F), two_bits = _mm512_set1_epi32(0x30), offset = _mm512_set1_epi32(32);
    const uint8_t *b = row;
    for (size_t i = 0; i < columns; i += 256, b += 210) {
        const float d = _cvtsh_ss(load_u16(b + 208));
        const int8_t *sc = (const int8_t *)(b + 192);
        const uint8_t *ql = b, *qh = b + 128;
        float *y = out + i;
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int part = 0; part < 2; part++) {
                const size_t l = 16 * (size_t)part;
                const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + l)));
                const __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + l + 32)));
                const __m512i h = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + l)));
                const __m512i q1 = _mm512_or_si512(_mm512_and_si512(a, low_mask), _mm512_and_si512(_mm512_slli_epi32(h, 4), two_bits));
                const __m512i q2 = _mm512_or_si512(_mm512_and_si512(c, low_mask), _mm512_and_si512(_mm512_slli_epi32(h, 2), two_bits));
                const __m512i q3 = _mm512_or_si512(_mm512_srli_epi32(a, 4), _mm512_and_si512(h, two_bits));
                const __m512i q4 = _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_and_si512(_mm512_srli_epi32(h, 2), two_bits));
                _mm512_storeu_ps(y + l, _mm512_mul_ps(_mm512_set1_ps(d * sc[part]), _mm512_cvtepi32_ps(_mm512_sub_epi32(q1, offset))));
                _mm512_storeu_ps(y + l + 32, _mm512_mul_ps(_mm512_set1_ps(d * sc[part + 2]), _mm512_cvtepi32_ps(_mm512_sub_epi32(q2, offset))));
                _mm512_storeu_ps(y + l + 64, _mm512_mul_ps(_mm512_set1_ps(d * sc[part + 4]), _mm512_cvtepi32_ps(_mm512_sub_epi32(q3, offset))));
                _mm512_storeu_ps(y + l + 96, _mm512_mul_ps(_mm512_set1_ps(d * sc[part + 6]), _mm512_cvtepi32_ps(_mm512_sub_epi32(q4, offset))));
            }
        }
    }
}

SCALED_BLOCK_DOT(dot_q8_0_avx512, q8_0_total_avx512, AVX512, 512, q8_0_dot_512, 34)
SCALED_BLOCK_DOT(dot_q5_0_avx512, q5_0_total_avx512, AVX512, 512, q5_0_dot_512, 22)
SCALED_BLOCK_DOT(dot_q4_0_avx512, q4_0_total_avx512, AVX512, 512, q4_0_dot_512, 18)

/// q[i]·x[i] for 16 signed bytes and 16 floats, one product per lane.
AVX512 static inline __m512 bytes16_times_512(__m128i q, const float *x) { return _mm512_mul_ps(bytes16_to_floats(q), _mm512_loadu_ps(x)); }

/// A Q6_K block's sixteen sub-block scales d·sc as floats, widened together.
AVX512 static inline void q6_k_scales_512(const uint8_t *block, float *scales) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(load_u16(block + 208)));
    _mm512_storeu_ps(scales, _mm512_mul_ps(d, bytes16_to_floats(_mm_loadu_si128((const __m128i *)(block + 192)))));
}

/// q4_k_nibbles_dot_256 sixteen lanes wide: each packed byte is widened to a lane and its nibbles are looked up in a
/// table of 0…15 (a permute reads only an index's low four bits), the same floats in the same products and sums as
/// q8_0_dot_512 takes them, in eight vector operations per group instead of thirteen.
AVX512 static inline void q4_k_nibbles_dot_512(const uint8_t *q, const float *x, __m512 *low, __m512 *high) {
    const __m512 levels = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i first = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
    const __m512i second = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + 16)));
    *low = _mm512_fmadd_ps(_mm512_permutexvar_ps(second, levels), _mm512_loadu_ps(x + 16),
                           _mm512_mul_ps(_mm512_permutexvar_ps(first, levels), _mm512_loadu_ps(x)));
    *high = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(second, 4), levels), _mm512_loadu_ps(x + 48),
                            _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(first, 4), levels), _mm512_loadu_ps(x + 32)));
}

/// Floats a prepared Q4_K input takes (q4_k_prepare_avx512): its `columns` values, then their sub-block sums.
static inline size_t q4_k_prepared_length(size_t columns) { return columns + columns / 32; }

/// An input of `columns` values (a multiple of 256) prepared for Q4_K rows: the values, then Σ x over each 32 of them
/// (the sums a row's sub-block minimums multiply). They are the same for every row of a product, so they are taken
/// once per input instead of once per row as dot_q4_k_avx2 does.
AVX512 static void q4_k_prepare_avx512(const float *x, size_t columns, float *prepared) {
    memcpy(prepared, x, columns * sizeof(float));
    float *sums = prepared + columns;
    for (size_t j = 0; j < columns / 32; j++)
        sums[j] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_loadu_ps(x + 32 * j), _mm512_loadu_ps(x + 32 * j + 16)));
}

/// A Q4_K row's lanes (as SCALED_BLOCK_DOT's totals) against a prepared input: per sub-block j, d·sc_j·Σ q·x in two
/// sixteen-lane running totals, and the minimums' dmin·m_j·Σ x a block's eight at once in eight lanes, subtracted at
/// the end. A quarter fewer vector operations than dot_q4_k_avx2's shape at this width; the same terms in other
/// lanes (within float rounding of it).
AVX512 static inline __attribute__((always_inline)) __m512 q4_k_prepared_total_avx512(const void *row, const float *prepared, size_t columns,
                                                                                     size_t group) {
    (void)group;
    const uint8_t *p = row;
    const float *x = prepared, *sums = prepared + columns;
    __m512 total0 = _mm512_setzero_ps(), total1 = _mm512_setzero_ps();
    __m256 minimums = _mm256_setzero_ps();
    float scales[16];
    for (size_t b = 0; b < columns / 256; b++, p += 144, sums += 8) {
        q4_k_scales(p, scales);
        minimums = _mm256_fmadd_ps(_mm256_loadu_ps(scales + 8), _mm256_loadu_ps(sums), minimums);
        const uint8_t *q = p + 16;
        for (int group = 0; group < 4; group++, q += 32, x += 64) {
            __m512 low, high;
            q4_k_nibbles_dot_512(q, x, &low, &high);
            total0 = _mm512_fmadd_ps(low, _mm512_set1_ps(scales[2 * group]), total0);
            total1 = _mm512_fmadd_ps(high, _mm512_set1_ps(scales[2 * group + 1]), total1);
        }
    }
    return _mm512_sub_ps(_mm512_add_ps(total0, total1), _mm512_zextps256_ps512(minimums));
}

/// Floats of prepared inputs kept on a caller's stack (32 KiB: a piece of a small matrix pays no allocation).
#define LPK_LOCAL_INPUT_FLOATS 8192

/// Room for `floats` prepared input values: `local` (LPK_LOCAL_INPUT_FLOATS on the caller's stack) when they fit, else
/// 64-byte-aligned heap memory, NULL if that fails; free it when it is not `local`.
static float *input_room(float *local, size_t floats) {
    return floats <= LPK_LOCAL_INPUT_FLOATS ? local : aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
}

AVX512 static float dot_q4_k_avx512(const void *row, const float *x, size_t columns) {
    _Alignas(64) float local[LPK_LOCAL_INPUT_FLOATS];
    float *prepared = input_room(local, q4_k_prepared_length(columns));
    if (!prepared) return dot_q4_k_avx2(row, x, columns);
    q4_k_prepare_avx512(x, columns, prepared);
    const float dot = sum_512(q4_k_prepared_total_avx512(row, prepared, columns, 0));
    if (prepared != local) free(prepared);
    return dot;
}

/// lpk_dot_rows for Q4_K rows on AVX-512: each input prepared once into `prepared` (`count` ×
/// q4_k_prepared_length(columns) floats), then four rows at a time.
AVX512 static void dot_rows_q4_k_prepared_avx512(const uint8_t *records, size_t record_bytes, size_t rows, const float *x, size_t count,
                                                 size_t columns, size_t ahead, float *out, size_t out_stride, float *prepared) {
    const size_t length = q4_k_prepared_length(columns);
    for (size_t t = 0; t < count; t++) q4_k_prepare_avx512(x + t * columns, columns, prepared + t * length);
    rows_by_four_avx512(q4_k_prepared_total_avx512, records, record_bytes, rows, prepared, length, count, columns, 0, ahead, out, out_stride);
}

Q6_K_DOT(dot_q6_k_avx512, q6_k_total_avx512, AVX512, 512)

/// lpk_dot_rows on AVX-512, four rows at a time, for the kinds whose row totals take the inputs as given (int8 records
/// with groups a multiple of 16, Q8_0, Q5_0, Q4_0, Q6_K); 0 for the others (int4 and Q4_K rows prepare their inputs
/// first; the rest go row by row).
AVX512 static int dot_rows_by_four_avx512(lpk_row_kind kind, const uint8_t *records, size_t record_bytes, size_t rows, const float *x,
                                          size_t count, size_t columns, size_t group, size_t ahead, float *out, size_t out_stride) {
    // Each kind's total inlined into its own copy of the loop (a constant function pointer).
#define LPK_ROWS_BY_FOUR(TOTAL) \
    rows_by_four_avx512(TOTAL, records, record_bytes, rows, x, columns, count, columns, group, ahead, out, out_stride); \
    return 1
    switch (kind) {
    case LPK_ROWS_I8:
        if (group % 16 != 0 || columns % group != 0) return 0;
        LPK_ROWS_BY_FOUR(i8_total_avx512);
    case LPK_ROWS_Q8_0: LPK_ROWS_BY_FOUR(q8_0_total_avx512);
    case LPK_ROWS_Q5_0: LPK_ROWS_BY_FOUR(q5_0_total_avx512);
    case LPK_ROWS_Q4_0: LPK_ROWS_BY_FOUR(q4_0_total_avx512);
    case LPK_ROWS_Q6_K: LPK_ROWS_BY_FOUR(q6_k_total_avx512);
    default: return 0;
    }
#undef LPK_ROWS_BY_FOUR
}

int lpk_dot_uses_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = lpk_dot_uses_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl");
    }
    return cached;
}

/// The version of the int8/int4 row kernels a row of `group`-column groups gets here: 2 AVX-512, 1 AVX2, 0 portable.
static int row_kernel_version(int bits, size_t group) {
    if (lpk_dot_uses_avx512() && group % (bits == 8 ? 16 : 32) == 0) return 2;
    if (lpk_dot_uses_avx2() && group % (bits == 8 ? 8 : 16) == 0) return 1;
    return 0;
}

int lpk_block_dot_version(int version, int type, const void *row, const float *x, size_t columns, float *dot) {
    typedef float (*block_dot)(const void *row, const float *x, size_t columns);
    static const block_dot versions[3][5] = {
        {dot_q8_0_portable, dot_q5_0_portable, dot_q4_0_portable, dot_q4_k_portable, dot_q6_k_portable},
        {dot_q8_0_avx2, dot_q5_0_avx2, dot_q4_0_avx2, dot_q4_k_avx2, dot_q6_k_avx2},
        {dot_q8_0_avx512, dot_q5_0_avx512, dot_q4_0_avx512, dot_q4_k_avx512, dot_q6_k_avx512},
    };
    if (type < 0 || type > 4 || columns % (type > 2 ? 256 : 32) != 0 || version < 0 || version > 2) return 0;
    if ((version == 1 && !lpk_dot_uses_avx2()) || (version == 2 && !lpk_dot_uses_avx512())) return 0;
    *dot = versions[version][type](row, x, columns);
    return 1;
}

int lpk_row_kernels_version(int version, int bits, const void *record, const float *x, size_t columns, size_t group,
                            float *dot, float *out) {
    if (version > row_kernel_version(bits, group) || (bits != 8 && bits != 4)) return 0;
    switch (version) {
    case 2:
        *dot = bits == 8 ? dot_i8_groups_avx512(record, x, columns, group) : dot_i4_groups_avx512(record, x, columns, group);
        if (bits == 8) decode_i8_groups_avx512(record, out, columns, group, 0, columns / group);
        else decode_i4_groups_avx512(record, out, columns, group, 0, columns / group);
        return 1;
    case 1:
        *dot = bits == 8 ? dot_i8_groups_avx2(record, x, columns, group) : dot_i4_groups_avx2(record, x, columns, group);
        if (bits == 8) decode_i8_groups_avx2(record, out, columns, group, 0, columns / group);
        else decode_i4_groups_avx2(record, out, columns, group, 0, columns / group);
        return 1;
    default:
        *dot = bits == 8 ? dot_i8_groups_portable(record, x, columns, group) : dot_i4_groups_portable(record, x, columns, group);
        if (bits == 8) decode_i8_groups_portable(record, out, columns, group, 0, columns / group);
        else decode_i4_groups_portable(record, out, columns, group, 0, columns / group);
        return 1;
    }
}

int lpk_dot_uses_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return cached;
}

float lpk_dot_f32(const float *a, const float *b, size_t n) {
    return lpk_dot_uses_avx2() ? dot_f32_avx2(a, b, n) : dot_f32_portable(a, b, n);
}
void lpk_decode_bf16(const void *row, float *out, size_t columns) {
    if (lpk_dot_uses_avx2()) decode_bf16_avx2(row, out, columns); else decode_bf16_portable(row, out, columns);
}
void lpk_decode_f16(const void *row, float *out, size_t columns) {
    if (lpk_dot_uses_avx2()) decode_f16_avx2(row, out, columns); else decode_f16_portable(row, out, columns);
}
float lpk_dot_bf16(const void *row, const float *x, size_t columns) {
    return lpk_dot_uses_avx2() ? dot_bf16_avx2(row, x, columns) : dot_bf16_portable(row, x, columns);
}
float lpk_dot_f16(const void *row, const float *x, size_t columns) {
    return lpk_dot_uses_avx2() ? dot_f16_avx2(row, x, columns) : dot_f16_portable(row, x, columns);
}
void lpk_decode_q8_0(const void *row, float *out, size_t columns) {
    if (lpk_dot_uses_avx512()) decode_q8_0_avx512(row, out, columns);
    else if (lpk_dot_uses_avx2()) decode_q8_0_avx2(row, out, columns);
    else decode_q8_0_portable(row, out, columns);
}
void lpk_decode_q5_0(const void *row, float *out, size_t columns) {
    if (lpk_dot_uses_avx512()) decode_q5_0_avx512(row, out, columns);
    else if (lpk_dot_uses_avx2()) decode_q5_0_avx2(row, out, columns);
    else decode_q5_0_portable(row, out, columns);
}
void lpk_decode_q4_0(const void *row, float *out, size_t columns) {
    if (lpk_dot_uses_avx512()) decode_q4_0_avx512(row, out, columns);
    else if (lpk_dot_uses_avx2()) decode_q4_0_avx2(row, out, columns);
    else decode_q4_0_portable(row, out, columns);
}
void lpk_decode_q4_k(const void *row, float *out, size_t columns) {
    if (lpk_dot_uses_avx512()) decode_q4_k_avx512(row, out, columns); else decode_q4_k_portable(row, out, columns);
}
void lpk_decode_q6_k(const void *row, float *out, size_t columns) {
    if (lpk_dot_uses_avx512()) decode_q6_k_avx512(row, out, columns); else decode_q6_k_portable(row, out, columns);
}
float lpk_dot_q4_0(const void *row, const float *x, size_t columns) {
    if (lpk_dot_uses_avx512()) return dot_q4_0_avx512(row, x, columns);
    return lpk_dot_uses_avx2() ? dot_q4_0_avx2(row, x, columns) : dot_q4_0_portable(row, x, columns);
}
float lpk_dot_q8_0(const void *row, const float *x, size_t columns) {
    if (lpk_dot_uses_avx512()) return dot_q8_0_avx512(row, x, columns);
    return lpk_dot_uses_avx2() ? dot_q8_0_avx2(row, x, columns) : dot_q8_0_portable(row, x, columns);
}
float lpk_dot_i8_groups(const void *record, const float *x, size_t columns, size_t group) {
    if (lpk_dot_uses_avx512() && group % 16 == 0) return dot_i8_groups_avx512(record, x, columns, group);
    return lpk_dot_uses_avx2() ? dot_i8_groups_avx2(record, x, columns, group) : dot_i8_groups_portable(record, x, columns, group);
}
float lpk_dot_i4_groups(const void *record, const float *x, size_t columns, size_t group) {
    if (lpk_dot_uses_avx512() && group % 32 == 0) return dot_i4_groups_avx512(record, x, columns, group);
    return lpk_dot_uses_avx2() ? dot_i4_groups_avx2(record, x, columns, group) : dot_i4_groups_portable(record, x, columns, group);
}
float lpk_dot_q5_0(const void *row, const float *x, size_t columns) {
    if (lpk_dot_uses_avx512()) return dot_q5_0_avx512(row, x, columns);
    return lpk_dot_uses_avx2() ? dot_q5_0_avx2(row, x, columns) : dot_q5_0_portable(row, x, columns);
}
float lpk_dot_q4_k(const void *row, const float *x, size_t columns) {
    if (lpk_dot_uses_avx512()) return dot_q4_k_avx512(row, x, columns);
    return lpk_dot_uses_avx2() ? dot_q4_k_avx2(row, x, columns) : dot_q4_k_portable(row, x, columns);
}
float lpk_dot_q6_k(const void *row, const float *x, size_t columns) {
    if (lpk_dot_uses_avx512()) return dot_q6_k_avx512(row, x, columns);
    return lpk_dot_uses_avx2() ? dot_q6_k_avx2(row, x, columns) : dot_q6_k_portable(row, x, columns);
}
/// Groups [first, end) of an int8 (`bits` 8) or int4 (4) record, by the fastest decoder this CPU has.
static void decode_groups(int bits, const void *record, float *out, size_t columns, size_t group, size_t first, size_t end) {
    if (bits == 8) {
        if (lpk_dot_uses_avx512() && group % 16 == 0) decode_i8_groups_avx512(record, out, columns, group, first, end);
        else if (lpk_dot_uses_avx2()) decode_i8_groups_avx2(record, out, columns, group, first, end);
        else decode_i8_groups_portable(record, out, columns, group, first, end);
    } else {
        if (lpk_dot_uses_avx512() && group % 32 == 0) decode_i4_groups_avx512(record, out, columns, group, first, end);
        else if (lpk_dot_uses_avx2()) decode_i4_groups_avx2(record, out, columns, group, first, end);
        else decode_i4_groups_portable(record, out, columns, group, first, end);
    }
}
float lpk_dot_i2_groups(const void *record, const float *x, size_t columns, size_t group) {
    return lpk_dot_uses_avx2() ? dot_i2_groups_avx2(record, x, columns, group) : dot_i2_groups_portable(record, x, columns, group);
}
void lpk_decode_i2_groups(const void *record, float *out, size_t columns, size_t group) {
    if (lpk_dot_uses_avx2()) decode_i2_groups_avx2(record, out, columns, group); else decode_i2_groups_portable(record, out, columns, group);
}
#else
int lpk_dot_uses_avx2(void) { return 0; }
int lpk_dot_uses_avx512(void) { return 0; }
void lpk_decode_q8_0(const void *row, float *out, size_t columns) { decode_q8_0_portable(row, out, columns); }
void lpk_decode_q5_0(const void *row, float *out, size_t columns) { decode_q5_0_portable(row, out, columns); }
void lpk_decode_q4_0(const void *row, float *out, size_t columns) { decode_q4_0_portable(row, out, columns); }
void lpk_decode_q4_k(const void *row, float *out, size_t columns) { decode_q4_k_portable(row, out, columns); }
void lpk_decode_q6_k(const void *row, float *out, size_t columns) { decode_q6_k_portable(row, out, columns); }
float lpk_dot_q4_0(const void *row, const float *x, size_t columns) { return dot_q4_0_portable(row, x, columns); }
int lpk_block_dot_version(int version, int type, const void *row, const float *x, size_t columns, float *dot) {
    if (version != 0 || type < 0 || type > 4 || columns % (type > 2 ? 256 : 32) != 0) return 0;
    *dot = type == 0 ? dot_q8_0_portable(row, x, columns) : type == 1 ? dot_q5_0_portable(row, x, columns)
         : type == 2 ? dot_q4_0_portable(row, x, columns) : type == 3 ? dot_q4_k_portable(row, x, columns) : dot_q6_k_portable(row, x, columns);
    return 1;
}
int lpk_row_kernels_version(int version, int bits, const void *record, const float *x, size_t columns, size_t group,
                            float *dot, float *out) {
    if (version != 0 || (bits != 8 && bits != 4)) return 0;
    *dot = bits == 8 ? dot_i8_groups_portable(record, x, columns, group) : dot_i4_groups_portable(record, x, columns, group);
    if (bits == 8) decode_i8_groups_portable(record, out, columns, group, 0, columns / group);
    else decode_i4_groups_portable(record, out, columns, group, 0, columns / group);
    return 1;
}
float lpk_dot_i2_groups(const void *record, const float *x, size_t columns, size_t group) { return dot_i2_groups_portable(record, x, columns, group); }
void lpk_decode_i2_groups(const void *record, float *out, size_t columns, size_t group) { decode_i2_groups_portable(record, out, columns, group); }
void lpk_decode_bf16(const void *row, float *out, size_t columns) { decode_bf16_portable(row, out, columns); }
void lpk_decode_f16(const void *row, float *out, size_t columns) { decode_f16_portable(row, out, columns); }
float lpk_dot_bf16(const void *row, const float *x, size_t columns) { return dot_bf16_portable(row, x, columns); }
float lpk_dot_f16(const void *row, const float *x, size_t columns) { return dot_f16_portable(row, x, columns); }
static void decode_groups(int bits, const void *record, float *out, size_t columns, size_t group, size_t first, size_t end) {
    if (bits == 8) decode_i8_groups_portable(record, out, columns, group, first, end);
    else decode_i4_groups_portable(record, out, columns, group, first, end);
}
float lpk_dot_q5_0(const void *row, const float *x, size_t columns) { return dot_q5_0_portable(row, x, columns); }
float lpk_dot_q4_k(const void *row, const float *x, size_t columns) { return dot_q4_k_portable(row, x, columns); }
float lpk_dot_q6_k(const void *row, const float *x, size_t columns) { return dot_q6_k_portable(row, x, columns); }
float lpk_dot_i4_groups(const void *record, const float *x, size_t columns, size_t group) {
    return dot_i4_groups_portable(record, x, columns, group);
}
float lpk_dot_f32(const float *a, const float *b, size_t n) { return dot_f32_portable(a, b, n); }
float lpk_dot_q8_0(const void *row, const float *x, size_t columns) { return dot_q8_0_portable(row, x, columns); }
float lpk_dot_i8_groups(const void *record, const float *x, size_t columns, size_t group) {
    return dot_i8_groups_portable(record, x, columns, group);
}
#endif

void lpk_decode_i8_groups(const void *record, float *out, size_t columns, size_t group) {
    decode_groups(8, record, out, columns, group, 0, columns / group);
}
void lpk_decode_i4_groups(const void *record, float *out, size_t columns, size_t group) {
    decode_groups(4, record, out, columns, group, 0, columns / group);
}

/// Defines NAME(bits, record, out, columns, group, next, next_bytes), lpk_decode_groups_fetching's loop: per slice of
/// the groups, a slice of next's lines asked for, then the groups decoded by DECODE(bits, record, out, columns, group,
/// first, end), a decoder of the same TARGET, so that it is inlined into the loop (a call per slice cost a tenth).
#define DECODE_FETCHING(NAME, TARGET, DECODE) \
    TARGET static void NAME(int bits, const void *record, float *out, size_t columns, size_t group, const void *next, \
                            size_t next_bytes) { \
        const size_t groups = columns / group, slices = groups < 32 ? groups : 32, lines = (next_bytes + 63) / 64; \
        for (size_t slice = 0; slice < slices; slice++) { \
            for (size_t line = slice * lines / slices; line < (slice + 1) * lines / slices; line++) \
                __builtin_prefetch((const char *)next + 64 * line, 0, 1); \
            DECODE(bits, record, out, columns, group, slice * groups / slices, (slice + 1) * groups / slices); \
        } \
    }

DECODE_FETCHING(decode_fetching_any, , decode_groups)
#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
/// decode_groups for a CPU with AVX-512 and a group it takes (a multiple of 16 for int8, of 32 for int4).
AVX512 static inline void decode_groups_avx512(int bits, const void *record, float *out, size_t columns, size_t group, size_t first,
                                               size_t end) {
    if (bits == 8) decode_i8_groups_avx512(record, out, columns, group, first, end);
    else decode_i4_groups_avx512(record, out, columns, group, first, end);
}
DECODE_FETCHING(decode_fetching_avx512, AVX512, decode_groups_avx512)
#endif

void lpk_decode_groups_fetching(int bits, const void *record, float *out, size_t columns, size_t group, const void *next,
                                size_t next_bytes) {
#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (lpk_dot_uses_avx512() && group % (bits == 8 ? 16 : 32) == 0) {
        decode_fetching_avx512(bits, record, out, columns, group, next, next_bytes);
        return;
    }
#endif
    decode_fetching_any(bits, record, out, columns, group, next, next_bytes);
}

void lpk_decode_rows_fetching(int bits, const void *table, size_t record_bytes, const ptrdiff_t *rows, size_t count,
                              float *out, size_t columns, size_t group) {
    const uint8_t *base = table;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *record = base + (size_t)rows[i] * record_bytes;
        if (i + 1 < count)
            lpk_decode_groups_fetching(bits, record, out + i * columns, columns, group, base + (size_t)rows[i + 1] * record_bytes,
                                       record_bytes);
        else
            decode_groups(bits, record, out + i * columns, columns, group, 0, columns / group);
    }
}

/// The kind's dot product, for kinds without a group length.
typedef float (*lpk_row_dot)(const void *row, const float *x, size_t columns);
/// The kind's dot product, for int8/int4/int2 records.
typedef float (*lpk_group_dot)(const void *record, const float *x, size_t columns, size_t group);

void lpk_dot_rows(lpk_row_kind kind, const void *records, size_t record_bytes, size_t rows, const float *x, size_t count,
                  size_t columns, size_t group, size_t ahead, float *out, size_t out_stride) {
    lpk_row_dot dot = NULL;
    lpk_group_dot group_dot = NULL;
    switch (kind) {
    case LPK_ROWS_Q8_0: dot = lpk_dot_q8_0; break;
    case LPK_ROWS_Q5_0: dot = lpk_dot_q5_0; break;
    case LPK_ROWS_Q4_0: dot = lpk_dot_q4_0; break;
    case LPK_ROWS_Q4_K: dot = lpk_dot_q4_k; break;
    case LPK_ROWS_Q6_K: dot = lpk_dot_q6_k; break;
    case LPK_ROWS_BF16: dot = lpk_dot_bf16; break;
    case LPK_ROWS_F16: dot = lpk_dot_f16; break;
    case LPK_ROWS_I8: group_dot = lpk_dot_i8_groups; break;
    case LPK_ROWS_I4: group_dot = lpk_dot_i4_groups; break;
    case LPK_ROWS_I2: group_dot = lpk_dot_i2_groups; break;
    }
    const uint8_t *base = records;
#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (lpk_dot_uses_avx512() && dot_rows_by_four_avx512(kind, base, record_bytes, rows, x, count, columns, group, ahead, out, out_stride))
        return;
    // int4 records take their inputs split into even and odd values, Q4_K rows theirs with sub-block sums: prepared once.
    const int i4 = kind == LPK_ROWS_I4 && group % 32 == 0 && columns % group == 0, q4_k = kind == LPK_ROWS_Q4_K && columns % 256 == 0;
    if ((i4 || q4_k) && lpk_dot_uses_avx512()) {
        _Alignas(64) float local[LPK_LOCAL_INPUT_FLOATS];
        float *prepared = input_room(local, count * (q4_k ? q4_k_prepared_length(columns) : columns));
        if (prepared) {
            if (q4_k) dot_rows_q4_k_prepared_avx512(base, record_bytes, rows, x, count, columns, ahead, out, out_stride, prepared);
            else dot_rows_i4_split_avx512(base, record_bytes, rows, x, count, columns, group, ahead, out, out_stride, prepared);
            if (prepared != local) free(prepared);
            return;
        }
    }
#endif
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *record = base + r * record_bytes;
        if (r + ahead < rows) lpk_prefetch(record + ahead * record_bytes, record_bytes);
        for (size_t t = 0; t < count; t++) {
            out[t * out_stride + r] = dot ? dot(record, x + t * columns, columns) : group_dot(record, x + t * columns, columns, group);
        }
    }
}
