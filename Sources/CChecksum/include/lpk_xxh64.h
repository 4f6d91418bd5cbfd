// XXH64's stripe loop (Cyan4973/xxHash doc/xxhash_spec.md, "Step 2"), in C so that it can ask for the memory ahead of
// the bytes it hashes and use the CPU's vector multiplies: ByteIO's XXHash64 keeps the rest of the algorithm. Callers
// guarantee the length; nothing here checks bounds.
#ifndef LPK_XXH64_H
#define LPK_XXH64_H
#include <stddef.h>
#include <stdint.h>

/// Consumes `stripes` whole 32-byte stripes at `bytes` into the four accumulators `lanes`, each little-endian 8-byte
/// lane as the specification's round does, requesting the memory 4 KiB ahead as it goes (a mapped file's pages are
/// read from memory at about twice the rate a plain loop gets). With AVX-512 (DQ, VL) the four rounds are one vector.
void lpk_xxh64_stripes(uint64_t lanes[4], const void *bytes, size_t stripes);

/// The same stripes consumed into two hashes at once (`first` and `second`, e.g. a tensor's hash and its current
/// block's), as two calls of lpk_xxh64_stripes would: with AVX-512 both hashes' rounds are one vector, so the second
/// costs almost nothing.
void lpk_xxh64_stripes_pair(uint64_t first[4], uint64_t second[4], const void *bytes, size_t stripes);

/// lpk_xxh64_stripes_pair by one version, for tests that hold them to each other: 0 portable C, 1 AVX-512. `second`
/// may be NULL (one hash). Returns 0, doing nothing, when this CPU or build lacks the version.
int lpk_xxh64_stripes_version(int version, uint64_t first[4], uint64_t second[4], const void *bytes, size_t stripes);

#endif
