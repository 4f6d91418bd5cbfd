// See include/lpk_xxh64.h.
#include "lpk_xxh64.h"
#include <string.h>

#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define LPK_XXH64_AVX512 1
#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl")))
#endif

enum { PREFETCH_DISTANCE = 4096 };

static const uint64_t prime1 = 0x9E3779B185EBCA87ULL, prime2 = 0xC2B2AE3D27D4EB4FULL;

static inline uint64_t rotate_left(uint64_t value, int count) { return (value << count) | (value >> (64 - count)); }

static inline uint64_t lane_at(const unsigned char *bytes) {
    uint64_t value;
    memcpy(&value, bytes, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    value = __builtin_bswap64(value);
#endif
    return value;
}

/// The specification's round: the accumulator plus lane · prime 2, rotated left by 31, times prime 1 (mod 2^64).
static inline uint64_t round_lane(uint64_t accumulator, uint64_t lane) {
    return rotate_left(accumulator + lane * prime2, 31) * prime1;
}

/// One request per 64-byte line (every other stripe), computed as an integer: past the end it is only a hint
/// (prefetches do not fault).
#define REQUEST_AHEAD(stripe, s) \
    if ((s) % 2 == 0) __builtin_prefetch((const void *)((uintptr_t)(stripe) + PREFETCH_DISTANCE))

static void stripes_portable(uint64_t lanes[4], const unsigned char *base, size_t stripes) {
    uint64_t a = lanes[0], b = lanes[1], c = lanes[2], d = lanes[3];
    for (size_t s = 0; s < stripes; s++) {
        const unsigned char *stripe = base + 32 * s;
        REQUEST_AHEAD(stripe, s);
        a = round_lane(a, lane_at(stripe));
        b = round_lane(b, lane_at(stripe + 8));
        c = round_lane(c, lane_at(stripe + 16));
        d = round_lane(d, lane_at(stripe + 24));
    }
    lanes[0] = a; lanes[1] = b; lanes[2] = c; lanes[3] = d;
}

#ifdef LPK_XXH64_AVX512
/// The four rounds of a stripe as one 256-bit vector (vpmullq: 64-bit multiplies, four at a time). A stripe waits on
/// the one before (multiply, add, rotate), so one hash runs at about twice the scalar rate, which is bound by its eight
/// scalar multiplies per stripe.
AVX512 static void stripes_avx512(uint64_t lanes[4], const unsigned char *base, size_t stripes) {
    const __m256i p1 = _mm256_set1_epi64x((long long)prime1), p2 = _mm256_set1_epi64x((long long)prime2);
    __m256i accumulators = _mm256_loadu_si256((const __m256i *)lanes);
    for (size_t s = 0; s < stripes; s++) {
        const unsigned char *stripe = base + 32 * s;
        REQUEST_AHEAD(stripe, s);
        const __m256i input = _mm256_mullo_epi64(_mm256_loadu_si256((const __m256i *)stripe), p2);
        accumulators = _mm256_mullo_epi64(_mm256_rol_epi64(_mm256_add_epi64(accumulators, input), 31), p1);
    }
    _mm256_storeu_si256((__m256i *)lanes, accumulators);
}

/// Two hashes' rounds of the same stripe as one 512-bit vector: the stripe is loaded into both halves, and the first
/// hash's accumulators sit in the low half, the second's in the high half. Each step takes as long as one hash's.
AVX512 static void stripe_pairs_avx512(uint64_t first[4], uint64_t second[4], const unsigned char *base, size_t stripes) {
    const __m512i p1 = _mm512_set1_epi64((long long)prime1), p2 = _mm512_set1_epi64((long long)prime2);
    __m512i accumulators = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)first)),
                                              _mm256_loadu_si256((const __m256i *)second), 1);
    for (size_t s = 0; s < stripes; s++) {
        const unsigned char *stripe = base + 32 * s;
        REQUEST_AHEAD(stripe, s);
        const __m512i input = _mm512_mullo_epi64(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)stripe)), p2);
        accumulators = _mm512_mullo_epi64(_mm512_rol_epi64(_mm512_add_epi64(accumulators, input), 31), p1);
    }
    _mm256_storeu_si256((__m256i *)first, _mm512_castsi512_si256(accumulators));
    _mm256_storeu_si256((__m256i *)second, _mm512_extracti64x4_epi64(accumulators, 1));
}

static int uses_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    }
    return cached;
}
#endif

int lpk_xxh64_stripes_version(int version, uint64_t first[4], uint64_t second[4], const void *bytes, size_t stripes) {
    if (version == 0) {
        stripes_portable(first, bytes, stripes);
        if (second) stripes_portable(second, bytes, stripes);
        return 1;
    }
#ifdef LPK_XXH64_AVX512
    if (version == 1 && uses_avx512()) {
        if (second) stripe_pairs_avx512(first, second, bytes, stripes); else stripes_avx512(first, bytes, stripes);
        return 1;
    }
#endif
    return 0;
}

void lpk_xxh64_stripes(uint64_t lanes[4], const void *bytes, size_t stripes) {
    if (!lpk_xxh64_stripes_version(1, lanes, NULL, bytes, stripes)) stripes_portable(lanes, bytes, stripes);
}

void lpk_xxh64_stripes_pair(uint64_t first[4], uint64_t second[4], const void *bytes, size_t stripes) {
    if (!lpk_xxh64_stripes_version(1, first, second, bytes, stripes)) lpk_xxh64_stripes_version(0, first, second, bytes, stripes);
}
