/* partition.c — the shard of a key (partition.h: a mix of the pattern's
 * key values with a fixed seed, so that a pool's router, every engine of
 * the pool, and separate processes running cep_engine_set_partition over
 * one stream all agree; the engine's own key map hashes with a random
 * seed, per engine). Here: string keys' bytes, and the option itself (it
 * only stores two numbers). */
#include "config.h"
#include "partition.h"

#include <xxhash.h>

#include "engine.h"

uint64_t partition_bytes(const char *s, size_t len, uint64_t seed) { return XXH3_64bits_withSeed(s, len, seed); }

CEP_API int cep_engine_set_partition(cep_engine *e, unsigned index, unsigned count) {
    if (!e || count == 0 || index >= count || e->started) return CEP_EINVAL;
    e->cfg.part_index = index;
    e->cfg.part_count = count;
    return CEP_OK;
}
