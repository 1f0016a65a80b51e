/* hash.h — the one hash function of Cepheus: xxHash's XXH3, seeded per
 * engine so that keys chosen by an outsider cannot be aimed at one bucket. */
#ifndef CEP_HASH_H
#define CEP_HASH_H

#include <stddef.h>
#include <stdint.h>
/* Inlined: every event hashes its key once per pattern, and for keys of a
 * few bytes the call into libxxhash costs as much as the hash. */
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

static inline uint64_t hash_bytes(const void *p, size_t n, uint64_t seed) {
    return XXH3_64bits_withSeed(p, n, seed);
}

#endif
