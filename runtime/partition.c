/* partition.c — the shard of a key: a hash of the pattern's key values with
 * a fixed seed, so that a pool's router, every engine of the pool, and
 * separate processes running cep_engine_set_partition over one stream all
 * agree (the engine's own key map hashes with a random seed, per engine).
 * Keys the engine treats as one (7 and 7.0; runtime/engine.c encode_key)
 * hash the same. Also the option itself: it only stores two numbers. */
#include "config.h"
#include "partition.h"

#include <string.h>
/* Inlined: the router and every shard hash each event's key, and a call
 * into libxxhash cost more than the hash of nine bytes. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "engine.h"
#include "nfa.h"

#define PARTITION_SEED 0x63657068657573ull /* "cepheus": fixed, never per run */

uint32_t partition_of(const cep_program *p, uint32_t pi, const cep_value *vals, uint32_t count) {
    const nfa_pattern *pat = &p->patterns[pi];
    if (count <= 1 || pat->nkeys == 0) return 0;
    uint64_t h = PARTITION_SEED;
    for (uint32_t i = 0; i < pat->nkeys; i++) {
        cep_value v = vals[pat->key_slots[i]];
        if (v.type == CEP_DOUBLE && v.u.d >= -9.2e18 && v.u.d <= 9.2e18 && v.u.d == (double)(int64_t)v.u.d) {
            v.type = CEP_INT;
            v.u.i = (int64_t)v.u.d;
        }
        unsigned char b[9] = {(unsigned char)v.type};
        int64_t x = 0;
        switch (v.type) {
        case CEP_BOOL: x = v.u.b; break;
        case CEP_INT: x = v.u.i; break;
        case CEP_DOUBLE: memcpy(&x, &v.u.d, 8); break;
        case CEP_STRING: x = (int64_t)v.u.s.len; break;
        default: break;
        }
        memcpy(b + 1, &x, 8);
        h = XXH3_64bits_withSeed(b, sizeof b, h);
        if (v.type == CEP_STRING) h = XXH3_64bits_withSeed(v.u.s.ptr, v.u.s.len, h);
    }
    /* The high bits through a multiply: even, not modulo-biased. */
    return (uint32_t)(((unsigned __int128)h * count) >> 64);
}

CEP_API int cep_engine_set_partition(cep_engine *e, unsigned index, unsigned count) {
    if (!e || count == 0 || index >= count || e->started) return CEP_EINVAL;
    e->part_index = index;
    e->part_count = count;
    return CEP_OK;
}
