/* partition.h — which of N shards owns a key (runtime/partition.c): shared
 * by the pool's router (runtime/pool.c) and by engines partitioned with
 * cep_engine_set_partition, which must agree on every key. */
#ifndef CEP_PARTITION_H
#define CEP_PARTITION_H

#include <stdint.h>
#include "cepheus.h"

/* Shard (0..count-1) of the key that pattern pi reads from vals (a row's
 * values, one per slot). A pattern without a key belongs to shard 0. */
uint32_t partition_of(const cep_program *p, uint32_t pi, const cep_value *vals, uint32_t count);

#endif
