/* pool.h — internals of cep_pool (runtime/pool.c) that tests reach: the
 * balancer's counters, and a mode that moves engines between threads on a
 * fixed schedule so that every hand-over path runs in a short test. */
#ifndef CEP_POOL_H
#define CEP_POOL_H

#include <stdint.h>
#include "cepheus.h"

typedef struct pool_info {
    unsigned engines;          /* engines in the pool */
    unsigned router_engines;   /* of them, run on the caller's thread now */
    uint64_t inline_events;    /* events pushed on the caller's thread */
    uint64_t ring_events;      /* events copied into a worker's ring */
    uint64_t moves_out;        /* engines handed from the caller's thread to a worker */
    uint64_t moves_back;       /* engines taken back by the caller's thread */
    uint64_t held;             /* records held while their engine came back */
    uint64_t room_waits;       /* times the caller's thread waited for room in a ring */
    uint64_t naps;             /* times a worker waited to be woken */
} pool_info;

void pool_get_info(const cep_pool *p, pool_info *out);

/* every > 0: instead of balancing by ring occupancy, move one engine every
 * `every` routed events, alternately to a worker and back. 0: balance. */
void pool_set_churn(cep_pool *p, unsigned every);

/* Run engines 0 .. router_engines - 1 on the caller's thread and the rest
 * on the workers from now on, without balancing (after a sync). */
void pool_pin(cep_pool *p, unsigned router_engines);

#endif
