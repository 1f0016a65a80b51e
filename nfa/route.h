/* route.h — which patterns an event can concern (nfa/route.c): for the
 * patterns whose every gate needs one field to equal one of a few
 * constants (`type == "click" and ...`, `type in (...)`), an index from
 * that value to the patterns it can let in, so that an event is run through
 * those and the patterns that see every event, not through all of them.
 * Built once per program; immutable. */
#ifndef CEP_ROUTE_H
#define CEP_ROUTE_H

#include <stdint.h>
#include "cepheus.h"

typedef struct route_ent {
    cep_value k;          /* an int or string constant; CEP_NULL: empty */
    uint32_t first, n;    /* its patterns: the route's pool[first .. first+n) */
    uint32_t last;        /* while building: the last pattern added */
} route_ent;

/* The patterns dispatched on one field. */
typedef struct route_field {
    int32_t slot;
    uint32_t mask;        /* table size - 1 (a power of two, over twice the keys) */
    route_ent *ents;
    uint32_t nkeys;
    uint32_t all_first, all_n; /* every pattern of the field (pool), ascending */
} route_field;

typedef struct nfa_route {
    uint32_t nwords;      /* 64-bit words of a set of patterns */
    uint64_t *always;     /* the patterns every event goes through */
    uint32_t nalways;
    uint32_t nfields;
    route_field *fields;
    uint32_t *pool;       /* pattern numbers, ascending within each list */
    /* Beside each pattern of a key's list: the states (bits 0..63) whose
     * gate that key can open; every other state's gate is closed for it,
     * unread (a state from 64 on: unknown, its gate is read). */
    uint64_t *maybe;
    /* Patterns whose dispatch field (nfa_pattern.dispatch_slot) is the one
     * they are routed by: maybe & dispatch_states is their dispatch. */
    uint64_t *exact_dispatch;
} nfa_route;

struct cep_program;
/* Build p->route from p's patterns: CEP_OK (route NULL when no pattern is
 * dispatched: every event goes through every pattern) or CEP_ENOMEM. */
int nfa_route_build(struct cep_program *p);
void nfa_route_free(nfa_route *r);

/* The patterns of field f that value v can concern: *n of them at the
 * returned pointer, ascending, and *maybe beside them (route.maybe; NULL
 * when not known). A double gets every pattern of the field (their gates
 * decide: an int constant may equal it), a null or a value of another
 * type none. */
const uint32_t *nfa_route_lookup(const nfa_route *r, const route_field *f, const cep_value *v,
                                 uint32_t *n, const uint64_t **maybe);

#endif
