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
    uint32_t tg_first, tg_n; /* its threshold groups: the route's tg[..] */
} route_ent;

/* A conjunct `field op c` (op <, <=, >, >=, ==; c an int, a finite
 * double or a string) of a gate filed under a value: the state's bit in
 * the value's pattern at pos (pool[first + pos]), which an event whose
 * field fails the comparison closes, unread. */
typedef struct route_thr {
    cep_value c;
    uint32_t pos;
    uint32_t state;       /* below 64 */
} route_thr;

/* The thresholds of one value on one (field, op, type of c), ascending
 * in c: the event's value passes a prefix (>, >=), a suffix (<, <=) or a
 * run (==) of them, found by binary search; the rest fail. */
typedef struct route_tgroup {
    int32_t slot;
    uint8_t op;           /* nfa_op */
    uint8_t type;         /* of the constants: CEP_INT, CEP_DOUBLE or CEP_STRING */
    uint32_t first, n;    /* the route's thr[first .. first+n) */
} route_tgroup;

/* The patterns dispatched on one field. */
typedef struct route_field {
    int32_t slot;
    uint32_t mask;        /* table size - 1 (a power of two, over twice the keys) */
    route_ent *ents;
    /* Beside each entry, a tag of its key's hash (0: empty): an event's
     * value that no pattern names (most of them, with many rules) is
     * turned away reading this byte a probe, not the entries. One byte,
     * so that the array stays in L1 between the events that concern
     * rules (W8: 1 KB for 1,024 slots, 4 KB with 4-byte tags). */
    uint8_t *tags;
    uint32_t nkeys;
    uint32_t all_first, all_n; /* every pattern of the field (pool), ascending */
} route_field;

typedef struct nfa_route {
    uint32_t nwords;      /* 64-bit words of a set of patterns */
    uint32_t *always;     /* the patterns every event goes through, ascending */
    uint32_t nalways;
    uint32_t nfields;
    route_field *fields;
    uint32_t *pool;       /* pattern numbers, ascending within each list */
    /* Beside each pattern of a key's list: the states (bits 0..63) whose
     * gate that key can open; every other state's gate is closed for it,
     * unread (a state from 64 on: unknown, its gate is read). */
    uint64_t *maybe;
    /* Beside it: the states whose gate the key opens, unread, unless one
     * of the key's thresholds on that state fails (the gate is the
     * equality, an `in` list or an `or` of them, and-ed with thresholds). */
    uint64_t *sure;
    route_tgroup *tg;     /* per key: ents.tg_first .. + tg_n */
    uint32_t ntg;
    route_thr *thr;
    uint32_t nthr;
    uint32_t nsure;       /* (pattern, key, state) triples sure holds: for explain */
    /* Patterns whose dispatch field (nfa_pattern.dispatch_slot) is the one
     * they are routed by: maybe & dispatch_states is their dispatch. */
    uint64_t *exact_dispatch;
    /* Keyed patterns with states that must see every event of their key
     * (`next`, a loop's decision graph), ascending: they concern an event
     * of another value only when its key has a partial match in one of
     * keyed_every's states (beside each; bits 0..63). Routed by the gates
     * of all their other states; or, when those do not qualify, by their
     * start's gate alone (their maybe: all ones), and then any state of
     * the key counts (keyed_every all ones; nkeyed_start of them). */
    uint32_t *keyed;
    uint64_t *keyed_every;
    uint32_t nkeyed, nkeyed_start;
} nfa_route;

struct cep_program;
/* Build p->route from p's patterns: CEP_OK (route NULL when no pattern is
 * dispatched: every event goes through every pattern) or CEP_ENOMEM. */
int nfa_route_build(struct cep_program *p);
void nfa_route_free(nfa_route *r);

/* The patterns of field f that value v can concern: *n of them at the
 * returned pointer, ascending, and *ent, v's entry: beside them, at
 * ent->first of route.maybe and route.sure, what v says of their gates,
 * and its thresholds (ent->tg_first ..). *ent is NULL when not known: a
 * double gets every pattern of the field (their gates decide: an int
 * constant may equal it); a null or a value of another type gets none. */
const uint32_t *nfa_route_lookup(const nfa_route *r, const route_field *f, const cep_value *v, uint32_t *n,
                                 const route_ent **ent);

#endif
