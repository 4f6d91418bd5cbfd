// See include/lpk_xxh64.h.
#include "lpk_xxh64.h"
#include <string.h>

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

void lpk_xxh64_stripes(uint64_t lanes[4], const void *bytes, size_t stripes) {
    const unsigned char *base = bytes;
    uint64_t a = lanes[0], b = lanes[1], c = lanes[2], d = lanes[3];
    for (size_t s = 0; s < stripes; s++) {
        const unsigned char *stripe = base + 32 * s;
        // One request per 64-byte line, computed as an integer; past the end it is only a hint (prefetches do not fault).
        if (s % 2 == 0) __builtin_prefetch((const void *)((uintptr_t)stripe + PREFETCH_DISTANCE));
        a = round_lane(a, lane_at(stripe));
        b = round_lane(b, lane_at(stripe + 8));
        c = round_lane(c, lane_at(stripe + 16));
        d = round_lane(d, lane_at(stripe + 24));
    }
    lanes[0] = a; lanes[1] = b; lanes[2] = c; lanes[3] = d;
}
