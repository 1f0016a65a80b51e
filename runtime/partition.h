/* partition.h — which of N shards owns a key (runtime/partition.c): shared
 * by the pool's router (runtime/pool.c) and by engines partitioned with
 * cep_engine_set_partition, which must agree on every key. Inline: the
 * router hashes every event's key. */
#ifndef CEP_PARTITION_H
#define CEP_PARTITION_H

#include <stdint.h>
#include <string.h>
#include "cepheus.h"
#include "nfa.h"

#define PARTITION_SEED 0x63657068657573ull /* "cepheus": fixed, never per run */

/* The key rule both the engine's key encoding (step.c) and the shard choice
 * follow: a double with an integral value in int64 range is that integer,
 * so 7 and 7.0 are one key, as they compare equal. 1 with *i set, else 0. */
static inline int key_integral(double d, int64_t *i) {
    if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(int64_t)d) return 0;
    *i = (int64_t)d;
    return 1;
}

/* A 64-bit finalizer (Pelle Evensen's moremur): every input bit reaches
 * every output bit. */
static inline uint64_t partition_mix(uint64_t x) {
    x ^= x >> 27;
    x *= 0x3C79AC492BA7B653ull;
    x ^= x >> 33;
    x *= 0x1C69B3F74AC4AE35ull;
    x ^= x >> 27;
    return x;
}

/* The shard of a key that is one integer: what partition_of computes. */
static inline uint32_t partition_int(int64_t i, uint32_t count) {
    uint64_t h = partition_mix(PARTITION_SEED ^ ((uint64_t)i + (uint64_t)CEP_INT * 0x9E3779B97F4A7C15ull));
    return (uint32_t)(((unsigned __int128)h * count) >> 64);
}

/* The bytes of a string key (XXH3, in partition.c). */
uint64_t partition_bytes(const char *s, size_t len, uint64_t seed);

/* Shard (0..count-1) of the key that pattern pi reads from vals (a row's
 * values, one per slot). A pattern without a key belongs to shard 0. Keys
 * the engine treats as one (7 and 7.0; runtime/step.c encode_key) hash the
 * same. */
static inline uint32_t partition_of(const cep_program *p, uint32_t pi, const cep_value *vals, uint32_t count) {
    const nfa_pattern *pat = &p->patterns[pi];
    if (count <= 1 || pat->nkeys == 0) return 0;
    uint64_t h = PARTITION_SEED;
    /* The common key, one integer: the loop below, unrolled. */
    if (pat->nkeys == 1 && vals[pat->key_slots[0]].type == CEP_INT) return partition_int(vals[pat->key_slots[0]].u.i, count);
    for (uint32_t i = 0; i < pat->nkeys; i++) {
        const cep_value *v = &vals[pat->key_slots[i]];
        uint64_t x = 0, type = (uint64_t)v->type;
        switch (v->type) {
        case CEP_BOOL: x = (uint64_t)v->u.b; break;
        case CEP_INT: x = (uint64_t)v->u.i; break;
        case CEP_DOUBLE: { /* a block: a declaration after a label is C23 (clang 14 refuses it) */
            int64_t n;
            if (key_integral(v->u.d, &n)) {
                x = (uint64_t)n;
                type = CEP_INT;
            } else {
                memcpy(&x, &v->u.d, sizeof x);
            }
            break;
        }
        case CEP_STRING: x = partition_bytes(v->u.s.ptr, v->u.s.len, h); break;
        default: break;
        }
        h = partition_mix(h ^ (x + type * 0x9E3779B97F4A7C15ull));
    }
    /* The high bits through a multiply: even, not modulo-biased. */
    return (uint32_t)(((unsigned __int128)h * count) >> 64);
}

#endif
