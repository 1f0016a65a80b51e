/* engine.h — the engine's internal state: per (pattern, key) partial
 * matches, the out-of-order buffer, timers, and the match view handed to
 * callbacks. Shared by engine.c, keymap.c and match.c. */
#ifndef CEP_ENGINE_H
#define CEP_ENGINE_H

#include <stdint.h>
#include "cepheus.h"
#include "event.h"
#include "expr.h"
#include "heap.h"
#include "nfa.h"

/* A partial match (or a completed one waiting to be emitted). */
typedef struct pm {
    pm_node *node;      /* last accepted event; its parents hold the rest */
    int64_t start;      /* time of the first event */
    uint64_t start_seq; /* processing order of the first event */
    int64_t prev_time;  /* time of the last event taken (gap windows) */
    uint32_t state;
} pm;

typedef struct pm_list {
    pm *v;
    uint32_t n, cap;
} pm_list;

/* State of one key of one pattern. Freed as soon as it holds nothing. */
typedef struct key_state key_state;
struct key_state {
    uint64_t hash;
    uint64_t created;       /* creation order, for deterministic iteration */
    uint32_t pattern;
    uint32_t key_len;       /* bytes of the encoded key */
    pm_list pms;            /* alive partial matches, earliest start first */
    pm_list done;           /* completed matches held back by the skip rule */
    int64_t deadline;       /* earliest time a partial match expires */
    size_t heap_pos;        /* place in the timer heap, HEAP_NONE if absent */
    key_state *prev, *next; /* all key states in creation order */
    cep_value *keyvals;     /* decoded key values, for matches */
    char *key;              /* encoded key bytes (after the struct) */
};

/* Open-addressing hash table of key states, linear probing. */
typedef struct keymap {
    key_state **slots;
    size_t cap, count;
    uint64_t seed;
} keymap;

key_state *keymap_find(const keymap *m, uint64_t hash, const char *key, uint32_t len);
int keymap_insert(keymap *m, key_state *ks);
void keymap_remove(keymap *m, key_state *ks);
void keymap_free(keymap *m);

/* The view of a match handed to the match callback (reused buffers). */
struct cep_match {
    const nfa_pattern *pat;
    uint32_t pattern_index;
    const cep_value *keyvals;
    uint32_t nkeys;
    int64_t start, end;
    int timeout;
    const cep_event **events; /* grouped by step, oldest first */
    uint32_t *step_off;       /* step s: events[step_off[s] .. step_off[s+1]) */
    cep_value *fields;        /* emit values */
    size_t events_cap, steps_cap, fields_cap;
};

#endif
