// XXH64's stripe loop (Cyan4973/xxHash doc/xxhash_spec.md, "Step 2"), in C so that it can ask for the memory ahead of
// the bytes it hashes: ByteIO's XXHash64 keeps the rest of the algorithm. Callers guarantee the length; nothing here
// checks bounds.
#ifndef LPK_XXH64_H
#define LPK_XXH64_H
#include <stddef.h>
#include <stdint.h>

/// Consumes `stripes` whole 32-byte stripes at `bytes` into the four accumulators `lanes`, each little-endian 8-byte
/// lane as the specification's round does, requesting the memory 4 KiB ahead as it goes (a mapped file's pages are
/// read from memory at about twice the rate a plain loop gets).
void lpk_xxh64_stripes(uint64_t lanes[4], const void *bytes, size_t stripes);

#endif
