/* partition.h — which of N shards owns a key (runtime/partition.c): shared
 * by the pool's router (runtime/pool.c), by engines partitioned with
 * cep_engine_set_partition, which must agree on every key, and by
 * snapshots, which file each key under its key group. As Flink
 * (KeyGroupRangeAssignment.java: assignToKeyGroup,
 * computeOperatorIndexForKeyGroup), a key hashes to one of KEY_GROUPS
 * fixed key groups, and shard i of N owns the groups g with
 * g * N / KEY_GROUPS == i: a contiguous range, so a snapshot made with N
 * shards restores with M (docs/state.md, "Rescaling"). Inline: the router
 * hashes every event's key. */
#ifndef CEP_PARTITION_H
#define CEP_PARTITION_H

#include <stdint.h>
#include <string.h>
#include "cepheus.h"
#include "nfa.h"

#define PARTITION_SEED 0x63657068657573ull /* "cepheus": fixed, never per run */
/* Key groups: Flink's default maximum parallelism (DEFAULT_LOWER_BOUND_
 * MAX_PARALLELISM). Written in every snapshot; changing it changes which
 * group a key is in, so a snapshot of another count is refused. */
#define KEY_GROUPS 128u

/* The key group of a key's hash: its high bits through a multiply (even,
 * not modulo-biased; Flink takes murmurHash % maxParallelism). */
static inline uint32_t key_group_of_hash(uint64_t h) {
    return (uint32_t)(((unsigned __int128)h * KEY_GROUPS) >> 64);
}

/* The shard of count that owns key group g (Flink's
 * computeOperatorIndexForKeyGroup). */
static inline uint32_t group_owner(uint32_t g, uint32_t count) { return count <= 1 ? 0 : g * count / KEY_GROUPS; }

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
    return group_owner(key_group_of_hash(h), count);
}

/* The bytes of a string key (XXH3, in partition.c). */
uint64_t partition_bytes(const char *s, size_t len, uint64_t seed);

/* Mix one key value (type, and x: its bits) into the hash h. */
static inline uint64_t partition_step(uint64_t h, uint64_t type, uint64_t x) {
    return partition_mix(h ^ (x + type * 0x9E3779B97F4A7C15ull));
}

/* Key group (0..KEY_GROUPS-1) of the key that pattern pi reads from vals
 * (a row's values, one per slot). A pattern without a key is in group 0.
 * Keys the engine treats as one (7 and 7.0; runtime/step.c step_encode_key)
 * hash the same. */
static inline uint32_t key_group_of(const cep_program *p, uint32_t pi, const cep_value *vals) {
    const nfa_pattern *pat = &p->patterns[pi];
    if (pat->nkeys == 0) return 0;
    uint64_t h = PARTITION_SEED;
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
        h = partition_step(h, type, x);
    }
    return key_group_of_hash(h);
}

/* Shard (0..count-1) of the key that pattern pi reads from vals: the
 * owner of its key group. */
static inline uint32_t partition_of(const cep_program *p, uint32_t pi, const cep_value *vals, uint32_t count) {
    const nfa_pattern *pat = &p->patterns[pi];
    if (count <= 1 || pat->nkeys == 0) return 0;
    /* The common key, one integer: the loop of key_group_of, unrolled. */
    if (pat->nkeys == 1 && vals[pat->key_slots[0]].type == CEP_INT) return partition_int(vals[pat->key_slots[0]].u.i, count);
    return group_owner(key_group_of(p, pi, vals), count);
}

/* Key group of an engine's encoded key (step.c's key_write: pattern
 * number, then per key field a type byte and 8 bytes, or for a string a
 * u32 length and its bytes): the group key_group_of gives the values it
 * was made from. -1: not a well-formed key of pattern pattern of p. */
static inline int key_group_of_encoded(const cep_program *p, const char *key, uint32_t len) {
    uint32_t pi;
    if (len < 4) return -1;
    memcpy(&pi, key, 4);
    if (pi >= p->npatterns) return -1;
    const nfa_pattern *pat = &p->patterns[pi];
    if (pat->nkeys == 0) return len == 4 ? 0 : -1;
    uint64_t h = PARTITION_SEED;
    uint32_t off = 4;
    for (uint32_t i = 0; i < pat->nkeys; i++) {
        if (len - off < 1) return -1;
        uint64_t type = (unsigned char)key[off++], x = 0;
        if (type == CEP_STRING) {
            uint32_t l;
            if (len - off < 4) return -1;
            memcpy(&l, key + off, 4);
            off += 4;
            if (len - off < l) return -1;
            x = partition_bytes(key + off, l, h);
            off += l;
        } else {
            if (len - off < 8 || type > CEP_STRING) return -1;
            int64_t b;
            memcpy(&b, key + off, 8);
            off += 8;
            x = (uint64_t)b; /* null: 0; bool: 0 or 1; int; a double's bits */
        }
        h = partition_step(h, type, x);
    }
    return off == len ? (int)key_group_of_hash(h) : -1;
}

#endif
